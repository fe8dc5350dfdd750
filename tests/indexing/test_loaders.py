"""Each format is read into citable units with provenance; bad files are refused with a reason."""

from __future__ import annotations

import pytest

from indexing.loaders import load_document
from indexing.models import DocumentError, UnitKind
from tests import docs


def test_pdf_one_unit_per_page_numbered_as_a_reader_counts(tmp_path):
    pdf = docs.make_pdf(tmp_path / "facts.pdf", docs.fact_pages())
    doc = load_document(pdf)
    assert doc.kind == "pdf" and doc.page_count == 3
    assert [u.number for u in doc.units] == [1, 2, 3]
    assert all(u.kind is UnitKind.PAGE for u in doc.units)
    assert "Pier 52" in doc.units[0].text and "north gate" in doc.units[1].text and "sourdough" in doc.units[2].text


def test_pages_of_nothing_but_lines_that_repeat_are_text_not_scans(tmp_path):
    """An atlas whose every page is one numbered caption: the captions look like running headers
    (numbers masked, on every page), but they are the pages' text; no page goes to OCR."""
    captions = [f"Plate {i}: the coastline between harbour {i} and harbour {i + 1}, with its lighthouses, reefs and "
                "tides as the survey of that year drew them." for i in range(8)]
    doc = load_document(docs.make_pdf(tmp_path / "atlas.pdf", captions), ocr=True)
    assert [u.number for u in doc.units] == list(range(1, 9)) and doc.ocr_pages == []
    assert "harbour 5 and harbour 6" in " ".join(doc.units[5].text.split())
    assert not any("text layer" in w for w in doc.warnings)


def test_pdf_text_is_normalised_tabs_and_ligatures(tmp_path):
    """Regression: Qt-made PDFs extract with tabs between words and ﬃ/ﬁ ligatures that MiniLM reads as [UNK]."""
    pdf = docs.make_pdf(tmp_path / "lig.pdf", ["The efficient office filed a difficult fiscal report."])
    text = load_document(pdf).units[0].text
    assert "\t" not in text
    assert "efficient office" in text and "difficult fiscal" in text


def test_pdf_page_labels_are_kept(tmp_path):
    from pypdf import PdfReader, PdfWriter
    from pypdf.constants import PageLabelStyle

    src = docs.make_pdf(tmp_path / "src.pdf", ["Preface text here.", "Chapter one text here.", "More chapter text."])
    writer = PdfWriter(clone_from=PdfReader(src))
    writer.set_page_label(0, 0, style=PageLabelStyle.LOWERCASE_ROMAN)
    writer.set_page_label(1, 2, style=PageLabelStyle.DECIMAL)
    out = tmp_path / "labelled.pdf"
    writer.write(out)
    units = load_document(out).units
    assert [u.number for u in units] == [1, 2, 3]
    assert [u.label for u in units] == ["i", "1", "2"]  # the label a reader sees printed on the page


def test_docx_heading_path_and_tables(tmp_path):
    import docx as python_docx

    path = tmp_path / "handbook.docx"
    d = python_docx.Document()
    d.add_heading("Employee handbook", level=1)
    d.add_heading("Leave", level=2)
    d.add_paragraph("Everyone gets twenty-five days of paid leave per year.")
    d.add_heading("Equipment", level=2)
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Laptop", "ThinkPad X1"
    table.cell(1, 0).text, table.cell(1, 1).text = "Phone", "Pixel 8"
    d.save(path)
    doc = load_document(path)
    unit = doc.units[0]
    assert doc.kind == "docx"
    assert "twenty-five days" in unit.text and "Laptop | ThinkPad X1" in unit.text
    leave = unit.text.index("twenty-five")
    in_force = [p for off, p in unit.headings if off <= leave][-1]
    assert in_force == ("Employee handbook", "Leave")


def test_html_main_content_without_navigation(tmp_path):
    body = "\n\n".join(
        [
            "The lighthouse on Skerry Point was automated in 1987 after ninety years of keepers.",
            "Its lens is a first-order Fresnel lens that can be seen twenty-two nautical miles away.",
            "Guided climbs of the 112 steps run every Saturday between May and September.",
        ]
    )
    path = docs.make_html(tmp_path / "lighthouse.html", "Skerry Point Lighthouse", body)
    doc = load_document(path)
    text = doc.units[0].text
    assert "Fresnel lens" in text
    assert "Cookie settings" not in text and "Products" not in text
    assert doc.title and "Skerry" in doc.title


