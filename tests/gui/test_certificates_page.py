"""The Certificates page on the real services: empty and disabled until someone logs on,
the certificate quorum in the policy's words; the key pairs with their current certificate,
the one that ends within 30 days amber, superseded certificates on request; the details and
the PEM, copied; the wizards opened for the selected key pair, another tool added to the
toolbar; and the tab in the main window after Exchanges, rendered for the documentation
(``KCW_SCREENSHOT_DIR``). The table model is checked by qtmodeltester without services."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QToolButton, QWizard

from tests.gui.conftest import GuiWorld, pin
from tests.gui.helpers import WAIT, log_on
from tests.gui.test_certificate_wizards import CA_NAME, IssuingCa, certify
from tests.unit.test_certificate_flows import NOW, TLS, issue, key_pair, record
from workstation.domain.certificates import CertificateStatus
from workstation.domain.keys import ManagedKey
from workstation.domain.policy import DEFAULT_QUORUMS, Action
from workstation.flows.certificates import certificate_rows
from workstation.gui.certificates_page import (
    EXPIRED_BACKGROUND,
    SOON_BACKGROUND,
    SUPERSEDED_TEXT,
    WIZARD_ENTRIES,
    CertificatesPage,
    KeyPairTableModel,
    RecordRole,
)
from workstation.services.certificates import KeyPairCertificates, KeyPairList
from workstation.standards import pkix

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

TEAM = ("olivia", "cara", "carl", "sam")


# --- the model, without services --------------------------------------------------------------


def test_key_pair_model_columns_and_colours(qtmodeltester: Any) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    key = key_pair("TLS-0001", TLS, private)
    other = key_pair("TLS-0002", TLS, ec.generate_private_key(ec.SECP256R1()))
    soon = record(key, issue(private, days=20))
    old = record(key, issue(private, days=30, start=NOW - timedelta(days=60)))
    pairs = (
        KeyPairCertificates(key, TLS, (soon, replace(old, status=CertificateStatus.SUPERSEDED))),
        KeyPairCertificates(other, TLS, ()),
    )
    model = KeyPairTableModel()
    model.set_rows(certificate_rows(KeyPairList(pairs, NOW), superseded=True))
    qtmodeltester.check(model)
    assert [model.index(0, c).data() for c in range(9)] == [
        "TLS-0001",
        "TLS server key pair",
        "active",
        "CN=host.bank.example,O=Bank",
        f"{soon.not_after:%Y-%m-%d}",
        "19",
        "current: renew soon",
        "CN=Lab CA",
        "5A3C",
    ]
    days, status = KeyPairTableModel.DAYS, KeyPairTableModel.STATUS
    background = Qt.ItemDataRole.BackgroundRole
    assert model.index(0, days).data(background) == SOON_BACKGROUND
    assert model.index(0, status).data(background) == SOON_BACKGROUND
    assert model.index(0, KeyPairTableModel.SUBJECT).data(background) is None
    assert model.index(1, status).data() == "superseded"
    assert model.index(1, 0).data(Qt.ItemDataRole.ForegroundRole) == SUPERSEDED_TEXT
    assert model.index(1, days).data(background) is None
    assert model.index(2, 0).data() == "TLS-0002" and model.index(2, days).data() == "—"
    assert model.index(2, 0).data(RecordRole).certificate is None
    assert model.row_of(key.id, soon.id) == 0 and model.row_of(other.id, None) == 2

    later = KeyPairList(pairs, NOW + timedelta(days=25))
    model.set_rows(certificate_rows(later))
    qtmodeltester.check(model)
    assert model.index(0, days).data() == "expired"
    assert model.index(0, days).data(background) == EXPIRED_BACKGROUND
    assert model.index(0, days).data(Qt.ItemDataRole.ToolTipRole).startswith("Ended ")
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(9)] == list(model.HEADERS)
    model.set_rows([])
    qtmodeltester.check(model)


# --- on the real services --------------------------------------------------------------------


@dataclass
class Certified:
    tls: ManagedKey  # a payments TLS server, renewed once
    rkl: ManagedKey  # the ATM RKL host key pair, its certificate ends in 20 days


@pytest.fixture(scope="module")
def certified(gui_world: GuiWorld) -> Iterator[Certified]:
    """Two key pairs with their certificates from the bank's issuing CA."""
    services = gui_world.services
    ca = IssuingCa()
    session = services.logon.open_session()
    try:
        for reader, who in enumerate(TEAM):
            services.logon.log_on(session, gui_world.insert(who, reader), pin())
        services.interchange.add_partner(session, CA_NAME, "other", ca_certificates=[ca.pem])

        def make(template: str) -> ManagedKey:
            key = services.keys.generate(session, template).keys[0]
            return services.keys.change_state(session, key.label, Action.ACTIVATE_KEY)

        made = Certified(make("TLS server key pair"), make("ATM RKL host key pair"))
        server = pkix.Profile(
            subject="CN=payments.bank.example,O=Bank,C=GB",
            dns_names=("payments.bank.example",),
            key_usage=frozenset({"digital_signature"}),
            extended_key_usage=("server_auth",),
        )
        certify(services, session, ca, made.tls, server, days=30)
        certify(services, session, ca, made.tls, server, days=397)
        host = pkix.Profile(
            subject="CN=ATM RKL host 1,OU=ATM network,O=Bank,C=GB",
            key_usage=frozenset({"digital_signature"}),
        )
        certify(services, session, ca, made.rkl, host, days=20)
    finally:
        session.close()
        gui_world.cards.remove_all()
    yield made


