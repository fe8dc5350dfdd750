"""The desktop session without a display (app/session.py): libraries, the job queue, watching,
the conversation and its saved turns — what the window decides, as a user would notice it."""

from __future__ import annotations

import pytest

from app.session import Session, SessionError
from retrieval.models import Answer


def _index(session, folder):
    assert session.enqueue([str(folder)])  # nothing runs: start now
    paths, force = session.next_job()
    session.indexing = True
    try:
        *_, done = session.index(paths, force, lambda: False)
    finally:
        session.indexing = False
    return done


def test_libraries_switch_and_refuse_to_while_a_job_runs(services, tmp_path):
    session = Session(services)
    (tmp_path / "a.txt").write_text("The harbour ferry leaves at noon.\n", encoding="utf-8")
    assert _index(session, tmp_path / "a.txt").counts() == {"indexed": 1}
    assert session.create_library("Work") == "Work" and session.library_name == "Work"
    assert session.library.stats()["chunks"] == 0  # a new, empty library is the current one
    session.indexing = True
    with pytest.raises(SessionError, match="wait for the indexing job"):
        session.switch_library("default")
    with pytest.raises(SessionError, match="wait for the indexing job"):
        session.delete_library("Work")
    session.indexing = False
    assert session.switch_library("default") and session.library.stats()["chunks"] == 1
    assert not session.switch_library("default")  # already the current one
    assert session.delete_library("Work") == "default" and "Work" not in session.library_names()


def test_drops_during_a_job_wait_their_turn(services, tmp_path):
    session = Session(services)
    session.indexing = True
    assert not session.enqueue([str(tmp_path / "one")]) and not session.enqueue([str(tmp_path / "two")], force=True)
    assert session.next_job() == ([str(tmp_path / "one")], False)
    assert session.next_job() == ([str(tmp_path / "two")], True)
    assert session.next_job() is None


def test_turns_are_saved_in_the_open_conversation(services):
    session = Session(services)
    answer = Answer(question="When does the ferry leave?", text="At noon.")
    session.save_turn(answer)
    first = session.conversation_id
    session.save_turn(Answer(question="And on Sundays?", text="At noon."))
    assert session.conversation_id == first and [t.question for t in session.open_conversation(first)] == [
        "When does the ferry leave?", "And on Sundays?"]
    assert session.conversation_title() == "When does the ferry leave?"
    session.new_conversation()
    session.save_turn(answer)
    assert session.conversation_id != first
    assert session.delete_conversation(session.conversation_id) and session.conversation_id is None


def test_watching_follows_a_folder_until_stopped(services, tmp_path):
    session = Session(services)
    lines: list[str] = []
    session.start_watch(str(tmp_path), lines.append, debounce_s=0.2)
    assert session.watcher is not None
    assert session.stop_watch() and session.watcher is None and not session.stop_watch()


def test_a_follow_up_is_read_with_the_turns_of_the_same_scope_only(services, tmp_path):
    from tests import docs

    town = docs.make_town(tmp_path / "town")
    session = Session(services)
    _index(session, town)
    ferry = str(town / "ferry.md")
    session.save_turn(Answer(question="When does the ferry leave?", retrieved=[(ferry, 0)]))
    session.save_turn(Answer(question="And on weekends?", retrieved=[(ferry, 0)]))
    assert [t.question for t in session.history()] == ["When does the ferry leave?", "And on weekends?"]
    assert session.history()[-1].passages == [(ferry, 0)]
    session.set_scope([str(town / "library.md")])
    assert session.history() == []  # other files chosen: not a follow-up of those turns
    session.save_turn(Answer(question="What does a card cost?", scope=[str(town / "library.md")]))
    assert [t.question for t in session.history()] == ["What does a card cost?"]
    with pytest.raises(SessionError, match="nothing indexed"):
        session.set_scope([str(tmp_path / "elsewhere")])
    session.new_conversation()
    assert session.history() == [] and session.scope is None


def _engine_children() -> dict[int, str]:
    """Engine processes below this one (a session fixture's llama.cpp server included)."""
    import psutil

    found = {}
    for p in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(p.cmdline())
        except psutil.Error:
            continue
        if "vllm" in cmd or "llama" in cmd:
            found[p.pid] = cmd
    return found


def test_quote_mode_starts_no_engine_at_launch_nor_to_answer(settings, embedder, tmp_path):
    """With the bundled model, answers quote the passages: the launch's warm-up starts no engine
    (on CI, `auto` would start vLLM on the CPU: ~3.7 GB and a minute of two cores), and neither
    does a question; the status bar says so."""
    from app.services import build_services

    settings.llm.engine = "auto"
    before = _engine_children()
    services = build_services(settings, embedder=embedder)
    session = Session(services)
    (tmp_path / "a.txt").write_text("The harbour ferry leaves Skerry Point at noon every day.\n", encoding="utf-8")
    _index(session, tmp_path / "a.txt")
    steps = list(session.warm_up(lambda: False))
    assert steps[-1] == "Ready · answers quote your passages: the bundled model cannot write (Settings → Models) · no engine running"
    *_, done = services.chat().ask("When does the ferry leave Skerry Point?")
    assert done.answer.engine == "quote" and done.answer.citations
    assert services.engines.running is None and _engine_children().keys() <= before.keys()
    services.close()


def test_an_idle_engine_stops_and_starts_again_with_the_next_answer(settings, embedder, tmp_path):
    """Written answers start the engine (llama.cpp here: the model loaded in process); after
    llm.idle_stop_minutes without writing it stops, giving its memory back, and the next answer
    starts it again."""
    import time

    from app.services import build_services

    settings.retrieval.answer_mode = "generate"
    services = build_services(settings, embedder=embedder)
    session = Session(services)
    (tmp_path / "a.txt").write_text("The harbour ferry leaves Skerry Point at noon every day.\n", encoding="utf-8")
    _index(session, tmp_path / "a.txt")
    assert session.engine_status() == "llamacpp · bundled model · starts with the next answer"
    *_, done = services.chat().ask("When does the ferry leave Skerry Point?")
    assert done.answer.engine == "llama.cpp" and (services.engines.running is not None)
    assert session.engine_status().endswith("· running")
    now = time.monotonic()
    assert not services.engines.idle(now + 14 * 60)
    assert services.engines.idle(now + 16 * 60) and services.engines.stop()
    assert not (services.engines.running is not None) and session.engine_status().endswith("starts with the next answer")
    *_, done = services.chat().ask("When does the ferry leave Skerry Point?")
    assert done.answer.engine == "llama.cpp" and (services.engines.running is not None)
    settings.llm.idle_stop_minutes = 0  # never
    assert not services.engines.idle(now + 10 * 3600)
    services.close()
