"""`citewise --self-test` from the installed command: passes on a working install, names the problem
otherwise, and leaves nothing behind in the user's folders or the temporary directory."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import VENV_BIN

pytestmark = pytest.mark.slow


def _run(tmp_path, *extra: str):
    env = dict(os.environ)
    env.pop("CITEWISE_LLM__ENGINE", None)  # the self-test picks its own engine (llama.cpp, bundled model)
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.run([str(VENV_BIN / "citewise"), "--self-test", *extra], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)


def _files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_self_test_passes_and_leaves_no_trace(tmp_path):
    home = tmp_path / "home"
    before = _files_under(home)
    proc = _run(tmp_path)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "its first citation is varnholm-guide.pdf, page 2" in out
    assert "the cited passage holds the fact" in out
    assert "its answer is attributed to varnholm-guide.pdf, page 2" in out
    assert "says it cannot find an answer the documents do not hold" in out
    assert "FAIL" not in out and "self-test passed: 10 checks" in out
    # the user's config/data folders are untouched and the temporary library is gone
    assert _files_under(home) == before
    assert not list((tmp_path / "tmp").glob("citewise-selftest-*"))
    assert not (tmp_path / "config.toml").exists()


def test_self_test_fails_with_the_reason(tmp_path):
    """A broken install (here: the language model it is told to use is missing) exits non-zero and
    says which check failed and why, instead of a traceback or a false pass."""
    missing = tmp_path / "models" / "gone.gguf"
    proc = _run(tmp_path, "--model", str(missing))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "self-test FAILED" in proc.stdout
    assert "gone.gguf" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "self-test passed" not in proc.stdout
    assert not list((tmp_path / "tmp").glob("citewise-selftest-*"))