@pytest.fixture
def page(qtbot: Any, app_state: Any) -> CertificatesPage:
    page = CertificatesPage(app_state)
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.show()
    return page


def logged_on(
    qtbot: Any, page: CertificatesPage, app_state: Any, world: GuiWorld, *who: str
) -> None:
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        log_on(qtbot, app_state, world, *who)


def row_of(page: CertificatesPage, label: str, status: str | None = None) -> int:
    for row, shown in enumerate(page.model.records):
        if shown.key.label == label and (status is None or shown.status == status):
            return row
    raise AssertionError(f"no row for {label} ({status})")


def test_the_page_waits_for_a_logon_and_says_what_it_needs(
    qtbot: Any, page: CertificatesPage, app_state: Any, gui_world: GuiWorld, certified: Certified
) -> None:
    assert page.status.text() == "Log on to see the key pairs and their certificates."
    assert page.model.rowCount() == 0
    assert not any(a.isEnabled() for a in page.wizard_actions.values())
    logged_on(qtbot, page, app_state, gui_world, "alex")  # the auditor reads, changes nothing
    assert all(a.isEnabled() for a in page.wizard_actions.values())
    assert not page.status.isVisibleTo(page)
    needs = DEFAULT_QUORUMS[Action.MANAGE_CERTIFICATES].describe()
    assert f"Requesting or importing a certificate needs {needs}" in page.hint.text()
    assert page.count.text() == (
        "2 key pairs, 2 with a current certificate; 1 expires within 30 days."
    )


def test_key_pairs_certificates_details_and_superseded(
    qtbot: Any, page: CertificatesPage, app_state: Any, gui_world: GuiWorld, certified: Certified
) -> None:
    logged_on(qtbot, page, app_state, gui_world, "cara")
    model = page.model
    assert [r.key.label for r in model.records] == sorted(
        [certified.tls.label, certified.rkl.label], key=str.casefold
    )
    rkl = row_of(page, certified.rkl.label)
    cells = [model.index(rkl, c).data() for c in range(9)]
    assert cells[1:4] == [
        "ATM RKL host key pair",
        "active",
        "CN=ATM RKL host 1,OU=ATM network,O=Bank,C=GB",
    ]
    assert cells[7] == f"CN={CA_NAME},O=Bank" and cells[5] in ("19", "20")
    assert cells[6] == "current: renew soon"
    background = Qt.ItemDataRole.BackgroundRole
    assert model.index(rkl, KeyPairTableModel.DAYS).data(background) == SOON_BACKGROUND
    tls = row_of(page, certified.tls.label)
    assert model.index(tls, KeyPairTableModel.STATUS).data() == "current"
    assert model.index(tls, KeyPairTableModel.DAYS).data(background) is None

    assert page.select_key(certified.tls.label)
    facts = {
        label.objectName(): label.text()
        for label in page.findChildren(type(page.count))
        if label.objectName().startswith("detail")
    }
    assert facts["detailSubject"] == "CN=payments.bank.example,O=Bank,C=GB"
    assert facts["detailAlternativeNames"] == "payments.bank.example"
    assert facts["detailExtendedKeyUsage"] == "server_auth"
    assert facts["detailValidTo"].endswith("(396 days left)") or facts["detailValidTo"].endswith(
        "(397 days left)"
    )
    pem = page.pem.toPlainText()
    assert pem.startswith("-----BEGIN CERTIFICATE-----") and page.pem.isReadOnly()
    page.copy_button.click()
    assert QGuiApplication.clipboard().text() == pem
    assert page.copied.text() == "Copied to the clipboard."

    page.show_superseded.setChecked(True)
    rows = [(r.key.label, r.status) for r in model.records]
    assert rows.count((certified.tls.label, "superseded")) == 1
    assert page.selected() is not None and page.selected().key.id == certified.tls.id
    superseded = row_of(page, certified.tls.label, "superseded")
    assert model.index(superseded, KeyPairTableModel.DAYS).data() in ("29", "30")
    page.show_superseded.setChecked(False)
    assert all(r.status != "superseded" for r in model.records)


