"""The key wizards: generate keys, rotate a key, change a key's state.

Each wizard renders a flow of ``workstation.flows`` (which step comes next, what it needs,
what is wrong with the input); a page's ``validatePage()`` asks the flow's validator and
shows its errors next to the fields. The "dual control" step shows what the action needs
and who is missing (``AppState.requirement``); the work itself runs through
``gui.actions.perform``, which opens the co-sign dialog for missing people and runs the
service on the device thread with a progress dialog (cancellable for bulk generation).
The services check every rule again when the work runs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QDate, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QAction, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QDateEdit,
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
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QTableView,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from workstation.domain.keys import ManagedKey
from workstation.domain.policy import Action
from workstation.domain.templates import KeyTemplate
from workstation.flows.wizards import (
    ACTION_EFFECTS,
    ACTION_TITLES,
    MAX_KEYS_PER_RUN,
    FieldErrors,
    FlowError,
    GenerateKeyFlow,
    GenerateStep,
    RotateFlow,
    RotateStep,
    StateChangeFlow,
    StateChangeStep,
    describe_algorithm,
    requirement_lines,
)
from workstation.services.keys import Availability, GenerationResult, KeyDetail
from workstation.services.logon import Requirement

from .actions import perform
from .errors import describe, show_error
from .runner import JobControl
from .state import AppState

log = logging.getLogger(__name__)

__all__ = [
    "ERROR_STYLE",
    "GOOD_STYLE",
    "ErrorLabel",
    "GenerateKeyWizard",
    "QuorumPanel",
    "RotateWizard",
    "RowsModel",
    "StateChangeWizard",
    "fill_form",
]

ERROR_STYLE = "color: #a40000;"  # dark red: readable on light and grey backgrounds
GOOD_STYLE = "color: #1f5f1f;"
NOTE_STYLE = "color: palette(mid);"


# --- small shared widgets ----------------------------------------------------------------


class ErrorLabel(QLabel):
    """A field's error, in dark red under the field; hidden while there is none."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setWordWrap(True)
        self.setStyleSheet(ERROR_STYLE)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hide()

    def show_error(self, text: str | None) -> None:
        self.setText(text or "")
        self.setVisible(bool(text))


def show_field_errors(
    labels: dict[str, ErrorLabel], errors: FieldErrors, fallback: ErrorLabel | None = None
) -> None:
    """Each error next to its field; errors for fields without a label go to ``fallback``."""
    for field, label in labels.items():
        label.show_error(errors.get(field))
    rest = [text for field, text in errors.items() if field not in labels]
    if fallback is not None:
        fallback.show_error(" ".join(rest) if rest else None)


class FormDialog(QDialog):
    """A dialog of form fields that show their errors beneath them, an intro above and a
    general error, OK and Cancel below; ``submit`` (each dialog its own) runs on OK."""

    def __init__(self, parent: QWidget, name: str, title: str, intro: str) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setWindowTitle(title)
        self.layout_ = QVBoxLayout(self)
        text = QLabel(intro, self)
        text.setObjectName("dialogIntro")
        text.setWordWrap(True)
        self.layout_.addWidget(text)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.layout_.addLayout(self.form)
        self.errors: dict[str, ErrorLabel] = {}
        self.general = ErrorLabel("dialogError", self)

    def add_row(self, label: str, widget: QWidget, field: str) -> None:
        self.form.addRow(label, widget)
        error = ErrorLabel(f"error_{field}", self)
        self.errors[field] = error
        self.form.addRow("", error)

    def finish_layout(self, ok_text: str, ok_name: str) -> None:
        self.layout_.addWidget(self.general)
        self.layout_.addStretch(1)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if ok is not None:
            ok.setText(ok_text)
            ok.setObjectName(ok_name)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.layout_.addWidget(self.buttons)

    def show_errors(self, errors: FieldErrors) -> bool:
        show_field_errors(self.errors, errors, self.general)
        return not errors

    def submit(self) -> None:
        """Check the fields and run the change (each dialog its own)."""


def fill_form(form: QFormLayout, rows: Iterable[tuple[str, str]], prefix: str = "") -> None:
    """Replace a form's rows with read-only (name, value) pairs."""
    while form.rowCount():
        form.removeRow(0)
    for name, value in rows:
        label = QLabel(value)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if prefix:
            words = re.findall(r"[A-Za-z0-9]+", name)
            label.setObjectName(prefix + "".join(w.capitalize() for w in words))
        form.addRow(f"{name}:", label)


def _form() -> QFormLayout:
    form = QFormLayout()
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
    return form


