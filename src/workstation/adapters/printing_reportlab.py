"""The ceremony's paper as PDF, made with reportlab in memory.

Three documents (see ``workstation.services.ports``):

- **Component mailers**, one A4 page per custodian, laid out like a PIN mailer: a tear-off
  receipt slip at the top, the envelope's outer face (addressee, key, which component, serial
  number and its Code 128 barcode), then a fold-and-tear line and the inner part, which alone
  holds the clear component (groups of four hex digits, large monospace, in a box) and that
  component's check value. Nothing above the fold line is secret, and the combined key's
  check value is never on a mailer: it is on the ceremony record only.
- **Custodian acknowledgements**, one page per envelope, for signature in front of a witness.
- **The ceremony record**: header, transcript, transcript hash, participants and a signature
  line per participant, with "page X of Y" in the footer.

Mailers are drawn straight onto a canvas, with fonts set up once per process, because a
ceremony or a bulk run may print a thousand of them; the acknowledgement and the record use
platypus, which handles their tables of unknown length.

About memory: the PDF is built in an ``io.BytesIO`` that is copied into the ``bytearray``
the caller gets (and wipes) and then overwritten with zeros. The hex string of a component
and reportlab's own copies of the page content are immutable Python strings and bytes that
no code can overwrite; they live only until the garbage collector frees them. That is a
limit of Python, not something this module can fix.
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import BaseDocTemplate
from reportlab.platypus.frames import Frame

from workstation.services.ports import AcknowledgementForm, CeremonyDocument, ComponentMailer

__all__ = ["ReportlabRenderer", "format_hex_groups", "printed_time"]

log = logging.getLogger(__name__)

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 36.0
CREATOR = "Key Custodian Workstation"

SANS = "Helvetica"
SANS_BOLD = "Helvetica-Bold"
MONO = "Courier"
MONO_BOLD = "Courier-Bold"

LABEL_GREY = 0.38
RULE_GREY = 0.55
BAND_GREY = 0.15

GROUPS_PER_LINE = 4  # four groups of four hex digits per line: short enough to key in by eye
SECRET_FONT_SIZE = 19.0
SECRET_LEADING = 27.0

# --- text helpers ------------------------------------------------------------------------


def printed_time(value: datetime) -> str:
    """``YYYY-MM-DD HH:MM UTC``; a naive time is taken as UTC (the workstation's clock is).

    >>> printed_time(datetime(2024, 5, 1, 9, 7, 59, tzinfo=UTC))
    '2024-05-01 09:07 UTC'
    """
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return f"{value:%Y-%m-%d %H:%M} UTC"


def format_hex_groups(hex_digits: str, *, group: int = 4, per_line: int = 0) -> list[str]:
    """Split hex digits into space-separated groups of ``group``, ``per_line`` groups a line
    (0: all on one line).

    >>> format_hex_groups("0123456789ABCDEF0123", per_line=4)
    ['0123 4567 89AB CDEF', '0123']
    """
    groups = [hex_digits[i : i + group] for i in range(0, len(hex_digits), group)]
    if per_line <= 0:
        return [" ".join(groups)]
    return [" ".join(groups[i : i + per_line]) for i in range(0, len(groups), per_line)]


def _holding(kind: str, index: int, count: int, threshold: int | None) -> str:
    """'Component 2 of 3' or 'Share 2 of 5 — any 3 recover'."""
    if kind == "share":
        text = f"Share {index} of {count}"
        if threshold:
            text += f" — any {threshold} recover"
        return text
    return f"Component {index} of {count}"


# Names and labels come from people: a Polish or Czech custodian's name does not fit the
# WinAnsi encoding of the PDF standard fonts. Such strings are set in DejaVu Sans (Debian
# fonts-dejavu-core), embedded; everything else stays in the standard fonts, which cost
# nothing to embed and draw fastest.
_UNICODE_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/local/share/fonts/truetype/dejavu"),
)
_UNICODE_FACES = {SANS: "KCW-Sans", SANS_BOLD: "KCW-Sans-Bold"}


@functools.cache
def _unicode_fonts_registered() -> bool:
    files = {"KCW-Sans": "DejaVuSans.ttf", "KCW-Sans-Bold": "DejaVuSans-Bold.ttf"}
    for folder in _UNICODE_FONT_DIRS:
        if all((folder / f).is_file() for f in files.values()):
            for name, f in files.items():
                pdfmetrics.registerFont(TTFont(name, str(folder / f)))
            pdfmetrics.registerFontFamily(
                "KCW-Sans",
                normal="KCW-Sans",
                bold="KCW-Sans-Bold",
                italic="KCW-Sans",
                boldItalic="KCW-Sans-Bold",
            )
            return True
    log.warning("DejaVu Sans not found: names outside Windows-1252 will print with gaps")
    return False


def _winansi(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _face(text: str, font: str) -> str:
    """The font to set ``text`` in: ``font``, or its Unicode stand-in when needed."""
    if _winansi(text) or font not in _UNICODE_FACES or not _unicode_fonts_registered():
        return font
    return _UNICODE_FACES[font]


def _fit(text: str, font: str, size: float, width: float, *, smallest: float = 7.0) -> float:
    """The largest size up to ``size`` at which ``text`` fits ``width`` (at least ``smallest``)."""
    measured = stringWidth(text, font, size)
    if measured <= width:
        return size
    return max(smallest, int(size * width / measured * 2) / 2)


def _clip(text: str, font: str, size: float, width: float) -> str:
    """``text``, cut with an ellipsis if it does not fit ``width`` at ``size``."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


# --- memory ------------------------------------------------------------------------------


def _take(buf: io.BytesIO) -> bytearray:
    """Copy the PDF out of ``buf`` into a bytearray the caller can wipe."""
    view = buf.getbuffer()
    try:
        return bytearray(view)
    finally:
        view.release()


def _scrub(buf: io.BytesIO) -> None:
    """Overwrite ``buf``'s storage with zeros, then close it."""
    if buf.closed:
        return
    view = buf.getbuffer()
    try:
        view[:] = bytes(len(view))
    finally:
        view.release()
    buf.close()


def _new_canvas(buf: io.BytesIO, title: str, subject: str) -> Any:
    c = rl_canvas.Canvas(buf, pagesize=A4, pageCompression=0)
    _describe(c, title, subject)
    return c


def _describe(c: Any, title: str, subject: str) -> None:
    # The document information dictionary is readable by anyone holding the file (and shown
    # in print queues): it names the document, never anything secret.
    c.setTitle(title)
    c.setSubject(subject)
    c.setAuthor(CREATOR)
    c.setCreator(CREATOR)
    c.setKeywords("")


# --- the mailer --------------------------------------------------------------------------


class _MailerPage:
    """Draws one component mailer on a canvas. Coordinates are points from the bottom left."""

    def __init__(self, c: Any) -> None:
        self.c = c
        self.left = MARGIN
        self.right = PAGE_WIDTH - MARGIN
        self.width = self.right - self.left

    # small drawing verbs -------------------------------------------------------------

    def text(self, x: float, y: float, value: str, font: str, size: float) -> None:
        self.c.setFont(_face(value, font), size)
        self.c.drawString(x, y, value)

    def label(self, x: float, y: float, value: str) -> None:
        self.c.setFillGray(LABEL_GREY)
        self.c.setFont(SANS, 7.5)
        self.c.drawString(x, y, value.upper())
        self.c.setFillGray(0)

    def field(self, x: float, y: float, name: str, value: str, width: float) -> None:
        """A label in small capitals with its value to the right, clipped to ``width``."""
        self.label(x, y + 1, name)
        font = _face(value, SANS_BOLD)
        self.c.setFont(font, 10.5)
        self.c.drawString(x + 78, y, _clip(value, font, 10.5, width - 78))

    def rule(self, x1: float, y: float, x2: float) -> None:
        self.c.line(x1, y, x2, y)

    def signature_line(self, x: float, y: float, width: float, caption: str) -> None:
        self.c.setStrokeGray(0)
        self.c.setLineWidth(0.6)
        self.rule(x, y, x + width)
        self.label(x, y - 9, caption)

    def cut_line(self, y: float, caption: str) -> None:
        c = self.c
        c.setStrokeGray(RULE_GREY)
        c.setLineWidth(0.8)
        c.setDash(5, 3)
        self.rule(0, y, PAGE_WIDTH)
        c.setDash()
        c.setFont(SANS, 7.5)
        w = stringWidth(caption, SANS, 7.5)
        c.setFillGray(1)
        c.rect((PAGE_WIDTH - w) / 2 - 6, y - 4, w + 12, 9, stroke=0, fill=1)
        c.setFillGray(LABEL_GREY)
        c.drawCentredString(PAGE_WIDTH / 2, y - 2.5, caption)
        c.setFillGray(0)
        c.setStrokeGray(0)

    # the page ------------------------------------------------------------------------

    def draw(self, m: ComponentMailer) -> None:
        holding = _holding(m.kind, m.index, m.count, m.threshold)
        self.receipt_slip(m, holding, top=PAGE_HEIGHT - 30)
        self.cut_line(PAGE_HEIGHT - 150, "tear off the receipt slip along this line")
        self.outer_face(m, holding, top=PAGE_HEIGHT - 172)
        self.cut_line(425, "fold and tear here — inner part below: open only at key entry")
        self.inner_part(m, top=405)

    def receipt_slip(self, m: ComponentMailer, holding: str, *, top: float) -> None:
        c = self.c
        self.text(self.left, top - 10, "RECEIPT SLIP", SANS_BOLD, 11)
        c.setFont(SANS, 8)
        c.drawRightString(
            self.right,
            top - 10,
            "Sign in front of the witness, tear off and return to the key management officer.",
        )
        half = self.width / 2
        self.field(self.left, top - 30, "Envelope", m.envelope_serial, half)
        self.field(self.left + half + 8, top - 30, "Custodian", m.custodian, half - 8)
        self.field(self.left, top - 45, "Key", m.key_label, half)
        self.field(self.left + half + 8, top - 45, "Holding", holding, half - 8)
        c.setFont(SANS, 8)
        c.drawString(
            self.left,
            top - 62,
            "I received this envelope sealed and intact, addressed to me. I will keep it "
            "unopened in my locked safe.",
        )
        y = top - 100
        self.signature_line(self.left, y, 210, "Custodian signature")
        self.signature_line(self.left + 228, y, 110, "Date / time")
        self.signature_line(self.left + 356, y, self.width - 356, "Witness name and signature")

    def outer_face(self, m: ComponentMailer, holding: str, *, top: float) -> None:
        c = self.c
        c.setFillGray(BAND_GREY)
        c.rect(self.left, top - 26, self.width, 26, stroke=0, fill=1)
        c.setFillGray(1)
        c.setFont(SANS_BOLD, 13)
        title = "SEALED KEY COMPONENT" if m.kind != "share" else "SEALED MASTER KEY SHARE"
        c.drawString(self.left + 10, top - 18, title)
        c.setFont(SANS_BOLD, 10)
        c.drawRightString(self.right - 10, top - 18, "CONFIDENTIAL — SPLIT KNOWLEDGE")
        c.setFillGray(0)
        c.setFont(SANS, 8.5)
        c.drawString(
            self.left,
            top - 42,
            "Deliver unopened, by hand, to the named custodian only. "
            "This outer part carries no key material.",
        )

        column = 322.0  # the serial and barcode column starts here
        name_width = column - self.left - 16
        self.label(self.left, top - 64, "For custodian")
        font = _face(m.custodian, SANS_BOLD)
        size = _fit(m.custodian, font, 19, name_width, smallest=11)
        c.setFont(font, size)
        c.drawString(self.left, top - 86, _clip(m.custodian, font, size, name_width))

        y = top - 112
        width = column - self.left - 16
        for name, value in (
            ("Key label", m.key_label),
            ("Algorithm", m.algorithm),
            ("Holding", holding),
            ("Ceremony", m.ceremony_id),
            ("Workstation", m.workstation_id),
            ("Printed", printed_time(m.printed_at)),
        ):
            self.field(self.left, y, name, value, width)
            y -= 17

        self.label(column, top - 64, "Envelope serial number")
        size = _fit(m.envelope_serial, SANS_BOLD, 20, self.right - column, smallest=10)
        c.setFont(SANS_BOLD, size)
        c.drawString(column, top - 86, m.envelope_serial)
        barcode = Code128(m.envelope_serial, barHeight=44, barWidth=1.1, quiet=False)
        if barcode.width > self.right - column:
            barcode = Code128(
                m.envelope_serial,
                barHeight=44,
                barWidth=1.1 * (self.right - column) / barcode.width,
                quiet=False,
            )
        barcode.drawOn(c, column, top - 146)
        c.setFont(MONO, 9)
        c.drawString(column, top - 158, m.envelope_serial)
        c.setFont(SANS, 8)
        c.drawString(column, top - 180, "Check the seal before you sign the receipt.")
        c.drawString(column, top - 191, "A broken seal or a wrong serial: refuse the envelope")
        c.drawString(column, top - 202, "and tell the key management officer at once.")

    def inner_part(self, m: ComponentMailer, *, top: float) -> None:
        c = self.c
        c.setLineWidth(1.2)
        c.rect(self.left, top - 24, self.width, 24, stroke=1, fill=0)
        c.setFont(SANS_BOLD, 12)
        c.drawCentredString(
            PAGE_WIDTH / 2, top - 16, "Inner part — open only at key entry. Do not copy."
        )

        noun = "Share" if m.kind == "share" else "Component"
        number = f"{noun} number {m.index} of {m.count}"
        if m.kind == "share" and m.threshold:
            number += f" — any {m.threshold} recover"
        c.setFont(SANS_BOLD, 15)
        c.drawString(self.left, top - 50, number)
        font = _face(m.key_label, SANS)
        c.setFont(font, 9.5)
        room = self.width - stringWidth(number, SANS_BOLD, 15) - 18
        c.drawRightString(
            self.right, top - 50, _clip(f"{m.key_label} ({m.algorithm})", font, 9.5, room)
        )
        c.setFont(SANS, 9.5)
        c.drawRightString(self.right, top - 63, f"Envelope {m.envelope_serial}")

        # The only place the clear value exists as text. ``hex()`` makes an immutable str that
        # cannot be wiped (see the module docstring).
        digits = m.secret.hex().upper()
        per_line, size, leading = GROUPS_PER_LINE, SECRET_FONT_SIZE, SECRET_LEADING
        if (
            len(digits) > 4 * GROUPS_PER_LINE * 7
        ):  # longer than any symmetric key: keep it on the page
            per_line, size, leading = 2 * GROUPS_PER_LINE, 14.0, 19.0
        lines = format_hex_groups(digits, per_line=per_line)
        widest = max(len(line) for line in lines)
        line_width = stringWidth("0" * widest, MONO_BOLD, size)
        cap_height = 0.562 * size  # Courier-Bold's cap height (its AFM): digits and A-F
        pad = 16.0
        box_top = top - 80
        box_width = max(line_width + 2 * 28, 300)
        box_height = 2 * pad + (len(lines) - 1) * leading + cap_height
        box_left = (PAGE_WIDTH - box_width) / 2
        self.label(
            box_left,
            box_top + 5,
            f"{noun} value: {len(digits)} hexadecimal digits in groups of four",
        )
        c.setLineWidth(1.5)
        c.rect(box_left, box_top - box_height, box_width, box_height, stroke=1, fill=0)
        text = c.beginText((PAGE_WIDTH - line_width) / 2, box_top - pad - cap_height)
        text.setFont(MONO_BOLD, size, leading)
        for line in lines:
            text.textLine(line)
        c.drawText(text)

        y = box_top - box_height - 28
        caption = f"Check value (KCV) of this {noun.lower()}:"
        c.setFont(SANS, 10.5)
        c.drawString(box_left, y, caption)
        c.setFont(MONO_BOLD, 17)
        c.drawString(
            box_left + stringWidth(caption, SANS, 10.5) + 14, y - 0.5, m.secret_kcv.upper()
        )

        c.setFont(SANS, 8.5)
        y -= 28
        for sentence in (
            "At key entry: check that the seal is intact and the serial matches the ceremony "
            "record, then open this part.",
            "Key the value in the groups shown, in front of the witness; compare the check "
            "value the workstation shows with the one above.",
            "If they differ, stop and call the key management officer. Do not write the value "
            "down, photograph or copy it.",
            "After the ceremony, destroy this part or reseal it in a new envelope, as the "
            "ceremony script says.",
        ):
            c.drawString(self.left, y, sentence)
            y -= 11.5

        c.setFillGray(LABEL_GREY)
        c.setFont(SANS, 7.5)
        c.drawString(
            self.left,
            MARGIN - 12,
            f"Envelope {m.envelope_serial} · ceremony {m.ceremony_id} · "
            f"workstation {m.workstation_id} · printed {printed_time(m.printed_at)}",
        )
        c.setFillGray(0)


# --- platypus documents ------------------------------------------------------------------


def _style(name: str, **kw: Any) -> ParagraphStyle:
    base: dict[str, Any] = {"fontName": SANS, "fontSize": 9, "leading": 11.5}
    base.update(kw)
    return ParagraphStyle(name, **base)


_TITLE = _style("kcw-title", fontName=SANS_BOLD, fontSize=18, leading=22, spaceAfter=2)
_SUBTITLE = _style("kcw-subtitle", fontSize=10, leading=13, textColor=colors.Color(0.3, 0.3, 0.3))
_HEADING = _style("kcw-heading", fontName=SANS_BOLD, fontSize=12, leading=15, spaceBefore=10)
_BODY = _style("kcw-body", fontSize=10, leading=14, spaceAfter=5)
_CELL = _style("kcw-cell", fontSize=8.5, leading=10.5)
_CELL_BOLD = _style("kcw-cell-bold", fontName=SANS_BOLD, fontSize=8.5, leading=10.5)
_LABEL = _style("kcw-label", fontSize=8, leading=10, textColor=colors.Color(0.35, 0.35, 0.35))
_VALUE = _style("kcw-value", fontName=SANS_BOLD, fontSize=10, leading=12.5)
_MONO = _style("kcw-mono", fontName=MONO, fontSize=10.5, leading=13.5)
_SMALL_RIGHT = _style("kcw-small-right", fontSize=8, leading=10, alignment=TA_RIGHT)

_unicode_styles: dict[str, ParagraphStyle] = {}


def _para(text: str, style: ParagraphStyle, *, markup: str | None = None) -> Paragraph:
    """A paragraph of ``text``, escaped, or of our own ``markup`` built around it; set in a
    Unicode font when ``text`` needs one."""
    body = escape(text) if markup is None else markup
    if style.fontName in _UNICODE_FACES and not _winansi(text) and _unicode_fonts_registered():
        variant = _unicode_styles.get(style.name)
        if variant is None:
            variant = ParagraphStyle(
                style.name + "-unicode", parent=style, fontName=_UNICODE_FACES[style.fontName]
            )
            _unicode_styles[style.name] = variant
        style = variant
    return Paragraph(body, style)


_GRID = colors.Color(0.7, 0.7, 0.7)
_HEADER_FILL = colors.Color(0.88, 0.88, 0.88)
_STRIPE = colors.Color(0.96, 0.96, 0.96)


def _details(rows: Sequence[tuple[str, str]], width: float) -> Table:
    """A two-column table of labels and values."""
    data = [[_para(k, _LABEL), _para(v, _VALUE)] for k, v in rows]
    table = Table(data, colWidths=[110, width - 110], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, _GRID),
            ]
        )
    )
    return table


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]) -> Table:
    """A table with a header row that repeats on every page it spans."""
    data: list[list[Paragraph]] = [[_para(h, _CELL_BOLD) for h in header]]
    data += [[_para(cell, _CELL) for cell in row] for row in rows]
    table = Table(data, colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    style: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, 0), _HEADER_FILL),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, _GRID),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    style += [("BACKGROUND", (0, r), (-1, r), _STRIPE) for r in range(2, len(data), 2)]
    table.setStyle(TableStyle(style))
    return table


