"""The policy's kinds of export a kiosk may write to removable media: stored records that
predate the field still verify, the field round-trips, and a change is audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_services import World
from workstation.domain.policy import (
    MediaExport,
    PolicySet,
    describe_media_exports,
)
from workstation.domain.records import canonical_bytes
from workstation.errors import BadInput, QuorumNotMet


def _record_before_the_field(policy: PolicySet) -> dict[str, object]:
    """A policy record as the workstation stored it before removable media existed."""
    return {
        "quorums": {a.value: q.to_record() for a, q in sorted(policy.quorums.items())},
        "idle_timeout_seconds": policy.idle_timeout_seconds,
        "incompatible_roles": sorted(sorted(r.value for r in p) for p in policy.incompatible_roles),
        "version": policy.version,
    }


def test_default_allows_nothing_and_keeps_the_old_record_bytes() -> None:
    policy = PolicySet()
    assert policy.removable_media_exports == frozenset()
    assert not policy.allows_on_media(MediaExport.AUDIT_EXPORT)
    assert not policy.allows_on_media(None)
    assert "removable_media_exports" not in policy.to_record()
    old = _record_before_the_field(policy)
    assert policy.binding_bytes() == canonical_bytes({"type": "policy", **old})


def test_a_stored_record_without_the_field_reads_as_none_and_seals_the_same() -> None:
    old = _record_before_the_field(PolicySet(idle_timeout_seconds=120, version=7))
    read = PolicySet.from_record(dict(old))
    assert read.removable_media_exports == frozenset()
    assert read.binding_bytes() == canonical_bytes({"type": "policy", **old})


def test_kinds_round_trip_and_are_sealed() -> None:
    kinds = frozenset({MediaExport.KEY_EXCHANGE, MediaExport.AUDIT_EXPORT})
    policy = PolicySet(removable_media_exports=kinds)
    record = policy.to_record()
    assert record["removable_media_exports"] == ["audit_export", "key_exchange"]
    assert PolicySet.from_record(record) == policy
    assert policy.binding_bytes() != PolicySet().binding_bytes()
    assert policy.allows_on_media(MediaExport.AUDIT_EXPORT)
    assert not policy.allows_on_media(MediaExport.DUE_DATES)


def test_parse_and_describe() -> None:
    assert MediaExport.parse(" Audit-Export ") is MediaExport.AUDIT_EXPORT
    with pytest.raises(BadInput, match="Unknown kind of export 'components'; use one of: "):
        MediaExport.parse("components")
    assert describe_media_exports([]) == "none"
    assert describe_media_exports([MediaExport.DUE_DATES, MediaExport.AUDIT_EXPORT]) == (
        "audit exports; due-date calendars and reports"
    )


def test_no_kind_can_carry_a_component() -> None:
    for kind in MediaExport:
        assert "component" not in kind.value


@pytest.fixture
def ready(tmp_path: Path) -> World:
    world = World(tmp_path)
    world.initialise()
    world.enrol_cast()
    yield world
    world.repo.close()


def test_change_under_the_policy_quorum_is_audited_with_before_and_after(ready: World) -> None:
    kinds = frozenset({MediaExport.AUDIT_EXPORT, MediaExport.CERTIFICATES})
    session = ready.session("Olivia")
    with pytest.raises(QuorumNotMet):
        ready.s.policies.change(session, removable_media_exports=kinds)
    ready.end(session)
    assert ready.s.policies.removable_media_exports() == frozenset()
    session = ready.session("Olivia", "Oscar")
    new = ready.s.policies.change(session, removable_media_exports=kinds)
    assert new.removable_media_exports == kinds and new.version == 2
    assert ready.s.policies.removable_media_exports() == kinds
    with pytest.raises(BadInput, match="same as the one in force"):
        ready.s.policies.change(session, removable_media_exports=kinds)
    back = ready.s.policies.change(session, removable_media_exports=frozenset())
    assert "removable_media_exports" not in back.to_record()
    with ready.repo.unit_of_work(read_only=True) as uow:
        changes = [e.body["details"]["changes"] for e in uow.audit.search(action="policy.change")]
    assert {"before": [], "after": ["audit_export", "certificates"]} in [
        c.get("removable_media_exports") for c in changes
    ]
    assert {"before": ["audit_export", "certificates"], "after": []} in [
        c.get("removable_media_exports") for c in changes
    ]
    ready.end(session)
