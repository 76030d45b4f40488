"""The exchange wizards on the real services (SoftHSM2, pcscd with virtual cards, SQLite):
a TR-31 export saved to a file and imported again under the same KEK; a malformed block, a
check value that does not match and shared information that is not hex, each shown in
words with nothing stored; DUKPT initial keys with progress, saved as a CSV whose blocks
unwrap under the KEK, and a cancelled job that gives out nothing; the DUKPT test tool
refusing a production BDK; a legacy import with its PCI PIN warning before and after; and
a two-pass TR-34 import answering a random number token the wizard made."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from PySide6.QtGui import QFontInfo
from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox, QWizard

from tests.gui.conftest import GuiWorld, pin
from tests.gui.helpers import WAIT, log_on, on_device
from workstation.domain import components as comp
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.policy import Action
from workstation.services.ports import KeyQuery
from workstation.standards import dukpt, legacy, tr31, tr34

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

PARTNER = "Acquirer Bank 042"
TEAM = ("olivia", "cara", "carl", "sam")  # partners, exports, imports, the test tool


# --- the partner's PKI, made in software ---------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, PARTNER),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


class PartnerPki:
    """The partner's CA, its TR-34 KDH and KRD key pairs and an ECDH key pair."""

    def __init__(self) -> None:
        self.ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ca = self.issue("Partner CA", self.ca_key.public_key(), ca=True, usage="ca")
        self.kdh_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kdh = self.issue("Partner KDH", self.kdh_key.public_key(), usage="sign")
        self.krd_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        self.krd = self.issue("Partner KRD", self.krd_key.public_key(), usage="encrypt")
        self.ecdh_key = ec.generate_private_key(ec.SECP256R1())
        self.ecdh = self.issue("Partner ECDH", self.ecdh_key.public_key(), usage="agree")

    def issue(self, cn: str, public: Any, *, usage: str, ca: bool = False) -> x509.Certificate:
        now = datetime.now(UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(_name("Partner CA"))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=usage == "sign",
                    content_commitment=False,
                    key_encipherment=usage == "encrypt",
                    data_encipherment=False,
                    key_agreement=usage == "agree",
                    key_cert_sign=usage == "ca",
                    crl_sign=usage == "ca",
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.ca_key, hashes.SHA256())
        )

    @staticmethod
    def pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    @staticmethod
    def der(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.DER)


@dataclass
class Keys:
    pki: PartnerPki
    zmk: ManagedKey  # AES-256 KEK, active
    zmk_tdes: ManagedKey  # TDES-2KEY ZMK, active
    pek: ManagedKey  # AES-256 PIN key, pre-active
    bdk: ManagedKey  # AES-128 BDK, active (production)
    test_bdk: ManagedKey  # AES-128 BDK, active, from the test template


@pytest.fixture(scope="module")
def keys(gui_world: GuiWorld) -> Iterator[Keys]:
    """The partner (with its CA and KRD certificate) and the keys the exchanges use,
    made once for the module through the services (readers 0 to 3, freed again)."""
    services = gui_world.services
    pki = PartnerPki()
    session = services.logon.open_session()
    try:
        for reader, who in enumerate(TEAM):
            services.logon.log_on(session, gui_world.insert(who, reader), pin())
        services.interchange.add_partner(
            session,
            PARTNER,
            "bank",
            ca_certificates=[pki.pem(pki.ca)],
            krd_certificate=pki.pem(pki.krd),
        )
        for name in ("tr34-krd", "tr34-kdh", "ecdh-p256"):
            services.interchange.exchange_certificate(session, name)

        def make(template: str, *, active: bool = True) -> ManagedKey:
            key = services.keys.generate(session, template).keys[0]
            if active:
                key = services.keys.change_state(session, key.label, Action.ACTIVATE_KEY)
            return key

        made = Keys(
            pki=pki,
            zmk=make("Zone master key (KEK)"),
            zmk_tdes=make("Zone master key (TDES)"),
            pek=make("PIN encryption key", active=False),
            bdk=make("AES base derivation key"),
            test_bdk=make("AES base derivation key (test)"),
        )
    finally:
        session.close()
        gui_world.cards.remove_all()
    yield made


def clear(world: GuiWorld, key: ManagedKey) -> bytes:
    """A key's clear value, from the HSM (for checking what the wizards made)."""
    assert key.wrapped is not None
    return bytes(world.services.ctx.hsm.export_clear_key(key.algorithm, key.wrapped))


