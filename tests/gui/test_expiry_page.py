"""The Due dates page and the dashboard's "Due soon" panel on the real services (SoftHSM2,
pcscd with virtual PIV cards, SQLite) with alerts sent to an SMTP server on loopback: the
task list marked and filtered, owners and windows changed through their dialogs (a bad
address refused beside its field), alerts sent now and shown as last alerted, the calendar
exported to a new file, the panel's counts, and the tab in the main window; the table
model checked by qtmodeltester."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QWidget

from tests.gui.conftest import GuiWorld, pin
from tests.gui.helpers import WAIT, log_on
from tests.smtp_server import LoopbackSmtp
from workstation.adapters.smtp_mail import SmtpMailer
from workstation.domain.expiry import DueItem
from workstation.domain.icalendar import unfold
from workstation.domain.monitoring import AlertWindows, DueTask
from workstation.flows.expiry import Severity, summarise
from workstation.gui.dashboard import DashboardPage, DueSoonPanel
from workstation.gui.expiry_page import SEVERITY_COLOURS, DueTaskModel, ExpiryPage

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
OPS = "ops@bank.example"
FG = Qt.ItemDataRole.ForegroundRole


def task(days: int, *, owners: tuple[str, ...] = (OPS,)) -> DueTask:
    item = DueItem(
        "certificate" if days % 2 else "key",
        f"r{days}",
        f"ITEM-{days}",
        "crypto-period ends",
        NOW + timedelta(days=days),
    )
    return DueTask(item, days, AlertWindows().band(days), days <= 0, owners)


# --- without services ----------------------------------------------------------------------


def test_task_model_named_columns_and_marks(qtmodeltester: Any) -> None:
    from workstation.flows.expiry import severity

    model = DueTaskModel()
    tasks = [task(-2), task(5, owners=()), task(40)]
    model.set_tasks(tasks, lambda t: severity(t, AlertWindows()))
    qtmodeltester.check(model)
    row = [model.index(0, c).data() for c in range(model.columnCount())]
    assert row == [
        "2026-11-22 09:00",
        "-2",
        "overdue by 2 days",
        "key",
        "Crypto-period ends: ITEM--2",
        OPS,
        "never",
    ]
    assert model.severity_of(0) is Severity.OVERDUE and model.severity_of(1) is Severity.URGENT
    assert model.index(0, 0).data(FG) == QColor(SEVERITY_COLOURS[Severity.OVERDUE])
    assert model.index(1, 0).data(FG) == QColor(SEVERITY_COLOURS[Severity.URGENT])
    assert model.index(2, 0).data(FG) is None
    assert model.index(1, DueTaskModel.OWNERS).data() == "(none: set owners)"


def test_due_soon_panel_counts_and_colours(qtbot: Any) -> None:
    panel = DueSoonPanel()
    qtbot.addWidget(panel)
    panel.set_summary(None, "The stored alert windows were changed outside the workstation.")
    assert panel.counts.text().startswith("The stored alert windows")
    summary = summarise([task(-1), task(3), task(6), task(20), task(70), task(200)], AlertWindows())
    panel.set_summary(summary)
    counts = panel.counts.text()
    assert "<b>1</b> overdue" in counts and SEVERITY_COLOURS[Severity.OVERDUE] in counts
    assert "<b>2</b> within 7 days" in counts and SEVERITY_COLOURS[Severity.URGENT] in counts
    assert "<b>1</b> 8–30 days" in counts and "<b>1</b> 31–90 days" in counts
    assert panel.lines()[0] == "2026-11-23 · overdue by 1 day · crypto-period ends: ITEM--1"
    assert len(panel.lines()) == 5  # the next five; the one 200 days away is not among them
    panel.set_summary(summarise([], AlertWindows()))
    assert "Nothing falls due within 90 days" in panel.items.text()
    with qtbot.waitSignal(panel.open_requested, timeout=1000):
        panel.open_button.click()


# --- on the real services ------------------------------------------------------------------


@pytest.fixture
def relay(gui_world: GuiWorld) -> Iterator[LoopbackSmtp]:
    """A loopback SMTP server as the workstation's relay for one test."""
    with LoopbackSmtp() as server:
        ctx = gui_world.services.ctx
        ctx.mailer = SmtpMailer(
            "127.0.0.1", server.port, sender="kcw@bank.example", security="none", timeout=10
        )
        try:
            yield server
        finally:
            ctx.mailer = None


def short_lived_keys(world: GuiWorld) -> list[str]:
    """Two keys whose crypto-periods end in 3 and 20 days (templates made for it)."""
    services = world.services
    labels: list[str] = []
    session = services.logon.open_session()
    try:
        services.logon.log_on(session, world.insert("olivia", 4), pin())
        services.logon.log_on(session, world.insert("sam", 5), pin())
        known = {t.name for t in services.templates.list(session, include_retired=True)}
        for days in (3, 20):
            name = f"Short {days}-day PEK"
            if name not in known:  # the module's world keeps them from an earlier test
                services.templates.create(
                    session,
                    name=name,
                    algorithm="AES-128",
                    key_usage="P0",
                    mode_of_use="E",
                    exportability="E",
                    crypto_period_days=days,
                    label_pattern=f"SHORT{days}-{{seq:03d}}",
                )
        session.close()
        world.remove(4)
        world.remove(5)
        session = services.logon.open_session()
        services.logon.log_on(session, world.insert("cara", 4), pin())
        services.logon.log_on(session, world.insert("carl", 5), pin())
        for days in (3, 20):
            labels.append(services.keys.generate(session, f"Short {days}-day PEK").keys[0].label)
    finally:
        session.close()
        world.remove(4)
        world.remove(5)
    return labels


