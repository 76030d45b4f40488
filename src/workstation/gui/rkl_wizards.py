"""The ATM remote key loading wizards: a vendor profile, a host key for a vendor, and the
bundle for the host HSM.

Each wizard renders a flow of :mod:`workstation.flows.rkl`; a page's ``validatePage()``
asks the flow's validator and shows its errors next to the fields. What the wizards choose
from (vendor profiles, host keys, partners, templates, KEKs) is read once, on the device
thread, when a wizard opens. Every action runs through ``gui.actions.perform`` (the
co-sign dialog when people are missing, then the RKL service on the device thread behind a
progress dialog); the service checks every rule again and a refusal is shown in its words
with nothing changed.

Files are written only where the person chooses, as new files, whole or not at all: the
certificate request or public key for the vendor is written in the same job that makes it
(a file is chosen first, so nothing is made that cannot be saved); the bundle is saved from
the result page.

Entry points (the Certificates page calls them): :func:`open_vendor_profile`,
:func:`open_host_key`, :func:`open_bundle`.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizard,
)

from workstation.domain.policy import Action
from workstation.files import write_new
from workstation.flows.interchange import KEYS_LISTED, LoadedFile
from workstation.flows.rkl import (
    BundleFlow,
    BundleStep,
    HostKeyFlow,
    HostKeyMode,
    HostKeyStep,
    RklData,
    VendorFlow,
    VendorStep,
    host_key_lines,
    key_lines,
)
from workstation.flows.wizards import StepInfo
from workstation.services.app import WorkstationServices
from workstation.services.certificates import CertificateRequest
from workstation.services.ports import KeyQuery
from workstation.services.rkl import HostKey, RklBundle
from workstation.services.session import Session

from .errors import describe
from .exchange_wizards import (
    NEUTRAL_STYLE,
    _Choice,
    _ExchangePage,
    _ExchangeWizard,
    _FileField,
    _ResultPage,
    _ReviewPage,
    _rows_box,
)
from .runner import JobControl
from .state import AppState
from .wizards import ERROR_STYLE, GOOD_STYLE, _form, _note, _quorum_box, fill_form

log = logging.getLogger(__name__)

__all__ = [
    "BundleWizard",
    "HostKeyWizard",
    "VendorProfileWizard",
    "open_bundle",
    "open_host_key",
    "open_vendor_profile",
    "read_rkl_data",
]


def _opened(wizard: QWizard) -> QWizard:
    wizard.open()
    return wizard


def open_vendor_profile(state: AppState, parent: QWidget | None) -> QWizard:
    """Add or change an ATM vendor profile (opened, window-modal to ``parent``)."""
    return _opened(VendorProfileWizard(state, parent))


def open_host_key(state: AppState, parent: QWidget | None) -> QWizard:
    """Make a host key for an ATM vendor, or take one up where it stopped."""
    return _opened(HostKeyWizard(state, parent))


def open_bundle(state: AppState, parent: QWidget | None) -> QWizard:
    """Make the bundle of a ready host key for the host HSM."""
    return _opened(BundleWizard(state, parent))


def read_rkl_data(services: WorkstationServices, session: Session) -> RklData:
    """Everything an RKL wizard chooses from, in one read (run it on the device thread)."""
    from workstation.domain.keys import KeyState

    keys, total = services.keys.query(
        session,
        KeyQuery(states=(KeyState.PRE_ACTIVATION, KeyState.ACTIVE), limit=KEYS_LISTED),
    )
    return RklData(
        vendors=tuple(services.rkl.vendors(session)),
        host_keys=tuple(services.rkl.host_keys(session)),
        partners=tuple(services.interchange.partners(session)),
        templates=tuple(services.templates.list(session)),
        keys=tuple(keys),
        truncated=total > len(keys),
    )


# --- the wizard base -------------------------------------------------------------------------


class _RklWizard(_ExchangeWizard):
    """An RKL wizard: reads the vendors, host keys, partners, templates and keys once."""

    flow: Any

    def __init__(self, state: AppState, parent: QWidget | None) -> None:
        super().__init__(state, parent)
        self.rkl: RklData | None = None

    def load(self) -> None:
        services = self.state.services

        def work(_: JobControl) -> RklData:
            return read_rkl_data(services, self.state.ensure_session())

        def done(data: RklData) -> None:
            self.rkl = data
            self.load_error = None
            self.flow.load(data)
            self.loaded.emit()

        def failed(exc: BaseException) -> None:
            self.load_error = describe(exc)[1]
            self.loaded.emit()

        self.call(work, done, failed, title="read the ATM vendors and keys")

    def changed(self, *kinds: str) -> None:
        for kind in kinds:
            self.state.data_changed.emit(kind)

    def finish(self, result: Any) -> None:
        self.result = result
        self.changed("rkl", "certificates")
        self.flow.record_result(result)
        self.next()


class _RklLoadingPage(_ExchangePage):
    """A page that fills its lists once the wizard's data is read."""

    def __init__(self, wizard: _RklWizard, info: StepInfo, name: str) -> None:
        super().__init__(wizard, info, name)
        self.rw = wizard
        self.status = _note("Reading the ATM vendors, host keys and keys…", self)
        self.status.setObjectName("loadStatus")
        wizard.loaded.connect(self._loaded)

    def _loaded(self) -> None:
        self.completeChanged.emit()
        if self.rw.load_error:
            self.status.setStyleSheet(ERROR_STYLE)
            self.status.setText(self.rw.load_error)
            self.status.show()
            return
        truncated = self.rw.rkl is not None and self.rw.rkl.truncated
        self.status.setStyleSheet(NEUTRAL_STYLE)
        self.status.setText(
            f"The first {KEYS_LISTED:,} pre-active and active keys are listed." if truncated else ""
        )
        self.status.setVisible(truncated)
        self.fill()

    def fill(self) -> None:
        """Fill the page's lists from the flow's data."""

    def isComplete(self) -> bool:
        return self.rw.rkl is not None and super().isComplete()


