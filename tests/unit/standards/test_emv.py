"""EMV issuer public key certificates: published certificates, a test CA, every refusal.

Published material (no EMV certificate is in /work/shared/vectors; these were found in
public code and re-checked here, each by an independent step beyond the hash):

- lumag/emv-tools@fccbfd087f4502cbf951cca9b78bf6161231bce9 src/sda-test.c: the Visa test CA
  key A000000003 index 01 (1024 bits, check sum D34A6A77...), an issuer certificate under it
  with a 36-byte remainder, exponent 3, and the card's Signed Static Application Data, which
  the recovered issuer key opens (header 6A, format 03, trailer BC).
- lumag/emv-tools@2879dc271bef4bae3b8aa479bb5ddc1f1f67ae34 test/dda-test.c: the Mastercard
  CA key A000000004 index 05 (1408 bits, check sum EBFA0D5D...), an issuer certificate with a
  36-byte remainder, and the card's ICC public key certificate, which the recovered issuer
  key opens (header 6A, format 04, the card's PAN, trailer BC).
- lumag/emv-tools@9e804de16bdee88da09546833efcfab2fcf3af64 data/visa-test.keys: the Visa test
  CA keys 95, 92 and 94 (1152, 1408 and 1984 bits) with their published check sums.

Everything else is made by a test CA with keys of the lengths EMV uses (1024 to 1984 bits),
with issuer keys chosen to take every path: a remainder, none, an exact fit, one byte over.
"""

from __future__ import annotations

import doctest
import functools
import hashlib
from datetime import date, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workstation.standards import emv
from workstation.standards.emv import (
    CaPublicKey,
    EmvError,
    IssuerCertificate,
    IssuerKeyRequest,
    issue_issuer_certificate,
    issuer_identifier,
    issuer_key_request,
    recover_issuer_certificate,
)

# lumag/emv-tools src/sda-test.c (Visa test CA index 01)
VISA_RID = bytes.fromhex("A000000003")
VISA_01_MODULUS = int(
    "C696034213D7D8546984579D1D0F0EA519CFF8DEFFC429354CF3A871A6F7183F1228DA5C7470C055"
    "387100CB935A712C4E2864DF5D64BA93FE7E63E71F25B1E5F5298575EBE1C63AA617706917911DC2"
    "A75AC28B251C7EF40F2365912490B939BCA2124A30A28F54402C34AECA331AB67E1E79B285DD5771"
    "B5D9FF79EA630B75",
    16,
)
VISA_CERTIFICATE = bytes.fromhex(
    "3C5FEAD4DD7BCA44F93E90C44F76EDE54A3288ECDC78469FCB1225C03B2C04F2C2F412281A0822DF"
    "14649230989FB1494070DAF8C9534A7881960148616ACE581788120D3506ACE4CEE564FB27EE5334"
    "1C22F0B45B31873D05DE545EFE33BCD29B2185D035A806AD08C6976F3505A19999930CA8A03EFA32"
    "1C486061F7DCEC9F"
)
VISA_REMAINDER = bytes.fromhex(
    "1EBCA30F00CE5962A8C6E130544B82891B236C65DE29317F364735DEE63F6598975835D5"
)
VISA_SSAD = bytes.fromhex(
    "99A558B62B674AA5E7D2A57E5EF6A6F2258E5DA052D05B54E5C115FF1CECF94AA2DF8F39A01D71C6"
    "19EB819DA52EF381E84979586AEA7855FFBEF40AA3A71CD3B04CFDF270AEC8158A2797F24FD613B7"
    "48134661135CD290E45B04A8E0CCC711AE042F159E73C89C2A7E65A4C2FD1D6106024AA27130B0EC"
    "EC0238F91659DE96"
)
VISA_PAN = "4276550013234599"  # tag 5A in the same file's static data

# lumag/emv-tools test/dda-test.c (Mastercard CA index 05)
MC_RID = bytes.fromhex("A000000004")
MC_05_MODULUS = int(
    "B8048ABC30C90D976336543E3FD7091C8FE4800DF820ED55E7E94813ED00555B573FECA3D84AF613"
    "1A651D66CFF4284FB13B635EDD0EE40176D8BF04B7FD1C7BACF9AC7327DFAA8AA72D10DB3B8E70B2"
    "DDD811CB4196525EA386ACC33C0D9D4575916469C4E4F53E8E1C912CC618CB22DDE7C3568E90022E"
    "6BBA770202E4522A2DD623D180E215BD1D1507FE3DC90CA310D27B3EFCCD8F83DE3052CAD1E48938"
    "C68D095AAC91B5F37E28BB49EC7ED597",
    16,
)
MC_CERTIFICATE = bytes.fromhex(
    "1714284F763B8586EE6D319951F7E63FA25076E50DC9D3200BA998D3A052ADBA9AB69AC6AD6ADD3C"
    "E09F0278F4074EC4EE9B1D2268A3E953575E454E50CD860BF424C51C597712D2AA057089DD8673E5"
    "1B1E1D7188034892077AC18A6AE23488BEA9DF3B1A83F2C0800CD7C5CDF2FDE0496F7BC39FB4BF36"
    "3299BFA637B2EC33C507E36821EEC2075F0E420D38A1C9F3127261BA316C987674FADB20EA7FEB75"
    "EE455D12146EA6F02E8B01EC2FA7A115"
)
MC_REMAINDER = bytes.fromhex(
    "6E63B7BC70ABDD09341B34C03286BA9BD83BA7936C5B7798FB22C5E53FF240A26DBD6415"
)
MC_ICC_CERTIFICATE = bytes.fromhex(
    "A42FBEB156B98DCB0554DA062ADCA5309A91F04FA2C7BD7102A8D73F16A3CFADE8AADF4F3FE2A212"
    "5CCDD77C6B9F78B5B4371CE0805725B0F9C027AF147D91E1FFDB201E9C170CE777053A172AD526DC"
    "AFD33895E1A947305C5B167F2E7C6F991581A652EE473154760C2ED774214E50DFECDD4CF294C974"
    "B89EBCA25B5AB3C0BEB50DFAF782AFDE1433D90CA2A89D651E75D67EBC7C3E36F5A165EE61326129"
    "39C1ECD399E46074B996D93A88E01E0A"
)
MC_PAN = "5285881254345653"

