"""Exchange key pairs on a real SoftHSM2 token (and the same contract on FakeHsm): RSA and EC
pairs made inside the HSM, signatures and raw RSA decryption checked with cryptography, ECDH
agreeing with a software peer, and the refusals."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pkcs11
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

from tests.fakes import FakeHsm
from tests.fixtures.hsm import open_test_hsm
from workstation.adapters.hsm_pkcs11 import Pkcs11Hsm, exchange_key_label, pkcs11_module_lock
from workstation.adapters.softhsm import SoftHsmToken
from workstation.domain.algorithms import KeyAlgorithm
from workstation.errors import AlreadyInitialised, BadInput, HsmError, NotFound
from workstation.standards import ecdh

pytestmark = pytest.mark.hsm

SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
CURVES = {
    KeyAlgorithm.EC_P256: ec.SECP256R1(),
    KeyAlgorithm.EC_P384: ec.SECP384R1(),
    KeyAlgorithm.EC_P521: ec.SECP521R1(),
}
PAIRS = [KeyAlgorithm.RSA_2048, *CURVES]


@pytest.fixture(params=["pkcs11", "fake"])
def device(request: pytest.FixtureRequest) -> Any:
    """The Hsm port: the PKCS#11 adapter on a fresh SoftHSM2 token, and FakeHsm, which the
    unit tests use in its place and which must keep the same contract."""
    if request.param == "pkcs11":
        return request.getfixturevalue("hsm")
    return FakeHsm()


@contextmanager
def raw_session(token: SoftHsmToken) -> Iterator[pkcs11.Session]:
    """A plain python-pkcs11 session on ``token``, for looking at the objects themselves
    (login is per application, so it sees the private objects while the port is logged in)."""
    with pkcs11_module_lock(token.module_path):
        lib = pkcs11.lib(os.path.realpath(token.module_path))
        session = lib.get_token(token_label=token.label).open(rw=True)
        try:
            yield session
        finally:
            session.close()


def token_object(session: pkcs11.Session, name: str, object_class: ObjectClass) -> Any:
    (found,) = list(
        session.get_objects(
            {Attribute.CLASS: object_class, Attribute.LABEL: exchange_key_label(name)}
        )
    )
    return found


# --- RFC 8017 §7.1.2 step 3, EME-OAEP decoding with SHA-256 (test only) -------------------


def mgf1_sha256(seed: bytes, length: int) -> bytes:
    blocks = (length + 31) // 32
    return b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(blocks))[
        :length
    ]


def oaep_sha256_decode(encoded: bytes, label: bytes = b"") -> bytes:
    h_len = 32
    assert encoded[0] == 0
    masked_seed, masked_db = encoded[1 : 1 + h_len], encoded[1 + h_len :]
    seed = bytes(a ^ b for a, b in zip(masked_seed, mgf1_sha256(masked_db, h_len), strict=True))
    db = bytes(a ^ b for a, b in zip(masked_db, mgf1_sha256(seed, len(masked_db)), strict=True))
    assert db[:h_len] == hashlib.sha256(label).digest()
    rest = db[h_len:]
    separator = rest.index(1)
    assert not any(rest[:separator])
    return rest[separator + 1 :]


# --- creating and reading pairs ------------------------------------------------------------


@pytest.mark.parametrize("algorithm", PAIRS, ids=lambda a: a.value)
def test_created_pair_gives_its_public_key(device: Any, algorithm: KeyAlgorithm) -> None:
    assert device.exchange_public_key("kdh-1") is None
    spki = device.create_exchange_key("kdh-1", algorithm)
    public = serialization.load_der_public_key(spki)
    if algorithm is KeyAlgorithm.RSA_2048:
        assert isinstance(public, rsa.RSAPublicKey)
        assert public.key_size == 2048
        assert public.public_numbers().e == 65537
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        assert public.curve.name == CURVES[algorithm].name
    assert public.public_bytes(*SPKI) == spki  # canonical DER
    assert device.exchange_public_key("kdh-1") == spki
    # Exchange pairs are not workstation keys.
    assert not device.has_workstation_keys()


def test_a_pair_is_created_once(device: Any) -> None:
    first = device.create_exchange_key("tr34-krd", KeyAlgorithm.EC_P256)
    with pytest.raises(AlreadyInitialised, match="already holds exchange key pair 'tr34-krd'"):
        device.create_exchange_key("tr34-krd", KeyAlgorithm.EC_P384)
    assert device.exchange_public_key("tr34-krd") == first


def test_pairs_are_kept_apart_by_name(device: Any) -> None:
    a = device.create_exchange_key("ecdh-p256", KeyAlgorithm.EC_P256)
    b = device.create_exchange_key("ecdh-p256-2", KeyAlgorithm.EC_P256)
    assert a != b
    assert device.exchange_public_key("ecdh-p256") == a


def test_delete_removes_the_pair(device: Any) -> None:
    first = device.create_exchange_key("exchange-ca", KeyAlgorithm.EC_P256)
    device.delete_exchange_key("exchange-ca")
    assert device.exchange_public_key("exchange-ca") is None
    with pytest.raises(NotFound, match="holds no exchange key pair 'exchange-ca'"):
        device.exchange_sign("exchange-ca", b"message")
    device.delete_exchange_key("exchange-ca")  # absent: no error
    assert device.create_exchange_key("exchange-ca", KeyAlgorithm.EC_P256) != first


# --- signing -------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", PAIRS, ids=lambda a: a.value)
def test_signatures_verify_with_the_public_key(device: Any, algorithm: KeyAlgorithm) -> None:
    public = serialization.load_der_public_key(device.create_exchange_key("signer", algorithm))
    message = b"TR-34 key token to be signed" * 10
    for data in (message, bytearray(message)):
        signature = device.exchange_sign("signer", data)
        if isinstance(public, rsa.RSAPublicKey):
            # RSASSA-PKCS1-v1_5 with SHA-256.
            public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            assert isinstance(public, ec.EllipticCurvePublicKey)
            public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, b"other", padding.PKCS1v15(), hashes.SHA256())
        else:
            public.verify(signature, b"other", ec.ECDSA(hashes.SHA256()))


# --- raw RSA decryption --------------------------------------------------------------------


def test_raw_decryption_gives_the_oaep_encoded_message(device: Any) -> None:
    public = serialization.load_der_public_key(
        device.create_exchange_key("tr34-krd", KeyAlgorithm.RSA_2048)
    )
    assert isinstance(public, rsa.RSAPublicKey)
    numbers = public.public_numbers()
    key_block = bytes.fromhex("3F419E1CB7079442AA37474C2EFBF8B8")
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    for _ in range(3):
        ciphertext = public.encrypt(key_block, oaep)
        encoded = device.exchange_decrypt_raw("tr34-krd", ciphertext)
        assert isinstance(encoded, bytearray)
        assert len(encoded) == 256
        # Re-encrypting the result with the public key gives the ciphertext back...
        again = pow(int.from_bytes(encoded, "big"), numbers.e, numbers.n)
        assert again.to_bytes(256, "big") == ciphertext
        # ... and it decodes as OAEP (RFC 8017 §7.1.2) to the key encrypted.
        assert oaep_sha256_decode(bytes(encoded)) == key_block


def test_raw_decryption_keeps_leading_zero_bytes(device: Any) -> None:
    public = serialization.load_der_public_key(
        device.create_exchange_key("tr34-krd", KeyAlgorithm.RSA_2048)
    )
    assert isinstance(public, rsa.RSAPublicKey)
    numbers = public.public_numbers()
    small = (7).to_bytes(256, "big")  # decrypts to an integer far below 2^2040
    ciphertext = pow(7, numbers.e, numbers.n).to_bytes(256, "big")
    assert device.exchange_decrypt_raw("tr34-krd", ciphertext) == small


def test_raw_decryption_refuses_ciphertexts_of_another_key(device: Any) -> None:
    public = serialization.load_der_public_key(
        device.create_exchange_key("tr34-krd", KeyAlgorithm.RSA_2048)
    )
    assert isinstance(public, rsa.RSAPublicKey)
    n = public.public_numbers().n
    with pytest.raises(BadInput, match=r"ciphertext is 255 bytes long; .* exactly 256 bytes"):
        device.exchange_decrypt_raw("tr34-krd", bytes(255))
    with pytest.raises(BadInput, match="ciphertext is 384 bytes long"):
        device.exchange_decrypt_raw("tr34-krd", bytes(384))
    with pytest.raises(BadInput, match="not below the modulus"):
        device.exchange_decrypt_raw("tr34-krd", n.to_bytes(256, "big"))
    with pytest.raises(BadInput, match="ciphertext is str"):
        device.exchange_decrypt_raw("tr34-krd", "00" * 256)


def test_only_rsa_pairs_decrypt_and_only_ec_pairs_agree(device: Any) -> None:
    device.create_exchange_key("rsa-pair", KeyAlgorithm.RSA_2048)
    device.create_exchange_key("ec-pair", KeyAlgorithm.EC_P256)
    peer = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(*SPKI)
    with pytest.raises(BadInput, match="'ec-pair' is an EC-P256 key: only RSA"):
        device.exchange_decrypt_raw("ec-pair", bytes(32))
    with pytest.raises(BadInput, match="'rsa-pair' is an RSA-2048 key: only elliptic-curve"):
        device.exchange_agree("rsa-pair", peer)
    with pytest.raises(NotFound, match="no exchange key pair 'absent'"):
        device.exchange_agree("absent", peer)


# --- ECDH ----------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", list(CURVES), ids=lambda a: a.value)
def test_ecdh_agrees_with_a_software_peer(device: Any, algorithm: KeyAlgorithm) -> None:
    ours = serialization.load_der_public_key(device.create_exchange_key("ecdh", algorithm))
    assert isinstance(ours, ec.EllipticCurvePublicKey)
    peer = ec.generate_private_key(CURVES[algorithm])
    z = device.exchange_agree("ecdh", peer.public_key().public_bytes(*SPKI))
    assert isinstance(z, bytearray)
    assert z == peer.exchange(ec.ECDH(), ours)
    assert z == ecdh.shared_secret(peer, ours.public_bytes(*SPKI))
    # And the KEK both sides derive from it (the HSM side from the Z it returned).
    params = dict(kdf="NIST_SP800", hash_name="SHA-512", shared_info=b"\x01\x02")
    assert ecdh.derive_kek(bytes(z), key_algorithm="AES-256", **params) == ecdh.derive_kek(
        peer.exchange(ec.ECDH(), ours), key_algorithm="AES-256", **params
    )


def _off_curve_spki(public: ec.EllipticCurvePublicKey) -> bytes:
    spki = bytearray(public.public_bytes(*SPKI))
    spki[-1] ^= 0x01  # the last byte of y: the point leaves the curve
    return bytes(spki)


PEER_REFUSALS = [
    pytest.param(
        lambda: ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(*SPKI),
        r"peer's public key is on secp384r1 \(EC-P384\); exchange key 'ecdh' is on secp256r1 "
        r"\(EC-P256\): both must be on the same curve",
        id="other-curve",
    ),
    pytest.param(
        lambda: rsa.generate_private_key(65537, 2048).public_key().public_bytes(*SPKI),
        r"refused \(public key: the algorithm is 'rsa', not an elliptic-curve key",
        id="rsa-key",
    ),
    pytest.param(
        lambda: ec.generate_private_key(ec.SECP256K1()).public_key().public_bytes(*SPKI),
        r"refused \(public key: the curve secp256k1 is not supported",
        id="secp256k1",
    ),
    pytest.param(
        lambda: _off_curve_spki(ec.generate_private_key(ec.SECP256R1()).public_key()),
        r"refused \(public key: the point is not on the curve P-256\)",
        id="off-curve",
    ),
    pytest.param(lambda: b"\x30\x03\x02\x01\x01", r"refused \(public key: ", id="garbage-der"),
    pytest.param(lambda: b"", r"refused \(public key: empty\)", id="empty"),
    pytest.param(lambda: "3059", "peer's public key is str, not a DER", id="text"),
]


@pytest.mark.parametrize(("peer", "message"), PEER_REFUSALS)
def test_peer_keys_are_refused_with_a_reason(device: Any, peer: Any, message: str) -> None:
    device.create_exchange_key("ecdh", KeyAlgorithm.EC_P256)
    with pytest.raises(BadInput, match=message):
        device.exchange_agree("ecdh", peer())


# --- names and algorithms ------------------------------------------------------------------

BAD_NAMES = ["", "Upper", "with space", "under_score", "-lead", "trail-", "a--b", "a/b", "é"]


@pytest.mark.parametrize("name", [*BAD_NAMES, "x" * 49], ids=repr)
def test_bad_names_are_refused_by_every_call(device: Any, name: str) -> None:
    calls = [
        lambda: device.exchange_public_key(name),
        lambda: device.create_exchange_key(name, KeyAlgorithm.EC_P256),
        lambda: device.exchange_sign(name, b"m"),
        lambda: device.exchange_decrypt_raw(name, bytes(256)),
        lambda: device.exchange_agree(name, b""),
        lambda: device.delete_exchange_key(name),
    ]
    for call in calls:
        with pytest.raises(BadInput, match=r"exchange key name .* is not valid"):
            call()


def test_longest_name_is_accepted(device: Any) -> None:
    name = "a" * 48
    assert device.create_exchange_key(name, KeyAlgorithm.EC_P256)
    assert device.exchange_public_key(name)


@pytest.mark.parametrize(
    "algorithm", [KeyAlgorithm.AES_256, KeyAlgorithm.TDES_2KEY], ids=lambda a: a.value
)
def test_secret_key_algorithms_are_refused(device: Any, algorithm: KeyAlgorithm) -> None:
    with pytest.raises(BadInput, match=f"{algorithm.value} is not a key pair algorithm"):
        device.create_exchange_key("kek", algorithm)
    assert device.exchange_public_key("kek") is None


@pytest.mark.parametrize(
    "algorithm", [KeyAlgorithm.RSA_1408, KeyAlgorithm.RSA_1984], ids=lambda a: a.value
)
def test_the_emv_issuer_sizes_are_not_exchange_keys(device: Any, algorithm: KeyAlgorithm) -> None:
    """Below TR-34's 2048 bits: stored EMV issuer key pairs only, never an exchange key."""
    with pytest.raises(
        BadInput,
        match=(
            f"^{algorithm.value} is not a key pair algorithm: an exchange key pair is RSA-2048, "
            r"RSA-3072, RSA-4096, EC-P256, EC-P384 or EC-P521\.$"
        ),
    ):
        device.create_exchange_key("kek", algorithm)
    assert device.exchange_public_key("kek") is None


