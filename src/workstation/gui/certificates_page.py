"""Certificates of the workstation's key pairs: each key pair with its template, its state
and its current certificate (subject, issuer, serial, end, days left, status), superseded
certificates on request, the selected one's facts and PEM, and the certificate wizards one
click away. The key pairs are one tab of the page; the other lists the enrolled TLS
endpoints (:mod:`workstation.gui.endpoints_view`), which reads on its own.

One background read feeds the page (``CertificateService.key_pairs`` and the policy, on
the device thread, asked first through ``read_if_allowed`` so that a session that may not
read them leaves no refused attempts in the audit log). The days left are counted from the
time of that read; a certificate past its end is shown red, one within
:data:`~workstation.flows.certificates.SOON_DAYS` days amber.

The toolbar opens "Request certificate…" and "Import certificate…"
(:mod:`workstation.gui.certificate_wizards`, loaded on first use) for the selected key
pair; :meth:`CertificatesPage.add_tool` puts more entries in the same toolbar. Nothing here
decides what is allowed: the service checks again.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workstation.domain.policy import Action, PolicySet
from workstation.errors import BadInput
from workstation.flows.certificates import (
    SOON_DAYS,
    CertificateRow,
    Urgency,
    certificate_rows,
    overview,
)
from workstation.services.certificates import KeyPairList

from .actions import read_register
from .endpoints_view import (
    EXPIRED_BACKGROUND,
    EXPIRED_TEXT,
    SOON_BACKGROUND,
    SOON_TEXT,
    EndpointsView,
)
from .runner import JobControl
from .state import AppState
from .status import StatusLine
from .tables import RecordModel, RecordRole, current_record, fit_columns, record_table, select_row
from .wizards import FactsAndPem, wizard_toolbar

log = logging.getLogger(__name__)

__all__ = [
    "WIZARD_ENTRIES",
    "CertificateRegister",
    "CertificatesPage",
    "KeyPairTableModel",
    "RecordRole",
]

WIZARDS_MODULE = "workstation.gui.certificate_wizards"
# (entry point in WIZARDS_MODULE, toolbar text, object name, tooltip)
WIZARD_ENTRIES: tuple[tuple[str, str, str, str], ...] = (
    (
        "open_request",
        "Request certificate…",
        "requestCertificateAction",
        "A certificate request (PKCS#10) signed by the key pair inside the HSM, PEM or DER",
    ),
    (
        "open_import",
        "Import certificate…",
        "importCertificateAction",
        "The certificate a CA issued for a key pair: checked against the CA's trust anchors "
        "and CRLs, kept only if every check passes",
    ),
)

SUPERSEDED_TEXT = QColor("#777777")


@dataclass(frozen=True)
class CertificateRegister:
    """What the page shows, read in one go on the device thread."""

    listing: KeyPairList
    policy: PolicySet

    def needs(self, action: Action) -> str:
        try:
            return self.policy.quorum_for(action).describe()
        except BadInput:
            return "(no policy set)"


class KeyPairTableModel(RecordModel[CertificateRow]):
    """Key pairs and their certificates, one row each (superseded ones when asked)."""

    # As CertificateRow.cells(): what falls due first, then who issued it; the serial last.
    KEY, TEMPLATE, STATE, SUBJECT, NOT_AFTER, DAYS, STATUS, ISSUER, SERIAL = range(9)
    HEADERS = (
        "Key pair",
        "Template",
        "State",
        "Subject",
        "Not after",
        "Days left",
        "Status",
        "Issuer",
        "Serial",
    )
    TIPS = (
        "The key pair's label",
        "The template it was generated from",
        "Its lifecycle state (NIST SP 800-57)",
        "Who the certificate names",
        "The last day it is valid (UTC)",
        f"Days until it ends: red once it has ended, amber within {SOON_DAYS} days",
        "current, superseded by a renewal, or none",
        "The CA that issued it",
        "The certificate's serial number (hex)",
    )
    MONOSPACE = frozenset({SERIAL})
    _FLAGGED = frozenset({DAYS, STATUS})

    def _display(self, record: CertificateRow, column: int) -> str:
        return record.cells()[column]

    def _tooltip(self, record: CertificateRow, column: int) -> str | None:
        c = record.certificate
        if column == self.DAYS and c is not None:
            if record.urgency is Urgency.EXPIRED:
                return f"Ended {c.not_after:%Y-%m-%d %H:%M} UTC: renew it."
            return f"Ends {c.not_after:%Y-%m-%d %H:%M} UTC."
        if column == self.STATUS and c is None:
            return record.pair.refusal or "Request certificate… makes the request."
        return None

    def _foreground(self, record: CertificateRow, column: int) -> QColor | None:
        if record.superseded:
            return SUPERSEDED_TEXT
        if column in self._FLAGGED:
            if record.urgency is Urgency.EXPIRED:
                return EXPIRED_TEXT
            if record.urgency is Urgency.SOON:
                return SOON_TEXT
        return None

    def _background(self, record: CertificateRow, column: int) -> QColor | None:
        if column not in self._FLAGGED:
            return None
        if record.urgency is Urgency.EXPIRED:
            return EXPIRED_BACKGROUND
        if record.urgency is Urgency.SOON:
            return SOON_BACKGROUND
        return None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.BackgroundRole:
            if not index.isValid() or not 0 <= index.row() < self.rowCount():
                return None
            return self._background(self.record(index.row()), index.column())
        return super().data(index, role)

    def row_of(self, key_id: str, certificate_id: str | None) -> int | None:
        return next(
            (
                i
                for i, r in enumerate(self._rows)
                if r.key.id == key_id
                and (r.certificate.id if r.certificate else None) == certificate_id
            ),
            None,
        )


class CertificatesPage(QWidget):
    """Toolbar of certificate wizards; key pairs and their certificates; the details."""

    refreshed = Signal()  # after each read shown

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("certificatesPage")
        self.state = state
        self._stale = True
        self._ticket = 0
        self.register: CertificateRegister | None = None
        self.tools: list[QAction] = []

        self.toolbar, self.wizard_actions = wizard_toolbar(
            self, "Certificates", "certificateToolbar", WIZARD_ENTRIES, self.open_wizard
        )
        self.tools = list(self.wizard_actions.values())

        self.hint = QLabel(self)
        self.hint.setObjectName("certificatesHint")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #555;")
        self.status = StatusLine("certificatesStatus", self)

        options = QHBoxLayout()
        self.show_superseded = QCheckBox("Show su&perseded certificates", self)
        self.show_superseded.setObjectName("showSuperseded")
        self.show_superseded.setToolTip(
            "Certificates a renewal replaced, each under its key pair, in grey"
        )
        self.show_superseded.toggled.connect(self._show_rows)
        options.addWidget(self.show_superseded)
        options.addStretch(1)
        self.count = QLabel(self)
        self.count.setObjectName("certificateCount")
        options.addWidget(self.count)

        self.model = KeyPairTableModel(self)
        self.table = record_table(self.model, "keyPairTable", self)
        fit_columns(
            self.table,
            {
                KeyPairTableModel.KEY: "TLS-20260310-0001",
                KeyPairTableModel.TEMPLATE: "ATM RKL host key pair",
                KeyPairTableModel.STATE: "pre-active",
                KeyPairTableModel.SUBJECT: "CN=payments.bank.example,O=Bank,C=GB",
                KeyPairTableModel.NOT_AFTER: "2026-03-10",
                KeyPairTableModel.DAYS: "Days left",
                KeyPairTableModel.STATUS: "current: renew soon",
                KeyPairTableModel.ISSUER: "CN=Bank Issuing CA,O=Bank",
            },
        )
        self.table.selectionModel().currentRowChanged.connect(self._row_chosen)

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.setObjectName("certificatesSplitter")
        splitter.addWidget(self.table)
        splitter.addWidget(self._build_details())
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([1, 1])  # halves, whatever the table's size hint asks
        splitter.setChildrenCollapsible(False)

        key_pairs = QWidget(self)
        key_pairs.setObjectName("keyPairsTab")
        key_pairs_layout = QVBoxLayout(key_pairs)
        key_pairs_layout.setContentsMargins(0, 0, 0, 0)
        key_pairs_layout.addLayout(options)
        key_pairs_layout.addWidget(splitter, 1)
        # The servers that present certificates, beside the key pairs the workstation holds.
        self.endpoints = EndpointsView(state, self)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("certificatesTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(key_pairs, "Key pairs")
        self.tabs.addTab(self.endpoints, "TLS endpoints")

        layout = QVBoxLayout(self)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.hint)
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)

        state.session_changed.connect(self._session_changed)
        state.data_changed.connect(self._data_changed)
        state.unlocked.connect(self._mark_stale)
        self._session_changed()

    def _build_details(self) -> QWidget:
        self.details = FactsAndPem(
            self,
            title="Details",
            name="certificateDetails",
            pem_title="Certificate and chain (PEM):",
            pem_name="certificatePem",
            copy_text="Cop&y PEM",
            copy_name="copyPemButton",
            copied_name="copiedNote",
            empty_text="Choose a key pair to see its certificate.",
        )
        self.facts, self.pem = self.details.facts, self.details.pem
        self.pem_title, self.copy_button = self.details.pem_title, self.details.copy_button
        self.copied = self.details.copied
        return self.details

    # --- the toolbar ---------------------------------------------------------------------------

    def add_tool(self, text: str, object_name: str, open: Callable[[], None]) -> QAction:
        """Another entry in the page's toolbar (after the request and import wizards),
        enabled while someone is logged on like the others; ``open`` runs on a click."""
        action = QAction(text, self)
        action.setObjectName(object_name)
        action.setIconText(text)
        action.triggered.connect(lambda _=False: open())
        self.toolbar.addAction(action)
        button = self.toolbar.widgetForAction(action)
        if isinstance(button, QToolButton):
            button.setAutoRaise(False)
        action.setEnabled(bool(self.state.members))
        self.tools.append(action)
        return action

    def add_menu(
        self,
        text: str,
        object_name: str,
        entries: Sequence[tuple[str, str, Callable[[], object]]],
    ) -> QAction:
        """A toolbar entry that drops down a menu of wizards: (text, object name, open)
        for each, enabled and disabled with the page's other tools."""
        menu = QMenu(text, self)
        menu.setObjectName(f"{object_name}Menu")
        for entry_text, entry_name, open_entry in entries:
            item = menu.addAction(entry_text)
            item.setObjectName(entry_name)
            item.triggered.connect(lambda _=False, o=open_entry: o())
        action = self.add_tool(text, object_name, lambda: None)
        action.setMenu(menu)
        button = self.toolbar.widgetForAction(action)
        if isinstance(button, QToolButton):
            button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        return action

    def open_wizard(self, entry: str) -> QWidget | None:
        """Open a certificate wizard for the selected key pair (loaded on first use)."""
        module = importlib.import_module(WIZARDS_MODULE)
        row = self.selected()
        wizard = getattr(module, entry)(self.state, self, row.key.label if row else None)
        if isinstance(wizard, QDialog):
            wizard.finished.connect(lambda _: self._mark_stale())
        return wizard if isinstance(wizard, QWidget) else None

    # --- reading -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the key pairs and their certificates again, only if the session may."""
        services = self.state.services

        def work(_: JobControl) -> CertificateRegister:
            session = self.state.ensure_session()
            return CertificateRegister(
                listing=services.certificates.key_pairs(session),
                policy=services.policies.current(session),
            )

        read_register(
            self,
            what="the key pairs",
            title="read the key pairs and certificates",
            work=work,
            on_done=self._show,
        )

    def _show(self, register: CertificateRegister) -> None:
        self.register = register
        self._show_rows()
        self.count.setText(overview(register.listing))
        self.hint.setText(self.hint_text())
        self._update_buttons()
        self.refreshed.emit()

    def _show_rows(self, *_: Any) -> None:
        chosen = self.selected()
        listing = self.register.listing if self.register else None
        rows = (
            certificate_rows(listing, superseded=self.show_superseded.isChecked())
            if listing
            else []
        )
        self.model.set_rows(rows)
        row = None
        if chosen is not None:
            certificate = chosen.certificate.id if chosen.certificate else None
            row = self.model.row_of(chosen.key.id, certificate)
            if row is None:  # its certificate was renewed, or superseded ones are hidden
                row = next((i for i, r in enumerate(rows) if r.key.id == chosen.key.id), None)
        if rows:
            select_row(self.table, 0 if row is None else row)
        else:
            self._show_detail(None)

    def hint_text(self) -> str:
        r = self.register
        if r is None:
            return ""
        return (
            "Key pairs are generated on the Keys page from a key-pair template. Requesting "
            "or importing a certificate needs "
            f"{r.needs(Action.MANAGE_CERTIFICATES)} (unless the key pair's template sets its "
            "own quorum); the CA that issues it is a partner on the Exchanges page, with its "
            "CA certificates and CRLs. Missing people are asked for their cards when you go "
            "ahead."
        )

    def _clear(self) -> None:
        self.register = None
        self.model.set_rows([])
        self.count.setText("")
        self.hint.setText("")
        self._show_detail(None)

    def say(self, text: str, *, bad: bool = False) -> None:
        self.status.say(text, bad=bad)

    # --- selection and details -----------------------------------------------------------------

    def selected(self) -> CertificateRow | None:
        return current_record(self.table, self.model)

    def select_key(self, label: str) -> bool:
        row = next((i for i, r in enumerate(self.model.records) if r.key.label == label), None)
        if row is None:
            return False
        select_row(self.table, row)
        return True

    def _row_chosen(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_detail(current_record(self.table, self.model))

    def _show_detail(self, row: CertificateRow | None) -> None:
        if row is None:
            self.details.show_facts(None)
        else:
            self.details.show_facts(row.detail_rows(), row.pem, prefix="detail")

    def copy_pem(self) -> None:
        self.details.copy_pem()

    # --- keeping up to date --------------------------------------------------------------------

    def _update_buttons(self) -> None:
        on = bool(self.state.members)
        for action in self.tools:
            action.setEnabled(on)

    def _session_changed(self) -> None:
        if not self.state.members:
            self._ticket += 1  # answers on their way belong to the old session
            self._clear()
            self.status.notice("Log on to see the key pairs and their certificates.")
            self._stale = True
            self._update_buttons()
            return
        self.status.withdraw_notice()
        self._update_buttons()
        self._mark_stale()

    def _data_changed(self, kind: str) -> None:
        if kind in ("keys", "certificates", "policy", "templates"):
            self._mark_stale()

    def _mark_stale(self) -> None:
        self.endpoints.mark_stale()  # a wizard closed may have enrolled or renewed one
        self._stale = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()