# lumag/emv-tools data/visa-test.keys
VISA_TEST_KEYS = {
    0x95: (
        "BE9E1FA5E9A803852999C4AB432DB28600DCD9DAB76DFAAA47355A0FE37B1508AC6BF38860D3C6C2"
        "E5B12A3CAAF2A7005A7241EBAA7771112C74CF9A0634652FBCA0E5980C54A64761EA101A114E0F0B"
        "5572ADD57D010B7C9C887E104CA4EE1272DA66D997B9A90B5A6D624AB6C57E73C8F919000EB5F684"
        "898EF8C3DBEFB330C62660BED88EA78E909AFF05F6DA627B",
        "EE1511CEC71020A9B90443B37B1D5F6E703030F6",
    ),
    0x92: (
        "996AF56F569187D09293C14810450ED8EE3357397B18A2458EFAA92DA3B6DF6514EC060195318FD4"
        "3BE9B8F0CC669E3F844057CBDDF8BDA191BB64473BC8DC9A730DB8F6B4EDE3924186FFD9B8C77357"
        "89C23A36BA0B8AF65372EB57EA5D89E7D14E9C7B6B557460F10885DA16AC923F15AF3758F0F03EBD"
        "3C5C2C949CBA306DB44E6A2C076C5F67E281D7EF56785DC4D75945E491F01918800A9E2DC66F6008"
        "0566CE0DAF8D17EAD46AD8E30A247C9F",
        "429C954A3859CEF91295F663C963E582ED6EB253",
    ),
    0x94: (
        "ACD2B12302EE644F3F835ABD1FC7A6F62CCE48FFEC622AA8EF062BEF6FB8BA8BC68BBF6AB5870EED"
        "579BC3973E121303D34841A796D6DCBC41DBF9E52C4609795C0CCF7EE86FA1D5CB041071ED2C51D2"
        "202F63F1156C58A92D38BC60BDF424E1776E2BC9648078A03B36FB554375FC53D57C73F5160EA59F"
        "3AFC5398EC7B67758D65C9BFF7828B6B82D4BE124A416AB7301914311EA462C19F771F31B3B57336"
        "000DFF732D3B83DE07052D730354D297BEC72871DCCF0E193F171ABA27EE464C6A97690943D59BDA"
        "BB2A27EB71CEEBDAFA1176046478FD62FEC452D5CA393296530AA3F41927ADFE434A2DF2AE3054F8"
        "840657A26E0FC617",
        "C4A3C43CCF87327D136B804160E47D43B60E6E0F",
    ),
}

VISA_01 = CaPublicKey(rid=VISA_RID, index=0x01, modulus=VISA_01_MODULUS, exponent=3)
MC_05 = CaPublicKey(rid=MC_RID, index=0x05, modulus=MC_05_MODULUS, exponent=3)
VISA_92 = CaPublicKey(
    rid=VISA_RID, index=0x92, modulus=int(VISA_TEST_KEYS[0x92][0], 16), exponent=3
)
VALID_2009 = date(2009, 12, 31)  # the last day of the Visa certificate's month, 1209
TEST_RID = bytes.fromhex("A000000999")


def recover_visa(**changes: object) -> IssuerCertificate:
    arguments: dict[str, object] = {
        "ca": VISA_01,
        "remainder": VISA_REMAINDER,
        "exponent": b"\x03",
        "pan": VISA_PAN,
        "today": VALID_2009,
    }
    arguments.update(changes)
    certificate = arguments.pop("certificate", VISA_CERTIFICATE)
    return recover_issuer_certificate(certificate, **arguments)  # type: ignore[arg-type]


# -- a test CA ----------------------------------------------------------------------------


@functools.cache
def rsa_key(bits: int, exponent: int = 3) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=exponent, key_size=bits)


def modulus_of(key: rsa.RSAPrivateKey) -> int:
    return key.public_key().public_numbers().n


def ca_public(key: rsa.RSAPrivateKey, index: int = 0x01) -> CaPublicKey:
    numbers = key.public_key().public_numbers()
    return CaPublicKey(rid=TEST_RID, index=index, modulus=numbers.n, exponent=numbers.e)


def sign_raw(key: rsa.RSAPrivateKey, recovered: bytes) -> bytes:
    """The CA's private operation on data a test chose, however wrong it is."""
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    return pow(int.from_bytes(recovered, "big"), numbers.d, n).to_bytes(len(recovered), "big")


