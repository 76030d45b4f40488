"""Clear key components: check values, parity, combining, splitting, typed entry."""

import doctest
import json
from pathlib import Path

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import assume, given
from hypothesis import strategies as st

from workstation.domain import components
from workstation.domain.algorithms import KeyAlgorithm, KeyFamily
from workstation.domain.components import (
    ComponentError,
    EntryState,
    check_entry,
    check_value,
    combine,
    format_groups,
    kcv_hex,
    odd_parity,
    parity_errors,
    parse_component,
    random_components,
    split,
)
from workstation.errors import BadInput, WorkstationError

TDES2, TDES3 = KeyAlgorithm.TDES_2KEY, KeyAlgorithm.TDES_3KEY
AES128, AES192, AES256 = KeyAlgorithm.AES_128, KeyAlgorithm.AES_192, KeyAlgorithm.AES_256
SYMMETRIC = [a for a in KeyAlgorithm if a.is_symmetric]

# The published KCVs collected in /work/shared/vectors/vectors.json ("kcv") and described in
# /work/shared/vectors/VECTORS.md §1, each with its original source. Where a source publishes
# fewer bytes than X9.24-1 keeps (3 for TDES, 5 for AES), the published ones are a prefix.
PUBLISHED_KCVS = [
    # kcv-tdes-1: knovichikhin/pyemv@cf6b82d7 tests/test_kd_hsm.py (2 bytes published)
    (TDES2, "0123456789ABCDEFFEDCBA9876543210", "08D7"),
    # kcv-tdes-2..5: openemv/tr31@d230c284 test/tr31_decrypt_test.c, TR-31:2018 A.7.2/A.7.3
    (TDES2, "F039121BEC83D26B169BDCD5B22AAF8F", "CB9DEA"),
    (TDES2, "3F419E1CB7079442AA37474C2EFBF8B8", "57C409"),
    (TDES2, "EDB380DD340BC2620247D445F5B8D678", "F4B08D"),
    (TDES2, "E8BC63E5479455E26577F715D587FE68", "9A4212"),
    # kcv-tdes-6, -7: same file, payShield 10k; kcv-tdes-8: ISO 20038:2017 B.2 key
    (TDES2, "5DB50B454F8389ADCE573BE50861F2BF", "5C9405"),
    (TDES2, "1FA1F7CEC798D91545DA8AE0C7796BD9", "FF5087"),
    (TDES2, "777261707065642033444553206B6579", "B29D42"),
    # kcv-aes-1: TR-31:2018 A.7.4 (3 bytes); kcv-aes-1-5byte: ANSI X9.143:2021 8.1
    (AES128, "3F419E1CB7079442AA37474C2EFBF8B8", "08793E"),
    (AES128, "3F419E1CB7079442AA37474C2EFBF8B8", "08793E25AB"),
    # kcv-aes-2, -3: KP optional blocks of ANSI X9.143:2021 8.5 and 8.6
    (AES128, "FA36E44278DB3AB5F298F9F7DA8F1F88", "D77F007724"),
    (
        AES256,
        "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6",
        "2331550BC9",
    ),
    # kcv-aes-4: openemv/tr31 test8 (payShield 10k, 3 bytes published)
    (
        AES256,
        "BE19E6A07A760F10EF8E83A226B63AAD141F463FDDD4F47DB244B4023EC3CACC",
        "0A00E3",
    ),
]

VECTORS_FILE = Path("/work/shared/vectors/vectors.json")

# A TDES-2KEY key with odd parity and its KCV (kcv-tdes-1).
KEY_08D7 = "0123456789ABCDEFFEDCBA9876543210"


def unhex(text: str) -> bytearray:
    return bytearray.fromhex(text)


def counting_source(start: int = 1):
    """A deterministic random source that also remembers what it handed out."""
    state = {"next": start, "given": []}

    def random_bytes(n: int) -> bytearray:
        value = bytearray((state["next"] + i) % 256 for i in range(n))
        state["next"] += n
        state["given"].append(value)
        return value

    return random_bytes, state["given"]