def _signature_block(people: Sequence[tuple[str, str]], width: float) -> Table:
    """A row per person: role, printed name (blank to fill in when not known), and lines to
    sign and date on. Narrow empty columns keep the three lines apart."""
    gap = 14.0
    widths = [78, 160, gap, width - 78 - 160 - 95 - 2 * gap, gap, 95]
    header = ["Role", "Printed name", "", "Signature", "", "Date"]
    data: list[list[Any]] = [[_para(h, _CELL_BOLD) for h in header]]
    data += [[_para(role, _LABEL), _para(name, _CELL), "", "", "", ""] for name, role in people]
    table = Table(data, colWidths=widths, rowHeights=[16] + [40] * len(people), hAlign="LEFT")
    style: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 1), (-1, -1), 3),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
    ]
    style += [("LINEBELOW", (col, 1), (col, -1), 0.6, colors.black) for col in (1, 3, 5)]
    table.setStyle(TableStyle(style))
    return table


class _Footer(Flowable):  # type: ignore[misc]
    """Sets the footer text for this and later pages; takes no room."""

    def __init__(self, left: str, right: str) -> None:
        super().__init__()
        self.left = left
        self.right = right
        self.width = self.height = 0

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self.canv._kcw_footer = (self.left, self.right)


def _draw_footer(c: Any, left: str, right: str) -> None:
    c.saveState()
    c.setStrokeGray(RULE_GREY)
    c.setLineWidth(0.5)
    c.line(MARGIN, MARGIN - 6, PAGE_WIDTH - MARGIN, MARGIN - 6)
    c.setFillGray(LABEL_GREY)
    c.setFont(_face(left, SANS), 7.5)
    c.drawString(MARGIN, MARGIN - 16, left)
    c.setFont(SANS, 7.5)
    c.drawRightString(PAGE_WIDTH - MARGIN, MARGIN - 16, right)
    c.restoreState()


