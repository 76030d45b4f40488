"""The desktop application asks for the HSM user PIN itself when ``pin_source = "prompt"``:
a desktop session has no terminal to ask on. The PIN typed in the dialog reaches the HSM;
Quit ends the start before anything is built; other sources ask nothing."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from workstation.adapters.softhsm import SoftHsmToken
from workstation.bootstrap import build
from workstation.config import CONFIG_NAME
from workstation.gui.logon import HsmPinDialog, ask_hsm_pin_at_start

WAIT = 10_000


def configure(home: Path, hsm: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / CONFIG_NAME).write_text(textwrap.dedent(hsm))


PROMPT = """\
[hsm]
module = "/opt/vendor/lib/libvendorpkcs11.so"
token_label = "KCW prod"
pin_source = "prompt"
"""


@pytest.fixture()
def answer_dialog() -> Iterator[Callable[[Callable[[HsmPinDialog], None]], list[HsmPinDialog]]]:
    """Act on the HSM PIN dialog once it shows (it runs its own event loop): a timer looks
    for it every few milliseconds, acts once, and stops."""
    timers: list[QTimer] = []

    def arm(act: Callable[[HsmPinDialog], None]) -> list[HsmPinDialog]:
        seen: list[HsmPinDialog] = []
        timer = QTimer()
        timer.setInterval(10)

        def look() -> None:
            dialog = QApplication.activeModalWidget()
            if isinstance(dialog, HsmPinDialog) and dialog.isVisible() and not seen:
                seen.append(dialog)
                timer.stop()
                act(dialog)

        timer.timeout.connect(look)
        timer.start()
        timers.append(timer)
        return seen

    yield arm
    for timer in timers:
        timer.stop()


def type_and_start(qtbot: Any, pin: str) -> Callable[[HsmPinDialog], None]:
    def act(dialog: HsmPinDialog) -> None:
        assert not dialog.ok_button.isEnabled()  # nothing typed yet
        assert dialog.pin_edit.echoMode() == dialog.pin_edit.EchoMode.Password
        qtbot.keyClicks(dialog.pin_edit, pin)
        dialog.ok_button.click()

    return act


def quit_dialog(dialog: HsmPinDialog) -> None:
    dialog.buttons.rejected.emit()


def test_the_dialog_supplies_the_pin(qtbot: Any, tmp_path: Path, answer_dialog: Any) -> None:
    configure(tmp_path, PROMPT)
    seen = answer_dialog(type_and_start(qtbot, "hsm-pin-1234"))
    answer = ask_hsm_pin_at_start(tmp_path)
    assert answer.pin == "hsm-pin-1234" and not answer.cancelled
    (dialog,) = seen
    assert "'KCW prod'" in dialog.intro.text()
    assert dialog.pin_edit.text() == ""  # the field was emptied


def test_quit_on_the_dialog_cancels(qtbot: Any, tmp_path: Path, answer_dialog: Any) -> None:
    configure(tmp_path, PROMPT)
    seen = answer_dialog(quit_dialog)
    answer = ask_hsm_pin_at_start(tmp_path)
    assert answer.cancelled and answer.pin is None
    assert len(seen) == 1


@pytest.mark.parametrize(
    "hsm",
    [
        "",  # no [hsm]: the embedded token, whose PIN is in a file
        '[hsm]\nmodule = "/x.so"\npin_source = "file:hsm/user.pin"\n',
        '[hsm]\nmodule = "/x.so"\npin_source = "env:KCW_HSM_PIN"\n',
        "[hsm]\nmodlue = 1\n",  # unreadable: the start reports it, no dialog
    ],
)
def test_no_dialog_unless_the_configuration_says_prompt(
    qtbot: Any, tmp_path: Path, hsm: str
) -> None:
    configure(tmp_path, hsm)
    answer = ask_hsm_pin_at_start(tmp_path)
    assert answer.pin is None and not answer.cancelled
    assert QApplication.activeModalWidget() is None


def test_quit_ends_the_start_cleanly(qtbot: Any, tmp_path: Path, answer_dialog: Any) -> None:
    from workstation.gui.app import open_window

    configure(tmp_path, PROMPT)
    answer_dialog(quit_dialog)
    with pytest.raises(SystemExit) as ended:
        open_window(tmp_path)
    assert ended.value.code == 0
    assert not any(w.isVisible() for w in QApplication.topLevelWidgets())
    assert not (tmp_path / "logs").exists()  # nothing was built


@pytest.mark.hsm
def test_the_pin_from_the_dialog_logs_on_to_the_hsm(
    qtbot: Any,
    tmp_path: Path,
    hsm_token: SoftHsmToken,
    monkeypatch: pytest.MonkeyPatch,
    answer_dialog: Any,
) -> None:
    home = tmp_path / "home"
    configure(
        home,
        f"""\
        [hsm]
        module = "{hsm_token.module_path}"
        token_label = "{hsm_token.label}"
        pin_source = "prompt"
        [hsm.environment]
        SOFTHSM2_CONF = "{hsm_token.conf_path}"
        """,
    )

    def no_terminal_prompt(prompt: str = "") -> str:
        raise AssertionError(f"asked on a terminal: {prompt}")

    monkeypatch.setattr("getpass.getpass", no_terminal_prompt)
    answer_dialog(type_and_start(qtbot, hsm_token.read_user_pin()))
    answer = ask_hsm_pin_at_start(home)
    handlers = list(logging.getLogger("workstation").handlers)
    config, services = build(home, hsm_pin=answer.pin)
    try:
        assert services.ctx.hsm.info().token_label == hsm_token.label
        assert not services.ctx.hsm.has_workstation_keys()
    finally:
        services.close()
        for handler in logging.getLogger("workstation").handlers:
            if handler not in handlers:  # the log file this build set up, in tmp_path
                logging.getLogger("workstation").removeHandler(handler)
                handler.close()
    assert config.hsm is not None and config.hsm.pin_source == "prompt"
