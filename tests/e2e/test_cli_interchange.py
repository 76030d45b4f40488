"""Exchanges from the command line, in separate processes: a partner, a KEK, a key sent as a
TR-31 block and received back, DUKPT initial keys for a batch of devices, the test tool,
and bad input that changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import PIN, Cli
from workstation.services.interchange import certificate_der
from workstation.standards import tr34

pytestmark = [pytest.mark.e2e, pytest.mark.pcsc, pytest.mark.hsm]

PARTNER = "Bank 042"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


def staffed(cli: Cli, virtual_cards: Any) -> Callable[..., None]:
    """An initialised workstation with two officers, two custodians and a supervisor;
    returns a function that puts the named people's cards in readers 0, 1, ..."""
    names = ("Olivia Grant", "Oscar Lindqvist", "Cara Mendes", "Carl Novak", "Sam Adeyemi")
    cards = {n: virtual_cards.issue(n, PIN) for n in names}

    def readers(*who: str) -> None:
        virtual_cards.remove_all()
        for i, name in enumerate(who):
            virtual_cards.insert(cards[name], i)

    readers("Olivia Grant", "Oscar Lindqvist")
    cli.ok("init", "--officer", "Olivia Grant", "--officer", "Oscar Lindqvist", pins=[PIN, PIN])
    for name, role in (
        ("Cara Mendes", "key_custodian"),
        ("Carl Novak", "key_custodian"),
        ("Sam Adeyemi", "supervisor"),
    ):
        virtual_cards.insert(cards[name], 5)
        cli.ok(
            "people", "enrol", "--name", name, "--role", role, "--card-reader", "5", pins=[PIN] * 3
        )
        virtual_cards.remove(5)
    return readers


def test_exchanges_from_the_command_line(cli: Cli, virtual_cards: Any, tmp_path: Path) -> None:
    readers = staffed(cli, virtual_cards)
    readers("Olivia Grant", "Sam Adeyemi")
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
        pins=[PIN] * 2,
    )
    cli.ok("partners", "add", PARTNER, "--kind", "bank", "--notes", "lab", pins=[PIN] * 2)
    bad_kind = cli.run("partners", "add", "Other", "--kind", "planet", pins=[PIN] * 2)
    assert bad_kind.returncode == 2
    krd = tmp_path / "krd.pem"
    published = cli.json(
        "exchange",
        "certificate",
        "tr34-krd",
        "--out",
        str(krd),
        "--ca-out",
        str(tmp_path / "kcw-ca.pem"),
        "--credential-token",
        str(tmp_path / "krd.p7b"),
        pins=[PIN] * 2,
    )
    assert len(published["files"]) == 3 and krd.read_text().startswith("-----BEGIN CERTIFICATE")
    assert tr34.read_credential_token((tmp_path / "krd.p7b").read_bytes()) == certificate_der(
        krd.read_text(), "KRD"
    )

    readers("Cara Mendes", "Carl Novak")
    kek = cli.json("keys", "generate", "--template", "Lab KEK", pins=[PIN] * 2)["generated"][0]
    pek = cli.json("keys", "generate", "--template", "PIN encryption key", pins=[PIN] * 2)[
        "generated"
    ][0]
    bdk = cli.json(
        "keys", "generate", "--template", "AES base derivation key (test)", pins=[PIN] * 2
    )["generated"][0]
    readers("Cara Mendes", "Sam Adeyemi")
    cli.ok("keys", "activate", kek["label"], pins=[PIN] * 2)
    cli.ok("keys", "activate", bdk["label"], pins=[PIN] * 2)

    # Export: the export quorum (2 custodians + 1 supervisor); the block goes to a new file.
    readers("Cara Mendes", "Carl Novak", "Sam Adeyemi")
    block_file = tmp_path / "pek.tr31"
    sent = cli.json(
        "tr31",
        "export",
        pek["label"],
        "--kek",
        kek["label"],
        "--partner",
        PARTNER,
        "--out",
        str(block_file),
        pins=[PIN] * 3,
    )
    assert sent["kcv"] == pek["kcv"] and sent["format"] == "TR-31 D"
    assert block_file.read_text().startswith("D") and sent["file"] == str(block_file)
    again = cli.run(
        "tr31",
        "export",
        pek["label"],
        "--kek",
        kek["label"],
        "--partner",
        PARTNER,
        "--out",
        str(block_file),
        pins=[PIN] * 3,
    )
    assert again.returncode == 2 and "exists" in again.stderr
    # Too few people: refused by policy (exit 3).
    readers("Cara Mendes", "Carl Novak")
    short = cli.run(
        "tr31", "export", pek["label"], "--kek", kek["label"], "--partner", PARTNER, pins=[PIN] * 2
    )
    assert short.returncode == 3

    # Import: the header maps to the template; the same key is already here, so a warning.
    info = cli.json("tr31", "inspect", str(block_file), pins=[PIN] * 2)
    assert info["key_usage"] == "P0" and "PIN encryption key" in info["templates"]
    got = cli.json(
        "tr31",
        "import",
        str(block_file),
        "--kek",
        kek["label"],
        "--partner",
        PARTNER,
        "--kcv",
        pek["kcv"][:6],
        pins=[PIN] * 2,
    )
    assert got["kcv"] == pek["kcv"] and got["state"] == "pre-activation"
    assert any("same check value" in w for w in got["warnings"])
    broken = tmp_path / "broken.tr31"
    text = block_file.read_text().strip()
    broken.write_text(text[:-2] + ("00" if not text.endswith("00") else "11"))
    bad = cli.run(
        "tr31", "import", str(broken), "--kek", kek["label"], "--partner", PARTNER, pins=[PIN] * 2
    )
    assert bad.returncode == 2 and "Key block refused" in bad.stderr

    # DUKPT: initial keys of 5 consecutive devices, one CSV; the test tool on the test BDK.
    readers("Cara Mendes", "Carl Novak", "Sam Adeyemi")
    csv = tmp_path / "ipeks.csv"
    job = cli.json(
        "dukpt",
        "export-initial-keys",
        bdk["label"],
        "--kek",
        kek["label"],
        "--partner",
        PARTNER,
        "--first-ksn",
        "1234567890123456",
        "--count",
        "5",
        "--out",
        str(csv),
        pins=[PIN] * 3,
    )
    lines = csv.read_text().splitlines()
    assert job["devices"] == 5 and len(lines) == 6 and lines[0].startswith("ksn,")
    assert (
        lines[1].split(",")[1] == "1234567890123456"
        and lines[5].split(",")[1] == "123456789012345A"
    )
    readers("Cara Mendes")
    keys = cli.json(
        "dukpt", "test-keys", bdk["label"], "--ksn", "123456789012345600000001", pins=[PIN]
    )
    assert len(keys["transaction_key"]) == 32 and "pin encryption" in keys["working_keys"]
    no_ksn = cli.run("dukpt", "test-keys", bdk["label"], "--ksn", "12345", pins=[PIN])
    assert no_ksn.returncode == 2 and "hexadecimal digits" in no_ksn.stderr

    # Every exchange is in the audit log with the partner.
    readers("Olivia Grant")
    entries = cli.json("audit", "show", "--action", "key.", "--limit", "50", pins=[PIN])
    exports = [e for e in entries if e["action"] == "key.export"]
    imports = [e for e in entries if e["action"] == "key.import"]
    assert exports and exports[0]["details"]["partner"] == PARTNER
    assert imports and imports[0]["details"]["format"] == "TR-31 D"
    verified = cli.run("audit", "verify", pins=[PIN])
    assert verified.returncode == 0