def forged(
    ca_key: rsa.RSAPrivateKey,
    *,
    issuer_modulus: bytes,
    exponent: bytes = b"\x03",
    header: int = 0x6A,
    certificate_format: int = 0x02,
    identifier: str = "999123FF",
    expiry: str = "1249",
    serial: str = "000042",
    hash_algorithm: int = 0x01,
    pk_algorithm: int = 0x01,
    ni: int | None = None,
    padding: int = 0xBB,
    hash_result: bytes | None = None,
    trailer: int = 0xBC,
) -> tuple[bytes, bytes]:
    """A certificate laid out by hand from Book 2 Table 13, any field overridable."""
    nca = ca_key.key_size // 8
    room = nca - 36
    length = len(issuer_modulus) if ni is None else ni
    if len(issuer_modulus) <= room:
        key_field = issuer_modulus + bytes([padding]) * (room - len(issuer_modulus))
        remainder = b""
    else:
        key_field, remainder = issuer_modulus[:room], issuer_modulus[room:]
    body = (
        bytes([certificate_format])
        + bytes.fromhex(identifier)
        + bytes.fromhex(expiry)
        + bytes.fromhex(serial)
        + bytes([hash_algorithm, pk_algorithm, length, len(exponent)])
        + key_field
    )
    if hash_result is None:
        hash_result = hashlib.sha1(body + remainder + exponent).digest()  # noqa: S324 - EMV's
    recovered = bytes([header]) + body + hash_result + bytes([trailer])
    assert len(recovered) == nca
    return sign_raw(ca_key, recovered), remainder


