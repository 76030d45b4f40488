"""Shamir secret sharing over GF(2^8) for the backup of the workstation's keys."""

import doctest
import hashlib
import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workstation.domain import secret_sharing
from workstation.domain.secret_sharing import (
    Share,
    ShareError,
    combine_shares,
    new_set_id,
    parse_share_value,
    split_secret,
)
from workstation.errors import BadInput, WorkstationError

SET_A, SET_B = "1A2B3C4D", "5E6F7A8B"
SECRET = bytearray.fromhex("00112233445566778899AABBCCDDEEFF")


def fixed_source(*chunks: bytes):
    """Hands out the given chunks in order and remembers the buffers it gave."""
    given = []
    pending = list(chunks)

    def random_bytes(n: int) -> bytearray:
        chunk = bytearray(pending.pop(0)) if pending else bytearray(range(1, n + 1))
        given.append(chunk)
        return chunk

    return random_bytes, given


def source_from(rnd):
    return lambda n: bytearray(rnd.randbytes(n))


def make(secret=SECRET, *, threshold=3, count=5, set_id=SET_A, seed=7):
    return split_secret(
        secret,
        threshold=threshold,
        count=count,
        random_bytes=source_from(random.Random(seed)),
        set_id=set_id,
    )


# --- the field ---------------------------------------------------------------------------


def reference_mul(a: int, b: int) -> int:
    """Shift-and-add multiplication modulo x^8 + x^4 + x^3 + x + 1 (FIPS 197 §4.2)."""
    product = 0
    while b:
        if b & 1:
            product ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
        b >>= 1
    return product


@pytest.mark.parametrize(
    ("a", "b", "product"),
    [
        (0x57, 0x83, 0xC1),  # FIPS 197 §4.2
        (0x57, 0x13, 0xFE),  # FIPS 197 §4.2.1
        (0x57, 0x02, 0xAE),  # FIPS 197 §4.2.1, xtime
        (0x57, 0x10, 0x07),  # FIPS 197 §4.2.1
        (0x00, 0x53, 0x00),
        (0x01, 0x53, 0x53),
        (0x53, 0xCA, 0x01),  # {53} and {CA} are inverses
    ],
)
def test_field_multiplication_known_answers(a, b, product):
    assert secret_sharing._mul(a, b) == product
    assert secret_sharing._mul(b, a) == product


def test_field_multiplication_agrees_with_shift_and_add_for_every_pair():
    mul = secret_sharing._mul
    assert all(mul(a, b) == reference_mul(a, b) for a in range(256) for b in range(256))


def test_field_division_inverts_multiplication():
    mul, div = secret_sharing._mul, secret_sharing._div
    assert all(div(mul(a, b), b) == a for a in range(256) for b in range(1, 256))


def test_three_generates_the_multiplicative_group():
    assert sorted(secret_sharing._EXP[:255]) == list(range(1, 256))


# --- splitting ---------------------------------------------------------------------------


def reference_shares(secret: bytes, coefficients: bytes, threshold: int, count: int):
    """Evaluate each byte's polynomial directly, term by term (no Horner, no tables)."""
    n = len(secret)
    shares = []
    for x in range(1, count + 1):
        value = bytearray()
        for j in range(n):
            y = secret[j]
            power = 1
            for k in range(threshold - 1):
                power = reference_mul(power, x)
                y ^= reference_mul(coefficients[k * n + j], power)
            value.append(y)
        shares.append(bytes(value))
    return shares


def test_split_known_answer_worked_by_hand():
    # f(x) = 0x42 + 0x05·x: f(1) = 0x42^0x05, f(2) = 0x42^0x0A, f(3) = 0x42^(0x0A^0x05).
    source, _ = fixed_source(b"\x05")
    shares = split_secret(b"\x42", threshold=2, count=3, random_bytes=source, set_id=SET_A)
    assert [s.value.hex().upper() for s in shares] == ["47", "48", "4D"]
    # And with a quadratic: f(x) = 0x42 + 0x05·x + 0x03·x^2; x = 2: 0x42 ^ 0x0A ^ 0x0C = 0x44.
    source, _ = fixed_source(b"\x05\x03")
    shares = split_secret(b"\x42", threshold=3, count=3, random_bytes=source, set_id=SET_A)
    assert shares[1].value == bytearray(b"\x44")


