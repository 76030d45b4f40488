"""The dashboard: counts by state and usage and the expiry timeline, from the real
services (SoftHSM2 token, pcscd and virtual PIV cards)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from PySide6.QtCore import QPoint

from tests.gui.conftest import GuiWorld, pin
from workstation.domain.keys import KeyState
from workstation.gui.dashboard import (
    BUCKET_EDGES,
    DashboardFigures,
    DashboardPage,
    ExpiryBucket,
    ExpiryTimeline,
    collect_figures,
)
from workstation.services.ports import KeyQuery

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_collect_figures_from_counts() -> None:
    ends = [NOW - timedelta(days=3), NOW + timedelta(days=10), NOW + timedelta(days=200)]
    asked: list[KeyQuery] = []

    def count(q: KeyQuery) -> int:
        asked.append(q)
        if q.expiring_before is not None:
            assert set(q.states) == {
                KeyState.PRE_ACTIVATION,
                KeyState.ACTIVE,
                KeyState.SUSPENDED,
            }
            return sum(1 for end in ends if end < q.expiring_before)
        if q.states:
            return 3 if q.states == (KeyState.ACTIVE,) else 0
        if q.key_usage is not None:
            return 3 if q.key_usage == "P0" else 0
        return 3

    figures = collect_figures(count, NOW, ["P0", "K0"])
    assert figures.total == 3 and figures.by_state[KeyState.ACTIVE] == 3
    assert figures.by_usage == [("P0", 3)]
    assert not any(q.key_usage == "K0" for q in asked)  # every key counted: stop asking
    assert figures.overdue == 1
    assert figures.due_within == {30: 1, 90: 1, 365: 2}
    assert [b.count for b in figures.buckets if b.count] == [1, 1]
    assert figures.buckets[0].window == 30 and figures.buckets[-1].window == 365


def test_timeline_paints_and_explains_bars(qtbot: Any) -> None:
    chart = ExpiryTimeline()
    qtbot.addWidget(chart)
    chart.resize(700, 320)
    buckets = [ExpiryBucket(a, b, i) for i, (a, b) in enumerate(pairwise(BUCKET_EDGES))]
    chart.set_figures(DashboardFigures(NOW, 80, {}, [], 4, buckets, {30: 0, 90: 3, 365: 66}))
    chart.show()
    image = chart.grab()
    assert not image.isNull()
    assert "4 keys overdue" in chart.summary()
    assert "66 keys due within 365 days" in chart.summary()
    assert "Due within 30 days: 0" in [text for _, text in chart.legend_entries()]
    tips = [tip for _, tip in chart._bars]
    assert len(tips) == 13 and "past the end of their crypto-period" in tips[0]
    first_bar = chart._bars[0][0].center().toPoint()
    assert chart.bar_tip(first_bar) == tips[0]
    assert chart.bar_tip(QPoint(1, 1)) == ""


@pytest.mark.hsm
@pytest.mark.pcsc
def test_dashboard_counts_match_the_generated_keys(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    services = gui_world.services
    session = services.logon.open_session()
    try:
        services.logon.log_on(session, gui_world.insert("cara", 4), pin())
        services.logon.log_on(session, gui_world.insert("carl", 5), pin())
        zmk = services.keys.generate(session, "seed-zmk", count=3).keys  # 2-year period
        services.keys.generate(session, "seed-pek", count=2)  # 1-year period
        services.keys.generate(session, "seed-cvk", count=1)
    finally:
        session.close()
        gui_world.remove(4)
        gui_world.remove(5)

    reader = gui_world.insert("sam", 0)
    qtbot.waitUntil(lambda: any(r.card_present for r in app_state.readers), timeout=10_000)
    page = DashboardPage(app_state)
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    with qtbot.waitSignal(page.refreshed, timeout=20_000):
        app_state.log_on(reader, pin())
    f = page.figures
    assert f is not None
    assert f.total == 6
    assert f.by_state[KeyState.PRE_ACTIVATION] == 6 and f.by_state[KeyState.ACTIVE] == 0
    assert dict(f.by_usage) == {"K0": 3, "P0": 2, "C0": 1}
    assert f.overdue == 0
    assert f.due_within == {30: 0, 90: 0, 365: 2}  # the PIN keys
    # The "Due soon" panel: nothing within the alert windows (90, 30, 7 days) yet.
    assert f.due is not None and f.due.total == 0 and f.due_error == ""
    assert "<b>0</b> overdue" in page.due_panel.counts.text()
    assert "Nothing falls due within 90 days" in page.due_panel.items.text()
    assert page.total_tile.number.text() == "6"
    assert page.state_tiles[KeyState.PRE_ACTIVATION].number.text() == "6"
    assert page.usage_table.rowCount() == 3
    first_row = [page.usage_table.item(0, c) for c in range(3)]
    assert [i.text() if i else "" for i in first_row] == ["K0", "key encryption or wrapping", "3"]

    # A change (a rotation: one more key) refreshes the figures.
    session = services.logon.open_session()
    try:
        services.logon.log_on(session, gui_world.insert("chen", 4), pin())
        services.logon.log_on(session, gui_world.insert("carl", 5), pin())
        services.keys.rotate(session, zmk[0].id)
    finally:
        session.close()
        gui_world.remove(4)
        gui_world.remove(5)
    with qtbot.waitSignal(page.refreshed, timeout=20_000):
        app_state.data_changed.emit("keys")
    assert page.figures is not None and page.figures.total == 7
    assert page.state_tiles[KeyState.PRE_ACTIVATION].number.text() == "7"