def test_the_toolbar_opens_the_wizards_for_the_selected_key_pair(
    qtbot: Any, page: CertificatesPage, app_state: Any, gui_world: GuiWorld, certified: Certified
) -> None:
    from workstation.gui import certificate_wizards as wizards

    opened_tools: list[str] = []
    tool = page.add_tool("Due dates…", "dueDatesAction", lambda: opened_tools.append("due"))
    assert tool.objectName() == "dueDatesAction" and not tool.isEnabled()
    button = page.toolbar.widgetForAction(tool)
    assert isinstance(button, QToolButton) and button.text() == "Due dates…"

    logged_on(qtbot, page, app_state, gui_world, "cara")
    assert tool.isEnabled()
    tool.trigger()
    assert opened_tools == ["due"]
    classes = {
        "open_request": wizards.RequestCertificateWizard,
        "open_import": wizards.ImportCertificateWizard,
    }
    assert [e for e, *_ in WIZARD_ENTRIES] == list(classes)
    assert [a.text() for a in page.toolbar.actions()] == [
        "Request certificate…",
        "Import certificate…",
        "Due dates…",
    ]
    assert page.select_key(certified.rkl.label)
    for entry, action in page.wizard_actions.items():
        action.trigger()
        found = [w for w in page.findChildren(QWizard) if w.isVisible()]
        assert len(found) == 1 and isinstance(found[0], classes[entry])
        qtbot.waitUntil(lambda w=found[0]: w.data is not None, timeout=WAIT)
        assert found[0].key_page.key.value() == certified.rkl.label
        found[0].reject()
        qtbot.waitUntil(lambda: not app_state.runner.busy, timeout=WAIT)

    app_state.close_session()
    assert not tool.isEnabled() and page.model.rowCount() == 0


def test_the_main_window_has_the_tab_after_exchanges(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, certified: Certified
) -> None:
    from workstation.gui.main_window import MainWindow

    window = MainWindow(app_state)
    qtbot.addWidget(window)
    page = window.certificates
    assert isinstance(page, CertificatesPage)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles[titles.index("E&xchanges") + 1] == "Ce&rtificates"
    keys = [t[t.index("&") + 1].lower() for t in titles if "&" in t]
    assert keys.count("r") == 1

    log_on(qtbot, app_state, gui_world, "cara", "sam")
    window.resize(1400, 820)
    window.show()
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        window.tabs.setCurrentWidget(page)
    # The renewed server selected: the RKL host's certificate, amber, stays in plain sight.
    assert page.select_key(certified.tls.label)
    subject = page.findChild(QLabel, "detailSubject")
    qtbot.waitUntil(lambda: subject is not None and subject.isVisible(), timeout=WAIT)
    qtbot.waitUntil(lambda: page.count.width() >= page.count.sizeHint().width(), timeout=WAIT)
    image = window.grab()
    assert image.width() == 1400 and not image.isNull()
    folder = os.environ.get("KCW_SCREENSHOT_DIR")
    if folder:
        image.save(str(Path(folder) / "certificates.png"))


def test_the_main_window_puts_every_key_pair_workflow_on_the_page(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, certified: Certified
) -> None:
    """TLS, ATM remote key loading and EMV issuer keys: one menu each in the toolbar, and
    each entry opens its wizard over the main window."""
    from workstation.gui import emv_wizards, endpoint_wizards, rkl_wizards
    from workstation.gui.main_window import MainWindow

    window = MainWindow(app_state)
    qtbot.addWidget(window)
    page = window.certificates
    assert isinstance(page, CertificatesPage)
    menus = {a.objectName(): a for a in page.toolbar.actions() if a.menu() is not None}
    assert list(menus) == ["tlsTools", "rklTools", "emvTools"]
    assert not any(a.isEnabled() for a in menus.values())
    log_on(qtbot, app_state, gui_world, "cara", "sam")
    assert all(a.isEnabled() for a in menus.values())
    expected = {
        "discoverEndpoints": endpoint_wizards.DiscoverWizard,
        "exportKeystore": endpoint_wizards.KeystoreWizard,
        "rklVendor": rkl_wizards.VendorProfileWizard,
        "rklHostKey": rkl_wizards.HostKeyWizard,
        "rklBundle": rkl_wizards.BundleWizard,
        "emvIssuerKeys": emv_wizards.IssuerKeysWizard,
        "emvRequest": emv_wizards.IssuerRequestWizard,
        "emvImport": emv_wizards.ImportCertificateWizard,
    }
    entries = [item for a in menus.values() for item in a.menu().actions()]
    assert [item.objectName() for item in entries] == list(expected)
    for item in entries:
        item.trigger()
        found = [w for w in window.findChildren(QWizard) if w.isVisible()]
        assert len(found) == 1 and isinstance(found[0], expected[item.objectName()])
        found[0].reject()
        qtbot.waitUntil(lambda: not app_state.runner.busy, timeout=WAIT)