@given(
    secret=st.binary(min_size=1, max_size=64),
    sizes=st.integers(2, 16).flatmap(
        lambda count: st.tuples(st.integers(2, count), st.just(count))
    ),
    rnd=st.randoms(use_true_random=False),
)
def test_split_agrees_with_direct_polynomial_evaluation(secret, sizes, rnd):
    threshold, count = sizes
    coefficients = rnd.randbytes((threshold - 1) * len(secret))
    source, given = fixed_source(coefficients)
    shares = split_secret(
        secret, threshold=threshold, count=count, random_bytes=source, set_id=SET_B
    )
    assert [bytes(s.value) for s in shares] == reference_shares(
        secret, coefficients, threshold, count
    )
    assert [(s.set_id, s.index, s.threshold, s.count) for s in shares] == [
        (SET_B, i, threshold, count) for i in range(1, count + 1)
    ]
    assert given[0] == bytearray(len(coefficients))  # the coefficients were wiped


def test_split_does_not_wipe_the_secret():
    secret = bytearray(SECRET)
    make(secret)
    assert secret == SECRET


@pytest.mark.parametrize(
    ("secret", "threshold", "count", "set_id", "message"),
    [
        (SECRET, 2, 1, SET_A, "A backup is split into 2 to 16 shares; 1 was asked for."),
        (SECRET, 2, 17, SET_A, "A backup is split into 2 to 16 shares; 17 were asked for."),
        (
            SECRET,
            1,
            5,
            SET_A,
            "The number of shares needed to recover must be from 2 to the number of shares "
            "(5); 1 was asked for.",
        ),
        (
            SECRET,
            6,
            5,
            SET_A,
            "The number of shares needed to recover must be from 2 to the number of shares "
            "(5); 6 was asked for.",
        ),
        (b"", 2, 3, SET_A, "The secret is 0 bytes long; it must be 1 to 64 bytes."),
        (bytes(65), 2, 3, SET_A, "The secret is 65 bytes long; it must be 1 to 64 bytes."),
        (
            SECRET,
            2,
            3,
            "1a2b3c4d",
            "Backup set '1a2b3c4d' is not named by 8 upper-case hex digits.",
        ),
        (SECRET, 2, 3, "1A2B3C", "Backup set '1A2B3C' is not named by 8 upper-case hex digits."),
    ],
)
def test_split_refusals(secret, threshold, count, set_id, message):
    source, given = fixed_source()
    with pytest.raises(ShareError) as caught:
        split_secret(secret, threshold=threshold, count=count, random_bytes=source, set_id=set_id)
    assert caught.value.user_message() == message
    assert given == []  # refused before any randomness was drawn


def test_share_error_is_bad_input():
    assert issubclass(ShareError, BadInput)


def test_a_random_source_that_breaks_its_contract_is_a_failure():
    with pytest.raises(WorkstationError) as caught:
        split_secret(
            SECRET, threshold=3, count=5, random_bytes=lambda n: bytearray(n - 1), set_id=SET_A
        )
    assert not isinstance(caught.value, BadInput)
    assert caught.value.message == "The random generator returned 31 bytes, not 32."


# --- recovering --------------------------------------------------------------------------


@given(
    secret=st.binary(min_size=1, max_size=64),
    sizes=st.integers(2, 16).flatmap(
        lambda count: st.tuples(st.integers(2, count), st.just(count))
    ),
    rnd=st.randoms(use_true_random=False),
    data=st.data(),
)
def test_any_threshold_subset_recovers_and_fewer_are_refused(secret, sizes, rnd, data):
    threshold, count = sizes
    shares = split_secret(
        secret, threshold=threshold, count=count, random_bytes=source_from(rnd), set_id=SET_A
    )
    chosen = data.draw(st.permutations(shares), label="order")
    enough = data.draw(st.integers(threshold, count), label="how many")
    assert combine_shares(chosen[:enough]) == secret
    fewer = data.draw(st.integers(1, threshold - 1), label="too few")
    with pytest.raises(ShareError) as caught:
        combine_shares(chosen[:fewer])
    given_ = f"{fewer} was given" if fewer == 1 else f"{fewer} were given"
    assert caught.value.message == f"{threshold} shares are needed to recover; {given_}."


def test_every_subset_of_a_3_of_5_split():
    shares = make()
    for size in range(1, 6):
        for subset in itertools.combinations(shares, size):
            if size >= 3:
                assert combine_shares(subset) == SECRET
            else:
                with pytest.raises(ShareError):
                    combine_shares(subset)


