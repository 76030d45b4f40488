"""Due dates: the task list of keys and certificates that fall due, and the alerts.

One background read feeds the page (``ExpiryService``: the windows, the tasks and the
owners, on the device thread, asked first through ``read_if_allowed``). The table shows
each item soonest first, marked red when overdue and amber within the shortest window, with
its owners and when they were last told; the filter narrows it to a window.

"Send alerts now" runs the same alert run as the timer, as the people logged on; "Export
calendar…" writes the due dates to a new .ics file; "Owners…" and "Windows…" change who is
told and when, under the monitoring quorum. The service checks every rule again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workstation.domain.monitoring import AlertOwners, DueTask
from workstation.domain.policy import Action, MediaExport
from workstation.files import write_new
from workstation.flows.expiry import (
    ALL,
    CalendarForm,
    DueRegister,
    OwnersForm,
    Severity,
    WindowsForm,
    filter_choices,
    filter_tasks,
    severity,
    summarise,
)
from workstation.services.expiry import AlertReport

from . import file_choice
from .actions import perform, read_register
from .runner import JobControl
from .state import AppState
from .status import StatusLine
from .tables import RecordModel, fit_columns, record_table
from .wizards import FormDialog

__all__ = [
    "SEVERITY_COLOURS",
    "DueTaskModel",
    "ExpiryPage",
    "OwnersDialog",
    "WindowsDialog",
]

SEVERITY_COLOURS: dict[Severity, str] = {
    Severity.OVERDUE: "#b00020",  # red
    Severity.URGENT: "#b36200",  # amber, dark enough to read on white
    Severity.SOON: "",
    Severity.LATER: "#666666",
}


class DueTaskModel(RecordModel[DueTask]):
    """The task list: one row per item that falls due, soonest first."""

    DUE, LEFT, STATE, KIND, LABEL, OWNERS, LAST = range(7)
    HEADERS = (
        "Due (UTC)",
        "Days left",
        "State",
        "Kind",
        "What falls due",
        "Owners",
        "Last alerted",
    )
    TIPS = (
        "When it falls due",
        "Whole days left, rounded up; 0 or less: overdue",
        "Overdue, or the shortest alert window it is in",
        "Key, certificate, TLS endpoint, ...",
        "What happens, and to what",
        "Who the alerts go to",
        "When the owners were last told (UTC)",
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._severity: Callable[[DueTask], Severity] = lambda t: Severity.SOON

    def set_tasks(self, tasks: list[DueTask], mark: Callable[[DueTask], Severity]) -> None:
        self._severity = mark
        self.set_rows(tasks)

    def _display(self, t: DueTask, column: int) -> str:
        if column == self.DUE:
            return f"{t.item.due.astimezone(UTC):%Y-%m-%d %H:%M}"
        if column == self.LEFT:
            return str(t.days_left)
        if column == self.STATE:
            return t.state
        if column == self.KIND:
            return t.item.kind
        if column == self.LABEL:
            return f"{t.item.what.capitalize()}: {t.item.label}"
        if column == self.OWNERS:
            return ", ".join(t.owners) or "(none: set owners)"
        if column == self.LAST:
            return "never" if t.last_alerted is None else f"{t.last_alerted:%Y-%m-%d %H:%M}"
        return ""

    def _foreground(self, t: DueTask, column: int) -> QColor | None:
        colour = SEVERITY_COLOURS[self._severity(t)]
        if column == self.OWNERS and not t.owners:
            return QColor(SEVERITY_COLOURS[Severity.OVERDUE])
        return QColor(colour) if colour else None

    def severity_of(self, row: int) -> Severity:
        return self._severity(self.record(row))


# --- dialogs ---------------------------------------------------------------------------------


class _Dialog(FormDialog):
    """A form dialog of the Due dates page: OK runs the change under the monitoring quorum
    and closes once it is done."""

    def __init__(self, page: ExpiryPage, name: str, title: str, intro: str) -> None:
        super().__init__(page, name, title, intro)
        self.page = page

    def run_change(
        self, title: str, call: Callable[[Any], Any], said: Callable[[Any], str]
    ) -> None:
        def done(result: Any) -> None:
            self.accept()
            self.page.say(said(result))

        self.page.change(title=title, call=call, parent=self, on_done=done)


class OwnersDialog(_Dialog):
    """Set or clear who is told about the default items, a template's keys or one key."""

    def __init__(self, page: ExpiryPage) -> None:
        owners = page.register.owners if page.register else ()
        listing = "; ".join(f"{_scope_text(o)}: {', '.join(o.emails)}" for o in owners)
        super().__init__(
            page,
            "ownersDialog",
            "Alert owners",
            "An item's alerts go to its key's owners and its template's owners together; "
            "items with neither go to the default owners. "
            + (f"Now: {listing}." if listing else "No owners are set yet.")
            + f" Changing them needs {page.needs(Action.MANAGE_MONITORING)}.",
        )
        self.scope_kind = QComboBox(self)
        self.scope_kind.setObjectName("ownerScope")
        for text, value in (
            ("Default (items with no other owner)", "default"),
            ("The keys of a template", "template"),
            ("One key (and its certificates)", "key"),
        ):
            self.scope_kind.addItem(text, value)
        self.add_row("Whose:", self.scope_kind, "scope_kind")
        self.ref = QLineEdit(self)
        self.ref.setObjectName("ownerRef")
        self.ref.setPlaceholderText("the template's name or the key's label")
        self.add_row("Template or key:", self.ref, "ref")
        self.emails = QPlainTextEdit(self)
        self.emails.setObjectName("ownerEmails")
        self.emails.setPlaceholderText("one address per line, e.g. key-desk@bank.example")
        self.emails.setMaximumHeight(90)
        self.emails.setTabChangesFocus(True)
        self.add_row("E-mail:", self.emails, "emails")
        self.clear = QCheckBox("Remove these owners instead", self)
        self.clear.setObjectName("ownerClear")
        self.form.addRow("", self.clear)
        self.scope_kind.currentIndexChanged.connect(self._scope_changed)
        self.clear.toggled.connect(self.emails.setDisabled)
        self._scope_changed()
        self.finish_layout("&Save owners", "saveOwnersButton")
        self.resize(560, self.sizeHint().height())

    def _scope_changed(self) -> None:
        self.ref.setEnabled(self.scope_kind.currentData() != "default")

    def form_values(self) -> OwnersForm:
        return OwnersForm(
            scope_kind=str(self.scope_kind.currentData()),
            ref=self.ref.text(),
            emails=self.emails.toPlainText(),
            clear=self.clear.isChecked(),
        )

    def submit(self) -> None:
        form = self.form_values()
        if not self.show_errors(form.validate()):
            return
        expiry = self.page.state.services.expiry
        scope = form.scope
        if form.clear:
            self.run_change(
                "Removing alert owners",
                lambda session: expiry.clear_owners(session, scope),
                lambda o: f"Alert owners of {o.label} removed.",
            )
            return
        addresses = form.addresses()
        self.run_change(
            "Setting alert owners",
            lambda session: expiry.set_owners(session, scope, addresses),
            lambda o: f"Alert owners of {o.label}: {', '.join(o.emails)}.",
        )


