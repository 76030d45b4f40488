"""The paper ceremonies' flows without Qt: the steps in order, the field errors in words, and
the typed components held as bytearrays and wiped on cancel, on a change and after the
service took them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from workstation.domain import components as comp
from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.components import EntryState
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.people import Person, Role, Status
from workstation.domain.policy import Action
from workstation.domain.templates import KeyTemplate, TemplateStatus, seed_templates
from workstation.errors import BadInput
from workstation.flows.ceremonies import (
    BackupScheme,
    BackupStep,
    CustodianChoice,
    EnterComponentsFlow,
    EnterStep,
    ExportComponentsFlow,
    ExportStep,
    GenerateComponentsFlow,
    GenerateComponentsStep,
    MasterKeyBackupFlow,
    OutputChoice,
    OutputKind,
    validate_label,
)
from workstation.flows.wizards import FlowError
from workstation.services.ceremonies import ComponentEntry, PaperOutput
from workstation.services.keys import KeyDetail
from workstation.services.logon import Requirement

TDES = "Card verification key"  # TDES-2KEY
AES = "PIN encryption key"  # AES-256
# Two TDES-2KEY components with odd parity in every byte, and what they combine to.
C1 = "0123 4567 89AB CDEF FEDC BA98 7654 3210"
C2 = "1010 1010 1010 1010 2020 2020 2020 2020"
C1_KCV = "08D7B4"
KEY_KCV = "737C5D"  # the key 1032 5476 98BA DCFE DFFD 9BB9 5775 1331 (module doctest)


def people() -> list[Person]:
    return [
        Person("p-cara", "Cara Mendes", frozenset({Role.KEY_CUSTODIAN})),
        Person("p-carl", "Carl Novak", frozenset({Role.KEY_CUSTODIAN})),
        Person("p-chen", "Chen Wei", frozenset({Role.KEY_CUSTODIAN})),
        Person("p-cleo", "Cleo Marsh", frozenset({Role.KEY_CUSTODIAN}), Status.SUSPENDED),
        Person("p-olivia", "Olivia Grant", frozenset({Role.SECURITY_OFFICER})),
        Person("p-sam", "Sam Okafor", frozenset({Role.SUPERVISOR})),
    ]


def templates() -> list[KeyTemplate]:
    retired = replace(
        next(t for t in seed_templates() if t.name == "MAC key"),
        status=TemplateStatus.RETIRED,
    )
    return [t for t in seed_templates() if t.name != "MAC key"] + [retired]


def combined_check_value(algorithm: KeyAlgorithm, values: Sequence[bytearray]) -> str:
    """What the ceremony service computes, from the domain's functions."""
    key = comp.combine(algorithm, values)
    try:
        return comp.kcv_hex(comp.check_value(algorithm, key))
    finally:
        key[:] = bytes(len(key))


def enter_flow(*present: str, count: int = 2) -> EnterComponentsFlow:
    flow = EnterComponentsFlow(templates())
    flow.set_people(people())
    flow.set_present(present or ("Olivia Grant", "Cara Mendes", "Carl Novak", "Chen Wei"))
    flow.choose_template(TDES)
    flow.advance()
    flow.choose_custodians(count, ["Cara Mendes", "Carl Novak", "Chen Wei"][:count])
    flow.advance()
    return flow


def typed(flow: EnterComponentsFlow, *components: str) -> None:
    for number, text in enumerate(components, 1):
        assert flow.step is EnterStep.COMPONENT and flow.position == number
        flow.set_component(number, text)
        flow.advance()


