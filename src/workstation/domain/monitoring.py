"""Expiry monitoring: alert windows, who is told, what was told, and the alert text.

*Windows* are numbers of days (default 90, 30 and 7). An item is *in window W* when it
falls due within W days; an item whose due time has passed is *overdue*, a state of its
own. Each item is alerted once per window it enters, and once more when it becomes
overdue (the pseudo-window :data:`OVERDUE`, 0 days).

*Owners* are e-mail addresses kept per scope: ``default``, ``template:<id>`` or
``key:<id>``. The owners of an item are the addresses recorded on the item itself, its
key's and its template's together; when there are none, the default ones.

An :class:`AlertSent` document records, for one item, due date and window, who has been
told; it is keyed by a hash of kind|ref|due|window, so a renewed certificate or a new
crypto-period (a new due date) starts over.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from workstation.domain.documents import document_binding
from workstation.domain.expiry import DueItem, days_left
from workstation.domain.records import canonical_bytes, format_time, parse_time
from workstation.errors import BadInput

__all__ = [
    "DEFAULT_WINDOWS",
    "OVERDUE",
    "AlertLine",
    "AlertMessage",
    "AlertOwners",
    "AlertSent",
    "AlertWindows",
    "DueTask",
    "alert_id",
    "alert_message",
    "check_email",
    "check_emails",
    "check_scope",
    "days_left",
    "owners_for",
    "parse_windows",
]

DEFAULT_WINDOWS: tuple[int, ...] = (90, 30, 7)
OVERDUE = 0  # the window an item enters when its due time passes
MAX_WINDOWS = 6
MAX_WINDOW_DAYS = 3650
MAX_OWNERS = 20


# --- windows -----------------------------------------------------------------------------


def _window_days(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"An alert window is a whole number of days, not {value!r}.")
    if not 1 <= value <= MAX_WINDOW_DAYS:
        raise BadInput(
            f"An alert window is from 1 to {MAX_WINDOW_DAYS} days; {value} is not "
            "(overdue items are always alerted)."
        )
    return value


@dataclass(frozen=True)
class AlertWindows:
    """The configured windows, longest first. Sealed by the HSM where it is stored."""

    days: tuple[int, ...] = DEFAULT_WINDOWS

    def __post_init__(self) -> None:
        if not self.days:
            raise BadInput("Give at least one alert window (e.g. 90,30,7).")
        if len(self.days) > MAX_WINDOWS:
            raise BadInput(f"Give at most {MAX_WINDOWS} alert windows.")
        checked = [_window_days(d) for d in self.days]
        if len(set(checked)) != len(checked):
            raise BadInput("Each alert window is given once.")
        object.__setattr__(self, "days", tuple(sorted(checked, reverse=True)))

    @property
    def longest(self) -> int:
        return self.days[0]

    @property
    def shortest(self) -> int:
        return self.days[-1]

    def entered(self, days: int) -> tuple[int, ...]:
        """The windows an item ``days`` days from its due date is in (longest first),
        with :data:`OVERDUE` last when it is overdue (``days <= 0``)."""
        inside = tuple(w for w in self.days if days <= w)
        return (*inside, OVERDUE) if days <= 0 else inside

    def band(self, days: int) -> int | None:
        """The shortest window holding an item still to fall due; None when overdue or
        beyond every window."""
        if days <= 0:
            return None
        inside = [w for w in self.days if days <= w]
        return inside[-1] if inside else None

    def text(self) -> str:
        return ",".join(str(d) for d in self.days)

    def binding_bytes(self) -> bytes:
        return canonical_bytes({"type": "expiry-windows", "days": list(self.days)})


def parse_windows(text: str) -> AlertWindows:
    """``"90,30,7"`` (any order, spaces allowed) as windows."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise BadInput("Give the alert windows as days separated by commas, e.g. 90,30,7.")
    days: list[int] = []
    for p in parts:
        if not p.isdigit():
            raise BadInput(f"Alert window {p!r} is not a whole number of days.")
        days.append(int(p))
    return AlertWindows(tuple(days))


# --- owners ------------------------------------------------------------------------------

