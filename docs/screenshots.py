"""Drives the real app offscreen over a real index and saves the README's screenshots.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots.py

Writes docs/library.png (an indexing job running), docs/answer.png (an answer with its
citations), docs/viewer.png (the source viewer at the cited page), docs/followup.png (a
follow-up question) and docs/summary.png (a document summarised, the scope chip showing).

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots.py --models

Writes docs/models.png: Settings ▸ Models with a download running (from a loopback hub serving
the bundled GGUF as the catalog entry: tests/hubserver.py; no model hub is reachable here).

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots.py --figures

Writes docs/figures.png: Apple's Q2 and Q3 2023 10-Qs (../shared/data/sec-10q), "What were
Apple's total net sales last quarter?" answered with the figure on the first line, then "How did
they change from the quarter before?" answered side by side.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from indexing.offline import offline_env  # noqa: E402

offline_env()

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402

from app.samples import sample_files  # noqa: E402
from app.services import build_services  # noqa: E402
from app.settings import load_settings  # noqa: E402
from app.session import Session
from ui.main_window import MainWindow  # noqa: E402

OUT = ROOT / "docs"
SHARED = ROOT.parent / "shared" / "data"


def wait(app, predicate, timeout=600.0):
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise TimeoutError
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.02)


def settle(app, seconds=0.6):
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.02)


def main() -> None:
    from ui.app import application

    app = application(sys.argv)
    work = Path(tempfile.mkdtemp(prefix="citewise-shots-"))
    docs = work / "Documents"
    docs.mkdir()
    for f in sample_files():
        shutil.copy(f, docs / f.name)
    extra = []
    if SHARED.is_dir():  # a few real documents make the library look like a real one
        for name in ("pdfs/pdfjs__tracemonkey.pdf", "pdfs/pdfminer__dmca.pdf", "docs-mixed/md/rust-book__ch01-01-installation.md",
                     "docs-mixed/epub/epubjs__alice.epub", "pdfs/pypdf__r2-user-password.pdf"):
            src = SHARED / name
            if src.exists():
                extra.append(shutil.copy(src, work / src.name.split("__", 1)[-1]))
    os.environ["CITEWISE_CONFIG"] = str(work / "config.toml")
    settings = load_settings(data_dir=work / "data", **{"llm.engine": "llamacpp"})
    services = build_services(settings)
    win = MainWindow(Session(services), ui_state=None, warm_up=False)
    win.resize(1360, 820)
    win.show()
    services.embedder.embed(["warm up"])

    # 1. the library while a job runs
    done = []
    win.index_finished.connect(done.append)
    win.enqueue_index([str(docs)])
    wait(app, lambda: done)
    win.enqueue_index([str(p) for p in extra])
    if extra:
        wait(app, lambda: win.last_job is not None and win.library_panel.job.isVisible()
             and win.library_panel.progress.value() >= 1)
        settle(app, 0.3)
        win.grab().save(str(OUT / "library.png"))
        wait(app, lambda: len(done) >= 2)
    else:
        win.grab().save(str(OUT / "library.png"))

    # 2. an answer with its citations
    answers = []
    win.answer_finished.connect(answers.append)
    win.chat.input.setText("When does the first ferry leave on weekdays?")
    win.chat.ask_button.click()
    wait(app, lambda: answers)
    settle(app)
    win.grab().save(str(OUT / "answer.png"))

    # 3. the viewer at the cited page
    answer = answers[0]
    if answer and answer.get("citations"):
        win.chat.activate(0, answer["citations"][0]["n"])
        wait(app, lambda: win.viewer.found_on_page is not None, timeout=30)
        settle(app, 1.0)
        win.grab().save(str(OUT / "viewer.png"))
    win.viewer.hide()

    # 4. a follow-up question, read with the one before
    win.chat.input.setText("And at weekends?")
    win.chat.ask_button.click()
    wait(app, lambda: len(answers) >= 2)
    settle(app)
    win.grab().save(str(OUT / "followup.png"))

    # 5. a document summarised (right-click → Summarize), asked within it afterwards
    win.new_conversation()
    guide = str(docs / "harbour-ferry-guide.pdf")
    win.library_panel.select_paths([guide])
    win.ask_within([guide])
    win.library_panel.summarize_requested.emit(guide)
    wait(app, lambda: len(answers) >= 3)
    settle(app)
    win.chat.view.verticalScrollBar().setValue(0)  # the bullets, above their cards
    settle(app, 0.3)
    win.grab().save(str(OUT / "summary.png"))
    win.close()
    QTimer.singleShot(0, app.quit)
    print("saved", *(str(OUT / n) for n in ("library.png", "answer.png", "viewer.png", "followup.png", "summary.png")))


def figures() -> None:
    """A figure on the first line, then a change side by side (two real 10-Q filings)."""
    from ui.app import application

    app = application(sys.argv)
    work = Path(tempfile.mkdtemp(prefix="citewise-shots-"))
    filings = work / "Apple 10-Q"
    filings.mkdir()
    for name in ("2023 Q2 AAPL.pdf", "2023 Q3 AAPL.pdf"):
        shutil.copy(SHARED / "sec-10q" / "docs" / name, filings / name)
    os.environ["CITEWISE_CONFIG"] = str(work / "config.toml")
    settings = load_settings(data_dir=work / "data", **{"llm.engine": "llamacpp"})
    services = build_services(settings)
    win = MainWindow(Session(services), ui_state=None, warm_up=False)
    win.resize(1360, 900)
    win.show()
    done, answers = [], []
    win.index_finished.connect(done.append)
    win.answer_finished.connect(answers.append)
    win.enqueue_index([str(filings)])
    wait(app, lambda: done)
    for i, question in enumerate(("What were Apple's total net sales last quarter?",
                                  "How did they change from the quarter before?")):
        win.chat.input.setText(question)
        win.chat.ask_button.click()
        wait(app, lambda: len(answers) > i)
    settle(app)
    bar = win.chat.view.verticalScrollBar()
    text = win.chat.view.toPlainText()
    bar.setValue(int(bar.maximum() * text.index("How did they change") / max(len(text), 1)) - 40)
    settle(app, 0.3)
    win.grab().save(str(OUT / "figures.png"))
    win.close()
    QTimer.singleShot(0, app.quit)
    print("saved", OUT / "figures.png")


def models_page() -> None:
    from app.models import catalog
    from app.engines.llamacpp import bundled_gguf
    from tests.hubserver import Faults, HubServer
    from ui.app import application
    from ui.settings_dialog import SettingsDialog

    app = application(sys.argv)
    work = Path(tempfile.mkdtemp(prefix="citewise-shots-"))
    settings = load_settings(data_dir=work / "data")
    entry = catalog.get("qwen2.5-0.5b")
    with HubServer({entry.repo: {entry.files[0]: bundled_gguf()}}, Faults(rate=6e6)) as srv:
        settings.models.endpoint = "https://huggingface.co"  # what the page names; the download below goes to the loopback hub
        dialog = SettingsDialog(settings, None)
        dialog.resize(900, 620)
        dialog.tabs.setCurrentWidget(dialog.models)
        dialog.show()
        page = dialog.models
        page.table.selectRow(page.row_of(entry.id))
        settings.models.endpoint = srv.url
        page.download_button.click()
        wait(app, lambda: page.progress.value() > 380, timeout=120)
        settle(app, 0.2)
        dialog.grab().save(str(OUT / "models.png"))
        page.cancel_download()
        wait(app, lambda: page.worker is None, timeout=60)
        dialog.reject()
    shutil.rmtree(work, ignore_errors=True)
    print("saved", OUT / "models.png")


if __name__ == "__main__":
    models_page() if "--models" in sys.argv else figures() if "--figures" in sys.argv else main()
