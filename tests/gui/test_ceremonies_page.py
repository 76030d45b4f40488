"""The ceremonies page on the real services: a key generated as printed components by the
ceremony service, then seen, verified, printed and followed through the envelope register
in the GUI, with the co-sign dialog where people are missing and the service's refusal
when the envelope's custodian is not there; the split-knowledge register; and the table
models checked by qtmodeltester.

Set KCW_SCREENSHOT_DIR to keep the rendered page (docs/screenshots/ceremonies.png)."""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialogButtonBox,
    QFileDialog,
    QInputDialog,
    QMessageBox,
)

from tests.gui.conftest import CAST, GuiWorld, pin
from tests.gui.helpers import WAIT, log_on, on_device
from tests.gui.test_logon import type_pin, wait_for_card
from workstation.domain.ceremonies import (
    Ceremony,
    CeremonyKind,
    CeremonySignature,
    ComponentHolding,
    Envelope,
    EnvelopeEvent,
    EnvelopeState,
    Participant,
    TranscriptEntry,
)
from workstation.gui import file_choice
from workstation.gui.ceremonies_page import (
    WIZARDS_MODULE,
    CeremoniesPage,
    CeremonyTableModel,
    EnvelopeTableModel,
    HoldingTableModel,
    PaperOutputDialog,
    RecordRole,
)
from workstation.gui.cosign import CoSignDialog
from workstation.services.ceremonies import CeremonyOutcome, MasterKeyBackupInfo, PaperOutput
from workstation.standalone import audit_verify

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

TEMPLATE = "ATM terminal master key"  # a TDES seed template
T0 = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)


# --- the models, without services ----------------------------------------------------------


def ceremony(n: int, *, signed: int = 2) -> Ceremony:
    people = (
        Participant("p1", "Olivia Grant", "security officer", "c1" * 32),
        Participant("p2", "Cara Mendes", "custodian of component 1", "c2" * 32),
    )
    return Ceremony(
        id=f"{n:02d}" * 16,
        kind=CeremonyKind.GENERATE_COMPONENTS,
        workstation_id="ws",
        started_at=T0 + timedelta(hours=n),
        completed_at=T0 + timedelta(hours=n, minutes=5),
        participants=people,
        transcript=(TranscriptEntry(T0, "generate", ("Olivia Grant",), "generated", {"k": "v"}),),
        key_id=f"key{n}",
        key_label=f"TMK-{n:04d}",
        algorithm="TDES-3KEY",
        key_kcv="A1B2C3",
        envelopes=("E-000001",),
        signatures=tuple(
            CeremonySignature(p.person_id, p.name, p.card_id, b"sig") for p in people[:signed]
        ),
    )


def envelope(serial: str, state: EnvelopeState = EnvelopeState.PRINTED) -> Envelope:
    events = [EnvelopeEvent(EnvelopeState.PRINTED, T0, ("Olivia Grant",))]
    if state is not EnvelopeState.PRINTED:
        events.append(EnvelopeEvent(state, T0 + timedelta(minutes=9), ("Olivia Grant",)))
    return Envelope(
        serial=serial,
        ceremony_id="01" * 16,
        kind="component",
        key_id="key1",
        key_label="TMK-0001",
        index=2,
        count=3,
        custodian_id="p2",
        custodian_name="Cara Mendes",
        secret_kcv="0F0F0F",
        events=tuple(events),
        bag_number="TEB-7" if state is not EnvelopeState.PRINTED else None,
    )


def holding(name: str, index: int, key_id: str = "key1") -> ComponentHolding:
    return ComponentHolding(
        person_id=name.lower(),
        person_name=name,
        key_id=key_id,
        key_identity="TDES-3KEY:A1B2C3",
        key_label="TMK-0001",
        index=index,
        secret_kcv=f"{index:06d}",
        ceremony_id="01" * 16,
        how="printed",
        at=T0,
    )


def test_ceremony_model_newest_first(qtmodeltester: Any) -> None:
    model = CeremonyTableModel()
    model.set_rows([ceremony(1), ceremony(3, signed=1), ceremony(2)])
    qtmodeltester.check(model)
    assert [model.index(r, model.KEY).data() for r in range(3)] == [
        "TMK-0003",
        "TMK-0002",
        "TMK-0001",
    ]
    horizontal = Qt.Orientation.Horizontal
    assert [model.headerData(c, horizontal) for c in range(6)] == list(model.HEADERS)
    assert [model.index(0, c).data() for c in range(6)] == [
        "2026-03-10 17:30",
        "Generate a key as printed components",
        "TMK-0003",
        "A1B2C3",
        "Olivia Grant, Cara Mendes",
        "1/2",
    ]
    assert model.index(0, model.SIGNATURES).data(Qt.ItemDataRole.ToolTipRole) == (
        "Not signed by Cara Mendes"
    )
    assert model.index(2, 0).data(RecordRole).key_label == "TMK-0001"
    assert model.row_of("02" * 16) == 1
    model.set_rows([])
    qtmodeltester.check(model)


