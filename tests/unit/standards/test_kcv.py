"""Key check values: every published vector, the vendor variant, every refusal's message.

The vectors are those of /work/shared/vectors/vectors.json (``kcv``), described with their
sources in /work/shared/vectors/VECTORS.md §1 and copied below so the tests stand alone; one
test checks the table still equals the file where it exists. psec 1.3.0 is the independent
peer for the TDES legacy method.
"""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psec import des as psec_des

from workstation.standards import kcv
from workstation.standards.kcv import (
    KcvError,
    KcvMatch,
    KcvMethod,
    default_length,
    default_method,
    identify,
    key_check_value,
)

pytestmark = pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")

VECTORS_FILE = Path("/work/shared/vectors/vectors.json")

TDES_LEGACY, AES_CMAC, AES_ECB = "tdes_legacy_ecb_zeros", "aes_cmac_zeros", "aes_ecb_zeros"

# (id, method as the collection names it, key, published check value)
KCV_VECTORS = [
    # knovichikhin/pyemv@cf6b82d7a1 tests/test_kd_hsm.py: iss_mk key_check_digits (2 bytes)
    ("kcv-tdes-1", TDES_LEGACY, "0123456789ABCDEFFEDCBA9876543210", "08D7"),
    # openemv/tr31@d230c28466 test/tr31_decrypt_test.c: TR-31:2018 A.7.2.1, A.7.2.2, A.7.3.1,
    # A.7.3.2 keys, payShield 10k keys (test1, test7) and the ISO 20038:2017 B.2 key (test9)
    ("kcv-tdes-2", TDES_LEGACY, "F039121BEC83D26B169BDCD5B22AAF8F", "CB9DEA"),
    ("kcv-tdes-3", TDES_LEGACY, "3F419E1CB7079442AA37474C2EFBF8B8", "57C409"),
    ("kcv-tdes-4", TDES_LEGACY, "EDB380DD340BC2620247D445F5B8D678", "F4B08D"),
    ("kcv-tdes-5", TDES_LEGACY, "E8BC63E5479455E26577F715D587FE68", "9A4212"),
    ("kcv-tdes-6", TDES_LEGACY, "5DB50B454F8389ADCE573BE50861F2BF", "5C9405"),
    ("kcv-tdes-7", TDES_LEGACY, "1FA1F7CEC798D91545DA8AE0C7796BD9", "FF5087"),
    ("kcv-tdes-8", TDES_LEGACY, "777261707065642033444553206B6579", "B29D42"),
    # openemv/tr31@d230c28466 test/tr31_decrypt_test.c: TR-31:2018 A.7.4 (3 bytes), X9.143:2021
    # 8.1 (5 bytes), the KP blocks of X9.143:2021 8.5 and 8.6, payShield 10k AES-256 (test8)
    ("kcv-aes-1", AES_CMAC, "3F419E1CB7079442AA37474C2EFBF8B8", "08793E"),
    ("kcv-aes-1-5byte", AES_CMAC, "3F419E1CB7079442AA37474C2EFBF8B8", "08793E25AB"),
    ("kcv-aes-2", AES_CMAC, "FA36E44278DB3AB5F298F9F7DA8F1F88", "D77F007724"),
    (
        "kcv-aes-3",
        AES_CMAC,
        "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6",
        "2331550BC9",
    ),
    (
        "kcv-aes-4",
        AES_CMAC,
        "BE19E6A07A760F10EF8E83A226B63AAD141F463FDDD4F47DB244B4023EC3CACC",
        "0A00E3",
    ),
    # NIST AESAVS known answers (GFSbox/KeySbox and VarKey count 0): AES-ECB of zeros
    ("kcv-aes-ecb-1", AES_ECB, "00000000000000000000000000000000", "66E94B"),
    ("kcv-aes-ecb-2", AES_ECB, "80000000000000000000000000000000", "0EDD33"),
    (
        "kcv-aes-ecb-3",
        AES_ECB,
        "0000000000000000000000000000000000000000000000000000000000000000",
        "DC95C0",
    ),
]
METHODS = {
    TDES_LEGACY: ("TDES", KcvMethod.TDES_ECB_ZEROS),
    AES_CMAC: ("AES", KcvMethod.CMAC_ZEROS),
    AES_ECB: ("AES", KcvMethod.AES_ECB_ZEROS),
}
IDS = [v[0] for v in KCV_VECTORS]


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def test_table_matches_the_shared_vector_file():
    if not VECTORS_FILE.exists():
        pytest.skip("the shared vector collection is not on this machine")
    published = json.loads(VECTORS_FILE.read_text())["kcv"]
    assert [(v["id"], v["algorithm"], v["key"], v["kcv"]) for v in published] == KCV_VECTORS


