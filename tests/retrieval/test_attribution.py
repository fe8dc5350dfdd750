"""Per-sentence attribution with small hand-made passages (no model needed for the lexical part)."""

from __future__ import annotations

from indexing.models import Chunk, UnitKind
from retrieval.attribution import Attributor, split_sentences, strip_markers
from retrieval.models import Passage


def _passage(text: str, page: int) -> Passage:
    chunk = Chunk(id=f"c{page}", text=text, path="/d/report.pdf", content_hash="h", unit=page, unit_kind=UnitKind.PAGE, start=0, end=len(text), index=page)
    return Passage(chunk, 0.8, 0.8)


PASSAGES = [
    _passage("The plant produced 4,200 tonnes of steel in 2019. Output fell in 2020 because of the strike.", 1),
    _passage("The company employs 310 people at its Lund site. Most of them work in two shifts.", 2),
]


def test_sentence_is_attributed_to_the_passage_that_says_it():
    att = Attributor(PASSAGES)
    r = att.attribute("The Lund site employs 310 people.")
    assert r.supported and [s.passage_index for s in r.supports] == [1]
    quote = PASSAGES[1].chunk.text[slice(*r.supports[0].quote)]
    assert quote == "The company employs 310 people at its Lund site."


def test_a_wrong_number_is_not_supported():
    att = Attributor(PASSAGES)
    r = att.attribute("The plant produced 9,900 tonnes of steel in 2017.")
    assert not r.supported


def test_the_models_marker_does_not_create_support():
    att = Attributor(PASSAGES)
    r = att.attribute("Penguins are flightless birds of the southern hemisphere.", marked=[1])
    assert r.claim and not r.supported


def test_short_non_claims_are_not_flagged():
    r = Attributor(PASSAGES).attribute("Sure.")
    assert not r.claim and not r.supported


def test_markers_are_stripped_and_collected():
    text, numbers = strip_markers("Output fell [1]. Staff work shifts [2, 3]. See [Source 4].")
    assert text == "Output fell. Staff work shifts. See." and numbers == [1, 2, 3, 4]


def test_sentence_split_keeps_abbreviations_and_list_numbers():
    text = "Prices rose, e.g. for steel. Dr. Berg agreed.\n\n1. First point here.\n2. Second point."
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Prices rose, e.g. for steel.", "Dr. Berg agreed.", "1. First point here.", "2. Second point.",
    ]
