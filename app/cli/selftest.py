"""`citewise --self-test`: proves an installation works, end to end, without touching the user's data.

It makes two small documents in a temporary folder (a two-page PDF whose second page holds the
fact asked about, and a Markdown note about something else), indexes them into a temporary library
with the real embedding model and store, asks a question, and checks that the answer cites the PDF
at page 2 and quotes the fact; then asks something the documents do not hold and checks that
Citewise says so. Every check is printed; the exit code is 0 only when all passed.

The user's settings file and data are never read or written: the test builds its own settings
(a temporary data dir, no settings file). The answer engine is llama.cpp with the bundled model
unless `--engine` says otherwise, so the test needs nothing outside the installation.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

# The fact asked about is made up, so no model can answer it from memory: only the document can.
FACT_PAGE = 2
FACT = "The keeper of the Varnholm lighthouse is Ottilie Brandquist, who has kept its lamp since 1987."
ANSWER_WORD = "Brandquist"
QUESTION = "Who is the keeper of the Varnholm lighthouse?"
OFF_TOPIC = "What is the boiling point of liquid nitrogen in kelvin?"

PAGE_ONE = (
    "Varnholm is a small island in the outer archipelago. Its harbour shelters a dozen fishing boats, "
    "and a ferry calls twice a day in summer. The island school closed in 1974; the old building is now "
    "a museum of net making and boat building."
)
PAGE_TWO = (
    "The lighthouse stands on the northern cliffs and was first lit in 1872. " + FACT + " "
    "The lamp is visible for eighteen nautical miles, and visitors may climb the tower on Sundays."
)
NOTE = (
    "# Allotment rules\n\n"
    "Each plot holder keeps the paths beside their plot clear. Bonfires are not allowed between April "
    "and September. Water butts are shared, and the tap by the gate is turned off in winter.\n"
)


class SelfTestFailed(Exception):
    pass


@dataclass
class Report:
    out: Callable[[str], None] = print
    passed: list[str] = field(default_factory=list)

    def ok(self, what: str) -> None:
        self.passed.append(what)
        self.out(f"  ok    {what}")

    def check(self, condition: bool, what: str, why_not: str) -> None:
        if not condition:
            self.out(f"  FAIL  {what}: {why_not}")
            raise SelfTestFailed(f"{what}: {why_not}")
        self.ok(what)


def make_documents(folder: Path) -> tuple[Path, Path]:
    """A two-page PDF (fpdf2: no Qt below the UI) and a Markdown note."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=12)
    for title, text in (("Varnholm island", PAGE_ONE), ("The lighthouse", PAGE_TWO)):
        pdf.add_page()
        pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 6, text)
    pdf_path = folder / "varnholm-guide.pdf"
    pdf.output(str(pdf_path))
    note = folder / "allotment-rules.md"
    note.write_text(NOTE, encoding="utf-8")
    return pdf_path, note


def run(args, out: Callable[[str], None] = print) -> int:
    """Runs the self-test; 0 when every check passed, 1 otherwise (the reason is printed)."""
    from app.settings import load_settings

    t0 = time.perf_counter()
    report = Report(out)
    tmp = Path(tempfile.mkdtemp(prefix="citewise-selftest-"))
    services = None
    out(f"Citewise self-test (Python {sys.version.split()[0]}, {'bundle' if getattr(sys, 'frozen', False) else 'installed'}"
        f" at {Path(sys.executable).parent})")
    try:
        docs = tmp / "documents"
        docs.mkdir()
        pdf_path, note = make_documents(docs)
        report.ok(f"made a 2-page PDF and a Markdown note in {docs}")

        settings = load_settings(
            tmp / "no-settings.toml",  # never the user's settings file
            data_dir=tmp / "data",
            library="self-test",
            **{"llm.engine": getattr(args, "engine", None) or "llamacpp", "llm.model": getattr(args, "model", None),
               "embedding.device": getattr(args, "device", None)},
        )
        from app.services import build_services

        services = build_services(settings)
        _check_indexing(services, docs, report)
        _check_quoted_answer(services, pdf_path, report)
        _check_generated_answer(services, pdf_path, report)
        _check_refusal(services, report)
    except SelfTestFailed as exc:
        out(f"self-test FAILED: {exc}")
        return 1
    except Exception as exc:  # an installation problem: say what (the traceback with --verbose)
        if getattr(args, "verbose", False):
            import traceback

            out(traceback.format_exc())
        out(f"self-test FAILED: {type(exc).__name__}: {exc}")
        return 1
    finally:
        if services is not None:
            services.close()
        shutil.rmtree(tmp, ignore_errors=True)
    out(f"self-test passed: {len(report.passed)} checks in {time.perf_counter() - t0:.1f} s")
    return 0


