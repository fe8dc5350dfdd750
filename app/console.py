"""The terminal the CLI commands print to (rich consoles), and how they show a path."""

from __future__ import annotations

import os

from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # a long path stays on its line in a log


def show_path(path: str) -> str:
    """A path relative to the working folder when it lies below it, else as it is."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else path
