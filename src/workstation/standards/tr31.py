"""TR-31 / ANSI X9.143 key blocks: versions A, B, C, D, and ISO 20038 version E.

A key block carries a secret key together with its attributes (usage, algorithm, mode of
use, version, exportability, optional blocks) under a key block protection key (KBPK), so
that neither the key nor its attributes can be altered or separated. It is printable ASCII:
a 16-character header, optional blocks, the encrypted payload in hexadecimal and a MAC in
hexadecimal.

=========  ===========================================  ===========  =========
version    binding (ASC X9 TR-31:2018, ANSI X9.143)      KBPK         MAC
=========  ===========================================  ===========  =========
A, C       TDES key variant (KBPK XOR 45.. / 4D..)       TDES 16, 24  4 bytes
B          TDES key derivation (CMAC counter mode)       TDES 16, 24  8 bytes
D          AES key derivation, AES-CBC                   AES          16 bytes
E          AES key derivation, AES-CTR (ISO 20038 only)  AES          16 bytes
=========  ===========================================  ===========  =========

The payload is the key length in bits (2 bytes), the key, and random padding: to the
maximum key length of the algorithm by default (ANSI X9.143 key length obfuscation: 24
bytes for TDES and DES, 32 for AES; other algorithms are not padded), then to the cipher
block (none for version E).

Decisions on the edges, where the standards or their implementations differ:

- **Hexadecimal is upper-case.** X9.143 writes the payload, the MAC and the hexadecimal
  optional blocks in upper-case hexadecimal; a block with ``a``-``f`` in them is refused
  (psec 1.3.0 accepts it, openemv refuses it).
- **KBPK parity bits are ignored.** DES ignores the low bit of every key byte, so a TDES
  KBPK that differs from the sender's only in parity unwraps the block. The MAC cannot tell
  them apart, and refusing would only make custodians re-enter a correct key.
- **Optional block contents are checked.** KS is upper-case hexadecimal, KC/KP/PK hold a
  KCV algorithm (``00`` legacy, at most 3 bytes; ``01`` CMAC, at most 5 bytes, X9.143:2021
  6.3.6.7) and a check value, IK is 16 hexadecimal digits, HM a hash algorithm code of
  X9.143 Table 13, TS/TC one of the four ISO 8601 UTC forms of X9.143 Tables 21/22, CT a
  certificate or chain of certificates in base64, PB printable ASCII and last. The X9.143
  8.2 example (KS ``VM9A``, TS without ``Z``) has a valid MAC but is refused: a strict
  reader refuses what the standard does not allow, and says which block is wrong.
- **KC and KP are verified.** A KC block must match the key (TDES, DES, AES keys) and a
  KP block the KBPK, on wrap and on unwrap.
- **Extended-length optional blocks** (length ``00``) give the length of the length in
  ASCII characters, as the X9.143 examples do (``CT0004 0500 ...``); wrap writes ``04``.
- **Unknown optional blocks are refused**, except numeric IDs, which X9.143 reserves for
  proprietary use; numeric key usage, algorithm, mode of use and exportability values are
  accepted for the same reason, but a key of a proprietary algorithm cannot be wrapped or
  unwrapped because its strength cannot be judged.
- **Strength.** The KBPK must be at least as strong as the key it protects (ANSI X9.143,
  PCI PIN Security Requirement 18-3), strengths after NIST SP 800-57 Part 1 Table 2: TDES
  counts its distinct key parts (K1 = K3 is 2TDEA, 80 bits; K1 = K2 or K2 = K3 is single
  DES, 56 bits), AES its length, RSA and DSA their modulus, EC its curve, HMAC its key
  length (at most 256 bits). :func:`wrap` refuses a weaker KBPK, and so does
  :func:`unwrap` unless ``allow_weaker_kbpk=True`` is passed to read an old block.
- **Padding block.** :meth:`Header.dump` adds the PB block itself, filled with ``0``:
  the header is public, and a fixed filler makes a wrap reproducible.
- **Numbers.** A key block longer than 9999 characters cannot be expressed in its 4-digit
  length field and is refused; so are more than 99 optional blocks.

>>> kbpk = bytes.fromhex("88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6")
>>> header, key = unwrap(kbpk, "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FC"
...     "EA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34")
>>> key.hex().upper()
'3F419E1CB7079442AA37474C2EFBF8B8'
>>> header.key_usage, header.algorithm, header.mode_of_use, header.exportability
('P0', 'A', 'E', 'E')
"""

from __future__ import annotations

import binascii
import hmac
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import cast

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.serialization import load_der_private_key

from workstation.standards._primitives import (
    aes_cbc_decrypt,
    aes_cbc_encrypt,
    aes_ctr,
    tdes_cbc_decrypt,
    tdes_cbc_encrypt,
    tdes_key,
    xor,
)
from workstation.standards.kcv import KcvError, KcvMethod, key_check_value

try:  # cryptography >= 43 keeps the legacy ciphers here
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - cryptography 42
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES

__all__ = [
    "ALGORITHMS",
    "EXPORTABILITY",
    "HMAC_HASHES",
    "KEY_USAGES",
    "MODES_OF_USE",
    "OPTIONAL_BLOCKS",
    "VERSIONS",
    "Header",
    "TR31Error",
    "check_strength",
    "derive_binding_keys",
    "key_strength",
    "parse",
    "unwrap",
    "unwrap_with_binding_keys",
    "wrap",
]


class TR31Error(ValueError):
    """A key block, header, key or KBPK is not acceptable; the message names the field."""


# --- code tables ---------------------------------------------------------------------------

#: Key block versions (ANSI X9.143:2021 6.2 Table 1; E from ISO 20038:2017).
VERSIONS: Mapping[str, str] = MappingProxyType(
    {
        "A": "TDES key variant binding (TR-31:2005; deprecated)",
        "B": "TDES key derivation binding",
        "C": "TDES key variant binding (TR-31:2010)",
        "D": "AES key derivation binding, AES-CBC",
        "E": "AES key derivation binding, AES-CTR (ISO 20038 only)",
    }
)

#: Key usage (ANSI X9.143:2021 6.3.1 Table 2). Numeric values are proprietary.
KEY_USAGES: Mapping[str, str] = MappingProxyType(
    {
        "B0": "Base derivation key (BDK)",
        "B1": "Initial DUKPT key (IK / IPEK)",
        "B2": "Base key variant key (deprecated)",
        "B3": "Key derivation key (not ANSI X9.24)",
        "C0": "Card verification key (CVK)",
        "D0": "Symmetric key for data encryption",
        "D1": "Asymmetric key for data encryption",
        "D2": "Data encryption key for a decimalisation table",
        "D3": "Data encryption key for sensitive data",
        "E0": "EMV issuer master key: application cryptograms (MKAC)",
        "E1": "EMV issuer master key: secure messaging for confidentiality (MKSMC)",
        "E2": "EMV issuer master key: secure messaging for integrity (MKSMI)",
        "E3": "EMV issuer master key: data authentication code (MKDAC)",
        "E4": "EMV issuer master key: dynamic numbers (MKDN)",
        "E5": "EMV issuer master key: card personalisation",
        "E6": "EMV issuer master key: other",
        "E7": "EMV asymmetric key pair for PIN encryption",
        "I0": "Initialisation vector (IV)",
        "K0": "Key encryption or wrapping key (KEK)",
        "K1": "TR-31 key block protection key (KBPK)",
        "K2": "TR-34 asymmetric key pair of a key receiving device",
        "K3": "Asymmetric key pair for key wrapping or key agreement",
        "K4": "ISO 20038 key block protection key",
        "M0": "ISO 16609 MAC algorithm 1 (TDES)",
        "M1": "ISO 9797-1 MAC algorithm 1 (CBC-MAC)",
        "M2": "ISO 9797-1 MAC algorithm 2",
        "M3": "ISO 9797-1 MAC algorithm 3 (retail MAC)",
        "M4": "ISO 9797-1 MAC algorithm 4",
        "M5": "ISO 9797-1:1999 MAC algorithm 5 (legacy)",
        "M6": "ISO 9797-1:2011 MAC algorithm 5 (CMAC)",
        "M7": "HMAC key",
        "M8": "ISO 9797-1:2011 MAC algorithm 6",
        "P0": "PIN encryption key",
        "P1": "PIN generation key",
        "S0": "Asymmetric key pair for digital signature",
        "S1": "Asymmetric key pair for certification authority use",
        "S2": "Asymmetric key pair for non-X9.24 use",
        "V0": "PIN verification key, other algorithm",
        "V1": "PIN verification key, IBM 3624",
        "V2": "PIN verification key, Visa PVV",
        "V3": "PIN verification key, ANSI X9.132 algorithm 1",
        "V4": "PIN verification key, ANSI X9.132 algorithm 2",
        "V5": "PIN verification key, ANSI X9.132 algorithm 3",
    }
)

