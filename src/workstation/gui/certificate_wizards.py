"""The certificate wizards: a request signed by a key pair in the HSM, and the certificate
the CA returns, checked and kept.

Each wizard renders a flow of :mod:`workstation.flows.certificates`; a page's
``validatePage()`` asks the flow's validator and shows its errors next to the fields. What
the wizards choose from (the key pairs with their certificates, the partners) is read once,
on the device thread, when a wizard opens. The work runs through ``gui.actions.perform``:
the co-sign dialog opens when people are missing for the certificate quorum of the key
pair's template, then the certificate service runs on the device thread and checks every
rule again.

- "Request a certificate": the key pair; the profile (the subject checked as it is typed,
  RFC 4514; DNS names, IP addresses, e-mails; key usage and extended key usage with
  defaults from the template; CA); PEM or DER and a new file; the quorum; the request's
  subject and SHA-256 on the last page, and its PEM to copy.
- "Import a certificate": the key pair and the issuing partner; the certificate file (PEM,
  DER, bundle or PKCS #7) and optional chain files, previewed as they are chosen; the usage
  it must allow; the quorum; the validated facts, or the refusal in full (nothing is kept).

Entry points (the Certificates page calls them): :func:`open_request`, :func:`open_import`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizard,
)

from workstation.domain.policy import Action, MediaExport
from workstation.errors import BadInput
from workstation.files import write_new
from workstation.flows.certificates import (
    EKU_CHOICES,
    FORMATS,
    KEY_USAGE_CHOICES,
    CertificateData,
    ImportCertificateFlow,
    ImportOutcome,
    ImportStep,
    ProfileInput,
    RequestFlow,
    RequestStep,
    file_lines,
    pair_line,
    subject_status,
    usable_key_usages,
)
from workstation.flows.interchange import LoadedFile, read_file
from workstation.flows.kiosk_places import OutsideKioskPlaces
from workstation.flows.wizards import FieldErrors, StepInfo
from workstation.services.app import WorkstationServices
from workstation.services.certificates import CertificateRequest, KeyPairCertificates
from workstation.services.session import Session

from . import file_choice
from .errors import describe, show_error
from .exchange_wizards import _Choice, _mono
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
    "ImportCertificateWizard",
    "RequestCertificateWizard",
    "open_import",
    "open_request",
    "read_certificate_data",
]

SETTINGS_FOLDER = "certificates/folder"
REFUSAL_STYLE = "color: #a40000; font-weight: bold;"
CERTIFICATE_FILES = "Certificates (*.pem *.crt *.cer *.der *.p7b *.p7c);;All files (*)"


def open_request(state: AppState, parent: QWidget | None, key_label: str | None = None) -> QWizard:
    """Request a certificate for a key pair (``key_label`` chosen first if it may be)."""
    wizard = RequestCertificateWizard(state, parent, key_label)
    wizard.open()
    return wizard


def open_import(state: AppState, parent: QWidget | None, key_label: str | None = None) -> QWizard:
    """Import the certificate a CA issued for a key pair."""
    wizard = ImportCertificateWizard(state, parent, key_label)
    wizard.open()
    return wizard


def read_certificate_data(services: WorkstationServices, session: Session) -> CertificateData:
    """Everything the wizards choose from, in one read (run it on the device thread)."""
    listing = services.certificates.key_pairs(session)
    return CertificateData(
        pairs=listing.pairs,
        partners=tuple(services.interchange.partners(session)),
        truncated=listing.truncated,
    )


# --- the wizard base -----------------------------------------------------------------------


class _CertificateWizard(_FlowWizard):
    """A certificate wizard: reads what it chooses from once, runs its work under the
    certificate quorum of the chosen key pair's template."""

    loaded = Signal()
    flow: RequestFlow | ImportCertificateFlow

    def __init__(self, state: AppState, parent: QWidget | None) -> None:
        super().__init__(state, parent)
        self.resize(900, 700)
        self.data: CertificateData | None = None
        self.load_error: str | None = None

    def load(self) -> None:
        services = self.state.services

        def work(_: JobControl) -> CertificateData:
            return read_certificate_data(services, self.state.ensure_session())

        def done(data: CertificateData) -> None:
            self.data = data
            self.load_error = None
            self.flow.load(data)
            self.loaded.emit()

        def failed(exc: BaseException) -> None:
            self.load_error = describe(exc)[1]
            self.loaded.emit()

        self.call(work, done, failed, title="read the key pairs and partners")

    def run(
        self, title: str, work: Callable[[Session], Any], on_done: Callable[[Any], None]
    ) -> None:
        """``work`` under the certificate quorum, on the device thread."""
        self.run_action(
            action=Action.MANAGE_CERTIFICATES,
            title=title,
            work=lambda _control: work(self.state.ensure_session()),
            on_done=on_done,
            template=self.flow.quorum_template,
        )

    # files

    def folder(self) -> str:
        folder = self.state.settings.value(SETTINGS_FOLDER, "")
        return folder if isinstance(folder, str) and folder else str(Path.home())

    def remember_folder(self, path: Path) -> None:
        self.state.settings.setValue(SETTINGS_FOLDER, str(path.parent))

    def ask_open(self, parent: QWidget, title: str) -> Path | None:
        return file_choice.open_file(parent, title, self.folder(), CERTIFICATE_FILES)

    def ask_save(self, parent: QWidget, title: str, suggested: str) -> Path | None:
        """A new file to write (no question about replacing: writing refuses one)."""
        path = file_choice.save_file(
            parent,
            title,
            str(Path(self.folder()) / suggested),
            "Certificate requests (*.csr *.der *.p10);;All files (*)",
            kind=MediaExport.CERTIFICATES,
            confirm_overwrite=False,
        )
        if path is None:
            return None
        self.remember_folder(path)
        return path


