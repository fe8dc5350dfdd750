"""Searchable at once: a file answers by its words as soon as it is read, its vectors follow; a
question asked meanwhile says what is not indexed yet instead of calling it absent."""

from __future__ import annotations

import os

import pytest

from indexing.models import FileStatus
from indexing.progress import Progress
from tests.indexing.index_state import assert_consistent

FACT = "The spare key to the boathouse is under the third flowerpot by the gate."


def _drop(folder, n: int = 8):
    """`a-fact.md` first (files are read in name order), then `n` notes of a few passages each."""
    folder.mkdir()
    (folder / "a-fact.md").write_text(f"# Boathouse\n\n{FACT}\n", encoding="utf-8")
    for i in range(n):
        body = "\n\n".join(f"Note {i} paragraph {j} is about the weather over the fjord, the tides and the ferries. " * 6
                           for j in range(4))
        (folder / f"note-{i:02d}.md").write_text(f"# Note {i}\n\n{body}\n", encoding="utf-8")
    return folder


def _until(gen, done):
    for p in gen:
        if done(p):
            return p
    raise AssertionError("the run ended first")


def test_a_file_is_found_by_its_words_before_its_vectors_are_written(library, tmp_path):
    folder = _drop(tmp_path / "drop")
    library.indexer.options.flush_chunks = 2
    fact = str((folder / "a-fact.md").resolve())
    gen = library.add([str(folder)])
    p = _until(gen, lambda p: p.report is not None and p.report.path == fact)
    assert p.report.status is FileStatus.INDEXED
    record = library.manifest.get(fact)
    assert library.store.get(record.chunk_ids) == []  # no vector yet
    assert p.chunks_waiting >= len(record.chunk_ids)

    hits = library.retriever.search("Where is the spare key to the boathouse?", 3)
    assert hits and hits[0].chunk.path == fact and "third flowerpot" in hits[0].chunk.text
    assert hits[0].dense is not None and hits[0].dense > 0.3  # its vector made on the spot for the score
    assert [FACT in c.text for c in library.chunks_of(fact)] == [True]  # the viewer reads it too

    *_, last = gen
    assert last.phase == "done" and last.chunks_waiting == 0
    assert last.searchable_s is not None and last.searchable_s <= last.elapsed
    assert len(library.store.get(record.chunk_ids)) == len(record.chunk_ids)
    assert_consistent(library)


def test_a_run_stopped_in_the_vector_stage_is_finished_without_reading_a_file_again(library, tmp_path):
    folder = _drop(tmp_path / "drop", n=6)
    library.indexer.options.flush_chunks = 2
    gen = library.add([str(folder)])
    p = _until(gen, lambda p: p.phase == "embedding")  # every file read, vectors left
    assert p.files_done == p.files_total == 7 and p.chunks_waiting > 0
    gen.close()  # the app quit here
    left = library.manifest.waiting_count()
    assert left > 0 and library.store.count() + left == library.stats()["chunks"]

    def read_again(*args, **kwargs):
        raise AssertionError(f"a file was parsed again: {args[0]}")

    library.indexer.pool.submit = read_again
    *_, last = library.add([str(folder)])
    assert {r.status for r in last.reports} == {FileStatus.UNCHANGED}
    assert last.chunks_embedded == left and last.chunks_waiting == 0
    assert_consistent(library)


