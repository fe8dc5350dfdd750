"""Every real file of ../shared/data is indexed or refused with a specific reason; none hangs
or exhausts memory, and one bad file never stops the job.

The parse → chunk → store path is the real one (worker processes with their time and memory
limits, Chroma, the manifest); the embedder is swapped for a hashing stand-in with the same
identity, because embedding 6 MB of novels would take minutes and tests nothing here.
"""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import pytest

from app.services import build_services
from app.settings import load_settings
from indexing.models import FileStatus
from tests.conftest import SHARED_DATA
from tests.embedders import HashEmbedder

pytestmark = [pytest.mark.corpus, pytest.mark.slow]


def _index(tmp_path, embedder, paths, **indexing):
    settings = load_settings(data_dir=tmp_path / "data", **{f"indexing.{k}": v for k, v in indexing.items()})
    services = build_services(settings, embedder=HashEmbedder(embedder))
    try:
        t0 = time.monotonic()
        *_, last = services.library().add([str(p) for p in paths])
        return last, time.monotonic() - t0, services.library().indexer.check()
    finally:
        services.close()


def _pdf_categories() -> dict[str, str]:
    with open(SHARED_DATA / "pdfs" / "INDEX.tsv", newline="") as fh:
        return {row["file"]: row["category"] for row in csv.DictReader(fh, delimiter="\t")}


# What a user sees for each damaged, oddly encrypted or hostile PDF of ../shared/data/pdfs (OCR off):
# indexed (with the warning it must carry, or none) or refused with the reason it must give.
# Pinned per file, so a file that stops being read, or a refusal that turns vague, fails the test.
READ_WITH_PDFIUM = "read with PDFium instead"
DAMAGED_PDFS = {
    "pdfminer__dmca.pdf": (FileStatus.INDEXED, ""),  # RC4, empty user password
    "pypdf__r6-empty-password.pdf": (FileStatus.INDEXED, ""),
    "pypdf__r4-owner-password.pdf": (FileStatus.INDEXED, ""),
    "pdfjs__empty_protected.pdf": (FileStatus.FAILED, "no text layer: its page is an image"),
    "pdfminer__zen_of_python_corrupted.pdf": (FileStatus.INDEXED, ""),  # pypdf repairs its xref
    "pdfminer__issue-1113-evil-xobjects.pdf": (FileStatus.INDEXED, READ_WITH_PDFIUM),
    "pdfminer__simple1.pdf": (FileStatus.INDEXED, READ_WITH_PDFIUM),
    "pdfjs__bomb_giant.pdf": (FileStatus.INDEXED, READ_WITH_PDFIUM),  # its text layer, not the image
    "samplefiles__unreadablemetadata.pdf": (FileStatus.FAILED, "malformed PDF: Invalid object in /Pages"),
    "pdfjs__issue19484_1.pdf": (FileStatus.FAILED, "malformed PDF: Invalid object in /Pages"),
    "pdfjs__PDFBOX-3148-2-fuzzed.pdf": (FileStatus.FAILED, "malformed PDF: the file is truncated or its cross-reference table is broken"),
    "pdfjs__REDHAT-1531897-0.pdf": (FileStatus.FAILED, "malformed PDF: the file is truncated or its cross-reference table is broken"),
    "pdfjs__issue15590.pdf": (FileStatus.FAILED, "malformed PDF: the file is truncated or its cross-reference table is broken"),
    "pdfjs__poppler-85140-0.pdf": (FileStatus.FAILED, "malformed PDF: the file is truncated or its cross-reference table is broken"),
    "pdfjs__Pages-tree-refs.pdf": (FileStatus.FAILED, "malformed PDF: its page tree refers to itself"),
    "pdfjs__bug1020226.pdf": (FileStatus.FAILED, "malformed PDF: Stream has ended unexpectedly"),
    "pdfjs__poppler-742-0-fuzzed.pdf": (FileStatus.FAILED, "re-saving it from a PDF viewer may repair it"),
    "pdfjs__poppler-90-0-fuzzed.pdf": (FileStatus.FAILED, "no text layer: all 16 pages are images"),
    "pdfjs__Brotli-Prototype-FileA.pdf": (FileStatus.FAILED, "it uses Brotli compression, which pypdf cannot decode"),
}


def _assert_damaged_pdf(file: str, r) -> None:
    status, says = DAMAGED_PDFS[file]
    assert r.status is status, (file, r.status, r.reason, r.warnings)
    if status is FileStatus.FAILED:
        assert says in r.reason, (file, r.reason)
        return
    assert r.chunks > 0, file
    if says:
        assert any(says in w for w in r.warnings), (file, r.warnings)
    else:  # read as it is: no warning that it was repaired or read another way
        assert not any(READ_WITH_PDFIUM in w for w in r.warnings), (file, r.warnings)


# sec-10q's 20 filings are alike (well-formed, ~100 pages each: two of the test's eight minutes);
# three companies' filings stand for them here, bench/docqa.py indexes all of them
FILINGS = ("2022 Q3 AAPL.pdf", "2023 Q1 MSFT.pdf", "2023 Q3 NVDA.pdf")


def _corpus_paths() -> list[Path]:
    filings = SHARED_DATA / "sec-10q" / "docs"
    paths = [p for p in SHARED_DATA.iterdir() if p.name != "sec-10q"]
    paths += [p for p in (SHARED_DATA / "sec-10q").iterdir() if p != filings]
    return paths + [filings / name for name in FILINGS if (filings / name).is_file()]