W = TypeVar("W", bound=QWidget)


class _Page(_FlowPage):
    """A page of a certificate wizard, titled by its flow step."""

    def __init__(self, wizard: _CertificateWizard, info: StepInfo, name: str) -> None:
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName(name)
        self.w = wizard

    def add_field(self, form: QFormLayout, label: str, widget: W, field: str) -> W:
        form.addRow(label, widget)
        self.add_error(field, form)
        return widget

    def accept_step(self, step: Any, errors: FieldErrors, store: Callable[[], None]) -> bool:
        """Errors beside their fields, or the flow back at ``step``, the input stored and
        the flow moved on (``validatePage``'s answer)."""
        if not self.show_errors(errors):
            return False
        flow = self.w.flow
        flow.back_to(step)
        store()
        flow.advance()
        return True


class _KeyPage(_Page):
    """The key pair (and, importing, the partner); filled once the data is read."""

    def __init__(self, wizard: _CertificateWizard, info: StepInfo) -> None:
        super().__init__(wizard, info, "keyPage")
        layout = QVBoxLayout(self)
        self.status = _note("Reading the key pairs…", self)
        self.status.setObjectName("loadStatus")
        layout.addWidget(self.status)
        self.form = _form()
        self.key = self.add_field(self.form, "Key pair:", _Choice("keyPairChoice", self), "key")
        layout.addLayout(self.form)
        self.detail = _note("", self)
        self.detail.setObjectName("keyPairDetail")
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.detail)
        self.key.currentIndexChanged.connect(self._key_changed)
        self.body = layout
        wizard.loaded.connect(self._loaded)

    def _loaded(self) -> None:
        self.completeChanged.emit()
        if self.w.load_error:
            self.status.setStyleSheet(ERROR_STYLE)
            self.status.setText(self.w.load_error)
            return
        data = self.w.data
        assert data is not None
        flow = self.w.flow
        pairs = flow.key_pairs()
        self.key.set_items((pair_line(p), p.key.label) for p in pairs)
        if flow.wanted and not self.key.choose(flow.wanted):
            wanted = data.pair(flow.wanted)
            if wanted is not None and wanted.refusal:
                self.errors["key"].show_error(wanted.refusal)
        others = len(data.pairs) - len(pairs)
        text = [f"{len(pairs)} key pair{'s' if len(pairs) != 1 else ''} can be certified."]
        if others:
            text.append(
                f"{others} other{'s' if others != 1 else ''} cannot (destroyed, deactivated, "
                "suspended or compromised, or a template that does not allow it)."
            )
        if not data.pairs:
            text = [
                "There is no key pair yet: generate one on the Keys page from a key-pair "
                "template (TLS server key pair, ATM RKL host key pair, …)."
            ]
        self.status.setStyleSheet("")
        self.status.setText(" ".join(text))
        self.fill(data)

    def fill(self, data: CertificateData) -> None:
        """More lists of the page (the import's partners)."""

    def chosen_pair(self) -> KeyPairCertificates | None:
        return self.w.data.pair(self.key.value()) if self.w.data else None

    def _key_changed(self, *_: Any) -> None:
        pair = self.chosen_pair()
        if pair is None:
            self.detail.setText("")
            return
        current = pair.current
        lines = [f"Template: {pair.template_name}. Public key check value {pair.key.kcv}."]
        if current is not None:
            lines.append(
                f"Current certificate: {current.subject}, serial {current.serial}, issued by "
                f"{current.issuer}, valid to {current.not_after:%Y-%m-%d}."
            )
        else:
            lines.append("No certificate yet.")
        self.detail.setText("\n".join(lines))

    def isComplete(self) -> bool:
        return self.w.data is not None and super().isComplete()