class FactsAndPem(QGroupBox):
    """A details box: read-only facts on the left (scrolling), a PEM text on the right with
    a copy button; ``show_facts`` fills both or, given None, says what to choose."""

    def __init__(
        self,
        parent: QWidget,
        *,
        title: str,
        name: str,
        pem_title: str,
        pem_name: str,
        copy_text: str,
        copy_name: str,
        copied_name: str,
        empty_text: str,
    ) -> None:
        super().__init__(title, parent)
        self.setObjectName(name)
        self.empty_text = empty_text
        facts = QWidget(self)
        self.facts = _form()
        facts.setLayout(self.facts)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(facts)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.pem_title = QLabel(pem_title, self)
        self.pem = QPlainTextEdit(self)
        self.pem.setObjectName(pem_name)
        self.pem.setReadOnly(True)
        self.pem.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.pem.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.copy_button = QPushButton(copy_text, self)
        self.copy_button.setObjectName(copy_name)
        self.copy_button.clicked.connect(self.copy_pem)
        self.copied = QLabel(self)
        self.copied.setObjectName(copied_name)
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.copied, 1)
        text = QVBoxLayout()
        text.addWidget(self.pem_title)
        text.addWidget(self.pem, 1)
        text.addLayout(buttons)
        layout = QHBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addLayout(text, 1)
        self.show_facts(None)

    def show_facts(
        self, rows: Iterable[tuple[str, str]] | None, pem: str = "", prefix: str = ""
    ) -> None:
        self.copied.setText("")
        fill_form(self.facts, rows or [], prefix=prefix)
        if rows is None:
            self.facts.addRow(QLabel(self.empty_text, self))
        self.pem.setPlainText(pem)
        for widget in (self.pem_title, self.pem, self.copy_button):
            widget.setVisible(bool(pem))

    def copy_pem(self) -> None:
        text = self.pem.toPlainText()
        if text:
            QGuiApplication.clipboard().setText(text)
            self.copied.setText("Copied to the clipboard.")


def _note(text: str, parent: QWidget | None = None) -> QLabel:
    label = QLabel(text, parent)
    label.setWordWrap(True)
    return label


def wizard_toolbar(
    parent: QWidget,
    title: str,
    name: str,
    entries: Iterable[tuple[str, str, str, str]],
    open_wizard: Callable[[str], object],
) -> tuple[QToolBar, dict[str, QAction]]:
    """A page's toolbar of wizards: a text button for each (entry point, text, object
    name, tooltip) that calls ``open_wizard`` with the entry point; the actions by entry
    point, for enabling them."""
    toolbar = QToolBar(title, parent)
    toolbar.setObjectName(name)
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    actions: dict[str, QAction] = {}
    for entry, text, object_name, tip in entries:
        action = QAction(text, parent)
        action.setObjectName(object_name)
        action.setToolTip(tip)
        action.triggered.connect(lambda _=False, e=entry: open_wizard(e))
        action.setIconText(text)  # keeps the "…": each opens a wizard
        toolbar.addAction(action)
        button = toolbar.widgetForAction(action)
        if isinstance(button, QToolButton):
            button.setAutoRaise(False)  # they look like the buttons they are
        actions[entry] = action
    return toolbar, actions


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(day: QDate) -> date:
    return date(day.year(), day.month(), day.day())


class RowsModel(QAbstractTableModel):
    """A read-only table of text rows with named columns (results of the wizards)."""

    def __init__(self, headers: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.headers = list(headers)
        self.rows: list[tuple[str, ...]] = []

    def set_rows(self, rows: Iterable[Sequence[str]]) -> None:
        self.beginResetModel()
        self.rows = [tuple(r) for r in rows]
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.headers)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or role not in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ToolTipRole,
        ):
            return None
        return self.rows[index.row()][index.column()]

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers[section]
        return None


def _result_table(model: RowsModel, name: str, parent: QWidget) -> QTableView:
    view = QTableView(parent)
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().setVisible(False)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(True)
    return view


