"""Block-cipher primitives shared by the standards modules (internal).

Thin wrappers over pyca/cryptography so that each standards module states its construction in
the standard's terms (ECB, CBC, CMAC) without repeating the library's plumbing. TDES keys of 8,
16 or 24 bytes are accepted and expanded to the 24-byte form cryptography wants (keying option
3, 2 and 1 of ANSI X9.52: K1K1K1, K1K2K1, K1K2K3).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

try:  # cryptography >= 43 keeps the legacy ciphers here
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - cryptography 42
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES

__all__ = [
    "aes_cbc_decrypt",
    "aes_cbc_encrypt",
    "aes_ctr",
    "aes_ecb_decrypt",
    "aes_ecb_encrypt",
    "aes_encryptor",
    "cmac",
    "tdes_cbc_decrypt",
    "tdes_cbc_encrypt",
    "tdes_ecb_decrypt",
    "tdes_ecb_encrypt",
    "tdes_encryptor",
    "tdes_key",
    "xor",
]


def tdes_key(key: bytes | bytearray) -> bytes:
    """The 24-byte TDEA key for an 8-, 16- or 24-byte key (ANSI X9.52 keying options)."""
    n = len(key)
    if n == 8:
        return bytes(key) * 3
    if n == 16:
        return bytes(key) + bytes(key[:8])
    if n == 24:
        return bytes(key)
    raise ValueError(f"a TDES key is 8, 16 or 24 bytes, not {n}")


def _tdes(key: bytes | bytearray) -> TripleDES:
    return TripleDES(tdes_key(key))


def xor(a: bytes | bytearray, b: bytes | bytearray) -> bytes:
    """Bytewise XOR of two equal-length strings."""
    if len(a) != len(b):
        raise ValueError("xor of unequal lengths")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _run(ctx: CipherContext, data: bytes | bytearray) -> bytes:
    return ctx.update(data) + ctx.finalize()  # no immutable copy of clear input


def tdes_encryptor(key: bytes | bytearray) -> CipherContext:
    """A reusable TDES-ECB encryptor (for loops that encrypt many blocks under one key)."""
    return Cipher(_tdes(key), modes.ECB()).encryptor()  # noqa: S305 - ECB is the construction


def aes_encryptor(key: bytes | bytearray) -> CipherContext:
    """A reusable AES-ECB encryptor (for loops that encrypt many blocks under one key)."""
    return Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor()  # noqa: S305


def tdes_ecb_encrypt(key: bytes | bytearray, data: bytes | bytearray) -> bytes:
    return _run(Cipher(_tdes(key), modes.ECB()).encryptor(), data)  # noqa: S305


def tdes_ecb_decrypt(key: bytes | bytearray, data: bytes | bytearray) -> bytes:
    return _run(Cipher(_tdes(key), modes.ECB()).decryptor(), data)  # noqa: S305


def tdes_cbc_encrypt(key: bytes | bytearray, iv: bytes, data: bytes | bytearray) -> bytes:
    return _run(Cipher(_tdes(key), modes.CBC(iv)).encryptor(), data)


def tdes_cbc_decrypt(key: bytes | bytearray, iv: bytes, data: bytes | bytearray) -> bytes:
    return _run(Cipher(_tdes(key), modes.CBC(iv)).decryptor(), data)


def aes_ecb_encrypt(key: bytes | bytearray, data: bytes | bytearray) -> bytes:
    return _run(Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor(), data)  # noqa: S305


def aes_ecb_decrypt(key: bytes | bytearray, data: bytes | bytearray) -> bytes:
    return _run(Cipher(algorithms.AES(bytes(key)), modes.ECB()).decryptor(), data)  # noqa: S305


def aes_cbc_encrypt(key: bytes | bytearray, iv: bytes, data: bytes | bytearray) -> bytes:
    return _run(Cipher(algorithms.AES(bytes(key)), modes.CBC(iv)).encryptor(), data)


def aes_cbc_decrypt(key: bytes | bytearray, iv: bytes, data: bytes | bytearray) -> bytes:
    return _run(Cipher(algorithms.AES(bytes(key)), modes.CBC(iv)).decryptor(), data)


def aes_ctr(key: bytes | bytearray, nonce: bytes, data: bytes | bytearray) -> bytes:
    """AES-CTR (encryption and decryption are the same operation)."""
    return _run(Cipher(algorithms.AES(bytes(key)), modes.CTR(nonce)).encryptor(), data)


def cmac(family: str, key: bytes | bytearray, data: bytes | bytearray) -> bytes:
    """CMAC (NIST SP 800-38B) with TDES (8-byte tag) or AES (16-byte tag).

    ``family`` is ``"TDES"`` or ``"AES"``.
    """
    if family == "TDES":
        mac = CMAC(_tdes(key))
    elif family == "AES":
        mac = CMAC(algorithms.AES(bytes(key)))
    else:
        raise ValueError(f"unknown cipher family {family!r}")
    mac.update(bytes(data))
    return mac.finalize()
