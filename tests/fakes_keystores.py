"""Key stores in memory for fast tests: the KeyStoreConnector port over targets that hold
their KEK in clear and really unwrap what they receive (TR-31 blocks with the standards
module, RFC 5649 wraps with cryptography), so a test sees the key value a real target would.

``MemoryFleet.targets`` maps a target's location to its ``MemoryTarget``; set ``up`` to
False to make it unreachable, ``fail_installs`` to drop the next installs, ``lie_about_kcv``
to make it report a wrong check value. The real path (key agents over mutual TLS, SoftHSM2
tokens) is tested in tests/integration/test_distribution.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding

from workstation.domain import components as comp
from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.distribution import HeldKey
from workstation.errors import TargetError
from workstation.services.ports import InstallReceipt, KeyDelivery, TargetAddress, TargetState
from workstation.standards import tr31


@dataclass
class MemoryTarget:
    """A key store in memory: holds its KEK in clear and checks what it unwraps."""

    name: str
    kek: bytes
    up: bool = True
    held: dict[tuple[str, int], HeldKey] = field(default_factory=dict)
    installs: int = 0
    lie_about_kcv: bool = False
    fail_installs: int = 0  # the next N installs fail as if the link dropped

    def status(self) -> TargetState:
        if not self.up:
            raise TargetError(f"Key store {self.name}: connection refused.")
        return TargetState(True, tuple(self.held.values()), f"memory target {self.name}")

    def install(self, d: KeyDelivery) -> InstallReceipt:
        if not self.up:
            raise TargetError(f"Key store {self.name}: connection refused.")
        if self.fail_installs:
            self.fail_installs -= 1
            raise TargetError(f"Key store {self.name}: connection reset.")
        if (d.key_id, d.version) in self.held:
            return InstallReceipt(False, self.held[(d.key_id, d.version)].kcv)
        if d.key_block:
            _, value = tr31.unwrap(self.kek, d.key_block)
        else:
            value = aes_key_unwrap_with_padding(self.kek, d.wrapped)
        kcv = comp.kcv_hex(comp.check_value(KeyAlgorithm(d.algorithm), value))
        if self.lie_about_kcv:
            kcv = "000000"
        self.installs += 1
        self.held[(d.key_id, d.version)] = HeldKey(d.key_id, d.label, d.version, kcv)
        return InstallReceipt(True, kcv)


class _Connection:
    def __init__(self, target: MemoryTarget) -> None:
        self.target = target

    def status(self) -> TargetState:
        return self.target.status()

    def install(self, delivery: KeyDelivery) -> InstallReceipt:
        return self.target.install(delivery)

    def close(self) -> None:
        pass


class MemoryFleet:
    """The KeyStoreConnector port over MemoryTargets, by location."""

    def __init__(self) -> None:
        self.targets: dict[str, MemoryTarget] = {}
        self.connects = 0

    def connect(self, address: TargetAddress, *, timeout: float = 10.0) -> _Connection:
        self.connects += 1
        target = self.targets.get(address.location)
        if target is None or not target.up:
            raise TargetError(f"Key store {address.name} ({address.location}): refused.")
        return _Connection(target)
