"""``workstation-cli`` end to end: separate processes, a fresh home with its own SoftHSM2
token provisioned on first run, virtual PIV cards through pcscd."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.pcsc, pytest.mark.hsm]

BIN = Path(sys.executable).parent
PIN = "123456"


class Cli:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}

    def run(self, *args: str, pins: list[str] | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [str(BIN / "workstation-cli"), "--home", str(self.home)]
        if pins is not None:
            cmd.append("--pin-stdin")
        cmd += list(args)
        return subprocess.run(
            cmd,
            input="".join(p + "\n" for p in (pins or [])),
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )

    def ok(self, *args: str, pins: list[str] | None = None) -> str:
        result = self.run(*args, pins=pins)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def json(self, *args: str, pins: list[str] | None = None) -> Any:
        return json.loads(self.ok("--json", *args, pins=pins))


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


def test_the_whole_path_from_the_command_line(cli: Cli, virtual_cards: Any, tmp_path: Path):
    cards = {
        n: virtual_cards.issue(n, PIN)
        for n in (
            "Olivia Grant",
            "Oscar Lindqvist",
            "Cara Mendes",
            "Carl Novak",
            "Sam Okafor",
            "Alex Moreau",
        )
    }
    status = cli.json("status")
    assert status["initialised"] is False
    assert status["hsm"]["token"] == "KCW"  # the embedded SoftHSM2 token, provisioned

    # Initialise with the two officers' cards.
    virtual_cards.insert(cards["Olivia Grant"], 0)
    virtual_cards.insert(cards["Oscar Lindqvist"], 1)
    out = cli.ok(
        "init", "--officer", "Olivia Grant", "--officer", "Oscar Lindqvist", pins=[PIN, PIN]
    )
    assert "initialised" in out
    again = cli.run("init", "--officer", "A", "--officer", "B", pins=[PIN, PIN])
    assert again.returncode == 2 and "already initialised" in again.stderr

    # Enrol people: the new card goes into reader 5; the officers' cards log on.
    for name, role in (
        ("Cara Mendes", "key_custodian"),
        ("Carl Novak", "key_custodian"),
        ("Sam Okafor", "supervisor"),
        ("Alex Moreau", "auditor"),
    ):
        virtual_cards.insert(cards[name], 5)
        cli.ok(
            "people",
            "enrol",
            "--name",
            name,
            "--role",
            role,
            "--card-reader",
            "5",
            pins=[PIN, PIN, PIN],
        )
        virtual_cards.remove(5)
    people = cli.json("people", "list", pins=[PIN, PIN])
    assert {p["name"] for p in people} >= {"Cara Mendes", "Alex Moreau"}
    virtual_cards.remove(0)
    virtual_cards.remove(1)

    # One custodian is not a quorum: refused by policy (3), nothing generated.
    virtual_cards.insert(cards["Cara Mendes"], 0)
    refused = cli.run("keys", "generate", "--template", "PIN encryption key", pins=[PIN])
    assert refused.returncode == 3, refused.stderr
    assert "2 key custodians" in refused.stderr

    # A wrong PIN: authentication refused (4), with the tries left.
    wrong = cli.run("keys", "list", pins=["999999"])
    assert wrong.returncode == 4 and "2 tries left" in wrong.stderr

    # Two custodians: generated.
    virtual_cards.insert(cards["Carl Novak"], 1)
    made = cli.json(
        "keys", "generate", "--template", "PIN encryption key", "--count", "3", pins=[PIN, PIN]
    )
    labels = [k["label"] for k in made["generated"]]
    assert len(labels) == 3 and all("wrapped" not in k for k in made["generated"])
    bad = cli.run("keys", "generate", "--template", "No such template", pins=[PIN, PIN])
    assert bad.returncode == 2 and "No template named" in bad.stderr
    listed = cli.json("keys", "list", "--usage", "P0", pins=[PIN, PIN])
    assert listed["total"] == 3

    # Activation: a custodian and a supervisor.
    virtual_cards.remove(1)
    virtual_cards.insert(cards["Sam Okafor"], 1)
    cli.ok("keys", "activate", labels[0], pins=[PIN, PIN])
    invalid = cli.run("keys", "activate", labels[0], pins=[PIN, PIN])
    assert invalid.returncode == 2 and "is active; it cannot become active" in invalid.stderr
    shown = cli.json("keys", "show", labels[0], pins=[PIN, PIN])
    assert shown["key"]["state"] == "active" and shown["integrity_ok"] is True
    assert [h["to_state"] for h in shown["history"]] == ["pre-activation", "active"]
    virtual_cards.remove(0)
    virtual_cards.remove(1)

    # The auditor verifies and exports; the standalone verifier checks the export.
    virtual_cards.insert(cards["Alex Moreau"], 0)
    report = cli.json("audit", "verify", pins=[PIN])
    assert report["ok"] is True
    export = tmp_path / "audit.jsonl"
    cli.ok("audit", "export", str(export), pins=[PIN])
    verifier = subprocess.run(
        [
            str(BIN / "workstation-audit-verify"),
            str(export),
            "--public-key",
            str(export) + ".pub.pem",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verifier.returncode == 0, verifier.stdout + verifier.stderr

    # Someone edits the log in the database: verification names the entry (exit 5).
    con = sqlite3.connect(cli.home / "workstation.db")
    con.execute("DROP TRIGGER audit_entries_append_only_update")
    seq = con.execute(
        "SELECT min(seq) FROM audit_entries WHERE body LIKE '%key.activate%'"
    ).fetchone()[0]
    con.execute(
        "UPDATE audit_entries SET body = replace(body, 'Sam Okafor', 'Mallory') WHERE seq = ?",
        (seq,),
    )
    con.commit()
    con.close()
    tampered = cli.run("audit", "verify", pins=[PIN])
    assert tampered.returncode == 5
    assert f"entry {seq}" in tampered.stdout + tampered.stderr


def test_status_and_readers_need_no_logon(cli: Cli, virtual_cards: Any):
    card = virtual_cards.issue("Nobody", PIN)
    virtual_cards.insert(card, 2)
    out = cli.ok("readers")
    assert "KCW Virtual Reader" in out and "card" in out
    usage = cli.run("keys", "list", "--limit", "many")
    assert usage.returncode == 2