def issuer_bytes(bits: int) -> bytes:
    n = modulus_of(rsa_key(bits))
    return n.to_bytes(bits // 8, "big")


# -- published certificates ----------------------------------------------------------------


def test_visa_test_certificate_recovers_and_opens_the_cards_signed_static_data():
    issued = recover_visa()
    assert issued == IssuerCertificate(
        issuer_identifier="427655",
        expiry="1209",
        serial=bytes.fromhex("0042B3"),
        hash_algorithm=1,
        pk_algorithm=1,
        modulus=issued.modulus,
        exponent=3,
    )
    assert issued.modulus_length == 128
    assert issued.modulus.to_bytes(128, "big")[-36:] == VISA_REMAINDER
    assert issued.expires_on == date(2009, 12, 31)
    # Independent proof that the key is right: it opens the card's Signed Static
    # Application Data (Book 2 5.4: header 6A, format 03, trailer BC).
    ssad = pow(int.from_bytes(VISA_SSAD, "big"), 3, issued.modulus).to_bytes(128, "big")
    assert (ssad[0], ssad[1], ssad[-1]) == (0x6A, 0x03, 0xBC)


def test_mastercard_certificate_recovers_and_opens_the_icc_certificate():
    issued = recover_issuer_certificate(
        MC_CERTIFICATE,
        ca=MC_05,
        remainder=MC_REMAINDER,
        exponent=b"\x03",
        pan=MC_PAN,
        today=date(2021, 12, 31),
    )
    assert (issued.issuer_identifier, issued.expiry, issued.serial.hex().upper()) == (
        "528588",
        "1221",
        "006EE2",
    )
    assert issued.modulus_length == 176
    assert issued.exponent == 3
    # The recovered key opens the card's ICC public key certificate (Book 2 6.4: header
    # 6A, format 04, the card's PAN padded with F, trailer BC).
    icc = pow(int.from_bytes(MC_ICC_CERTIFICATE, "big"), 3, issued.modulus).to_bytes(176, "big")
    assert icc[:2] == b"\x6a\x04"
    assert icc[2:12].hex().upper() == MC_PAN + "FFFF"
    assert icc[-1] == 0xBC


@pytest.mark.parametrize(
    ("rid", "index", "modulus_hex", "check_sum"),
    [
        (VISA_RID, 0x01, f"{VISA_01_MODULUS:X}", "D34A6A776011C7E7CE3AEC5F03AD2F8CFC5503CC"),
        (MC_RID, 0x05, f"{MC_05_MODULUS:X}", "EBFA0D5D06D8CE702DA3EAE890701D45E274C845"),
        *[
            (VISA_RID, index, modulus, digest)
            for index, (modulus, digest) in VISA_TEST_KEYS.items()
        ],
    ],
    ids=["visa-01", "mastercard-05", "visa-95", "visa-92", "visa-94"],
)
def test_ca_public_key_check_sums_match_the_published_ones(rid, index, modulus_hex, check_sum):
    key = CaPublicKey(rid=rid, index=index, modulus=int(modulus_hex, 16), exponent=3)
    assert key.check_sum().hex().upper() == check_sum
    assert key.modulus_length * 2 == len(modulus_hex)


def test_pan_and_today_are_optional_and_a_datetime_is_read_as_its_date():
    assert recover_visa(pan=None).issuer_identifier == "427655"
    assert recover_visa(today=datetime(2009, 12, 31, 23, 59)).expiry == "1209"


# -- a test CA: both paths, every length EMV uses --------------------------------------------


@pytest.mark.parametrize(
    ("ca_bits", "issuer_bits", "issuer_exponent", "remainder_length"),
    [
        (1024, 1024, 3, 36),
        (1152, 1024, 65537, 20),
        (1408, 1024, 3, 0),  # 12 bytes of BB padding
        (1408, 1120, 65537, 0),  # exactly NCA - 36: no padding, no remainder
        (1408, 1128, 3, 1),  # one byte over
        (1984, 1152, 65537, 0),
        (1984, 1696, 3, 0),  # exactly NCA - 36 under the longest CA key
        (1984, 1704, 65537, 1),
        (1984, 1984, 3, 36),  # the longest issuer key EMV allows
    ],
)
def test_test_ca_certificates_recover_to_the_same_issuer_key(
    ca_bits, issuer_bits, issuer_exponent, remainder_length
):
    ca_key = rsa_key(ca_bits)
    issuer_modulus = modulus_of(rsa_key(issuer_bits, issuer_exponent))
    certificate, remainder = issue_issuer_certificate(
        ca_private=ca_key,
        issuer_modulus=issuer_modulus,
        issuer_exponent=issuer_exponent,
        issuer_identifier="99912345",
        expiry="0630",
        serial=bytes.fromhex("ABCDEF"),
    )
    assert len(certificate) == ca_bits // 8
    assert len(remainder) == remainder_length
    issued = recover_issuer_certificate(
        certificate,
        ca=ca_public(ca_key),
        remainder=remainder,
        exponent=b"\x03" if issuer_exponent == 3 else b"\x01\x00\x01",
        pan="9991234500000001",
        today=date(2030, 6, 30),
    )
    assert issued == IssuerCertificate(
        issuer_identifier="99912345",
        expiry="0630",
        serial=bytes.fromhex("ABCDEF"),
        hash_algorithm=1,
        pk_algorithm=1,
        modulus=issuer_modulus,
        exponent=issuer_exponent,
    )


def test_an_issued_certificate_is_laid_out_as_table_13():
    """Check issue_issuer_certificate against the table by hand, not through recovery."""
    ca_key = rsa_key(1408)
    issuer_modulus = modulus_of(rsa_key(1024))
    certificate, remainder = issue_issuer_certificate(
        ca_private=(modulus_of(ca_key), 3, ca_key.private_numbers().d),
        issuer_modulus=issuer_modulus,
        issuer_exponent=3,
        issuer_identifier="123",
        expiry="0128",
        serial=b"\x00\x00\x07",
    )
    data = pow(int.from_bytes(certificate, "big"), 3, modulus_of(ca_key)).to_bytes(176, "big")
    assert remainder == b""
    assert data[:15] == bytes.fromhex("6A02123FFFFF0128000007010180" + "01")
    assert data[15:143] == issuer_modulus.to_bytes(128, "big")
    assert data[143:155] == b"\xbb" * 12
    assert data[155:175] == hashlib.sha1(data[1:155] + b"\x03").digest()  # noqa: S324
    assert data[175] == 0xBC


# -- refusals: the steps of Book 2 5.3, in order ---------------------------------------------


def test_step_1_certificate_length_against_the_ca_modulus():
    with pytest.raises(EmvError) as caught:
        recover_visa(certificate=VISA_CERTIFICATE + b"\x00")
    assert str(caught.value) == (
        "certificate is 129 bytes; the CA public key modulus is 128 bytes (EMV Book 2 5.3 step 1)"
    )
    with pytest.raises(EmvError) as caught:
        recover_visa(certificate=VISA_CERTIFICATE, ca=MC_05)
    assert str(caught.value) == (
        "certificate is 128 bytes; the CA public key modulus is 176 bytes (EMV Book 2 5.3 step 1)"
    )


def test_a_certificate_not_below_the_modulus_is_no_signature():
    with pytest.raises(EmvError) as caught:
        recover_visa(certificate=b"\xff" * 128)
    assert str(caught.value) == (
        "certificate is not less than the CA public key modulus: it is not a signature under "
        "this key (EMV Book 2 Annex A2.1)"
    )


@pytest.mark.parametrize(("position", "trailer"), [(0, "A8"), (64, "A6"), (127, "06")])
def test_step_2_a_tampered_certificate_byte(position, trailer):
    tampered = bytearray(VISA_CERTIFICATE)
    tampered[position] ^= 0x01
    with pytest.raises(EmvError) as caught:
        recover_visa(certificate=bytes(tampered))
    assert str(caught.value) == (
        f"recovered data trailer is '{trailer}', not 'BC': wrong CA public key or damaged "
        f"certificate (EMV Book 2 5.3 step 2)"
    )


def test_step_2_the_wrong_ca_key_of_the_same_length():
    # The Mastercard certificate (1408 bits) under Visa's 1408-bit test key 92.
    with pytest.raises(EmvError) as caught:
        recover_issuer_certificate(
            MC_CERTIFICATE, ca=VISA_92, remainder=MC_REMAINDER, exponent=b"\x03"
        )
    assert str(caught.value) == (
        "recovered data trailer is '20', not 'BC': wrong CA public key or damaged "
        "certificate (EMV Book 2 5.3 step 2)"
    )


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (
            {"trailer": 0xBD},
            "recovered data trailer is 'BD', not 'BC': wrong CA public key or damaged "
            "certificate (EMV Book 2 5.3 step 2)",
        ),
        ({"header": 0x6B}, "recovered data header is '6B', not '6A' (EMV Book 2 5.3 step 3)"),
        (
            {"certificate_format": 0x04},
            "certificate format is '04', not '02' (an issuer public key certificate, "
            "EMV Book 2 5.3 step 4)",
        ),
        (
            {"hash_algorithm": 0x02},
            "hash algorithm indicator is '02', not '01' (SHA-1, EMV Book 2 Annex B3.1)",
        ),
        (
            {"hash_result": bytes(20)},
            "hash result does not match: the certificate, the remainder or the exponent was "
            "altered, or they do not belong together (EMV Book 2 5.3 step 7)",
        ),
        (
            {"identifier": "F12345FF"},
            "issuer identifier 'F12345FF' is not 3 to 8 digits padded with 'F'",
        ),
        (
            {"identifier": "12FFFFFF"},
            "issuer identifier '12FFFFFF' is not 3 to 8 digits padded with 'F'",
        ),
        (
            {"identifier": "1234F5FF"},
            "issuer identifier '1234F5FF' is not 3 to 8 digits padded with 'F'",
        ),
        (
            {"expiry": "1350"},
            "certificate expiration date '1350' is not a month and year MMYY",
        ),
        (
            {"expiry": "12A9"},
            "certificate expiration date '12A9' is not a month and year MMYY",
        ),
        (
            {"pk_algorithm": 0x02},
            "issuer public key algorithm indicator is '02', not '01' (RSA, EMV Book 2 Annex "
            "B2.1, 5.3 step 11)",
        ),
        ({"padding": 0xBA}, "issuer public key padding is not all 'BB' (EMV Book 2 Table 13)"),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else "",
)
def test_each_recovered_field_is_refused_with_its_own_message(field, expected):
    ca_key = rsa_key(1408)
    certificate, remainder = forged(ca_key, issuer_modulus=issuer_bytes(1024), **field)
    with pytest.raises(EmvError) as caught:
        recover_issuer_certificate(
            certificate,
            ca=ca_public(ca_key),
            remainder=remainder,
            exponent=b"\x03",
            today=date(2030, 1, 1),
        )
    assert str(caught.value) == expected


