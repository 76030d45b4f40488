"""Closing the main window (real services: SoftHSM2, pcscd with virtual cards, SQLite).
In kiosk mode a close request (Alt+F4, the window manager, anything) logs everyone off and
the window and the application stay, with Session › Quit hidden and disabled; outside
kiosk mode the window closes as before, remembering its geometry."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QByteArray, QCoreApplication, Qt
from PySide6.QtGui import QCloseEvent

from tests.gui.conftest import GuiWorld
from tests.gui.helpers import WAIT, log_on

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]


def test_in_kiosk_mode_closing_logs_everyone_off_and_the_program_stays(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    from workstation.gui.main_window import LOGON, WORK, MainWindow

    window = MainWindow(app_state, kiosk=True)
    qtbot.addWidget(window)
    window.show()
    assert window.windowFlags() & Qt.WindowType.FramelessWindowHint
    assert not window.quit_action.isVisible() and not window.quit_action.isEnabled()
    log_on(qtbot, app_state, gui_world, "cara", "sam")
    qtbot.waitUntil(lambda: window.stack.currentIndex() == WORK, timeout=WAIT)
    quitting: list[bool] = []
    app = QCoreApplication.instance()
    assert app is not None
    app.aboutToQuit.connect(lambda: quitting.append(True))

    assert window.close() is False  # the close request is refused...
    # ...and logs everyone off (the window may open a new, empty session at once)
    qtbot.waitUntil(lambda: app_state.members == [], timeout=WAIT)
    assert window.isVisible() and window.stack.currentIndex() == LOGON
    # A close request with nobody logged on changes nothing either.
    event = QCloseEvent()
    window.closeEvent(event)
    assert not event.isAccepted() and window.isVisible()
    window.quit_action.trigger()  # disabled: does nothing
    assert window.isVisible()
    assert quitting == []
    # Only a start-up failure lets the kiosk window go (the session starts it again).
    window.may_close = True
    assert window.close() is True


def test_outside_kiosk_mode_closing_closes_the_window(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    from workstation.gui.main_window import WORK, MainWindow

    window = MainWindow(app_state)
    qtbot.addWidget(window)
    window.show()
    assert window.quit_action.isVisible() and window.quit_action.isEnabled()
    log_on(qtbot, app_state, gui_world, "cara")
    qtbot.waitUntil(lambda: window.stack.currentIndex() == WORK, timeout=WAIT)
    app_state.settings.remove("window/geometry")
    assert window.close() is True
    assert not window.isVisible()
    assert isinstance(app_state.settings.value("window/geometry"), QByteArray)
