"""Settings precedence: defaults < TOML file < CITEWISE_* environment < flags."""

from __future__ import annotations

from app.settings import load_settings


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("CITEWISE_LLM__ENGINE")  # set to llamacpp for the other tests by conftest
    s = load_settings(tmp_path / "absent.toml")
    assert s.library == "default" and s.llm.engine == "auto" and s.retrieval.strictness == "balanced"
    assert s.store.chroma_url is None
    assert s.llm.vllm_python is None and s.llm.vllm_max_model_len == 2048


def test_file_then_env_then_flags(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text('library = "from-file"\n[retrieval]\ntop_k = 7\nstrictness = "strict"\n[llm]\nengine = "llamacpp"\n', encoding="utf-8")
    s = load_settings(cfg)
    assert (s.library, s.retrieval.top_k, s.retrieval.strictness) == ("from-file", 7, "strict")

    monkeypatch.setenv("CITEWISE_RETRIEVAL__TOP_K", "9")
    monkeypatch.setenv("CITEWISE_LIBRARY", "from-env")
    s = load_settings(cfg)
    assert (s.library, s.retrieval.top_k, s.retrieval.strictness) == ("from-env", 9, "strict")

    s = load_settings(cfg, library="from-flag", **{"retrieval.top_k": 3})
    assert (s.library, s.retrieval.top_k, s.retrieval.strictness, s.llm.engine) == ("from-flag", 3, "strict", "llamacpp")


def test_api_key_comes_from_the_environment_not_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CITEWISE_LLM__API_KEY", "sk-test")
    s = load_settings(tmp_path / "absent.toml")
    assert s.llm.api_key.get_secret_value() == "sk-test"
    assert "sk-test" not in repr(s)