def test_step_7_a_tampered_remainder_or_exponent():
    tampered = bytearray(VISA_REMAINDER)
    tampered[-1] ^= 0x80
    expected = (
        "hash result does not match: the certificate, the remainder or the exponent was "
        "altered, or they do not belong together (EMV Book 2 5.3 step 7)"
    )
    with pytest.raises(EmvError) as caught:
        recover_visa(remainder=bytes(tampered))
    assert str(caught.value) == expected
    with pytest.raises(EmvError) as caught:
        recover_visa(exponent=b"\x05")
    assert str(caught.value) == expected


def test_remainder_of_the_wrong_length():
    with pytest.raises(EmvError) as caught:
        recover_visa(remainder=VISA_REMAINDER[:-1])
    assert str(caught.value) == (
        "remainder is 35 bytes; an issuer public key of 128 bytes under a 128-byte CA public "
        "key needs 36 (NI - (NCA - 36), EMV Book 2 5.3)"
    )
    with pytest.raises(EmvError) as caught:
        recover_visa(remainder=b"")
    assert str(caught.value).startswith("remainder is 0 bytes; ")
    # A remainder where the key fits in the certificate is refused, not ignored.
    ca_key = rsa_key(1408)
    certificate, _ = issue_issuer_certificate(
        ca_private=ca_key,
        issuer_modulus=modulus_of(rsa_key(1024)),
        issuer_exponent=3,
        issuer_identifier="999123",
        expiry="1249",
        serial=b"\x00\x00\x01",
    )
    with pytest.raises(EmvError) as caught:
        recover_issuer_certificate(
            certificate, ca=ca_public(ca_key), remainder=b"\x00", exponent=b"\x03"
        )
    assert str(caught.value) == (
        "remainder is 1 byte; an issuer public key of 128 bytes under a 176-byte CA public "
        "key needs 0 (NI - (NCA - 36), EMV Book 2 5.3)"
    )


def test_exponent_of_the_wrong_length():
    with pytest.raises(EmvError) as caught:
        recover_visa(exponent=b"\x01\x00\x01")
    assert str(caught.value) == (
        "exponent is 3 bytes, but the certificate gives the issuer public key exponent length as 1"
    )


def test_step_8_issuer_identifier_against_the_pan():
    other_pan = "4276560000000000"
    with pytest.raises(EmvError) as caught:
        recover_visa(pan=other_pan)
    assert str(caught.value) == (
        "issuer identifier 427655 does not match the leftmost digits of the PAN "
        "(EMV Book 2 5.3 step 8)"
    )
    assert other_pan not in str(caught.value)
    with pytest.raises(EmvError) as caught:
        recover_visa(pan="42765")  # shorter than the identifier
    assert str(caught.value).startswith("issuer identifier 427655 does not match")


def test_step_9_expiry_is_the_end_of_the_month():
    with pytest.raises(EmvError) as caught:
        recover_visa(today=date(2010, 1, 1))
    assert str(caught.value) == (
        "certificate expired: valid until the end of 12/2009, and today is 2010-01-01 "
        "(EMV Book 2 5.3 step 9)"
    )
    assert recover_visa(today=date(2009, 12, 1)).expiry == "1209"


@pytest.mark.parametrize(
    ("expiry", "last_day"),
    [("0249", date(2049, 2, 28)), ("0248", date(2048, 2, 29)), ("0150", date(1950, 1, 31))],
)
def test_two_digit_years_follow_the_emv_window(expiry, last_day):
    ca_key = rsa_key(1408)
    certificate, _ = forged(ca_key, issuer_modulus=issuer_bytes(1024), expiry=expiry)
    arguments = {"ca": ca_public(ca_key), "exponent": b"\x03"}
    issued = recover_issuer_certificate(certificate, today=last_day, **arguments)  # type: ignore[arg-type]
    assert issued.expires_on == last_day
    with pytest.raises(EmvError, match=r"^certificate expired: valid until the end of "):
        recover_issuer_certificate(
            certificate,
            today=date.fromordinal(last_day.toordinal() + 1),
            **arguments,  # type: ignore[arg-type]
        )


