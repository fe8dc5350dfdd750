"""Chunks fit the embedder's window, cut at sentence boundaries, and keep exact provenance."""

from __future__ import annotations

import pytest

from indexing.chunking import Chunker, ChunkingConfig
from indexing.embedder import bundled_embedding_dir
from indexing.models import ParsedDocument, Unit, UnitKind


@pytest.fixture(scope="module")
def chunker():
    return Chunker.from_model_dir(bundled_embedding_dir())


def _doc(*units: Unit) -> ParsedDocument:
    return ParsedDocument(kind="text", units=list(units), page_count=len(units))


def _sentences(n: int) -> str:
    return " ".join(f"Sentence number {i} describes the harbour, its cranes and the {i} ships that berth there." for i in range(n))


def test_every_chunk_fits_the_window_and_reproduces_its_span(chunker):
    text = _sentences(120) + "\n\n" + "Pneumonoultramicroscopicsilicovolcanoconiosis " * 300
    unit = Unit(number=4, text=text, kind=UnitKind.PAGE)
    chunks = chunker.chunk_document(_doc(unit), path="/docs/a.pdf", content_hash="abc")
    assert len(chunks) > 10
    for c in chunks:
        assert text[c.start : c.end] == c.text  # provenance is exact
        assert chunker.count_tokens(c.text) == c.tokens <= 254  # every word-piece is embedded
        assert c.unit == 4 and c.page == 4
    # together the chunks cover the unit: nothing is lost between them
    covered = sorted((c.start, c.end) for c in chunks)
    for (_, end), (start, _) in zip(covered, covered[1:]):
        assert start <= end


def test_chunks_end_at_sentence_boundaries(chunker):
    text = _sentences(60)
    chunks = chunker.chunk_document(_doc(Unit(1, text)), path="/a.txt", content_hash="h")
    assert len(chunks) >= 3
    for c in chunks[:-1]:
        assert c.text.endswith("."), c.text[-40:]


def test_chunk_carries_the_heading_in_force(chunker):
    intro = "Intro paragraph about the handbook and how to read it. " * 6
    leave = "Leave is twenty-five days a year and carries over for three months. " * 6
    text = f"Handbook\n\n{intro}\n\nLeave\n\n{leave}"
    headings = ((0, ("Handbook",)), (text.index("Leave\n"), ("Handbook", "Leave")))
    chunks = chunker.chunk_document(_doc(Unit(1, text, headings=headings)), path="/h.docx", content_hash="h")
    leave_chunks = [c for c in chunks if "twenty-five" in c.text]
    assert leave_chunks and all(c.heading == ("Handbook", "Leave") for c in leave_chunks)
    assert chunks[0].heading == ("Handbook",)


def test_chunk_ids_are_stable_and_depend_on_content(chunker):
    unit = Unit(1, _sentences(30))
    a = chunker.chunk_document(_doc(unit), path="/x.txt", content_hash="v1")
    b = chunker.chunk_document(_doc(unit), path="/x.txt", content_hash="v1")
    c = chunker.chunk_document(_doc(unit), path="/x.txt", content_hash="v2")
    d = chunker.chunk_document(_doc(unit), path="/y.txt", content_hash="v1")
    assert [x.id for x in a] == [x.id for x in b]
    assert not {x.id for x in a} & {x.id for x in c}
    assert not {x.id for x in a} & {x.id for x in d}  # two copies of one file do not collide


def test_cjk_text_is_cut_between_characters(chunker):
    text = "东京是日本的首都，也是世界上人口最多的城市之一。" * 80
    chunks = chunker.chunk_document(_doc(Unit(1, text)), path="/zh.txt", content_hash="h")
    assert len(chunks) > 1
    assert all(c.tokens <= 254 and text[c.start : c.end] == c.text for c in chunks)


def test_smaller_window_is_respected(chunker):
    small = Chunker(chunker.tokenizer, ChunkingConfig(max_tokens=64, overlap_tokens=8))
    chunks = small.chunk_document(_doc(Unit(1, _sentences(20))), path="/s.txt", content_hash="h")
    assert all(c.tokens <= 64 for c in chunks)


def test_headings_end_chunks_even_with_no_minimum_section(chunker):
    # min_section_tokens=0 once made an empty chunk at a heading and cut at the same place forever
    eager = Chunker(chunker.tokenizer, ChunkingConfig(min_section_tokens=0))
    sections = [(f"Part {i}", f"Part {i} covers the {i} harbour berths and their cranes. " * 3) for i in range(6)]
    text = "\n\n".join(f"{h}\n\n{body}" for h, body in sections)
    headings = tuple((text.index(f"{h}\n"), (h,)) for h, _ in sections)
    chunks = eager.chunk_document(_doc(Unit(1, text, headings=headings)), path="/p.md", content_hash="h")
    assert chunks and all(c.text.strip() for c in chunks)
    assert {c.heading for c in chunks} == {(h,) for h, _ in sections}  # each part starts its own chunk
    assert all(text[c.start:c.end] == c.text for c in chunks)
