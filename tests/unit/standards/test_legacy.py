"""Keys under a ZMK without a key block: round trips, independent values, refusals."""

from __future__ import annotations

import doctest
import random

import pytest
from psec import des as psec_des

from workstation.standards import legacy
from workstation.standards.legacy import (
    WARNING,
    LegacyKeyError,
    decrypt_under_zmk,
    encrypt_under_zmk,
)

pytestmark = pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")

ZMK2 = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
ZMK3 = bytes.fromhex("0123456789ABCDEFFEDCBA987654321089ABCDEF01234567")


@pytest.mark.parametrize("zmk", [ZMK2, ZMK3], ids=["2TDEA", "3TDEA"])
@pytest.mark.parametrize("key_len", [8, 16, 24])
def test_round_trip(zmk, key_len):
    key = random.Random(key_len).randbytes(key_len)
    encrypted = encrypt_under_zmk(zmk, key)
    assert len(encrypted) == key_len
    assert encrypted != key
    assert decrypt_under_zmk(zmk, encrypted) == key


def test_zero_key_under_the_pyemv_key_gives_its_published_check_value():
    # TDES-ECB of zeros under 0123..3210 is the key's check value: 08D7 published by
    # knovichikhin/pyemv tests/test_kd_hsm.py (vectors.json kcv-tdes-1), 08D7B4 in 3 bytes.
    assert encrypt_under_zmk(ZMK2, bytes(8))[:3] == bytes.fromhex("08D7B4")


@pytest.mark.parametrize("zmk", [ZMK2, ZMK3], ids=["2TDEA", "3TDEA"])
def test_each_eight_bytes_are_enciphered_alone_as_psec_computes(zmk):
    key = bytes.fromhex("F039121BEC83D26B169BDCD5B22AAF8F3F419E1CB7079442")
    expected = psec_des.encrypt_tdes_ecb(zmk, key)
    assert encrypt_under_zmk(zmk, key) == expected
    # ECB: swapping the encrypted halves swaps the clear halves, which is why PCI wants
    # key blocks instead.
    swapped = expected[8:16] + expected[:8]
    assert decrypt_under_zmk(zmk, swapped) == key[8:16] + key[:8]


def test_bytearrays_are_accepted_and_left_alone():
    zmk, key = bytearray(ZMK2), bytearray(range(16))
    assert decrypt_under_zmk(zmk, bytearray(encrypt_under_zmk(zmk, key))) == bytes(key)
    assert (zmk, key) == (bytearray(ZMK2), bytearray(range(16)))


REFUSALS = [
    (
        lambda: decrypt_under_zmk(bytes(8), bytes(16)),
        "ZMK length 8 is not 16 or 24 bytes (a TDES key)",
    ),
    (
        lambda: encrypt_under_zmk(bytes(32), bytes(16)),
        "ZMK length 32 is not 16 or 24 bytes (a TDES key)",
    ),
    (
        lambda: decrypt_under_zmk(ZMK2, bytes(12)),
        "Encrypted key length 12 is not 8, 16 or 24 bytes",
    ),
    (
        lambda: decrypt_under_zmk(ZMK2, bytes(32)),
        "Encrypted key length 32 is not 8, 16 or 24 bytes",
    ),
    (lambda: decrypt_under_zmk(ZMK2, b""), "Encrypted key length 0 is not 8, 16 or 24 bytes"),
    (lambda: encrypt_under_zmk(ZMK3, bytes(7)), "Key length 7 is not 8, 16 or 24 bytes"),
]


@pytest.mark.parametrize(("action", "message"), REFUSALS, ids=[m for _, m in REFUSALS])
def test_refusal_message(action, message):
    with pytest.raises(LegacyKeyError) as caught:
        action()
    assert str(caught.value) == message


def test_warning_names_the_requirement_and_the_limit():
    assert "PCI PIN Security Requirement 18-3" in WARNING
    assert "key blocks" in WARNING
    assert WARNING.endswith("accepted for import only")


def test_error_is_a_value_error():
    assert issubclass(LegacyKeyError, ValueError)


def test_doctests():
    result = doctest.testmod(legacy)
    assert result.attempted > 0
    assert result.failed == 0
