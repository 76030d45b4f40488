"""ASC X9 TR-34: asymmetric transport of a key encryption key (2012 and 2019 editions).

TR-34 moves a symmetric key, usually the first key encryption key between two parties, from
a Key Distribution Host (KDH) to a Key Receiving Device (KRD) with RSA: the key travels in a
*KeyBlock* encrypted under a fresh content-encryption key (CEK), the CEK is encrypted to the
KRD's certificate with RSAES-OAEP, and the KDH signs the lot. This module does both roles:
:func:`build_key_token` (KDH) and :func:`open_key_token` (KRD), plus the certificates, the
credential token and the random number token around them.

The key token (KT_KDH, TR-34-2019 B.8 one-pass and B.9 two-pass) is CMS (RFC 5652)::

    ContentInfo(signedData)
      SignedData v1, digestAlgorithms {sha256}
        encapContentInfo: envelopedData, eContent = OCTET STRING holding
          EnvelopedData v0
            KeyTransRecipientInfo v0: the KRD's issuer and serial number,
              RSAES-OAEP (SHA-256, MGF1 with SHA-256, empty label), the encrypted CEK
            EncryptedContentInfo: id-data, des-ede3-cbc or aes128-cbc with its IV,
              the PKCS#7-padded KeyBlock
        certificates [0]: the KDH certificate (2019 tokens made here)   -- optional
        crls [1]: the CRL of the KDH's CA                                -- optional
        SignerInfo v1: the KDH's issuer and serial number, sha256, RSA PKCS#1 v1.5, with the
          signed attributes contentType (envelopedData), messageDigest (SHA-256 of eContent),
          the key block header (attribute type id-data, one OCTET STRING) and either the
          random nonce of the KRD (1.2.840.113549.1.9.25.3, two-pass) or signingTime
          (one-pass)

    KeyBlock ::= SEQUENCE { version INTEGER (1), idKDH IssuerAndSerialNumber,
                            clearKey OCTET STRING,
                            keyBlockHeader SEQUENCE { id-data, SET { OCTET STRING } } }

The key block header is a TR-31 header (16 characters and any optional blocks) whose
version and length fields TR-34 ignores; its algorithm (``T`` or ``A``) must fit the key.

**Editions.** Both share the KeyBlock, the attributes and the ciphers; they differ in how the
EnvelopedData is carried and how the OAEP parameters are written:

- ``"2019"`` (the TR-34-2019 Annex B samples): eContent holds a whole DER EnvelopedData.
  Tokens made here write the RSAES-OAEP parameters as RFC 8017 A.2.1 defines them
  (``[0]`` hash, ``[1]`` MGF, the empty label left to its DEFAULT), which CMS libraries
  (OpenSSL, BouncyCastle) parse, and carry the KDH certificate in ``certificates``.
- ``"2012"`` (the layout AWS Payment Cryptography names ``X9_TR34_2012``, as its published
  import and export samples build and parse it): eContent holds the *fields* of the
  EnvelopedData without its SEQUENCE header, the OAEP parameters are three untagged
  AlgorithmIdentifiers, the encrypted content ``[0]`` sits inside the content-encryption
  AlgorithmIdentifier after the IV (as in the TR-34 samples before the 2019 errata, the
  ``_BROKEN`` files), and no certificate is carried (the KDH certificate travels beside the
  token, as AWS's ``SigningKeyCertificate``).

On reception the edition is recognised from eContent (a whole SEQUENCE, or its fields
starting with the version INTEGER) and each layout is parsed as above, except that both
OAEP parameter encodings are accepted in both: the TR-34-2019 sample B.2.2.3.1 itself uses
the untagged form.

The signature is checked over the signed attributes as received (RFC 5652 5.4), not over a
DER re-sorting of them: sample B.9 and AWS list them out of DER order. Tokens made here sort
them, which every verifier accepts.

Not here: the binding, unbind and rebind tokens (TR-34-2019 B.6, B.10, B.11, B.13, B.14);
signer or recipient identified by subject key identifier; and the memory of a KRD: the
nonces it sent and the last signing time it accepted from each KDH are the caller's to keep
(``nonce`` and ``last_signing_time`` of :func:`open_key_token`).

A two-pass exchange, software keys standing in for the HSMs of the CA, the KDH and the KRD:

>>> import os
>>> from datetime import UTC, datetime
>>> from cryptography.hazmat.primitives import serialization
>>> from cryptography.hazmat.primitives.asymmetric import rsa
>>> ca_key, kdh_key, krd_key = (rsa.generate_private_key(public_exponent=65537, key_size=2048)
...                             for _ in range(3))
>>> def certificate(subject, key, usage, serial, issuer=None):
...     spki = key.public_key().public_bytes(
...         serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
...     return issue_certificate(
...         subject=subject, public_key=spki, issuer_certificate=issuer,
...         issuer_sign=signer_for(ca_key), serial=serial, ca=issuer is None,
...         not_before=datetime(2025, 1, 1, tzinfo=UTC), not_after=datetime(2035, 1, 1, tzinfo=UTC),
...         key_usage=frozenset(usage))
>>> ca = certificate("CN=Exchange CA,O=Bank", ca_key, {"key_cert_sign", "crl_sign"}, 1)
>>> kdh = certificate("CN=KDH,O=Bank", kdh_key, {"digital_signature"}, 2, ca)
>>> krd = certificate("CN=KRD,O=Partner", krd_key, {"key_encipherment"}, 3, ca)
>>> rt_krd = random_number_token(os.urandom(16))  # the KRD asks ...
>>> token = build_key_token(  # ... the KDH answers ...
...     key=bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"), header="A0256K0TB00E0000",
...     kdh_certificate=kdh, kdh_sign=signer_for(kdh_key), krd_certificate=krd,
...     nonce=read_random_number_token(rt_krd))
>>> received = open_key_token(  # ... and the KRD checks and unwraps
...     token, krd_decrypt=decryptor_for(krd_key), krd_certificate=krd, ca_certificates=[ca],
...     nonce=read_random_number_token(rt_krd), now=datetime(2026, 1, 1, tzinfo=UTC))
>>> received.key.hex().upper(), received.header, received.edition
('0123456789ABCDEFFEDCBA9876543210', 'A0256K0TB00E0000', '2019')

The random number token of TR-34-2019 B.12:

>>> token = random_number_token(bytes.fromhex("167EB0E72781E4940112233445566778"))
>>> token.hex().upper()  # TR-34-2019 B.12
'3020060A2A864886F70D0109190331120410167EB0E72781E4940112233445566778'
>>> read_random_number_token(token).hex().upper()
'167EB0E72781E4940112233445566778'
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from workstation.standards._primitives import (
    aes_cbc_decrypt,
    aes_cbc_encrypt,
    tdes_cbc_decrypt,
    tdes_cbc_encrypt,
)

__all__ = [
    "ContentCipher",
    "Decryptor",
    "Edition",
    "KeyBlock",
    "KeyTokenInfo",
    "ReceivedKey",
    "Signer",
    "TR34Error",
    "build_key_token",
    "credential_token",
    "decode_key_block",
    "decrypt_enveloped_data",
    "decryptor_for",
    "encode_key_block",
    "issue_certificate",
    "oaep_decode",
    "open_key_token",
    "random_number_token",
    "read_credential_token",
    "read_key_token",
    "read_random_number_token",
    "signer_for",
    "verify_certificate_chain",
    "verify_key_token_signature",
]

Edition = Literal["2012", "2019"]
ContentCipher = Literal["aes", "tdes"]
#: RSASSA-PKCS1-v1_5 with SHA-256 over the given bytes (the KDH's or a CA's private key).
Signer = Callable[[bytes], bytes]
#: RSAES-OAEP (SHA-256, MGF1-SHA-256, empty label) decryption with the KRD's private key.
#: It raises ``ValueError`` when the ciphertext does not decrypt.
Decryptor = Callable[[bytes], bytes]


class TR34Error(ValueError):
    """A TR-34 object, certificate or argument is refused; the message says which and why."""


# --- object identifiers ----------------------------------------------------------------------

_OID_DATA = "1.2.840.113549.1.7.1"
_OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_OID_ENVELOPED_DATA = "1.2.840.113549.1.7.3"
_OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
_OID_RANDOM_NONCE = "1.2.840.113549.1.9.25.3"  # PKCS#9 randomNonce (RFC 2985 5.6.4)
_OID_CMS_ALGORITHM_PROTECTION = "1.2.840.113549.1.9.52"  # RFC 6211, added by some CMS libraries
_OID_SHA256 = "2.16.840.1.101.3.4.2.1"
_OID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
_OID_SHA256_WITH_RSA = "1.2.840.113549.1.1.11"
_OID_RSAES_OAEP = "1.2.840.113549.1.1.7"
_OID_MGF1 = "1.2.840.113549.1.1.8"
_OID_P_SPECIFIED = "1.2.840.113549.1.1.9"
_OID_DES_EDE3_CBC = "1.2.840.113549.3.7"
_OID_AES128_CBC = "2.16.840.1.101.3.4.1.2"

# The key block header travels as an attribute whose type is id-data (TR-34-2019 B.2.2.2).
_OID_KEY_BLOCK_HEADER = _OID_DATA

_ATTRIBUTE_NAMES = {
    _OID_CONTENT_TYPE: "contentType",
    _OID_MESSAGE_DIGEST: "messageDigest",
    _OID_SIGNING_TIME: "signingTime",
    _OID_RANDOM_NONCE: "randomNonce",
    _OID_KEY_BLOCK_HEADER: "key block header",
    _OID_CMS_ALGORITHM_PROTECTION: "cmsAlgorithmProtection",
}

# content cipher: (OID, name, CEK length, block / IV length)
_CIPHERS: dict[str, tuple[str, str, int, int]] = {
    "tdes": (_OID_DES_EDE3_CBC, "des-ede3-cbc", 24, 8),
    "aes": (_OID_AES128_CBC, "aes128-cbc", 16, 16),
}
_CIPHER_BY_OID = {oid: name for name, (oid, _, _, _) in _CIPHERS.items()}

# RSAES-OAEP parameters for SHA-256, MGF1-SHA-256 and the empty label, as each edition writes
# them. 2019: RFC 8017 A.2.1 RSAES-OAEP-params with the hash AlgorithmIdentifiers carrying
# NULL (RFC 4055 2.1) and pSourceAlgorithm left to its DEFAULT. 2012: the untagged form of
# AWS Payment Cryptography's X9_TR34_2012 tokens (and of the TR-34-2019 sample B.2.2.3.1).
_OAEP_PARAMS: dict[str, bytes] = {
    "2019": bytes.fromhex(
        "302f"
        "a00f300d06096086480165030402010500"
        "a11c301a06092a864886f70d010108300d06096086480165030402010500"
    ),
    "2012": bytes.fromhex(
        "3038"
        "300d06096086480165030402010500"
        "301806092a864886f70d010108300b0609608648016503040201"
        "300d06092a864886f70d0101090400"
    ),
}

# SignerInfo signatureAlgorithm: rsaEncryption (the TR-34 samples, AWS) or
# sha256WithRSAEncryption (RFC 5754 3.2 allows either with SHA-256).
_SIGNATURE_OIDS = (_OID_RSA_ENCRYPTION, _OID_SHA256_WITH_RSA)
# RFC 4055 2.1 / RFC 5754 2: NULL and absent parameters are equivalent and both accepted.
_NULL_OR_ABSENT = (None, b"\x05\x00")

_NONCE_MIN, _NONCE_MAX = 8, 64
_MIN_RSA_BITS = 2048  # TR-34: RSA keys of at least 2048 bits
_CLOCK_SKEW = timedelta(minutes=5)  # a KDH clock this far ahead of ours is tolerated
_MAX_DEPTH = 32

_KEY_USAGES = frozenset(
    {
        "digital_signature",
        "non_repudiation",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    }
)
_OID_BASIC_CONSTRAINTS = "2.5.29.19"
_OID_KEY_USAGE = "2.5.29.15"
_OID_SUBJECT_KEY_ID = "2.5.29.14"
# Extensions whose presence, critical or not, changes nothing this module decides.
_UNDERSTOOD_EXTENSIONS = frozenset(
    {
        _OID_BASIC_CONSTRAINTS,
        _OID_KEY_USAGE,
        _OID_SUBJECT_KEY_ID,
        "2.5.29.35",  # authorityKeyIdentifier
        "2.5.29.17",  # subjectAltName
        "2.5.29.31",  # cRLDistributionPoints
        "2.5.29.32",  # certificatePolicies
        "2.5.29.37",  # extKeyUsage
        "1.3.6.1.5.5.7.1.1",  # authorityInfoAccess
    }
)


# --- ASN.1 structures (RFC 5652 and TR-34-2019 B.2.2), kept to what TR-34 uses ------------


class _AlgorithmIdentifier(asn1.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("algorithm", asn1.ObjectIdentifier),
        ("parameters", asn1.Any, {"optional": True}),
    ]


class _AlgorithmIdentifiers(asn1.SetOf):  # type: ignore[misc]
    _child_spec = _AlgorithmIdentifier


class _AttributeValues(asn1.SetOf):  # type: ignore[misc]
    _child_spec = asn1.Any


class _Attribute(asn1.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [("type", asn1.ObjectIdentifier), ("values", _AttributeValues)]


class _Attributes(asn1.SetOf):  # type: ignore[misc]
    _child_spec = _Attribute


class _AnySet(asn1.SetOf):  # type: ignore[misc]
    """Certificates and CRLs, kept as DER for cryptography to parse."""

    _child_spec = asn1.Any


class _SignerInfo(asn1.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("version", asn1.Integer),
        ("sid", asn1_cms.IssuerAndSerialNumber),
        ("digest_algorithm", _AlgorithmIdentifier),
        ("signed_attrs", _Attributes, {"implicit": 0, "optional": True}),
        ("signature_algorithm", _AlgorithmIdentifier),
        ("signature", asn1.OctetString),
        ("unsigned_attrs", _Attributes, {"implicit": 1, "optional": True}),
    ]


class _SignerInfos(asn1.SetOf):  # type: ignore[misc]
    _child_spec = _SignerInfo


class _EncapsulatedContentInfo(asn1.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("content_type", asn1.ObjectIdentifier),
        ("content", asn1.OctetString, {"explicit": 0, "optional": True}),
    ]


class _SignedData(asn1.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("version", asn1.Integer),
        ("digest_algorithms", _AlgorithmIdentifiers),
        ("encap_content_info", _EncapsulatedContentInfo),
        ("certificates", _AnySet, {"implicit": 0, "optional": True}),
        ("crls", _AnySet, {"implicit": 1, "optional": True}),
        ("signer_infos", _SignerInfos),
    ]


class _ContentInfo(asn1.Sequence):  # type: ignore[misc]
    """Only to read the content type before the content is parsed."""

    _fields: ClassVar[list[Any]] = [("content_type", asn1.ObjectIdentifier), ("content", asn1.Any)]


class _SignedContentInfo(asn1.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("content_type", asn1.ObjectIdentifier),
        ("content", _SignedData, {"explicit": 0}),
    ]


class _KeyTransRecipientInfo(asn1.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("version", asn1.Integer),
        ("rid", asn1_cms.IssuerAndSerialNumber),
        ("key_encryption_algorithm", _AlgorithmIdentifier),
        ("encrypted_key", asn1.OctetString),
    ]


class _RecipientInfos(asn1.SetOf):  # type: ignore[misc]
    _child_spec = _KeyTransRecipientInfo


class _EncryptedContentInfo(asn1.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("content_type", asn1.ObjectIdentifier),
        ("content_encryption_algorithm", _AlgorithmIdentifier),
        ("encrypted_content", asn1.OctetString, {"implicit": 0, "optional": True}),
    ]


class _EnvelopedData(asn1.Sequence):  # type: ignore[misc]
    # originatorInfo and unprotectedAttrs are not part of a TR-34 token: a token with them
    # does not parse.
    _fields: ClassVar[list[Any]] = [
        ("version", asn1.Integer),
        ("recipient_infos", _RecipientInfos),
        ("encrypted_content_info", _EncryptedContentInfo),
    ]


class _ContentAlgorithm2012(asn1.Sequence):  # type: ignore[misc]
    """The 2012 layout (AWS X9_TR34_2012; the TR-34 samples as first printed): the encrypted
    content sits inside the content-encryption AlgorithmIdentifier, after the IV."""

    _fields: ClassVar[list[Any]] = [
        ("algorithm", asn1.ObjectIdentifier),
        ("parameters", asn1.OctetString),
        ("encrypted_content", asn1.OctetString, {"implicit": 0}),
    ]


class _EncryptedContentInfo2012(asn1.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("content_type", asn1.ObjectIdentifier),
        ("content_encryption_algorithm", _ContentAlgorithm2012),
    ]


class _EnvelopedData2012(asn1.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("version", asn1.Integer),
        ("recipient_infos", _RecipientInfos),
        ("encrypted_content_info", _EncryptedContentInfo2012),
    ]


class _KeyBlock(asn1.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("version", asn1.Integer),
        ("id_kdh", asn1_cms.IssuerAndSerialNumber),
        ("clear_key", asn1.OctetString),
        ("header", _Attribute),
    ]


# --- strict DER --------------------------------------------------------------------------------


def _read_tlv(data: bytes, pos: int, end: int, what: str) -> tuple[int, int, int]:
    """One DER TLV at ``pos``: (identifier octet, content start, content end)."""
    if pos >= end:
        raise TR34Error(f"{what} is truncated")
    identifier = data[pos]
    pos += 1
    if identifier & 0x1F == 0x1F:  # high tag number form (X.690 8.1.2.4)
        if pos >= end or data[pos] == 0x80:
            raise TR34Error(f"{what} is not DER: bad tag number")
        for _ in range(4):
            if pos >= end:
                raise TR34Error(f"{what} is truncated")
            more = data[pos] & 0x80
            pos += 1
            if not more:
                break
        else:
            raise TR34Error(f"{what} is not DER: tag number too large")
    if pos >= end:
        raise TR34Error(f"{what} is truncated")
    first = data[pos]
    pos += 1
    if first == 0x80:
        raise TR34Error(f"{what} is not DER: indefinite length")
    if first & 0x80:
        count = first & 0x7F
        if count > 4:
            raise TR34Error(f"{what} is not DER: length too large")
        if pos + count > end:
            raise TR34Error(f"{what} is truncated")
        length = int.from_bytes(data[pos : pos + count], "big")
        if data[pos] == 0 or length < 0x80:  # X.690 10.1: the shortest form
            raise TR34Error(f"{what} is not DER: length not in its shortest form")
        pos += count
    else:
        length = first
    if pos + length > end:
        raise TR34Error(f"{what} is truncated")
    return identifier, pos, pos + length


def _walk_der(data: bytes, start: int, end: int, depth: int, what: str) -> None:
    pos = start
    while pos < end:
        identifier, content, content_end = _read_tlv(data, pos, end, what)
        constructed = bool(identifier & 0x20)
        universal = identifier & 0xC0 == 0
        if universal and constructed and identifier & 0x1F not in (0x10, 0x11):
            raise TR34Error(f"{what} is not DER: constructed string")
        if constructed:
            if depth >= _MAX_DEPTH:
                raise TR34Error(f"{what} is nested too deeply")
            _walk_der(data, content, content_end, depth + 1, what)
        pos = content_end


def _check_der(data: bytes, what: str) -> None:
    """Refuse anything but one DER value: definite, shortest lengths and nothing after it."""
    if not isinstance(data, bytes | bytearray):
        raise TR34Error(f"{what} must be bytes")
    data = bytes(data)
    _, _, end = _read_tlv(data, 0, len(data), what)
    if end != len(data):
        raise TR34Error(f"{what} has data after its DER value")
    _walk_der(data, 0, end, 0, what)


def _split(contents: bytes, what: str) -> list[bytes]:
    """The DER values, one after another, in ``contents``."""
    items = []
    pos = 0
    while pos < len(contents):
        _, _, end = _read_tlv(contents, pos, len(contents), what)
        items.append(contents[pos:end])
        pos = end
    return items


def _elements(collection: Any, what: str) -> list[bytes]:
    """The DER elements of a parsed SET OF / SEQUENCE OF as received (none when absent).

    Taken from the raw contents: asn1crypto's ``Any.dump()`` would parse each element
    generically first, and that fails on certificates."""
    if isinstance(collection, asn1.Void):
        return []
    return _split(collection.contents, what)


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


# asn1crypto parses lazily and reports malformed input with these exception types.
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)


@contextmanager
def _parsing(what: str) -> Iterator[None]:
    try:
        yield
    except TR34Error:
        raise
    except _PARSE_ERRORS as exc:
        raise TR34Error(f"{what} is malformed") from exc


def _load(spec: Any, data: bytes, what: str, *, whole: bool = True) -> Any:
    """Parse strict DER with asn1crypto; ``whole`` parses every field at once, so that a
    malformed part is reported here rather than where it is first used."""
    _check_der(data, what)
    with _parsing(what):
        value = spec.load(bytes(data), strict=True)
        if whole:
            _parse_all(value, what)
    return value


def _parse_all(value: Any, what: str) -> None:
    """Make asn1crypto parse every field; values kept as Any (certificates, CRLs, attribute
    values) stay raw DER for their own parsers."""
    if isinstance(value, asn1.Any | asn1.Void):
        return
    if isinstance(value, asn1.SequenceOf):
        for child in value:
            _parse_all(child, what)
    elif isinstance(value, asn1.Sequence):
        for name, *_ in value._fields:
            _parse_all(value[name], what)
        # asn1crypto keeps elements beyond the last field instead of refusing them
        if len(value) > len(value._fields):
            structure = type(value).__name__.strip("_")
            raise TR34Error(f"{what}: {structure} has more fields than it defines")
    else:
        value.native  # noqa: B018


def _utc(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise TR34Error(f"{what} must be a timezone-aware datetime")
    return moment.astimezone(UTC)


def _show(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- RSAES-OAEP decoding (RFC 8017 7.1.2) ------------------------------------------------------

_OAEP_HASHES = frozenset({"sha1", "sha224", "sha256", "sha384", "sha512"})
_OAEP_FAILED = "RSAES-OAEP decoding failed"


def _mgf1(seed: bytes | bytearray, length: int, hash_name: str) -> bytearray:
    """MGF1 (RFC 8017 B.2.1)."""
    mask = bytearray()
    counter = 0
    while len(mask) < length:
        mask += hashlib.new(hash_name, bytes(seed) + counter.to_bytes(4, "big")).digest()
        counter += 1
    del mask[length:]
    return mask


def oaep_decode(
    encoded: bytes | bytearray, *, hash_name: str = "sha256", label: bytes = b""
) -> bytes:
    """The message inside an EME-OAEP encoded block (RFC 8017 section 7.1.2, step 3).

    For HSMs that decrypt RSA only raw (``CKM_RSA_X_509``: SoftHSM 2.6 does OAEP with SHA-1
    only): the HSM computes ``c^d mod n`` and this decodes the result in software. MGF1 uses
    the same hash as the label hash, as TR-34 does.

    Parameters
    ----------
    encoded : bytes or bytearray
        The raw RSA output as a block of the modulus length *k* (leading zero included).
    hash_name : str
        ``"sha256"`` (TR-34), or ``"sha1"``, ``"sha224"``, ``"sha384"``, ``"sha512"``.
    label : bytes
        The OAEP label; TR-34 uses the empty label.

    Returns
    -------
    bytes
        The message (for TR-34 the content-encryption key).

    Raises
    ------
    TR34Error
        With the one message ``"RSAES-OAEP decoding failed"`` for every defect of the block, so
        that an oracle learns nothing from the reason (RFC 8017 7.1.2 note; Manger's attack).
        The checks run over the whole block without a data-dependent branch or early exit.

    Examples
    --------
    >>> from cryptography.hazmat.primitives import hashes
    >>> from cryptography.hazmat.primitives.asymmetric import padding, rsa
    >>> private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    >>> oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    >>> ciphertext = private.public_key().encrypt(b"sixteen byte key", oaep)
    >>> n, d = private.public_key().public_numbers().n, private.private_numbers().d
    >>> raw = pow(int.from_bytes(ciphertext, "big"), d, n).to_bytes(256, "big")  # the HSM part
    >>> oaep_decode(raw)
    b'sixteen byte key'
    """
    if hash_name not in _OAEP_HASHES:
        raise TR34Error(f"hash_name must be one of {', '.join(sorted(_OAEP_HASHES))}")
    if not isinstance(encoded, bytes | bytearray) or not isinstance(label, bytes):
        raise TR34Error("encoded and label must be bytes")
    h_len = hashlib.new(hash_name).digest_size
    k = len(encoded)
    if k < 2 * h_len + 2:
        raise TR34Error(_OAEP_FAILED)
    # EM = Y || maskedSeed || maskedDB; every buffer below is wiped on the way out.
    seed = bytearray(encoded[1 : 1 + h_len])
    db = bytearray(encoded[1 + h_len :])
    seed_mask = db_mask = bytearray()
    try:
        seed_mask = _mgf1(db, h_len, hash_name)
        for i, value in enumerate(seed_mask):
            seed[i] ^= value
        db_mask = _mgf1(seed, k - h_len - 1, hash_name)
        for i, value in enumerate(db_mask):
            db[i] ^= value
        # DB = lHash' || PS (zero octets) || 0x01 || M. The checks are arithmetic on 0/1
        # flags over the whole block: neither time nor path depends on where it is wrong.
        good = int(hmac.compare_digest(bytes(db[:h_len]), hashlib.new(hash_name, label).digest()))
        good &= int(encoded[0] == 0)
        looking = 1  # still in PS
        separator = 0  # index of the 0x01 octet
        bad_octet = 0
        for i in range(h_len, len(db)):
            is_one = int(db[i] == 1)
            is_zero = int(db[i] == 0)
            separator |= i * (looking & is_one)
            bad_octet |= looking & (1 - is_one) & (1 - is_zero)
            looking &= 1 - is_one
        good &= (1 - bad_octet) & (1 - looking)
        if not good:
            raise TR34Error(_OAEP_FAILED)
        return bytes(db[separator + 1 :])
    finally:
        for buffer in (seed, db, seed_mask, db_mask):
            buffer[:] = bytes(len(buffer))


def signer_for(private_key: rsa.RSAPrivateKey) -> Signer:
    """A :data:`Signer` from a software RSA key (tests, tools; production keys stay in an HSM).

    Examples
    --------
    >>> from cryptography.hazmat.primitives.asymmetric import rsa
    >>> sign = signer_for(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    >>> len(sign(b"message"))
    256
    """
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise TR34Error("private_key must be an RSA private key")

    def sign(message: bytes) -> bytes:
        return private_key.sign(bytes(message), padding.PKCS1v15(), hashes.SHA256())

    return sign


def decryptor_for(private_key: rsa.RSAPrivateKey) -> Decryptor:
    """A :data:`Decryptor` from a software RSA key (RSAES-OAEP, SHA-256, MGF1-SHA-256).

    It raises ``ValueError`` when a ciphertext does not decrypt, as :data:`Decryptor` asks.
    """
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise TR34Error("private_key must be an RSA private key")
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)

    def decrypt(ciphertext: bytes) -> bytes:
        return private_key.decrypt(bytes(ciphertext), oaep)

    return decrypt


# --- certificates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Certificate:
    der: bytes
    cert: x509.Certificate
    subject_name: x509.Name
    issuer_name: x509.Name
    subject: str  # RFC 4514, for messages
    issuer: str
    issuer_and_serial: bytes  # DER IssuerAndSerialNumber (RFC 5652 10.2.4)
    key_usage: frozenset[str] | None  # None: no keyUsage extension
    is_ca: bool
    subject_key_id: bytes | None


def _load_certificate(der: bytes, role: str) -> _Certificate:
    """Parse a certificate; extensions are read with asn1crypto, which (unlike cryptography)
    lets an extension repeated with the same value through: the TR-34-2019 sample KDH 1
    certificate (B.2.1.5) repeats basicConstraints and keyUsage."""
    if not isinstance(der, bytes | bytearray):
        raise TR34Error(f"{role} must be DER bytes")
    der = bytes(der)
    try:
        cert = x509.load_der_x509_certificate(der)
        subject_name, issuer_name = cert.subject, cert.issuer
        subject, issuer = subject_name.rfc4514_string(), issuer_name.rfc4514_string()
    except ValueError as exc:
        raise TR34Error(f"{role} is not a DER X.509 certificate") from exc
    with _parsing(role):
        parsed = asn1_x509.Certificate.load(der, strict=True)
        tbs = parsed["tbs_certificate"]
        issuer_and_serial = asn1_cms.IssuerAndSerialNumber(
            {"issuer": tbs["issuer"], "serial_number": tbs["serial_number"]}
        ).dump()
        seen: dict[str, bytes] = {}
        values: dict[str, Any] = {}
        for extension in tbs["extensions"]:
            oid = extension["extn_id"].dotted
            encoded = extension.dump()
            if oid in seen:
                if seen[oid] != encoded:
                    raise TR34Error(f"{role} has two different {oid} extensions")
                continue
            seen[oid] = encoded
            if extension["critical"].native and oid not in _UNDERSTOOD_EXTENSIONS:
                raise TR34Error(f"{role} has an unrecognised critical extension {oid}")
            if oid in (_OID_BASIC_CONSTRAINTS, _OID_KEY_USAGE, _OID_SUBJECT_KEY_ID):
                values[oid] = extension["extn_value"].parsed.native
    usage = values.get(_OID_KEY_USAGE)
    constraints = values.get(_OID_BASIC_CONSTRAINTS)
    return _Certificate(
        der=der,
        cert=cert,
        subject_name=subject_name,
        issuer_name=issuer_name,
        subject=subject,
        issuer=issuer,
        issuer_and_serial=issuer_and_serial,
        key_usage=None if usage is None else frozenset(usage),
        is_ca=bool(constraints and constraints.get("ca")),
        subject_key_id=values.get(_OID_SUBJECT_KEY_ID),
    )


def _rsa_public_key(certificate: _Certificate, role: str) -> rsa.RSAPublicKey:
    try:
        key = certificate.cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TR34Error(f"{role} public key cannot be read") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise TR34Error(f"{role} key is not RSA")
    if key.key_size < _MIN_RSA_BITS:
        raise TR34Error(f"{role} key is {key.key_size} bits; TR-34 needs at least {_MIN_RSA_BITS}")
    return key


def _check_dates(certificate: _Certificate, now: datetime, role: str) -> None:
    cert = certificate.cert
    if now < cert.not_valid_before_utc:
        raise TR34Error(f"{role} is not yet valid (not before {_show(cert.not_valid_before_utc)})")
    if now > cert.not_valid_after_utc:
        raise TR34Error(f"{role} has expired (not after {_show(cert.not_valid_after_utc)})")


def _issuer_of(certificate: _Certificate, cas: list[_Certificate], role: str) -> _Certificate:
    named = [ca for ca in cas if ca.subject_name == certificate.issuer_name]
    if not named:
        raise TR34Error(
            f"{role} is not issued by any of the given CA certificates "
            f"(issuer {certificate.issuer})"
        )
    for ca in named:
        try:
            certificate.cert.verify_directly_issued_by(ca.cert)
        except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
            continue
        return ca
    raise TR34Error(f"{role} signature does not verify with the CA certificate {named[0].subject}")


def _check_revocation(
    certificate: _Certificate, ca: _Certificate, crls: Sequence[bytes], now: datetime, role: str
) -> None:
    for der in crls:
        crl = _load_crl(der, "CRL")
        try:
            if crl.issuer != ca.subject_name:
                continue  # about another CA
            this_update, next_update = crl.last_update_utc, crl.next_update_utc
            listed = crl.get_revoked_certificate_by_serial_number(certificate.cert.serial_number)
        except ValueError as exc:
            raise TR34Error("CRL is not a DER X.509 CRL") from exc
        issuer = ca.subject
        if ca.key_usage is not None and "crl_sign" not in ca.key_usage:
            raise TR34Error(f"CA certificate {issuer} may not sign CRLs (keyUsage lacks crl_sign)")
        try:
            signed = crl.is_signature_valid(ca.cert.public_key())  # type: ignore[arg-type]
        except (TypeError, ValueError, UnsupportedAlgorithm):
            signed = False
        if not signed:
            raise TR34Error(f"CRL of {issuer} has a bad signature")
        if now < this_update:
            raise TR34Error(f"CRL of {issuer} is not yet valid (this update {_show(this_update)})")
        if next_update is not None and now > next_update:
            raise TR34Error(f"CRL of {issuer} is out of date (next update {_show(next_update)})")
        if listed is not None:
            serial = certificate.cert.serial_number
            raise TR34Error(f"{role} is revoked (serial {serial:X} is in the CRL of {issuer})")


def _load_crl(der: bytes, what: str) -> x509.CertificateRevocationList:
    if not isinstance(der, bytes | bytearray):
        raise TR34Error(f"{what} must be DER bytes")
    try:
        crl = x509.load_der_x509_crl(bytes(der))
        crl.issuer  # noqa: B018 - read now: a malformed name is refused here
    except ValueError as exc:
        raise TR34Error(f"{what} is not a DER X.509 CRL") from exc
    return crl


def _verify_chain(
    certificate: _Certificate,
    ca_certificates: Sequence[bytes],
    crls: Sequence[bytes],
    now: datetime,
    usage: str,
    role: str,
) -> _Certificate:
    """Check ``certificate`` against the trust anchors; return the CA that issued it."""
    if usage not in _KEY_USAGES:
        raise TR34Error(f"usage must be one of {', '.join(sorted(_KEY_USAGES))}, not {usage!r}")
    if isinstance(ca_certificates, bytes | bytearray):
        raise TR34Error("ca_certificates must be a sequence of DER certificates")
    if isinstance(crls, bytes | bytearray):
        raise TR34Error("crls must be a sequence of DER CRLs")
    cas = [_load_certificate(der, "CA certificate") for der in ca_certificates]
    if not cas:
        raise TR34Error("ca_certificates is empty: name the CA that issued the certificate")
    _check_dates(certificate, now, role)
    ca = _issuer_of(certificate, cas, role)
    ca_role = f"CA certificate {ca.subject}"
    if not ca.is_ca:
        raise TR34Error(f"{ca_role} is not a CA (basicConstraints cA is not set)")
    if ca.key_usage is not None and "key_cert_sign" not in ca.key_usage:
        raise TR34Error(f"{ca_role} may not sign certificates (keyUsage lacks key_cert_sign)")
    _check_dates(ca, now, ca_role)
    if certificate.key_usage is None:
        raise TR34Error(f"{role} has no keyUsage extension")
    if usage not in certificate.key_usage:
        raise TR34Error(f"{role} key usage does not include {usage}")
    _check_revocation(certificate, ca, crls, now, role)
    return ca


def verify_certificate_chain(
    certificate: bytes,
    *,
    ca_certificates: Sequence[bytes],
    crls: Sequence[bytes] = (),
    now: datetime,
    usage: str,
) -> None:
    """Check that ``certificate`` was issued by one of ``ca_certificates`` and may be used.

    The given CA certificates are trust anchors: one of them must have issued the
    certificate directly (its subject is the issuer, and its key verifies the signature).
    Checked, each with its own message: the certificate's and the CA's validity at ``now``,
    basicConstraints cA (and keyCertSign when the CA has a keyUsage extension), the
    certificate's keyUsage including ``usage``, and every CRL in ``crls`` issued by that CA:
    its signature by the CA (and cRLSign), its dates at ``now``, and the certificate's
    serial number not listed. CRLs of other CAs are ignored; with no CRL of the issuing CA
    there is no revocation check.

    Parameters
    ----------
    certificate : bytes
        DER X.509 certificate.
    ca_certificates : sequence of bytes
        DER certificates of the trusted CAs.
    crls : sequence of bytes
        DER CRLs.
    now : datetime
        The time of the check (timezone-aware).
    usage : str
        The keyUsage the certificate must allow: ``"digital_signature"`` for a KDH,
        ``"key_encipherment"`` for a KRD (names as in asn1crypto and RFC 5280 4.2.1.3).

    Raises
    ------
    TR34Error
        If any check fails.
    """
    moment = _utc(now, "now")
    _verify_chain(
        _load_certificate(certificate, "certificate"),
        ca_certificates,
        crls,
        moment,
        usage,
        "certificate",
    )


_NAME_TYPES = {
    "CN": "common_name",
    "O": "organization_name",
    "OU": "organizational_unit_name",
    "C": "country_name",
    "L": "locality_name",
    "ST": "state_or_province_name",
    "SERIALNUMBER": "serial_number",
}
_PRINTABLE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")


def _parse_name(text: str) -> Any:
    """An X.501 Name from an RFC 4514-style string (``"CN=KCW KRD,O=Bank,C=US"``)."""
    if not isinstance(text, str) or not text.strip():
        raise TR34Error("subject must be a non-empty string like 'CN=KCW KRD,O=Bank'")
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        elif char == "+":
            raise TR34Error("subject: multi-valued RDNs ('+') are not supported")
        else:
            current.append(char)
    if escaped:
        raise TR34Error("subject ends with a lone backslash")
    parts.append("".join(current))
    rdns = []
    # RFC 4514 writes the most specific RDN first; the DER Name lists it last.
    for part in reversed(parts):
        key, equals, value = part.partition("=")
        key, value = key.strip().upper(), value.strip()
        if not equals or key not in _NAME_TYPES:
            raise TR34Error(
                f"subject: {part.strip()!r} is not TYPE=value with TYPE one of "
                f"{', '.join(_NAME_TYPES)}"
            )
        if not value:
            raise TR34Error(f"subject: {key} is empty")
        name_type = _NAME_TYPES[key]
        if name_type == "country_name" and (len(value) != 2 or not value.isalpha()):
            raise TR34Error("subject: C must be a two-letter country code")
        printable = set(value) <= _PRINTABLE
        if name_type in ("country_name", "serial_number") and not printable:
            raise TR34Error(f"subject: {key} must be printable ASCII")
        encoding = "printable_string" if printable else "utf8_string"
        rdns.append(
            asn1_x509.RelativeDistinguishedName(
                [
                    asn1_x509.NameTypeAndValue(
                        {
                            "type": name_type,
                            "value": asn1_x509.DirectoryString(name=encoding, value=value),
                        }
                    )
                ]
            )
        )
    return asn1_x509.Name(name="", value=asn1_x509.RDNSequence(rdns))


def _time(moment: datetime) -> Any:
    # RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds.
    moment = moment.replace(microsecond=0)
    if moment.year < 2050:
        return asn1_x509.Time(name="utc_time", value=moment)
    return asn1_x509.Time(name="general_time", value=moment)


def issue_certificate(
    *,
    subject: str,
    public_key: bytes,
    issuer_certificate: bytes | None,
    issuer_sign: Signer,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
    key_usage: frozenset[str],
) -> bytes:
    """A DER X.509 v3 certificate signed with sha256WithRSAEncryption.

    Extensions: basicConstraints (critical), keyUsage (critical), subjectKeyIdentifier
    (RFC 5280 4.2.1.2 method 1) and authorityKeyIdentifier. The signature made by
    ``issuer_sign`` is verified before the certificate is returned.

    Parameters
    ----------
    subject : str
        RFC 4514 style, most specific first: ``"CN=KCW KRD,O=Bank,C=US"``. Types CN, O, OU,
        C, L, ST, SERIALNUMBER; ``\\`` escapes a character.
    public_key : bytes
        The subject's DER SubjectPublicKeyInfo (RSA of at least 2048 bits, or EC).
    issuer_certificate : bytes or None
        The CA certificate (DER); None for a self-signed certificate, whose ``public_key``
        must then be the RSA key behind ``issuer_sign``.
    issuer_sign : Signer
        RSASSA-PKCS1-v1_5 with SHA-256 by the issuer's private key.
    serial : int
        Positive, at most 20 octets (RFC 5280 4.1.2.2).
    not_before, not_after : datetime
        Timezone-aware validity period.
    ca : bool
        basicConstraints cA; a CA certificate needs ``key_cert_sign`` in ``key_usage``.
    key_usage : frozenset of str
        Names from ``digital_signature``, ``non_repudiation``, ``key_encipherment``,
        ``data_encipherment``, ``key_agreement``, ``key_cert_sign``, ``crl_sign``,
        ``encipher_only``, ``decipher_only``.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from cryptography import x509
    >>> from cryptography.hazmat.primitives import serialization
    >>> from cryptography.hazmat.primitives.asymmetric import rsa
    >>> key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    >>> spki = key.public_key().public_bytes(
    ...     serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    >>> der = issue_certificate(
    ...     subject="CN=KCW Root,O=Bank", public_key=spki, issuer_certificate=None,
    ...     issuer_sign=signer_for(key), serial=1, not_before=datetime(2025, 1, 1, tzinfo=UTC),
    ...     not_after=datetime(2035, 1, 1, tzinfo=UTC), ca=True,
    ...     key_usage=frozenset({"key_cert_sign", "crl_sign"}))
    >>> x509.load_der_x509_certificate(der).subject.rfc4514_string()
    'CN=KCW Root,O=Bank'
    """
    subject_name = _parse_name(subject)
    if not isinstance(serial, int) or isinstance(serial, bool) or serial <= 0:
        raise TR34Error("serial must be a positive integer")
    if serial.bit_length() > 159:  # 20 octets, positive
        raise TR34Error("serial must fit in 20 octets (RFC 5280 4.1.2.2)")
    start, end = _utc(not_before, "not_before"), _utc(not_after, "not_after")
    if end <= start:
        raise TR34Error("not_after must be later than not_before")
    usages = frozenset(key_usage)
    unknown = usages - _KEY_USAGES
    if not usages or unknown:
        raise TR34Error(
            f"key_usage must name one or more of {', '.join(sorted(_KEY_USAGES))}"
            + (f" (not {', '.join(sorted(unknown))})" if unknown else "")
        )
    if ca != ("key_cert_sign" in usages):
        raise TR34Error("key_cert_sign belongs in key_usage exactly when ca is true")
    if not isinstance(public_key, bytes | bytearray):
        raise TR34Error("public_key must be a DER SubjectPublicKeyInfo")
    try:
        subject_key = load_der_public_key(bytes(public_key))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TR34Error("public_key is not a DER SubjectPublicKeyInfo") from exc
    if isinstance(subject_key, rsa.RSAPublicKey) and subject_key.key_size < _MIN_RSA_BITS:
        raise TR34Error(f"public_key is {subject_key.key_size} bits; at least {_MIN_RSA_BITS}")
    with _parsing("public_key"):
        spki = asn1_x509.PublicKeyInfo.load(bytes(public_key), strict=True)
        key_id = hashlib.sha1(spki["public_key"].contents[1:], usedforsecurity=False).digest()

    if issuer_certificate is None:
        if not isinstance(subject_key, rsa.RSAPublicKey):
            raise TR34Error("a self-signed certificate needs an RSA public_key")
        verify_key: rsa.RSAPublicKey = subject_key
        issuer_name = subject_name
        authority_key_id: bytes | None = key_id
    else:
        issuer = _load_certificate(issuer_certificate, "issuer_certificate")
        if not issuer.is_ca:
            raise TR34Error("issuer_certificate is not a CA (basicConstraints cA is not set)")
        if issuer.key_usage is not None and "key_cert_sign" not in issuer.key_usage:
            raise TR34Error("issuer_certificate may not sign certificates (no key_cert_sign)")
        verify_key = _rsa_public_key(issuer, "issuer_certificate")
        with _parsing("issuer_certificate"):
            issuer_name = asn1_x509.Certificate.load(issuer.der)["tbs_certificate"]["subject"]
        authority_key_id = issuer.subject_key_id

    extensions: list[dict[str, Any]] = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
        {"extn_id": "key_usage", "critical": True, "extn_value": set(usages)},
        {"extn_id": "key_identifier", "critical": False, "extn_value": key_id},
    ]
    if authority_key_id is not None:
        extensions.append(
            {
                "extn_id": "authority_key_identifier",
                "critical": False,
                "extn_value": {"key_identifier": authority_key_id},
            }
        )
    signature_algorithm = {"algorithm": "sha256_rsa", "parameters": asn1.Null()}
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": signature_algorithm,
            "issuer": issuer_name,
            "validity": {"not_before": _time(start), "not_after": _time(end)},
            "subject": subject_name,
            "subject_public_key_info": spki,
            "extensions": extensions,
        }
    )
    tbs_der = tbs.dump()
    signature = issuer_sign(tbs_der)
    try:
        verify_key.verify(bytes(signature), tbs_der, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, TypeError, ValueError) as exc:
        raise TR34Error("issuer_sign's signature does not verify with the issuer's key") from exc
    certificate = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": signature_algorithm,
            "signature_value": bytes(signature),
        }
    )
    return bytes(certificate.dump())


# --- credential and random number tokens -------------------------------------------------------


def credential_token(krd_certificate: bytes) -> bytes:
    """The KRD credential token CT_KRD: a degenerate SignedData carrying the KRD certificate.

    As TR-34-2019 B.7: no signer, no digest algorithm, encapsulated content id-data with an
    empty OCTET STRING. :func:`read_credential_token` takes the certificate out again.
    """
    certificate = _load_certificate(krd_certificate, "krd_certificate")
    signed = _SignedData(
        {
            "version": 1,
            "digest_algorithms": [],
            "encap_content_info": {"content_type": _OID_DATA, "content": b""},
            "certificates": [asn1.Any.load(certificate.der)],
            "signer_infos": [],
        }
    )
    return bytes(_SignedContentInfo({"content_type": _OID_SIGNED_DATA, "content": signed}).dump())


def _signed_data(token: bytes, what: str) -> Any:
    """The SignedData of a ContentInfo, parsed strictly."""
    outer = _load(_ContentInfo, token, what, whole=False)
    with _parsing(what):
        content_type = outer["content_type"].dotted
    if content_type != _OID_SIGNED_DATA:
        raise TR34Error(f"{what} content type is {content_type}, not signedData")
    return _load(_SignedContentInfo, token, what)["content"]


def read_credential_token(token: bytes) -> bytes:
    """The certificate (DER) inside a credential token (TR-34-2019 B.3 to B.5, B.7 form).

    Exactly one certificate, no signer, no CRL (a KDH credential token with its CA's CRL,
    B.6, is refused: read CRLs where they are published).
    """
    signed = _signed_data(token, "credential token")
    with _parsing("credential token"):
        version = signed["version"].native
        digests = len(signed["digest_algorithms"])
        signers = len(signed["signer_infos"])
        content_type = signed["encap_content_info"]["content_type"].dotted
        content = signed["encap_content_info"]["content"].native
        certificates = _elements(signed["certificates"], "credential token certificates")
        has_crls = bool(_elements(signed["crls"], "credential token CRLs"))
    if version != 1:
        raise TR34Error(f"credential token SignedData version is {version}, not 1")
    if signers or digests:
        raise TR34Error("credential token has signers; a credential token is unsigned")
    if content_type != _OID_DATA or content:
        raise TR34Error("credential token content must be empty id-data")
    if has_crls:
        raise TR34Error("credential token carries CRLs; only the certificate belongs in it")
    if len(certificates) != 1:
        raise TR34Error(
            f"credential token carries {len(certificates)} certificates; it must carry one"
        )
    return _load_certificate(certificates[0], "certificate in the credential token").der


def _check_nonce(nonce: bytes, what: str) -> bytes:
    if not isinstance(nonce, bytes | bytearray):
        raise TR34Error(f"{what} must be bytes")
    if not _NONCE_MIN <= len(nonce) <= _NONCE_MAX:
        raise TR34Error(
            f"{what} is {len(nonce)} bytes; TR-34 nonces here are {_NONCE_MIN} to {_NONCE_MAX}"
        )
    return bytes(nonce)


def random_number_token(nonce: bytes) -> bytes:
    """The KRD's random number token RT_KRD for the two-pass protocol (TR-34-2019 B.12).

    An Attribute ``{ randomNonce, { OCTET STRING nonce } }``; see the module example.
    """
    value = _check_nonce(nonce, "nonce")
    return bytes(
        _Attribute({"type": _OID_RANDOM_NONCE, "values": [asn1.OctetString(value)]}).dump()
    )


def read_random_number_token(token: bytes) -> bytes:
    """The nonce inside a random number token (TR-34-2019 B.12); see the module example."""
    attribute = _load(_Attribute, token, "random number token")
    with _parsing("random number token"):
        attribute_type = attribute["type"].dotted
        values = _elements(attribute["values"], "random number token")
    if attribute_type != _OID_RANDOM_NONCE:
        raise TR34Error(f"random number token attribute is {attribute_type}, not randomNonce")
    if len(values) != 1:
        raise TR34Error("random number token must hold exactly one nonce")
    return _check_nonce(
        _octets(values[0], "random number token nonce"), "random number token nonce"
    )


def _octets(der: bytes, what: str) -> bytes:
    value = _load(asn1.OctetString, der, what)
    with _parsing(what):
        return bytes(value.native)


# --- key block header and KeyBlock ---------------------------------------------------------------


def _check_header(header: str, what: str) -> str:
    """A TR-31 key block header as TR-34 carries it: version and length are ignored."""
    if not isinstance(header, str):
        raise TR34Error(f"{what} must be a string")
    if not header.isascii() or not header.isprintable():
        raise TR34Error(f"{what} must be printable ASCII")
    if len(header) < 16:
        raise TR34Error(f"{what} is {len(header)} characters; a TR-31 header has at least 16")
    if header[7] not in "TA":
        raise TR34Error(f"{what} algorithm is {header[7]!r}; TR-34 carries T (TDEA) or A (AES)")
    blocks = header[12:14]
    if not (blocks.isdigit() and blocks.isascii()):
        raise TR34Error(f"{what} number of optional blocks {blocks!r} is not two digits")
    if (blocks == "00") != (len(header) == 16):
        raise TR34Error(f"{what} optional block count {blocks} does not fit its length")
    return header


_KEY_LENGTHS = {"T": (16, 24), "A": (16, 24, 32)}


def _check_key(key: bytes | bytearray, header: str, what: str) -> None:
    allowed = _KEY_LENGTHS[header[7]]
    if len(key) not in allowed:
        family = "TDEA keys are 16 or 24" if header[7] == "T" else "AES keys are 16, 24 or 32"
        raise TR34Error(f"{what} is {len(key)} bytes; {family} bytes")


@dataclass(frozen=True)
class KeyBlock:
    """A clear TR-34 KeyBlock (TR-34-2019 B.2.2.2)."""

    #: DER IssuerAndSerialNumber of the KDH certificate (idKDH).
    kdh_issuer_and_serial: bytes = field(repr=False)
    key: bytes = field(repr=False)
    header: str


def encode_key_block(*, key: bytes | bytearray, header: str, kdh_certificate: bytes) -> bytes:
    """The DER KeyBlock for ``key`` under ``header``, naming the KDH by its certificate.

    With the TR-34-2019 sample KDH 1 certificate (B.2.1.5), key
    ``0123456789ABCDEFFEDCBA9876543210`` and header ``A0256K0TB00E0000`` this is B.2.2.2.1,
    the value :func:`decode_key_block` shows.
    """
    _check_header(header, "header")
    if not isinstance(key, bytes | bytearray):
        raise TR34Error("key must be bytes")
    _check_key(key, header, "key")
    kdh = _load_certificate(kdh_certificate, "kdh_certificate")
    block = _KeyBlock(
        {
            "version": 1,
            "id_kdh": asn1_cms.IssuerAndSerialNumber.load(kdh.issuer_and_serial),
            "clear_key": bytes(key),
            "header": {
                "type": _OID_KEY_BLOCK_HEADER,
                "values": [asn1.OctetString(header.encode("ascii"))],
            },
        }
    )
    return bytes(block.dump())


def decode_key_block(data: bytes | bytearray) -> KeyBlock:
    """Parse a clear DER KeyBlock (TR-34-2019 B.2.2.2).

    Examples
    --------
    >>> der = bytes.fromhex(
    ...     "308182020101304A3041310B300906035504061302555331153013060355040A130C5452"
    ...     "33342053616D706C6573311B301906035504031312545233342053616D706C6520434120"
    ...     "4B44480205340000000604100123456789ABCDEFFEDCBA9876543210301F06092A864886"
    ...     "F70D0107013112041041303235364B30544230304530303030")
    >>> block = decode_key_block(der)  # TR-34-2019 B.2.2.2.1
    >>> block.key.hex().upper(), block.header
    ('0123456789ABCDEFFEDCBA9876543210', 'A0256K0TB00E0000')
    """
    parsed = _load(_KeyBlock, bytes(data), "KeyBlock")
    with _parsing("KeyBlock"):
        version = parsed["version"].native
        kdh = parsed["id_kdh"].dump()
        key = bytes(parsed["clear_key"].native)
        header_type = parsed["header"]["type"].dotted
        header_values = _elements(parsed["header"]["values"], "KeyBlock header")
    if version != 1:
        raise TR34Error(f"KeyBlock version is {version}, not 1")
    if header_type != _OID_KEY_BLOCK_HEADER:
        raise TR34Error(f"KeyBlock header attribute type is {header_type}, not id-data")
    if len(header_values) != 1:
        raise TR34Error("KeyBlock header attribute must hold exactly one value")
    header = _header_text(header_values[0], "KeyBlock header")
    _check_key(key, header, "KeyBlock clear key")
    return KeyBlock(kdh_issuer_and_serial=kdh, key=key, header=header)


def _header_text(der: bytes, what: str) -> str:
    raw = _octets(der, what)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise TR34Error(f"{what} must be printable ASCII") from exc
    return _check_header(text, what)


# --- the enveloped layer ------------------------------------------------------------------------


def _pkcs7_pad(data: bytes | bytearray, block: int) -> bytearray:
    count = block - len(data) % block  # RFC 5652 6.3: always 1..block octets
    return bytearray(data) + bytes([count]) * count


def _pkcs7_unpad(data: bytearray, block: int) -> bytearray:
    count = data[-1] if data else 0
    if not 1 <= count <= block or data[-count:] != bytes([count]) * count:
        raise TR34Error("content padding is not valid PKCS#7")
    return data[:-count]


@dataclass(frozen=True)
class _Envelope:
    recipient: bytes  # DER IssuerAndSerialNumber of the KRD
    encrypted_key: bytes
    cipher: str  # key of _CIPHERS
    iv: bytes
    ciphertext: bytes


def _algorithm(identifier: Any, what: str) -> tuple[str, bytes | None]:
    """The OID and the raw DER parameters (None when absent) of an AlgorithmIdentifier."""
    with _parsing(what):
        oid = identifier["algorithm"].dotted
        parts = _split(identifier.contents, what)
    return oid, parts[1] if len(parts) > 1 else None


def _check_sha256(identifier_der: bytes, what: str) -> None:
    identifier = _load(_AlgorithmIdentifier, identifier_der, what)
    oid, parameters = _algorithm(identifier, what)
    if oid != _OID_SHA256 or parameters not in _NULL_OR_ABSENT:
        raise TR34Error(f"{what} is not SHA-256")


def _check_oaep_parameters(parameters: bytes | None) -> None:
    """SHA-256, MGF1-SHA-256 and the empty label, in the RFC 8017 or the untagged form."""
    wrong = "RSAES-OAEP parameters must be SHA-256, MGF1 with SHA-256 and the empty label"
    if parameters is None:
        raise TR34Error(wrong)
    _check_der(parameters, "RSAES-OAEP-params")
    if parameters[0] != 0x30:
        raise TR34Error("RSAES-OAEP-params is malformed")
    _, start, end = _read_tlv(parameters, 0, len(parameters), "RSAES-OAEP-params")
    elements = _split(parameters[start:end], "RSAES-OAEP-params")
    tagged = all(element[0] in (0xA0, 0xA1, 0xA2) for element in elements)
    if tagged:  # RFC 8017 A.2.1: [0] hash, [1] MGF, [2] label source, each EXPLICIT
        found: dict[int, bytes] = {}
        for element in elements:
            number = element[0] & 0x1F
            if number in found or (found and number <= max(found)):
                raise TR34Error("RSAES-OAEP-params is malformed")
            _, start, end = _read_tlv(element, 0, len(element), "RSAES-OAEP-params")
            found[number] = element[start:end]
        if 0 not in found or 1 not in found:
            raise TR34Error(wrong)  # a missing hash or MGF means SHA-1 (the DEFAULT)
        hash_der, mgf_der, source_der = found[0], found[1], found.get(2)
    elif len(elements) == 3 and all(element[0] == 0x30 for element in elements):
        hash_der, mgf_der, source_der = elements  # TR-34 sample and AWS X9_TR34_2012 form
    else:
        raise TR34Error(wrong)
    _check_sha256(hash_der, "RSAES-OAEP hash")
    mgf_oid, mgf_parameters = _algorithm(
        _load(_AlgorithmIdentifier, mgf_der, "RSAES-OAEP mask generation"), "RSAES-OAEP MGF"
    )
    if mgf_oid != _OID_MGF1 or mgf_parameters is None:
        raise TR34Error(wrong)
    _check_sha256(mgf_parameters, "RSAES-OAEP MGF1 hash")
    if source_der is not None:
        source_oid, label = _algorithm(
            _load(_AlgorithmIdentifier, source_der, "RSAES-OAEP label source"), "OAEP label"
        )
        if source_oid != _OID_P_SPECIFIED or label != b"\x04\x00":
            raise TR34Error(wrong)


def _parse_envelope(data: bytes, what: str, edition: Edition) -> _Envelope:
    envelope = _load(_EnvelopedData if edition == "2019" else _EnvelopedData2012, data, what)
    with _parsing(what):
        version = envelope["version"].native
        recipients = list(envelope["recipient_infos"])
        info = envelope["encrypted_content_info"]
        content_type = info["content_type"].dotted
        algorithm = info["content_encryption_algorithm"]
        cipher_oid, cipher_parameters = _algorithm(algorithm, "content encryption algorithm")
        encrypted = (info if edition == "2019" else algorithm)["encrypted_content"]
        ciphertext = None if isinstance(encrypted, asn1.Void) else bytes(encrypted.native)
        constructed = ciphertext is not None and encrypted.method != 0
    if version != 0:
        raise TR34Error(f"EnvelopedData version is {version}, not 0")
    if len(recipients) != 1:
        raise TR34Error(f"EnvelopedData must have exactly one recipient (found {len(recipients)})")
    recipient = recipients[0]
    with _parsing("KeyTransRecipientInfo"):
        recipient_version = recipient["version"].native
        recipient_id = recipient["rid"].dump()
        key_algorithm, key_parameters = _algorithm(
            recipient["key_encryption_algorithm"], "key encryption algorithm"
        )
        encrypted_key = bytes(recipient["encrypted_key"].native)
    if recipient_version != 0:
        raise TR34Error(f"KeyTransRecipientInfo version is {recipient_version}, not 0")
    if key_algorithm != _OID_RSAES_OAEP:
        raise TR34Error(f"key encryption algorithm is {key_algorithm}, not RSAES-OAEP")
    _check_oaep_parameters(key_parameters)
    if content_type != _OID_DATA:
        raise TR34Error(f"encrypted content type is {content_type}, not id-data")
    if cipher_oid not in _CIPHER_BY_OID:
        raise TR34Error(
            f"content encryption algorithm {cipher_oid} is not des-ede3-cbc or aes128-cbc"
        )
    cipher = _CIPHER_BY_OID[cipher_oid]
    _, cipher_name, _, block = _CIPHERS[cipher]
    if cipher_parameters is None:
        raise TR34Error(f"content encryption IV is missing; {cipher_name} needs {block} bytes")
    iv = _octets(cipher_parameters, "content encryption IV")
    if len(iv) != block:
        raise TR34Error(f"content encryption IV is {len(iv)} bytes; {cipher_name} needs {block}")
    if ciphertext is None or constructed:
        raise TR34Error("encrypted content is missing")
    if not ciphertext or len(ciphertext) % block:
        raise TR34Error(f"encrypted content is not a whole number of {block}-byte blocks")
    return _Envelope(recipient_id, encrypted_key, cipher, iv, ciphertext)


def _decrypt_content(envelope: _Envelope, content_key: bytes | bytearray) -> bytearray:
    _, cipher_name, key_length, block = _CIPHERS[envelope.cipher]
    if len(content_key) != key_length:
        raise TR34Error(
            f"content-encryption key is {len(content_key)} bytes; {cipher_name} needs {key_length}"
        )
    decrypt = tdes_cbc_decrypt if envelope.cipher == "tdes" else aes_cbc_decrypt
    padded = bytearray(decrypt(content_key, envelope.iv, envelope.ciphertext))
    try:
        return _pkcs7_unpad(padded, block)
    finally:
        padded[:] = bytes(len(padded))


def decrypt_enveloped_data(
    enveloped_data: bytes, *, content_key: bytes | bytearray, edition: Edition = "2019"
) -> bytes:
    """The content of a TR-34 EnvelopedData, given its content-encryption key.

    The symmetric layer alone (TR-34-2019 B.2.2.3): the structure is checked as in
    :func:`open_key_token`, the content decrypted with des-ede3-cbc or aes128-cbc and its
    PKCS#7 padding checked and removed. For known-answer tests and diagnostics; a KRD uses
    :func:`open_key_token`.

    With the TR-34-2019 sample B.2.2.3.1 (errata), content key
    ``0123456789ABCDEFFEDCBA9876543210FFEEDDCCBBAA9988`` gives the KeyBlock B.2.2.2.1.

    Parameters
    ----------
    enveloped_data : bytes
        ``"2019"``: the DER EnvelopedData. ``"2012"``: the eContent of a 2012 token, the
        fields of the EnvelopedData without its SEQUENCE header.
    content_key : bytes or bytearray
        The content-encryption key: 24 bytes for des-ede3-cbc, 16 for aes128-cbc.
    edition : {"2019", "2012"}
        The layout (module docstring).
    """
    if edition not in ("2012", "2019"):
        raise TR34Error(f"edition must be '2012' or '2019', not {edition!r}")
    if not isinstance(enveloped_data, bytes | bytearray):
        raise TR34Error("enveloped_data must be bytes")
    data = bytes(enveloped_data)
    if edition == "2012":
        data = b"\x30" + _der_length(len(data)) + data
    envelope = _parse_envelope(data, "EnvelopedData", edition)
    if not isinstance(content_key, bytes | bytearray):
        raise TR34Error("content_key must be bytes")
    content = _decrypt_content(envelope, content_key)
    try:
        return bytes(content)
    finally:
        content[:] = bytes(len(content))


# --- the key token ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyTokenInfo:
    """What a key token says about itself, before anything is verified."""

    edition: Edition
    #: DER IssuerAndSerialNumber of the signer (the KDH).
    kdh_issuer_and_serial: bytes = field(repr=False)
    #: DER IssuerAndSerialNumber of the recipient (the KRD).
    krd_issuer_and_serial: bytes = field(repr=False)
    header: str
    nonce: bytes | None
    signing_time: datetime | None
    content_cipher: ContentCipher
    certificates: tuple[bytes, ...] = field(repr=False)
    crls: tuple[bytes, ...] = field(repr=False)


@dataclass(frozen=True)
class _Token:
    info: KeyTokenInfo
    econtent: bytes
    envelope: _Envelope
    signed_attributes: bytes  # the SET as signed: tag 0x31 and the contents as received
    message_digest: bytes
    signature: bytes


def _detect_edition(econtent: bytes) -> Edition:
    if econtent[:1] == b"\x30":
        _, _, end = _read_tlv(econtent, 0, len(econtent), "eContent")
        if end == len(econtent):
            return "2019"
    if econtent[:1] == b"\x02":
        return "2012"
    raise TR34Error("eContent is neither an EnvelopedData (2019) nor the fields of one (2012)")


def _single_value(attribute: Any, name: str) -> bytes:
    with _parsing(f"signed attribute {name}"):
        values = _elements(attribute["values"], f"signed attribute {name}")
    if len(values) != 1:
        raise TR34Error(f"signed attribute {name} must have exactly one value")
    return values[0]


def _signing_time(der: bytes) -> datetime:
    what = "signed attribute signingTime"
    if der[:1] == b"\x17":
        value = _load(asn1.UTCTime, der, what)
    elif der[:1] == b"\x18":
        value = _load(asn1.GeneralizedTime, der, what)
    else:
        raise TR34Error(f"{what} is not a UTCTime or GeneralizedTime")
    with _parsing(what):
        moment = value.native
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise TR34Error(f"{what} is not a UTC time")
    return moment.astimezone(UTC)


def _parse_token(token: bytes, edition: Edition | None) -> _Token:
    if edition is not None and edition not in ("2012", "2019"):
        raise TR34Error(f"edition must be '2012' or '2019', not {edition!r}")
    signed = _signed_data(token, "key token")
    with _parsing("SignedData"):
        version = signed["version"].native
        digests = _elements(signed["digest_algorithms"], "SignedData digestAlgorithms")
        content_type = signed["encap_content_info"]["content_type"].dotted
        content = signed["encap_content_info"]["content"]
        econtent = None if isinstance(content, asn1.Void) else bytes(content.native)
        certificates = tuple(_elements(signed["certificates"], "SignedData certificates"))
        crls = tuple(_elements(signed["crls"], "SignedData crls"))
        signer_infos = list(signed["signer_infos"])
    for der in certificates:  # each must be a certificate, used or not
        _load_certificate(der, "certificate in the key token")
    for der in crls:
        _load_crl(der, "CRL in the key token")
    # RFC 5652 5.1 asks for version 3 when eContent is not id-data; the TR-34 samples and
    # AWS write 1. Both are accepted.
    if version not in (1, 3):
        raise TR34Error(f"SignedData version is {version}, not 1 or 3")
    if len(digests) != 1:
        raise TR34Error("SignedData digestAlgorithms must be exactly sha256")
    _check_sha256(digests[0], "SignedData digest algorithm")
    if content_type != _OID_ENVELOPED_DATA:
        raise TR34Error(f"encapsulated content type is {content_type}, not envelopedData")
    if not econtent:
        raise TR34Error("encapsulated content (the EnvelopedData) is missing")
    if len(signer_infos) != 1:
        raise TR34Error(f"SignedData must have exactly one SignerInfo (found {len(signer_infos)})")
    signer = signer_infos[0]
    with _parsing("SignerInfo"):
        signer_version = signer["version"].native
        signer_id = signer["sid"].dump()
        digest_algorithm = signer["digest_algorithm"].dump()
        signature_oid, signature_parameters = _algorithm(
            signer["signature_algorithm"], "SignerInfo signature algorithm"
        )
        signature = bytes(signer["signature"].native)
        attributes = signer["signed_attrs"]
        has_attributes = not isinstance(attributes, asn1.Void)
        has_unsigned = not isinstance(signer["unsigned_attrs"], asn1.Void)
    if signer_version != 1:
        raise TR34Error(f"SignerInfo version is {signer_version}, not 1")
    _check_sha256(digest_algorithm, "SignerInfo digest algorithm")
    if signature_oid not in _SIGNATURE_OIDS or signature_parameters not in _NULL_OR_ABSENT:
        raise TR34Error(f"SignerInfo signature algorithm {signature_oid} is not RSA with SHA-256")
    if not has_attributes:
        raise TR34Error("SignerInfo has no signed attributes")
    if has_unsigned:
        raise TR34Error("SignerInfo has unsigned attributes; a TR-34 key token has none")

    found: dict[str, bytes] = {}
    with _parsing("signed attributes"):
        signed_attributes = b"\x31" + _der_length(len(attributes.contents)) + attributes.contents
        for attribute in attributes:
            oid = attribute["type"].dotted
            name = _ATTRIBUTE_NAMES.get(oid)
            if name is None:
                raise TR34Error(f"signed attribute {oid} is not one a TR-34 key token uses")
            if oid in found:
                raise TR34Error(f"signed attribute {name} appears twice")
            found[oid] = _single_value(attribute, name)
    for required in (_OID_CONTENT_TYPE, _OID_MESSAGE_DIGEST, _OID_KEY_BLOCK_HEADER):
        if required not in found:
            raise TR34Error(f"signed attribute {_ATTRIBUTE_NAMES[required]} is missing")
    signed_type = _load(
        asn1.ObjectIdentifier, found[_OID_CONTENT_TYPE], "signed attribute contentType"
    )
    with _parsing("signed attribute contentType"):
        signed_type_oid = signed_type.dotted
    if signed_type_oid != _OID_ENVELOPED_DATA:
        raise TR34Error(f"signed attribute contentType is {signed_type_oid}, not envelopedData")
    digest = _octets(found[_OID_MESSAGE_DIGEST], "signed attribute messageDigest")
    if len(digest) != 32:
        raise TR34Error(f"signed attribute messageDigest is {len(digest)} bytes, not 32")
    header = _header_text(found[_OID_KEY_BLOCK_HEADER], "signed attribute key block header")
    nonce = None
    if _OID_RANDOM_NONCE in found:
        nonce = _check_nonce(
            _octets(found[_OID_RANDOM_NONCE], "signed attribute randomNonce"),
            "signed attribute randomNonce",
        )
    signing_time = None
    if _OID_SIGNING_TIME in found:
        signing_time = _signing_time(found[_OID_SIGNING_TIME])
    if nonce is None and signing_time is None:
        raise TR34Error("key token has neither a random nonce (two-pass) nor a signing time")

    detected = _detect_edition(econtent)
    if edition is not None and edition != detected:
        raise TR34Error(f"key token is in the {detected} layout, not {edition}")
    envelope_der = econtent
    if detected == "2012":
        envelope_der = b"\x30" + _der_length(len(econtent)) + econtent
    envelope = _parse_envelope(envelope_der, "EnvelopedData", detected)
    info = KeyTokenInfo(
        edition=detected,
        kdh_issuer_and_serial=signer_id,
        krd_issuer_and_serial=envelope.recipient,
        header=header,
        nonce=nonce,
        signing_time=signing_time,
        content_cipher="tdes" if envelope.cipher == "tdes" else "aes",
        certificates=certificates,
        crls=crls,
    )
    return _Token(info, econtent, envelope, signed_attributes, digest, signature)


def read_key_token(token: bytes, *, edition: Edition | None = None) -> KeyTokenInfo:
    """Parse a key token strictly and say what it claims; nothing is verified or decrypted.

    Parameters
    ----------
    token : bytes
        DER ContentInfo (KT_KDH).
    edition : {"2012", "2019"} or None
        Refuse a token in the other layout; None recognises it.
    """
    return _parse_token(token, edition).info


def _verify_signature(parsed: _Token, kdh: _Certificate, role: str) -> None:
    if parsed.info.kdh_issuer_and_serial != kdh.issuer_and_serial:
        raise TR34Error(f"the token's signer is not the {role} (issuer and serial number differ)")
    public_key = _rsa_public_key(kdh, role)
    if not hmac.compare_digest(hashlib.sha256(parsed.econtent).digest(), parsed.message_digest):
        raise TR34Error("messageDigest does not match the enveloped data")
    try:
        public_key.verify(
            parsed.signature, parsed.signed_attributes, padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature as exc:
        raise TR34Error(
            f"signature over the signed attributes does not verify with the {role}"
        ) from exc


def verify_key_token_signature(token: bytes, *, kdh_certificate: bytes) -> None:
    """Check that ``kdh_certificate`` signed ``token``: signer, messageDigest and signature.

    The signature is checked over the signed attributes as received (RFC 5652 5.4): the
    TR-34-2019 sample B.9 lists them out of DER order and verifies only that way. Nothing
    about the certificate itself is checked here; :func:`open_key_token` does both.
    """
    parsed = _parse_token(token, None)
    _verify_signature(
        parsed, _load_certificate(kdh_certificate, "kdh_certificate"), "kdh_certificate"
    )


@dataclass(frozen=True)
class ReceivedKey:
    """A key taken out of a verified key token. The caller wipes its copies of ``key``."""

    key: bytes = field(repr=False)
    header: str
    kdh_certificate: bytes = field(repr=False)
    edition: Edition
    signing_time: datetime | None
    nonce: bytes | None


def _kdh_certificate(parsed: _Token, given: bytes | None) -> _Certificate:
    """The KDH certificate: ``given`` (a TR-34 binding, or AWS's SigningKeyCertificate) or
    the one the token carries for its signer. A carried certificate with the issuer and
    serial number of the given one must be the same certificate."""
    carried = [
        _load_certificate(der, "certificate in the key token") for der in parsed.info.certificates
    ]
    if given is not None:
        certificate = _load_certificate(given, "KDH certificate")
        for candidate in carried:
            same_name = candidate.issuer_and_serial == certificate.issuer_and_serial
            if same_name and candidate.der != certificate.der:
                raise TR34Error("the KDH certificate in the key token differs from kdh_certificate")
        return certificate
    for candidate in carried:
        if candidate.issuer_and_serial == parsed.info.kdh_issuer_and_serial:
            return candidate
    raise TR34Error("key token does not carry the KDH certificate: pass kdh_certificate")


def open_key_token(
    token: bytes,
    *,
    krd_decrypt: Decryptor,
    krd_certificate: bytes,
    ca_certificates: Sequence[bytes],
    crls: Sequence[bytes] = (),
    nonce: bytes | None = None,
    now: datetime | None = None,
    edition: Edition | None = None,
    kdh_certificate: bytes | None = None,
    last_signing_time: datetime | None = None,
) -> ReceivedKey:
    """Verify a key token (KT_KDH) addressed to this KRD and take the key out of it.

    In order, each refusal with its own message: strict parsing; the KDH certificate (from
    the token, or ``kdh_certificate``) chains to ``ca_certificates`` at ``now`` with
    digital_signature and is not revoked by ``crls`` or a CRL in the token (see
    :func:`verify_certificate_chain`); the signer is that certificate; messageDigest and the
    signature over the signed attributes; freshness: the nonce this KRD sent (two-pass) or a
    signing time not in the future and later than ``last_signing_time`` (one-pass); the
    recipient is ``krd_certificate``; the content-encryption key decrypts with
    ``krd_decrypt``; the content decrypts and its padding is right; the KeyBlock names the
    signer as idKDH and repeats the signed header.

    Parameters
    ----------
    token : bytes
        DER ContentInfo (KT_KDH).
    krd_decrypt : Decryptor
        RSAES-OAEP decryption with this KRD's private key (for an HSM doing raw RSA only:
        raw decryption followed by :func:`oaep_decode`).
    krd_certificate : bytes
        This KRD's certificate (DER); the token must be addressed to it.
    ca_certificates : sequence of bytes
        Trusted CA certificates for the KDH certificate.
    crls : sequence of bytes
        CRLs (DER), besides those the token carries.
    nonce : bytes or None
        The nonce of the random number token this KRD sent (two-pass); None for one-pass.
    now : datetime or None
        The time of the checks (timezone-aware); None for the current time.
    edition : {"2012", "2019"} or None
        Refuse a token in the other layout; None recognises it.
    kdh_certificate : bytes or None
        The KDH certificate when the token does not carry it (2012 layout; TR-34 binding).
    last_signing_time : datetime or None
        For one-pass tokens: the signing time of the last token accepted from this KDH. A
        token signed at or before it is a replay and refused (TR-34 one-pass).

    Returns
    -------
    ReceivedKey
    """
    moment = datetime.now(UTC) if now is None else _utc(now, "now")
    expected_nonce = None if nonce is None else _check_nonce(nonce, "nonce")
    parsed = _parse_token(token, edition)
    info = parsed.info
    krd = _load_certificate(krd_certificate, "krd_certificate")
    kdh = _kdh_certificate(parsed, kdh_certificate)
    _verify_chain(
        kdh,
        ca_certificates,
        [*crls, *info.crls],
        moment,
        "digital_signature",
        "KDH certificate",
    )
    _verify_signature(parsed, kdh, "KDH certificate")

    # Freshness (TR-34: random nonce for two-pass, time stamp for one-pass).
    if info.nonce is not None and expected_nonce is None:
        raise TR34Error("key token is two-pass (it carries a random nonce) but no nonce was given")
    if info.nonce is None and expected_nonce is not None:
        raise TR34Error("key token is one-pass (no random nonce) but a nonce was given")
    if info.nonce is not None and not hmac.compare_digest(info.nonce, expected_nonce or b""):
        raise TR34Error("random nonce does not match the nonce this KRD sent")
    if info.signing_time is not None and info.signing_time > moment + _CLOCK_SKEW:
        raise TR34Error(
            f"signing time {_show(info.signing_time)} is in the future (now {_show(moment)})"
        )
    if info.nonce is None and last_signing_time is not None:
        last = _utc(last_signing_time, "last_signing_time")
        if info.signing_time is not None and info.signing_time <= last:
            raise TR34Error(
                f"signing time {_show(info.signing_time)} is not after the last accepted "
                f"token's ({_show(last)}): a replay"
            )

    if info.krd_issuer_and_serial != krd.issuer_and_serial:
        raise TR34Error(
            "key token is addressed to another KRD (issuer and serial number differ from "
            "krd_certificate)"
        )
    krd_key = _rsa_public_key(krd, "krd_certificate")
    modulus_bytes = (krd_key.key_size + 7) // 8
    if len(parsed.envelope.encrypted_key) != modulus_bytes:
        raise TR34Error(
            f"encrypted key is {len(parsed.envelope.encrypted_key)} bytes; the KRD's RSA key "
            f"needs {modulus_bytes}"
        )
    try:
        content_key = bytearray(krd_decrypt(parsed.envelope.encrypted_key))
    except ValueError as exc:
        raise TR34Error("the content-encryption key does not decrypt with the KRD key") from exc
    try:
        content = _decrypt_content(parsed.envelope, content_key)
    finally:
        content_key[:] = bytes(len(content_key))
    try:
        block = decode_key_block(content)
    finally:
        content[:] = bytes(len(content))
    if block.kdh_issuer_and_serial != info.kdh_issuer_and_serial:
        raise TR34Error("KeyBlock idKDH is not the signer of the key token")
    if block.header != info.header:
        raise TR34Error("key block header in the KeyBlock differs from the signed header")
    return ReceivedKey(
        key=block.key,
        header=block.header,
        kdh_certificate=kdh.der,
        edition=info.edition,
        signing_time=info.signing_time,
        nonce=info.nonce,
    )


def _signed_time_value(moment: datetime) -> Any:
    # RFC 5652 11.3: UTCTime for 1950 to 2049, GeneralizedTime otherwise; whole seconds.
    moment = moment.replace(microsecond=0)
    if 1950 <= moment.year < 2050:
        return asn1.UTCTime(moment)
    return asn1.GeneralizedTime(moment)


def build_key_token(
    *,
    key: bytes | bytearray,
    header: str,
    kdh_certificate: bytes,
    kdh_sign: Signer,
    krd_certificate: bytes,
    edition: Edition = "2019",
    nonce: bytes | None = None,
    signing_time: datetime | None = None,
    content_cipher: ContentCipher = "aes",
    random: Callable[[int], bytes] = os.urandom,
    kdh_crl: bytes | None = None,
) -> bytes:
    """A key token (KT_KDH) carrying ``key`` to the KRD of ``krd_certificate``.

    The KeyBlock is padded (PKCS#7) and encrypted under a fresh content-encryption key
    (AES-128 or 3-key TDEA from ``random``, with a fresh IV); the CEK is encrypted with
    RSAES-OAEP (SHA-256, MGF1-SHA-256) to the KRD; the signed attributes are signed by
    ``kdh_sign`` and the signature checked with ``kdh_certificate`` before the token is
    returned. Check the KRD certificate (:func:`verify_certificate_chain` with
    ``usage="key_encipherment"``) before calling this.

    Parameters
    ----------
    key : bytes or bytearray
        TDEA (16 or 24 bytes) or AES (16, 24 or 32 bytes), as ``header`` says.
    header : str
        The TR-31 key block header, 16 characters and any optional blocks.
    kdh_certificate : bytes
        The KDH's certificate (DER): signer and idKDH.
    kdh_sign : Signer
        RSASSA-PKCS1-v1_5 with SHA-256 by the KDH's private key.
    krd_certificate : bytes
        The recipient's certificate (DER), RSA of at least 2048 bits.
    edition : {"2019", "2012"}
        Layout (module docstring).
    nonce : bytes or None
        The KRD's nonce (from its random number token) for a two-pass token; None for a
        one-pass token.
    signing_time : datetime or None
        The signing time (timezone-aware). One-pass tokens always carry one (default: now);
        two-pass tokens carry it only when it is given.
    content_cipher : {"aes", "tdes"}
        aes128-cbc or des-ede3-cbc for the KeyBlock.
    random : callable
        ``random(n)`` returns n random bytes (the HSM's generator in the workstation).
    kdh_crl : bytes or None
        The CRL of the KDH's CA to carry in the token.

    Returns
    -------
    bytes
        The DER ContentInfo.
    """
    if edition not in ("2012", "2019"):
        raise TR34Error(f"edition must be '2012' or '2019', not {edition!r}")
    if content_cipher not in _CIPHERS:
        raise TR34Error(f"content_cipher must be 'aes' or 'tdes', not {content_cipher!r}")
    _check_header(header, "header")
    if not isinstance(key, bytes | bytearray):
        raise TR34Error("key must be bytes")
    _check_key(key, header, "key")
    nonce_value = None if nonce is None else _check_nonce(nonce, "nonce")
    moment = None if signing_time is None else _utc(signing_time, "signing_time")
    if nonce_value is None and moment is None:
        moment = datetime.now(UTC)
    kdh = _load_certificate(kdh_certificate, "kdh_certificate")
    kdh_key = _rsa_public_key(kdh, "kdh_certificate")
    krd = _load_certificate(krd_certificate, "krd_certificate")
    krd_key = _rsa_public_key(krd, "krd_certificate")
    crls = []
    if kdh_crl is not None:
        crl = _load_crl(kdh_crl, "kdh_crl")
        if crl.issuer != kdh.issuer_name:
            raise TR34Error("kdh_crl is not issued by the CA of kdh_certificate")
        crls.append(asn1.Any.load(bytes(kdh_crl)))

    cipher_oid, _, key_length, block = _CIPHERS[content_cipher]
    content_key = bytearray(random(key_length))
    iv = bytes(random(block))
    if len(content_key) != key_length or len(iv) != block:
        content_key[:] = bytes(len(content_key))
        raise TR34Error("random returned the wrong number of bytes")
    plain = _pkcs7_pad(encode_key_block(key=key, header=header, kdh_certificate=kdh.der), block)
    try:
        encrypt = tdes_cbc_encrypt if content_cipher == "tdes" else aes_cbc_encrypt
        ciphertext = encrypt(content_key, iv, plain)
        encrypted_key = krd_key.encrypt(
            bytes(content_key), padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
        )
    finally:
        content_key[:] = bytes(len(content_key))
        plain[:] = bytes(len(plain))

    recipient = {
        "version": 0,
        "rid": asn1_cms.IssuerAndSerialNumber.load(krd.issuer_and_serial),
        "key_encryption_algorithm": {
            "algorithm": _OID_RSAES_OAEP,
            "parameters": asn1.Any.load(_OAEP_PARAMS[edition]),
        },
        "encrypted_key": encrypted_key,
    }
    algorithm: dict[str, Any] = {"algorithm": cipher_oid, "parameters": asn1.OctetString(iv)}
    encrypted_info: dict[str, Any]
    if edition == "2019":  # RFC 5652 6.1
        encrypted_info = {
            "content_type": _OID_DATA,
            "content_encryption_algorithm": algorithm,
            "encrypted_content": ciphertext,
        }
        envelope: Any = _EnvelopedData
    else:  # AWS X9_TR34_2012: the encrypted content inside the algorithm identifier
        encrypted_info = {
            "content_type": _OID_DATA,
            "content_encryption_algorithm": {**algorithm, "encrypted_content": ciphertext},
        }
        envelope = _EnvelopedData2012
    enveloped = envelope(
        {"version": 0, "recipient_infos": [recipient], "encrypted_content_info": encrypted_info}
    )
    # 2019: the EnvelopedData itself; 2012: its fields without the SEQUENCE header.
    econtent = enveloped.dump() if edition == "2019" else enveloped.contents

    attributes = [
        _Attribute(
            {"type": _OID_CONTENT_TYPE, "values": [asn1.ObjectIdentifier(_OID_ENVELOPED_DATA)]}
        ),
        _Attribute(
            {"type": _OID_KEY_BLOCK_HEADER, "values": [asn1.OctetString(header.encode("ascii"))]}
        ),
        _Attribute(
            {
                "type": _OID_MESSAGE_DIGEST,
                "values": [asn1.OctetString(hashlib.sha256(econtent).digest())],
            }
        ),
    ]
    if nonce_value is not None:
        attributes.append(
            _Attribute({"type": _OID_RANDOM_NONCE, "values": [asn1.OctetString(nonce_value)]})
        )
    if moment is not None:
        attributes.append(
            _Attribute({"type": _OID_SIGNING_TIME, "values": [_signed_time_value(moment)]})
        )
    signed_attributes = _Attributes(attributes).dump()  # DER: the SET OF sorted
    signature = bytes(kdh_sign(signed_attributes))
    try:
        kdh_key.verify(signature, signed_attributes, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise TR34Error("kdh_sign's signature does not verify with kdh_certificate") from exc

    signer = _SignerInfo(
        {
            "version": 1,
            "sid": asn1_cms.IssuerAndSerialNumber.load(kdh.issuer_and_serial),
            "digest_algorithm": {"algorithm": _OID_SHA256},
            "signed_attrs": _Attributes.load(signed_attributes),
            "signature_algorithm": {"algorithm": _OID_RSA_ENCRYPTION, "parameters": asn1.Null()},
            "signature": signature,
        }
    )
    content: dict[str, Any] = {
        "version": 1,
        "digest_algorithms": [{"algorithm": _OID_SHA256}],
        "encap_content_info": {"content_type": _OID_ENVELOPED_DATA, "content": econtent},
        "signer_infos": [signer],
    }
    if edition == "2019":
        content["certificates"] = [asn1.Any.load(kdh.der)]
    if crls:
        content["crls"] = crls
    token = _SignedContentInfo({"content_type": _OID_SIGNED_DATA, "content": _SignedData(content)})
    return bytes(token.dump())
