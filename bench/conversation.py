"""Follow-up questions on doc2dial: recall@5 of the gold passage per turn, question alone against
Citewise's follow-up retrieval (retrieval/followup.py), in one run.

    .venv/bin/python bench/conversation.py                     # all 661 dialogues
    .venv/bin/python bench/conversation.py --dialogues 150     # a quick look (fixed seed)
    .venv/bin/python bench/conversation.py --grid               # other weights (all methods on the tuning half only)
    .venv/bin/python bench/conversation.py --methods citewise   # one method (its own JSON)

Data: ../shared/data/doc2dial-val (661 real dialogues over 273 US-government service pages, 3,972
graded user turns, 3,312 of them follow-ups; MANIFEST.md). The 273 documents are written as text
files and indexed by the app's own pipeline (Services → Library, the bundled MiniLM, embedded
Chroma, FTS5), once, in the work dir.

A retrieved chunk is a hit when it is from the dialogue's document and its character span overlaps
the gold passage (located in the text as indexed: the text loader strips leading blank lines). Per turn, each method retrieves 5 passages:
- alone: the question by itself (what Citewise did before);
- questions: the earlier questions read with it, nothing else (context weight only);
- citewise: the default follow-up context (FollowUpSettings): earlier questions, the documents and
  neighbouring passages of what the previous turn retrieved;
- condense (with --condense GGUF|bundled): a model rewrites each follow-up as a standalone question
  (retrieval/condense.py; llama.cpp), searched with the citewise context when the rewrite is
  accepted, the question read with the context otherwise (as the app does). The model is shown
  the earlier questions and, as each one's answer, the first 400 characters of the passage the
  method retrieved first (the app shows it its answers). Reported: the share of rewrites accepted.
A method's history is its own: the passages it retrieved at the earlier turns (what the app would
have cited), never the gold passages, and only the user's questions (the app has no agent).
Also per turn: whether abstention (balanced) refuses it, judged on the question alone and on the
question read with its context; every turn has a gold passage, so each refusal is a false one.
Topic changes: after each dialogue's last turn, the first question of another dialogue (another
document, drawn with a fixed seed) is asked with this dialogue's context: a follow-up method must
find its passage as well as the question alone does.
The dialogues are split by a fixed seed into a tuning half (where --grid tries weights) and a
held-out half; recall is reported on both. JSON: bench/results/conversation-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "doc2dial-val" / "doc2dial_val.json"
K = 5


def open_library(work: Path, documents: list[dict]):
    from app.services import build_services
    from app.settings import load_settings

    folder = work / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    path_of = {}
    for i, d in enumerate(documents):
        name = f"{i:03d}-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in d["doc_id"])[:80] + ".txt"
        p = folder / name
        if not p.exists() or p.read_text(encoding="utf-8") != d["text"]:
            p.write_text(d["text"], encoding="utf-8")
        path_of[d["doc_id"]] = str(p.resolve())
    settings = load_settings(work / "none.toml", data_dir=work / "data")
    services = build_services(settings)
    library = services.library("doc2dial")
    t = time.perf_counter()
    *_, last = library.add([str(folder)])
    return services, library, path_of, round(time.perf_counter() - t, 1), last


def indexed_texts(documents: list[dict], path_of: dict[str, str]) -> dict[str, str]:
    """Each document's text as the app indexed it (one unit: the text loader strips the leading
    blank lines and more, so chunk offsets are offsets into this, not into the dataset's text)."""
    from indexing.loaders import load_document

    out = {}
    for d in documents:
        units = load_document(Path(path_of[d["doc_id"]])).units
        assert len(units) == 1, d["doc_id"]
        out[d["doc_id"]] = units[0].text
    return out


def gold_span(text: str, turn: dict) -> tuple[int, int]:
    """The gold passage's span in the indexed text: the occurrence of its words nearest to where
    the dataset puts it (all 3,972 are found verbatim)."""
    answer = turn["answer_text"].strip()
    starts, at = [], text.find(answer)
    while at >= 0:
        starts.append(at)
        at = text.find(answer, at + 1)
    if not starts:
        raise ValueError(f"gold passage not in the indexed text: {answer[:60]!r}")
    start = min(starts, key=lambda a: abs(a - turn["answer_start"]))
    return start, start + len(answer)


