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


def test_a_figure_no_cited_passage_states_flags_the_sentence_though_its_words_match():
    """In written mode every number must come from a cited passage: a model wrote the row's words
    with another figure, and the sentence was cited as supported."""
    table = _passage("Three Months Ended\nJuly 1, 2023 | June 25, 2022\nTotal net sales for the quarter | 81,797 | 82,959\n"
                     "Research and development expense for the quarter | 7,442 | 6,797", 4)
    att = Attributor([table])
    invented = att.attribute("Total net sales for the quarter were 95,310 and research and development expense was 7,442.")
    assert invented.claim and not invented.supported
    stated = att.attribute("Total net sales for the quarter were 81,797 and research and development expense was 7,442.")
    assert stated.supported
    # the same amount in another scale, or a difference the sentence says it computed, is not invented
    assert att.attribute("Total net sales for the quarter were $81.8 billion, with research and development expense of 7,442.").supported
    assert att.attribute("Total net sales for the quarter fell by 1,162, computed from the two quarters of 81,797 and 82,959.").supported


def test_a_figure_the_passage_spells_out_is_stated():
    """A model wrote "18 hours" for the passage's "eighteen hours" and the sentence lost its citation."""
    att = Attributor([_passage("Our bakery's sourdough loaf needs eighteen hours of cold fermentation before it is baked.", 2)])
    assert att.attribute("The sourdough loaf needs 18 hours of cold fermentation before it is baked.").supported
    assert not att.attribute("The sourdough loaf needs 28 hours of cold fermentation before it is baked.").supported
