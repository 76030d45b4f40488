"""Loopback servers for the TLS endpoint tests, started and stopped by the tests.

- :class:`TestPki`: a root CA, an intermediate CA under it, and the server certificates
  they issue (valid, expired, for a given public key), plus self-signed ones; made with
  cryptography.
- :class:`TlsServer`: a TLS server on 127.0.0.1 presenting a chain (the server's
  certificate and its intermediates) for a private key; it records the server names the
  clients asked for (SNI).
- :class:`PlainServer`: a TCP server that answers with an SMTP-style banner, not TLS.
- :class:`SilentServer`: accepts connections and never says anything.
- :func:`closed_port`: a port bound on loopback where nothing listens (connections refused).

Each server runs in its own threads (``socketserver``) and is a context manager.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "PlainServer",
    "SilentServer",
    "TestPki",
    "TlsServer",
    "closed_port",
    "der",
    "pem",
]

LOOPBACK = "127.0.0.1"
HANDLER_TIMEOUT = 10.0  # seconds a connection may stay open


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _name(cn: str, org: str = "Loopback Test Bank") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


class TestPki:
    """A root CA and an intermediate CA (EC P-256), and the server certificates they issue."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = self._ca("Loopback Root CA", self.root_key, None, self.root_key, now)
        self.intermediate_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = self._ca(
            "Loopback Issuing CA 1", self.intermediate_key, self.root, self.root_key, now
        )

    @staticmethod
    def _ca(
        cn: str, key: Any, issuer: x509.Certificate | None, issuer_key: Any, now: datetime
    ) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(issuer.subject if issuer else _name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=30))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(issuer_key, hashes.SHA256())
        )

    def server(
        self,
        name: str,
        *,
        public_key: Any = None,
        days: int = 90,
        start: datetime | None = None,
        by_root: bool = False,
    ) -> tuple[x509.Certificate, Any]:
        """A server certificate for ``name`` issued by the intermediate (or the root), for
        ``public_key`` (or a new key pair, returned with it; None when a key was given)."""
        key = None
        if public_key is None:
            key = ec.generate_private_key(ec.SECP256R1())
            public_key = key.public_key()
        issuer, issuer_key = (
            (self.root, self.root_key) if by_root else (self.intermediate, self.intermediate_key)
        )
        start = start or datetime.now(UTC) - timedelta(hours=1)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(issuer.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(issuer_key, hashes.SHA256())
        )
        return cert, key

    @staticmethod
    def self_signed(name: str, *, days: int = 365) -> tuple[x509.Certificate, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name, "Self Signed Ltd"))
            .issuer_name(_name(name, "Self Signed Ltd"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cert, key


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, handler: type[socketserver.BaseRequestHandler], port: int = 0) -> None:
        super().__init__((LOOPBACK, port), handler)
        self.stopping = threading.Event()
        self.tls: ssl.SSLContext | None = None
        self.banner = b""
        self.server_names: list[str | None] = []
        self.handshakes = 0
        self.held = 0  # connections a SilentServer holds open now


class _Running:
    """A ``socketserver`` served on a thread of its own until ``stop``."""

    def __init__(self, handler: type[socketserver.BaseRequestHandler], port: int = 0) -> None:
        self.server = _Server(handler, port)
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def target(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self) -> _Running:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _TlsHandler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        assert self.server.tls is not None
        self.request.settimeout(HANDLER_TIMEOUT)
        try:
            with self.server.tls.wrap_socket(self.request, server_side=True) as tls:
                self.server.handshakes += 1
                try:
                    tls.recv(1)  # until the client closes
                except (OSError, ssl.SSLError):
                    pass
        except (OSError, ssl.SSLError):
            pass  # the client gave up or was not TLS: not the server's business


class TlsServer(_Running):
    """A TLS server presenting ``chain`` (the server's certificate first) for ``key``; on
    ``port`` when given (a server restarted with a renewed certificate), else any free one."""

    def __init__(
        self,
        chain: list[x509.Certificate],
        key: Any,
        folder: Path,
        *,
        minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
        maximum: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
        port: int = 0,
    ) -> None:
        super().__init__(_TlsHandler, port)
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"server-{id(self):x}"
        cert_file, key_file = stem.with_suffix(".crt"), stem.with_suffix(".key")
        cert_file.write_bytes(b"".join(pem(c) for c in chain))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = minimum
        context.maximum_version = maximum
        context.load_cert_chain(cert_file, key_file)
        names = self.server.server_names

        def asked(_sock: Any, name: str | None, _ctx: Any) -> None:
            names.append(name)

        context.sni_callback = asked
        self.server.tls = context
        self.chain = chain

    @property
    def server_names(self) -> list[str | None]:
        return self.server.server_names


class _PlainHandler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.request.settimeout(HANDLER_TIMEOUT)
        try:
            self.request.sendall(self.server.banner)
            while self.request.recv(4096):
                pass
        except OSError:
            pass


class PlainServer(_Running):
    """A TCP server that is not TLS: it greets like an SMTP server and reads."""

    def __init__(self, banner: bytes = b"220 mail.bank.example ESMTP ready\r\n") -> None:
        super().__init__(_PlainHandler)
        self.server.banner = banner


class _SilentHandler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.held += 1
        try:
            while not self.server.stopping.is_set():
                try:
                    if not self.request.recv(4096):  # the client closed
                        return
                except TimeoutError:
                    continue
        finally:
            self.server.held -= 1

    def setup(self) -> None:
        self.request.settimeout(0.1)  # to look at ``stopping`` while waiting


class SilentServer(_Running):
    """Accepts connections and says nothing: a handshake waits until the client gives up.
    ``held`` counts the connections it holds open (the clients still waiting)."""

    def __init__(self) -> None:
        super().__init__(_SilentHandler)

    @property
    def held(self) -> int:
        return self.server.held


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port that is bound (so nothing else takes it) but not listening: a
    connection to it is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((LOOPBACK, 0))
        yield int(sock.getsockname()[1])
    finally:
        sock.close()
