"""The logon screen, and the reader list with PIN entry that every card screen shares.

Three pieces, used by the logon screen, the session panel's "add card holder" dialog, the
co-sign dialog and the lock screen:

``ReaderDirectory``
    One per ``AppState`` (a child object of it): the readers, whether each holds a card,
    whose card it is (``LogonService.inspect`` on the device thread when a card appears) and
    whether its holder is already in the session. Screens render it; none of them talks to
    a card itself.
``ReaderEntry``
    What the directory knows about one reader, with the words to show for it.
``CardLogonForm``
    The reader list, a masked PIN field (digits only, 6 to 8) and a button. Submitting
    calls ``AppState.log_on`` with the PIN in a ``bytearray`` (which the service wipes) and
    clears the field; a refusal (wrong PIN, blocked, unknown card) is shown inline in the
    service's words.

The rules (who may log on, what a card's status means, how many tries are left) are the
services'; the directory only turns their answers into sentences.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRegularExpression, Qt, Signal
from PySide6.QtGui import QFocusEvent, QFont, QRegularExpressionValidator, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from workstation.config import load_config
from workstation.errors import WorkstationError
from workstation.services.logon import CardInReader
from workstation.services.ports import ReaderStatus
from workstation.services.session import Member

from .errors import describe
from .runner import JobControl
from .state import AppState

__all__ = [
    "PIN_MAX",
    "PIN_MIN",
    "CardLogonForm",
    "HsmPinAnswer",
    "HsmPinDialog",
    "LogonScreen",
    "ReaderDirectory",
    "ReaderEntry",
    "ask_hsm_pin_at_start",
    "tries_text",
]

log = logging.getLogger(__name__)

PIN_MIN, PIN_MAX = 6, 8
READER_ROLE = Qt.ItemDataRole.UserRole + 1
LIST_MAX_HEIGHT = 420
MESSAGE_STYLE = "color: #a40000;"  # dark red: readable on light and grey backgrounds
GOOD_STYLE = "color: #1f5f1f;"


def tries_text(tries: int | None) -> str:
    """'3 PIN tries left' in words, or '' when the card does not say."""
    if tries is None:
        return ""
    if tries == 0:
        return "no PIN tries left"
    return f"{tries} PIN {'try' if tries == 1 else 'tries'} left"


@dataclass(frozen=True)
class ReaderEntry:
    """One reader as the screens show it."""

    reader: str
    card_present: bool
    member: str | None = None  # the session member whose card is in this reader
    card: CardInReader | None = None  # the service's answer about the card, once read
    problem: str | None = None  # reading the card failed: why, in words
    inspecting: bool = False

    @property
    def holder(self) -> str | None:
        if self.member is not None:
            return self.member
        return self.card.holder if self.card is not None else None

    def refusal(self) -> str | None:
        """Why this card cannot be used for a logon now, in words; None when it can."""
        if not self.card_present:
            return "There is no card in this reader."
        if self.member is not None:
            return f"{self.member} is logged on with this card."
        if self.problem is not None:
            return self.problem
        card = self.card
        if card is None:
            return "Reading the card…"
        if card.holder is None:
            return (
                "This card is not enrolled on this workstation. A security officer must "
                "enrol it first."
            )
        status = card.card_status
        if status.startswith("holder "):
            return f"{card.holder} is {status.removeprefix('holder ')} on this workstation."
        if status == "expired":
            return "The certificate on this card has expired; the card must be renewed."
        if status != "active":
            return f"This card is {status}; it cannot be used to log on."
        if card.retries_left == 0:
            return (
                "This card is blocked after too many wrong PINs; the workstation cannot "
                "unblock it. The card's PUK unblocks it (with the card vendor's tool), or a "
                "security officer revokes it and enrols a new card."
            )
        return None

    def title(self) -> str:
        """The first line of the reader's row: whose card, or that there is none."""
        if not self.card_present:
            return "No card"
        if self.member is not None:
            return f"{self.member} — logged on"
        if self.problem is not None:
            return "Card cannot be read"
        if self.card is None:
            return "Reading the card…"
        if self.card.holder is None:
            return "Unknown card — not enrolled on this workstation"
        return f"{self.card.holder} — {self.card.roles or 'no role'}"

    def detail(self) -> str:
        """The second line: the reader, the card status and the PIN tries left."""
        parts = [self.reader]
        card = self.card
        if self.card_present and self.member is None and card is not None:
            if card.holder is not None:
                blocked = card.card_status == "active" and card.retries_left == 0
                parts.append("card blocked" if blocked else f"card {card.card_status}")
                if not blocked and card.retries_left is not None:
                    parts.append(tries_text(card.retries_left))
        return " · ".join(parts)


