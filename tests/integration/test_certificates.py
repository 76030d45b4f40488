# ruff: noqa: F811 - the tests take the imported `world` fixture as their parameter
"""Certificates of key pairs on the real stack: a request signed inside SoftHSM2 by a key
pair generated there (checked with openssl and cryptography), the certificate a partner's CA
issues for it checked and kept, and every kind of wrong certificate refused with its reason
and nothing kept."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.integration.test_interchange import (
    ADMINS,
    PARTNER,
    Exchange,
    PartnerPki,
    pem,
    world,  # noqa: F401 - the same world fixture
)
from workstation.domain.certificates import CertificateStatus
from workstation.domain.keys import ManagedKey
from workstation.domain.policy import Action
from workstation.errors import BadInput
from workstation.standards import pkix

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

CERTIFIERS = ("Cara", "Sam")  # manage_certificates: 1 key custodian + 1 supervisor
TLS = "TLS server key pair"  # seed template, EC P-256
EPP = "ATM EPP key pair"  # seed template, RSA-2048


def issue(
    pki: PartnerPki,
    csr_pem: str,
    *,
    days: int = 365,
    start: datetime | None = None,
    public_key: Any = None,
    issuer_key: Any = None,
    issuer: x509.Certificate | None = None,
    eku: bool = True,
) -> x509.Certificate:
    """What the partner's CA does with the request."""
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    start = start or datetime.now(UTC) - timedelta(hours=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name((issuer or pki.ca).subject)
        .public_key(public_key or csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("atm-0042.bank.example")]), critical=False
        )
    )
    if eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(issuer_key or pki.ca_key, hashes.SHA256())


def make_request(world: Exchange, key: ManagedKey) -> str:
    profile = pkix.Profile(
        subject="CN=atm-0042.bank.example,O=Acquirer Bank 042,C=GB",
        dns_names=("atm-0042.bank.example",),
        key_usage=frozenset({"digital_signature"}),
        extended_key_usage=("server_auth",),
    )
    return world.s.certificates.request(world.session(*CERTIFIERS), key.label, profile).pem


