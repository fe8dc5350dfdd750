"""Downloading a catalog model from the model hub: the one outbound connection Citewise makes,
and only when the user asks for it.

The download runs in a child process (`python -m app.models.downloads SPEC`), the only process in which the
Hugging Face hub is online: Citewise itself stays offline (HF_HUB_OFFLINE=1) the whole time, and
cancelling is stopping the child. The child uses huggingface_hub for every request (the hub's
file API, redirects, retries, the user's token for gated repositories, `HF_ENDPOINT` mirrors):

- it lists the files (one GGUF, or a folder's files by pattern through the model-info API) and
  asks each one's size and checksum (HEAD on `resolve/`: the SHA-256 of a large file, the git
  blob id of a small one);
- it refuses to start when the disk lacks the room, before a byte is fetched;
- it appends to `<file>.part` in a staging folder, resuming where the last attempt stopped (a
  kill, a dropped connection, a cancel): huggingface_hub's own downloader keeps no partial file
  between processes, so the staging folder is ours and `http_get(resume_size=…)` does the rest;
- it checks each finished file against the hub's checksum (a mismatch deletes the file and says
  so), then moves the staging folder into `<data dir>/models/<id>/` in one rename, with a marker
  written last: a model folder is whole or absent.

DownloadProgress goes to the parent as JSON lines on stdout; `Download` turns them into bytes, speed
and time left.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from app.models.catalog import MARKER, Entry, folder, models_root

DEFAULT_ENDPOINT = "https://huggingface.co"
DISK_MARGIN = 64 * 2**20  # left free beyond the download itself
STATE = ".state.json"  # in the staging folder: the checksum each partial file was fetched for


class DownloadError(RuntimeError):
    """A download that failed, with a message naming the model, the file and the reason."""


@dataclass
class DownloadProgress:
    done: int  # bytes on disk (resumed bytes included)
    total: int
    speed: float  # bytes per second over the last seconds
    eta_s: float | None
    file: str = ""
    stage: str = "downloading"  # listing | downloading | verifying | done

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def describe(self) -> str:
        if self.stage == "listing":
            return "Asking the hub for the files…"
        if self.stage == "verifying":
            return f"Checking {self.file}…"
        if self.stage == "done":
            return f"Downloaded {human_bytes(self.total)}"
        text = f"{human_bytes(self.done)} of {human_bytes(self.total)}"
        if self.speed > 0:
            text += f" · {human_bytes(self.speed)}/s"
        if self.eta_s is not None:
            text += f" · {human_time(self.eta_s)} left"
        return text


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def human_time(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {(seconds % 3600) // 60:02d} min"


def staging_dir(entry: Entry, data_dir: Path) -> Path:
    return models_root(data_dir) / ".downloads" / entry.id


def partial_bytes(entry: Entry, data_dir: Path) -> int:
    """Bytes a stopped download left to resume from."""
    d = staging_dir(entry, data_dir)
    return sum(p.stat().st_size for p in d.rglob("*") if p.is_file() and p.name != STATE) if d.is_dir() else 0


def endpoint_of(settings) -> str:
    """The hub to download from: models.endpoint, else HF_ENDPOINT, else huggingface.co."""
    configured = getattr(getattr(settings, "models", None), "endpoint", None)
    return (configured or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


# -- the parent side -------------------------------------------------------------------------------


def _worker_command(spec: Path) -> list[str]:
    if getattr(sys, "frozen", False):  # the PyInstaller launcher is the CLI
        return [sys.executable, "models", "worker", str(spec)]
    return [sys.executable, "-m", "app.models.downloads", str(spec)]


class Download:
    """One model's download in a child process. Iterate `events()` for DownloadProgress; `cancel()` from
    any thread stops it (what was fetched stays for the next attempt to resume)."""

    def __init__(self, entry: Entry, data_dir: Path, *, endpoint: str = DEFAULT_ENDPOINT, timeout_s: float = 30.0):
        if entry.bundled:
            raise DownloadError(f"{entry.id} ships with Citewise: there is nothing to download")
        self.entry = entry
        self.data_dir = Path(data_dir)
        self.endpoint = endpoint.rstrip("/")
        self.timeout_s = timeout_s
        self.cancelled = False
        self._proc: subprocess.Popen | None = None
        self._stderr = None
        self._lock = threading.Lock()

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).netloc or self.endpoint

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "HF_HUB_OFFLINE": "0",
            "HF_ENDPOINT": self.endpoint,
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DOWNLOAD_TIMEOUT": str(max(1, round(self.timeout_s))),  # whole seconds: the hub reads ints
            "HF_HUB_ETAG_TIMEOUT": str(max(1, round(self.timeout_s))),
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def events(self) -> Iterator[DownloadProgress]:
        spec = {
            "entry": asdict(self.entry), "endpoint": self.endpoint,
            "staging": str(staging_dir(self.entry, self.data_dir)), "target": str(folder(self.entry, self.data_dir)),
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump(spec, fh)
            spec_path = Path(fh.name)
        try:
            with self._lock:
                if self.cancelled:
                    return
                # stderr to a file: a pipe nobody reads while the download runs could fill and stall it
                self._stderr = tempfile.TemporaryFile("w+")
                self._proc = subprocess.Popen(
                    _worker_command(spec_path), env=self._env(), stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=self._stderr, text=True, start_new_session=True,
                )
            yield from self._read(self._proc)
        finally:
            spec_path.unlink(missing_ok=True)
            self._stop()
            if self._stderr is not None:
                self._stderr.close()

    def _read(self, proc: subprocess.Popen) -> Iterator[DownloadProgress]:
        window: deque[tuple[float, int]] = deque()
        total, error = 0, None
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            kind = msg.get("event")
            if kind == "listing":
                yield DownloadProgress(0, 0, 0.0, None, stage="listing")
            elif kind == "plan":
                total = msg["total"]
                window.append((time.monotonic(), msg["have"]))
                yield DownloadProgress(msg["have"], total, 0.0, None)
            elif kind in ("progress", "verifying"):
                now, done = time.monotonic(), msg["done"]
                window.append((now, done))
                while len(window) > 2 and now - window[0][0] > 5:
                    window.popleft()
                (t0, d0) = window[0]
                speed = (done - d0) / (now - t0) if now > t0 else 0.0
                eta = (total - done) / speed if speed > 0 else None
                yield DownloadProgress(done, total, speed, eta, msg.get("file", ""),
                               "verifying" if kind == "verifying" else "downloading")
            elif kind == "done":
                yield DownloadProgress(total, total, 0.0, 0.0, stage="done")
            elif kind == "error":
                error = msg["message"]
        rc = proc.wait()
        if self.cancelled:
            raise DownloadCancelled(f"download of {self.entry.id} cancelled; what was fetched is kept to resume")
        if error or rc != 0:
            detail = error or self._stderr_tail() or f"exit status {rc}"
            raise DownloadError(f"{self.entry.id}: {detail}")

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()[-800:].strip()

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
        self._stop()

    def _stop(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class DownloadCancelled(DownloadError):
    pass


def remove(entry: Entry, data_dir: Path) -> list[Path]:
    """Deletes a downloaded model and any partial download of it; returns what was removed."""
    if entry.bundled:
        raise DownloadError(f"{entry.id} ships with Citewise and cannot be removed")
    removed = []
    for d in (folder(entry, data_dir), staging_dir(entry, data_dir)):
        if d.exists():
            # a rename first, so a crash half-way never leaves a folder that still looks complete
            trash = d.with_name(f".{d.name}.removing")
            if d.name.startswith("."):
                trash = d.with_name(f"{d.name}.removing")
            shutil.rmtree(trash, ignore_errors=True)
            os.replace(d, trash)
            shutil.rmtree(trash, ignore_errors=True)
            removed.append(d)
    return removed


# -- the child side ---------------------------------------------------------------------------------


def _emit(**msg) -> None:
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def _matches(name: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """A pattern without a folder matches top-level files only (`*.json` is not `onnx/x.json`)."""
    for pat in patterns:
        if "/" in pat:
            if fnmatch.fnmatch(name, pat):
                return True
        elif "/" not in name and fnmatch.fnmatch(name, pat):
            return True
    return False


def _git_blob_sha1(path: Path) -> str:
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _explain(exc: BaseException, what: str, host: str) -> str:
    """An exception of huggingface_hub or httpx, as one sentence a user can act on."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    name = type(exc).__name__
    if isinstance(exc, GatedRepoError):
        return f"{what} is gated on {host}: accept its licence on the model page and log in (`hf auth login`), then try again"
    if isinstance(exc, (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError)) or status == 404:
        return f"{what} was not found on {host} (HTTP 404): the catalog entry is out of date, or the mirror does not hold it"
    if isinstance(exc, HfHubHTTPError) and status:
        return f"{host} answered HTTP {status} for {what}: the server failed; try again later"
    if "Timeout" in name or "timed out" in str(exc).lower():
        return f"{host} stopped sending {what} (nothing received for the time limit, after retries); try again: the download resumes"
    if "Connect" in name or isinstance(exc, ConnectionError):
        return f"cannot reach {host} for {what}: {exc}"
    if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
        return f"the disk filled up while downloading {what}; free some space and try again: the download resumes"
    return f"{what}: {name}: {exc}"


