"""Standalone verifier of the workstation's hash-chained, HSM-signed audit log.

This one file is all an auditor needs: it depends on the Python standard library and
``cryptography`` only, never on the rest of the workstation, its HSM or its repository, so
it can be copied to another machine and run as ``python audit_verify.py EXPORT --public-key
KEY.pem``. The workstation itself imports the functions below (the repository to chain new
entries, the services to sign checkpoints and to verify), so there is exactly one
definition of the format.

The chain
---------
Every audit entry has a sequence number ``seq`` (1, 2, 3, ... without gaps) and a *body*:
a JSON object (the workstation's ``AuditEvent.body(seq)``; it contains ``"seq"`` itself).
Its canonical encoding is::

    canonical(body) = UTF-8 of json.dumps(body, sort_keys=True, separators=(",", ":"),
                                          ensure_ascii=False)

that is: keys sorted by code point, no white space, non-ASCII characters as themselves
(UTF-8), the JSON escapes of Python's ``json`` module otherwise. The hash of entry ``n`` is::

    hash_n = SHA-256( b"kcw-audit-entry-v1" || 0x00 || hash_{n-1} || canonical(body_n) )

where ``hash_{n-1}`` is the 32-byte hash of the previous entry, and for entry 1 the
*genesis hash*, 32 zero bytes. Each stored entry keeps ``prev_hash`` (= ``hash_{n-1}``) and
``hash``, so deleting, inserting, reordering or editing an entry breaks the chain.

Checkpoints
-----------
Someone able to rewrite the file could recompute every hash after an edit. So from time to
time the workstation has its HSM audit key (ECDSA on P-256) sign the current head of the
chain. The signed message is::

    b"kcw-audit-checkpoint-v1" || 0x00 || canonical({"at": AT, "hash": HEX,
                                                   "seq": SEQ, "workstation_id": WS})

with ``HEX`` the lower-case hex of ``hash_SEQ`` and ``AT`` the signing time (UTC,
``YYYY-MM-DDTHH:MM:SS.ffffffZ``); the signature is ECDSA P-256 with SHA-256, DER-encoded. A
checkpoint is stored as (seq, hash, at, signature). A chain rewritten after an edit no longer
matches the checkpoints signed before, and entries deleted from the end are caught by a
checkpoint beyond the new end. Entries after the last checkpoint rest on the hash chain
alone; the verifier reports how many there are (a warning, not a failure).

The export file
---------------
UTF-8 JSON Lines, one canonical JSON object per line, ``\\n`` line ends, in this order:

1. a header::

       {"checkpoints": M, "entries": N, "exported_at": "...", "format": "kcw-audit-export",
        "public_key_pem": "-----BEGIN PUBLIC KEY-----\\n...", "version": 1,
        "workstation_id": "..."}

2. ``M`` checkpoint lines, in seq order (before the entries, so that a verifier reads the
   file once, holding only the checkpoints and the running state)::

       {"checkpoint": {"at": "...", "hash": HEX, "seq": SEQ, "signature": HEX_DER}}

3. ``N`` entry lines, in seq order::

       {"body": {...}, "hash": HEX, "prev_hash": HEX, "seq": SEQ}

The header's public key is informative only: the trust anchor is the key the auditor
obtained from the bank's published record and gives on the command line; an export whose
embedded key differs fails.

Ceremony records
----------------
A key ceremony's record, exported for an auditor, is checked here too: see the section
"ceremony records" below for its format and for what is verified.

Command line
------------
``workstation-audit-verify EXPORT_FILE --public-key KEY.pem [--json]`` exits 0 when the
log verifies, 1 when it does not (naming the first bad entry), 2 for a usage error or a
file that cannot be read.

``workstation-audit-verify --ceremony RECORD --public-key KEY.pem [--audit-export
EXPORT_FILE] [--json]`` verifies a ceremony record (and, given an export, the log and the
entry that recorded the ceremony), with the same exit statuses.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # cryptography is imported where a signature or key is handled
    from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "CEREMONY_RECORD_DOMAIN",
    "CEREMONY_RECORD_FORMAT",
    "CEREMONY_RECORD_VERSION",
    "CHECKPOINT_DOMAIN",
    "ENTRY_DOMAIN",
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "GENESIS_HASH",
    "AuditExport",
    "CeremonyRecord",
    "CeremonyRecordError",
    "CeremonyReport",
    "ChainCheckpoint",
    "ChainEntry",
    "ExportFormatError",
    "Problem",
    "RecordSignature",
    "Report",
    "SignatureCheck",
    "canonical",
    "ceremony_record_file",
    "ceremony_record_message",
    "checkpoint_message",
    "entry_hash",
    "entry_hash_canonical",
    "load_public_key",
    "main",
    "parse_ceremony_record",
    "public_key_fingerprint",
    "read_ceremony_record",
    "read_export",
    "verify_ceremony_record",
    "verify_chain",
    "verify_export",
    "write_export",
]

GENESIS_HASH = bytes(32)
ENTRY_DOMAIN = b"kcw-audit-entry-v1\x00"
CHECKPOINT_DOMAIN = b"kcw-audit-checkpoint-v1\x00"
EXPORT_FORMAT = "kcw-audit-export"
EXPORT_VERSION = 1
MAX_PROBLEMS = 100  # problems kept in a report; the total is still counted

# (seq, body, prev_hash, hash). The body is the JSON object, or its canonical encoding as
# stored (bytes): those bytes are then hashed as they are, which spares re-encoding a
# million bodies and is just as strict, since the hash fixes every byte.
ChainEntry = tuple[int, Mapping[str, Any] | bytes, bytes, bytes]
# (seq, hash, at, signature)
ChainCheckpoint = tuple[int, bytes, str, bytes]

# One encoder object for every call: json.dumps() would build a new one each time.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(body: Mapping[str, Any]) -> bytes:
    """The canonical encoding that is hashed: sorted keys, no white space, UTF-8.

    >>> canonical({"seq": 1, "action": "key.generate", "name": "Zoë"})
    b'{"action":"key.generate","name":"Zo\\xc3\\xab","seq":1}'
    """
    return _ENCODER.encode(body).encode("utf-8")


def entry_hash_canonical(prev_hash: bytes, body: bytes) -> bytes:
    """``entry_hash`` for a body already in canonical form."""
    return hashlib.sha256(ENTRY_DOMAIN + prev_hash + body).digest()


def entry_hash(prev_hash: bytes, body: Mapping[str, Any]) -> bytes:
    """SHA-256(b"kcw-audit-entry-v1" || 0x00 || prev_hash || canonical(body)).

    >>> entry_hash(GENESIS_HASH, {"seq": 1}).hex()[:16]
    '9241c9f8a5e14fbc'
    """
    if len(prev_hash) != 32:
        raise ValueError(f"prev_hash must be 32 bytes, not {len(prev_hash)}")
    return entry_hash_canonical(prev_hash, canonical(body))


def checkpoint_message(workstation_id: str, seq: int, entry_hash: bytes, at: str) -> bytes:
    """The bytes the HSM audit key signs for a checkpoint at entry ``seq``."""
    return CHECKPOINT_DOMAIN + canonical(
        {"at": at, "hash": entry_hash.hex(), "seq": seq, "workstation_id": workstation_id}
    )


# --- verification ------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the log; ``seq`` is the entry it concerns (None: the file)."""

    seq: int | None
    message: str


