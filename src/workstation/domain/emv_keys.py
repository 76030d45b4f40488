"""EMV issuer keys as the workstation keeps them: the brands' CA public keys, the issuer key
set of each BIN, and the request file sent to a brand.

Two kinds of sealed document (``workstation.domain.documents``):

- :class:`EmvCaKey` (``emv-ca-key``): a payment brand's Certification Authority public key
  as the brand publishes it (RID, index, modulus, exponent, expiry date and check sum), kept
  only after its check sum (EMV 4.3 Book 2 11.2) was found to match. Subject: the brand
  partner's id; due: its expiry date.
- :class:`IssuerKeySet` (``emv-issuer``): what one job made for one BIN (the issuer RSA key
  pair and the issuer master keys), the request sent to the brand and, once the brand's
  Issuer Public Key Certificate was recovered and checked, the facts of that certificate.
  Subject: the BIN; due: the end of the certificate's expiry month.

The request file (:func:`request_file`, :func:`read_request_file`) is the workstation's own
format, documented in ``docs/emv.md``: the facts of :func:`workstation.standards.emv.
issuer_key_request` as JSON, with a proof of possession, an RSASSA-PKCS1-v1_5 SHA-256
signature (RFC 8017 8.2) by the issuer private key over the canonical JSON of the request.

Every parser here raises :class:`~workstation.errors.BadInput` naming the field and the rule
it broke. BINs are not secret and are named in messages; no PAN is handled here.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any, ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from workstation.domain.documents import document_binding
from workstation.domain.records import canonical_bytes, format_time, parse_time
from workstation.errors import BadInput
from workstation.standards import emv

__all__ = [
    "MAX_BINS",
    "REQUEST_FORMAT",
    "REQUEST_SIGNATURE",
    "CaKeyFields",
    "EmvCaKey",
    "IssuerCertificateFacts",
    "IssuerKeySet",
    "IssuerKeyStatus",
    "IssuerRequestFacts",
    "MasterKeyRef",
    "RequestFile",
    "bin_lines",
    "binary_or_hex",
    "ca_key_fields",
    "check_bin",
    "check_bins",
    "day_end",
    "exponent_bytes",
    "month_end",
    "parse_ca_index",
    "parse_ca_keys",
    "parse_expiry_date",
    "parse_exponent",
    "parse_hex",
    "parse_month_year",
    "parse_serial",
    "read_request_file",
    "request_body",
    "request_file",
]

REQUEST_FORMAT = "kcw-emv-issuer-key-request/1"
REQUEST_SIGNATURE = "RSASSA-PKCS1-v1_5-SHA-256"
# EMV Book 2 Annex B2.1: the public exponents, and how the certificates write them.
_EXPONENTS = {3: "03", 65537: "010001"}
MAX_BINS = 1000  # in one job


# --- fields as people and brands write them ---------------------------------------------------


def check_bin(text: str) -> str:
    """A BIN: 6 or 8 decimal digits (ISO/IEC 7812-1:2017 moved issuer identification numbers
    from 6 to 8 digits; both are in use). It becomes the certificate's Issuer Identifier.

    >>> check_bin(" 40000012 ")
    '40000012'
    """
    value = text.strip() if isinstance(text, str) else ""
    if not (value.isascii() and value.isdigit() and len(value) in (6, 8)):
        shown = value or text
        raise BadInput(f"BIN {shown!r} is not 6 or 8 digits (ISO/IEC 7812-1).")
    return value


def check_bins(bins: list[str] | tuple[str, ...]) -> list[str]:
    """A job's BINs, each checked, none twice, at least one and at most ``MAX_BINS``."""
    if not bins:
        raise BadInput("Give at least one BIN.")
    if len(bins) > MAX_BINS:
        raise BadInput(f"At most {MAX_BINS:,} BINs in one job ({len(bins):,} given).")
    checked: list[str] = []
    for text in bins:
        value = check_bin(text)
        if value in checked:
            raise BadInput(f"BIN {value} is given twice.")
        checked.append(value)
    return checked


def bin_lines(text: str) -> list[str]:
    """The BINs of a list as typed or loaded: one a line (or several, separated by commas or
    spaces); ``#`` starts a comment. Not checked here (see :func:`check_bins`).

    >>> bin_lines("400000  # debit\\n40000012, 510000")
    ['400000', '40000012', '510000']
    """
    found: list[str] = []
    for line in text.splitlines():
        found += re.split(r"[\s,;]+", line.split("#", 1)[0].strip())
    return [b for b in found if b]


