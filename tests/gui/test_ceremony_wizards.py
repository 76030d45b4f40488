"""The paper ceremony wizards on the real services: components generated to PDF files,
read back with ``pdftotext`` and typed into the masked entry fields, the combined check
value confirmed, a wrong component refused with nothing stored, the live validation of
what is typed, an export and a master key backup."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QWizard,
)

from tests.gui.conftest import GuiWorld
from tests.gui.helpers import WAIT, log_on, on_device
from workstation.domain import components as comp
from workstation.domain.keys import KeyState
from workstation.services.ceremonies import CeremonyOutcome, PaperOutput

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

TDES = "Card verification key"  # TDES-2KEY, exportable, the policy's quorums
CUSTODIAN_COMPONENT = "0123 4567 89AB CDEF FEDC BA98 7654 3210"  # odd parity, KCV 08D7B4


@pytest.fixture(scope="module", autouse=True)
def renderer(gui_world: GuiWorld) -> Iterator[None]:
    """The GUI world is built without a document renderer: give it the PDF one."""
    from workstation.adapters.printing_reportlab import ReportlabRenderer

    services = gui_world.services
    before = services.ctx.renderer
    if before is None:
        services.ctx.renderer = ReportlabRenderer()
        services.__dict__.pop("ceremonies", None)
    yield
    services.ctx.renderer = before
    services.__dict__.pop("ceremonies", None)


# --- helpers -----------------------------------------------------------------------------


def error_text(wizard: Any, field: str) -> str:
    label = wizard.currentPage().findChild(QLabel, f"error_{field}")
    assert label is not None, field
    return str(label.text()) if label.isVisibleTo(wizard) else ""


def label_text(wizard: Any, name: str) -> str:
    label = wizard.currentPage().findChild(QLabel, name)
    assert label is not None, name
    return str(label.text())


def choose_template(qtbot: Any, wizard: Any, name: str, label: str = "") -> None:
    templates = wizard.findChild(QListWidget, "templateList")
    qtbot.waitUntil(lambda: templates.count() > 0, timeout=WAIT)
    wizard.template_page.select(name)
    wizard.template_page.label.setText(label)
    wizard.next()


def choose_custodians(qtbot: Any, wizard: Any, *names: str) -> None:
    page = wizard.currentPage()
    qtbot.waitUntil(lambda: page.loaded, timeout=WAIT)
    page.count.setValue(len(names))
    for number, name in enumerate(names, 1):
        page.choose(number, name)
    wizard.next()


def to_folder(wizard: Any, folder: Path) -> None:
    wizard.currentPage().set_directory(folder)
    wizard.next()


def start_and_wait(qtbot: Any, wizard: Any) -> None:
    page = wizard.currentPage()
    qtbot.waitUntil(lambda: "quorum is met" in page.quorum.status.text(), timeout=WAIT)
    wizard.next()  # the commit button
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def component_from_mailer(path: Path, digits: int) -> str:
    """The clear component on a mailer's inner part, in groups of four, as printed: the
    hex groups between the value's heading and its check value."""
    text = pdf_text(path)
    inner = text[text.index("VALUE:") : text.index("Check value (KCV)")].split("\n", 1)[1]
    groups = re.findall(r"\b[0-9A-F]{4}\b", inner)
    value = "".join(groups)[:digits]
    assert len(value) == digits
    return comp.format_groups(bytes.fromhex(value))


def paper_components(qtbot: Any, app_state: Any, folder: Path) -> tuple[CeremonyOutcome, list[str]]:
    """A TDES key generated as two components for Cara and Carl, printed to ``folder``;
    the components as read back from the PDFs."""
    outcome: CeremonyOutcome = on_device(
        qtbot,
        app_state,
        lambda s: app_state.services.ceremonies.generate_components(
            s, TDES, ["Cara Mendes", "Carl Novak"], output=PaperOutput(directory=folder)
        ),
    )
    files = [Path(f) for f in outcome.delivery.files]
    return outcome, [component_from_mailer(f, 32) for f in files]


def type_component(qtbot: Any, wizard: Any, number: int, text: str) -> None:
    page = wizard.component_page(number)
    assert wizard.currentPage() is page
    qtbot.keyClicks(page.edit, text)
    assert page.status.text().startswith("Complete — KCV ")
    wizard.next()
    # Accepted: the field is emptied at once (Qt keeps a QLineEdit's text otherwise).
    assert page.edit.text() == ""


