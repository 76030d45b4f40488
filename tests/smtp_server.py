"""A real SMTP server on loopback for the tests, built on aiosmtpd: it records every message
it accepts, and can offer STARTTLS or implicit TLS with a certificate made here, ask for a
login, and refuse chosen recipients.

    with LoopbackSmtp() as relay:
        ...  # send to 127.0.0.1:relay.port
        relay.wait_for(1)
        relay.messages[0].rcpt_tos, relay.messages[0].message["Subject"]
"""

from __future__ import annotations

import ipaddress
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    tls: bool  # the message came over TLS (STARTTLS or implicit)
    login: str | None  # the user that logged in, if any

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        text = str(part.get_content())  # type: ignore[attr-defined]
        return text.replace("\r\n", "\n")  # lines travel as CRLF (RFC 5321 2.3.8)


def make_certificate(directory: Path, name: str = "localhost") -> tuple[Path, Path]:
    """A self-signed server certificate for ``name`` and 127.0.0.1: (certificate, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Recorder:
    def __init__(self, server: LoopbackSmtp) -> None:
        self.server = server

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.server.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        login = session.auth_data.login.decode() if session.authenticated else None
        received = Received(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=parsed,
            tls=session.ssl is not None or smtp.transport.get_extra_info("sslcontext") is not None,
            login=login,
        )
        with self.server.lock:
            self.server.messages.append(received)
        return "250 2.0.0 Message accepted"


class _Controller(Controller):
    """aiosmtpd's controller, bound to a free port chosen by the system (port 0)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class LoopbackSmtp:
    """An SMTP server on 127.0.0.1 for one test.

    ``security``: "none" (plain), "starttls" (offers STARTTLS) or "tls" (implicit TLS);
    ``users``: logins it accepts ({user: password}), asked only over TLS; ``refuse``:
    recipients it answers 550 for.
    """

    def __init__(
        self,
        *,
        security: str = "none",
        certificate: tuple[Path, Path] | None = None,
        users: dict[str, str] | None = None,
        refuse: Iterable[str] = (),
    ) -> None:
        self.security = security
        self.users = dict(users or {})
        self.refuse = {r.lower() for r in refuse}
        self.messages: list[Received] = []
        self.lock = threading.Lock()
        kwargs: dict[str, Any] = {"server_hostname": "relay.test"}
        if security != "none":
            assert certificate is not None, "TLS needs a certificate"
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*certificate)
            if security == "starttls":
                kwargs["tls_context"] = context
            else:
                kwargs["ssl_context"] = context
        if self.users:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = security == "starttls"
        self.controller = _Controller(_Recorder(self), hostname=HOST, port=0, **kwargs)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self.users.get(data.login.decode()) == data.password.decode()
        )
        # handled=False: aiosmtpd itself answers (235, or 535 for a wrong password).
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def __enter__(self) -> LoopbackSmtp:
        self.controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.controller.stop()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The messages, once at least ``count`` have arrived (smtplib returns only after
        the server's reply to DATA, so they are normally there already)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} message(s) expected, {len(self.messages)} came")
            time.sleep(0.01)

    def take(self) -> list[Received]:
        with self.lock:
            out, self.messages = self.messages, []
        return out
