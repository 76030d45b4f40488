"""ATM remote key loading (ANSI X9.24-2): the host's key pair per ATM vendor, as records.

In remote key loading the host proves itself to an ATM's encrypting PIN pad (EPP) with a
key pair the ATM's vendor vouches for. Vendors do it in one of two styles:

- **certificate**: the vendor's CA issues an X.509 certificate for the host's public key
  (the TR-34 style of RKL); the EPP holds the vendor's CA certificate;
- **signature**: the vendor signs the host's public key with its own private key; the EPP
  holds the vendor's public key and checks that signature.

An :class:`AtmVendor` is the profile of one vendor: its style, the key pair template the
host keys are made from, and either the partner whose CA certificates and CRLs are the
anchors (certificate style) or the vendor's RSA public key, the signature scheme and what
is signed (signature style). An :class:`RklHostKey` links a key pair of the inventory to
its vendor and says how far it has come: awaiting its certificate or signature, or ready
to be handed to the host HSM. Both are sealed documents (``workstation.domain.documents``).

What a signature vendor signs is the DER of the host's RSA public key in one of two forms,
as the vendor's documentation says: ``spki``, the X.509 SubjectPublicKeyInfo (RFC 5280
4.1.2.7), or ``pkcs1``, the bare RSAPublicKey (RFC 8017 A.1.1). The scheme is
RSASSA-PKCS1-v1_5 (RFC 8017 8.2) or RSASSA-PSS (RFC 8017 8.1, MGF1), with SHA-256.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Self

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from workstation.domain.documents import document_binding
from workstation.domain.records import format_time, parse_time
from workstation.errors import BadInput

__all__ = [
    "MIN_VENDOR_RSA_BITS",
    "SIGNATURE_SCHEMES",
    "SIGNED_FORMS",
    "VENDOR_STYLES",
    "AtmVendor",
    "RklHostKey",
    "RklStatus",
    "SignatureCheck",
    "check_signature",
    "check_vendor_name",
    "fingerprint",
    "host_key_material",
    "read_signature",
    "read_vendor_key",
]

VENDOR_STYLES: dict[str, str] = {
    "certificate": "the vendor's CA certifies the host's public key (X.509)",
    "signature": "the vendor signs the host's public key with its private key",
}
SIGNATURE_SCHEMES: dict[str, str] = {
    "pkcs1v15": "RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 8.2)",
    "pss": "RSASSA-PSS with SHA-256 and MGF1-SHA-256 (RFC 8017 8.1)",
}
SIGNED_FORMS: dict[str, str] = {
    "spki": "SubjectPublicKeyInfo DER (RFC 5280 4.1.2.7)",
    "pkcs1": "RSAPublicKey DER (PKCS #1, RFC 8017 A.1.1)",
}
# NIST SP 800-131A Rev. 2 (section 2): RSA keys shorter than 2048 bits are disallowed for
# digital signatures; a vendor key vouching for host keys is held to that.
MIN_VENDOR_RSA_BITS = 2048

_NAME = re.compile(r"^[\w .,&()'/-]{1,80}$")
# RFC 8017 9.2 note 1: the DER of DigestInfo for SHA-256, ahead of the hash in EMSA-PKCS1-v1_5.
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def check_vendor_name(name: str) -> str:
    """A vendor profile's name as shown and audited: 1-80 printable characters."""
    text = name.strip()
    if not _NAME.fullmatch(text):
        raise BadInput(
            f"Vendor name {name!r} is not valid: use 1 to 80 letters, digits, spaces "
            "and . , & ( ) ' / -."
        )
    return text


def fingerprint(der: bytes) -> str:
    """SHA-256 of DER bytes (a public key, a certificate), upper-case hexadecimal."""
    return hashlib.sha256(der).hexdigest().upper()