def hit(passages, path: str, start: int, end: int) -> bool:
    return any(p.chunk.path == path and p.chunk.start < end and p.chunk.end > start for p in passages)


def run_method(retriever, dialogues, path_of, follow, topic_changes, texts, engine=None) -> list[dict]:
    """Each dialogue's turns in order, the method's own history; then its topic-change turn.
    With `engine`, follow-ups (and the topic change) are first rewritten by it (condense)."""
    from retrieval.followup import context_for, turn_of

    def ask(question, history):
        query, accepted = question, None
        if engine is not None and history:
            query = condensed(engine, question, history) or question
            accepted = query != question
        context = context_for(history, follow, query) if follow is not None else None
        passages = retriever.search(query, K, context=context)
        return query, context, passages, {} if accepted is None else {"rewritten": accepted, "query": query}

    rows = []
    for dial in dialogues:
        history = []
        path = path_of[dial["doc_id"]]
        for i, turn in enumerate(dial["turns"]):
            query, context, passages, extra = ask(turn["question"], history)
            rows.append({"dial": dial["dial_id"], "kind": "first" if i == 0 else "follow-up",
                         "hit": hit(passages, path, *gold_span(texts[dial["doc_id"]], turn)),
                         "doc": any(p.chunk.path == path for p in passages),
                         **refusals(query, context, passages, retriever), **extra})
            history.append(turn_of(turn["question"], passages))
            if passages:
                history[-1].answer = " ".join(passages[0].chunk.text.split())[:400]
        other = topic_changes[dial["dial_id"]]
        query, context, passages, extra = ask(other["question"], history)
        rows.append({"dial": dial["dial_id"], "kind": "topic change",
                     "hit": hit(passages, path_of[other["doc_id"]], *gold_span(texts[other["doc_id"]], other)),
                     "doc": any(p.chunk.path == path_of[other["doc_id"]] for p in passages),
                     **refusals(query, context, passages, retriever), **extra})
    return rows


def condensed(engine, question: str, history) -> str | None:
    """The engine's standalone rewrite of `question`, when retrieval/condense.py accepts it."""
    from retrieval.condense import MAX_TOKENS, accept, condense_messages

    reply = "".join(engine.stream_chat(condense_messages(question, history), max_tokens=MAX_TOKENS,
                                       temperature=0.0, repetition_penalty=1.15))
    return accept(question, reply, history)


def refusals(question: str, context, passages, retriever) -> dict:
    """Whether abstention (balanced) refuses the turn, judged on the question alone and on the
    question read with its context (the gold passage exists for every turn: a refusal is false)."""
    from retrieval.abstain import decide

    out = {"refused": decide(question, passages, "balanced", passages.topic, retriever).refuse}
    if context is not None and context.text:
        out["refused_in_context"] = decide(f"{context.text} {question}", passages, "balanced", passages.topic, retriever).refuse
    else:
        out["refused_in_context"] = out["refused"]
    return out


