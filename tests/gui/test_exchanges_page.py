"""The Exchanges page on the real services: empty and disabled until someone logs on, the
quorum hints in the policy's words, a partner added through the dialog (a file that is not
a certificate refused in the service's words, nothing added), the partner updated with its
KRD certificate, an exchange certificate made on first use and saved as PEM files that are
never overwritten, the wizards opened from the toolbar, and the tab in the main window;
the table models checked by qtmodeltester. (scripts/screenshots.py renders the page and two
wizards for the documentation.)"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox, QWidget, QWizard

from tests.gui.conftest import GuiWorld
from tests.gui.helpers import WAIT, log_on, on_device
from tests.gui.test_exchange_wizards import PARTNER, PartnerPki
from workstation.domain.partners import Partner
from workstation.domain.policy import DEFAULT_QUORUMS, Action
from workstation.gui.exchanges_page import (
    WIZARD_ENTRIES,
    CertificateRow,
    CertificateTableModel,
    ExchangesPage,
    PartnerTableModel,
    RecordRole,
)

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

T0 = datetime(2026, 3, 10, tzinfo=UTC)
ADMINS = ("olivia", "sam")  # partners: 1 security officer + 1 supervisor


# --- the models, without services ----------------------------------------------------------


def test_partner_model_named_columns(qtmodeltester: Any) -> None:
    model = PartnerTableModel()
    model.set_rows(
        [
            Partner("2", "Zeta Processing", "processor", crls=("c",)),
            Partner("1", "acquirer bank", "bank", ("a", "b"), krd_certificate="k"),
        ]
    )
    qtmodeltester.check(model)
    assert [model.index(0, c).data() for c in range(5)] == [
        "acquirer bank",
        "bank",
        "2",
        "0",
        "yes",
    ]
    assert [model.index(1, c).data() for c in range(5)] == [
        "Zeta Processing",
        "processor",
        "0",
        "1",
        "—",
    ]
    horizontal = Qt.Orientation.Horizontal
    assert [model.headerData(c, horizontal) for c in range(5)] == list(model.HEADERS)
    assert "TR-34" in model.headerData(model.KRD, horizontal, Qt.ItemDataRole.ToolTipRole)
    assert model.index(1, 0).data(RecordRole).id == "2" and model.row_of("Zeta Processing") == 1
    model.set_rows([])
    qtmodeltester.check(model)


def test_certificate_model(qtmodeltester: Any) -> None:
    model = CertificateTableModel()
    model.set_rows([CertificateRow("tr34-krd", "TR-34 key receiving device", None)])
    qtmodeltester.check(model)
    assert [model.index(0, c).data() for c in range(3)] == [
        "tr34-krd",
        "TR-34 key receiving device",
        "not made yet",
    ]


# --- on the real services ------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki() -> PartnerPki:
    return PartnerPki()


@pytest.fixture
def page(qtbot: Any, app_state: Any) -> ExchangesPage:
    page = ExchangesPage(app_state)
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    return page


def logged_on(qtbot: Any, page: ExchangesPage, app_state: Any, world: GuiWorld, *who: str) -> None:
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        log_on(qtbot, app_state, world, *who)


def open_files(monkeypatch: pytest.MonkeyPatch, *paths: Path) -> None:
    monkeypatch.setattr(
        QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(p) for p in paths], "")
    )


def error_of(dialog: QWidget, field: str) -> str:
    label = dialog.findChild(QLabel, f"error_{field}")
    assert label is not None, field
    return str(label.text()) if label.isVisibleTo(dialog) else ""


def partners(qtbot: Any, app_state: Any) -> list[str]:
    return [p.name for p in on_device(qtbot, app_state, app_state.services.interchange.partners)]


def test_the_page_waits_for_a_logon_and_says_what_each_action_needs(
    qtbot: Any, page: ExchangesPage, app_state: Any, gui_world: GuiWorld
) -> None:
    assert page.status.text() == "Log on to see the exchange partners."
    assert not page.add_button.isEnabled() and not page.publish_button.isEnabled()
    assert not any(a.isEnabled() for a in page.wizard_actions.values())
    logged_on(qtbot, page, app_state, gui_world, "cara")
    assert page.add_button.isEnabled() and page.publish_button.isEnabled()
    assert all(a.isEnabled() for a in page.wizard_actions.values())
    assert not page.update_button.isEnabled()  # no partner chosen
    hint = page.hint.text()
    for action in (Action.MANAGE_PARTNERS, Action.EXPORT_KEY, Action.IMPORT_KEY):
        assert DEFAULT_QUORUMS[action].describe() in hint
    assert hint.startswith(
        f"Adding or changing a partner, and making an exchange certificate, needs "
        f"{DEFAULT_QUORUMS[Action.MANAGE_PARTNERS].describe()}."
    )
    names = [page.certificate_model.index(r, 0).data() for r in range(6)]
    assert names == ["exchange-ca", "tr34-krd", "tr34-kdh", "ecdh-p256", "ecdh-p384", "ecdh-p521"]
    app_state.close_session()
    assert page.partner_model.rowCount() == 0 and not page.add_button.isEnabled()


def test_add_a_partner_through_the_dialog(
    qtbot: Any,
    page: ExchangesPage,
    app_state: Any,
    gui_world: GuiWorld,
    pki: PartnerPki,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logged_on(qtbot, page, app_state, gui_world, *ADMINS)
    before = partners(qtbot, app_state)
    dialog = page.add_partner()
    dialog.buttons.accepted.emit()
    assert error_of(dialog, "name") == "Give the partner's name."
    assert error_of(dialog, "kind").startswith("Choose what kind of partner it is")

    not_a_certificate = tmp_path / "ca.pem"
    not_a_certificate.write_text("-----BEGIN CERTIFICATE-----\nnonsense\n")
    dialog.name.setText(PARTNER)
    dialog.kind.setCurrentIndex(dialog.kind.findData("bank"))
    open_files(monkeypatch, not_a_certificate)
    dialog.cas.add_button.click()
    assert dialog.cas.texts() == [str(not_a_certificate)]
    dialog.buttons.accepted.emit()

    def refused() -> bool:
        box = dialog.findChild(QMessageBox, "errorBox")
        return box is not None and box.isVisible()

    qtbot.waitUntil(refused, timeout=WAIT)
    box = dialog.findChild(QMessageBox, "errorBox")
    assert box.text() == "CA certificate 1 is not an X.509 certificate (PEM or DER)."
    box.accept()
    assert dialog.isVisible() and partners(qtbot, app_state) == before

    ca = tmp_path / "partner-ca.pem"
    ca.write_bytes(pki.pem(pki.ca))
    dialog.cas.list.setCurrentRow(0)
    dialog.cas.list.item(0).setSelected(True)
    dialog.cas.remove_button.click()
    open_files(monkeypatch, ca)
    dialog.cas.add_button.click()
    dialog.notes.setPlainText("Acquirer in the EU; keys by TR-31 version D.")
    with qtbot.waitSignal(dialog.finished, timeout=WAIT):
        dialog.buttons.accepted.emit()
    assert page.status.text() == f"Partner {PARTNER} added."
    qtbot.waitUntil(lambda: page.partner_model.row_of(PARTNER) is not None, timeout=WAIT)
    row = page.partner_model.row_of(PARTNER)
    assert row is not None
    assert [page.partner_model.index(row, c).data() for c in range(5)] == [
        PARTNER,
        "bank",
        "1",
        "0",
        "—",
    ]
    assert page.select_partner(PARTNER)
    detail = page.partner_detail.text()
    assert "CA: CN=Partner CA,O=Acquirer Bank 042" in detail
    assert "KRD certificate: none (needed to send keys by TR-34)" in detail
    assert page.update_button.isEnabled()


def test_update_a_partner_with_its_krd_certificate(
    qtbot: Any,
    page: ExchangesPage,
    app_state: Any,
    gui_world: GuiWorld,
    pki: PartnerPki,
    tmp_path: Path,
) -> None:
    logged_on(qtbot, page, app_state, gui_world, *ADMINS)
    if PARTNER not in partners(qtbot, app_state):
        on_device(
            qtbot,
            app_state,
            lambda s: app_state.services.interchange.add_partner(
                s, PARTNER, "bank", ca_certificates=[pki.pem(pki.ca)]
            ),
        )
        with qtbot.waitSignal(page.refreshed, timeout=WAIT):
            page.refresh()
    assert page.select_partner(PARTNER)
    dialog = page.update_partner()
    assert dialog is not None
    dialog.notes.setPlainText(dialog.partner.notes)
    dialog.buttons.accepted.emit()
    assert dialog.general.text().startswith("Nothing to change: add a CA certificate")
    krd = tmp_path / "krd.pem"
    krd.write_bytes(pki.pem(pki.krd))
    dialog.krd.edit.setText(str(krd))
    with qtbot.waitSignal(dialog.finished, timeout=WAIT):
        dialog.buttons.accepted.emit()
    assert page.status.text().startswith(f"Partner {PARTNER} updated (record version ")

    def has_krd() -> bool:
        row = page.partner_model.row_of(PARTNER)
        return row is not None and page.partner_model.record(row).krd_certificate is not None

    qtbot.waitUntil(has_krd, timeout=WAIT)
    row = page.partner_model.row_of(PARTNER)
    assert page.partner_model.index(row, PartnerTableModel.KRD).data() == "yes"
    assert "KRD certificate: CN=Partner KRD,O=Acquirer Bank 042" in page.partner_detail.text()


def test_publish_an_exchange_certificate_made_on_first_use(
    qtbot: Any, page: ExchangesPage, app_state: Any, gui_world: GuiWorld, tmp_path: Path
) -> None:
    logged_on(qtbot, page, app_state, gui_world, *ADMINS)
    dialog = page.publish()
    dialog.key.setCurrentIndex(dialog.key.findData("ecdh-p384"))
    assert "made in the HSM now" in dialog.effect.text()
    dialog.buttons.accepted.emit()
    assert error_of(dialog, "certificate_file") == "Choose where the certificate (PEM) is saved."
    target, ca = tmp_path / "ecdh-p384.pem", tmp_path / "exchange-ca.pem"
    dialog.certificate.edit.setText(str(target))
    dialog.ca.edit.setText(str(ca))
    with qtbot.waitSignal(dialog.finished, timeout=WAIT):
        dialog.buttons.accepted.emit()
    assert page.status.text() == f"The ecdh-p384 certificate was saved: {target} and {ca}."

    def shown() -> bool:
        rows = page.certificate_model.records
        return any(r.name == "ecdh-p384" and r.pem is not None for r in rows)

    qtbot.waitUntil(shown, timeout=WAIT)
    cert = x509.load_pem_x509_certificate(target.read_bytes())
    issuer = x509.load_pem_x509_certificate(ca.read_bytes())
    assert cert.issuer == issuer.subject and "ecdh-p384" in cert.subject.rfc4514_string()
    row = next(
        r
        for r in range(page.certificate_model.rowCount())
        if page.certificate_model.index(r, 0).data() == "ecdh-p384"
    )
    summary = page.certificate_model.index(row, CertificateTableModel.CERTIFICATE).data()
    expires = f"{cert.not_valid_after_utc:%Y-%m-%d}"
    assert summary.startswith("KCW ecdh-p384 ")
    assert summary.endswith(f", serial {cert.serial_number:X}, valid to {expires}")

    # Published again: the same certificate; an existing file is never overwritten.
    again = page.publish()
    again.key.setCurrentIndex(again.key.findData("ecdh-p384"))
    assert again.effect.text().startswith("The ecdh-p384 certificate (")
    again.certificate.edit.setText(str(target))
    again.buttons.accepted.emit()
    assert error_of(again, "certificate_file") == (
        f"{target} exists; choose a new file name for the certificate (nothing is overwritten)."
    )
    again.reject()


def test_the_toolbar_opens_each_wizard(
    qtbot: Any, page: ExchangesPage, app_state: Any, gui_world: GuiWorld
) -> None:
    from workstation.gui import exchange_wizards as wizards

    logged_on(qtbot, page, app_state, gui_world, "cara")
    classes = {
        "open_export_tr31": wizards.ExportTr31Wizard,
        "open_import_tr31": wizards.ImportTr31Wizard,
        "open_tr34": wizards.Tr34Wizard,
        "open_ecdh": wizards.EcdhWizard,
        "open_legacy_import": wizards.LegacyImportWizard,
        "open_dukpt_export": wizards.DukptExportWizard,
        "open_dukpt_test": wizards.DukptTestWizard,
    }
    assert [e for e, *_ in WIZARD_ENTRIES] == list(classes)
    for entry, action in page.wizard_actions.items():
        action.trigger()
        opened = [w for w in page.findChildren(QWizard) if w.isVisible()]
        assert len(opened) == 1 and isinstance(opened[0], classes[entry])
        qtbot.waitUntil(lambda w=opened[0]: w.data is not None, timeout=WAIT)
        opened[0].reject()
        qtbot.waitUntil(lambda: not app_state.runner.busy, timeout=WAIT)


def test_the_main_window_has_the_tab_after_ceremonies(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, pki: PartnerPki
) -> None:
    from workstation.gui.main_window import MainWindow

    window = MainWindow(app_state)
    qtbot.addWidget(window)
    page = window.exchanges
    assert isinstance(page, ExchangesPage)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles[titles.index("&Ceremonies") + 1] == "E&xchanges"
    # Its mnemonic is taken by no other tab.
    keys = [t[t.index("&") + 1].lower() for t in titles if "&" in t]
    assert keys.count("x") == 1

    log_on(qtbot, app_state, gui_world, *ADMINS)
    if PARTNER not in partners(qtbot, app_state):
        on_device(
            qtbot,
            app_state,
            lambda s: app_state.services.interchange.add_partner(
                s,
                PARTNER,
                "bank",
                ca_certificates=[pki.pem(pki.ca)],
                krd_certificate=pki.pem(pki.krd),
            ),
        )
    on_device(
        qtbot,
        app_state,
        lambda s: app_state.services.interchange.exchange_certificate(s, "tr34-krd"),
    )
    window.resize(1280, 800)
    window.show()
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        window.tabs.setCurrentWidget(page)
    assert page.select_partner(PARTNER)
    assert page.partner_detail.text().startswith(f"{PARTNER} — bank")
    assert not window.grab().isNull()