def test_step_10_a_revoked_serial_number():
    with pytest.raises(EmvError) as caught:
        recover_visa(revoked={VISA_RID + b"\x01" + bytes.fromhex("0042B3")})
    assert str(caught.value) == (
        "certificate serial number 0042B3 under CA public key A000000003 index 01 is revoked "
        "(EMV Book 2 5.3 step 10)"
    )
    # The same serial number under another CA key is another certificate.
    other_index = VISA_RID + b"\x02" + bytes.fromhex("0042B3")
    assert recover_visa(revoked=[other_index]).serial == bytes.fromhex("0042B3")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"ni": 0},
            "issuer public key length is 0 bytes; it must be 1 to 176, no longer than the CA "
            "public key (EMV Book 2 5.1)",
        ),
        (
            {"issuer_modulus": b"\x00" + bytes(range(1, 128))},
            "issuer public key starts with a zero byte: its length in the certificate is wrong",
        ),
        (
            {"exponent": b"\x05"},
            "issuer public key exponent is '05', not '03' or '010001' (3 or 65537, "
            "EMV Book 2 Annex B2.1)",
        ),
        (
            {"exponent": b"\x00\x00\x03"},
            "issuer public key exponent is '000003', not '03' or '010001' (3 or 65537, "
            "EMV Book 2 Annex B2.1)",
        ),
    ],
    ids=["length-zero", "leading-zero", "exponent-5", "exponent-not-minimal"],
)
def test_the_recovered_key_must_be_well_formed(change, expected):
    ca_key = rsa_key(1408)
    arguments: dict[str, object] = {"issuer_modulus": issuer_bytes(1024)}
    arguments.update(change)
    certificate, remainder = forged(ca_key, **arguments)  # type: ignore[arg-type]
    with pytest.raises(EmvError) as caught:
        recover_issuer_certificate(
            certificate,
            ca=ca_public(ca_key),
            remainder=remainder,
            exponent=arguments.get("exponent", b"\x03"),  # type: ignore[arg-type]
            today=date(2030, 1, 1),
        )
    assert str(caught.value) == expected


def test_an_issuer_key_longer_than_the_ca_key_is_refused_after_the_hash():
    ca_key = rsa_key(1024)
    # 129 bytes: the certificate holds 92 of them, the remainder 37.
    longer = b"\xc5" + issuer_bytes(1024)
    certificate, remainder = forged(ca_key, issuer_modulus=longer)
    assert len(remainder) == 37
    with pytest.raises(EmvError) as caught:
        recover_issuer_certificate(
            certificate,
            ca=ca_public(ca_key),
            remainder=remainder,
            exponent=b"\x03",
            today=date(2030, 1, 1),
        )
    assert str(caught.value) == (
        "issuer public key length is 129 bytes; it must be 1 to 128, no longer than the CA "
        "public key (EMV Book 2 5.1)"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"certificate": "3C5F"}, "certificate must be bytes, not str"),
        ({"remainder": None}, "remainder must be bytes, not NoneType"),
        ({"exponent": 3}, "exponent must be bytes, not int"),
        ({"ca": "A000000003"}, "ca must be a CaPublicKey, not str"),
        ({"pan": "4276 5500 1323 4599"}, "pan must be decimal digits only"),
        ({"pan": "4" * 20}, "pan must be 1 to 19 digits, not 20"),
        ({"pan": 4276550013234599}, "pan must be a string of digits, not int"),
        ({"today": "2009-12-31"}, "today must be a date, not str"),
        ({"revoked": b"\x00" * 9}, "revoked must be a collection of 9-byte entries"),
        (
            {"revoked": [b"\x00" * 8]},
            "revoked entries must be 9 bytes each (RID, CA public key index, certificate "
            "serial number)",
        ),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else "",
)
def test_inputs_of_the_wrong_kind(change, expected):
    with pytest.raises(EmvError) as caught:
        recover_visa(**change)
    assert str(caught.value) == expected
    assert "4276550013234599" not in str(caught.value)


def test_a_bytearray_certificate_is_accepted():
    assert recover_visa(certificate=bytearray(VISA_CERTIFICATE)).issuer_identifier == "427655"


# -- the CA public key -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"rid": b"\xa0\x00\x00\x00"},
            "rid must be 5 bytes (a Registered Application Provider Identifier), not 4",
        ),
        ({"rid": "A000000003"}, "rid must be bytes, not str"),
        ({"index": 256}, "index must be 0 to 255 (one byte), not 256"),
        ({"index": True}, "index must be an int, not bool"),
        (
            {"modulus": 1 << 1984},
            "CA public key modulus must be 37 to 248 bytes (EMV Book 2 Annex B2.1), not 249",
        ),
        (
            {"modulus": (1 << 287) | 1},
            "CA public key modulus must be 37 to 248 bytes (EMV Book 2 Annex B2.1), not 36",
        ),
        ({"modulus": "C696"}, "CA public key modulus must be an int, not str"),
        (
            {"exponent": 17},
            "CA public key exponent must be 3 or 65537 (EMV Book 2 Annex B2.1), not 17",
        ),
    ],
    ids=[
        "rid-length",
        "rid-type",
        "index-range",
        "index-bool",
        "modulus-long",
        "modulus-short",
        "modulus-type",
        "exponent",
    ],
)
def test_ca_public_key_fields_are_checked(fields, expected):
    arguments: dict[str, object] = {
        "rid": VISA_RID,
        "index": 1,
        "modulus": VISA_01_MODULUS,
        "exponent": 3,
    }
    arguments.update(fields)
    with pytest.raises(EmvError) as caught:
        CaPublicKey(**arguments)  # type: ignore[arg-type]
    assert str(caught.value) == expected


