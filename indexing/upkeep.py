"""Keeping a library's store, manifest and lexical index in step: recovery after a killed run,
removing files, pruning files gone from disk, and the consistency check. A mixin of Indexer
(indexing/pipeline.py), which holds `manifest`, `store` and the writer lock."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from indexing.models import FileReport, FileStatus

if TYPE_CHECKING:
    from filelock import FileLock

    from indexing.manifest import Manifest
    from indexing.store import ChunkStore

log = logging.getLogger(__name__)


class Upkeep:
    manifest: Manifest
    store: ChunkStore
    lock: FileLock  # taken with acquire() (Indexer)

    def recover(self) -> int:
        """Settle what a killed run left pending. Returns the number of chunk ids settled."""
        pending = self.manifest.pending()
        if not pending:
            return 0
        committed: dict[str, set[str]] = {}
        doomed: list[str] = []
        for chunk_id, path, op in pending:
            if op == "add":
                if path not in committed:
                    rec = self.manifest.get(path)
                    committed[path] = set(rec.chunk_ids) if rec else set()
                if chunk_id in committed[path]:
                    continue  # the same content committed earlier: keep it
            doomed.append(chunk_id)
        self.store.delete(doomed)
        self.manifest.clear_pending([c for c, _, _ in pending])
        log.info("recovered %d pending chunk ids (%d deleted)", len(pending), len(doomed))
        return len(pending)

    def prune(self, paths: Sequence[str | os.PathLike[str]], present: set[str]) -> list[FileReport]:
        gone: list[str] = []
        for raw in paths:
            root = str(Path(raw).expanduser().resolve())
            for rec in self.manifest.files(under=root):
                if rec.path not in present and not Path(rec.path).exists():
                    gone.append(rec.path)
        return self.remove_records(gone)

    def remove_records(self, paths: Iterable[str]) -> list[FileReport]:
        reports = []
        for path in paths:
            rec = self.manifest.get(path)
            if rec is None:
                continue
            with self.manifest.transaction() as db:
                self.manifest.mark_pending(rec.chunk_ids, path, "delete", db)
                self.manifest.drop(path, db)
                self.manifest.lexical.delete(rec.chunk_ids, db)
                self.manifest.waiting.delete(rec.chunk_ids, db)
            self.store.delete(rec.chunk_ids)
            self.manifest.clear_pending(rec.chunk_ids)
            reports.append(FileReport(path, FileStatus.REMOVED, kind=rec.kind, pages=rec.pages, chunks=rec.chunks))
        return reports

    def remove(self, paths: Sequence[str | os.PathLike[str]]) -> list[FileReport]:
        """Drop files (or everything under folders) from the library; the files stay on disk."""
        self.acquire()
        try:
            self.recover()
            targets: list[str] = []
            for raw in paths:
                p = Path(raw).expanduser()
                key = str(p.resolve()) if p.exists() else str(p.absolute())
                recs = self.manifest.files(under=key)
                if not recs and not p.exists():
                    # a relative path that was indexed from elsewhere: match by resolved absolute path
                    recs = self.manifest.files(under=os.path.abspath(raw))
                targets.extend(r.path for r in recs)
            return self.remove_records(targets)
        finally:
            self.lock.release()

    def check(self) -> dict[str, int]:
        """Compare the store with the manifest: orphans in the store, chunks missing from it (not
        counting those waiting for their vectors)."""
        in_store = set(self.store.all_ids())
        in_manifest = self.manifest.all_chunk_ids()
        in_lexical = self.manifest.lexical_ids()
        waiting = self.manifest.waiting_ids()
        return {
            "store_chunks": len(in_store),
            "manifest_chunks": len(in_manifest),
            "orphans": len(in_store - in_manifest),
            "missing": len(in_manifest - in_store - waiting),
            "waiting": len(waiting),
            "pending": len(self.manifest.pending()),
            "lexical_mismatch": len(in_lexical ^ in_manifest),
        }
