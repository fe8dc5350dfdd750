"""`citewise models list | info | download | use | remove`: the catalog from a terminal."""

from __future__ import annotations

import json
from pathlib import Path

from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from app.models import catalog
from app.models import downloads
from app.cli.console import UserError, err, out


def _entry(name: str) -> catalog.Entry:
    try:
        return catalog.get(name)
    except catalog.UnknownModel as exc:
        raise UserError(str(exc)) from None


def rows(settings, hw: catalog.Hardware) -> list[dict]:
    """The catalog as this computer sees it: fit, installed, in use, recommended."""
    recommended = {e.id for e in (catalog.recommended(engine, hw) for engine in ("llamacpp", "vllm")) if e}
    result = []
    for e in catalog.entries():
        f = catalog.fit(e, hw)
        result.append({
            "id": e.id, "kind": e.kind, "engine": e.engine, "repo": e.repo, "quant": e.quant, "params_b": e.params_b,
            "size_mb": e.size_mb, "ram_gb": e.ram_gb, "vram_gb": e.vram_gb, "context": e.context, "licence": e.licence,
            "languages": list(e.languages), "good_for": e.good_for, "fits": f.fits, "fit": f.why,
            "installed": catalog.installed(e, settings.data_dir), "in_use": catalog.in_use(e, settings),
            "recommended": e.id in recommended, "bundled": e.bundled,
            "partial_mb": round(downloads.partial_bytes(e, settings.data_dir) / 2**20, 1),
        })
    return result


def cmd_list(services, args) -> int:
    settings = services.settings
    hw = catalog.hardware(settings)
    listed = rows(settings, hw)
    if args.json:
        print(json.dumps({"hardware": hw.describe(), "models": listed}, indent=2))
        return 0
    out.print(f"This computer: {escape(hw.describe())}")
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("model", no_wrap=True)
    for col in ("engine", "size", "needs", "licence", "here"):
        table.add_column(col)
    for r in listed:
        e = catalog.get(r["id"])
        here = []
        if r["in_use"]:
            here.append("[bold green]in use[/bold green]")
        elif r["installed"]:
            here.append("[green]installed[/green]")
        elif r["partial_mb"]:
            here.append(f"[yellow]{r['partial_mb']:.0f} MB fetched[/yellow]")
        if r["recommended"]:
            here.append("[bold]recommended[/bold]")
        if not r["fits"]:
            here.append("[dim]does not fit[/dim]")
        licence = r["licence"].replace(" Community Licence", "").replace(" Licence", "").replace("(non-commercial)", "non-commercial")
        table.add_row(escape(r["id"]), r["engine"], e.size_text, e.needs_text, escape(licence), " ".join(here))
    if out.is_terminal:
        out.print(table)
    else:  # a pipe or a file: one model per line, not wrapped at 80 columns
        from rich.console import Console

        Console(width=130, highlight=False, color_system=None).print(table)
    out.print("[dim]`citewise models info NAME` says more; `citewise models download NAME --use` fetches one and answers with it.[/dim]")
    return 0


def cmd_info(services, args) -> int:
    e = _entry(args.name)
    settings = services.settings
    hw = catalog.hardware(settings)
    f = catalog.fit(e, hw)
    record = catalog.install_record(e, settings.data_dir)
    info = {
        "id": e.id, "kind": e.kind, "engine": e.engine, "repository": e.repo, "files": list(e.files),
        "quantisation": e.quant, "parameters": f"{e.params_b:g} B", "download": f"~{e.size_mb} MB",
        "memory": f"{e.ram_gb:g} GB" + (f", GPU {e.vram_gb:g} GB" if e.vram_gb else ""),
        "context": e.context, "licence": e.licence, "languages": ", ".join(e.languages), "good for": e.good_for,
        "fits this computer": ("yes: " if f.fits else "no: ") + f.why,
        "installed": "bundled" if e.bundled else (str(catalog.folder(e, settings.data_dir)) if record else "no"),
        "in use": catalog.in_use(e, settings),
    }
    if record:
        info["downloaded"] = f"{record.get('downloaded')} from {record.get('endpoint')} (commit {str(record.get('commit'))[:12]})"
    partial = downloads.partial_bytes(e, settings.data_dir)
    if partial and not record:
        info["partial download"] = f"{downloads.human_bytes(partial)}: `citewise models download {e.id}` resumes it"
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        out.print(f"[bold]{key}[/bold]: {escape(str(value))}")
    return 0


