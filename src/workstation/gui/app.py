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
from workstation.config import default_home
from workstation.errors import WorkstationError


def open_window(home: Path, argv0: str = "workstation") -> tuple[Any, Any, Callable[[], None]]:
    """Show the logon window, then build the services on the device thread (configuration,
    logging, repository, readers): the window opens without waiting for them. Returns
    (app, window, cleanup)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from .main_window import MainWindow
    from .state import ActivityFilter, AppState, StartupReport

    app = QApplication.instance() or QApplication([argv0])
    app.setApplicationName("Key Custodian Workstation")
    app.setOrganizationName("KCW")
    state = AppState(None, home=home, build=lambda: build(home))
    window = MainWindow(state)

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
            app.quit()
            return
        if report.demo:
            window.add_demo_panel()

    def failed(exc: BaseException) -> None:
        message = exc.user_message() if isinstance(exc, WorkstationError) else str(exc)
        QMessageBox.critical(window, "Key Custodian Workstation", message)
        app.quit()

    state.ready.connect(ready)
    state.startup_failed.connect(failed)
    state.start()
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
    args, _qt_args = parser.parse_known_args(argv)
    home = (args.home or default_home()).resolve()
    app, _window, cleanup = open_window(home, sys.argv[0])
    try:
        return int(app.exec())
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
