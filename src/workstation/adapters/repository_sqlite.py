"""The repository on SQLite: the workstation's system of record.

One file (stdlib ``sqlite3``) in WAL mode. Every record is stored as its canonical JSON
(``workstation.domain.records.canonical_bytes(x.to_record())``) beside the HSM MAC the
services computed over it; the few columns queries need (labels, states, dates, ...) are
copied out of the record into indexed columns, and checked against it on every read. The
records, queries and optimistic concurrency (a revision per mutable record, since schema
version 6) are shared with the PostgreSQL repository in ``repository_common``; this module
holds what is SQLite's own: the file, the schema and its migrations, transactions, errors.

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

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

from workstation.adapters.repository_common import (
    FETCH_BATCH,
    ConstraintViolation,
    SqlUnitOfWork,
    constraint_error,
    like_pattern,
    name_key,
    now_text,
)
from workstation.errors import (
    AlreadyInitialised,
    BadInput,
    NotInitialised,
    WorkstationError,
)

__all__ = [
    "MIGRATIONS",
    "Migration",
    "SqliteRepository",
    "SqliteUnitOfWork",
    "name_key",
]

BUSY_TIMEOUT_MS = 10_000  # a writer waits this long for another one to commit


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


# Optimistic concurrency (issue 7, see repository_common): a revision per mutable record.
REVISED_TABLES: tuple[str, ...] = (
    "people",
    "cards",
    '"groups"',
    "policy",
    "templates",
    "keys",
    "envelopes",
    "partners",
    "certificates",
    "documents",
)


def _schema_v6(conn: sqlite3.Connection) -> None:
    for table in REVISED_TABLES:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN revision INTEGER NOT NULL DEFAULT 0")


LABEL_SEARCH_MIN = 3  # characters of a folded search the trigram index can answer
# Beyond this many labels holding the text, reading the label index beats fetching each
# match by its rowid (on 1,000,000 keys: 'zmk', 153,846 matches, 250 ms from the
# index, against 110 ms reading the labels; about 0.8 microseconds a match, twice: the
# page and the count).
LABEL_INDEX_MAX_MATCHES = 50_000

_SCHEMA_V7: tuple[str, ...] = (
    # The label search (issue 7): the label NFC-normalised and case-folded, as name_key
    # makes it (the adapter writes it; SQLite's own folding is ASCII only), and an FTS5
    # trigram index over it (SQLite 3.34+): a substring of 3 characters or more is found
    # from the index, not by reading 1,000,000 labels. case_sensitive 1: the text is
    # folded already. The adapter keeps it in step with the keys table in the same
    # transaction (SqliteUnitOfWork.key_labels_written), not a trigger: with
    # trusted_schema OFF SQLite refuses a virtual table inside a trigger.
    "ALTER TABLE keys ADD COLUMN label_key TEXT NOT NULL DEFAULT ''",
    "UPDATE keys SET label_key = kcw_name_key(label)",
    "CREATE VIRTUAL TABLE key_labels USING fts5(label_key, tokenize='trigram case_sensitive 1')",
    "INSERT INTO key_labels (rowid, label_key) SELECT rowid, label_key FROM keys",
)


def _schema_v7(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA_V7:
        conn.execute(statement)
    analyse_keys(conn)  # statistics for the planner, for a repository of some size


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _schema_v1),
    Migration(2, "ceremonies, envelopes and component holders", _schema_v2),
    Migration(3, "exchange partners", _schema_v3),
    Migration(4, "certificates of key pairs", _schema_v4),
    Migration(5, "sealed documents", _schema_v5),
    Migration(6, "record revisions for optimistic concurrency", _schema_v6),
    Migration(7, "label search index and planner statistics", _schema_v7),
)

# ANALYZE keys again when the table has grown this many times over since the last one.
REANALYSE_GROWTH = 2
REANALYSE_MIN_KEYS = 1000


def analyse_keys(conn: sqlite3.Connection, *, growth: int = REANALYSE_GROWTH) -> bool:
    """Give the query planner the keys table's statistics (``sqlite_stat1``) when they are
    missing or the table has grown ``growth`` times over since they were taken; return
    whether ANALYZE ran.

    Why: without statistics SQLite guesses every index equally selective, and for several
    filters at once ("active AES-256 K0") walks one single-column index in label order,
    reading a row per entry (140 ms on 1,000,000 keys); with them it reads the combined
    index (14 ms). ANALYZE of the keys table reads each of its indexes once (under a
    second for 1,000,000 keys); it runs in the caller's transaction.
    https://sqlite.org/lang_analyze.html
    """
    row = conn.execute("SELECT max(rowid) FROM keys").fetchone()  # a cheap size estimate
    size = int(row[0] or 0) if row else 0
    has_stats = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1'"
    ).fetchone()
    analysed = 0
    if has_stats:
        stat = conn.execute(
            "SELECT stat FROM sqlite_stat1 WHERE tbl = 'keys' AND idx = 'keys_facets'"
        ).fetchone()
        analysed = int(str(stat[0]).split()[0]) if stat else 0
    if size < REANALYSE_MIN_KEYS or size < growth * analysed:
        return False
    conn.execute("ANALYZE keys")
    return True


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
                    [("schema_version", str(self.schema_version)), ("created_at", now_text())],
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
                    (now_text(),),
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


class SqliteUnitOfWork(SqlUnitOfWork):
    """One transaction over one connection (see the module docstring); the parts are
    those of ``repository_common``."""

    ROW_LOCATOR: ClassVar[str] = "rowid"
    NO_LIMIT: ClassVar[str] = "-1"
    BODY_BYTES: ClassVar[str] = "CAST(body AS BLOB)"
    PERSON_JOIN: ClassVar[str] = "CROSS JOIN"  # SQLite keeps a CROSS JOIN in written order

    def __init__(self, repository: SqliteRepository, *, read_only: bool = False) -> None:
        super().__init__(read_only=read_only)
        self._repository = repository
        self._conn: sqlite3.Connection | None = None
        self._in_transaction = False

    @property
    def path(self) -> Path:
        return self._repository.path

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
        self.forget_revisions()
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
        self.forget_revisions()
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
        """Run ``sql`` in the transaction (a new one after a commit), translating errors
        (see ``SqlUnitOfWork.execute``)."""
        conn = self._connection()
        if not self._in_transaction:
            self._begin()
        try:
            return conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            text = str(exc)
            prefix = "UNIQUE constraint failed: "
            raise constraint_error(
                text,
                unique_columns=text.removeprefix(prefix) if text.startswith(prefix) else None,
                foreign_key_failed="FOREIGN KEY constraint failed" in text,
                unique=unique,
                foreign_key=foreign_key,
            ) from None
        except sqlite3.Error as exc:
            raise _storage_error(self.path, exc) from None

    def execute_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """``executemany`` in the transaction. A constraint failure is raised as
        ConstraintViolation for the caller to explain; other errors are translated."""
        conn = self._connection()
        if not self._in_transaction:
            self._begin()
        try:
            conn.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise ConstraintViolation(str(exc)) from None
        except sqlite3.Error as exc:
            raise _storage_error(self.path, exc) from None

    def stream(self, sql: str, params: Sequence[object] = ()) -> Iterator[Any]:
        cursor = self.execute(sql, params)
        while rows := cursor.fetchmany(FETCH_BATCH):
            yield from rows

    def begin_write(self) -> None:
        """Nothing to do: a writing unit of work holds SQLite's write lock from its BEGIN
        IMMEDIATE on."""

    def unindexed(self, expr: str) -> str:
        return f"+{expr}"  # SQLite: a unary + keeps a column's index out of the plan

    def label_clause(self, label: str) -> tuple[str, list[object]]:
        folded = name_key(label)
        if len(folded) >= LABEL_SEARCH_MIN:
            # The trigram index: a phrase of the folded text matches the labels whose
            # label_key holds it as a substring (consecutive trigrams). In an FTS5 string
            # only '"' is special, written twice (https://sqlite.org/fts5.html, 3.1).
            phrase = '"' + folded.replace('"', '""') + '"'
            probe = self.execute(
                "SELECT count(*) FROM (SELECT 1 FROM key_labels WHERE key_labels MATCH ? LIMIT ?)",
                (phrase, LABEL_INDEX_MAX_MATCHES),
            ).fetchone()
            if int(probe[0]) < LABEL_INDEX_MAX_MATCHES:
                return "rowid IN (SELECT rowid FROM key_labels WHERE key_labels MATCH ?)", [phrase]
        # One or two characters (no trigram to look up), or a text so common that
        # fetching each match by its rowid costs more than reading the labels: the scan
        # of before the index. For an ASCII text, LIKE folds ASCII case and reads the
        # label index alone; it differs from name_key only for labels whose folding
        # yields ASCII from other characters ('Straße' holds 'ss' for name_key, not for
        # LIKE). Making the scan fold every non-ASCII label exactly costs 50 ms more per
        # 1,000,000 labels; such labels are rare, the trigram index folds them exactly.
        if label.isascii():
            return "label LIKE ? ESCAPE '\\'", [like_pattern(label)]
        return "instr(kcw_name_key(label), ?) > 0", [folded]

    def key_labels_written(self, key_ids: Sequence[str], *, added: bool) -> None:
        if added:
            self.execute_many(
                "INSERT INTO key_labels (rowid, label_key) "
                "SELECT rowid, label_key FROM keys WHERE id = ?",
                [(key_id,) for key_id in key_ids],
            )
            return
        for key_id in key_ids:  # an update: the index changes only if the label did
            self.execute(
                "UPDATE key_labels SET label_key = (SELECT label_key FROM keys WHERE id = ?1) "
                "WHERE rowid = (SELECT rowid FROM keys WHERE id = ?1) "
                "AND label_key IS NOT (SELECT label_key FROM keys WHERE id = ?1)",
                (key_id,),
            )

    def keys_added_in_bulk(self) -> None:
        try:
            analyse_keys(self._connection())
        except sqlite3.Error as exc:
            raise _storage_error(self.path, exc) from None
