"""The exchange wizards: a key sent or received by the payment standards.

Each wizard renders a flow of :mod:`workstation.flows.interchange`; a page's
``validatePage()`` asks the flow's validator and shows its errors next to the fields. What
the wizards choose from (partners, keys, templates, the workstation's exchange
certificates) is read once, on the device thread, when a wizard opens. The exchange runs
through ``gui.actions.perform``: the co-sign dialog opens when people are missing, then
the interchange service runs on the device thread behind a progress dialog (cancellable
for the DUKPT initial keys) and checks every rule again; a refusal is shown in the
service's words and nothing is stored.

Nothing is written to disk except where the person chooses: "Save…" asks for a new file
name and writes the file whole or not at all; an existing file is never overwritten.

Entry points (the Exchanges page calls them): :func:`open_export_tr31`,
:func:`open_import_tr31`, :func:`open_tr34`, :func:`open_ecdh`, :func:`open_legacy_import`,
:func:`open_dukpt_export`, :func:`open_dukpt_test`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
    QWizard,
)

from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.policy import Action, MediaExport
from workstation.errors import BadInput
from workstation.files import write_new
from workstation.flows.interchange import (
    CURVES,
    EDITIONS,
    HASHES,
    KDFS,
    KEK_ALGORITHMS,
    KEYS_LISTED,
    Direction,
    DukptExportFlow,
    DukptExportStep,
    DukptTestFlow,
    DukptTestStep,
    EcdhFlow,
    EcdhStep,
    ExchangeData,
    ExportTr31Flow,
    ImportTr31Flow,
    KsnSource,
    LegacyImportFlow,
    LegacyStep,
    LoadedFile,
    Tr31ExportStep,
    Tr31ImportStep,
    Tr34Flow,
    Tr34Step,
    key_line,
    read_file,
)
from workstation.flows.wizards import FieldErrors, StepInfo
from workstation.services.app import WorkstationServices
from workstation.services.interchange import (
    MAX_DUKPT_DEVICES,
    DukptExport,
    DukptTestKeys,
    ExportedKey,
    ImportedKey,
    KeyBlockInfo,
    consecutive_ksns,
)
from workstation.services.ports import KeyQuery
from workstation.services.session import Session

from . import file_choice
from .errors import describe, show_error
from .runner import JobControl
from .state import AppState
from .wizards import (
    ERROR_STYLE,
    GOOD_STYLE,
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
    "DukptExportWizard",
    "DukptTestWizard",
    "EcdhWizard",
    "ExportTr31Wizard",
    "ImportTr31Wizard",
    "LegacyImportWizard",
    "Tr34Wizard",
    "open_dukpt_export",
    "open_dukpt_test",
    "open_ecdh",
    "open_export_tr31",
    "open_import_tr31",
    "open_legacy_import",
    "open_tr34",
    "read_exchange_data",
]

NEUTRAL_STYLE = ""
WARNING_STYLE = "color: #a40000; font-weight: bold;"
BANNER_STYLE = (
    "color: white; background: #a40000; font-weight: bold; padding: 8px; border-radius: 3px;"
)
MAX_KSN_FILE = 16 << 20  # 200,000 KSNs with comments fit well within this
SETTINGS_FOLDER = "exchanges/folder"


def _opened(wizard: QWizard) -> QWizard:
    wizard.open()
    return wizard


def open_export_tr31(state: AppState, parent: QWidget | None) -> QWizard:
    """Export a key as a TR-31 key block (opened, window-modal to ``parent``)."""
    return _opened(ExportTr31Wizard(state, parent))


def open_import_tr31(state: AppState, parent: QWidget | None) -> QWizard:
    """Import a TR-31 key block received from a partner."""
    return _opened(ImportTr31Wizard(state, parent))


def open_tr34(state: AppState, parent: QWidget | None) -> QWizard:
    """Receive or send a key by TR-34."""
    return _opened(Tr34Wizard(state, parent))


def open_ecdh(state: AppState, parent: QWidget | None) -> QWizard:
    """Send or receive a key under an ECDH-derived KEK."""
    return _opened(EcdhWizard(state, parent))


def open_legacy_import(state: AppState, parent: QWidget | None) -> QWizard:
    """Import a key encrypted under a zone master key without a key block."""
    return _opened(LegacyImportWizard(state, parent))


def open_dukpt_export(state: AppState, parent: QWidget | None) -> QWizard:
    """Export the DUKPT initial keys of a list of devices."""
    return _opened(DukptExportWizard(state, parent))


def open_dukpt_test(state: AppState, parent: QWidget | None) -> QWizard:
    """Derive a transaction's keys of a TEST base derivation key."""
    return _opened(DukptTestWizard(state, parent))


def read_exchange_data(services: WorkstationServices, session: Session) -> ExchangeData:
    """Everything a wizard chooses from, in one read (run it on the device thread)."""
    keys, total = services.keys.query(
        session,
        KeyQuery(states=(KeyState.PRE_ACTIVATION, KeyState.ACTIVE), limit=KEYS_LISTED),
    )
    return ExchangeData(
        partners=tuple(services.interchange.partners(session)),
        keys=tuple(keys),
        templates=tuple(services.templates.list(session)),
        identity=services.interchange.exchange_identity(session),
        truncated=total > len(keys),
    )


# --- small widgets -------------------------------------------------------------------------


def _mono(widget: QWidget, scale: float = 1.0) -> None:
    font = QFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    if scale != 1.0:
        font.setPointSizeF(max(widget.font().pointSizeF(), 9.0) * scale)
    widget.setFont(font)


