"""The TLS wizards: discover the certificates servers present (and enrol them), and export
a certified key pair as a key store.

Each wizard renders a flow of :mod:`workstation.flows.endpoints`; a page's
``validatePage()`` asks the flow's validator and shows its errors next to the fields. The
probing, the enrolment and the export run through ``gui.actions.perform``: the co-sign
dialog opens when people are missing, then the endpoint service runs on the device thread
behind a progress dialog (the probing can be cancelled) and checks every rule again.

The key store's password is typed twice into password fields; at the export it is handed
to the service as a bytearray that is wiped afterwards, and the fields are cleared. (The
text a Qt field held cannot be wiped: see ``docs/tls.md``, known limits.)

Entry points (the Certificates page calls them): :func:`open_discover_wizard`,
:func:`open_keystore_wizard`.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
    QWizard,
)

from workstation.domain.endpoints import Endpoint
from workstation.domain.policy import Action, MediaExport
from workstation.errors import BadInput
from workstation.files import write_new
from workstation.flows.endpoints import (
    HEADERS,
    DiscoverFlow,
    DiscoverStep,
    KeystoreFlow,
    KeystoreStep,
    ResultRow,
)
from workstation.flows.kiosk_places import OutsideKioskPlaces
from workstation.services.endpoints import Discovery, KeystoreChoice
from workstation.services.logon import Requirement

from . import file_choice
from .errors import describe
from .runner import JobControl
from .state import AppState
from .wizards import (
    ERROR_STYLE,
    GOOD_STYLE,
    _FlowPage,
    _FlowWizard,
    _form,
    _note,
    _quorum_box,
    fill_form,
)

log = logging.getLogger(__name__)

__all__ = [
    "LEVEL_COLOURS",
    "DiscoverWizard",
    "DiscoveryModel",
    "KeystoreWizard",
    "open_discover_wizard",
    "open_keystore_wizard",
]

MAX_LIST_BYTES = 1 << 20
SETTINGS_FOLDER = "tls/folder"
# Background of the "Days left" cell, by expiry level (flows.endpoints.expiry_level).
LEVEL_COLOURS: dict[str, str] = {
    "expired": "#f4c7c3",  # red
    "due": "#fce8b2",  # amber
    "ok": "#d9ead3",  # green
}
UNREACHABLE_TEXT = "#6b6b6b"
DAYS_COLUMN = 2
SUBJECT_COLUMN = 3


def open_discover_wizard(state: AppState, parent: QWidget | None) -> QWizard:
    """Discover TLS endpoints and enrol them (opened, window-modal to ``parent``)."""
    wizard = DiscoverWizard(state, parent)
    wizard.open()
    return wizard


def open_keystore_wizard(state: AppState, parent: QWidget | None) -> QWizard:
    """Export a key pair with its current certificate as a key store."""
    wizard = KeystoreWizard(state, parent)
    wizard.open()
    return wizard


def _folder(state: AppState) -> str:
    folder = state.settings.value(SETTINGS_FOLDER, "")
    return folder if isinstance(folder, str) and folder else str(Path.home())


class _Page(_FlowPage):
    def __init__(self, wizard: _FlowWizard, title: str, subtitle: str, name: str) -> None:
        super().__init__(title, subtitle, wizard)
        self.setObjectName(name)

    def error_row(self, layout: QVBoxLayout, field: str) -> None:
        self.add_error(field, layout)


# --- the results table ---------------------------------------------------------------------------


class DiscoveryModel(QAbstractTableModel):
    """The discovery's results: a row per target, ticked to enrol (the first column's check
    box, for targets that were reached), the days left coloured by how soon they run out,
    the full facts (or the error) as each row's tooltip."""

    ticked_changed = Signal()

    def __init__(self, flow: DiscoverFlow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.flow = flow
        self.rows: list[ResultRow] = []

    def reload(self) -> None:
        self.beginResetModel()
        self.rows = self.flow.rows()
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == 0 and self.rows[index.row()].tickable:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return row.cells[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.detail
        if role == Qt.ItemDataRole.CheckStateRole and column == 0 and row.tickable:
            ticked = index.row() in self.flow.ticked
            return Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.BackgroundRole and column == DAYS_COLUMN:
            colour = LEVEL_COLOURS.get(row.level)
            return QBrush(QColor(colour)) if colour else None
        if role == Qt.ItemDataRole.ForegroundRole:
            if row.level == "unreachable":
                return QBrush(QColor(UNREACHABLE_TEXT))
            if column == DAYS_COLUMN:
                return QBrush(QColor("#000000"))  # readable on the coloured cell
        return None

    def setData(
        self,
        index: QModelIndex | QPersistentModelIndex,
        value: Any,
        role: int = Qt.ItemDataRole.EditRole,
    ) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or index.column() != 0:
            return False
        if not self.rows[index.row()].tickable:
            return False
        checked = value in (Qt.CheckState.Checked, Qt.CheckState.Checked.value, 2, True)
        self.flow.set_ticked(index.row(), checked)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        self.ticked_changed.emit()
        return True

    def tick(self, row: int, ticked: bool) -> bool:
        """Tick or untick a row (as a click on its check box does)."""
        state = Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked
        return self.setData(self.index(row, 0), state, Qt.ItemDataRole.CheckStateRole)

    def level(self, row: int) -> str:
        return self.rows[row].level


# --- discovery -------------------------------------------------------------------------------


class _TargetsPage(_Page):
    def __init__(self, wizard: DiscoverWizard) -> None:
        info = wizard.flow.info(DiscoverStep.TARGETS)
        super().__init__(wizard, info.title, info.subtitle, "targetsPage")
        self.w = wizard
        self.probed = False
        layout = QVBoxLayout(self)
        self.edit = QPlainTextEdit(self)
        self.edit.setObjectName("targetsEdit")
        self.edit.setPlaceholderText(
            "pay.bank.example:443\n10.0.0.5:8443 api.bank.example\n[2001:db8::10]:443"
        )
        self.edit.setTabChangesFocus(True)
        layout.addWidget(self.edit, 1)
        self.error_row(layout, "targets")
        self.count = QLabel(self)
        self.count.setObjectName("targetCount")
        layout.addWidget(self.count)
        row = QHBoxLayout()
        self.load_button = QPushButton("&Load a list…", self)
        self.load_button.setObjectName("loadTargets")
        self.load_button.clicked.connect(self.ask)
        row.addWidget(self.load_button)
        row.addStretch(1)
        row.addWidget(QLabel("Wait for each server up to", self))
        self.timeout = QDoubleSpinBox(self)
        self.timeout.setObjectName("timeoutSpin")
        self.timeout.setRange(0.5, 60.0)
        self.timeout.setDecimals(1)
        self.timeout.setSingleStep(0.5)
        self.timeout.setSuffix(" s")
        self.timeout.setValue(5.0)
        row.addWidget(self.timeout)
        layout.addLayout(row)
        self.error_row(layout, "timeout")
        layout.addWidget(self.general_error)
        self.edit.textChanged.connect(self._changed)
        self.setButtonText(QWizard.WizardButton.NextButton, "&Probe >")

    def _changed(self) -> None:
        self.errors["targets"].show_error(None)
        self.count.setText(self.w.flow.target_count_text(self.edit.toPlainText()))

    def ask(self) -> None:
        chosen = file_choice.open_file(
            self, "Load a list of targets", _folder(self.w.state), "Lists (*.txt);;All files (*)"
        )
        if chosen is not None:
            self.load(chosen)

    def load(self, path: Path) -> None:
        self.w.state.settings.setValue(SETTINGS_FOLDER, str(path.parent))
        try:
            data = path.read_bytes()
            if len(data) > MAX_LIST_BYTES:
                raise BadInput(f"{path.name} is larger than 1 MiB: not a list of targets.")
            text = data.decode("utf-8")
        except OSError as e:
            self.errors["targets"].show_error(f"Cannot read {path}: {e.strerror}.")
            return
        except UnicodeDecodeError:
            self.errors["targets"].show_error(f"{path.name} is not UTF-8 text.")
            return
        except BadInput as e:
            self.errors["targets"].show_error(e.user_message())
            return
        self.edit.setPlainText(text.strip())

    def initializePage(self) -> None:
        self.probed = False

    def validatePage(self) -> bool:
        if self.probed:  # the probe just answered: go on to its results
            self.probed = False
            return True
        text, timeout = self.edit.toPlainText(), self.timeout.value()
        flow = self.w.flow
        if not self.show_errors(flow.validate_targets(text, timeout)):
            return False
        flow.back_to(DiscoverStep.TARGETS)
        flow.set_targets(text, timeout)
        self.w.probe()
        return False

    def probe_done(self) -> None:
        self.probed = True
        self.w.next()


class _ResultsPage(_Page):
    def __init__(self, wizard: DiscoverWizard) -> None:
        info = wizard.flow.info(DiscoverStep.RESULTS)
        super().__init__(wizard, info.title, info.subtitle, "resultsPage")
        self.w = wizard
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Enrol ticked")
        layout = QVBoxLayout(self)
        self.counts = QLabel(self)
        self.counts.setObjectName("resultCounts")
        self.counts.setWordWrap(True)
        layout.addWidget(self.counts)
        self.model = DiscoveryModel(wizard.flow, self)
        self.table = QTableView(self)
        self.table.setObjectName("resultsTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # The subject (or, for a server not reached, why) takes what is left, elided;
        # the whole of it is in the row's tooltip.
        header.setSectionResizeMode(SUBJECT_COLUMN, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        layout.addWidget(self.table, 1)
        self.error_row(layout, "rows")
        form = _form()
        self.owners = QLineEdit(self)
        self.owners.setObjectName("ownersEdit")
        self.owners.setPlaceholderText("e.g. web-ops@bank.example, pki@bank.example")
        self.owners.setToolTip("Who is told before a certificate expires (comma-separated).")
        form.addRow("Owners to alert:", self.owners)
        self.add_error("owners", form)
        layout.addLayout(form)
        box, self.quorum = _quorum_box(wizard.state, self, self._checked)
        layout.addWidget(box)
        layout.addWidget(self.general_error)

    def _checked(self, requirement: Requirement) -> None:
        self.w.flow.set_requirement(requirement)

    def initializePage(self) -> None:
        self.model.reload()
        self.counts.setText(self.w.flow.counts_text())
        self.show_errors({})
        self.quorum.ask(Action.MANAGE_MONITORING, None)

    def validatePage(self) -> bool:
        if self.w.flow.enrolled:
            return True
        flow = self.w.flow
        errors = flow.validate_enrol(set(flow.ticked), self.owners.text())
        if not self.show_errors(errors):
            return False
        flow.choose_enrol(set(flow.ticked), self.owners.text())
        self.w.enrol()
        return False


class _DonePage(_Page):
    def __init__(self, wizard: DiscoverWizard) -> None:
        info = wizard.flow.info(DiscoverStep.DONE)
        super().__init__(wizard, info.title, info.subtitle, "donePage")
        self.w = wizard
        layout = QVBoxLayout(self)
        self.summary = _note("", self)
        self.summary.setObjectName("resultSummary")
        layout.addWidget(self.summary)
        self.rows = _form()
        layout.addLayout(self.rows)
        layout.addStretch(1)

    def initializePage(self) -> None:
        self.summary.setText(self.w.flow.result_summary())
        fill_form(self.rows, self.w.flow.result_rows(), prefix="enrolled")


class DiscoverWizard(_FlowWizard):
    """Targets probed on the device thread (with progress, cancellable), the results in a
    table, the ticked ones enrolled under the monitoring quorum."""

    TARGETS_PAGE, RESULTS_PAGE, DONE_PAGE = range(3)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("discoverWizard")
        self.setWindowTitle("Discover TLS endpoints")
        self.resize(1000, 680)
        self.flow = DiscoverFlow()
        self.found: list[Discovery] = []
        self.enrolled: list[Endpoint] = []
        self.targets_page = _TargetsPage(self)
        self.results_page = _ResultsPage(self)
        self.done_page = _DonePage(self)
        self.add_pages(self.targets_page, self.results_page, self.done_page)

    def probe(self) -> None:
        services = self.state.services
        count = len(self.flow.targets)

        def work(control: JobControl) -> list[Discovery]:
            session = self.state.ensure_session()

            def discover(targets: Any, *, timeout: float) -> list[Discovery]:
                return services.endpoints.discover(
                    session,
                    targets,
                    timeout=timeout,
                    progress=lambda done, total: control.progress(
                        done, total, f"{done} of {total} servers answered or gave up"
                    ),
                    cancelled=control.cancelled,
                )

            return self.flow.discover(discover)

        def done(found: list[Discovery]) -> None:
            self.found = found
            self.flow.record_discoveries(found)
            self.targets_page.probe_done()

        self.run_action(
            action=Action.VIEW_INVENTORY,
            title=f"Probing {count} server{'s' if count != 1 else ''}",
            work=work,
            on_done=done,
            template=None,
            cancellable=True,
        )

    def enrol(self) -> None:
        services = self.state.services
        count = len(self.flow.ticked)

        def work(_: JobControl) -> list[Endpoint]:
            session = self.state.ensure_session()
            return self.flow.enrol(partial(services.endpoints.enrol_many, session))

        def done(endpoints: list[Endpoint]) -> None:
            self.enrolled = endpoints
            self.flow.record_enrolled(endpoints)
            self.state.data_changed.emit("endpoints")
            self.next()

        self.run_action(
            action=Action.MANAGE_MONITORING,
            title=f"Enrolling {count} endpoint{'s' if count != 1 else ''}",
            work=work,
            on_done=done,
            template=None,
        )


# --- key store -------------------------------------------------------------------------------


class _ChoosePage(_Page):
    def __init__(self, wizard: KeystoreWizard) -> None:
        info = wizard.flow.info(KeystoreStep.CHOOSE)
        super().__init__(wizard, info.title, info.subtitle, "choosePage")
        self.w = wizard
        layout = QVBoxLayout(self)
        self.status = _note("Reading the key pairs with a current certificate…", self)
        self.status.setObjectName("loadStatus")
        layout.addWidget(self.status)
        form = _form()
        self.key = QComboBox(self)
        self.key.setObjectName("keyChoice")
        self.key.setMinimumContentsLength(40)
        form.addRow("Key pair:", self.key)
        self.add_error("key", form)
        self.format = QComboBox(self)
        self.format.setObjectName("formatChoice")
        for code, text in KeystoreFlow.formats():
            self.format.addItem(text, code)
        form.addRow("Format:", self.format)
        self.add_error("format", form)
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        wizard.loaded.connect(self._loaded)

    def _loaded(self) -> None:
        self.completeChanged.emit()
        if self.w.load_error:
            self.status.setStyleSheet(ERROR_STYLE)
            self.status.setText(self.w.load_error)
            return
        choices = self.w.flow.choices
        self.key.clear()
        self.key.addItem("Choose…", None)
        for choice in choices:
            self.key.addItem(KeystoreFlow.line(choice), choice.key.label)
        self.status.setStyleSheet("")
        self.status.setText(
            f"{len(choices)} key pair{'s have' if len(choices) != 1 else ' has'} a current "
            "certificate."
            if choices
            else "No key pair has a current certificate: import the certificate its CA "
            "issued first."
        )

    def isComplete(self) -> bool:
        return self.w.choices is not None and super().isComplete()

    def choose(self, label: str) -> bool:
        index = self.key.findData(label)
        if index >= 0:
            self.key.setCurrentIndex(index)
        return index >= 0

    def validatePage(self) -> bool:
        key, fmt = self.key.currentData(), self.format.currentData()
        flow = self.w.flow
        if not self.show_errors(flow.validate_choice(key, fmt)):
            return False
        flow.back_to(KeystoreStep.CHOOSE)
        flow.choose(key, fmt)
        flow.advance()
        return True


class _ProtectPage(_Page):
    def __init__(self, wizard: KeystoreWizard) -> None:
        info = wizard.flow.info(KeystoreStep.PROTECT)
        super().__init__(wizard, info.title, info.subtitle, "protectPage")
        self.w = wizard
        layout = QVBoxLayout(self)
        form = _form()
        self.password = self._secret("passwordEdit")
        form.addRow("Password:", self.password)
        self.add_error("password", form)
        self.again = self._secret("againEdit")
        form.addRow("The same again:", self.again)
        self.add_error("again", form)
        row = QHBoxLayout()
        self.file = QLineEdit(self)
        self.file.setObjectName("fileEdit")
        self.file.setPlaceholderText("a new file")
        file_choice.confine(self.file)
        row.addWidget(self.file, 1)
        self.choose_button = QPushButton("&Choose…", self)
        self.choose_button.setObjectName("chooseFile")
        self.choose_button.clicked.connect(self.ask)
        row.addWidget(self.choose_button)
        form.addRow("File:", row)
        self.add_error("file", form)
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def _secret(self, name: str) -> QLineEdit:
        edit = QLineEdit(self)
        edit.setObjectName(name)
        edit.setEchoMode(QLineEdit.EchoMode.Password)
        edit.setMaxLength(1024)
        return edit

    def initializePage(self) -> None:
        flow = self.w.flow
        if not self.file.text() or Path(self.file.text()).suffix != flow.suffix():
            self.file.setText(str(Path(_folder(self.w.state)) / flow.suggested_name()))

    def ask(self) -> None:
        chosen = file_choice.save_file(
            self,
            "Save the key store",
            self.file.text() or str(Path(_folder(self.w.state)) / self.w.flow.suggested_name()),
            "Key stores (*.p12 *.pfx *.pem);;All files (*)",
            kind=MediaExport.TLS_KEY_STORES,
            confirm_overwrite=False,  # an existing file is refused
        )
        if chosen is not None:
            self.file.setText(str(chosen))
            self.w.state.settings.setValue(SETTINGS_FOLDER, str(chosen.parent))

    def clear(self) -> None:
        self.password.clear()
        self.again.clear()

    def validatePage(self) -> bool:
        flow = self.w.flow
        password, again, path = self.password.text(), self.again.text(), self.file.text()
        if not self.show_errors(flow.validate_protect(password, again, path)):
            return False
        try:  # in kiosk mode, a path in the kiosk's places only
            file_choice.check_path(path, writing=True, kind=MediaExport.TLS_KEY_STORES)
        except OutsideKioskPlaces as e:
            return self.show_errors({"file": e.user_message()})
        flow.back_to(KeystoreStep.PROTECT)
        flow.set_protect(password, again, path)
        flow.advance()
        return True


class _KeystoreReviewPage(_Page):
    def __init__(self, wizard: KeystoreWizard) -> None:
        info = wizard.flow.info(KeystoreStep.REVIEW)
        super().__init__(wizard, info.title, info.subtitle, "reviewPage")
        self.w = wizard
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Export")
        layout = QVBoxLayout(self)
        self.summary = _note("", self)
        self.summary.setObjectName("exportSummary")
        layout.addWidget(self.summary)
        self.rows = _form()
        layout.addLayout(self.rows)
        box, self.quorum = _quorum_box(wizard.state, self, self._checked)
        layout.addWidget(box)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def _checked(self, requirement: Requirement) -> None:
        self.w.flow.set_requirement(requirement)
        fill_form(self.rows, self.w.flow.review_rows(), prefix="review")

    def initializePage(self) -> None:
        flow = self.w.flow
        self.summary.setText(flow.summary())
        fill_form(self.rows, flow.review_rows(), prefix="review")
        self.show_errors({})
        self.quorum.ask(Action.EXPORT_KEY, flow.quorum_template)

    def validatePage(self) -> bool:
        if self.w.flow.written is not None:
            return True
        self.show_errors({})
        self.w.export()
        return False


class _KeystoreResultPage(_Page):
    def __init__(self, wizard: KeystoreWizard) -> None:
        info = wizard.flow.info(KeystoreStep.RESULT)
        super().__init__(wizard, info.title, info.subtitle, "resultPage")
        self.w = wizard
        layout = QVBoxLayout(self)
        self.summary = _note("", self)
        self.summary.setObjectName("resultSummary")
        self.summary.setStyleSheet(GOOD_STYLE)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.summary)
        layout.addStretch(1)

    def initializePage(self) -> None:
        self.summary.setText(self.w.flow.result_summary())


class KeystoreWizard(_FlowWizard):
    """A key pair with its current certificate, as a PKCS #12 or PEM key store written to
    a new file, under the export quorum of the key pair's template."""

    CHOOSE_PAGE, PROTECT_PAGE, REVIEW_PAGE, RESULT_PAGE = range(4)
    loaded = Signal()

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("keystoreWizard")
        self.setWindowTitle("Export a key store")
        self.flow = KeystoreFlow()
        self.choices: list[KeystoreChoice] | None = None
        self.load_error: str | None = None
        self.choose_page = _ChoosePage(self)
        self.protect_page = _ProtectPage(self)
        self.review_page = _KeystoreReviewPage(self)
        self.result_page = _KeystoreResultPage(self)
        self.add_pages(self.choose_page, self.protect_page, self.review_page, self.result_page)
        self.finished.connect(lambda _: self.protect_page.clear())
        self.load()

    def load(self) -> None:
        services = self.state.services

        def work(_: JobControl) -> list[KeystoreChoice]:
            return services.endpoints.keystore_choices(self.state.ensure_session())

        def done(choices: list[KeystoreChoice]) -> None:
            self.choices = choices
            self.load_error = None
            self.flow.load(choices)
            self.loaded.emit()

        def failed(exc: BaseException) -> None:
            self.load_error = describe(exc)[1]
            self.loaded.emit()

        self.call(work, done, failed, title="read the key pairs with certificates")

    def export(self) -> None:
        services = self.state.services
        flow = self.flow
        typed = self.protect_page.password.text()
        key = flow.choice.key.label if flow.choice else "the key pair"

        def work(_: JobControl) -> tuple[Path, int]:
            # Judged again as the work starts: a refused path exports nothing.
            file_choice.check_path(flow.file, writing=True, kind=MediaExport.TLS_KEY_STORES)
            session = self.state.ensure_session()
            password = bytearray(typed.encode("utf-8"))
            try:
                data = flow.export(partial(services.endpoints.export_keystore, session), password)
            finally:
                password[:] = bytes(len(password))
            return write_new(flow.file, data), len(data)

        def done(result: tuple[Path, int]) -> None:
            self.protect_page.clear()
            flow.record_result(*result)
            self.state.data_changed.emit("keys")
            self.next()

        self.run_action(
            action=Action.EXPORT_KEY,
            title=f"Exporting {key} as a key store",
            work=work,
            on_done=done,
            template=flow.quorum_template,
        )
