"""What only the PostgreSQL repository does: a server, two workstations at once, backups
as SQLite files. The repository contract itself runs on PostgreSQL in
test_repository_sqlite.py (``TestRepositoryContract[postgres]``).

Real components: the session's private cluster on loopback (tests/fixtures/postgres.py),
two real processes for the concurrency test.
"""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
from dataclasses import replace
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

import psycopg
import pytest

from tests.integration.test_repository_sqlite import (
    CURRENT,
    T0,
    WORKSTATION,
    Note,
    chain_tuples,
    event,
    key,
    mac,
    person,
    template,
)
from workstation.adapters.repository_postgres import LABEL_SEARCH_INDEX, PostgresRepository
from workstation.adapters.repository_sqlite import SqliteRepository
from workstation.devtools.pgcluster import PgCluster, _free_port
from workstation.domain.keys import KeyEvent, KeyState
from workstation.domain.policy import Action
from workstation.errors import (
    AlreadyInitialised,
    BadInput,
    ConflictError,
    IntegrityError,
    NotInitialised,
    StorageError,
    WorkstationError,
)
from workstation.services.ports import KeyQuery
from workstation.standalone.audit_verify import verify_chain

ROUNDS = 40  # per process


def fill(repo: PostgresRepository | SqliteRepository, keys: int = 5) -> None:
    with repo.unit_of_work() as uow:
        uow.people.add(person(1, "Zoë Ångström"), mac(1))
        uow.templates.add(template(), mac(0))
        uow.keys.add_many([(key(n), mac(n)) for n in range(1, keys + 1)])
        uow.keys.add_event(
            KeyEvent("k-1", T0, Action.GENERATE_KEY, None, KeyState.ACTIVE, ("Zoë",))
        )
        for n in range(1, 4):
            uow.audit.append(event(n))
        uow.documents.add(Note("n-1", "k-1", None, "note"), b"docmac")
        uow.meta.put("workstation_id", WORKSTATION)
        uow.commit()


# --- connecting --------------------------------------------------------------------------


def test_create_exists_and_refuse_twice(pg_database: tuple[str, str]) -> None:
    url, password = pg_database
    repo = PostgresRepository(url, password=password)
    assert not repo.exists()
    with pytest.raises(NotInitialised, match="no workstation repository"), repo.unit_of_work():
        pass
    repo.create()
    assert repo.exists()
    with pytest.raises(AlreadyInitialised):
        PostgresRepository(url, password=password).create()
    with repo.unit_of_work(read_only=True) as uow:
        assert uow.meta.get("schema_version") == str(CURRENT)
    repo.close()


