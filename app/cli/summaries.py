"""`citewise summarize FILE`: a whole document summarised, every bullet cited to its page."""

from __future__ import annotations

import json

from rich.markup import escape

from app.cli.console import UserError, err, export_to, out, source_line


def cmd_summarize(services, args) -> int:
    from app.chat import Status
    from app.engines.base import EngineError
    from indexing.models import DocumentError
    from retrieval.summary import SummaryProgress

    library = services.library()
    answer = None
    try:
        for event in services.summarize(args.file, mode="quote" if getattr(args, "extractive", False) else None):
            if isinstance(event, Status):
                if err.is_terminal:
                    err.print(f"[dim]{escape(event.text)}…[/dim]", end="\r")
            elif isinstance(event, SummaryProgress):
                if err.is_terminal and event.total:
                    err.print(f"[dim]reading section {event.done}/{event.total}…[/dim]", end="\r")
            else:
                answer = event
    except (DocumentError, EngineError) as exc:
        raise UserError(str(exc)) from None
    if getattr(args, "export", None):
        export_to(answer, args.export, library.name, "summary")
    if args.json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return 0
    if not answer.citations:
        raise UserError(f"{args.file} has no sentences to summarise (tables, lists or figures only)")
    out.print(f"[bold]{escape(answer.question)}[/bold]\n")
    out.print(escape(answer.text))
    out.print("\n[bold]Sources[/bold]")
    for c in answer.citations:
        out.print(escape(source_line(c)))
    return 0
