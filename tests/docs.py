"""Test documents, made on the fly, of every format Citewise reads (and some it must refuse)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _gui_app():
    # a QApplication (not only a QGuiApplication): widget tests may run in the same process
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(["citewise-tests"])
    return app


def make_pdf(path: Path, pages: list[str], *, image_only: bool = False) -> Path:
    """A real PDF with one page per string (Qt's QPdfWriter, as a word processor would make)."""
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QPageSize, QPainter, QPdfWriter

    _gui_app()
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setResolution(72)
    painter = QPainter(writer)
    painter.setFont(QFont("DejaVu Sans", 11))
    for i, text in enumerate(pages):
        if i:
            writer.newPage()
        if image_only:
            painter.fillRect(QRectF(40, 40, 400, 300), QColor(90, 90, 90))
        else:
            painter.drawText(QRectF(40, 40, 515, 760), int(Qt.TextFlag.TextWordWrap), text)
    painter.end()
    return path


def make_attachment_encrypted_pdf(path: Path, pages: list[str]) -> Path:
    """A PDF whose pages are plain but whose attachments are encrypted (the /Encrypt dictionary's
    streams and strings use the /Identity filter, only /EFF a cipher; the user password is not
    empty), as a mail client's "protect attachments" writes it: added as an incremental update."""
    import re

    make_pdf(path, pages)
    data = path.read_bytes()
    data += b"" if data.endswith(b"\n") else b"\n"
    startxref = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    size = int(re.findall(rb"/Size (\d+)", data)[-1])
    root = re.findall(rb"/Root (\d+ \d+ R)", data)[-1]
    obj = (b"%d 0 obj\n<< /Filter /Standard /V 4 /R 4 /Length 128 /P -4 /CF << /StdCF << /CFM /AESV2 "
           b"/AuthEvent /EFOpen /Length 16 >> >> /StmF /Identity /StrF /Identity /EFF /StdCF /O <%s> /U <%s> >>\nendobj\n"
           % (size, b"3a" * 32, b"5c" * 32))
    at = len(data)
    xref = b"xref\n%d 1\n%010d 00000 n \n" % (size, at)
    trailer = (b"trailer\n<< /Size %d /Root %s /Encrypt %d 0 R /ID [<%s> <%s>] /Prev %d >>\nstartxref\n%d\n%%%%EOF\n"
               % (size + 1, root, size, b"ab" * 16, b"ab" * 16, startxref, at + len(obj)))
    path.write_bytes(data + obj + xref + trailer)
    return path


def make_layout_pdf(path: Path, pages: list[list[tuple[float, float, str]]], *, font_size: int = 9) -> Path:
    """A PDF whose text is placed like a report generator places it: each `(x, y, text)` drawn at
    that point (A4 in points, y down), so tables have real columns and pages real columns."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QFont, QPageSize, QPainter, QPdfWriter

    _gui_app()
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setResolution(72)
    painter = QPainter(writer)
    painter.setFont(QFont("DejaVu Sans", font_size))
    for i, items in enumerate(pages):
        if i:
            writer.newPage()
        for x, y, text in items:
            painter.drawText(QPointF(x, y), text)
    painter.end()
    return path


REPORT_HEADER = "LIGHTHOUSE FERRIES INC. | Q2 2024 FORM 10-Q"
# (label, 2024, 2023): the statement of operations of a made-up company, three months ended June 30
REPORT_ROWS = [
    ("Ticket revenue", "$ 4,812", "$ 3,977"),
    ("Freight revenue", "1,204", "998"),
    ("Charter revenue", "377", "412"),
    ("Total revenue", "6,393", "5,387"),
    ("Fuel costs", "(1,930)", "(1,701)"),
    ("Crew wages", "(2,118)", "(1,996)"),
    ("Harbour fees", "(311)", "(296)"),
    ("Operating income", "2,034", "1,394"),
]
LEFT_COLUMN = [
    "The alpha harbour opened in spring with",
    "a new pier for the morning boats, and",
    "the alpha harbour master counted every",
    "passenger who came aboard that week.",
    "Alpha crews painted the hulls blue and",
    "checked each lifeboat before sailing.",
    "The alpha timetable lists nine trips",
    "on weekdays and six on the weekend.",
    "Alpha tickets are sold at the quay.",
    "Alpha ends its season in late autumn.",
    "The alpha office closes at six pm.",
    "Alpha boats carry bicycles for free.",
    "The alpha pier has a small cafe too.",
    "Alpha maps are printed every spring.",
]
RIGHT_COLUMN = [
    "Beta island lies north of the strait",
    "and its beta lighthouse guides every",
    "vessel past the beta reef at night.",
    "Beta keepers log the weather hourly",
    "and report storms to the coast guard.",
    "The beta ferry waits for the tide to",
    "turn before it leaves the beta dock.",
    "Beta visitors may climb the tower on",
    "Sundays between ten and four o'clock.",
    "Beta island has no cars at all.",
    "The beta school has eleven pupils.",
    "Beta sheep graze near the tower.",
    "The beta post boat comes on Fridays.",
    "Beta winters are long and windy.",
]


def make_two_reports(folder: Path) -> Path:
    """Two companies' quarterly reports for the same quarter: Lighthouse Ferries' (report-a.pdf,
    freight revenue 1,204) and Northwind Shipping's (report-b.pdf, 2,760)."""
    folder.mkdir(parents=True, exist_ok=True)
    make_report_pdf(folder / "report-a.pdf")
    other = [("Ticket revenue", "$ 9,100", "$ 8,850"), ("Freight revenue", "2,760", "2,410"), *REPORT_ROWS[2:]]
    make_report_pdf(folder / "report-b.pdf", table_rows=other, company="Northwind Shipping Corp.",
                    header="NORTHWIND SHIPPING CORP. | Q2 2024 FORM 10-Q")
    return folder


def make_report_pdf(
    path: Path, *, table_rows: list[tuple[str, str, str]] | None = None, company: str = "Lighthouse Ferries Inc.",
    header: str = REPORT_HEADER, ended: tuple[str, str] = ("June 30, 2024", "June 30, 2023"),
) -> Path:
    """A five-page quarterly report as business PDFs are: a cover, a running header and page
    numbers on every page, prose, a statement of operations table (page 3) whose figures stand
    in columns under "Three Months Ended June 30, 2024 / 2023", and a two-column page (page 4)."""
    rows = table_rows or REPORT_ROWS

    def page(number: int, body: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
        return [(40, 30, header), *body, (290, 810, str(number))]

    cover = [(150, 120, "UNITED STATES SECURITIES AND EXCHANGE COMMISSION"), (220, 150, "FORM 10-Q"),
             (120, 190, f"For the quarterly period ended {ended[0]}"), (190, 240, company),
             (140, 260, "(Exact name of registrant as specified in its charter)")]
    prose = [(40, 80 + 14 * i, line) for i, line in enumerate([
        f"{company} runs passenger and freight ferries between the islands of the sound.",
        "Our fleet of eleven vessels sailed 14,200 crossings in the quarter, carrying commuters,",
        "tourists and goods. Management discusses the results of operations on the following pages.",
    ])]
    table = [(140, 80, "CONDENSED STATEMENTS OF OPERATIONS (in thousands)"),
             (360, 110, "Three Months Ended"), (340, 124, ended[0]), (450, 124, ended[1])]
    for i, (label, a, b) in enumerate(rows):
        y = 150 + 16 * i
        table += [(40, y, label), (350, y, a), (460, y, b)]
    columns = [(40, 80 + 14 * i, t) for i, t in enumerate(LEFT_COLUMN)]
    columns += [(320, 80 + 14 * i, t) for i, t in enumerate(RIGHT_COLUMN)]
    closing = [(40, 80, "The board thanks the crews for a safe quarter on the water."),
               (40, 94, "No vessel was out of service for more than two days in the period.")]
    return make_layout_pdf(path, [page(1, cover), page(2, prose), page(3, table), page(4, columns), page(5, closing)])


def make_encrypted_pdf(path: Path, text: str = "Top secret quarterly numbers.", password: str = "hunter2") -> Path:
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf(path.with_suffix(".plain.pdf"), [text])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="AES-128")
    with open(path, "wb") as fh:
        writer.write(fh)
    plain.unlink()
    return path


def make_docx(path: Path, blocks: list[tuple[str, str]]) -> Path:
    """blocks: ("h1"|"h2"|"p", text)."""
    import docx

    document = docx.Document()
    for kind, text in blocks:
        if kind.startswith("h"):
            document.add_heading(text, level=int(kind[1:]))
        else:
            document.add_paragraph(text)
    document.save(str(path))
    return path


def make_docx_alt_chunks(path: Path, before: str, chunks: list[tuple[str, bytes]], after: str) -> Path:
    """A DOCX whose body imports other parts (w:altChunk), as mail merges and converters write:
    chunks are (content type, bytes), e.g. ("text/html", b"<p>…</p>") or ("message/rfc822", mht)."""
    import docx
    from docx.opc.part import Part
    from docx.opc.packuri import PackURI
    from docx.oxml import parse_xml

    document = docx.Document()
    document.add_paragraph(before)
    body = document.element.body
    for i, (content_type, blob) in enumerate(chunks, start=1):
        part = Part(PackURI(f"/word/afchunk{i}.bin"), content_type, blob, document.part.package)
        rid = document.part.relate_to(part, "http://schemas.openxmlformats.org/officeDocument/2006/relationships/aFChunk")
        body.insert(len(body) - 1, parse_xml(
            '<w:altChunk xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
            f'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" r:id="{rid}"/>'))
    document.add_paragraph(after)
    document.save(str(path))
    return path


def make_wrapped_pdf(path: Path, notice: str, protection: str | None = "MicrosoftIRMServices") -> Path:
    """A PDF 2.0 "unencrypted wrapper" as Microsoft IRM writes one: a page that says the document
    is protected, the document itself an encrypted attachment (protection None: a plain attachment)."""
    from pypdf import PdfWriter
    from pypdf.generic import DictionaryObject, NameObject

    make_pdf(path, [notice])
    writer = PdfWriter(clone_from=str(path))
    writer.add_attachment("payload.pdf" if protection else "data.csv", b"\x93\x11 not readable without a key")
    if protection:
        spec = writer.root_object["/Names"]["/EmbeddedFiles"]["/Names"][1].get_object()
        spec[NameObject("/AFRelationship")] = NameObject("/EncryptedPayload")
        spec[NameObject("/EP")] = DictionaryObject(
            {NameObject("/Type"): NameObject("/EncryptedPayload"), NameObject("/Subtype"): NameObject(f"/{protection}")})
    writer.write(str(path))
    return path


def make_epub(path: Path, chapters: list[tuple[str, str]], title: str = "Test Book") -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("citewise-test")
    book.set_title(title)
    book.set_language("en")
    items = []
    for i, (heading, body) in enumerate(chapters, start=1):
        ch = epub.EpubHtml(title=heading, file_name=f"chap_{i}.xhtml", lang="en")
        paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
        ch.content = f"<html><body><h1>{heading}</h1>{paragraphs}</body></html>"
        book.add_item(ch)
        items.append(ch)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    epub.write_epub(str(path), book)
    return path


def rezip(src: Path, dst: Path, *, replace=None, add=None, stored=()) -> Path:
    """A copy of a ZIP-based document with members changed (name → fn(bytes)), added, or stored
    uncompressed (so that `corrupt_member` can damage their bytes)."""
    import zipfile

    replace, add = replace or {}, add or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename in replace:
                data = replace[info.filename](data)
            plain = info.filename in stored or info.filename == "mimetype"
            zout.writestr(zipfile.ZipInfo(info.filename), data, compress_type=zipfile.ZIP_STORED if plain else zipfile.ZIP_DEFLATED)
        for name, data in add.items():
            zout.writestr(name, data)
    return dst


def make_damaged_docx(path: Path) -> Path:
    """A Word file whose theme part (unused for text) fails its CRC check."""
    base = make_docx(path.with_suffix(".base.docx"), [("h1", "Handbook"), ("p", "Parking permits are renewed every January.")])
    rezip(base, path, stored=("word/theme/theme1.xml",))
    base.unlink()
    raw = bytearray(path.read_bytes())
    at = raw.find(b"<a:theme")
    raw[at + 20] ^= 0x55
    path.write_bytes(bytes(raw))
    return path


def make_odd_epub(path: Path, kind: str) -> Path:
    """kind "missing-audio": the manifest lists an audio file the archive lacks; "drm": the
    chapters are encrypted (listed in META-INF/encryption.xml, their bytes noise)."""
    base = make_epub(path.with_suffix(".base.epub"), [("Arrival", "The train reached Tromso after midnight."),
                                                      ("Harbour", "The ferry left at dawn with the mail.")])
    if kind == "missing-audio":
        item = b'<item id="a1" href="audio/track.mp3" media-type="audio/mpeg"/></manifest>'
        rezip(base, path, replace={"EPUB/content.opf": lambda b: b.replace(b"</manifest>", item)})
    else:
        cipher = "".join(
            '<enc:EncryptedData><enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
            f'<enc:CipherData><enc:CipherReference URI="EPUB/chap_{i}.xhtml"/></enc:CipherData></enc:EncryptedData>'
            for i in (1, 2)
        )
        encryption = ('<?xml version="1.0"?><encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
                      f'xmlns:enc="http://www.w3.org/2001/04/xmlenc#">{cipher}</encryption>')
        noise = lambda b: bytes((x * 7 + 13) % 256 for x in b)  # noqa: E731
        rezip(base, path, replace={"EPUB/chap_1.xhtml": noise, "EPUB/chap_2.xhtml": noise},
              add={"META-INF/encryption.xml": encryption})
    base.unlink()
    return path


def make_html(path: Path, title: str, body: str, nav: str = "Home | Products | Contact us | Login") -> Path:
    paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
    path.write_text(
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        f"<nav><ul>{''.join(f'<li><a href=#>{n.strip()}</a></li>' for n in nav.split('|'))}</ul></nav>"
        f"<article><h1>{title}</h1>{paragraphs}</article>"
        f"<footer>Copyright 2024 Example Corp. All rights reserved. Privacy policy. Cookie settings.</footer>"
        "</body></html>",
        encoding="utf-8",
    )
    return path


def make_corrupt_pdf(path: Path) -> Path:
    good = make_pdf(path.with_suffix(".good.pdf"), ["This text will be cut off."])
    data = good.read_bytes()
    good.unlink()
    path.write_bytes(data[: len(data) // 3])  # truncated: no xref, no trailer
    return path


def make_png(path: Path) -> Path:
    # the 8-byte signature and an IHDR chunk: enough for any sniffing
    path.write_bytes(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 64)
    return path


def make_zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return path


FACTS = [
    "The ferry to Bainbridge Island leaves Pier 52 at 7:15 every morning and returns at 18:40.",
    "The museum's night tour costs 35 dollars per person and starts at the north gate at 21:00.",
    "Our bakery's sourdough loaf needs eighteen hours of cold fermentation before it is baked.",
]

FILLER = [
    "Visitors often ask about schedules, so this page repeats the most useful details.",
    "The information on this page was checked by the operations team last spring.",
    "Please read every notice carefully before planning a trip with children.",
]


def fact_pages() -> list[str]:
    """Three pages, one distinct fact on each, among ordinary filler."""
    return [f"{FILLER[i]} {FACTS[i]} {FILLER[(i + 1) % 3]}" for i in range(3)]


def make_scanned_pdf(path: Path, pages: list[str]) -> Path:
    """A PDF whose pages are pictures of text, as a scanner makes: no text layer at all."""
    from PySide6.QtCore import QRect, QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QImage, QPageSize, QPainter, QPdfWriter

    _gui_app()
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setResolution(72)
    painter = QPainter(writer)
    for i, text in enumerate(pages):
        if i:
            writer.newPage()
        image = QImage(1100, 700, QImage.Format.Format_RGB32)
        image.fill(QColor("white"))
        p = QPainter(image)
        p.setPen(QColor("black"))
        p.setFont(QFont("DejaVu Sans", 30))
        p.drawText(QRect(40, 40, 1020, 620), int(Qt.TextFlag.TextWordWrap), text)
        p.end()
        painter.drawImage(QRectF(40, 40, 515, 328), image)
    painter.end()
    return path


BOAT_NOTE = "# Boat\n\nLife jackets are stored under the rear bench of the boat.\n"


def make_papers(folder: Path, *, broken: bool = False) -> Path:
    """The CLI tests' folder: the fact PDF and a Markdown note; with `broken`, also an encrypted
    PDF, a corrupt PDF and an empty text file (three files that must fail with their reasons)."""
    folder.mkdir(parents=True, exist_ok=True)
    make_pdf(folder / "facts.pdf", fact_pages())
    (folder / "guide.md").write_text(BOAT_NOTE, encoding="utf-8")
    if broken:
        make_encrypted_pdf(folder / "locked.pdf")
        make_corrupt_pdf(folder / "corrupt.pdf")
        (folder / "empty.txt").write_bytes(b"")
    return folder


# a town's three pages: "and on weekends?" after a ferry question (the buses' page has the word,
# the ferry's the answer), and a change of topic (the library)
FERRY = ("# Ferry to Vardø\n\nThe ferry to Vardø leaves the harbour at 9:00 on weekdays and takes forty minutes.\n\n"
         "On Saturdays and Sundays it sails at 11:30 from pier 4 instead.\n")
BUS = "# City buses\n\nOn weekends the city buses run every thirty minutes from 7:00 until midnight.\n"
LIBRARY = "# Public library\n\nA library membership card costs five euros and is renewed every January.\n"


def make_town(folder: Path) -> Path:
    """ferry.md, bus.md and library.md in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("ferry.md", FERRY), ("bus.md", BUS), ("library.md", LIBRARY)):
        (folder / name).write_text(text, encoding="utf-8")
    return folder
