"""The EMV issuer key wizards on the real services (SoftHSM2, pcscd with virtual cards,
SQLite): issuer keys for two BINs with progress (a bad BIN shown first, nothing made); the
request signed and saved (its proof of possession verifies); the brand's certificate
imported, and one for the wrong BIN refused in the service's words with nothing kept; a
cancelled job keeping the BINs it made."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox

from tests.gui.conftest import GuiWorld, pin
from tests.gui.helpers import WAIT, log_on, on_device
from workstation.domain.emv_keys import CaKeyFields, IssuerKeyStatus, read_request_file
from workstation.standards import emv

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

BRAND = "Lab Brand"
RID = bytes.fromhex("A000000999")
TEAM = ("cara", "carl", "sam")  # generation (two custodians) and certificates (with sam)


@dataclass
class Brand:
    ca_key: rsa.RSAPrivateKey  # index 92, 1984 bits

    def certify(self, modulus: int, identifier: str) -> tuple[bytes, bytes]:
        return emv.issue_issuer_certificate(
            ca_private=self.ca_key,
            issuer_modulus=modulus,
            issuer_exponent=65537,
            issuer_identifier=identifier,
            expiry="1229",
            serial=bytes.fromhex("000042"),
        )


@pytest.fixture(scope="module")
def brand(gui_world: GuiWorld) -> Iterator[Brand]:
    """The brand as a partner with its CA key index 92, added through the services."""
    services = gui_world.services
    ca_key = rsa.generate_private_key(public_exponent=3, key_size=1984)  # noqa: S505
    public = emv.CaPublicKey(
        rid=RID, index=0x92, modulus=ca_key.public_key().public_numbers().n, exponent=3
    )
    session = services.logon.open_session()
    try:
        for reader, who in enumerate(("olivia", "sam")):
            services.logon.log_on(session, gui_world.insert(who, reader), pin())
        services.interchange.add_partner(session, BRAND, "brand")
        services.emv.add_ca_keys(
            session,
            BRAND,
            [CaKeyFields(RID, 0x92, public.modulus, 3, date(2035, 12, 31), public.check_sum())],
        )
    finally:
        session.close()
        gui_world.cards.remove_all()
    yield Brand(ca_key)


def opened(qtbot: Any, app_state: Any, open_wizard: Callable[[Any, Any], Any]) -> Any:
    wizard = open_wizard(app_state, None)
    qtbot.addWidget(wizard)
    qtbot.waitUntil(lambda: wizard.data is not None, timeout=WAIT)
    return wizard


def quorum_met(qtbot: Any, page: Any) -> None:
    qtbot.waitUntil(lambda: "quorum is met" in page.quorum.status.text(), timeout=WAIT)


def error_text(wizard: Any, field: str) -> str:
    label = wizard.currentPage().findChild(QLabel, f"error_{field}")
    assert label is not None, field
    return str(label.text()) if label.isVisibleTo(wizard) else ""


def error_box(wizard: Any) -> QMessageBox | None:
    box = wizard.findChild(QMessageBox, "errorBox")
    return box if box is not None and box.isVisible() else None


def key_sets(qtbot: Any, app_state: Any) -> dict[str, Any]:
    sets = on_device(qtbot, app_state, lambda s: app_state.services.emv.key_sets(s))
    return {k.bin: k for k in sets}


def make_keys(qtbot: Any, app_state: Any, bins: str) -> Any:
    from workstation.gui.emv_wizards import open_issuer_keys

    wizard = opened(qtbot, app_state, open_issuer_keys)
    page = wizard.choose_page
    assert page.brand.choose(BRAND)
    assert page.template.value() == "EMV issuer key pair"  # the seed template first
    wizard.next()
    assert wizard.currentId() == wizard.BINS_PAGE
    wizard.bins_page.bins.setPlainText(bins)
    wizard.next()
    return wizard


def test_issuer_keys_for_two_bins_then_the_request_and_the_certificate(
    qtbot: Any,
    app_state: Any,
    gui_world: GuiWorld,
    brand: Brand,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workstation.gui.emv_wizards import open_import_certificate, open_issuer_request

    log_on(qtbot, app_state, gui_world, *TEAM)
    before = key_sets(qtbot, app_state)
    wizard = make_keys(qtbot, app_state, "400000\n40000X")
    assert wizard.currentId() == wizard.BINS_PAGE  # refused next to the list
    assert error_text(wizard, "bins") == "BIN '40000X' is not 6 or 8 digits (ISO/IEC 7812-1)."
    wizard.bins_page.bins.setPlainText("# two BINs\n400000\n40000012\n")
    wizard.next()
    assert wizard.currentId() == wizard.REVIEW_PAGE
    quorum_met(qtbot, wizard.review_page)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    assert wizard.flow.progress == (2, 2) and not wizard.flow.stopped
    result = wizard.result_page
    assert result.summary.text() == "The issuer keys of 2 BINs are made, pre-active."
    assert result.model.rowCount() == 2
    made = key_sets(qtbot, app_state)
    assert set(made) - set(before) == {"400000", "40000012"}
    assert made["400000"].status is IssuerKeyStatus.GENERATED

    # The request, signed in the HSM and saved where the person chooses.
    wizard = opened(qtbot, app_state, open_issuer_request)
    page = wizard.choose_page
    assert page.bin.choose("400000")
    assert page.ca_index.value() == 0x92
    page.expiry.setText("12/29")
    wizard.next()
    assert wizard.currentId() == wizard.REVIEW_PAGE
    quorum_met(qtbot, wizard.review_page)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    target = tmp_path / "400000-request.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    wizard.result_page.save_button.click()
    qtbot.waitUntil(target.exists, timeout=WAIT)
    request = read_request_file(target.read_bytes())
    assert request.body["bin"] == "400000" and request.body["ca_index"] == "92"

    # The brand's answer for the wrong BIN: refused in the service's words, nothing kept.
    wizard = opened(qtbot, app_state, open_import_certificate)
    page = wizard.choose_page
    assert page.bin.choose("400000")
    assert "under CA key index 92" in page.asked.text()
    wizard.next()
    assert wizard.currentId() == wizard.CERTIFICATE_PAGE
    cert_page = wizard.certificate_page
    assert cert_page.ca_index.text() == "92"
    wrong, rest = brand.certify(request.request.modulus, "400001")
    wrong_file = tmp_path / "wrong.hex"
    wrong_file.write_text(wrong.hex())
    cert_page.certificate.load(wrong_file)
    cert_page.remainder.setText(rest.hex())
    wizard.next()
    assert wizard.currentId() == wizard.REVIEW_PAGE
    quorum_met(qtbot, wizard.review_page)
    wizard.next()
    qtbot.waitUntil(lambda: error_box(wizard) is not None, timeout=WAIT)
    assert error_box(wizard).text() == (  # type: ignore[union-attr]
        "Issuer certificate for BIN 400000 refused: it names issuer identifier 400001, not "
        "BIN 400000."
    )
    error_box(wizard).accept()  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: not wizard.running, timeout=WAIT)
    assert wizard.currentId() == wizard.REVIEW_PAGE
    assert key_sets(qtbot, app_state)["400000"].status is IssuerKeyStatus.REQUESTED

    # The right one, taken back through the certificate page.
    wizard.back()
    right, rest = brand.certify(request.request.modulus, "400000")
    right_file = tmp_path / "right.bin"
    right_file.write_bytes(right)
    cert_page.certificate.load(right_file)
    wizard.next()
    quorum_met(qtbot, wizard.review_page)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    shown = wizard.result_page.findChild(QLabel, "resultSerialNumber")
    assert shown is not None and shown.text() == "000042"
    kept = key_sets(qtbot, app_state)["400000"]
    assert kept.status is IssuerKeyStatus.CERTIFIED and kept.certificate is not None
    assert kept.certificate.certificate == right.hex().upper()


def test_a_cancelled_job_keeps_the_bins_it_made(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, brand: Brand
) -> None:
    from PySide6.QtWidgets import QProgressDialog, QPushButton

    log_on(qtbot, app_state, gui_world, *TEAM)
    bins = [f"5100{n:02d}" for n in range(8)]
    wizard = make_keys(qtbot, app_state, "\n".join(bins))
    quorum_met(qtbot, wizard.review_page)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.flow.progress is not None, timeout=WAIT)
    dialog = wizard.findChild(QProgressDialog, "progressDialog")
    assert dialog is not None
    cancel = dialog.findChild(QPushButton)
    assert cancel is not None and cancel.text() == "Cancel"
    cancel.click()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    assert wizard.flow.stopped
    job = wizard.flow.result
    assert job.stopped == "cancelled" and 1 <= len(job.made) < len(bins)
    assert [s.bin for s in job.made] + list(job.not_made) == bins
    assert wizard.result_page.summary.text().startswith(
        f"The job stopped (cancelled) after {len(job.made)} of {len(bins)} BINs."
    )
    made = key_sets(qtbot, app_state)
    assert [b for b in bins if b in made] == [s.bin for s in job.made]
