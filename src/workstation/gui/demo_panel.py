"""The demo panel (demo mode only): put the demo people's virtual cards into the virtual
readers and take them out, without a terminal.

It talks to the demo card daemon that ``make run`` starts
(``workstation.devtools.vcard_cli.DaemonClient`` on ``HOME/vcard``). Each request waits
until pcscd sees the change, so requests run on a worker thread of their own, one at a
time, never on the GUI thread nor on the device thread (which must stay free to read the
card that was just inserted).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from workstation.devtools.cast import CAST, DEMO_PIN, DemoPerson
from workstation.services.ports import ReaderStatus

if TYPE_CHECKING:
    from workstation.devtools.vcard_cli import DaemonClient

from .logon import MESSAGE_STYLE
from .state import AppState

__all__ = ["DemoPanel"]

READERS = 6  # the demo's pcscd offers six virtual readers

# pcscd's reader names for the virtual readers (workstation.devtools.pcscd.READER_PREFIX,
# repeated so this panel loads without the card tools; a test checks they agree).
READER_PREFIX = "KCW Virtual Reader"


def reader_label(index: int, names: list[str]) -> str:
    """'reader 1 00 01': the words the logon screen's reader names end with."""
    if index < len(names):
        return "reader " + names[index].removeprefix(READER_PREFIX).strip()
    return f"reader {index}"


class _Bridge(QObject):
    """Carries a worker's result back to the GUI thread (queued signal)."""

    finished = Signal(object, object, object)  # callback, result, error