def test_envelope_model_named_columns(qtmodeltester: Any) -> None:
    model = EnvelopeTableModel()
    model.set_rows([envelope("E-000001"), envelope("E-000002", EnvelopeState.HANDED_OVER)])
    qtmodeltester.check(model)
    assert [model.index(1, c).data() for c in range(7)] == [
        "E-000002",
        "component 2 of 3",
        "TMK-0001",
        "Cara Mendes",
        "Handed over",
        "TEB-7",
        "2026-03-10 14:39",
    ]
    assert model.index(0, model.BAG).data() == ""
    assert "not yet sealed" in model.index(0, model.STATE).data(Qt.ItemDataRole.ToolTipRole)
    assert model.row_of("E-000002") == 1


def test_holding_model_named_columns(qtmodeltester: Any) -> None:
    model = HoldingTableModel()
    model.set_rows([holding("Carl Novak", 2), holding("Cara Mendes", 1, "backup:S1")])
    model.set_ceremony_names({"01" * 16: "Generate a key as printed components"})
    qtmodeltester.check(model)
    assert [model.index(0, c).data() for c in range(7)] == [
        "Cara Mendes",
        "TMK-0001",
        "share 1",
        "000001",
        "printed",
        "2026-03-10 14:30",
        "Generate a key as printed components",
    ]
    assert model.index(1, model.COMPONENT).data() == "component 2"


# --- on the real services ------------------------------------------------------------------


@pytest.fixture(scope="module")
def made(gui_world: GuiWorld, tmp_path_factory: pytest.TempPathFactory) -> CeremonyOutcome:
    """A TDES key generated as two printed components, for Cara and Carl, with Olivia
    conducting (readers 3 to 5, freed again)."""
    services = gui_world.services
    folder = tmp_path_factory.mktemp("mailers")
    session = services.logon.open_session()
    try:
        for who, reader in (("olivia", 3), ("cara", 4), ("carl", 5)):
            services.logon.log_on(session, gui_world.insert(who, reader), pin())
        return services.ceremonies.generate_components(
            session,
            TEMPLATE,
            [CAST["cara"][0], CAST["carl"][0]],
            output=PaperOutput(directory=folder),
        )
    finally:
        session.close()
        for reader in (3, 4, 5):
            gui_world.remove(reader)


@pytest.fixture
def page(qtbot: Any, app_state: Any, gui_world: GuiWorld, made: CeremonyOutcome) -> Iterator[Any]:
    log_on(qtbot, app_state, gui_world, "olivia")
    widget = CeremoniesPage(app_state)
    qtbot.addWidget(widget)
    widget.resize(1100, 760)
    with qtbot.waitSignal(widget.refreshed, timeout=WAIT):
        widget.show()
    yield widget
    for box in widget.findChildren(QMessageBox):
        box.close()


def records(model: Any) -> list[Any]:
    return list(model.records)


def shown_envelope(page: Any, serial: str) -> Envelope:
    return next(e for e in page.envelope_model.records if e.serial == serial)


def cosign_dialog(qtbot: Any) -> CoSignDialog:
    found: list[CoSignDialog] = []

    def visible() -> bool:
        found[:] = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, CoSignDialog) and w.isVisible()
        ]
        return len(found) == 1

    qtbot.waitUntil(visible, timeout=WAIT)
    return found[0]


def co_sign(qtbot: Any, gui_world: GuiWorld, who: str, reader_index: int) -> None:
    """The co-sign dialog is open: ``who`` inserts their card and types their PIN."""
    dialog = cosign_dialog(qtbot)
    reader = gui_world.insert(who, reader_index)
    wait_for_card(qtbot, dialog.form, f"{CAST[who][0]} — ")
    dialog.form.select_reader(reader)
    with qtbot.waitSignal(dialog.accepted, timeout=WAIT):
        type_pin(qtbot, dialog.form.pin_edit, "123456")


