"""Properties of the DUKPT module, with hypothesis.

Random bytes and text either work or raise :class:`DukptError`, never another exception;
a transaction key computed top-down from the initial key equals the one reached by the
standard's recursive definition (the key of counter ``n`` is one derivation step from the
key of ``n`` with its lowest one-bit cleared), with that step written here a second time,
straight from the standards' register descriptions on pyca primitives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import event, given, settings
from hypothesis import strategies as st

from workstation.standards.dukpt import (
    DukptError,
    KeyType,
    KeyUsage,
    Ksn,
    KsnDescriptor,
    aes_derivation_key,
    aes_initial_key,
    aes_working_key,
    ksn_range,
    tdes_ipek,
    tdes_transaction_key,
    tdes_working_keys,
)

T = TypeVar("T")

PROPERTIES = settings(deadline=None, max_examples=200)

# Mostly lengths near the right ones, so that both outcomes are common.
KEYISH = st.one_of(
    st.binary(min_size=16, max_size=16),
    st.binary(min_size=24, max_size=24),
    st.binary(min_size=32, max_size=32),
    st.binary(max_size=40),
)
TDES_KSNISH = st.one_of(st.binary(min_size=10, max_size=10), st.binary(max_size=16))
# TDES KSNs with a used counter of at most 10 one-bits (in the low 11 bits), or anything.
TDES_KSNISH_USED = st.one_of(
    st.tuples(st.integers(0, (1 << 59) - 1), st.integers(1, 0x3FF)).map(
        lambda t: (t[0] << 21 | t[1]).to_bytes(10, "big")
    ),
    TDES_KSNISH,
)
AES_KSNISH = st.one_of(st.binary(min_size=12, max_size=12), st.binary(max_size=16))
IKIDISH = st.one_of(st.binary(min_size=8, max_size=8), st.binary(max_size=12))
KEY_TYPES = st.one_of(st.sampled_from(list(KeyType)), st.sampled_from(["AES128", "aes", ""]))
USAGES = st.one_of(st.sampled_from(list(KeyUsage)), st.integers(-5, 0x10000))
# AES KSNs with a used counter of at most 16 one-bits, or anything.
AES_KSNISH_USED = st.one_of(
    st.tuples(st.binary(min_size=8, max_size=8), st.integers(1, 0xFFFF)).map(
        lambda t: t[0] + t[1].to_bytes(4, "big")
    ),
    AES_KSNISH,
)
DESCRIPTORS = st.sampled_from(["A05", "906", "605", "615", "101", "AES", "F00", "A15", "x"])
KEY_LENGTHS = {"TDES2": 16, "TDES3": 24, "AES128": 16, "AES192": 24, "AES256": 32}
HEX = "0123456789ABCDEFabcdef"
HEXISH = st.text(alphabet=HEX + "FGZ ", max_size=26)
# ID fields: hex of every short length (so that some fit the descriptor), or anything.
ID_TEXT = st.one_of(
    st.integers(0, 10).flatmap(lambda n: st.text(HEX, min_size=n, max_size=n)), HEXISH
)
DESCRIPTOR_TEXT = st.one_of(
    st.text(HEX, min_size=3, max_size=3), st.sampled_from(["aes", "AES"]), st.text(max_size=5)
)
# KSN text of the lengths descriptors take (16 for 605, 17 for 615, 20, 24), or anything.
KSN_TEXT = st.one_of(
    *(st.text(HEX, min_size=n, max_size=n) for n in (16, 17, 20, 24)),
    HEXISH,
)


def outcome(call: Callable[[], T]) -> T | None:
    """The result, or None when the call refused with DukptError; anything else propagates."""
    try:
        result = call()
    except DukptError:
        event("refused")
        return None
    event("worked")
    return result


def counters(bits: int, most_ones: int) -> st.SearchStrategy[int]:
    """Valid, used counters: 1 to ``most_ones`` distinct one-bits below ``bits``."""
    positions = st.lists(st.integers(0, bits - 1), min_size=1, max_size=most_ones, unique=True)
    return positions.map(lambda ps: sum(1 << p for p in ps))


# --------------------------------------------------------------------------- random input


@PROPERTIES
@given(bdk=KEYISH, ksn=TDES_KSNISH)
def test_tdes_ipek_works_or_refuses(bdk: bytes, ksn: bytes) -> None:
    ipek = outcome(lambda: tdes_ipek(bdk, ksn))
    if ipek is not None:
        assert len(ipek) == 16
        assert (len(bdk), len(ksn)) == (16, 10)


@PROPERTIES
@given(ipek=KEYISH, ksn=TDES_KSNISH_USED)
def test_tdes_transaction_key_works_or_refuses(ipek: bytes, ksn: bytes) -> None:
    key = outcome(lambda: tdes_transaction_key(ipek, ksn))
    if key is not None:
        assert len(key) == 16
        counter = int.from_bytes(ksn, "big") & 0x1FFFFF
        assert 1 <= counter.bit_count() <= 10


@PROPERTIES
@given(key=KEYISH)
def test_tdes_working_keys_work_or_refuse(key: bytes) -> None:
    keys = outcome(lambda: tdes_working_keys(key))
    if keys is not None:
        values = [keys.pin, keys.mac_request, keys.mac_response]
        values += [keys.data_request, keys.data_response]
        assert all(len(v) == 16 for v in values)
        assert len(set(values)) == 5


@PROPERTIES
@given(bdk=KEYISH, ikid=IKIDISH, key_type=st.one_of(st.none(), KEY_TYPES))
def test_aes_initial_key_works_or_refuses(
    bdk: bytes, ikid: bytes, key_type: KeyType | str | None
) -> None:
    key = outcome(lambda: aes_initial_key(bdk, ikid, key_type=key_type))
    if key is not None:
        assert len(ikid) == 8
        assert len(key) <= len(bdk)
        assert len(key) in (16, 24, 32)


@PROPERTIES
@given(initial_key=KEYISH, ksn=AES_KSNISH)
def test_aes_derivation_key_works_or_refuses(initial_key: bytes, ksn: bytes) -> None:
    key = outcome(lambda: aes_derivation_key(initial_key, ksn))
    if key is not None:
        assert len(key) == len(initial_key)
        assert 1 <= int.from_bytes(ksn[8:], "big").bit_count() <= 16


@PROPERTIES
@given(key=KEYISH, ksn=AES_KSNISH_USED, usage=USAGES, key_type=KEY_TYPES)
def test_aes_working_key_works_or_refuses(
    key: bytes, ksn: bytes, usage: int, key_type: KeyType | str
) -> None:
    working = outcome(lambda: aes_working_key(key, ksn, usage, key_type))  # type: ignore[arg-type]
    if working is not None:
        assert usage not in (KeyUsage.KEY_DERIVATION, KeyUsage.KEY_DERIVATION_INITIAL_KEY)
        assert len(working) == KEY_LENGTHS[str(key_type)]


@PROPERTIES
@given(text=DESCRIPTOR_TEXT)
def test_descriptor_text_works_or_refuses(text: str) -> None:
    descriptor = outcome(lambda: KsnDescriptor.parse(text))
    if descriptor is not None:
        assert KsnDescriptor.parse(str(descriptor)) == descriptor
        assert str(descriptor) == text.upper()


@PROPERTIES
@given(text=KSN_TEXT, descriptor=st.one_of(st.none(), DESCRIPTORS))
def test_ksn_text_works_or_refuses(text: str, descriptor: str | None) -> None:
    ksn = outcome(lambda: Ksn.parse(text, descriptor))
    if ksn is not None:
        assert str(ksn).endswith(text.upper())
        assert Ksn.parse(str(ksn), ksn.descriptor) == ksn
        assert Ksn.from_bytes(ksn.to_bytes(), ksn.descriptor) == ksn


@PROPERTIES
@given(data=st.one_of(TDES_KSNISH, AES_KSNISH), descriptor=st.one_of(st.none(), DESCRIPTORS))
def test_ksn_bytes_work_or_refuse(data: bytes, descriptor: str | None) -> None:
    ksn = outcome(lambda: Ksn.from_bytes(data, descriptor))
    if ksn is not None:
        assert ksn.to_bytes() == data


def id_field(digits: int) -> st.SearchStrategy[str]:
    """Hex text of the descriptor's width (so that some KSNs are valid), or any short text."""
    return st.one_of(st.text(HEX, min_size=digits, max_size=digits), ID_TEXT)