class QuorumPanel(QWidget):
    """What an action needs and who is missing, asked of the service and asked again
    whenever someone logs on or leaves."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("quorumPanel")
        self.state = state
        self.action: Action | None = None
        self.template: str | None = None
        self.requirement: Requirement | None = None
        self.on_checked: Callable[[Requirement], None] | None = None
        self._ticket = 0
        self.needs = QLabel(self)
        self.needs.setObjectName("quorumNeeds")
        self.needs.setWordWrap(True)
        font = self.needs.font()
        font.setBold(True)
        self.needs.setFont(font)
        self.present = QLabel(self)
        self.present.setObjectName("quorumPresent")
        self.present.setWordWrap(True)
        self.status = QLabel(self)
        self.status.setObjectName("quorumStatus")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.needs)
        layout.addWidget(self.present)
        layout.addWidget(self.status)
        self.needs.setText("Checking who is needed…")
        state.session_changed.connect(self.refresh)

    def ask(self, action: Action, template: str | None) -> None:
        self.action, self.template = action, template
        self.refresh()

    def refresh(self) -> None:
        if self.action is None:
            return
        self._ticket += 1
        ticket = self._ticket

        def done(requirement: Requirement) -> None:
            if ticket == self._ticket:
                self.show_requirement(requirement)

        def failed(exc: BaseException) -> None:
            if ticket == self._ticket:
                self.status.setStyleSheet(ERROR_STYLE)
                self.status.setText(describe(exc)[1])

        self.state.requirement(self.action, self.template, done, on_error=failed)

    def show_requirement(self, requirement: Requirement) -> None:
        self.requirement = requirement
        needs, present, status = requirement_lines(requirement)
        self.needs.setText(needs)
        self.present.setText(present)
        self.status.setText(status)
        self.status.setStyleSheet(GOOD_STYLE if requirement.met else ERROR_STYLE)
        if self.on_checked is not None:
            self.on_checked(requirement)


def _quorum_box(
    state: AppState,
    parent: QWidget,
    on_checked: Callable[[Requirement], None] | None = None,
) -> tuple[QGroupBox, QuorumPanel]:
    """The "Dual control" box of a page: what the action needs and who is missing
    (``on_checked`` hears each answer)."""
    box = QGroupBox("Dual control", parent)
    layout = QVBoxLayout(box)
    panel = QuorumPanel(state, box)
    panel.on_checked = on_checked
    layout.addWidget(panel)
    return box, panel


# --- the wizard base ---------------------------------------------------------------------


class _FlowWizard(QWizard):
    """A wizard over a flow: service calls on the device thread, ignored once closed."""

    def __init__(self, state: AppState, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.state = state
        self.closed = False
        self.running = False
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.HaveHelpButton, False)
        self.resize(820, 620)
        self.finished.connect(self._on_finished)
        state.runner.busy_changed.connect(self._on_busy)

    def add_pages(self, *pages: QWizardPage) -> None:
        """Register ``pages`` under the ids 0, 1, 2… in the order given (the order of the
        wizard's page constants)."""
        for page_id, page in enumerate(pages):
            self.setPage(page_id, page)

    def call(
        self,
        work: Callable[[JobControl], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        title: str = "",
    ) -> None:
        """Run ``work`` on the device thread; its answer is dropped if the wizard closed."""

        def done(result: Any) -> None:
            if not self.closed:
                on_done(result)

        def failed(exc: BaseException) -> None:
            if self.closed:
                return
            if on_error is not None:
                on_error(exc)
            else:
                show_error(self, exc)

        self.state.run(work, title=title, on_done=done, on_error=failed)

    def run_action(
        self,
        *,
        action: Action,
        title: str,
        work: Callable[[JobControl], Any],
        on_done: Callable[[Any], None],
        template: str | None,
        cancellable: bool = False,
    ) -> None:
        """The work under its quorum (co-sign if someone is missing), with progress."""
        if self.running:
            return
        self.running = True

        def done(result: Any) -> None:
            self.running = False
            if not self.closed:
                on_done(result)

        perform(
            self.state,
            self,
            action=action,
            title=title,
            work=work,
            on_done=done,
            template=template,
            cancellable=cancellable,
        )

    def _on_busy(self, busy: bool) -> None:
        if busy:
            return
        # Nothing runs: the work is over (or failed, or the co-sign was cancelled), so the
        # page may be tried again; a closed wizard is deleted only now, as the progress
        # dialog of work still running is its child.
        self.running = False
        if self.closed:
            self.deleteLater()

    def _on_finished(self, _result: int) -> None:
        self.closed = True
        if not self.state.runner.busy:
            self.deleteLater()


class _FlowPage(QWizardPage):
    """A page showing one or more steps of a flow."""

    def __init__(self, title: str, subtitle: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self.errors: dict[str, ErrorLabel] = {}
        self.general_error = ErrorLabel("pageError", self)

    def add_error(self, field: str, layout: QVBoxLayout | QFormLayout) -> ErrorLabel:
        label = ErrorLabel(f"error_{field}", self)
        self.errors[field] = label
        if isinstance(layout, QFormLayout):
            layout.addRow("", label)
        else:
            layout.addWidget(label)
        return label

    def show_errors(self, errors: FieldErrors) -> bool:
        """Show ``errors`` next to their fields; True when there are none."""
        show_field_errors(self.errors, errors, self.general_error)
        return not errors


# --- generate keys -----------------------------------------------------------------------


class _TemplatePage(_FlowPage):
    def __init__(self, wizard: GenerateKeyWizard) -> None:
        info = wizard.flow.info(GenerateStep.TEMPLATE)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("templatePage")
        self.w = wizard
        self.loaded = False
        layout = QVBoxLayout(self)
        self.status = _note("Reading the templates…", self)
        self.status.setObjectName("templateStatus")
        layout.addWidget(self.status)
        row = QHBoxLayout()
        self.list = QListWidget(self)
        self.list.setObjectName("templateList")
        self.list.setMinimumWidth(260)
        self.list.currentItemChanged.connect(self._selected)
        self.list.itemDoubleClicked.connect(lambda _: wizard.next())
        row.addWidget(self.list, 2)
        box = QGroupBox("The chosen template", self)
        self.detail = _form()
        box.setLayout(self.detail)
        row.addWidget(box, 3)
        layout.addLayout(row, 1)
        self.add_error("template", layout)
        layout.addWidget(self.general_error)
        self._selected(None)

    def initializePage(self) -> None:
        if self.loaded:
            return
        services = self.w.state.services

        def work(_: JobControl) -> list[KeyTemplate]:
            return services.templates.list(self.w.state.ensure_session())

        def done(templates: list[KeyTemplate]) -> None:
            self.loaded = True
            self.w.flow.set_templates(templates)
            self.list.clear()
            for t in self.w.flow.choosable:
                item = QListWidgetItem(t.name, self.list)
                item.setToolTip(t.description)
            count = self.list.count()
            self.status.setText(
                f"{count} templates. Choose the one for the keys you need, then press Next."
                if count
                else "There is no active template. A security officer creates templates "
                "under Administration → Templates."
            )

        def failed(exc: BaseException) -> None:
            self.status.setStyleSheet(ERROR_STYLE)
            self.status.setText(describe(exc)[1])

        self.w.call(work, done, failed, title="read the templates")

    def _selected(self, item: QListWidgetItem | None, _previous: Any = None) -> None:
        self.errors["template"].show_error(None)
        if item is None:
            fill_form(self.detail, [])
            self.detail.addRow(_note("Choose a template on the left to see what it makes.", self))
            return
        template = next(t for t in self.w.flow.templates if t.name == item.text())
        fill_form(
            self.detail,
            [
                ("Purpose", template.description or "—"),
                ("Algorithm", describe_algorithm(template.algorithm)),
                ("TR-31 usage", template.key_usage),
                ("Label pattern", template.label_pattern),
            ],
        )

    def select(self, name: str) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item is not None and item.text() == name:
                self.list.setCurrentItem(item)
                return

    def validatePage(self) -> bool:
        item = self.list.currentItem()
        name = item.text() if item is not None else None
        if not self.show_errors(self.w.flow.validate_template(name)):
            return False
        assert name is not None
        flow = self.w.flow
        flow.back_to(GenerateStep.TEMPLATE)
        flow.choose_template(name)
        flow.advance()
        return True


class _GenerateReviewPage(_FlowPage):
    def __init__(self, wizard: GenerateKeyWizard) -> None:
        info = wizard.flow.info(GenerateStep.REVIEW)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("reviewPage")
        self.w = wizard
        layout = QVBoxLayout(self)
        attributes = QGroupBox("What the template makes", self)
        self.attributes = _form()
        attributes.setLayout(self.attributes)
        layout.addWidget(attributes)

        options = QGroupBox("This run", self)
        form = _form()
        self.count = QSpinBox(self)
        self.count.setObjectName("keyCount")
        self.count.setRange(1, MAX_KEYS_PER_RUN)
        self.count.setGroupSeparatorShown(True)
        self.count.setToolTip("More than one key: each is named by the template's pattern.")
        self.count.valueChanged.connect(self._count_changed)
        self.count.setMinimumWidth(120)
        count_row = QHBoxLayout()
        count_row.addWidget(self.count)
        count_row.addStretch(1)
        form.addRow("Number of keys:", count_row)
        self.add_error("count", form)
        self.label = QLineEdit(self)
        self.label.setObjectName("keyLabel")
        self.label.setClearButtonEnabled(True)
        form.addRow("Label (optional):", self.label)
        self.add_error("label", form)
        activation = QHBoxLayout()
        self.later = QCheckBox("Not before", self)
        self.later.setObjectName("activateLater")
        self.activation = QDateEdit(self)
        self.activation.setObjectName("activationDate")
        self.activation.setCalendarPopup(True)
        self.activation.setDisplayFormat("yyyy-MM-dd")
        self.activation.setEnabled(False)
        self.later.toggled.connect(self.activation.setEnabled)
        activation.addWidget(self.later)
        activation.addWidget(self.activation)
        activation.addWidget(_note("(UTC; otherwise the keys may be activated at once)", self), 1)
        form.addRow("Activation:", activation)
        self.add_error("activation_date", form)
        options.setLayout(form)
        layout.addWidget(options)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def initializePage(self) -> None:
        flow = self.w.flow
        today = _qdate(flow.clock().date())
        self.activation.setMinimumDate(today)
        if not self.later.isChecked():
            self.activation.setDate(today)
        self.label.setPlaceholderText(f"from the pattern, e.g. {flow.example_label()}")
        self._render()
        self.show_errors({})
        template = flow.template
        if template is None:
            return

        def checked(requirement: Requirement) -> None:
            if flow.template is template:
                flow.set_requirement(requirement)
                self._render()

        self.w.state.requirement(Action.GENERATE_KEY, template.name, checked)

    def _render(self) -> None:
        fill_form(self.attributes, self.w.flow.review_rows(), prefix="review")

    def _count_changed(self, count: int) -> None:
        self.label.setEnabled(count == 1)
        if count != 1:
            self.label.clear()

    def values(self) -> dict[str, Any]:
        return {
            "count": self.count.value(),
            "label": self.label.text(),
            "activation_date": _pydate(self.activation.date()) if self.later.isChecked() else None,
        }

    def validatePage(self) -> bool:
        flow = self.w.flow
        values = self.values()
        if not self.show_errors(flow.validate_options(**values)):
            return False
        flow.back_to(GenerateStep.REVIEW)
        flow.set_options(**values)
        flow.advance()
        return True


class _GenerateQuorumPage(_FlowPage):
    def __init__(self, wizard: GenerateKeyWizard) -> None:
        info = wizard.flow.info(GenerateStep.QUORUM)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("quorumPage")
        self.w = wizard
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Generate")
        layout = QVBoxLayout(self)
        self.summary = _note("", self)
        self.summary.setObjectName("generateSummary")
        layout.addWidget(self.summary)
        box, self.quorum = _quorum_box(wizard.state, self, wizard.flow.set_requirement)
        layout.addWidget(box)
        self.bulk = _note(
            "Several keys: a progress window shows how far generation has come, and Cancel "
            "stops it. Keys already made are kept, each complete and audited.",
            self,
        )
        self.bulk.setObjectName("bulkNote")
        layout.addWidget(self.bulk)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def initializePage(self) -> None:
        flow = self.w.flow
        self.summary.setText(flow.summary())
        self.bulk.setVisible(flow.cancellable)
        self.general_error.show_error(None)
        assert flow.template is not None
        self.quorum.ask(Action.GENERATE_KEY, flow.template.name)

    def validatePage(self) -> bool:
        flow = self.w.flow
        if flow.result is not None:
            return True
        flow.back_to(GenerateStep.QUORUM)
        flow.advance()
        self.w.generate()
        return False


class _GenerateResultPage(_FlowPage):
    def __init__(self, wizard: GenerateKeyWizard) -> None:
        info = wizard.flow.info(GenerateStep.RESULT)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("resultPage")
        self.w = wizard
        layout = QVBoxLayout(self)
        self.summary = _note("", self)
        self.summary.setObjectName("resultSummary")
        layout.addWidget(self.summary)
        self.model = RowsModel(
            ["Label", "KCV", "State", "Activation", "End of crypto-period"], self
        )
        self.table = _result_table(self.model, "resultTable", self)
        layout.addWidget(self.table, 1)
        copy = QPushButton("&Copy labels and KCVs", self)
        copy.setObjectName("copyResult")
        copy.clicked.connect(self.copy)
        row = QHBoxLayout()
        row.addWidget(copy)
        row.addStretch(1)
        layout.addLayout(row)

    def initializePage(self) -> None:
        flow = self.w.flow
        self.summary.setText(flow.result_summary())
        self.model.set_rows(
            (r.label, r.kcv, r.state, r.activation, r.deactivation) for r in flow.result_rows()
        )

    def copy(self) -> None:
        text = "\n".join(f"{r.label}\t{r.kcv}" for r in self.w.flow.result_rows())
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(text)


class GenerateKeyWizard(_FlowWizard):
    """Generate keys from a template, under the template's or the policy's quorum."""

    TEMPLATE_PAGE, REVIEW_PAGE, QUORUM_PAGE, RESULT_PAGE = range(4)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("generateKeyWizard")
        self.setWindowTitle("Generate keys")
        self.flow = GenerateKeyFlow()
        self.template_page = _TemplatePage(self)
        self.review_page = _GenerateReviewPage(self)
        self.quorum_page = _GenerateQuorumPage(self)
        self.result_page = _GenerateResultPage(self)
        self.add_pages(self.template_page, self.review_page, self.quorum_page, self.result_page)

    def generate(self) -> None:
        flow = self.flow
        template = flow.template
        assert template is not None
        services = self.state.services

        def work(control: JobControl) -> GenerationResult:
            session = self.state.ensure_session()

            def generate(
                template_ref: str,
                *,
                count: int,
                label: str | None,
                activation_date: datetime | None,
                progress: Callable[[int, int], None] | None,
                cancelled: Callable[[], bool] | None,
            ) -> GenerationResult:
                return services.keys.generate(
                    session,
                    template_ref,
                    count=count,
                    label=label,
                    activation_date=activation_date,
                    progress=progress,
                    cancelled=cancelled,
                )

            return flow.generate(
                generate,
                progress=lambda done, total: control.progress(
                    done, total, f"{done:,} of {total:,} keys generated"
                ),
                cancelled=control.cancelled,
            )

        def done(result: GenerationResult) -> None:
            self.state.data_changed.emit("keys")
            if not result.keys:
                self.quorum_page.general_error.show_error(
                    "No key was generated"
                    + (f": {result.stopped_reason}." if result.stopped_reason else ".")
                )
                return
            flow.record_result(result)
            self.next()

        count = "1 key" if flow.count == 1 else f"{flow.count:,} keys"
        self.run_action(
            action=Action.GENERATE_KEY,
            title=f"Generating {count} from {template.name}",
            work=work,
            on_done=done,
            template=template.name,
            cancellable=flow.cancellable,
        )


# --- rotate a key ------------------------------------------------------------------------


def _load_key(
    wizard: _FlowWizard, label: str, on_done: Callable[[KeyDetail, list[Availability]], None]
) -> None:
    """Read the key and what may be done with it, on the device thread."""
    services = wizard.state.services

    def work(_: JobControl) -> tuple[KeyDetail, list[Availability]]:
        session = wizard.state.ensure_session()
        detail = services.keys.detail(session, label)
        return detail, services.keys.availability(session, detail.key.id)

    def done(result: tuple[KeyDetail, list[Availability]]) -> None:
        on_done(*result)

    wizard.call(work, done, title=f"read key {label}")


class _RotateReviewPage(_FlowPage):
    def __init__(self, wizard: RotateWizard) -> None:
        info = wizard.flow.info(RotateStep.REVIEW)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("rotateReviewPage")
        self.w = wizard
        self.rows = 0
        layout = QVBoxLayout(self)
        self.status = _note(f"Reading key {wizard.flow.key_label}…", self)
        self.status.setObjectName("rotateStatus")
        layout.addWidget(self.status)
        box = QGroupBox("Predecessor and successor", self)
        self.grid = QGridLayout(box)
        self.grid.setColumnStretch(1, 1)
        self.grid.setColumnStretch(2, 1)
        self.grid.setHorizontalSpacing(16)
        layout.addWidget(box)
        self.add_error("key", layout)
        form = _form()
        self.reason = QLineEdit(self)
        self.reason.setObjectName("rotateReason")
        self.reason.setPlaceholderText("e.g. end of crypto-period, scheduled rotation")
        form.addRow("Reason (optional):", self.reason)
        self.add_error("reason", form)
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def initializePage(self) -> None:
        if self.w.flow.detail is not None:
            return

        def loaded(detail: KeyDetail, _: list[Availability]) -> None:
            flow = self.w.flow
            flow.load(detail)
            self._fill(flow.comparison_rows())
            self.status.setText(flow.summary())
            self.show_errors(flow.validate_key())

        _load_key(self.w, self.w.flow.key_label, loaded)

    def _fill(self, rows: Sequence[tuple[str, str, str]]) -> None:
        bold = self.font()
        bold.setBold(True)
        for column, title in enumerate(("", "Predecessor (the key now)", "Successor (to be made)")):
            header = QLabel(title, self)
            header.setFont(bold)
            self.grid.addWidget(header, 0, column)
        for row, (name, old, new) in enumerate(rows, start=1):
            key = "".join(w.capitalize() for w in re.findall(r"[A-Za-z0-9]+", name))
            self.grid.addWidget(QLabel(f"{name}:", self), row, 0, Qt.AlignmentFlag.AlignTop)
            for column, (prefix, text) in enumerate((("old", old), ("new", new)), start=1):
                value = QLabel(text, self)
                value.setObjectName(prefix + key)
                value.setWordWrap(True)
                value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                self.grid.addWidget(value, row, column, Qt.AlignmentFlag.AlignTop)
        self.rows = len(rows)

    def validatePage(self) -> bool:
        flow = self.w.flow
        errors = {**flow.validate_key(), **flow.validate_review(self.reason.text())}
        if not self.show_errors(errors):
            return False
        flow.back_to(RotateStep.KEY)
        flow.advance()
        flow.set_reason(self.reason.text())
        flow.advance()
        return True


class _RotateQuorumPage(_FlowPage):
    def __init__(self, wizard: RotateWizard) -> None:
        info = wizard.flow.info(RotateStep.QUORUM)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("rotateQuorumPage")
        self.w = wizard
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Rotate")
        layout = QVBoxLayout(self)
        self.summary = _note("", self)
        self.summary.setObjectName("rotateSummary")
        layout.addWidget(self.summary)
        box, self.quorum = _quorum_box(wizard.state, self, wizard.flow.set_requirement)
        layout.addWidget(box)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def initializePage(self) -> None:
        flow = self.w.flow
        self.summary.setText(flow.summary())
        template = flow.template
        self.quorum.ask(Action.ROTATE_KEY, template.id if template else None)

    def validatePage(self) -> bool:
        flow = self.w.flow
        if flow.result is not None:
            return True
        flow.back_to(RotateStep.QUORUM)
        flow.advance()
        self.w.rotate()
        return False


class _RotateResultPage(_FlowPage):
    def __init__(self, wizard: RotateWizard) -> None:
        info = wizard.flow.info(RotateStep.RESULT)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("rotateResultPage")
        self.w = wizard
        layout = QVBoxLayout(self)
        self.summary = _note("", self)
        self.summary.setObjectName("resultSummary")
        layout.addWidget(self.summary)
        self.model = RowsModel(["", "Label", "KCV", "State"], self)
        self.table = _result_table(self.model, "resultTable", self)
        self.table.setMaximumHeight(120)
        layout.addWidget(self.table)
        layout.addStretch(1)

    def initializePage(self) -> None:
        self.summary.setText(self.w.flow.result_summary())
        self.model.set_rows(self.w.flow.result_rows())


class RotateWizard(_FlowWizard):
    """Rotate one key: review, quorum, a successor linked both ways."""

    REVIEW_PAGE, QUORUM_PAGE, RESULT_PAGE = range(3)

    def __init__(self, state: AppState, key_label: str, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("rotateWizard")
        self.setWindowTitle(f"Rotate key {key_label}")
        self.flow = RotateFlow(key_label)
        self.review_page = _RotateReviewPage(self)
        self.quorum_page = _RotateQuorumPage(self)
        self.result_page = _RotateResultPage(self)
        self.add_pages(self.review_page, self.quorum_page, self.result_page)

    def rotate(self) -> None:
        flow = self.flow
        services = self.state.services

        def work(_: JobControl) -> tuple[ManagedKey, ManagedKey]:
            session = self.state.ensure_session()
            return flow.rotate(
                lambda label, reason: services.keys.rotate(session, label, reason=reason)
            )

        def done(result: tuple[ManagedKey, ManagedKey]) -> None:
            self.state.data_changed.emit("keys")
            flow.record_result(result)
            self.next()

        template = flow.template
        self.run_action(
            action=Action.ROTATE_KEY,
            title=f"Rotating key {flow.key_label}",
            work=work,
            on_done=done,
            template=template.id if template else None,
        )


# --- change a key's state ----------------------------------------------------------------


class _KeyActionPage(_FlowPage):
    def __init__(self, wizard: StateChangeWizard) -> None:
        super().__init__(
            "The key and the change",
            "Check that this is the key you mean and choose the change. Only the changes its "
            "state and template allow can be chosen.",
            wizard,
        )
        self.setObjectName("keyActionPage")
        self.w = wizard
        layout = QVBoxLayout(self)
        self.status = _note(f"Reading key {wizard.flow.key_label}…", self)
        self.status.setObjectName("keyStatus")
        layout.addWidget(self.status)
        key_box = QGroupBox("The key", self)
        self.key_rows = _form()
        key_box.setLayout(self.key_rows)
        layout.addWidget(key_box)
        self.add_error("key", layout)
        action_box = QGroupBox("The change", self)
        self.actions_layout = QVBoxLayout(action_box)
        self.group = QButtonGroup(self)
        self.group.idToggled.connect(self._toggled)
        self.buttons: dict[Action, QRadioButton] = {}
        layout.addWidget(action_box)
        self.effect = _note("", self)
        self.effect.setObjectName("actionEffect")
        layout.addWidget(self.effect)
        self.add_error("action", layout)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def initializePage(self) -> None:
        if self.w.flow.detail is not None:
            return

        def loaded(detail: KeyDetail, availability: list[Availability]) -> None:
            flow = self.w.flow
            flow.load(detail, availability)
            fill_form(self.key_rows, flow.key_rows(), prefix="key")
            self.status.setText(f"Key {detail.key.label} is {detail.key.state.value}.")
            self._build_choices()
            self.show_errors(flow.validate_key())

        _load_key(self.w, self.w.flow.key_label, loaded)

    def _build_choices(self) -> None:
        flow = self.w.flow
        for index, (action, allowed, reason) in enumerate(flow.choices()):
            text = ACTION_TITLES[action]
            if not allowed and reason:
                text += f" — {reason}"
            button = QRadioButton(text, self)
            button.setObjectName(f"choice_{action.value}")
            button.setEnabled(allowed)
            button.setToolTip(ACTION_EFFECTS[action])
            self.group.addButton(button, index)
            self.buttons[action] = button
            self.actions_layout.addWidget(button)
        chosen = self.buttons.get(flow.action)
        if chosen is not None and chosen.isEnabled():
            chosen.setChecked(True)
        self._toggled(-1, True)

    def chosen(self) -> Action | None:
        return next((a for a, b in self.buttons.items() if b.isChecked()), None)

    def _toggled(self, _id: int, on: bool) -> None:
        if not on:
            return
        action = self.chosen()
        self.effect.setText(ACTION_EFFECTS[action] if action is not None else "")
        flow = self.w.flow
        if action is not None and action != flow.action and not flow.validate_action(action):
            flow.choose_action(action)
        self.w.update_title()

    def validatePage(self) -> bool:
        flow = self.w.flow
        action = self.chosen()
        errors = dict(flow.validate_key())
        if action is None:
            errors["action"] = "Choose the change to make."
        else:
            errors.update(flow.validate_action(action))
        if not self.show_errors(errors):
            return False
        assert action is not None
        flow.back_to(StateChangeStep.KEY)
        flow.advance()
        flow.choose_action(action)
        flow.advance()
        return True

    def nextId(self) -> int:
        step = self.w.flow.next_step(StateChangeStep.ACTION)
        return self.w.page_of(step)


class _ReasonPage(_FlowPage):
    def __init__(self, wizard: StateChangeWizard) -> None:
        info = wizard.flow.info(StateChangeStep.REASON)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("reasonPage")
        self.w = wizard
        layout = QVBoxLayout(self)
        self.reason_title = QLabel("Reason:", self)
        layout.addWidget(self.reason_title)
        self.reason = QPlainTextEdit(self)
        self.reason.setObjectName("reasonText")
        self.reason.setPlaceholderText("What happened, who noticed it, the incident number…")
        self.reason.setTabChangesFocus(True)
        self.reason.setMaximumHeight(120)
        layout.addWidget(self.reason)
        self.add_error("reason", layout)
        self.date_box = QWidget(self)
        date_layout = QVBoxLayout(self.date_box)
        date_layout.setContentsMargins(0, 8, 0, 0)
        date_layout.addWidget(
            _note(
                "When was the key compromised, or when may it have been? Give the earliest "
                "date you cannot rule out (UTC). It cannot be in the future.",
                self.date_box,
            )
        )
        row = QHBoxLayout()
        row.addWidget(QLabel("Compromised on:", self.date_box))
        self.date = QDateEdit(self.date_box)
        self.date.setObjectName("compromiseDate")
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat("yyyy-MM-dd")
        row.addWidget(self.date)
        row.addStretch(1)
        date_layout.addLayout(row)
        layout.addWidget(self.date_box)
        self.add_error("compromise_date", layout)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def initializePage(self) -> None:
        flow = self.w.flow
        required = "required" if flow.needs_reason else "optional"
        self.reason_title.setText(f"Reason ({required}; kept in the key's history and audit log):")
        self.date_box.setVisible(flow.asks_compromise_date)
        if flow.compromise_date is None:
            self.date.setDate(_qdate(flow.today()))
        self.show_errors({})

    def validatePage(self) -> bool:
        flow = self.w.flow
        reason = self.reason.toPlainText()
        when = _pydate(self.date.date()) if flow.asks_compromise_date else None
        if not self.show_errors(flow.validate_reason(reason, when)):
            return False
        flow.back_to(StateChangeStep.REASON)
        flow.set_reason(reason, when)
        flow.advance()
        return True


class _ConfirmPage(_FlowPage):
    def __init__(self, wizard: StateChangeWizard) -> None:
        info = wizard.flow.info(StateChangeStep.CONFIRM)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("confirmPage")
        self.w = wizard
        self.setCommitPage(True)
        layout = QVBoxLayout(self)
        box = QGroupBox("The change", self)
        self.rows = _form()
        box.setLayout(self.rows)
        layout.addWidget(box)
        quorum_box, self.quorum = _quorum_box(wizard.state, self)
        layout.addWidget(quorum_box)
        self.confirm = QCheckBox(self)
        self.confirm.setObjectName("confirmIrreversible")
        layout.addWidget(self.confirm)
        self.add_error("confirmed", layout)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

        def checked(requirement: Requirement) -> None:
            wizard.flow.set_requirement(requirement)
            fill_form(self.rows, wizard.flow.confirm_rows(), prefix="confirm")

        self.quorum.on_checked = checked

    def initializePage(self) -> None:
        flow = self.w.flow
        self.setButtonText(QWizard.WizardButton.CommitButton, f"&{ACTION_TITLES[flow.action]}")
        fill_form(self.rows, flow.confirm_rows(), prefix="confirm")
        self.confirm.setVisible(flow.irreversible)
        self.confirm.setChecked(False)
        key = flow.key_label
        self.confirm.setText(f"I understand that this change of key {key} cannot be undone.")
        self.show_errors({})
        template = flow.detail.template if flow.detail else None
        self.quorum.ask(flow.action, template.id if template else None)

    def validatePage(self) -> bool:
        flow = self.w.flow
        if flow.result is not None:
            return True
        confirmed = self.confirm.isChecked()
        if not self.show_errors(flow.validate_confirm(confirmed)):
            return False
        flow.back_to(StateChangeStep.CONFIRM)
        flow.set_confirmed(confirmed)
        self.w.apply()
        return False

    def nextId(self) -> int:
        return self.w.RESULT_PAGE


class _StateResultPage(_FlowPage):
    def __init__(self, wizard: StateChangeWizard) -> None:
        info = wizard.flow.info(StateChangeStep.RESULT)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("stateResultPage")
        self.w = wizard
        layout = QVBoxLayout(self)
        self.summary = _note("", self)
        self.summary.setObjectName("resultSummary")
        layout.addWidget(self.summary)
        layout.addStretch(1)

    def initializePage(self) -> None:
        self.summary.setText(self.w.flow.result_summary())


class StateChangeWizard(_FlowWizard):
    """Change a key's lifecycle state; a compromise asks the reason and the date."""

    KEY_PAGE, REASON_PAGE, CONFIRM_PAGE, RESULT_PAGE = range(4)

    def __init__(
        self, state: AppState, key_label: str, action: Action, parent: QWidget | None = None
    ) -> None:
        super().__init__(state, parent)
        self.setObjectName("stateChangeWizard")
        self.flow = StateChangeFlow(key_label, action)
        self.key_page = _KeyActionPage(self)
        self.reason_page = _ReasonPage(self)
        self.confirm_page = _ConfirmPage(self)
        self.result_page = _StateResultPage(self)
        self.add_pages(self.key_page, self.reason_page, self.confirm_page, self.result_page)
        self.update_title()

    def update_title(self) -> None:
        title = ACTION_TITLES.get(self.flow.action, self.flow.action.display.capitalize())
        self.setWindowTitle(f"{title} — key {self.flow.key_label}")

    def page_of(self, step: StateChangeStep | None) -> int:
        """The page that shows ``step`` (-1: none, the wizard ends)."""
        pages = {
            StateChangeStep.KEY: self.KEY_PAGE,
            StateChangeStep.ACTION: self.KEY_PAGE,
            StateChangeStep.REASON: self.REASON_PAGE,
            StateChangeStep.CONFIRM: self.CONFIRM_PAGE,
            StateChangeStep.RESULT: self.RESULT_PAGE,
        }
        return pages[step] if step is not None else -1

    def apply(self) -> None:
        flow = self.flow
        services = self.state.services

        def work(_: JobControl) -> ManagedKey:
            session = self.state.ensure_session()
            return flow.apply(
                lambda label, action, reason, when: services.keys.change_state(
                    session, label, action, reason=reason, compromise_date=when
                )
            )

        def done(key: ManagedKey) -> None:
            self.state.data_changed.emit("keys")
            flow.record_result(key)
            self.next()

        template = flow.detail.template if flow.detail else None
        try:
            title = f"{ACTION_TITLES[flow.action]}: key {flow.key_label}"
        except KeyError:
            raise FlowError({"action": "Choose the change to make."}) from None
        self.run_action(
            action=flow.action,
            title=title,
            work=work,
            on_done=done,
            template=template.id if template else None,
        )