def error_box(qtbot: Any, page: Any) -> QMessageBox:
    found: list[QMessageBox] = []

    def shown() -> bool:
        found[:] = [b for b in page.findChildren(QMessageBox, "errorBox") if b.isVisible()]
        return bool(found)

    qtbot.waitUntil(shown, timeout=WAIT)
    return found[0]


def test_the_ceremony_is_listed_with_its_script_and_transcript(
    page: Any, made: CeremonyOutcome
) -> None:
    model = page.ceremony_model
    assert made.key is not None
    row = model.row_of(made.ceremony.id)
    assert row is not None
    assert [model.index(row, c).data() for c in range(1, 6)] == [
        "Generate a key as printed components",
        made.key.label,
        made.key.kcv,
        "Olivia Grant, Cara Mendes, Carl Novak",
        "3/3",
    ]
    # the newest ceremony is shown by itself
    detail = page.ceremony_detail
    assert detail.current is not None and detail.current.id == model.record(0).id
    assert page.select_ceremony(made.ceremony.id)
    assert detail.title.text() == "Generate a key as printed components"
    assert made.key.label in detail.facts.text() and made.key.kcv in detail.facts.text()
    text = detail.document.toPlainText()
    # the script's steps, with the people each needs
    for step in ("Generate the components", "Print the mailers", "Store the key"):
        assert step in text
    assert "each custodian whose component is printed" in text
    # the transcript: who did what, with the check values and envelope serials
    kcvs = [e.secret_kcv for e in made.envelopes]
    for value in (*kcvs, *(e.serial for e in made.envelopes)):
        assert value in text
    assert "Olivia Grant logged on" in text
    assert "Transcript signed by every participant" in text
    assert text.count("signed with their card (not verified yet)") == 3
    assert not detail.verdict.isVisible()


def test_verify_signatures_shows_each_valid_signature(
    qtbot: Any, page: Any, made: CeremonyOutcome
) -> None:
    assert page.select_ceremony(made.ceremony.id)
    detail = page.ceremony_detail
    detail.verify_button.click()  # Olivia, a security officer, may read the audit
    qtbot.waitUntil(detail.verdict.isVisible, timeout=WAIT)
    assert detail.verdict.text() == (
        "✔ Verified: the record's seal is intact and all 3 participants' card signatures "
        "over the transcript are valid."
    )
    verification = detail.verification
    assert verification is not None and verification.ok and verification.seal_ok
    assert {s.name for s in verification.signatures if s.valid} == {
        "Olivia Grant",
        "Cara Mendes",
        "Carl Novak",
    }
    text = detail.document.toPlainText()
    assert text.count("✔ signature valid") == 3
    # the verdict stays with the ceremony when the registers are read again
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        page.refresh()
    assert detail.verdict.isVisible() and detail.verdict.text().startswith("✔ Verified")


def test_print_record_to_a_folder(
    qtbot: Any, page: Any, made: CeremonyOutcome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path))
    )
    assert page.select_ceremony(made.ceremony.id)
    page.ceremony_detail.print_button.click()
    dialog = page.findChild(PaperOutputDialog)
    assert dialog is not None and dialog.isVisible()
    # no printer is configured on the test workstation: only a folder can be chosen
    assert not dialog.to_printer.isEnabled()
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()
    dialog.choose.click()
    assert dialog.folder.text() == str(tmp_path) and ok.isEnabled()
    ok.click()
    qtbot.waitUntil(lambda: page.last_delivery is not None, timeout=WAIT)
    (written,) = page.last_delivery.files
    path = Path(written)
    assert path.parent == tmp_path and path.name == f"ceremony-{made.ceremony.id[:12]}.pdf"
    assert path.read_bytes().startswith(b"%PDF")
    assert page.status.text() == f"The ceremony record was written to {path}."


class FakePrinter:
    """A configured printer that keeps what it is sent."""

    printer = "Office laser"

    def __init__(self) -> None:
        self.jobs: list[tuple[str, bytes]] = []

    def submit(self, pdf: bytearray, *, title: str) -> str:
        self.jobs.append((title, bytes(pdf)))
        return f"job-{len(self.jobs)}"


