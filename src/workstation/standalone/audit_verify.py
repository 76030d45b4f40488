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

Command line
------------
``workstation-audit-verify EXPORT_FILE --public-key KEY.pem [--json]`` exits 0 when the
log verifies, 1 when it does not (naming the first bad entry), 2 for a usage error or a
file that cannot be read.
"""

from __future__ import annotations

import argparse
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
    "CHECKPOINT_DOMAIN",
    "ENTRY_DOMAIN",
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "GENESIS_HASH",
    "AuditExport",
    "ChainCheckpoint",
    "ChainEntry",
    "ExportFormatError",
    "Problem",
    "Report",
    "canonical",
    "checkpoint_message",
    "entry_hash",
    "entry_hash_canonical",
    "load_public_key",
    "main",
    "read_export",
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


# --- command line ------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workstation-audit-verify",
        description=(
            "Verify a Key Custodian Workstation audit export: the hash chain of every entry "
            "and the HSM-signed checkpoints, against the published audit public key."
        ),
        epilog="Exit status: 0 verified, 1 verification failed, 2 usage error or unreadable file.",
    )
    parser.add_argument("export", metavar="EXPORT_FILE", type=Path, help="the export (.jsonl)")
    parser.add_argument(
        "--public-key",
        metavar="KEY.pem",
        type=Path,
        required=True,
        help="the workstation's audit public key (PEM), from a trusted source",
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


if __name__ == "__main__":
    sys.exit(main())
