"""The key inventory: the lazy table model on its own (no devices), then the page on the
real services (SoftHSM2 token, pcscd and virtual PIV cards)."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt

from tests.gui.conftest import GuiWorld, pin
from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.policy import Action
from workstation.gui.inventory import (
    EXPIRES,
    KCV,
    LABEL,
    LOADING,
    STATE,
    InventoryFilter,
    KeyRole,
    KeysPage,
    KeyTableModel,
    SearchMode,
    SortRole,
    load_first,
)
from workstation.services.ports import KeyQuery
from workstation.services.session import Session

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def make_key(n: int, *, state: KeyState = KeyState.ACTIVE, days: int = 365) -> ManagedKey:
    return ManagedKey(
        id=uuid.uuid4().hex,
        label=f"ZMK-{n:06d}",
        template_id="seed-zmk",
        algorithm=KeyAlgorithm.AES_256 if n % 2 else KeyAlgorithm.TDES_2KEY,
        key_usage="K0",
        mode_of_use="B",
        exportability="E",
        kcv=f"{(n * 7919) % 0xFFFFFF:06X}",
        wrapped=b"\x00" * 40,
        public_key=None,
        state=state,
        version=1,
        created_at=NOW,
        activation_date=NOW,
        deactivation_date=NOW + timedelta(days=days + n % 50),
    )


KEYS = [make_key(n) for n in range(1, 1001)]  # in label order, as the repository pages them


class PagedSource:
    """Answers the model's page requests from a list, when the test says so."""

    def __init__(self, model: KeyTableModel, keys: list[ManagedKey]) -> None:
        self.model = model
        self.keys = keys
        self.requests: list[tuple[int, int]] = []
        model.page_requested.connect(lambda offset, limit: self.requests.append((offset, limit)))

    def answer_all(self) -> int:
        answered = 0
        while self.requests:
            offset, limit = self.requests.pop(0)
            self.model.add_page(offset, self.keys[offset : offset + limit])
            answered += 1
        return answered


# --- the model without devices -----------------------------------------------------------


def test_model_with_every_row(qtmodeltester: Any) -> None:
    model = KeyTableModel(now=lambda: NOW)
    model.set_rows(KEYS[:50])
    qtmodeltester.check(model)
    assert model.rowCount() == 50 and model.is_complete
    first = model.index(0, LABEL)
    assert model.data(first) == "ZMK-000001"
    assert model.data(first, KeyRole) is KEYS[0]
    assert model.data(model.index(0, STATE)) == "Active"
    assert "K0" in model.data(model.index(0, 2), Qt.ItemDataRole.ToolTipRole)
    assert model.headerData(KCV, Qt.Orientation.Horizontal) == "KCV"


def test_model_while_pages_load(qtbot: Any, qtmodeltester: Any) -> None:
    model = KeyTableModel(page_size=100, now=lambda: NOW)
    source = PagedSource(model, KEYS)
    model.set_rows(KEYS[:100], total=len(KEYS))
    qtmodeltester.check(model)  # stays connected: checks every change while pages arrive
    assert model.rowCount() == 1000 and not model.is_complete
    assert model.loaded_rows() == 100
    # A row beyond the first page shows that it is loading and asks for its page.
    assert model.data(model.index(999, LABEL)) == LOADING
    assert model.data(model.index(999, LABEL), KeyRole) is None
    qtbot.waitUntil(lambda: bool(source.requests), timeout=2000)
    assert source.requests == [(900, 100)]
    with qtbot.waitSignal(model.dataChanged, timeout=2000):
        source.answer_all()
    assert model.data(model.index(999, LABEL)) == "ZMK-001000"
    assert model.loaded_rows() == 200  # never the whole inventory


def test_model_asks_for_the_newest_pages_first_and_drops_old_wishes(qtbot: Any) -> None:
    model = KeyTableModel(page_size=10, now=lambda: NOW)
    source = PagedSource(model, KEYS)
    model.set_rows(KEYS[:10], total=len(KEYS))
    for row in range(10, 1000, 10):  # a fast drag of the scroll bar over 99 pages
        model.key_at(row)
    qtbot.waitUntil(lambda: bool(source.requests), timeout=2000)
    assert source.requests == [(990, 10)]  # the page shown last, one at a time
    answered = 0
    for _ in range(20):
        answered += source.answer_all()
        if not source.requests:
            qtbot.wait(10)  # let the deferred request timer run (not a wait for the result)
        if not source.requests:
            break
    assert answered <= 6  # pages scrolled past are not fetched