def binary_or_hex(data: bytes, what: str) -> bytes:
    """A file as brands send binary values: the raw bytes, or their hex as text (spaces and
    line breaks allowed)."""
    if not data:
        raise BadInput(f"The {what} file is empty.")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return data
    norm = re.sub(r"\s+", "", text)
    if norm and re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", norm):
        return bytes.fromhex(norm)
    return data


def parse_hex(text: str, what: str, *, length: int | None = None) -> bytes:
    """Hex as brands print it: any case, spaces and line breaks between digits allowed."""
    norm = re.sub(r"\s+", "", text or "")
    if not norm:
        raise BadInput(f"The {what} is empty.")
    if not re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", norm):
        raise BadInput(f"The {what} is not hexadecimal bytes (pairs of 0-9, A-F).")
    data = bytes.fromhex(norm)
    if length is not None and len(data) != length:
        raise BadInput(f"The {what} must be {length} bytes, not {len(data)}.")
    return data


def parse_ca_index(text: str | int) -> int:
    """A CA public key index (tag ``8F``) as brands write it: one byte in hex, e.g. ``92``.

    >>> parse_ca_index("92")
    146
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        norm = str(text).strip().upper().removeprefix("0X")
        if not re.fullmatch(r"[0-9A-F]{1,2}", norm):
            raise BadInput(
                f"CA public key index {str(text).strip()!r} is not one byte in hex (e.g. 92)."
            )
        value = int(norm, 16)
    if not 0 <= value <= 0xFF:
        raise BadInput(f"CA public key index {value} is not one byte (00 to FF).")
    return value


def parse_exponent(text: str | int) -> int:
    """A public exponent: ``03`` or ``010001`` as printed (3 or 65537 also accepted).

    >>> parse_exponent("01 00 01"), parse_exponent(3)
    (65537, 3)
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value: int | None = text
    else:
        norm = re.sub(r"\s+", "", str(text)).upper()
        value = {"03": 3, "3": 3, "010001": 65537, "10001": 65537, "65537": 65537}.get(norm)
    if value not in _EXPONENTS:
        raise BadInput(
            f"Exponent {str(text).strip()!r} is not 03 or 010001 (3 or 65537, EMV Book 2 "
            "Annex B2.1)."
        )
    return value


def exponent_bytes(exponent: int) -> bytes:
    """An exponent as the certificate data carries it (tag ``9F32``)."""
    return bytes.fromhex(_EXPONENTS[parse_exponent(exponent)])


def parse_serial(text: str | None) -> bytes | None:
    """A certificate serial number (3 bytes, 6 hex digits), or None when not given."""
    if text is None or not text.strip():
        return None
    return parse_hex(text, "certificate serial number", length=3)


def month_end(mmyy: str) -> date:
    """The last day of an ``MMYY`` month, the last day a certificate is valid (EMV Book 2
    5.3 step 9); YY 00-49 is 2000-2049 and 50-99 is 1950-1999 (EMV Book 4, date management).

    >>> month_end("0228")
    datetime.date(2028, 2, 29)
    """
    month, year = int(mmyy[:2]), int(mmyy[2:])
    full = 2000 + year if year < 50 else 1900 + year
    return date(full, month, calendar.monthrange(full, month)[1])


def day_end(day: date) -> datetime:
    """The last second of ``day`` in UTC: when something valid "until" that day falls due."""
    return datetime.combine(day, time(23, 59, 59), UTC)


def parse_month_year(text: str) -> str:
    """An expiry month ``MM/YY`` (or ``MMYY``) as ``MMYY``.

    >>> parse_month_year("12/29")
    '1229'
    """
    norm = (text or "").strip().replace("/", "")
    if not re.fullmatch(r"\d{4}", norm) or not 1 <= int(norm[:2]) <= 12:
        raise BadInput(f"Expiry {text.strip()!r} is not a month and year MM/YY (e.g. 12/29).")
    return norm


def parse_expiry_date(text: str) -> date:
    """A CA key's expiry as brands publish it: a date ``YYYY-MM-DD``, or a month ``MM/YY``
    (valid to the end of that month).

    >>> parse_expiry_date("2028-12-31"), parse_expiry_date("12/28")
    (datetime.date(2028, 12, 31), datetime.date(2028, 12, 31))
    """
    norm = (text or "").strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", norm):
        try:
            return date.fromisoformat(norm)
        except ValueError:
            pass
    elif re.fullmatch(r"\d{2}/\d{2}", norm) and 1 <= int(norm[:2]) <= 12:
        return month_end(norm.replace("/", ""))
    raise BadInput(f"Expiry date {norm!r} is not a date YYYY-MM-DD or a month MM/YY.")


