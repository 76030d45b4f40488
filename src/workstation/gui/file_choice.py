"""Every file the workstation asks a person for goes through here.

Outside kiosk mode these are Qt's usual dialogs, starting where the caller says (each
screen remembers its own folder). In kiosk mode (``workstation --kiosk``, docs/kiosk.md)
they are Qt's own dialog, never the platform's, confined to the kiosk's places
(``flows/kiosk_places.py``): the outbox always; the removable media mounted under the
media roots for reading, and for writing only the kinds of export the policy allows there.
The sidebar shows only those places; a path typed or navigated outside them is refused in
the dialog with a message naming the allowed places; the dialog cannot rename, delete or
make folders. A refused save is refused, not redirected: the person chooses the outbox.

A wizard's own path field is no way around this: in kiosk mode ``confine`` makes it
read-only (the dialog fills it), and ``check_path`` judges the final path by the same
rules just before the work reads or writes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QFileDialog, QGridLayout, QLabel, QLineEdit, QWidget

from workstation.config import WorkstationConfig
from workstation.domain.policy import MediaExport
from workstation.flows.kiosk_places import (
    KioskPlaces,
    OutsideKioskPlaces,
    Place,
    read_mount_points,
)

from .state import AppState
from .wizards import ERROR_STYLE

log = logging.getLogger(__name__)


@dataclass
class Kiosk:
    """Kiosk mode's file places: the outbox, the media roots, and what the policy in force
    lets go to removable media (read on the device thread, kept here for the dialogs)."""

    outbox: Path
    media_roots: tuple[Path, ...]
    allowed: frozenset[MediaExport] = frozenset()
    mount_points: Callable[[], Iterable[Path]] = field(default=read_mount_points)

    @classmethod
    def from_config(cls, config: WorkstationConfig) -> Kiosk:
        return cls(config.outbox, tuple(Path(r) for r in config.kiosk.media_roots))

    def places(self) -> KioskPlaces:
        """The outbox (made if missing) and the media mounted now."""
        self.outbox.mkdir(parents=True, exist_ok=True)
        return KioskPlaces.of(self.outbox, self.media_roots, self.mount_points())

    def follow_policy(self, state: AppState) -> None:
        """Read the policy's removable media kinds at start, at every change of the
        session and after a policy change on this workstation."""

        def refresh(*_: object) -> None:
            if not state.started:
                return
            policies = state.services.policies
            state.run(
                lambda _control: policies.removable_media_exports(),
                title="read the removable media policy",
                on_done=self._set_allowed,
                on_error=lambda exc: log.warning("Removable media policy not read: %s", exc),
            )

        state.ready.connect(refresh)
        state.session_changed.connect(refresh)
        state.data_changed.connect(lambda kind: refresh() if kind == "policy" else None)
        refresh()

    def _set_allowed(self, allowed: frozenset[MediaExport]) -> None:
        self.allowed = frozenset(allowed)


_kiosk: Kiosk | None = None


def configure(kiosk: Kiosk | None) -> None:
    """Kiosk mode on (with its places) or off (None) for every dialog from now on."""
    global _kiosk  # one application, one mode, set at start-up
    _kiosk = kiosk


def current_kiosk() -> Kiosk | None:
    return _kiosk


def confine(edit: QLineEdit) -> None:
    """A wizard's path field: in kiosk mode only its dialog fills it (read-only)."""
    if _kiosk is None:
        return
    edit.setReadOnly(True)
    edit.setToolTip("In kiosk mode the file is chosen with the button beside this field.")


def check_path(path: str | Path, *, writing: bool, kind: MediaExport | None) -> Path:
    """The path a wizard is about to read (``writing`` False) or write, judged by the kiosk's
    rules in kiosk mode (OutsideKioskPlaces naming the allowed places); outside kiosk mode
    the path as given. Safe on the device thread: it reads the mounts and the policy kinds
    already known, and changes nothing."""
    wanted = Path(path).expanduser()
    kiosk = _kiosk
    if kiosk is None:
        return wanted
    return kiosk.places().check(wanted, writing=writing, kind=kind, allowed=kiosk.allowed)


class Mode(Enum):
    OPEN = "open"
    OPEN_MANY = "open many"
    SAVE = "save"
    DIRECTORY = "directory"