def test_windowed_result_sorts_by_label_only(qtbot: Any) -> None:
    model = KeyTableModel(page_size=100, now=lambda: NOW)
    source = PagedSource(model, KEYS)
    model.set_rows(KEYS[:100], total=len(KEYS))
    refused: list[str] = []
    model.sort_refused.connect(refused.append)
    model.sort(KCV, Qt.SortOrder.AscendingOrder)
    assert refused and "5,000 keys or fewer" in refused[0]
    assert model.sort_column == LABEL
    model.sort(LABEL, Qt.SortOrder.DescendingOrder)
    assert model.data(model.index(0, LABEL)) == LOADING  # the last page, read backwards
    qtbot.waitUntil(lambda: bool(source.requests), timeout=2000)
    assert source.requests == [(900, 100)]
    source.answer_all()
    assert model.data(model.index(0, LABEL)) == "ZMK-001000"
    assert model.data(model.index(999, LABEL)) == "ZMK-000001"


def test_complete_result_sorts_by_any_column(qtmodeltester: Any) -> None:
    model = KeyTableModel(now=lambda: NOW)
    rows = [make_key(n, state=s) for n, s in enumerate(KeyState, start=1)]
    model.set_rows(list(reversed(rows)))
    qtmodeltester.check(model)
    assert model.data(model.index(0, LABEL)) == "ZMK-000001"  # label order by default
    model.sort(STATE, Qt.SortOrder.DescendingOrder)
    assert model.data(model.index(0, STATE)) == "Destroyed"
    model.sort(EXPIRES, Qt.SortOrder.AscendingOrder)
    values = [model.data(model.index(r, EXPIRES), SortRole) for r in range(model.rowCount())]
    assert values == sorted(values)


def test_keep_view_replaces_rows_and_keeps_the_selection() -> None:
    model = KeyTableModel(now=lambda: NOW)
    model.set_rows(KEYS[:20])
    model.sort(STATE, Qt.SortOrder.AscendingOrder)
    from PySide6.QtCore import QPersistentModelIndex

    held = QPersistentModelIndex(model.index(5, LABEL))
    changed = list(KEYS[:20])
    changed[5] = replace(changed[5], state=KeyState.SUSPENDED)
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    model.set_rows(changed, keep_view=True)
    assert not resets
    assert model.data(model.index(held.row(), LABEL)) == KEYS[5].label
    assert model.data(model.index(held.row(), STATE)) == "Suspended"


def test_filter_queries_and_settings(tmp_path: Any) -> None:
    f = InventoryFilter(
        states=(KeyState.ACTIVE, KeyState.SUSPENDED),
        usage="K0",
        algorithm=KeyAlgorithm.AES_256,
        expiring_days=30,
        search="1a2b",
    )
    searches = f.searches(NOW)
    assert [q.label for _, q in searches] == ["1a2b", None]
    assert [q.kcv for _, q in searches] == [None, "1A2B"]
    assert searches[0][1].expiring_before == NOW + timedelta(days=30)
    assert len(replace(f, search="ZMK-").searches(NOW)) == 1
    assert replace(f, search_mode=SearchMode.KCV).searches(NOW)[0][1].kcv == "1A2B"
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    f.save(settings)
    assert InventoryFilter.load(settings) == f
    assert InventoryFilter.load(QSettings(str(tmp_path / "new.ini"), QSettings.Format.IniFormat))
    assert InventoryFilter().is_empty


def test_label_or_kcv_search_combines_both_when_few() -> None:
    by_kcv = {k.kcv[:3]: k for k in KEYS}
    some = next(iter(by_kcv))

    def query(q: KeyQuery) -> tuple[list[ManagedKey], int]:
        found = [
            k
            for k in KEYS
            if (q.label is None or q.label.lower() in k.label.lower())
            and (q.kcv is None or k.kcv.startswith(q.kcv))
        ]
        limit = len(found) if q.limit is None else q.limit
        return found[q.offset : q.offset + limit], len(found)

    loaded = load_first(query, InventoryFilter(search=some).searches(NOW), 100)
    expected = {k.id for k in KEYS if some in k.label or k.kcv.startswith(some)}
    assert {k.id for k in loaded.keys} == expected and loaded.total == len(expected)
    only_label = load_first(query, InventoryFilter(search="ZMK-0001").searches(NOW), 100)
    assert only_label.total == 100 and only_label.matched.startswith("label contains")


# --- the page on the real services -------------------------------------------------------


