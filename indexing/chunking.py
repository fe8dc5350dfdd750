"""Units → chunks that fit the embedder, cut where a reader would cut, with exact spans.

Why not llama-index's SentenceSplitter: it re-tokenizes every candidate split (2.2 s for
400 KB of COVID-QA text here, as long as embedding it) and finds a chunk's span by searching
for its text afterwards. This chunker tokenizes each unit once with the embedder's own fast
tokenizer, takes the character offsets the tokenizer reports, and packs tokens greedily up to
the model's window, cutting at the strongest boundary in the second half of the window:
heading > paragraph > sentence > clause > word. A chunk's text is exactly
`unit.text[start:end]` and re-tokenizes to the number of tokens counted, so every word of
every chunk reaches the embedder (all-MiniLM-L6-v2 silently drops word-pieces past 256).
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from indexing.models import Chunk, ParsedDocument, Unit

_SENTENCE_END = set(".!?。！？…")
_CLAUSE_END = set(",;:、，；：)")
_NONE, _WORD, _CLAUSE, _SENTENCE, _PARAGRAPH, _HEADING = range(6)


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
        return f"v1-{self.max_tokens}-{self.overlap_tokens}-{self.min_section_tokens}"


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

    def _boundaries(self, text: str, offsets: list[tuple[int, int]], heading_starts: set[int]) -> list[int]:
        """Strength of cutting before token i (i in 0..n-1)."""
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
            elif "\n\n" in gap:
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

    def spans(self, text: str, heading_starts: set[int] | None = None) -> list[tuple[int, int, int]]:
        """`(start, end, tokens)` character spans of `text`, each at most `max_tokens` tokens."""
        if not text.strip():
            return []
        enc = self.tokenizer.encode(text, add_special_tokens=False)
        offsets = [o for o in enc.offsets]
        n = len(offsets)
        if n == 0:
            return []
        cfg = self.config
        strength = self._boundaries(text, offsets, heading_starts or set())
        spans: list[tuple[int, int, int]] = []
        s = 0
        while s < n:
            limit = s + cfg.max_tokens
            if limit >= n:
                e = n
                # a heading inside the tail still starts its own chunk when both parts are real
                for i in range(s + cfg.min_section_tokens, n):
                    if strength[i] == _HEADING and n - i >= cfg.min_section_tokens // 2:
                        e = i
                        break
            else:
                e = 0
                for i in range(s + cfg.min_section_tokens, limit + 1):
                    if strength[i] == _HEADING:
                        e = i
                        break
                if not e:
                    floor = s + cfg.max_tokens // 2
                    best = -1
                    for i in range(limit, floor - 1, -1):
                        if strength[i] > best:
                            best, e = strength[i], i
                            if best >= _PARAGRAPH:
                                break
                    if best <= _NONE:
                        e = limit
            spans.append((offsets[s][0], offsets[e - 1][1], e - s))
            if e >= n:
                break
            nxt = e
            if strength[e] < _PARAGRAPH and cfg.overlap_tokens:
                # restart a little earlier, at the start of a sentence if one is near
                lo = max(s + 1, e - cfg.overlap_tokens)
                candidates = [i for i in range(lo, e) if strength[i] >= _SENTENCE]
                if candidates:
                    nxt = candidates[0]
                else:
                    words = [i for i in range(lo, e) if strength[i] >= _WORD]
                    nxt = words[0] if words else e
            s = nxt
        return spans

    # -- documents ---------------------------------------------------------------------------

    def chunk_unit(self, unit: Unit) -> list[tuple[int, int, int, tuple[str, ...]]]:
        starts = [h for h, _ in unit.headings]
        paths = [p for _, p in unit.headings]
        out = []
        for start, end, tokens in self.spans(unit.text, set(starts)):
            k = bisect.bisect_right(starts, start) - 1
            out.append((start, end, tokens, paths[k] if k >= 0 else ()))
        return out

    def chunk_document(self, doc: ParsedDocument, *, path: str, content_hash: str) -> list[Chunk]:
        key = hashlib.blake2b(
            f"{path}\0{content_hash}\0{self.config.fingerprint}".encode(), digest_size=10
        ).hexdigest()
        chunks: list[Chunk] = []
        for unit in doc.units:
            for start, end, tokens, heading in self.chunk_unit(unit):
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
                    )
                )
        return chunks
