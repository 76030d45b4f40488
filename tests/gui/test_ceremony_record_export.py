"""The ceremonies page's "Export record…": a security officer asks, the auditor co-signs
with their card, the record is written where the file dialog said and verifies with the
standalone verifier; an existing file is refused with the service's words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from tests.gui.conftest import CAST, GuiWorld, pin
from tests.gui.helpers import WAIT, log_on
from tests.gui.test_ceremonies_page import co_sign, error_box
from workstation.gui import file_choice
from workstation.gui.ceremonies_page import CeremoniesPage
from workstation.services.ceremonies import CeremonyOutcome, PaperOutput
from workstation.standalone import audit_verify

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

TEMPLATE = "ATM terminal master key"


@pytest.fixture(scope="module")
def made(gui_world: GuiWorld, tmp_path_factory: pytest.TempPathFactory) -> CeremonyOutcome:
    """A key generated as two printed components (readers 3 to 5, freed again)."""
    services = gui_world.services
    folder = tmp_path_factory.mktemp("mailers")
    session = services.logon.open_session()
    try:
        for who, reader in (("olivia", 3), ("cara", 4), ("carl", 5)):
            services.logon.log_on(session, gui_world.insert(who, reader), pin())
        return services.ceremonies.generate_components(
            session,
            TEMPLATE,
            [CAST["cara"][0], CAST["carl"][0]],
            output=PaperOutput(directory=folder),
        )
    finally:
        session.close()
        for reader in (3, 4, 5):
            gui_world.remove(reader)


@pytest.fixture
def page(qtbot: Any, app_state: Any, gui_world: GuiWorld, made: CeremonyOutcome) -> Iterator[Any]:
    log_on(qtbot, app_state, gui_world, "olivia")
    widget = CeremoniesPage(app_state)
    qtbot.addWidget(widget)
    widget.resize(1100, 760)
    with qtbot.waitSignal(widget.refreshed, timeout=WAIT):
        widget.show()
    yield widget
    for box in widget.findChildren(QMessageBox):
        box.close()


def test_export_record_with_the_auditor_and_verify_it(
    qtbot: Any,
    page: Any,
    gui_world: GuiWorld,
    made: CeremonyOutcome,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "record.json"
    asked: list[dict[str, Any]] = []

    def save_file(*args: Any, **kwargs: Any) -> Path:
        asked.append({"args": args, **kwargs})
        return target

    monkeypatch.setattr(file_choice, "save_file", save_file)
    assert page.select_ceremony(made.ceremony.id)
    button = page.ceremony_detail.export_button
    assert button.text() == "Export record…" and button.isVisible()
    button.click()
    (call,) = asked
    assert call["kind"].value == "ceremony_records" and call["confirm_overwrite"] is False
    assert str(call["args"][2]).endswith(f"ceremony-{made.ceremony.id[:12]}.json")
    co_sign(qtbot, gui_world, "alex", 1)  # exporting for auditors needs an auditor
    qtbot.waitUntil(lambda: page.last_record_export is not None, timeout=WAIT)
    result = page.last_record_export
    assert result.path == target.resolve() and result.ceremony_id == made.ceremony.id
    assert f"written to {result.path}" in page.status.text()
    assert "workstation-audit-verify --ceremony" in page.status.text()

    key = tmp_path / "audit.pem"
    key.write_bytes(gui_world.services.audit.public_key_pem())
    assert audit_verify.main(["--ceremony", str(target), "--public-key", str(key)]) == 0

    # The same file again: refused, named, nothing overwritten.
    before = target.read_bytes()
    button.click()
    box = error_box(qtbot, page)
    assert "exists already" in box.text() or "exists already" in box.informativeText()
    assert target.read_bytes() == before
