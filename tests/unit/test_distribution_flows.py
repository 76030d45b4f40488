"""The Distribution page's flows without Qt: rows and words of the key store and job
tables, the key store form's field errors, and the two job wizards' steps, with the
service reached only through the callables passed in (fakes here)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from workstation.domain.distribution import (
    Delivery,
    DeliveryState,
    DistributionJob,
    HeldKey,
    JobKey,
    JobKind,
    JobState,
    KeyOutcome,
    KeyStore,
    TargetKind,
)
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.policy import Action
from workstation.domain.templates import KeyTemplate, seed_templates
from workstation.flows.distribution import (
    DistributionChoices,
    DistributionRegister,
    KeyStoreForm,
    PushFlow,
    PushStep,
    RotateAllFlow,
    RotateAllStep,
    check_summary,
    delivery_cells,
    filter_stores,
    finished_text,
    held_rows,
    job_cells,
    job_progress,
    split_tags,
    store_cells,
    store_facts,
    stores_overview,
    tag_choices,
    unfinished_text,
)
from workstation.flows.wizards import FlowError
from workstation.services.distribution import JobReport

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def template(seed: str) -> KeyTemplate:
    return next(t for t in seed_templates() if t.id == f"seed-{seed}")


def key(
    label: str,
    seed: str,
    *,
    state: KeyState = KeyState.ACTIVE,
    version: int = 1,
    successor: str | None = None,
    t: KeyTemplate | None = None,
) -> ManagedKey:
    tpl = t or template(seed)
    return ManagedKey(
        id=f"id-{label}",
        label=label,
        template_id=tpl.id,
        algorithm=tpl.algorithm,
        key_usage=tpl.key_usage,
        mode_of_use=tpl.mode_of_use,
        exportability=tpl.exportability,
        kcv="0A1B2C",
        wrapped=b"wrapped",
        public_key=None,
        state=state,
        version=version,
        created_at=T0,
        activation_date=T0,
        deactivation_date=T0 + timedelta(days=365),
        successor_id=successor,
    )


ZMK_1 = key("ZMK-1", "zmk")
ZMK_2 = key("ZMK-2", "zmk")
ZMK_T = key("ZMK-T", "zmk-tdes")
ZMK_PRE = key("ZMK-PRE", "zmk", state=KeyState.PRE_ACTIVATION)
PEK_1 = key("PEK-1", "pek")
PEK_2 = key("PEK-2", "pek", state=KeyState.PRE_ACTIVATION)
PEK_ROTATED = key("PEK-3", "pek", successor="id-PEK-4")
MAC_1 = key("MAC-1", "mac")
SECRET = replace(template("pvk"), id="pvk-secret", name="Secret PVK", exportability="N")
PVK_N = key("PVK-N", "pvk", t=SECRET)
KEYS = (ZMK_1, ZMK_2, ZMK_T, ZMK_PRE, PEK_1, PEK_2, PEK_ROTATED, MAC_1, PVK_N)


def store(
    name: str,
    *,
    kek: ManagedKey = ZMK_1,
    kind: TargetKind = TargetKind.AGENT,
    tags: tuple[str, ...] = ("atm",),
    reachable: bool | None = True,
    held: tuple[HeldKey, ...] = (),
    detail: str = "",
) -> KeyStore:
    return KeyStore(
        id=f"sid-{name}",
        name=name,
        kind=kind,
        location="/usr/lib/p11.so" if kind is TargetKind.PKCS11 else f"{name}.bank.example:7443",
        kek_id=kek.id,
        kek_label="KEK",
        added_at=T0,
        added_by=("Olivia Grant", "Sam Okafor"),
        token="host" if kind is TargetKind.PKCS11 else "",
        tags=tags,
        checked_at=T0 if reachable is not None else None,
        reachable=reachable,
        held=held,
        detail=detail,
    )


ATM_1 = store("atm-1", held=(HeldKey(PEK_1.id, "PEK-1", 1, "0A1B2C"),))
ATM_2 = store("atm-2", reachable=False, detail="Key store atm-2: connection refused.")
HOST = store("host-1", kek=ZMK_2, kind=TargetKind.PKCS11, tags=("host", "emea"), reachable=None)
SELF = store("zmk-1-holder", kek=PEK_1, tags=("odd",))  # its KEK is a key being pushed
STORES = (ATM_1, ATM_2, HOST)
CHOICES = DistributionChoices(stores=STORES, keys=KEYS, templates=(*seed_templates(), SECRET))


def job(kind: JobKind = JobKind.DISTRIBUTE, state: JobState = JobState.RUNNING) -> DistributionJob:
    return DistributionJob(
        id="0123456789abcdef0123456789abcdef",
        kind=kind,
        created_at=T0,
        created_by=("Cara Mendes", "Carl Novak", "Sam Okafor"),
        keys=(JobKey(PEK_1.id, "PEK-1", 1, "0A1B2C"),),
        target_ids=tuple(s.id for s in STORES),
        state=state,
        reason="new PIN keys",
    )


def report(state: JobState = JobState.FAILED) -> JobReport:
    j = job(state=state)
    return JobReport(
        j,
        (
            Delivery(
                j.id,
                ATM_1.id,
                "atm-1",
                DeliveryState.DONE,
                1,
                outcomes=(KeyOutcome(PEK_1.id, 1, "0A1B2C", False),),
            ),
            Delivery(
                j.id,
                ATM_2.id,
                "atm-2",
                DeliveryState.FAILED,
                3,
                last_error="Key store atm-2: connection refused.",
            ),
            Delivery(
                j.id,
                HOST.id,
                "host-1",
                DeliveryState.PENDING,
                1,
                next_attempt_at=T0 + timedelta(seconds=4),
                last_error="timed out",
            ),
        ),
    )


# --- rows and words ---------------------------------------------------------------------------


def test_key_store_rows_status_and_details() -> None:
    assert store_cells(ATM_1) == (
        "atm-1",
        "key agent",
        "atm-1.bank.example:7443",
        "atm",
        "reachable",
        "1",
        "2026-11-24 09:00",
    )
    assert store_cells(ATM_2)[4] == "UNREACHABLE"
    assert store_cells(HOST)[2:] == (
        "/usr/lib/p11.so [host]",
        "host, emea",
        "not asked",
        "—",
        "never",
    )
    assert held_rows(ATM_1) == [("PEK-1", "1", "0A1B2C")]
    facts = dict(store_facts(HOST, ZMK_2))
    assert facts["Token"] == "host" and "the token asks for no PIN" in facts["PIN file"]
    assert facts["KEK"] == "ZMK-2 (AES-256, KCV 0A1B2C) — held there as KEK"
    assert "no longer active" in dict(store_facts(ATM_2, None))["KEK"]
    assert dict(store_facts(ATM_2, ZMK_1))["Status"].startswith("UNREACHABLE: Key store atm-2")
    assert tag_choices(STORES) == ["atm", "emea", "host"]
    assert [s.name for s in filter_stores(STORES, "atm")] == ["atm-1", "atm-2"]
    assert len(filter_stores(STORES, "")) == 3
    assert stores_overview(STORES) == ("3 key stores: 1 reachable, 1 unreachable, 1 not asked yet.")
    assert "Add key store" in stores_overview(())
    text, bad = check_summary([ATM_1, ATM_2])
    assert bad and text == (
        "1 of 2 key stores reachable. Not reached: atm-2 (Key store atm-2: connection refused.)."
    )
    assert check_summary([ATM_1]) == ("1 of 1 key store reachable.", False)


def test_job_rows_progress_and_deliveries() -> None:
    r = report()
    assert job_progress(r) == "1 of 3 done, 1 failed, 1 to try again"
    assert job_cells(r) == (
        "0123456789ab",
        "push",
        "failed",
        "2026-11-24 09:00",
        "PEK-1",
        "3",
        "1 of 3 done, 1 failed, 1 to try again",
    )
    done, failed, waiting = (delivery_cells(d) for d in r.deliveries)
    assert done == ("atm-1", "done", "1", "0 installed, 1 already held", "", "")
    assert failed[1:3] == ("failed", "3") and failed[4].endswith("connection refused.")
    assert waiting[1] == "pending" and waiting[5] == "2026-11-24 09:00:04"
    rotation = replace(
        job(JobKind.ROTATE),
        keys=(JobKey(PEK_1.id, "PEK-1", 1, "0A1B2C", "id-PEK-9", "PEK-9", 2, "DDDDDD"),),
    )
    assert job_cells(JobReport(rotation, ()))[1:5] == (
        "rotate and push",
        "running",
        "2026-11-24 09:00",
        "PEK-1 → PEK-9",
    )
    assert unfinished_text([]) == ""
    assert unfinished_text([job(), job()]).startswith("2 unfinished jobs: ")
    assert finished_text(report(JobState.RUNNING))[0].startswith("Stopped: ")
    assert finished_text(report(JobState.FAILED)) == (
        "Finished with failures: 1 of 3 targets done, 1 failed, 1 pending, 0 keys installed, "
        "1 already held. Retry failed tries them again.",
        True,
    )
    register = DistributionRegister(CHOICES, (r, report(JobState.RUNNING)), T0)
    assert len(register.unfinished) == 1 and register.needs(Action.EXPORT_KEY) == "its quorum"
    assert register.report(r.job.id) is r


# --- the key store form ------------------------------------------------------------------------


def form(**kw: Any) -> KeyStoreForm:
    values: dict[str, Any] = {
        "name": "atm-9",
        "kind": "agent",
        "location": "10.0.0.9:7443",
        "kek": "ZMK-1",
        "tags": "ATM, emea",
        "choices": CHOICES,
    }
    values.update(kw)
    return KeyStoreForm(**values)


def test_key_store_form_names_each_wrong_field(tmp_path: Path) -> None:
    assert form().validate() == {}
    assert form().arguments() == {
        "name": "atm-9",
        "kind": TargetKind.AGENT,
        "location": "10.0.0.9:7443",
        "kek": "ZMK-1",
        "kek_label": None,
        "token": "",
        "pin_file": "",
        "tags": ["atm", "emea"],
    }
    assert form(name="").validate() == {"name": "Give the key store a name."}
    assert "not 1 to 64 letters" in form(name="a b").validate()["name"]
    assert form(name="ATM-1").validate() == {
        "name": "A key store named 'ATM-1' is already registered."
    }
    assert form(kind="ftp").validate()["kind"].startswith("Choose what the key store is")
    assert form(location=" ").validate()["location"].startswith("Give its location: host:port")
    assert "port" in form(location="10.0.0.9:99999").validate()["location"]
    assert form(kek="").validate() == {
        "kek": "Choose the key encryption key (KEK) the key store shares."
    }
    assert "is pre-active; only an active key" in form(kek="ZMK-PRE").validate()["kek"]
    assert "not a key encryption key" in form(kek="PEK-1").validate()["kek"]
    assert form(kek="NOPE").validate() == {"kek": "No active key labelled 'NOPE'."}
    assert "not 1 to 64" in form(tags="atm, b@d").validate()["tags"]
    assert "printable" in form(kek_label="x" * 200).validate()["kek_label"]
    # PKCS#11: a token label, an AES KEK, and a PIN file that exists.
    p11 = {"kind": "pkcs11", "location": "/usr/lib/p11.so", "token": "host"}
    assert form(**p11).validate() == {}
    assert form(**{**p11, "token": ""}).validate() == {
        "token": "Give the label of the token that receives the keys."
    }
    assert "must be an AES key" in form(**{**p11, "kek": "ZMK-T"}).validate()["kek"]
    assert [k.label for k in form(**p11).kek_choices()] == ["ZMK-1", "ZMK-2"]
    assert [k.label for k in form().kek_choices()] == ["ZMK-1", "ZMK-2", "ZMK-T"]
    missing = tmp_path / "pin.txt"
    assert form(**{**p11, "pin_file": str(missing)}).validate() == {
        "pin_file": f"There is no file {missing}."
    }
    missing.write_text("1234")
    args = form(**{**p11, "pin_file": str(missing), "kek_label": "  HOST-KEK "}).arguments()
    assert args["pin_file"] == str(missing) and args["kek_label"] == "HOST-KEK"
    with pytest.raises(FlowError) as caught:
        form(name="").arguments()
    assert caught.value.errors == {"name": "Give the key store a name."}
    assert split_tags(" a, b;c  d ") == ["a", "b", "c", "d"]


# --- push keys ---------------------------------------------------------------------------------


def test_push_flow_steps_and_the_job_it_makes() -> None:
    flow = PushFlow(CHOICES)
    assert [k.label for k in CHOICES.pushable_keys()] == [
        "MAC-1",
        "PEK-1",
        "PEK-2",
        "PEK-3",
        "ZMK-1",
        "ZMK-2",
        "ZMK-PRE",
        "ZMK-T",
    ]
    assert flow.validate_keys([]) == {"keys": "Tick at least one key to push."}
    assert "not exportable" in flow.validate_keys(["PVK-N"])["keys"]
    with pytest.raises(FlowError):
        flow.advance()
    flow.set_keys(["PEK-1", "MAC-1"])
    assert flow.advance() is PushStep.TARGETS
    assert flow.validate_targets([], []) == {"targets": "Tick at least one tag or key store."}
    assert flow.validate_targets(["nope"], []) == {
        "targets": "No key store carries the tag 'nope'."
    }
    assert flow.validate_targets([], ["gone"]) == {"targets": "There is no key store named 'gone'."}
    flow.set_targets(["atm"], ["host-1"])
    assert [s.name for s in flow.chosen_stores()] == ["atm-1", "atm-2", "host-1"]
    flow.advance()
    assert flow.validate_options("x" * 501, 5, 2)["reason"].startswith("Keep the reason")
    assert flow.validate_options("", 0, 2) == {
        "attempts": "Try each key store from 1 to 100 times."
    }
    assert flow.validate_options("", 5, -1) == {
        "backoff": "The first retry wait is from 0 to 3600 seconds."
    }
    flow.set_options("  new PIN keys ", 3, 1.5)
    assert flow.advance() is PushStep.SUMMARY
    rows = dict(flow.summary_rows())
    assert rows["Key stores"] == "3 key stores (tagged atm; named host-1): atm-1, atm-2, host-1"
    assert rows["Retries"].startswith("3 attempts per key store; waits of 1.5, 3 seconds")
    assert rows["Reason"] == "new PIN keys"
    assert flow.summary().startswith("Push 2 keys to 3 key stores: 6 deliveries at most")
    assert flow.quorum_needs() == [(Action.EXPORT_KEY, "seed-pek"), (Action.EXPORT_KEY, "seed-mac")]
    assert flow.quorum_names()[0] == (Action.EXPORT_KEY, "PIN encryption key")

    calls: list[tuple[Any, ...]] = []

    def distribute(refs: list[str], **kw: Any) -> DistributionJob:
        calls.append((refs, kw))
        return job()

    made = flow.make(distribute)
    assert made.id == job().id
    assert calls == [
        (
            ["PEK-1", "MAC-1"],
            {
                "targets": ["host-1"],
                "tags": ["atm"],
                "reason": "new PIN keys",
                "max_attempts": 3,
                "backoff_seconds": 1.5,
            },
        )
    ]
    flow.back()
    assert flow.step is PushStep.OPTIONS
    flow.set_options("", 1, 2)
    assert dict(flow.summary_rows())["Retries"] == "1 attempt per key store, no retry"
    flow.set_options("", 4, 0)
    assert dict(flow.summary_rows())["Retries"] == (
        "4 attempts per key store, each straight after the one before"
    )


def test_push_flow_refuses_a_kek_sent_under_itself() -> None:
    flow = PushFlow(replace(CHOICES, stores=(*STORES, SELF)))
    flow.set_keys(["PEK-1"])
    assert flow.validate_targets(["odd"], []) == {
        "targets": "Key store zmk-1-holder: a KEK is not sent under itself."
    }
    stale = store("stale", kek=ZMK_PRE, tags=("stale",))
    flow = PushFlow(replace(CHOICES, stores=(stale,)))
    flow.set_keys(["PEK-1"])
    assert (
        "Key store stale: Key encryption key ZMK-PRE is pre-active"
        in (flow.validate_targets([], ["stale"])["targets"])
    )


# --- rotate and push ---------------------------------------------------------------------------


def test_rotate_flow_scope_candidates_holders_and_job() -> None:
    flow = RotateAllFlow(CHOICES)
    assert [t.name for t in flow.rotatable_templates()] == [
        "MAC key",
        "PIN encryption key",
        "Secret PVK",
        "Zone master key (KEK)",
        "Zone master key (TDES)",
    ]
    assert "PEK-3" not in [k.label for k in flow.rotatable_keys()]  # it has a successor
    assert flow.validate_scope(None, []) == {
        "scope": "Choose a template, or tick the keys to rotate."
    }
    assert flow.validate_scope("PIN encryption key", ["PEK-1"]) == {
        "scope": "Choose a template or tick keys, not both."
    }
    assert flow.validate_scope("Nope", []) == {"template": "No template named 'Nope'."}
    assert "already has a successor" in flow.validate_scope(None, ["PEK-3"])["keys"]
    flow.set_scope("PIN encryption key", [])
    flow.advance()
    assert flow.step is RotateAllStep.CANDIDATES
    assert flow.validate_candidates() == {
        "candidates": "The keys to rotate have not been read yet."
    }
    asked: list[tuple[Any, ...]] = []

    def candidates(template: str | None, refs: Any) -> list[ManagedKey]:
        asked.append((template, list(refs)))
        return [PEK_1, PEK_2]

    flow.set_candidates(flow.find_candidates(candidates))
    assert asked == [("PIN encryption key", [])]
    assert flow.candidate_rows() == [
        ("PEK-1", "1", "0A1B2C", "active", "atm-1"),
        ("PEK-2", "1", "0A1B2C", "pre-activation", "(no key store)"),
    ]
    flow.advance()
    # By default: where the keys are held.
    assert [s.name for s in flow.holders()] == ["atm-1"]
    assert flow.validate_targets(True, ["atm"], []) == {
        "targets": "Untick the tags and key stores, or untick 'where held'."
    }
    assert flow.validate_targets(False, [], [])["targets"].startswith("Tick at least one")
    flow.set_targets(True, [], [])
    assert [s.name for s in flow.chosen_stores()] == ["atm-1"]
    flow.advance()
    flow.set_options("annual rotation", 5, 2)
    assert flow.advance() is RotateAllStep.SUMMARY
    rows = dict(flow.summary_rows())
    assert rows["Successors to"] == "where the keys are held: 1 key store (atm-1)"
    assert (
        rows["Rotate"]
        == "2 keys, every key of template 'PIN encryption key' that can be rotated now"
    )
    assert flow.quorum_needs() == [
        (Action.ROTATE_KEY, "seed-pek"),
        (Action.EXPORT_KEY, "seed-pek"),
    ]
    got: list[dict[str, Any]] = []

    def rotate(**kw: Any) -> DistributionJob:
        got.append(kw)
        return job(JobKind.ROTATE)

    assert flow.make(rotate).kind is JobKind.ROTATE
    assert got == [
        {
            "template": "PIN encryption key",
            "key_refs": [],
            "targets": [],
            "tags": [],
            "reason": "annual rotation",
            "max_attempts": 5,
            "backoff_seconds": 2.0,
        }
    ]

    # Keys ticked instead, to the key stores chosen: the keys go by id.
    flow.back_to(RotateAllStep.SCOPE)
    flow.set_scope(None, ["PEK-1", "MAC-1"])
    assert flow.candidates is None  # the scope changed: read again
    flow.set_candidates([PEK_1, MAC_1])
    flow.set_targets(False, ["host"], [])
    flow.make(rotate)
    assert got[-1]["key_refs"] == ["id-PEK-1", "id-MAC-1"] and got[-1]["template"] is None
    assert got[-1]["tags"] == ["host"]
    assert dict(flow.summary_rows())["Successors to"].startswith("1 key store (tagged host)")
    flow.set_candidates([])
    assert flow.validate_candidates() == {"candidates": "No key can be rotated now."}
    with pytest.raises(FlowError):
        flow.make(rotate)
