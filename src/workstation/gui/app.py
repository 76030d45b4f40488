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
    """Build the services and show the logon window; returns (app, window, cleanup).

    Returns (app, None, cleanup) when the workstation cannot start (the reason was shown)."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    app = QApplication.instance() or QApplication([argv0])
    app.setApplicationName("Key Custodian Workstation")
    app.setOrganizationName("KCW")
    try:
        config, services = build(home)
    except WorkstationError as exc:
        QMessageBox.critical(None, "Key Custodian Workstation", exc.user_message())
        return app, None, lambda: None
    if not services.ctx.repository.exists():
        cli = Path(sys.executable).parent / "workstation-cli"
        QMessageBox.information(
            None,
            "Key Custodian Workstation",
            "This workstation is not initialised yet.\n\nTwo security officers initialise it "
            "with their cards in two readers:\n\n"
            f"{cli} --home {home} init --officer NAME --officer NAME\n\n"
            "Then start the workstation again.",
        )
        services.close()
        return app, None, lambda: None
    from PySide6.QtCore import QTimer

    from .main_window import MainWindow
    from .state import ActivityFilter, AppState

    state = AppState(services, home=home, demo=config.demo)
    window = MainWindow(state)
    state.start()
    window.show()
    # Key presses and clicks count as activity against the idle timeout. The filter sees
    # every event, so it is installed once the window is up, not during start-up.
    activity = ActivityFilter(state)
    state.setProperty("kcw_activity_filter", activity)  # kept alive with the state
    QTimer.singleShot(500, lambda: app.installEventFilter(activity))

    def cleanup() -> None:
        state.stop()
        services.close()

    return app, window, cleanup


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workstation", description="Key Custodian Workstation")
    parser.add_argument("--home", type=Path, default=None, help="workstation data directory")
    args, _qt_args = parser.parse_known_args(argv)
    home = (args.home or default_home()).resolve()
    app, window, cleanup = open_window(home, sys.argv[0])
    if window is None:
        return 1
    try:
        return int(app.exec())
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
