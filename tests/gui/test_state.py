"""AppState: logon on the device thread, card removal drops the member, idle lock."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gui.conftest import GuiWorld, pin

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]


def test_log_on_and_card_removal(qtbot: Any, app_state: Any, gui_world: GuiWorld) -> None:
    reader = gui_world.insert("cara", 0)
    qtbot.waitUntil(lambda: any(r.card_present for r in app_state.readers), timeout=5000)
    with qtbot.waitSignal(app_state.session_changed, timeout=10_000):
        app_state.log_on(reader, pin())
    assert [m.name for m in app_state.members] == ["Cara Mendes"]
    with qtbot.waitSignal(app_state.locked, timeout=10_000):
        gui_world.remove(0)
    assert app_state.members == []


def test_wrong_pin_reports_tries_left(qtbot: Any, app_state: Any, gui_world: GuiWorld) -> None:
    reader = gui_world.insert("carl", 1)
    errors: list[BaseException] = []
    job = app_state.log_on(reader, pin("000000"), on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert "2 tries left" in str(errors[0])
    assert job is not None
    ok: list[Any] = []
    app_state.log_on(reader, pin(), on_done=ok.append)
    qtbot.waitUntil(lambda: bool(ok), timeout=10_000)
    assert ok[0].name == "Carl Novak"