def outcome(*, files: tuple[str, ...] = (), jobs: tuple[str, ...] = ()) -> Any:
    key = ManagedKey(
        id="k1",
        label="CVK-0007",
        template_id="seed-cvk",
        algorithm=KeyAlgorithm.TDES_2KEY,
        key_usage="C0",
        mode_of_use="C",
        exportability="E",
        kcv=KEY_KCV,
        wrapped=b"\x01" * 40,
        public_key=None,
        state=KeyState.PRE_ACTIVATION,
        version=1,
        created_at=datetime(2026, 3, 10, tzinfo=UTC),
        activation_date=datetime(2026, 3, 10, tzinfo=UTC),
        deactivation_date=datetime(2028, 3, 10, tzinfo=UTC),
    )
    envelopes = tuple(
        SimpleNamespace(
            serial=f"KCW-E-00000{i}",
            custodian_name=name,
            describe=f"component {i} of 2",
            secret_kcv=kcv,
        )
        for i, (name, kcv) in enumerate((("Cara Mendes", "AAAAAA"), ("Carl Novak", "BBBBBB")), 1)
    )
    ceremony = SimpleNamespace(
        id="c0ffee" * 5 + "00",
        key_label="CVK-0007",
        signatures=(SimpleNamespace(name="Olivia Grant"), SimpleNamespace(name="Cara Mendes")),
    )
    delivery = SimpleNamespace(files=files, print_jobs=jobs)
    return SimpleNamespace(ceremony=ceremony, key=key, envelopes=envelopes, delivery=delivery)


# --- shared input ------------------------------------------------------------------------


def test_custodians_are_distinct_active_key_custodians_one_per_component() -> None:
    choice = CustodianChoice()
    choice.set_people(people())
    assert choice.candidates == ["Cara Mendes", "Carl Novak", "Chen Wei"]
    assert choice.validate(1, ["Cara Mendes"]) == {
        "count": "Choose between 2 and 9 components (one custodian each)."
    }
    assert choice.validate(10, []) == {
        "count": "Choose between 2 and 9 components (one custodian each)."
    }
    assert choice.validate(3, ["Cara Mendes", None, "cara mendes"]) == {
        "custodian_2": "Choose the custodian of component 2.",
        "custodian_3": "cara mendes already holds component 1: each component goes to a "
        "different custodian (split knowledge).",
    }
    assert choice.validate(2, ["Olivia Grant", "Cleo Marsh"]) == {
        "custodian_1": "Olivia Grant is not an active key custodian.",
        "custodian_2": "Cleo Marsh is not an active key custodian.",
    }
    assert choice.errors() == {"custodian_1": "Choose the custodian of each component."}
    assert choice.choose(2, [" carl novak", "Chen Wei", "ignored beyond the count"])
    assert choice.names == ["Carl Novak", "Chen Wei"]  # as enrolled
    assert not choice.choose(2, ["Carl Novak", "Chen Wei"])  # unchanged


def test_output_is_a_folder_that_exists_or_the_configured_printer(tmp_path: Path) -> None:
    output = OutputChoice(printer=None)
    assert output.validate(None, None) == {
        "output": "Choose where the mailers go: PDF files in a folder, or the printer."
    }
    assert output.validate(OutputKind.FOLDER, None) == {
        "directory": "Choose the folder for the PDF files."
    }
    gone = tmp_path / "gone"
    assert output.validate(OutputKind.FOLDER, gone) == {
        "directory": f"The folder {gone} does not exist."
    }
    assert output.validate(OutputKind.PRINTER, None) == {
        "output": "No printer is configured: set [printing] printer in workstation.toml, or "
        "choose a folder for the PDF files."
    }
    with pytest.raises(FlowError):
        output.paper()
    output.choose(OutputKind.FOLDER, tmp_path)
    assert output.paper() == PaperOutput(directory=tmp_path)
    assert "clear components on disk; audited" in output.describe()

    printer = OutputChoice(printer="vault-laser")
    printer.choose(OutputKind.PRINTER, tmp_path)  # the folder is dropped
    assert printer.paper() == PaperOutput(printer=True)
    assert printer.describe() == "the printer vault-laser"


def test_label_is_optional_printable_and_short() -> None:
    assert validate_label(None) == {}
    assert validate_label("  CVK-PARTNER-1 ") == {}
    assert validate_label("x" * 129) == {
        "label": "A label has at most 128 characters (it has 129)."
    }


