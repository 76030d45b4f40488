"""NIST SP 800-57 Part 1 key states: only valid transitions."""

from datetime import UTC, datetime

import pytest

from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.keys import (
    ACTION_TARGET,
    TRANSITIONS,
    KeyEvent,
    KeyState,
    ManagedKey,
    allowed_actions,
    check_transition,
)
from workstation.domain.policy import Action
from workstation.errors import BadInput, InvalidTransition

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_key(state: KeyState = KeyState.PRE_ACTIVATION) -> ManagedKey:
    return ManagedKey(
        id="k1",
        label="ZMK-0001",
        template_id="t",
        algorithm=KeyAlgorithm.AES_256,
        key_usage="K0",
        mode_of_use="B",
        exportability="E",
        kcv="0A00E3AB12",
        wrapped=b"\x01" * 40,
        public_key=None,
        state=state,
        version=1,
        created_at=T0,
        activation_date=T0,
        deactivation_date=T0.replace(year=2028),
    )


VALID = {(s, t) for s, targets in TRANSITIONS.items() for t in targets}


@pytest.mark.parametrize("source", list(KeyState))
@pytest.mark.parametrize("target", list(KeyState))
def test_transition_table(source, target):
    action = (
        next(a for a, t in ACTION_TARGET.items() if t is target)
        if target in (ACTION_TARGET.values())
        else None
    )
    if action is None:  # pre-activation is never a target
        assert (source, target) not in VALID
        return
    if target is KeyState.ACTIVE:
        action = Action.REINSTATE_KEY if source is KeyState.SUSPENDED else Action.ACTIVATE_KEY
    if (source, target) in VALID:
        check_transition("k", source, target, action)
    else:
        with pytest.raises(InvalidTransition):
            check_transition("k", source, target, action)


def test_destroyed_is_final_and_drops_material():
    key = make_key(KeyState.DEACTIVATED).transitioned(KeyState.DESTROYED, T0, Action.DESTROY_KEY)
    assert key.wrapped is None and key.destroyed_at == T0
    assert TRANSITIONS[KeyState.DESTROYED] == frozenset()
    with pytest.raises(InvalidTransition, match="destroyed"):
        key.transitioned(KeyState.ACTIVE, T0, Action.ACTIVATE_KEY)


def test_active_key_cannot_be_destroyed_directly():
    with pytest.raises(InvalidTransition, match="allowed from active"):
        make_key(KeyState.ACTIVE).transitioned(KeyState.DESTROYED, T0, Action.DESTROY_KEY)


def test_compromise_records_date():
    when = datetime(2025, 12, 1, tzinfo=UTC)
    key = make_key(KeyState.ACTIVE).transitioned(
        KeyState.COMPROMISED, T0, Action.COMPROMISE_KEY, compromise_date=when
    )
    assert key.compromise_date == when


def test_allowed_actions():
    assert Action.ACTIVATE_KEY in allowed_actions(KeyState.PRE_ACTIVATION)
    assert Action.REINSTATE_KEY not in allowed_actions(KeyState.ACTIVE)
    assert allowed_actions(KeyState.DESTROYED) == frozenset()


def test_record_round_trip_and_binding_covers_every_attribute():
    key = make_key()
    assert ManagedKey.from_record(key.to_record()) == key
    base = key.binding_bytes()
    for name, value in key.to_record().items():
        if name in ("id",):
            continue
        rec = key.to_record()
        rec[name] = "changed" if not isinstance(value, bool) else not value
        if isinstance(value, str) and value == "changed":
            continue
        try:
            other = ManagedKey.from_record(rec)
        except (ValueError, KeyError, TypeError):
            continue
        assert other.binding_bytes() != base, name


def test_state_parse():
    assert KeyState.parse("Pre-Activation") is KeyState.PRE_ACTIVATION
    with pytest.raises(BadInput, match="Unknown key state"):
        KeyState.parse("asleep")


def test_event_round_trip():
    e = KeyEvent(
        "k1",
        T0,
        Action.ACTIVATE_KEY,
        KeyState.PRE_ACTIVATION,
        KeyState.ACTIVE,
        ("Ann", "Bob"),
        "go live",
        7,
    )
    assert KeyEvent.from_record(e.to_record()) == e
