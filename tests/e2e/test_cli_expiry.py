"""Expiry monitoring from the command line, in separate processes: windows and owners under
the monitoring quorum, the task list, an unattended alert run (no card in any reader) to an
SMTP server on loopback, sent once; a refused recipient reported with exit code 1; the
calendar written to a new file; bad input changing nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import PIN, Cli
from tests.e2e.test_cli_interchange import staffed
from tests.smtp_server import LoopbackSmtp
from workstation.domain.icalendar import unfold

pytestmark = [pytest.mark.e2e, pytest.mark.pcsc, pytest.mark.hsm]

PEK_TEAM = "pek-team@bank.example"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


def test_expiry_from_the_command_line(cli: Cli, virtual_cards: Any, tmp_path: Path) -> None:
    readers = staffed(cli, virtual_cards)
    readers("Olivia Grant", "Sam Adeyemi")
    cli.ok(
        "templates",
        "create",
        "Lab PEK",
        "--algorithm",
        "AES-128",
        "--usage",
        "P0",
        "--mode",
        "E",
        "--exportability",
        "E",
        "--period-days",
        "20",
        "--label-pattern",
        "LPEK-{seq:03d}",
        pins=[PIN] * 2,
    )
    readers("Cara Mendes", "Carl Novak")
    key = cli.json("keys", "generate", "--template", "Lab PEK", pins=[PIN] * 2)["generated"][0]

    # No relay configured: bad input naming the section, nothing sent.
    virtual_cards.remove_all()
    no_relay = cli.run("expiry", "alert")
    assert no_relay.returncode == 2 and "[mail]" in no_relay.stderr

    readers("Olivia Grant")
    cli.ok("expiry", "owners", "--default", "--email", "key-desk@bank.example", pins=[PIN])
    cli.ok("expiry", "owners", "--template", "Lab PEK", "--email", PEK_TEAM, pins=[PIN])
    bad = cli.run("expiry", "owners", "--key", key["label"], "--email", "pek@team", pins=[PIN])
    assert bad.returncode == 2 and "domain after @" in bad.stderr
    owners = cli.json("expiry", "owners", pins=[PIN])
    assert [(o["scope"], o["emails"]) for o in owners] == [
        ("default", ["key-desk@bank.example"]),
        (owners[1]["scope"], [PEK_TEAM]),
    ]
    assert cli.json("expiry", "windows", "--set", "60,30,7", pins=[PIN])["windows"] == [60, 30, 7]
    readers("Cara Mendes")  # a custodian alone may look, not change
    refused = cli.run("expiry", "windows", "--set", "14", pins=[PIN])
    assert refused.returncode == 3
    [task] = cli.json("expiry", "list", pins=[PIN])
    assert task["label"] == key["label"] and task["owners"] == [PEK_TEAM]
    assert task["window"] == 30 and task["days_left"] in (20, 21) and task["last_alerted"] is None

    with LoopbackSmtp(refuse=["new@bank.example"]) as relay:
        with (cli.home / "workstation.toml").open("a") as config:
            config.write(
                '\n[mail]\nhost = "127.0.0.1"\n'
                f'port = {relay.port}\nsecurity = "none"\nsender = "kcw@bank.example"\n'
            )
        virtual_cards.remove_all()  # unattended: no card anywhere
        report = cli.json("expiry", "alert")
        assert report["sent"] == [PEK_TEAM] and report["unattended"] is True
        [message] = relay.take()
        assert message.rcpt_tos == (PEK_TEAM,) and message.mail_from == "kcw@bank.example"
        assert message.subject == "[KCW] 1 item falls due (soonest within 30 days)"
        assert f"Crypto-period ends: {key['label']}" in message.body
        assert "(alert window 30 days)" in message.body and key["kcv"] not in message.subject
        again = cli.json("expiry", "alert")
        assert again["sent"] == [] and relay.take() == []

        readers("Olivia Grant")
        cli.ok(
            "expiry",
            "owners",
            "--template",
            "Lab PEK",
            "--email",
            PEK_TEAM,
            "--email",
            "new@bank.example",
            pins=[PIN],
        )
        virtual_cards.remove_all()
        failed = cli.run("--json", "expiry", "alert")
        assert failed.returncode == 1
        assert "new@bank.example" in failed.stdout and "refused the recipient" in failed.stdout
        assert relay.take() == []

    readers("Sam Adeyemi")
    ics = tmp_path / "due.ics"
    written = cli.json("expiry", "calendar", "--out", str(ics), pins=[PIN])
    assert written == {"file": str(ics), "events": 1}
    lines = unfold(ics.read_bytes().decode("utf-8"))  # as written: CRLF line ends
    assert lines[0] == "BEGIN:VCALENDAR" and f"SUMMARY:Crypto-period ends: {key['label']}" in lines
    exists = cli.run("expiry", "calendar", "--out", str(ics), pins=[PIN])
    assert exists.returncode == 2 and "exists" in exists.stderr