def key_count(qtbot: Any, app_state: Any) -> int:
    _, total = on_device(
        qtbot, app_state, lambda s: app_state.services.keys.query(s, KeyQuery(limit=1))
    )
    return int(total)


def error_text(wizard: Any, field: str) -> str:
    label = wizard.currentPage().findChild(QLabel, f"error_{field}")
    assert label is not None, field
    return str(label.text()) if label.isVisibleTo(wizard) else ""


def label_text(wizard: Any, name: str) -> str:
    label = wizard.currentPage().findChild(QLabel, name)
    assert label is not None, name
    return str(label.text())


def loaded(qtbot: Any, wizard: Any) -> None:
    qtbot.waitUntil(lambda: wizard.data is not None, timeout=WAIT)


def opened(qtbot: Any, app_state: Any, open_wizard: Callable[[Any, Any], Any]) -> Any:
    """A wizard opened as the Exchanges page opens it, closed by qtbot, its lists read."""
    wizard = open_wizard(app_state, None)
    qtbot.addWidget(wizard)
    loaded(qtbot, wizard)
    return wizard


def quorum_met(qtbot: Any, page: Any) -> None:
    qtbot.waitUntil(lambda: "quorum is met" in page.quorum.status.text(), timeout=WAIT)


def error_box(wizard: Any) -> QMessageBox | None:
    box = wizard.findChild(QMessageBox, "errorBox")
    return box if box is not None and box.isVisible() else None


def save_to(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))


def open_from(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))


def is_mono(widget: Any) -> bool:
    return bool(QFontInfo(widget.font()).fixedPitch())


# --- TR-31 ---------------------------------------------------------------------------------


def export_pek(qtbot: Any, app_state: Any, keys: Keys) -> Any:
    from workstation.gui.exchange_wizards import open_export_tr31

    wizard = opened(qtbot, app_state, open_export_tr31)
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()  # once the lists are read
    page = wizard.choose_page
    wizard.next()
    assert error_text(wizard, "partner") == "Choose the partner the key goes to or comes from."
    assert page.partner.choose(PARTNER)
    assert page.key.choose(keys.pek.label)
    assert not page.key.choose(keys.bdk.label + "-NO")
    assert page.kek.choose(keys.zmk_tdes.label)
    assert [page.version.itemData(i) for i in range(page.version.count())] == ["A", "B", "C"]
    wizard.next()
    assert "is weaker than key" in error_text(wizard, "kek")  # AES-256 under TDES-2KEY
    assert page.kek.choose(keys.zmk.label)
    assert page.version.value() == "D"  # from the AES KEK
    wizard.next()
    assert wizard.currentId() == wizard.REVIEW_PAGE
    review = wizard.review_page
    assert label_text(wizard, "reviewKeyCheckValue") == keys.pek.kcv
    assert label_text(wizard, "reviewKEKCheckValue".replace("KEK", "Kek")) == keys.zmk.kcv
    quorum_met(qtbot, review)
    assert label_text(wizard, "reviewQuorum") == "2 key custodians + 1 supervisor"
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    return wizard