def source_from(rnd):
    return lambda n: bytearray(rnd.randbytes(n))


def is_weak(algorithm: KeyAlgorithm, key: bytes) -> bool:
    mask = 0xFE if algorithm.family is KeyFamily.TDES else 0xFF
    masked = bytes(b & mask for b in key)
    if not any(masked):
        return True
    if algorithm.family is not KeyFamily.TDES:
        return False
    return masked[0:8] == masked[8:16] or (len(key) == 24 and masked[8:16] == masked[16:24])


def with_odd_parity(value: bytes) -> bytearray:
    adjusted = bytearray(value)
    odd_parity(adjusted)
    return adjusted


def keys(algorithm: KeyAlgorithm):
    raw = st.binary(min_size=algorithm.key_bytes, max_size=algorithm.key_bytes)
    return raw.map(with_odd_parity) if algorithm.family is KeyFamily.TDES else raw.map(bytearray)


# --- check values ------------------------------------------------------------------------


@pytest.mark.parametrize(("algorithm", "key", "published"), PUBLISHED_KCVS)
def test_check_value_matches_published_vectors(algorithm, key, published):
    kcv = check_value(algorithm, unhex(key))
    assert len(kcv) == (3 if algorithm.family is KeyFamily.TDES else 5)
    assert kcv_hex(kcv).startswith(published)


def test_check_value_matches_every_kcv_in_the_shared_vector_file():
    if not VECTORS_FILE.exists():
        pytest.skip(f"{VECTORS_FILE} is not on this machine (the table above holds its values)")
    entries = json.loads(VECTORS_FILE.read_text())["kcv"]
    methods = {"tdes_legacy_ecb_zeros": KeyFamily.TDES, "aes_cmac_zeros": KeyFamily.AES}
    checked = 0
    for entry in entries:
        family = methods.get(entry["algorithm"])
        if family is None:  # the vendor AES-ECB method is not the one X9.24-1 defines
            continue
        bits = len(entry["key"]) * 4
        algorithm = TDES2 if family is KeyFamily.TDES else KeyAlgorithm(f"AES-{bits}")
        kcv = kcv_hex(check_value(algorithm, unhex(entry["key"])))
        assert kcv.startswith(entry["kcv"]), entry["id"]
        checked += 1
    assert checked >= 12


def test_the_tdes_kcv_of_kcv_tdes_1_in_full():
    # VECTORS.md: "the 3-byte value 08D7B4 is computed by every implementation checked here".
    assert check_value(TDES2, unhex(KEY_08D7)) == bytes.fromhex("08D7B4")


def single_des(key: bytes, block: bytes, *, decrypt: bool = False) -> bytes:
    # TDEA with K1 = K2 = K3 is single DES: an independent way to build the 3-key EDE.
    cipher = Cipher(TripleDES(key * 3), modes.ECB())  # noqa: S305
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(block) + op.finalize()


@given(keys(TDES3))
def test_tdes_3key_kcv_is_ede_of_zeros(key):
    k1, k2, k3 = bytes(key[0:8]), bytes(key[8:16]), bytes(key[16:24])
    expected = single_des(k3, single_des(k2, single_des(k1, bytes(8)), decrypt=True))
    assert check_value(TDES3, key) == expected[:3]


@given(keys(TDES2))
def test_a_double_length_key_is_k1_k2_k1(key):
    assert check_value(TDES2, key) == check_value(TDES3, key + key[:8])


def aes_cmac_of_zero_block(key: bytes) -> bytes:
    # NIST SP 800-38B for one complete zero block: T = AES(K, 0 XOR K1), K1 = dbl(AES(K, 0)).
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
    l_value = int.from_bytes(encryptor.update(bytes(16)), "big")
    k1 = (l_value << 1) & ((1 << 128) - 1)
    if l_value >> 127:
        k1 ^= 0x87
    return encryptor.update(k1.to_bytes(16, "big"))


@pytest.mark.parametrize("algorithm", [AES128, AES192, AES256])
@given(data=st.data())
def test_aes_kcv_is_cmac_of_a_zero_block(algorithm, data):
    key = data.draw(keys(algorithm))
    assert check_value(algorithm, key) == aes_cmac_of_zero_block(bytes(key))[:5]