@dataclass(frozen=True)
class Report:
    """The outcome of a verification. ``ok`` is False when there is any problem."""

    ok: bool
    workstation_id: str
    entries_checked: int
    first_seq: int | None
    last_seq: int | None
    checkpoints_checked: int
    checkpoints_valid: int  # signature verified and hash equal to the entry's
    last_signed_seq: int | None  # the last entry covered by a valid signed checkpoint
    uncovered_entries: int  # entries after ``last_signed_seq``
    # The first MAX_PROBLEMS, in the order of the log as stored; those about the file as a
    # whole (seq None) first.
    problems: tuple[Problem, ...] = ()
    problems_total: int = 0
    warnings: tuple[str, ...] = ()
    signatures_checked: bool = True

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    @property
    def problem(self) -> str | None:
        """The first problem's message (None when the log verifies)."""
        return self.problems[0].message if self.problems else None

    def with_problem(self, problem: Problem) -> Report:
        """This report with one more problem found outside the chain (in an export file);
        one about the whole file (seq None) goes first."""
        problems = (problem, *self.problems) if problem.seq is None else (*self.problems, problem)
        return replace(
            self,
            ok=False,
            problems=problems[:MAX_PROBLEMS],
            problems_total=self.problems_total + 1,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "workstation_id": self.workstation_id,
            "entries_checked": self.entries_checked,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "checkpoints_checked": self.checkpoints_checked,
            "checkpoints_valid": self.checkpoints_valid,
            "last_signed_seq": self.last_signed_seq,
            "uncovered_entries": self.uncovered_entries,
            "signatures_checked": self.signatures_checked,
            "first_problem": self.problems[0].message if self.problems else None,
            "problems": [{"seq": p.seq, "message": p.message} for p in self.problems],
            "problems_total": self.problems_total,
            "warnings": list(self.warnings),
        }

    def summary(self) -> str:
        return "\n".join(self.lines())

    def lines(self) -> list[str]:
        """The report for a person, one line per item."""
        if self.entries_checked:
            span = f" (seq {self.first_seq} to {self.last_seq})"
        else:
            span = ""
        if self.last_signed_seq is not None:
            covered = f"; the last valid signed checkpoint covers entry {self.last_signed_seq}"
        else:
            covered = "; no entry is covered by a valid signed checkpoint"
        out = [
            f"Workstation   {self.workstation_id}",
            f"Entries       {self.entries_checked} checked{span}",
            f"Checkpoints   {self.checkpoints_checked} checked, "
            f"{self.checkpoints_valid} valid{covered}",
        ]
        if self.ok:
            out.append(
                "Result        VERIFIED: the log is complete and unaltered up to its last "
                "entry and matches every signed checkpoint."
            )
        else:
            first = self.problems[0].message if self.problems else "unknown problem"
            out.append(f"Result        FAILED: {first}")
            if self.problems_total > 1:
                out.append(f"              {self.problems_total} problems in all:")
                out.extend(f"                {p.message}" for p in self.problems)
                if self.problems_total > len(self.problems):
                    rest = self.problems_total - len(self.problems)
                    out.append(f"                ... and {rest} more")
        out.extend(f"Warning       {w}" for w in self.warnings)
        return out


def _deleted(first: int, last: int) -> str:
    if first == last:
        return f"entry {first} deleted?"
    return f"entries {first} to {last} deleted?"


def _body_seq_ok(body: Mapping[str, Any] | bytes, seq: int) -> bool:
    if isinstance(body, bytes):
        # In canonical form "seq" is the last key of the object, so the text ends in
        # ,"seq":N} ; anything else is parsed and looked at properly.
        if body.endswith(b',"seq":%d}' % seq):
            return True
        try:
            parsed = json.loads(body)
        except ValueError:
            return False
        return isinstance(parsed, dict) and _same_seq(parsed.get("seq"), seq)
    return _same_seq(body.get("seq"), seq)


def _same_seq(value: object, seq: int) -> bool:
    return type(value) is int and value == seq