def cmd_download(services, args) -> int:
    e = _entry(args.name)
    settings = services.settings
    if e.bundled:
        out.print(f"{e.id} ships with Citewise: nothing to download")
        return cmd_use(services, args) if args.use else 0
    if catalog.installed(e, settings.data_dir) and not args.force:
        out.print(f"{e.id} is already downloaded: {escape(str(catalog.folder(e, settings.data_dir)))}")
        return cmd_use(services, args) if args.use else 0
    f = catalog.fit(e, catalog.hardware(settings))
    if not f.fits:
        err.print(f"[yellow]note:[/yellow] {e.id} does not fit this computer: {escape(f.why)}")
    endpoint = downloads.endpoint_of(settings)
    d = downloads.Download(e, settings.data_dir, endpoint=endpoint, timeout_s=settings.models.timeout_s)
    resumed = downloads.partial_bytes(e, settings.data_dir)
    err.print(f"Downloading {e.id} ({escape(e.repo)}) from {escape(d.host)}" + (f", resuming after {downloads.human_bytes(resumed)}" if resumed else ""))
    live = err.is_terminal and not args.json
    last = None
    try:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                      TimeRemainingColumn(), console=err, transient=True, disable=not live) as bar:
            task = bar.add_task(e.id, total=None)
            for p in d.events():
                last = p
                if p.total:
                    bar.update(task, completed=p.done, total=p.total, description=f"{e.id} {p.file}" if p.stage == "verifying" else e.id)
                if not live and p.stage in ("done",):
                    err.print(escape(p.describe()))
    except KeyboardInterrupt:
        d.cancel()
        raise UserError(f"download of {e.id} stopped; `citewise models download {e.id}` resumes it") from None
    except downloads.DownloadError as exc:
        raise UserError(f"download failed: {exc}") from None
    folder = catalog.folder(e, settings.data_dir)
    if args.json:
        print(json.dumps({"id": e.id, "path": str(folder), "bytes": last.total if last else None}))
    else:
        out.print(f"Downloaded {e.id} ({downloads.human_bytes(last.total if last else 0)}) to {escape(str(folder))}")
    if args.use:
        return cmd_use(services, args)
    if not args.json:
        out.print(f"[dim]Answer with it: citewise models use {e.id}[/dim]")
    return 0


def cmd_use(services, args) -> int:
    from app.settings import default_config_file, update_settings_file

    e = _entry(args.name)
    settings = services.settings
    if not catalog.installed(e, settings.data_dir):
        raise UserError(f"{e.id} is not downloaded: `citewise models download {e.id} --use` fetches it and uses it")
    changes = catalog.use_changes(e, settings.data_dir)
    config: Path = args.config or default_config_file()
    update_settings_file(config, changes)
    if e.kind == "embedding":
        out.print(f"New libraries embed with {e.id} (written to {escape(str(config))}); a library indexed before keeps "
                  "searching with the model it was made with (index into a new library to use this one).")
    else:
        mode = settings.retrieval.answer_mode
        how = "quotes your passages (the bundled model cannot write)" if e.bundled and mode == "auto" else "writes the answers, every sentence checked against its citations"
        out.print(f"Answers now come from {e.id} with {'vLLM' if e.engine == 'vllm' else 'llama.cpp'}: it {how}. "
                  f"(settings: {escape(str(config))})")
    return 0


def cmd_remove(services, args) -> int:
    e = _entry(args.name)
    settings = services.settings
    if catalog.in_use(e, settings):
        raise UserError(f"{e.id} is in use: `citewise models use smollm2-135m` (the bundled model) or another model first")
    using = services.libraries.using(e)
    if using:
        raise UserError(f"{e.id} made the vectors of " + ", ".join(f"library '{n}'" for n in using)
                        + ", which search with it: delete " + ("that library" if len(using) == 1 else "those libraries")
                        + " first (the desktop app's Library menu), or keep the model")
    try:
        removed = downloads.remove(e, settings.data_dir)
    except downloads.DownloadError as exc:
        raise UserError(str(exc)) from None
    if not removed:
        out.print(f"{e.id} is not downloaded: nothing to remove")
    else:
        out.print(f"Removed {e.id}: " + ", ".join(escape(str(p)) for p in removed))
    return 0
