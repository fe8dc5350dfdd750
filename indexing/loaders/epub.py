"""EPUB loader: ebooklib (the maintained EPUB2/EPUB3 reader), one unit per chapter.

Chapters follow the spine (reading order); a chapter's label is its table-of-contents title,
else its first heading. Empty spine documents (cover, title page images) and spine items that
are not markup (an image) are skipped; chapters declared text/html or XML are read like XHTML.
"""

from __future__ import annotations

import logging
import warnings as _warnings
import zipfile
from pathlib import Path
from posixpath import basename

from indexing.loaders.html import html_to_unit
from indexing.loaders.salvage import read_salvaging
from indexing.models import DocumentError, ParsedDocument, UnitKind
from indexing.normalize import has_words

logging.getLogger("ebooklib").setLevel(logging.ERROR)


def _toc_titles(toc) -> dict[str, str]:
    titles: dict[str, str] = {}

    def walk(items) -> None:
        for item in items:
            if isinstance(item, tuple) and len(item) == 2:
                section, children = item
                href = getattr(section, "href", None)
                if href and getattr(section, "title", None):
                    titles.setdefault(href.split("#")[0], section.title)
                walk(children)
            elif getattr(item, "href", None) and getattr(item, "title", None):
                titles.setdefault(item.href.split("#")[0], item.title)

    try:
        walk(toc)
    except Exception:
        return {}
    return titles


# encryption.xml algorithms that only obfuscate embedded fonts (IDPF, Adobe): the text is plain
_FONT_OBFUSCATION = ("http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC")


def _refuse_drm(path: Path) -> None:
    """An EPUB whose chapters are encrypted (DRM) reads as noise: refuse it, saying why."""
    import re

    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            encryption = zf.read("META-INF/encryption.xml").decode("utf-8", "replace") if "META-INF/encryption.xml" in names else ""
    except (zipfile.BadZipFile, OSError):
        return  # the reader says what is wrong
    protected = "META-INF/rights.xml" in names
    for block in re.findall(r"<(?:\w+:)?EncryptedData\b.*?</(?:\w+:)?EncryptedData>", encryption, re.S):
        algorithm = re.search(r'Algorithm="([^"]+)"', block)
        uri = re.search(r'URI="([^"]+)"', block)
        if algorithm and algorithm.group(1) not in _FONT_OBFUSCATION and uri and re.search(r"\.x?html?$", uri.group(1), re.I):
            protected = True
    if protected:
        raise DocumentError("its chapters are encrypted (DRM copy protection): only EPUBs without it can be read",
                            code="encrypted")


# spine items a reading system shows as pages though they are not declared XHTML (EPUB 2 books
# and converters declare chapters text/html or plain XML; ebooklib types those as unknown)
_MARKUP_TYPES = ("text/html", "application/xml", "text/xml", "application/x-dtbook+xml", "text/x-oeb1-document")


def _markup(item) -> bool:
    return (getattr(item, "media_type", "") or "").split(";")[0].strip().lower() in _MARKUP_TYPES


def load_epub(path: Path) -> ParsedDocument:
    from ebooklib import ITEM_DOCUMENT, epub

    if not zipfile.is_zipfile(path):
        raise DocumentError("not a valid EPUB: the file is not a ZIP archive", code="malformed")
    _refuse_drm(path)

    def read(source):
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            return epub.read_epub(source if not isinstance(source, Path) else str(source), options={"ignore_ncx": False})

    try:
        book, missing = read_salvaging(path, read)
    except zipfile.BadZipFile as exc:
        raise DocumentError(f"malformed EPUB: broken ZIP archive ({exc})", code="malformed") from None
    except (KeyError, epub.EpubException) as exc:
        raise DocumentError(f"malformed EPUB: {getattr(exc, 'msg', None) or exc}", code="malformed") from None
    except Exception as exc:  # lxml errors in the package document, and worse
        raise DocumentError(f"malformed EPUB: {exc}", code="malformed") from None

    titles = _toc_titles(book.toc)
    units = []
    failed = 0
    for idref, _linear in book.spine:
        item = book.get_item_with_id(idref) if idref else None
        if item is None or not (item.get_type() == ITEM_DOCUMENT or _markup(item)):
            continue  # an image, a stylesheet: nothing to read
        try:
            content = item.get_content()
            unit = html_to_unit(content, number=len(units) + 1, kind=UnitKind.CHAPTER)
        except Exception:
            failed += 1
            continue
        if not has_words(unit.text, 3):
            continue
        name = item.get_name()
        label = titles.get(name) or titles.get(basename(name))
        if not label and unit.headings:
            label = unit.headings[0][1][-1]
        units.append(unit.__class__(number=unit.number, text=unit.text, kind=unit.kind, label=label, headings=unit.headings))

    if not units:
        raise DocumentError("no text found in the EPUB's chapters" if not failed else "malformed EPUB: no chapter could be read", code="no-text")
    title = None
    try:
        meta = book.get_metadata("DC", "title")
        title = meta[0][0] if meta else None
    except Exception:
        pass
    warnings = [f"{failed} chapters could not be read"] if failed else []
    if missing:
        warnings.append(f"files its manifest lists are missing ({', '.join(missing)}); the text was read without them")
    return ParsedDocument(kind="epub", units=units, title=title, page_count=len(units), warnings=warnings)
