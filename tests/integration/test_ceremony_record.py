"""A ceremony record taken away by an auditor, on the real stack: a ceremony signed by
virtual PIV cards (one EC, one RSA) through pcscd, the record signed by the SoftHSM2 audit
key, and the installed ``workstation-audit-verify`` run on it as a separate program.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_ceremonies import PIN, TDES_TEMPLATE, World
from workstation.adapters.hsm_pkcs11 import Pkcs11Hsm
from workstation.errors import BadInput, PolicyRefused
from workstation.services.ceremonies import PaperOutput

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

VERIFIER = Path(sys.executable).parent / "workstation-audit-verify"


@pytest.fixture
def world(tmp_path: Path, hsm: Pkcs11Hsm, virtual_cards: Any) -> Iterator[World]:
    w = World(tmp_path, hsm, virtual_cards)
    # One custodian holds an RSA card: its signature is PKCS#1 v1.5, the others ECDSA.
    w.people["Carl"] = virtual_cards.issue("Carl", PIN, key_type="rsa-2048")
    w.initialise()
    try:
        yield w
    finally:
        w.end()
        w.repo.close()


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VERIFIER), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_a_real_ceremony_record_verifies_with_the_installed_verifier(
    world: World, tmp_path: Path
) -> None:
    paper = tmp_path / "paper"
    paper.mkdir()
    session = world.session("Olivia", "Cara", "Carl")
    outcome = world.s.ceremonies.generate_components(
        session, TDES_TEMPLATE, ["Cara", "Carl"], output=PaperOutput(directory=paper)
    )
    ceremony = outcome.ceremony
    assert {s.name for s in ceremony.signatures} == {"Olivia", "Cara", "Carl"}

    # A custodian alone may not take records away: exporting is the auditor's.
    custodian = world.session("Cara")
    with pytest.raises(PolicyRefused):
        world.s.ceremonies.export_record(custodian, ceremony.id, tmp_path / "no.json")
    assert not (tmp_path / "no.json").exists()

    auditor = world.session("Alex")
    record_path = tmp_path / "ceremony-record.json"
    result = world.s.ceremonies.export_record(auditor, ceremony.id[:10], record_path)
    assert result.path == record_path.resolve() and result.signatures == 3
    with pytest.raises(BadInput, match="exists"):
        world.s.ceremonies.export_record(auditor, ceremony.id, record_path)
    export = tmp_path / "audit.jsonl"
    _, key_path = world.s.audit.export(auditor, export)
    exported = world.s.audit.search(auditor, action="ceremony.export-record")
    assert [e.body["object_id"] for e in exported] == [ceremony.id]
    assert exported[0].body["details"]["audit_entry"] == result.audit_seq

    record = json.loads(record_path.read_text())
    assert record["format"] == "kcw-ceremony-record" and record["version"] == 1
    assert record["transcript"] == ceremony.transcript_record()
    assert record["audit_entry"]["action"] == "ceremony.generate-components"

    done = verify(
        "--ceremony", str(record_path), "--public-key", str(key_path), "--audit-export", str(export)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERIFIED" in done.stdout
    assert f"Audit entry   {result.audit_seq}: records this ceremony" in done.stdout
    report = json.loads(
        verify(
            "--ceremony",
            str(record_path),
            "--public-key",
            str(key_path),
            "--audit-export",
            str(export),
            "--json",
        ).stdout
    )
    assert report["ok"] is True and report["audit_entry"]["checked"] is True
    assert sorted(s["name"] for s in report["signatures"] if s["valid"]) == [
        "Cara",
        "Carl",
        "Olivia",
    ]

    # The record alone (no export) verifies too, with a warning that the entry was not
    # looked at; the existing usage on the export alone is unchanged.
    alone = verify("--ceremony", str(record_path), "--public-key", str(key_path))
    assert alone.returncode == 0 and "no audit export given" in alone.stdout
    assert verify(str(export), "--public-key", str(key_path)).returncode == 0

    # A step edited in the record: the audit signature, the hash and every card signature
    # fail, each named; exit 1.
    forged = dict(record)
    forged["transcript"] = json.loads(json.dumps(record["transcript"]))
    forged["transcript"]["transcript"][1]["text"] += " (and one more copy)"
    forged_path = tmp_path / "forged.json"
    forged_path.write_text(json.dumps(forged, indent=2))
    bad = verify(
        "--ceremony", str(forged_path), "--public-key", str(key_path), "--audit-export", str(export)
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "FAILED: the record's signature does not verify with the audit public key" in (
        bad.stdout
    )
    assert "transcript altered?" in bad.stdout
    problems = bad.stdout.split("problems in all:")[1]
    assert problems.count("the card signature does not verify over the transcript") == 3
    assert "did not sign" not in problems  # they signed: the signatures no longer verify