def _line_edit(name: str, parent: QWidget, placeholder: str = "") -> QLineEdit:
    edit = QLineEdit(parent)
    edit.setObjectName(name)
    edit.setClearButtonEnabled(True)
    if placeholder:
        edit.setPlaceholderText(placeholder)
    return edit


# --- the vendor profile ----------------------------------------------------------------------


class _VendorProfilePage(_RklLoadingPage):
    def __init__(self, wizard: VendorProfileWizard) -> None:
        super().__init__(wizard, wizard.flow.info(VendorStep.PROFILE), "profilePage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        form = _form()
        self.existing = self.add_field(
            form, "Profile:", _Choice("existingChoice", self), "existing"
        )
        self.name = self.add_field(
            form, "Vendor name:", _line_edit("vendorName", self, "e.g. Hyosung"), "name"
        )
        self.style_choice = self.add_field(form, "Style:", _Choice("styleChoice", self), "style")
        self.template = self.add_field(
            form, "Host key template:", _Choice("templateChoice", self), "template"
        )
        self.notes = QPlainTextEdit(self)
        self.notes.setObjectName("vendorNotes")
        self.notes.setMaximumHeight(72)
        self.add_field(form, "Notes:", self.notes, "notes")
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        self.existing.currentIndexChanged.connect(self._existing_changed)

    def fill(self) -> None:
        self.existing.set_items(
            ((n, n) for n in self.flow.vendor_names()), placeholder="New profile"
        )
        self.style_choice.set_items(((text, code) for code, text in self.flow.styles()))
        self.template.set_items((n, n) for n in self.flow.templates())
        if len(self.flow.templates()) == 1:
            self.template.choose(self.flow.templates()[0])

    def _existing_changed(self, *_: Any) -> None:
        values = self.flow.prefill(self.existing.value())
        changing = self.existing.value() is not None
        if changing:
            self.name.setText(values["name"])
            self.style_choice.choose(values["style"])
            self.template.choose(values["template"])
            self.notes.setPlainText(values["notes"])
        self.name.setEnabled(not changing)
        self.style_choice.setEnabled(not changing)

    def values(self) -> dict[str, Any]:
        return {
            "existing": self.existing.value(),
            "name": self.name.text(),
            "style": self.style_choice.value(),
            "template": self.template.value(),
            "notes": self.notes.toPlainText(),
        }

    def validatePage(self) -> bool:
        values = self.values()
        return self.accept_step(
            VendorStep.PROFILE,
            self.flow.validate_profile(**values),
            lambda: self.flow.set_profile(**values),
        )


class _VendorDetailsPage(_ExchangePage):
    def __init__(self, wizard: VendorProfileWizard) -> None:
        super().__init__(wizard, wizard.flow.info(VendorStep.DETAILS), "detailsPage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        self.certificate_box = QGroupBox("Certificate vendor", self)
        cert_form = _form()
        self.certificate_box.setLayout(cert_form)
        self.partner = self.add_field(
            cert_form, "Vendor CA (partner):", _Choice("partnerChoice", self), "partner"
        )
        layout.addWidget(self.certificate_box)
        self.signature_box = QGroupBox("Signature vendor", self)
        sig_form = _form()
        self.signature_box.setLayout(sig_form)
        self.public_key = self.add_field(
            sig_form,
            "Vendor public key:",
            _FileField("vendorKey", "vendor public key", wizard, self, optional=True),
            "public_key",
        )
        self.scheme = self.add_field(
            sig_form, "Signature scheme:", _Choice("schemeChoice", self), "scheme"
        )
        self.form = self.add_field(sig_form, "What is signed:", _Choice("formChoice", self), "form")
        self.key_note = _note("", self)
        self.key_note.setObjectName("vendorKeyNote")
        sig_form.addRow(self.key_note)
        layout.addWidget(self.signature_box)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        self.public_key.chosen.connect(self._key_chosen)

    def initializePage(self) -> None:
        flow = self.flow
        certificate = flow.style == "certificate"
        self.certificate_box.setVisible(certificate)
        self.signature_box.setVisible(not certificate)
        self.partner.set_items((n, n) for n in flow.vendor_partners())
        self.scheme.set_items(((text, code) for code, text in flow.schemes()))
        self.form.set_items(((text, code) for code, text in flow.forms()))
        existing = flow.existing
        if existing is not None:
            self.partner.choose(existing.partner)
            self.scheme.choose(existing.signature_scheme)
            self.form.choose(existing.signed_form)
            if existing.public_key is not None:
                self.key_note.setText(
                    f"The stored key (SHA-256 {existing.vendor_key_fingerprint}) is kept unless "
                    "you load another."
                )
        self.key_note.setVisible(bool(self.key_note.text()))
        self.show_errors({})

    def _key_chosen(self, loaded: LoadedFile | None) -> None:
        error = self.public_key.error or None
        if loaded is not None:
            errors = self.flow.validate_details(
                partner=None, public_key=loaded, scheme=self.scheme.value(), form=self.form.value()
            )
            error = errors.get("public_key")
        self.errors["public_key"].show_error(error)

    def values(self) -> dict[str, Any]:
        return {
            "partner": self.partner.value(),
            "public_key": self.public_key.file,
            "scheme": self.scheme.value(),
            "form": self.form.value(),
        }

    def validatePage(self) -> bool:
        values = self.values()
        return self.accept_step(
            VendorStep.DETAILS,
            self.flow.validate_details(**values),
            lambda: self.flow.set_details(**values),
        )


class VendorProfileWizard(_RklWizard):
    """An ATM vendor profile, new or changed, under the partner-management quorum."""

    PROFILE_PAGE, DETAILS_PAGE, REVIEW_PAGE, RESULT_PAGE = range(4)
    ACTION = Action.MANAGE_PARTNERS

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("vendorProfileWizard")
        self.setWindowTitle("ATM vendor profile")
        self.flow: VendorFlow = VendorFlow()
        self.profile_page = _VendorProfilePage(self)
        self.details_page = _VendorDetailsPage(self)
        self.review_page = _ReviewPage(self, self.flow.info(VendorStep.REVIEW), "&Save")
        self.result_page = _ResultPage(self, self.flow.info(VendorStep.RESULT))
        self.add_pages(self.profile_page, self.details_page, self.review_page, self.result_page)
        self.load()

    def work_title(self) -> str:
        return f"Saving the ATM vendor profile {self.flow.name}"

    def exchange(self, session: Session, control: JobControl) -> Any:
        rkl = self.state.services.rkl
        return self.flow.save(partial(rkl.add_vendor, session), partial(rkl.update_vendor, session))


# --- the host key ----------------------------------------------------------------------------


class _HostStartPage(_RklLoadingPage):
    def __init__(self, wizard: HostKeyWizard) -> None:
        super().__init__(wizard, wizard.flow.info(HostKeyStep.START), "startPage")
        self.hw = wizard
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        self.mode = QButtonGroup(self)
        self.new = QRadioButton("Make a new host key for a vendor", self)
        self.new.setObjectName("modeNew")
        self.again = QRadioButton("Take up a host key made earlier", self)
        self.again.setObjectName("modeContinue")
        self.mode.addButton(self.new)
        self.mode.addButton(self.again)
        layout.addWidget(self.new)
        new_form = _form()
        self.vendor = self.add_field(
            new_form, "ATM vendor:", _Choice("vendorChoice", self), "vendor"
        )
        self.label = self.add_field(
            new_form,
            "Label:",
            _line_edit("keyLabel", self, "empty: the template's label pattern names the key"),
            "label",
        )
        layout.addLayout(new_form)
        layout.addWidget(self.again)
        again_form = _form()
        self.host_key = self.add_field(
            again_form, "Host key:", _Choice("hostKeyChoice", self), "host_key"
        )
        self.answer_here = QCheckBox("The vendor's certificate or signature is here", self)
        self.answer_here.setObjectName("answerHere")
        self.answer_here.setChecked(True)
        again_form.addRow(self.answer_here)
        layout.addLayout(again_form)
        self.add_error("mode", layout)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        self.new.toggled.connect(self._mode_changed)
        self.new.setChecked(True)

    def fill(self) -> None:
        self.vendor.set_items((n, n) for n in self.flow.vendor_names())
        self.host_key.set_items(host_key_lines(self.flow.host_keys()))
        if not self.flow.host_keys():
            self.again.setEnabled(False)

    def _mode_changed(self, *_: Any) -> None:
        new = self.new.isChecked()
        for widget in (self.vendor, self.label):
            widget.setEnabled(new)
        for other in (self.host_key, self.answer_here):
            other.setEnabled(not new)

    def values(self) -> dict[str, Any]:
        mode = (
            HostKeyMode.NEW
            if self.new.isChecked()
            else HostKeyMode.CONTINUE
            if self.again.isChecked()
            else None
        )
        return {
            "mode": mode,
            "vendor": self.vendor.value(),
            "label": self.label.text(),
            "host_key": self.host_key.value(),
        }

    def validatePage(self) -> bool:
        values = self.values()
        answer_here = self.answer_here.isChecked()
        return self.accept_step(
            HostKeyStep.START,
            self.flow.validate_start(**values),
            lambda: self.flow.set_start(**values, answer_here=answer_here),
        )

    def nextId(self) -> int:
        return self.hw.page_of(self.flow.next_step(HostKeyStep.START))


class _HostCreatePage(_ExchangePage):
    """What is made, the quorum it takes, and the button that makes it."""

    def __init__(self, wizard: HostKeyWizard) -> None:
        super().__init__(wizard, wizard.flow.info(HostKeyStep.CREATE), "createPage")
        self.hw = wizard
        self.flow = wizard.flow
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Create")
        layout = QVBoxLayout(self)
        box, self.rows = _rows_box("The host key", self)
        layout.addWidget(box)
        quorum_box, self.quorum = _quorum_box(wizard.state, self, self._checked)
        layout.addWidget(quorum_box)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def _checked(self, requirement: Any) -> None:
        self.flow.set_requirement(requirement)
        fill_form(self.rows, self.flow.create_rows(), prefix="create")

    def initializePage(self) -> None:
        fill_form(self.rows, self.flow.create_rows(), prefix="create")
        self.show_errors({})
        self.quorum.ask(Action.GENERATE_KEY, self.flow.quorum_template)

    def validatePage(self) -> bool:
        if self.flow.host is not None and self.flow.step is not HostKeyStep.CREATE:
            return True
        self.hw.create_host_key()
        return False


class _HostSendPage(_ExchangePage):
    """The request for the vendor's CA, or the public key the vendor signs: made and saved
    in one job."""

    def __init__(self, wizard: HostKeyWizard) -> None:
        super().__init__(wizard, wizard.flow.info(HostKeyStep.SEND), "sendPage")
        self.hw = wizard
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        self.intro = _note("", self)
        self.intro.setObjectName("sendIntro")
        layout.addWidget(self.intro)
        self.request_box = QGroupBox("Certificate request", self)
        form = _form()
        self.request_box.setLayout(form)
        self.subject = self.add_field(
            form,
            "Subject:",
            _line_edit("subjectEdit", self, "e.g. CN=RKL host 1,O=Bank,C=GB"),
            "subject",
        )
        self.dns = self.add_field(
            form, "DNS names (optional):", _line_edit("dnsEdit", self, "space-separated"), "dns"
        )
        layout.addWidget(self.request_box)
        quorum_box, self.quorum = _quorum_box(wizard.state, self)
        layout.addWidget(quorum_box)
        row = QHBoxLayout()
        self.make_button = QPushButton("", self)
        self.make_button.setObjectName("makeButton")
        self.make_button.clicked.connect(self.make)
        row.addWidget(self.make_button)
        self.saved = QLabel(self)
        self.saved.setObjectName("sentStatus")
        self.saved.setWordWrap(True)
        row.addWidget(self.saved, 1)
        layout.addLayout(row)
        self.add_error("sent", layout)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def initializePage(self) -> None:
        flow = self.flow
        certificate = flow.style == "certificate"
        host = flow.host
        label = host.key.label if host is not None else ""
        self.request_box.setVisible(certificate)
        if certificate:
            vendor = flow.vendor.name if flow.vendor else "the vendor"
            self.intro.setText(
                f"Host key {label} is certified by the CA of {vendor}: make the certificate "
                "request (signed by the host key in the HSM) and send it."
            )
            self.make_button.setText("&Make and save the request…")
        else:
            form = host.vendor.signed_form if host is not None else ""
            self.intro.setText(
                f"{host.vendor.name if host else ''} signs the host's public key as "
                f"{form} DER: save it and send it to the vendor."
            )
            self.make_button.setText("&Save the public key to sign…")
        self.saved.setText("Nothing made yet.")
        self.saved.setStyleSheet(NEUTRAL_STYLE)
        self.show_errors({})
        self.quorum.ask(Action.MANAGE_CERTIFICATES, flow.quorum_template)

    def make(self) -> None:
        flow = self.flow
        if flow.style == "certificate":
            errors = flow.validate_subject(self.subject.text(), self.dns.text())
            if not self.show_errors(errors):
                return
            flow.set_subject(self.subject.text(), self.dns.text())
        path = self.hw.ask_save(self, "Save what goes to the vendor", flow.sent_name())
        if path is None:
            return
        if path.exists():
            self.errors["sent"].show_error(
                f"{path} exists; choose a new file name (nothing is overwritten)."
            )
            return
        self.hw.send(path, self.sent)

    def sent(self, path: Path) -> None:
        self.saved.setText(f"Saved: {path} — {self.flow.sent_summary()}")
        self.saved.setStyleSheet(GOOD_STYLE)
        self.errors["sent"].show_error(None)

    def validatePage(self) -> bool:
        errors = self.flow.errors(HostKeyStep.SEND)
        if not self.show_errors(errors):
            return False
        self.flow.back_to(HostKeyStep.SEND)
        self.flow.advance()
        return True


class _HostReceivePage(_ExchangePage):
    """The vendor's answer: the certificate (with intermediates) or the signature."""

    def __init__(self, wizard: HostKeyWizard) -> None:
        super().__init__(wizard, wizard.flow.info(HostKeyStep.RECEIVE), "receivePage")
        self.hw = wizard
        self.flow = wizard.flow
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Import")
        layout = QVBoxLayout(self)
        form = _form()
        self.certificate = _FileField(
            "certificateFile", "certificate", wizard, self, optional=False
        )
        self.certificate_label = QLabel("Certificate:", self)
        form.addRow(self.certificate_label, self.certificate)
        self.chain = _FileField(
            "chainFile", "intermediate certificates", wizard, self, optional=True
        )
        self.chain_label = QLabel("Intermediates (optional):", self)
        form.addRow(self.chain_label, self.chain)
        self.signature = _FileField(
            "signatureFile", "vendor signature", wizard, self, optional=False
        )
        self.signature_label = QLabel("Vendor signature:", self)
        form.addRow(self.signature_label, self.signature)
        self.add_error("answer", form)
        layout.addLayout(form)
        box, self.rows = _rows_box("What is imported", self)
        layout.addWidget(box)
        quorum_box, self.quorum = _quorum_box(wizard.state, self, self._checked)
        layout.addWidget(quorum_box)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        for field in (self.certificate, self.chain, self.signature):
            field.chosen.connect(self._chosen)

    def _checked(self, requirement: Any) -> None:
        self.flow.set_requirement(requirement)
        self._rows()

    def _rows(self) -> None:
        fill_form(self.rows, self.flow.answer_rows(), prefix="answer")

    def initializePage(self) -> None:
        certificate = self.flow.style == "certificate"
        for widget in (self.certificate, self.certificate_label, self.chain, self.chain_label):
            widget.setVisible(certificate)
        self.signature.setVisible(not certificate)
        self.signature_label.setVisible(not certificate)
        self._rows()
        self.show_errors({})
        self.quorum.ask(Action.MANAGE_CERTIFICATES, self.flow.quorum_template)

    def answer(self) -> dict[str, Any]:
        if self.flow.style == "certificate":
            return {
                "certificate": self.certificate.file,
                "chain": [self.chain.file] if self.chain.file else [],
            }
        return {"signature": self.signature.file}

    def _chosen(self, _: Any) -> None:
        field = self.sender()
        error = getattr(field, "error", "")
        if error:
            self.errors["answer"].show_error(error)
            return
        errors = self.flow.validate_answer(**self.answer())
        self.errors["answer"].show_error(errors.get("answer") if self._loaded_any() else None)

    def _loaded_any(self) -> bool:
        return any(f.file is not None for f in (self.certificate, self.signature))

    def validatePage(self) -> bool:
        if self.flow.result is not None:
            return True
        answer = self.answer()
        if not self.show_errors(self.flow.validate_answer(**answer)):
            return False
        self.flow.back_to(HostKeyStep.RECEIVE)
        self.flow.set_answer(**answer)
        self._rows()
        self.hw.start()
        return False


class HostKeyWizard(_RklWizard):
    """A host key for an ATM vendor: created, sent to the vendor, its answer imported."""

    START_PAGE, CREATE_PAGE, SEND_PAGE, RECEIVE_PAGE, RESULT_PAGE = range(5)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("hostKeyWizard")
        self.setWindowTitle("RKL host key")
        self.flow: HostKeyFlow = HostKeyFlow()
        self.start_page = _HostStartPage(self)
        self.create_page = _HostCreatePage(self)
        self.send_page = _HostSendPage(self)
        self.receive_page = _HostReceivePage(self)
        self.result_page = _ResultPage(self, self.flow.info(HostKeyStep.RESULT))
        self.add_pages(
            self.start_page, self.create_page, self.send_page, self.receive_page, self.result_page
        )
        self.load()

    def page_of(self, step: HostKeyStep | None) -> int:
        return (
            {
                HostKeyStep.START: self.START_PAGE,
                HostKeyStep.CREATE: self.CREATE_PAGE,
                HostKeyStep.SEND: self.SEND_PAGE,
                HostKeyStep.RECEIVE: self.RECEIVE_PAGE,
                HostKeyStep.IMPORT: self.RESULT_PAGE,
                HostKeyStep.RESULT: self.RESULT_PAGE,
            }.get(step, -1)
            if step is not None
            else -1
        )

    def action(self) -> Action:
        return Action.MANAGE_CERTIFICATES

    def work_title(self) -> str:
        label = self.flow.host.key.label if self.flow.host else "the host key"
        return f"Importing the vendor's answer for {label}"

    def exchange(self, session: Session, control: JobControl) -> HostKey:
        rkl = self.state.services.rkl
        return self.flow.import_answer(
            partial(rkl.import_certificate, session), partial(rkl.import_signature, session)
        )

    def create_host_key(self) -> None:
        """The host key under its template's generation quorum; then on to the next page."""
        rkl = self.state.services.rkl
        vendor = self.flow.vendor.name if self.flow.vendor else "the vendor"

        def work(_: JobControl) -> HostKey:
            return self.flow.create(partial(rkl.create_host_key, self.state.ensure_session()))

        def done(host: HostKey) -> None:
            self.flow.record_created(host)
            self.changed("keys", "rkl")
            self.next()

        self.run_action(
            action=Action.GENERATE_KEY,
            title=f"Making the host key for {vendor}",
            work=work,
            on_done=done,
            template=self.flow.quorum_template,
        )

    def send(self, path: Path, on_saved: Any) -> None:
        """What goes to the vendor, made under the certificate quorum and written to
        ``path`` (a new file) in the same job."""
        rkl = self.state.services.rkl
        flow = self.flow

        def work(_: JobControl) -> tuple[CertificateRequest | bytes, Path]:
            session = self.state.ensure_session()
            made: CertificateRequest | bytes
            if flow.style == "certificate":
                made = flow.make_request(partial(rkl.request, session))
                data = made.pem.encode()
            else:
                made = flow.make_material(partial(rkl.material_to_sign, session))
                data = made
            return made, write_new(str(path), data)

        def done(result: tuple[CertificateRequest | bytes, Path]) -> None:
            made, written = result
            flow.record_sent(made)
            on_saved(written)

        self.run_action(
            action=Action.MANAGE_CERTIFICATES,
            title="Making what goes to the vendor",
            work=work,
            on_done=done,
            template=flow.quorum_template,
        )


# --- the bundle ------------------------------------------------------------------------------


class _BundleChoosePage(_RklLoadingPage):
    def __init__(self, wizard: BundleWizard) -> None:
        super().__init__(wizard, wizard.flow.info(BundleStep.CHOOSE), "choosePage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        form = _form()
        self.host_key = self.add_field(
            form, "Host key:", _Choice("hostKeyChoice", self), "host_key"
        )
        self.kek = self.add_field(form, "Key encryption key:", _Choice("kekChoice", self), "kek")
        self.partner = self.add_field(form, "Host HSM:", _Choice("partnerChoice", self), "partner")
        layout.addLayout(form)
        layout.addWidget(
            _note(
                "The key block is TR-31 version D under an AES KEK, B under a TDES one. "
                "RSA-2048 has 112-bit strength: a TDES-2KEY KEK (80 bits) is too weak for it.",
                self,
            )
        )
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def fill(self) -> None:
        self.host_key.set_items(host_key_lines(self.flow.host_keys()))
        self.kek.set_items(key_lines(self.flow.keks()))
        self.partner.set_items((n, n) for n in self.flow.host_partners())

    def values(self) -> dict[str, Any]:
        return {
            "host_key": self.host_key.value(),
            "kek": self.kek.value(),
            "partner": self.partner.value(),
        }

    def validatePage(self) -> bool:
        values = self.values()
        return self.accept_step(
            BundleStep.CHOOSE,
            self.flow.validate_choice(**values),
            lambda: self.flow.choose(**values),
        )


class BundleWizard(_RklWizard):
    """The bundle of a ready host key for the host HSM, under the export quorum."""

    CHOOSE_PAGE, REVIEW_PAGE, RESULT_PAGE = range(3)
    ACTION = Action.EXPORT_KEY

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("rklBundleWizard")
        self.setWindowTitle("RKL bundle for the host HSM")
        self.flow: BundleFlow = BundleFlow()
        self.choose_page = _BundleChoosePage(self)
        self.review_page = _ReviewPage(self, self.flow.info(BundleStep.REVIEW), "&Make bundle")
        self.result_page = _ResultPage(self, self.flow.info(BundleStep.RESULT))
        self.add_pages(self.choose_page, self.review_page, self.result_page)
        self.load()

    def work_title(self) -> str:
        label = self.flow.host.key.label if self.flow.host else "the host key"
        return f"Making the bundle of {label} for {self.flow.partner}"

    def exchange(self, session: Session, control: JobControl) -> RklBundle:
        return self.flow.export(partial(self.state.services.rkl.export_bundle, session))

    def finish(self, result: Any) -> None:
        self.result = result
        self.changed("keys", "rkl")
        self.flow.record_result(result)
        self.next()

    def result_table(self) -> tuple[list[str], list[tuple[str, ...]]]:
        return ["file", "SHA-256"], [tuple(row) for row in self.flow.file_rows()]

    def payload(self) -> tuple[bytes, str, str] | None:
        if self.flow.result is None:
            return None
        return self.flow.file_data(), self.flow.file_name(), "bundle"
