"""A virtual PIV card (NIST SP 800-73-4) for the vsmartcard ``vpcd`` virtual reader driver.

The card keeps its state in a JSON file: holder name, the PIV Authentication key (slot 9A,
EC P-256 or RSA-2048) and its certificate, the PIN as a salted scrypt hash, the retry
counter and the blocked flag. Every change is written atomically before the card answers,
so a card blocked by wrong PINs stays blocked after removal, as a real card would.

:class:`VirtualCard` answers APDUs (``transmit``) and the vpcd control messages (power on,
power off, reset, ATR); it needs no reader and is what the unit tests drive.
:class:`VirtualCardSlot` "inserts" a card into a vpcd reader: it connects to the reader's
TCP port and answers vpcd in a daemon thread until :meth:`VirtualCardSlot.remove`.

The subset of SP 800-73-4 Part 2 implemented (section numbers are Part 2's):

- SELECT the PIV Card Application (3.1.1), full or right-truncated AID;
- GET DATA (3.1.2) for the CHUID (5FC102), the PIV Authentication certificate (5FC105)
  and the Discovery Object (7E);
- VERIFY (3.2.1) of the PIV Card Application PIN (key reference 80), including the
  status query (no data) and the reset of the security status (P1 = FF);
- CHANGE REFERENCE DATA (3.2.2) of that PIN;
- GENERAL AUTHENTICATE (3.2.4) with the PIV Authentication key 9A: internal authenticate
  (a signature over the challenge), ECC P-256 (algorithm 11) or RSA-2048 (algorithm 07);
- GET RESPONSE for responses longer than Le and command chaining (CLA 10), as SP 800-73-4
  Part 2, 3 (and ISO/IEC 7816-4, 5.1.1 and 5.3.4) describe.

Anything else is refused with the ISO/IEC 7816-4 status word a card would give.
The private key is stored unencrypted in the card file: this is a device for demos and tests.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

__all__ = [
    "ATR",
    "CARD_FORMAT",
    "PIV_AID",
    "CardAlgorithm",
    "SlotError",
    "VirtualCard",
    "VirtualCardError",
    "VirtualCardSlot",
    "encode_tlv",
    "parse_tlv",
]

CARD_FORMAT: Final = "kcw-virtual-piv/1"

#: The PIV Card Application AID with version 01 00 (SP 800-73-4 Part 1, 2.2).
PIV_AID: Final = bytes.fromhex("A000000308000010000100")
_NIST_RID: Final = PIV_AID[:5]


def _atr() -> bytes:
    # TS=3B (direct convention), T0=88 (TD1 follows, 8 historical bytes), TD1=80 (TD2
    # follows, T=0), TD2=01 (T=1). Historical bytes: category 80 and a compact-TLV "card
    # issuer's data" object (tag 5, 6 bytes) "KCWPIV" (ISO/IEC 7816-4, 8.1.1). Offering T=1
    # requires the check byte TCK: the XOR of T0 to the last historical byte.
    body = bytes([0x88, 0x80, 0x01, 0x80, 0x56]) + b"KCWPIV"
    tck = 0
    for b in body:
        tck ^= b
    return bytes([0x3B]) + body + bytes([tck])


ATR: Final = _atr()

# Data object tags (SP 800-73-4 Part 1, Table 3) and the BER-TLV tags of the containers.
_TAG_CHUID: Final = bytes.fromhex("5FC102")
_TAG_PIV_AUTH_CERT: Final = bytes.fromhex("5FC105")
_TAG_DISCOVERY: Final = bytes.fromhex("7E")

# FASC-N of a non-federal issuer: agency code 9999, system code 9999, credential number
# 999999 (SP 800-73-4 Part 1, 3.1.2), the value other PIV tools write.
_FASC_N_NON_FEDERAL: Final = bytes.fromhex("D4E739DA739CED39CE739D836858210842108421C84210C3EB")

_PIN_KEY_REFERENCE: Final = 0x80  # PIV Card Application PIN (Part 1, Table 4)
_PIV_AUTH_KEY: Final = 0x9A  # PIV Authentication key (Part 1, Table 4)
_MAX_CHAIN: Final = 4096  # bytes a command chain may carry; a real card's buffer is smaller
_SCRYPT_N: Final = 2**14


class SW(IntEnum):
    """ISO/IEC 7816-4 status words the card uses (5.6, Tables 5 and 6)."""

    OK = 0x9000
    WRONG_LENGTH = 0x6700
    LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
    SECURE_MESSAGING_NOT_SUPPORTED = 0x6882
    LAST_COMMAND_OF_CHAIN_EXPECTED = 0x6883
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTHENTICATION_METHOD_BLOCKED = 0x6983
    CONDITIONS_NOT_SATISFIED = 0x6985
    WRONG_DATA = 0x6A80
    FILE_NOT_FOUND = 0x6A82
    NOT_ENOUGH_MEMORY = 0x6A84
    INCORRECT_P1_P2 = 0x6A86
    REFERENCED_DATA_NOT_FOUND = 0x6A88
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00


class CardAlgorithm(IntEnum):
    """PIV cryptographic algorithm identifiers (SP 800-78-4, Table 6-2)."""

    RSA2048 = 0x07
    ECCP256 = 0x11


class VirtualCardError(Exception):
    """The card file is missing, unreadable or not a virtual PIV card."""


# --- BER-TLV --------------------------------------------------------------------------------


def encode_tlv(tag: bytes, value: bytes) -> bytes:
    """Encode one BER-TLV object with a definite length (ISO/IEC 7816-4, 5.2).

    >>> encode_tlv(b"\\x71", b"\\x00").hex()
    '710100'
    >>> encode_tlv(b"\\x70", bytes(300))[:4].hex()
    '7082012c'
    """
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    elif n <= 0xFF:
        length = bytes([0x81, n])
    elif n <= 0xFFFF:
        length = bytes([0x82]) + n.to_bytes(2, "big")
    else:
        raise ValueError("TLV value too long")
    return tag + length + value


def parse_tlv(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split a BER-TLV sequence into (tag, value) pairs; raise ValueError if malformed.

    >>> parse_tlv(bytes.fromhex("820081020102"))
    [(b'\\x82', b''), (b'\\x81', b'\\x01\\x02')]
    """
    out: list[tuple[bytes, bytes]] = []
    i = 0
    while i < len(data):
        start = i
        if data[i] & 0x1F == 0x1F:  # multi-byte tag: continue while b8 is set
            i += 1
            while i < len(data) and data[i] & 0x80:
                i += 1
        i += 1
        if i >= len(data):
            raise ValueError("TLV truncated in the tag or length")
        tag = data[start:i]
        first = data[i]
        i += 1
        if first < 0x80:
            length = first
        elif first in (0x81, 0x82, 0x83):
            count = first & 0x7F
            if i + count > len(data):
                raise ValueError("TLV truncated in the length")
            length = int.from_bytes(data[i : i + count], "big")
            i += count
        else:
            raise ValueError("TLV length form not supported")
        if i + length > len(data):
            raise ValueError("TLV value shorter than its length")
        out.append((tag, data[i : i + length]))
        i += length
    return out


