"""Logon screen and session panel, through the real services, SoftHSM2, pcscd and virtual
PIV cards: the reader list follows insertions, a PIN logs on, a wrong PIN says the tries
left, unknown and blocked cards say so, and group logon adds a card holder."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from tests.gui.conftest import GuiWorld, pin
from workstation.domain.policy import Action
from workstation.gui.logon import CardLogonForm, LogonScreen
from workstation.gui.session_panel import AddCardHolderDialog, SessionPanel

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

WAIT = 10_000


def row_texts(form: CardLogonForm) -> list[str]:
    return [form.reader_list.item(i).text() for i in range(form.reader_list.count())]


def wait_for_card(qtbot: Any, form: CardLogonForm, text: str) -> None:
    qtbot.waitUntil(lambda: any(text in t for t in row_texts(form)), timeout=WAIT)


def type_pin(qtbot: Any, edit: QLineEdit, digits: str) -> None:
    qtbot.waitUntil(edit.isEnabled, timeout=WAIT)
    edit.setFocus()
    qtbot.keyClicks(edit, digits)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def logon_screen(qtbot: Any, app_state: Any) -> LogonScreen:
    screen = LogonScreen(app_state)
    qtbot.addWidget(screen)
    screen.resize(1000, 700)
    screen.show()
    return screen


def test_first_screen_says_what_to_do(qtbot: Any, app_state: Any) -> None:
    screen = logon_screen(qtbot, app_state)
    assert "Insert your card, choose it and enter your PIN." in screen.instructions.text()
    # Six readers (read on the device thread as the window opens), all empty: nothing to
    # choose, and the screen says to insert a card.
    qtbot.waitUntil(lambda: len(row_texts(screen.form)) == 6, timeout=WAIT)
    assert all(t.startswith("No card") for t in row_texts(screen.form))
    assert "Insert your card" in screen.form.card_status.text()
    assert not screen.pin_edit.isEnabled()
    assert screen.pin_edit.echoMode() is QLineEdit.EchoMode.Password


def test_inserted_card_shows_holder_and_pin_logs_on(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    screen = logon_screen(qtbot, app_state)
    reader = gui_world.insert("cara", 0)
    wait_for_card(qtbot, screen.form, "Cara Mendes — key custodian")
    assert any("card active · 3 PIN tries left" in t for t in row_texts(screen.form))
    chosen = screen.form.selected()
    assert chosen is not None and chosen.reader == reader  # chosen by itself
    assert screen.form.tries_label.text() == "3 PIN tries left before the card is blocked."

    # Digits only, at most 8: the validator drops the rest.
    screen.pin_edit.setFocus()
    qtbot.keyClicks(screen.pin_edit, "12ab3456789")
    assert screen.pin_edit.text() == "12345678"
    screen.pin_edit.clear()

    with qtbot.waitSignal(screen.form.logged_on, timeout=WAIT):
        type_pin(qtbot, screen.pin_edit, "123456")
    assert [m.name for m in app_state.members] == ["Cara Mendes"]
    assert screen.pin_edit.text() == ""
    assert screen.form.message.text() == "Cara Mendes logged on."
    wait_for_card(qtbot, screen.form, "Cara Mendes — logged on")


def test_wrong_pin_shows_the_tries_left(qtbot: Any, app_state: Any, gui_world: GuiWorld) -> None:
    screen = logon_screen(qtbot, app_state)
    gui_world.insert("carl", 1)
    wait_for_card(qtbot, screen.form, "Carl Novak — key custodian")
    with qtbot.waitSignal(screen.form.refused, timeout=WAIT) as refused:
        type_pin(qtbot, screen.pin_edit, "000000")
    assert refused.args[0].startswith("The PIN is not correct. 2 tries left")
    assert screen.form.message.text() == refused.args[0]
    assert app_state.members == []
    # The card is read again: the row and the label show the tries now left.
    wait_for_card(qtbot, screen.form, "2 PIN tries left")
    qtbot.waitUntil(lambda: screen.form.tries_label.text().startswith("2 PIN tries left"))

    with qtbot.waitSignal(screen.form.logged_on, timeout=WAIT):
        type_pin(qtbot, screen.pin_edit, "123456")  # the right PIN resets the counter
    assert [m.name for m in app_state.members] == ["Carl Novak"]


def test_unknown_card_is_named_as_such(qtbot: Any, app_state: Any, gui_world: GuiWorld) -> None:
    stranger = gui_world.cards.issue("Uma Stranger", "123456")
    screen = logon_screen(qtbot, app_state)
    gui_world.cards.insert(stranger, 2)
    wait_for_card(qtbot, screen.form, "Unknown card")
    qtbot.waitUntil(
        lambda: "This card is not enrolled on this workstation" in screen.form.card_status.text(),
        timeout=WAIT,
    )
    assert not screen.pin_edit.isEnabled()
    assert not screen.form.submit_button.isEnabled()


def test_blocked_card_says_so(qtbot: Any, app_state: Any, gui_world: GuiWorld) -> None:
    # Alex's card is used by this test only (the card's counter lives in its file).
    screen = logon_screen(qtbot, app_state)
    gui_world.insert("alex", 3)
    wait_for_card(qtbot, screen.form, "Alex Moreau — auditor")
    expected = ["2 tries left", "1 try left", "The card is now blocked"]
    for words in expected:
        with qtbot.waitSignal(screen.form.refused, timeout=WAIT) as refused:
            type_pin(qtbot, screen.pin_edit, "999999")
        assert words in refused.args[0]
        qtbot.waitUntil(lambda: not screen.form.directory.entries()[3].inspecting, timeout=WAIT)
    wait_for_card(qtbot, screen.form, "card blocked")
    assert "This card is blocked after too many wrong PINs" in screen.form.card_status.text()
    assert "PUK" in screen.form.card_status.text()  # the workstation cannot unblock it
    assert not screen.pin_edit.isEnabled()
    assert app_state.members == []


def log_on(qtbot: Any, app_state: Any, reader: str) -> None:
    done: list[Any] = []
    errors: list[BaseException] = []
    app_state.log_on(reader, pin(), on_done=done.append, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(done or errors), timeout=WAIT)
    assert not errors, errors


def test_group_logon_through_the_session_panel(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    log_on(qtbot, app_state, gui_world.insert("cara", 0))
    panel = SessionPanel(app_state)
    qtbot.addWidget(panel)
    panel.show()
    assert "Cara Mendes — key custodian" in panel.member_list.item(0).text()
    qtbot.waitUntil(
        lambda: (
            panel.requirement_text.text()
            == "Generate key needs 2 key custodians — still missing: 1 key custodian."
        ),
        timeout=WAIT,
    )

    panel.add_button.click()
    dialog = panel.add_dialog
    assert isinstance(dialog, AddCardHolderDialog)
    reader = gui_world.insert("chen", 4)
    wait_for_card(qtbot, dialog.form, "Chen Wei — key custodian")
    # Cara's own card is listed as logged on, not offered again.
    assert any(t.startswith("Cara Mendes — logged on") for t in row_texts(dialog.form))
    chosen = dialog.form.selected()
    assert chosen is not None and chosen.reader == reader
    with qtbot.waitSignal(dialog.accepted, timeout=WAIT):
        type_pin(qtbot, dialog.form.pin_edit, "123456")
    assert [m.name for m in app_state.members] == ["Cara Mendes", "Chen Wei"]
    assert panel.member_list.count() == 2
    qtbot.waitUntil(
        lambda: (
            panel.requirement_text.text()
            == "Generate key needs 2 key custodians — met by the people logged on."
        ),
        timeout=WAIT,
    )
    qtbot.waitUntil(lambda: "Chen Wei logged on" in panel.message.text(), timeout=WAIT)


def test_next_action_quorum_and_session_events(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    log_on(qtbot, app_state, gui_world.insert("cara", 0))
    log_on(qtbot, app_state, gui_world.insert("carl", 1))
    panel = SessionPanel(app_state)
    qtbot.addWidget(panel)
    panel.show()

    panel.set_action(Action.ACTIVATE_KEY)
    qtbot.waitUntil(
        lambda: (
            panel.requirement_text.text()
            == "Activate key needs 1 key custodian + 1 supervisor — still missing: 1 supervisor."
        ),
        timeout=WAIT,
    )
    panel.set_action(Action.DESTROY_KEY)
    qtbot.waitUntil(lambda: "still missing" in panel.requirement_text.text(), timeout=WAIT)
    assert "1 security officer" in panel.requirement_text.text()
    assert panel.template_combo.isEnabled()  # a key action: a template may set its quorum
    panel.set_action(Action.CHANGE_POLICY)
    assert not panel.template_combo.isEnabled()
    qtbot.waitUntil(
        lambda: panel.requirement_text.text().startswith(
            "Change policy needs 2 security officers — still missing: 2 security officer"
        ),
        timeout=WAIT,
    )
    # A key template may set its own quorum; the list comes from the services.
    panel.set_action(Action.GENERATE_KEY)
    qtbot.waitUntil(lambda: panel.template_combo.count() > 1, timeout=WAIT)
    panel.template_combo.setCurrentIndex(1)
    qtbot.waitUntil(lambda: "Generate key needs" in panel.requirement_text.text(), timeout=WAIT)

    # Carl pulls his card: he is dropped, the panel says so, and the quorum is short again.
    panel.set_action(Action.GENERATE_KEY)
    panel.template_combo.setCurrentIndex(0)
    with qtbot.waitSignal(app_state.session_changed, timeout=WAIT):
        gui_world.remove(1)
    qtbot.waitUntil(lambda: "Carl Novak's card was removed" in panel.message.text(), timeout=WAIT)
    qtbot.waitUntil(
        lambda: panel.requirement_text.text().endswith("still missing: 1 key custodian."),
        timeout=WAIT,
    )
    assert [m.name for m in app_state.members] == ["Cara Mendes"]

    with qtbot.waitSignal(app_state.session_changed, timeout=WAIT):
        panel.log_off_button.click()
    assert app_state.members == []
    assert panel.member_list.item(0).text() == "Nobody is logged on."


def test_logged_off_card_can_log_on_again(qtbot: Any, app_state: Any, gui_world: GuiWorld) -> None:
    screen = logon_screen(qtbot, app_state)
    gui_world.insert("chen", 2)
    wait_for_card(qtbot, screen.form, "Chen Wei — key custodian")
    with qtbot.waitSignal(screen.form.logged_on, timeout=WAIT):
        type_pin(qtbot, screen.pin_edit, "123456")
    wait_for_card(qtbot, screen.form, "Chen Wei — logged on")
    app_state.close_session()
    # The card stayed in: it is read again and offered for the next logon.
    wait_for_card(qtbot, screen.form, "Chen Wei — key custodian")
    with qtbot.waitSignal(screen.form.logged_on, timeout=WAIT):
        type_pin(qtbot, screen.pin_edit, "123456")
    assert [m.name for m in app_state.members] == ["Chen Wei"]


PAGES = ("dashboard", "inventory", "admin", "audit_view")


@pytest.mark.skipif(
    any(importlib.util.find_spec(f"workstation.gui.{page}") is None for page in PAGES),
    reason="the main window's other pages are not there yet",
)
def test_main_window_switches_to_the_work_area(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    from workstation.gui.main_window import LOGON, WORK, MainWindow

    window = MainWindow(app_state)
    qtbot.addWidget(window)
    window.show()
    assert window.stack.currentIndex() == LOGON
    gui_world.insert("cara", 0)
    wait_for_card(qtbot, window.logon.form, "Cara Mendes — key custodian")
    type_pin(qtbot, window.logon.pin_edit, "123456")
    qtbot.waitUntil(lambda: window.stack.currentIndex() == WORK, timeout=WAIT)
    assert window.session_dock.isVisible()
    window.session_panel.log_off_button.click()
    qtbot.waitUntil(lambda: window.stack.currentIndex() == LOGON, timeout=WAIT)
    QApplication.processEvents()
