"""DUKPT: TDES (ANSI X9.24-1:2009 Annex A) and AES (ANSI X9.24-3:2017), and their KSNs.

Derived Unique Key Per Transaction, from the host's side: a Base Derivation Key (BDK) and a
terminal's Key Serial Number (KSN) give the terminal's initial key; the initial key and the
transaction counter in a later KSN give that transaction's key; the transaction key gives the
working keys (PIN, MAC, data). Bytes in, bytes out; every bad input raises :class:`DukptError`
with a message naming the field.

TDES DUKPT (X9.24-1:2009)
    The KSN is 10 bytes: 59 bits that name the terminal and a 21-bit transaction counter. The
    BDK and every derived key are double-length TDES keys (16 bytes).

>>> bdk = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
>>> ipek = tdes_ipek(bdk, bytes.fromhex("FFFF9876543210E00000"))
>>> ipek.hex().upper()
'6AC292FAA1315B4D858AB3A3D7D5933A'
>>> key = tdes_transaction_key(ipek, bytes.fromhex("FFFF9876543210E00001"))
>>> tdes_working_keys(key).pin.hex().upper()
'042666B49184CF5C68DE9628D0397B36'

AES DUKPT (X9.24-3:2017)
    The KSN is 12 bytes: an 8-byte initial key ID (4-byte BDK ID and 4-byte derivation ID)
    and a 32-bit transaction counter. Derivation keys are AES; working keys may be TDES or
    AES, never stronger than the key they come from.

>>> bdk = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
>>> ik = aes_initial_key(bdk, bytes.fromhex("1234567890123456"))
>>> ik.hex().upper()
'1273671EA26AC29AFA4D1084127652A1'
>>> ksn = bytes.fromhex("123456789012345600000001")
>>> dk = aes_derivation_key(ik, ksn)
>>> aes_working_key(dk, ksn, KeyUsage.PIN_ENCRYPTION, KeyType.AES128).hex().upper()
'AF8CB133A78F8DC2D1359F18527593FB'

KSN descriptors
    X9.24-1 fixes only the 21-bit counter; how a host splits the other 59 bits is its own
    convention. The one payShield and most hosts use is a three-hex-digit descriptor ``xyz``:
    ``x`` hex digits of BDK ID, ``y`` of sub-key ID (usually 0) and ``z`` of device ID, e.g.
    ``A05`` (10, 0, 5) or ``605`` (6, 0, 5). The fields run left to right and end at the
    15th hex digit, whose low bit is the counter's top bit: a device ID therefore always has
    an even last digit, and consecutive terminals differ by 2 in it. A descriptor shorter
    than 15 digits describes the KSN as terminals send it (``x + y + z + 5`` hex digits); it
    is padded on the left with ``F`` to the 20 digits of the derivation (``605``: ``FFFF``).
    AES KSNs have one fixed layout, written ``AES``: BDK ID 8, sub-key ID 0, device
    (derivation) ID 8 hex digits, counter 32 bits (X9.24-3:2017).

>>> ksn = Ksn.parse("9876543210E00001", "605")
>>> ksn.bdk_id, ksn.device_id, ksn.counter, str(ksn)
('987654', '3210E', 1, 'FFFF9876543210E00001')
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Literal

from workstation.standards._primitives import aes_encryptor, tdes_ecb_encrypt, xor

__all__ = [
    "AES_KSN_DESCRIPTOR",
    "DukptError",
    "KeyType",
    "KeyUsage",
    "Ksn",
    "KsnDescriptor",
    "TdesWorkingKeys",
    "aes_derivation_key",
    "aes_initial_key",
    "aes_update_key",
    "aes_working_key",
    "ksn_range",
    "tdes_ipek",
    "tdes_transaction_key",
    "tdes_working_keys",
]


class DukptError(ValueError):
    """A DUKPT input is wrong: the message names the field and what is wrong with it."""


# --------------------------------------------------------------------------- helpers


def _check_bytes(name: str, value: object) -> bytes | bytearray:
    if not isinstance(value, bytes | bytearray):
        raise DukptError(f"{name} must be bytes, not {type(value).__name__}")
    return value


def _is_hex(text: str) -> bool:
    return all(c in "0123456789ABCDEFabcdef" for c in text)


# --------------------------------------------------------------------------- TDES DUKPT

_TDES_KSN_LENGTH = 10
_TDES_COUNTER_BITS = 21
_TDES_COUNTER_MASK = (1 << _TDES_COUNTER_BITS) - 1
# X9.24-1:2009 A.3: the originator skips counters with more than 10 one-bits.
_TDES_MAX_ONE_BITS = 10

# X9.24-1:2009 A.6 (IPEK right half) and A.2 (non-reversible key generation): the key
# register is XORed with C0C0C0C000000000C0C0C0C000000000.
_TDES_KEY_REGISTER_MASK = bytes.fromhex("C0C0C0C000000000C0C0C0C000000000")

# X9.24-1:2009 A.4.1 Table A-1: variant constants of the transaction key.
_PIN_VARIANT = bytes.fromhex("00000000000000FF00000000000000FF")
_MAC_REQUEST_VARIANT = bytes.fromhex("000000000000FF00000000000000FF00")
_MAC_RESPONSE_VARIANT = bytes.fromhex("00000000FF00000000000000FF000000")
_DATA_REQUEST_VARIANT = bytes.fromhex("0000000000FF00000000000000FF0000")
_DATA_RESPONSE_VARIANT = bytes.fromhex("000000FF00000000000000FF00000000")


def _tdes_ksn_counter(name: str, ksn: object) -> tuple[int, int]:
    """The KSN as an 80-bit integer and its transaction counter, after validation."""
    data = _check_bytes(name, ksn)
    if len(data) != _TDES_KSN_LENGTH:
        raise DukptError(f"{name} must be {_TDES_KSN_LENGTH} bytes for TDES DUKPT, not {len(data)}")
    value = int.from_bytes(data, "big")
    counter = value & _TDES_COUNTER_MASK
    ones = counter.bit_count()
    if ones > _TDES_MAX_ONE_BITS:
        raise DukptError(
            f"{name} transaction counter {counter:06X} has {ones} one-bits; TDES DUKPT "
            f"allows at most {_TDES_MAX_ONE_BITS} (X9.24-1:2009 A.3)"
        )
    return value, counter


def _tdes_key(name: str, key: object) -> bytes | bytearray:
    data = _check_bytes(name, key)
    if len(data) != 16:
        raise DukptError(
            f"{name} must be 16 bytes (a double-length TDES key, X9.24-1:2009 Annex A), "
            f"not {len(data)}"
        )
    return data


def _counter_prefixes(counter: int) -> Iterator[int]:
    """The counter's one-bits set one at a time, most significant first.

    0b1011 gives 0b1000, 0b1010, 0b1011: the KSN register's counter part at each step of
    the host's derivation (X9.24-1:2009 A.3, X9.24-3:2017 6.1). One step per one-bit.
    """
    register = 0
    while register != counter:
        register |= 1 << ((counter ^ register).bit_length() - 1)
        yield register


def _des(key8: bytes | bytearray, block: bytes) -> bytes:
    # Single DES as TDES keying option 3 (K1K1K1), as the primitives module offers it.
    return tdes_ecb_encrypt(key8, block)


def _nonreversible_key_generation(key_register: bytes | bytearray, ksn_register: bytes) -> bytes:
    """X9.24-1:2009 A.2, "Non-reversible Key Generation Process": one step of the tree.

    ``ksn_register`` is the rightmost 64 bits of the KSN register (crypto register 1).
    """
    left, right = key_register[:8], key_register[8:]
    right_half = xor(_des(left, xor(ksn_register, right)), right)
    variant = xor(key_register, _TDES_KEY_REGISTER_MASK)
    left, right = variant[:8], variant[8:]
    left_half = xor(_des(left, xor(ksn_register, right)), right)
    return left_half + right_half


def tdes_ipek(bdk: bytes | bytearray, ksn: bytes | bytearray) -> bytes:
    """The initial PIN encryption key (IPEK) of a terminal (ANSI X9.24-1:2009 A.6).

    Parameters
    ----------
    bdk : bytes or bytearray
        The Base Derivation Key, a double-length TDES key (16 bytes).
    ksn : bytes or bytearray
        The terminal's 10-byte KSN; its transaction counter bits are cleared first, so the
        initial KSN and any later KSN of the terminal give the same IPEK.

    Returns
    -------
    bytes
        The 16-byte IPEK (parity bits as derived, not adjusted).

    Raises
    ------
    DukptError
        If the BDK is not 16 bytes, or the KSN is not 10 bytes or has a counter with more
        than 10 one-bits.

    Examples
    --------
    >>> bdk = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    >>> tdes_ipek(bdk, bytes.fromhex("FFFF9876543210E00008")).hex().upper()
    '6AC292FAA1315B4D858AB3A3D7D5933A'
    """
    key = _tdes_key("bdk", bdk)
    value, _ = _tdes_ksn_counter("ksn", ksn)
    # The leftmost 64 bits of the KSN with the 21 counter bits cleared.
    initial = ((value & ~_TDES_COUNTER_MASK) >> 16).to_bytes(8, "big")
    left = tdes_ecb_encrypt(key, initial)
    right = tdes_ecb_encrypt(xor(key, _TDES_KEY_REGISTER_MASK), initial)
    return left + right


def tdes_transaction_key(ipek: bytes | bytearray, ksn: bytes | bytearray) -> bytes:
    """The transaction key for the KSN's counter (ANSI X9.24-1:2009 A.2, A.3).

    The host's calculation: starting from the IPEK, one non-reversible key generation step
    for each one-bit of the counter, from the most significant down, each with the KSN
    register holding the counter bits processed so far.

    Parameters
    ----------
    ipek : bytes or bytearray
        The terminal's 16-byte initial key (see :func:`tdes_ipek`).
    ksn : bytes or bytearray
        The 10-byte KSN of the transaction; its counter must not be 0 (the initial KSN has
        no transaction key) and may have at most 10 one-bits.

    Returns
    -------
    bytes
        The 16-byte transaction key, before any variant (see :func:`tdes_working_keys`).

    Raises
    ------
    DukptError
        If the IPEK is not 16 bytes, or the KSN is not 10 bytes, or its counter is 0 or
        has more than 10 one-bits.

    Examples
    --------
    >>> ipek = bytes.fromhex("6AC292FAA1315B4D858AB3A3D7D5933A")
    >>> tdes_transaction_key(ipek, bytes.fromhex("FFFF9876543210EFF800")).hex().upper()
    'F9CDFEBF4F5B1D9EB3EC12454527E176'
    """
    key = _tdes_key("ipek", ipek)
    value, counter = _tdes_ksn_counter("ksn", ksn)
    if counter == 0:
        raise DukptError(
            "ksn transaction counter is 0: that is the initial KSN, which has no transaction key"
        )
    # The rightmost 64 bits of the KSN register, counter cleared, then its bits set one by one.
    base = value & 0xFFFFFFFFFFFFFFFF & ~_TDES_COUNTER_MASK
    current: bytes | bytearray = key  # the caller's key is read, never copied or kept
    for bits_so_far in _counter_prefixes(counter):
        register = (base | bits_so_far).to_bytes(8, "big")
        current = _nonreversible_key_generation(current, register)
    return bytes(current)


@dataclass(frozen=True, repr=False)
class TdesWorkingKeys:
    """The working keys of one TDES DUKPT transaction (X9.24-1:2009 A.4.1).

    Each is 16 bytes. The repr names the fields only, so a log line never shows a key.
    """

    pin: bytes
    mac_request: bytes
    mac_response: bytes
    data_request: bytes
    data_response: bytes

    def __repr__(self) -> str:
        return "TdesWorkingKeys(pin, mac_request, mac_response, data_request, data_response)"


def _data_key(variant_key: bytes) -> bytes:
    # X9.24-1:2009 A.4.1 Figure A-2: each half of the data variant is TDES-encrypted under
    # the variant key itself.
    return tdes_ecb_encrypt(variant_key, variant_key)


def tdes_working_keys(transaction_key: bytes | bytearray) -> TdesWorkingKeys:
    """The PIN, MAC and data keys of a transaction key (ANSI X9.24-1:2009 A.4.1).

    PIN and MAC keys are the transaction key XOR the variant constants of Table A-1; the
    data keys are the data variants put through the one-way function of Figure A-2 (each
    half TDES-encrypted under the variant key itself).

    Parameters
    ----------
    transaction_key : bytes or bytearray
        The 16-byte key from :func:`tdes_transaction_key`.

    Returns
    -------
    TdesWorkingKeys
        The five 16-byte working keys.

    Raises
    ------
    DukptError
        If the transaction key is not 16 bytes.

    Examples
    --------
    >>> key = bytes.fromhex("042666B49184CFA368DE9628D0397BC9")
    >>> keys = tdes_working_keys(key)
    >>> keys.mac_request.hex().upper()
    '042666B4918430A368DE9628D03984C9'
    >>> keys.data_request.hex().upper()
    '448D3F076D8304036A55A3D7E0055A78'
    """
    key = _tdes_key("transaction_key", transaction_key)
    return TdesWorkingKeys(
        pin=xor(key, _PIN_VARIANT),
        mac_request=xor(key, _MAC_REQUEST_VARIANT),
        mac_response=xor(key, _MAC_RESPONSE_VARIANT),
        data_request=_data_key(xor(key, _DATA_REQUEST_VARIANT)),
        data_response=_data_key(xor(key, _DATA_RESPONSE_VARIANT)),
    )


# --------------------------------------------------------------------------- AES DUKPT


class KeyType(StrEnum):
    """Key types of AES DUKPT (ANSI X9.24-3:2017 6.2.1)."""

    TDES2 = "TDES2"
    TDES3 = "TDES3"
    AES128 = "AES128"
    AES192 = "AES192"
    AES256 = "AES256"


class KeyUsage(IntEnum):
    """Key usage indicators of the derivation data (ANSI X9.24-3:2017 6.3.2, Tables 2 and 3).

    ``KEY_DERIVATION`` and ``KEY_DERIVATION_INITIAL_KEY`` belong to the derivation itself
    (:func:`aes_derivation_key`, :func:`aes_initial_key`), not to working keys.
    """

    KEY_ENCRYPTION = 0x0002
    PIN_ENCRYPTION = 0x1000
    MAC_GENERATION = 0x2000
    MAC_VERIFICATION = 0x2001
    MAC_BOTH = 0x2002
    DATA_ENCRYPT = 0x3000
    DATA_DECRYPT = 0x3001
    DATA_BOTH = 0x3002
    KEY_DERIVATION = 0x8000
    KEY_DERIVATION_INITIAL_KEY = 0x8001


@dataclass(frozen=True)
class _KeySpec:
    length: int  # bytes
    algorithm: int  # algorithm indicator, X9.24-3:2017 6.3.2
    strength: int  # security strength in bits, NIST SP 800-57 Part 1 Table 2


_KEY_SPECS = {
    KeyType.TDES2: _KeySpec(16, 0x0000, 80),
    KeyType.TDES3: _KeySpec(24, 0x0001, 112),
    KeyType.AES128: _KeySpec(16, 0x0002, 128),
    KeyType.AES192: _KeySpec(24, 0x0003, 192),
    KeyType.AES256: _KeySpec(32, 0x0004, 256),
}
_AES_BY_LENGTH = {16: KeyType.AES128, 24: KeyType.AES192, 32: KeyType.AES256}
_KEY_TYPE_NAMES = frozenset(t.value for t in KeyType)
_USAGE_VALUES = frozenset(u.value for u in KeyUsage)

_AES_KSN_LENGTH = 12
_AES_IKID_LENGTH = 8
_AES_COUNTER_BITS = 32
# X9.24-3:2017 6.1: the originator skips counters with more than 16 one-bits.
_AES_MAX_ONE_BITS = 16
_UPDATE_KEY_COUNTER = 0xFFFFFFFF  # X9.24-3:2017 6.5.2, 6.5.3

# Derivation data, X9.24-3:2017 6.3.2 Tables 2 and 3: version (01), key block counter,
# key usage indicator, algorithm indicator, length in bits; then 8 bytes of KSN data.
_DERIVATION_HEAD = struct.Struct(">BBHHH")
_DERIVATION_VERSION = 0x01


def _derivation_heads(usage: int, key_type: KeyType) -> tuple[bytes, ...]:
    spec = _KEY_SPECS[key_type]
    blocks = (spec.length + 15) // 16
    return tuple(
        _DERIVATION_HEAD.pack(_DERIVATION_VERSION, i, usage, spec.algorithm, spec.length * 8)
        for i in range(1, blocks + 1)
    )


# The first 8 bytes of each derivation block, for every usage and key type (built once: a
# derivation runs up to 33 times per transaction key).
_HEADS = {(usage, kt): _derivation_heads(usage, kt) for usage in KeyUsage for kt in KeyType}


def _derive(key: bytes | bytearray, usage: KeyUsage, key_type: KeyType, ksn_data: bytes) -> bytes:
    """X9.24-3:2017 6.3.1: AES-ECB of the derivation data, one block per 128 bits of key.

    Block ``i`` is the head with key block counter ``i`` followed by the 8 bytes of KSN
    data; all blocks go through one ECB context.
    """
    heads = _HEADS[usage, key_type]
    # head1 + ksn_data (+ head2 + ksn_data): ksn_data.join puts it between the heads.
    data = ksn_data.join(heads) + ksn_data
    encryptor = aes_encryptor(key)
    material = encryptor.update(data) + encryptor.finalize()
    return material[: _KEY_SPECS[key_type].length]


def _key_type(value: object) -> KeyType:
    if isinstance(value, str) and value in _KEY_TYPE_NAMES:
        return KeyType(value)
    names = ", ".join(t.value for t in KeyType)
    raise DukptError(f"key_type must be one of {names}, not {value!r}")


def _aes_key(name: str, key: object) -> KeyType:
    """The AES type of a derivation key (BDK, initial or intermediate key) by its length."""
    data = _check_bytes(name, key)
    key_type = _AES_BY_LENGTH.get(len(data))
    if key_type is None:
        # X9.24-3:2017 6.3.1: only AES keys derive keys.
        raise DukptError(
            f"{name} must be 16, 24 or 32 bytes (an AES key, X9.24-3:2017 6.3.1), not {len(data)}"
        )
    return key_type


def _check_strength(key_type: KeyType, parent: KeyType, parent_name: str) -> None:
    # X9.24-3:2017 6.1.3: a derived key is of the same strength as the key it comes from,
    # or weaker.
    if _KEY_SPECS[key_type].strength > _KEY_SPECS[parent].strength:
        raise DukptError(
            f"key_type {key_type.value} is stronger than the {parent_name} "
            f"({parent.value}); a derived key may not be stronger than the key it comes "
            "from (X9.24-3:2017 6.1.3)"
        )


def _aes_ksn_counter(name: str, ksn: object) -> tuple[bytes, int]:
    """The right half of the initial key ID and the counter of a valid, used AES KSN."""
    data = _check_bytes(name, ksn)
    if len(data) != _AES_KSN_LENGTH:
        raise DukptError(f"{name} must be {_AES_KSN_LENGTH} bytes for AES DUKPT, not {len(data)}")
    counter = int.from_bytes(data[8:], "big")
    ones = counter.bit_count()
    if ones > _AES_MAX_ONE_BITS:
        raise DukptError(
            f"{name} transaction counter {counter:08X} has {ones} one-bits; AES DUKPT "
            f"allows at most {_AES_MAX_ONE_BITS} (X9.24-3:2017 6.1)"
        )
    if counter == 0:
        raise DukptError(
            f"{name} transaction counter is 0: that is the initial KSN, which has no "
            "transaction key"
        )
    return bytes(data[4:8]), counter


def aes_initial_key(
    bdk: bytes | bytearray,
    initial_key_id: bytes | bytearray,
    *,
    key_type: KeyType | str | None = None,
) -> bytes:
    """The initial key of a terminal (ANSI X9.24-3:2017 6.3.3, usage 8001).

    Parameters
    ----------
    bdk : bytes or bytearray
        The Base Derivation Key, an AES key of 16, 24 or 32 bytes.
    initial_key_id : bytes or bytearray
        The 8-byte initial key ID: the BDK ID (4 bytes) and the derivation ID (4 bytes),
        the leftmost 8 bytes of the terminal's KSN.
    key_type : KeyType or str, optional
        The type of the initial key: AES128, AES192 or AES256, no stronger than the BDK.
        By default the BDK's own type.

    Returns
    -------
    bytes
        The initial key, 16, 24 or 32 bytes as ``key_type`` says.

    Raises
    ------
    DukptError
        If the BDK is not an AES key, the initial key ID is not 8 bytes, or ``key_type`` is
        not an AES type or is stronger than the BDK.

    Examples
    --------
    >>> bdk = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1" * 2)
    >>> ik = aes_initial_key(bdk, bytes.fromhex("1234567890123456"))
    >>> ik.hex().upper()
    'CE9CE0C101D1138F97FB6CAD4DF045A7083D4EAE2D35A31789D01CCF0949550F'
    """
    bdk_type = _aes_key("bdk", bdk)
    ikid = _check_bytes("initial_key_id", initial_key_id)
    if len(ikid) != _AES_IKID_LENGTH:
        raise DukptError(f"initial_key_id must be {_AES_IKID_LENGTH} bytes, not {len(ikid)}")
    wanted = bdk_type if key_type is None else _key_type(key_type)
    if wanted not in _AES_BY_LENGTH.values():
        raise DukptError(
            f"key_type {wanted.value} cannot be an initial key: derivation keys are AES "
            "(X9.24-3:2017 6.3.1)"
        )
    _check_strength(wanted, bdk_type, "bdk")
    return _derive(bdk, KeyUsage.KEY_DERIVATION_INITIAL_KEY, wanted, bytes(ikid))


def _derivation_key(
    initial_key: bytes | bytearray, key_type: KeyType, ikid_right: bytes, counter: int
) -> bytes:
    """X9.24-3:2017 6.1, 6.4: one derivation (usage 8000) per one-bit of the counter, from
    the most significant down, each with the counter bits processed so far."""
    current: bytes | bytearray = initial_key  # the caller's key is read, never copied or kept
    for bits_so_far in _counter_prefixes(counter):
        ksn_data = ikid_right + bits_so_far.to_bytes(4, "big")
        current = _derive(current, KeyUsage.KEY_DERIVATION, key_type, ksn_data)
    return bytes(current)


def aes_derivation_key(initial_key: bytes | bytearray, ksn: bytes | bytearray) -> bytes:
    """The transaction derivation key for the KSN's counter (ANSI X9.24-3:2017 6.1, 6.4).

    Parameters
    ----------
    initial_key : bytes or bytearray
        The terminal's initial key (see :func:`aes_initial_key`), 16, 24 or 32 bytes.
    ksn : bytes or bytearray
        The 12-byte KSN of the transaction; its counter must not be 0 and may have at most
        16 one-bits.

    Returns
    -------
    bytes
        The derivation key, of the initial key's type, from which the transaction's working
        keys are derived (see :func:`aes_working_key`).

    Raises
    ------
    DukptError
        If the initial key is not an AES key, or the KSN is not 12 bytes, or its counter is
        0 or has more than 16 one-bits.

    Examples
    --------
    >>> ik = bytes.fromhex("1273671EA26AC29AFA4D1084127652A1")
    >>> ksn = bytes.fromhex("1234567890123456FFFF0000")
    >>> aes_derivation_key(ik, ksn).hex().upper()
    'F6BA59389BD14A9855BE9727E7C52E3C'
    """
    key_type = _aes_key("initial_key", initial_key)
    ikid_right, counter = _aes_ksn_counter("ksn", ksn)
    return _derivation_key(initial_key, key_type, ikid_right, counter)


def _working_usage(usage: object) -> KeyUsage:
    if isinstance(usage, bool) or not isinstance(usage, int):
        raise DukptError(f"usage must be a KeyUsage, not {type(usage).__name__}")
    if usage not in _USAGE_VALUES:
        shown = f"{usage:04X}" if usage >= 0 else str(usage)
        raise DukptError(f"usage {shown} is not a key usage of X9.24-3:2017 6.3.2 Table 2")
    value = KeyUsage(usage)
    if value in (KeyUsage.KEY_DERIVATION, KeyUsage.KEY_DERIVATION_INITIAL_KEY):
        raise DukptError(
            f"usage {value.name} is the derivation's own; aes_derivation_key and "
            "aes_initial_key derive those keys"
        )
    return value


def aes_working_key(
    derivation_key: bytes | bytearray,
    ksn: bytes | bytearray,
    usage: KeyUsage,
    key_type: KeyType | str,
) -> bytes:
    """A working key of the transaction (ANSI X9.24-3:2017 6.3.3).

    Parameters
    ----------
    derivation_key : bytes or bytearray
        The transaction's derivation key (see :func:`aes_derivation_key`).
    ksn : bytes or bytearray
        The same 12-byte KSN the derivation key was derived for.
    usage : KeyUsage
        What the key is for: KEY_ENCRYPTION, PIN_ENCRYPTION, MAC_* or DATA_*.
    key_type : KeyType or str
        The working key's type, no stronger than the derivation key (TDES2 and TDES3 may
        come from any AES derivation key).

    Returns
    -------
    bytes
        The working key, 16, 24 or 32 bytes as ``key_type`` says.

    Raises
    ------
    DukptError
        If the derivation key is not an AES key, the KSN is not a valid used KSN, the usage
        is unknown or a derivation usage, or ``key_type`` is stronger than the derivation key.

    Examples
    --------
    >>> dk = bytes.fromhex("4F21B565BAD9835E112B6465635EAE44")
    >>> ksn = bytes.fromhex("123456789012345600000001")
    >>> aes_working_key(dk, ksn, KeyUsage.MAC_GENERATION, KeyType.AES128).hex().upper()
    'A2DC23DE6FDE0824A2BC321E08E4B8B7'
    """
    parent = _aes_key("derivation_key", derivation_key)
    ikid_right, counter = _aes_ksn_counter("ksn", ksn)
    wanted_usage = _working_usage(usage)
    wanted = _key_type(key_type)
    _check_strength(wanted, parent, "derivation_key")
    return _derive(derivation_key, wanted_usage, wanted, ikid_right + counter.to_bytes(4, "big"))


def aes_update_key(
    initial_key: bytes | bytearray,
    initial_key_id: bytes | bytearray,
    key_type: KeyType | str,
) -> bytes:
    """The DUKPT update key of a terminal (ANSI X9.24-3:2017 6.5.3).

    The key-encryption working key (usage 0002) of the reserved counter FFFFFFFF, which
    no transaction uses (X9.24-3:2017 6.5.2); a host encrypts a terminal's new initial
    key under it.

    Parameters
    ----------
    initial_key : bytes or bytearray
        The terminal's current initial key, 16, 24 or 32 bytes.
    initial_key_id : bytes or bytearray
        The terminal's 8-byte initial key ID.
    key_type : KeyType or str
        The update key's type, no stronger than the initial key.

    Returns
    -------
    bytes
        The update key.

    Raises
    ------
    DukptError
        If the initial key is not an AES key, the initial key ID is not 8 bytes, or
        ``key_type`` is stronger than the initial key.

    Examples
    --------
    >>> ik = bytes.fromhex("1273671EA26AC29AFA4D1084127652A1")
    >>> aes_update_key(ik, bytes.fromhex("1234567890123456"), "AES128").hex().upper()
    '9A9770AEE1ACD1B13473D0463A1883B9'
    """
    parent = _aes_key("initial_key", initial_key)
    ikid = _check_bytes("initial_key_id", initial_key_id)
    if len(ikid) != _AES_IKID_LENGTH:
        raise DukptError(f"initial_key_id must be {_AES_IKID_LENGTH} bytes, not {len(ikid)}")
    wanted = _key_type(key_type)
    _check_strength(wanted, parent, "initial_key")
    ikid_right = bytes(ikid[4:])
    derivation_key = _derivation_key(initial_key, parent, ikid_right, _UPDATE_KEY_COUNTER)
    return _derive(
        derivation_key,
        KeyUsage.KEY_ENCRYPTION,
        wanted,
        ikid_right + _UPDATE_KEY_COUNTER.to_bytes(4, "big"),
    )


# --------------------------------------------------------------------------- KSNs


@dataclass(frozen=True)
class KsnDescriptor:
    """How a host splits a KSN into BDK ID, sub-key ID, device ID and counter.

    For TDES, the payShield-style descriptor ``xyz`` gives the three lengths in hex digits
    (``A05``: BDK ID 10, sub-key ID 0, device ID 5); they end at the 15th hex digit of the
    20-digit KSN, whose low bit is the counter's top bit, and digits left of them are
    ``F``. For AES the layout is fixed (:data:`AES_KSN_DESCRIPTOR`, written ``AES``).

    Examples
    --------
    >>> d = KsnDescriptor.parse("605")
    >>> d.bdk_id_digits, d.sub_key_id_digits, d.device_id_digits, d.counter_bits
    (6, 0, 5, 21)
    >>> str(KsnDescriptor.parse("aes")), KsnDescriptor.parse("AES").ksn_length
    ('AES', 12)
    """

    scheme: Literal["TDES", "AES"]
    bdk_id_digits: int
    sub_key_id_digits: int
    device_id_digits: int

    def __post_init__(self) -> None:
        if self.scheme == "AES":
            if (self.bdk_id_digits, self.sub_key_id_digits, self.device_id_digits) != (8, 0, 8):
                raise DukptError(
                    "descriptor AES has a fixed layout: BDK ID 8, sub-key ID 0, "
                    "device ID 8 hex digits (X9.24-3:2017)"
                )
            return
        if self.scheme != "TDES":
            raise DukptError(f"descriptor scheme must be TDES or AES, not {self.scheme!r}")
        text = self._tdes_text()
        if self.bdk_id_digits < 1:
            raise DukptError(f"descriptor {text}: the BDK ID needs at least 1 hex digit")
        if self.device_id_digits < 1:
            raise DukptError(f"descriptor {text}: the device ID needs at least 1 hex digit")
        if self.sub_key_id_digits < 0:
            raise DukptError(f"descriptor {text}: the sub-key ID length may not be negative")
        if self.identity_digits > 15:
            raise DukptError(
                f"descriptor {text}: BDK ID, sub-key ID and device ID take "
                f"{self.identity_digits} hex digits; a TDES KSN has 15 before its counter"
            )

    def _tdes_text(self) -> str:
        parts = (self.bdk_id_digits, self.sub_key_id_digits, self.device_id_digits)
        if all(0 <= n <= 15 for n in parts):
            return "".join(f"{n:X}" for n in parts)
        return "/".join(str(n) for n in parts)

    @classmethod
    def parse(cls, text: str) -> KsnDescriptor:
        """A descriptor from its text: three hex digits (``A05``, ``906``) or ``AES``."""
        if not isinstance(text, str):
            raise DukptError(f"descriptor must be text, not {type(text).__name__}")
        if text.upper() == "AES":
            return AES_KSN_DESCRIPTOR
        if len(text) != 3 or not _is_hex(text):
            raise DukptError(
                "descriptor must be three hex digits (BDK ID, sub-key ID and device ID "
                f"lengths, e.g. A05) or AES, not {text!r}"
            )
        bdk, sub, device = (int(c, 16) for c in text)
        return cls("TDES", bdk, sub, device)

    def __str__(self) -> str:
        return "AES" if self.scheme == "AES" else self._tdes_text()

    @property
    def identity_digits(self) -> int:
        """Hex digits of BDK ID, sub-key ID and device ID together."""
        return self.bdk_id_digits + self.sub_key_id_digits + self.device_id_digits

    @property
    def counter_bits(self) -> int:
        """Bits of the transaction counter: 21 (TDES) or 32 (AES)."""
        return _TDES_COUNTER_BITS if self.scheme == "TDES" else _AES_COUNTER_BITS

    @property
    def ksn_length(self) -> int:
        """Bytes of the KSN: 10 (TDES) or 12 (AES)."""
        return _TDES_KSN_LENGTH if self.scheme == "TDES" else _AES_KSN_LENGTH

    @property
    def max_one_bits(self) -> int:
        """Most one-bits a counter may have: 10 (TDES) or 16 (AES)."""
        return _TDES_MAX_ONE_BITS if self.scheme == "TDES" else _AES_MAX_ONE_BITS

    @property
    def _device_step(self) -> int:
        # TDES: the device ID's last bit is the counter's top bit, so terminals step by 2.
        return 2 if self.scheme == "TDES" else 1


AES_KSN_DESCRIPTOR = KsnDescriptor("AES", 8, 0, 8)
"""The fixed AES KSN layout: BDK ID 4 bytes, derivation (device) ID 4 bytes, counter 32 bits."""


def _descriptor(value: object) -> KsnDescriptor:
    if isinstance(value, KsnDescriptor):
        return value
    if isinstance(value, str):
        return KsnDescriptor.parse(value)
    raise DukptError(f"descriptor must be a KsnDescriptor or text, not {type(value).__name__}")


@dataclass(frozen=True)
class Ksn:
    """A Key Serial Number split as its descriptor says.

    The ID fields are upper-case hex text as they appear in the KSN; for TDES the device
    ID's last digit is even (its low bit is the counter's top bit). A ``Ksn`` is always a
    valid KSN: counter within its bits and with at most 10 (TDES) or 16 (AES) one-bits.

    Examples
    --------
    >>> ksn = Ksn.parse("FFFF9876543210E00001", "A05")
    >>> ksn.bdk_id, ksn.sub_key_id, ksn.device_id, ksn.counter
    ('FFFF987654', '', '3210E', 1)
    >>> ksn.initial_key_id.hex().upper()
    'FFFF9876543210E00000'
    >>> aes = Ksn.parse("123456789012345600000008")
    >>> aes.scheme, aes.initial_key_id.hex().upper(), aes.counter
    ('AES', '1234567890123456', 8)
    """

    bdk_id: str
    sub_key_id: str
    device_id: str
    counter: int
    descriptor: KsnDescriptor

    def __post_init__(self) -> None:
        d = self.descriptor
        if not isinstance(d, KsnDescriptor):
            raise DukptError(f"descriptor must be a KsnDescriptor, not {type(d).__name__}")
        for name, digits in (
            ("bdk_id", d.bdk_id_digits),
            ("sub_key_id", d.sub_key_id_digits),
            ("device_id", d.device_id_digits),
        ):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise DukptError(f"{name} must be text, not {type(value).__name__}")
            if not _is_hex(value):
                raise DukptError(f"{name} {value!r} is not hexadecimal")
            if len(value) != digits:
                raise DukptError(
                    f"{name} {value!r} is {len(value)} hex digits; descriptor {d} gives it {digits}"
                )
            object.__setattr__(self, name, value.upper())
        if d.scheme == "TDES" and int(self.device_id, 16) & 1:
            raise DukptError(
                f"device_id {self.device_id!r} sets the transaction counter's top bit: in a "
                "TDES KSN its last hex digit must be even (the counter is the rightmost 21 "
                "bits, X9.24-1:2009 A.2)"
            )
        counter = self.counter
        if isinstance(counter, bool) or not isinstance(counter, int):
            raise DukptError(f"counter must be an integer, not {type(counter).__name__}")
        if counter < 0 or counter >> d.counter_bits:
            raise DukptError(
                f"counter {counter} does not fit the {d.counter_bits}-bit {d.scheme} "
                "transaction counter"
            )
        if counter.bit_count() > d.max_one_bits:
            clause = "X9.24-1:2009 A.3" if d.scheme == "TDES" else "X9.24-3:2017 6.1"
            raise DukptError(
                f"counter {counter:X} has {counter.bit_count()} one-bits; {d.scheme} DUKPT "
                f"allows at most {d.max_one_bits} ({clause})"
            )

    @property
    def scheme(self) -> Literal["TDES", "AES"]:
        """``TDES`` (10-byte KSN) or ``AES`` (12-byte KSN)."""
        return self.descriptor.scheme

    def _identity_value(self) -> int:
        """The KSN with its counter cleared, as an integer."""
        d = self.descriptor
        digits = self.bdk_id + self.sub_key_id + self.device_id
        if d.scheme == "TDES":
            digits = "F" * (15 - d.identity_digits) + digits
            return int(digits, 16) << 20
        return int(digits, 16) << _AES_COUNTER_BITS

    def to_bytes(self) -> bytes:
        """The KSN as 10 (TDES) or 12 (AES) bytes."""
        value = self._identity_value() | self.counter
        return value.to_bytes(self.descriptor.ksn_length, "big")

    def __str__(self) -> str:
        return self.to_bytes().hex().upper()

    @property
    def initial_key_id(self) -> bytes:
        """AES: the 8-byte initial key ID. TDES: the 10-byte KSN with its counter cleared."""
        if self.scheme == "AES":
            return self.to_bytes()[:_AES_IKID_LENGTH]
        return self._identity_value().to_bytes(_TDES_KSN_LENGTH, "big")

    def with_counter(self, counter: int) -> Ksn:
        """The same terminal's KSN at another counter value."""
        return Ksn(self.bdk_id, self.sub_key_id, self.device_id, counter, self.descriptor)

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray, descriptor: KsnDescriptor | str | None = None
    ) -> Ksn:
        """Split a 10-byte (TDES) or 12-byte (AES) KSN.

        A TDES KSN needs its descriptor (e.g. ``A05``); an AES KSN has one layout.
        """
        raw = _check_bytes("ksn", data)
        if descriptor is None:
            if len(raw) == _TDES_KSN_LENGTH:
                raise DukptError("descriptor is needed to split a TDES KSN (e.g. A05)")
            d = AES_KSN_DESCRIPTOR
        else:
            d = _descriptor(descriptor)
        if len(raw) != d.ksn_length:
            raise DukptError(
                f"ksn must be {d.ksn_length} bytes for {d.scheme} DUKPT, not {len(raw)}"
            )
        value = int.from_bytes(raw, "big")
        counter = value & ((1 << d.counter_bits) - 1)
        if d.scheme == "AES":
            text = f"{value >> _AES_COUNTER_BITS:016X}"
            return cls(text[:8], "", text[8:], counter, d)
        text = f"{(value & ~_TDES_COUNTER_MASK) >> 20:015X}"
        pad = 15 - d.identity_digits
        if text[:pad] != "F" * pad:
            raise DukptError(
                f"ksn digits left of the BDK ID must be F for descriptor {d}, not {text[:pad]!r}"
            )
        text = text[pad:]
        bdk_end = d.bdk_id_digits
        sub_end = bdk_end + d.sub_key_id_digits
        return cls(text[:bdk_end], text[bdk_end:sub_end], text[sub_end:], counter, d)

    @classmethod
    def parse(cls, text: str, descriptor: KsnDescriptor | str | None = None) -> Ksn:
        """Split a KSN written in hex.

        TDES: 20 hex digits, or ``x + y + z + 5`` for a shorter descriptor (the form
        terminals send, padded with ``F`` on the left here). AES: 24 hex digits.
        """
        if not isinstance(text, str):
            raise DukptError(f"ksn must be text, not {type(text).__name__}")
        if not _is_hex(text):
            raise DukptError(f"ksn {text!r} is not hexadecimal")
        if descriptor is None:
            if len(text) != 2 * _AES_KSN_LENGTH:
                raise DukptError(
                    f"descriptor is needed to split a KSN of {len(text)} hex digits; "
                    "only an AES KSN (24) has a fixed layout"
                )
            d = AES_KSN_DESCRIPTOR
        else:
            d = _descriptor(descriptor)
        lengths = {2 * d.ksn_length}
        if d.scheme == "TDES":
            lengths.add(d.identity_digits + 5)
        if len(text) not in lengths:
            allowed = " or ".join(str(n) for n in sorted(lengths, reverse=True))
            raise DukptError(f"ksn is {len(text)} hex digits; descriptor {d} takes {allowed}")
        if len(text) < 2 * d.ksn_length:
            text = "F" * (2 * d.ksn_length - len(text)) + text
        return cls.from_bytes(bytes.fromhex(text), d)