def read_vendor_key(data: bytes | str) -> tuple[rsa.RSAPublicKey, bytes]:
    """A vendor's RSA public key from SubjectPublicKeyInfo PEM (or DER): the key and its
    SubjectPublicKeyInfo DER. BadInput names what is wrong."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    try:
        if raw.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(raw)
        else:
            key = serialization.load_der_public_key(raw)
    except (ValueError, UnsupportedAlgorithm):
        raise BadInput(
            "The vendor's public key is not a public key in SubjectPublicKeyInfo form "
            "(PEM '-----BEGIN PUBLIC KEY-----' or DER)."
        ) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadInput(
            f"The vendor's public key is {type(key).__name__.removeprefix('_')}; signature "
            "vendors sign with RSA keys."
        )
    if key.key_size < MIN_VENDOR_RSA_BITS:
        raise BadInput(
            f"The vendor's public key is RSA-{key.key_size}; at least RSA-{MIN_VENDOR_RSA_BITS} "
            "is accepted (NIST SP 800-131A Rev. 2: shorter RSA keys are disallowed for "
            "signatures)."
        )
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, spki


def host_key_material(public_key_spki: bytes, form: str) -> bytes:
    """What the vendor signs: the host's RSA public key as SubjectPublicKeyInfo DER
    (``spki``) or as PKCS #1 RSAPublicKey DER (``pkcs1``)."""
    if form not in SIGNED_FORMS:
        raise BadInput(f"Signed form {form!r} is not one of: {', '.join(SIGNED_FORMS)}.")
    key = serialization.load_der_public_key(public_key_spki)
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadInput("The host key is not an RSA key pair; signature vendors sign RSA keys.")
    if form == "spki":
        return public_key_spki
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


_HEX_TEXT = re.compile(rb"^[0-9A-Fa-f\s]+$")
_BASE64_TEXT = re.compile(rb"^[A-Za-z0-9+/=\s]+$")


def read_signature(data: bytes) -> bytes:
    r"""A vendor's signature as its file holds it: the raw bytes, or the same as hexadecimal
    or base64 text (vendors' portals give either). Text is recognised only when every byte
    is a hex digit (or base64 character) or white space, which a raw RSA signature of 256
    bytes or more practically never is.

    >>> read_signature(b"0a1B 2c\n")
    b'\n\x1b,'
    >>> read_signature(b"ChsA\n")
    b'\n\x1b\x00'
    >>> read_signature(b"\x00\xff")
    b'\x00\xff'
    """
    raw = bytes(data)
    text = raw.strip()
    if text and _HEX_TEXT.fullmatch(text):
        digits = b"".join(text.split())
        if len(digits) % 2 == 0:
            return bytes.fromhex(digits.decode())
    if text and _BASE64_TEXT.fullmatch(text):
        try:
            return base64.b64decode(b"".join(text.split()), validate=True)
        except binascii.Error:
            pass
    return raw


class SignatureCheck(StrEnum):
    """What a signature said when checked with the vendor's public key."""

    VALID = "valid"
    BAD_LENGTH = "bad length"  # not the length of the vendor key's modulus
    WRONG_KEY = "wrong key"  # no well-formed encoding under the vendor's key
    OTHER_MESSAGE = "other message"  # the vendor's key signed, but not this material


def _mgf1_sha256(seed: bytes, length: int) -> bytes:
    # RFC 8017 B.2.1.
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def _encoding(key: rsa.RSAPublicKey, signature: bytes) -> bytes | None:
    """The encoded message the vendor's public key recovers from ``signature`` (RSAVP1,
    RFC 8017 5.2.2), or None if the signature is not a representative of its modulus."""
    numbers = key.public_numbers()
    s = int.from_bytes(signature, "big")
    if s >= numbers.n:
        return None
    return pow(s, numbers.e, numbers.n).to_bytes(len(signature), "big")


def _well_formed(key: rsa.RSAPublicKey, scheme: str, em: bytes) -> bool:
    """Whether an encoded message has the structure the scheme gives it, whatever message
    was signed. Only the signer's key recovers a well-formed one; a wrong key does so by
    chance about once in 2^17 for PSS (the trailer byte, the top bit and the separator)
    and far more rarely for PKCS #1 v1.5. It only chooses the words of a refusal: a
    signature that does not verify is refused either way."""
    if scheme == "pkcs1v15":
        # RFC 8017 9.2: 00 01 FF..FF (at least 8) 00 DigestInfo(SHA-256) H.
        tail = 1 + len(_SHA256_DIGEST_INFO) + 32
        pad = em[2 : len(em) - tail]
        return (
            em[:2] == b"\x00\x01"
            and len(pad) >= 8
            and pad == b"\xff" * len(pad)
            and em[len(em) - tail] == 0
            and em[len(em) - tail + 1 : -32] == _SHA256_DIGEST_INFO
        )
    # RFC 8017 9.1.2: EM = maskedDB || H || 0xBC, emBits = modBits - 1.
    em_bits = key.key_size - 1
    em_len = (em_bits + 7) // 8
    if any(em[: len(em) - em_len]):
        return False
    em = em[len(em) - em_len :]
    if em[-1] != 0xBC:
        return False
    masked, h = em[: em_len - 33], em[em_len - 33 : -1]
    unused = 8 * em_len - em_bits  # leftmost bits of EM that must be zero
    if unused and masked[0] >> (8 - unused):
        return False
    db = bytearray(a ^ b for a, b in zip(masked, _mgf1_sha256(h, len(masked)), strict=True))
    if unused:
        db[0] &= 0xFF >> unused
    separator = db.find(b"\x01")
    return separator >= 0 and not any(db[:separator])


