"""GUI tests drive the real services: a SoftHSM2 token, pcscd with the virtual readers and
virtual PIV cards, a SQLite file. No mocks of the core.

``gui_world`` (one per test module: initialising and enrolling takes a few seconds) is an
initialised workstation with the demo cast enrolled; ``app_state`` is a fresh ``AppState``
on it for each test, started (watching the readers) and stopped at teardown, with every
card removed.

The cast (PIN 123456 for everyone):

=========  =========================  ==================================
key        name                       roles
=========  =========================  ==================================
olivia     Olivia Grant               security officer
oscar      Oscar Lindqvist            security officer
cara       Cara Mendes                key custodian (group custodians A)
carl       Carl Novak                 key custodian (group custodians A)
chen       Chen Wei                   key custodian (group custodians A)
sam        Sam Okafor                 supervisor
alex       Alex Moreau                auditor
=========  =========================  ==================================
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings

from tests.fixtures.hsm import open_test_hsm
from tests.fixtures.pcsc import VirtualCards
from workstation.adapters.printing_reportlab import ReportlabRenderer
from workstation.adapters.repository_sqlite import SqliteRepository
from workstation.adapters.smartcard_pcsc import PcscCardReaders
from workstation.adapters.softhsm import provision_softhsm
from workstation.devtools.card_issuer import DemoCa
from workstation.domain.people import Role
from workstation.services.app import WorkstationServices
from workstation.services.context import ServiceContext
from workstation.services.initialise import OfficerCard

PIN = "123456"
CAST: dict[str, tuple[str, Role]] = {
    "olivia": ("Olivia Grant", Role.SECURITY_OFFICER),
    "oscar": ("Oscar Lindqvist", Role.SECURITY_OFFICER),
    "cara": ("Cara Mendes", Role.KEY_CUSTODIAN),
    "carl": ("Carl Novak", Role.KEY_CUSTODIAN),
    "chen": ("Chen Wei", Role.KEY_CUSTODIAN),
    "sam": ("Sam Okafor", Role.SUPERVISOR),
    "alex": ("Alex Moreau", Role.AUDITOR),
}

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]


def pin(text: str = PIN) -> bytearray:
    return bytearray(text.encode())


@dataclass
class GuiWorld:
    home: Path
    services: WorkstationServices
    cards: VirtualCards
    card: dict[str, Any] = field(default_factory=dict)  # key -> VirtualCard

    def insert(self, who: str, reader_index: int) -> str:
        """Insert ``who``'s card (a CAST key) into reader ``reader_index``; returns the
        reader name once pcscd sees it."""
        return self.cards.insert(self.card[who], reader_index)

    def remove(self, reader_index: int) -> None:
        self.cards.remove(reader_index)

    def name(self, who: str) -> str:
        return CAST[who][0]


@pytest.fixture(scope="module")
def gui_world(
    softhsm_directory: Path,
    pcsc_reader_ports: dict[str, int],
    demo_ca: DemoCa,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GuiWorld]:
    home = tmp_path_factory.mktemp("gui-home")
    token = provision_softhsm(
        softhsm_directory, f"kcw-gui-{uuid.uuid4().hex[:12]}", pin_directory=home / "pins"
    )
    hsm = open_test_hsm(token)
    repo = SqliteRepository(home / "workstation.db")
    services = WorkstationServices(
        ServiceContext(
            repository=repo,
            hsm=hsm,
            readers=PcscCardReaders(reader_filter="KCW Virtual Reader"),
            renderer=ReportlabRenderer(),
        )
    )
    cards = VirtualCards(pcsc_reader_ports, demo_ca, home / "cards")
    world = GuiWorld(home=home, services=services, cards=cards)
    for key, (name, _) in CAST.items():
        world.card[key] = cards.issue(name, PIN)
    try:
        r0, r1 = world.insert("olivia", 0), world.insert("oscar", 1)
        services.init.initialise(
            [OfficerCard(r0, CAST["olivia"][0], pin()), OfficerCard(r1, CAST["oscar"][0], pin())]
        )
        session = services.logon.open_session()
        services.logon.log_on(session, r0, pin())
        services.logon.log_on(session, r1, pin())
        for key, (name, role) in CAST.items():
            if role is Role.SECURITY_OFFICER:
                continue
            reader = world.insert(key, 5)
            services.people.enrol(session, name=name, roles=[role], reader=reader, pin=pin())
            world.remove(5)
        services.people.change_group(
            session, "custodians A", add=[CAST[k][0] for k in ("cara", "carl", "chen")]
        )
        session.close()
        cards.remove_all()
        yield world
    finally:
        cards.remove_all()
        services.close()


@pytest.fixture
def app_state(qtbot: Any, gui_world: GuiWorld, tmp_path: Path) -> Iterator[Any]:
    from workstation.gui.state import AppState

    settings = QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)
    state = AppState(gui_world.services, home=gui_world.home, demo=False, settings=settings)
    state.start()
    try:
        yield state
    finally:
        state.stop()
        gui_world.cards.remove_all()
