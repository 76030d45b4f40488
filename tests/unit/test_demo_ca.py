"""The demo CA issues what a request asks for, after checking the request's signature."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from workstation.devtools.demo_ca import DemoCa
from workstation.errors import BadInput
from workstation.standards import pkix

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def request(key: ec.EllipticCurvePrivateKey) -> bytes:
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "host.bank.example")]))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("host.bank.example")]), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )


def test_issues_a_certificate_that_validates_against_the_ca(tmp_path: Path) -> None:
    ca = DemoCa(tmp_path / "ca")
    anchor = ca.create(now=NOW)
    assert stat.S_IMODE(ca.key_file.stat().st_mode) == 0o600
    key = ec.generate_private_key(ec.SECP256R1())
    issued = ca.sign(request(key), days=30, now=NOW)
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    checked = pkix.validate_certificate(
        pkix.read_certificates(issued)[0],
        anchors=pkix.read_certificates(anchor),
        intermediates=[],
        crls=[],
        now=NOW,
        extended_key_usage=("server_auth",),
        public_key=spki,
    )
    assert checked.dns_names == ("host.bank.example",)
    assert (checked.not_after - NOW).days == 30
    assert ca.create() == anchor  # made once


def test_refuses_a_tampered_request_and_bad_input(tmp_path: Path) -> None:
    ca = DemoCa(tmp_path / "ca")
    with pytest.raises(BadInput, match="not set up"):
        ca.sign(b"x")
    ca.create(now=NOW)
    der = x509.load_pem_x509_csr(request(ec.generate_private_key(ec.SECP256R1()))).public_bytes(
        serialization.Encoding.DER
    )
    tampered = der.replace(b"host.bank.example", b"evil.bank.example", 1)
    with pytest.raises(BadInput, match="signature does not verify"):
        ca.sign(tampered)
    with pytest.raises(BadInput, match="not a certificate request"):
        ca.sign(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")
    with pytest.raises(BadInput, match="from 1 to 3650"):
        ca.sign(der, days=0)