@pytest.mark.parametrize("secret", [0x00, 0x42, 0xFF])
def test_one_share_of_a_2_of_n_split_says_nothing_about_the_secret(secret):
    # Over all 256 coefficients, every share takes every byte value exactly once, whatever
    # the secret: below the threshold the shares are independent of it.
    seen = {x: set() for x in range(1, 17)}
    for a1 in range(256):
        source, _ = fixed_source(bytes([a1]))
        for s in split_secret(
            bytes([secret]), threshold=2, count=16, random_bytes=source, set_id=SET_A
        ):
            seen[s.index].add(s.value[0])
    assert all(len(values) == 256 for values in seen.values())


def test_extra_shares_are_checked_against_the_others():
    shares = make()
    assert combine_shares(shares) == SECRET
    tampered = Share(SET_A, 5, 3, 5, bytearray(shares[4].value))
    tampered.value[3] ^= 0x01
    with pytest.raises(ShareError) as caught:
        combine_shares([*shares[:4], tampered])
    assert caught.value.message == (
        "Share 5 does not agree with shares 1, 2 and 3: one of them was typed wrongly. "
        "Compare each with the check value on its mailer."
    )


def test_a_mistyped_share_among_exactly_threshold_shares_gives_a_different_secret():
    # Why the check value is printed: with exactly the threshold nothing can be cross-checked.
    shares = make(threshold=2, count=2)
    wrong = Share(SET_A, 2, 2, 2, bytearray(shares[1].value))
    wrong.value[0] ^= 0x10
    assert wrong.check_value != shares[1].check_value
    assert combine_shares([shares[0], wrong]) != SECRET


def share(set_id=SET_A, index=1, threshold=3, count=5, value=b"\x00" * 16):
    return Share(set_id, index, threshold, count, bytearray(value))


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        ([], "No shares were given."),
        (
            [share(SET_B, 1), share(SET_B, 2), share(SET_A, 4)],
            "Share 4 belongs to backup set 1A2B3C4D, not 5E6F7A8B.",
        ),
        (
            [share(index=1), share(index=2, threshold=2)],
            "Share 2 is from a 2-of-5 split, not the 3-of-5 split of share 1.",
        ),
        (
            [share(index=3), share(index=2, count=6)],
            "Share 2 is from a 3-of-6 split, not the 3-of-5 split of share 3.",
        ),
        (
            [share(index=1), share(index=2, value=bytes(32))],
            "Share 2 holds 32 bytes, not the 16 of share 1.",
        ),
        (
            [share(index=1, value=b"\x01"), share(index=2, value=b"\x01\x02")],
            "Share 2 holds 2 bytes, not the 1 of share 1.",
        ),
        (
            [share(index=1), share(index=2), share(index=1)],
            "Share 1 was given more than once.",
        ),
        ([share(index=1)], "3 shares are needed to recover; 1 was given."),
        ([share(index=1), share(index=5)], "3 shares are needed to recover; 2 were given."),
    ],
)
def test_combine_refusals(shares, message):
    with pytest.raises(ShareError) as caught:
        combine_shares(shares)
    assert caught.value.message == message


def test_combine_does_not_wipe_the_shares():
    shares = make()
    copies = [bytes(s.value) for s in shares]
    combine_shares(shares)
    assert [bytes(s.value) for s in shares] == copies


# --- the share ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            (SET_A, 0, 2, 3, b"\x01"),
            "Share 0 does not exist: the shares of a 2-of-3 backup are numbered 1 to 3.",
        ),
        (
            (SET_A, 4, 2, 3, b"\x01"),
            "Share 4 does not exist: the shares of a 2-of-3 backup are numbered 1 to 3.",
        ),
        ((SET_A, 1, 2, 3, b""), "Share 1 holds 0 bytes; a share holds 1 to 64."),
        (
            (SET_A, 1, 4, 3, b"\x01"),
            "The number of shares needed to recover must be from 2 to "
            "the number of shares (3); 4 was asked for.",
        ),
        (("", 1, 2, 3, b"\x01"), "Backup set '' is not named by 8 upper-case hex digits."),
    ],
)
def test_share_refusals(fields, message):
    set_id, index, threshold, count, value = fields
    with pytest.raises(ShareError) as caught:
        Share(set_id, index, threshold, count, bytearray(value))
    assert caught.value.message == message


