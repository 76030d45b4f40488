"""Distribution on the real stack: SoftHSM2 (the workstation's token and every agent's),
pcscd with virtual PIV cards for the quorums, SQLite, and key agents listening with mutual
TLS on loopback (``devtools.agent_fleet``).

A rotation pushed to a fleet with agents stopped mid-job: the stopped ones are retried and
reported, then finish when they are back; no agent gets a key version twice; each agent's
token computes the key's check value itself. A PKCS#11 target on a second SoftHSM2 token
and a file drop get the same keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tests.integration.test_ceremonies import World
from workstation.adapters.hsm_pkcs11 import Pkcs11Hsm
from workstation.adapters.key_stores import KeyStores
from workstation.adapters.softhsm import softhsm_config
from workstation.devtools.agent_fleet import Fleet
from workstation.domain.distribution import DeliveryState, JobState
from workstation.domain.keys import ManagedKey
from workstation.domain.policy import Action
from workstation.services.distribution import JobReport
from workstation.standards import tr31

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

EXPORTERS = ("Cara", "Carl", "Sam")  # export (and rotation) quorum: 2 custodians + supervisor
ADMINS = ("Olivia", "Sam")  # key stores: manage_partners
AGENTS = 5


class Distribution(World):
    def kek_template(self) -> None:
        """An AES-256 KEK template without the seed's group quorum."""
        session = self.session(*ADMINS)
        self.s.templates.create(
            session,
            name="Fleet KEK",
            algorithm="AES-256",
            key_usage="K0",
            mode_of_use="B",
            label_pattern="FKEK-{seq:03d}",
            crypto_period_days=365,
            exportability="E",
        )
        self.end()

    def key(self, template: str, *, active: bool = True) -> ManagedKey:
        session = self.session("Cara", "Carl")
        key = self.s.keys.generate(session, template).keys[0]
        if active:
            session = self.session("Cara", "Sam")
            key = self.s.keys.change_state(session, key.label, Action.ACTIVATE_KEY)
        self.end()
        return key

    def clear(self, key: ManagedKey) -> bytes:
        assert key.wrapped is not None
        return bytes(self.s.ctx.hsm.export_clear_key(key.algorithm, key.wrapped))

    def run(self, job_id: str, **kw: Any) -> JobReport:
        session = self.session("Alex")
        try:
            return self.s.distribution.run(session, job_id, **kw)
        finally:
            self.end()

    def installs(self, fleet: Fleet, name: str) -> list[tuple[str, int]]:
        """(key id, version) of every key the agent's token holds, from its status."""
        target = self.s.ctx.key_stores.connect(fleet.address(name))  # type: ignore[union-attr]
        try:
            return sorted((h.key_id, h.version) for h in target.status().held)
        finally:
            target.close()


@pytest.fixture
def world(tmp_path: Path, hsm: Pkcs11Hsm, virtual_cards: Any) -> Iterator[Distribution]:
    w = Distribution(tmp_path, hsm, virtual_cards)
    w.initialise()
    w.kek_template()
    try:
        yield w
    finally:
        w.end()
        w.repo.close()


@pytest.fixture
def fleet(
    world: Distribution, tmp_path: Path, softhsm_directory: Path
) -> Iterator[tuple[Fleet, ManagedKey]]:
    """AGENTS agents sharing one KEK (a managed AES-256 K0 key), registered as key stores
    tagged "atm"."""
    kek = world.key("Fleet KEK")
    agents = Fleet.start(
        tmp_path / "fleet",
        AGENTS,
        kek=world.clear(kek),
        kek_label="ATM-KEK",
        softhsm_conf=softhsm_config(softhsm_directory),
    )
    try:
        world.s.ctx.key_stores = KeyStores(*agents.client_files)
        session = world.session(*ADMINS)
        for address in agents.addresses():
            world.s.distribution.add_target(
                session,
                name=address.name,
                kind="agent",
                location=address.location,
                kek=kek.label,
                kek_label="ATM-KEK",
                tags=["atm"],
            )
        world.end()
        yield agents, kek
    finally:
        agents.close()


