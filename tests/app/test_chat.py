"""Asking: streamed answer, per-sentence citations to the right file and page, honest refusals."""

from __future__ import annotations

import pytest

from app.chat import Done, MarkerFilter, Retrieved, SentenceCited, Status, Token
from retrieval.followup import Turn
from app.services import build_services
from tests import docs
from tests.engines import FakeEngine


def _ask(services, question):
    events = list(services.chat().ask(question))
    assert isinstance(events[-1], Done)
    return events, events[-1].answer


@pytest.fixture
def generate(services):
    """The LLM writes the answer (the default measured better is quote mode; see the README)."""
    services.settings.retrieval.answer_mode = "generate"


@pytest.mark.parametrize("mode", ["generate", "quote"])
@pytest.mark.parametrize(
    "question,page",
    [
        ("How long does the sourdough loaf need to ferment?", 3),
        ("When does the ferry to Bainbridge Island leave?", 1),
        ("How much does the museum night tour cost?", 2),
    ],
)
def test_answer_cites_the_file_and_page_holding_the_fact(services, fact_library, question, page, mode):
    services.settings.retrieval.answer_mode = mode
    events, answer = _ask(services, question)
    assert not answer.refused, answer.raw
    assert answer.citations, f"no sentence of the answer was supported: {answer.raw!r}"
    first = answer.citations[0].to_dict()
    assert first["file_name"] == "facts.pdf" and first["page"] == page
    assert first["text"] in fact_library.store.get([answer.citations[0].passage.chunk.id])[0].text
    assert "[1]" in answer.text


def test_events_stream_in_order_and_tokens_make_the_answer(services, fact_library, generate):
    events, answer = _ask(services, "When does the ferry to Bainbridge Island leave?")
    kinds = [type(e) for e in events]
    assert kinds[0] is Status and Retrieved in kinds
    assert kinds.index(Retrieved) < kinds.index(Token)
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    assert "[" not in streamed  # the model's own markers never reach the user unverified
    cited = [e for e in events if isinstance(e, SentenceCited)]
    assert cited and [e.index for e in cited] == list(range(len(cited)))
    assert all(s.text in streamed for s in answer.sentences)
    assert answer.timings["ttft_s"] > 0 and answer.timings["total_s"] >= answer.timings["generation_s"]


def test_off_topic_question_is_refused_without_asking_the_model(services, fact_library):
    events, answer = _ask(services, "Who won the football world cup in 1974?")
    assert answer.refused and answer.text == "I could not find this in your documents."
    assert answer.citations == [] and answer.closest  # the closest passages are still shown
    assert not any(isinstance(e, Token) for e in events)
    assert all(e.text != "generating" for e in events if isinstance(e, Status))


def test_empty_library_refuses(services):
    _, answer = _ask(services, "When does the ferry leave?")
    assert answer.refused and answer.closest == []


def test_cancel_stops_generation(services, fact_library, generate):
    seen = []

    def cancel():
        return len(seen) >= 3

    for e in services.chat().ask("When does the ferry to Bainbridge Island leave?", cancel=cancel):
        if isinstance(e, Token):
            seen.append(e)
        if isinstance(e, Done):
            answer = e.answer
    assert answer.timings.get("cancelled") == 1.0
    assert len(seen) <= 4


def test_json_shape(services, fact_library):
    _, answer = _ask(services, "How much does the museum night tour cost?")
    d = answer.to_dict()
    assert set(d) >= {"question", "answer", "citations", "refused", "timings"}
    c = d["citations"][0]
    assert set(c) >= {"n", "file", "page", "start", "end", "text", "score"}
    assert c["file"].endswith("facts.pdf") and c["end"] > c["start"]


@pytest.mark.parametrize(
    "tokens,expected,numbers",
    [
        (["The ferry leaves at 7:15", " [", "1", "]", "."], "The ferry leaves at 7:15.", [1]),
        (["Fact one [1][2]. Fact", " two [Source 3]."], "Fact one. Fact two.", [1, 2, 3]),
        (["An array [0] index"], "An array [0] index", []),
        (["Unclosed [bracket text that goes on and on for a long while"], "Unclosed [bracket text that goes on and on for a long while", []),
    ],
)
def test_marker_filter(tokens, expected, numbers):
    f = MarkerFilter()
    out = "".join(f.feed(t) for t in tokens) + f.flush()
    assert out == expected
    assert f.numbers == numbers


def test_rare_word_is_found_by_the_lexical_index(services, library, tmp_path):
    """Dense retrieval alone ranks the part number's page low; BM25 finds the exact token."""
    folder = tmp_path / "manuals"
    folder.mkdir()
    pages = [
        f"Maintenance chapter {i}. Check the belts, the filters and the hoses every month, and log the hours." for i in range(12)
    ]
    pages[7] += " Replacement valve QX-7731 fits only the 2019 pumps."
    docs.make_pdf(folder / "manual.pdf", pages)
    for _ in library.add([str(folder)]):
        pass
    hits = library.retriever.search("QX-7731", k=3)
    assert hits and hits[0].chunk.page == 8 and hits[0].lexical is not None
    assert library.indexer.check()["lexical_mismatch"] == 0