#: Algorithm of the wrapped key (ANSI X9.143:2021 6.3.2 Table 3). Numeric values are
#: proprietary.
ALGORITHMS: Mapping[str, str] = MappingProxyType(
    {
        "A": "AES",
        "D": "DES (backwards compatibility only)",
        "E": "Elliptic curve",
        "H": "HMAC (hash algorithm in optional block HM)",
        "R": "RSA",
        "S": "DSA",
        "T": "Triple DES (TDES)",
    }
)

#: Mode of use (ANSI X9.143:2021 6.3.3 Table 4). Numeric values are proprietary.
MODES_OF_USE: Mapping[str, str] = MappingProxyType(
    {
        "B": "Encrypt / wrap and decrypt / unwrap",
        "C": "MAC generate and verify",
        "D": "Decrypt / unwrap only",
        "E": "Encrypt / wrap only",
        "G": "MAC generate only",
        "N": "No special restrictions beyond those of the key usage",
        "S": "Signature only",
        "T": "Sign and decrypt",
        "V": "MAC verify only",
        "X": "Derive other keys",
        "Y": "Create key variants",
    }
)

#: Exportability (ANSI X9.143:2021 6.3.5 Table 6). Numeric values are proprietary.
EXPORTABILITY: Mapping[str, str] = MappingProxyType(
    {
        "E": "Exportable under a trusted key, in a key block as ANSI X9.24 requires",
        "N": "Not exportable",
        "S": "Sensitive: exportable in forms not in accordance with ANSI X9.24",
    }
)

#: Optional block IDs (ANSI X9.143:2021 6.3.6 Table 7). Numeric IDs are proprietary.
OPTIONAL_BLOCKS: Mapping[str, str] = MappingProxyType(
    {
        "AL": "Asymmetric key life (ephemeral or static)",
        "BI": "Base derivation key identifier for DUKPT (TDES KSI or AES BDK ID)",
        "CT": "Public key certificate or chain of certificates",
        "DA": "Derivations allowed for a derivation key",
        "FL": "Flags",
        "HM": "Hash algorithm for HMAC",
        "IK": "Initial key identifier of an initial AES DUKPT key",
        "KC": "Key check value of the wrapped key",
        "KP": "Key check value of the KBPK",
        "KS": "Initial key serial number of a TDES DUKPT key",
        "KV": "Key block values (deprecated)",
        "LB": "Label",
        "PB": "Padding block",
        "PK": "Key check value of the export KBPK",
        "TC": "Time of creation (ISO 8601, UTC)",
        "TS": "Time stamp (ISO 8601, UTC)",
        "WP": "Wrapping pedigree",
    }
)

#: Hash algorithms of optional block HM (ANSI X9.143:2021 6.3.6.5 Table 13).
HMAC_HASHES: Mapping[str, str] = MappingProxyType(
    {
        "10": "SHA-1",
        "20": "SHA-224",
        "21": "SHA-256",
        "22": "SHA-384",
        "23": "SHA-512",
        "24": "SHA-512/224",
        "25": "SHA-512/256",
        "30": "SHA3-224",
        "31": "SHA3-256",
        "32": "SHA3-384",
        "33": "SHA3-512",
        "40": "SHAKE128",
        "41": "SHAKE256",
    }
)


# --- versions and their cryptography ---------------------------------------------------------


@dataclass(frozen=True)
class _Version:
    family: str  # "TDES" or "AES": the cipher of the binding and of the KBPK
    kbpk_algorithm: str  # the same as a header algorithm code, for the strength rule
    block: int  # cipher block size in bytes
    mac_len: int  # bytes of MAC in the block
    pads: bool  # payload padded to the cipher block (not for CTR)
    kbpk_lengths: tuple[int, ...]


_TDES = (16, 24)
_AES = (16, 24, 32)
_V: dict[str, _Version] = {
    "A": _Version("TDES", "T", 8, 4, True, _TDES),
    "B": _Version("TDES", "T", 8, 8, True, _TDES),
    "C": _Version("TDES", "T", 8, 4, True, _TDES),
    "D": _Version("AES", "A", 16, 16, True, _AES),
    "E": _Version("AES", "A", 16, 16, False, _AES),
}

# Key derivation binding (TR-31:2018 Annex A, ANSI X9.143:2021 7): KBEK and KBAK are CMACs
# under the KBPK of counter (1) || key usage (2) || separator 00 (1) || algorithm (2) ||
# length in bits (2), for counter = 1..n, concatenated and cut to the KBPK's length.
# Key usage: 0000 encryption (CBC), 0001 MAC, 0002 encryption for CTR (ISO 20038 version E).
_DERIVATION_ALGORITHM = {
    ("TDES", 16): (b"\x00\x00", b"\x00\x80"),  # 2TDEA, 128 bits
    ("TDES", 24): (b"\x00\x01", b"\x00\xc0"),  # 3TDEA, 192 bits
    ("AES", 16): (b"\x00\x02", b"\x00\x80"),
    ("AES", 24): (b"\x00\x03", b"\x00\xc0"),
    ("AES", 32): (b"\x00\x04", b"\x01\x00"),
}


