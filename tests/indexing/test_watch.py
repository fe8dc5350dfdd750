"""Watch mode: real file-system events keep the library in step with a folder."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.conftest import VENV_BIN


def _wait(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _texts(library, path):
    rec = library.manifest.get(str(path.resolve()))
    return " ".join(c.text for c in library.store.get(rec.chunk_ids)) if rec and rec.status == "indexed" else None


@pytest.mark.slow
def test_created_edited_moved_and_deleted_files_follow_the_folder(library, tmp_path):
    folder = tmp_path / "watched"
    folder.mkdir()
    watcher = library.watcher([folder], debounce_s=0.3).start()
    try:
        note = folder / "note.md"
        note.write_text("# Boat\n\nThe rowing boat is kept in the red shed.\n", encoding="utf-8")
        assert _wait(lambda: _texts(library, note) and "red shed" in _texts(library, note))

        note.write_text("# Boat\n\nThe rowing boat now lives in the green barn.\n", encoding="utf-8")
        assert _wait(lambda: _texts(library, note) and "green barn" in _texts(library, note))
        assert "red shed" not in _texts(library, note)

        sub = folder / "sub"
        sub.mkdir()
        moved = sub / "boat.md"
        note.rename(moved)
        assert _wait(lambda: _texts(library, moved) is not None and library.manifest.get(str(note.resolve())) is None)

        (folder / ".~lock.tmp#").write_text("editor junk", encoding="utf-8")  # ignored
        moved.unlink()
        assert _wait(lambda: library.manifest.get(str(moved.resolve())) is None)
        assert library.indexer.check()["store_chunks"] == 0  # nothing left behind
    finally:
        watcher.stop()
    assert not watcher.running


@pytest.mark.slow
def test_cli_watch_indexes_a_new_file_and_stops_on_ctrl_c(tmp_path, data_dir):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "first.txt").write_text("The kettle is on the second shelf.\n", encoding="utf-8")
    exe = VENV_BIN / "citewise"
    proc = subprocess.Popen(
        [str(exe), "--data-dir", str(data_dir), "--device", "cpu", "watch", "--debounce", "0.3", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # SIGABRT below prints every thread's stack
        # Ctrl+C as in a terminal: a CI job started in the background (`( cmd & )`) hands its
        # children SIGINT ignored, and Python then never raises KeyboardInterrupt (that hung here)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "Watching" in line:
                break
        assert any("first.txt" in line for line in lines), lines
        (folder / "second.txt").write_text("The teapot hides behind the flour tin.\n", encoding="utf-8")
        for line in proc.stdout:
            lines.append(line)
            if "second.txt" in line:
                break
        assert "indexed" in lines[-1], lines  # searchable by its words
        for line in proc.stdout:  # then its vectors: the watch says so before the user stops it
            lines.append(line)
            if "up to date" in line:
                break
        assert "searchable by meaning" in lines[-1], lines
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(90)
        except subprocess.TimeoutExpired:  # say where it is stuck: the stacks of all its threads
            proc.send_signal(signal.SIGABRT)
            pytest.fail("the watch did not stop within 90 s of Ctrl+C:\n" + "".join(lines) + proc.stdout.read()[-8000:])
        assert code == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    rest = proc.stdout.read()
    assert "Stopping the watch" in rest and "Traceback" not in rest
    # stopped with the library whole: both files indexed, nothing half-written
    from app.services import build_services
    from app.settings import load_settings
    from tests.indexing.index_state import assert_consistent

    services = build_services(load_settings(data_dir=data_dir, **{"embedding.device": "cpu"}))
    try:
        assert_consistent(services.library())
        assert {os.path.basename(r.path) for r in services.library().files()} == {"first.txt", "second.txt"}
    finally:
        services.close()
