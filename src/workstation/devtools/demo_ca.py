"""The demo's certification authority: issues certificates for the demo workstation's key
pairs, so that the certificate workflow (request signed in the HSM, certificate checked
against its partner's anchor, expiry on the dashboard) can be tried end to end.

A real CA is another organisation's system; this one is a key file in the demo home,
readable by its owner only. It signs what a request asks for (subject, subject alternative
names, key usage, extended key usage, basic constraints), checking the request's own
signature first, as a CA does (RFC 2986 §3: the signature proves possession of the key).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from workstation.errors import BadInput

__all__ = ["DEMO_CA_NAME", "DemoCa"]

DEMO_CA_NAME = "Demo Lab CA"
_COPIED = (
    x509.SubjectAlternativeName,
    x509.KeyUsage,
    x509.ExtendedKeyUsage,
    x509.BasicConstraints,
)


class DemoCa:
    """An EC P-256 CA kept under ``directory`` (``ca.key``, mode 0600, and ``ca.pem``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key_file = directory / "ca.key"
        self.certificate_file = directory / "ca.pem"

    def exists(self) -> bool:
        return self.key_file.exists() and self.certificate_file.exists()

    def create(self, *, now: datetime | None = None) -> bytes:
        """Make the CA's key and self-signed certificate (10 years); return the PEM."""
        if self.exists():
            return self.certificate_file.read_bytes()
        when = now or datetime.now(UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, DEMO_CA_NAME),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Key Custodian Workstation demo"),
            ]
        )
        public = key.public_key()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(when - timedelta(minutes=5))
            .not_valid_after(when + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
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
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256())
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        pem = certificate.public_bytes(serialization.Encoding.PEM)
        self.certificate_file.write_bytes(pem)
        return pem

    def sign(self, request: bytes, *, days: int = 397, now: datetime | None = None) -> bytes:
        """Issue a certificate (PEM) for a PKCS#10 request (PEM or DER), valid ``days`` days."""
        if not self.exists():
            raise BadInput(f"The demo CA is not set up in {self.directory}; start the demo first.")
        if not 1 <= days <= 3650:
            raise BadInput("Give the validity in days, from 1 to 3650.")
        try:
            csr = (
                x509.load_pem_x509_csr(request)
                if request.lstrip().startswith(b"-----BEGIN")
                else x509.load_der_x509_csr(request)
            )
        except ValueError:
            raise BadInput("The file is not a certificate request (PKCS#10, PEM or DER).") from None
        if not csr.is_signature_valid:
            raise BadInput("The request's signature does not verify: it is refused.")
        key = serialization.load_pem_private_key(self.key_file.read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        ca = x509.load_pem_x509_certificate(self.certificate_file.read_bytes())
        when = now or datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(ca.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(when - timedelta(minutes=5))
            .not_valid_after(when + timedelta(days=days))
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                critical=False,
            )
        )
        for extension in csr.extensions:
            if isinstance(extension.value, _COPIED):
                builder = builder.add_extension(extension.value, extension.critical)
        certificate = builder.sign(key, hashes.SHA256())
        return certificate.public_bytes(serialization.Encoding.PEM)
