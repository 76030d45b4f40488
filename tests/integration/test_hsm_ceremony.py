"""Clear key material through the PKCS#11 adapter, on real SoftHSM2 tokens: HSM random bytes,
clear keys taken in and given out for paper ceremonies, and the backup of the workstation
keys under a transport key (to be split into shares) with its restore onto another token."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pkcs11
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
from pkcs11 import Attribute, ObjectClass

from tests.fixtures.hsm import open_test_hsm
from workstation.adapters import hsm_pkcs11
from workstation.adapters.hsm_pkcs11 import (
    AUDIT_KEY_LABEL,
    BINDING_KEY_LABEL,
    MASTER_KEY_LABEL,
    Pkcs11Hsm,
    pkcs11_module_lock,
)
from workstation.adapters.softhsm import SoftHsmToken, provision_softhsm
from workstation.domain.algorithms import KeyAlgorithm
from workstation.errors import AlreadyInitialised, BadInput, HsmError, IntegrityError

pytestmark = pytest.mark.hsm

# Published check values (copied from /work/shared/vectors/vectors.json):
# kcv-tdes-1: pyemv tests/test_kd_hsm.py (HSM-checked; 3-byte value computed by every
#             implementation checked there); X9.24-1 legacy KCV, E(0^64), 3 bytes. The key has
#             odd parity. As a TDES-3KEY key it is K1 K2 K1 (keying option 2), same KCV.
# kcv-aes-1-5byte: openemv/tr31 test11_tr31_kcv_verify (ANSI X9.143:2021 8.1).
# kcv-aes-3: openemv/tr31 test/tr31_decrypt_test.c, AES-256 KBPK.
# All: X9.24-1:2017 A.3 AES CMAC KCV, 5 bytes.
KNOWN_KEYS = [
    pytest.param(
        KeyAlgorithm.TDES_2KEY, "0123456789ABCDEFFEDCBA9876543210", "08D7B4", id="kcv-tdes-1"
    ),
    pytest.param(
        KeyAlgorithm.TDES_3KEY,
        "0123456789ABCDEFFEDCBA98765432100123456789ABCDEF",
        "08D7B4",
        id="kcv-tdes-1-as-3key",
    ),
    pytest.param(
        KeyAlgorithm.AES_128, "3F419E1CB7079442AA37474C2EFBF8B8", "08793E25AB", id="kcv-aes-1"
    ),
    pytest.param(
        KeyAlgorithm.AES_256,
        "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6",
        "2331550BC9",
        id="kcv-aes-3",
    ),
]

# What create_workstation_keys sets and a restore must give again. CKA_LOCAL,
# CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE differ by nature (an unwrapped key was not
# made on this token), and SoftHSM 2.6 reports CKA_VALUE_LEN 0 for an unwrapped key (and
# refuses it in an unwrap template), so they are not compared.
COMPARED = [
    Attribute.CLASS,
    Attribute.KEY_TYPE,
    Attribute.LABEL,
    Attribute.TOKEN,
    Attribute.PRIVATE,
    Attribute.SENSITIVE,
    Attribute.EXTRACTABLE,
    Attribute.MODIFIABLE,
    Attribute.COPYABLE,
    Attribute.ENCRYPT,
    Attribute.DECRYPT,
    Attribute.WRAP,
    Attribute.UNWRAP,
    Attribute.SIGN,
    Attribute.VERIFY,
    Attribute.DERIVE,
    Attribute.EC_PARAMS,
    Attribute.EC_POINT,
]
WORKSTATION_OBJECTS = [
    (MASTER_KEY_LABEL, ObjectClass.SECRET_KEY),
    (BINDING_KEY_LABEL, ObjectClass.SECRET_KEY),
    (AUDIT_KEY_LABEL, ObjectClass.PRIVATE_KEY),
    (AUDIT_KEY_LABEL, ObjectClass.PUBLIC_KEY),
]


# --- test-only helpers ----------------------------------------------------------------------


@contextmanager
def raw_session(token: SoftHsmToken) -> Iterator[pkcs11.Session]:
    """A plain python-pkcs11 session on ``token`` (no login of its own: while a ``Pkcs11Hsm``
    of this process is logged in, it sees the private objects and the session objects)."""
    with pkcs11_module_lock(token.module_path):
        lib = pkcs11.lib(os.path.realpath(token.module_path))
        session = lib.get_token(token_label=token.label).open(rw=True)
        try:
            yield session
        finally:
            session.close()


def object_count(token: SoftHsmToken) -> int:
    with raw_session(token) as session:
        return len(list(session.get_objects()))


def key_attributes(token: SoftHsmToken) -> dict[tuple[str, ObjectClass], dict[str, Any]]:
    found: dict[tuple[str, ObjectClass], dict[str, Any]] = {}
    with raw_session(token) as session:
        for label, object_class in WORKSTATION_OBJECTS:
            (obj,) = list(
                session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label})
            )
            values: dict[str, Any] = {}
            for name in COMPARED:
                try:
                    values[name.name] = obj[name]
                except (pkcs11.exceptions.AttributeTypeInvalid, NotImplementedError):
                    continue
            found[(label, object_class)] = values
    return found


def remove_workstation_keys(token: SoftHsmToken) -> None:
    with raw_session(token) as session:
        for label, object_class in WORKSTATION_OBJECTS:
            for obj in list(
                session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label})
            ):
                obj.destroy()


def aes_cmac_kcv(key: bytes) -> bytes:
    mac = CMAC(algorithms.AES(key))
    mac.update(bytes(16))
    return mac.finalize()[:5]


def der_outer_value(data: bytes) -> bytes:
    """The first DER value of ``data``: SoftHSM 2.6 zero-pads a PKCS #8 structure to a
    multiple of 8 bytes before it wraps it with CKM_AES_KEY_WRAP_PAD (SoftHSMv2 PR #307), so
    the RFC 5649 length counts the zeros."""
    length, offset = data[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, offset = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    return data[: offset + length]


def edited(blob: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    document = json.loads(blob)
    change(document)
    return json.dumps(document).encode()


def other_p256_spki() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        .hex()
        .upper()
    )


@pytest.fixture
def second_token(softhsm_directory: Path, tmp_path: Path) -> SoftHsmToken:
    """Another fresh token of the same SoftHSM store (SoftHSM reads its configuration once
    per process, so every token of the run lives there)."""
    label = f"kcw-restore-{uuid.uuid4().hex[:12]}"
    return provision_softhsm(softhsm_directory, label, pin_directory=tmp_path / "second-pins")


@pytest.fixture
def second_hsm(second_token: SoftHsmToken) -> Iterator[Pkcs11Hsm]:
    device = open_test_hsm(second_token)
    try:
        yield device
    finally:
        device.close()


# --- random bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize("length", [1, 16, 32, 4096])
def test_random_bytes_have_the_length_asked(hsm: Pkcs11Hsm, length: int) -> None:
    random = hsm.random_bytes(length)
    assert isinstance(random, bytearray)
    assert len(random) == length


def test_random_bytes_differ_and_need_no_workstation_keys(hsm: Pkcs11Hsm) -> None:
    assert not hsm.has_workstation_keys()
    first, second = hsm.random_bytes(32), hsm.random_bytes(32)
    assert first != second
    assert len(set(first)) > 8  # not a constant fill


@pytest.mark.parametrize("length", [0, -1, 4097])
def test_random_bytes_of_a_bad_length_are_refused(hsm: Pkcs11Hsm, length: int) -> None:
    with pytest.raises(BadInput, match="1 to 4096"):
        hsm.random_bytes(length)


# --- clear keys in and out ------------------------------------------------------------------


@pytest.mark.parametrize(("algorithm", "key_hex", "kcv_hex"), KNOWN_KEYS)
def test_known_clear_key_is_imported_with_its_published_check_value(
    hsm_with_keys: Pkcs11Hsm,
    hsm_token: SoftHsmToken,
    algorithm: KeyAlgorithm,
    key_hex: str,
    kcv_hex: str,
) -> None:
    objects_before = object_count(hsm_token)
    value = bytearray.fromhex(key_hex)
    imported = hsm_with_keys.import_clear_key(algorithm, value)
    assert imported.kcv == bytes.fromhex(kcv_hex)
    assert imported.public_key is None
    assert len(imported.wrapped) == 8 + 8 * ((algorithm.key_bytes + 7) // 8)  # RFC 5649
    assert bytes.fromhex(key_hex) not in imported.wrapped
    assert value == bytearray.fromhex(key_hex)  # not wiped: the caller does that
    assert hsm_with_keys.key_check_value(algorithm, imported.wrapped) == imported.kcv
    assert object_count(hsm_token) == objects_before  # the session object is gone


@pytest.mark.parametrize(("algorithm", "key_hex", "kcv_hex"), KNOWN_KEYS)
def test_imported_key_exports_to_the_same_bytes(
    hsm_with_keys: Pkcs11Hsm,
    hsm_token: SoftHsmToken,
    algorithm: KeyAlgorithm,
    key_hex: str,
    kcv_hex: str,
) -> None:
    imported = hsm_with_keys.import_clear_key(algorithm, bytearray.fromhex(key_hex))
    objects_before = object_count(hsm_token)
    exported = hsm_with_keys.export_clear_key(algorithm, imported.wrapped)
    assert isinstance(exported, bytearray)
    assert exported == bytearray.fromhex(key_hex)
    assert object_count(hsm_token) == objects_before


@pytest.mark.parametrize("algorithm", [a for a in KeyAlgorithm if a.is_symmetric])
def test_generated_key_exports_and_imports_again_with_its_check_value(
    hsm_with_keys: Pkcs11Hsm, algorithm: KeyAlgorithm
) -> None:
    generated = hsm_with_keys.generate_key(algorithm)
    clear = hsm_with_keys.export_clear_key(algorithm, generated.wrapped)
    assert len(clear) == algorithm.key_bytes
    again = hsm_with_keys.import_clear_key(algorithm, clear)  # generated TDES has parity
    assert again.kcv == generated.kcv


@pytest.mark.parametrize(
    ("algorithm", "value", "message"),
    [
        pytest.param(KeyAlgorithm.AES_128, bytearray(15), "16 bytes long.*15 bytes", id="short"),
        pytest.param(KeyAlgorithm.AES_256, bytearray(33), "32 bytes long.*33 bytes", id="long"),
        pytest.param(
            KeyAlgorithm.TDES_2KEY,
            bytearray.fromhex("0023456789ABCDEFFEDCBA9876543210"),
            "Byte 1 .*odd parity",
            id="tdes-parity",
        ),
        pytest.param(
            KeyAlgorithm.TDES_3KEY,
            bytearray.fromhex("0123456789ABCDEFFEDCBA98765432100123456789ABCDEE"),
            "Byte 24 .*odd parity",
            id="tdes-3-parity",
        ),
        pytest.param(KeyAlgorithm.EC_P256, bytearray(32), "key pair", id="key-pair"),
    ],
)
def test_bad_clear_key_is_refused_and_leaves_nothing(
    hsm_with_keys: Pkcs11Hsm,
    hsm_token: SoftHsmToken,
    algorithm: KeyAlgorithm,
    value: bytearray,
    message: str,
) -> None:
    objects_before = object_count(hsm_token)
    with pytest.raises(BadInput, match=message):
        hsm_with_keys.import_clear_key(algorithm, value)
    assert object_count(hsm_token) == objects_before


@pytest.mark.parametrize("position", [0, 7, 8, 23])
def test_export_of_an_altered_wrapped_key_is_refused(
    hsm_with_keys: Pkcs11Hsm, hsm_token: SoftHsmToken, position: int
) -> None:
    wrapped = bytearray(hsm_with_keys.generate_key(KeyAlgorithm.TDES_2KEY).wrapped)
    wrapped[position] ^= 0x01
    objects_before = object_count(hsm_token)
    with pytest.raises(IntegrityError, match="does not unwrap"):
        hsm_with_keys.export_clear_key(KeyAlgorithm.TDES_2KEY, bytes(wrapped))
    assert object_count(hsm_token) == objects_before


def test_export_refuses_wrong_lengths_and_key_pairs(hsm_with_keys: Pkcs11Hsm) -> None:
    wrapped = hsm_with_keys.generate_key(KeyAlgorithm.AES_256).wrapped
    with pytest.raises(IntegrityError, match="bytes long"):
        hsm_with_keys.export_clear_key(KeyAlgorithm.AES_256, wrapped[:-8])
    with pytest.raises(IntegrityError, match="bytes long"):
        hsm_with_keys.export_clear_key(KeyAlgorithm.AES_128, wrapped)
    pair = hsm_with_keys.generate_key(KeyAlgorithm.EC_P256).wrapped
    with pytest.raises(BadInput, match="key pair"):
        hsm_with_keys.export_clear_key(KeyAlgorithm.EC_P256, pair)


# --- the workstation keys: backup by shares and restore --------------------------------------


def test_workstation_keys_are_extractable_only_by_wrapping(
    hsm_with_keys: Pkcs11Hsm, hsm_token: SoftHsmToken
) -> None:
    for (label, object_class), values in key_attributes(hsm_token).items():
        if object_class is ObjectClass.PUBLIC_KEY:
            assert not values["PRIVATE"] and not values["MODIFIABLE"]
            continue
        assert values["TOKEN"] and values["PRIVATE"], label
        assert values["SENSITIVE"] and values["EXTRACTABLE"], label
        assert not values["MODIFIABLE"] and not values["COPYABLE"], label
    with raw_session(hsm_token) as session:
        master = session.get_key(ObjectClass.SECRET_KEY, label=MASTER_KEY_LABEL)
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            master[Attribute.VALUE]


def test_backup_wraps_the_keys_under_the_transport_key(hsm_with_keys: Pkcs11Hsm) -> None:
    backup = hsm_with_keys.backup_workstation_keys()
    assert isinstance(backup.transport_key, bytearray)
    assert len(backup.transport_key) == 32
    transport = bytes(backup.transport_key)
    assert backup.transport_kcv == aes_cmac_kcv(transport)
    assert backup.blob.isascii()
    document = json.loads(backup.blob)
    assert backup.blob == json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    assert document["format"] == "kcw-workstation-keys"
    assert document["version"] == 1
    assert document["binding_type"] == "hmac-sha256"  # SoftHSM takes the HMAC key
    assert document["transport_kcv"] == backup.transport_kcv.hex().upper()
    assert bytes.fromhex(document["audit_public"]) == hsm_with_keys.audit_public_key()
    assert transport.hex().upper() not in backup.blob.decode()
    # Each wrapped key opens under the transport key (RFC 5649), to what it should be.
    assert len(aes_key_unwrap_with_padding(transport, bytes.fromhex(document["master"]))) == 32
    assert len(aes_key_unwrap_with_padding(transport, bytes.fromhex(document["binding"]))) == 32
    pkcs8 = aes_key_unwrap_with_padding(transport, bytes.fromhex(document["audit_private"]))
    private = serialization.load_der_private_key(der_outer_value(pkcs8), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert (
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == hsm_with_keys.audit_public_key()
    )


def test_each_backup_has_its_own_transport_key(hsm_with_keys: Pkcs11Hsm) -> None:
    first = hsm_with_keys.backup_workstation_keys()
    second = hsm_with_keys.backup_workstation_keys()
    assert first.transport_key != second.transport_key
    assert first.blob != second.blob


def test_restore_onto_a_fresh_token_keeps_every_key_working(
    hsm_with_keys: Pkcs11Hsm,
    hsm_token: SoftHsmToken,
    second_hsm: Pkcs11Hsm,
    second_token: SoftHsmToken,
) -> None:
    stored = hsm_with_keys.import_clear_key(
        KeyAlgorithm.TDES_2KEY, bytearray.fromhex("0123456789ABCDEFFEDCBA9876543210")
    )
    data = b'{"id":"k1","state":"active","kcv":"08D7B4"}'
    mac = hsm_with_keys.bind(data)
    published = hsm_with_keys.audit_public_key()
    backup = hsm_with_keys.backup_workstation_keys()

    assert not second_hsm.has_workstation_keys()
    second_hsm.restore_workstation_keys(bytearray(backup.transport_key), backup.blob)

    assert second_hsm.has_workstation_keys()
    assert second_hsm.key_check_value(KeyAlgorithm.TDES_2KEY, stored.wrapped) == stored.kcv
    assert second_hsm.export_clear_key(KeyAlgorithm.TDES_2KEY, stored.wrapped) == (
        bytearray.fromhex("0123456789ABCDEFFEDCBA9876543210")
    )
    assert second_hsm.bind(data) == mac
    assert second_hsm.verify_binding(data, mac)
    assert second_hsm.audit_public_key() == published
    public = serialization.load_der_public_key(published)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(second_hsm.sign_audit(b"checkpoint"), b"checkpoint", ec.ECDSA(hashes.SHA256()))
    # Keys wrapped on the restored token open on the original one: the same master key.
    wrapped_there = second_hsm.generate_key(KeyAlgorithm.AES_128)
    assert hsm_with_keys.key_check_value(KeyAlgorithm.AES_128, wrapped_there.wrapped) == (
        wrapped_there.kcv
    )
    # The same labels and attributes as create_workstation_keys gives.
    assert key_attributes(second_token) == key_attributes(hsm_token)
    # And the restored keys can be backed up again.
    assert second_hsm.backup_workstation_keys().transport_key != backup.transport_key


def test_restore_onto_the_same_token_after_its_keys_were_lost(
    hsm_with_keys: Pkcs11Hsm, hsm_token: SoftHsmToken
) -> None:
    stored = hsm_with_keys.generate_key(KeyAlgorithm.AES_256)
    mac = hsm_with_keys.bind(b"row")
    before = key_attributes(hsm_token)
    backup = hsm_with_keys.backup_workstation_keys()
    remove_workstation_keys(hsm_token)
    assert not hsm_with_keys.has_workstation_keys()
    # The adapter still holds the old (now destroyed) objects from earlier calls; the
    # restore must not leave it using them.
    hsm_with_keys.restore_workstation_keys(bytearray(backup.transport_key), backup.blob)
    assert hsm_with_keys.key_check_value(KeyAlgorithm.AES_256, stored.wrapped) == stored.kcv
    assert hsm_with_keys.bind(b"row") == mac
    assert key_attributes(hsm_token) == before


def test_restore_under_a_wrong_transport_key_is_refused_and_leaves_no_key(
    hsm_with_keys: Pkcs11Hsm, second_hsm: Pkcs11Hsm, second_token: SoftHsmToken
) -> None:
    backup = hsm_with_keys.backup_workstation_keys()
    objects_before = object_count(second_token)
    wrong = bytearray(backup.transport_key)
    wrong[31] ^= 0x01
    with pytest.raises(IntegrityError, match="do not recombine"):
        second_hsm.restore_workstation_keys(wrong, backup.blob)
    with pytest.raises(IntegrityError, match="do not recombine"):
        second_hsm.restore_workstation_keys(bytearray(32), backup.blob)
    assert not second_hsm.has_workstation_keys()
    assert object_count(second_token) == objects_before
    # The right key still restores afterwards.
    second_hsm.restore_workstation_keys(bytearray(backup.transport_key), backup.blob)
    assert second_hsm.audit_public_key() == hsm_with_keys.audit_public_key()


def test_restore_with_another_backups_transport_key_is_refused(
    hsm_with_keys: Pkcs11Hsm, second_hsm: Pkcs11Hsm
) -> None:
    first = hsm_with_keys.backup_workstation_keys()
    second = hsm_with_keys.backup_workstation_keys()
    with pytest.raises(IntegrityError, match="do not recombine"):
        second_hsm.restore_workstation_keys(bytearray(second.transport_key), first.blob)
    assert not second_hsm.has_workstation_keys()


def flip_last_byte(field: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        value = bytearray.fromhex(document[field])
        value[-1] ^= 0x01
        document[field] = value.hex().upper()

    return change


def swap_audit_public(document: dict[str, Any]) -> None:
    document["audit_public"] = other_p256_spki()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(flip_last_byte("master"), "master key does not unwrap", id="master"),
        pytest.param(flip_last_byte("binding"), "binding key does not unwrap", id="binding"),
        pytest.param(
            flip_last_byte("audit_private"), "audit private key does not unwrap", id="audit"
        ),
        pytest.param(swap_audit_public, "does not belong", id="audit-public"),
    ],
)
def test_altered_backup_is_refused_and_leaves_no_key(
    hsm_with_keys: Pkcs11Hsm,
    second_hsm: Pkcs11Hsm,
    second_token: SoftHsmToken,
    change: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    backup = hsm_with_keys.backup_workstation_keys()
    objects_before = object_count(second_token)
    with pytest.raises(IntegrityError, match=message):
        second_hsm.restore_workstation_keys(
            bytearray(backup.transport_key), edited(backup.blob, change)
        )
    assert not second_hsm.has_workstation_keys()
    assert object_count(second_token) == objects_before


def test_restore_onto_a_token_with_keys_is_refused(
    hsm_with_keys: Pkcs11Hsm, second_hsm: Pkcs11Hsm, second_token: SoftHsmToken
) -> None:
    backup = hsm_with_keys.backup_workstation_keys()
    with pytest.raises(AlreadyInitialised):
        hsm_with_keys.restore_workstation_keys(bytearray(backup.transport_key), backup.blob)
    second_hsm.create_workstation_keys()
    published = second_hsm.audit_public_key()
    with pytest.raises(AlreadyInitialised):
        second_hsm.restore_workstation_keys(bytearray(backup.transport_key), backup.blob)
    assert second_hsm.audit_public_key() == published  # its own keys are untouched


def test_restore_onto_a_token_with_one_workstation_key_left_is_refused(
    hsm_with_keys: Pkcs11Hsm, hsm_token: SoftHsmToken
) -> None:
    backup = hsm_with_keys.backup_workstation_keys()
    with raw_session(hsm_token) as session:
        for label in (MASTER_KEY_LABEL, AUDIT_KEY_LABEL):
            for obj in list(session.get_objects({Attribute.LABEL: label})):
                obj.destroy()
    with pytest.raises(AlreadyInitialised):
        hsm_with_keys.restore_workstation_keys(bytearray(backup.transport_key), backup.blob)


def _set(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document[name] = value

    return change


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        del document[name]

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(_drop("binding"), "lacks the field.*binding", id="missing"),
        pytest.param(_set("comment", "x"), "unknown field.*'comment'", id="unknown"),
        pytest.param(_set("format", "something-else"), "'format'", id="format"),
        pytest.param(_set("version", 2), "'version'.*2", id="version"),
        pytest.param(_set("version", "1"), "'version'", id="version-text"),
        pytest.param(_set("version", True), "'version'", id="version-bool"),
        pytest.param(_set("binding_type", "des-mac"), "'binding_type'", id="binding-type"),
        pytest.param(_set("master", "XYZ0"), "'master'.*hexadecimal", id="master-not-hex"),
        pytest.param(_set("master", "0011"), "'master'.*2 bytes long", id="master-short"),
        pytest.param(_set("binding", 42), "'binding'.*hexadecimal", id="binding-number"),
        pytest.param(_set("transport_kcv", "0011"), "'transport_kcv'", id="kcv-short"),
        pytest.param(_set("audit_private", "00" * 12), "'audit_private'", id="private-short"),
        pytest.param(_set("audit_public", "3000"), "'audit_public'", id="public-not-spki"),
        pytest.param(_set("audit_public", ""), "'audit_public'", id="public-empty"),
    ],
)
def test_malformed_backup_is_refused_naming_the_field(
    hsm_with_keys: Pkcs11Hsm,
    second_hsm: Pkcs11Hsm,
    change: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    backup = hsm_with_keys.backup_workstation_keys()
    with pytest.raises(BadInput, match=message):
        second_hsm.restore_workstation_keys(
            bytearray(backup.transport_key), edited(backup.blob, change)
        )
    assert not second_hsm.has_workstation_keys()


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        pytest.param(b"not json", "not a JSON document", id="not-json"),
        pytest.param(b"\xff\xfe", "not a JSON document", id="not-utf8"),
        pytest.param(b"[1, 2]", "not a JSON object", id="array"),
        pytest.param(b'{"format": 1, "format": 2}', "twice", id="duplicate"),
    ],
)
def test_backup_that_is_not_a_backup_is_refused(
    second_hsm: Pkcs11Hsm, blob: bytes, message: str
) -> None:
    with pytest.raises(BadInput, match=message):
        second_hsm.restore_workstation_keys(bytearray(32), blob)


def test_transport_key_of_the_wrong_length_is_refused(
    hsm_with_keys: Pkcs11Hsm, second_hsm: Pkcs11Hsm
) -> None:
    backup = hsm_with_keys.backup_workstation_keys()
    with pytest.raises(BadInput, match="31 bytes long"):
        second_hsm.restore_workstation_keys(bytearray(backup.transport_key)[:31], backup.blob)


def test_backup_of_unexportable_keys_is_refused(
    hsm: Pkcs11Hsm, hsm_token: SoftHsmToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A token initialised before workstation keys became exportable (or by a vendor policy
    # that forbids it): the keys carry CKA_EXTRACTABLE false.
    monkeypatch.setitem(hsm_pkcs11._RESIDENT_SECRET, Attribute.EXTRACTABLE, False)
    hsm.create_workstation_keys()
    monkeypatch.undo()
    objects_before = object_count(hsm_token)
    with pytest.raises(HsmError, match=r"created unexportable.*cannot be backed up by shares"):
        hsm.backup_workstation_keys()
    assert object_count(hsm_token) == objects_before  # no transport key left behind