class WindowsDialog(_Dialog):
    def __init__(self, page: ExpiryPage) -> None:
        current = page.register.windows.text() if page.register else "90,30,7"
        super().__init__(
            page,
            "windowsDialog",
            "Alert windows",
            "Owners are told once as an item enters each window (days before it falls "
            "due) and once more when it is overdue. Changing the windows needs "
            f"{page.needs(Action.MANAGE_MONITORING)}.",
        )
        self.windows = QLineEdit(current, self)
        self.windows.setObjectName("windowsText")
        self.windows.setPlaceholderText("e.g. 90,30,7")
        self.add_row("Windows (days):", self.windows, "windows")
        self.finish_layout("&Save windows", "saveWindowsButton")

    def submit(self) -> None:
        form = WindowsForm(self.windows.text())
        if not self.show_errors(form.validate()):
            return
        windows = form.windows()
        expiry = self.page.state.services.expiry
        self.run_change(
            "Setting the alert windows",
            lambda session: expiry.set_windows(session, windows.days),
            lambda w: f"Alert windows: {w.text()} days, and overdue.",
        )


def _scope_text(o: AlertOwners) -> str:
    kind = o.scope.split(":")[0]
    return "default" if kind == "default" else f"{kind} {o.label}"


# --- the page --------------------------------------------------------------------------------


