"""Dual control: the people an action still needs log on before it starts.

``gui.actions.perform`` opens this dialog when ``LogonService.requirement`` says the
session does not meet an action's quorum yet. Each missing person inserts their card,
chooses it and enters their PIN; after every logon (and whenever the session changes,
say a card is pulled) the dialog asks the service again and accepts itself as soon as
the quorum is met. Cancel rejects: the action never started, and the people who logged
on here stay in the session.
"""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from workstation.domain.policy import Action
from workstation.services.logon import Requirement
from workstation.services.session import Member

from .errors import describe
from .logon import MESSAGE_STYLE, CardLogonForm
from .state import AppState

__all__ = ["CoSignDialog"]


class CoSignDialog(QDialog):
    """Collect the co-signers an action needs; accepted once its quorum is met."""

    # A dialog opened without a parent would be collected as soon as its opener returns;
    # open ones are kept here until they finish.
    _open: set[CoSignDialog] = set()  # noqa: RUF012 - class-wide on purpose

    def __init__(
        self,
        state: AppState,
        action: Action,
        template: str | None,
        requirement: Requirement,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("coSignDialog")
        self.state = state
        self.action = action
        self.template = template
        self.requirement = requirement
        self._ticket = 0
        self._done = False
        what = action.display.capitalize()
        self.setWindowTitle(f"Dual control — {what}")

        self.heading = QLabel(self)
        self.heading.setObjectName("coSignNeeds")
        self.heading.setWordWrap(True)
        font = QFont(self.heading.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.heading.setFont(font)
        self.missing = QLabel(self)
        self.missing.setObjectName("coSignMissing")
        self.missing.setWordWrap(True)
        self.present = QLabel(self)
        self.present.setObjectName("coSignPresent")
        self.present.setWordWrap(True)
        instructions = QLabel(
            "Each missing person inserts their card, chooses it below and enters their "
            "PIN. The action starts by itself as soon as the quorum is met.",
            self,
        )
        instructions.setWordWrap(True)
        self.form = CardLogonForm(state, self)
        self.form.setObjectName("coSignForm")
        note = QLabel(
            "Cancel: the action is not started. People who logged on here stay in the session.",
            self,
        )
        note.setObjectName("coSignCancelNote")
        note.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.rejected.connect(self.reject)
        for button in self.buttons.buttons():
            if isinstance(button, QPushButton):
                button.setAutoDefault(False)  # Enter in the PIN field logs on, never cancels

        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.missing)
        layout.addWidget(self.present)
        layout.addWidget(instructions)
        layout.addWidget(self.form, 1)
        layout.addWidget(note)
        layout.addWidget(self.buttons)
        self.resize(560, 560)

        self.form.logged_on.connect(self._logged_on)
        state.session_changed.connect(self.recheck)
        self.finished.connect(self._finished)
        CoSignDialog._open.add(self)
        self._show(requirement)

    def _show(self, requirement: Requirement) -> None:
        self.requirement = requirement
        what = requirement.action.display.capitalize()
        self.heading.setText(f"{what} needs {requirement.quorum}.")
        self.missing.setStyleSheet("" if requirement.met else MESSAGE_STYLE)
        if requirement.met:
            self.missing.setText("The quorum is met.")
        elif requirement.reason:
            self.missing.setText(requirement.reason)
        else:
            self.missing.setText(f"Still missing: {', '.join(requirement.missing)}.")
        present = ", ".join(requirement.present) or "nobody"
        self.present.setText(f"Logged on now: {present}.")

    def _logged_on(self, member: Member) -> None:
        self.recheck()

    def recheck(self) -> None:
        """Ask the service again what the action needs; accept once it is met."""
        if self._done:
            return
        self._ticket += 1
        ticket = self._ticket

        def done(requirement: Requirement) -> None:
            if not isValid(self) or self._done or ticket != self._ticket:
                return
            self._show(requirement)
            if requirement.met:
                self.accept()

        def failed(exc: BaseException) -> None:
            if isValid(self) and not self._done and ticket == self._ticket:
                self.missing.setStyleSheet(MESSAGE_STYLE)
                self.missing.setText(describe(exc)[1])

        self.state.requirement(self.action, self.template, done, on_error=failed)

    def _finished(self, result: int) -> None:
        # Closed either way (accepted, cancelled, or closed by the lock): stop listening,
        # so a later change of the session asks nothing for this dialog.
        self._done = True
        self.state.session_changed.disconnect(self.recheck)
        CoSignDialog._open.discard(self)
        self.deleteLater()
