# RapidOCR's ONNX models and its config.yaml ship inside the package (the `ocr` extra).
from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("rapidocr")