def test_check_value_is_the_documented_hash():
    s = make()[1]
    expected = (
        hashlib.sha256(b"KCW share v1" + SET_A.encode() + bytes([3, 5, 2]) + bytes(s.value))
        .hexdigest()[:6]
        .upper()
    )
    assert s.check_value == expected
    assert len(s.check_value) == 6 and s.check_value == s.check_value.upper()


def test_check_value_depends_on_the_set_and_the_place_in_it():
    value = bytearray(SECRET)
    values = {
        Share(SET_A, 1, 2, 3, value).check_value,
        Share(SET_B, 1, 2, 3, value).check_value,
        Share(SET_A, 2, 2, 3, value).check_value,
        Share(SET_A, 1, 3, 3, value).check_value,
        Share(SET_A, 1, 2, 4, value).check_value,
    }
    assert len(values) == 5


def test_wipe_and_repr():
    s = make()[0]
    assert s.value.hex() not in repr(s)
    assert "value" not in repr(s)
    s.wipe()
    assert s.value == bytearray(len(SECRET))


# --- typed entry -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "0011 2233 4455 6677 8899 AABB CCDD EEFF",
        "00112233-44556677-8899aabb-ccddeeff",
        " 0011223344556677\n8899AABBCCDDEEFF ",
    ],
)
def test_parse_share_value_accepts_the_printed_forms(text):
    value = parse_share_value(text, length=16, index=2)
    assert isinstance(value, bytearray)
    assert value == SECRET


@pytest.mark.parametrize(
    ("text", "length", "index", "message"),
    [
        ("0011 22G3", 16, 3, "Share 3 contains 'G' at position 7, which is not a hex digit."),
        ("0011 2233 44", 16, 2, "Share 2 is 10 hex digits long; it should have 32."),
        ("0", 1, 2, "Share 2 is 1 hex digit long; it should have 2."),
        ("001", 1, 1, "Share 1 is 3 hex digits long; it should have 2."),
        ("", 16, 4, "Share 4 is empty; it should have 32 hex digits."),
        ("00\u00b711", 2, 1, "Share 1 contains '\u00b7' at position 3, which is not a hex digit."),
    ],
)
def test_parse_share_value_refusals(text, length, index, message):
    with pytest.raises(ShareError) as caught:
        parse_share_value(text, length=length, index=index)
    assert caught.value.message == message


@given(st.text(), st.integers(1, 64), st.integers(1, 16))
def test_parse_share_value_raises_only_share_error(text, length, index):
    try:
        value = parse_share_value(text, length=length, index=index)
    except ShareError:
        return
    assert len(value) == length


def test_a_printed_share_read_back_recovers():
    shares = make()
    typed = [
        Share(
            s.set_id,
            s.index,
            s.threshold,
            s.count,
            parse_share_value(
                " ".join(s.value.hex()[i : i + 4] for i in range(0, 32, 4)),
                length=16,
                index=s.index,
            ),
        )
        for s in shares[2:]
    ]
    assert [t.check_value for t in typed] == [s.check_value for s in shares[2:]]
    assert combine_shares(typed) == SECRET


# --- set ids and the module --------------------------------------------------------------


def test_new_set_id():
    assert new_set_id(lambda n: bytearray(b"\x1a\x2b\x3c\x4d"[:n])) == SET_A
    assert new_set_id(lambda n: bytearray(n)) == "00000000"


def test_new_set_id_with_a_broken_source():
    with pytest.raises(WorkstationError) as caught:
        new_set_id(lambda n: bytearray(n - 1))
    assert caught.value.message == "The random generator returned 3 bytes, not 4."


@given(st.randoms(use_true_random=False))
def test_new_set_ids_are_accepted_by_split(rnd):
    set_id = new_set_id(source_from(rnd))
    assert len(set_id) == 8
    assert make(set_id=set_id)[0].set_id == set_id


def test_doctests():
    result = doctest.testmod(secret_sharing)
    assert result.attempted >= 5
    assert result.failed == 0


def test_public_names():
    assert set(secret_sharing.__all__) == {
        "MAX_SECRET_BYTES",
        "MAX_SHARES",
        "MIN_THRESHOLD",
        "Share",
        "ShareError",
        "combine_shares",
        "new_set_id",
        "parse_share_value",
        "split_secret",
    }
