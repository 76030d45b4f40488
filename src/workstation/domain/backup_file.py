"""The repository backup file: a clear header, the encrypted repository copy, a signature.

A backup must be readable in part before anything is restored (a fresh workstation needs
the master key backup's holders and threshold before any key is back; an auditor checks
who signed it), yet it carries the people, the audit log and the key inventory, which are
nobody else's business. So the file is three parts, in this order::

    offset  size        field
    0       10          magic  b"KCWBACKUP\\x00"
    10      2           format version, unsigned big-endian (1)
    12      4           header length H, unsigned big-endian
    16      H           header: canonical JSON, UTF-8 (see below), in clear
    16+H    8           ciphertext length C, unsigned big-endian (at least 16)
    24+H    C           ciphertext: AES-256-GCM of zlib(repository copy), its 16-byte tag last
    24+H+C  2           signature length S, unsigned big-endian
    26+H+C  S           signature: ECDSA P-256 with SHA-256, DER (the HSM audit key)

and nothing after it. Canonical JSON is the audit log's: keys sorted, no white space,
UTF-8 (``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``).

Encryption (NIST SP 800-38D): AES-256 in Galois/Counter Mode with a fresh 256-bit data
key for every backup, a 96-bit random nonce (8.2.2, the RBG-based construction; with one
key per file a nonce is never reused) and a 128-bit tag; the header bytes exactly as
stored are the additional authenticated data, so no header field can be changed without
the decryption failing. The plaintext is the repository copy compressed with zlib (RFC
1950). The data key is generated in the HSM and kept in the header wrapped under the
workstation master key (AES key wrap with padding, RFC 5649), with its check value: only
a workstation holding that master key (the one that made the backup, its disaster
recovery twin, or a fresh one whose master key was recovered from the shares) decrypts.
The keys inside the repository copy stay wrapped under the master key as they always are.

Signature: the HSM audit key (the key that signs the audit checkpoints) signs::

    b"kcw-repository-backup-v1" || 0x00 || SHA-256(every byte of the file before the
                                                   signature length field)

that is SHA-256 over the magic, the version, the header and the ciphertext with their
lengths. The domain prefix keeps a backup signature from ever passing for an audit
checkpoint signature (``b"kcw-audit-checkpoint-v1\\x00"``) and the other way round.
The header carries the audit public key (SubjectPublicKeyInfo DER) and its SHA-256
fingerprint; the key in the header proves only that the file is intact. Who made it is
proved by checking the signature against a key obtained elsewhere: the workstation's own
audit key, or the fingerprint an auditor holds from the bank's published record.

This module is pure (stdlib and ``cryptography``): the services supply the data key, the
signing function and the files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from workstation.errors import BadInput, IntegrityError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAGIC",
    "NONCE_BYTES",
    "SIGNATURE_DOMAIN",
    "TAG_BYTES",
    "BackupCounts",
    "BackupFile",
    "BackupFormatError",
    "BackupHeader",
    "HolderCard",
    "fingerprint",
    "read_backup",
    "signature_message",
    "write_backup",
]

MAGIC = b"KCWBACKUP\x00"
FORMAT_VERSION = 1
FORMAT_NAME = "kcw-repository-backup"
SIGNATURE_DOMAIN = b"kcw-repository-backup-v1\x00"
NONCE_BYTES = 12  # SP 800-38D 5.2.1.1: 96-bit IVs are the recommended length
TAG_BYTES = 16  # SP 800-38D 5.2.1.2: the full 128-bit tag
DATA_KEY_BYTES = 32
MAX_HEADER_BYTES = 4 << 20  # a header holds a few certificates, never megabytes
MAX_SIGNATURE_BYTES = 256  # an ECDSA P-256 DER signature is at most 72 bytes
SQLITE_MAGIC = b"SQLite format 3\x00"
_CHUNK = 1 << 20
_PREFIX = struct.Struct(">10sHI")  # magic, version, header length
_U64 = struct.Struct(">Q")
_U16 = struct.Struct(">H")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class BackupFormatError(BadInput):
    """The file is not a repository backup this software reads, or its structure is
    broken (truncated, a length that does not fit, a header that does not parse)."""


def fingerprint(public_key_der: bytes) -> str:
    """The SHA-256 fingerprint of a public key (SubjectPublicKeyInfo DER), lower-case hex.

    >>> fingerprint(b"")[:16]
    'e3b0c44298fc1c14'
    """
    return hashlib.sha256(public_key_der).hexdigest()


def signature_message(digest: bytes) -> bytes:
    """The bytes the HSM audit key signs for a backup whose file digest is ``digest``."""
    if len(digest) != 32:
        raise ValueError(f"a SHA-256 digest is 32 bytes, not {len(digest)}")
    return SIGNATURE_DOMAIN + digest


def _canonical(record: Mapping[str, Any]) -> bytes:
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


# --- the header ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupCounts:
    """What the repository copy holds, counted in the copy itself when it was made."""

    keys: int
    people: int
    cards: int
    audit_entries: int
    last_audit_seq: int  # 0 for an empty log
    last_audit_hash: str  # lower-case hex of the last entry's hash ("" for an empty log)

    def to_record(self) -> dict[str, Any]:
        return {
            "keys": self.keys,
            "people": self.people,
            "cards": self.cards,
            "audit_entries": self.audit_entries,
            "last_audit_seq": self.last_audit_seq,
            "last_audit_hash": self.last_audit_hash,
        }

    @classmethod
    def from_record(cls, record: Any) -> BackupCounts:
        rec = _object(record, "counts", 6)
        last_hash = _str(rec, "last_audit_hash", "counts")
        if last_hash and not _HEX64.fullmatch(last_hash):
            raise BackupFormatError("The backup header's last audit hash is not 64 hex digits.")
        return cls(
            keys=_count(rec, "keys"),
            people=_count(rec, "people"),
            cards=_count(rec, "cards"),
            audit_entries=_count(rec, "audit_entries"),
            last_audit_seq=_count(rec, "last_audit_seq"),
            last_audit_hash=last_hash,
        )


@dataclass(frozen=True)
class HolderCard:
    """One card of a master key backup holder, as enrolled when the backup was made: the
    holder proves who they are with it before any key (and so any seal) is back."""

    person_id: str
    card_id: str
    certificate: bytes  # the PIV authentication certificate, DER

    def to_record(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "card_id": self.card_id,
            "certificate": base64.b64encode(self.certificate).decode("ascii"),
        }

    @classmethod
    def from_record(cls, record: Any) -> HolderCard:
        rec = _object(record, "holder card", 3)
        return cls(
            person_id=_str(rec, "person_id", "holder card"),
            card_id=_str(rec, "card_id", "holder card"),
            certificate=_b64(rec, "certificate", "holder card"),
        )


@dataclass(frozen=True)
class BackupHeader:
    """The clear part of a backup. Everything here is readable by anyone holding the file:
    no secret (the data key is wrapped under the master key, the workstation keys in the
    master key backup under the transport key the shares recover)."""

    backup_id: str
    made_at: str  # ISO 8601 UTC
    made_by: tuple[str, ...]  # the names of the people logged on
    workstation_id: str
    schema_version: int
    counts: BackupCounts
    # The master key backup record (set, scheme, threshold, holders, the workstation keys
    # wrapped under the transport key, its check value), as the repository keeps it; None
    # when the master key was never backed up by shares.
    master_key_backup: Mapping[str, Any] | None
    holder_cards: tuple[HolderCard, ...]
    data_key_wrapped: bytes  # RFC 5649 under the workstation master key
    data_key_kcv: str  # upper-case hex, AES CMAC check value of the data key
    nonce: bytes
    plain_size: int  # bytes of the repository copy before compression
    audit_public_key: bytes  # SubjectPublicKeyInfo DER

    @property
    def audit_key_fingerprint(self) -> str:
        return fingerprint(self.audit_public_key)

    def to_record(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "backup_id": self.backup_id,
            "made_at": self.made_at,
            "made_by": list(self.made_by),
            "workstation_id": self.workstation_id,
            "schema_version": self.schema_version,
            "counts": self.counts.to_record(),
            "master_key_backup": (
                dict(self.master_key_backup) if self.master_key_backup is not None else None
            ),
            "holder_cards": [c.to_record() for c in self.holder_cards],
            "data_key": {
                "algorithm": "AES-256",
                "wrapping": "RFC 5649 under the workstation master key",
                "wrapped": self.data_key_wrapped.hex(),
                "kcv": self.data_key_kcv,
            },
            "encryption": {
                "algorithm": "AES-256-GCM",
                "compression": "zlib",
                "nonce": self.nonce.hex(),
                "tag_bytes": TAG_BYTES,
                "plain_size": self.plain_size,
            },
            "audit_key": {
                "public_key": base64.b64encode(self.audit_public_key).decode("ascii"),
                "sha256": self.audit_key_fingerprint,
            },
        }

    def to_bytes(self) -> bytes:
        return _canonical(self.to_record())

    @classmethod
    def from_bytes(cls, data: bytes) -> BackupHeader:
        try:
            record = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BackupFormatError(
                "The backup header is damaged: it is not JSON text. The file was changed or "
                "cut; it cannot be used."
            ) from None
        rec = _object(record, "header", 13)
        if rec.get("format") != FORMAT_NAME or rec.get("version") != FORMAT_VERSION:
            raise BackupFormatError(
                f"The backup header names format {rec.get('format')!r} version "
                f"{rec.get('version')!r}; this software reads {FORMAT_NAME} version "
                f"{FORMAT_VERSION}."
            )
        data_key = _object(rec.get("data_key"), "data_key", 4)
        encryption = _object(rec.get("encryption"), "encryption", 5)
        audit_key = _object(rec.get("audit_key"), "audit_key", 2)
        if (encryption.get("algorithm"), encryption.get("compression")) != (
            "AES-256-GCM",
            "zlib",
        ) or encryption.get("tag_bytes") != TAG_BYTES:
            raise BackupFormatError(
                "The backup header names an encryption other than AES-256-GCM over zlib with "
                "a 16-byte tag; this software reads only that."
            )
        if data_key.get("algorithm") != "AES-256":
            raise BackupFormatError("The backup's data key is not an AES-256 key.")
        nonce = _hex(encryption, "nonce", "encryption")
        if len(nonce) != NONCE_BYTES:
            raise BackupFormatError(f"The backup's nonce is not {NONCE_BYTES} bytes long.")
        public_key = _b64(audit_key, "public_key", "audit_key")
        if _str(audit_key, "sha256", "audit_key") != fingerprint(public_key):
            raise BackupFormatError(
                "The backup header's audit key fingerprint does not match the audit key in it."
            )
        made_by = rec.get("made_by")
        if not isinstance(made_by, list) or not all(isinstance(n, str) for n in made_by):
            raise BackupFormatError("The backup header's 'made_by' is not a list of names.")
        master = rec.get("master_key_backup")
        if master is not None and not isinstance(master, dict):
            raise BackupFormatError("The backup header's master key backup is not an object.")
        cards = rec.get("holder_cards")
        if not isinstance(cards, list):
            raise BackupFormatError("The backup header's holder cards are not a list.")
        schema_version = rec.get("schema_version")
        if type(schema_version) is not int or schema_version < 1:
            raise BackupFormatError("The backup header's schema version is not a number.")
        header = cls(
            backup_id=_str(rec, "backup_id", "header"),
            made_at=_str(rec, "made_at", "header"),
            made_by=tuple(made_by),
            workstation_id=_str(rec, "workstation_id", "header"),
            schema_version=schema_version,
            counts=BackupCounts.from_record(rec.get("counts")),
            master_key_backup=master,
            holder_cards=tuple(HolderCard.from_record(c) for c in cards),
            data_key_wrapped=_hex(data_key, "wrapped", "data_key"),
            data_key_kcv=_str(data_key, "kcv", "data_key"),
            nonce=nonce,
            plain_size=_count(encryption, "plain_size"),
            audit_public_key=public_key,
        )
        if header.to_bytes() != data:
            raise BackupFormatError(
                "The backup header is not in canonical form (keys sorted, no spaces): it was "
                "written by something other than the workstation."
            )
        return header


def _object(value: Any, what: str, size: int) -> dict[str, Any]:
    if not isinstance(value, dict) or len(value) != size:
        part = "header" if what == "header" else f"header's {what}"
        raise BackupFormatError(
            f"The backup {part} is not the object this format has ({size} fields)."
        )
    return value


def _str(rec: Mapping[str, Any], name: str, what: str) -> str:
    value = rec.get(name)
    if not isinstance(value, str):
        raise BackupFormatError(f"The backup header's {what} has no text field {name!r}.")
    return value


def _count(rec: Mapping[str, Any], name: str) -> int:
    value = rec.get(name)
    if type(value) is not int or value < 0:
        raise BackupFormatError(f"The backup header's {name!r} is not a whole number.")
    return value


def _hex(rec: Mapping[str, Any], name: str, what: str) -> bytes:
    try:
        return bytes.fromhex(_str(rec, name, what))
    except ValueError:
        raise BackupFormatError(f"The backup header's {what} {name!r} is not hex.") from None


def _b64(rec: Mapping[str, Any], name: str, what: str) -> bytes:
    try:
        return base64.b64decode(_str(rec, name, what), validate=True)
    except ValueError:
        raise BackupFormatError(f"The backup header's {what} {name!r} is not base64.") from None


# --- writing -------------------------------------------------------------------------------


def write_backup(
    out: IO[bytes],
    header: BackupHeader,
    plain: IO[bytes],
    data_key: bytearray,
    sign: Callable[[bytes], bytes],
) -> bytes:
    """Write a whole backup into ``out`` (a new, seekable file, at offset 0): the header,
    ``plain`` (``header.plain_size`` bytes) compressed and encrypted under ``data_key``,
    then the signature that ``sign`` (the HSM audit key) makes over the file's digest.
    Returns the digest signed. ``data_key`` is not wiped here: the caller owns it."""
    if len(data_key) != DATA_KEY_BYTES:
        raise ValueError("the data key must be 32 bytes (AES-256)")
    header_bytes = header.to_bytes()
    out.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header_bytes)))
    out.write(header_bytes)
    length_at = out.tell()
    out.write(_U64.pack(0))  # filled in below, once the ciphertext is written
    encryptor = Cipher(algorithms.AES(data_key), modes.GCM(header.nonce)).encryptor()
    encryptor.authenticate_additional_data(header_bytes)
    compressor = zlib.compressobj(level=6)
    read = 0
    written = 0
    while chunk := plain.read(_CHUNK):
        read += len(chunk)
        written += _put(out, encryptor.update(compressor.compress(chunk)))
    written += _put(out, encryptor.update(compressor.flush()))
    written += _put(out, encryptor.finalize())
    written += _put(out, encryptor.tag)
    if read != header.plain_size:
        raise ValueError(
            f"the repository copy is {read} bytes, the header says {header.plain_size}"
        )
    end = out.tell()
    out.seek(length_at)
    out.write(_U64.pack(written))
    out.flush()
    out.seek(0)
    digest = hashlib.sha256()
    remaining = end
    while remaining:
        chunk = out.read(min(_CHUNK, remaining))
        if not chunk:
            raise OSError("the backup file became shorter while it was written")
        digest.update(chunk)
        remaining -= len(chunk)
    signature = sign(signature_message(digest.digest()))
    if not 0 < len(signature) <= MAX_SIGNATURE_BYTES:
        raise ValueError(f"a {len(signature)}-byte signature does not fit the format")
    out.seek(end)
    out.write(_U16.pack(len(signature)))
    out.write(signature)
    out.flush()
    return digest.digest()


def _put(out: IO[bytes], data: bytes) -> int:
    if data:
        out.write(data)
    return len(data)


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupFile:
    """A backup file whose structure was read: its header parsed, its digest computed. The
    signature is checked by ``signature_valid`` against a key the caller trusts; the
    content is read only by ``decrypt_to``, which checks the GCM tag."""

    path: Path
    header: BackupHeader
    header_bytes: bytes
    ciphertext_offset: int
    ciphertext_length: int
    signature: bytes
    digest: bytes  # SHA-256 over every byte before the signature length field
    size: int

    def signature_valid(self, public_key_der: bytes) -> bool:
        """Whether the signature verifies with ``public_key_der`` (an EC P-256
        SubjectPublicKeyInfo). False for any other key type or a malformed key."""
        try:
            key = serialization.load_der_public_key(public_key_der)
        except ValueError:
            return False
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            return False
        try:
            key.verify(self.signature, signature_message(self.digest), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    def decrypt_to(self, out: IO[bytes], data_key: bytearray) -> int:
        """Decrypt and decompress the repository copy into ``out``; returns its size.

        GCM releases plaintext before its tag is checked at the end, so ``out`` must be a
        private temporary file that the caller uses only when this returns (on an error
        it holds unauthenticated bytes: remove it). Raises IntegrityError naming what
        failed."""
        if len(data_key) != DATA_KEY_BYTES:
            raise ValueError("the data key must be 32 bytes (AES-256)")
        header = self.header
        decryptor = Cipher(algorithms.AES(data_key), modes.GCM(header.nonce)).decryptor()
        decryptor.authenticate_additional_data(self.header_bytes)
        decompressor = zlib.decompressobj()
        written = 0
        failed = IntegrityError(
            f"The backup {self.path.name} does not decrypt: its content or header was changed "
            "after it was made (AES-GCM authentication failed). It cannot be used."
        )

        def emit(data: bytes) -> None:
            nonlocal written
            # A changed ciphertext could decompress to anything: never past the size the
            # header states (a decompression bomb stops here, not when the disk is full).
            while data:
                piece = decompressor.decompress(data, header.plain_size - written + 1)
                written += len(piece)
                if written > header.plain_size:
                    raise failed
                out.write(piece)
                data = decompressor.unconsumed_tail

        with self.path.open("rb") as source:
            source.seek(self.ciphertext_offset)
            remaining = self.ciphertext_length - TAG_BYTES
            try:
                while remaining:
                    chunk = source.read(min(_CHUNK, remaining))
                    if not chunk:
                        raise BackupFormatError(
                            f"The backup {self.path.name} became shorter while it was read."
                        )
                    remaining -= len(chunk)
                    emit(decryptor.update(chunk))
                tag = source.read(TAG_BYTES)
                emit(decryptor.finalize_with_tag(tag))
                emit(decompressor.flush())
            except (InvalidTag, zlib.error):
                raise failed from None
        if not decompressor.eof or decompressor.unused_data or written != header.plain_size:
            raise failed
        out.flush()
        return written


def read_backup(path: Path) -> BackupFile:
    """Read a backup's structure and compute its digest (the whole file is read once).
    Raises BackupFormatError naming what is wrong: not a backup (or a plain repository
    copy of the old kind), another format version, truncated, trailing bytes, a header
    that does not parse. Checks no signature and decrypts nothing."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise BadInput(f"There is no backup file {path}.") from None
    except OSError as exc:
        raise BadInput(f"The backup {path} cannot be read: {exc.strerror or exc}.") from None
    name = path.name
    with handle:
        size = _size(handle)
        start = handle.read(_PREFIX.size)
        if start == SQLITE_MAGIC:
            raise BackupFormatError(
                f"{name} is a plain repository copy (an SQLite file), the kind made before "
                f"signed, encrypted backups (backup format {FORMAT_VERSION}, workstation "
                "0.1). It is neither signed nor encrypted, so it is not restored or "
                "verified: make a new backup with 'workstation-cli repository backup' on the "
                "workstation it came from, then destroy the plain copy."
            )
        if len(start) < _PREFIX.size or not start.startswith(MAGIC):
            raise BackupFormatError(
                f"{name} is not a workstation repository backup (it does not begin with the "
                "backup file's mark)."
            )
        _, version, header_length = _PREFIX.unpack(start)
        if version != FORMAT_VERSION:
            raise BackupFormatError(
                f"{name} is a backup of format version {version}; this software reads "
                f"version {FORMAT_VERSION}."
            )
        digest = hashlib.sha256(start)
        if header_length > MAX_HEADER_BYTES or _PREFIX.size + header_length > size:
            raise BackupFormatError(f"{name} is cut short or damaged: its header length is wrong.")
        header_bytes = handle.read(header_length)
        digest.update(header_bytes)
        raw_length = handle.read(_U64.size)
        if len(raw_length) != _U64.size:
            raise BackupFormatError(f"{name} is cut short: it ends after the header.")
        digest.update(raw_length)
        (ciphertext_length,) = _U64.unpack(raw_length)
        ciphertext_offset = handle.tell()
        if ciphertext_length < TAG_BYTES or ciphertext_offset + ciphertext_length > size:
            raise BackupFormatError(
                f"{name} is cut short or damaged: its encrypted part is not all there."
            )
        remaining = ciphertext_length
        while remaining:
            chunk = handle.read(min(_CHUNK, remaining))
            if not chunk:
                raise BackupFormatError(f"{name} became shorter while it was read.")
            digest.update(chunk)
            remaining -= len(chunk)
        raw_length = handle.read(_U16.size)
        if len(raw_length) != _U16.size:
            raise BackupFormatError(f"{name} is cut short: its signature is missing.")
        (signature_length,) = _U16.unpack(raw_length)
        signature = handle.read(signature_length)
        if not 0 < signature_length <= MAX_SIGNATURE_BYTES or len(signature) != signature_length:
            raise BackupFormatError(f"{name} is cut short or damaged: its signature is not whole.")
        if handle.read(1):
            raise BackupFormatError(
                f"{name} has bytes after its signature: something was appended to the file."
            )
    header = BackupHeader.from_bytes(header_bytes)
    return BackupFile(
        path=path,
        header=header,
        header_bytes=header_bytes,
        ciphertext_offset=ciphertext_offset,
        ciphertext_length=ciphertext_length,
        signature=signature,
        digest=digest.digest(),
        size=size,
    )


def _size(handle: IO[bytes]) -> int:
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(0)
    return size
