"""Secrets (the remote engine's API key) live in the system keyring, never in a file or a log."""

from __future__ import annotations

SERVICE = "citewise"


class SecretStoreError(RuntimeError):
    pass


def _keyring():
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    return keyring, (KeyringError, NoKeyringError)


def get_api_key(url: str) -> str | None:
    keyring, errors = _keyring()
    try:
        return keyring.get_password(SERVICE, f"api-key:{url}")
    except errors:
        return None


def set_api_key(url: str, key: str) -> None:
    keyring, errors = _keyring()
    try:
        if key:
            keyring.set_password(SERVICE, f"api-key:{url}", key)
        else:
            try:
                keyring.delete_password(SERVICE, f"api-key:{url}")
            except Exception:
                pass
    except errors as exc:
        raise SecretStoreError(
            f"no system keyring is available to keep the API key ({exc}); "
            "set CITEWISE_LLM__API_KEY in the environment instead"
        ) from None


def mask(key: str | None) -> str:
    """What a log or a dialog may show of a key."""
    if not key:
        return "(none)"
    return f"{key[:3]}…{key[-2:]}" if len(key) > 8 else "…"
