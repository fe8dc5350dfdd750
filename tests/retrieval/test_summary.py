"""Whole-document summaries (retrieval/summary.py) on a real library: every section covered,
every bullet quoted verbatim from its document and cited to its page."""

from __future__ import annotations

import pytest

from retrieval.summary import SummaryProgress
from tests import docs

SECTIONS = {
    "Arrival": ["The night train from Oslo reaches Bodø at seven in the morning, after a ten hour journey north.",
                "Taxis wait outside the station, and the harbour is a ten minute walk downhill from the platform.",
                "Luggage can be left at the tourist office beside the station for a small fee."],
    "Staying": ["The guest house on Storgata has twelve rooms, each with a view of the mountains across the fjord.",
                "Breakfast is served from half past six, with brown cheese, smoked salmon and fresh bread.",
                "Guests who arrive after midnight collect their keys from a code box beside the door."],
    "Leaving": ["The coastal ferry to the Lofoten islands leaves the south quay every afternoon at three.",
                "Tickets for cars must be booked a day ahead in summer, while foot passengers can pay on board.",
                "The crossing takes about three and a half hours and can be rough in autumn storms."],
}


def index_trip(library, folder):
    """trip.md (SECTIONS under their headings) in `folder`, indexed."""
    text = "# Travel notes\n\n" + "\n\n".join(f"## {title}\n\n" + " ".join(lines) for title, lines in SECTIONS.items())
    path = folder / "trip.md"
    path.write_text(text + "\n", encoding="utf-8")
    for _ in library.add([str(path)]):
        pass
    return path


def _summary(library, path):
    events = list(library.summarize(path))
    assert all(isinstance(e, SummaryProgress) for e in events[:-1])
    assert events[0].done == 0 and events[-2].done == events[-2].total
    return events[-1]


def test_a_sectioned_document_gets_cited_bullets_for_every_section(library, tmp_path):
    path = index_trip(library, tmp_path)
    summary = _summary(library, path)
    headings = [s.text for s in summary.sentences if s.role == "heading"]
    assert [h.rsplit(" › ", 1)[-1] for h in headings] == list(SECTIONS)
    bullets = [s for s in summary.sentences if s.role == "bullet"]
    assert len(bullets) >= len(SECTIONS)
    for s in bullets:  # each bullet is a sentence of its section, cited, and its quote is that sentence
        assert len(s.citations) == 1
        cited = summary.citations[s.citations[0] - 1]
        assert cited.quote_text == s.text and s.text in path.read_text(encoding="utf-8")
    current = None
    for s in summary.sentences:  # under the heading of the section it comes from
        if s.role == "heading":
            current = s.text.rsplit(" › ", 1)[-1]
        else:
            assert s.text in SECTIONS[current]
    assert summary.kind == "summary" and summary.to_dict()["sentences"][0]["role"] == "heading"


def test_a_pdf_without_headings_is_summarised_by_pages_each_bullet_cited_to_its_page(library, tmp_path):
    pdf = docs.make_pdf(tmp_path / "facts.pdf", docs.fact_pages())
    for _ in library.add([str(pdf)]):
        pass
    summary = _summary(library, pdf)
    assert [s.text for s in summary.sentences if s.role == "heading"] == ["Page 1", "Page 2", "Page 3"]
    page = 0
    for s in summary.sentences:
        if s.role == "heading":
            page = int(s.text.split()[-1])
        else:
            assert summary.citations[s.citations[0] - 1].passage.chunk.unit == page


def test_a_file_not_in_the_library_is_named(library, tmp_path):
    from indexing.models import DocumentError

    with pytest.raises(DocumentError, match="missing.pdf is not indexed"):
        library.summarize(tmp_path / "missing.pdf")


def test_a_forms_check_boxes_are_not_a_summary(library, tmp_path):
    """A 10-Q's cover page: the check-box lines are the most 'central' sentences of the page (they
    share its words), but no reader wants them as a bullet."""
    path = tmp_path / "cover.md"
    path.write_text(
        "Indicate by check mark whether the registrant has filed all reports required to be filed. Yes ☒ No ☐\n\n"
        "Yes ☒ No ☐ Indicate by check mark whether the registrant is a large accelerated filer or a smaller company.\n\n"
        "The registrant designs graphics processors and sells them to makers of computers and data centers.\n",
        encoding="utf-8")
    for _ in library.add([str(path)]):
        pass
    bullets = [s.text for s in _summary(library, path).sentences if s.role == "bullet"]
    assert bullets and not any("☒" in b or "☐" in b for b in bullets)
