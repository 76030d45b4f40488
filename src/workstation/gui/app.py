"""``workstation``: the desktop application."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# The services are imported before Qt: PySide6 inspects every module imported after it
# (for its "feature" switches), which only costs start-up time for modules without Qt.
from workstation.bootstrap import build
from workstation.config import KioskConfig, default_home, load_config
from workstation.errors import WorkstationError


def kiosk_settings(home: Path, *, forced: bool) -> KioskConfig | None:
    """The kiosk settings when kiosk mode is on (``--kiosk`` or ``[kiosk] enabled``).

    A configuration that cannot be read still gives a kiosk with ``--kiosk`` (the default
    places); the start-up then reports what is wrong with the file."""
    try:
        settings = load_config(home).kiosk
    except WorkstationError:
        settings = KioskConfig()
    if forced or settings.enabled:
        return KioskConfig(True, settings.media_roots, settings.outbox)
    return None


ICON_NAME = "key-custodian-workstation"


def application_icon() -> Any:
    """The icon the package installs in the hicolor theme; from a checkout, the same file
    in resources/."""
    from PySide6.QtGui import QIcon

    checkout = Path(__file__).resolve().parents[3] / "resources" / f"{ICON_NAME}.svg"
    fallback = QIcon(str(checkout)) if checkout.exists() else QIcon()
    return QIcon.fromTheme(ICON_NAME, fallback)


def open_window(
    home: Path, argv0: str = "workstation", *, kiosk: bool = False
) -> tuple[Any, Any, Callable[[], None]]:
    """Show the logon window, then build the services on the device thread (configuration,
    logging, repository, readers): the window opens without waiting for them. Returns
    (app, window, cleanup). ``kiosk`` forces kiosk mode (docs/kiosk.md); the
    configuration may also turn it on."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from .main_window import MainWindow
    from .state import ActivityFilter, AppState, StartupReport

    app = QApplication.instance() or QApplication([argv0])
    app.setApplicationName("Key Custodian Workstation")
    app.setOrganizationName("KCW")
    QApplication.setWindowIcon(application_icon())
    from . import file_choice
    from .logon import ask_hsm_pin_at_start

    hsm = ask_hsm_pin_at_start(home)  # pin_source = "prompt": a dialog here, no terminal
    if hsm.cancelled:
        raise SystemExit(0)  # Quit on the HSM PIN dialog: nothing was started
    state = AppState(None, home=home, build=lambda: build(home, hsm_pin=hsm.pin))
    kiosk_config = kiosk_settings(home, forced=kiosk)
    if kiosk_config is not None:
        places = file_choice.Kiosk(
            outbox=Path(kiosk_config.outbox)
            if Path(kiosk_config.outbox).is_absolute()
            else home / kiosk_config.outbox,
            media_roots=tuple(Path(r) for r in kiosk_config.media_roots),
        )
        file_choice.configure(places)
        places.follow_policy(state)
    window = MainWindow(state, kiosk=kiosk_config is not None)

    def ready(report: StartupReport) -> None:
        if not report.initialised:
            cli = Path(sys.executable).parent / "workstation-cli"
            QMessageBox.information(
                window,
                "Key Custodian Workstation",
                "This workstation is not initialised yet.\n\nTwo security officers "
                "initialise it with their cards in two readers:\n\n"
                f"{cli} --home {home} init --officer NAME --officer NAME\n\n"
                "Then start the workstation again.",
            )
            window.may_close = True
            app.quit()
            return
        if report.demo:
            window.add_demo_panel()

    def failed(exc: BaseException) -> None:
        message = exc.user_message() if isinstance(exc, WorkstationError) else str(exc)
        QMessageBox.critical(window, "Key Custodian Workstation", message)
        window.may_close = True
        app.quit()

    state.ready.connect(ready)
    state.startup_failed.connect(failed)
    state.start()
    if window.kiosk:
        window.showFullScreen()
    else:
        window.show()
    # Key presses and clicks count as activity against the idle timeout. The filter sees
    # every event, so it is installed once the window is up, not during start-up.
    activity = ActivityFilter(state)
    state.setProperty("kcw_activity_filter", activity)  # kept alive with the state
    QTimer.singleShot(500, lambda: app.installEventFilter(activity))

    def cleanup() -> None:
        state.stop()
        if state.started:
            state.services.close()

    return app, window, cleanup


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workstation", description="Key Custodian Workstation")
    parser.add_argument("--home", type=Path, default=None, help="workstation data directory")
    parser.add_argument(
        "--kiosk",
        action="store_true",
        help="kiosk mode: full screen, closing logs off, files only in the outbox and on "
        "removable media (docs/kiosk.md); also [kiosk] enabled = true in workstation.toml",
    )
    args, _qt_args = parser.parse_known_args(argv)
    home = (args.home or default_home()).resolve()
    app, _window, cleanup = open_window(home, sys.argv[0], kiosk=args.kiosk)
    try:
        return int(app.exec())
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
