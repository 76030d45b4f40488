"""The repository backup file format: round trip, and every kind of damage refused with a
message that names it (software keys here; the HSM round trip is in tests/integration)."""

from __future__ import annotations

import io
import json
import os
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from workstation.domain import backup_file as bf
from workstation.domain.backup_file import (
    BackupCounts,
    BackupFormatError,
    BackupHeader,
    HolderCard,
    read_backup,
    write_backup,
)
from workstation.errors import IntegrityError

SIGNER = ec.generate_private_key(ec.SECP256R1())
PUBLIC = SIGNER.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)
OTHER = ec.generate_private_key(ec.SECP256R1())
OTHER_PUBLIC = OTHER.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)


def sign(message: bytes) -> bytes:
    return SIGNER.sign(message, ec.ECDSA(hashes.SHA256()))


def header(plain: bytes, **changes: object) -> BackupHeader:
    fields: dict[str, object] = {
        "backup_id": "5d1c0e6a-1111-4222-8333-444455556666",
        "made_at": "2025-01-02T03:04:05.000000Z",
        "made_by": ("Olivia Grant", "Zoë Åberg"),
        "workstation_id": "ws-1",
        "schema_version": 5,
        "counts": BackupCounts(3, 2, 2, 40, 40, "ab" * 32),
        "master_key_backup": {"set_id": "1A2B3C4D", "threshold": 2, "holders": []},
        "holder_cards": (HolderCard("p1", "c1", b"\x30\x03\x02\x01\x01"),),
        "data_key_wrapped": bytes(40),
        "data_key_kcv": "0A1B2C3D4E",
        "nonce": bytes(range(12)),
        "plain_size": len(plain),
        "audit_public_key": PUBLIC,
    }
    fields.update(changes)
    return BackupHeader(**fields)  # type: ignore[arg-type]


KEY = bytearray(os.urandom(32))


def make(tmp_path: Path, plain: bytes, *, name: str = "b.kcwbackup") -> Path:
    path = tmp_path / name
    with path.open("w+b") as out:
        write_backup(out, header(plain), io.BytesIO(plain), KEY, sign)
    return path


def decrypt(path: Path, key: bytearray = KEY) -> bytes:
    out = io.BytesIO()
    read_backup(path).decrypt_to(out, key)
    return out.getvalue()


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def plain() -> bytes:
    return b"SQLite format 3\x00" + os.urandom(3000) + bytes(200_000)


def test_round_trip(tmp_path: Path, plain: bytes) -> None:
    path = make(tmp_path, plain)
    backup = read_backup(path)
    assert backup.header == header(plain)
    assert backup.signature_valid(PUBLIC)
    assert not backup.signature_valid(OTHER_PUBLIC)
    assert not backup.signature_valid(b"not a key")
    assert decrypt(path) == plain
    # zlib did its work on the zeros, and the file says nothing of the content in clear.
    assert path.stat().st_size < len(plain) // 2
    assert plain[16:3016] not in path.read_bytes()
    assert backup.header.audit_key_fingerprint == bf.fingerprint(PUBLIC)


def test_the_header_is_canonical_json_and_round_trips() -> None:
    h = header(b"x")
    text = h.to_bytes()
    assert text == json.dumps(
        json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert "Zoë Åberg".encode() in text
    assert BackupHeader.from_bytes(text) == h
    with pytest.raises(BackupFormatError, match="canonical"):
        BackupHeader.from_bytes(text.replace(b'{"audit_key"', b'{ "audit_key"', 1))


def test_a_changed_header_byte_breaks_the_signature_and_the_decryption(
    tmp_path: Path, plain: bytes
) -> None:
    path = make(tmp_path, plain)
    text = path.read_bytes()
    at = text.index(b'"workstation_id":"ws-1"') + len(b'"workstation_id":"ws-')
    flip(path, at)  # "ws-1" -> "ws-0": still a valid header
    backup = read_backup(path)
    assert backup.header.workstation_id == "ws-0"
    assert not backup.signature_valid(PUBLIC)
    with pytest.raises(IntegrityError, match="AES-GCM authentication failed"):
        decrypt(path)


def test_a_changed_ciphertext_byte(tmp_path: Path, plain: bytes) -> None:
    path = make(tmp_path, plain)
    backup = read_backup(path)
    flip(path, backup.ciphertext_offset + 100)
    damaged = read_backup(path)
    assert not damaged.signature_valid(PUBLIC)
    with pytest.raises(IntegrityError, match="does not decrypt"):
        decrypt(path)


def test_a_changed_tag_byte(tmp_path: Path, plain: bytes) -> None:
    path = make(tmp_path, plain)
    backup = read_backup(path)
    flip(path, backup.ciphertext_offset + backup.ciphertext_length - 1)
    with pytest.raises(IntegrityError, match="does not decrypt"):
        decrypt(path)


def test_a_changed_signature(tmp_path: Path, plain: bytes) -> None:
    path = make(tmp_path, plain)
    flip(path, path.stat().st_size - 5)
    backup = read_backup(path)
    assert not backup.signature_valid(PUBLIC)
    assert decrypt(path) == plain  # the content itself is intact: only the signature fails


def test_the_wrong_data_key(tmp_path: Path, plain: bytes) -> None:
    path = make(tmp_path, plain)
    with pytest.raises(IntegrityError, match="does not decrypt"):
        decrypt(path, bytearray(32))


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (5, "not a workstation repository backup"),
        (30, "header length is wrong"),
        (-1, "signature is not whole"),
        (-40, "signature is not whole"),
        (-80, "cut short"),
        (-2000, "encrypted part is not all there"),
    ],
)
def test_a_truncated_file(tmp_path: Path, plain: bytes, cut: int, message: str) -> None:
    path = make(tmp_path, plain)
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(BackupFormatError, match=message):
        read_backup(path)