def test_a_rotation_reaches_the_fleet_with_stopped_agents_retried_and_none_twice(
    world: Distribution, fleet: tuple[Fleet, ManagedKey]
) -> None:
    agents, _ = fleet
    names = list(agents.agents)
    peks = [world.key("seed-pek") for _ in range(2)]
    session = world.session(*EXPORTERS)
    first = world.s.distribution.distribute(session, [k.label for k in peks], tags=["atm"])
    world.end()
    report = world.run(first.id)
    assert report.job.state is JobState.DONE and report.installed == 2 * AGENTS
    for name in names:
        assert world.installs(agents, name) == sorted((k.id, 1) for k in peks)

    # The rotation: quorum once; two agents are down when it runs.
    session = world.session(*EXPORTERS)
    job = world.s.distribution.rotate(
        session, template="seed-pek", reason="annual", max_attempts=3, backoff_seconds=0.05
    )
    world.end()
    assert job.rotated and len(job.target_ids) == AGENTS
    down = names[1:3]
    for name in down:
        agents.stop(name)
    report = world.run(job.id)
    assert report.job.state is JobState.FAILED
    failed = {d.target_name: d for d in report.deliveries if d.state is DeliveryState.FAILED}
    assert set(failed) == set(down)
    assert all(d.attempts == 3 for d in failed.values())
    assert report.installed == 2 * (AGENTS - len(down))

    # Back up: retried, and the job ends with every agent holding both successors once.
    for name in down:
        agents.start_again(name)
    session = world.session("Alex")
    world.s.distribution.retry_failed(session, job.id)
    world.end()
    report = world.run(job.id)
    assert report.job.state is JobState.DONE
    successors = sorted((k.successor_id, 2) for k in job.keys if k.successor_id)
    for name in names:
        held = world.installs(agents, name)
        assert held == sorted([(k.id, 1) for k in peks] + successors)  # type: ignore[misc]
    # The target records show the versions each holds, with the agents' check values.
    session = world.session("Alex")
    stores = world.s.distribution.check_targets(session)
    world.end()
    for store in stores:
        assert store.reachable
        for jk in job.keys:
            held = store.holds(jk.successor_id or "", 2)
            assert held is not None and held.kcv == jk.successor_kcv
    with world.repo.unit_of_work(read_only=True) as uow:
        entries = [e.body for e in uow.audit.entries() if e.body["action"] == "key.distribute"]
    installed = [e for e in entries if e["details"]["result"] == "installed"]
    assert len(installed) == 4 * AGENTS  # 2 keys + 2 successors per agent, each once


def test_a_file_drop_receives_a_tr31_block_once(world: Distribution, tmp_path: Path) -> None:
    kek = world.key("Fleet KEK")
    pek = world.key("seed-pek")
    drop = tmp_path / "drop"
    drop.mkdir()
    world.s.ctx.key_stores = KeyStores(tmp_path / "no.pem", tmp_path / "no.key", tmp_path / "no")
    session = world.session(*ADMINS)
    world.s.distribution.add_target(
        session, name="switch-drop", kind="file", location=str(drop), kek=kek.label
    )
    world.end()
    for expected in (1, 0):  # the second job finds the file there: nothing rewritten
        session = world.session(*EXPORTERS)
        job = world.s.distribution.distribute(session, [pek.label], targets=["switch-drop"])
        world.end()
        report = world.run(job.id)
        assert report.job.state is JobState.DONE and report.installed == expected
    block = (drop / f"{pek.label}-v1.tr31").read_text().strip()
    _, value = tr31.unwrap(world.clear(kek), block)
    assert value == world.clear(pek)


def test_a_file_drop_receives_a_key_pair_as_pkcs8_in_tr31(
    world: Distribution, tmp_path: Path
) -> None:
    kek = world.key("Fleet KEK")
    pair = world.key("seed-tls-server")
    drop = tmp_path / "drop"
    drop.mkdir()
    world.s.ctx.key_stores = KeyStores(tmp_path / "no.pem", tmp_path / "no.key", tmp_path / "no")
    session = world.session(*ADMINS)
    world.s.distribution.add_target(
        session, name="hsm-drop", kind="file", location=str(drop), kek=kek.label
    )
    world.end()
    session = world.session(*EXPORTERS)
    job = world.s.distribution.distribute(session, [pair.label], targets=["hsm-drop"])
    world.end()
    report = world.run(job.id)
    assert report.job.state is JobState.DONE and report.installed == 1
    block = (drop / f"{pair.label}-v1.tr31").read_text().strip()
    header, value = tr31.unwrap(world.clear(kek), block)
    assert header.algorithm == "E"  # X9.143: an elliptic curve private key, as PKCS #8
    private = serialization.load_der_private_key(bytes(value), None)
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public == pair.public_key
