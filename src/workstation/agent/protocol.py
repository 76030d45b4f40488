"""The agent's wire protocol: length-prefixed JSON over mutual TLS.

Each message is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON, one
object. The client sends a request and reads one answer; a connection may carry several
requests in turn. Requests::

    {"v": 1, "op": "status"}
    {"v": 1, "op": "install", "delivery": {"delivery_id": ..., "key_id": ..., "label": ...,
        "version": 1, "algorithm": "AES-256", "kcv": "0A1B2C3D4E", "key_block": "D0144..."}}

Answers::

    {"ok": true, "agent": "agent-01", "agent_version": "0.1.0", "token": "...",
     "kek_label": "...", "kek_kcv": "...", "held": [{"key_id", "label", "version", "kcv",
     "installed_at"}]}                                     (status)
    {"ok": true, "installed": true, "kcv": "0A1B2C3D4E"}   (install)
    {"ok": false, "error": "<code>", "message": "<sentence naming what is wrong>"}

Error codes: ``bad-request`` (malformed message), ``refused`` (the block's header or
algorithm is not accepted), ``kcv-mismatch``, ``bad-block`` (the key block does not unwrap
under the agent's KEK), ``no-kek`` (no KEK loaded), ``token`` (the token failed).
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "ERROR_CODES",
    "MAX_MESSAGE",
    "PROTOCOL_VERSION",
    "HeldEntry",
    "InstallRequest",
    "ProtocolError",
    "decode_message",
    "encode_message",
    "error_answer",
    "held_from_json",
    "install_request",
    "parse_install",
    "read_message",
    "status_request",
]

PROTOCOL_VERSION = 1
MAX_MESSAGE = 256 * 1024  # a status with thousands of held keys fits; nothing larger
ERROR_CODES = ("bad-request", "refused", "kcv-mismatch", "bad-block", "no-kek", "token")
_HEADER = struct.Struct(">I")
_HEX = re.compile(r"[0-9A-F]{4,32}")
_ALGORITHMS = ("TDES-2KEY", "TDES-3KEY", "AES-128", "AES-192", "AES-256")


class ProtocolError(ValueError):
    """A message is malformed, too long or cut short; the message says which."""


class _Readable(Protocol):
    def recv(self, size: int, /) -> bytes: ...


def encode_message(message: dict[str, Any]) -> bytes:
    """One framed message: length, then compact UTF-8 JSON."""
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(body) > MAX_MESSAGE:
        raise ProtocolError(f"Message of {len(body)} bytes is longer than {MAX_MESSAGE}")
    return _HEADER.pack(len(body)) + body


def decode_message(body: bytes) -> dict[str, Any]:
    """The JSON object of one message body."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"Message is not UTF-8 JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ProtocolError("Message is not a JSON object")
    return value


def _read_exactly(connection: _Readable, size: int) -> bytes:
    parts: list[bytes] = []
    left = size
    while left:
        chunk = connection.recv(min(left, 65536))
        if not chunk:
            raise EOFError("the connection closed in the middle of a message")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_message(connection: _Readable) -> dict[str, Any] | None:
    """The next message, or None when the peer closed the connection between messages."""
    first = connection.recv(_HEADER.size)
    if not first:
        return None
    if len(first) < _HEADER.size:
        first += _read_exactly(connection, _HEADER.size - len(first))
    (size,) = _HEADER.unpack(first)
    if size > MAX_MESSAGE:
        raise ProtocolError(f"Message of {size} bytes is longer than {MAX_MESSAGE}")
    return decode_message(_read_exactly(connection, size))


def status_request() -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "op": "status"}


@dataclass(frozen=True)
class InstallRequest:
    """The fields of a ``KeyDelivery`` the agent needs (the RFC 5649 form is not sent)."""

    delivery_id: str
    key_id: str
    label: str
    version: int
    algorithm: str
    kcv: str
    key_block: str


def install_request(request: InstallRequest) -> dict[str, Any]:
    return {
        "v": PROTOCOL_VERSION,
        "op": "install",
        "delivery": {
            "delivery_id": request.delivery_id,
            "key_id": request.key_id,
            "label": request.label,
            "version": request.version,
            "algorithm": request.algorithm,
            "kcv": request.kcv,
            "key_block": request.key_block,
        },
    }


def _text(data: dict[str, Any], name: str, *, most: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"Install request field {name!r} is missing or not text")
    if len(value) > most or not value.isprintable():
        raise ProtocolError(
            f"Install request field {name!r} is longer than {most} characters or not printable"
        )
    return value


def parse_install(message: dict[str, Any]) -> InstallRequest:
    """The install request in ``message``, every field checked."""
    data = message.get("delivery")
    if not isinstance(data, dict):
        raise ProtocolError("Install request has no 'delivery' object")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 10**6:
        raise ProtocolError("Install request field 'version' is not a whole number from 1")
    algorithm = _text(data, "algorithm", most=16)
    if algorithm not in _ALGORITHMS:
        raise ProtocolError(
            f"Install request algorithm {algorithm!r} is not one of {', '.join(_ALGORITHMS)}"
        )
    kcv = _text(data, "kcv", most=32)
    if not _HEX.fullmatch(kcv) or len(kcv) % 2:
        raise ProtocolError(
            f"Install request check value {kcv!r} is not 2 to 16 bytes of upper-case hexadecimal"
        )
    key_id = _text(data, "key_id", most=128)
    if any(c in key_id for c in ";\n"):
        raise ProtocolError("Install request field 'key_id' contains ';' or a line break")
    return InstallRequest(
        delivery_id=_text(data, "delivery_id", most=200),
        key_id=key_id,
        label=_text(data, "label", most=128),
        version=version,
        algorithm=algorithm,
        kcv=kcv,
        key_block=_text(data, "key_block", most=9999),
    )


def error_answer(code: str, message: str) -> dict[str, Any]:
    assert code in ERROR_CODES
    return {"ok": False, "error": code, "message": message}


@dataclass(frozen=True)
class HeldEntry:
    """A key the agent holds, as its status reports it."""

    key_id: str
    label: str
    version: int
    kcv: str
    installed_at: str  # ISO 8601 UTC

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "label": self.label,
            "version": self.version,
            "kcv": self.kcv,
            "installed_at": self.installed_at,
        }


def held_from_json(value: object) -> HeldEntry:
    if not isinstance(value, dict):
        raise ProtocolError("A held key entry is not an object")
    try:
        entry = HeldEntry(
            key_id=str(value["key_id"]),
            label=str(value["label"]),
            version=int(value["version"]),
            kcv=str(value["kcv"]),
            installed_at=str(value.get("installed_at", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"A held key entry lacks or mangles {exc}") from None
    return entry
