"""Words: the one place that splits text into words and knows the stop words.

Two consumers need different forms of the same words:
- the lexical index (SQLite FTS5, `porter unicode61` tokenizer) stems what it is given with the
  Porter stemmer, so it must get the words as written (`query_terms`): handing it words already
  cut by another stemmer stems them twice ("running" → "runn" → "runn", which matches nothing);
- overlap measures (abstention's coverage, attribution, quotes) compare sets of words of two
  texts (`content_words`), where a light suffix cut makes "reported" meet "reports".
"""

from __future__ import annotations

import re

WORD = re.compile(r"[^\W_]+", re.UNICODE)

STOPWORDS = frozenset(
    """a an the and or but if then else of to in on at by for with from as is are was were be been being
    it its this that these those there here which who whom whose what when where why how not no nor so
    than too very can could should would may might must shall will do does did done has have had having
    i me my we our you your he him his she her they them their about into over under after before
    also just only such some any each all both more most other own same one ones per via
    according based passage passages source sources document documents answer question""".split()
)


def words(text: str) -> list[str]:
    """Lower-cased words of `text`, in order (letters and digits of any script)."""
    return [m.group(0).lower() for m in WORD.finditer(text)]


def _keep(word: str) -> bool:
    return word not in STOPWORDS and (len(word) > 1 or word.isdigit())


def query_terms(text: str) -> list[str]:
    """The words of `text` worth searching for, as written (lower-cased, no stop words, each once,
    in order): what the FTS5 index is queried with."""
    seen: dict[str, None] = {}
    for w in words(text):
        if _keep(w):
            seen.setdefault(w, None)
    return list(seen)


def stem(word: str) -> str:
    """A light suffix cut, for comparing word sets (not for FTS5, which stems on its own)."""
    for suffix in ("ing", "edly", "ed", "es", "s", "ly"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    """The stemmed content words of `text`, for overlap measures."""
    return {stem(w) for w in words(text) if _keep(w)}