def _derivation_inputs(family: str, length: int, usage: bytes) -> tuple[bytes, ...]:
    algorithm, bits = _DERIVATION_ALGORITHM[family, length]
    block = 8 if family == "TDES" else 16
    count = -(-length // block)
    return tuple(bytes([i]) + usage + b"\x00" + algorithm + bits for i in range(1, count + 1))


# Precomputed inputs: (family, KBPK length, encryption usage) -> (KBEK inputs, KBAK inputs).
_DERIVATIONS = {
    (family, length, enc): (
        _derivation_inputs(family, length, enc),
        _derivation_inputs(family, length, b"\x00\x01"),
    )
    for (family, length) in _DERIVATION_ALGORITHM
    for enc in (b"\x00\x00", b"\x00\x02")
}
# Key variant binding (TR-31:2018 A.3, versions A and C): KBEK = KBPK XOR 45.., KBAK =
# KBPK XOR 4D...
_VARIANT_E = {n: b"\x45" * n for n in _TDES}
_VARIANT_M = {n: b"\x4d" * n for n in _TDES}


def _check_kbpk(kbpk: bytes | bytearray, version_id: str) -> _Version:
    v = _V[version_id]
    if len(kbpk) not in v.kbpk_lengths:
        sizes = " or ".join(", ".join(str(n) for n in v.kbpk_lengths).rsplit(", ", 1))
        kind = "a TDES" if v.family == "TDES" else "an AES"
        raise TR31Error(
            f"KBPK length {len(kbpk)} is not valid for version {version_id}: "
            f"{kind} key of {sizes} bytes is required"
        )
    return v


def _cmac_context(family: str, key: bytes | bytearray) -> CMAC:
    """A keyed CMAC (NIST SP 800-38B) context; ``copy()`` it to MAC several inputs.

    Keying once and copying is what keeps wrap and unwrap fast: a block needs up to five
    CMACs under two keys. It also lets the MAC input be fed in parts, so that the clear
    payload is never concatenated into another copy.
    """
    if family == "TDES":
        return CMAC(TripleDES(tdes_key(key)))
    return CMAC(algorithms.AES(bytes(key)))


def _mac(context: CMAC, *parts: bytes | bytearray) -> bytes:
    mac = context.copy()
    for part in parts:
        # cryptography takes any bytes-like object (its stub says bytes): no copy of a
        # clear payload held in a bytearray.
        mac.update(cast(bytes, part))
    return mac.finalize()


def derive_binding_keys(kbpk: bytes | bytearray, version_id: str) -> tuple[bytes, bytes]:
    """The key block encryption key and authentication key (KBEK, KBAK) of a KBPK.

    Versions A and C use key variants, B, D and E key derivation with CMAC; E derives its
    KBEK for AES-CTR (ISO 20038). Exposed for test vectors and for diagnosing an HSM's
    blocks; :func:`wrap` and :func:`unwrap` use it themselves.

    Parameters
    ----------
    kbpk : bytes or bytearray
        A TDES key of 16 or 24 bytes for versions A, B and C, an AES key for D and E.
    version_id : str
        ``"A"``, ``"B"``, ``"C"``, ``"D"`` or ``"E"``.

    Returns
    -------
    tuple of bytes
        ``(kbek, kbak)``, each as long as the KBPK.

    Examples
    --------
    >>> kbek, kbak = derive_binding_keys(bytes.fromhex("DD7515F2BFC17F85CE48F3CA25CB21F6"), "B")
    >>> kbek.hex().upper(), kbak.hex().upper()
    ('698832F8778A7CFCBC79559DAB07B88A', 'DD6CEEC1782D8453671BF8358AF9DB47')
    """
    if version_id not in _V:
        raise TR31Error(f"Key block version {version_id!r} is not supported (A, B, C, D or E)")
    v = _check_kbpk(kbpk, version_id)
    n = len(kbpk)
    if version_id in "AC":
        return xor(kbpk, _VARIANT_E[n]), xor(kbpk, _VARIANT_M[n])
    enc_usage = b"\x00\x02" if version_id == "E" else b"\x00\x00"
    enc_inputs, mac_inputs = _DERIVATIONS[v.family, n, enc_usage]
    context = _cmac_context(v.family, kbpk)
    kbek = b"".join([_mac(context, data) for data in enc_inputs])[:n]
    kbak = b"".join([_mac(context, data) for data in mac_inputs])[:n]
    return kbek, kbak


# --- strength (ANSI X9.143, PCI PIN 18-3, NIST SP 800-57 Part 1 Table 2) -------------------

# (modulus or prime bits, strength) for RSA and DSA, largest first.
_FFC_IFC = ((15360, 256), (7680, 192), (3072, 128), (2048, 112), (1024, 80))
# (curve order bits, strength) for elliptic curves, largest first.
_ECC = ((512, 256), (384, 192), (256, 128), (224, 112), (160, 80))


def _same_des_key(a: bytes | bytearray, b: bytes | bytearray) -> bool:
    # DES ignores the parity bit of each byte (FIPS 46-3), so compare without it.
    return all((x ^ y) & 0xFE == 0 for x, y in zip(a, b, strict=True))


def _tdes_strength(key: bytes | bytearray) -> tuple[int, str]:
    n = len(key)
    if n == 8:
        return 56, "single DES"
    k1, k2 = key[:8], key[8:16]
    if n == 16:
        return (56, "single DES (K1 = K2)") if _same_des_key(k1, k2) else (80, "2TDEA")
    k3 = key[16:24]
    if _same_des_key(k1, k2) or _same_des_key(k2, k3):
        return 56, "single DES (two equal adjacent parts)"
    if _same_des_key(k1, k3):
        return 80, "2TDEA (K1 = K3)"
    return 112, "3TDEA"


def _by_table(bits: int, table: tuple[tuple[int, int], ...]) -> int:
    for size, strength in table:
        if bits >= size:
            return strength
    return 0


def _asymmetric_strength(key: bytes | bytearray, algorithm: str) -> tuple[int, str]:
    name = {"R": "RSA", "S": "DSA", "E": "EC"}[algorithm]
    try:
        private = load_der_private_key(bytes(key), None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise TR31Error(
            f"Key is not a DER-encoded {name} private key (algorithm {algorithm!r})"
        ) from None
    if algorithm == "R" and isinstance(private, rsa.RSAPrivateKey):
        return _by_table(private.key_size, _FFC_IFC), f"RSA-{private.key_size}"
    if algorithm == "S" and isinstance(private, dsa.DSAPrivateKey):
        return _by_table(private.key_size, _FFC_IFC), f"DSA-{private.key_size}"
    if algorithm == "E":
        if isinstance(private, ec.EllipticCurvePrivateKey):
            curve = private.curve
            return _by_table(curve.key_size, _ECC), f"EC {curve.name}"
        if isinstance(private, ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey):
            return 128, "EC curve25519"
        if isinstance(private, ed448.Ed448PrivateKey | x448.X448PrivateKey):
            return 224, "EC curve448"
    raise TR31Error(f"Key is not a DER-encoded {name} private key (algorithm {algorithm!r})")


_SYMMETRIC_LENGTHS = {
    "T": ((8, 16, 24), "TDES: 8, 16 or 24 bytes"),
    "D": ((8,), "DES: 8 bytes"),
    "A": ((16, 24, 32), "AES: 16, 24 or 32 bytes"),
}


def _check_key_length(key_len: int, algorithm: str) -> None:
    if key_len == 0:
        raise TR31Error("Key is empty")
    if algorithm in _SYMMETRIC_LENGTHS:
        allowed, text = _SYMMETRIC_LENGTHS[algorithm]
        if key_len not in allowed:
            raise TR31Error(
                f"Key length {key_len} bytes is not valid for algorithm {algorithm!r} ({text})"
            )


def _strength(key: bytes | bytearray, algorithm: str) -> tuple[int, str]:
    _check_key_length(len(key), algorithm)
    if algorithm in ("T", "D"):
        return _tdes_strength(key)
    if algorithm == "A":
        return 8 * len(key), f"AES-{8 * len(key)}"
    if algorithm == "H":
        # The strength of an HMAC key is bounded by its length (NIST SP 800-107r1 5.3.4);
        # no hash in use offers more than 256 bits.
        return min(8 * len(key), 256), f"HMAC key of {len(key)} bytes"
    if algorithm in ("R", "S", "E"):
        return _asymmetric_strength(key, algorithm)
    raise TR31Error(
        f"The strength of a key of algorithm {algorithm!r} cannot be judged "
        "(proprietary or unknown algorithm)"
    )


def key_strength(key: bytes | bytearray, algorithm: str) -> int:
    """The security strength in bits of a key, after NIST SP 800-57 Part 1 Table 2.

    Parameters
    ----------
    key : bytes or bytearray
        The key: TDES, DES, AES or HMAC key bytes, or a DER private key (PKCS#1, SEC 1 or
        PKCS#8) for RSA, DSA and EC.
    algorithm : str
        A TR-31 algorithm code (:data:`ALGORITHMS`).

    Returns
    -------
    int
        Bits of security: single DES 56, 2TDEA 80, 3TDEA 112, AES its length, RSA-2048
        112, RSA-3072 128, P-256 128 and so on.

    Examples
    --------
    >>> key_strength(bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"), "T")
    80
    >>> key_strength(bytes.fromhex("0123456789ABCDEFFEDCBA98765432100123456789ABCDEF"), "T")
    80
    >>> key_strength(bytes(32), "A")
    256
    """
    return _strength(key, algorithm)[0]


def check_strength(
    kbpk: bytes | bytearray, kbpk_algorithm: str, key: bytes | bytearray, key_algorithm: str
) -> None:
    """Refuse a KBPK weaker than the key it protects.

    ANSI X9.143 and PCI PIN Security Requirement 18-3 require a key-encrypting key to be at
    least as strong as the keys it protects; strengths are those of :func:`key_strength`.

    Parameters
    ----------
    kbpk : bytes or bytearray
        The key block protection key.
    kbpk_algorithm : str
        ``"T"`` (TDES, versions A, B, C) or ``"A"`` (AES, versions D, E).
    key : bytes or bytearray
        The key that is, or would be, wrapped.
    key_algorithm : str
        Its TR-31 algorithm code.

    Raises
    ------
    TR31Error
        The KBPK is weaker, or a strength cannot be judged.

    Examples
    --------
    >>> check_strength(bytes(16), "A", bytes(16), "A")
    >>> try:
    ...     check_strength(bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"), "T", bytes(16), "A")
    ... except TR31Error as exc:
    ...     print(exc)  # doctest: +NORMALIZE_WHITESPACE
    KBPK (2TDEA, 80 bits) is weaker than the key it protects (AES-128, 128 bits): ANSI X9.143
    and PCI PIN Security Requirement 18-3 require a wrapping key at least as strong
    (NIST SP 800-57 Part 1 Table 2)
    """
    if kbpk_algorithm not in ("T", "A"):
        raise TR31Error(f"KBPK algorithm {kbpk_algorithm!r} is not 'T' (TDES) or 'A' (AES)")
    wrapping, wrapping_name = _strength(kbpk, kbpk_algorithm)
    wrapped, wrapped_name = _strength(key, key_algorithm)
    if wrapping < wrapped:
        raise TR31Error(
            f"KBPK ({wrapping_name}, {wrapping} bits) is weaker than the key it protects "
            f"({wrapped_name}, {wrapped} bits): ANSI X9.143 and PCI PIN Security Requirement "
            "18-3 require a wrapping key at least as strong (NIST SP 800-57 Part 1 Table 2)"
        )


# --- field and optional block checks ---------------------------------------------------------

_UPPER_HEX = re.compile(r"[0-9A-F]*")
_DIGITS = re.compile(r"[0-9]*")
_ALNUM2 = re.compile(r"[0-9A-Za-z]{2}")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
# X9.143:2021 6.3.6.13/6.3.6.14, Tables 21 and 22: UTC, with or without delimiters, to the
# second or to the hundredth of a second.
_TIMESTAMPS = (
    re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})?Z"),
    re.compile(
        r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{2}))?Z"
    ),
)


