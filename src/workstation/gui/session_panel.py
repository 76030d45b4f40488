"""The session panel beside the work area: who is logged on, adding a card holder (group
logon), logging everyone off, and what the next action would need.

The quorum text comes from ``LogonService.requirement`` (through ``AppState.requirement``
on the device thread), asked again whenever the session changes; the panel decides
nothing itself.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from workstation.domain.policy import KEY_ACTIONS, Action
from workstation.domain.templates import KeyTemplate
from workstation.services.logon import Requirement
from workstation.services.session import Member

from .errors import describe
from .logon import CardLogonForm
from .runner import JobControl
from .state import AppState

__all__ = ["NEXT_ACTIONS", "AddCardHolderDialog", "SessionPanel"]

# The actions the "next action" box offers, in the order a custodian meets them.
NEXT_ACTIONS: tuple[tuple[Action, str], ...] = (
    (Action.GENERATE_KEY, "Generate a key"),
    (Action.ACTIVATE_KEY, "Activate a key"),
    (Action.SUSPEND_KEY, "Suspend a key"),
    (Action.DEACTIVATE_KEY, "Deactivate a key"),
    (Action.ROTATE_KEY, "Rotate a key"),
    (Action.EXPORT_KEY, "Export a key"),
    (Action.DESTROY_KEY, "Destroy a key"),
    (Action.ENROL_PERSON, "Enrol a person"),
    (Action.MANAGE_PEOPLE, "Change a person's status or roles"),
    (Action.CHANGE_POLICY, "Change the policy"),
    (Action.MANAGE_TEMPLATES, "Change the key templates"),
    (Action.VIEW_AUDIT, "Read the audit log"),
)
NO_TEMPLATE = "Any template (policy default)"
MEMBER_LIST_MAX_HEIGHT = 300
UNMET_STYLE = "font-weight: 600;"  # people are missing: worth noticing, not an error


class AddCardHolderDialog(QDialog):
    """Group logon: one more person inserts their card, chooses it and enters the PIN.

    Accepts itself once that person is logged on; Close leaves the session as it is.
    """

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("addHolderDialog")
        self.setWindowTitle("Add a card holder")
        self.state = state
        intro = QLabel(
            "Another person inserts their card, chooses it below and enters their PIN. "
            "Everyone logged on counts towards the quorum of the next action.",
            self,
        )
        intro.setWordWrap(True)
        self.form = CardLogonForm(state, self)
        self.form.setObjectName("addHolderForm")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        for button in buttons.buttons():
            if isinstance(button, QPushButton):
                button.setAutoDefault(False)  # Enter in the PIN field logs on, never closes
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.form, 1)
        layout.addWidget(buttons)
        self.form.logged_on.connect(self._logged_on)
        self.resize(520, 480)

    def _logged_on(self, member: Member) -> None:
        self.accept()


class SessionPanel(QWidget):
    """Who is logged on (names, roles, readers), group logon, log off, next action."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionPanel")
        self.state = state
        self._ticket = 0  # the newest quorum question; older answers are ignored
        self._templates_for: str | None = None  # session id the template list was read for
        self.add_dialog: AddCardHolderDialog | None = None

        heading = QLabel("<b>Logged on</b>", self)
        self.member_list = QListWidget(self)
        self.member_list.setObjectName("memberList")
        self.member_list.setWordWrap(True)
        self.member_list.setAccessibleName("People logged on")
        self.member_list.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.member_list.setStyleSheet("QListWidget#memberList::item { padding: 4px 2px; }")
        self.add_button = QPushButton("&Add card holder…", self)
        self.add_button.setObjectName("addHolderButton")
        self.add_button.setToolTip(
            "Another person logs on with their card and PIN (group logon, dual control)."
        )
        self.log_off_button = QPushButton("Log &off everyone", self)
        self.log_off_button.setObjectName("logOffButton")
        self.message = QLabel(self)
        self.message.setObjectName("sessionMessage")
        self.message.setWordWrap(True)

        self.action_combo = QComboBox(self)
        self.action_combo.setObjectName("actionCombo")
        for action, label in NEXT_ACTIONS:
            self.action_combo.addItem(label, action.value)
        self.template_combo = QComboBox(self)
        self.template_combo.setObjectName("templateCombo")
        self.template_combo.addItem(NO_TEMPLATE, None)
        self.template_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.template_combo.setMinimumContentsLength(16)
        self.requirement_text = QLabel(self)
        self.requirement_text.setObjectName("requirementText")
        self.requirement_text.setWordWrap(True)
        self.requirement_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        next_box = QGroupBox("Next action", self)
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        action_label = QLabel("A&ction:", next_box)
        action_label.setBuddy(self.action_combo)
        template_label = QLabel("&Template:", next_box)
        template_label.setBuddy(self.template_combo)
        form.addRow(action_label, self.action_combo)
        form.addRow(template_label, self.template_combo)
        box_layout = QVBoxLayout(next_box)
        box_layout.addLayout(form)
        box_layout.addWidget(self.requirement_text)

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.log_off_button)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.member_list)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addSpacing(8)
        layout.addWidget(next_box)
        layout.addStretch(1)

        self.add_button.clicked.connect(self.add_card_holder)
        self.log_off_button.clicked.connect(self.log_off)
        self.action_combo.currentIndexChanged.connect(self._action_changed)
        self.template_combo.currentIndexChanged.connect(self.refresh_requirement)
        state.session_changed.connect(self._session_changed)
        state.session_event.connect(self._session_event)
        self._action_changed()
        self._session_changed()

    # --- who is logged on ------------------------------------------------------------------

    def _session_changed(self) -> None:
        members = self.state.members
        self.member_list.clear()
        for m in members:
            item = QListWidgetItem(f"{m.name} — {m.person.roles_text}\n{m.reader}")
            item.setToolTip(f"Logged on at {m.logged_on_at:%H:%M:%S} with card {m.card.short_id}")
            self.member_list.addItem(item)
        if not members:
            self.member_list.addItem(QListWidgetItem("Nobody is logged on."))
        rows = sum(self.member_list.sizeHintForRow(i) for i in range(self.member_list.count()))
        frame = 2 * self.member_list.frameWidth() + 2
        self.member_list.setFixedHeight(min(rows + frame, MEMBER_LIST_MAX_HEIGHT))
        self.log_off_button.setEnabled(bool(members))
        self._load_templates()
        self.refresh_requirement()

    def _session_event(self, kind: str, text: str) -> None:
        if kind in ("joined", "dropped", "locked", "unlocked"):
            self.message.setText(text)

    def add_card_holder(self) -> None:
        """Open the group logon dialog (another person adds their card)."""
        dialog = AddCardHolderDialog(self.state, self)
        dialog.finished.connect(dialog.deleteLater)
        self.add_dialog = dialog
        dialog.finished.connect(self._add_finished)
        dialog.open()

    def _add_finished(self, result: int) -> None:
        self.add_dialog = None

    def log_off(self) -> None:
        """Everyone leaves the session; the main window returns to the logon screen."""
        self.state.close_session()
        self.message.setText("Everyone was logged off.")

    # --- the next action -------------------------------------------------------------------

    def selected_action(self) -> Action:
        value = self.action_combo.currentData()
        return Action(value) if isinstance(value, str) else Action.GENERATE_KEY

    def selected_template(self) -> str | None:
        if not self.template_combo.isEnabled():
            return None
        name = self.template_combo.currentData()
        return name if isinstance(name, str) else None

    def set_action(self, action: Action, template: str | None = None) -> None:
        """Choose the action (and template) whose quorum is shown."""
        self.action_combo.setCurrentIndex(max(0, self.action_combo.findData(action.value)))
        if template is not None:
            index = self.template_combo.findData(template)
            if index < 0:
                self.template_combo.addItem(template, template)
                index = self.template_combo.count() - 1
            self.template_combo.setCurrentIndex(index)

    def _action_changed(self) -> None:
        self.template_combo.setEnabled(self.selected_action() in KEY_ACTIONS)
        self.refresh_requirement()

    def _load_templates(self) -> None:
        session = self.state.session
        if session is None or not self.state.members or session.id == self._templates_for:
            return
        self._templates_for = session.id

        def work(_: JobControl) -> list[KeyTemplate]:
            return self.state.services.templates.list(session)

        def done(templates: list[KeyTemplate]) -> None:
            if not isValid(self):
                return
            current = self.template_combo.currentData()
            self.template_combo.blockSignals(True)
            self.template_combo.clear()
            self.template_combo.addItem(NO_TEMPLATE, None)
            for template in sorted(templates, key=lambda t: t.name.casefold()):
                self.template_combo.addItem(template.name, template.name)
            self.template_combo.setCurrentIndex(max(0, self.template_combo.findData(current)))
            self.template_combo.blockSignals(False)
            self.refresh_requirement()

        def failed(exc: BaseException) -> None:
            if isValid(self):
                self._templates_for = None  # try again at the next change of the session

        self.state.run(work, title="list the key templates", on_done=done, on_error=failed)

    def refresh_requirement(self) -> None:
        """Ask the services what the chosen action needs, against the session now."""
        self._ticket += 1
        ticket = self._ticket
        if not self.state.members or self.state.is_locked:
            self.requirement_text.setText("Log on to see what each action needs.")
            return
        action, template = self.selected_action(), self.selected_template()
        self.requirement_text.setText("Checking what this action needs…")

        def done(requirement: Requirement) -> None:
            if isValid(self) and ticket == self._ticket:
                self.requirement_text.setStyleSheet("" if requirement.met else UNMET_STYLE)
                self.requirement_text.setText(requirement_sentence(requirement))

        def failed(exc: BaseException) -> None:
            if isValid(self) and ticket == self._ticket:
                self.requirement_text.setText(describe(exc)[1])

        self.state.requirement(action, template, done, on_error=failed)


def requirement_sentence(requirement: Requirement) -> str:
    """'Generate key needs 2 key custodians — still missing: 1 key custodian.'"""
    what = requirement.action.display.capitalize()
    if requirement.met:
        return f"{what} needs {requirement.quorum} — met by the people logged on."
    if requirement.reason:
        return f"{what} needs {requirement.quorum}. {requirement.reason}"
    return f"{what} needs {requirement.quorum} — still missing: {', '.join(requirement.missing)}."
