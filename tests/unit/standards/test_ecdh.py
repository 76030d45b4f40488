"""ECDH key agreement and the SP 800-56C / X9.63 KDFs: published vectors, both parties
agreeing on every curve/hash/KDF/key algorithm, and the refusals with their messages."""

from __future__ import annotations

import datetime
import doctest
import hashlib
import itertools

import psec
import pytest
from asn1crypto import core, keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.standards import ecdh
from workstation.standards.ecdh import (
    CURVES,
    HASHES,
    KDFS,
    KEY_ALGORITHMS,
    ECDHError,
    concat_kdf,
    derive_kek,
    load_public_key,
    shared_secret,
    x963_kdf,
)

h = bytes.fromhex
SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
PEM_SPKI = (serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
UNCOMPRESSED = (serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
COMPRESSED = (serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)


def test_doctests_pass():
    result = doctest.testmod(ecdh)
    assert result.attempted >= 10
    assert result.failed == 0


# --- the shared secret: NIST CAVP ECC CDH primitive vectors -----------------------------
# NIST CAVP, "ECC CDH Primitive" test vectors (CAVS 14.1, SP 800-56A §5.7.1.2), COUNT = 0
# of each curve: dIUT, QIUT (x || y), QCAVS (x || y), ZIUT. Numbers copied from Go's
# crypto/ecdh ecdh_test.go, which reproduces them (P-521 without the two extra leading zero
# bytes the CAVP file prints).
CDH_VECTORS = [
    pytest.param(
        "P-256",
        "7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534",
        "ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b230"
        "28af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141",
        "700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287"
        "db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac",
        "46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b",
        id="cavs14.1-P-256-0",
    ),
    pytest.param(
        "P-384",
        "3cc3122a68f0d95027ad38c067916ba0eb8c38894d22e1b15618b6818a661774ad463b205da88cf6"
        "99ab4d43c9cf98a1",
        "9803807f2f6d2fd966cdd0290bd410c0190352fbec7ff6247de1302df86f25d34fe4a97bef60cff5"
        "48355c015dbb3e5fba26ca69ec2f5b5d9dad20cc9da711383a9dbe34ea3fa5a2af75b46502629ad5"
        "4dd8b7d73a8abb06a3a3be47d650cc99",
        "a7c76b970c3b5fe8b05d2838ae04ab47697b9eaf52e764592efda27fe7513272734466b400091adb"
        "f2d68c58e0c50066ac68f19f2e1cb879aed43a9969b91a0839c4c38a49749b661efedf243451915e"
        "d0905a32b060992b468c64766fc8437a",
        "5f9d29dc5e31a163060356213669c8ce132e22f57c9a04f40ba7fcead493b457e5621e766c40a2e3"
        "d4d6a04b25e533f1",
        id="cavs14.1-P-384-0",
    ),
    pytest.param(
        "P-521",
        "017eecc07ab4b329068fba65e56a1f8890aa935e57134ae0ffcce802735151f4eac6564f6ee9974c"
        "5e6887a1fefee5743ae2241bfeb95d5ce31ddcb6f9edb4d6fc47",
        "00602f9d0cf9e526b29e22381c203c48a886c2b0673033366314f1ffbcba240ba42f4ef38a761746"
        "35f91e6b4ed34275eb01c8467d05ca80315bf1a7bbd945f550a501b7c85f26f5d4b2d7355cf6b021"
        "17659943762b6d1db5ab4f1dbc44ce7b2946eb6c7de342962893fd387d1b73d7a8672d1f23696117"
        "0b7eb3579953ee5cdc88cd2d",
        "00685a48e86c79f0f0875f7bc18d25eb5fc8c0b07e5da4f4370f3a9490340854334b1e1b87fa3954"
        "64c60626124a4e70d0f785601d37c09870ebf176666877a2046d01ba52c56fc8776d9e8f5db4f0cc"
        "27636d0b741bbe05400697942e80b739884a83bde99e0f6716939e632bc8986fa18dccd443a348b6"
        "c3e522497955a4f3c302f676",
        "005fc70477c3e63bc3954bd0df3ea0d1f41ee21746ed95fc5e1fdf90930d5e136672d72cc770742d"
        "1711c3c3a4c334a0ad9759436a4d3c5bf6e74b9578fac148c831",
        id="cavs14.1-P-521-0",
    ),
]


def _self_signed(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """A certificate (DER) carrying ``public_key``; signed by an unrelated key, since only
    its public key is read."""
    signer = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ECDH partner")])
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(signer, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(("curve", "d", "q_iut", "q_cavs", "z"), CDH_VECTORS)
def test_cavp_cdh_vectors(curve, d, q_iut, q_cavs, z):
    ours = ec.derive_private_key(int(d, 16), CURVES[curve])
    assert ours.public_key().public_bytes(*UNCOMPRESSED) == b"\x04" + h(q_iut)
    peer_point = b"\x04" + h(q_cavs)
    peer = ec.EllipticCurvePublicKey.from_encoded_point(CURVES[curve], peer_point)
    # Every form of the peer's public key gives the published Z.
    forms = {
        "uncompressed point": peer_point,
        "compressed point": peer.public_bytes(*COMPRESSED),
        "SPKI DER": peer.public_bytes(*SPKI),
        "SPKI PEM": peer.public_bytes(*PEM_SPKI),
        "certificate DER": _self_signed(peer),
        "certificate PEM": x509.load_der_x509_certificate(_self_signed(peer)).public_bytes(
            serialization.Encoding.PEM
        ),
        "bytearray": bytearray(peer_point),
    }
    for form, data in forms.items():
        assert shared_secret(ours, data) == h(z), form


@pytest.mark.parametrize("curve", list(CURVES))
def test_both_parties_compute_the_same_z(curve):
    alice = ec.generate_private_key(CURVES[curve])
    bob = ec.generate_private_key(CURVES[curve])
    z_alice = shared_secret(alice, bob.public_key().public_bytes(*SPKI))
    z_bob = shared_secret(bob, alice.public_key().public_bytes(*UNCOMPRESSED))
    assert z_alice == z_bob
    assert len(z_alice) == {"P-256": 32, "P-384": 48, "P-521": 66}[curve]
    assert z_alice == alice.exchange(ec.ECDH(), bob.public_key())


# --- the KDFs: published vectors ---------------------------------------------------------
# NIST CAVP, SP 800-135 component validation, ANSI X9.63 KDF (ansx963_2001.rsp): the first
# one or two cases of each [SHA-x] group, as (hash, Z, SharedInfo, key data). Numbers
# copied from the reproduction of that file in a Go KDF2 test table (github, "NewKDF2"
# test cases) and in pyca/cryptography's test_x963kdf.py (SHA-256 COUNT = 0).
X963_VECTORS = [
    ("SHA-256", "96c05619d56c328ab95fe84b18264b08725b85e33fd34f08", "",
     "443024c3dae66b95e6f5670601558f71"),
    ("SHA-256", "96f600b73ad6ac5629577eced51743dd2c24c21b1ac83ee4", "",
     "b6295162a7804f5667ba9070f82fa522"),
    ("SHA-256", "22518b10e70f2a3f243810ae3254139efbee04aa57c7af7d",
     "75eef81aa3041e33b80971203d2c0c52",
     "c498af77161cc59f2962b9a713e2b215152d139766ce34a776df11866a69bf2e52a13d9c7c6fc878c50c5e"
     "a0bc7b00e0da2447cfd874f6cf92f30d0097111485500c90c3af8b487872d04685d14c8d1dc8d7fa08beb0"
     "ce0ababc11f0bd496269142d43525a78e5bc79a17f59676a5706dc54d54d4d1f0bd7e386128ec26afc21"),
    ("SHA-256", "7e335afa4b31d772c0635c7b0e06f26fcd781df947d2990a",
     "d65a4812733f8cdbcdfb4b2f4c191d87",
     "c0bd9e38a8f9de14c2acd35b2f3410c6988cf02400543631e0d6a4c1d030365acbf398115e51aaddebdc95"
     "90664210f9aa9fed770d4c57edeafa0b8c14f93300865251218c262d63dadc47dfa0e0284826793985137e"
     "0a544ec80abf2fdf5ab90bdaea66204012efe34971dc431d625cd9a329b8217cc8fd0d9f02b13f2f6b0b"),
    ("SHA-384", "d8554db1b392cd55c3fe957bed76af09c13ac2a9392f88f6", "",
     "671a46aada145162f8ddf1ca586a1cda"),
    ("SHA-384", "070265bd04222fc1dcb67182fa797166eaa18a2a1e1a6c0f", "",
     "522d79f65430350cec5c59c014e1a2cd"),
    ("SHA-384", "c051fd22539c9de791d6c43a854b8f80a6bf70190050854a",
     "1317504aa34759bb4c931e3b78201945",
     "cf6a84434734ac6949e1d7976743277be789906908ad3ca3a8923da7f476abbeb574306d7243031a855669"
     "14bfd247d2519c479953d9d55b6b831e56260806c39af21b74e3ecf470e3bd8332791c8a23c13352514fde"
     "f00c2d1a408ba31b2d3f9fdcb373895484649a645d1845eec91b5bfdc5ad28c7824984482002dd4a8677"),
    ("SHA-512", "87fc0d8c4477485bb574f5fcea264b30885dc8d90ad82782", "",
     "947665fbb9152153ef460238506a0245"),
    ("SHA-512", "293e901c8f43178794a9792f98861732faa4677e72b8ce1e", "",
     "883e84f877b05a092ada456571c58cb9"),
    # [SHA-512] [shared secret length = 521]: a P-521-sized Z.
    ("SHA-512",
     "00aa5bb79b33e389fa58ceadc047197f14e73712f452caa9fc4c9adb369348b81507392f1a86ddfdb7c4ff"
     "8231c4bd0f44e44a1b55b1404747a9e2e753f55ef05a2d",
     "e3b5b4c1b0d5cf1d2b3a2f9937895d31",
     "4463f869f3cc18769b52264b0112b5858f7ad32a5a2d96d8cffabf7fa733633d6e4dd2a599acceb3ea54a6"
     "217ce0b50eef4f6b40a5c30250a5a8eeee208002267089dbf351f3f5022aa9638bf1ee419dea9c4ff745a2"
     "5ac27bda33ca08bd56dd1a59b4106cf2dbbc0ab2aa8e2efa7b17902d34276951ceccab87f9661c3e8816"),
]  # fmt: skip


@pytest.mark.parametrize(("hash_name", "z", "shared_info", "expected"), X963_VECTORS)
def test_x963_kdf_cavp_vectors(hash_name, z, shared_info, expected):
    derived = x963_kdf(
        h(z), length=len(expected) // 2, hash_name=hash_name, shared_info=h(shared_info)
    )
    assert derived.hex() == expected


# NIST publishes no test vectors for the SP 800-56C one-step KDF on its own (OpenSSL's
# evpkdf_ss.txt says so); these are the ones implementations share, as (hash, Z,
# FixedInfo, output):
# - pyca/cryptography tests/hazmat/primitives/test_concatkdf.py, test_derive;
# - OpenSSL test/recipes/30-test_evp_data/evpkdf_ss.txt (the "NIST SP 800-56C Rev1
#   non-official test vectors" of patrickfav/singlestep-kdf), the SHA-256 and SHA-512 cases;
# - Botan src/tests/data/kdf/sp800_56a.vec, SHA-256, 33 bytes (two hash blocks).
CONCAT_VECTORS = [
    ("SHA-256", "52169af5c485dcc2321eb8d26d5efa21fb9b93c98e38412ee2484cf14f0d0d23",
     "a1b2c3d4e53728157e634612c12d6d5223e204aeea4341565369647bd184bcd246f72971f292badaa2fe41"
     "24612cba",
     "1c3bc9e7c4547c5191c0d478cccaed55"),
    ("SHA-256", "afc4e154498d4770aa8365f6903dc83b", "662af20379b29d5ef813e655",
     "f0b80d6ae4c1e19e2105a37024e35dc6"),
    ("SHA-512", "108cf63318555c787fa578731dd4f037", "53191b1dd3f94d83084d61d6",
     "0ad475c1826da3007637970c8b92b993"),
    ("SHA-256", "7ce80e8b0480cde01fec587fe7045a8e",
     "ea0e5d80a76bb5063148cc997b76da2d895bc3e4dff37c48579cc4e580f1fda3",
     "9e04ddba94c2c36f8e9b1b6f9b0f4d70a20cf1122dd94ab5724d192ed1939d924d"),
]  # fmt: skip


@pytest.mark.parametrize(("hash_name", "z", "other_info", "expected"), CONCAT_VECTORS)
def test_concat_kdf_published_vectors(hash_name, z, other_info, expected):
    derived = concat_kdf(
        h(z), length=len(expected) // 2, hash_name=hash_name, other_info=h(other_info)
    )
    assert derived.hex() == expected


# --- what is hashed, checked against the definitions written out with hashlib -----------

HASHLIB = {"SHA-256": hashlib.sha256, "SHA-384": hashlib.sha384, "SHA-512": hashlib.sha512}


def reference_concat(hash_name: str, z: bytes, info: bytes, length: int) -> bytes:
    """SP 800-56C Rev. 2 §4.1: H(counter || Z || FixedInfo), counter from 1."""
    out = b"".join(
        HASHLIB[hash_name](i.to_bytes(4, "big") + z + info).digest() for i in range(1, 40)
    )
    return out[:length]


def reference_x963(hash_name: str, z: bytes, info: bytes, length: int) -> bytes:
    """SEC 1 §3.6.1: H(Z || counter || SharedInfo), counter from 1."""
    out = b"".join(
        HASHLIB[hash_name](z + i.to_bytes(4, "big") + info).digest() for i in range(1, 40)
    )
    return out[:length]


@settings(max_examples=60, deadline=None)
@given(
    hash_name=st.sampled_from(list(HASHES)),
    z=st.binary(min_size=1, max_size=80),
    info=st.binary(max_size=64),
    length=st.integers(min_value=1, max_value=200),
)
def test_kdfs_hash_what_the_standards_say(hash_name, z, info, length):
    assert concat_kdf(z, length=length, hash_name=hash_name, other_info=info) == (
        reference_concat(hash_name, z, info, length)
    )
    assert x963_kdf(z, length=length, hash_name=hash_name, shared_info=info) == (
        reference_x963(hash_name, z, info, length)
    )


def test_kdfs_take_the_secret_as_bytearray():
    z = bytearray(h("96c05619d56c328ab95fe84b18264b08725b85e33fd34f08"))
    assert x963_kdf(z, length=16).hex() == "443024c3dae66b95e6f5670601558f71"
    assert concat_kdf(z, length=16, other_info=bytearray(b"x")) == concat_kdf(
        bytes(z), length=16, other_info=b"x"
    )


def test_the_two_kdfs_differ():
    z = bytes(range(32))
    assert concat_kdf(z, length=32, other_info=b"i") != x963_kdf(z, length=32, shared_info=b"i")


# --- the KEK: every curve, hash, KDF and key algorithm -----------------------------------

# Fixed key pairs per curve (scalars chosen for the test, not secret).
PARTIES = {
    name: (ec.derive_private_key(0xA11CE + i, curve), ec.derive_private_key(0xB0B + i, curve))
    for i, (name, curve) in enumerate(CURVES.items())
}
COMBINATIONS = list(itertools.product(CURVES, KDFS, HASHES, KEY_ALGORITHMS))


def odd_parity(data: bytes) -> bool:
    return all(byte.bit_count() % 2 == 1 for byte in data)


@pytest.mark.parametrize(("curve", "kdf", "hash_name", "key_algorithm"), COMBINATIONS)
def test_both_parties_derive_the_same_kek(curve, kdf, hash_name, key_algorithm):
    alice, bob = PARTIES[curve]
    shared_info = b"KCW-ECDH " + f"{curve}/{kdf}/{hash_name}/{key_algorithm}".encode()
    params = dict(kdf=kdf, hash_name=hash_name, shared_info=shared_info)
    kek_alice = derive_kek(
        shared_secret(alice, bob.public_key().public_bytes(*SPKI)),
        key_algorithm=key_algorithm,
        **params,
    )
    kek_bob = derive_kek(
        bytearray(shared_secret(bob, alice.public_key().public_bytes(*UNCOMPRESSED))),
        key_algorithm=key_algorithm,
        **params,
    )
    assert kek_alice == kek_bob
    assert len(kek_alice) == KEY_ALGORITHMS[key_algorithm]
    # The KEK is the KDF output (exactly what AWS hashes), parity-adjusted for TDES.
    z = alice.exchange(ec.ECDH(), bob.public_key())
    reference = reference_concat if kdf == "NIST_SP800" else reference_x963
    raw = reference(hash_name, z, shared_info, len(kek_alice))
    if key_algorithm.startswith("TDES"):
        assert odd_parity(kek_alice)
        assert bytes(a & 0xFE for a in kek_alice) == bytes(b & 0xFE for b in raw)
    else:
        assert kek_alice == raw


def test_tdes_parity_is_set_in_the_low_bit_of_each_byte():
    # Every byte value: the seven key bits are kept, the low bit makes the parity odd.
    adjusted = [ecdh._odd_parity(b) for b in range(256)]
    assert all(a.bit_count() % 2 == 1 for a in adjusted)
    assert all(a & 0xFE == b & 0xFE for a, b in zip(adjusted, range(256), strict=True))
    assert adjusted[0x00] == 0x01 and adjusted[0x01] == 0x01 and adjusted[0xFE] == 0xFE


def test_different_shared_info_gives_a_different_kek():
    z = shared_secret(PARTIES["P-256"][0], PARTIES["P-256"][1].public_key().public_bytes(*SPKI))
    params = dict(kdf="NIST_SP800", hash_name="SHA-256", key_algorithm="AES-256")
    assert derive_kek(z, shared_info=b"1", **params) != derive_kek(z, shared_info=b"2", **params)


# psec still takes TripleDES from its old place in cryptography.
@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
@pytest.mark.parametrize(("key_algorithm", "version"), [("AES-256", "D"), ("TDES-3KEY", "B")])
def test_the_kek_protects_a_tr31_key_block(key_algorithm, version):
    """The derived KEK works as a TR-31 key block protection key (psec as the peer)."""
    alice, bob = PARTIES["P-384"]
    params = dict(kdf="ANSI_X963", hash_name="SHA-384", shared_info=b"\x01\x02\x03")
    kek_sender = derive_kek(
        shared_secret(alice, bob.public_key().public_bytes(*SPKI)),
        key_algorithm=key_algorithm,
        **params,
    )
    kek_receiver = derive_kek(
        shared_secret(bob, alice.public_key().public_bytes(*SPKI)),
        key_algorithm=key_algorithm,
        **params,
    )
    key = h("3F419E1CB7079442AA37474C2EFBF8B8")
    block = psec.tr31.wrap(kek_sender, psec.tr31.Header(version, "P0", "A", "E", "00", "N"), key)
    _, unwrapped = psec.tr31.unwrap(kek_receiver, block)
    assert unwrapped == key


# --- refusals, with their messages ---------------------------------------------------------


def _spki_with(parameters: tuple[str, object], point: bytes) -> bytes:
    return keys.PublicKeyInfo(
        {
            "algorithm": {"algorithm": "ec", "parameters": keys.ECDomainParameters(parameters)},
            "public_key": point,
        }
    ).dump()


P256_POINT = PARTIES["P-256"][1].public_key().public_bytes(*UNCOMPRESSED)
P256_SPKI = PARTIES["P-256"][1].public_key().public_bytes(*SPKI)
OFF_CURVE = P256_POINT[:-1] + bytes([P256_POINT[-1] ^ 1])
RSA_SPKI = rsa.generate_private_key(65537, 2048).public_key().public_bytes(*SPKI)
K1_SPKI = ec.generate_private_key(ec.SECP256K1()).public_key().public_bytes(*SPKI)
PRIVATE_PEM = PARTIES["P-256"][0].private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
)

PUBLIC_KEY_REFUSALS = [
    pytest.param("04AB", "public key: expected bytes, not str", id="not-bytes"),
    pytest.param(b"", "public key: empty", id="empty"),
    pytest.param(
        b"\x05abc",
        "public key: not a SubjectPublicKeyInfo, an X.509 certificate or an X9.62 point "
        "(it starts with byte 05)",
        id="unknown-form",
    ),
    pytest.param(
        b"\x00",
        "public key: not a SubjectPublicKeyInfo, an X.509 certificate or an X9.62 point "
        "(it starts with byte 00)",
        id="point-at-infinity",
    ),
    pytest.param(
        P256_POINT[:-1],
        "public key: an uncompressed point on P-256, P-384 or P-521 is 65, 97 or 133 bytes "
        "long, not 64",
        id="uncompressed-length",
    ),
    pytest.param(
        b"\x02" + bytes(33),
        "public key: a compressed point on P-256, P-384 or P-521 is 33, 49 or 67 bytes "
        "long, not 34",
        id="compressed-length",
    ),
    pytest.param(OFF_CURVE, "public key: the point is not on the curve P-256", id="off-curve"),
    pytest.param(
        P256_SPKI[:-1] + bytes([P256_SPKI[-1] ^ 1]),
        "public key: the point is not on the curve P-256",
        id="spki-off-curve",
    ),
    pytest.param(
        _spki_with(("named", "secp256r1"), P256_POINT[:-1]),
        "public key: the point is not an X9.62 point on P-256 (length 64, first byte 04)",
        id="spki-point-length",
    ),
    pytest.param(
        _spki_with(("named", "secp384r1"), P256_POINT),
        "public key: the point is not an X9.62 point on P-384 (length 65, first byte 04)",
        id="spki-point-of-another-curve",
    ),
    pytest.param(
        RSA_SPKI,
        "public key: the algorithm is 'rsa', not an elliptic-curve key (id-ecPublicKey)",
        id="rsa-key",
    ),
    pytest.param(
        K1_SPKI,
        "public key: the curve secp256k1 is not supported; use P-256, P-384 or P-521",
        id="secp256k1",
    ),
    pytest.param(
        _spki_with(("implicit_ca", core.Null()), P256_POINT),
        "public key: the curve is not given as a named curve (explicit or inherited "
        "parameters); only the named curves P-256, P-384 and P-521 are accepted "
        "(RFC 5480 §2.1.1)",
        id="inherited-parameters",
    ),
    pytest.param(
        core.Sequence.load(h("3003020101")).dump(),
        "public key: the DER is neither a SubjectPublicKeyInfo nor a certificate",
        id="der-one-element",
    ),
    pytest.param(
        PRIVATE_PEM,
        "public key: PEM type 'PRIVATE KEY' is neither 'PUBLIC KEY' nor 'CERTIFICATE'",
        id="pem-private-key",
    ),
]


@pytest.mark.parametrize(("data", "message"), PUBLIC_KEY_REFUSALS)
def test_public_key_refusals(data, message):
    with pytest.raises(ECDHError) as caught:
        load_public_key(data)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("data", "prefix"),
    [
        pytest.param(h("30030201"), "public key: not valid DER (", id="truncated-der"),
        pytest.param(P256_SPKI + b"\x00", "public key: not valid DER (", id="trailing-data"),
        pytest.param(
            core.Sequence.load(h("3009020101020101020101")).dump(),
            "public key: not a valid X.509 certificate (",
            id="three-integers",
        ),
        pytest.param(
            b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
            "public key: not a valid SubjectPublicKeyInfo (",
            id="pem-bad-base64",
        ),
    ],
)
def test_malformed_encodings_are_refused(data, prefix):
    with pytest.raises(ECDHError) as caught:
        load_public_key(data)
    assert str(caught.value).startswith(prefix)


def test_error_class_is_a_value_error():
    assert issubclass(ECDHError, ValueError)


def test_shared_secret_refuses_other_keys():
    alice = PARTIES["P-256"][0]
    p384 = PARTIES["P-384"][1].public_key().public_bytes(*SPKI)
    with pytest.raises(ECDHError) as caught:
        shared_secret(alice, p384)
    assert str(caught.value) == (
        "public key: the peer's key is on P-384, the private key on P-256; both must be on "
        "the same curve"
    )
    with pytest.raises(ECDHError) as caught:
        shared_secret(rsa.generate_private_key(65537, 2048), P256_SPKI)  # type: ignore[arg-type]
    assert (
        str(caught.value)
        == "private key: expected an elliptic-curve private key, not RSAPrivateKey"
    )
    with pytest.raises(ECDHError) as caught:
        shared_secret(ec.generate_private_key(ec.SECP256K1()), P256_SPKI)
    assert str(caught.value) == (
        "private key: the curve secp256k1 is not supported; use P-256, P-384 or P-521"
    )
    with pytest.raises(ECDHError) as caught:
        shared_secret(alice, OFF_CURVE)
    assert str(caught.value) == "public key: the point is not on the curve P-256"


Z32 = bytes(range(1, 33))
KDF_REFUSALS = [
    pytest.param(
        lambda: concat_kdf(Z32, length=16, hash_name="SHA-1"),
        "hash_name: 'SHA-1' is not supported; use one of SHA-256, SHA-384, SHA-512",
        id="concat-hash",
    ),
    pytest.param(
        lambda: x963_kdf(Z32, length=16, hash_name="sha256"),
        "hash_name: 'sha256' is not supported; use one of SHA-256, SHA-384, SHA-512",
        id="x963-hash-spelling",
    ),
    pytest.param(lambda: concat_kdf(b"", length=16), "z: the shared secret is empty", id="z-empty"),
    pytest.param(lambda: x963_kdf("00", length=16), "z: expected bytes, not str", id="z-str"),
    pytest.param(
        lambda: concat_kdf(Z32, length=0),
        "length: 0 bytes; it must be 1 to 137438953440",
        id="concat-length-zero",
    ),
    pytest.param(
        lambda: concat_kdf(Z32, length=64 * (2**32 - 1) + 1, hash_name="SHA-512"),
        "length: 274877906881 bytes; it must be 1 to 274877906880",
        id="concat-length-too-long",
    ),
    pytest.param(
        lambda: x963_kdf(Z32, length=32 * (2**32 - 1)),
        "length: 137438953440 bytes; it must be 1 to 137438953439",
        id="x963-length-too-long",
    ),
    pytest.param(
        lambda: x963_kdf(Z32, length=True), "length: expected an int, not bool", id="length-bool"
    ),
    pytest.param(
        lambda: concat_kdf(Z32, length=16.0),
        "length: expected an int, not float",
        id="length-float",
    ),
    pytest.param(
        lambda: concat_kdf(Z32, length=16, other_info="info"),
        "other_info: expected bytes, not str",
        id="other-info-str",
    ),
    pytest.param(
        lambda: x963_kdf(Z32, length=16, shared_info=None),
        "shared_info: expected bytes, not NoneType",
        id="shared-info-none",
    ),
]


@pytest.mark.parametrize(("call", "message"), KDF_REFUSALS)
def test_kdf_refusals(call, message):
    with pytest.raises(ECDHError) as caught:
        call()
    assert str(caught.value) == message


def kek(**changes):
    arguments = dict(
        kdf="NIST_SP800", hash_name="SHA-256", shared_info=b"\x01", key_algorithm="AES-128"
    )
    arguments.update(changes)
    z = arguments.pop("z", Z32)
    return derive_kek(z, **arguments)


KEK_REFUSALS = [
    pytest.param(
        {"kdf": "HKDF"}, "kdf: 'HKDF' is not supported; use NIST_SP800 or ANSI_X963", id="kdf"
    ),
    pytest.param(
        {"kdf": "nist_sp800"},
        "kdf: 'nist_sp800' is not supported; use NIST_SP800 or ANSI_X963",
        id="kdf-case",
    ),
    pytest.param(
        {"key_algorithm": "AES_256"},
        "key_algorithm: 'AES_256' is not supported; use one of AES-128, AES-192, AES-256, "
        "TDES-2KEY, TDES-3KEY",
        id="key-algorithm-spelling",
    ),
    pytest.param(
        {"key_algorithm": "HMAC-SHA256"},
        "key_algorithm: 'HMAC-SHA256' is not supported; use one of AES-128, AES-192, "
        "AES-256, TDES-2KEY, TDES-3KEY",
        id="key-algorithm-hmac",
    ),
    pytest.param(
        {"hash_name": "SHA-224"},
        "hash_name: 'SHA-224' is not supported; use one of SHA-256, SHA-384, SHA-512",
        id="hash",
    ),
    pytest.param(
        {"z": bytes(31)},
        "z: 31 bytes; the shared secret of P-256, P-384 or P-521 is 32, 48 or 66 bytes",
        id="z-length",
    ),
    pytest.param(
        {"z": bytes(65)},
        "z: 65 bytes; the shared secret of P-256, P-384 or P-521 is 32, 48 or 66 bytes",
        id="z-a-point",
    ),
    pytest.param({"z": b""}, "z: the shared secret is empty", id="z-empty"),
    pytest.param(
        {"shared_info": b""}, "shared_info: 0 bytes; it must be 1 to 1024 bytes", id="info-empty"
    ),
    pytest.param(
        {"shared_info": bytes(1025)},
        "shared_info: 1025 bytes; it must be 1 to 1024 bytes",
        id="info-too-long",
    ),
    pytest.param(
        {"shared_info": "A1B2"}, "shared_info: expected bytes, not str", id="info-hex-text"
    ),
]


@pytest.mark.parametrize(("changes", "message"), KEK_REFUSALS)
def test_kek_refusals(changes, message):
    with pytest.raises(ECDHError) as caught:
        kek(**changes)
    assert str(caught.value) == message


def test_kek_limits_are_inclusive():
    assert len(kek(shared_info=bytes(1024))) == 16
    assert len(kek(shared_info=b"\x00")) == 16  # 0x00 bytes are not refused (see docstring)
    for size in (32, 48, 66):
        assert len(kek(z=bytes(range(size)), key_algorithm="TDES-3KEY")) == 24
