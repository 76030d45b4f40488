"""The audit log as an auditor reads it: search with filters, verify, export.

The table is fed by ``AuditService.search`` on the device thread (the latest entries that
match every filter). "Verify" runs ``AuditService.verify`` (the same code as the standalone
verifier) with a progress dialog and says plainly whether the log verified or which entry
is the first bad one. "Export for auditors…" writes the export file and the public key,
and shows the command an auditor runs to check it on another machine.

Reading the log needs the VIEW_AUDIT quorum (an auditor or a security officer). The page
asks what that needs before it reads by itself, so a custodian's session shows a note
instead of filling the audit log with refused attempts; the buttons go through
``perform``, which lets an auditor log on for the purpose.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QDateTime,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSignalBlocker,
    QStringListModel,
    Qt,
    QTime,
)
from PySide6.QtGui import QFontDatabase, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDateTimeEdit,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from workstation.domain.audit import AuditEntry
from workstation.domain.policy import Action, MediaExport
from workstation.services.logon import Requirement
from workstation.standalone.audit_verify import Report

from . import file_choice
from .actions import perform, read_if_allowed
from .errors import describe
from .runner import JobControl
from .state import AppState
from .status import StatusLine
from .wizards import ERROR_STYLE, GOOD_STYLE

__all__ = ["ACTION_PREFIXES", "AuditPage", "AuditTableModel", "EntryRole"]

EntryRole = int(Qt.ItemDataRole.UserRole) + 1  # the row's AuditEntry
SeqRole = int(Qt.ItemDataRole.UserRole) + 2  # its sequence number (int)

ACTION_PREFIXES = (
    "",
    "key.",
    "person.",
    "card.",
    "group.",
    "template.",
    "policy.",
    "session.",
    "audit.",
)

DEFAULT_LIMIT = 1000


def _time_text(at: str) -> str:
    # Stored as 2026-03-10T14:30:00.123456Z; seconds are enough on screen.
    return at.replace("T", " ").split(".")[0].rstrip("Z")


def _people(body: dict[str, Any]) -> str:
    requester = (body.get("requester") or {}).get("name")
    names = [m.get("name", "?") for m in body.get("members") or []]
    if requester is None:
        return ", ".join(names)
    others = [n for n in names if n != requester]
    return str(requester) + (f" with {', '.join(others)}" if others else "")


def _change(body: dict[str, Any]) -> str:
    before, after = body.get("before"), body.get("after")
    if before is None and after is None:
        text = ""
    elif before is None:
        text = str(after)
    elif after is None:
        text = f"{before} →"
    else:
        text = f"{before} → {after}"
    if body.get("kcv"):
        text += f" (KCV {body['kcv']})" if text else f"KCV {body['kcv']}"
    reason = (body.get("details") or {}).get("reason")
    if reason:
        text += f"; reason: {reason}" if text else f"reason: {reason}"
    return text


class AuditTableModel(QAbstractTableModel):
    """Audit entries with named columns; ``EntryRole`` gives the entry itself."""

    SEQ, TIME, ACTION, OBJECT, CHANGE, PEOPLE = range(6)
    HEADERS = ("Seq", "Time (UTC)", "Action", "Object", "Change", "People")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[AuditEntry] = []

    def set_rows(self, entries: Iterable[AuditEntry]) -> None:
        self.beginResetModel()
        self._rows = list(entries)
        self.endResetModel()

    def entry(self, row: int) -> AuditEntry:
        return self._rows[row]

    def row_of(self, seq: int) -> int | None:
        return next((i for i, e in enumerate(self._rows) if e.seq == seq), None)

    @property
    def entries(self) -> Sequence[AuditEntry]:
        return tuple(self._rows)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        entry = self._rows[index.row()]
        body = entry.body
        column = index.column()
        if role == EntryRole:
            return entry
        if role == SeqRole:
            return entry.seq
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(entry, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.OBJECT:
                return f"{body.get('object_type', '')} id {body.get('object_id', '')}"
            if column == self.CHANGE and body.get("details"):
                return json.dumps(body["details"], indent=1, ensure_ascii=False)
            return self._display(entry, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == self.SEQ:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, entry: AuditEntry, column: int) -> str:
        body = entry.body
        if column == self.SEQ:
            return str(entry.seq)
        if column == self.TIME:
            return _time_text(entry.at)
        if column == self.ACTION:
            return entry.action
        if column == self.OBJECT:
            name = body.get("object_label") or body.get("object_id") or ""
            return f"{body.get('object_type', '')} {name}".strip()
        if column == self.CHANGE:
            return _change(body)
        if column == self.PEOPLE:
            return _people(body)
        return ""

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            if 0 <= section < len(self.HEADERS):
                return self.HEADERS[section]
        return None


def _utc(edit: QDateTimeEdit) -> datetime:
    """The edit's value read as UTC (the page shows and asks times in UTC)."""
    d, t = edit.date(), edit.time()
    return datetime(d.year(), d.month(), d.day(), t.hour(), t.minute(), tzinfo=UTC)