def _is_hex(text: str) -> bool:
    return _UPPER_HEX.fullmatch(text) is not None


def _is_digits(text: str, n: int) -> bool:
    return len(text) == n and _DIGITS.fullmatch(text) is not None


def _check_code(value: str, table: Mapping[str, str], size: int, what: str) -> None:
    # X9.143:2021 6.3.1-6.3.5: the values of the tables, or numeric values for proprietary use.
    if value not in table and not _is_digits(value, size):
        raise TR31Error(f"{what} {value!r} is not a TR-31 {what.lower()}")


def _check_key_version(value: str) -> None:
    # X9.143:2021 6.3.4 Table 5: "00" unused, "c" and a digit a component, else a version.
    if _ALNUM2.fullmatch(value) is None:
        raise TR31Error(f"Key version number {value!r} is not 2 alphanumeric characters")
    if value[0] == "c" and value[1] not in "123456789":
        raise TR31Error(
            f"Key version number {value!r} starts with 'c' (a key component) but does not "
            "give a component number from 1 to 9"
        )


def _check_fields(
    version_id: str,
    key_usage: str,
    algorithm: str,
    mode_of_use: str,
    version_num: str,
    exportability: str,
    reserved: str,
) -> None:
    if version_id not in _V:
        raise TR31Error(f"Key block version {version_id!r} is not supported (A, B, C, D or E)")
    _check_code(key_usage, KEY_USAGES, 2, "Key usage")
    _check_code(algorithm, ALGORITHMS, 1, "Algorithm")
    _check_code(mode_of_use, MODES_OF_USE, 1, "Mode of use")
    _check_key_version(version_num)
    _check_code(exportability, EXPORTABILITY, 1, "Exportability")
    if reserved != "00":
        raise TR31Error(f"Reserved field {reserved!r} is not '00'")


def _hex_value(bid: str, data: str) -> None:
    if not data or not _is_hex(data):
        raise TR31Error(f"Optional block {bid!r} value {data!r} is not upper-case hexadecimal")
    if len(data) % 2:
        raise TR31Error(
            f"Optional block {bid!r} value {data!r} has an odd number of hexadecimal digits"
        )


def _kcv_block(bid: str, data: str) -> tuple[str, bytes]:
    # X9.143:2021 6.3.6.7 Table 15: KCV algorithm 00 (legacy, X9.24-1 A.2) with at most 3
    # bytes, or 01 (CMAC, X9.24-1 A.3) with at most 5 bytes.
    _hex_value(bid, data)
    algorithm, value = data[:2], bytes.fromhex(data[2:])
    most = {"00": 3, "01": 5}.get(algorithm)
    if most is None:
        raise TR31Error(
            f"Optional block {bid!r} KCV algorithm {algorithm!r} is not '00' (legacy) or "
            "'01' (CMAC)"
        )
    if not 2 <= len(value) <= most:
        kind = "legacy" if algorithm == "00" else "CMAC"
        raise TR31Error(
            f"Optional block {bid!r} check value of {len(value)} bytes is not 2 to {most} "
            f"bytes ({kind} KCV, X9.143 6.3.6.7)"
        )
    return algorithm, value


def _timestamp(bid: str, data: str) -> None:
    for pattern in _TIMESTAMPS:
        match = pattern.fullmatch(data)
        if match:
            y, mo, d, h, mi, s = (int(part) for part in match.groups()[:6])
            try:
                datetime(y, mo, d, h, mi, s)
            except ValueError:
                break
            return
    raise TR31Error(
        f"Optional block {bid!r} value {data!r} is not an X9.143 UTC time stamp "
        "(YYYYMMDDhhmmss[cc]Z or YYYY-MM-DDThh:mm:ss[.cc]Z)"
    )


def _base64_certificate(bid: str, text: str) -> None:
    try:
        binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error:
        raise TR31Error(f"Optional block {bid!r} certificate is not base64") from None
    if not text:
        raise TR31Error(f"Optional block {bid!r} certificate is empty")


