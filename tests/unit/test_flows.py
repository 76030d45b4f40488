"""The wizard flows and administration forms, without Qt: steps, what each needs, field
errors in words, and which step comes next."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.people import Group, Role
from workstation.domain.policy import KEY_ACTIONS, Action, PolicySet, Quorum
from workstation.domain.templates import KeyTemplate, TemplateStatus, seed_templates
from workstation.flows import (
    EnrolForm,
    FlowError,
    GenerateKeyFlow,
    GenerateStep,
    GroupForm,
    PolicyForm,
    RotateFlow,
    RotateStep,
    StateChangeFlow,
    StateChangeStep,
    TemplateForm,
    describe_period,
    requirement_lines,
)
from workstation.services.keys import Availability, GenerationResult, KeyDetail
from workstation.services.logon import Requirement

NOW = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
TODAY = NOW.date()


def clock() -> datetime:
    return NOW


def template(**changes: Any) -> KeyTemplate:
    fields: dict[str, Any] = dict(
        id="t-zmk",
        name="Zone master key (KEK)",
        description="KEK shared with a partner.",
        algorithm=KeyAlgorithm.AES_256,
        key_usage="K0",
        mode_of_use="B",
        exportability="E",
        crypto_period_days=730,
        label_pattern="ZMK-{date}-{seq:04d}",
        quorums={Action.GENERATE_KEY: Quorum.parse("2 of group custodians A")},
    )
    fields.update(changes)
    return KeyTemplate(**fields)


def key(**changes: Any) -> ManagedKey:
    fields: dict[str, Any] = dict(
        id="k1",
        label="ZMK-20260101-0001",
        template_id="t-zmk",
        algorithm=KeyAlgorithm.AES_256,
        key_usage="K0",
        mode_of_use="B",
        exportability="E",
        kcv="A1B2C3",
        wrapped=b"\x01" * 40,
        public_key=None,
        state=KeyState.ACTIVE,
        version=1,
        created_at=datetime(2026, 1, 1, 9, 0, tzinfo=UTC),
        activation_date=datetime(2026, 1, 1, 9, 0, tzinfo=UTC),
        deactivation_date=datetime(2028, 1, 1, 9, 0, tzinfo=UTC),
    )
    fields.update(changes)
    return ManagedKey(**fields)


def detail(k: ManagedKey | None = None, t: KeyTemplate | None = None, ok: bool = True) -> KeyDetail:
    return KeyDetail(
        key=k or key(),
        template=t if t is not None else template(),
        history=[],
        audit_trail=[],
        integrity_ok=ok,
    )


def requirement(action: Action, *, met: bool, missing: tuple[str, ...] = ()) -> Requirement:
    return Requirement(
        action=action,
        quorum="2 of group custodians A",
        met=met,
        missing=missing,
        reason="",
        present=("Cara Mendes",),
    )


# --- generate ----------------------------------------------------------------------------


def test_generate_flow_walks_its_steps_in_order() -> None:
    flow = GenerateKeyFlow(seed_templates(), clock=clock)
    assert flow.step is GenerateStep.TEMPLATE
    assert flow.info().needs == ("template",)
    with pytest.raises(FlowError) as refused:
        flow.advance()
    assert refused.value.errors == {"template": "Choose the template the keys are made from."}

    flow.choose_template("zone master key (kek)")  # names match case-insensitively
    assert flow.advance() is GenerateStep.REVIEW
    flow.set_options(count=1, label="  ZMK-PARTNER-1 ", activation_date=None)
    assert flow.label == "ZMK-PARTNER-1"
    assert flow.advance() is GenerateStep.QUORUM
    flow.set_requirement(requirement(Action.GENERATE_KEY, met=True))
    assert flow.advance() is GenerateStep.GENERATE
    with pytest.raises(FlowError, match="not been generated"):
        flow.advance()
    assert flow.path == [
        GenerateStep.TEMPLATE,
        GenerateStep.REVIEW,
        GenerateStep.QUORUM,
        GenerateStep.GENERATE,
    ]
    assert flow.back() is GenerateStep.QUORUM


def test_generate_flow_calls_the_service_through_the_callable_it_is_given() -> None:
    flow = GenerateKeyFlow([template()], clock=clock)
    flow.choose_template("Zone master key (KEK)")
    flow.advance()
    flow.set_options(count=3, label=None, activation_date=TODAY + timedelta(days=5))
    calls: list[dict[str, Any]] = []
    made = [key(id=f"k{i}", label=f"ZMK-{i}", state=KeyState.PRE_ACTIVATION) for i in range(3)]

    def generate(template_ref: str, **kwargs: Any) -> GenerationResult:
        calls.append({"template": template_ref, **kwargs})
        kwargs["progress"](3, 3)
        return GenerationResult(made, 3)

    seen: list[tuple[int, int]] = []
    result = flow.generate(generate, progress=lambda d, t: seen.append((d, t)))
    assert calls[0]["template"] == "Zone master key (KEK)"
    assert calls[0]["count"] == 3
    assert calls[0]["label"] is None
    assert calls[0]["activation_date"] == datetime(2026, 3, 15, tzinfo=UTC)
    assert seen == [(3, 3)]
    flow.record_result(result)
    assert flow.step is GenerateStep.RESULT
    assert flow.finished
    assert [(r.label, r.kcv) for r in flow.result_rows()] == [
        ("ZMK-0", "A1B2C3"),
        ("ZMK-1", "A1B2C3"),
        ("ZMK-2", "A1B2C3"),
    ]
    assert flow.result_summary() == "3 keys generated, each in the pre-activation state."
    assert flow.cancellable


def test_generate_flow_reports_a_stopped_bulk_run() -> None:
    flow = GenerateKeyFlow([template()], clock=clock)
    flow.choose_template("Zone master key (KEK)")
    flow.result = GenerationResult([key()], 100, "cancelled")
    assert flow.result_summary().startswith("Stopped after 1 of 100 keys: cancelled.")


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"count": 0}, "count", "between 1 and 100,000"),
        ({"count": 100_001}, "count", "between 1 and 100,000"),
        ({"count": 2, "label": "ONE"}, "label", "only be given for one key"),
        ({"label": "X" * 129}, "label", "at most 128"),
        ({"label": "A\tB"}, "label", "control characters"),
        ({"activation_date": date(2026, 3, 9)}, "activation_date", "cannot be in the past"),
    ],
)
def test_generate_options_are_refused_with_words(
    options: dict[str, Any], field: str, words: str
) -> None:
    flow = GenerateKeyFlow([template()], clock=clock)
    flow.choose_template("Zone master key (KEK)")
    values: dict[str, Any] = {"count": 1, "label": None, "activation_date": None, **options}
    errors = flow.validate_options(**values)
    assert list(errors) == [field]
    assert words in errors[field]
    with pytest.raises(FlowError):
        flow.set_options(**values)


def test_generate_activation_today_means_now() -> None:
    flow = GenerateKeyFlow([template()], clock=clock)
    flow.choose_template("Zone master key (KEK)")
    flow.set_options(count=1, label=None, activation_date=TODAY)
    assert flow.activation_datetime() is None


def test_retired_or_unknown_templates_cannot_be_chosen() -> None:
    retired = template(name="Old", status=TemplateStatus.RETIRED)
    flow = GenerateKeyFlow([template(), retired], clock=clock)
    assert [t.name for t in flow.choosable] == ["Zone master key (KEK)"]
    assert "retired" in flow.validate_template("Old")["template"]
    assert flow.validate_template("Nope") == {"template": "No template named 'Nope'."}


def test_generate_review_shows_every_attribute() -> None:
    flow = GenerateKeyFlow([template()], clock=clock)
    flow.choose_template("Zone master key (KEK)")
    rows = dict(flow.review_rows())
    assert rows["Algorithm"] == "AES-256 (256-bit secret key)"
    assert rows["Key usage (TR-31)"] == "K0 — key encryption or wrapping"
    assert rows["Mode of use"].startswith("B — both encrypt and decrypt")
    assert rows["Exportability"].startswith("E — exportable")
    assert rows["Crypto-period"] == "730 days (2 years)"
    assert rows["Label pattern"] == "ZMK-{date}-{seq:04d}  (e.g. ZMK-20260310-0001)"
    assert rows["Quorum to generate"] == "2 of group custodians A (set by this template)"
    assert flow.summary() == (
        "Generate 1 key from template 'Zone master key (KEK)', usable once activated."
    )


def test_requirement_in_words() -> None:
    met = requirement_lines(requirement(Action.GENERATE_KEY, met=True))
    assert met == [
        "Generate key needs 2 of group custodians A.",
        "Logged on now: Cara Mendes.",
        "The quorum is met: you can go ahead.",
    ]
    missing = requirement_lines(
        requirement(Action.GENERATE_KEY, met=False, missing=("1 of group custodians A",))
    )
    assert missing[2].startswith("Still missing: 1 of group custodians A.")


def test_describe_period() -> None:
    assert describe_period(365) == "365 days (1 year)"
    assert describe_period(397) == "397 days"
    assert describe_period(1) == "1 day"


# --- rotate ------------------------------------------------------------------------------


def test_rotate_flow_reviews_predecessor_and_successor_then_rotates() -> None:
    flow = RotateFlow("ZMK-20260101-0001", clock=clock)
    assert flow.validate_key() == {"key": "Key ZMK-20260101-0001 has not been read yet."}
    flow.load(detail())
    assert flow.advance() is RotateStep.REVIEW
    rows = {name: (old, new) for name, old, new in flow.comparison_rows()}
    assert rows["Key check value"][0] == "A1B2C3"
    assert rows["Version"] == ("1", "2")
    assert rows["State"] == ("active", "pre-activation")
    assert rows["Template"][1] == "Zone master key (KEK) (version 1)"
    assert rows["Crypto-period"] == ("730 days (2 years)", "730 days (2 years)")
    assert rows["End of crypto-period"][1] == "2028-03-09 14:30 UTC if activated today"
    assert flow.validate_review("x" * 501) == {
        "reason": "Keep the reason to 500 characters (it has 501)."
    }
    flow.set_reason(" yearly rotation ")
    assert flow.advance() is RotateStep.QUORUM
    assert flow.advance() is RotateStep.ROTATE
    successor = key(
        id="k2", label="ZMK-20260310-0002", kcv="D4E5F6", version=2, predecessor_id="k1"
    )
    linked = replace(key(), successor_id="k2")
    calls: list[tuple[str, str]] = []

    def rotate(label: str, reason: str) -> tuple[ManagedKey, ManagedKey]:
        calls.append((label, reason))
        return linked, successor

    flow.record_result(flow.rotate(rotate))
    assert calls == [("ZMK-20260101-0001", "yearly rotation")]
    assert flow.step is RotateStep.RESULT
    assert flow.result_rows() == [
        ("Predecessor", "ZMK-20260101-0001", "A1B2C3", "active"),
        ("Successor", "ZMK-20260310-0002", "D4E5F6", "active"),
    ]
    assert "now has the successor ZMK-20260310-0002" in flow.result_summary()


@pytest.mark.parametrize(
    ("k", "t", "ok", "words"),
    [
        (key(state=KeyState.DEACTIVATED), None, True, "is deactivated; it cannot be rotated"),
        (key(successor_id="k9"), None, True, "already has a successor"),
        (key(), template(status=TemplateStatus.RETIRED), True, "is retired"),
        (
            key(),
            template(allowed_actions=KEY_ACTIONS - {Action.ROTATE_KEY}),
            True,
            "does not allow rotation",
        ),
        (key(), None, False, "failed its integrity check"),
    ],
)
def test_rotate_refuses_keys_that_cannot_be_rotated(
    k: ManagedKey, t: KeyTemplate | None, ok: bool, words: str
) -> None:
    flow = RotateFlow(k.label, clock=clock)
    flow.load(detail(k, t, ok))
    assert words in flow.validate_key()["key"]
    with pytest.raises(FlowError):
        flow.advance()
    with pytest.raises(FlowError):
        flow.rotate(lambda label, reason: (k, k))


# --- state change ------------------------------------------------------------------------


def availability(action: Action, allowed: bool = True, reason: str = "") -> Availability:
    return Availability(action, allowed, reason, "1 security officer + 1 supervisor", ())


def test_compromise_asks_reason_and_a_date_not_in_the_future() -> None:
    flow = StateChangeFlow("ZMK-20260101-0001", Action.COMPROMISE_KEY, clock=clock)
    flow.load(detail(), [availability(Action.COMPROMISE_KEY)])
    assert flow.advance() is StateChangeStep.ACTION
    flow.choose_action(Action.COMPROMISE_KEY)
    assert flow.next_step() is StateChangeStep.REASON
    assert flow.advance() is StateChangeStep.REASON
    assert flow.info().needs == ("reason", "compromise_date")

    errors = flow.validate_reason("", None)
    assert errors == {
        "reason": "Say why: Mark compromised needs a reason, which is kept in the audit log.",
        "compromise_date": "Give the date the key was (or may have been) compromised.",
    }
    future = flow.validate_reason("laptop stolen", TODAY + timedelta(days=1))
    assert future == {
        "compromise_date": "The compromise date cannot be in the future (today is 2026-03-10)."
    }
    before = flow.validate_reason("laptop stolen", date(2025, 12, 31))
    assert "was created on 2026-01-01" in before["compromise_date"]

    flow.set_reason(" laptop stolen ", date(2026, 3, 1))
    assert flow.compromise_datetime() == datetime(2026, 3, 1, tzinfo=UTC)
    assert flow.advance() is StateChangeStep.CONFIRM
    assert flow.irreversible
    with pytest.raises(FlowError, match="cannot be undone"):
        flow.advance()
    flow.set_confirmed(True)
    rows = dict(flow.confirm_rows())
    assert rows["Change"] == "active → compromised"
    assert rows["Reason"] == "laptop stolen"
    assert rows["Compromised on"] == "2026-03-01"

    calls: list[tuple[Any, ...]] = []

    def change(label: str, action: Action, reason: str, when: datetime | None) -> ManagedKey:
        calls.append((label, action, reason, when))
        return key(state=KeyState.COMPROMISED, compromise_date=when)

    flow.record_result(flow.apply(change))
    assert calls == [
        (
            "ZMK-20260101-0001",
            Action.COMPROMISE_KEY,
            "laptop stolen",
            datetime(2026, 3, 1, tzinfo=UTC),
        )
    ]
    assert flow.step is StateChangeStep.RESULT
    assert flow.result_summary() == (
        "Key ZMK-20260101-0001 (KCV A1B2C3) is now compromised. Recorded as compromised "
        "on 2026-03-01."
    )


def test_compromise_today_is_now() -> None:
    flow = StateChangeFlow("K", Action.COMPROMISE_KEY, clock=clock)
    flow.load(detail())
    flow.set_reason("seen on a screen", TODAY)
    assert flow.compromise_datetime() == NOW


def test_activation_skips_the_reason_step() -> None:
    flow = StateChangeFlow("K", Action.ACTIVATE_KEY, clock=clock)
    flow.load(detail(key(state=KeyState.PRE_ACTIVATION)), [availability(Action.ACTIVATE_KEY)])
    flow.advance()
    assert flow.next_step() is StateChangeStep.CONFIRM
    assert flow.advance() is StateChangeStep.CONFIRM
    assert not flow.irreversible
    assert flow.advance() is StateChangeStep.RESULT


def test_destroy_needs_a_reason_and_suspend_takes_an_optional_one() -> None:
    destroy = StateChangeFlow("K", Action.DESTROY_KEY, clock=clock)
    destroy.load(detail(key(state=KeyState.DEACTIVATED)))
    assert "needs a reason" in destroy.validate_reason("  ")["reason"]
    suspend = StateChangeFlow("K", Action.SUSPEND_KEY, clock=clock)
    suspend.load(detail())
    assert suspend.asks_reason and not suspend.needs_reason
    assert suspend.validate_reason("") == {}


def test_unavailable_actions_are_refused_with_the_service_reason() -> None:
    flow = StateChangeFlow("K", Action.ACTIVATE_KEY, clock=clock)
    flow.load(
        detail(key(state=KeyState.ACTIVE)),
        [availability(Action.ACTIVATE_KEY, False, "Not possible: the key is active.")],
    )
    assert flow.validate_action(Action.ACTIVATE_KEY) == {
        "action": "Not possible: the key is active."
    }
    assert "not a change of a key's state" in flow.validate_action(Action.ROTATE_KEY)["action"]
    choices = {a: ok for a, ok, _ in flow.choices()}
    assert choices[Action.ACTIVATE_KEY] is False
    assert choices[Action.SUSPEND_KEY] is True  # from the state table when not told


def test_a_destroyed_key_cannot_change() -> None:
    flow = StateChangeFlow("K", Action.DESTROY_KEY, clock=clock)
    flow.load(detail(key(state=KeyState.DESTROYED, wrapped=None)))
    assert "is destroyed" in flow.validate_key()["key"]


# --- forms -------------------------------------------------------------------------------


def test_template_form_accepts_a_good_template_and_gives_service_fields() -> None:
    form = TemplateForm(
        name="Partner ZPK",
        algorithm="AES-128",
        key_usage="P0",
        mode_of_use="B",
        exportability="E",
        crypto_period_days="365",
        label_pattern="ZPK-{seq:04d}",
        quorums={Action.GENERATE_KEY: "2 key_custodian", Action.ACTIVATE_KEY: " "},
    )
    assert form.validate() == {}
    fields = form.fields()
    assert fields["algorithm"] == "AES-128"
    assert fields["crypto_period_days"] == 365
    assert fields["quorums"] == {"generate_key": "2 key_custodian"}
    assert "generate_key" in fields["allowed_actions"]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"name": " "}, "name", "needs a name"),
        ({"algorithm": "AES-512"}, "algorithm", "Unknown key algorithm"),
        ({"key_usage": "Z9"}, "key_usage", "Z9 is not one"),
        ({"crypto_period_days": "two"}, "crypto_period_days", "number of days"),
        ({"crypto_period_days": 0}, "crypto_period_days", "1 day to 30 years"),
        ({"label_pattern": "FIXED"}, "label_pattern", "must contain {seq}"),
        ({"key_usage": "S0"}, "key_usage", "is for a key pair"),
        ({"key_usage": "B0", "algorithm": "RSA-2048"}, "key_usage", "is for a secret key"),
        ({"quorums": {Action.GENERATE_KEY: "two custodians"}}, "quorums", "generate key"),
        (
            {"allowed_actions": frozenset({Action.ACTIVATE_KEY})},
            "allowed_actions",
            "must be allowed",
        ),
    ],
)
def test_template_form_places_each_refusal_next_to_its_field(
    changes: dict[str, Any], field: str, words: str
) -> None:
    form = replace(TemplateForm(name="T", label_pattern="T-{seq}"), **changes)
    errors = form.validate()
    assert field in errors, errors
    assert words in errors[field]


def test_template_form_edit_sends_only_what_changed() -> None:
    old = template()
    form = TemplateForm.from_template(old)
    assert form.changes(old) == {}
    form.crypto_period_days = 365
    form.description = "New words"
    assert form.changes(old) == {"crypto_period_days": 365, "description": "New words"}


def test_policy_form_validates_quorum_syntax_and_finds_the_changes() -> None:
    policy = PolicySet()
    form = PolicyForm.from_policy(policy)
    assert Action.LOGON not in form.editable_actions()
    assert form.changes() == ({}, None)
    form.quorums[Action.CHANGE_POLICY] = "1 security_officer + 1 supervisor"
    form.quorums[Action.GENERATE_KEY] = "2 of group custodians A"
    form.idle_timeout_seconds = 600
    changed, timeout = form.changes()
    assert set(changed) == {Action.CHANGE_POLICY, Action.GENERATE_KEY}
    assert timeout == 600
    assert form.describe_changes()[-1] == "Idle timeout: 300 s → 600 s"
    form.quorums[Action.MANAGE_CARDS] = "one officer"
    form.idle_timeout_seconds = 5
    errors = form.validate()
    assert "Cannot read the quorum term 'one officer'" in errors["manage_cards"]
    assert "between 30 seconds and 24 hours" in errors["idle_timeout_seconds"]


def test_enrol_form() -> None:
    good = EnrolForm("Dana Flores", frozenset({Role.KEY_CUSTODIAN}), "Reader 3", 6)
    assert good.validate() == {}
    bad = EnrolForm(
        " ",
        frozenset({Role.AUDITOR, Role.SUPERVISOR}),
        "Reader 0",
        4,
        busy_readers=frozenset({"Reader 0"}),
        policy=PolicySet(),
    )
    errors = bad.validate()
    assert set(errors) == {"name", "roles", "reader", "pin"}
    assert "both auditor and supervisor" in errors["roles"]
    assert "someone logged on" in errors["reader"]
    assert EnrolForm("A", frozenset(), None, 0).validate()["roles"] == "Tick at least one role."


def test_group_form() -> None:
    form = GroupForm("custodians B", 3, frozenset({"Cara", "Carl"}))
    assert "needs at least 3 members; 2 are ticked" in form.validate()["threshold"]
    group = Group(id="g", name="custodians A", threshold=1, members=frozenset({"x"}))
    form = GroupForm("custodians A", 2, frozenset({"Cara", "Carl"}), existing=group)
    assert form.validate() == {}
    assert form.member_changes(["Carl", "Chen"]) == (["Cara"], ["Chen"])


def test_flows_import_no_qt_and_no_adapter() -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "workstation" / "flows"
    forbidden = ("PySide6", "workstation.gui", "workstation.adapters", "pkcs11", "smartcard")
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
