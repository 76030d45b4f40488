"""Kiosk mode leaves no way around the confined dialog through a wizard's own path field
(real services: SoftHSM2, pcscd with virtual cards, SQLite). The field is read-only; a
path that gets into it all the same (set by the program, or left from before) is judged by
the kiosk's rules when the page is accepted and again as the work starts, and refused with
the message naming the allowed places: nothing is signed, exported or written.

One wizard of each kind: a file to write (the certificate request; the TLS key store),
a folder to write into (the paper ceremony's mailers, outbox only), and typed paths in a
dialog (a file drop's folder and a PIN file when registering a key store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtWidgets import QLabel, QListWidget, QMessageBox

from tests.gui import test_endpoint_wizards as endpoint_tests
from tests.gui.conftest import GuiWorld
from tests.gui.helpers import WAIT, log_on
from workstation.domain.distribution import TargetKind
from workstation.domain.policy import MediaExport
from workstation.gui import file_choice
from workstation.gui.file_choice import Kiosk, KioskFileDialog

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

lab = endpoint_tests.lab  # a TLS key pair, active, with a current certificate
PASSWORD = endpoint_tests.PASSWORD
TDES = "Card verification key"


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    root = tmp_path / "media"
    stick = root / "kcw-kiosk" / "STICK"
    stick.mkdir(parents=True)
    places = Kiosk(tmp_path / "home" / "exports", (root,), mount_points=lambda: [stick])
    file_choice.configure(places)
    yield places
    file_choice.configure(None)


def stick_of(kiosk: Kiosk) -> Path:
    return kiosk.places().media[0]


def outbox_of(kiosk: Kiosk) -> Path:
    return kiosk.places().outbox


def error_text(widget: Any, field: str) -> str:
    page = widget.currentPage() if hasattr(widget, "currentPage") else widget
    label = page.findChild(QLabel, f"error_{field}")
    assert label is not None, field
    return str(label.text()) if label.isVisibleTo(widget) else ""


def pick_in_dialog(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """The confined dialog answers with ``path`` (its own checks still apply)."""

    def pick(dialog: KioskFileDialog) -> int:
        dialog.selectFile(str(path))
        dialog.accept()
        return int(dialog.result())

    monkeypatch.setattr(KioskFileDialog, "exec", pick)


_OPENED: list[Any] = []


@pytest.fixture(autouse=True)
def _close_opened() -> Iterator[None]:
    yield
    while _OPENED:
        widget = _OPENED.pop()
        if shiboken6.isValid(widget):
            widget.close()


def refusal_shown(qtbot: Any, parent: Any) -> str:
    """The text of the error box the work's refusal opened over ``parent``."""
    qtbot.waitUntil(lambda: parent.findChild(QMessageBox, "errorBox") is not None, timeout=WAIT)
    box = parent.findChild(QMessageBox, "errorBox")
    text = str(box.text())
    box.close()
    return text


def outside_message(path: Path, kiosk: Kiosk) -> str:
    return f"{path} is outside the places this kiosk may write to: {outbox_of(kiosk)}."


