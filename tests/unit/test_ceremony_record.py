"""Ceremony records and their check by the standalone verifier
(``workstation-audit-verify --ceremony``).

The records here are written by the tests from the documented format (not by the service),
with real keys: an EC P-256 audit key, an EC and an RSA card, so the format is pinned by a
second writer. Each kind of tampering is named by the verifier.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from workstation.domain.ceremonies import (
    Ceremony,
    CeremonyKind,
    Participant,
    TranscriptEntry,
)
from workstation.standalone.audit_verify import (
    CEREMONY_RECORD_DOMAIN,
    GENESIS_HASH,
    CeremonyRecordError,
    CeremonyReport,
    canonical,
    ceremony_record_file,
    ceremony_record_message,
    checkpoint_message,
    entry_hash,
    main,
    parse_ceremony_record,
    read_export,
    verify_ceremony_record,
    write_export,
)

WS = "ws-primary-01"
AUDIT_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_AUDIT_KEY = ec.generate_private_key(ec.SECP256R1())
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

CardKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def certificate(name: str, key: CardKey) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0 - timedelta(days=1))
        .not_valid_after(T0 + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def card_sign(key: CardKey, message: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(message, ec.ECDSA(hashes.SHA256()))
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


class Person:
    def __init__(self, person_id: str, name: str, part: str, key: CardKey) -> None:
        self.person_id, self.name, self.part, self.key = person_id, name, part, key
        self.certificate = certificate(name, key)
        self.card_id = hashlib.sha256(self.certificate).hexdigest()

    def participant(self) -> Participant:
        return Participant(self.person_id, self.name, self.part, self.card_id)


OLIVIA = Person("p-olivia", "Olivia", "security officer", ec.generate_private_key(ec.SECP256R1()))
CARA = Person("p-cara", "Cara", "custodian of component 1", ec.generate_private_key(ec.SECP384R1()))
CARL = Person(
    "p-carl",
    "Carl",
    "custodian of component 2",
    rsa.generate_private_key(public_exponent=65537, key_size=2048),
)
MALLORY = Person("p-mallory", "Mallory", "nobody", ec.generate_private_key(ec.SECP256R1()))
PEOPLE = (OLIVIA, CARA, CARL)


def ceremony() -> Ceremony:
    names = tuple(p.name for p in PEOPLE)
    return Ceremony(
        id="c0ffee00c0ffee00c0ffee00c0ffee00",
        kind=CeremonyKind.GENERATE_COMPONENTS,
        workstation_id=WS,
        started_at=T0,
        completed_at=T0 + timedelta(minutes=20),
        participants=tuple(p.participant() for p in PEOPLE),
        transcript=(
            TranscriptEntry(T0, "open", names, "Ceremony opened"),
            TranscriptEntry(
                T0 + timedelta(minutes=5),
                "generate",
                names,
                "Components generated",
                {"kcv 1": "A1B2C3", "kcv 2": "D4E5F6"},
            ),
            TranscriptEntry(
                T0 + timedelta(minutes=10),
                "print",
                names,
                "Mailers printed",
                {"serials": "E-1, E-2"},
            ),
            TranscriptEntry(T0 + timedelta(minutes=20), "sign", names, "Transcript signed"),
        ),
        key_id="k-1",
        key_label="ZMK Visa 2026",
        algorithm="TDES-2KEY",
        key_kcv="0A1B2C",
        envelopes=("E-1", "E-2"),
    )


CEREMONY = ceremony()
ENTRY_SEQ = 3


def audit_entries(transcript_hash: str, *, object_id: str = CEREMONY.id) -> list[Any]:
    """Five entries; the third records the ceremony as the service does."""
    entries = []
    prev = GENESIS_HASH
    for seq in range(1, 6):
        body: dict[str, Any] = {
            "seq": seq,
            "at": f"2026-11-24T09:{seq:02d}:00.000000Z",
            "action": "session.logon",
            "object_type": "person",
            "object_id": f"p-{seq}",
            "details": {},
        }
        if seq == ENTRY_SEQ:
            body.update(
                action="ceremony.generate-components",
                object_type="ceremony",
                object_id=object_id,
                details={"script": "generate-components", "transcript_hash": transcript_hash},
            )
        h = entry_hash(prev, body)
        entries.append((seq, body, prev, h))
        prev = h
    return entries


ENTRIES = audit_entries(CEREMONY.transcript_hash)


def write_audit_export(tmp_path: Path, entries: list[Any], name: str = "audit.jsonl") -> Path:
    last = entries[-1]
    at = "2026-11-24T12:00:00.000000Z"
    signature = AUDIT_KEY.sign(
        checkpoint_message(WS, last[0], last[3], at), ec.ECDSA(hashes.SHA256())
    )
    path = tmp_path / name
    write_export(
        path,
        workstation_id=WS,
        public_key_pem=public_pem(AUDIT_KEY),
        entries=entries,
        checkpoints=[(last[0], last[3], at, signature)],
        exported_at="2026-11-24T12:00:00.000000Z",
    )
    return path


def public_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unsigned_record(c: Ceremony = CEREMONY) -> dict[str, Any]:
    """The record as the documented format describes it, before the audit signature."""
    message = c.transcript_bytes()
    return {
        "format": "kcw-ceremony-record",
        "version": 1,
        "workstation_id": WS,
        "ceremony_id": c.id,
        "exported_at": "2026-11-25T08:00:00.000000Z",
        "transcript": c.transcript_record(),
        "transcript_sha256": hashlib.sha256(message).hexdigest(),
        "signatures": [
            {
                "person_id": p.person_id,
                "name": p.name,
                "card_id": p.card_id,
                "certificate": b64(p.certificate),
                "signature": b64(card_sign(p.key, message)),
            }
            for p in PEOPLE
        ],
        "audit_entry": {
            "seq": ENTRY_SEQ,
            "hash": ENTRIES[ENTRY_SEQ - 1][3].hex(),
            "action": "ceremony.generate-components",
        },
        "audit_key_sha256": "informative",
    }


def signed(record: dict[str, Any], key: ec.EllipticCurvePrivateKey = AUDIT_KEY) -> bytes:
    """The file's bytes: ``record`` signed by the audit key (as the HSM does)."""
    unsigned = {k: v for k, v in record.items() if k != "audit_signature"}
    signature = key.sign(ceremony_record_message(unsigned), ec.ECDSA(hashes.SHA256()))
    return ceremony_record_file(unsigned, signature)