@dataclass(frozen=True)
class CaKeyFields:
    """A brand CA public key as read from a person or a file, before it is checked."""

    rid: bytes
    index: int
    modulus: int
    exponent: int
    expires: date
    check_sum: bytes


# The field names brands and terminal configuration files use for each field.
_FIELD_NAMES = {
    "rid": "rid",
    "registered application provider identifier": "rid",
    "index": "index",
    "ca index": "index",
    "ca public key index": "index",
    "capk index": "index",
    "pki": "index",
    "modulus": "modulus",
    "exponent": "exponent",
    "expiry": "expiry",
    "expiry date": "expiry",
    "expiration date": "expiry",
    "check sum": "check_sum",
    "checksum": "check_sum",
    "hash": "check_sum",
    "sha-1": "check_sum",
}
_REQUIRED = ("rid", "index", "modulus", "exponent", "expiry", "check_sum")


def ca_key_fields(
    *, rid: str, index: str | int, modulus: str, exponent: str | int, expiry: str, check_sum: str
) -> CaKeyFields:
    """The fields of one CA key as typed or printed (hex and text), each checked."""
    rid_bytes = parse_hex(rid, "RID", length=5)
    modulus_bytes = parse_hex(modulus, "modulus")
    if modulus_bytes[0] == 0:
        raise BadInput("The modulus starts with a zero byte: leading zeros are not part of it.")
    return CaKeyFields(
        rid=rid_bytes,
        index=parse_ca_index(index),
        modulus=int.from_bytes(modulus_bytes, "big"),
        exponent=parse_exponent(exponent),
        expires=parse_expiry_date(expiry),
        check_sum=parse_hex(check_sum, "check sum", length=20),
    )


def parse_ca_keys(text: str) -> list[CaKeyFields]:
    """CA public keys from a text file, one ``Name: value`` line per field, as brands list
    them. A long modulus may go on over the following lines (hex only); a line starting
    ``RID:`` begins the next key; blank lines and lines starting ``#`` are skipped.

    >>> keys = parse_ca_keys('''RID: A000000999
    ... Index: 01
    ... Modulus: C0FFEE
    ...          0B
    ... Exponent: 03
    ... Expiry: 2030-12-31
    ... Check sum: 00112233445566778899AABBCCDDEEFF00112233''')
    >>> keys[0].modulus == 0xC0FFEE0B, keys[0].index
    (True, 1)
    """
    blocks: list[dict[str, str]] = []
    last: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, value = line.partition(":")
        field = _FIELD_NAMES.get(re.sub(r"\s+", " ", name.strip().lower())) if colon else None
        if field is None:
            if last == "modulus" and re.fullmatch(r"[0-9A-Fa-f\s]+", line):
                blocks[-1]["modulus"] += line
                continue
            raise BadInput(
                f"Line {number} is not 'Name: value' with a known name (RID, Index, Modulus, "
                "Exponent, Expiry, Check sum)."
            )
        if field == "rid" or not blocks:
            blocks.append({})
        if field in blocks[-1]:
            raise BadInput(f"Line {number} gives the {field.replace('_', ' ')} a second time.")
        blocks[-1][field] = value.strip()
        last = field
    if not blocks:
        raise BadInput("The file holds no CA public key.")
    keys = []
    for position, block in enumerate(blocks, 1):
        missing = [f.replace("_", " ") for f in _REQUIRED if f not in block]
        if missing:
            raise BadInput(f"CA key {position} in the file lacks: {', '.join(missing)}.")
        keys.append(
            ca_key_fields(
                rid=block["rid"],
                index=block["index"],
                modulus=block["modulus"],
                exponent=block["exponent"],
                expiry=block["expiry"],
                check_sum=block["check_sum"],
            )
        )
    return keys


# --- brand CA public keys -------------------------------------------------------------------------


