"""How good are the answers: Citewise vs plain llama-index vs tuned llama-index, one run.

    .venv/bin/python bench/retrieval.py                 # retrieval (~20 min here; abstention: bench/abstain.py)
    .venv/bin/python bench/retrieval.py --answers 100   # + 100 SQuAD answers with the bundled model
    .venv/bin/python bench/retrieval.py --systems citewise,citewise-lexical --out bench/results/retrieval-<date>-lexical.json

Three systems, same machine, same embedder (the bundled all-MiniLM-L6-v2):
- plain llama-index: the starter tutorial (SimpleDirectoryReader, VectorStoreIndex.from_documents,
  default 1,024-token SentenceSplitter chunks, which MiniLM truncates to 256 word-pieces);
- tuned llama-index: SentenceSplitter sized to the embedder (256 of its word-pieces);
- Citewise: its own pipeline and hybrid retriever (dense + BM25, fused), through the app's services;
- citewise-lexical: the same library searched by its words alone (BM25, the dense list weighted 0):
  what an answer is worth while a file's vectors are still being written (it is searchable by its
  words as soon as it is read).
Data: ../shared/data/covid-qa (98 papers, 1,380 questions) and ../shared/data/squad2-dev (each
article one document). A hit is a retrieved chunk overlapping the gold answer's span in the
source document. Writes bench/results/retrieval-<date>.json and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from indexing.offline import offline_env  # noqa: E402  (the app's own: no hub, no telemetry)

offline_env()

from app.textspan import fold  # noqa: E402  (after the path and environment are set)

DATA = ROOT.parent / "shared" / "data"
KS = (1, 5, 10)


# -- data ----------------------------------------------------------------------------------------


def load_covid():
    raw = json.loads((DATA / "covid-qa" / "200423_covidQA.json").read_text(encoding="utf-8"))
    docs, questions = {}, []
    for art in raw["data"]:
        for par in art["paragraphs"]:
            name = f"covid-{par['document_id'] if 'document_id' in par else len(docs)}.txt"
            docs[name] = par["context"]
            for qa in par["qas"]:
                ans = qa["answers"][0]
                start = ans["answer_start"]
                if par["context"][start : start + len(ans["text"])] != ans["text"]:
                    start = par["context"].find(ans["text"])  # 234 offsets are a few characters off
                if start < 0:
                    continue
                questions.append({"q": qa["question"], "doc": name, "span": (start, start + len(ans["text"])), "answers": [ans["text"]]})
    return docs, questions


def load_squad():
    raw = json.loads((DATA / "squad2-dev" / "dev-v2.0.json").read_text(encoding="utf-8"))
    docs, answerable, impossible = {}, [], []
    for art in raw["data"]:
        name = re.sub(r"[^A-Za-z0-9]+", "_", art["title"]).strip("_") + ".txt"
        parts, offset = [], 0
        for par in art["paragraphs"]:
            ctx = par["context"]
            for qa in par["qas"]:
                item = {"q": qa["question"], "doc": name, "paragraph": (offset, offset + len(ctx))}
                if qa.get("is_impossible"):
                    impossible.append(item)
                else:
                    a = qa["answers"][0]
                    item["span"] = (offset + a["answer_start"], offset + a["answer_start"] + len(a["text"]))
                    item["answers"] = sorted({x["text"] for x in qa["answers"]})
                    answerable.append(item)
            parts.append(ctx)
            offset += len(ctx) + 2
        docs[name] = "\n\n".join(parts)
    return docs, answerable, impossible


# -- spans: where a retrieved chunk lies in the raw document -------------------------------------


class Locator:
    """Finds a chunk's text in its raw document, insensitive to whitespace and NFKC folding."""

    def __init__(self, docs: dict[str, str]):
        self.docs = {name: fold(text) for name, text in docs.items()}

    def span(self, doc: str, chunk_text: str, hint: int = 0) -> tuple[int, int] | None:
        hay, where = self.docs[doc]
        needle = fold(chunk_text)[0].strip()
        if not needle:
            return None
        at = hay.find(needle)
        if at < 0:
            at = hay.find(needle[:120])
            if at < 0:
                return None
            return where[at], where[min(at + len(needle), len(where)) - 1] + 1
        return where[at], where[at + len(needle) - 1] + 1


def overlaps(a, b) -> bool:
    return a is not None and a[0] < b[1] and b[0] < a[1]


