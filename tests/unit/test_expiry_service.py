"""ExpiryService on fakes (HSM, readers, clock, a recording mailer) and a real SQLite file:
the task list, windows and owners under their quorum, alerts once per window and recipient,
retries after a failed send, plugged sources, the calendar, and tampered settings refused.

The same paths run against SoftHSM2, pcscd and a loopback SMTP server in
tests/integration/test_expiry.py."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_services import World
from workstation.domain.expiry import DueItem
from workstation.domain.icalendar import unfold
from workstation.domain.keys import ManagedKey
from workstation.domain.policy import Action
from workstation.errors import BadInput, IntegrityError, MailError, NotFound, QuorumNotMet
from workstation.services.context import ServiceContext
from workstation.services.expiry import DueTask, ExpiryService
from workstation.services.ports import MailMessage, UnitOfWork

DAY = 86_400.0
OPS = "ops@bank.example"
KMS = "kms@bank.example"


class RecordingMailer:
    """The Mailer port in memory; ``refuse`` makes sends to those addresses fail."""

    sender = "kcw@bank.example"

    def __init__(self) -> None:
        self.sent: list[MailMessage] = []
        self.refuse: set[str] = set()

    def send(self, message: MailMessage) -> None:
        bad = [r for r in message.recipients if r in self.refuse]
        if bad:
            raise MailError(f"Mail relay test:25: it refused the recipient(s) {bad[0]}.")
        self.sent.append(message)

    def take(self) -> list[MailMessage]:
        out, self.sent = self.sent, []
        return out


class Monitoring(World):
    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.mailer = RecordingMailer()
        self.s.ctx.mailer = self.mailer
        self.extra: list[DueItem] = []
        self.expiry = ExpiryService(self.s.ctx, sources=[self.plugged])

    def plugged(self, uow: UnitOfWork, before: datetime) -> list[DueItem]:
        return [i for i in self.extra if i.due < before]

    def pek(self) -> ManagedKey:
        """A PIN encryption key (1-year crypto-period), made now."""
        session = self.session("Cara", "Carl")
        key = self.s.keys.generate(session, "seed-pek").keys[0]
        self.end(session)
        return key

    def admin(self, fn: str, *args: object) -> Any:
        session = self.session("Olivia")
        try:
            return getattr(self.expiry, fn)(session, *args)
        finally:
            self.end(session)

    def due(self, **kw: int) -> list[DueTask]:
        session = self.session("Alex")
        try:
            return list(self.expiry.due(session, **kw))
        finally:
            self.end(session)

    def audit(self, action: str) -> list[dict[str, Any]]:
        with self.repo.unit_of_work() as uow:
            return [e.body for e in uow.audit.entries() if e.body["action"] == action]

    def to_days_left(self, key: ManagedKey, days: float) -> None:
        """Move the clock so that ``days`` are left until the key's deactivation date."""
        target = key.deactivation_date - timedelta(days=days)
        self.clock.advance((target - self.clock.now()).total_seconds())


@pytest.fixture
def mon(tmp_path: Path) -> Iterator[Monitoring]:
    w = Monitoring(tmp_path)
    w.initialise()
    w.enrol_cast()
    try:
        yield w
    finally:
        w.repo.close()


def test_task_list_holds_keys_in_their_windows_soonest_first(mon: Monitoring) -> None:
    first = mon.pek()
    mon.clock.advance(DAY)
    second = mon.pek()  # its crypto-period ends a day after the first's
    assert mon.due() == []  # a year away: beyond the longest window (90 days)
    mon.to_days_left(first, 29.5)
    tasks = mon.due()
    assert [t.item.label for t in tasks] == [first.label, second.label]
    task = tasks[0]
    assert task.item.kind == "key" and task.item.what == "crypto-period ends"
    assert task.days_left == 30 and task.window == 30 and not task.overdue
    assert task.owners == () and task.last_alerted is None
    assert tasks[1].days_left == 31 and tasks[1].window == 90
    assert len(mon.due(within_days=10)) == 0
    assert len(mon.due(within_days=400)) == 2
    with pytest.raises(BadInput, match="from 0 to 3650"):
        mon.due(within_days=4000)


def test_deactivated_keys_leave_the_list(mon: Monitoring) -> None:
    key = mon.pek()
    mon.to_days_left(key, 5)
    assert len(mon.due()) == 1
    session = mon.session("Cara", "Sam")
    mon.s.keys.change_state(session, key.label, Action.ACTIVATE_KEY)
    mon.end(session)
    assert len(mon.due()) == 1  # active: still due
    session = mon.session("Cara", "Sam")
    mon.s.keys.change_state(session, key.label, Action.DEACTIVATE_KEY, reason="period ends")
    mon.end(session)
    assert mon.due() == []