def test_tr31_export_saved_then_imported_under_the_same_kek(
    qtbot: Any,
    app_state: Any,
    gui_world: GuiWorld,
    keys: Keys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workstation.gui.exchange_wizards import open_import_tr31

    log_on(qtbot, app_state, gui_world, *TEAM)
    wizard = export_pek(qtbot, app_state, keys)
    result = wizard.result_page
    block = result.block.toPlainText()
    assert block.startswith("D") and block[5:9] == "P0AB"
    assert result.block.isReadOnly() and is_mono(result.block)
    assert label_text(wizard, "resultKeyCheckValue") == keys.pek.kcv
    assert label_text(wizard, "resultKekCheckValue") == keys.zmk.kcv
    assert keys.pek.kcv in result.reminder.text() and "another channel" in result.reminder.text()
    header, value = tr31.unwrap(clear(gui_world, keys.zmk), block)
    assert header.key_usage == "P0"
    assert comp.kcv_hex(comp.check_value(keys.pek.algorithm, value)) == keys.pek.kcv

    # Nothing is on disk until Save…, which never overwrites.
    target = tmp_path / "pek-for-042.txt"
    assert result.saved.text() == "Not saved yet: nothing is on disk."
    save_to(monkeypatch, target)
    result.save_button.click()
    qtbot.waitUntil(lambda: result.saved.text().startswith("Saved: "), timeout=WAIT)
    assert target.read_text() == block + "\n"
    result.save_button.click()
    qtbot.waitUntil(lambda: error_box(wizard) is not None, timeout=WAIT)
    assert error_box(wizard).text() == (  # type: ignore[union-attr]
        f"{target} exists; choose a new file name (nothing is overwritten)."
    )
    error_box(wizard).accept()  # type: ignore[union-attr]
    assert target.read_text() == block + "\n"

    # The partner's side of the round trip: the saved file, imported under the same KEK.
    count = key_count(qtbot, app_state)
    wizard = opened(qtbot, app_state, open_import_tr31)
    open_from(monkeypatch, target)
    wizard.block_page.load_button.click()
    assert wizard.block_page.edit.toPlainText() == block
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.HEADER_PAGE, timeout=WAIT)
    assert label_text(wizard, "headerKeyUsage").startswith("P0 — ")
    assert label_text(wizard, "headerVersion") == "D — AES key derivation binding"
    assert label_text(wizard, "headerOptionalBlockKc") == (
        f"01{keys.pek.kcv} — key check value of the wrapped key (CMAC: {keys.pek.kcv})"
    )
    assert wizard.header_page.template.value() == "PIN encryption key"
    wizard.next()
    kek_page = wizard.kek_page
    assert kek_page.kek.choose(keys.zmk.label)
    assert kek_page.receive.partner.choose(PARTNER)
    kek_page.receive.label.setText("PEK-FROM-042")
    wizard.next()
    assert error_text(wizard, "kcv").startswith("Type the check value the partner gave you")
    kek_page.receive.kcv.setText(keys.pek.kcv.lower())
    quorum_met(qtbot, kek_page)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    assert label_text(wizard, "resultLabel") == "PEK-FROM-042"
    assert label_text(wizard, "resultKeyCheckValue") == keys.pek.kcv
    assert label_text(wizard, "resultState").startswith("pre-active")
    warnings = wizard.result_page.warnings
    assert warnings.isVisibleTo(wizard)
    assert f"same check value is already in the inventory ({keys.pek.label})" in warnings.text()
    stored = on_device(
        qtbot, app_state, lambda s: app_state.services.keys.detail(s, "PEK-FROM-042")
    )
    assert stored.key.state is KeyState.PRE_ACTIVATION and stored.key.kcv == keys.pek.kcv
    assert key_count(qtbot, app_state) == count + 1


def test_bad_key_blocks_and_check_values_store_nothing(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, keys: Keys
) -> None:
    from workstation.gui.exchange_wizards import open_import_tr31

    log_on(qtbot, app_state, gui_world, *TEAM)
    count = key_count(qtbot, app_state)
    wizard = opened(qtbot, app_state, open_import_tr31)
    page = wizard.block_page
    wizard.next()
    assert error_text(wizard, "block") == "Paste the key block, or load it from a file."
    page.edit.setPlainText("D0112P0AE00E0000ZZ")
    wizard.next()
    qtbot.waitUntil(lambda: bool(error_text(wizard, "block")), timeout=WAIT)
    assert error_text(wizard, "block").startswith("Key block refused: ")
    assert wizard.currentId() == wizard.BLOCK_PAGE

    # A good block, and a check value that is not the key's.
    value = os.urandom(32)
    block = tr31.wrap(
        clear(gui_world, keys.zmk), tr31.Header("D", "P0", "A", "B", "00", "E"), value
    )
    page.edit.setPlainText(block)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.HEADER_PAGE, timeout=WAIT)
    wizard.next()
    kek_page = wizard.kek_page
    kek_page.kek.choose(keys.zmk.label)
    kek_page.receive.partner.choose(PARTNER)
    kek_page.receive.kcv.setText("000000")
    quorum_met(qtbot, kek_page)
    wizard.next()
    qtbot.waitUntil(lambda: error_box(wizard) is not None, timeout=WAIT)
    message = error_box(wizard).text()  # type: ignore[union-attr]
    assert message.startswith("Check value refused: Key check value 000000 does not match the key")
    error_box(wizard).accept()  # type: ignore[union-attr]
    assert wizard.currentId() == wizard.KEK_PAGE
    assert key_count(qtbot, app_state) == count


