"""Files → units with provenance → chunks → vectors → Chroma + manifest."""

import os

# ONNX Runtime (the question encoder, precision int8, RapidOCR) sends usage telemetry to Microsoft
# from Linux and macOS since 1.29 and keeps a device id under ~/.cache/Microsoft; it reads this
# once, when it is first loaded, so it is set before anything here can import it.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
