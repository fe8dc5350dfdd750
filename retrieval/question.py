"""Reading a question: what it asks for, about what, and when. Deterministic, model-free, fast.

    >>> r = read_question("What were Apple's total net sales in the third quarter of fiscal 2023?")
    >>> r.kind, r.period.quarters, r.period.years
    ('amount', {3}, {2023})

- `kind`: what an answer must hold — an amount, a percent, a date, a count, a name, a yes/no, a
  reason, a list — or a change across periods ("How did X change from Q2 to Q3?", "trend",
  "compare", "over time"), which is answered side by side (retrieval/answers.py);
- `metric`: the words of what is measured ("total net sales"), stemmed and widened with the
  financial synonyms a filing uses for a question's words (revenue ↔ net sales, profit ↔ net
  income, R&D ↔ research and development …);
- `period`: quarters, years, "three/six/nine months", an "as of" date, "the latest".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from indexing.words import STOPWORDS, words
from retrieval.focus import question_focus

MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
_MONTH_NAMES = {i: m.capitalize() for m, i in MONTHS.items()}
_ABBREVIATED = {m[:3]: i for m, i in MONTHS.items()} | {"sept": 9}
DATE = re.compile(r"\b(" + "|".join([*MONTHS, *_ABBREVIATED]) + r")\.?\s*(\d{1,2})\s*,?\s*((?:19|20)\d\d)\b", re.I)
_SPAN = re.compile(r"\b(three|six|nine|twelve|3|6|9|12)[\s-]+months?\b|\bfirst\s+(half|nine months|six months)\b"
                   r"|\b(year[\s-]to[\s-]date|ytd)\b|\b(quarter(?:ly)?|Q[1-4])\b", re.I)
_SPAN_MONTHS = {"three": 3, "3": 3, "six": 6, "6": 6, "nine": 9, "9": 9, "twelve": 12, "12": 12,
                "half": 6, "nine months": 9, "six months": 6}
_CHANGE = re.compile(
    r"\b(chang(?:e|ed|es|ing)|compar(?:e|ed|es|ing|ison)|trend(?:s|ed)?|over time|fluctuat\w*|evolv\w*|"
    r"vari(?:ed|ation|ations)|shift(?:ed)?|quarter[\s-]over[\s-]quarter|year[\s-]over[\s-]year|"
    r"across (?:the )?(?:\w+ )?(?:quarters|periods)|from (?:one )?(?:quarter|period) to|versus|vs\.?)\b", re.I)
_REASON = re.compile(r"^\s*why\b|\b(reasons?|drivers?|driving factors|factors|causes?|due to what|explain)\b", re.I)
_YESNO = re.compile(r"^\s*(is|are|was|were|does|do|did|has|have|had|can|could|will|would|should)\b", re.I)
_DATE_Q = re.compile(r"^\s*when\b|\b(what|which)\s+(date|day|year|month)\b|\bin what year\b", re.I)
_COUNT = re.compile(r"\bhow many\b|\bnumber of\b", re.I)
_NAME = re.compile(r"^\s*(who|whom)\b|\b(which|what)\s+(company|companies|firm|person|people|country|city|name)\b", re.I)
_LIST = re.compile(r"^\s*(list|name)\b|\bwhat (are|were) the (\w+ ){0,3}(items|segments|components|risks|types)\b", re.I)
_PERCENT = re.compile(r"\b(rate|percent(?:age)?|%|ratio|margin percentage|share of)\b", re.I)
_AMOUNT_WORDS = frozenset(
    """revenue revenues sales income earnings profit profits loss losses margin expense expenses cost costs cash
    assets asset liabilities liability debt inventory inventories equity receivable receivables payable payables
    dividend dividends capex expenditure expenditures spending spend investment investments eps amount much worth
    value price tax taxes repurchase repurchases buyback buybacks flow flows outflow inflow balance total
    backlog obligations commitments borrowings notes goodwill depreciation amortization compensation""".split()
)
# words of the question that say what kind of thing is asked, not what is measured
_ASKING = frozenset(
    """what which who how much many when where why was were is are does did do has have had the a an of in on for
    reported report reports disclose disclosed filing filings 10 q k 10q 10k form quarter quarters quarterly fiscal
    year years period periods ended ending months month three six nine twelve first second third fourth last latest
    most recent current previous prior company company's companies give tell me figure figures value amount
    stated state according show shows during as at end generated generate revealed reveal per their its
    significant notable substantial key main any identified identify seen observed be been there attributed
    same""".split()
)
# a question's word → the words a financial statement uses for the same thing (each group both ways)
SYNONYMS: tuple[frozenset[str], ...] = tuple(frozenset(g.split()) for g in (
    "revenue revenues sales net_sales turnover",
    "profit profits net_income earnings",
    "cash cash_equivalents",
    "cash_flow operating_activities operating_cash cash_operation net_cash",
    "r&d rd research development",
    "sg&a selling general administrative",
    "opex operating_expenses",
    "operating operational",
    "capex capital_expenditures property_equipment",
    "eps per_share",
    "inventory inventories",
    "spending spend expenditure expenditures expense expenses costs cost investment",
    "buyback buybacks repurchase repurchases repurchased",
    "debt borrowings notes term_debt",
    "tax taxes",
    "margin gross_margin gross_profit",
))


def norm(word: str) -> str:
    """A word as rows and questions are compared: lower case, plural cut ("inventories" →
    "inventory", "sales" → "sale")."""
    w = word.lower().strip("’'")
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def label_words(text: str) -> list[str]:
    """The content words of a row label or a metric, normalised, in order; "R&D" stays one word."""
    text = re.sub(r"\b([A-Za-z])&([A-Za-z])\b", r"\1&\2", text)
    out = []
    for raw in re.findall(r"[A-Za-z]&[A-Za-z]|[^\W_]+", text):
        w = raw.lower()
        if w in STOPWORDS and w not in ("other",) or w.isdigit():
            continue
        out.append(norm(w))
    return out


def _widened(metric: list[str]) -> set[str]:
    """The metric's words with their synonyms (a two-word synonym, `net_sales`, as its words)."""
    out = set(metric)
    joined = {f"{a}_{b}" for a, b in zip(metric, metric[1:])}
    for group in SYNONYMS:
        normed = {norm(g) for g in group}
        if normed & (out | joined):
            for g in group:
                out.update(norm(p) for p in g.split("_"))
    return out


