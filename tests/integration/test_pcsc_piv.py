"""The PC/SC adapter against real pcscd, the vpcd virtual readers and virtual PIV cards."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from tests.fixtures.pcsc import VirtualCards
from workstation.adapters.smartcard_pcsc import PcscCardReaders, PcscPivCard
from workstation.devtools import vcard_cli
from workstation.devtools.card_issuer import KeyType
from workstation.devtools.pcscd import READER_PREFIX
from workstation.errors import (
    AuthenticationFailed,
    BadInput,
    CardBlocked,
    CardError,
    CardRemoved,
    NoCardPresent,
    PinIncorrect,
)
from workstation.services.ports import PivCard, ReaderStatus

pytestmark = pytest.mark.pcsc

PIN = "123456"


def pin(text: str) -> bytearray:
    return bytearray(text.encode())


@pytest.fixture
def readers(pcsc_readers: list[str]) -> PcscCardReaders:
    return PcscCardReaders(reader_filter=READER_PREFIX)


@pytest.fixture
def connect(readers: PcscCardReaders) -> Iterator[Callable[[str], PcscPivCard]]:
    """Connect, closing every connection at teardown."""
    opened: list[PcscPivCard] = []

    def _connect(reader: str) -> PcscPivCard:
        card = readers.connect(reader)
        opened.append(card)
        return card

    yield _connect
    for card in opened:
        card.close()


def test_list_the_virtual_readers(readers: PcscCardReaders, pcsc_readers: list[str]) -> None:
    statuses = readers.readers()
    assert [s.name for s in statuses] == sorted(pcsc_readers)
    assert len(statuses) == 6
    assert not any(s.card_present for s in statuses)


def test_a_filter_hides_other_readers(pcsc_readers: list[str]) -> None:
    only = PcscCardReaders(reader_filter="reader 2 00 01")
    assert [s.name for s in only.readers()] == ["KCW Virtual Reader 2 00 01"]
    with pytest.raises(CardError, match="not one of this workstation's readers"):
        only.connect(pcsc_readers[0])


def test_insert_and_read_the_certificate(
    virtual_cards: VirtualCards, readers: PcscCardReaders, connect: Callable[[str], PcscPivCard]
) -> None:
    card = virtual_cards.issue("Alice Example")
    reader = virtual_cards.insert(card, 1)
    assert ReaderStatus(reader, True) in readers.readers()
    piv: PivCard = connect(reader)
    assert piv.reader == reader
    der = piv.authentication_certificate()
    assert der == card.certificate_der
    cn = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(
        x509.NameOID.COMMON_NAME
    )
    assert cn[0].value == "Alice Example"
    assert piv.pin_retries_left() == 3
    assert piv.still_present()


def test_no_card_and_unknown_reader(readers: PcscCardReaders, pcsc_readers: list[str]) -> None:
    with pytest.raises(NoCardPresent) as caught:
        readers.connect(pcsc_readers[3])
    assert "no card" in caught.value.user_message()
    assert caught.value.detail  # the PC/SC code, for the log
    with pytest.raises(CardError, match="not available"):
        readers.connect(f"{READER_PREFIX} 9 00 00")


def test_wrong_pin_shows_the_tries_left(
    virtual_cards: VirtualCards, connect: Callable[[str], PcscPivCard]
) -> None:
    piv = connect(virtual_cards.insert(virtual_cards.issue("Bob"), 0))
    with pytest.raises(PinIncorrect) as caught:
        piv.verify_pin(pin("654321"))
    assert caught.value.retries_left == 2
    assert "2 tries left" in caught.value.user_message()
    assert piv.pin_retries_left() == 2
    piv.verify_pin(pin(PIN))
    assert piv.pin_retries_left() is None  # verified: the card does not count any more


def test_three_wrong_pins_block_the_card(
    virtual_cards: VirtualCards, connect: Callable[[str], PcscPivCard]
) -> None:
    card = virtual_cards.issue("Carol")
    piv = connect(virtual_cards.insert(card, 0))
    left = []
    for _ in range(3):
        with pytest.raises(PinIncorrect) as caught:
            piv.verify_pin(pin("000000"))
        left.append(caught.value.retries_left)
    assert left == [2, 1, 0]
    with pytest.raises(CardBlocked):
        piv.verify_pin(pin(PIN))
    assert piv.pin_retries_left() == 0
    piv.close()
    virtual_cards.remove(0)
    again = connect(virtual_cards.insert(card, 2))  # still blocked in another reader
    with pytest.raises(CardBlocked):
        again.verify_pin(pin(PIN))


@pytest.mark.parametrize("bad", ["12345", "123456789", "12345a", "", "12 3456"])
def test_pin_of_the_wrong_form_is_refused_before_the_card(
    virtual_cards: VirtualCards, connect: Callable[[str], PcscPivCard], bad: str
) -> None:
    piv = connect(virtual_cards.insert(virtual_cards.issue("Dan"), 0))
    with pytest.raises(BadInput, match="6 to 8 digits"):
        piv.verify_pin(pin(bad))
    assert piv.pin_retries_left() == 3


@pytest.mark.parametrize("key_type", ["ec-p256", "rsa-2048"])
def test_sign_after_the_pin_verifies_with_the_certificate(
    virtual_cards: VirtualCards, connect: Callable[[str], PcscPivCard], key_type: KeyType
) -> None:
    card = virtual_cards.issue("Erin", key_type=key_type)
    piv = connect(virtual_cards.insert(card, 4))
    message = b"logon challenge " + bytes(range(64))
    with pytest.raises(AuthenticationFailed, match="PIN"):
        piv.sign(message)
    secret = pin(PIN)
    piv.verify_pin(secret)
    signature = piv.sign(message)
    public_key = x509.load_der_x509_certificate(piv.authentication_certificate()).public_key()
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        with pytest.raises(InvalidSignature):
            public_key.verify(signature, message + b"!", ec.ECDSA(hashes.SHA256()))
    else:
        assert isinstance(public_key, rsa.RSAPublicKey)
        assert len(signature) == 256
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_change_pin(virtual_cards: VirtualCards, connect: Callable[[str], PcscPivCard]) -> None:
    piv = connect(virtual_cards.insert(virtual_cards.issue("Fay"), 0))
    with pytest.raises(PinIncorrect):
        piv.change_pin(pin("999999"), pin("24681357"))
    with pytest.raises(BadInput, match="new PIN"):
        piv.change_pin(pin(PIN), pin("1234"))
    piv.change_pin(pin(PIN), pin("24681357"))
    assert piv.pin_retries_left() == 3  # the right PIN reset the counter
    with pytest.raises(PinIncorrect):
        piv.verify_pin(pin(PIN))
    piv.verify_pin(pin("24681357"))


def test_close_ends_the_pin_session(virtual_cards: VirtualCards, readers: PcscCardReaders) -> None:
    reader = virtual_cards.insert(virtual_cards.issue("Gus"), 0)
    with readers.connect(reader) as piv:
        piv.verify_pin(pin(PIN))
        assert piv.pin_retries_left() is None
    with readers.connect(reader) as again:
        assert again.pin_retries_left() == 3  # the reset at close dropped the verification
        with pytest.raises(AuthenticationFailed):
            again.sign(b"x")
    with pytest.raises(CardError, match="closed"):
        piv.verify_pin(pin(PIN))


def test_a_held_card_is_exclusive(
    virtual_cards: VirtualCards, readers: PcscCardReaders, connect: Callable[[str], PcscPivCard]
) -> None:
    reader = virtual_cards.insert(virtual_cards.issue("Hal"), 0)
    connect(reader)
    with pytest.raises(CardError, match="in use"):
        readers.connect(reader)


def test_removal_is_seen_by_still_present_and_by_the_watch(
    virtual_cards: VirtualCards, readers: PcscCardReaders, connect: Callable[[str], PcscPivCard]
) -> None:
    card = virtual_cards.issue("Ivy")
    changes: queue.Queue[list[ReaderStatus]] = queue.Queue()
    watch = readers.watch(changes.put)
    try:
        reader = virtual_cards.insert(card, 5)
        assert _next_where(changes, lambda s: _present(s, reader))
        piv = connect(reader)
        piv.verify_pin(pin(PIN))
        assert piv.still_present()

        virtual_cards.remove(5)
        assert _next_where(changes, lambda s: not _present(s, reader))
        assert not piv.still_present()
        with pytest.raises(CardRemoved):
            piv.sign(b"after removal")

        virtual_cards.insert(card, 5)  # the same card back in the same reader
        assert _next_where(changes, lambda s: _present(s, reader))
        assert not piv.still_present()  # a new card session, not this connection's
        fresh = connect(reader)  # the old handle let go: the card can be used again
        assert fresh.still_present()
        assert fresh.pin_retries_left() == 3
    finally:
        watch.stop()


def test_watch_stops_promptly_and_reports_nothing_after(
    virtual_cards: VirtualCards, readers: PcscCardReaders
) -> None:
    changes: queue.Queue[list[ReaderStatus]] = queue.Queue()
    watch = readers.watch(changes.put)
    watch.stop()
    assert not watch.running  # stop() returns once the thread has ended
    virtual_cards.insert(virtual_cards.issue("Jon"), 3)
    assert changes.empty()


def test_a_failing_callback_does_not_end_the_watch(
    virtual_cards: VirtualCards, readers: PcscCardReaders
) -> None:
    changes: queue.Queue[list[ReaderStatus]] = queue.Queue()
    calls = 0

    def flaky(statuses: list[ReaderStatus]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the first callback fails")
        changes.put(statuses)

    watch = readers.watch(flaky)
    try:
        card = virtual_cards.issue("Kim")
        reader = virtual_cards.insert(card, 0)
        virtual_cards.remove(0)
        assert _next_where(changes, lambda s: not _present(s, reader))
    finally:
        watch.stop()


def test_vcard_cli_daemon_inserts_and_removes(
    pcsc_readers: list[str], readers: PcscCardReaders, tmp_path: Path
) -> None:
    state = tmp_path / "vcard"
    card_file = tmp_path / "lee.json"
    assert vcard_cli.main(["create", "--state", str(state), "--out", str(card_file),
                           "--name", "Lee", "--pin", PIN]) == 0  # fmt: skip
    assert vcard_cli.main(["serve", "--state", str(state)]) == 0
    try:
        assert (
            vcard_cli.main(["insert", str(card_file), "--reader", "5", "--state", str(state)]) == 0
        )
        assert ReaderStatus(pcsc_readers[5], True) in readers.readers()
        with readers.connect(pcsc_readers[5]) as piv:
            piv.verify_pin(pin(PIN))
        client = vcard_cli.DaemonClient(state)
        assert client.status()["readers"][5]["holder"] == "Lee"
        assert client.remove(5) == pcsc_readers[5]
        assert client.insert(card_file, pcsc_readers[5]) == pcsc_readers[5]
        assert (
            vcard_cli.main(["insert", str(card_file), "--reader", "4", "--state", str(state)]) == 1
        )
        assert vcard_cli.main(["remove", "--reader", pcsc_readers[5], "--state", str(state)]) == 0
        assert ReaderStatus(pcsc_readers[5], False) in readers.readers()
    finally:
        assert vcard_cli.main(["stop", "--state", str(state)]) == 0
    assert not vcard_cli.DaemonClient(state).running()
    assert pcsc_readers[0] in [s.name for s in readers.readers()]  # the shared pcscd still runs


def test_verify_query_round_trips(
    virtual_cards: VirtualCards, connect: Callable[[str], PcscPivCard]
) -> None:
    """100 VERIFY status queries through pcscd; prints the figure, asserts no timing."""
    piv = connect(virtual_cards.insert(virtual_cards.issue("Max"), 0))
    start = time.perf_counter()
    results = {piv.pin_retries_left() for _ in range(100)}
    elapsed = time.perf_counter() - start
    assert results == {3}
    print(f"VERIFY status round trip: {elapsed * 10:.3f} ms per APDU")


# --- helpers -----------------------------------------------------------------------------


def _present(statuses: list[ReaderStatus], reader: str) -> bool:
    return any(s.name == reader and s.card_present for s in statuses)


def _next_where(
    changes: queue.Queue[list[ReaderStatus]],
    predicate: Callable[[list[ReaderStatus]], bool],
    timeout: float = 10.0,
) -> bool:
    """Take watch reports until one satisfies ``predicate``; False after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            statuses = changes.get(timeout=remaining)
        except queue.Empty:
            return False
        if predicate(statuses):
            return True
