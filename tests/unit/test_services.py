"""The use cases end to end on fakes for the HSM and the readers, and a real SQLite file.

Integration tests repeat the essential paths on SoftHSM2 and pcscd with virtual cards.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes import FakeCardData, FakeClock, FakeHsm, FakeReaders
from workstation.adapters.repository_sqlite import SqliteRepository
from workstation.domain.keys import KeyState
from workstation.domain.people import Role, Status
from workstation.domain.policy import Action, Quorum
from workstation.errors import (
    AlreadyInitialised,
    BadInput,
    CardBlocked,
    CardNotEnrolled,
    CardNotUsable,
    IntegrityError,
    InvalidTransition,
    PinIncorrect,
    PolicyRefused,
    QuorumNotMet,
    SessionLocked,
)
from workstation.services.app import WorkstationServices
from workstation.services.context import ServiceContext
from workstation.services.initialise import OfficerCard
from workstation.services.ports import KeyQuery
from workstation.services.session import Session

PIN = "123456"


class World:
    """A workstation on fakes with the demo cast's cards."""

    def __init__(self, tmp: Path) -> None:
        self.db = tmp / "ws.db"
        self.repo = SqliteRepository(self.db)
        self.hsm = FakeHsm()
        self.readers = FakeReaders(count=6)
        self.clock = FakeClock()
        self.s = WorkstationServices(
            ServiceContext(
                repository=self.repo, hsm=self.hsm, readers=self.readers, clock=self.clock
            )
        )
        self.cards = {
            n: FakeCardData(n)
            for n in ("Olivia", "Oscar", "Cara", "Carl", "Cathy", "Sam", "Alex", "Stranger")
        }

    def pin(self, text: str = PIN) -> bytearray:
        return bytearray(text.encode())

    def initialise(self) -> None:
        r0 = self.readers.insert(0, self.cards["Olivia"])
        r1 = self.readers.insert(1, self.cards["Oscar"])
        self.s.init.initialise(
            [OfficerCard(r0, "Olivia", self.pin()), OfficerCard(r1, "Oscar", self.pin())]
        )
        self.readers.remove(0)
        self.readers.remove(1)

    def session(self, *names: str) -> Session:
        session = self.s.logon.open_session()
        self.s.logon.watch(session)
        for i, name in enumerate(names):
            reader = self.readers.insert(i, self.cards[name])
            self.s.logon.log_on(session, reader, self.pin())
        return session

    def end(self, session: Session) -> None:
        session.close()
        for i in range(len(self.readers.names)):
            if self.readers.slots[self.readers.names[i]] is not None:
                self.readers.remove(i)

    def enrol_cast(self) -> None:
        session = self.session("Olivia", "Oscar")
        for name, roles in (
            ("Cara", [Role.KEY_CUSTODIAN]),
            ("Carl", [Role.KEY_CUSTODIAN]),
            ("Cathy", [Role.KEY_CUSTODIAN]),
            ("Sam", [Role.SUPERVISOR]),
            ("Alex", [Role.AUDITOR]),
        ):
            reader = self.readers.insert(5, self.cards[name])
            self.s.people.enrol(session, name=name, roles=roles, reader=reader, pin=self.pin())
            self.readers.remove(5)
        self.s.people.change_group(session, "custodians A", add=["Cara", "Carl", "Cathy"])
        self.end(session)

    def audit_count(self) -> int:
        with self.repo.unit_of_work() as uow:
            return uow.audit.count()


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path)
    yield w
    w.repo.close()


@pytest.fixture
def ready(world: World) -> World:
    world.initialise()
    world.enrol_cast()
    return world


# --- initialisation ----------------------------------------------------------------------


def test_initialise_creates_everything_and_refuses_twice(world: World) -> None:
    world.initialise()
    assert world.repo.exists() and world.hsm.has_workstation_keys()
    count = world.audit_count()
    with pytest.raises(AlreadyInitialised):
        world.initialise()
    assert world.audit_count() == count
    report = world.s.audit.verify(None)
    assert report.ok