# --- on the token itself (PKCS#11 only) ----------------------------------------------------


@pytest.mark.parametrize(
    "algorithm", [KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256], ids=lambda a: a.value
)
def test_the_private_key_never_leaves_the_hsm(
    hsm: Pkcs11Hsm, hsm_token: SoftHsmToken, algorithm: KeyAlgorithm
) -> None:
    hsm.create_exchange_key("tr34-krd", algorithm)
    with raw_session(hsm_token) as session:
        private = token_object(session, "tr34-krd", ObjectClass.PRIVATE_KEY)
        assert private[Attribute.TOKEN] is True
        assert private[Attribute.PRIVATE] is True
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.ALWAYS_SENSITIVE] is True
        assert private[Attribute.NEVER_EXTRACTABLE] is True
        assert private[Attribute.MODIFIABLE] is False
        assert private[Attribute.UNWRAP] is False
        if algorithm is KeyAlgorithm.RSA_2048:
            # A key receiving device's pair decrypts and does not sign.
            assert (private[Attribute.SIGN], private[Attribute.DECRYPT]) == (False, True)
            assert private[Attribute.DERIVE] is False
            secret_part = Attribute.PRIVATE_EXPONENT
        else:
            assert (private[Attribute.SIGN], private[Attribute.DERIVE]) == (True, True)
            assert private[Attribute.DECRYPT] is False
            secret_part = Attribute.VALUE
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            private[secret_part]
        # Not even wrapped: C_WrapKey under a key of our own is refused.
        wrapping = session.generate_key(
            KeyType.AES, 256, store=False, template={Attribute.WRAP: True}
        )
        try:
            with pytest.raises(pkcs11.exceptions.KeyUnextractable):
                wrapping.wrap_key(private, mechanism=Mechanism.AES_KEY_WRAP_PAD)
        finally:
            wrapping.destroy()
        public = token_object(session, "tr34-krd", ObjectClass.PUBLIC_KEY)
        assert public[Attribute.TOKEN] is True
        assert public[Attribute.PRIVATE] is False