def ksn_range(first: Ksn, count: int) -> Iterator[Ksn]:
    """KSNs of ``count`` terminals with consecutive device IDs, starting at ``first``.

    All share ``first``'s BDK ID, sub-key ID and counter (normally 0, the initial KSN). For
    TDES consecutive device IDs differ by 2 in their hex digits, since the last bit is the
    counter's. The whole range is checked before the first KSN is given.

    Raises
    ------
    DukptError
        If ``count`` is negative or the last device ID does not fit the descriptor.

    Examples
    --------
    >>> first = Ksn.parse("FFFF9876543210E00000", "A05")
    >>> [k.device_id for k in ksn_range(first, 3)]
    ['3210E', '32110', '32112']
    >>> [str(k) for k in ksn_range(Ksn.parse("1234567800000001" "00000000"), 2)]
    ['123456780000000100000000', '123456780000000200000000']
    """
    if not isinstance(first, Ksn):
        raise DukptError(f"first must be a Ksn, not {type(first).__name__}")
    if isinstance(count, bool) or not isinstance(count, int):
        raise DukptError(f"count must be an integer, not {type(count).__name__}")
    if count < 0:
        raise DukptError(f"count must not be negative, not {count}")
    d = first.descriptor
    step = d._device_step
    start = int(first.device_id, 16)
    last = start + step * (count - 1)
    if count and last >= 16**d.device_id_digits:
        raise DukptError(
            f"count {count} from device_id {first.device_id} overflows the "
            f"{d.device_id_digits} hex digits descriptor {d} gives the device ID"
        )
    return _ksn_sequence(first, start, step, count)


def _ksn_sequence(first: Ksn, start: int, step: int, count: int) -> Iterator[Ksn]:
    width = first.descriptor.device_id_digits
    for i in range(count):
        device = f"{start + step * i:0{width}X}"
        yield Ksn(first.bdk_id, first.sub_key_id, device, first.counter, first.descriptor)