def ceremonies_count(qtbot: Any, app_state: Any) -> int:
    return len(on_device(qtbot, app_state, app_state.services.ceremonies.ceremonies))


# --- generate as components --------------------------------------------------------------


def test_generate_components_to_a_folder_lists_the_envelopes_and_files(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, tmp_path: Path, monkeypatch: Any
) -> None:
    from workstation.gui.ceremony_wizards import open_generate_components

    log_on(qtbot, app_state, gui_world, "olivia", "cara", "carl")
    wizard = open_generate_components(app_state, None)
    qtbot.addWidget(wizard)
    assert wizard.windowTitle() == "Generate a key as components"
    templates = wizard.findChild(QListWidget, "templateList")
    qtbot.waitUntil(lambda: templates.count() > 0, timeout=WAIT)
    names = [templates.item(i).text() for i in range(templates.count())]
    assert TDES in names and "ATM EPP key pair" not in names  # secret keys only

    wizard.next()
    assert error_text(wizard, "template") == "Choose the template the key is made from."
    choose_template(qtbot, wizard, TDES, label="CVK-GUI-PAPER-1")
    assert wizard.currentId() == wizard.CUSTODIANS_PAGE

    page = wizard.custodians_page
    qtbot.waitUntil(lambda: page.loaded, timeout=WAIT)
    page.choose(1, "Cara Mendes")
    wizard.next()
    assert error_text(wizard, "custodian_2") == "Choose the custodian of component 2."
    page.choose(2, "Cara Mendes")
    wizard.next()
    assert error_text(wizard, "custodian_2") == (
        "Cara Mendes already holds component 1: each component goes to a different "
        "custodian (split knowledge)."
    )
    page.choose(2, "Chen Wei")  # not logged on: said at once, refused at the review
    assert label_text(wizard, "presence_2") == "not logged on"
    assert label_text(wizard, "presence_1") == "logged on"
    wizard.next()
    assert wizard.currentId() == wizard.OUTPUT_PAGE

    printer = wizard.findChild(QRadioButton, "outputPrinter")
    assert not printer.isEnabled()
    assert "No printer is configured" in printer.toolTip()
    assert wizard.findChild(QRadioButton, "outputFolder").isChecked()
    assert wizard.findChild(QLabel, "folderWarning").isVisibleTo(wizard)
    wizard.next()
    assert error_text(wizard, "directory") == "Choose the folder for the PDF files."
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path))
    wizard.findChild(QPushButton, "chooseFolder").click()
    assert label_text(wizard, "folderPath") == str(tmp_path)
    wizard.next()
    assert wizard.currentId() == wizard.REVIEW_PAGE

    review = wizard.review_page
    assert "✗ Chen Wei (component 2): NOT logged on" in review.presence.text()
    qtbot.waitUntil(lambda: "quorum is met" in review.quorum.status.text(), timeout=WAIT)
    wizard.next()
    assert wizard.currentId() == wizard.REVIEW_PAGE
    assert error_text(wizard, "presence") == (
        "Chen Wei is named for a component but not logged on: each named custodian logs on "
        "with their card before the ceremony starts."
    )
    wizard.back()
    wizard.back()
    page.choose(2, "Carl Novak")
    wizard.next()
    wizard.next()  # the folder is kept
    assert "✓ Carl Novak (component 2): logged on" in review.presence.text()
    assert label_text(wizard, "reviewComponent2") == "Carl Novak"
    start_and_wait(qtbot, wizard)

    result = wizard.result_page
    assert label_text(wizard, "resultKey") == "CVK-GUI-PAPER-1"
    ceremony_id = label_text(wizard, "resultCeremony")
    assert re.fullmatch("[0-9a-f]{32}", ceremony_id)
    rows = result.model.rows
    assert [r[1:3] for r in rows] == [
        ("Cara Mendes", "component 1 of 2"),
        ("Carl Novak", "component 2 of 2"),
    ]
    files = label_text(wizard, "resultFilesWritten").split("\n")
    assert files == [str(tmp_path / f"{serial}.pdf") for serial, *_ in rows]
    assert all(Path(f).stat().st_size > 1000 for f in files)
    assert "tamper-evident bag" in result.reminder.text()
    assert "Ceremonies page" in result.reminder.text()
    assert result.summary.text().startswith("Key CVK-GUI-PAPER-1 (KCV ")

    stored = on_device(
        qtbot, app_state, lambda s: app_state.services.keys.detail(s, "CVK-GUI-PAPER-1")
    )
    assert stored.key.state is KeyState.PRE_ACTIVATION
    assert label_text(wizard, "resultKeyCheckValue") == stored.key.kcv
    # Each mailer holds its own component, whose check value the envelope row shows.
    for (_, _, _, kcv), path in zip(rows, files, strict=True):
        component = bytes.fromhex(component_from_mailer(Path(path), 32).replace(" ", ""))
        assert comp.kcv_hex(comp.check_value(stored.key.algorithm, component)) == kcv


