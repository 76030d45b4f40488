"""Exchanges with partners: the partners and their trust anchors, the workstation's own
exchange certificates, and the exchange wizards one click away.

One background read feeds the page (``InterchangeService`` and the policy, on the device
thread, asked first through ``read_if_allowed`` so that a session that may not read them
leaves no refused attempts in the audit log):

- *Partners*: each partner with its kind, the number of CA certificates and CRLs it is
  trusted through, and whether its TR-34 KRD certificate is known; the selected partner's
  certificates in words. "Add partner…" and "Update partner…" run under the
  partner-management quorum; the service checks every certificate and CRL.
- *This workstation's exchange certificates*: the exchange CA, the TR-34 KRD and KDH keys
  and the ECDH keys, made in the HSM on first use. "Publish certificate…" makes one if it
  is not there yet (partner-management quorum) and saves it, PEM, where the person says.

The toolbar opens the wizards of :mod:`workstation.gui.exchange_wizards`. Every button
needs someone logged on; the hint under the toolbar says what each kind of action needs,
in the policy's words. Nothing here decides what is allowed: the service checks again.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from PySide6.QtCore import (
    QModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from workstation.domain.partners import PARTNER_KINDS, Partner
from workstation.domain.policy import Action, MediaExport, PolicySet
from workstation.errors import BadInput
from workstation.files import write_new
from workstation.flows.interchange import (
    EXCHANGE_KEYS,
    PartnerForm,
    PartnerUpdateForm,
    PublishForm,
)
from workstation.services.interchange import (
    EXCHANGE_CA,
    ExchangeIdentity,
    certificate_der,
    certificate_summary,
)

from . import file_choice
from .actions import perform, read_register
from .runner import JobControl
from .state import AppState
from .status import StatusLine
from .tables import RecordModel, RecordRole, current_record, fit_columns, record_table, select_row
from .wizards import FormDialog, wizard_toolbar

log = logging.getLogger(__name__)

__all__ = [
    "WIZARD_ENTRIES",
    "CertificateRow",
    "CertificateTableModel",
    "ExchangeRegister",
    "ExchangesPage",
    "PartnerDialog",
    "PartnerTableModel",
    "PartnerUpdateDialog",
    "PublishDialog",
    "RecordRole",
]

WIZARDS_MODULE = "workstation.gui.exchange_wizards"
# (entry point in WIZARDS_MODULE, toolbar text, object name, tooltip)
WIZARD_ENTRIES: tuple[tuple[str, str, str, str], ...] = (
    (
        "open_export_tr31",
        "Export as TR-31…",
        "exportTr31Action",
        "A key as a TR-31 / X9.143 key block under a KEK shared with a partner",
    ),
    (
        "open_import_tr31",
        "Import a key block…",
        "importTr31Action",
        "A TR-31 key block from a partner: read its header, unwrap it, store it pre-active",
    ),
    (
        "open_tr34",
        "TR-34…",
        "tr34Action",
        "Receive a key as key receiving device, or send one as key distribution host",
    ),
    (
        "open_ecdh",
        "ECDH…",
        "ecdhAction",
        "A key sent or received under a KEK derived by ECDH key agreement",
    ),
    (
        "open_legacy_import",
        "Legacy import…",
        "legacyImportAction",
        "A key received encrypted under a zone master key without a key block (import only)",
    ),
    (
        "open_dukpt_export",
        "DUKPT initial keys…",
        "dukptExportAction",
        "The initial keys of a list of devices, each as a TR-31 block under a transport KEK",
    ),
    (
        "open_dukpt_test",
        "DUKPT test keys…",
        "dukptTestAction",
        "A transaction's keys of a TEST base derivation key, to check a terminal in the lab",
    ),
)


@dataclass(frozen=True)
class CertificateRow:
    """One of the workstation's exchange keys and its certificate (None: not made yet)."""

    name: str
    use: str
    pem: str | None

    @property
    def summary(self) -> str:
        """Who it names, its serial and when it ends (the whole of it in the tooltip)."""
        if self.pem is None:
            return "not made yet"
        try:
            cert = x509.load_der_x509_certificate(certificate_der(self.pem, self.name))
        except (BadInput, ValueError):
            return "(unreadable certificate)"
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        subject = str(names[0].value) if names else cert.subject.rfc4514_string()
        return (
            f"{subject}, serial {cert.serial_number:X}, valid to "
            f"{cert.not_valid_after_utc:%Y-%m-%d}"
        )

    @property
    def detail(self) -> str:
        if self.pem is None:
            return "Not made yet: Publish certificate… makes it in the HSM."
        return _summary_of(self.pem, self.name)


