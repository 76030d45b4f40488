# ruff: noqa: F811 - the tests take the imported `world` fixture as their parameter
"""Expiry monitoring on the real stack: SoftHSM2 seals the windows, owners and alerts sent;
pcscd with virtual PIV cards makes the quorums; SQLite keeps them; the alerts travel over
SMTP (the adapter, STARTTLS and a login) to a server on loopback, which records what it got.

The monitoring service runs on a clock the test moves (a FakeClock in its own service
context over the same repository and HSM): a key pair's certificate is followed through its
windows, alerted once in each, and its renewal (a new due date) starts over."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes import FakeClock
from tests.integration.test_certificates import CERTIFIERS, TLS, issue, make_request
from tests.integration.test_interchange import (
    ADMINS,
    PARTNER,
    Exchange,
    pem,
    world,  # noqa: F401 - the same world fixture
)
from tests.smtp_server import LoopbackSmtp, Received, make_certificate
from workstation.adapters.smtp_mail import SmtpMailer
from workstation.domain.certificates import CertificateRecord
from workstation.domain.icalendar import unfold
from workstation.domain.keys import ManagedKey
from workstation.errors import IntegrityError, QuorumNotMet
from workstation.services.context import ServiceContext
from workstation.services.expiry import ExpiryService

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

OPS = "ops@bank.example"
PKI_TEAM = "pki-team@bank.example"
DESK = "key-desk@bank.example"


class Monitored:
    """The world's repository and HSM seen by an ExpiryService on a movable clock, with
    its alerts going to a loopback relay over STARTTLS with a login."""

    def __init__(self, world: Exchange, relay: LoopbackSmtp, ca_file: Path) -> None:
        import ssl

        self.world = world
        self.relay = relay
        self.clock = FakeClock(datetime.now(UTC))
        mailer = SmtpMailer(
            "127.0.0.1",
            relay.port,
            sender="kcw-alerts@bank.example",
            security="starttls",
            username="kcw",
            password=lambda: "relay-pass",
            ssl_context=ssl.create_default_context(cafile=str(ca_file)),
            timeout=10,
        )
        self.ctx = ServiceContext(
            repository=world.repo,
            hsm=world.hsm,  # type: ignore[attr-defined]
            readers=world.readers,
            clock=self.clock,
            mailer=mailer,
        )
        self.expiry = ExpiryService(self.ctx)

    def at(self, when: datetime) -> None:
        self.clock.current = when

    def alert(self) -> list[Received]:
        report = self.expiry.send_alerts()
        assert report.failures == ()
        return sorted(self.relay.take(), key=lambda r: r.rcpt_tos)


@pytest.fixture
def monitored(world: Exchange, tmp_path: Path) -> Iterator[Monitored]:
    cert, key = make_certificate(tmp_path / "relay")
    with LoopbackSmtp(
        security="starttls", certificate=(cert, key), users={"kcw": "relay-pass"}
    ) as relay:
        yield Monitored(world, relay, cert)


def certified(world: Exchange, *, days: int = 365) -> tuple[ManagedKey, CertificateRecord]:
    key = world.key(TLS)
    cert = issue(world.pki, make_request(world, key), days=days)  # type: ignore[attr-defined]
    record = world.s.certificates.import_certificate(
        world.session(*CERTIFIERS), key.label, pem(cert), partner=PARTNER
    )
    world.end()
    return key, record


def test_alerts_reach_the_owners_once_per_window_and_renewal_starts_over(
    world: Exchange, monitored: Monitored
) -> None:
    key, record = certified(world)
    m = monitored
    admin = world.session(*ADMINS)
    m.expiry.set_owners(admin, "default", [DESK])
    m.expiry.set_owners(admin, f"key:{key.label}", [PKI_TEAM])
    world.end()

    assert m.alert() == []  # nothing within 90 days yet
    m.at(record.not_after - timedelta(days=80))
    [message] = m.alert()
    assert message.rcpt_tos == (PKI_TEAM,) and message.tls and message.login == "kcw"
    assert message.mail_from == "kcw-alerts@bank.example"
    assert message.subject == "[KCW] 1 item falls due (soonest within 90 days)"
    assert f"Certificate expires: {record.subject}" in message.body
    assert "80 days left (alert window 90 days)" in message.body
    assert key.wrapped is not None and key.wrapped.hex().upper() not in message.body.upper()

    assert m.alert() == []  # a second run in the same window sends nothing
    m.at(record.not_after - timedelta(days=25))  # the 30-day window; the key enters 90
    [message] = m.alert()
    assert message.rcpt_tos == (PKI_TEAM,)
    assert "(alert window 30 days)" in message.body and "2 items" in message.subject
    assert f"Crypto-period ends: {key.label}" in message.body
    assert m.alert() == []

    # Renewed: a new certificate with a new due date is alerted afresh, the old one is gone.
    renewal = issue(world.pki, make_request(world, key), days=340)  # type: ignore[attr-defined]
    renewed = world.s.certificates.import_certificate(
        world.session(*CERTIFIERS), key.label, pem(renewal), partner=PARTNER
    )
    world.end()
    session = world.session("Alex")
    tasks = m.expiry.due(session)
    world.end()
    certificates = [t for t in tasks if t.item.kind == "certificate"]
    assert [t.item.ref for t in certificates] == [renewed.id]
    assert certificates[0].last_alerted is None
    [message] = m.alert()
    assert f"serial {renewed.serial}" in message.body
    assert f"serial {record.serial}" not in message.body
    assert m.alert() == []

    runs = world.audit("expiry.alert.run")
    assert len(runs) == 7 and all(r["requester"] is None for r in runs)
    told = [r["details"]["recipients"] for r in runs]
    assert told == [[], [PKI_TEAM], [], [PKI_TEAM], [], [PKI_TEAM], []]
    sent = world.audit("expiry.alert.sent")
    assert [e["object_id"] for e in sent] == [PKI_TEAM] * 3


def test_owners_and_windows_need_the_monitoring_quorum_and_are_sealed(
    world: Exchange, monitored: Monitored
) -> None:
    m = monitored
    custodians = world.session("Cara", "Carl")
    with pytest.raises(QuorumNotMet, match="Manage monitoring needs 1 security officer"):
        m.expiry.set_windows(custodians, "60,14")
    world.end()
    assert world.audit("policy.refused")[-1]["details"]["missing"]
    m.expiry.set_windows(world.session("Olivia"), "60,14,3")
    m.expiry.set_owners(world.session("Sam"), "template:TLS server key pair", [OPS])
    world.end()
    assert world.audit("expiry.windows")[-1]["after"] == "60,14,3"
    assert world.audit("expiry.owners.set")[-1]["object_label"] == "TLS server key pair"
    with world.repo.unit_of_work() as uow:
        uow.meta.put("expiry.windows", "1")
        uow.commit()
    with pytest.raises(IntegrityError, match="alert windows were changed"):
        m.expiry.send_alerts()


def test_calendar_of_keys_and_certificates(world: Exchange, monitored: Monitored) -> None:
    key, record = certified(world)
    m = monitored
    m.at(record.not_after - timedelta(days=60))
    text = m.expiry.calendar(world.session("Alex"), within_days=120)  # the key: 92 days
    world.end()
    lines = unfold(text)
    assert text.endswith("\r\n") and all(len(p.encode()) <= 75 for p in text.split("\r\n"))
    assert lines.count("BEGIN:VEVENT") == 2
    assert f"DTSTART;VALUE=DATE:{record.not_after:%Y%m%d}" in lines
    assert f"DTSTART;VALUE=DATE:{key.deactivation_date:%Y%m%d}" in lines
    summaries = [line for line in lines if line.startswith("SUMMARY:")]
    assert summaries[0].startswith("SUMMARY:Certificate expires: CN=atm-0042.bank.example\\,")
    assert world.audit("expiry.calendar")[-1]["details"]["items"] == 2
