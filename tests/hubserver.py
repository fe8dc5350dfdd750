"""A model hub on loopback, for the download tests: the parts of the Hugging Face hub's HTTP API
that huggingface_hub uses to download (HEAD and GET on `/{repo}/resolve/{revision}/{file}` with
ranges, and `/api/models/{repo}/revision/{revision}` with file metadata), serving real files.

Faults a test can switch on: `rate` (bytes per second), `drop_after` (close the connection once, after
so many bytes of a GET), `stall_after` (stop sending, keep the connection open), `corrupt` (flip a
byte of what is sent, the checksum headers stay true), `status` (answer every request with it),
`claim_size` (announce another size, for the disk check).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Faults:
    rate: float | None = None
    drop_after: int | None = None
    stall_after: int | None = None
    corrupt: bool = False
    status: int | None = None
    claim_size: int | None = None


@dataclass
class HubServer:
    repos: dict[str, dict[str, Path]]  # repo id → {file name in the repo: file on disk}
    faults: Faults = field(default_factory=Faults)
    requests: list[str] = field(default_factory=list)

    def __post_init__(self):
        self._sha: dict[Path, str] = {}
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                server._serve(self, body=False)

            def do_GET(self):
                server._serve(self, body=True)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def sha256(self, path: Path) -> str:
        if path not in self._sha:
            self._sha[path] = hashlib.sha256(path.read_bytes()).hexdigest()
        return self._sha[path]

    # -- the API ------------------------------------------------------------------------------------

    def _serve(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        rng = h.headers.get("Range")
        self.requests.append(f"{h.command} {h.path}" + (f" {rng}" if rng else ""))
        path = h.path.split("?", 1)[0]
        if self.faults.status:
            return self._send(h, self.faults.status, b'{"error": "injected"}', body, {"Content-Type": "application/json"})
        m = re.fullmatch(r"/api/models/(.+?)/revision/([^/]+)", path)
        if m:
            return self._model_info(h, m.group(1), body)
        m = re.fullmatch(r"/(.+?)/resolve/([^/]+)/(.+)", path)
        if m and m.group(1) in self.repos and m.group(3) in self.repos[m.group(1)]:
            return self._file(h, self.repos[m.group(1)][m.group(3)], body)
        headers = {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT} if m and m.group(1) in self.repos else {
            "X-Error-Code": "RepoNotFound"}
        return self._send(h, 404, b'{"error": "not found"}', body, headers)

    def _model_info(self, h, repo: str, body: bool) -> None:
        import json

        if repo not in self.repos:
            return self._send(h, 404, b'{"error": "Repository not found"}', body, {"X-Error-Code": "RepoNotFound"})
        siblings = []
        for name, p in sorted(self.repos[repo].items()):
            size = p.stat().st_size
            siblings.append({"rfilename": name, "size": size, "blobId": COMMIT[:40],
                             "lfs": {"sha256": self.sha256(p), "size": size, "pointerSize": 134}})
        doc = {"_id": "x", "id": repo, "modelId": repo, "sha": COMMIT, "private": False, "siblings": siblings,
               "tags": [], "downloads": 0, "likes": 0}
        self._send(h, 200, json.dumps(doc).encode(), body, {"Content-Type": "application/json"})

    def _file(self, h, p: Path, body: bool) -> None:
        size = p.stat().st_size
        headers = {
            "X-Repo-Commit": COMMIT,
            "ETag": f'"{self.sha256(p)}"',
            "X-Linked-Etag": f'"{self.sha256(p)}"',
            "X-Linked-Size": str(self.faults.claim_size or size),
            "Accept-Ranges": "bytes",
        }
        if not body:
            headers["Content-Length"] = str(self.faults.claim_size or size)
            h.send_response(200)
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            return
        start = 0
        rng = h.headers.get("Range")
        if rng:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            start = int(m.group(1)) if m else 0
        data = p.read_bytes()
        if self.faults.corrupt and len(data) > 1000:
            data = data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:]
        chunk = data[start:]
        if start:
            h.send_response(206)
            headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        else:
            h.send_response(200)
        headers["Content-Length"] = str(len(chunk))
        headers["Content-Type"] = "application/octet-stream"
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        sent, step = 0, 64 * 1024
        began = time.monotonic()
        try:
            while sent < len(chunk) and not self._stop.is_set():
                if self.faults.stall_after is not None and start + sent >= self.faults.stall_after:
                    self._stop.wait(3600)
                    return
                if self.faults.drop_after is not None and start + sent >= self.faults.drop_after:
                    self.faults.drop_after = None  # once: the client resumes from there
                    h.close_connection = True
                    h.connection.shutdown(2)
                    return
                piece = chunk[sent:sent + step]
                h.wfile.write(piece)
                sent += len(piece)
                if self.faults.rate:
                    ahead = sent / self.faults.rate - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)
        except (BrokenPipeError, ConnectionResetError, OSError):
            return

    def _send(self, h, status: int, payload: bytes, body: bool, headers: dict | None = None) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        if body:
            h.wfile.write(payload)
