"""The enrolled TLS endpoints on the Certificates page, on the real services (SoftHSM2,
pcscd with virtual cards, SQLite) and TLS servers on loopback: the endpoints listed the
first to end on top, days left red once ended and amber within 30 days, the details and
the chain; "Re-check all" on the device thread finds a renewed certificate and a server
gone, and says so with the reason; "Remove…" asks, removes, and asks for the missing
people's cards when the monitoring quorum is not met. The tab is rendered for the
documentation (``KCW_SCREENSHOT_DIR``). The table model is checked by qtmodeltester
without services."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QMessageBox

from tests.gui.conftest import GuiWorld, pin
from tests.gui.helpers import WAIT, log_on, on_device
from tests.tls_servers import TestPki, TlsServer
from tests.unit.test_endpoint_flows import NOW, endpoint
from workstation.adapters.tls_probe import SslTlsProbe
from workstation.flows.endpoints import endpoint_rows
from workstation.gui.certificates_page import CertificatesPage
from workstation.gui.endpoints_view import (
    EXPIRED_BACKGROUND,
    SOON_BACKGROUND,
    EndpointsView,
    EndpointTableModel,
)

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

BACKGROUND = Qt.ItemDataRole.BackgroundRole


# --- the model, without services --------------------------------------------------------------


def test_endpoint_model_columns_and_colours(qtmodeltester: Any) -> None:
    model = EndpointTableModel()
    model.set_rows(
        endpoint_rows(
            [
                endpoint(id="a", not_after=NOW + timedelta(days=200)),
                endpoint(id="b", host="soon.bank.example", not_after=NOW + timedelta(days=9)),
                endpoint(id="c", host="old.bank.example", not_after=NOW - timedelta(days=2)),
            ],
            NOW,
        )
    )
    qtmodeltester.check(model)
    assert model.columnCount() == 10 and model.rowCount() == 3
    assert [model.index(r, 0).data() for r in range(3)] == [
        "old.bank.example:8443",
        "soon.bank.example:8443",
        "[2001:db8::1]:8443",
    ]
    days = EndpointTableModel.DAYS
    assert model.index(0, days).data(BACKGROUND) == EXPIRED_BACKGROUND
    assert model.index(1, days).data(BACKGROUND) == SOON_BACKGROUND
    assert model.index(2, days).data(BACKGROUND) is None
    assert model.index(0, EndpointTableModel.SUBJECT).data(BACKGROUND) is None
    assert model.index(1, days).data() == "9 d"
    assert "renew it" in model.index(1, days).data(Qt.ItemDataRole.ToolTipRole)
    assert model.row_of("a") == 2 and model.row_of("zz") is None


# --- on the real services ----------------------------------------------------------------------


@dataclass
class Lab:
    pki: TestPki
    folder: Path
    servers: dict[str, TlsServer]  # still running, by name
    stopped: dict[str, int]  # name: the port of a server stopped since it was enrolled


@pytest.fixture(scope="module")
def lab(gui_world: GuiWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Five loopback servers enrolled by a security officer (reader 0, freed again): a
    valid one, one ending within 30 days, an expired one, one to be renewed and one to be
    stopped."""
    services = gui_world.services
    services.ctx.tls_probe = SslTlsProbe()
    pki = TestPki()
    folder = tmp_path_factory.mktemp("endpoints")
    past = datetime.now(UTC) - timedelta(days=45, hours=12)  # ended 15.5 days ago
    made = {
        "portal": pki.server("portal.bank.example", days=200),
        "soon": pki.server("soon.bank.example", days=12),
        "old": pki.server("old.bank.example", days=30, start=past),
        "renewed": pki.server("renewed.bank.example", days=20),
        "gone": pki.server("gone.bank.example", days=300),
    }
    servers = {
        name: TlsServer([cert, pki.intermediate], key, folder).start()
        for name, (cert, key) in made.items()
    }
    session = services.logon.open_session()
    try:
        services.logon.log_on(session, gui_world.insert("olivia", 0), pin())
        found = services.endpoints.discover(session, [s.target for s in servers.values()])
        services.endpoints.enrol_many(session, found, owners=["web-ops@bank.example"])
    finally:
        session.close()
        gui_world.cards.remove_all()
    lab = Lab(pki=pki, folder=folder, servers=servers, stopped={})
    yield lab
    for server in lab.servers.values():
        server.stop()