def test_initialise_with_a_wrong_pin_creates_nothing(world: World) -> None:
    r0 = world.readers.insert(0, world.cards["Olivia"])
    r1 = world.readers.insert(1, world.cards["Oscar"])
    with pytest.raises(PinIncorrect, match="2 tries left"):
        world.s.init.initialise(
            [OfficerCard(r0, "Olivia", world.pin()), OfficerCard(r1, "Oscar", world.pin("999999"))]
        )
    assert not world.repo.exists()
    assert not world.hsm.has_workstation_keys()


def test_initialise_needs_two_different_cards(world: World) -> None:
    r0 = world.readers.insert(0, world.cards["Olivia"])
    with pytest.raises(BadInput, match="own reader"):
        world.s.init.initialise(
            [OfficerCard(r0, "Olivia", world.pin()), OfficerCard(r0, "Oscar", world.pin())]
        )
    with pytest.raises(BadInput, match="at least 2"):
        world.s.init.initialise([OfficerCard(r0, "Olivia", world.pin())])
    assert not world.repo.exists()


# --- logon -------------------------------------------------------------------------------


def test_wrong_pin_counts_down_then_blocks(ready: World) -> None:
    session = ready.s.logon.open_session()
    reader = ready.readers.insert(0, ready.cards["Cara"])
    with pytest.raises(PinIncorrect, match="2 tries left"):
        ready.s.logon.log_on(session, reader, ready.pin("000000"))
    assert ready.s.logon.inspect(reader).retries_left == 2
    with pytest.raises(PinIncorrect, match="1 try left"):
        ready.s.logon.log_on(session, reader, ready.pin("000000"))
    with pytest.raises(PinIncorrect, match="now blocked"):
        ready.s.logon.log_on(session, reader, ready.pin("000000"))
    with pytest.raises(CardBlocked):  # even the right PIN
        ready.s.logon.log_on(session, reader, ready.pin())
    assert session.members == []
    with ready.repo.unit_of_work() as uow:
        refused = uow.audit.search(action="session.logon_refused", limit=10)
    assert len(refused) == 4


def test_unknown_card_is_refused(ready: World) -> None:
    session = ready.s.logon.open_session()
    reader = ready.readers.insert(0, ready.cards["Stranger"])
    with pytest.raises(CardNotEnrolled, match="not enrolled"):
        ready.s.logon.log_on(session, reader, ready.pin())


def test_expired_card_is_refused(ready: World) -> None:
    ready.clock.advance(365 * 24 * 3600 * 5)  # past the certificates' end in 2030
    session = ready.s.logon.open_session()
    reader = ready.readers.insert(0, ready.cards["Cara"])
    with pytest.raises(CardNotUsable, match="expired"):
        ready.s.logon.log_on(session, reader, ready.pin())


def test_the_same_person_with_two_cards_counts_once(ready: World) -> None:
    officers = ready.session("Olivia", "Oscar")
    second = FakeCardData("Cara (spare card)")
    reader = ready.readers.insert(5, second)
    ready.s.people.add_card(officers, person="Cara", reader=reader, pin=ready.pin())
    ready.end(officers)
    session = ready.session("Cara")
    spare = ready.readers.insert(1, second)
    with pytest.raises(BadInput, match="already logged on"):
        ready.s.logon.log_on(session, spare, ready.pin())
    assert [m.name for m in session.members] == ["Cara"]
    with pytest.raises(QuorumNotMet):
        ready.s.keys.generate(session, "MAC key")


def test_pin_buffer_is_wiped(ready: World) -> None:
    session = ready.s.logon.open_session()
    reader = ready.readers.insert(0, ready.cards["Cara"])
    pin = ready.pin()
    ready.s.logon.log_on(session, reader, pin)
    assert pin == bytearray(len(PIN))


# --- people and policy -------------------------------------------------------------------


