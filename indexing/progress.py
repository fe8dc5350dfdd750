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
    flush_chunks: int = 256  # embed chunks of several small files in one length-sorted batch
    lock_timeout: float = 0.0  # seconds to wait for another job to finish
    parse: ParseLimits = field(default_factory=ParseLimits)


@dataclass
class Progress:
    phase: str  # scanning | indexing | done | cancelled
    files_total: int = 0
    files_done: int = 0
    chunks_done: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    current: str | None = None
    elapsed: float = 0.0
    work_seconds: float = 0.0
    work_bytes: int = 0
    report: FileReport | None = None
    reports: list[FileReport] = field(default_factory=list)

    @property
    def chunks_per_s(self) -> float:
        return self.chunks_done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if self.work_bytes <= 0 or self.bytes_total <= 0:
            return None
        return max(0.0, (self.bytes_total - self.bytes_done) * self.work_seconds / self.work_bytes)

    @property
    def eta_text(self) -> str:
        """The time left in words, as the CLI and the window show it: "2 min 05 s left"."""
        seconds = self.eta_s
        if seconds is None:
            return "estimating…"
        m, s = divmod(int(seconds + 0.5), 60)
        h, m = divmod(m, 60)
        if h:
            return f"{h} h {m:02d} min left"
        return f"{m} min {s:02d} s left" if m else f"{s} s left"

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.reports:
            out[r.status.value] = out.get(r.status.value, 0) + 1
        return out