def _certificate_block(bid: str, data: str) -> None:
    # X9.143:2021 6.3.6.3 Tables 10 and 11: 00 X.509 (base64 DER), 01 EMV, 02 a chain of
    # entries, each a format (2), a length in hexadecimal characters (4) and a certificate.
    kind, rest = data[:2], data[2:]
    if kind == "00":
        _base64_certificate(bid, rest)
    elif kind == "01":
        if not rest:
            raise TR31Error(f"Optional block {bid!r} certificate is empty")
    elif kind == "02":
        if not rest:
            raise TR31Error(f"Optional block {bid!r} certificate chain is empty")
        while rest:
            entry_kind, length_text = rest[:2], rest[2:6]
            if entry_kind not in ("00", "01"):
                raise TR31Error(
                    f"Optional block {bid!r} chain entry format {entry_kind!r} is not '00' "
                    "(X.509) or '01' (EMV)"
                )
            if len(length_text) != 4 or not _is_hex(length_text):
                raise TR31Error(
                    f"Optional block {bid!r} chain entry length {length_text!r} is not 4 "
                    "upper-case hexadecimal digits"
                )
            n = int(length_text, 16)
            certificate = rest[6 : 6 + n]
            if len(certificate) != n:
                raise TR31Error(
                    f"Optional block {bid!r} chain entry of {n} characters runs past the "
                    "end of the block"
                )
            if entry_kind == "00":
                _base64_certificate(bid, certificate)
            rest = rest[6 + n :]
    else:
        raise TR31Error(
            f"Optional block {bid!r} certificate format {kind!r} is not '00' (X.509), '01' "
            "(EMV) or '02' (chain)"
        )


def _check_block_value(bid: str, data: str) -> None:
    if _PRINTABLE.fullmatch(data) is None:
        raise TR31Error(f"Optional block {bid!r} value is not printable ASCII")
    if bid == "KS":
        _hex_value(bid, data)
    elif bid in ("KC", "KP", "PK"):
        _kcv_block(bid, data)
    elif bid == "IK":
        if len(data) != 16 or not _is_hex(data):
            raise TR31Error(
                f"Optional block 'IK' value {data!r} is not 16 upper-case hexadecimal digits "
                "(an 8-byte initial key ID, ANSI X9.24-3)"
            )
    elif bid == "BI":
        # X9.143:2021 6.3.6.2 Table 9: 00 and a 5-byte TDES KSI, or 01 and a 4-byte BDK ID.
        if not ((data[:2] == "00" and len(data) == 12) or (data[:2] == "01" and len(data) == 10)):
            raise TR31Error(
                f"Optional block 'BI' value {data!r} is not '00' and 10 or '01' and 8 "
                "hexadecimal digits"
            )
        _hex_value(bid, data)
    elif bid == "HM":
        if data not in HMAC_HASHES:
            raise TR31Error(
                f"Optional block 'HM' hash algorithm {data!r} is not an X9.143 HMAC hash algorithm"
            )
    elif bid in ("TS", "TC"):
        _timestamp(bid, data)
    elif bid == "AL":
        # X9.143:2021 6.3.6.1 Table 8: version 01, then 00 ephemeral or 01 static.
        if data not in ("0100", "0101"):
            raise TR31Error(f"Optional block 'AL' value {data!r} is not '0100' or '0101'")
    elif bid == "CT":
        _certificate_block(bid, data)


def _check_block_id(bid: str) -> None:
    if bid in OPTIONAL_BLOCKS or _is_digits(bid, 2):
        return
    if _ALNUM2.fullmatch(bid) is None:
        raise TR31Error(f"Optional block ID {bid!r} is not 2 alphanumeric characters")
    raise TR31Error(
        f"Optional block ID {bid!r} is not an X9.143 optional block "
        "(numeric IDs are for proprietary use)"
    )


# --- header ---------------------------------------------------------------------------------

_MAX_LENGTH = 9999  # 4 decimal digits (X9.143:2021 6.2 Table 1)
_MAX_BLOCKS = 99  # 2 decimal digits
_SHORT_BLOCK_MAX = 0xFF
_EXTENDED_BLOCK_MAX = 0xFFFF
# Key length obfuscation (X9.143:2021 5 and 6.1): pad to the longest key of the algorithm.
_MASK_TO = {"T": 24, "D": 24, "A": 32}


def _payload_length(v: _Version, algorithm: str, key_len: int, masked: int | None) -> int:
    if masked is None:
        masked = max(key_len, _MASK_TO.get(algorithm, key_len))
    elif masked < key_len:
        raise TR31Error(f"masked_key_len {masked} is shorter than the key ({key_len} bytes)")
    n = 2 + masked
    return n + (-n) % v.block if v.pads else n


def _encode_block(bid: str, data: str) -> str:
    n = 4 + len(data)
    if n <= _SHORT_BLOCK_MAX:
        return f"{bid}{n:02X}{data}"
    # Extended length (X9.143:2021 6.2 Table 1): "00", then the number of characters of the
    # length (always 4 here), then the length of the whole block in hexadecimal.
    n += 6
    if n > _EXTENDED_BLOCK_MAX:
        raise TR31Error(f"Optional block {bid!r} of {n} characters is too long")
    return f"{bid}0004{n:04X}{data}"