class KioskFileDialog(QFileDialog):
    """Qt's own file dialog, confined to the kiosk's places."""

    refused = Signal(str)

    def __init__(
        self,
        parent: QWidget | None,
        title: str,
        kiosk: Kiosk,
        *,
        mode: Mode,
        kind: MediaExport | None = None,
        start: str = "",
        filters: str = "All files (*)",
        confirm_overwrite: bool = True,
    ) -> None:
        super().__init__(parent, title)
        self.setObjectName("kioskFileDialog")
        self.kiosk = kiosk
        self.mode = mode
        self.kind = kind
        self.writing = mode in (Mode.SAVE, Mode.DIRECTORY)
        self.last_refusal = ""
        self.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        self.setOption(QFileDialog.Option.ReadOnly, True)  # no rename, delete, new folder
        self.setOption(QFileDialog.Option.DontConfirmOverwrite, not confirm_overwrite)
        if mode is Mode.DIRECTORY:
            self.setFileMode(QFileDialog.FileMode.Directory)
            self.setOption(QFileDialog.Option.ShowDirsOnly, True)
        elif mode is Mode.OPEN_MANY:
            self.setFileMode(QFileDialog.FileMode.ExistingFiles)
        elif mode is Mode.OPEN:
            self.setFileMode(QFileDialog.FileMode.ExistingFile)
        else:
            self.setFileMode(QFileDialog.FileMode.AnyFile)
            self.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        if mode is not Mode.DIRECTORY:
            self.setNameFilter(filters)
        self.message = QLabel(self)
        self.message.setObjectName("kioskRefusal")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.hide()
        grid = self.layout()
        if isinstance(grid, QGridLayout):
            grid.addWidget(self.message, grid.rowCount(), 0, 1, grid.columnCount())
        places = self.places()
        self.setSidebarUrls([QUrl.fromLocalFile(str(p.path)) for p in places])
        self.setHistory([])
        self._start(start, places[0].path)
        self.directoryEntered.connect(self._entered)

    def places(self) -> list[Place]:
        return list(
            self.kiosk.places().places(
                writing=self.writing, kind=self.kind, allowed=self.kiosk.allowed
            )
        )

    def check(self, path: Path) -> Path:
        return self.kiosk.places().check(
            path, writing=self.writing, kind=self.kind, allowed=self.kiosk.allowed
        )

    def _start(self, start: str, outbox: Path) -> None:
        folder, name = outbox, ""
        if start:
            wanted = Path(start)
            if self.mode is Mode.SAVE or (wanted.suffix and not wanted.is_dir()):
                name = wanted.name
                wanted = wanted.parent
            try:
                folder = self.check(wanted)
            except OutsideKioskPlaces:
                folder = outbox
        self._good = folder
        self.setDirectory(str(folder))
        if name and self.mode is Mode.SAVE:
            self.selectFile(name)

    def refuse(self, message: str) -> None:
        self.last_refusal = message
        self.message.setText(message)
        self.message.show()
        self.refused.emit(message)

    def _entered(self, directory: str) -> None:
        try:
            self._good = self.check(Path(directory))
        except OutsideKioskPlaces as exc:
            self.refuse(exc.user_message())
            self.setDirectory(str(self._good))
        else:
            self.message.hide()

    def accept(self) -> None:
        chosen = [Path(f) for f in self.selectedFiles()]
        if not chosen:
            return
        # A folder typed in a file dialog: the dialog goes there (and _entered judges it).
        if self.mode is not Mode.DIRECTORY and len(chosen) == 1 and chosen[0].is_dir():
            super().accept()
            return
        try:
            for path in chosen:
                self.check(path)
        except OutsideKioskPlaces as exc:
            self.refuse(exc.user_message())
            return
        super().accept()

    def chosen(self) -> list[Path]:
        if self.result() != QFileDialog.DialogCode.Accepted:
            return []
        return [self.check(Path(f)) for f in self.selectedFiles()]


def _run(dialog: KioskFileDialog) -> list[Path]:
    dialog.exec()
    return dialog.chosen()


def open_file(
    parent: QWidget | None, title: str, start: str, filters: str = "All files (*)"
) -> Path | None:
    """One existing file to read; None when the person cancels."""
    kiosk = current_kiosk()
    if kiosk is None:
        chosen, _ = QFileDialog.getOpenFileName(parent, title, start, filters)
        return Path(chosen) if chosen else None
    paths = _run(
        KioskFileDialog(parent, title, kiosk, mode=Mode.OPEN, start=start, filters=filters)
    )
    return paths[0] if paths else None


def open_files(
    parent: QWidget | None, title: str, start: str, filters: str = "All files (*)"
) -> list[Path]:
    """Existing files to read; empty when the person cancels."""
    kiosk = current_kiosk()
    if kiosk is None:
        chosen, _ = QFileDialog.getOpenFileNames(parent, title, start, filters)
        return [Path(c) for c in chosen]
    return _run(
        KioskFileDialog(parent, title, kiosk, mode=Mode.OPEN_MANY, start=start, filters=filters)
    )


def save_file(
    parent: QWidget | None,
    title: str,
    suggested: str,
    filters: str = "All files (*)",
    *,
    kind: MediaExport | None,
    confirm_overwrite: bool = True,
) -> Path | None:
    """A file to write, ``suggested`` its first path; None when the person cancels.

    ``kind`` says what the file is, for the removable media policy; None for a file that
    may hold a clear component (it stays in the outbox in kiosk mode)."""
    kiosk = current_kiosk()
    if kiosk is None:
        options = QFileDialog.Option(0)
        if not confirm_overwrite:
            options = QFileDialog.Option.DontConfirmOverwrite
        chosen, _ = QFileDialog.getSaveFileName(parent, title, suggested, filters, options=options)
        return Path(chosen) if chosen else None
    paths = _run(
        KioskFileDialog(
            parent,
            title,
            kiosk,
            mode=Mode.SAVE,
            kind=kind,
            start=suggested,
            filters=filters,
            confirm_overwrite=confirm_overwrite,
        )
    )
    return paths[0] if paths else None


def choose_directory(
    parent: QWidget | None, title: str, start: str, *, kind: MediaExport | None
) -> Path | None:
    """A folder to write into; ``kind`` as for ``save_file``."""
    kiosk = current_kiosk()
    if kiosk is None:
        chosen = QFileDialog.getExistingDirectory(parent, title, start)
        return Path(chosen) if chosen else None
    paths = _run(KioskFileDialog(parent, title, kiosk, mode=Mode.DIRECTORY, kind=kind, start=start))
    return paths[0] if paths else None
