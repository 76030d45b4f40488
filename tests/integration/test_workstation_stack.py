"""The services on the real stack: SoftHSM2 through PKCS#11, pcscd + vpcd + virtual PIV
cards through pyscard, and a SQLite file.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

from tests.integration.test_hsm_pkcs11 import raw_session
from workstation.adapters.hsm_pkcs11 import MASTER_KEY_LABEL, Pkcs11Hsm
from workstation.adapters.repository_sqlite import SqliteRepository
from workstation.adapters.smartcard_pcsc import PcscCardReaders
from workstation.adapters.softhsm import SoftHsmToken
from workstation.bootstrap import setup_logging
from workstation.config import WorkstationConfig
from workstation.domain.keys import KeyState
from workstation.domain.people import Role
from workstation.domain.policy import Action
from workstation.errors import (
    AlreadyInitialised,
    CardBlocked,
    CardNotEnrolled,
    IntegrityError,
    PinIncorrect,
    QuorumNotMet,
    SessionLocked,
)
from workstation.services.app import WorkstationServices
from workstation.services.context import ServiceContext
from workstation.services.initialise import OfficerCard
from workstation.services.ports import KeyQuery
from workstation.services.session import Session

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

PIN = "123456"


def pin(text: str = PIN) -> bytearray:
    return bytearray(text.encode())


class Stack:
    def __init__(self, home: Path, hsm: Pkcs11Hsm, cards: Any) -> None:
        self.home = home
        self.db = home / "workstation.db"
        self.repo = SqliteRepository(self.db)
        self.readers = PcscCardReaders(reader_filter="KCW Virtual Reader")
        self.hsm = hsm
        self.cards = cards
        self.s = WorkstationServices(
            ServiceContext(repository=self.repo, hsm=hsm, readers=self.readers)
        )
        self.opened: list[Session] = []
        self.people = {
            n: cards.issue(n, PIN)
            for n in ("Olivia", "Oscar", "Cara", "Carl", "Sam", "Alex", "Stranger")
        }

    def initialise(self) -> None:
        r0 = self.cards.insert(self.people["Olivia"], 0)
        r1 = self.cards.insert(self.people["Oscar"], 1)
        self.s.init.initialise([OfficerCard(r0, "Olivia", pin()), OfficerCard(r1, "Oscar", pin())])
        session = self.session_of(r0, r1)
        for name, role in (
            ("Cara", Role.KEY_CUSTODIAN),
            ("Carl", Role.KEY_CUSTODIAN),
            ("Sam", Role.SUPERVISOR),
            ("Alex", Role.AUDITOR),
        ):
            reader = self.cards.insert(self.people[name], 5)
            self.s.people.enrol(session, name=name, roles=[role], reader=reader, pin=pin())
            self.cards.remove(5)
        session.close()
        self.cards.remove(0)
        self.cards.remove(1)

    def session_of(self, *readers: str) -> Session:
        session = self.s.logon.open_session()
        self.opened.append(session)
        for reader in readers:
            self.s.logon.log_on(session, reader, pin())
        return session

    def session(self, *names: str) -> Session:
        readers = [self.cards.insert(self.people[n], i) for i, n in enumerate(names)]
        return self.session_of(*readers)


@pytest.fixture
def stack(tmp_path: Path, hsm: Pkcs11Hsm, virtual_cards: Any) -> Iterator[Stack]:
    s = Stack(tmp_path, hsm, virtual_cards)
    yield s
    for session in s.opened:  # a failed test must not leave a card connection held
        session.close()
    s.repo.close()


def test_initialise_logon_and_dual_control_on_real_devices(stack: Stack) -> None:
    stack.initialise()
    r0 = stack.cards.insert(stack.people["Olivia"], 0)
    r1 = stack.cards.insert(stack.people["Oscar"], 1)
    with pytest.raises(AlreadyInitialised):
        stack.s.init.initialise([OfficerCard(r0, "Olivia", pin()), OfficerCard(r1, "Oscar", pin())])
    stack.cards.remove(0)
    stack.cards.remove(1)
    session = stack.session("Cara")
    with pytest.raises(QuorumNotMet, match="Still missing: 1 key custodian"):
        stack.s.keys.generate(session, "PIN encryption key")
    stack.s.logon.log_on(session, stack.cards.insert(stack.people["Carl"], 1), pin())
    keys = stack.s.keys.generate(session, "PIN encryption key", count=5).keys
    assert len({k.kcv for k in keys}) == 5
    for k in keys:
        assert stack.s.keys.verify(session, k.label).kcv == k.kcv
    stack.s.logon.log_on(session, stack.cards.insert(stack.people["Sam"], 2), pin())
    active = stack.s.keys.change_state(session, keys[0].label, Action.ACTIVATE_KEY)
    assert active.state is KeyState.ACTIVE
    session.close()
    assert stack.s.audit.verify(None).ok


def test_wrong_pin_blocked_and_unknown_card(stack: Stack) -> None:
    stack.initialise()
    session = stack.session_of()
    reader = stack.cards.insert(stack.people["Cara"], 0)
    with pytest.raises(PinIncorrect, match="2 tries left"):
        stack.s.logon.log_on(session, reader, pin("654321"))
    assert stack.s.logon.inspect(reader).retries_left == 2
    with pytest.raises(PinIncorrect):
        stack.s.logon.log_on(session, reader, pin("654321"))
    with pytest.raises(PinIncorrect, match="now blocked"):
        stack.s.logon.log_on(session, reader, pin("654321"))
    with pytest.raises(CardBlocked):
        stack.s.logon.log_on(session, reader, pin())
    stranger = stack.cards.insert(stack.people["Stranger"], 1)
    with pytest.raises(CardNotEnrolled):
        stack.s.logon.log_on(session, stranger, pin())


def _wait(condition: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_card_removed_in_the_middle_of_bulk_generation(stack: Stack) -> None:
    stack.initialise()
    session = stack.session("Cara", "Carl")
    watch = stack.s.logon.watch(session)
    try:
        removed = False

        def progress(done: int, total: int) -> None:
            nonlocal removed
            if not removed:
                removed = True
                stack.cards.remove(1)  # Carl pulls his card out
                _wait(lambda: len(session.members) == 1, "the watch to drop Carl")

        result = stack.s.keys.generate(session, "MAC key", count=600, progress=progress)
        # The first batch was authorised and committed; after that the session is no
        # longer what generation needs: the policy check refuses the rest.
        assert [m.name for m in session.members] == ["Cara"]
        assert 0 < len(result.keys) < 600
        with pytest.raises(QuorumNotMet):
            stack.s.keys.generate(session, "MAC key")
        stack.cards.remove(0)
        _wait(lambda: session.is_locked, "the session to lock")
        with pytest.raises(SessionLocked):
            stack.s.keys.generate(session, "MAC key")
    finally:
        watch.stop()
    with stack.repo.unit_of_work() as uow:
        assert uow.keys.count(KeyQuery()) == len(result.keys)
    assert stack.s.audit.verify(None).ok


def test_tampered_key_row_is_refused(stack: Stack) -> None:
    stack.initialise()
    session = stack.session("Cara", "Carl", "Sam")
    key = stack.s.keys.generate(session, "MAC key").keys[0]
    con = sqlite3.connect(stack.db)
    con.execute(
        'UPDATE keys SET record = replace(record, \'"key_usage":"M6"\', '
        '\'"key_usage":"K0"\') WHERE label = ?',
        (key.label,),
    )
    con.commit()
    con.close()
    with pytest.raises(IntegrityError, match="changed outside the workstation"):
        stack.s.keys.change_state(session, key.label, Action.ACTIVATE_KEY)


def _clear_value(token: SoftHsmToken, wrapped: bytes) -> bytes:
    """Test only: unwrap a stored key as an extractable object and read its value."""
    with raw_session(token) as session:
        master: Any = session.get_key(ObjectClass.SECRET_KEY, label=MASTER_KEY_LABEL)
        key = master.unwrap_key(
            ObjectClass.SECRET_KEY,
            KeyType.AES,
            wrapped,
            mechanism=Mechanism.AES_KEY_WRAP_PAD,
            store=False,
            template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True},
        )
        try:
            return bytes(key[Attribute.VALUE])
        finally:
            key.destroy()


def test_no_clear_key_bytes_on_disk(stack: Stack, hsm_token: SoftHsmToken) -> None:
    """Generate keys, then look for their clear values in the database, its WAL, the logs
    and the temp directory: none may be there (design invariant 1)."""
    started = time.time()
    setup_logging(WorkstationConfig(home=stack.home, hsm=None, database=stack.db), verbose=True)
    try:
        stack.initialise()
        session = stack.session("Cara", "Carl", "Sam")
        keys = stack.s.keys.generate(session, "PIN encryption key", count=50).keys
        stack.s.keys.change_state(session, keys[0].label, Action.ACTIVATE_KEY)
        session.close()
        secrets = []
        for k in keys:
            assert k.wrapped is not None
            value = _clear_value(hsm_token, k.wrapped)
            assert len(value) == 32
            secrets.append(value)
        files = [p for p in stack.home.rglob("*") if p.is_file()]
        assert any(p.name.endswith("-wal") for p in files) or stack.db.exists()
        tmp = Path(tempfile.gettempdir())
        for p in tmp.rglob("*"):
            try:
                if p.is_file() and p.stat().st_mtime >= started and p.stat().st_size < 50e6:
                    files.append(p)
            except OSError:
                continue
        assert (stack.home / "logs" / "workstation.log").exists()
        for path in files:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            for s in secrets:
                assert s not in data, f"clear key bytes found in {path}"
                assert s.hex().encode() not in data and s.hex().upper().encode() not in data
    finally:
        root = logging.getLogger("workstation")
        for h in [h for h in root.handlers if getattr(h, "_kcw", False)]:
            root.removeHandler(h)
            h.close()
    assert os.path.exists(stack.db)


def test_destroyed_key_leaves_no_wrapped_value_in_the_files(stack: Stack) -> None:
    """Destruction removes the material from the repository: not in the database file,
    nor in its write-ahead log (secure_delete + WAL checkpoint), while the record stays."""
    stack.initialise()
    session = stack.session("Olivia", "Sam", "Cara", "Carl")
    keys = stack.s.keys.generate(session, "MAC key", count=3).keys
    doomed = keys[1]
    assert doomed.wrapped is not None
    stack.s.keys.change_state(session, doomed.label, Action.DESTROY_KEY, reason="ceremony error")
    detail = stack.s.keys.detail(session, doomed.label)
    assert detail.key.state is KeyState.DESTROYED and detail.key.wrapped is None
    assert detail.integrity_ok
    needles = [doomed.wrapped, doomed.wrapped.hex().encode(), doomed.wrapped.hex().upper().encode()]
    kept = keys[0].wrapped
    assert kept is not None
    contents = b"".join(
        p.read_bytes() for p in stack.home.iterdir() if p.name.startswith("workstation.db")
    )
    assert kept.hex().encode() in contents  # the scan can see a wrapped value that is there
    for needle in needles:
        assert needle not in contents
