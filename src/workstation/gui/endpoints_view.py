"""The enrolled TLS endpoints, on the Certificates page: each endpoint with the certificate
its server last presented (subject, issuer, end, days left coloured like the key pairs),
the key pair it carries if it is one of ours, its owners, when it was last seen and over
which protocol; the selected one's facts and chain PEM.

One background read (``EndpointService.endpoints`` and the policy, on the device thread,
asked first through ``read_if_allowed``) feeds the view; days are counted from the time of
that read. "Re-check all" runs ``EndpointService.refresh`` on the device thread behind a
cancellable progress dialog and then says what changed and what was not reached, with the
reasons; "Remove…" asks, then removes. Both go through ``perform``: people missing from the
monitoring quorum are asked for their cards, and the service checks the quorum again.
The rows and the words come from :mod:`workstation.flows.endpoints`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from workstation.domain.endpoints import Endpoint
from workstation.domain.policy import Action, PolicySet
from workstation.errors import BadInput
from workstation.flows.endpoints import (
    DUE_SOON_DAYS,
    ENDPOINT_HEADERS,
    EndpointRow,
    RefreshSummary,
    endpoint_rows,
    endpoints_overview,
    refresh_summary,
)
from workstation.services.endpoints import Discovery

from .actions import confirm, perform, perform_change, read_register
from .runner import JobControl
from .state import AppState
from .status import StatusLine
from .tables import RecordModel, current_record, fit_columns, record_table, select_row
from .wizards import FactsAndPem

log = logging.getLogger(__name__)

__all__ = ["EndpointRegister", "EndpointTableModel", "EndpointsView"]

# Days left, coloured alike here and in the key pair table (gui/certificates_page.py).
EXPIRED_TEXT = QColor("#a40000")
EXPIRED_BACKGROUND = QColor("#f8d7d5")
SOON_TEXT = QColor("#7a4d00")  # dark amber: readable on the amber background
SOON_BACKGROUND = QColor("#ffe3a1")
_TEXT = {"expired": EXPIRED_TEXT, "due": SOON_TEXT}
_BACKGROUND = {"expired": EXPIRED_BACKGROUND, "due": SOON_BACKGROUND}

REFRESH_TIMEOUT = 5.0  # seconds per server, as the CLI's tls refresh


@dataclass(frozen=True)
class EndpointRegister:
    """What the view shows, read in one go on the device thread."""

    endpoints: tuple[Endpoint, ...]
    read_at: datetime
    policy: PolicySet

    def needs(self, action: Action) -> str:
        try:
            return self.policy.quorum_for(action).describe()
        except BadInput:
            return "(no policy set)"


class EndpointTableModel(RecordModel[EndpointRow]):
    """Enrolled endpoints, one row each, the first to end on top."""

    TARGET, SERVER, SUBJECT, ISSUER, NOT_AFTER, DAYS, KEY, OWNERS, SEEN, PROTOCOL = range(10)
    HEADERS = ENDPOINT_HEADERS
    TIPS = (
        "Where the workstation connects: host:port",
        "The name asked for in the handshake (TLS SNI, RFC 6066 3)",
        "Who the server's certificate names",
        "The CA that issued it",
        "The last day it is valid (UTC)",
        f"Days until it ends: red once it has ended, amber within {DUE_SOON_DAYS} days",
        "The workstation's key pair the certificate carries, if it is one of ours",
        "Who is alerted before it expires",
        "When the server last answered (UTC)",
        "The TLS version of that answer",
    )
    _FLAGGED = frozenset({NOT_AFTER, DAYS})

    def _display(self, record: EndpointRow, column: int) -> str:
        return record.cells[column]

    def _tooltip(self, record: EndpointRow, column: int) -> str | None:
        if column in self._FLAGGED:
            return record.days_tip
        if column == self.OWNERS and not record.endpoint.owners:
            return "Nobody is alerted; discover it again with owners to add them."
        return None

    def _foreground(self, record: EndpointRow, column: int) -> QColor | None:
        return _TEXT.get(record.level) if column in self._FLAGGED else None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.BackgroundRole:
            if not index.isValid() or not 0 <= index.row() < self.rowCount():
                return None
            if index.column() not in self._FLAGGED:
                return None
            return _BACKGROUND.get(self.record(index.row()).level)
        return super().data(index, role)

    def row_of(self, endpoint_id: str) -> int | None:
        return next((i for i, r in enumerate(self._rows) if r.endpoint.id == endpoint_id), None)


class EndpointsView(QWidget):
    """Buttons, the endpoints table and the selected endpoint's details."""

    refreshed = Signal()  # after each read shown
    rechecked = Signal(object)  # the RefreshSummary, once shown

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("endpointsView")
        self.state = state
        self._stale = True
        self._ticket = 0
        self.register: EndpointRegister | None = None
        self.confirm_box: QMessageBox | None = None
        self.summary_box: QMessageBox | None = None

        self.recheck_button = QPushButton("Re-check all", self)
        self.recheck_button.setObjectName("recheckEndpointsButton")
        self.recheck_button.setToolTip(
            "Connect to every enrolled endpoint again and keep the certificate each presents "
            "now; a change is audited"
        )
        self.recheck_button.clicked.connect(self.recheck)
        self.remove_button = QPushButton("Remove…", self)
        self.remove_button.setObjectName("removeEndpointButton")
        self.remove_button.setToolTip("Stop watching the selected endpoint")
        self.remove_button.clicked.connect(self.ask_remove)
        self.count = QLabel(self)
        self.count.setObjectName("endpointCount")
        self.status = StatusLine("endpointsStatus", self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.recheck_button)
        buttons.addWidget(self.remove_button)
        buttons.addSpacing(12)
        buttons.addWidget(self.count, 1)

        self.model = EndpointTableModel(self)
        self.table = record_table(self.model, "endpointTable", self)
        fit_columns(
            self.table,
            {
                EndpointTableModel.TARGET: "payments.bank.example:8443",
                EndpointTableModel.SERVER: "payments.bank.example",
                EndpointTableModel.SUBJECT: "CN=payments.bank.example,O=Bank",
                EndpointTableModel.ISSUER: "CN=Bank Issuing CA,O=Bank",
                EndpointTableModel.NOT_AFTER: "2026-03-10",
                EndpointTableModel.DAYS: "expired 10 d ago",
                EndpointTableModel.KEY: "TLS-20260310-0001",
                EndpointTableModel.OWNERS: "web-ops@bank.example",
                EndpointTableModel.SEEN: "2026-03-10 12:00",
            },
        )
        self.table.selectionModel().currentRowChanged.connect(self._row_chosen)

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.setObjectName("endpointsSplitter")
        splitter.addWidget(self.table)
        splitter.addWidget(self._build_details())
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([1, 1])
        splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(splitter, 1)

        state.session_changed.connect(self._session_changed)
        state.data_changed.connect(self._data_changed)
        state.unlocked.connect(self.mark_stale)
        self._session_changed()

    def _build_details(self) -> QWidget:
        self.details = FactsAndPem(
            self,
            title="Endpoint",
            name="endpointDetails",
            pem_title="Chain presented (PEM, the server's certificate first):",
            pem_name="endpointPem",
            copy_text="Copy chain",
            copy_name="copyEndpointPemButton",
            copied_name="endpointCopiedNote",
            empty_text="Choose an endpoint to see what its server presents.",
        )
        self.facts, self.pem = self.details.facts, self.details.pem
        self.pem_title, self.copy_button = self.details.pem_title, self.details.copy_button
        self.copied = self.details.copied
        return self.details

    # --- reading -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the enrolled endpoints again, only if the session may."""
        services = self.state.services

        def work(_: JobControl) -> EndpointRegister:
            session = self.state.ensure_session()
            endpoints = services.endpoints.endpoints(session)
            return EndpointRegister(
                endpoints=tuple(endpoints),
                read_at=services.ctx.clock.now(),
                policy=services.policies.current(session),
            )

        read_register(
            self,
            what="the endpoints",
            title="read the enrolled TLS endpoints",
            work=work,
            on_done=self._show,
        )

    def _show(self, register: EndpointRegister) -> None:
        chosen = self.selected()
        self.register = register
        rows = endpoint_rows(register.endpoints, register.read_at)
        self.model.set_rows(rows)
        self.count.setText(endpoints_overview(rows))
        self.table.setToolTip(
            f"Re-checking and removing need {register.needs(Action.MANAGE_MONITORING)}."
        )
        row = self.model.row_of(chosen.endpoint.id) if chosen is not None else None
        if rows:
            select_row(self.table, 0 if row is None else row)
        else:
            self._show_detail(None)
        self._update_buttons()
        self.refreshed.emit()

    def _clear(self) -> None:
        self.register = None
        self.model.set_rows([])
        self.count.setText("")
        self._show_detail(None)
        self._update_buttons()

    def say(self, text: str, *, bad: bool = False) -> None:
        self.status.say(text, bad=bad)

    # --- selection and details -----------------------------------------------------------------

    def selected(self) -> EndpointRow | None:
        return current_record(self.table, self.model)

    def select_endpoint(self, subject: str) -> bool:
        """Select the row of ``host:port``; False when it is not listed."""
        row = next(
            (i for i, r in enumerate(self.model.records) if r.endpoint.subject == subject), None
        )
        if row is None:
            return False
        select_row(self.table, row)
        return True

    def _row_chosen(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_detail(current_record(self.table, self.model))
        self._update_buttons()

    def _show_detail(self, row: EndpointRow | None) -> None:
        if row is None:
            self.details.show_facts(None)
        else:
            self.details.show_facts(row.detail_rows(), row.endpoint.chain_pem, prefix="endpoint")

    def copy_pem(self) -> None:
        self.details.copy_pem()

    # --- re-check and remove -------------------------------------------------------------------

    def recheck(self) -> None:
        """Probe every enrolled endpoint again (cancellable), then say what was found."""
        services = self.state.services
        count = self.model.rowCount()

        def work(control: JobControl) -> list[Discovery]:
            session = self.state.ensure_session()
            return services.endpoints.refresh(
                session,
                timeout=REFRESH_TIMEOUT,
                progress=lambda done, total: control.progress(
                    done, total, f"{done} of {total} servers answered or gave up"
                ),
                cancelled=control.cancelled,
            )

        perform(
            self.state,
            self,
            action=Action.MANAGE_MONITORING,
            title=f"Re-checking {count} endpoint{'s' if count != 1 else ''}",
            work=work,
            on_done=self._rechecked,
            cancellable=True,
        )

    def _rechecked(self, found: list[Discovery]) -> None:
        summary = refresh_summary(found)
        self.state.data_changed.emit("endpoints")  # read again here, and on the Due dates tab
        self._show_summary(summary)

    def _show_summary(self, summary: RefreshSummary) -> None:
        box = QMessageBox(self)
        box.setObjectName("recheckSummary")
        box.setWindowTitle("Endpoints re-checked")
        warn = bool(summary.changed or summary.unreachable)
        box.setIcon(QMessageBox.Icon.Warning if warn else QMessageBox.Icon.Information)
        box.setText(summary.text)
        if summary.details:
            box.setInformativeText(summary.details)
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.open()
        self.summary_box = box
        self.say(summary.text, bad=bool(summary.unreachable))
        self.rechecked.emit(summary)

    def ask_remove(self) -> None:
        """Ask whether to stop watching the selected endpoint; remove it on Yes."""
        row = self.selected()
        if row is None:
            return
        endpoint = row.endpoint
        self.confirm_box = confirm(
            self,
            name="removeEndpointBox",
            title="Remove TLS endpoint",
            text=row.removal_question(),
            yes="Remove",
            on_yes=lambda: self.remove(endpoint),
        )

    def remove(self, endpoint: Endpoint) -> None:
        services = self.state.services
        perform_change(
            self.state,
            self,
            action=Action.MANAGE_MONITORING,
            title=f"Removing {endpoint.subject}",
            # By host:port (one enrolment each): if it is gone, the refusal names it.
            call=lambda session: services.endpoints.remove(session, endpoint.subject),
            said=lambda removed: f"{removed.subject} is no longer watched.",
            say=self.say,
            changed="endpoints",
        )

    # --- keeping up to date --------------------------------------------------------------------

    def _update_buttons(self) -> None:
        on = bool(self.state.members) and self.register is not None
        self.recheck_button.setEnabled(on and self.model.rowCount() > 0)
        self.remove_button.setEnabled(on and self.selected() is not None)

    def _session_changed(self) -> None:
        if not self.state.members:
            self._ticket += 1  # answers on their way belong to the old session
            self._clear()
            self.say("")
            self._stale = True
            return
        self.mark_stale()

    def _data_changed(self, kind: str) -> None:
        if kind in ("endpoints", "certificates", "keys", "policy"):
            self.mark_stale()

    def mark_stale(self) -> None:
        """Read again now if shown, else when next shown."""
        self._stale = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()