@given(keys(TDES2))
def test_parity_bits_do_not_change_the_kcv(key):
    flipped = bytearray(b ^ 1 for b in key)
    assert check_value(TDES2, flipped) == check_value(TDES2, key)


@pytest.mark.parametrize(
    ("algorithm", "value", "message"),
    [
        (TDES2, bytes(15), "Key is 15 bytes long; a TDES-2KEY key has 16."),
        (TDES3, bytes(16), "Key is 16 bytes long; a TDES-3KEY key has 24."),
        (AES128, bytes(1), "Key is 1 byte long; an AES-128 key has 16."),
        (AES256, bytes(24), "Key is 24 bytes long; an AES-256 key has 32."),
        (
            KeyAlgorithm.RSA_2048,
            bytes(16),
            "RSA-2048 is not a secret-key algorithm: only TDES and AES keys are held as "
            "components.",
        ),
    ],
)
def test_check_value_refusals(algorithm, value, message):
    with pytest.raises(ComponentError) as caught:
        check_value(algorithm, value)
    assert caught.value.user_message() == message


def test_component_error_is_bad_input():
    assert issubclass(ComponentError, BadInput)
    assert issubclass(ComponentError, ValueError)


@pytest.mark.parametrize(
    ("kcv", "text"), [(bytes.fromhex("08d7b4"), "08D7B4"), (b"\x0a\x00\xe3\x1e\xeb", "0A00E31EEB")]
)
def test_kcv_hex(kcv, text):
    assert kcv_hex(kcv) == text


# --- parity ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "errors"),
    [
        ("00", "01", [0]),
        ("01", "01", []),
        ("FF", "FE", [0]),
        ("FE", "FE", []),
        ("0123456789ABCDEF", "0123456789ABCDEF", []),
        ("0022446688AACCEE", "0123456789ABCDEF", [0, 1, 2, 3, 4, 5, 6, 7]),
        ("0103", "0102", [1]),
    ],
)
def test_parity_table(before, after, errors):
    assert parity_errors(unhex(before)) == errors
    value = unhex(before)
    odd_parity(value)
    assert value.hex().upper() == after


@given(st.binary(max_size=40))
def test_odd_parity_changes_only_the_low_bits(raw):
    value = bytearray(raw)
    odd_parity(value)
    assert parity_errors(value) == []
    assert [b & 0xFE for b in value] == [b & 0xFE for b in raw]
    assert parity_errors(raw) == [
        i for i, (a, b) in enumerate(zip(raw, value, strict=True)) if a != b
    ]


# --- random components -------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", SYMMETRIC)
@pytest.mark.parametrize("count", [2, 3, 9])
def test_random_components(algorithm, count):
    made = random_components(algorithm, count, counting_source()[0])
    n = algorithm.key_bytes
    raw = [bytearray(b % 256 for b in range(1 + i * n, 1 + (i + 1) * n)) for i in range(count)]
    if algorithm.family is KeyFamily.TDES:
        raw = [with_odd_parity(r) for r in raw]
        assert all(parity_errors(c) == [] for c in made)
    assert all(isinstance(c, bytearray) for c in made)
    assert made == raw


@pytest.mark.parametrize(
    ("count", "message"),
    [
        (1, "A key is split into 2 to 9 components; 1 was asked for."),
        (0, "A key is split into 2 to 9 components; 0 were asked for."),
        (10, "A key is split into 2 to 9 components; 10 were asked for."),
    ],
)
def test_random_components_count_refused(count, message):
    with pytest.raises(ComponentError) as caught:
        random_components(TDES2, count, counting_source()[0])
    assert caught.value.message == message


def test_a_random_source_that_breaks_its_contract_is_a_failure_and_wipes_what_it_gave():
    given = []

    def short_third(n: int) -> bytearray:
        value = bytearray(b"\xaa" * (n if len(given) < 2 else n - 1))
        given.append(value)
        return value

    with pytest.raises(WorkstationError) as caught:
        random_components(AES128, 3, short_third)
    assert not isinstance(caught.value, BadInput)
    assert caught.value.message == "The random generator returned 15 bytes, not 16."
    assert all(not any(v) for v in given)