@dataclass
class Header:
    """The header of a key block, as a template for :func:`wrap` or as :func:`unwrap` read it.

    Parameters
    ----------
    version_id : str
        Key block version: ``"A"``, ``"B"``, ``"C"`` (TDES KBPK), ``"D"`` or ``"E"`` (AES).
    key_usage : str
        Two characters of :data:`KEY_USAGES` (or two digits, proprietary).
    algorithm : str
        One character of :data:`ALGORITHMS`.
    mode_of_use : str
        One character of :data:`MODES_OF_USE`.
    version_num : str
        Key version number: ``"00"`` for none, ``"c1"`` .. ``"c9"`` for a key component,
        any other 2 alphanumeric characters for a version (see :attr:`key_version`).
    exportability : str
        One character of :data:`EXPORTABILITY`.
    reserved : str
        ``"00"``.
    blocks : list of (str, str)
        Optional blocks in order, as (ID, value), without the padding block ``PB`` that
        :meth:`dump` adds itself.

    Examples
    --------
    >>> h = Header("B", "P0", "T", "E", "00", "N", blocks=[("KS", "00604B120F929280")])
    >>> h.dump(16)
    'B0120P0TE00N0200KS1400604B120F929280PB04'
    >>> Header.load("B0000P0TE00N0100KS1800604B120F9292800000").blocks
    [('KS', '00604B120F9292800000')]
    """

    version_id: str = "D"
    key_usage: str = "K0"
    algorithm: str = "A"
    mode_of_use: str = "B"
    version_num: str = "00"
    exportability: str = "N"
    reserved: str = "00"
    blocks: list[tuple[str, str]] = field(default_factory=list)

    @property
    def component_number(self) -> int | None:
        """The component number when the block carries a key component (``"c1"`` is 1)."""
        if len(self.version_num) == 2 and self.version_num[0] == "c":
            second = self.version_num[1]
            return int(second) if second in "123456789" else None
        return None

    @property
    def key_version(self) -> str | None:
        """The key's version, or ``None`` when the field does not carry one.

        X9.143:2021 6.3.4 Table 5: ``"00"`` means key versioning is not used; ``"c"``
        followed by a digit means the block carries a component of a key and the digit is
        its number (:attr:`component_number`); any other value is the version of the key,
        which a receiver may use to refuse re-injection of an old key.

        >>> Header(version_num="00").key_version is None
        True
        >>> Header(version_num="c2").key_version, Header(version_num="c2").component_number
        (None, 2)
        >>> Header(version_num="12").key_version
        '12'
        """
        if self.version_num == "00" or self.component_number is not None:
            return None
        return self.version_num

    def dump(self, key_len: int, *, masked_key_len: int | None = None) -> str:
        """The header text as it appears in a key block wrapping a key of ``key_len`` bytes.

        The length field covers the whole block, so it depends on the key's length and on
        the length obfuscation (``masked_key_len``, as for :func:`wrap`). A padding block
        ``PB`` filled with ``0`` is added when the optional blocks need one.

        Raises
        ------
        TR31Error
            A field or optional block is not acceptable.
        """
        _check_fields(
            self.version_id,
            self.key_usage,
            self.algorithm,
            self.mode_of_use,
            self.version_num,
            self.exportability,
            self.reserved,
        )
        v = _V[self.version_id]
        _check_key_length(key_len, self.algorithm)
        if len(self.blocks) > _MAX_BLOCKS:
            raise TR31Error(
                f"Number of optional blocks {len(self.blocks)} is more than {_MAX_BLOCKS}"
            )
        parts: list[str] = []
        seen: set[str] = set()
        for bid, data in self.blocks:
            _check_block_id(bid)
            if bid == "PB":
                raise TR31Error(
                    "Optional block 'PB' (padding) is added by Header.dump; leave it out of "
                    "the blocks"
                )
            if bid in seen:
                raise TR31Error(f"Optional block {bid!r} appears more than once")
            seen.add(bid)
            _check_block_value(bid, data)
            parts.append(_encode_block(bid, data))
        count = len(parts)
        length = 16 + sum(len(p) for p in parts)
        if length % v.block:
            # X9.143:2021 6.3.6: the padding block brings the optional blocks to a multiple
            # of the cipher block; it is at least 4 characters (ID and length).
            pb = 4 + (-(length + 4)) % v.block
            parts.append(f"PB{pb:02X}" + "0" * (pb - 4))
            count += 1
            length += pb
        if count > _MAX_BLOCKS:
            raise TR31Error(
                f"Number of optional blocks {count}, with the padding block, is more than "
                f"{_MAX_BLOCKS}"
            )
        payload = _payload_length(v, self.algorithm, key_len, masked_key_len)
        total = length + 2 * payload + 2 * v.mac_len
        if total > _MAX_LENGTH:
            raise TR31Error(
                f"Key block length {total} exceeds the 4-digit length field ({_MAX_LENGTH})"
            )
        return (
            f"{self.version_id}{total:04d}{self.key_usage}{self.algorithm}{self.mode_of_use}"
            f"{self.version_num}{self.exportability}{count:02d}{self.reserved}" + "".join(parts)
        )

    @classmethod
    def load(cls, text: str) -> Header:
        """Read a header (fixed part and optional blocks, nothing after them).

        The length field must be 4 digits but is not compared with anything: a header on
        its own is shorter than its block. The padding block is checked and dropped.

        Raises
        ------
        TR31Error
            A field or optional block is not acceptable, or text follows the blocks.
        """
        header, end = _read_header(text, check_length=False)
        if end != len(text):
            raise TR31Error(f"Header has {len(text) - end} characters after its optional blocks")
        return header


def _read_blocks(text: str, count: int) -> tuple[list[tuple[str, str]], int]:
    """Optional blocks from position 16: (ID, value) in order, PB kept, and the end."""
    blocks: list[tuple[str, str]] = []
    seen: set[str] = set()
    pos, end = 16, len(text)
    for i in range(1, count + 1):
        if pos + 2 > end:
            raise TR31Error(
                f"Optional block {i} of {count} is missing: the header ends after {end} characters"
            )
        bid = text[pos : pos + 2]
        _check_block_id(bid)
        length_text = text[pos + 2 : pos + 4]
        if len(length_text) != 2 or not _is_hex(length_text):
            raise TR31Error(
                f"Optional block {bid!r} length {length_text!r} is not 2 upper-case "
                "hexadecimal digits"
            )
        n, head = int(length_text, 16), 4
        if n == 0:
            # Extended length: the length of the length counts ASCII characters, as in the
            # X9.143:2021 8.5 and 8.6 examples ("CT0004 0500").
            count_text = text[pos + 4 : pos + 6]
            if len(count_text) != 2 or not _is_hex(count_text):
                raise TR31Error(
                    f"Optional block {bid!r} length of length {count_text!r} is not 2 "
                    "upper-case hexadecimal digits"
                )
            digits = int(count_text, 16)
            if digits == 0:
                raise TR31Error(f"Optional block {bid!r} length of length is 0")
            long_text = text[pos + 6 : pos + 6 + digits]
            if len(long_text) != digits or not _is_hex(long_text):
                raise TR31Error(
                    f"Optional block {bid!r} extended length {long_text!r} is not "
                    f"{digits} upper-case hexadecimal digit{'s' if digits > 1 else ''}"
                )
            n, head = int(long_text, 16), 6 + digits
        if n < head:
            raise TR31Error(
                f"Optional block {bid!r} length {n} is shorter than its own ID and length "
                f"({head} characters)"
            )
        if pos + n > end:
            raise TR31Error(
                f"Optional block {bid!r} length {n} runs past the end of the text "
                f"({end - pos} characters left)"
            )
        if bid in seen:
            raise TR31Error(f"Optional block {bid!r} appears more than once")
        if bid == "PB" and i != count:
            raise TR31Error("Optional block 'PB' (padding) is not the last optional block")
        seen.add(bid)
        data = text[pos + head : pos + n]
        _check_block_value(bid, data)
        blocks.append((bid, data))
        pos += n
    return blocks, pos


def _read_header(text: str, *, check_length: bool) -> tuple[Header, int]:
    """Header and the position after its optional blocks; padding block checked, dropped."""
    if len(text) < 16:
        raise TR31Error(f"Header is {len(text)} characters long; a TR-31 header has 16")
    version_id, length_text = text[0], text[1:5]
    if version_id not in _V:
        raise TR31Error(f"Key block version {version_id!r} is not supported (A, B, C, D or E)")
    if not _is_digits(length_text, 4):
        raise TR31Error(f"Key block length field {length_text!r} is not 4 decimal digits")
    if check_length and int(length_text) != len(text):
        raise TR31Error(
            f"Key block length field {length_text!r} does not match the block's length "
            f"({len(text)} characters)"
        )
    count_text = text[12:14]
    _check_fields(version_id, text[5:7], text[7], text[8], text[9:11], text[11], text[14:16])
    if not _is_digits(count_text, 2):
        raise TR31Error(f"Number of optional blocks {count_text!r} is not 2 decimal digits")
    blocks, end = _read_blocks(text, int(count_text))
    block = _V[version_id].block
    if end % block:
        # X9.143:2021 6.3.6: the optional blocks, padding included, fill whole cipher blocks.
        raise TR31Error(
            f"Header length {end} is not a multiple of {block} (the version {version_id} "
            "cipher block): the padding block 'PB' is missing or of the wrong length"
        )
    if blocks and blocks[-1][0] == "PB":
        blocks.pop()
    header = Header(
        version_id, text[5:7], text[7], text[8], text[9:11], text[11], text[14:16], blocks
    )
    return header, end


