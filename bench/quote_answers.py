"""Quote answers on prose: is the gold answer in what Citewise says, before and after reading the question?

    .venv/bin/python bench/quote_answers.py               # 400 questions per dataset (~10 min here)
    .venv/bin/python bench/quote_answers.py --limit 0     # all of them

Quote mode answers with the passages' own sentences. Since issue 29 it first reads the question
(retrieval/question.py): a sentence holding an answer of the kind asked (a figure for "how much",
a date for "when") ranks above one that only shares words, and a figure in a table row opens the
answer (retrieval/answers.py). This runs both answer paths in one process over the same
libraries and passages — `before`: the question unread (no kind bonus, no figure line), the
quote path as it was; `now`: the app's — on SQuAD 2.0's answerable dev questions and COVID-QA
(../shared/data), and scores whether a gold answer is contained in the answer text, in its first
line, and the share refused. Retrieval is the same for both (one search per question), so
recall@5 is reported once. Writes bench/results/quote-answers-<date>.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from indexing.offline import offline_env  # noqa: E402  (the app's own: no hub, no telemetry)

offline_env()

from bench.retrieval import Locator, load_covid, load_squad, overlaps, write_docs  # noqa: E402


def ask_both(chat, question: str):
    """The answer as the app gives it now, and as the quote path gave it before issue 29."""
    import app.chat as chat_module
    import retrieval.quote as quote

    from app.chat import Done

    now = [e for e in chat.ask(question, mode="quote") if isinstance(e, Done)][0].answer
    bonus, direct = quote.kind_bonus, chat_module.direct_answer
    quote.kind_bonus = lambda reading, sentence: 0.0
    chat_module.direct_answer = lambda *a, **k: None
    try:
        before = [e for e in chat.ask(question, mode="quote") if isinstance(e, Done)][0].answer
    finally:
        quote.kind_bonus, chat_module.direct_answer = bonus, direct
    return before, now


def contained(answer, golds) -> tuple[bool, bool]:
    text = answer.text.lower()
    first = text.split("\n")[0]
    return any(g.lower() in text for g in golds), any(g.lower() in first for g in golds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=400, help="questions per dataset (0 = all)")
    ap.add_argument("--datasets", default="squad2,covid-qa")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    random.seed(11)
    work = Path(tempfile.mkdtemp(prefix="citewise-bench-quote-"))
    os.environ["CITEWISE_CONFIG"] = str(work / "none.toml")
    from app.services import build_services
    from app.settings import load_settings

    results: dict = {"machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                                 "cores": os.cpu_count()}, "datasets": {}}
    covid_docs, covid_q = load_covid()
    squad_docs, squad_q, _ = load_squad()
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"quote-answers-{time.strftime('%Y-%m-%d')}.json"
    for name, docs, questions in (("squad2", squad_docs, squad_q), ("covid-qa", covid_docs, covid_q)):
        if name not in args.datasets.split(","):
            continue
        if args.limit:
            questions = random.sample(questions, min(args.limit, len(questions)))
        folder = work / name
        write_docs(docs, folder)
        settings = load_settings(work / "none.toml", data_dir=work / f"cw-{name}")
        services = build_services(settings)
        library = services.library(name)
        t = time.perf_counter()
        for _ in library.add([str(folder)]):
            pass
        build_s = time.perf_counter() - t
        chat = services.chat(name)
        locator = Locator(docs)
        counts = {k: 0 for k in ("before_in", "before_first", "now_in", "now_first", "before_refused", "now_refused", "hit@5")}
        t = time.perf_counter()
        for q in questions:
            before, now = ask_both(chat, q["q"])
            golds = q["answers"]
            for label, answer in (("before", before), ("now", now)):
                inside, first = contained(answer, golds) if not answer.refused else (False, False)
                counts[f"{label}_in"] += inside
                counts[f"{label}_first"] += first
                counts[f"{label}_refused"] += answer.refused
            passages = library.retriever.search(q["q"], k=5)
            counts["hit@5"] += any(Path(p.chunk.path).name == q["doc"] and overlaps(
                locator.span(Path(p.chunk.path).name, p.chunk.text), q.get("paragraph") or q["span"]) for p in passages)
        n = max(len(questions), 1)
        results["datasets"][name] = {
            "questions": len(questions), "build_s": round(build_s, 1), "query_s": round(time.perf_counter() - t, 1),
            **{f"{k}_%": round(100.0 * v / n, 1) for k, v in counts.items()},
        }
        print(name, results["datasets"][name], flush=True)
        services.close()
        out.write_text(json.dumps(results, indent=2))  # after each dataset: a long run stopped keeps what it measured
    print(f"\n{'data':9s} {'q':>5s} {'gold in answer before → now':>28s} {'on first line before → now':>27s} {'refused':>8s} {'recall@5':>8s}")
    for name, r in results["datasets"].items():
        print(f"{name:9s} {r['questions']:5d} {r['before_in_%']:>13.1f} → {r['now_in_%']:<12.1f} "
              f"{r['before_first_%']:>12.1f} → {r['now_first_%']:<12.1f} {r['now_refused_%']:8.1f} {r['hit@5_%']:8.1f}")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
