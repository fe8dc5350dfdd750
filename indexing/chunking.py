"""Units → chunks that fit the embedder, cut where a reader would cut, with exact spans.

Why not llama-index's SentenceSplitter: it re-tokenizes every candidate split (2.2 s for
400 KB of COVID-QA text here, as long as embedding it) and finds a chunk's span by searching
for its text afterwards. This chunker tokenizes each unit once with the embedder's own fast
tokenizer, takes the character offsets the tokenizer reports, and packs tokens greedily up to
the model's window, cutting at the strongest boundary in the second half of the window:
heading > paragraph > sentence > clause > word.

Tables (Unit.tables: rows one per line) are chunked on their own, by rows and without
overlap; every chunk of a table after its first carries the table's heading rows as `context`,
read with the text by the embedder and the lexical index but never quoted, so a row's figures
always meet their column headings ("Three Months Ended October 29, 2023"). A chunk under a
heading carries its heading path the same way. The window is shared: context tokens are taken
from the chunk's budget. A chunk's text is exactly
`unit.text[start:end]` and re-tokenizes to the number of tokens counted, so every word of
every chunk reaches the embedder (all-MiniLM-L6-v2 silently drops word-pieces past 256).
"""

from __future__ import annotations

import bisect
import hashlib
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from indexing.models import Chunk, ParsedDocument, Unit

_SENTENCE_END = set(".!?。！？…")
_CLAUSE_END = set(",;:、，；：)")
_NONE, _WORD, _CLAUSE, _SENTENCE, _PARAGRAPH, _HEADING = range(6)
HEADING_CONTEXT_TOKENS = 24  # at most this much of a heading path is read with each chunk
TABLE_CONTEXT_TOKENS = 64  # and at most this much of a table's heading rows


# characters tokenized in one call: a 20 MB line without spaces (base64, minified data) tokenized
# at once needs gigabytes, and the tokenizer aborts the whole process when an allocation fails
WINDOW_CHARS = 100_000


def _windows(text: str, size: int) -> list[tuple[int, int]]:
    """`text` cut into spans of at most `size` characters, each ending at a paragraph, a line or
    a space in its last fifth where there is one (chunks never straddle a cut)."""
    out, a = [], 0
    while len(text) - a > size:
        b = a + size
        floor = b - size // 5
        cut = max(text.rfind("\n\n", floor, b), text.rfind("\n", floor, b), text.rfind(" ", floor, b))
        b = cut + 1 if cut > a else b
        out.append((a, b))
        a = b
    out.append((a, len(text)))
    return out


# more characters than any chunk of `max_tokens` holds (a word-piece is rarely over 6 characters)
_CHARS_PER_CHUNK = 2_000


def _cut(doc: ParsedDocument, chunks: list[Chunk], max_chunks: int) -> bool:
    """Whether the limit stopped the chunking before the document's end."""
    if not max_chunks or len(chunks) < max_chunks:
        return False
    if len(chunks) > max_chunks:
        return True
    last = chunks[max_chunks - 1]
    rest = [u for u in doc.units if u.number > last.unit]
    unit = next((u for u in doc.units if u.number == last.unit), None)
    tail = unit.text[last.end:] if unit is not None else ""
    return any(ch.isalnum() for ch in tail) or any(any(ch.isalnum() for ch in u.text) for u in rest)


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF  # kana
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF  # hangul
        or 0xF900 <= code <= 0xFAFF
    )


@dataclass(frozen=True)
class ChunkingConfig:
    max_tokens: int = 254  # the embedder's window less [CLS] and [SEP]
    overlap_tokens: int = 32
    min_section_tokens: int = 48  # a heading only ends a chunk holding at least this much

    @property
    def fingerprint(self) -> str:
        return f"v2-{self.max_tokens}-{self.overlap_tokens}-{self.min_section_tokens}"


def _chunk_end(strength: list[int], s: int, cfg: ChunkingConfig) -> int:
    """Where the chunk starting at token `s` ends (exclusive): at a heading past its first
    `min_section_tokens`, else at the strongest boundary in the second half of its window."""
    n = len(strength)
    limit = s + cfg.max_tokens
    first = s + max(1, cfg.min_section_tokens)  # a chunk holds one token at least, whatever the setting
    if limit >= n:
        # a heading inside the tail still starts its own chunk when both parts are real
        for i in range(first, n):
            if strength[i] == _HEADING and n - i >= cfg.min_section_tokens // 2:
                return i
        return n
    heading = next((i for i in range(first, limit + 1) if strength[i] == _HEADING), 0)
    if heading:
        return heading
    floor = s + cfg.max_tokens // 2
    best, e = -1, 0
    for i in range(limit, floor - 1, -1):
        if strength[i] > best:
            best, e = strength[i], i
            if best >= _PARAGRAPH:
                break
    return limit if best <= _NONE else e


