"""Key ceremonies on paper: their scripts, transcripts, envelopes and who held what.

A ceremony follows a script (steps, and the people each step needs). What happens is
written to a transcript (who, when, which step, check values, envelope serial numbers);
at the end every participant's card signs the transcript (a PIV signature with the card's
9A key over the canonical transcript bytes), so the record can be verified later against
the enrolled card certificates.

Split knowledge (ANSI X9.24-1:2017 section 7.2; PCI PIN Security Requirements 21-2.4 and
the glossary's "split knowledge"): no one has, now or ever, knowledge of more than one
component of a key. The register of holdings remembers every component a person printed,
received, entered or exported; ``split_knowledge_refusals`` applies the rule to it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from workstation.domain.records import canonical_bytes, format_time, parse_time
from workstation.errors import BadInput, InvalidTransition

__all__ = [
    "SCRIPTS",
    "Ceremony",
    "CeremonyKind",
    "CeremonyScript",
    "CeremonySignature",
    "ComponentHolding",
    "Envelope",
    "EnvelopeEvent",
    "EnvelopeState",
    "Participant",
    "ScriptStep",
    "TranscriptEntry",
    "key_identity",
    "split_knowledge_refusals",
]


class CeremonyKind(StrEnum):
    GENERATE_COMPONENTS = "generate-components"
    ENTER_COMPONENTS = "enter-components"
    EXPORT_COMPONENTS = "export-components"
    MASTER_KEY_BACKUP = "master-key-backup"
    MASTER_KEY_RECOVERY = "master-key-recovery"


@dataclass(frozen=True)
class ScriptStep:
    id: str
    title: str
    needs: str  # the people the step needs, in words
    instructions: str


@dataclass(frozen=True)
class CeremonyScript:
    kind: CeremonyKind
    title: str
    steps: tuple[ScriptStep, ...]

    def step(self, step_id: str) -> ScriptStep:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)


_OPEN = ScriptStep(
    "open",
    "Open the ceremony",
    "the security officer and every custodian named for it",
    "Everyone inserts their card and types their PIN. The officer checks each person's "
    "identity against their badge and reads the script aloud.",
)
_SIGN = ScriptStep(
    "sign",
    "Sign the transcript",
    "every participant still logged on",
    "Each card signs the transcript. The officer prints the ceremony record; every "
    "participant signs it by hand and it is filed with the envelope register.",
)

SCRIPTS: dict[CeremonyKind, CeremonyScript] = {
    CeremonyKind.GENERATE_COMPONENTS: CeremonyScript(
        CeremonyKind.GENERATE_COMPONENTS,
        "Generate a key as printed components",
        (
            _OPEN,
            ScriptStep(
                "generate",
                "Generate the components",
                "the printing quorum",
                "The HSM's random generator gives one full-length component per custodian; "
                "the key is their XOR and goes into the HSM at once.",
            ),
            ScriptStep(
                "print",
                "Print the mailers",
                "each custodian whose component is printed",
                "One mailer per custodian. Each custodian takes their own mailer from the "
                "printer, folds it without reading the inner part and seals it.",
            ),
            ScriptStep(
                "store",
                "Store the key",
                "the printing quorum",
                "The key is stored wrapped under the master key, pre-active. Its check "
                "value appears on this record only.",
            ),
            _SIGN,
        ),
    ),
    CeremonyKind.ENTER_COMPONENTS: CeremonyScript(
        CeremonyKind.ENTER_COMPONENTS,
        "Enter a key from components",
        (
            _OPEN,
            ScriptStep(
                "enter",
                "Enter the components",
                "each custodian, in turn, for their own component",
                "Each custodian opens their envelope alone and types their component; the "
                "workstation shows its check value to compare with the mailer.",
            ),
            ScriptStep(
                "confirm",
                "Confirm the key's check value",
                "the entry quorum",
                "The combined key's check value is compared with the one the sender gave. "
                "On a mismatch nothing is stored.",
            ),
            ScriptStep(
                "store",
                "Store the key",
                "the entry quorum",
                "The key is stored wrapped under the master key, pre-active.",
            ),
            _SIGN,
        ),
    ),
    CeremonyKind.EXPORT_COMPONENTS: CeremonyScript(
        CeremonyKind.EXPORT_COMPONENTS,
        "Export a key as printed components",
        (
            _OPEN,
            ScriptStep(
                "split",
                "Split the key",
                "the export quorum",
                "The key leaves the HSM only to be split into fresh random components.",
            ),
            ScriptStep(
                "print",
                "Print the mailers",
                "each custodian whose component is printed",
                "One mailer per custodian, sealed at once.",
            ),
            _SIGN,
        ),
    ),
    CeremonyKind.MASTER_KEY_BACKUP: CeremonyScript(
        CeremonyKind.MASTER_KEY_BACKUP,
        "Back up the workstation master key",
        (
            _OPEN,
            ScriptStep(
                "wrap",
                "Wrap the workstation keys",
                "the backup quorum",
                "The HSM wraps the master, binding and audit keys under a new one-time "
                "transport key; the wrapped keys are kept in the repository.",
            ),
            ScriptStep(
                "print",
                "Print the shares",
                "each share holder",
                "The transport key is split into shares, one mailer per holder.",
            ),
            _SIGN,
        ),
    ),
    CeremonyKind.MASTER_KEY_RECOVERY: CeremonyScript(
        CeremonyKind.MASTER_KEY_RECOVERY,
        "Recover the workstation from master key shares",
        (
            ScriptStep(
                "restore",
                "Restore the repository backup",
                "the security officer",
                "The repository backup is copied onto the new workstation.",
            ),
            ScriptStep(
                "shares",
                "Enter the shares",
                "as many share holders as the backup needs",
                "Each holder proves who they are with their card and types their share.",
            ),
            ScriptStep(
                "verify",
                "Verify every key",
                "the share holders",
                "Every record's seal, the audit chain and every key's check value are "
                "verified with the recovered keys.",
            ),
        ),
    ),
}


# --- transcript ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TranscriptEntry:
    at: datetime
    step: str
    people: tuple[str, ...]
    text: str
    data: dict[str, str] = field(default_factory=dict)  # kcv, serials, counts

    def to_record(self) -> dict[str, Any]:
        return {
            "at": format_time(self.at),
            "step": self.step,
            "people": list(self.people),
            "text": self.text,
            "data": dict(sorted(self.data.items())),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> TranscriptEntry:
        at = parse_time(rec["at"])
        assert at is not None
        return cls(
            at=at,
            step=rec["step"],
            people=tuple(rec["people"]),
            text=rec["text"],
            data={str(k): str(v) for k, v in rec["data"].items()},
        )


@dataclass(frozen=True)
class Participant:
    person_id: str
    name: str
    part: str  # what they did: "security officer", "custodian of component 2", ...
    card_id: str  # the card they logged on with (full SHA-256 of its certificate)

    def to_record(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "name": self.name,
            "part": self.part,
            "card_id": self.card_id,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Participant:
        return cls(rec["person_id"], rec["name"], rec["part"], rec["card_id"])


@dataclass(frozen=True)
class CeremonySignature:
    person_id: str
    name: str
    card_id: str
    signature: bytes  # by the card's 9A key over Ceremony.transcript_bytes()

    def to_record(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "name": self.name,
            "card_id": self.card_id,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> CeremonySignature:
        return cls(rec["person_id"], rec["name"], rec["card_id"], bytes.fromhex(rec["signature"]))


@dataclass(frozen=True)
class Ceremony:
    id: str
    kind: CeremonyKind
    workstation_id: str
    started_at: datetime
    completed_at: datetime
    participants: tuple[Participant, ...]
    transcript: tuple[TranscriptEntry, ...]
    key_id: str | None = None
    key_label: str | None = None
    algorithm: str | None = None
    key_kcv: str | None = None
    envelopes: tuple[str, ...] = ()
    signatures: tuple[CeremonySignature, ...] = ()

    @property
    def script(self) -> CeremonyScript:
        return SCRIPTS[self.kind]

    @property
    def title(self) -> str:
        return self.script.title

    def transcript_record(self) -> dict[str, Any]:
        """Everything the participants sign: the whole record but the signatures."""
        return {
            "type": "ceremony-transcript",
            "version": 1,
            "id": self.id,
            "kind": self.kind.value,
            "workstation_id": self.workstation_id,
            "started_at": format_time(self.started_at),
            "completed_at": format_time(self.completed_at),
            "key_id": self.key_id,
            "key_label": self.key_label,
            "algorithm": self.algorithm,
            "key_kcv": self.key_kcv,
            "envelopes": list(self.envelopes),
            "participants": [p.to_record() for p in self.participants],
            "transcript": [e.to_record() for e in self.transcript],
        }

    def transcript_bytes(self) -> bytes:
        return canonical_bytes(self.transcript_record())

    @property
    def transcript_hash(self) -> str:
        return hashlib.sha256(self.transcript_bytes()).hexdigest()

    def to_record(self) -> dict[str, Any]:
        return {
            **self.transcript_record(),
            "signatures": [s.to_record() for s in self.signatures],
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Ceremony:
        started, completed = parse_time(rec["started_at"]), parse_time(rec["completed_at"])
        assert started is not None and completed is not None
        return cls(
            id=rec["id"],
            kind=CeremonyKind(rec["kind"]),
            workstation_id=rec["workstation_id"],
            started_at=started,
            completed_at=completed,
            participants=tuple(Participant.from_record(p) for p in rec["participants"]),
            transcript=tuple(TranscriptEntry.from_record(e) for e in rec["transcript"]),
            key_id=rec["key_id"],
            key_label=rec["key_label"],
            algorithm=rec["algorithm"],
            key_kcv=rec["key_kcv"],
            envelopes=tuple(rec["envelopes"]),
            signatures=tuple(CeremonySignature.from_record(s) for s in rec["signatures"]),
        )

    def binding_bytes(self) -> bytes:
        return canonical_bytes({"type": "ceremony", **self.to_record()})


# --- envelopes ----------------------------------------------------------------------------


class EnvelopeState(StrEnum):
    PRINTED = "printed"
    SEALED = "sealed"
    HANDED_OVER = "handed over"
    RECEIVED = "received"
    OPENED = "opened"
    DESTROYED = "destroyed"

    @classmethod
    def parse(cls, text: str) -> EnvelopeState:
        norm = text.strip().lower().replace("_", " ").replace("-", " ")
        try:
            return cls(norm)
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise BadInput(f"Unknown envelope event {text!r}; use one of: {names}.") from None


# The life of a sealed envelope. Destruction (witnessed) is possible from any state but
# the last: an envelope from an aborted ceremony is destroyed unopened.
ENVELOPE_TRANSITIONS: dict[EnvelopeState, frozenset[EnvelopeState]] = {
    EnvelopeState.PRINTED: frozenset({EnvelopeState.SEALED, EnvelopeState.DESTROYED}),
    EnvelopeState.SEALED: frozenset({EnvelopeState.HANDED_OVER, EnvelopeState.DESTROYED}),
    EnvelopeState.HANDED_OVER: frozenset({EnvelopeState.RECEIVED, EnvelopeState.DESTROYED}),
    EnvelopeState.RECEIVED: frozenset({EnvelopeState.OPENED, EnvelopeState.DESTROYED}),
    EnvelopeState.OPENED: frozenset({EnvelopeState.DESTROYED}),
    EnvelopeState.DESTROYED: frozenset(),
}

# Events the envelope's own custodian must take part in (they hold it or receive it).
CUSTODIAN_EVENTS = frozenset(
    {EnvelopeState.HANDED_OVER, EnvelopeState.RECEIVED, EnvelopeState.OPENED}
)


@dataclass(frozen=True)
class EnvelopeEvent:
    state: EnvelopeState
    at: datetime
    people: tuple[str, ...]
    note: str = ""

    def to_record(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "at": format_time(self.at),
            "people": list(self.people),
            "note": self.note,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> EnvelopeEvent:
        at = parse_time(rec["at"])
        assert at is not None
        return cls(EnvelopeState(rec["state"]), at, tuple(rec["people"]), rec["note"])


@dataclass(frozen=True)
class Envelope:
    serial: str
    ceremony_id: str
    kind: str  # "component" or "share"
    key_id: str | None  # None for master key backup shares
    key_label: str
    index: int
    count: int
    custodian_id: str
    custodian_name: str
    secret_kcv: str  # the component's (or share's) own check value
    events: tuple[EnvelopeEvent, ...]
    bag_number: str | None = None

    @property
    def state(self) -> EnvelopeState:
        return self.events[-1].state

    @property
    def describe(self) -> str:
        return f"{self.kind} {self.index} of {self.count}"

    def moved(
        self,
        target: EnvelopeState,
        *,
        at: datetime,
        people: Sequence[str],
        note: str = "",
        bag_number: str | None = None,
    ) -> Envelope:
        """The envelope after ``target`` happened to it; refuses an impossible step."""
        current = self.state
        if target not in ENVELOPE_TRANSITIONS[current]:
            allowed = ", ".join(s.value for s in ENVELOPE_TRANSITIONS[current]) or "nothing"
            raise InvalidTransition(
                f"Envelope {self.serial} is {current.value}; it cannot be {target.value} "
                f"(next: {allowed})."
            )
        bag = self.bag_number
        if target is EnvelopeState.SEALED:
            if not bag_number or not bag_number.strip():
                raise BadInput(
                    f"Sealing envelope {self.serial} needs the tamper-evident bag's number."
                )
            bag = bag_number.strip()
        elif bag_number:
            raise BadInput("A bag number is given only when the envelope is sealed.")
        event = EnvelopeEvent(target, at, tuple(people), note.strip())
        return replace(self, events=(*self.events, event), bag_number=bag)

    def to_record(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "ceremony_id": self.ceremony_id,
            "kind": self.kind,
            "key_id": self.key_id,
            "key_label": self.key_label,
            "index": self.index,
            "count": self.count,
            "custodian_id": self.custodian_id,
            "custodian_name": self.custodian_name,
            "secret_kcv": self.secret_kcv,
            "events": [e.to_record() for e in self.events],
            "bag_number": self.bag_number,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Envelope:
        return cls(
            serial=rec["serial"],
            ceremony_id=rec["ceremony_id"],
            kind=rec["kind"],
            key_id=rec["key_id"],
            key_label=rec["key_label"],
            index=int(rec["index"]),
            count=int(rec["count"]),
            custodian_id=rec["custodian_id"],
            custodian_name=rec["custodian_name"],
            secret_kcv=rec["secret_kcv"],
            events=tuple(EnvelopeEvent.from_record(e) for e in rec["events"]),
            bag_number=rec["bag_number"],
        )

    def binding_bytes(self) -> bytes:
        return canonical_bytes({"type": "envelope", **self.to_record()})


# --- split knowledge ----------------------------------------------------------------------


def key_identity(algorithm: str, key_kcv: str) -> str:
    """The same key, whatever record it is stored under: its algorithm and check value.
    (A key re-entered from the same components gets a new record but the same identity.)"""
    return f"{algorithm}:{key_kcv.upper()}"


@dataclass(frozen=True)
class ComponentHolding:
    """One person's knowledge of one component (or backup share), remembered for good."""

    person_id: str
    person_name: str
    key_id: str  # the key's record id, or "backup:<set id>" for master key shares
    key_identity: str  # key_identity(algorithm, kcv); "backup:<set id>" for shares
    key_label: str
    index: int
    secret_kcv: str  # the component's own check value: tells one component from another
    ceremony_id: str
    how: str  # "printed", "entered", "exported", "backup share"
    at: datetime

    def to_record(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "person_name": self.person_name,
            "key_id": self.key_id,
            "key_identity": self.key_identity,
            "key_label": self.key_label,
            "index": self.index,
            "secret_kcv": self.secret_kcv,
            "ceremony_id": self.ceremony_id,
            "how": self.how,
            "at": format_time(self.at),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> ComponentHolding:
        at = parse_time(rec["at"])
        assert at is not None
        return cls(
            person_id=rec["person_id"],
            person_name=rec["person_name"],
            key_id=rec["key_id"],
            key_identity=rec["key_identity"],
            key_label=rec["key_label"],
            index=int(rec["index"]),
            secret_kcv=rec["secret_kcv"],
            ceremony_id=rec["ceremony_id"],
            how=rec["how"],
            at=at,
        )

    def binding_bytes(self) -> bytes:
        return canonical_bytes({"type": "holding", **self.to_record()})


@dataclass(frozen=True)
class Assignment:
    """Who is to learn which component in this ceremony."""

    person_id: str
    person_name: str
    index: int
    secret_kcv: str | None = None  # known for entry and printing; None before generation


def split_knowledge_refusals(
    assignments: Sequence[Assignment],
    *,
    key_ids: Iterable[str],
    history: Iterable[ComponentHolding],
) -> list[str]:
    """Why these assignments break split knowledge, in words (empty when they do not).

    - one person, one component per ceremony;
    - nobody who already knows a component of the same key (by record id or identity)
      learns a different one now. Re-entering the very same component (same check value)
      gives no new knowledge and is allowed.
    """
    refusals: list[str] = []
    seen: dict[str, Assignment] = {}
    for a in assignments:
        first = seen.get(a.person_id)
        if first is not None:
            refusals.append(
                f"{a.person_name} cannot hold both component {first.index} and component "
                f"{a.index} of one key (split knowledge)."
            )
        else:
            seen[a.person_id] = a
    ids = set(key_ids)
    prior: dict[str, list[ComponentHolding]] = {}
    for h in history:
        if h.key_id in ids or h.key_identity in ids:
            prior.setdefault(h.person_id, []).append(h)
    for person_id, a in seen.items():
        for h in prior.get(person_id, []):
            if a.secret_kcv is not None and h.secret_kcv == a.secret_kcv:
                continue
            refusals.append(
                f"{a.person_name} already knows component {h.index} of key {h.key_label} "
                f"({h.how} {h.at:%Y-%m-%d}); they may not learn another component of the "
                "same key (split knowledge, PCI PIN 21-2.4)."
            )
            break
    return refusals
