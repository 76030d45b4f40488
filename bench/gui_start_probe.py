"""Started as a process by bench_gui_start.py: show a window, print 'shown', quit.

``bare``: a plain PySide6 main window. ``workstation HOME``: the workstation's logon
window, opened exactly as ``workstation --home HOME`` opens it (``gui.app.open_window``:
bootstrap, repository, card watch, main window)."""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    if sys.argv[1] == "bare":
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication, QMainWindow

        app = QApplication([sys.argv[0]])
        window = QMainWindow()
        window.resize(1280, 800)
        window.show()
        cleanup = None
    else:
        from workstation.gui.app import open_window

        app, window, cleanup = open_window(Path(sys.argv[2]), sys.argv[0])
        from PySide6.QtCore import QTimer
    QTimer.singleShot(0, lambda: (print("shown", flush=True), app.quit()))
    code = int(app.exec())
    if cleanup is not None:
        cleanup()
    return code


if __name__ == "__main__":
    sys.exit(main())