def _read(key_block: str) -> tuple[Header, int, _Version]:
    """Header, its length, and the version; payload and MAC checked as text."""
    header, end = _read_header(key_block, check_length=True)
    v = _V[header.version_id]
    mac_chars = 2 * v.mac_len
    payload_chars = len(key_block) - end - mac_chars
    if payload_chars <= 0:
        raise TR31Error(
            f"Key block has no room for a payload after its {end}-character header and "
            f"{mac_chars}-character MAC"
        )
    payload, mac = key_block[end : end + payload_chars], key_block[end + payload_chars :]
    if not _is_hex(mac):
        raise TR31Error(f"Key block MAC {mac!r} is not upper-case hexadecimal")
    if not _is_hex(payload):
        raise TR31Error("Key block payload is not upper-case hexadecimal")
    if payload_chars % 2:
        raise TR31Error("Key block payload has an odd number of hexadecimal digits")
    size = payload_chars // 2
    if v.pads and size % v.block:
        raise TR31Error(
            f"Key block payload of {size} bytes is not a multiple of {v.block} (the version "
            f"{header.version_id} cipher block)"
        )
    if size < 2 + 1:
        raise TR31Error(f"Key block payload of {size} bytes is too short for a key")
    return header, end, v


def parse(key_block: str) -> Header:
    """Read and check a key block without its KBPK: header, optional blocks, lengths.

    Everything that can be checked without the key is checked, so a block that passes can
    still fail :func:`unwrap` only on its MAC, its decrypted contents or the strength rule.

    Parameters
    ----------
    key_block : str
        A TR-31 key block.

    Returns
    -------
    Header

    Raises
    ------
    TR31Error
        The block is malformed; the message names the field.

    Examples
    --------
    >>> h = parse("B0104B1TX00S0100KS18820220A0200001E00000B51725B5DD1F18D7A28B3EBD15BA8DE9"
    ...           "78DC20E5FA695FEAA249855AA226C65F")
    >>> h.version_id, h.key_usage, h.exportability, h.blocks
    ('B', 'B1', 'S', [('KS', '820220A0200001E00000')])
    >>> try:
    ...     parse("B0104ZZTX00S0000")
    ... except TR31Error as exc:
    ...     print(exc)
    Key block length field '0104' does not match the block's length (16 characters)
    """
    return _read(key_block)[0]


# --- wrap and unwrap -------------------------------------------------------------------------


def _family_of(algorithm: str) -> str | None:
    return {"T": "TDES", "D": "TDES", "A": "AES"}.get(algorithm)


def _check_kcv(bid: str, data: str, key: bytes | bytearray, family: str | None, what: str) -> None:
    if family is None:
        return  # no check value is defined for asymmetric or HMAC keys
    algorithm, received = _kcv_block(bid, data)
    if algorithm == "01":
        method = KcvMethod.CMAC_ZEROS
    else:  # X9.24-1:2017 A.2: the legacy approach enciphers a block of zeros
        method = KcvMethod.TDES_ECB_ZEROS if family == "TDES" else KcvMethod.AES_ECB_ZEROS
    try:
        expected = key_check_value(key, family=family, method=method, length=len(received))
    except KcvError as exc:
        raise TR31Error(f"Optional block {bid!r}: {exc}") from None
    if not hmac.compare_digest(expected, received):
        raise TR31Error(
            f"Optional block {bid!r} check value {received.hex().upper()} does not match "
            f"the {what}: expected {expected.hex().upper()}"
        )


def _check_kcv_blocks(
    header: Header, key: bytes | bytearray, kbpk: bytes | bytearray, v: _Version
) -> None:
    for bid, data in header.blocks:
        if bid == "KC":
            _check_kcv(bid, data, key, _family_of(header.algorithm), "key")
        elif bid == "KP":
            _check_kcv(bid, data, kbpk, v.family, "KBPK")


def _cbc_mac(kbak: bytes | bytearray, data: bytes) -> bytes:
    # TR-31:2018 A.3 (versions A and C): TDES CBC-MAC (ISO 9797-1 algorithm 1) of header
    # and encrypted payload, both whole blocks, leftmost 4 bytes.
    return tdes_cbc_encrypt(kbak, bytes(8), data)[-8:-4]


def wrap(
    kbpk: bytes | bytearray,
    header: Header | str,
    key: bytes | bytearray,
    *,
    masked_key_len: int | None = None,
    random: Callable[[int], bytes] = os.urandom,
) -> str:
    """Wrap a key into a key block.

    Parameters
    ----------
    kbpk : bytes or bytearray
        Key block protection key: TDES of 16 or 24 bytes for versions A, B and C, AES of
        16, 24 or 32 bytes for D and E. It must be at least as strong as ``key``.
    header : Header or str
        The header as a :class:`Header` or as header text (:meth:`Header.load`).
    key : bytes or bytearray
        The key: TDES, DES, AES or HMAC key bytes, or a DER private key for RSA, DSA, EC.
    masked_key_len : int, optional
        Pad the key as if it were this many bytes long, to hide its length. Defaults to
        the longest key of the algorithm (24 for TDES and DES, 32 for AES), else no mask.
    random : callable, optional
        Source of the payload padding, called once with the number of bytes needed.
        Tests pass the published padding here to reproduce a block byte for byte.

    Returns
    -------
    str
        The key block.

    Raises
    ------
    TR31Error
        The header, key or KBPK is not acceptable, or the KBPK is weaker than the key.

    Examples
    --------
    TR-31:2018 A.7.2.2 with its published padding:

    >>> wrap(bytes.fromhex("DD7515F2BFC17F85CE48F3CA25CB21F6"), "B0080P0TE00E0000",
    ...      bytes.fromhex("3F419E1CB7079442AA37474C2EFBF8B8"), masked_key_len=22,
    ...      random=lambda n: bytes.fromhex("1C2965473CE2"))
    'B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E'
    """
    if isinstance(header, str):
        header = Header.load(header)
    text = header.dump(len(key), masked_key_len=masked_key_len)
    v = _check_kbpk(kbpk, header.version_id)
    check_strength(kbpk, v.kbpk_algorithm, key, header.algorithm)
    _check_kcv_blocks(header, key, kbpk, v)
    size = _payload_length(v, header.algorithm, len(key), masked_key_len)
    pad_len = size - 2 - len(key)
    pad = random(pad_len)
    if len(pad) != pad_len:
        raise TR31Error(f"random returned {len(pad)} bytes of padding; {pad_len} are needed")
    head = text.encode("ascii")
    kbek, kbak = derive_binding_keys(kbpk, header.version_id)
    payload = bytearray((8 * len(key)).to_bytes(2, "big"))
    payload += key
    payload += pad
    try:
        if header.version_id in "AC":
            # TR-31:2018 A.3: encrypt with the first 8 header bytes as IV, then MAC.
            encrypted = tdes_cbc_encrypt(kbek, head[:8], payload)
            mac = _cbc_mac(kbak, head + encrypted)
        else:
            # Key derivation binding: MAC header and clear payload, then encrypt the payload
            # with the MAC as IV (B: TDES-CBC, D: AES-CBC, E: AES-CTR as in ISO 20038).
            mac = _mac(_cmac_context(v.family, kbak), head, payload)
            if header.version_id == "B":
                encrypted = tdes_cbc_encrypt(kbek, mac, payload)
            elif header.version_id == "D":
                encrypted = aes_cbc_encrypt(kbek, mac, payload)
            else:
                encrypted = aes_ctr(kbek, mac, payload)
    finally:
        payload[:] = bytes(len(payload))
    return text + encrypted.hex().upper() + mac.hex().upper()


