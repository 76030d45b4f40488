"""Audit events as the services write them, and entries as the chain stores them.

The chain itself (hashing, checkpoints, verification) lives in
``workstation.standalone.audit_verify`` so that an auditor can run the very same code
without the workstation; the repository calls it when it appends an entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from workstation.domain.records import format_time


@dataclass(frozen=True)
class AuditActor:
    person_id: str
    name: str
    card_id: str  # short form of the card's certificate hash


@dataclass(frozen=True)
class AuditEvent:
    """What happened. Never holds key material or PINs: KCVs, labels and ids only."""

    action: str  # e.g. "key.generate", "person.enrol", "policy.change", "logon.refused"
    object_type: str  # "key", "person", "card", "group", "template", "policy", "workstation"
    object_id: str
    object_label: str = ""
    before: str | None = None  # state (or short summary) before
    after: str | None = None
    kcv: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    requester: AuditActor | None = None
    members: tuple[AuditActor, ...] = ()
    at: datetime | None = None  # filled by the service from its clock

    def body(self, seq: int) -> dict[str, Any]:
        """The canonical dictionary that is hashed into the chain for entry ``seq``."""

        def actor(a: AuditActor) -> dict[str, str]:
            return {"person_id": a.person_id, "name": a.name, "card": a.card_id}

        return {
            "seq": seq,
            "at": format_time(self.at),
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "object_label": self.object_label,
            "before": self.before,
            "after": self.after,
            "kcv": self.kcv,
            "details": self.details,
            "requester": actor(self.requester) if self.requester else None,
            "members": [actor(m) for m in self.members],
        }


@dataclass(frozen=True)
class AuditEntry:
    """A stored entry: its canonical body, the hash of the previous entry and its own hash."""

    seq: int
    body: dict[str, Any]
    prev_hash: bytes
    hash: bytes

    @property
    def action(self) -> str:
        return str(self.body["action"])

    @property
    def at(self) -> str:
        return str(self.body["at"])


@dataclass(frozen=True)
class AuditCheckpoint:
    """A signature by the HSM audit key over (seq, hash) of the entry at ``seq``."""

    seq: int
    hash: bytes
    at: str
    signature: bytes  # ECDSA P-256 with SHA-256, DER
