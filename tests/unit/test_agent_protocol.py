"""The agent's wire protocol: framing, JSON, and the install request's checks."""

from __future__ import annotations

import socket
import struct

import pytest

from workstation.agent.protocol import (
    MAX_MESSAGE,
    HeldEntry,
    InstallRequest,
    ProtocolError,
    decode_message,
    encode_message,
    held_from_json,
    install_request,
    parse_install,
    read_message,
    status_request,
)

REQUEST = InstallRequest(
    delivery_id="job-1/agent-001/key-1",
    key_id="key-1",
    label="Host PEK",
    version=2,
    algorithm="AES-256",
    kcv="0A1B2C3D4E",
    key_block="D0144P0AE00E0000" + "0" * 128,
)


class _Chunks:
    """A connection that hands out its bytes a few at a time, as TLS records may."""

    def __init__(self, data: bytes, size: int = 3) -> None:
        self.data, self.size = data, size

    def recv(self, size: int) -> bytes:
        chunk, self.data = self.data[: min(size, self.size)], self.data[min(size, self.size) :]
        return chunk


def test_messages_round_trip_through_a_socket_pair() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(encode_message(status_request()) + encode_message(install_request(REQUEST)))
        assert read_message(b) == {"v": 1, "op": "status"}
        assert parse_install(read_message(b) or {}) == REQUEST
        a.close()
        assert read_message(b) is None  # closed between messages


def test_a_message_read_in_small_pieces_is_whole() -> None:
    framed = encode_message(install_request(REQUEST))
    assert read_message(_Chunks(framed)) == install_request(REQUEST)


def test_a_message_cut_short_is_an_error() -> None:
    framed = encode_message(status_request())
    with pytest.raises(EOFError):
        read_message(_Chunks(framed[:-2]))


def test_an_announced_length_over_the_limit_is_refused_before_reading() -> None:
    with pytest.raises(ProtocolError, match=f"longer than {MAX_MESSAGE}"):
        read_message(_Chunks(struct.pack(">I", MAX_MESSAGE + 1)))


def test_a_message_too_long_is_not_sent() -> None:
    with pytest.raises(ProtocolError, match="longer than"):
        encode_message({"x": "a" * MAX_MESSAGE})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"{", "not UTF-8 JSON"),
        (b"[1, 2]", "not a JSON object"),
    ],
)
def test_bodies_that_are_not_objects_are_refused(body: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        decode_message(body)


def _with(**changes: object) -> dict[str, object]:
    message = install_request(REQUEST)
    delivery = dict(message["delivery"])
    delivery.update(changes)
    for name, value in changes.items():
        if value is None:
            del delivery[name]
    return {**message, "delivery": delivery}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": 0}, "'version' is not a whole number from 1"),
        ({"version": True}, "'version' is not a whole number from 1"),
        ({"version": "2"}, "'version' is not a whole number from 1"),
        ({"algorithm": "RSA-2048"}, "algorithm 'RSA-2048' is not one of"),
        ({"kcv": "0a1b2c"}, "check value '0a1b2c' is not 2 to 16 bytes"),
        ({"kcv": "0A1"}, "check value '0A1' is not 2 to 16 bytes"),
        ({"key_id": "a;b"}, "'key_id' contains ';'"),
        ({"key_id": None}, "'key_id' is missing or not text"),
        ({"label": ""}, "'label' is missing or not text"),
        ({"label": "a\nb"}, "'label' is longer than 128 characters or not printable"),
        ({"key_block": "D" * 10000}, "'key_block' is longer than 9999"),
    ],
)
def test_install_requests_are_checked_field_by_field(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_install(_with(**changes))


def test_an_install_without_a_delivery_is_refused() -> None:
    with pytest.raises(ProtocolError, match="no 'delivery' object"):
        parse_install({"v": 1, "op": "install"})


def test_held_entries_round_trip_and_malformed_ones_are_refused() -> None:
    entry = HeldEntry("key-1", "Host PEK", 2, "0A1B2C3D4E", "2026-01-01T00:00:00Z")
    assert held_from_json(entry.to_json()) == entry
    with pytest.raises(ProtocolError, match="lacks or mangles"):
        held_from_json({"key_id": "k", "label": "l", "version": "two", "kcv": "00"})
    with pytest.raises(ProtocolError, match="not an object"):
        held_from_json(["key-1"])