def _worker(spec: dict) -> None:
    """The child process's download: list the files, check the disk, fetch each (resuming a
    partial one) and verify it, then move the whole folder into place. Events go to stdout."""
    from huggingface_hub import constants

    constants.DOWNLOAD_CHUNK_SIZE = 1 << 20  # progress every MB (the hub's default: every 10 MB)
    entry, endpoint = spec["entry"], spec["endpoint"]
    host = urlsplit(endpoint).netloc or endpoint
    staging, target = Path(spec["staging"]), Path(spec["target"])
    _emit(event="listing")
    files = _list_files(entry, endpoint, host)
    have = _prepare_staging(staging, files)
    total = sum(f["size"] for f in files)
    free = shutil.disk_usage(staging).free
    if total - have + DISK_MARGIN > free:
        raise DownloadError(
            f"not enough disk space for {entry['id']}: it needs {human_bytes(total - have)} more "
            f"and {staging.parent.parent} has {human_bytes(free)} free; free some space or move the data dir"
        )
    _emit(event="plan", total=total, have=have, files=[{"name": f["name"], "size": f["size"]} for f in files])
    _fetch(entry["repo"], host, staging, files, have)
    _install(entry, endpoint, staging, target, files)
    _emit(event="done", path=str(target))


def _list_files(entry: dict, endpoint: str, host: str) -> list[dict]:
    """The entry's files on the hub: name, size, checksum (etag), URL and commit of each."""
    from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_url

    repo, revision, patterns = entry["repo"], entry.get("revision") or "main", entry["files"]
    what = f"{repo}"
    try:
        if len(patterns) == 1 and not any(c in patterns[0] for c in "*?["):
            names = [patterns[0]]
        else:
            info = HfApi(endpoint=endpoint).model_info(repo, revision=revision, files_metadata=True)
            names = sorted(s.rfilename for s in info.siblings or [] if _matches(s.rfilename, patterns))
            if not names:
                raise DownloadError(f"{repo} on {host} holds no files matching {', '.join(patterns)}")
        files = []
        for name in names:
            what = f"{repo}/{name}"
            meta = get_hf_file_metadata(hf_hub_url(repo, name, revision=revision, endpoint=endpoint))
            if meta.size is None or not meta.etag:
                raise DownloadError(f"{host} gave no size or checksum for {what}: it does not look like a model hub")
            files.append({"name": name, "size": meta.size, "etag": meta.etag, "url": meta.location, "commit": meta.commit_hash})
        return files
    except DownloadError:
        raise
    except Exception as exc:
        raise DownloadError(_explain(exc, what, host)) from None


