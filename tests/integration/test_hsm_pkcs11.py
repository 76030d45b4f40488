"""The PKCS#11 HSM adapter and the embedded SoftHSM2 provisioning, on real SoftHSM2 tokens."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pkcs11
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

from tests.fixtures.hsm import open_test_hsm
from workstation.adapters.hsm_pkcs11 import (
    AUDIT_KEY_LABEL,
    BINDING_KEY_LABEL,
    MASTER_KEY_LABEL,
    Pkcs11Hsm,
    pkcs11_module_lock,
)
from workstation.adapters.softhsm import (
    SoftHsmToken,
    existing_softhsm_token,
    find_softhsm_module,
    provision_softhsm,
)
from workstation.domain.algorithms import KeyAlgorithm, KeyFamily
from workstation.errors import (
    AlreadyInitialised,
    BadInput,
    HsmError,
    HsmPinRejected,
    IntegrityError,
    NotInitialised,
)

pytestmark = pytest.mark.hsm

# Published check values (copied from /work/shared/vectors/vectors.json):
# kcv-tdes-2: TR-31:2018 A.7.2.1 key, openemv/tr31 test/tr31_decrypt_test.c
#             test2_tr31_kcv_verify; X9.24-1 legacy KCV (E(0^64), 3 bytes).
# kcv-aes-1-5byte: openemv/tr31 test11_tr31_kcv_verify (ANSI X9.143:2021 8.1);
#             X9.24-1:2017 A.3 CMAC KCV, 5 bytes.
KNOWN_KEYS = [
    pytest.param(
        KeyAlgorithm.TDES_2KEY, "F039121BEC83D26B169BDCD5B22AAF8F", "CB9DEA", id="kcv-tdes-2"
    ),
    pytest.param(
        KeyAlgorithm.AES_128, "3F419E1CB7079442AA37474C2EFBF8B8", "08793E25AB", id="kcv-aes-1"
    ),
]


# --- test-only helpers: a second python-pkcs11 session on the same token ------------------


@contextmanager
def raw_session(token: SoftHsmToken) -> Iterator[pkcs11.Session]:
    """A plain python-pkcs11 session on ``token``, for checks the port does not offer.

    Opened without a PIN: PKCS#11 login is per application, so while a ``Pkcs11Hsm`` of
    this process is logged in, this session sees the private objects too; and closing it
    does not log the ``Pkcs11Hsm`` out.
    """
    with pkcs11_module_lock(token.module_path):
        lib = pkcs11.lib(os.path.realpath(token.module_path))
        device = lib.get_token(token_label=token.label)
        session = device.open(rw=True)
        try:
            yield session
        finally:
            session.close()


def wrap_known_key(token: SoftHsmToken, algorithm: KeyAlgorithm, value_hex: str) -> bytes:
    """Import a known clear key as a session object and wrap it under the master key, as
    ``generate_key`` would have. Test only: the adapter never handles a clear key."""
    key_type = KeyType.DES2 if algorithm is KeyAlgorithm.TDES_2KEY else KeyType.AES
    with raw_session(token) as session:
        master: Any = session.get_key(ObjectClass.SECRET_KEY, label=MASTER_KEY_LABEL)
        known = session.create_object(
            {
                Attribute.CLASS: ObjectClass.SECRET_KEY,
                Attribute.KEY_TYPE: key_type,
                Attribute.VALUE: bytes.fromhex(value_hex),
                Attribute.TOKEN: False,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: True,
            }
        )
        try:
            return bytes(master.wrap_key(known, mechanism=Mechanism.AES_KEY_WRAP_PAD))
        finally:
            known.destroy()


def attributes(token: SoftHsmToken, label: str, object_class: ObjectClass) -> dict[str, Any]:
    names = [
        Attribute.TOKEN,
        Attribute.PRIVATE,
        Attribute.SENSITIVE,
        Attribute.EXTRACTABLE,
        Attribute.ALWAYS_SENSITIVE,
        Attribute.NEVER_EXTRACTABLE,
        Attribute.MODIFIABLE,
        Attribute.ENCRYPT,
        Attribute.DECRYPT,
        Attribute.WRAP,
        Attribute.UNWRAP,
        Attribute.SIGN,
        Attribute.VERIFY,
        Attribute.DERIVE,
        Attribute.KEY_TYPE,
        Attribute.VALUE_LEN,
    ]
    with raw_session(token) as session:
        (obj,) = list(session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label}))
        found = {}
        for name in names:
            try:
                found[name.name] = obj[name]
            except (pkcs11.exceptions.AttributeTypeInvalid, NotImplementedError):
                continue
        return found


# --- provisioning -------------------------------------------------------------------------


def test_softhsm_module_is_found() -> None:
    assert os.path.isfile(find_softhsm_module())


def test_provisioning_writes_owner_only_pin_files(hsm_token: SoftHsmToken) -> None:
    for path in (hsm_token.user_pin_file, hsm_token.so_pin_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    user_pin = hsm_token.read_user_pin()
    assert len(user_pin) == 32
    assert user_pin != hsm_token.read_so_pin()
    conf = hsm_token.conf_path.read_text()
    assert f"directories.tokendir = {hsm_token.conf_path.parent / 'tokens'}" in conf
    assert "objectstore.backend = file" in conf
    assert "log.level = ERROR" in conf


def test_provisioning_the_same_label_twice_is_refused(
    softhsm_directory: Path, hsm_token: SoftHsmToken, tmp_path: Path
) -> None:
    with pytest.raises(AlreadyInitialised, match="already exists"):
        provision_softhsm(softhsm_directory, hsm_token.label, pin_directory=tmp_path / "again")
    assert not (tmp_path / "again" / "user.pin").exists()
    # The first token still opens with its own PIN.
    with open_test_hsm(hsm_token) as device:
        assert device.info().token_label == hsm_token.label


def test_provisioning_never_overwrites_pin_files(
    softhsm_directory: Path, hsm_token: SoftHsmToken
) -> None:
    before = hsm_token.read_user_pin()
    with pytest.raises(AlreadyInitialised, match="PIN files"):
        provision_softhsm(
            softhsm_directory, "kcw-other-label", pin_directory=hsm_token.user_pin_file.parent
        )
    assert hsm_token.read_user_pin() == before


def test_provisioning_works_while_the_module_is_in_use(
    softhsm_directory: Path, hsm_with_keys: Pkcs11Hsm, tmp_path: Path
) -> None:
    # python-pkcs11 has initialised the module (CKR_CRYPTOKI_ALREADY_INITIALIZED for the
    # provisioning), and the open session keeps working afterwards.
    second = provision_softhsm(softhsm_directory, "kcw-second", pin_directory=tmp_path / "p")
    with open_test_hsm(second) as other:
        assert not other.has_workstation_keys()
    assert hsm_with_keys.verify_binding(b"row", hsm_with_keys.bind(b"row"))


def test_existing_token_is_described_again(hsm_token: SoftHsmToken) -> None:
    again = existing_softhsm_token(
        hsm_token.conf_path.parent, hsm_token.label, pin_directory=hsm_token.user_pin_file.parent
    )
    assert again == hsm_token


@pytest.mark.parametrize("label", ["", " padded", "x" * 33, "tab\there"])
def test_bad_token_labels_are_refused(softhsm_directory: Path, tmp_path: Path, label: str) -> None:
    with pytest.raises(BadInput, match="token label"):
        provision_softhsm(softhsm_directory, label, pin_directory=tmp_path)


def test_pin_file_readable_by_others_is_refused(hsm_token: SoftHsmToken) -> None:
    hsm_token.user_pin_file.chmod(0o644)
    with pytest.raises(HsmError, match="chmod 600"):
        hsm_token.read_user_pin()


# --- opening the token --------------------------------------------------------------------


def test_wrong_user_pin_is_rejected(hsm_token: SoftHsmToken) -> None:
    with pytest.raises(HsmPinRejected, match="refused the PIN") as caught:
        Pkcs11Hsm(
            hsm_token.module_path, hsm_token.label, "0000-wrong", environment=hsm_token.environment
        )
    assert "0000-wrong" not in str(caught.value)


def test_wrong_pin_is_rejected_while_the_token_is_logged_in(
    hsm: Pkcs11Hsm, hsm_token: SoftHsmToken
) -> None:
    # A second C_Login would answer CKR_USER_ALREADY_LOGGED_IN whatever the PIN.
    with pytest.raises(HsmPinRejected):
        Pkcs11Hsm(hsm_token.module_path, hsm_token.label, "0000-wrong")
    second = open_test_hsm(hsm_token)
    second.close()
    assert not hsm.has_workstation_keys()  # the first is still logged in


def test_unknown_label_names_the_labels_present(hsm_token: SoftHsmToken) -> None:
    with pytest.raises(HsmError) as caught:
        Pkcs11Hsm(hsm_token.module_path, "no-such-token", hsm_token.read_user_pin())
    message = caught.value.user_message()
    assert "'no-such-token'" in message
    assert repr(hsm_token.label) in message


def test_missing_module_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(HsmError, match="does not exist"):
        Pkcs11Hsm(str(tmp_path / "libvendor.so"), "any", "1234")


def test_info_describes_the_token(hsm: Pkcs11Hsm, hsm_token: SoftHsmToken) -> None:
    info = hsm.info()
    assert info.library == hsm_token.module_path
    assert info.token_label == hsm_token.label
    assert info.manufacturer
    assert info.serial


def test_closed_hsm_refuses_calls(hsm: Pkcs11Hsm) -> None:
    hsm.close()
    hsm.close()  # twice is harmless
    with pytest.raises(HsmError, match="closed"):
        hsm.info()


# --- workstation keys ---------------------------------------------------------------------


def test_workstation_keys_are_created_once(hsm: Pkcs11Hsm) -> None:
    assert not hsm.has_workstation_keys()
    hsm.create_workstation_keys()
    assert hsm.has_workstation_keys()
    with pytest.raises(AlreadyInitialised):
        hsm.create_workstation_keys()


def test_operations_before_the_keys_exist_say_so(hsm: Pkcs11Hsm) -> None:
    with pytest.raises(NotInitialised):
        hsm.generate_key(KeyAlgorithm.AES_256)
    with pytest.raises(NotInitialised):
        hsm.sign_audit(b"checkpoint")


def test_master_key_is_sensitive_and_leaves_only_wrapped(
    hsm_with_keys: Pkcs11Hsm, hsm_token: SoftHsmToken
) -> None:
    master = attributes(hsm_token, MASTER_KEY_LABEL, ObjectClass.SECRET_KEY)
    assert master["KEY_TYPE"] == KeyType.AES
    assert master["VALUE_LEN"] == 32
    assert master["TOKEN"] and master["PRIVATE"]
    assert master["SENSITIVE"] and master["ALWAYS_SENSITIVE"]
    # Extractable only so that the master key backup can wrap it under a one-time
    # transport key split into shares (issue 4); its value is never readable (SENSITIVE).
    assert master["EXTRACTABLE"] and not master["NEVER_EXTRACTABLE"]
    assert not master["MODIFIABLE"]
    assert master["WRAP"] and master["UNWRAP"]
    for use in ("ENCRYPT", "DECRYPT", "SIGN", "VERIFY", "DERIVE"):
        assert not master[use], use


def test_binding_and_audit_keys_have_only_their_use(
    hsm_with_keys: Pkcs11Hsm, hsm_token: SoftHsmToken
) -> None:
    binding = attributes(hsm_token, BINDING_KEY_LABEL, ObjectClass.SECRET_KEY)
    assert binding["KEY_TYPE"] == KeyType.GENERIC_SECRET  # SoftHSM takes the HMAC key
    assert binding["SIGN"] and binding["VERIFY"]
    assert binding["SENSITIVE"] and binding["EXTRACTABLE"]  # wrapped for the backup only
    for use in ("ENCRYPT", "DECRYPT", "WRAP", "UNWRAP", "DERIVE"):
        assert not binding[use], use
    audit = attributes(hsm_token, AUDIT_KEY_LABEL, ObjectClass.PRIVATE_KEY)
    assert audit["KEY_TYPE"] == KeyType.EC
    assert audit["SIGN"] and audit["SENSITIVE"] and audit["EXTRACTABLE"]
    for use in ("DECRYPT", "UNWRAP", "DERIVE"):
        assert not audit[use], use


# --- generating keys ----------------------------------------------------------------------

ALGORITHMS = [
    pytest.param(a, marks=pytest.mark.slow) if a is KeyAlgorithm.RSA_4096 else a
    for a in KeyAlgorithm
]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_generates(hsm_with_keys: Pkcs11Hsm, algorithm: KeyAlgorithm) -> None:
    generated = hsm_with_keys.generate_key(algorithm)
    if algorithm.is_symmetric:
        assert generated.public_key is None
        assert len(generated.kcv) == (3 if algorithm.family is KeyFamily.TDES else 5)
        # RFC 5649 §4.1: padded to 8 bytes, plus the 8-byte integrity block.
        assert len(generated.wrapped) == 8 + 8 * ((algorithm.key_bytes + 7) // 8)
        assert hsm_with_keys.key_check_value(algorithm, generated.wrapped) == generated.kcv
        return
    assert generated.public_key is not None
    public = serialization.load_der_public_key(generated.public_key)
    assert generated.kcv == hashlib.sha256(generated.public_key).digest()[:3]
    assert len(generated.wrapped) > 32
    if algorithm.family is KeyFamily.RSA:
        assert isinstance(public, rsa.RSAPublicKey)
        assert public.key_size == algorithm.bits
        assert public.public_numbers().e == 65537
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        assert public.curve.name == algorithm.curve
    with pytest.raises(BadInput, match="key pair"):
        hsm_with_keys.key_check_value(algorithm, generated.wrapped)


def test_generated_keys_differ(hsm_with_keys: Pkcs11Hsm) -> None:
    first = hsm_with_keys.generate_key(KeyAlgorithm.AES_256)
    second = hsm_with_keys.generate_key(KeyAlgorithm.AES_256)
    assert first.wrapped != second.wrapped
    assert first.kcv != second.kcv


def test_calls_from_several_threads_are_serialised(hsm_with_keys: Pkcs11Hsm) -> None:
    results: list[tuple[KeyAlgorithm, bytes, bytes]] = []
    errors: list[BaseException] = []

    def work(algorithm: KeyAlgorithm) -> None:
        try:
            for _ in range(5):
                generated = hsm_with_keys.generate_key(algorithm)
                results.append((algorithm, generated.wrapped, generated.kcv))
        except BaseException as exc:  # noqa: BLE001 (collected and reported below)
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(a,))
        for a in (KeyAlgorithm.AES_128, KeyAlgorithm.TDES_3KEY, KeyAlgorithm.AES_256) * 2
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 30
    for algorithm, wrapped, kcv in results:
        assert hsm_with_keys.key_check_value(algorithm, wrapped) == kcv


# --- check values -------------------------------------------------------------------------


@pytest.mark.parametrize(("algorithm", "key_hex", "kcv_hex"), KNOWN_KEYS)
def test_check_value_of_a_known_key(
    hsm_with_keys: Pkcs11Hsm,
    hsm_token: SoftHsmToken,
    algorithm: KeyAlgorithm,
    key_hex: str,
    kcv_hex: str,
) -> None:
    wrapped = wrap_known_key(hsm_token, algorithm, key_hex)
    assert hsm_with_keys.key_check_value(algorithm, wrapped) == bytes.fromhex(kcv_hex)


@pytest.mark.parametrize("position", [0, 7, 8, 23])
def test_altered_wrapped_key_is_refused(hsm_with_keys: Pkcs11Hsm, position: int) -> None:
    wrapped = bytearray(hsm_with_keys.generate_key(KeyAlgorithm.TDES_2KEY).wrapped)
    wrapped[position] ^= 0x01
    with pytest.raises(IntegrityError, match="does not unwrap"):
        hsm_with_keys.key_check_value(KeyAlgorithm.TDES_2KEY, bytes(wrapped))


def test_wrapped_key_of_the_wrong_length_is_refused(hsm_with_keys: Pkcs11Hsm) -> None:
    wrapped = hsm_with_keys.generate_key(KeyAlgorithm.AES_256).wrapped
    with pytest.raises(IntegrityError, match="bytes long"):
        hsm_with_keys.key_check_value(KeyAlgorithm.AES_256, wrapped[:-8])
    with pytest.raises(IntegrityError, match="bytes long"):
        hsm_with_keys.key_check_value(KeyAlgorithm.AES_128, wrapped)


def test_key_wrapped_by_another_workstation_is_refused(
    hsm_with_keys: Pkcs11Hsm, softhsm_directory: Path, tmp_path: Path
) -> None:
    other_token = provision_softhsm(softhsm_directory, "kcw-other", pin_directory=tmp_path / "o")
    with open_test_hsm(other_token) as other:
        other.create_workstation_keys()
        foreign = other.generate_key(KeyAlgorithm.AES_128).wrapped
    with pytest.raises(IntegrityError):
        hsm_with_keys.key_check_value(KeyAlgorithm.AES_128, foreign)


# --- binding MACs and audit signatures ----------------------------------------------------


def test_binding_mac_verifies_and_fails_on_changed_data(hsm_with_keys: Pkcs11Hsm) -> None:
    data = b'{"id":"k1","state":"active","kcv":"CB9DEA"}'
    mac = hsm_with_keys.bind(data)
    assert len(mac) == 32  # HMAC-SHA-256
    assert hsm_with_keys.verify_binding(data, mac)
    assert not hsm_with_keys.verify_binding(data.replace(b"active", b"destroyed"), mac)
    assert not hsm_with_keys.verify_binding(data, mac[:-1] + bytes([mac[-1] ^ 1]))
    assert not hsm_with_keys.verify_binding(data, mac[:16])
    assert hsm_with_keys.bind(data) == mac  # deterministic: the repository compares


def test_audit_signature_verifies_with_the_published_key(hsm_with_keys: Pkcs11Hsm) -> None:
    public = serialization.load_der_public_key(hsm_with_keys.audit_public_key())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256r1"
    message = b"checkpoint 42: 9f86d081884c7d659a2feaa0c55ad015"
    signature = hsm_with_keys.sign_audit(message)
    public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public.verify(signature, message + b"!", ec.ECDSA(hashes.SHA256()))


def test_audit_key_survives_reopening(hsm_with_keys: Pkcs11Hsm, hsm_token: SoftHsmToken) -> None:
    published = hsm_with_keys.audit_public_key()
    hsm_with_keys.close()
    with open_test_hsm(hsm_token) as reopened:
        assert reopened.has_workstation_keys()
        assert reopened.audit_public_key() == published
