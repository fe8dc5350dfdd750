"""The one-folder bundle: PyInstaller builds it from packaging/citewise.spec, and the built
`citewise` passes its self-test and opens its window when run from outside the source tree, moved
to another folder, with no virtual environment on PATH and no Python variables set."""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import shutil
import subprocess

import pytest

pytestmark = [pytest.mark.packaging, pytest.mark.slow, pytest.mark.timeout(1800)]


def _bare_env(tmp_path) -> dict[str, str]:
    home = tmp_path / "user"
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home / "tmp"), "QT_QPA_PLATFORM": "offscreen",
            "LANG": "C.UTF-8"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from tests.packaging import build

    if importlib.util.find_spec("PyInstaller") is None:
        pytest.fail("PyInstaller is not installed: `make setup` installs it (the dev extra)")
    rc, log, work = build.finish()  # started in the background when the tests were collected (tests/conftest.py)
    assert rc == 0, log
    # a user copies the folder anywhere: move it away from where it was built
    moved = tmp_path_factory.mktemp("installed") / "Citewise"
    shutil.move(str(work / "dist" / "Citewise"), moved)
    build.stop()
    return moved


def test_bundle_self_test_outside_the_source_tree(bundle, tmp_path):
    env = _bare_env(tmp_path)
    proc = subprocess.run([str(bundle / "citewise"), "--self-test"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=600)
    out = proc.stdout
    print(out)
    assert proc.returncode == 0, out + proc.stderr[-3000:]
    assert f"bundle at {bundle}" in out  # the frozen executable ran, not a Python from PATH
    assert "its first citation is varnholm-guide.pdf, page 2" in out
    assert "its answer is attributed to varnholm-guide.pdf, page 2" in out
    assert "self-test passed: 10 checks" in out
    # the bundle holds both models: nothing was read from the source tree or a venv
    assert not list((tmp_path / "user" / "tmp").glob("citewise-selftest-*"))


def test_bundle_opens_its_window(bundle, tmp_path):
    proc = subprocess.run([str(bundle / "citewise"), "gui", "--smoke"], capture_output=True, text=True,
                          env=_bare_env(tmp_path), cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    m = re.search(r"window shown ([\d.]+) s after the process started", proc.stdout)
    assert m, proc.stdout
    print(f"bundle: first window after {m.group(1)} s")


def test_bundle_reports_a_broken_file_by_name(bundle, tmp_path):
    """The bundle's CLI indexes real files through its parse workers (spawned copies of the frozen
    executable) and reports a bad one with its reason instead of dying."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text("# Ferry\n\nThe harbour ferry leaves at seven every morning.\n", encoding="utf-8")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n%% truncated")
    env = _bare_env(tmp_path)
    proc = subprocess.run([str(bundle / "citewise"), "--data-dir", str(tmp_path / "data"), "index", "--json", str(docs)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    import json

    reports = {os.path.basename(r["path"]): r for r in json.loads(proc.stdout)["files"]}
    assert reports["notes.md"]["status"] == "indexed"
    assert reports["broken.pdf"]["status"] == "failed" and "PDF" in reports["broken.pdf"]["reason"]


def test_bundle_downloads_a_catalog_model(bundle, tmp_path):
    """The bundle carries the catalog and runs the download's child process (itself, frozen):
    `citewise models download` from a loopback hub, then `models list` says it is installed."""
    import json

    from app.models import catalog
    from app.engines.llamacpp import bundled_gguf
    from tests.hubserver import HubServer

    entry = catalog.get("qwen2.5-0.5b")
    env = _bare_env(tmp_path)
    base = [str(bundle / "citewise"), "--data-dir", str(tmp_path / "data")]
    with HubServer({entry.repo: {entry.files[0]: bundled_gguf()}}) as srv:
        proc = subprocess.run([*base, "models", "download", entry.id], capture_output=True, text=True,
                              env=env | {"CITEWISE_MODELS__ENDPOINT": srv.url}, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert (tmp_path / "data" / "models" / entry.id / entry.files[0]).read_bytes() == bundled_gguf().read_bytes()
    listed = subprocess.run([*base, "models", "list", "--json"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    models = {m["id"]: m for m in json.loads(listed.stdout)["models"]}
    assert models[entry.id]["installed"] and models["smollm2-135m"]["in_use"]


def test_desktop_entry_installs_with_the_bundle_path(bundle, tmp_path):
    env = _bare_env(tmp_path) | {"XDG_DATA_HOME": str(tmp_path / "share")}
    proc = subprocess.run(["bash", str(bundle / "install-desktop-entry.sh")], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(tmp_path / "share" / "applications" / "citewise.desktop")
    d = entry["Desktop Entry"]
    assert d["Type"] == "Application" and d["Icon"] == "citewise"
    assert d["Exec"] == f'"{bundle / "citewise"}" gui' and d["TryExec"] == str(bundle / "citewise")
    assert (tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "citewise.svg").read_text().lstrip().startswith("<")
    subprocess.run(["bash", str(bundle / "install-desktop-entry.sh"), "--uninstall"], check=True, env=env, capture_output=True)
    assert not (tmp_path / "share" / "applications" / "citewise.desktop").exists()
