"""Kiosk file dialogs (Qt's own dialog, offscreen): confined to the outbox and the mounted
removable media; a save outside them refused with a message naming the allowed places; a
save on a medium refused unless the policy allows that kind, then allowed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QFileDialog

from workstation.domain.policy import MediaExport
from workstation.gui import file_choice
from workstation.gui.file_choice import Kiosk, KioskFileDialog, Mode


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    root = tmp_path / "media"
    stick = root / "kcw-kiosk" / "STICK"
    stick.mkdir(parents=True)
    places = Kiosk(tmp_path / "home" / "exports", (root,), mount_points=lambda: [stick])
    file_choice.configure(places)
    yield places
    file_choice.configure(None)


def stick_of(kiosk: Kiosk) -> Path:
    return kiosk.places().media[0]


def save_dialog(qtbot: Any, kiosk: Kiosk, kind: MediaExport | None) -> KioskFileDialog:
    dialog = KioskFileDialog(
        None,
        "Export the audit log for auditors",
        kiosk,
        mode=Mode.SAVE,
        kind=kind,
        start=str(Path.home() / "audit.jsonl"),
        filters="Audit export (*.jsonl);;All files (*)",
    )
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_the_dialog_offers_only_the_kiosk_places(qtbot: Any, kiosk: Kiosk) -> None:
    dialog = save_dialog(qtbot, kiosk, MediaExport.AUDIT_EXPORT)
    assert dialog.testOption(QFileDialog.Option.DontUseNativeDialog)
    assert dialog.testOption(QFileDialog.Option.ReadOnly)
    # the policy allows nothing on media: the outbox alone, where the dialog starts
    assert [u.toLocalFile() for u in dialog.sidebarUrls()] == [str(kiosk.outbox.resolve())]
    assert Path(dialog.directory().absolutePath()) == kiosk.outbox.resolve()
    kiosk.allowed = frozenset({MediaExport.AUDIT_EXPORT})
    again = save_dialog(qtbot, kiosk, MediaExport.AUDIT_EXPORT)
    assert [u.toLocalFile() for u in again.sidebarUrls()] == [
        str(kiosk.outbox.resolve()),
        str(stick_of(kiosk)),
    ]


def test_a_save_outside_the_places_is_refused_naming_them(qtbot: Any, kiosk: Kiosk) -> None:
    dialog = save_dialog(qtbot, kiosk, MediaExport.AUDIT_EXPORT)
    dialog.selectFile("/etc/audit.jsonl")
    dialog.accept()
    assert dialog.isVisible() and dialog.result() != QFileDialog.DialogCode.Accepted
    assert dialog.last_refusal == (
        f"/etc/audit.jsonl is outside the places this kiosk may write to: {kiosk.outbox.resolve()}."
    )
    assert dialog.message.isVisibleTo(dialog)
    assert dialog.chosen() == []


def test_a_navigation_outside_is_turned_back(qtbot: Any, kiosk: Kiosk) -> None:
    dialog = save_dialog(qtbot, kiosk, MediaExport.AUDIT_EXPORT)
    dialog.directoryEntered.emit("/etc")
    assert "/etc is outside the places this kiosk may write to" in dialog.last_refusal
    assert Path(dialog.directory().absolutePath()) == kiosk.outbox.resolve()


def test_a_save_on_a_medium_needs_the_policy(qtbot: Any, kiosk: Kiosk) -> None:
    target = stick_of(kiosk) / "audit.jsonl"
    dialog = save_dialog(qtbot, kiosk, MediaExport.AUDIT_EXPORT)
    dialog.selectFile(str(target))
    dialog.accept()
    assert dialog.result() != QFileDialog.DialogCode.Accepted
    assert dialog.last_refusal.startswith(
        "Policy does not allow audit exports on removable media; nothing was written."
    )
    kiosk.allowed = frozenset({MediaExport.AUDIT_EXPORT})
    allowed = save_dialog(qtbot, kiosk, MediaExport.AUDIT_EXPORT)
    allowed.selectFile(str(target))
    allowed.accept()
    assert allowed.result() == QFileDialog.DialogCode.Accepted
    assert allowed.chosen() == [target]


def test_mailers_stay_in_the_outbox_whatever_the_policy(qtbot: Any, kiosk: Kiosk) -> None:
    kiosk.allowed = frozenset(MediaExport)
    dialog = KioskFileDialog(None, "Folder for the PDF mailers", kiosk, mode=Mode.DIRECTORY)
    qtbot.addWidget(dialog)
    dialog.show()
    assert [u.toLocalFile() for u in dialog.sidebarUrls()] == [str(kiosk.outbox.resolve())]
    dialog.selectFile(str(stick_of(kiosk)))
    dialog.accept()
    assert "clear component: it never goes to removable media" in dialog.last_refusal


def test_save_file_goes_through_the_kiosk_dialog(
    qtbot: Any, kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    kiosk.allowed = frozenset({MediaExport.CERTIFICATES})
    target = stick_of(kiosk) / "request.csr"

    def pick(dialog: KioskFileDialog) -> int:
        dialog.selectFile(str(target))
        dialog.accept()
        return int(dialog.result())

    monkeypatch.setattr(KioskFileDialog, "exec", pick)
    chosen = file_choice.save_file(
        None, "Save the certificate request", "request.csr", kind=MediaExport.CERTIFICATES
    )
    assert chosen == target
    # an import reads from the medium whatever the policy says about writing
    source = stick_of(kiosk) / "block.txt"
    source.write_text("B0096...")
    monkeypatch.setattr(
        KioskFileDialog, "exec", lambda d: (d.selectFile(str(source)), d.accept(), d.result())[2]
    )
    kiosk.allowed = frozenset()
    assert file_choice.open_file(None, "Choose the key block", "") == source


def test_outside_kiosk_mode_the_usual_dialog(monkeypatch: pytest.MonkeyPatch) -> None:
    file_choice.configure(None)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: ("/tmp/x.ics", ""))
    assert file_choice.save_file(None, "t", "x.ics", kind=MediaExport.DUE_DATES) == Path(
        "/tmp/x.ics"
    )
