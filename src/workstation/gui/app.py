"""``workstation``: the desktop application."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from workstation.config import default_home
from workstation.errors import WorkstationError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workstation", description="Key Custodian Workstation")
    parser.add_argument("--home", type=Path, default=None, help="workstation data directory")
    args, qt_args = parser.parse_known_args(argv)
    app = QApplication([sys.argv[0], *qt_args])
    app.setApplicationName("Key Custodian Workstation")
    app.setOrganizationName("KCW")
    home = (args.home or default_home()).resolve()
    try:
        from workstation.bootstrap import build

        config, services = build(home)
    except WorkstationError as exc:
        QMessageBox.critical(None, "Key Custodian Workstation", exc.user_message())
        return 1
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
        return 1
    from .main_window import MainWindow
    from .state import ActivityFilter, AppState

    state = AppState(services, home=home, demo=config.demo)
    activity = ActivityFilter(state)
    app.installEventFilter(activity)
    window = MainWindow(state)
    state.start()
    window.show()
    try:
        return app.exec()
    finally:
        state.stop()
        services.close()


if __name__ == "__main__":
    sys.exit(main())
