"""Text normalisation applied to every loader's output before chunking and embedding.

PDFs made by Qt extract through pypdf with tabs between words and ligatures (ﬁ, ﬃ) that
MiniLM's tokenizer turns into [UNK]; Word and web pages bring non-breaking and zero-width
spaces, soft hyphens and CRLF line ends. NFKC folds the ligatures and compatibility forms;
the rest collapses whitespace while keeping paragraph breaks, which the chunker uses.
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_TRAILING = re.compile(r" *\n *")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """Return `text` in the canonical form that is chunked, embedded, stored and cited."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_INVISIBLE)
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text)
    text = _TRAILING.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def has_words(text: str, minimum: int = 1) -> bool:
    """True when `text` holds at least `minimum` letters or digits (not just punctuation)."""
    count = 0
    for ch in text:
        if ch.isalnum():
            count += 1
            if count >= minimum:
                return True
    return False
