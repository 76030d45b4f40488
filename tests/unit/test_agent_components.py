"""The agent's KEK from custodians' components, and the TR-31 binding key inputs it CMACs
in its token."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC

from workstation.agent.components import (
    ComponentError,
    combine,
    component_check_value,
    kek_algorithm,
    parse_component,
)
from workstation.agent.token import binding_key_inputs, capabilities_for_mode
from workstation.standards import tr31

AES256 = kek_algorithm("AES-256")
AES128 = kek_algorithm("AES-128")
# ANSI X9.143:2021 8.1 / TR-31:2018 A.7.4: this AES key's CMAC check value is 08793E25AB.
KEY = bytes.fromhex("3F419E1CB7079442AA37474C2EFBF8B8")


def _split(key: bytes) -> tuple[bytearray, bytearray]:
    first = bytearray(bytes.fromhex("00112233445566778899AABBCCDDEEFF"))
    return first, bytearray(a ^ b for a, b in zip(first, key, strict=True))


def test_two_components_xor_to_the_key_with_its_published_check_value() -> None:
    first, second = _split(KEY)
    kek = combine([first, second], AES128)
    assert bytes(kek) == KEY
    assert component_check_value(kek, AES128) == "08793E25AB"


def test_three_components_xor_together() -> None:
    a, b = _split(KEY)
    c = bytearray(range(16))
    b2 = bytearray(x ^ y for x, y in zip(b, c, strict=True))
    assert bytes(combine([a, b2, c], AES128)) == KEY


def test_components_are_parsed_with_blanks_and_the_typed_text_is_wiped() -> None:
    text = bytearray(b"3F41 9E1C b707 9442\tAA37 474C 2EFB F8B8\n")
    value = parse_component(text, AES128, 1)
    assert bytes(value) == KEY
    assert not any(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"3F419E1CB7079442AA37474C2EFBF8", "Component 2 has 15 bytes; an AES-128 component"),
        (b"3F419E1CB7079442AA37474C2EFBF8B8A", "Component 2 has 16 bytes and a half"),
        (b"3F419E1CB7079442AA37474C2EFBF8BZ", "Component 2 is not hexadecimal digits"),
        (b"", "Component 2 is not hexadecimal digits"),
    ],
)
def test_malformed_components_are_refused_and_wiped(text: bytes, message: str) -> None:
    typed = bytearray(text)
    with pytest.raises(ComponentError, match=message):
        parse_component(typed, AES128, 2)
    assert not any(typed)


def test_one_component_is_not_enough() -> None:
    with pytest.raises(ComponentError, match="at least two components"):
        combine([bytearray(KEY)], AES128)


def test_equal_components_are_refused() -> None:
    with pytest.raises(ComponentError, match="Components 1 and 2 are the same"):
        combine([bytearray(KEY), bytearray(KEY), bytearray(16)], AES128)


def test_a_component_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ComponentError, match="Component 2 has 16 bytes; 32 are needed"):
        combine([bytearray(32), bytearray(16)], AES256)


def test_components_that_cancel_out_are_refused() -> None:
    a = bytearray(range(1, 17))
    b = bytearray(range(17, 33))
    c = bytearray(x ^ y for x, y in zip(a, b, strict=True))
    with pytest.raises(ComponentError, match="XOR to zero"):
        combine([a, b, c], AES128)


def test_unknown_kek_algorithms_are_named() -> None:
    with pytest.raises(ComponentError, match="'DES' is not one of AES-128"):
        kek_algorithm("DES")
    assert kek_algorithm("aes-256").tr31_version == "D"
    assert kek_algorithm("TDES-2KEY").tr31_version == "B"


def test_tdes_components_use_the_legacy_check_value() -> None:
    tdes = kek_algorithm("TDES-2KEY")
    key = bytearray(bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"))
    assert component_check_value(key, tdes) == "08D7B4"  # X9.24-1 legacy, 3 bytes


@pytest.mark.parametrize("length", [16, 24, 32])
def test_the_binding_key_inputs_give_tr31s_kbek_and_kbak(length: int) -> None:
    """What the agent CMACs in its token gives the keys TR-31's own derivation gives."""
    kbpk = bytes(range(length))
    enc, mac = binding_key_inputs("AES", length)

    def cmac(data: bytes) -> bytes:
        c = CMAC(algorithms.AES(kbpk))
        c.update(data)
        return c.finalize()

    kbek = b"".join(cmac(d) for d in enc)[:length]
    kbak = b"".join(cmac(d) for d in mac)[:length]
    assert (kbek, kbak) == tr31.derive_binding_keys(kbpk, "D")


def test_derived_binding_keys_unwrap_what_the_kbpk_wrapped() -> None:
    kbpk = bytes(range(32))
    block = tr31.wrap(kbpk, "D0000P0AE00E0000", KEY)
    kbek, kbak = tr31.derive_binding_keys(kbpk, "D")
    header, key = tr31.unwrap_with_binding_keys(kbek, kbak, block, kbpk_strength=256)
    assert bytes(key) == KEY and header.key_usage == "P0"
    with pytest.raises(tr31.TR31Error, match="weaker than the key"):
        tr31.unwrap_with_binding_keys(kbek, kbak, block, kbpk_strength=112)
    altered = block[:-1] + ("0" if block[-1] != "0" else "1")
    with pytest.raises(tr31.TR31Error, match="MAC does not verify"):
        tr31.unwrap_with_binding_keys(kbek, kbak, altered, kbpk_strength=256)


def test_modes_of_use_map_to_capabilities_and_unknown_ones_are_not_guessed() -> None:
    assert capabilities_for_mode("E") is not None
    assert capabilities_for_mode("Z") is None
