"""The certificate wizards on the real services (SoftHSM2, pcscd with virtual cards,
SQLite): a request for a new TLS key pair with the template's defaults, the subject checked
as it is typed, a server certificate without a host name refused, written as DER that
``openssl req -verify`` accepts; a renewal that starts from the current certificate; a
certificate from another CA refused on the result page with its reason in full and nothing
kept, a file for another key caught before the check, and the right certificate kept and
shown with its facts."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel, QWizard

from tests.gui.conftest import GuiWorld, pin
from tests.gui.helpers import WAIT, log_on, on_device
from workstation.domain.keys import ManagedKey
from workstation.domain.policy import Action
from workstation.standards import pkix

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

CA_NAME = "Bank Issuing CA"
TEAM = ("olivia", "cara", "carl", "sam")  # partners, key pairs, certificates
CERTIFIERS = ("cara", "sam")  # manage_certificates: 1 key custodian + 1 supervisor
TLS = "TLS server key pair"  # seed template, EC P-256
RKL = "ATM RKL host key pair"  # seed template, RSA-2048


class IssuingCa:
    """The bank's issuing CA, in software: it signs what the requests ask for."""

    def __init__(self, name: str = CA_NAME) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bank"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        now = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=30))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )

    def issue(self, request: str | bytes, *, days: int = 365) -> bytes:
        """The certificate for a request (PEM or DER), PEM."""
        data = request.encode() if isinstance(request, str) else request
        csr = (
            x509.load_pem_x509_csr(data)
            if data.startswith(b"-----")
            else x509.load_der_x509_csr(data)
        )
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.name)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        for extension in csr.extensions:
            if not isinstance(extension.value, x509.BasicConstraints):
                builder = builder.add_extension(extension.value, extension.critical)
        certificate = builder.sign(self.key, hashes.SHA256())
        return certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


@dataclass
class Pairs:
    ca: IssuingCa
    fresh: ManagedKey  # TLS, active, no certificate
    certified: ManagedKey  # TLS, active, a certificate renewed once (the first superseded)
    rkl: ManagedKey  # RKL host, pre-active, a certificate that ends in 20 days
    spare: ManagedKey  # TLS, active, no certificate (the import test's)


def profile(host: str) -> pkix.Profile:
    return pkix.Profile(
        subject=f"CN={host},O=Bank,C=GB",
        dns_names=(host,),
        key_usage=frozenset({"digital_signature"}),
        extended_key_usage=("server_auth",),
    )


def certify(
    services: Any,
    session: Any,
    ca: IssuingCa,
    key: ManagedKey,
    asked: pkix.Profile,
    *,
    days: int = 365,
) -> bytes:
    """A request of ``key`` signed in the HSM, issued by ``ca``, imported: the certificate."""
    request = services.certificates.request(session, key.label, asked)
    certificate = ca.issue(request.pem, days=days)
    services.certificates.import_certificate(session, key.label, certificate, partner=CA_NAME)
    return certificate


@pytest.fixture(scope="module")
def pairs(gui_world: GuiWorld) -> Iterator[Pairs]:
    """The CA as a partner and four key pairs, made once through the services (readers 0
    to 3, freed again)."""
    services = gui_world.services
    ca = IssuingCa()
    session = services.logon.open_session()
    try:
        for reader, who in enumerate(TEAM):
            services.logon.log_on(session, gui_world.insert(who, reader), pin())
        services.interchange.add_partner(session, CA_NAME, "other", ca_certificates=[ca.pem])

        def make(template: str, *, active: bool = True) -> ManagedKey:
            key = services.keys.generate(session, template).keys[0]
            if active:
                key = services.keys.change_state(session, key.label, Action.ACTIVATE_KEY)
            return key

        made = Pairs(ca, make(TLS), make(TLS), make(RKL, active=False), make(TLS))
        certify(services, session, ca, made.certified, profile("old.bank.example"))
        certify(services, session, ca, made.certified, profile("www.bank.example"), days=200)
        certify(services, session, ca, made.rkl, profile("rkl.bank.example"), days=20)
    finally:
        session.close()
        gui_world.cards.remove_all()
    yield made


def label_text(wizard: Any, name: str) -> str:
    label = wizard.currentPage().findChild(QLabel, name)
    assert label is not None, name
    return str(label.text())


def error_text(wizard: Any, field: str) -> str:
    label = wizard.currentPage().findChild(QLabel, f"error_{field}")
    assert label is not None, field
    return str(label.text()) if label.isVisibleTo(wizard) else ""


_OPENED: list[Any] = []


@pytest.fixture(autouse=True)
def _close_opened() -> Iterator[None]:
    """Close the wizards a test left open. Not ``qtbot.addWidget``: a wizard deletes itself
    once closed with nothing running, and pytest-qt would then close a deleted object."""
    yield
    while _OPENED:
        wizard = _OPENED.pop()
        if shiboken6.isValid(wizard):
            wizard.close()


def opened(qtbot: Any, app_state: Any, entry: str, key: str | None = None) -> Any:
    from workstation.gui import certificate_wizards

    wizard = getattr(certificate_wizards, entry)(app_state, None, key)
    _OPENED.append(wizard)
    qtbot.waitUntil(lambda: wizard.data is not None, timeout=WAIT)
    return wizard


def quorum_met(qtbot: Any, page: Any) -> None:
    qtbot.waitUntil(lambda: "quorum is met" in page.quorum.status.text(), timeout=WAIT)


def open_from(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))


def shoot(wizard: Any, name: str) -> None:
    """The wizard as it stands, for the documentation (``KCW_SCREENSHOT_DIR``)."""
    folder = os.environ.get("KCW_SCREENSHOT_DIR")
    if folder:
        wizard.show()
        wizard.resize(900, 700)
        QApplication.processEvents()  # the layout follows the errors just hidden
        assert wizard.grab().save(str(Path(folder) / name))


def certificates_of(qtbot: Any, app_state: Any, key: ManagedKey) -> list[Any]:
    return list(
        on_device(
            qtbot,
            app_state,
            lambda s: app_state.services.certificates.certificates(s, key_ref=key.label),
        )
    )


# --- request -------------------------------------------------------------------------------


def test_request_for_a_new_key_pair_written_as_der(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, pairs: Pairs, tmp_path: Path
) -> None:
    log_on(qtbot, app_state, gui_world, *CERTIFIERS)
    wizard = opened(qtbot, app_state, "open_request", pairs.fresh.label)
    key_page = wizard.key_page
    assert key_page.key.value() == pairs.fresh.label  # the page's selection, chosen
    assert "No certificate yet." in key_page.detail.text()
    wizard.next()
    assert wizard.currentId() == wizard.PROFILE_PAGE
    page = wizard.profile_page
    # The template's defaults: a TLS server key pair signs, for TLS server authentication;
    # an EC key cannot assert key encipherment.
    assert page.usages["digital_signature"].isChecked()
    assert not page.usages["key_encipherment"].isEnabled()
    assert page.purposes["server_auth"].isChecked() and not page.ca.isChecked()
    page.subject.setText("CN=host.bank.example, O=Bank")
    assert page.subject_status.text().startswith("' O=Bank' is not TYPE=value")
    assert page.subject_status.styleSheet() == "color: #a40000;"
    wizard.next()
    assert wizard.currentId() == wizard.PROFILE_PAGE
    assert error_text(wizard, "subject").startswith("' O=Bank' is not TYPE=value")
    assert error_text(wizard, "dns_names").startswith("A TLS server certificate names its host")
    page.subject.setText("CN=host.bank.example,O=Bank,C=GB")
    assert page.subject_status.text() == "✓ RFC 4514 name: CN, O, C."
    page.dns.setPlainText("host.bank.example\napi.bank.example")
    page.ips.setPlainText("10.20.30.40")
    shoot(wizard, "certificates-request.png")
    wizard.next()
    assert wizard.currentId() == wizard.REVIEW_PAGE
    review = wizard.review_page
    assert review.file.text().endswith(f"{pairs.fresh.label}.csr")
    target = tmp_path / f"{pairs.fresh.label}.der"
    review.file.setText(str(tmp_path / f"{pairs.fresh.label}.csr"))
    review.format_buttons["der"].setChecked(True)
    assert review.file.text() == str(target)  # the suggested name follows the format
    assert label_text(wizard, "reviewSubject") == "CN=host.bank.example,O=Bank,C=GB"
    assert label_text(wizard, "reviewAlternativeNames") == (
        "host.bank.example, api.bank.example, 10.20.30.40"
    )
    quorum_met(qtbot, review)
    assert label_text(wizard, "reviewQuorum") == "1 key custodian + 1 supervisor"
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)

    der = target.read_bytes()
    digest = hashlib.sha256(der).hexdigest().upper()
    assert label_text(wizard, "resultSha256OfTheRequestDer") == digest
    assert label_text(wizard, "resultSubject") == "CN=host.bank.example,O=Bank,C=GB"
    assert label_text(wizard, "resultFile").startswith(f"{target} (DER, ")
    verified = subprocess.run(
        ["openssl", "req", "-verify", "-noout", "-inform", "DER", "-in", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    csr = x509.load_der_x509_csr(der)
    assert csr.public_bytes(serialization.Encoding.PEM).decode() == (
        wizard.result_page.pem.toPlainText()
    )
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["host.bank.example", "api.bank.example"]
    eku = csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_a_renewal_starts_from_the_current_certificate(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, pairs: Pairs, tmp_path: Path
) -> None:
    log_on(qtbot, app_state, gui_world, *CERTIFIERS)
    wizard = opened(qtbot, app_state, "open_request", pairs.certified.label)
    assert "Current certificate: CN=www.bank.example,O=Bank,C=GB" in (wizard.key_page.detail.text())
    wizard.next()
    page = wizard.profile_page
    assert page.subject.text() == "CN=www.bank.example,O=Bank,C=GB"
    assert page.dns.toPlainText() == "www.bank.example"
    assert page.renewal.text().startswith("Renewal: the current certificate (serial ")
    # Back to another key pair: its own defaults replace the renewal's.
    wizard.back()
    assert wizard.key_page.key.choose(pairs.fresh.label)
    wizard.next()
    assert page.subject.text() == "" and page.dns.toPlainText() == ""
    assert page.renewal.text().startswith("The key usage and purposes below are the defaults")
    wizard.reject()


# --- import --------------------------------------------------------------------------------


def test_import_refused_in_full_then_kept(
    qtbot: Any,
    app_state: Any,
    gui_world: GuiWorld,
    pairs: Pairs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log_on(qtbot, app_state, gui_world, *CERTIFIERS)
    request = on_device(
        qtbot,
        app_state,
        lambda s: app_state.services.certificates.request(
            s, pairs.spare.label, profile("spare.bank.example")
        ),
    )
    stranger = IssuingCa("Stranger CA")
    wrong = tmp_path / "from-stranger.pem"
    wrong.write_bytes(stranger.issue(request.pem))
    other_key = tmp_path / "other-key.pem"
    other = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "other")]))
        .sign(other, hashes.SHA256())
    )
    other_key.write_bytes(pairs.ca.issue(csr.public_bytes(serialization.Encoding.PEM)))
    right = tmp_path / "spare.p7b"
    issued = x509.load_pem_x509_certificate(pairs.ca.issue(request.pem, days=90))
    right.write_bytes(pkcs7.serialize_certificates([issued], serialization.Encoding.DER))

    wizard = opened(qtbot, app_state, "open_import", pairs.spare.label)
    key_page = wizard.key_page
    assert key_page.key.value() == pairs.spare.label
    wizard.next()
    assert error_text(wizard, "partner") == "Choose the partner that issued the certificate."
    assert key_page.partner.choose(CA_NAME)
    wizard.next()
    files = wizard.files_page
    open_from(monkeypatch, other_key)
    files.ask()
    assert files.path_label.text() == str(other_key)
    wizard.next()
    assert wizard.currentId() == wizard.FILES_PAGE
    assert error_text(wizard, "certificate") == (
        f"No certificate in other-key.pem carries the public key of {pairs.spare.label}: it "
        "was issued for another key."
    )
    open_from(monkeypatch, wrong)
    files.ask()
    assert files.preview.text().startswith(
        "• this key pair's certificate: CN=spare.bank.example,O=Bank,C=GB, issued by "
        "CN=Stranger CA,O=Bank"
    )
    wizard.next()
    review = wizard.review_page
    assert label_text(wizard, "reviewPartner") == CA_NAME
    quorum_met(qtbot, review)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    result = wizard.result_page
    assert result.title() == "Certificate refused"
    assert result.refusal.isVisibleTo(wizard)
    reason = result.refusal.text()
    assert reason.startswith("Certificate refused: ") and "CN=spare.bank.example" in reason
    assert "Stranger CA" in reason
    assert result.summary.text().startswith(
        f"The certificate was refused and nothing was kept for {pairs.spare.label}."
    )
    assert certificates_of(qtbot, app_state, pairs.spare) == []
    shoot(wizard, "certificates-import-refused.png")

    # The CA's own certificate, as PKCS #7: checked and kept.
    wizard = opened(qtbot, app_state, "open_import", pairs.spare.label)
    assert wizard.key_page.partner.choose(CA_NAME)
    wizard.next()
    open_from(monkeypatch, right)
    wizard.files_page.ask()
    wizard.files_page.usages["digital_signature"].setChecked(True)
    wizard.files_page.purposes["server_auth"].setChecked(True)
    wizard.next()
    assert label_text(wizard, "reviewMustAllow") == "digital_signature, server_auth"
    quorum_met(qtbot, wizard.review_page)
    with qtbot.waitSignal(app_state.data_changed, timeout=WAIT):
        wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    assert wizard.result_page.title() == "Certificate kept"
    assert not wizard.result_page.refusal.isVisibleTo(wizard)
    assert label_text(wizard, "resultSerial") == f"{issued.serial_number:X}"
    assert label_text(wizard, "resultTrustAnchor") == f"CN={CA_NAME},O=Bank"
    assert label_text(wizard, "resultAlternativeNames") == "spare.bank.example"
    kept = certificates_of(qtbot, app_state, pairs.spare)
    assert [c.serial for c in kept] == [f"{issued.serial_number:X}"]


def test_wizards_need_a_key_pair_that_may_be_certified(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, pairs: Pairs
) -> None:
    log_on(qtbot, app_state, gui_world, "cara")
    wizard = opened(qtbot, app_state, "open_request", "NO-SUCH-KEY")
    assert wizard.key_page.key.value() is None
    assert "can be certified" in wizard.key_page.status.text()
    wizard.next()
    assert error_text(wizard, "key") == "Choose the key pair."
    assert wizard.currentId() == wizard.KEY_PAGE
    wizard.reject()
    assert isinstance(wizard, QWizard)