def test_markdown_keeps_heading_path_and_ignores_hash_in_code(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text(
        "# Setup\n\nInstall the tool.\n\n## Linux\n\nRun the installer.\n\n```sh\n# not a heading\nmake\n```\n\n## Windows\n\nUse the MSI.\n",
        encoding="utf-8",
    )
    unit = load_document(path).units[0]
    paths = [p for _, p in unit.headings]
    assert paths == [("Setup",), ("Setup", "Linux"), ("Setup", "Windows")]
    msi = unit.text.index("Use the MSI")
    assert [p for off, p in unit.headings if off <= msi][-1] == ("Setup", "Windows")


@pytest.mark.parametrize(
    "encoding,data",
    [
        ("utf-8-sig", "\ufeffCafé crème at Zoë's, naïve façade.\r\nSecond line.\r\n"),
        ("latin-1", "Café crème at Zoë's, naïve façade.\nSecond line.\n"),
        ("utf-16", "Café crème at Zoë's, naïve façade.\nSecond line.\n"),
    ],
)
def test_text_encodings_are_detected(tmp_path, encoding, data):
    """Regression: a Latin-1 file lost its accented letters through SimpleDirectoryReader."""
    path = tmp_path / f"note-{encoding}.txt"
    path.write_bytes(data.encode(encoding))
    text = load_document(path).units[0].text
    assert text.startswith("Café crème at Zoë's, naïve façade.")
    assert "\r" not in text and "\ufeff" not in text


def test_epub_chapter_is_the_unit(tmp_path):
    path = docs.make_epub(
        tmp_path / "book.epub",
        [("The Harbour", "Boats left at dawn.\n\nThe harbour master kept a ledger."), ("The Storm", "A storm closed the port for nine days.")],
    )
    doc = load_document(path)
    assert doc.kind == "epub"
    assert [u.kind for u in doc.units] == [UnitKind.CHAPTER, UnitKind.CHAPTER]
    assert [u.label for u in doc.units] == ["The Harbour", "The Storm"]
    assert "nine days" in doc.units[1].text


@pytest.mark.parametrize(
    "maker,code,words",
    [
        (lambda p: docs.make_encrypted_pdf(p / "secret.pdf"), "encrypted", "password"),
        (lambda p: docs.make_corrupt_pdf(p / "broken.pdf"), "malformed", "malformed PDF"),
        (lambda p: docs.make_pdf(p / "scan.pdf", ["", ""], image_only=True), "no-text-layer", "no text layer"),
        (lambda p: (p / "empty.txt").write_bytes(b"") and None or p / "empty.txt", "empty", "empty file"),
        (lambda p: (p / "blank.md").write_text("   \n\n  ") and None or p / "blank.md", "empty", "empty"),
        (lambda p: docs.make_png(p / "cover.epub"), "wrong-format", "image/png"),
        (lambda p: docs.make_png(p / "photo.txt"), "wrong-format", "not a text file"),
        (lambda p: (p / "blob.txt").write_bytes(bytes(range(256)) * 40) and None or p / "blob.txt", "binary", "not a text file"),
        (lambda p: docs.make_zip(p / "archive.docx", {"readme.txt": "hello"}), "malformed", "word/document.xml"),
        (lambda p: (p / "cut.epub").write_bytes(b"PK\x03\x04" + b"\x00" * 200) and None or p / "cut.epub", "malformed", "truncated"),
        # an EPUB with DRM-encrypted chapters was indexed as chunks of noise
        (lambda p: docs.make_odd_epub(p / "drm.epub", "drm"), "encrypted", "encrypted (DRM"),
    ],
    ids=["encrypted", "corrupt", "image-only", "empty", "whitespace", "png-as-epub", "png-as-txt", "binary-txt", "zip-as-docx",
         "truncated-epub", "drm-epub"],
)
def test_bad_files_are_refused_with_a_specific_reason(tmp_path, maker, code, words):
    path = maker(tmp_path)
    with pytest.raises(DocumentError) as info:
        load_document(path)
    assert info.value.code == code
    assert words in info.value.reason


def test_what_a_damaged_package_still_holds_is_read_with_a_warning(tmp_path):
    """A Word file whose unused theme part fails its CRC, an EPUB whose manifest names a missing
    audio file: both were refused whole for one part their text does not need."""
    doc = load_document(docs.make_damaged_docx(tmp_path / "handbook.docx"))
    assert "Parking permits are renewed every January." in doc.units[0].text
    assert doc.warnings == ["damaged parts left out (word/theme/theme1.xml); the text was read without them"]
    book = load_document(docs.make_odd_epub(tmp_path / "story.epub", "missing-audio"))
    assert [u.label for u in book.units] == ["Arrival", "Harbour"] and "Tromso" in book.units[0].text
    assert "missing (EPUB/audio/track.mp3)" in book.warnings[0]


def test_password_protected_and_old_office_files_named_docx_say_so(tmp_path):
    """An encrypted Word file is a compound (OLE) file: it was refused as "not a Word file (it
    looks like application/vnd.ms-powerpoint)"."""
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    (tmp_path / "locked.docx").write_bytes(ole + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 512)
    (tmp_path / "old.docx").write_bytes(ole + "WordDocument".encode("utf-16-le") + b"\x00" * 512)
    with pytest.raises(DocumentError) as info:
        load_document(tmp_path / "locked.docx")
    assert info.value.code == "encrypted" and "password-protected" in info.value.reason
    with pytest.raises(DocumentError) as info:
        load_document(tmp_path / "old.docx")
    assert info.value.code == "wrong-format" and "save it as .docx" in info.value.reason


def test_docx_content_imported_from_other_parts_is_read_in_its_place(tmp_path):
    """Mail merges and converters put a document's body in parts Word imports on opening
    (w:altChunk: HTML, a web archive): it was refused as "no text found". Unreadable imports
    (an RTF chunk here) are named in a warning."""
    mht = (b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"B\"\r\n\r\n--B\r\n"
           b"Content-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
           b"<html><body><p>The ferry to Vard=C3=B8 leaves at noon.</p></body></html>\r\n--B--\r\n")
    path = docs.make_docx_alt_chunks(tmp_path / "merged.docx", "Before the import.", [
        ("text/html", b"<html><body><h1>Harbour</h1><p>The harbour master keeps the tide tables.</p></body></html>"),
        ("message/rfc822", mht),
        ("application/rtf", b"{\\rtf1 Hidden}"),
    ], "After the import.")
    doc = load_document(path)
    text = doc.units[0].text
    order = [text.index(s) for s in ("Before the import.", "tide tables", "Vardø leaves at noon", "After the import.")]
    assert order == sorted(order)
    assert any("application/rtf" in w for w in doc.warnings)

    only = docs.make_docx_alt_chunks(tmp_path / "only.docx", "", [("text/html", b"<p>Only imported text here.</p>")], "")
    assert "Only imported text here." in load_document(only).units[0].text


def test_an_irm_wrapper_pdf_is_refused_not_indexed_as_its_notice(tmp_path):
    """A Microsoft IRM-protected PDF (Tika's test file) was indexed as its one-paragraph notice
    "this document is protected…": every question about it would have cited the notice."""
    notice = "This document is protected by Microsoft Information Rights Management. Open it in a reader that supports it."
    with pytest.raises(DocumentError) as info:
        load_document(docs.make_wrapped_pdf(tmp_path / "irm.pdf", notice))
    assert info.value.code == "encrypted" and "Information Rights Management" in info.value.reason
    plain = load_document(docs.make_wrapped_pdf(tmp_path / "attached.pdf", "A report with its data attached.", None))
    assert "data attached" in plain.units[0].text  # an ordinary attachment changes nothing


def test_lone_surrogates_from_a_broken_font_map_cost_nothing_but_themselves(tmp_path):
    """A PDF's text held lone UTF-16 surrogates; the tokenizer refused the whole file with a
    TypeError. Each becomes U+FFFD, one character for one: offsets do not move."""
    from indexing.chunking import Chunker
    from indexing.embedder import bundled_embedding_dir
    from indexing.loaders import without_surrogates
    from indexing.models import ParsedDocument, Unit

    unit = without_surrogates(Unit(1, "Gothic text: \ud800\udf30\ud800 and more text after it."))
    assert unit.text == "Gothic text: \ufffd\ufffd\ufffd and more text after it."
    doc = ParsedDocument(kind="pdf", units=[unit])
    chunks = Chunker.from_model_dir(bundled_embedding_dir()).chunk_document(doc, path="/d/gothic.pdf", content_hash="h")
    assert "more text after it" in chunks[0].text


def test_pdf_with_empty_user_password_opens(tmp_path):
    from pypdf import PdfReader, PdfWriter

    src = docs.make_pdf(tmp_path / "src.pdf", ["Readable although encrypted with an empty password."])
    writer = PdfWriter(clone_from=PdfReader(src))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-256")
    out = tmp_path / "empty-pw.pdf"
    writer.write(out)
    assert "Readable although encrypted" in load_document(out).units[0].text


def test_pdf_named_txt_is_read_as_pdf_with_a_warning(tmp_path):
    pdf = docs.make_pdf(tmp_path / "real.pdf", ["A PDF in disguise mentions the Oslo office."])
    disguised = tmp_path / "notes.txt"
    disguised.write_bytes(pdf.read_bytes())
    doc = load_document(disguised)
    assert doc.kind == "pdf" and "Oslo office" in doc.units[0].text
    assert any("content is PDF" in w for w in doc.warnings)


def test_vanished_file_is_reported(tmp_path):
    with pytest.raises(DocumentError) as info:
        load_document(tmp_path / "gone.pdf")
    assert info.value.code == "vanished"
