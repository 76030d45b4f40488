"""The repository on SQLite: the workstation's system of record.

One file (stdlib ``sqlite3``) in WAL mode. Every record is stored as its canonical JSON
(``workstation.domain.records.canonical_bytes(x.to_record())``) beside the HSM MAC the
services computed over it; the few columns queries need (labels, states, dates, ...) are
copied out of the record into indexed columns, and checked against it on every read.

Transactions: ``unit_of_work()`` opens its own connection; ``with uow:`` starts
``BEGIN IMMEDIATE``, so writers queue for the write lock *before* they read the head of the
audit chain, and the chain stays linear however many processes write. Leaving the block
without ``commit()`` (or by an exception) rolls everything back, the change and its audit
entry together.

Schema versions live in the ``meta`` table. A migration first copies the file (SQLite's
online backup, consistent even while others use it), then applies its steps and bumps the
version in one transaction. The initial schema is migration 1, so a new repository and a
migrated one go through the same code.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from workstation.domain.audit import AuditCheckpoint, AuditEntry, AuditEvent
from workstation.domain.ceremonies import Ceremony, ComponentHolding, Envelope, EnvelopeState
from workstation.domain.certificates import CertificateRecord
from workstation.domain.documents import Document
from workstation.domain.keys import KeyEvent, KeyState, ManagedKey
from workstation.domain.partners import Partner
from workstation.domain.people import Card, Group, Person
from workstation.domain.policy import PolicySet
from workstation.domain.records import canonical_bytes, format_time
from workstation.domain.templates import KeyTemplate
from workstation.errors import (
    AlreadyExists,
    AlreadyInitialised,
    BadInput,
    IntegrityError,
    NotFound,
    NotInitialised,
    WorkstationError,
)
from workstation.services.ports import (
    AuditRepository,
    CardRepository,
    CeremonyRepository,
    CertificateRepository,
    DocumentRepository,
    EnvelopeRepository,
    GroupRepository,
    HoldingRepository,
    KeyQuery,
    KeyRepository,
    MetaRepository,
    PartnerRepository,
    PeopleRepository,
    PolicyRepository,
    Sealed,
    TemplateRepository,
)
from workstation.standalone.audit_verify import GENESIS_HASH, canonical, entry_hash_canonical

__all__ = [
    "MIGRATIONS",
    "Migration",
    "SqliteRepository",
    "SqliteUnitOfWork",
]

R = TypeVar("R")

BUSY_TIMEOUT_MS = 10_000  # a writer waits this long for another one to commit
FETCH_BATCH = 1000  # rows per fetchmany() when streaming the audit log


# --- schema and migrations ---------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    """Steps from schema ``version - 1`` to ``version``, run inside one transaction.

    ``apply`` gets the connection with the transaction open; it must not commit (so no
    ``executescript``) and cannot switch ``foreign_keys`` (a no-op inside a transaction).
    """

    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


_SCHEMA_V1: tuple[str, ...] = (
    """CREATE TABLE meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT, WITHOUT ROWID""",
    # name_key: the name NFC-normalised and case-folded, for case-insensitive exact lookups
    # (SQLite's NOCASE folds ASCII only).
    """CREATE TABLE people (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL,
        mac BLOB NOT NULL
    ) STRICT""",
    """CREATE TABLE cards (
        id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL REFERENCES people(id),
        record TEXT NOT NULL,
        mac BLOB NOT NULL
    ) STRICT""",
    "CREATE INDEX cards_person ON cards(person_id)",
    """CREATE TABLE "groups" (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL,
        mac BLOB NOT NULL
    ) STRICT""",
    """CREATE TABLE policy (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        record TEXT NOT NULL,
        mac BLOB NOT NULL
    ) STRICT""",
    """CREATE TABLE templates (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL,
        mac BLOB NOT NULL,
        last_sequence INTEGER NOT NULL DEFAULT 0
    ) STRICT""",
    # The columns beside ``record`` are copies for queries; a read refuses a row whose
    # copies disagree with its record. kcv is upper-case hex; dates are the canonical
    # UTC text, which sorts as time does.
    """CREATE TABLE keys (
        id TEXT PRIMARY KEY,
        label TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        key_usage TEXT NOT NULL,
        algorithm TEXT NOT NULL,
        template_id TEXT NOT NULL REFERENCES templates(id),
        kcv TEXT NOT NULL,
        deactivation_date TEXT NOT NULL,
        record TEXT NOT NULL,
        mac BLOB NOT NULL
    ) STRICT""",
    # (column, label): a filter on one value comes out already in label order, so a page
    # of the inventory reads only the rows it shows.
    "CREATE INDEX keys_state ON keys(state, label)",
    "CREATE INDEX keys_usage ON keys(key_usage, label)",
    "CREATE INDEX keys_algorithm ON keys(algorithm, label)",
    "CREATE INDEX keys_template ON keys(template_id, label)",
    "CREATE INDEX keys_kcv ON keys(kcv, label)",
    # Counts of combined filters ("active TDES keys") read this index alone; label last so
    # that a page in label order is sorted from the index, not from the table.
    "CREATE INDEX keys_facets ON keys(state, algorithm, key_usage, template_id, label)",
    "CREATE INDEX keys_state_expiry ON keys(state, deactivation_date, label)",
    # Expiry monitoring never looks at destroyed keys: they stay out of the index.
    "CREATE INDEX keys_expiry ON keys(deactivation_date, state, label) WHERE state <> 'destroyed'",
    """CREATE TABLE key_events (
        id INTEGER PRIMARY KEY,
        key_id TEXT NOT NULL REFERENCES keys(id),
        record TEXT NOT NULL
    ) STRICT""",
    "CREATE INDEX key_events_key ON key_events(key_id, id)",
    # body: the canonical JSON exactly as hashed into the chain (see
    # workstation.standalone.audit_verify); the other columns are copies for searching.
    """CREATE TABLE audit_entries (
        seq INTEGER PRIMARY KEY,
        body TEXT NOT NULL,
        prev_hash BLOB NOT NULL,
        hash BLOB NOT NULL,
        at TEXT,
        action TEXT NOT NULL,
        object_type TEXT NOT NULL,
        object_id TEXT NOT NULL
    ) STRICT""",
    "CREATE INDEX audit_at ON audit_entries(at)",
    "CREATE INDEX audit_action ON audit_entries(action)",
    "CREATE INDEX audit_object ON audit_entries(object_id)",
    # The requester and members of each entry, by name key, for "what did X do".
    """CREATE TABLE audit_people (
        name_key TEXT NOT NULL,
        seq INTEGER NOT NULL REFERENCES audit_entries(seq),
        PRIMARY KEY (name_key, seq)
    ) STRICT, WITHOUT ROWID""",
    """CREATE TABLE audit_checkpoints (
        id INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL REFERENCES audit_entries(seq),
        hash BLOB NOT NULL,
        at TEXT NOT NULL,
        signature BLOB NOT NULL
    ) STRICT""",
    "CREATE INDEX audit_checkpoints_seq ON audit_checkpoints(seq)",
    # Append-only, as a guard against the workstation's own mistakes. Whoever can write the
    # file can drop these; the hash chain and the signed checkpoints catch that.
    *(
        f"""CREATE TRIGGER {table}_append_only_{op.lower()} BEFORE {op} ON {table}
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"""
        for table in ("audit_entries", "audit_people", "audit_checkpoints")
        for op in ("UPDATE", "DELETE")
    ),
)


def _schema_v1(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA_V1:
        conn.execute(statement)


_SCHEMA_V2: tuple[str, ...] = (
    # Paper ceremonies (issue 4): signed ceremony records, the envelope register and the
    # register of who held which component. Records are sealed like every other.
    """CREATE TABLE ceremonies (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        started_at TEXT NOT NULL,
        key_id TEXT,
        record TEXT NOT NULL,
        mac BLOB NOT NULL
    ) STRICT""",
    "CREATE INDEX ceremonies_started ON ceremonies(started_at)",
    "CREATE INDEX ceremonies_key ON ceremonies(key_id, started_at)",
    """CREATE TABLE envelopes (
        serial TEXT PRIMARY KEY,
        ceremony_id TEXT NOT NULL REFERENCES ceremonies(id),
        key_id TEXT,
        custodian_id TEXT NOT NULL,
        state TEXT NOT NULL,
        bag_number TEXT UNIQUE,
        record TEXT NOT NULL,
        mac BLOB NOT NULL
    ) STRICT""",
    "CREATE INDEX envelopes_state ON envelopes(state, serial)",
    "CREATE INDEX envelopes_custodian ON envelopes(custodian_id, serial)",
    "CREATE INDEX envelopes_ceremony ON envelopes(ceremony_id, serial)",
    "CREATE INDEX envelopes_key ON envelopes(key_id, serial)",
    """CREATE TABLE holdings (
        id INTEGER PRIMARY KEY,
        person_id TEXT NOT NULL,
        key_id TEXT NOT NULL,
        key_identity TEXT NOT NULL,
        record TEXT NOT NULL,
        mac BLOB NOT NULL
    ) STRICT""",
    "CREATE INDEX holdings_person ON holdings(person_id, id)",
    "CREATE INDEX holdings_key ON holdings(key_id, id)",
    # Split knowledge is remembered for good: the register only grows.
    *(
        f"""CREATE TRIGGER holdings_append_only_{op.lower()} BEFORE {op} ON holdings
        BEGIN SELECT RAISE(ABORT, 'the register of component holders is append-only'); END"""
        for op in ("UPDATE", "DELETE")
    ),
)


def _schema_v2(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA_V2:
        conn.execute(statement)


_SCHEMA_V3: tuple[str, ...] = (
    # Interchange (issue 5): exchange partners with their trust anchors, CRLs and KRD
    # certificate (public material, sealed so that an anchor swapped in the file is refused).
    """CREATE TABLE partners (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL,
        mac BLOB NOT NULL
    ) STRICT""",
)


def _schema_v3(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA_V3:
        conn.execute(statement)


_SCHEMA_V4: tuple[str, ...] = (
    # Certificates (issue 6): issued certificates of the key pairs, sealed, with the dates
    # and fingerprint in columns for the expiry queries.
    """CREATE TABLE certificates (
        id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL UNIQUE,
        not_after TEXT NOT NULL,
        status TEXT NOT NULL,
        record TEXT NOT NULL,
        mac BLOB NOT NULL
    ) STRICT""",
    "CREATE INDEX certificates_key ON certificates(key_id, not_after)",
    "CREATE INDEX certificates_expiry ON certificates(status, not_after)",
)


def _schema_v4(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA_V4:
        conn.execute(statement)


_SCHEMA_V5: tuple[str, ...] = (
    # Sealed documents (issue 6 onwards, see domain/documents.py): one table for the
    # newer kinds of record, with the lookup subject and the due date in columns.
    """CREATE TABLE documents (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        subject TEXT NOT NULL,
        due TEXT,
        record TEXT NOT NULL,
        mac BLOB NOT NULL,
        PRIMARY KEY (kind, id)
    ) STRICT""",
    "CREATE INDEX documents_subject ON documents(kind, subject)",
    "CREATE INDEX documents_due ON documents(kind, due)",
)


def _schema_v5(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA_V5:
        conn.execute(statement)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _schema_v1),
    Migration(2, "ceremonies, envelopes and component holders", _schema_v2),
    Migration(3, "exchange partners", _schema_v3),
    Migration(4, "certificates of key pairs", _schema_v4),
    Migration(5, "sealed documents", _schema_v5),
)

_RESERVED_META = frozenset({"schema_version"})


# --- helpers -----------------------------------------------------------------------------


def name_key(name: str) -> str:
    """How names compare: NFC-normalised, case-folded (``Zoë`` = ``ZOË``)."""
    return unicodedata.normalize("NFC", name).casefold()


def _record_text(record: Mapping[str, Any]) -> str:
    return canonical_bytes(dict(record)).decode("utf-8")


def _now_text() -> str:
    text = format_time(datetime.now(UTC))
    assert text is not None
    return text


def _prefix_range(prefix: str) -> tuple[str, str]:
    """Bounds lo <= s < hi of the strings starting with ``prefix`` (binary collation)."""
    last = prefix[-1]
    if ord(last) >= 0x10FFFF:
        return prefix, prefix + "\U0010ffff"
    return prefix, prefix[:-1] + chr(ord(last) + 1)


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _storage_error(path: Path, exc: sqlite3.Error) -> WorkstationError:
    """A sqlite3 failure (other than a constraint) in words for the person at the desk."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    detail = f"{type(exc).__name__}: {exc} ({name or 'no code'}) on {path}"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return WorkstationError(
            f"The repository is busy: another workstation process has held it for more "
            f"than {BUSY_TIMEOUT_MS // 1000} seconds. Nothing was changed; try again.",
            detail=detail,
        )
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return WorkstationError(
            f"The repository file {path} is damaged or is not a workstation repository "
            f"({exc}). Nothing was changed; restore the repository from its backup.",
            detail=detail,
        )
    if name.startswith("SQLITE_CANTOPEN"):
        return WorkstationError(
            f"The repository file {path} cannot be opened ({exc}): check that it exists "
            "and that this account may read and write it and its folder.",
            detail=detail,
        )
    if name.startswith("SQLITE_READONLY"):
        return WorkstationError(
            f"The repository {path} is read-only here ({exc}); nothing was changed.",
            detail=detail,
        )
    if name.startswith("SQLITE_FULL"):
        return WorkstationError(
            f"The disk holding the repository {path} is full; nothing was changed.",
            detail=detail,
        )
    if name.startswith("SQLITE_IOERR"):
        return WorkstationError(
            f"The repository {path} could not be read or written ({exc}); nothing was "
            "changed. Check the disk.",
            detail=detail,
        )
    return WorkstationError(f"The repository {path} failed: {exc}.", detail=detail)