# --- generate as components --------------------------------------------------------------


def test_generate_flow_offers_only_active_secret_key_templates() -> None:
    flow = GenerateComponentsFlow(templates())
    names = [t.name for t in flow.choosable]
    assert TDES in names and AES in names
    assert "MAC key" not in names  # retired
    assert "ATM EPP key pair" not in names and "TLS server key pair" not in names
    assert flow.validate_template(None) == {"template": "Choose the template the key is made from."}
    assert flow.validate_template("MAC key") == {
        "template": "Template 'MAC key' is retired; no keys are made from it."
    }
    assert flow.validate_template("TLS server key pair") == {
        "template": "Template 'TLS server key pair' makes EC-P256 key pairs; components are "
        "for secret keys."
    }
    assert flow.validate_template("Nonesuch") == {"template": "No template named 'Nonesuch'."}


def test_generate_flow_walks_template_custodians_output_review(tmp_path: Path) -> None:
    flow = GenerateComponentsFlow(templates())
    flow.set_people(people())
    with pytest.raises(FlowError, match="Choose the template"):
        flow.advance()
    flow.choose_template("card verification key", label=" CVK-PARTNER-1 ")
    assert flow.label == "CVK-PARTNER-1"
    assert flow.advance() is GenerateComponentsStep.CUSTODIANS
    with pytest.raises(FlowError, match="custodian of each component"):
        flow.advance()
    flow.choose_custodians(3, ["Cara Mendes", "Carl Novak", "Chen Wei"])
    assert flow.advance() is GenerateComponentsStep.OUTPUT
    flow.choose_output(OutputKind.FOLDER, tmp_path)
    assert flow.advance() is GenerateComponentsStep.REVIEW

    # Everyone named must be logged on; the quorum is the co-sign dialog's business.
    flow.set_present(["Olivia Grant", "Cara Mendes"])
    assert [r.text for r in flow.logon_rows()] == [
        "Cara Mendes (component 1): logged on",
        "Carl Novak (component 2): NOT logged on",
        "Chen Wei (component 3): NOT logged on",
    ]
    with pytest.raises(FlowError) as refused:
        flow.advance()
    assert refused.value.errors == {
        "presence": "Carl Novak and Chen Wei are named for a component but not logged on: "
        "each named custodian logs on with their card before the ceremony starts."
    }
    flow.set_present(["Olivia Grant", "Cara Mendes", "Carl Novak", "Chen Wei"])
    assert flow.advance() is GenerateComponentsStep.GENERATE
    assert dict(flow.review_rows())["Component 3"] == "Chen Wei"
    assert flow.summary() == (
        "Generate a TDES-2KEY key from template 'Card verification key' as 3 components, "
        f"printed to PDF files in {tmp_path} (clear components on disk; audited)."
    )

    calls: list[tuple[Any, ...]] = []

    def generate(
        template_ref: str, custodians: list[str], *, output: PaperOutput, label: str | None
    ) -> Any:
        calls.append((template_ref, custodians, output, label))
        return outcome(files=(str(tmp_path / "KCW-E-000001.pdf"),))

    flow.record_outcome(flow.generate(generate))
    assert calls == [
        (TDES, ["Cara Mendes", "Carl Novak", "Chen Wei"], PaperOutput(tmp_path), "CVK-PARTNER-1")
    ]
    assert flow.step is GenerateComponentsStep.RESULT
    rows = dict(flow.result_rows())
    assert rows["Key"] == "CVK-0007" and rows["Key check value"] == KEY_KCV
    assert rows["Ceremony"] == "c0ffee" * 5 + "00"
    assert rows["Files written"] == str(tmp_path / "KCW-E-000001.pdf")
    assert rows["Signed by"] == "Olivia Grant, Cara Mendes"
    assert flow.envelope_rows()[1] == ("KCW-E-000002", "Carl Novak", "component 2 of 2", "BBBBBB")
    assert flow.result_summary() == (
        f"Key CVK-0007 (KCV {KEY_KCV}) is stored pre-active; its 2 mailers were written as "
        "PDF files."
    )


