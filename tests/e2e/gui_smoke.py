"""Run by test_demo.py as a process: open the workstation window as ``workstation`` does
(deferred start) and report what it shows once the services answer."""

from __future__ import annotations

import sys
from pathlib import Path

from workstation.gui.app import open_window


def main() -> int:
    from PySide6.QtCore import QTimer

    app, window, cleanup = open_window(Path(sys.argv[1]))
    state = window.state
    result: dict[str, object] = {}

    def ready(report: object) -> None:
        def look() -> None:
            result.update(
                demo_panel=window.demo_dock is not None,
                readers=len(state.readers),
                page=window.stack.currentIndex(),
            )
            app.quit()

        QTimer.singleShot(500, look)  # the readers arrive just after the services

    state.ready.connect(ready)
    QTimer.singleShot(30_000, app.quit)  # bounded: never hang a test run
    app.exec()
    cleanup()
    print(
        f"demo_panel={result.get('demo_panel')} readers={result.get('readers')} "
        f"page={result.get('page')}"
    )
    return 0 if result else 1


if __name__ == "__main__":
    sys.exit(main())