# the per-file limits a desktop user can set, low here: every giant (a 352-page book, Don Quijote)
# is read as far as they go and must say so, and the test takes a fraction of the full read's
# time (the whole files are read by bench/indexing.py and bench/docqa.py)
PAGES, CHUNKS = 24, 300


@pytest.mark.timeout(1200)  # a parse hang is caught per file
def test_every_file_is_indexed_or_refused_with_a_reason(tmp_path, embedder):
    paths = _corpus_paths()
    # two parse workers: with the hash embedder the main process has little to do, both cores parse
    progress, seconds, check = _index(tmp_path, embedder, paths, ocr="off", parse_timeout_s=60, parse_memory_mb=3072,
                                      parse_workers=2, max_pages_per_file=PAGES, max_chunks_per_file=CHUNKS)
    assert progress.phase == "done"
    reports = {Path(r.path).relative_to(SHARED_DATA.resolve()).as_posix(): r for r in progress.reports}
    on_disk = {f.relative_to(SHARED_DATA).as_posix() for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()}
    assert len([n for n in on_disk if n.startswith("sec-10q/docs/")]) == len(FILINGS)
    assert set(reports) == on_disk  # every file has exactly one outcome

    for name, r in reports.items():
        if r.status is FileStatus.SKIPPED:
            assert "unsupported file type" in r.reason, name
            continue
        assert r.status in (FileStatus.INDEXED, FileStatus.FAILED), name
        if r.status is FileStatus.FAILED:
            assert r.reason and "unexpected error" not in r.reason and "crashed" not in r.reason, (name, r.reason)
            # a reason a user can act on, not Python leaking out
            assert not re.search(r"object has no attribute|NoneType|Traceback|\w+Error\b|\w+Object\b", r.reason), (name, r.reason)
        else:
            assert r.chunks > 0, name
            # a giant is indexed as far as the limits go, and its report says so: never cut silently
            if r.pages > PAGES:
                assert any(f"indexed the first {PAGES} of" in w for w in r.warnings), (name, r.warnings)
            assert r.chunks <= CHUNKS, name
            if r.chunks == CHUNKS:
                assert any(f"indexed its first {CHUNKS} passages" in w for w in r.warnings), (name, r.warnings)

    status = {n: r for n, r in reports.items()}
    categories = _pdf_categories()
    damaged = {f for f, c in categories.items() if c in ("encrypted-empty-pw", "text-encrypted-empty-pw", "malformed", "unsupported-filter", "resource-bomb")}
    assert damaged == set(DAMAGED_PDFS)  # a file added to the corpus gets its own expectation here
    for file, category in categories.items():
        r = status[f"pdfs/{file}"]
        if category == "encrypted-needs-pw" or category == "encrypted-odd":
            assert r.status is FileStatus.FAILED and "password" in r.reason, (file, r.reason)
        elif category in ("encrypted-empty-pw", "text-encrypted-empty-pw", "malformed", "unsupported-filter", "resource-bomb"):
            _assert_damaged_pdf(file, r)
        elif category == "image-only":
            assert r.status is FileStatus.FAILED and "no text layer" in r.reason, (file, r.reason)
        elif category.startswith(("text", "form", "table")):
            assert r.status is FileStatus.INDEXED, (file, r.reason)
    epub = {Path(n).name: r for n, r in status.items() if n.endswith(".epub")}
    assert "not an EPUB" in epub["epubcheck__image-with-epub-extension.epub"].reason
    assert "malformed EPUB" in epub["epubcheck__ocf-zip-unreadable-no-end-header-fatal.epub"].reason
    # a bad container.xml around a Word document: read by what it is, and said so
    odd = epub["epubcheck__ocf-container-not-ocf-error.epub"]
    assert odd.status is FileStatus.INDEXED, odd.reason
    assert "extension .epub but the content is Word document; read as Word document" in odd.warnings
    limited = [n for n, r in reports.items() if any("size limit per file" in w for w in r.warnings)]
    assert len(limited) >= 5, limited  # the books and long reports of the corpus
    assert check["orphans"] == 0 and check["missing"] == 0 and check["pending"] == 0


def test_a_decompression_bomb_and_a_real_scan_with_ocr(tmp_path, embedder):
    """With OCR on, the JBIG2 bomb must not be rendered into memory: its own text layer ("GIANT
    JBIG2 BOMB") is read by PDFium instead, and the report says so. The CCITT fax "scan" is a
    4-point page (4 x 4 pixels at OCR's scale): OCR runs and finds nothing, and the user is told
    exactly that, not that the file is damaged."""
    pytest.importorskip("rapidocr", reason="the ocr extra is not installed")
    bomb = SHARED_DATA / "pdfs" / "pdfjs__bomb_giant.pdf"
    scan = SHARED_DATA / "pdfs" / "pypdf__imagemagick-CCITTFaxDecode.pdf"
    progress, seconds, check = _index(tmp_path, embedder, [bomb, scan], parse_timeout_s=60, parse_memory_mb=2048)
    by = {Path(r.path).name: r for r in progress.reports}
    assert by[bomb.name].status is FileStatus.INDEXED and by[bomb.name].chunks == 1, by[bomb.name].reason
    assert any(READ_WITH_PDFIUM in w for w in by[bomb.name].warnings), by[bomb.name].warnings
    assert by[scan.name].status is FileStatus.FAILED, by[scan.name].warnings
    assert by[scan.name].reason == "no text layer, and OCR found no text on its pages", by[scan.name].reason
    assert seconds < 600