@dataclass(frozen=True)
class ExchangeRegister:
    """What the page shows, read in one go on the device thread."""

    partners: list[Partner]
    identity: ExchangeIdentity
    policy: PolicySet

    def needs(self, action: Action) -> str:
        try:
            return self.policy.quorum_for(action).describe()
        except BadInput:
            return "(no policy set)"

    def certificate_rows(self) -> list[CertificateRow]:
        rows = [
            CertificateRow(
                EXCHANGE_CA, "issues the certificates below", self.identity.ca_certificate
            )
        ]
        rows += [
            CertificateRow(name, use, self.identity.certificates.get(name))
            for name, use in EXCHANGE_KEYS.items()
        ]
        return rows


def _summary_of(pem: str, what: str) -> str:
    try:
        return certificate_summary(certificate_der(pem, what))
    except (BadInput, ValueError):
        return "(unreadable certificate)"


# --- table models --------------------------------------------------------------------------


class PartnerTableModel(RecordModel[Partner]):
    """Exchange partners by name."""

    NAME, KIND, CAS, CRLS, KRD = range(5)
    HEADERS = ("Partner", "Kind", "CAs", "CRLs", "KRD certificate")
    TIPS = (
        "",
        "bank, processor, card brand, host HSM, cloud service, device vendor",
        "CA certificates this partner's certificates must chain to",
        "Certificate revocation lists of those CAs",
        "The partner's TR-34 key receiving device certificate (needed to send it keys by TR-34)",
    )

    def _ordered(self, rows: list[Partner]) -> list[Partner]:
        return sorted(rows, key=lambda p: p.name.casefold())

    def row_of(self, name: str) -> int | None:
        return next((i for i, p in enumerate(self._rows) if p.name == name), None)

    def _display(self, record: Partner, column: int) -> str:
        if column == self.NAME:
            return record.name
        if column == self.KIND:
            return record.kind
        if column == self.CAS:
            return str(len(record.ca_certificates))
        if column == self.CRLS:
            return str(len(record.crls))
        if column == self.KRD:
            return "yes" if record.krd_certificate else "—"
        return ""


class CertificateTableModel(RecordModel[CertificateRow]):
    """The workstation's exchange keys and their certificates."""

    KEY, USE, CERTIFICATE = range(3)
    HEADERS = ("Exchange key", "Used for", "Certificate")

    def _tooltip(self, record: CertificateRow, column: int) -> str | None:
        return record.detail if column == self.CERTIFICATE else None

    def _display(self, record: CertificateRow, column: int) -> str:
        if column == self.KEY:
            return record.name
        if column == self.USE:
            return record.use
        if column == self.CERTIFICATE:
            return record.summary
        return ""


# --- dialogs -------------------------------------------------------------------------------


def _folder(state: AppState) -> str:
    folder = state.settings.value("exchanges/folder", "")
    return folder if isinstance(folder, str) and folder else str(Path.home())


