"""Key check values (ANSI X9.24-1:2017 Annex A).

A key check value (KCV) lets two parties confirm that they hold the same key without
showing it: a fixed block is enciphered under the key and the leftmost bytes are compared.
Three methods are in use, and they give different values for the same key, so a check value
only means something together with its method:

- :attr:`KcvMethod.TDES_ECB_ZEROS`, the legacy approach of X9.24-1:2017 A.2 (X9.24-1:2009
  C.3): TDES-ECB of one block of eight zero bytes, leftmost 3 bytes (2 are also seen).
- :attr:`KcvMethod.CMAC_ZEROS`, X9.24-1:2017 A.3: the CMAC (NIST SP 800-38B) of one block of
  zero bytes, leftmost 5 bytes (40 bits). It is the method for AES keys and may be used for
  TDES keys. TR-31:2018 A.7.4 and AWS Payment Cryptography print 3 bytes of it.
- :attr:`KcvMethod.AES_ECB_ZEROS`, not X9.24: AES-ECB of 16 zero bytes, leftmost 3 bytes, as
  PKCS#11 ``CKA_CHECK_VALUE`` and many vendor tools compute it. :func:`identify` recognises
  it only with a warning.

``family`` is ``"TDES"`` (8-, 16- or 24-byte keys; 8 bytes is single DES, keying option 3)
or ``"AES"`` (16, 24 or 32 bytes). Keys may be ``bytes`` or ``bytearray``; nothing here keeps
a copy.

>>> key_check_value(bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"), family="TDES").hex().upper()
'08D7B4'
>>> key_check_value(bytes.fromhex("3F419E1CB7079442AA37474C2EFBF8B8"), family="AES").hex().upper()
'08793E25AB'
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import StrEnum

from workstation.standards._primitives import aes_ecb_encrypt, cmac, tdes_ecb_encrypt

__all__ = [
    "KcvError",
    "KcvMatch",
    "KcvMethod",
    "default_length",
    "default_method",
    "identify",
    "key_check_value",
]


class KcvError(ValueError):
    """A key, a family, a method or a check value is not acceptable; the message says which."""


class KcvMethod(StrEnum):
    """How a key check value is computed."""

    #: X9.24-1:2017 A.2 legacy approach: TDES-ECB of 8 zero bytes.
    TDES_ECB_ZEROS = "tdes-ecb-zeros"
    #: X9.24-1:2017 A.3: CMAC of one block of zero bytes (AES, or TDES).
    CMAC_ZEROS = "cmac-zeros"
    #: Vendor / PKCS#11 ``CKA_CHECK_VALUE`` style: AES-ECB of 16 zero bytes. Not X9.24.
    AES_ECB_ZEROS = "aes-ecb-zeros"


@dataclass(frozen=True)
class KcvMatch:
    """The method a received check value was computed with, as :func:`identify` found it.

    ``warning`` is ``None`` for an X9.24-1 method and a sentence for a vendor variant.
    """

    method: KcvMethod
    length: int
    warning: str | None


_FAMILIES = ("TDES", "AES")
_KEY_LENGTHS = {"TDES": (8, 16, 24), "AES": (16, 24, 32)}
_BLOCK_SIZE = {"TDES": 8, "AES": 16}
# X9.24-1:2017 A.2 keeps 3 bytes of the legacy value, A.3 keeps 5 bytes (40 bits) of the
# CMAC; the vendor AES method is printed with 3 bytes by PKCS#11 tools.
_DEFAULT_LENGTH = {
    KcvMethod.TDES_ECB_ZEROS: 3,
    KcvMethod.CMAC_ZEROS: 5,
    KcvMethod.AES_ECB_ZEROS: 3,
}
_METHOD_NAMES = {
    KcvMethod.TDES_ECB_ZEROS: "TDES-ECB of zeros, X9.24-1:2017 A.2",
    KcvMethod.CMAC_ZEROS: "CMAC of zeros, X9.24-1:2017 A.3",
    KcvMethod.AES_ECB_ZEROS: "AES-ECB of zeros, vendor / PKCS#11 style, not X9.24",
}
# The least and most bytes a received check value may have: two bytes is the shortest in
# use (pyemv, psec), and no method gives more than one AES block.
_MIN_RECEIVED, _MAX_RECEIVED = 2, 16


def _check_family(family: str) -> str:
    if family not in _FAMILIES:
        raise KcvError(f"Key family {family!r} is not 'TDES' or 'AES'")
    return family


def _check_key(key: bytes | bytearray, family: str) -> None:
    allowed = _KEY_LENGTHS[family]
    if len(key) not in allowed:
        sizes = ", ".join(str(n) for n in allowed[:-1]) + f" or {allowed[-1]}"
        article = "an" if family == "AES" else "a"
        raise KcvError(
            f"Key length {len(key)} is not {article} {family} key length ({sizes} bytes)"
        )


def default_method(family: str) -> KcvMethod:
    """The X9.24-1:2017 method for a key family: TDES legacy (A.2), AES CMAC (A.3).

    >>> default_method("TDES"), default_method("AES")
    (<KcvMethod.TDES_ECB_ZEROS: 'tdes-ecb-zeros'>, <KcvMethod.CMAC_ZEROS: 'cmac-zeros'>)
    """
    if _check_family(family) == "TDES":
        return KcvMethod.TDES_ECB_ZEROS
    return KcvMethod.CMAC_ZEROS


def default_length(method: KcvMethod) -> int:
    """The number of bytes a check value keeps by default: 3, 5 (X9.24-1:2017 A.3) or 3.

    >>> [default_length(m) for m in KcvMethod]
    [3, 5, 3]
    """
    try:
        return _DEFAULT_LENGTH[KcvMethod(method)]
    except ValueError:
        raise KcvError(f"KCV method {method!r} is not one of {', '.join(KcvMethod)}") from None


def _full_value(key: bytes | bytearray, family: str, method: KcvMethod) -> bytes:
    """One whole enciphered block for ``method``; the caller has checked key and family."""
    block = bytes(_BLOCK_SIZE[family])
    if method is KcvMethod.CMAC_ZEROS:
        return cmac(family, key, block)
    if method is KcvMethod.TDES_ECB_ZEROS:
        return tdes_ecb_encrypt(key, block)
    return aes_ecb_encrypt(key, block)


def key_check_value(
    key: bytes | bytearray,
    *,
    family: str,
    method: KcvMethod | None = None,
    length: int | None = None,
) -> bytes:
    """The key check value of ``key``.

    Parameters
    ----------
    key : bytes or bytearray
        A TDES key of 8, 16 or 24 bytes or an AES key of 16, 24 or 32 bytes.
    family : str
        ``"TDES"`` or ``"AES"``.
    method : KcvMethod, optional
        Defaults to :func:`default_method` of the family. ``TDES_ECB_ZEROS`` needs a TDES
        key and ``AES_ECB_ZEROS`` an AES key; ``CMAC_ZEROS`` takes either.
    length : int, optional
        Bytes to keep, from 2 to the block size (8 for TDES, 16 for AES). Defaults to
        :func:`default_length` of the method.

    Returns
    -------
    bytes
        The leftmost ``length`` bytes.

    Raises
    ------
    KcvError
        The family, key length, method or length is not acceptable.

    Examples
    --------
    ANSI X9.143:2021 8.1 prints the 5-byte CMAC check value of its AES key, TR-31:2018
    A.7.4 the first 3 bytes of the same value:

    >>> aes = bytes.fromhex("3F419E1CB7079442AA37474C2EFBF8B8")
    >>> key_check_value(aes, family="AES").hex().upper()
    '08793E25AB'
    >>> key_check_value(aes, family="AES", length=3).hex().upper()
    '08793E'
    >>> key_check_value(aes, family="AES", method=KcvMethod.AES_ECB_ZEROS).hex().upper()
    'E5E07C'
    >>> key_check_value(aes, family="AES", length=17)
    Traceback (most recent call last):
    ...
    workstation.standards.kcv.KcvError: KCV length 17 is not between 2 and 16 (the AES block size)
    """
    _check_family(family)
    _check_key(key, family)
    method = default_method(family) if method is None else method
    if method is KcvMethod.TDES_ECB_ZEROS and family != "TDES":
        raise KcvError(f"KCV method {method} needs a TDES key, not an {family} key")
    if method is KcvMethod.AES_ECB_ZEROS and family != "AES":
        raise KcvError(f"KCV method {method} needs an AES key, not a {family} key")
    if length is None:
        length = default_length(method)
    block = _BLOCK_SIZE[family]
    if not 2 <= length <= block:
        raise KcvError(
            f"KCV length {length} is not between 2 and {block} (the {family} block size)"
        )
    return _full_value(key, family, method)[:length]


def identify(key: bytes | bytearray, *, family: str, kcv: bytes) -> KcvMatch:
    """Find how a received check value of ``key`` was computed, or refuse it.

    The X9.24-1:2017 methods of the family are tried first: for TDES the legacy approach
    (A.2) and then CMAC (A.3); for AES CMAC (A.3). For AES the vendor AES-ECB-of-zeros
    method is tried last; a match by it carries a ``warning`` that names the X9.24 value.
    Comparisons take constant time for a given length.

    Parameters
    ----------
    key : bytes or bytearray
        The key the check value should belong to.
    family : str
        ``"TDES"`` or ``"AES"``.
    kcv : bytes
        The received check value, 2 to 16 bytes (at most 8 for TDES).

    Returns
    -------
    KcvMatch

    Raises
    ------
    KcvError
        Nothing matches (the message gives the X9.24 value expected), or an input is not
        acceptable.

    Examples
    --------
    >>> zero = bytes(16)
    >>> identify(zero, family="AES", kcv=bytes.fromhex("66E94B")).method
    <KcvMethod.AES_ECB_ZEROS: 'aes-ecb-zeros'>
    >>> print(identify(zero, family="AES", kcv=bytes.fromhex("66E94B")).warning)
    ... # doctest: +NORMALIZE_WHITESPACE
    check value 66E94B matches AES-ECB of zeros (vendor / PKCS#11 CKA_CHECK_VALUE style),
    not ANSI X9.24-1:2017; the X9.24-1:2017 A.3 value (CMAC of zeros) is 763CBC
    >>> try:
    ...     identify(zero, family="AES", kcv=bytes.fromhex("000000"))
    ... except KcvError as exc:
    ...     print(exc)
    Key check value 000000 does not match the key: expected 763CBC (CMAC of zeros, X9.24-1:2017 A.3)
    """
    _check_family(family)
    _check_key(key, family)
    n = len(kcv)
    if not _MIN_RECEIVED <= n <= _MAX_RECEIVED:
        raise KcvError(
            f"Key check value of {n} byte{'' if n == 1 else 's'} is not between "
            f"{_MIN_RECEIVED} and {_MAX_RECEIVED} bytes"
        )
    block = _BLOCK_SIZE[family]
    if n > block:
        raise KcvError(
            f"Key check value of {n} bytes is longer than the {family} block ({block} bytes)"
        )
    received = bytes(kcv)
    if family == "TDES":
        standard = [KcvMethod.TDES_ECB_ZEROS, KcvMethod.CMAC_ZEROS]
    else:
        standard = [KcvMethod.CMAC_ZEROS]
    for method in standard:
        if hmac.compare_digest(_full_value(key, family, method)[:n], received):
            return KcvMatch(method, n, None)
    expected = _full_value(key, family, standard[0])[:n].hex().upper()
    shown = received.hex().upper()
    if family == "AES":
        vendor = _full_value(key, family, KcvMethod.AES_ECB_ZEROS)[:n]
        if hmac.compare_digest(vendor, received):
            warning = (
                f"check value {shown} matches AES-ECB of zeros (vendor / PKCS#11 "
                "CKA_CHECK_VALUE style), not ANSI X9.24-1:2017; the X9.24-1:2017 A.3 value "
                f"(CMAC of zeros) is {expected}"
            )
            return KcvMatch(KcvMethod.AES_ECB_ZEROS, n, warning)
    name = _METHOD_NAMES[standard[0]]
    raise KcvError(f"Key check value {shown} does not match the key: expected {expected} ({name})")
