"""Administration: people, cards, groups, templates and policies.

Every change goes through ``gui.actions.perform`` under its own quorum (enrolment under
ENROL_PERSON, a person's status and roles under MANAGE_PEOPLE, cards under MANAGE_CARDS,
groups under MANAGE_GROUPS, templates under MANAGE_TEMPLATES, policies under
CHANGE_POLICY): missing people are asked to log on, the service checks again and writes
the audit entry. The forms check input early with the flows' validators
(``workstation.flows``), which apply the domain's own rules, and show each error next to
its field; nothing here decides what is allowed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.people import Card, Group, Person, Role, Status
from workstation.domain.policy import (
    KEY_ACTIONS,
    Action,
    MediaExport,
    PolicySet,
    Quorum,
    describe_media_exports,
)
from workstation.domain.templates import (
    EXPORTABILITY,
    KEY_USAGES,
    MODES_OF_USE,
    KeyTemplate,
    TemplateStatus,
    render_label,
)
from workstation.errors import BadInput
from workstation.flows.wizards import (
    EnrolForm,
    FieldErrors,
    GroupForm,
    PolicyForm,
    TemplateForm,
    describe_period,
    quorum_text,
)
from workstation.services.session import Session

from .actions import perform, read_if_allowed
from .errors import describe
from .logon import ReaderDirectory, ReaderEntry, tries_text
from .runner import JobControl
from .state import AppState
from .status import StatusLine
from .tables import current_record
from .wizards import ERROR_STYLE, GOOD_STYLE, ErrorLabel, show_field_errors

log = logging.getLogger(__name__)

__all__ = [
    "AdminData",
    "AdminPage",
    "EnrolPersonDialog",
    "GroupDialog",
    "ReasonDialog",
    "RecordModel",
    "RolesDialog",
    "TemplateDialog",
]

RecordRole = int(Qt.ItemDataRole.UserRole) + 1  # the record (Person, Card, Group, ...)

ROLE_ORDER = (Role.SECURITY_OFFICER, Role.KEY_CUSTODIAN, Role.SUPERVISOR, Role.AUDITOR)
ROLE_HELP = {
    Role.SECURITY_OFFICER: "enrols people and cards, sets policies, templates and groups",
    Role.KEY_CUSTODIAN: "holds key components; generates and rotates keys with others",
    Role.SUPERVISOR: "co-signs activation, export, destruction and policy changes",
    Role.AUDITOR: "reads and verifies the audit log; changes nothing",
}
STATUS_VERBS = {Status.SUSPENDED: "Suspend", Status.ACTIVE: "Reinstate", Status.REVOKED: "Revoke"}


@dataclass(frozen=True)
class AdminData:
    """Everything the administration page shows, read in one go on the device thread."""

    people: list[tuple[Person, list[Card]]]
    groups: list[tuple[Group, list[str]]]
    templates: list[KeyTemplate]
    policy: PolicySet

    def person(self, name: str) -> Person | None:
        return next((p for p, _ in self.people if p.name == name), None)

    def groups_of(self, person: Person) -> list[str]:
        return sorted(g.name for g, _ in self.groups if person.id in g.members)

    def needs(self, action: Action) -> str:
        try:
            return self.policy.quorum_for(action).describe()
        except BadInput:
            return "(no policy set)"


# --- shared pieces -----------------------------------------------------------------------


class RecordModel(QAbstractTableModel):
    """Rows of (record, cells) with named columns; ``RecordRole`` gives the record."""

    def __init__(self, headers: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.headers = tuple(headers)
        self._rows: list[tuple[Any, tuple[str, ...]]] = []

    def set_rows(self, rows: Iterable[tuple[Any, Sequence[str]]]) -> None:
        self.beginResetModel()
        self._rows = [(record, tuple(cells)) for record, cells in rows]
        self.endResetModel()

    def record(self, row: int) -> Any:
        return self._rows[row][0]

    def row_where(self, test: Callable[[Any], bool]) -> int | None:
        return next((i for i, (record, _) in enumerate(self._rows) if test(record)), None)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.headers)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        record, cells = self._rows[index.row()]
        if role == RecordRole:
            return record
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return cells[index.column()] if index.column() < len(cells) else ""
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers[section] if 0 <= section < len(self.headers) else None
        return None


def _table(model: RecordModel, name: str, parent: QWidget) -> QTableView:
    view = QTableView(parent)
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.verticalHeader().setVisible(False)
    view.horizontalHeader().setStretchLastSection(True)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return view


def _fit(view: QTableView) -> None:
    """Columns as wide as their contents, with room to breathe."""
    view.resizeColumnsToContents()
    header = view.horizontalHeader()
    for column in range(header.count() - 1):
        header.resizeSection(column, header.sectionSize(column) + 16)


def _select(view: QTableView, model: RecordModel, test: Callable[[Any], bool]) -> bool:
    row = model.row_where(test)
    if row is None:
        return False
    view.selectRow(row)
    return True


def _button(text: str, name: str, parent: QWidget, slot: Callable[[], object]) -> QPushButton:
    button = QPushButton(text, parent)
    button.setObjectName(name)
    # A zero-argument slot: clicked(bool) would otherwise fill the slot's first parameter.
    button.clicked.connect(lambda: slot())
    return button


def _hint(parent: QWidget, name: str) -> QLabel:
    label = QLabel(parent)
    label.setObjectName(name)
    label.setWordWrap(True)
    return label


class ReasonDialog(QDialog):
    """Ask for the reason of a change of status (kept in the audit log)."""

    def __init__(
        self, parent: QWidget | None, title: str, question: str, *, required: bool
    ) -> None:
        super().__init__(parent)
        self.setObjectName("reasonDialog")
        self.setWindowTitle(title)
        self.required = required
        layout = QVBoxLayout(self)
        text = QLabel(question, self)
        text.setWordWrap(True)
        layout.addWidget(text)
        form = QFormLayout()
        self.reason = QLineEdit(self)
        self.reason.setObjectName("reasonEdit")
        self.reason.setPlaceholderText("kept in the audit log")
        form.addRow("Reason:" if required else "Reason (optional):", self.reason)
        layout.addLayout(form)
        self.error = ErrorLabel("error_reason", self)
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        if ok is not None:
            ok.setText(title.split()[0])
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(460, self.sizeHint().height())

    def text(self) -> str:
        return self.reason.text().strip()

    def _accept(self) -> None:
        if self.required and not self.text():
            self.error.show_error("Say why: the reason is kept in the audit log.")
            return
        if len(self.text()) > 500:
            self.error.show_error("Keep the reason to 500 characters.")
            return
        self.accept()


def _confirm(parent: QWidget, title: str, text: str) -> bool:
    answer = QMessageBox.question(
        parent,
        title,
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel,
    )
    return answer == QMessageBox.StandardButton.Yes


class _Section(QWidget):
    """One tab of the page: shows ``AdminData`` and makes changes through ``perform``."""

    def __init__(self, page: AdminPage) -> None:
        super().__init__(page)
        self.page = page
        self.state = page.state

    @property
    def data(self) -> AdminData | None:
        return self.page.data

    def show_data(self, data: AdminData) -> None:
        """Show ``data``; every section overrides this (Qt classes cannot use ABCMeta)."""

    def change(
        self,
        *,
        action: Action,
        title: str,
        call: Callable[[Session], Any],
        kind: str,
        parent: QWidget | None = None,
        on_done: Callable[[Any], None] | None = None,
    ) -> None:
        """Run a change under ``action``'s quorum; then tell every screen what changed."""
        state = self.state

        def work(_: JobControl) -> Any:
            return call(state.ensure_session())

        def done(result: Any) -> None:
            state.data_changed.emit(kind)
            if on_done is not None:
                on_done(result)

        perform(state, parent or self, action=action, title=title, work=work, on_done=done)