def _next_start(strength: list[int], s: int, e: int, cfg: ChunkingConfig) -> int:
    """Where the chunk after the one spanning tokens `s` to `e` starts: at `e`, or a little
    earlier to overlap it when `e` is not a paragraph's start."""
    if strength[e] >= _PARAGRAPH or not cfg.overlap_tokens:
        return e
    # restart a little earlier, at the start of a sentence if one is near
    lo = max(s + 1, e - cfg.overlap_tokens)
    candidates = [i for i in range(lo, e) if strength[i] >= _SENTENCE]
    if candidates:
        return candidates[0]
    words = [i for i in range(lo, e) if strength[i] >= _WORD]
    return words[0] if words else e


class Chunker:
    """Splits documents into `Chunk`s using a Hugging Face fast tokenizer (`tokenizer.json`)."""

    def __init__(self, tokenizer: Tokenizer, config: ChunkingConfig | None = None):
        self.tokenizer = tokenizer
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.config = config or ChunkingConfig()

    @classmethod
    def from_model_dir(cls, model_dir: str | Path, config: ChunkingConfig | None = None) -> "Chunker":
        path = Path(model_dir) / "tokenizer.json"
        if not path.is_file():
            raise FileNotFoundError(f"the embedding model at {model_dir} has no tokenizer.json")
        return cls(Tokenizer.from_file(str(path)), config)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    # -- spans -------------------------------------------------------------------------------

    def _boundaries(
        self, text: str, offsets: list[tuple[int, int]], heading_starts: set[int], rows: bool = False
    ) -> list[int]:
        """Strength of cutting before token i (i in 0..n-1). With `rows` (a table), a line break
        is as strong as a paragraph's: a row is never cut while another cut is possible."""
        headings = sorted(heading_starts)
        strength = [_NONE] * len(offsets)
        prev_end = 0
        for i, (start, _end) in enumerate(offsets):
            if i == 0:
                strength[i] = _HEADING
                prev_end = offsets[0][1]
                continue
            gap = text[prev_end:start]
            last = text[prev_end - 1] if prev_end > 0 else ""
            k = bisect.bisect_left(headings, prev_end)
            if k < len(headings) and headings[k] <= start:
                strength[i] = _HEADING
            elif "\n\n" in gap or (rows and "\n" in gap):
                strength[i] = _PARAGRAPH
            elif last in _SENTENCE_END and (gap or _is_cjk(text[start])):
                strength[i] = _SENTENCE
            elif "\n" in gap:
                strength[i] = _CLAUSE
            elif last in _CLAUSE_END and gap:
                strength[i] = _CLAUSE
            elif gap or (start < len(text) and _is_cjk(text[start])) or (last and _is_cjk(last)):
                strength[i] = _WORD
            prev_end = max(prev_end, offsets[i][1])
        return strength

    def fit(self, text: str, tokens: int, *, tail: bool = False) -> str:
        """`text` cut to at most `tokens` tokens (its end with `tail`), at a token boundary."""
        if not text or tokens <= 0:
            return ""
        offsets = self.tokenizer.encode(text, add_special_tokens=False).offsets
        if len(offsets) <= tokens:
            return text
        if tail:
            return text[offsets[len(offsets) - tokens][0] :]
        return text[: offsets[tokens - 1][1]]

    def spans(
        self, text: str, heading_starts: set[int] | None = None, *, max_tokens: int | None = None,
        overlap: int | None = None, rows: bool = False,
    ) -> list[tuple[int, int, int]]:
        """`(start, end, tokens)` character spans of `text`, each at most `max_tokens` tokens."""
        if len(text) > WINDOW_CHARS:  # tokenized a window at a time (see _windows)
            return self._windowed_spans(text, heading_starts or set(), max_tokens, overlap, rows)
        if not text.strip():
            return []
        enc = self.tokenizer.encode(text, add_special_tokens=False)
        offsets = [o for o in enc.offsets]
        n = len(offsets)
        if n == 0:
            return []
        cfg = self._config_for(max_tokens, overlap)
        strength = self._boundaries(text, offsets, heading_starts or set(), rows)
        spans: list[tuple[int, int, int]] = []
        s = 0
        while s < n:
            e = _chunk_end(strength, s, cfg)
            spans.append((offsets[s][0], offsets[e - 1][1], e - s))
            if e >= n:
                break
            s = _next_start(strength, s, e, cfg)
        return spans

    def _windowed_spans(
        self, text: str, heads: set[int], max_tokens: int | None, overlap: int | None, rows: bool
    ) -> list[tuple[int, int, int]]:
        """`spans` of a text too long to tokenize at once, a window of it at a time."""
        out: list[tuple[int, int, int]] = []
        for a, b in _windows(text, WINDOW_CHARS):
            local = {h - a for h in heads if a <= h < b}
            out += [(a + s, a + e, t) for s, e, t in self.spans(text[a:b], local, max_tokens=max_tokens,
                                                                overlap=overlap, rows=rows)]
        return out

    def _config_for(self, max_tokens: int | None, overlap: int | None) -> ChunkingConfig:
        """The chunker's config with a call's own window and overlap, where it gives them."""
        cfg = self.config
        if max_tokens is None and overlap is None:
            return cfg
        return ChunkingConfig(
            max_tokens=max(16, max_tokens if max_tokens is not None else cfg.max_tokens),
            overlap_tokens=cfg.overlap_tokens if overlap is None else overlap,
            min_section_tokens=cfg.min_section_tokens,
        )

    # -- documents ---------------------------------------------------------------------------

    def chunk_unit(self, unit: Unit) -> list[tuple[int, int, int, tuple[str, ...], str]]:
        """`(start, end, tokens, heading path, context)` of each chunk of `unit`, in order."""
        starts = [h for h, _ in unit.headings]
        paths = [p for _, p in unit.headings]
        contexts = {p: self.fit(" › ".join(p[-2:]), HEADING_CONTEXT_TOKENS, tail=True) for p in paths if p}
        reserve = max((self.count_tokens(c) for c in contexts.values()), default=0)
        budget = self.config.max_tokens - reserve

        def heading_at(pos: int) -> tuple[str, ...]:
            k = bisect.bisect_right(starts, pos) - 1
            return paths[k] if k >= 0 else ()

        out = []
        text = unit.text

        def prose(a: int, b: int) -> None:
            local = {h - a for h in starts if a <= h < b}
            for s, e, tokens in self.spans(text[a:b], local, max_tokens=budget):
                path = heading_at(a + s)
                out.append((a + s, a + e, tokens, path, contexts.get(path, "")))

        pos = 0
        for t_start, t_head, t_end in sorted(unit.tables):
            if t_start < pos or t_end <= t_start:
                continue  # overlapping or empty spans: chunked as prose
            if pos < t_start:
                prose(pos, t_start)
            path = heading_at(t_start)
            head_ctx = self.fit(text[t_start:t_head].strip(), TABLE_CONTEXT_TOKENS, tail=True)
            ctx = "\n".join(c for c in (contexts.get(path, ""), head_ctx) if c)
            room = self.config.max_tokens - self.count_tokens(ctx) if ctx else budget
            for s, e, tokens in self.spans(text[t_start:t_end], max_tokens=room, overlap=0, rows=True):
                inside_head = t_start + s < t_head
                out.append((t_start + s, t_start + e, tokens, path, contexts.get(path, "") if inside_head else ctx))
            pos = t_end
        if pos < len(text):
            prose(pos, len(text))
        return out

    def chunk_document(self, doc: ParsedDocument, *, path: str, content_hash: str, max_chunks: int = 0) -> list[Chunk]:
        """The document's chunks, in order. With `max_chunks`, at most that many: the rest of the
        text is not even tokenized, and `doc.warnings` says how much was left out."""
        key = hashlib.blake2b(
            f"{path}\0{content_hash}\0{self.config.fingerprint}".encode(), digest_size=10
        ).hexdigest()
        chunks: list[Chunk] = []
        for unit in doc.units:
            if max_chunks and len(chunks) >= max_chunks:
                break
            for start, end, tokens, heading, context in self._bounded(unit, max_chunks - len(chunks) if max_chunks else 0):
                text = unit.text[start:end]
                if not any(ch.isalnum() for ch in text):
                    continue
                chunks.append(
                    Chunk(
                        id=f"{key}-{len(chunks)}",
                        text=text,
                        path=path,
                        content_hash=content_hash,
                        unit=unit.number,
                        unit_kind=unit.kind,
                        unit_label=unit.label,
                        start=start,
                        end=end,
                        index=len(chunks),
                        heading=heading,
                        tokens=tokens,
                        context=context,
                    )
                )
        if _cut(doc, chunks, max_chunks):
            del chunks[max_chunks:]
            covered = sum(len(u.text) for u in doc.units if u.number < chunks[-1].unit) + chunks[-1].end
            share = 100 * covered / max(1, sum(len(u.text) for u in doc.units))
            about = f"about {share:.0f} %" if share >= 1 else "under 1 %"
            doc.warnings.append(f"indexed its first {max_chunks:,} passages, {about} of its text: the rest is "
                                f"left out by the size limit per file (indexing.max_chunks_per_file = {max_chunks:,})")
        return chunks

    def _bounded(self, unit: Unit, room: int) -> list[tuple[int, int, int, tuple[str, ...], str]]:
        """`chunk_unit`, reading no more of a giant unit's text than `room` chunks can hold."""
        if room and len(unit.text) > room * _CHARS_PER_CHUNK:
            end = room * _CHARS_PER_CHUNK
            unit = dataclasses.replace(unit, text=unit.text[:end], headings=tuple(h for h in unit.headings if h[0] < end),
                                       tables=tuple(t for t in unit.tables if t[2] <= end))
        return self.chunk_unit(unit)