class _FileList(QWidget):
    """Files chosen one or several at a time, listed, removable."""

    def __init__(self, name: str, what: str, state: AppState, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.what = what
        self.state = state
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget(self)
        self.list.setObjectName(f"{name}List")
        self.list.setFixedHeight(64)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        layout.addWidget(self.list, 1)
        buttons = QVBoxLayout()
        self.add_button = QPushButton("Add…", self)
        self.add_button.setObjectName(f"{name}Add")
        self.add_button.clicked.connect(self.ask)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setObjectName(f"{name}Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)

    def ask(self) -> None:
        chosen = file_choice.open_files(
            self,
            f"Choose {self.what} files",
            _folder(self.state),
            "Certificates and CRLs (*.pem *.crt *.cer *.der *.crl);;All files (*)",
        )
        self.add(chosen)

    def add(self, paths: Iterable[Path]) -> None:
        for path in paths:
            if str(path) not in self.texts():
                self.list.addItem(str(path))
                self.state.settings.setValue("exchanges/folder", str(path.parent))

    def remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))

    def texts(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def paths(self) -> list[Path]:
        return [Path(t) for t in self.texts()]


class _OneFile(QWidget):
    """One file, optional: its path, Choose… and Clear."""

    def __init__(
        self, name: str, what: str, state: AppState, parent: QWidget, *, save: bool = False
    ) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.what = what
        self.state = state
        self.save = save
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit(self)
        self.edit.setObjectName(f"{name}Edit")
        self.edit.setPlaceholderText("none" if not save else "choose where to save it")
        layout.addWidget(self.edit, 1)
        choose = QPushButton("Choose…", self)
        choose.setObjectName(f"{name}Choose")
        choose.clicked.connect(self.ask)
        layout.addWidget(choose)

    def ask(self) -> None:
        if self.save:
            chosen = file_choice.save_file(
                self,
                f"Save the {self.what}",
                str(Path(_folder(self.state)) / (self.edit.placeholderText() or "")),
                "PEM files (*.pem);;All files (*)",
                kind=MediaExport.KEY_EXCHANGE,
                confirm_overwrite=False,
            )
        else:
            chosen = file_choice.open_file(
                self, f"Choose the {self.what}", _folder(self.state), "All files (*)"
            )
        if chosen is not None:
            self.edit.setText(str(chosen))
            self.state.settings.setValue("exchanges/folder", str(chosen.parent))

    def path(self) -> Path | None:
        text = self.edit.text().strip()
        return Path(text) if text else None


class _FormDialog(FormDialog):
    """A form dialog of the Exchanges page: OK runs the change under its quorum (perform)
    and closes once it is done."""

    def __init__(self, page: ExchangesPage, name: str, title: str, intro: str) -> None:
        super().__init__(page, name, title, intro)
        self.page = page

    def add_notes(self, text: str) -> QPlainTextEdit:
        """The partner's notes, a few lines (Tab leaves the field)."""
        notes = QPlainTextEdit(text, self)
        notes.setObjectName("partnerNotes")
        notes.setMaximumHeight(70)
        notes.setTabChangesFocus(True)
        self.add_row("Notes:", notes, "notes")
        return notes

    def run_change(
        self,
        *,
        action: Action,
        title: str,
        call: Callable[[Any], Any],
        said: Callable[[Any], str],
    ) -> None:
        """The change under ``action``'s quorum; once it is done the dialog closes and the
        page says ``said(result)``."""

        def done(result: Any) -> None:
            self.accept()
            self.page.say(said(result))

        self.page.change(action=action, title=title, call=call, parent=self, on_done=done)


class PartnerDialog(_FormDialog):
    """Add an exchange partner with its trust anchors."""

    def __init__(self, page: ExchangesPage) -> None:
        needs = page.needs(Action.MANAGE_PARTNERS)
        super().__init__(
            page,
            "partnerDialog",
            "Add an exchange partner",
            "A partner is trusted through the CA certificates given here: a TR-34 or ECDH "
            "certificate of theirs must chain to one of them, and is refused when a CRL "
            f"lists it. Adding a partner needs {needs}.",
        )
        state = page.state
        self.name = QLineEdit(self)
        self.name.setObjectName("partnerName")
        self.name.setPlaceholderText("e.g. Acquirer Bank 042")
        self.add_row("Name:", self.name, "name")
        self.kind = QComboBox(self)
        self.kind.setObjectName("partnerKind")
        self.kind.addItem("Choose…", "")
        for kind in PARTNER_KINDS:
            self.kind.addItem(kind, kind)
        self.add_row("Kind:", self.kind, "kind")
        self.cas = _FileList("caFiles", "CA certificate", state, self)
        self.add_row("CA certificates:", self.cas, "ca_files")
        self.crls = _FileList("crlFiles", "CRL", state, self)
        self.add_row("CRLs:", self.crls, "crl_files")
        self.krd = _OneFile("krdFile", "KRD certificate", state, self)
        self.add_row("KRD certificate (TR-34):", self.krd, "krd_file")
        self.notes = self.add_notes("")
        self.finish_layout("&Add partner", "addPartnerButton")
        self.resize(640, self.sizeHint().height())

    def form_values(self) -> PartnerForm:
        return PartnerForm(
            name=self.name.text(),
            kind=str(self.kind.currentData() or ""),
            ca_files=self.cas.paths(),
            crl_files=self.crls.paths(),
            krd_file=self.krd.path(),
            notes=self.notes.toPlainText(),
            existing=frozenset(p.name.casefold() for p in self.page.partners()),
        )

    def submit(self) -> None:
        form = self.form_values()
        if not self.show_errors(form.validate()):
            return
        services = self.page.state.services

        def call(session: Any) -> Partner:
            return services.interchange.add_partner(session, **form.read())

        self.run_change(
            action=Action.MANAGE_PARTNERS,
            title=f"Adding partner {form.name.strip()}",
            call=call,
            said=lambda partner: f"Partner {partner.name} added.",
        )


class PartnerUpdateDialog(_FormDialog):
    """Add CA certificates, replace the CRLs or the KRD certificate, change the notes."""

    def __init__(self, page: ExchangesPage, partner: Partner) -> None:
        needs = page.needs(Action.MANAGE_PARTNERS)
        super().__init__(
            page,
            "partnerUpdateDialog",
            f"Update partner {partner.name}",
            f"{partner.name} ({partner.kind}): {len(partner.ca_certificates)} CA "
            f"certificate(s), {len(partner.crls)} CRL(s), "
            f"{'a' if partner.krd_certificate else 'no'} KRD certificate. A newer CRL list "
            f"replaces the stored one. Changing a partner needs {needs}.",
        )
        self.partner = partner
        state = page.state
        self.cas = _FileList("addCaFiles", "CA certificate", state, self)
        self.add_row("Add CA certificates:", self.cas, "add_ca_files")
        self.replace_crls = QCheckBox(
            "Replace the stored CRLs with these (none: remove them)", self
        )
        self.replace_crls.setObjectName("replaceCrls")
        self.form.addRow("", self.replace_crls)
        self.crls = _FileList("crlFiles", "CRL", state, self)
        self.crls.setEnabled(False)
        self.replace_crls.toggled.connect(self.crls.setEnabled)
        self.add_row("CRLs:", self.crls, "crl_files")
        self.krd = _OneFile("krdFile", "KRD certificate", state, self)
        self.add_row("New KRD certificate:", self.krd, "krd_file")
        self.notes = self.add_notes(partner.notes)
        self.finish_layout("&Update partner", "updatePartnerButton")
        self.resize(640, self.sizeHint().height())

    def form_values(self) -> PartnerUpdateForm:
        return PartnerUpdateForm(
            partner=self.partner,
            add_ca_files=self.cas.paths(),
            replace_crls=self.replace_crls.isChecked(),
            crl_files=self.crls.paths(),
            krd_file=self.krd.path(),
            notes=self.notes.toPlainText(),
        )

    def submit(self) -> None:
        form = self.form_values()
        if not self.show_errors(form.validate()):
            return
        services = self.page.state.services
        name = self.partner.name

        def call(session: Any) -> Partner:
            return services.interchange.update_partner(session, name, **form.read())

        self.run_change(
            action=Action.MANAGE_PARTNERS,
            title=f"Updating partner {name}",
            call=call,
            said=lambda partner: (
                f"Partner {partner.name} updated (record version {partner.version})."
            ),
        )


@dataclass(frozen=True)
class Published:
    name: str
    files: tuple[Path, ...]


class PublishDialog(_FormDialog):
    """Publish one of the workstation's exchange certificates: made on first use, saved as
    PEM where the person says (the exchange CA's certificate beside it, if asked)."""

    def __init__(self, page: ExchangesPage, name: str | None = None) -> None:
        super().__init__(
            page,
            "publishDialog",
            "Publish an exchange certificate",
            "Partners need this workstation's certificates: the TR-34 KRD certificate to "
            "send keys here, the ECDH certificate to agree a KEK, and the exchange CA's "
            "certificate to check them. A key pair not made yet is made in the HSM now, "
            f"which needs {page.needs(Action.MANAGE_PARTNERS)}.",
        )
        state = page.state
        identity = page.identity()
        self.existing = frozenset(identity.certificates) if identity else frozenset()
        self.key = QComboBox(self)
        self.key.setObjectName("exchangeKey")
        for key_name, use in EXCHANGE_KEYS.items():
            made = "" if key_name in self.existing else " (made now)"
            self.key.addItem(f"{key_name} — {use}{made}", key_name)
        if name is not None:
            self.key.setCurrentIndex(max(self.key.findData(name), 0))
        self.add_row("Exchange key:", self.key, "name")
        self.effect = QLabel(self)
        self.effect.setObjectName("publishEffect")
        self.effect.setWordWrap(True)
        self.form.addRow("", self.effect)
        self.certificate = _OneFile("certificateFile", "certificate", state, self, save=True)
        self.add_row("Save the certificate as:", self.certificate, "certificate_file")
        self.with_ca = QCheckBox("Also save the exchange CA's certificate", self)
        self.with_ca.setObjectName("withCa")
        self.with_ca.setChecked(True)
        self.form.addRow("", self.with_ca)
        self.ca = _OneFile("caFile", "exchange CA certificate", state, self, save=True)
        self.with_ca.toggled.connect(self.ca.setEnabled)
        self.add_row("Save the CA certificate as:", self.ca, "ca_file")
        self.finish_layout("&Publish", "publishButton")
        self.key.currentIndexChanged.connect(self._chosen)
        self._chosen()
        self.resize(640, self.sizeHint().height())

    def _chosen(self, *_: Any) -> None:
        name = str(self.key.currentData())
        self.effect.setText(self.form_values().describe())
        self.certificate.edit.setPlaceholderText(f"{name}.pem")
        self.ca.edit.setPlaceholderText("exchange-ca.pem")

    def form_values(self) -> PublishForm:
        return PublishForm(
            name=str(self.key.currentData()),
            certificate_file=self.certificate.path(),
            ca_file=self.ca.path() if self.with_ca.isChecked() else None,
            existing=self.existing,
        )

    def submit(self) -> None:
        form = self.form_values()
        if not self.show_errors(form.validate()):
            return
        services = self.page.state.services
        assert form.certificate_file is not None
        target, ca_target = form.certificate_file, form.ca_file

        def call(session: Any) -> Published:
            pem = services.interchange.exchange_certificate(session, form.name)
            written = [write_new(str(target), pem.encode())]
            if ca_target is not None:
                ca_pem = services.interchange.exchange_identity(session).ca_certificate
                if ca_pem is not None:
                    written.append(write_new(str(ca_target), ca_pem.encode()))
            return Published(form.name, tuple(written))

        def said(published: Published) -> str:
            files = " and ".join(str(f) for f in published.files)
            return f"The {published.name} certificate was saved: {files}."

        self.run_change(
            action=Action.MANAGE_PARTNERS if form.makes_new else Action.VIEW_INVENTORY,
            title=f"Publishing the {form.name} certificate",
            call=call,
            said=said,
        )


# --- the page ------------------------------------------------------------------------------


class ExchangesPage(QWidget):
    """Toolbar of exchange wizards; partners; the workstation's exchange certificates."""

    refreshed = Signal()  # after each read shown

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exchangesPage")
        self.state = state
        self._stale = True
        self._ticket = 0
        self.register: ExchangeRegister | None = None

        self.toolbar, self.wizard_actions = wizard_toolbar(
            self, "Exchanges", "exchangeToolbar", WIZARD_ENTRIES, self.open_wizard
        )

        self.hint = QLabel(self)
        self.hint.setObjectName("exchangesHint")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #555;")
        self.status = StatusLine("exchangesStatus", self)

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.setObjectName("exchangesSplitter")
        splitter.addWidget(self._build_partners())
        splitter.addWidget(self._build_certificates())
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.hint)
        layout.addWidget(self.status)
        layout.addWidget(splitter, 1)

        state.session_changed.connect(self._session_changed)
        state.data_changed.connect(self._data_changed)
        state.unlocked.connect(self._mark_stale)
        self._session_changed()

    # --- building ----------------------------------------------------------------------------

    def _build_partners(self) -> QWidget:
        box = QGroupBox("Partners", self)
        self.partner_model = PartnerTableModel(self)
        self.partner_table = record_table(self.partner_model, "partnerTable", box)
        fit_columns(
            self.partner_table,
            {
                PartnerTableModel.NAME: "Acquirer Bank 042 Europe",
                PartnerTableModel.KIND: "device-vendor",
                PartnerTableModel.CAS: "CAs",
                PartnerTableModel.CRLS: "CRLs",
            },
        )
        self.partner_table.selectionModel().currentRowChanged.connect(self._partner_chosen)
        self.partner_detail = QLabel(box)
        self.partner_detail.setObjectName("partnerDetail")
        self.partner_detail.setWordWrap(True)
        self.partner_detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.partner_detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.add_button = QPushButton("Add &partner…", box)
        self.add_button.setObjectName("addPartnerButton")
        self.add_button.clicked.connect(self.add_partner)
        self.update_button = QPushButton("Update partne&r…", box)
        self.update_button.setObjectName("updatePartnerButton")
        self.update_button.clicked.connect(self.update_partner)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.update_button)
        buttons.addStretch(1)
        self.partner_count = QLabel(box)
        self.partner_count.setObjectName("partnerCount")
        buttons.addWidget(self.partner_count)
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        row.addWidget(self.partner_table, 3)
        row.addWidget(self.partner_detail, 2)
        layout.addLayout(row, 1)
        layout.addLayout(buttons)
        return box

    def _build_certificates(self) -> QWidget:
        box = QGroupBox("This workstation's exchange certificates", self)
        self.certificate_model = CertificateTableModel(self)
        self.certificate_table = record_table(self.certificate_model, "certificateTable", box)
        fit_columns(
            self.certificate_table,
            {
                CertificateTableModel.KEY: "exchange-ca",
                CertificateTableModel.USE: max(EXCHANGE_KEYS.values(), key=len),
            },
        )
        self.publish_button = QPushButton("Pu&blish certificate…", box)
        self.publish_button.setObjectName("publishButton")
        self.publish_button.clicked.connect(self.publish)
        buttons = QHBoxLayout()
        buttons.addWidget(self.publish_button)
        buttons.addStretch(1)
        # Six rows, always: the table is as tall as them, the partners take the rest.
        rows = 1 + len(EXCHANGE_KEYS)
        height = self.certificate_table.verticalHeader().defaultSectionSize() * rows
        self.certificate_table.setFixedHeight(
            height + self.certificate_table.horizontalHeader().sizeHint().height() + 4
        )
        self.certificate_table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(box)
        layout.addWidget(self.certificate_table)
        layout.addLayout(buttons)
        return box

    # --- reading -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the partners and certificates again, only if the session may."""
        services = self.state.services

        def work(_: JobControl) -> ExchangeRegister:
            session = self.state.ensure_session()
            return ExchangeRegister(
                partners=services.interchange.partners(session),
                identity=services.interchange.exchange_identity(session),
                policy=services.policies.current(session),
            )

        read_register(
            self,
            what="the partners",
            title="read the exchange partners",
            work=work,
            on_done=self._show,
        )

    def _show(self, register: ExchangeRegister) -> None:
        self.register = register
        chosen = self.selected_partner()
        self.partner_model.set_rows(register.partners)
        row = self.partner_model.row_of(chosen.name) if chosen else None
        if self.partner_model.rowCount():
            select_row(self.partner_table, 0 if row is None else row)
        else:
            self.partner_detail.setText(
                "No exchange partner yet. Add one with its CA certificates, then exchange "
                "keys with it through the wizards above."
            )
        n = len(register.partners)
        self.partner_count.setText(f"{n} partner{'s' if n != 1 else ''}" if n else "")
        self.certificate_model.set_rows(register.certificate_rows())
        self.hint.setText(self.hint_text())
        self._update_buttons()
        self.refreshed.emit()

    def hint_text(self) -> str:
        r = self.register
        if r is None:
            return ""
        return (
            f"Adding or changing a partner, and making an exchange certificate, needs "
            f"{r.needs(Action.MANAGE_PARTNERS)}. Exporting a key needs "
            f"{r.needs(Action.EXPORT_KEY)}; importing one needs {r.needs(Action.IMPORT_KEY)} "
            "(unless the key's template sets its own quorum); the DUKPT test tool needs "
            f"{r.needs(Action.DERIVE_TEST_KEYS)}. Missing people are asked for their cards "
            "when you go ahead."
        )

    def needs(self, action: Action) -> str:
        return self.register.needs(action) if self.register else "its quorum"

    def partners(self) -> list[Partner]:
        return list(self.register.partners) if self.register else []

    def identity(self) -> ExchangeIdentity | None:
        return self.register.identity if self.register else None

    def _clear(self) -> None:
        self.register = None
        self.partner_model.set_rows([])
        self.certificate_model.set_rows([])
        self.partner_detail.setText("")
        self.partner_count.setText("")
        self.hint.setText("")

    def say(self, text: str, *, bad: bool = False) -> None:
        self.status.say(text, bad=bad)

    # --- selection ---------------------------------------------------------------------------

    def selected_partner(self) -> Partner | None:
        return current_record(self.partner_table, self.partner_model)

    def select_partner(self, name: str) -> bool:
        row = self.partner_model.row_of(name)
        if row is None:
            return False
        select_row(self.partner_table, row)
        return True

    def _partner_chosen(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        p = self.selected_partner()
        if p is None:
            return
        lines = [f"{p.name} — {p.kind}, record version {p.version}"]
        lines += [f"CA: {_summary_of(c, 'CA')}" for c in p.ca_certificates] or [
            "No CA certificate."
        ]
        lines.append(f"CRLs: {len(p.crls)}")
        lines.append(
            f"KRD certificate: {_summary_of(p.krd_certificate, 'KRD')}"
            if p.krd_certificate
            else "KRD certificate: none (needed to send keys by TR-34)"
        )
        if p.notes:
            lines.append(f"Notes: {p.notes}")
        self.partner_detail.setText("\n".join(lines))
        self._update_buttons()

    # --- actions -----------------------------------------------------------------------------

    def change(
        self,
        *,
        action: Action,
        title: str,
        call: Callable[[Any], Any],
        parent: QWidget,
        on_done: Callable[[Any], Any],
    ) -> None:
        """Run a change under ``action``'s quorum; then read the page again."""
        state = self.state

        def work(_: JobControl) -> Any:
            return call(state.ensure_session())

        def done(result: Any) -> None:
            state.data_changed.emit("partners")
            on_done(result)

        perform(state, parent, action=action, title=title, work=work, on_done=done)

    def _open(self, dialog: QDialog) -> QDialog:
        dialog.finished.connect(lambda _: dialog.deleteLater())
        dialog.open()
        return dialog

    def add_partner(self) -> QDialog:
        return self._open(PartnerDialog(self))

    def update_partner(self) -> QDialog | None:
        partner = self.selected_partner()
        if partner is None:
            return None
        return self._open(PartnerUpdateDialog(self, partner))

    def publish(self) -> QDialog:
        row = current_record(self.certificate_table, self.certificate_model)
        name = row.name if row is not None and row.name in EXCHANGE_KEYS else None
        return self._open(PublishDialog(self, name))

    def open_wizard(self, entry: str) -> QWidget | None:
        """Open an exchange wizard (its module is loaded on first use)."""
        module = importlib.import_module(WIZARDS_MODULE)
        wizard = getattr(module, entry)(self.state, self)
        if isinstance(wizard, QDialog):
            wizard.finished.connect(lambda _: self._mark_stale())
        return wizard if isinstance(wizard, QWidget) else None

    # --- keeping up to date ------------------------------------------------------------------

    def _update_buttons(self) -> None:
        on = bool(self.state.members)
        for action in self.wizard_actions.values():
            action.setEnabled(on)
        self.add_button.setEnabled(on)
        self.publish_button.setEnabled(on)
        self.update_button.setEnabled(on and self.selected_partner() is not None)
        tip = "" if on else "Log on first."
        for widget in (self.add_button, self.update_button, self.publish_button):
            widget.setToolTip(tip)

    def _session_changed(self) -> None:
        if not self.state.members:
            self._ticket += 1  # answers on their way belong to the old session
            self._clear()
            self.status.notice("Log on to see the exchange partners.")
            self._stale = True
            self._update_buttons()
            return
        self.status.withdraw_notice()
        self._update_buttons()
        self._mark_stale()

    def _data_changed(self, kind: str) -> None:
        if kind in ("partners", "exchanges", "policy"):
            self._mark_stale()

    def _mark_stale(self) -> None:
        self._stale = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()