@pytest.fixture
def page(qtbot: Any, app_state: Any) -> ExpiryPage:
    widget = ExpiryPage(app_state)
    qtbot.addWidget(widget)
    widget.resize(1200, 600)
    widget.show()
    return widget


def logged_on(qtbot: Any, page: ExpiryPage, app_state: Any, world: GuiWorld, *who: str) -> None:
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        log_on(qtbot, app_state, world, *who)


def error_of(dialog: QWidget, field: str) -> str:
    label = dialog.findChild(QLabel, f"error_{field}")
    assert label is not None, field
    return str(label.text()) if label.isVisibleTo(dialog) else ""


def test_the_task_list_owners_windows_alerts_and_calendar(
    qtbot: Any,
    page: ExpiryPage,
    app_state: Any,
    gui_world: GuiWorld,
    relay: LoopbackSmtp,
    tmp_path: Path,
) -> None:
    assert page.status.text() == "Log on to see what falls due."
    assert not page.send_button.isEnabled()
    short, longer = short_lived_keys(gui_world)
    logged_on(qtbot, page, app_state, gui_world, "olivia")
    assert page.send_button.isEnabled() and page.owners_button.isEnabled()
    labels = [page.model.index(r, DueTaskModel.LABEL).data() for r in range(page.model.rowCount())]
    assert f"Crypto-period ends: {short}" in labels and f"Crypto-period ends: {longer}" in labels
    row = labels.index(f"Crypto-period ends: {short}")
    assert page.model.severity_of(row) is Severity.URGENT
    assert page.model.index(row, DueTaskModel.STATE).data() == "within 7 days"
    assert "within 7 days" in page.summary.text() and "without owners" in page.summary.text()

    # Owners: a bad address is refused beside its field; a good one is saved.
    dialog = page.edit_owners()
    dialog.emails.setPlainText("ops@bank")
    dialog.buttons.accepted.emit()
    assert "the domain after @" in error_of(dialog, "emails") and dialog.isVisible()
    dialog.emails.setPlainText(OPS)
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        with qtbot.waitSignal(dialog.finished, timeout=WAIT):
            dialog.buttons.accepted.emit()
    assert page.status.text() == f"Alert owners of default: {OPS}."
    owners = {page.model.index(r, DueTaskModel.OWNERS).data() for r in range(page.model.rowCount())}
    assert owners == {OPS}

    # Windows.
    dialog = page.edit_windows()
    assert dialog.windows.text() == "90,30,7"
    dialog.windows.setText("30,30")
    dialog.buttons.accepted.emit()
    assert error_of(dialog, "windows") == "Each alert window is given once."
    dialog.windows.setText("60, 14, 3")
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        with qtbot.waitSignal(dialog.finished, timeout=WAIT):
            dialog.buttons.accepted.emit()
    assert page.status.text() == "Alert windows: 60,14,3 days, and overdue."
    page.filter.setCurrentIndex(page.filter.findData("3"))
    assert page.model.rowCount() >= 1
    assert all(
        int(page.model.index(r, DueTaskModel.LEFT).data()) <= 3
        for r in range(page.model.rowCount())
    )
    page.filter.setCurrentIndex(0)

    # Send alerts now: one message to the owner, then shown as last alerted.
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        page.send_button.click()
    assert page.status.text().startswith(f"1 message sent ({OPS})")
    [message] = relay.take()
    assert message.rcpt_tos == (OPS,) and short in message.body and longer in message.body
    last = [page.model.index(r, DueTaskModel.LAST).data() for r in range(page.model.rowCount())]
    assert "never" not in last
    picture = page.grab()
    assert not picture.isNull() and picture.save(str(tmp_path / "due-dates.png"))

    # The calendar, to a new file.
    target = tmp_path / "due.ics"
    page.export_calendar(str(target))
    qtbot.waitUntil(lambda: "written to" in page.status.text(), timeout=WAIT)
    lines = unfold(target.read_bytes().decode())
    assert f"SUMMARY:Crypto-period ends: {short}" in lines
    page.export_calendar(str(target))
    assert "exists; choose a new file name" in page.status.text()

    # Put the windows back for the other tests of the module.
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        page.change(
            title="windows",
            call=lambda s: app_state.services.expiry.set_windows(s, "90,30,7"),
            parent=page,
            on_done=lambda _: None,
        )


def test_dashboard_due_soon_panel_on_the_real_services(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    short, _ = short_lived_keys(gui_world)
    dashboard = DashboardPage(app_state)
    qtbot.addWidget(dashboard)
    dashboard.resize(1200, 700)
    dashboard.show()
    with qtbot.waitSignal(dashboard.refreshed, timeout=WAIT):
        log_on(qtbot, app_state, gui_world, "sam")
    figures = dashboard.figures
    assert figures is not None and figures.due is not None and figures.due_error == ""
    within_7 = dict(figures.due.by_window)[7]
    assert within_7 >= 1
    assert f"<b>{within_7}</b> within 7 days" in dashboard.due_panel.counts.text()
    assert any(short in line for line in dashboard.due_panel.lines())


def test_the_main_window_has_the_due_dates_tab(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    from workstation.gui.main_window import MainWindow

    window = MainWindow(app_state)
    qtbot.addWidget(window)
    assert isinstance(window.expiry, ExpiryPage)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert "Due d&ates" in titles
    keys = [t[t.index("&") + 1].lower() for t in titles if "&" in t]
    assert keys.count("a") == 1
    dashboard = window.dashboard
    assert isinstance(dashboard, DashboardPage)
    dashboard.due_panel.open_button.click()
    assert window.tabs.currentWidget() is window.expiry
