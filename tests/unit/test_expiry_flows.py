"""The due-dates screens' logic without Qt: the dashboard summary, the task list's filter
and marks, and the owners, windows and calendar forms with their messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workstation.domain.expiry import DueItem
from workstation.domain.monitoring import AlertWindows, DueTask
from workstation.flows.expiry import (
    ALL,
    OVERDUE_FILTER,
    CalendarForm,
    OwnersForm,
    Severity,
    WindowsForm,
    filter_choices,
    filter_tasks,
    severity,
    split_addresses,
    summarise,
)
from workstation.flows.wizards import FlowError

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
WINDOWS = AlertWindows()


def task(days: int, label: str = "") -> DueTask:
    item = DueItem(
        "key",
        label or f"k{days}",
        label or f"KEY-{days}",
        "crypto-period ends",
        NOW + timedelta(days=days),
    )
    return DueTask(item, days, WINDOWS.band(days), days <= 0, ())


TASKS = [task(-3), task(0), task(5), task(7), task(8), task(30), task(60), task(200)]


def test_summary_counts_each_band_and_overdue() -> None:
    summary = summarise(TASKS, WINDOWS)
    assert summary.overdue == 2
    assert summary.by_window == ((7, 2), (30, 2), (90, 1))
    assert summary.total == 7  # the one 200 days away is beyond every window
    assert [t.days_left for t in summary.next_items] == [-3, 0, 5, 7, 8]
    assert [summary.band_label(w) for w, _ in summary.by_window] == [
        "within 7 days",
        "8–30 days",
        "31–90 days",
    ]


def test_severity_marks_overdue_red_and_the_shortest_window_amber() -> None:
    assert [severity(t, WINDOWS) for t in TASKS] == [
        Severity.OVERDUE,
        Severity.OVERDUE,
        Severity.URGENT,
        Severity.URGENT,
        Severity.SOON,
        Severity.SOON,
        Severity.SOON,
        Severity.LATER,
    ]


def test_filter() -> None:
    assert [v for _, v in filter_choices(WINDOWS)] == [ALL, OVERDUE_FILTER, "7", "30", "90"]
    assert filter_tasks(TASKS, ALL) == TASKS
    assert [t.days_left for t in filter_tasks(TASKS, OVERDUE_FILTER)] == [-3, 0]
    assert [t.days_left for t in filter_tasks(TASKS, "7")] == [-3, 0, 5, 7]


def test_addresses_split_on_lines_commas_and_spaces() -> None:
    assert split_addresses(" a@b.example,\nc@d.example; e@f.example  ") == [
        "a@b.example",
        "c@d.example",
        "e@f.example",
    ]


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        (OwnersForm("default", "", "ops@bank.example"), {}),
        (OwnersForm("template", "PIN encryption key", "a@b.example c@d.example"), {}),
        (OwnersForm("template", " ", "a@b.example"), {"ref": "Give the template's name."}),
        (OwnersForm("key", "", "a@b.example"), {"ref": "Give the key's label."}),
        (OwnersForm("default", "", ""), {"emails": "Give at least one e-mail address."}),
        (OwnersForm("key", "ZMK-1", "", clear=True), {}),
        (
            OwnersForm("partner", "x", "a@b.example"),
            {"scope_kind": "Choose whose owners: the default, a template or a key."},
        ),
    ],
)
def test_owners_form(form: OwnersForm, errors: dict[str, str]) -> None:
    assert form.validate() == errors


def test_owners_form_names_the_bad_address_and_gives_the_scope() -> None:
    form = OwnersForm("key", "ZMK-1", "ops@bank.example, ops@bank")
    assert "'ops@bank': the domain after @" in form.validate()["emails"]
    with pytest.raises(FlowError):
        form.addresses()
    good = OwnersForm("key", " ZMK-1 ", "ops@bank.example")
    assert good.scope == "key:ZMK-1" and good.addresses() == ["ops@bank.example"]
    assert OwnersForm().scope == "default"


def test_windows_form() -> None:
    assert WindowsForm("90, 30, 7").validate() == {}
    assert WindowsForm("60,14").windows().days == (60, 14)
    assert WindowsForm("30,30").validate() == {"windows": "Each alert window is given once."}
    assert "whole number" in WindowsForm("30,x").validate()["windows"]


def test_calendar_form(tmp_path: Path) -> None:
    taken = tmp_path / "taken.ics"
    taken.write_text("x")
    assert CalendarForm(str(tmp_path / "due.ics")).validate() == {}
    assert CalendarForm("").validate() == {"path": "Choose where to save the calendar."}
    assert CalendarForm(str(tmp_path / "due.txt")).validate() == {
        "path": "Name the calendar file *.ics."
    }
    assert "exists; choose a new file name" in CalendarForm(str(taken)).validate()["path"]
    assert "does not exist" in CalendarForm(str(tmp_path / "no" / "d.ics")).validate()["path"]
    assert CalendarForm(str(tmp_path / "d.ics"), days=5000).validate() == {
        "days": "Look ahead from 0 to 3650 days."
    }
    assert CalendarForm.suggested_name(NOW) == "kcw-due-dates-2026-11-24.ics"