def test_print_record_on_the_configured_printer(
    qtbot: Any, page: Any, made: CeremonyOutcome, monkeypatch: pytest.MonkeyPatch
) -> None:
    printer = FakePrinter()
    services = page.state.services
    monkeypatch.setattr(services.ctx, "print_queue", printer)
    monkeypatch.setattr(services.ceremonies, "print_queue", printer)
    assert page.select_ceremony(made.ceremony.id)
    page.ceremony_detail.print_button.click()
    dialog = page.findChild(PaperOutputDialog)
    assert dialog is not None and dialog.to_printer.isEnabled()
    assert dialog.to_printer.text() == "Print on Office laser"
    dialog.to_printer.setChecked(True)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: page.last_delivery is not None, timeout=WAIT)
    assert page.last_delivery.print_jobs == ("job-1",)
    ((title, pdf),) = printer.jobs
    assert title == f"Ceremony record {made.ceremony.id[:12]}" and pdf.startswith(b"%PDF")
    assert page.status.text() == "The ceremony record was sent to the printer (print jobs job-1)."


def test_envelope_events_through_the_page(
    qtbot: Any,
    page: Any,
    app_state: Any,
    gui_world: GuiWorld,
    made: CeremonyOutcome,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cara = next(e for e in made.envelopes if e.custodian_name == "Cara Mendes")
    serial = cara.serial
    page.tabs.setCurrentIndex(1)
    assert page.select_envelope(serial)
    detail = page.envelope_detail
    model = page.envelope_model
    row = model.row_of(serial)
    assert [model.index(row, c).data() for c in range(6)] == [
        serial,
        "component 1 of 2",
        cara.key_label,
        "Cara Mendes",
        "Printed",
        "",
    ]
    # only the events that can come next are offered
    assert detail.next_events() == [EnvelopeState.SEALED, EnvelopeState.DESTROYED]

    # Seal…: asks the bag's number; Olivia alone is not enough, Cara co-signs
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("TEB-1001", True)))
    detail.event_buttons[EnvelopeState.SEALED].click()
    co_sign(qtbot, gui_world, "cara", 1)
    qtbot.waitUntil(
        lambda: shown_envelope(page, serial).state is EnvelopeState.SEALED, timeout=WAIT
    )
    assert model.index(model.row_of(serial), model.BAG).data() == "TEB-1001"
    assert page.status.text() == f"Envelope {serial} sealed in bag TEB-1001."
    assert detail.current.serial == serial  # the selection stays
    assert detail.next_events() == [EnvelopeState.HANDED_OVER, EnvelopeState.DESTROYED]
    assert "Cara Mendes must be logged on (logged on now)" in detail.needs.text()
    assert detail.needs.text().startswith(
        "Each event needs 1 security officer + 1 key custodian or supervisor: met."
    )

    # Hand over: Olivia and Cara are here
    detail.event_buttons[EnvelopeState.HANDED_OVER].click()
    qtbot.waitUntil(
        lambda: shown_envelope(page, serial).state is EnvelopeState.HANDED_OVER, timeout=WAIT
    )

    # Cara leaves; Receive with Carl co-signing is refused by the service: it is Cara's
    with qtbot.waitSignal(app_state.session_changed, timeout=WAIT):
        gui_world.remove(1)
    qtbot.waitUntil(lambda: "Cara Mendes is not now" in detail.needs.text(), timeout=WAIT)
    detail.event_buttons[EnvelopeState.RECEIVED].click()
    co_sign(qtbot, gui_world, "carl", 2)
    box = error_box(qtbot, page)
    assert box.windowTitle() == "Not allowed by policy"
    assert box.text() == (
        f"Envelope {serial} is Cara Mendes's: Cara Mendes must be logged on when it is received."
    )
    box.close()
    now = on_device(qtbot, app_state, lambda s: gui_world.services.ceremonies.envelope(s, serial))
    assert now.state is EnvelopeState.HANDED_OVER  # nothing changed
    assert shown_envelope(page, serial).state is EnvelopeState.HANDED_OVER

    # Cara is back: receive, then open
    with qtbot.waitSignal(app_state.session_changed, timeout=WAIT):
        app_state.log_on(gui_world.insert("cara", 1), pin())
    for event in (EnvelopeState.RECEIVED, EnvelopeState.OPENED):
        qtbot.waitUntil(lambda e=event: e in detail.next_events(), timeout=WAIT)
        detail.event_buttons[event].click()
        qtbot.waitUntil(
            lambda e=event: shown_envelope(page, serial).state is e,
            timeout=WAIT,
        )
    assert detail.next_events() == [EnvelopeState.DESTROYED]
    assert [e.state for e in detail.current.events] == [
        EnvelopeState.PRINTED,
        EnvelopeState.SEALED,
        EnvelopeState.HANDED_OVER,
        EnvelopeState.RECEIVED,
        EnvelopeState.OPENED,
    ]
    history = detail.history.toPlainText()
    assert "Handed over" in history and "Opened" in history
    assert detail.current.events[-1].people == ("Olivia Grant", "Carl Novak", "Cara Mendes")

    # the audit log has one entry per event, none for the refused one
    entries = on_device(
        qtbot, app_state, lambda s: gui_world.services.audit.search(s, object_id=serial)
    )
    assert [e.action for e in entries] == [
        "envelope.sealed",
        "envelope.handed_over",
        "envelope.received",
        "envelope.opened",
    ]
    assert entries[0].body["details"]["bag"] == "TEB-1001"

    # the state filter narrows the register
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        page.envelope_filter.setCurrentIndex(page.envelope_filter.findData("opened"))
    assert [e.serial for e in records(page.envelope_model)] == [serial]


