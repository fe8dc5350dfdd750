"""OCR of PDF pages that have no text layer: pypdfium2 renders the page, RapidOCR reads it.

Optional: the `ocr` extra (`pip install 'citewise[ocr]'`, installed by `make`) brings rapidocr,
whose wheel ships its ONNX models (PP-OCRv6 detection and recognition, a direction classifier),
and pypdfium2; both run offline. Without it, image-only PDFs are refused with a reason that
says to install it. Runs in a parse worker (workers.py), under its time and memory limits:
a page's bitmap is capped at `MAX_PIXELS`, so a huge page box cannot ask for gigabytes.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from indexing.normalize import normalize_text

log = logging.getLogger(__name__)

DPI = 120  # as many words recovered as at 200 DPI, in less time (bench/ocr_resolution.py)
MAX_SIDE = 3000  # pixels
MAX_PIXELS = 8_000_000
# RapidOCR's settings, chosen by bench/ocr_resolution.py: no line-direction classifier (it turned
# upright lines of these scans over, losing their words; pdfium renders a page already turned by its
# /Rotate); the text detector sees the page at most 960 px on its longest side, and the recogniser
# reads one line at a time (a batch is padded to its widest line; recognition is most of the time)
ENGINE = {"Global.use_cls": False, "Det.limit_type": "max", "Det.limit_side_len": 960, "Rec.rec_batch_num": 1}

_engine = None


def ocr_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("rapidocr", "pypdfium2", "onnxruntime"))


def _get_engine():
    global _engine
    if _engine is None:
        from rapidocr import RapidOCR

        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        # one thread per model: a parse worker has one core (parse_pool.py) and a scan's pages are
        # shared among the workers; RapidOCR's default (every core, in each worker) oversubscribes
        # them (bench/ocr_threads.py)
        _engine = RapidOCR(params={
            "Global.log_level": "error",
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            **ENGINE,
        })
    return _engine


def render_scale(width_pt: float, height_pt: float) -> float:
    """Scale from PDF points to pixels: DPI, shrunk so the bitmap stays within the caps."""
    scale = DPI / 72
    longest = max(width_pt, height_pt, 1.0) * scale
    if longest > MAX_SIDE:
        scale *= MAX_SIDE / longest
    area = max(width_pt, 1.0) * max(height_pt, 1.0) * scale * scale
    if area > MAX_PIXELS:
        scale *= (MAX_PIXELS / area) ** 0.5
    return scale


def ocr_pdf_pages(path: str | Path, pages: list[int]) -> list[tuple[int, str]]:
    """`(page, text)` for each 1-based page number in `pages` (empty text when nothing is read)."""
    import pypdfium2 as pdfium

    engine = _get_engine()
    out: list[tuple[int, str]] = []
    pdf = pdfium.PdfDocument(str(path), password="")
    try:
        for number in pages:
            page = pdf[number - 1]
            try:
                width, height = page.get_size()
                bitmap = page.render(scale=render_scale(width, height), fill_color=(255, 255, 255, 255))
                image = bitmap.to_numpy()
                result = engine(image)
                lines = [t for t in (result.txts or ()) if t and t.strip()]
                out.append((number, normalize_text("\n".join(lines))))
            finally:
                page.close()
    finally:
        pdf.close()
    return out