def test_windows_are_set_under_the_quorum_audited_and_sealed(mon: Monitoring) -> None:
    session = mon.session("Alex")  # an auditor may read, not change
    assert mon.expiry.windows(session).days == (90, 30, 7)
    with pytest.raises(QuorumNotMet):
        mon.expiry.set_windows(session, "60,14")
    mon.end(session)
    assert mon.admin("set_windows", "14, 60").days == (60, 14)
    entry = mon.audit("expiry.windows")[-1]
    assert entry["before"] == "90,30,7" and entry["after"] == "60,14"
    with pytest.raises(BadInput, match="given once"):
        mon.admin("set_windows", [30, 30])
    with mon.repo.unit_of_work() as uow:  # someone shortens them behind the workstation
        uow.meta.put("expiry.windows", "1")
        uow.commit()
    with pytest.raises(IntegrityError, match="alert windows were changed"):
        mon.due()


def test_owners_set_and_cleared_by_scope(mon: Monitoring) -> None:
    key = mon.pek()
    mon.admin("set_owners", "default", ["desk@bank.example"])
    mon.admin("set_owners", "template:PIN encryption key", [KMS])
    mon.admin("set_owners", f"key:{key.label}", [OPS, "Ops@BANK.example"])
    mon.to_days_left(key, 60)
    [task] = mon.due()
    assert task.owners == (OPS, KMS)
    session = mon.session("Alex")
    scopes = [(o.scope, o.label) for o in mon.expiry.owners(session)]
    mon.end(session)
    assert scopes == [
        ("default", "default"),
        ("template:seed-pek", "PIN encryption key"),
        (f"key:{key.id}", key.label),
    ]
    mon.admin("clear_owners", f"key:{key.id}")
    mon.admin("clear_owners", "template:seed-pek")
    assert mon.due()[0].owners == ("desk@bank.example",)
    set_entry = mon.audit("expiry.owners.set")[-1]
    assert set_entry["after"] == OPS and set_entry["object_label"] == key.label
    assert mon.audit("expiry.owners.clear")[0]["before"] == OPS
    with pytest.raises(NotFound, match="No alert owners are set for"):
        mon.admin("clear_owners", "template:seed-pek")
    with pytest.raises(NotFound, match="No key labelled"):
        mon.admin("set_owners", "key:nothing", [OPS])
    with pytest.raises(BadInput, match="domain after @"):
        mon.admin("set_owners", "default", ["ops@bank"])
    with pytest.raises(BadInput, match="use default, template:<name> or key:<label>"):
        mon.admin("set_owners", "partner:x", [OPS])


def test_alerts_once_per_window_then_again_in_the_next(mon: Monitoring) -> None:
    key = mon.pek()
    mon.admin("set_owners", "default", [OPS])
    mon.admin("set_owners", "template:seed-pek", [KMS])
    mon.to_days_left(key, 80)
    report = mon.expiry.send_alerts()  # unattended
    assert report.sent == (KMS,) and report.items == 1 and report.alerts == 1
    [message] = mon.mailer.take()
    assert message.recipients == (KMS,) and message.sender == "kcw@bank.example"
    assert message.subject == "[KCW] 1 item falls due (soonest within 90 days)"
    assert f"Crypto-period ends: {key.label}" in message.body
    assert "80 days left (alert window 90 days)" in message.body
    assert key.wrapped is not None
    assert key.wrapped.hex().upper() not in message.body.upper()  # never key material
    assert mon.due()[0].last_alerted == mon.clock.now()

    assert mon.expiry.send_alerts().sent == ()  # once per window
    assert mon.mailer.take() == []
    mon.to_days_left(key, 29)
    assert mon.expiry.send_alerts().sent == (KMS,)
    assert "(alert window 30 days)" in mon.mailer.take()[0].body
    mon.to_days_left(key, -1)  # overdue: told once more
    report = mon.expiry.send_alerts()
    [overdue] = mon.mailer.take()
    assert "OVERDUE: was due" in overdue.body and "1 overdue" in overdue.subject
    assert mon.expiry.send_alerts().sent == () and mon.mailer.take() == []

    run = mon.audit("expiry.alert.run")
    assert len(run) == 5 and run[0]["requester"] is None
    assert run[0]["details"]["by"] == "system (unattended)"
    assert run[0]["details"]["recipients"] == [KMS]
    sent = mon.audit("expiry.alert.sent")
    assert [e["object_id"] for e in sent] == [KMS, KMS, KMS]


def test_an_item_first_seen_late_is_told_once_at_its_shortest_window(mon: Monitoring) -> None:
    key = mon.pek()
    mon.admin("set_owners", "default", [OPS])
    mon.to_days_left(key, 3)
    report = mon.expiry.send_alerts()
    assert report.alerts == 3  # 90, 30 and 7 recorded
    [message] = mon.mailer.take()
    assert message.body.count(key.label) == 1 and "(alert window 7 days)" in message.body
    mon.to_days_left(key, 2)
    assert mon.expiry.send_alerts().sent == ()


