"""A folder as users have them: a thousand files of every odd kind. Each must come out of an index
run with exactly one outcome in the report — indexed, or failed/skipped with a reason a user can
act on — and none may crash the run, hang it, or vanish from the report."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from app.services import build_services
from app.settings import load_settings
from indexing.models import FileStatus
from tests import docs
from tests.embedders import HashEmbedder

pytestmark = pytest.mark.slow

COPIES = 40  # of each kind below: 25 kinds → 1,000 files


def _kinds(tmp_path) -> dict:
    """name → (maker(path) writing one file, what it must come out as)."""
    proto = tmp_path / "proto"
    proto.mkdir()
    pdf = docs.make_pdf(proto / "p.pdf", ["The ferry to the island leaves at nine.", "It returns at five."])
    corrupt = docs.make_corrupt_pdf(proto / "c.pdf")
    locked = docs.make_encrypted_pdf(proto / "l.pdf")
    scan = docs.make_pdf(proto / "s.pdf", [""], image_only=True)
    word = docs.make_docx(proto / "w.docx", [("h1", "Rota"), ("p", "The lighthouse keeper changes every Monday.")])
    damaged = docs.make_damaged_docx(proto / "d.docx")
    book = docs.make_epub(proto / "b.epub", [("One", "The train reached the coast after midnight.")])
    drm = docs.make_odd_epub(proto / "drm.epub", "drm")
    audio = docs.make_odd_epub(proto / "a.epub", "missing-audio")

    def copy(src):
        return lambda p: shutil.copyfile(src, p)

    def write(data: bytes):
        return lambda p: p.write_bytes(data)

    indexed, failed, skipped = FileStatus.INDEXED, FileStatus.FAILED, FileStatus.SKIPPED
    return {
        "pdf.pdf": (copy(pdf), indexed),
        "word.docx": (copy(word), indexed),
        "book.epub": (copy(book), indexed),
        "note.txt": (write(b"The spare key is under the third flower pot.\n"), indexed),
        "latin1.txt": (write("Zoë's café opens at nine.\n".encode("latin-1")), indexed),
        "page.html": (write(b"<html><body><article><p>The museum opens at ten on Sundays.</p></article></body></html>"), indexed),
        "readme.md": (write(b"# Readme\n\nThe boathouse is locked at dusk.\n"), indexed),
        "damaged.docx": (copy(damaged), indexed),
        "audio.epub": (copy(audio), indexed),
        "pdf-named.txt": (copy(pdf), indexed),  # a PDF under the wrong extension is read as what it is
        "corrupt.pdf": (copy(corrupt), failed),
        "locked.pdf": (copy(locked), failed),
        "scan.pdf": (copy(scan), failed),
        "drm.epub": (copy(drm), failed),
        "empty.txt": (write(b""), failed),
        "blank.md": (write(b"  \n\n  "), failed),
        "binary.txt": (write(bytes(range(256)) * 8), failed),
        "zip.docx": (lambda p: docs.make_zip(p, {"readme.txt": "hello"}), failed),
        "cut.epub": (write(b"PK\x03\x04" + b"\x00" * 200), failed),
        "png.pdf": (lambda p: docs.make_png(p), failed),
        "photo.jpg": (write(b"\xff\xd8\xff\xe0" + b"\x00" * 64), skipped),
        ".hidden.txt": (write(b"secret"), skipped),
        "loop.txt": (lambda p: os.symlink(p.name, p), skipped),  # a link to itself
        "dangling.txt": (lambda p: os.symlink("nowhere.txt", p), skipped),
        "pipe.txt": (lambda p: os.mkfifo(p), skipped),
    }


def test_a_thousand_odd_files_each_have_one_outcome_with_a_reason(tmp_path, embedder):
    kinds = _kinds(tmp_path)
    folder = tmp_path / "messy"
    expected = {}
    for i in range(COPIES):
        sub = folder / f"box{i:02d}"
        sub.mkdir(parents=True)
        for name, (make, outcome) in kinds.items():
            path = sub / (name if name.startswith(".") else f"{i:02d}-{name}")
            make(path)
            expected[os.path.join(sub.name, path.name)] = outcome
    latin1_name = os.path.join(os.fsencode(folder / "box00"), b"caf\xe9-menu.txt")  # a name that is not UTF-8
    with open(latin1_name, "wb") as fh:
        fh.write(b"Soup of the day: leek.\n")
    expected[os.path.join("box00", "caf\ufffd-menu.txt")] = FileStatus.FAILED
    assert len(expected) >= 1000

    settings = load_settings(data_dir=tmp_path / "data", **{"indexing.parse_timeout_s": 60})
    services = build_services(settings, embedder=HashEmbedder(embedder))
    try:
        *_, last = services.library().add([str(folder)])
        check = services.library().indexer.check()
    finally:
        services.close()

    assert last.phase == "done"
    root = str(folder.resolve())
    seen: dict[str, list] = {}
    for r in last.reports:
        assert r.path.startswith(root), r.path
        seen.setdefault(os.path.relpath(r.path, root), []).append(r)
    assert set(seen) == set(expected), sorted(set(seen) ^ set(expected))[:10]  # none vanished, none invented
    for rel, reports in seen.items():
        assert len(reports) == 1, (rel, reports)  # exactly one outcome each
        r = reports[0]
        assert r.status is expected[rel], (rel, r.status, r.reason)
        if r.status is not FileStatus.INDEXED:
            # a reason a user can act on, not Python leaking out
            assert r.reason and not re.search(r"object has no attribute|NoneType|Traceback|\w+Error\b|unexpected error",
                                              r.reason), (rel, r.reason)
    assert check["orphans"] == 0 and check["missing"] == 0 and check["pending"] == 0
