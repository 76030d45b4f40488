"""Started as a process by bench_gui_start.py: show a window, print 'shown', quit.

``bare``: a plain PySide6 main window. ``workstation HOME``: the workstation's logon
window, built as ``workstation --home HOME`` builds it (bootstrap, HSM login, repository,
card watch)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QWidget


def main() -> int:
    app = QApplication([sys.argv[0]])
    window: QWidget
    cleanup = []
    if sys.argv[1] == "bare":
        window = QMainWindow()
        window.resize(1280, 800)
    else:
        home = Path(sys.argv[2])
        from workstation.bootstrap import build
        from workstation.gui.main_window import MainWindow
        from workstation.gui.state import AppState

        config, services = build(home)
        state = AppState(services, home=home, demo=config.demo)
        window = MainWindow(state)
        state.start()
        cleanup = [state.stop, services.close]
    window.show()
    QTimer.singleShot(0, lambda: (print("shown", flush=True), app.quit()))
    code = app.exec()
    for fn in cleanup:
        fn()
    return code


if __name__ == "__main__":
    sys.exit(main())
