"""Signing with a stored key pair (``Hsm.sign_with_key``) on a real SoftHSM2 token, and the
same contract on FakeHsm: the private key comes back from its wrapped value (PKCS #8 under
the master key) only for the one signature, the signature verifies with the public key that
``generate_key`` returned, and whatever is not that key pair's wrapped value is refused."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pkcs11
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pkcs11 import Attribute, ObjectClass

from tests.fakes import FakeHsm
from workstation.adapters import hsm_pkcs11
from workstation.adapters.hsm_pkcs11 import AUDIT_KEY_LABEL, Pkcs11Hsm, pkcs11_module_lock
from workstation.adapters.softhsm import SoftHsmToken
from workstation.domain.algorithms import KeyAlgorithm, KeyFamily
from workstation.errors import BadInput, IntegrityError

pytestmark = pytest.mark.hsm

MESSAGE = b"PKCS #10 CertificationRequestInfo to be signed" * 7
RSA_PAIRS = [
    KeyAlgorithm.RSA_1408,  # the EMV issuer sizes (EMV Book 2 Annex B2.1)
    KeyAlgorithm.RSA_1984,
    KeyAlgorithm.RSA_2048,
    KeyAlgorithm.RSA_3072,
    pytest.param(KeyAlgorithm.RSA_4096, marks=pytest.mark.slow),
]
EC_PAIRS = [KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P384, KeyAlgorithm.EC_P521]
SECRET_KEYS = [a for a in KeyAlgorithm if a.is_symmetric]


def _ids(value: object) -> str | None:
    return value.value if isinstance(value, KeyAlgorithm) else None


@pytest.fixture(params=["pkcs11", "fake"])
def device(request: pytest.FixtureRequest) -> Any:
    """The Hsm port with workstation keys: the PKCS#11 adapter on a fresh SoftHSM2 token,
    and FakeHsm, which the unit tests use in its place and which must keep the contract."""
    if request.param == "pkcs11":
        return request.getfixturevalue("hsm_with_keys")
    fake = FakeHsm()
    fake.create_workstation_keys()
    return fake


@contextmanager
def raw_session(token: SoftHsmToken) -> Iterator[pkcs11.Session]:
    """A plain python-pkcs11 session on ``token``. PKCS#11 session objects belong to the
    application, so it sees those of the port's session too (checked below)."""
    with pkcs11_module_lock(token.module_path):
        lib = pkcs11.lib(os.path.realpath(token.module_path))
        session = lib.get_token(token_label=token.label).open(rw=True)
        try:
            yield session
        finally:
            session.close()


def objects_on(token: SoftHsmToken) -> list[tuple[Any, Any, Any]]:
    """Every object the application sees on ``token``: (class, label, token object?)."""
    with raw_session(token) as session:
        return sorted(
            (
                (int(o[Attribute.CLASS]), o[Attribute.LABEL], o[Attribute.TOKEN])
                for o in session.get_objects()
            ),
            key=repr,
        )


def verify(public_key: bytes | None, signature: bytes, message: bytes) -> None:
    """Raises InvalidSignature unless ``signature`` is RSASSA-PKCS1-v1_5 / SHA-256 or DER
    ECDSA / SHA-256 of ``message`` under ``public_key`` (SubjectPublicKeyInfo, DER)."""
    assert public_key is not None
    public = serialization.load_der_public_key(public_key)
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(signature, message, ec.ECDSA(hashes.SHA256()))


# --- signatures ----------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", [*RSA_PAIRS, *EC_PAIRS], ids=_ids)
def test_signature_verifies_with_the_generated_public_key(
    device: Any, algorithm: KeyAlgorithm
) -> None:
    generated = device.generate_key(algorithm)
    public = serialization.load_der_public_key(generated.public_key)
    if algorithm.family is KeyFamily.RSA:
        assert isinstance(public, rsa.RSAPublicKey)
        assert public.key_size == algorithm.bits
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        assert public.curve.name == algorithm.curve
    signature = device.sign_with_key(algorithm, generated.wrapped, MESSAGE)
    verify(generated.public_key, signature, MESSAGE)
    with pytest.raises(InvalidSignature):
        verify(generated.public_key, signature, MESSAGE + b".")


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256], ids=_ids)
def test_signature_is_of_the_documented_form(device: Any, algorithm: KeyAlgorithm) -> None:
    """RSA: deterministic PKCS #1 v1.5, as long as the modulus. EC: a DER SEQUENCE of r and
    s (RFC 3279 §2.2.3), randomised. Bytes and bytearrays are signed alike."""
    generated = device.generate_key(algorithm)
    first = device.sign_with_key(algorithm, generated.wrapped, MESSAGE)
    second = device.sign_with_key(algorithm, bytearray(generated.wrapped), bytearray(MESSAGE))
    verify(generated.public_key, second, MESSAGE)
    if algorithm is KeyAlgorithm.RSA_2048:
        assert len(first) == 256
        assert first == second
    else:
        assert first[0] == 0x30
        assert first != second