@PROPERTIES
@given(
    descriptor=st.sampled_from(["A05", "906", "605", "615", "101", "AES"]),
    counter=st.one_of(st.integers(0, 0x1FF), st.integers(-2, 1 << 33)),
    data=st.data(),
)
def test_ksn_fields_work_or_refuse(descriptor: str, counter: int, data: st.DataObject) -> None:
    d = KsnDescriptor.parse(descriptor)
    bdk_id = data.draw(id_field(d.bdk_id_digits))
    sub_key_id = data.draw(id_field(d.sub_key_id_digits))
    device_id = data.draw(id_field(d.device_id_digits))
    ksn = outcome(lambda: Ksn(bdk_id, sub_key_id, device_id, counter, d))
    if ksn is not None:
        assert Ksn.from_bytes(ksn.to_bytes(), d) == ksn
        assert (ksn.bdk_id, ksn.sub_key_id, ksn.device_id) == (
            bdk_id.upper(),
            sub_key_id.upper(),
            device_id.upper(),
        )


# --------------------------------------------------------------------------- consistency


def des(key8: bytes, block: bytes) -> bytes:
    encryptor = Cipher(TripleDES(key8 * 3), modes.ECB()).encryptor()  # noqa: S305
    return encryptor.update(block) + encryptor.finalize()


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