def check(
    data: bytes, export: Path | None = None, key: ec.EllipticCurvePrivateKey = AUDIT_KEY
) -> CeremonyReport:
    return verify_ceremony_record(
        parse_ceremony_record(data),
        key.public_key(),
        read_export(export) if export is not None else None,
    )


# --- the format --------------------------------------------------------------------------


def test_the_record_carries_the_transcript_exactly_as_the_cards_signed_it() -> None:
    record = json.loads(signed(unsigned_record()))
    assert canonical(record["transcript"]) == CEREMONY.transcript_bytes()
    assert record["transcript_sha256"] == CEREMONY.transcript_hash


def test_the_audit_signature_covers_every_field_under_its_own_domain() -> None:
    record = unsigned_record()
    message = ceremony_record_message({**record, "audit_signature": "ignored"})
    assert message == CEREMONY_RECORD_DOMAIN + canonical(record)
    assert CEREMONY_RECORD_DOMAIN == b"kcw-ceremony-record-v1\x00"
    # Not a checkpoint or a backup signature: the prefixes differ.
    assert not message.startswith(b"kcw-audit-checkpoint-v1")
    assert not message.startswith(b"kcw-repository-backup-v1")


def test_a_genuine_record_verifies_with_and_without_the_audit_export(tmp_path: Path) -> None:
    data = signed(unsigned_record())
    report = check(data)
    assert report.ok, report.problems
    assert [s.valid for s in report.signatures] == [True, True, True]
    assert report.unsigned == () and not report.audit_entry_checked
    assert any("no audit export given" in w for w in report.warnings)
    export = write_audit_export(tmp_path, ENTRIES)
    report = check(data, export)
    assert report.ok, report.problems
    assert report.audit_entry_checked and report.export is not None and report.export.ok
    assert "VERIFIED" in "\n".join(report.lines())
    assert report.to_dict()["audit_entry"] == {"seq": ENTRY_SEQ, "checked": True}


def test_non_ascii_text_in_the_transcript_is_signed_as_utf8() -> None:
    c = ceremony()
    from dataclasses import replace

    c = replace(c, key_label="Clé de zone Zoë")
    record = unsigned_record(c)
    record["audit_entry"]["hash"] = audit_entries(c.transcript_hash)[ENTRY_SEQ - 1][3].hex()
    report = check(signed(record))
    assert report.ok, report.problems
    assert "Clé de zone Zoë" in signed(record).decode("utf-8")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(format="kcw-audit-export"), "field 'format' must be"),
        (lambda r: r.update(version=2), "field 'version' is 2"),
        (lambda r: r.pop("transcript_sha256"), "field 'transcript_sha256' is missing"),
        (lambda r: r.update(extra=1), "unknown field 'extra' in the record"),
        (lambda r: r["signatures"][0].update(signature="not base64!"), "is not base64"),
        (lambda r: r["signatures"][1].pop("certificate"), "signature 2: field 'certificate'"),
        (lambda r: r["audit_entry"].update(seq="3"), "field 'seq' must be an integer"),
        (lambda r: r["audit_entry"].update(hash="00"), "must be 64 lower-case hex digits"),
        (
            lambda r: r["transcript"]["participants"][0].pop("card_id"),
            "participant 1: field 'card_id' is missing",
        ),
    ],
)
def test_a_malformed_record_is_named(change: Any, message: str) -> None:
    record = copy.deepcopy(unsigned_record())
    change(record)
    with pytest.raises(CeremonyRecordError, match=message):
        parse_ceremony_record(signed(record))