def _showing(qtbot: Any, app_state: Any, gui_world: GuiWorld, *who: str) -> EndpointsView:
    page = CertificatesPage(app_state)
    qtbot.addWidget(page)
    page.resize(1300, 760)
    page.show()
    view = page.endpoints
    assert page.tabs.tabText(0) == "Key pairs" and page.tabs.currentIndex() == 0
    assert view.status.text() == "" and view.model.rowCount() == 0
    log_on(qtbot, app_state, gui_world, *who)
    with qtbot.waitSignal(view.refreshed, timeout=WAIT):
        page.tabs.setCurrentWidget(view)  # read when first shown
    return view


def _message_box(view: EndpointsView, name: str) -> QMessageBox:
    found = [b for b in view.findChildren(QMessageBox, name) if b.isVisible()]
    assert len(found) == 1, name
    return found[0]


def test_the_tab_lists_the_endpoints_with_their_details(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, lab: Lab
) -> None:
    view = _showing(qtbot, app_state, gui_world, "alex")  # the auditor reads
    model = view.model
    targets = {name: s.target for name, s in lab.servers.items()}
    shown = [model.index(r, EndpointTableModel.TARGET).data() for r in range(model.rowCount())]
    assert shown == [targets[n] for n in ("old", "soon", "renewed", "portal", "gone")]
    assert view.count.text() == "5 endpoints enrolled; 1 expired; 2 expire within 30 days."
    days = EndpointTableModel.DAYS
    assert model.index(0, days).data() in ("expired 15 d ago", "expired 16 d ago")
    assert model.index(0, days).data(BACKGROUND) == EXPIRED_BACKGROUND
    assert model.index(1, days).data(BACKGROUND) == SOON_BACKGROUND
    assert model.index(4, days).data(BACKGROUND) is None
    portal = [model.index(3, c).data() for c in range(10)]
    assert portal[1] == "(none: an address)"  # 127.0.0.1: no server name is asked for
    assert portal[2] == "CN=portal.bank.example,O=Loopback Test Bank,C=GB"
    assert portal[3] == "CN=Loopback Issuing CA 1,O=Loopback Test Bank,C=GB"
    assert portal[6:8] == ["", "web-ops@bank.example"]
    assert portal[9].startswith("TLSv1.")

    assert view.select_endpoint(targets["portal"])
    assert view.remove_button.isEnabled() and view.recheck_button.isEnabled()
    subject = view.findChild(QLabel, "endpointSubject")
    assert subject is not None and subject.text().startswith("CN=portal.bank.example")
    chain = view.findChild(QLabel, "endpointChain")
    assert chain is not None and chain.text() == "2 certificates presented"
    pem = view.pem.toPlainText()
    assert pem.count("-----BEGIN CERTIFICATE-----") == 2 and view.pem.isReadOnly()
    view.copy_button.click()
    assert view.copied.text() == "Copied to the clipboard."

    app_state.close_session()
    assert model.rowCount() == 0 and not view.recheck_button.isEnabled()


def test_the_main_window_shows_the_endpoints_tab(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, lab: Lab
) -> None:
    from workstation.gui.main_window import MainWindow

    window = MainWindow(app_state)
    qtbot.addWidget(window)
    page = window.certificates
    assert isinstance(page, CertificatesPage)
    log_on(qtbot, app_state, gui_world, "sam")
    window.resize(1400, 820)
    window.show()
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        window.tabs.setCurrentWidget(page)
    with qtbot.waitSignal(page.endpoints.refreshed, timeout=WAIT):
        page.tabs.setCurrentWidget(page.endpoints)
    assert page.endpoints.select_endpoint(lab.servers["soon"].target)
    subject = page.endpoints.findChild(QLabel, "endpointSubject")
    qtbot.waitUntil(lambda: subject is not None and subject.isVisible(), timeout=WAIT)
    image = window.grab()
    assert image.width() == 1400 and not image.isNull()
    folder = os.environ.get("KCW_SCREENSHOT_DIR")
    if folder:
        image.save(str(Path(folder) / "certificates-endpoints.png"))


