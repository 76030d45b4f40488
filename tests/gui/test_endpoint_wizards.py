"""The TLS wizards on the real services (SoftHSM2, pcscd with virtual cards, SQLite) and
TLS servers on loopback: targets checked as typed, probed on the device thread behind a
progress dialog (a cancel stops at once), the results coloured by days left, the ticked
ones enrolled with their owners; and a certified key pair exported as a PEM key store
that opens with the password, the password fields cleared."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressDialog, QPushButton

from tests.gui.conftest import GuiWorld, pin
from tests.gui.helpers import WAIT, log_on, on_device
from tests.tls_servers import SilentServer, TestPki, TlsServer, closed_port, pem
from workstation.adapters.tls_probe import SslTlsProbe
from workstation.domain.keys import ManagedKey
from workstation.domain.policy import Action
from workstation.standards import pkix

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

LAB_CA = "Loopback CA"
PASSWORD = "a long enough password"


@dataclass
class Lab:
    pki: TestPki
    key: ManagedKey  # a TLS key pair, active, with a current certificate
    cert: x509.Certificate


@pytest.fixture(scope="module")
def lab(gui_world: GuiWorld) -> Iterator[Lab]:
    """The probe wired in, and a TLS key pair certified by the lab's CA (readers 0 to 3,
    freed again)."""
    services = gui_world.services
    services.ctx.tls_probe = SslTlsProbe()
    pki = TestPki()
    session = services.logon.open_session()
    try:
        for reader, who in enumerate(("olivia", "cara", "carl", "sam")):
            services.logon.log_on(session, gui_world.insert(who, reader), pin())
        services.interchange.add_partner(session, LAB_CA, "other", ca_certificates=[pem(pki.root)])
        key = services.keys.generate(session, "TLS server key pair").keys[0]
        key = services.keys.change_state(session, key.label, Action.ACTIVATE_KEY)
        request = services.certificates.request(
            session,
            key.label,
            pkix.Profile(
                subject="CN=pay.bank.example,O=Bank,C=GB", dns_names=("pay.bank.example",)
            ),
        )
        csr = x509.load_pem_x509_csr(request.pem.encode())
        cert, _ = pki.server("pay.bank.example", public_key=csr.public_key())
        services.certificates.import_certificate(
            session, key.label, pem(cert), partner=LAB_CA, chain=[pem(pki.intermediate)]
        )
    finally:
        session.close()
        gui_world.cards.remove_all()
    yield Lab(pki=pki, key=key, cert=cert)


def error_text(wizard: Any, field: str) -> str:
    label = wizard.currentPage().findChild(QLabel, f"error_{field}")
    assert label is not None, field
    return str(label.text()) if label.isVisibleTo(wizard) else ""


def opened(qtbot: Any, app_state: Any, open_wizard: Any) -> Any:
    wizard = open_wizard(app_state, None)
    qtbot.addWidget(wizard)
    return wizard


def test_discover_then_enrol_the_ticked_endpoints(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, lab: Lab, tmp_path: Path
) -> None:
    from workstation.gui.endpoint_wizards import LEVEL_COLOURS, open_discover_wizard

    log_on(qtbot, app_state, gui_world, "olivia")
    valid, valid_key = lab.pki.server("portal.bank.example", days=200)
    soon, soon_key = lab.pki.server("soon.bank.example", days=10)
    expired, expired_key = lab.pki.server(
        "old.bank.example", days=30, start=datetime.now(UTC) - timedelta(days=45)
    )
    with (
        TlsServer([valid, lab.pki.intermediate], valid_key, tmp_path) as portal,
        TlsServer([soon, lab.pki.intermediate], soon_key, tmp_path) as due,
        TlsServer([expired], expired_key, tmp_path) as old,
        closed_port() as closed,
    ):
        wizard = opened(qtbot, app_state, open_discover_wizard)
        page = wizard.targets_page
        wizard.next()
        assert error_text(wizard, "targets") == (
            "Write at least one target, e.g. pay.bank.example:443."
        )
        page.edit.setPlainText(f"localhost:{portal.port} portal.bank.example\n{due.target}\nhost:0")
        wizard.next()
        assert error_text(wizard, "targets") == (
            "Line 3: Target 'host:0': the port 0 is not from 1 to 65535."
        )
        assert wizard.currentId() == wizard.TARGETS_PAGE
        page.edit.setPlainText(
            f"localhost:{portal.port} portal.bank.example\n{due.target}\n{old.target}\n"
            f"127.0.0.1:{closed}"
        )
        assert page.count.text() == "4 targets (at most 1000)"
        wizard.next()
        qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULTS_PAGE, timeout=WAIT)
        assert portal.server_names == ["portal.bank.example"]
        results = wizard.results_page
        model = results.model
        assert model.rowCount() == 4
        assert [model.level(r) for r in range(4)] == ["ok", "due", "expired", "unreachable"]
        for row, level in enumerate(("ok", "due", "expired")):
            brush = model.data(model.index(row, 2), Qt.ItemDataRole.BackgroundRole)
            assert brush.color().name() == LEVEL_COLOURS[level]
        assert model.data(model.index(3, 2), Qt.ItemDataRole.BackgroundRole) is None
        assert "refused" in model.data(model.index(3, 0), Qt.ItemDataRole.ToolTipRole)
        assert model.data(model.index(2, 2)).startswith("expired 15 d ago")
        assert model.data(model.index(0, 3)) == "portal.bank.example"
        assert results.counts.text().startswith("3 of 4 reached; 1 expired; 1 expiring within 30")
        checked = Qt.CheckState.Checked
        assert [
            model.data(model.index(r, 0), Qt.ItemDataRole.CheckStateRole) for r in range(3)
        ] == [checked, checked, checked]
        assert model.data(model.index(3, 0), Qt.ItemDataRole.CheckStateRole) is None
        assert not model.tick(3, True)  # not reached: no box to tick
        assert model.tick(2, False)  # the expired one is not enrolled

        results.owners.setText("web-ops@bank.example, not an address")
        qtbot.waitUntil(lambda: "quorum is met" in results.quorum.status.text(), timeout=WAIT)
        wizard.next()
        assert error_text(wizard, "owners") == (
            "Owner 'not' is not an e-mail address like name@bank.example."
        )
        results.owners.setText("web-ops@bank.example")
        wizard.next()
        qtbot.waitUntil(lambda: wizard.currentId() == wizard.DONE_PAGE, timeout=WAIT)
    assert wizard.done_page.summary.text().startswith("2 endpoints are enrolled")
    endpoints = on_device(qtbot, app_state, app_state.services.endpoints.endpoints)
    assert sorted(e.subject for e in endpoints) == sorted([f"localhost:{portal.port}", due.target])
    assert all(e.owners == ("web-ops@bank.example",) for e in endpoints)


def test_a_probe_can_be_cancelled(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, lab: Lab
) -> None:
    from workstation.gui.endpoint_wizards import open_discover_wizard

    log_on(qtbot, app_state, gui_world, "alex")  # an auditor may look
    with SilentServer() as silent:
        wizard = opened(qtbot, app_state, open_discover_wizard)
        page = wizard.targets_page
        page.edit.setPlainText(silent.target)
        page.timeout.setValue(60)
        wizard.next()

        def dialog() -> QProgressDialog | None:
            found = wizard.findChild(QProgressDialog, "progressDialog")
            return found if found is not None and found.isVisible() else None

        qtbot.waitUntil(lambda: dialog() is not None and silent.held == 1, timeout=WAIT)
        cancel = dialog().findChild(QPushButton)  # type: ignore[union-attr]
        assert cancel is not None and cancel.text() == "Cancel"
        cancel.click()
        qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULTS_PAGE, timeout=WAIT)
        model = wizard.results_page.model
        assert model.level(0) == "unreachable"
        tip = model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole)
        assert tip == f"{silent.target}: not probed (cancelled)."
        assert silent.held == 1  # the wizard did not wait for the minute to pass


def test_export_a_pem_key_store(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, lab: Lab, tmp_path: Path
) -> None:
    from workstation.gui.endpoint_wizards import open_keystore_wizard

    log_on(qtbot, app_state, gui_world, "cara", "carl", "sam")  # the export quorum
    wizard = opened(qtbot, app_state, open_keystore_wizard)
    qtbot.waitUntil(lambda: wizard.choices is not None, timeout=WAIT)
    choose = wizard.choose_page
    assert "1 key pair has a current certificate." == choose.status.text()
    wizard.next()
    assert error_text(wizard, "key") == "Choose the key pair."
    assert choose.choose(lab.key.label)
    choose.format.setCurrentIndex(choose.format.findData("pem"))
    wizard.next()
    assert wizard.currentId() == wizard.PROTECT_PAGE
    protect = wizard.protect_page
    assert protect.file.text().endswith(f"{lab.key.label}.pem")
    taken = tmp_path / "taken.pem"
    taken.write_text("x")
    protect.password.setText("too short")
    protect.again.setText("too short")
    protect.file.setText(str(taken))
    wizard.next()
    assert error_text(wizard, "password") == (
        "The password has 9 characters; it needs at least 12."
    )
    assert error_text(wizard, "file") == (
        f"{taken} exists; choose a new file name (nothing is overwritten)."
    )
    protect.password.setText(PASSWORD)
    protect.again.setText(PASSWORD + "!")
    target = tmp_path / "pay.pem"
    protect.file.setText(str(target))
    wizard.next()
    assert error_text(wizard, "again") == "The two passwords differ."
    protect.again.setText(PASSWORD)
    wizard.next()
    assert wizard.currentId() == wizard.REVIEW_PAGE
    review = wizard.review_page
    qtbot.waitUntil(lambda: "quorum is met" in review.quorum.status.text(), timeout=WAIT)
    assert review.findChild(QLabel, "reviewQuorum").text() == "2 key custodians + 1 supervisor"
    assert not target.exists()
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    assert str(target) in wizard.result_page.summary.text()
    assert protect.password.text() == "" and protect.again.text() == ""
    data = target.read_bytes()
    private = serialization.load_pem_private_key(data, PASSWORD.encode())
    assert x509.load_pem_x509_certificates(data) == [lab.cert, lab.pki.intermediate]
    assert private.public_key() == lab.cert.public_key()
