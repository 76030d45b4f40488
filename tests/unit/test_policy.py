"""Quorums: distinct people, roles and groups, the requester, and the policy set."""

import pytest

from workstation.domain.people import Group, Role
from workstation.domain.policy import (
    DEFAULT_QUORUMS,
    Action,
    Participant,
    PolicySet,
    Quorum,
    evaluate_quorum,
)
from workstation.errors import BadInput

SO, KC, SUP, AUD = Role.SECURITY_OFFICER, Role.KEY_CUSTODIAN, Role.SUPERVISOR, Role.AUDITOR


def person(pid: str, *roles: Role, groups: tuple[str, ...] = ()) -> Participant:
    return Participant(pid, pid.capitalize(), frozenset(roles), frozenset(groups))


GROUPS = {"custodians A": Group("g1", "custodians A", 2, frozenset({"c1", "c2", "c3"}))}


@pytest.mark.parametrize(
    ("text", "people", "met", "missing"),
    [
        ("1 security_officer + 1 supervisor", [person("a", SO), person("b", SUP)], True, ()),
        ("1 security_officer + 1 supervisor", [person("a", SO)], False, ("1 supervisor",)),
        # one person holding both roles still counts once
        ("1 security_officer + 1 supervisor", [person("a", SO, SUP)], False, ("1 supervisor",)),
        ("2 security_officer", [person("a", SO), person("a", SO)], False, ("1 security officer",)),
        (
            "2 of group custodians A",
            [
                person("c1", KC, groups=("custodians A",)),
                person("c2", KC, groups=("custodians A",)),
            ],
            True,
            (),
        ),
        (
            "2 of group custodians A",
            [person("c1", KC, groups=("custodians A",)), person("x", KC)],
            False,
            ("1 of group custodians A",),
        ),
        ("1 auditor|security_officer", [person("a", SO)], True, ()),
        # assignment must search: a is SO+SUP, b is SO only -> a must take supervisor
        ("1 security_officer + 1 supervisor", [person("a", SO, SUP), person("b", SO)], True, ()),
    ],
)
def test_quorum_evaluation(text, people, met, missing):
    result = evaluate_quorum(Quorum.parse(text), people, GROUPS)
    assert result.met is met
    assert result.missing == missing


def test_requester_fills_exactly_one_place_and_must_count():
    q = Quorum.parse("1 security_officer + 1 supervisor")
    a, b = person("a", SO, SUP), person("b", SUP)
    assert evaluate_quorum(q, [a, b], GROUPS, requester="a").met
    # an auditor may not request a destruction even if others could meet the quorum
    aud = person("z", AUD)
    result = evaluate_quorum(q, [aud, person("s", SO), b], GROUPS, requester="z")
    assert not result.met
    assert "may not request" in result.reason


def test_requester_not_in_session():
    q = Quorum.parse("1 supervisor")
    result = evaluate_quorum(q, [person("a", SUP)], GROUPS, requester="nobody")
    assert not result.met and "not logged on" in result.reason


def test_group_threshold_follows_the_group():
    q = Quorum.parse("1 of group custodians A")  # the count comes from the group: 2
    one = [person("c1", KC, groups=("custodians A",))]
    assert not evaluate_quorum(q, one, GROUPS).met


def test_unknown_group_is_bad_input():
    with pytest.raises(BadInput, match="does not exist"):
        evaluate_quorum(Quorum.parse("2 of group nobody"), [], GROUPS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Cannot read"),
        ("two officers", "Cannot read"),
        ("1 wizard", "Unknown role"),
        ("0 supervisor", "at least one person"),
    ],
)
def test_quorum_parse_errors(text, message):
    with pytest.raises(BadInput, match=message):
        Quorum.parse(text)


def test_quorum_round_trip_and_describe():
    q = Quorum.parse("2 key custodians + 1 supervisor")
    assert Quorum.from_record(q.to_record()) == q
    assert q.describe() == "2 key custodians + 1 supervisor"


def test_policy_set_defaults_round_trip():
    p = PolicySet()
    assert PolicySet.from_record(p.to_record()) == p
    assert p.quorum_for(Action.DESTROY_KEY) == DEFAULT_QUORUMS[Action.DESTROY_KEY]
    assert set(DEFAULT_QUORUMS) == set(Action) - {Action.LOGON}


@pytest.mark.parametrize(
    ("roles", "ok"),
    [
        ({KC, SUP}, True),
        ({SO, SUP}, True),
        ({SO, KC}, False),
        ({AUD, SUP}, False),
        ({AUD}, True),
        (set(), False),
    ],
)
def test_role_separation(roles, ok):
    if ok:
        PolicySet().check_roles(roles)
    else:
        with pytest.raises(BadInput):
            PolicySet().check_roles(roles)


def test_idle_timeout_bounds():
    with pytest.raises(BadInput, match="idle timeout"):
        PolicySet(idle_timeout_seconds=5)
