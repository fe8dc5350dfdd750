"""Real documents: tables keep their rows and headings, columns read in order, running headers out.

Business PDFs broke Citewise: pypdf's plain text put each table cell on a line of its own (a
figure lost its row label and its column), two-column pages were read across, and the company
name and page numbers of every page sat in every chunk. These tests use PDFs laid out like such
reports (text placed at coordinates, as report generators do) and tables in DOCX, HTML and
Markdown.
"""

from __future__ import annotations

import pytest

from indexing.chunking import Chunker
from indexing.embedder import bundled_embedding_dir
from indexing.loaders import load_document
from tests import docs


@pytest.fixture(scope="module")
def chunker():
    return Chunker.from_model_dir(bundled_embedding_dir())


@pytest.fixture
def report(tmp_path):
    return docs.make_report_pdf(tmp_path / "report.pdf")


def test_a_table_row_keeps_its_label_and_figures_on_one_line(report):
    """pypdf's plain text gave "$\\n4,812\\n$\\n3,977": the figures without their row label."""
    doc = load_document(report)
    page = next(u for u in doc.units if u.number == 3)
    lines = page.text.split("\n")
    assert "Ticket revenue | $4,812 | $3,977" in lines
    assert "Freight revenue | 1,204 | 998" in lines
    (start, header_end, end), = page.tables
    heading = page.text[start:header_end]
    assert "Three Months Ended" in heading and "June 30, 2024 | June 30, 2023" in heading
    assert page.text[header_end:end].startswith("Ticket revenue")


def test_running_headers_and_page_numbers_are_in_no_chunk(report, chunker):
    doc = load_document(report)
    chunks = chunker.chunk_document(doc, path=str(report), content_hash="x")
    assert chunks
    for chunk in chunks:
        assert "LIGHTHOUSE FERRIES INC. | Q2" not in chunk.text and "FORM 10-Q" not in chunk.embed_text.split("\n")[0]
        assert not any(line.strip() in {"1", "2", "3", "4", "5"} for line in chunk.text.split("\n"))
    # the cover keeps what it says once: it is the document's identity, not a running header
    assert "Lighthouse Ferries Inc." in doc.identity and "June 30, 2024" in doc.identity


def test_a_two_column_page_is_read_column_by_column(report):
    page = next(u for u in load_document(report).units if u.number == 4)
    lines = page.text.split("\n")
    assert not any("alpha" in ln.lower() and "beta" in ln.lower() for ln in lines), "columns read across"
    assert page.text.index(docs.LEFT_COLUMN[-1]) < page.text.index(docs.RIGHT_COLUMN[0])
    left = " ".join(docs.LEFT_COLUMN)
    assert left in " ".join(page.text.split())


def test_every_chunk_of_a_long_table_carries_its_column_headings(tmp_path, chunker):
    rows = [(f"Route {i} ticket sales", f"{1000 + i * 7:,}", f"{900 + i * 5:,}") for i in range(45)]
    pdf = docs.make_report_pdf(tmp_path / "long.pdf", table_rows=rows)
    doc = load_document(pdf)
    chunks = [c for c in chunker.chunk_document(doc, path=str(pdf), content_hash="x") if c.unit == 3]
    assert len(chunks) >= 2, "a 45-row table fits no single chunk"
    for chunk in chunks:
        first = chunk.text.split("\n")[0]
        # cut between rows, never inside one
        assert first.startswith("Route ") or first.startswith("CONDENSED"), first
        assert chunk.text.split("\n")[-1].count(" | ") == 2
        assert "June 30, 2024 | June 30, 2023" in chunk.search_text
    for chunk in chunks[1:]:
        assert "June 30, 2024" in chunk.context and "June 30, 2024" not in chunk.text
        assert chunk.tokens + chunker.count_tokens(chunk.context) <= chunker.config.max_tokens + 2


def test_docx_and_html_tables_are_chunked_by_rows_with_their_header(tmp_path, chunker):
    import docx

    header = ["Harbour", "Departures 2024", "Departures 2023"]
    rows = [[f"Harbour number {i} on the northern shore", str(100 + i), str(90 + i)] for i in range(60)]
    document = docx.Document()
    document.add_heading("Departures by harbour", level=1)
    table = document.add_table(rows=0, cols=3)
    for row in [header, *rows]:
        cells = table.add_row().cells
        for cell, value in zip(cells, row):
            cell.text = value
    document.save(str(tmp_path / "harbours.docx"))
    body = "<h1>Departures by harbour</h1><table><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>"
    body += "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows) + "</table>"
    html = docs.make_html(tmp_path / "harbours.html", "Departures", body)
    md = tmp_path / "harbours.md"
    md.write_text("# Departures by harbour\n\n| " + " | ".join(header) + " |\n|---|---|---|\n"
                  + "".join("| " + " | ".join(r) + " |\n" for r in rows), encoding="utf-8")
    for path in (tmp_path / "harbours.docx", html, md):
        doc = load_document(path)
        unit = doc.units[0]
        assert unit.tables, f"{path.name}: no table found"
        chunks = chunker.chunk_document(doc, path=str(path), content_hash="x")
        table_chunks = [c for c in chunks if "Harbour number" in c.text]
        assert len(table_chunks) >= 2, path.name
        for chunk in table_chunks:
            assert "Departures 2024" in chunk.embed_text, f"{path.name}: a chunk lost its column headings"
            rows_in = [ln for ln in chunk.text.split("\n") if "Harbour number" in ln]
            assert all(ln.count("|") >= 2 for ln in rows_in), f"{path.name}: a row was cut"


def test_a_pdf_with_arrays_past_pypdfs_limit_is_indexed(tmp_path):
    """Two real 10-Q filings were refused: "malformed PDF: Reached maximum array element count."."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, NameObject, NumberObject

    plain = docs.make_pdf(tmp_path / "plain.pdf", ["Quarterly filing text with a very large array inside."])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.pages[0][NameObject("/PieceInfo")] = ArrayObject(NumberObject(i % 7) for i in range(150_000))
    big = tmp_path / "big.pdf"
    with open(big, "wb") as fh:
        writer.write(fh)
    doc = load_document(big)
    assert "very large array" in doc.units[0].text