class _NumberedCanvas(rl_canvas.Canvas):  # type: ignore[misc]
    """A canvas that knows the page count when it draws footers: it keeps each page's state
    until ``save`` and then writes "page X of Y" on every page."""

    footer_left = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, 1):
            self.__dict__.update(state)
            _draw_footer(self, self.footer_left, f"page {number} of {total}")
            super().showPage()
        super().save()


def _numbered_canvas(footer_left: str) -> Callable[..., Any]:
    def make(*args: Any, **kwargs: Any) -> Any:
        c = _NumberedCanvas(*args, **kwargs)
        c.footer_left = footer_left
        return c

    return make


def _document(buf: io.BytesIO, title: str, subject: str, *, top: float = MARGIN) -> Any:
    doc = BaseDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN + 4,
        rightMargin=MARGIN + 4,
        topMargin=top,
        bottomMargin=MARGIN + 10,
        title=title,
        subject=subject,
        author=CREATOR,
        creator=CREATOR,
        keywords="",
        pageCompression=1,
    )
    frame = Frame(
        doc.leftMargin,
        doc.bottomMargin,
        doc.width,
        doc.height,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="body",
    )

    def on_page_end(c: Any, _doc: Any) -> None:
        footer = getattr(c, "_kcw_footer", None)
        if footer is not None:
            _draw_footer(c, *footer)

    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPageEnd=on_page_end)])
    return doc


