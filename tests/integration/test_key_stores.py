"""The workstation's PKCS#11 and file drop targets (``KeyStores``), on a second SoftHSM2
token and in a folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding
from pkcs11 import Attribute, KeyType, ObjectClass

from workstation.adapters.hsm_pkcs11 import pkcs11_module_lock
from workstation.adapters.key_stores import MANIFEST_NAME, KeyStores
from workstation.adapters.softhsm import SoftHsmToken
from workstation.errors import TargetError
from workstation.services.ports import KeyDelivery, TargetAddress
from workstation.standards import tr31
from workstation.standards.kcv import key_check_value

TARGET_KEK = bytes(range(32))
UNUSED = Path("/nonexistent")


def _delivery(key: bytes, *, key_id: str = "key-1", version: int = 1, kcv: str = "") -> KeyDelivery:
    return KeyDelivery(
        delivery_id=f"job/{key_id}/{version}",
        key_id=key_id,
        label=f"Host MAC key {key_id}",
        version=version,
        algorithm=f"AES-{8 * len(key)}",
        kcv=kcv or key_check_value(key, family="AES").hex().upper(),
        key_block=tr31.wrap(TARGET_KEK, "D0000M6AC00N0000", key),
        wrapped=aes_key_wrap_with_padding(TARGET_KEK, key),
    )


def _stores() -> KeyStores:
    return KeyStores(UNUSED, UNUSED, UNUSED)  # no agent: the TLS files are never read


# --- PKCS#11 -------------------------------------------------------------------------------


@pytest.fixture
def target_token(hsm_token: SoftHsmToken) -> SoftHsmToken:
    """A second token, as a host HSM: its KEK (unwrap only) was loaded by its custodians."""
    with pkcs11_module_lock(hsm_token.module_path):
        lib = pkcs11.lib(os.path.realpath(hsm_token.module_path))
        token = lib.get_token(token_label=hsm_token.label)
        with token.open(rw=True, user_pin=hsm_token.read_user_pin()) as session:
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.SECRET_KEY,
                    Attribute.KEY_TYPE: KeyType.AES,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.LABEL: "HOST-KEK",
                    Attribute.UNWRAP: True,
                    Attribute.WRAP: False,
                    Attribute.ENCRYPT: False,
                    Attribute.DECRYPT: False,
                    Attribute.VALUE: TARGET_KEK,
                }
            )
    return hsm_token


def _address(token: SoftHsmToken, kek: str = "HOST-KEK") -> TargetAddress:
    return TargetAddress(
        "host-hsm", "pkcs11", token.module_path, kek, token=token.label,
        pin_file=str(token.user_pin_file),
    )  # fmt: skip


@pytest.mark.hsm
def test_pkcs11_target_installs_once_and_reports_what_it_holds(
    target_token: SoftHsmToken,
) -> None:
    key = os.urandom(32)
    sent = _delivery(key)
    target = _stores().connect(_address(target_token))
    try:
        first = target.install(sent)
        second = target.install(sent)
        state = target.status()
    finally:
        target.close()
    assert first.installed and first.kcv == sent.kcv
    assert not second.installed and second.kcv == sent.kcv
    assert [(h.key_id, h.version, h.kcv, h.label) for h in state.held] == [
        ("key-1", 1, sent.kcv, "Host MAC key key-1")
    ]
    # The installed object is sensitive, not extractable, and MAC only (mode C of its block).
    with pkcs11_module_lock(target_token.module_path):
        lib = pkcs11.lib(os.path.realpath(target_token.module_path))
        token = lib.get_token(token_label=target_token.label)
        with token.open(user_pin=target_token.read_user_pin()) as session:
            (obj,) = session.get_objects({Attribute.LABEL: "Host MAC key key-1"})
            assert obj[Attribute.SENSITIVE] and not obj[Attribute.EXTRACTABLE]
            assert obj[Attribute.SIGN] and not obj[Attribute.ENCRYPT]


@pytest.mark.hsm
def test_pkcs11_target_refuses_a_wrong_check_value_and_creates_nothing(
    target_token: SoftHsmToken,
) -> None:
    target = _stores().connect(_address(target_token))
    try:
        with pytest.raises(TargetError, match="check value mismatch") as caught:
            target.install(_delivery(os.urandom(16), kcv="0011223344"))
        assert target.status().held == ()
    finally:
        target.close()
    assert caught.value.message.startswith(
        f"Target 'host-hsm' (PKCS#11 token '{target_token.label}'"
    )


@pytest.mark.hsm
def test_pkcs11_target_refuses_a_key_wrapped_under_another_kek(
    target_token: SoftHsmToken,
) -> None:
    key = os.urandom(16)
    sent = _delivery(key)
    foreign = KeyDelivery(**{**sent.__dict__, "wrapped": aes_key_wrap_with_padding(bytes(32), key)})
    target = _stores().connect(_address(target_token))
    try:
        with pytest.raises(TargetError, match="not installed"):
            target.install(foreign)
        assert target.status().held == ()
    finally:
        target.close()


@pytest.mark.hsm
def test_pkcs11_target_without_its_kek_or_pin_is_named(
    target_token: SoftHsmToken, tmp_path: Path
) -> None:
    with pytest.raises(TargetError, match="KEK not found: no object labelled 'NO-SUCH-KEK'"):
        _stores().connect(_address(target_token, "NO-SUCH-KEK"))
    missing = TargetAddress(
        "host-hsm", "pkcs11", target_token.module_path, "HOST-KEK", token=target_token.label,
        pin_file=str(tmp_path / "nope.pin"),
    )  # fmt: skip
    with pytest.raises(TargetError, match=r"PIN file .* does not exist"):
        _stores().connect(missing)


# --- file drop -----------------------------------------------------------------------------


def _drop(folder: Path) -> TargetAddress:
    return TargetAddress("atm-drop", "file", str(folder), "ZMK-1")


def test_file_drop_writes_each_version_once_with_a_manifest(tmp_path: Path) -> None:
    key = os.urandom(16)
    sent = _delivery(key)
    target = _stores().connect(_drop(tmp_path))
    first = target.install(sent)
    second = target.install(sent)
    assert first.installed and not second.installed and second.kcv == sent.kcv
    block = tmp_path / "Host_MAC_key_key-1-v1.tr31"
    assert block.read_text() == sent.key_block + "\n"
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert manifest["files"][block.name]["kcv"] == sent.kcv
    assert manifest["files"][block.name]["key_id"] == "key-1"
    assert [(h.key_id, h.version) for h in target.status().held] == [("key-1", 1)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [block.name, MANIFEST_NAME, ".manifest.lock"]
    )  # no temporary file left behind


def test_file_drop_never_rewrites_a_dropped_version(tmp_path: Path) -> None:
    target = _stores().connect(_drop(tmp_path))
    target.install(_delivery(os.urandom(16)))
    before = (tmp_path / "Host_MAC_key_key-1-v1.tr31").read_bytes()
    with pytest.raises(TargetError, match=r"holds another key .* nothing was written"):
        target.install(_delivery(os.urandom(16)))
    assert (tmp_path / "Host_MAC_key_key-1-v1.tr31").read_bytes() == before


def test_file_drop_records_a_file_left_without_its_manifest_entry(tmp_path: Path) -> None:
    """A crash between the file and the manifest: the next delivery completes the record."""
    sent = _delivery(os.urandom(16), version=2)
    (tmp_path / "Host_MAC_key_key-1-v2.tr31").write_text(sent.key_block + "\n")
    target = _stores().connect(_drop(tmp_path))
    assert not target.install(sent).installed
    assert target.status().holds("key-1", 2) is not None


def test_file_drop_in_a_missing_folder_and_unknown_kinds_are_named(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"Target 'atm-drop' \(file drop at .*\): the folder"):
        _stores().connect(_drop(tmp_path / "missing"))
    with pytest.raises(TargetError, match="unknown kind of target 'ftp'"):
        _stores().connect(TargetAddress("x", "ftp", "host", "KEK"))
