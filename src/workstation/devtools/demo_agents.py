"""The demo's key stores: three key agents (``workstation-agent serve`` processes) on
loopback, standing for the hosts of three branches.

On the first run, after the people are enrolled: two custodians generate a zone master key
(the KEK the branches share with the workstation), a custodian and a supervisor activate
it; the agents are made under ``home/agents`` with a certificate each from a demo CA, the
KEK loaded into each agent's token (here straight from the demo's HSM; at a bank the
custodians carry it as components to ``workstation-agent load-kek``); the workstation gets
its client certificate (``[distribution]`` in workstation.toml), and a security officer
and the supervisor register the three agents as key stores tagged "branch".

On every start the agents are started again (they keep their tokens and the keys they
hold); ``demo stop`` stops them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from workstation.config import WorkstationConfig, save_config
from workstation.devtools.agent_fleet import Fleet
from workstation.devtools.cast import CAST, DEMO_PIN, DemoPerson
from workstation.devtools.vcard_cli import DaemonClient
from workstation.domain.people import Role
from workstation.domain.policy import Action
from workstation.services.app import WorkstationServices
from workstation.services.session import Session

AGENTS = 3
KEK_LABEL = "BRANCH-KEK"
TAG = "branch"
KEK_TEMPLATE = "seed-zmk"  # Zone master key (KEK): 2 of group custodians A


def agents_dir(home: Path) -> Path:
    return home / "agents"


def _person(role: Role, n: int = 0) -> DemoPerson:
    return [p for p in CAST if role in p.roles][n]


def _pin() -> bytearray:
    return bytearray(DEMO_PIN.encode())


def provision_agents(
    home: Path,
    config: WorkstationConfig,
    services: WorkstationServices,
    cards: DaemonClient,
    card_file: Callable[[Path, DemoPerson], Path],
) -> Fleet:
    """Make and start the demo's agents, and register them (first run only)."""

    def log_on(*people: DemoPerson) -> Session:
        session = services.logon.open_session()
        for i, p in enumerate(people):
            reader = cards.insert(card_file(home, p), i)
            services.logon.log_on(session, reader, _pin())
        return session

    def end(session: Session, count: int) -> None:
        session.close()
        for i in range(count):
            cards.remove(i)

    custodians = (_person(Role.KEY_CUSTODIAN, 0), _person(Role.KEY_CUSTODIAN, 1))
    supervisor = _person(Role.SUPERVISOR)
    officer = _person(Role.SECURITY_OFFICER)
    session = log_on(*custodians)
    kek = services.keys.generate(session, KEK_TEMPLATE).keys[0]
    end(session, 2)
    session = log_on(custodians[0], supervisor)
    kek = services.keys.change_state(session, kek.label, Action.ACTIVATE_KEY)
    end(session, 2)
    assert kek.wrapped is not None
    value = services.ctx.hsm.export_clear_key(kek.algorithm, kek.wrapped)
    try:
        fleet = Fleet.start(
            agents_dir(home),
            AGENTS,
            kek=bytes(value),
            kek_label=KEK_LABEL,
            algorithm=kek.algorithm.value,
            processes=True,
            prefix="branch-host",
        )
    finally:
        value[:] = bytes(len(value))
    fleet.record_pids()
    config.distribution = fleet.client_files.distribution_config()
    save_config(config)
    session = log_on(officer, supervisor)
    try:
        for address in fleet.addresses():
            services.distribution.add_target(
                session,
                name=address.name,
                kind="agent",
                location=address.location,
                kek=kek.label,
                kek_label=KEK_LABEL,
                tags=[TAG],
            )
    finally:
        end(session, 2)
    return fleet


def start_agents(home: Path) -> int:
    """Start the demo's agents again (after a restart of the machine or ``demo stop``);
    returns how many run."""
    directory = agents_dir(home)
    if not directory.is_dir():
        return 0
    fleet = Fleet.reopen(directory)
    fleet.stop_recorded()  # a previous run's, if any are still up
    for name in fleet.agents:
        fleet.start_again(name)
    fleet.record_pids()
    return len(fleet.agents)


def stop_agents(home: Path) -> int:
    directory = agents_dir(home)
    if not directory.is_dir():
        return 0
    return Fleet.reopen(directory).stop_recorded()
