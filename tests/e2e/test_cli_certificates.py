"""Certificates from the command line, in separate processes: a key pair made in the HSM,
its request signed there, as PEM and as DER (openssl verifies both), the CA's certificate
checked against the partner's trust anchor and kept, expiry listed, and a certificate for
another key refused."""

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

from tests.e2e.test_cli import PIN, Cli
from tests.e2e.test_cli_interchange import staffed
from tests.integration.test_interchange import PartnerPki, pem

pytestmark = [pytest.mark.e2e, pytest.mark.pcsc, pytest.mark.hsm]

CA = "Lab CA"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


def sign(pki: PartnerPki, csr_path: Path, public_key: Any = None) -> bytes:
    csr = x509.load_pem_x509_csr(csr_path.read_bytes())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(pki.ca.subject)
        .public_key(public_key or csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=20))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(pki.ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_certificates_from_the_command_line(cli: Cli, virtual_cards: Any, tmp_path: Path) -> None:
    readers = staffed(cli, virtual_cards)
    pki = PartnerPki()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(pem(pki.ca))
    readers("Olivia Grant", "Sam Adeyemi")
    cli.ok("partners", "add", CA, "--kind", "other", "--ca", str(ca_file), pins=[PIN] * 2)

    readers("Cara Mendes", "Carl Novak")
    key = cli.json("keys", "generate", "--template", "TLS server key pair", pins=[PIN] * 2)
    label = key["generated"][0]["label"]
    readers("Cara Mendes", "Sam Adeyemi")
    csr = tmp_path / "host.csr"
    cli.ok(
        "certs",
        "request",
        label,
        "--subject",
        "CN=host.bank.example,O=Bank,C=GB",
        "--dns",
        "host.bank.example",
        "--key-usage",
        "digital_signature",
        "--eku",
        "server_auth",
        "--out",
        str(csr),
        pins=[PIN] * 2,
    )
    verified = subprocess.run(
        ["openssl", "req", "-verify", "-noout", "-in", str(csr)], capture_output=True, check=False
    )
    assert verified.returncode == 0
    der = tmp_path / "host.der"
    made = cli.json(
        "certs",
        "request",
        label,
        "--subject",
        "CN=host.bank.example,O=Bank,C=GB",
        "--dns",
        "host.bank.example",
        "--format",
        "der",
        "--out",
        str(der),
        pins=[PIN] * 2,
    )
    assert made["format"] == "der" and der.read_bytes()[0] == 0x30
    assert made["sha256"] == hashlib.sha256(der.read_bytes()).hexdigest().upper()
    verified = subprocess.run(
        ["openssl", "req", "-verify", "-noout", "-inform", "DER", "-in", str(der)],
        capture_output=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    wrong_format = cli.run(
        "certs", "request", label, "--subject", "CN=x", "--format", "p12", "--out", "x.p12"
    )
    assert wrong_format.returncode == 2 and "invalid choice: 'p12'" in wrong_format.stderr
    bad_subject = cli.run(
        "certs",
        "request",
        label,
        "--subject",
        "CN=a, O=b",
        "--out",
        str(tmp_path / "x.csr"),
        pins=[PIN] * 2,
    )
    assert bad_subject.returncode == 2 and not (tmp_path / "x.csr").exists()

    wrong = tmp_path / "wrong.pem"
    wrong.write_bytes(sign(pki, csr, ec.generate_private_key(ec.SECP256R1()).public_key()))
    refused = cli.run("certs", "import", label, str(wrong), "--partner", CA, pins=[PIN] * 2)
    assert refused.returncode == 2 and "Certificate refused" in refused.stderr
    issued = tmp_path / "host.pem"
    issued.write_bytes(sign(pki, csr))
    kept = cli.json("certs", "import", label, str(issued), "--partner", CA, pins=[PIN] * 2)
    assert kept["key"] == label and kept["status"] == "current"
    soon = cli.json("certs", "expiring", "--days", "30", pins=[PIN] * 2)
    assert [c["fingerprint"] for c in soon] == [kept["fingerprint"]]
    assert cli.json("certs", "expiring", "--days", "7", pins=[PIN] * 2) == []