def test_a_failed_send_is_reported_and_retried_others_are_not_repeated(mon: Monitoring) -> None:
    key = mon.pek()
    mon.admin("set_owners", "template:seed-pek", [OPS, KMS])
    mon.to_days_left(key, 20)
    mon.mailer.refuse = {KMS}
    report = mon.expiry.send_alerts()
    assert report.sent == (OPS,)
    assert [f.recipient for f in report.failures] == [KMS]
    assert "refused the recipient" in report.failures[0].reason
    assert "tried again on the next run" in report.summary
    assert mon.audit("expiry.alert.run")[-1]["details"]["failures"][0]["recipient"] == KMS
    assert [m.recipients for m in mon.mailer.take()] == [(OPS,)]
    mon.mailer.refuse = set()
    assert mon.expiry.send_alerts().sent == (KMS,)  # only the one not yet told
    assert [m.recipients for m in mon.mailer.take()] == [(KMS,)]
    mon.admin("set_owners", "template:seed-pek", [OPS, KMS, "new@bank.example"])
    assert mon.expiry.send_alerts().sent == ("new@bank.example",)  # a new owner is told


def test_one_message_per_recipient_with_all_their_items(mon: Monitoring) -> None:
    a, b = mon.pek(), mon.pek()
    mon.admin("set_owners", "default", [OPS])
    mon.admin("set_owners", f"key:{b.label}", [KMS])
    mon.extra.append(
        DueItem(
            "endpoint",
            "host:443",
            "host.bank.example:443",
            "certificate expires",
            b.deactivation_date + timedelta(days=1),
            owners=(OPS,),
        )
    )
    mon.to_days_left(b, 6)
    mon.expiry.send_alerts()
    messages = {m.recipients[0]: m for m in mon.mailer.take()}
    assert set(messages) == {OPS, KMS}
    assert a.label in messages[OPS].body and "host.bank.example:443" in messages[OPS].body
    assert b.label not in messages[OPS].body and b.label in messages[KMS].body
    assert "2 items" in messages[OPS].subject


def test_items_without_owners_are_reported_not_dropped_silently(mon: Monitoring) -> None:
    key = mon.pek()
    mon.to_days_left(key, 10)
    report = mon.expiry.send_alerts()
    assert report.sent == () and [i.ref for i in report.unowned] == [key.id]
    assert "without an owner" in report.summary
    assert mon.audit("expiry.alert.run")[-1]["details"]["unowned"] == [f"key:{key.label}"]


def test_no_relay_configured_is_bad_input_naming_the_section(mon: Monitoring) -> None:
    mon.s.ctx.mailer = None
    with pytest.raises(BadInput, match=r"add a \[mail\] section to workstation.toml"):
        mon.expiry.send_alerts()


def test_a_session_run_is_audited_as_its_people(mon: Monitoring) -> None:
    key = mon.pek()
    mon.admin("set_owners", "default", [OPS])
    mon.to_days_left(key, 5)
    session = mon.session("Sam")
    report = mon.expiry.send_alerts(session)
    mon.end(session)
    assert not report.unattended and report.sent == (OPS,)
    entry = mon.audit("expiry.alert.run")[-1]
    assert entry["requester"]["name"] == "Sam"


def test_calendar_one_event_per_item_with_an_alarm_per_window(mon: Monitoring) -> None:
    key = mon.pek()
    mon.admin("set_owners", "default", [OPS])
    mon.to_days_left(key, 45)
    session = mon.session("Alex")
    text = mon.expiry.calendar(session)
    again = mon.expiry.calendar(session)
    mon.end(session)
    lines = unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and "VERSION:2.0" in lines
    assert lines.count("BEGIN:VEVENT") == 1
    assert f"DTSTART;VALUE=DATE:{key.deactivation_date:%Y%m%d}" in lines
    assert f"SUMMARY:Crypto-period ends: {key.label}" in lines
    triggers = [line for line in lines if line.startswith("TRIGGER")]
    assert triggers == ["TRIGGER:-P90D", "TRIGGER:-P30D", "TRIGGER:-P7D", "TRIGGER:PT0S"]
    uids = [line for line in unfold(again) if line.startswith("UID:")]
    assert uids == [line for line in lines if line.startswith("UID:")]  # stable
    assert mon.audit("expiry.calendar")[-1]["details"] == {
        "quorum": "1 auditor or key custodian or security officer or supervisor",
        "items": 1,
        "within_days": 90,
    }


def test_a_tampered_alert_record_is_refused(mon: Monitoring) -> None:
    key = mon.pek()
    mon.admin("set_owners", "default", [OPS])
    mon.to_days_left(key, 5)
    mon.expiry.send_alerts()
    with sqlite3.connect(mon.db) as db:
        changed = db.execute(
            "UPDATE documents SET record = replace(record, ?, ?) WHERE kind = 'alert-sent'",
            (OPS, "someone@else.example"),
        ).rowcount
    assert changed == 3
    with pytest.raises(IntegrityError, match="alerts sent for"):
        mon.expiry.send_alerts()


def test_the_service_context_starts_without_a_mailer(tmp_path: Path) -> None:
    w = World(tmp_path)
    try:
        assert isinstance(w.s.ctx, ServiceContext) and w.s.ctx.mailer is None
        assert isinstance(w.s.expiry, ExpiryService)
    finally:
        w.repo.close()
