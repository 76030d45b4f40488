"""The real workstation stack for a benchmark: pcscd with virtual PIV cards, a fresh SoftHSM2
token, an SQLite repository, the services, and the staff (two officers, two custodians, a
supervisor) enrolled, so a benchmark measures a job behind its real quorum::

    with BenchStack(tmp) as stack:
        session = stack.log_on("Cara", "Carl", "Sam")
        ...
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from workstation.adapters.hsm_pkcs11 import Pkcs11Hsm
from workstation.adapters.repository_sqlite import SqliteRepository
from workstation.adapters.smartcard_pcsc import PcscCardReaders
from workstation.adapters.softhsm import provision_softhsm
from workstation.devtools.card_issuer import issue_card
from workstation.devtools.pcscd import ensure_pcscd, stop_pcscd
from workstation.devtools.virtual_piv import VirtualCard, VirtualCardSlot
from workstation.domain.people import Role
from workstation.services.app import WorkstationServices
from workstation.services.context import ServiceContext
from workstation.services.initialise import OfficerCard
from workstation.services.session import Session

PIN = "123456"
STAFF = {  # name: (reader index, role); the officers initialise the workstation
    "Olivia": (0, Role.SECURITY_OFFICER),
    "Oscar": (1, Role.SECURITY_OFFICER),
    "Cara": (2, Role.KEY_CUSTODIAN),
    "Carl": (3, Role.KEY_CUSTODIAN),
    "Sam": (4, Role.SUPERVISOR),
}


def pin() -> bytearray:
    return bytearray(PIN.encode())


class BenchStack:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ports = ensure_pcscd(tmp / "pcscd")
        self.readers = list(self.ports)
        token = provision_softhsm(tmp / "hsm", "kcw-bench")
        self.hsm = Pkcs11Hsm(
            token.module_path, token.label, token.read_user_pin(), environment=token.environment
        )
        self.services = WorkstationServices(
            ServiceContext(
                repository=SqliteRepository(tmp / "ws.db"),
                hsm=self.hsm,
                readers=PcscCardReaders(reader_filter="KCW Virtual"),
            )
        )
        self.slots: dict[int, VirtualCardSlot] = {}
        self.cards: dict[str, VirtualCard] = {}
        try:
            self._staff()
        except BaseException:
            self.close()
            raise

    def _insert(self, name: str) -> str:
        index = STAFF[name][0]
        if index not in self.slots:
            self.cards[name] = issue_card(self.tmp / "cards" / f"{name}.json", name, PIN)
            self.slots[index] = VirtualCardSlot(self.cards[name])
            self.slots[index].insert(self.ports[self.readers[index]])
        return self.readers[index]

    def _staff(self) -> None:
        officers = [OfficerCard(self._insert(n), n, pin()) for n in ("Olivia", "Oscar")]
        self.services.init.initialise(officers)
        session = self.log_on("Olivia", "Oscar")
        for name, (_, role) in STAFF.items():
            if role is not Role.SECURITY_OFFICER:
                reader = self._insert(name)
                self.services.people.enrol(
                    session, name=name, roles=[role], reader=reader, pin=pin()
                )
        session.close()

    def log_on(self, *names: str) -> Session:
        session = self.services.logon.open_session()
        for name in names:
            self.services.logon.log_on(session, self._insert(name), pin())
        return session

    def close(self) -> None:
        for slot in self.slots.values():
            slot.remove()
        self.services.close()
        stop_pcscd(self.tmp / "pcscd")  # only if this run started it

    def __enter__(self) -> BenchStack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
