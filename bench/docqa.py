"""Real business documents: Citewise vs tuned llama-index on 20 SEC 10-Q filings, one run.

    .venv/bin/python bench/docqa.py                  # all 195 questions (~15 min here)
    .venv/bin/python bench/docqa.py --limit 40       # a quick look

Data: ../shared/data/sec-10q (docugami KG-RAG, MIT): 20 quarterly reports of five companies,
1,037 pages full of tables and running headers, and 195 reviewed questions (130 about one filing,
65 about a company's four; 114 answered from tables). Both systems index the same 20 PDFs with
the same embedder (the bundled all-MiniLM-L6-v2):
- tuned llama-index (the peer): SimpleDirectoryReader with its own PDF reader
  (llama-index-readers-file: pypdf, one document per page), SentenceSplitter sized to the
  embedder (254 word-pieces, overlap 32), top-5 by cosine, and its answer: llama-index's
  response synthesizer (compact mode) over those nodes with the bundled SmolLM2-135M through
  the same llama.cpp engine (`--peer-answers off` leaves it out: ~3 s a question here);
- Citewise: the app's pipeline and retriever (`Library.add`, `Library.retriever`), and its
  quote answer (`Chat.ask(mode="quote")`) through the app's services: the figure the question
  asks for on the first line where a table row states it (retrieval/answers.py).

There is no gold page. Scored, per question:
- file@1: the first cited file (Citewise: the quote answer's first citation; the peer: its best
  passage) matches `Source Docs` (a glob such as `*2023 Q3 NVDA*` or `*AAPL*`);
- figures@5: the reference answer's key figures (its numbers with at least three digits or a
  decimal point, years and dates left out) — the share of questions where at least one of
  them is in the top-5 passages; figures@answer: in the answer; figures@first_line: on the
  answer's first line (what a reader reads first; a quoted row under its headings counts whole);
  a figure in millions also counts as the billions it rounds to (7,730 is "$7.7 billion");
- refusals (Citewise says the documents do not hold it; every question here is answerable).
Split by Source Chunk Type (Table/Text) and by Question Type (single/multi-document).
Writes bench/results/docqa-<date>.json and prints the table.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
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

DATA = ROOT.parent / "shared" / "data" / "sec-10q"
K = 5
_NUMBER = re.compile(r"(?<![\w.])\$?\(?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+|\d{3,})\)?%?")
_MONTH = re.compile(r"(January|February|March|April|May|June|July|August|September|October|November|December)\s+\d{1,2},?\s*$", re.I)


def load_questions() -> list[dict]:
    with open(DATA / "qna_data.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in rows:
        out.append({
            "q": r["Question"].strip(),
            "answer": r["Answer"],
            "glob": r["Source Docs"].strip(),
            "type": "single" if r["Question Type"].startswith("Single") else "multi",
            "chunk_type": r["Source Chunk Type"].strip(),
        })
    return out


def key_figures(answer: str) -> set[str]:
    """The numbers of a reference answer that identify a fact: 36,413 / 12.5 / 7,442 — not a
    year (2023), not a day of a date, not a SOURCE line's file name."""
    text = answer.split("SOURCE")[0]
    found = set()
    for m in _NUMBER.finditer(text):
        raw = m.group(1)
        plain = raw.replace(",", "")
        if re.fullmatch(r"(19|20)\d\d", plain):
            continue
        if _MONTH.search(text[max(0, m.start() - 14) : m.start()]):
            continue
        found.add(normal_figure(raw))
        # "$23.198 billion" is the statements' "23,198" (in millions)
        if re.fullmatch(r"\d+\.\d{3}", plain) and re.match(r"\s*billion", text[m.end() : m.end() + 9]):
            found.add(str(int(round(float(plain) * 1000))))
    return found


def normal_figure(raw: str) -> str:
    plain = raw.replace(",", "")
    if "." in plain:
        plain = plain.rstrip("0").rstrip(".")
    return plain


def figures_in(text: str) -> set[str]:
    """The figures of a text, and each amount of four digits or more also as the billions it
    rounds to: a statement's 7,730 (in millions) is the reference's "$7.7 billion" (both
    systems are scored so)."""
    out = set()
    for m in _NUMBER.finditer(text):
        raw = normal_figure(m.group(1))
        out.add(raw)
        if "." not in raw and len(raw) >= 4:
            value = int(raw) / 1000
            out.update(normal_figure(f"{value:.{d}f}") for d in (1, 2, 3))
    return out