def test_enrolment_needs_two_security_officers(world: World) -> None:
    world.initialise()
    session = world.session("Olivia")
    reader = world.readers.insert(5, world.cards["Cara"])
    with pytest.raises(QuorumNotMet, match="Still missing: 1 security officer"):
        world.s.people.enrol(
            session, name="Cara", roles=[Role.KEY_CUSTODIAN], reader=reader, pin=world.pin()
        )


def test_role_separation_enforced_at_enrolment(world: World) -> None:
    world.initialise()
    session = world.session("Olivia", "Oscar")
    reader = world.readers.insert(5, world.cards["Cara"])
    with pytest.raises(BadInput, match="both"):
        world.s.people.enrol(
            session,
            name="Cara",
            roles=[Role.AUDITOR, Role.KEY_CUSTODIAN],
            reader=reader,
            pin=world.pin(),
        )


def test_revoked_person_cannot_log_on_and_nobody_revokes_themselves(ready: World) -> None:
    session = ready.session("Olivia", "Oscar")
    with pytest.raises(PolicyRefused, match="made by others"):
        ready.s.people.set_status(session, "Olivia", Status.SUSPENDED)
    ready.s.people.set_status(session, "Cathy", Status.REVOKED, "left the bank")
    with pytest.raises(BadInput, match="cannot be undone"):
        ready.s.people.set_status(session, "Cathy", Status.ACTIVE)
    ready.end(session)
    session = ready.s.logon.open_session()
    reader = ready.readers.insert(0, ready.cards["Cathy"])
    with pytest.raises(CardNotUsable, match="revoked"):
        ready.s.logon.log_on(session, reader, ready.pin())


def test_suspending_an_officer_that_would_lock_out_is_refused(ready: World) -> None:
    session = ready.session("Sam", "Cara")  # not officers: quorum not met
    with pytest.raises(QuorumNotMet):
        ready.s.people.set_status(session, "Oscar", Status.SUSPENDED)


def test_policy_change_under_its_own_quorum(ready: World) -> None:
    session = ready.session("Olivia")
    with pytest.raises(QuorumNotMet):
        ready.s.policies.change(session, idle_timeout_seconds=120)
    ready.end(session)
    session = ready.session("Olivia", "Oscar")
    new = ready.s.policies.change(
        session, quorums={Action.DESTROY_KEY: Quorum.parse("2 supervisor")}
    )
    assert new.version == 2
    with pytest.raises(PolicyRefused, match="locked out"):
        ready.s.policies.change(
            session, quorums={Action.CHANGE_POLICY: Quorum.parse("3 security_officer")}
        )
    with pytest.raises(BadInput, match="does not exist"):
        ready.s.policies.change(
            session, quorums={Action.GENERATE_KEY: Quorum.parse("2 of group ghosts")}
        )


# --- keys --------------------------------------------------------------------------------


def test_a_refusal_inside_a_read_only_unit_of_work_is_audited_and_named(ready: World) -> None:
    """Services read under a read-only unit of work before they act; a quorum refused
    there is still the QuorumNotMet with its reason, audited in its own transaction."""
    session = ready.session("Cara")
    with (
        ready.repo.unit_of_work(read_only=True) as uow,
        pytest.raises(QuorumNotMet, match="Still missing: 1 key custodian"),
    ):
        ready.s.keys.ctx.authorise(uow, session, Action.GENERATE_KEY)
    with ready.repo.unit_of_work(read_only=True) as uow:
        refused = uow.audit.search(action="policy.refused", limit=5)
    assert refused[-1].body["object_id"] == "generate_key"
    ready.end(session)