def test_a_bytearray_rid_is_stored_as_bytes():
    key = CaPublicKey(rid=bytearray(VISA_RID), index=1, modulus=VISA_01_MODULUS, exponent=3)
    assert type(key.rid) is bytes
    assert key == VISA_01


# -- the issuer identifier and the request ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("123", "123FFFFF"),
        ("427655", "427655FF"),
        ("12345678", "12345678"),
        ("123456789", "12345678"),
        ("4276550013234599", "42765500"),
        ("1234567890123456789", "12345678"),
    ],
)
def test_issuer_identifier(value, expected):
    assert issuer_identifier(value).hex().upper() == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", "bin_or_pan must be 3 to 19 digits, not 2"),
        ("4" * 20, "bin_or_pan must be 3 to 19 digits, not 20"),
        ("42765A", "bin_or_pan must be decimal digits only"),
        ("4276 5500", "bin_or_pan must be decimal digits only"),
        ("\u0664\u0662\u0667", "bin_or_pan must be decimal digits only"),
        (427655, "bin_or_pan must be a string of digits, not int"),
    ],
)
def test_issuer_identifier_refusals(value, expected):
    with pytest.raises(EmvError) as caught:
        issuer_identifier(value)
    assert str(caught.value) == expected


def test_issuer_key_request_record():
    request = issuer_key_request(
        issuer_modulus=modulus_of(rsa_key(1408)),
        issuer_exponent=3,
        issuer_identifier="427655",
        expiry="1230",
        serial=b"\x00\x01\x02",
    )
    assert isinstance(request, IssuerKeyRequest)
    assert request.modulus_length == 176
    assert request.identifier_field == bytes.fromhex("427655FF")
    assert [request.remainder_length(nca) for nca in (176, 212, 248)] == [36, 0, 0]
    with pytest.raises(EmvError) as caught:
        request.remainder_length(144)
    assert str(caught.value) == (
        "issuer public key is 176 bytes, longer than the CA public key modulus of 144 bytes "
        "(EMV Book 2 5.1)"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"issuer_identifier": "12"}, "issuer_identifier must be 3 to 8 digits, not 2"),
        (
            {"issuer_identifier": "4276550013234599"},
            "issuer_identifier must be 3 to 8 digits, not 16",
        ),
        ({"issuer_identifier": "42765F"}, "issuer_identifier must be decimal digits only"),
        ({"expiry": "1330"}, "expiry month must be 01 to 12, not 13"),
        ({"expiry": "0030"}, "expiry month must be 01 to 12, not 00"),
        ({"expiry": "12/30"}, "expiry must be decimal digits only"),
        ({"expiry": "123"}, "expiry must be 4 digits, not 3"),
        ({"serial": b"\x00\x01"}, "serial must be 3 bytes (a certificate serial number), not 2"),
        ({"serial": "000102"}, "serial must be bytes, not str"),
        (
            {"issuer_exponent": 17},
            "issuer public key exponent must be 3 or 65537 (EMV Book 2 Annex B2.1), not 17",
        ),
        (
            {"issuer_modulus": 1 << 1984},
            "issuer public key modulus must be 1 to 248 bytes (EMV Book 2 Annex B2.1), not 249",
        ),
        (
            {"issuer_modulus": 0},
            "issuer public key modulus must be 1 to 248 bytes (EMV Book 2 Annex B2.1), not 0",
        ),
    ],
    ids=lambda value: "-".join(f"{k}" for k in value) if isinstance(value, dict) else "",
)
def test_issuer_key_request_refusals(change, expected):
    arguments: dict[str, object] = {
        "issuer_modulus": (1 << 1023) | 1,
        "issuer_exponent": 3,
        "issuer_identifier": "427655",
        "expiry": "1230",
        "serial": b"\x00\x01\x02",
    }
    arguments.update(change)
    with pytest.raises(EmvError) as caught:
        issuer_key_request(**arguments)  # type: ignore[arg-type]
    assert str(caught.value) == expected
    # The CA side checks the same fields with the same words.
    with pytest.raises(EmvError) as caught:
        issue_issuer_certificate(ca_private=rsa_key(1984), **arguments)  # type: ignore[arg-type]
    assert str(caught.value) == expected


# -- the CA side's own refusals -----------------------------------------------------------------


def issue(**changes: object) -> tuple[bytes, bytes]:
    arguments: dict[str, object] = {
        "ca_private": rsa_key(1024),
        "issuer_modulus": modulus_of(rsa_key(1024)),
        "issuer_exponent": 3,
        "issuer_identifier": "999123",
        "expiry": "1249",
        "serial": b"\x00\x00\x01",
    }
    arguments.update(changes)
    return issue_issuer_certificate(**arguments)  # type: ignore[arg-type]


