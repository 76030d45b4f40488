"""The lock screen: shown instead of the work area while the session is locked.

It shows only why the session locked and who may unlock it, a reader choice with a
masked PIN field, and "Log off everyone". Unlocking goes through ``AppState.log_on``,
which the state routes to ``LogonService.unlock`` while the session is locked; the
service decides whose card may unlock.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFocusEvent, QFont, QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .logon import CardLogonForm
from .state import AppState

__all__ = ["LockScreen"]


class LockScreen(QWidget):
    """Session locked: the reason, who may unlock, card and PIN, or log everyone off."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lockScreen")
        self.state = state

        self.heading = QLabel("Session locked", self)
        self.heading.setObjectName("lockHeading")
        font = QFont(self.heading.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.heading.setFont(font)
        self.reason = QLabel(self)
        self.reason.setObjectName("lockReason")
        self.reason.setWordWrap(True)
        self.who = QLabel(self)
        self.who.setObjectName("lockWho")
        self.who.setWordWrap(True)
        self.form = CardLogonForm(state, self, allow_members=True, submit_text="&Unlock")
        self.form.setObjectName("unlockForm")
        self.log_off_button = QPushButton("Log &off everyone", self)
        self.log_off_button.setObjectName("lockLogOffButton")
        self.log_off_button.setToolTip("End the session; everyone logs on again from the start.")

        column = QWidget(self)
        column.setMaximumWidth(720)
        inner = QVBoxLayout(column)
        inner.addWidget(self.heading)
        inner.addWidget(self.reason)
        inner.addWidget(self.who)
        inner.addSpacing(12)
        inner.addWidget(self.form)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.log_off_button)
        inner.addLayout(row)
        inner.addStretch(1)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(column, 4)
        outer.addStretch(1)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        self.log_off_button.clicked.connect(self.log_off)
        state.locked.connect(self._locked)
        state.unlocked.connect(self._unlocked)
        state.session_changed.connect(self._show_who)
        session = state.session
        reason = session.locked_reason if session is not None else None
        self._locked(reason or "")

    def _locked(self, reason: str) -> None:
        self.form.clear()
        if reason:
            self.reason.setText(f"Session locked: {reason}.")
        else:
            self.reason.setText("The session is locked.")
        self._show_who()
        members = self.state.members
        if members:
            # The card most likely to unlock is a member's, still in its reader.
            self.form.select_reader(members[0].reader)

    def _unlocked(self) -> None:
        self.form.clear()

    def _show_who(self) -> None:
        members = self.state.members
        if members:
            people = "; ".join(f"{m.name} (card in {m.reader})" for m in members)
            self.who.setText(
                "To unlock, one of the people in the session chooses their card below and "
                f"enters their PIN: {people}."
            )
        else:
            self.who.setText("Nobody is left in the session. Log off, then log on again.")

    def log_off(self) -> None:
        """End the session; the main window returns to the logon screen."""
        self.state.close_session()

    def showEvent(self, event: QShowEvent) -> None:
        self.form.clear()
        super().showEvent(event)

    def focusInEvent(self, event: QFocusEvent) -> None:
        form = self.form
        target = form.pin_edit if form.pin_edit.isEnabled() else form.reader_list
        target.setFocus(event.reason())