def test_duplicate_names_and_non_json_are_refused() -> None:
    data = signed(unsigned_record())
    twice = data.replace(b'"version": 1', b'"version": 1, "version": 1', 1)
    with pytest.raises(CeremonyRecordError, match="'version' appears twice"):
        parse_ceremony_record(twice)
    with pytest.raises(CeremonyRecordError, match="not valid JSON"):
        parse_ceremony_record(data[:-20])
    with pytest.raises(CeremonyRecordError, match="not UTF-8"):
        parse_ceremony_record(b"\xff" + data)
    with pytest.raises(CeremonyRecordError, match="NaN is not a JSON value"):
        parse_ceremony_record(data.replace(b'"version": 1', b'"version": NaN', 1))


# --- tampering -----------------------------------------------------------------------------


def test_a_changed_step_is_caught_three_ways() -> None:
    record = unsigned_record()
    record["transcript"]["transcript"][2]["text"] = "Mailers printed (and a copy kept)"
    # Edited in the file: the audit signature, the hash and every card signature fail.
    edited = json.loads(signed(unsigned_record()))
    edited["transcript"]["transcript"][2]["text"] = "Mailers printed (and a copy kept)"
    report = check(json.dumps(edited).encode())
    assert not report.ok and not report.record_signature_ok and not report.transcript_hash_ok
    assert report.problems[0].startswith("the record's signature does not verify")
    assert "transcript altered?" in report.problems[1]
    assert sum("the card signature does not verify" in p for p in report.problems) == 3
    # Even someone able to sign with the audit key and to fix the hash cannot make the
    # cards' signatures cover the new step.
    record["transcript_sha256"] = hashlib.sha256(canonical(record["transcript"])).hexdigest()
    report = check(signed(record))
    assert report.record_signature_ok and report.transcript_hash_ok and not report.ok
    assert [s.valid for s in report.signatures] == [False, False, False]
    assert all("does not verify over the transcript" in s.problem for s in report.signatures)


def test_a_swapped_certificate_is_named() -> None:
    record = unsigned_record()
    # Mallory's certificate and signature put in place of Cara's, card id kept.
    record["signatures"][1].update(
        certificate=b64(MALLORY.certificate),
        signature=b64(card_sign(MALLORY.key, CEREMONY.transcript_bytes())),
    )
    report = check(signed(record))
    assert not report.ok
    assert report.problems == (
        f"Cara's signature (card {CARA.card_id[:12]}): the certificate in the record is not "
        f"that of card {CARA.card_id[:12]} (its SHA-256 differs: certificate swapped?)",
    )
    # With Mallory's card id too: not the card Cara took part with.
    record["signatures"][1]["card_id"] = MALLORY.card_id
    report = check(signed(record))
    assert report.problems == (
        f"Cara's signature (card {MALLORY.card_id[:12]}): made with card "
        f"{MALLORY.card_id[:12]}, but Cara took part with card {CARA.card_id[:12]}",
    )


def test_a_removed_signature_is_named() -> None:
    record = unsigned_record()
    del record["signatures"][2]
    report = check(signed(record))
    assert report.unsigned == ("Carl (custodian of component 2)",)
    assert report.problems == ("Carl (custodian of component 2) did not sign the transcript",)
    assert "Not signed    Carl (custodian of component 2)" in report.lines()


def test_a_signature_by_someone_else_and_a_repeated_one_are_named() -> None:
    record = unsigned_record()
    record["signatures"].append(
        {
            "person_id": MALLORY.person_id,
            "name": MALLORY.name,
            "card_id": MALLORY.card_id,
            "certificate": b64(MALLORY.certificate),
            "signature": b64(card_sign(MALLORY.key, CEREMONY.transcript_bytes())),
        }
    )
    record["signatures"].append(dict(record["signatures"][0]))
    report = check(signed(record))
    assert report.problems == (
        f"Mallory's signature (card {MALLORY.card_id[:12]}): Mallory (p-mallory) is not a "
        "participant of the transcript",
        "Olivia's signature: a second signature by the same participant",
    )


