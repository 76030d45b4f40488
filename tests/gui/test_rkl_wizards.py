"""The RKL wizards on the real services (SoftHSM2, pcscd with virtual cards, SQLite): a
vendor profile of each style added (a bad vendor key shown in words first); a host key for
a certificate vendor made, its request saved, the certificate a vendor CA made here issues
imported; a host key for a signature vendor taken up in a second wizard, a forged signature
refused with nothing changed, the vendor's signature kept; and the bundle for the host HSM
saved and opened with the KEK's clear value, a too weak KEK refused beside its field."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from PySide6.QtWidgets import QWizard

from tests.gui.conftest import GuiWorld, pin
from tests.gui.helpers import WAIT, log_on, on_device
from tests.gui.test_exchange_wizards import (
    PartnerPki,
    clear,
    error_box,
    error_text,
    label_text,
    quorum_met,
    save_to,
)
from workstation.domain.keys import ManagedKey
from workstation.domain.policy import Action
from workstation.domain.rkl import RklStatus
from workstation.standards import tr31

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

TEAM = ("olivia", "cara", "carl", "sam")  # vendor profiles, generation, certificates, export
VENDOR_CA = "Vendor CA (GUI)"
HOST = "Host HSM (GUI)"
CERT_VENDOR = "Fixture C"
SIG_VENDOR = "Fixture S"
RKL = "ATM RKL host key pair"
SCHEME = padding.PKCS1v15()


@dataclass
class Rkl:
    pki: PartnerPki
    signer: rsa.RSAPrivateKey
    kek: ManagedKey  # AES-256 KEK, active
    weak_kek: ManagedKey  # TDES-2KEY, active


def key_pem(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


@pytest.fixture(scope="module")
def rkl(gui_world: GuiWorld) -> Iterator[Rkl]:
    """The vendor CA and host HSM partners, a profile of each style and the KEKs, made once
    for the module through the services (readers 0 to 3, freed again)."""
    services = gui_world.services
    pki = PartnerPki()
    signer = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    session = services.logon.open_session()
    try:
        for reader, who in enumerate(TEAM):
            services.logon.log_on(session, gui_world.insert(who, reader), pin())
        services.interchange.add_partner(
            session, VENDOR_CA, "device-vendor", ca_certificates=[pki.pem(pki.ca)]
        )
        services.interchange.add_partner(session, HOST, "host-hsm")
        services.rkl.add_vendor(
            session, CERT_VENDOR, "certificate", template=RKL, partner=VENDOR_CA
        )
        services.rkl.add_vendor(
            session,
            SIG_VENDOR,
            "signature",
            template=RKL,
            public_key=key_pem(signer),
            signature_scheme="pkcs1v15",
            signed_form="pkcs1",
        )

        def make(template: str) -> ManagedKey:
            key = services.keys.generate(session, template).keys[0]
            return services.keys.change_state(session, key.label, Action.ACTIVATE_KEY)

        made = Rkl(
            pki=pki,
            signer=signer,
            kek=make("Zone master key (KEK)"),
            weak_kek=make("Zone master key (TDES)"),
        )
    finally:
        session.close()
        gui_world.cards.remove_all()
    yield made


def issue(pki: PartnerPki, csr_pem: bytes) -> bytes:
    """What the vendor's CA does with the request."""
    csr = x509.load_pem_x509_csr(csr_pem)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(pki.ca.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(pki.ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def opened(qtbot: Any, app_state: Any, open_wizard: Callable[[Any, Any], Any]) -> Any:
    """A wizard opened as the Certificates page opens it, closed by qtbot, its lists read."""
    wizard = open_wizard(app_state, None)
    qtbot.addWidget(wizard)
    qtbot.waitUntil(lambda: wizard.rkl is not None, timeout=WAIT)
    return wizard


def host_status(qtbot: Any, app_state: Any, label: str) -> RklStatus:
    host = on_device(qtbot, app_state, lambda s: app_state.services.rkl.host_key(s, label))
    return RklStatus(host.link.status)


def new_host_key(qtbot: Any, app_state: Any, vendor: str) -> Any:
    """The host key wizard up to the page after Create: a new host key for ``vendor``."""
    from workstation.gui.rkl_wizards import open_host_key

    wizard = opened(qtbot, app_state, open_host_key)
    start = wizard.start_page
    assert start.new.isChecked()
    wizard.next()
    assert error_text(wizard, "vendor") == "Choose the ATM vendor the host key is for."
    assert start.vendor.choose(vendor)
    wizard.next()
    assert wizard.currentId() == wizard.CREATE_PAGE
    assert label_text(wizard, "createTemplate") == RKL
    quorum_met(qtbot, wizard.create_page)
    assert label_text(wizard, "createQuorum") == "2 key custodians"
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.SEND_PAGE, timeout=WAIT)
    return wizard


# --- vendor profiles -------------------------------------------------------------------------


def test_vendor_profiles_of_both_styles(
    qtbot: Any,
    app_state: Any,
    gui_world: GuiWorld,
    rkl: Rkl,
    tmp_path: Path,
) -> None:
    from workstation.gui.rkl_wizards import open_vendor_profile

    log_on(qtbot, app_state, gui_world, *TEAM)
    wizard = opened(qtbot, app_state, open_vendor_profile)
    page = wizard.profile_page
    assert page.template.value() == RKL  # the only template that can make host keys
    wizard.next()
    assert error_text(wizard, "name") == "Give the vendor's name."
    page.name.setText("Vendor W")
    assert page.style_choice.choose("certificate")
    wizard.next()
    assert wizard.currentId() == wizard.DETAILS_PAGE
    details = wizard.details_page
    assert details.certificate_box.isVisibleTo(wizard)
    assert not details.signature_box.isVisibleTo(wizard)
    assert details.partner.choose(VENDOR_CA)
    wizard.next()
    review = wizard.review_page
    quorum_met(qtbot, review)
    assert label_text(wizard, "reviewVendorCaPartner") == VENDOR_CA
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    assert label_text(wizard, "resultStyle") == "certificate"

    wizard = opened(qtbot, app_state, open_vendor_profile)
    page = wizard.profile_page
    page.name.setText("Vendor V")
    assert page.style_choice.choose("signature")
    wizard.next()
    details = wizard.details_page
    bad = tmp_path / "not-a-key.pem"
    bad.write_bytes(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    details.public_key.load(bad)
    assert "is not a public key in SubjectPublicKeyInfo form" in error_text(wizard, "public_key")
    good = tmp_path / "vendor-v.pem"
    vendor_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    good.write_bytes(key_pem(vendor_key))
    details.public_key.load(good)
    assert error_text(wizard, "public_key") == ""
    assert details.scheme.choose("pss") and details.form.choose("spki")
    wizard.next()
    quorum_met(qtbot, wizard.review_page)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    vendors = on_device(qtbot, app_state, lambda s: app_state.services.rkl.vendors(s))
    added = {v.name: v for v in vendors}
    assert added["Vendor W"].partner == VENDOR_CA
    assert added["Vendor V"].signature_scheme == "pss" and added["Vendor V"].signed_form == "spki"


# --- host keys -------------------------------------------------------------------------------


def test_certificate_host_key_from_request_to_ready(
    qtbot: Any,
    app_state: Any,
    gui_world: GuiWorld,
    rkl: Rkl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log_on(qtbot, app_state, gui_world, *TEAM)
    wizard = new_host_key(qtbot, app_state, CERT_VENDOR)
    label = wizard.flow.host.key.label
    send = wizard.send_page
    wizard.next()
    assert error_text(wizard, "sent") == "Make what goes to the vendor first."
    send.subject.setText("CN=a, O=b")
    send.make_button.click()
    assert error_text(wizard, "subject")  # pkix names the wrong separator
    send.subject.setText("CN=RKL GUI host,O=Bank,C=GB")
    csr = tmp_path / "host.csr"
    save_to(monkeypatch, csr)
    send.make_button.click()
    qtbot.waitUntil(lambda: send.saved.text().startswith("Saved: "), timeout=WAIT)
    assert x509.load_pem_x509_csr(csr.read_bytes()).is_signature_valid
    wizard.next()
    assert wizard.currentId() == wizard.RECEIVE_PAGE
    receive = wizard.receive_page
    assert receive.certificate.isVisibleTo(wizard) and not receive.signature.isVisibleTo(wizard)
    issued = tmp_path / "host.pem"
    issued.write_bytes(issue(rkl.pki, csr.read_bytes()))
    receive.certificate.load(issued)
    quorum_met(qtbot, receive)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    assert label_text(wizard, "resultStatus") == "ready"
    assert host_status(qtbot, app_state, label) is RklStatus.READY


def test_signature_host_key_taken_up_and_a_forged_signature_refused(
    qtbot: Any,
    app_state: Any,
    gui_world: GuiWorld,
    rkl: Rkl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workstation.gui.rkl_wizards import open_host_key

    log_on(qtbot, app_state, gui_world, *TEAM)
    wizard = new_host_key(qtbot, app_state, SIG_VENDOR)
    label = wizard.flow.host.key.label
    send = wizard.send_page
    assert not send.request_box.isVisibleTo(wizard)
    material = tmp_path / "host.der"
    save_to(monkeypatch, material)
    send.make_button.click()
    qtbot.waitUntil(lambda: send.saved.text().startswith("Saved: "), timeout=WAIT)
    # The vendor takes its time: the host key is taken up later, in another wizard.

    wizard = opened(qtbot, app_state, open_host_key)
    start = wizard.start_page
    start.again.setChecked(True)
    assert start.host_key.choose(label)
    wizard.next()
    assert wizard.currentId() == wizard.RECEIVE_PAGE
    receive = wizard.receive_page
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = tmp_path / "forged.sig"
    forged.write_bytes(stranger.sign(material.read_bytes(), SCHEME, hashes.SHA256()))
    receive.signature.load(forged)
    quorum_met(qtbot, receive)
    wizard.next()
    qtbot.waitUntil(lambda: error_box(wizard) is not None, timeout=WAIT)
    box = error_box(wizard)
    assert box is not None and box.text().startswith("Signature refused: it does not verify")
    box.accept()
    assert wizard.currentId() == wizard.RECEIVE_PAGE
    assert host_status(qtbot, app_state, label) is RklStatus.AWAITING_SIGNATURE
    good = tmp_path / "host.sig"
    good.write_bytes(rkl.signer.sign(material.read_bytes(), SCHEME, hashes.SHA256()))
    receive.signature.load(good)
    qtbot.waitUntil(lambda: not wizard.running, timeout=WAIT)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    assert host_status(qtbot, app_state, label) is RklStatus.READY


# --- the bundle ------------------------------------------------------------------------------


def test_bundle_saved_and_opened_at_the_host(
    qtbot: Any,
    app_state: Any,
    gui_world: GuiWorld,
    rkl: Rkl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workstation.gui.rkl_wizards import open_bundle

    log_on(qtbot, app_state, gui_world, *TEAM)
    # A ready host key of the signature vendor, made through the services.
    services = app_state.services

    def ready(session: Any) -> Any:
        host = services.rkl.create_host_key(session, SIG_VENDOR)
        material = services.rkl.material_to_sign(session, host.key.label)
        signature = rkl.signer.sign(material, SCHEME, hashes.SHA256())
        return services.rkl.import_signature(session, host.key.label, signature)

    host = on_device(qtbot, app_state, ready)
    wizard = opened(qtbot, app_state, open_bundle)
    page = wizard.choose_page
    assert page.host_key.choose(host.key.label)
    assert page.partner.choose(HOST)
    assert page.kek.choose(rkl.weak_kek.label)
    wizard.next()
    assert "(TDES-2KEY, 80-bit strength) is weaker than host key" in error_text(wizard, "kek")
    assert page.kek.choose(rkl.kek.label)
    wizard.next()
    assert wizard.currentId() == wizard.REVIEW_PAGE
    review = wizard.review_page
    assert wizard.button(QWizard.WizardButton.CommitButton).text() == "&Make bundle"
    quorum_met(qtbot, review)
    assert label_text(wizard, "reviewQuorum") == "2 key custodians + 1 supervisor"
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    result = wizard.result_page
    assert label_text(wizard, "resultFormat") == "TR-31 D"
    assert result.model.rowCount() == 5  # the block, the public key, signature, material, key
    target = tmp_path / "bundle.zip"
    save_to(monkeypatch, target)
    result.save_button.click()
    qtbot.waitUntil(lambda: result.saved.text().startswith("Saved: "), timeout=WAIT)
    with zipfile.ZipFile(io.BytesIO(target.read_bytes())) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        block = archive.read("private-key.tr31").decode().strip()
        signed = archive.read("signed-material.der")
    assert manifest["key"]["label"] == host.key.label and manifest["host_partner"] == HOST
    header, value = tr31.unwrap(clear(gui_world, rkl.kek), block)
    private = serialization.load_der_private_key(value, None)
    assert header.algorithm == "R" and signed == private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )
