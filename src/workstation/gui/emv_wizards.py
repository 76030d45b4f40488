"""The EMV issuer key wizards: issuer keys for a list of BINs in one job, the request to the
brand, and the brand's issuer certificate imported.

Each wizard renders a flow of :mod:`workstation.flows.emv` on the pages of the exchange
wizards (:mod:`workstation.gui.exchange_wizards`): what it chooses from (the brands and
their CA keys, the templates, the issuer key sets in use) is read once on the device
thread when it opens; the work runs through ``gui.actions.perform`` under its quorum
(co-sign when someone is missing) on the device thread, behind a progress dialog that can
cancel the job between BINs; the EMV service checks every rule again and a refusal is shown
in its words with nothing stored. A request file is written only where the person saves it.

Entry points (the lead puts the buttons on the Certificates page): :func:`open_issuer_keys`,
:func:`open_issuer_request`, :func:`open_import_certificate`, or the wizard classes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
)

from workstation.domain.emv_keys import IssuerKeySet
from workstation.domain.policy import Action
from workstation.errors import BadInput
from workstation.flows.emv import (
    EXPONENTS,
    EmvData,
    ImportCertificateFlow,
    ImportStep,
    IssuerKeysFlow,
    IssuerKeysStep,
    IssuerRequestFlow,
    RequestStep,
)
from workstation.flows.interchange import LoadedFile
from workstation.services.app import WorkstationServices
from workstation.services.emv import IssuerKeyJob
from workstation.services.session import Session

from .errors import describe
from .exchange_wizards import (
    _Choice,
    _ExchangePage,
    _ExchangeWizard,
    _FileField,
    _LoadingPage,
    _mono,
    _ResultPage,
    _ReviewPage,
)
from .runner import JobControl
from .state import AppState
from .wizards import _form, _note

log = logging.getLogger(__name__)

__all__ = [
    "ImportCertificateWizard",
    "IssuerKeysWizard",
    "IssuerRequestWizard",
    "open_import_certificate",
    "open_issuer_keys",
    "open_issuer_request",
    "read_emv_data",
]

MAX_BIN_FILE = 1 << 20  # a list of 1,000 BINs with comments fits well within this


def open_issuer_keys(state: AppState, parent: QWidget | None) -> QWizard:
    """Make the issuer keys of a list of BINs (opened, window-modal to ``parent``)."""
    wizard = IssuerKeysWizard(state, parent)
    wizard.open()
    return wizard


def open_issuer_request(state: AppState, parent: QWidget | None) -> QWizard:
    """Make the request for a BIN's issuer certificate."""
    wizard = IssuerRequestWizard(state, parent)
    wizard.open()
    return wizard


def open_import_certificate(state: AppState, parent: QWidget | None) -> QWizard:
    """Import the brand's issuer certificate of a BIN."""
    wizard = ImportCertificateWizard(state, parent)
    wizard.open()
    return wizard


def read_emv_data(services: WorkstationServices, session: Session) -> EmvData:
    """Everything the EMV wizards choose from, in one read (run it on the device thread)."""
    partners = services.interchange.partners(session)
    return EmvData(
        brands=tuple(p for p in partners if p.kind == "brand"),
        ca_keys=tuple(services.emv.ca_keys(session)),
        templates=tuple(services.templates.list(session)),
        key_sets=tuple(services.emv.key_sets(session, in_use_only=True)),
    )


class _EmvWizard(_ExchangeWizard):
    """An EMV wizard: the exchange wizards' running, saving and result page, with the EMV
    data read when it opens."""

    def load(self) -> None:
        services = self.state.services

        def work(_: JobControl) -> EmvData:
            return read_emv_data(services, self.state.ensure_session())

        def done(data: EmvData) -> None:
            self.data = data  # type: ignore[assignment]
            self.load_error = None
            self.flow.load(data)
            self.loaded.emit()

        def failed(exc: BaseException) -> None:
            self.load_error = describe(exc)[1]
            self.loaded.emit()

        self.call(work, done, failed, title="read the brands and issuer keys")

    def finish(self, result: Any) -> None:
        self.result = result
        if self.imports:  # the job made keys
            self.state.data_changed.emit("keys")
        self.state.data_changed.emit("emv")
        self.flow.record_result(result)
        self.next()

    def review(self, commit: str, note: str, step: Any) -> _ReviewPage:
        page = _ReviewPage(self, self.flow.info(step), commit, note)
        box = page.findChild(QGroupBox)
        if box is not None:
            box.setTitle("What is done")
        return page


# --- issuer keys for BINs ------------------------------------------------------------------------


class _IssuerChoosePage(_LoadingPage):
    def __init__(self, wizard: IssuerKeysWizard) -> None:
        super().__init__(wizard, wizard.flow.info(IssuerKeysStep.CHOOSE), "issuerChoosePage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        form = _form()
        self.brand = self.add_field(form, "Card brand:", _Choice("brandChoice", self), "brand")
        self.template = self.add_field(
            form, "Key pair template:", _Choice("templateChoice", self), "template"
        )
        layout.addLayout(form)
        layout.addWidget(
            _note(f"Issuer master keys from: {', '.join(self.flow.master_templates)}.", self)
        )
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def fill(self) -> None:
        data = self.w.data
        assert isinstance(data, EmvData)
        self.brand.set_items((n, n) for n in data.brand_names)
        templates = self.flow.key_pair_templates()
        self.template.set_items(
            ((f"{t.name} ({t.algorithm.value})", t.name) for t in templates), placeholder=None
        )

    def values(self) -> dict[str, Any]:
        return {"brand": self.brand.value(), "template": self.template.value()}

    def validatePage(self) -> bool:
        values = self.values()
        return self.accept_step(
            IssuerKeysStep.CHOOSE,
            self.flow.validate_choice(**values),
            lambda: self.flow.choose(**values),
        )


class _BinsPage(_ExchangePage):
    def __init__(self, wizard: IssuerKeysWizard) -> None:
        super().__init__(wizard, wizard.flow.info(IssuerKeysStep.BINS), "binsPage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        self.bins = QPlainTextEdit(self)
        self.bins.setObjectName("binsEdit")
        self.bins.setPlaceholderText("400000\n40000012\n…")
        self.bins.setTabChangesFocus(True)
        _mono(self.bins, 1.1)
        layout.addWidget(self.bins, 1)
        row = QHBoxLayout()
        self.load_button = QPushButton("&Load a file…", self)
        self.load_button.setObjectName("binsFileChoose")
        self.load_button.clicked.connect(self.ask)
        row.addWidget(self.load_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.add_error("bins", layout)
        layout.addWidget(self.general_error)

    def ask(self) -> None:
        path = self.w.ask_open(self, "Load the BIN list", "Text files (*.txt *.csv);;All files (*)")
        if path is not None:
            self.load(path)

    def load(self, path: Path) -> None:
        """Put the BINs of a text file (one a line) in the list, to check and edit."""
        self.w.remember_folder(path)
        try:
            data = path.read_bytes()
            if len(data) > MAX_BIN_FILE:
                raise BadInput(f"{path.name} is {len(data):,} bytes; that is no BIN list.")
            text = data.decode("ascii")
        except OSError as e:
            self.errors["bins"].show_error(f"Cannot read the BIN list {path}: {e.strerror}.")
            return
        except (BadInput, UnicodeDecodeError) as e:
            message = e.user_message() if isinstance(e, BadInput) else f"{path.name} is not text."
            self.errors["bins"].show_error(message)
            return
        self.bins.setPlainText(text)
        self.errors["bins"].show_error(None)

    def validatePage(self) -> bool:
        text = self.bins.toPlainText()
        return self.accept_step(
            IssuerKeysStep.BINS, self.flow.validate_bins(text), lambda: self.flow.set_bins(text)
        )


class IssuerKeysWizard(_EmvWizard):
    """EMV issuer keys for a list of BINs: one job, with progress and Cancel."""

    CHOOSE_PAGE, BINS_PAGE, REVIEW_PAGE, RESULT_PAGE = range(4)
    ACTION = Action.GENERATE_KEY
    cancellable = True
    imports = True  # new keys in the inventory

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("issuerKeysWizard")
        self.setWindowTitle("EMV issuer keys for BINs")
        self.flow: IssuerKeysFlow = IssuerKeysFlow()
        self.choose_page = _IssuerChoosePage(self)
        self.bins_page = _BinsPage(self)
        self.review_page = self.review(
            "&Generate",
            "A progress window shows how far the job has come; Cancel stops it after the BIN "
            "being made.",
            IssuerKeysStep.REVIEW,
        )
        self.result_page = _ResultPage(self, self.flow.info(IssuerKeysStep.RESULT))
        self.add_pages(self.choose_page, self.bins_page, self.review_page, self.result_page)
        self.load()

    def work_title(self) -> str:
        return f"Making the issuer keys of {len(self.flow.bins):,} BINs"

    def exchange(self, session: Session, control: JobControl) -> IssuerKeyJob:
        return self.flow.run(
            partial(self.state.services.emv.create_issuer_keys, session),
            progress=lambda done, total: control.progress(
                done, total, f"{done:,} of {total:,} BINs"
            ),
            cancelled=control.cancelled,
        )

    def result_table(self) -> tuple[Sequence[str], list[tuple[str, ...]]]:
        return ("BIN", "Key pair", "Check value", "Master keys"), list(self.flow.key_rows())


# --- the request ---------------------------------------------------------------------------------


class _RequestChoosePage(_LoadingPage):
    def __init__(self, wizard: IssuerRequestWizard) -> None:
        super().__init__(wizard, wizard.flow.info(RequestStep.CHOOSE), "requestChoosePage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        form = _form()
        self.bin = self.add_field(form, "BIN:", _Choice("binChoice", self), "bin")
        self.ca_index = self.add_field(
            form, "Brand CA key:", _Choice("caIndexChoice", self), "ca_index"
        )
        self.expiry = self.add_field(form, "Expiry (MM/YY):", QLineEdit(self), "expiry")
        self.expiry.setObjectName("expiryEdit")
        self.expiry.setPlaceholderText("e.g. 12/29")
        self.expiry.setMaxLength(5)
        self.serial = self.add_field(form, "Serial number:", QLineEdit(self), "serial")
        self.serial.setObjectName("serialEdit")
        self.serial.setPlaceholderText("empty: the brand assigns it (6 hex digits otherwise)")
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        self.bin.currentIndexChanged.connect(self._bin_changed)

    def fill(self) -> None:
        data = self.w.data
        assert isinstance(data, EmvData)
        self.bin.set_items(
            (f"{s.bin} — {s.brand}, {s.key_pair_label} ({s.status.value})", s.bin)
            for s in sorted(data.key_sets, key=lambda s: s.bin)
        )

    def _bin_changed(self, *_: Any) -> None:
        choices = self.flow.ca_choices(self.bin.value())
        self.ca_index.set_items(((text, index) for index, text in choices), placeholder=None)

    def values(self) -> dict[str, Any]:
        return {
            "bin": self.bin.value(),
            "ca_index": self.ca_index.value(),
            "expiry": self.expiry.text(),
            "serial": self.serial.text(),
        }

    def validatePage(self) -> bool:
        values = self.values()
        return self.accept_step(
            RequestStep.CHOOSE,
            self.flow.validate_choice(**values),
            lambda: self.flow.choose(**values),
        )


class IssuerRequestWizard(_EmvWizard):
    """The request for a BIN's issuer certificate, signed in the HSM by its key pair."""

    CHOOSE_PAGE, REVIEW_PAGE, RESULT_PAGE = range(3)
    ACTION = Action.MANAGE_CERTIFICATES

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("issuerRequestWizard")
        self.setWindowTitle("Request issuer certificate")
        self.flow: IssuerRequestFlow = IssuerRequestFlow(today=date.today())
        self.choose_page = _RequestChoosePage(self)
        self.review_page = self.review("&Sign", "", RequestStep.REVIEW)
        self.result_page = _ResultPage(self, self.flow.info(RequestStep.RESULT))
        self.add_pages(self.choose_page, self.review_page, self.result_page)
        self.load()

    def exchange(self, session: Session, control: JobControl) -> bytes:
        return self.flow.run(partial(self.state.services.emv.issuer_request, session))

    def payload(self) -> tuple[bytes, str, str] | None:
        if self.flow.result is None:
            return None
        return self.flow.result, self.flow.file_name(), "request (JSON)"


# --- the certificate -----------------------------------------------------------------------------


class _ImportChoosePage(_LoadingPage):
    def __init__(self, wizard: ImportCertificateWizard) -> None:
        super().__init__(wizard, wizard.flow.info(ImportStep.CHOOSE), "importChoosePage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        form = _form()
        self.bin = self.add_field(form, "BIN:", _Choice("binChoice", self), "bin")
        layout.addLayout(form)
        self.asked = _note("", self)
        self.asked.setObjectName("askedNote")
        layout.addWidget(self.asked)
        layout.addWidget(self.general_error)
        layout.addStretch(1)
        self.bin.currentIndexChanged.connect(self._bin_changed)

    def fill(self) -> None:
        self.bin.set_items((b, b) for b in self.flow.requested_bins())

    def _bin_changed(self, *_: Any) -> None:
        data = self.w.data
        key_set = data.key_set(self.bin.value()) if isinstance(data, EmvData) else None
        request = key_set.request if key_set else None
        self.asked.setText(
            f"Requested from {key_set.brand} under CA key index {request.ca_index:02X}, "
            f"expiry {request.expiry[:2]}/{request.expiry[2:]}; key pair "
            f"{key_set.key_pair_label}."
            if key_set and request
            else ""
        )

    def validatePage(self) -> bool:
        chosen = self.bin.value()
        return self.accept_step(
            ImportStep.CHOOSE, self.flow.validate_bin(chosen), lambda: self.flow.choose(chosen)
        )


class _CertificatePage(_ExchangePage):
    def __init__(self, wizard: ImportCertificateWizard) -> None:
        super().__init__(wizard, wizard.flow.info(ImportStep.CERTIFICATE), "certificatePage")
        self.flow = wizard.flow
        layout = QVBoxLayout(self)
        form = _form()
        self.certificate = self.add_field(
            form,
            "Certificate (tag 90):",
            _FileField("certificateFile", "certificate", wizard, self, optional=False),
            "certificate",
        )
        self.certificate.chosen.connect(self._chosen)
        self.remainder = self.add_field(form, "Remainder (tag 92):", QLineEdit(self), "remainder")
        self.remainder.setObjectName("remainderEdit")
        self.remainder.setPlaceholderText("hex; empty when the key fits in the certificate")
        _mono(self.remainder)
        self.exponent = self.add_field(
            form, "Exponent (tag 9F32):", _Choice("exponentChoice", self), "exponent"
        )
        self.exponent.set_items(((text, value) for value, text in EXPONENTS), placeholder=None)
        self.ca_index = self.add_field(form, "Brand CA key index:", QLineEdit(self), "ca_index")
        self.ca_index.setObjectName("caIndexEdit")
        self.ca_index.setMaxLength(2)
        self.ca_index.setMaximumWidth(80)
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def initializePage(self) -> None:
        asked = self.flow.asked_index
        if asked is not None:
            self.ca_index.setText(f"{asked:02X}")
        self.show_errors({})

    def _chosen(self, loaded: LoadedFile | None) -> None:
        self.errors["certificate"].show_error(self.certificate.error or None)

    def values(self) -> dict[str, Any]:
        loaded = self.certificate.file
        return {
            "certificate": loaded.data if loaded else b"",
            "remainder": self.remainder.text(),
            "exponent": self.exponent.value(),
            "ca_index": self.ca_index.text(),
        }

    def validatePage(self) -> bool:
        values = self.values()
        if not values["certificate"] and self.certificate.error:
            return self.show_errors({"certificate": self.certificate.error})
        name = Path(self.certificate.file.name).name if self.certificate.file else ""
        return self.accept_step(
            ImportStep.CERTIFICATE,
            self.flow.validate_certificate(**values),
            lambda: self.flow.set_certificate(name=name, **values),
        )


class ImportCertificateWizard(_EmvWizard):
    """The brand's issuer certificate of a BIN, recovered and checked before it is kept."""

    CHOOSE_PAGE, CERTIFICATE_PAGE, REVIEW_PAGE, RESULT_PAGE = range(4)
    ACTION = Action.MANAGE_CERTIFICATES

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.setObjectName("importCertificateWizard")
        self.setWindowTitle("Import issuer certificate")
        self.flow: ImportCertificateFlow = ImportCertificateFlow()
        self.choose_page = _ImportChoosePage(self)
        self.certificate_page = _CertificatePage(self)
        self.review_page = self.review("&Import", "", ImportStep.REVIEW)
        self.result_page = _ResultPage(self, self.flow.info(ImportStep.RESULT))
        self.add_pages(self.choose_page, self.certificate_page, self.review_page, self.result_page)
        self.load()

    def exchange(self, session: Session, control: JobControl) -> IssuerKeySet:
        return self.flow.run(partial(self.state.services.emv.import_issuer_certificate, session))
