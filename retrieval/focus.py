"""What a question is about, and which documents of the library are about that.

A 10-K names its company on the cover, not in every paragraph, so a passage about "net sales"
cannot tell Apple's filing from Amazon's by its own words. Each indexed document keeps its
identity (title, the opening of its first page: indexing/models.ParsedDocument; the file name
for its period); a question's focus terms — the names it mentions (capitalised words, acronyms, possessives),
years, quarters, "the latest" — are matched against those identities, and the documents that
match rank their passages above the others' (Retriever.search). A name that no document's
identity holds, or that every document holds, tells nothing and is not used.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from indexing.words import stem, words

_WORD = re.compile(r"[^\W\d_][\w&\-.]*\w|[^\W\d_]")
_YEAR = re.compile(r"\b(?:FY\s?|fiscal\s+(?:year\s+)?)?((?:19|20)\d\d)\b", re.I)
_SHORT_FY = re.compile(r"\bFY\s?'?(\d\d)\b", re.I)
_QUARTER = re.compile(r"\bQ([1-4])\b|\b(first|second|third|fourth|1st|2nd|3rd|4th)\s+(?:fiscal\s+)?quarter\b", re.I)
_ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
_LATEST = re.compile(r"\b(latest|most recent|newest|current quarter|last quarter|this quarter|past quarter|"
                     r"recent(?:ly)? (?:filed|reported|published))\b", re.I)
_MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
_PERIOD_ENDED = re.compile(
    r"(?:period|quarter|year)\s+ended\s+(" + "|".join(_MONTHS) + r")\s+\d{1,2}\s*,\s*((?:19|20)\d\d)", re.I
)
# capitalised words that open questions or name kinds of things, not a particular one
_GENERIC = frozenset(
    """what which who whom whose when where why how is are was were does did do can could should would will has have
    had the a an in on of for to and or by with from as at about into during over under between list give describe
    explain compare summarize summarise tell show name please according if any there this that these those it its
    q1 q2 q3 q4 fy i we you they he she report reports filing form quarter quarterly annual year fiscal""".split()
)


@dataclass
class Focus:
    names: list[str] = field(default_factory=list)  # lower-cased
    years: set[int] = field(default_factory=set)
    quarters: set[int] = field(default_factory=set)
    latest: bool = False

    def __bool__(self) -> bool:
        return bool(self.names or self.years or self.quarters or self.latest)


def question_focus(question: str) -> Focus:
    focus = Focus()
    for m in _YEAR.finditer(question):
        focus.years.add(int(m.group(1)))
    for m in _SHORT_FY.finditer(question):
        focus.years.add(2000 + int(m.group(1)))
    for m in _QUARTER.finditer(question):
        focus.quarters.add(int(m.group(1)) if m.group(1) else _ORDINAL[m.group(2).lower()])
    focus.latest = bool(_LATEST.search(question))
    names: list[str] = []
    for m in _WORD.finditer(question):
        word = m.group(0).rstrip(".")
        if word.lower().endswith("'s"):
            word = word[:-2]
        low = fold(word)
        if low in _GENERIC or len(low) < 2 or re.search(r"\d-$", question[: m.start()]):  # "10-Qs", "8-K"
            continue
        capital = word[0].isupper() and (m.start() > 0 or word.isupper() or any(c.isupper() for c in word[1:]))
        if (capital or word.isupper()) and low not in names:
            names.append(low)
    focus.names = names
    return focus


@dataclass
class Profile:
    """What matching needs of one document's identity."""

    words: frozenset[str]
    years: frozenset[int]
    quarters: frozenset[int]
    period: tuple[int, int] | None  # (year, quarter or month) for "the latest"


def _words(text: str) -> set[str]:
    out = set()
    for m in _WORD.finditer(text):
        w = fold(m.group(0)).rstrip(".")
        out.add(w)
        if w.endswith("'s") or w.endswith("’s"):
            out.add(w[:-2])
        for part in re.split(r"[\-.&]", w):  # "NVIDIA-Corp" → nvidia, corp
            if part:
                out.add(part)
    return out


