"""Conversations in SQLite; settings written without losing the user's comments; secrets kept out of files."""

from __future__ import annotations

import keyring
import pytest
from keyring.backend import KeyringBackend

from app.conversations import ConversationStore
from app.secrets import get_api_key, set_api_key
from app.settings import load_settings, update_settings_file
from retrieval.models import Answer


def test_conversations_list_reopen_rename_delete(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite")
    conv = store.create("Ferry questions", "default")
    store.add_turn(conv.id, Answer(question="When?", text="At 7."))
    store.add_turn(conv.id, Answer(question="Where?", text="Pier 52.", refused=True, refusal_reason="not found"))
    store.close()
    store = ConversationStore(tmp_path / "c.sqlite")  # survives a restart
    [listed] = store.list()
    assert listed.title == "Ferry questions" and listed.turns == 2
    first, second = store.turns(conv.id)  # read back as they were given
    assert (first.question, first.text, first.refused) == ("When?", "At 7.", False)
    assert (second.question, second.refused, second.refusal_reason) == ("Where?", True, "not found")
    store.rename(conv.id, "Trip")
    assert store.get(conv.id).title == "Trip"
    with pytest.raises(ValueError):
        store.rename(conv.id, "  ")
    store.delete(conv.id)
    assert store.list() == [] and store.turns(conv.id) == []


def test_settings_file_update_keeps_comments_and_other_keys(tmp_path, monkeypatch):
    monkeypatch.delenv("CITEWISE_LLM__ENGINE", raising=False)  # tests/conftest.py sets it
    cfg = tmp_path / "config.toml"
    cfg.write_text('# my settings\nlibrary = "work"  # the one I use\n[retrieval]\ntop_k = 4\n', encoding="utf-8")
    update_settings_file(cfg, {"retrieval.strictness": "strict", "llm.engine": "llamacpp"})
    text = cfg.read_text(encoding="utf-8")
    assert "# my settings" in text and "# the one I use" in text and "top_k = 4" in text
    s = load_settings(cfg)
    assert (s.library, s.retrieval.top_k, s.retrieval.strictness, s.llm.engine) == ("work", 4, "strict", "llamacpp")
    update_settings_file(cfg, {"llm.engine": None})  # back to the default
    assert load_settings(cfg).llm.engine == "auto"


def test_settings_file_never_gets_a_secret_or_an_invalid_value(tmp_path):
    cfg = tmp_path / "config.toml"
    with pytest.raises(ValueError):
        update_settings_file(cfg, {"llm.api_key": "sk-secret"})
    with pytest.raises(Exception):
        update_settings_file(cfg, {"retrieval.top_k": 0})
    assert not cfg.exists() or "sk-secret" not in cfg.read_text()


class MemoryKeyring(KeyringBackend):
    """A stand-in for the desktop's keyring service, which CI machines do not run."""

    priority = 1

    def __init__(self):
        self.store = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        self.store.pop((service, username), None)


def test_api_key_lives_in_the_keyring(tmp_path):
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    try:
        set_api_key("http://gpu-box:8000/v1", "sk-abc123")
        assert get_api_key("http://gpu-box:8000/v1") == "sk-abc123"
        assert ("citewise", "api-key:http://gpu-box:8000/v1") in ring.store
        set_api_key("http://gpu-box:8000/v1", "")
        assert get_api_key("http://gpu-box:8000/v1") is None
    finally:
        keyring.set_keyring(previous)