def test_database_of_another_application_is_not_taken_over(
    pg_database: tuple[str, str],
) -> None:
    url, password = pg_database
    with psycopg.connect(url, password=password, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(WorkstationError, match="tables of another application"):
        PostgresRepository(url, password=password).create()


def test_bad_url_and_unreachable_server_say_what_is_wrong(pg_cluster: PgCluster) -> None:
    with pytest.raises(BadInput, match="must start with postgresql://"):
        PostgresRepository("mysql://db.bank.example/kcw")
    with pytest.raises(BadInput, match="not a valid PostgreSQL URL"):
        PostgresRepository("postgresql://kcw@db.bank.example:5432/kcw?nonsense=1")
    down = PostgresRepository(f"postgresql://kcw@127.0.0.1:{_free_port()}/kcw", password="x")
    with pytest.raises(StorageError, match=r"PostgreSQL server 127\.0\.0\.1:\d+ \(database kcw\)"):
        down.exists()
    wrong = PostgresRepository(pg_cluster.url(), password="not-the-password")
    with pytest.raises(StorageError, match=r"cannot be reached.*password") as info:
        wrong.exists()
    assert "not-the-password" not in info.value.message


# --- two workstations --------------------------------------------------------------------


def test_open_transactions_conflict_and_the_loser_keeps_nothing(
    pg_repository: PostgresRepository,
) -> None:
    with pg_repository.unit_of_work() as uow:
        uow.templates.add(template(), mac(0))
        uow.keys.add(key(1), mac(1))
        uow.commit()
    with pg_repository.unit_of_work() as here, pg_repository.unit_of_work() as there:
        mine, theirs = here.keys.get("k-1"), there.keys.get("k-1")
        assert mine is not None and theirs is not None
        there.keys.update(replace(theirs.value, state=KeyState.SUSPENDED), mac(2))
        there.audit.append(event(1))
        there.commit()
        here.audit.append(event(2))  # waits for the write lock, then appends after theirs
        with pytest.raises(ConflictError, match="Key ZMK-0001 was changed by another"):
            here.keys.update(replace(mine.value, state=KeyState.COMPROMISED), mac(3))
    with pg_repository.unit_of_work(read_only=True) as uow:
        got = uow.keys.get("k-1")
        assert got is not None and got.value.state is KeyState.SUSPENDED
        assert uow.audit.count() == 1


def _workstation(
    url: str, password: str, worker: int, start: Event, results: Queue[object]
) -> None:
    """One workstation process: bump a shared counter (retrying on conflict), reserve
    label numbers and envelope serials, append audit, ROUNDS times."""
    repo = PostgresRepository(url, password=password)
    numbers: list[int] = []
    serials: list[str] = []
    conflicts = 0
    start.wait(60)
    for i in range(ROUNDS):
        while True:
            try:
                with repo.unit_of_work() as uow:
                    counter = uow.documents.get(Note, "counter")
                    assert counter is not None
                    value = int(counter.value.text)
                    uow.documents.update(replace(counter.value, text=str(value + 1)), b"m")
                    first = uow.templates.reserve_sequence("t-zmk", 2)
                    serial = uow.envelopes.next_serials(1)
                    uow.audit.append(event(worker * 1000 + i))
                    uow.commit()
            except ConflictError:
                conflicts += 1
                continue
            numbers += [first, first + 1]
            serials += serial
            break
    repo.close()
    results.put((worker, numbers, serials, conflicts))


def test_two_workstation_processes_lose_no_update_and_keep_one_chain(
    pg_repository: PostgresRepository,
) -> None:
    with pg_repository.unit_of_work() as uow:
        uow.templates.add(template(), mac(0))
        uow.documents.add(Note("counter", "shared", None, "0"), b"m")
        uow.commit()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results: Queue[object] = context.Queue()
    password = pg_repository._password or ""
    processes = [
        context.Process(target=_workstation, args=(pg_repository.url, password, w, start, results))
        for w in (1, 2)
    ]
    for p in processes:
        p.start()
    try:
        start.set()
        reports = [results.get(timeout=120) for _ in processes]
        for p in processes:
            p.join(30)
            assert p.exitcode == 0
    finally:
        for p in processes:
            if p.is_alive():
                p.kill()
                p.join()
    numbers = [n for r in reports for n in r[1]]  # type: ignore[index]
    serials = [s for r in reports for s in r[2]]  # type: ignore[index]
    assert sorted(numbers) == list(range(1, 4 * ROUNDS + 1))  # no number twice, no gap
    assert len(set(serials)) == 2 * ROUNDS
    with pg_repository.unit_of_work(read_only=True) as uow:
        counter = uow.documents.get(Note, "counter")
        assert counter is not None and counter.value.text == str(2 * ROUNDS)  # none lost
        report = verify_chain(chain_tuples(uow), [], None, WORKSTATION)
        raw = list(uow.audit_log.chain())
    assert report.ok, report.problems
    assert report.entries_checked == 2 * ROUNDS
    assert verify_chain(raw, [], None, WORKSTATION).ok
    assert [r[0] for r in raw] == list(range(1, 2 * ROUNDS + 1))


# --- guards ------------------------------------------------------------------------------


def test_read_only_unit_of_work_refuses_writes(pg_repository: PostgresRepository) -> None:
    with pg_repository.unit_of_work(read_only=True) as uow:
        with pytest.raises(WorkstationError, match="read-only"):
            uow.meta.put("workstation_id", "x")
        with pytest.raises(WorkstationError, match="read-only"):
            uow.audit.append(event(1))


def test_edited_rows_are_refused(pg_repository: PostgresRepository) -> None:
    fill(pg_repository)
    with psycopg.connect(pg_repository.url, password=pg_repository._password) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("UPDATE audit_entries SET action = 'x' WHERE seq = 2")
        conn.rollback()
        conn.execute("UPDATE keys SET state = 'suspended' WHERE id = 'k-2'")
        conn.commit()
    with pg_repository.unit_of_work() as uow, pytest.raises(IntegrityError, match="indexed"):
        uow.keys.query(KeyQuery(states=(KeyState.SUSPENDED,)))


def test_append_only_via_the_unit_of_work(pg_repository: PostgresRepository) -> None:
    fill(pg_repository)
    with pg_repository.unit_of_work() as uow:
        with pytest.raises(IntegrityError, match="append-only"):
            uow.execute("DELETE FROM audit_entries WHERE seq = ?", (1,), unique={})
        assert uow.audit.count() == 3  # the transaction goes on


# --- backup, restore, scrub --------------------------------------------------------------


def _dump(repo: PostgresRepository | SqliteRepository) -> tuple[object, ...]:
    with repo.unit_of_work(read_only=True) as uow:
        return (
            [(s.value, s.mac) for s in uow.keys.query(KeyQuery())],
            [(s.value, s.mac) for s in uow.people.list()],
            uow.keys.events("k-1"),
            chain_tuples(uow),
            [(d.value, d.mac) for d in uow.documents.list(Note)],
            uow.meta.get("workstation_id"),
        )


def test_backup_is_a_sqlite_repository_and_restores_into_an_empty_database(
    pg_repository: PostgresRepository, pg_database: tuple[str, str], tmp_path: Path
) -> None:
    fill(pg_repository, keys=2500)  # more than one fetch batch
    target = tmp_path / "backup.sqlite3"
    pg_repository.backup(target)
    assert target.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob("backup.sqlite3?*"))  # one file, nothing beside it
    check = sqlite3.connect(target)
    try:
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        check.close()
    with pytest.raises(BadInput, match="exists already"):
        pg_repository.backup(target)
    copy = SqliteRepository(target)
    original = _dump(pg_repository)
    assert _dump(copy) == original
    with copy.unit_of_work(read_only=True) as uow:
        assert uow.meta.get("schema_version") == str(CURRENT)
        assert uow.keys.count(KeyQuery(label="zmk-00")) == 99  # ZMK-0001 to ZMK-0099
    url, password = pg_database
    restored = PostgresRepository(url, password=password)
    restored.restore(target)
    assert _dump(restored) == original
    with restored.unit_of_work() as uow:  # the identity columns go on after the copy
        uow.keys.add_event(uow.keys.events("k-1")[0])
        uow.audit.append(event(4))
        uow.commit()
    with pytest.raises(AlreadyInitialised, match="empty database"):
        restored.restore(target)
    restored.close()