def verify_chain(
    entries: Iterable[ChainEntry],
    checkpoints: Iterable[ChainCheckpoint],
    public_key: ec.EllipticCurvePublicKey | None,
    workstation_id: str,
) -> Report:
    """Verify a whole audit log, from entry 1, streaming.

    ``entries`` are (seq, body, prev_hash, hash) in stored order; ``checkpoints`` are
    (seq, hash, at, signature). Only the running state and the checkpoints are held, so a
    log of any length is checked in constant memory. Each entry gets at most one problem
    (the first check it fails); after a bad entry the check goes on from the entry as
    stored, so one edit yields one problem, and the report names the first.

    With ``public_key`` None, checkpoint signatures are not checked (a warning) and no
    entry counts as covered by a signed checkpoint.
    """
    by_seq: dict[int, list[ChainCheckpoint]] = {}
    # Bad signatures are reported where their entry comes in the stream (so problems read
    # in stored order), or at the end if the entry never comes.
    signature_problems: dict[int, list[Problem]] = {}
    signed: set[ChainCheckpoint] = set()
    checkpoints_checked = 0
    for cp in sorted(checkpoints, key=lambda c: c[0]):
        checkpoints_checked += 1
        seq, cp_hash, at, signature = cp
        by_seq.setdefault(seq, []).append(cp)
        if public_key is None:
            continue
        try:
            public_key.verify(
                signature,
                checkpoint_message(workstation_id, seq, cp_hash, at),
                _ec().ECDSA(_hashes().SHA256()),
            )
        except (_invalid_signature(), ValueError):
            signature_problems.setdefault(seq, []).append(
                Problem(
                    seq,
                    f"checkpoint at entry {seq} (signed {at}): the signature does not verify "
                    f"with the audit public key for workstation {workstation_id} "
                    "(forged, altered, or signed by another key?)",
                )
            )
        else:
            signed.add(cp)

    problems: list[Problem] = []
    total = 0

    def problem(seq: int, message: str) -> None:
        nonlocal total
        total += 1
        if len(problems) < MAX_PROBLEMS:
            problems.append(Problem(seq, message))

    def signature_problems_at(seq: int) -> None:
        nonlocal total
        for p in signature_problems.pop(seq, ()):
            total += 1
            if len(problems) < MAX_PROBLEMS:
                problems.append(p)

    sha256 = hashlib.sha256
    encode = _ENCODER.encode
    domain = ENTRY_DOMAIN
    checkpoint_seqs = by_seq.keys()
    seen_checkpoint_seqs: set[int] = set()
    last_seq = 0
    last_hash = GENESIS_HASH
    first_seq: int | None = None
    count = 0
    valid_checkpoints = 0
    last_signed: int | None = None
    last_matching_checkpoint = 0

    for seq, body, prev_hash, stored_hash in entries:
        count += 1
        if first_seq is None:
            first_seq = seq
        if seq != last_seq + 1:
            if seq > last_seq + 1 and last_seq == 0:
                problem(seq, f"entry {seq} is the first entry ({_deleted(1, seq - 1)})")
            elif seq > last_seq + 1:
                problem(
                    seq,
                    f"entry {seq} follows entry {last_seq} ({_deleted(last_seq + 1, seq - 1)})",
                )
            elif seq == last_seq:
                problem(seq, f"entry {seq} appears twice (inserted?)")
            else:
                problem(
                    seq, f"entry {seq} follows entry {last_seq} (out of order: moved or inserted?)"
                )
        elif prev_hash != last_hash:
            if seq == 1:
                problem(seq, "entry 1: prev_hash is not the genesis hash (entries before it?)")
            else:
                problem(
                    seq,
                    f"entry {seq}: prev_hash is not the hash of entry {last_seq} "
                    "(an entry inserted, deleted or replaced before it?)",
                )
        else:
            text: bytes | None
            if isinstance(body, bytes):
                text = body
            else:
                try:
                    text = encode(body).encode("utf-8")
                except (TypeError, ValueError) as exc:
                    text = None
                    problem(seq, f"entry {seq}: the body cannot be encoded as JSON ({exc})")
            if text is None:
                pass
            elif sha256(domain + prev_hash + text).digest() != stored_hash:
                problem(seq, f"entry {seq}: hash does not match its content (edited?)")
            elif not _body_seq_ok(body, seq):
                problem(seq, f"entry {seq}: its body names another seq (moved?)")

        if seq in checkpoint_seqs:
            seen_checkpoint_seqs.add(seq)
            signature_problems_at(seq)
            for cp in by_seq[seq]:
                if cp[1] != stored_hash:
                    since = (
                        f"entry {last_matching_checkpoint}, the last checkpointed entry that "
                        "matches?"
                        if last_matching_checkpoint
                        else "an edit?"
                    )
                    problem(
                        seq,
                        f"entry {seq}: its hash differs from the checkpoint signed at {cp[2]} "
                        f"(the log was rewritten after {since})",
                    )
                elif public_key is None:
                    last_matching_checkpoint = seq
                elif cp in signed:
                    valid_checkpoints += 1
                    last_matching_checkpoint = seq
                    last_signed = seq
        last_seq = seq
        last_hash = stored_hash

    for seq, cps in by_seq.items():
        if seq in seen_checkpoint_seqs:
            continue
        signature_problems_at(seq)
        at = cps[0][2]
        if seq > last_seq:
            end = f"the last entry {last_seq}" if count else "the end of an empty log"
            problem(
                seq,
                f"checkpoint at entry {seq} (signed {at}) is beyond {end} "
                f"({_deleted(last_seq + 1, seq)})",
            )
        else:
            problem(seq, f"checkpoint at entry {seq} (signed {at}): no such entry (deleted?)")

    warnings: list[str] = []
    if public_key is None:
        warnings.append("no public key given: checkpoint signatures were not checked")
    uncovered = last_seq - (last_signed or 0)
    if uncovered:
        after = f" after entry {last_signed}" if last_signed else ""
        warnings.append(
            f"{uncovered} entr{'y' if uncovered == 1 else 'ies'}{after} not yet covered by a "
            "signed checkpoint: they rest on the hash chain alone (entries deleted from the "
            "end would not show)"
        )
    return Report(
        ok=total == 0,
        workstation_id=workstation_id,
        entries_checked=count,
        first_seq=first_seq,
        last_seq=last_seq if count else None,
        checkpoints_checked=checkpoints_checked,
        checkpoints_valid=valid_checkpoints,
        last_signed_seq=last_signed,
        uncovered_entries=uncovered,
        problems=tuple(problems),
        problems_total=total,
        warnings=tuple(warnings),
        signatures_checked=public_key is not None,
    )


# --- export file -------------------------------------------------------------------------


class ExportFormatError(ValueError):
    """The export file is malformed; the message names the line and the field."""


# An entry line as write_export writes it: {"body":{...},"hash":"..","prev_hash":"..","seq":N}
_ENTRY_TAIL = re.compile(
    rb',"hash":"([0-9a-f]{64})","prev_hash":"([0-9a-f]{64})","seq":([1-9][0-9]{0,18})\}'
)
_ENTRY_HEAD = b'{"body":{'
_TAIL_MARK = b',"hash":"'


def _ec() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec


def _hashes() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes


def _invalid_signature() -> type[Exception]:
    from cryptography.exceptions import InvalidSignature

    return InvalidSignature