# --- enter from components ---------------------------------------------------------------


def test_enter_components_read_from_the_mailers_forms_the_key(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, tmp_path: Path
) -> None:
    from PySide6.QtWidgets import QLineEdit

    from workstation.gui.ceremony_wizards import open_enter_components

    log_on(qtbot, app_state, gui_world, "olivia", "cara", "carl")
    sent, components = paper_components(qtbot, app_state, tmp_path)
    assert sent.key is not None

    wizard = open_enter_components(app_state, None)
    qtbot.addWidget(wizard)
    flow = wizard.flow
    choose_template(qtbot, wizard, TDES, label="CVK-GUI-ENTERED-1")
    choose_custodians(qtbot, wizard, "Cara Mendes", "Carl Novak")
    assert wizard.currentId() == wizard.COMPONENT_PAGE + 1

    first = wizard.component_page(1)
    assert first.custodian.text() == "Cara Mendes"
    assert first.which.text() == "Component 1 of 2"
    assert first.custodian.font().pointSizeF() > first.instructions.font().pointSizeF()
    assert first.edit.echoMode() is QLineEdit.EchoMode.Password
    assert not first.isComplete()
    type_component(qtbot, wizard, 1, components[0])
    assert flow.component_kcvs[0] == sent.envelopes[0].secret_kcv
    second = wizard.component_page(2)
    assert second.custodian.text() == "Carl Novak"
    type_component(qtbot, wizard, 2, components[1])
    assert wizard.currentId() == wizard.KCV_PAGE

    kcv_page = wizard.kcv_page
    assert kcv_page.combined.text() == sent.key.kcv
    assert kcv_page.combined.font().pointSizeF() >= 2 * kcv_page.caption.font().pointSizeF()
    assert [r[:3] for r in kcv_page.model.rows] == [
        ("1 of 2", "Cara Mendes", sent.envelopes[0].secret_kcv),
        ("2 of 2", "Carl Novak", sent.envelopes[1].secret_kcv),
    ]
    held = flow.values
    wizard.next()
    assert error_text(wizard, "sender_kcv").startswith("Type the check value the sender gave")
    kcv_page.sender_edit.setText(sent.key.kcv.lower())
    qtbot.waitUntil(lambda: "quorum is met" in kcv_page.quorum.status.text(), timeout=WAIT)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)

    assert label_text(wizard, "resultKey") == "CVK-GUI-ENTERED-1"
    assert label_text(wizard, "resultKeyCheckValue") == sent.key.kcv
    assert "tamper-evident bag" in wizard.result_page.reminder.text()
    assert not wizard.result_page.table.isVisibleTo(wizard)  # no envelope printed
    # The components handed to the service are wiped, and the flow holds none.
    assert flow.values == [] and all(v == bytearray(16) for v in held)
    entered = on_device(
        qtbot, app_state, lambda s: app_state.services.keys.detail(s, "CVK-GUI-ENTERED-1")
    )
    assert entered.key.state is KeyState.PRE_ACTIVATION
    assert entered.key.kcv == sent.key.kcv
    assert entered.key.id != sent.key.id