def test_the_wrong_audit_key_is_named(tmp_path: Path) -> None:
    data = signed(unsigned_record(), key=OTHER_AUDIT_KEY)
    report = check(data)
    assert report.problems == (
        "the record's signature does not verify with the audit public key (the record was "
        "altered after export, or comes from another workstation)",
    )
    # The trusted key of another workstation: the record and the export both fail.
    export = write_audit_export(tmp_path, ENTRIES)
    report = check(signed(unsigned_record()), export, key=OTHER_AUDIT_KEY)
    assert not report.record_signature_ok
    assert any(p.startswith("the audit export does not verify") for p in report.problems)


def test_an_audit_entry_that_does_not_match_is_named(tmp_path: Path) -> None:
    data = signed(unsigned_record())
    # The entry at that seq records another ceremony.
    other = write_audit_export(tmp_path, audit_entries(CEREMONY.transcript_hash, object_id="x"))
    report = check(data, other)
    assert report.export is not None and report.export.ok
    assert not report.audit_entry_checked
    assert (
        f"audit entry {ENTRY_SEQ}: its hash in the audit export differs from the hash the "
        "record names (a different log, or the entry replaced?)"
    ) in report.problems
    assert (
        f"audit entry {ENTRY_SEQ} does not record this ceremony: it records "
        "ceremony.generate-components of ceremony x"
    ) in report.problems
    # The entry records another transcript of this ceremony.
    replaced = write_audit_export(tmp_path, audit_entries("ab" * 32), name="replaced.jsonl")
    report = check(data, replaced)
    assert any(
        p.startswith(f"audit entry {ENTRY_SEQ} records the transcript SHA-256 {'ab' * 32}")
        for p in report.problems
    )
    # An export taken before the ceremony.
    early = write_audit_export(tmp_path, ENTRIES[:2], name="early.jsonl")
    report = check(data, early)
    assert report.problems == (
        f"audit entry {ENTRY_SEQ}: the audit export has no entry {ENTRY_SEQ} (exported before "
        "the ceremony, or entries removed?)",
    )


def test_an_export_edited_after_the_fact_fails_the_record_check(tmp_path: Path) -> None:
    export = write_audit_export(tmp_path, ENTRIES)
    lines = export.read_bytes().splitlines(keepends=True)
    lines[-1] = lines[-1].replace(b"session.logon", b"session.logof")
    export.write_bytes(b"".join(lines))
    report = check(signed(unsigned_record()), export)
    assert report.problems[0].startswith("the audit export does not verify: entry 5")


# --- the command line ----------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    key = tmp_path / "audit.pem"
    key.write_text(public_pem(AUDIT_KEY))
    record = tmp_path / "record.json"
    record.write_bytes(signed(unsigned_record()))
    removed = unsigned_record()
    del removed["signatures"][0]
    bad = tmp_path / "bad.json"
    bad.write_bytes(signed(removed))
    return {
        "key": key,
        "record": record,
        "bad": bad,
        "export": write_audit_export(tmp_path, ENTRIES),
    }


def test_main_verifies_a_record(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--ceremony", str(files["record"]), "--public-key", str(files["key"])]
    assert main([*args, "--audit-export", str(files["export"])]) == 0
    out = capsys.readouterr().out
    assert "Result        VERIFIED" in out
    assert f"Audit entry   {ENTRY_SEQ}: records this ceremony" in out
    assert "Signed by     Carl" in out
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True and result["audit_export"] is None
    assert result["transcript_sha256"] == CEREMONY.transcript_hash


def test_main_fails_a_bad_record_with_1(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--ceremony", str(files["bad"]), "--public-key", str(files["key"]), "--json"]
    assert main(args) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is False
    assert result["first_problem"] == "Olivia (security officer) did not sign the transcript"


def test_main_usage_and_unreadable_files_exit_2(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key = ["--public-key", str(files["key"])]
    assert main(key) == 2
    assert "give an EXPORT_FILE to verify, or --ceremony RECORD" in capsys.readouterr().err
    assert main([str(files["export"]), "--audit-export", str(files["export"]), *key]) == 2
    assert "--audit-export goes with --ceremony RECORD" in capsys.readouterr().err
    assert main([str(files["export"]), "--ceremony", str(files["record"]), *key]) == 2
    assert "give the audit export as --audit-export" in capsys.readouterr().err
    assert main(["--ceremony", str(tmp_path / "missing.json"), *key]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["--ceremony", str(files["export"]), *key, "--json"]) == 2
    captured = capsys.readouterr()
    assert "not valid JSON" in captured.err and json.loads(captured.out)["ok"] is False
    record = ["--ceremony", str(files["record"]), *key]
    assert main([*record, "--audit-export", str(files["record"])]) == 2
    assert "record.json: line 1: not valid JSON" in capsys.readouterr().err
    # The export alone still verifies as before.
    assert main([str(files["export"]), *key]) == 0
    assert "VERIFIED" in capsys.readouterr().out
