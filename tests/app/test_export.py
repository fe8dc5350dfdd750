"""Exports keep every citation, escape document text, and are written atomically."""

from __future__ import annotations

import json

import pytest

from app.export import ExportError, clipboard_text, export, format_for, to_html, to_markdown

TURN = {
    "question": "Is the script safe?",
    "answer": "The page runs a script. [1]",
    "sentences": [{"text": "The page runs a script.", "citations": [1], "support": 0.9, "supported": True},
                  {"text": "It was written in 1999 by aliens.", "citations": [], "support": 0.1, "supported": False}],
    "citations": [{
        "n": 1, "file": "/docs/evil.html", "file_name": "evil.html", "page": None, "unit": 1, "unit_kind": "document",
        "unit_label": None, "heading": ["Intro"], "start": 10, "end": 80,
        "text": "Hello <script>alert('x')</script> <img src=x onerror=alert(1)> world", "score": 0.71,
        "quote": "Hello <script>alert('x')</script>", "quote_start": 10, "quote_end": 43,
    }],
    "refused": False, "closest": [], "timings": {"total_s": 1.0},
}


def test_html_escapes_document_text_and_links_citations():
    out = to_html([TURN])
    assert "<script>" not in out and "onerror=alert" not in out.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in out
    assert 'href="#t1-s1"' in out and 'id="t1-s1"' in out
    assert "default-src 'none'" in out  # nothing loads or runs even if a tag slipped through
    assert 'class="unsupported"' in out  # the unsupported sentence is marked


def test_markdown_keeps_file_page_and_passage():
    md = to_markdown([TURN])
    assert "[1] **evil.html, § Intro**" in md and "characters 10–80" in md
    assert "\\<script\\>" in md  # inert in Markdown renderers too
    assert "1 sentence(s) are not supported" in md


def test_json_round_trips(tmp_path):
    path = export([TURN], tmp_path / "a.json", library="default")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["turns"][0]["citations"][0]["file"] == "/docs/evil.html" and data["library"] == "default"


def test_refusal_exports_the_closest_passages(tmp_path):
    refused = dict(TURN, refused=True, answer="I could not find this in your documents.", citations=[],
                   closest=[dict(TURN["citations"][0], n=1)])
    md = to_markdown([refused])
    assert "> I could not find this in your documents." in md and "Closest passages" in md


def test_unknown_extension_is_refused(tmp_path):
    with pytest.raises(ExportError):
        format_for(tmp_path / "answer.docx")


def test_pdf_export_reads_back(tmp_path):
    from pypdf import PdfReader

    path = export([TURN], tmp_path / "answer.pdf")
    text = " ".join(p.extract_text() for p in PdfReader(path).pages)
    assert "evil.html" in text and "alert" in text


def test_clipboard_text():
    text = clipboard_text(TURN)
    assert text.startswith("The page runs a script. [1]") and "[1] evil.html, § Intro:" in text