def check_signature(
    key: rsa.RSAPublicKey, scheme: str, material: bytes, signature: bytes
) -> SignatureCheck:
    """Check a vendor's signature over ``material`` and, when it fails, say why: a
    signature that is not as long as the modulus, one the vendor's key did not make, or one
    the vendor's key made over something else (another host key, the other form)."""
    if scheme not in SIGNATURE_SCHEMES:
        raise BadInput(
            f"Signature scheme {scheme!r} is not one of: {', '.join(SIGNATURE_SCHEMES)}."
        )
    size = (key.key_size + 7) // 8
    if len(signature) != size:
        return SignatureCheck.BAD_LENGTH
    pad: padding.AsymmetricPadding = (
        padding.PKCS1v15()
        if scheme == "pkcs1v15"
        else padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    )
    try:
        key.verify(signature, material, pad, hashes.SHA256())
        return SignatureCheck.VALID
    except InvalidSignature:
        pass
    em = _encoding(key, signature)
    if em is None or not _well_formed(key, scheme, em):
        return SignatureCheck.WRONG_KEY
    return SignatureCheck.OTHER_MESSAGE


# --- the records ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AtmVendor:
    """An ATM vendor's profile for remote key loading."""

    KIND: ClassVar[str] = "atm-vendor"
    id: str
    name: str
    style: str  # "certificate" or "signature"
    template_id: str  # the key pair template host keys are made from
    template_name: str  # its name when it was chosen (shown; the id is what is used)
    partner: str | None = None  # certificate style: the partner (device-vendor) of the CA
    public_key: str | None = None  # signature style: the vendor's key, SPKI PEM
    signature_scheme: str | None = None  # signature style: a SIGNATURE_SCHEMES key
    signed_form: str | None = None  # signature style: a SIGNED_FORMS key
    notes: str = ""
    created_at: datetime | None = None
    version: int = 1

    def __post_init__(self) -> None:
        check_vendor_name(self.name)
        if self.style not in VENDOR_STYLES:
            raise BadInput(
                f"Vendor style {self.style!r} is not one of: {', '.join(VENDOR_STYLES)}."
            )
        signature_fields = {
            "public key": self.public_key,
            "signature scheme": self.signature_scheme,
            "signed form": self.signed_form,
        }
        if self.style == "certificate":
            if not self.partner:
                raise BadInput(
                    f"Vendor {self.name}: a certificate vendor needs the partner whose CA "
                    "certificates are the trust anchors."
                )
            given = [name for name, value in signature_fields.items() if value is not None]
            if given:
                raise BadInput(
                    f"Vendor {self.name}: a certificate vendor has no {', '.join(given)} "
                    "(those are for signature vendors)."
                )
        else:
            missing = [name for name, value in signature_fields.items() if not value]
            if missing:
                raise BadInput(
                    f"Vendor {self.name}: a signature vendor needs its {', '.join(missing)}."
                )
            if self.partner is not None:
                raise BadInput(
                    f"Vendor {self.name}: a signature vendor has no CA partner (that is for "
                    "certificate vendors)."
                )
            if self.signature_scheme not in SIGNATURE_SCHEMES:
                raise BadInput(
                    f"Vendor {self.name}: signature scheme {self.signature_scheme!r} is not one "
                    f"of: {', '.join(SIGNATURE_SCHEMES)}."
                )
            if self.signed_form not in SIGNED_FORMS:
                raise BadInput(
                    f"Vendor {self.name}: signed form {self.signed_form!r} is not one of: "
                    f"{', '.join(SIGNED_FORMS)}."
                )
        if len(self.notes) > 2000:
            raise BadInput("Vendor notes are limited to 2000 characters.")

    @property
    def subject(self) -> str:
        return self.name.casefold()  # looked up by name, whatever its case

    @property
    def due(self) -> datetime | None:
        return None

    @property
    def vendor_key_fingerprint(self) -> str | None:
        """SHA-256 of the vendor key's SubjectPublicKeyInfo DER (signature style)."""
        if self.public_key is None:
            return None
        return fingerprint(read_vendor_key(self.public_key)[1])

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "style": self.style,
            "template_id": self.template_id,
            "template_name": self.template_name,
            "partner": self.partner,
            "public_key": self.public_key,
            "signature_scheme": self.signature_scheme,
            "signed_form": self.signed_form,
            "notes": self.notes,
            "created_at": format_time(self.created_at),
            "version": self.version,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Self:
        return cls(
            id=rec["id"],
            name=rec["name"],
            style=rec["style"],
            template_id=rec["template_id"],
            template_name=rec["template_name"],
            partner=rec["partner"],
            public_key=rec["public_key"],
            signature_scheme=rec["signature_scheme"],
            signed_form=rec["signed_form"],
            notes=rec["notes"],
            created_at=parse_time(rec["created_at"]),
            version=int(rec["version"]),
        )

    def binding_bytes(self) -> bytes:
        return document_binding(self)

    def updated(self, **changes: Any) -> Self:
        return replace(self, version=self.version + 1, **changes)