DIRECTORY_NAME = "kcwReaderDirectory"


class ReaderDirectory(QObject):
    """The readers and the cards in them, kept current from ``AppState``'s signals.

    A card that appears is read once on the device thread (``LogonService.inspect``:
    holder, roles, status, PIN tries left, no PIN needed); a card whose holder is in the
    session is not touched (the session holds its connection). ``refresh`` reads a card
    again, for instance after a wrong PIN.
    """

    changed = Signal()

    @classmethod
    def of(cls, state: AppState) -> ReaderDirectory:
        """The directory of ``state``, created on first use and shared by every screen."""
        found = state.findChild(ReaderDirectory, DIRECTORY_NAME)
        if isinstance(found, ReaderDirectory):
            return found
        return cls(state)

    def __init__(self, state: AppState) -> None:
        super().__init__(state)
        self.setObjectName(DIRECTORY_NAME)
        self.state = state
        self._entries: dict[str, ReaderEntry] = {}
        self._last_statuses: list[ReaderStatus] | None = None
        self._tickets: dict[str, int] = {}  # newest inspection per reader; older ones are stale
        state.readers_changed.connect(self._on_readers)
        state.session_changed.connect(self._on_session)
        self._on_readers(list(state.readers))

    # --- reading ---------------------------------------------------------------------------

    def entries(self) -> list[ReaderEntry]:
        return [self._entries[name] for name in sorted(self._entries)]

    def entry(self, reader: str) -> ReaderEntry | None:
        return self._entries.get(reader)

    def refresh(self, reader: str) -> None:
        """Read the card in ``reader`` again (tries left after a wrong PIN, say)."""
        entry = self._entries.get(reader)
        if entry is not None and entry.card_present and entry.member is None:
            self._entries[reader] = replace(entry, inspecting=True)
            self._inspect(reader)
            self.changed.emit()

    # --- keeping current -------------------------------------------------------------------

    def _members(self) -> dict[str, str]:
        return {m.reader: m.name for m in self.state.members}

    def _on_readers(self, statuses: list[ReaderStatus]) -> None:
        # The card watch reports an unchanged list only when a card was swapped between two
        # of its waits: then every card is read again, as nobody can tell which one it was.
        swapped = statuses == self._last_statuses
        self._last_statuses = list(statuses)
        members = self._members()
        entries: dict[str, ReaderEntry] = {}
        for status in statuses:
            name = status.name
            old = self._entries.get(name)
            if not status.card_present:
                self._forget(name)
                entries[name] = ReaderEntry(name, False)
            elif name in members:
                entries[name] = ReaderEntry(name, True, member=members[name])
            elif old is None or not old.card_present or old.member is not None or swapped:
                entries[name] = ReaderEntry(name, True, inspecting=True)
                self._inspect(name)
            else:
                entries[name] = old
        self._entries = entries
        self.changed.emit()

    def _on_session(self) -> None:
        members = self._members()
        for name, entry in list(self._entries.items()):
            if not entry.card_present:
                continue
            if name in members:
                if entry.member != members[name]:
                    self._forget(name)
                    self._entries[name] = ReaderEntry(name, True, member=members[name])
            elif entry.member is not None or (entry.card is None and not entry.inspecting):
                # The holder left the session (logged off) while the card stayed in.
                self._entries[name] = ReaderEntry(name, True, inspecting=True)
                self._inspect(name)
        self.changed.emit()

    def _forget(self, reader: str) -> None:
        self._tickets[reader] = self._tickets.get(reader, 0) + 1

    def _inspect(self, reader: str) -> None:
        self._forget(reader)
        ticket = self._tickets[reader]

        def work(_: JobControl) -> CardInReader:
            return self.state.services.logon.inspect(reader)

        def current() -> ReaderEntry | None:
            entry = self._entries.get(reader)
            if self._tickets.get(reader) != ticket or entry is None:
                return None
            if not entry.card_present or entry.member is not None:
                return None
            return entry

        def done(card: CardInReader) -> None:
            if current() is not None:
                self._entries[reader] = ReaderEntry(reader, True, card=card)
                self.changed.emit()

        def failed(exc: BaseException) -> None:
            if current() is not None:
                _, message, _ = describe(exc)
                self._entries[reader] = ReaderEntry(reader, True, problem=message)
                self.changed.emit()

        self.state.run(work, title="read the card", on_done=done, on_error=failed)