def log_on(qtbot: Any, app_state: Any, gui_world: GuiWorld, *people: str) -> None:
    for index, who in enumerate(people):
        reader = gui_world.insert(who, index)
        qtbot.waitUntil(
            lambda r=reader: any(s.name == r and s.card_present for s in app_state.readers),
            timeout=10_000,
        )
        with qtbot.waitSignal(app_state.session_changed, timeout=15_000):
            app_state.log_on(reader, pin())
    assert len(app_state.members) == len(people)


class KeysMade:
    """Keys generated through the services, with a session of two custodians."""

    def __init__(self, world: GuiWorld) -> None:
        self.world = world
        services = world.services
        self.session: Session = services.logon.open_session()
        services.logon.log_on(self.session, world.insert("cara", 4), pin())
        services.logon.log_on(self.session, world.insert("carl", 5), pin())
        self.zmk = services.keys.generate(self.session, "seed-zmk", count=3).keys
        self.pek = services.keys.generate(self.session, "seed-pek", count=2).keys
        self.bdk = services.keys.generate(self.session, "seed-bdk-tdes", count=1).keys

    def close(self) -> None:
        self.session.close()
        self.world.remove(4)
        self.world.remove(5)


@pytest.fixture(scope="module")
def made(gui_world: GuiWorld) -> Iterator[KeysMade]:
    keys = KeysMade(gui_world)
    keys.close()
    yield keys


@pytest.fixture
def page(qtbot: Any, app_state: Any, gui_world: GuiWorld, made: KeysMade) -> KeysPage:
    log_on(qtbot, app_state, gui_world, "cara", "sam")
    keys_page = KeysPage(app_state)
    qtbot.addWidget(keys_page)
    keys_page.resize(1200, 760)
    keys_page.show()
    qtbot.waitUntil(lambda: keys_page.model.total > 0, timeout=15_000)
    return keys_page


def labels(page: KeysPage) -> list[str]:
    return [page.model.data(page.model.index(r, LABEL)) for r in range(page.model.rowCount())]


def keys_shown(page: KeysPage) -> list[ManagedKey]:
    keys = [page.model.key_at(r) for r in range(page.model.rowCount())]
    assert all(k is not None for k in keys)  # small results are read whole
    return [k for k in keys if k is not None]


def newest(log: Any) -> str:
    """The first (newest) entry of a history or audit log, as plain text."""
    row = re.search(r"<tr>(.*?)</tr>", log.text())
    assert row is not None
    text = html.unescape(re.sub(r"<[^>]+>", " ", row[1].replace("<br>", " | ")))
    return " ".join(text.split())


def show_detail(qtbot: Any, page: KeysPage, key_id: str) -> None:
    with qtbot.waitSignal(page.detail.shown, timeout=15_000, check_params_cb=key_id.__eq__):
        assert page.select_key(key_id)


@pytest.mark.hsm
@pytest.mark.pcsc
def test_filters_narrow_the_rows(qtbot: Any, page: KeysPage, made: KeysMade) -> None:
    total = page.model.total
    assert total >= 6
    zmk_labels = {k.label for k in made.zmk}
    pek_labels = {k.label for k in made.pek}
    # usage: PIN encryption keys only
    with qtbot.waitSignal(page.rows_loaded, timeout=15_000):
        page.usage.setCurrentIndex(page.usage.findData("P0"))
    shown = keys_shown(page)
    assert pek_labels <= {k.label for k in shown}
    assert {k.key_usage for k in shown} == {"P0"}
    with qtbot.waitSignal(page.rows_loaded, timeout=15_000):
        page.usage.setCurrentIndex(0)
    # state, several at once
    with qtbot.waitSignal(page.rows_loaded, timeout=15_000):
        page.state_actions[KeyState.SUSPENDED].setChecked(True)
    assert {k.state for k in keys_shown(page)} <= {KeyState.SUSPENDED}
    with qtbot.waitSignal(page.rows_loaded, timeout=15_000):
        page.state_actions[KeyState.PRE_ACTIVATION].setChecked(True)
    assert zmk_labels <= set(labels(page))
    assert {k.state for k in keys_shown(page)} <= {KeyState.SUSPENDED, KeyState.PRE_ACTIVATION}
    assert "Pre-activation" in page.states_button.text()
    with qtbot.waitSignal(page.rows_loaded, timeout=15_000):
        page._clear_states()
    # search by KCV prefix
    target = made.zmk[1]
    prefix = target.kcv[:4]
    with qtbot.waitSignal(page.rows_loaded, timeout=15_000):
        page.search.setText(prefix)
        page.search.returnPressed.emit()
    shown = keys_shown(page)
    assert target.label in {k.label for k in shown}
    assert all(k.kcv.startswith(prefix) or prefix.lower() in k.label.lower() for k in shown)
    assert page.model.total < total
    # expiring: PEKs live a year, ZMKs two: "within 400 days" shows the PEKs, not the ZMKs
    with qtbot.waitSignal(page.rows_loaded, timeout=15_000):
        page.search.clear()
        page.search.returnPressed.emit()
    page.expiring_days.setValue(400)
    with qtbot.waitSignal(page.rows_loaded, timeout=15_000):
        page.expiring.setChecked(True)
    assert pek_labels <= set(labels(page))
    assert not zmk_labels & set(labels(page))
    assert "expiring within 400 days" in page.status.text()
    # the last filters are remembered
    again = KeysPage(page.state)
    qtbot.addWidget(again)
    assert again.current_filter().expiring_days == 400
    with qtbot.waitSignal(page.rows_loaded, timeout=15_000):
        page.clear_filters()
    assert page.model.total == total


