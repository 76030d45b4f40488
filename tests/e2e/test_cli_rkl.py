"""ATM remote key loading from the command line, in separate processes: vendor profiles of
both styles, host keys made in the HSM, a request the vendor CA (made here) certifies and
public key material the vendor's key (made here) signs, wrong answers refused, and the
bundles for the host HSM opened as a host would, with a KEK whose clear value the test
knows because the custodians typed its components."""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.e2e.test_cli import PIN, Cli
from tests.e2e.test_cli_certificates import sign
from tests.e2e.test_cli_interchange import staffed
from tests.integration.test_interchange import PartnerPki, pem
from workstation.domain import components as comp
from workstation.domain.algorithms import KeyAlgorithm
from workstation.standards import pkix, tr31

pytestmark = [pytest.mark.e2e, pytest.mark.pcsc, pytest.mark.hsm]

TEMPLATE = "ATM RKL host key pair"
HOST = "Host HSM 1"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


def opened(path: Path, kek: bytes) -> tuple[dict[str, Any], dict[str, bytes], Any]:
    """A bundle as the host HSM reads it: manifest hashes checked, the block unwrapped."""
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    manifest = json.loads(files.pop("manifest.json"))
    for entry in manifest["files"]:
        assert hashlib.sha256(files[entry["name"]]).hexdigest().upper() == entry["sha256"]
    assert {e["name"] for e in manifest["files"]} == set(files)
    header, key = tr31.unwrap(kek, files["private-key.tr31"].decode().strip())
    assert (header.key_usage, header.algorithm, header.mode_of_use) == ("S0", "R", "S")
    return manifest, files, serialization.load_der_private_key(key, None)