def first_line(answer: str) -> str:
    """What a reader reads first: the answer's first line (a quoted row's headings and the row
    count as one line when the answer opens with the quote)."""
    lines = [ln for ln in answer.split("\n") if ln.strip()]
    if not lines:
        return ""
    head = lines[0]
    if " | " in head and not figures_in(head) and len(lines) > 1:  # headings over a row: the row is the line
        return " ".join(lines[:4])
    return head


def file_ok(path: str | None, glob: str) -> bool:
    return bool(path) and fnmatch.fnmatch(Path(path).name, glob)


# -- the systems ---------------------------------------------------------------------------------


def peer_system(folder: Path, answers: bool = True):
    from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from tokenizers import Tokenizer

    from indexing.embedder import bundled_embedding_dir

    model_dir = str(bundled_embedding_dir())
    Settings.embed_model = HuggingFaceEmbedding(model_name=model_dir, device="cpu", embed_batch_size=8)
    Settings.llm = None
    t = time.perf_counter()
    documents = SimpleDirectoryReader(str(folder), required_exts=[".pdf"]).load_data()
    tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    for doc in documents:
        doc.excluded_embed_metadata_keys = list(doc.metadata)
        doc.excluded_llm_metadata_keys = list(doc.metadata)
    splitter = SentenceSplitter(chunk_size=254, chunk_overlap=32, include_metadata=False,
                                tokenizer=lambda s: tok.encode(s, add_special_tokens=False).ids)
    index = VectorStoreIndex.from_documents(documents, transformations=[splitter])
    build_s = time.perf_counter() - t
    retriever = index.as_retriever(similarity_top_k=K)
    # the splitter runs without metadata: a node's file and page are its source document's
    source = {d.id_: (d.metadata.get("file_name"), d.metadata.get("page_label")) for d in documents}

    synthesizer = peer_synthesizer() if answers else None

    def ask(question: str) -> dict:
        nodes = retriever.retrieve(question)
        passages = [(*source.get(n.node.ref_doc_id, (None, None)), n.node.get_content()) for n in nodes]
        answer = str(synthesizer.synthesize(question, nodes)) if synthesizer is not None else None
        return {"first_file": passages[0][0] if passages else None, "passages": passages, "answer": answer, "refused": False}

    return ask, {"build_s": round(build_s, 1), "chunks": len(index.docstore.docs), "answers": "llama-index compact synthesizer, bundled SmolLM2-135M (llama.cpp)" if answers else None}


def peer_synthesizer():
    """llama-index's own answer step over its retrieved nodes (get_response_synthesizer, compact
    mode) with the bundled SmolLM2-135M, through the same llama.cpp engine Citewise uses."""
    from typing import Any

    from llama_index.core import get_response_synthesizer
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
    from llama_index.core.llms.callbacks import llm_completion_callback

    from app.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine("bundled", context_tokens=4096)

    class Bundled(CustomLLM):
        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(context_window=4096, num_output=256, model_name="SmolLM2-135M-Instruct")

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
            text = "".join(engine.stream_chat([{"role": "user", "content": prompt}], max_tokens=256, temperature=0.1))
            return CompletionResponse(text=text)

        @llm_completion_callback()
        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any):
            raise NotImplementedError

    return get_response_synthesizer(llm=Bundled(), response_mode="compact")


# variants of citewise run on its library: the weight of the vectors' list in the fusion, and what it is
VARIANTS = {"citewise-lexical": (0.0, "keyword search alone (BM25, dense weight 0)"),
            "citewise-dense-half": (0.5, "hybrid with the dense list at half weight (dense weight 0.5)")}