# --- combining ---------------------------------------------------------------------------


def test_combine_is_xor_with_odd_parity_for_tdes():
    c1 = unhex("0123456789ABCDEFFEDCBA9876543210")
    c2 = unhex("1010101010101010202020202020202A")
    key = combine(TDES2, [c1, c2])
    assert isinstance(key, bytearray)
    xor = bytes(a ^ b for a, b in zip(c1, c2, strict=True))
    assert [b & 0xFE for b in key] == [b & 0xFE for b in xor]
    assert parity_errors(key) == []
    assert check_value(TDES2, key) == check_value(TDES2, xor)


def test_combine_three_aes_components():
    parts = [unhex("11" * 32), unhex("22" * 32), unhex("48" * 32)]
    assert combine(AES256, parts) == unhex("7B" * 32)


def test_combine_keeps_the_components():
    parts = [unhex(KEY_08D7), unhex("01" * 16)]
    copies = [bytes(p) for p in parts]
    combine(TDES2, parts)
    assert [bytes(p) for p in parts] == copies


K1 = "0123456789ABCDEF"
K2 = "FEDCBA9876543210"
K3 = "89ABCDEF01234567"
ZERO8 = "0000000000000000"


@pytest.mark.parametrize(
    ("algorithm", "parts", "message"),
    [
        (TDES2, [KEY_08D7], "At least 2 components are needed to form a key; 1 was given."),
        (TDES2, [], "At least 2 components are needed to form a key; 0 were given."),
        (
            TDES2,
            [KEY_08D7, KEY_08D7[:30]],
            "Component 2 is 15 bytes long; a TDES-2KEY component has 16.",
        ),
        (
            AES256,
            [KEY_08D7 * 2, KEY_08D7 * 2, KEY_08D7 + "00"],
            "Component 3 is 17 bytes long; an AES-256 component has 32.",
        ),
        (
            TDES2,
            [KEY_08D7, KEY_08D7],
            "The components combine to a key of all zeros, which is refused: check that no "
            "component was entered twice.",
        ),
        (
            AES128,
            ["AB" * 16, "CD" * 16, "66" * 16],
            "The components combine to a key of all zeros, which is refused: check that no "
            "component was entered twice.",
        ),
        (
            # Parity bits are not key bits: 0101... is the all-zero TDES key.
            TDES2,
            [KEY_08D7, "0022446688AACCEEFEDCBA9876543210"],
            "The components combine to a key of all zeros, which is refused: check that no "
            "component was entered twice.",
        ),
        (
            TDES2,
            [K1 + K1, ZERO8 + ZERO8],
            "The components combine to a TDES key whose first and second 8-byte parts are "
            "equal (ignoring parity bits), so it would act as single DES; it is refused.",
        ),
        (
            # K1 and K2 differ only in their parity bits.
            TDES2,
            [K1 + "0022446688AACCEE", ZERO8 * 2],
            "The components combine to a TDES key whose first and second 8-byte parts are "
            "equal (ignoring parity bits), so it would act as single DES; it is refused.",
        ),
        (
            TDES3,
            [K1 + K1 + K3, ZERO8 * 3],
            "The components combine to a TDES key whose first and second 8-byte parts are "
            "equal (ignoring parity bits), so it would act as single DES; it is refused.",
        ),
        (
            TDES3,
            [K1 + K2 + K2, ZERO8 * 3],
            "The components combine to a TDES key whose second and third 8-byte parts are "
            "equal (ignoring parity bits), so it would act as single DES; it is refused.",
        ),
        (
            KeyAlgorithm.EC_P256,
            [KEY_08D7, KEY_08D7],
            "EC-P256 is not a secret-key algorithm: only TDES and AES keys are held as components.",
        ),
    ],
)
def test_combine_refusals(algorithm, parts, message):
    with pytest.raises(ComponentError) as caught:
        combine(algorithm, [unhex(p) for p in parts])
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("algorithm", "key"),
    [
        (TDES3, K1 + K2 + K1),  # keying option 2 in triple-length form: K1 = K3 is fine
        (AES128, K1 + K1),  # repeated halves mean nothing for AES
        (TDES2, K1 + K2),
    ],
)
def test_combine_accepts(algorithm, key):
    assert combine(algorithm, [unhex(key), bytearray(len(key) // 2)]) == unhex(key)


# --- splitting ---------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", SYMMETRIC)
@given(data=st.data())
def test_combine_of_split_is_the_key(algorithm, data):
    key = data.draw(keys(algorithm), label="key")
    count = data.draw(st.integers(2, 9), label="count")
    source = source_from(data.draw(st.randoms(use_true_random=False), label="random"))
    parts = split(algorithm, key, count, source)
    assert len(parts) == count
    assert all(len(p) == algorithm.key_bytes for p in parts)
    if algorithm.family is KeyFamily.TDES:
        assert all(parity_errors(p) == [] for p in parts)
    if is_weak(algorithm, key):
        with pytest.raises(ComponentError):
            combine(algorithm, parts)
    else:
        assert combine(algorithm, parts) == key
        assert kcv_hex(check_value(algorithm, key)) == kcv_hex(
            check_value(algorithm, combine(algorithm, list(reversed(parts))))
        )


@pytest.mark.parametrize("algorithm", [TDES2, AES128])
@given(data=st.data())
def test_combined_random_components_keep_the_kcv_of_their_xor(algorithm, data):
    source = source_from(data.draw(st.randoms(use_true_random=False)))
    parts = random_components(algorithm, data.draw(st.integers(2, 9)), source)
    combined_xor = bytearray(algorithm.key_bytes)
    for part in parts:
        combined_xor = bytearray(a ^ b for a, b in zip(combined_xor, part, strict=True))
    assume(not is_weak(algorithm, combined_xor))
    key = combine(algorithm, parts)
    assert check_value(algorithm, key) == check_value(algorithm, combined_xor)


def test_split_uses_the_source_for_all_but_the_last_component():
    source, given = counting_source()
    key = unhex(KEY_08D7)
    parts = split(TDES2, key, 3, source)
    assert parts[:2] == given
    assert len(given) == 2
    assert parts[2] == bytearray(
        a ^ b ^ c ^ (0 if (a ^ b ^ c).bit_count() % 2 else 1)
        for a, b, c in zip(key, parts[0], parts[1], strict=True)
    )
    assert key == unhex(KEY_08D7)  # not wiped: the caller owns it


@pytest.mark.parametrize(
    ("algorithm", "key", "count", "message"),
    [
        (TDES2, bytes(24), 2, "Key is 24 bytes long; a TDES-2KEY key has 16."),
        (AES192, bytes(16), 3, "Key is 16 bytes long; an AES-192 key has 24."),
        (AES128, bytes(16), 1, "A key is split into 2 to 9 components; 1 was asked for."),
        (AES128, bytes(16), 12, "A key is split into 2 to 9 components; 12 were asked for."),
    ],
)
def test_split_refusals(algorithm, key, count, message):
    with pytest.raises(ComponentError) as caught:
        split(algorithm, key, count, counting_source()[0])
    assert caught.value.message == message


# --- typed entry -------------------------------------------------------------------------

SPACED_08D7 = "0123 4567 89AB CDEF FEDC BA98 7654 3210"


@pytest.mark.parametrize(
    "text",
    [
        KEY_08D7,
        KEY_08D7.lower(),
        SPACED_08D7,
        "0123-4567-89ab-cdef-fedc-ba98-7654-3210",
        "  0123 4567 89AB CDEF\nFEDC BA98 7654 3210  ",
        "0123\t4567 89AB\u00a0CDEF FEDC BA98 7654 3210",
    ],
)
def test_parse_component_accepts_the_printed_forms(text):
    value = parse_component(TDES2, text, number=1)
    assert isinstance(value, bytearray)
    assert value == unhex(KEY_08D7)


def test_parse_component_aes_has_no_parity_rule():
    assert parse_component(AES128, "00" * 16) == bytearray(16)


PARITY_TAIL = "; a TDES component has odd parity in every byte: check for a typing error."


@pytest.mark.parametrize(
    ("algorithm", "text", "number", "message"),
    [
        (
            TDES2,
            "0123 45G7 89AB CDEF FEDC BA98 7654 3210",
            2,
            "Component 2 contains 'G' at position 7, which is not a hex digit.",
        ),
        (TDES2, "x", None, "Component contains 'x' at position 1, which is not a hex digit."),
        (
            AES128,
            "0123 4567 89AB CDEF FEDC BA98 7654 321O",
            3,
            "Component 3 contains 'O' at position 32, which is not a hex digit.",
        ),
        (
            AES128,
            "0123 4567 \uff21",  # a full-width A is not a hex digit, whatever int() thinks
            None,
            "Component contains '\uff21' at position 9, which is not a hex digit.",
        ),
        (
            AES128,
            "0123\u200b4567",
            1,
            "Component 1 contains the character U+200B at position 5, which is not a hex digit.",
        ),
        (
            TDES2,
            KEY_08D7[:30],
            None,
            "Component is 30 hex digits long; a TDES-2KEY component has 32.",
        ),
        (
            TDES3,
            KEY_08D7,
            2,
            "Component 2 is 32 hex digits long; a TDES-3KEY component has 48.",
        ),
        (
            TDES2,
            KEY_08D7 + "0",
            1,
            "Component 1 is 33 hex digits long; a TDES-2KEY component has 32.",
        ),
        (AES128, "0", 1, "Component 1 is 1 hex digit long; an AES-128 component has 32."),
        (AES256, "  - ", 1, "Component 1 is empty; an AES-256 component has 64 hex digits."),
        (
            TDES2,
            "0123 4467 89AB CDEF FFDC BA98 7654 3210",
            None,
            "Component has wrong (even) parity in bytes 3 and 9" + PARITY_TAIL,
        ),
        (
            TDES2,
            "0023 4567 89AB CDEF FEDC BA98 7654 3210",
            4,
            "Component 4 has wrong (even) parity in byte 1" + PARITY_TAIL,
        ),
        (
            TDES3,
            "0022 4467 89AB CDEF FEDC BA98 7654 3210 0123 4567 89AB CDEE",
            None,
            "Component has wrong (even) parity in bytes 1, 2, 3 and 24" + PARITY_TAIL,
        ),
        (
            KeyAlgorithm.RSA_4096,
            KEY_08D7,
            1,
            "RSA-4096 is not a secret-key algorithm: only TDES and AES keys are held as "
            "components.",
        ),
    ],
)
def test_parse_component_refusals(algorithm, text, number, message):
    with pytest.raises(ComponentError) as caught:
        parse_component(algorithm, text, number=number)
    assert caught.value.message == message


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
@given(text=st.text(), number=st.none() | st.integers(1, 9))
def test_parse_component_raises_only_component_error(algorithm, text, number):
    try:
        value = parse_component(algorithm, text, number=number)
    except ComponentError:
        return
    assert len(value) == algorithm.key_bytes


hexish = st.text(alphabet="0123456789abcdefABCDEF -\t", max_size=60) | st.text(max_size=60)


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
@given(text=hexish)
def test_check_entry_never_raises_and_agrees_with_parse_component(algorithm, text):
    entry = check_entry(algorithm, text)
    assert isinstance(entry.message, str) and entry.message
    try:
        value = parse_component(algorithm, text)
    except ComponentError as error:
        assert entry.state in (EntryState.INCOMPLETE, EntryState.INVALID)
        assert entry.kcv is None
        if entry.state is EntryState.INVALID:
            assert entry.message == error.message
        else:
            assert entry.message == f"{entry.digits} of {entry.needed} hex digits"
            assert entry.digits < entry.needed
    else:
        assert entry.state is EntryState.COMPLETE
        assert entry.kcv == kcv_hex(check_value(algorithm, value))


@pytest.mark.parametrize(
    ("algorithm", "text", "state", "message", "digits", "needed", "kcv"),
    [
        (TDES2, "", EntryState.INCOMPLETE, "0 of 32 hex digits", 0, 32, None),
        (TDES2, "0123 4567 89AB", EntryState.INCOMPLETE, "12 of 32 hex digits", 12, 32, None),
        # Parity is only judged once the component is complete.
        (TDES2, "0000 0000", EntryState.INCOMPLETE, "8 of 32 hex digits", 8, 32, None),
        (AES256, "ab-", EntryState.INCOMPLETE, "2 of 64 hex digits", 2, 64, None),
        (
            TDES2,
            "0123 45G7",
            EntryState.INVALID,
            "Component contains 'G' at position 7, which is not a hex digit.",
            7,
            32,
            None,
        ),
        (
            TDES2,
            SPACED_08D7 + " 01",
            EntryState.INVALID,
            "Component is 34 hex digits long; a TDES-2KEY component has 32.",
            34,
            32,
            None,
        ),
        (
            TDES2,
            "0123 4467 89AB CDEF FFDC BA98 7654 3210",
            EntryState.INVALID,
            "Component has wrong (even) parity in bytes 3 and 9" + PARITY_TAIL,
            32,
            32,
            None,
        ),
        (
            TDES2,
            SPACED_08D7.lower(),
            EntryState.COMPLETE,
            "32 of 32 hex digits, check value 08D7B4",
            32,
            32,
            "08D7B4",
        ),
        (
            AES128,
            "3F41 9E1C B707 9442 AA37 474C 2EFB F8B8",
            EntryState.COMPLETE,
            "32 of 32 hex digits, check value 08793E25AB",
            32,
            32,
            "08793E25AB",
        ),
        (
            KeyAlgorithm.RSA_2048,
            "0123",
            EntryState.INVALID,
            "RSA-2048 is not a secret-key algorithm: only TDES and AES keys are held as "
            "components.",
            0,
            0,
            None,
        ),
    ],
)
def test_check_entry_table(algorithm, text, state, message, digits, needed, kcv):
    entry = check_entry(algorithm, text)
    assert (entry.state, entry.message, entry.digits, entry.needed, entry.kcv) == (
        state,
        message,
        digits,
        needed,
        kcv,
    )


# --- formatting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "size", "text"),
    [
        ("0123456789abcdef", 4, "0123 4567 89AB CDEF"),
        (KEY_08D7, 4, SPACED_08D7),
        ("0123456789", 4, "0123 4567 89"),
        ("abcd", 2, "AB CD"),
        ("", 4, ""),
    ],
)
def test_format_groups(value, size, text):
    assert format_groups(unhex(value), size) == text


@given(st.binary(max_size=32), st.integers(1, 8))
def test_format_groups_reads_back(raw, size):
    text = format_groups(raw, size)
    assert bytes.fromhex(text.replace(" ", "")) == raw
    assert all(len(group) <= size for group in text.split(" "))
    assert text == text.upper()


def test_format_groups_refuses_a_group_size_below_one():
    with pytest.raises(ValueError, match="group size must be at least 1, not 0"):
        format_groups(b"\x01", 0)


@pytest.mark.parametrize("algorithm", SYMMETRIC)
def test_printed_components_parse_back(algorithm):
    parts = random_components(algorithm, 3, counting_source(0x31)[0])
    for number, part in enumerate(parts, start=1):
        assert parse_component(algorithm, format_groups(part), number=number) == part


# --- the module itself -------------------------------------------------------------------


def test_doctests():
    result = doctest.testmod(components)
    assert result.attempted >= 10
    assert result.failed == 0


def test_public_names():
    assert set(components.__all__) == {
        "MAX_COMPONENTS",
        "MIN_COMPONENTS",
        "ComponentError",
        "EntryCheck",
        "EntryState",
        "check_entry",
        "check_value",
        "combine",
        "format_groups",
        "kcv_hex",
        "odd_parity",
        "parity_errors",
        "parse_component",
        "random_components",
        "split",
    }