@dataclass
class Period:
    quarters: set[int] = field(default_factory=set)
    years: set[int] = field(default_factory=set)
    months: int | None = None  # 3 (a quarter), 6, 9, 12
    dates: list[date] = field(default_factory=list)  # "as of July 1, 2023"
    latest: bool = False

    def __bool__(self) -> bool:
        return bool(self.quarters or self.years or self.months or self.dates or self.latest)


@dataclass
class Reading:
    question: str
    kind: str  # amount | percent | count | date | name | yesno | reason | list | change | other
    metric: list[str]  # normalised content words of what is asked about
    wide: set[str]  # the metric's words and their synonyms
    period: Period
    change: bool = False  # asks how something moved across periods or documents
    subject: str = ""  # what is measured, as the question writes it: what to search a filing for
    # "How did operating expenses compare to revenue?": one reading per thing compared
    parts: list["Reading"] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)  # how much each metric word tells

    def weight(self, word: str) -> float:
        return self.weights.get(word, 1.0)

    @property
    def wants_figure(self) -> bool:
        return self.kind in ("amount", "percent", "count") or (self.change and bool(self.metric))


def parse_date(text: str) -> date | None:
    m = DATE.search(text)
    if not m:
        return None
    try:
        month = m.group(1).lower()
        return date(int(m.group(3)), MONTHS.get(month) or _ABBREVIATED[month], int(m.group(2)))
    except ValueError:
        return None


def say_date(d: date) -> str:
    return f"{_MONTH_NAMES[d.month]} {d.day}, {d.year}"


def read_period(text: str) -> Period:
    focus = question_focus(text)
    p = Period(quarters=set(focus.quarters), years=set(focus.years), latest=focus.latest)
    for m in DATE.finditer(text):
        d = parse_date(m.group(0))
        if d:
            p.dates.append(d)
    for m in _SPAN.finditer(text):
        if m.group(1):
            p.months = _SPAN_MONTHS[m.group(1).lower()]
        elif m.group(2):
            p.months = _SPAN_MONTHS[m.group(2).lower()]
        elif m.group(3):
            p.months = 9 if p.months is None else p.months
        elif m.group(4) and p.months is None:
            p.months = 3
        break
    if re.search(r"\blast quarter\b|\bthis quarter\b|\bprevious quarter\b", text, re.I):
        p.months = p.months or 3
        p.latest = p.latest or "last quarter" in text.lower()
    return p


