"""Files a messy folder holds that were refused or crashed though their text is readable, and
giants that held the whole folder back: each is indexed (as far as the per-file limits go, and
its report says so), through the real parse workers, Chroma and the bundled embedder."""

from __future__ import annotations

import base64
import os
import re
import zipfile

import pytest

from app.services import build_services
from app.settings import load_settings
from indexing.chunking import WINDOW_CHARS, Chunker
from indexing.embedder import bundled_embedding_dir
from indexing.models import FileStatus, ParsedDocument, Unit
from tests import docs


def _index(tmp_path, embedder, paths, **indexing):
    settings = load_settings(data_dir=tmp_path / "data", **{"embedding.device": "cpu"},
                             **{f"indexing.{k}": v for k, v in indexing.items()})
    services = build_services(settings, embedder=embedder)
    try:
        *_, last = services.library().add([str(p) for p in paths])
        reports = {os.path.basename(r.path): r for r in last.reports}
        hits = services.library().retriever.search("lighthouse keeper lamp dusk")
        return reports, hits
    finally:
        services.close()


def test_a_20_mb_text_file_on_one_line_is_indexed_up_to_the_size_limit(tmp_path, embedder):
    """It crashed its parser (SIGABRT: the tokenizer could not allocate for 20 MB at once)."""
    giant = tmp_path / "dump.txt"
    giant.write_text(base64.b64encode(os.urandom(15_000_000)).decode(), encoding="ascii")
    reports, _ = _index(tmp_path, embedder, [giant], max_chunks_per_file=60, parse_memory_mb=2048)
    r = reports["dump.txt"]
    assert r.status is FileStatus.INDEXED, r.reason
    assert r.chunks == 60
    assert any(re.search(r"indexed its first 60 passages, under 1 % of its text: the rest is left out by the size "
                         r"limit per file \(indexing\.max_chunks_per_file = 60\)", w) for w in r.warnings), r.warnings


def test_a_giant_line_is_tokenized_a_window_at_a_time_and_every_character_is_in_a_chunk():
    chunker = Chunker.from_model_dir(bundled_embedding_dir())
    text = base64.b64encode(os.urandom(300_000)).decode()  # 400,000 characters, no space
    seen = []
    encode = chunker.tokenizer.encode
    chunker.tokenizer = type("T", (), {"encode": lambda self, t, **kw: seen.append(len(t)) or encode(t, **kw),
                                       "no_truncation": lambda self: None, "no_padding": lambda self: None})()
    chunks = chunker.chunk_document(ParsedDocument(kind="text", units=[Unit(1, text)], page_count=1), path="/d.txt",
                                    content_hash="h")
    assert max(seen) <= WINDOW_CHARS
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert all(a.end >= b.start for a, b in zip(chunks, chunks[1:]))  # no character falls between two chunks


def test_a_pdf_past_the_page_limit_is_indexed_as_far_as_it_goes_and_says_so(tmp_path, embedder):
    pages = ["The lighthouse keeper lights the lamp at dusk every evening."] + [f"Page {i} is about tides." for i in range(2, 7)]
    pdf = docs.make_pdf(tmp_path / "atlas.pdf", pages)
    reports, hits = _index(tmp_path, embedder, [pdf], max_pages_per_file=2)
    r = reports["atlas.pdf"]
    assert r.status is FileStatus.INDEXED and r.pages == 6
    assert "indexed the first 2 of 6 pages: the rest is left out by the size limit per file " \
           "(indexing.max_pages_per_file = 2)" in r.warnings
    assert hits and hits[0].chunk.unit == 1  # what was read answers
    assert {h.chunk.unit for h in hits} <= {1, 2}


def test_a_pdf_whose_only_encrypted_parts_are_its_attachments_is_indexed(tmp_path, embedder):
    """It was refused as "a password is needed to open it", though its pages open without one."""
    pdf = docs.make_attachment_encrypted_pdf(tmp_path / "memo.pdf", ["The lighthouse keeper lights the lamp at dusk."])
    locked = docs.make_encrypted_pdf(tmp_path / "locked.pdf")  # a whole document behind a password: still refused
    reports, hits = _index(tmp_path, embedder, [pdf, locked])
    assert reports["memo.pdf"].status is FileStatus.INDEXED, reports["memo.pdf"].reason
    assert "its attachments are encrypted and were not read; its pages need no password" in reports["memo.pdf"].warnings
    assert hits[0].chunk.path.endswith("memo.pdf")
    assert reports["locked.pdf"].status is FileStatus.FAILED and "password" in reports["locked.pdf"].reason


