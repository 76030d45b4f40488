"""A repository of 1,000,000 keys on SQLite and on PostgreSQL: inventory queries, "expiring
within 30 days", and the inventory page's first rows, against the 100 ms target.

Built once and cached (``--cache``, default ``$TMPDIR/kcw-bench-1m``; a cache of an older
schema version is migrated as a workstation would, the SQLite migration's backup of it
deleted): an initialised workstation (fake HSM and cards, as ``bench_gui_inventory.py``;
the fakes' secrets are kept beside the data so that a later run logs on again) with ``-n``
keys written through ``KeyRepository.add_many`` in batches of 10,000: a SQLite file, and a
database in a private PostgreSQL cluster kept in the cache directory
(``workstation.devtools.pgcluster``, loopback only, fsync off while it exists only for
this). Then, for each backend:

- each inventory query as ``KeyService.query`` runs it (a page of 200 and the ``count``
  of all matches, one unit of work), median of ``--runs``;
- "expiring within 30 days": the first page with its count, and the whole list as
  ``KeyService.expiring`` reads it;
- baseline in the same run: one key read by its id (the floor of a round trip);
- GUI first rows: ``KeysPage`` (offscreen) on the real services, from ``show()`` to the
  first rows painted, median of 3.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_repository_1m.py [-n 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fakes
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for bench_gui_inventory

import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from tests.fakes import FakeCardData, FakeClock, FakeHsm, FakeReaders

import bench_gui_inventory
from workstation.adapters.repository_postgres import PostgresRepository
from workstation.adapters.repository_sqlite import SqliteRepository
from workstation.devtools.pgcluster import PgCluster
from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.keys import KeyState
from workstation.gui.inventory import KeysPage
from workstation.gui.state import AppState
from workstation.services.app import WorkstationServices
from workstation.services.context import ServiceContext
from workstation.services.initialise import OfficerCard
from workstation.services.ports import KeyQuery, Repository

TARGET_MS = 100.0
PIN = "123456"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
OFFICERS = ("Olivia Grant", "Oscar Lindqvist")


# --- a workstation on fakes, whose secrets survive between runs ----------------------------


class World:
    """The fake HSM and cards of a cached repository (kept as JSON beside it)."""

    def __init__(self, repo: Repository, secrets_file: Path) -> None:
        self.repo = repo
        self.secrets_file = secrets_file
        self.hsm = FakeHsm()
        self.readers = FakeReaders(count=4)
        self.clock = FakeClock(NOW)
        self.cards: dict[str, FakeCardData] = {}
        if secrets_file.is_file():
            self._load()
        self.services = WorkstationServices(
            ServiceContext(repository=repo, hsm=self.hsm, readers=self.readers, clock=self.clock)
        )

    def _load(self) -> None:
        data = json.loads(self.secrets_file.read_text())
        self.hsm.master = bytes.fromhex(data["master"])
        self.hsm.binding = bytes.fromhex(data["binding"])
        self.hsm.audit_key = _private(data["audit"])
        for name, card in data["cards"].items():
            self.cards[name] = FakeCardData(
                name, key=_private(card["key"]), certificate=bytes.fromhex(card["certificate"])
            )

    def initialise(self) -> None:
        self.cards = {name: FakeCardData(name) for name in OFFICERS}
        slots = [self.readers.insert(i, self.cards[n]) for i, n in enumerate(OFFICERS)]
        self.services.init.initialise(
            [
                OfficerCard(r, n, bytearray(PIN.encode()))
                for r, n in zip(slots, OFFICERS, strict=True)
            ]
        )
        self.readers.remove(1)
        self.readers.remove(0)
        assert self.hsm.master and self.hsm.binding and self.hsm.audit_key
        data = {
            "master": self.hsm.master.hex(),
            "binding": self.hsm.binding.hex(),
            "audit": _pem(self.hsm.audit_key),
            "cards": {
                n: {"key": _pem(c.key), "certificate": c.certificate.hex()}
                for n, c in self.cards.items()
            },
        }
        self.secrets_file.write_text(json.dumps(data))

    # insert_keys(n): the key rows of bench_gui_inventory.py (varied templates, states and
    # dates, sealed by the fake HSM), written through add_many in batches.
    insert_keys = bench_gui_inventory.World.insert_keys


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _private(pem: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


# --- the two backends ----------------------------------------------------------------------


def open_sqlite(cache: Path, n: int) -> tuple[Repository, Path]:
    path = cache / f"keys-{n}.sqlite3"
    done = cache / f"keys-{n}.sqlite3.done"
    if not done.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        print(f"building the SQLite repository of {n:,} keys (once) in {path}")
        world = World(SqliteRepository(path), cache / f"keys-{n}.sqlite3.secrets.json")
        world.initialise()
        print(f"  written in {world.insert_keys(n):.0f} s")
        world.services.close()
        done.touch()
    repo = SqliteRepository(path)
    started = time.perf_counter()
    backup = repo.migrate()  # a cache of an older schema version is migrated, as in use
    if backup is not None:
        print(f"migrated the SQLite repository in {time.perf_counter() - started:.1f} s")
        backup.unlink()  # the migration's backup of the cache: nothing to go back to here
    return repo, cache / f"keys-{n}.sqlite3.secrets.json"


@contextmanager
def open_postgres(cache: Path, n: int) -> Iterator[tuple[Repository, Path]]:
    cluster = PgCluster(keep=cache / "pg")
    cluster.start()
    try:
        name = f"kcw_keys_{n}"
        done = cache / f"{name}.done"
        url = cluster.url(name)
        if not done.exists():
            print(f"building the PostgreSQL repository of {n:,} keys (once) in {cache / 'pg'}")
            with psycopg.connect(cluster.admin_conninfo(), autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name}")
                conn.execute(f"CREATE DATABASE {name}")
            world = World(
                PostgresRepository(url, password=cluster.password),
                cache / f"{name}.secrets.json",
            )
            world.initialise()
            print(f"  written in {world.insert_keys(n):.0f} s")
            world.services.close()
            with psycopg.connect(cluster.admin_conninfo(name), autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")  # autovacuum would, in its own time
            done.touch()
        repo = PostgresRepository(url, password=cluster.password)
        started = time.perf_counter()
        with psycopg.connect(cluster.admin_conninfo(name)) as conn:
            version = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'")
            older = int(version.fetchone()[0]) < repo.schema_version
        repo.migrate()  # a cache of an older schema version is migrated, as in use
        if older:
            print(f"migrated the PostgreSQL repository in {time.perf_counter() - started:.1f} s")
        try:
            yield repo, cache / f"{name}.secrets.json"
        finally:
            repo.close()
    finally:
        cluster.stop()


# --- measuring -----------------------------------------------------------------------------


@dataclass
class Row:
    backend: str
    what: str
    ms: float
    matches: int | None
    has_target: bool = True


def median_ms(fn: Callable[[], int], runs: int) -> tuple[float, int]:
    fn()  # warm the caches: a workstation in use has them warm
    times: list[float] = []
    result = 0
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def queries() -> list[tuple[str, KeyQuery]]:
    soon = NOW + timedelta(days=30)
    page = 200
    return [
        ("all keys, first page", KeyQuery(limit=page)),
        ("state active", KeyQuery(states=(KeyState.ACTIVE,), limit=page)),
        (
            "suspended + compromised",
            KeyQuery(states=(KeyState.SUSPENDED, KeyState.COMPROMISED), limit=page),
        ),
        ("usage P0 (PIN keys)", KeyQuery(key_usage="P0", limit=page)),
        (
            "active AES-256 K0",
            KeyQuery(
                states=(KeyState.ACTIVE,),
                algorithm=KeyAlgorithm.AES_256,
                key_usage="K0",
                limit=page,
            ),
        ),
        ("label contains 'zmk-0012'", KeyQuery(label="zmk-0012", limit=page)),
        ("label contains '4242' (rare)", KeyQuery(label="4242", limit=page)),
        ("label contains 'zmk' (1 in 6.5)", KeyQuery(label="zmk", limit=page)),
        ("kcv starts 'A1B'", KeyQuery(kcv="a1b", limit=page)),
        (
            "active, label contains '77'",
            KeyQuery(states=(KeyState.ACTIVE,), label="77", limit=page),
        ),
        ("expiring within 30 days, page", KeyQuery(expiring_before=soon, limit=page)),
    ]


def measure_queries(backend: str, repo: Repository, runs: int) -> list[Row]:
    rows: list[Row] = []
    with repo.unit_of_work(read_only=True) as uow:
        some = uow.keys.query(
            KeyQuery(limit=1, offset=500_000 % max(1, uow.keys.count(KeyQuery())))
        )
    key_id = some[0].value.id

    def by_id() -> int:
        with repo.unit_of_work(read_only=True) as uow:
            return 1 if uow.keys.get(key_id) else 0

    ms, found = median_ms(by_id, runs)
    rows.append(Row(backend, "baseline: one key by id", ms, found, has_target=False))
    for what, query in queries():

        def run(q: KeyQuery = query) -> int:
            with repo.unit_of_work(read_only=True) as uow:  # as KeyService.query
                uow.keys.query(q)
                return uow.keys.count(replace(q, limit=None, offset=0))

        ms, matches = median_ms(run, runs)
        rows.append(Row(backend, what + " + count", ms, matches))

    def expiring_all() -> int:
        with repo.unit_of_work(read_only=True) as uow:  # as KeyService.expiring
            return len(uow.keys.query(KeyQuery(expiring_before=NOW + timedelta(days=30))))

    ms, matches = median_ms(expiring_all, runs)
    rows.append(Row(backend, "expiring within 30 days, whole list", ms, matches))
    return rows


wait_until = bench_gui_inventory.wait_until


def measure_gui(backend: str, repo: Repository, secrets_file: Path, home: Path) -> Row:
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    world = World(repo, secrets_file)
    world.readers.insert(0, world.cards[OFFICERS[0]])
    settings = QSettings(str(home / f"gui-{backend}.ini"), QSettings.Format.IniFormat)
    state = AppState(world.services, home=home, settings=settings)
    state.start()
    times: list[float] = []
    total = 0
    try:
        joined: list[object] = []
        state.log_on(world.readers.names[0], bytearray(PIN.encode()), on_done=joined.append)
        wait_until(app, lambda: bool(joined))
        for _ in range(4):
            page = KeysPage(state)
            page.resize(1200, 760)
            loaded: list[int] = []
            page.rows_loaded.connect(loaded.append)
            started = time.perf_counter()
            page.show()
            wait_until(app, lambda: bool(loaded))  # noqa: B023 - waited for here
            page.table.viewport().repaint()
            times.append((time.perf_counter() - started) * 1000)
            total = loaded[0]
            page.close()
            page.deleteLater()
            app.processEvents()
    finally:
        state.stop()
        world.services.close()
    return Row(
        backend, "GUI: inventory page, first rows shown", statistics.median(times[1:]), total
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="keys in the repository")
    parser.add_argument("--runs", type=int, default=7, help="runs per query (median)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "kcw-bench-1m")
    parser.add_argument("--no-gui", action="store_true", help="queries only")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="kcw-bench-gui-") as home_name:
        home = Path(home_name)
        sqlite, secrets = open_sqlite(args.cache, args.n)
        rows += measure_queries("SQLite", sqlite, args.runs)
        if not args.no_gui:
            rows.append(measure_gui("SQLite", sqlite, secrets, home))
        with open_postgres(args.cache, args.n) as (postgres, secrets):
            rows += measure_queries("PostgreSQL", postgres, args.runs)
            if not args.no_gui:
                rows.append(measure_gui("PostgreSQL", postgres, secrets, home))

    print()
    print(f"{args.n:,} keys; median of {args.runs} runs; target {TARGET_MS:.0f} ms")
    print(f"{'backend':11} {'query':46} {'median':>10} {'matches':>10}  target")
    for row in rows:
        verdict = ("ok" if row.ms < TARGET_MS else "OVER") if row.has_target else "-"
        matches = f"{row.matches:,}" if row.matches is not None else ""
        print(f"{row.backend:11} {row.what:46} {row.ms:7.1f} ms {matches:>10}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