@dataclass(frozen=True)
class EmvCaKey:
    """A brand's CA public key, kept once its published check sum matched."""

    KIND: ClassVar[str] = "emv-ca-key"

    partner_id: str
    partner: str  # the brand's name when the key was added
    rid: str  # 10 hex digits
    index: int  # the CA public key index (tag 8F)
    modulus: str  # hex
    exponent: int  # 3 or 65537
    expires: date  # valid to the end of this day, as published
    check_sum: str  # 40 hex digits, SHA-1 (EMV Book 2 11.2)
    added_at: datetime

    @property
    def id(self) -> str:
        """``RID-II``: the key a terminal looks the CA key up by."""
        return f"{self.rid}-{self.index:02X}"

    @property
    def subject(self) -> str:
        return self.partner_id

    @property
    def due(self) -> datetime:
        return day_end(self.expires)

    @property
    def modulus_length(self) -> int:
        """``NCA`` in bytes."""
        return len(self.modulus) // 2

    @property
    def label(self) -> str:
        return f"{self.partner} CA key {self.rid} index {self.index:02X}"

    def public_key(self) -> emv.CaPublicKey:
        return emv.CaPublicKey(
            rid=bytes.fromhex(self.rid),
            index=self.index,
            modulus=int(self.modulus, 16),
            exponent=self.exponent,
        )

    @classmethod
    def checked(
        cls, fields: CaKeyFields, *, partner_id: str, partner: str, added_at: datetime
    ) -> EmvCaKey:
        """The key of ``fields``, refused unless it is a valid EMV CA key whose check sum
        (EMV Book 2 11.2: SHA-1 of RID, index, modulus and exponent) matches the one
        published."""
        try:
            key = emv.CaPublicKey(
                rid=fields.rid, index=fields.index, modulus=fields.modulus, exponent=fields.exponent
            )
        except emv.EmvError as e:
            raise BadInput(
                f"CA public key {fields.rid.hex().upper()} index {fields.index:02X}: {e}."
            ) from None
        computed = key.check_sum()
        if not hmac.compare_digest(computed, fields.check_sum):
            raise BadInput(
                f"CA public key {fields.rid.hex().upper()} index {fields.index:02X}: the check "
                f"sum published is {fields.check_sum.hex().upper()}, but the SHA-1 of the RID, "
                f"index, modulus and exponent given is {computed.hex().upper()} (EMV Book 2 "
                "11.2): a field was mistyped or altered. Nothing was added."
            )
        return cls(
            partner_id=partner_id,
            partner=partner,
            rid=fields.rid.hex().upper(),
            index=fields.index,
            modulus=f"{fields.modulus:X}".rjust(key.modulus_length * 2, "0"),
            exponent=fields.exponent,
            expires=fields.expires,
            check_sum=computed.hex().upper(),
            added_at=added_at,
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "partner_id": self.partner_id,
            "partner": self.partner,
            "rid": self.rid,
            "index": self.index,
            "modulus": self.modulus,
            "exponent": self.exponent,
            "expires": self.expires.isoformat(),
            "check_sum": self.check_sum,
            "added_at": format_time(self.added_at),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> EmvCaKey:
        added = parse_time(rec["added_at"])
        assert added is not None
        return cls(
            partner_id=rec["partner_id"],
            partner=rec["partner"],
            rid=rec["rid"],
            index=int(rec["index"]),
            modulus=rec["modulus"],
            exponent=int(rec["exponent"]),
            expires=date.fromisoformat(rec["expires"]),
            check_sum=rec["check_sum"],
            added_at=added,
        )

    def binding_bytes(self) -> bytes:
        return document_binding(self)


# --- the issuer key set of a BIN ------------------------------------------------------------------


class IssuerKeyStatus(StrEnum):
    GENERATED = "generated"  # the key pair and master keys made; no request yet
    REQUESTED = "requested"  # the request file was made for the brand
    CERTIFIED = "certified"  # the brand's certificate was checked and kept


@dataclass(frozen=True)
class MasterKeyRef:
    """An issuer master key made for the BIN: its template, TR-31 usage, id, label, KCV."""

    template: str
    usage: str
    key_id: str
    label: str
    kcv: str

    def to_record(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "usage": self.usage,
            "key_id": self.key_id,
            "label": self.label,
            "kcv": self.kcv,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> MasterKeyRef:
        return cls(rec["template"], rec["usage"], rec["key_id"], rec["label"], rec["kcv"])


@dataclass(frozen=True)
class IssuerRequestFacts:
    """What the last request to the brand asked for, and the SHA-256 of its file."""

    ca_index: int
    expiry: str  # MMYY
    serial: str | None  # 6 hex digits, or None when the brand assigns it
    sha256: str
    made_at: datetime

    def to_record(self) -> dict[str, Any]:
        return {
            "ca_index": self.ca_index,
            "expiry": self.expiry,
            "serial": self.serial,
            "sha256": self.sha256,
            "made_at": format_time(self.made_at),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> IssuerRequestFacts:
        made = parse_time(rec["made_at"])
        assert made is not None
        return cls(int(rec["ca_index"]), rec["expiry"], rec["serial"], rec["sha256"], made)


@dataclass(frozen=True)
class IssuerCertificateFacts:
    """The brand's Issuer Public Key Certificate as recovered and checked, kept whole
    (certificate, remainder, exponent: tags 90, 92 and 9F32) for personalisation."""

    rid: str
    ca_index: int
    expiry: str  # MMYY
    serial: str  # 6 hex digits, as the CA assigned it
    certificate: str  # hex
    remainder: str  # hex, empty when the key fits in the certificate
    exponent: int
    sha256: str  # of the certificate
    imported_at: datetime

    @property
    def expires_on(self) -> date:
        return month_end(self.expiry)

    def to_record(self) -> dict[str, Any]:
        return {
            "rid": self.rid,
            "ca_index": self.ca_index,
            "expiry": self.expiry,
            "serial": self.serial,
            "certificate": self.certificate,
            "remainder": self.remainder,
            "exponent": self.exponent,
            "sha256": self.sha256,
            "imported_at": format_time(self.imported_at),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> IssuerCertificateFacts:
        imported = parse_time(rec["imported_at"])
        assert imported is not None
        return cls(
            rid=rec["rid"],
            ca_index=int(rec["ca_index"]),
            expiry=rec["expiry"],
            serial=rec["serial"],
            certificate=rec["certificate"],
            remainder=rec["remainder"],
            exponent=int(rec["exponent"]),
            sha256=rec["sha256"],
            imported_at=imported,
        )


@dataclass(frozen=True)
class IssuerKeySet:
    """The issuer keys of one BIN for one brand: made together in one job, kept together."""

    KIND: ClassVar[str] = "emv-issuer"

    id: str
    bin: str
    brand_id: str
    brand: str
    key_pair_id: str
    key_pair_label: str
    key_pair_kcv: str
    key_pair_template_id: str
    modulus_bits: int
    master_keys: tuple[MasterKeyRef, ...]
    created_at: datetime
    status: IssuerKeyStatus = IssuerKeyStatus.GENERATED
    request: IssuerRequestFacts | None = None
    certificate: IssuerCertificateFacts | None = None
    version: int = 1

    @property
    def subject(self) -> str:
        return self.bin

    @property
    def due(self) -> datetime | None:
        """The end of the certificate's expiry month, once certified."""
        return None if self.certificate is None else day_end(self.certificate.expires_on)

    def requested(self, facts: IssuerRequestFacts) -> IssuerKeySet:
        """After a request: requested, or still certified while a renewal is asked for."""
        status = (
            IssuerKeyStatus.CERTIFIED
            if self.status is IssuerKeyStatus.CERTIFIED
            else IssuerKeyStatus.REQUESTED
        )
        return replace(self, status=status, request=facts, version=self.version + 1)

    def certified(self, facts: IssuerCertificateFacts) -> IssuerKeySet:
        return replace(
            self, status=IssuerKeyStatus.CERTIFIED, certificate=facts, version=self.version + 1
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "bin": self.bin,
            "brand_id": self.brand_id,
            "brand": self.brand,
            "key_pair_id": self.key_pair_id,
            "key_pair_label": self.key_pair_label,
            "key_pair_kcv": self.key_pair_kcv,
            "key_pair_template_id": self.key_pair_template_id,
            "modulus_bits": self.modulus_bits,
            "master_keys": [m.to_record() for m in self.master_keys],
            "created_at": format_time(self.created_at),
            "status": self.status.value,
            "request": None if self.request is None else self.request.to_record(),
            "certificate": None if self.certificate is None else self.certificate.to_record(),
            "version": self.version,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> IssuerKeySet:
        created = parse_time(rec["created_at"])
        assert created is not None
        return cls(
            id=rec["id"],
            bin=rec["bin"],
            brand_id=rec["brand_id"],
            brand=rec["brand"],
            key_pair_id=rec["key_pair_id"],
            key_pair_label=rec["key_pair_label"],
            key_pair_kcv=rec["key_pair_kcv"],
            key_pair_template_id=rec["key_pair_template_id"],
            modulus_bits=int(rec["modulus_bits"]),
            master_keys=tuple(MasterKeyRef.from_record(m) for m in rec["master_keys"]),
            created_at=created,
            status=IssuerKeyStatus(rec["status"]),
            request=None
            if rec["request"] is None
            else IssuerRequestFacts.from_record(rec["request"]),
            certificate=None
            if rec["certificate"] is None
            else IssuerCertificateFacts.from_record(rec["certificate"]),
            version=int(rec["version"]),
        )

    def binding_bytes(self) -> bytes:
        return document_binding(self)


# --- the request file -----------------------------------------------------------------------------


def request_body(
    *,
    brand: str,
    rid: str,
    ca_index: int,
    bin: str,
    expiry: str,
    serial: bytes | None,
    modulus: int,
    exponent: int,
    key_label: str,
    key_check_value: str,
    made_at: datetime,
) -> dict[str, Any]:
    """The request as a JSON object, its facts checked by :func:`emv.issuer_key_request`
    (the issuer key no longer than 1984 bits, exponent 3 or 65537, identifier, expiry)."""
    try:
        # The serial is the brand's to assign when none is given; a placeholder serves
        # the check of the other fields.
        checked = emv.issuer_key_request(
            issuer_modulus=modulus,
            issuer_exponent=exponent,
            issuer_identifier=bin,
            expiry=expiry,
            serial=serial if serial is not None else bytes(3),
        )
    except emv.EmvError as e:
        raise BadInput(f"Issuer key request for BIN {bin}: {e}.") from None
    return {
        "format": REQUEST_FORMAT,
        "brand": brand,
        "rid": rid,
        "ca_index": f"{ca_index:02X}",
        "bin": bin,
        "issuer_identifier": checked.identifier_field.hex().upper(),
        "expiry": expiry,
        "serial": None if serial is None else serial.hex().upper(),
        # EMV Book 2 Annex B3.1 and B2.1: the certificate's hash and key algorithm indicators.
        "hash_algorithm": "01",
        "public_key_algorithm": "01",
        "modulus_length": checked.modulus_length,
        "modulus": f"{modulus:X}".rjust(checked.modulus_length * 2, "0"),
        "exponent": _EXPONENTS[exponent],
        "key_label": key_label,
        "key_check_value": key_check_value,
        "made_at": format_time(made_at),
    }


def request_file(body: dict[str, Any], signature: bytes) -> bytes:
    """The file: the request and its proof of possession, the signature over
    ``canonical_bytes(body)`` (sorted keys, no white space, UTF-8)."""
    document = {
        "request": body,
        "proof_of_possession": {
            "algorithm": REQUEST_SIGNATURE,
            "signed": "canonical JSON of 'request': keys sorted, no white space, UTF-8",
            "signature": signature.hex().upper(),
        },
    }
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


@dataclass(frozen=True)
class RequestFile:
    body: dict[str, Any]
    request: emv.IssuerKeyRequest
    sha256: str


def read_request_file(data: bytes) -> RequestFile:
    """Read a request file and check it as a brand would: its format, its facts, and the
    proof of possession under the public key it carries."""
    try:
        document = json.loads(data.decode("utf-8"))
        body = document["request"]
        proof = document["proof_of_possession"]
        if body["format"] != REQUEST_FORMAT or proof["algorithm"] != REQUEST_SIGNATURE:
            raise BadInput(f"The file is not a {REQUEST_FORMAT} request.")
        modulus = int(body["modulus"], 16)
        exponent = parse_exponent(body["exponent"])
        serial = parse_serial(body["serial"])
        request = emv.issuer_key_request(
            issuer_modulus=modulus,
            issuer_exponent=exponent,
            issuer_identifier=body["bin"],
            expiry=body["expiry"],
            serial=serial if serial is not None else bytes(3),
        )
        signature = bytes.fromhex(proof["signature"])
    except BadInput:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise BadInput(f"The request file is not readable: {e}.") from None
    public = rsa.RSAPublicNumbers(exponent, modulus).public_key()
    try:
        public.verify(signature, canonical_bytes(body), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise BadInput(
            "The request's proof of possession does not verify under the public key it "
            "carries: the request was altered or not signed by that key."
        ) from None
    return RequestFile(body, request, hashlib.sha256(data).hexdigest().upper())