def test_request_signed_in_the_hsm_verifies(world: Exchange, tmp_path: Path) -> None:
    for template in (TLS, EPP):
        key = world.key(template, active=False)
        request = make_request(world, key)
        path = tmp_path / f"{key.label}.csr"
        path.write_text(request)
        verified = subprocess.run(
            ["openssl", "req", "-verify", "-noout", "-in", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert verified.returncode == 0, verified.stderr
        csr = x509.load_pem_x509_csr(request.encode())
        assert csr.is_signature_valid
        assert (
            csr.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            == key.public_key
        )
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == ["atm-0042.bank.example"]
    entry = world.audit("certificate.request")[-1]
    assert entry["details"]["subject"].startswith("CN=atm-0042")


def test_request_in_der_verifies_and_is_the_same_request(world: Exchange, tmp_path: Path) -> None:
    key = world.key(EPP, active=False)
    profile = pkix.Profile(
        subject="CN=RKL host 1,O=Acquirer Bank 042,C=GB",
        key_usage=frozenset({"key_encipherment"}),
    )
    request = world.s.certificates.request(world.session(*CERTIFIERS), key.label, profile)
    der = tmp_path / "rkl.der"
    der.write_bytes(request.encoded("der"))
    assert request.der[0] == 0x30 and request.encoded("pem") == request.pem.encode()
    verified = subprocess.run(
        ["openssl", "req", "-verify", "-noout", "-inform", "DER", "-in", str(der)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    csr = x509.load_der_x509_csr(request.der)
    assert csr.public_bytes(serialization.Encoding.PEM).decode() == request.pem
    assert hashlib.sha256(request.der).hexdigest().upper() == request.sha256
    assert world.audit("certificate.request")[-1]["details"]["csr_sha256"] == request.sha256


def test_key_pairs_listed_with_their_certificates(world: Exchange) -> None:
    pki = world.pki  # type: ignore[attr-defined]
    tls, epp = world.key(TLS), world.key(EPP, active=False)
    issued = [pem(issue(pki, make_request(world, tls), days=days)) for days in (365, 20)]
    first, second = (
        world.s.certificates.import_certificate(
            world.session(*CERTIFIERS), tls.label, certificate, partner=PARTNER
        )
        for certificate in issued
    )
    pek = world.key("Test PEK")
    listing = world.s.certificates.key_pairs(world.session(*ADMINS))
    labels = [p.key.label for p in listing.pairs]
    assert tls.label in labels and epp.label in labels and pek.label not in labels
    assert labels == sorted(labels, key=str.casefold) and not listing.truncated
    pair = next(p for p in listing.pairs if p.key.id == tls.id)
    assert pair.template_name == TLS and pair.refusal is None
    assert pair.current is not None and pair.current.fingerprint == second.fingerprint
    assert [c.status for c in pair.certificates if c.fingerprint == first.fingerprint] == [
        CertificateStatus.SUPERSEDED
    ]
    empty = next(p for p in listing.pairs if p.key.id == epp.id)
    assert empty.current is None and empty.certificates == ()
    # A destroyed key pair is no longer listed.
    world.s.keys.change_state(
        world.session(*ADMINS), epp.label, Action.DESTROY_KEY, reason="never certified"
    )
    listing = world.s.certificates.key_pairs(world.session(*ADMINS))
    assert epp.label not in [p.key.label for p in listing.pairs]


def test_required_usage_that_is_no_usage_is_bad_input(world: Exchange) -> None:
    key = world.key(TLS)
    cert = issue(world.pki, make_request(world, key))  # type: ignore[attr-defined]
    before = len(world.audit("certificate.import.refused"))
    with pytest.raises(BadInput, match="Required usage: extended_key_usage: 'warp_drive'"):
        world.s.certificates.import_certificate(
            world.session(*CERTIFIERS),
            key.label,
            pem(cert),
            partner=PARTNER,
            extended_key_usage=("warp_drive",),
        )
    assert len(world.audit("certificate.import.refused")) == before
    kept = world.s.certificates.import_certificate(
        world.session(*CERTIFIERS),
        key.label,
        pem(cert),
        partner=PARTNER,
        extended_key_usage=("server_auth",),
    )
    assert kept.key_id == key.id


def test_issued_certificate_is_checked_and_kept(world: Exchange) -> None:
    pki = world.pki  # type: ignore[attr-defined]
    key = world.key(TLS)
    cert = issue(pki, make_request(world, key))
    record = world.s.certificates.import_certificate(
        world.session(*CERTIFIERS), key.label, pem(cert), partner=PARTNER
    )
    assert record.serial == f"{cert.serial_number:X}" and record.status is CertificateStatus.CURRENT
    assert record.anchor == pki.ca.subject.rfc4514_string()
    listed = world.s.certificates.certificates(world.session(*ADMINS), key_ref=key.label)
    assert [c.fingerprint for c in listed] == [record.fingerprint]
    assert record in world.s.certificates.expiring(world.session(*ADMINS), 400)
    assert world.s.certificates.expiring(world.session(*ADMINS), 30) == []
    # A renewal supersedes it.
    second = pem(issue(pki, make_request(world, key)))
    renewed = world.s.certificates.import_certificate(
        world.session(*CERTIFIERS), key.label, second, partner=PARTNER
    )
    statuses = {
        c.fingerprint: c.status
        for c in world.s.certificates.certificates(world.session(*ADMINS), key_ref=key.label)
    }
    assert statuses == {
        record.fingerprint: CertificateStatus.SUPERSEDED,
        renewed.fingerprint: CertificateStatus.CURRENT,
    }
    assert world.audit("certificate.import")[-1]["details"]["partner"] == PARTNER


def test_wrong_certificates_are_refused_with_their_reason(world: Exchange) -> None:
    pki = world.pki  # type: ignore[attr-defined]
    key = world.key(TLS)
    request = make_request(world, key)
    session = world.session(*CERTIFIERS)
    stranger = PartnerPki()
    other_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    cases = [
        (issue(pki, request, public_key=other_key), r"(?i)public key"),
        (
            issue(pki, request, start=datetime.now(UTC) - timedelta(days=400), days=30),
            r"(?i)expired",
        ),
        (issue(pki, request, start=datetime.now(UTC) + timedelta(days=10)), r"(?i)not yet valid"),
        (issue(pki, request, issuer_key=stranger.ca_key, issuer=stranger.ca), r"(?i)issue"),
        (issue(pki, request, issuer_key=stranger.ca_key), r"(?i)signature|issue"),
    ]
    for cert, reason in cases:
        with pytest.raises(BadInput, match=reason):
            world.s.certificates.import_certificate(session, key.label, pem(cert), partner=PARTNER)
    no_eku = issue(pki, request, eku=False)
    with pytest.raises(BadInput, match=r"(?i)usage"):
        world.s.certificates.import_certificate(
            session,
            key.label,
            pem(no_eku),
            partner=PARTNER,
            key_usage=frozenset({"key_encipherment"}),
        )
    revoked = issue(pki, request)
    world.s.interchange.update_partner(
        world.session(*ADMINS), PARTNER, crls=[pem(pki.make_crl([revoked]))]
    )
    with pytest.raises(BadInput, match=r"(?i)revoked"):
        world.s.certificates.import_certificate(
            world.session(*CERTIFIERS), key.label, pem(revoked), partner=PARTNER
        )
    with pytest.raises(BadInput, match="secret key"):
        world.s.certificates.request(
            world.session(*CERTIFIERS),
            world.key("Test PEK").label,
            pkix.Profile(subject="CN=x"),
        )
    assert world.s.certificates.certificates(world.session(*ADMINS)) == []
    assert len(world.audit("certificate.import.refused")) >= 6
