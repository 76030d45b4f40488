"""Expiry monitoring: what falls due, who is told and when, and the due dates as a calendar.

Built-in sources are the keys in service (pre-activation, active, suspended: the end of
their crypto-period, ``deactivation_date``) and the current certificates of key pairs
(``not_after``). Other services plug theirs in as callables ``(uow, before) -> [DueItem]``
(TLS endpoints, EMV issuer certificates, ...).

Alerts go to the owners of each item over the configured SMTP relay, one message per
recipient listing their items, once per (item, due date, window) and recipient: an
:class:`~workstation.domain.monitoring.AlertSent` document records who the relay accepted
each alert for, written only after it did, so a failed send is tried again on the next
run. Alerts carry labels and dates, never key material, so an unattended run (a timer,
``session=None``) is allowed; it is audited as the system.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from workstation.domain.certificates import CertificateRecord
from workstation.domain.expiry import DueItem
from workstation.domain.icalendar import Alarm, AllDayEvent, write_calendar
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.monitoring import (
    OVERDUE,
    AlertLine,
    AlertOwners,
    AlertSent,
    AlertWindows,
    DueTask,
    alert_id,
    alert_message,
    check_emails,
    check_scope,
    days_left,
    owners_for,
    parse_windows,
)
from workstation.domain.policy import Action
from workstation.domain.records import format_time
from workstation.errors import BadInput, IntegrityError, MailError, NotFound
from workstation.services.context import Authorisation, ServiceContext
from workstation.services.ports import KeyQuery, MailMessage, UnitOfWork
from workstation.services.session import Session

log = logging.getLogger(__name__)

__all__ = [
    "OVERDUE",
    "AlertFailure",
    "AlertOwners",
    "AlertReport",
    "AlertWindows",
    "DueSource",
    "DueTask",
    "ExpiryService",
    "due_from_certificates",
    "due_from_keys",
]

DueSource = Callable[[UnitOfWork, datetime], list[DueItem]]

WINDOWS_META = "expiry.windows"
WINDOWS_SEAL_META = "expiry.windows.seal"
MAX_DAYS = 3650
PRODID = "-//Key Custodian Workstation//Due dates//EN"
IN_SERVICE = (KeyState.PRE_ACTIVATION, KeyState.ACTIVE, KeyState.SUSPENDED)
NO_MAILER = (
    "No mail relay is configured: add a [mail] section to workstation.toml (host, port, "
    "security, sender; username and password_source if the relay needs a login)."
)


@dataclass(frozen=True)
class AlertFailure:
    recipient: str
    reason: str


@dataclass(frozen=True)
class AlertReport:
    at: datetime
    items: int  # items with an alert not yet sent to someone
    alerts: int  # (item, window) alerts the relay accepted for at least one recipient
    sent: tuple[str, ...]  # recipients the relay accepted a message for
    failures: tuple[AlertFailure, ...] = ()
    unowned: tuple[DueItem, ...] = ()  # in a window, but nobody to tell
    unattended: bool = False

    @property
    def summary(self) -> str:
        parts = [
            f"{len(self.sent)} message{'s' * (len(self.sent) != 1)} sent"
            + (f" ({', '.join(self.sent)})" if self.sent else "")
        ]
        if self.failures:
            parts.append(
                f"{len(self.failures)} not sent (tried again on the next run): "
                + "; ".join(f"{f.recipient}: {f.reason}" for f in self.failures)
            )
        if self.unowned:
            parts.append(
                f"{len(self.unowned)} item{'s' * (len(self.unowned) != 1)} without an owner "
                "to tell (set default owners)"
            )
        if not self.items and not self.unowned:
            parts = ["Nothing new to alert."]
        return "; ".join(parts) + "."


@dataclass
class _Pending:
    """One recipient's alerts in this run: the lines of their message and, for each item,
    the windows the message covers."""

    lines: list[AlertLine] = field(default_factory=list)
    covers: list[tuple[DueItem, tuple[int, ...]]] = field(default_factory=list)


# --- the built-in sources --------------------------------------------------------------


def _key_item(key: ManagedKey) -> DueItem:
    return DueItem(
        kind="key",
        ref=key.id,
        label=key.label,
        what="crypto-period ends",
        due=key.deactivation_date,
        key_id=key.id,
        template_id=key.template_id,
    )


def due_from_keys(ctx: ServiceContext) -> DueSource:
    """Keys in service whose crypto-period ends before ``before``."""

    def source(uow: UnitOfWork, before: datetime) -> list[DueItem]:
        rows = uow.keys.query(KeyQuery(states=IN_SERVICE, expiring_before=before))
        return [_key_item(ctx.unseal(r, f"key {r.value.label}")) for r in rows]

    return source


def due_from_certificates(ctx: ServiceContext) -> DueSource:
    """Current certificates of key pairs that expire before ``before``."""

    def source(uow: UnitOfWork, before: datetime) -> list[DueItem]:
        templates: dict[str, str | None] = {}
        items = []
        for row in uow.certificates.list(expiring_before=before, limit=1_000_000):
            cert: CertificateRecord = ctx.unseal(row, f"certificate {row.value.serial}")
            if cert.key_id not in templates:
                sealed = uow.keys.get(cert.key_id)
                key = ctx.unseal(sealed, f"key {sealed.value.label}") if sealed else None
                templates[cert.key_id] = key.template_id if key else None
            items.append(
                DueItem(
                    kind="certificate",
                    ref=cert.id,
                    label=f"{cert.subject} (key {cert.key_label}, serial {cert.serial})",
                    what="certificate expires",
                    due=cert.not_after,
                    key_id=cert.key_id,
                    template_id=templates[cert.key_id],
                )
            )
        return items

    return source


class ExpiryService:
    def __init__(self, ctx: ServiceContext, sources: Sequence[DueSource] = ()) -> None:
        self.ctx = ctx
        self.sources: tuple[DueSource, ...] = (
            due_from_keys(ctx),
            due_from_certificates(ctx),
            *sources,
        )

    # --- windows -------------------------------------------------------------------------

    def _windows(self, uow: UnitOfWork) -> AlertWindows:
        text = uow.meta.get(WINDOWS_META)
        if text is None:
            return AlertWindows()
        windows = parse_windows(text)
        seal = uow.meta.get(WINDOWS_SEAL_META) or ""
        try:
            mac = bytes.fromhex(seal)
        except ValueError:
            mac = b""
        # A window removed behind the workstation's back would silence alerts: refuse it.
        if not self.ctx.hsm.verify_binding(windows.binding_bytes(), mac):
            raise IntegrityError(
                "The stored alert windows were changed outside the workstation (their HSM "
                "seal does not match). They are refused; set them again and report this."
            )
        return windows

    def windows(self, session: Session) -> AlertWindows:
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            return self._windows(uow)

    def set_windows(self, session: Session, days: Sequence[int] | str) -> AlertWindows:
        """Change the alert windows (days; or text such as ``"90,30,7"``)."""
        windows = parse_windows(days) if isinstance(days, str) else AlertWindows(tuple(days))
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_MONITORING)
            before = self._windows(uow)
            uow.meta.put(WINDOWS_META, windows.text())
            uow.meta.put(WINDOWS_SEAL_META, self.ctx.seal(windows).hex())
            self.ctx.audit(
                uow,
                auth,
                "expiry.windows",
                "workstation",
                self.ctx.workstation_id(uow),
                label="alert windows (days)",
                before=before.text(),
                after=windows.text(),
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return windows

    # --- owners --------------------------------------------------------------------------

    def _owners(self, uow: UnitOfWork) -> list[AlertOwners]:
        return [
            self.ctx.unseal(s, f"the alert owners of {s.value.scope}")
            for s in uow.documents.list(AlertOwners, limit=1_000_000)
        ]

    def owners(self, session: Session) -> list[AlertOwners]:
        """Every scope's owners: default first, then templates, then keys."""
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            found = self._owners(uow)
        order = {"default": 0, "template": 1, "key": 2}
        return sorted(found, key=lambda o: (order[o.scope.split(":")[0]], o.label.casefold()))

    def _scope(self, uow: UnitOfWork, text: str) -> tuple[str, str]:
        """(scope, label) for ``default``, ``template:<name or id>``, ``key:<label or id>``."""
        raw = text.strip()
        if raw == "default":
            return "default", "default"
        kind, _, ref = raw.partition(":")
        ref = ref.strip()
        if kind == "template" and ref:
            t = uow.templates.by_name(ref) or uow.templates.get(ref)
            if t is None:
                raise NotFound(f"No template named {ref!r}.")
            template = self.ctx.unseal(t, f"template {t.value.name}")
            return check_scope(f"template:{template.id}"), template.name
        if kind == "key" and ref:
            k = uow.keys.by_label(ref) or uow.keys.get(ref)
            if k is None:
                raise NotFound(f"No key labelled {ref!r}.")
            key = self.ctx.unseal(k, f"key {k.value.label}")
            return check_scope(f"key:{key.id}"), key.label
        raise BadInput(f"Owner scope {text!r}: use default, template:<name> or key:<label>.")

    def set_owners(self, session: Session, scope: str, emails: Sequence[str]) -> AlertOwners:
        """Set the addresses told about a scope's items (replacing those it had)."""
        addresses = check_emails(emails)
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_MONITORING)
            scope_id, label = self._scope(uow, scope)
            record = AlertOwners(scope_id, label, addresses, self.ctx.clock.now())
            old = uow.documents.get(AlertOwners, scope_id)
            previous = self.ctx.unseal(old, f"the alert owners of {label}") if old else None
            if previous is None:
                uow.documents.add(record, self.ctx.seal(record))
            else:
                uow.documents.update(record, self.ctx.seal(record))
            self.ctx.audit(
                uow,
                auth,
                "expiry.owners.set",
                "alert-owners",
                scope_id,
                label=label,
                before=", ".join(previous.emails) if previous else None,
                after=", ".join(addresses),
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return record

    def clear_owners(self, session: Session, scope: str) -> AlertOwners:
        """Remove a scope's owners (its items then go to the next scope, or the default)."""
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_MONITORING)
            scope_id, label = self._scope(uow, scope)
            old = uow.documents.get(AlertOwners, scope_id)
            if old is None:
                raise NotFound(f"No alert owners are set for {label}.")
            previous = self.ctx.unseal(old, f"the alert owners of {label}")
            uow.documents.delete(AlertOwners, scope_id)
            self.ctx.audit(
                uow,
                auth,
                "expiry.owners.clear",
                "alert-owners",
                scope_id,
                label=label,
                before=", ".join(previous.emails),
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return previous

    # --- the task list -------------------------------------------------------------------

    def _within(self, within_days: int | None, windows: AlertWindows) -> int:
        if within_days is None:
            return windows.longest
        if isinstance(within_days, bool) or not 0 <= within_days <= MAX_DAYS:
            raise BadInput(f"Give the number of days ahead from 0 to {MAX_DAYS}.")
        return within_days

    def _items(self, uow: UnitOfWork, before: datetime) -> list[DueItem]:
        items: list[DueItem] = []
        for source in self.sources:
            items += source(uow, before)
        return items

    def _sent(self, uow: UnitOfWork, item: DueItem) -> list[AlertSent]:
        docs = uow.documents.list(AlertSent, subject=f"{item.kind}:{item.ref}")
        sent = [self.ctx.unseal(d, f"the alerts sent for {item.label}") for d in docs]
        return [s for s in sent if s.due_at == item.due]

    def _tasks(
        self, uow: UnitOfWork, windows: AlertWindows, now: datetime, within: int
    ) -> tuple[list[DueTask], dict[tuple[str, str], list[AlertSent]]]:
        owners = {o.scope: o.emails for o in self._owners(uow)}
        tasks: list[DueTask] = []
        sent_by_item: dict[tuple[str, str], list[AlertSent]] = {}
        for item in self._items(uow, now + timedelta(days=within)):
            left = days_left(item.due, now)
            sent = self._sent(uow, item)
            sent_by_item[(item.kind, item.ref)] = sent
            tasks.append(
                DueTask(
                    item=item,
                    days_left=left,
                    window=windows.band(left),
                    overdue=left <= 0,
                    owners=owners_for(item, owners),
                    last_alerted=max((s.last_sent_at for s in sent), default=None),
                )
            )
        tasks.sort(key=lambda t: (t.item.due, t.item.kind, t.item.label))
        return tasks, sent_by_item

    def due(self, session: Session, *, within_days: int | None = None) -> list[DueTask]:
        """What falls due within ``within_days`` (default: the longest window) or is
        overdue, soonest first."""
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            windows = self._windows(uow)
            within = self._within(within_days, windows)
            tasks, _ = self._tasks(uow, windows, self.ctx.clock.now(), within)
        return tasks

    # --- alerts --------------------------------------------------------------------------

    def send_alerts(self, session: Session | None = None) -> AlertReport:
        """Tell each owner, by one e-mail, about their items that have entered a window
        (or become overdue) since they were last told. ``session=None``: an unattended run
        (a timer), audited as the system."""
        mailer = self.ctx.mailer
        if mailer is None:
            raise BadInput(NO_MAILER)
        now = self.ctx.clock.now()
        auth: Authorisation | None = None
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            if session is not None:
                auth = self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            workstation = self.ctx.workstation_id(uow)
            windows = self._windows(uow)
            tasks, sent_by_item = self._tasks(uow, windows, now, windows.longest)
        pending: dict[str, _Pending] = defaultdict(_Pending)
        unowned: list[DueItem] = []
        alerted_items = 0
        for task in tasks:
            entered = windows.entered(task.days_left)
            if not entered:
                continue
            if not task.owners:
                unowned.append(task.item)
                continue
            told = {
                s.window: {r.casefold() for r in s.recipients}
                for s in sent_by_item[(task.item.kind, task.item.ref)]
            }
            any_pending = False
            for recipient in task.owners:
                todo = tuple(w for w in entered if recipient.casefold() not in told.get(w, ()))
                if not todo:
                    continue
                any_pending = True
                # One line per item, at the shortest window (or overdue) not yet told;
                # the longer ones it passed through meanwhile are covered by it.
                line = AlertLine(task.item, task.days_left, min(todo))
                pending[recipient].lines.append(line)
                pending[recipient].covers.append((task.item, todo))
            alerted_items += any_pending

        sent: list[str] = []
        failures: list[AlertFailure] = []
        alerts: set[str] = set()
        for recipient in sorted(pending, key=str.casefold):
            work = pending[recipient]
            message = alert_message(recipient, work.lines, now=now, workstation=workstation)
            try:
                mailer.send(
                    MailMessage(
                        sender=mailer.sender,
                        recipients=(recipient,),
                        subject=message.subject,
                        body=message.body,
                    )
                )
            except MailError as e:
                log.warning("expiry alert to %s not sent: %s", recipient, e.user_message())
                failures.append(AlertFailure(recipient, e.user_message()))
                continue
            sent.append(recipient)
            alerts |= self._record_sent(session, auth, recipient, work, now)

        report = AlertReport(
            at=now,
            items=alerted_items,
            alerts=len(alerts),
            sent=tuple(sent),
            failures=tuple(failures),
            unowned=tuple(unowned),
            unattended=session is None,
        )
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.audit(
                uow,
                auth,
                "expiry.alert.run",
                "workstation",
                workstation,
                label="expiry alerts",
                details={
                    "by": "system (unattended)" if session is None else "session",
                    "items": alerted_items,
                    "alerts": len(alerts),
                    "recipients": list(sent),
                    "failures": [{"recipient": f.recipient, "reason": f.reason} for f in failures],
                    "unowned": [f"{i.kind}:{i.label}" for i in unowned],
                },
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return report

    def _record_sent(
        self,
        session: Session | None,
        auth: Authorisation | None,
        recipient: str,
        work: _Pending,
        now: datetime,
    ) -> set[str]:
        """After the relay accepted ``recipient``'s message: record it on each (item,
        window) it covered, with the audit entry, in one transaction."""
        ids: set[str] = set()
        with self.ctx.repository.unit_of_work() as uow:
            for item, windows in work.covers:
                for window in windows:
                    doc_id = alert_id(item, window)
                    ids.add(doc_id)
                    old = uow.documents.get(AlertSent, doc_id)
                    if old is None:
                        record = AlertSent.first(item, window, (recipient,), now)
                        uow.documents.add(record, self.ctx.seal(record))
                    else:
                        known = self.ctx.unseal(old, f"the alerts sent for {item.label}")
                        record = known.adding((recipient,), now)
                        uow.documents.update(record, self.ctx.seal(record))
            self.ctx.audit(
                uow,
                auth,
                "expiry.alert.sent",
                "recipient",
                recipient,
                label=recipient,
                details={
                    "items": [
                        {
                            "kind": line.item.kind,
                            "ref": line.item.ref,
                            "label": line.item.label,
                            "due": format_time(line.item.due),
                            "window": line.window,
                        }
                        for line in work.lines
                    ],
                },
                session=session,
            )
            uow.commit()
        return ids

    # --- the calendar --------------------------------------------------------------------

    def calendar(self, session: Session, *, within_days: int | None = None) -> str:
        """The due dates as iCalendar (RFC 5545): one all-day event per item, with a
        display alarm at each alert window."""
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            workstation = self.ctx.workstation_id(uow)
            windows = self._windows(uow)
            within = self._within(within_days, windows)
            now = self.ctx.clock.now()
            tasks, _ = self._tasks(uow, windows, now, within)
            events = [self._event(t, windows, now, workstation) for t in tasks]
            text = write_calendar(
                events, prodid=PRODID, name=f"Key Custodian Workstation {workstation}"
            )
            self.ctx.audit(
                uow,
                auth,
                "expiry.calendar",
                "workstation",
                workstation,
                label="due dates exported (iCalendar)",
                details={"items": len(tasks), "within_days": within},
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return text

    @staticmethod
    def _event(
        task: DueTask, windows: AlertWindows, now: datetime, workstation: str
    ) -> AllDayEvent:
        item = task.item
        stable = f"{item.kind}|{item.ref}|{format_time(item.due)}"
        uid = f"{hashlib.sha256(stable.encode()).hexdigest()[:32]}@kcw-{workstation}"
        description = "\n".join(
            [
                f"{item.what.capitalize()}: {item.label}",
                f"Kind: {item.kind}; id {item.ref}",
                f"Due: {item.due:%Y-%m-%d %H:%M} UTC",
                f"Owners: {', '.join(task.owners) or 'none set'}",
                f"From Key Custodian Workstation {workstation}.",
            ]
        )
        alarms = tuple(
            Alarm(w, f"{item.what.capitalize()} in {w} days: {item.label}") for w in windows.days
        )
        return AllDayEvent(
            uid=uid,
            stamp=now,
            day=item.due.date(),
            summary=f"{item.what.capitalize()}: {item.label}",
            description=description,
            alarms=(*alarms, Alarm(0, f"{item.what.capitalize()} today: {item.label}")),
        )
