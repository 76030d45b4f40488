"""Clear key components for paper ceremonies: split knowledge by XOR.

A secret key that must travel or be entered outside an HSM is held as two or more
full-length *components*, each known to a different custodian; the key is the XOR of all
of them, so no one custodian learns anything about it (ANSI X9.24-1 key components: split
knowledge and dual control, as PCI PIN Security Requirement 5-1 asks). Every component, and
the key, is identified by a key check value (KCV) so that a custodian can confirm what was typed
without revealing it.

TDES keys carry a parity bit in the least significant bit of every byte; by convention
(FIPS 46-3, ANSI X9.24-1) each byte has odd parity. Parity bits are not key bits, so
setting them never changes the cipher or the KCV, but a component typed with the wrong
parity almost always means a typing error, and is refused.

Every value here that holds key material is a ``bytearray`` so that the caller can wipe
it once done; the functions wipe their own temporary buffers.

>>> components = [bytearray.fromhex("0123456789ABCDEF FEDCBA9876543210"),
...               bytearray.fromhex("1010101010101010 2020202020202020")]
>>> key = combine(KeyAlgorithm.TDES_2KEY, components)
>>> format_groups(key)
'1032 5476 98BA DCFE DFFD 9BB9 5775 1331'
>>> kcv_hex(check_value(KeyAlgorithm.TDES_2KEY, key))
'737C5D'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from workstation.domain.algorithms import KeyAlgorithm, KeyFamily
from workstation.errors import BadInput, WorkstationError

try:  # cryptography >= 43 keeps the legacy ciphers here
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - cryptography 42
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES

__all__ = [
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
]

MIN_COMPONENTS = 2
# One digit on the printed mailers and the entry screens; more custodians than this for a
# single key is not a ceremony anyone can run.
MAX_COMPONENTS = 9

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class ComponentError(BadInput):
    """A component, a key or a request about them is not acceptable; the message says why."""


# --- check values ------------------------------------------------------------------------


def check_value(algorithm: KeyAlgorithm, value: bytes | bytearray) -> bytes:
    """The key check value of a TDES or AES key or component, computed in software.

    TDES (ANSI X9.24-1:2017 Annex A.2, the legacy method): encrypt 8 zero bytes with the key
    (TDEA, ECB; a double-length key is used as K1 K2 K1) and keep the leftmost 3 bytes.
    AES (ANSI X9.24-1:2017 Annex A.3): AES-CMAC (NIST SP 800-38B) over 16 zero bytes, keep
    the leftmost 5 bytes. These are the values the HSM adapter computes inside the HSM.

    Parameters
    ----------
    algorithm
        A symmetric algorithm (TDES or AES).
    value
        The key or component, exactly ``algorithm.key_bytes`` long. TDES parity bits are
        ignored, as the cipher ignores them.

    Returns
    -------
    bytes
        3 bytes for TDES, 5 for AES.

    Raises
    ------
    ComponentError
        For an asymmetric algorithm or a value of the wrong length.

    Examples
    --------
    The TR-31:2018 A.7.2.2 key, once as TDES and once as AES-128 (published KCVs 57C409 and
    08793E25AB):

    >>> key = bytes.fromhex("3F419E1CB7079442AA37474C2EFBF8B8")
    >>> kcv_hex(check_value(KeyAlgorithm.TDES_2KEY, key))
    '57C409'
    >>> kcv_hex(check_value(KeyAlgorithm.AES_128, key))
    '08793E25AB'
    """
    length = _key_length(algorithm)
    if len(value) != length:
        raise ComponentError(
            f"Key is {_count(len(value), 'byte')} long; {_a(algorithm)} key has {length}."
        )
    if algorithm.family is KeyFamily.TDES:
        # A double-length key is keying option 2, K1 K2 K1 (ANSI X9.52); cryptography
        # deprecates 16-byte keys, so it gets the 24-byte form, in a buffer wiped after.
        tdea_key = bytearray(24)
        tdea_key[: len(value)] = value
        if len(value) == 16:
            tdea_key[16:] = memoryview(value)[:8]  # a view: no unwiped copy of K1
        try:
            # cryptography types the key as bytes but takes any buffer; a bytearray is what
            # lets this copy be wiped.
            cipher = Cipher(TripleDES(cast(bytes, tdea_key)), modes.ECB())  # noqa: S305
            encryptor = cipher.encryptor()
            return (encryptor.update(bytes(8)) + encryptor.finalize())[:3]
        finally:
            _wipe(tdea_key)
    mac = CMAC(algorithms.AES(value))
    mac.update(bytes(16))
    return mac.finalize()[:5]


def kcv_hex(kcv: bytes) -> str:
    """A check value as printed and shown: upper-case hex, no separators.

    >>> kcv_hex(bytes.fromhex("08d7b4"))
    '08D7B4'
    """
    return kcv.hex().upper()


# --- parity ------------------------------------------------------------------------------


def odd_parity(value: bytearray) -> None:
    """Set the least significant bit of every byte so that each byte has odd parity.

    This is the DES parity convention (FIPS 46-3): the low bit of each byte is a parity
    bit, not a key bit, so the key and its check value are unchanged.

    >>> key = bytearray.fromhex("0000FFFE")
    >>> odd_parity(key)
    >>> key.hex().upper()
    '0101FEFE'
    """
    for i, byte in enumerate(value):
        high = byte & 0xFE
        value[i] = high | (0 if high.bit_count() % 2 else 1)


def parity_errors(value: bytes | bytearray) -> list[int]:
    """The 0-based indexes of the bytes with even parity.

    >>> parity_errors(bytes.fromhex("0100FF02"))
    [1, 2]
    """
    return [i for i, byte in enumerate(value) if byte.bit_count() % 2 == 0]


# --- generating, combining and splitting -------------------------------------------------


def random_components(
    algorithm: KeyAlgorithm, count: int, random_bytes: Callable[[int], bytearray]
) -> list[bytearray]:
    """``count`` fresh random components for a new key (TDES ones with odd parity).

    Parameters
    ----------
    algorithm
        A symmetric algorithm; each component is ``algorithm.key_bytes`` long.
    count
        How many components, from 2 to 9.
    random_bytes
        The random source, normally the HSM's generator.

    Raises
    ------
    ComponentError
        For a count out of range or an asymmetric algorithm.
    """
    _check_count(count)
    return _random_values(algorithm, count, random_bytes)


def combine(algorithm: KeyAlgorithm, components: Sequence[bytes | bytearray]) -> bytearray:
    """The key formed by XOR of all ``components`` (ANSI X9.24-1 key components).

    For TDES the result is set to odd parity: the components' parity bits XOR to even
    parity when their number is even, and parity bits are not key bits, so this changes
    neither the key nor its check value.

    Parameters
    ----------
    algorithm
        A symmetric algorithm.
    components
        At least 2 components, each ``algorithm.key_bytes`` long.

    Returns
    -------
    bytearray
        The key; the caller wipes it when done.

    Raises
    ------
    ComponentError
        Fewer than 2 components, a component of the wrong length (naming its number), a
        result of all zeros, or a TDES result whose 8-byte parts repeat so that it would
        act as single DES.

    Examples
    --------
    >>> combine(KeyAlgorithm.AES_128, [bytes(15) + b"\\x01", bytes(15) + b"\\x03"]).hex()
    '00000000000000000000000000000002'
    """
    length = _key_length(algorithm)
    if len(components) < MIN_COMPONENTS:
        raise ComponentError(
            f"At least {MIN_COMPONENTS} components are needed to form a key; "
            f"{_were(len(components))} given."
        )
    for number, component in enumerate(components, start=1):
        if len(component) != length:
            raise ComponentError(
                f"Component {number} is {_count(len(component), 'byte')} long; "
                f"{_a(algorithm)} component has {length}."
            )
    key = bytearray(length)
    try:
        for component in components:
            for i, byte in enumerate(component):
                key[i] ^= byte
        if algorithm.family is KeyFamily.TDES:
            odd_parity(key)
        _refuse_weak(algorithm, key)
    except BaseException:
        _wipe(key)
        raise
    return key


def split(
    algorithm: KeyAlgorithm,
    key: bytes | bytearray,
    count: int,
    random_bytes: Callable[[int], bytearray],
) -> list[bytearray]:
    """Split ``key`` into ``count`` components for export on paper.

    Components 1 to ``count - 1`` are random (TDES: odd parity); the last is the key XOR
    all the others (TDES: then set to odd parity), so ``combine`` gives the key back for
    any AES key and any TDES key with odd parity.

    Parameters
    ----------
    algorithm
        A symmetric algorithm.
    key
        The clear key, ``algorithm.key_bytes`` long. It is not wiped here.
    count
        How many components, from 2 to 9.
    random_bytes
        The random source, normally the HSM's generator.

    Returns
    -------
    list of bytearray
        The components; the caller wipes them once printed.

    Raises
    ------
    ComponentError
        For a count out of range, a key of the wrong length or an asymmetric algorithm.
    """
    length = _key_length(algorithm)
    _check_count(count)
    if len(key) != length:
        raise ComponentError(
            f"Key is {_count(len(key), 'byte')} long; {_a(algorithm)} key has {length}."
        )
    components = _random_values(algorithm, count - 1, random_bytes)
    last = bytearray(key)
    for component in components:
        for i, byte in enumerate(component):
            last[i] ^= byte
    if algorithm.family is KeyFamily.TDES:
        odd_parity(last)
    components.append(last)
    return components


# --- typed entry -------------------------------------------------------------------------


def parse_component(algorithm: KeyAlgorithm, text: str, *, number: int | None = None) -> bytearray:
    """A component as typed by a custodian.

    Upper- or lower-case hex digits, optionally separated by spaces (groups of four, as
    printed), other white space or dashes. For TDES every byte must have odd parity: a byte
    with even parity is almost always a typing error.

    Parameters
    ----------
    algorithm
        A symmetric algorithm.
    text
        What was typed.
    number
        The component's number (1, 2, ...), named in the messages when given.

    Returns
    -------
    bytearray
        The component; the caller wipes it when done.

    Raises
    ------
    ComponentError
        Naming the first character that is not a hex digit (positions count hex digits
        from 1, separators not counted), the wrong length, or the bytes with bad parity
        (counted from 1).

    Examples
    --------
    >>> parse_component(KeyAlgorithm.TDES_2KEY, "0123 4567 89ab cdef fedc ba98 7654 3210").hex()
    '0123456789abcdeffedcba9876543210'
    >>> try:
    ...     parse_component(KeyAlgorithm.TDES_2KEY, "0123 45G7", number=2)
    ... except ComponentError as error:
    ...     print(error)
    Component 2 contains 'G' at position 7, which is not a hex digit.
    """
    subject = "Component" if number is None else f"Component {number}"
    length = _key_length(algorithm)
    digits = _hex_digits(text, subject)
    needed = 2 * length
    if not digits:
        raise ComponentError(
            f"{subject} is empty; {_a(algorithm)} component has {needed} hex digits."
        )
    if len(digits) != needed:
        raise ComponentError(
            f"{subject} is {_count(len(digits), 'hex digit')} long; "
            f"{_a(algorithm)} component has {needed}."
        )
    value = bytearray.fromhex(digits)
    if algorithm.family is KeyFamily.TDES:
        bad = parity_errors(value)
        if bad:
            _wipe(value)
            where = _enumerate_words([str(i + 1) for i in bad])
            noun = "byte" if len(bad) == 1 else "bytes"
            raise ComponentError(
                f"{subject} has wrong (even) parity in {noun} {where}; a TDES component has "
                "odd parity in every byte: check for a typing error."
            )
    return value


class EntryState(StrEnum):
    INCOMPLETE = "incomplete"
    COMPLETE = "complete"
    INVALID = "invalid"


@dataclass(frozen=True)
class EntryCheck:
    """What an entry field shows under a component as it is typed."""

    state: EntryState
    message: str
    digits: int  # hex digits in the field (anything else typed is not counted)
    needed: int  # hex digits in a full component (0 for an algorithm without components)
    kcv: str | None  # the component's check value, once complete and valid


def check_entry(algorithm: KeyAlgorithm, text: str) -> EntryCheck:
    """Check a component while it is being typed; never raises.

    Parameters
    ----------
    algorithm
        The algorithm of the key being entered.
    text
        What is in the entry field now.

    Returns
    -------
    EntryCheck
        INCOMPLETE ("12 of 32 hex digits") while only hex digits have been typed and too few
        of them; INVALID with the reason for a character that is not a hex digit, too many
        digits or (TDES) bad parity; COMPLETE with the component's check value.

    Examples
    --------
    >>> check_entry(KeyAlgorithm.TDES_2KEY, "0123 4567 89AB").message
    '12 of 32 hex digits'
    >>> check_entry(KeyAlgorithm.TDES_2KEY, "0123456789ABCDEFFEDCBA9876543210").kcv
    '08D7B4'
    """
    try:
        needed = 2 * _key_length(algorithm)
    except ComponentError as error:
        return EntryCheck(EntryState.INVALID, error.message, 0, 0, None)
    digits = sum(1 for char in text if char in _HEX_DIGITS)
    try:
        _hex_digits(text, "Component")
    except ComponentError as error:
        return EntryCheck(EntryState.INVALID, error.message, digits, needed, None)
    if digits < needed:
        return EntryCheck(
            EntryState.INCOMPLETE, f"{digits} of {needed} hex digits", digits, needed, None
        )
    try:
        value = parse_component(algorithm, text)
    except ComponentError as error:
        return EntryCheck(EntryState.INVALID, error.message, digits, needed, None)
    try:
        kcv = kcv_hex(check_value(algorithm, value))
    finally:
        _wipe(value)
    return EntryCheck(
        EntryState.COMPLETE,
        f"{needed} of {needed} hex digits, check value {kcv}",
        digits,
        needed,
        kcv,
    )


def format_groups(value: bytes | bytearray, size: int = 4) -> str:
    """Upper-case hex in groups of ``size`` digits, as printed on a component mailer.

    >>> format_groups(bytes.fromhex("0123456789abcdef"))
    '0123 4567 89AB CDEF'
    >>> format_groups(bytes.fromhex("0123456789"), size=6)
    '012345 6789'
    """
    if size < 1:
        raise ValueError(f"group size must be at least 1, not {size}")
    digits = value.hex().upper()
    return " ".join(digits[i : i + size] for i in range(0, len(digits), size))


# --- helpers -----------------------------------------------------------------------------


def _key_length(algorithm: KeyAlgorithm) -> int:
    if not algorithm.is_symmetric:
        raise ComponentError(
            f"{algorithm.value} is not a secret-key algorithm: only TDES and AES keys are "
            "held as components."
        )
    return algorithm.key_bytes


def _a(algorithm: KeyAlgorithm) -> str:
    """``a TDES-2KEY``, ``an AES-128``."""
    return ("an " if algorithm.value.startswith("A") else "a ") + algorithm.value


def _check_count(count: int) -> None:
    if not MIN_COMPONENTS <= count <= MAX_COMPONENTS:
        raise ComponentError(
            f"A key is split into {MIN_COMPONENTS} to {MAX_COMPONENTS} components; "
            f"{_were(count)} asked for."
        )


def _random_values(
    algorithm: KeyAlgorithm, count: int, random_bytes: Callable[[int], bytearray]
) -> list[bytearray]:
    length = _key_length(algorithm)
    values: list[bytearray] = []
    try:
        for _ in range(count):
            value = random_bytes(length)
            values.append(value)
            if len(value) != length:
                # The random source broke its contract: a failure, not the custodian's input.
                raise WorkstationError(
                    f"The random generator returned {len(value)} bytes, not {length}."
                )
            if algorithm.family is KeyFamily.TDES:
                odd_parity(value)
    except BaseException:
        for value in values:
            _wipe(value)
        raise
    return values


def _refuse_weak(algorithm: KeyAlgorithm, key: bytearray) -> None:
    """Refuse a combined key that is all zeros or (TDES) degenerates to single DES."""
    # Compare without the parity bits: they are not key bits.
    mask = 0xFE if algorithm.family is KeyFamily.TDES else 0xFF
    if not any(byte & mask for byte in key):
        raise ComponentError(
            "The components combine to a key of all zeros, which is refused: check that no "
            "component was entered twice."
        )
    if algorithm.family is not KeyFamily.TDES:
        return

    def same(a: int, b: int) -> bool:
        return all((key[a + i] ^ key[b + i]) & mask == 0 for i in range(8))

    # With K1 = K2 (or K2 = K3) encrypt-decrypt cancels and TDEA acts as single DES with the
    # remaining part (see the keying options of ANSI X9.52 and NIST SP 800-67).
    if same(0, 8):
        repeated = "first and second"
    elif len(key) == 24 and same(8, 16):
        repeated = "second and third"
    else:
        return
    raise ComponentError(
        f"The components combine to a TDES key whose {repeated} 8-byte parts are equal "
        "(ignoring parity bits), so it would act as single DES; it is refused."
    )


def _hex_digits(text: str, subject: str) -> str:
    """The hex digits of ``text`` with separators removed; refuses any other character."""
    digits: list[str] = []
    for char in text:
        if char == "-" or char.isspace():
            continue
        if char not in _HEX_DIGITS:
            raise ComponentError(
                f"{subject} contains {_describe(char)} at position {len(digits) + 1}, which "
                "is not a hex digit."
            )
        digits.append(char)
    return "".join(digits)


def _describe(char: str) -> str:
    if char.isprintable() and not char.isspace():
        return f"'{char}'"
    return f"the character U+{ord(char):04X}"


def _count(n: int, singular: str) -> str:
    """``1 byte``, ``2 bytes``."""
    return f"{n} {singular}" if n == 1 else f"{n} {singular}s"


def _were(n: int) -> str:
    """``1 was``, ``2 were``."""
    return f"{n} was" if n == 1 else f"{n} were"


def _enumerate_words(items: Sequence[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _wipe(value: bytearray) -> None:
    value[:] = bytes(len(value))
