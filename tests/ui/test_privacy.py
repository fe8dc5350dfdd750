"""The desktop app's whole answer flow with a guard on every outbound connection, and the
remote engine's API key kept in the keyring only.

Index, ask (the bundled model through llama.cpp writes the answer), open the cited page,
export: with embedded Chroma no socket may be opened at all; with a Chroma server configured,
only its loopback port. See tests/netguard.py.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlparse

import pytest

from tests import docs, netguard
from tests.conftest import files_holding, free_port

LONG = 240_000

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(params=["embedded", "server"])
def store_url(request):
    if request.param == "embedded":
        return None
    return request.getfixturevalue("chroma_server")


@pytest.mark.slow
def test_answer_flow_connects_only_where_configured(qtbot, store_url, data_dir, embedder, engine, tmp_path):
    from app.services import build_services
    from app.settings import load_settings
    from app.session import Session
    from ui.main_window import MainWindow

    folder = tmp_path / "papers"
    folder.mkdir()
    docs.make_pdf(folder / "facts.pdf", docs.fact_pages())
    settings = load_settings(data_dir=data_dir, **{
        "llm.engine": "llamacpp", "embedding.device": "cpu", "store.chroma_url": store_url,
        "retrieval.answer_mode": "generate",
    })
    ports = {urlparse(store_url).port} if store_url else set()
    guard = netguard.install()
    with guard.watching(allow_ports=ports):
        win = MainWindow(Session(build_services(settings, embedder=embedder, engine=engine)), ui_state=tmp_path / "w.ini", warm_up=True)
        qtbot.addWidget(win)
        win.show()
        with qtbot.waitSignal(win.index_finished, timeout=LONG) as job:
            win.library_actions.enqueue_index([str(folder)])
        assert job.args[0].phase == "done"
        with qtbot.waitSignal(win.answer_finished, timeout=LONG) as done:
            win.chat.input.setText("How much does the museum night tour cost?")
            win.chat.ask_button.click()
        answer = done.args[0]
        assert answer and answer.engine == "llama.cpp" and answer.citations[0].passage.chunk.page == 2
        win.chat.activate(0, 1)  # the cited page opens in the viewer
        assert win.viewer.isVisible()
        assert win.export_to(tmp_path / "answer.html", "answer").exists()
        win.close()
        qtbot.waitUntil(lambda: win.pool.activeThreadCount() == 0, timeout=LONG)
    assert guard.violations == []
    if store_url:
        assert guard.allowed and set(guard.allowed) == {f"127.0.0.1:{p}" for p in ports}
    else:
        assert guard.allowed == []


@pytest.fixture
def memory_keyring():
    import keyring

    from tests.app.test_persistence import MemoryKeyring

    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(previous)


@pytest.mark.slow
def test_api_key_from_settings_lives_in_the_keyring_only(qtbot, window, memory_keyring, tmp_path, caplog, monkeypatch):
    """The key typed in Settings goes to the keyring, not the settings file; an answer through the
    unreachable remote engine fails, and neither the window, the logs nor any file shows the key."""
    monkeypatch.delenv("CITEWISE_LLM__ENGINE", raising=False)  # tests/conftest.py's; the file must decide
    from PySide6.QtWidgets import QLineEdit

    from app.secrets import get_api_key
    from app.settings import default_config_file
    from ui.settings_dialog import SettingsDialog

    caplog.set_level(logging.DEBUG)
    key = "sk-cw-" + secrets.token_hex(16)
    url = f"http://127.0.0.1:{free_port()}/v1"  # closed: nothing listens there
    folder = tmp_path / "papers"
    folder.mkdir()
    docs.make_pdf(folder / "facts.pdf", docs.fact_pages())
    with qtbot.waitSignal(window.index_finished, timeout=LONG):
        window.library_actions.enqueue_index([str(folder)])

    window.apply_settings({"llm.engine": "remote", "llm.remote_url": url, "llm.remote_model": "remote-model",
                           "retrieval.answer_mode": "generate"}, api_key=key)
    assert memory_keyring.store == {("citewise", f"api-key:{url}"): key}
    config = default_config_file().read_text(encoding="utf-8")
    assert url in config and key not in config
    dialog = SettingsDialog(window.session.services.settings, get_api_key(url))  # the dialog shows it masked
    assert dialog.api_key.echoMode() is QLineEdit.EchoMode.Password and dialog.api_key.text() == key
    dialog.deleteLater()

    with qtbot.waitSignal(window.answer_finished, timeout=LONG) as done:
        window.chat.input.setText("How much does the museum night tour cost?")
        window.chat.ask_button.click()
    assert done.args[0] is None  # the remote engine could not answer
    qtbot.waitUntil(lambda: window.pool.activeThreadCount() == 0, timeout=LONG)
    shown = window.chat.view.toPlainText()
    assert "The answer failed" in shown
    for text in (shown, window.engine_label.text(), window.statusBar().currentMessage(), caplog.text):
        assert key not in text
    assert files_holding(tmp_path, key) == []