def test_ecdh_leaves_no_secret_on_the_token(hsm: Pkcs11Hsm, hsm_token: SoftHsmToken) -> None:
    hsm.create_exchange_key("ecdh", KeyAlgorithm.EC_P384)
    peer = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(*SPKI)
    assert len(hsm.exchange_agree("ecdh", peer)) == 48
    with raw_session(hsm_token) as session:
        assert list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY})) == []


def test_pairs_survive_reopening_the_token(hsm: Pkcs11Hsm, hsm_token: SoftHsmToken) -> None:
    spki = hsm.create_exchange_key("exchange-ca", KeyAlgorithm.EC_P521)
    hsm.close()
    with open_test_hsm(hsm_token) as again:
        assert again.exchange_public_key("exchange-ca") == spki
        signature = again.exchange_sign("exchange-ca", b"certificate")
    public = serialization.load_der_public_key(spki)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, b"certificate", ec.ECDSA(hashes.SHA256()))


def test_a_half_pair_is_reported(hsm: Pkcs11Hsm, hsm_token: SoftHsmToken) -> None:
    hsm.create_exchange_key("broken", KeyAlgorithm.EC_P256)
    with raw_session(hsm_token) as session:
        token_object(session, "broken", ObjectClass.PUBLIC_KEY).destroy()
    with pytest.raises(HsmError, match="holds only the private key of exchange key pair"):
        hsm.exchange_public_key("broken")
    hsm.delete_exchange_key("broken")
    assert hsm.exchange_public_key("broken") is None


def test_an_rsa_pair_either_decrypts_or_signs(device: Any) -> None:
    """Raw decryption with a signing key would forge its signatures: the pairs are apart."""
    device.create_exchange_key("tr34-krd", KeyAlgorithm.RSA_2048)
    device.create_exchange_key("tr34-kdh", KeyAlgorithm.RSA_2048)
    with pytest.raises(BadInput, match="key receiving device's key: it decrypts and does not sign"):
        device.exchange_sign("tr34-krd", b"forged")
    with pytest.raises(BadInput, match="'tr34-kdh' is a signing key"):
        device.exchange_decrypt_raw("tr34-kdh", bytes(256))
