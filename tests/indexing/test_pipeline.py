"""Indexing into a real embedded Chroma with the bundled model: incremental, safe with bad files."""

from __future__ import annotations

import os
import time

import pytest

from indexing.models import FileStatus
from tests import docs


def _run(library, paths, **kw):
    *_, last = library.add([str(p) for p in paths], **kw)
    return last


def _by_name(progress):
    return {os.path.basename(r.path): r for r in progress.reports}


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    docs.make_pdf(d / "facts.pdf", docs.fact_pages())
    (d / "notes.md").write_text("# Notes\n\nThe wifi password for the cabin is written on the fridge door.\n", encoding="utf-8")
    (d / "letter.txt").write_bytes("Dear Zoë, the café opens at nine.\n".encode("latin-1"))
    docs.make_docx(d / "handbook.docx", [("h1", "Handbook"), ("p", "Parking permits are renewed every January.")])
    sub = d / "nested" / "deeper"
    sub.mkdir(parents=True)
    docs.make_epub(sub / "story.epub", [("Arrival", "The train reached Tromsø after midnight.")])
    docs.make_html(d / "page.html", "Opening hours", "The library opens at 10:00 on Sundays and closes at 16:00.")
    (d / ".hidden.txt").write_text("secret", encoding="utf-8")
    (d / ".git").mkdir()
    (d / ".git" / "config").write_text("[core]", encoding="utf-8")
    (d / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return d


def test_folder_is_indexed_recursively_with_a_report(library, folder):
    progress = _run(library, [folder])
    assert progress.phase == "done"
    reports = _by_name(progress)
    indexed = {n for n, r in reports.items() if r.status is FileStatus.INDEXED}
    assert indexed == {"facts.pdf", "notes.md", "letter.txt", "handbook.docx", "story.epub", "page.html"}
    assert reports["facts.pdf"].pages == 3 and reports["facts.pdf"].chunks >= 1
    assert reports[".hidden.txt"].status is FileStatus.SKIPPED and reports[".hidden.txt"].reason == "hidden file"
    assert reports[".git"].reason == "hidden folder"
    assert reports["image.png"].status is FileStatus.SKIPPED and "unsupported" in reports["image.png"].reason
    # the store holds exactly the chunks the manifest lists
    assert library.indexer.check() == {
        "store_chunks": library.stats()["chunks"],
        "manifest_chunks": library.stats()["chunks"],
        "orphans": 0,
        "missing": 0,
        "pending": 0,
        "waiting": 0,  # every chunk has its vector when the run ends
        "lexical_mismatch": 0,
    }
    # provenance reaches the store
    hits = library.store.query(library.embedder.embed_query("sourdough cold fermentation"), 3)
    top = hits[0].chunk
    assert top.path.endswith("facts.pdf") and top.page == 3


def test_unchanged_folder_writes_nothing(library, folder, monkeypatch):
    _run(library, [folder])
    before = {f.path: (f.chunk_ids, f.indexed_at) for f in library.files()}
    calls = []
    real_embed = library.embedder.embed
    monkeypatch.setattr(library.embedder, "embed", lambda texts, **kw: calls.append(len(texts)) or real_embed(texts, **kw))
    progress = _run(library, [folder])
    assert {r.status for r in progress.reports if r.status is not FileStatus.SKIPPED} == {FileStatus.UNCHANGED}
    assert calls == []  # nothing embedded
    assert {f.path: (f.chunk_ids, f.indexed_at) for f in library.files()} == before


def test_touched_but_identical_file_is_unchanged(library, folder):
    _run(library, [folder])
    md = folder / "notes.md"
    os.utime(md, (time.time() + 10, time.time() + 10))
    reports = _by_name(_run(library, [folder]))
    assert reports["notes.md"].status is FileStatus.UNCHANGED


def test_edited_file_replaces_its_chunks(library, folder):
    _run(library, [folder])
    md = folder / "notes.md"
    old = library.manifest.get(str(md.resolve()))
    md.write_text("# Notes\n\nThe cabin key hangs behind the blue shutter on the porch.\n", encoding="utf-8")
    reports = _by_name(_run(library, [folder]))
    assert reports["notes.md"].status is FileStatus.INDEXED
    new = library.manifest.get(str(md.resolve()))
    assert set(new.chunk_ids).isdisjoint(old.chunk_ids)
    assert library.store.get(old.chunk_ids) == []
    texts = " ".join(c.text for c in library.store.get(new.chunk_ids))
    assert "blue shutter" in texts and "fridge" not in texts
    assert library.indexer.check()["orphans"] == 0


def test_removed_file_chunks_are_gone(library, folder):
    _run(library, [folder])
    target = (folder / "handbook.docx").resolve()
    ids = library.manifest.get(str(target)).chunk_ids
    reports = library.remove([target])
    assert [r.status for r in reports] == [FileStatus.REMOVED]
    assert library.store.get(ids) == [] and library.manifest.get(str(target)) is None
    assert target.exists()  # the file itself is untouched


def test_prune_drops_deleted_files(library, folder):
    _run(library, [folder])
    (folder / "page.html").unlink()
    progress = _run(library, [folder], prune=True)
    removed = [r for r in progress.reports if r.status is FileStatus.REMOVED]
    assert [os.path.basename(r.path) for r in removed] == ["page.html"]
    assert library.indexer.check()["orphans"] == 0


def test_bad_files_are_reported_and_the_rest_indexed(library, folder):
    docs.make_corrupt_pdf(folder / "corrupt.pdf")
    docs.make_encrypted_pdf(folder / "locked.pdf")
    (folder / "empty.txt").write_bytes(b"")
    reports = _by_name(_run(library, [folder]))
    assert "malformed PDF" in reports["corrupt.pdf"].reason
    assert "password" in reports["locked.pdf"].reason
    assert "empty" in reports["empty.txt"].reason
    assert all(reports[n].status is FileStatus.FAILED for n in ("corrupt.pdf", "locked.pdf", "empty.txt"))
    assert reports["facts.pdf"].status is FileStatus.INDEXED
    # a failed file that has not changed is reported again, without re-reading it
    again = _by_name(_run(library, [folder]))
    assert again["locked.pdf"].status is FileStatus.FAILED and "unchanged since the last attempt" in again["locked.pdf"].reason


def test_a_file_that_turns_bad_keeps_its_indexed_version(library, folder):
    _run(library, [folder])
    pdf = folder / "facts.pdf"
    old = library.manifest.get(str(pdf.resolve()))
    pdf.write_bytes(pdf.read_bytes()[:200])  # truncated by a bad copy
    reports = _by_name(_run(library, [folder]))
    assert reports["facts.pdf"].status is FileStatus.FAILED
    assert "previously indexed version is kept" in reports["facts.pdf"].reason
    assert len(library.store.get(old.chunk_ids)) == len(old.chunk_ids)


def test_a_killed_run_is_completed_by_the_next_without_orphans(library, folder):
    """Simulates a kill between writing a file's chunks and committing it to the manifest."""
    indexer = library.indexer
    pdf = (folder / "facts.pdf").resolve()
    todo = indexer._check(pdf, force=False)
    prepared = indexer._parsed(todo, indexer.pool.submit(todo.path, todo.content_hash))
    ids = [c.id for c in prepared.chunks]
    library.manifest.mark_pending(ids, str(pdf), "add")
    indexer.store.add(prepared.chunks, library.embedder.embed([c.text for c in prepared.chunks]))
    # ...killed here: chunks in Chroma, manifest does not know them
    assert library.store.count() == len(ids) and library.manifest.get(str(pdf)) is None
    progress = _run(library, [folder])
    assert _by_name(progress)["facts.pdf"].status is FileStatus.INDEXED
    check = library.indexer.check()
    assert check["orphans"] == 0 and check["missing"] == 0 and check["pending"] == 0
    assert check["store_chunks"] == library.stats()["chunks"]


def test_cancel_keeps_committed_files_only(library, folder):
    library.indexer.options.flush_chunks = 1  # one file per batch: cancel takes effect between files
    seen = []

    def cancel():
        return len(seen) >= 2

    for p in library.add([str(folder)], cancel=cancel):
        if p.report and p.report.status is FileStatus.INDEXED:
            seen.append(p.report.path)
    assert p.phase == "cancelled"
    committed = {f.path for f in library.files() if f.status == "indexed"}
    assert committed == set(seen)  # every committed file was reported, nothing else was written
    assert 2 <= len(seen) < 6
    assert library.indexer.check()["orphans"] == 0


def test_second_writer_is_refused_while_one_runs(library, folder):
    from indexing.pipeline import LibraryBusyError

    gen = library.add([str(folder)])
    next(gen)  # scanning
    next(gen)  # holds the lock now
    other = library.indexer
    other_lock_owner = type(other)(other.store, other.manifest, other.chunker, other.embedder, lock_path=library.state_dir / "index.lock")
    with pytest.raises(LibraryBusyError):
        list(other_lock_owner.index([str(folder)]))
    for _ in gen:
        pass


def test_every_odd_entry_of_a_folder_is_reported_and_costs_only_itself(library, tmp_path):
    """A Latin-1 file name made the whole run fail in the manifest; links that lead nowhere or in
    a circle, and a named pipe, vanished from the report (and a pipe could block the run)."""
    d = tmp_path / "odd"
    d.mkdir()
    (d / "good.txt").write_text("The harbour ferry leaves at noon.\n", encoding="utf-8")
    latin1 = os.path.join(os.fsencode(d), b"caf\xe9-notes.txt")
    with open(latin1, "wb") as fh:
        fh.write(b"The cafe opens at nine.\n")
    os.symlink("loop-b.txt", d / "loop-a.txt")
    os.symlink("loop-a.txt", d / "loop-b.txt")
    os.symlink("gone.txt", d / "dangling.txt")
    os.mkfifo(d / "pipe.txt")
    os.symlink(d, d / "again")  # a link back to the folder itself
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "linked.md").write_text("# Linked\n\nThe lighthouse is open on Sundays.\n", encoding="utf-8")
    os.symlink(tmp_path / "elsewhere", d / "shelf")  # a link to another folder is followed
    progress = _run(library, [d])
    assert progress.phase == "done"
    reports = _by_name(progress)
    assert {n for n, r in reports.items() if r.status is FileStatus.INDEXED} == {"good.txt", "linked.md"}
    name = next(n for n in reports if n.startswith("caf"))
    assert name == "caf\ufffd-notes.txt" and reports[name].status is FileStatus.FAILED
    assert "not valid UTF-8" in reports[name].reason and "rename it" in reports[name].reason
    assert reports["loop-a.txt"].status is FileStatus.SKIPPED and "link loop" in reports["loop-a.txt"].reason
    assert "link loop" in reports["loop-b.txt"].reason
    assert reports["dangling.txt"].reason == "a broken link: its target gone.txt does not exist"
    assert reports["pipe.txt"].reason == "a named pipe, not a regular file"
    assert reports["again"].reason == "a link to a folder already included"
    # the report can be printed and stored: no half-decoded name is left in it
    for r in progress.reports:
        r.path.encode("utf-8")