def test_a_library_without_lexical_rows_gets_them_when_opened(services, fact_library):
    """Libraries indexed before the lexical index existed are backfilled once, on opening."""
    ids = fact_library.manifest.all_chunk_ids()
    with fact_library.manifest.transaction() as db:
        fact_library.manifest.lexical.delete(ids, db)
    fact_library.close()
    again = build_services(services.settings, embedder=services.embedder)  # the app started again
    try:
        reopened = again.library()
        hits = reopened.retriever.search("sourdough fermentation", k=3)
        assert hits[0].lexical is not None and reopened.manifest.lexical_ids() == ids
    finally:
        again.close()


def test_quote_mode_answers_with_the_passages_own_sentences(services, fact_library):
    services.settings.retrieval.answer_mode = "quote"
    events, answer = _ask(services, "When does the ferry to Bainbridge Island leave?")
    assert not answer.refused and answer.engine == "quote"
    assert "7:15" in answer.text and answer.text.endswith("[1]")
    c = answer.citations[0].to_dict()
    assert c["file_name"] == "facts.pdf" and c["page"] == 1
    assert all(s.supported and s.text in answer.citations[0].passage.chunk.text for s in answer.sentences)
    assert any(isinstance(e, Token) for e in events)


def test_one_question_can_override_the_answer_mode(services, fact_library):
    """The self-test asks the language model to write one answer whatever the settings say."""
    services.settings.retrieval.answer_mode = "generate"
    *_, done = services.chat().ask("When does the ferry to Bainbridge Island leave?", mode="quote")
    assert done.answer.engine == "quote" and "7:15" in done.answer.text
    assert services.settings.retrieval.answer_mode == "generate"  # the settings are not touched
    with pytest.raises(ValueError, match="answer mode"):
        next(services.chat().ask("When does the ferry leave?", mode="poem"))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "quote"),  # the bundled 135M model: quoting measured far better (README)
        ({"llm.model": "/models/Qwen2.5-7B-Instruct"}, "generate"),  # a model the user chose writes
        ({"llm.engine": "remote", "llm.remote_url": "http://gpu-box:8000/v1"}, "generate"),
        ({"retrieval.answer_mode": "generate"}, "generate"),  # an explicit choice always wins
        ({"llm.model": "/models/big", "retrieval.answer_mode": "quote"}, "quote"),
    ],
)
def test_auto_answer_mode_quotes_with_the_bundled_model_and_lets_chosen_models_write(tmp_path, overrides, expected):
    from app.chat import answer_mode
    from app.settings import load_settings

    assert answer_mode(load_settings(data_dir=tmp_path, **overrides)) == expected


def _scoped_library(library, tmp_path):
    folder = tmp_path / "scoped"
    (folder / "notes").mkdir(parents=True)
    (folder / "timetable.md").write_text(
        "# Ferry timetable\n\nThe ferry to Bainbridge Island leaves at 9:00 every morning from Pier 52.\n", encoding="utf-8")
    (folder / "notes" / "diary.md").write_text(
        "# Diary\n\nOn Monday we took the ferry to Bainbridge Island at 10:15, because we missed the early one. "
        "The crossing was grey and windy.\n", encoding="utf-8")
    (folder / "recipes.md").write_text("# Bread\n\nThe rye loaf rests overnight in a cold kitchen.\n", encoding="utf-8")
    for _ in library.add([str(folder)]):
        pass
    return folder


def test_a_scoped_question_is_answered_from_the_chosen_files_only(services, library, tmp_path):
    """The timetable answers best; asked within the diary's folder, the diary answers, and no
    passage of another file is retrieved (the stores are filtered, not the top 5)."""
    from app.chat import Scope
    from indexing.models import DocumentError

    folder = _scoped_library(library, tmp_path)
    question = "When does the ferry to Bainbridge Island leave?"
    _, whole = _ask(services, question)
    assert whole.citations[0].passage.file_name == "timetable.md" and whole.scope is None
    scope = Scope([str(folder / "notes")], library.scope([folder / "notes"]))
    assert scope.files == [str((folder / "notes" / "diary.md").resolve())]
    events = list(services.chat().ask(question, scope=scope))
    answer = events[-1].answer
    retrieved = next(e for e in events if isinstance(e, Retrieved)).passages
    assert retrieved and {p.file_name for p in retrieved} == {"diary.md"}
    assert not answer.refused and {c.passage.file_name for c in answer.citations} == {"diary.md"}
    assert "10:15" in answer.text and answer.to_dict()["scope"] == [str(folder / "notes")]
    with pytest.raises(DocumentError, match="nothing indexed"):
        library.scope([tmp_path / "elsewhere"])