def test_issue_refuses_an_issuer_key_longer_than_the_ca_key():
    with pytest.raises(EmvError) as caught:
        issue(issuer_modulus=modulus_of(rsa_key(1152)))
    assert str(caught.value) == (
        "issuer public key is 144 bytes, longer than the CA public key modulus of 128 bytes "
        "(EMV Book 2 5.1)"
    )


def test_issue_refuses_a_private_key_that_does_not_match():
    ca_key = rsa_key(1024)
    other = rsa_key(1024, 65537).private_numbers().d
    with pytest.raises(EmvError) as caught:
        issue(ca_private=(modulus_of(ca_key), 3, other))
    assert str(caught.value) == (
        "ca_private does not verify: its private exponent does not match its public key"
    )


@pytest.mark.parametrize(
    ("ca_private", "expected"),
    [
        (
            "not a key",
            "ca_private must be an RSAPrivateKey or a tuple (modulus, public exponent, "
            "private exponent)",
        ),
        (
            (1, 2),
            "ca_private must be an RSAPrivateKey or a tuple (modulus, public exponent, "
            "private exponent)",
        ),
        (
            (VISA_01_MODULUS, 5, 7),
            "CA public key exponent must be 3 or 65537 (EMV Book 2 Annex B2.1), not 5",
        ),
        (
            ((0x40 << 1016) | 1, 3, 7),
            "CA public key modulus is smaller than the data it must sign: its first byte must "
            "be above '6A'",
        ),
    ],
    ids=["string", "pair", "exponent", "small-first-byte"],
)
def test_issue_refuses_a_bad_ca_private_key(ca_private, expected):
    with pytest.raises(EmvError) as caught:
        issue(ca_private=ca_private)
    assert str(caught.value) == expected


def test_issue_makes_expired_certificates_for_labs():
    ca_key = rsa_key(1024)
    certificate, remainder = issue(expiry="0199")
    with pytest.raises(EmvError, match=r"^certificate expired: valid until the end of 01/1999"):
        recover_issuer_certificate(
            certificate, ca=ca_public(ca_key), remainder=remainder, exponent=b"\x03"
        )


# -- properties ---------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    certificate=st.one_of(st.binary(max_size=300), st.binary(min_size=128, max_size=128)),
    remainder=st.binary(max_size=40),
    exponent=st.binary(max_size=4),
    pan=st.one_of(st.none(), st.text(max_size=20)),
)
def test_random_input_is_refused_with_emv_error_only(certificate, remainder, exponent, pan):
    with pytest.raises(EmvError):
        recover_issuer_certificate(
            certificate, ca=VISA_01, remainder=remainder, exponent=exponent, pan=pan
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    identifier=st.text(alphabet="0123456789", min_size=3, max_size=8),
    month=st.integers(1, 12),
    year=st.integers(0, 99),
    serial=st.binary(min_size=3, max_size=3),
    exponent=st.sampled_from([3, 65537]),
)
def test_any_fields_round_trip(identifier, month, year, serial, exponent):
    ca_key = rsa_key(1408)
    issuer_modulus = modulus_of(rsa_key(1152))
    expiry = f"{month:02d}{year:02d}"
    certificate, remainder = issue_issuer_certificate(
        ca_private=ca_key,
        issuer_modulus=issuer_modulus,
        issuer_exponent=exponent,
        issuer_identifier=identifier,
        expiry=expiry,
        serial=serial,
    )
    ca = ca_public(ca_key)
    expires_on = IssuerCertificate(identifier, expiry, serial, 1, 1, 1, 3).expires_on
    issued = recover_issuer_certificate(
        certificate,
        ca=ca,
        remainder=remainder,
        exponent=b"\x03" if exponent == 3 else b"\x01\x00\x01",
        pan=identifier + "0" * (16 - len(identifier)),
        today=expires_on,
    )
    assert (issued.issuer_identifier, issued.expiry, issued.serial) == (identifier, expiry, serial)
    assert (issued.modulus, issued.exponent) == (issuer_modulus, exponent)


@settings(max_examples=100, deadline=None)
@given(position=st.integers(0, 175), bit=st.integers(0, 7))
def test_any_flipped_certificate_bit_is_refused(position, bit):
    ca_key = rsa_key(1408)
    certificate, remainder = issue_issuer_certificate(
        ca_private=ca_key,
        issuer_modulus=modulus_of(rsa_key(1152)),
        issuer_exponent=3,
        issuer_identifier="999123",
        expiry="1249",
        serial=b"\x00\x00\x01",
    )
    tampered = bytearray(certificate)
    tampered[position] ^= 1 << bit
    with pytest.raises(EmvError):
        recover_issuer_certificate(
            bytes(tampered),
            ca=ca_public(ca_key),
            remainder=remainder,
            exponent=b"\x03",
            today=date(2030, 1, 1),
        )


@settings(max_examples=100, deadline=None)
@given(position=st.integers(0, 35), bit=st.integers(0, 7))
def test_any_flipped_remainder_bit_breaks_the_hash(position, bit):
    tampered = bytearray(VISA_REMAINDER)
    tampered[position] ^= 1 << bit
    with pytest.raises(EmvError, match=r"^hash result does not match: "):
        recover_visa(remainder=bytes(tampered))


# -- doctests -----------------------------------------------------------------------------------


def test_module_doctests_pass():
    result = doctest.testmod(emv)
    assert result.attempted >= 10
    assert result.failed == 0
