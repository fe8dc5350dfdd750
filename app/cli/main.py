"""`citewise` on the command line: index, ask, list, remove, doctor, and an interactive shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from app.logs import route_to_log
from app.settings import Settings, load_settings
from indexing.offline import offline_env

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="citewise",
        description="Ask questions about your own documents, answered locally with citations.",
    )
    _add_global_options(p)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    # added in the order `citewise --help` lists them
    _add_indexing_commands(sub)
    _add_question_commands(sub)
    _add_library_commands(sub)
    _add_models_command(sub)
    _add_app_commands(sub)
    return p


def _add_global_options(p: argparse.ArgumentParser) -> None:
    """The options every command takes: where data and settings live, the library, engine and model."""
    p.add_argument("--data-dir", type=Path, help="where libraries, models and logs live")
    p.add_argument("--config", type=Path, help="settings file (TOML); default: the platform's config dir")
    p.add_argument("--library", "-l", help="library (collection) to use; default: 'default'")
    p.add_argument("--chroma-url", help="use a Chroma server (chroma run) instead of the embedded store")
    p.add_argument("--engine", choices=["auto", "vllm", "remote", "llamacpp"], help="answer engine")
    p.add_argument("--model", help="language model: a GGUF file, a Hugging Face folder or id")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="embedding device")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "int8"],
                   help="embedding precision; int8 (ONNX Runtime, CPU) indexes fastest, and a library keeps the one it was made with")
    p.add_argument("--verbose", "-v", action="store_true", help="log what happens")
    p.add_argument("--version", action="version", version="citewise 0.1.0")
    p.add_argument("--self-test", action="store_true",
                   help="index a small made-up document in a temporary library, ask about it, check the citation, and exit")


def _add_indexing_commands(sub) -> None:
    """`index` and `watch`: documents into the library."""
    s = sub.add_parser("index", help="index files and folders (recursively)")
    s.add_argument("paths", nargs="+", help="files or folders")
    s.add_argument("--prune", action="store_true", help="drop indexed files under these folders that no longer exist")
    s.add_argument("--force", action="store_true", help="re-index files even when unchanged")
    s.add_argument("--json", action="store_true", help="print the per-file report as JSON")

    s = sub.add_parser("watch", help="index folders, then re-index what changes in them until Ctrl+C")
    s.add_argument("paths", nargs="+", help="folders (or files) to watch")
    s.add_argument("--debounce", type=float, default=1.0, help="seconds of quiet before changes are indexed")


def _add_question_commands(sub) -> None:
    """`ask` and `summarize`: answers and summaries, with their citations."""
    s = sub.add_parser("ask", help="ask a question; the answer streams, then its sources")
    s.add_argument("question", nargs="+")
    s.add_argument("--json", action="store_true", help="print the answer as JSON")
    s.add_argument("--top-k", type=int, help="passages given to the model")
    s.add_argument("--strictness", choices=["lenient", "balanced", "strict"], help="when to say 'not in your documents'")
    s.add_argument("--export", type=Path, metavar="FILE", help="also write the answer with its citations (.md .html .pdf .json)")
    s.add_argument("--in", dest="within", action="append", metavar="PATH",
                   help="ask within this indexed file or folder only (repeat for several)")

    s = sub.add_parser("summarize", help="a whole indexed document summarised, every bullet cited")
    s.add_argument("file", type=Path)
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.add_argument("--export", type=Path, metavar="FILE", help="also write it with its citations (.md .html .pdf .json)")
    s.add_argument("--extractive", action="store_true",
                   help="quote each section's central sentences even where a model writes answers (no model is run)")


def _add_library_commands(sub) -> None:
    """`list`, `remove` and `doctor`: what is indexed, dropping it, and the set-up checked."""
    s = sub.add_parser("list", help="what is indexed")
    s.add_argument("--json", action="store_true")
    s.add_argument("--failed", action="store_true", help="only files that failed")

    s = sub.add_parser("remove", help="drop files or folders from the library (the files stay on disk)")
    s.add_argument("paths", nargs="+")

    s = sub.add_parser("doctor", help="check the set-up and say how to fix what is wrong")
    s.add_argument("--json", action="store_true")


def _add_models_command(sub) -> None:
    """`models` and its actions: the model catalog."""
    s = sub.add_parser("models", help="the model catalog: list, download and use a capable model; prepare the bundled ones")
    models = s.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    m = models.add_parser("list", help="the recommended models, what fits this computer, what is installed and in use")
    m.add_argument("--json", action="store_true")
    m = models.add_parser("info", help="one model: size, memory, licence, languages, fit, where it is")
    m.add_argument("name")
    m.add_argument("--json", action="store_true")
    m = models.add_parser("download", help="download a model from the hub (resumes a stopped download; checksums checked)")
    m.add_argument("name")
    m.add_argument("--use", action="store_true", help="then answer with it")
    m.add_argument("--force", action="store_true", help="download again even when it is installed")
    m.add_argument("--json", action="store_true")
    m = models.add_parser("use", help="answer with this model (or embed new libraries with it)")
    m.add_argument("name")
    m = models.add_parser("remove", help="delete a downloaded model (and a partial download of it)")
    m.add_argument("name")
    m = models.add_parser("prepare", help="make and time the int8 embedder on this CPU; convert the bundled GGUF model for vLLM (once)")
    m.add_argument("--force", action="store_true", help="convert again even when it is done")
    m = models.add_parser("worker")  # internal: the download's child process (app/hub.py)
    m.add_argument("spec")


def _add_app_commands(sub) -> None:
    """`shell` and `gui`: the interactive loop and the desktop app."""
    sub.add_parser("shell", help="interactive question loop over the library")
    s = sub.add_parser("gui", help="open the desktop app (the default when a display is available)")
    s.add_argument("--smoke", action="store_true", help="open the window, report the time it took, and quit")


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides = {
        "data_dir": args.data_dir,
        "library": args.library,
        "store.chroma_url": args.chroma_url,
        "llm.engine": args.engine,
        "llm.model": args.model,
        "embedding.device": args.device,
        "embedding.precision": args.precision,
    }
    if getattr(args, "top_k", None):
        overrides["retrieval.top_k"] = args.top_k
    if getattr(args, "strictness", None):
        overrides["retrieval.strictness"] = args.strictness
    return load_settings(args.config, **overrides)


def main(argv: Sequence[str] | None = None, *, args: argparse.Namespace | None = None) -> int:
    offline_env()
    if args is None:
        args = build_parser().parse_args(argv)
    if getattr(args, "self_test", False):
        from app.cli import selftest

        return selftest.run(args)
    try:
        settings = settings_from_args(args)
    except Exception as exc:  # pydantic ValidationError, a broken TOML file
        print(f"citewise: invalid settings: {exc}", file=sys.stderr)
        return EXIT_USAGE
    route_to_log(settings.data_dir, verbose=args.verbose)

    from app.cli import commands
    from app.services import build_services

    services = build_services(settings)
    try:
        command = args.command or "shell"
        if command == "gui":
            raise commands.UserError("the desktop app is started by the `citewise` launcher (ui.launcher)")
        return getattr(commands, f"cmd_{command}")(services, args)
    except KeyboardInterrupt:
        print("\ncitewise: interrupted", file=sys.stderr)
        return 130
    except commands.UserError as exc:
        print(f"citewise: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        services.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
