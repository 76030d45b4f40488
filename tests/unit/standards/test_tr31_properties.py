"""Properties of the TR-31 reader: anything but a genuine key block is refused with TR31Error.

Random text, text behind a plausible header, and valid blocks with characters flipped,
inserted or deleted, length fields or block counts changed, or letters lower-cased: each is
refused with :class:`TR31Error` and never another exception, unless the mutation left the
block as it was, in which case it unwraps to the same header and key. The reader's loops are
bounded by its input (at most 99 optional blocks, each at least 4 characters), so no input
can make it hang. Wrap and unwrap are inverse for any key the strength rule allows.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.standards.tr31 import (
    ALGORITHMS,
    EXPORTABILITY,
    KEY_USAGES,
    MODES_OF_USE,
    OPTIONAL_BLOCKS,
    Header,
    TR31Error,
    key_strength,
    parse,
    unwrap,
    wrap,
)

pytestmark = pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")

PROPERTY = settings(max_examples=300, deadline=None)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# Published blocks of every version (VECTORS.md §2, vectors.json "tr31"): TR-31:2018 A.7.2.1
# (A), A.7.2.2 (B), A.7.3.1 (C with KS), A.7.4 (D), ISO 20038:2017 B.2 (E), and psec's
# known-value row 15 (an empty padding block PB04).
PUBLISHED = [
    (
        "89E88CF7931444F334BD7547FC3F380C",
        "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8701",
    ),
    (
        "DD7515F2BFC17F85CE48F3CA25CB21F6",
        "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E",
    ),
    (
        "B8ED59E0A279A295E9F5ED7944FD06B9",
        "C0096B0TX12S0100KS1800604B120F9292800000BFB9B689CB567E66FC3FEE5AD5F52161FC6545B9D6"
        "0989015D02155C",
    ),
    (
        "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6",
        "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E"
        "8E31DA05F7425509593D03A457DC34",
    ),
    (
        "3235362D62697420414553207772617070696E67202849534F20323030333829",
        "E0084B0TV16N0000B2AE5E26BBA7F246E84D5EA24167E208A6B66EF2E27E55A52DB52F0AEACB94C57547",
    ),
    (
        "B8ED59E0A279A295E9F5ED7944FD06B9",
        "A0112P0TE12E0200KS1400604B120F929280PB047A1BB737854CD7AF58A8A1E4506A942277EDA76EBA6B"
        "A228AF62ADDA3AD8799E8B2C8CD7",
    ),
]


def _own_blocks() -> list[tuple[str, str]]:
    """Blocks of ours with more optional blocks: KC, TS, IK, HM and an extended-length CT."""
    kbpk3 = h("0123456789ABCDEFFEDCBA987654321089ABCDEF01234567")
    aes = bytes(range(32))
    made = [
        wrap(
            kbpk3,
            Header("B", "K0", "T", "B", "c1", "E", blocks=[("KC", "0008D7B4")]),
            h("0123456789ABCDEFFEDCBA9876543210"),
        ),
        wrap(
            aes,
            Header(
                "D", "B1", "A", "X", blocks=[("IK", "1234567890123456"), ("TS", "20240514094100Z")]
            ),
            bytes(range(16)),
        ),
        wrap(aes, Header("D", "M7", "H", "C", blocks=[("HM", "21")]), bytes(range(32))),
        wrap(aes, Header("E", "D0", "A", "B", blocks=[("CT", "00" + "QUJD" * 70)]), bytes(16)),
    ]
    return [(kbpk3.hex(), made[0])] + [(aes.hex(), block) for block in made[1:]]


VALID = PUBLISHED + _own_blocks()
EXPECTED = [unwrap(h(kbpk), block) for kbpk, block in VALID]

# Characters a mutation may bring in: upper and lower hexadecimal, header letters, printable
# ASCII, control characters and characters outside ASCII (including a non-ASCII digit).
MUTATION_CHARS = st.sampled_from(
    [*string.hexdigits, *string.ascii_uppercase, *string.printable, "\x00", "ÿ", "٣", "\u2028"]
)


@st.composite
def mutated(draw):
    index = draw(st.integers(0, len(VALID) - 1))
    block = VALID[index][1]
    op = draw(st.sampled_from(["replace", "insert", "delete", "length", "count", "lower", "cut"]))
    at = draw(st.integers(0, len(block) - 1))
    if op == "replace":
        text = block[:at] + draw(MUTATION_CHARS) + block[at + 1 :]
    elif op == "insert":
        text = block[:at] + draw(MUTATION_CHARS) + block[at:]
    elif op == "delete":
        text = block[:at] + block[at + 1 :]
    elif op == "length":
        text = block[0] + f"{draw(st.integers(0, 9999)):04d}" + block[5:]
    elif op == "count":
        text = block[:12] + f"{draw(st.integers(0, 99)):02d}" + block[14:]
    elif op == "lower":
        text = block[:at] + block[at:].lower()
    else:
        text = block[:at]
    return index, text


@PROPERTY
@given(mutated())
def test_a_mutated_block_is_refused_unless_it_is_unchanged(case):
    index, text = case
    kbpk, original = VALID[index]
    if text == original:
        assert unwrap(h(kbpk), text) == EXPECTED[index]
    else:
        with pytest.raises(TR31Error):
            unwrap(h(kbpk), text)


@PROPERTY
@given(st.text(max_size=400))
def test_random_text_is_refused(text):
    kbpk = h(VALID[3][0])
    with pytest.raises(TR31Error):
        unwrap(kbpk, text)
    with pytest.raises(TR31Error):
        parse(text)


HEADER_CHARS = st.text(
    alphabet=st.sampled_from(list(string.hexdigits.upper() + "KSTPBCN0ÿ*")), max_size=300
)


@PROPERTY
@given(
    prefix=st.sampled_from(
        ["A0072P0TE00E0000", "D0112P0AE00E0000", "B0000P0TE00N0100", "D0000S0RS00N0200CT00"]
    ),
    rest=HEADER_CHARS,
)
def test_a_plausible_header_followed_by_noise_is_refused(prefix, rest):
    text = prefix + rest
    with pytest.raises(TR31Error):
        unwrap(h(VALID[3][0]), text)
    try:
        header = Header.load(text)
    except TR31Error:
        return
    # Whatever loads must dump to a header that loads to the same thing.
    assert Header.load(header.dump(16)) == header


def code_or_noise(table: Mapping[str, str], size: int) -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(table)) | st.text(max_size=size + 1)


BLOCK_VALUES = st.sampled_from(
    ["00604B120F929280", "0008D7B4", "20240514094100Z", "21", "1234567890123456", "0101"]
) | st.text(max_size=40)


@PROPERTY
@given(
    usage=code_or_noise(KEY_USAGES, 2),
    algorithm=code_or_noise(ALGORITHMS, 1),
    mode=code_or_noise(MODES_OF_USE, 1),
    version_num=st.sampled_from(["00", "c1", "12"]) | st.text(max_size=3),
    exportability=code_or_noise(EXPORTABILITY, 1),
    blocks=st.lists(st.tuples(code_or_noise(OPTIONAL_BLOCKS, 2), BLOCK_VALUES), max_size=4),
)
def test_any_header_fields_dump_or_are_refused(
    usage, algorithm, mode, version_num, exportability, blocks
):
    header = Header("D", usage, algorithm, mode, version_num, exportability, blocks=blocks)
    try:
        text = header.dump(16)
    except TR31Error:
        return
    assert Header.load(text) == header


KEY_LENGTHS = {"T": [8, 16, 24], "A": [16, 24, 32], "H": [1, 14, 32, 64]}
KBPK_LENGTHS = {"A": [16, 24], "B": [16, 24], "C": [16, 24], "D": [16, 24, 32], "E": [16, 24, 32]}


def sized_bytes(lengths: list[int]) -> st.SearchStrategy[bytes]:
    return st.sampled_from(lengths).flatmap(lambda n: st.binary(min_size=n, max_size=n))


@st.composite
def wrap_cases(draw):
    version = draw(st.sampled_from("ABCDE"))
    algorithm = draw(st.sampled_from(sorted(KEY_LENGTHS)))
    kbpk = draw(sized_bytes(KBPK_LENGTHS[version]))
    key = draw(sized_bytes(KEY_LENGTHS[algorithm]))
    masked = draw(st.none() | st.integers(len(key), len(key) + 40))
    ks = draw(st.none() | st.binary(min_size=1, max_size=12).map(lambda b: b.hex().upper()))
    return version, kbpk, algorithm, key, masked, ks


@PROPERTY
@given(wrap_cases())
def test_wrap_and_unwrap_are_inverse_when_the_kbpk_is_strong_enough(case):
    version, kbpk, algorithm, key, masked, ks = case
    blocks = [("KS", ks)] if ks else []
    header = Header(version, "K0" if algorithm != "H" else "M7", algorithm, "B", blocks=blocks)
    kbpk_algorithm = "T" if version in "ABC" else "A"
    strong_enough = key_strength(kbpk, kbpk_algorithm) >= key_strength(key, algorithm)
    if not strong_enough:
        with pytest.raises(TR31Error, match="is weaker than the key it protects"):
            wrap(kbpk, header, key, masked_key_len=masked)
        return
    block = wrap(kbpk, header, key, masked_key_len=masked)
    assert len(block) == int(block[1:5])
    assert unwrap(kbpk, block) == (header, key)
    assert parse(block) == header