# --- the renderer ------------------------------------------------------------------------


class ReportlabRenderer:
    """``DocumentRenderer`` with reportlab: A4 PDFs built in memory."""

    def component_mailers(self, mailers: Sequence[ComponentMailer]) -> bytearray:
        if not mailers:
            raise ValueError("no mailers to print")
        first, last = mailers[0].envelope_serial, mailers[-1].envelope_serial
        if len(mailers) == 1:
            title = f"Component mailer {first}"
        else:
            title = f"Component mailers {first} to {last} ({len(mailers)})"
        buf = io.BytesIO()
        try:
            c = _new_canvas(buf, title, f"Key ceremony {mailers[0].ceremony_id}")
            page = _MailerPage(c)
            for m in mailers:
                page.draw(m)
                c.showPage()
            c.save()
            return _take(buf)
        finally:
            _scrub(buf)

    def acknowledgement_forms(self, forms: Sequence[AcknowledgementForm]) -> bytearray:
        if not forms:
            raise ValueError("no acknowledgement forms to print")
        first = forms[0].envelope_serial
        title = f"Custodian acknowledgement {first}"
        if len(forms) > 1:
            title = f"Custodian acknowledgements {first} to {forms[-1].envelope_serial}"
        buf = io.BytesIO()
        try:
            doc = _document(buf, title, "Key ceremony envelope acknowledgement")
            story: list[Any] = []
            for n, form in enumerate(forms):
                if n:
                    story.append(PageBreak())
                story += self._acknowledgement(form, doc.width)
            doc.build(story)
            return _take(buf)
        finally:
            _scrub(buf)

    def ceremony_record(self, record: CeremonyDocument) -> bytearray:
        buf = io.BytesIO()
        try:
            doc = _document(buf, f"Ceremony record {record.ceremony_id}", record.title)
            footer = f"Ceremony {record.ceremony_id} · {record.title}"
            doc.build(self._record(record, doc.width), canvasmaker=_numbered_canvas(footer))
            return _take(buf)
        finally:
            _scrub(buf)

    # --- acknowledgement ---------------------------------------------------------------

    @staticmethod
    def _acknowledgement(form: AcknowledgementForm, width: float) -> list[Any]:
        holding = _holding(form.kind, form.index, form.count, None)
        bag = form.bag_number or "not yet sealed"
        barcode = Code128(form.envelope_serial, barHeight=34, barWidth=1.0, quiet=False)
        serial_cell = [barcode, Spacer(1, 3), _para(form.envelope_serial, _SMALL_RIGHT)]
        head = Table(
            [
                [
                    [
                        _para("Custodian acknowledgement", _TITLE),
                        _para(f"Envelope {form.envelope_serial} — {form.event}", _SUBTITLE),
                    ],
                    serial_cell,
                ]
            ],
            colWidths=[width - barcode.width - 10, barcode.width + 10],
        )
        head.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("ALIGN", (1, 0), (1, 0), "RIGHT"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ]
            )
        )
        details = _details(
            [
                ("Envelope serial", form.envelope_serial),
                ("Tamper-evident bag", bag),
                ("Custodian", form.custodian),
                ("Key", form.key_label),
                ("Holding", holding),
                ("Event acknowledged", form.event),
                ("Workstation", form.workstation_id),
                ("Printed", printed_time(form.printed_at)),
            ],
            width,
        )
        noun = "share" if form.kind == "share" else "component"
        who, serial = escape(form.custodian), escape(form.envelope_serial)
        people_text = form.custodian + form.key_label + bag
        sealed = (
            f"its seal and the tamper-evident bag <b>{escape(bag)}</b> are unbroken"
            if form.bag_number
            else "its seal is unbroken"
        )
        statement = [
            f"I, <b>{who}</b>, confirm that I received the sealed envelope <b>{serial}</b> "
            f"({noun} {form.index} of {form.count} of the key “{escape(form.key_label)}”) "
            f"intact: {sealed} and its serial number matches this form.",
            "I will keep the envelope unopened in my locked safe, and open it only at key entry "
            "during a ceremony, with a witness present.",
            f"I will not disclose, copy, photograph or write down the {noun} it holds, and I "
            "will report at once anything that suggests it was seen by someone else.",
            "I understand that I may never hold another component or share of the same key.",
        ]
        history = [_para("Envelope history", _HEADING), Spacer(1, 4)]
        if form.history:
            history.append(
                _grid(("Time (UTC)", "Event", "People"), form.history, (110, 150, width - 260))
            )
        else:
            history.append(_para("No earlier events.", _BODY))
        witness = _signature_block([(form.custodian, "custodian"), ("", "witness")], width)
        return [
            _Footer(
                f"Envelope {form.envelope_serial} · workstation {form.workstation_id} · "
                f"printed {printed_time(form.printed_at)}",
                "Custodian acknowledgement",
            ),
            head,
            Spacer(1, 10),
            details,
            _para("Statement", _HEADING),
            Spacer(1, 2),
            *[_para(people_text, _BODY, markup=s) for s in statement],
            *history,
            CondPageBreak(150),
            _para("Signatures", _HEADING),
            Spacer(1, 2),
            witness,
        ]

    # --- ceremony record ---------------------------------------------------------------

    @staticmethod
    def _record(r: CeremonyDocument, width: float) -> list[Any]:
        header: list[tuple[str, str]] = [
            ("Ceremony", r.ceremony_id),
            ("Script", r.script),
            ("Workstation", r.workstation_id),
        ]
        if r.key_label is not None:
            header.append(("Key label", r.key_label))
        if r.algorithm is not None:
            header.append(("Algorithm", r.algorithm))
        if r.key_kcv is not None:
            header.append(("Key check value", f"{r.key_kcv} (of the combined key)"))
        header += [
            ("Status", r.status),
            ("Started", printed_time(r.started_at)),
            ("Completed", printed_time(r.completed_at) if r.completed_at else "not completed"),
            ("Printed", printed_time(r.printed_at)),
        ]
        hash_lines = format_hex_groups(r.transcript_hash, per_line=8)
        people = [(name, role) for name, role, _card, _status in r.participants]
        story: list[Any] = [
            _para(r.title, _TITLE),
            _para("Ceremony record", _SUBTITLE),
            Spacer(1, 8),
            _details(header, width),
            _para("Transcript", _HEADING),
            Spacer(1, 4),
        ]
        if r.transcript:
            story.append(
                _grid(
                    ("Time (UTC)", "Step", "People", "What happened"),
                    r.transcript,
                    (92, 70, 115, width - 277),
                )
            )
        else:
            story.append(_para("The transcript is empty.", _BODY))
        story += [
            KeepTogether(
                [
                    _para("Transcript hash (SHA-256)", _HEADING),
                    Spacer(1, 3),
                    _para(r.transcript_hash, _MONO, markup="<br/>".join(hash_lines)),
                    _para(
                        "Each participant's card signed this hash of the canonical transcript.",
                        _LABEL,
                    ),
                ]
            ),
            KeepTogether(
                [
                    _para("Participants", _HEADING),
                    Spacer(1, 4),
                    _grid(
                        ("Name", "Role", "Card", "Signature"),
                        r.participants,
                        (130, 110, 95, width - 335),
                    ),
                ]
            ),
            CondPageBreak(60 + 40 * min(len(people), 6)),
            _para("Signatures", _HEADING),
            _para(
                "Each participant signs to confirm that this record is a true account of the "
                "ceremony they took part in.",
                _BODY,
            ),
            Spacer(1, 4),
            _signature_block(people, width),
        ]
        return story
