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


class UserError(Exception):
    """An error the user can fix; printed without a traceback."""


def source_line(c) -> str:
    """One numbered source of an answer (a retrieval.models.Citation), as the terminal shows it."""
    quote = " ".join(c.quote_text.split())
    if len(quote) > 240:
        quote = quote[:237] + "…"
    return f'[{c.n}] {c.passage.where()}: "{quote}"'


def export_to(answer, path, library: str, what: str = "answer") -> None:
    """`--export FILE`: the answer (or summary: a retrieval.models.Answer) with its citations, written by its extension.
    UserError when it cannot be written."""
    from rich.markup import escape

    from app.export import ExportError, export

    try:
        written = export([answer], path, library=library)
    except (ExportError, OSError) as exc:
        raise UserError(f"cannot export to {path}: {exc}") from None
    err.print(f"[dim]{what} and citations written to {escape(str(written))}[/dim]")