def test_restore_refuses_a_bad_file_and_writes_nothing(
    pg_database: tuple[str, str], tmp_path: Path
) -> None:
    url, password = pg_database
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database at all" * 100)
    repo = PostgresRepository(url, password=password)
    with pytest.raises(BadInput):
        repo.restore(bad)
    with pytest.raises(BadInput, match="no backup file"):
        repo.restore(tmp_path / "missing.sqlite3")
    foreign = tmp_path / "foreign.sqlite3"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(BadInput, match="not a workstation repository"):
        repo.restore(foreign)
    assert not repo.exists()


def test_remove_and_scrub(pg_repository: PostgresRepository) -> None:
    fill(pg_repository)
    pg_repository.scrub()
    pg_repository.remove()
    assert not pg_repository.exists()
    pg_repository.create()
    assert pg_repository.exists()


def _label_index(cluster: PgCluster, database: str) -> bool:
    with psycopg.connect(cluster.admin_conninfo(database)) as conn:
        row = conn.execute("SELECT to_regclass(%s)", (LABEL_SEARCH_INDEX,)).fetchone()
    return row is not None and row[0] is not None


def _labels(repo: PostgresRepository, search: str) -> list[str]:
    with repo.unit_of_work(read_only=True) as uow:
        return [s.value.label for s in uow.keys.query(KeyQuery(label=search))]