def citewise_system(folder: Path, work: Path):
    from app.chat import Chat, Done
    from app.services import build_services
    from app.settings import load_settings

    settings = load_settings(work / "none.toml", data_dir=work / "data")
    services = build_services(settings)
    library = services.library("docqa")
    t = time.perf_counter()
    for _ in library.add([str(folder)]):
        pass
    build_s = time.perf_counter() - t
    failed = [(Path(r.path).name, r.error) for r in library.manifest.files() if r.status == "failed"]
    chat = Chat(library.retriever, services.engines.engine, services.embedder.embed, services.settings, chunks_of=library.chunks_of)

    def ask(question: str, before: bool = False, dense_weight: float | None = None) -> dict:
        import dataclasses

        import app.chat as chat_module
        import retrieval.quote as quote

        answer = None
        saved = quote.kind_bonus, chat_module.direct_answer
        settings = library.retriever.settings
        if before:  # the quote answer as it was before issue 29: the question unread
            quote.kind_bonus, chat_module.direct_answer = (lambda reading, sentence: 0.0), (lambda *a, **k: None)
        if dense_weight is not None:  # 0: by the words alone, what an answer is worth while the vectors are still written
            library.retriever.settings = dataclasses.replace(settings, dense_weight=dense_weight)
        try:
            for event in chat.ask(question, mode="quote"):
                if isinstance(event, Done):
                    answer = event.answer
            passages = [(p.file_name, p.chunk.page, p.chunk.text) for p in library.retriever.search(question, k=K)]
        finally:
            quote.kind_bonus, chat_module.direct_answer = saved
            library.retriever.settings = settings
        first = answer.citations[0].passage.chunk.path if answer.citations else None
        return {"first_file": first, "passages": passages, "answer": answer.text, "refused": answer.refused}

    info = {"build_s": round(build_s, 1), "chunks": library.stats()["chunks"], "failed_files": failed}
    return ask, info, services


# -- scoring -------------------------------------------------------------------------------------


def score(rows: list[dict]) -> dict:
    def rate(sel, key):
        sel = [r for r in sel if r.get(key) is not None]
        return (round(100.0 * sum(bool(r[key]) for r in sel) / len(sel), 1), len(sel)) if sel else (None, 0)

    groups = {
        "all": rows,
        "single": [r for r in rows if r["type"] == "single"],
        "multi": [r for r in rows if r["type"] == "multi"],
        "table": [r for r in rows if r["chunk_type"] == "Table"],
        "text": [r for r in rows if r["chunk_type"] == "Text"],
        "single-table": [r for r in rows if r["type"] == "single" and r["chunk_type"] == "Table"],
    }
    out = {}
    for name, sel in groups.items():
        out[name] = {
            "file@1_%": rate(sel, "file_ok")[0],
            "figures@5_%": rate(sel, "figures_top5")[0],
            "figures@answer_%": rate(sel, "figures_answer")[0],
            "figures@first_line_%": rate(sel, "figures_first_line")[0],
            "refused_%": rate(sel, "refused")[0],
            "questions": len(sel),
            "with_figures": rate(sel, "figures_top5")[1],
        }
    return out


