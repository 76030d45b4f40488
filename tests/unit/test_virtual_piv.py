"""The virtual PIV card at the APDU level (no pcscd): NIST SP 800-73-4 Part 2 commands,
status words, GET RESPONSE, command chaining, persistence; and the vpcd framing of
VirtualCardSlot against a stand-in for vpcd."""

from __future__ import annotations

import hashlib
import json
import queue
import socket
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from workstation.devtools.card_issuer import DemoCa, issue_card
from workstation.devtools.virtual_piv import (
    ATR,
    PIV_AID,
    SlotError,
    VirtualCard,
    VirtualCardError,
    VirtualCardSlot,
    encode_tlv,
    parse_tlv,
)

PIN = "123456"
CERT_TAG = bytes.fromhex("5FC105")
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


# --- helpers -----------------------------------------------------------------------------


def apdu(cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> bytes:
    out = bytes([cla, ins, p1, p2])
    if data:
        out += bytes([len(data)]) + data
    if le is not None:
        out += bytes([le & 0xFF])
    return out


def send(card: VirtualCard, command: bytes) -> tuple[bytes, int]:
    response = card.transmit(command)
    return response[:-2], int.from_bytes(response[-2:], "big")


def send_all(card: VirtualCard, command: bytes) -> tuple[bytes, int]:
    """Send, then GET RESPONSE while the card says 61xx."""
    data, sw = send(card, command)
    collected = bytearray(data)
    while sw >> 8 == 0x61:
        data, sw = send(card, apdu(0x00, 0xC0, 0x00, 0x00, le=sw & 0xFF))
        collected += data
    return bytes(collected), sw


def pin_block(pin: str) -> bytes:
    return pin.encode() + b"\xff" * (8 - len(pin))


def verify(card: VirtualCard, pin: str | None) -> int:
    data = b"" if pin is None else pin_block(pin)
    return send(card, apdu(0x00, 0x20, 0x00, 0x80, data))[1]


def select(card: VirtualCard) -> None:
    assert send(card, apdu(0x00, 0xA4, 0x04, 0x00, PIV_AID, le=0))[1] == 0x9000


def authenticate(card: VirtualCard, algorithm: int, challenge: bytes) -> tuple[bytes, int]:
    template = encode_tlv(b"\x7c", encode_tlv(b"\x82", b"") + encode_tlv(b"\x81", challenge))
    chunks = [template[i : i + 255] for i in range(0, len(template), 255)]
    for chunk in chunks[:-1]:
        assert send(card, apdu(0x10, 0x87, algorithm, 0x9A, chunk))[1] == 0x9000
    return send_all(card, apdu(0x00, 0x87, algorithm, 0x9A, chunks[-1], le=0))


def signature_of(response: bytes) -> bytes:
    ((tag, inner),) = parse_tlv(response)
    assert tag == b"\x7c"
    fields = dict(parse_tlv(inner))
    return fields[b"\x82"]


@pytest.fixture(scope="module")
def ca() -> DemoCa:
    return DemoCa.create("Unit Test CA")


@pytest.fixture
def card(tmp_path: Path, ca: DemoCa) -> VirtualCard:
    issued = issue_card(tmp_path / "alice.json", "Alice Example", PIN, valid_days=30, ca=ca)
    issued.power_on()
    return issued


@pytest.fixture
def selected(card: VirtualCard) -> VirtualCard:
    select(card)
    return card


# --- ATR and SELECT (SP 800-73-4 Part 2, 3.1.1) -----------------------------------------


def test_atr_is_well_formed() -> None:
    assert ATR[0] == 0x3B
    check = 0
    for b in ATR[1:]:
        check ^= b
    assert check == 0  # TCK makes the XOR of T0..TCK zero (ISO/IEC 7816-3, 8.2.5)


@pytest.mark.parametrize(
    "aid",
    [PIV_AID, bytes.fromhex("A0000003080000100001"), PIV_AID[:9], bytes.fromhex("A000000308")],
    ids=["full", "without-last-byte", "without-version", "rid"],
)
def test_select_accepts_full_and_truncated_aid(card: VirtualCard, aid: bytes) -> None:
    data, sw = send(card, apdu(0x00, 0xA4, 0x04, 0x00, aid, le=0))
    assert sw == 0x9000
    ((tag, template),) = parse_tlv(data)
    assert tag == b"\x61"
    fields = dict(parse_tlv(template))
    assert fields[b"\x4f"] == bytes.fromhex("000010000100")
    assert dict(parse_tlv(fields[b"\x79"]))[b"\x4f"] == bytes.fromhex("A000000308")
    assert dict(parse_tlv(fields[b"\xac"]))[b"\x80"] == b"\x11"


@pytest.mark.parametrize(
    ("command", "sw"),
    [
        (apdu(0x00, 0xA4, 0x04, 0x00, bytes.fromhex("A000000151000000"), le=0), 0x6A82),
        (apdu(0x00, 0xA4, 0x04, 0x00, bytes.fromhex("A00000"), le=0), 0x6A82),
        (apdu(0x00, 0xA4, 0x04, 0x00, PIV_AID + b"\x00", le=0), 0x6A82),
        (apdu(0x00, 0xA4, 0x00, 0x00, PIV_AID, le=0), 0x6A86),
        (apdu(0x00, 0xA4, 0x04, 0x0C, PIV_AID, le=0), 0x6A86),
    ],
    ids=["other-aid", "shorter-than-rid", "longer-than-aid", "p1", "p2"],
)
def test_select_refusals(card: VirtualCard, command: bytes, sw: int) -> None:
    assert send(card, command) == (b"", sw)


def test_failed_select_keeps_piv_selected(selected: VirtualCard) -> None:
    other = apdu(0x00, 0xA4, 0x04, 0x00, bytes.fromhex("A000000151000000"), le=0)
    assert send(selected, other)[1] == 0x6A82
    assert verify(selected, None) == 0x63C3


def test_commands_need_the_application_selected(card: VirtualCard) -> None:
    assert verify(card, PIN) == 0x6985
    assert card.pin_tries_left == 3


# --- GET DATA (3.1.2) --------------------------------------------------------------------


def get_data(card: VirtualCard, tag: bytes, le: int = 0) -> tuple[bytes, int]:
    return send_all(card, apdu(0x00, 0xCB, 0x3F, 0xFF, encode_tlv(b"\x5c", tag), le=le))


def test_get_data_certificate_through_get_response(selected: VirtualCard) -> None:
    first, sw = send(selected, apdu(0x00, 0xCB, 0x3F, 0xFF, encode_tlv(b"\x5c", CERT_TAG), le=0))
    assert len(first) == 256 and sw >> 8 == 0x61  # more than 256 bytes: 61xx
    data, sw = get_data(selected, CERT_TAG)
    assert sw == 0x9000
    ((tag, body),) = parse_tlv(data)
    assert tag == b"\x53"
    fields = dict(parse_tlv(body))
    assert fields[b"\x70"] == selected.certificate_der
    assert fields[b"\x71"] == b"\x00"
    assert b"\xfe" in fields
    cert = x509.load_der_x509_certificate(fields[b"\x70"])
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Alice Example"


def test_get_response_honours_a_short_le(selected: VirtualCard) -> None:
    command = apdu(0x00, 0xCB, 0x3F, 0xFF, encode_tlv(b"\x5c", CERT_TAG), le=0)
    data, sw = send(selected, command)
    chunks = [data]
    while sw >> 8 == 0x61:
        data, sw = send(selected, apdu(0x00, 0xC0, 0x00, 0x00, le=0x10))
        assert len(data) <= 0x10
        chunks.append(data)
    assert sw == 0x9000
    assert dict(parse_tlv(parse_tlv(b"".join(chunks))[0][1]))[b"\x70"] == (selected.certificate_der)


def test_extended_le_returns_everything_at_once(selected: VirtualCard) -> None:
    body = encode_tlv(b"\x5c", CERT_TAG)
    command = bytes([0x00, 0xCB, 0x3F, 0xFF, 0x00, 0x00, len(body)]) + body + b"\x00\x00"
    data, sw = send(selected, command)
    assert sw == 0x9000
    assert dict(parse_tlv(parse_tlv(data)[0][1]))[b"\x70"] == selected.certificate_der


def test_another_command_drops_the_pending_response(selected: VirtualCard) -> None:
    _, sw = send(selected, apdu(0x00, 0xCB, 0x3F, 0xFF, encode_tlv(b"\x5c", CERT_TAG), le=0))
    assert sw >> 8 == 0x61
    assert verify(selected, None) == 0x63C3
    assert send(selected, apdu(0x00, 0xC0, 0x00, 0x00, le=0)) == (b"", 0x6985)


def test_get_data_chuid_and_discovery(selected: VirtualCard) -> None:
    data, sw = get_data(selected, bytes.fromhex("5FC102"))
    assert sw == 0x9000
    fields = dict(parse_tlv(parse_tlv(data)[0][1]))
    assert len(fields[b"\x30"]) == 25  # FASC-N
    assert fields[b"\x34"] == selected.guid
    expiry = selected.certificate.not_valid_after_utc.strftime("%Y%m%d").encode()
    assert fields[b"\x35"] == expiry
    data, sw = get_data(selected, b"\x7e")
    assert sw == 0x9000
    ((tag, body),) = parse_tlv(data)
    assert tag == b"\x7e"
    assert dict(parse_tlv(body))[b"\x4f"] == PIV_AID


@pytest.mark.parametrize(
    ("command", "sw"),
    [
        (apdu(0x00, 0xCB, 0x3F, 0xFF, encode_tlv(b"\x5c", bytes.fromhex("5FC10A")), 0), 0x6A82),
        (apdu(0x00, 0xCB, 0x3F, 0x00, encode_tlv(b"\x5c", CERT_TAG), 0), 0x6A86),
        (apdu(0x00, 0xCB, 0x3F, 0xFF, encode_tlv(b"\x5d", CERT_TAG), 0), 0x6A80),
        (apdu(0x00, 0xCB, 0x3F, 0xFF, bytes.fromhex("5C055FC1"), 0), 0x6A80),
        (apdu(0x00, 0xCB, 0x3F, 0xFF, le=0), 0x6A80),
    ],
    ids=["absent-object", "p2", "not-a-tag-list", "truncated-tlv", "no-data"],
)
def test_get_data_refusals(selected: VirtualCard, command: bytes, sw: int) -> None:
    assert send(selected, command) == (b"", sw)


# --- VERIFY (3.2.1) ----------------------------------------------------------------------


def test_verify_query_right_and_wrong(selected: VirtualCard) -> None:
    assert verify(selected, None) == 0x63C3  # not verified: tries left
    assert verify(selected, "654321") == 0x63C2
    assert verify(selected, None) == 0x63C2
    assert verify(selected, PIN) == 0x9000
    assert verify(selected, None) == 0x9000  # verified in this session
    assert selected.pin_tries_left == 3  # a right PIN resets the counter


def test_a_wrong_pin_ends_the_verified_state(selected: VirtualCard) -> None:
    assert verify(selected, PIN) == 0x9000
    assert verify(selected, "000000") == 0x63C2
    assert verify(selected, None) == 0x63C2


def test_verify_query_with_le_only(selected: VirtualCard) -> None:
    assert send(selected, apdu(0x00, 0x20, 0x00, 0x80, le=0))[1] == 0x63C3


def test_three_wrong_pins_block_the_card_for_good(selected: VirtualCard) -> None:
    assert [verify(selected, "111111") for _ in range(3)] == [0x63C2, 0x63C1, 0x63C0]
    assert verify(selected, PIN) == 0x6983
    assert verify(selected, None) == 0x6983
    assert selected.blocked
    selected.power_off()
    selected.power_on()
    select(selected)
    assert verify(selected, PIN) == 0x6983
    reloaded = VirtualCard(selected.path)  # the block is on disk: pulling the card is no escape
    assert reloaded.blocked and reloaded.pin_tries_left == 0
    reloaded.power_on()
    select(reloaded)
    assert verify(reloaded, PIN) == 0x6983


def test_every_wrong_try_is_on_disk_before_the_answer(selected: VirtualCard) -> None:
    assert verify(selected, "111111") == 0x63C2
    record = json.loads(selected.path.read_text())
    assert record["pin_tries_left"] == 2


def test_eight_digit_pin(tmp_path: Path, ca: DemoCa) -> None:
    card = issue_card(tmp_path / "c.json", "Carol", "12345678", ca=ca)
    card.power_on()
    select(card)
    assert verify(card, "1234567") == 0x63C2
    assert verify(card, "12345678") == 0x9000


@pytest.mark.parametrize(
    ("command", "sw"),
    [
        (apdu(0x00, 0x20, 0x00, 0x80, b"123456"), 0x6700),
        (apdu(0x00, 0x20, 0x00, 0x80, b"12345\xff\xff\xff"), 0x6A80),
        (apdu(0x00, 0x20, 0x00, 0x80, b"12a456\xff\xff"), 0x6A80),
        (apdu(0x00, 0x20, 0x00, 0x80, b"1234\xff56\xff"), 0x6A80),
        (apdu(0x00, 0x20, 0x00, 0x81, pin_block(PIN)), 0x6A88),
        (apdu(0x00, 0x20, 0x00, 0x00, pin_block(PIN)), 0x6A88),
        (apdu(0x00, 0x20, 0x01, 0x80, pin_block(PIN)), 0x6A86),
    ],
    ids=["short", "five-digits", "letter", "digit-after-padding", "puk", "global-pin", "p1"],
)
def test_malformed_verify_counts_no_try(selected: VirtualCard, command: bytes, sw: int) -> None:
    assert send(selected, command) == (b"", sw)
    assert selected.pin_tries_left == 3


def test_verify_p1_ff_resets_the_security_status(selected: VirtualCard) -> None:
    assert verify(selected, PIN) == 0x9000
    assert send(selected, apdu(0x00, 0x20, 0xFF, 0x80))[1] == 0x9000
    assert verify(selected, None) == 0x63C3


@pytest.mark.parametrize("event", ["power_off", "reset", "select"])
def test_power_off_reset_and_reselect_forget_the_pin(selected: VirtualCard, event: str) -> None:
    assert verify(selected, PIN) == 0x9000
    if event == "select":
        select(selected)
    else:
        getattr(selected, event)()
        select(selected)
    assert verify(selected, None) == 0x63C3
    assert not selected.pin_verified


# --- CHANGE REFERENCE DATA (3.2.2) -----------------------------------------------------


def change(card: VirtualCard, old: str, new: str) -> int:
    return send(card, apdu(0x00, 0x24, 0x00, 0x80, pin_block(old) + pin_block(new)))[1]


def test_change_pin(selected: VirtualCard) -> None:
    assert change(selected, "999999", "24681357") == 0x63C2
    assert change(selected, PIN, "24681357") == 0x9000
    assert selected.pin_tries_left == 3
    assert verify(selected, PIN) == 0x63C2
    assert verify(selected, "24681357") == 0x9000
    reloaded = VirtualCard(selected.path)
    reloaded.power_on()
    select(reloaded)
    assert verify(reloaded, "24681357") == 0x9000


@pytest.mark.parametrize(
    ("command", "sw"),
    [
        (apdu(0x00, 0x24, 0x00, 0x80, pin_block(PIN)), 0x6700),
        (apdu(0x00, 0x24, 0x00, 0x80, pin_block(PIN) + b"12\xff\xff\xff\xff\xff\xff"), 0x6A80),
        (apdu(0x00, 0x24, 0x00, 0x81, pin_block(PIN) + pin_block("654321")), 0x6A88),
        (apdu(0x00, 0x24, 0x01, 0x80, pin_block(PIN) + pin_block("654321")), 0x6A86),
    ],
    ids=["only-old", "new-too-short", "puk", "p1"],
)
def test_change_pin_refusals(selected: VirtualCard, command: bytes, sw: int) -> None:
    assert send(selected, command) == (b"", sw)
    assert selected.pin_tries_left == 3
    assert verify(selected, PIN) == 0x9000


def test_change_pin_on_a_blocked_card(selected: VirtualCard) -> None:
    for _ in range(3):
        verify(selected, "000000")
    assert change(selected, PIN, "654321") == 0x6983


# --- GENERAL AUTHENTICATE (3.2.4) ------------------------------------------------------


def test_sign_needs_the_pin(selected: VirtualCard) -> None:
    digest = hashlib.sha256(b"logon challenge").digest()
    assert authenticate(selected, 0x11, digest) == (b"", 0x6982)
    assert verify(selected, PIN) == 0x9000
    data, sw = authenticate(selected, 0x11, digest)
    assert sw == 0x9000
    public_key = selected.certificate.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(signature_of(data), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    with pytest.raises(InvalidSignature):
        public_key.verify(
            signature_of(data),
            hashlib.sha256(b"other").digest(),
            ec.ECDSA(Prehashed(hashes.SHA256())),
        )
    selected.power_off()
    selected.power_on()
    select(selected)
    assert authenticate(selected, 0x11, digest) == (b"", 0x6982)


@pytest.mark.parametrize(
    ("algorithm", "key", "template", "sw"),
    [
        (0x07, 0x9A, None, 0x6A86),
        (0x11, 0x9C, None, 0x6A88),
        (0x11, 0x9A, encode_tlv(b"\x7c", encode_tlv(b"\x81", bytes(32))), 0x6A80),
        (0x11, 0x9A, encode_tlv(b"\x7d", encode_tlv(b"\x82", b"")), 0x6A80),
        (0x11, 0x9A, bytes.fromhex("7C0582"), 0x6A80),
        (
            0x11,
            0x9A,
            encode_tlv(b"\x7c", encode_tlv(b"\x82", b"") + encode_tlv(b"\x81", bytes(20))),
            0x6A80,
        ),
    ],
    ids=["wrong-algorithm", "absent-key", "no-response-tag", "not-7c", "truncated", "sha1-size"],
)
def test_general_authenticate_refusals(
    selected: VirtualCard, algorithm: int, key: int, template: bytes | None, sw: int
) -> None:
    assert verify(selected, PIN) == 0x9000
    if template is None:
        template = encode_tlv(b"\x7c", encode_tlv(b"\x82", b"") + encode_tlv(b"\x81", bytes(32)))
    assert send(selected, apdu(0x00, 0x87, algorithm, key, template, le=0)) == (b"", sw)


def test_rsa_card_signs_a_padded_digest_with_chaining(tmp_path: Path, ca: DemoCa) -> None:
    card = issue_card(tmp_path / "rsa.json", "Robert RSA", PIN, ca=ca, key_type="rsa-2048")
    card.power_on()
    select(card)
    assert verify(card, PIN) == 0x9000
    message = b"logon challenge"
    t = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    block = b"\x00\x01" + b"\xff" * (256 - len(t) - 3) + b"\x00" + t
    assert len(encode_tlv(b"\x7c", encode_tlv(b"\x82", b"") + encode_tlv(b"\x81", block))) > 255
    data, sw = authenticate(card, 0x07, block)  # two APDUs, then GET RESPONSE
    assert sw == 0x9000
    public_key = card.certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(signature_of(data), message, padding.PKCS1v15(), hashes.SHA256())
    assert authenticate(card, 0x07, b"\xff" * 256)[1] == 0x6A80  # not below the modulus


# --- chaining and malformed APDUs ------------------------------------------------------


def test_a_chain_interrupted_by_another_command(selected: VirtualCard) -> None:
    assert send(selected, apdu(0x10, 0x87, 0x11, 0x9A, b"\x7c\x24"))[1] == 0x9000
    assert verify(selected, None) == 0x6883
    assert verify(selected, None) == 0x63C3  # the chain is gone; the card works again


def test_a_chain_longer_than_the_card_buffer(selected: VirtualCard) -> None:
    sws = [send(selected, apdu(0x10, 0x87, 0x11, 0x9A, bytes(255)))[1] for _ in range(17)]
    assert sws[-1] == 0x6A84
    assert set(sws[:-1]) == {0x9000}


@pytest.mark.parametrize(
    ("command", "sw"),
    [
        (b"\x00\xa4\x04", 0x6700),
        (bytes.fromhex("00A4040009A000000308"), 0x6700),
        (bytes.fromhex("00A40400"), 0x6A82),
        (bytes.fromhex("00CB3FFF0000"), 0x6700),
        (bytes.fromhex("00CB3FFF0000005C"), 0x6700),
        (bytes.fromhex("00CA3FFF00"), 0x6D00),
        (bytes.fromhex("80CB3FFF00"), 0x6E00),
        (bytes.fromhex("0CCB3FFF00"), 0x6882),
        (bytes.fromhex("01CB3FFF00"), 0x6881),
        (bytes.fromhex("00C0000100"), 0x6A86),
        (bytes.fromhex("00C0000000"), 0x6985),
    ],
    ids=[
        "three-bytes",
        "lc-longer-than-data",
        "select-without-data",
        "extended-prefix-only",
        "extended-lc-zero",
        "unknown-ins",
        "proprietary-cla",
        "secure-messaging",
        "logical-channel",
        "get-response-p2",
        "get-response-nothing-pending",
    ],
)
def test_malformed_apdus(selected: VirtualCard, command: bytes, sw: int) -> None:
    assert send(selected, command) == (b"", sw)


# --- the card file ---------------------------------------------------------------------


def test_card_file_holds_no_pin_and_is_private(card: VirtualCard) -> None:
    raw = card.path.read_bytes()
    assert PIN.encode() not in raw
    assert pin_block(PIN).hex().encode() not in raw
    assert stat.S_IMODE(card.path.stat().st_mode) == 0o600
    record = json.loads(raw)
    assert record["pin"]["kdf"] == "scrypt"
    assert record["pin_tries_left"] == 3 and record["blocked"] is False
    assert not list(card.path.parent.glob(".*.tmp"))  # atomic writes leave nothing behind


def test_unreadable_card_files(tmp_path: Path) -> None:
    with pytest.raises(VirtualCardError, match="No virtual card file"):
        VirtualCard(tmp_path / "missing.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(VirtualCardError, match="unreadable"):
        VirtualCard(tmp_path / "junk.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(VirtualCardError, match="not a virtual PIV card"):
        VirtualCard(tmp_path / "other.json")


def test_create_refuses_bad_input(tmp_path: Path, ca: DemoCa) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    cert = ca.issue_certificate(other.public_key(), "X", valid_days=1)
    with pytest.raises(ValueError, match="not for this private key"):
        VirtualCard.create(
            tmp_path / "x.json", holder_name="X", private_key=key, certificate=cert, pin=PIN
        )
    cert = ca.issue_certificate(key.public_key(), "X", valid_days=1)
    with pytest.raises(ValueError, match="6 to 8 digits"):
        VirtualCard.create(
            tmp_path / "x.json", holder_name="X", private_key=key, certificate=cert, pin="12345"
        )
    VirtualCard.create(
        tmp_path / "x.json", holder_name="X", private_key=key, certificate=cert, pin=PIN
    )
    with pytest.raises(FileExistsError):
        VirtualCard.create(
            tmp_path / "x.json", holder_name="X", private_key=key, certificate=cert, pin=PIN
        )


# --- the demo CA -----------------------------------------------------------------------


def test_issued_certificate_profile(card: VirtualCard, ca: DemoCa) -> None:
    cert = card.certificate
    assert cert.issuer == ca.certificate.subject
    ca_key = ca.certificate.public_key()
    assert isinstance(ca_key, ec.EllipticCurvePublicKey)
    assert cert.signature_hash_algorithm is not None
    ca_key.verify(
        cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
    )
    key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical and key_usage.value.digital_signature
    assert not key_usage.value.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    assert uris and uris[0].startswith("urn:uuid:")
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=30)


def test_issue_an_expired_certificate(tmp_path: Path, ca: DemoCa) -> None:
    start = datetime.now(UTC) - timedelta(days=10)
    card = issue_card(tmp_path / "old.json", "Old", PIN, valid_days=2, not_before=start, ca=ca)
    assert card.certificate.not_valid_after_utc < datetime.now(UTC)


def test_ca_load_or_create_keeps_one_ca(tmp_path: Path) -> None:
    first = DemoCa.load_or_create(tmp_path / "ca")
    second = DemoCa.load_or_create(tmp_path / "ca")
    assert first.certificate == second.certificate
    assert stat.S_IMODE((tmp_path / "ca" / "ca-key.pem").stat().st_mode) == 0o600
    default = issue_card(tmp_path / "cards" / "d.json", "Dee", PIN)
    assert (tmp_path / "cards" / "demo-ca" / "ca-cert.pem").exists()
    ca_cert = x509.load_pem_x509_certificate(
        (tmp_path / "cards" / "demo-ca" / "ca-cert.pem").read_bytes()
    )
    assert default.certificate.issuer == ca_cert.subject
    assert ca_cert.public_bytes(serialization.Encoding.DER)


# --- vpcd framing, against a stand-in for vpcd -----------------------------------------


def _recv_message(conn: socket.socket) -> bytes:
    def exact(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf

    return exact(int.from_bytes(exact(2), "big"))


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(2, "big") + payload


def test_slot_speaks_the_vpcd_protocol(card: VirtualCard) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    seen: queue.Queue[object] = queue.Queue()

    def fake_vpcd() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(_frame(b"\x04"))  # presence poll: send the ATR
            seen.put(_recv_message(conn))
            conn.sendall(_frame(b"\x01"))  # power on: no answer expected
            conn.sendall(_frame(apdu(0x00, 0xA4, 0x04, 0x00, PIV_AID, le=0)))
            seen.put(_recv_message(conn))
            conn.sendall(_frame(apdu(0x00, 0x20, 0x00, 0x80)))
            seen.put(_recv_message(conn))
            seen.put(conn.recv(1))  # b"" once the card is removed

    thread = threading.Thread(target=fake_vpcd, daemon=True)
    thread.start()
    slot = VirtualCardSlot(card)
    slot.insert(port, timeout=5.0)
    assert slot.inserted
    assert seen.get(timeout=5.0) == ATR
    select_response = seen.get(timeout=5.0)
    assert isinstance(select_response, bytes) and select_response[-2:] == b"\x90\x00"
    assert seen.get(timeout=5.0) == b"\x63\xc3"
    slot.remove()
    assert seen.get(timeout=5.0) == b""
    assert not slot.inserted
    thread.join(5.0)
    server.close()


def test_slot_insert_fails_without_a_reader(card: VirtualCard) -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    with pytest.raises(SlotError, match="No vpcd reader listens"):
        VirtualCardSlot(card).insert(port, timeout=2.0)


def test_slot_insert_gives_up_when_the_reader_never_polls(card: VirtualCard) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        slot = VirtualCardSlot(card)
        with pytest.raises(SlotError, match="did not see the card"):
            slot.insert(server.getsockname()[1], timeout=0.2)
        assert not slot.inserted