def test_each_stored_pair_signs_with_its_own_key(device: Any) -> None:
    one = device.generate_key(KeyAlgorithm.EC_P256)
    two = device.generate_key(KeyAlgorithm.EC_P256)
    signature = device.sign_with_key(KeyAlgorithm.EC_P256, two.wrapped, MESSAGE)
    verify(two.public_key, signature, MESSAGE)
    with pytest.raises(InvalidSignature):
        verify(one.public_key, signature, MESSAGE)


def test_an_empty_message_is_signed(device: Any) -> None:
    generated = device.generate_key(KeyAlgorithm.EC_P384)
    verify(
        generated.public_key,
        device.sign_with_key(KeyAlgorithm.EC_P384, generated.wrapped, b""),
        b"",
    )


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", SECRET_KEYS, ids=_ids)
def test_secret_key_algorithms_are_refused(device: Any, algorithm: KeyAlgorithm) -> None:
    wrapped = device.generate_key(algorithm).wrapped
    with pytest.raises(
        BadInput,
        match=(
            f"^{algorithm.value} is not a key pair algorithm: only a stored key pair "
            r"\(RSA-1408, RSA-1984, RSA-2048, RSA-3072, RSA-4096, EC-P256, EC-P384 or "
            r"EC-P521\) signs\.$"
        ),
    ):
        device.sign_with_key(algorithm, wrapped, MESSAGE)


@pytest.mark.parametrize("position", [0, 7, 8, 40, -1])
@pytest.mark.parametrize("algorithm", [KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256], ids=_ids)
def test_an_altered_wrapped_value_is_refused(
    device: Any, algorithm: KeyAlgorithm, position: int
) -> None:
    altered = bytearray(device.generate_key(algorithm).wrapped)
    altered[position] ^= 0x01
    with pytest.raises(
        IntegrityError,
        match=(
            f"^The wrapped {algorithm.value} key pair does not unwrap under this "
            "workstation's master key: it was altered, belongs to another workstation or "
            r"holds another kind of key\. It is refused\.$"
        ),
    ):
        device.sign_with_key(algorithm, bytes(altered), MESSAGE)


def test_another_workstations_key_pair_is_refused(device: Any) -> None:
    """A value wrapped under another master key (an RFC 5649 wrap in every other respect)."""
    other = FakeHsm()
    other.create_workstation_keys()
    foreign = other.generate_key(KeyAlgorithm.EC_P256).wrapped
    with pytest.raises(IntegrityError, match="does not unwrap under this workstation's"):
        device.sign_with_key(KeyAlgorithm.EC_P256, foreign, MESSAGE)


@pytest.mark.parametrize(
    ("stored", "claimed"),
    [
        (KeyAlgorithm.EC_P256, KeyAlgorithm.RSA_2048),
        (KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256),
        (KeyAlgorithm.AES_256, KeyAlgorithm.EC_P256),
        (KeyAlgorithm.TDES_2KEY, KeyAlgorithm.RSA_2048),
    ],
    ids=lambda a: a.value,
)
def test_a_key_of_another_family_does_not_unwrap(
    device: Any, stored: KeyAlgorithm, claimed: KeyAlgorithm
) -> None:
    wrapped = device.generate_key(stored).wrapped
    with pytest.raises(IntegrityError, match=f"^The wrapped {claimed.value} key pair does not"):
        device.sign_with_key(claimed, wrapped, MESSAGE)


