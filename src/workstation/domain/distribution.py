"""Distribution: the key stores keys are pushed to, and the jobs that push them.

A **key store** (a target) is where keys are used: a key agent beside an application
(``workstation-agent``, mutual TLS), a PKCS#11 token such as a host HSM, or a folder that
another system collects TR-31 blocks from. Each target has its own key encryption key
(KEK), a managed key of the workstation that the target holds under a label of its own:
every key goes to it wrapped under that KEK, never in clear.

A **distribution job** pushes one or more keys (or the successors of a bulk rotation) to
many targets. It is written down before anything is sent, with one **delivery** record per
target; each delivery is updated in its own transaction as its target answers. That is what
makes a job resumable after the workstation stops (even ``kill -9``): on restart the job's
pending deliveries carry on, and a target is asked which key versions it already holds
before anything is sent to it, so no target receives a key version twice.

All three are sealed documents (``domain/documents.py``). A job's lookup ``subject`` is its
state, so the unfinished ones are one query; a delivery's is its job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from workstation.domain.documents import document_binding
from workstation.domain.records import format_time, parse_time
from workstation.errors import BadInput

__all__ = [
    "DEFAULT_BACKOFF_SECONDS",
    "DEFAULT_MAX_ATTEMPTS",
    "MAX_BACKOFF_SECONDS",
    "Delivery",
    "DeliveryState",
    "DistributionJob",
    "HeldKey",
    "JobKey",
    "JobKind",
    "JobState",
    "KeyOutcome",
    "KeyStore",
    "TargetKind",
    "backoff",
    "check_tag",
    "check_target_name",
]

DEFAULT_MAX_ATTEMPTS = 5  # contacts per target before it is reported failed
DEFAULT_BACKOFF_SECONDS = 2.0  # the wait after the first failed contact; doubled each time
MAX_BACKOFF_SECONDS = 300.0  # never wait longer than this between two contacts

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_target_name(text: str) -> str:
    name = text.strip()
    if not _NAME.match(name):
        raise BadInput(
            f"Target name {text!r} is not 1 to 64 letters, digits, dots, hyphens or "
            "underscores starting with a letter or digit."
        )
    return name


def check_tag(text: str) -> str:
    tag = text.strip().lower()
    if not _NAME.match(tag):
        raise BadInput(
            f"Tag {text!r} is not 1 to 64 letters, digits, dots, hyphens or underscores."
        )
    return tag


def backoff(attempts: int, base: float, cap: float = MAX_BACKOFF_SECONDS) -> float:
    """Seconds to wait after the ``attempts``-th failed contact: base, 2 base, 4 base...
    (exponential backoff), never more than ``cap``."""
    if attempts < 1:
        return 0.0
    return float(min(cap, base * (2 ** min(attempts - 1, 30))))


class TargetKind(StrEnum):
    AGENT = "agent"  # workstation-agent, mutual TLS: location is host:port
    PKCS11 = "pkcs11"  # a PKCS#11 token: location is the module path
    FILE = "file"  # a folder of TR-31 blocks: location is the folder

    @property
    def display(self) -> str:
        return {"agent": "key agent", "pkcs11": "PKCS#11 token", "file": "file drop"}[self.value]

    @classmethod
    def parse(cls, text: str) -> TargetKind:
        try:
            return cls(text.strip().lower())
        except ValueError:
            kinds = ", ".join(k.value for k in cls)
            raise BadInput(f"Unknown target kind {text!r}; use one of: {kinds}.") from None


@dataclass(frozen=True)
class HeldKey:
    """A key a target holds, as the target reports it."""

    key_id: str  # the workstation's key id the key was delivered as
    label: str
    version: int  # the key's version (1 for a first key, +1 for each rotation)
    kcv: str  # upper-case hex, computed by the target itself

    def to_record(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "label": self.label,
            "version": self.version,
            "kcv": self.kcv,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> HeldKey:
        return cls(str(rec["key_id"]), str(rec["label"]), int(rec["version"]), str(rec["kcv"]))


@dataclass(frozen=True)
class KeyStore:
    """A target: where it is, which KEK protects what it receives, and what it held when
    last asked."""

    KIND: ClassVar[str] = "key-store"

    id: str
    name: str
    kind: TargetKind
    location: str
    kek_id: str  # the managed key (KEK) shared with the target
    kek_label: str  # that KEK's label on the target
    added_at: datetime
    added_by: tuple[str, ...]
    token: str = ""  # PKCS#11: the token label
    pin_file: str = ""  # PKCS#11: a file holding the token's user PIN (never in the record)
    tags: tuple[str, ...] = ()
    checked_at: datetime | None = None  # when it last answered or failed to
    reachable: bool | None = None
    held: tuple[HeldKey, ...] = ()
    detail: str = ""  # what it said, or why it could not be reached

    @property
    def subject(self) -> str:
        return self.name.lower()

    @property
    def due(self) -> datetime | None:
        return None

    def holds(self, key_id: str, version: int) -> HeldKey | None:
        return next((h for h in self.held if h.key_id == key_id and h.version == version), None)

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind.value,
            "location": self.location,
            "kek_id": self.kek_id,
            "kek_label": self.kek_label,
            "added_at": format_time(self.added_at),
            "added_by": list(self.added_by),
            "token": self.token,
            "pin_file": self.pin_file,
            "tags": list(self.tags),
            "checked_at": format_time(self.checked_at),
            "reachable": self.reachable,
            "held": [h.to_record() for h in self.held],
            "detail": self.detail,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> KeyStore:
        added_at = parse_time(rec["added_at"])
        assert added_at is not None
        reachable = rec.get("reachable")
        return cls(
            id=str(rec["id"]),
            name=str(rec["name"]),
            kind=TargetKind(rec["kind"]),
            location=str(rec["location"]),
            kek_id=str(rec["kek_id"]),
            kek_label=str(rec["kek_label"]),
            added_at=added_at,
            added_by=tuple(str(p) for p in rec.get("added_by", [])),
            token=str(rec.get("token", "")),
            pin_file=str(rec.get("pin_file", "")),
            tags=tuple(str(t) for t in rec.get("tags", [])),
            checked_at=parse_time(rec.get("checked_at")),
            reachable=None if reachable is None else bool(reachable),
            held=tuple(HeldKey.from_record(h) for h in rec.get("held", [])),
            detail=str(rec.get("detail", "")),
        )

    def binding_bytes(self) -> bytes:
        return document_binding(self)


class JobKind(StrEnum):
    DISTRIBUTE = "distribute"  # push existing keys
    ROTATE = "rotate"  # rotate keys, then push their successors


class JobState(StrEnum):
    RUNNING = "running"  # not finished: a restart carries it on
    DONE = "done"  # every target holds every key
    FAILED = "failed"  # finished; some targets could not be given their keys
    CANCELLED = "cancelled"  # stopped by a person; pending deliveries were not made

    @property
    def finished(self) -> bool:
        return self is not JobState.RUNNING


@dataclass(frozen=True)
class JobKey:
    """A key of a job. In a rotation, ``key_id`` is the key to rotate and ``successor_id``
    the key made for it (what is delivered), once made."""

    key_id: str
    label: str
    version: int
    kcv: str
    successor_id: str | None = None
    successor_label: str | None = None
    successor_version: int | None = None
    successor_kcv: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "label": self.label,
            "version": self.version,
            "kcv": self.kcv,
            "successor_id": self.successor_id,
            "successor_label": self.successor_label,
            "successor_version": self.successor_version,
            "successor_kcv": self.successor_kcv,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> JobKey:
        sv = rec.get("successor_version")
        return cls(
            key_id=str(rec["key_id"]),
            label=str(rec["label"]),
            version=int(rec["version"]),
            kcv=str(rec["kcv"]),
            successor_id=rec.get("successor_id"),
            successor_label=rec.get("successor_label"),
            successor_version=None if sv is None else int(sv),
            successor_kcv=rec.get("successor_kcv"),
        )


@dataclass(frozen=True)
class DistributionJob:
    KIND: ClassVar[str] = "distribution-job"

    id: str
    kind: JobKind
    created_at: datetime
    created_by: tuple[str, ...]  # the people whose quorum authorised the job
    keys: tuple[JobKey, ...]
    target_ids: tuple[str, ...]
    state: JobState = JobState.RUNNING
    reason: str = ""
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS
    authorised_seq: int = 0  # the audit entry of the job's authorisation
    finished_at: datetime | None = None

    @property
    def subject(self) -> str:
        return self.state.value

    @property
    def due(self) -> datetime | None:
        return None

    @property
    def rotated(self) -> bool:
        """Whether every key to deliver exists (always, for a plain distribution)."""
        return self.kind is JobKind.DISTRIBUTE or all(k.successor_id for k in self.keys)

    def deliverables(self) -> list[tuple[str, str, int, str]]:
        """(key id, label, version, kcv) of each key the targets receive."""
        if self.kind is JobKind.DISTRIBUTE:
            return [(k.key_id, k.label, k.version, k.kcv) for k in self.keys]
        return [
            (
                k.successor_id,
                k.successor_label or "",
                k.successor_version or 0,
                k.successor_kcv or "",
            )
            for k in self.keys
            if k.successor_id is not None
        ]

    def with_successor(
        self, key_id: str, sid: str, label: str, version: int, kcv: str
    ) -> DistributionJob:
        keys = tuple(
            replace(
                k,
                successor_id=sid,
                successor_label=label,
                successor_version=version,
                successor_kcv=kcv,
            )
            if k.key_id == key_id
            else k
            for k in self.keys
        )
        return replace(self, keys=keys)

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "created_at": format_time(self.created_at),
            "created_by": list(self.created_by),
            "keys": [k.to_record() for k in self.keys],
            "target_ids": list(self.target_ids),
            "state": self.state.value,
            "reason": self.reason,
            "max_attempts": self.max_attempts,
            "backoff_seconds": float(self.backoff_seconds),
            "authorised_seq": self.authorised_seq,
            "finished_at": format_time(self.finished_at),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> DistributionJob:
        created_at = parse_time(rec["created_at"])
        assert created_at is not None
        return cls(
            id=str(rec["id"]),
            kind=JobKind(rec["kind"]),
            created_at=created_at,
            created_by=tuple(str(p) for p in rec.get("created_by", [])),
            keys=tuple(JobKey.from_record(k) for k in rec["keys"]),
            target_ids=tuple(str(t) for t in rec["target_ids"]),
            state=JobState(rec["state"]),
            reason=str(rec.get("reason", "")),
            max_attempts=int(rec.get("max_attempts", DEFAULT_MAX_ATTEMPTS)),
            backoff_seconds=float(rec.get("backoff_seconds", DEFAULT_BACKOFF_SECONDS)),
            authorised_seq=int(rec.get("authorised_seq", 0)),
            finished_at=parse_time(rec.get("finished_at")),
        )

    def binding_bytes(self) -> bytes:
        return document_binding(self)


class DeliveryState(StrEnum):
    PENDING = "pending"  # not yet made (or to be tried again at next_attempt_at)
    DONE = "done"  # the target holds every key of the job
    FAILED = "failed"  # given up after max_attempts contacts, or refused by the target
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class KeyOutcome:
    """What a target said about one key: installed now, or already held."""

    key_id: str
    version: int
    kcv: str
    installed: bool  # False: it already held that version; nothing was sent

    def to_record(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "version": self.version,
            "kcv": self.kcv,
            "installed": self.installed,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> KeyOutcome:
        return cls(str(rec["key_id"]), int(rec["version"]), str(rec["kcv"]), bool(rec["installed"]))


@dataclass(frozen=True)
class Delivery:
    """One target's part of a job."""

    KIND: ClassVar[str] = "distribution-delivery"

    job_id: str
    target_id: str
    target_name: str
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str = ""
    outcomes: tuple[KeyOutcome, ...] = field(default=())
    finished_at: datetime | None = None

    @property
    def id(self) -> str:
        return f"{self.job_id}/{self.target_id}"

    @property
    def subject(self) -> str:
        return self.job_id

    @property
    def due(self) -> datetime | None:
        return None

    @property
    def installed(self) -> int:
        return sum(1 for o in self.outcomes if o.installed)

    @property
    def already_held(self) -> int:
        return sum(1 for o in self.outcomes if not o.installed)

    def ready(self, now: datetime) -> bool:
        return self.state is DeliveryState.PENDING and (
            self.next_attempt_at is None or self.next_attempt_at <= now
        )

    def failed_contact(self, now: datetime, error: str, max_attempts: int, base: float) -> Delivery:
        """After a contact that failed: wait and try again, or give up after
        ``max_attempts`` contacts."""
        attempts = self.attempts + 1
        if attempts >= max_attempts:
            return replace(
                self,
                attempts=attempts,
                state=DeliveryState.FAILED,
                last_error=error,
                next_attempt_at=None,
                finished_at=now,
            )
        wait = timedelta(seconds=backoff(attempts, base))
        return replace(self, attempts=attempts, last_error=error, next_attempt_at=now + wait)

    def to_record(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "target_id": self.target_id,
            "target_name": self.target_name,
            "state": self.state.value,
            "attempts": self.attempts,
            "next_attempt_at": format_time(self.next_attempt_at),
            "last_error": self.last_error,
            "outcomes": [o.to_record() for o in self.outcomes],
            "finished_at": format_time(self.finished_at),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Delivery:
        return cls(
            job_id=str(rec["job_id"]),
            target_id=str(rec["target_id"]),
            target_name=str(rec["target_name"]),
            state=DeliveryState(rec["state"]),
            attempts=int(rec.get("attempts", 0)),
            next_attempt_at=parse_time(rec.get("next_attempt_at")),
            last_error=str(rec.get("last_error", "")),
            outcomes=tuple(KeyOutcome.from_record(o) for o in rec.get("outcomes", [])),
            finished_at=parse_time(rec.get("finished_at")),
        )

    def binding_bytes(self) -> bytes:
        return document_binding(self)
