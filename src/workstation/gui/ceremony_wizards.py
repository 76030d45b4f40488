"""The paper ceremonies' wizards: generate a key as printed components, enter a key from
components, export a key as components, back the master key up as shares.

Each wizard renders a flow of :mod:`workstation.flows.ceremonies`; a page's
``validatePage()`` asks the flow's validator and shows its errors next to the fields. The
ceremony runs through ``gui.actions.perform``: the co-sign dialog opens when the quorum is
missing, then the service runs on the device thread behind a progress dialog and checks
every rule again (the quorum, each named custodian logged on, split knowledge).

A component is typed into a masked field that has no "show" toggle: nobody ever sees it on
screen. The line under the field counts the digits, names the exact mistake or shows the
component's check value. Once a page is accepted the flow holds the component as a
``bytearray`` and the field is emptied (a ``QLineEdit`` keeps its own copy of the text in
Qt's memory; emptying it is the best Qt allows). The flow wipes what it holds when the
wizard closes, however it closes.

Entry points (the Ceremonies page calls them): :func:`open_generate_components`,
:func:`open_enter_components`, :func:`open_export_components`,
:func:`open_master_key_backup`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
    QWizard,
)

from workstation.domain.components import MAX_COMPONENTS, MIN_COMPONENTS, EntryState
from workstation.domain.people import Person
from workstation.domain.policy import Action
from workstation.domain.templates import KeyTemplate
from workstation.errors import NotFound
from workstation.flows.ceremonies import (
    REMINDER,
    BackupScheme,
    BackupStep,
    EnterComponentsFlow,
    EnterStep,
    ExportComponentsFlow,
    ExportStep,
    GenerateComponentsFlow,
    GenerateComponentsStep,
    LogonRow,
    MasterKeyBackupFlow,
    OutputChoice,
    OutputKind,
)
from workstation.flows.kiosk_places import OutsideKioskPlaces
from workstation.flows.wizards import FieldErrors, StepInfo, describe_algorithm
from workstation.services.ceremonies import CeremonyOutcome, ComponentEntry
from workstation.services.keys import KeyDetail
from workstation.services.logon import Requirement
from workstation.services.session import Session

from . import file_choice
from .errors import describe, show_error
from .runner import JobControl
from .state import AppState
from .wizards import (
    ERROR_STYLE,
    GOOD_STYLE,
    ErrorLabel,
    QuorumPanel,
    RowsModel,
    _FlowPage,
    _FlowWizard,
    _form,
    _note,
    _quorum_box,
    _result_table,
    fill_form,
)

log = logging.getLogger(__name__)

__all__ = [
    "EnterComponentsWizard",
    "ExportComponentsWizard",
    "GenerateComponentsWizard",
    "MasterKeyBackupWizard",
    "open_enter_components",
    "open_export_components",
    "open_generate_components",
    "open_master_key_backup",
]

NEUTRAL_STYLE = ""
FOLDER_WARNING = (
    "The PDF files will hold the clear components: anyone who can read the folder can "
    "read them. Prefer a removable medium that is destroyed once the mailers are printed. "
    "This choice and the files' paths are recorded in the audit log."
)
ENTRY_REMINDER = (
    "Put each mailer back in its envelope, seal it in a new tamper-evident bag in front of "
    "its custodian, and register it on the Ceremonies page (or destroy it under witness, as "
    "your procedure says)."
)


def open_generate_components(state: AppState, parent: QWidget | None) -> QWizard:
    """Generate a new key as printed components (opened, window-modal to ``parent``)."""
    wizard = GenerateComponentsWizard(state, parent)
    wizard.open()
    return wizard


def open_enter_components(state: AppState, parent: QWidget | None) -> QWizard:
    """Form a key from components typed by their custodians."""
    wizard = EnterComponentsWizard(state, parent)
    wizard.open()
    return wizard


def open_export_components(
    state: AppState, parent: QWidget | None, key_label: str | None = None
) -> QWizard:
    """Print an exportable key as new components (``key_label`` fills the key's field)."""
    wizard = ExportComponentsWizard(state, parent, key_label=key_label)
    wizard.open()
    return wizard


def open_master_key_backup(state: AppState, parent: QWidget | None) -> QWizard:
    """Back the master key up as shares (m of n) or components."""
    wizard = MasterKeyBackupWizard(state, parent)
    wizard.open()
    return wizard


# --- what the shared pages need of a flow ------------------------------------------------


class _CeremonyFlow(Protocol):
    """What every ceremony flow offers the shared pages (see ``flows.ceremonies``)."""

    CUSTODIANS_STEP: ClassVar[Any]  # the flow's step enum member for the custodians

    @property
    def part(self) -> str: ...

    @property
    def custodians(self) -> Any: ...  # CustodianChoice

    outcome: CeremonyOutcome | None

    def set_people(self, people: Iterable[Person]) -> None: ...
    def set_present(self, names: Iterable[str]) -> None: ...
    def set_requirement(self, requirement: Requirement) -> None: ...
    def validate_custodians(self, count: int, names: Sequence[str | None]) -> FieldErrors: ...
    def choose_custodians(self, count: int, names: Sequence[str | None]) -> None: ...
    def logon_rows(self) -> list[LogonRow]: ...
    def validate_presence(self) -> FieldErrors: ...
    def back_to_named(self, name: str) -> None: ...
    def advance(self) -> Any: ...
    def result_rows(self) -> list[tuple[str, str]]: ...
    def envelope_rows(self) -> list[tuple[str, str, str, str]]: ...
    def result_summary(self) -> str: ...
    def record_outcome(self, outcome: CeremonyOutcome) -> None: ...


class _TemplateFlow(_CeremonyFlow, Protocol):
    @property
    def choosable(self) -> list[KeyTemplate]: ...

    def set_templates(self, templates: Iterable[KeyTemplate]) -> None: ...
    def validate_template(self, name: str | None, label: str | None = None) -> FieldErrors: ...
    def choose_template(self, name: str, label: str | None = None) -> KeyTemplate: ...


class _PaperOutFlow(_CeremonyFlow, Protocol):
    output: OutputChoice

    def validate_output(self, kind: OutputKind | None, directory: Path | None) -> FieldErrors: ...
    def choose_output(self, kind: OutputKind | None, directory: Path | None) -> None: ...
    def review_rows(self) -> list[tuple[str, str]]: ...
    def summary(self) -> str: ...


def _big(label: QLabel, scale: float, *, mono: bool = False) -> None:
    font = (
        QFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        if mono
        else label.font()
    )
    font.setPointSizeF(max(label.font().pointSizeF(), 9.0) * scale)
    font.setBold(True)
    label.setFont(font)


def _fit_rows(view: QTableView) -> None:
    """Make a short table as tall as its rows, so the page keeps room below it."""
    model = view.model()
    rows = sum(view.rowHeight(r) for r in range(model.rowCount())) if model else 0
    view.setFixedHeight(view.horizontalHeader().height() + rows + 2 * view.frameWidth() + 2)


# --- the wizard base ---------------------------------------------------------------------


class _CeremonyWizard(_FlowWizard):
    """A ceremony wizard: keeps the flow told who is logged on."""

    flow: _CeremonyFlow
    action: Action
    run_ceremony: Callable[[Session], CeremonyOutcome]
    work_title: Callable[[], str]

    def __init__(self, state: AppState, parent: QWidget | None) -> None:
        super().__init__(state, parent)
        self.resize(860, 660)
        state.session_changed.connect(self._session_changed)

    def _session_changed(self) -> None:
        if not self.closed:
            self.flow.set_present(m.name for m in self.state.members)

    def present_names(self) -> list[str]:
        return [m.name for m in self.state.members]

    def quorum_template(self) -> str | None:
        """The template whose quorum applies (None: the policy's)."""
        return None

    def start(self) -> None:
        """Run the ceremony (the review page's commit button) under the wizard's action:
        each wizard sets ``run_ceremony`` (the service call on the flow) and
        ``work_title`` when it is made."""

        output = getattr(self.flow, "output", None)  # the paper ceremonies' mailer output

        def work(_: JobControl) -> CeremonyOutcome:
            # Judged again as the work starts: mailers go to the kiosk's outbox only.
            if isinstance(output, OutputChoice) and output.kind is OutputKind.FOLDER:
                if output.directory is not None:
                    file_choice.check_path(output.directory, writing=True, kind=None)
            return self.run_ceremony(self.state.ensure_session())

        self.run_action(
            action=self.action,
            title=self.work_title(),
            work=work,
            on_done=self.finish_ceremony,
            template=self.quorum_template(),
        )

    def finish_ceremony(self, outcome: CeremonyOutcome) -> None:
        self.state.data_changed.emit("keys")
        self.state.data_changed.emit("ceremonies")
        self.flow.record_outcome(outcome)
        self.next()


class _LogonDialog(QDialog):
    """Log one more person on from inside a wizard (the wizard is modal: the session panel
    behind it cannot be reached)."""

    def __init__(self, state: AppState, parent: QWidget | None) -> None:
        from .logon import CardLogonForm

        super().__init__(parent)
        self.setObjectName("ceremonyLogonDialog")
        self.setWindowTitle("Log on")
        layout = QVBoxLayout(self)
        layout.addWidget(
            _note("The person inserts their card, chooses it below and types their PIN.", self)
        )
        self.form = CardLogonForm(state, self)
        layout.addWidget(self.form, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.form.logged_on.connect(lambda _member: self.accept())
        self.resize(520, 480)


def _logon_button(wizard: _CeremonyWizard, parent: QWidget) -> QPushButton:
    button = QPushButton("&Log someone on…", parent)
    button.setObjectName("logOnButton")
    button.setToolTip("A named custodian or a quorum member inserts their card and logs on.")

    def clicked() -> None:
        dialog = _LogonDialog(wizard.state, wizard)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    button.clicked.connect(clicked)
    return button


# --- shared pages ------------------------------------------------------------------------


class _TemplateChoicePage(_FlowPage):
    """An active secret-key template, and an optional label for the new key."""

    def __init__(self, wizard: _CeremonyWizard, flow: _TemplateFlow, info: StepInfo) -> None:
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("templatePage")
        self.w = wizard
        self.flow = flow
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
        row.addWidget(self.list, 2)
        box = QGroupBox("The chosen template", self)
        self.detail = _form()
        box.setLayout(self.detail)
        row.addWidget(box, 3)
        layout.addLayout(row, 1)
        self.add_error("template", layout)
        form = _form()
        self.label = QLineEdit(self)
        self.label.setObjectName("keyLabel")
        self.label.setClearButtonEnabled(True)
        self.label.setPlaceholderText("empty: the template's label pattern names the key")
        form.addRow("Key label (optional):", self.label)
        self.add_error("label", form)
        layout.addLayout(form)
        layout.addWidget(self.general_error)

    def initializePage(self) -> None:
        if self.loaded:
            return
        services = self.w.state.services

        def work(_: JobControl) -> list[KeyTemplate]:
            return services.templates.list(self.w.state.ensure_session())

        def done(templates: list[KeyTemplate]) -> None:
            self.loaded = True
            self.flow.set_templates(templates)
            self.list.clear()
            for t in self.flow.choosable:
                item = QListWidgetItem(t.name, self.list)
                item.setToolTip(t.description)
            self.status.setStyleSheet(NEUTRAL_STYLE)
            self.status.setText(
                "Choose the template of the key, then press Next."
                if self.list.count()
                else "There is no active secret-key template. A security officer creates "
                "templates under Administration → Templates."
            )

        def failed(exc: BaseException) -> None:
            self.status.setStyleSheet(ERROR_STYLE)
            self.status.setText(describe(exc)[1])

        self.w.call(work, done, failed, title="read the templates")

    def _selected(self, item: QListWidgetItem | None, _previous: Any = None) -> None:
        self.errors["template"].show_error(None)
        template = next(
            (t for t in self.flow.choosable if item is not None and t.name == item.text()), None
        )
        if template is None:
            fill_form(self.detail, [("", "Choose a template on the left.")])
            return
        fill_form(
            self.detail,
            [
                ("Purpose", template.description or "—"),
                ("Algorithm", describe_algorithm(template.algorithm)),
                ("Component length", f"{2 * template.algorithm.key_bytes} hex digits"),
                ("TR-31 usage", template.key_usage),
                ("Label pattern", template.label_pattern),
            ],
            prefix="template",
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
        label = self.label.text()
        if not self.show_errors(self.flow.validate_template(name, label)):
            return False
        assert name is not None
        self.flow.back_to_named("template")
        self.flow.choose_template(name, label)
        self.flow.advance()
        return True


class _CustodiansPage(_FlowPage):
    """How many components (or shares), and the custodian of each."""

    def __init__(self, wizard: _CeremonyWizard, flow: _CeremonyFlow, info: StepInfo) -> None:
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("custodiansPage")
        self.w = wizard
        self.flow = flow
        self.loaded = False
        part = flow.part
        layout = QVBoxLayout(self)
        self.status = _note("Reading the key custodians…", self)
        self.status.setObjectName("custodiansStatus")
        layout.addWidget(self.status)
        form = _form()
        self.count = QSpinBox(self)
        self.count.setObjectName("componentCount")
        self.count.setRange(MIN_COMPONENTS, MAX_COMPONENTS)
        self.count.valueChanged.connect(self._count_changed)
        count_row = QHBoxLayout()
        count_row.addWidget(self.count)
        count_row.addStretch(1)
        form.addRow(f"Number of {part}s:", count_row)
        self.add_error("count", form)
        layout.addLayout(form)
        box = QGroupBox(f"The custodian of each {part}", self)
        self.grid = QGridLayout(box)
        self.grid.setColumnStretch(1, 2)
        self.grid.setColumnStretch(3, 1)
        self.rows: list[tuple[QLabel, QComboBox, QLabel]] = []
        for number in range(1, MAX_COMPONENTS + 1):
            title = QLabel(f"{part.capitalize()} {number}:", box)
            combo = QComboBox(box)
            combo.setObjectName(f"custodian_{number}")
            combo.currentIndexChanged.connect(self._refresh_presence)
            combo.setMinimumWidth(240)
            presence = QLabel(box)
            presence.setObjectName(f"presence_{number}")
            presence.setMinimumWidth(presence.fontMetrics().horizontalAdvance("not logged on") + 8)
            row = 2 * (number - 1)
            self.grid.addWidget(title, row, 0)
            self.grid.addWidget(combo, row, 1)
            self.grid.addWidget(presence, row, 2)
            error = ErrorLabel(f"error_custodian_{number}", box)
            self.errors[f"custodian_{number}"] = error
            self.grid.addWidget(error, row + 1, 1, 1, 2)
            self.rows.append((title, combo, presence))
        layout.addWidget(box)
        self.add_error("presence", layout)
        button_row = QHBoxLayout()
        button_row.addWidget(_logon_button(wizard, self))
        button_row.addStretch(1)
        layout.addLayout(button_row)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        self._count_changed(self.count.value())
        wizard.state.session_changed.connect(self._refresh_presence)

    def initializePage(self) -> None:
        self.w._session_changed()
        self.show_errors({})
        if self.loaded:
            self._refresh_presence()
            return
        services = self.w.state.services

        def work(_: JobControl) -> list[Person]:
            return [p for p, _ in services.people.list_people(self.w.state.ensure_session())]

        def done(people: list[Person]) -> None:
            self.loaded = True
            self.flow.set_people(people)
            names = self.flow.custodians.candidates
            for _, combo, _ in self.rows:
                combo.clear()
                combo.addItem("Choose…", None)
                for name in names:
                    combo.addItem(name, name)
            self.status.setStyleSheet(NEUTRAL_STYLE)
            self.status.setText(
                f"{len(names)} active key custodians. Each {self.flow.part} goes to a "
                "different one."
                if len(names) >= MIN_COMPONENTS
                else "Fewer than two active key custodians are enrolled: a ceremony needs "
                "at least two."
            )
            self._refresh_presence()

        def failed(exc: BaseException) -> None:
            self.status.setStyleSheet(ERROR_STYLE)
            self.status.setText(describe(exc)[1])

        self.w.call(work, done, failed, title="read the key custodians")

    def _count_changed(self, count: int) -> None:
        for number, (title, combo, presence) in enumerate(self.rows, 1):
            for widget in (title, combo, presence):
                widget.setVisible(number <= count)
            if number > count:
                self.errors[f"custodian_{number}"].show_error(None)

    def choose(self, number: int, name: str) -> None:
        """Pick ``name`` for component ``number`` (tests and keyboard users)."""
        combo = self.rows[number - 1][1]
        combo.setCurrentIndex(max(combo.findData(name), 0))

    def names(self) -> list[str | None]:
        return [combo.currentData() for _, combo, _ in self.rows[: self.count.value()]]

    def _refresh_presence(self, *_: Any) -> None:
        present = {n.casefold() for n in self.w.present_names()}
        for _title, combo, label in self.rows:
            name = combo.currentData()
            if not name:
                label.setText("")
            elif name.casefold() in present:
                label.setText("logged on")
                label.setStyleSheet(GOOD_STYLE)
            else:
                label.setText("not logged on")
                label.setStyleSheet(ERROR_STYLE)

    def validatePage(self) -> bool:
        self.w._session_changed()
        count, names = self.count.value(), self.names()
        if not self.show_errors(self.flow.validate_custodians(count, names)):
            return False
        self.flow.back_to_named(self.flow.CUSTODIANS_STEP.value)
        self.flow.choose_custodians(count, names)
        self.flow.advance()
        return True


class _OutputPage(_FlowPage):
    """PDF files in a folder (with the warning) or the configured printer."""

    def __init__(self, wizard: _CeremonyWizard, flow: _PaperOutFlow, info: StepInfo) -> None:
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("outputPage")
        self.w = wizard
        self.flow = flow
        self.directory: Path | None = None
        layout = QVBoxLayout(self)
        self.group = QButtonGroup(self)
        self.folder = QRadioButton("PDF files in a folder", self)
        self.folder.setObjectName("outputFolder")
        self.group.addButton(self.folder)
        layout.addWidget(self.folder)
        folder_box = QWidget(self)
        folder_layout = QVBoxLayout(folder_box)
        folder_layout.setContentsMargins(24, 0, 0, 0)
        row = QHBoxLayout()
        self.choose_button = QPushButton("Choose the &folder…", folder_box)
        self.choose_button.setObjectName("chooseFolder")
        self.choose_button.clicked.connect(self.choose_folder)
        row.addWidget(self.choose_button)
        self.path = QLabel("No folder chosen.", folder_box)
        self.path.setObjectName("folderPath")
        self.path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path.setWordWrap(True)
        row.addWidget(self.path, 1)
        folder_layout.addLayout(row)
        self.warning = _note(FOLDER_WARNING, folder_box)
        self.warning.setObjectName("folderWarning")
        self.warning.setStyleSheet(ERROR_STYLE)
        folder_layout.addWidget(self.warning)
        self.add_error("directory", folder_layout)
        layout.addWidget(folder_box)
        self.printer = QRadioButton("Printer", self)
        self.printer.setObjectName("outputPrinter")
        self.group.addButton(self.printer)
        layout.addWidget(self.printer)
        self.add_error("output", layout)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        self.folder.toggled.connect(self._toggled)

    def initializePage(self) -> None:
        printer = self.flow.output.printer
        self.printer.setEnabled(printer is not None)
        if printer is None:
            self.printer.setText("Printer")
            self.printer.setToolTip(
                "No printer is configured on this workstation: set [printing] printer in "
                "workstation.toml."
            )
        else:
            self.printer.setText(f"Printer {printer}")
            self.printer.setToolTip(f"The mailers go to {printer} through the print system.")
        if self.group.checkedButton() is None:
            (self.printer if printer is not None else self.folder).setChecked(True)
        self._toggled()
        self.show_errors({})

    def _toggled(self, *_: Any) -> None:
        on = self.folder.isChecked()
        self.choose_button.setEnabled(on)
        self.warning.setVisible(on)

    def choose_folder(self) -> None:
        # Mailers hold clear components: no policy sends them to removable media.
        chosen = file_choice.choose_directory(
            self, "Folder for the PDF mailers", str(self.directory or Path.home()), kind=None
        )
        if chosen is not None:
            self.set_directory(chosen)

    def set_directory(self, directory: Path) -> None:
        self.directory = directory
        self.folder.setChecked(True)
        self.path.setText(str(directory))
        self.errors["directory"].show_error(None)

    def kind(self) -> OutputKind | None:
        if self.folder.isChecked():
            return OutputKind.FOLDER
        if self.printer.isChecked():
            return OutputKind.PRINTER
        return None

    def validatePage(self) -> bool:
        kind = self.kind()
        if not self.show_errors(self.flow.validate_output(kind, self.directory)):
            return False
        if kind is OutputKind.FOLDER and self.directory is not None:
            try:  # in kiosk mode the outbox only: mailers hold clear components
                file_choice.check_path(self.directory, writing=True, kind=None)
            except OutsideKioskPlaces as e:
                return self.show_errors({"directory": e.user_message()})
        self.flow.back_to_named("output")
        self.flow.choose_output(kind, self.directory)
        self.flow.advance()
        return True


class _ReviewPage(_FlowPage):
    """What the ceremony does, who must be logged on (quorum and named custodians), and
    the button that starts it."""

    def __init__(
        self, wizard: _CeremonyWizard, flow: _PaperOutFlow, info: StepInfo, commit: str
    ) -> None:
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("reviewPage")
        self.w = wizard
        self.flow = flow
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, commit)
        layout = QVBoxLayout(self)
        self.summary = _note("", self)
        self.summary.setObjectName("ceremonySummary")
        layout.addWidget(self.summary)
        box = QGroupBox("The ceremony", self)
        self.rows = _form()
        box.setLayout(self.rows)
        layout.addWidget(box)
        who = QGroupBox("Who must be logged on", self)
        who_layout = QVBoxLayout(who)
        self.quorum = QuorumPanel(wizard.state, who)
        self.quorum.on_checked = flow.set_requirement
        who_layout.addWidget(self.quorum)
        self.presence = QLabel(who)
        self.presence.setObjectName("presenceList")
        self.presence.setWordWrap(True)
        self.presence.setTextFormat(Qt.TextFormat.RichText)
        who_layout.addWidget(self.presence)
        who_layout.addWidget(_logon_button(wizard, who), 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(who)
        self.add_error("presence", layout)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        wizard.state.session_changed.connect(self._refresh)

    def initializePage(self) -> None:
        self.summary.setText(self.flow.summary())
        fill_form(self.rows, self.flow.review_rows(), prefix="review")
        self.show_errors({})
        self._refresh()
        self.quorum.ask(self.w.action, self.w.quorum_template())

    def _refresh(self) -> None:
        self.w._session_changed()
        lines = []
        for row in self.flow.logon_rows():
            colour = "#1f5f1f" if row.logged_on else "#a40000"
            mark = "✓" if row.logged_on else "✗"
            lines.append(f'<span style="color:{colour}">{mark} {row.text}</span>')
        self.presence.setText("<br>".join(lines))
        if self.errors["presence"].isVisible() and not self.flow.validate_presence():
            self.errors["presence"].show_error(None)

    def validatePage(self) -> bool:
        if self.flow.outcome is not None:
            return True
        self.w._session_changed()
        if not self.show_errors(self.flow.validate_presence()):
            return False
        self.flow.back_to_named("review")
        self.flow.advance()
        self.w.start()
        return False


class _ResultPage(_FlowPage):
    """The key, the ceremony, the envelopes and their custodians, the files or print jobs,
    and what to do with the envelopes now."""

    def __init__(
        self, wizard: _CeremonyWizard, flow: _CeremonyFlow, info: StepInfo, reminder: str
    ) -> None:
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("resultPage")
        self.w = wizard
        self.flow = flow
        layout = QVBoxLayout(self)
        self.summary = _note("", self)
        self.summary.setObjectName("resultSummary")
        layout.addWidget(self.summary)
        self.rows = _form()
        layout.addLayout(self.rows)
        self.model = RowsModel(["Envelope", "Custodian", "Holds", "Its check value"], self)
        self.table = _result_table(self.model, "envelopeTable", self)
        layout.addWidget(self.table)
        self.reminder = _note(reminder, self)
        self.reminder.setObjectName("resultReminder")
        font = self.reminder.font()
        font.setBold(True)
        self.reminder.setFont(font)
        layout.addWidget(self.reminder)
        layout.addStretch(1)

    def initializePage(self) -> None:
        self.summary.setText(self.flow.result_summary())
        fill_form(self.rows, self.flow.result_rows(), prefix="result")
        envelopes = self.flow.envelope_rows()
        self.model.set_rows(envelopes)
        _fit_rows(self.table)
        self.table.setVisible(bool(envelopes))


# --- generate as components --------------------------------------------------------------


class GenerateComponentsWizard(_CeremonyWizard):
    """A new key as 2 to 9 printed components, one per named custodian."""

    TEMPLATE_PAGE, CUSTODIANS_PAGE, OUTPUT_PAGE, REVIEW_PAGE, RESULT_PAGE = range(5)
    action = Action.PRINT_COMPONENTS

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("generateComponentsWizard")
        self.setWindowTitle("Generate a key as components")
        queue = state.services.ctx.print_queue
        self.flow: GenerateComponentsFlow = GenerateComponentsFlow(
            printer=queue.printer if queue is not None else None
        )
        self.run_ceremony = lambda session: self.flow.generate(
            partial(state.services.ceremonies.generate_components, session)
        )
        self.work_title = lambda: "Generating and printing the components"
        info = self.flow.info
        self.template_page = _TemplateChoicePage(
            self, self.flow, info(GenerateComponentsStep.TEMPLATE)
        )
        self.custodians_page = _CustodiansPage(
            self, self.flow, info(GenerateComponentsStep.CUSTODIANS)
        )
        self.output_page = _OutputPage(self, self.flow, info(GenerateComponentsStep.OUTPUT))
        self.review_page = _ReviewPage(
            self, self.flow, info(GenerateComponentsStep.REVIEW), "&Generate and print"
        )
        self.result_page = _ResultPage(
            self, self.flow, info(GenerateComponentsStep.RESULT), REMINDER
        )
        self.add_pages(
            self.template_page,
            self.custodians_page,
            self.output_page,
            self.review_page,
            self.result_page,
        )
        self._session_changed()

    def quorum_template(self) -> str | None:
        return self.flow.template.name if self.flow.template else None


# --- enter from components ---------------------------------------------------------------


class _ComponentPage(_FlowPage):
    """One custodian types their component into a masked field."""

    def __init__(self, wizard: EnterComponentsWizard, number: int) -> None:
        info = wizard.flow.info(EnterStep.COMPONENT)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName(f"componentPage{number}")
        self.w = wizard
        self.number = number
        layout = QVBoxLayout(self)
        self.custodian = QLabel(self)
        self.custodian.setObjectName("componentCustodian")
        _big(self.custodian, 1.8)
        layout.addWidget(self.custodian)
        self.which = QLabel(self)
        self.which.setObjectName("componentWhich")
        _big(self.which, 1.25)
        layout.addWidget(self.which)
        self.instructions = _note("", self)
        self.instructions.setObjectName("componentInstructions")
        layout.addWidget(self.instructions)
        self.add_error("custodian", layout)
        layout.addSpacing(8)
        form = _form()
        self.edit = QLineEdit(self)
        self.edit.setObjectName("componentEdit")
        # Masked, with no way to reveal it; no copy, no drag, no input-method memory.
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setInputMethodHints(
            Qt.InputMethodHint.ImhHiddenText
            | Qt.InputMethodHint.ImhSensitiveData
            | Qt.InputMethodHint.ImhNoPredictiveText
            | Qt.InputMethodHint.ImhNoAutoUppercase
        )
        self.edit.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.edit.setDragEnabled(False)
        self.edit.setMaxLength(160)
        self.edit.setAccessibleName(f"Component {number}, masked")
        mono = QFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        mono.setPointSizeF(max(self.edit.font().pointSizeF(), 9.0) * 1.3)
        self.edit.setFont(mono)
        self.edit.setMinimumHeight(36)
        self.edit.textChanged.connect(self._typed)
        # The field and the lines under it in one column, so hidden lines take no room.
        field = QVBoxLayout()
        field.setSpacing(4)
        field.addWidget(self.edit)
        self.status = QLabel(self)
        self.status.setObjectName("componentStatus")
        self.status.setWordWrap(True)
        field.addWidget(self.status)
        self.add_error("component", field)
        self.held = _note("", self)
        self.held.setObjectName("componentHeld")
        field.addWidget(self.held)
        form.addRow("Component (masked):", field)
        self.envelope = QLineEdit(self)
        self.envelope.setObjectName("envelopeSerial")
        self.envelope.setPlaceholderText("e.g. KCW-E-000042, from the mailer (optional)")
        self.envelope.setMaximumWidth(320)
        form.addRow("Envelope serial:", self.envelope)
        self.add_error("envelope", form)
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def initializePage(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Show the page for its custodian and what the flow holds (on the way forward,
        and on the way back, where QWizard does not initialise a page again)."""
        flow = self.w.flow
        n, count = self.number, flow.count
        name = flow.custodian_of(n)
        self.custodian.setText(name)
        self.which.setText(f"Component {n} of {count}")
        algorithm = flow.algorithm
        assert algorithm is not None
        self.instructions.setText(
            f"Only {name} looks at the keyboard and the screen now; everyone else turns "
            f"away. Type the {flow.digits_needed()} hex digits of your {algorithm.value} "
            "component from the inner part of your mailer. Spaces are allowed. What you "
            "type is never shown."
        )
        self.edit.clear()
        self.envelope.setText(flow.envelopes[n - 1] if n <= len(flow.envelopes) else "")
        self.show_errors({})
        kcv = flow.component_kcvs[n - 1] if flow.holds(n) else None
        self.held.setText(
            f"Component {n} is held (KCV {kcv}). Leave the field empty to keep it, or type "
            "it again to replace it."
            if kcv
            else ""
        )
        self.held.setVisible(bool(kcv))
        self._typed("")
        self.edit.setFocus()

    def _typed(self, text: str) -> None:
        flow = self.w.flow
        if not text and flow.holds(self.number):
            self.status.setText("")
        else:
            status = flow.entry_status(text)
            self.status.setText(status.text)
            self.status.setStyleSheet(
                ERROR_STYLE
                if status.state is EntryState.INVALID
                else GOOD_STYLE
                if status.state is EntryState.COMPLETE
                else NEUTRAL_STYLE
            )
        self.errors["component"].show_error(None)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        flow = self.w.flow
        text = self.edit.text()
        if not text.strip():
            return flow.holds(self.number)
        return flow.entry_status(text).state is EntryState.COMPLETE

    def cleanupPage(self) -> None:
        # Back from this page: what was typed and not accepted goes.
        self.edit.clear()

    def validatePage(self) -> bool:
        flow = self.w.flow
        self.w._session_changed()
        text, envelope = self.edit.text(), self.envelope.text()
        errors = flow.validate_component(self.number, text, envelope)
        if not self.show_errors(errors):
            if "component" in errors:
                self.edit.clear()
            return False
        flow.back_to(EnterStep.COMPONENT, self.number)
        flow.set_component(self.number, text, envelope)
        del text
        self.edit.setText("")
        flow.advance()
        return True

    def nextId(self) -> int:
        if self.number < self.w.flow.count:
            return self.w.COMPONENT_PAGE + self.number + 1
        return self.w.KCV_PAGE


class _KcvPage(_FlowPage):
    """The combined key's check value, large, and the sender's to compare; then store."""

    def __init__(self, wizard: EnterComponentsWizard) -> None:
        info = wizard.flow.info(EnterStep.CONFIRM)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("kcvPage")
        self.w = wizard
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Store the key")
        layout = QVBoxLayout(self)
        self.caption = _note("", self)
        self.caption.setObjectName("combinedCaption")
        layout.addWidget(self.caption)
        self.combined = QLabel("—", self)
        self.combined.setObjectName("combinedKcv")
        self.combined.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.combined.setAlignment(Qt.AlignmentFlag.AlignCenter)
        _big(self.combined, 3.0, mono=True)
        self.combined.setMinimumHeight(64)
        layout.addWidget(self.combined)
        self.add_error("components", layout)
        form = _form()
        self.sender_edit = QLineEdit(self)
        self.sender_edit.setObjectName("senderKcv")
        self.sender_edit.setPlaceholderText("from the sender's key transfer form")
        self.sender_edit.setMaxLength(40)
        sender_font = QFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        sender_font.setPointSizeF(max(self.sender_edit.font().pointSizeF(), 9.0) * 1.5)
        self.sender_edit.setFont(sender_font)
        self.sender_edit.setMaximumWidth(320)
        self.sender_edit.textChanged.connect(lambda _t: self.errors["sender_kcv"].show_error(None))
        form.addRow("The sender's check value:", self.sender_edit)
        self.add_error("sender_kcv", form)
        layout.addLayout(form)
        self.model = RowsModel(["Component", "Custodian", "Its check value", "Envelope"], self)
        self.table = _result_table(self.model, "componentTable", self)
        layout.addWidget(self.table)
        box, self.quorum = _quorum_box(wizard.state, self, wizard.flow.set_requirement)
        layout.addWidget(box)
        self.again = QPushButton("&Type the components again", self)
        self.again.setObjectName("typeAgain")
        self.again.clicked.connect(wizard.type_again)
        self.again.hide()
        layout.addWidget(self.again, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def initializePage(self) -> None:
        flow = self.w.flow
        self.sender_edit.clear()
        self.show_errors({})
        self.again.hide()
        kcv = flow.compute_combined(self.w.state.services.ceremonies.combined_check_value)
        algorithm = flow.algorithm.value if flow.algorithm else "the"
        if kcv is None:
            self.combined.setText("—")
            self.caption.setText("The components do not form a key.")
            self.errors["components"].show_error(flow.combined_error)
        else:
            self.combined.setText(kcv)
            self.caption.setText(
                f"The {flow.count} components combine to a {algorithm} key with this check "
                "value. Compare it with the check value the sender gave for the key, and "
                "type the sender's value below: the key is stored only if they agree."
            )
        self.model.set_rows(flow.component_rows())
        _fit_rows(self.table)
        template = flow.template
        self.quorum.ask(Action.ENTER_COMPONENTS, template.name if template else None)
        self.sender_edit.setFocus()

    def show_wiped(self, exc: BaseException) -> None:
        """After a failed store: the service wiped the components it was handed."""
        self.errors["components"].show_error(
            f"Nothing was stored: {describe(exc)[1]} The components typed have been wiped; "
            "each custodian types theirs again."
        )
        self.combined.setText("—")
        self.again.show()

    def validatePage(self) -> bool:
        flow = self.w.flow
        if flow.outcome is not None:
            return True
        if not self.show_errors(flow.validate_sender_kcv(self.sender_edit.text())):
            self.again.setVisible(flow.wiped)
            return False
        flow.back_to(EnterStep.CONFIRM)
        flow.set_sender_kcv(self.sender_edit.text())
        flow.advance()
        self.w.start()
        return False


class _EntryCustodiansPage(_CustodiansPage):
    def nextId(self) -> int:
        return EnterComponentsWizard.COMPONENT_PAGE + 1


class EnterComponentsWizard(_CeremonyWizard):
    """A key formed from components typed by their custodians, confirmed by the sender's
    check value."""

    TEMPLATE_PAGE, CUSTODIANS_PAGE = 0, 1
    COMPONENT_PAGE = 10  # component n is page COMPONENT_PAGE + n
    KCV_PAGE, RESULT_PAGE = 30, 31
    action = Action.ENTER_COMPONENTS

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("enterComponentsWizard")
        self.setWindowTitle("Enter a key from components")
        self.flow: EnterComponentsFlow = EnterComponentsFlow()
        info = self.flow.info
        self.template_page = _TemplateChoicePage(self, self.flow, info(EnterStep.TEMPLATE))
        self.custodians_page = _EntryCustodiansPage(self, self.flow, info(EnterStep.CUSTODIANS))
        self.component_pages = [_ComponentPage(self, n) for n in range(1, MAX_COMPONENTS + 1)]
        self.kcv_page = _KcvPage(self)
        self.result_page = _ResultPage(self, self.flow, info(EnterStep.RESULT), ENTRY_REMINDER)
        self.setPage(self.TEMPLATE_PAGE, self.template_page)
        self.setPage(self.CUSTODIANS_PAGE, self.custodians_page)
        for n, page in enumerate(self.component_pages, 1):
            self.setPage(self.COMPONENT_PAGE + n, page)
        self.setPage(self.KCV_PAGE, self.kcv_page)
        self.setPage(self.RESULT_PAGE, self.result_page)
        self._last_page = -1
        self.currentIdChanged.connect(self._page_changed)
        self._session_changed()

    def _page_changed(self, page_id: int) -> None:
        page = self.page(page_id)
        if isinstance(page, _ComponentPage) and page_id < self._last_page:
            page.refresh()  # back on a component page
        self._last_page = page_id

    def component_page(self, number: int) -> _ComponentPage:
        return self.component_pages[number - 1]

    def quorum_template(self) -> str | None:
        return self.flow.template.name if self.flow.template else None

    def type_again(self) -> None:
        """Back to the first component page (after the components were wiped)."""
        while self.currentId() > self.COMPONENT_PAGE + 1 and self.currentId() != -1:
            self.back()

    def start(self) -> None:
        flow = self.flow
        services = self.state.services

        def work(_: JobControl) -> CeremonyOutcome | BaseException:
            session = self.state.ensure_session()

            def enter(
                template_ref: str,
                entries: list[ComponentEntry],
                *,
                sender_kcv: str,
                label: str | None,
            ) -> CeremonyOutcome:
                return services.ceremonies.enter_components(
                    session, template_ref, entries, sender_kcv=sender_kcv, label=label
                )

            # A refusal comes back as a value: the page must learn that the components
            # it handed over are gone, not only see an error box.
            try:
                return flow.store(enter)
            except Exception as exc:  # noqa: BLE001 - shown to the person, then logged
                return exc

        def done(result: CeremonyOutcome | BaseException) -> None:
            if isinstance(result, BaseException):
                flow.back_to(EnterStep.CONFIRM)
                self.kcv_page.show_wiped(result)
                show_error(self, result)
                return
            self.finish_ceremony(result)

        self.run_action(
            action=Action.ENTER_COMPONENTS,
            title="Forming and storing the key",
            work=work,
            on_done=done,
            template=self.quorum_template(),
        )

    def _wipe(self) -> None:
        self.flow.wipe()
        for page in self.component_pages:
            page.edit.setText("")
        self.kcv_page.sender_edit.clear()

    def _on_finished(self, result: int) -> None:
        # The store may still run on the device thread: the flow handed the components
        # over, and the service wipes them; wipe what the flow holds once it is over.
        if not self.state.runner.busy:
            self._wipe()
        super()._on_finished(result)

    def _on_busy(self, busy: bool) -> None:
        if not busy and self.closed:
            self._wipe()
        super()._on_busy(busy)


# --- export as components ----------------------------------------------------------------


class _KeyPage(_FlowPage):
    """The key to export, read from the inventory."""

    def __init__(self, wizard: ExportComponentsWizard) -> None:
        info = wizard.flow.info(ExportStep.KEY)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("keyPage")
        self.w = wizard
        self.reading = False
        layout = QVBoxLayout(self)
        form = _form()
        self.label = QLineEdit(wizard.flow.key_label, self)
        self.label.setObjectName("exportKeyLabel")
        self.label.setPlaceholderText("the key's label, e.g. CVK-0007")
        self.label.textEdited.connect(self._edited)
        self.label.editingFinished.connect(self.read)
        form.addRow("Key label:", self.label)
        self.add_error("key", form)
        layout.addLayout(form)
        box = QGroupBox("The key", self)
        self.rows = _form()
        box.setLayout(self.rows)
        layout.addWidget(box)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def initializePage(self) -> None:
        if self.label.text().strip() and self.w.flow.detail is None:
            self.read()

    def _edited(self, _text: str) -> None:
        self.w.flow.load(None, "")
        fill_form(self.rows, [])
        self.show_errors({})

    def read(self, then: Callable[[], None] | None = None) -> None:
        label = self.label.text().strip()
        flow = self.w.flow
        if not label or self.reading:
            return
        if flow.detail is not None and flow.key_label == label:
            if then is not None:
                then()
            return
        self.reading = True
        services = self.w.state.services

        def work(_: JobControl) -> KeyDetail | None:
            try:
                return services.keys.detail(self.w.state.ensure_session(), label)
            except NotFound:
                return None

        def done(detail: KeyDetail | None) -> None:
            self.reading = False
            if self.label.text().strip() != label:
                return
            flow.load(detail, label)
            fill_form(self.rows, flow.key_rows(), prefix="key")
            errors = flow.validate_key()
            self.show_errors(errors)
            if not errors and then is not None:
                then()

        def failed(exc: BaseException) -> None:
            self.reading = False
            self.general_error.show_error(describe(exc)[1])

        self.w.call(work, done, failed, title=f"read key {label}")

    def validatePage(self) -> bool:
        flow = self.w.flow
        label = self.label.text().strip()
        errors = flow.validate_label(label)
        if not self.show_errors(errors):
            return False
        if flow.detail is None or flow.key_label != label:
            self.read(then=self.w.next)
            return False
        if not self.show_errors(flow.validate_key()):
            return False
        flow.back_to(ExportStep.KEY)
        flow.advance()
        return True


class ExportComponentsWizard(_CeremonyWizard):
    """An exportable key printed as new components, under the export quorum."""

    KEY_PAGE, CUSTODIANS_PAGE, OUTPUT_PAGE, REVIEW_PAGE, RESULT_PAGE = range(5)
    action = Action.EXPORT_KEY

    def __init__(
        self, state: AppState, parent: QWidget | None = None, *, key_label: str | None = None
    ) -> None:
        super().__init__(state, parent)
        self.setObjectName("exportComponentsWizard")
        self.setWindowTitle(
            f"Export key {key_label} as components" if key_label else "Export a key as components"
        )
        queue = state.services.ctx.print_queue
        self.flow: ExportComponentsFlow = ExportComponentsFlow(
            key_label or "", printer=queue.printer if queue is not None else None
        )
        self.run_ceremony = lambda session: self.flow.export(
            partial(state.services.ceremonies.export_components, session)
        )
        self.work_title = lambda: f"Exporting key {self.flow.key_label} as components"
        info = self.flow.info
        self.key_page = _KeyPage(self)
        self.custodians_page = _CustodiansPage(self, self.flow, info(ExportStep.CUSTODIANS))
        self.output_page = _OutputPage(self, self.flow, info(ExportStep.OUTPUT))
        self.review_page = _ReviewPage(
            self, self.flow, info(ExportStep.REVIEW), "&Export and print"
        )
        self.result_page = _ResultPage(self, self.flow, info(ExportStep.RESULT), REMINDER)
        self.add_pages(
            self.key_page,
            self.custodians_page,
            self.output_page,
            self.review_page,
            self.result_page,
        )
        self._session_changed()

    def quorum_template(self) -> str | None:
        template = self.flow.template
        return template.id if template else None


# --- master key backup -------------------------------------------------------------------


class _SchemePage(_FlowPage):
    """Shares (m of n) or components (all n)."""

    def __init__(self, wizard: MasterKeyBackupWizard) -> None:
        info = wizard.flow.info(BackupStep.SCHEME)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("schemePage")
        self.w = wizard
        layout = QVBoxLayout(self)
        self.group = QButtonGroup(self)
        self.shares = QRadioButton("Shares: any m of the n holders recover the backup", self)
        self.shares.setObjectName("schemeShares")
        self.components = QRadioButton("Components: every holder is needed", self)
        self.components.setObjectName("schemeComponents")
        self.group.addButton(self.shares)
        self.group.addButton(self.components)
        self.shares.setChecked(True)
        layout.addWidget(self.shares)
        row = QHBoxLayout()
        row.setContentsMargins(24, 0, 0, 0)
        row.addWidget(QLabel("Shares needed to recover:", self))
        self.threshold = QSpinBox(self)
        self.threshold.setObjectName("threshold")
        self.threshold.setRange(MIN_COMPONENTS, MAX_COMPONENTS)
        row.addWidget(self.threshold)
        self.of = QLabel(self)
        row.addWidget(self.of)
        row.addStretch(1)
        layout.addLayout(row)
        self.add_error("threshold", layout)
        layout.addWidget(self.components)
        self.add_error("scheme", layout)
        self.explained = _note("", self)
        self.explained.setObjectName("schemeExplained")
        layout.addWidget(self.explained)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        self.shares.toggled.connect(self._changed)
        self.threshold.valueChanged.connect(self._changed)

    def initializePage(self) -> None:
        flow = self.w.flow
        count = flow.custodians.count
        self.threshold.setMaximum(count)
        self.threshold.setValue(min(max(flow.threshold, MIN_COMPONENTS), count))
        self.of.setText(f"of {count}")
        self.show_errors({})
        self._changed()

    def scheme(self) -> BackupScheme:
        return BackupScheme.SHARES if self.shares.isChecked() else BackupScheme.COMPONENTS

    def _changed(self, *_: Any) -> None:
        self.threshold.setEnabled(self.shares.isChecked())
        n, m = self.w.flow.custodians.count, self.threshold.value()
        if self.shares.isChecked():
            text = f"Any {m} of the {n} holders recover the backup; fewer learn nothing."
        else:
            text = f"All {n} holders are needed; one lost envelope loses the backup."
        self.explained.setText(text)

    def validatePage(self) -> bool:
        flow = self.w.flow
        scheme, threshold = self.scheme(), self.threshold.value()
        if not self.show_errors(flow.validate_scheme(scheme, threshold)):
            return False
        flow.back_to(BackupStep.SCHEME)
        flow.choose_scheme(scheme, threshold)
        flow.advance()
        return True


class MasterKeyBackupWizard(_CeremonyWizard):
    """The master key backed up as printed shares or components."""

    HOLDERS_PAGE, SCHEME_PAGE, OUTPUT_PAGE, REVIEW_PAGE, RESULT_PAGE = range(5)
    action = Action.BACKUP_MASTER_KEY

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("masterKeyBackupWizard")
        self.setWindowTitle("Back up the master key")
        queue = state.services.ctx.print_queue
        self.flow: MasterKeyBackupFlow = MasterKeyBackupFlow(
            printer=queue.printer if queue is not None else None
        )
        self.run_ceremony = lambda session: self.flow.backup(
            partial(state.services.ceremonies.backup_master_key, session)
        )
        self.work_title = lambda: "Backing up the master key"
        info = self.flow.info
        self.holders_page = _CustodiansPage(self, self.flow, info(BackupStep.HOLDERS))
        self.scheme_page = _SchemePage(self)
        self.output_page = _OutputPage(self, self.flow, info(BackupStep.OUTPUT))
        self.review_page = _ReviewPage(
            self, self.flow, info(BackupStep.REVIEW), "&Back up and print"
        )
        self.result_page = _ResultPage(self, self.flow, info(BackupStep.RESULT), REMINDER)
        self.add_pages(
            self.holders_page,
            self.scheme_page,
            self.output_page,
            self.review_page,
            self.result_page,
        )
        self._session_changed()