class AuditPage(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("auditPage")
        self.state = state
        self._stale = True
        self._ticket = 0
        self.last_report: Report | None = None
        self.last_export: tuple[int, Path, Path] | None = None

        # filters
        filters = QGroupBox("Find entries", self)
        grid = QGridLayout(filters)
        self.person = QLineEdit(filters)
        self.person.setObjectName("filterPerson")
        self.person.setPlaceholderText("full name, e.g. Cara Mendes")
        self.person.setClearButtonEnabled(True)
        self._names = QCompleter([], self.person)
        self._names.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.person.setCompleter(self._names)
        self.action = QComboBox(filters)
        self.action.setObjectName("filterAction")
        self.action.setEditable(True)
        self.action.addItems(list(ACTION_PREFIXES))
        line = self.action.lineEdit()
        if line is not None:
            line.setPlaceholderText("any action, or a prefix such as key.")
        self.object = QLineEdit(filters)
        self.object.setObjectName("filterObject")
        self.object.setPlaceholderText("an object's id (double-click an entry to use its object)")
        self.object.setClearButtonEnabled(True)
        self.use_since = QCheckBox("From", filters)
        self.use_since.setObjectName("filterUseSince")
        self.since = QDateTimeEdit(filters)
        self.since.setObjectName("filterSince")
        self.use_until = QCheckBox("Until", filters)
        self.use_until.setObjectName("filterUseUntil")
        self.until = QDateTimeEdit(filters)
        self.until.setObjectName("filterUntil")
        now = datetime.now(UTC)
        today = QDate(now.year, now.month, now.day)
        for edit, check, start in (
            (self.since, self.use_since, QDateTime(today.addDays(-7), QTime(0, 0))),
            (self.until, self.use_until, QDateTime(today, QTime(23, 59))),
        ):
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
            edit.setCalendarPopup(True)
            edit.setDateTime(start)
            edit.setEnabled(False)
            check.toggled.connect(edit.setEnabled)
        self.limit = QSpinBox(filters)
        self.limit.setObjectName("filterLimit")
        self.limit.setRange(1, 100_000)
        self.limit.setValue(DEFAULT_LIMIT)
        self.limit.setGroupSeparatorShown(True)
        self.search_button = QPushButton("&Search", filters)
        self.search_button.setObjectName("searchButton")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        self.clear_button = QPushButton("Clear filters", filters)
        self.clear_button.setObjectName("clearFilters")
        self.clear_button.clicked.connect(self.clear_filters)
        for field in (self.person, self.object):
            field.returnPressed.connect(self.search)
        grid.addWidget(QLabel("Person:", filters), 0, 0)
        grid.addWidget(self.person, 0, 1)
        grid.addWidget(QLabel("Action:", filters), 0, 2)
        grid.addWidget(self.action, 0, 3)
        grid.addWidget(QLabel("Object id:", filters), 1, 0)
        grid.addWidget(self.object, 1, 1, 1, 3)
        times = QHBoxLayout()
        times.addWidget(self.use_since)
        times.addWidget(self.since)
        times.addSpacing(12)
        times.addWidget(self.use_until)
        times.addWidget(self.until)
        times.addWidget(QLabel("UTC", filters))
        times.addStretch(1)
        grid.addLayout(times, 2, 0, 1, 4)
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Show at most", filters))
        buttons.addWidget(self.limit)
        buttons.addWidget(QLabel("of the latest entries", filters))
        buttons.addStretch(1)
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.search_button)
        grid.addLayout(buttons, 3, 0, 1, 4)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)

        # the log's checks
        checks = QHBoxLayout()
        self.verify_button = QPushButton("&Verify the log", self)
        self.verify_button.setObjectName("verifyButton")
        self.verify_button.setToolTip(
            "Check the whole hash chain and every checkpoint signed by the HSM audit key."
        )
        self.verify_button.clicked.connect(self.verify)
        self.export_button = QPushButton("&Export for auditors…", self)
        self.export_button.setObjectName("exportButton")
        self.export_button.setToolTip(
            "Write the log and its public key for the standalone verifier "
            "(workstation-audit-verify)."
        )
        self.export_button.clicked.connect(self.ask_export)
        self.status = StatusLine(
            "auditStatus", self, good_style="", selectable=False, hides_when_empty=False
        )
        checks.addWidget(self.status, 1)
        checks.addWidget(self.verify_button)
        checks.addWidget(self.export_button)

        self.banner = QFrame(self)
        self.banner.setObjectName("resultBanner")
        self.banner.setFrameShape(QFrame.Shape.StyledPanel)
        banner = QVBoxLayout(self.banner)
        self.headline = QLabel(self.banner)
        self.headline.setObjectName("resultHeadline")
        self.headline.setWordWrap(True)
        font = self.headline.font()
        font.setBold(True)
        self.headline.setFont(font)
        self.result_text = QLabel(self.banner)
        self.result_text.setObjectName("resultText")
        self.result_text.setWordWrap(True)
        self.result_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.result_text.setFont(fixed)
        banner.addWidget(self.headline)
        banner.addWidget(self.result_text)
        self.banner.hide()

        # the entries
        self.model = AuditTableModel(self)
        self.table = QTableView(self)
        self.table.setObjectName("auditTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setMinimumSectionSize(40)
        for column, width in (
            (AuditTableModel.SEQ, 56),
            (AuditTableModel.TIME, 140),
            (AuditTableModel.ACTION, 130),
            (AuditTableModel.OBJECT, 200),
            (AuditTableModel.CHANGE, 220),
        ):
            header.resizeSection(column, width)
        selection = self.table.selectionModel()
        selection.currentRowChanged.connect(self._current_changed)
        self.table.doubleClicked.connect(self._use_object)
        self.detail = QPlainTextEdit(self)
        self.detail.setObjectName("entryDetail")
        self.detail.setReadOnly(True)
        self.detail.setFont(fixed)
        self.detail.setPlaceholderText("Choose an entry to see everything it records.")
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(filters)
        layout.addLayout(checks)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)

        state.session_changed.connect(self._session_changed)
        state.data_changed.connect(self._data_changed)

    # --- reading -------------------------------------------------------------------------

    def filters(self) -> dict[str, Any]:
        return {
            "person": self.person.text().strip() or None,
            "action": self.action.currentText().strip() or None,
            "object_id": self.object.text().strip() or None,
            "since": _utc(self.since) if self.use_since.isChecked() else None,
            "until": _utc(self.until) if self.use_until.isChecked() else None,
            "limit": self.limit.value(),
        }

    def clear_filters(self) -> None:
        self.person.clear()
        self.action.setCurrentIndex(0)
        self.action.setEditText("")
        self.object.clear()
        self.use_since.setChecked(False)
        self.use_until.setChecked(False)
        self.search()

    def search(self) -> None:
        """Search with the filters; an auditor may be asked to log on (co-sign)."""
        filters = self.filters()
        if filters["since"] and filters["until"] and filters["since"] > filters["until"]:
            self.status.say(
                "The 'From' time is after the 'Until' time; nothing can match.", bad=True
            )
            return
        services = self.state.services

        def work(_: JobControl) -> list[AuditEntry]:
            return services.audit.search(self.state.ensure_session(), **filters)

        perform(
            self.state,
            self,
            action=Action.VIEW_AUDIT,
            title="Searching the audit log",
            work=work,
            on_done=lambda entries: self._show(entries, filters["limit"]),
        )

    def refresh(self) -> None:
        """Read again with the current filters, only if the session may read the log."""
        if not self.state.members:
            return
        self._stale = False
        self._ticket += 1
        ticket = self._ticket
        filters = self.filters()
        services = self.state.services

        def work(_: JobControl) -> list[AuditEntry]:
            return services.audit.search(self.state.ensure_session(), **filters)

        def refused(requirement: Requirement) -> None:
            self.model.set_rows([])
            missing = ", ".join(requirement.missing)
            if not missing or missing == requirement.quorum:
                detail = "nobody logged on fills it"
            else:
                detail = f"still missing: {missing}"
            self.status.say(
                f"Reading the audit log needs {requirement.quorum}; {detail}. Press "
                "Search to log someone on."
            )

        read_if_allowed(
            self.state,
            Action.VIEW_AUDIT,
            title="read the audit log",
            work=work,
            on_done=lambda entries: self._show(entries, filters["limit"]),
            on_refused=refused,
            on_error=lambda exc: self.status.say(describe(exc)[1], bad=True),
            current=lambda: ticket == self._ticket,
        )

    def _show(self, entries: list[AuditEntry], limit: int) -> None:
        selected = self._selected_seq()
        self.model.set_rows(reversed(entries))  # newest first
        names = sorted({n for e in entries for n in self._names_in(e)})
        self._names.setModel(QStringListModel(names, self._names))
        if len(entries) >= limit:
            self.status.say(
                f"The latest {len(entries):,} matching entries, newest first (the limit); "
                "narrow the filters to see older ones."
            )
        else:
            self.status.say(f"{len(entries):,} matching entries, newest first.")
        if selected is not None:
            self.select_seq(selected)

    @staticmethod
    def _names_in(entry: AuditEntry) -> Iterable[str]:
        requester = entry.body.get("requester") or {}
        if requester.get("name"):
            yield requester["name"]
        for member in entry.body.get("members") or []:
            if member.get("name"):
                yield member["name"]

    def _selected_seq(self) -> int | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        value = self.model.data(index, SeqRole)
        return int(value) if value is not None else None

    def select_seq(self, seq: int) -> bool:
        row = self.model.row_of(seq)
        if row is None:
            return False
        index = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(index)
        return True

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            self.detail.clear()
            return
        entry = self.model.entry(current.row())
        text = json.dumps(entry.body, indent=2, ensure_ascii=False, sort_keys=True)
        self.detail.setPlainText(
            f"{text}\n\nprevious hash  {entry.prev_hash.hex()}\nentry hash     {entry.hash.hex()}"
        )

    def _use_object(self, index: QModelIndex) -> None:
        entry = self.model.entry(index.row())
        self.object.setText(str(entry.body.get("object_id", "")))
        with QSignalBlocker(self.action):
            self.action.setEditText("")
        self.search()

    # --- verify and export ---------------------------------------------------------------

    def verify(self) -> None:
        services = self.state.services

        def work(control: JobControl) -> Report:
            return services.audit.verify(
                self.state.ensure_session(),
                progress=lambda n: control.progress(n, 0, f"{n:,} entries checked…"),
            )

        perform(
            self.state,
            self,
            action=Action.VIEW_AUDIT,
            title="Verifying the audit log",
            work=work,
            on_done=self.show_report,
        )

    def show_report(self, report: Report) -> None:
        self.last_report = report
        if report.ok:
            if report.first_seq is not None and report.last_seq is not None:
                what = f"entries {report.first_seq:,} to {report.last_seq:,} are"
            else:
                what = "the log is"
            n = report.checkpoints_valid
            signed = "the signed checkpoint" if n == 1 else f"all {n:,} signed checkpoints"
            self._banner(
                f"✔ Verified: {what} complete and unaltered, and match {signed}.",
                report.summary(),
                good=True,
            )
        else:
            first = report.first_problem
            message = report.problem or "unknown problem"
            if first is not None and first.seq is not None:
                message = message.removeprefix(f"entry {first.seq}: ")
                where = f" First bad entry: {first.seq:,} — {message}."
            else:
                where = f" {message}."
            self._banner(
                f"✘ The audit log FAILED verification.{where} Report this to the security "
                "officers and keep the workstation as it is.",
                report.summary(),
                good=False,
            )
            if first is not None and first.seq is not None:
                self.select_seq(first.seq)
        self.refresh()  # the verification itself is audited

    def ask_export(self) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        suggested = str(Path.home() / f"audit-export-{stamp}.jsonl")
        path = file_choice.save_file(
            self,
            "Export the audit log for auditors",
            suggested,
            "Audit export (*.jsonl);;All files (*)",
            kind=MediaExport.AUDIT_EXPORT,
        )
        if path is not None:
            self.export_to(path)

    def export_to(self, path: Path) -> None:
        services = self.state.services

        def work(_: JobControl) -> tuple[int, Path]:
            return services.audit.export(self.state.ensure_session(), path)

        def done(result: tuple[int, Path]) -> None:
            count, key_path = result
            self.last_export = (count, path, key_path)
            command = (
                f"workstation-audit-verify {shlex.quote(str(path))} "
                f"--public-key {shlex.quote(str(key_path))}"
            )
            self._banner(
                f"Exported {count:,} entries for the auditors.",
                f"Log:         {path}\nPublic key:  {key_path}\n\nTo verify it on any "
                f"machine (Python with the 'cryptography' package):\n  {command}",
                good=True,
            )
            self.refresh()

        perform(
            self.state,
            self,
            action=Action.EXPORT_AUDIT,
            title="Exporting the audit log",
            work=work,
            on_done=done,
        )

    def _banner(self, headline: str, text: str, *, good: bool) -> None:
        self.headline.setText(headline)
        self.headline.setStyleSheet(GOOD_STYLE if good else ERROR_STYLE)
        self.result_text.setText(text)
        self.banner.show()

    # --- keeping up to date --------------------------------------------------------------

    def _session_changed(self) -> None:
        if not self.state.members:
            self.model.set_rows([])
            self.detail.clear()
            self.banner.hide()
            self.status.say("")
            self._stale = True
            return
        self._mark_stale()

    def _data_changed(self, _kind: str) -> None:
        # Every change writes an audit entry: whatever changed, the log grew.
        self._mark_stale()

    def _mark_stale(self) -> None:
        self._stale = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()