def test_rkl_from_the_command_line(cli: Cli, virtual_cards: Any, tmp_path: Path) -> None:
    readers = staffed(cli, virtual_cards)
    ca = PartnerPki()
    ca_file = tmp_path / "vendor-ca.pem"
    ca_file.write_bytes(pem(ca.ca))
    signer = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signer_file = tmp_path / "vendor-key.pem"
    signer_file.write_bytes(
        signer.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )

    # Profiles and partners: the partner-management quorum (officer + supervisor).
    readers("Olivia Grant", "Sam Adeyemi")
    admins = [PIN] * 2
    cli.ok(
        "templates",
        "create",
        "Lab KEK",
        "--algorithm",
        "AES-256",
        "--usage",
        "K0",
        "--mode",
        "B",
        "--exportability",
        "E",
        "--period-days",
        "365",
        "--label-pattern",
        "KEK-{seq:03d}",
        pins=admins,
    )
    cli.ok(
        "partners", "add", "Vendor CA", "--kind", "device-vendor", "--ca", str(ca_file), pins=admins
    )
    cli.ok("partners", "add", HOST, "--kind", "host-hsm", pins=admins)
    cert_vendor = cli.json(
        "rkl",
        "vendors",
        "add",
        "Vendor C",
        "--style",
        "certificate",
        "--partner",
        "Vendor CA",
        "--template",
        TEMPLATE,
        pins=admins,
    )
    assert cert_vendor["partner"] == "Vendor CA" and cert_vendor["template"] == TEMPLATE
    sig_vendor = cli.json(
        "rkl",
        "vendors",
        "add",
        "Vendor S",
        "--style",
        "signature",
        "--public-key",
        str(signer_file),
        "--scheme",
        "pkcs1v15",
        "--signed-form",
        "spki",
        "--template",
        TEMPLATE,
        pins=admins,
    )
    assert sig_vendor["signed_form"] == "spki" and len(sig_vendor["vendor_key_sha256"]) == 64
    incomplete = cli.run(
        "rkl",
        "vendors",
        "add",
        "Vendor X",
        "--style",
        "signature",
        "--template",
        TEMPLATE,
        pins=admins,
    )
    assert incomplete.returncode == 2 and "needs its public key" in incomplete.stderr
    listed = cli.json("rkl", "vendors", "list", pins=admins)
    assert [v["name"] for v in listed] == ["Vendor C", "Vendor S"]

    # The KEK shared with the host HSM, typed as two components by the custodians.
    readers("Olivia Grant", "Cara Mendes", "Carl Novak")
    parts = [secrets.token_bytes(32) for _ in range(2)]
    kek_value = bytes(a ^ b for a, b in zip(*parts, strict=True))
    kcv = comp.kcv_hex(comp.check_value(KeyAlgorithm.AES_256, bytearray(kek_value)))
    entered = cli.json(
        "ceremony",
        "enter",
        "--template",
        "Lab KEK",
        "--custodian",
        "Cara Mendes",
        "--custodian",
        "Carl Novak",
        "--sender-kcv",
        kcv,
        pins=[PIN] * 3 + [p.hex().upper() for p in parts],
    )
    kek = entered["key"]
    readers("Cara Mendes", "Sam Adeyemi")
    cli.ok("keys", "activate", kek, pins=[PIN] * 2)

    # Host keys: generation takes two custodians.
    readers("Cara Mendes", "Carl Novak")
    made = cli.json("rkl", "host-key", "create", "Vendor C", pins=[PIN] * 2)
    signed = cli.json("rkl", "host-key", "create", "Vendor S", pins=[PIN] * 2)
    assert made["status"] == "awaiting certificate" and signed["status"] == "awaiting signature"

    # The certificate vendor: request, the CA's certificate, checked and kept.
    readers("Cara Mendes", "Sam Adeyemi")
    certifiers = [PIN] * 2
    csr = tmp_path / "host.csr"
    cli.ok(
        "rkl",
        "request",
        made["key"],
        "--subject",
        "CN=RKL host 1,O=Bank,C=GB",
        "--key-usage",
        "digital_signature",
        "--out",
        str(csr),
        pins=certifiers,
    )
    issued = tmp_path / "host.pem"
    issued.write_bytes(sign(ca, csr))
    wrong_style = cli.run(
        "rkl", "material", made["key"], "--out", str(tmp_path / "m.der"), pins=certifiers
    )
    assert wrong_style.returncode == 2 and "certificate vendor" in wrong_style.stderr
    kept = cli.json("rkl", "import-certificate", made["key"], str(issued), pins=certifiers)
    assert kept["status"] == "ready" and kept["certificate"]["subject"].startswith("CN=RKL host 1")

    # The signature vendor: the material, a wrong signature refused, the right one kept.
    material_file = tmp_path / "host-spki.der"
    material = cli.json(
        "rkl", "material", signed["key"], "--out", str(material_file), pins=certifiers
    )
    assert material["signed_form"] == "spki" and material["bytes"] == len(
        material_file.read_bytes()
    )
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = tmp_path / "forged.sig"
    forged.write_bytes(
        stranger.sign(material_file.read_bytes(), padding.PKCS1v15(), hashes.SHA256())
    )
    refused = cli.run("rkl", "import-signature", signed["key"], str(forged), pins=certifiers)
    assert refused.returncode == 2 and "does not verify with Vendor S" in refused.stderr
    good = tmp_path / "host.sig.hex"  # the vendor's portal gives hexadecimal text
    good.write_text(
        signer.sign(material_file.read_bytes(), padding.PKCS1v15(), hashes.SHA256()).hex() + "\n"
    )
    ready = cli.json("rkl", "import-signature", signed["key"], str(good), pins=certifiers)
    assert ready["status"] == "ready" and ready["signed_form"] == "spki"

    # The bundles: the export quorum (two custodians + a supervisor).
    readers("Cara Mendes", "Carl Novak", "Sam Adeyemi")
    exporters = [PIN] * 3
    out = tmp_path / "cert-bundle.zip"
    bundle = cli.json(
        "rkl",
        "bundle",
        made["key"],
        "--kek",
        kek,
        "--partner",
        HOST,
        "--out",
        str(out),
        pins=exporters,
    )
    assert bundle["format"] == "TR-31 D" and bundle["kek_kcv"] == kcv
    assert hashlib.sha256(out.read_bytes()).hexdigest().upper() == bundle["sha256"]
    manifest, files, private = opened(out, kek_value)
    leaf = pkix.read_certificates(files["certificate-chain.pem"])[0]
    assert leaf == pkix.read_certificates(issued.read_bytes())[0]
    assert x509.load_der_x509_certificate(leaf).public_key().public_numbers() == (
        private.public_key().public_numbers()
    )
    assert manifest["key"]["label"] == made["key"] and manifest["host_partner"] == HOST
    again = cli.run(
        "rkl",
        "bundle",
        made["key"],
        "--kek",
        kek,
        "--partner",
        HOST,
        "--out",
        str(out),
        pins=exporters,
    )
    assert again.returncode == 2 and "exists" in again.stderr

    out2 = tmp_path / "sig-bundle.zip"
    cli.ok(
        "rkl",
        "bundle",
        signed["key"],
        "--kek",
        kek,
        "--partner",
        HOST,
        "--out",
        str(out2),
        pins=exporters,
    )
    manifest, files, private = opened(out2, kek_value)
    assert files["signed-material.der"] == private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signer.public_key().verify(
        files["vendor-signature.bin"],
        files["signed-material.der"],
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    assert manifest["signature"]["vendor_key_sha256"] == sig_vendor["vendor_key_sha256"]

    # Too few people for the export: refused by policy, nothing written.
    readers("Cara Mendes", "Sam Adeyemi")
    short = cli.run(
        "rkl",
        "bundle",
        signed["key"],
        "--kek",
        kek,
        "--partner",
        HOST,
        "--out",
        str(tmp_path / "x.zip"),
        pins=certifiers,
    )
    assert short.returncode == 3 and not (tmp_path / "x.zip").exists()

    listed_keys = cli.json("rkl", "list", pins=[PIN] * 2)
    assert {(h["key"], h["status"]) for h in listed_keys} == {
        (made["key"], "ready"),
        (signed["key"], "ready"),
    }
    readers("Olivia Grant")
    entries = cli.json("audit", "show", "--action", "key.export", "--limit", "10", pins=[PIN])
    assert {e["details"]["format"] for e in entries} == {"RKL bundle (TR-31 D)"}