def test_ecdh_shared_information_is_checked_as_typed(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, keys: Keys, tmp_path: Path, monkeypatch: Any
) -> None:
    from workstation.gui.exchange_wizards import ERROR_STYLE, open_ecdh

    log_on(qtbot, app_state, gui_world, *TEAM)
    count = key_count(qtbot, app_state)
    certificate = tmp_path / "partner-ecdh.pem"
    certificate.write_bytes(keys.pki.pem(keys.pki.ecdh))
    wizard = opened(qtbot, app_state, open_ecdh)
    page = wizard.partner_page
    page.send.setChecked(True)
    page.partner.choose(PARTNER)
    open_from(monkeypatch, certificate)
    page.certificate.button.click()
    assert "Partner ECDH" in label_text(wizard, "certificateText")
    wizard.next()
    assert wizard.currentId() == wizard.AGREEMENT_PAGE
    agreement = wizard.agreement_page
    assert agreement.curve.value() == "P-256"  # from the certificate
    qtbot.keyClicks(agreement.shared_info, "00 11 G2")
    assert agreement.shared_status.text() == (
        "Shared information contains 'G' at position 7, which is not a hex digit."
    )
    assert agreement.shared_status.styleSheet() == ERROR_STYLE
    wizard.next()
    assert wizard.currentId() == wizard.AGREEMENT_PAGE
    assert error_text(wizard, "shared_info") == (
        "Shared information contains 'G' at position 7, which is not a hex digit."
    )
    agreement.shared_info.setText("0011 2233")
    assert agreement.shared_status.text() == "4 bytes"
    wizard.next()
    assert wizard.currentId() == wizard.KEY_PAGE
    assert key_count(qtbot, app_state) == count


# --- DUKPT ---------------------------------------------------------------------------------


def dukpt_wizard(qtbot: Any, app_state: Any, keys: Keys, first: str, count: int) -> Any:
    from workstation.gui.exchange_wizards import open_dukpt_export

    wizard = opened(qtbot, app_state, open_dukpt_export)
    page = wizard.choose_page
    assert page.bdk.choose(keys.bdk.label)
    assert page.kek.choose(keys.zmk.label)
    assert page.partner.choose(PARTNER)
    wizard.next()
    ksns = wizard.ksn_page
    ksns.as_range.setChecked(True)
    ksns.first.setText(first)
    ksns.count.setValue(count)
    wizard.next()
    assert wizard.currentId() == wizard.REVIEW_PAGE
    quorum_met(qtbot, wizard.review_page)
    return wizard


def test_dukpt_initial_keys_with_progress_saved_as_a_csv_that_unwraps(
    qtbot: Any,
    app_state: Any,
    gui_world: GuiWorld,
    keys: Keys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log_on(qtbot, app_state, gui_world, *TEAM)
    wizard = dukpt_wizard(qtbot, app_state, keys, "1234567890123456", 250)
    assert label_text(wizard, "reviewDevices") == (
        "250 (250 consecutive devices from 1234567890123456)"
    )
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    assert wizard.flow.progress == (250, 250)  # reported every 100 devices, and at the end
    result = wizard.result_page
    assert result.model.rowCount() == 50 and is_mono(result.table)
    target = tmp_path / "initial-keys.csv"
    save_to(monkeypatch, target)
    result.save_button.click()
    qtbot.waitUntil(lambda: target.exists(), timeout=WAIT)
    lines = target.read_text().splitlines()
    assert lines[0] == "ksn,initial_key_id,tr31_key_block,kcv" and len(lines) == 251
    kek, bdk = clear(gui_world, keys.zmk), clear(gui_world, keys.bdk)
    for line in lines[1:]:
        ksn, ident, block, kcv = line.split(",")
        header, ik = tr31.unwrap(kek, block)
        assert header.key_usage == "B1" and dict(header.blocks)["IK"] == ident
        assert ik == dukpt.aes_initial_key(bdk, bytes.fromhex(ident))
        assert ksn[:16] == ident
        assert kcv == comp.kcv_hex(comp.check_value(keys.bdk.algorithm, ik))
    assert lines[2].split(",")[1] == "1234567890123457"  # the device part counts up


def test_a_cancelled_dukpt_job_gives_out_nothing(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, keys: Keys
) -> None:
    from PySide6.QtWidgets import QProgressDialog, QPushButton

    log_on(qtbot, app_state, gui_world, *TEAM)
    wizard = dukpt_wizard(qtbot, app_state, keys, "2234567890123456", 50_000)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.flow.progress is not None, timeout=WAIT)
    dialog = wizard.findChild(QProgressDialog, "progressDialog")
    assert dialog is not None
    cancel = dialog.findChild(QPushButton)
    assert cancel is not None and cancel.text() == "Cancel"
    cancel.click()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    assert wizard.flow.stopped
    result = wizard.result_page
    assert result.summary.text().startswith("The job stopped (cancelled). No initial key")
    assert not result.save_button.isVisibleTo(wizard)


