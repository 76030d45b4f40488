"""The SMTP relay for expiry alerts: ``Mailer`` with the standard library's smtplib.

Three ways to reach the relay: ``starttls`` (RFC 3207: plain connection, usually port
587, upgraded to TLS before anything else is said), ``tls`` (implicit TLS from the first
byte, RFC 8314, usually port 465) and ``none`` (a relay on a trusted network or the same
host, port 25). The relay's certificate is checked against the system's trust anchors or
the configured CA file, with its host name. A login (``username``) is only ever sent over
TLS: a configuration asking for a login without TLS is refused.

Every failure becomes a ``MailError`` naming the relay and what failed: the connection,
the TLS handshake, the login, a refused sender or recipient, or the message itself.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from workstation.errors import BadInput, MailError
from workstation.services.ports import MailMessage

__all__ = ["SECURITY_MODES", "SmtpMailer"]

log = logging.getLogger(__name__)

SECURITY_MODES = ("starttls", "tls", "none")


class SmtpMailer:
    """``Mailer`` over SMTP: one connection per message, closed after it."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        security: str = "starttls",
        username: str | None = None,
        password: Callable[[], str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
        local_hostname: str | None = None,
    ) -> None:
        if security not in SECURITY_MODES:
            raise BadInput(
                f"Mail security {security!r} is not known; use one of: {', '.join(SECURITY_MODES)}."
            )
        if not host.strip():
            raise BadInput("The mail relay's host is empty.")
        if not 0 < port < 65536:
            raise BadInput(f"Mail relay port {port} is not a TCP port (1 to 65535).")
        if username and security == "none":
            raise BadInput(
                "The mail relay login would be sent in clear: set security to starttls or "
                "tls, or remove the username."
            )
        if username and password is None:
            raise BadInput("The mail relay login needs a password_source.")
        self.host = host.strip()
        self.port = port
        self.security = security
        self.username = username or None
        self._password = password
        self._context = ssl_context or ssl.create_default_context()
        self.timeout = timeout
        self.local_hostname = local_hostname
        self._sender = sender

    @property
    def sender(self) -> str:
        return self._sender

    @property
    def relay(self) -> str:
        return f"{self.host}:{self.port}"

    def _fail(self, what: str, exc: BaseException | None = None) -> MailError:
        detail = f"{type(exc).__name__}: {exc}" if exc is not None else None
        return MailError(f"Mail relay {self.relay}: {what}", detail=detail)

    @staticmethod
    def _reply(exc: smtplib.SMTPResponseException) -> str:
        error = exc.smtp_error
        text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
        return f"{exc.smtp_code} {text}".strip()

    def _build(self, message: MailMessage) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = message.sender
        msg["To"] = ", ".join(message.recipients)
        msg["Subject"] = message.subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        domain = message.sender.rpartition("@")[2] or None
        msg["Message-ID"] = make_msgid(domain=domain)
        msg.set_content(message.body, charset="utf-8")
        for name, mime, content in message.attachments:
            main, _, sub = mime.partition("/")
            msg.add_attachment(content, maintype=main, subtype=sub or "octet-stream", filename=name)
        return msg

    def _connect(self) -> smtplib.SMTP:
        try:
            if self.security == "tls":
                return smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                    context=self._context,
                )
            return smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
        except ssl.SSLCertVerificationError as e:
            raise self._fail(f"its TLS certificate is not trusted ({e.verify_message}).", e) from e
        except ssl.SSLError as e:
            raise self._fail("the TLS handshake failed.", e) from e
        except socket.gaierror as e:
            raise self._fail("the host name does not resolve.", e) from e
        except ConnectionRefusedError as e:
            raise self._fail("the connection was refused (is the relay running?).", e) from e
        except TimeoutError as e:
            raise self._fail(f"no answer within {self.timeout:g} seconds.", e) from e
        except smtplib.SMTPConnectError as e:
            raise self._fail(f"the relay turned the connection away ({self._reply(e)}).", e) from e
        except (OSError, smtplib.SMTPException) as e:
            raise self._fail("the connection failed.", e) from e

    def _secure_and_log_in(self, smtp: smtplib.SMTP) -> None:
        smtp.ehlo()
        if self.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise self._fail("it does not offer STARTTLS; nothing was sent in clear.")
            try:
                smtp.starttls(context=self._context)
            except ssl.SSLCertVerificationError as e:
                raise self._fail(
                    f"its TLS certificate is not trusted ({e.verify_message}).", e
                ) from e
            except ssl.SSLError as e:
                raise self._fail("the TLS handshake (STARTTLS) failed.", e) from e
            smtp.ehlo()  # RFC 3207 section 4.2: the client forgets what it learnt before
        if self.username:
            assert self._password is not None
            try:
                smtp.login(self.username, self._password())
            except smtplib.SMTPAuthenticationError as e:
                raise self._fail(
                    f"it refused the login of {self.username!r} ({self._reply(e)}).", e
                ) from e
            except smtplib.SMTPNotSupportedError as e:
                raise self._fail("it does not offer a login (AUTH).", e) from e
            except smtplib.SMTPException as e:
                raise self._fail(f"the login failed ({e}).", e) from e

    def send(self, message: MailMessage) -> None:
        if not message.recipients:
            raise BadInput("A message needs at least one recipient.")
        msg = self._build(message)
        smtp = self._connect()
        try:
            self._secure_and_log_in(smtp)
            refused = smtp.send_message(
                msg, from_addr=message.sender, to_addrs=list(message.recipients)
            )
            if refused:
                names = ", ".join(
                    f"{r} ({c} {t.decode('utf-8', 'replace')})" for r, (c, t) in refused.items()
                )
                raise self._fail(f"it refused recipient(s) {names}; the others got the message.")
        except MailError:
            raise
        except smtplib.SMTPRecipientsRefused as e:
            names = ", ".join(
                f"{r} ({c} {t.decode('utf-8', 'replace')})" for r, (c, t) in e.recipients.items()
            )
            raise self._fail(f"it refused the recipient(s) {names}.", e) from e
        except smtplib.SMTPSenderRefused as e:
            raise self._fail(
                f"it refused the sender {message.sender} ({self._reply(e)}).", e
            ) from e
        except smtplib.SMTPDataError as e:
            raise self._fail(f"it refused the message ({self._reply(e)}).", e) from e
        except smtplib.SMTPServerDisconnected as e:
            raise self._fail("it closed the connection.", e) from e
        except (OSError, smtplib.SMTPException) as e:
            raise self._fail("sending failed.", e) from e
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        log.info("mail to %s handed to %s", ", ".join(message.recipients), self.relay)