def _counting(library, monkeypatch) -> list[str]:
    """Every text the library's embedder is asked to embed, in order (the real model embeds them)."""
    seen: list[str] = []
    embedder = library.embedder
    real = embedder.embed
    monkeypatch.setattr(embedder, "embed", lambda texts, *a, **kw: seen.extend(texts) or real(texts, *a, **kw))
    return seen


def test_a_passage_repeated_across_files_is_embedded_once(library, tmp_path, monkeypatch):
    """A page that several files repeat word for word (a disclaimer, a standard notice) costs one
    embedding: each file still holds and finds its own copy, with the same vector."""
    folder = tmp_path / "memos"
    folder.mkdir()
    notice = ("This memo is confidential and intended only for the staff of the northern depot. If you received it "
              "in error, tell the sender and delete it; do not copy, forward or print it.")
    for n, topic in enumerate(["The forklift inspection is moved to Thursday.", "Night shifts start at ten from May.",
                               "The canteen serves lentil soup on Fridays."]):
        docs.make_pdf(folder / f"memo{n}.pdf", [topic, notice])
    seen = _counting(library, monkeypatch)
    assert all(r.status is FileStatus.INDEXED for r in _run(library, [folder]).reports)
    chunks = [c for r in library.files() for c in library.store.get(r.chunk_ids)]
    copies = [c for c in chunks if "confidential" in c.text]
    assert len(copies) == 3 and sum("confidential" in t for t in seen) == 1
    vectors = [v for _, v in library.store.get_with_vectors([c.id for c in copies])]
    assert all((v == vectors[0]).all() for v in vectors)
    found = library.retriever.search("Who may read the depot memo, and what if I got it by mistake?", 5)
    assert {os.path.basename(p.chunk.path) for p in found if "confidential" in p.chunk.text} == {"memo0.pdf", "memo1.pdf", "memo2.pdf"}