class CardLogonForm(QWidget):
    """Choose a card, enter its PIN, log its holder on (or unlock, on the lock screen).

    Parameters
    ----------
    allow_members
        Let the cards of people already in the session be chosen (the lock screen: a
        member unlocks with their card and PIN).
    submit_text
        The button's text ("&Log on", "&Unlock").
    """

    logged_on = Signal(object)  # the Member
    refused = Signal(str)  # the service's words

    def __init__(
        self,
        state: AppState,
        parent: QWidget | None = None,
        *,
        allow_members: bool = False,
        submit_text: str = "&Log on",
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.directory = ReaderDirectory.of(state)
        self.allow_members = allow_members
        self._busy = False
        self._rebuilding = False
        self._known: set[str] = set()  # readers that held a card at the last refresh

        self.readers_label = QLabel("Card &readers", self)
        self.reader_list = QListWidget(self)
        self.reader_list.setObjectName("readerList")
        self.reader_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.reader_list.setWordWrap(True)
        self.reader_list.setAlternatingRowColors(True)
        self.reader_list.setAccessibleName("Card readers")
        self.reader_list.setStyleSheet("QListWidget#readerList::item { padding: 5px 4px; }")
        self.reader_list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.readers_label.setBuddy(self.reader_list)

        self.card_status = QLabel(self)
        self.card_status.setObjectName("cardStatus")
        self.card_status.setWordWrap(True)
        self.card_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.pin_label = QLabel("&PIN:", self)
        self.pin_edit = QLineEdit(self)
        self.pin_edit.setObjectName("pinEdit")
        self.pin_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin_edit.setMaxLength(PIN_MAX)
        self.pin_edit.setValidator(
            QRegularExpressionValidator(QRegularExpression(f"[0-9]{{0,{PIN_MAX}}}"), self)
        )
        self.pin_edit.setPlaceholderText(f"{PIN_MIN} to {PIN_MAX} digits")
        self.pin_edit.setAccessibleName("PIN")
        self.pin_edit.setInputMethodHints(
            Qt.InputMethodHint.ImhDigitsOnly
            | Qt.InputMethodHint.ImhSensitiveData
            | Qt.InputMethodHint.ImhNoPredictiveText
        )
        self.pin_edit.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.pin_label.setBuddy(self.pin_edit)
        self.submit_button = QPushButton(submit_text, self)
        self.submit_button.setObjectName("logonButton")
        # Enter in the PIN field submits (returnPressed); in a dialog no button may also
        # take Enter as its own.
        self.submit_button.setAutoDefault(False)
        self.tries_label = QLabel(self)
        self.tries_label.setObjectName("pinTries")

        self.message = QLabel(self)
        self.message.setObjectName("logonMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)

        pin_row = QHBoxLayout()
        pin_row.addWidget(self.pin_label)
        pin_row.addWidget(self.pin_edit, 1)
        pin_row.addWidget(self.submit_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.readers_label)
        layout.addWidget(self.reader_list)
        layout.addWidget(self.card_status)
        layout.addLayout(pin_row)
        layout.addWidget(self.tries_label)
        layout.addWidget(self.message)
        layout.addStretch(1)

        self.reader_list.currentItemChanged.connect(self._selection_changed)
        self.pin_edit.textChanged.connect(self._update_controls)
        self.pin_edit.returnPressed.connect(self.submit)
        self.submit_button.clicked.connect(self.submit)
        self.directory.changed.connect(self._rebuild)
        self._rebuild()

    # --- the reader list -------------------------------------------------------------------

    def selectable(self, entry: ReaderEntry) -> bool:
        if not entry.card_present:
            return False
        return self.allow_members or entry.member is None

    def usable(self, entry: ReaderEntry) -> bool:
        """Whether a PIN may be entered for ``entry`` here."""
        if self.allow_members and entry.card_present and entry.member is not None:
            return True
        return entry.refusal() is None

    def selected(self) -> ReaderEntry | None:
        item = self.reader_list.currentItem()
        if item is None:
            return None
        return self.directory.entry(str(item.data(READER_ROLE)))

    def select_reader(self, reader: str) -> None:
        for row in range(self.reader_list.count()):
            item = self.reader_list.item(row)
            if item.data(READER_ROLE) == reader:
                self.reader_list.setCurrentItem(item)
                return

    def _rebuild(self) -> None:
        self._rebuilding = True
        try:
            self._rebuild_list()
        finally:
            self._rebuilding = False
        self._show_selected()

    def _rebuild_list(self) -> None:
        previous = self.selected()
        entries = self.directory.entries()
        arrived = [e for e in entries if e.card_present and e.reader not in self._known]
        self._known = {e.reader for e in entries if e.card_present}
        self.reader_list.blockSignals(True)
        try:
            self.reader_list.clear()
            for entry in entries:
                title = entry.title()
                if self.allow_members and entry.member is not None:
                    title = f"{entry.member} — in the session"
                item = QListWidgetItem(f"{title}\n{entry.detail()}")
                item.setData(READER_ROLE, entry.reader)
                item.setToolTip(entry.refusal() or entry.detail())
                if not self.selectable(entry):
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsSelectable)
                    item.setForeground(self.palette().placeholderText())
                self.reader_list.addItem(item)
        finally:
            self.reader_list.blockSignals(False)
        self._fit_list()
        now = self.directory.entry(previous.reader) if previous is not None else None
        keep = (
            previous is not None
            and now is not None
            and self.selectable(now)
            and now.holder == previous.holder
        )
        if keep and previous is not None:
            self.reader_list.blockSignals(True)
            self.select_reader(previous.reader)
            self.reader_list.blockSignals(False)
        else:
            # Choose a card by itself only when none is chosen: a PIN being typed never
            # moves to another person's card.
            candidates = [e for e in arrived if self.selectable(e)] or [
                e for e in entries if self.selectable(e) and self.usable(e)
            ]
            if candidates:
                self.select_reader(candidates[0].reader)
                if self.isVisible():
                    self.pin_edit.setFocus()
            else:
                self.reader_list.setCurrentRow(-1)
                self.pin_edit.clear()

    def _fit_list(self) -> None:
        # As tall as its rows (a room has a few readers), so the PIN field sits right
        # under the cards; beyond LIST_MAX_HEIGHT the list scrolls.
        rows = sum(self.reader_list.sizeHintForRow(i) for i in range(self.reader_list.count()))
        frame = 2 * self.reader_list.frameWidth()
        self.reader_list.setFixedHeight(min(max(rows, 40) + frame + 2, LIST_MAX_HEIGHT))

    def _selection_changed(self, current: Any, previous: Any) -> None:
        self.pin_edit.clear()  # a PIN belongs to one card
        if not self._rebuilding:  # keep "… logged on" or a refusal after a list update
            self.message.clear()
        self._show_selected()

    def _show_selected(self) -> None:
        entry = self.selected()
        self.card_status.setStyleSheet("")
        if not any(e.card_present for e in self.directory.entries()):
            self.card_status.setText("No card is inserted. Insert your card into a reader.")
            self.tries_label.clear()
        elif entry is None:
            self.card_status.setText("Choose a card in the list.")
            self.tries_label.clear()
        elif self.allow_members and entry.member is not None:
            self.card_status.setText(f"{entry.member}'s card, in {entry.reader}.")
            self.tries_label.clear()
        else:
            refusal = entry.refusal()
            card = entry.card
            if refusal is not None:
                self.card_status.setText(refusal)
                self.card_status.setStyleSheet(MESSAGE_STYLE if card or entry.problem else "")
            elif card is not None:
                self.card_status.setText(
                    f"{card.holder} ({card.roles or 'no role'}), card {card.card_status}, "
                    f"in {entry.reader}."
                )
            tries = card.retries_left if card is not None and refusal is None else None
            self.tries_label.setText(
                f"{tries_text(tries)} before the card is blocked." if tries is not None else ""
            )
        self._update_controls()

    def _update_controls(self) -> None:
        entry = self.selected()
        can_enter = entry is not None and self.usable(entry) and not self._busy
        self.pin_edit.setEnabled(can_enter)
        length = len(self.pin_edit.text())
        self.submit_button.setEnabled(can_enter and PIN_MIN <= length <= PIN_MAX)

    # --- logging on ------------------------------------------------------------------------

    def submit(self) -> None:
        """Log the chosen card's holder on with the PIN typed (Enter or the button)."""
        entry = self.selected()
        if entry is None or not self.usable(entry) or self._busy:
            return
        if not PIN_MIN <= len(self.pin_edit.text()) <= PIN_MAX:
            self._show_message(f"A PIN has {PIN_MIN} to {PIN_MAX} digits.")
            return
        # The service wipes the bytearray; the field is emptied at once so the PIN lives
        # no longer than this call in a Python string.
        pin = bytearray(self.pin_edit.text().encode("ascii"))
        self.pin_edit.clear()
        self._busy = True
        self._update_controls()
        self.message.setStyleSheet("")
        self.message.setText("Checking the PIN on the card…")
        reader = entry.reader

        # The answer may come after this form was closed (a dialog cancelled, the screen
        # locked): then there is nothing left to show it in.
        def done(member: Member) -> None:
            if not isValid(self):
                return
            self._finish()
            self.message.setStyleSheet(GOOD_STYLE)
            self.message.setText(f"{member.name} logged on.")
            self.logged_on.emit(member)

        def failed(exc: BaseException) -> None:
            if not isValid(self):
                return
            self._finish()
            _, text, _ = describe(exc)
            self._show_message(text)
            self.directory.refresh(reader)
            self.refused.emit(text)
            if self.pin_edit.isEnabled():
                self.pin_edit.setFocus()

        self.state.log_on(reader, pin, on_done=done, on_error=failed)

    def _finish(self) -> None:
        self._busy = False
        self._update_controls()

    def _show_message(self, text: str) -> None:
        self.message.setStyleSheet(MESSAGE_STYLE)
        self.message.setText(text)

    def clear(self) -> None:
        """Empty the PIN field and the message (when a screen is shown again)."""
        self.pin_edit.clear()
        self.message.clear()


class LogonScreen(QWidget):
    """The first screen: readers and cards live, choose a card, enter the PIN.

    When the first person is logged on the main window switches to the work area by
    itself (it listens to ``AppState.session_changed``).
    """

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.setObjectName("logonScreen")

        self.heading = QLabel("Log on with your card", self)
        self.heading.setObjectName("logonHeading")
        font = QFont(self.heading.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.heading.setFont(font)
        self.instructions = QLabel(
            "Insert your card, choose it and enter your PIN.\n"
            "For actions under dual control, each person inserts their own card and logs "
            "on in turn; everyone logged on counts towards the quorum.",
            self,
        )
        self.instructions.setObjectName("logonInstructions")
        self.instructions.setWordWrap(True)
        self.form = CardLogonForm(state, self)
        self.form.setObjectName("logonForm")

        column = QWidget(self)
        column.setMaximumWidth(720)
        inner = QVBoxLayout(column)
        inner.addWidget(self.heading)
        inner.addWidget(self.instructions)
        inner.addSpacing(12)
        inner.addWidget(self.form, 1)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(column, 4)
        outer.addStretch(1)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    @property
    def reader_list(self) -> QListWidget:
        return self.form.reader_list

    @property
    def pin_edit(self) -> QLineEdit:
        return self.form.pin_edit

    def showEvent(self, event: QShowEvent) -> None:
        self.form.clear()
        super().showEvent(event)

    def focusInEvent(self, event: QFocusEvent) -> None:
        # The main window gives this screen the focus: pass it on to where typing goes.
        target = self.pin_edit if self.pin_edit.isEnabled() else self.reader_list
        target.setFocus(event.reason())


# --- the HSM user PIN at start ------------------------------------------------------------


@dataclass(frozen=True)
class HsmPinAnswer:
    """What the start-up got for the HSM user PIN.

    ``pin`` is None when the configuration names another source (a file, a variable, the
    embedded token): the build reads it there. ``cancelled``: the person chose Cancel."""

    pin: str | None = None
    cancelled: bool = False


class HsmPinDialog(QDialog):
    """A masked field for the HSM user PIN, asked before the workstation starts when
    ``[hsm] pin_source = "prompt"`` (a desktop session has no terminal to ask on)."""

    def __init__(self, token_label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("hsmPinDialog")
        self.setWindowTitle("Key Custodian Workstation — HSM PIN")
        self.setModal(True)
        self.intro = intro = QLabel(
            f"The workstation logs on to the HSM token {token_label!r} with its user PIN "
            '(pin_source = "prompt" in workstation.toml).',
            self,
        )
        intro.setWordWrap(True)
        self.pin_label = QLabel("HSM user &PIN:", self)
        self.pin_edit = QLineEdit(self)
        self.pin_edit.setObjectName("hsmPinEdit")
        self.pin_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin_edit.setAccessibleName("HSM user PIN")
        self.pin_label.setBuddy(self.pin_edit)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Start")
        self.ok_button.setEnabled(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("&Quit")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.pin_edit.textChanged.connect(lambda text: self.ok_button.setEnabled(bool(text)))
        row = QHBoxLayout()
        row.addWidget(self.pin_label)
        row.addWidget(self.pin_edit, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(row)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(440)

    def take_pin(self) -> str:
        """The PIN typed; the field is emptied."""
        pin = self.pin_edit.text()
        self.pin_edit.clear()
        return pin


def ask_hsm_pin_at_start(home: Path, parent: QWidget | None = None) -> HsmPinAnswer:
    """Ask for the HSM user PIN on the GUI thread, before the services are built, when the
    configuration in ``home`` says ``pin_source = "prompt"``; otherwise ask nothing.

    A configuration that cannot be read asks nothing either: the start then reports what
    is wrong with the file."""
    try:
        hsm = load_config(home).hsm
    except WorkstationError:
        return HsmPinAnswer()
    if hsm is None or hsm.pin_source != "prompt":
        return HsmPinAnswer()
    dialog = HsmPinDialog(hsm.token_label, parent)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return HsmPinAnswer(cancelled=True)
        return HsmPinAnswer(pin=dialog.take_pin())
    finally:
        dialog.deleteLater()
