"""Signed, encrypted repository backups on the real stack: SoftHSM2 tokens, SQLite files,
pcscd with virtual PIV cards for the share holders.

A backup shows nothing of the repository in clear, verifies on the workstation that made
it (everything) and elsewhere (the signature, against a fingerprint); any changed byte is
refused naming what failed; a fresh workstation is restored from it under dual control; a
refusal or failure leaves nothing behind (no repository, no temporary plain copy).
"""

from __future__ import annotations

import hashlib
import json
import struct
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.hsm import open_test_hsm
from tests.integration.test_ceremonies import AES_TEMPLATE, World, pdf_text, pin, secret_from_mailer
from workstation.adapters.hsm_pkcs11 import Pkcs11Hsm
from workstation.adapters.repository_sqlite import SqliteRepository
from workstation.adapters.softhsm import provision_softhsm
from workstation.domain import backup_file as bf
from workstation.errors import AlreadyInitialised, BadInput, IntegrityError, PolicyRefused
from workstation.services.app import WorkstationServices
from workstation.services.ceremonies import PaperOutput
from workstation.services.recovery import CheckStatus, ShareOffer

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

ALL_CHECKS = [
    "structure",
    "signature",
    "signer",
    "decryption",
    "audit chain",
    "record seals",
    "counts",
]


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temporary folder for this test, to prove nothing is left in it."""
    root = tmp_path / "system-tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.fixture
def world(tmp_path: Path, hsm: Pkcs11Hsm, virtual_cards: Any, temp_root: Path) -> Iterator[World]:
    w = World(tmp_path, hsm, virtual_cards)
    w.initialise()
    try:
        yield w
    finally:
        w.end()
        w.repo.close()


@dataclass
class Made:
    file: Path
    shares: list[bytearray]
    keys: list[Any]


def make_backup(world: World, tmp_path: Path) -> Made:
    out = tmp_path / "paper"
    out.mkdir()
    session = world.session("Cara", "Carl")
    keys = list(world.s.keys.generate(session, AES_TEMPLATE, count=2).keys)
    session = world.session("Olivia", "Sam", "Cara", "Carl", "Chen")
    outcome = world.s.ceremonies.backup_master_key(
        session, ["Cara", "Carl", "Chen"], threshold=2, output=PaperOutput(directory=out)
    )
    shares = [secret_from_mailer(pdf_text(Path(f)), 32) for f in outcome.delivery.files]
    session = world.session("Olivia")
    file = tmp_path / "repository.kcwbackup"
    result = world.s.recovery.backup_repository(session, file)
    assert result.file == file and result.counts.keys == 2 and not result.warnings
    world.end()
    return Made(file, shares, keys)


@dataclass
class Fresh:
    services: WorkstationServices
    repo: SqliteRepository
    hsm: Pkcs11Hsm


@contextmanager
def fresh_workstation(world: World, tmp_path: Path, softhsm_directory: Path) -> Iterator[Fresh]:
    home = tmp_path / f"fresh-{uuid.uuid4().hex[:6]}"
    home.mkdir()
    token = provision_softhsm(
        softhsm_directory, f"kcw-fresh-{uuid.uuid4().hex[:12]}", pin_directory=home / "pins"
    )
    hsm2 = open_test_hsm(token)
    repo2 = SqliteRepository(home / "workstation.db")
    try:
        yield Fresh(world.services(repo2, hsm2), repo2, hsm2)
    finally:
        world.end()
        repo2.close()
        hsm2.close()


def offers(world: World, made: Made, *holders: tuple[str, int]) -> list[ShareOffer]:
    """ShareOffers for holders (name, share number 0..2), their cards in readers 0, 1, ..."""
    result = []
    for slot, (name, number) in enumerate(holders):
        reader = world.cards.insert(world.people[name], slot)
        result.append(ShareOffer(name, reader, pin(), bytearray(made.shares[number])))
    return result


def resigned(
    made: Made,
    target: Path,
    hsm: Pkcs11Hsm,
    *,
    header: Callable[[dict[str, Any]], None] | None = None,
    flip_ciphertext: int | None = None,
) -> Path:
    """A copy of the backup changed and signed again with the same HSM audit key: what an
    insider with the audit key could make. Decryption (AES-GCM) still catches it."""
    backup = bf.read_backup(made.file)
    header_bytes = backup.header_bytes
    if header is not None:
        record = json.loads(header_bytes)
        header(record)
        header_bytes = json.dumps(
            record, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    raw = made.file.read_bytes()
    ciphertext = bytearray(
        raw[backup.ciphertext_offset : backup.ciphertext_offset + backup.ciphertext_length]
    )
    if flip_ciphertext is not None:
        ciphertext[flip_ciphertext] ^= 0x01
    body = (
        struct.pack(">10sHI", bf.MAGIC, bf.FORMAT_VERSION, len(header_bytes))
        + header_bytes
        + struct.pack(">Q", len(ciphertext))
        + bytes(ciphertext)
    )
    signature = hsm.sign_audit(bf.signature_message(hashlib.sha256(body).digest()))
    target.write_bytes(body + struct.pack(">H", len(signature)) + signature)
    return target


def statuses(report: Any) -> dict[str, CheckStatus]:
    return {c.name: c.status for c in report.checks}


def detail(report: Any, name: str) -> str:
    return str(next(c.detail for c in report.checks if c.name == name))


# --- tests -------------------------------------------------------------------------------------


def test_a_backup_is_encrypted_signed_audited_and_verifies_where_it_was_made(
    world: World, tmp_path: Path, temp_root: Path, hsm: Pkcs11Hsm
) -> None:
    made = make_backup(world, tmp_path)
    raw = made.file.read_bytes()
    # Nothing of the repository in clear: no wrapped key, no key label, no one who is not
    # a share holder or the person who made it.
    for key in made.keys:
        assert key.label.encode() not in raw
        assert key.kcv.encode() not in raw
    assert b"Alex" not in raw and b"Oscar" not in raw and b"SQLite format" not in raw
    header = bf.read_backup(made.file).header
    assert header.made_by == ("Olivia",)
    assert header.master_key_backup is not None
    holder_ids = {h["person_id"] for h in header.master_key_backup["holders"]}
    assert {c.person_id for c in header.holder_cards} == holder_ids
    assert header.audit_public_key == hsm.audit_public_key()

    report = world.s.recovery.verify_backup(made.file)
    assert [c.name for c in report.checks] == ALL_CHECKS
    assert all(c.status is CheckStatus.PASSED for c in report.checks), report.lines()
    assert report.verified and report.trusted_key == "this workstation's audit key"
    assert "VERIFIED" in report.lines()[-1]

    auditor = world.session("Alex")
    entries = world.s.audit.search(auditor, action="repository.backup")
    assert entries[0].body["details"]["backup_id"] == header.backup_id
    assert entries[0].body["details"]["keys"] == 2
    world.end()
    # Never over an existing file; no plain copy left anywhere.
    session = world.session("Olivia")
    with pytest.raises(BadInput, match="exists already"):
        world.s.recovery.backup_repository(session, made.file)
    assert list(temp_root.iterdir()) == []
    assert [p.name for p in made.file.parent.glob(".*partial")] == []


def test_elsewhere_only_the_signature_is_verified_against_a_fingerprint(
    world: World, tmp_path: Path, softhsm_directory: Path, hsm: Pkcs11Hsm
) -> None:
    made = make_backup(world, tmp_path)
    fp = bytes.fromhex(bf.fingerprint(hsm.audit_public_key()))
    with fresh_workstation(world, tmp_path, softhsm_directory) as fresh:
        recovery = fresh.services.recovery
        given = recovery.verify_backup(made.file, expected_audit_key=fp)
        assert given.verified and given.trusted_key == "the audit key fingerprint given"
        assert statuses(given)["decryption"] is CheckStatus.NOT_POSSIBLE
        assert "holds no master key" in detail(given, "decryption")
        # The public key itself works as well as its fingerprint.
        assert recovery.verify_backup(made.file, expected_audit_key=hsm.audit_public_key()).verified
        # No trusted key: intact, but not verified.
        alone = recovery.verify_backup(made.file)
        assert alone.ok and not alone.verified
        assert statuses(alone)["signer"] is CheckStatus.NOT_POSSIBLE
        assert "NOT VERIFIED" in alone.lines()[-1]
        # Another key's fingerprint: failed, naming both.
        other = recovery.verify_backup(made.file, expected_audit_key=bytes(32))
        assert not other.ok and statuses(other)["signer"] is CheckStatus.FAILED
        assert bf.fingerprint(hsm.audit_public_key()) in detail(other, "signer")
        assert not fresh.repo.exists() and not fresh.hsm.has_workstation_keys()


def test_every_kind_of_damage_is_refused_naming_what_failed(
    world: World, tmp_path: Path, softhsm_directory: Path, hsm: Pkcs11Hsm, temp_root: Path
) -> None:
    made = make_backup(world, tmp_path)
    raw = made.file.read_bytes()
    backup = bf.read_backup(made.file)

    def variant(name: str, data: bytes) -> Path:
        path = tmp_path / f"{name}.kcwbackup"
        path.write_bytes(data)
        return path

    def flipped(offset: int) -> bytes:
        data = bytearray(raw)
        data[offset] ^= 0x01
        return bytes(data)

    made_at = raw.index(b'"made_at":"') + len(b'"made_at":"') + 3  # a digit of the year
    plain_copy = tmp_path / "plain.db"
    world.repo.backup(plain_copy)
    cases = {
        "header": (variant("header", flipped(made_at)), "signature", IntegrityError),
        "ciphertext": (
            variant("ciphertext", flipped(backup.ciphertext_offset + 10)),
            "signature",
            IntegrityError,
        ),
        "signature": (variant("signature", flipped(len(raw) - 3)), "signature", IntegrityError),
        "truncated": (variant("truncated", raw[:-500]), "structure", BadInput),
        "appended": (variant("appended", raw + b"x"), "structure", BadInput),
        "plain copy": (plain_copy, "structure", BadInput),
        "other file": (variant("other", b"%PDF-1.7 not a backup" * 10), "structure", BadInput),
    }
    with fresh_workstation(world, tmp_path, softhsm_directory) as fresh:
        for name, (path, failing, error) in cases.items():
            report = world.s.recovery.verify_backup(path)
            assert not report.ok and not report.verified, name
            assert statuses(report)[failing] is CheckStatus.FAILED, (name, report.lines())
            with pytest.raises(error):
                fresh.services.recovery.restore_repository(path)
            assert not fresh.repo.exists() and not fresh.hsm.has_workstation_keys()
        with pytest.raises(BadInput, match="plain repository copy"):
            fresh.services.recovery.restore_repository(plain_copy)
        # Signed again by the audit key after the change: the signature holds, the
        # decryption (AES-GCM over the content, the header as associated data) does not.
        insider = resigned(made, tmp_path / "insider.kcwbackup", hsm, flip_ciphertext=50)
        report = world.s.recovery.verify_backup(insider)
        assert statuses(report)["signature"] is CheckStatus.PASSED
        assert statuses(report)["decryption"] is CheckStatus.FAILED
        assert "AES-GCM authentication failed" in detail(report, "decryption")

        def more_keys(record: dict[str, Any]) -> None:
            record["counts"]["keys"] = 99

        relabelled = resigned(made, tmp_path / "counts.kcwbackup", hsm, header=more_keys)
        assert statuses(world.s.recovery.verify_backup(relabelled))["decryption"] is (
            CheckStatus.FAILED
        )
    assert list(temp_root.iterdir()) == []


def test_restore_on_a_fresh_workstation_under_dual_control(
    world: World, tmp_path: Path, softhsm_directory: Path, temp_root: Path
) -> None:
    made = make_backup(world, tmp_path)
    # Not onto a workstation that has keys and a repository.
    with pytest.raises(AlreadyInitialised):
        world.s.recovery.restore_repository(made.file)
    with fresh_workstation(world, tmp_path, softhsm_directory) as fresh:
        recovery = fresh.services.recovery
        info = recovery.restore_repository(made.file)
        assert (info.threshold, info.count) == (2, 3)
        assert not fresh.repo.exists()  # nothing written before the shares are in
        # The same holder twice is not two people.
        twice = offers(world, made, ("Cara", 0))
        twice.append(ShareOffer("Cara", twice[0].reader, pin(), bytearray(made.shares[0])))
        with pytest.raises(BadInput, match="twice"):
            recovery.recover(twice)
        assert not fresh.repo.exists() and not fresh.hsm.has_workstation_keys()
        world.end()
        recovery.restore_repository(made.file)
        report = recovery.recover(offers(world, made, ("Carl", 1), ("Chen", 2)))
        header = bf.read_backup(made.file).header
        assert report.backup_id == header.backup_id and report.keys_verified == 2
        assert report.holders == ("Carl", "Chen")
        world.end()
        # The restored workstation holds the master key: it is the backup's twin and
        # verifies the backup completely.
        twin = recovery.verify_backup(made.file)
        assert twin.verified and all(c.status is CheckStatus.PASSED for c in twin.checks)
        auditor = world.session("Alex", services=fresh.services)
        (entry,) = fresh.services.audit.search(auditor, action="workstation.recovered")
        assert entry.body["details"]["backup_id"] == header.backup_id
        assert fresh.services.audit.verify(auditor).ok
        for key in made.keys:
            assert fresh.services.keys.verify(auditor, key.label).kcv == key.kcv
    assert list(temp_root.iterdir()) == []


def test_a_failure_after_the_keys_are_back_leaves_no_repository_and_says_what_to_do(
    world: World, tmp_path: Path, softhsm_directory: Path, hsm: Pkcs11Hsm, temp_root: Path
) -> None:
    made = make_backup(world, tmp_path)
    insider = resigned(made, tmp_path / "insider.kcwbackup", hsm, flip_ciphertext=7)

    def one_holder(record: dict[str, Any]) -> None:
        record["master_key_backup"]["threshold"] = 1

    lone = resigned(made, tmp_path / "lone.kcwbackup", hsm, header=one_holder)
    with fresh_workstation(world, tmp_path, softhsm_directory) as fresh:
        recovery = fresh.services.recovery
        with pytest.raises(PolicyRefused, match="at least two share holders"):
            recovery.restore_repository(lone)
        recovery.restore_repository(insider)
        with pytest.raises(IntegrityError, match="does not decrypt") as failed:
            recovery.recover(offers(world, made, ("Cara", 0), ("Carl", 1)))
        assert "initialise the HSM token afresh" in failed.value.user_message()
        assert not fresh.repo.exists()
        # The port deletes no workstation key: they stay, as the message and the docs say.
        assert fresh.hsm.has_workstation_keys()
    assert list(temp_root.iterdir()) == []