def test_recheck_finds_a_renewed_certificate_and_a_server_gone_then_remove(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, lab: Lab
) -> None:
    # The renewed server restarts on its port with a new certificate; the other stops.
    renewed = lab.servers.pop("renewed")
    renewed.stop()
    cert, key = lab.pki.server("renewed.bank.example", days=400)
    lab.servers["renewed"] = TlsServer(
        [cert, lab.pki.intermediate], key, lab.folder, port=renewed.port
    ).start()
    gone = lab.servers.pop("gone")
    gone.stop()
    lab.stopped["gone"] = gone.port

    view = _showing(qtbot, app_state, gui_world, "olivia")  # the monitoring quorum
    with qtbot.waitSignal(view.rechecked, timeout=WAIT) as summary:
        view.recheck_button.click()
    box = _message_box(view, "recheckSummary")
    assert box.text() == (
        "5 endpoints re-checked: 4 reached, 1 presents a new certificate, 1 not reached, "
        "1 still expired."
    )
    info = box.informativeText()
    assert f"{renewed.target}: now renewed.bank.example, serial {cert.serial_number:X}" in info
    assert f"{gone.target}: " in info and "refused" in info
    assert summary.args[0].unreachable[0].startswith(gone.target)
    box.accept()
    qtbot.waitUntil(
        lambda: (
            {r.endpoint.subject: r.endpoint.serial for r in view.model.records}.get(renewed.target)
            == f"{cert.serial_number:X}"
        ),
        timeout=WAIT,
    )
    assert view.status.text() == box.text()

    # The server gone is removed, after the question is answered.
    assert view.select_endpoint(gone.target)
    view.remove_button.click()
    question = _message_box(view, "removeEndpointBox")
    assert question.text().startswith(f"Stop watching {gone.target}? Its certificate")
    question.button(QMessageBox.StandardButton.Cancel).click()
    assert view.model.rowCount() == 5
    view.remove_button.click()
    question = _message_box(view, "removeEndpointBox")
    with qtbot.waitSignal(view.refreshed, timeout=WAIT):
        question.button(QMessageBox.StandardButton.Yes).click()
    assert view.model.rowCount() == 4 and not view.select_endpoint(gone.target)
    assert view.status.text() == f"{gone.target} is no longer watched."
    left = on_device(qtbot, app_state, app_state.services.endpoints.endpoints)
    assert gone.target not in {e.subject for e in left}


def test_a_removal_without_the_quorum_asks_for_cards_and_keeps_the_endpoint(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, lab: Lab
) -> None:
    view = _showing(qtbot, app_state, gui_world, "cara")  # a custodian may read, not remove
    target = lab.servers["portal"].target
    assert view.select_endpoint(target)
    view.remove_button.click()
    _message_box(view, "removeEndpointBox").button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(
        lambda: any(d.isVisible() for d in view.findChildren(QDialog, "coSignDialog")),
        timeout=WAIT,
    )
    dialog = next(d for d in view.findChildren(QDialog, "coSignDialog") if d.isVisible())
    dialog.reject()
    qtbot.waitUntil(lambda: not app_state.runner.busy, timeout=WAIT)
    left = on_device(qtbot, app_state, app_state.services.endpoints.endpoints)
    assert target in {e.subject for e in left}


def test_a_removal_refused_by_the_service_shows_the_error(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, lab: Lab
) -> None:
    view = _showing(qtbot, app_state, gui_world, "olivia")
    target = lab.servers["soon"].target
    assert view.select_endpoint(target)
    # Removed elsewhere (the CLI, another workstation) after the view read it.
    on_device(qtbot, app_state, lambda s: app_state.services.endpoints.remove(s, target))
    view.remove_button.click()
    _message_box(view, "removeEndpointBox").button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(
        lambda: any(b.isVisible() for b in view.findChildren(QMessageBox, "errorBox")),
        timeout=WAIT,
    )
    box = _message_box(view, "errorBox")
    assert box.text() == f"No enrolled endpoint {target}."