def _integrity(what: str, problem: str) -> IntegrityError:
    return IntegrityError(
        f"The stored record of {what} {problem}: it was changed outside the workstation "
        "and is refused. Report this to a security officer and the auditors."
    )


def _load(row_text: str, what: str) -> dict[str, Any]:
    try:
        record = json.loads(row_text)
    except ValueError:
        raise _integrity(what, "is not valid JSON") from None
    if not isinstance(record, dict):
        raise _integrity(what, "is not a JSON object")
    return record


def _rebuild(factory: Callable[[dict[str, Any]], R], text: str, what: str) -> R:
    record = _load(text, what)
    try:
        return factory(record)
    except (KeyError, TypeError, ValueError) as exc:
        raise _integrity(what, f"cannot be read ({type(exc).__name__}: {exc})") from None


# --- the repository ----------------------------------------------------------------------


class SqliteRepository:
    """The SQLite file at ``path``. Cheap to make; connections open per unit of work.

    ``migrations`` (tests only, normally the module's MIGRATIONS) lists every schema step;
    the last one's version is the version this code works with.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        self.path = Path(path)
        versions = [m.version for m in migrations]
        if versions != list(range(1, len(versions) + 1)):
            raise ValueError(f"migrations must be numbered 1, 2, 3, ...: {versions}")
        self._migrations = tuple(migrations)
        self._busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()
        self._schema_checked = False
        self._closed = False

    @property
    def schema_version(self) -> int:
        """The schema version this code works with."""
        return self._migrations[-1].version

    def __repr__(self) -> str:
        return f"SqliteRepository({str(self.path)!r})"

    # --- connections ---------------------------------------------------------------------

    def _connect(self, *, create: bool = False) -> sqlite3.Connection:
        if self._closed:
            raise WorkstationError("The repository has been closed.")
        mode = "rwc" if create else "rw"
        uri = f"{self.path.absolute().as_uri()}?mode={mode}"
        try:
            conn = sqlite3.connect(
                uri,
                uri=True,
                isolation_level=None,  # transactions are ours: BEGIN IMMEDIATE ... COMMIT
                timeout=self._busy_timeout_ms / 1000,
            )
        except sqlite3.Error as exc:
            raise _storage_error(self.path, exc) from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA foreign_keys = ON")
            # FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on a power
            # cut. This is the system of record; a key generated in the HSM and handed to
            # custodians, or an audit entry, must not vanish after the workstation said
            # "done". The cost is one fsync of the WAL per commit.
            conn.execute("PRAGMA synchronous = FULL")
            # The file may come from elsewhere (a restore): never let its schema run
            # functions with side effects.
            conn.execute("PRAGMA trusted_schema = OFF")
            # Deleted and overwritten content is zeroed, not left in free pages (destroyed
            # keys' wrapped values; see scrub()).
            conn.execute("PRAGMA secure_delete = ON")
            conn.create_function("kcw_name_key", 1, _sql_name_key, deterministic=True)
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        except sqlite3.Error as exc:
            conn.close()
            raise _storage_error(self.path, exc) from None
        return conn

    @staticmethod
    def _read_version(conn: sqlite3.Connection) -> int | None:
        has_meta = conn.execute(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if not has_meta:
            return None
        row = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        return int(row[0]) if row else None

    # --- Repository ----------------------------------------------------------------------

    def exists(self) -> bool:
        if not self.path.is_file():
            return False
        conn = self._connect()
        try:
            return self._read_version(conn) is not None
        except sqlite3.Error as exc:
            raise _storage_error(self.path, exc) from None
        finally:
            conn.close()

    def create(self) -> None:
        """Create the file (mode 0600) and the schema; refuse if a repository is there."""
        if self.exists():
            raise AlreadyInitialised(f"A workstation repository already exists at {self.path}.")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        except OSError as exc:
            raise WorkstationError(
                f"The repository file {self.path} cannot be created: {exc.strerror or exc}.",
                detail=repr(exc),
            ) from None
        conn = self._connect(create=True)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                if self._read_version(conn) is not None:
                    raise AlreadyInitialised(
                        f"A workstation repository already exists at {self.path}."
                    )
                if conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]:
                    raise WorkstationError(
                        f"{self.path} is an SQLite database of another application, not a "
                        "workstation repository; choose another file."
                    )
                for migration in self._migrations:
                    migration.apply(conn)
                conn.executemany(
                    "INSERT INTO meta (name, value) VALUES (?, ?)",
                    [("schema_version", str(self.schema_version)), ("created_at", _now_text())],
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _storage_error(self.path, exc) from None
        finally:
            conn.close()
        with self._lock:
            self._schema_checked = True

    def migrate(self) -> Path | None:
        """Bring an older schema up to ``schema_version``; return the backup made first
        (None when nothing was to do). Runs by itself on the first unit of work."""
        if not self.path.is_file():
            raise NotInitialised(
                f"There is no workstation repository at {self.path}; initialise the "
                "workstation first ('workstation-cli init')."
            )
        conn = self._connect()
        try:
            version = self._read_version(conn)
            if version is None:
                raise NotInitialised(
                    f"There is no workstation repository at {self.path}; initialise the "
                    "workstation first ('workstation-cli init')."
                )
            if version > self.schema_version:
                raise WorkstationError(
                    f"The repository {self.path} has schema version {version}, newer than "
                    f"this workstation software understands ({self.schema_version}). "
                    "Update the software; the repository was not touched."
                )
            if version == self.schema_version:
                return None
            try:
                backup = self._backup(conn, version)
            except OSError as exc:
                raise WorkstationError(
                    f"The repository {self.path} needs updating to schema version "
                    f"{self.schema_version}, but its backup could not be written beside it "
                    f"({exc.strerror or exc}); nothing was changed.",
                    detail=repr(exc),
                ) from None
            conn.execute("BEGIN IMMEDIATE")
            try:
                current = self._read_version(conn) or 0  # another process may have migrated
                for migration in self._migrations:
                    if current < migration.version:
                        migration.apply(conn)
                conn.execute(
                    "UPDATE meta SET value = ? WHERE name = 'schema_version'",
                    (str(self.schema_version),),
                )
                conn.execute(
                    "INSERT INTO meta (name, value) VALUES ('migrated_at', ?) "
                    "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    (_now_text(),),
                )
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, Exception):
                    raise WorkstationError(
                        f"Updating the repository {self.path} from schema version {version} "
                        f"to {self.schema_version} failed; it is unchanged (a backup is at "
                        f"{backup}).",
                        detail=f"{type(exc).__name__}: {exc}",
                    ) from exc
                raise
            return backup
        except sqlite3.Error as exc:
            raise _storage_error(self.path, exc) from None
        finally:
            conn.close()

    def _backup(self, conn: sqlite3.Connection, version: int) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        base = f"{self.path.name}.schema-v{version}.{stamp}"
        target = self.path.with_name(f"{base}.bak")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{base}-{n}.bak")
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        dest = sqlite3.connect(target)
        try:
            conn.backup(dest)
        finally:
            dest.close()
        return target

    def _ensure_schema(self) -> None:
        if self._schema_checked:
            return
        with self._lock:
            if not self._schema_checked:
                self.migrate()
                self._schema_checked = True

    def unit_of_work(self, *, read_only: bool = False) -> SqliteUnitOfWork:
        """A new unit of work. ``read_only`` ones use a deferred transaction, so a long
        read (verifying or exporting the audit log) does not hold up writers."""
        return SqliteUnitOfWork(self, read_only=read_only)

    def backup(self, target: Path) -> None:
        """SQLite's online backup into a new file ``target`` (mode 0600): consistent even
        while other processes write. Refuses to overwrite a file."""
        target = Path(target)
        conn = self._connect()
        try:
            try:
                fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                raise BadInput(f"{target} exists already; choose a new file.") from None
            except OSError as exc:
                raise BadInput(
                    f"The backup {target} cannot be written: {exc.strerror or exc}."
                ) from None
            os.close(fd)
            dest = sqlite3.connect(target)
            try:
                conn.backup(dest)
                dest.execute("PRAGMA journal_mode = DELETE")
            except sqlite3.Error as exc:
                dest.close()
                target.unlink(missing_ok=True)
                raise _storage_error(self.path, exc) from None
            dest.close()
        finally:
            conn.close()

    def restore(self, source: Path) -> None:
        """Copy the backup ``source`` into place, where no repository exists yet. The copy
        is checked (SQLite integrity check, a workstation schema this code understands)
        before it takes the repository's name."""
        source = Path(source)
        if self.exists():
            raise AlreadyInitialised(
                f"A workstation repository already exists at {self.path}; a backup is "
                "restored only onto a fresh workstation."
            )
        if not source.is_file():
            raise BadInput(f"There is no backup file {source}.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".restoring")
        partial.unlink(missing_ok=True)
        os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        try:
            try:
                src = sqlite3.connect(f"{source.absolute().as_uri()}?mode=ro", uri=True)
                dest = sqlite3.connect(partial)
                try:
                    src.backup(dest)
                    ok = dest.execute("PRAGMA integrity_check").fetchone()
                    version = self._read_version(dest)
                finally:
                    src.close()
                    dest.close()
            except sqlite3.Error as exc:
                raise BadInput(
                    f"{source} is not a workstation repository backup ({exc})."
                ) from None
            if not ok or ok[0] != "ok":
                raise BadInput(f"The backup {source} is damaged ({ok[0] if ok else '?'}).")
            if version is None:
                raise BadInput(f"{source} is not a workstation repository backup.")
            if version > self.schema_version:
                raise BadInput(
                    f"The backup {source} has schema version {version}, newer than this "
                    f"software understands ({self.schema_version})."
                )
            os.replace(partial, self.path)
        finally:
            partial.unlink(missing_ok=True)
        self._schema_checked = False

    def remove(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
        self._schema_checked = False

    def scrub(self) -> None:
        """Leave no copy of removed data in the files: every connection runs with
        ``secure_delete`` (freed space is zeroed), and this copies the WAL into the main
        file and truncates it to nothing. Waits up to the busy timeout for readers."""
        conn = self._connect()
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            raise _storage_error(self.path, exc) from None
        finally:
            conn.close()
        if busy:
            raise WorkstationError(
                f"The repository {self.path} could not be scrubbed: another process kept it "
                "busy. The destroyed key's wrapped value may remain in the write-ahead log "
                "until the next scrub; try again.",
            )

    def close(self) -> None:
        """Refuse new units of work. Each unit of work closes its own connection."""
        self._closed = True


def _sql_name_key(value: str | None) -> str | None:
    return name_key(value) if isinstance(value, str) else None


# --- unit of work ------------------------------------------------------------------------


class SqliteUnitOfWork:
    """One transaction over one connection (see the module docstring).

    The parts are typed as their ports (a protocol's attributes must match exactly); the
    SQLite audit part with its extra ``chain()`` is ``audit_log``.
    """

    people: PeopleRepository
    cards: CardRepository
    groups: GroupRepository
    policy: PolicyRepository
    templates: TemplateRepository
    keys: KeyRepository
    audit: AuditRepository
    meta: MetaRepository
    ceremonies: CeremonyRepository
    envelopes: EnvelopeRepository
    holdings: HoldingRepository
    partners: PartnerRepository
    certificates: CertificateRepository
    documents: DocumentRepository

    def __init__(self, repository: SqliteRepository, *, read_only: bool = False) -> None:
        self._repository = repository
        self._read_only = read_only
        self._conn: sqlite3.Connection | None = None
        self._in_transaction = False
        self.people = SqlitePeopleRepository(self)
        self.cards = SqliteCardRepository(self)
        self.groups = SqliteGroupRepository(self)
        self.policy = SqlitePolicyRepository(self)
        self.templates = SqliteTemplateRepository(self)
        self.keys = SqliteKeyRepository(self)
        self.audit_log = SqliteAuditRepository(self)
        self.audit = self.audit_log
        self.meta = SqliteMetaRepository(self)
        self.ceremonies = SqliteCeremonyRepository(self)
        self.envelopes = SqliteEnvelopeRepository(self)
        self.holdings = SqliteHoldingRepository(self)
        self.partners = SqlitePartnerRepository(self)
        self.certificates = SqliteCertificateRepository(self)
        self.documents = SqliteDocumentRepository(self)

    @property
    def path(self) -> Path:
        return self._repository.path

    @property
    def read_only(self) -> bool:
        return self._read_only

    def __enter__(self) -> SqliteUnitOfWork:
        if self._conn is not None:
            raise RuntimeError("This unit of work is already open.")
        self._repository._ensure_schema()
        conn = self._repository._connect()
        self._conn = conn
        try:
            if self._read_only:
                conn.execute("PRAGMA query_only = ON")
            self._begin()
        except BaseException:
            self._conn = None
            conn.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            if self._in_transaction:
                self._in_transaction = False
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error as rollback_error:
                    # Closing the connection rolls back as well; do not hide the original
                    # exception behind this one.
                    if exc is None:
                        raise _storage_error(self.path, rollback_error) from None
        finally:
            self._conn = None
            conn.close()

    def _begin(self) -> None:
        assert self._conn is not None
        try:
            self._conn.execute("BEGIN" if self._read_only else "BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _storage_error(self.path, exc) from None
        self._in_transaction = True

    def commit(self) -> None:
        conn = self._connection()
        if not self._in_transaction:
            return
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise _storage_error(self.path, exc) from None
        self._in_transaction = False

    def rollback(self) -> None:
        conn = self._connection()
        if not self._in_transaction:
            return
        self._in_transaction = False
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise _storage_error(self.path, exc) from None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("Use the unit of work inside 'with uow:'.")
        return self._conn

    def execute(
        self,
        sql: str,
        params: Sequence[object] | Mapping[str, object] = (),
        *,
        unique: Mapping[str, str] | None = None,
        foreign_key: str | None = None,
    ) -> sqlite3.Cursor:
        """Run ``sql`` in the transaction (a new one after a commit), translating errors.

        ``unique`` maps "table.column" of a UNIQUE or PRIMARY KEY constraint to the
        AlreadyExists message; ``foreign_key`` is the NotFound message for a reference to
        a missing row.
        """
        conn = self._connection()
        if not self._in_transaction:
            self._begin()
        try:
            return conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise self._constraint_error(exc, unique, foreign_key) from None
        except sqlite3.Error as exc:
            raise _storage_error(self.path, exc) from None

    def execute_many(
        self,
        sql: str,
        rows: Sequence[Sequence[object]],
        *,
        foreign_key: str | None = None,
    ) -> None:
        """``executemany`` in the transaction. A constraint failure is raised as it is
        (sqlite3.IntegrityError) for the caller to explain; other errors are translated."""
        conn = self._connection()
        if not self._in_transaction:
            self._begin()
        try:
            conn.executemany(sql, rows)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise _storage_error(self.path, exc) from None

    def _constraint_error(
        self,
        exc: sqlite3.IntegrityError,
        unique: Mapping[str, str] | None,
        foreign_key: str | None,
    ) -> WorkstationError:
        text = str(exc)
        if text.startswith("UNIQUE constraint failed: ") and unique:
            columns = text.removeprefix("UNIQUE constraint failed: ")
            for column, message in unique.items():
                if column == columns:
                    return AlreadyExists(message, detail=text)
        if "FOREIGN KEY constraint failed" in text and foreign_key:
            return NotFound(foreign_key, detail=text)
        if "component holders is append-only" in text:
            return IntegrityError(
                "The register of component holders is append-only; entries cannot change."
            )
        if "append-only" in text:
            return IntegrityError("The audit log is append-only; entries cannot change.")
        return WorkstationError(
            f"The repository refused the change ({text}); nothing was changed.", detail=text
        )


class _Part:
    """Base of the per-aggregate repositories: they share the unit of work's transaction."""

    def __init__(self, uow: SqliteUnitOfWork) -> None:
        self._uow = uow

    def _x(
        self,
        sql: str,
        params: Sequence[object] | Mapping[str, object] = (),
        *,
        unique: Mapping[str, str] | None = None,
        foreign_key: str | None = None,
    ) -> sqlite3.Cursor:
        return self._uow.execute(sql, params, unique=unique, foreign_key=foreign_key)

    def _one(self, sql: str, params: Sequence[object] = ()) -> Any:
        return self._x(sql, params).fetchone()

    def _require_changed(self, cursor: sqlite3.Cursor, message: str) -> None:
        if cursor.rowcount == 0:
            raise NotFound(message)


# --- people, cards, groups, policy, templates ----------------------------------------------


class _Named(Protocol):
    """A record with an id and a unique name (person, group, template)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    def to_record(self) -> dict[str, Any]: ...


N = TypeVar("N", bound=_Named)


class _NamedRecords(_Part, Generic[N]):
    """A table of sealed records with a unique, case-insensitive name:
    ``(id, name, name_key, record, mac)``."""

    table: str  # quoted where needed
    noun: str  # "person", "group", "template"
    rebuild: Callable[[dict[str, Any]], N]

    def _unique(self, item: N) -> dict[str, str]:
        bare = self.table.strip('"')
        return {
            f"{bare}.id": f"A {self.noun} with id {item.id} already exists.",
            f"{bare}.name_key": f"A {self.noun} named {item.name} already exists.",
        }

    def add(self, item: N, mac: bytes) -> None:
        self._x(
            f"INSERT INTO {self.table} (id, name, name_key, record, mac) "  # noqa: S608 - fixed names
            "VALUES (?, ?, ?, ?, ?)",
            (item.id, item.name, name_key(item.name), _record_text(item.to_record()), mac),
            unique=self._unique(item),
        )

    def update(self, item: N, mac: bytes) -> None:
        cursor = self._x(
            f"UPDATE {self.table} SET name = ?, name_key = ?, record = ?, mac = ? "  # noqa: S608
            "WHERE id = ?",
            (item.name, name_key(item.name), _record_text(item.to_record()), mac, item.id),
            unique=self._unique(item),
        )
        self._require_changed(cursor, f"There is no {self.noun} with id {item.id}.")

    def _sealed(self, row: Any) -> Sealed[N]:
        item = _rebuild(type(self).rebuild, row[0], f"{self.noun} {row[3]}")
        if item.id != row[2] or item.name != row[3]:
            raise _integrity(f"{self.noun} {row[3]}", "does not match its row")
        return Sealed(item, bytes(row[1]))

    def _select(self, where: str, params: Sequence[object] = ()) -> list[Any]:
        sql = f"SELECT record, mac, id, name FROM {self.table} {where}"  # noqa: S608
        return list(self._x(sql, params).fetchall())

    def get(self, item_id: str) -> Sealed[N] | None:
        rows = self._select("WHERE id = ?", (item_id,))
        return self._sealed(rows[0]) if rows else None

    def by_name(self, name: str) -> Sealed[N] | None:
        rows = self._select("WHERE name_key = ?", (name_key(name),))
        return self._sealed(rows[0]) if rows else None

    def list(self) -> list[Sealed[N]]:
        return [self._sealed(r) for r in self._select("ORDER BY name_key, id")]


class SqlitePeopleRepository(_NamedRecords[Person]):
    table, noun, rebuild = "people", "person", Person.from_record


class SqlitePartnerRepository(_NamedRecords[Partner]):
    table, noun, rebuild = "partners", "partner", Partner.from_record


class SqliteCardRepository(_Part):
    def add(self, card: Card, mac: bytes) -> None:
        self._x(
            "INSERT INTO cards (id, person_id, record, mac) VALUES (?, ?, ?, ?)",
            (card.id, card.person_id, _record_text(card.to_record()), mac),
            unique={"cards.id": f"Card {card.short_id} is already enrolled."},
            foreign_key=f"Card {card.short_id}: there is no person with id {card.person_id}.",
        )

    def update(self, card: Card, mac: bytes) -> None:
        cursor = self._x(
            "UPDATE cards SET person_id = ?, record = ?, mac = ? WHERE id = ?",
            (card.person_id, _record_text(card.to_record()), mac, card.id),
            foreign_key=f"Card {card.short_id}: there is no person with id {card.person_id}.",
        )
        self._require_changed(cursor, f"Card {card.short_id} is not enrolled.")

    def _sealed(self, row: Any) -> Sealed[Card]:
        card = _rebuild(Card.from_record, row[0], f"card {str(row[2])[:12]}")
        if card.id != row[2] or card.person_id != row[3]:
            raise _integrity(f"card {card.short_id}", "does not match its row")
        return Sealed(card, bytes(row[1]))

    def get(self, card_id: str) -> Sealed[Card] | None:
        row = self._one("SELECT record, mac, id, person_id FROM cards WHERE id = ?", (card_id,))
        return self._sealed(row) if row else None

    def for_person(self, person_id: str) -> list[Sealed[Card]]:
        rows = self._x(
            "SELECT record, mac, id, person_id FROM cards WHERE person_id = ? ORDER BY id",
            (person_id,),
        ).fetchall()
        return [self._sealed(r) for r in rows]

    def list(self) -> list[Sealed[Card]]:
        rows = self._x(
            "SELECT record, mac, id, person_id FROM cards ORDER BY person_id, id"
        ).fetchall()
        return [self._sealed(r) for r in rows]


class SqliteGroupRepository(_NamedRecords[Group]):
    table, noun, rebuild = '"groups"', "group", Group.from_record


class SqlitePolicyRepository(_Part):
    def get(self) -> Sealed[PolicySet] | None:
        row = self._one("SELECT record, mac FROM policy WHERE id = 1")
        if row is None:
            return None
        return Sealed(_rebuild(PolicySet.from_record, row[0], "the policy set"), bytes(row[1]))

    def put(self, policy: PolicySet, mac: bytes) -> None:
        self._x(
            "INSERT INTO policy (id, record, mac) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET record = excluded.record, mac = excluded.mac",
            (_record_text(policy.to_record()), mac),
        )


class SqliteTemplateRepository(_NamedRecords[KeyTemplate]):
    # The label sequence is a column of its own: an update leaves it alone, as it belongs
    # to the template, not to one version of it.
    table, noun, rebuild = "templates", "template", KeyTemplate.from_record

    def next_sequence(self, template_id: str) -> int:
        return self.reserve_sequence(template_id, 1)

    def reserve_sequence(self, template_id: str, count: int) -> int:
        """Reserve ``count`` consecutive numbers; returns the first."""
        if count < 1:
            raise ValueError("reserve at least one sequence number")
        row = self._one(
            "UPDATE templates SET last_sequence = last_sequence + ? WHERE id = ? "
            "RETURNING last_sequence",
            (count, template_id),
        )
        if row is None:
            raise NotFound(f"There is no template with id {template_id}.")
        return int(row[0]) - count + 1


# --- keys --------------------------------------------------------------------------------


def _key_columns(key: ManagedKey) -> tuple[str, str, str, str, str, str, str]:
    deactivation = format_time(key.deactivation_date)
    assert deactivation is not None
    return (
        key.label,
        key.state.value,
        key.key_usage,
        key.algorithm.value,
        key.template_id,
        key.kcv.upper(),
        deactivation,
    )


class SqliteKeyRepository(_Part):
    _SELECT = (
        "SELECT record, mac, id, label, state, key_usage, algorithm, template_id, kcv, "
        "deactivation_date FROM keys"
    )

    def _messages(self, key: ManagedKey) -> tuple[dict[str, str], str]:
        unique = {
            "keys.id": f"A key with id {key.id} already exists.",
            "keys.label": f"A key labelled {key.label} already exists.",
        }
        missing_template = f"Key {key.label}: there is no template with id {key.template_id}."
        return unique, missing_template

    def add(self, key: ManagedKey, mac: bytes) -> None:
        unique, missing = self._messages(key)
        self._x(
            "INSERT INTO keys (label, state, key_usage, algorithm, template_id, kcv, "
            "deactivation_date, id, record, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*_key_columns(key), key.id, _record_text(key.to_record()), mac),
            unique=unique,
            foreign_key=missing,
        )

    def add_many(self, keys: Sequence[tuple[ManagedKey, bytes]]) -> None:
        """Add several keys with one statement (bulk generation); on a constraint failure
        the batch is undone and the first offending key is named."""
        rows = [
            (*_key_columns(key), key.id, _record_text(key.to_record()), mac) for key, mac in keys
        ]
        self._x("SAVEPOINT add_keys")
        try:
            self._uow.execute_many(
                "INSERT INTO keys (label, state, key_usage, algorithm, template_id, kcv, "
                "deactivation_date, id, record, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        except sqlite3.IntegrityError:
            self._x("ROLLBACK TO add_keys")
            self._x("RELEASE add_keys")
            for key, mac in keys:  # one by one, for the precise message
                self.add(key, mac)
            raise  # pragma: no cover - add() raised above
        self._x("RELEASE add_keys")

    def update(self, key: ManagedKey, mac: bytes) -> None:
        unique, missing = self._messages(key)
        cursor = self._x(
            "UPDATE keys SET label = ?, state = ?, key_usage = ?, algorithm = ?, "
            "template_id = ?, kcv = ?, deactivation_date = ?, record = ?, mac = ? "
            "WHERE id = ?",
            (*_key_columns(key), _record_text(key.to_record()), mac, key.id),
            unique=unique,
            foreign_key=missing,
        )
        self._require_changed(cursor, f"There is no key with id {key.id}.")

    def _sealed(self, row: Any) -> Sealed[ManagedKey]:
        key = _rebuild(ManagedKey.from_record, row[0], f"key {row[3]}")
        if (key.id, *_key_columns(key)) != tuple(row[2:]):
            # A query found this row by a column its (MAC-bound) record does not have.
            raise _integrity(f"key {row[3]}", "does not match its indexed columns")
        return Sealed(key, bytes(row[1]))

    def get(self, key_id: str) -> Sealed[ManagedKey] | None:
        row = self._one(self._SELECT + " WHERE id = ?", (key_id,))
        return self._sealed(row) if row else None

    def by_label(self, label: str) -> Sealed[ManagedKey] | None:
        row = self._one(self._SELECT + " WHERE label = ?", (label,))
        return self._sealed(row) if row else None

    @staticmethod
    def _where(query: KeyQuery) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        if query.states:
            states = sorted({KeyState(s).value for s in query.states})
            clauses.append(f"state IN ({', '.join('?' * len(states))})")
            params += states
        if query.key_usage is not None:
            clauses.append("key_usage = ?")
            params.append(query.key_usage)
        if query.algorithm is not None:
            clauses.append("algorithm = ?")
            params.append(query.algorithm.value)
        if query.template_id is not None:
            clauses.append("template_id = ?")
            params.append(query.template_id)
        if query.label:
            if query.label.isascii():
                # LIKE folds ASCII case and reads the label index only.
                clauses.append("label LIKE ? ESCAPE '\\'")
                params.append(_like_pattern(query.label))
            else:
                clauses.append("instr(kcw_name_key(label), ?) > 0")
                params.append(name_key(query.label))
        if query.kcv:
            low, high = _prefix_range(query.kcv.strip().upper())
            clauses.append("kcv >= ? AND kcv < ?")
            params += [low, high]
        if query.expiring_before is not None:
            # Written as the partial index's own condition so that SQLite uses it.
            clauses.append("deactivation_date < ? AND state <> 'destroyed'")
            params.append(format_time(query.expiring_before))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return where, params

    def query(self, query: KeyQuery) -> list[Sealed[ManagedKey]]:
        if query.limit is not None and query.limit < 0:
            raise BadInput("The number of keys to show cannot be negative.")
        if query.offset < 0:
            raise BadInput("The number of keys to skip cannot be negative.")
        where, params = self._where(query)
        limit = -1 if query.limit is None else int(query.limit)
        offset = int(query.offset)
        # Page first, then fetch: the inner query sorts (label, rowid) pairs read from an
        # index that holds every filter column and the label, and only the rows of the page
        # are read from the table (sorting the full rows of 100,000 matches to show 100
        # takes a quarter of a second). LIMIT and OFFSET are written as numbers, not bound:
        # given "LIMIT ?", SQLite guesses a small page and walks the whole label index
        # (160 ms for the expired keys among 1,000,000, against 15 ms). The WHERE clauses
        # are fixed text; every value in them is a parameter.
        page = f"SELECT rowid FROM keys{where} ORDER BY label LIMIT {limit} OFFSET {offset}"  # noqa: S608
        rows = self._x(f"{self._SELECT} WHERE rowid IN ({page}) ORDER BY label", params).fetchall()
        return [self._sealed(r) for r in rows]

    def count(self, query: KeyQuery) -> int:
        """Keys matching every filter; ``limit`` and ``offset`` are ignored."""
        where, params = self._where(query)
        sql = "SELECT count(*) FROM keys" + where  # noqa: S608 - fixed clauses, values bound
        return int(self._one(sql, params)[0])

    def add_event(self, event: KeyEvent) -> None:
        self._x(
            "INSERT INTO key_events (key_id, record) VALUES (?, ?)",
            (event.key_id, _record_text(event.to_record())),
            foreign_key=f"There is no key with id {event.key_id}.",
        )

    def add_events(self, events: Sequence[KeyEvent]) -> None:
        try:
            self._uow.execute_many(
                "INSERT INTO key_events (key_id, record) VALUES (?, ?)",
                [(e.key_id, _record_text(e.to_record())) for e in events],
            )
        except sqlite3.IntegrityError as exc:
            raise NotFound("An event names a key that does not exist.", detail=str(exc)) from None

    def events(self, key_id: str) -> list[KeyEvent]:
        rows = self._x(
            "SELECT record FROM key_events WHERE key_id = ? ORDER BY id", (key_id,)
        ).fetchall()
        return [_rebuild(KeyEvent.from_record, r[0], f"an event of key {key_id}") for r in rows]


# --- audit -------------------------------------------------------------------------------


def _people_keys(body: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    requester = body.get("requester")
    if isinstance(requester, dict) and isinstance(requester.get("name"), str):
        names.add(name_key(requester["name"]))
    for member in body.get("members") or ():
        if isinstance(member, dict) and isinstance(member.get("name"), str):
            names.add(name_key(member["name"]))
    return names


class SqliteAuditRepository(_Part):
    @staticmethod
    def _entry(row: Any) -> AuditEntry:
        body = _load(row[1], f"audit entry {row[0]}")
        return AuditEntry(seq=int(row[0]), body=body, prev_hash=bytes(row[2]), hash=bytes(row[3]))

    def append(self, event: AuditEvent) -> AuditEntry:
        """Chain ``event`` after the last entry, in this unit of work's transaction.

        The transaction began with BEGIN IMMEDIATE, so no other writer can append between
        reading the head and inserting. Raises ValueError for an event without a time or
        with details that are not JSON.
        """
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[AuditEvent]) -> list[AuditEntry]:
        """Chain several events in order, with one read of the head and one insert per
        table (bulk generation)."""
        if self._uow._read_only:
            raise WorkstationError("This unit of work is read-only; it cannot append audit.")
        head = self._one("SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1")
        seq, prev_hash = (int(head[0]), bytes(head[1])) if head else (0, GENESIS_HASH)
        entries: list[AuditEntry] = []
        rows: list[tuple[object, ...]] = []
        people: list[tuple[str, int]] = []
        for event in events:
            if event.at is None:
                raise ValueError(f"audit event {event.action!r} has no time (AuditEvent.at)")
            seq += 1
            body = event.body(seq)
            try:
                text = canonical(body)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"audit event {event.action!r} is not JSON: {exc}") from None
            digest = entry_hash_canonical(prev_hash, text)
            rows.append(
                (
                    seq,
                    text.decode("utf-8"),
                    prev_hash,
                    digest,
                    body["at"],
                    event.action,
                    event.object_type,
                    event.object_id,
                )
            )
            people += [(key, seq) for key in sorted(_people_keys(body))]
            # event.body() builds lists and dicts only, as entries() returns them.
            entries.append(AuditEntry(seq=seq, body=body, prev_hash=prev_hash, hash=digest))
            prev_hash = digest
        try:
            self._uow.execute_many(
                "INSERT INTO audit_entries (seq, body, prev_hash, hash, at, action, "
                "object_type, object_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._uow.execute_many("INSERT INTO audit_people (name_key, seq) VALUES (?, ?)", people)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(
                "The audit log refused the new entries; nothing was changed.", detail=str(exc)
            ) from None
        return entries

    def last(self) -> AuditEntry | None:
        row = self._one(
            "SELECT seq, body, prev_hash, hash FROM audit_entries ORDER BY seq DESC LIMIT 1"
        )
        return self._entry(row) if row else None

    def entries(self, start_seq: int = 1) -> Iterator[AuditEntry]:
        """Every entry from ``start_seq`` in seq order, streamed. Iterate inside the
        ``with uow:`` block."""
        cursor = self._x(
            "SELECT seq, body, prev_hash, hash FROM audit_entries WHERE seq >= ? ORDER BY seq",
            (start_seq,),
        )
        entry = self._entry
        while rows := cursor.fetchmany(FETCH_BATCH):
            for row in rows:
                yield entry(row)

    def chain(self, start_seq: int = 1) -> Iterator[tuple[int, bytes, bytes, bytes]]:
        """(seq, canonical body bytes, prev_hash, hash) as stored, streamed: what
        ``verify_chain`` and ``write_export`` take, without parsing and re-encoding each
        body (four times faster than ``entries()`` over a million entries)."""
        cursor = self._x(
            "SELECT seq, CAST(body AS BLOB), prev_hash, hash FROM audit_entries "
            "WHERE seq >= ? ORDER BY seq",
            (start_seq,),
        )
        while rows := cursor.fetchmany(FETCH_BATCH):
            yield from rows

    def count(self) -> int:
        return int(self._one("SELECT count(*) FROM audit_entries")[0])

    def add_checkpoint(self, checkpoint: AuditCheckpoint) -> None:
        row = self._one("SELECT hash FROM audit_entries WHERE seq = ?", (checkpoint.seq,))
        if row is None:
            raise NotFound(f"There is no audit entry {checkpoint.seq} to checkpoint.")
        if bytes(row[0]) != checkpoint.hash:
            raise IntegrityError(
                f"The checkpoint for audit entry {checkpoint.seq} names another hash than the "
                "entry has; it was not stored."
            )
        self._x(
            "INSERT INTO audit_checkpoints (seq, hash, at, signature) VALUES (?, ?, ?, ?)",
            (checkpoint.seq, checkpoint.hash, checkpoint.at, checkpoint.signature),
        )

    def checkpoints(self) -> list[AuditCheckpoint]:
        """Every checkpoint, by seq (then in the order they were made)."""
        rows = self._x(
            "SELECT seq, hash, at, signature FROM audit_checkpoints ORDER BY seq, id"
        ).fetchall()
        return [
            AuditCheckpoint(seq=int(r[0]), hash=bytes(r[1]), at=r[2], signature=bytes(r[3]))
            for r in rows
        ]

    def search(
        self,
        *,
        person: str | None = None,
        action: str | None = None,
        object_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """The latest ``limit`` entries matching every filter, in seq order.

        ``person``: requester or member, exact name, case-insensitive. ``action``: a
        prefix ("key." finds every key action). ``since`` <= at <= ``until``.
        """
        if limit < 0:
            raise BadInput("The number of audit entries to show cannot be negative.")
        clauses: list[str] = []
        params: list[object] = []
        if action:
            low, high = _prefix_range(action)
            if since or until:
                # A time range is what narrows an auditor's search most ("key rotations
                # last week"): keep SQLite from driving by the action index instead.
                clauses.append("+e.action >= ? AND +e.action < ?")
            else:
                clauses.append("e.action >= ? AND e.action < ?")
            params += [low, high]
        if object_id:
            clauses.append("e.object_id = ?")
            params.append(object_id)
        if since is not None:
            clauses.append("e.at >= ?")
            params.append(format_time(since))
        if until is not None:
            clauses.append("e.at <= ?")
            params.append(format_time(until))
        source, order = "audit_entries AS e", "e.seq"
        if person and (object_id or since or until):
            # The object or the time range narrows more: look the person up per entry.
            clauses.append(
                "EXISTS (SELECT 1 FROM audit_people AS p WHERE p.name_key = ? AND p.seq = e.seq)"
            )
            params.append(name_key(person))
        elif person:
            # Walk the person's entries newest first (the (name_key, seq) key is in that
            # order) and stop at ``limit``; CROSS JOIN keeps SQLite to that order.
            clauses.insert(0, "p.name_key = ?")
            params.insert(0, name_key(person))
            source = "audit_people AS p CROSS JOIN audit_entries AS e ON e.seq = p.seq"
            order = "p.seq"
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        # As for keys: pick the seqs from the indexes first, read the bodies of those
        # only; the limit is written as a number so that SQLite plans for it. The WHERE
        # clauses are fixed text; every value is a parameter.
        page = f"SELECT e.seq FROM {source}{where} ORDER BY {order} DESC LIMIT {int(limit)}"  # noqa: S608
        rows = self._x(
            f"SELECT seq, body, prev_hash, hash FROM audit_entries WHERE seq IN ({page}) "  # noqa: S608
            "ORDER BY seq",
            params,
        ).fetchall()
        return [self._entry(r) for r in rows]


# --- meta --------------------------------------------------------------------------------


class SqliteMetaRepository(_Part):
    def get(self, name: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE name = ?", (name,))
        return str(row[0]) if row else None

    def put(self, name: str, value: str) -> None:
        if name in _RESERVED_META:
            raise ValueError(f"{name} is kept by the repository itself")
        self._x(
            "INSERT INTO meta (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )


# --- ceremonies, envelopes, holdings -------------------------------------------------------


class SqliteCeremonyRepository(_Part):
    _SELECT = "SELECT record, mac, id FROM ceremonies"

    def add(self, ceremony: Ceremony, mac: bytes) -> None:
        self._x(
            "INSERT INTO ceremonies (id, kind, started_at, key_id, record, mac) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                ceremony.id,
                ceremony.kind.value,
                format_time(ceremony.started_at),
                ceremony.key_id,
                _record_text(ceremony.to_record()),
                mac,
            ),
            unique={"ceremonies.id": f"Ceremony {ceremony.id} is already recorded."},
        )

    def _sealed(self, row: Any) -> Sealed[Ceremony]:
        ceremony = _rebuild(Ceremony.from_record, row[0], f"ceremony {row[2]}")
        if ceremony.id != row[2]:
            raise _integrity(f"ceremony {row[2]}", "does not match its row")
        return Sealed(ceremony, bytes(row[1]))

    def get(self, ceremony_id: str) -> Sealed[Ceremony] | None:
        ref = ceremony_id.strip().lower()
        row = self._one(f"{self._SELECT} WHERE id = ?", (ref,))
        if row is None and len(ref) >= 6:
            lo, hi = _prefix_range(ref)
            rows = self._x(
                f"{self._SELECT} WHERE id >= ? AND id < ? LIMIT 2",
                (lo, hi),
            ).fetchall()
            if len(rows) > 1:
                raise BadInput(f"Several ceremonies start with {ceremony_id!r}; give more of it.")
            row = rows[0] if rows else None
        return self._sealed(row) if row else None

    def list(self, *, key_id: str | None = None, limit: int = 500) -> list[Sealed[Ceremony]]:
        where, params = ("WHERE key_id = ?", [key_id]) if key_id else ("", [])
        rows = self._x(
            f"{self._SELECT} {where} ORDER BY started_at DESC, id LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [self._sealed(r) for r in rows]


class SqliteCertificateRepository(_Part):
    _SELECT = "SELECT record, mac, id FROM certificates"

    def _params(self, c: CertificateRecord, mac: bytes) -> tuple[object, ...]:
        return (
            c.key_id,
            c.fingerprint,
            format_time(c.not_after),
            c.status.value,
            _record_text(c.to_record()),
            mac,
            c.id,
        )

    def add(self, certificate: CertificateRecord, mac: bytes) -> None:
        self._x(
            "INSERT INTO certificates (key_id, fingerprint, not_after, status, record, mac, id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            self._params(certificate, mac),
            unique={
                "certificates.id": f"Certificate {certificate.id} is already recorded.",
                "certificates.fingerprint": (
                    f"Certificate {certificate.serial} of {certificate.subject} is already "
                    "in the inventory."
                ),
            },
        )

    def update(self, certificate: CertificateRecord, mac: bytes) -> None:
        cursor = self._x(
            "UPDATE certificates SET key_id = ?, fingerprint = ?, not_after = ?, status = ?, "
            "record = ?, mac = ? WHERE id = ?",
            self._params(certificate, mac),
        )
        self._require_changed(cursor, f"There is no certificate with id {certificate.id}.")

    def _sealed(self, row: Any) -> Sealed[CertificateRecord]:
        cert = _rebuild(CertificateRecord.from_record, row[0], f"certificate {row[2]}")
        if cert.id != row[2]:
            raise _integrity(f"certificate {row[2]}", "does not match its row")
        return Sealed(cert, bytes(row[1]))

    def get(self, certificate_id: str) -> Sealed[CertificateRecord] | None:
        row = self._one(f"{self._SELECT} WHERE id = ?", (certificate_id,))
        return self._sealed(row) if row else None

    def for_key(self, key_id: str) -> list[Sealed[CertificateRecord]]:
        rows = self._x(
            f"{self._SELECT} WHERE key_id = ? ORDER BY not_after DESC, id", (key_id,)
        ).fetchall()
        return [self._sealed(r) for r in rows]

    def list(
        self, *, expiring_before: datetime | None = None, limit: int = 5000
    ) -> list[Sealed[CertificateRecord]]:
        params: list[object]
        if expiring_before is None:
            sql, params = f"{self._SELECT} ORDER BY not_after, id LIMIT ?", [limit]
        else:
            sql = f"{self._SELECT} WHERE status = 'current' AND not_after < ? "
            sql += "ORDER BY not_after, id LIMIT ?"
            params = [format_time(expiring_before), limit]
        return [self._sealed(r) for r in self._x(sql, params).fetchall()]


D = TypeVar("D", bound=Document)


class SqliteDocumentRepository(_Part):
    _SELECT = "SELECT record, mac, id FROM documents"

    def add(self, doc: Document, mac: bytes) -> None:
        self._x(
            "INSERT INTO documents (kind, id, subject, due, record, mac) VALUES (?, ?, ?, ?, ?, ?)",
            (
                doc.KIND,
                doc.id,
                doc.subject,
                format_time(doc.due),
                _record_text(doc.to_record()),
                mac,
            ),
            unique={
                "documents.kind, documents.id": f"The {doc.KIND} {doc.id} is already recorded."
            },
        )

    def update(self, doc: Document, mac: bytes) -> None:
        cursor = self._x(
            "UPDATE documents SET subject = ?, due = ?, record = ?, mac = ? "
            "WHERE kind = ? AND id = ?",
            (
                doc.subject,
                format_time(doc.due),
                _record_text(doc.to_record()),
                mac,
                doc.KIND,
                doc.id,
            ),
        )
        self._require_changed(cursor, f"There is no {doc.KIND} with id {doc.id}.")

    def delete(self, kind: type[Document], doc_id: str) -> None:
        cursor = self._x("DELETE FROM documents WHERE kind = ? AND id = ?", (kind.KIND, doc_id))
        self._require_changed(cursor, f"There is no {kind.KIND} with id {doc_id}.")

    def _sealed(self, kind: type[D], row: Any) -> Sealed[D]:
        what = f"{kind.KIND} {row[2]}"
        doc = _rebuild(kind.from_record, row[0], what)
        if doc.id != row[2]:
            raise _integrity(what, "does not match its row")
        return Sealed(doc, bytes(row[1]))

    def get(self, kind: type[D], doc_id: str) -> Sealed[D] | None:
        row = self._one(f"{self._SELECT} WHERE kind = ? AND id = ?", (kind.KIND, doc_id))
        return self._sealed(kind, row) if row else None

    def list(
        self,
        kind: type[D],
        *,
        subject: str | None = None,
        due_before: datetime | None = None,
        limit: int = 5000,
    ) -> list[Sealed[D]]:
        sql, params = f"{self._SELECT} WHERE kind = ?", [kind.KIND]
        if subject is not None:
            sql += " AND subject = ?"
            params.append(subject)
        if due_before is not None:
            sql += " AND due IS NOT NULL AND due < ?"
            params.append(format_time(due_before) or "")
        sql += " ORDER BY due IS NULL, due, id LIMIT ?"
        rows = self._x(sql, (*params, limit)).fetchall()
        return [self._sealed(kind, r) for r in rows]


class SqliteEnvelopeRepository(_Part):
    _SELECT = "SELECT record, mac, serial, state, bag_number FROM envelopes"

    def _columns(self, e: Envelope) -> tuple[object, ...]:
        return (
            e.ceremony_id,
            e.key_id,
            e.custodian_id,
            e.state.value,
            e.bag_number,
            _record_text(e.to_record()),
        )

    def _unique(self, e: Envelope) -> dict[str, str]:
        return {
            "envelopes.serial": f"Envelope {e.serial} already exists.",
            "envelopes.bag_number": f"Bag number {e.bag_number} is already used for another "
            "envelope; each tamper-evident bag has its own number.",
        }

    def add(self, envelope: Envelope, mac: bytes) -> None:
        self._x(
            "INSERT INTO envelopes (ceremony_id, key_id, custodian_id, state, bag_number, "
            "record, mac, serial) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (*self._columns(envelope), mac, envelope.serial),
            unique=self._unique(envelope),
            foreign_key=f"Envelope {envelope.serial}: no ceremony {envelope.ceremony_id}.",
        )

    def update(self, envelope: Envelope, mac: bytes) -> None:
        cursor = self._x(
            "UPDATE envelopes SET ceremony_id = ?, key_id = ?, custodian_id = ?, state = ?, "
            "bag_number = ?, record = ?, mac = ? WHERE serial = ?",
            (*self._columns(envelope), mac, envelope.serial),
            unique=self._unique(envelope),
        )
        self._require_changed(cursor, f"There is no envelope {envelope.serial}.")

    def _sealed(self, row: Any) -> Sealed[Envelope]:
        e = _rebuild(Envelope.from_record, row[0], f"envelope {row[2]}")
        if e.serial != row[2] or e.state.value != row[3] or e.bag_number != row[4]:
            raise _integrity(f"envelope {row[2]}", "does not match its row")
        return Sealed(e, bytes(row[1]))

    def get(self, serial: str) -> Sealed[Envelope] | None:
        row = self._one(f"{self._SELECT} WHERE serial = ?", (serial.strip().upper(),))
        return self._sealed(row) if row else None

    def next_serials(self, count: int) -> list[str]:
        if count < 1:
            raise ValueError("ask for at least one serial")
        row = self._one(
            "INSERT INTO meta (name, value) VALUES ('envelope_serial', ?) "
            "ON CONFLICT (name) DO UPDATE SET value = CAST(value AS INTEGER) + ? "
            "RETURNING value",
            (str(count), count),
        )
        last = int(row[0])
        return [f"KCW-E-{n:06d}" for n in range(last - count + 1, last + 1)]

    def list(
        self,
        *,
        state: EnvelopeState | None = None,
        custodian_id: str | None = None,
        ceremony_id: str | None = None,
        key_id: str | None = None,
    ) -> list[Sealed[Envelope]]:
        clauses: list[str] = []
        params: list[object] = []
        for column, value in (
            ("state", state.value if state else None),
            ("custodian_id", custodian_id),
            ("ceremony_id", ceremony_id),
            ("key_id", key_id),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._x(f"{self._SELECT} {where} ORDER BY serial", params).fetchall()
        return [self._sealed(r) for r in rows]


class SqliteHoldingRepository(_Part):
    _SELECT = "SELECT record, mac, person_id, key_id FROM holdings"

    def add_many(self, holdings: Sequence[tuple[ComponentHolding, bytes]]) -> None:
        for h, mac in holdings:
            self._x(
                "INSERT INTO holdings (person_id, key_id, key_identity, record, mac) "
                "VALUES (?, ?, ?, ?, ?)",
                (h.person_id, h.key_id, h.key_identity, _record_text(h.to_record()), mac),
            )

    def _sealed(self, row: Any) -> Sealed[ComponentHolding]:
        h = _rebuild(ComponentHolding.from_record, row[0], "a component holding")
        if h.person_id != row[2] or h.key_id != row[3]:
            raise _integrity("a component holding", "does not match its row")
        return Sealed(h, bytes(row[1]))

    def for_people(self, person_ids: Sequence[str]) -> list[Sealed[ComponentHolding]]:
        if not person_ids:
            return []
        marks = ", ".join("?" for _ in person_ids)
        rows = self._x(
            f"{self._SELECT} WHERE person_id IN ({marks}) ORDER BY id",
            list(person_ids),
        ).fetchall()
        return [self._sealed(r) for r in rows]

    def for_key(self, key_id: str) -> list[Sealed[ComponentHolding]]:
        rows = self._x(f"{self._SELECT} WHERE key_id = ? ORDER BY id", (key_id,)).fetchall()
        return [self._sealed(r) for r in rows]

    def list(self, *, limit: int = 5000) -> list[Sealed[ComponentHolding]]:
        rows = self._x(f"{self._SELECT} ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [self._sealed(r) for r in rows]
