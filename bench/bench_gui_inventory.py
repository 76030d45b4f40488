"""The key inventory screen with 100,000 keys: the lazy page against baselines.

The repository is a real SQLite file; the HSM and the card readers are the test fakes
(``tests/fakes.py``), because this measures the view, not the devices. 100,000 key rows are
inserted straight through ``SqliteRepository`` with the fake HSM's seals (no audit entries:
nothing here reads them). Then, offscreen, in one run:

- ``KeysPage``: the real page on a real ``AppState`` (device thread, the services'
  ``KeyService.query`` with limit and offset, authorisation of a logged-on officer):
  time from ``show()`` to the first rows painted, to the last row painted after a jump to
  the end, and to the first rows of a state filter.
- baseline, trivial model: a ``QTableView`` over a model of 100,000 rows whose data is a
  formatted string (no repository at all): what Qt itself costs.
- baseline, eager: what a model that loads everything first must wait for, reading all
  100,000 keys through the same service call before a row can be shown.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui_inventory.py [-n 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fakes

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSettings, Qt
from PySide6.QtWidgets import QApplication, QHeaderView, QTableView
from tests.fakes import FakeCardData, FakeClock, FakeHsm, FakeReaders

from workstation.adapters.repository_sqlite import SqliteRepository
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.templates import seed_templates
from workstation.gui.inventory import LABEL, KeysPage
from workstation.gui.state import AppState
from workstation.services.app import WorkstationServices
from workstation.services.context import ServiceContext
from workstation.services.initialise import OfficerCard
from workstation.services.ports import KeyQuery

PIN = "123456"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
STATES = [
    (KeyState.ACTIVE, 60),
    (KeyState.PRE_ACTIVATION, 15),
    (KeyState.SUSPENDED, 5),
    (KeyState.DEACTIVATED, 12),
    (KeyState.COMPROMISED, 2),
    (KeyState.DESTROYED, 6),
]


def pin() -> bytearray:
    return bytearray(PIN.encode())


class World:
    """An initialised workstation on fakes with a real SQLite repository."""

    def __init__(self, directory: Path) -> None:
        self.repo = SqliteRepository(directory / "ws.db")
        self.hsm = FakeHsm()
        self.readers = FakeReaders(count=6)
        self.clock = FakeClock(NOW)
        self.services = WorkstationServices(
            ServiceContext(
                repository=self.repo, hsm=self.hsm, readers=self.readers, clock=self.clock
            )
        )
        self.cards = {n: FakeCardData(n) for n in ("Olivia Grant", "Oscar Lindqvist")}
        r0 = self.readers.insert(0, self.cards["Olivia Grant"])
        r1 = self.readers.insert(1, self.cards["Oscar Lindqvist"])
        self.services.init.initialise(
            [OfficerCard(r0, "Olivia Grant", pin()), OfficerCard(r1, "Oscar Lindqvist", pin())]
        )
        self.readers.remove(1)  # Olivia's card stays in reader 0 for the page's session

    def insert_keys(self, n: int, seed: int = 7) -> float:
        """``n`` key rows with varied templates, states and dates; returns seconds."""
        started = time.perf_counter()
        rng = random.Random(seed)
        templates = [t for t in seed_templates() if t.algorithm.is_symmetric]
        states = [s for s, _ in STATES]
        weights = [w for _, w in STATES]
        batch: list[tuple[ManagedKey, bytes]] = []
        for i in range(n):
            template = templates[i % len(templates)]
            created = NOW - timedelta(days=rng.randint(0, 900))
            state = rng.choices(states, weights)[0]
            key = ManagedKey(
                id=uuid.UUID(int=rng.getrandbits(128)).hex,
                label=f"{template.label_pattern.split('-')[0]}-{i:06d}",
                template_id=template.id,
                algorithm=template.algorithm,
                key_usage=template.key_usage,
                mode_of_use=template.mode_of_use,
                exportability=template.exportability,
                kcv=f"{rng.getrandbits(24):06X}",
                wrapped=None if state is KeyState.DESTROYED else rng.randbytes(40),
                public_key=None,
                state=state,
                version=1,
                created_at=created,
                activation_date=created,
                deactivation_date=created + timedelta(days=template.crypto_period_days),
                state_changed_at=created,
            )
            batch.append((key, self.hsm.bind(key.binding_bytes())))
            if len(batch) == 10_000 or i == n - 1:
                with self.repo.unit_of_work() as uow:
                    uow.keys.add_many(batch)
                    uow.commit()
                batch = []
        return time.perf_counter() - started

    def close(self) -> None:
        self.services.close()


def wait_until(app: QApplication, condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the screen did not get there in time")
        app.processEvents()
        time.sleep(0.0002)


class TrivialModel(QAbstractTableModel):
    """The baseline: 100,000 rows of formatted strings, nothing behind them."""

    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self.rows

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 8

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return f"row {index.row():06d} col {index.column()}"
        return None


def bench_trivial(app: QApplication, rows: int) -> tuple[float, float]:
    view = QTableView()
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    view.verticalHeader().setVisible(False)
    view.resize(1000, 600)
    model = TrivialModel(rows)
    started = time.perf_counter()
    view.setModel(model)
    view.show()
    view.viewport().repaint()
    app.processEvents()
    first = time.perf_counter() - started
    started = time.perf_counter()
    view.scrollToBottom()
    view.viewport().repaint()
    app.processEvents()
    last = time.perf_counter() - started
    assert view.rowAt(view.viewport().height() - 2) == rows - 1
    view.close()
    return first, last


def bench_page(app: QApplication, state: AppState) -> dict[str, float]:
    figures: dict[str, float] = {}
    page = KeysPage(state)
    page.resize(1200, 760)
    loaded: list[int] = []
    page.rows_loaded.connect(loaded.append)
    started = time.perf_counter()
    page.show()
    wait_until(app, lambda: bool(loaded))
    page.table.viewport().repaint()
    figures["first rows"] = time.perf_counter() - started
    total = page.model.total

    started = time.perf_counter()
    page.table.scrollToBottom()
    page.table.viewport().repaint()  # asks for the last page
    wait_until(app, lambda: page.model.key_at(total - 1) is not None)
    page.table.viewport().repaint()
    figures["jump to the end"] = time.perf_counter() - started
    last = page.model.data(page.model.index(total - 1, LABEL))

    started = time.perf_counter()
    page.table.verticalScrollBar().setValue(page.table.verticalScrollBar().maximum() // 2)
    page.table.viewport().repaint()
    middle = page.table.rowAt(10)
    wait_until(app, lambda: page.model.key_at(middle) is not None)
    page.table.viewport().repaint()
    figures["jump to the middle"] = time.perf_counter() - started

    # Paging down through 50 screens, the way a person holding Page Down would.
    page.table.scrollToTop()
    page.table.setFocus()
    started = time.perf_counter()
    for _ in range(50):
        page.table.verticalScrollBar().setValue(
            page.table.verticalScrollBar().value() + page.table.verticalScrollBar().pageStep()
        )
        page.table.viewport().repaint()
        row = page.table.rowAt(page.table.viewport().height() - 2)
        wait_until(app, lambda r=row: page.model.key_at(r) is not None)  # type: ignore[misc]
    page.table.viewport().repaint()
    figures["50 pages down (per page)"] = (time.perf_counter() - started) / 50

    loaded.clear()
    started = time.perf_counter()
    page.state_actions[KeyState.SUSPENDED].setChecked(True)
    wait_until(app, lambda: bool(loaded))
    page.table.viewport().repaint()
    figures["filter: suspended"] = time.perf_counter() - started
    suspended = loaded[0]
    page.state_actions[KeyState.SUSPENDED].setChecked(False)

    print(f"  keys: {total:,}; last label {last}; suspended {suspended:,}; ", end="")
    print(f"rows in memory at the end: {page.model.loaded_rows():,}")
    page.close()
    return figures


def bench_eager(state: AppState) -> tuple[float, int]:
    services = state.services
    session = state.session
    assert session is not None
    started = time.perf_counter()
    keys, _ = services.keys.query(session, KeyQuery())
    return time.perf_counter() - started, len(keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000)
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    with tempfile.TemporaryDirectory(prefix="kcw-bench-inventory-") as tmp_name:
        tmp = Path(tmp_name)
        world = World(tmp)
        seconds = world.insert_keys(args.n)
        print(f"inventory of {args.n:,} keys written in {seconds:.1f} s (not measured below)")
        settings = QSettings(str(tmp / "gui.ini"), QSettings.Format.IniFormat)
        state = AppState(world.services, home=tmp, settings=settings)
        state.start()
        try:
            joined: list[object] = []
            state.log_on(world.readers.names[0], pin(), on_done=joined.append)
            wait_until(app, lambda: bool(joined))

            print("KeysPage (lazy, pages through KeyService.query on the device thread):")
            page = bench_page(app, state)
            first, last = bench_trivial(app, args.n)
            eager, count = bench_eager(state)
        finally:
            state.stop()
            world.close()

    def ms(value: float) -> str:
        return f"{value * 1000:8.1f} ms"

    print()
    print(f"{'':34} {'KeysPage':>11} {'trivial model':>14}")
    print(f"{'time to first rows shown':34} {ms(page['first rows'])} {ms(first):>14}")
    print(f"{'time to scroll to the end':34} {ms(page['jump to the end'])} {ms(last):>14}")
    print(f"{'jump to the middle':34} {ms(page['jump to the middle'])}")
    print(f"{'page down (mean of 50)':34} {ms(page['50 pages down (per page)'])}")
    print(f"{'state filter (first rows)':34} {ms(page['filter: suspended'])}")
    print(
        f"eager baseline: reading all {count:,} keys through KeyService.query before "
        f"the first row can show: {ms(eager).strip()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