def test_an_edited_file_embeds_only_its_changed_passages(library, tmp_path, monkeypatch):
    """Editing one section of a long document re-embeds the chunks that changed, not the whole
    document: the others take the vectors their identical text got before."""
    doc = tmp_path / "manual.md"
    sections = [f"## Part {n}\n\n" + " ".join(f"Step {n}.{k}: tighten bolt {k} of panel {n} to {k + 10} newton metres."
                                               for k in range(40)) for n in range(6)]
    doc.write_text("# Assembly manual\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
    _run(library, [doc])
    before = library.manifest.get(str(doc.resolve())).chunks
    seen = _counting(library, monkeypatch)
    sections[5] = sections[5].replace("tighten bolt 3 of panel 5", "loosen bolt 3 of panel 5")
    doc.write_text("# Assembly manual\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
    assert _run(library, [doc]).reports[-1].status is FileStatus.INDEXED
    after = library.manifest.get(str(doc.resolve()))
    assert after.chunks == before >= 6 and 1 <= len(seen) < before / 3
    assert any("loosen bolt 3 of panel 5" in t for t in seen)
    found = library.retriever.search("loosen bolt 3 of panel 5", 5)
    assert any("loosen bolt 3 of panel 5" in p.chunk.text for p in found)
    assert library.indexer.check()["orphans"] == 0
