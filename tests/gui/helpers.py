"""Steps the GUI tests share: log the cast on through AppState, call a service on the
device thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.gui.conftest import GuiWorld, pin
from workstation.services.session import Session

WAIT = 30_000


def log_on(qtbot: Any, app_state: Any, world: GuiWorld, *who: str) -> None:
    """Insert each person's card into readers 0, 1, ... and log them on in turn."""
    for index, person in enumerate(who):
        reader = world.insert(person, index)
        app_state.log_on(reader, pin())
        qtbot.waitUntil(lambda n=index + 1: len(app_state.members) == n, timeout=WAIT)


def on_device(qtbot: Any, app_state: Any, fn: Callable[[Session], Any]) -> Any:
    """Call a service on the device thread (where the session's cards live) and wait."""
    out: list[Any] = []
    errors: list[BaseException] = []
    app_state.run(
        lambda _: fn(app_state.ensure_session()), on_done=out.append, on_error=errors.append
    )
    qtbot.waitUntil(lambda: bool(out or errors), timeout=WAIT)
    if errors:
        raise errors[0]
    return out[0]