def unwrap(
    kbpk: bytes | bytearray, key_block: str, *, allow_weaker_kbpk: bool = False
) -> tuple[Header, bytes]:
    """Check and unwrap a key block.

    Parameters
    ----------
    kbpk : bytes or bytearray
        Key block protection key (TDES for versions A, B, C; AES for D, E).
    key_block : str
        The key block.
    allow_weaker_kbpk : bool, optional
        Return the key even when the KBPK is weaker than it (the block breaks ANSI X9.143
        and PCI PIN 18-3). Only for reading old blocks that must be re-wrapped at once.

    Returns
    -------
    tuple of (Header, bytes)
        The header (without its padding block) and the key.

    Raises
    ------
    TR31Error
        The block is malformed, its MAC does not verify, its contents are not a key of
        its algorithm, a KC or KP block does not match, or the KBPK is too weak.

    Examples
    --------
    >>> header, key = unwrap(bytes.fromhex("89E88CF7931444F334BD7547FC3F380C"),
    ...     "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8701")
    >>> key.hex().upper(), header.version_id
    ('F039121BEC83D26B169BDCD5B22AAF8F', 'A')
    >>> try:
    ...     unwrap(bytes.fromhex("89E88CF7931444F334BD7547FC3F380C"),
    ...         "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8700")
    ... except TR31Error as exc:
    ...     print(exc)
    Key block MAC does not verify: the KBPK is wrong or the block was altered
    """
    header, end, v = _read(key_block)
    _check_kbpk(kbpk, header.version_id)
    head = key_block[:end].encode("ascii")
    body = bytes.fromhex(key_block[end:])
    encrypted, mac = body[: -v.mac_len], body[-v.mac_len :]
    kbek, kbak = derive_binding_keys(kbpk, header.version_id)
    version = header.version_id
    if version in "AC":
        if not hmac.compare_digest(_cbc_mac(kbak, head + encrypted), mac):
            raise TR31Error(
                "Key block MAC does not verify: the KBPK is wrong or the block was altered"
            )
        clear = tdes_cbc_decrypt(kbek, head[:8], encrypted)
    else:
        if version == "B":
            clear = tdes_cbc_decrypt(kbek, mac, encrypted)
        elif version == "D":
            clear = aes_cbc_decrypt(kbek, mac, encrypted)
        else:
            clear = aes_ctr(kbek, mac, encrypted)
        if not hmac.compare_digest(_mac(_cmac_context(v.family, kbak), head, clear), mac):
            raise TR31Error(
                "Key block MAC does not verify: the KBPK is wrong or the block was altered"
            )
    bits = int.from_bytes(clear[:2], "big")
    if bits % 8:
        raise TR31Error(f"Decrypted key length field ({bits} bits) is not a whole number of bytes")
    if bits == 0:
        raise TR31Error("Decrypted key length field is 0 bits: the block holds no key")
    key = clear[2 : 2 + bits // 8]
    if len(key) != bits // 8:
        raise TR31Error(
            f"Decrypted key length field ({bits} bits) does not fit the payload "
            f"({len(clear) - 2} bytes after the length field)"
        )
    del clear
    _check_key_length(len(key), header.algorithm)
    _check_kcv_blocks(header, key, kbpk, v)
    if not allow_weaker_kbpk:
        check_strength(kbpk, v.kbpk_algorithm, key, header.algorithm)
    return header, key


def unwrap_with_binding_keys(
    kbek: bytes | bytearray,
    kbak: bytes | bytearray,
    key_block: str,
    *,
    kbpk_strength: int,
    kbpk_check_value: Callable[[str, int], bytes] | None = None,
) -> tuple[Header, bytearray]:
    """Unwrap a key derivation binding block (versions B, D, E) with its KBEK and KBAK.

    For a KBPK that never leaves an HSM: the HSM derives the KBEK and KBAK (the CMACs of
    :func:`derive_binding_keys`, computed with the KBPK inside it) and only they reach this
    function. Everything :func:`unwrap` checks is checked the same way, except what needs
    the KBPK itself, which the caller supplies:

    Parameters
    ----------
    kbek, kbak : bytes or bytearray
        The derived key block encryption and authentication keys, as long as the KBPK.
    key_block : str
        A version B, D or E key block.
    kbpk_strength : int
        The KBPK's security strength in bits (:func:`key_strength`), for the strength rule.
    kbpk_check_value : callable, optional
        ``(algorithm, length) -> bytes``: the KBPK's check value by KCV algorithm ``"00"``
        (legacy) or ``"01"`` (CMAC), to check a KP optional block. Without it a block with
        a KP optional block is refused.

    Raises
    ------
    TR31Error
        As :func:`unwrap`, and for a version A or C block (key variant binding has no
        derived keys an HSM could hand out without the KBPK).
    """
    header, end, v = _read(key_block)
    version = header.version_id
    if version in "AC":
        raise TR31Error(
            f"Key block version {version} uses key variant binding; only B, D and E blocks "
            "can be unwrapped with derived binding keys"
        )
    if len(kbek) not in v.kbpk_lengths or len(kbak) != len(kbek):
        raise TR31Error(
            f"Binding keys of {len(kbek)} and {len(kbak)} bytes do not fit version {version}"
        )
    head = key_block[:end].encode("ascii")
    body = bytes.fromhex(key_block[end:])
    encrypted, mac = body[: -v.mac_len], body[-v.mac_len :]
    if version == "B":
        clear = bytearray(tdes_cbc_decrypt(kbek, mac, encrypted))
    elif version == "D":
        clear = bytearray(aes_cbc_decrypt(kbek, mac, encrypted))
    else:
        clear = bytearray(aes_ctr(kbek, mac, encrypted))
    try:
        if not hmac.compare_digest(_mac(_cmac_context(v.family, kbak), head, clear), mac):
            raise TR31Error(
                "Key block MAC does not verify: the KBPK is wrong or the block was altered"
            )
        bits = int.from_bytes(clear[:2], "big")
        if bits % 8 or bits == 0 or 2 + bits // 8 > len(clear):
            raise TR31Error(
                f"Decrypted key length field ({bits} bits) does not give a key in the payload"
            )
        key = clear[2 : 2 + bits // 8]  # a bytearray the caller wipes
    finally:
        clear[:] = bytes(len(clear))
    try:
        _check_key_length(len(key), header.algorithm)
        for bid, data in header.blocks:
            if bid == "KC":
                _check_kcv(bid, data, key, _family_of(header.algorithm), "key")
            elif bid == "KP":
                algorithm, received = _kcv_block(bid, data)
                if kbpk_check_value is None:
                    raise TR31Error("Optional block 'KP' cannot be checked: the KBPK is in an HSM")
                expected = kbpk_check_value(algorithm, len(received))
                if not hmac.compare_digest(expected, received):
                    raise TR31Error(
                        f"Optional block 'KP' check value {received.hex().upper()} does not match "
                        f"the KBPK: expected {expected.hex().upper()}"
                    )
        wrapped, wrapped_name = _strength(key, header.algorithm)
        if kbpk_strength < wrapped:
            raise TR31Error(
                f"KBPK ({kbpk_strength} bits) is weaker than the key it protects "
                f"({wrapped_name}, {wrapped} bits): ANSI X9.143 and PCI PIN Security Requirement "
                "18-3 require a wrapping key at least as strong (NIST SP 800-57 Part 1 Table 2)"
            )
    except BaseException:
        key[:] = bytes(len(key))
        raise
    return header, key