@pytest.mark.parametrize(("vector_id", "method", "key", "value"), KCV_VECTORS, ids=IDS)
def test_published_check_value(vector_id, method, key, value):
    family, kcv_method = METHODS[method]
    computed = key_check_value(h(key), family=family, method=kcv_method, length=len(h(value)))
    assert computed == h(value)


@pytest.mark.parametrize(("vector_id", "method", "key", "value"), KCV_VECTORS, ids=IDS)
def test_identify_names_the_method_and_warns_only_for_the_vendor_variant(
    vector_id, method, key, value
):
    family, kcv_method = METHODS[method]
    match = identify(h(key), family=family, kcv=h(value))
    assert (match.method, match.length) == (kcv_method, len(h(value)))
    if kcv_method is KcvMethod.AES_ECB_ZEROS:
        x924 = key_check_value(h(key), family="AES", length=len(h(value))).hex().upper()
        assert match.warning == (
            f"check value {value} matches AES-ECB of zeros (vendor / PKCS#11 CKA_CHECK_VALUE "
            "style), not ANSI X9.24-1:2017; the X9.24-1:2017 A.3 value (CMAC of zeros) is "
            f"{x924}"
        )
    else:
        assert match.warning is None


# The same AES keys under the other methods, as VECTORS.md §1 lists them (derived by the
# collection's reference implementation and pyca, not published): the methods differ.
@pytest.mark.parametrize(
    ("key", "cmac5", "ecb3"),
    [
        ("3F419E1CB7079442AA37474C2EFBF8B8", "08793E25AB", "E5E07C"),
        ("FA36E44278DB3AB5F298F9F7DA8F1F88", "D77F007724", "73E306"),
        (
            "BE19E6A07A760F10EF8E83A226B63AAD141F463FDDD4F47DB244B4023EC3CACC",
            "0A00E31EEB",
            "E99CAE",
        ),
    ],
)
def test_the_aes_methods_give_different_values(key, cmac5, ecb3):
    assert key_check_value(h(key), family="AES") == h(cmac5)
    assert key_check_value(h(key), family="AES", method=KcvMethod.AES_ECB_ZEROS) == h(ecb3)


# X9.24-1:2017 A.3 applied to TDES keys (5 bytes), as derived in VECTORS.md §1.
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("0123456789ABCDEFFEDCBA9876543210", "0A82458664"),
        ("F039121BEC83D26B169BDCD5B22AAF8F", "20BD4EB115"),
        ("3F419E1CB7079442AA37474C2EFBF8B8", "C66363F72B"),
    ],
)
def test_tdes_cmac_check_values(key, value):
    assert key_check_value(h(key), family="TDES", method=KcvMethod.CMAC_ZEROS) == h(value)
    assert identify(h(key), family="TDES", kcv=h(value)) == KcvMatch(KcvMethod.CMAC_ZEROS, 5, None)


@settings(max_examples=100, deadline=None)
@given(key=st.binary(min_size=16, max_size=16) | st.binary(min_size=24, max_size=24))
def test_tdes_legacy_agrees_with_psec(key):
    assert key_check_value(key, family="TDES") == psec_des.generate_kcv(key, 3)


