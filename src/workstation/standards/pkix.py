"""PKIX: certificate requests (PKCS#10) signed by an external signer, and certificate validation.

Key pairs live in an HSM and their private keys never leave it, so a certificate request is
built here and signed through a callable, a :data:`Signer`. Certificates that come back (and
the CA certificates above them) are validated against trust anchors with a reason for every
refusal.

- :class:`Profile` and :func:`build_csr`: the CertificationRequestInfo of RFC 2986 4.1 with
  the requested extensions (basicConstraints, keyUsage, extKeyUsage, subjectAltName) in a
  PKCS#9 extensionRequest attribute (RFC 2985 5.4.2), signed with RSASSA-PKCS1-v1_5/SHA-256
  (RFC 8017 8.2, RFC 4055 5) for an RSA key or ECDSA/SHA-256 (RFC 5758 3.2) for an EC key.
- :func:`csr_pem` and :func:`read_csr`: the PEM text of a request (RFC 7468 7) and a strict
  reading of one, PEM or DER, whose signature is checked.
- :func:`validate_certificate`: RFC 5280 6.1 path validation, simplified: the path is built
  from the certificate through the given intermediates to one of the anchors by issuer name
  (RFC 5280 7.1 comparison) and signature; basicConstraints, keyUsage, path length, validity,
  critical extensions and CRLs (RFC 5280 6.3, simplified) are checked; there is no policy
  processing and name constraints are not processed (a critical one is refused).
- :func:`read_certificates`: certificates from PEM (one or several), DER, or a PKCS#7
  certificate bundle (P7B; RFC 2315 / RFC 5652 degenerate SignedData), PEM or DER.

Keys accepted everywhere: RSA of at least 2048 bits, EC on P-256, P-384 or P-521. Signatures
accepted on certificates, CRLs and requests: RSASSA-PKCS1-v1_5 and ECDSA with SHA-256, SHA-384
or SHA-512. Every refusal raises :class:`PkixError` with a message that names the field, the
request or the certificate (by subject and serial number) that is wrong.

A request for a terminal's key pair (a software key stands in for the HSM):

>>> from cryptography.hazmat.primitives import hashes, serialization
>>> from cryptography.hazmat.primitives.asymmetric import ec
>>> key = ec.generate_private_key(ec.SECP256R1())
>>> spki = key.public_key().public_bytes(
...     serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
>>> profile = Profile(
...     subject="CN=atm-0042.bank.example,O=Bank,C=GB", dns_names=("atm-0042.bank.example",),
...     key_usage=frozenset({"digital_signature"}), extended_key_usage=("client_auth",))
>>> request = build_csr(
...     profile, public_key=spki, sign=lambda data: key.sign(data, ec.ECDSA(hashes.SHA256())))
>>> csr_pem(request).splitlines()[0]
'-----BEGIN CERTIFICATE REQUEST-----'
>>> info = read_csr(request)
>>> info.subject, info.key_type, info.dns_names, info.extended_key_usage
('CN=atm-0042.bank.example,O=Bank,C=GB', 'EC P-256', ('atm-0042.bank.example',), ('client_auth',))
>>> sorted(info.key_usage), info.ca, info.extensions
(['digital_signature'], False, ('basicConstraints', 'keyUsage', 'extKeyUsage', 'subjectAltName'))

A profile is checked when it is made:

>>> try:
...     Profile(subject="CN=atm-0042,C=gb")
... except PkixError as error:
...     print(error)
subject: C must be two capital letters (ISO 3166-1 alpha-2), not 'gb'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asn1crypto import algos as asn1_algos
from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1
from asn1crypto import crl as asn1_crl
from asn1crypto import csr as asn1_csr
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

__all__ = [
    "CsrInfo",
    "PkixError",
    "Profile",
    "Signer",
    "ValidatedCertificate",
    "build_csr",
    "csr_pem",
    "read_certificates",
    "read_csr",
    "validate_certificate",
]

#: Signs the given bytes with the key pair's private key (inside the HSM): RSASSA-PKCS1-v1_5
#: with SHA-256 for an RSA key, ECDSA with SHA-256 (a DER ECDSA-Sig-Value) for an EC key.
Signer = Callable[[bytes], bytes]


class PkixError(ValueError):
    """A request, certificate, CRL or argument is refused; the message says which and why."""


# asn1crypto parses lazily and reports malformed input with these exception types.
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)


@contextmanager
def _parsing(what: str) -> Iterator[None]:
    try:
        yield
    except PkixError:
        raise
    except _PARSE_ERRORS as exc:
        raise PkixError(f"{what} is malformed") from exc


# --- keys and signature algorithms -------------------------------------------------------------

_MIN_RSA_BITS = 2048
_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}

_PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class _Scheme:
    kind: str  # "rsa" (RSASSA-PKCS1-v1_5) or "ecdsa"
    name: str
    hash: hashes.HashAlgorithm


# RFC 4055 5 and RFC 5758 3.2: the accepted signature algorithms.
_SCHEMES = {
    "1.2.840.113549.1.1.11": _Scheme("rsa", "sha256WithRSAEncryption", hashes.SHA256()),
    "1.2.840.113549.1.1.12": _Scheme("rsa", "sha384WithRSAEncryption", hashes.SHA384()),
    "1.2.840.113549.1.1.13": _Scheme("rsa", "sha512WithRSAEncryption", hashes.SHA512()),
    "1.2.840.10045.4.3.2": _Scheme("ecdsa", "ecdsa-with-SHA256", hashes.SHA256()),
    "1.2.840.10045.4.3.3": _Scheme("ecdsa", "ecdsa-with-SHA384", hashes.SHA384()),
    "1.2.840.10045.4.3.4": _Scheme("ecdsa", "ecdsa-with-SHA512", hashes.SHA512()),
}
# Names for refusals of algorithms that are seen but not accepted.
_REFUSED_ALGORITHMS = {
    "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
    "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
    "1.2.840.113549.1.1.10": "RSASSA-PSS",
    "1.2.840.113549.1.1.14": "sha224WithRSAEncryption",
    "1.2.840.10045.4.1": "ecdsa-with-SHA1",
    "1.2.840.10045.4.3.1": "ecdsa-with-SHA224",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
    "1.2.840.10040.4.3": "dsa-with-SHA1",
    "2.16.840.1.101.3.4.3.2": "dsa-with-SHA256",
}
_ACCEPTED = "RSA PKCS#1 v1.5 or ECDSA, with SHA-256, SHA-384 or SHA-512"
_NULL = b"\x05\x00"


def _scheme(algorithm: Any) -> _Scheme | str:
    """The accepted scheme of an AlgorithmIdentifier, or the description of a refused one.

    RSA: parameters NULL (RFC 4055 5; absent is accepted too, as RFC 4055 asks of readers).
    ECDSA: parameters absent (RFC 5758 3.2)."""
    oid = str(algorithm["algorithm"].dotted)
    parameters = algorithm["parameters"]
    present = not isinstance(parameters, asn1.Void)
    scheme = _SCHEMES.get(oid)
    if scheme is not None:
        if scheme.kind == "rsa" and (not present or parameters.dump() == _NULL):
            return scheme
        if scheme.kind == "ecdsa" and not present:
            return scheme
        return f"{scheme.name} with unexpected parameters"
    return _REFUSED_ALGORITHMS.get(oid, oid)


def _signed_by(key: Any, scheme: _Scheme, signature: bytes, data: bytes) -> bool:
    """Whether ``key`` made ``signature`` over ``data`` with ``scheme``."""
    try:
        if scheme.kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), scheme.hash)
            return True
        if scheme.kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(scheme.hash))
            return True
    except InvalidSignature:
        return False
    return False


def _is_der_sequence(data: bytes) -> bool:
    """Whether ``data`` is one DER SEQUENCE and nothing more."""
    try:
        asn1.Sequence.load(data, strict=True)
    except _PARSE_ERRORS:
        return False
    return data[:1] == b"\x30"


def _key_problem(key: Any) -> str | None:
    """Why a public key is not accepted (to follow "has" or "is"), or None."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _MIN_RSA_BITS:
            return f"a {key.key_size}-bit RSA key; at least {_MIN_RSA_BITS} bits are required"
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _CURVES:
            return f"an EC key on {key.curve.name}; P-256, P-384 or P-521 is required"
        return None
    kinds = (
        (ed25519.Ed25519PublicKey, "an Ed25519"),
        (ed448.Ed448PublicKey, "an Ed448"),
    )
    for kind, name in kinds:
        if isinstance(key, kind):
            return f"{name} key; RSA or EC keys are required"
    return "a public key that is neither RSA nor EC"


def _key_type(key: _PublicKey) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    return f"EC {_CURVES[key.curve.name]}"