# RFC 5322 section 3.2.3 dot-atom for the local part (no quoted strings); RFC 5321 section
# 4.1.2 domain of LDH labels with at least one dot (no address literals). Lengths from
# RFC 5321 section 4.5.3.1: local part 64 octets, domain 255, path 256 (so 254 for the
# address itself).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def check_email(text: str) -> str:
    """One e-mail address, checked; the domain in lower case."""
    address = text.strip()
    if not address:
        raise BadInput("Give an e-mail address.")
    if address.count("@") != 1:
        raise BadInput(f"{address!r} is not an e-mail address (name@domain).")
    local, domain = address.split("@")
    if not local or len(local) > 64 or not _LOCAL.match(local):
        raise BadInput(
            f"{address!r}: the part before @ may hold letters, digits and !#$%&'*+/=?^_`{{|}}~-, "
            "with single dots between them, at most 64 characters."
        )
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 253 or not all(_LABEL.match(lb) for lb in labels):
        raise BadInput(
            f"{address!r}: the domain after @ must be a host name such as bank.example "
            "(letters, digits and hyphens, labels separated by dots)."
        )
    if len(address) > 254:
        raise BadInput(f"{address[:40]}…: an e-mail address is at most 254 characters.")
    return f"{local}@{domain.lower()}"


def check_emails(texts: Iterable[str]) -> tuple[str, ...]:
    """Addresses checked, each once (case of the domain ignored), in the order given."""
    seen: dict[str, str] = {}
    for text in texts:
        address = check_email(text)
        seen.setdefault(address.casefold(), address)
    if not seen:
        raise BadInput("Give at least one e-mail address.")
    if len(seen) > MAX_OWNERS:
        raise BadInput(f"Give at most {MAX_OWNERS} addresses for one scope.")
    return tuple(seen.values())


def check_scope(text: str) -> str:
    """``default``, ``template:<id>`` or ``key:<id>``."""
    scope = text.strip()
    if scope == "default":
        return scope
    kind, _, ref = scope.partition(":")
    if kind not in ("template", "key") or not ref.strip() or any(c.isspace() for c in ref):
        raise BadInput(f"Owner scope {text!r}: use default, template:<id> or key:<id>.")
    return f"{kind}:{ref}"