@pytest.mark.hsm
@pytest.mark.pcsc
def test_action_buttons_follow_availability(qtbot: Any, page: KeysPage, made: KeysMade) -> None:
    key = made.bdk[0]
    show_detail(qtbot, page, key.id)
    detail = page.detail
    buttons = detail.action_buttons
    assert buttons[Action.ACTIVATE_KEY].isEnabled()
    assert buttons[Action.ROTATE_KEY].isEnabled()
    assert not buttons[Action.SUSPEND_KEY].isEnabled()
    assert "Not possible: the key is pre-activation." in buttons[Action.SUSPEND_KEY].toolTip()
    assert not buttons[Action.REINSTATE_KEY].isEnabled()
    assert not buttons[Action.DEACTIVATE_KEY].isEnabled()
    assert "1 key custodian + 1 supervisor" in detail.quorum_notes[Action.ACTIVATE_KEY].text()
    # rotation needs two key custodians: only Cara is here
    assert "still to insert a card: 1 key custodian" in buttons[Action.ROTATE_KEY].toolTip()
    assert detail.integrity.text() == "✔ Sealed record verified by the HSM"
    assert [e.action for e in detail.history_events] == [Action.GENERATE_KEY]
    assert "Generate key · Pre-activation" in newest(detail.history)
    assert "by Cara Mendes, Carl Novak" in newest(detail.history)
    assert "key.generate" in newest(detail.audit)
    assert detail.fields["kcv"].text() == key.kcv


@pytest.mark.hsm
@pytest.mark.pcsc
def test_activation_through_the_page(qtbot: Any, page: KeysPage, made: KeysMade) -> None:
    key = made.zmk[0]
    show_detail(qtbot, page, key.id)
    detail = page.detail
    assert detail.action_buttons[Action.ACTIVATE_KEY].isEnabled()
    with qtbot.waitSignal(page.rows_loaded, timeout=20_000):
        qtbot.mouseClick(detail.action_buttons[Action.ACTIVATE_KEY], Qt.MouseButton.LeftButton)
    row = page.model.row_of(key.id)
    assert row is not None
    assert page.model.data(page.model.index(row, STATE)) == "Active"
    qtbot.waitUntil(
        lambda: detail.current is not None and detail.current.key.state is KeyState.ACTIVE,
        timeout=15_000,
    )
    assert "Active" in detail.fields["state"].text()
    assert not detail.action_buttons[Action.ACTIVATE_KEY].isEnabled()
    assert detail.action_buttons[Action.SUSPEND_KEY].isEnabled()
    latest = newest(detail.history)
    assert "Activate key · Pre-activation → Active" in latest
    assert "Cara Mendes" in latest and "Sam Okafor" in latest
    assert "key.activate" in newest(detail.audit)


@pytest.mark.hsm
@pytest.mark.pcsc
def test_rotation_links_predecessor_and_successor(
    qtbot: Any, page: KeysPage, made: KeysMade, gui_world: GuiWorld
) -> None:
    services = gui_world.services
    session = services.logon.open_session()
    try:
        services.logon.log_on(session, gui_world.insert("chen", 4), pin())
        services.logon.log_on(session, gui_world.insert("carl", 5), pin())
        old, new = services.keys.rotate(session, made.pek[0].id, reason="annual rotation")
    finally:
        session.close()
        gui_world.remove(4)
        gui_world.remove(5)
    with qtbot.waitSignal(page.rows_loaded, timeout=15_000):
        page.state.data_changed.emit("keys")
    show_detail(qtbot, page, old.id)
    detail = page.detail
    assert detail.successor.text() == new.label and detail.successor.isEnabled()
    assert detail.predecessor.text() == "none" and not detail.predecessor.isEnabled()
    assert "Rotate key" in newest(detail.history)
    assert f"successor {new.label}" in newest(detail.history)
    with qtbot.waitSignal(detail.shown, timeout=15_000, check_params_cb=new.id.__eq__):
        qtbot.mouseClick(detail.successor, Qt.MouseButton.LeftButton)
    assert detail.predecessor.text() == old.label
    selected = page.model.key_at(page.table.currentIndex().row())
    assert selected is not None and selected.id == new.id
    with qtbot.waitSignal(detail.shown, timeout=15_000, check_params_cb=old.id.__eq__):
        qtbot.mouseClick(detail.predecessor, Qt.MouseButton.LeftButton)