@pytest.mark.parametrize(
    ("stored", "claimed"),
    [
        (KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P384),
        (KeyAlgorithm.EC_P521, KeyAlgorithm.EC_P256),
        (KeyAlgorithm.RSA_2048, KeyAlgorithm.RSA_3072),
        (KeyAlgorithm.RSA_1984, KeyAlgorithm.RSA_1408),
        (KeyAlgorithm.RSA_1408, KeyAlgorithm.RSA_2048),
    ],
    ids=lambda a: a.value,
)
def test_a_key_of_another_size_or_curve_is_refused(
    device: Any, stored: KeyAlgorithm, claimed: KeyAlgorithm
) -> None:
    wrapped = device.generate_key(stored).wrapped
    with pytest.raises(
        IntegrityError,
        match=(
            f"^The wrapped key pair is not {claimed.value}: its private key is {stored.value}"
            r"\. It is refused\.$"
        ),
    ):
        device.sign_with_key(claimed, wrapped, MESSAGE)


@pytest.mark.parametrize("length", [0, 8, 15, 79, 4104])
def test_a_wrapped_value_of_an_impossible_length_is_refused(device: Any, length: int) -> None:
    with pytest.raises(
        IntegrityError,
        match=(
            f"^The wrapped EC-P256 key pair is {length} bytes long; wrapped under the master "
            r"key it is a multiple of 8 bytes, 16 to 4096\. It is refused\.$"
        ),
    ):
        device.sign_with_key(KeyAlgorithm.EC_P256, bytes(length), MESSAGE)


def test_arguments_of_the_wrong_type_are_refused(device: Any) -> None:
    stored = device.generate_key(KeyAlgorithm.EC_P256).wrapped
    for wrapped, message, refusal in (
        ("text", MESSAGE, "The wrapped key pair is str, not bytes."),
        (None, MESSAGE, "The wrapped key pair is NoneType, not bytes."),
        (stored, "text", "The message to sign is str, not bytes."),
        (stored, None, "The message to sign is NoneType, not bytes."),
    ):
        with pytest.raises(BadInput, match=f"^{re.escape(refusal)}$"):
            device.sign_with_key(KeyAlgorithm.EC_P256, wrapped, message)


def test_an_algorithm_that_is_not_one_is_refused(device: Any) -> None:
    wrapped = device.generate_key(KeyAlgorithm.EC_P256).wrapped
    with pytest.raises(BadInput, match=r"^'EC-P256' is not a key pair algorithm"):
        device.sign_with_key("EC-P256", wrapped, MESSAGE)


# --- on the token itself (PKCS#11 only) ----------------------------------------------------