# --- enter from components ---------------------------------------------------------------


def test_entry_status_counts_digits_names_the_error_and_shows_the_kcv() -> None:
    flow = enter_flow()
    assert flow.entry_status("0123 4567 89AB") == (
        flow.entry_status("0123456789ab")  # separators are not counted
    )
    status = flow.entry_status("0123 4567 89AB")
    assert (status.state, status.text) == (EntryState.INCOMPLETE, "12 of 32 hex digits")
    bad = flow.entry_status("0123 45G7")
    assert (bad.state, bad.text) == (
        EntryState.INVALID,
        "Component contains 'G' at position 7, which is not a hex digit.",
    )
    long = flow.entry_status(C1 + " 01")
    assert long.state is EntryState.INVALID
    assert long.text == "Component is 34 hex digits long; a TDES-2KEY component has 32."
    parity = flow.entry_status("0023 4567 89AB CDEF FEDC BA98 7654 3210")
    assert parity.state is EntryState.INVALID
    assert parity.text.startswith("Component has wrong (even) parity in byte 1;")
    done = flow.entry_status(C1)
    assert (done.state, done.text, done.kcv) == (
        EntryState.COMPLETE,
        f"Complete — KCV {C1_KCV}",
        C1_KCV,
    )


def test_enter_flow_asks_each_custodian_in_turn_then_the_sender_kcv() -> None:
    flow = enter_flow()
    assert flow.step is EnterStep.COMPONENT and flow.position == 1
    assert flow.custodian_of(1) == "Cara Mendes" and flow.digits_needed() == 32
    with pytest.raises(FlowError) as refused:
        flow.advance()
    assert refused.value.errors == {
        "component": "Component 1 is not complete: 0 of 32 hex digits typed."
    }
    assert flow.validate_component(1, "0123 4567") == {
        "component": "Component 1 is not complete: 8 of 32 hex digits typed."
    }
    assert flow.validate_component(1, C1, envelope="KCW E 1") == {
        "envelope": "An envelope serial has letters, digits and dashes only (e.g. KCW-E-000042)."
    }
    flow.set_component(1, C1, envelope=" kcw-e-000042 ")
    assert flow.holds(1) and flow.envelopes[0] == "KCW-E-000042"
    assert flow.advance() is EnterStep.COMPONENT and flow.position == 2
    # The same component typed twice is caught by its check value.
    assert flow.validate_component(2, C1) == {
        "component": f"Component 2 has the same check value ({C1_KCV}) as component 1: the "
        "same component was typed twice."
    }
    flow.set_component(2, C2)
    assert flow.advance() is EnterStep.CONFIRM
    assert flow.path == [
        EnterStep.TEMPLATE,
        EnterStep.CUSTODIANS,
        EnterStep.COMPONENT,
        EnterStep.COMPONENT,
        EnterStep.CONFIRM,
    ]

    # Back keeps what was typed; an empty field keeps the component held.
    assert flow.back() is EnterStep.COMPONENT and flow.position == 2
    assert flow.validate_component(2, "") == {}
    flow.set_component(2, "")
    assert flow.advance() is EnterStep.CONFIRM

    assert flow.compute_combined(combined_check_value) == KEY_KCV
    assert flow.component_rows() == [
        ("1 of 2", "Cara Mendes", C1_KCV, "KCW-E-000042"),
        ("2 of 2", "Carl Novak", flow.component_kcvs[1], ""),
    ]
    assert flow.validate_sender_kcv("") == {
        "sender_kcv": "Type the check value the sender gave for the key (on their key "
        "transfer form), to compare it with the combined one."
    }
    assert flow.validate_sender_kcv("73 7Z") == {
        "sender_kcv": "'73 7Z' is not a check value: use hex digits only."
    }
    assert flow.validate_sender_kcv("737") == {
        "sender_kcv": "Give at least 4 hex digits of the sender's check value."
    }
    assert flow.validate_sender_kcv("A1B2C3") == {
        "sender_kcv": f"The components combine to a key with check value {KEY_KCV}; the "
        "sender's is A1B2C3. Nothing was stored: check each component against its mailer."
    }
    assert flow.validate_sender_kcv("737c") == {}  # a prefix, as the service accepts
    flow.set_sender_kcv("737c 5d")
    assert flow.sender_kcv == KEY_KCV
    assert flow.advance() is EnterStep.STORE


