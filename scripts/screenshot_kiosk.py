"""Render the kiosk's confined export dialog to docs/screenshots/13-kiosk-export.png.

Run under Xvfb (``make screenshots`` does): ``xvfb-run -a .venv/bin/python
scripts/screenshot_kiosk.py``. The dialog is the real one (gui/file_choice.py) on a
temporary outbox and a temporary "medium" (a folder given as the mounted stick): the
policy allows audit exports on removable media, and a path typed outside the places was
just refused.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication, QSplitter

from workstation.domain.policy import MediaExport
from workstation.flows.kiosk_places import OutsideKioskPlaces
from workstation.gui.file_choice import Kiosk, KioskFileDialog, Mode

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "13-kiosk-export.png"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        outbox = base / "key-custodian-workstation" / "exports"
        outbox.mkdir(parents=True)
        (outbox / "audit-export-20261206-0910.jsonl").write_text("{}\n")
        (outbox / "due-dates-2026-12.ics").write_text("BEGIN:VCALENDAR\n")
        stick = base / "media" / "kcw-kiosk" / "KMS-USB-07"
        stick.mkdir(parents=True)
        (stick / "tr31-zmk-partner-b.txt").write_text("B0096...\n")
        kiosk = Kiosk(outbox, (base / "media",), mount_points=lambda: [stick])
        kiosk.allowed = frozenset({MediaExport.AUDIT_EXPORT, MediaExport.KEY_EXCHANGE})
        dialog = KioskFileDialog(
            None,
            "Export the audit log for auditors",
            kiosk,
            mode=Mode.SAVE,
            kind=MediaExport.AUDIT_EXPORT,
            start=str(outbox / "audit-export-20261207-0930.jsonl"),
            filters="Audit export (*.jsonl);;All files (*)",
        )
        dialog.resize(900, 520)
        dialog.show()
        splitter = dialog.findChild(QSplitter)
        if splitter is not None:
            splitter.setSizes([230, 670])
        typed = Path("/home/officer/audit-export-20261207-0930.jsonl")
        try:
            dialog.check(typed)
            refusal = ""
        except OutsideKioskPlaces as exc:  # what the dialog says when this path is typed
            refusal = exc.user_message()
        dialog.selectFile("audit-export-20261207-0930.jsonl")
        for _ in range(20):
            app.processEvents()
        dialog.refuse(refusal)  # the message as the person saw it
        for _ in range(20):
            app.processEvents()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if not dialog.grab().save(str(args.out)):
            print(f"Could not write {args.out}", file=sys.stderr)
            return 1
        dialog.done(0)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