def read_question(question: str, topic: str | None = None) -> Reading:
    """`topic`: the question less the names that pick documents (Retriever.search's topic), when
    known: "Apple" is not part of what is measured."""
    q = question.strip()
    period = read_period(q)
    head = re.split(r"\?\s|;\s", q)[0]  # "Has X changed …? If so, what drove it?" asks the change first
    change = bool(_CHANGE.search(head)) and not (_REASON.search(head) and _REASON.search(head).start() < _CHANGE.search(head).start())
    if change:
        kind = "change"
    elif _REASON.search(q):
        kind = "reason"
    elif _DATE_Q.search(q):
        kind = "date"
    elif _COUNT.search(q):
        kind = "count"
    elif _NAME.search(q):
        kind = "name"
    elif re.search(r"\bhow much\b", q, re.I):
        kind = "percent" if _PERCENT.search(q) else "amount"
    elif _YESNO.search(q):
        kind = "yesno"
    elif _LIST.search(q):
        kind = "list"
    elif {norm(w) for w in words(q)} & {norm(w) for w in _AMOUNT_WORDS}:
        kind = "percent" if _PERCENT.search(q) else "amount"
    else:
        kind = "other"
    source = topic or q
    if change:  # what is measured is named before "If so, what drove it?", "and what might it mean"
        source = re.split(r"\?\s|;\s|,? and (?:what|how|why)\b", source)[0]
    source = DATE.sub(" ", source)
    source = re.sub(r"\([^)]*\)", " ", source)  # "AWS (Amazon Web Services)": the name once
    source = re.sub(r"\b(?:19|20)\d\d\b|\bQ[1-4]\b|\b10-?[QK]s?\b|\b8-?K\b", " ", source, flags=re.I)
    # "Apple's", "Lighthouse Ferries'": whose figure, not what is measured
    source = re.sub(r"\b(?:[A-Z][\w&.\-]*\s+){0,3}(?:[A-Z][\w&.\-]*|\w+)(?:['’]s\b|s['’](?=\s|$))", " ", source)
    metric = [w for w in label_words(source) if w not in _ASKING and norm(w) not in {norm(a) for a in _ASKING}]
    # what a change question measures, not the change itself
    metric = [w for w in metric if not _CHANGE.fullmatch(w) and w not in ("trend", "time", "compare", "change",
                                                                         "chang", "fluctuat", "evolv", "vari")]
    # a name the question capitalises ("iPhone", "Data Center", "AWS") says which row; "total",
    # "net", "revenue" say little (every statement has them)
    named = {norm(w) for w in re.findall(r"(?<=\s)[A-Za-z]*[A-Z][\w&]*", " " + source)[1:]} if source else set()
    named |= {norm(w) for w in re.findall(r"\b[a-z]+[A-Z]\w*|\b[A-Z]{2,}\b", source)}
    weights = {w: 3.0 if w in named else 0.5 if w in _PLAIN_FINANCE else 1.0 for w in metric}
    subject = " ".join(w for w in re.findall(r"[\w&'’]+", source) if norm(w) in set(metric) or w.lower() in ("and", "of"))
    reading = Reading(q, kind, metric, _widened(metric), period, change, subject.strip(), weights=weights)
    versus = _VERSUS.search(source)
    if versus and kind in ("change", "amount", "percent", "other"):
        sides = [read_question(side) for side in (source[: versus.start()], source[versus.end():])]
        if all(side.metric for side in sides) and set(sides[0].metric) != set(sides[1].metric):
            for side in sides:
                side.period = period  # "in Q1 2023" said once, for both
                side.kind = "percent" if _PERCENT.search(side.question) else "amount"
            reading.parts = sides
            reading.kind, reading.change = "change", True
    return reading


_VERSUS = re.compile(r"\b(?:compared? (?:to|with|against)|measures? up (?:against|to)|stacks? up (?:against|to)|"
                     r"relates? to|relative to|versus|vs\.?|as a share of|against)\b", re.I)


_PLAIN_FINANCE = frozenset("total net revenue sale income amount level segment".split())


def follow(now: Reading, before: Reading) -> Reading:
    """A follow-up read with the question before it: "How did they change from the quarter
    before?" after "What were total net sales last quarter?" measures total net sales. What the
    follow-up says itself (its period, its kind) wins; what it leaves out comes from before."""
    if now.metric and not now.parts:
        return now
    if not before.metric:
        return now
    kind = now.kind if now.kind not in ("other", "yesno") else before.kind
    return Reading(now.question, kind, before.metric, before.wide, now.period if now.period else before.period,
                   now.change, before.subject, weights=before.weights)