def test_a_wrong_component_shows_the_kcv_mismatch_and_stores_nothing(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, tmp_path: Path
) -> None:
    from workstation.gui.ceremony_wizards import open_enter_components

    log_on(qtbot, app_state, gui_world, "olivia", "cara", "carl")
    sent, components = paper_components(qtbot, app_state, tmp_path)
    assert sent.key is not None
    # One typing slip that keeps every byte's parity odd: two bits of the first byte.
    wrong = bytearray.fromhex(components[1].replace(" ", ""))
    wrong[0] ^= 0x03
    before = ceremonies_count(qtbot, app_state)

    wizard = open_enter_components(app_state, None)
    qtbot.addWidget(wizard)
    choose_template(qtbot, wizard, TDES)
    choose_custodians(qtbot, wizard, "Cara Mendes", "Carl Novak")
    type_component(qtbot, wizard, 1, components[0])
    type_component(qtbot, wizard, 2, comp.format_groups(wrong))
    kcv_page = wizard.kcv_page
    combined = kcv_page.combined.text()
    assert re.fullmatch("[0-9A-F]{6}", combined) and combined != sent.key.kcv

    kcv_page.sender_edit.setText(sent.key.kcv)
    wizard.next()
    assert wizard.currentId() == wizard.KCV_PAGE
    assert error_text(wizard, "sender_kcv") == (
        f"The components combine to a key with check value {combined}; the sender's is "
        f"{sent.key.kcv}. Nothing was stored: check each component against its mailer."
    )
    assert ceremonies_count(qtbot, app_state) == before

    # Carl types his component again; the right one gives the sender's check value.
    wizard.back()
    assert wizard.currentId() == wizard.COMPONENT_PAGE + 2
    assert "is held (KCV" in wizard.component_page(2).held.text()
    type_component(qtbot, wizard, 2, components[1])
    assert kcv_page.combined.text() == sent.key.kcv


def test_a_refused_store_wipes_the_components_and_asks_for_them_again(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, tmp_path: Path
) -> None:
    from workstation.gui.ceremony_wizards import open_enter_components

    log_on(qtbot, app_state, gui_world, "olivia", "cara", "carl")
    sent, components = paper_components(qtbot, app_state, tmp_path)
    assert sent.key is not None
    before = ceremonies_count(qtbot, app_state)
    wizard = open_enter_components(app_state, None)
    qtbot.addWidget(wizard)
    # The label of a key that exists: only the service knows, once the ceremony runs.
    choose_template(qtbot, wizard, TDES, label=sent.key.label)
    choose_custodians(qtbot, wizard, "Cara Mendes", "Carl Novak")
    type_component(qtbot, wizard, 1, components[0])
    type_component(qtbot, wizard, 2, components[1])
    held = wizard.flow.values
    kcv_page = wizard.kcv_page
    kcv_page.sender_edit.setText(sent.key.kcv)
    qtbot.waitUntil(lambda: "quorum is met" in kcv_page.quorum.status.text(), timeout=WAIT)
    wizard.next()

    def refused() -> bool:
        box = wizard.findChild(QMessageBox, "errorBox")
        return box is not None and box.isVisible()

    qtbot.waitUntil(refused, timeout=WAIT)
    box = wizard.findChild(QMessageBox, "errorBox")
    assert box.text() == f"A key labelled {sent.key.label} already exists."
    box.accept()
    assert wizard.currentId() == wizard.KCV_PAGE
    assert all(v == bytearray(16) for v in held) and wizard.flow.values == []
    assert "components typed have been wiped" in error_text(wizard, "components")
    again = kcv_page.again
    assert again.isVisibleTo(wizard)
    again.click()
    assert wizard.currentId() == wizard.COMPONENT_PAGE + 1
    assert not wizard.component_page(1).isComplete()  # nothing held any more
    assert ceremonies_count(qtbot, app_state) == before


