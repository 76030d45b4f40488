"""EMV issuer public key certificates (EMV 4.3 Book 2, sections 5.1 to 5.3 and 6.3).

An issuer's RSA public key reaches a terminal inside an *Issuer Public Key Certificate*
(tag ``90``) signed by a payment system's Certification Authority (CA) with the ISO/IEC
9796-2 scheme giving message recovery that EMV Book 2 Annex A2.1 defines: the certificate
is the CA's RSA signature on the data below, and RSA with the CA *public* key recovers that
data. This module checks a certificate the brand returned (:func:`recover_issuer_certificate`,
the terminal's steps of Book 2 5.3, one message each), makes one as the CA would
(:func:`issue_issuer_certificate`, for tests and labs), and describes what the issuer sends
to the brand (:class:`IssuerKeyRequest`).

The recovered data (Book 2 Table 13 in 6.3; 5.3 gives the same layout), ``NCA`` bytes long,
``NCA`` being the length of the CA modulus:

======  ==========================================  ===================================
bytes   field                                       value
======  ==========================================  ===================================
1       Recovered Data Header                       ``6A``
1       Certificate Format                          ``02``
4       Issuer Identifier                           leftmost 3 to 8 PAN digits, BCD,
                                                    padded on the right with ``F``
2       Certificate Expiration Date                 ``MMYY``, BCD
3       Certificate Serial Number                   binary, assigned by the CA
1       Hash Algorithm Indicator                    ``01``: SHA-1 (Annex B3.1)
1       Issuer Public Key Algorithm Indicator       ``01``: RSA (Annex B2.1)
1       Issuer Public Key Length ``NI``             bytes of the issuer modulus
1       Issuer Public Key Exponent Length           1 or 3
NCA-36  Issuer Public Key, or its leftmost digits   the whole modulus padded with ``BB``
                                                    when ``NI <= NCA - 36``, else its
                                                    ``NCA - 36`` leftmost bytes
20      Hash Result                                 SHA-1 of Certificate Format through
                                                    the key field, the Remainder and
                                                    the Exponent
1       Recovered Data Trailer                      ``BC``
======  ==========================================  ===================================

The rest of a long modulus, the ``NI - (NCA - 36)`` rightmost bytes, travels beside the
certificate as the *Issuer Public Key Remainder* (tag ``92``); the exponent travels as
tag ``9F32`` (``03`` or ``010001``). Both are covered by the hash, so neither can be
swapped.

>>> from cryptography.hazmat.primitives.asymmetric import rsa
>>> ca_key = rsa.generate_private_key(public_exponent=3, key_size=1408)
>>> issuer_modulus = rsa.generate_private_key(public_exponent=65537, key_size=1152).public_key(
...     ).public_numbers().n
>>> ca = CaPublicKey(rid=bytes.fromhex("A000000999"), index=0x01,
...                  modulus=ca_key.public_key().public_numbers().n, exponent=3)
>>> certificate, remainder = issue_issuer_certificate(
...     ca_private=ca_key, issuer_modulus=issuer_modulus, issuer_exponent=65537,
...     issuer_identifier="999123", expiry="1249", serial=bytes.fromhex("000001"))
>>> len(certificate), len(remainder)  # a 144-byte key under a 176-byte CA key: 4 left over
(176, 4)
>>> issued = recover_issuer_certificate(
...     certificate, ca=ca, remainder=remainder, exponent=bytes.fromhex("010001"),
...     pan="9991230000000006", today=date(2030, 6, 1))
>>> issued.issuer_identifier, issued.expiry, issued.serial.hex(), issued.modulus == issuer_modulus
('999123', '1249', '000001', True)

**Asking for a certificate.** EMV does not define what the issuer sends to the CA: each
brand has its own file (Visa's issuer public key input file with a self-signed record,
Mastercard's self-certified issuer key and its hash file, both produced by payment HSMs).
Their layouts are in the brands' confidential CA interface specifications; the public
material found (HSM manual summaries, partial transcriptions in third-party tools that
contradict one another) is not enough to produce a file a brand CA would accept.
:class:`IssuerKeyRequest` is therefore a plain, checked record of the data every brand asks
for, not a wire format.

**Decisions** (see docs/standards.md):

- The expiration year ``YY`` is read as 20YY for 00 to 49 and 19YY for 50 to 99, the
  terminal rule of EMV Book 4 (date management). A certificate is valid up to and including
  the last day of its month (Book 2 5.3 step 9).
- Step 10 (revocation) is the caller's list: ``revoked`` holds 9-byte entries, RID ||
  CA public key index || certificate serial number, the key a terminal's revocation list uses.
- After the hash matches, the content is checked too: the issuer key is 1 to ``NCA`` bytes
  (Book 2 5.1), its padding is all ``BB``, its first byte is not zero, and its exponent is
  3 or 65537. The hash proves the CA signed these values, not that they are well formed.
- A remainder must have exactly ``NI - (NCA - 36)`` bytes: one given where the key fits
  in the certificate is refused, not ignored (the hash would cover it, Book 2 5.3 step 5).
- :func:`issuer_identifier` of a PAN takes its eight leftmost digits (the eight-digit IIN
  of ISO/IEC 7812-1:2017); pass the BIN to name a shorter prefix.
- Messages never repeat a PAN: they name the field and the rule it broke.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "CaPublicKey",
    "EmvError",
    "IssuerCertificate",
    "IssuerKeyRequest",
    "issue_issuer_certificate",
    "issuer_identifier",
    "issuer_key_request",
    "recover_issuer_certificate",
]


class EmvError(ValueError):
    """A certificate, a key or an input is not acceptable; the message says which and why."""


# EMV 4.3 Book 2 Table 13 (6.3, as in 5.3): the recovered data of an issuer certificate.
_HEADER = 0x6A
_TRAILER = 0xBC
_ISSUER_FORMAT = 0x02
_PADDING = 0xBB
_SHA1 = 0x01  # Book 2 Annex B3.1
_RSA = 0x01  # Book 2 Annex B2.1
_HASH_LENGTH = 20
# Header, format, identifier (4), expiry (2), serial (3), the four one-byte indicators and
# lengths, the hash (20) and the trailer: what NCA leaves no room for in the key field.
_FIXED_LENGTH = 36
# Book 2 5.1: NI <= NCA; Annex B2.1: a modulus is at most 248 bytes (1984 bits).
_MAX_MODULUS_LENGTH = 248
# Book 2 Annex B2.1: public exponents are 3 or 2^16 + 1, written in 1 or 3 bytes.
_EXPONENT_BYTES = {3: b"\x03", 65537: b"\x01\x00\x01"}
_REVOKED_ENTRY_LENGTH = 9  # RID (5) || CA public key index (1) || serial (3)
_MAX_PAN_DIGITS = 19  # ISO/IEC 7812-1


def _bytes(value: object, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise EmvError(f"{name} must be bytes, not {type(value).__name__}")
    return bytes(value)


def _int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise EmvError(f"{name} must be an int, not {type(value).__name__}")
    return value


def _count(number: int) -> str:
    return f"{number} byte" if number == 1 else f"{number} bytes"


def _sha1(data: bytes) -> bytes:
    # EMV Book 2 Annex B3.1: SHA-1 is the one hash algorithm of the certificates (indicator
    # '01') and of the CA public key check sum.
    return hashlib.sha1(data).digest()  # noqa: S324 - the standard's algorithm


def _length(number: int) -> int:
    return (number.bit_length() + 7) // 8


def _check_exponent(exponent: object, name: str) -> int:
    value = _int(exponent, name)
    if value not in _EXPONENT_BYTES:
        raise EmvError(f"{name} must be 3 or 65537 (EMV Book 2 Annex B2.1), not {value}")
    return value


def _digits(value: object, name: str, lowest: int, highest: int) -> str:
    """Decimal digits, with messages that never repeat the value (it may be a PAN)."""
    if not isinstance(value, str):
        raise EmvError(f"{name} must be a string of digits, not {type(value).__name__}")
    if not (value.isascii() and value.isdigit()):
        raise EmvError(f"{name} must be decimal digits only")
    if not lowest <= len(value) <= highest:
        span = f"{lowest}" if lowest == highest else f"{lowest} to {highest}"
        raise EmvError(f"{name} must be {span} digits, not {len(value)}")
    return value


def _expiry_month(expiry: str, name: str) -> date:
    """The last day of an ``MMYY`` month: the last day the certificate is valid."""
    month, year = int(expiry[:2]), int(expiry[2:])
    if not 1 <= month <= 12:
        raise EmvError(f"{name} month must be 01 to 12, not {expiry[:2]}")
    # EMV Book 4 date management: YY 00-49 is 2000-2049, 50-99 is 1950-1999.
    full_year = 2000 + year if year < 50 else 1900 + year
    return date(full_year, month, calendar.monthrange(full_year, month)[1])


def _check_expiry(expiry: object) -> str:
    text = _digits(expiry, "expiry", 4, 4)
    _expiry_month(text, "expiry")
    return text


def _check_serial(serial: object) -> bytes:
    data = _bytes(serial, "serial")
    if len(data) != 3:
        raise EmvError(f"serial must be 3 bytes (a certificate serial number), not {len(data)}")
    return data


def _identifier_field(digits: str) -> bytes:
    # Book 2 Table 13: the leftmost 3-8 PAN digits, padded on the right with hex 'F'.
    return bytes.fromhex(digits.ljust(8, "F"))


@dataclass(frozen=True)
class CaPublicKey:
    """A payment system's Certification Authority public key, as terminals hold it.

    ``rid`` is the 5-byte Registered Application Provider Identifier of the payment system
    (``A000000003`` Visa, ``A000000004`` Mastercard), ``index`` the CA public key index
    (tag ``8F``) that picks the key among the RID's keys, ``modulus`` and ``exponent`` the
    RSA public key: a modulus of at most 248 bytes and an exponent of 3 or 65537 (EMV
    Book 2 Annex B2.1). A modulus must leave room for the 36 fixed bytes of a certificate.

    Raises
    ------
    EmvError
        When a field is out of its range.
    """

    rid: bytes
    index: int
    modulus: int
    exponent: int

    def __post_init__(self) -> None:
        rid = _bytes(self.rid, "rid")
        if len(rid) != 5:
            raise EmvError(
                f"rid must be 5 bytes (a Registered Application Provider Identifier), "
                f"not {len(rid)}"
            )
        object.__setattr__(self, "rid", rid)
        if not 0 <= _int(self.index, "index") <= 0xFF:
            raise EmvError(f"index must be 0 to 255 (one byte), not {self.index}")
        _check_ca_numbers(self.modulus, self.exponent)

    @property
    def modulus_length(self) -> int:
        """``NCA``: the length of the modulus in bytes, which every certificate has."""
        return _length(self.modulus)

    def check_sum(self) -> bytes:
        """The Certification Authority Public Key Check Sum (EMV Book 2 11.2).

        SHA-1 of RID || index || modulus || exponent, as the payment systems publish it
        beside each key so that a key typed or loaded into a terminal can be checked.

        The Visa test CA key with index ``01`` (1024 bits, exponent 3), as
        lumag/emv-tools src/sda-test.c lists it with its published check sum:

        >>> visa_test_01 = CaPublicKey(rid=bytes.fromhex("A000000003"), index=0x01, modulus=int(
        ...     "C696034213D7D8546984579D1D0F0EA519CFF8DEFFC429354CF3A871A6F7183F1228DA5C7470C055"
        ...     "387100CB935A712C4E2864DF5D64BA93FE7E63E71F25B1E5F5298575EBE1C63AA617706917911DC2"
        ...     "A75AC28B251C7EF40F2365912490B939BCA2124A30A28F54402C34AECA331AB67E1E79B285DD5771"
        ...     "B5D9FF79EA630B75", 16), exponent=3)
        >>> visa_test_01.check_sum().hex().upper()
        'D34A6A776011C7E7CE3AEC5F03AD2F8CFC5503CC'
        """
        data = (
            self.rid
            + bytes([self.index])
            + self.modulus.to_bytes(self.modulus_length, "big")
            + _EXPONENT_BYTES[self.exponent]
        )
        return _sha1(data)


def _check_ca_numbers(modulus: object, exponent: object) -> None:
    length = _length(_int(modulus, "CA public key modulus"))
    if not _FIXED_LENGTH < length <= _MAX_MODULUS_LENGTH:
        raise EmvError(
            f"CA public key modulus must be {_FIXED_LENGTH + 1} to {_MAX_MODULUS_LENGTH} bytes "
            f"(EMV Book 2 Annex B2.1), not {length}"
        )
    _check_exponent(exponent, "CA public key exponent")


@dataclass(frozen=True)
class IssuerCertificate:
    """An issuer public key and the certificate data that vouched for it.

    ``issuer_identifier`` holds the digits of the Issuer Identifier without their ``F``
    padding; ``expiry`` is ``MMYY`` (valid to the end of that month); ``serial`` is the
    3-byte Certificate Serial Number the CA assigned; ``hash_algorithm`` and
    ``pk_algorithm`` are the indicators (``1``: SHA-1 and RSA); ``modulus`` and
    ``exponent`` are the issuer's RSA public key.
    """

    issuer_identifier: str
    expiry: str
    serial: bytes
    hash_algorithm: int
    pk_algorithm: int
    modulus: int
    exponent: int

    @property
    def modulus_length(self) -> int:
        """``NI``: the length of the issuer modulus in bytes."""
        return _length(self.modulus)

    @property
    def expires_on(self) -> date:
        """The last day on which the certificate is valid (the end of its ``MMYY`` month)."""
        return _expiry_month(self.expiry, "expiry")


@dataclass(frozen=True)
class IssuerKeyRequest:
    """What an issuer sends its payment brand's CA to have a public key certified.

    A plain record, not a brand's file format (see the module notes): the issuer public key
    (``modulus``, ``exponent`` 3 or 65537, at most 248 bytes), the ``issuer_identifier``
    (3 to 8 leftmost PAN digits, usually the BIN), the ``expiry`` the issuer asks for
    (``MMYY``) and a 3-byte ``serial`` (Mastercard has the issuer propose the certificate
    serial number; Visa assigns a tracking number instead, which a caller may carry here).
    Every field is checked when the record is made.

    >>> request = issuer_key_request(issuer_modulus=(1 << 1151) | 1, issuer_exponent=3,
    ...                              issuer_identifier="4761", expiry="0331",
    ...                              serial=bytes.fromhex("00002A"))
    >>> request.modulus_length, request.identifier_field.hex().upper()
    (144, '4761FFFF')
    >>> request.remainder_length(ca_modulus_length=176)  # 144 - (176 - 36)
    4

    Raises
    ------
    EmvError
        When a field is out of its range.
    """

    issuer_identifier: str
    expiry: str
    serial: bytes
    modulus: int
    exponent: int

    def __post_init__(self) -> None:
        _digits(self.issuer_identifier, "issuer_identifier", 3, 8)
        _check_expiry(self.expiry)
        object.__setattr__(self, "serial", _check_serial(self.serial))
        length = _length(_int(self.modulus, "issuer public key modulus"))
        if not 0 < length <= _MAX_MODULUS_LENGTH:
            raise EmvError(
                f"issuer public key modulus must be 1 to {_MAX_MODULUS_LENGTH} bytes "
                f"(EMV Book 2 Annex B2.1), not {length}"
            )
        _check_exponent(self.exponent, "issuer public key exponent")

    @property
    def modulus_length(self) -> int:
        """``NI``: the length of the issuer modulus in bytes."""
        return _length(self.modulus)

    @property
    def identifier_field(self) -> bytes:
        """The 4-byte Issuer Identifier as the certificate will carry it."""
        return _identifier_field(self.issuer_identifier)

    def remainder_length(self, ca_modulus_length: int) -> int:
        """The bytes of the key left outside a certificate under a CA key of that length.

        ``NI - (NCA - 36)``, or 0 when the key fits (EMV Book 2 5.1).

        Raises
        ------
        EmvError
            When the key is longer than the CA key: no CA may certify it.
        """
        nca = _int(ca_modulus_length, "ca_modulus_length")
        if self.modulus_length > nca:
            raise EmvError(
                f"issuer public key is {self.modulus_length} bytes, longer than the CA public "
                f"key modulus of {nca} bytes (EMV Book 2 5.1)"
            )
        return max(0, self.modulus_length - (nca - _FIXED_LENGTH))


def issuer_key_request(
    *,
    issuer_modulus: int,
    issuer_exponent: int,
    issuer_identifier: str,
    expiry: str,
    serial: bytes,
) -> IssuerKeyRequest:
    """The checked record of an issuer public key to send to the brand's CA.

    Parameters
    ----------
    issuer_modulus, issuer_exponent
        The issuer RSA public key (exponent 3 or 65537).
    issuer_identifier
        The 3 to 8 leftmost PAN digits the certificate will name.
    expiry
        ``MMYY``, the month to the end of which the certificate should be valid.
    serial
        3 bytes: the serial number (or tracking number) the brand's process asks for.

    Returns
    -------
    IssuerKeyRequest

    Raises
    ------
    EmvError
        When a field is out of its range.
    """
    return IssuerKeyRequest(
        issuer_identifier=issuer_identifier,
        expiry=expiry,
        serial=serial,
        modulus=issuer_modulus,
        exponent=issuer_exponent,
    )


def issuer_identifier(bin_or_pan: str) -> bytes:
    """The 4-byte Issuer Identifier for a BIN or a PAN (EMV Book 2 Table 13).

    A BIN of 3 to 8 digits is written as it is; a PAN (9 to 19 digits) gives its leftmost
    eight digits, the eight-digit IIN of ISO/IEC 7812-1:2017. Digits are BCD, padded on the
    right with hex ``F`` to 4 bytes.

    >>> issuer_identifier("427655").hex().upper()
    '427655FF'
    >>> issuer_identifier("4276550013234599").hex().upper()
    '42765500'

    Raises
    ------
    EmvError
        When the input is not 3 to 19 decimal digits (the message does not repeat it).
    """
    digits = _digits(bin_or_pan, "bin_or_pan", 3, _MAX_PAN_DIGITS)
    return _identifier_field(digits[:8])


def _identifier_digits(field: bytes) -> str:
    """The digits of a recovered Issuer Identifier: 3 to 8 digits, then only ``F``."""
    text = field.hex().upper()
    digits = text.rstrip("F")
    if not (3 <= len(digits) and digits.isdigit()):
        raise EmvError(f"issuer identifier '{text}' is not 3 to 8 digits padded with 'F'")
    return digits


def _recovered_expiry(field: bytes) -> str:
    text = field.hex().upper()
    if not text.isdigit() or not 1 <= int(text[:2]) <= 12:
        raise EmvError(f"certificate expiration date '{text}' is not a month and year MMYY")
    return text


def _revoked_entries(revoked: object) -> frozenset[bytes]:
    if isinstance(revoked, bytes | bytearray | str) or not isinstance(revoked, Collection):
        raise EmvError("revoked must be a collection of 9-byte entries")
    entries = []
    for entry in revoked:
        if not isinstance(entry, bytes | bytearray) or len(entry) != _REVOKED_ENTRY_LENGTH:
            raise EmvError(
                "revoked entries must be 9 bytes each (RID, CA public key index, "
                "certificate serial number)"
            )
        entries.append(bytes(entry))
    return frozenset(entries)


def recover_issuer_certificate(
    certificate: bytes,
    *,
    ca: CaPublicKey,
    remainder: bytes = b"",
    exponent: bytes,
    pan: str | None = None,
    today: date | None = None,
    revoked: Collection[bytes] = (),
) -> IssuerCertificate:
    """Verify an Issuer Public Key Certificate and recover the issuer public key.

    Every check of EMV Book 2 5.3 (steps 1 to 11) refuses with its own message, in the
    order of the standard: the certificate's length against the CA modulus (1), the
    recovered trailer ``BC`` (2), header ``6A`` (3), format ``02`` (4), the hash (5 to 7,
    after the hash algorithm indicator, the exponent length and the remainder length are
    known to fit), the issuer identifier against the PAN (8), the expiry (9), the
    revocation list (10) and the public key algorithm indicator (11). Then the recovered
    key itself is checked (its length, padding and exponent).

    Parameters
    ----------
    certificate
        The Issuer Public Key Certificate (tag ``90``), ``NCA`` bytes.
    ca
        The CA public key named by the card's RID and CA Public Key Index (tag ``8F``).
    remainder
        The Issuer Public Key Remainder (tag ``92``); empty when the key fits.
    exponent
        The Issuer Public Key Exponent (tag ``9F32``): ``03`` or ``010001``.
    pan
        The Application PAN (tag ``5A``) as digits, to check the identifier against
        (step 8); ``None`` skips that check (the workstation checks a brand's reply
        before any card exists).
    today
        The date to check the expiry against; the local date when ``None``.
    revoked
        9-byte entries RID || CA public key index || certificate serial number (step 10).

    Returns
    -------
    IssuerCertificate

    Raises
    ------
    EmvError
        When any check fails; the message names the field and the step.
    """
    cert = _bytes(certificate, "certificate")
    rest = _bytes(remainder, "remainder")
    exp = _bytes(exponent, "exponent")
    if not isinstance(ca, CaPublicKey):
        raise EmvError(f"ca must be a CaPublicKey, not {type(ca).__name__}")
    pan_digits = None if pan is None else _digits(pan, "pan", 1, _MAX_PAN_DIGITS)
    if today is None:
        today = date.today()
    elif isinstance(today, datetime):
        today = today.date()
    elif not isinstance(today, date):
        raise EmvError(f"today must be a date, not {type(today).__name__}")
    revoked_entries = _revoked_entries(revoked)

    nca = ca.modulus_length
    # Step 1: the certificate is exactly as long as the CA modulus.
    if len(cert) != nca:
        raise EmvError(
            f"certificate is {_count(len(cert))}; the CA public key modulus is {nca} bytes "
            f"(EMV Book 2 5.3 step 1)"
        )
    signature = int.from_bytes(cert, "big")
    if signature >= ca.modulus:
        raise EmvError(
            "certificate is not less than the CA public key modulus: it is not a signature "
            "under this key (EMV Book 2 Annex A2.1)"
        )
    # Step 2: the recovery function of Annex A2.1 is RSA with the CA public key.
    recovered = pow(signature, ca.exponent, ca.modulus).to_bytes(nca, "big")
    if recovered[-1] != _TRAILER:
        raise EmvError(
            f"recovered data trailer is '{recovered[-1]:02X}', not 'BC': wrong CA public key "
            f"or damaged certificate (EMV Book 2 5.3 step 2)"
        )
    # Step 3.
    if recovered[0] != _HEADER:
        raise EmvError(
            f"recovered data header is '{recovered[0]:02X}', not '6A' (EMV Book 2 5.3 step 3)"
        )
    # Step 4.
    if recovered[1] != _ISSUER_FORMAT:
        raise EmvError(
            f"certificate format is '{recovered[1]:02X}', not '02' (an issuer public key "
            f"certificate, EMV Book 2 5.3 step 4)"
        )
    identifier_field = recovered[2:6]
    expiry_field = recovered[6:8]
    serial = recovered[8:11]
    hash_algorithm, pk_algorithm, ni, exponent_length = recovered[11:15]
    key_field = recovered[15 : nca - 1 - _HASH_LENGTH]
    hash_result = recovered[nca - 1 - _HASH_LENGTH : nca - 1]

    # Steps 5 to 7 need the hash algorithm and the lengths of what is hashed beside the
    # recovered data; each is refused on its own so the message says which is wrong.
    if hash_algorithm != _SHA1:
        raise EmvError(
            f"hash algorithm indicator is '{hash_algorithm:02X}', not '01' (SHA-1, EMV Book 2 "
            f"Annex B3.1)"
        )
    if len(exp) != exponent_length:
        raise EmvError(
            f"exponent is {_count(len(exp))}, but the certificate gives the issuer public key "
            f"exponent length as {exponent_length}"
        )
    room = nca - _FIXED_LENGTH
    needed = max(0, ni - room)
    if len(rest) != needed:
        raise EmvError(
            f"remainder is {_count(len(rest))}; an issuer public key of {_count(ni)} under a "
            f"{nca}-byte CA public key needs {needed} (NI - (NCA - 36), EMV Book 2 5.3)"
        )
    # Step 5: Certificate Format through the key field, the Remainder, the Exponent.
    # Step 6: hashed with SHA-1 (Annex B3.1).
    digest = _sha1(recovered[1 : nca - 1 - _HASH_LENGTH] + rest + exp)
    # Step 7.
    if not hmac.compare_digest(digest, hash_result):
        raise EmvError(
            "hash result does not match: the certificate, the remainder or the exponent was "
            "altered, or they do not belong together (EMV Book 2 5.3 step 7)"
        )

    # Step 8: the identifier is the leftmost 3 to 8 digits of the PAN, F-padded.
    identifier = _identifier_digits(identifier_field)
    if pan_digits is not None and not pan_digits.startswith(identifier):
        raise EmvError(
            f"issuer identifier {identifier} does not match the leftmost digits of the PAN "
            f"(EMV Book 2 5.3 step 8)"
        )
    # Step 9: valid up to and including the last day of the expiry month.
    expiry = _recovered_expiry(expiry_field)
    last_day = _expiry_month(expiry, "certificate expiration date")
    if today > last_day:
        raise EmvError(
            f"certificate expired: valid until the end of {expiry[:2]}/{last_day.year}, and "
            f"today is {today.isoformat()} (EMV Book 2 5.3 step 9)"
        )
    # Step 10: RID || CA public key index || certificate serial number not revoked.
    if ca.rid + bytes([ca.index]) + serial in revoked_entries:
        raise EmvError(
            f"certificate serial number {serial.hex().upper()} under CA public key "
            f"{ca.rid.hex().upper()} index {ca.index:02X} is revoked (EMV Book 2 5.3 step 10)"
        )
    # Step 11.
    if pk_algorithm != _RSA:
        raise EmvError(
            f"issuer public key algorithm indicator is '{pk_algorithm:02X}', not '01' (RSA, "
            f"EMV Book 2 Annex B2.1, 5.3 step 11)"
        )

    # The hash proves the CA signed these values; that they are well formed is checked here.
    if not 0 < ni <= nca:
        raise EmvError(
            f"issuer public key length is {_count(ni)}; it must be 1 to {nca}, no longer than "
            f"the CA public key (EMV Book 2 5.1)"
        )
    if ni <= room:
        key = key_field[:ni]
        if key_field[ni:] != bytes([_PADDING]) * (room - ni):
            raise EmvError("issuer public key padding is not all 'BB' (EMV Book 2 Table 13)")
    else:
        # Step 12: the leftmost digits and the remainder make the modulus.
        key = key_field + rest
    if key[0] == 0:
        raise EmvError(
            "issuer public key starts with a zero byte: its length in the certificate is wrong"
        )
    exponent_value = int.from_bytes(exp, "big")
    if _EXPONENT_BYTES.get(exponent_value) != exp:
        raise EmvError(
            f"issuer public key exponent is '{exp.hex().upper()}', not '03' or '010001' "
            f"(3 or 65537, EMV Book 2 Annex B2.1)"
        )
    return IssuerCertificate(
        issuer_identifier=identifier,
        expiry=expiry,
        serial=serial,
        hash_algorithm=hash_algorithm,
        pk_algorithm=pk_algorithm,
        modulus=int.from_bytes(key, "big"),
        exponent=exponent_value,
    )


def _ca_private_numbers(ca_private: object) -> tuple[int, int, int]:
    if isinstance(ca_private, rsa.RSAPrivateKey):
        numbers = ca_private.private_numbers()
        return numbers.public_numbers.n, numbers.public_numbers.e, numbers.d
    if (
        isinstance(ca_private, tuple)
        and len(ca_private) == 3
        and all(isinstance(n, int) and not isinstance(n, bool) for n in ca_private)
    ):
        modulus, public_exponent, private_exponent = ca_private
        return modulus, public_exponent, private_exponent
    raise EmvError(
        "ca_private must be an RSAPrivateKey or a tuple (modulus, public exponent, "
        "private exponent)"
    )


def issue_issuer_certificate(
    *,
    ca_private: tuple[int, int, int] | rsa.RSAPrivateKey,
    issuer_modulus: int,
    issuer_exponent: int,
    issuer_identifier: str,
    expiry: str,
    serial: bytes,
) -> tuple[bytes, bytes]:
    """Make an Issuer Public Key Certificate as a payment system's CA does (for tests, labs).

    The data of EMV Book 2 Table 13 is built, hashed with SHA-1 and signed with the CA
    private key by the RSA recovery scheme of Annex A2.1 (the private operation on the
    whole recovered data). The signature is verified with the public key before it is
    returned, so a private key that does not match its public half is refused. The private
    operation is plain modular exponentiation, neither blinded nor constant-time: a
    production CA signs inside its HSM.

    Parameters
    ----------
    ca_private
        The CA private key: an ``RSAPrivateKey``, or ``(modulus, public exponent, private
        exponent)``. The modulus is 37 to 248 bytes, the public exponent 3 or 65537.
    issuer_modulus, issuer_exponent
        The issuer public key: no longer than the CA modulus, exponent 3 or 65537.
    issuer_identifier
        The 3 to 8 leftmost PAN digits (the BIN) the certificate names.
    expiry
        ``MMYY``: the certificate is valid to the end of that month. Not checked against
        today's date, so that labs can make expired certificates.
    serial
        The 3-byte Certificate Serial Number.

    Returns
    -------
    tuple of bytes
        ``(certificate, remainder)``: the certificate (tag ``90``, ``NCA`` bytes) and the
        Issuer Public Key Remainder (tag ``92``), empty when the key fits in the certificate.

    Raises
    ------
    EmvError
        When an input is out of range or the key pair does not match.
    """
    modulus, public_exponent, private_exponent = _ca_private_numbers(ca_private)
    _check_ca_numbers(modulus, public_exponent)
    request = IssuerKeyRequest(
        issuer_identifier=issuer_identifier,
        expiry=expiry,
        serial=serial,
        modulus=issuer_modulus,
        exponent=issuer_exponent,
    )
    nca = _length(modulus)
    remainder_length = request.remainder_length(nca)
    ni = request.modulus_length
    room = nca - _FIXED_LENGTH
    key = request.modulus.to_bytes(ni, "big")
    if remainder_length:
        key_field, remainder = key[:room], key[room:]
    else:
        key_field, remainder = key + bytes([_PADDING]) * (room - ni), b""
    exponent = _EXPONENT_BYTES[request.exponent]
    body = (
        bytes([_ISSUER_FORMAT])
        + request.identifier_field
        + bytes.fromhex(request.expiry)
        + request.serial
        + bytes([_SHA1, _RSA, ni, len(exponent)])
        + key_field
    )
    digest = _sha1(body + remainder + exponent)
    message = int.from_bytes(bytes([_HEADER]) + body + digest + bytes([_TRAILER]), "big")
    if message >= modulus:
        raise EmvError(
            "CA public key modulus is smaller than the data it must sign: its first byte "
            "must be above '6A'"
        )
    signature = pow(message, private_exponent, modulus)
    if pow(signature, public_exponent, modulus) != message:
        raise EmvError(
            "ca_private does not verify: its private exponent does not match its public key"
        )
    return signature.to_bytes(nca, "big"), remainder
