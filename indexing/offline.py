"""Nothing leaves the machine: the environment that keeps every library Citewise loads offline
and quiet (no model-hub lookups, no usage telemetry). The one place these variables are named."""

from __future__ import annotations

import os
from typing import MutableMapping

OFFLINE = {
    "HF_HUB_OFFLINE": "1",  # no Hugging Face hub lookups: models are loaded from paths
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",  # Chroma
    "ORT_DISABLE_TELEMETRY": "1",  # ONNX Runtime >= 1.29 (see indexing/__init__.py)
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def offline_env(env: MutableMapping[str, str] | None = None, *, force: bool = False) -> MutableMapping[str, str]:
    """Sets the offline variables in `env` (the process environment by default) where the user
    has not set them (all of them with `force`, for a child process such as the vLLM server)."""
    env = os.environ if env is None else env
    for key, value in OFFLINE.items():
        if force:
            env[key] = value
        else:
            env.setdefault(key, value)
    return env
