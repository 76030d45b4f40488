"""DistributionService on fakes (HSM, readers, clock) with a real SQLite file and targets
in memory that really unwrap what they receive: targets registered under their quorum,
jobs authorised once, retries with backoff, failures reported, nothing installed twice
(also when a job is run again after a stop), bulk rotation, cancel and retry.

The same paths run against real key agents (mutual TLS, SoftHSM2 tokens) in
tests/integration/test_distribution.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes_keystores import MemoryFleet, MemoryTarget
from tests.unit.test_services import World
from workstation.domain.distribution import DeliveryState, JobKind, JobState, backoff
from workstation.domain.keys import ManagedKey
from workstation.domain.policy import Action
from workstation.errors import (
    AlreadyExists,
    BadInput,
    NotFound,
    PolicyRefused,
    QuorumNotMet,
)

EXPORTERS = ("Cara", "Carl", "Sam")  # export quorum: 2 key custodians + 1 supervisor


class Fleet(World):
    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.fleet = MemoryFleet()
        self.s.ctx.key_stores = self.fleet
        self.dist = self.s.distribution
        self.dist._sleep.wait = self._advance  # type: ignore[method-assign]

    def _advance(self, seconds: float | None = None) -> bool:
        """Retry waits pass on the fake clock, at once."""
        self.clock.advance(seconds or 0)
        return False

    def key(self, template: str, *, active: bool = True) -> ManagedKey:
        session = self.session("Cara", "Carl")
        key = self.s.keys.generate(session, template).keys[0]
        self.end(session)
        if active:
            session = self.session("Cara", "Sam")
            key = self.s.keys.change_state(session, key.label, Action.ACTIVATE_KEY)
            self.end(session)
        return key

    def clear(self, key: ManagedKey) -> bytes:
        assert key.wrapped is not None
        return bytes(self.hsm.export_clear_key(key.algorithm, key.wrapped))

    def add_targets(self, count: int, *, kind: str = "agent", tag: str = "atm") -> list[str]:
        names = []
        session = self.session("Olivia", "Sam")
        for i in range(count):
            kek = self.key("seed-zmk")
            self.end(session)
            session = self.session("Olivia", "Sam")
            location = f"10.0.0.{i + 1}:7443" if kind == "agent" else f"/dev/token{i}"
            name = f"host-{i + 1:02d}"
            self.dist.add_target(
                session,
                name=name,
                kind=kind,
                location=location,
                kek=kek.label,
                token="host" if kind == "pkcs11" else "",
                tags=[tag],
            )
            self.fleet.targets[location] = MemoryTarget(name, self.clear(kek))
            names.append(name)
        self.end(session)
        return names

    def target(self, name: str) -> MemoryTarget:
        return next(t for t in self.fleet.targets.values() if t.name == name)

    def run(self, job_id: str, **kw: object) -> object:
        session = self.session("Alex")
        try:
            return self.dist.run(session, job_id, **kw)  # type: ignore[arg-type]
        finally:
            self.end(session)

    def audit(self, action: str) -> list[dict[str, object]]:
        with self.repo.unit_of_work(read_only=True) as uow:
            return [e.body for e in uow.audit.entries() if e.body["action"] == action]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Fleet]:
    w = Fleet(tmp_path)
    w.initialise()
    w.enrol_cast()
    yield w
    w.repo.close()


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n, 2.0, 30.0) for n in range(0, 7)] == [0, 2, 4, 8, 16, 30, 30]


def test_targets_are_registered_under_the_partner_quorum(world: Fleet) -> None:
    kek = world.key("seed-zmk")
    session = world.session("Cara")
    with pytest.raises(QuorumNotMet):
        world.dist.add_target(
            session, name="atm-1", kind="agent", location="10.1.1.1:7443", kek=kek.label
        )
    world.end(session)
    session = world.session("Olivia", "Sam")
    store = world.dist.add_target(
        session, name="atm-1", kind="agent", location="10.1.1.1:7443", kek=kek.label, tags=["ATM"]
    )
    assert store.tags == ("atm",) and store.kek_label == kek.label
    with pytest.raises(AlreadyExists):
        world.dist.add_target(
            session, name="ATM-1", kind="agent", location="10.1.1.2:7443", kek=kek.label
        )
    with pytest.raises(BadInput, match="port"):
        world.dist.add_target(
            session, name="atm-2", kind="agent", location="10.1.1.2:99999", kek=kek.label
        )
    with pytest.raises(BadInput, match="not 1 to 64"):
        world.dist.add_target(session, name="a b", kind="file", location="/x", kek=kek.label)
    with pytest.raises(BadInput, match="Unknown target kind"):
        world.dist.add_target(session, name="x", kind="ftp", location="/x", kek=kek.label)
    world.end(session)
    assert world.audit("key-store.add")[0]["object_label"] == "atm-1"


def test_a_target_kek_must_be_an_active_kek(world: Fleet) -> None:
    pek = world.key("seed-pek")
    tdes = world.key("seed-zmk-tdes")
    pre = world.key("seed-zmk", active=False)
    session = world.session("Olivia", "Sam")
    with pytest.raises(BadInput, match="not a key encryption key"):
        world.dist.add_target(session, name="a", kind="agent", location="h:1", kek=pek.label)
    with pytest.raises(PolicyRefused, match="only an active key"):
        world.dist.add_target(session, name="a", kind="agent", location="h:1", kek=pre.label)
    with pytest.raises(BadInput, match="must be an AES key"):
        world.dist.add_target(
            session, name="a", kind="pkcs11", location="/lib.so", token="t", kek=tdes.label
        )
    world.end(session)


def test_a_job_pushes_keys_to_every_target_once(world: Fleet) -> None:
    names = world.add_targets(3)
    pek = world.key("seed-pek")
    session = world.session("Cara")
    with pytest.raises(QuorumNotMet):
        world.dist.distribute(session, [pek.label], tags=["atm"])
    world.end(session)
    session = world.session(*EXPORTERS)
    job = world.dist.distribute(session, [pek.label], tags=["atm"], reason="new PEK")
    world.end(session)
    assert job.state is JobState.RUNNING and len(job.target_ids) == 3
    report = world.run(job.id)
    assert report.job.state is JobState.DONE  # type: ignore[attr-defined]
    assert report.installed == 3 and report.already_held == 0  # type: ignore[attr-defined]
    for name in names:
        held = world.target(name).held[(pek.id, pek.version)]
        assert held.kcv == pek.kcv
    events = world.audit("key.distribute")
    assert {e["details"]["target"] for e in events} == set(names)  # type: ignore[index]
    assert all(e["kcv"] == pek.kcv for e in events)
    # The targets' records say what they hold now.
    session = world.session("Alex")
    stores = world.dist.targets(session)
    world.end(session)
    assert all(s.reachable and s.holds(pek.id, pek.version) for s in stores)
    # Pushing the same key again installs nothing.
    session = world.session(*EXPORTERS)
    again = world.dist.distribute(session, [pek.label], targets=names)
    world.end(session)
    report = world.run(again.id)
    assert report.installed == 0 and report.already_held == 3  # type: ignore[attr-defined]
    assert sum(world.target(n).installs for n in names) == 3


def test_an_unreachable_target_is_retried_with_backoff_then_reported(world: Fleet) -> None:
    names = world.add_targets(3)
    pek = world.key("seed-pek")
    world.target(names[1]).up = False
    world.target(names[2]).fail_installs = 2  # drops twice, then works
    session = world.session(*EXPORTERS)
    job = world.dist.distribute(
        session, [pek.label], targets=names, max_attempts=4, backoff_seconds=5
    )
    world.end(session)
    start = world.clock.now()
    report = world.run(job.id)
    assert report.job.state is JobState.FAILED  # type: ignore[attr-defined]
    by_name = {d.target_name: d for d in report.deliveries}  # type: ignore[attr-defined]
    assert by_name[names[0]].state is DeliveryState.DONE and by_name[names[0]].attempts == 1
    assert by_name[names[2]].state is DeliveryState.DONE and by_name[names[2]].attempts == 3
    down = by_name[names[1]]
    assert down.state is DeliveryState.FAILED and down.attempts == 4
    assert "refused" in down.last_error
    # Waited 5 + 10 + 20 seconds between the four contacts.
    assert (world.clock.now() - start).total_seconds() >= 35
    failed = world.audit("distribution.target-failed")
    assert [f["object_label"] for f in failed] == [names[1]]
    # The operator retries it once it is back.
    world.target(names[1]).up = True
    session = world.session("Alex")
    world.dist.retry_failed(session, job.id[:10])
    world.end(session)
    report = world.run(job.id)
    assert report.job.state is JobState.DONE  # type: ignore[attr-defined]
    assert world.target(names[1]).installs == 1


def test_a_stopped_job_resumes_without_installing_twice(world: Fleet) -> None:
    names = world.add_targets(4)
    pek = world.key("seed-pek")
    mac = world.key("seed-mac")
    session = world.session(*EXPORTERS)
    job = world.dist.distribute(session, [pek.label, mac.label], tags=["atm"])
    world.end(session)
    world.dist.workers = 1  # one batch of 4 targets, all contacted at once
    recorded = iter(range(100))
    report = world.run(job.id, stop=lambda: next(recorded) >= 1)
    # Stopped after recording one target: the three others were given their keys but
    # that was not written down (as when the workstation is killed at that moment).
    assert report.job.state is JobState.RUNNING  # type: ignore[attr-defined]
    assert report.done == 1 and report.pending == 3  # type: ignore[attr-defined]
    assert [world.target(n).installs for n in names] == [2, 2, 2, 2]
    report = world.run(job.id)
    assert report.job.state is JobState.DONE  # type: ignore[attr-defined]
    assert [world.target(n).installs for n in names] == [2, 2, 2, 2]  # none twice
    assert report.installed == 2 and report.already_held == 6  # type: ignore[attr-defined]


def test_a_target_reporting_another_check_value_is_failed_not_retried(world: Fleet) -> None:
    names = world.add_targets(2)
    pek = world.key("seed-pek")
    world.target(names[0]).lie_about_kcv = True
    session = world.session(*EXPORTERS)
    job = world.dist.distribute(session, [pek.label], targets=names)
    world.end(session)
    report = world.run(job.id)
    bad = next(d for d in report.deliveries if d.target_name == names[0])  # type: ignore[attr-defined]
    assert bad.state is DeliveryState.FAILED and bad.attempts == 1
    assert "check value 000000" in bad.last_error


def test_a_key_compromised_after_the_job_was_made_is_not_delivered(world: Fleet) -> None:
    names = world.add_targets(1)
    pek = world.key("seed-pek")
    session = world.session(*EXPORTERS)
    job = world.dist.distribute(session, [pek.label], targets=names)
    world.end(session)
    session = world.session("Olivia", "Sam")
    world.s.keys.change_state(session, pek.label, Action.COMPROMISE_KEY, reason="test")
    world.end(session)
    report = world.run(job.id)
    assert report.failed == 1 and "compromised" in report.deliveries[0].last_error  # type: ignore[attr-defined]
    assert world.target(names[0]).installs == 0


def test_pkcs11_targets_get_an_rfc5649_wrap(world: Fleet) -> None:
    names = world.add_targets(1, kind="pkcs11")
    pek = world.key("seed-pek")
    session = world.session(*EXPORTERS)
    job = world.dist.distribute(session, [pek.label], targets=names)
    world.end(session)
    report = world.run(job.id)
    assert report.installed == 1  # type: ignore[attr-defined]
    assert world.target(names[0]).held[(pek.id, 1)].kcv == pek.kcv


def test_bulk_rotation_gathers_the_quorum_once_and_pushes_successors(world: Fleet) -> None:
    names = world.add_targets(3)
    peks = [world.key("seed-pek") for _ in range(3)]
    session = world.session(*EXPORTERS)
    first = world.dist.distribute(session, [k.label for k in peks], tags=["atm"])
    world.end(session)
    world.run(first.id)
    session = world.session(*EXPORTERS)
    session_people = {m.name for m in session.members}
    job = world.dist.rotate(session, template="seed-pek", reason="annual rotation")
    world.end(session)
    assert job.kind is JobKind.ROTATE and job.rotated
    assert set(job.created_by) == session_people
    # Every target held a predecessor, so every target is in the job.
    assert len(job.target_ids) == 3
    report = world.run(job.id)
    assert report.job.state is JobState.DONE and report.installed == 9  # type: ignore[attr-defined]
    for jk in job.keys:
        assert jk.successor_version == 2
        for n in names:
            assert (jk.successor_id, 2) in world.target(n).held
    rotations = world.audit("key.rotate")
    assert len(rotations) == 3 and all(r["details"]["job"] == job.id for r in rotations)  # type: ignore[index]
    # Nothing left to rotate.
    session = world.session(*EXPORTERS)
    with pytest.raises(NotFound, match="no key that can be rotated"):
        world.dist.rotate(session, template="seed-cvk")
    world.end(session)


def test_cancel_stops_pending_deliveries(world: Fleet) -> None:
    names = world.add_targets(2)
    pek = world.key("seed-pek")
    for n in names:
        world.target(n).up = False
    session = world.session(*EXPORTERS)
    job = world.dist.distribute(session, [pek.label], targets=names)
    world.end(session)
    world.run(job.id, stop=lambda: True)
    # A target of an unfinished job is not removed.
    session = world.session("Olivia", "Sam")
    with pytest.raises(PolicyRefused, match="unfinished job"):
        world.dist.remove_target(session, names[0])
    world.end(session)
    session = world.session("Alex")
    cancelled = world.dist.cancel(session, job.id)
    report = world.dist.report(session, job.id)
    world.end(session)
    assert cancelled.state is JobState.CANCELLED
    assert all(d.state is DeliveryState.CANCELLED for d in report.deliveries)
    session = world.session("Olivia", "Sam")
    world.dist.remove_target(session, names[0])
    world.end(session)
    assert world.audit("key-store.remove")[0]["object_label"] == names[0]


def test_without_a_connector_the_job_says_what_to_configure(world: Fleet) -> None:
    world.s.ctx.key_stores = None
    session = world.session("Alex")
    with pytest.raises(BadInput, match=r"\[distribution\]"):
        world.dist.check_targets(session)
    world.end(session)


def test_check_targets_records_reachability(world: Fleet) -> None:
    names = world.add_targets(2)
    world.target(names[1]).up = False
    session = world.session("Alex")
    stores = {s.name: s for s in world.dist.check_targets(session)}
    world.end(session)
    assert stores[names[0]].reachable is True
    assert stores[names[1]].reachable is False and "refused" in stores[names[1]].detail


def test_a_key_pair_goes_to_file_drops_only(world: Fleet) -> None:
    names = world.add_targets(1)
    pair = world.key("seed-tls-server")
    session = world.session(*EXPORTERS)
    with pytest.raises(BadInput, match="goes only to file drops"):
        world.dist.distribute(session, [pair.label], targets=names)
    world.end(session)
