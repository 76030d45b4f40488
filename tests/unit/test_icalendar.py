"""The iCalendar writer against the rules of RFC 5545 it implements: TEXT escaping (3.3.11),
line folding at 75 octets without splitting a UTF-8 character (3.1), CRLF line ends, the
calendar's and the event's required properties, DATE and UTC DATE-TIME forms, alarms."""

from __future__ import annotations

import doctest
import itertools
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from workstation.domain import icalendar
from workstation.domain.icalendar import (
    MAX_OCTETS,
    Alarm,
    AllDayEvent,
    escape_text,
    fold,
    unescape_text,
    unfold,
    write_calendar,
)

STAMP = datetime(2026, 11, 24, 9, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("plain words: a colon stays", "plain words: a colon stays"),
        ("a;b", "a\\;b"),
        ("a,b", "a\\,b"),
        ("back\\slash", "back\\\\slash"),
        ("two\nlines", "two\\nlines"),
        ("windows\r\nline", "windows\\nline"),
        ("old mac\rline", "old mac\\nline"),
        ("tab\tstays", "tab\tstays"),
        ("nul\x00and esc\x1b", "nul and esc "),
        ("\\n is not a newline", "\\\\n is not a newline"),
        ("CN=a,O=b;c\\d", "CN=a\\,O=b\\;c\\\\d"),
    ],
)
def test_text_escaping(text: str, escaped: str) -> None:
    assert escape_text(text) == escaped


@pytest.mark.parametrize("text", ["a;b,c\\d", "multi\nline\ntext", "\\n literal", "", "é, ü; 鍵\\"])
def test_unescape_reverses_escape(text: str) -> None:
    assert unescape_text(escape_text(text)) == text


def octets(line: str) -> int:
    return len(line.encode("utf-8"))


def test_short_lines_are_not_folded() -> None:
    line = "SUMMARY:" + "x" * (MAX_OCTETS - 8)
    assert octets(line) == 75
    assert fold(line) == line


def test_fold_at_75_octets_with_a_leading_space() -> None:
    line = "DESCRIPTION:" + "".join(chr(ord("a") + i % 26) for i in range(200))
    folded = fold(line)
    physical = folded.split("\r\n")
    assert len(physical) == 3
    assert octets(physical[0]) == 75
    assert all(p.startswith(" ") for p in physical[1:])
    assert octets(physical[1]) == 75  # the space counts in the 75 octets
    assert all(octets(p) <= 75 for p in physical)
    assert unfold(folded + "\r\n") == [line]


@pytest.mark.parametrize("char", ["é", "鍵", "🔑"])  # 2, 3 and 4 octets
@pytest.mark.parametrize("offset", range(4))
def test_fold_never_splits_a_utf8_character(char: str, offset: int) -> None:
    line = "SUMMARY:" + "x" * offset + char * 60
    folded = fold(line)
    physical = folded.split("\r\n")
    for p in physical:
        assert octets(p) <= 75
        p.encode("utf-8").decode("utf-8")  # each physical line is whole UTF-8
    # Folded as late as the character allows: no line could have taken one more.
    for p, nxt in itertools.pairwise(physical):
        assert octets(p) + octets(nxt[1]) > 75
    assert unfold(folded + "\r\n") == [line]


def test_unfold_accepts_tab_continuations() -> None:
    assert unfold("SUMMARY:ab\r\n\tcd\r\nEND:X\r\n") == ["SUMMARY:abcd", "END:X"]


def event(**changes: object) -> AllDayEvent:
    fields: dict[str, object] = {
        "uid": "0123abcd@kcw-test",
        "stamp": STAMP,
        "day": date(2027, 2, 28),
        "summary": "Certificate expires: CN=atm-0042.bank.example,O=Bank;GB",
        "description": "Line one\nLine two, with a comma",
        "alarms": (Alarm(30, "In 30 days"), Alarm(0, "Today")),
    }
    fields.update(changes)
    return AllDayEvent(**fields)  # type: ignore[arg-type]


def test_calendar_structure_line_ends_and_properties() -> None:
    text = write_calendar([event()], prodid="-//Key Custodian Workstation//Due dates//EN")
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")  # every line break is CRLF
    lines = unfold(text)
    assert lines[:4] == [
        "BEGIN:VCALENDAR",
        "PRODID:-//Key Custodian Workstation//Due dates//EN",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
    ]
    assert lines[-1] == "END:VCALENDAR"
    start = lines.index("BEGIN:VEVENT")
    body = lines[start : lines.index("END:VEVENT") + 1]
    props = [line for line in body if not line.startswith(("BEGIN", "END"))]
    assert "UID:0123abcd@kcw-test" in props
    assert "DTSTAMP:20261124T093005Z" in props
    assert "DTSTART;VALUE=DATE:20270228" in props
    assert "DTEND;VALUE=DATE:20270301" in props  # the next day: across the month's end
    assert "SUMMARY:Certificate expires: CN=atm-0042.bank.example\\,O=Bank\\;GB" in props
    assert "DESCRIPTION:Line one\\nLine two\\, with a comma" in props
    alarms = [line for line in body if line.startswith("TRIGGER")]
    assert alarms == ["TRIGGER:-P30D", "TRIGGER:PT0S"]
    assert body.count("BEGIN:VALARM") == 2 and body.count("ACTION:DISPLAY") == 2
    assert "DESCRIPTION:In 30 days" in body  # a DISPLAY alarm has its DESCRIPTION


def test_long_values_fold_inside_the_calendar() -> None:
    label = "CN=" + "very-long-host-name." * 10 + "bank.example (key TLS-0001, serial 7F3A)"
    text = write_calendar([event(summary=label)], prodid="-//KCW//EN")
    assert all(octets(p) <= 75 for p in text.split("\r\n"))
    summaries = [line for line in unfold(text) if line.startswith("SUMMARY:")]
    assert [unescape_text(s.removeprefix("SUMMARY:")) for s in summaries] == [label]


def test_dtstamp_is_written_in_utc() -> None:
    cet = timezone(timedelta(hours=1))
    text = write_calendar([event(stamp=datetime(2026, 11, 24, 10, 30, 5, tzinfo=cet))], prodid="x")
    assert "DTSTAMP:20261124T093005Z" in unfold(text)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"stamp": datetime(2026, 11, 24)}, "naive datetime"),
        ({"uid": ""}, "one-line UID"),
        ({"uid": "a\nb"}, "one-line UID"),
        ({"alarms": (Alarm(-1, "after"),)}, "before the event"),
    ],
)
def test_bad_events_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_calendar([event(**changes)], prodid="x")


def test_an_empty_calendar_is_still_a_calendar() -> None:
    lines = unfold(write_calendar([], prodid="x", name="KCW"))
    assert lines == [
        "BEGIN:VCALENDAR",
        "PRODID:x",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "X-WR-CALNAME:KCW",
        "END:VCALENDAR",
    ]


def test_doctests() -> None:
    assert doctest.testmod(icalendar).failed == 0
