"""The key wizards on the real services: generate under dual control, compromise with a
reason and a date, rotate with the successor linked."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QRadioButton,
)

from tests.gui.conftest import GuiWorld
from tests.gui.helpers import WAIT, log_on, on_device
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.policy import Action

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]


def new_key(qtbot: Any, app_state: Any, template: str = "PIN encryption key") -> ManagedKey:
    result = on_device(qtbot, app_state, lambda s: app_state.services.keys.generate(s, template))
    key: ManagedKey = result.keys[0]
    return key


def checked_choice(wizard: Any, action: Action) -> Callable[[], bool]:
    def check() -> bool:
        button = wizard.findChild(QRadioButton, f"choice_{action.value}")
        return button is not None and bool(button.isChecked())

    return check


def error_text(wizard: Any, field: str) -> str:
    label = wizard.currentPage().findChild(QLabel, f"error_{field}")
    assert label is not None
    return str(label.text()) if label.isVisible() else ""


def test_generate_a_key_under_dual_control(qtbot: Any, app_state: Any, gui_world: GuiWorld) -> None:
    from workstation.gui.wizards import GenerateKeyWizard

    log_on(qtbot, app_state, gui_world, "cara", "carl")
    wizard = GenerateKeyWizard(app_state)
    qtbot.addWidget(wizard)
    wizard.show()
    templates = wizard.findChild(QListWidget, "templateList")
    qtbot.waitUntil(lambda: templates.count() > 0, timeout=WAIT)

    # Next without a choice: the flow's validator answers next to the list.
    wizard.next()
    assert wizard.currentId() == wizard.TEMPLATE_PAGE
    assert error_text(wizard, "template") == "Choose the template the keys are made from."

    wizard.template_page.select("Zone master key (KEK)")
    wizard.next()
    assert wizard.currentId() == wizard.REVIEW_PAGE
    review = wizard.review_page
    qtbot.waitUntil(
        lambda: (
            "2 of group custodians A" in review.findChild(QLabel, "reviewQuorumToGenerate").text()
        ),
        timeout=WAIT,
    )
    assert review.findChild(QLabel, "reviewKeyUsageTr31").text().startswith("K0 — key encryption")
    review.count.setValue(2)
    assert not review.label.isEnabled()
    review.count.setValue(1)
    review.label.setText("ZMK-PARTNER-GUI-1")
    wizard.next()
    assert wizard.currentId() == wizard.QUORUM_PAGE
    status = wizard.quorum_page.quorum.status
    qtbot.waitUntil(lambda: "quorum is met" in status.text(), timeout=WAIT)
    assert "Cara Mendes, Carl Novak" in wizard.quorum_page.quorum.present.text()

    wizard.next()  # the commit page's Generate
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    rows = wizard.result_page.model.rows
    assert len(rows) == 1
    label, kcv, state = rows[0][:3]
    assert label == "ZMK-PARTNER-GUI-1"
    assert re.fullmatch("[0-9A-F]{6,10}", kcv)  # AES keys: 5 bytes of CMAC
    assert state == "pre-activation"
    assert wizard.result_page.summary.text() == (
        "1 key generated, each in the pre-activation state."
    )

    stored = on_device(qtbot, app_state, lambda s: app_state.services.keys.detail(s, label))
    assert stored.key.kcv == kcv
    assert stored.key.state is KeyState.PRE_ACTIVATION
    entry = stored.audit_trail[-1]
    assert entry.action == "key.generate"
    assert {m["name"] for m in entry.body["members"]} == {"Cara Mendes", "Carl Novak"}


def test_bulk_generation_shows_progress_and_lists_every_key(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    from workstation.gui.wizards import GenerateKeyWizard

    log_on(qtbot, app_state, gui_world, "cara", "chen")
    wizard = GenerateKeyWizard(app_state)
    qtbot.addWidget(wizard)
    wizard.show()
    templates = wizard.findChild(QListWidget, "templateList")
    qtbot.waitUntil(lambda: templates.count() > 0, timeout=WAIT)
    wizard.template_page.select("MAC key")
    wizard.next()
    wizard.review_page.count.setValue(3)
    wizard.next()
    assert wizard.quorum_page.bulk.isVisibleTo(wizard)
    assert wizard.flow.cancellable
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    labels = [r[0] for r in wizard.result_page.model.rows]
    assert len(labels) == 3 and len(set(labels)) == 3
    assert all(label.startswith("MAC-") for label in labels)


def test_compromise_asks_reason_and_date_and_refuses_a_future_date(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    from workstation.gui.wizards import StateChangeWizard

    log_on(qtbot, app_state, gui_world, "cara", "carl", "olivia", "sam")
    key = new_key(qtbot, app_state)
    wizard = StateChangeWizard(app_state, key.label, Action.COMPROMISE_KEY)
    qtbot.addWidget(wizard)
    wizard.show()
    assert wizard.windowTitle() == f"Mark compromised — key {key.label}"
    qtbot.waitUntil(checked_choice(wizard, Action.COMPROMISE_KEY), timeout=WAIT)
    activate = wizard.findChild(QRadioButton, "choice_activate_key")
    assert activate.isEnabled()  # a pre-activation key may be activated
    reinstate = wizard.findChild(QRadioButton, "choice_reinstate_key")
    assert not reinstate.isEnabled()
    wizard.next()
    assert wizard.currentId() == wizard.REASON_PAGE

    reason = wizard.findChild(QPlainTextEdit, "reasonText")
    when = wizard.findChild(QDateEdit, "compromiseDate")
    assert when.isVisibleTo(wizard)
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    when.setDate(QDate(tomorrow.year, tomorrow.month, tomorrow.day))
    wizard.next()
    assert wizard.currentId() == wizard.REASON_PAGE
    assert "needs a reason" in error_text(wizard, "reason")
    assert "cannot be in the future" in error_text(wizard, "compromise_date")

    today = datetime.now(UTC).date()
    when.setDate(QDate(today.year, today.month, today.day))
    reason.setPlainText("Component envelope found opened (incident 4711)")
    wizard.next()
    assert wizard.currentId() == wizard.CONFIRM_PAGE
    wizard.next()  # not confirmed yet
    assert wizard.currentId() == wizard.CONFIRM_PAGE
    assert "cannot be undone" in error_text(wizard, "confirmed")
    wizard.findChild(QCheckBox, "confirmIrreversible").setChecked(True)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    assert f"Key {key.label} (KCV {key.kcv}) is now compromised." in (
        wizard.result_page.summary.text()
    )
    stored = on_device(qtbot, app_state, lambda s: app_state.services.keys.detail(s, key.label))
    assert stored.key.state is KeyState.COMPROMISED
    assert stored.key.compromise_date is not None
    assert stored.history[-1].reason == "Component envelope found opened (incident 4711)"


def test_activation_skips_the_reason_page(qtbot: Any, app_state: Any, gui_world: GuiWorld) -> None:
    from workstation.gui.wizards import StateChangeWizard

    log_on(qtbot, app_state, gui_world, "cara", "carl", "sam")
    key = new_key(qtbot, app_state)
    wizard = StateChangeWizard(app_state, key.label, Action.ACTIVATE_KEY)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitUntil(checked_choice(wizard, Action.ACTIVATE_KEY), timeout=WAIT)
    wizard.next()
    assert wizard.currentId() == wizard.CONFIRM_PAGE
    assert not wizard.findChild(QCheckBox, "confirmIrreversible").isVisibleTo(wizard)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    assert "is now active" in wizard.result_page.summary.text()


def test_rotate_links_predecessor_and_successor(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    from workstation.gui.wizards import RotateWizard

    log_on(qtbot, app_state, gui_world, "cara", "carl")
    key = new_key(qtbot, app_state)
    wizard = RotateWizard(app_state, key.label)
    qtbot.addWidget(wizard)
    wizard.show()
    page = wizard.review_page
    qtbot.waitUntil(lambda: page.rows > 0, timeout=WAIT)
    old_kcv = page.findChild(QLabel, "oldKeyCheckValue")
    assert old_kcv is not None and old_kcv.text() == key.kcv
    assert page.findChild(QLabel, "newVersion").text() == "2"
    page.reason.setText("scheduled rotation")
    wizard.next()
    assert wizard.currentId() == wizard.QUORUM_PAGE
    qtbot.waitUntil(
        lambda: "quorum is met" in wizard.quorum_page.quorum.status.text(), timeout=WAIT
    )
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    (_, old_label, old_kcv_text, _), (_, new_label, new_kcv, new_state) = (
        wizard.result_page.model.rows
    )
    assert (old_label, old_kcv_text) == (key.label, key.kcv)
    assert new_label != key.label and new_state == "pre-activation"

    old = on_device(qtbot, app_state, lambda s: app_state.services.keys.detail(s, key.label)).key
    new = on_device(qtbot, app_state, lambda s: app_state.services.keys.detail(s, new_label)).key
    assert old.successor_id == new.id
    assert new.predecessor_id == old.id
    assert new.version == 2 and new.kcv == new_kcv

    # A key with a successor cannot be rotated again: the wizard says so and stays.
    again = RotateWizard(app_state, key.label)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitUntil(lambda: again.review_page.rows > 0, timeout=WAIT)
    again.next()
    assert again.currentId() == again.REVIEW_PAGE
    assert "already has a successor" in error_text(again, "key")


def test_bulk_generation_can_be_cancelled_and_keeps_the_keys_made(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    from PySide6.QtWidgets import QProgressDialog, QPushButton

    from workstation.gui.wizards import GenerateKeyWizard

    log_on(qtbot, app_state, gui_world, "carl", "chen")
    wizard = GenerateKeyWizard(app_state)
    qtbot.addWidget(wizard)
    wizard.show()
    templates = wizard.findChild(QListWidget, "templateList")
    qtbot.waitUntil(lambda: templates.count() > 0, timeout=WAIT)
    wizard.template_page.select("PIN encryption key")
    wizard.next()
    wizard.review_page.count.setValue(20_000)
    wizard.next()
    wizard.next()

    def progressed() -> bool:
        dialog = wizard.findChild(QProgressDialog, "progressDialog")
        return dialog is not None and dialog.value() > 0

    qtbot.waitUntil(progressed, timeout=WAIT)
    dialog = wizard.findChild(QProgressDialog, "progressDialog")
    assert "keys generated" in dialog.labelText()
    cancel = dialog.findChild(QPushButton)
    assert cancel is not None and cancel.text() == "Cancel"
    cancel.click()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.RESULT_PAGE, timeout=WAIT)
    made = len(wizard.result_page.model.rows)
    assert 0 < made < 20_000
    assert wizard.result_page.summary.text().startswith(
        f"Stopped after {made:,} of 20,000 keys: cancelled."
    )