def _check_indexing(services, docs: Path, report: Report) -> None:
    """Step 1: both documents indexed into the temporary library with the real embedder."""
    from indexing.models import FileStatus

    library = services.library()
    t = time.perf_counter()
    final = None
    for progress in library.add([str(docs)]):
        final = progress
    reports = {Path(r.path).name: r for r in (final.reports if final else [])}
    failed = [f"{name}: {r.reason}" for name, r in reports.items() if r.status == FileStatus.FAILED]
    report.check(not failed and len(reports) == 2 and all(r.status == FileStatus.INDEXED for r in reports.values()),
                 f"indexed both documents with {services.embedder.model_id} ({sum(r.chunks for r in reports.values())} chunks, "
                 f"{time.perf_counter() - t:.1f} s)",
                 "; ".join(failed) or f"reports: {[(n, r.status.value) for n, r in reports.items()]}")


def _check_quoted_answer(services, pdf_path: Path, report: Report) -> None:
    """Step 2: the question answered (as `auto` answers it), citing the PDF's page 2 and naming the fact."""
    from app.chat import Done

    t = time.perf_counter()
    answer = None
    for event in services.chat().ask(QUESTION):
        if isinstance(event, Done):
            answer = event.answer
    assert answer is not None
    how = "in quote mode (the passages' own sentences)" if answer.engine == "quote" else f"with {answer.engine}"
    report.check(not answer.refused, f"answered \u201c{QUESTION}\u201d {how} ({time.perf_counter() - t:.1f} s)",
                 f"it refused: {answer.refusal_reason or answer.text}")
    cited = [(Path(c.passage.chunk.path).name, c.passage.chunk.page) for c in answer.citations]
    report.check(bool(cited), "the answer has citations", f"none; the answer was: {answer.text!r}")
    report.check(cited[0] == (pdf_path.name, FACT_PAGE),
                 f"its first citation is {pdf_path.name}, page {FACT_PAGE}", f"it cites {cited}")
    report.check(ANSWER_WORD in answer.citations[0].quote_text,
                 f"the cited passage holds the fact (\u201c{ANSWER_WORD}\u201d)",
                 f"the cited passage is {answer.citations[0].quote_text[:200]!r}")
    report.check(ANSWER_WORD in answer.text, f"the answer names {ANSWER_WORD}", f"the answer was {answer.text!r}")


def _check_generated_answer(services, pdf_path: Path, report: Report) -> None:
    """Step 3: the language model itself streams an answer, attributed to the PDF's page 2."""
    from app.chat import Done, Token

    # the language model itself: the bundled model's prose is weak, so `auto` answers it with
    # quotes (above); here it must write an answer, and what it writes must be attributed
    t = time.perf_counter()
    generated, tokens = None, 0
    for event in services.chat().ask(QUESTION, mode="generate"):
        if isinstance(event, Token):
            tokens += 1
        elif isinstance(event, Done):
            generated = event.answer
    assert generated is not None
    report.check(tokens > 0 and bool(generated.text.strip()),
                 f"the language model ({generated.engine}, {Path(str(generated.model)).name}) streamed an answer "
                 f"({tokens} tokens, {time.perf_counter() - t:.1f} s)", "it wrote nothing")
    gen_cited = {(Path(c.passage.chunk.path).name, c.passage.chunk.page) for c in generated.citations}
    report.check((pdf_path.name, FACT_PAGE) in gen_cited,
                 f"its answer is attributed to {pdf_path.name}, page {FACT_PAGE}",
                 f"it cites {sorted(gen_cited)}; the answer was {generated.text!r}")


def _check_refusal(services, report: Report) -> None:
    """Step 4: a question the documents do not hold is refused."""
    from app.chat import Done

    refusal = None
    for event in services.chat().ask(OFF_TOPIC):
        if isinstance(event, Done):
            refusal = event.answer
    assert refusal is not None
    report.check(refusal.refused, "says it cannot find an answer the documents do not hold",
                 f"it answered {refusal.text!r}")