def summary(rows: list[dict], dials: set[str]) -> dict:
    out = {}
    for kind in ("first", "follow-up", "topic change"):
        sel = [r for r in rows if r["kind"] == kind and r["dial"] in dials]
        if sel:
            out[kind] = {"n": len(sel), "recall@5": round(100 * sum(r["hit"] for r in sel) / len(sel), 1),
                         "doc@5": round(100 * sum(r["doc"] for r in sel) / len(sel), 1),
                         "refused": round(100 * sum(r["refused"] for r in sel) / len(sel), 1),
                         "refused_in_context": round(100 * sum(r["refused_in_context"] for r in sel) / len(sel), 1)}
            asked = [r for r in sel if "rewritten" in r]
            if asked:
                out[kind]["rewrites_accepted"] = round(100 * sum(r["rewritten"] for r in asked) / len(asked), 1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dialogues", type=int, default=0, help="a sample of this many (0: all 661)")
    ap.add_argument("--grid", action="store_true", help="try weights on the tuning half")
    ap.add_argument("--variants", action="store_true", help="also the reliance fade's alternatives")
    ap.add_argument("--methods", help="only these methods, comma-separated (e.g. citewise)")
    ap.add_argument("--condense", metavar="GGUF", help="also the condense method, rewrites by this GGUF model "
                    "through llama.cpp ('bundled': SmolLM2-135M)")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "citewise-bench-conversation")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not DATA.exists():
        print(f"needs {DATA}")
        return 2
    from retrieval.followup import FollowUpSettings

    data = json.loads(DATA.read_text(encoding="utf-8"))
    services, library, path_of, build_s, last = open_library(args.work, data["documents"])
    texts = indexed_texts(data["documents"], path_of)
    print(f"library: {library.stats()} (indexed in {build_s} s)")

    rng = random.Random(20261127)
    dialogues = list(data["conversations"])
    rng.shuffle(dialogues)
    if args.dialogues:
        dialogues = dialogues[: args.dialogues]
    tuning = {d["dial_id"] for d in dialogues[::2]}
    held = {d["dial_id"] for d in dialogues[1::2]}
    topic_changes = {}
    for d in dialogues:
        other = rng.choice([o for o in data["conversations"] if o["doc_id"] != d["doc_id"]])
        topic_changes[d["dial_id"]] = {**other["turns"][0], "doc_id": other["doc_id"]}

    retriever = library.retriever
    default = FollowUpSettings()
    methods = {
        "alone": None,
        "questions": replace(default, document_bonus=0.0, near_bonus=0.0),
        "citewise": default,
    }
    if args.variants:  # how much a question that says more leans on the conversation
        methods["no fading"] = replace(default, fade=0.0)
        methods["fade 1"] = replace(default, fade=1.0)
        methods["fade 4"] = replace(default, fade=4.0)
    if args.grid:  # one change at a time from the default, then together (tuning half only)
        grid = {"weight 1.0": dict(weight=1.0), "turns 3": dict(turns=3), "document 2": dict(document_bonus=2 / 61),
                "near 1": dict(near_bonus=1 / 61), "all four": dict(weight=1.0, turns=3, document_bonus=2 / 61, near_bonus=1 / 61),
                "turns 3 + document 2": dict(turns=3, document_bonus=2 / 61),
                "turns 3 + document 2 + near 1": dict(turns=3, document_bonus=2 / 61, near_bonus=1 / 61)}
        for name, change in grid.items():
            methods[name] = replace(default, **change)
    engine = None
    if args.condense:
        from app.engines.llamacpp import LlamaCppEngine

        engine = LlamaCppEngine(args.condense, context_tokens=4096)
        methods["condense"] = default
    if args.methods:
        methods = {name: methods[name] for name in args.methods.split(",")}
    results = {}
    for name, follow in methods.items():
        t = time.perf_counter()
        subset = [d for d in dialogues if d["dial_id"] in tuning] if args.grid else dialogues
        rows = run_method(retriever, subset, path_of, follow, topic_changes, texts,
                          engine if name == "condense" else None)
        results[name] = {"tuning": summary(rows, tuning), "held-out": summary(rows, held),
                         "settings": None if follow is None else follow.__dict__, "seconds": round(time.perf_counter() - t, 1)}
        r = results[name]
        if name == "condense":  # what the model wrote: the first 40 searched
            r["model"] = args.condense
            r["samples"] = [{k: row[k] for k in ("kind", "query", "hit")} for row in rows if "query" in row][:40]
        print(f"{name:<24} " + "  ".join(
            f"{part} {kind} {r[part].get(kind, {}).get('recall@5', '-')}" for part in ("tuning", "held-out")
            for kind in ("first", "follow-up", "topic change")), flush=True)

    print(f"\n{'method':<24}{'first':>8}{'follow-up':>11}{'topic change':>14}   (recall@5 %, held-out half)")
    for name, r in results.items():
        h = r["held-out"]
        if h:
            accepted = h["follow-up"].get("rewrites_accepted")
            print(f"{name:<24}{h['first']['recall@5']:>8}{h['follow-up']['recall@5']:>11}{h['topic change']['recall@5']:>14}"
                  + (f"   rewrites accepted: {accepted} % of follow-ups" if accepted is not None else ""))
    suffix = "-grid" if args.grid else f"-{args.methods.replace(',', '-')}" if args.methods else "-condense" if engine else ""
    out = ROOT / "bench" / "results" / f"conversation-{time.strftime('%Y-%m-%d')}{suffix}.json"
    out.write_text(json.dumps({"dialogues": len(dialogues), "library": library.stats(), "index_s": build_s,
                               "k": K, "results": results}, indent=1))
    print("wrote", out.relative_to(ROOT))
    services.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
