"""The demo panel against a real card daemon (``workstation-vcard serve``) on the test
pcscd: Insert puts a demo person's card into the chosen reader, the logon screen sees the
enrolled holder, Remove takes it out; without a daemon the panel says so."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QLabel

from tests.gui.conftest import GuiWorld
from tests.gui.test_logon import WAIT, wait_for_card
from workstation.devtools.demo import CAST
from workstation.devtools.vcard_cli import DaemonClient, start_daemon, stop_daemon
from workstation.gui.demo_panel import DemoPanel
from workstation.gui.logon import LogonScreen

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]


@pytest.fixture
def card_daemon(
    gui_world: GuiWorld, pcsc_reader_ports: dict[str, int], tmp_path: Path
) -> Iterator[DaemonClient]:
    """A card daemon of this test (on the test's pcscd) and the demo card files where the
    panel looks for them: copies of the enrolled cast's cards."""
    cards = gui_world.home / "demo-cards"
    cards.mkdir(exist_ok=True)
    for person in CAST:
        shutil.copyfile(gui_world.card[person.slug].path, cards / f"{person.slug}.json")
    state_dir = tmp_path / "vcard"
    start_daemon(state_dir)
    try:
        yield DaemonClient(state_dir)
    finally:
        stop_daemon(state_dir)  # removes its cards; the test pcscd keeps running


def test_insert_and_remove_a_demo_card(
    qtbot: Any, app_state: Any, card_daemon: DaemonClient
) -> None:
    panel = DemoPanel(app_state, client=card_daemon)
    qtbot.addWidget(panel)
    panel.show()
    logon = LogonScreen(app_state)
    qtbot.addWidget(logon)
    qtbot.waitUntil(lambda: panel.daemon_running is True, timeout=WAIT)
    assert "6 virtual readers" in panel.daemon_label.text()
    hint = panel.findChild(QLabel, "demoHint")
    assert hint is not None
    assert "Insert two custodians' cards to try dual control" in hint.text()
    cara = panel.rows["cara"]
    assert cara.where_label.text() == "not inserted"
    assert cara.insert_button.isEnabled()

    cara.reader_combo.setCurrentIndex(2)
    cara.insert_button.click()
    qtbot.waitUntil(lambda: panel.where.get("cara") == 2 and not panel.busy, timeout=WAIT)
    # Named as the logon screen names it: "KCW Virtual Reader 2 00 00" is "reader 2 00 00".
    assert panel.reader_names[2].endswith("2 00 00")
    assert cara.where_label.text() == "in reader 2 00 00"
    assert cara.remove_button.isVisible() and not cara.insert_button.isVisible()
    assert panel.message.text().startswith("Cara Mendes's card is in KCW Virtual Reader")
    # The workstation sees the card through pcscd and reads whose it is.
    wait_for_card(qtbot, logon.form, "Cara Mendes — key custodian")
    # Another person's reader choice moves off the occupied reader.
    assert panel.rows["carl"].reader_combo.currentIndex() != 2
    assert panel.rows["carl"].reader_combo.itemText(2) == "Reader 2 00 00 (has a card)"

    cara.remove_button.click()
    qtbot.waitUntil(lambda: "cara" not in panel.where and not panel.busy, timeout=WAIT)
    assert cara.where_label.text() == "not inserted"
    qtbot.waitUntil(lambda: not any(r.card_present for r in app_state.readers), timeout=WAIT)


def test_panel_says_when_the_daemon_is_not_running(
    qtbot: Any, app_state: Any, tmp_path: Path
) -> None:
    panel = DemoPanel(app_state, client=DaemonClient(tmp_path / "no-daemon"))
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: panel.daemon_running is False, timeout=WAIT)
    assert "The demo card daemon is not running" in panel.daemon_label.text()
    assert "make run" in panel.daemon_label.text()
    assert panel.retry_button.isVisible()
    assert not panel.rows["cara"].insert_button.isEnabled()