def _checkboxes(
    page: QWidget, title: str, choices: Iterable[tuple[str, str]], prefix: str, columns: int
) -> tuple[QGroupBox, dict[str, QCheckBox]]:
    box = QGroupBox(title, page)
    grid = QGridLayout(box)
    boxes: dict[str, QCheckBox] = {}
    for index, (name, text) in enumerate(choices):
        check = QCheckBox(text, box)
        check.setObjectName(f"{prefix}_{name}")
        check.setToolTip(name)
        grid.addWidget(check, index // columns, index % columns)
        boxes[name] = check
    return box, boxes


def _checked(boxes: dict[str, QCheckBox]) -> list[str]:
    return [name for name, check in boxes.items() if check.isChecked() and check.isEnabled()]


def _names_edit(name: str, placeholder: str, parent: QWidget) -> QPlainTextEdit:
    edit = QPlainTextEdit(parent)
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    edit.setTabChangesFocus(True)
    edit.setFixedHeight(64)
    return edit


# --- request a certificate -----------------------------------------------------------------


class _RequestKeyPage(_KeyPage):
    def __init__(self, wizard: RequestCertificateWizard) -> None:
        super().__init__(wizard, wizard.flow.info(RequestStep.KEY))
        self.flow = wizard.flow
        self.body.addWidget(self.general_error)
        self.body.addStretch(1)

    def validatePage(self) -> bool:
        label = self.key.value()
        return self.accept_step(
            RequestStep.KEY, self.flow.validate_key(label), lambda: self.flow.choose_key(label)
        )


class _ProfilePage(_Page):
    """The subject (checked as it is typed), the alternative names, the usage, the CA flag."""

    def __init__(self, wizard: RequestCertificateWizard) -> None:
        super().__init__(wizard, wizard.flow.info(RequestStep.PROFILE), "profilePage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        self.renewal = _note("", self)
        self.renewal.setObjectName("renewalNote")
        layout.addWidget(self.renewal)
        row = QHBoxLayout()
        title = QLabel("&Subject (RFC 4514):", self)
        self.subject = QLineEdit(self)
        self.subject.setObjectName("subjectEdit")
        self.subject.setPlaceholderText("e.g. CN=host.bank.example,O=Bank,C=GB")
        self.subject.setClearButtonEnabled(True)
        _mono(self.subject)
        title.setBuddy(self.subject)
        row.addWidget(title)
        row.addWidget(self.subject, 1)
        layout.addLayout(row)
        self.subject_status = QLabel(self)
        self.subject_status.setObjectName("subjectStatus")
        self.subject_status.setWordWrap(True)
        layout.addWidget(self.subject_status)
        self.add_error("subject", layout)
        self.subject.textChanged.connect(self._subject_changed)

        names = QGridLayout()
        self.dns = _names_edit("dnsNames", "host.bank.example\n*.api.bank.example", self)
        self.ips = _names_edit("ipAddresses", "10.20.30.40\n2001:db8::1", self)
        self.emails = _names_edit("emailAddresses", "pki@bank.example", self)
        for column, (text, edit, field) in enumerate(
            (
                ("DNS names:", self.dns, "dns_names"),
                ("IP addresses:", self.ips, "ip_addresses"),
                ("E-mail addresses:", self.emails, "emails"),
            )
        ):
            title = QLabel(text, self)
            title.setBuddy(edit)
            names.addWidget(title, 0, column)
            names.addWidget(edit, 1, column)
            names.addWidget(self._error_label(field), 2, column)
        layout.addLayout(names)

        ku_box, self.usages = _checkboxes(self, "Key usage", KEY_USAGE_CHOICES.items(), "usage", 3)
        layout.addWidget(ku_box)
        self.add_error("key_usage", layout)
        eku_box, self.purposes = _checkboxes(
            self, "Extended key usage", EKU_CHOICES.items(), "purpose", 3
        )
        other = QHBoxLayout()
        other.addWidget(QLabel("Other purposes (dotted OIDs):", eku_box))
        self.other = QLineEdit(eku_box)
        self.other.setObjectName("otherPurposes")
        self.other.setPlaceholderText("e.g. 1.3.6.1.4.1.311.20.2.2")
        other.addWidget(self.other, 1)
        grid = eku_box.layout()
        assert isinstance(grid, QGridLayout)
        grid.addLayout(other, grid.rowCount(), 0, 1, 3)
        layout.addWidget(eku_box)
        self.add_error("extended_key_usage", layout)
        self.ca = QCheckBox("Request a CA certificate (basic constraints cA)", self)
        self.ca.setObjectName("caFlag")
        layout.addWidget(self.ca)
        self.add_error("ca", layout)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        # A field's error goes once the field changes (checked again on Next).
        for edit, field in (
            (self.dns, "dns_names"),
            (self.ips, "ip_addresses"),
            (self.emails, "emails"),
        ):
            edit.textChanged.connect(lambda f=field: self.errors[f].show_error(None))
        for boxes, field in ((self.usages, "key_usage"), (self.purposes, "extended_key_usage")):
            for check in boxes.values():
                check.toggled.connect(lambda _on, f=field: self.errors[f].show_error(None))
        self.other.textChanged.connect(
            lambda _t: self.errors["extended_key_usage"].show_error(None)
        )
        self.ca.toggled.connect(lambda _on: self.errors["key_usage"].show_error(None))

    def _error_label(self, field: str) -> QLabel:
        from .wizards import ErrorLabel

        label = ErrorLabel(f"error_{field}", self)
        self.errors[field] = label
        return label

    def _subject_changed(self, text: str) -> None:
        ok, message = subject_status(text)
        self.subject_status.setText(("✓ " if ok else "") + message)
        self.subject_status.setStyleSheet(GOOD_STYLE if ok else ERROR_STYLE)
        self.errors["subject"].show_error(None)

    def initializePage(self) -> None:
        flow = self.flow
        pair = flow.pair
        if pair is not None:
            usable = set(usable_key_usages(pair.key.algorithm))
            for name, check in self.usages.items():
                check.setEnabled(name in usable)
                check.setToolTip(
                    name
                    if name in usable
                    else f"{name}: not for an {pair.key.algorithm.value} key (RFC 3279, RFC 5480)"
                )
        if flow.needs_filling():
            self.fill(flow.initial_input())
        renewal = flow.renewal_of()
        self.renewal.setText(
            f"Renewal: the current certificate (serial {renewal.serial}, valid to "
            f"{renewal.not_after:%Y-%m-%d}) gives the subject, names and usage below."
            if renewal is not None
            else "The key usage and purposes below are the defaults for the key pair's "
            "template; change them as the CA's profile asks."
        )
        self._subject_changed(self.subject.text())
        self.show_errors({})

    def fill(self, values: ProfileInput) -> None:
        with QSignalBlocker(self.subject):
            self.subject.setText(values.subject)
        self.dns.setPlainText(values.dns_names)
        self.ips.setPlainText(values.ip_addresses)
        self.emails.setPlainText(values.emails)
        for name, check in self.usages.items():
            check.setChecked(name in values.key_usage)
        for name, check in self.purposes.items():
            check.setChecked(name in values.extended_key_usage)
        self.other.setText(values.other_purposes)
        self.ca.setChecked(values.ca)

    def values(self) -> ProfileInput:
        return ProfileInput(
            subject=self.subject.text(),
            dns_names=self.dns.toPlainText(),
            ip_addresses=self.ips.toPlainText(),
            emails=self.emails.toPlainText(),
            key_usage=frozenset(_checked(self.usages)),
            extended_key_usage=tuple(_checked(self.purposes)),
            other_purposes=self.other.text(),
            ca=self.ca.isChecked(),
        )

    def validatePage(self) -> bool:
        values = self.values()
        return self.accept_step(
            RequestStep.PROFILE,
            self.flow.validate_profile(values),
            lambda: self.flow.set_profile(values),
        )


class _RequestReviewPage(_Page):
    """PEM or DER, the new file, what will be signed, the quorum; Sign starts it."""

    def __init__(self, wizard: RequestCertificateWizard) -> None:
        super().__init__(wizard, wizard.flow.info(RequestStep.REVIEW), "requestReviewPage")
        self.owner = wizard
        self.flow = wizard.flow
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Sign request")
        layout = QVBoxLayout(self)
        form = _form()
        formats = QWidget(self)
        row = QHBoxLayout(formats)
        row.setContentsMargins(0, 0, 0, 0)
        self.format_group = QButtonGroup(self)
        self.format_buttons: dict[str, QRadioButton] = {}
        for code, text in FORMATS.items():
            button = QRadioButton(text, formats)
            button.setObjectName(f"format_{code}")
            self.format_group.addButton(button)
            self.format_buttons[code] = button
            row.addWidget(button)
        row.addStretch(1)
        self.format_buttons["pem"].setChecked(True)
        self.add_field(form, "Format:", formats, "format")
        file_row = QWidget(self)
        line = QHBoxLayout(file_row)
        line.setContentsMargins(0, 0, 0, 0)
        self.file = QLineEdit(file_row)
        self.file.setObjectName("requestFile")
        self.file.setPlaceholderText("a new file (nothing is overwritten)")
        file_choice.confine(self.file)
        line.addWidget(self.file, 1)
        choose = QPushButton("Choose…", file_row)
        choose.setObjectName("requestFileChoose")
        choose.clicked.connect(self.ask)
        line.addWidget(choose)
        self.add_field(form, "Save the request as:", file_row, "file")
        layout.addLayout(form)
        self.summary = _note("", self)
        self.summary.setObjectName("requestSummary")
        layout.addWidget(self.summary)
        box = QGroupBox("The request", self)
        self.rows = _form()
        box.setLayout(self.rows)
        layout.addWidget(box)
        quorum_box, self.quorum = _quorum_box(wizard.state, self, self._checked)
        layout.addWidget(quorum_box)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        self.format_group.buttonToggled.connect(self._format_changed)
        self.file.textChanged.connect(lambda _t: self.errors["file"].show_error(None))

    def _checked(self, requirement: Any) -> None:
        self.flow.set_requirement(requirement)
        fill_form(self.rows, self.flow.review_rows(), prefix="review")

    def chosen_format(self) -> str | None:
        return next((c for c, b in self.format_buttons.items() if b.isChecked()), None)

    def _format_changed(self, _button: Any = None, on: bool = True) -> None:
        if not on:
            return
        fmt = self.chosen_format()
        text = self.file.text().strip()
        if not text:
            return
        path = Path(text)
        # A name the wizard suggested follows the format; one the person typed stays.
        for other in FORMATS:
            if other != fmt and path.name == self.flow.suggested_name(other):
                self.file.setText(str(path.with_name(self.flow.suggested_name(fmt))))

    def ask(self) -> None:
        path = self.w.ask_save(
            self, "Save the certificate request", self.flow.suggested_name(self.chosen_format())
        )
        if path is not None:
            self.file.setText(str(path))

    def path(self) -> Path | None:
        text = self.file.text().strip()
        return Path(text).expanduser() if text else None

    def initializePage(self) -> None:
        flow = self.flow
        if not self.file.text().strip():
            self.file.setText(str(Path(self.w.folder()) / flow.suggested_name()))
        self.summary.setText(flow.summary())
        fill_form(self.rows, flow.review_rows(), prefix="review")
        self.show_errors({})
        self.quorum.ask(Action.MANAGE_CERTIFICATES, flow.quorum_template)

    def validatePage(self) -> bool:
        flow = self.flow
        if flow.result is not None:
            return True
        fmt, path = self.chosen_format(), self.path()
        if not self.show_errors(flow.validate_output(fmt, path)):
            return False
        try:  # in kiosk mode, a path in the kiosk's places only
            if path is not None:
                file_choice.check_path(path, writing=True, kind=MediaExport.CERTIFICATES)
        except OutsideKioskPlaces as e:
            return self.show_errors({"file": e.user_message()})
        flow.back_to(RequestStep.REVIEW)
        flow.set_output(fmt, path)
        fill_form(self.rows, flow.review_rows(), prefix="review")
        self.owner.sign()
        return False


class _RequestResultPage(_Page):
    """The request's subject and SHA-256, where it was written, and its PEM to copy."""

    def __init__(self, wizard: RequestCertificateWizard) -> None:
        super().__init__(wizard, wizard.flow.info(RequestStep.RESULT), "requestResultPage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        self.summary = _note("", self)
        self.summary.setObjectName("resultSummary")
        layout.addWidget(self.summary)
        self.rows = _form()
        layout.addLayout(self.rows)
        layout.addWidget(QLabel("The request (PEM; select and copy):", self))
        self.pem = QPlainTextEdit(self)
        self.pem.setObjectName("requestPem")
        self.pem.setReadOnly(True)
        _mono(self.pem)
        layout.addWidget(self.pem, 1)
        buttons = QHBoxLayout()
        self.copy_button = QPushButton("&Copy PEM", self)
        self.copy_button.setObjectName("copyPem")
        self.copy_button.clicked.connect(self.copy)
        buttons.addWidget(self.copy_button)
        self.save_button = QPushButton("Save &again as…", self)
        self.save_button.setObjectName("saveAgain")
        self.save_button.clicked.connect(self.save)
        buttons.addWidget(self.save_button)
        self.saved = QLabel(self)
        self.saved.setObjectName("savedPath")
        self.saved.setWordWrap(True)
        buttons.addWidget(self.saved, 1)
        layout.addLayout(buttons)

    def initializePage(self) -> None:
        flow = self.flow
        self.summary.setText(flow.result_summary())
        self.summary.setStyleSheet("" if flow.saved is not None else ERROR_STYLE)
        fill_form(self.rows, flow.result_rows(), prefix="result")
        self.pem.setPlainText(flow.result.pem if flow.result else "")

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.pem.toPlainText())
        self.saved.setText("The PEM is on the clipboard.")
        self.saved.setStyleSheet(GOOD_STYLE)

    def save(self) -> None:
        flow = self.flow
        path = self.w.ask_save(self, "Save the certificate request", flow.suggested_name())
        if path is None:
            return
        data = flow.file_data()

        def work(_: JobControl) -> Path:
            return write_new(str(path), data)

        def saved(written: Path) -> None:
            flow.record_saved(written)
            self.initializePage()
            self.saved.setText(f"Saved: {written}")
            self.saved.setStyleSheet(GOOD_STYLE)

        def failed(exc: BaseException) -> None:
            show_error(self, exc)

        self.w.call(work, saved, failed, title="save the request")


class RequestCertificateWizard(_CertificateWizard):
    """A PKCS#10 request signed by a key pair inside the HSM, written as PEM or DER."""

    KEY_PAGE, PROFILE_PAGE, REVIEW_PAGE, RESULT_PAGE = range(4)

    def __init__(
        self, state: AppState, parent: QWidget | None = None, key_label: str | None = None
    ) -> None:
        super().__init__(state, parent)
        self.setObjectName("requestCertificateWizard")
        self.setWindowTitle("Request a certificate")
        self.flow: RequestFlow = RequestFlow(key_label=key_label)
        self.key_page = _RequestKeyPage(self)
        self.profile_page = _ProfilePage(self)
        self.review_page = _RequestReviewPage(self)
        self.result_page = _RequestResultPage(self)
        self.add_pages(self.key_page, self.profile_page, self.review_page, self.result_page)
        self.load()

    def sign(self) -> None:
        flow = self.flow
        services = self.state.services
        assert flow.target is not None and flow.pair is not None
        target, fmt = flow.target, flow.format

        def work(session: Session) -> tuple[CertificateRequest, Path | None, str | None]:
            # Judged again as the work starts: a refused path signs nothing.
            file_choice.check_path(target, writing=True, kind=MediaExport.CERTIFICATES)
            result = flow.sign(partial(services.certificates.request, session))
            # The request exists once the HSM signed it (and is audited); a file that cannot
            # be written now is said on the last page, with Save again.
            try:
                return result, write_new(str(target), result.encoded(fmt)), None
            except (BadInput, OSError) as e:
                message = e.user_message() if isinstance(e, BadInput) else str(e)
                return result, None, message

        def done(outcome: tuple[CertificateRequest, Path | None, str | None]) -> None:
            flow.record_result(*outcome)
            self.next()

        self.run(f"Signing the request of {flow.pair.key.label}", work, done)


# --- import a certificate ------------------------------------------------------------------


class _ImportKeyPage(_KeyPage):
    def __init__(self, wizard: ImportCertificateWizard) -> None:
        super().__init__(wizard, wizard.flow.info(ImportStep.KEY))
        self.flow = wizard.flow
        self.partner = self.add_field(
            self.form, "Issued by (partner):", _Choice("partnerChoice", self), "partner"
        )
        self.body.addWidget(
            _note(
                "The partner is the CA, vendor or card brand that issued the certificate; "
                "its CA certificates and CRLs are managed on the Exchanges page.",
                self,
            )
        )
        self.body.addWidget(self.general_error)
        self.body.addStretch(1)

    def fill(self, data: CertificateData) -> None:
        self.partner.set_items((text, name) for name, text in self.flow.partners())

    def validatePage(self) -> bool:
        key, partner = self.key.value(), self.partner.value()
        return self.accept_step(
            ImportStep.KEY,
            self.flow.validate_choice(key, partner),
            lambda: self.flow.choose(key, partner),
        )


class _ChainList(QWidget):
    """Chain files, added one or several at a time, removable."""

    changed = Signal()

    def __init__(self, wizard: _CertificateWizard, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("chainFiles")
        self.w = wizard
        self.files: list[LoadedFile] = []
        self.error = ""
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget(self)
        self.list.setObjectName("chainFilesList")
        self.list.setFixedHeight(56)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        row.addWidget(self.list, 1)
        buttons = QVBoxLayout()
        add = QPushButton("Add…", self)
        add.setObjectName("chainFilesAdd")
        add.clicked.connect(self.ask)
        remove = QPushButton("Remove", self)
        remove.setObjectName("chainFilesRemove")
        remove.clicked.connect(self.remove_selected)
        buttons.addWidget(add)
        buttons.addWidget(remove)
        row.addLayout(buttons)

    def ask(self) -> None:
        for path in file_choice.open_files(
            self, "Choose the chain files", self.w.folder(), CERTIFICATE_FILES
        ):
            self.load(path)

    def load(self, path: Path) -> None:
        self.w.remember_folder(path)
        try:
            loaded = read_file(path, "chain file")
        except BadInput as e:
            self.error = e.user_message()
            self.changed.emit()
            return
        self.error = ""
        if loaded.name not in (f.name for f in self.files):
            self.files.append(loaded)
            self.list.addItem(loaded.name)
        self.changed.emit()

    def remove_selected(self) -> None:
        for item in self.list.selectedItems():
            row = self.list.row(item)
            self.list.takeItem(row)
            del self.files[row]
        self.changed.emit()


class _CertificateFilesPage(_Page):
    """The certificate, the chain, and what the certificate must allow."""

    def __init__(self, wizard: ImportCertificateWizard) -> None:
        super().__init__(wizard, wizard.flow.info(ImportStep.FILES), "filesPage")
        self.flow = wizard.flow
        self.certificate: LoadedFile | None = None
        layout = QVBoxLayout(self)
        form = _form()
        chooser = QWidget(self)
        row = QHBoxLayout(chooser)
        row.setContentsMargins(0, 0, 0, 0)
        choose = QPushButton("Choose…", chooser)
        choose.setObjectName("certificateFileChoose")
        choose.clicked.connect(self.ask)
        row.addWidget(choose)
        self.path_label = QLabel("none chosen", chooser)
        self.path_label.setObjectName("certificateFilePath")
        self.path_label.setWordWrap(True)
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(self.path_label, 1)
        self.add_field(form, "Certificate file:", chooser, "certificate")
        self.chain = self.add_field(
            form, "Chain files (optional):", _ChainList(wizard, self), "chain"
        )
        self.chain.changed.connect(self._files_changed)
        layout.addLayout(form)
        box = QGroupBox("What the files hold", self)
        inner = QVBoxLayout(box)
        self.preview = QLabel("Choose the certificate file.", box)
        self.preview.setObjectName("filePreview")
        self.preview.setWordWrap(True)
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        inner.addWidget(self.preview)
        layout.addWidget(box)
        ku_box, self.usages = _checkboxes(
            self, "The certificate must allow (key usage)", KEY_USAGE_CHOICES.items(), "require", 3
        )
        layout.addWidget(ku_box)
        self.add_error("key_usage", layout)
        eku_box, self.purposes = _checkboxes(
            self,
            "… and these purposes (extended key usage)",
            EKU_CHOICES.items(),
            "requirePurpose",
            3,
        )
        layout.addWidget(eku_box)
        self.add_error("extended_key_usage", layout)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def ask(self) -> None:
        path = self.w.ask_open(self, "Choose the certificate the CA sent")
        if path is not None:
            self.load(path)

    def load(self, path: Path) -> None:
        self.w.remember_folder(path)
        try:
            self.certificate = read_file(path, "certificate")
        except BadInput as e:
            self.certificate = None
            self.path_label.setText("none chosen")
            self.errors["certificate"].show_error(e.user_message())
            self._files_changed()
            return
        self.path_label.setText(self.certificate.name)
        self.errors["certificate"].show_error(None)
        self._files_changed()

    def _files_changed(self) -> None:
        self.errors["chain"].show_error(self.chain.error or None)
        files = ([self.certificate] if self.certificate else []) + self.chain.files
        pair = self.flow.pair
        lines = file_lines(files, pair.key if pair else None)
        self.preview.setText("\n".join(lines) if lines else "Choose the certificate file.")

    def values(self) -> dict[str, Any]:
        return {
            "certificate": self.certificate,
            "chain": tuple(self.chain.files),
            "key_usage": frozenset(_checked(self.usages)),
            "extended_key_usage": tuple(_checked(self.purposes)),
        }

    def initializePage(self) -> None:
        self._files_changed()

    def validatePage(self) -> bool:
        values = self.values()
        return self.accept_step(
            ImportStep.FILES,
            self.flow.validate_files(**values),
            lambda: self.flow.set_files(**values),
        )


class _ImportReviewPage(_Page):
    def __init__(self, wizard: ImportCertificateWizard) -> None:
        super().__init__(wizard, wizard.flow.info(ImportStep.REVIEW), "importReviewPage")
        self.owner = wizard
        self.flow = wizard.flow
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Check and &import")
        layout = QVBoxLayout(self)
        self.summary = _note("", self)
        self.summary.setObjectName("importSummary")
        layout.addWidget(self.summary)
        box = QGroupBox("The import", self)
        self.rows = _form()
        box.setLayout(self.rows)
        layout.addWidget(box)
        quorum_box, self.quorum = _quorum_box(wizard.state, self, self._checked)
        layout.addWidget(quorum_box)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def _checked(self, requirement: Any) -> None:
        self.flow.set_requirement(requirement)
        fill_form(self.rows, self.flow.review_rows(), prefix="review")

    def initializePage(self) -> None:
        self.summary.setText(self.flow.summary())
        fill_form(self.rows, self.flow.review_rows(), prefix="review")
        self.show_errors({})
        self.quorum.ask(Action.MANAGE_CERTIFICATES, self.flow.quorum_template)

    def validatePage(self) -> bool:
        if self.flow.outcome is not None:
            return True
        self.show_errors({})
        self.owner.start()
        return False


class _ImportResultPage(_Page):
    """The validated facts, or the refusal in full."""

    def __init__(self, wizard: ImportCertificateWizard) -> None:
        super().__init__(wizard, wizard.flow.info(ImportStep.RESULT), "importResultPage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        self.summary = _note("", self)
        self.summary.setObjectName("resultSummary")
        layout.addWidget(self.summary)
        self.refusal = QLabel(self)
        self.refusal.setObjectName("refusalReason")
        self.refusal.setWordWrap(True)
        self.refusal.setStyleSheet(REFUSAL_STYLE)
        self.refusal.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.refusal)
        self.rows = _form()
        layout.addLayout(self.rows)
        layout.addStretch(1)

    def initializePage(self) -> None:
        flow = self.flow
        outcome = flow.outcome
        refused = outcome is not None and outcome.refusal is not None
        self.setTitle("Certificate refused" if refused else "Certificate kept")
        self.summary.setText(flow.result_summary())
        self.refusal.setText(outcome.refusal or "" if outcome else "")
        self.refusal.setVisible(refused)
        fill_form(self.rows, flow.result_rows(), prefix="result")


class ImportCertificateWizard(_CertificateWizard):
    """An issued certificate, checked against a partner's trust anchors and CRLs, kept for
    its key pair only if every check passes."""

    KEY_PAGE, FILES_PAGE, REVIEW_PAGE, RESULT_PAGE = range(4)

    def __init__(
        self, state: AppState, parent: QWidget | None = None, key_label: str | None = None
    ) -> None:
        super().__init__(state, parent)
        self.setObjectName("importCertificateWizard")
        self.setWindowTitle("Import a certificate")
        self.flow: ImportCertificateFlow = ImportCertificateFlow(key_label=key_label)
        self.key_page = _ImportKeyPage(self)
        self.files_page = _CertificateFilesPage(self)
        self.review_page = _ImportReviewPage(self)
        self.result_page = _ImportResultPage(self)
        self.add_pages(self.key_page, self.files_page, self.review_page, self.result_page)
        self.load()

    def start(self) -> None:
        flow = self.flow
        services = self.state.services
        assert flow.pair is not None

        def work(session: Session) -> ImportOutcome:
            return flow.run(partial(services.certificates.import_certificate, session))

        def done(outcome: ImportOutcome) -> None:
            flow.record_result(outcome)
            if outcome.record is not None:
                self.state.data_changed.emit("certificates")
            self.next()

        self.run(f"Checking the certificate of {flow.pair.key.label}", work, done)