def test_bytes_appended(tmp_path: Path, plain: bytes) -> None:
    path = make(tmp_path, plain)
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(BackupFormatError, match="bytes after its signature"):
        read_backup(path)


def test_wrong_files(tmp_path: Path) -> None:
    sqlite = tmp_path / "old.backup"
    sqlite.write_bytes(b"SQLite format 3\x00" + bytes(100))
    with pytest.raises(BackupFormatError, match="plain repository copy"):
        read_backup(sqlite)
    text = tmp_path / "notes.txt"
    text.write_bytes(b"hello, this is not a backup at all")
    with pytest.raises(BackupFormatError, match="not a workstation repository backup"):
        read_backup(text)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(BackupFormatError, match="not a workstation repository backup"):
        read_backup(empty)
    with pytest.raises(Exception, match="There is no backup file"):
        read_backup(tmp_path / "missing")


def test_another_format_version(tmp_path: Path, plain: bytes) -> None:
    path = make(tmp_path, plain)
    data = bytearray(path.read_bytes())
    data[10:12] = struct.pack(">H", 2)
    path.write_bytes(bytes(data))
    with pytest.raises(BackupFormatError, match="format version 2; this software reads version 1"):
        read_backup(path)


def test_a_header_that_is_not_json(tmp_path: Path, plain: bytes) -> None:
    path = make(tmp_path, plain)
    flip(path, 16)  # the header's opening brace
    with pytest.raises(BackupFormatError, match="header is damaged"):
        read_backup(path)


def test_a_header_whose_fingerprint_does_not_match_its_key() -> None:
    text = header(b"x").to_bytes().replace(bf.fingerprint(PUBLIC).encode(), b"0" * 64)
    with pytest.raises(BackupFormatError, match="fingerprint does not match"):
        BackupHeader.from_bytes(text)


def test_content_longer_than_the_header_says_is_refused(tmp_path: Path, plain: bytes) -> None:
    """A decompression bomb stops at the size the (authenticated) header states."""
    path = tmp_path / "long.kcwbackup"
    short = header(plain, plain_size=len(plain))
    with path.open("w+b") as out:
        write_backup(out, short, io.BytesIO(plain), KEY, sign)
    backup = read_backup(path)
    lying = bf.BackupFile(
        path=path,
        header=header(plain, plain_size=1000),
        header_bytes=backup.header_bytes,
        ciphertext_offset=backup.ciphertext_offset,
        ciphertext_length=backup.ciphertext_length,
        signature=backup.signature,
        digest=backup.digest,
        size=backup.size,
    )
    sink = io.BytesIO()
    with pytest.raises(IntegrityError):
        lying.decrypt_to(sink, KEY)
    assert len(sink.getvalue()) <= 1000


def test_the_plain_size_must_match_what_is_read(tmp_path: Path) -> None:
    with (tmp_path / "x").open("w+b") as out, pytest.raises(ValueError, match="header says"):
        write_backup(out, header(b"abc"), io.BytesIO(b"abcd"), KEY, sign)


def test_the_signed_message_is_domain_separated_from_audit_checkpoints() -> None:
    message = bf.signature_message(bytes(32))
    assert message.startswith(b"kcw-repository-backup-v1\x00")
    assert not message.startswith(b"kcw-audit-checkpoint-v1")