def test_version_6_database_gets_the_trigram_index_and_finds_old_keys(
    pg_repository: PostgresRepository, pg_cluster: PgCluster
) -> None:
    fill(pg_repository, keys=120)
    database = pg_repository.url.rsplit("/", 1)[1]
    assert _label_index(pg_cluster, database)
    pg_repository.close()
    with psycopg.connect(pg_cluster.admin_conninfo(database)) as conn:  # as version 6 was
        conn.execute(f"DROP INDEX {LABEL_SEARCH_INDEX}")
        conn.execute("DROP INDEX keys_state")
        conn.execute("CREATE INDEX keys_state ON keys(state, label) INCLUDE (id)")
        conn.execute("UPDATE meta SET value = '6' WHERE name = 'schema_version'")
    repo = PostgresRepository(pg_repository.url, password=pg_cluster.password)
    try:
        assert _labels(repo, "zmk-011") == [f"ZMK-{n:04d}" for n in range(110, 120)]
        with repo.unit_of_work(read_only=True) as uow:
            assert uow.meta.get("schema_version") == str(CURRENT)
            assert uow.meta.get("migrated_at") is not None
        assert _label_index(pg_cluster, database)
        with psycopg.connect(pg_cluster.admin_conninfo(database)) as conn:
            row = conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'keys_state'"
            ).fetchone()
        assert row is not None and "INCLUDE (id, label_key)" in row[0]
        with repo.unit_of_work(read_only=True) as uow:
            query = KeyQuery(states=(KeyState.ACTIVE,), label="11")
            assert [s.value.label for s in uow.keys.query(query)] == [
                "ZMK-0011",
                *(f"ZMK-{n:04d}" for n in range(110, 120)),
            ]
    finally:
        repo.close()


def test_without_pg_trgm_the_label_search_reads_the_labels_and_says_so(
    pg_database: tuple[str, str], pg_cluster: PgCluster, caplog: pytest.LogCaptureFixture
) -> None:
    """A database whose owner is not the workstation's role: the role may create tables
    in the public schema but not extensions (trusted extensions need CREATE on the
    database). The repository works without the index and logs why, once; when a DBA
    adds the extension, the next start builds the index."""
    url, _ = pg_database
    database = url.rsplit("/", 1)[1]
    role = f"kcw_limited_{database}"
    with psycopg.connect(pg_cluster.admin_conninfo(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'limited-password'")
    try:
        with psycopg.connect(pg_cluster.admin_conninfo(database), autocommit=True) as conn:
            conn.execute(f"GRANT CREATE ON SCHEMA public TO {role}")
        limited = f"postgresql://{role}@{pg_cluster.host}:{pg_cluster.port}/{database}"
        repo = PostgresRepository(limited, password="limited-password")
        try:
            with caplog.at_level(logging.WARNING, "workstation.adapters.repository_postgres"):
                repo.create()
                fill(repo, keys=40)
                assert _labels(repo, "ZMK-003") == [f"ZMK-{n:04d}" for n in range(30, 40)]
                assert _labels(repo, "k-") == [f"ZMK-{n:04d}" for n in range(1, 41)]
            warnings = [r for r in caplog.records if "pg_trgm" in r.getMessage()]
            assert len(warnings) == 1
            assert "no trigram index" in warnings[0].getMessage()
            assert not _label_index(pg_cluster, database)
        finally:
            repo.close()
        with psycopg.connect(pg_cluster.admin_conninfo(database), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_trgm")  # the DBA allows it after all
        again = PostgresRepository(limited, password="limited-password")
        try:
            assert _labels(again, "zmk-000") == [f"ZMK-{n:04d}" for n in range(1, 10)]
            assert _label_index(pg_cluster, database)
        finally:
            again.close()
    finally:
        with psycopg.connect(pg_cluster.admin_conninfo(database), autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
        with psycopg.connect(pg_cluster.admin_conninfo(), autocommit=True) as conn:
            conn.execute(f"DROP ROLE {role}")