def score(ranked_spans: list[list[tuple[str, tuple[int, int] | None]]], questions) -> dict[str, float]:
    hits = {k: 0 for k in KS}
    rr = 0.0
    for spans, q in zip(ranked_spans, questions):
        first = None
        for rank, (doc, span) in enumerate(spans[: max(KS)]):
            if doc == q["doc"] and overlaps(span, q["span"]):
                first = rank
                break
        for k in KS:
            hits[k] += first is not None and first < k
        rr += 1.0 / (first + 1) if first is not None else 0.0
    n = max(len(questions), 1)
    out = {f"recall@{k}": round(100.0 * hits[k] / n, 2) for k in KS}
    out["mrr@10"] = round(rr / n, 4)
    out["questions"] = len(questions)
    return out


# -- the systems ---------------------------------------------------------------------------------


def write_docs(docs: dict[str, str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")


def llama_index_system(folder: Path, docs, tuned: bool):
    from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from indexing.embedder import bundled_embedding_dir

    model_dir = str(bundled_embedding_dir())
    Settings.embed_model = HuggingFaceEmbedding(model_name=model_dir, device="cpu")
    Settings.llm = None
    documents = SimpleDirectoryReader(str(folder)).load_data()
    t = time.perf_counter()
    if tuned:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        for doc in documents:  # only the text is embedded, so a chunk's 254 word-pieces are all text
            doc.excluded_embed_metadata_keys = list(doc.metadata)
            doc.excluded_llm_metadata_keys = list(doc.metadata)
        splitter = SentenceSplitter(
            chunk_size=254, chunk_overlap=32, include_metadata=False,
            tokenizer=lambda s: tok.encode(s, add_special_tokens=False).ids,
        )
        index = VectorStoreIndex.from_documents(documents, transformations=[splitter])
    else:
        index = VectorStoreIndex.from_documents(documents)  # the starter tutorial: default 1,024-token chunks
    build_s = time.perf_counter() - t
    retriever = index.as_retriever(similarity_top_k=max(KS))
    names = {d.id_: d.metadata.get("file_name") for d in documents}

    def search(question: str):
        out = []
        for nws in retriever.retrieve(question):
            node = nws.node
            name = node.metadata.get("file_name") or names.get(node.ref_doc_id)
            span = (node.start_char_idx, node.end_char_idx) if node.start_char_idx is not None else None
            out.append((name, span))
        return out

    chunks = len(index.docstore.docs)
    return search, {"build_s": round(build_s, 1), "chunks": chunks}


def citewise_system(folder: Path, docs, work: Path, embedder):
    from app.services import build_services
    from app.settings import load_settings

    settings = load_settings(work / "none.toml", data_dir=work / "data")
    services = build_services(settings, embedder=embedder)
    library = services.library("bench")
    t = time.perf_counter()
    for _ in library.add([str(folder)]):
        pass
    build_s = time.perf_counter() - t
    retriever = library.retriever
    locator = Locator(docs)

    def search(question: str, k: int = max(KS)):
        return retriever.search(question, k=k)

    def spans(passages):
        out = []
        for p in passages:
            name = Path(p.chunk.path).name
            out.append((name, locator.span(name, p.chunk.text)))
        return out

    return services, search, spans, {"build_s": round(build_s, 1), "chunks": library.stats()["chunks"]}


def lexical_search(services, docs):
    """The library's retriever with the dense list weighted 0: BM25 (and the bonuses for named
    documents) alone."""
    from dataclasses import replace

    library = services.library("bench")
    retriever = library.retriever
    settings = retriever.settings
    locator = Locator(docs)

    def search(question: str, k: int = max(KS)):
        retriever.settings = replace(settings, dense_weight=0.0)
        try:
            return retriever.search(question, k=k)
        finally:
            retriever.settings = settings

    def spans(passages):
        return [(Path(p.chunk.path).name, locator.span(Path(p.chunk.path).name, p.chunk.text)) for p in passages]

    return search, spans, {"build_s": 0.0, "chunks": library.stats()["chunks"]}


# -- main ----------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="questions per dataset (0 = all)")
    ap.add_argument("--answers", type=int, default=0, help="SQuAD questions to answer with the bundled model")
    ap.add_argument("--systems", default="plain,tuned,citewise")
    ap.add_argument("--out", default="", help="the JSON file (default bench/results/retrieval-<date>.json)")
    args = ap.parse_args()
    random.seed(7)
    work = Path(tempfile.mkdtemp(prefix="citewise-bench-retrieval-"))
    os.environ["CITEWISE_CONFIG"] = str(work / "none.toml")
    from indexing.embedder import Embedder

    embedder = Embedder("bundled", device="cpu")
    embedder.embed(["warm up"])
    results: dict = {"machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                                 "cores": os.cpu_count()}, "datasets": {}}
    systems = args.systems.split(",")
    opened = {}  # dataset -> (services, search) of Citewise, reused by the abstention checks

    covid_docs, covid_q = load_covid()
    squad_docs, squad_q, _unanswerable = load_squad()
    if args.limit:
        covid_q = random.sample(covid_q, min(args.limit, len(covid_q)))
        squad_q = random.sample(squad_q, min(args.limit, len(squad_q)))
    for name, docs, questions in (("covid-qa", covid_docs, covid_q), ("squad2", squad_docs, squad_q)):
        folder = work / name
        write_docs(docs, folder)
        table = {}
        for system in systems:
            t = time.perf_counter()
            if system in ("plain", "tuned"):
                search, info = llama_index_system(folder, docs, tuned=system == "tuned")
                ranked = [search(q["q"]) for q in questions]
            elif system == "citewise-lexical":  # the library "citewise" built, by its words alone
                if name not in opened:
                    opened[name] = citewise_system(folder, docs, work / f"cw-{name}", embedder)[:2]
                services, _ = opened[name]
                search, spans, info = lexical_search(services, docs)
                ranked = [spans(search(q["q"])) for q in questions]
            else:
                services, search, spans, info = citewise_system(folder, docs, work / f"cw-{name}", embedder)
                ranked = [spans(search(q["q"])) for q in questions]
                opened[name] = (services, search)
            info["query_s"] = round(time.perf_counter() - t - info["build_s"], 1)
            table[system] = {**score(ranked, questions), **info}
            print(f"{name:9s} {system:9s} " + "  ".join(f"{k}={v}" for k, v in table[system].items()), flush=True)
        results["datasets"][name] = table

    if "citewise" in systems:  # abstention: bench/abstain.py
        for services, _ in opened.values():
            services.close()
        if args.answers:
            results["answers"] = answers(work, squad_docs, squad_q, embedder, args.answers)
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"retrieval-{time.strftime('%Y%m%d')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print_tables(results)
    print(f"\nwrote {out}")


def answers(work, squad_docs, squad_q, embedder, n):
    """Generated vs quoted answers on n SQuAD questions: gold contained, citation precision."""
    from app.chat import Done
    from app.services import build_services
    from app.settings import load_settings

    folder = work / "answers"
    write_docs(squad_docs, folder)
    sample = random.sample(squad_q, n)
    out = {}
    for mode in ("quote", "generate"):
        settings = load_settings(work / "none.toml", data_dir=work / "cw-answers", **{"retrieval.answer_mode": mode, "llm.engine": os.environ.get("BENCH_ENGINE", "auto")})
        services = build_services(settings, embedder=embedder)
        library = services.library("answers")
        for _ in library.add([str(folder)]):
            pass
        locator = Locator(squad_docs)
        contained = cited = precise = refused = unsupported = total_sent = 0
        t = time.perf_counter()
        for q in sample:
            answer = [e for e in services.chat("answers").ask(q["q"]) if isinstance(e, Done)][0].answer
            if answer.refused:
                refused += 1
                continue
            norm = answer.text.lower()
            contained += any(a.lower() in norm for a in q["answers"])
            for c in answer.citations:
                cited += 1
                name = Path(c.passage.chunk.path).name
                precise += name == q["doc"] and overlaps(locator.span(name, c.passage.chunk.text), q["paragraph"])
            total_sent += len(answer.sentences)
            unsupported += sum(1 for s in answer.sentences if not s.supported and len(s.text.split()) >= 3)
        out[mode] = {
            "questions": n, "refused": refused,
            "gold_contained_%": round(100 * contained / n, 1),
            "citation_precision_%": round(100 * precise / max(cited, 1), 1),
            "sentences": total_sent, "unsupported_sentences": unsupported,
            "seconds_per_answer": round((time.perf_counter() - t) / n, 2),
        }
        print(f"answers {mode}: {out[mode]}", flush=True)
        services.close()
    return out


def print_tables(results):
    print("\nrecall@k (%) and MRR@10; a hit = a retrieved chunk overlapping the gold answer span")
    for name, table in results["datasets"].items():
        print(f"\n{name}")
        print(f"{'system':10s} {'R@1':>6s} {'R@5':>6s} {'R@10':>6s} {'MRR':>7s} {'chunks':>7s}")
        for system, r in table.items():
            print(f"{system:10s} {r['recall@1']:6.1f} {r['recall@5']:6.1f} {r['recall@10']:6.1f} {r['mrr@10']:7.3f} {r['chunks']:7d}")
    if "answers" in results:
        print("\nanswers with the bundled model")
        for mode, r in results["answers"].items():
            print(f"  {mode:8s} {r}")


if __name__ == "__main__":
    main()
