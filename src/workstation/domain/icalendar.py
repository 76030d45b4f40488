"""An iCalendar (RFC 5545) writer for due dates: all-day events with display alarms.

Only what the expiry export needs is written, and written strictly: a VCALENDAR with
PRODID and VERSION:2.0, VEVENTs with UID, DTSTAMP, DTSTART/DTEND as DATE values, SUMMARY,
DESCRIPTION and VALARMs. Text values are escaped (RFC 5545 section 3.3.11), every line ends
in CRLF and is folded at 75 octets without splitting a UTF-8 character (section 3.1).

>>> escape_text("Renew; then rotate, please\\n(see runbook)")
'Renew\\\\; then rotate\\\\, please\\\\n(see runbook)'
>>> fold("DESCRIPTION:" + "x" * 70).split("\\r\\n")[1]
' xxxxxxx'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

__all__ = [
    "MAX_OCTETS",
    "Alarm",
    "AllDayEvent",
    "escape_text",
    "fold",
    "unescape_text",
    "unfold",
    "write_calendar",
]

MAX_OCTETS = 75  # section 3.1: a line SHOULD NOT be longer than 75 octets, CRLF excluded
CRLF = "\r\n"

# Section 3.3.11: TEXT may not hold control characters other than HTAB; a line break is
# written as "\n". Other controls (a stray NUL or ESC in a certificate subject) become a
# space rather than making the file invalid.
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NEWLINES = re.compile(r"\r\n|\r|\n")
_NAME = re.compile(r"^[A-Z][A-Z0-9-]*$")  # section 3.1: iana-token / x-name, upper case


def escape_text(value: str) -> str:
    """A TEXT value (section 3.3.11): backslash, semicolon and comma escaped with a
    backslash, line breaks written as ``\\n``; other control characters become spaces."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = _NEWLINES.sub("\\\\n", value)
    return _CONTROLS.sub(" ", value)


def unescape_text(value: str) -> str:
    """The reverse of :func:`escape_text` (for reading back what was written)."""
    out: list[str] = []
    chars = iter(value)
    for c in chars:
        if c != "\\":
            out.append(c)
            continue
        nxt = next(chars, "")
        out.append("\n" if nxt in ("n", "N") else nxt)
    return "".join(out)


def fold(line: str) -> str:
    """One content line folded at 75 octets (section 3.1): each continuation line starts
    with a single space, which counts in its 75 octets; a multi-octet UTF-8 character is
    never split. Lines are joined with CRLF; no CRLF at the end."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    limit = MAX_OCTETS
    for ch in line:
        width = len(ch.encode("utf-8"))
        if size + width > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, MAX_OCTETS - 1
        current.append(ch)
        size += width
    parts.append("".join(current))
    return (CRLF + " ").join(parts)


def unfold(text: str) -> list[str]:
    """The content lines of a calendar: CRLF followed by a space or tab is removed
    (section 3.1); the lines are split on CRLF."""
    return re.sub(r"\r\n[ \t]", "", text).split(CRLF)[:-1] if text else []


def _line(name: str, value: str, params: str = "") -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a property name: {name!r}")
    return fold(f"{name}{params}:{value}")


def _date(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"  # section 3.3.4


def _utc(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("naive datetime: DTSTAMP is written in UTC")
    w = when.astimezone(UTC)
    return f"{_date(w.date())}T{w.hour:02d}{w.minute:02d}{w.second:02d}Z"  # section 3.3.5


@dataclass(frozen=True)
class Alarm:
    """A display alarm ``days_before`` the event's day (TRIGGER relative to DTSTART)."""

    days_before: int
    description: str

    def lines(self) -> list[str]:
        if self.days_before < 0:
            raise ValueError("an alarm comes before the event")
        # Section 3.3.6: dur-day; a negative duration is before the start (3.8.6.3).
        trigger = f"-P{self.days_before}D" if self.days_before else "PT0S"
        return [
            "BEGIN:VALARM",
            _line("ACTION", "DISPLAY"),
            _line("TRIGGER", trigger),
            # Section 3.6.6: a DISPLAY alarm must have a DESCRIPTION.
            _line("DESCRIPTION", escape_text(self.description)),
            "END:VALARM",
        ]


@dataclass(frozen=True)
class AllDayEvent:
    uid: str  # globally unique and stable, so a re-import updates rather than duplicates
    stamp: datetime  # DTSTAMP: when the calendar was written (UTC)
    day: date
    summary: str
    description: str
    alarms: tuple[Alarm, ...] = ()

    def lines(self) -> list[str]:
        if not self.uid or any(c in self.uid for c in "\r\n"):
            raise ValueError("an event needs a one-line UID")
        out = [
            "BEGIN:VEVENT",
            _line("UID", escape_text(self.uid)),
            _line("DTSTAMP", _utc(self.stamp)),
            # Section 3.6.1: an all-day event is a DATE start; DTEND (the next day) is
            # given too, as several calendar programs expect it.
            _line("DTSTART", _date(self.day), ";VALUE=DATE"),
            _line("DTEND", _date(self.day + timedelta(days=1)), ";VALUE=DATE"),
            _line("SUMMARY", escape_text(self.summary)),
            _line("DESCRIPTION", escape_text(self.description)),
            _line("TRANSP", "TRANSPARENT"),  # a due date does not make anyone busy
        ]
        for alarm in self.alarms:
            out += alarm.lines()
        out.append("END:VEVENT")
        return out


def write_calendar(events: Iterable[AllDayEvent], *, prodid: str, name: str | None = None) -> str:
    """A whole VCALENDAR (section 3.4): PRODID and VERSION:2.0 (section 3.7), the events,
    every line ending in CRLF."""
    lines: Sequence[str] = [
        "BEGIN:VCALENDAR",
        _line("PRODID", escape_text(prodid)),
        _line("VERSION", "2.0"),
        _line("CALSCALE", "GREGORIAN"),
    ]
    if name:
        lines = [*lines, _line("X-WR-CALNAME", escape_text(name))]
    body = [line for event in events for line in event.lines()]
    return CRLF.join([*lines, *body, "END:VCALENDAR"]) + CRLF
