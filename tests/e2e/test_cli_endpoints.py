"""TLS endpoints and key stores from the command line, in separate processes: a key pair
certified by a lab CA leaves as a PKCS #12 (password from a file) and a PEM bundle
(password typed), a loopback server runs with it, and discovery finds that server, another
one and a closed port, enrols what it reached, lists, refreshes and removes it; bad input
and too few people change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.e2e.test_cli import PIN, Cli
from tests.e2e.test_cli_interchange import staffed
from tests.integration.test_interchange import PartnerPki, pem
from tests.tls_servers import TestPki, TlsServer, closed_port

pytestmark = [pytest.mark.e2e, pytest.mark.pcsc, pytest.mark.hsm]

CA = "Lab CA"
PASSWORD = "battery staple correct horse"
OWNER = "web-ops@bank.example"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


def signed(pki: PartnerPki, csr_path: Path) -> bytes:
    csr = x509.load_pem_x509_csr(csr_path.read_bytes())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(pki.ca.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=60))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(pki.ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_tls_endpoints_and_key_stores_from_the_command_line(
    cli: Cli, virtual_cards: Any, tmp_path: Path
) -> None:
    readers = staffed(cli, virtual_cards)
    pki = PartnerPki()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(pem(pki.ca))
    readers("Olivia Grant", "Sam Adeyemi")
    cli.ok("partners", "add", CA, "--kind", "other", "--ca", str(ca_file), pins=[PIN] * 2)
    readers("Cara Mendes", "Carl Novak")
    label = cli.json("keys", "generate", "--template", "TLS server key pair", pins=[PIN] * 2)[
        "generated"
    ][0]["label"]
    readers("Cara Mendes", "Sam Adeyemi")
    cli.ok("keys", "activate", label, pins=[PIN] * 2)
    csr = tmp_path / "pay.csr"
    cli.ok(
        "certs",
        "request",
        label,
        "--subject",
        "CN=pay.bank.example,O=Bank,C=GB",
        "--dns",
        "pay.bank.example",
        "--out",
        str(csr),
        pins=[PIN] * 2,
    )
    issued = tmp_path / "pay.pem"
    issued.write_bytes(signed(pki, csr))
    cli.ok("certs", "import", label, str(issued), "--partner", CA, pins=[PIN] * 2)
    cert = x509.load_pem_x509_certificate(issued.read_bytes())

    # Key stores: the export quorum (2 custodians + 1 supervisor), a new file each time.
    readers("Cara Mendes", "Carl Novak", "Sam Adeyemi")
    secret = tmp_path / "password.txt"
    secret.write_text(PASSWORD + "\n")
    p12 = tmp_path / "pay.p12"
    out = cli.json(
        "certs-keystore",
        label,
        "--format",
        "pkcs12",
        "--out",
        str(p12),
        "--password-file",
        str(secret),
        pins=[PIN] * 3,
    )
    assert out["file"] == str(p12) and out["format"] == "pkcs12"
    store = pkcs12.load_pkcs12(p12.read_bytes(), PASSWORD.encode())
    assert store.cert is not None and store.cert.certificate == cert and store.key is not None
    again = cli.run(
        "certs-keystore",
        label,
        "--format",
        "pem",
        "--out",
        str(p12),
        "--password-file",
        str(secret),
        pins=[PIN] * 3,
    )
    assert again.returncode == 2 and "exists" in again.stderr
    bundle = tmp_path / "pay-bundle.pem"
    typed = cli.run(
        "certs-keystore",
        label,
        "--format",
        "pem",
        "--out",
        str(bundle),
        pins=[PASSWORD, PIN, PIN, PIN],  # the password first, then the PINs
    )
    assert typed.returncode == 0, typed.stderr
    private = serialization.load_pem_private_key(bundle.read_bytes(), PASSWORD.encode())
    assert x509.load_pem_x509_certificates(bundle.read_bytes()) == [cert]
    assert private.public_key() == cert.public_key()
    short = tmp_path / "short.pem"
    weak = cli.run(
        "certs-keystore", label, "--format", "pem", "--out", str(short), pins=["too short"]
    )
    assert weak.returncode == 2 and "at least 12" in weak.stderr and not short.exists()
    readers("Cara Mendes", "Sam Adeyemi")
    few = cli.run(
        "certs-keystore",
        label,
        "--format",
        "pkcs12",
        "--out",
        str(short),
        "--password-file",
        str(secret),
        pins=[PIN] * 2,
    )
    assert few.returncode == 3 and not short.exists()

    # Discovery of the server running with that key store, another one and a closed port.
    lab = TestPki()
    other, other_key = lab.server("portal.bank.example")
    targets = tmp_path / "targets.txt"
    readers("Olivia Grant", "Sam Adeyemi")
    bad = cli.run("tls", "discover", "pay.bank.example:99999", pins=[PIN] * 2)
    assert bad.returncode == 2 and "from 1 to 65535" in bad.stderr
    with (
        TlsServer([cert], store.key, tmp_path) as pay,
        TlsServer([other, lab.intermediate], other_key, tmp_path) as portal,
        closed_port() as closed,
    ):
        targets.write_text(
            f"# the lab's servers\nlocalhost:{pay.port} pay.bank.example\n{portal.target}\n"
        )
        found = cli.run(
            "--json",
            "tls",
            "discover",
            f"127.0.0.1:{closed}",
            "--file",
            str(targets),
            "--enrol",
            "--owner",
            OWNER,
            pins=[PIN] * 2,
        )
        assert found.returncode == 1, found.stderr  # one target was not reached
        report = json.loads(found.stdout)
        results = {r["target"]: r for r in report["results"]}
        assert results[f"127.0.0.1:{closed}"]["reached"] is False
        assert "refused" in results[f"127.0.0.1:{closed}"]["error"]
        ours = results[f"localhost:{pay.port}"]
        assert ours["key"] == label and ours["server_name"] == "pay.bank.example"
        assert ours["subject"] == cert.subject.rfc4514_string() and ours["days_left"] == 60
        assert results[portal.target]["chain_length"] == 2 and results[portal.target]["key"] is None
        assert sorted(report["enrolled"]) == sorted([f"localhost:{pay.port}", portal.target])
        assert pay.server_names == ["pay.bank.example"]

        listed = cli.json("tls", "list", pins=[PIN] * 2)
        assert [e["target"] for e in listed] == [f"localhost:{pay.port}", portal.target]
        assert listed[0]["owners"] == [OWNER] and listed[0]["key"] == label
        human = cli.ok("tls", "list", pins=[PIN] * 2)
        assert label in human and OWNER in human

        refreshed = cli.run("tls", "refresh", pins=[PIN] * 2)
        assert refreshed.returncode == 0, refreshed.stderr
        assert "2 endpoints: 2 reached, 0 with a new certificate, 0 not reached" in (
            refreshed.stdout
        )
        portal_target = portal.target
    after = cli.run("tls", "refresh", "--timeout", "2", pins=[PIN] * 2)
    assert after.returncode == 1
    assert "2 endpoints: 0 reached" in after.stdout and "refused" in after.stdout

    # Too few people to enrol or remove: refused by policy, nothing changed.
    readers("Cara Mendes")
    refused = cli.run("tls", "remove", portal_target, pins=[PIN])
    assert refused.returncode == 3
    readers("Olivia Grant")
    removed = cli.json("tls", "remove", portal_target, pins=[PIN])
    assert removed["removed"] == portal_target
    missing = cli.run("tls", "remove", portal_target, pins=[PIN])
    assert missing.returncode == 2 and "No enrolled endpoint" in missing.stderr
    assert [e["target"] for e in cli.json("tls", "list", pins=[PIN])] == [f"localhost:{pay.port}"]
