"""Keys encrypted under a zone master key without a key block (TDES-ECB, ANSI X9.17 style).

Before key blocks, a key travelled between two parties encrypted under their zone master
key (ZMK, also called a zone control master key or key-encrypting key), each 8-byte part
enciphered on its own with TDES-ECB. Nothing binds the parts together or to a usage, so
the parts of a double-length key can be swapped or replayed, and the receiver cannot tell
a PIN key from a data key. :data:`WARNING` says what this means under PCI PIN; the
workstation accepts such keys for import only, and exchanges keys in TR-31 / X9.143 key
blocks (:mod:`workstation.standards.tr31`).

Vendors' variant schemes (the ZMK XOR-ed with a key-type constant before use) are not
this construction and are not handled here.

>>> zmk = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
>>> key = bytes.fromhex("F039121BEC83D26B169BDCD5B22AAF8F")
>>> decrypt_under_zmk(zmk, encrypt_under_zmk(zmk, key)) == key
True
"""

from __future__ import annotations

from workstation.standards._primitives import tdes_ecb_decrypt, tdes_ecb_encrypt

__all__ = ["WARNING", "LegacyKeyError", "decrypt_under_zmk", "encrypt_under_zmk"]

#: Shown to the custodian whenever a key is imported without a key block.
WARNING = (
    "PCI PIN Security Requirement 18-3 requires key blocks (ASC X9 TR-31 / ANSI X9.143 or "
    "an equivalent method) for symmetric keys exchanged with other parties; a key "
    "encrypted under a ZMK without a key block has no binding to its usage and is "
    "accepted for import only"
)


class LegacyKeyError(ValueError):
    """A ZMK or an encrypted key has the wrong length; the message says which."""


def _check_zmk(zmk: bytes | bytearray) -> None:
    # A single-length (DES) ZMK is no longer acceptable for any key exchange.
    if len(zmk) not in (16, 24):
        raise LegacyKeyError(f"ZMK length {len(zmk)} is not 16 or 24 bytes (a TDES key)")


def _check_key(key: bytes | bytearray, what: str) -> None:
    if len(key) not in (8, 16, 24):
        raise LegacyKeyError(f"{what} length {len(key)} is not 8, 16 or 24 bytes")


def decrypt_under_zmk(zmk: bytes | bytearray, encrypted: bytes | bytearray) -> bytes:
    """Decrypt a key that was encrypted under a ZMK with TDES-ECB, 8 bytes at a time.

    Parameters
    ----------
    zmk : bytes or bytearray
        The zone master key: TDES, 16 or 24 bytes.
    encrypted : bytes or bytearray
        The encrypted key: 8, 16 or 24 bytes.

    Returns
    -------
    bytes
        The clear key, as long as ``encrypted``. Parity is left as it came.

    Raises
    ------
    LegacyKeyError
        A length is wrong.

    Examples
    --------
    >>> zmk = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    >>> decrypt_under_zmk(zmk, bytes.fromhex("08D7B4FB629D0885")).hex().upper()
    '0000000000000000'
    >>> decrypt_under_zmk(zmk, bytes(12))
    Traceback (most recent call last):
    ...
    workstation.standards.legacy.LegacyKeyError: Encrypted key length 12 is not 8, 16 or 24 bytes
    """
    _check_zmk(zmk)
    _check_key(encrypted, "Encrypted key")
    # ECB enciphers each 8-byte block on its own, as the X9.17-era exchanges did.
    return tdes_ecb_decrypt(zmk, encrypted)


def encrypt_under_zmk(zmk: bytes | bytearray, key: bytes | bytearray) -> bytes:
    """Encrypt a key under a ZMK with TDES-ECB, for tests and for partners' tooling only.

    The workstation itself never exports a key this way: it uses key blocks.

    Parameters
    ----------
    zmk : bytes or bytearray
        The zone master key: TDES, 16 or 24 bytes.
    key : bytes or bytearray
        The clear key: 8, 16 or 24 bytes.

    Returns
    -------
    bytes
        The encrypted key.

    Raises
    ------
    LegacyKeyError
        A length is wrong.
    """
    _check_zmk(zmk)
    _check_key(key, "Key")
    return tdes_ecb_encrypt(zmk, key)
