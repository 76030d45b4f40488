"""ECDH key agreement on P-256, P-384 and P-521, and the key derivation functions that turn
its shared secret into a key-encryption key (KEK).

This is the asymmetric way to establish a key block protection key for TR-31 without paper
components, as AWS Payment Cryptography (``ImportKey``/``ExportKey`` with
``DiffieHellmanTr31KeyBlock``) and current payment HSMs offer it. Each party holds an
elliptic-curve key pair; each combines its own private key with the other's public key and
gets the same shared secret Z; both run the same key derivation function over Z and the
agreed *shared information* and get the same KEK.

The shared secret Z (NIST SP 800-56A Rev. 3 §5.7.1.2, ECC CDH primitive)
    the x-coordinate of d·Q (d our private key, Q the peer's public point), as a big-endian
    octet string exactly as long as the field: 32 bytes on P-256, 48 on P-384, 66 on P-521
    (leading zero bytes kept). The three NIST curves have cofactor 1, so the cofactor and
    plain Diffie-Hellman primitives agree.

What is hashed (``H`` is SHA-256, SHA-384 or SHA-512; ``counter`` is a 4-byte big-endian
integer starting at 1; the KEK is the leftmost ``length`` bytes of
``K(1) || K(2) || ...``):

``NIST_SP800``: NIST SP 800-56C Rev. 2 §4.1, one-step KDF with option 1 (a hash)::

    K(i) = H(counter(i) || Z || FixedInfo)

``ANSI_X963``: ANSI X9.63 KDF as SEC 1 v2.0 §3.6.1 specifies it::

    K(i) = H(Z || counter(i) || SharedInfo)

AWS Payment Cryptography's ``SharedInformation`` (a hex string of 1 to 1024 bytes in the
``DiffieHellmanDerivationData`` of its API) goes in as the whole FixedInfo / SharedInfo,
byte for byte: no length prefix, no algorithm identifier and no party identifiers are added
around it. AWS's own sample code for an ECDH import derives the KEK with pyca/cryptography's
``ConcatKDFHash(algorithm, length, otherinfo=shared_information)``, which is the
``NIST_SP800`` line above; ``length`` is the KEK's length (16, 24 or 32 bytes). The caller
agrees the shared information with the partner. NIST SP 800-56A Rev. 3 §5.8.2 has FixedInfo
bind the key to the parties and its use, and AWS advises against reusing shared information
(a nonce or a transaction identifier in it): the same key pairs and the same shared
information always give the same KEK.

Key algorithms of the KEK and their lengths: ``AES-128`` 16 bytes, ``AES-192`` 24,
``AES-256`` 32, ``TDES-2KEY`` 16, ``TDES-3KEY`` 24. A TDES KEK has its parity adjusted: the
least significant bit of each byte is set so that the byte has an odd number of one bits
(FIPS 46-3, the DES key: 56 of its 64 bits are key bits, the other 8 are error-detecting
bits that give each byte odd parity; NIST SP 800-67 Rev. 2 keeps that form for each TDEA
key, and ANSI X9.24-1 key components follow it). Parity bits are not key bits, so the
adjusted KEK encrypts exactly as the unadjusted KDF output does (same check value, same key
blocks); the adjustment only makes it acceptable to HSMs that refuse a DES key with even
parity bytes.

Public keys are accepted as a SubjectPublicKeyInfo (RFC 5480; DER or PEM ``PUBLIC KEY``),
an X.509 certificate (DER or PEM ``CERTIFICATE``; its public key is taken, the certificate
is **not** verified here: chain, validity and key usage are the caller's business), or a
bare X9.62 point (SEC 1 §2.3.3; uncompressed ``04 || X || Y`` or compressed ``02/03 || X``)
whose length names the curve. Every point is checked to lie on its curve before use.

Example: both parties derive the same AES-256 KEK (toy private keys, for the example only).

>>> from cryptography.hazmat.primitives import serialization
>>> from cryptography.hazmat.primitives.asymmetric import ec
>>> ours = ec.derive_private_key(0x1D5B, ec.SECP256R1())
>>> theirs = ec.derive_private_key(0x2C6A, ec.SECP256R1())
>>> spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
>>> z_ours = shared_secret(ours, theirs.public_key().public_bytes(*spki))
>>> z_theirs = shared_secret(theirs, ours.public_key().public_bytes(*spki))
>>> z_ours == z_theirs, len(z_ours)
(True, 32)
>>> params = dict(kdf="NIST_SP800", hash_name="SHA-256", shared_info=bytes.fromhex("A1B2C3"))
>>> kek = derive_kek(z_ours, key_algorithm="AES-256", **params)
>>> kek == derive_kek(z_theirs, key_algorithm="AES-256", **params), len(kek)
(True, 32)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from asn1crypto import core, keys, pem, x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

__all__ = [
    "CURVES",
    "HASHES",
    "KDFS",
    "KEY_ALGORITHMS",
    "MAX_SHARED_INFO",
    "ECDHError",
    "concat_kdf",
    "derive_kek",
    "load_public_key",
    "shared_secret",
    "x963_kdf",
]


class ECDHError(ValueError):
    """A key, a parameter or a shared secret is not usable for ECDH key agreement or key
    derivation. The message names the parameter that is wrong."""


CURVES: Mapping[str, ec.EllipticCurve] = MappingProxyType(
    {
        "P-256": ec.SECP256R1(),
        "P-384": ec.SECP384R1(),
        "P-521": ec.SECP521R1(),
    }
)
"""The curves (NIST FIPS 186-4 §D.1.2), by the names this module uses in messages."""

HASHES: Mapping[str, type[hashes.HashAlgorithm]] = MappingProxyType(
    {
        "SHA-256": hashes.SHA256,
        "SHA-384": hashes.SHA384,
        "SHA-512": hashes.SHA512,
    }
)
"""The hash functions of both KDFs (FIPS 180-4)."""

KDFS: tuple[str, ...] = ("NIST_SP800", "ANSI_X963")
"""The key derivation functions of ``derive_kek``, named as AWS Payment Cryptography names
them (``KeyDerivationFunction``)."""

KEY_ALGORITHMS: Mapping[str, int] = MappingProxyType(
    {
        "AES-128": 16,
        "AES-192": 24,
        "AES-256": 32,
        "TDES-2KEY": 16,
        "TDES-3KEY": 24,
    }
)
"""The algorithms a KEK may be derived for, and the KEK's length in bytes."""

