"""Indexing speed and retrieval quality: Citewise against a tuned llama-index pipeline.

    .venv/bin/pip install -e '.[bench]'      # the peer's packages
    .venv/bin/python bench/indexing.py                      # all paths, all documents
    .venv/bin/python bench/indexing.py --paths peer,bf16 --covid 20 --pdfs 3   # a quick look

One process run indexes the same documents with each path, one after the other:
- peer: SimpleDirectoryReader (+ llama-index-readers-file for PDFs) → SentenceSplitter at 254
  tokens of the embedder's own tokenizer (every word reaches MiniLM's 256-token window), 32
  tokens overlap → HuggingFaceEmbedding (the same bundled MiniLM, batch 8) → ChromaVectorStore;
- citewise-<precision>: Citewise's pipeline (parse workers, length-sorted batches spanning
  files, bulk Chroma writes) with the embedder in fp32, bf16 or int8 (ONNX Runtime).
Documents: the 98 COVID-QA papers, each written as a .txt file, and the text PDFs of
../shared/data/pdfs (INDEX.tsv; encrypted, malformed and image-only ones left out).

Reported per path: words per second (words of the documents' text, each counted once, over the
wall time of indexing with the model already loaded), wall time, peak RSS (this process and its
parse workers, sampled), chunks and tokens embedded, and recall@5 on the 1,380 COVID-QA
questions (a hit: one of the 5 retrieved chunks overlaps the gold answer, located by its text).
For the default Citewise path it also times a re-index of the unchanged library and of the
library with one file edited. JSON goes to bench/results/indexing-<date>.json.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gc
import importlib.util
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
from indexing.offline import offline_env  # noqa: E402  (the app's own: no hub, no telemetry)

offline_env()

TEXT_PDF_CATEGORIES = ("text", "form", "table", "unicode", "scan-with-ocr")


@dataclass
class Result:
    path: str
    wall_s: float = 0.0
    words_per_s: float = 0.0
    peak_rss_mb: float = 0.0
    chunks: int = 0
    tokens: int = 0
    files_indexed: int = 0
    load_s: float = 0.0
    recall_at_5: float | None = None
    notes: dict = field(default_factory=dict)


class RssSampler:
    """Peak resident memory of this process and its children while a block runs."""

    def __init__(self, interval: float = 0.2):
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.proc.memory_info().rss + sum(c.memory_info().rss for c in self.proc.children(recursive=True))
            except Exception:
                rss = 0
            self.peak = max(self.peak, rss)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# -- documents and questions -----------------------------------------------------------------


def prepare_documents(folder: Path, covid_limit: int | None, pdf_limit: int | None):
    """Writes the COVID-QA papers as .txt files and links the text PDFs; returns the questions."""
    data = json.loads((DATA / "covid-qa" / "200423_covidQA.json").read_text())
    questions = []
    for article in data["data"][:covid_limit]:
        for para in article["paragraphs"]:
            name = f"covid-{para['document_id']}.txt"
            context = para["context"]
            (folder / name).write_text(context, encoding="utf-8")
            for qa in para["qas"]:
                answer = qa["answers"][0]
                start = answer["answer_start"]
                if context[start : start + len(answer["text"])] != answer["text"]:
                    # 234 offsets are a few characters off: take the occurrence nearest to it
                    spots = [i for i in _find_all(context, answer["text"])]
                    start = min(spots, key=lambda i: abs(i - start)) if spots else -1
                if start >= 0:
                    questions.append({"q": qa["question"], "file": name, "start": start, "end": start + len(answer["text"])})
    pdfs = []
    with open(DATA / "pdfs" / "INDEX.tsv", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["category"].startswith(TEXT_PDF_CATEGORIES) and "encrypted" not in row["category"]:
                pdfs.append(row["file"])
    from indexing.loaders import load_document
    from indexing.models import DocumentError

    for name in sorted(pdfs)[:pdf_limit]:
        try:  # a few "unicode" PDFs have no text layer at all (vertical Japanese set as outlines)
            load_document(DATA / "pdfs" / name)
        except DocumentError:
            continue
        shutil.copy(DATA / "pdfs" / name, folder / name)
    return questions


def _find_all(text: str, needle: str):
    i = text.find(needle)
    while i >= 0:
        yield i
        i = text.find(needle, i + 1)


def corpus_words(folder: Path) -> int:
    """Words in the documents' text as Citewise's loaders extract it (the same count for every path)."""
    from indexing.loaders import load_document

    words = 0
    for p in sorted(folder.iterdir()):
        words += sum(len(u.text.split()) for u in load_document(p).units)
    return words


def recall_at_5(questions, search) -> float:
    """search(question) -> [(file name, start, end)] of the top 5 chunks, offsets within the file's text."""
    hits = 0
    for q in questions:
        for name, start, end in search(q["q"]):
            if name == q["file"] and start < q["end"] and q["start"] < end:
                hits += 1
                break
    return 100.0 * hits / max(1, len(questions))