# --- command APDUs --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None  # None: no Le field; otherwise 1..65536


class _ApduError(Exception):
    def __init__(self, sw: SW) -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw


def _parse_command(apdu: bytes) -> _Command:
    """Decode a command APDU of any ISO/IEC 7816-3 case (12.1.3), short or extended."""
    if len(apdu) < 4:
        raise _ApduError(SW.WRONG_LENGTH)
    cla, ins, p1, p2 = apdu[0], apdu[1], apdu[2], apdu[3]
    body = apdu[4:]
    data = b""
    le: int | None = None
    if not body:  # case 1
        pass
    elif len(body) == 1:  # case 2S
        le = body[0] or 256
    elif body[0] != 0:  # case 3S or 4S
        lc = body[0]
        if len(body) == 1 + lc:
            data = body[1:]
        elif len(body) == 2 + lc:
            data, le = body[1:-1], body[-1] or 256
        else:
            raise _ApduError(SW.WRONG_LENGTH)
    elif len(body) == 3:  # case 2E
        le = int.from_bytes(body[1:3], "big") or 65536
    elif len(body) > 3:  # case 3E or 4E
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise _ApduError(SW.WRONG_LENGTH)
        if len(body) == 3 + lc:
            data = body[3:]
        elif len(body) == 5 + lc:
            data, le = body[3:-2], int.from_bytes(body[-2:], "big") or 65536
        else:
            raise _ApduError(SW.WRONG_LENGTH)
    else:
        raise _ApduError(SW.WRONG_LENGTH)
    return _Command(cla, ins, p1, p2, data, le)


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


# --- PIN --------------------------------------------------------------------------------


