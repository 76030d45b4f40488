"""What the SQLite and the PostgreSQL repositories share: the records, the queries, and
optimistic concurrency.

Each adapter supplies a unit of work (``SqlUnitOfWork``) that runs SQL in its transaction
and says how its database differs (a handful of class attributes and methods: the row
locator, "no limit", a label search, the write lock). The per-aggregate parts below write
their SQL once, with ``?`` placeholders (the PostgreSQL unit of work turns them into
psycopg's ``%s``), so both databases store and read records the same way and raise the
same errors with the same messages.

Records are stored as canonical JSON beside the HSM MAC the services computed over them;
the few columns queries need are copies, checked against the record on every read.

Optimistic concurrency: every row of a mutable record (person, card, group, template,
policy, key, partner, certificate, document, envelope) carries a ``revision``. A unit of
work remembers the revision of each record it read (or added, or updated); ``update``
writes only where the row still has that revision and bumps it. If another workstation
changed the row in between, nothing matches: the transaction is rolled back and
``ConflictError`` names the record. An update of a record this unit of work never read
checks against the revision it finds, under the write lock.
"""

from __future__ import annotations

import json
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

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
    BadInput,
    ConflictError,
    IntegrityError,
    NotFound,
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
    "FETCH_BATCH",
    "RESERVED_META",
    "TABLES",
    "ConstraintViolation",
    "Rows",
    "SqlUnitOfWork",
    "conflict_message",
    "constraint_error",
    "like_pattern",
    "name_key",
    "now_text",
]

R = TypeVar("R")

FETCH_BATCH = 1000  # rows per fetch when streaming the audit log
RESERVED_META = frozenset({"schema_version"})

# Every table, parents before children (foreign keys): the order a backup copies them in.
TABLES: tuple[str, ...] = (
    "meta",
    "people",
    "cards",
    "groups",
    "policy",
    "templates",
    "keys",
    "key_events",
    "audit_entries",
    "audit_people",
    "audit_checkpoints",
    "ceremonies",
    "envelopes",
    "holdings",
    "partners",
    "certificates",
    "documents",
)


class ConstraintViolation(Exception):
    """A statement of ``execute_many`` broke a constraint; the caller explains it. The
    transaction is still usable after a ``ROLLBACK TO`` a savepoint taken before."""