# -- the peer --------------------------------------------------------------------------------


def run_peer(folder: Path, work: Path, questions, words: int, model_dir: Path) -> Result:
    import chromadb
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore
    from transformers import AutoTokenizer

    if any(folder.glob("*.pdf")) and importlib.util.find_spec("llama_index.readers.file") is None:
        # without it SimpleDirectoryReader reads a PDF's bytes as text: the peer then embeds ~6x
        # the tokens (binary noise) and its speed means nothing (seen once: 9,395 chunks, not 1,822)
        raise SystemExit("bench: the peer needs llama-index-readers-file for PDFs: .venv/bin/pip install -e '.[bench]'")
    res = Result("peer: llama-index tuned")
    t = time.perf_counter()
    # batch 8: the fastest for it here too, as for Citewise (bench/embed_batch.py: 64 is ~10 % slower)
    embed = HuggingFaceEmbedding(model_name=str(model_dir), device="cpu", embed_batch_size=8)
    embed.get_text_embedding("warm up")
    res.load_s = time.perf_counter() - t
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    count = lambda text: tok.encode(text, add_special_tokens=False)  # noqa: E731
    splitter = SentenceSplitter(chunk_size=254, chunk_overlap=32, tokenizer=count)
    client = chromadb.PersistentClient(path=str(work / "peer-chroma"), settings=chromadb.Settings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("peer", configuration={"hnsw": {"space": "cosine"}})
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    with RssSampler() as rss:
        t = time.perf_counter()
        docs = SimpleDirectoryReader(str(folder)).load_data()
        index = VectorStoreIndex.from_documents(docs, storage_context=storage, embed_model=embed, transformations=[splitter])
        res.wall_s = time.perf_counter() - t
    res.peak_rss_mb = rss.peak / 2**20
    res.chunks = collection.count()
    res.files_indexed = len({d.metadata.get("file_name") for d in docs})
    res.words_per_s = words / res.wall_s
    retriever = index.as_retriever(similarity_top_k=5)
    texts = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.txt")}

    def search(question):
        out = []
        for n in retriever.retrieve(question):
            name = n.node.metadata.get("file_name", "")
            start = n.node.start_char_idx
            if start is None and name in texts:  # span lost: find the chunk's text in the file
                start = texts[name].find(n.node.get_content())
            if start is not None and start >= 0:
                out.append((name, start, start + len(n.node.get_content())))
        return out

    res.recall_at_5 = recall_at_5(questions, search)
    res.tokens = sum(len(count(n)) for n in collection.get(include=["documents"])["documents"])
    return res


# -- Citewise --------------------------------------------------------------------------------


def citewise_services(work: Path, precision: str, name: str, model: str = "bundled", **indexing):
    from app.services import build_services
    from app.settings import Settings

    settings = Settings(
        data_dir=work / name, embedding={"device": "cpu", "precision": precision, "model": model}, indexing=indexing or {}
    )
    return build_services(settings)


def fewer_layers(model_dir: Path, work: Path, layers: int) -> Path:
    """A copy of the embedding model that runs only its first `layers` transformer layers (the
    same files, but config.json says fewer layers: transformers loads the first N): how much
    recall a shallower, faster embedder costs, measured before any such model is offered."""
    out = work / f"{model_dir.name}-{layers}layers"
    if not out.exists():
        shutil.copytree(model_dir, out)
        config = json.loads((out / "config.json").read_text())
        config["num_hidden_layers"] = layers
        (out / "config.json").write_text(json.dumps(config, indent=2))
    return out


def run_citewise(folder: Path, work: Path, questions, words: int, precision: str, reindex: bool, model: Path | None = None,
                 ask_at: dict[str, float] | None = None, **indexing) -> Result:
    from indexing.models import FileStatus

    label = f"citewise {precision}" + (f" model={model.name}" if model else "") + "".join(f" {k}={v}" for k, v in indexing.items())
    res = Result(label)
    services = citewise_services(work, precision, "cw-" + label.replace(" ", "_"), str(model) if model else "bundled", **indexing)
    library = services.library()
    if precision == "auto":  # the default: what a new library takes on this CPU
        res.path += f" ({library.embedder.precision})"
    t = time.perf_counter()
    library.embedder.embed(["warm up"])  # int8: exports the model on first use (timed apart)
    res.load_s = time.perf_counter() - t
    retriever = library.retriever

    def search(question):
        return [(Path(p.chunk.path).name, p.chunk.start, p.chunk.end) for p in retriever.search(question, 5)]

    sample = questions[::5]  # asked while the run goes (the run waits; its clock is stopped meanwhile)
    checkpoints: dict[str, float] = {}
    paused = 0.0
    with RssSampler() as rss:
        t = time.perf_counter()
        for last in library.add([str(folder)]):
            if "first_file_s" not in checkpoints and last.report is not None and last.report.status is FileStatus.INDEXED:
                checkpoints["first_file_s"] = round(time.perf_counter() - t - paused, 1)  # the first answerable file
            if "text_read_s" not in checkpoints and last.text_searchable_s is not None:  # all but the scans' OCR
                checkpoints["text_read_s"] = round(time.perf_counter() - t - paused, 1)
            stage = _checkpoint(last, checkpoints, time.perf_counter() - t - paused, ask_at or {})
            if stage is not None:
                q0 = time.perf_counter()
                checkpoints[stage] = recall_at_5(sample, search)
                checkpoints[stage + "_s"] = round(q0 - t - paused, 1)
                paused += time.perf_counter() - q0
        res.wall_s = time.perf_counter() - t - paused
    res.peak_rss_mb = rss.peak / 2**20
    checkpoints["done"] = recall_at_5(sample, search)
    # every file read: its moment on the run's own clock (the first questions are asked then)
    # (the run's own clock, less the pauses for the questions)
    res.notes["searchable_s"] = checkpoints.get("searchable_s")
    res.notes["text_searchable_s"] = checkpoints.get("text_read_s")
    # recall@5 of every 5th question: at a tenth / half of the peer's wall time, all read, half the vectors, done
    res.notes["recall_during"] = checkpoints
    res.files_indexed = sum(r.status is FileStatus.INDEXED for r in last.reports)
    failed = [(Path(r.path).name, r.reason) for r in last.reports if r.status is FileStatus.FAILED]
    if failed:
        res.notes["failed"] = failed
    ocr = [re.match(r"(\d+) of \d+ pages read by OCR", w) for r in last.reports for w in r.warnings]
    res.notes["ocr_pages"] = sum(int(m.group(1)) for m in ocr if m)  # work the peer does not do
    res.chunks = library.store.count()
    res.tokens = sum(f_chunks for f_chunks in _chunk_tokens(library))
    res.words_per_s = words / res.wall_s
    res.recall_at_5 = recall_at_5(questions, search)
    res.notes["precision"] = library.embedder.precision  # auto: what a new library takes on this CPU
    res.notes["reused_vectors"] = library.indexer.reused  # chunks whose text was embedded before
    if reindex:
        t = time.perf_counter()
        *_, again = library.add([str(folder)])
        res.notes["reindex_unchanged_s"] = round(time.perf_counter() - t, 3)
        res.notes["reindex_unchanged_pct"] = round(100 * res.notes["reindex_unchanged_s"] / res.wall_s, 2)
        edited = sorted(folder.glob("covid-*.txt"))[0]
        with open(edited, "a", encoding="utf-8") as fh:
            fh.write("\n\nAn added closing remark: the authors thank the reviewers.\n")
        t = time.perf_counter()
        *_, again = library.add([str(folder)])
        res.notes["reindex_one_edited_s"] = round(time.perf_counter() - t, 3)
        res.notes["reindex_one_edited_pct"] = round(100 * res.notes["reindex_one_edited_s"] / res.wall_s, 2)
        res.notes["reindex_one_edited_status"] = [r.status.value for r in again.reports if r.path == str(edited.resolve())]
    services.close()
    return res


def _checkpoint(p, seen: dict, elapsed: float, ask_at: dict[str, float]) -> str | None:
    """Where a run's questions are asked: at the moments in `ask_at` (a tenth and a half of the
    peer's wall time, when the peer ran first: it answers nothing until it is done), when every
    file is read (searchable by its words), and when half the vectors are written."""
    for stage, at in ask_at.items():
        if stage not in seen and elapsed >= at:
            return stage
    if p.phase == "embedding" and "searchable" not in seen:
        return "searchable"
    total = p.chunks_embedded + p.chunks_waiting
    if p.phase == "embedding" and "half" not in seen and total and p.chunks_embedded >= total / 2:
        return "half"
    return None


def _chunk_tokens(library):
    for rec in library.files():
        if rec.status == "indexed":
            yield sum(c.tokens for c in library.store.get(rec.chunk_ids))


# -- main ------------------------------------------------------------------------------------


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("torch", "sentence-transformers", "transformers", "onnxruntime", "chromadb", "llama-index-core",
                "llama-index-embeddings-huggingface", "llama-index-readers-file", "pypdf", "pebble"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from indexing.embedder import cpu_has_native_bf16
    from indexing.fastest import int8_dot_product

    return {"cpu": cpu, "cores": os.cpu_count(), "native_bf16": cpu_has_native_bf16(), "int8_dot_product": int8_dot_product(),
            "python": platform.python_version(),
            "platform": platform.platform(), "gpu": None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--paths", default="peer,auto,fp32,bf16,int8", help="comma-separated: peer, auto (the default: what a "
                    "new library takes on this CPU), fp32, bf16 (left out without native bf16), int8, "
                    "<precision>-overlap<N> (N tokens of overlap), <precision>-noocr, <precision>-layers<N> (the embedder's "
                    "first N layers only)")
    ap.add_argument("--covid", type=int, default=None, help="only the first N COVID-QA papers")
    ap.add_argument("--pdfs", type=int, default=None, help="only the first N text PDFs")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--reindex-path", default="auto", help="the path whose re-index of an unchanged / edited library is timed")
    ap.add_argument("--peer-wall", type=float, default=None, help="without the peer in this run: its wall time in an "
                    "earlier one on this machine, for the questions asked at a tenth and half of it")
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"bench: {DATA} is absent", file=sys.stderr)
        return 2
    from indexing.embedder import bundled_embedding_dir

    model_dir = bundled_embedding_dir()
    work = Path(tempfile.mkdtemp(prefix="citewise-bench-"))
    results: list[Result] = []
    try:
        folder = work / "docs"
        folder.mkdir()
        questions = prepare_documents(folder, args.covid, args.pdfs)
        words = corpus_words(folder)
        n_files = len(list(folder.iterdir()))
        print(f"documents: {n_files} files, {words:,} words; {len(questions)} questions", flush=True)
        from indexing.embedder import cpu_has_native_bf16

        for path in args.paths.split(","):
            if path == "bf16" and args.paths == ap.get_default("paths") and not cpu_has_native_bf16():
                continue  # emulated bf16 is many times slower than fp32: not a path anyone would take
            gc.collect()
            if path == "peer":
                r = run_peer(folder, work, questions, words, model_dir)
            elif re.fullmatch(r"\w+-overlap\d+", path):  # how much recall the chunks' overlap earns
                precision, overlap = path.split("-overlap")
                r = run_citewise(folder, work, questions, words, precision, False, overlap_tokens=int(overlap))
            elif re.fullmatch(r"\w+-layers\d+", path):  # a shallower embedder: speed against recall
                precision, layers = path.split("-layers")
                r = run_citewise(folder, work, questions, words, precision, False, model=fewer_layers(model_dir, work, int(layers)))
            elif path.endswith("-noocr"):  # the peer's work: no OCR of image-only PDF pages
                r = run_citewise(folder, work, questions, words, path.removesuffix("-noocr"), False, ocr="off")
            else:
                peer = next((r for r in results if r.path.startswith("peer")), None)
                wall = peer.wall_s if peer else args.peer_wall
                ask_at = {"peer_tenth": wall / 10, "peer_half": wall / 2} if wall else None
                r = run_citewise(folder, work, questions, words, path, reindex=path == args.reindex_path, ask_at=ask_at)
            results.append(r)
            write_json(args, n_files, words, questions, results)
            print(f"  {r.path}: {r.wall_s:.1f} s, {r.words_per_s:,.0f} words/s, recall@5 {r.recall_at_5:.1f}", flush=True)
            # the edited file must be restored for the next path
            prepare_documents(folder, args.covid, 0)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    peer = next((r for r in results if r.path.startswith("peer")), None)
    base = next((r for r in results if r.path == "citewise fp32"), None)
    print(f"\n{'path':<34}{'wall s':>9}{'words/s':>10}{'x peer':>8}{'peak RSS MB':>13}{'chunks':>8}{'recall@5':>10}{'vs fp32':>9}")
    for r in results:
        ratio = f"{r.words_per_s / peer.words_per_s:.2f}" if peer else "-"
        delta = f"{r.recall_at_5 - base.recall_at_5:+.1f}" if base and r.recall_at_5 is not None else "-"
        print(f"{r.path:<34}{r.wall_s:>9.1f}{r.words_per_s:>10,.0f}{ratio:>8}{r.peak_rss_mb:>13,.0f}{r.chunks:>8}{r.recall_at_5:>10.1f}{delta:>9}")
    for r in results:
        if "reindex_unchanged_pct" in r.notes:
            print(f"\nre-index ({r.path}): unchanged {r.notes['reindex_unchanged_s']} s = {r.notes['reindex_unchanged_pct']}% of the first index; "
                  f"one file edited {r.notes['reindex_one_edited_s']} s = {r.notes['reindex_one_edited_pct']}%")
    out = write_json(args, n_files, words, questions, results)
    print(f"\nwrote {out}")
    return 0


def write_json(args, n_files, words, questions, results) -> Path:
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"indexing-{dt.date.today().isoformat()}.json"
    out.write_text(json.dumps({
        "machine": machine(), "versions": versions(),
        "settings": {"paths": args.paths, "covid_papers": args.covid or 98, "pdfs": args.pdfs, "files": n_files, "words": words,
                     "questions": len(questions), "peer": "SentenceSplitter(254, overlap 32, MiniLM tokenizer), HuggingFaceEmbedding batch 8",
                     "citewise": "chunks <= 254 word-pieces, overlap 32, batches of 256 chunks embedded 8 at a time, parse workers = one per core (at most 4), vectors written on the cores the reading leaves free"},
        "results": [asdict(r) for r in results],
    }, indent=2))
    return out


if __name__ == "__main__":
    sys.exit(main())
