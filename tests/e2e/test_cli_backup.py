"""Repository backups from the command line, in separate processes: back the master key up
as shares, make a signed, encrypted repository backup, verify it where it was made and on
another workstation (against the audit key's fingerprint), refuse a changed file, and
recover a fresh workstation from it with two share holders (shares typed on standard
input)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import PIN, Cli

pytestmark = [pytest.mark.e2e, pytest.mark.pcsc, pytest.mark.hsm]

OFFICERS = ("Olivia Grant", "Oscar Lindqvist")
OTHERS = {
    "Cara Mendes": "key_custodian",
    "Carl Novak": "key_custodian",
    "Chen Wei": "key_custodian",
    "Sam Okafor": "supervisor",
}


def share_of(pdf: Path) -> str:
    """The share printed on a mailer's inner part (32 bytes: 64 hex digits in groups)."""
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    inner = text[text.index("VALUE:") : text.index("Check value (KCV)")].split("\n", 1)[1]
    digits = "".join(re.findall(r"\b[0-9A-F]{4}\b", inner))[:64]
    assert len(digits) == 64
    return " ".join(digits[i : i + 4] for i in range(0, 64, 4))


def test_backup_verify_and_recover_from_the_command_line(
    virtual_cards: Any, tmp_path: Path
) -> None:
    cli = Cli(tmp_path / "home")
    cards = {n: virtual_cards.issue(n, PIN) for n in (*OFFICERS, *OTHERS)}
    virtual_cards.insert(cards[OFFICERS[0]], 0)
    virtual_cards.insert(cards[OFFICERS[1]], 1)
    cli.ok("init", "--officer", OFFICERS[0], "--officer", OFFICERS[1], pins=[PIN, PIN])
    for name, role in OTHERS.items():
        virtual_cards.insert(cards[name], 5)
        cli.ok(
            "people", "enrol", "--name", name, "--role", role, "--card-reader", "5",
            pins=[PIN] * 3,
        )  # fmt: skip
        virtual_cards.remove(5)
    virtual_cards.remove(1)
    for slot, name in enumerate(("Sam Okafor", "Cara Mendes", "Carl Novak", "Chen Wei"), 1):
        virtual_cards.insert(cards[name], slot)
    paper = tmp_path / "paper"
    paper.mkdir()
    master = cli.json(
        "master-key", "backup", "--holder", "Cara Mendes", "--holder", "Carl Novak",
        "--holder", "Chen Wei", "--threshold", "2", "--out", str(paper),
        pins=[PIN] * 5,
    )  # fmt: skip
    shares = [share_of(Path(f)) for f in master["files"]]
    for slot in (1, 2, 3, 4):
        virtual_cards.remove(slot)

    backup = tmp_path / "repository.kcwbackup"
    made = cli.json("repository", "backup", str(backup), pins=[PIN])
    assert made["file"] == str(backup) and made["warnings"] == []
    assert made["counts"]["people"] == 6
    fingerprint = made["audit_key_fingerprint"]
    virtual_cards.remove(0)

    # Where it was made: everything checked, no logon.
    here = cli.json("repository", "verify-backup", str(backup))
    assert here["verified"] is True and here["backup_id"] == made["backup_id"]
    assert {c["name"]: c["status"] for c in here["checks"]}["counts"] == "passed"

    # A changed byte: refused (exit 5), naming the check that failed.
    changed = bytearray(backup.read_bytes())
    changed[len(changed) // 2] ^= 0x01
    tampered = tmp_path / "tampered.kcwbackup"
    tampered.write_bytes(bytes(changed))
    refused = cli.run("repository", "verify-backup", str(tampered))
    assert refused.returncode == 5 and "FAILED: signature" in refused.stdout

    # Another workstation (an auditor's): the signature, against the fingerprint.
    other = Cli(tmp_path / "other-home")
    alone = other.run("repository", "verify-backup", str(backup))
    assert alone.returncode == 5 and "NOT VERIFIED" in alone.stdout
    audited = other.json(
        "repository", "verify-backup", str(backup), "--audit-key-fingerprint", fingerprint
    )
    checks = {c["name"]: c["status"] for c in audited["checks"]}
    assert audited["verified"] is True and checks["decryption"] == "not possible"
    wrong = other.run(
        "repository", "verify-backup", str(backup), "--audit-key-fingerprint", "00" * 32
    )
    assert wrong.returncode == 5 and "FAILED: signer" in wrong.stdout

    # Recovery on that fresh workstation: one holder is refused, two recover it.
    virtual_cards.insert(cards["Cara Mendes"], 0)
    virtual_cards.insert(cards["Chen Wei"], 1)
    one = other.run(
        "recover", "--backup", str(backup), "--share", "Cara Mendes@0",
        pins=[PIN, shares[0]],
    )  # fmt: skip
    assert one.returncode == 3 and "2 shares are needed" in one.stderr
    assert other.json("status")["initialised"] is False
    recovered = other.json(
        "recover", "--backup", str(backup), "--share", "Cara Mendes@0",
        "--share", "Chen Wei@1", pins=[PIN, shares[0], PIN, shares[2]],
    )  # fmt: skip
    assert recovered["backup_id"] == made["backup_id"]
    assert recovered["holders"] == ["Cara Mendes", "Chen Wei"]
    virtual_cards.remove(0)
    virtual_cards.remove(1)
    status = other.json("status")
    assert status["initialised"] is True and status["people"] == 6
    twin = json.loads(other.ok("--json", "repository", "verify-backup", str(backup)))
    assert twin["verified"] is True and twin["trusted_key"] == "this workstation's audit key"