MAX_SHARED_INFO = 1024
"""The longest shared information ``derive_kek`` takes, in bytes: AWS Payment Cryptography's
limit (``SharedInformation``: 2 to 2048 hexadecimal characters)."""

# asn1crypto's names of the namedCurve OIDs (RFC 5480 §2.1.1.1).
_NAMED_CURVES: Mapping[str, str] = MappingProxyType(
    {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
)
# Length of a field element (and of Z) in bytes: ceil(log2(p) / 8).
_FIELD_BYTES: Mapping[str, int] = MappingProxyType({"P-256": 32, "P-384": 48, "P-521": 66})
# SP 800-56C Rev. 2 §4.1 and SEC 1 §3.6.1: the counter is 32 bits.
_MAX_BLOCKS = 2**32 - 1


# --- public keys -----------------------------------------------------------------------


def load_public_key(data: bytes) -> ec.EllipticCurvePublicKey:
    """Read an elliptic-curve public key on P-256, P-384 or P-521.

    Parameters
    ----------
    data
        A SubjectPublicKeyInfo (DER, or PEM ``PUBLIC KEY``), an X.509 certificate (DER, or
        PEM ``CERTIFICATE``; only its public key is read, the certificate is not verified),
        or a bare X9.62 point: uncompressed (65, 97 or 133 bytes) or compressed (33, 49 or
        67 bytes), the length naming the curve.

    Returns
    -------
    EllipticCurvePublicKey
        The key, its point checked to lie on the curve.

    Raises
    ------
    ECDHError
        What is wrong: the encoding, the algorithm, the curve or the point.

    Examples
    --------
    >>> point = bytes.fromhex(
    ...     "04700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287"
    ...     "db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac")
    >>> load_public_key(point).curve.name
    'secp256r1'
    >>> try:
    ...     load_public_key(point[:-1] + b"\\x00")
    ... except ECDHError as exc:
    ...     print(exc)
    public key: the point is not on the curve P-256
    """
    if not isinstance(data, bytes | bytearray):
        raise ECDHError(f"public key: expected bytes, not {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ECDHError("public key: empty")
    if pem.detect(data):
        return _load_pem(data)
    if data[0] == 0x30:
        return _load_der(data)
    if data[0] in (0x02, 0x03, 0x04):
        return _load_point(data)
    raise ECDHError(
        "public key: not a SubjectPublicKeyInfo, an X.509 certificate or an X9.62 point "
        f"(it starts with byte {data[0]:02X})"
    )


def _load_pem(data: bytes) -> ec.EllipticCurvePublicKey:
    try:
        kind, _, der = pem.unarmor(data)
    except ValueError as exc:
        raise ECDHError(f"public key: the PEM armour is malformed ({exc})") from None
    if kind == "PUBLIC KEY":
        return _from_spki(_parse(keys.PublicKeyInfo, der, "SubjectPublicKeyInfo"))
    if kind == "CERTIFICATE":
        return _from_certificate(der)
    raise ECDHError(f"public key: PEM type {kind!r} is neither 'PUBLIC KEY' nor 'CERTIFICATE'")


def _load_der(der: bytes) -> ec.EllipticCurvePublicKey:
    # Both are SEQUENCEs: a SubjectPublicKeyInfo has two elements (RFC 5280 §4.1:
    # algorithm, subjectPublicKey), a Certificate three (tbsCertificate,
    # signatureAlgorithm, signatureValue).
    try:
        outer = core.load(der, strict=True)
        elements = len(outer) if isinstance(outer, core.Sequence) else -1
    except (ValueError, TypeError) as exc:
        raise ECDHError(f"public key: not valid DER ({exc})") from None
    if elements == 2:
        return _from_spki(_parse(keys.PublicKeyInfo, der, "SubjectPublicKeyInfo"))
    if elements == 3:
        return _from_certificate(der)
    raise ECDHError("public key: the DER is neither a SubjectPublicKeyInfo nor a certificate")


def _parse(spec: type[core.Sequence], der: bytes, what: str) -> core.Sequence:
    try:
        parsed = spec.load(der, strict=True)
        parsed.native  # noqa: B018 - asn1crypto parses lazily: force it here
    except (ValueError, TypeError) as exc:
        raise ECDHError(f"public key: not a valid {what} ({exc})") from None
    return parsed


def _from_certificate(der: bytes) -> ec.EllipticCurvePublicKey:
    certificate = _parse(x509.Certificate, der, "X.509 certificate")
    return _from_spki(certificate["tbs_certificate"]["subject_public_key_info"])


def _from_spki(spki: core.Sequence) -> ec.EllipticCurvePublicKey:
    algorithm = spki["algorithm"]
    # RFC 5480 §2.1.1: id-ecPublicKey, parameters a namedCurve OID.
    if algorithm["algorithm"].native != "ec":
        raise ECDHError(
            f"public key: the algorithm is {algorithm['algorithm'].native!r}, not an "
            "elliptic-curve key (id-ecPublicKey)"
        )
    parameters = algorithm["parameters"]
    if parameters.name != "named":
        raise ECDHError(
            "public key: the curve is not given as a named curve (explicit or inherited "
            "parameters); only the named curves P-256, P-384 and P-521 are accepted "
            "(RFC 5480 §2.1.1)"
        )
    oid_name = parameters.chosen.native
    curve_name = _NAMED_CURVES.get(oid_name)
    if curve_name is None:
        raise ECDHError(
            f"public key: the curve {oid_name} is not supported; use P-256, P-384 or P-521"
        )
    return _point_on(curve_name, bytes(spki["public_key"].native))


def _load_point(point: bytes) -> ec.EllipticCurvePublicKey:
    for name, size in _FIELD_BYTES.items():
        if len(point) == (1 + 2 * size if point[0] == 0x04 else 1 + size):
            return _point_on(name, point)
    form, lengths = (
        ("an uncompressed", "65, 97 or 133")
        if point[0] == 0x04
        else ("a compressed", "33, 49 or 67")
    )
    raise ECDHError(
        f"public key: {form} point on P-256, P-384 or P-521 is {lengths} bytes long, "
        f"not {len(point)}"
    )


def _point_on(curve_name: str, point: bytes) -> ec.EllipticCurvePublicKey:
    """The point (SEC 1 §2.3.4 Octet-String-to-Elliptic-Curve-Point) checked to be on the
    curve (SP 800-56A Rev. 3 §5.6.2.3.3 full public key validation: cryptography checks the
    coordinates are in range and satisfy the curve equation; the NIST curves have cofactor
    1, so a point on the curve other than infinity has the right order)."""
    size = _FIELD_BYTES[curve_name]
    expected = 1 + 2 * size if point[:1] == b"\x04" else 1 + size
    if point[:1] not in (b"\x02", b"\x03", b"\x04") or len(point) != expected:
        raise ECDHError(
            f"public key: the point is not an X9.62 point on {curve_name} (length "
            f"{len(point)}, first byte {point[:1].hex().upper() or 'none'})"
        )
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(CURVES[curve_name], point)
    except ValueError:
        raise ECDHError(f"public key: the point is not on the curve {curve_name}") from None


def _curve_name(curve: ec.EllipticCurve) -> str | None:
    for name, known in CURVES.items():
        if known.name == curve.name:
            return name
    return None


# --- the shared secret -----------------------------------------------------------------


def shared_secret(private_key: ec.EllipticCurvePrivateKey, peer_public_key: bytes) -> bytes:
    """The ECDH shared secret Z of our private key and the peer's public key.

    Parameters
    ----------
    private_key
        Our key pair (pyca/cryptography), on P-256, P-384 or P-521.
    peer_public_key
        The peer's public key on the same curve, in any form ``load_public_key`` reads.

    Returns
    -------
    bytes
        Z: the x-coordinate of the shared point, as long as the field (32, 48 or 66 bytes;
        NIST SP 800-56A Rev. 3 §5.7.1.2).

    Raises
    ------
    ECDHError
        The private key is not an elliptic-curve key on a supported curve, the peer key is
        unreadable or not on a curve, or the two curves differ.

    Examples
    --------
    NIST CAVP, ECC CDH primitive (CAVS 14.1), P-256 COUNT = 0:

    >>> from cryptography.hazmat.primitives.asymmetric import ec
    >>> ours = ec.derive_private_key(
    ...     0x7D7DC5F71EB29DDAF80D6214632EEAE03D9058AF1FB6D22ED80BADB62BC1A534, ec.SECP256R1())
    >>> peer = bytes.fromhex(
    ...     "04700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287"
    ...     "db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac")
    >>> shared_secret(ours, peer).hex()
    '46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b'
    """
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise ECDHError(
            f"private key: expected an elliptic-curve private key, not {type(private_key).__name__}"
        )
    ours = _curve_name(private_key.curve)
    if ours is None:
        raise ECDHError(
            f"private key: the curve {private_key.curve.name} is not supported; use P-256, "
            "P-384 or P-521"
        )
    peer = load_public_key(peer_public_key)
    theirs = _curve_name(peer.curve)
    if theirs != ours:
        raise ECDHError(
            f"public key: the peer's key is on {theirs}, the private key on {ours}; both "
            "must be on the same curve"
        )
    z = private_key.exchange(ec.ECDH(), peer)
    if len(z) != _FIELD_BYTES[ours]:  # pragma: no cover - cryptography pads Z to the field
        raise ECDHError(f"shared secret: {len(z)} bytes, not {_FIELD_BYTES[ours]} on {ours}")
    return z


# --- key derivation functions ----------------------------------------------------------


def _hash(hash_name: str) -> hashes.HashAlgorithm:
    algorithm = HASHES.get(hash_name) if isinstance(hash_name, str) else None
    if algorithm is None:
        raise ECDHError(
            f"hash_name: {hash_name!r} is not supported; use one of {', '.join(HASHES)}"
        )
    return algorithm()


def _check_secret(z: bytes) -> None:
    if not isinstance(z, bytes | bytearray):
        raise ECDHError(f"z: expected bytes, not {type(z).__name__}")
    if not z:
        raise ECDHError("z: the shared secret is empty")


def _check_info(value: bytes, field: str) -> None:
    if not isinstance(value, bytes | bytearray):
        raise ECDHError(f"{field}: expected bytes, not {type(value).__name__}")


def _check_length(length: int, maximum: int) -> None:
    if type(length) is not int:
        raise ECDHError(f"length: expected an int, not {type(length).__name__}")
    if not 1 <= length <= maximum:
        raise ECDHError(f"length: {length} bytes; it must be 1 to {maximum}")


def concat_kdf(
    z: bytes, *, length: int, hash_name: str = "SHA-256", other_info: bytes = b""
) -> bytes:
    """NIST SP 800-56C Rev. 2 §4.1 one-step key derivation with a hash (the "concatenation
    KDF" of SP 800-56A): ``K(i) = H(counter || Z || FixedInfo)``, counter a 32-bit
    big-endian integer from 1.

    Parameters
    ----------
    z
        The shared secret.
    length
        Bytes of keying material wanted: 1 to ``hash length × (2**32 - 1)`` (SP 800-56C
        Rev. 2 §4.1, L ≤ H_outputBits × (2^32 − 1)).
    hash_name
        ``"SHA-256"``, ``"SHA-384"`` or ``"SHA-512"``.
    other_info
        FixedInfo (SP 800-56A's OtherInfo), used as given.

    Returns
    -------
    bytes
        The derived keying material.

    Raises
    ------
    ECDHError
        For an empty or non-bytes ``z``, an unknown hash, a length out of range.

    Examples
    --------
    A single-step KDF vector (OpenSSL ``evpkdf_ss.txt``, SHA-256):

    >>> concat_kdf(bytes.fromhex("afc4e154498d4770aa8365f6903dc83b"), length=16,
    ...            other_info=bytes.fromhex("662af20379b29d5ef813e655")).hex()
    'f0b80d6ae4c1e19e2105a37024e35dc6'
    """
    _check_secret(z)
    algorithm = _hash(hash_name)
    _check_info(other_info, "other_info")
    _check_length(length, algorithm.digest_size * _MAX_BLOCKS)
    # The bytearray itself is handed on (cryptography reads any buffer): no copy of Z.
    return ConcatKDFHash(algorithm, length, bytes(other_info)).derive(z)


def x963_kdf(
    z: bytes, *, length: int, hash_name: str = "SHA-256", shared_info: bytes = b""
) -> bytes:
    """The ANSI X9.63 key derivation function (SEC 1 v2.0 §3.6.1):
    ``K(i) = H(Z || counter || SharedInfo)``, counter a 32-bit big-endian integer from 1.

    Parameters
    ----------
    z
        The shared secret.
    length
        Bytes of keying material wanted: 1 to ``hash length × (2**32 - 1) - 1`` (SEC 1
        §3.6.1 step 2: keydatalen < hashlen × (2^32 − 1)).
    hash_name
        ``"SHA-256"``, ``"SHA-384"`` or ``"SHA-512"``.
    shared_info
        SharedInfo, used as given.

    Returns
    -------
    bytes
        The derived keying material.

    Raises
    ------
    ECDHError
        For an empty or non-bytes ``z``, an unknown hash, a length out of range.

    Examples
    --------
    NIST CAVP, SP 800-135 component test ``ansx963_2001.rsp``, SHA-256, COUNT = 0:

    >>> x963_kdf(bytes.fromhex("96c05619d56c328ab95fe84b18264b08725b85e33fd34f08"),
    ...          length=16).hex()
    '443024c3dae66b95e6f5670601558f71'
    """
    _check_secret(z)
    algorithm = _hash(hash_name)
    _check_info(shared_info, "shared_info")
    _check_length(length, algorithm.digest_size * _MAX_BLOCKS - 1)
    return X963KDF(algorithm, length, bytes(shared_info)).derive(z)


# --- the KEK ---------------------------------------------------------------------------


def _odd_parity(byte: int) -> int:
    """``byte`` with its least significant bit set so that it has odd parity."""
    high = byte & 0xFE
    return high | (1 - high.bit_count() % 2)


def derive_kek(
    z: bytes, *, kdf: str, hash_name: str, shared_info: bytes, key_algorithm: str
) -> bytes:
    """A key-encryption key (the key block protection key of a TR-31 block) from an ECDH
    shared secret, as AWS Payment Cryptography derives it for ``DiffieHellmanTr31KeyBlock``.

    Parameters
    ----------
    z
        The ECDH shared secret (from ``shared_secret`` or an HSM): 32, 48 or 66 bytes, the
        length of Z on P-256, P-384 or P-521.
    kdf
        ``"NIST_SP800"`` (SP 800-56C Rev. 2 one-step, ``H(counter || Z || shared_info)``)
        or ``"ANSI_X963"`` (``H(Z || counter || shared_info)``).
    hash_name
        ``"SHA-256"``, ``"SHA-384"`` or ``"SHA-512"``.
    shared_info
        The shared information agreed with the partner, 1 to 1024 bytes (AWS's
        ``SharedInformation`` limits), hashed as given. AWS's documentation also says it
        "must not contain zero bytes"; 0x00 bytes are legal in SP 800-56C FixedInfo and
        X9.63 SharedInfo, so they are not refused here: avoid them with AWS.
    key_algorithm
        ``"AES-128"``, ``"AES-192"``, ``"AES-256"``, ``"TDES-2KEY"`` or ``"TDES-3KEY"``: the
        KEK's algorithm, which sets its length (16, 24, 32, 16, 24 bytes).

    Returns
    -------
    bytes
        The KEK. TDES KEKs have odd parity in every byte (see the module documentation).

    Raises
    ------
    ECDHError
        Naming the parameter that is wrong.

    Examples
    --------
    >>> z = bytes.fromhex("46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b")
    >>> x963_kdf(z, length=16, shared_info=b"KCW").hex().upper()
    'C897AEFB606B0E518473DA50D3FE8D61'
    >>> derive_kek(z, kdf="ANSI_X963", hash_name="SHA-256", shared_info=b"KCW",
    ...            key_algorithm="TDES-2KEY").hex().upper()
    'C897AEFB616B0E518573DA51D3FE8C61'
    """
    if kdf not in KDFS:
        raise ECDHError(f"kdf: {kdf!r} is not supported; use {' or '.join(KDFS)}")
    length = KEY_ALGORITHMS.get(key_algorithm) if isinstance(key_algorithm, str) else None
    if length is None:
        raise ECDHError(
            f"key_algorithm: {key_algorithm!r} is not supported; use one of "
            f"{', '.join(KEY_ALGORITHMS)}"
        )
    _check_secret(z)
    if len(z) not in _FIELD_BYTES.values():
        raise ECDHError(
            f"z: {len(z)} bytes; the shared secret of P-256, P-384 or P-521 is 32, 48 or 66 bytes"
        )
    _check_info(shared_info, "shared_info")
    if not 1 <= len(shared_info) <= MAX_SHARED_INFO:
        raise ECDHError(
            f"shared_info: {len(shared_info)} bytes; it must be 1 to {MAX_SHARED_INFO} bytes"
        )
    if kdf == "NIST_SP800":
        kek = concat_kdf(z, length=length, hash_name=hash_name, other_info=shared_info)
    else:
        kek = x963_kdf(z, length=length, hash_name=hash_name, shared_info=shared_info)
    if key_algorithm.startswith("TDES"):
        # FIPS 46-3: the low bit of each byte of a DES key is its odd parity bit.
        kek = bytes(_odd_parity(byte) for byte in kek)
    return kek