def test_acknowledgement_form_to_a_folder(
    qtbot: Any, page: Any, made: CeremonyOutcome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = made.envelopes[1].serial
    assert page.select_envelope(serial)
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path))
    )
    page.envelope_detail.acknowledgement_button.click()
    dialog = page.findChild(PaperOutputDialog)
    assert dialog is not None
    dialog.choose.click()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: page.last_delivery is not None, timeout=WAIT)
    assert Path(page.last_delivery.files[0]).name == f"acknowledgement-{serial}.pdf"
    # the folder is remembered for the next document
    page.envelope_detail.acknowledgement_button.click()
    again = [d for d in page.findChildren(PaperOutputDialog) if d.isVisible()]
    assert again and again[0].folder.text() == str(tmp_path)
    again[0].reject()


def test_component_holders_and_master_key_backup(
    qtbot: Any, page: Any, made: CeremonyOutcome
) -> None:
    assert made.key is not None
    page.tabs.setCurrentIndex(2)
    mine = [h for h in records(page.holding_model) if h.ceremony_id == made.ceremony.id]
    assert [(h.person_name, h.index, h.how) for h in mine] == [
        ("Cara Mendes", 1, "printed"),
        ("Carl Novak", 2, "printed"),
    ]
    model = page.holding_model
    row = records(model).index(mine[0])
    assert model.index(row, model.KEY).data() == made.key.label
    assert model.index(row, model.COMPONENT_KCV).data() == made.envelopes[0].secret_kcv
    started = made.ceremony.started_at.astimezone(UTC)
    assert model.index(row, model.CEREMONY).data() == f"generation {started:%Y-%m-%d %H:%M}"
    total = len(page.register.holdings)
    assert page.holding_count.text() == f"{total} holdings."
    page.person_filter.setCurrentIndex(page.person_filter.findData("Carl Novak"))
    assert {h.person_name for h in records(model)} == {"Carl Novak"}
    assert page.holding_count.text() == f"{model.rowCount()} of {total} holdings."
    page.person_filter.setCurrentIndex(0)
    page.key_filter.setCurrentIndex(page.key_filter.findData(made.key.label))
    assert {h.key_label for h in records(model)} == {made.key.label}
    assert {h.person_name for h in records(model)} == {"Cara Mendes", "Carl Novak"}
    assert page.backup_line.text().startswith("⚠ The master key has not been backed up.")
    page.show_backup(
        MasterKeyBackupInfo(
            set_id="3F2A",
            scheme="shares",
            threshold=2,
            count=3,
            created_at="2026-03-10T14:30:00.000000Z",
            ceremony_id="01" * 16,
            holders=((1, "Cara Mendes", "E-4"), (2, "Carl Novak", "E-5"), (3, "Chen Wei", "E-6")),
        )
    )
    assert page.backup_line.text() == (
        "✔ Master key backed up 2026-03-10 14:30 UTC as set 3F2A: any 2 of its 3 Shamir "
        "shares recover it. Holders: 1 Cara Mendes (envelope E-4), 2 Carl Novak (envelope "
        "E-5), 3 Chen Wei (envelope E-6)."
    )


def test_models_with_the_rows_read_from_the_services(qtmodeltester: Any, page: Any) -> None:
    for model in (page.ceremony_model, page.envelope_model, page.holding_model):
        assert model.rowCount() > 0
        qtmodeltester.check(model)


