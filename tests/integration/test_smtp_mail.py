"""The SMTP adapter against a real SMTP server on loopback (aiosmtpd): plain, STARTTLS and
implicit TLS, with and without a login; and every failure named: refused connection,
untrusted certificate, no STARTTLS offered, wrong password, refused recipient."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.smtp_server import HOST, LoopbackSmtp, make_certificate
from workstation.adapters.smtp_mail import SmtpMailer
from workstation.errors import BadInput, MailError
from workstation.services.ports import MailMessage

SENDER = "kcw@bank.example"


def message(*to: str, body: str = "Key ZMK-0001: crypto-period ends in 7 days.\n") -> MailMessage:
    return MailMessage(SENDER, to or ("ops@bank.example",), "[KCW] 1 item falls due", body)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return make_certificate(tmp_path / "tls")


def trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def mailer(relay: LoopbackSmtp, **kw: object) -> SmtpMailer:
    kw.setdefault("sender", SENDER)
    return SmtpMailer(HOST, relay.port, timeout=10, **kw)  # type: ignore[arg-type]


def test_plain_relay_receives_the_message_as_sent() -> None:
    body = "Überblick: ZMK-0001, KCV 1A2B3C.\nSecond line; with punctuation, too.\n"
    with LoopbackSmtp() as relay:
        mailer(relay, security="none").send(message("ops@bank.example", body=body))
        [got] = relay.wait_for(1)
    assert got.mail_from == SENDER and got.rcpt_tos == ("ops@bank.example",)
    assert got.subject == "[KCW] 1 item falls due" and got.body == body
    assert got.message["From"] == SENDER and got.message["To"] == "ops@bank.example"
    assert got.message["Message-ID"].endswith("@bank.example>")
    assert not got.tls and got.login is None


def test_starttls_with_login(certificate: tuple[Path, Path]) -> None:
    with LoopbackSmtp(security="starttls", certificate=certificate, users={"kcw": "s3cret"}) as r:
        m = mailer(
            r,
            security="starttls",
            username="kcw",
            password=lambda: "s3cret",
            ssl_context=trusting(certificate[0]),
        )
        m.send(message())
        [got] = r.wait_for(1)
    assert got.tls and got.login == "kcw"


def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    with LoopbackSmtp(security="tls", certificate=certificate) as relay:
        mailer(relay, security="tls", ssl_context=trusting(certificate[0])).send(message())
        [got] = relay.wait_for(1)
    assert got.tls


def test_attachments_travel_as_mime_parts() -> None:
    calendar = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    with LoopbackSmtp() as relay:
        mailer(relay, security="none").send(
            MailMessage(
                SENDER,
                ("ops@bank.example",),
                "dates",
                "see attached\n",
                attachments=(("due.ics", "text/calendar", calendar),),
            )
        )
        [got] = relay.wait_for(1)
    [part] = list(got.message.iter_attachments())
    assert part.get_filename() == "due.ics" and part.get_content_type() == "text/calendar"
    assert part.get_payload(decode=True) == calendar


def test_refused_connection_is_named() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    m = SmtpMailer(HOST, port, sender=SENDER, security="none", timeout=5)
    with pytest.raises(MailError, match=rf"Mail relay {HOST}:{port}: the connection was refused"):
        m.send(message())


def test_untrusted_certificate_is_refused(certificate: tuple[Path, Path], tmp_path: Path) -> None:
    other = make_certificate(tmp_path / "other")[0]
    with LoopbackSmtp(security="starttls", certificate=certificate) as relay:
        m = mailer(relay, security="starttls", ssl_context=trusting(other))
        with pytest.raises(MailError, match="its TLS certificate is not trusted"):
            m.send(message())
        with LoopbackSmtp(security="tls", certificate=certificate) as implicit:
            m = mailer(implicit, security="tls")  # the system's anchors: not this one
            with pytest.raises(MailError, match="its TLS certificate is not trusted"):
                m.send(message())
        assert relay.messages == []


def test_starttls_required_but_not_offered() -> None:
    with LoopbackSmtp() as relay:
        with pytest.raises(MailError, match="does not offer STARTTLS; nothing was sent in clear"):
            mailer(relay, security="starttls").send(message())
        assert relay.messages == []


def test_wrong_password_is_named(certificate: tuple[Path, Path]) -> None:
    with LoopbackSmtp(security="starttls", certificate=certificate, users={"kcw": "right"}) as r:
        m = mailer(
            r,
            security="starttls",
            username="kcw",
            password=lambda: "wrong",
            ssl_context=trusting(certificate[0]),
        )
        with pytest.raises(MailError, match="it refused the login of 'kcw' \\(535"):
            m.send(message())
        assert r.messages == []


def test_refused_recipient_is_named() -> None:
    with LoopbackSmtp(refuse=["gone@bank.example"]) as relay:
        m = mailer(relay, security="none")
        with pytest.raises(MailError, match=r"refused the recipient\(s\) gone@bank.example \(550"):
            m.send(message("gone@bank.example"))
        with pytest.raises(MailError, match="refused recipient"):
            m.send(message("ops@bank.example", "gone@bank.example"))
        assert [r.rcpt_tos for r in relay.messages] == [("ops@bank.example",)]


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        ({"security": "smtps"}, "Mail security 'smtps' is not known"),
        ({"port": 0}, "not a TCP port"),
        ({"security": "none", "username": "kcw", "password": lambda: "x"}, "sent in clear"),
        ({"username": "kcw"}, "needs a password_source"),
    ],
)
def test_bad_configuration_is_refused(kw: dict[str, object], text: str) -> None:
    args: dict[str, object] = {"sender": SENDER, **kw}
    port = args.pop("port", 25)
    with pytest.raises(BadInput, match=text):
        SmtpMailer(HOST, port, **args)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The adapter reads no environment; make sure a developer's SSL_CERT_FILE does not make
    # the self-signed certificate trusted by the "system" context above.
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    yield