class _Choice(QComboBox):
    """A list to choose from: each item's text for people, its data for the flow."""

    def __init__(self, name: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(36)
        self.setMaxVisibleItems(20)

    def set_items(
        self, items: Iterable[tuple[str, Any]], placeholder: str | None = "Choose…"
    ) -> None:
        chosen = self.value()
        with QSignalBlocker(self):
            self.clear()
            if placeholder is not None:
                self.addItem(placeholder, None)
            for text, data in items:
                self.addItem(text, data)
            index = self.findData(chosen) if chosen is not None else -1
            self.setCurrentIndex(max(index, 0))
        self.currentIndexChanged.emit(self.currentIndex())

    def set_keys(self, keys: Iterable[ManagedKey]) -> None:
        self.set_items((key_line(k), k.label) for k in keys)

    def value(self) -> Any:
        return self.currentData()

    def choose(self, data: Any) -> bool:
        index = self.findData(data)
        if index < 0:
            return False
        self.setCurrentIndex(index)
        return True


class _FileField(QWidget):
    """A file the person loads: its name, and buttons to choose or forget it."""

    chosen = Signal(object)  # LoadedFile | None

    def __init__(
        self, name: str, what: str, wizard: _ExchangeWizard, parent: QWidget, *, optional: bool
    ) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.what = what
        self.w = wizard
        self.file: LoadedFile | None = None
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.button = QPushButton("Choose…", self)
        self.button.setObjectName(f"{name}Choose")
        self.button.clicked.connect(self.ask)
        self.path = QLabel("none chosen", self)
        self.path.setObjectName(f"{name}Path")
        self.path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path.setWordWrap(True)
        row.addWidget(self.button)
        row.addWidget(self.path, 1)
        self.forget = QPushButton("Clear", self)
        self.forget.setObjectName(f"{name}Clear")
        self.forget.clicked.connect(lambda: self.set_file(None))
        self.forget.setVisible(optional)
        self.forget.setEnabled(False)
        row.addWidget(self.forget)
        self.error = ""

    def ask(self) -> None:
        path = self.w.ask_open(self, f"Choose the {self.what}")
        if path is not None:
            self.load(path)

    def load(self, path: Path) -> None:
        """Read ``path`` (small files: certificates, tokens, key blocks)."""
        self.w.remember_folder(path)
        try:
            loaded = read_file(path, self.what)
        except BadInput as e:
            self.error = e.user_message()
            self.set_file(None)
            return
        self.error = ""
        self.set_file(loaded)

    def set_file(self, loaded: LoadedFile | None) -> None:
        self.file = loaded
        self.path.setText(loaded.name if loaded else "none chosen")
        self.forget.setEnabled(loaded is not None)
        self.chosen.emit(loaded)


def _swap(pairs: Iterable[tuple[Any, str]]) -> list[tuple[str, Any]]:
    """(code, text) pairs of a flow as (text, code) items of a list."""
    return [(text, code) for code, text in pairs]


def _rows_box(title: str, parent: QWidget) -> tuple[QGroupBox, Any]:
    box = QGroupBox(title, parent)
    form = _form()
    box.setLayout(form)
    return box, form


def _kcv_edit(name: str, parent: QWidget) -> QLineEdit:
    edit = QLineEdit(parent)
    edit.setObjectName(name)
    edit.setPlaceholderText("e.g. 0A1B2C")
    edit.setToolTip("The check value on the partner's key transfer form, not from the file.")
    edit.setMaxLength(48)
    edit.setMaximumWidth(360)
    _mono(edit, 1.2)
    return edit


def _label_edit(parent: QWidget) -> QLineEdit:
    edit = QLineEdit(parent)
    edit.setObjectName("keyLabel")
    edit.setClearButtonEnabled(True)
    edit.setPlaceholderText("empty: the template's label pattern names the key")
    return edit


# --- the wizard base -----------------------------------------------------------------------


class _ExchangeWizard(_FlowWizard):
    """An exchange wizard: reads what it chooses from once, runs the exchange under its
    quorum, and saves what the person asks to save.

    Each wizard says the action whose quorum its exchange takes (``ACTION``, or
    ``action()`` where the direction decides) and defines ``exchange``, the service call
    on its flow (run on the device thread); it registers its pages, then calls ``load``."""

    loaded = Signal()
    flow: Any
    imports = False  # an import changes the inventory
    cancellable = False
    ACTION: Action
    exchange: Callable[[Session, JobControl], Any]

    def __init__(self, state: AppState, parent: QWidget | None) -> None:
        super().__init__(state, parent)
        self.resize(900, 680)
        self.data: ExchangeData | None = None
        self.load_error: str | None = None
        self.result: Any = None
        self.saved: Path | None = None

    def load(self) -> None:
        services = self.state.services

        def work(_: JobControl) -> ExchangeData:
            return read_exchange_data(services, self.state.ensure_session())

        def done(data: ExchangeData) -> None:
            self.data = data
            self.load_error = None
            self.flow.load(data)
            self.loaded.emit()

        def failed(exc: BaseException) -> None:
            self.load_error = describe(exc)[1]
            self.loaded.emit()

        self.call(work, done, failed, title="read the partners and keys")

    # running

    def action(self) -> Action:
        return self.ACTION

    def work_title(self) -> str:
        return self.windowTitle()

    def start(self) -> None:
        """The exchange under its quorum (the commit button of the last input page)."""

        def work(control: JobControl) -> Any:
            return self.exchange(self.state.ensure_session(), control)

        self.run_action(
            action=self.action(),
            title=self.work_title(),
            work=work,
            on_done=self.finish,
            template=self.flow.quorum_template,
            cancellable=self.cancellable,
        )

    def finish(self, result: Any) -> None:
        self.result = result
        if self.imports or isinstance(result, ImportedKey):
            self.state.data_changed.emit("keys")
        self.state.data_changed.emit("exchanges")
        self.flow.record_result(result)
        self.next()

    # files

    def folder(self) -> str:
        folder = self.state.settings.value(SETTINGS_FOLDER, "")
        return folder if isinstance(folder, str) and folder else str(Path.home())

    def remember_folder(self, path: Path) -> None:
        self.state.settings.setValue(SETTINGS_FOLDER, str(path.parent))

    def ask_open(self, parent: QWidget, title: str, filters: str = "All files (*)") -> Path | None:
        """The file the person chooses to read, starting in the last folder used."""
        return file_choice.open_file(parent, title, self.folder(), filters)

    def ask_save(self, parent: QWidget, title: str, suggested: str) -> Path | None:
        """The new file the person chooses to write (the dialog does not ask about
        replacing a file: writing refuses an existing one); its folder is remembered."""
        path = file_choice.save_file(
            parent,
            title,
            str(Path(self.folder()) / suggested),
            "All files (*)",
            kind=MediaExport.KEY_EXCHANGE,
            confirm_overwrite=False,
        )
        if path is None:
            return None
        self.remember_folder(path)
        return path

    def save(
        self,
        data: bytes,
        suggested: str,
        what: str,
        on_saved: Callable[[Path], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Ask for a new file and write ``data`` to it, whole or not at all (on the device
        thread: a DUKPT file may be large); an existing file is refused, never replaced."""
        path = self.ask_save(self, f"Save the {what}", suggested)
        if path is None:
            return

        def work(_: JobControl) -> Path:
            return write_new(str(path), data)

        def failed(exc: BaseException) -> None:
            if on_error is not None:
                on_error(exc)
            show_error(self, exc)

        self.call(work, on_saved, failed, title=f"save the {what}")

    # what the result page shows besides the flow's rows (nothing, unless a wizard says)

    def result_block(self) -> str:
        """A key block to show, selectable."""
        return ""

    def result_table(self) -> tuple[Sequence[str], list[tuple[str, ...]]]:
        """(headers, rows) of a table under the facts."""
        return (), []

    def payload(self) -> tuple[bytes, str, str] | None:
        """(data, suggested file name, what it is) of the file "Save…" writes."""
        return None

    def banner_text(self) -> str:
        """A banner above the result (the test tool's TEST KEY)."""
        return ""


class _TwoWayWizard(_ExchangeWizard):
    """A wizard that receives or sends a key (TR-34, ECDH): the quorum is the chosen
    direction's, and the review's button says which it does."""

    REVIEW_PAGE: int
    review_page: _ReviewPage
    flow: Tr34Flow | EcdhFlow

    def __init__(self, state: AppState, parent: QWidget | None) -> None:
        super().__init__(state, parent)
        self.currentIdChanged.connect(self._page_changed)

    def action(self) -> Action:
        return self.flow.action

    def _page_changed(self, page_id: int) -> None:
        if page_id == self.REVIEW_PAGE:
            sending = self.flow.direction is Direction.EXPORT
            self.review_page.setButtonText(
                QWizard.WizardButton.CommitButton, "&Send" if sending else "&Import"
            )


# --- shared pages --------------------------------------------------------------------------

W = TypeVar("W", bound=QWidget)


class _ExchangePage(_FlowPage):
    """A page of an exchange wizard, titled by its flow step."""

    def __init__(self, wizard: _ExchangeWizard, info: StepInfo, name: str) -> None:
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName(name)
        self.w = wizard

    def add_field(self, form: QFormLayout, label: str, widget: W, field: str) -> W:
        """``widget`` on a row of ``form``, with the error of ``field`` beneath it."""
        form.addRow(label, widget)
        self.add_error(field, form)
        return widget

    def accept_step(self, step: Any, errors: FieldErrors, store: Callable[[], None]) -> bool:
        """A page's input, checked by the flow's validator: the errors shown next to their
        fields, or the flow taken back to ``step``, the input stored and the flow moved
        on (``validatePage``'s answer)."""
        if not self.show_errors(errors):
            return False
        flow = self.w.flow
        flow.back_to(step)
        store()
        flow.advance()
        return True


def _exportability_field(
    page: _ExchangePage, form: QFormLayout, key: _Choice, flow: Any, parent: QWidget | None = None
) -> _Choice:
    """What the block says of exporting the key, offered anew for each key chosen in
    ``key``: the key's own exportability or a narrower one (``flow.exportabilities``)."""
    choice = _Choice("exportabilityChoice", parent or page)
    page.add_field(form, "Exportability:", choice, "exportability")
    key.currentIndexChanged.connect(
        lambda *_: choice.set_items(_swap(flow.exportabilities(key.value())), placeholder=None)
    )
    return choice


class _LoadingPage(_ExchangePage):
    """A page that fills its lists once the wizard's data is read."""

    def __init__(self, wizard: _ExchangeWizard, info: StepInfo, name: str) -> None:
        super().__init__(wizard, info, name)
        self.status = _note("Reading the partners and keys…", self)
        self.status.setObjectName("loadStatus")
        wizard.loaded.connect(self._loaded)

    def _loaded(self) -> None:
        self.completeChanged.emit()  # Next can be pressed once the lists are there
        if self.w.load_error:
            self.status.setStyleSheet(ERROR_STYLE)
            self.status.setText(self.w.load_error)
            self.status.show()
            return
        data = self.w.data
        truncated = data is not None and data.truncated
        self.status.setStyleSheet(NEUTRAL_STYLE)
        self.status.setText(
            f"The first {KEYS_LISTED:,} pre-active and active keys are listed." if truncated else ""
        )
        self.status.setVisible(truncated)
        self.fill()

    def fill(self) -> None:
        """Fill the page's lists from ``self.w.data`` (each page its own)."""

    def isComplete(self) -> bool:
        return self.w.data is not None and super().isComplete()


class _ReviewPage(_ExchangePage):
    """What the exchange does, the quorum it needs, and the button that starts it."""

    def __init__(
        self, wizard: _ExchangeWizard, info: StepInfo, commit: str, note: str = ""
    ) -> None:
        super().__init__(wizard, info, "reviewPage")
        self.commit = commit
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, commit)
        layout = QVBoxLayout(self)
        self.summary = _note("", self)
        self.summary.setObjectName("exchangeSummary")
        layout.addWidget(self.summary)
        box, self.rows = _rows_box("The exchange", self)
        layout.addWidget(box)
        quorum_box, self.quorum = _quorum_box(wizard.state, self)
        layout.addWidget(quorum_box)
        if note:
            layout.addWidget(_note(note, self))
        layout.addWidget(self.general_error)
        layout.addStretch(1)

        def checked(requirement: Any) -> None:
            wizard.flow.set_requirement(requirement)
            fill_form(self.rows, wizard.flow.review_rows(), prefix="review")

        self.quorum.on_checked = checked

    def initializePage(self) -> None:
        flow = self.w.flow
        self.summary.setText(flow.summary())
        fill_form(self.rows, flow.review_rows(), prefix="review")
        self.show_errors({})
        self.quorum.ask(self.w.action(), flow.quorum_template)

    def validatePage(self) -> bool:
        if self.w.result is not None:
            return True
        self.show_errors({})
        self.w.start()
        return False


class _ResultPage(_ExchangePage):
    """The outcome: a summary, warnings in plain sight, the facts, the key block where
    there is one, what to tell the partner, and "Save…" where there is a file to save."""

    def __init__(self, wizard: _ExchangeWizard, info: StepInfo) -> None:
        super().__init__(wizard, info, "resultPage")
        layout = QVBoxLayout(self)
        self.banner = QLabel(self)
        self.banner.setObjectName("resultBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner.hide()
        layout.addWidget(self.banner)
        self.summary = _note("", self)
        self.summary.setObjectName("resultSummary")
        layout.addWidget(self.summary)
        self.warnings = QLabel(self)
        self.warnings.setObjectName("resultWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet(WARNING_STYLE)
        self.warnings.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warnings.hide()
        layout.addWidget(self.warnings)
        self.rows = _form()
        layout.addLayout(self.rows)
        self.block_title = QLabel("Key block (select and copy, or save it):", self)
        layout.addWidget(self.block_title)
        self.block = QPlainTextEdit(self)
        self.block.setObjectName("keyBlockText")
        self.block.setReadOnly(True)
        self.block.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.block.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        _mono(self.block)
        self.block.setMaximumHeight(96)
        layout.addWidget(self.block)
        self.model = RowsModel([], self)
        self.table = _result_table(self.model, "resultTable", self)
        _mono(self.table)
        layout.addWidget(self.table, 1)
        self.reminder = _note("", self)
        self.reminder.setObjectName("resultReminder")
        bold = self.reminder.font()
        bold.setBold(True)
        self.reminder.setFont(bold)
        layout.addWidget(self.reminder)
        save_row = QHBoxLayout()
        self.save_button = QPushButton("&Save…", self)
        self.save_button.setObjectName("saveButton")
        self.save_button.clicked.connect(self.save)
        save_row.addWidget(self.save_button)
        self.saved = QLabel(self)
        self.saved.setObjectName("savedPath")
        self.saved.setWordWrap(True)
        self.saved.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        save_row.addWidget(self.saved, 1)
        layout.addLayout(save_row)
        layout.addStretch(0)

    def initializePage(self) -> None:
        w, flow = self.w, self.w.flow
        banner = w.banner_text()
        self.banner.setText(banner)
        self.banner.setVisible(bool(banner))
        self.summary.setText(flow.result_summary())
        warnings = list(getattr(flow, "warnings", lambda: [])())
        self.warnings.setText("\n".join(f"⚠ {text}" for text in warnings))
        self.warnings.setVisible(bool(warnings))
        fill_form(self.rows, getattr(flow, "result_rows", lambda: [])(), prefix="result")
        block = w.result_block()
        self.block.setPlainText(block)
        self.block_title.setVisible(bool(block))
        self.block.setVisible(bool(block))
        headers, rows = w.result_table()
        self.model.headers = list(headers)
        self.model.set_rows(rows)
        self.table.setVisible(bool(rows))
        reminder = getattr(flow, "reminder", lambda: "")()
        self.reminder.setText(reminder)
        self.reminder.setVisible(bool(reminder))
        payload = w.payload()
        self.save_button.setVisible(payload is not None)
        self.saved.setVisible(payload is not None)
        if payload is not None:
            self.save_button.setText(f"&Save the {payload[2]}…")
            self.saved.setText("Not saved yet: nothing is on disk.")
            self.saved.setStyleSheet(NEUTRAL_STYLE)

    def save(self) -> None:
        payload = self.w.payload()
        if payload is None:
            return
        data, name, what = payload

        def saved(path: Path) -> None:
            self.w.saved = path
            self.saved.setText(f"Saved: {path}")
            self.saved.setStyleSheet(GOOD_STYLE)

        self.w.save(data, name, what, saved)


# --- TR-31 export --------------------------------------------------------------------------


class _Tr31ChoosePage(_LoadingPage):
    def __init__(self, wizard: ExportTr31Wizard) -> None:
        super().__init__(wizard, wizard.flow.info(Tr31ExportStep.CHOOSE), "choosePage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        form = _form()
        self.partner = self.add_field(form, "Partner:", _Choice("partnerChoice", self), "partner")
        self.key = self.add_field(form, "Key to export:", _Choice("keyChoice", self), "key")
        self.kek = self.add_field(form, "Key encryption key:", _Choice("kekChoice", self), "kek")
        self.version = self.add_field(
            form, "TR-31 version:", _Choice("versionChoice", self), "version"
        )
        self.exportability = _exportability_field(self, form, self.key, self.flow)
        layout.addLayout(form)
        layout.addWidget(
            _note(
                "The version defaults to what the KEK binds (D for an AES KEK, B for TDES). "
                "The block carries the check values of the key and of the KEK (KC, KP) and "
                "the time it was made (TS).",
                self,
            )
        )
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        self.kek.currentIndexChanged.connect(self._kek_changed)

    def fill(self) -> None:
        data = self.w.data
        assert data is not None
        self.partner.set_items((n, n) for n in data.partner_names)
        self.key.set_keys(self.flow.exportable_keys())
        self.kek.set_keys(self.flow.keks())

    def _kek_changed(self, *_: Any) -> None:
        kek = self.kek.value()
        default = self.flow.default_version(self.w.data.key(kek) if self.w.data else None)
        self.version.set_items(((t, c) for c, t in self.flow.versions(kek)), placeholder=None)
        if default:
            self.version.choose(default)

    def values(self) -> dict[str, Any]:
        return {
            "partner": self.partner.value(),
            "key": self.key.value(),
            "kek": self.kek.value(),
            "version": self.version.value(),
            "exportability": self.exportability.value(),
        }

    def validatePage(self) -> bool:
        values = self.values()
        return self.accept_step(
            Tr31ExportStep.CHOOSE,
            self.flow.validate_choice(**values),
            lambda: self.flow.choose(**values),
        )


class ExportTr31Wizard(_ExchangeWizard):
    """A key as a TR-31 key block under a KEK shared with the partner."""

    CHOOSE_PAGE, REVIEW_PAGE, RESULT_PAGE = range(3)
    ACTION = Action.EXPORT_KEY

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("exportTr31Wizard")
        self.setWindowTitle("Export a key as a TR-31 key block")
        self.flow: ExportTr31Flow = ExportTr31Flow()
        self.choose_page = _Tr31ChoosePage(self)
        self.review_page = _ReviewPage(self, self.flow.info(Tr31ExportStep.REVIEW), "&Export")
        self.result_page = _ResultPage(self, self.flow.info(Tr31ExportStep.RESULT))
        self.add_pages(self.choose_page, self.review_page, self.result_page)
        self.load()

    def work_title(self) -> str:
        key = self.flow.key.label if self.flow.key else "the key"
        return f"Exporting {key} to {self.flow.partner}"

    def exchange(self, session: Session, control: JobControl) -> ExportedKey:
        return self.flow.export(partial(self.state.services.interchange.export_tr31, session))

    def result_block(self) -> str:
        return self.flow.result.key_block if self.flow.result else ""

    def payload(self) -> tuple[bytes, str, str] | None:
        if self.flow.result is None:
            return None
        return self.flow.file_text(), self.flow.file_name(), "key block"


# --- TR-31 import --------------------------------------------------------------------------


def _block_editor(parent: QWidget) -> QPlainTextEdit:
    edit = QPlainTextEdit(parent)
    edit.setObjectName("keyBlockEdit")
    edit.setPlaceholderText("Paste the key block here, e.g. D0112P0AE00E0000…")
    edit.setTabChangesFocus(True)
    _mono(edit)
    edit.setMaximumHeight(120)
    return edit


class _BlockPage(_ExchangePage):
    """Paste or load the key block; its header is read by the service (no KEK needed)."""

    def __init__(self, wizard: ImportTr31Wizard) -> None:
        super().__init__(wizard, wizard.flow.info(Tr31ImportStep.BLOCK), "blockPage")
        self.reading = False
        layout = QVBoxLayout(self)
        self.edit = _block_editor(self)
        self.edit.textChanged.connect(lambda: self.errors["block"].show_error(None))
        layout.addWidget(self.edit)
        self.add_error("block", layout)
        row = QHBoxLayout()
        self.load_button = QPushButton("&Load from a file…", self)
        self.load_button.setObjectName("loadBlock")
        self.load_button.clicked.connect(self.ask)
        row.addWidget(self.load_button)
        self.source = QLabel(self)
        self.source.setObjectName("blockSource")
        row.addWidget(self.source, 1)
        layout.addLayout(row)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def ask(self) -> None:
        path = self.w.ask_open(
            self, "Load the key block", "Key blocks (*.txt *.tr31);;All files (*)"
        )
        if path is not None:
            self.load(path)

    def load(self, path: Path) -> None:
        self.w.remember_folder(path)
        try:
            text = read_file(path, "key block").data.decode("ascii")
        except BadInput as e:
            self.errors["block"].show_error(e.user_message())
            return
        except UnicodeDecodeError:
            self.errors["block"].show_error(f"{path.name} is not a text file of a key block.")
            return
        self.edit.setPlainText(text.strip())
        self.source.setText(f"Loaded from {path}")

    def validatePage(self) -> bool:
        flow = self.w.flow
        text = self.edit.toPlainText()
        if not self.show_errors(flow.validate_block(text)):
            return False
        if flow.needs_reading(text):
            self._read(text)
            return False
        flow.back_to(Tr31ImportStep.BLOCK)
        flow.advance()
        return True

    def _read(self, text: str) -> None:
        """Ask the service what the header says; go on once it answers."""
        if self.reading:
            return
        self.reading = True
        flow = self.w.flow
        flow.back_to(Tr31ImportStep.BLOCK)
        flow.set_block(text)
        block = flow.block
        services = self.w.state.services

        def work(_: JobControl) -> KeyBlockInfo:
            return services.interchange.describe_key_block(self.w.state.ensure_session(), block)

        def done(info: KeyBlockInfo) -> None:
            self.reading = False
            if flow.block != block:
                return
            flow.set_info(info)
            self.w.next()

        def failed(exc: BaseException) -> None:
            self.reading = False
            self.errors["block"].show_error(describe(exc)[1])

        self.w.call(work, done, failed, title="read the key block's header")


class _HeaderPage(_ExchangePage):
    """The header as the service reads it, and the template the key is recorded under."""

    def __init__(self, wizard: ImportTr31Wizard) -> None:
        super().__init__(wizard, wizard.flow.info(Tr31ImportStep.HEADER), "headerPage")
        layout = QVBoxLayout(self)
        box, self.rows = _rows_box("The key block's header", self)
        layout.addWidget(box)
        form = _form()
        self.template = self.add_field(
            form, "Recorded under template:", _Choice("templateChoice", self), "template"
        )
        layout.addLayout(form)
        self.templates_note = _note("", self)
        self.templates_note.setObjectName("templatesNote")
        layout.addWidget(self.templates_note)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def initializePage(self) -> None:
        flow = self.w.flow
        fill_form(self.rows, flow.header_rows(), prefix="header")
        names = flow.templates
        self.template.set_items(
            ((n, n) for n in names), placeholder="Choose…" if len(names) > 1 else None
        )
        if flow.template:
            self.template.choose(flow.template)
        self.template.setEnabled(len(names) > 1)
        if len(names) == 1:
            self.templates_note.setText(f"The header maps to one template: {names[0]}.")
        elif names:
            self.templates_note.setText(
                f"The header fits {len(names)} templates: choose the one the key belongs to."
            )
        else:
            self.templates_note.setText("")
        self.show_errors(flow.validate_template(flow.template) if not names else {})

    def validatePage(self) -> bool:
        flow = self.w.flow
        name = self.template.value()
        return self.accept_step(
            Tr31ImportStep.HEADER, flow.validate_template(name), lambda: flow.choose_template(name)
        )


class _ReceiveFields:
    """The partner, the sender's check value and an optional label, on a page's form."""

    def __init__(self, page: _ExchangePage, form: QFormLayout, *, partner: bool = True) -> None:
        self.with_partner = partner
        self.partner = _Choice("partnerChoice", page)
        if partner:
            page.add_field(form, "Partner:", self.partner, "partner")
        else:
            self.partner.hide()
        self.kcv = page.add_field(
            form, "The partner's check value:", _kcv_edit("partnerKcv", page), "kcv"
        )
        self.kcv.textChanged.connect(lambda _t: page.errors["kcv"].show_error(None))
        self.label = page.add_field(form, "Key label (optional):", _label_edit(page), "label")

    def fill(self, data: ExchangeData) -> None:
        self.partner.set_items((n, n) for n in data.partner_names)

    def values(self) -> dict[str, Any]:
        """The flow's ``partner`` (where the page asks it), ``kcv`` and ``label``."""
        values: dict[str, Any] = {"kcv": self.kcv.text(), "label": self.label.text()}
        if self.with_partner:
            values["partner"] = self.partner.value()
        return values


class _KekPage(_LoadingPage):
    """The KEK, the partner and the partner's check value; the import starts here."""

    def __init__(self, wizard: ImportTr31Wizard) -> None:
        super().__init__(wizard, wizard.flow.info(Tr31ImportStep.KEK), "kekPage")
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Import")
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        form = _form()
        self.kek = self.add_field(form, "Key encryption key:", _Choice("kekChoice", self), "kek")
        self.receive = _ReceiveFields(self, form)
        layout.addLayout(form)
        box, self.quorum = _quorum_box(wizard.state, self, wizard.flow.set_requirement)
        layout.addWidget(box)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def fill(self) -> None:
        if self.w.data is not None:
            self.receive.fill(self.w.data)
            self.kek.set_keys(self.w.flow.keks())

    def initializePage(self) -> None:
        if self.w.data is not None:
            self.kek.set_keys(self.w.flow.keks())  # the block's version decides
        self.show_errors({})
        self.quorum.ask(Action.IMPORT_KEY, self.w.flow.quorum_template)

    def values(self) -> dict[str, Any]:
        return {"kek": self.kek.value(), **self.receive.values()}

    def validatePage(self) -> bool:
        flow = self.w.flow
        if self.w.result is not None:
            return True
        values = self.values()
        if self.accept_step(
            Tr31ImportStep.KEK, flow.validate_kek(**values), lambda: flow.set_kek(**values)
        ):
            self.w.start()
        return False


class ImportTr31Wizard(_ExchangeWizard):
    """A TR-31 key block from a partner, stored pre-active."""

    BLOCK_PAGE, HEADER_PAGE, KEK_PAGE, RESULT_PAGE = range(4)
    ACTION = Action.IMPORT_KEY
    imports = True

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("importTr31Wizard")
        self.setWindowTitle("Import a key block")
        self.flow: ImportTr31Flow = ImportTr31Flow()
        self.block_page = _BlockPage(self)
        self.header_page = _HeaderPage(self)
        self.kek_page = _KekPage(self)
        self.result_page = _ResultPage(self, self.flow.info(Tr31ImportStep.RESULT))
        self.add_pages(self.block_page, self.header_page, self.kek_page, self.result_page)
        self.load()

    def work_title(self) -> str:
        return f"Importing the key block from {self.flow.receive.partner}"

    def exchange(self, session: Session, control: JobControl) -> ImportedKey:
        return self.flow.run(partial(self.state.services.interchange.import_tr31, session))


# --- TR-34 ---------------------------------------------------------------------------------


class _DirectionPage(_LoadingPage):
    """Import or export (the TR-34 and ECDH wizards)."""

    def __init__(
        self,
        wizard: _TwoWayWizard,
        info: StepInfo,
        texts: tuple[str, str],
        name: str = "directionPage",
    ) -> None:
        super().__init__(wizard, info, name)
        self.layout_ = QVBoxLayout(self)
        self.layout_.addWidget(self.status)
        self.group = QButtonGroup(self)
        self.receive = QRadioButton(texts[0], self)
        self.receive.setObjectName("directionImport")
        self.send = QRadioButton(texts[1], self)
        self.send.setObjectName("directionExport")
        for button in (self.receive, self.send):
            self.group.addButton(button)
            self.layout_.addWidget(button)
        self.add_error("direction", self.layout_)

    def direction(self) -> Direction | None:
        if self.receive.isChecked():
            return Direction.IMPORT
        if self.send.isChecked():
            return Direction.EXPORT
        return None


class _Tr34DirectionPage(_DirectionPage):
    def __init__(self, wizard: Tr34Wizard) -> None:
        super().__init__(
            wizard,
            wizard.flow.info(Tr34Step.DIRECTION),
            (
                "&Receive a key: this workstation is the key receiving device (KRD)",
                "&Send a key: this workstation is the key distribution host (KDH)",
            ),
        )
        self.layout_.addWidget(
            _note(
                "Receiving needs the workstation's tr34-krd certificate, sending its tr34-kdh "
                "certificate, each published to the partner first (Exchanges page, Publish "
                "certificate…).",
                self,
            )
        )
        self.layout_.addWidget(self.general_error)
        self.layout_.addStretch(1)

    def validatePage(self) -> bool:
        flow = self.w.flow
        direction = self.direction()
        return self.accept_step(
            Tr34Step.DIRECTION,
            flow.validate_direction(direction),
            lambda: flow.choose_direction(direction),
        )

    def nextId(self) -> int:
        if self.direction() is Direction.EXPORT:
            return Tr34Wizard.SEND_PAGE
        return Tr34Wizard.RECEIVE_PAGE


class _Tr34ReceivePage(_LoadingPage):
    def __init__(self, wizard: Tr34Wizard) -> None:
        super().__init__(wizard, wizard.flow.info(Tr34Step.RECEIVE), "receivePage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        form = _form()
        self.token = self.add_field(
            form,
            "Key token:",
            _FileField("tokenFile", "TR-34 key token", wizard, self, optional=False),
            "token",
        )
        self.token.chosen.connect(self._token_chosen)
        self.token_box, self.token_rows = _rows_box("What the token says (not yet verified)", self)
        self.token_box.hide()
        form.addRow(self.token_box)
        self.kdh = self.add_field(
            form,
            "KDH certificate (if not in it):",
            _FileField("kdhCertificate", "KDH certificate", wizard, self, optional=True),
            "kdh_certificate",
        )
        self.kdh.chosen.connect(self._kdh_chosen)
        self.kdh.setToolTip("Only for a token that does not carry it (TR-34-2012 allows that).")
        self.receive = _ReceiveFields(self, form)
        self.template = self.add_field(
            form, "Recorded under template:", _Choice("templateChoice", self), "template"
        )
        layout.addLayout(form)
        box = QGroupBox("Two-pass", self)
        two_pass = QVBoxLayout(box)
        self.two_pass = QCheckBox(
            "The token answers a random number token this workstation sent", box
        )
        self.two_pass.setObjectName("twoPass")
        two_pass.addWidget(self.two_pass)
        nonce_row = QHBoxLayout()
        self.make_nonce = QPushButton("&Make random number token…", box)
        self.make_nonce.setObjectName("makeNonce")
        self.make_nonce.clicked.connect(self.make)
        self.load_nonce = QPushButton("L&oad random number token…", box)
        self.load_nonce.setObjectName("loadNonce")
        self.load_nonce.clicked.connect(self.ask_nonce)
        nonce_row.addWidget(self.make_nonce)
        nonce_row.addWidget(self.load_nonce)
        nonce_row.addStretch(1)
        two_pass.addLayout(nonce_row)
        self.nonce = _note("", box)
        self.nonce.setObjectName("nonceStatus")
        two_pass.addWidget(self.nonce)
        self.add_error("nonce", two_pass)
        layout.addWidget(box)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        self.two_pass.toggled.connect(self._two_pass)
        self._two_pass(False)

    def fill(self) -> None:
        if self.w.data is not None:
            self.receive.fill(self.w.data)
            self._templates()

    def _templates(self) -> None:
        names = self.flow.templates
        self.template.set_items(((n, n) for n in names), placeholder="Choose…")
        if len(names) == 1:
            self.template.choose(names[0])

    def _token_chosen(self, loaded: LoadedFile | None) -> None:
        errors: FieldErrors = {}
        if loaded is not None:
            errors = self.flow.set_token(loaded)
        elif self.token.error:
            errors = {"token": self.token.error}
        self.errors["token"].show_error(errors.get("token"))
        rows = self.flow.token_rows() if loaded is not None and not errors else []
        fill_form(self.token_rows, rows, prefix="token")
        self.token_box.setVisible(bool(rows))
        if rows:
            self.two_pass.setChecked(self.flow.two_pass)
            self._templates()

    def _kdh_chosen(self, loaded: LoadedFile | None) -> None:
        errors = self.flow.set_kdh_certificate(loaded)
        if loaded is None and self.kdh.error:
            errors = {"kdh_certificate": self.kdh.error}
        self.errors["kdh_certificate"].show_error(errors.get("kdh_certificate"))

    def _two_pass(self, on: bool) -> None:
        for button in (self.make_nonce, self.load_nonce):
            button.setEnabled(on)
        nonce = self.flow.nonce_token
        if not on:
            text = ""
        elif nonce is not None:
            text = f"Random number token: {nonce.name}"
        else:
            text = (
                "Make one for the partner (it is saved to a file you send them), or load the "
                "one you sent."
            )
        self.nonce.setText(text)
        self.nonce.setVisible(bool(text))

    def make(self) -> None:
        """A random number token for the partner: the file is chosen first, then the
        service makes the token (and remembers its nonce) and it is written there, in one
        job; a token is never made that could not be saved."""
        partner = self.receive.partner.value()
        if not partner:
            self.errors["partner"].show_error("Choose the partner first: the token is for them.")
            return
        path = self.w.ask_save(
            self, "Save the random number token", self.flow.nonce_file_name(partner)
        )
        if path is None:
            return
        if path.exists():
            self.errors["nonce"].show_error(
                f"{path} exists; choose a new file name (nothing is overwritten)."
            )
            return
        services = self.w.state.services

        def work(_: JobControl) -> LoadedFile:
            token = services.interchange.tr34_nonce(self.w.state.ensure_session(), partner)
            return LoadedFile(str(write_new(str(path), token)), token)

        def made(saved: LoadedFile) -> None:
            self.flow.set_nonce_token(saved)
            self.nonce.setText(
                f"Random number token saved to {saved.name}: send it to {partner}; their "
                "token must answer it."
            )
            self.nonce.setStyleSheet(GOOD_STYLE)
            self.errors["nonce"].show_error(None)

        self.w.call(work, made, title="make a random number token")

    def ask_nonce(self) -> None:
        path = self.w.ask_open(self, "Load the random number token")
        if path is not None:
            self.load_nonce_file(path)

    def load_nonce_file(self, path: Path) -> None:
        try:
            loaded = read_file(path, "random number token")
        except BadInput as e:
            self.errors["nonce"].show_error(e.user_message())
            return
        errors = self.flow.set_nonce_token(loaded)
        self.errors["nonce"].show_error(errors.get("nonce"))
        if not errors:
            self.nonce.setText(f"Random number token: {loaded.name}")
            self.nonce.setStyleSheet(NEUTRAL_STYLE)

    def values(self) -> dict[str, Any]:
        return {"template": self.template.value(), **self.receive.values()}

    def validatePage(self) -> bool:
        flow = self.flow
        flow.two_pass = self.two_pass.isChecked()
        values = self.values()
        return self.accept_step(
            Tr34Step.RECEIVE, flow.validate_receive(**values), lambda: flow.set_receive(**values)
        )

    def nextId(self) -> int:
        return Tr34Wizard.REVIEW_PAGE


class _Tr34SendPage(_LoadingPage):
    def __init__(self, wizard: Tr34Wizard) -> None:
        super().__init__(wizard, wizard.flow.info(Tr34Step.SEND), "sendPage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        form = _form()
        self.key = self.add_field(form, "Key to send:", _Choice("keyChoice", self), "key")
        self.partner = self.add_field(
            form, "Partner (with a KRD certificate):", _Choice("partnerChoice", self), "partner"
        )
        self.edition = _Choice("editionChoice", self)
        self.edition.set_items(((f"{e} — {t}", e) for e, t in EDITIONS.items()), placeholder=None)
        self.add_field(form, "TR-34 edition:", self.edition, "edition")
        self.nonce = self.add_field(
            form,
            "Partner's random number token (two-pass):",
            _FileField("partnerNonce", "random number token", wizard, self, optional=True),
            "partner_nonce",
        )
        self.nonce.chosen.connect(self._nonce_chosen)
        self.exportability = _exportability_field(self, form, self.key, self.flow)
        layout.addLayout(form)
        layout.addWidget(
            _note(
                "Leave the random number token empty for one-pass; for two-pass, load the "
                "token the partner's device sent.",
                self,
            )
        )
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def fill(self) -> None:
        self.key.set_keys(self.flow.exportable_keys())
        self.partner.set_items((n, n) for n in self.flow.partners_with_krd())

    def _nonce_chosen(self, loaded: LoadedFile | None) -> None:
        errors = self.flow.set_partner_nonce(loaded)
        if loaded is None and self.nonce.error:
            errors = {"partner_nonce": self.nonce.error}
        self.errors["partner_nonce"].show_error(errors.get("partner_nonce"))

    def values(self) -> dict[str, Any]:
        return {
            "key": self.key.value(),
            "partner": self.partner.value(),
            "edition": self.edition.value(),
            "exportability": self.exportability.value(),
        }

    def validatePage(self) -> bool:
        values = self.values()
        errors = self.flow.validate_send(**values)
        if self.nonce.error:
            errors["partner_nonce"] = self.nonce.error
        return self.accept_step(Tr34Step.SEND, errors, lambda: self.flow.set_send(**values))

    def nextId(self) -> int:
        return Tr34Wizard.REVIEW_PAGE


class Tr34Wizard(_TwoWayWizard):
    """Receive a key as KRD, or send one as KDH, by TR-34."""

    DIRECTION_PAGE, RECEIVE_PAGE, SEND_PAGE, REVIEW_PAGE, RESULT_PAGE = range(5)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("tr34Wizard")
        self.setWindowTitle("TR-34 key transport")
        self.flow: Tr34Flow = Tr34Flow()
        self.direction_page = _Tr34DirectionPage(self)
        self.receive_page = _Tr34ReceivePage(self)
        self.send_page = _Tr34SendPage(self)
        self.review_page = _ReviewPage(self, self.flow.info(Tr34Step.REVIEW), "&Start")
        self.result_page = _ResultPage(self, self.flow.info(Tr34Step.RESULT))
        self.add_pages(
            self.direction_page,
            self.receive_page,
            self.send_page,
            self.review_page,
            self.result_page,
        )
        self.load()

    def work_title(self) -> str:
        if self.flow.direction is Direction.EXPORT:
            return f"Sending {self.flow.key.label if self.flow.key else 'the key'} by TR-34"
        return "Receiving the TR-34 key token"

    def exchange(self, session: Session, control: JobControl) -> ImportedKey | ExportedKey:
        interchange = self.state.services.interchange
        if self.flow.direction is Direction.EXPORT:
            return self.flow.run_export(partial(interchange.export_tr34, session))
        return self.flow.run_import(partial(interchange.import_tr34, session))

    def payload(self) -> tuple[bytes, str, str] | None:
        if self.flow.exported is None:
            return None
        return self.flow.file_data(), self.flow.file_name(), "key token"


# --- ECDH ----------------------------------------------------------------------------------


class _EcdhPartnerPage(_DirectionPage):
    def __init__(self, wizard: EcdhWizard) -> None:
        super().__init__(
            wizard,
            wizard.flow.info(EcdhStep.PARTNER),
            ("&Receive a key from the partner", "&Send a key to the partner"),
            "ecdhPartnerPage",
        )
        self.flow = wizard.flow
        form = _form()
        self.partner = self.add_field(form, "Partner:", _Choice("partnerChoice", self), "partner")
        self.certificate = self.add_field(
            form,
            "Partner's ECDH certificate:",
            _FileField("partnerCertificate", "certificate", wizard, self, optional=False),
            "certificate",
        )
        self.certificate.chosen.connect(self._chosen)
        self.layout_.addLayout(form)
        # Under the form, not in it: a wrapped label whose text changes keeps its height
        # right in a box layout.
        self.described = _note("", self)
        self.described.setObjectName("certificateText")
        self.described.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.layout_.addWidget(self.described)
        self.layout_.addWidget(self.general_error)
        self.layout_.addStretch(1)

    def fill(self) -> None:
        if self.w.data is not None:
            self.partner.set_items((n, n) for n in self.w.data.partner_names)

    def _chosen(self, loaded: LoadedFile | None) -> None:
        errors = self.flow.set_certificate(loaded)
        if loaded is None and self.certificate.error:
            errors = {"certificate": self.certificate.error}
        self.errors["certificate"].show_error(errors.get("certificate"))
        self.described.setText(self.flow.certificate_text())

    def validatePage(self) -> bool:
        direction, partner = self.direction(), self.partner.value()
        return self.accept_step(
            EcdhStep.PARTNER,
            self.flow.validate_partner(direction, partner),
            lambda: self.flow.set_partner(direction, partner),
        )


class _AgreementPage(_ExchangePage):
    def __init__(self, wizard: EcdhWizard) -> None:
        super().__init__(wizard, wizard.flow.info(EcdhStep.AGREEMENT), "agreementPage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        form = _form()
        self.curve = _Choice("curveChoice", self)
        self.curve.set_items(((c, c) for c in CURVES), placeholder=None)
        self.add_field(form, "Curve:", self.curve, "curve")
        self.kdf = _Choice("kdfChoice", self)
        self.kdf.set_items(((t, k) for k, t in KDFS.items()), placeholder=None)
        self.add_field(form, "Key derivation function:", self.kdf, "kdf")
        self.hash = _Choice("hashChoice", self)
        self.hash.set_items(((h, h) for h in HASHES), placeholder=None)
        self.hash.choose("SHA-512")
        self.add_field(form, "Hash:", self.hash, "hash")
        self.shared_info = QLineEdit(self)
        self.shared_info.setObjectName("sharedInfo")
        self.shared_info.setPlaceholderText("hex, as agreed with the partner, e.g. 0011AABB…")
        _mono(self.shared_info)
        self.shared_info.textChanged.connect(self._typed)
        field = QVBoxLayout()
        field.setSpacing(4)
        field.addWidget(self.shared_info)
        self.shared_status = QLabel(self)
        self.shared_status.setObjectName("sharedInfoStatus")
        self.shared_status.setWordWrap(True)
        field.addWidget(self.shared_status)
        self.add_error("shared_info", field)
        form.addRow("Shared information:", field)
        self.kek_algorithm = _Choice("kekAlgorithmChoice", self)
        self.kek_algorithm.set_items(((a, a) for a in KEK_ALGORITHMS), placeholder=None)
        self.kek_algorithm.choose("AES-256")
        self.add_field(form, "KEK algorithm:", self.kek_algorithm, "kek_algorithm")
        layout.addLayout(form)
        layout.addWidget(
            _note(
                "The same key pairs and the same shared information always give the same KEK: "
                "agree new shared information (a nonce, a transaction number) for every "
                "exchange (NIST SP 800-56C section 5.8).",
                self,
            )
        )
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        self._typed("")

    def initializePage(self) -> None:
        if self.flow.certificate_curve:
            self.curve.choose(self.flow.certificate_curve)
        self.show_errors({})
        self._typed(self.shared_info.text())

    def _typed(self, text: str) -> None:
        ok, line = self.flow.shared_info_status(text)
        self.shared_status.setText(line)
        self.shared_status.setStyleSheet(GOOD_STYLE if ok else (ERROR_STYLE if text else ""))
        self.errors["shared_info"].show_error(None)

    def values(self) -> dict[str, Any]:
        return {
            "curve": self.curve.value(),
            "kdf": self.kdf.value(),
            "hash_name": self.hash.value(),
            "shared_info": self.shared_info.text(),
            "kek_algorithm": self.kek_algorithm.value(),
        }

    def validatePage(self) -> bool:
        values = self.values()
        return self.accept_step(
            EcdhStep.AGREEMENT,
            self.flow.validate_agreement(**values),
            lambda: self.flow.set_agreement(**values),
        )


class _EcdhKeyPage(_LoadingPage):
    """Export: the key; import: the key block, the template, the partner's check value."""

    def __init__(self, wizard: EcdhWizard) -> None:
        super().__init__(wizard, wizard.flow.info(EcdhStep.KEY), "ecdhKeyPage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        self.stack = QStackedWidget(self)
        send = QWidget(self.stack)
        send_form = _form()
        send.setLayout(send_form)
        self.key = self.add_field(send_form, "Key to send:", _Choice("keyChoice", send), "key")
        self.exportability = _exportability_field(self, send_form, self.key, self.flow, send)
        receive = QWidget(self.stack)
        receive_layout = QVBoxLayout(receive)
        receive_layout.setContentsMargins(0, 0, 0, 0)
        self.block = _block_editor(receive)
        receive_layout.addWidget(QLabel("The key block the partner sent:", receive))
        receive_layout.addWidget(self.block)
        self.add_error("block", receive_layout)
        receive_form = _form()
        self.template = self.add_field(
            receive_form, "Template (optional):", _Choice("templateChoice", receive), "template"
        )
        self.receive = _ReceiveFields(self, receive_form, partner=False)
        receive_layout.addLayout(receive_form)
        self.stack.addWidget(send)
        self.stack.addWidget(receive)
        layout.addWidget(self.stack)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def fill(self) -> None:
        self.key.set_keys(self.flow.exportable_keys())
        self.template.set_items(
            ((n, n) for n in self.flow.templates), placeholder="the one the header maps to"
        )

    def initializePage(self) -> None:
        self.stack.setCurrentIndex(0 if self.flow.direction is Direction.EXPORT else 1)
        self.show_errors({})

    def values(self) -> dict[str, Any]:
        if self.flow.direction is Direction.EXPORT:
            return {"key": self.key.value(), "exportability": self.exportability.value()}
        return {
            "block": self.block.toPlainText(),
            "template": self.template.value(),
            **self.receive.values(),
        }

    def validatePage(self) -> bool:
        values = self.values()
        return self.accept_step(
            EcdhStep.KEY, self.flow.validate_key(**values), lambda: self.flow.set_key(**values)
        )


class EcdhWizard(_TwoWayWizard):
    """A key sent or received as a TR-31 key block under an ECDH-derived KEK."""

    PARTNER_PAGE, AGREEMENT_PAGE, KEY_PAGE, REVIEW_PAGE, RESULT_PAGE = range(5)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("ecdhWizard")
        self.setWindowTitle("ECDH key agreement")
        self.flow: EcdhFlow = EcdhFlow()
        self.partner_page = _EcdhPartnerPage(self)
        self.agreement_page = _AgreementPage(self)
        self.key_page = _EcdhKeyPage(self)
        self.review_page = _ReviewPage(self, self.flow.info(EcdhStep.REVIEW), "&Start")
        self.result_page = _ResultPage(self, self.flow.info(EcdhStep.RESULT))
        self.add_pages(
            self.partner_page,
            self.agreement_page,
            self.key_page,
            self.review_page,
            self.result_page,
        )
        self.load()

    def work_title(self) -> str:
        return f"ECDH with {self.flow.partner}"

    def exchange(self, session: Session, control: JobControl) -> ImportedKey | ExportedKey:
        interchange = self.state.services.interchange
        if self.flow.direction is Direction.EXPORT:
            return self.flow.run_export(partial(interchange.export_ecdh, session))
        return self.flow.run_import(partial(interchange.import_ecdh, session))

    def result_block(self) -> str:
        return self.flow.exported.key_block if self.flow.exported else ""

    def payload(self) -> tuple[bytes, str, str] | None:
        if self.flow.exported is None:
            return None
        return self.flow.file_text(), self.flow.file_name(), "key block"


# --- legacy import -------------------------------------------------------------------------


class _LegacyWarningPage(_ExchangePage):
    def __init__(self, wizard: LegacyImportWizard) -> None:
        super().__init__(wizard, wizard.flow.info(LegacyStep.WARNING), "legacyWarningPage")
        layout = QVBoxLayout(self)
        self.warning = QLabel("⚠ " + wizard.flow.warning(), self)
        self.warning.setObjectName("pciWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(BANNER_STYLE)
        layout.addWidget(self.warning)
        layout.addWidget(
            _note(
                "Nothing binds such a key to its usage: its parts can be swapped or replayed, "
                "and a PIN key cannot be told from a data key. Ask the partner to send key "
                "blocks (TR-31) from now on. The key received here is exported only in key "
                "blocks.",
                self,
            )
        )
        self.acknowledged = QCheckBox(
            "I have read this; the partner cannot send a key block for this key.", self
        )
        self.acknowledged.setObjectName("acknowledgeWarning")
        layout.addWidget(self.acknowledged)
        self.add_error("acknowledged", layout)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def validatePage(self) -> bool:
        flow = self.w.flow
        ticked = self.acknowledged.isChecked()
        return self.accept_step(
            LegacyStep.WARNING, flow.validate_warning(ticked), lambda: flow.acknowledge(ticked)
        )


class _LegacyInputPage(_LoadingPage):
    def __init__(self, wizard: LegacyImportWizard) -> None:
        super().__init__(wizard, wizard.flow.info(LegacyStep.INPUT), "legacyInputPage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        form = _form()
        self.encrypted = QLineEdit(self)
        self.encrypted.setObjectName("encryptedKey")
        self.encrypted.setPlaceholderText("hex, e.g. 0123 4567 89AB CDEF …")
        _mono(self.encrypted)
        self.add_field(form, "Encrypted key:", self.encrypted, "encrypted")
        self.zmk = self.add_field(form, "Zone master key:", _Choice("zmkChoice", self), "zmk")
        self.template = self.add_field(
            form, "Recorded under template:", _Choice("templateChoice", self), "template"
        )
        self.receive = _ReceiveFields(self, form)
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def fill(self) -> None:
        if self.w.data is not None:
            self.receive.fill(self.w.data)
        self.zmk.set_keys(self.flow.zmks())
        self.template.set_items((n, n) for n in self.flow.templates)

    def values(self) -> dict[str, Any]:
        return {
            "encrypted": self.encrypted.text(),
            "zmk": self.zmk.value(),
            "template": self.template.value(),
            **self.receive.values(),
        }

    def validatePage(self) -> bool:
        values = self.values()
        return self.accept_step(
            LegacyStep.INPUT,
            self.flow.validate_input(**values),
            lambda: self.flow.set_input(**values),
        )


class LegacyImportWizard(_ExchangeWizard):
    """A key encrypted under a ZMK without a key block: import only, warned before and after."""

    WARNING_PAGE, INPUT_PAGE, REVIEW_PAGE, RESULT_PAGE = range(4)
    ACTION = Action.IMPORT_KEY
    imports = True

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("legacyImportWizard")
        self.setWindowTitle("Import a key without a key block")
        self.flow: LegacyImportFlow = LegacyImportFlow()
        self.warning_page = _LegacyWarningPage(self)
        self.input_page = _LegacyInputPage(self)
        self.review_page = _ReviewPage(self, self.flow.info(LegacyStep.REVIEW), "&Import")
        self.result_page = _ResultPage(self, self.flow.info(LegacyStep.RESULT))
        self.add_pages(self.warning_page, self.input_page, self.review_page, self.result_page)
        self.load()

    def work_title(self) -> str:
        return f"Importing the key from {self.flow.receive.partner}"

    def exchange(self, session: Session, control: JobControl) -> ImportedKey:
        return self.flow.run(partial(self.state.services.interchange.import_legacy, session))


# --- DUKPT initial keys --------------------------------------------------------------------


class _DukptChoosePage(_LoadingPage):
    def __init__(self, wizard: DukptExportWizard) -> None:
        super().__init__(wizard, wizard.flow.info(DukptExportStep.CHOOSE), "dukptChoosePage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        form = _form()
        self.bdk = self.add_field(form, "Base derivation key:", _Choice("bdkChoice", self), "bdk")
        self.kek = self.add_field(form, "Transport KEK:", _Choice("kekChoice", self), "kek")
        self.partner = self.add_field(form, "Partner:", _Choice("partnerChoice", self), "partner")
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def fill(self) -> None:
        if self.w.data is not None:
            self.partner.set_items((n, n) for n in self.w.data.partner_names)
        self.bdk.set_keys(self.flow.bdks())
        self.kek.set_keys(self.flow.keks())

    def values(self) -> dict[str, Any]:
        return {"bdk": self.bdk.value(), "kek": self.kek.value(), "partner": self.partner.value()}

    def validatePage(self) -> bool:
        values = self.values()
        return self.accept_step(
            DukptExportStep.CHOOSE,
            self.flow.validate_choice(**values),
            lambda: self.flow.choose(**values),
        )


class _KsnPage(_ExchangePage):
    def __init__(self, wizard: DukptExportWizard) -> None:
        super().__init__(wizard, wizard.flow.info(DukptExportStep.KSNS), "ksnPage")
        self.flow = wizard.flow
        self.file_text = ""
        self.file_name = ""
        layout = QVBoxLayout(self)
        self.group = QButtonGroup(self)
        self.as_list = QRadioButton("&Paste a list (one KSN a line)", self)
        self.as_list.setObjectName("ksnList")
        self.as_file = QRadioButton("Load a &file (one KSN a line; # starts a comment)", self)
        self.as_file.setObjectName("ksnFile")
        self.as_range = QRadioButton("&First KSN and number of consecutive devices", self)
        self.as_range.setObjectName("ksnRange")
        for button in (self.as_list, self.as_file, self.as_range):
            self.group.addButton(button)
        self.as_list.setChecked(True)
        layout.addWidget(self.as_list)
        self.list = QPlainTextEdit(self)
        self.list.setObjectName("ksnListEdit")
        _mono(self.list)
        self.list.setTabChangesFocus(True)
        self.list.setMaximumHeight(130)
        layout.addWidget(self.list)
        layout.addWidget(self.as_file)
        file_row = QHBoxLayout()
        file_row.setContentsMargins(24, 0, 0, 0)
        self.choose_file = QPushButton("Choose the file…", self)
        self.choose_file.setObjectName("ksnFileChoose")
        self.choose_file.clicked.connect(self.ask)
        self.file_label = QLabel("none chosen", self)
        self.file_label.setObjectName("ksnFilePath")
        self.file_label.setWordWrap(True)
        file_row.addWidget(self.choose_file)
        file_row.addWidget(self.file_label, 1)
        layout.addLayout(file_row)
        layout.addWidget(self.as_range)
        range_row = QHBoxLayout()
        range_row.setContentsMargins(24, 0, 0, 0)
        self.first = QLineEdit(self)
        self.first.setObjectName("firstKsn")
        _mono(self.first)
        self.first.setMinimumWidth(260)
        self.count = QSpinBox(self)
        self.count.setObjectName("deviceCount")
        self.count.setRange(1, MAX_DUKPT_DEVICES)
        self.count.setGroupSeparatorShown(True)
        self.count.setMinimumWidth(110)
        range_row.addWidget(QLabel("First KSN:", self))
        range_row.addWidget(self.first)
        range_row.addSpacing(12)
        range_row.addWidget(QLabel("Devices:", self))
        range_row.addWidget(self.count)
        range_row.addSpacing(12)
        self.descriptor_label = QLabel("KSN descriptor:", self)
        range_row.addWidget(self.descriptor_label)
        self.descriptor = QLineEdit(self)
        self.descriptor.setObjectName("ksnDescriptor")
        self.descriptor.setPlaceholderText("e.g. A05")
        self.descriptor.setMaxLength(3)
        self.descriptor.setMaximumWidth(70)
        self.descriptor.setToolTip(
            "TDES: the lengths of the BDK ID, sub-key ID and device ID in hex digits, as the "
            "terminals' host splits the KSN (payShield style); A05 is BDK ID 10, no sub-key "
            "ID, device ID 5."
        )
        _mono(self.descriptor)
        range_row.addWidget(self.descriptor)
        range_row.addStretch(1)
        layout.addLayout(range_row)
        for field in ("source", "ksns", "first_ksn", "count", "descriptor", "range"):
            self.add_error(field, layout)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        for button in (self.as_list, self.as_file, self.as_range):
            button.toggled.connect(self._toggled)
        self._toggled()

    def initializePage(self) -> None:
        example = self.flow.example_ksn()
        self.list.setPlaceholderText(f"{example}\n…")
        self.first.setPlaceholderText(example)
        tdes = self.flow.needs_descriptor
        self.descriptor_label.setVisible(tdes)
        self.descriptor.setVisible(tdes)
        self.show_errors({})
        self._toggled()

    def _toggled(self, *_: Any) -> None:
        self.list.setEnabled(self.as_list.isChecked())
        self.choose_file.setEnabled(self.as_file.isChecked())
        for widget in (self.first, self.count, self.descriptor):
            widget.setEnabled(self.as_range.isChecked())

    def ask(self) -> None:
        path = self.w.ask_open(self, "Load the KSN list", "Text files (*.txt *.csv);;All files (*)")
        if path is not None:
            self.load(path)

    def load(self, path: Path) -> None:
        self.w.remember_folder(path)
        self.as_file.setChecked(True)
        try:
            data = path.read_bytes()
            if len(data) > MAX_KSN_FILE:
                raise BadInput(f"{path.name} is {len(data):,} bytes; that is no KSN list.")
            self.file_text = data.decode("ascii")
        except OSError as e:
            self.file_text = ""
            self.errors["ksns"].show_error(f"Cannot read the KSN list {path}: {e.strerror}.")
            return
        except (BadInput, UnicodeDecodeError) as e:
            self.file_text = ""
            message = e.user_message() if isinstance(e, BadInput) else f"{path.name} is not text."
            self.errors["ksns"].show_error(message)
            return
        self.file_name = str(path)
        self.file_label.setText(str(path))
        self.errors["ksns"].show_error(None)

    def values(self) -> dict[str, Any]:
        if self.as_range.isChecked():
            return {
                "source": KsnSource.RANGE,
                "first": self.first.text(),
                "count": self.count.value(),
                "descriptor": self.descriptor.text(),
            }
        if self.as_file.isChecked():
            return {"source": KsnSource.FILE, "text": self.file_text}
        return {"source": KsnSource.LIST, "text": self.list.toPlainText()}

    def validatePage(self) -> bool:
        values = self.values()
        source = values.pop("source")
        return self.accept_step(
            DukptExportStep.KSNS,
            self.flow.validate_ksns(source, **values),
            lambda: self.flow.set_ksns(source, where=self.file_name, **values),
        )


class DukptExportWizard(_ExchangeWizard):
    """DUKPT initial keys of a list of devices, with progress and Cancel."""

    CHOOSE_PAGE, KSN_PAGE, REVIEW_PAGE, RESULT_PAGE = range(4)
    ACTION = Action.EXPORT_KEY
    cancellable = True

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("dukptExportWizard")
        self.setWindowTitle("Export DUKPT initial keys")
        self.flow: DukptExportFlow = DukptExportFlow(consecutive=consecutive_ksns)
        self.choose_page = _DukptChoosePage(self)
        self.ksn_page = _KsnPage(self)
        self.review_page = _ReviewPage(
            self,
            self.flow.info(DukptExportStep.REVIEW),
            "&Export",
            "A progress window shows how far the job has come; Cancel stops it and gives out "
            "nothing.",
        )
        self.result_page = _ResultPage(self, self.flow.info(DukptExportStep.RESULT))
        self.add_pages(self.choose_page, self.ksn_page, self.review_page, self.result_page)
        self.load()

    def work_title(self) -> str:
        return f"Deriving the initial keys of {len(self.flow.ksns):,} devices"

    def exchange(self, session: Session, control: JobControl) -> DukptExport:
        return self.flow.run(
            partial(self.state.services.interchange.export_initial_keys, session),
            progress=lambda done, total: control.progress(
                done, total, f"{done:,} of {total:,} initial keys"
            ),
            cancelled=control.cancelled,
        )

    def result_table(self) -> tuple[Sequence[str], list[tuple[str, ...]]]:
        return ("KSN", "Initial key ID", "Check value"), list(self.flow.preview_rows())

    def payload(self) -> tuple[bytes, str, str] | None:
        if self.flow.result is None or self.flow.stopped:
            return None
        return self.flow.file_text(), self.flow.file_name(), "initial keys (CSV)"


# --- DUKPT test keys -----------------------------------------------------------------------


class _DukptTestPage(_LoadingPage):
    def __init__(self, wizard: DukptTestWizard) -> None:
        super().__init__(wizard, wizard.flow.info(DukptTestStep.CHOOSE), "dukptTestPage")
        self.flow = wizard.flow
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Derive")
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        banner = QLabel(
            "TEST KEYS ONLY: the keys derived here are shown in clear. The workstation "
            "refuses a BDK that is not marked as a test key.",
            self,
        )
        banner.setObjectName("testBanner")
        banner.setWordWrap(True)
        banner.setStyleSheet(BANNER_STYLE)
        layout.addWidget(banner)
        form = _form()
        self.bdk = self.add_field(form, "Test BDK:", _Choice("bdkChoice", self), "bdk")
        self.ksn = QLineEdit(self)
        self.ksn.setObjectName("ksnEdit")
        _mono(self.ksn)
        self.ksn.setPlaceholderText("the KSN of the transaction, e.g. 123456789012345600000001")
        self.add_field(form, "KSN:", self.ksn, "ksn")
        layout.addLayout(form)
        box, self.quorum = _quorum_box(wizard.state, self)
        layout.addWidget(box)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        self.bdk.currentIndexChanged.connect(self._bdk_changed)

    def fill(self) -> None:
        self.bdk.set_keys(self.flow.bdks())

    def _bdk_changed(self, *_: Any) -> None:
        key = self.w.data.key(self.bdk.value()) if self.w.data else None
        self.quorum.ask(Action.DERIVE_TEST_KEYS, key.template_id if key else None)

    def initializePage(self) -> None:
        self._bdk_changed()

    def validatePage(self) -> bool:
        flow = self.flow
        if self.w.result is not None:
            return True
        bdk, ksn = self.bdk.value(), self.ksn.text()
        if not self.show_errors(flow.validate_choice(bdk, ksn)):
            return False
        flow.back_to(DukptTestStep.CHOOSE)
        flow.choose(bdk, ksn)
        self.w.start()
        return False


class DukptTestWizard(_ExchangeWizard):
    """The DUKPT test tool: a transaction's keys of a TEST BDK, in a read-only table."""

    CHOOSE_PAGE, RESULT_PAGE = range(2)
    ACTION = Action.DERIVE_TEST_KEYS

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("dukptTestWizard")
        self.setWindowTitle("DUKPT test keys")
        self.flow: DukptTestFlow = DukptTestFlow()
        self.choose_page = _DukptTestPage(self)
        self.result_page = _ResultPage(self, self.flow.info(DukptTestStep.RESULT))
        self.add_pages(self.choose_page, self.result_page)
        self.load()

    def work_title(self) -> str:
        return "Deriving the test keys"

    def exchange(self, session: Session, control: JobControl) -> DukptTestKeys:
        return self.flow.derive(partial(self.state.services.interchange.derive_test_keys, session))

    def banner_text(self) -> str:
        return self.flow.banner() if self.flow.result else ""

    def result_table(self) -> tuple[Sequence[str], list[tuple[str, ...]]]:
        return ("Key", "Value (TEST KEY)"), list(self.flow.key_rows())

    def _on_finished(self, result: int) -> None:
        # The keys shown are test keys, but they leave the screen with the window.
        self.flow.forget()
        self.result_page.model.set_rows([])
        super()._on_finished(result)
