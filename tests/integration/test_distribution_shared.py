"""Two workstations on one PostgreSQL repository (a primary and its disaster-recovery twin,
the same HSM keys) working at once: both run the same distribution job to a fleet of key
agents at the same moment. Each delivery is recorded once, no agent installs a version
twice, the job ends once, and the audit log stays one chain that verifies."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_ceremonies import pin
from tests.integration.test_distribution import ADMINS, EXPORTERS, Distribution
from workstation.adapters.hsm_pkcs11 import Pkcs11Hsm
from workstation.adapters.key_stores import KeyStores
from workstation.adapters.repository_postgres import PostgresRepository
from workstation.adapters.softhsm import softhsm_config
from workstation.devtools.agent_fleet import Fleet
from workstation.domain.distribution import JobState
from workstation.services.distribution import JobReport

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

AGENTS = 12


@pytest.fixture
def shared(
    tmp_path: Path,
    hsm: Pkcs11Hsm,
    hsm_token: Any,
    virtual_cards: Any,
    pg_database: tuple[str, str],
) -> Iterator[tuple[Distribution, Any]]:
    """The primary on PostgreSQL, initialised; and the twin's services on the same
    database with its own connection and its own session on the same HSM token."""
    url, password = pg_database
    w = Distribution(tmp_path, hsm, virtual_cards)
    w.repo.close()
    w.repo = PostgresRepository(url, password=password)  # type: ignore[assignment]
    w.s = w.services(w.repo, hsm)  # type: ignore[arg-type]
    w.initialise()
    w.kek_template()
    twin_hsm = Pkcs11Hsm(
        hsm_token.module_path,
        hsm_token.label,
        hsm_token.read_user_pin(),
        environment=hsm_token.environment,
    )
    twin_repo = PostgresRepository(url, password=password)
    twin = w.services(twin_repo, twin_hsm)  # type: ignore[arg-type]
    try:
        yield w, twin
    finally:
        w.end()
        twin_repo.close()
        twin_hsm.close()
        w.repo.close()


def test_two_workstations_run_one_job_at_once(
    shared: tuple[Distribution, Any], tmp_path: Path, softhsm_directory: Path
) -> None:
    world, twin = shared
    kek = world.key("Fleet KEK")
    pek = world.key("seed-pek")
    fleet = Fleet.start(
        tmp_path / "fleet",
        AGENTS,
        kek=world.clear(kek),
        softhsm_conf=softhsm_config(softhsm_directory),
    )
    try:
        for services in (world.s, twin):
            services.ctx.key_stores = KeyStores(*fleet.client_files)
        session = world.session(*ADMINS)
        for a in fleet.addresses():
            world.s.distribution.add_target(
                session,
                name=a.name,
                kind="agent",
                location=a.location,
                kek=kek.label,
                kek_label=a.kek_label,
                tags=["atm"],
            )
        session = world.session(*EXPORTERS)
        job = world.s.distribution.distribute(session, [pek.label], tags=["atm"])
        world.end()

        # The auditor at the primary, a security officer at the twin: both start the job.
        primary_reader = world.cards.insert(world.people["Alex"], 0)
        twin_reader = world.cards.insert(world.people["Olivia"], 1)
        primary = world.s.logon.open_session()
        world.s.logon.log_on(primary, primary_reader, pin())
        other = twin.logon.open_session()
        twin.logon.log_on(other, twin_reader, pin())
        world.sessions += [primary, other]
        world.s.distribution.workers = 3
        twin.distribution.workers = 3
        reports: dict[str, JobReport] = {}
        errors: list[BaseException] = []
        start = threading.Barrier(2)

        def run(name: str, services: Any, session: Any) -> None:
            try:
                start.wait()
                reports[name] = services.distribution.run(session, job.id)
            except BaseException as exc:  # noqa: BLE001 - asserted below
                errors.append(exc)

        threads = [
            threading.Thread(target=run, args=("primary", world.s, primary)),
            threading.Thread(target=run, args=("twin", twin, other)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not errors, errors
        for report in reports.values():
            assert report.job.state is JobState.DONE
            assert report.done == AGENTS
        final = reports["primary"]
        assert final.installed + final.already_held == AGENTS
        connector = KeyStores(*fleet.client_files)
        for a in fleet.addresses():
            target = connector.connect(a)
            try:
                held = [(h.key_id, h.version) for h in target.status().held]
            finally:
                target.close()
            assert held == [(pek.id, 1)]  # one object on every agent, none twice
        with world.repo.unit_of_work(read_only=True) as uow:
            bodies = [e.body for e in uow.audit.entries()]
        delivered = [b for b in bodies if b["action"] == "key.distribute"]
        assert sorted(b["details"]["target"] for b in delivered) == sorted(fleet.agents)
        assert [b["action"] for b in bodies].count("distribution.finish") == 1
        session = world.session("Alex")
        report = world.s.audit.verify(session)
        world.end()
        assert report.ok, report
    finally:
        fleet.close()
