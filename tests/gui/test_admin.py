"""The administration page on the real services: enrolment through the dialog with the
new card in a free reader, a policy change under two officers, template errors shown
next to their fields, a person suspended and reinstated, a group changed."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit, QMessageBox

from tests.gui.conftest import GuiWorld
from tests.gui.helpers import WAIT, log_on, on_device
from workstation.domain.people import Role, Status
from workstation.domain.policy import Action

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]


def open_page(qtbot: Any, app_state: Any) -> Any:
    from workstation.gui.admin import AdminPage

    page = AdminPage(app_state)
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    qtbot.waitUntil(lambda: page.data is not None, timeout=WAIT)
    return page


def shown_error(widget: Any, field: str) -> str:
    label = widget.findChild(QLabel, f"error_{field}")
    assert label is not None, field
    return str(label.text()) if label.isVisibleTo(widget) else ""


def test_enrol_a_person_with_the_new_card_in_a_free_reader(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    log_on(qtbot, app_state, gui_world, "olivia", "oscar")
    card = gui_world.cards.issue("Dana Flores", "654321")
    new_reader = gui_world.cards.insert(card, 2)
    page = open_page(qtbot, app_state)
    dialog = page.people.open_enrol()

    def offered() -> dict[str, str]:
        return {
            dialog.reader.itemData(i): dialog.reader.itemText(i)
            for i in range(dialog.reader.count())
            if dialog.reader.itemData(i) is not None
        }

    qtbot.waitUntil(lambda: "a new card" in offered().get(new_reader, ""), timeout=WAIT)
    busy = {m.reader for m in app_state.members}
    assert not busy & set(offered())  # the logged-on cards are not offered
    assert dialog.reader.currentData() == new_reader
    assert "Ready" in dialog.card_info.text()

    dialog.submit()  # nothing filled in: every field says what it needs
    assert shown_error(dialog, "name") == "Give the person's full name."
    assert shown_error(dialog, "roles") == "Tick at least one role."
    assert shown_error(dialog, "pin") == "The new card holder types their PIN."

    dialog.name.setText("Dana  Flores")
    dialog.findChild(QCheckBox, "role_key_custodian").setChecked(True)
    dialog.findChild(QLineEdit, "enrolPin").setText("654321")
    dialog.submit()
    assert dialog.pin.text() == ""  # the PIN leaves the form at once
    qtbot.waitUntil(lambda: dialog.done_person is not None, timeout=WAIT)
    assert dialog.done_person.name == "Dana Flores"
    assert dialog.done_person.roles == frozenset({Role.KEY_CUSTODIAN})

    qtbot.waitUntil(lambda: page.people.select("Dana Flores"), timeout=WAIT)
    people = on_device(qtbot, app_state, lambda s: app_state.services.people.list_people(s))
    cards = next(c for p, c in people if p.name == "Dana Flores")
    assert [c.status for c in cards] == [Status.ACTIVE]
    assert "Dana Flores is enrolled as key custodian." in page.status.text()


def test_policy_change_under_two_officers(qtbot: Any, app_state: Any, gui_world: GuiWorld) -> None:
    log_on(qtbot, app_state, gui_world, "olivia", "oscar")
    page = open_page(qtbot, app_state)
    policies = page.policies
    page.tabs.setCurrentWidget(policies)
    page.confirm = lambda title, text: True

    policies.set_quorum_text(Action.EXPORT_KEY, "two custodians")
    assert "Cannot read the quorum term 'two custodians'" in policies.meaning(Action.EXPORT_KEY)
    policies.apply()
    assert "Please correct: Export key: Cannot read" in policies.error.text()

    policies.set_quorum_text(Action.EXPORT_KEY, "2 of group custodians A + 1 supervisor")
    assert policies.meaning(Action.EXPORT_KEY) == "2 of group custodians A + 1 supervisor"
    policies.timeout.setValue(600)
    policies.apply()
    qtbot.waitUntil(lambda: "The policy is now version 2." in page.status.text(), timeout=WAIT)

    policy = on_device(qtbot, app_state, lambda s: app_state.services.policies.current(s))
    assert policy.quorum_for(Action.EXPORT_KEY).describe() == (
        "2 of group custodians A + 1 supervisor"
    )
    assert policy.idle_timeout_seconds == 600
    trail = on_device(
        qtbot, app_state, lambda s: app_state.services.audit.search(s, action="policy.change")
    )
    assert {m["name"] for m in trail[-1].body["members"]} == {"Olivia Grant", "Oscar Lindqvist"}

    policies.apply()  # the table shows the policy in force again: nothing to change
    qtbot.waitUntil(lambda: policies.error.text() == "Nothing changed.", timeout=WAIT)


def test_template_errors_are_shown_next_to_their_fields(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    log_on(qtbot, app_state, gui_world, "olivia", "sam")
    page = open_page(qtbot, app_state)
    page.tabs.setCurrentWidget(page.templates)
    dialog = page.templates.open_new()
    dialog.name.setText("Partner ZPK")
    dialog.pattern.setText("ZPK-FIXED")
    dialog._set_combo(dialog.usage, "S0")
    dialog.submit()
    assert "must contain {seq}" in shown_error(dialog, "label_pattern")
    assert shown_error(dialog, "name") == ""

    dialog.pattern.setText("ZPK-{seq:04d}")
    assert dialog.example.text() == "e.g. ZPK-0001"
    dialog.submit()
    assert shown_error(dialog, "label_pattern") == ""
    assert "key usage S0 is for a key pair" in shown_error(dialog, "key_usage")

    dialog._set_combo(dialog.usage, "P0")
    dialog.quorums[Action.GENERATE_KEY].setText("2 of group nobody")
    dialog.submit()  # the form is valid; the service refuses the unknown group

    def refusal() -> str:
        box = dialog.findChild(QMessageBox, "errorBox")
        return str(box.text()) if box is not None else ""

    qtbot.waitUntil(lambda: "names group 'nobody'" in refusal(), timeout=WAIT)
    dialog.findChild(QMessageBox, "errorBox").close()
    assert dialog.isVisible()
    dialog.quorums[Action.GENERATE_KEY].setText("2 key_custodian")
    with qtbot.waitSignal(dialog.accepted, timeout=WAIT):
        dialog.submit()
    qtbot.waitUntil(
        lambda: page.templates.model.row_where(lambda t: t.name == "Partner ZPK") is not None,
        timeout=WAIT,
    )


def test_suspend_and_reinstate_a_person_with_a_reason(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    log_on(qtbot, app_state, gui_world, "olivia", "oscar")
    page = open_page(qtbot, app_state)
    assert page.people.select("Sam Okafor")
    dialog = page.people.ask_status(Status.SUSPENDED)
    dialog._accept()
    assert shown_error(dialog, "reason") == "Say why: the reason is kept in the audit log."
    dialog.reason.setText("on leave")
    dialog._accept()
    qtbot.waitUntil(lambda: "Sam Okafor is now suspended." in page.status.text(), timeout=WAIT)
    qtbot.waitUntil(
        lambda: (
            page.people.select("Sam Okafor") and page.people.selected().status is Status.SUSPENDED
        ),
        timeout=WAIT,
    )
    assert not page.people.status_buttons[Status.SUSPENDED].isEnabled()
    page.people.set_status("Sam Okafor", Status.ACTIVE, "back")
    qtbot.waitUntil(lambda: "Sam Okafor is now active." in page.status.text(), timeout=WAIT)


def test_change_a_group_threshold_and_members(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    log_on(qtbot, app_state, gui_world, "olivia", "oscar")
    page = open_page(qtbot, app_state)
    assert page.groups.model.rowCount() >= 1
    page.groups.table.selectRow(
        page.groups.model.row_where(lambda gm: gm[0].name == "custodians A")
    )
    dialog = page.groups.open_change()
    dialog.set_members(["Cara Mendes"])
    dialog.submit()
    assert "needs at least 2 members; 1 are ticked" in shown_error(dialog, "threshold")
    dialog.set_members(["Cara Mendes", "Carl Novak", "Chen Wei"])
    dialog.threshold.setValue(3)
    with qtbot.waitSignal(dialog.accepted, timeout=WAIT):
        dialog.submit()
    groups = on_device(qtbot, app_state, lambda s: app_state.services.people.list_groups(s))
    group = next(g for g, _ in groups if g.name == "custodians A")
    assert group.threshold == 3
