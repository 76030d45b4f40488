"""Dual control in the GUI: ``perform`` opens the co-sign dialog when people are missing;
the second custodian's card and PIN meet the quorum and the action runs; Cancel leaves
the action undone and the people who logged on in the session."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel

from tests.gui.conftest import GuiWorld, pin
from tests.gui.test_logon import WAIT, type_pin, wait_for_card
from workstation.domain.policy import Action
from workstation.gui.actions import perform
from workstation.gui.cosign import CoSignDialog
from workstation.gui.runner import JobControl

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]


def log_on(qtbot: Any, app_state: Any, reader: str) -> None:
    done: list[Any] = []
    app_state.log_on(reader, pin(), on_done=done.append, on_error=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT)
    assert not isinstance(done[0], BaseException), done[0]


def open_dialog(qtbot: Any) -> CoSignDialog:
    def visible() -> list[CoSignDialog]:
        return [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, CoSignDialog) and w.isVisible()
        ]

    qtbot.waitUntil(lambda: len(visible()) == 1, timeout=WAIT)
    return visible()[0]


class Recorder:
    """The action's work: records that it ran (on the device thread)."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.results: list[Any] = []

    def work(self, control: JobControl) -> str:
        self.ran.append("ran")
        return "done"


def test_second_custodian_meets_the_quorum_and_the_action_runs(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    log_on(qtbot, app_state, gui_world.insert("cara", 0))
    action = Recorder()
    perform(
        app_state,
        None,
        action=Action.GENERATE_KEY,
        title="Generate a key",
        work=action.work,
        on_done=action.results.append,
    )
    dialog = open_dialog(qtbot)
    assert dialog.heading.text() == "Generate key needs 2 key custodians."
    assert dialog.missing.text() == "Still missing: 1 key custodian."
    assert dialog.present.text() == "Logged on now: Cara Mendes."
    assert action.ran == []

    gui_world.insert("carl", 1)
    wait_for_card(qtbot, dialog.form, "Carl Novak — key custodian")
    # A wrong PIN is refused inline; the dialog stays open.
    with qtbot.waitSignal(dialog.form.refused, timeout=WAIT) as refused:
        type_pin(qtbot, dialog.form.pin_edit, "111111")
    assert refused.args[0].startswith("The PIN is not correct. 2 tries left")
    assert dialog.form.message.text() == refused.args[0]
    assert dialog.isVisible()
    wait_for_card(qtbot, dialog.form, "2 PIN tries left")

    with qtbot.waitSignal(dialog.accepted, timeout=WAIT):
        type_pin(qtbot, dialog.form.pin_edit, "123456")
    qtbot.waitUntil(lambda: action.results == ["done"], timeout=WAIT)
    assert action.ran == ["ran"]
    assert [m.name for m in app_state.members] == ["Cara Mendes", "Carl Novak"]


def test_unknown_card_is_named_in_the_dialog(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    log_on(qtbot, app_state, gui_world.insert("cara", 0))
    perform(app_state, None, action=Action.GENERATE_KEY, title="Generate", work=Recorder().work)
    dialog = open_dialog(qtbot)
    stranger = gui_world.cards.issue("Uma Stranger", "123456")
    gui_world.cards.insert(stranger, 2)
    wait_for_card(qtbot, dialog.form, "Unknown card")
    dialog.form.select_reader(gui_world.cards.reader(2))
    assert "This card is not enrolled on this workstation" in dialog.form.card_status.text()
    assert not dialog.form.pin_edit.isEnabled()
    with qtbot.waitSignal(dialog.rejected, timeout=WAIT):
        dialog.reject()


def test_cancel_leaves_the_action_undone_and_the_people_logged_on(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    log_on(qtbot, app_state, gui_world.insert("cara", 0))
    action = Recorder()
    perform(app_state, None, action=Action.EXPORT_KEY, title="Export", work=action.work)
    dialog = open_dialog(qtbot)
    assert dialog.heading.text() == "Export key needs 2 key custodians + 1 supervisor."
    note = dialog.findChild(QLabel, "coSignCancelNote")
    assert note is not None
    assert "Cancel: the action is not started" in note.text()

    gui_world.insert("chen", 1)
    wait_for_card(qtbot, dialog.form, "Chen Wei — key custodian")
    with qtbot.waitSignal(dialog.form.logged_on, timeout=WAIT):
        type_pin(qtbot, dialog.form.pin_edit, "123456")
    # Still short of a supervisor: the dialog asked the service again and stays open.
    qtbot.waitUntil(lambda: dialog.missing.text() == "Still missing: 1 supervisor.", timeout=WAIT)
    assert dialog.present.text() == "Logged on now: Cara Mendes, Chen Wei."
    assert dialog.isVisible()

    cancel = dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel)
    with qtbot.waitSignal(dialog.rejected, timeout=WAIT):
        cancel.click()
    assert action.ran == []
    assert [m.name for m in app_state.members] == ["Cara Mendes", "Chen Wei"]
    # The closed dialog no longer asks anything when the session changes.
    with qtbot.waitSignal(app_state.session_changed, timeout=WAIT):
        gui_world.remove(1)
    assert action.ran == []