class DemoPanel(QWidget):
    """The demo people, where each one's card is, and Insert / Remove buttons.

    Parameters
    ----------
    client
        The card daemon's client; by default the demo's, ``HOME/vcard``.
    """

    status_changed = Signal()  # the daemon's status (or its absence) was read again

    def __init__(
        self,
        state: AppState,
        parent: QWidget | None = None,
        *,
        client: DaemonClient | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("demoPanel")
        self.state = state
        self._client: DaemonClient | None = client
        self.card_dir = state.home / "demo-cards"
        self.daemon_running: bool | None = None  # None: not asked yet
        self.reader_names: list[str] = []
        self.where: dict[str, int] = {}  # slug -> reader index
        self.occupied: set[int] = set()  # readers holding a card (ours or another program's)
        self._pending = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kcw-demo-cards")
        self._bridge = _Bridge()
        self._bridge.finished.connect(self._deliver)

        hint = QLabel(
            f"Insert two custodians' cards to try dual control. Every demo PIN is {DEMO_PIN}.",
            self,
        )
        hint.setObjectName("demoHint")
        hint.setWordWrap(True)
        self.daemon_label = QLabel(self)
        self.daemon_label.setObjectName("demoDaemonStatus")
        self.daemon_label.setWordWrap(True)
        self.daemon_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = QPushButton("Check &again", self)
        self.retry_button.setObjectName("demoRetryButton")
        self.retry_button.clicked.connect(self.refresh)
        self.message = QLabel(self)
        self.message.setObjectName("demoMessage")
        self.message.setWordWrap(True)

        people = QWidget(self)
        grid = QGridLayout(people)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(2)
        self.rows: dict[str, _PersonRow] = {}
        for index, person in enumerate(CAST):
            row = _PersonRow(person, people)
            row.insert_button.clicked.connect(lambda _=False, p=person: self.insert(p))
            row.remove_button.clicked.connect(lambda _=False, p=person: self.remove(p))
            grid.addWidget(row, index, 0)
            self.rows[person.slug] = row
        grid.setRowStretch(len(CAST), 1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(people)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        status_row = QHBoxLayout()
        status_row.addWidget(self.daemon_label, 1)
        status_row.addWidget(self.retry_button)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addLayout(status_row)
        layout.addWidget(self.message)
        layout.addWidget(scroll, 1)

        state.readers_changed.connect(self._readers_changed)
        executor = self._executor
        self.destroyed.connect(lambda *_: executor.shutdown(wait=False))
        self._render()
        # Asked just after the window shows: the card tools load off the start-up path.
        QTimer.singleShot(300, self.refresh)

    # --- the worker ------------------------------------------------------------------------

    def _call(
        self, work: Callable[[], Any], then: Callable[[Any, BaseException | None], None]
    ) -> None:
        """Run ``work`` on the panel's worker; ``then(result, error)`` in the GUI thread."""
        self._pending += 1
        self._render()

        def finished(future: Future[Any]) -> None:
            error = future.exception()
            result = None if error is not None else future.result()
            self._bridge.finished.emit(then, result, error)

        self._executor.submit(work).add_done_callback(finished)

    def _deliver(self, then: Any, result: Any, error: Any) -> None:
        self._pending -= 1
        then(result, error)
        self._render()

    @property
    def busy(self) -> bool:
        return self._pending > 0

    # --- the daemon ------------------------------------------------------------------------

    def card_file(self, person: DemoPerson) -> Path:
        return self.card_dir / f"{person.slug}.json"

    def reader_label(self, index: int) -> str:
        return reader_label(index, self.reader_names)

    @property
    def client(self) -> DaemonClient:
        """The card daemon's client, made on first use (on the panel's worker): the card
        tools are not loaded while the logon window opens."""
        if self._client is None:
            from workstation.devtools.vcard_cli import DaemonClient

            self._client = DaemonClient(self.state.home / "vcard")
        return self._client

    def refresh(self) -> None:
        """Ask the daemon which card is in which reader."""
        self._call(lambda: self.client.status(), self._status_read)

    def _readers_changed(self, statuses: list[ReaderStatus]) -> None:
        # A card inserted or removed elsewhere (the command line, say): read the daemon again.
        if not self.busy:
            self.refresh()

    def _status_read(self, status: Any, error: BaseException | None) -> None:
        if error is not None:
            self.daemon_running = False
            self.where = {}
            self.occupied = set()
            from workstation.devtools.vcard_cli import VcardError

            if isinstance(error, VcardError):
                self.daemon_label.setText(
                    "The demo card daemon is not running, so cards cannot be inserted from "
                    "here. Start the demo with `make run`."
                )
            else:
                self.daemon_label.setText(f"The demo card daemon did not answer: {error}")
        else:
            self.daemon_running = True
            self.reader_names = [str(r["name"]) for r in status["readers"]]
            files = {self.card_file(p).resolve(): p.slug for p in CAST}
            self.where = {}
            self.occupied = {int(r["index"]) for r in status["readers"] if r.get("card_present")}
            for reader in status["readers"]:
                card = reader.get("card_file")
                if card and Path(card).resolve() in files:
                    self.where[files[Path(card).resolve()]] = int(reader["index"])
            self.daemon_label.setText(
                f"Demo card daemon running: {len(self.reader_names)} virtual readers."
            )
        self.status_changed.emit()

    def insert(self, person: DemoPerson, reader: int | None = None) -> None:
        """Put ``person``'s card into ``reader`` (default: the one chosen in their row)."""
        index = self.rows[person.slug].reader_combo.currentIndex() if reader is None else reader
        path = self.card_file(person)
        self.message.setStyleSheet("")
        self.message.setText(f"Inserting {person.name}'s card into {self.reader_label(index)}…")

        def then(name: Any, error: BaseException | None) -> None:
            if error is not None:
                self._failed(f"{person.name}'s card was not inserted: {error}")
            else:
                self.message.setText(f"{person.name}'s card is in {name}.")
            self.refresh()

        self._call(lambda: self.client.insert(path, index), then)

    def remove(self, person: DemoPerson) -> None:
        """Take ``person``'s card out of its reader."""
        index = self.where.get(person.slug)
        if index is None:
            return
        self.message.setStyleSheet("")
        self.message.setText(f"Removing {person.name}'s card from {self.reader_label(index)}…")

        def then(name: Any, error: BaseException | None) -> None:
            if error is not None:
                self._failed(f"{person.name}'s card was not removed: {error}")
            else:
                self.message.setText(f"{person.name}'s card was removed from {name}.")
            self.refresh()

        self._call(lambda: self.client.remove(index), then)

    def _failed(self, text: str) -> None:
        self.message.setStyleSheet(MESSAGE_STYLE)
        self.message.setText(text)

    # --- rendering -------------------------------------------------------------------------

    def _render(self) -> None:
        running = bool(self.daemon_running)
        occupied = self.occupied | set(self.where.values())
        self.retry_button.setVisible(self.daemon_running is False)
        for slug, row in self.rows.items():
            index = self.where.get(slug)
            row.show_state(
                running=running,
                busy=self.busy,
                index=index,
                readers=self.reader_names,
                occupied=occupied,
            )


class _PersonRow(QFrame):
    """One demo person: name and role, where their card is, reader choice, buttons."""

    def __init__(self, person: DemoPerson, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.person = person
        self.setObjectName(f"demoPerson_{person.slug}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        roles = ", ".join(r.display for r in person.roles)
        self.name_label = QLabel(f"<b>{person.name}</b> — {roles}", self)
        self.where_label = QLabel(self)
        self.where_label.setObjectName(f"demoWhere_{person.slug}")
        self.reader_combo = QComboBox(self)
        self.reader_combo.setObjectName(f"demoReader_{person.slug}")
        self.reader_combo.setAccessibleName(f"Reader for {person.name}'s card")
        for index in range(READERS):
            self.reader_combo.addItem(f"Reader {index}", index)
        self.reader_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.reader_combo.setMinimumContentsLength(len("Reader 1 00 00") + 1)
        # No mnemonics: seven rows would share the same letters.
        self.insert_button = QPushButton("Insert", self)
        self.insert_button.setObjectName(f"demoInsert_{person.slug}")
        self.insert_button.setAccessibleName(f"Insert {person.name}'s card")
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setObjectName(f"demoRemove_{person.slug}")
        self.remove_button.setAccessibleName(f"Remove {person.name}'s card")
        controls = QHBoxLayout()
        controls.addWidget(self.where_label, 1)
        controls.addWidget(self.reader_combo)
        controls.addWidget(self.insert_button)
        controls.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addWidget(self.name_label)
        layout.addLayout(controls)

    def show_state(
        self,
        *,
        running: bool,
        busy: bool,
        index: int | None,
        readers: list[str],
        occupied: set[int],
    ) -> None:
        inserted = index is not None
        where = reader_label(index, readers) if index is not None else ""
        self.where_label.setText(f"in {where}" if inserted else "not inserted")
        for i in range(self.reader_combo.count()):
            taken = " (has a card)" if i in occupied and i != index else ""
            self.reader_combo.setItemText(i, reader_label(i, readers).capitalize() + taken)
            name = readers[i] if i < len(readers) else ""
            self.reader_combo.setItemData(i, name, Qt.ItemDataRole.ToolTipRole)
        view = self.reader_combo.view()
        view.setMinimumWidth(view.sizeHintForColumn(0) + 24)  # "(has a card)" fits
        if not inserted and self.reader_combo.currentIndex() in occupied:
            free = [i for i in range(self.reader_combo.count()) if i not in occupied]
            if free:
                self.reader_combo.setCurrentIndex(free[0])
        self.reader_combo.setVisible(not inserted)
        self.insert_button.setVisible(not inserted)
        self.remove_button.setVisible(inserted)
        self.reader_combo.setEnabled(running and not busy)
        self.insert_button.setEnabled(running and not busy)
        self.remove_button.setEnabled(running and not busy)