def _spki(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _load_public_key(spki: bytes, what: str) -> Any:
    """A public key from a DER SubjectPublicKeyInfo (not a bare PKCS#1 RSAPublicKey)."""
    if not isinstance(spki, bytes | bytearray):
        raise PkixError(f"{what} must be a DER SubjectPublicKeyInfo (bytes)")
    try:
        asn1_keys.PublicKeyInfo.load(bytes(spki), strict=True)["algorithm"].native  # noqa: B018
        return serialization.load_der_public_key(bytes(spki))
    except (*_PARSE_ERRORS, UnsupportedAlgorithm) as exc:
        raise PkixError(f"{what} is not a DER SubjectPublicKeyInfo") from exc


# --- names -------------------------------------------------------------------------------------

# RFC 4514 keyword -> (display keyword, asn1crypto type, kind, upper bound of RFC 5280 App. A)
_NAME_TYPES: dict[str, tuple[str, str, str, int]] = {
    "C": ("C", "country_name", "country", 2),
    "ST": ("ST", "state_or_province_name", "directory", 128),
    "L": ("L", "locality_name", "directory", 128),
    "O": ("O", "organization_name", "directory", 64),
    "OU": ("OU", "organizational_unit_name", "directory", 64),
    "CN": ("CN", "common_name", "directory", 64),
    "SERIALNUMBER": ("serialNumber", "serial_number", "printable", 64),
    "EMAILADDRESS": ("emailAddress", "email_address", "email", 255),
    "DC": ("DC", "domain_component", "label", 63),
}
_TYPE_LIST = "C, ST, L, O, OU, CN, serialNumber, emailAddress, DC"
_ESCAPABLE = frozenset('"+,;<>\\ #=')  # RFC 4514 3: ESC followed by ESC or special
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_PRINTABLE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")
_NAME_OVERRIDES = {NameOID.SERIAL_NUMBER: "serialNumber", NameOID.EMAIL_ADDRESS: "emailAddress"}


def _name_text(name: x509.Name) -> str:
    """RFC 4514 text with the keywords :class:`Profile` reads."""
    return name.rfc4514_string(_NAME_OVERRIDES)


def _split_rdns(text: str) -> list[str]:
    """The RDN strings of an RFC 4514 name, split at unescaped commas (escapes kept)."""
    parts: list[str] = []
    current: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "\\":
            current.append(text[position : position + 2])
            position += 2
            continue
        if char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        position += 1
    parts.append("".join(current))
    return parts


def _unescape(raw: str, keyword: str) -> str:
    """An RFC 4514 attribute value (section 3, ``string``), strictly."""
    if raw.startswith("#"):
        raise PkixError(
            f"subject: {keyword} starts with '#'; hex-encoded values are not accepted "
            "(write '\\#' for a literal '#')"
        )
    out = bytearray()
    position = 0
    last = len(raw) - 1
    while position < len(raw):
        char = raw[position]
        if char == "\\":
            following = raw[position + 1 : position + 2]
            pair = raw[position + 1 : position + 3]
            if following and following in _ESCAPABLE:
                out += following.encode()
                position += 2
            elif len(pair) == 2 and set(pair) <= _HEX_DIGITS:
                out.append(int(pair, 16))
                position += 3
            else:
                raise PkixError(
                    f"subject: {keyword} has a bad escape {raw[position : position + 3]!r}"
                )
            continue
        if char == "+":
            raise PkixError(
                "subject: multi-valued RDNs ('+') are not accepted; write '\\+' for a literal '+'"
            )
        if char in '";<>\x00':
            raise PkixError(f"subject: {keyword} has an unescaped {char!r}")
        if char == " " and position in (0, last):
            raise PkixError(
                f"subject: {keyword} has an unescaped space at its start or end "
                "(RFC 4514 has no spaces around ',' and '=')"
            )
        out += char.encode()
        position += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PkixError(f"subject: {keyword} has escaped bytes that are not UTF-8") from exc


def _check_value(keyword: str, kind: str, bound: int, value: str) -> None:
    if not value:
        raise PkixError(f"subject: {keyword} is empty")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise PkixError(f"subject: {keyword} contains a control character")
    if kind == "country":
        if not (len(value) == 2 and value.isascii() and value.isalpha() and value.isupper()):
            raise PkixError(
                f"subject: C must be two capital letters (ISO 3166-1 alpha-2), not {value!r}"
            )
        return
    if len(value) > bound:
        raise PkixError(
            f"subject: {keyword} is {len(value)} characters; at most {bound} (RFC 5280 Appendix A)"
        )
    if kind == "printable" and not set(value) <= _PRINTABLE:
        raise PkixError(
            f"subject: {keyword} must be PrintableString characters "
            "(letters, digits, space and '()+,-./:=?)"
        )
    if kind == "email":
        _check_email(value, f"subject: {keyword}")
    if kind == "label":
        _check_label(value, f"subject: {keyword}")


def _attribute(name_type: str, kind: str, value: str) -> Any:
    if kind in ("country", "printable"):  # X.520: PrintableString
        encoded: Any = asn1_x509.DirectoryString(name="printable_string", value=value)
    elif kind == "email":  # PKCS#9 emailAddress: IA5String
        encoded = asn1_x509.EmailAddress(value)
    elif kind == "label":  # RFC 4519 2.4 dc: IA5String
        encoded = asn1_x509.DNSName(value)
    else:  # RFC 5280 4.1.2.4: UTF8String for DirectoryString
        encoded = asn1_x509.DirectoryString(name="utf8_string", value=value)
    return asn1_x509.RelativeDistinguishedName(
        [asn1_x509.NameTypeAndValue({"type": name_type, "value": encoded})]
    )


def _parse_subject(text: Any) -> Any:
    """The X.501 Name of an RFC 4514 string, most specific RDN first."""
    if not isinstance(text, str):
        raise PkixError("subject must be a str in RFC 4514 form, like 'CN=atm-0042,O=Bank,C=GB'")
    if not text:
        raise PkixError("subject is empty")
    rdns = []
    for part in _split_rdns(text):
        if not part:
            raise PkixError("subject has an empty RDN (a comma at an end, or two together)")
        keyword, equals, raw = part.partition("=")
        known = _NAME_TYPES.get(keyword.upper()) if equals else None
        if known is None:
            raise PkixError(f"subject: {part!r} is not TYPE=value with TYPE one of {_TYPE_LIST}")
        display, name_type, kind, bound = known
        value = _unescape(raw, display)
        _check_value(display, kind, bound, value)
        rdns.append(_attribute(name_type, kind, value))
    # RFC 4514 2.1: the string starts with the last RDN of the sequence.
    return asn1_x509.Name(name="", value=asn1_x509.RDNSequence(list(reversed(rdns))))


def _same_name(one: Any, other: Any) -> bool:
    """RFC 5280 7.1 name matching (RFC 4518 preparation, as asn1crypto implements it)."""
    if one.dump() == other.dump():
        return True
    try:
        return bool(one == other)
    except _PARSE_ERRORS:  # a value the preparation prohibits matches nothing else
        return False


# --- subjectAltName values ----------------------------------------------------------------------

_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")  # RFC 1123 2.1
_ATEXT = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-/=?^_`{|}~"
)


def _check_label(label: str, what: str) -> None:
    if not label.isascii() or not _LABEL.match(label):
        raise PkixError(
            f"{what}: {label!r} is not a DNS label (letters, digits and inner hyphens, at most 63)"
        )


def _dns_name_problem(name: str, *, wildcard: bool) -> str | None:
    """Why ``name`` is not a DNS name in the preferred name syntax (RFC 1034 3.5, RFC 1123
    2.1; RFC 5280 4.2.1.6), or None. A wildcard is a whole leftmost ``*`` label followed by
    two or more labels."""
    if not name.isascii():
        return "is not ASCII; give its A-label form (xn--...)"
    if len(name) > 253:
        return "is longer than 253 characters"
    if name.endswith("."):
        return "ends with a dot"
    labels = name.split(".")
    if wildcard and labels[0] == "*":
        if len(labels) < 3:
            return "has a wildcard over fewer than two labels"
        labels = labels[1:]
    for label in labels:
        if not _LABEL.match(label):
            if "*" in label:
                return "has a wildcard that is not its whole first label"
            return (
                "has a label that is not letters, digits and inner hyphens of at most 63 "
                f"characters: {label!r}"
            )
    return None


def _check_dns_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name:
        raise PkixError(f"{what}: each name must be a non-empty str")
    problem = _dns_name_problem(name, wildcard=True)
    if problem is not None:
        raise PkixError(f"{what}: {name!r} {problem}")
    return name


def _check_email(address: Any, what: str) -> str:
    """An rfc822Name mailbox: dot-atom local part (RFC 5322 3.2.3) @ a DNS name."""
    if not isinstance(address, str) or not address:
        raise PkixError(f"{what}: each address must be a non-empty str")
    if not address.isascii():
        raise PkixError(f"{what}: {address!r} is not ASCII")
    if len(address) > 255:
        raise PkixError(f"{what}: {address!r} is longer than 255 characters")
    local, at, domain = address.rpartition("@")
    atoms = local.split(".")
    if not at or not local or len(local) > 64 or not all(a and set(a) <= _ATEXT for a in atoms):
        raise PkixError(f"{what}: {address!r} is not a mailbox like name@bank.example")
    problem = _dns_name_problem(domain, wildcard=False) if domain else "is empty"
    if problem is not None:
        raise PkixError(f"{what}: {address!r}: its domain {problem}")
    return address


def _check_ip(text: Any, what: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if not isinstance(text, str):
        raise PkixError(f"{what}: each address must be a str")
    try:
        address = ipaddress.ip_address(text)
    except ValueError as exc:
        raise PkixError(f"{what}: {text!r} is not an IPv4 or IPv6 address") from exc
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        raise PkixError(f"{what}: {text!r} has a zone index, which a certificate cannot carry")
    return address


# --- usages ------------------------------------------------------------------------------------

# RFC 5280 4.2.1.3, with asn1crypto's names.
_KEY_USAGES = (
    "digital_signature",
    "non_repudiation",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)
# RFC 3279 2.3.1 (rsaEncryption) and RFC 5480 3 (id-ecPublicKey): the usages each key allows.
_USAGES_RSA = frozenset(_KEY_USAGES) - {"key_agreement", "encipher_only", "decipher_only"}
_USAGES_EC = frozenset(_KEY_USAGES) - {"key_encipherment", "data_encipherment"}

# RFC 5280 4.2.1.12 key purposes by name.
_EKU_OIDS = {
    "server_auth": "1.3.6.1.5.5.7.3.1",
    "client_auth": "1.3.6.1.5.5.7.3.2",
    "code_signing": "1.3.6.1.5.5.7.3.3",
    "email_protection": "1.3.6.1.5.5.7.3.4",
    "time_stamping": "1.3.6.1.5.5.7.3.8",
    "ocsp_signing": "1.3.6.1.5.5.7.3.9",
}
_EKU_NAMES = {oid: name for name, oid in _EKU_OIDS.items()}
_DOTTED = re.compile(r"[0-2](?:\.(?:0|[1-9][0-9]*))+\Z")


def _check_key_usage(usages: Any, what: str) -> frozenset[str]:
    if not isinstance(usages, frozenset):
        raise PkixError(f"{what} must be a frozenset of usage names")
    for usage in sorted(usages, key=str):
        if usage not in _KEY_USAGES:
            raise PkixError(f"{what}: {usage!r} is not one of {', '.join(_KEY_USAGES)}")
    return frozenset(usages)


def _eku_oid(value: Any, what: str) -> str:
    """The dotted OID of a key purpose given by name or as a dotted OID."""
    if isinstance(value, str):
        if value in _EKU_OIDS:
            return _EKU_OIDS[value]
        if _DOTTED.match(value):
            arcs = value.split(".")
            if arcs[0] == "2" or int(arcs[1]) < 40:  # X.660: arcs under 0 and 1 stop at 39
                return value
    raise PkixError(f"{what}: {value!r} is neither one of {', '.join(_EKU_OIDS)} nor a dotted OID")


def _check_eku(purposes: Any, what: str) -> tuple[str, ...]:
    if not isinstance(purposes, tuple):
        raise PkixError(f"{what} must be a tuple of key purposes")
    oids: list[str] = []
    for purpose in purposes:
        oid = _eku_oid(purpose, what)
        if oid in oids:
            raise PkixError(f"{what}: {purpose!r} appears twice")
        oids.append(oid)
    return tuple(oids)


def _eku_name(oid: str) -> str:
    return _EKU_NAMES.get(oid, oid)


# --- the request -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """What a certificate profile puts in a request: the subject and the requested extensions.

    Checked when made; each refusal names the field.

    Attributes
    ----------
    subject : str
        RFC 4514 text, most specific RDN first: ``"CN=atm-0042.bank.example,O=Bank,C=GB"``.
        Types C, ST, L, O, OU, CN, serialNumber, emailAddress, DC (case-insensitive); no
        spaces around ``,`` and ``=``; ``\\`` escapes a special character or gives a byte
        in hex; single-valued RDNs only. Values are UTF8String, except C and serialNumber
        (PrintableString) and emailAddress and DC (IA5String).
    dns_names : tuple of str
        subjectAltName dNSName entries (ASCII, A-labels for IDNs; ``*.`` leftmost allowed).
    ip_addresses : tuple of str
        subjectAltName iPAddress entries, IPv4 or IPv6 text.
    emails : tuple of str
        subjectAltName rfc822Name entries.
    key_usage : frozenset of str
        ``digital_signature``, ``non_repudiation``, ``key_encipherment``,
        ``data_encipherment``, ``key_agreement``, ``key_cert_sign``, ``crl_sign``,
        ``encipher_only``, ``decipher_only``; empty for no keyUsage extension.
    extended_key_usage : tuple of str
        ``server_auth``, ``client_auth``, ``code_signing``, ``email_protection``,
        ``time_stamping``, ``ocsp_signing`` or dotted OIDs; empty for no extension.
    ca : bool
        basicConstraints cA; ``key_cert_sign`` belongs in ``key_usage`` exactly when true.
    path_length : int or None
        basicConstraints pathLenConstraint (a CA only).
    """

    subject: str
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    key_usage: frozenset[str] = frozenset()
    extended_key_usage: tuple[str, ...] = ()
    ca: bool = False
    path_length: int | None = None

    def __post_init__(self) -> None:
        _requested(self)


def _names(values: Any, what: str) -> tuple[Any, ...]:
    if not isinstance(values, tuple):
        raise PkixError(f"{what} must be a tuple of str")
    return values


def _requested(profile: Profile) -> tuple[Any, Any]:
    """The subject Name and the Extensions a profile asks for (asn1crypto values)."""
    subject = _parse_subject(profile.subject)
    usages = _check_key_usage(profile.key_usage, "key_usage")
    purposes = _check_eku(profile.extended_key_usage, "extended_key_usage")
    if not isinstance(profile.ca, bool):
        raise PkixError("ca must be True or False")
    # RFC 5280 4.2.1.3 and 4.2.1.9: keyCertSign only with cA, and a CA signs certificates.
    if profile.ca and "key_cert_sign" not in usages:
        raise PkixError("key_usage: a CA (ca=True) needs key_cert_sign")
    if not profile.ca and "key_cert_sign" in usages:
        raise PkixError("key_usage: key_cert_sign is for a CA; set ca=True")
    if usages & {"encipher_only", "decipher_only"} and "key_agreement" not in usages:
        raise PkixError("key_usage: encipher_only and decipher_only need key_agreement")
    length = profile.path_length
    if length is not None:
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise PkixError("path_length must be None or an integer of 0 or more")
        if not profile.ca:
            raise PkixError("path_length is for a CA; set ca=True")

    general_names: list[Any] = []
    seen: set[str] = set()
    for name in _names(profile.dns_names, "dns_names"):
        _check_dns_name(name, "dns_names")
        if name.lower() in seen:
            raise PkixError(f"dns_names: {name!r} appears twice")
        seen.add(name.lower())
        general_names.append(asn1_x509.GeneralName(name="dns_name", value=name))
    addresses: set[bytes] = set()
    for text in _names(profile.ip_addresses, "ip_addresses"):
        address = _check_ip(text, "ip_addresses")
        if address.packed in addresses:
            raise PkixError(f"ip_addresses: {text!r} appears twice")
        addresses.add(address.packed)
        general_names.append(asn1_x509.GeneralName(name="ip_address", value=str(address)))
    mailboxes: set[str] = set()
    for address_text in _names(profile.emails, "emails"):
        _check_email(address_text, "emails")
        if address_text in mailboxes:
            raise PkixError(f"emails: {address_text!r} appears twice")
        mailboxes.add(address_text)
        general_names.append(asn1_x509.GeneralName(name="rfc822_name", value=address_text))

    constraints: dict[str, Any] = {"ca": profile.ca}
    if length is not None:
        constraints["path_len_constraint"] = length
    # basicConstraints always, critical (RFC 5280 4.2.1.9 MUST for a CA, MAY otherwise): a
    # request says plainly whether it asks for a CA. keyUsage critical (4.2.1.3 SHOULD).
    extensions: list[dict[str, Any]] = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": constraints}
    ]
    if usages:
        extensions.append({"extn_id": "key_usage", "critical": True, "extn_value": set(usages)})
    if purposes:
        extensions.append(
            {"extn_id": "extended_key_usage", "critical": False, "extn_value": list(purposes)}
        )
    if general_names:  # non-critical: the subject is never empty here (4.2.1.6)
        extensions.append(
            {"extn_id": "subject_alt_name", "critical": False, "extn_value": general_names}
        )
    return subject, asn1_x509.Extensions(extensions)


def build_csr(profile: Profile, *, public_key: bytes, sign: Signer) -> bytes:
    """A DER PKCS#10 certificate request (RFC 2986) for ``public_key``, signed by ``sign``.

    The CertificationRequestInfo (version 1) carries the profile's subject, the public key
    and one extensionRequest attribute (RFC 2985 5.4.2) with basicConstraints (critical),
    keyUsage (critical, when asked for), extKeyUsage and subjectAltName (when asked for).
    It is signed with sha256WithRSAEncryption for an RSA key and ecdsa-with-SHA256 for an
    EC key, and the signature is verified with ``public_key`` before the request is returned.

    Parameters
    ----------
    profile : Profile
        The subject and the requested extensions.
    public_key : bytes
        The key pair's DER SubjectPublicKeyInfo: RSA of at least 2048 bits, or EC on P-256,
        P-384 or P-521. The request carries its canonical DER form.
    sign : Signer
        Signs the DER CertificationRequestInfo with the key pair's private key.

    Returns
    -------
    bytes
        The DER CertificationRequest.

    Raises
    ------
    PkixError
        If the key is not accepted, a key usage does not fit the key (RFC 3279 2.3.1 for
        RSA, RFC 5480 3 for EC), or the signature does not verify.

    Examples
    --------
    >>> from cryptography import x509
    >>> from cryptography.hazmat.primitives import hashes, serialization
    >>> from cryptography.hazmat.primitives.asymmetric import padding, rsa
    >>> key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    >>> spki = key.public_key().public_bytes(
    ...     serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    >>> def sign(data):  # in the workstation: the HSM signs with the stored key pair
    ...     return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    >>> der = build_csr(Profile(subject="CN=KDH 1,O=Bank", key_usage=frozenset(
    ...     {"digital_signature"})), public_key=spki, sign=sign)
    >>> request = x509.load_der_x509_csr(der)
    >>> request.is_signature_valid, request.subject.rfc4514_string()
    (True, 'CN=KDH 1,O=Bank')
    >>> try:
    ...     build_csr(Profile(subject="CN=KDH 1", key_usage=frozenset({"key_agreement"})),
    ...               public_key=spki, sign=sign)
    ... except PkixError as error:
    ...     print(error)
    key_usage: key_agreement does not fit an RSA key (RFC 3279 2.3.1)
    """
    if not isinstance(profile, Profile):
        raise PkixError("profile must be a Profile")
    key = _load_public_key(public_key, "public_key")
    problem = _key_problem(key)
    if problem is not None:
        raise PkixError(f"public_key is {problem}")
    subject, extensions = _requested(profile)
    if isinstance(key, rsa.RSAPublicKey):
        unfit, rule = profile.key_usage - _USAGES_RSA, "an RSA key (RFC 3279 2.3.1)"
        scheme = _SCHEMES["1.2.840.113549.1.1.11"]
        algorithm: dict[str, Any] = {"algorithm": "sha256_rsa", "parameters": asn1.Null()}
    else:
        unfit, rule = profile.key_usage - _USAGES_EC, "an EC key (RFC 5480 3)"
        scheme = _SCHEMES["1.2.840.10045.4.3.2"]
        algorithm = {"algorithm": "sha256_ecdsa"}
    if unfit:
        raise PkixError(f"key_usage: {', '.join(sorted(unfit))} does not fit {rule}")
    if not callable(sign):
        raise PkixError("sign must be a callable that signs bytes")

    info = asn1_csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": subject,
            "subject_pk_info": asn1_keys.PublicKeyInfo.load(_spki(key)),
            "attributes": [{"type": "extension_request", "values": [extensions]}],
        }
    )
    info_der = info.dump()
    signature = sign(info_der)
    if not isinstance(signature, bytes | bytearray) or not signature:
        raise PkixError("sign must return the signature as bytes")
    signature = bytes(signature)
    if not _signed_by(key, scheme, signature, info_der):
        if isinstance(key, ec.EllipticCurvePublicKey) and not _is_der_sequence(signature):
            # PKCS#11 CKM_ECDSA returns r || s; a Signer returns the DER ECDSA-Sig-Value.
            raise PkixError(
                "sign returned an ECDSA signature that is not DER (r || s as PKCS#11 gives "
                "it must be DER-encoded: RFC 5480 Appendix A, ECDSA-Sig-Value)"
            )
        raise PkixError(f"sign's signature does not verify with public_key ({scheme.name})")
    request = asn1_csr.CertificationRequest(
        {
            # the very bytes that were signed
            "certification_request_info": asn1_csr.CertificationRequestInfo.load(info_der),
            "signature_algorithm": asn1_algos.SignedDigestAlgorithm(algorithm),
            "signature": signature,
        }
    )
    return bytes(request.dump())


# --- PEM (RFC 7468) ----------------------------------------------------------------------------


def _pem(label: str, der: bytes) -> str:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[start : start + 64] for start in range(0, len(body), 64)]  # RFC 7468 2
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n"


def _pem_blocks(data: bytes, what: str) -> list[tuple[str, bytes]]:
    """The (label, DER) blocks of PEM text; text outside the blocks is ignored (RFC 7468 2)."""
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PkixError(f"{what} is neither DER nor PEM text") from exc
    blocks: list[tuple[str, bytes]] = []
    label: str | None = None
    body: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        begin = line.startswith("-----BEGIN ") and line.endswith("-----") and len(line) > 16
        end = line.startswith("-----END ") and line.endswith("-----") and len(line) > 14
        if label is None:
            if begin:
                label, body = line[11:-5], []
            elif end:
                raise PkixError(f"{what}: PEM END line without a BEGIN line")
            continue
        if begin:
            raise PkixError(f"{what}: PEM block {len(blocks) + 1} ({label}) has no END line")
        if end:
            if line[9:-5] != label:
                raise PkixError(
                    f"{what}: PEM block {len(blocks) + 1} begins {label} but ends {line[9:-5]}"
                )
            try:
                der = base64.b64decode("".join(body), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise PkixError(
                    f"{what}: PEM block {len(blocks) + 1} ({label}) is not valid base64"
                ) from exc
            blocks.append((label, der))
            label = None
            continue
        body.append("".join(line.split()))
    if label is not None:
        raise PkixError(f"{what}: PEM block {len(blocks) + 1} ({label}) has no END line")
    return blocks


def _is_der(data: bytes) -> bool:
    # A DER certificate, request or ContentInfo starts with a SEQUENCE; PEM text cannot.
    return data[:1] == b"\x30"


def _bytes_argument(data: Any, what: str) -> bytes:
    if not isinstance(data, bytes | bytearray):
        raise PkixError(f"{what} must be bytes")
    if not data:
        raise PkixError(f"{what} is empty")
    return bytes(data)


# --- reading requests --------------------------------------------------------------------------


@dataclass(frozen=True)
class CsrInfo:
    """A certificate request whose signature verified with its own public key.

    ``extensions`` names every requested extension in order (``basicConstraints``,
    ``keyUsage``, ``extKeyUsage``, ``subjectAltName``, ``subjectKeyIdentifier`` ... or the
    dotted OID); the fields below it give the values of the ones a :class:`Profile` asks
    for (subjectAltName entries of other kinds than DNS, IP and email are not listed).
    """

    subject: str
    public_key: bytes = field(repr=False)
    key_type: str  # "RSA-2048", "EC P-256"
    signature_algorithm: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    emails: tuple[str, ...]
    key_usage: frozenset[str]
    extended_key_usage: tuple[str, ...]
    ca: bool
    path_length: int | None
    extensions: tuple[str, ...]


def _request_der(data: Any) -> bytes:
    raw = _bytes_argument(data, "data")
    if _is_der(raw):
        return raw
    blocks = _pem_blocks(raw, "data")
    labels = ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")  # RFC 7468 7
    if len(blocks) != 1 or blocks[0][0] not in labels:
        found = ", ".join(label for label, _ in blocks) or "none"
        raise PkixError(
            f"data must hold one PEM CERTIFICATE REQUEST block (found: {found}) or be DER"
        )
    return blocks[0][1]


def _load_request(der: bytes, what: str) -> tuple[x509.CertificateSigningRequest, Any]:
    try:
        request = x509.load_der_x509_csr(der)
        request.tbs_certrequest_bytes  # noqa: B018 - read now: refused here if malformed
    except x509.InvalidVersion as exc:
        raise PkixError(
            f"{what} version is {exc.parsed_version}, not 0 (v1, RFC 2986 4.1)"
        ) from exc
    except ValueError as exc:
        raise PkixError(f"{what} is not a DER certificate request (PKCS#10)") from exc
    with _parsing(what):
        parsed = asn1_csr.CertificationRequest.load(der, strict=True)
    return request, parsed


def csr_pem(der: bytes) -> str:
    """The PEM text (RFC 7468 7, ``CERTIFICATE REQUEST``) of a DER certificate request.

    The request is parsed first; its signature is not checked here (see :func:`read_csr`).

    Parameters
    ----------
    der : bytes
        A DER CertificationRequest, as :func:`build_csr` returns it.

    Returns
    -------
    str
        ``-----BEGIN CERTIFICATE REQUEST-----``, base64 in lines of 64 characters, the END
        line and a final newline.

    Examples
    --------
    >>> from cryptography.hazmat.primitives import hashes, serialization
    >>> from cryptography.hazmat.primitives.asymmetric import ec
    >>> key = ec.generate_private_key(ec.SECP384R1())
    >>> spki = key.public_key().public_bytes(
    ...     serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    >>> der = build_csr(Profile(subject="CN=HSM 7"), public_key=spki,
    ...                 sign=lambda data: key.sign(data, ec.ECDSA(hashes.SHA256())))
    >>> text = csr_pem(der)
    >>> text.startswith("-----BEGIN CERTIFICATE REQUEST-----\\n"), read_csr(text.encode()).subject
    (True, 'CN=HSM 7')
    """
    raw = _bytes_argument(der, "der")
    _load_request(raw, "der")
    return _pem("CERTIFICATE REQUEST", raw)


def read_csr(data: bytes) -> CsrInfo:
    """Read a certificate request, PEM or DER, and check its signature.

    Refused, each with its own message: anything but one strict DER CertificationRequest
    (or one PEM block holding one); a version other than 1; a key that is not accepted; a
    signature algorithm not accepted or not fitting the key; a signature that does not
    verify with the request's public key (a request altered after signing); an
    extensionRequest attribute that is repeated, has more than one value or repeats an
    extension with different contents.

    Parameters
    ----------
    data : bytes
        DER, or PEM text (``CERTIFICATE REQUEST`` or ``NEW CERTIFICATE REQUEST``).

    Returns
    -------
    CsrInfo
    """
    der = _request_der(data)
    request, parsed = _load_request(der, "certificate request")
    what = "certificate request"
    with _parsing(what):
        info = parsed["certification_request_info"]
        algorithm = parsed["signature_algorithm"]
        attributes = info["attributes"]
        requested: list[Any] = []
        for attribute in [] if isinstance(attributes, asn1.Void) else attributes:
            if attribute["type"].dotted == "1.2.840.113549.1.9.14":
                requested.append(attribute["values"])
    key = _load_public_key(info["subject_pk_info"].dump(), f"{what} public key")
    problem = _key_problem(key)
    if problem is not None:
        raise PkixError(f"{what} has {problem}")
    scheme = _scheme(algorithm)
    if isinstance(scheme, str):
        raise PkixError(f"{what} is signed with {scheme}, which is not accepted ({_ACCEPTED})")
    if not _signed_by(key, scheme, request.signature, request.tbs_certrequest_bytes):
        raise PkixError(f"{what} signature does not verify with its public key")
    if len(requested) > 1:
        raise PkixError(f"{what} has more than one extensionRequest attribute")
    extensions: Any = asn1.Void()
    if requested:
        if len(requested[0]) != 1:
            raise PkixError(f"{what} extensionRequest attribute must have exactly one value")
        extensions = requested[0][0]
    found = _read_extensions(extensions, what)
    return CsrInfo(
        subject=_name_text(request.subject),
        public_key=_spki(key),
        key_type=_key_type(key),
        signature_algorithm=scheme.name,
        dns_names=found.dns_names,
        ip_addresses=found.ip_addresses,
        emails=found.emails,
        key_usage=found.key_usage or frozenset(),
        extended_key_usage=tuple(_eku_name(oid) for oid in found.extended_key_usage or ()),
        ca=found.ca,
        path_length=found.path_length,
        extensions=tuple(_EXTENSION_NAMES.get(oid, oid) for oid in found.oids),
    )


# --- extensions --------------------------------------------------------------------------------

_EXTENSION_NAMES = {
    "2.5.29.19": "basicConstraints",
    "2.5.29.15": "keyUsage",
    "2.5.29.37": "extKeyUsage",
    "2.5.29.17": "subjectAltName",
    "2.5.29.14": "subjectKeyIdentifier",
    "2.5.29.35": "authorityKeyIdentifier",
    "2.5.29.32": "certificatePolicies",
    "2.5.29.31": "cRLDistributionPoints",
    "1.3.6.1.5.5.7.1.1": "authorityInfoAccess",
    "2.5.29.30": "nameConstraints",
    "2.5.29.33": "policyMappings",
    "2.5.29.36": "policyConstraints",
    "2.5.29.54": "inhibitAnyPolicy",
    "2.5.29.18": "issuerAltName",
    "2.5.29.9": "subjectDirectoryAttributes",
    "2.5.29.20": "cRLNumber",
    "2.5.29.21": "reasonCode",
    "2.5.29.24": "invalidityDate",
    "2.5.29.27": "deltaCRLIndicator",
    "2.5.29.28": "issuingDistributionPoint",
    "2.5.29.29": "certificateIssuer",
    "2.5.29.46": "freshestCRL",
}
# Certificate extensions whose being critical changes nothing decided here: processed
# (the first four, and the key identifiers used to explain a failed signature), or
# informational. certificatePolicies: with no policy processing (any-policy as the initial
# policy set and no explicit policy required, RFC 5280 6.1.1) a critical one cannot fail
# a path; policyConstraints and inhibitAnyPolicy, which could, are refused when critical.
_UNDERSTOOD = frozenset(
    {
        "2.5.29.19",
        "2.5.29.15",
        "2.5.29.37",
        "2.5.29.17",
        "2.5.29.14",
        "2.5.29.35",
        "2.5.29.32",
        "2.5.29.31",
        "1.3.6.1.5.5.7.1.1",
    }
)
# CRL and CRL entry extensions understood here (RFC 5280 5.2, 5.3). issuingDistributionPoint,
# deltaCRLIndicator and certificateIssuer (indirect CRLs) are not, and are always critical.
_UNDERSTOOD_CRL = frozenset({"2.5.29.20", "2.5.29.35", "2.5.29.21", "2.5.29.24", "2.5.29.46"})


# The extensions whose values are read.
_READ = frozenset({"2.5.29.19", "2.5.29.15", "2.5.29.37", "2.5.29.17", "2.5.29.14", "2.5.29.35"})


def _extension_label(oid: str) -> str:
    name = _EXTENSION_NAMES.get(oid)
    return oid if name is None else f"{name} ({oid})"


@dataclass(frozen=True)
class _Extensions:
    oids: tuple[str, ...] = ()
    unprocessed_critical: tuple[str, ...] = ()
    ca: bool = False
    path_length: int | None = None
    key_usage: frozenset[str] | None = None  # None: no keyUsage extension
    extended_key_usage: tuple[str, ...] | None = None  # dotted OIDs; None: no extension
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    key_identifier: bytes | None = None
    authority_key_identifier: bytes | None = None


def _read_extensions(extensions: Any, what: str) -> _Extensions:
    """The values of the extensions this module uses.

    RFC 5280 4.2 allows one instance of an extension; a repeat with the very same encoding
    is tolerated (the published TR-34-2019 sample KDH 1 certificate, B.2.1.5, repeats
    basicConstraints and keyUsage), a repeat that differs is refused."""
    if isinstance(extensions, asn1.Void):
        return _Extensions()
    seen: dict[str, bytes] = {}
    critical: list[str] = []
    values: dict[str, Any] = {}
    with _parsing(what):
        for extension in extensions:
            oid = extension["extn_id"].dotted
            encoded = extension.dump()
            if oid in seen:
                if seen[oid] != encoded:
                    raise PkixError(f"{what} has two different {_extension_label(oid)} extensions")
                continue
            seen[oid] = encoded
            if extension["critical"].native and oid not in _UNDERSTOOD:
                critical.append(oid)
            if oid in _READ:
                with _parsing(f"{what}: its {_extension_label(oid)} extension"):
                    values[oid] = extension["extn_value"].parsed
                    if oid != "2.5.29.17":  # read below, without IDNA decoding
                        values[oid].native  # noqa: B018 - parse it all now
    ca, length = False, None
    if "2.5.29.19" in values:
        with _parsing(f"{what}: its basicConstraints extension"):
            ca = bool(values["2.5.29.19"]["ca"].native)
            length = values["2.5.29.19"]["path_len_constraint"].native
        if length is not None and length < 0:
            raise PkixError(f"{what}: its basicConstraints pathLenConstraint is negative")
    usage = None
    if "2.5.29.15" in values:
        usage = frozenset(values["2.5.29.15"].native)
    purposes = None
    if "2.5.29.37" in values:
        purposes = tuple(purpose.dotted for purpose in values["2.5.29.37"])
    dns: list[str] = []
    ips: list[str] = []
    emails: list[str] = []
    if "2.5.29.17" in values:
        with _parsing(f"{what}: its subjectAltName extension"):
            for general_name in values["2.5.29.17"]:
                # IA5String as written: asn1crypto's .native would decode IDNA A-labels
                if general_name.name == "dns_name":
                    dns.append(general_name.chosen.contents.decode("ascii"))
                elif general_name.name == "rfc822_name":
                    emails.append(general_name.chosen.contents.decode("ascii"))
                elif general_name.name == "ip_address":
                    packed = general_name.chosen.contents
                    if len(packed) not in (4, 16):
                        raise PkixError(f"{what}: its subjectAltName has a malformed iPAddress")
                    ips.append(str(ipaddress.ip_address(packed)))
    key_id = authority_key_id = None
    with _parsing(what):
        if "2.5.29.14" in values:
            key_id = bytes(values["2.5.29.14"].native)
        if "2.5.29.35" in values:
            identifier = values["2.5.29.35"]["key_identifier"].native
            authority_key_id = None if identifier is None else bytes(identifier)
    return _Extensions(
        oids=tuple(seen),
        unprocessed_critical=tuple(critical),
        ca=ca,
        path_length=length,
        key_usage=usage,
        extended_key_usage=purposes,
        dns_names=tuple(dns),
        ip_addresses=tuple(ips),
        emails=tuple(emails),
        key_identifier=key_id,
        authority_key_identifier=authority_key_id,
    )


# --- certificates and CRLs ---------------------------------------------------------------------


def _show(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _serial_text(serial: int) -> str:
    return f"0x{serial:X}" if serial >= 0 else f"-0x{-serial:X}"


@dataclass(frozen=True)
class _Certificate:
    der: bytes
    label: str  # 'certificate "CN=...,O=..." (serial 0x...)', for messages
    subject: str
    issuer: str
    subject_name: Any  # asn1crypto Name, for RFC 5280 7.1 matching
    issuer_name: Any
    serial: int
    version: int  # 1, 2 or 3
    not_before: datetime
    not_after: datetime
    key: Any  # None when the key cannot be read
    key_problem: str | None
    spki: bytes  # canonical DER SubjectPublicKeyInfo; empty when the key cannot be read
    key_ids: frozenset[bytes]  # subjectKeyIdentifier and RFC 5280 4.2.1.2 method 1
    scheme: _Scheme | str
    signature: bytes
    tbs: bytes
    extensions: _Extensions

    @property
    def self_issued(self) -> bool:
        return _same_name(self.subject_name, self.issuer_name)


def _load_certificate(der: Any, what: str) -> _Certificate:
    if not isinstance(der, bytes | bytearray):
        raise PkixError(f"{what} must be DER bytes")
    der = bytes(der)
    hint = " (PEM: read it with read_certificates)" if der.lstrip()[:5] == b"-----" else ""
    try:
        cert = x509.load_der_x509_certificate(der)
        subject, issuer = _name_text(cert.subject), _name_text(cert.issuer)
        serial = cert.serial_number
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
        signature, tbs = cert.signature, cert.tbs_certificate_bytes
    except x509.InvalidVersion as exc:
        raise PkixError(
            f"{what} is not a DER X.509 certificate (version {exc.parsed_version} is not "
            "v1, v2 or v3)"
        ) from exc
    except ValueError as exc:
        raise PkixError(f"{what} is not a DER X.509 certificate{hint}") from exc
    label = f'certificate "{subject}" (serial {_serial_text(serial)})'
    with _parsing(label):
        parsed = asn1_x509.Certificate.load(der, strict=True)
        fields = parsed["tbs_certificate"]
        version = int(fields["version"].native[1:])  # "v1", "v2", "v3"
        if parsed["signature_algorithm"].dump() != fields["signature"].dump():
            raise PkixError(
                f"{label} is malformed: its two signature algorithm fields differ "
                "(RFC 5280 4.1.1.2)"
            )
        scheme = _scheme(parsed["signature_algorithm"])
        bits = fields["subject_public_key_info"]["public_key"].contents[1:]
        subject_name, issuer_name = fields["subject"], fields["issuer"]
        subject_name.native  # noqa: B018
        issuer_name.native  # noqa: B018
        extension_values = fields["extensions"]
    found = _read_extensions(extension_values, label)
    try:
        key: Any = cert.public_key()
        key_problem = _key_problem(key)
        spki = _spki(key)
    except (ValueError, UnsupportedAlgorithm):
        key, key_problem, spki = None, "a public key that cannot be read", b""
    method_1 = hashlib.sha1(bits, usedforsecurity=False).digest()  # RFC 5280 4.2.1.2 (1)
    key_ids = {method_1} | ({found.key_identifier} if found.key_identifier else set())
    return _Certificate(
        der=der,
        label=label,
        subject=subject,
        issuer=issuer,
        subject_name=subject_name,
        issuer_name=issuer_name,
        serial=serial,
        version=version,
        not_before=not_before,
        not_after=not_after,
        key=key,
        key_problem=key_problem,
        spki=spki,
        key_ids=frozenset(key_ids),
        scheme=scheme,
        signature=signature,
        tbs=tbs,
        extensions=found,
    )


@dataclass(frozen=True)
class _Crl:
    crl: x509.CertificateRevocationList
    issuer_name: Any
    this_update: datetime
    next_update: datetime | None
    scheme: _Scheme | str
    unprocessed_critical: tuple[str, ...]


def _load_crl(der: Any, what: str) -> _Crl:
    if not isinstance(der, bytes | bytearray):
        raise PkixError(f"{what} must be DER bytes")
    der = bytes(der)
    try:
        crl = x509.load_der_x509_crl(der)
        this_update, next_update = crl.last_update_utc, crl.next_update_utc
        critical = [ext.oid.dotted_string for ext in crl.extensions if ext.critical]
        for entry in crl:
            critical += [ext.oid.dotted_string for ext in entry.extensions if ext.critical]
        crl.tbs_certlist_bytes  # noqa: B018
    except (ValueError, x509.DuplicateExtension) as exc:
        raise PkixError(f"{what} is not a DER X.509 CRL") from exc
    with _parsing(what):
        parsed = asn1_crl.CertificateList.load(der, strict=True)
        issuer_name = parsed["tbs_cert_list"]["issuer"]
        issuer_name.native  # noqa: B018
        if parsed["signature_algorithm"].dump() != parsed["tbs_cert_list"]["signature"].dump():
            raise PkixError(
                f"{what} is malformed: its two signature algorithm fields differ (RFC 5280 5.1.1.2)"
            )
        scheme = _scheme(parsed["signature_algorithm"])
    unprocessed = tuple(dict.fromkeys(oid for oid in critical if oid not in _UNDERSTOOD_CRL))
    return _Crl(crl, issuer_name, this_update, next_update, scheme, unprocessed)


def _sequence(values: Any, what: str, kind: str) -> Sequence[Any]:
    if isinstance(values, bytes | bytearray | str) or not isinstance(values, Sequence):
        raise PkixError(f"{what} must be a sequence of {kind}, not {type(values).__name__}")
    return values


# --- validation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidatedCertificate:
    """A certificate that passed :func:`validate_certificate`, and its path.

    ``key_usage`` is empty and ``extended_key_usage`` is empty when the certificate has no
    such extension. ``extended_key_usage`` gives known purposes by name (``server_auth``)
    and others as dotted OIDs.
    """

    subject: str
    issuer: str
    serial: int
    not_before: datetime
    not_after: datetime
    public_key: bytes = field(repr=False)
    chain: tuple[bytes, ...] = field(repr=False)  # leaf .. anchor, DER
    key_usage: frozenset[str]
    extended_key_usage: tuple[str, ...]
    dns_names: tuple[str, ...]


def _join(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _unsigned(certificate: _Certificate, named: list[_Certificate]) -> PkixError:
    """Why no certificate bearing the issuer's name verifies ``certificate``'s signature.

    The authority key identifier (RFC 5280 4.2.1.1) tells the two cases apart: if it names
    the key of a certificate with the issuer's name, that key should have verified the
    signature, so the signature (or the signed content) was altered; otherwise another key,
    under the same name, signed it."""
    for candidate in named:
        if candidate.key is None:
            return PkixError(f"{candidate.label} has {candidate.key_problem}")
    labels = [candidate.label for candidate in named]
    wanted = certificate.extensions.authority_key_identifier
    if wanted is None:
        return PkixError(
            f"{certificate.label} has a bad signature or is wrongly issued: it does not verify "
            f"with the key of {_join(labels)}, and it has no authority key identifier to tell "
            "which"
        )
    claimed = [candidate for candidate in named if wanted in candidate.key_ids]
    if claimed:
        return PkixError(
            f"{certificate.label} has a bad signature: it does not verify with the key of its "
            f"issuer {claimed[0].label}"
        )
    verb = "has" if len(labels) == 1 else "have"
    return PkixError(
        f"{certificate.label} is wrongly issued: {_join(labels)} {verb} its issuer's name but "
        "not the key that signed it"
    )


def _build_path(
    leaf: _Certificate,
    anchors: list[_Certificate],
    intermediates: list[_Certificate],
    now: datetime,
) -> list[_Certificate]:
    """leaf .. anchor, each certificate's issuer found by name and signature.

    Among several issuers that verify a signature, an anchor comes first, then one valid at
    ``now``; there is no backtracking."""
    anchor_ders = {anchor.der for anchor in anchors}
    path = [leaf]
    while path[-1].der not in anchor_ders:
        current = path[-1]
        used = {certificate.der for certificate in path}
        named = [
            candidate
            for candidate in (*anchors, *intermediates)
            if candidate.der not in used and _same_name(candidate.subject_name, current.issuer_name)
        ]
        if not named:
            if current.self_issued:
                raise PkixError(
                    f"{current.label} is wrongly issued: it is self-issued and not an anchor"
                )
            raise PkixError(
                f"{current.label} is wrongly issued: its issuer {current.issuer} is none of the "
                "intermediates or anchors"
            )
        if isinstance(current.scheme, str):
            raise PkixError(
                f"{current.label} is signed with {current.scheme}, which is not accepted "
                f"({_ACCEPTED})"
            )
        scheme = current.scheme
        signers = [
            candidate
            for candidate in named
            if _signed_by(candidate.key, scheme, current.signature, current.tbs)
        ]
        if not signers:
            raise _unsigned(current, named)
        signers.sort(
            key=lambda c: (c.der not in anchor_ders, not c.not_before <= now <= c.not_after)
        )
        path.append(signers[0])
    return path


def _check_revocation(
    certificate: _Certificate,
    issuer: _Certificate,
    crls: list[_Crl],
    now: datetime,
    require_crl: bool,
) -> None:
    """RFC 5280 6.3, simplified: every CRL in the issuer's name is checked and used."""
    own = [crl for crl in crls if _same_name(crl.issuer_name, issuer.subject_name)]
    if not own and require_crl:
        raise PkixError(
            f"{certificate.label} cannot be checked for revocation: no CRL of {issuer.subject} "
            "was given"
        )
    for crl in own:
        which = f"{certificate.label}: the CRL of {issuer.subject}"
        usage = issuer.extensions.key_usage
        if usage is not None and "crl_sign" not in usage:  # RFC 5280 6.3.3 (f)
            raise PkixError(f"{which} is signed by {issuer.label}, whose keyUsage lacks crl_sign")
        if isinstance(crl.scheme, str):
            raise PkixError(f"{which} is signed with {crl.scheme}, which is not accepted")
        tbs = crl.crl.tbs_certlist_bytes
        if not _signed_by(issuer.key, crl.scheme, crl.crl.signature, tbs):
            raise PkixError(f"{which} has a bad signature")
        if crl.unprocessed_critical:
            label = _extension_label(crl.unprocessed_critical[0])
            raise PkixError(f"{which} has a critical extension {label} that is not processed here")
        if now < crl.this_update:
            raise PkixError(f"{which} is not yet valid (this update {_show(crl.this_update)})")
        if crl.next_update is None:  # RFC 5280 5.1.2.5: conforming CRLs have one
            raise PkixError(f"{which} has no next update, so it cannot be shown current")
        if now > crl.next_update:
            raise PkixError(f"{which} is out of date (next update {_show(crl.next_update)})")
        entry = crl.crl.get_revoked_certificate_by_serial_number(certificate.serial)
        if entry is not None:
            reason = ""
            for extension in entry.extensions:
                if isinstance(extension.value, x509.CRLReason):
                    reason = f", {extension.value.reason.value}"
            raise PkixError(
                f"{certificate.label} is revoked: the CRL of {issuer.subject} lists it "
                f"(revoked {_show(entry.revocation_date_utc)}{reason})"
            )


def _check_issuer(issuer: _Certificate, index: int, path: list[_Certificate]) -> None:
    """RFC 5280 6.1.4 (k), (l), (m), (n) for the certificate at ``path[index]``, which issued
    ``path[index - 1]``."""
    issued = path[index - 1]
    is_anchor = index == len(path) - 1
    extensions = issuer.extensions
    # A version 1 anchor predates basicConstraints; as an anchor it is trusted as a CA.
    if not extensions.ca and not (is_anchor and issuer.version == 1):
        raise PkixError(
            f"{issuer.label} is not a CA (basicConstraints cA is not set), yet it issued "
            f"{issued.label}"
        )
    if extensions.key_usage is not None and "key_cert_sign" not in extensions.key_usage:
        raise PkixError(
            f"{issuer.label} may not sign certificates (keyUsage lacks key_cert_sign), yet it "
            f"issued {issued.label}"
        )
    if extensions.path_length is not None:
        # Non-self-issued intermediate certificates between it and the leaf (6.1.4 (l), (m)).
        below = sum(1 for certificate in path[1:index] if not certificate.self_issued)
        if below > extensions.path_length:
            follow = "CA certificate follows" if below == 1 else "CA certificates follow"
            raise PkixError(
                f"{issuer.label} exceeds its path length: its pathLenConstraint is "
                f"{extensions.path_length} but {below} {follow} it"
            )


def validate_certificate(
    certificate: bytes,
    *,
    anchors: Sequence[bytes],
    intermediates: Sequence[bytes] = (),
    crls: Sequence[bytes] = (),
    now: datetime,
    key_usage: frozenset[str] = frozenset(),
    extended_key_usage: tuple[str, ...] = (),
    public_key: bytes | None = None,
    require_crl: bool = False,
) -> ValidatedCertificate:
    """Validate ``certificate`` through ``intermediates`` to one of ``anchors`` at ``now``.

    Anchors are trusted as given, self-signed or not: their own signature and issuer are
    not checked, but their key, validity, critical extensions and CA constraints are. The
    checks, in this order, each refusal naming the certificate by subject and serial:

    1. the arguments parse (each certificate and CRL strictly), and, when ``public_key`` is
       given, the certificate certifies that key;
    2. the path, built from the certificate upwards: an issuer among the intermediates and
       anchors whose subject matches the issuer name and whose key verifies the signature
       (else *wrongly issued*: no issuer, or an issuer with the name but not the key; or
       *bad signature*: the authority key identifier names the issuer's key, yet the
       signature does not verify);
    3. for each certificate from the leaf up to the anchor: its key (RSA of 2048 bits or
       more, EC P-256/384/521), its critical extensions, its validity at ``now``; for an
       issuer: basicConstraints cA, keyCertSign and pathLenConstraint; for every
       certificate but the anchor: the CRLs in its issuer's name (signature by the issuer,
       cRLSign, critical extensions, this and next update at ``now``, then the serial
       number not listed), and with ``require_crl`` at least one such CRL;
    4. the leaf's keyUsage and extendedKeyUsage include what is required (a certificate
       without the extension does not).

    Parameters
    ----------
    certificate : bytes
        The DER certificate to validate (the leaf).
    anchors : sequence of bytes
        DER certificates of the trust anchors.
    intermediates : sequence of bytes
        DER certificates that may complete the path, in any order; unrelated ones are
        ignored.
    crls : sequence of bytes
        DER CRLs; those not in the name of an issuer on the path are ignored.
    now : datetime
        The time of the check (timezone-aware).
    key_usage : frozenset of str
        The keyUsage bits the leaf must have (names as in :class:`Profile`).
    extended_key_usage : tuple of str
        The key purposes the leaf must have (names or dotted OIDs); anyExtendedKeyUsage
        does not stand in for a named purpose.
    public_key : bytes or None
        The key pair's DER SubjectPublicKeyInfo, when the certificate must certify it.
    require_crl : bool
        Refuse a path in which a certificate has no CRL of its issuer.

    Returns
    -------
    ValidatedCertificate

    Examples
    --------
    A CA (the anchor) issues a certificate for a key pair; a day after it expires it is
    refused:

    >>> from datetime import UTC, datetime
    >>> from cryptography import x509
    >>> from cryptography.hazmat.primitives import hashes, serialization
    >>> from cryptography.hazmat.primitives.asymmetric import ec
    >>> from cryptography.x509.oid import NameOID
    >>> def name(text):
    ...     return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])
    >>> def issue(subject, key, issuer, issuer_key, serial, ca):
    ...     builder = (x509.CertificateBuilder().subject_name(name(subject))
    ...         .issuer_name(name(issuer)).public_key(key.public_key()).serial_number(serial)
    ...         .not_valid_before(datetime(2026, 1, 1, tzinfo=UTC))
    ...         .not_valid_after(datetime(2027, 1, 1, tzinfo=UTC))
    ...         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    ...     return builder.sign(issuer_key, hashes.SHA256()).public_bytes(
    ...         serialization.Encoding.DER)
    >>> ca_key = ec.generate_private_key(ec.SECP384R1())
    >>> key = ec.generate_private_key(ec.SECP256R1())  # in the workstation: in the HSM
    >>> root = issue("Bank Root", ca_key, "Bank Root", ca_key, 1, True)
    >>> leaf = issue("atm-0042", key, "Bank Root", ca_key, 0x1001, False)
    >>> checked = validate_certificate(leaf, anchors=[root], now=datetime(2026, 6, 1, tzinfo=UTC))
    >>> checked.subject, checked.issuer, len(checked.chain)
    ('CN=atm-0042', 'CN=Bank Root', 2)
    >>> try:
    ...     validate_certificate(leaf, anchors=[root], now=datetime(2027, 1, 2, tzinfo=UTC))
    ... except PkixError as error:
    ...     print(error)
    certificate "CN=atm-0042" (serial 0x1001) has expired (not after 2027-01-01T00:00:00Z)
    """
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise PkixError("now must be a timezone-aware datetime")
    moment = now.astimezone(UTC)
    required_usage = _check_key_usage(key_usage, "key_usage")
    required_purposes = _check_eku(extended_key_usage, "extended_key_usage")
    if not isinstance(require_crl, bool):
        raise PkixError("require_crl must be True or False")
    leaf = _load_certificate(certificate, "certificate")
    anchor_list = [
        _load_certificate(der, f"anchors[{index}]")
        for index, der in enumerate(_sequence(anchors, "anchors", "DER certificates"))
    ]
    if not anchor_list:
        raise PkixError("anchors is empty: give at least one trust anchor")
    intermediate_list = [
        _load_certificate(der, f"intermediates[{index}]")
        for index, der in enumerate(_sequence(intermediates, "intermediates", "DER certificates"))
    ]
    crl_list = [
        _load_crl(der, f"crls[{index}]")
        for index, der in enumerate(_sequence(crls, "crls", "DER CRLs"))
    ]
    if public_key is not None:
        wanted = _spki(_load_public_key(public_key, "public_key"))
        if leaf.spki != wanted:
            raise PkixError(
                f"{leaf.label} does not certify this key pair: its public key is not public_key"
            )

    path = _build_path(leaf, anchor_list, intermediate_list, moment)
    for index, current in enumerate(path):
        if current.key_problem is not None:
            raise PkixError(f"{current.label} has {current.key_problem}")
        if current.extensions.unprocessed_critical:
            label = _extension_label(current.extensions.unprocessed_critical[0])
            raise PkixError(f"{current.label} has an unknown critical extension {label}")
        # RFC 5280 4.1.2.5: the validity period includes both ends.
        if moment < current.not_before:
            raise PkixError(
                f"{current.label} is not yet valid (not before {_show(current.not_before)})"
            )
        if moment > current.not_after:
            raise PkixError(f"{current.label} has expired (not after {_show(current.not_after)})")
        if index > 0:
            _check_issuer(current, index, path)
        if index < len(path) - 1:
            _check_revocation(current, path[index + 1], crl_list, moment, require_crl)

    usage = leaf.extensions.key_usage
    if required_usage:
        wanted_usage = ", ".join(sorted(required_usage))
        if usage is None:
            raise PkixError(f"{leaf.label} has no keyUsage extension; {wanted_usage} is required")
        missing = sorted(required_usage - usage)
        if missing:
            raise PkixError(f"{leaf.label} key usage lacks {', '.join(missing)}")
    purposes = leaf.extensions.extended_key_usage
    if required_purposes:
        if purposes is None:
            wanted_purposes = ", ".join(_eku_name(oid) for oid in required_purposes)
            raise PkixError(
                f"{leaf.label} has no extendedKeyUsage extension; {wanted_purposes} is required"
            )
        absent = [_eku_name(oid) for oid in required_purposes if oid not in purposes]
        if absent:
            raise PkixError(f"{leaf.label} extended key usage lacks {', '.join(absent)}")
    return ValidatedCertificate(
        subject=leaf.subject,
        issuer=leaf.issuer,
        serial=leaf.serial,
        not_before=leaf.not_before,
        not_after=leaf.not_after,
        public_key=leaf.spki,
        chain=tuple(certificate.der for certificate in path),
        key_usage=usage or frozenset(),
        extended_key_usage=tuple(_eku_name(oid) for oid in purposes or ()),
        dns_names=leaf.extensions.dns_names,
    )


# --- reading certificates ----------------------------------------------------------------------


def _certificate_der(der: bytes, what: str) -> bytes:
    try:
        x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise PkixError(f"{what} is not a DER X.509 certificate") from exc
    return der


def _bundle(der: bytes, what: str) -> list[bytes]:
    """The certificates of a PKCS#7 / CMS SignedData (a P7B bundle), in order."""
    with _parsing(what):
        info = asn1_cms.ContentInfo.load(der, strict=True)
        content_type = info["content_type"].native
    if content_type != "signed_data":
        raise PkixError(f"{what} is a PKCS#7 {content_type}, not a signedData bundle")
    found: list[bytes] = []
    with _parsing(what):
        certificates = info["content"]["certificates"]
        choices = [] if isinstance(certificates, asn1.Void) else list(certificates)
        for number, choice in enumerate(choices, 1):
            if choice.name != "certificate":
                raise PkixError(f"{what} holds a {choice.name} where a certificate belongs")
            found.append(_certificate_der(choice.chosen.dump(), f"{what} certificate {number}"))
    if not found:
        raise PkixError(f"{what} holds no certificate")
    return found


def _from_der(der: bytes, what: str) -> list[bytes]:
    try:
        first = asn1.Sequence.load(der, strict=True).contents[:1]
    except _PARSE_ERRORS as exc:
        raise PkixError(f"{what} is not a DER certificate or PKCS#7 bundle") from exc
    if first == b"\x06":  # a ContentInfo starts with its content type OID
        return _bundle(der, what)
    return [_certificate_der(der, what)]


def read_certificates(data: bytes) -> list[bytes]:
    """The DER certificates in ``data``: PEM, DER, or a PKCS#7 bundle (P7B), in their order.

    ``data`` starting with a SEQUENCE byte is DER: one certificate, or a ContentInfo
    holding a signedData whose ``certificates`` are read (its CRLs and signers, if any, are
    ignored). Anything else is PEM text: every ``CERTIFICATE`` block and every ``PKCS7``
    or ``CMS`` block (a P7B) is read; text between blocks is ignored; a block with another
    label (a private key, a CRL) is refused. Each certificate is parsed, not validated.

    Parameters
    ----------
    data : bytes
        The file's contents.

    Returns
    -------
    list of bytes
        The DER certificates, at least one.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from cryptography import x509
    >>> from cryptography.hazmat.primitives import hashes, serialization
    >>> from cryptography.hazmat.primitives.asymmetric import ec
    >>> from cryptography.x509.oid import NameOID
    >>> def self_signed(text):
    ...     key = ec.generate_private_key(ec.SECP256R1())
    ...     name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])
    ...     return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
    ...         .public_key(key.public_key()).serial_number(1)
    ...         .not_valid_before(datetime(2026, 1, 1, tzinfo=UTC))
    ...         .not_valid_after(datetime(2027, 1, 1, tzinfo=UTC))
    ...         .sign(key, hashes.SHA256()))
    >>> first, second = self_signed("Root A"), self_signed("Root B")
    >>> bundle = b"Root A\\n" + b"".join(
    ...     c.public_bytes(serialization.Encoding.PEM) for c in (first, second))
    >>> [x509.load_der_x509_certificate(d).subject.rfc4514_string()
    ...  for d in read_certificates(bundle)]
    ['CN=Root A', 'CN=Root B']
    >>> try:
    ...     read_certificates(b"-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----")
    ... except PkixError as error:
    ...     print(error)
    PEM block 1 is a PRIVATE KEY, not a CERTIFICATE or PKCS7 bundle
    """
    raw = _bytes_argument(data, "data")
    if _is_der(raw):
        return _from_der(raw, "data")
    blocks = _pem_blocks(raw, "data")
    if not blocks:
        raise PkixError("data holds no certificate: it is neither DER nor PEM with BEGIN lines")
    found: list[bytes] = []
    for number, (label, der) in enumerate(blocks, 1):
        what = f"PEM block {number}"
        if label == "CERTIFICATE":
            found.append(_certificate_der(der, what))
        elif label in ("PKCS7", "CMS"):
            found.extend(_bundle(der, what))
        else:
            raise PkixError(f"{what} is a {label}, not a CERTIFICATE or PKCS7 bundle")
    return found
