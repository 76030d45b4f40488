"""EMV issuer keys from the command line, in separate processes: a brand and its CA key from
a file as brands list them (a mistyped check sum refused), issuer keys for three BINs from
a list in one job, the request to the brand (its proof of possession verifies), the brand's
certificate checked and kept, and a certificate for the wrong BIN refused, nothing kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.test_cli import PIN, Cli
from tests.e2e.test_cli_interchange import staffed
from workstation.domain.emv_keys import read_request_file
from workstation.standards import emv

pytestmark = [pytest.mark.e2e, pytest.mark.pcsc, pytest.mark.hsm]

BRAND = "Lab Brand"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


def ca_key_file(public: emv.CaPublicKey, check_sum: bytes) -> str:
    """A CA key as a brand lists it: the modulus in groups over several lines."""
    modulus = f"{public.modulus:X}"
    lines = [modulus[i : i + 64] for i in range(0, len(modulus), 64)]
    groups = "\n         ".join(" ".join(x[j : j + 8] for j in range(0, len(x), 8)) for x in lines)
    return (
        "# Lab Brand test CA public keys\n"
        f"RID: {public.rid.hex().upper()}\n"
        f"Index: {public.index:02X}\n"
        f"Modulus: {groups}\n"
        "Exponent: 03\n"
        "Expiry date: 2035-12-31\n"
        f"Check sum: {check_sum.hex().upper()}\n"
    )


def test_emv_issuer_keys_from_the_command_line(
    cli: Cli, virtual_cards: Any, tmp_path: Path
) -> None:
    readers = staffed(cli, virtual_cards)
    ca_private = rsa.generate_private_key(public_exponent=3, key_size=1984)  # noqa: S505
    public = emv.CaPublicKey(
        rid=bytes.fromhex("A000000999"),
        index=0x92,
        modulus=ca_private.public_key().public_numbers().n,
        exponent=3,
    )
    readers("Olivia Grant", "Sam Adeyemi")
    cli.ok("partners", "add", BRAND, "--kind", "brand", pins=[PIN] * 2)
    mistyped = tmp_path / "ca-mistyped.txt"
    mistyped.write_text(ca_key_file(public, bytes(20)))
    refused = cli.run("emv", "ca-keys", "add", BRAND, "--file", str(mistyped), pins=[PIN] * 2)
    assert refused.returncode == 2 and "a field was mistyped or altered" in refused.stderr
    published = tmp_path / "ca.txt"
    published.write_text(ca_key_file(public, public.check_sum()))
    added = cli.json("emv", "ca-keys", "add", BRAND, "--file", str(published), pins=[PIN] * 2)
    assert [(k["id"], k["modulus_bits"]) for k in added] == [("A000000999-92", 1984)]
    listed = cli.json("emv", "ca-keys", "list", pins=[PIN] * 2)
    assert [k["check_sum"] for k in listed] == [public.check_sum().hex().upper()]

    # Three BINs in one job: the generation quorum (two custodians) once.
    bins = tmp_path / "bins.txt"
    bins.write_text("# debit\n400000\n40000012\n")
    readers("Cara Mendes", "Carl Novak")
    bad = cli.run("emv", "issuer-keys", "create", "--brand", BRAND, "--bin", "4000", pins=[PIN] * 2)
    assert bad.returncode == 2 and "BIN '4000' is not 6 or 8 digits" in bad.stderr
    job = cli.json(
        "emv",
        "issuer-keys",
        "create",
        "--brand",
        BRAND,
        "--bins-file",
        str(bins),
        "--bin",
        "510000",
        pins=[PIN] * 2,
    )
    # The --bin BINs first, then the file's.
    assert [s["bin"] for s in job["made"]] == ["510000", "400000", "40000012"]
    assert job["not_made"] == [] and job["stopped"] is None
    first = job["made"][1]
    assert first["key_pair"].startswith("EMV-ISS-400000-") and first["modulus_bits"] == 1984
    assert [m["usage"] for m in first["master_keys"]] == ["E0", "E2", "E1"]
    again = cli.run(
        "emv", "issuer-keys", "create", "--brand", BRAND, "--bin", "510000", pins=[PIN] * 2
    )
    assert again.returncode == 2 and "BIN 510000 already has an issuer key set" in again.stderr

    # The request, under the certificate quorum (custodian and supervisor).
    readers("Cara Mendes", "Sam Adeyemi")
    out = tmp_path / "400000-request.json"
    made = cli.json(
        "emv",
        "request",
        "400000",
        "--ca-index",
        "92",
        "--expiry",
        "12/29",
        "--out",
        str(out),
        pins=[PIN] * 2,
    )
    read = read_request_file(out.read_bytes())
    assert made["sha256"] == read.sha256 and read.body["bin"] == "400000"
    assert json.loads(out.read_text())["proof_of_possession"]["algorithm"] == (
        "RSASSA-PKCS1-v1_5-SHA-256"
    )

    # The brand's answer: a certificate for the wrong BIN is refused, the right one kept.
    def answer(identifier: str) -> tuple[Path, str]:
        certificate, remainder = emv.issue_issuer_certificate(
            ca_private=ca_private,
            issuer_modulus=read.request.modulus,
            issuer_exponent=65537,
            issuer_identifier=identifier,
            expiry="1229",
            serial=bytes.fromhex("000777"),
        )
        path = tmp_path / f"{identifier}.cert.hex"
        path.write_text(certificate.hex().upper() + "\n")
        return path, remainder.hex()

    wrong, rest = answer("400001")
    refused = cli.run(
        "emv", "import", "400000", str(wrong), "--ca-index", "92", "--remainder", rest,
        pins=[PIN] * 2,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "names issuer identifier 400001, not BIN 400000" in refused.stderr
    right, rest = answer("400000")
    kept = cli.json(
        "emv", "import", "400000", str(right), "--ca-index", "92", "--remainder", rest,
        pins=[PIN] * 2,
    )  # fmt: skip
    assert kept["status"] == "certified" and kept["certificate"]["serial"] == "000777"
    assert kept["certificate"]["expires"] == "2029-12-31"
    listed_sets = cli.json("emv", "list", pins=[PIN] * 2)
    assert {s["bin"]: s["status"] for s in listed_sets} == {
        "400000": "certified",
        "40000012": "generated",
        "510000": "generated",
    }
    assert listed_sets[0]["bin"] == "400000"  # certified first (by expiry), then the others
    readers("Olivia Grant")
    audit = cli.ok("audit", "show", "--action", "emv.", pins=[PIN])
    assert "emv.certificate.refused" in audit and "emv.certificate.import" in audit
