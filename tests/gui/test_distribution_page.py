"""The Distribution page on the real services (SoftHSM2, pcscd with virtual PIV cards,
SQLite) with key stores in memory that really unwrap what they receive (MemoryFleet):
the key stores table and its details, a key store added through the form (a bad field
refused beside it), Check all with one key store down (UNREACHABLE in red), a key pushed
to three key stores with one down (the co-sign dialog for the missing supervisor, the run
view's per-key-store results, the failed one red, Retry failed once it is back), Stop and
Resume from the unfinished-jobs banner, a template rotated and its successor pushed where
the old key was held, and the tab in the main window. The table models are checked by
qtmodeltester without services."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QWidget

from tests.fakes_keystores import MemoryFleet, MemoryTarget
from tests.gui.conftest import CAST, GuiWorld, pin
from tests.gui.helpers import WAIT, log_on, on_device
from tests.gui.test_logon import type_pin, wait_for_card
from tests.unit.test_distribution_flows import ATM_1, ATM_2, HOST, report
from workstation.domain.distribution import DeliveryState, JobState
from workstation.domain.keys import ManagedKey
from workstation.domain.policy import Action
from workstation.gui.cosign import CoSignDialog
from workstation.gui.distribution_page import (
    BAD_TEXT,
    DeliveryModel,
    DistributionPage,
    JobModel,
    KeyStoreModel,
)
from workstation.gui.distribution_wizards import (
    JobRunView,
    KeyStoreDialog,
    PushWizard,
    RotateAllWizard,
    set_checked,
)
from workstation.services.distribution import JobReport

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

FG = Qt.ItemDataRole.ForegroundRole


# --- the models, without services -------------------------------------------------------------


def test_models_columns_and_colours(qtmodeltester: Any) -> None:
    stores = KeyStoreModel()
    stores.set_rows([ATM_1, ATM_2, HOST])
    qtmodeltester.check(stores)
    assert [stores.index(r, KeyStoreModel.STATUS).data() for r in range(3)] == [
        "reachable",
        "UNREACHABLE",
        "not asked",
    ]
    assert stores.index(1, KeyStoreModel.STATUS).data(FG) == BAD_TEXT
    assert stores.index(0, KeyStoreModel.STATUS).data(FG) is None
    assert "connection refused" in stores.index(1, KeyStoreModel.STATUS).data(
        Qt.ItemDataRole.ToolTipRole
    )
    jobs = JobModel()
    failed = report()
    jobs.set_rows([failed])
    qtmodeltester.check(jobs)
    assert jobs.index(0, JobModel.STATE).data() == "failed"
    assert jobs.index(0, JobModel.STATE).data(FG) == BAD_TEXT
    assert jobs.index(0, JobModel.PROGRESS).data() == "1 of 3 done, 1 failed, 1 to try again"
    deliveries = DeliveryModel()
    deliveries.set_rows(failed.deliveries)
    qtmodeltester.check(deliveries)
    assert deliveries.index(1, DeliveryModel.TARGET).data(FG) == BAD_TEXT
    assert deliveries.index(0, DeliveryModel.TARGET).data(FG) is None


# --- on the real services ----------------------------------------------------------------------


@dataclass
class Stores:
    fleet: MemoryFleet
    keks: dict[str, ManagedKey]  # by key store name
    pek: ManagedKey  # pushed to three key stores
    pek_again: ManagedKey  # pushed, stopped and resumed
    mac: ManagedKey  # rotated as its template

    def target(self, name: str) -> MemoryTarget:
        return next(t for t in self.fleet.targets.values() if t.name == name)


LOCATIONS = {"atm-01": "10.0.0.1:7443", "atm-02": "10.0.0.2:7443", "host-01": "10.0.1.1:7443"}
TAGS = {"atm-01": ["atm"], "atm-02": ["atm"], "host-01": ["host", "emea"]}


@pytest.fixture(scope="module")
def stores(gui_world: GuiWorld) -> Iterator[Stores]:
    """Three key stores in memory (two tagged atm, one host) registered by a security
    officer and a supervisor, each with its own active AES KEK; two PIN keys and a MAC
    key to push. Readers 3 to 5, freed again."""
    services = gui_world.services
    fleet = MemoryFleet()
    services.ctx.key_stores = fleet
    session = services.logon.open_session()
    try:
        services.logon.log_on(session, gui_world.insert("cara", 3), pin())
        services.logon.log_on(session, gui_world.insert("carl", 4), pin())
        keks = services.keys.generate(session, "Zone master key (KEK)", count=3).keys
        pek, pek_again = services.keys.generate(session, "PIN encryption key", count=2).keys
        mac = services.keys.generate(session, "MAC key").keys[0]
        services.logon.log_on(session, gui_world.insert("sam", 5), pin())
        active = [
            services.keys.change_state(session, k.label, Action.ACTIVATE_KEY)
            for k in (*keks, pek, pek_again, mac)
        ]
        session.close()
        gui_world.cards.remove_all()
        session = services.logon.open_session()
        services.logon.log_on(session, gui_world.insert("olivia", 3), pin())
        services.logon.log_on(session, gui_world.insert("sam", 4), pin())
        by_store: dict[str, ManagedKey] = {}
        for (name, location), kek in zip(LOCATIONS.items(), active[:3], strict=True):
            services.distribution.add_target(
                session, name=name, kind="agent", location=location, kek=kek.label, tags=TAGS[name]
            )
            assert kek.wrapped is not None
            clear = services.ctx.hsm.export_clear_key(kek.algorithm, kek.wrapped)
            fleet.targets[location] = MemoryTarget(name, bytes(clear))
            clear[:] = bytes(len(clear))
            by_store[name] = kek
    finally:
        session.close()
        gui_world.cards.remove_all()
    yield Stores(fleet, by_store, active[3], active[4], active[5])
    services.ctx.key_stores = None


def showing(qtbot: Any, app_state: Any, world: GuiWorld, *who: str) -> DistributionPage:
    page = DistributionPage(app_state)
    qtbot.addWidget(page)
    page.resize(1300, 820)
    page.show()
    assert page.status.text() == "Log on to see the key stores and distribution jobs."
    assert not page.push_button.isEnabled()
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        log_on(qtbot, app_state, world, *who)
    # Each logon asks for a read; the last answer is in once nothing runs.
    qtbot.waitUntil(lambda: not app_state.runner.busy, timeout=WAIT)
    return page


def cells(model: Any, column: int) -> list[str]:
    return [model.index(r, column).data() for r in range(model.rowCount())]


def error_of(widget: QWidget, field: str) -> str:
    label = widget.findChild(QLabel, f"error_{field}")
    assert label is not None, field
    return str(label.text()) if label.isVisibleTo(widget) else ""


def co_sign(qtbot: Any, world: GuiWorld, who: str, reader_index: int) -> None:
    """The co-sign dialog opens: ``who`` inserts their card and types their PIN."""
    found: list[CoSignDialog] = []

    def visible() -> bool:
        found[:] = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, CoSignDialog) and w.isVisible()
        ]
        return len(found) == 1

    qtbot.waitUntil(visible, timeout=WAIT)
    dialog = found[0]
    assert dialog.heading.text().startswith("Export key needs 2 key custodians + 1 supervisor")
    reader = world.insert(who, reader_index)
    wait_for_card(qtbot, dialog.form, f"{CAST[who][0]} — ")
    dialog.form.select_reader(reader)
    with qtbot.waitSignal(dialog.accepted, timeout=WAIT):
        type_pin(qtbot, dialog.form.pin_edit, "123456")


def shoot(widget: QWidget, name: str) -> None:
    """Save ``widget`` for the documentation when ``KCW_SCREENSHOT_DIR`` is set."""
    folder = os.environ.get("KCW_SCREENSHOT_DIR")
    if folder:
        widget.grab().save(str(Path(folder) / name))


def run_view(page: DistributionPage) -> JobRunView:
    views = [v for v in page.findChildren(JobRunView) if v.isVisible()]
    assert views, "no run view"
    return views[-1]


def push_wizard(
    qtbot: Any,
    page: DistributionPage,
    key: str,
    *,
    tags: list[str],
    names: list[str],
    attempts: int,
    backoff: float,
) -> PushWizard:
    """The Push keys wizard, filled in up to its summary page."""
    wizard = page.open_wizard("open_push")
    assert isinstance(wizard, PushWizard)
    with qtbot.waitSignal(wizard.loaded, timeout=WAIT):
        pass
    set_checked(wizard.keys_page.keys, [key])
    wizard.next()
    assert wizard.currentId() == wizard.TARGETS_PAGE
    wizard.next()  # nothing ticked: refused beside the lists
    assert error_of(wizard.targets_page, "targets") == "Tick at least one tag or key store."
    set_checked(wizard.targets_page.tag_list, tags)
    set_checked(wizard.targets_page.store_list, names)
    assert error_of(wizard.targets_page, "targets") == ""  # checked again as ticked
    shoot(wizard, "distribution-push-targets.png")
    wizard.next()
    assert wizard.currentId() == wizard.OPTIONS_PAGE
    wizard.options_page.reason.setText("new PIN keys for the ATMs")
    wizard.options_page.attempts.setValue(attempts)
    wizard.options_page.backoff.setValue(backoff)
    wizard.next()
    assert wizard.currentId() == wizard.SUMMARY_PAGE
    return wizard


def test_key_stores_form_check_all_filter_and_remove(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, stores: Stores, tmp_path: Path
) -> None:
    page = showing(qtbot, app_state, gui_world, "olivia", "sam")
    assert cells(page.store_model, KeyStoreModel.NAME) == ["atm-01", "atm-02", "host-01"]
    assert cells(page.store_model, KeyStoreModel.LOCATION)[2] == "10.0.1.1:7443"
    assert cells(page.store_model, KeyStoreModel.TAGS) == ["atm", "atm", "emea, host"]
    assert page.store_count.text().startswith("3 key stores: ")
    assert page.select_store("host-01")
    kek = page.findChild(QLabel, "storeKek")
    assert kek is not None and kek.text().startswith(stores.keks["host-01"].label)

    # The form: each field checked as typed, then the partner quorum.
    dialog = page.add_store()
    assert isinstance(dialog, KeyStoreDialog)
    qtbot.waitUntil(dialog.ok.isEnabled, timeout=WAIT)
    qtbot.keyClicks(dialog.name, "a b")
    assert "is not 1 to 64 letters" in error_of(dialog, "name")
    assert error_of(dialog, "location") == ""  # not touched yet
    dialog.name.clear()
    qtbot.keyClicks(dialog.name, "ATM-01")
    assert error_of(dialog, "name") == "A key store named 'ATM-01' is already registered."
    dialog.name.clear()
    qtbot.keyClicks(dialog.name, "drop-01")
    assert error_of(dialog, "name") == ""
    dialog.kind.setCurrentIndex(dialog.kind.findData("file"))
    assert not dialog.token.isEnabled()
    dialog.kek.setCurrentIndex(dialog.kek.findData(stores.keks["atm-01"].label))
    qtbot.keyClicks(dialog.tags, "drop, b@d")
    dialog.buttons.accepted.emit()
    assert (
        error_of(dialog, "location")
        == "Give its location: the folder the TR-31 blocks are written to."
    )
    assert "is not 1 to 64" in error_of(dialog, "tags")
    shoot(dialog, "distribution-add-store.png")
    assert dialog.isVisible()
    qtbot.keyClicks(dialog.location, str(tmp_path))
    dialog.tags.clear()
    qtbot.keyClicks(dialog.tags, "drop")
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        dialog.buttons.accepted.emit()
    assert page.status.text().startswith("Key store drop-01 (file drop, ")
    assert cells(page.store_model, KeyStoreModel.NAME) == ["atm-01", "atm-02", "drop-01", "host-01"]

    # Check all with atm-02 down (and the folder not a memory key store): red, with reasons.
    stores.target("atm-02").up = False
    try:
        with qtbot.waitSignal(page.refreshed, timeout=WAIT):
            page.check_button.click()
    finally:
        stores.target("atm-02").up = True
    assert page.status.text().startswith("2 of 4 key stores reachable. Not reached: atm-02 (")
    status = cells(page.store_model, KeyStoreModel.STATUS)
    assert status == ["reachable", "UNREACHABLE", "UNREACHABLE", "reachable"]
    assert page.store_model.index(1, KeyStoreModel.STATUS).data(FG) == BAD_TEXT
    assert page.store_count.text() == "4 key stores: 2 reachable, 2 unreachable."

    # Filter by tag.
    page.tag_filter.setCurrentIndex(page.tag_filter.findData("atm"))
    assert cells(page.store_model, KeyStoreModel.NAME) == ["atm-01", "atm-02"]
    page.tag_filter.setCurrentIndex(0)

    # Remove, asked first.
    assert page.select_store("drop-01")
    page.remove_button.click()
    box = page.confirm_box
    assert box is not None and "Unregister key store drop-01" in box.text()
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        box.button(QMessageBox.StandardButton.Yes).click()
    assert page.status.text() == "Key store drop-01 is no longer registered."
    assert cells(page.store_model, KeyStoreModel.NAME) == ["atm-01", "atm-02", "host-01"]


def test_push_to_three_stores_one_down_then_retry(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, stores: Stores
) -> None:
    page = showing(qtbot, app_state, gui_world, "cara", "carl")  # no supervisor yet
    wizard = push_wizard(
        qtbot,
        page,
        stores.pek.label,
        tags=["atm"],
        names=["host-01"],
        attempts=2,
        backoff=0,
    )
    summary = wizard.summary_page.summary.text()
    assert summary.startswith("Push 1 key to 3 key stores")
    [panel] = wizard.summary_page.panels
    qtbot.waitUntil(lambda: panel.requirement is not None, timeout=WAIT)
    assert panel.status.text().startswith("Still missing: 1 supervisor")
    shoot(wizard, "distribution-push-summary.png")
    stores.target("atm-02").up = False
    # The export quorum lacks a supervisor: the co-sign dialog asks for one, then the job
    # is made and runs in the run view.
    with qtbot.waitSignal(page.job_finished, timeout=WAIT) as finished:
        wizard.next()
        co_sign(qtbot, gui_world, "sam", 2)
    result: JobReport = finished.args[0]
    assert result.job.state is JobState.FAILED and result.done == 2 and result.failed == 1
    view = run_view(page)
    assert view.text.text().startswith("Finished with failures: 2 of 3 targets done, 1 failed")
    assert not view.stop_button.isEnabled() and view.close_button.isEnabled()
    rows = {view.model.index(r, 0).data(): r for r in range(view.model.rowCount())}
    failed = rows["atm-02"]
    assert view.model.index(failed, DeliveryModel.STATE).data() == "failed"
    assert view.model.index(failed, DeliveryModel.TRIES).data() == "2"
    assert view.model.index(failed, DeliveryModel.TARGET).data(FG) == BAD_TEXT
    assert view.model.index(rows["atm-01"], DeliveryModel.KEYS).data() == (
        "1 installed, 0 already held"
    )
    assert (stores.pek.id, 1) in stores.target("atm-01").held
    shoot(view, "distribution-run.png")
    view.close()

    # The page: the job failed (red), its results under it.
    qtbot.waitUntil(lambda: page.job_model.rowCount() >= 1, timeout=WAIT)
    assert page.select_job(result.job.id)
    row = page.job_model.row_of(result.job.id)
    assert row is not None
    assert page.job_model.index(row, JobModel.STATE).data(FG) == BAD_TEXT
    assert page.job_model.index(row, JobModel.PROGRESS).data() == "2 of 3 done, 1 failed"
    assert cells(page.delivery_model, DeliveryModel.STATE) == ["done", "failed", "done"]
    assert cells(page.delivery_model, DeliveryModel.ERROR)[1].endswith("(10.0.0.2:7443): refused.")
    assert page.retry_button.isEnabled() and not page.resume_button.isEnabled()

    # atm-02 is back: Retry failed gives it its key; nothing is installed twice elsewhere.
    stores.target("atm-02").up = True
    installs = stores.target("atm-01").installs
    with qtbot.waitSignal(page.job_finished, timeout=WAIT) as finished:
        page.retry_button.click()
    again: JobReport = finished.args[0]
    assert again.job.state is JobState.DONE and again.done == 3
    assert (stores.pek.id, 1) in stores.target("atm-02").held
    assert stores.target("atm-01").installs == installs
    run_view(page).close()


def test_stop_and_resume_from_the_banner(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, stores: Stores
) -> None:
    page = showing(qtbot, app_state, gui_world, "cara", "carl", "sam")
    assert not page.banner.isVisible()
    wizard = push_wizard(
        qtbot,
        page,
        stores.pek_again.label,
        tags=["atm", "host"],
        names=[],
        attempts=5,
        backoff=3,
    )
    stores.target("atm-02").up = False
    try:
        with qtbot.waitSignal(page.job_finished, timeout=WAIT) as finished:
            wizard.next()  # the quorum is met: no co-sign
            qtbot.waitUntil(lambda: bool(page.findChildren(JobRunView)), timeout=WAIT)
            view = page.findChildren(JobRunView)[-1]

            def waiting() -> bool:
                r = view.report
                return r is not None and any(
                    d.state is DeliveryState.PENDING and d.attempts == 1 for d in r.deliveries
                )

            qtbot.waitUntil(waiting, timeout=WAIT)  # atm-02 waits for its second try
            view.stop_button.click()
    finally:
        stores.target("atm-02").up = True
    stopped: JobReport = finished.args[0]
    assert stopped.job.state is JobState.RUNNING and stopped.done == 2 and stopped.pending == 1
    assert view.text.text().startswith("Stopped: 2 of 3 targets done")
    view.close()
    qtbot.waitUntil(page.banner.isVisible, timeout=WAIT)
    assert page.banner_text.text().startswith("1 unfinished job: ")
    assert page.select_job(stopped.job.id) and page.resume_button.isEnabled()
    assert page.job_model.index(
        page.job_model.row_of(stopped.job.id) or 0, JobModel.STATE
    ).data() == ("running")

    installs = {name: stores.target(name).installs for name in LOCATIONS}
    with qtbot.waitSignal(page.job_finished, timeout=WAIT) as finished:
        page.resume_all_button.click()
    resumed: JobReport = finished.args[0]
    assert resumed.job.state is JobState.DONE and resumed.done == 3
    # Only atm-02 received the key now; the others were not sent it again.
    assert stores.target("atm-02").installs == installs["atm-02"] + 1
    assert stores.target("atm-01").installs == installs["atm-01"]
    assert stores.target("host-01").installs == installs["host-01"]
    run_view(page).close()
    qtbot.waitUntil(lambda: not page.banner.isVisible(), timeout=WAIT)

    # A job made and never run: announced, then cancelled for good (asked first).
    dist = app_state.services.distribution
    made = on_device(
        qtbot,
        app_state,
        lambda s: dist.distribute(s, [stores.pek_again.label], targets=["atm-02"]),
    )
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        app_state.data_changed.emit("distribution")
    assert page.banner.isVisible() and page.select_job(made.id)
    assert page.cancel_button.isEnabled()
    page.cancel_button.click()
    box = page.confirm_box
    assert box is not None and box.text().startswith(
        f"Cancel job {made.id[:12]}? Key stores still pending (1)"
    )
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        box.button(QMessageBox.StandardButton.Yes).click()
    assert page.status.text() == f"Job {made.id[:12]} cancelled; what was delivered stays."
    row = page.job_model.row_of(made.id)
    assert row is not None and page.job_model.index(row, JobModel.STATE).data() == "cancelled"
    assert not page.banner.isVisible() and not page.resume_button.isEnabled()


def test_rotate_a_template_and_push_where_held(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, stores: Stores
) -> None:
    page = showing(qtbot, app_state, gui_world, "cara", "carl", "sam")
    # The MAC key is held by atm-01 and host-01 first.
    dist = app_state.services.distribution
    job = on_device(
        qtbot,
        app_state,
        lambda s: dist.distribute(s, [stores.mac.label], targets=["atm-01", "host-01"]),
    )
    on_device(qtbot, app_state, lambda s: dist.run(s, job.id))
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        app_state.data_changed.emit("distribution")

    wizard = page.open_wizard("open_rotate")
    assert isinstance(wizard, RotateAllWizard)
    with qtbot.waitSignal(wizard.loaded, timeout=WAIT):
        pass
    scope = wizard.scope_page
    scope.template.setCurrentIndex(scope.template.findData("MAC key"))
    with qtbot.waitSignal(wizard.candidates_read, timeout=WAIT):
        wizard.next()
    candidates = wizard.candidates_page.model.rows
    assert [r[0] for r in candidates] == [stores.mac.label]
    assert candidates[0][4] == "atm-01, host-01"
    shoot(wizard, "distribution-rotate-candidates.png")
    wizard.next()
    preview = wizard.targets_page.chosen.text()
    assert preview == "2 key stores chosen: atm-01, host-01."
    wizard.next()
    wizard.options_page.attempts.setValue(2)
    wizard.options_page.backoff.setValue(0)
    wizard.next()
    assert wizard.currentId() == wizard.SUMMARY_PAGE
    panels = wizard.summary_page.panels
    assert [p.action for p in panels] == [Action.ROTATE_KEY, Action.EXPORT_KEY]
    qtbot.waitUntil(
        lambda: all(p.requirement is not None and p.requirement.met for p in panels),
        timeout=WAIT,
    )
    with qtbot.waitSignal(page.job_finished, timeout=WAIT) as finished:
        wizard.next()
    rotated: JobReport = finished.args[0]
    assert rotated.job.state is JobState.DONE and rotated.done == 2
    [jk] = rotated.job.keys
    assert jk.key_id == stores.mac.id and jk.successor_version == 2
    assert jk.successor_id is not None
    for name in ("atm-01", "host-01"):
        held = stores.target(name).held
        assert (jk.successor_id, 2) in held and held[(jk.successor_id, 2)].kcv == jk.successor_kcv
    assert not any(k[0] == jk.successor_id for k in stores.target("atm-02").held)
    view = run_view(page)
    assert view.heading.text().startswith(f"Job {rotated.job.id[:12]} (rotate and push)")
    view.close()
    qtbot.waitUntil(lambda: page.job_model.row_of(rotated.job.id) is not None, timeout=WAIT)
    row = page.job_model.row_of(rotated.job.id)
    assert row is not None
    assert page.job_model.index(row, JobModel.KEYS).data() == (
        f"{stores.mac.label} → {jk.successor_label}"
    )


def test_the_main_window_shows_the_distribution_tab(
    qtbot: Any, app_state: Any, gui_world: GuiWorld, stores: Stores
) -> None:
    from workstation.gui.main_window import MainWindow

    window = MainWindow(app_state)
    qtbot.addWidget(window)
    page = window.distribution
    assert isinstance(page, DistributionPage)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles[titles.index("Ce&rtificates") + 1] == "D&istribution"
    keys = [t[t.index("&") + 1].lower() for t in titles if "&" in t]
    assert keys.count("i") == 1
    log_on(qtbot, app_state, gui_world, "sam")
    window.resize(1400, 860)
    window.show()
    with qtbot.waitSignal(page.refreshed, timeout=WAIT):
        window.tabs.setCurrentWidget(page)
    assert page.store_model.rowCount() == 3 and page.job_model.rowCount() >= 3
    assert page.select_store("atm-01")
    held = page.held_model.rows
    assert stores.pek.label in [r[0] for r in held] and all(r[2] for r in held)
    name = page.findChild(QLabel, "storeName")
    qtbot.waitUntil(lambda: name is not None and name.isVisible(), timeout=WAIT)
    image = window.grab()
    assert image.width() == 1400 and not image.isNull()
    shoot(window, "distribution.png")
