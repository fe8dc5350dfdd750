"""Where library warnings go: a log file in the data dir, not the user's terminal or answers.

Python warnings (`warnings.warn`) and log records of the libraries (transformers, Chroma, ONNX
Runtime, llama-index) are written to `<data dir>/logs/citewise.log`; with `--verbose` they are
also shown on stderr. Without this, Python's last-resort handler prints them between an answer's
lines."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def route_to_log(data_dir: Path, *, verbose: bool = False) -> Path | None:
    """Send warnings and library log records to the data dir's log; returns its path (None
    when the folder cannot be written: then they are dropped, never printed into answers)."""
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, "_citewise", False)]:
        root.removeHandler(h)
        h.close()
    path: Path | None = Path(data_dir) / "logs" / "citewise.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(path, maxBytes=2**20, backupCount=2, encoding="utf-8")
    except OSError:
        path, handler = None, logging.NullHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    handler._citewise = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if verbose:
        shown = logging.StreamHandler()
        shown.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        shown._citewise = True  # type: ignore[attr-defined]
        root.addHandler(shown)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.captureWarnings(True)
    return path