class RklStatus(StrEnum):
    AWAITING_CERTIFICATE = "awaiting certificate"
    AWAITING_SIGNATURE = "awaiting signature"
    READY = "ready"  # certified or signed: the bundle for the host may be made

    @classmethod
    def awaiting(cls, style: str) -> RklStatus:
        return cls.AWAITING_CERTIFICATE if style == "certificate" else cls.AWAITING_SIGNATURE


@dataclass(frozen=True)
class RklHostKey:
    """The link between a key pair of the inventory and the vendor it serves."""

    KIND: ClassVar[str] = "rkl-host-key"
    id: str  # the key's id: one link per key pair
    key_label: str
    vendor_id: str
    vendor: str  # the vendor's name
    style: str
    status: RklStatus
    created_at: datetime
    updated_at: datetime
    certificate_fingerprint: str | None = None  # certificate style, once certified
    signature: str | None = None  # signature style, once signed: upper-case hexadecimal
    signature_scheme: str | None = None  # as the signature was checked
    signed_form: str | None = None
    vendor_key: str | None = None  # the vendor key (SPKI PEM) that verified the signature
    version: int = 1

    @property
    def subject(self) -> str:
        return self.id

    @property
    def due(self) -> datetime | None:
        return None

    @property
    def key_id(self) -> str:
        return self.id

    @property
    def signature_bytes(self) -> bytes | None:
        return bytes.fromhex(self.signature) if self.signature is not None else None

    def certified(self, certificate_fingerprint: str, now: datetime) -> Self:
        return replace(
            self,
            status=RklStatus.READY,
            certificate_fingerprint=certificate_fingerprint,
            updated_at=now,
            version=self.version + 1,
        )

    def signed(
        self, signature: bytes, *, scheme: str, form: str, vendor_key: str, now: datetime
    ) -> Self:
        return replace(
            self,
            status=RklStatus.READY,
            signature=signature.hex().upper(),
            signature_scheme=scheme,
            signed_form=form,
            vendor_key=vendor_key,
            updated_at=now,
            version=self.version + 1,
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key_label": self.key_label,
            "vendor_id": self.vendor_id,
            "vendor": self.vendor,
            "style": self.style,
            "status": self.status.value,
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
            "certificate_fingerprint": self.certificate_fingerprint,
            "signature": self.signature,
            "signature_scheme": self.signature_scheme,
            "signed_form": self.signed_form,
            "vendor_key": self.vendor_key,
            "version": self.version,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Self:
        created, updated = parse_time(rec["created_at"]), parse_time(rec["updated_at"])
        assert created is not None and updated is not None
        return cls(
            id=rec["id"],
            key_label=rec["key_label"],
            vendor_id=rec["vendor_id"],
            vendor=rec["vendor"],
            style=rec["style"],
            status=RklStatus(rec["status"]),
            created_at=created,
            updated_at=updated,
            certificate_fingerprint=rec["certificate_fingerprint"],
            signature=rec["signature"],
            signature_scheme=rec["signature_scheme"],
            signed_form=rec["signed_form"],
            vendor_key=rec["vendor_key"],
            version=int(rec["version"]),
        )

    def binding_bytes(self) -> bytes:
        return document_binding(self)