@lru_cache(maxsize=65536)
def profile(path: str, identity: str) -> Profile:
    name = Path(path).stem
    head = identity or ""
    # names are matched against what the document says it is (title, cover), not its file name:
    # SQuAD's articles are files named by their titles, and preferring them by name cost 1.9
    # points of recall@5 there; a file name still gives the period ("2023 Q3 AAPL.pdf")
    words = _words(head)
    years = {int(y) for y in re.findall(r"(?<!\d)((?:19|20)\d\d)(?!\d)", name)}
    quarters = {int(q) for q in re.findall(r"(?i)(?<![a-z])q([1-4])(?!\d)", name)}
    period = None
    ended = _PERIOD_ENDED.search(head)
    if ended:
        years.add(int(ended.group(2)))
        period = (int(ended.group(2)), _MONTHS[ended.group(1).lower()] / 3.0)
    if years:
        y = max(years)
        if quarters:
            period = (y, float(max(quarters)))
        elif period is None:
            period = (y, 0.0)
    return Profile(frozenset(words), frozenset(years), frozenset(quarters), period)


_FILING = re.compile(r"\b(?:10-?[KQ]|8-?K|20-?F|annual|quarterly|reports?|filings?|form|fiscal(?: year)?|FY\s?'?\d\d)\b", re.I)


def topic(question: str, names: list[str]) -> str:
    """The question without what picks the documents (their names, periods, "the latest", "10-Q
    report"): what to look for inside the documents that match."""
    text = question
    for name in names:
        text = re.sub(rf"\b{re.escape(name)}(?:['’]s)?\b", " ", text, flags=re.I)
    for pattern in (_QUARTER, _YEAR, _LATEST, _FILING):
        text = pattern.sub(" ", text)
    text = " ".join(text.split())
    return text if len(text.split()) >= 2 else question


