"""Render the main screens to docs/screenshots/*.png (``make screenshots``, under xvfb-run).

Runs the real workstation on a fresh demo home: SoftHSM2 token, pcscd with the virtual
readers, virtual PIV cards inserted through the demo card daemon, the real services.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QDialog, QWidget, QWizard

DEMO_PIN = bytearray(b"123456")


def wait_until(
    app: QApplication, condition: Callable[[], bool], what: str, timeout: float = 20.0
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.02)


def settle(app: QApplication, seconds: float = 0.4) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def save(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print(f"wrote {path}")


def top_dialog(app: QApplication) -> QWidget | None:
    for w in app.topLevelWidgets():
        if w.isVisible() and isinstance(w, QDialog | QWizard):
            return w
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kcw-shots-") as tmp:
        home = Path(tmp) / "home"
        demo = [sys.executable, "-m", "workstation.devtools.demo"]
        subprocess.run([*demo, "start", "--home", str(home)], check=True, stdout=subprocess.DEVNULL)
        try:
            return shoot(home, out)
        finally:
            subprocess.run(
                [*demo, "stop", "--home", str(home)], check=False, stdout=subprocess.DEVNULL
            )


def shoot(home: Path, out: Path) -> int:
    from workstation.bootstrap import build
    from workstation.devtools.vcard_cli import DaemonClient
    from workstation.domain.policy import Action
    from workstation.gui.actions import perform
    from workstation.gui.main_window import MainWindow
    from workstation.gui.state import AppState

    app = QApplication([sys.argv[0]])
    _config, services = build(home)
    settings = QSettings(str(home / "gui-shots.ini"), QSettings.Format.IniFormat)
    state = AppState(services, home=home, demo=True, settings=settings)
    window = MainWindow(state)
    window.resize(1280, 800)
    state.start()
    window.show()
    cards = DaemonClient(home / "vcard")

    def card(slug: str) -> Path:
        return home / "demo-cards" / f"{slug}.json"

    try:
        r0 = cards.insert(card("cara"), 0)
        wait_until(app, lambda: any(r.card_present for r in state.readers), "a card")
        settle(app, 1.0)
        save(window, out / "01-logon.png")

        done: list[object] = []
        state.log_on(r0, bytearray(DEMO_PIN), on_done=done.append)
        wait_until(app, lambda: len(done) == 1, "Cara's logon")
        r1 = cards.insert(card("carl"), 1)
        wait_until(app, lambda: sum(r.card_present for r in state.readers) == 2, "Carl's card")
        state.log_on(r1, bytearray(DEMO_PIN), on_done=done.append)
        wait_until(app, lambda: len(done) == 2, "Carl's logon")

        made: list[object] = []

        def generate(template: str, count: int) -> Callable[[object], object]:
            def work(_: object) -> object:
                assert state.session is not None
                return services.keys.generate(state.session, template, count=count)

            return work

        for template, count in (
            ("PIN encryption key", 12),
            ("MAC key", 8),
            ("Card verification key", 5),
            ("Zone master key (KEK)", 2),
        ):
            state.run(generate(template, count), on_done=made.append)
        wait_until(app, lambda: len(made) == 4, "key generation", timeout=60)
        state.data_changed.emit("keys")
        window.tabs.setCurrentWidget(window.dashboard)
        settle(app, 1.5)
        save(window, out / "02-dashboard.png")

        window.tabs.setCurrentWidget(window.keys)
        settle(app, 1.5)
        view = window.keys.findChild(QWidget, "keyTable")
        if view is not None and hasattr(view, "selectRow"):
            view.selectRow(0)
        settle(app, 1.5)
        save(window, out / "03-keys.png")

        # Dual control: activating needs a supervisor; the co-sign dialog asks for one.
        first = made[0]
        label = first.keys[0].label  # type: ignore[attr-defined]
        perform(
            state,
            window,
            action=Action.ACTIVATE_KEY,
            title="Activate key",
            work=lambda _: services.keys.change_state(
                state.session,
                label,  # type: ignore[arg-type]
                Action.ACTIVATE_KEY,
            ),
        )
        wait_until(app, lambda: top_dialog(app) is not None, "the co-sign dialog")
        settle(app, 1.0)
        dialog = top_dialog(app)
        assert dialog is not None
        save(dialog, out / "04-cosign.png")
        dialog.close()
        settle(app)

        window.tabs.setCurrentWidget(window.admin)
        settle(app, 1.5)
        save(window, out / "05-administration.png")
        window.tabs.setCurrentWidget(window.audit)
        settle(app, 1.5)
        save(window, out / "06-audit.png")

        from workstation.gui.wizards import GenerateKeyWizard

        wizard = GenerateKeyWizard(state, window)
        wizard.show()
        settle(app, 1.5)
        save(wizard, out / "07-generate-wizard.png")
        wizard.close()

        assert state.session is not None
        state.session.lock("idle for more than 300 seconds")
        state._check_lock()
        settle(app, 1.0)
        save(window, out / "08-locked.png")
    finally:
        state.stop()
        window.close()
        services.close()
        for i in range(6):
            with contextlib.suppress(Exception):  # an empty reader is fine here
                cards.remove(i)
    return 0


if __name__ == "__main__":
    sys.exit(main())
