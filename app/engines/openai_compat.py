"""Any OpenAI-compatible server (a vLLM server on a GPU box, llama.cpp's server, ...) over HTTP.

The one streaming client in Citewise: the remote engine is this class as is, and the vLLM child
engine (vllm_server.py) talks to its own server through it. The API key is sent only to the
configured URL and never appears in a message or a log (a user's own OPENAI_API_KEY is never
picked up by accident: the key is always passed explicitly).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

from app.engines.base import EngineBase, EngineError

log = logging.getLogger(__name__)


def normalize_base_url(url: str) -> str:
    """`http://host:8000`, `host:8000/` or `http://host:8000/v1` → `http://host:8000/v1`."""
    url = url.strip()
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def frequency_penalty(repetition_penalty: float) -> float:
    """Citewise's repetition penalty (llama.cpp's: 1.0 = none) as OpenAI's output-only
    frequency penalty (0 = none, at most 2): 1.15 → 0.3."""
    return round(min(2.0, max(0.0, (repetition_penalty - 1.0) * 2.0)), 3)


class OpenAICompatEngine(EngineBase):
    """Streams chat completions from an OpenAI-compatible server."""

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 10.0,
        context_tokens: int = 4096,
        seed: int | None = 0,
        name: str = "remote",
    ):
        import openai

        self.name = name
        self.base_url = normalize_base_url(base_url)
        self._model = model
        self.context_tokens = context_tokens
        self.timeout_s = timeout_s
        self.seed = seed
        self._key = api_key or None
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key or "not-needed",  # explicit: never the environment's OPENAI_API_KEY
            timeout=openai.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s)),
            max_retries=0,  # an unreachable server is reported at once, not after backoffs
        )
        self._connected = False
        self._tokenize_ok: bool | None = None

    @property
    def model(self) -> str:
        return self._model or "(the server's model)"

    # -- connecting ----------------------------------------------------------------------------

    def load_steps(self) -> Iterator[str]:
        if not self._connected:
            yield f"connecting to {self.base_url}"
            self.connect()

    def connect(self) -> None:
        """Ask the server which models it serves: checks it is there, the key and the model name."""
        try:
            served = list(self._client.models.list())
        except Exception as exc:
            raise self._error(exc) from None
        ids = [m.id for m in served]
        if self._model is None:
            if not ids:
                raise EngineError(f"the answer server at {self.base_url} serves no model")
            self._model = ids[0]
        elif ids and self._model not in ids:
            raise EngineError(
                f"the answer server at {self.base_url} does not serve the model '{self._model}'; it serves: "
                f"{', '.join(ids)}. Set llm.remote_model to one of them."
            )
        for m in served:  # vLLM reports its context length
            if m.id == self._model and isinstance(getattr(m, "max_model_len", None), int):
                self.context_tokens = m.max_model_len
        self._connected = True

    # -- the protocol --------------------------------------------------------------------------

    def stream_chat(self, messages, *, max_tokens=256, temperature=0.1, repetition_penalty=1.0, stop=None) -> Iterator[str]:
        self.load()
        try:
            stream = self._client.chat.completions.create(
                model=self._model,
                messages=messages,
                max_tokens=max_tokens,
                temperature=temperature,
                # Not vLLM's `repetition_penalty`: that one counts the prompt's tokens too, so with the
                # sources in the prompt it pushes the model away from copying them (at 1.15 every
                # test answer was made up, at 1.03 some). OpenAI's frequency_penalty counts only
                # what the model wrote, as llama.cpp's penalty over its recent tokens mostly does.
                frequency_penalty=frequency_penalty(repetition_penalty),
                stop=stop or None,
                seed=self.seed,
                stream=True,
            )
            with stream:
                for chunk in stream:
                    if chunk.choices:
                        delta = chunk.choices[0].delta.content
                        if delta:
                            yield delta
        except EngineError:
            raise
        except Exception as exc:
            raise self._error(exc) from None

    def count_tokens(self, text: str) -> int:
        """The server's own count where it offers vLLM's /tokenize; an overestimate otherwise."""
        if self._tokenize_ok is not False:
            count = self._tokenize(text)
            if count is not None:
                self._tokenize_ok = True
                return count
            self._tokenize_ok = False
        return len(text) // 3 + 1  # English text runs at about 4 characters a token

    def _tokenize(self, text: str) -> int | None:
        root = self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url
        body = json.dumps({"model": self._model, "prompt": text, "add_special_tokens": False}).encode()
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        request = urllib.request.Request(f"{root}/tokenize", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=min(self.timeout_s, 10)) as response:
                return int(json.load(response)["count"])
        except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError):
            return None

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:
            pass

    # -- errors --------------------------------------------------------------------------------

    def _error(self, exc: BaseException) -> EngineError:
        import openai

        url = self.base_url
        if isinstance(exc, openai.APITimeoutError):
            msg = (f"the answer server at {url} did not answer within {self.timeout_s:g} s; check that it is "
                   "running and not overloaded, or raise llm.timeout_s")
        elif isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc.__context__ or exc
            msg = (f"cannot reach the answer server at {url} ({type(cause).__name__}: {cause}); check that it is "
                   "running and that the URL (llm.remote_url) is right")
        elif isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            msg = (f"the answer server at {url} refused the API key (HTTP {exc.status_code}); set "
                   "CITEWISE_LLM__API_KEY to a key it accepts")
        elif isinstance(exc, openai.NotFoundError):
            msg = f"the answer server at {url} has no model '{self._model}' (HTTP 404); set llm.remote_model"
        elif isinstance(exc, openai.APIStatusError):
            msg = f"the answer server at {url} answered HTTP {exc.status_code}: {exc.message}"
        else:  # the connection dropped mid-answer, a malformed stream
            msg = f"the answer from {url} broke off ({type(exc).__name__}: {exc})"
        if self._key:
            msg = msg.replace(self._key, "***")
        log.warning("%s", msg)
        return EngineError(msg)
