"""Does Citewise refuse what its library does not hold — near misses included — and answer what it does?

    .venv/bin/python bench/abstain.py                  # index (once, kept in --work), ask, fit, report
    .venv/bin/python bench/abstain.py --fit-only       # refit from the passages collected last time

Four libraries, all built from ../shared/data, each asked three kinds of question:
- squad-a, squad-b: the SQuAD 2.0 dev articles, alternately split in two halves (a library each);
  covid: the 98 COVID-QA papers; sec-10q: the 20 SEC 10-Q filings (PDF).
- answerable: the dataset's own questions about the library (SQuAD, COVID-QA, sec-10q);
- out of corpus: questions about documents the library does not hold (the other SQuAD half;
  SQuAD for covid; SQuAD and COVID-QA for sec-10q);
- near misses, built from answerable questions by substitution (seeded, reproducible) so that
  they read like a question the library answers:
  * name (not in the library at all): a run of capitalised words the question names is replaced
    by one taken from questions about other documents (SQuAD), from a list of other pathogens,
    drugs and places (covid), or other companies (sec-10q: Tesla, Walmart, ...); a donor is used
    only when a word of it is held by no chunk of the library;
  * year (in the library, without that fact): a year the question names is moved to one its
    document never mentions (SQuAD, COVID-QA: 4 to 30 years away); sec-10q's filings are of
    2022 and 2023, so 2023 becomes 2019 and 2022 becomes 2018: the company is in the library,
    that period is not.
Citewise's retriever returns its 5 passages for every question (what the app's abstention
reads). The two logistic models of retrieval/abstain.py (topic: answerable vs out of corpus;
focus: answerable vs near misses) are fitted with each dataset held out in turn (SQuAD, COVID-QA,
sec-10q: fitted on the other two, reported on it); strictness thresholds refuse 1 / 2.5 / 6 % of
the training answerable questions. `final` is fitted on all three (what the app ships).
Writes bench/results/abstain-<date>.json and prints the table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from indexing.offline import offline_env  # noqa: E402  (the app's own: no hub, no telemetry)

offline_env()

DATA = ROOT.parent / "shared" / "data"
K = 5
SIZES = {"answerable": 400, "out": 400, "near": 400, "impossible": 150}
RATES = {"lenient": 0.01, "balanced": float(os.environ.get("CITEWISE_BALANCED_RATE", 0.025)), "strict": 0.06}  # answerable questions one accepts to refuse

# donors of names no chunk of the library holds (each kept only if one of its words is held by none)
COVID_DONORS = """Ebola|Zika|Lassa fever|Nipah virus|Marburg virus|Hendra virus|Rift Valley fever|Crimean-Congo
haemorrhagic fever|Kyasanur Forest|Oropouche|Powassan|Chagas|Mongolia|Madagascar|Bolivia|Tasmania|Greenland|Oseltamivir|
Remdesivir|Favipiravir|Baloxavir|Ivermectin|Moderna|Novavax|Sputnik|Sinovac|Pfizer-BioNTech|Oxford-AstraZeneca|Omicron|
Delta variant|Tuberculosis|Leptospirosis|Hantaan|Yellow fever""".replace("\n", " ").split("|")
COMPANIES = "Tesla|Walmart|Pfizer|Netflix|Oracle|Salesforce|Boeing|Exxon Mobil|Coca-Cola|Johnson & Johnson|Procter & Gamble|Visa|Qualcomm|Adobe|Cisco|IBM".split("|")
SEC_NAMES = {"apple": ("Apple", "AAPL"), "amazon": ("Amazon", "AMZN"), "intel": ("Intel", "INTC"),
             "microsoft": ("Microsoft", "MSFT"), "nvidia": ("NVIDIA", "Nvidia", "NVDA")}


# -- data ----------------------------------------------------------------------------------------


def load_retrieval_bench():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_retrieval", ROOT / "bench" / "retrieval.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def sec_questions() -> list[dict]:
    with open(DATA / "sec-10q" / "qna_data.csv", encoding="utf-8-sig", newline="") as fh:
        return [{"q": r["Question"].strip(), "doc": r["Source Docs"].strip()} for r in csv.DictReader(fh)]


# -- near misses ---------------------------------------------------------------------------------


def name_runs(question: str) -> list[str]:
    from retrieval.focus import focus_terms

    return [t.text for t in focus_terms(question) if t.kind == "name"]


def swap(question: str, old: str, new: str) -> str:
    return re.sub(rf"\b{re.escape(old)}(?=\W|$)", new.replace("\\", ""), question, count=1)


def near_names(questions, donors, absent, rng, n):
    """Answerable questions with one named run replaced by a donor the library does not hold."""
    out = []
    donors = [d for d in donors if absent(d)]
    if not donors:
        return out
    for q in rng.sample(questions, len(questions)):
        runs = [r for r in name_runs(q["q"]) if len(r) > 2]
        if not runs:
            continue
        old = rng.choice(runs)
        new = rng.choice(donors)
        changed = swap(q["q"], old, new)
        if changed != q["q"]:
            out.append({**q, "q": changed, "from": q["q"], "near": "name", "swapped": [old, new]})
        if len(out) >= n:
            break
    return out


def near_years(questions, doc_text, rng, n):
    """Answerable questions with a year moved to one their document never mentions."""
    out = []
    for q in rng.sample(questions, len(questions)):
        years = re.findall(r"\b(1[5-9]\d\d|20[0-2]\d)\b", q["q"])
        if not years:
            continue
        old = years[0]
        text = doc_text(q)
        for _ in range(20):
            new = str(int(old) + rng.choice([-1, 1]) * rng.randint(4, 30))
            if new not in text and int(new) <= 2026:
                out.append({**q, "q": swap(q["q"], old, new), "from": q["q"], "near": "year", "swapped": [old, new]})
                break
        if len(out) >= n:
            break
    return out


def near_sec(questions, absent, rng):
    out = []
    donors = [c for c in COMPANIES if absent(c)]
    for q in questions:
        low = q["q"].lower()
        company = next((v for k, v in SEC_NAMES.items() if any(re.search(rf"\b{re.escape(x.lower())}\b", low) for x in v)), None)
        if company:
            new = rng.choice(donors)
            changed = q["q"]
            for variant in company:
                changed = re.sub(rf"\b{re.escape(variant)}\b", new, changed)
            out.append({**q, "q": changed, "from": q["q"], "near": "name", "swapped": [company[0], new]})
        if re.search(r"\b202[23]\b", q["q"]):
            changed = re.sub(r"\b2023\b", "2019", re.sub(r"\b2022\b", "2018", q["q"]))
            out.append({**q, "q": changed, "from": q["q"], "near": "year", "swapped": ["2022/2023", "2018/2019"]})
    return out


# -- collecting: every question's passages, with what abstention reads of the library --------------


def open_library(work: Path, name: str, source: Path):
    from app.services import build_services
    from app.settings import load_settings

    settings = load_settings(work / "none.toml", data_dir=work / name)
    services = build_services(settings)
    library = services.library(name)
    t = time.perf_counter()
    for _ in library.add([str(source)]):
        pass
    return services, library, round(time.perf_counter() - t, 1)


def serialise(question: str, passages, retriever) -> dict:
    from indexing.words import query_terms
    from retrieval.focus import focus_terms

    paths = sorted({p.chunk.path for p in passages})
    from indexing.words import stem, words as split
    from retrieval.focus import fold

    # every form of the question's words abstention may look up, so that it can be refitted offline
    plain = split(fold(question))
    words = sorted({*query_terms(question), *(w for t in focus_terms(question) for w in t.words), *plain, *map(stem, plain)})
    return {
        "passages": [{"path": p.chunk.path, "text": p.chunk.text, "context": p.chunk.context, "unit": p.chunk.unit,
                      "unit_kind": p.chunk.unit_kind.value, "heading": list(p.chunk.heading), "dense": p.dense,
                      "lexical": p.lexical, "focus": p.focus, "score": p.score, "id": p.chunk.id} for p in passages],
        "topic": passages.topic,
        "identities": {path: retriever.identity(path) for path in paths},
        "frequency": retriever.frequency(words) if words else {},
    }


def collect(work: Path, limit: int) -> dict:
    bench_retrieval = load_retrieval_bench()
    rng = random.Random(16)
    sizes = {k: min(v, limit) if limit else v for k, v in SIZES.items()}
    squad_docs, squad_q, squad_impossible = bench_retrieval.load_squad()
    covid_docs, covid_q = bench_retrieval.load_covid()
    names = sorted(squad_docs)
    halves = {"squad-a": set(names[::2]), "squad-b": set(names[1::2])}
    plans = {}
    for lib, inside in halves.items():
        folder = work / "src" / lib
        bench_retrieval.write_docs({n: squad_docs[n] for n in inside}, folder)
        mine = [q for q in squad_q if q["doc"] in inside]
        other = [q for q in squad_q if q["doc"] not in inside]
        plans[lib] = (folder, {
            "answerable": rng.sample(mine, sizes["answerable"]),
            "out": rng.sample(other, sizes["out"]),
            "impossible": rng.sample([q for q in squad_impossible if q["doc"] in inside], sizes["impossible"]),
        }, lambda absent, mine=mine, other=other: near_names(mine, sorted({r for q in other for r in name_runs(q["q"])}), absent, rng, sizes["near"] * 3 // 4)
            + near_years(mine, lambda q: squad_docs[q["doc"]], rng, sizes["near"] // 4))
    folder = work / "src" / "covid"
    bench_retrieval.write_docs(covid_docs, folder)
    plans["covid"] = (folder, {
        "answerable": rng.sample(covid_q, sizes["answerable"]),
        "out": rng.sample(squad_q, sizes["out"]),
    }, lambda absent: near_names(covid_q, COVID_DONORS, absent, rng, sizes["near"] * 3 // 4)
        + near_years(covid_q, lambda q: covid_docs[q["doc"]], rng, sizes["near"] // 4))
    sec = sec_questions()
    plans["sec-10q"] = (DATA / "sec-10q" / "docs", {
        "answerable": sec,
        "out": rng.sample(squad_q, sizes["out"] // 2) + rng.sample(covid_q, sizes["out"] // 2),
    }, lambda absent: near_sec(sec, absent, rng))

    collected = {"libraries": {}}
    for lib, (folder, kinds, near) in plans.items():
        services, library, build_s = open_library(work / "libs", lib, folder)
        retriever = library.retriever

        def absent(name: str) -> bool:
            from retrieval.focus import fold
            from indexing.words import words

            counts = retriever.frequency(words(fold(name)))
            return any(c == 0 for c in counts.values())

        kinds = {**kinds, "near": near(absent)}
        rows = []
        t = time.perf_counter()
        for kind, questions in kinds.items():
            for q in questions:
                passages = retriever.search(q["q"], k=K)
                rows.append({"kind": kind, **{k: v for k, v in q.items() if k in ("q", "doc", "from", "near", "swapped")},
                             **serialise(q["q"], passages, retriever)})
        info = {"build_s": build_s, "chunks": library.stats()["chunks"], "documents": len(retriever.documents()),
                "ask_s": round(time.perf_counter() - t, 1), "questions": {k: len(v) for k, v in kinds.items()}}
        print(f"{lib:8s} " + "  ".join(f"{k}={v}" for k, v in info.items()), flush=True)
        collected["libraries"][lib] = {"info": info, "rows": rows}
        services.close()
    return collected


# -- fitting and scoring -------------------------------------------------------------------------


class CachedLibrary:
    """retrieval.abstain.Library from what `serialise` kept."""

    def __init__(self, row: dict, size: int):
        self.row = row
        self._size = size

    def size(self) -> int:
        return self._size

    def identity(self, path: str) -> str:
        return self.row["identities"].get(path, "")

    def frequency(self, words) -> dict[str, int]:
        return {w: self.row["frequency"].get(w, 1) for w in words}


def before_features(question: str, passages, topic) -> dict:
    """The features of the model the app shipped before near misses were measured."""
    from indexing.words import content_words

    words = content_words(question)
    by_dense = max(passages, key=lambda p: p.dense if p.dense is not None else -1.0)
    lexical_scores = [p.lexical for p in passages if p.lexical is not None]
    top_lexical = sorted((p for p in passages if p.lexical is not None), key=lambda p: -p.lexical)[:3]
    if topic and by_dense.focus >= 1.0:
        words = content_words(topic) or words
    return {"dense": by_dense.dense or 0.0,
            "lexical": (max(lexical_scores) / max(len(content_words(question)), 1)) if lexical_scores else 0.0,
            "agree": 1.0 if any(p.chunk.id == by_dense.chunk.id for p in top_lexical) else 0.0,
            "coverage": len(words & content_words(by_dense.chunk.search_text)) / len(words) if words else 0.0}


def row_features(row: dict, size: int) -> dict:
    from indexing.models import Chunk, UnitKind
    from retrieval.abstain import features
    from retrieval.models import Passage

    passages = []
    for d in row["passages"]:
        chunk = Chunk(id=d["id"], text=d["text"], path=d["path"], content_hash="", unit=d["unit"],
                      unit_kind=UnitKind(d["unit_kind"]), start=0, end=len(d["text"]), index=0,
                      heading=tuple(d["heading"]), context=d["context"])
        passages.append(Passage(chunk=chunk, score=d["score"], dense=d["dense"], lexical=d["lexical"], focus=d["focus"]))
    return {**features(row["q"], passages, row["topic"], CachedLibrary(row, size)),
            "before": before_features(row["q"], passages, row["topic"]) if passages else {}}


def fit_logistic(rows: list[tuple[dict, int]], keys, steps=4000, lr=0.5):
    import numpy as np

    X = np.array([[f[k] for k in keys] for f, _ in rows], dtype=np.float64)
    y = np.array([label for _, label in rows], dtype=np.float64)
    mu, sd = X.mean(0), X.std(0) + 1e-9
    Z = (X - mu) / sd
    w = np.zeros(len(keys))
    b = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(Z @ w + b)))
        g = p - y
        w -= lr * (Z.T @ g / len(y) + 1e-3 * w)
        b -= lr * g.mean()
    weights = {k: float(w[i] / sd[i]) for i, k in enumerate(keys)}
    weights["bias"] = float(b - sum(w[i] * mu[i] / sd[i] for i in range(len(keys))))
    return weights


def fit(rows) -> dict:
    """The two models of retrieval/abstain.py: the topic one on answerable vs out-of-corpus
    questions, the focus one on answerable questions vs near misses."""
    from retrieval.abstain import FOCUS_KEYS, TOPIC_KEYS

    pick = lambda negative: [(r["f"], 0 if r["kind"] == negative else 1) for r in rows  # noqa: E731
                             if r["kind"] in ("answerable", negative)]
    return {"topic": fit_logistic(pick("out"), TOPIC_KEYS), "focus": fit_logistic(pick("near"), FOCUS_KEYS)}


def thresholds(rows, weights) -> dict[str, float]:
    import numpy as np

    from retrieval.abstain import probability

    probs = np.sort([probability(r["f"], weights) for r in rows if r["kind"] == "answerable"])
    return {name: float(np.quantile(probs, q)) for name, q in RATES.items()}


def rates(rows, weights, ths) -> dict:
    from retrieval.abstain import probability

    out = {}
    for name, th in ths.items():
        refused = {}
        for kind in ("answerable", "out", "near", "impossible"):
            fs = [r for r in rows if r["kind"] == kind]
            if fs:
                refused[kind] = round(100 * sum(probability(r["f"], weights) < th for r in fs) / len(fs), 1)
        for near in ("name", "year"):
            fs = [r for r in rows if r["kind"] == "near" and r.get("near") == near]
            if fs:
                refused[f"near-{near}"] = round(100 * sum(probability(r["f"], weights) < th for r in fs) / len(fs), 1)
        out[name] = refused
    return out


GROUPS = {"squad": ("squad-a", "squad-b"), "covid": ("covid",), "sec-10q": ("sec-10q",)}
# the model the app shipped before this benchmark (fitted on SQuAD in vs out only)
BEFORE = ({"bias": -10.66, "dense": 17.60, "lexical": 1.67, "agree": -0.79, "coverage": 3.51},
          {"lenient": 0.19, "balanced": 0.46, "strict": 0.81})


def report(collected: dict) -> dict:
    """Each dataset is held out in turn: fitted on the others' libraries, thresholds from their
    answerable questions, measured on its own. `final` is fitted on all (what the app ships)."""
    libs = collected["libraries"]
    for lib in libs.values():
        for row in lib["rows"]:
            row["f"] = row_features(row, lib["info"]["chunks"])
    held_out, fits = {}, {}
    for group, members in GROUPS.items():
        train = [r for lib, v in libs.items() if lib not in members for r in v["rows"]]
        weights = fit(train)
        ths = thresholds(train, weights)
        fits[group] = {"weights": weights, "thresholds": ths}
        held_out.update({lib: rates(libs[lib]["rows"], weights, ths) for lib in members})
    everything = [r for v in libs.values() for r in v["rows"]]
    final_w = fit(everything)
    final_th = thresholds(everything, final_w)
    return {"held_out": held_out, "held_out_fits": fits,
            "final": {"weights": final_w, "thresholds": final_th, "rates": {lib: rates(v["rows"], final_w, final_th) for lib, v in libs.items()}},
            "before": {lib: rates([{**r, "f": r["f"]["before"]} for r in v["rows"]], *BEFORE) for lib, v in libs.items()}}


def print_table(title: str, table: dict) -> None:
    print(f"\n{title}: refused, % of each kind of question")
    print(f"{'library':9s} {'strictness':10s} {'answerable':>10s} {'out':>6s} {'near':>6s} {'n-name':>7s} {'n-year':>7s} {'unans.':>7s}")
    for lib, by in table.items():
        for name, r in by.items():
            print(f"{lib:9s} {name:10s} {r.get('answerable', ''):>10} {r.get('out', ''):>6} {r.get('near', ''):>6} "
                  f"{r.get('near-name', ''):>7} {r.get('near-year', ''):>7} {r.get('impossible', ''):>7}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "citewise-bench-abstain"))
    ap.add_argument("--limit", type=int, default=0, help="questions of each kind (0: the defaults)")
    ap.add_argument("--fit-only", action="store_true")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    os.environ["CITEWISE_CONFIG"] = str(work / "none.toml")
    cache = work / "collected.json"
    if args.fit_only:
        collected = json.loads(cache.read_text())
    else:
        collected = collect(work, args.limit)
        cache.write_text(json.dumps(collected))
    result = report(collected)
    print_table("each dataset held out (fitted on the other two)", result["held_out"])
    print_table("final (fitted on all: what the app ships; in sample)", result["final"]["rates"])
    print_table("before (the model the app shipped: SQuAD in vs out, four features)", result["before"])
    print("\nweights", json.dumps(result["final"]["weights"]), "\nthresholds", json.dumps(result["final"]["thresholds"]))
    out = ROOT / "bench" / "results" / f"abstain-{time.strftime('%Y-%m-%d')}.json"
    out.write_text(json.dumps({
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "libraries": {lib: v["info"] for lib, v in collected["libraries"].items()},
        **result,
        "examples": {lib: [{k: r[k] for k in ("q", "from", "swapped")} for r in v["rows"] if r["kind"] == "near"][:15]
                     for lib, v in collected["libraries"].items()},
    }, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
