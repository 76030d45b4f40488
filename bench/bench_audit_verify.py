"""Verify a 1,000,000-entry audit log: from the repository and from an export file.

Builds the chain in a temporary SQLite repository (bulk insert; a checkpoint signed with an
EC P-256 key every 10,000 entries), then times:

- repository, parsed bodies: ``uow.audit.entries()`` + ``verify_chain`` (the path before
  ``chain()`` joined the port; kept to show what parsing each body costs);
- repository, as ``workstation-cli audit verify`` runs it: ``uow.audit.chain()`` +
  ``verify_chain`` in a read-only unit of work, hashing
  the stored canonical text without parsing it;
- the export: ``write_export``, then ``workstation-audit-verify``'s ``main()``;
- baseline, in the same run: SHA-256 alone over the stored bodies (the floor any verifier
  pays), so figures from machines of other speeds compare.

Target: each verification under 10 s for 1,000,000 entries.

    .venv/bin/python bench/bench_audit_verify.py [--entries N]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from workstation.adapters.repository_sqlite import SqliteRepository, SqliteUnitOfWork, name_key
from workstation.domain.audit import AuditActor, AuditEvent
from workstation.domain.records import format_time
from workstation.standalone.audit_verify import (
    GENESIS_HASH,
    canonical,
    checkpoint_message,
    entry_hash_canonical,
    main,
    verify_chain,
    write_export,
)

WORKSTATION = "bench-ws"
TARGET_SECONDS = 10.0
CHECKPOINT_EVERY = 10_000
BATCH = 10_000

ACTIONS = ("key.generate", "key.activate", "key.export", "logon", "person.enrol", "key.rotate")
PEOPLE = (
    AuditActor("p-1", "Alice Custodian", "0a1b2c3d4e5f"),
    AuditActor("p-2", "Bob Supervisor", "1a2b3c4d5e6f"),
    AuditActor("p-3", "Zoë Officer", "2a3b4c5d6e7f"),
)


def event(seq: int, start: datetime) -> AuditEvent:
    """A realistic entry: requester, two members, details (about 600 bytes canonical)."""
    return AuditEvent(
        action=ACTIONS[seq % len(ACTIONS)],
        object_type="key",
        object_id=f"5f1c2d3e-0000-4000-8000-{seq:012d}",
        object_label=f"ZMK-20261124-{seq % 10_000:04d}",
        before="pre-activation",
        after="active",
        kcv=f"{seq % 0xFFFFFF:06X}",
        details={"quorum": "1 key custodian + 1 supervisor", "template": "zmk", "n": seq},
        requester=PEOPLE[seq % 3],
        members=(PEOPLE[seq % 3], PEOPLE[(seq + 1) % 3]),
        at=start + timedelta(seconds=seq),
    )


def build(repo: SqliteRepository, n: int, key: ec.EllipticCurvePrivateKey) -> float:
    """Fill the repository as append() would, but with executemany batches."""
    began = time.perf_counter()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    conn = sqlite3.connect(repo.path, isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")  # building only; the repository uses FULL
    conn.execute("BEGIN")
    prev = GENESIS_HASH
    rows: list[tuple[Any, ...]] = []
    people: list[tuple[str, int]] = []
    for seq in range(1, n + 1):
        ev = event(seq, start)
        body = ev.body(seq)
        text = canonical(body)
        digest = entry_hash_canonical(prev, text)
        rows.append(
            (seq, text.decode(), prev, digest, body["at"], ev.action, ev.object_type, ev.object_id)
        )
        people += [(k, seq) for k in {name_key(m.name) for m in ev.members}]
        prev = digest
        if seq % CHECKPOINT_EVERY == 0 or seq == n:
            flush(conn, rows, people)
            at = format_time(start + timedelta(seconds=seq, milliseconds=1))
            assert at is not None
            signature = key.sign(
                checkpoint_message(WORKSTATION, seq, digest, at), ec.ECDSA(hashes.SHA256())
            )
            conn.execute(
                "INSERT INTO audit_checkpoints (seq, hash, at, signature) VALUES (?, ?, ?, ?)",
                (seq, digest, at, signature),
            )
        elif len(rows) >= BATCH:
            flush(conn, rows, people)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - began


def flush(conn: sqlite3.Connection, rows: list[tuple[Any, ...]], people: list[Any]) -> None:
    conn.executemany(
        "INSERT INTO audit_entries (seq, body, prev_hash, hash, at, action, object_type, "
        "object_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.executemany("INSERT INTO audit_people (name_key, seq) VALUES (?, ?)", people)
    rows.clear()
    people.clear()


def timed(label: str, n: int, run: Callable[[], object]) -> float:
    began = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - began
    verdict = "under 10 s" if seconds < TARGET_SECONDS else f"over {TARGET_SECONDS:.0f} s"
    print(f"  {label:<46} {seconds:7.2f} s  {n / seconds:>10,.0f} entries/s  {verdict}")
    if result is False:
        raise SystemExit(f"{label}: verification failed")
    return seconds


def run(n: int) -> int:
    key = ec.generate_private_key(ec.SECP256R1())
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with tempfile.TemporaryDirectory(prefix="kcw-bench-") as tmp:
        folder = Path(tmp)
        repo = SqliteRepository(folder / "workstation.sqlite3")
        repo.create()
        print(f"audit log of {n:,} entries, a signed checkpoint every {CHECKPOINT_EVERY:,}")
        built = build(repo, n, key)
        size = repo.path.stat().st_size
        print(f"  built in {built:.1f} s; repository {size / 1e6:,.0f} MB")

        def read_only() -> SqliteUnitOfWork:
            return repo.unit_of_work(read_only=True)

        def checkpoints(uow: SqliteUnitOfWork) -> list[tuple[int, bytes, str, bytes]]:
            return [(c.seq, c.hash, c.at, c.signature) for c in uow.audit.checkpoints()]

        def baseline() -> bool:
            with read_only() as uow:
                sha, domain = hashlib.sha256, b"kcw-audit-entry-v1\x00"
                for _, body, prev, _ in uow.audit_log.chain():
                    sha(domain + prev + body).digest()
            return True

        def port_path() -> bool:
            with read_only() as uow:

                def rows() -> Iterator[tuple[int, dict[str, Any], bytes, bytes]]:
                    for e in uow.audit.entries():
                        yield e.seq, e.body, e.prev_hash, e.hash

                report = verify_chain(rows(), checkpoints(uow), key.public_key(), WORKSTATION)
            return report.ok and report.entries_checked == n

        def stored_bytes() -> bool:
            with read_only() as uow:
                report = verify_chain(
                    uow.audit_log.chain(), checkpoints(uow), key.public_key(), WORKSTATION
                )
            return report.ok and report.entries_checked == n and report.uncovered_entries == 0

        export = folder / "audit-export.jsonl"
        key_file = folder / "audit-key.pem"
        key_file.write_bytes(public_pem)

        def write() -> bool:
            with read_only() as uow:
                write_export(
                    export,
                    workstation_id=WORKSTATION,
                    public_key_pem=public_pem.decode(),
                    entries=uow.audit_log.chain(),
                    checkpoints=checkpoints(uow),
                    exported_at=format_time(datetime.now(UTC)) or "",
                )
            return True

        def verify_file() -> bool:
            with contextlib.redirect_stdout(io.StringIO()):
                return main([str(export), "--public-key", str(key_file)]) == 0

        print("timings (one run each; the baseline is in the same run):")
        timed("baseline: SHA-256 of every stored body", n, baseline)
        timed("repository, parsed bodies: entries() + verify", n, port_path)
        timed("repository, audit verify: chain() + verify", n, stored_bytes)
        timed("export: write_export from chain()", n, write)
        print(f"  export file {export.stat().st_size / 1e6:,.0f} MB")
        timed("export: workstation-audit-verify main()", n, verify_file)
        repo.close()
    return 0


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    return run(args.entries)


if __name__ == "__main__":
    sys.exit(cli())