def test_a_custodian_who_is_not_logged_on_cannot_be_named_or_type() -> None:
    flow = EnterComponentsFlow(templates())
    flow.set_people(people())
    flow.set_present(["Olivia Grant", "Cara Mendes"])
    flow.choose_template(AES)
    flow.advance()
    assert flow.validate_custodians(2, ["Cara Mendes", "Chen Wei"]) == {
        "presence": "Chen Wei is not logged on: each custodian logs on with their card before "
        "typing their component."
    }
    flow.set_present(["Olivia Grant", "Cara Mendes", "Chen Wei"])
    flow.choose_custodians(2, ["Cara Mendes", "Chen Wei"])
    flow.advance()
    assert flow.digits_needed() == 64
    flow.set_present(["Olivia Grant", "Cara Mendes"])  # Chen's card was pulled
    flow.set_component(1, "00" * 31 + "01")
    flow.advance()
    assert flow.validate_component(2, "00" * 31 + "03")["custodian"] == (
        "Chen Wei must be logged on with their card to type component 2."
    )


def test_components_are_wiped_on_cancel_and_must_be_typed_again() -> None:
    flow = enter_flow()
    typed(flow, C1, C2)
    held = flow.values
    assert [bytes(v) for v in held] == [
        bytes.fromhex(C1.replace(" ", "")),
        bytes.fromhex(C2.replace(" ", "")),
    ]
    assert all(isinstance(v, bytearray) for v in held)
    flow.compute_combined(combined_check_value)

    flow.wipe()  # the wizard was cancelled
    assert all(v == bytearray(16) for v in held)
    assert flow.values == [] and not flow.holds(1) and flow.combined is None
    assert flow.validate_sender_kcv(KEY_KCV) == {
        "components": "The components were wiped after the last attempt: each custodian "
        "types theirs again."
    }
    flow.back_to(EnterStep.COMPONENT, 1)
    assert flow.position == 1
    assert flow.validate_component(1, "")["component"].startswith("Component 1 is not complete")
    typed(flow, C1, C2)
    assert not flow.wiped
    assert flow.compute_combined(combined_check_value) == KEY_KCV


def test_changing_the_custodians_or_the_template_wipes_what_was_typed() -> None:
    flow = enter_flow(count=3)
    flow.set_component(1, C1)
    held = flow.values[0]
    flow.back_to(EnterStep.CUSTODIANS)
    flow.choose_custodians(3, ["Cara Mendes", "Carl Novak", "Chen Wei"])  # the same: kept
    assert flow.holds(1)
    flow.choose_custodians(3, ["Carl Novak", "Cara Mendes", "Chen Wei"])
    assert not flow.holds(1) and held == bytearray(16)

    flow.advance()
    flow.set_component(1, C1)
    held = flow.values[0]
    flow.back_to(EnterStep.TEMPLATE)
    flow.choose_template(AES)
    assert held == bytearray(16) and flow.values == []


