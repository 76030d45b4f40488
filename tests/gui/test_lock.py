"""The lock screen: a locked session shows only the reason and who may unlock; a member's
card and PIN unlock it; a wrong PIN is refused inline; Log off everyone ends it."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from tests.gui.conftest import GuiWorld, pin
from tests.gui.test_logon import WAIT, type_pin, wait_for_card
from workstation.gui.lock import LockScreen

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

IDLE = "idle for more than 300 seconds"


def log_on(qtbot: Any, app_state: Any, reader: str) -> None:
    done: list[Any] = []
    app_state.log_on(reader, pin(), on_done=done.append, on_error=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT)
    assert not isinstance(done[0], BaseException), done[0]


def lock_screen(qtbot: Any, app_state: Any) -> LockScreen:
    screen = LockScreen(app_state)
    qtbot.addWidget(screen)
    screen.resize(1000, 700)
    screen.show()
    return screen


def test_locked_session_shows_the_reason_and_unlocks_with_card_and_pin(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    log_on(qtbot, app_state, gui_world.insert("cara", 0))
    log_on(qtbot, app_state, gui_world.insert("carl", 1))
    # Cara pulls her card: she leaves the session; Carl stays, so it does not lock yet.
    with qtbot.waitSignal(app_state.session_changed, timeout=WAIT):
        gui_world.remove(0)
    assert [m.name for m in app_state.members] == ["Carl Novak"]
    assert not app_state.is_locked

    screen = lock_screen(qtbot, app_state)
    # What the session does when the policy's idle time passes.
    with qtbot.waitSignal(app_state.locked, timeout=WAIT):
        app_state.session.lock(IDLE)
    assert screen.reason.text() == f"Session locked: {IDLE}."
    assert "Carl Novak (card in KCW Virtual Reader 1 00 01)" in screen.who.text()
    assert "Cara" not in screen.who.text()

    # Cara comes back with her card: she left the session, so she may not unlock it.
    reader = gui_world.insert("cara", 0)
    wait_for_card(qtbot, screen.form, "Cara Mendes — key custodian")
    screen.form.select_reader(reader)
    with qtbot.waitSignal(screen.form.refused, timeout=WAIT) as refused:
        type_pin(qtbot, screen.form.pin_edit, "123456")
    assert "not in the locked session" in refused.args[0]
    assert app_state.is_locked

    # Carl, still in the session, unlocks with his PIN (a wrong one first).
    carl = app_state.members[0].reader
    wait_for_card(qtbot, screen.form, "Carl Novak — in the session")
    screen.form.select_reader(carl)
    with qtbot.waitSignal(screen.form.refused, timeout=WAIT) as refused:
        type_pin(qtbot, screen.form.pin_edit, "000000")
    assert refused.args[0].startswith("The PIN is not correct. 2 tries left")
    assert screen.form.message.text() == refused.args[0]
    assert app_state.is_locked
    with qtbot.waitSignal(app_state.unlocked, timeout=WAIT):
        type_pin(qtbot, screen.form.pin_edit, "123456")
    assert not app_state.is_locked
    assert [m.name for m in app_state.members] == ["Carl Novak"]
    assert screen.form.pin_edit.text() == ""


def test_member_unlocks_with_the_card_still_in_the_reader(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    reader = gui_world.insert("chen", 2)
    log_on(qtbot, app_state, reader)
    screen = lock_screen(qtbot, app_state)
    with qtbot.waitSignal(app_state.locked, timeout=WAIT):
        app_state.session.lock(IDLE)
    wait_for_card(qtbot, screen.form, "Chen Wei — in the session")
    chosen = screen.form.selected()
    assert chosen is not None and chosen.reader == reader  # the member's card, chosen
    outcome: list[Any] = []
    screen.form.logged_on.connect(outcome.append)
    screen.form.refused.connect(outcome.append)
    type_pin(qtbot, screen.form.pin_edit, "123456")
    qtbot.waitUntil(lambda: bool(outcome), timeout=WAIT)
    assert not isinstance(outcome[0], str), outcome[0]
    assert not app_state.is_locked


def test_log_off_everyone_from_the_lock_screen(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    log_on(qtbot, app_state, gui_world.insert("chen", 2))
    screen = lock_screen(qtbot, app_state)
    with qtbot.waitSignal(app_state.locked, timeout=WAIT):
        app_state.session.lock(IDLE)
    assert "Chen Wei" in screen.who.text()
    with qtbot.waitSignal(app_state.unlocked, timeout=WAIT):
        screen.log_off_button.click()
    assert app_state.members == []
    assert app_state.session is None


PAGES = ("dashboard", "inventory", "admin", "audit_view")


@pytest.mark.skipif(
    any(importlib.util.find_spec(f"workstation.gui.{page}") is None for page in PAGES),
    reason="the main window's other pages are not there yet",
)
def test_main_window_shows_only_the_lock_screen_while_locked(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    from workstation.gui.main_window import LOCKED, LOGON, WORK, MainWindow

    window = MainWindow(app_state)
    qtbot.addWidget(window)
    window.show()
    log_on(qtbot, app_state, gui_world.insert("cara", 0))
    qtbot.waitUntil(lambda: window.stack.currentIndex() == WORK, timeout=WAIT)
    with qtbot.waitSignal(app_state.locked, timeout=WAIT):
        app_state.session.lock(IDLE)
    assert window.stack.currentIndex() == LOCKED
    assert not window.session_dock.isVisible()  # nothing of the work area shows
    assert not window.tabs.isVisible()
    assert window.lock_screen.reason.text() == f"Session locked: {IDLE}."
    window.lock_screen.log_off_button.click()
    qtbot.waitUntil(lambda: window.stack.currentIndex() == LOGON, timeout=WAIT)
    assert app_state.members == []