def test_generate_under_dual_control(ready: World) -> None:
    session = ready.session("Cara")
    with pytest.raises(QuorumNotMet, match="2 key custodians"):
        ready.s.keys.generate(session, "PIN encryption key")
    with ready.repo.unit_of_work() as uow:
        refused = uow.audit.search(action="policy.refused", limit=5)
        assert uow.keys.count(KeyQuery()) == 0
    assert refused[-1].body["object_id"] == "generate_key"
    assert refused[-1].body["details"]["missing"] == ["1 key custodian"]
    ready.end(session)
    session = ready.session("Cara", "Carl")
    result = ready.s.keys.generate(session, "PIN encryption key", count=3)
    assert len(result.keys) == 3 and result.stopped_reason is None
    key = result.keys[0]
    assert key.state is KeyState.PRE_ACTIVATION and len(key.kcv) == 10
    assert key.deactivation_date - key.activation_date == timedelta(days=365)
    assert ready.s.keys.verify(session, key.label).kcv == key.kcv
    with ready.repo.unit_of_work() as uow:
        entries = uow.audit.search(action="key.generate", limit=10)
    assert {e.body["kcv"] for e in entries} == {k.kcv for k in result.keys}
    assert all(len(e.body["members"]) == 2 for e in entries)


def test_group_quorum_for_a_kek(ready: World) -> None:
    session = ready.session("Cara", "Sam")
    with pytest.raises(QuorumNotMet, match="of group custodians A"):
        ready.s.keys.generate(session, "Zone master key (KEK)")
    ready.end(session)
    session = ready.session("Cara", "Cathy")
    assert ready.s.keys.generate(session, "Zone master key (KEK)").keys[0].label.startswith("ZMK-")


def test_lifecycle_through_the_service(ready: World) -> None:
    session = ready.session("Cara", "Carl", "Sam", "Olivia")
    key = ready.s.keys.generate(session, "MAC key").keys[0]
    with pytest.raises(InvalidTransition):
        ready.s.keys.change_state(session, key.label, Action.DEACTIVATE_KEY)
    active = ready.s.keys.change_state(session, key.label, Action.ACTIVATE_KEY)
    assert active.state is KeyState.ACTIVE
    with pytest.raises(BadInput, match="needs a reason"):
        ready.s.keys.change_state(session, key.label, Action.COMPROMISE_KEY)
    ready.s.keys.change_state(
        session,
        key.label,
        Action.COMPROMISE_KEY,
        reason="leak",
        compromise_date=datetime(2026, 11, 1, tzinfo=UTC),
    )
    destroyed = ready.s.keys.change_state(
        session, key.label, Action.DESTROY_KEY, reason="compromised"
    )
    assert destroyed.wrapped is None
    detail = ready.s.keys.detail(session, key.label)
    assert [e.to_state for e in detail.history] == [
        KeyState.PRE_ACTIVATION,
        KeyState.ACTIVE,
        KeyState.COMPROMISED,
        KeyState.DESTROYED,
    ]
    assert {"Cara", "Carl", "Sam", "Olivia"} <= set(detail.history[-1].people)
    assert [e.body["after"] for e in detail.audit_trail][-1] == "destroyed"


def test_activation_date_in_the_future(ready: World) -> None:
    session = ready.session("Cara", "Carl", "Sam")
    later = ready.clock.now() + timedelta(days=10)
    key = ready.s.keys.generate(session, "MAC key", activation_date=later).keys[0]
    with pytest.raises(InvalidTransition, match="not before"):
        ready.s.keys.change_state(session, key.label, Action.ACTIVATE_KEY)
    ready.clock.advance(11 * 86400)
    ready.s.logon.unlock(session, session.members[0].reader, ready.pin())  # idle lock
    assert ready.s.keys.change_state(session, key.label, Action.ACTIVATE_KEY).state is (
        KeyState.ACTIVE
    )


def test_rotation_links_both_ways(ready: World) -> None:
    session = ready.session("Cara", "Carl")
    key = ready.s.keys.generate(session, "PIN encryption key").keys[0]
    old, new = ready.s.keys.rotate(session, key.label)
    assert old.successor_id == new.id and new.predecessor_id == old.id
    assert new.version == 2 and new.kcv != old.kcv
    with pytest.raises(InvalidTransition, match="already has a successor"):
        ready.s.keys.rotate(session, key.label)


