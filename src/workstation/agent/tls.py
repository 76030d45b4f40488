"""The agent's TLS key pair, certificate request, certificate and trusted client CA.

Files under ``home/tls``: ``agent.key`` (EC P-256 private key, PKCS #8 PEM, mode 0600),
``agent.csr`` (PKCS #10 request for the bank's CA, with the listen address as subject
alternative name), ``agent.crt`` (the certificate the CA issued, installed by
``workstation-agent certificate``) and ``clients-ca.pem`` (the CA that issues the
workstations' client certificates). The server accepts TLS 1.2 and later only, and only
clients presenting a certificate from that CA (RFC 8446 4.3.2 / RFC 5246 7.4.4: the
server requests and requires a client certificate).
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CERT_NAME",
    "CLIENT_CA_NAME",
    "CSR_NAME",
    "KEY_NAME",
    "TlsSetupError",
    "install_certificate",
    "install_trust",
    "make_key_and_request",
    "server_context",
    "subject_alternative_names",
]

KEY_NAME = "agent.key"
CSR_NAME = "agent.csr"
CERT_NAME = "agent.crt"
CLIENT_CA_NAME = "clients-ca.pem"


class TlsSetupError(ValueError):
    """A certificate, key or CA file is missing, malformed or does not fit."""


def subject_alternative_names(host: str, name: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for value in dict.fromkeys([host, name, "localhost" if host in ("127.0.0.1", "::1") else ""]):
        if not value or value in ("0.0.0.0", "::"):  # noqa: S104 - matching, not binding
            continue
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(value)))
        except ValueError:
            names.append(x509.DNSName(value))
    return names


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def make_key_and_request(tls_dir: Path, name: str, host: str) -> Path:
    """Make the agent's key pair and its certificate request; returns the request's path."""
    tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    _write_new(
        tls_dir / KEY_NAME,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName(subject_alternative_names(host, name)), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(key, hashes.SHA256())
    )
    path = tls_dir / CSR_NAME
    _replace(path, csr.public_bytes(serialization.Encoding.PEM))
    return path


def _load_certificates(data: bytes, what: str) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        try:
            certificates = [x509.load_der_x509_certificate(data)]
        except ValueError:
            raise TlsSetupError(f"The {what} is not a PEM or DER X.509 certificate") from None
    return certificates


def install_certificate(tls_dir: Path, source: Path) -> x509.Certificate:
    """Install the agent's certificate (PEM chain or DER) after checking it is for the
    agent's own key."""
    certificates = _load_certificates(source.read_bytes(), f"certificate in {source}")
    try:
        key = serialization.load_pem_private_key((tls_dir / KEY_NAME).read_bytes(), None)
    except FileNotFoundError:
        raise TlsSetupError(f"{tls_dir / KEY_NAME} is missing: run init first") from None
    own = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    theirs = (
        certificates[0]
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    if own != theirs:
        raise TlsSetupError(
            f"The certificate in {source} is not for this agent's key ({tls_dir / KEY_NAME})"
        )
    _replace(
        tls_dir / CERT_NAME,
        b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates),
    )
    return certificates[0]


def install_trust(tls_dir: Path, source: Path) -> list[x509.Certificate]:
    """Install the CA (or CAs) whose client certificates the agent accepts."""
    certificates = _load_certificates(source.read_bytes(), f"CA certificate in {source}")
    for cert in certificates:
        try:
            ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            ca = False
        if not ca:
            raise TlsSetupError(
                f"{cert.subject.rfc4514_string()} in {source} is not a CA certificate"
            )
    tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _replace(
        tls_dir / CLIENT_CA_NAME,
        b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates),
    )
    return certificates


def server_context(tls_dir: Path) -> ssl.SSLContext:
    """Mutual TLS, TLS 1.2 or later, client certificate required and checked against the
    installed client CA."""
    for name in (KEY_NAME, CERT_NAME, CLIENT_CA_NAME):
        if not (tls_dir / name).is_file():
            hint = {
                KEY_NAME: "run init",
                CERT_NAME: "install the agent's certificate with 'certificate FILE'",
                CLIENT_CA_NAME: "install the workstations' CA with 'certificate --trust FILE'",
            }[name]
            raise TlsSetupError(f"{tls_dir / name} is missing: {hint}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(tls_dir / CERT_NAME, tls_dir / KEY_NAME)
    context.load_verify_locations(cafile=str(tls_dir / CLIENT_CA_NAME))
    return context