# --- people ------------------------------------------------------------------------------


def _roles_text(roles: Iterable[Role]) -> str:
    return ", ".join(r.display for r in ROLE_ORDER if r in set(roles)) or "no role"


def _cards_text(cards: Sequence[Card]) -> str:
    if not cards:
        return "none"
    counts: dict[str, int] = {}
    for card in cards:
        counts[card.status.value] = counts.get(card.status.value, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


class _RoleBoxes(QWidget):
    """A tick box per role, with what the role does."""

    def __init__(self, parent: QWidget | None, roles: Iterable[Role] = ()) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.boxes: dict[Role, QCheckBox] = {}
        held = set(roles)
        for role in ROLE_ORDER:
            box = QCheckBox(f"{role.display.capitalize()} — {ROLE_HELP[role]}", self)
            box.setObjectName(f"role_{role.value}")
            box.setChecked(role in held)
            layout.addWidget(box)
            self.boxes[role] = box

    def roles(self) -> frozenset[Role]:
        return frozenset(r for r, box in self.boxes.items() if box.isChecked())


class EnrolPersonDialog(QDialog):
    """Enrol a person with their new PIV card; the new card holder types their PIN."""

    def __init__(self, section: PeopleSection) -> None:
        super().__init__(section)
        self.setObjectName("enrolDialog")
        self.setWindowTitle("Enrol a person")
        self.section = section
        self.state = section.state
        self.directory = ReaderDirectory.of(self.state)
        self.done_person: Person | None = None
        layout = QVBoxLayout(self)
        needs = section.data.needs(Action.ENROL_PERSON) if section.data else "its quorum"
        intro = QLabel(
            f"Enrolment needs {needs}. Put the new person's card in a free reader; the new "
            "person types their own PIN, which goes to the card only.",
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.name = QLineEdit(self)
        self.name.setObjectName("enrolName")
        self.name.setPlaceholderText("full name, as on the card, e.g. Dana Flores")
        form.addRow("Name:", self.name)
        self.errors: dict[str, ErrorLabel] = {}
        self._error_row(form, "name")
        self.roles = _RoleBoxes(self)
        form.addRow("Roles:", self.roles)
        self._error_row(form, "roles")
        self.reader = QComboBox(self)
        self.reader.setObjectName("enrolReader")
        self.reader.currentIndexChanged.connect(self._reader_chosen)
        form.addRow("New card in:", self.reader)
        self.card_info = QLabel(self)
        self.card_info.setObjectName("enrolCardInfo")
        self.card_info.setWordWrap(True)
        form.addRow("", self.card_info)
        self._error_row(form, "reader")
        self.pin = QLineEdit(self)
        self.pin.setObjectName("enrolPin")
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setMaxLength(8)
        self.pin.setPlaceholderText("the new card holder types it")
        form.addRow("Their PIN:", self.pin)
        self._error_row(form, "pin")
        layout.addLayout(form)
        self.general = ErrorLabel("enrolError", self)
        layout.addWidget(self.general)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert ok is not None
        ok.setText("&Enrol")
        ok.setObjectName("enrolButton")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.directory.changed.connect(self._fill_readers)
        self._fill_readers()
        self.resize(640, self.sizeHint().height())

    def _error_row(self, form: QFormLayout, field: str) -> None:
        label = ErrorLabel(f"error_{field}", self)
        self.errors[field] = label
        form.addRow("", label)

    def _free(self) -> list[ReaderEntry]:
        return [e for e in self.directory.entries() if e.card_present and e.member is None]

    @staticmethod
    def _entry_text(entry: ReaderEntry) -> str:
        if entry.problem is not None:
            return f"{entry.reader} — {entry.problem}"
        card = entry.card
        if card is None:
            return f"{entry.reader} — reading the card…"
        if card.holder is None:
            tries = tries_text(card.retries_left)
            return f"{entry.reader} — a new card" + (f" ({tries})" if tries else "")
        return f"{entry.reader} — card of {card.holder}, already enrolled"

    def _fill_readers(self) -> None:
        current = self.reader.currentData()
        self.reader.blockSignals(True)
        self.reader.clear()
        free = self._free()
        for entry in free:
            self.reader.addItem(self._entry_text(entry), entry.reader)
        if not free:
            self.reader.addItem("no free reader holds a card — insert the new card", None)
        index = self.reader.findData(current) if current is not None else -1
        if index < 0:
            # Prefer a card that is not enrolled yet.
            index = next(
                (i for i, e in enumerate(free) if e.card is not None and e.card.holder is None),
                0,
            )
        self.reader.setCurrentIndex(index)
        self.reader.blockSignals(False)
        self._reader_chosen()

    def _reader_chosen(self, *_: Any) -> None:
        reader = self.reader.currentData()
        entry = self.directory.entry(reader) if isinstance(reader, str) else None
        if entry is None:
            self.card_info.setText("")
        elif entry.card is not None and entry.card.holder is not None:
            self.card_info.setStyleSheet(ERROR_STYLE)
            self.card_info.setText(
                f"This card is enrolled for {entry.card.holder}; one card belongs to one person."
            )
        elif entry.card is not None:
            self.card_info.setStyleSheet(GOOD_STYLE)
            self.card_info.setText("Ready: this card is not enrolled yet.")
        else:
            self.card_info.setStyleSheet("")
            self.card_info.setText("")

    def form(self) -> EnrolForm:
        reader = self.reader.currentData()
        data = self.section.data
        return EnrolForm(
            name=self.name.text(),
            roles=self.roles.roles(),
            reader=reader if isinstance(reader, str) else None,
            pin_length=len(self.pin.text()),
            busy_readers=frozenset(m.reader for m in self.state.members),
            policy=data.policy if data else None,
        )

    def submit(self) -> None:
        form = self.form()
        errors = form.validate()
        if not self.pin.text().isdigit() and self.pin.text() and "pin" not in errors:
            errors["pin"] = "A PIV PIN is digits only."
        show_field_errors(self.errors, errors, self.general)
        if errors:
            return
        assert form.reader is not None
        pin = bytearray(self.pin.text().encode())
        self.pin.clear()
        name = " ".join(form.name.split())
        roles = form.roles
        reader = form.reader
        services = self.state.services

        def call(session: Session) -> Person:
            return services.people.enrol(session, name=name, roles=roles, reader=reader, pin=pin)

        def done(person: Person) -> None:
            self.done_person = person
            self.section.page.say(f"{person.name} is enrolled as {_roles_text(person.roles)}.")
            self.accept()

        def wipe(_: int) -> None:
            pin[:] = bytes(len(pin))  # if the action never ran (co-sign cancelled)

        self.finished.connect(wipe)
        self.section.change(
            action=Action.ENROL_PERSON,
            title=f"Enrolling {name}",
            call=call,
            kind="people",
            parent=self,
            on_done=done,
        )


class RolesDialog(QDialog):
    def __init__(self, section: PeopleSection, person: Person) -> None:
        super().__init__(section)
        self.setObjectName("rolesDialog")
        self.setWindowTitle(f"Roles of {person.name}")
        self.section = section
        self.person = person
        layout = QVBoxLayout(self)
        needs = section.data.needs(Action.MANAGE_PEOPLE) if section.data else "its quorum"
        intro = QLabel(f"Changing roles needs {needs}. {person.name} may not take part.", self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.roles = _RoleBoxes(self, person.roles)
        layout.addWidget(self.roles)
        self.error = ErrorLabel("error_roles", self)
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        if ok is not None:
            ok.setText("&Change roles")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def submit(self) -> None:
        roles = self.roles.roles()
        data = self.section.data
        try:
            if data is not None:
                data.policy.check_roles(roles)
        except BadInput as exc:
            self.error.show_error(exc.user_message())
            return
        if roles == self.person.roles:
            self.error.show_error("Nothing changed.")
            return
        services = self.section.state.services
        name = self.person.name
        self.section.change(
            action=Action.MANAGE_PEOPLE,
            title=f"Changing the roles of {name}",
            call=lambda session: services.people.set_roles(session, name, roles),
            kind="people",
            parent=self,
            on_done=lambda _: self.accept(),
        )


class PeopleSection(_Section):
    def __init__(self, page: AdminPage) -> None:
        super().__init__(page)
        self.setObjectName("peopleSection")
        self.hint = _hint(self, "peopleHint")
        self.model = RecordModel(["Name", "Roles", "Status", "Cards", "Groups", "Enrolled"], self)
        self.table = _table(self.model, "peopleTable", self)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update_buttons())
        self.enrol_button = _button("&Enrol person…", "enrolPersonButton", self, self.open_enrol)
        self.roles_button = _button("Change &roles…", "changeRolesButton", self, self.open_roles)
        self.status_buttons = {
            target: _button(
                f"{STATUS_VERBS[target]}…",
                f"{STATUS_VERBS[target].lower()}PersonButton",
                self,
                partial(self.ask_status, target),
            )
            for target in (Status.SUSPENDED, Status.ACTIVE, Status.REVOKED)
        }
        buttons = QHBoxLayout()
        buttons.addWidget(self.enrol_button)
        buttons.addWidget(self.roles_button)
        for button in self.status_buttons.values():
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    def show_data(self, data: AdminData) -> None:
        chosen = self.selected()
        self.model.set_rows(
            (
                person,
                (
                    person.name,
                    _roles_text(person.roles),
                    person.status.value,
                    _cards_text(cards),
                    ", ".join(data.groups_of(person)) or "—",
                    f"{person.created_at:%Y-%m-%d}" if person.created_at else "—",
                ),
            )
            for person, cards in sorted(data.people, key=lambda pc: pc[0].name.casefold())
        )
        _fit(self.table)
        if chosen is not None:
            _select(self.table, self.model, lambda p: p.id == chosen.id)
        self.hint.setText(
            f"Enrolling a person needs {data.needs(Action.ENROL_PERSON)}; suspending, "
            f"reinstating, revoking and changing roles need {data.needs(Action.MANAGE_PEOPLE)}. "
            "Nobody changes their own standing."
        )
        self._update_buttons()

    def selected(self) -> Person | None:
        record = current_record(self.table, self.model)
        return record if isinstance(record, Person) else None

    def select(self, name: str) -> bool:
        return _select(self.table, self.model, lambda p: p.name == name)

    def _update_buttons(self) -> None:
        person = self.selected()
        loaded = self.data is not None
        self.enrol_button.setEnabled(loaded)
        revoked = person is None or person.status is Status.REVOKED
        self.roles_button.setEnabled(not revoked)
        for target, button in self.status_buttons.items():
            button.setEnabled(not revoked and person is not None and person.status is not target)

    def open_enrol(self) -> EnrolPersonDialog:
        dialog = EnrolPersonDialog(self)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def open_roles(self) -> RolesDialog | None:
        person = self.selected()
        if person is None:
            return None
        dialog = RolesDialog(self, person)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def ask_status(self, target: Status) -> ReasonDialog | None:
        person = self.selected()
        if person is None:
            return None
        verb = STATUS_VERBS[target]
        effect = {
            Status.SUSPENDED: "They cannot log on or count for any quorum until reinstated.",
            Status.ACTIVE: "They may log on again.",
            Status.REVOKED: "This is final: they never log on again.",
        }[target]
        needs = self.data.needs(Action.MANAGE_PEOPLE) if self.data else "its quorum"
        dialog = ReasonDialog(
            self,
            f"{verb} {person.name}",
            f"{verb} {person.name}? {effect} This needs {needs}.",
            required=target is not Status.ACTIVE,
        )
        dialog.accepted.connect(lambda: self.set_status(person.name, target, dialog.text()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def set_status(self, name: str, target: Status, reason: str) -> None:
        services = self.state.services
        self.change(
            action=Action.MANAGE_PEOPLE,
            title=f"{STATUS_VERBS[target]} {name}",
            call=lambda session: services.people.set_status(session, name, target, reason),
            kind="people",
            on_done=lambda p: self.page.say(f"{p.name} is now {p.status.value}."),
        )


# --- cards -------------------------------------------------------------------------------


class CardsSection(_Section):
    def __init__(self, page: AdminPage) -> None:
        super().__init__(page)
        self.setObjectName("cardsSection")
        self.hint = _hint(self, "cardsHint")
        self.model = RecordModel(
            ["Card", "Holder", "Status", "Subject", "Certificate serial", "Expires", "Enrolled"],
            self,
        )
        self.table = _table(self.model, "cardsTable", self)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update_buttons())
        self.holders: dict[str, str] = {}
        self.status_buttons = {
            target: _button(
                f"{STATUS_VERBS[target]} card…",
                f"{STATUS_VERBS[target].lower()}CardButton",
                self,
                partial(self.ask_status, target),
            )
            for target in (Status.SUSPENDED, Status.ACTIVE, Status.REVOKED)
        }
        buttons = QHBoxLayout()
        for button in self.status_buttons.values():
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    def show_data(self, data: AdminData) -> None:
        chosen = self.selected()
        self.holders = {p.id: p.name for p, _ in data.people}
        rows = []
        for person, cards in sorted(data.people, key=lambda pc: pc[0].name.casefold()):
            for card in cards:
                rows.append(
                    (
                        card,
                        (
                            card.short_id,
                            person.name,
                            card.status.value,
                            card.subject,
                            card.serial_number,
                            f"{card.not_after:%Y-%m-%d}",
                            f"{card.enrolled_at:%Y-%m-%d}" if card.enrolled_at else "—",
                        ),
                    )
                )
        self.model.set_rows(rows)
        _fit(self.table)
        if chosen is not None:
            _select(self.table, self.model, lambda c: c.id == chosen.id)
        self.hint.setText(
            f"Suspending, reinstating and revoking a card needs "
            f"{data.needs(Action.MANAGE_CARDS)}. A further card for a person is enrolled "
            "from the command line (workstation-cli people add-card)."
        )
        self._update_buttons()

    def selected(self) -> Card | None:
        record = current_record(self.table, self.model)
        return record if isinstance(record, Card) else None

    def _update_buttons(self) -> None:
        card = self.selected()
        for target, button in self.status_buttons.items():
            button.setEnabled(
                card is not None and card.status is not Status.REVOKED and card.status is not target
            )

    def ask_status(self, target: Status) -> ReasonDialog | None:
        card = self.selected()
        if card is None:
            return None
        holder = self.holders.get(card.person_id, "its holder")
        verb = STATUS_VERBS[target]
        effect = {
            Status.SUSPENDED: "It cannot be used to log on until reinstated.",
            Status.ACTIVE: "It may be used to log on again.",
            Status.REVOKED: "This is final: the card is never accepted again.",
        }[target]
        dialog = ReasonDialog(
            self,
            f"{verb} card {card.short_id}",
            f"{verb} the card {card.short_id} of {holder}? {effect}",
            required=target is not Status.ACTIVE,
        )
        dialog.accepted.connect(lambda: self.set_status(card, target, dialog.text()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def set_status(self, card: Card, target: Status, reason: str) -> None:
        services = self.state.services
        self.change(
            action=Action.MANAGE_CARDS,
            title=f"{STATUS_VERBS[target]} card {card.short_id}",
            call=lambda session: services.people.set_card_status(session, card.id, target, reason),
            kind="people",
            on_done=lambda c: self.page.say(f"Card {c.short_id} is now {c.status.value}."),
        )


# --- groups ------------------------------------------------------------------------------


class GroupDialog(QDialog):
    """Create a group, or change its members and threshold (its m of n)."""

    def __init__(self, section: GroupsSection, group: Group | None, members: Sequence[str]) -> None:
        super().__init__(section)
        self.setObjectName("groupDialog")
        self.section = section
        self.group = group
        self.current = list(members)
        self.setWindowTitle(f"Change group {group.name}" if group else "Create a group")
        layout = QVBoxLayout(self)
        needs = section.data.needs(Action.MANAGE_GROUPS) if section.data else "its quorum"
        intro = QLabel(
            f"A group's threshold is how many of its members must act together (m of n). "
            f"Changing groups needs {needs}.",
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.name = QLineEdit(group.name if group else "", self)
        self.name.setObjectName("groupName")
        self.name.setReadOnly(group is not None)
        form.addRow("Name:", self.name)
        self.errors: dict[str, ErrorLabel] = {"name": ErrorLabel("error_name", self)}
        form.addRow("", self.errors["name"])
        self.threshold = QSpinBox(self)
        self.threshold.setObjectName("groupThreshold")
        self.threshold.setRange(1, 99)
        self.threshold.setValue(group.threshold if group else 2)
        self.threshold.setMinimumWidth(80)
        threshold_row = QHBoxLayout()
        threshold_row.addWidget(self.threshold)
        threshold_row.addWidget(QLabel("of the members ticked below must act together", self))
        threshold_row.addStretch(1)
        form.addRow("Threshold:", threshold_row)
        self.errors["threshold"] = ErrorLabel("error_threshold", self)
        form.addRow("", self.errors["threshold"])
        self.people = QListWidget(self)
        self.people.setObjectName("groupMembers")
        data = section.data
        for person, _ in sorted(data.people if data else [], key=lambda pc: pc[0].name):
            if person.status is Status.REVOKED:
                continue
            item = QListWidgetItem(f"{person.name} ({_roles_text(person.roles)})", self.people)
            item.setData(Qt.ItemDataRole.UserRole, person.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = person.name in self.current
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        form.addRow("Members:", self.people)
        self.errors["members"] = ErrorLabel("error_members", self)
        form.addRow("", self.errors["members"])
        layout.addLayout(form)
        self.general = ErrorLabel("groupError", self)
        layout.addWidget(self.general)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        if ok is not None:
            ok.setText("&Save group")
            ok.setObjectName("saveGroupButton")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(520, 520)

    def set_members(self, names: Iterable[str]) -> None:
        wanted = set(names)
        for i in range(self.people.count()):
            item = self.people.item(i)
            if item is not None:
                on = item.data(Qt.ItemDataRole.UserRole) in wanted
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def members(self) -> frozenset[str]:
        names = set()
        for i in range(self.people.count()):
            item = self.people.item(i)
            if item is not None and item.checkState() == Qt.CheckState.Checked:
                names.add(str(item.data(Qt.ItemDataRole.UserRole)))
        return frozenset(names)

    def submit(self) -> None:
        form = GroupForm(self.name.text(), self.threshold.value(), self.members(), self.group)
        errors = form.validate()
        show_field_errors(self.errors, errors, self.general)
        if errors:
            return
        services = self.section.state.services
        name = " ".join(form.name.split())
        threshold = form.threshold
        if self.group is None:
            members = sorted(form.members)
            self.section.change(
                action=Action.MANAGE_GROUPS,
                title=f"Creating group {name}",
                call=lambda s: services.people.create_group(s, name, threshold, members),
                kind="groups",
                parent=self,
                on_done=lambda _: self.accept(),
            )
            return
        add, remove = form.member_changes(self.current)
        if threshold == self.group.threshold and not add and not remove:
            self.general.show_error("Nothing changed.")
            return
        self.section.change(
            action=Action.MANAGE_GROUPS,
            title=f"Changing group {name}",
            call=lambda s: services.people.change_group(
                s, name, threshold=threshold, add=add, remove=remove
            ),
            kind="groups",
            parent=self,
            on_done=lambda _: self.accept(),
        )


class GroupsSection(_Section):
    def __init__(self, page: AdminPage) -> None:
        super().__init__(page)
        self.setObjectName("groupsSection")
        self.hint = _hint(self, "groupsHint")
        self.model = RecordModel(["Group", "Threshold", "Members"], self)
        self.table = _table(self.model, "groupsTable", self)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update_buttons())
        self.table.doubleClicked.connect(lambda _: self.open_change())
        self.create_button = _button("&Create group…", "createGroupButton", self, self.open_create)
        self.change_button = _button("C&hange group…", "changeGroupButton", self, self.open_change)
        buttons = QHBoxLayout()
        buttons.addWidget(self.create_button)
        buttons.addWidget(self.change_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    def show_data(self, data: AdminData) -> None:
        self.model.set_rows(
            (
                (group, members),
                (group.name, f"{group.threshold} of {len(members)}", ", ".join(members) or "—"),
            )
            for group, members in sorted(data.groups, key=lambda gm: gm[0].name.casefold())
        )
        _fit(self.table)
        self.hint.setText(
            "A group requirement in a quorum ('2 of group custodians A') takes the group's "
            f"threshold. Changing groups needs {data.needs(Action.MANAGE_GROUPS)}."
        )
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.create_button.setEnabled(self.data is not None)
        self.change_button.setEnabled(self.table.currentIndex().isValid())

    def open_create(self) -> GroupDialog:
        dialog = GroupDialog(self, None, [])
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def open_change(self) -> GroupDialog | None:
        record = current_record(self.table, self.model)
        if record is None:
            return None
        group, members = record
        dialog = GroupDialog(self, group, members)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog


# --- templates ---------------------------------------------------------------------------


class TemplateDialog(QDialog):
    """Create or edit a template; errors from the domain's rules appear next to fields."""

    FIELDS = (
        "name",
        "description",
        "algorithm",
        "key_usage",
        "mode_of_use",
        "exportability",
        "crypto_period_days",
        "label_pattern",
        "allowed_actions",
        "quorums",
        "test_key",
    )

    def __init__(self, section: TemplatesSection, template: KeyTemplate | None) -> None:
        super().__init__(section)
        self.setObjectName("templateDialog")
        self.section = section
        self.template = template
        self.setWindowTitle(f"Edit template {template.name}" if template else "New template")
        form_values = TemplateForm.from_template(template) if template else TemplateForm()
        data = section.data
        policy = data.policy if data else PolicySet()
        self.errors: dict[str, ErrorLabel] = {}

        left = QFormLayout()
        left.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self.name = QLineEdit(form_values.name, self)
        self.name.setObjectName("templateName")
        self._row(left, "Name:", self.name, "name")
        self.description = QLineEdit(form_values.description, self)
        self.description.setObjectName("templateDescription")
        self.description.setCursorPosition(0)
        self.description.setPlaceholderText("what the keys are for")
        self._row(left, "Purpose:", self.description, "description")
        self.algorithm = QComboBox(self)
        self.algorithm.setObjectName("templateAlgorithm")
        for algorithm in KeyAlgorithm:
            self.algorithm.addItem(algorithm.value, algorithm.value)
        self._row(left, "Algorithm:", self.algorithm, "algorithm")
        self.usage = self._codes("templateKeyUsage", KEY_USAGES)
        self._row(left, "Key usage (TR-31):", self.usage, "key_usage")
        self.mode = self._codes("templateModeOfUse", MODES_OF_USE)
        self._row(left, "Mode of use:", self.mode, "mode_of_use")
        self.export = self._codes("templateExportability", EXPORTABILITY)
        self._row(left, "Exportability:", self.export, "exportability")
        self.period = QSpinBox(self)
        self.period.setObjectName("templateCryptoPeriod")
        self.period.setRange(0, 99_999)
        self.period.setSuffix(" days")
        self.period.setGroupSeparatorShown(True)
        self._row(left, "Crypto-period:", self.period, "crypto_period_days")
        self.pattern = QLineEdit(form_values.label_pattern, self)
        self.pattern.setObjectName("templateLabelPattern")
        self.pattern.setToolTip(
            "Fields: {seq} (required, e.g. {seq:04d}), {date}, {year}, {template}, {version}."
        )
        self.pattern.textChanged.connect(self._preview)
        left.addRow("Label pattern:", self.pattern)
        self.example = QLabel(self)
        self.example.setObjectName("templateLabelExample")
        left.addRow("", self.example)
        self.errors["label_pattern"] = ErrorLabel("error_label_pattern", self)
        left.addRow("", self.errors["label_pattern"])
        self.test_key = QCheckBox("Test key (for test tools only, never live traffic)", self)
        self.test_key.setObjectName("templateTestKey")
        self.test_key.setChecked(form_values.test_key)
        self._row(left, "", self.test_key, "test_key")

        right = QGroupBox("Key actions this template allows, and who must act", self)
        grid = QGridLayout(right)
        grid.addWidget(QLabel("Allowed", right), 0, 0)
        grid.addWidget(QLabel("Quorum (empty: the workstation policy)", right), 0, 1)
        self.allowed: dict[Action, QCheckBox] = {}
        self.quorums: dict[Action, QLineEdit] = {}
        overrides = form_values.quorums or {}
        for row, action in enumerate(sorted(KEY_ACTIONS, key=_key_action_order), start=1):
            box = QCheckBox(action.display.capitalize(), right)
            box.setObjectName(f"allow_{action.value}")
            box.setChecked(action in form_values.allowed_actions)
            edit = QLineEdit(overrides.get(action, ""), right)
            edit.setObjectName(f"quorum_{action.value}")
            try:
                edit.setPlaceholderText(quorum_text(policy.quorum_for(action)))
            except BadInput:
                edit.setPlaceholderText("e.g. 2 key_custodian")
            grid.addWidget(box, row, 0)
            grid.addWidget(edit, row, 1)
            self.allowed[action] = box
            self.quorums[action] = edit
        last = len(KEY_ACTIONS) + 1
        for field, offset in (("allowed_actions", 0), ("quorums", 1)):
            label = ErrorLabel(f"error_{field}", right)
            self.errors[field] = label
            grid.addWidget(label, last + offset, 0, 1, 2)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(last + 2, 1)

        self._set_combo(self.algorithm, form_values.algorithm)
        self._set_combo(self.usage, form_values.key_usage)
        self._set_combo(self.mode, form_values.mode_of_use)
        self._set_combo(self.export, form_values.exportability)
        self.period.setValue(int(form_values.crypto_period_days))

        columns = QHBoxLayout()
        left_box = QVBoxLayout()
        left_box.addLayout(left)
        left_box.addStretch(1)
        columns.addLayout(left_box, 1)
        columns.addWidget(right, 1)
        layout = QVBoxLayout(self)
        needs = data.needs(Action.MANAGE_TEMPLATES) if data else "its quorum"
        intro = QLabel(
            "Keys keep the attributes they were made with; a change makes a new version of "
            f"the template for keys made from now on. Saving needs {needs}.",
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(columns)
        self.general = ErrorLabel("templateError", self)
        layout.addWidget(self.general)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        save = buttons.button(QDialogButtonBox.StandardButton.Save)
        if save is not None:
            save.setObjectName("saveTemplateButton")
            save.setText("&Save template")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._preview()
        self.resize(1040, self.sizeHint().height())

    def _codes(self, name: str, table: dict[str, str] | Any) -> QComboBox:
        combo = QComboBox(self)
        combo.setObjectName(name)
        # The meanings are long: the list shows them whole, the closed box elides.
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(28)
        for code, meaning in table.items():
            combo.addItem(f"{code} — {meaning}", code)
        return combo

    @staticmethod
    def _set_combo(combo: QComboBox, value: str) -> None:
        index = combo.findData(value)
        if index >= 0:
            combo.setCurrentIndex(index)

    def _row(self, form: QFormLayout, title: str, widget: QWidget, field: str) -> None:
        form.addRow(title, widget)
        label = ErrorLabel(f"error_{field}", self)
        self.errors[field] = label
        form.addRow("", label)

    def _preview(self) -> None:
        from datetime import UTC, datetime

        try:
            example = render_label(
                self.pattern.text(),
                seq=1,
                when=datetime.now(UTC),
                template=self.name.text() or "template",
                version=1,
            )
        except (ValueError, KeyError, TypeError, IndexError):
            example = "—"
        self.example.setText(f"e.g. {example}")

    def form(self) -> TemplateForm:
        return TemplateForm(
            name=self.name.text(),
            description=self.description.text(),
            algorithm=str(self.algorithm.currentData()),
            key_usage=str(self.usage.currentData()),
            mode_of_use=str(self.mode.currentData()),
            exportability=str(self.export.currentData()),
            crypto_period_days=self.period.value(),
            label_pattern=self.pattern.text(),
            allowed_actions=frozenset(a for a, box in self.allowed.items() if box.isChecked()),
            quorums={a: e.text() for a, e in self.quorums.items() if e.text().strip()},
            test_key=self.test_key.isChecked(),
        )

    def validate(self) -> FieldErrors:
        errors = self.form().validate()
        show_field_errors(self.errors, errors, self.general)
        return errors

    def submit(self) -> None:
        if self.validate():
            return
        form = self.form()
        services = self.section.state.services
        if self.template is None:
            fields = form.fields()
            self.section.change(
                action=Action.MANAGE_TEMPLATES,
                title=f"Creating template {fields['name']}",
                call=lambda s: services.templates.create(s, **fields),
                kind="templates",
                parent=self,
                on_done=lambda _: self.accept(),
            )
            return
        changes = form.changes(self.template)
        if not changes:
            self.general.show_error("Nothing changed.")
            return
        ref = self.template.id
        self.section.change(
            action=Action.MANAGE_TEMPLATES,
            title=f"Saving template {self.template.name}",
            call=lambda s: services.templates.edit(s, ref, **changes),
            kind="templates",
            parent=self,
            on_done=lambda _: self.accept(),
        )


def _key_action_order(action: Action) -> int:
    order = [
        Action.GENERATE_KEY,
        Action.ACTIVATE_KEY,
        Action.SUSPEND_KEY,
        Action.REINSTATE_KEY,
        Action.DEACTIVATE_KEY,
        Action.ROTATE_KEY,
        Action.EXPORT_KEY,
        Action.IMPORT_KEY,
        Action.DERIVE_TEST_KEYS,
        Action.MANAGE_CERTIFICATES,
        Action.COMPROMISE_KEY,
        Action.DESTROY_KEY,
    ]
    return order.index(action) if action in order else len(order)


class TemplatesSection(_Section):
    def __init__(self, page: AdminPage) -> None:
        super().__init__(page)
        self.setObjectName("templatesSection")
        self.hint = _hint(self, "templatesHint")
        self.model = RecordModel(
            [
                "Template",
                "Algorithm",
                "Usage",
                "Mode",
                "Export",
                "Crypto-period",
                "Label pattern",
                "Status",
                "Version",
            ],
            self,
        )
        self.table = _table(self.model, "templatesTable", self)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update_buttons())
        self.table.doubleClicked.connect(lambda _: self.open_edit())
        self.new_button = _button("&New template…", "newTemplateButton", self, self.open_new)
        self.edit_button = _button("E&dit template…", "editTemplateButton", self, self.open_edit)
        self.retire_button = _button("Re&tire template…", "retireTemplateButton", self, self.retire)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.edit_button, self.retire_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    def show_data(self, data: AdminData) -> None:
        chosen = self.selected()
        self.model.set_rows(
            (
                t,
                (
                    t.name,
                    t.algorithm.value,
                    t.key_usage,
                    t.mode_of_use,
                    t.exportability,
                    describe_period(t.crypto_period_days),
                    t.label_pattern,
                    t.status.value,
                    str(t.version),
                ),
            )
            for t in sorted(
                data.templates,
                key=lambda t: (t.status is not TemplateStatus.ACTIVE, t.name.casefold()),
            )
        )
        _fit(self.table)
        if chosen is not None:
            _select(self.table, self.model, lambda t: t.id == chosen.id)
        self.hint.setText(
            "Templates fix what keys are made: algorithm, TR-31 attributes, crypto-period, "
            f"label and the quorums of key actions. Changes need "
            f"{data.needs(Action.MANAGE_TEMPLATES)}."
        )
        self._update_buttons()

    def selected(self) -> KeyTemplate | None:
        record = current_record(self.table, self.model)
        return record if isinstance(record, KeyTemplate) else None

    def _update_buttons(self) -> None:
        template = self.selected()
        active = template is not None and template.status is TemplateStatus.ACTIVE
        self.new_button.setEnabled(self.data is not None)
        self.edit_button.setEnabled(active)
        self.retire_button.setEnabled(active)

    def open_new(self) -> TemplateDialog:
        dialog = TemplateDialog(self, None)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def open_edit(self) -> TemplateDialog | None:
        template = self.selected()
        if template is None or template.status is not TemplateStatus.ACTIVE:
            return None
        dialog = TemplateDialog(self, template)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def retire(self) -> None:
        template = self.selected()
        if template is None:
            return
        if not self.page.confirm(
            f"Retire template {template.name}",
            f"Retire {template.name!r}? No keys are made from it any more; keys already "
            "made keep their attributes. This cannot be undone.",
        ):
            return
        services = self.state.services
        ref = template.id
        self.change(
            action=Action.MANAGE_TEMPLATES,
            title=f"Retiring template {template.name}",
            call=lambda s: services.templates.retire(s, ref),
            kind="templates",
            on_done=lambda t: self.page.say(f"Template {t.name!r} is retired."),
        )


# --- policies ----------------------------------------------------------------------------


class PoliciesSection(_Section):
    ACTION, QUORUM, MEANING = range(3)

    def __init__(self, page: AdminPage) -> None:
        super().__init__(page)
        self.setObjectName("policiesSection")
        self.hint = _hint(self, "policiesHint")
        self.table = QTableWidget(0, 3, self)
        self.table.setObjectName("policyTable")
        self.table.setHorizontalHeaderLabels(["Action", "Quorum (editable)", "Reads as"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.itemChanged.connect(self._edited)
        self.timeout = QSpinBox(self)
        self.timeout.setObjectName("idleTimeout")
        self.timeout.setRange(1, 86_400)
        self.timeout.setSuffix(" seconds")
        self.timeout.setGroupSeparatorShown(True)
        self.timeout.setMinimumWidth(160)
        self.timeout.valueChanged.connect(self._timeout_changed)
        self.timeout_words = QLabel(self)
        self.timeout_words.setObjectName("idleTimeoutWords")
        self.timeout_error = ErrorLabel("error_idle_timeout_seconds", self)
        self.roles_note = _hint(self, "incompatibleRoles")
        # One box per kind of export a kiosk may write to removable media; the kiosk's
        # outbox is always allowed, and component mailers never leave it.
        self.media_group = QGroupBox(
            "In kiosk mode, these may also be written to removable media (the outbox is "
            "always allowed; component mailers never leave it):",
            self,
        )
        self.media_group.setObjectName("mediaExports")
        media_grid = QGridLayout(self.media_group)
        self.media: dict[MediaExport, QCheckBox] = {}
        for i, kind in enumerate(MediaExport):
            box = QCheckBox(kind.display[:1].upper() + kind.display[1:], self.media_group)
            box.setObjectName(f"media_{kind.value}")
            self.media[kind] = box
            media_grid.addWidget(box, i // 2, i % 2)
        self.error = ErrorLabel("policyError", self)
        self.apply_button = _button("&Apply changes…", "applyPolicyButton", self, self.apply)
        self.revert_button = _button("&Undo edits", "revertPolicyButton", self, self.revert)
        form = QFormLayout()
        timeout_row = QHBoxLayout()
        timeout_row.addWidget(self.timeout)
        timeout_row.addWidget(self.timeout_words)
        timeout_row.addStretch(1)
        form.addRow("Lock an idle session after:", timeout_row)
        form.addRow("", self.timeout_error)
        form.addRow("One person may not be both:", self.roles_note)
        form.addRow(self.media_group)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self._filling = False
        self.policy: PolicySet | None = None

    def show_data(self, data: AdminData) -> None:
        self.policy = data.policy
        self.revert()
        self.hint.setText(
            "Each action needs the people written here, for example '1 security_officer + 1 "
            "supervisor', '2 of group custodians A' or '1 auditor|security_officer'. Templates "
            "may set their own quorums for key actions. Changing the policy needs "
            f"{data.needs(Action.CHANGE_POLICY)}."
        )
        pairs = sorted(
            " and ".join(sorted(r.display for r in pair)) for pair in data.policy.incompatible_roles
        )
        self.roles_note.setText("; ".join(pairs) or "no restriction")

    def revert(self) -> None:
        policy = self.policy
        if policy is None:
            return
        form = PolicyForm.from_policy(policy)
        self._filling = True
        self.table.setRowCount(0)
        for action in form.editable_actions():
            row = self.table.rowCount()
            self.table.insertRow(row)
            name = QTableWidgetItem(action.display.capitalize())
            name.setFlags(name.flags() & ~Qt.ItemFlag.ItemIsEditable)
            name.setData(Qt.ItemDataRole.UserRole, action.value)
            self.table.setItem(row, self.ACTION, name)
            self.table.setItem(row, self.QUORUM, QTableWidgetItem(form.quorums.get(action, "")))
            meaning = QTableWidgetItem("")
            meaning.setFlags(meaning.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(row, self.MEANING, meaning)
            self._explain(row)
        self._filling = False
        _fit(self.table)
        self.timeout.setValue(policy.idle_timeout_seconds)
        for kind, box in self.media.items():
            box.setChecked(kind in policy.removable_media_exports)
        self.timeout_error.show_error(None)
        self.error.show_error(None)

    def _timeout_changed(self, seconds: int) -> None:
        minutes, rest = divmod(seconds, 60)
        if minutes and not rest:
            self.timeout_words.setText(f"({minutes} minute{'s' if minutes != 1 else ''})")
        elif minutes:
            self.timeout_words.setText(f"({minutes} min {rest} s)")
        else:
            self.timeout_words.setText("")

    def row_of(self, action: Action) -> int:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, self.ACTION)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == action.value:
                return row
        raise KeyError(action)

    def set_quorum_text(self, action: Action, text: str) -> None:
        item = self.table.item(self.row_of(action), self.QUORUM)
        assert item is not None
        item.setText(text)

    def meaning(self, action: Action) -> str:
        item = self.table.item(self.row_of(action), self.MEANING)
        return item.text() if item is not None else ""

    def _edited(self, item: QTableWidgetItem) -> None:
        if not self._filling and item.column() == self.QUORUM:
            self._explain(item.row())

    def _explain(self, row: int) -> None:
        quorum = self.table.item(row, self.QUORUM)
        meaning = self.table.item(row, self.MEANING)
        if quorum is None or meaning is None:
            return
        was = self._filling
        self._filling = True
        try:
            meaning.setText(Quorum.parse(quorum.text()).describe())
            meaning.setForeground(self.palette().text())
        except BadInput as exc:
            meaning.setText(exc.user_message())
            meaning.setForeground(Qt.GlobalColor.darkRed)
        finally:
            self._filling = was

    def form(self) -> PolicyForm | None:
        if self.policy is None:
            return None
        quorums: dict[Action, str] = {}
        for row in range(self.table.rowCount()):
            action_item = self.table.item(row, self.ACTION)
            quorum_item = self.table.item(row, self.QUORUM)
            if action_item is None or quorum_item is None:
                continue
            quorums[Action(str(action_item.data(Qt.ItemDataRole.UserRole)))] = quorum_item.text()
        return PolicyForm(self.policy, quorums, self.timeout.value())

    def media_choice(self) -> frozenset[MediaExport]:
        return frozenset(kind for kind, box in self.media.items() if box.isChecked())

    def apply(self) -> None:
        form = self.form()
        if form is None:
            return
        errors = form.validate()
        self.timeout_error.show_error(errors.get("idle_timeout_seconds"))
        bad = [
            f"{Action(k).display.capitalize()}: {v}"
            for k, v in errors.items()
            if k != "idle_timeout_seconds"
        ]
        if bad:
            self.error.show_error("Please correct: " + " ".join(bad))
            return
        if errors:
            self.error.show_error(None)
            return
        quorums, timeout = form.changes()
        media: frozenset[MediaExport] | None = self.media_choice()
        if self.policy is not None and media == self.policy.removable_media_exports:
            media = None
        if not quorums and timeout is None and media is None:
            self.error.show_error("Nothing changed.")
            return
        self.error.show_error(None)
        changes = form.describe_changes()
        if media is not None and self.policy is not None:
            before = describe_media_exports(self.policy.removable_media_exports)
            changes.append(
                f"Kiosk exports to removable media: {before} → {describe_media_exports(media)}"
            )
        if not self.page.confirm(
            "Change the policy", "Change the policy?\n\n" + "\n".join(changes)
        ):
            return
        services = self.state.services
        self.change(
            action=Action.CHANGE_POLICY,
            title="Changing the policy",
            call=lambda s: services.policies.change(
                s, quorums=quorums, idle_timeout_seconds=timeout, removable_media_exports=media
            ),
            kind="policy",
            on_done=lambda p: self.page.say(f"The policy is now version {p.version}."),
        )


# --- the page ----------------------------------------------------------------------------


class AdminPage(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("adminPage")
        self.state = state
        self.data: AdminData | None = None
        self._stale = True
        self._ticket = 0
        self.status = StatusLine("adminStatus", self, good_style="", selectable=False)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("adminTabs")
        self.people = PeopleSection(self)
        self.cards = CardsSection(self)
        self.groups = GroupsSection(self)
        self.templates = TemplatesSection(self)
        self.policies = PoliciesSection(self)
        self.tabs.addTab(self.people, "&People")
        self.tabs.addTab(self.cards, "&Cards")
        self.tabs.addTab(self.groups, "&Groups")
        self.tabs.addTab(self.templates, "&Templates")
        self.tabs.addTab(self.policies, "P&olicies")
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)
        state.session_changed.connect(self._session_changed)
        state.data_changed.connect(self._data_changed)

    def sections(self) -> list[_Section]:
        return [self.people, self.cards, self.groups, self.templates, self.policies]

    def say(self, text: str, *, bad: bool = False) -> None:
        self.status.say(text, bad=bad)

    def confirm(self, title: str, text: str) -> bool:
        return _confirm(self, title, text)

    def refresh(self) -> None:
        """Read people, cards, groups, templates and the policy again."""
        if not self.state.members:
            return
        self._stale = False
        self._ticket += 1
        ticket = self._ticket
        services = self.state.services

        def work(_: JobControl) -> AdminData:
            session = self.state.ensure_session()
            return AdminData(
                people=services.people.list_people(session),
                groups=services.people.list_groups(session),
                templates=services.templates.list(session, include_retired=True),
                policy=services.policies.current(session),
            )

        def done(data: AdminData) -> None:
            self.data = data
            if self.status.bad:
                self.say("")  # a reading problem shown before is over
            for section in self.sections():
                section.show_data(data)

        read_if_allowed(
            self.state,
            Action.VIEW_INVENTORY,
            title="read the administration",
            work=work,
            on_done=done,
            on_refused=lambda requirement: self.say(requirement.explain(), bad=True),
            on_error=lambda exc: self.say(describe(exc)[1], bad=True),
            current=lambda: ticket == self._ticket,
        )

    def _session_changed(self) -> None:
        if not self.state.members:
            self.data = None
            self._stale = True
            return
        self._mark_stale()

    def _data_changed(self, kind: str) -> None:
        if kind in ("people", "groups", "templates", "policy"):
            self._mark_stale()

    def _mark_stale(self) -> None:
        self._stale = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()
