"""The due-dates screens without Qt: what the dashboard's "Due soon" panel counts, how the
task list is filtered and marked, and the forms of the owners, windows and calendar
dialogs with their checks (each error names its field)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from workstation.domain.monitoring import (
    AlertOwners,
    AlertWindows,
    DueTask,
    check_email,
    parse_windows,
)
from workstation.errors import BadInput
from workstation.flows.wizards import FieldErrors, FlowError

__all__ = [
    "ALL",
    "MAX_DAYS",
    "OVERDUE_FILTER",
    "CalendarForm",
    "DueRegister",
    "DueSummary",
    "OwnersForm",
    "Severity",
    "WindowsForm",
    "filter_choices",
    "filter_tasks",
    "severity",
    "split_addresses",
    "summarise",
]

ALL = "all"
OVERDUE_FILTER = "overdue"
MAX_DAYS = 3650
NEXT_ITEMS = 5


class Severity(StrEnum):
    OVERDUE = "overdue"  # red
    URGENT = "urgent"  # within the shortest window: amber
    SOON = "soon"  # within a longer window
    LATER = "later"  # beyond every window (a longer look ahead)


def severity(task: DueTask, windows: AlertWindows) -> Severity:
    if task.overdue:
        return Severity.OVERDUE
    if task.window is None:
        return Severity.LATER
    return Severity.URGENT if task.window == windows.shortest else Severity.SOON


@dataclass(frozen=True)
class DueRegister:
    """What the due-dates page shows, read in one go on the device thread."""

    windows: AlertWindows
    tasks: tuple[DueTask, ...]
    owners: tuple[AlertOwners, ...] = ()
    at: datetime | None = None
    monitoring_quorum: str = ""  # who may change windows and owners, in the policy's words


@dataclass(frozen=True)
class DueSummary:
    """The dashboard's panel: how many are overdue, how many in each window's band (the
    shortest window holding them), and the next few."""

    windows: AlertWindows
    overdue: int
    by_window: tuple[tuple[int, int], ...]  # (window, items whose shortest window it is)
    next_items: tuple[DueTask, ...]

    @property
    def total(self) -> int:
        return self.overdue + sum(n for _, n in self.by_window)

    def band_label(self, window: int) -> str:
        """``within 7 days``, ``8–30 days``, ``31–90 days``."""
        shorter = [w for w in self.windows.days if w < window]
        if not shorter:
            return f"within {window} days"
        return f"{max(shorter) + 1}–{window} days"


def summarise(tasks: Sequence[DueTask], windows: AlertWindows) -> DueSummary:
    counts = dict.fromkeys(windows.days, 0)
    overdue = 0
    for task in tasks:
        if task.overdue:
            overdue += 1
        elif task.window is not None:
            counts[task.window] += 1
    by_window = tuple((w, counts[w]) for w in sorted(windows.days))
    upcoming = [t for t in tasks if t.overdue or t.window is not None]
    return DueSummary(windows, overdue, by_window, tuple(upcoming[:NEXT_ITEMS]))


def filter_choices(windows: AlertWindows) -> list[tuple[str, str]]:
    """(text, value) of the task list's filter: everything, overdue, within each window."""
    return [
        ("Everything due", ALL),
        ("Overdue", OVERDUE_FILTER),
        *((f"Within {w} days (and overdue)", str(w)) for w in sorted(windows.days)),
    ]


def filter_tasks(tasks: Sequence[DueTask], choice: str) -> list[DueTask]:
    if choice == ALL:
        return list(tasks)
    if choice == OVERDUE_FILTER:
        return [t for t in tasks if t.overdue]
    days = int(choice)
    return [t for t in tasks if t.days_left <= days]


_SEPARATORS = re.compile(r"[\s,;]+")


def split_addresses(text: str) -> list[str]:
    """Addresses typed one per line or separated by commas, semicolons or spaces."""
    return [a for a in _SEPARATORS.split(text.strip()) if a]


SCOPE_KINDS = ("default", "template", "key")


@dataclass
class OwnersForm:
    """Set (or clear) the owners of one scope: the default, a template (by name) or a key
    (by label)."""

    scope_kind: str = "default"
    ref: str = ""  # template name or key label
    emails: str = ""  # as typed
    clear: bool = False

    def validate(self) -> FieldErrors:
        errors: FieldErrors = {}
        if self.scope_kind not in SCOPE_KINDS:
            errors["scope_kind"] = "Choose whose owners: the default, a template or a key."
        elif self.scope_kind != "default" and not self.ref.strip():
            errors["ref"] = (
                "Give the template's name."
                if self.scope_kind == "template"
                else "Give the key's label."
            )
        if not self.clear:
            addresses = split_addresses(self.emails)
            if not addresses:
                errors["emails"] = "Give at least one e-mail address."
            for address in addresses:
                try:
                    check_email(address)
                except BadInput as e:
                    errors["emails"] = e.user_message()
                    break
            if len(addresses) > 20:
                errors["emails"] = "Give at most 20 addresses for one scope."
        return errors

    @property
    def scope(self) -> str:
        return (
            "default" if self.scope_kind == "default" else f"{self.scope_kind}:{self.ref.strip()}"
        )

    def addresses(self) -> list[str]:
        errors = self.validate()
        if errors:
            raise FlowError(errors)
        return split_addresses(self.emails)


@dataclass
class WindowsForm:
    text: str = ""

    def validate(self) -> FieldErrors:
        try:
            parse_windows(self.text)
        except BadInput as e:
            return {"windows": e.user_message()}
        return {}

    def windows(self) -> AlertWindows:
        errors = self.validate()
        if errors:
            raise FlowError(errors)
        return parse_windows(self.text)


@dataclass
class CalendarForm:
    """Where to write the calendar (a new .ics file) and how far ahead."""

    path: str = ""
    days: int | None = None
    existing: frozenset[str] = field(default_factory=frozenset)  # for tests: names taken

    def validate(self) -> FieldErrors:
        errors: FieldErrors = {}
        if not self.path.strip():
            errors["path"] = "Choose where to save the calendar."
        else:
            target = Path(self.path).expanduser()
            if target.suffix.lower() != ".ics":
                errors["path"] = "Name the calendar file *.ics."
            elif target.exists() or str(target) in self.existing:
                errors["path"] = f"{target} exists; choose a new file name."
            elif not target.parent.is_dir():
                errors["path"] = f"Folder {target.parent} does not exist."
        if self.days is not None and not 0 <= self.days <= MAX_DAYS:
            errors["days"] = f"Look ahead from 0 to {MAX_DAYS} days."
        return errors

    @staticmethod
    def suggested_name(now: datetime) -> str:
        return f"kcw-due-dates-{now:%Y-%m-%d}.ics"