def test_the_test_tool_refuses_a_production_bdk_and_shows_test_keys(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, keys: Keys
) -> None:
    from workstation.gui.exchange_wizards import open_dukpt_test

    log_on(qtbot, app_state, gui_world, "cara")
    wizard = open_dukpt_test(app_state, None)  # closed by the test: not qtbot's to close
    loaded(qtbot, wizard)
    page = wizard.choose_page
    items = [page.bdk.itemText(i) for i in range(page.bdk.count())]
    assert items[1].startswith(keys.test_bdk.label) and items[1].endswith("TEST KEY")
    assert page.bdk.choose(keys.bdk.label)
    page.ksn.setText("123456789012345600000001")
    quorum_met(qtbot, page)
    wizard.next()
    qtbot.waitUntil(lambda: error_box(wizard) is not None, timeout=WAIT)
    assert error_box(wizard).text() == (  # type: ignore[union-attr]
        f"Key {keys.bdk.label} is not a test key (template 'AES base derivation key'); the "
        "test tool derives keys of test keys only."
    )
    error_box(wizard).accept()  # type: ignore[union-attr]
    assert wizard.currentId() == wizard.CHOOSE_PAGE
    # The refused run is over only once the device thread is idle: until then the wizard
    # ignores Derive (its error box can come first).
    qtbot.waitUntil(lambda: not wizard.running, timeout=WAIT)

    assert page.bdk.choose(keys.test_bdk.label)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    result = wizard.result_page
    assert result.banner.isVisibleTo(wizard)
    assert result.banner.text().startswith(f"TEST KEY — {keys.test_bdk.label}")
    rows = dict(result.model.rows)
    initial = dukpt.aes_initial_key(
        clear(gui_world, keys.test_bdk), bytes.fromhex("1234567890123456")
    )
    assert rows["Initial key"] == initial.hex().upper()
    assert "PIN encryption" in rows and "MAC generation" in rows
    assert is_mono(result.table) and not result.save_button.isVisibleTo(wizard)
    wizard.reject()
    assert wizard.flow.result is None and result.model.rowCount() == 0


# --- legacy and TR-34 ----------------------------------------------------------------------


def test_legacy_import_warns_before_and_after(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, keys: Keys
) -> None:
    from workstation.gui.exchange_wizards import open_legacy_import

    log_on(qtbot, app_state, gui_world, *TEAM)
    wizard = opened(qtbot, app_state, open_legacy_import)
    warning = wizard.warning_page.warning
    assert "PCI PIN Security Requirement 18-3" in warning.text()
    wizard.next()
    assert error_text(wizard, "acknowledged").startswith("Tick the box")
    wizard.warning_page.acknowledged.setChecked(True)
    wizard.next()
    value = bytearray(os.urandom(16))
    comp.odd_parity(value)
    encrypted = legacy.encrypt_under_zmk(clear(gui_world, keys.zmk_tdes), bytes(value)).hex()
    kcv = comp.kcv_hex(comp.check_value(keys.zmk_tdes.algorithm, value))
    page = wizard.input_page
    page.encrypted.setText(encrypted)
    assert page.zmk.choose(keys.zmk_tdes.label)
    assert page.template.choose("Card verification key")
    assert page.receive.partner.choose(PARTNER)
    page.receive.kcv.setText(kcv)
    page.receive.label.setText("CVK-LEGACY-042")
    wizard.next()
    quorum_met(qtbot, wizard.review_page)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    warnings = wizard.result_page.warnings
    assert warnings.isVisibleTo(wizard)
    assert warnings.text().startswith("⚠ PCI PIN Security Requirement 18-3 requires key blocks")
    assert label_text(wizard, "resultKeyCheckValue") == kcv


