"""The agent's KEK from clear components (ANSI X9.24-1:2017 5.4 / Annex A: key components).

Key custodians each type one component; the KEK is the XOR of two or more of them, so no
one custodian knows it. Each component's check value is shown as it is entered, so the
custodian can compare it with the value on their component form, and the combined KEK's
check value is shown for confirmation before the KEK goes into the token.

Everything here keeps clear values in ``bytearray``s and wipes what it made.
"""

from __future__ import annotations

from dataclasses import dataclass

from workstation.standards.kcv import key_check_value

__all__ = [
    "KEK_ALGORITHMS",
    "ComponentError",
    "KekAlgorithm",
    "combine",
    "component_check_value",
    "kek_algorithm",
    "parse_component",
    "wipe",
]


class ComponentError(ValueError):
    """A component or the set of components is not acceptable; the message says why."""


@dataclass(frozen=True)
class KekAlgorithm:
    name: str
    family: str  # "AES" or "TDES"
    length: int  # bytes
    tr31_version: str  # the key block version a KEK of this family protects: D or B


KEK_ALGORITHMS = {
    a.name: a
    for a in (
        KekAlgorithm("AES-128", "AES", 16, "D"),
        KekAlgorithm("AES-192", "AES", 24, "D"),
        KekAlgorithm("AES-256", "AES", 32, "D"),
        KekAlgorithm("TDES-2KEY", "TDES", 16, "B"),
        KekAlgorithm("TDES-3KEY", "TDES", 24, "B"),
    )
}


def kek_algorithm(name: str) -> KekAlgorithm:
    try:
        return KEK_ALGORITHMS[name.upper()]
    except KeyError:
        raise ComponentError(
            f"KEK algorithm {name!r} is not one of {', '.join(KEK_ALGORITHMS)}"
        ) from None


def wipe(secret: bytearray) -> None:
    secret[:] = bytes(len(secret))


_HEX = frozenset(b"0123456789ABCDEFabcdef")


def parse_component(text: bytearray, algorithm: KekAlgorithm, number: int) -> bytearray:
    """A component typed as hexadecimal (blanks allowed between groups), as bytes.

    ``text`` is wiped whatever happens; the caller wipes the result.
    """
    try:
        digits = bytearray(c for c in text if c not in b" \t\r\n")
        try:
            if not digits or any(c not in _HEX for c in digits):
                raise ComponentError(f"Component {number} is not hexadecimal digits")
            if len(digits) != 2 * algorithm.length:
                raise ComponentError(
                    f"Component {number} has {len(digits) // 2} bytes"
                    f"{' and a half' if len(digits) % 2 else ''}; an {algorithm.name} "
                    f"component has {algorithm.length} bytes ({2 * algorithm.length} hex digits)"
                )
            value = bytearray(algorithm.length)
            for i in range(algorithm.length):
                value[i] = int(digits[2 * i : 2 * i + 2], 16)
            return value
        finally:
            wipe(digits)
    finally:
        wipe(text)


def component_check_value(value: bytearray, algorithm: KekAlgorithm) -> str:
    """The X9.24-1:2017 check value: TDES A.2 (encrypt zeros, 3 bytes), AES A.3 (CMAC of a
    zero block, 5 bytes)."""
    return key_check_value(value, family=algorithm.family).hex().upper()


def combine(components: list[bytearray], algorithm: KekAlgorithm) -> bytearray:
    """The XOR of the components (X9.24-1: at least two). Refuses two equal components
    (the KEK would not depend on one of them) and an all-zero result. Does not wipe the
    components (the caller owns them); the caller wipes the result."""
    if len(components) < 2:
        raise ComponentError(
            "A KEK needs at least two components (ANSI X9.24-1: no one person knows a key)"
        )
    for index, part in enumerate(components, 1):
        if len(part) != algorithm.length:
            raise ComponentError(
                f"Component {index} has {len(part)} bytes; {algorithm.length} are needed"
            )
    for i in range(len(components)):
        for j in range(i + 1, len(components)):
            if components[i] == components[j]:
                raise ComponentError(
                    f"Components {i + 1} and {j + 1} are the same; each custodian's "
                    "component must be their own"
                )
    kek = bytearray(algorithm.length)
    for part in components:
        for i, byte in enumerate(part):
            kek[i] ^= byte
    if not any(kek):
        wipe(kek)
        raise ComponentError("The components XOR to zero; they cannot make a KEK")
    return kek