def preferences(question: str, documents: dict[str, str]) -> tuple[dict[str, float], str]:
    """path → how well the document matches what the question names (1 = all of it), and the
    question's topic within them (`topic`); `({}, question)` when the question names nothing that
    tells the library's documents apart."""
    if len(documents) < 2:
        return {}, question
    focus = question_focus(question)
    if not focus:
        return {}, question
    profiles = {path: profile(path, identity) for path, identity in documents.items()}
    n = len(profiles)
    # names some documents hold and others do not
    names = []
    weights = []
    for name in focus.names:
        holders = sum(name in p.words for p in profiles.values())
        if 0 < holders <= max(1, n // 2):
            names.append(name)
            weights.append(math.log(1 + n / holders))
    scores: dict[str, float] = {}
    named = 0.0
    for path, p in profiles.items():
        score = sum(w for name, w in zip(names, weights) if name in p.words) / sum(weights) if names else 1.0
        named = max(named, score)
        if focus.years and any(p.years for p in profiles.values()):
            year = bool(focus.years & p.years)
            quarter = not focus.quarters or bool(focus.quarters & p.quarters) or not p.quarters
            score *= 1.0 if (year and quarter) else 0.35 if year else 0.1
        scores[path] = score
    if focus.latest and not focus.years:
        best = max(scores.values())
        dated = [path for path, s in scores.items() if s == best and profiles[path].period]
        if dated:
            newest = max(profiles[path].period for path in dated)
            for path in dated:
                if profiles[path].period != newest:
                    scores[path] *= 0.35
    top = max(scores.values())
    if top <= 0 or all(s == top for s in scores.values()):
        return {}, question
    # scaled by the best match of the names alone: when no document is of the period asked about
    # (Apple's 2019 filing in a library of its 2023 ones), none counts as the one named
    return {path: s / named for path, s in scores.items() if s > 0}, topic(question, names)


# -- focus terms: what a question names, checked against what the library holds -----------------

_NUMBER = re.compile(r"(?<![\w.\-])\d+(?:[.,]\d+)*(?![\w\-])")
_JOIN = frozenset("of the de la le von van du da del di and & upon on".split())


@dataclass(frozen=True)
class FocusTerm:
    text: str  # as the question writes it: "Bainbridge Island", "2019"
    kind: str  # "name" | "year" | "number"
    words: tuple[str, ...]  # folded, stemmed: what must be found


def fold(text: str) -> str:
    """Lower case without diacritics: "Beyoncé" and "beyonce" meet."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()


@dataclass
class Holder:
    """What a passage (or a document's cover) holds, in the forms focus terms are looked up in."""

    words: set[str]  # folded, stemmed
    squashed: str  # folded, letters and digits only: "COVID19" meets "COVID-19"
    numbers: str  # the text with thousands separators removed
    initials: set[str]  # of its runs of capitalised words: "SP" meets "Scottish Parliament"

    def has_word(self, word: str) -> bool:
        if word in self.words or (word.endswith("s") and word[:-1] in self.words):
            return True
        # a name misspelt by a letter or two ("Celeron" for "Céloron"), an adjective ("European")
        return len(word) >= 5 and not word.isdigit() and bool(difflib.get_close_matches(word, self.words, n=1, cutoff=0.8))


_CAPITAL_RUN = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:(?:of|and|the|for|de)\s+)?[A-Z][\w'’-]*)+")


def holder(text: str) -> Holder:
    folded = fold(text)
    initials = set()
    for m in _CAPITAL_RUN.finditer(text):
        caps = [w[0].lower() for w in m.group(0).split() if w[0].isupper()]
        for i in range(len(caps)):
            for j in range(i + 2, len(caps) + 1):
                initials.add("".join(caps[i:j]))
    return Holder({stem(w) for w in words(folded)}, re.sub(r"[\W_]+", "", folded), text.replace(",", ""), initials)


def focus_terms(question: str) -> list[FocusTerm]:
    """The names (runs of capitalised words: "Bainbridge Island", "Apple's"), years and other
    numbers a question asks about: a passage that holds none of them answers another question."""
    focus = question_focus(question)
    names = set(focus.names)
    out: list[FocusTerm] = []
    run: list[re.Match] = []

    def close() -> None:
        while run and run[-1].group(0).lower() in _JOIN:
            run.pop()
        if run:
            text = question[run[0].start() : run[-1].end()].rstrip(".")
            text = re.sub(r"['’]s$", "", text)
            parts = tuple(stem(w) for w in words(fold(text)) if w not in _JOIN)
            if parts and all(p not in {t.words for t in out} for p in [parts]):
                out.append(FocusTerm(text, "name", parts))
        run.clear()

    for m in _WORD.finditer(question):
        gap = question[run[-1].end() : m.start()] if run else " "
        if run and gap.strip() not in ("",):
            close()
        if fold(re.sub(r"['’]s$", "", m.group(0).rstrip("."))) in names:
            run.append(m)
        elif run and m.group(0).lower() in _JOIN:
            run.append(m)
        else:
            close()
    close()
    for year in sorted(focus.years):
        out.append(FocusTerm(str(year), "year", (str(year),)))
    years = {str(y) for y in focus.years}
    for m in _NUMBER.finditer(question):
        n = m.group(0).replace(",", "")
        if n not in years and len(n) >= 2 and not re.fullmatch(r"(?:19|20)\d\d", n):
            out.append(FocusTerm(m.group(0), "number", (n,)))
    return out


def found(term: FocusTerm, held: Holder, path: str = "", identity: str = "") -> bool:
    """Whether `term` is in a passage or, for a name or a period, in what its document says it is
    (title, cover, file name). Names meet their variants: case, diacritics, possessives, plurals,
    hyphens ("COVID19"), a letter or two misspelt, an acronym of the capitalised words."""
    if term.kind == "number":
        if re.search(rf"(?<![\d.]){re.escape(term.words[0])}(?![\d])", held.numbers):
            return True
        return False
    if term.kind == "year":
        if term.text in held.words:
            return True
        return bool(path) and int(term.text) in profile(path, identity).years
    if _name_in(term, held):
        return True
    return bool(identity) and _name_in(term, _identity_holder(identity))


def _name_in(term: FocusTerm, held: Holder) -> bool:
    if all(held.has_word(w) for w in term.words):
        return True
    squashed = "".join(term.words)
    if len(squashed) >= 4 and (squashed in held.squashed or squashed.rstrip("s") in held.squashed):
        return True
    letters = re.sub(r"[^a-z]", "", term.text.lower())
    return term.text.isupper() and 2 <= len(letters) <= 5 and letters in held.initials


@lru_cache(maxsize=4096)
def _identity_holder(identity: str) -> Holder:
    return holder(identity)