@pytest.mark.hsm
@pytest.mark.pcsc
def test_wizard_buttons_open_the_wizards(qtbot: Any, page: KeysPage, made: KeysMade) -> None:
    from PySide6.QtWidgets import QWizard

    def opened(name: str) -> QWizard:
        found: list[QWizard] = []

        def check() -> bool:
            found[:] = [w for w in page.findChildren(QWizard, name) if w.isVisible()]
            return bool(found)

        qtbot.waitUntil(check, timeout=5000)
        return found[0]

    show_detail(qtbot, page, made.bdk[0].id)
    qtbot.mouseClick(page.detail.action_buttons[Action.COMPROMISE_KEY], Qt.MouseButton.LeftButton)
    wizard = opened("stateChangeWizard")
    wizard.reject()
    qtbot.mouseClick(page.detail.action_buttons[Action.ROTATE_KEY], Qt.MouseButton.LeftButton)
    wizard = opened("rotateWizard")
    wizard.reject()
    qtbot.mouseClick(page.generate_button, Qt.MouseButton.LeftButton)
    wizard = opened("generateKeyWizard")
    wizard.reject()


def test_none_keeps_its_references() -> None:
    # PySide6 6.12 (abi3) drops a reference to None per None-returning override called
    # from C++; importing the inventory gives None a count no session uses up.
    import sys

    import workstation.gui.inventory  # noqa: F401

    if sys.version_info < (3, 12):
        assert sys.getrefcount(None) > 1 << 40


@pytest.mark.hsm
@pytest.mark.pcsc
def test_large_result_is_paged_through_the_services(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, made: KeysMade, monkeypatch: Any
) -> None:
    import workstation.gui.inventory as inventory

    # Pages of two keys, and "large" from four: the six keys are read page by page.
    monkeypatch.setattr(inventory, "LOCAL_SORT_LIMIT", 3)
    log_on(qtbot, app_state, gui_world, "cara")
    small = KeysPage(app_state, page_size=2)
    qtbot.addWidget(small)
    small.resize(1000, 700)
    with qtbot.waitSignal(small.rows_loaded, timeout=15_000):
        small.show()
    model = small.model
    assert not model.is_complete and model.total >= 6
    assert model.loaded_rows() == 2
    last = model.total - 1
    with qtbot.waitSignal(model.dataChanged, timeout=15_000):
        small.table.scrollToBottom()
        small.table.viewport().repaint()
    qtbot.waitUntil(lambda: model.key_at(last) is not None, timeout=15_000)
    everything, _ = gui_world.services.keys.query(app_state.session, KeyQuery())
    assert model.data(model.index(last, LABEL)) == everything[-1].label
    assert model.loaded_rows() < model.total
    # Sorting by another column than the label is refused, with the reason shown.
    header = small.table.horizontalHeader()
    header.setSortIndicator(KCV, Qt.SortOrder.AscendingOrder)  # as a click on "KCV" does
    assert "narrow the filters" in small.status.text()
    qtbot.waitUntil(lambda: header.sortIndicatorSection() == LABEL, timeout=5000)
    assert model.sort_column == LABEL


@pytest.mark.hsm
@pytest.mark.pcsc
def test_keyboard_moves_through_the_keys(qtbot: Any, page: KeysPage, made: KeysMade) -> None:
    show_detail(qtbot, page, made.zmk[0].id)
    row = page.table.currentIndex().row()
    below = page.model.key_at(row + 1)
    assert below is not None
    page.table.setFocus()
    with qtbot.waitSignal(page.detail.shown, timeout=15_000, check_params_cb=below.id.__eq__):
        qtbot.keyClick(page.table, Qt.Key.Key_Down)
    assert page.detail.title.text() == below.label
    qtbot.keyClick(page, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(page.search.hasFocus, timeout=5000)