def load_public_key(pem: bytes | str) -> ec.EllipticCurvePublicKey:
    """An EC P-256 public key from PEM (SubjectPublicKeyInfo). Raises ValueError."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM public key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("not an EC P-256 public key")
    return key


def _public_der(key: ec.EllipticCurvePublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _entry_line(seq: int, body: Mapping[str, Any] | bytes, prev_hash: bytes, hash_: bytes) -> bytes:
    text = body if isinstance(body, bytes) else canonical(body)
    # Same bytes as canonical({"body": body, "hash": ..., "prev_hash": ..., "seq": seq}):
    # the keys are already in sorted order and the body is already canonical.
    return b'{"body":%s,"hash":"%s","prev_hash":"%s","seq":%d}\n' % (
        text,
        hash_.hex().encode(),
        prev_hash.hex().encode(),
        seq,
    )


def _checkpoint_line(cp: ChainCheckpoint) -> bytes:
    seq, hash_, at, signature = cp
    record = {"at": at, "hash": hash_.hex(), "seq": seq, "signature": signature.hex()}
    return canonical({"checkpoint": record}) + b"\n"


def write_export(
    path: Path | str,
    *,
    workstation_id: str,
    public_key_pem: str,
    entries: Iterable[ChainEntry],
    checkpoints: Iterable[ChainCheckpoint],
    exported_at: str,
) -> int:
    """Write an export file atomically (a temporary file beside it, then a rename).

    ``entries`` may be a stream (a generator over the repository): they are spooled to a
    second temporary file first, since the header, which comes first, counts them. A body
    given as bytes must be its canonical encoding (as the repository stores it). Returns
    the number of entries written.
    """
    target = Path(path)
    directory = target.parent
    cps = sorted(checkpoints, key=lambda c: c[0])
    spool: IO[bytes] | None = None
    out: IO[bytes] | None = None
    try:
        if isinstance(entries, Sequence):
            count = len(entries)
            source: Iterable[ChainEntry] | None = entries
        else:
            spool = tempfile.NamedTemporaryFile(
                dir=directory, prefix=f".{target.name}.", suffix=".spool", delete=False
            )
            count = 0
            for seq, body, prev_hash, hash_ in entries:
                spool.write(_entry_line(seq, body, prev_hash, hash_))
                count += 1
            spool.flush()
            spool.seek(0)
            source = None
        out = tempfile.NamedTemporaryFile(
            dir=directory, prefix=f".{target.name}.", suffix=".tmp", delete=False
        )
        header = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "workstation_id": workstation_id,
            "exported_at": exported_at,
            "public_key_pem": public_key_pem,
            "entries": count,
            "checkpoints": len(cps),
        }
        out.write(canonical(header) + b"\n")
        for cp in cps:
            out.write(_checkpoint_line(cp))
        if source is not None:
            for seq, body, prev_hash, hash_ in source:
                out.write(_entry_line(seq, body, prev_hash, hash_))
        else:
            assert spool is not None
            shutil.copyfileobj(spool, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())
        out.close()
        os.replace(out.name, target)
        out = None
        _fsync_directory(directory)
        return count
    finally:
        for handle in (spool, out):
            if handle is not None:
                handle.close()
                try:
                    os.unlink(handle.name)
                except FileNotFoundError:
                    pass


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not every platform opens directories
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True)
class AuditExport:
    """A parsed export: the header and checkpoints now, the entries as they are iterated."""

    path: Path
    workstation_id: str
    exported_at: str
    public_key_pem: str
    entry_count: int  # as announced by the header
    checkpoints: tuple[ChainCheckpoint, ...]
    first_entry_line: int
    _entries_seen: list[int] = field(default_factory=lambda: [0], repr=False, compare=False)

    @property
    def entries_read(self) -> int:
        """How many entry lines the last full ``entries()`` pass read."""
        return self._entries_seen[0]

    def entries(self) -> Iterator[ChainEntry]:
        """(seq, body, prev_hash, hash) per entry line, streamed.

        The body is the bytes of the JSON object as they stand in the line (its canonical
        form, as written), so the hash is checked on exactly what the file holds. Raises
        ExportFormatError naming the line for a malformed one.
        """
        self._entries_seen[0] = 0
        head = _ENTRY_HEAD
        tail = _ENTRY_TAIL.fullmatch
        mark = _TAIL_MARK
        seen = self._entries_seen
        with open(self.path, "rb") as f:
            for _ in range(self.first_entry_line - 1):
                f.readline()
            number = self.first_entry_line - 1
            for raw in f:
                number += 1
                line = raw.rstrip(b"\r\n")
                # Fast path: a line exactly as write_export writes it. The body is then the
                # bytes between {"body": and the last ,"hash":" (nothing after that mark
                # can hold another one), hashed as they stand.
                if line.startswith(head):
                    pos = line.rfind(mark)
                    m = tail(line, pos) if pos > 0 and line[pos - 1] == 0x7D else None
                    if m is not None:
                        seen[0] += 1
                        yield (
                            int(m[3]),
                            line[8:pos],
                            bytes.fromhex(m[2].decode()),
                            bytes.fromhex(m[1].decode()),
                        )
                        continue
                record = _parse_line(line, number)
                if "checkpoint" in record:
                    raise ExportFormatError(
                        f"line {number}: a checkpoint after the entries (checkpoints come "
                        "right after the header)"
                    )
                entry = _entry_from_record(record, number)
                seen[0] += 1
                yield entry


def _parse_line(line: bytes, number: int) -> dict[str, Any]:
    if not line.strip():
        raise ExportFormatError(f"line {number}: empty line")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExportFormatError(f"line {number}: not UTF-8 (byte {exc.start + 1})") from None
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise ExportFormatError(f"line {number}: not valid JSON ({exc})") from None
    if not isinstance(record, dict):
        raise ExportFormatError(f"line {number}: not a JSON object")
    return record


def _field(record: Mapping[str, Any], name: str, kind: type, number: int) -> Any:
    if name not in record:
        raise ExportFormatError(f"line {number}: field {name!r} is missing")
    value = record[name]
    if kind is int:
        if type(value) is not int:
            raise ExportFormatError(f"line {number}: field {name!r} must be an integer")
    elif not isinstance(value, kind):
        what = "a string" if kind is str else "a JSON object" if kind is dict else kind.__name__
        raise ExportFormatError(f"line {number}: field {name!r} must be {what}")
    return value


def _hex_field(record: Mapping[str, Any], name: str, number: int, *, size: int | None) -> bytes:
    value = _field(record, name, str, number)
    if size is not None and len(value) != size * 2:
        raise ExportFormatError(
            f"line {number}: field {name!r} must be {size * 2} hex digits, not {len(value)}"
        )
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ExportFormatError(f"line {number}: field {name!r} is not hexadecimal") from None


def _exact_fields(record: Mapping[str, Any], names: set[str], number: int, what: str) -> None:
    extra = sorted(set(record) - names)
    if extra:
        raise ExportFormatError(f"line {number}: unknown field {extra[0]!r} in {what}")


def _entry_from_record(record: Mapping[str, Any], number: int) -> ChainEntry:
    _exact_fields(record, {"seq", "body", "prev_hash", "hash"}, number, "an entry")
    seq = _field(record, "seq", int, number)
    if seq < 1:
        raise ExportFormatError(f"line {number}: field 'seq' must be 1 or more")
    body = _field(record, "body", dict, number)
    prev_hash = _hex_field(record, "prev_hash", number, size=32)
    hash_ = _hex_field(record, "hash", number, size=32)
    return seq, body, prev_hash, hash_


def _checkpoint_from_record(record: Mapping[str, Any], number: int) -> ChainCheckpoint:
    _exact_fields(record, {"checkpoint"}, number, "a checkpoint line")
    cp = _field(record, "checkpoint", dict, number)
    _exact_fields(cp, {"seq", "hash", "at", "signature"}, number, "a checkpoint")
    seq = _field(cp, "seq", int, number)
    if seq < 1:
        raise ExportFormatError(f"line {number}: field 'seq' must be 1 or more")
    return (
        seq,
        _hex_field(cp, "hash", number, size=32),
        _field(cp, "at", str, number),
        _hex_field(cp, "signature", number, size=None),
    )


def read_export(path: Path | str) -> AuditExport:
    """Open an export: parse the header and the checkpoints; entries stream on demand.

    Raises ExportFormatError (line number and field) for a malformed file and OSError if
    it cannot be read.
    """
    source = Path(path)
    with open(source, "rb") as f:
        first = f.readline()
        if not first:
            raise ExportFormatError("line 1: the file is empty (no header)")
        header = _parse_line(first.rstrip(b"\r\n"), 1)
        if header.get("format") != EXPORT_FORMAT:
            raise ExportFormatError(
                f"line 1: field 'format' must be {EXPORT_FORMAT!r} (not an audit export?)"
            )
        version = _field(header, "version", int, 1)
        if version != EXPORT_VERSION:
            raise ExportFormatError(
                f"line 1: field 'version' is {version}; this verifier reads version "
                f"{EXPORT_VERSION}"
            )
        _exact_fields(
            header,
            {
                "format",
                "version",
                "workstation_id",
                "exported_at",
                "public_key_pem",
                "entries",
                "checkpoints",
            },
            1,
            "the header",
        )
        workstation_id = _field(header, "workstation_id", str, 1)
        exported_at = _field(header, "exported_at", str, 1)
        public_key_pem = _field(header, "public_key_pem", str, 1)
        entry_count = _field(header, "entries", int, 1)
        checkpoint_count = _field(header, "checkpoints", int, 1)
        if entry_count < 0 or checkpoint_count < 0:
            raise ExportFormatError("line 1: the entry and checkpoint counts must be 0 or more")
        checkpoints: list[ChainCheckpoint] = []
        for number in range(2, 2 + checkpoint_count):
            raw = f.readline()
            if not raw:
                raise ExportFormatError(
                    f"line {number}: the file ends; the header announces {checkpoint_count} "
                    "checkpoints"
                )
            record = _parse_line(raw.rstrip(b"\r\n"), number)
            if "checkpoint" not in record:
                raise ExportFormatError(
                    f"line {number}: expected a checkpoint (the header announces "
                    f"{checkpoint_count}), found another kind of line"
                )
            checkpoints.append(_checkpoint_from_record(record, number))
    return AuditExport(
        path=source,
        workstation_id=workstation_id,
        exported_at=exported_at,
        public_key_pem=public_key_pem,
        entry_count=entry_count,
        checkpoints=tuple(checkpoints),
        first_entry_line=2 + checkpoint_count,
    )


def verify_export(export: AuditExport, public_key: ec.EllipticCurvePublicKey) -> Report:
    """Verify an export against the trusted ``public_key`` (not the one the file embeds).

    Raises ExportFormatError for a malformed entry line.
    """
    report = verify_chain(export.entries(), export.checkpoints, public_key, export.workstation_id)
    try:
        embedded = load_public_key(export.public_key_pem)
    except ValueError as exc:
        report = report.with_problem(
            Problem(None, f"the export's embedded public key cannot be read ({exc})")
        )
    else:
        if _public_der(embedded) != _public_der(public_key):
            report = report.with_problem(
                Problem(
                    None,
                    "the export embeds a different public key from the trusted key given "
                    "with --public-key (exported by another workstation, or replaced?)",
                )
            )
    if export.entries_read != export.entry_count:
        report = report.with_problem(
            Problem(
                None,
                f"the header announces {export.entry_count} entries but the file holds "
                f"{export.entries_read} (lines removed or added?)",
            )
        )
    return report


# --- ceremony records ------------------------------------------------------------------------
#
# A key ceremony's transcript is signed by every participant's PIV card (slot 9A key):
# ECDSA with SHA-256 (DER) for an EC card, RSASSA-PKCS1-v1_5 with SHA-256 for an RSA card,
# over canonical(transcript). The workstation exports a ceremony *record* for an auditor:
# one JSON object (written indented; only its content counts, never its layout)::
#
#     {"format": "kcw-ceremony-record", "version": 1,
#      "workstation_id": WS, "ceremony_id": ID, "exported_at": AT,
#      "transcript": {...},            # the object the cards signed, field for field
#      "transcript_sha256": HEX,       # SHA-256 of canonical(transcript)
#      "signatures": [{"person_id": .., "name": .., "card_id": HEX,
#                      "certificate": BASE64_DER, "signature": BASE64_DER}, ...],
#      "audit_entry": {"seq": N, "hash": HEX, "action": "ceremony.<kind>"},
#      "audit_key_sha256": HEX,        # informative: the fingerprint of the signing key
#      "audit_signature": BASE64_DER}
#
# The participants are those named in the signed transcript ("participants": person_id,
# name, part, card_id = SHA-256 of the card's certificate). ``audit_entry`` is the audit
# log entry that recorded the ceremony (its details hold the transcript hash).
# ``audit_signature`` is by the workstation's HSM audit key (ECDSA P-256, SHA-256, DER)
# over::
#
#     b"kcw-ceremony-record-v1" || 0x00 || canonical(the record without "audit_signature")

CEREMONY_RECORD_FORMAT = "kcw-ceremony-record"
CEREMONY_RECORD_VERSION = 1
CEREMONY_RECORD_DOMAIN = b"kcw-ceremony-record-v1\x00"
_RECORD_FIELDS = {
    "format",
    "version",
    "workstation_id",
    "ceremony_id",
    "exported_at",
    "transcript",
    "transcript_sha256",
    "signatures",
    "audit_entry",
    "audit_key_sha256",
    "audit_signature",
}
_SIGNATURE_FIELDS = {"person_id", "name", "card_id", "certificate", "signature"}
_PARTICIPANT_FIELDS = ("person_id", "name", "part", "card_id")


class CeremonyRecordError(ValueError):
    """The ceremony record file is malformed; the message names the field."""


def ceremony_record_message(record: Mapping[str, Any]) -> bytes:
    """The bytes the HSM audit key signs for a ceremony record: every field but
    ``audit_signature``, canonical, after the record's domain prefix."""
    unsigned = {k: v for k, v in record.items() if k != "audit_signature"}
    return CEREMONY_RECORD_DOMAIN + canonical(unsigned)