def test_logging_off_empties_the_page(qtbot: Any, page: Any, app_state: Any) -> None:
    assert page.ceremony_model.rowCount() > 0
    app_state.close_session()
    assert page.ceremony_model.rowCount() == 0
    assert page.envelope_model.rowCount() == 0
    assert page.holding_model.rowCount() == 0
    assert page.ceremony_detail.current is None
    assert page.status.text() == "Log on to see the ceremonies."


def test_toolbar_opens_the_ceremony_wizards(
    qtbot: Any, page: Any, made: CeremonyOutcome, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, Any]] = []
    fake = types.ModuleType(WIZARDS_MODULE)
    for name in (
        "open_generate_components",
        "open_enter_components",
        "open_export_components",
        "open_master_key_backup",
    ):
        setattr(fake, name, lambda state, parent, n=name, **kw: calls.append((n, kw)))
    monkeypatch.setitem(sys.modules, WIZARDS_MODULE, fake)
    assert made.key is not None
    assert page.select_ceremony(made.ceremony.id)
    for action in page.wizard_actions.values():
        action.trigger()
    assert calls == [
        ("open_generate_components", {}),
        ("open_enter_components", {}),
        ("open_export_components", {"key_label": made.key.label}),
        ("open_master_key_backup", {}),
    ]

    monkeypatch.setitem(sys.modules, WIZARDS_MODULE, None)  # not installed
    page.wizard_actions["open_generate_components"].trigger()
    box = page.findChild(QMessageBox, "ceremonyWizardsMissing")
    assert box is not None and "not installed" in box.text()


def test_main_window_has_the_tab_between_keys_and_administration(
    qtbot: Any, app_state: Any, made: CeremonyOutcome, gui_world: GuiWorld
) -> None:
    from workstation.gui.main_window import MainWindow

    window = MainWindow(app_state)
    qtbot.addWidget(window)
    page = window.ceremonies
    assert isinstance(page, CeremoniesPage)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles[titles.index("&Keys") + 1 : titles.index("Ad&ministration")] == [
        "&Ceremonies",
        "E&xchanges",
        "Ce&rtificates",
        "D&istribution",
        "Due d&ates",
    ]

    log_on(qtbot, app_state, gui_world, "olivia")
    window.resize(1280, 800)
    window.show()
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        window.tabs.setCurrentWidget(page)
    assert page.select_ceremony(made.ceremony.id)
    page.ceremony_detail.verify_button.click()
    qtbot.waitUntil(page.ceremony_detail.verdict.isVisible, timeout=WAIT)
    image = window.grab()
    assert image.width() == 1280 and not image.isNull()
    folder = os.environ.get("KCW_SCREENSHOT_DIR")
    if folder:
        image.save(str(Path(folder) / "ceremonies.png"))


# --- "Export record…": a security officer asks, the auditor co-signs with their card, the
# record is written where the file dialog said and verifies with the standalone verifier;
# an existing file is refused with the service's words.


def test_export_record_with_the_auditor_and_verify_it(
    qtbot: Any,
    page: Any,
    gui_world: GuiWorld,
    made: CeremonyOutcome,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "record.json"
    asked: list[dict[str, Any]] = []

    def save_file(*args: Any, **kwargs: Any) -> Path:
        asked.append({"args": args, **kwargs})
        return target

    monkeypatch.setattr(file_choice, "save_file", save_file)
    assert page.select_ceremony(made.ceremony.id)
    button = page.ceremony_detail.export_button
    assert button.text() == "Export record…" and button.isVisible()
    button.click()
    (call,) = asked
    assert call["kind"].value == "ceremony_records" and call["confirm_overwrite"] is False
    assert str(call["args"][2]).endswith(f"ceremony-{made.ceremony.id[:12]}.json")
    co_sign(qtbot, gui_world, "alex", 1)  # exporting for auditors needs an auditor
    qtbot.waitUntil(lambda: page.last_record_export is not None, timeout=WAIT)
    result = page.last_record_export
    assert result.path == target.resolve() and result.ceremony_id == made.ceremony.id
    assert f"written to {result.path}" in page.status.text()
    assert "workstation-audit-verify --ceremony" in page.status.text()

    key = tmp_path / "audit.pem"
    key.write_bytes(gui_world.services.audit.public_key_pem())
    assert audit_verify.main(["--ceremony", str(target), "--public-key", str(key)]) == 0

    # The same file again: refused, named, nothing overwritten.
    before = target.read_bytes()
    button.click()
    box = error_box(qtbot, page)
    assert "exists already" in box.text() or "exists already" in box.informativeText()
    assert target.read_bytes() == before
