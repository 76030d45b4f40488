"""Managed keys and their lifecycle (NIST SP 800-57 Part 1 Rev. 5, section 7)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.policy import Action
from workstation.domain.records import canonical_bytes, format_time, parse_time
from workstation.errors import InvalidTransition


class KeyState(StrEnum):
    PRE_ACTIVATION = "pre-activation"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"
    COMPROMISED = "compromised"
    DESTROYED = "destroyed"

    @classmethod
    def parse(cls, text: str) -> KeyState:
        norm = text.strip().lower().replace("_", "-").replace(" ", "-")
        if norm == "preactivation":
            norm = "pre-activation"
        try:
            return cls(norm)
        except ValueError:
            from workstation.errors import BadInput

            names = ", ".join(s.value for s in cls)
            raise BadInput(f"Unknown key state {text!r}; use one of: {names}.") from None


# SP 800-57 Pt. 1 Rev. 5, figure 4 and section 7.1-7.6: the transitions a key may make.
# A destroyed key keeps its record (metadata) but never leaves that state.
TRANSITIONS: dict[KeyState, frozenset[KeyState]] = {
    KeyState.PRE_ACTIVATION: frozenset({KeyState.ACTIVE, KeyState.COMPROMISED, KeyState.DESTROYED}),
    KeyState.ACTIVE: frozenset({KeyState.SUSPENDED, KeyState.DEACTIVATED, KeyState.COMPROMISED}),
    KeyState.SUSPENDED: frozenset({KeyState.ACTIVE, KeyState.DEACTIVATED, KeyState.COMPROMISED}),
    KeyState.DEACTIVATED: frozenset({KeyState.COMPROMISED, KeyState.DESTROYED}),
    KeyState.COMPROMISED: frozenset({KeyState.DESTROYED}),
    KeyState.DESTROYED: frozenset(),
}

# Which action moves a key into which state (reinstate is suspended -> active).
ACTION_TARGET: dict[Action, KeyState] = {
    Action.ACTIVATE_KEY: KeyState.ACTIVE,
    Action.REINSTATE_KEY: KeyState.ACTIVE,
    Action.SUSPEND_KEY: KeyState.SUSPENDED,
    Action.DEACTIVATE_KEY: KeyState.DEACTIVATED,
    Action.COMPROMISE_KEY: KeyState.COMPROMISED,
    Action.DESTROY_KEY: KeyState.DESTROYED,
}


def check_transition(label: str, current: KeyState, target: KeyState, action: Action) -> None:
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none"
        raise InvalidTransition(
            f"Key {label} is {current.value}; it cannot become {target.value} "
            f"(allowed from {current.value}: {allowed})."
        )
    if action is Action.ACTIVATE_KEY and current is not KeyState.PRE_ACTIVATION:
        raise InvalidTransition(
            f"Key {label} is {current.value}; only a pre-activation key is activated."
        )
    if action is Action.REINSTATE_KEY and current is not KeyState.SUSPENDED:
        raise InvalidTransition(
            f"Key {label} is {current.value}; only a suspended key is reinstated."
        )


def allowed_actions(state: KeyState) -> frozenset[Action]:
    """Lifecycle actions possible from a state (before policy and template are considered)."""
    result = set()
    for action, target in ACTION_TARGET.items():
        try:
            check_transition("", state, target, action)
        except InvalidTransition:
            continue
        result.add(action)
    if state in (KeyState.ACTIVE, KeyState.PRE_ACTIVATION, KeyState.SUSPENDED):
        result.add(Action.ROTATE_KEY)
    if state is KeyState.ACTIVE:
        result.add(Action.EXPORT_KEY)
    return frozenset(result)


@dataclass(frozen=True)
class ManagedKey:
    """A key under management. Its secret part exists only wrapped under the master key."""

    id: str
    label: str
    template_id: str
    algorithm: KeyAlgorithm
    key_usage: str
    mode_of_use: str
    exportability: str
    kcv: str  # upper-case hex; for key pairs, from the public key (see services.keys)
    wrapped: bytes | None  # None once destroyed
    public_key: bytes | None  # SubjectPublicKeyInfo DER, key pairs only
    state: KeyState
    version: int  # 1 for the first key of a rotation chain, +1 per successor
    created_at: datetime
    activation_date: datetime
    deactivation_date: datetime  # end of the crypto-period
    predecessor_id: str | None = None
    successor_id: str | None = None
    state_changed_at: datetime | None = None
    compromise_date: datetime | None = None
    destroyed_at: datetime | None = None
    test_key: bool = False

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "template_id": self.template_id,
            "algorithm": self.algorithm.value,
            "key_usage": self.key_usage,
            "mode_of_use": self.mode_of_use,
            "exportability": self.exportability,
            "kcv": self.kcv,
            "wrapped": self.wrapped.hex() if self.wrapped is not None else None,
            "public_key": self.public_key.hex() if self.public_key is not None else None,
            "state": self.state.value,
            "version": self.version,
            "created_at": format_time(self.created_at),
            "activation_date": format_time(self.activation_date),
            "deactivation_date": format_time(self.deactivation_date),
            "predecessor_id": self.predecessor_id,
            "successor_id": self.successor_id,
            "state_changed_at": format_time(self.state_changed_at),
            "compromise_date": format_time(self.compromise_date),
            "destroyed_at": format_time(self.destroyed_at),
            "test_key": self.test_key,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> ManagedKey:
        def t(name: str) -> datetime:
            value = parse_time(rec[name])
            assert value is not None
            return value

        return cls(
            id=rec["id"],
            label=rec["label"],
            template_id=rec["template_id"],
            algorithm=KeyAlgorithm(rec["algorithm"]),
            key_usage=rec["key_usage"],
            mode_of_use=rec["mode_of_use"],
            exportability=rec["exportability"],
            kcv=rec["kcv"],
            wrapped=bytes.fromhex(rec["wrapped"]) if rec["wrapped"] is not None else None,
            public_key=bytes.fromhex(rec["public_key"]) if rec["public_key"] is not None else None,
            state=KeyState(rec["state"]),
            version=int(rec["version"]),
            created_at=t("created_at"),
            activation_date=t("activation_date"),
            deactivation_date=t("deactivation_date"),
            predecessor_id=rec["predecessor_id"],
            successor_id=rec["successor_id"],
            state_changed_at=parse_time(rec["state_changed_at"]),
            compromise_date=parse_time(rec["compromise_date"]),
            destroyed_at=parse_time(rec["destroyed_at"]),
            test_key=bool(rec["test_key"]),
        )

    def binding_bytes(self) -> bytes:
        """What the HSM MAC binds: every attribute together with the wrapped value."""
        return canonical_bytes({"type": "key", **self.to_record()})

    def transitioned(
        self,
        target: KeyState,
        when: datetime,
        action: Action,
        compromise_date: datetime | None = None,
    ) -> ManagedKey:
        check_transition(self.label, self.state, target, action)
        changes: dict[str, Any] = {"state": target, "state_changed_at": when}
        if target is KeyState.COMPROMISED:
            changes["compromise_date"] = compromise_date or when
        if target is KeyState.DESTROYED:
            changes["wrapped"] = None
            changes["destroyed_at"] = when
        return replace(self, **changes)


@dataclass(frozen=True)
class KeyEvent:
    """One step of a key's history: who, when, what, from which state to which."""

    key_id: str
    at: datetime
    action: Action
    from_state: KeyState | None
    to_state: KeyState
    people: tuple[str, ...]  # names of the session members
    reason: str = ""
    audit_seq: int | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "at": format_time(self.at),
            "action": self.action.value,
            "from_state": self.from_state.value if self.from_state else None,
            "to_state": self.to_state.value,
            "people": list(self.people),
            "reason": self.reason,
            "audit_seq": self.audit_seq,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> KeyEvent:
        at = parse_time(rec["at"])
        assert at is not None
        return cls(
            key_id=rec["key_id"],
            at=at,
            action=Action(rec["action"]),
            from_state=KeyState(rec["from_state"]) if rec["from_state"] else None,
            to_state=KeyState(rec["to_state"]),
            people=tuple(rec["people"]),
            reason=rec["reason"],
            audit_seq=rec.get("audit_seq"),
        )