def _strict(xml: bytes) -> bytes:
    """Transitional → Strict Open XML namespaces (the package's own stay, as Word writes them)."""
    return re.sub(rb"http://schemas\.openxmlformats\.org/(?!package/)(\w+)/2006/(\w+)", rb"http://purl.oclc.org/ooxml/\1/\2", xml)


def test_macro_enabled_and_strict_word_files_named_docx_are_read(tmp_path, embedder):
    """python-docx refuses both packages (the content type; Strict's namespaces): the XML is there."""
    base = docs.make_docx(tmp_path / "base.docx", [("h1", "Rota"), ("p", "The lighthouse keeper lights the lamp at dusk.")])
    macro_type = b"application/vnd.ms-word.document.macroEnabled.main+xml"
    macro = docs.rezip(base, tmp_path / "rota-macros.docx", replace={"[Content_Types].xml": lambda b: b.replace(
        b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml", macro_type)})
    parts = [n for n in zipfile.ZipFile(base).namelist() if n.endswith((".xml", ".rels"))]
    strict = docs.rezip(base, tmp_path / "rota-strict.docx", replace={n: _strict for n in parts})
    base.unlink()
    reports, hits = _index(tmp_path, embedder, [macro, strict])
    assert reports["rota-macros.docx"].status is FileStatus.INDEXED, reports["rota-macros.docx"].reason
    assert reports["rota-macros.docx"].warnings == [
        "read as a Word document: the file is a macro-enabled document (.docm) (its macros are never run)"]
    assert reports["rota-strict.docx"].status is FileStatus.INDEXED, reports["rota-strict.docx"].reason
    assert reports["rota-strict.docx"].warnings == ["read as a Word document: the file is Strict Open XML"]
    assert {os.path.basename(h.chunk.path) for h in hits[:2]} == {"rota-macros.docx", "rota-strict.docx"}


def test_an_epub_whose_chapters_are_declared_html_and_whose_spine_names_an_image_is_read(tmp_path, embedder):
    """"no text found in the EPUB's chapters" it said, though they hold text."""
    base = docs.make_epub(tmp_path / "base.epub", [("Arrival", "The lighthouse keeper lights the lamp at dusk."),
                                                   ("Harbour", "The ferry left at dawn with the mail.")])

    def odd(opf: bytes) -> bytes:
        opf = opf.replace(b'media-type="application/xhtml+xml"', b'media-type="text/html"')
        opf = opf.replace(b"</manifest>", b'<item id="img" href="cover.png" media-type="image/png"/></manifest>')
        return re.sub(rb"(<spine[^>]*>)", rb'\1<itemref idref="img"/>', opf)

    book = docs.rezip(base, tmp_path / "book.epub", replace={"EPUB/content.opf": odd}, add={"EPUB/cover.png": b"\x89PNG\r\n\x1a\n"})
    base.unlink()
    reports, hits = _index(tmp_path, embedder, [book])
    assert reports["book.epub"].status is FileStatus.INDEXED, reports["book.epub"].reason
    assert reports["book.epub"].chunks >= 2
    assert hits[0].chunk.path.endswith("book.epub") and hits[0].chunk.unit_label == "Arrival"


@pytest.mark.parametrize("name", ["notes.docm"])
def test_a_docm_file_is_indexed_not_skipped(tmp_path, embedder, name):
    base = docs.make_docx(tmp_path / "base.docx", [("p", "The lighthouse keeper lights the lamp at dusk.")])
    docm = docs.rezip(base, tmp_path / name, replace={"[Content_Types].xml": lambda b: b.replace(
        b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        b"application/vnd.ms-word.document.macroEnabled.main+xml")})
    base.unlink()
    reports, _ = _index(tmp_path, embedder, [docm])
    assert reports[name].status is FileStatus.INDEXED, reports[name].reason


def test_a_giant_is_indexed_after_the_ordinary_files_of_its_drop(tmp_path, embedder):
    """Found first (its name sorts first), indexed last: the ordinary documents answer sooner."""
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "a-dump.txt").write_text("tide table " * 900_000, encoding="ascii")  # 9.9 MB
    for name in ("b-ferry.md", "c-keeper.txt"):
        (folder / name).write_text("The lighthouse keeper lights the lamp at dusk.\n", encoding="utf-8")
    settings = load_settings(data_dir=tmp_path / "data", **{"embedding.device": "cpu", "indexing.max_chunks_per_file": 20})
    services = build_services(settings, embedder=embedder)
    try:
        # each file in the order it was started (a file in work stays `current` while vectors are written)
        started = list(dict.fromkeys(p.current for p in services.library().add([str(folder)]) if p.current and p.report is None))
    finally:
        services.close()
    assert [os.path.basename(p) for p in started] == ["b-ferry.md", "c-keeper.txt", "a-dump.txt"]