def test_store_hands_the_components_over_and_wipes_them_whatever_happens() -> None:
    flow = enter_flow()
    typed(flow, C1, C2)
    flow.compute_combined(combined_check_value)
    flow.set_sender_kcv(KEY_KCV)
    flow.advance()
    seen: list[tuple[str, list[tuple[str, bytes, str | None]], str, str | None]] = []

    def enter(
        template_ref: str, entries: list[ComponentEntry], *, sender_kcv: str, label: str | None
    ) -> Any:
        seen.append(
            (
                template_ref,
                [(e.custodian, bytes(e.value), e.envelope) for e in entries],
                sender_kcv,
                label,
            )
        )
        held.extend(e.value for e in entries)
        raise BadInput("Cara Mendes logged off (card removed) during the ceremony.")

    held: list[bytearray] = []
    with pytest.raises(BadInput, match="logged off"):
        flow.store(enter)
    assert seen == [
        (
            TDES,
            [
                ("Cara Mendes", bytes.fromhex(C1.replace(" ", "")), None),
                ("Carl Novak", bytes.fromhex(C2.replace(" ", "")), None),
            ],
            KEY_KCV,
            None,
        )
    ]
    assert all(v == bytearray(16) for v in held)
    assert flow.wiped and flow.outcome is None

    typed_again = enter_flow()
    typed(typed_again, C1, C2)
    typed_again.compute_combined(combined_check_value)
    typed_again.set_sender_kcv(KEY_KCV)
    typed_again.advance()
    result = typed_again.store(lambda *a, **k: outcome())
    typed_again.record_outcome(result)
    assert typed_again.step is EnterStep.RESULT and typed_again.values == []
    assert typed_again.result_summary() == (
        f"Key CVK-0007 (KCV {KEY_KCV}) was formed from 2 components and is stored "
        "pre-active. The components typed here have been wiped."
    )


def test_components_that_combine_to_a_weak_key_are_refused_before_the_kcv() -> None:
    # The third component is the XOR of the first two (odd parity set): all three combine
    # to a key of zeros, which the service's combination refuses.
    third = bytearray(
        a ^ b for a, b in zip(*(bytes.fromhex(c.replace(" ", "")) for c in (C1, C2)), strict=True)
    )
    comp.odd_parity(third)
    flow = enter_flow(count=3)
    typed(flow, C1, C2, comp.format_groups(third))
    assert flow.compute_combined(combined_check_value) is None
    assert flow.validate_sender_kcv(KEY_KCV) == {
        "components": "The components combine to a key of all zeros, which is refused: check "
        "that no component was entered twice."
    }


# --- export as components ----------------------------------------------------------------


def key_detail(**changes: Any) -> KeyDetail:
    return KeyDetail(
        key=replace(outcome().key, **changes),
        template=next(t for t in seed_templates() if t.name == TDES),
        history=[],
        audit_trail=[],
        integrity_ok=True,
    )


def test_export_flow_refuses_keys_that_cannot_be_exported() -> None:
    flow = ExportComponentsFlow()
    assert flow.validate_key() == {"key": "Type the label of the key to export."}
    flow.load(None, "CVK-9999")
    assert flow.validate_key() == {"key": "No key labelled 'CVK-9999'."}
    flow.load(key_detail(exportability="N"))
    assert flow.validate_key() == {
        "key": "Key CVK-0007 is not exportable (template 'Card verification key', exportability N)."
    }
    flow.load(key_detail(state=KeyState.COMPROMISED))
    assert flow.validate_key() == {
        "key": "Key CVK-0007 is compromised; only a pre-active or active key is exported."
    }
    flow.load(key_detail(algorithm=KeyAlgorithm.RSA_2048))
    assert flow.validate_key() == {
        "key": "Key CVK-0007 is a key pair; only secret keys have components."
    }


