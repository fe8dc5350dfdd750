"""Image-only PDF pages: OCRed with the `ocr` extra, refused with what to install without it."""

from __future__ import annotations

import pytest

from indexing.loaders import load_document
from indexing.models import DocumentError, FileStatus
from tests import docs

ocr_extra = pytest.importorskip("rapidocr", reason="the ocr extra is not installed")


@pytest.mark.slow
def test_a_scanned_page_is_read_by_ocr_and_cited_by_page(library, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    docs.make_scanned_pdf(
        folder / "scan.pdf",
        ["Cover page of the harbour report", "The harbour master opens the lock gates at dawn."],
    )
    for i in range(3):
        (folder / f"x{i}.txt").write_text(f"Note {i}: the ferry timetable changes in spring.\n", encoding="utf-8")
    seen = list(library.add([str(folder)]))
    progress = seen[-1]
    # while the scan waits for its OCR the others are searchable, and the bar says what is left
    waiting = [p for p in seen if p.pages_to_ocr]
    assert waiting and "OCR: 2 scanned pages to go" in waiting[0].stages_text
    assert progress.pages_to_ocr == 0 and progress.files_to_ocr == 0
    assert progress.text_searchable_s is not None and progress.text_searchable_s <= progress.searchable_s
    report = next(r for r in progress.reports if r.path.endswith("scan.pdf"))
    assert report.status is FileStatus.INDEXED, report.reason
    # the OCR runs in a worker while the indexer goes on: the files behind the scan are in first
    names = [r.path.rsplit("/", 1)[-1] for r in progress.reports]
    assert names.index("scan.pdf") > max(names.index(f"x{i}.txt") for i in range(3)), names
    assert all(r.status is FileStatus.INDEXED for r in progress.reports)
    assert any("read by OCR" in w for w in report.warnings)
    hits = library.retriever.search("When are the lock gates opened?", 1)
    top = hits[0].chunk
    assert top.path.endswith("scan.pdf") and top.page == 2  # provenance: the page the text was on
    assert "lock gates" in top.text.lower()


def test_without_the_extra_an_image_only_pdf_says_what_to_install(tmp_path, monkeypatch):
    import indexing.ocr

    pdf = docs.make_pdf(tmp_path / "scan.pdf", ["", ""], image_only=True)
    monkeypatch.setattr(indexing.ocr, "ocr_available", lambda: False)
    with pytest.raises(DocumentError) as err:
        load_document(pdf, ocr=True)
    assert err.value.code == "no-text-layer"
    assert "no text layer" in err.value.reason and "install the OCR extra" in err.value.reason


def test_ocr_turned_off_is_said_so(tmp_path):
    pdf = docs.make_pdf(tmp_path / "scan.pdf", [""], image_only=True)
    with pytest.raises(DocumentError) as err:
        load_document(pdf, ocr=False)
    assert 'OCR is turned off (indexing.ocr = "off")' in err.value.reason


@pytest.mark.slow
def test_a_scans_pages_are_shared_among_the_workers_and_come_back_in_order(tmp_path):
    from indexing.parse_pool import ParseLimits, ParsePool

    path = tmp_path / "scan.pdf"
    docs.make_scanned_pdf(path, ["The ferry leaves at nine.", "The harbour master opens the lock gates at dawn.",
                                 "Tickets are sold on board."])
    with ParsePool(None, None, ParseLimits(workers=2)) as pool:
        future = pool.submit_ocr(str(path), [1, 2, 3])
        assert len(future.parts) == 2  # pages 1-2 on one worker, page 3 on the other
        pages = pool.result(future)
    assert [n for n, _ in pages] == [1, 2, 3]
    assert "ferry" in pages[0][1].lower() and "lock gates" in pages[1][1].lower() and "tickets" in pages[2][1].lower()