@dataclass(frozen=True)
class AlertOwners:
    """Who is told about the items of one scope."""

    KIND: ClassVar[str] = "alert-owners"

    scope: str  # "default", "template:<id>", "key:<id>"
    label: str  # what a person reads: "default", the template's name, the key's label
    emails: tuple[str, ...]
    changed_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", check_scope(self.scope))
        object.__setattr__(self, "emails", check_emails(self.emails))

    @property
    def id(self) -> str:
        return self.scope

    @property
    def subject(self) -> str:
        return self.scope

    @property
    def due(self) -> datetime | None:
        return None

    def to_record(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "label": self.label,
            "emails": list(self.emails),
            "changed_at": format_time(self.changed_at),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> AlertOwners:
        changed = parse_time(rec["changed_at"])
        assert changed is not None
        return cls(rec["scope"], rec["label"], tuple(rec["emails"]), changed)

    def binding_bytes(self) -> bytes:
        return document_binding(self)


def owners_for(item: DueItem, owners: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The item's own addresses, its key's and its template's; else the default ones.
    ``owners`` maps a scope to its addresses. Each address once, in that order."""
    found: dict[str, str] = {}
    scopes = []
    if item.key_id:
        scopes.append(f"key:{item.key_id}")
    if item.template_id:
        scopes.append(f"template:{item.template_id}")
    for address in [*item.owners, *(a for s in scopes for a in owners.get(s, ()))]:
        found.setdefault(address.casefold(), address)
    if not found:
        for address in owners.get("default", ()):
            found.setdefault(address.casefold(), address)
    return tuple(found.values())


# --- alerts sent -------------------------------------------------------------------------


def alert_id(item: DueItem, window: int) -> str:
    """The one key of an alert: SHA-256 of kind|ref|due|window."""
    text = f"{item.kind}|{item.ref}|{format_time(item.due)}|{window}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AlertSent:
    """For one item, due date and window: who the relay accepted the alert for."""

    KIND: ClassVar[str] = "alert-sent"

    item_kind: str
    ref: str
    label: str
    due_at: datetime
    window: int  # days; OVERDUE (0) for the alert that the item is overdue
    recipients: tuple[str, ...]
    first_sent_at: datetime
    last_sent_at: datetime

    @classmethod
    def first(
        cls, item: DueItem, window: int, recipients: Sequence[str], at: datetime
    ) -> AlertSent:
        return cls(item.kind, item.ref, item.label, item.due, window, tuple(recipients), at, at)

    def adding(self, recipients: Sequence[str], at: datetime) -> AlertSent:
        known = {r.casefold() for r in self.recipients}
        more = tuple(r for r in recipients if r.casefold() not in known)
        return AlertSent(
            self.item_kind,
            self.ref,
            self.label,
            self.due_at,
            self.window,
            self.recipients + more,
            self.first_sent_at,
            at,
        )

    @property
    def id(self) -> str:
        return alert_id(DueItem(self.item_kind, self.ref, self.label, "", self.due_at), self.window)

    @property
    def subject(self) -> str:
        return f"{self.item_kind}:{self.ref}"

    @property
    def due(self) -> datetime | None:
        return self.due_at

    def to_record(self) -> dict[str, Any]:
        return {
            "kind": self.item_kind,
            "ref": self.ref,
            "label": self.label,
            "due": format_time(self.due_at),
            "window": self.window,
            "recipients": list(self.recipients),
            "first_sent_at": format_time(self.first_sent_at),
            "last_sent_at": format_time(self.last_sent_at),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> AlertSent:
        def when(name: str) -> datetime:
            value = parse_time(rec[name])
            assert value is not None
            return value

        return cls(
            rec["kind"],
            rec["ref"],
            rec["label"],
            when("due"),
            int(rec["window"]),
            tuple(rec["recipients"]),
            when("first_sent_at"),
            when("last_sent_at"),
        )

    def binding_bytes(self) -> bytes:
        return document_binding(self)


# --- the task list -----------------------------------------------------------------------


@dataclass(frozen=True)
class DueTask:
    """An item on the task list: what falls due, how soon, who is told, when last."""

    item: DueItem
    days_left: int  # rounded up; 0 or less: overdue
    window: int | None  # the shortest window holding it; None when overdue or beyond all
    overdue: bool
    owners: tuple[str, ...]
    last_alerted: datetime | None = None

    @property
    def state(self) -> str:
        if self.overdue:
            late = -self.days_left
            return "overdue" if late < 1 else f"overdue by {late} day{'s' * (late != 1)}"
        if self.window is None:
            return f"in {self.days_left} days"
        return f"within {self.window} days"


# --- the message -------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertLine:
    """One item of a recipient's message, at the shortest window not yet told."""

    item: DueItem
    days_left: int
    window: int  # OVERDUE for an overdue item

    def text(self) -> list[str]:
        due = f"{self.item.due:%Y-%m-%d %H:%M} UTC"
        if self.window == OVERDUE:
            late = max(0, -self.days_left)
            when = f"OVERDUE: was due {due} ({late} day{'s' * (late != 1)} ago)"
        else:
            when = (
                f"due {due}: {self.days_left} day{'s' * (self.days_left != 1)} left "
                f"(alert window {self.window} days)"
            )
        return [
            f"{self.item.what.capitalize()}: {self.item.label}",
            f"   {self.item.kind} — {when}",
        ]


@dataclass(frozen=True)
class AlertMessage:
    subject: str
    body: str
    lines: tuple[AlertLine, ...] = field(default_factory=tuple)


def alert_message(
    recipient: str, lines: Sequence[AlertLine], *, now: datetime, workstation: str
) -> AlertMessage:
    """The plain-text alert for one recipient: every item, what happens, its label, due
    date, days left and window. Labels, kinds and dates only: never key material."""
    ordered = sorted(lines, key=lambda line: (line.item.due, line.item.kind, line.item.label))
    overdue = sum(1 for line in ordered if line.window == OVERDUE)
    soonest = min((line.window for line in ordered if line.window != OVERDUE), default=None)
    counts = []
    if overdue:
        counts.append(f"{overdue} overdue")
    if soonest is not None:
        counts.append(f"soonest within {soonest} days")
    n = len(ordered)
    subject = f"[KCW] {n} item{'s' * (n != 1)} fall{'s' * (n == 1)} due ({', '.join(counts)})"
    body = [
        f"Key Custodian Workstation {workstation}: due dates for {recipient}",
        f"As of {now:%Y-%m-%d %H:%M} UTC, these have entered an alert window:",
        "",
    ]
    for number, line in enumerate(ordered, start=1):
        first, second = line.text()
        body += [f"{number}. {first}", f"  {second}", ""]
    body += [
        "Renew a certificate before it expires; rotate or deactivate a key before its "
        "crypto-period ends. The workstation's task list (Due dates) has the details.",
        "You are told once per alert window and once when an item becomes overdue.",
        "This message holds labels and dates only, never key material.",
    ]
    return AlertMessage(subject, "\n".join(body) + "\n", tuple(ordered))
