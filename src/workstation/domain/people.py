"""People, their roles and cards, and groups with an m-of-n threshold."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from workstation.domain.records import canonical_bytes, format_time, parse_time
from workstation.errors import BadInput


class Role(StrEnum):
    SECURITY_OFFICER = "security_officer"
    KEY_CUSTODIAN = "key_custodian"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"

    @property
    def display(self) -> str:
        return self.value.replace("_", " ")

    @classmethod
    def parse(cls, text: str) -> Role:
        norm = text.strip().lower().replace("-", "_").replace(" ", "_")
        aliases = {
            "so": "security_officer",
            "officer": "security_officer",
            "custodian": "key_custodian",
        }
        norm = aliases.get(norm, norm)
        try:
            return cls(norm)
        except ValueError:
            names = ", ".join(r.value for r in cls)
            raise BadInput(f"Unknown role {text!r}; use one of: {names}.") from None


class Status(StrEnum):
    """Status of a person or a card."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


def transition_status(current: Status, target: Status, what: str) -> Status:
    """Suspend, reinstate or revoke. A revocation is final."""
    if current is Status.REVOKED:
        raise BadInput(f"The {what} is revoked; a revocation cannot be undone.")
    if current is target:
        raise BadInput(f"The {what} is already {target.value}.")
    return target


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    roles: frozenset[Role]
    status: Status = Status.ACTIVE
    created_at: datetime | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "roles": sorted(r.value for r in self.roles),
            "status": self.status.value,
            "created_at": format_time(self.created_at),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Person:
        return cls(
            id=rec["id"],
            name=rec["name"],
            roles=frozenset(Role(r) for r in rec["roles"]),
            status=Status(rec["status"]),
            created_at=parse_time(rec["created_at"]),
        )

    def binding_bytes(self) -> bytes:
        return canonical_bytes({"type": "person", **self.to_record()})

    def with_status(self, status: Status) -> Person:
        return replace(self, status=status)

    def with_roles(self, roles: Iterable[Role]) -> Person:
        return replace(self, roles=frozenset(roles))

    def has(self, role: Role) -> bool:
        return role in self.roles

    @property
    def roles_text(self) -> str:
        return ", ".join(sorted(r.display for r in self.roles)) or "no role"


@dataclass(frozen=True)
class Card:
    """A PIV card enrolled for one person, identified by its PIV Authentication certificate."""

    id: str  # SHA-256 of the PIV Authentication certificate (slot 9A), lower-case hex
    person_id: str
    certificate: bytes  # DER
    subject: str
    serial_number: str  # certificate serial, hex
    not_after: datetime
    status: Status = Status.ACTIVE
    enrolled_at: datetime | None = None

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "person_id": self.person_id,
            "certificate": self.certificate.hex(),
            "subject": self.subject,
            "serial_number": self.serial_number,
            "not_after": format_time(self.not_after),
            "status": self.status.value,
            "enrolled_at": format_time(self.enrolled_at),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Card:
        not_after = parse_time(rec["not_after"])
        assert not_after is not None
        return cls(
            id=rec["id"],
            person_id=rec["person_id"],
            certificate=bytes.fromhex(rec["certificate"]),
            subject=rec["subject"],
            serial_number=rec["serial_number"],
            not_after=not_after,
            status=Status(rec["status"]),
            enrolled_at=parse_time(rec["enrolled_at"]),
        )

    def binding_bytes(self) -> bytes:
        return canonical_bytes({"type": "card", **self.to_record()})

    def with_status(self, status: Status) -> Card:
        return replace(self, status=status)


@dataclass(frozen=True)
class Group:
    """A named set of people of whom ``threshold`` must act together (m of n)."""

    id: str
    name: str
    threshold: int
    members: frozenset[str] = field(default_factory=frozenset)  # person ids

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise BadInput(f"Group {self.name!r}: the threshold must be at least 1.")
        if self.members and self.threshold > len(self.members):
            raise BadInput(
                f"Group {self.name!r}: a threshold of {self.threshold} needs at least "
                f"{self.threshold} members; it has {len(self.members)}."
            )

    @property
    def describe(self) -> str:
        return f"{self.name} ({self.threshold} of {len(self.members)})"

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "threshold": self.threshold,
            "members": sorted(self.members),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Group:
        return cls(
            id=rec["id"],
            name=rec["name"],
            threshold=int(rec["threshold"]),
            members=frozenset(rec["members"]),
        )

    def binding_bytes(self) -> bytes:
        return canonical_bytes({"type": "group", **self.to_record()})