class Rows(Protocol):
    """What the parts use of a DB-API cursor (sqlite3 and psycopg both fit)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


def conflict_message(what: str) -> str:
    return (
        f"{what} was changed by another workstation after it was read here; nothing was "
        "saved. Open it again and retry."
    )


def constraint_error(
    text: str,
    *,
    unique_columns: str | None,
    foreign_key_failed: bool,
    unique: Mapping[str, str] | None,
    foreign_key: str | None,
) -> WorkstationError:
    """A constraint failure in words. ``unique_columns``: the failed UNIQUE or PRIMARY KEY
    constraint as ``"table.column"`` (``"t.a, t.b"`` for several columns), as SQLite names
    it; ``unique`` maps those to AlreadyExists messages."""
    if unique_columns is not None and unique:
        for column, message in unique.items():
            if column == unique_columns:
                return AlreadyExists(message, detail=text)
    if foreign_key_failed and foreign_key:
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


# --- helpers -----------------------------------------------------------------------------


def name_key(name: str) -> str:
    """How names compare: NFC-normalised, case-folded (``Zoë`` = ``ZOË``)."""
    return unicodedata.normalize("NFC", name).casefold()


def _record_text(record: Mapping[str, Any]) -> str:
    return canonical_bytes(dict(record)).decode("utf-8")


def now_text() -> str:
    text = format_time(datetime.now(UTC))
    assert text is not None
    return text


def _prefix_range(prefix: str) -> tuple[str, str]:
    """Bounds lo <= s < hi of the strings starting with ``prefix`` (binary collation)."""
    last = prefix[-1]
    if ord(last) >= 0x10FFFF:
        return prefix, prefix + "\U0010ffff"
    return prefix, prefix[:-1] + chr(ord(last) + 1)


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


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


# --- the unit of work, as the parts see it -------------------------------------------------


class SqlUnitOfWork(ABC):
    """One transaction of one database connection, with every part of the ``UnitOfWork``
    port. Subclasses open and end the transaction and run SQL; the class attributes say
    how their SQL differs.

    The parts are typed as their ports (a protocol's attributes must match exactly); the
    audit part with its extra ``chain()`` is also ``audit_log``.
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

    ROW_LOCATOR: ClassVar[str]  # a unique column to page keys by: "rowid" / "id"
    NO_LIMIT: ClassVar[str]  # "LIMIT <this>" reads every row: "-1" / "ALL"
    BODY_BYTES: ClassVar[str]  # the audit body column as bytes
    PERSON_JOIN: ClassVar[str]  # audit_people, then audit_entries in that order
    # keys columns written from the key beyond the record's copies: label_key, the label
    # as name_key folds it, for the label search (both backends, schema version 7)
    KEY_EXTRA_COLUMNS: ClassVar[tuple[str, ...]] = ("label_key",)

    def __init__(self, *, read_only: bool) -> None:
        self._read_only = read_only
        self._revisions: dict[tuple[object, ...], int] = {}
        self.people = PeopleRecords(self)
        self.cards = CardRecords(self)
        self.groups = GroupRecords(self)
        self.policy = PolicyRecord(self)
        self.templates = TemplateRecords(self)
        self.keys = KeyRecords(self)
        self.audit_log = AuditRecords(self)
        self.audit = self.audit_log
        self.meta = MetaRecords(self)
        self.ceremonies = CeremonyRecords(self)
        self.envelopes = EnvelopeRecords(self)
        self.holdings = HoldingRecords(self)
        self.partners = PartnerRecords(self)
        self.certificates = CertificateRecords(self)
        self.documents = DocumentRecords(self)

    @property
    def read_only(self) -> bool:
        return self._read_only

    # --- what a backend provides ---------------------------------------------------------

    @abstractmethod
    def execute(
        self,
        sql: str,
        params: Sequence[object] = (),
        *,
        unique: Mapping[str, str] | None = None,
        foreign_key: str | None = None,
    ) -> Rows:
        """Run ``sql`` in the transaction (a new one after a commit), translating errors.

        ``unique`` maps "table.column" of a UNIQUE or PRIMARY KEY constraint to the
        AlreadyExists message; ``foreign_key`` is the NotFound message for a reference to
        a missing row. After such an error the transaction is still usable."""

    @abstractmethod
    def execute_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """Run ``sql`` once per row; a constraint failure raises ConstraintViolation."""

    @abstractmethod
    def stream(self, sql: str, params: Sequence[object] = ()) -> Iterator[Any]:
        """The rows of a long query, fetched in batches."""

    @abstractmethod
    def rollback(self) -> None: ...

    @abstractmethod
    def label_clause(self, label: str) -> tuple[str, list[object]]:
        """WHERE text and parameters: keys whose label contains ``label``, compared as
        ``name_key`` does (NFC, case-folded)."""

    @abstractmethod
    def begin_write(self) -> None:
        """Called before a read whose result a write depends on (the head of the audit
        chain, a record's revision): take the write lock now if the backend has one."""

    def unindexed(self, expr: str) -> str:
        """``expr`` written so that the planner does not drive a query by its index."""
        return expr

    def key_extra_values(self, key: ManagedKey) -> tuple[object, ...]:
        return (name_key(key.label),)

    def key_labels_written(self, key_ids: Sequence[str], *, added: bool) -> None:
        """After keys were added (``added``) or updated, in the same transaction: a
        backend that keeps its label search index itself (SQLite's FTS5 table) brings it
        in step here; PostgreSQL's indexes follow the table by themselves."""
        return

    def keys_added_in_bulk(self) -> None:
        """After ``keys.add_many``: a backend whose planner needs telling that the keys
        table has grown (SQLite's statistics) does so here; PostgreSQL's autovacuum
        analyses by itself."""
        return

    # --- the revisions read here ---------------------------------------------------------

    def remember(self, ident: tuple[object, ...], revision: int) -> None:
        self._revisions[ident] = revision

    def remembered(self, ident: tuple[object, ...]) -> int | None:
        return self._revisions.get(ident)

    def forget_revisions(self) -> None:
        """After a rollback: what this unit of work wrote is gone, so are its revisions."""
        self._revisions.clear()


class _Part:
    """Base of the per-aggregate repositories: they share the unit of work's transaction."""

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def _x(
        self,
        sql: str,
        params: Sequence[object] = (),
        *,
        unique: Mapping[str, str] | None = None,
        foreign_key: str | None = None,
    ) -> Rows:
        return self._uow.execute(sql, params, unique=unique, foreign_key=foreign_key)

    def _one(self, sql: str, params: Sequence[object] = ()) -> Any:
        return self._x(sql, params).fetchone()

    def _seen(self, ident: tuple[object, ...], revision: object) -> None:
        self._uow.remember(ident, int(str(revision)))

    def _update(
        self,
        table: str,
        ident: tuple[str, tuple[object, ...]],
        assignments: str,
        values: Sequence[object],
        *,
        what: str,
        missing: str,
        unique: Mapping[str, str] | None = None,
        foreign_key: str | None = None,
    ) -> None:
        """UPDATE the row ``ident`` (WHERE text, its values) if it still has the revision
        this unit of work knows, and bump it (see the module docstring)."""
        where, key = ident
        remembered = (table, *key)
        self._uow.begin_write()
        revision = self._uow.remembered(remembered)
        if revision is None:
            row = self._one(f"SELECT revision FROM {table} WHERE {where}", key)  # noqa: S608
            if row is None:
                raise NotFound(missing)
            revision = int(row[0])
        cursor = self._x(
            f"UPDATE {table} SET {assignments}, revision = revision + 1 "  # noqa: S608 - fixed
            f"WHERE {where} AND revision = ?",
            (*values, *key, revision),
            unique=unique,
            foreign_key=foreign_key,
        )
        if cursor.rowcount == 0:
            self._uow.rollback()
            raise ConflictError(conflict_message(what))
        self._uow.remember(remembered, revision + 1)

    def _added(self, table: str, *key: object) -> None:
        self._uow.remember((table, *key), 0)


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
        self._added(self.table, item.id)

    def update(self, item: N, mac: bytes) -> None:
        self._update(
            self.table,
            ("id = ?", (item.id,)),
            "name = ?, name_key = ?, record = ?, mac = ?",
            (item.name, name_key(item.name), _record_text(item.to_record()), mac),
            what=f"{self.noun.capitalize()} {item.name}",
            missing=f"There is no {self.noun} with id {item.id}.",
            unique=self._unique(item),
        )

    def _sealed(self, row: Any) -> Sealed[N]:
        item = _rebuild(type(self).rebuild, row[0], f"{self.noun} {row[3]}")
        if item.id != row[2] or item.name != row[3]:
            raise _integrity(f"{self.noun} {row[3]}", "does not match its row")
        self._seen((self.table, item.id), row[4])
        return Sealed(item, bytes(row[1]))

    def _select(self, where: str, params: Sequence[object] = ()) -> list[Any]:
        sql = f"SELECT record, mac, id, name, revision FROM {self.table} {where}"  # noqa: S608
        return list(self._x(sql, params).fetchall())

    def get(self, item_id: str) -> Sealed[N] | None:
        rows = self._select("WHERE id = ?", (item_id,))
        return self._sealed(rows[0]) if rows else None

    def by_name(self, name: str) -> Sealed[N] | None:
        rows = self._select("WHERE name_key = ?", (name_key(name),))
        return self._sealed(rows[0]) if rows else None

    def list(self) -> list[Sealed[N]]:
        return [self._sealed(r) for r in self._select("ORDER BY name_key, id")]


class PeopleRecords(_NamedRecords[Person]):
    table, noun, rebuild = "people", "person", Person.from_record


class PartnerRecords(_NamedRecords[Partner]):
    table, noun, rebuild = "partners", "partner", Partner.from_record


class CardRecords(_Part):
    def add(self, card: Card, mac: bytes) -> None:
        self._x(
            "INSERT INTO cards (id, person_id, record, mac) VALUES (?, ?, ?, ?)",
            (card.id, card.person_id, _record_text(card.to_record()), mac),
            unique={"cards.id": f"Card {card.short_id} is already enrolled."},
            foreign_key=f"Card {card.short_id}: there is no person with id {card.person_id}.",
        )
        self._added("cards", card.id)

    def update(self, card: Card, mac: bytes) -> None:
        self._update(
            "cards",
            ("id = ?", (card.id,)),
            "person_id = ?, record = ?, mac = ?",
            (card.person_id, _record_text(card.to_record()), mac),
            what=f"Card {card.short_id}",
            missing=f"Card {card.short_id} is not enrolled.",
            foreign_key=f"Card {card.short_id}: there is no person with id {card.person_id}.",
        )

    def _sealed(self, row: Any) -> Sealed[Card]:
        card = _rebuild(Card.from_record, row[0], f"card {str(row[2])[:12]}")
        if card.id != row[2] or card.person_id != row[3]:
            raise _integrity(f"card {card.short_id}", "does not match its row")
        self._seen(("cards", card.id), row[4])
        return Sealed(card, bytes(row[1]))

    def get(self, card_id: str) -> Sealed[Card] | None:
        row = self._one(
            "SELECT record, mac, id, person_id, revision FROM cards WHERE id = ?", (card_id,)
        )
        return self._sealed(row) if row else None

    def for_person(self, person_id: str) -> list[Sealed[Card]]:
        rows = self._x(
            "SELECT record, mac, id, person_id, revision FROM cards WHERE person_id = ? "
            "ORDER BY id",
            (person_id,),
        ).fetchall()
        return [self._sealed(r) for r in rows]

    def list(self) -> list[Sealed[Card]]:
        rows = self._x(
            "SELECT record, mac, id, person_id, revision FROM cards ORDER BY person_id, id"
        ).fetchall()
        return [self._sealed(r) for r in rows]


class GroupRecords(_NamedRecords[Group]):
    table, noun, rebuild = '"groups"', "group", Group.from_record


class PolicyRecord(_Part):
    # One row: its revision is remembered as -1 when it was read absent, so that a put
    # after another workstation created it is a conflict too.
    _IDENT: tuple[object, ...] = ("policy", 1)

    def get(self) -> Sealed[PolicySet] | None:
        row = self._one("SELECT record, mac, revision FROM policy WHERE id = 1")
        if row is None:
            self._uow.remember(self._IDENT, -1)
            return None
        self._seen(self._IDENT, row[2])
        return Sealed(_rebuild(PolicySet.from_record, row[0], "the policy set"), bytes(row[1]))

    def put(self, policy: PolicySet, mac: bytes) -> None:
        self._uow.begin_write()
        revision = self._uow.remembered(self._IDENT)
        sql = (
            "INSERT INTO policy (id, record, mac) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET record = excluded.record, mac = excluded.mac, "
            "revision = policy.revision + 1"
        )
        params: list[object] = [_record_text(policy.to_record()), mac]
        if revision is not None:
            sql += " WHERE policy.revision = ?"
            params.append(revision)
        row = self._one(sql + " RETURNING revision", params)
        if row is None:
            self._uow.rollback()
            raise ConflictError(conflict_message("The policy set"))
        self._seen(self._IDENT, row[0])


class TemplateRecords(_NamedRecords[KeyTemplate]):
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


class KeyRecords(_Part):
    _SELECT = (
        "SELECT record, mac, id, label, state, key_usage, algorithm, template_id, kcv, "
        "deactivation_date, revision FROM keys"
    )
    _COLUMNS = (
        "label",
        "state",
        "key_usage",
        "algorithm",
        "template_id",
        "kcv",
        "deactivation_date",
    )

    def _insert_sql(self) -> str:
        columns = (*self._COLUMNS, "id", "record", "mac", *self._uow.KEY_EXTRA_COLUMNS)
        marks = ", ".join("?" * len(columns))
        return f"INSERT INTO keys ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608

    def _row(self, key: ManagedKey, mac: bytes) -> tuple[object, ...]:
        return (
            *_key_columns(key),
            key.id,
            _record_text(key.to_record()),
            mac,
            *self._uow.key_extra_values(key),
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
        self._x(self._insert_sql(), self._row(key, mac), unique=unique, foreign_key=missing)
        self._uow.key_labels_written([key.id], added=True)
        self._added("keys", key.id)

    def add_many(self, keys: Sequence[tuple[ManagedKey, bytes]]) -> None:
        """Add several keys with one statement (bulk generation); on a constraint failure
        the batch is undone and the first offending key is named."""
        rows = [self._row(key, mac) for key, mac in keys]
        self._x("SAVEPOINT add_keys")
        try:
            self._uow.execute_many(self._insert_sql(), rows)
        except ConstraintViolation:
            self._x("ROLLBACK TO add_keys")
            self._x("RELEASE add_keys")
            for key, mac in keys:  # one by one, for the precise message
                self.add(key, mac)
            raise  # pragma: no cover - add() raised above
        self._x("RELEASE add_keys")
        self._uow.key_labels_written([key.id for key, _ in keys], added=True)
        for key, _ in keys:
            self._added("keys", key.id)
        self._uow.keys_added_in_bulk()

    def update(self, key: ManagedKey, mac: bytes) -> None:
        unique, missing = self._messages(key)
        extra = "".join(f", {c} = ?" for c in self._uow.KEY_EXTRA_COLUMNS)
        self._update(
            "keys",
            ("id = ?", (key.id,)),
            ", ".join(f"{c} = ?" for c in self._COLUMNS) + ", record = ?, mac = ?" + extra,
            (
                *_key_columns(key),
                _record_text(key.to_record()),
                mac,
                *self._uow.key_extra_values(key),
            ),
            what=f"Key {key.label}",
            missing=f"There is no key with id {key.id}.",
            unique=unique,
            foreign_key=missing,
        )
        self._uow.key_labels_written([key.id], added=False)

    def _sealed(self, row: Any) -> Sealed[ManagedKey]:
        key = _rebuild(ManagedKey.from_record, row[0], f"key {row[3]}")
        if (key.id, *_key_columns(key)) != tuple(row[2:10]):
            # A query found this row by a column its (MAC-bound) record does not have.
            raise _integrity(f"key {row[3]}", "does not match its indexed columns")
        self._seen(("keys", key.id), row[10])
        return Sealed(key, bytes(row[1]))

    def get(self, key_id: str) -> Sealed[ManagedKey] | None:
        row = self._one(self._SELECT + " WHERE id = ?", (key_id,))
        return self._sealed(row) if row else None

    def by_label(self, label: str) -> Sealed[ManagedKey] | None:
        row = self._one(self._SELECT + " WHERE label = ?", (label,))
        return self._sealed(row) if row else None

    def _where(self, query: KeyQuery) -> tuple[str, list[object]]:
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
            clause, values = self._uow.label_clause(query.label)
            clauses.append(clause)
            params += values
        if query.kcv:
            low, high = _prefix_range(query.kcv.strip().upper())
            clauses.append("kcv >= ? AND kcv < ?")
            params += [low, high]
        if query.expiring_before is not None:
            # Written as the partial index's own condition so that the planner uses it.
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
        limit = self._uow.NO_LIMIT if query.limit is None else int(query.limit)
        offset = int(query.offset)
        # Page first, then fetch: the inner query sorts (label, row locator) pairs read from an
        # index that holds every filter column and the label, and only the rows of the page
        # are read from the table (sorting the full rows of 100,000 matches to show 100
        # takes a quarter of a second). LIMIT and OFFSET are written as numbers, not bound:
        # given "LIMIT ?", SQLite guesses a small page and walks the whole label index
        # (160 ms for the expired keys among 1,000,000, against 15 ms). The WHERE clauses
        # are fixed text; every value in them is a parameter.
        locator = self._uow.ROW_LOCATOR
        page = f"SELECT {locator} FROM keys{where} ORDER BY label LIMIT {limit} OFFSET {offset}"  # noqa: S608
        rows = self._x(
            f"{self._SELECT} WHERE {locator} IN ({page}) ORDER BY label", params
        ).fetchall()
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
        except ConstraintViolation as exc:
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


class AuditRecords(_Part):
    @staticmethod
    def _entry(row: Any) -> AuditEntry:
        body = _load(row[1], f"audit entry {row[0]}")
        return AuditEntry(seq=int(row[0]), body=body, prev_hash=bytes(row[2]), hash=bytes(row[3]))

    def append(self, event: AuditEvent) -> AuditEntry:
        """Chain ``event`` after the last entry, in this unit of work's transaction.

        The unit of work holds the write lock before the head is read (SQLite: BEGIN
        IMMEDIATE; PostgreSQL: an advisory lock held to the end of the transaction), so no
        other writer can append between reading the head and inserting: the chain never
        forks and seq has no gaps. Raises ValueError for an event without a time or with
        details that are not JSON.
        """
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[AuditEvent]) -> list[AuditEntry]:
        """Chain several events in order, with one read of the head and one insert per
        table (bulk generation)."""
        if self._uow.read_only:
            raise WorkstationError("This unit of work is read-only; it cannot append audit.")
        self._uow.begin_write()
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
        except ConstraintViolation as exc:
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
        rows = self._uow.stream(
            "SELECT seq, body, prev_hash, hash FROM audit_entries WHERE seq >= ? ORDER BY seq",
            (start_seq,),
        )
        yield from map(self._entry, rows)

    def chain(self, start_seq: int = 1) -> Iterator[tuple[int, bytes, bytes, bytes]]:
        """(seq, canonical body bytes, prev_hash, hash) as stored, streamed: what
        ``verify_chain`` and ``write_export`` take, without parsing and re-encoding each
        body (four times faster than ``entries()`` over a million entries)."""
        yield from self._uow.stream(
            f"SELECT seq, {self._uow.BODY_BYTES}, prev_hash, hash FROM audit_entries "  # noqa: S608
            "WHERE seq >= ? ORDER BY seq",
            (start_seq,),
        )

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
                # last week"): keep the planner from driving by the action index instead.
                action_column = self._uow.unindexed("e.action")
                clauses.append(f"{action_column} >= ? AND {action_column} < ?")
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
            # order) and stop at ``limit``; SQLite's CROSS JOIN keeps it to that order.
            clauses.insert(0, "p.name_key = ?")
            params.insert(0, name_key(person))
            source = (
                f"audit_people AS p {self._uow.PERSON_JOIN} audit_entries AS e ON e.seq = p.seq"
            )
            order = "p.seq"
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        # As for keys: pick the seqs from the indexes first, read the bodies of those
        # only; the limit is written as a number so that the planner plans for it. The WHERE
        # clauses are fixed text; every value is a parameter.
        page = f"SELECT e.seq FROM {source}{where} ORDER BY {order} DESC LIMIT {int(limit)}"  # noqa: S608
        rows = self._x(
            f"SELECT seq, body, prev_hash, hash FROM audit_entries WHERE seq IN ({page}) "  # noqa: S608
            "ORDER BY seq",
            params,
        ).fetchall()
        return [self._entry(r) for r in rows]


# --- meta --------------------------------------------------------------------------------


class MetaRecords(_Part):
    def get(self, name: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE name = ?", (name,))
        return str(row[0]) if row else None

    def put(self, name: str, value: str) -> None:
        if name in RESERVED_META:
            raise ValueError(f"{name} is kept by the repository itself")
        self._x(
            "INSERT INTO meta (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )


# --- ceremonies, envelopes, holdings -------------------------------------------------------


class CeremonyRecords(_Part):
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


class CertificateRecords(_Part):
    _SELECT = "SELECT record, mac, id, revision FROM certificates"

    def _params(self, c: CertificateRecord, mac: bytes) -> tuple[object, ...]:
        return (
            c.key_id,
            c.fingerprint,
            format_time(c.not_after),
            c.status.value,
            _record_text(c.to_record()),
            mac,
        )

    def _unique(self, certificate: CertificateRecord) -> dict[str, str]:
        return {
            "certificates.id": f"Certificate {certificate.id} is already recorded.",
            "certificates.fingerprint": (
                f"Certificate {certificate.serial} of {certificate.subject} is already "
                "in the inventory."
            ),
        }

    def add(self, certificate: CertificateRecord, mac: bytes) -> None:
        self._x(
            "INSERT INTO certificates (key_id, fingerprint, not_after, status, record, mac, id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (*self._params(certificate, mac), certificate.id),
            unique=self._unique(certificate),
        )
        self._added("certificates", certificate.id)

    def update(self, certificate: CertificateRecord, mac: bytes) -> None:
        self._update(
            "certificates",
            ("id = ?", (certificate.id,)),
            "key_id = ?, fingerprint = ?, not_after = ?, status = ?, record = ?, mac = ?",
            self._params(certificate, mac),
            what=f"Certificate {certificate.serial} of {certificate.subject}",
            missing=f"There is no certificate with id {certificate.id}.",
            unique=self._unique(certificate),
        )

    def _sealed(self, row: Any) -> Sealed[CertificateRecord]:
        cert = _rebuild(CertificateRecord.from_record, row[0], f"certificate {row[2]}")
        if cert.id != row[2]:
            raise _integrity(f"certificate {row[2]}", "does not match its row")
        self._seen(("certificates", cert.id), row[3])
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


class DocumentRecords(_Part):
    _SELECT = "SELECT record, mac, id, revision FROM documents"

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
        self._added("documents", doc.KIND, doc.id)

    def update(self, doc: Document, mac: bytes) -> None:
        self._update(
            "documents",
            ("kind = ? AND id = ?", (doc.KIND, doc.id)),
            "subject = ?, due = ?, record = ?, mac = ?",
            (doc.subject, format_time(doc.due), _record_text(doc.to_record()), mac),
            what=f"The {doc.KIND} {doc.id}",
            missing=f"There is no {doc.KIND} with id {doc.id}.",
        )

    def delete(self, kind: type[Document], doc_id: str) -> None:
        cursor = self._x("DELETE FROM documents WHERE kind = ? AND id = ?", (kind.KIND, doc_id))
        if cursor.rowcount == 0:
            raise NotFound(f"There is no {kind.KIND} with id {doc_id}.")

    def _sealed(self, kind: type[D], row: Any) -> Sealed[D]:
        what = f"{kind.KIND} {row[2]}"
        doc = _rebuild(kind.from_record, row[0], what)
        if doc.id != row[2]:
            raise _integrity(what, "does not match its row")
        self._seen(("documents", kind.KIND, doc.id), row[3])
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


class EnvelopeRecords(_Part):
    _SELECT = "SELECT record, mac, serial, state, bag_number, revision FROM envelopes"

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
        self._added("envelopes", envelope.serial)

    def update(self, envelope: Envelope, mac: bytes) -> None:
        self._update(
            "envelopes",
            ("serial = ?", (envelope.serial,)),
            "ceremony_id = ?, key_id = ?, custodian_id = ?, state = ?, bag_number = ?, "
            "record = ?, mac = ?",
            (*self._columns(envelope), mac),
            what=f"Envelope {envelope.serial}",
            missing=f"There is no envelope {envelope.serial}.",
            unique=self._unique(envelope),
        )

    def _sealed(self, row: Any) -> Sealed[Envelope]:
        e = _rebuild(Envelope.from_record, row[0], f"envelope {row[2]}")
        if e.serial != row[2] or e.state.value != row[3] or e.bag_number != row[4]:
            raise _integrity(f"envelope {row[2]}", "does not match its row")
        self._seen(("envelopes", e.serial), row[5])
        return Sealed(e, bytes(row[1]))

    def get(self, serial: str) -> Sealed[Envelope] | None:
        row = self._one(f"{self._SELECT} WHERE serial = ?", (serial.strip().upper(),))
        return self._sealed(row) if row else None

    def next_serials(self, count: int) -> list[str]:
        if count < 1:
            raise ValueError("ask for at least one serial")
        row = self._one(
            "INSERT INTO meta (name, value) VALUES ('envelope_serial', ?) "
            "ON CONFLICT (name) DO UPDATE "
            "SET value = CAST(CAST(meta.value AS INTEGER) + ? AS TEXT) "
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


class HoldingRecords(_Part):
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
