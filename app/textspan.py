"""Finding a passage's text again in the text it came from (a PDF page, a raw document).

Extracted text and the passage differ in whitespace, ligatures (NFKC folds "ﬁ" to "fi") and, for
the source viewer, case; both sides are folded the same way while remembering, for every folded
character, where it was in the original, so a match maps back to a span of the original text.
Qt-free: the source viewer (ui/pdf_view.py) and bench/retrieval.py both use it.
"""

from __future__ import annotations

import unicodedata


def fold(text: str, *, lower: bool = False, squash: bool = False) -> tuple[str, list[int]]:
    """NFKC, whitespace collapsed to single spaces (and lower-cased with `lower`); with, for each
    output character, its index in `text`. With `squash`, whitespace and the " | " that joins a
    table row's cells are left out altogether ("$ 4,812" and "$4,812" fold alike)."""
    out: list[str] = []
    where: list[int] = []
    space = False
    for i, ch in enumerate(text):
        if squash and (ch.isspace() or ch == "|"):
            continue
        if ch.isspace():
            if not space and out:
                out.append(" ")
                where.append(i)
            space = True
            continue
        space = False
        folded = unicodedata.normalize("NFKC", ch)
        for c in folded.lower() if lower else folded:
            out.append(c)
            where.append(i)
    return "".join(out), where


def locate(page_text: str, quote: str) -> tuple[int, int] | None:
    """`(start, end)` of `quote` in `page_text`, ignoring whitespace, case and ligatures; when the
    whole quote is not there (a line break hyphenated differently), its head and tail are tried."""
    hay, where = fold(page_text, lower=True, squash=True)
    needle, _ = fold(quote, lower=True, squash=True)
    needle = needle.strip()
    if not needle or not hay:
        return None
    for size in (len(needle), 64, 32, 20):
        head = needle[:size]
        at = hay.find(head)
        if at < 0:
            continue
        tail = needle[-min(size, len(needle)) :]
        end_at = hay.find(tail, at)
        end = end_at + len(tail) if end_at >= 0 and end_at - at < len(needle) * 2 else at + len(head)
        return where[at], where[end - 1] + 1
    return None