def test_a_session_object_left_over_would_be_seen(
    hsm_with_keys: Pkcs11Hsm, hsm_token: SoftHsmToken
) -> None:
    """The premise of the checks below: ``objects_on`` sees the session objects of another
    session of this process, as it would see a transient key the port failed to destroy."""
    before = objects_on(hsm_token)
    lib = pkcs11.lib(os.path.realpath(hsm_token.module_path))
    with pkcs11_module_lock(hsm_token.module_path):
        session = lib.get_token(token_label=hsm_token.label).open(rw=True)
        try:
            session.generate_key(pkcs11.KeyType.AES, 128, label="left over", store=False)
            assert len(objects_on(hsm_token)) == len(before) + 1
        finally:
            session.close()  # which destroys its session objects
    assert objects_on(hsm_token) == before


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P521], ids=_ids)
def test_no_object_is_left_on_the_token(
    hsm_with_keys: Pkcs11Hsm, hsm_token: SoftHsmToken, algorithm: KeyAlgorithm
) -> None:
    generated = hsm_with_keys.generate_key(algorithm)
    before = objects_on(hsm_token)
    assert [(c, label) for c, label, _ in before if c == ObjectClass.PRIVATE_KEY] == [
        (ObjectClass.PRIVATE_KEY, AUDIT_KEY_LABEL)
    ]
    verify(
        generated.public_key,
        hsm_with_keys.sign_with_key(algorithm, generated.wrapped, MESSAGE),
        MESSAGE,
    )
    assert objects_on(hsm_token) == before
    # Nor after a refusal once the key was unwrapped (another size), nor after a failed unwrap.
    claimed = KeyAlgorithm.RSA_3072 if algorithm is KeyAlgorithm.RSA_2048 else KeyAlgorithm.EC_P256
    with pytest.raises(IntegrityError, match="its private key is"):
        hsm_with_keys.sign_with_key(claimed, generated.wrapped, MESSAGE)
    assert objects_on(hsm_token) == before
    altered = bytearray(generated.wrapped)
    altered[20] ^= 0x80
    with pytest.raises(IntegrityError, match="does not unwrap"):
        hsm_with_keys.sign_with_key(algorithm, bytes(altered), MESSAGE)
    assert objects_on(hsm_token) == before


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256], ids=_ids)
def test_the_unwrapped_private_key_only_signs(
    hsm_with_keys: Pkcs11Hsm, monkeypatch: pytest.MonkeyPatch, algorithm: KeyAlgorithm
) -> None:
    """The object that signs, looked at while it exists: a sensitive session object that
    can sign and nothing else, and cannot be wrapped out again."""
    seen: list[dict[str, Any]] = []
    capable = hsm_pkcs11._capable

    def looking(obj: Any, kind: Any, what: str) -> Any:
        if what == "the stored key pair":
            seen.append(
                {
                    name.name: obj[name]
                    for name in (
                        Attribute.CLASS,
                        Attribute.TOKEN,
                        Attribute.PRIVATE,
                        Attribute.SENSITIVE,
                        Attribute.EXTRACTABLE,
                        Attribute.SIGN,
                        Attribute.SIGN_RECOVER,
                        Attribute.DECRYPT,
                        Attribute.UNWRAP,
                        Attribute.DERIVE,
                    )
                }
            )
        return capable(obj, kind, what)

    monkeypatch.setattr(hsm_pkcs11, "_capable", looking)
    generated = hsm_with_keys.generate_key(algorithm)
    hsm_with_keys.sign_with_key(algorithm, generated.wrapped, MESSAGE)
    assert seen == [
        {
            "CLASS": ObjectClass.PRIVATE_KEY,
            "TOKEN": False,
            "PRIVATE": True,
            "SENSITIVE": True,
            "EXTRACTABLE": False,
            "SIGN": True,
            "SIGN_RECOVER": False,
            "DECRYPT": False,
            "UNWRAP": False,
            "DERIVE": False,
        }
    ]


def test_signing_does_not_need_the_pair_on_the_token(
    hsm_with_keys: Pkcs11Hsm, hsm_token: SoftHsmToken
) -> None:
    """Stored key pairs live only wrapped, in the repository: the token keeps no copy."""
    before = objects_on(hsm_token)
    generated = hsm_with_keys.generate_key(KeyAlgorithm.EC_P256)
    assert objects_on(hsm_token) == before
    signature = hsm_with_keys.sign_with_key(KeyAlgorithm.EC_P256, generated.wrapped, MESSAGE)
    verify(generated.public_key, signature, MESSAGE)


# --- export_private_key: the same pair, in clear as PKCS #8, for key stores ----------------


@pytest.mark.parametrize(
    "algorithm", [KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P521], ids=_ids
)
def test_exported_private_key_is_the_generated_pair(device: Any, algorithm: KeyAlgorithm) -> None:
    generated = device.generate_key(algorithm)
    pkcs8 = device.export_private_key(algorithm, generated.wrapped)
    assert isinstance(pkcs8, bytearray)
    private = serialization.load_der_private_key(bytes(pkcs8), None)
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert spki == generated.public_key
    # And it signs what the stored pair's signature verifies against.
    verify(
        generated.public_key, device.sign_with_key(algorithm, generated.wrapped, MESSAGE), MESSAGE
    )


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.AES_256, KeyAlgorithm.TDES_2KEY], ids=_ids)
def test_export_private_key_refuses_secret_keys(device: Any, algorithm: KeyAlgorithm) -> None:
    generated = device.generate_key(algorithm)
    with pytest.raises(BadInput, match="is not a key pair algorithm"):
        device.export_private_key(algorithm, generated.wrapped)


def test_export_private_key_refuses_an_altered_or_mismatched_pair(device: Any) -> None:
    generated = device.generate_key(KeyAlgorithm.EC_P256)
    altered = bytearray(generated.wrapped)
    altered[9] ^= 1
    with pytest.raises(IntegrityError, match="does not unwrap"):
        device.export_private_key(KeyAlgorithm.EC_P256, bytes(altered))
    with pytest.raises(IntegrityError, match="is not EC-P384"):
        device.export_private_key(KeyAlgorithm.EC_P384, generated.wrapped)