class ExpiryPage(QWidget):
    refreshed = Signal()  # after each read shown (or refused)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("expiryPage")
        self.state = state
        self.register: DueRegister | None = None
        self._stale = True
        self._ticket = 0

        heading = QLabel("<h2 style='margin:0'>Due dates</h2>", self)
        self.summary = QLabel(self)
        self.summary.setObjectName("expirySummary")
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.send_button = QPushButton("Send alerts &now", self)
        self.send_button.setObjectName("sendAlertsButton")
        self.send_button.clicked.connect(self.send_alerts)
        self.calendar_button = QPushButton("Export calen&dar…", self)
        self.calendar_button.setObjectName("exportCalendarButton")
        self.calendar_button.clicked.connect(lambda: self.export_calendar())
        self.owners_button = QPushButton("&Owners…", self)
        self.owners_button.setObjectName("ownersButton")
        self.owners_button.clicked.connect(self.edit_owners)
        self.windows_button = QPushButton("&Windows…", self)
        self.windows_button.setObjectName("windowsButton")
        self.windows_button.clicked.connect(self.edit_windows)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addStretch(1)
        for button in (
            self.send_button,
            self.calendar_button,
            self.owners_button,
            self.windows_button,
        ):
            top.addWidget(button)

        self.filter = QComboBox(self)
        self.filter.setObjectName("expiryFilter")
        self.filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.filter.currentIndexChanged.connect(self._show_tasks)
        filter_label = QLabel("&Show:", self)
        filter_label.setBuddy(self.filter)
        bar = QHBoxLayout()
        bar.addWidget(filter_label)
        bar.addWidget(self.filter)
        bar.addWidget(self.summary, 1)

        self.model = DueTaskModel(self)
        self.table = record_table(self.model, "expiryTable", self)
        fit_columns(
            self.table,
            {
                DueTaskModel.DUE: "2026-12-31 23:59",
                DueTaskModel.LEFT: "Days left",
                DueTaskModel.STATE: "overdue by 30 days",
                DueTaskModel.KIND: "certificate",
                DueTaskModel.LABEL: "Certificate expires: CN=atm-0042.bank.example",
                DueTaskModel.OWNERS: "key-desk@bank.example",
                DueTaskModel.LAST: "2026-12-31 23:59",
            },
        )
        # The label takes what is left; the whole of it is in its tooltip.
        self.table.horizontalHeader().setSectionResizeMode(
            DueTaskModel.LABEL, QHeaderView.ResizeMode.Stretch
        )

        self.status = StatusLine("expiryStatus", self)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)

        state.session_changed.connect(self._session_changed)
        state.data_changed.connect(self._data_changed)
        state.unlocked.connect(self._mark_stale)
        self._session_changed()

    # --- reading ---------------------------------------------------------------------------

    def refresh(self) -> None:
        services = self.state.services

        def work(_: JobControl) -> DueRegister:
            session = self.state.ensure_session()
            expiry = services.expiry
            policy = services.policies.current(session)
            return DueRegister(
                windows=expiry.windows(session),
                tasks=tuple(expiry.due(session)),
                owners=tuple(expiry.owners(session)),
                at=services.ctx.clock.now(),
                monitoring_quorum=policy.quorum_for(Action.MANAGE_MONITORING).describe(),
            )

        read_register(
            self, what="the due dates", title="read the due dates", work=work, on_done=self._show
        )

    def _show(self, register: DueRegister) -> None:
        self.register = register
        chosen = self.filter.currentData()
        self.filter.blockSignals(True)
        self.filter.clear()
        for text, value in filter_choices(register.windows):
            self.filter.addItem(text, value)
        index = self.filter.findData(chosen) if chosen else 0
        self.filter.setCurrentIndex(max(index, 0))
        self.filter.blockSignals(False)
        self._show_tasks()
        self.refreshed.emit()

    def _show_tasks(self) -> None:
        register = self.register
        if register is None:
            return
        choice = str(self.filter.currentData() or ALL)
        windows = register.windows
        self.model.set_tasks(filter_tasks(register.tasks, choice), lambda t: severity(t, windows))
        s = summarise(register.tasks, windows)
        parts = [
            f"<span style='color:{SEVERITY_COLOURS[Severity.OVERDUE]}'><b>{s.overdue}</b> "
            "overdue</span>"
        ]
        for window, n in s.by_window:
            colour = SEVERITY_COLOURS[Severity.URGENT] if window == windows.shortest else ""
            style = f" style='color:{colour}'" if colour else ""
            parts.append(f"<span{style}><b>{n}</b> {s.band_label(window)}</span>")
        unowned = sum(1 for t in register.tasks if not t.owners)
        if unowned:
            parts.append(f"<b>{unowned}</b> without owners")
        self.summary.setText(" · ".join(parts))

    def _clear(self) -> None:
        self.register = None
        self.model.set_rows([])
        self.summary.setText("")

    def say(self, text: str, *, bad: bool = False) -> None:
        self.status.say(text, bad=bad)

    def needs(self, action: Action) -> str:
        """The quorum of ``action`` in the policy's words (as last read)."""
        if self.register is None or action is not Action.MANAGE_MONITORING:
            return "its quorum"
        return self.register.monitoring_quorum or "its quorum"

    # --- acting ----------------------------------------------------------------------------

    def change(
        self,
        *,
        title: str,
        call: Callable[[Any], Any],
        parent: QWidget,
        on_done: Callable[[Any], Any],
        action: Action = Action.MANAGE_MONITORING,
    ) -> None:
        state = self.state

        def work(_: JobControl) -> Any:
            return call(state.ensure_session())

        def done(result: Any) -> None:
            state.data_changed.emit("expiry")
            on_done(result)

        perform(state, parent, action=action, title=title, work=work, on_done=done)

    def send_alerts(self) -> None:
        """The alert run, now, as the people logged on."""
        expiry = self.state.services.expiry

        def sent(report: AlertReport) -> None:
            self.say(report.summary, bad=bool(report.failures))

        self.change(
            title="Sending the expiry alerts",
            call=lambda session: expiry.send_alerts(session),
            parent=self,
            on_done=sent,
            action=Action.VIEW_INVENTORY,
        )

    def export_calendar(self, path: str | None = None) -> None:
        if path is None:
            now = self.state.services.ctx.clock.now()
            chosen = file_choice.save_file(
                self,
                "Export the due dates",
                str(Path.home() / CalendarForm.suggested_name(now)),
                "iCalendar (*.ics)",
                kind=MediaExport.DUE_DATES,
            )
            if chosen is None:
                return
            path = str(chosen)
        form = CalendarForm(path)
        errors = form.validate()
        if errors:
            self.say(" ".join(errors.values()), bad=True)
            return
        expiry = self.state.services.expiry

        def call(session: Any) -> int:
            text = expiry.calendar(session)
            write_new(path, text.encode("utf-8"))
            return text.count("BEGIN:VEVENT")

        self.change(
            title="Exporting the due dates",
            call=call,
            parent=self,
            on_done=lambda n: self.say(
                f"{n} due date{'s' * (n != 1)} written to {path} (iCalendar)."
            ),
            action=Action.VIEW_INVENTORY,
        )

    def _open(self, dialog: QDialog) -> QDialog:
        dialog.finished.connect(lambda _: dialog.deleteLater())
        dialog.open()
        return dialog

    def edit_owners(self) -> QDialog:
        return self._open(OwnersDialog(self))

    def edit_windows(self) -> QDialog:
        return self._open(WindowsDialog(self))

    # --- keeping up to date ----------------------------------------------------------------

    def _update_buttons(self) -> None:
        on = bool(self.state.members)
        tips = {
            self.send_button: "E-mail the owners what entered a window since they were told",
            self.calendar_button: "The due dates as an iCalendar file, with an alarm per window",
            self.owners_button: "Who is told: the default, a template's keys, or one key",
            self.windows_button: "How many days ahead owners are told",
        }
        for button, tip in tips.items():
            button.setEnabled(on)
            button.setToolTip(tip if on else "Log on first.")

    def _session_changed(self) -> None:
        if not self.state.members:
            self._ticket += 1
            self._clear()
            self.status.notice("Log on to see what falls due.")
            self._stale = True
            self._update_buttons()
            return
        self.status.withdraw_notice()
        self._update_buttons()
        self._mark_stale()

    def _data_changed(self, kind: str) -> None:
        if kind in ("keys", "certificates", "expiry", "templates", "endpoints"):
            self._mark_stale()

    def _mark_stale(self) -> None:
        self._stale = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()
