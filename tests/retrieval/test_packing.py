"""Context packing: neighbouring chunks of one page reach the model as one source."""

from __future__ import annotations

from indexing.models import Chunk, UnitKind
from retrieval.models import Passage
from retrieval.prompts import build_messages, pack

PAGE = (
    "The night ferry leaves the north pier at 23:10. Tickets are sold on board. "
    "Bicycles travel free on weekdays. The crossing takes forty minutes in calm weather. "
    "In winter the last ferry leaves at 22:00 instead. Dogs must be kept on a lead."
)


def _passage(start: int, end: int, score: float, *, path="/docs/ferry.pdf", unit=3) -> Passage:
    chunk = Chunk(id=f"{path}:{unit}:{start}", text=PAGE[start:end], path=path, content_hash="h", unit=unit,
                  unit_kind=UnitKind.PAGE, start=start, end=end, index=start, tokens=(end - start) // 5)
    return Passage(chunk=chunk, score=score, dense=score)


def test_overlapping_neighbours_become_one_passage_spanning_both():
    a = _passage(0, 120, 0.9)
    b = _passage(100, 190, 0.8)  # overlaps a by 20 characters
    far = _passage(0, 60, 0.7, path="/docs/other.md", unit=1)
    packed = pack([a, b, far], budget_tokens=2000)
    assert len(packed) == 2
    merged = packed[0].chunk
    assert (merged.start, merged.end) == (0, 190) and merged.text == PAGE[0:190]  # no words lost or doubled
    assert merged.tokens == 190 // 5  # the 20 shared characters' tokens are counted once
    assert packed[0].dense == 0.9 and packed[1].chunk.path.endswith("other.md")
    prompt = build_messages("When does the ferry leave?", packed)[1]["content"]
    assert prompt.count('<source id=') == 2 and PAGE[0:190] in prompt


def test_a_neighbour_that_comes_first_on_the_page_is_prepended():
    later = _passage(100, len(PAGE), 0.9)
    earlier = _passage(40, 110, 0.85)
    (merged,) = pack([later, earlier], budget_tokens=2000)
    assert merged.chunk.text == PAGE[40:] and merged.chunk.start == 40


def test_distant_chunks_of_one_page_and_other_pages_stay_apart():
    a = _passage(0, 60, 0.9)
    b = _passage(150, len(PAGE), 0.85)  # same page, not touching
    c = _passage(0, 60, 0.8, unit=4)  # same offsets, another page
    packed = pack([a, b, c], budget_tokens=2000)
    assert [(p.chunk.unit, p.chunk.start) for p in packed] == [(3, 0), (3, 150), (4, 0)]


def test_a_merge_that_would_overflow_the_budget_is_skipped():
    a = _passage(0, 120, 0.9)
    b = _passage(100, len(PAGE), 0.8)
    packed = pack([a, b], budget_tokens=45)  # a alone already fills it (the first always goes in)
    assert len(packed) == 1 and packed[0].chunk.text == PAGE[0:120]