C0 = bytes.fromhex("C0C0C0C000000000C0C0C0C000000000")


def reference_tdes_step(key: bytes, register: bytes) -> bytes:
    """X9.24-1:2009 A.2 non-reversible key generation, register by register."""
    crypto2 = xor(des(key[:8], xor(register, key[8:])), key[8:])
    key = xor(key, C0)
    crypto1 = xor(des(key[:8], xor(register, key[8:])), key[8:])
    return crypto1 + crypto2


def reference_aes_step(key: bytes, counter_data: bytes) -> bytes:
    """X9.24-3:2017 6.3: derivation data with usage 8000, one AES-ECB block per 128 bits."""
    algorithm, bits = {16: (2, 128), 24: (3, 192), 32: (4, 256)}[len(key)]
    out = b""
    for block in range(1, (bits + 127) // 128 + 1):
        head = bytes([1, block]) + (0x8000).to_bytes(2, "big")
        head += algorithm.to_bytes(2, "big") + bits.to_bytes(2, "big")
        encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
        out += encryptor.update(head + counter_data) + encryptor.finalize()
    return out[: len(key)]


@PROPERTIES
@given(
    bdk=st.binary(min_size=16, max_size=16),
    identity=st.integers(0, (1 << 59) - 1),
    counter=counters(21, 10),
)
def test_tdes_key_of_counter_n_is_one_step_from_its_parent(
    bdk: bytes, identity: int, counter: int
) -> None:
    ksn = ((identity << 21) | counter).to_bytes(10, "big")
    ipek = tdes_ipek(bdk, ksn)
    parent = counter & (counter - 1)  # the lowest one-bit cleared
    if parent:
        parent_key = tdes_transaction_key(ipek, ((identity << 21) | parent).to_bytes(10, "big"))
    else:
        parent_key = ipek
    register = ksn[2:]  # the rightmost 64 bits, with the counter bits of n set
    assert tdes_transaction_key(ipek, ksn) == reference_tdes_step(parent_key, register)


@PROPERTIES
@given(
    bdk=st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    ikid=st.binary(min_size=8, max_size=8),
    counter=counters(32, 16),
)
def test_aes_key_of_counter_n_is_one_step_from_its_parent(
    bdk: bytes, ikid: bytes, counter: int
) -> None:
    initial_key = aes_initial_key(bdk, ikid)
    parent = counter & (counter - 1)
    if parent:
        parent_key = aes_derivation_key(initial_key, ikid + parent.to_bytes(4, "big"))
    else:
        parent_key = initial_key
    ksn = ikid + counter.to_bytes(4, "big")
    expected = reference_aes_step(parent_key, ikid[4:] + counter.to_bytes(4, "big"))
    assert aes_derivation_key(initial_key, ksn) == expected


@PROPERTIES
@given(
    descriptor=st.sampled_from(["A05", "906", "605", "615", "101", "AES"]),
    seed=st.integers(0, (1 << 64) - 1),
    count=st.integers(0, 40),
)
def test_ksn_ranges_are_consecutive_or_refused_whole(
    descriptor: str, seed: int, count: int
) -> None:
    d = KsnDescriptor.parse(descriptor)
    digits = f"{seed:016X}"
    device = int(digits[: d.device_id_digits], 16)
    if d.scheme == "TDES":
        device &= ~1
    first = Ksn(
        digits[-d.bdk_id_digits :],
        "0" * d.sub_key_id_digits,
        f"{device:0{d.device_id_digits}X}",
        0,
        d,
    )
    ksns = outcome(lambda: list(ksn_range(first, count)))
    unit = 2 if d.scheme == "TDES" else 1  # TDES: the device ID's last bit is the counter's
    if ksns is None:
        assert count > 0
        assert device + unit * (count - 1) >= 16**d.device_id_digits
        return
    assert len(ksns) == count
    step = 1 << (21 if d.scheme == "TDES" else 32)
    values = [int.from_bytes(k.to_bytes(), "big") for k in ksns]
    assert values == [values[0] + i * step for i in range(count)]
    assert all(k.counter == 0 and k.descriptor == d for k in ksns)
    if count:
        assert ksns[0] == first