def run(system: str, ask, questions) -> list[dict]:
    rows = []
    for q in questions:
        t = time.perf_counter()
        got = ask(q["q"])
        figures = key_figures(q["answer"])
        top = figures_in(" ".join(text for _, _, text in got["passages"][:K]))
        row = {
            "q": q["q"], "type": q["type"], "chunk_type": q["chunk_type"], "glob": q["glob"],
            "first_file": Path(got["first_file"]).name if got["first_file"] else None,
            "file_ok": file_ok(got["first_file"], q["glob"]),
            "figures_top5": bool(figures & top) if figures else None,
            "figures_answer": bool(figures & figures_in(got["answer"] or "")) if figures and got["answer"] is not None else None,
            "figures_first_line": (bool(figures & figures_in(first_line(got["answer"] or "")))
                                   if figures and got["answer"] is not None else None),
            "answer_head": (got["answer"] or "")[:300] if got["answer"] is not None else None,
            "reference": q["answer"][:300],
            "refused": got["refused"],
            "seconds": round(time.perf_counter() - t, 3),
        }
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="questions (0 = all 195)")
    ap.add_argument("--systems", default="peer,citewise", help="citewise also runs citewise-before (its answer path of 2026-11-27); "
                    "citewise-lexical: the same library searched by its words alone, citewise-dense-half: "
                    "with the vectors' list at half weight (both with citewise)")
    ap.add_argument("--before", default="on", choices=("on", "off"), help="also run citewise-before (with citewise)")
    ap.add_argument("--out", default="")
    ap.add_argument("--peer-answers", default="on", choices=("on", "off"),
                    help="the peer writes answers with llama-index's synthesizer and the bundled model (slow)")
    ap.add_argument("--work", default="", help="keep Citewise's library here (a rerun only checks the files)")
    args = ap.parse_args()
    if not (DATA / "qna_data.csv").is_file():
        sys.exit(f"docqa: {DATA} is not there (../shared/data/sec-10q)")
    random.seed(7)
    questions = load_questions()
    if args.limit:
        questions = random.sample(questions, min(args.limit, len(questions)))
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="citewise-bench-docqa-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["CITEWISE_CONFIG"] = str(work / "none.toml")
    folder = DATA / "docs"
    results: dict = {
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "data": str(folder), "questions": len(questions), "systems": {},
    }
    details = {}
    for system in args.systems.split(","):
        if system in VARIANTS:
            continue  # run with "citewise", on its library
        t = time.perf_counter()
        if system == "peer":
            ask, info = peer_system(folder, answers=args.peer_answers == "on")
            services = None
        else:
            ask, info, services = citewise_system(folder, work / "cw")
        rows = run(system, ask, questions)
        info["query_s"] = round(time.perf_counter() - t - info["build_s"], 1)
        if system == "citewise" and args.before == "on":  # the same library and retrieval, the answer path of 2026-11-27
            before = run("before", lambda q: ask(q, before=True), questions)
            results["systems"]["citewise-before"] = {"info": {"answer": "quote path before issue 29"}, "scores": score(before)}
            details["citewise-before"] = before
        for variant, (weight, what) in VARIANTS.items():  # the same library, another weight for the vectors
            if system == "citewise" and variant in args.systems.split(","):
                rows_v = run(variant, lambda q, w=weight: ask(q, dense_weight=w), questions)
                results["systems"][variant] = {"info": {"retrieval": what}, "scores": score(rows_v)}
                details[variant] = rows_v
        results["systems"][system] = {"info": info, "scores": score(rows)}
        details[system] = rows
        if services is not None:
            services.close()
        s = results["systems"][system]["scores"]
        print(f"{system:9s} file@1 single {s['single']['file@1_%']}  figures@5 table {s['table']['figures@5_%']}  "
              f"build {info['build_s']} s  chunks {info['chunks']}", flush=True)
    if "peer" in results["systems"] and "citewise" in results["systems"]:
        p, c = results["systems"]["peer"]["scores"], results["systems"]["citewise"]["scores"]
        ratio = lambda a, b: round(a / b, 2) if a is not None and b else None  # noqa: E731
        results["ratios"] = {
            "figures@answer_all": ratio(c["all"]["figures@answer_%"], p["all"]["figures@answer_%"]),
            "figures@first_line_all": ratio(c["all"]["figures@first_line_%"], p["all"]["figures@first_line_%"]),
            "figures@5_table": ratio(c["table"]["figures@5_%"], p["table"]["figures@5_%"]),
            "file@1_single": ratio(c["single"]["file@1_%"], p["single"]["file@1_%"]),
        }
    results["rows"] = details
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"docqa-{time.strftime('%Y-%m-%d')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print_table(results)
    print(f"\nwrote {out}")


def print_table(results: dict) -> None:
    print(f"\n{'system':15s} {'group':13s} {'q':>4s} {'file@1':>7s} {'fig@5':>6s} {'fig@ans':>7s} {'fig@1st':>7s} {'refused':>7s}")
    for system, body in results["systems"].items():
        for group, s in body["scores"].items():
            cells = [s["file@1_%"], s["figures@5_%"], s["figures@answer_%"], s.get("figures@first_line_%"), s["refused_%"]]
            shown = ["-" if v is None else f"{v:.1f}" for v in cells]
            print(f"{system:15s} {group:13s} {s['questions']:4d} {shown[0]:>7s} {shown[1]:>6s} {shown[2]:>7s} {shown[3]:>7s} {shown[4]:>7s}")
    if "ratios" in results:
        print("citewise / peer:", results["ratios"])


if __name__ == "__main__":
    main()
