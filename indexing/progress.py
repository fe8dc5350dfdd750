"""What an indexing run reports while it goes, and the options it runs with."""

from __future__ import annotations

from dataclasses import dataclass, field

from indexing.models import FileReport
from indexing.parse_pool import ParseLimits


class LibraryBusyError(RuntimeError):
    """Another indexing job holds the library."""


@dataclass
class IndexOptions:
    max_file_bytes: int = 512 * 1024 * 1024
    flush_chunks: int = 256  # chunks embedded in one length-sorted batch (of one file or several)
    lock_timeout: float = 0.0  # seconds to wait for another job to finish
    parse: ParseLimits = field(default_factory=ParseLimits)


@dataclass
class Progress:
    """A run in two stages: a file is searchable (by its words) once it is read, fully indexed
    once its vectors are written; `files_done` counts the first, `chunks_waiting` the second's
    work left (the library's, a killed run's included)."""

    phase: str  # scanning | indexing | embedding (every file read, vectors left) | done | cancelled
    files_total: int = 0
    files_done: int = 0  # searchable (or failed, unchanged, skipped): every file the run has read
    chunks_done: int = 0  # chunks of the files read
    bytes_total: int = 0
    bytes_done: int = 0
    current: str | None = None
    elapsed: float = 0.0
    work_seconds: float = 0.0
    work_bytes: int = 0
    chunks_waiting: int = 0  # chunks searchable by their words, their vectors not written yet
    chunks_embedded: int = 0  # vectors written in this run
    embed_seconds: float = 0.0
    searchable_s: float | None = None  # when every file of the run had been read
    pages_to_ocr: int = 0  # scanned pages still to be read by OCR (their files wait for it)
    files_to_ocr: int = 0
    text_searchable_s: float | None = None  # when every file but those waiting for OCR had been read
    report: FileReport | None = None
    reports: list[FileReport] = field(default_factory=list)

    @property
    def chunks_per_s(self) -> float:
        return self.chunks_embedded / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def searchable_eta_s(self) -> float | None:
        """Seconds until every file is read (searchable by its words)."""
        if self.bytes_done >= self.bytes_total:
            return 0.0
        if self.work_bytes <= 0 or self.bytes_total <= 0:
            return None
        return max(0.0, (self.bytes_total - self.bytes_done) * self.work_seconds / self.work_bytes)

    @property
    def eta_s(self) -> float | None:
        """Seconds until fully indexed: the files left to read, and the vectors of their chunks
        and of those waiting, at the rates seen so far."""
        searchable = self.searchable_eta_s
        if searchable is None:
            return None
        if self.chunks_waiting <= 0 and searchable == 0.0:
            return 0.0
        if self.chunks_embedded <= 0 or self.embed_seconds <= 0:
            return None if self.chunks_waiting else searchable
        per_byte = self.chunks_done / self.work_bytes if self.work_bytes > 0 else 0.0
        coming = per_byte * max(0, self.bytes_total - self.bytes_done)
        return max(searchable, (self.chunks_waiting + coming) * self.embed_seconds / self.chunks_embedded)

    @property
    def eta_text(self) -> str:
        """The time left in words, as the CLI and the window show it: "2 min 05 s left"."""
        return _left(self.eta_s)

    @property
    def stages_text(self) -> str:
        """Both stages in words: "searchable 12/147 files · vectors: 2,310 passages to go"."""
        text = f"searchable {self.files_done}/{self.files_total} files"
        if self.pages_to_ocr:
            text += f" · OCR: {self.pages_to_ocr:,} scanned pages to go"
        if self.chunks_waiting:
            text += f" · vectors: {self.chunks_waiting:,} passages to go"
        return text

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.reports:
            out[r.status.value] = out.get(r.status.value, 0) + 1
        return out


def _left(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    m, s = divmod(int(seconds + 0.5), 60)
    h, m = divmod(m, 60)
    if h:
        return f"{h} h {m:02d} min left"
    return f"{m} min {s:02d} s left" if m else f"{s} s left"
