"""The `citewise` command as a user runs it: real processes, real models, a real library on disk."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests import docs
from tests.conftest import run_cli


@pytest.fixture
def folder(tmp_path):
    return docs.make_papers(tmp_path / "papers", broken=True)


@pytest.mark.slow
def test_index_ask_list_remove_as_a_user_would(data_dir, folder):
    proc = run_cli("index", str(folder), data_dir=data_dir)
    assert proc.returncode == 1, proc.stderr  # some files failed
    out = proc.stdout
    assert "Indexed 2 files" in out and "3 failed" in out
    assert "locked.pdf" in out and "a password is needed" in out
    assert "corrupt.pdf" in out and "malformed PDF" in out
    assert "empty.txt" in out and "empty file" in out

    again = run_cli("index", "--json", str(folder), data_dir=data_dir)
    report = json.loads(again.stdout)
    assert {f["status"] for f in report["files"]} == {"unchanged", "failed"}

    asked = run_cli("ask", "--json", "How much does the museum night tour cost?", data_dir=data_dir, check_exit=0)
    answer = json.loads(asked.stdout)
    assert not answer["refused"] and answer["citations"]
    top = answer["citations"][0]
    assert top["file"].endswith("facts.pdf") and top["page"] == 2 and top["n"] == 1
    assert "35 dollars" in top["text"]

    plain = run_cli("ask", "How long does the sourdough loaf need to ferment?", data_dir=data_dir, check_exit=0)
    assert "Sources" in plain.stdout and "[1] facts.pdf, page 3:" in plain.stdout

    off = run_cli("ask", "--json", "What is the population of Ulaanbaatar?", data_dir=data_dir, check_exit=0)
    refused = json.loads(off.stdout)
    assert refused["refused"] and refused["answer"] == "I could not find this in your documents."
    assert refused["closest"] and refused["citations"] == []

    listed = json.loads(run_cli("list", "--json", data_dir=data_dir, check_exit=0).stdout)
    assert {(f["path"].rsplit("/", 1)[-1], f["status"]) for f in listed} >= {("facts.pdf", "indexed"), ("locked.pdf", "failed")}

    removed = run_cli("remove", str(folder / "facts.pdf"), data_dir=data_dir, check_exit=0)
    assert "removed" in removed.stdout
    after = json.loads(run_cli("list", "--json", data_dir=data_dir, check_exit=0).stdout)
    assert "facts.pdf" not in {f["path"].rsplit("/", 1)[-1] for f in after}


@pytest.mark.slow
def test_a_new_library_indexes_with_int8_where_the_cpu_has_int8_dot_products(data_dir, folder):
    """On a CPU with int8 dot products (x86 AVX2 or VNNI; every CI machine) a new library indexes
    with the int8 copy of the model by default, the fastest path measured on such CPUs
    (indexing/fastest.py); later commands keep using int8 for it; an explicit float precision is
    refused with a message naming the flag, and nothing is mixed."""
    from indexing import fastest

    if fastest.int8_dot_product() is None:
        pytest.skip("this CPU has no int8 dot products: new libraries are float here")
    made = run_cli("-l", "fast", "index", str(folder), data_dir=data_dir)
    assert "Indexed 2 files" in made.stdout, made.stderr
    assert list(Path(os.environ["CITEWISE_EMBEDDING__CACHE_DIR"]).glob("*-int8-*/model.onnx"))
    mixed = run_cli("--precision", "fp32", "-l", "fast", "index", "--force", str(folder), data_dir=data_dir)
    assert mixed.returncode != 0 and "holds int8-onnx vectors" in mixed.stderr and "--precision int8" in mixed.stderr
    (folder / "more.txt").write_text("The harbour café opens at seven and sells rye bread.\n", encoding="utf-8")
    added = run_cli("-l", "fast", "index", str(folder), data_dir=data_dir)  # auto: follows the library
    assert "Indexed 1 file" in added.stdout, added.stderr
    asked = run_cli("-l", "fast", "ask", "--json", "How much does the museum night tour cost?", data_dir=data_dir, check_exit=0)
    top = json.loads(asked.stdout)["citations"][0]
    assert top["file"].endswith("facts.pdf") and top["page"] == 2 and "35 dollars" in top["text"]
    bread = run_cli("-l", "fast", "ask", "--json", "When does the harbour café open?", data_dir=data_dir, check_exit=0)
    assert json.loads(bread.stdout)["citations"][0]["file"].endswith("more.txt")


def test_doctor_reports_the_setup(data_dir):
    proc = run_cli("doctor", "--json", data_dir=data_dir)
    checks = {c["name"]: c for c in json.loads(proc.stdout)}
    assert proc.returncode == 0, proc.stdout
    assert checks["embedding model"]["ok"] and "all-MiniLM-L6-v2" in checks["embedding model"]["detail"]
    assert checks["answer engine"]["ok"]
    assert "embedded Chroma" in checks["vector store"]["detail"]


def test_doctor_fails_with_a_fix_when_the_chroma_server_is_down(data_dir):
    proc = run_cli("--chroma-url", "http://127.0.0.1:9", "doctor", data_dir=data_dir)
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "fix:" in proc.stdout and "chroma run" in proc.stdout


def test_missing_path_fails_with_its_name(data_dir, tmp_path):
    proc = run_cli("index", str(tmp_path / "nope"), data_dir=data_dir)
    assert proc.returncode == 1
    assert "no such file or folder" in proc.stdout and "nope" in proc.stdout


def test_invalid_setting_is_a_clear_error(data_dir, tmp_path):
    (tmp_path / "config.toml").write_text('[retrieval]\ntop_k = "many"\n', encoding="utf-8")
    proc = run_cli("list", data_dir=data_dir, env={"CITEWISE_CONFIG": str(tmp_path / "config.toml")})
    assert proc.returncode == 2 and "invalid settings" in proc.stderr and "top_k" in proc.stderr


def _shell(data_dir, *lines: str):
    """`citewise` with no command (the shell), these lines typed in."""
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "citewise"
    return subprocess.run([str(exe), "--data-dir", str(data_dir)], input="".join(f"{line}\n" for line in lines),
                          capture_output=True, text=True, timeout=300)


def test_shell_answers_and_quits(data_dir, folder):
    proc = _shell(data_dir, f":index {folder / 'guide.md'}", "Where are the life jackets stored?", ":library Work",
                  ":library", ":quit")
    assert proc.returncode == 0, proc.stderr
    assert "library is empty" in proc.stdout
    assert "Indexed 1 file" in proc.stdout
    assert "guide.md" in proc.stdout and "[1]" in proc.stdout
    # libraries are switched (created) from the shell, through the same session as the window's
    assert "library 'Work' · 0 documents, 0 chunks" in proc.stdout and "* Work" in proc.stdout


def test_shell_reads_a_follow_up_with_the_question_before_until_new(data_dir, tmp_path):
    town = docs.make_town(tmp_path / "town")
    proc = _shell(data_dir, f":index {town}", "When does the ferry to Vardø leave?", "And on weekends?", ":new",
                  "And on weekends?", ":quit")
    assert proc.returncode == 0, proc.stderr
    first, follow_up, fresh = [part for part in proc.stdout.split("\n? ") if "Sources" in part]
    assert "ferry.md" in first and "Saturdays" not in first
    assert "Saturdays and Sundays" in follow_up and "ferry.md" in follow_up  # read with the ferry question
    assert "city buses" in fresh and "Saturdays" not in fresh  # :new forgot it


def test_ask_in_chosen_files_cites_only_them(data_dir, tmp_path):
    town = docs.make_town(tmp_path / "town")
    run_cli("index", str(town), data_dir=data_dir, check_exit=0)
    question = "What runs on weekends, and when?"  # the buses' page answers it best (tests/ui: the same, unscoped)
    scoped = json.loads(run_cli("ask", "--json", "--in", str(town / "ferry.md"), "--in", str(town / "library.md"),
                                "--export", str(tmp_path / "scoped.md"), question, data_dir=data_dir, check_exit=0).stdout)
    assert "*Asked within: ferry.md, library.md*" in (tmp_path / "scoped.md").read_text(encoding="utf-8")
    cited = {c["file_name"] for c in scoped["citations"] + scoped["closest"]}
    assert cited and cited <= {"ferry.md", "library.md"}
    assert scoped["scope"] == [str(town / "ferry.md"), str(town / "library.md")]
    missing = run_cli("ask", "--in", str(tmp_path / "nowhere"), question, data_dir=data_dir)
    assert missing.returncode != 0 and "nothing indexed" in missing.stderr and "nowhere" in missing.stderr


def test_summarize_a_document_from_the_terminal(data_dir, tmp_path):
    pdf = docs.make_pdf(tmp_path / "facts.pdf", docs.fact_pages())
    run_cli("index", str(pdf), data_dir=data_dir, check_exit=0)
    shown = run_cli("summarize", str(pdf), "--export", str(tmp_path / "summary.md"), data_dir=data_dir, check_exit=0)
    assert "Summary of facts.pdf" in shown.stdout and "Page 2" in shown.stdout
    assert "• " in shown.stdout and "[1] facts.pdf, page 1:" in shown.stdout
    exported = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "**Page 3**" in exported and "\n- " in exported and "[1]" in exported
    missing = run_cli("summarize", str(tmp_path / "other.pdf"), data_dir=data_dir)
    assert missing.returncode != 0 and "other.pdf is not indexed" in missing.stderr


def test_shell_paths_keep_spaces_in_names(tmp_path):
    """`:index`, `:remove` and `:in` take quoted paths, and a path with spaces typed as it is."""
    from app.cli.commands import shell_paths

    papers = tmp_path / "My Papers"
    papers.mkdir()
    assert shell_paths(f" {papers} ") == [str(papers)]
    assert shell_paths(f'"{papers}" notes.md') == [str(papers), "notes.md"]
    assert shell_paths("a.pdf b.pdf") == ["a.pdf", "b.pdf"]
    assert shell_paths('"unclosed name.pdf') == ['"unclosed name.pdf']
    assert shell_paths("  ") == []