def test_the_masked_field_checks_what_is_typed_as_it_is_typed(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    from workstation.gui.ceremony_wizards import open_enter_components
    from workstation.gui.wizards import ERROR_STYLE, GOOD_STYLE

    log_on(qtbot, app_state, gui_world, "olivia", "cara", "carl")
    wizard = open_enter_components(app_state, None)
    flow = wizard.flow
    choose_template(qtbot, wizard, TDES)
    choose_custodians(qtbot, wizard, "Cara Mendes", "Carl Novak")
    page = wizard.component_page(1)
    edit, status = page.edit, page.status
    next_button = wizard.button(QWizard.WizardButton.NextButton)
    # Masked, and nothing on the page can show it.
    assert edit.echoMode() is QLineEdit.EchoMode.Password
    assert page.findChildren(QCheckBox) == [] and edit.actions() == []
    assert status.text() == "0 of 32 hex digits"

    qtbot.keyClicks(edit, "0123 4567 89AB")
    assert status.text() == "12 of 32 hex digits"
    assert status.styleSheet() == "" and not next_button.isEnabled()

    edit.setText("0123 45G7")
    assert status.text() == "Component contains 'G' at position 7, which is not a hex digit."
    assert status.styleSheet() == ERROR_STYLE and not next_button.isEnabled()

    edit.setText(CUSTODIAN_COMPONENT + " 01")
    assert status.text() == "Component is 34 hex digits long; a TDES-2KEY component has 32."
    assert status.styleSheet() == ERROR_STYLE

    edit.setText(CUSTODIAN_COMPONENT.replace("0123", "0023", 1))
    assert status.text().startswith("Component has wrong (even) parity in byte 1;")
    assert status.styleSheet() == ERROR_STYLE and not next_button.isEnabled()

    edit.setText(CUSTODIAN_COMPONENT.lower())
    assert status.text() == "Complete — KCV 08D7B4"
    assert status.styleSheet() == GOOD_STYLE and next_button.isEnabled()
    page.envelope.setText("KCW E 1")
    wizard.next()
    assert wizard.currentId() == wizard.COMPONENT_PAGE + 1
    assert error_text(wizard, "envelope").startswith("An envelope serial has letters")
    page.envelope.setText("kcw-e-000001")
    wizard.next()
    assert wizard.currentId() == wizard.COMPONENT_PAGE + 2
    assert edit.text() == "" and flow.envelopes[0] == "KCW-E-000001"

    # Cancel: what the flow holds is overwritten.
    held = flow.values
    assert len(held) == 1 and held[0] != bytearray(16)
    wizard.reject()
    assert held[0] == bytearray(16) and flow.values == []


# --- export and master key backup --------------------------------------------------------


def test_export_a_key_as_components(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, tmp_path: Path
) -> None:
    from workstation.gui.ceremony_wizards import open_export_components

    log_on(qtbot, app_state, gui_world, "cara", "carl", "sam")
    made = on_device(qtbot, app_state, lambda s: app_state.services.keys.generate(s, TDES))
    key = made.keys[0]
    wizard = open_export_components(app_state, None, key_label=key.label)
    qtbot.addWidget(wizard)
    assert wizard.windowTitle() == f"Export key {key.label} as components"
    qtbot.waitUntil(lambda: wizard.flow.detail is not None, timeout=WAIT)
    assert label_text(wizard, "keyKeyCheckValue") == key.kcv
    wizard.next()
    choose_custodians(qtbot, wizard, "Cara Mendes", "Carl Novak")
    to_folder(wizard, tmp_path)
    assert "✓ Cara Mendes (component 1): logged on" in wizard.review_page.presence.text()
    start_and_wait(qtbot, wizard)
    assert label_text(wizard, "resultKey") == key.label
    files = label_text(wizard, "resultFilesWritten").split("\n")
    assert len(files) == 2 and all(Path(f).exists() for f in files)
    assert [r[1] for r in wizard.result_page.model.rows] == ["Cara Mendes", "Carl Novak"]
    assert wizard.result_page.summary.text().endswith("The key itself is unchanged.")


def test_back_up_the_master_key_as_two_of_three_shares(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, tmp_path: Path
) -> None:
    from workstation.gui.ceremony_wizards import open_master_key_backup

    log_on(qtbot, app_state, gui_world, "olivia", "sam", "cara", "carl", "chen")
    wizard = open_master_key_backup(app_state, None)
    qtbot.addWidget(wizard)
    choose_custodians(qtbot, wizard, "Cara Mendes", "Carl Novak", "Chen Wei")
    assert wizard.currentId() == wizard.SCHEME_PAGE
    scheme = wizard.scheme_page
    assert scheme.threshold.maximum() == 3
    scheme.threshold.setValue(2)
    assert scheme.explained.text() == (
        "Any 2 of the 3 holders recover the backup; fewer learn nothing."
    )
    wizard.next()
    to_folder(wizard, tmp_path)
    assert "2 of 3 shares" in wizard.review_page.summary.text()
    start_and_wait(qtbot, wizard)
    rows = wizard.result_page.model.rows
    assert [(r[1], r[2]) for r in rows] == [
        ("Cara Mendes", "share 1 of 3"),
        ("Carl Novak", "share 2 of 3"),
        ("Chen Wei", "share 3 of 3"),
    ]
    assert label_text(wizard, "resultKey").startswith("Workstation master key (backup set ")
    info = on_device(qtbot, app_state, app_state.services.ceremonies.master_key_backup)
    assert info is not None and (info.threshold, info.count) == (2, 3)
    assert [name for _, name, _ in info.holders] == ["Cara Mendes", "Carl Novak", "Chen Wei"]