def test_a_question_asked_while_files_are_unread_is_not_found_yet_not_refused(services, tmp_path):
    library = services.library()
    folder = _drop(tmp_path / "drop", n=14)
    library.indexer.options.flush_chunks = 2
    fact = str((folder / "a-fact.md").resolve())
    gen = library.add([str(folder)])
    _until(gen, lambda p: p.report is not None and p.report.path == fact)
    unread = library.indexer.unread()
    assert unread and fact not in unread

    chat = services.chat()
    *_, done = chat.ask("Which vaccine did the clinic order for the winter?", mode="quote")
    answer = done.answer
    assert answer.refused and answer.text == "Not found yet."
    assert "still being indexed" in answer.refusal_reason and "ask again when indexing has finished" in answer.refusal_reason
    assert os.path.basename(unread[0]) in answer.refusal_reason

    *_, done = chat.ask("Where is the spare key to the boathouse?", mode="quote")
    answer = done.answer
    assert not answer.refused and "third flowerpot" in answer.text
    assert "not read yet" in answer.incomplete and "could not use them" in answer.incomplete
    assert answer.to_dict()["incomplete"] == answer.incomplete

    for _ in gen:
        pass
    *_, done = chat.ask("Which vaccine did the clinic order for the winter?", mode="quote")
    assert done.answer.refused and done.answer.text != "Not found yet." and done.answer.incomplete is None


def test_the_progress_shows_both_stages(qtbot):
    from ui.library_panel import LibraryPanel

    panel = LibraryPanel()
    qtbot.addWidget(panel)
    panel.job_started(0)
    reading = Progress(phase="indexing", files_total=147, files_done=12, bytes_total=100, bytes_done=10,
                       work_bytes=10, work_seconds=5.0, chunks_done=300, chunks_waiting=240, chunks_embedded=60,
                       embed_seconds=6.0, current="/docs/report.pdf")
    panel.job_progress(reading)
    assert panel.progress.format() == "searchable 12/147 files · vectors: 240 passages to go"
    assert "report.pdf" in panel.job_label.text() and "left" in panel.job_label.text()
    # the ETA counts the vectors to come: 45 s of reading left, 240 + 2,700 passages at 10 a second
    assert reading.searchable_eta_s == pytest.approx(45.0) and reading.eta_s == pytest.approx(294.0)

    filling = Progress(phase="embedding", files_total=147, files_done=147, bytes_total=100, bytes_done=100,
                       work_bytes=100, work_seconds=50.0, chunks_done=3000, chunks_waiting=1000,
                       chunks_embedded=2000, embed_seconds=200.0)
    panel.job_progress(filling)
    assert panel.progress.format() == "all 147 files searchable · vectors: 1,000 passages to go"
    assert panel.progress.value() == 2000 and panel.progress.maximum() == 3000
    assert filling.eta_text == "1 min 40 s left"


def test_the_window_writes_the_vectors_a_stopped_run_left(qtbot, settings, embedder, engine, tmp_path):
    from app.services import build_services
    from app.session import Session
    from ui.main_window import MainWindow

    services = build_services(settings, embedder=embedder, engine=engine)
    library = services.library()
    folder = _drop(tmp_path / "drop", n=4)
    library.indexer.options.flush_chunks = 2
    gen = library.add([str(folder)])
    _until(gen, lambda p: p.phase == "embedding")
    gen.close()  # the app was closed while the vectors were being written
    assert library.manifest.waiting_count() > 0

    win = MainWindow(Session(services), ui_state=tmp_path / "window.ini", warm_up=False)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.index_finished, timeout=120_000) as job:
        win.show()
    assert job.args[0].phase == "done" and job.args[0].reports == []  # no file read again
    assert library.manifest.waiting_count() == 0
    assert_consistent(library)
    win.close()
    assert win.pool.activeThreadCount() == 0


def test_the_vectors_wait_while_every_core_is_reading(library):
    """Reading comes first: the vectors are written on a core the parse workers leave free."""
    from concurrent.futures import Future

    from indexing.pipeline import _Run

    run = _Run(library.indexer, lambda: False)
    run.cores = 2
    reading = [(None, Future()) for _ in range(3)]  # handed out: one waits for a worker
    run.inflight.extend(reading)
    assert not run.core_free()
    reading[0][1].set_result(None)
    assert not run.core_free()  # two still being read on two cores
    reading[1][1].set_result(None)
    assert run.core_free()
    from indexing.parse_pool import _Together

    reading[2][1].set_result(None)
    run.inflight.append((None, _Together([Future(), Future()])))  # one scan's OCR on both workers
    assert not run.core_free()