def test_certificate_request_file_typed_outside_is_refused_and_signs_nothing(
    qtbot: Any,
    app_state: Any,
    gui_world: GuiWorld,
    lab: Any,
    kiosk: Kiosk,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workstation.gui import certificate_wizards

    log_on(qtbot, app_state, gui_world, "cara", "sam")  # manage_certificates
    wizard: Any = certificate_wizards.open_request(app_state, None, lab.key.label)
    _OPENED.append(wizard)
    qtbot.waitUntil(lambda: wizard.data is not None, timeout=WAIT)
    wizard.next()
    wizard.next()  # the profile of the current certificate (a renewal)
    assert wizard.currentId() == wizard.REVIEW_PAGE
    review = wizard.review_page
    assert review.file.isReadOnly()
    qtbot.waitUntil(lambda: "quorum is met" in review.quorum.status.text(), timeout=WAIT)
    outside = tmp_path / "elsewhere.csr"
    review.file.setText(str(outside))
    wizard.next()
    assert wizard.currentId() == wizard.REVIEW_PAGE
    assert error_text(wizard, "file") == outside_message(outside, kiosk)
    # a removable medium: refused while the policy does not allow certificates there
    on_stick = stick_of(kiosk) / "renewal.csr"
    review.file.setText(str(on_stick))
    wizard.next()
    assert error_text(wizard, "file").startswith(
        "Policy does not allow certificate requests and certificates on removable media; "
        "nothing was written."
    )
    # the page refused; the work refuses too, should the path change behind the page
    review.flow.set_output("pem", outside)
    wizard.sign()
    assert refusal_shown(qtbot, wizard) == outside_message(outside, kiosk)
    assert wizard.currentId() == wizard.REVIEW_PAGE
    assert not outside.exists() and not on_stick.exists()
    # chosen through the confined dialog: the outbox, signed and written there
    target = outbox_of(kiosk) / "renewal.csr"
    pick_in_dialog(monkeypatch, target)
    review.ask()
    assert review.file.text() == str(target)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    assert target.read_bytes().startswith(b"-----BEGIN CERTIFICATE REQUEST-----")


def test_key_store_file_typed_outside_is_refused(
    qtbot: Any,
    app_state: Any,
    gui_world: GuiWorld,
    lab: Any,
    kiosk: Kiosk,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workstation.gui.endpoint_wizards import open_keystore_wizard

    log_on(qtbot, app_state, gui_world, "cara", "carl", "sam")  # the export quorum
    wizard: Any = open_keystore_wizard(app_state, None)
    _OPENED.append(wizard)
    qtbot.waitUntil(lambda: wizard.choices is not None, timeout=WAIT)
    assert wizard.choose_page.choose(lab.key.label)
    wizard.next()
    protect = wizard.protect_page
    assert protect.file.isReadOnly()
    protect.password.setText(PASSWORD)
    protect.again.setText(PASSWORD)
    outside = tmp_path / "pay.p12"
    protect.file.setText(str(outside))
    wizard.next()
    assert wizard.currentId() == wizard.PROTECT_PAGE
    assert error_text(wizard, "file") == outside_message(outside, kiosk)
    # allowed on the stick once the policy lets TLS key stores go to removable media
    kiosk.allowed = frozenset({MediaExport.TLS_KEY_STORES})
    target = stick_of(kiosk) / "pay.p12"
    pick_in_dialog(monkeypatch, target)
    protect.ask()
    assert protect.file.text() == str(target)
    wizard.next()
    assert wizard.currentId() == wizard.REVIEW_PAGE
    # the policy withdrawn before the export: the work refuses, nothing is written
    kiosk.allowed = frozenset()
    review = wizard.review_page
    qtbot.waitUntil(lambda: "quorum is met" in review.quorum.status.text(), timeout=WAIT)
    wizard.next()
    assert refusal_shown(qtbot, wizard).startswith(
        "Policy does not allow TLS key stores (password-protected) on removable media; "
        "nothing was written."
    )
    assert wizard.currentId() == wizard.REVIEW_PAGE
    assert not target.exists() and not outside.exists()


def test_mailer_folder_outside_the_outbox_is_refused(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, kiosk: Kiosk, tmp_path: Path
) -> None:
    from workstation.gui.ceremony_wizards import open_generate_components

    kiosk.allowed = frozenset(MediaExport)  # no policy sends components to a medium
    log_on(qtbot, app_state, gui_world, "olivia", "cara", "carl")
    wizard: Any = open_generate_components(app_state, None)
    _OPENED.append(wizard)
    templates = wizard.findChild(QListWidget, "templateList")
    qtbot.waitUntil(lambda: templates.count() > 0, timeout=WAIT)
    wizard.template_page.select(TDES)
    wizard.next()
    page = wizard.custodians_page
    qtbot.waitUntil(lambda: page.loaded, timeout=WAIT)
    page.choose(1, "Cara Mendes")
    page.choose(2, "Carl Novak")
    wizard.next()
    output: Any = wizard.currentPage()
    assert output.objectName() == "outputPage"
    for folder, expected in (
        (tmp_path, outside_message(tmp_path, kiosk)),
        (
            stick_of(kiosk),
            "This file can hold a clear component: it never goes to removable media; "
            f"nothing was written. Save it in the outbox ({outbox_of(kiosk)}) instead.",
        ),
    ):
        output.set_directory(folder)
        wizard.next()
        assert wizard.currentPage() is output
        assert error_text(wizard, "directory") == expected
    output.set_directory(outbox_of(kiosk))
    wizard.next()
    assert wizard.currentPage() is not output
    wizard.reject()


def test_key_store_registration_paths_outside_are_refused(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, kiosk: Kiosk, tmp_path: Path
) -> None:
    from workstation.gui.distribution_page import DistributionPage
    from workstation.gui.distribution_wizards import open_add_store

    log_on(qtbot, app_state, gui_world, "olivia", "oscar")
    page = DistributionPage(app_state)
    qtbot.addWidget(page)
    dialog: Any = open_add_store(app_state, page)
    _OPENED.append(dialog)
    qtbot.waitUntil(lambda: dialog.ok.isEnabled(), timeout=WAIT)
    dialog.name.setText("drop-kiosk")
    dialog.kind.setCurrentIndex(dialog.kind.findData(TargetKind.FILE.value))
    dialog.location.setText(str(tmp_path))
    dialog.submit()
    assert error_text(dialog, "location") == outside_message(tmp_path, kiosk)
    dialog.kind.setCurrentIndex(dialog.kind.findData(TargetKind.PKCS11.value))
    pin_file = tmp_path / "pin.txt"
    pin_file.write_text("1234")
    dialog.location.setText("/usr/lib/softhsm/libsofthsm2.so")
    dialog.token.setText("host")
    dialog.pin_file.setText(str(pin_file))
    dialog.submit()
    assert error_text(dialog, "pin_file") == (
        f"{pin_file} is outside the places this kiosk may read from: "
        f"{outbox_of(kiosk)}, {stick_of(kiosk)}."
    )
