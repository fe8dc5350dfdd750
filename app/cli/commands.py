"""The CLI's commands. Each takes the services and the parsed arguments and returns an exit code."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.cli.console import UserError, err, export_to, out, show_path, source_line
from indexing.models import FileReport, FileStatus
from retrieval.models import match_words, refusal_message




def _wrap_store_errors(fn):
    from indexing.pipeline import LibraryBusyError
    from indexing.store import StoreError

    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except (StoreError, LibraryBusyError) as exc:
            raise UserError(str(exc)) from None

    return wrapper


# -- index -------------------------------------------------------------------------------------


@_wrap_store_errors
def cmd_index(services, args) -> int:
    library = services.library()
    live = err.is_terminal and not args.json
    if services.embedders.int8_to_prepare() and services.libraries.recorded_variant(library.name) is None:
        err.print("[dim]Preparing the fast (int8) embedder for this CPU, once…[/dim]")
        services.embedders.prepare_int8(measure=False)  # `citewise models prepare` also measures it against float
    final = None
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[files]}"),
        TextColumn("{task.fields[rate]}"),
        TextColumn("ETA {task.fields[eta]}"),
        TimeElapsedColumn(),
        TextColumn("[dim]{task.fields[current]}"),
        console=err,
        transient=True,
        disable=not live,
    ) as bar:
        task = bar.add_task("Scanning", total=None, files="", rate="", eta="--:--", current="")
        shown = 0
        for p in library.add(args.paths, prune=args.prune, force=args.force):
            final = p
            if p.phase == "scanning":
                continue
            embedding = p.phase == "embedding"  # all searchable by their words; vectors fill in
            bar.update(
                task,
                description="Embedding" if embedding else "Indexing",
                total=max(p.chunks_embedded + p.chunks_waiting if embedding else p.bytes_total, 1),
                completed=p.chunks_embedded if embedding else p.bytes_done,
                files=p.stages_text,
                rate=f"{p.chunks_per_s:.0f} chunks/s",
                eta=p.eta_text,
                current=Path(p.current).name[:40] if p.current else "",
            )
            if live or args.json:
                continue
            if p.report is not None and p.report.status is not FileStatus.UNCHANGED:
                r = p.report
                err.print(f"[{p.files_done}/{p.files_total}] {r.status.value}: {escape(show_path(r.path))}")
            elif p.report is None and p.chunks_embedded and p.chunks_embedded != shown:  # a batch of vectors written
                shown = p.chunks_embedded
                err.print(f"\\[vectors] {p.chunks_embedded:,} written, {p.chunks_waiting:,} passages to go")
    assert final is not None
    reports = final.reports
    if args.json:
        print(json.dumps({
            "library": library.name,
            "elapsed_s": round(final.elapsed, 3),
            "files": [_report_dict(r) for r in reports],
            "counts": final.counts(),
        }, indent=2))
    else:
        _print_report(reports, final.elapsed)
    failed = any(r.status is FileStatus.FAILED for r in reports)
    return 1 if failed else 0


def _report_dict(r: FileReport) -> dict:
    return {
        "path": r.path, "status": r.status.value, "reason": r.reason, "kind": r.kind,
        "pages": r.pages, "chunks": r.chunks, "seconds": round(r.seconds, 3), "warnings": r.warnings,
    }


def _print_report(reports: list[FileReport], elapsed: float) -> None:
    by = {s: [r for r in reports if r.status is s] for s in FileStatus}
    indexed = by[FileStatus.INDEXED]
    pages = sum(r.pages for r in indexed)
    chunks = sum(r.chunks for r in indexed)
    parts = [f"indexed {len(indexed)} file{'s' * (len(indexed) != 1)} ({pages} pages, {chunks} chunks) in {elapsed:.1f} s"]
    for status in (FileStatus.UNCHANGED, FileStatus.FAILED, FileStatus.SKIPPED, FileStatus.REMOVED):
        if by[status]:
            parts.append(f"{len(by[status])} {status.value}")
    out.print("[bold]" + escape("; ".join(parts).capitalize()) + "[/bold]")
    style = {FileStatus.INDEXED: "green", FileStatus.FAILED: "red", FileStatus.SKIPPED: "yellow", FileStatus.REMOVED: "cyan", FileStatus.UNCHANGED: "dim"}
    unchanged_shown = 0
    for r in reports:
        if r.status is FileStatus.UNCHANGED:
            unchanged_shown += 1
            if unchanged_shown > 10:
                continue
        detail = ""
        if r.status is FileStatus.INDEXED:
            detail = f"{r.pages} page{'s' * (r.pages != 1)}, {r.chunks} chunk{'s' * (r.chunks != 1)}"
            if r.warnings:
                detail += f"  ({'; '.join(r.warnings)})"
        elif r.reason:
            detail = r.reason
        out.print(f"  [{style[r.status]}]{r.status.value:<9}[/] {escape(show_path(r.path))}  [dim]{escape(detail)}[/dim]")
    if unchanged_shown > 10:
        out.print(f"  [dim]… and {unchanged_shown - 10} more unchanged[/dim]")


# -- ask ---------------------------------------------------------------------------------------


@_wrap_store_errors
def cmd_ask(services, args) -> int:
    question = " ".join(args.question)
    chat = services.chat()
    live = not args.json
    history = getattr(args, "history", None)  # the shell's conversation so far (a list it keeps)
    scope = _ask_scope(services, args)
    answer = _stream_answer(chat, question, history, scope, live)
    if history is not None:
        from retrieval.followup import Turn

        history.append(Turn(answer.question, answer.retrieved, "" if answer.refused else answer.text))
    if getattr(args, "export", None):
        export_to(answer, args.export, services.library().name)
    if args.json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return 0
    if answer.refused:
        _print_refusal(answer)
        return 0
    _print_answer_notes(answer)
    return 0


def _ask_scope(services, args):
    """The files `--in PATH` (or the shell's :in) asks within, or None for the whole library."""
    if not getattr(args, "within", None):
        return None
    from app.chat import Scope
    from indexing.models import DocumentError

    try:
        return Scope(list(args.within), services.library().scope(args.within))
    except DocumentError as exc:
        raise UserError(str(exc)) from None


def _stream_answer(chat, question: str, history, scope, live: bool):
    """Asks, printing the answer as it streams (when `live`) with its citation marks; returns the Answer."""
    from app.chat import Done, Retrieved, SentenceCited, Status, Token
    from app.engines.base import EngineError
    from app.export import REWRITTEN

    answer = None
    try:
        for event in chat.ask(question, history=history, scope=scope):
            if isinstance(event, Status) and live and err.is_terminal:
                err.print(f"[dim]{event.text}…[/dim]", end="\r")
            elif isinstance(event, Retrieved) and event.rewritten and live:  # a follow-up, rewritten
                out.print(f"[dim]{escape(REWRITTEN + event.rewritten)}[/dim]")
            elif isinstance(event, Token) and live:
                out.print(escape(event.text), end="")
            elif isinstance(event, SentenceCited) and live:
                if event.citations:
                    out.print(" " + "".join(f"[{n}]" for n in event.citations), style="bold cyan", end="")
                elif event.claim:
                    out.print(" [?]", style="yellow", end="")
            elif isinstance(event, Done):
                answer = event.answer
    except EngineError as exc:
        raise UserError(str(exc)) from None
    assert answer is not None
    return answer


def _print_refusal(answer) -> None:
    """A refused answer: why, and the closest passages (none of which answers)."""
    out.print(escape(refusal_message(answer)))
    if answer.closest:
        out.print("\n[bold]Closest passages[/bold] (none answers the question):")
        for i, p in enumerate(answer.closest, 1):
            text = " ".join(p.chunk.text.split())
            out.print(f'  {i}. {escape(p.where())} [dim]({match_words(p.dense)})[/dim]: "{escape(text[:200])}{"…" if len(text) > 200 else ""}"')


def _print_answer_notes(answer) -> None:
    """After a streamed answer: its sources, the unsupported sentences counted, and the timings."""
    out.print()
    if answer.incomplete:
        err.print(f"[yellow]Asked while indexing: {escape(answer.incomplete)}[/yellow]")
    if answer.citations:
        out.print("\n[bold]Sources[/bold]")
        for c in answer.citations:
            out.print(escape(source_line(c)))
    unsupported = [s for s in answer.sentences if s.unsupported]
    if unsupported:
        err.print(f"[yellow]{len(unsupported)} sentence{'s' * (len(unsupported) != 1)} marked [?] {'are' if len(unsupported) != 1 else 'is'} not supported by the passages.[/yellow]")
    t = answer.timings
    if err.is_terminal:
        err.print(f"[dim]{answer.engine} · {answer.model} · first token {t.get('ttft_s', 0):.2f} s · total {t.get('total_s', 0):.1f} s[/dim]")


# -- list / remove -----------------------------------------------------------------------------


@_wrap_store_errors
def cmd_list(services, args) -> int:
    library = services.library()
    files = library.files()
    if args.failed:
        files = [f for f in files if f.status == "failed" or f.error]
    if args.json:
        print(json.dumps([{
            "path": f.path, "status": f.status, "kind": f.kind, "pages": f.pages, "chunks": f.chunks,
            "error": f.error, "indexed_at": f.indexed_at, "title": f.title,
        } for f in files], indent=2))
        return 0
    if not files:
        out.print(f"Library '{escape(library.name)}' is empty. Add documents with: citewise index PATH")
        return 0
    table = Table(title=f"Library '{library.name}'", show_lines=False, header_style="bold")
    for col, kw in (("status", {}), ("file", {"overflow": "fold"}), ("type", {}), ("pages", {"justify": "right"}), ("chunks", {"justify": "right"}), ("note", {"overflow": "fold"})):
        table.add_column(col, **kw)
    for f in files:
        status = "failed" if f.status == "failed" else ("indexed*" if f.error else "indexed")
        table.add_row(status, show_path(f.path), f.kind or "", str(f.pages), str(f.chunks), f.error or "")
    out.print(table)
    st = library.stats()
    out.print(f"{st['indexed']} indexed, {st['failed']} failed; {st['chunks']} chunks. [dim]* an older version is kept; the newer one failed[/dim]")
    return 0


@_wrap_store_errors
def cmd_remove(services, args) -> int:
    reports = services.library().remove(args.paths)
    if not reports:
        err.print("Nothing indexed matches: " + ", ".join(args.paths))
        return 1
    for r in reports:
        out.print(f"removed  {escape(show_path(r.path))}  [dim]({r.chunks} chunks)[/dim]")
    return 0


# -- doctor ------------------------------------------------------------------------------------


def cmd_doctor(services, args) -> int:
    from app.cli.doctor import run_checks

    checks = run_checks(services)
    problems = [c for c in checks if not c.ok]
    if args.json:
        print(json.dumps([c.__dict__ for c in checks], indent=2))
    else:
        for c in checks:
            mark = "[green]ok[/green]  " if c.ok else "[red]FAIL[/red]"
            out.print(f"{mark} [bold]{escape(c.name)}[/bold]: {escape(c.detail)}")
            if not c.ok and c.fix:
                out.print(f"       [yellow]fix:[/yellow] {escape(c.fix)}")
        out.print("\nAll checks passed." if not problems else f"\n{len(problems)} problem{'s' * (len(problems) != 1)} found.")
    return 1 if problems else 0


# -- models ------------------------------------------------------------------------------------


def cmd_models(services, args) -> int:
    """`models list | info | download | use | remove` (app/models_cli.py), and `models prepare`."""
    action = args.models_command
    if action == "worker":
        from app.models.downloads import worker_main

        return worker_main(args.spec)
    if action != "prepare":
        from app.cli import models as models_cli

        return getattr(models_cli, f"cmd_{action}")(services, args)
    return _models_prepare(services, args)


def _models_prepare(services, args) -> int:
    """`models prepare`: the embedding model's int8 copy made and timed against the float path on
    this CPU (what new libraries use: the faster), and the bundled LLM converted for vLLM, in the
    data dir (each is done on first use too)."""
    from app.engines import hf_model
    from app.engines.base import EngineError

    if services.settings.embedding.precision == "auto" and services.embedders.int8_can_run():
        measured = services.embedders.prepare_int8()
        if measured:
            out.print(
                f"Embedder on this CPU ({escape(measured['cpu'])}): float ({measured['float']['precision']}) "
                f"{measured['float']['chunks_per_s']} chunks/s, int8 {measured['int8']['chunks_per_s']} chunks/s"
            )
        out.print(f"New libraries index with {'int8' if services.embedders.int8_by_default() else 'float'} vectors (the faster here)")

    target = hf_model.bundled_dir(services.data_dir)
    was_ready = hf_model.is_ready(target)
    try:
        for line in hf_model.prepare_bundled(services.data_dir, force=args.force):
            err.print(escape(line))
    except EngineError as exc:
        raise UserError(str(exc)) from None
    out.print(f"{hf_model.BUNDLED_NAME} for vLLM: {escape(str(target))}" + (" (already prepared)" if was_ready and not args.force else ""))
    return 0


# -- shell -------------------------------------------------------------------------------------


def shell_paths(rest: str) -> list[str]:
    """The paths typed after :index, :remove or :in: quoted ("My Papers/q3.pdf" or 'a b') or
    plain; a path with spaces typed as it is counts whole when it exists."""
    rest = rest.strip()
    if not rest:
        return []
    if Path(rest).expanduser().exists():
        return [rest]
    try:
        return shlex.split(rest)
    except ValueError:  # an unclosed quote: the line as typed
        return [rest]


def cmd_shell(services, args) -> int:
    """An interactive loop: questions (each read with the earlier ones: follow-ups), and :index PATH,
    :list, :library NAME, :new, :help, :quit."""
    from app.session import Session, SessionError

    session = Session(services)  # the same session the desktop window keeps
    _shell_greet(session.library)
    # questions after the first are read with the earlier ones (follow-ups) until :new
    ns = argparse.Namespace(json=False, prune=False, force=False, failed=False, export=None, history=[], within=None)
    while True:
        try:
            line = input("\n? ").strip()
        except EOFError:
            out.print()
            return 0
        if not line:
            continue
        if line in (":q", ":quit", ":exit", "exit", "quit"):
            return 0
        if line in (":h", ":help", "help"):
            _shell_help()
            continue
        if line == ":new":
            ns.history.clear()
            ns.within = None
            out.print("[dim]New conversation.[/dim]")
            continue
        if line == ":in" or line.startswith(":in "):
            _shell_ask_within(session, ns, line[3:])
            continue
        try:
            _shell_command(services, session, ns, line)
        except (UserError, SessionError, ValueError) as exc:
            err.print(f"[red]{escape(str(exc))}[/red]")


def _shell_greet(library) -> None:
    """The shell's first lines: the library and what it holds, and what can be typed."""
    st = library.stats()
    out.print(f"[bold]Citewise[/bold] · library '{escape(library.name)}' · {st['indexed']} documents, {st['chunks']} chunks")
    if not st["indexed"]:
        out.print("The library is empty: type [bold]:index PATH[/bold] (files or folders) to add documents.")
    out.print("[dim]Ask a question, or :index PATH, :list, :library NAME, :new, :in PATH, :help, :quit[/dim]")


def _shell_help() -> None:
    """`:help`: the shell's commands."""
    out.print(":index PATH…  add files or folders\n:list         what is indexed\n:remove PATH  drop a file\n"
              ":library NAME switch to (or create) a library; :library alone lists them\n"
              ":new          a new conversation (the next question is not a follow-up)\n"
              ":in PATH…     ask within these indexed files or folders; :in alone: the whole library\n:quit         leave")


def _shell_ask_within(session, ns: argparse.Namespace, rest: str) -> None:
    """`:in PATH…`: later questions asked within these files or folders; `:in` alone: the whole library."""
    from app.session import SessionError

    ns.within = shell_paths(rest) or None
    ns.history.clear()  # questions within other files are not follow-ups of these
    if ns.within:
        try:
            names = ", ".join(Path(p).name for p in session.ask_scope(ns.within).files[:5])
        except SessionError as exc:
            err.print(f"[red]{escape(str(exc))}[/red]")
            ns.within = None
            return
        out.print(f"[dim]Asking within {escape(' '.join(ns.within))} ({escape(names)}…); :in alone asks the whole library.[/dim]")
    else:
        out.print("[dim]Asking the whole library.[/dim]")


def _shell_command(services, session, ns: argparse.Namespace, line: str) -> None:
    """One typed line other than the loop's own: :index, :remove, :list, :library, or a question."""
    if line.startswith(":index "):
        ns.paths = shell_paths(line.split(None, 1)[1])
        cmd_index(services, ns)
    elif line.startswith(":remove "):
        ns.paths = shell_paths(line.split(None, 1)[1])
        cmd_remove(services, ns)
    elif line == ":list":
        cmd_list(services, ns)
    elif line == ":library":
        for name in session.library_names():
            out.print(("* " if name == session.library_name else "  ") + escape(name))
    elif line.startswith(":library "):
        _shell_switch_library(session, ns, line.split(None, 1)[1].strip())
    else:
        ns.question = [line]
        cmd_ask(services, ns)


def _shell_switch_library(session, ns: argparse.Namespace, name: str) -> None:
    """`:library NAME`: switch to the library (made when new), in a new conversation."""
    if name in session.library_names():
        session.switch_library(name)
    else:
        session.create_library(name)
    ns.history.clear()
    ns.within = None
    st = session.library.stats()
    out.print(f"library '{escape(session.library_name)}' · {st['indexed']} documents, {st['chunks']} chunks")


from app.cli.summaries import cmd_summarize  # noqa: E402  (the commands live in modules of their own)
from app.cli.watch import cmd_watch  # noqa: E402

__all__ = ["UserError", "cmd_summarize", "cmd_watch", "cmd_index", "cmd_ask", "cmd_list", "cmd_remove", "cmd_doctor", "cmd_models", "cmd_shell"]