def test_defaults():
    assert default_method("TDES") is KcvMethod.TDES_ECB_ZEROS
    assert default_method("AES") is KcvMethod.CMAC_ZEROS
    assert [default_length(m) for m in KcvMethod] == [3, 5, 3]
    assert key_check_value(h(KCV_VECTORS[0][2]), family="TDES") == h("08D7B4")
    assert len(key_check_value(bytes(32), family="AES")) == 5


def test_bytearray_keys_and_single_des():
    key = bytearray(h("0123456789ABCDEF"))
    assert key_check_value(key, family="TDES") == key_check_value(bytes(key) * 3, family="TDES")
    assert key == bytearray(h("0123456789ABCDEF"))


REFUSALS = [
    (
        lambda: key_check_value(bytes(16), family="DES"),
        "Key family 'DES' is not 'TDES' or 'AES'",
    ),
    (
        lambda: key_check_value(bytes(10), family="TDES"),
        "Key length 10 is not a TDES key length (8, 16 or 24 bytes)",
    ),
    (
        lambda: key_check_value(bytes(8), family="AES"),
        "Key length 8 is not an AES key length (16, 24 or 32 bytes)",
    ),
    (
        lambda: key_check_value(bytes(16), family="AES", method=KcvMethod.TDES_ECB_ZEROS),
        "KCV method tdes-ecb-zeros needs a TDES key, not an AES key",
    ),
    (
        lambda: key_check_value(bytes(16), family="TDES", method=KcvMethod.AES_ECB_ZEROS),
        "KCV method aes-ecb-zeros needs an AES key, not a TDES key",
    ),
    (
        lambda: key_check_value(bytes(16), family="TDES", length=9),
        "KCV length 9 is not between 2 and 8 (the TDES block size)",
    ),
    (
        lambda: key_check_value(bytes(16), family="AES", length=1),
        "KCV length 1 is not between 2 and 16 (the AES block size)",
    ),
    (
        lambda: default_length("sha1-of-key"),  # type: ignore[arg-type]
        "KCV method 'sha1-of-key' is not one of tdes-ecb-zeros, cmac-zeros, aes-ecb-zeros",
    ),
    (
        lambda: identify(bytes(16), family="AES", kcv=b"\x01"),
        "Key check value of 1 byte is not between 2 and 16 bytes",
    ),
    (
        lambda: identify(bytes(16), family="TDES", kcv=bytes(9)),
        "Key check value of 9 bytes is longer than the TDES block (8 bytes)",
    ),
    (
        lambda: identify(h("0123456789ABCDEFFEDCBA9876543210"), family="TDES", kcv=h("08D7B5")),
        "Key check value 08D7B5 does not match the key: expected 08D7B4 (TDES-ECB of zeros, "
        "X9.24-1:2017 A.2)",
    ),
    (
        lambda: identify(h("3F419E1CB7079442AA37474C2EFBF8B8"), family="AES", kcv=h("57C409")),
        "Key check value 57C409 does not match the key: expected 08793E (CMAC of zeros, "
        "X9.24-1:2017 A.3)",
    ),
]


@pytest.mark.parametrize(("action", "message"), REFUSALS, ids=[m[:50] for _, m in REFUSALS])
def test_refusal_message(action, message):
    with pytest.raises(KcvError) as caught:
        action()
    assert str(caught.value) == message


def test_a_tdes_check_value_is_never_matched_by_the_vendor_aes_method():
    # The vendor variant is an AES-only fallback: a TDES key's AES-looking value is refused.
    with pytest.raises(KcvError, match="TDES-ECB of zeros"):
        identify(h("3F419E1CB7079442AA37474C2EFBF8B8"), family="TDES", kcv=h("E5E07C"))


def test_error_is_a_value_error():
    assert issubclass(KcvError, ValueError)


def test_doctests():
    result = doctest.testmod(kcv)
    assert result.attempted > 0
    assert result.failed == 0