def ceremony_record_file(record: Mapping[str, Any], audit_signature: bytes) -> bytes:
    """The file's bytes: the record with its audit signature, indented for reading."""
    signed = {**record, "audit_signature": base64.b64encode(audit_signature).decode("ascii")}
    text = json.dumps(signed, sort_keys=True, indent=2, ensure_ascii=False)
    return text.encode("utf-8") + b"\n"


def public_key_fingerprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """SHA-256 of the key's SubjectPublicKeyInfo (DER), lower-case hex: the fingerprint the
    workstation prints (``openssl pkey -pubin -outform DER | sha256sum`` gives the same)."""
    return hashlib.sha256(_public_der(public_key)).hexdigest()


@dataclass(frozen=True)
class RecordSignature:
    """One participant's card signature over the transcript, with the card's certificate."""

    person_id: str
    name: str
    card_id: str
    certificate: bytes
    signature: bytes


@dataclass(frozen=True)
class CeremonyRecord:
    """A parsed ceremony record (the fields checked for type; nothing verified yet)."""

    fields: Mapping[str, Any]
    workstation_id: str
    ceremony_id: str
    exported_at: str
    transcript: Mapping[str, Any]
    transcript_sha256: str
    signatures: tuple[RecordSignature, ...]
    participants: tuple[Mapping[str, str], ...]
    audit_seq: int
    audit_hash: bytes
    audit_action: str
    audit_signature: bytes

    @property
    def kind(self) -> str:
        return str(self.transcript.get("kind", ""))


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # Two values for one name: a reader and this verifier could see different ones.
            raise CeremonyRecordError(f"the field {key!r} appears twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise CeremonyRecordError(f"{name} is not a JSON value this record may hold")


def _record_field(obj: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    if name not in obj:
        raise CeremonyRecordError(f"{where}: field {name!r} is missing")
    value = obj[name]
    ok = type(value) is int if kind is int else isinstance(value, kind)
    if not ok:
        what = {int: "an integer", str: "a string", dict: "a JSON object", list: "a list"}
        raise CeremonyRecordError(f"{where}: field {name!r} must be {what.get(kind, kind)}")
    return value


def _record_bytes(obj: Mapping[str, Any], name: str, where: str, *, hex_size: int = 0) -> bytes:
    value = _record_field(obj, name, str, where)
    if hex_size:
        if len(value) != hex_size * 2 or not re.fullmatch(r"[0-9a-f]*", value):
            raise CeremonyRecordError(
                f"{where}: field {name!r} must be {hex_size * 2} lower-case hex digits"
            )
        return bytes.fromhex(value)
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise CeremonyRecordError(f"{where}: field {name!r} is not base64") from None


def parse_ceremony_record(data: bytes) -> CeremonyRecord:
    """Parse a record file's bytes. Raises CeremonyRecordError naming what is wrong."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CeremonyRecordError(f"not UTF-8 (byte {exc.start + 1})") from None
    try:
        fields = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except CeremonyRecordError:
        raise
    except ValueError as exc:
        raise CeremonyRecordError(f"not valid JSON ({exc})") from None
    if not isinstance(fields, dict):
        raise CeremonyRecordError("not a JSON object")
    if fields.get("format") != CEREMONY_RECORD_FORMAT:
        raise CeremonyRecordError(
            f"field 'format' must be {CEREMONY_RECORD_FORMAT!r} (not a ceremony record?)"
        )
    version = _record_field(fields, "version", int, "the record")
    if version != CEREMONY_RECORD_VERSION:
        raise CeremonyRecordError(
            f"field 'version' is {version}; this verifier reads version {CEREMONY_RECORD_VERSION}"
        )
    extra = sorted(set(fields) - _RECORD_FIELDS)
    if extra:
        raise CeremonyRecordError(f"unknown field {extra[0]!r} in the record")
    where = "the record"
    transcript = _record_field(fields, "transcript", dict, where)
    participants_raw = _record_field(transcript, "participants", list, "the transcript")
    participants: list[Mapping[str, str]] = []
    for n, p in enumerate(participants_raw, start=1):
        at = f"the transcript's participant {n}"
        if not isinstance(p, dict):
            raise CeremonyRecordError(f"{at} is not a JSON object")
        for name in _PARTICIPANT_FIELDS:
            _record_field(p, name, str, at)
        participants.append(p)
    signatures: list[RecordSignature] = []
    for n, s in enumerate(_record_field(fields, "signatures", list, where), start=1):
        at = f"signature {n}"
        if not isinstance(s, dict):
            raise CeremonyRecordError(f"{at} is not a JSON object")
        unknown = sorted(set(s) - _SIGNATURE_FIELDS)
        if unknown:
            raise CeremonyRecordError(f"{at}: unknown field {unknown[0]!r}")
        signatures.append(
            RecordSignature(
                person_id=_record_field(s, "person_id", str, at),
                name=_record_field(s, "name", str, at),
                card_id=_record_field(s, "card_id", str, at),
                certificate=_record_bytes(s, "certificate", at),
                signature=_record_bytes(s, "signature", at),
            )
        )
    entry = _record_field(fields, "audit_entry", dict, where)
    unknown = sorted(set(entry) - {"seq", "hash", "action"})
    if unknown:
        raise CeremonyRecordError(f"audit_entry: unknown field {unknown[0]!r}")
    seq = _record_field(entry, "seq", int, "audit_entry")
    if seq < 1:
        raise CeremonyRecordError("audit_entry: field 'seq' must be 1 or more")
    return CeremonyRecord(
        fields=fields,
        workstation_id=_record_field(fields, "workstation_id", str, where),
        ceremony_id=_record_field(fields, "ceremony_id", str, where),
        exported_at=_record_field(fields, "exported_at", str, where),
        transcript=transcript,
        transcript_sha256=_record_field(fields, "transcript_sha256", str, where),
        signatures=tuple(signatures),
        participants=tuple(participants),
        audit_seq=seq,
        audit_hash=_record_bytes(entry, "hash", "audit_entry", hex_size=32),
        audit_action=_record_field(entry, "action", str, "audit_entry"),
        audit_signature=_record_bytes(fields, "audit_signature", where),
    )


def read_ceremony_record(path: Path | str) -> CeremonyRecord:
    """Read and parse a record file. Raises OSError or CeremonyRecordError."""
    return parse_ceremony_record(Path(path).read_bytes())


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome for one card signature in a record."""

    name: str
    card_id: str
    valid: bool
    problem: str = ""


@dataclass(frozen=True)
class CeremonyReport:
    """The outcome of verifying a ceremony record (and, when given, an audit export)."""

    ok: bool
    ceremony_id: str
    workstation_id: str
    kind: str
    key_label: str | None
    transcript_sha256: str
    audit_key_sha256: str
    record_signature_ok: bool
    transcript_hash_ok: bool
    signatures: tuple[SignatureCheck, ...]
    unsigned: tuple[str, ...]  # participants with no signature in the record
    audit_seq: int
    audit_entry_checked: bool  # an export was given and its entry at audit_seq looked at
    export: Report | None
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def problem(self) -> str | None:
        return self.problems[0] if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "ceremony_id": self.ceremony_id,
            "workstation_id": self.workstation_id,
            "kind": self.kind,
            "key_label": self.key_label,
            "transcript_sha256": self.transcript_sha256,
            "audit_key_sha256": self.audit_key_sha256,
            "record_signature_ok": self.record_signature_ok,
            "transcript_hash_ok": self.transcript_hash_ok,
            "signatures": [
                {"name": s.name, "card_id": s.card_id, "valid": s.valid, "problem": s.problem}
                for s in self.signatures
            ],
            "unsigned": list(self.unsigned),
            "audit_entry": {"seq": self.audit_seq, "checked": self.audit_entry_checked},
            "audit_export_report": self.export.to_dict() if self.export is not None else None,
            "first_problem": self.problem,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
        }

    def lines(self) -> list[str]:
        """The report for a person, one line per item."""
        out = [
            f"Ceremony      {self.ceremony_id} ({self.kind or 'unknown kind'})"
            + (f", key {self.key_label}" if self.key_label else ""),
            f"Workstation   {self.workstation_id}",
            f"Audit key     SHA-256 {self.audit_key_sha256}",
            "Record        signature by the audit key "
            + ("valid" if self.record_signature_ok else "DOES NOT VERIFY"),
            f"Transcript    SHA-256 {self.transcript_sha256} "
            + ("(matches)" if self.transcript_hash_ok else "(DOES NOT MATCH the record)"),
        ]
        for s in self.signatures:
            state = "signature valid" if s.valid else f"INVALID: {s.problem}"
            out.append(f"Signed by     {s.name} (card {s.card_id[:12]}): {state}")
        out.extend(f"Not signed    {name}" for name in self.unsigned)
        if self.export is None:
            out.append(f"Audit entry   {self.audit_seq} (not checked: no --audit-export given)")
        else:
            out.append(
                f"Audit log     {self.export.entries_checked} entries, "
                + ("verified" if self.export.ok else f"FAILED: {self.export.problem}")
            )
            checked = "records this ceremony" if self.audit_entry_checked else "NOT CONFIRMED"
            out.append(f"Audit entry   {self.audit_seq}: {checked}")
        if self.ok:
            out.append(
                "Result        VERIFIED: the record is the workstation's, unaltered, and "
                "every participant's card signed this transcript."
            )
        else:
            out.append(f"Result        FAILED: {self.problems[0]}")
            if len(self.problems) > 1:
                out.append(f"              {len(self.problems)} problems in all:")
                out.extend(f"                {p}" for p in self.problems)
        out.extend(f"Warning       {w}" for w in self.warnings)
        return out


def _card_signature_valid(certificate: bytes, message: bytes, signature: bytes) -> str:
    """'' when ``signature`` over ``message`` verifies with the certificate's key, else
    what is wrong. EC: ECDSA with SHA-256; RSA: RSASSA-PKCS1-v1_5 with SHA-256."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        key = x509.load_der_x509_certificate(certificate).public_key()
    except ValueError:
        return "the certificate in the record cannot be read (not a DER X.509 certificate)"
    try:
        if isinstance(key, _ec().EllipticCurvePublicKey):
            key.verify(signature, message, _ec().ECDSA(_hashes().SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), _hashes().SHA256())
        else:
            return "the certificate's key is neither EC nor RSA"
    except (_invalid_signature(), ValueError):
        return "the card signature does not verify over the transcript (transcript altered?)"
    return ""


def _audit_entry_problems(
    record: CeremonyRecord, export: AuditExport, transcript_hash: str
) -> tuple[list[str], bool]:
    """What is wrong with the export's entry at the record's seq (a second pass over the
    entries); True when that entry records this ceremony with this transcript."""
    seq = record.audit_seq
    found: ChainEntry | None = None
    for entry in export.entries():
        if entry[0] == seq:
            found = entry
            break
    where = f"audit entry {seq}"
    if found is None:
        return [
            f"{where}: the audit export has no entry {seq} (exported before the ceremony, or "
            "entries removed?)"
        ], False
    _, body, _, stored_hash = found
    problems: list[str] = []
    if stored_hash != record.audit_hash:
        problems.append(
            f"{where}: its hash in the audit export differs from the hash the record names "
            "(a different log, or the entry replaced?)"
        )
    try:
        parsed: Any = json.loads(body) if isinstance(body, bytes) else body
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return [*problems, f"{where}: its body is not a JSON object"], False
    action = parsed.get("action")
    object_id = parsed.get("object_id")
    expected_action = f"ceremony.{record.kind}"
    if parsed.get("object_type") != "ceremony" or object_id != record.ceremony_id:
        problems.append(
            f"{where} does not record this ceremony: it records {action} of "
            f"{parsed.get('object_type')} {object_id}"
        )
    elif action != expected_action:
        problems.append(f"{where} records {action!r}, not {expected_action!r}")
    details = parsed.get("details")
    logged = details.get("transcript_hash") if isinstance(details, dict) else None
    if logged != transcript_hash:
        problems.append(
            f"{where} records the transcript SHA-256 {logged}, not this transcript's "
            f"{transcript_hash} (transcript replaced?)"
        )
    return problems, not problems


def verify_ceremony_record(
    record: CeremonyRecord,
    public_key: ec.EllipticCurvePublicKey,
    export: AuditExport | None = None,
) -> CeremonyReport:
    """Verify a ceremony record against the trusted audit ``public_key``: the audit key's
    signature over the record, the transcript hash, every card signature against the
    certificate in the record and the card the participant logged on with, that every
    participant signed and, with ``export``, that the export verifies and its entry at the
    record's seq records this ceremony with this transcript.

    Every problem is reported (not only the first). Raises ExportFormatError for a
    malformed export.
    """
    problems: list[str] = []
    warnings: list[str] = []
    fields = record.fields
    try:
        public_key.verify(
            record.audit_signature,
            ceremony_record_message(fields),
            _ec().ECDSA(_hashes().SHA256()),
        )
        record_ok = True
    except (_invalid_signature(), ValueError):
        record_ok = False
        problems.append(
            "the record's signature does not verify with the audit public key (the record "
            "was altered after export, or comes from another workstation)"
        )

    message = canonical(record.transcript)
    transcript_hash = hashlib.sha256(message).hexdigest()
    hash_ok = transcript_hash == record.transcript_sha256
    if not hash_ok:
        problems.append(
            f"the transcript's SHA-256 is {transcript_hash}, but the record states "
            f"{record.transcript_sha256} (transcript altered?)"
        )
    if record.transcript.get("id") != record.ceremony_id:
        problems.append(
            f"the transcript is of ceremony {record.transcript.get('id')}, not of "
            f"{record.ceremony_id}"
        )
    if record.transcript.get("workstation_id") != record.workstation_id:
        problems.append(
            f"the transcript names workstation {record.transcript.get('workstation_id')}, "
            f"the record {record.workstation_id}"
        )
    if record.audit_action != f"ceremony.{record.kind}":
        problems.append(
            f"audit_entry names action {record.audit_action!r}; a {record.kind} ceremony is "
            f"recorded as 'ceremony.{record.kind}'"
        )

    participants = {p["person_id"]: p for p in record.participants}
    checks: list[SignatureCheck] = []
    signed: set[str] = set()  # participants with a valid signature
    present: set[str] = set()  # participants with a signature, valid or not
    for sig in record.signatures:
        who = f"{sig.name}'s signature"
        participant = participants.get(sig.person_id)
        if participant is not None:
            present.add(sig.person_id)
        problem = ""
        if participant is None:
            problem = f"{sig.name} ({sig.person_id}) is not a participant of the transcript"
        elif participant["card_id"] != sig.card_id:
            problem = (
                f"made with card {sig.card_id[:12]}, but {participant['name']} took part "
                f"with card {participant['card_id'][:12]}"
            )
        elif hashlib.sha256(sig.certificate).hexdigest() != sig.card_id:
            problem = (
                "the certificate in the record is not that of card "
                f"{sig.card_id[:12]} (its SHA-256 differs: certificate swapped?)"
            )
        else:
            problem = _card_signature_valid(sig.certificate, message, sig.signature)
        if problem:
            problems.append(f"{who} (card {sig.card_id[:12]}): {problem}")
        elif sig.person_id in signed:
            problem = "a second signature by the same participant"
            problems.append(f"{who}: {problem}")
        else:
            signed.add(sig.person_id)
        checks.append(SignatureCheck(sig.name, sig.card_id, not problem, problem))
    # A participant whose signature is there but invalid is named above already.
    unsigned = tuple(
        f"{p['name']} ({p['part']})" for p in record.participants if p["person_id"] not in present
    )
    problems.extend(f"{name} did not sign the transcript" for name in unsigned)
    if not record.participants:
        problems.append("the transcript names no participant")

    export_report: Report | None = None
    entry_ok = False
    if export is not None:
        export_report = verify_export(export, public_key)
        if not export_report.ok:
            problems.append(f"the audit export does not verify: {export_report.problem}")
        if export.workstation_id != record.workstation_id:
            problems.append(
                f"the audit export is of workstation {export.workstation_id}, the record of "
                f"{record.workstation_id}"
            )
        entry_problems, entry_ok = _audit_entry_problems(record, export, transcript_hash)
        problems.extend(entry_problems)
        last_signed = export_report.last_signed_seq or 0
        if entry_ok and record.audit_seq > last_signed:
            warnings.append(
                f"audit entry {record.audit_seq} is after the last signed checkpoint of the "
                "export: it rests on the hash chain alone"
            )
    else:
        warnings.append(
            "no audit export given: the audit entry that recorded the ceremony was not "
            "checked (give --audit-export)"
        )
    label = record.transcript.get("key_label")
    return CeremonyReport(
        ok=not problems,
        ceremony_id=record.ceremony_id,
        workstation_id=record.workstation_id,
        kind=record.kind,
        key_label=label if isinstance(label, str) else None,
        transcript_sha256=transcript_hash,
        audit_key_sha256=public_key_fingerprint(public_key),
        record_signature_ok=record_ok,
        transcript_hash_ok=hash_ok,
        signatures=tuple(checks),
        unsigned=unsigned,
        audit_seq=record.audit_seq,
        audit_entry_checked=entry_ok,
        export=export_report,
        problems=tuple(problems),
        warnings=tuple(warnings),
    )


# --- command line ------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workstation-audit-verify",
        usage=(
            "%(prog)s EXPORT_FILE --public-key KEY.pem [--json]\n"
            "       %(prog)s --ceremony RECORD --public-key KEY.pem "
            "[--audit-export EXPORT_FILE] [--json]"
        ),
        description=(
            "Verify a Key Custodian Workstation audit export: the hash chain of every entry "
            "and the HSM-signed checkpoints, against the published audit public key. With "
            "--ceremony, verify a key ceremony record instead: the audit key's signature over "
            "it, the transcript and every participant's card signature, and (with "
            "--audit-export) the audit entry that recorded the ceremony."
        ),
        epilog="Exit status: 0 verified, 1 verification failed, 2 usage error or unreadable file.",
    )
    parser.add_argument(
        "export", metavar="EXPORT_FILE", type=Path, nargs="?", help="the export (.jsonl)"
    )
    parser.add_argument(
        "--public-key",
        metavar="KEY.pem",
        type=Path,
        required=True,
        help="the workstation's audit public key (PEM), from a trusted source",
    )
    parser.add_argument(
        "--ceremony",
        metavar="RECORD",
        type=Path,
        help="a ceremony record (workstation-cli ceremony export-record) to verify",
    )
    parser.add_argument(
        "--audit-export",
        metavar="EXPORT_FILE",
        type=Path,
        help="with --ceremony: an audit export that must verify and hold the ceremony's entry",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``workstation-audit-verify``: 0 verified, 1 failed, 2 usage error or bad file."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on a usage error, 0 for --help
        if exc.code is None:
            return 0
        return exc.code if isinstance(exc.code, int) else 2
    as_json: bool = args.json

    def bad_file(message: str) -> int:
        if as_json:
            print(json.dumps({"ok": False, "error": message}, ensure_ascii=False))
        print(f"workstation-audit-verify: {message}", file=sys.stderr)
        return 2

    try:
        key_pem = args.public_key.read_bytes()
    except OSError as exc:
        return bad_file(f"cannot read the public key {args.public_key}: {exc.strerror or exc}")
    try:
        public_key = load_public_key(key_pem)
    except ValueError as exc:
        return bad_file(f"{args.public_key}: {exc}")
    if args.ceremony is not None or args.export is None or args.audit_export is not None:
        usage = _ceremony_usage(args)
        if usage:
            parser.print_usage(sys.stderr)
            print(f"workstation-audit-verify: error: {usage}", file=sys.stderr)
            return 2
        return _verify_ceremony(args.ceremony, args.audit_export, public_key, bad_file, as_json)
    try:
        export = read_export(args.export)
        report = verify_export(export, public_key)
    except OSError as exc:
        return bad_file(f"cannot read {args.export}: {exc.strerror or exc}")
    except ExportFormatError as exc:
        return bad_file(f"{args.export}: {exc}")

    if as_json:
        result = report.to_dict()
        result["export"] = str(args.export)
        result["exported_at"] = export.exported_at
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(f"Audit export  {args.export} (exported {export.exported_at})")
        for line in report.lines():
            print(line)
    return 0 if report.ok else 1


def _ceremony_usage(args: argparse.Namespace) -> str:
    """What is wrong with the arguments of a ceremony check ('' when nothing)."""
    if args.ceremony is None and args.export is None:
        return "give an EXPORT_FILE to verify, or --ceremony RECORD"
    if args.ceremony is None:
        return "--audit-export goes with --ceremony RECORD"
    if args.export is not None:
        return (
            "with --ceremony, give the audit export as --audit-export EXPORT_FILE, "
            "not as a positional argument"
        )
    return ""


def _verify_ceremony(
    record_path: Path,
    export_path: Path | None,
    public_key: ec.EllipticCurvePublicKey,
    bad_file: Any,
    as_json: bool,
) -> int:
    try:
        record = read_ceremony_record(record_path)
    except OSError as exc:
        return int(bad_file(f"cannot read {record_path}: {exc.strerror or exc}"))
    except CeremonyRecordError as exc:
        return int(bad_file(f"{record_path}: {exc}"))
    export: AuditExport | None = None
    try:
        if export_path is not None:
            export = read_export(export_path)
        report = verify_ceremony_record(record, public_key, export)
    except OSError as exc:
        return int(bad_file(f"cannot read {export_path}: {exc.strerror or exc}"))
    except ExportFormatError as exc:
        return int(bad_file(f"{export_path}: {exc}"))
    if as_json:
        result = report.to_dict()
        result["record"] = str(record_path)
        result["exported_at"] = record.exported_at
        result["audit_export"] = str(export_path) if export_path is not None else None
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(f"Record        {record_path} (exported {record.exported_at})")
        if export is not None:
            print(f"Audit export  {export_path} (exported {export.exported_at})")
        for line in report.lines():
            print(line)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