def _prepare_staging(staging: Path, files: list[dict]) -> int:
    """The staging folder, with what an earlier attempt fetched of files unchanged on the hub
    since (a changed one starts again); returns the bytes already there."""
    staging.mkdir(parents=True, exist_ok=True)
    state_path = staging / STATE
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {}
    have = 0
    for f in files:
        part, done = staging / (f["name"] + ".part"), staging / f["name"]
        if state.get(f["name"]) != f["etag"]:
            part.unlink(missing_ok=True)
            done.unlink(missing_ok=True)
        have += f["size"] if done.is_file() else (part.stat().st_size if part.is_file() else 0)
    state_path.write_text(json.dumps({f["name"]: f["etag"] for f in files}), encoding="utf-8")
    return have


def _fetch(repo: str, host: str, staging: Path, files: list[dict], have: int) -> None:
    """Fetch each file not fetched yet, appending to its partial file, then check its checksum."""
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers
    from huggingface_hub.utils import tqdm as hf_tqdm

    progress = {"done": have, "last": 0.0, "name": ""}

    class Reporter(hf_tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            progress["done"] += n
            now = time.monotonic()
            if now - progress["last"] >= 0.2:
                progress["last"] = now
                _emit(event="progress", done=progress["done"], file=progress["name"])
            return super().update(n)

    headers = build_hf_headers()
    for f in files:
        name = progress["name"] = f["name"]
        done_path, part = staging / name, staging / (name + ".part")
        if done_path.is_file():
            continue
        part.parent.mkdir(parents=True, exist_ok=True)
        resume = part.stat().st_size if part.is_file() else 0
        if resume > f["size"]:
            part.unlink()
            progress["done"] -= resume
            resume = 0
        if resume < f["size"]:
            try:
                with open(part, "ab") as fh:
                    http_get(f["url"], fh, resume_size=resume, headers=headers, expected_size=f["size"],
                             displayed_filename=name, tqdm_class=Reporter)
            except Exception as exc:
                raise DownloadError(_explain(exc, f"{repo}/{name}", host)) from None
        _emit(event="verifying", done=progress["done"], file=name)
        _verify(part, f["etag"].lower(), f"{repo}/{name}", host)
        os.replace(part, done_path)


def _verify(part: Path, etag: str, what: str, host: str) -> None:
    """The hub's checksum: SHA-256 for large files, the git blob id for small ones."""
    got, kind = (_sha256(part), "SHA-256") if len(etag) == 64 else (_git_blob_sha1(part), "git SHA-1")
    if got != etag:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"{what} from {host} failed its checksum ({kind} {got[:12]}…, the hub says {etag[:12]}…): "
            "the corrupted file was deleted; try again"
        )


def _install(entry: dict, endpoint: str, staging: Path, target: Path, files: list[dict]) -> None:
    """The whole folder renamed into place with its install record (a kill leaves all or none)."""
    record = {
        "id": entry["id"], "repo": entry["repo"], "revision": entry.get("revision") or "main",
        "commit": files[0]["commit"], "endpoint": endpoint,
        "files": [{"name": f["name"], "size": f["size"], "checksum": f["etag"]} for f in files],
        "downloaded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (staging / STATE).unlink(missing_ok=True)
    (staging / MARKER).write_text(json.dumps(record, indent=1), encoding="utf-8")
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        shutil.rmtree(old, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, target)


def worker_main(spec_path: str) -> int:
    from filelock import FileLock, Timeout

    try:
        spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
        staging = Path(spec["staging"])
        staging.parent.mkdir(parents=True, exist_ok=True)
        try:  # two downloads appending to one partial file would corrupt it
            with FileLock(str(staging) + ".lock", timeout=0):
                _worker(spec)
        except Timeout:
            raise DownloadError(f"{spec['entry']['id']} is being downloaded already (another window or terminal)") from None
        return 0
    except DownloadError as exc:
        _emit(event="error", message=str(exc))
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(worker_main(sys.argv[1]))