def _conversation(services, tmp_path, rewrite: str):
    """The town's library; "When does the ferry to Vardø leave?" then "And on weekends?", answered
    by a scripted capable model that rewrites the follow-up as `rewrite`."""
    folder = docs.make_town(tmp_path / "town")
    model = FakeEngine(rewrite)
    s = build_services(services.settings, embedder=services.embedder, engine=model)
    s.settings.retrieval.answer_mode = "generate"
    for _ in s.library().add([str(folder)]):
        pass
    chat = s.chat()
    first = list(chat.ask("When does the ferry to Vardø leave?"))[-1].answer
    assert first.rewritten is None and len(model.prompts) == 1  # a first question is not rewritten
    history = [Turn(first.question, first.retrieved, first.text)]
    events = list(chat.ask("And on weekends?", history=history))
    s.close()
    return model, events, events[-1].answer


def test_a_capable_model_rewrites_a_follow_up_which_is_searched_and_answered(services, tmp_path):
    """The rewrite is what is searched (the ferry's weekend page, not the buses' — "weekends" alone
    is their word), what the model answers, and what the answer says it searched."""
    from app.export import to_markdown

    model, events, answer = _conversation(services, tmp_path, "When does the ferry to Vardø leave on weekends?")
    shown = model.prompts[1]  # the conversation, its questions and answers, then the follow-up
    assert "user: When does the ferry to Vardø leave?\nassistant: " in shown and "And on weekends?" in shown
    assert answer.question == "And on weekends?" and answer.rewritten == "When does the ferry to Vardø leave on weekends?"
    statuses = [e.text for e in events if isinstance(e, Status)]
    assert statuses.index("rewriting the question") < statuses.index("searching")
    assert next(e for e in events if isinstance(e, Retrieved)).rewritten == answer.rewritten
    assert "Question: When does the ferry to Vardø leave on weekends?" in model.prompts[2]
    assert answer.citations[0].passage.file_name == "ferry.md" and "11:30" in answer.text
    assert answer.timings["condense_s"] >= 0 and answer.to_dict()["rewritten"] == answer.rewritten
    assert "Searched as: When does the ferry to Vardø leave on weekends?" in to_markdown([answer.to_dict()])


def test_a_rewrite_that_answers_instead_is_not_followed(services, tmp_path):
    """A reply that is an answer (or drops the user's words) is ignored: the follow-up is read with
    the conversation, as with the bundled model, and still finds the ferry's weekend sailing."""
    model, events, answer = _conversation(services, tmp_path, "The buses run every thirty minutes on weekends.")
    assert answer.rewritten is None and answer.read_with == "When does the ferry to Vardø leave?"
    assert "Question: And on weekends?" in model.prompts[2]
    assert answer.citations[0].passage.file_name == "ferry.md" and "11:30" in answer.text


def test_the_bundled_model_quotes_and_rewrites_nothing_but_can_be_asked_to(services, tmp_path):
    """Quote mode (the bundled model's default) starts no engine for a follow-up; with condense on,
    the real bundled model is asked for a rewrite, which is followed only if it is a usable one."""
    from retrieval.condense import accept

    folder = docs.make_town(tmp_path / "town")
    for _ in services.library().add([str(folder)]):
        pass
    chat = services.chat()
    first = list(chat.ask("When does the ferry to Vardø leave?"))[-1].answer
    history = [Turn(first.question, first.retrieved, first.text)]
    quoted = list(chat.ask("And on weekends?", history=history))[-1].answer
    assert quoted.rewritten is None and "condense_s" not in quoted.timings
    services.settings.retrieval.condense = "on"
    answer = list(chat.ask("And on weekends?", history=history))[-1].answer
    assert "condense_s" in answer.timings  # the 135M model was asked
    if answer.rewritten is not None:
        assert accept("And on weekends?", answer.rewritten, [Turn(first.question, answer=first.text)]) == answer.rewritten
    assert answer.citations[0].passage.file_name == "ferry.md" and "11:30" in answer.text


def test_a_written_answer_streams_word_by_word_and_its_sentence_is_cited_to_its_source(services, tmp_path):
    """With a model that writes (FakeEngine: it copies the first source's last line, as a capable
    model quotes), the user sees the words arrive, then the sentence marked supported and cited
    [1] to the passage it came from; the model's own [1] never reaches the screen."""
    folder = docs.make_town(tmp_path / "town")
    model = FakeEngine()
    s = build_services(services.settings, embedder=services.embedder, engine=model)
    s.settings.retrieval.answer_mode = "generate"
    try:
        for _ in s.library().add([str(folder)]):
            pass
        events = list(s.chat().ask("When does the ferry to Vardø leave?"))
    finally:
        s.close()
    answer = events[-1].answer
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert len(tokens) > 3 and "[" not in "".join(tokens)
    written = FakeEngine.answer(model.prompts[-1]).removesuffix(" [1].")
    assert answer.text.startswith(written) and answer.engine == "fake"
    cited = [e for e in events if isinstance(e, SentenceCited)]
    assert cited and cited[0].supported and cited[0].citations == [1]
    assert written.split()[-1] in answer.citations[0].passage.chunk.text
