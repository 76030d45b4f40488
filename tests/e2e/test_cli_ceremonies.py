"""Paper ceremonies from the command line, in separate processes: generate a key as printed
components, enter it again from the mailers (components typed on standard input), verify
the signed record, and register the envelopes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import PIN, Cli

pytestmark = [pytest.mark.e2e, pytest.mark.pcsc, pytest.mark.hsm]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


def component_of(pdf: Path) -> str:
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    inner = text[text.index("VALUE:") : text.index("Check value (KCV)")].split("\n", 1)[1]
    return " ".join(re.findall(r"\b[0-9A-F]{4}\b", inner))


def test_ceremony_from_the_command_line(cli: Cli, virtual_cards: Any, tmp_path: Path) -> None:
    names = ("Olivia Grant", "Oscar Lindqvist", "Cara Mendes", "Carl Novak", "Alex Moreau")
    cards = {n: virtual_cards.issue(n, PIN) for n in names}
    virtual_cards.insert(cards["Olivia Grant"], 0)
    virtual_cards.insert(cards["Oscar Lindqvist"], 1)
    cli.ok("init", "--officer", "Olivia Grant", "--officer", "Oscar Lindqvist", pins=[PIN, PIN])
    for name, role in (
        ("Cara Mendes", "key_custodian"),
        ("Carl Novak", "key_custodian"),
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
    virtual_cards.remove(1)
    virtual_cards.insert(cards["Cara Mendes"], 1)
    virtual_cards.insert(cards["Carl Novak"], 2)
    out = tmp_path / "paper"
    out.mkdir()
    # No place for the paper: refused before anything happens.
    nowhere = cli.run(
        "ceremony",
        "generate",
        "--template",
        "Card verification key",
        "--custodian",
        "Cara Mendes",
        "--custodian",
        "Carl Novak",
        pins=[PIN] * 3,
    )
    assert nowhere.returncode == 2 and "--out FOLDER" in nowhere.stderr
    made = cli.json(
        "ceremony",
        "generate",
        "--template",
        "Card verification key",
        "--custodian",
        "Cara Mendes",
        "--custodian",
        "Carl Novak",
        "--out",
        str(out),
        pins=[PIN] * 3,
    )
    kcv = made["kcv"]
    serials = [e["serial"] for e in made["envelopes"]]
    components = [component_of(Path(f)) for f in made["files"]]
    assert all(len(c.replace(" ", "")) == 32 for c in components)

    # The same components typed again (hidden, here on standard input): the same key.
    entered = cli.json(
        "ceremony",
        "enter",
        "--template",
        "Card verification key",
        "--custodian",
        "Cara Mendes",
        "--custodian",
        "Carl Novak",
        "--sender-kcv",
        kcv,
        pins=[PIN] * 3 + components,
    )
    assert entered["kcv"] == kcv
    # A typing error: the component's parity gives it away; exit 2, nothing stored.
    typo = components[1][:-1] + ("0" if components[1][-1] != "0" else "2")
    wrong = cli.run(
        "ceremony",
        "enter",
        "--template",
        "Card verification key",
        "--custodian",
        "Cara Mendes",
        "--custodian",
        "Carl Novak",
        "--sender-kcv",
        kcv,
        pins=[PIN] * 3 + [components[0], typo],
    )
    assert wrong.returncode == 2 and ("parity" in wrong.stderr or "check value" in wrong.stderr)

    # The envelope register.
    sealed = cli.json("envelopes", "record", serials[0], "sealed", "--bag", "TB-77", pins=[PIN] * 3)
    assert sealed["state"] == "sealed" and sealed["bag_number"] == "TB-77"
    holders = cli.json("holders", pins=[PIN] * 3)
    assert {(h["person_name"], h["how"]) for h in holders} >= {
        ("Cara Mendes", "printed"),
        ("Carl Novak", "entered"),
    }

    # The auditor verifies the signed record.
    virtual_cards.remove_all()
    virtual_cards.insert(cards["Alex Moreau"], 0)
    listed = cli.json("ceremony", "list", pins=[PIN])
    assert len(listed) == 2
    verified = cli.run("ceremony", "verify", made["ceremony"]["id"][:10], pins=[PIN])
    assert verified.returncode == 0 and "VERIFIED" in verified.stdout
