"""The repository contract, on a real SQLite file and on a real PostgreSQL database.

``RepositoryContract`` uses the ports only; ``TestRepositoryContract`` runs it on both
backends through the parametrised ``any_repository`` fixture (tests/fixtures/postgres.py).
The SQLite-specific behaviour (files, migrations, SQL-level tampering) is in
``TestSqliteSpecifics``; PostgreSQL's in test_repository_postgres.py.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Self

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from workstation.adapters import repository_sqlite
from workstation.adapters.repository_sqlite import (
    MIGRATIONS,
    Migration,
    SqliteRepository,
    SqliteUnitOfWork,
    name_key,
)
from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.audit import AuditActor, AuditCheckpoint, AuditEvent
from workstation.domain.documents import document_binding
from workstation.domain.keys import KeyEvent, KeyState, ManagedKey
from workstation.domain.people import Card, Group, Person, Role, Status
from workstation.domain.policy import Action, PolicySet, Quorum
from workstation.domain.records import canonical_bytes, format_time, parse_time
from workstation.domain.templates import KeyTemplate
from workstation.errors import (
    AlreadyExists,
    AlreadyInitialised,
    BadInput,
    ConflictError,
    IntegrityError,
    NotFound,
    NotInitialised,
    WorkstationError,
)
from workstation.services.ports import KeyQuery, Repository, UnitOfWork
from workstation.standalone.audit_verify import checkpoint_message, verify_chain

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
WORKSTATION = "ws-test-1"

CURRENT = MIGRATIONS[-1].version  # the schema version of this code
NEXT = CURRENT + 1  # a test migration's version


# --- records -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """A document kind for the repository tests (workstation.domain.documents.Document)."""

    KIND: ClassVar[str] = "note"
    id: str
    subject: str
    due: datetime | None
    text: str

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subject": self.subject,
            "due": format_time(self.due),
            "text": self.text,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Self:
        return cls(rec["id"], rec["subject"], parse_time(rec["due"]), rec["text"])

    def binding_bytes(self) -> bytes:
        return document_binding(self)


@dataclass(frozen=True)
class Memo(Note):
    KIND: ClassVar[str] = "memo"


def person(n: int, name: str | None = None, roles: frozenset[Role] | None = None) -> Person:
    return Person(
        id=f"p-{n}",
        name=name or f"Person {n}",
        roles=roles or frozenset({Role.KEY_CUSTODIAN}),
        created_at=T0,
    )


def card(n: int, person_id: str) -> Card:
    return Card(
        id=f"{n:064x}",
        person_id=person_id,
        certificate=bytes([n % 256]) * 40,
        subject=f"CN=Card {n}",
        serial_number=f"{n:x}",
        not_after=T0 + timedelta(days=365),
        enrolled_at=T0,
    )


def template(slug: str = "zmk", name: str = "Zone master key", **changes: object) -> KeyTemplate:
    base = KeyTemplate(
        id=f"t-{slug}",
        name=name,
        description="Key encryption key shared with a partner.",
        algorithm=KeyAlgorithm.AES_256,
        key_usage="K0",
        mode_of_use="B",
        exportability="E",
        crypto_period_days=730,
        label_pattern="ZMK-{seq:04d}",
        quorums={Action.GENERATE_KEY: Quorum.parse("2 key_custodian")},
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def key(
    n: int,
    *,
    template_id: str = "t-zmk",
    label: str | None = None,
    state: KeyState = KeyState.ACTIVE,
    algorithm: KeyAlgorithm = KeyAlgorithm.AES_256,
    usage: str = "K0",
    kcv: str | None = None,
    expires: datetime | None = None,
) -> ManagedKey:
    return ManagedKey(
        id=f"k-{n}",
        label=label or f"ZMK-{n:04d}",
        template_id=template_id,
        algorithm=algorithm,
        key_usage=usage,
        mode_of_use="B",
        exportability="E",
        kcv=kcv or f"{n:06X}",
        wrapped=None if state is KeyState.DESTROYED else bytes([n % 256]) * 40,
        public_key=None,
        state=state,
        version=1,
        created_at=T0,
        activation_date=T0,
        deactivation_date=expires or T0 + timedelta(days=730),
    )


def actor(name: str, n: int = 1) -> AuditActor:
    return AuditActor(person_id=f"p-{n}", name=name, card_id=f"{n:012x}")


def event(
    n: int,
    *,
    action: str = "key.generate",
    object_id: str | None = None,
    requester: AuditActor | None = None,
    members: tuple[AuditActor, ...] = (),
    at: datetime | None = None,
) -> AuditEvent:
    return AuditEvent(
        action=action,
        object_type="key",
        object_id=object_id or f"k-{n}",
        object_label=f"ZMK-{n:04d}",
        after="pre-activation",
        kcv="A1B2C3",
        details={"n": n, "note": "Zoë's ceremony"},
        requester=requester,
        members=members,
        at=at or T0 + timedelta(minutes=n),
    )


def mac(n: int) -> bytes:
    return bytes([n % 256]) * 32


def chain_tuples(uow: UnitOfWork) -> list[tuple[int, dict[str, object], bytes, bytes]]:
    return [(e.seq, e.body, e.prev_hash, e.hash) for e in uow.audit.entries()]


@pytest.fixture
def audit_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def add_checkpoint(uow: UnitOfWork, key: ec.EllipticCurvePrivateKey, at: str) -> AuditCheckpoint:
    from cryptography.hazmat.primitives import hashes

    last = uow.audit.last()
    assert last is not None
    signature = key.sign(
        checkpoint_message(WORKSTATION, last.seq, last.hash, at), ec.ECDSA(hashes.SHA256())
    )
    cp = AuditCheckpoint(seq=last.seq, hash=last.hash, at=at, signature=signature)
    uow.audit.add_checkpoint(cp)
    return cp


# --- the contract ------------------------------------------------------------------------


class RepositoryContract:
    """What every Repository must do. Subclasses provide the ``repository`` fixture."""

    # round trips ---------------------------------------------------------------------

    def test_people_round_trip_with_mac(self, repository: Repository) -> None:
        alice = person(1, "Alice Custodian", frozenset({Role.KEY_CUSTODIAN, Role.SUPERVISOR}))
        with repository.unit_of_work() as uow:
            uow.people.add(alice, mac(1))
            uow.people.add(person(2, "Bob"), mac(2))
            uow.commit()
        with repository.unit_of_work() as uow:
            got = uow.people.get("p-1")
            assert got is not None
            assert got.value == alice
            assert got.mac == mac(1)
            assert uow.people.get("nobody") is None
            assert [s.value.name for s in uow.people.list()] == ["Alice Custodian", "Bob"]
            suspended = alice.with_status(Status.SUSPENDED)
            uow.people.update(suspended, mac(9))
            uow.commit()
        with repository.unit_of_work() as uow:
            got = uow.people.get("p-1")
            assert got is not None and got.value == suspended and got.mac == mac(9)

    def test_by_name_is_exact_and_case_insensitive(self, repository: Repository) -> None:
        with repository.unit_of_work() as uow:
            uow.people.add(person(1, "Zoë Ångström"), mac(1))
            uow.groups.add(Group(id="g-1", name="Custodians A", threshold=1), mac(2))
            uow.templates.add(template(), mac(3))
            uow.commit()
        with repository.unit_of_work() as uow:
            found = uow.people.by_name("ZOË ÅNGSTRÖM")
            assert found is not None and found.value.id == "p-1"
            assert uow.people.by_name("Zoë") is None  # exact, not a prefix
            group = uow.groups.by_name("custodians a")
            assert group is not None and group.value.id == "g-1"
            assert uow.groups.by_name("custodians") is None
            found_t = uow.templates.by_name("ZONE MASTER KEY")
            assert found_t is not None and found_t.value.id == "t-zmk"

    def test_cards_round_trip(self, repository: Repository) -> None:
        with repository.unit_of_work() as uow:
            uow.people.add(person(1), mac(1))
            uow.people.add(person(2), mac(2))
            uow.cards.add(card(1, "p-1"), mac(11))
            uow.cards.add(card(2, "p-1"), mac(12))
            uow.cards.add(card(3, "p-2"), mac(13))
            uow.commit()
        with repository.unit_of_work() as uow:
            got = uow.cards.get(card(1, "p-1").id)
            assert got is not None and got.value == card(1, "p-1") and got.mac == mac(11)
            assert [s.value.id for s in uow.cards.for_person("p-1")] == [
                card(1, "p-1").id,
                card(2, "p-1").id,
            ]
            assert len(uow.cards.list()) == 3
            revoked = card(3, "p-2").with_status(Status.REVOKED)
            uow.cards.update(revoked, mac(14))
            got3 = uow.cards.get(revoked.id)
            assert got3 is not None and got3.value.status is Status.REVOKED

    def test_card_for_unknown_person_is_refused(self, repository: Repository) -> None:
        with repository.unit_of_work() as uow, pytest.raises(NotFound, match="no person"):
            uow.cards.add(card(1, "p-404"), mac(1))

    def test_groups_round_trip(self, repository: Repository) -> None:
        group = Group(id="g-1", name="Custodians A", threshold=2, members=frozenset({"a", "b"}))
        with repository.unit_of_work() as uow:
            uow.groups.add(group, mac(1))
            uow.commit()
        with repository.unit_of_work() as uow:
            assert [(s.value, s.mac) for s in uow.groups.list()] == [(group, mac(1))]
            bigger = replace(group, members=frozenset({"a", "b", "c"}))
            uow.groups.update(bigger, mac(2))
            got = uow.groups.by_name("Custodians A")
            assert got is not None and got.value == bigger and got.mac == mac(2)

    def test_policy_is_one_record(self, repository: Repository) -> None:
        with repository.unit_of_work() as uow:
            assert uow.policy.get() is None
            uow.policy.put(PolicySet(), mac(1))
            changed = PolicySet(idle_timeout_seconds=120, version=2)
            uow.policy.put(changed, mac(2))
            uow.commit()
        with repository.unit_of_work() as uow:
            got = uow.policy.get()
            assert got is not None and got.value == changed and got.mac == mac(2)

    def test_templates_round_trip_and_sequence(self, repository: Repository) -> None:
        t = template()
        with repository.unit_of_work() as uow:
            uow.templates.add(t, mac(1))
            assert [uow.templates.next_sequence(t.id) for _ in range(3)] == [1, 2, 3]
            uow.commit()
        with repository.unit_of_work() as uow:
            got = uow.templates.get(t.id)
            assert got is not None and got.value == t and got.mac == mac(1)
            edited = t.edited(description="Edited")
            uow.templates.update(edited, mac(2))
            assert uow.templates.next_sequence(t.id) == 4  # editing keeps the counter
            # not committed: the sequence number is part of the transaction
        with repository.unit_of_work() as uow:
            assert uow.templates.next_sequence(t.id) == 4
            got = uow.templates.get(t.id)
            assert got is not None and got.value == t
            assert [s.value.id for s in uow.templates.list()] == [t.id]
            with pytest.raises(NotFound):
                uow.templates.next_sequence("t-404")

    def test_keys_round_trip(self, repository: Repository) -> None:
        k = key(1)
        with repository.unit_of_work() as uow:
            uow.templates.add(template(), mac(0))
            uow.keys.add(k, mac(1))
            uow.commit()
        with repository.unit_of_work() as uow:
            for got in (uow.keys.get("k-1"), uow.keys.by_label("ZMK-0001")):
                assert got is not None and got.value == k and got.mac == mac(1)
            assert uow.keys.get("k-2") is None and uow.keys.by_label("zmk-0001") is None
            destroyed = k.transitioned(KeyState.DEACTIVATED, T0, Action.DEACTIVATE_KEY)
            destroyed = destroyed.transitioned(KeyState.DESTROYED, T0, Action.DESTROY_KEY)
            uow.keys.update(destroyed, mac(2))
            uow.commit()
        with repository.unit_of_work() as uow:
            got = uow.keys.get("k-1")
            assert got is not None and got.value == destroyed and got.value.wrapped is None
            with pytest.raises(NotFound):
                uow.keys.update(key(2), mac(3))

    def test_key_events_in_order(self, repository: Repository) -> None:
        with repository.unit_of_work() as uow:
            uow.templates.add(template(), mac(0))
            uow.keys.add(key(1), mac(1))
            first = KeyEvent(
                "k-1",
                T0,
                Action.GENERATE_KEY,
                None,
                KeyState.PRE_ACTIVATION,
                ("Alice", "Bob"),
                audit_seq=1,
            )
            second = KeyEvent(
                "k-1",
                T0 + timedelta(hours=1),
                Action.ACTIVATE_KEY,
                KeyState.PRE_ACTIVATION,
                KeyState.ACTIVE,
                ("Carol",),
                "go live",
            )
            uow.keys.add_event(first)
            uow.keys.add_event(second)
            uow.commit()
        with repository.unit_of_work() as uow:
            assert uow.keys.events("k-1") == [first, second]
            assert uow.keys.events("k-2") == []
            with pytest.raises(NotFound):
                uow.keys.add_event(replace(first, key_id="k-404"))

    def test_meta(self, repository: Repository) -> None:
        with repository.unit_of_work() as uow:
            assert uow.meta.get("workstation_id") is None
            uow.meta.put("workstation_id", WORKSTATION)
            uow.meta.put("workstation_id", "ws-2")
            uow.commit()
        with repository.unit_of_work() as uow:
            assert uow.meta.get("workstation_id") == "ws-2"

    def test_documents_by_kind_subject_and_due(self, repository: Repository) -> None:
        soon, later = T0 + timedelta(days=10), T0 + timedelta(days=100)
        with repository.unit_of_work() as uow:
            uow.documents.add(Note("n-1", "key-a", later, "first"), b"mac1")
            uow.documents.add(Note("n-2", "key-a", soon, "second"), b"mac2")
            uow.documents.add(Note("n-3", "key-b", None, "undated"), b"mac3")
            uow.documents.add(Memo("n-1", "key-a", soon, "same id, other kind"), b"mac4")
            uow.commit()
        with repository.unit_of_work() as uow:
            got = uow.documents.get(Note, "n-2")
            assert got is not None and got.value == Note("n-2", "key-a", soon, "second")
            assert got.mac == b"mac2"
            assert uow.documents.get(Note, "n-404") is None
            assert [d.value.id for d in uow.documents.list(Note)] == ["n-2", "n-1", "n-3"]
            assert [d.value.id for d in uow.documents.list(Note, subject="key-a")] == [
                "n-2",
                "n-1",
            ]
            due = uow.documents.list(Note, due_before=T0 + timedelta(days=30))
            assert [d.value.id for d in due] == ["n-2"]
            assert [d.value.text for d in uow.documents.list(Memo)] == ["same id, other kind"]
            with pytest.raises(AlreadyExists, match="The note n-1 is already recorded"):
                uow.documents.add(Note("n-1", "key-c", None, "again"), b"mac")
        with repository.unit_of_work() as uow:
            uow.documents.update(Note("n-1", "key-c", None, "moved"), b"mac5")
            uow.documents.delete(Note, "n-3")
            with pytest.raises(NotFound, match="There is no note with id n-404"):
                uow.documents.delete(Note, "n-404")
            with pytest.raises(NotFound, match="There is no note with id n-404"):
                uow.documents.update(Note("n-404", "x", None, ""), b"mac")
            uow.commit()
        with repository.unit_of_work(read_only=True) as uow:
            assert [d.value.subject for d in uow.documents.list(Note)] == ["key-a", "key-c"]
            assert uow.documents.list(Note, subject="key-c")[0].mac == b"mac5"

    # uniqueness ----------------------------------------------------------------------

    def test_duplicate_label_names_the_label(self, repository: Repository) -> None:
        with repository.unit_of_work() as uow:
            uow.templates.add(template(), mac(0))
            uow.keys.add(key(1), mac(1))
            with pytest.raises(AlreadyExists, match="A key labelled ZMK-0001 already exists"):
                uow.keys.add(key(2, label="ZMK-0001"), mac(2))
            uow.keys.add(key(2), mac(2))
            with pytest.raises(AlreadyExists, match="labelled ZMK-0001"):
                uow.keys.update(key(2, label="ZMK-0001"), mac(2))
            with pytest.raises(AlreadyExists, match="id k-1"):
                uow.keys.add(key(1, label="OTHER"), mac(1))

    def test_duplicate_names_are_refused_case_insensitively(self, repository: Repository) -> None:
        with repository.unit_of_work() as uow:
            uow.people.add(person(1, "Alice"), mac(1))
            with pytest.raises(AlreadyExists, match="A person named ALICE already exists"):
                uow.people.add(person(2, "ALICE"), mac(2))
            uow.templates.add(template(), mac(3))
            with pytest.raises(AlreadyExists, match="template named"):
                uow.templates.add(template("other", "zone MASTER key"), mac(4))
            uow.groups.add(Group(id="g-1", name="G", threshold=1), mac(5))
            with pytest.raises(AlreadyExists, match="group named g"):
                uow.groups.add(Group(id="g-2", name="g", threshold=1), mac(6))

    def test_key_with_unknown_template_is_refused(self, repository: Repository) -> None:
        with repository.unit_of_work() as uow, pytest.raises(NotFound, match="template"):
            uow.keys.add(key(1, template_id="t-404"), mac(1))

    # transactions --------------------------------------------------------------------

    def test_leaving_without_commit_rolls_back_key_and_audit(self, repository: Repository) -> None:
        with repository.unit_of_work() as uow:
            uow.templates.add(template(), mac(0))
            uow.commit()
        with repository.unit_of_work() as uow:
            uow.keys.add(key(1), mac(1))
            uow.audit.append(event(1))
            assert uow.keys.get("k-1") is not None and uow.audit.count() == 1
        with repository.unit_of_work() as uow:
            assert uow.keys.get("k-1") is None
            assert uow.audit.count() == 0 and uow.audit.last() is None

    def test_exception_inside_rolls_back(self, repository: Repository) -> None:
        with repository.unit_of_work() as uow:
            uow.templates.add(template(), mac(0))
            uow.commit()
        with pytest.raises(RuntimeError, match="boom"), repository.unit_of_work() as uow:
            uow.keys.add(key(1), mac(1))
            uow.audit.append(event(1))
            raise RuntimeError("boom")
        with repository.unit_of_work() as uow:
            assert uow.keys.get("k-1") is None and uow.audit.count() == 0

    def test_explicit_rollback_and_work_after_commit(self, repository: Repository) -> None:
        with repository.unit_of_work() as uow:
            uow.templates.add(template(), mac(0))
            uow.keys.add(key(1), mac(1))
            uow.rollback()
            assert uow.keys.get("k-1") is None and uow.templates.get("t-zmk") is None
            uow.templates.add(template(), mac(0))
            uow.commit()
            uow.keys.add(key(2), mac(2))  # a new transaction, never committed
        with repository.unit_of_work() as uow:
            assert uow.templates.get("t-zmk") is not None
            assert uow.keys.get("k-2") is None

    # optimistic concurrency ------------------------------------------------------------

    def test_update_of_a_record_changed_elsewhere_is_a_conflict(
        self, repository: Repository
    ) -> None:
        with repository.unit_of_work() as uow:
            uow.templates.add(template(), mac(0))
            uow.keys.add(key(1), mac(1))
            uow.commit()
        here, there = repository.unit_of_work(), repository.unit_of_work()
        with here:
            seen = here.keys.get("k-1")
            assert seen is not None
            here.commit()  # SQLite holds its write lock until the end of a transaction
            with there:  # the other workstation
                theirs = there.keys.get("k-1")
                assert theirs is not None
                there.keys.update(replace(theirs.value, state=KeyState.SUSPENDED), mac(2))
                there.audit.append(event(1))
                there.commit()
            here.audit.append(event(2))
            with pytest.raises(
                ConflictError,
                match=re.escape(
                    "Key ZMK-0001 was changed by another workstation after it was read "
                    "here; nothing was saved. Open it again and retry."
                ),
            ):
                here.keys.update(replace(seen.value, state=KeyState.DEACTIVATED), mac(3))
            here.commit()  # nothing is left to commit: the conflict rolled back
        with repository.unit_of_work() as uow:
            got = uow.keys.get("k-1")
            assert got is not None and got.mac == mac(2)
            assert got.value.state is KeyState.SUSPENDED
            assert [e.seq for e in uow.audit.entries()] == [1]  # only theirs
            # read again, the update goes through, and again
            uow.keys.update(replace(got.value, state=KeyState.DEACTIVATED), mac(4))
            uow.keys.update(replace(got.value, state=KeyState.DEACTIVATED), mac(5))
            uow.commit()
        with repository.unit_of_work() as uow:
            again = uow.keys.get("k-1")
            assert again is not None and again.mac == mac(5)

    def test_conflicts_on_every_kind_of_record(self, repository: Repository) -> None:
        with repository.unit_of_work() as uow:
            uow.people.add(person(1, "Alice"), mac(1))
            uow.documents.add(Note("n-1", "key-a", None, "first"), b"mac1")
            uow.commit()
        # Three units of work read (each ends its transaction, as SQLite holds its write
        # lock until then); a conflict rolls its unit of work back, so one each.
        readers = [repository.unit_of_work() for _ in range(3)]
        try:
            readers[0].__enter__()
            alice = readers[0].people.get("p-1")
            readers[0].commit()
            readers[1].__enter__()
            note = readers[1].documents.get(Note, "n-1")
            readers[1].commit()
            readers[2].__enter__()
            assert readers[2].policy.get() is None
            readers[2].commit()
            assert alice is not None and note is not None
            with repository.unit_of_work() as there:
                there.people.update(alice.value.with_status(Status.SUSPENDED), mac(2))
                there.documents.update(replace(note.value, text="theirs"), b"mac2")
                there.policy.put(PolicySet(idle_timeout_seconds=60), mac(3))
                there.commit()
            with pytest.raises(ConflictError, match=r"^Person Alice was changed"):
                readers[0].people.update(alice.value.with_status(Status.REVOKED), mac(4))
            with pytest.raises(ConflictError, match=r"^The note n-1 was changed"):
                readers[1].documents.update(replace(note.value, text="mine"), b"mac4")
            with pytest.raises(ConflictError, match=r"^The policy set was changed"):
                readers[2].policy.put(PolicySet(idle_timeout_seconds=900), mac(5))
        finally:
            for reader in readers:
                reader.__exit__(None, None, None)
        with repository.unit_of_work() as uow:
            got = uow.people.get("p-1")
            assert got is not None and got.value.status is Status.SUSPENDED
            doc = uow.documents.get(Note, "n-1")
            assert doc is not None and doc.value.text == "theirs"
            policy = uow.policy.get()
            assert policy is not None and policy.value.idle_timeout_seconds == 60

    # key queries ---------------------------------------------------------------------

    @pytest.fixture
    def inventory(self, repository: Repository) -> Repository:
        soon = T0 + timedelta(days=10)
        keys = [
            key(1, label="ZMK-0001", state=KeyState.ACTIVE, kcv="ABC123"),
            key(2, label="zmk-0002", state=KeyState.PRE_ACTIVATION, kcv="abd999".upper()),
            key(
                3,
                label="PEK-0003",
                state=KeyState.ACTIVE,
                usage="P0",
                template_id="t-pek",
                kcv="123456",
                expires=soon,
            ),
            key(
                4,
                label="BDK-0004",
                state=KeyState.DESTROYED,
                usage="B0",
                algorithm=KeyAlgorithm.TDES_2KEY,
                template_id="t-bdk",
                kcv="0F0F0F",
                expires=soon,
            ),
            key(
                5,
                label="PEK-0005",
                state=KeyState.SUSPENDED,
                usage="P0",
                template_id="t-pek",
                kcv="ABCDEF",
                expires=T0 + timedelta(days=40),
            ),
            key(6, label="odd_100%", state=KeyState.DEACTIVATED, kcv="FFFFFF", expires=soon),
        ]
        with repository.unit_of_work() as uow:
            uow.templates.add(template(), mac(0))
            uow.templates.add(template("pek", "PIN key", key_usage="P0"), mac(0))
            uow.templates.add(
                template(
                    "bdk", "BDK", key_usage="B0", algorithm=KeyAlgorithm.TDES_2KEY, mode_of_use="X"
                ),
                mac(0),
            )
            for k in keys:
                uow.keys.add(k, mac(1))
            uow.commit()
        return repository

    @staticmethod
    def labels(repository: Repository, **filters: object) -> list[str]:
        query = KeyQuery(**filters)  # type: ignore[arg-type]
        with repository.unit_of_work() as uow:
            found = [s.value.label for s in uow.keys.query(query)]
            count = uow.keys.count(replace(query, limit=None, offset=0))
        if query.limit is None and query.offset == 0:
            assert count == len(found)
        return found

    def test_query_all_in_label_order(self, inventory: Repository) -> None:
        assert self.labels(inventory) == [
            "BDK-0004",
            "PEK-0003",
            "PEK-0005",
            "ZMK-0001",
            "odd_100%",
            "zmk-0002",
        ]

    def test_query_by_states(self, inventory: Repository) -> None:
        assert self.labels(inventory, states=(KeyState.ACTIVE,)) == ["PEK-0003", "ZMK-0001"]
        assert self.labels(inventory, states=(KeyState.SUSPENDED, KeyState.PRE_ACTIVATION)) == [
            "PEK-0005",
            "zmk-0002",
        ]

    def test_query_by_usage_algorithm_template(self, inventory: Repository) -> None:
        assert self.labels(inventory, key_usage="P0") == ["PEK-0003", "PEK-0005"]
        assert self.labels(inventory, algorithm=KeyAlgorithm.TDES_2KEY) == ["BDK-0004"]
        assert self.labels(inventory, template_id="t-pek") == ["PEK-0003", "PEK-0005"]
        assert self.labels(inventory, template_id="t-pek", states=(KeyState.ACTIVE,)) == [
            "PEK-0003"
        ]

    def test_query_label_substring_case_insensitive(self, inventory: Repository) -> None:
        assert self.labels(inventory, label="zmk") == ["ZMK-0001", "zmk-0002"]
        assert self.labels(inventory, label="K-000") == [
            "BDK-0004",
            "PEK-0003",
            "PEK-0005",
            "ZMK-0001",
            "zmk-0002",
        ]
        # LIKE wildcards in the search text are literal
        assert self.labels(inventory, label="_1") == ["odd_100%"]
        assert self.labels(inventory, label="0%") == ["odd_100%"]
        assert self.labels(inventory, label="nothing") == []

    def test_query_label_substring_beyond_ascii(self, repository: Repository) -> None:
        with repository.unit_of_work() as uow:
            uow.templates.add(template(), mac(0))
            uow.keys.add(key(1, label="SCHLÜSSEL-ÄRGER-1"), mac(1))
            uow.keys.add(key(2, label="schlüssel-ärger-2"), mac(1))
            uow.keys.add(key(3, label="SCHLUSSEL-3"), mac(1))
            uow.commit()
        assert self.labels(repository, label="üssel-ä") == [
            "SCHLÜSSEL-ÄRGER-1",
            "schlüssel-ärger-2",
        ]

    # The label search: an index for 3 characters or more (SQLite FTS5 trigram,
    # PostgreSQL pg_trgm), a scan below; the same answers either way.
    SEARCHED_LABELS: ClassVar[tuple[str, ...]] = (
        *(f"ZMK-{n:04d}" for n in range(1, 40)),
        *(f"pek-{n:04d}-branch" for n in range(1, 40)),
        "Zone-Master-Key-Alpha",
        "zone master key beta",
        'A"B-Quote',
        "odd_100%",
        "ZZ",
        "x",
        "Straße-1",
        "SCHLÜSSEL-7",
        "AAAA-aaaa",
    )

    @staticmethod
    def searched_key(n: int, label: str) -> ManagedKey:
        pin = label.startswith("pek")
        return key(
            n,
            label=label,
            state=KeyState.ACTIVE if n % 3 else KeyState.SUSPENDED,
            usage="P0" if pin else "K0",
            template_id="t-pek" if pin else "t-zmk",
        )

    @pytest.fixture
    def searchable(self, repository: Repository) -> Repository:
        keys = [self.searched_key(n, x) for n, x in enumerate(self.SEARCHED_LABELS, start=1)]
        with repository.unit_of_work() as uow:
            uow.templates.add(template(), mac(0))
            uow.templates.add(template("pek", "PIN key", key_usage="P0"), mac(0))
            # every other key through add_many, the others one by one
            uow.keys.add_many([(k, mac(1)) for k in keys[::2]])
            for k in keys[1::2]:
                uow.keys.add(k, mac(1))
            uow.commit()
        return repository

    @staticmethod
    def expected(labels: tuple[str, ...], search: str) -> list[str]:
        """What the search must answer: labels holding ``search`` as ``name_key``
        compares (NFC, case-folded), in label order (code points)."""
        return sorted(x for x in labels if name_key(search) in name_key(x))

    @pytest.mark.parametrize(
        "search",
        [
            "x",  # one character
            "Z",
            "%",
            "zz",  # two
            "k-",
            "_1",
            "zmk",  # three: the index
            "ZmK-00",
            "0001",
            "-0012",
            "BRANCH",
            "ne ma",  # a space inside
            '"b-',  # a double quote (FTS5's phrase delimiter)
            "0%",  # LIKE's wildcards, literal
            "aaaa",  # overlapping trigrams
            "aa-aa",
            "STRASSE",  # ß folds to ss
            "schlüssel-7",
            "nothing here",
        ],
    )
    def test_label_search_answers_as_name_key_compares(
        self, searchable: Repository, search: str
    ) -> None:
        found = self.labels(searchable, label=search)
        assert found == self.expected(self.SEARCHED_LABELS, search)
        assert found or search == "nothing here"

    def test_label_search_with_filters_and_paging(self, searchable: Repository) -> None:
        keys = [self.searched_key(n, x) for n, x in enumerate(self.SEARCHED_LABELS, start=1)]
        active_pins = sorted(
            k.label for k in keys if k.key_usage == "P0" and k.state is KeyState.ACTIVE
        )
        for search in ("EK-00", "00", "PEK-001"):
            want = [x for x in active_pins if name_key(search) in x]
            assert want
            assert (
                self.labels(searchable, label=search, states=(KeyState.ACTIVE,), key_usage="P0")
                == want
            )
            assert self.labels(searchable, label=search, template_id="t-pek") == [
                x for x in self.expected(self.SEARCHED_LABELS, search) if x.startswith("pek")
            ]
        everything = self.expected(self.SEARCHED_LABELS, "-00")
        pages = [self.labels(searchable, label="-00", limit=7, offset=o) for o in range(0, 80, 7)]
        assert [x for page in pages for x in page] == everything
        with searchable.unit_of_work(read_only=True) as uow:
            assert uow.keys.count(KeyQuery(label="-00", limit=7, offset=7)) == len(everything)

    def test_label_search_finds_a_key_at_once_and_follows_changes(
        self, searchable: Repository
    ) -> None:
        with searchable.unit_of_work() as uow:
            uow.keys.add(key(900, label="NEW-Search-Me"), mac(1))
            # in the same unit of work, before the commit
            assert [s.value.id for s in uow.keys.query(KeyQuery(label="search-me"))] == ["k-900"]
            uow.commit()
        assert self.labels(searchable, label="SEARCH-ME") == ["NEW-Search-Me"]
        with searchable.unit_of_work() as uow:  # rolled back: not in the index either
            uow.keys.add(key(901, label="Gone-Again"), mac(1))
        assert self.labels(searchable, label="gone") == []
        with searchable.unit_of_work() as uow:  # a changed label is found by its new text
            got = uow.keys.get("k-900")
            assert got is not None
            uow.keys.update(replace(got.value, label="RENAMED-9"), mac(2))
            uow.keys.update(replace(got.value, label="RENAMED-9", state=KeyState.SUSPENDED), mac(3))
            uow.commit()
        assert self.labels(searchable, label="search-me") == []
        assert self.labels(searchable, label="renamed") == ["RENAMED-9"]
        assert self.labels(searchable, label="renamed", states=(KeyState.SUSPENDED,)) == [
            "RENAMED-9"
        ]

    def test_query_kcv_prefix_case_insensitive(self, inventory: Repository) -> None:
        assert self.labels(inventory, kcv="ab") == ["PEK-0005", "ZMK-0001", "zmk-0002"]
        assert self.labels(inventory, kcv="abc") == ["PEK-0005", "ZMK-0001"]
        assert self.labels(inventory, kcv="ABC1") == ["ZMK-0001"]
        assert self.labels(inventory, kcv="F") == ["odd_100%"]

    def test_query_expiring_skips_destroyed(self, inventory: Repository) -> None:
        before = T0 + timedelta(days=30)
        assert self.labels(inventory, expiring_before=before) == ["PEK-0003", "odd_100%"]
        assert self.labels(inventory, expiring_before=T0 + timedelta(days=41)) == [
            "PEK-0003",
            "PEK-0005",
            "odd_100%",
        ]
        assert self.labels(inventory, expiring_before=T0) == []

    def test_query_limit_offset(self, inventory: Repository) -> None:
        assert self.labels(inventory, limit=2) == ["BDK-0004", "PEK-0003"]
        assert self.labels(inventory, limit=2, offset=2) == ["PEK-0005", "ZMK-0001"]
        assert self.labels(inventory, offset=5) == ["zmk-0002"]
        assert self.labels(inventory, limit=0) == []
        with inventory.unit_of_work() as uow:
            assert uow.keys.count(KeyQuery(limit=1)) == 6  # count ignores paging
            with pytest.raises(BadInput):
                uow.keys.query(KeyQuery(limit=-1))

    # audit ---------------------------------------------------------------------------

    def test_audit_chains_across_units_of_work_and_verifies(
        self, repository: Repository, audit_key: ec.EllipticCurvePrivateKey
    ) -> None:
        for n in range(1, 6):
            with repository.unit_of_work() as uow:
                entry = uow.audit.append(event(n, requester=actor("Alice")))
                assert entry.seq == n
                if n == 3:
                    add_checkpoint(uow, audit_key, format_time(T0) or "")
                uow.commit()
        with repository.unit_of_work() as uow:
            entries = list(uow.audit.entries())
            assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
            assert entries[0].prev_hash == bytes(32)
            assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
            assert entries[1].body["details"] == {"n": 2, "note": "Zoë's ceremony"}
            last = uow.audit.last()
            assert last == entries[-1] and uow.audit.count() == 5
            assert [e.seq for e in uow.audit.entries(start_seq=4)] == [4, 5]
            checkpoints = [(c.seq, c.hash, c.at, c.signature) for c in uow.audit.checkpoints()]
            report = verify_chain(
                chain_tuples(uow), checkpoints, audit_key.public_key(), WORKSTATION
            )
        assert report.ok, report.problems
        assert report.entries_checked == 5 and report.last_signed_seq == 3
        assert report.uncovered_entries == 2

    def test_append_returns_the_stored_entry(self, repository: Repository) -> None:
        with repository.unit_of_work() as uow:
            appended = uow.audit.append(event(1, members=(actor("A"), actor("B", 2))))
            uow.commit()
        with repository.unit_of_work() as uow:
            assert uow.audit.last() == appended
        assert appended.action == "key.generate"
        assert appended.body["seq"] == 1 and appended.body["members"][1]["name"] == "B"

    def test_audit_event_needs_a_time(self, repository: Repository) -> None:
        with repository.unit_of_work() as uow, pytest.raises(ValueError, match="no time"):
            uow.audit.append(replace(event(1), at=None))

    def test_checkpoint_must_match_its_entry(
        self, repository: Repository, audit_key: ec.EllipticCurvePrivateKey
    ) -> None:
        with repository.unit_of_work() as uow:
            uow.audit.append(event(1))
            uow.audit.append(event(2))
            cp = add_checkpoint(uow, audit_key, "2026-11-24T10:00:00.000000Z")
            with pytest.raises(IntegrityError):
                uow.audit.add_checkpoint(replace(cp, seq=1))
            with pytest.raises(NotFound):
                uow.audit.add_checkpoint(replace(cp, seq=3))
            add_checkpoint(uow, audit_key, "2026-11-24T11:00:00.000000Z")
            assert [(c.seq, c.at) for c in uow.audit.checkpoints()] == [
                (2, "2026-11-24T10:00:00.000000Z"),
                (2, "2026-11-24T11:00:00.000000Z"),
            ]

    def test_audit_search(self, repository: Repository) -> None:
        alice, bob, zoe = actor("Alice", 1), actor("Bob", 2), actor("Zoë", 3)
        with repository.unit_of_work() as uow:
            uow.audit.append(event(1, action="key.generate", requester=alice, members=(alice,)))
            uow.audit.append(event(2, action="key.activate", requester=bob, members=(bob, zoe)))
            uow.audit.append(event(3, action="person.enrol", object_id="p-9", requester=zoe))
            uow.audit.append(event(4, action="keyboard.test", object_id="k-1"))
            uow.audit.append(event(5, action="key.destroy", object_id="k-1", members=(alice,)))
            uow.commit()

        def seqs(**kw: object) -> list[int]:
            with repository.unit_of_work() as uow:
                return [e.seq for e in uow.audit.search(**kw)]  # type: ignore[arg-type]

        assert seqs() == [1, 2, 3, 4, 5]
        assert seqs(person="alice") == [1, 5]
        assert seqs(person="ZOË") == [2, 3]  # requester or member
        assert seqs(person="Ali") == []
        assert seqs(action="key.") == [1, 2, 5]
        assert seqs(action="key") == [1, 2, 4, 5]
        assert seqs(object_id="k-1") == [1, 4, 5]
        assert seqs(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4)) == [2, 3, 4]
        assert seqs(person="alice", action="key.destroy") == [5]
        assert seqs(person="zoë", since=T0) == [2, 3]
        assert seqs(person="alice", object_id="k-1") == [1, 5]
        assert seqs(action="key.", since=T0 + timedelta(minutes=2)) == [2, 5]
        assert seqs(limit=0) == []
        assert seqs(limit=2) == [4, 5]  # the latest matches, oldest first

    def test_concurrent_writers_keep_the_chain_linear(self, repository: Repository) -> None:
        errors: list[Exception] = []
        start = threading.Barrier(4)

        def writer(w: int) -> None:
            try:
                start.wait()
                for i in range(15):
                    with repository.unit_of_work() as uow:
                        uow.audit.append(event(w * 100 + i))
                        uow.commit()
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with repository.unit_of_work() as uow:
            report = verify_chain(chain_tuples(uow), [], None, WORKSTATION)
        assert report.ok, report.problems
        assert report.entries_checked == 60


# --- both backends ------------------------------------------------------------------------


class TestRepositoryContract(RepositoryContract):
    """The contract on SQLite and on PostgreSQL."""

    @pytest.fixture
    def repository(self, any_repository: Repository) -> Repository:
        return any_repository


class TestSqliteSpecifics:
    def test_create_exists_and_refuse_twice(self, repo_path: Path) -> None:
        repo = SqliteRepository(repo_path)
        assert not repo.exists()
        assert not repo_path.exists()  # exists() does not create the file
        with pytest.raises(NotInitialised), repo.unit_of_work():
            pass
        repo.create()
        assert repo.exists()
        assert repo_path.stat().st_mode & 0o777 == 0o600
        with pytest.raises(AlreadyInitialised):
            repo.create()
        with pytest.raises(AlreadyInitialised):
            SqliteRepository(repo_path).create()
        conn = sqlite3.connect(repo_path)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            version = conn.execute("SELECT value FROM meta WHERE name='schema_version'")
            assert version.fetchone()[0] == str(CURRENT)
        finally:
            conn.close()

    def test_connection_settings(self, repository: SqliteRepository) -> None:
        with repository.unit_of_work() as uow:
            assert isinstance(uow, SqliteUnitOfWork)
            conn = uow._connection()
            assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
            assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
            assert conn.in_transaction

    def test_not_a_database_gives_a_clear_error(self, repo_path: Path) -> None:
        repo_path.write_bytes(b"this is not an SQLite file at all" * 200)
        repo = SqliteRepository(repo_path)
        with pytest.raises(WorkstationError, match="damaged or is not a workstation repository"):
            repo.exists()
        with pytest.raises(WorkstationError, match="damaged"), repo.unit_of_work():
            pass

    def test_foreign_sqlite_file_is_not_taken_over(self, repo_path: Path) -> None:
        conn = sqlite3.connect(repo_path)
        conn.execute("CREATE TABLE other (x)")
        conn.commit()
        conn.close()
        repo = SqliteRepository(repo_path)
        assert not repo.exists()
        with pytest.raises(WorkstationError, match="another application"):
            repo.create()

    def test_migration_backs_up_then_bumps_the_version(self, repo_path: Path) -> None:
        v1 = SqliteRepository(repo_path)
        v1.create()
        with v1.unit_of_work() as uow:
            uow.meta.put("workstation_id", WORKSTATION)
            uow.commit()

        def add_notes(conn: sqlite3.Connection) -> None:
            conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")

        v2 = SqliteRepository(
            repo_path, migrations=(*MIGRATIONS, Migration(NEXT, "notes", add_notes))
        )
        with v2.unit_of_work() as uow:  # the first unit of work migrates
            assert uow.meta.get("workstation_id") == WORKSTATION
        backups = sorted(repo_path.parent.glob(repo_path.name + f".schema-v{CURRENT}.*.bak"))
        assert len(backups) == 1
        assert backups[0].stat().st_mode & 0o777 == 0o600
        conn = sqlite3.connect(repo_path)
        try:
            assert conn.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()
            assert conn.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()[
                0
            ] == str(NEXT)
            conn.execute("SELECT count(*) FROM notes").fetchone()
        finally:
            conn.close()
        old = sqlite3.connect(backups[0])
        try:
            rows = old.execute("SELECT name, value FROM meta ORDER BY name").fetchall()
            assert ("schema_version", str(CURRENT)) in rows
            assert ("workstation_id", WORKSTATION) in rows
        finally:
            old.close()
        assert v2.migrate() is None  # nothing left to do
        # and the version-1 software now refuses the newer file instead of misreading it
        with (
            pytest.raises(WorkstationError, match="newer"),
            SqliteRepository(repo_path).unit_of_work(),
        ):
            pass
        # a new repository goes through every migration
        fresh = SqliteRepository(
            repo_path.with_name("fresh.sqlite3"),
            migrations=(*MIGRATIONS, Migration(NEXT, "notes", add_notes)),
        )
        fresh.create()
        with fresh.unit_of_work() as uow:
            assert isinstance(uow, SqliteUnitOfWork)
            uow.execute("INSERT INTO notes (text) VALUES ('x')")

    def test_version_5_file_migrates_to_revisions_with_a_backup(self, repo_path: Path) -> None:
        SqliteRepository(repo_path, migrations=MIGRATIONS[:5]).create()
        k, t = key(1), template()
        conn = sqlite3.connect(repo_path)
        try:
            conn.execute(
                "INSERT INTO templates (id, name, name_key, record, mac) VALUES (?, ?, ?, ?, ?)",
                (t.id, t.name, t.name.casefold(), canonical_bytes(t.to_record()).decode(), mac(0)),
            )
            conn.execute(
                "INSERT INTO keys (id, label, state, key_usage, algorithm, template_id, kcv, "
                "deactivation_date, record, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    k.id,
                    k.label,
                    k.state.value,
                    k.key_usage,
                    k.algorithm.value,
                    k.template_id,
                    k.kcv,
                    format_time(k.deactivation_date),
                    canonical_bytes(k.to_record()).decode(),
                    mac(1),
                ),
            )
            conn.commit()
        finally:
            conn.close()
        repo = SqliteRepository(repo_path)
        with repo.unit_of_work() as uow:  # migrates to the current version first
            got = uow.keys.get("k-1")
            assert got is not None and got.value == k
            uow.keys.update(replace(k, state=KeyState.SUSPENDED), mac(2))
            uow.commit()
        backups = list(repo_path.parent.glob(repo_path.name + ".schema-v5.*.bak"))
        assert len(backups) == 1
        conn = sqlite3.connect(repo_path)
        try:
            version = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'")
            assert version.fetchone()[0] == str(CURRENT) == "7"
            assert conn.execute("SELECT revision FROM keys").fetchone()[0] == 1
            assert conn.execute("SELECT revision FROM templates").fetchone()[0] == 0
        finally:
            conn.close()
        old = sqlite3.connect(backups[0])
        try:
            assert "revision" not in [r[1] for r in old.execute("PRAGMA table_info(keys)")]
        finally:
            old.close()

    def test_version_6_file_gets_the_label_index_and_statistics_with_a_backup(
        self, repo_path: Path
    ) -> None:
        SqliteRepository(repo_path, migrations=MIGRATIONS[:6]).create()
        t = template()
        keys = [key(n, label=f"{'ZMK' if n % 2 else 'Pek'}-{n:05d}") for n in range(1, 1201)]
        conn = sqlite3.connect(repo_path)
        try:
            conn.execute(
                "INSERT INTO templates (id, name, name_key, record, mac) VALUES (?, ?, ?, ?, ?)",
                (t.id, t.name, t.name.casefold(), canonical_bytes(t.to_record()).decode(), mac(0)),
            )
            conn.executemany(
                "INSERT INTO keys (id, label, state, key_usage, algorithm, template_id, kcv, "
                "deactivation_date, record, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        k.id,
                        k.label,
                        k.state.value,
                        k.key_usage,
                        k.algorithm.value,
                        k.template_id,
                        k.kcv,
                        format_time(k.deactivation_date),
                        canonical_bytes(k.to_record()).decode(),
                        mac(1),
                    )
                    for k in keys
                ],
            )
            conn.commit()
        finally:
            conn.close()
        repo = SqliteRepository(repo_path)
        backup = repo.migrate()
        assert backup is not None and backup.name.startswith(repo_path.name + ".schema-v6.")
        with repo.unit_of_work(read_only=True) as uow:
            found = uow.keys.query(KeyQuery(label="pek-0001"))
            assert [s.value.label for s in found] == [f"Pek-{n:05d}" for n in range(10, 20, 2)]
            assert uow.keys.count(KeyQuery(label="ZMK-")) == 600
            assert uow.keys.count(KeyQuery(label="k-")) == 1200  # two characters: a scan
        conn = sqlite3.connect(repo_path)
        try:
            assert conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()[
                0
            ] == str(CURRENT)
            # the planner's statistics were taken for the 1,200 keys
            stat = conn.execute(
                "SELECT stat FROM sqlite_stat1 WHERE tbl = 'keys' AND idx = 'keys_facets'"
            ).fetchone()
            assert stat is not None and stat[0].split()[0] == "1200"
        finally:
            conn.close()
        old = sqlite3.connect(backup)
        try:
            assert "label_key" not in [r[1] for r in old.execute("PRAGMA table_info(keys)")]
            assert old.execute("SELECT count(*) FROM keys").fetchone()[0] == 1200
        finally:
            old.close()

    def test_a_common_text_is_searched_by_reading_the_labels_with_the_same_answer(
        self, repository: SqliteRepository, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        with repository.unit_of_work() as uow:
            uow.templates.add(template(), mac(0))
            uow.keys.add_many([(key(n, label=f"Zmk-{n:03d}"), mac(1)) for n in range(1, 31)])
            uow.keys.add(key(31, label="PEK-ZMK-X"), mac(1))
            uow.commit()

        def search(text: str, **paging: int) -> tuple[list[str], int]:
            query = KeyQuery(label=text, **paging)  # type: ignore[arg-type]
            with repository.unit_of_work(read_only=True) as uow:
                labels = [s.value.label for s in uow.keys.query(query)]
                return labels, uow.keys.count(query)

        from_index = [search("zmk"), search("ZMK-01", limit=4, offset=3), search("-x")]
        # more matches than the index is used for: the labels are read instead
        monkeypatch.setattr(repository_sqlite, "LABEL_INDEX_MAX_MATCHES", 5)
        assert [search("zmk"), search("ZMK-01", limit=4, offset=3), search("-x")] == from_index
        assert from_index[0] == (["PEK-ZMK-X", *(f"Zmk-{n:03d}" for n in range(1, 31))], 31)
        assert from_index[1] == (["Zmk-013", "Zmk-014", "Zmk-015", "Zmk-016"], 10)

    def test_statistics_are_taken_again_as_bulk_additions_double_the_keys(
        self, repository: SqliteRepository
    ) -> None:
        def analysed() -> int | None:
            conn = sqlite3.connect(repository.path)
            try:
                has = conn.execute(
                    "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'"
                ).fetchone()
                row = (
                    has
                    and conn.execute(
                        "SELECT stat FROM sqlite_stat1 WHERE tbl = 'keys' AND idx = 'keys_facets'"
                    ).fetchone()
                )
            finally:
                conn.close()
            return int(row[0].split()[0]) if row else None

        def add(first: int, count: int) -> None:
            with repository.unit_of_work() as uow:
                uow.keys.add_many([(key(n), mac(1)) for n in range(first, first + count)])
                uow.commit()

        with repository.unit_of_work() as uow:
            uow.templates.add(template(), mac(0))
            uow.commit()
        add(1, 600)
        assert analysed() is None  # a small repository: SQLite's defaults do
        add(601, 600)
        assert analysed() == 1200
        add(1201, 1000)
        assert analysed() == 1200  # not yet twice as many
        add(2201, 300)
        assert analysed() == 2500

    def test_failed_migration_changes_nothing(self, repo_path: Path) -> None:
        SqliteRepository(repo_path).create()

        def broken(conn: sqlite3.Connection) -> None:
            conn.execute("CREATE TABLE half (x)")
            conn.execute("THIS IS NOT SQL")

        v2 = SqliteRepository(repo_path, migrations=(*MIGRATIONS, Migration(NEXT, "bad", broken)))
        failed = f"from schema version {CURRENT} to {NEXT} failed"
        with pytest.raises(WorkstationError, match=failed) as info:
            v2.migrate()
        assert "a backup is at" in info.value.message
        conn = sqlite3.connect(repo_path)
        try:
            version = conn.execute("SELECT value FROM meta WHERE name='schema_version'")
            assert version.fetchone()[0] == str(CURRENT)
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema")}
            assert "half" not in tables
        finally:
            conn.close()

    def test_edited_audit_row_fails_verification_naming_it(
        self, repository: SqliteRepository, audit_key: ec.EllipticCurvePrivateKey
    ) -> None:
        with repository.unit_of_work() as uow:
            for n in range(1, 11):
                uow.audit.append(event(n))
            add_checkpoint(uow, audit_key, "2026-11-24T10:00:00.000000Z")
            uow.commit()
        conn = sqlite3.connect(repository.path)
        try:
            # The triggers refuse an edit ...
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute("UPDATE audit_entries SET action = 'x' WHERE seq = 7")
            # ... but whoever holds the file can drop them.
            conn.execute("DROP TRIGGER audit_entries_append_only_update")
            conn.execute(
                'UPDATE audit_entries SET body = replace(body, \'"after":"pre-activation"\', '
                '\'"after":"active"\') WHERE seq = 7'
            )
            conn.commit()
        finally:
            conn.close()
        with repository.unit_of_work(read_only=True) as uow:
            assert isinstance(uow, SqliteUnitOfWork)
            checkpoints = [(c.seq, c.hash, c.at, c.signature) for c in uow.audit.checkpoints()]
            for entries in (chain_tuples(uow), list(uow.audit_log.chain())):
                report = verify_chain(entries, checkpoints, audit_key.public_key(), WORKSTATION)
                assert not report.ok
                assert report.problem == "entry 7: hash does not match its content (edited?)"
                assert report.problems_total == 1

    def test_fast_chain_stream_matches_entries(self, repository: SqliteRepository) -> None:
        with repository.unit_of_work() as uow:
            for n in range(1, 2500):  # more than one fetchmany batch
                uow.audit.append(event(n, requester=actor("Zoë")))
            uow.commit()
        with repository.unit_of_work(read_only=True) as uow:
            assert isinstance(uow, SqliteUnitOfWork)
            raw = list(uow.audit_log.chain())
            parsed = chain_tuples(uow)
        assert [r[0] for r in raw] == list(range(1, 2500))
        assert [(r[0], r[2], r[3]) for r in raw] == [(p[0], p[2], p[3]) for p in parsed]
        assert verify_chain(raw, [], None, WORKSTATION).ok
        assert verify_chain(parsed, [], None, WORKSTATION).ok

    def test_edited_key_column_is_refused(self, repository: SqliteRepository) -> None:
        with repository.unit_of_work() as uow:
            uow.templates.add(template(), mac(0))
            uow.keys.add(key(1, state=KeyState.SUSPENDED), mac(1))
            uow.commit()
        conn = sqlite3.connect(repository.path)
        conn.execute("UPDATE keys SET state = 'active' WHERE id = 'k-1'")
        conn.commit()
        conn.close()
        with repository.unit_of_work() as uow, pytest.raises(IntegrityError, match="indexed"):
            uow.keys.query(KeyQuery(states=(KeyState.ACTIVE,)))

    def test_read_only_unit_of_work_refuses_writes(self, repository: SqliteRepository) -> None:
        with repository.unit_of_work(read_only=True) as uow:
            assert uow.meta.get("schema_version") == str(CURRENT)
            with pytest.raises(WorkstationError, match="read-only"):
                uow.meta.put("workstation_id", "x")
            with pytest.raises(WorkstationError, match="read-only"):
                uow.audit.append(event(1))

    def test_reserved_meta_and_closed_repository(self, repository: SqliteRepository) -> None:
        with repository.unit_of_work() as uow, pytest.raises(ValueError, match="schema_version"):
            uow.meta.put("schema_version", "99")
        repository.close()
        with pytest.raises(WorkstationError, match="closed"), repository.unit_of_work():
            pass

    def test_scrub_empties_the_write_ahead_log(self, repository: SqliteRepository) -> None:
        # Another process keeps the file open, so the last close does not remove the WAL.
        bystander = sqlite3.connect(repository.path)
        try:
            bystander.execute("SELECT count(*) FROM meta").fetchall()
            with repository.unit_of_work() as uow:
                uow.templates.add(template(), mac(0))
                uow.keys.add(key(1), mac(1))
                uow.commit()
            wal = repository.path.with_name(repository.path.name + "-wal")
            assert wal.stat().st_size > 0
            repository.scrub()
            assert wal.stat().st_size == 0
        finally:
            bystander.close()
        with repository.unit_of_work() as uow:
            assert uow.keys.get("k-1") is not None