def _pin_reference_data(pin: bytes | bytearray | str) -> bytearray:
    """The 8-byte PIN reference data: 6 to 8 ASCII digits padded with FF (Part 1, 2.4.3)."""
    raw = bytearray(pin.encode("ascii") if isinstance(pin, str) else pin)
    if not 6 <= len(raw) <= 8 or not all(0x30 <= b <= 0x39 for b in raw):
        raise ValueError("a PIV PIN has 6 to 8 digits")
    raw.extend(b"\xff" * (8 - len(raw)))
    return raw


def _valid_reference_data(block: bytes) -> bool:
    """Digits, then only FF padding, at least six digits (SP 800-73-4 Part 1, 2.4.3)."""
    digits = block.rstrip(b"\xff")
    return len(block) == 8 and len(digits) >= 6 and all(0x30 <= b <= 0x39 for b in digits)


def _hash_pin(reference: bytes | bytearray, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(bytes(reference), salt=salt, n=n, r=r, p=p, dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


# --- the card -------------------------------------------------------------------------------


class VirtualCard:
    """A PIV card whose state lives in a JSON file.

    Use :meth:`create` to write a new card (``workstation.devtools.card_issuer`` does this
    with a certificate from the demo CA) and ``VirtualCard(path)`` to load one. The object
    is thread-safe: the vpcd thread and a test may use it at once.

    Examples
    --------
    >>> card = VirtualCard(path)  # doctest: +SKIP
    >>> card.power_on()  # doctest: +SKIP
    >>> card.transmit(bytes.fromhex("00A4040009A00000030800001000"))[-2:].hex()  # doctest: +SKIP
    '9000'
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._lock = threading.RLock()
        try:
            record = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise VirtualCardError(f"No virtual card file at {self._path}.") from None
        except (OSError, ValueError) as exc:
            raise VirtualCardError(f"The virtual card file {self._path} is unreadable.") from exc
        try:
            self._load(record)
        except (KeyError, TypeError, ValueError) as exc:
            raise VirtualCardError(f"{self._path} is not a virtual PIV card file ({exc}).") from exc
        # Volatile state: lost on power off or reset, as on a real card.
        self._selected = False
        self._pin_verified = False
        self._pending = b""  # response bytes waiting for GET RESPONSE
        self._chain: tuple[int, int, int] | None = None  # INS, P1, P2 of an open chain
        self._chain_data = bytearray()

    def _load(self, record: dict[str, Any]) -> None:
        if record["format"] != CARD_FORMAT:
            raise ValueError(f"unknown format {record['format']!r}")
        self._holder_name = str(record["holder_name"])
        self._algorithm = CardAlgorithm[record["algorithm"]]
        key = serialization.load_pem_private_key(
            record["private_key_pem"].encode("ascii"), password=None
        )
        if self._algorithm is CardAlgorithm.ECCP256:
            if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
                raise ValueError("algorithm ECCP256 needs an EC P-256 key")
        elif not isinstance(key, rsa.RSAPrivateKey) or key.key_size != 2048:
            raise ValueError("algorithm RSA2048 needs an RSA-2048 key")
        self._key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = key
        self._certificate_der = _unb64(record["certificate_der"])
        self._guid = bytes.fromhex(record["guid"])
        self._expiry = str(record["expiry"])
        pin = record["pin"]
        if pin["kdf"] != "scrypt":
            raise ValueError(f"unknown PIN KDF {pin['kdf']!r}")
        self._pin_salt = _unb64(pin["salt"])
        self._pin_hash = _unb64(pin["hash"])
        self._pin_params = (int(pin["n"]), int(pin["r"]), int(pin["p"]))
        self._pin_max_tries = int(record["pin_max_tries"])
        self._pin_tries_left = int(record["pin_tries_left"])
        self._blocked = bool(record["blocked"])

    def _record(self) -> dict[str, Any]:
        n, r, p = self._pin_params
        return {
            "format": CARD_FORMAT,
            "holder_name": self._holder_name,
            "algorithm": self._algorithm.name,
            "private_key_pem": self._key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii"),
            "certificate_der": _b64(self._certificate_der),
            "guid": self._guid.hex(),
            "expiry": self._expiry,
            "pin": {
                "kdf": "scrypt",
                "n": n,
                "r": r,
                "p": p,
                "salt": _b64(self._pin_salt),
                "hash": _b64(self._pin_hash),
            },
            "pin_max_tries": self._pin_max_tries,
            "pin_tries_left": self._pin_tries_left,
            "blocked": self._blocked,
        }

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        holder_name: str,
        private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
        certificate: x509.Certificate,
        pin: str | bytes | bytearray,
        pin_tries: int = 3,
        overwrite: bool = False,
        guid: bytes | None = None,
    ) -> VirtualCard:
        """Write a new card file and return the card.

        Parameters
        ----------
        path
            The card file (JSON, mode 0600). Refused if it exists unless ``overwrite``.
        holder_name
            The cardholder's name (informational; the certificate subject is what counts).
        private_key
            The PIV Authentication key: EC P-256 or RSA-2048.
        certificate
            Its certificate; its public key must match ``private_key``.
        pin
            6 to 8 digits; only a salted scrypt hash of it is stored.
        pin_tries
            Wrong PINs allowed before the card blocks (1 to 15).
        overwrite
            Replace an existing file.
        guid
            The 16-byte Card UUID for the CHUID; random if not given.
        """
        if isinstance(private_key, ec.EllipticCurvePrivateKey):
            if private_key.curve.name != "secp256r1":
                raise ValueError("the virtual card supports EC keys on P-256 only")
            algorithm = CardAlgorithm.ECCP256
        elif isinstance(private_key, rsa.RSAPrivateKey) and private_key.key_size == 2048:
            algorithm = CardAlgorithm.RSA2048
        else:
            raise ValueError("the virtual card supports EC P-256 and RSA-2048 keys")
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        if private_key.public_key().public_bytes(
            serialization.Encoding.DER, public
        ) != certificate.public_key().public_bytes(serialization.Encoding.DER, public):
            raise ValueError("the certificate is not for this private key")
        if guid is not None and len(guid) != 16:
            raise ValueError("the card UUID has 16 bytes")
        if not 1 <= pin_tries <= 15:
            raise ValueError("pin_tries must be 1 to 15 (one hex digit in 63Cx)")
        reference = _pin_reference_data(pin)
        salt = secrets.token_bytes(16)
        n, r, p = _SCRYPT_N, 8, 1
        record: dict[str, Any] = {
            "format": CARD_FORMAT,
            "holder_name": holder_name,
            "algorithm": algorithm.name,
            "private_key_pem": private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii"),
            "certificate_der": _b64(certificate.public_bytes(serialization.Encoding.DER)),
            "guid": (guid if guid is not None else uuid.uuid4().bytes).hex(),
            "expiry": certificate.not_valid_after_utc.strftime("%Y%m%d"),
            "pin": {
                "kdf": "scrypt",
                "n": n,
                "r": r,
                "p": p,
                "salt": _b64(salt),
                "hash": _b64(_hash_pin(reference, salt, n, r, p)),
            },
            "pin_max_tries": pin_tries,
            "pin_tries_left": pin_tries,
            "blocked": False,
        }
        reference[:] = bytes(len(reference))
        target = Path(path)
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} exists")
        _write_atomically(target, record)
        return cls(target)

    # --- state, for tests and tools ------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    @property
    def holder_name(self) -> str:
        return self._holder_name

    @property
    def algorithm(self) -> CardAlgorithm:
        return self._algorithm

    @property
    def certificate(self) -> x509.Certificate:
        """The PIV Authentication certificate (slot 9A)."""
        return x509.load_der_x509_certificate(self._certificate_der)

    @property
    def certificate_der(self) -> bytes:
        """The same certificate, DER, as GET DATA returns it."""
        return self._certificate_der

    @property
    def guid(self) -> bytes:
        """The 16-byte Card UUID of the CHUID (tag 34)."""
        return self._guid

    @property
    def pin_tries_left(self) -> int:
        with self._lock:
            return self._pin_tries_left

    @property
    def blocked(self) -> bool:
        with self._lock:
            return self._blocked

    @property
    def pin_verified(self) -> bool:
        """Whether the PIN is verified in the current card session (since power on)."""
        with self._lock:
            return self._pin_verified

    def _save(self) -> None:
        _write_atomically(self._path, self._record())

    # --- vpcd control ----------------------------------------------------------------------

    @property
    def atr(self) -> bytes:
        return ATR

    def power_on(self) -> None:
        self._clear_session()

    def power_off(self) -> None:
        self._clear_session()

    def reset(self) -> None:
        self._clear_session()

    def _clear_session(self) -> None:
        with self._lock:
            self._selected = False
            self._pin_verified = False
            self._pending = b""
            self._chain = None
            self._chain_data.clear()

    # --- APDUs -------------------------------------------------------------------------

    def transmit(self, apdu: bytes) -> bytes:
        """Process one command APDU and return the response APDU (data and SW1 SW2)."""
        with self._lock:
            try:
                return self._transmit(apdu)
            except _ApduError as exc:
                return _sw(exc.sw)

    def _transmit(self, apdu: bytes) -> bytes:
        command = _parse_command(apdu)
        cla = command.cla
        if cla & 0xE0:
            # Proprietary (b8) or further interindustry (b7) classes (ISO/IEC 7816-4, 5.4.1).
            raise _ApduError(SW.CLA_NOT_SUPPORTED)
        if cla & 0x0C:
            raise _ApduError(SW.SECURE_MESSAGING_NOT_SUPPORTED)
        if cla & 0x03:
            raise _ApduError(SW.LOGICAL_CHANNEL_NOT_SUPPORTED)

        if command.ins == 0xC0 and not cla & 0x10:
            return self._get_response(command)
        self._pending = b""  # any other command drops an unread response (ISO 7816-4, 5.3.4)

        # Command chaining (SP 800-73-4 Part 2, 3; ISO/IEC 7816-4, 5.1.1.1): CLA b5 set on
        # every command but the last; the card answers 9000 and gathers the data.
        header = (command.ins, command.p1, command.p2)
        if self._chain is not None and self._chain != header:
            self._chain = None
            self._chain_data.clear()
            raise _ApduError(SW.LAST_COMMAND_OF_CHAIN_EXPECTED)
        if cla & 0x10:
            if len(self._chain_data) + len(command.data) > _MAX_CHAIN:
                self._chain = None
                self._chain_data.clear()
                raise _ApduError(SW.NOT_ENOUGH_MEMORY)
            self._chain = header
            self._chain_data.extend(command.data)
            return _sw(SW.OK)
        if self._chain is not None:
            data = bytes(self._chain_data) + command.data
            self._chain = None
            self._chain_data.clear()
            command = _Command(0x00, command.ins, command.p1, command.p2, data, command.le)
            if len(data) > _MAX_CHAIN:
                raise _ApduError(SW.NOT_ENOUGH_MEMORY)

        if command.ins == 0xA4:
            return self._select(command)
        handler = {
            0xCB: self._get_data,
            0x20: self._verify,
            0x24: self._change_reference_data,
            0x87: self._general_authenticate,
        }.get(command.ins)
        if handler is None:
            raise _ApduError(SW.INS_NOT_SUPPORTED)
        if not self._selected:
            # No application is selected and the PIV application is not the default one.
            raise _ApduError(SW.CONDITIONS_NOT_SATISFIED)
        return handler(command)

    def _respond(self, data: bytes, le: int | None) -> bytes:
        """Send up to Le bytes (256 when Le is absent, as PIV cards do) and keep the rest
        for GET RESPONSE, announcing it with 61xx (ISO/IEC 7816-4, 5.3.4)."""
        limit = le if le is not None else 256
        if len(data) <= limit:
            return data + _sw(SW.OK)
        self._pending = data[limit:]
        return data[:limit] + bytes([0x61, min(len(self._pending), 256) & 0xFF])

    def _get_response(self, command: _Command) -> bytes:
        if command.p1 != 0 or command.p2 != 0:
            raise _ApduError(SW.INCORRECT_P1_P2)
        if command.data:
            raise _ApduError(SW.WRONG_LENGTH)
        if not self._pending:
            raise _ApduError(SW.CONDITIONS_NOT_SATISFIED)
        pending, self._pending = self._pending, b""
        return self._respond(pending, command.le)

    # SP 800-73-4 Part 2, 3.1.1
    def _select(self, command: _Command) -> bytes:
        if command.p1 != 0x04 or command.p2 != 0x00:
            raise _ApduError(SW.INCORRECT_P1_P2)
        aid = command.data
        # The full AID, or right-truncated (without the version, or even to the RID, as
        # deployed cards accept). A failed SELECT leaves the current application selected.
        if len(aid) < len(_NIST_RID) or not PIV_AID.startswith(aid):
            raise _ApduError(SW.FILE_NOT_FOUND)
        self._selected = True
        self._pin_verified = False
        algorithms = encode_tlv(b"\x80", bytes([self._algorithm])) + encode_tlv(b"\x06", b"\x00")
        template = (
            encode_tlv(b"\x4f", PIV_AID[5:])  # PIX of the AID, with the version
            + encode_tlv(b"\x79", encode_tlv(b"\x4f", _NIST_RID))  # tag allocation authority
            + encode_tlv(b"\x50", b"KCW Virtual PIV")  # application label
            + encode_tlv(b"\xac", algorithms)  # cryptographic algorithms supported
        )
        return self._respond(encode_tlv(b"\x61", template), command.le)

    # SP 800-73-4 Part 2, 3.1.2; objects per Part 1, Tables 9, 15 and 18
    def _get_data(self, command: _Command) -> bytes:
        if command.p1 != 0x3F or command.p2 != 0xFF:
            raise _ApduError(SW.INCORRECT_P1_P2)
        try:
            fields = parse_tlv(command.data)
        except ValueError:
            raise _ApduError(SW.WRONG_DATA) from None
        if len(fields) != 1 or fields[0][0] != b"\x5c":
            raise _ApduError(SW.WRONG_DATA)
        tag = fields[0][1]
        if tag == _TAG_PIV_AUTH_CERT:
            body = (
                encode_tlv(b"\x70", self._certificate_der)
                + encode_tlv(b"\x71", b"\x00")  # CertInfo: not compressed
                + encode_tlv(b"\xfe", b"")  # error detection code
            )
            return self._respond(encode_tlv(b"\x53", body), command.le)
        if tag == _TAG_CHUID:
            body = (
                encode_tlv(b"\x30", _FASC_N_NON_FEDERAL)
                + encode_tlv(b"\x34", self._guid)
                + encode_tlv(b"\x35", self._expiry.encode("ascii"))
                # The issuer asymmetric signature (tag 3E) is left empty: the demo CHUID is
                # not signed, and nothing in the workstation relies on it.
                + encode_tlv(b"\x3e", b"")
                + encode_tlv(b"\xfe", b"")
            )
            return self._respond(encode_tlv(b"\x53", body), command.le)
        if tag == _TAG_DISCOVERY:
            # PIN usage policy 40 00: only the PIV Card Application PIN (Part 1, 3.3.2).
            body = encode_tlv(b"\x4f", PIV_AID) + encode_tlv(b"\x5f\x2f", b"\x40\x00")
            return self._respond(encode_tlv(b"\x7e", body), command.le)
        raise _ApduError(SW.FILE_NOT_FOUND)

    def _retries_sw(self) -> bytes:
        return bytes([0x63, 0xC0 | self._pin_tries_left])

    def _check_pin(self, block: bytes) -> bytes | None:
        """Compare the reference data with the stored PIN; count a failure. Returns the
        status to send on failure, None on success."""
        n, r, p = self._pin_params
        if hmac.compare_digest(_hash_pin(block, self._pin_salt, n, r, p), self._pin_hash):
            if self._pin_tries_left != self._pin_max_tries:
                self._pin_tries_left = self._pin_max_tries
                self._save()
            return None
        self._pin_verified = False
        self._pin_tries_left = max(0, self._pin_tries_left - 1)
        self._blocked = self._pin_tries_left == 0
        self._save()  # before answering: pulling the card cannot undo a wrong try
        return self._retries_sw()

    # SP 800-73-4 Part 2, 3.2.1
    def _verify(self, command: _Command) -> bytes:
        if command.p1 not in (0x00, 0xFF):
            raise _ApduError(SW.INCORRECT_P1_P2)
        if command.p2 != _PIN_KEY_REFERENCE:
            # Global PIN (00) and PUK (81) are not on this card.
            raise _ApduError(SW.REFERENCED_DATA_NOT_FOUND)
        if command.p1 == 0xFF:  # reset the security status; Lc and data absent
            if command.data:
                raise _ApduError(SW.WRONG_LENGTH)
            self._pin_verified = False
            return _sw(SW.OK)
        if self._blocked:
            raise _ApduError(SW.AUTHENTICATION_METHOD_BLOCKED)
        if not command.data:  # status query
            return _sw(SW.OK) if self._pin_verified else self._retries_sw()
        if len(command.data) != 8:
            raise _ApduError(SW.WRONG_LENGTH)
        if not _valid_reference_data(command.data):
            # The card enforces the PIN format (Part 1, 2.4.3) without counting a try.
            raise _ApduError(SW.WRONG_DATA)
        failure = self._check_pin(command.data)
        if failure is not None:
            return failure
        self._pin_verified = True
        return _sw(SW.OK)

    # SP 800-73-4 Part 2, 3.2.2
    def _change_reference_data(self, command: _Command) -> bytes:
        if command.p1 != 0x00:
            raise _ApduError(SW.INCORRECT_P1_P2)
        if command.p2 != _PIN_KEY_REFERENCE:
            raise _ApduError(SW.REFERENCED_DATA_NOT_FOUND)
        if self._blocked:
            raise _ApduError(SW.AUTHENTICATION_METHOD_BLOCKED)
        if len(command.data) != 16:
            raise _ApduError(SW.WRONG_LENGTH)
        old, new = command.data[:8], command.data[8:]
        if not (_valid_reference_data(old) and _valid_reference_data(new)):
            raise _ApduError(SW.WRONG_DATA)
        failure = self._check_pin(old)
        if failure is not None:
            return failure
        n, r, p = self._pin_params
        salt = secrets.token_bytes(16)
        self._pin_salt, self._pin_hash = salt, _hash_pin(new, salt, n, r, p)
        self._pin_tries_left = self._pin_max_tries
        self._save()
        return _sw(SW.OK)

    # SP 800-73-4 Part 2, 3.2.4 and Appendix A.2 (internal authenticate: the card signs
    # the challenge it is given, which the client has hashed and, for RSA, padded).
    def _general_authenticate(self, command: _Command) -> bytes:
        if command.p2 != _PIV_AUTH_KEY:
            raise _ApduError(SW.REFERENCED_DATA_NOT_FOUND)  # no other key on this card
        if command.p1 != self._algorithm:
            raise _ApduError(SW.INCORRECT_P1_P2)
        if not self._pin_verified:
            raise _ApduError(SW.SECURITY_STATUS_NOT_SATISFIED)
        try:
            outer = parse_tlv(command.data)
            if len(outer) != 1 or outer[0][0] != b"\x7c":
                raise ValueError("not a dynamic authentication template")
            inner = dict(parse_tlv(outer[0][1]))
        except ValueError:
            raise _ApduError(SW.WRONG_DATA) from None
        if set(inner) != {b"\x82", b"\x81"} or inner[b"\x82"] != b"":
            raise _ApduError(SW.WRONG_DATA)  # only "sign this challenge" is supported
        challenge = inner[b"\x81"]
        key = self._key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            if len(challenge) != 32:  # the SHA-256 digest for P-256 (SP 800-78-4, 3.2.2)
                raise _ApduError(SW.WRONG_DATA)
            signature = key.sign(challenge, ec.ECDSA(Prehashed(hashes.SHA256())))
        else:
            numbers = key.private_numbers()
            n = numbers.public_numbers.n
            m = int.from_bytes(challenge, "big")
            if len(challenge) != 256 or m >= n:
                raise _ApduError(SW.WRONG_DATA)
            # Raw RSA with the CRT; the padding is the client's job (Appendix A.2).
            s1 = pow(m, numbers.dmp1, numbers.p)
            s2 = pow(m, numbers.dmq1, numbers.q)
            h = (numbers.iqmp * (s1 - s2)) % numbers.p
            signature = (s2 + h * numbers.q).to_bytes(256, "big")
        return self._respond(encode_tlv(b"\x7c", encode_tlv(b"\x82", signature)), command.le)


def _write_atomically(path: Path, record: dict[str, Any]) -> None:
    """Write JSON to a temporary file beside ``path``, fsync it and rename it over."""
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# --- vpcd -------------------------------------------------------------------------------

_VPCD_POWER_OFF: Final = 0x00
_VPCD_POWER_ON: Final = 0x01
_VPCD_RESET: Final = 0x02
_VPCD_ATR: Final = 0x04


class SlotError(Exception):
    """The virtual card could not be inserted or removed."""


class VirtualCardSlot:
    """A virtual card put into a vpcd reader: a TCP client of vpcd in a daemon thread.

    vpcd frames every message, both ways, as a 2-byte big-endian length and a payload. A
    1-byte payload from vpcd is a control (00 power off, 01 power on, 02 reset, 04 send the
    ATR); a longer one is a command APDU, answered with the response APDU. Connecting is
    inserting the card; closing the socket is pulling it out.

    Parameters
    ----------
    card
        The card to insert. One slot holds one card; a card should be in one slot at a time.

    Examples
    --------
    >>> slot = VirtualCardSlot(VirtualCard(path))  # doctest: +SKIP
    >>> slot.insert(35963, reader="KCW Virtual Reader 1 00 00")  # doctest: +SKIP
    >>> slot.remove()  # doctest: +SKIP
    """

    def __init__(self, card: VirtualCard) -> None:
        self.card = card
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._seen = threading.Event()  # vpcd asked for the ATR: pcscd found the card
        self._port: int | None = None
        self._reader: str | None = None
        self._lock = threading.Lock()

    @property
    def inserted(self) -> bool:
        """Whether the card is connected to vpcd (False after removal or if pcscd stopped)."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def reader(self) -> str | None:
        return self._reader

    def insert(
        self,
        port: int,
        *,
        host: str = "127.0.0.1",
        reader: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Connect to the vpcd reader on ``port`` and wait until pcscd sees the card.

        Without ``reader`` this waits until vpcd polls the card for its ATR (pcscd's
        presence check). With the reader's PC/SC name it also waits until PC/SC reports the
        card present in that reader, so a caller may use the card at once.

        Raises
        ------
        SlotError
            If the slot is in use, vpcd is not listening, or the reader did not see the card
            within ``timeout`` seconds (the card is then removed again).
        """
        with self._lock:
            if self.inserted:
                raise SlotError(f"The card is already inserted (port {self._port}).")
            deadline = time.monotonic() + timeout
            try:
                sock = socket.create_connection((host, port), timeout=timeout)
            except OSError as exc:
                raise SlotError(
                    f"No vpcd reader listens on {host}:{port}; is pcscd running with the "
                    f"virtual readers? ({exc})"
                ) from exc
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _quickack(sock)
            self._seen.clear()
            self._sock, self._port, self._reader = sock, port, reader
            self._thread = threading.Thread(
                target=self._serve, args=(sock,), name=f"vpcd-card-{port}", daemon=True
            )
            self._thread.start()
            if not self._seen.wait(max(0.0, deadline - time.monotonic())):
                self._disconnect()
                raise SlotError(
                    f"The reader on port {port} did not see the card within {timeout:g} s "
                    f"(is another card in that reader?)."
                )
            if reader is not None and not _wait_reader(reader, present=True, deadline=deadline):
                self._disconnect()
                raise SlotError(f"PC/SC did not report the card in {reader!r} in time.")

    def remove(self, *, timeout: float = 10.0) -> None:
        """Pull the card out: close the connection; with a reader name given at insertion,
        wait until PC/SC reports the reader empty. Removing an absent card does nothing."""
        with self._lock:
            deadline = time.monotonic() + timeout
            reader = self._reader
            was_inserted = self._sock is not None
            self._disconnect()
            if (
                was_inserted
                and reader is not None
                and not _wait_reader(reader, present=False, deadline=deadline)
            ):
                raise SlotError(f"PC/SC still reports a card in {reader!r}.")

    def _disconnect(self) -> None:
        sock, thread = self._sock, self._thread
        self._sock = None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        self._thread = None
        self.card.power_off()

    def _serve(self, sock: socket.socket) -> None:
        try:
            for message in _messages(sock):
                if len(message) == 1:
                    control = message[0]
                    if control == _VPCD_ATR:
                        _send(sock, self.card.atr)
                        self._seen.set()
                    elif control == _VPCD_POWER_ON:
                        self.card.power_on()
                    elif control == _VPCD_POWER_OFF:
                        self.card.power_off()
                    elif control == _VPCD_RESET:
                        self.card.reset()
                    # Unknown controls get no answer: vpcd expects none for them.
                else:
                    _send(sock, self.card.transmit(message))
        except OSError:
            pass  # the socket was closed: by remove() or by pcscd going away
        finally:
            self.card.power_off()


def _quickack(sock: socket.socket) -> None:
    # Linux clears TCP_QUICKACK after a while; without it every APDU waits ~40 ms for the
    # delayed ACK. Re-armed after every receive.
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        _quickack(sock)
        if not chunk:
            return None
        buf.extend(chunk)
    return bytes(buf)


def _messages(sock: socket.socket) -> Iterator[bytes]:
    while True:
        header = _recv_exact(sock, 2)
        if header is None:
            return
        length = int.from_bytes(header, "big")
        payload = _recv_exact(sock, length) if length else b""
        if payload is None:
            return
        yield payload


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(len(payload).to_bytes(2, "big") + payload)


def _wait_reader(reader: str, *, present: bool, deadline: float) -> bool:
    """Wait, up to ``deadline`` (monotonic), until PC/SC reports a card present (or not)
    in ``reader``. Uses its own PC/SC context."""
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return False
    try:
        state = scard.SCARD_STATE_UNAWARE
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            hresult, states = scard.SCardGetStatusChange(
                context, max(0, min(remaining_ms, 1000)), [(reader, state)]
            )
            if hresult == scard.SCARD_S_SUCCESS:
                state = states[0][1]
                if bool(state & scard.SCARD_STATE_PRESENT) == present and not (
                    state & scard.SCARD_STATE_UNKNOWN
                ):
                    return True
                state &= ~scard.SCARD_STATE_CHANGED
            elif hresult != scard.SCARD_E_TIMEOUT:
                return False
            if time.monotonic() >= deadline:
                return False
    finally:
        scard.SCardReleaseContext(context)