def test_export_flow_walks_to_the_service_call(tmp_path: Path) -> None:
    flow = ExportComponentsFlow("CVK-0007", printer="vault-laser")
    flow.set_people(people())
    flow.load(key_detail(state=KeyState.ACTIVE))
    assert dict(flow.key_rows())["Key check value"] == KEY_KCV
    assert flow.advance() is ExportStep.CUSTODIANS
    flow.choose_custodians(2, ["Chen Wei", "Carl Novak"])
    assert flow.advance() is ExportStep.OUTPUT
    flow.choose_output(OutputKind.PRINTER, None)
    assert flow.advance() is ExportStep.REVIEW
    flow.set_present(["Chen Wei", "Carl Novak", "Sam Okafor"])
    assert flow.advance() is ExportStep.EXPORT
    calls: list[tuple[Any, ...]] = []

    def export(key_ref: str, custodians: list[str], *, output: PaperOutput) -> Any:
        calls.append((key_ref, custodians, output))
        return outcome(jobs=("vault-laser-12", "vault-laser-13"))

    flow.record_outcome(flow.export(export))
    assert calls == [("CVK-0007", ["Chen Wei", "Carl Novak"], PaperOutput(printer=True))]
    assert dict(flow.result_rows())["Print jobs"] == "vault-laser-12, vault-laser-13"
    assert flow.step is ExportStep.RESULT


# --- master key backup -------------------------------------------------------------------


def test_backup_flow_threshold_is_m_of_n_or_every_component(tmp_path: Path) -> None:
    flow = MasterKeyBackupFlow()
    flow.set_people(people())
    assert flow.part == "share"
    assert flow.validate_custodians(3, ["Cara Mendes", "", "Chen Wei"]) == {
        "custodian_2": "Choose the custodian of share 2."
    }
    flow.choose_custodians(3, ["Cara Mendes", "Carl Novak", "Chen Wei"])
    assert flow.advance() is BackupStep.SCHEME
    assert flow.validate_scheme(BackupScheme.SHARES, 4) == {
        "threshold": "Between 2 and 3 of the 3 shares recover the backup (asked: 4)."
    }
    assert flow.validate_scheme(BackupScheme.SHARES, 1)["threshold"].startswith("Between 2")
    assert flow.validate_scheme(None, 2) == {
        "scheme": "Choose shares (m of n) or components (all needed)."
    }
    flow.choose_scheme(BackupScheme.SHARES, 2)
    assert flow.scheme_text() == (
        "2 of 3 shares: any 2 of the 3 holders recover the backup; fewer learn nothing."
    )
    flow.choose_scheme(BackupScheme.COMPONENTS, 2)
    assert flow.threshold == 3
    assert flow.advance() is BackupStep.OUTPUT
    flow.choose_output(OutputKind.FOLDER, tmp_path)
    flow.advance()
    flow.set_present(["Olivia Grant", "Sam Okafor", "Cara Mendes", "Carl Novak"])
    with pytest.raises(FlowError, match="Chen Wei is named for a share but not logged on"):
        flow.advance()
    flow.set_present(["Olivia Grant", "Sam Okafor", "Cara Mendes", "Carl Novak", "Chen Wei"])
    assert flow.advance() is BackupStep.BACKUP
    calls: list[tuple[Any, ...]] = []

    def backup(holders: list[str], *, threshold: int, output: PaperOutput, scheme: str) -> Any:
        calls.append((holders, threshold, output, scheme))
        return outcome()

    flow.record_outcome(flow.backup(backup))
    assert calls == [
        (["Cara Mendes", "Carl Novak", "Chen Wei"], 3, PaperOutput(tmp_path), "components")
    ]
    assert flow.step is BackupStep.RESULT
    assert flow.requirement is None and Action.BACKUP_MASTER_KEY is flow.ACTION


def test_quorum_lines_come_from_the_requirement() -> None:
    flow = GenerateComponentsFlow(templates())
    assert flow.quorum_lines() == ["Checking who is needed…"]
    flow.set_requirement(
        Requirement(
            action=Action.PRINT_COMPONENTS,
            quorum="1 security officer + 2 key custodians",
            met=False,
            missing=("1 security officer",),
            reason="",
            present=("Cara Mendes", "Carl Novak"),
        )
    )
    assert flow.quorum_lines()[0] == "Print components needs 1 security officer + 2 key custodians."
