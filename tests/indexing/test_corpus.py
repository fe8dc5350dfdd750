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
    for file, category in _pdf_categories().items():
        r = status[f"pdfs/{file}"]
        if category == "encrypted-needs-pw" or category == "encrypted-odd":
            assert r.status is FileStatus.FAILED and "password" in r.reason, (file, r.reason)
        elif category == "encrypted-empty-pw" or category == "text-encrypted-empty-pw":
            # opens with the empty password; one has only an empty page
            assert r.status is FileStatus.INDEXED or "no text layer" in r.reason, (file, r.reason)
        elif category == "image-only":
            assert r.status is FileStatus.FAILED and "no text layer" in r.reason, (file, r.reason)
        elif category in ("malformed", "unsupported-filter", "resource-bomb"):
            if r.status is FileStatus.FAILED:
                assert any(w in r.reason for w in ("malformed", "no text", "Brotli", "JBIG2", "too")), (file, r.reason)
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
    """With OCR the JBIG2 bomb is rendered by PDFium: the worker's caps must stop it. Since pypdf's
    refusals fall back to PDFium's text, the bomb's own text layer ("GIANT JBIG2 BOMB") may be
    read instead, without rendering the image: indexed, and said so."""
    pytest.importorskip("rapidocr", reason="the ocr extra is not installed")
    bomb = SHARED_DATA / "pdfs" / "pdfjs__bomb_giant.pdf"
    scan = SHARED_DATA / "pdfs" / "pypdf__imagemagick-CCITTFaxDecode.pdf"
    progress, seconds, check = _index(tmp_path, embedder, [bomb, scan], parse_timeout_s=60, parse_memory_mb=2048)
    by = {Path(r.path).name: r for r in progress.reports}
    if by[bomb.name].status is FileStatus.INDEXED:
        assert any("read with PDFium" in w for w in by[bomb.name].warnings), by[bomb.name].warnings
    else:
        assert by[bomb.name].status is FileStatus.FAILED and by[bomb.name].reason
    assert by[scan.name].status in (FileStatus.INDEXED, FileStatus.FAILED)
    if by[scan.name].status is FileStatus.INDEXED:
        assert any("OCR" in w for w in by[scan.name].warnings)
    assert seconds < 600