def test_tr34_two_pass_import_answers_the_random_number_token_made_here(
    qtbot: Any,
    app_state: Any,
    gui_world: GuiWorld,
    keys: Keys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workstation.gui.exchange_wizards import open_tr34

    log_on(qtbot, app_state, gui_world, *TEAM)
    wizard = opened(qtbot, app_state, open_tr34)
    wizard.direction_page.receive.setChecked(True)
    wizard.next()
    page = wizard.receive_page
    assert wizard.currentId() == wizard.RECEIVE_PAGE
    page.receive.partner.choose(PARTNER)
    page.two_pass.setChecked(True)
    rkrd = tmp_path / "rkrd.der"
    save_to(monkeypatch, rkrd)
    page.make_nonce.click()
    qtbot.waitUntil(lambda: rkrd.exists(), timeout=WAIT)
    qtbot.waitUntil(lambda: page.nonce.text().startswith("Random number token saved"), timeout=WAIT)

    # The partner answers with a two-pass token carrying our nonce.
    nonce = tr34.read_random_number_token(rkrd.read_bytes())
    krd_pem = on_device(
        qtbot,
        app_state,
        lambda s: app_state.services.interchange.exchange_certificate(s, "tr34-krd"),
    )
    value = os.urandom(32)
    pki = keys.pki
    token = tmp_path / "kek-from-042.der"
    token.write_bytes(
        tr34.build_key_token(
            key=value,
            header="D0000K0AB00E0000",
            kdh_certificate=pki.der(pki.kdh),
            kdh_sign=tr34.signer_for(pki.kdh_key),
            krd_certificate=pki.der(x509.load_pem_x509_certificate(krd_pem.encode())),
            nonce=nonce,
        )
    )
    open_from(monkeypatch, token)
    page.token.button.click()
    assert (
        label_text(wizard, "tokenEdition") == "TR-34 2019, two-pass (answers a random number token)"
    )
    assert page.template.value() == "Zone master key (KEK)"
    kcv = comp.kcv_hex(comp.check_value(keys.zmk.algorithm, value))
    page.receive.kcv.setText(kcv)
    wizard.next()
    assert wizard.currentId() == wizard.REVIEW_PAGE
    assert wizard.button(QWizard.WizardButton.CommitButton).text() == "&Import"
    quorum_met(qtbot, wizard.review_page)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    assert label_text(wizard, "resultKeyCheckValue") == kcv
    assert label_text(wizard, "resultFormat") == "TR-34 2019 two-pass"


def test_tr34_export_opens_at_the_partners_krd(
    qtbot: Any,
    app_state: Any,
    gui_world: GuiWorld,
    keys: Keys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workstation.gui.exchange_wizards import open_tr34

    log_on(qtbot, app_state, gui_world, *TEAM)
    wizard = opened(qtbot, app_state, open_tr34)
    wizard.direction_page.send.setChecked(True)
    wizard.next()
    page = wizard.send_page
    assert wizard.currentId() == wizard.SEND_PAGE
    assert page.key.choose(keys.zmk.label)
    assert page.partner.choose(PARTNER)
    assert page.edition.choose("2012")
    wizard.next()
    assert label_text(wizard, "reviewEdition") == "TR-34 2012"
    assert label_text(wizard, "reviewMode") == "one-pass"
    assert wizard.button(QWizard.WizardButton.CommitButton).text() == "&Send"
    quorum_met(qtbot, wizard.review_page)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    result = wizard.result_page
    assert not result.block.isVisibleTo(wizard)  # a token is binary: saved, not shown
    target = tmp_path / "zmk-for-042.der"
    save_to(monkeypatch, target)
    result.save_button.click()
    qtbot.waitUntil(lambda: result.saved.text().startswith("Saved: "), timeout=WAIT)

    # The partner opens the saved token with its KRD key; it trusts our exchange CA.
    identity = on_device(qtbot, app_state, app_state.services.interchange.exchange_identity)
    ca = x509.load_pem_x509_certificate(identity.ca_certificate.encode())
    kdh = x509.load_pem_x509_certificate(identity.certificates["tr34-kdh"].encode())
    pki = keys.pki
    received = tr34.open_key_token(
        target.read_bytes(),
        krd_decrypt=tr34.decryptor_for(pki.krd_key),
        krd_certificate=pki.der(pki.krd),
        ca_certificates=[pki.der(ca)],
        kdh_certificate=pki.der(kdh),  # a 2012 token does not carry it: sent beforehand
    )
    assert received.key == clear(gui_world, keys.zmk) and received.edition == "2012"
    assert received.header[5:7] == "K0"