def test_inventory_queries(ready: World) -> None:
    session = ready.session("Cara", "Carl")
    pek = ready.s.keys.generate(session, "PIN encryption key", count=2).keys
    ready.s.keys.generate(session, "Card verification key")
    keys, total = ready.s.keys.query(session, KeyQuery(key_usage="P0"))
    assert total == 2 and {k.label for k in keys} == {k.label for k in pek}
    keys, _ = ready.s.keys.query(session, KeyQuery(kcv=pek[0].kcv[:6].lower()))
    assert [k.label for k in keys] == [pek[0].label]
    assert len(ready.s.keys.expiring(session, 366)) == 2  # PEKs: one year
    assert len(ready.s.keys.expiring(session, 30)) == 0


# --- session safety ----------------------------------------------------------------------


def test_card_removal_drops_the_person_and_locks(ready: World) -> None:
    session = ready.session("Cara", "Carl")
    ready.readers.remove(1)  # Carl's card
    assert [m.name for m in session.members] == ["Cara"]
    with pytest.raises(QuorumNotMet):
        ready.s.keys.generate(session, "PIN encryption key")
    ready.readers.remove(0)
    assert session.is_locked
    with pytest.raises(SessionLocked):
        ready.s.keys.generate(session, "PIN encryption key")


def test_card_removed_during_bulk_generation(ready: World) -> None:
    session = ready.session("Cara", "Carl")

    def progress(done: int, total: int) -> None:
        if done >= 200 and ready.readers.slots[ready.readers.names[1]] is not None:
            ready.readers.remove(1)  # Carl leaves: Cara alone is not a quorum

    result = ready.s.keys.generate(session, "MAC key", count=1000, progress=progress)
    assert len(result.keys) == 200
    assert result.stopped_reason and "no longer met" in result.stopped_reason
    with ready.repo.unit_of_work() as uow:
        assert uow.keys.count(KeyQuery()) == 200
    assert ready.s.audit.verify(None).ok


def test_idle_timeout_locks(ready: World) -> None:
    session = ready.session("Cara", "Carl")
    ready.clock.advance(301)
    with pytest.raises(SessionLocked, match="idle"):
        ready.s.keys.generate(session, "MAC key")


def test_a_person_suspended_mid_session_no_longer_counts(ready: World) -> None:
    custodians = ready.session("Cara", "Carl")
    officers = ready.s.logon.open_session()
    for i, name in ((3, "Olivia"), (4, "Oscar")):
        reader = ready.readers.insert(i, ready.cards[name])
        ready.s.logon.log_on(officers, reader, ready.pin())
    ready.s.people.set_status(officers, "Carl", Status.SUSPENDED)
    with pytest.raises(QuorumNotMet):
        ready.s.keys.generate(custodians, "MAC key")


# --- integrity ---------------------------------------------------------------------------


def test_tampered_key_row_is_refused(ready: World) -> None:
    session = ready.session("Cara", "Carl", "Sam")
    key = ready.s.keys.generate(session, "MAC key").keys[0]
    con = sqlite3.connect(ready.db)
    rows = con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='keys'")
    assert rows.fetchone()
    con.execute(
        'UPDATE keys SET record = replace(record, \'"exportability":"E"\', '
        '\'"exportability":"N"\') WHERE label = ?',
        (key.label,),
    )
    con.commit()
    con.close()
    with pytest.raises(IntegrityError, match="changed outside the workstation"):
        ready.s.keys.change_state(session, key.label, Action.ACTIVATE_KEY)
    assert not ready.s.keys.detail(session, key.label).integrity_ok


def test_tampered_audit_log_is_detected(ready: World) -> None:
    assert ready.s.audit.verify(None).ok
    con = sqlite3.connect(ready.db)
    # Someone with write access to the file drops the append-only guard first.
    con.execute("DROP TRIGGER audit_entries_append_only_update")
    con.execute(
        "UPDATE audit_entries SET body = replace(body, 'Cathy', 'Mallory') "
        "WHERE seq = (SELECT min(seq) FROM audit_entries WHERE body LIKE '%Cathy%')"
    )
    con.commit()
    con.close()
    report = ready.s.audit.verify(None)
    assert not report.ok
    assert report.first_problem is not None and report.first_problem.seq is not None
