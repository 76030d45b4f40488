"""PKIX: certificate requests checked by OpenSSL and pyca/cryptography, and every refusal of
certificate validation with its exact message.

The certificates are made here with cryptography's builders (and, for what those refuse to
make, re-signed after an edit with asn1crypto); the published TR-34-2019 Annex B sample PKI
(root, CA KDH, KDH 1 and the CA's CRL; see /work/shared/vectors/VECTORS.md section 4) is
validated too, through the copies kept in test_tr34.
"""

from __future__ import annotations

import base64
import doctest
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import csr as asn1_csr
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.standards.test_tr34 import (
    CA_KDH,
    CA_KRD,
    KDH1,
    KRD1,
    ROOT_CA,
    SAMPLE_CRL,
    sample,
    sample_cert,
)
from workstation.standards import pkix
from workstation.standards.pkix import PkixError, Profile

NOW = datetime(2026, 6, 1, tzinfo=UTC)
START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2028, 1, 1, tzinfo=UTC)
DER = serialization.Encoding.DER

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def refused(message: str) -> Any:
    return pytest.raises(PkixError, match="^" + re.escape(message) + "$")


# --------------------------------------------------------------------------- keys


@cache
def rsa_key(bits: int, number: int = 0) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@cache
def ec_key(curve: str, number: int = 0) -> ec.EllipticCurvePrivateKey:
    curves: dict[str, ec.EllipticCurve] = {
        "P-256": ec.SECP256R1(),
        "P-384": ec.SECP384R1(),
        "P-521": ec.SECP521R1(),
        "secp256k1": ec.SECP256K1(),
    }
    return ec.generate_private_key(curves[curve])


def spki(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def signer(key: Any) -> Callable[[bytes], bytes]:
    """A Signer as the HSM port gives it: PKCS#1 v1.5 / ECDSA (DER), both with SHA-256."""
    if isinstance(key, rsa.RSAPrivateKey):
        return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return lambda data: key.sign(data, ec.ECDSA(hashes.SHA256()))


KEYS: dict[str, Callable[[], Any]] = {
    "RSA-2048": lambda: rsa_key(2048),
    "RSA-3072": lambda: rsa_key(3072),
    "RSA-4096": lambda: rsa_key(4096),
    "EC P-256": lambda: ec_key("P-256"),
    "EC P-384": lambda: ec_key("P-384"),
    "EC P-521": lambda: ec_key("P-521"),
}


# --------------------------------------------------------------------------- certificates

USAGE_FIELDS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def key_usage(*names: str) -> x509.KeyUsage:
    return x509.KeyUsage(**{name: name in names for name in USAGE_FIELDS})


def dn(common_name: str) -> x509.Name:
    return x509.Name(  # DER order; RFC 4514 text reverses it
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bank"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def rfc4514(common_name: str) -> str:
    return f"CN={common_name},O=Bank,C=GB"


def label(common_name: str, serial: int) -> str:
    return f'certificate "{rfc4514(common_name)}" (serial 0x{serial:X})'


@dataclass(frozen=True)
class Issued:
    der: bytes
    key: Any
    name: x509.Name


def issue(
    common_name: str,
    *,
    key: Any,
    serial: int,
    issuer: Issued | None = None,
    ca: bool | None = False,
    path_length: int | None = None,
    usage: tuple[str, ...] | None = None,
    eku: tuple[x509.ObjectIdentifier, ...] | None = None,
    dns: tuple[str, ...] = (),
    not_before: datetime = START,
    not_after: datetime = END,
    aki: bool = True,
    extra: tuple[tuple[x509.ExtensionType, bool], ...] = (),
    issuer_name: x509.Name | None = None,
) -> Issued:
    """A certificate; ``issuer`` None makes it self-signed. ``ca`` None: no basicConstraints.
    ``usage`` None: key_cert_sign and crl_sign for a CA, digital_signature otherwise."""
    name = dn(common_name)
    signing_key = key if issuer is None else issuer.key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name or (name if issuer is None else issuer.name))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca, path_length), critical=True)
    if usage is None:
        usage = ("key_cert_sign", "crl_sign") if ca else ("digital_signature",)
    if usage:
        builder = builder.add_extension(key_usage(*usage), critical=True)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if dns:
        names = [x509.DNSName(value) for value in dns]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if aki:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
            critical=False,
        )
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical=critical)
    algorithm = None if isinstance(signing_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    certificate = builder.sign(signing_key, algorithm)
    return Issued(certificate.public_bytes(DER), key, name)


def crl(
    issuer: Issued,
    *,
    revoked: tuple[tuple[int, datetime, x509.ReasonFlags | None], ...] = (),
    this_update: datetime = datetime(2026, 5, 1, tzinfo=UTC),
    next_update: datetime = datetime(2026, 7, 1, tzinfo=UTC),
    signed_by: Any = None,
    extra: tuple[tuple[x509.ExtensionType, bool], ...] = (),
) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.name)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(1), critical=False)
    )
    for serial, when, reason in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signed_by or issuer.key, hashes.SHA256()).public_bytes(DER)


def sign_asn1(key: Any, data: bytes, algorithm: str) -> bytes:
    if algorithm == "sha1_ecdsa":
        return bytes(key.sign(data, ec.ECDSA(hashes.SHA1())))  # noqa: S303 - to be refused
    if isinstance(key, rsa.RSAPrivateKey):
        return bytes(key.sign(data, padding.PKCS1v15(), hashes.SHA256()))
    return bytes(key.sign(data, ec.ECDSA(hashes.SHA256())))


def algorithm_of(key: Any, name: str | None) -> dict[str, Any]:
    if name is not None:
        return {"algorithm": name}
    if isinstance(key, rsa.RSAPrivateKey):
        return {"algorithm": "sha256_rsa", "parameters": None}
    return {"algorithm": "sha256_ecdsa"}


def resign_certificate(
    der: bytes, key: Any, edit: Callable[[Any], None], algorithm: str | None = None
) -> bytes:
    """``der`` with its TBSCertificate edited by ``edit`` and signed again by ``key`` (for
    certificates cryptography's builder will not make)."""
    certificate = asn1_x509.Certificate.load(der)
    tbs = certificate["tbs_certificate"]
    tbs["signature"] = algorithm_of(key, algorithm)
    edit(tbs)
    tbs_der = tbs.dump(force=True)
    return bytes(
        asn1_x509.Certificate(
            {
                "tbs_certificate": asn1_x509.TbsCertificate.load(tbs_der),
                "signature_algorithm": algorithm_of(key, algorithm),
                "signature_value": sign_asn1(key, tbs_der, algorithm or ""),
            }
        ).dump()
    )


def resign_crl(der: bytes, key: Any, edit: Callable[[Any], None]) -> bytes:
    certificate_list = asn1_crl.CertificateList.load(der)
    tbs = certificate_list["tbs_cert_list"]
    edit(tbs)
    tbs_der = tbs.dump(force=True)
    return bytes(
        asn1_crl.CertificateList(
            {
                "tbs_cert_list": asn1_crl.TbsCertList.load(tbs_der),
                "signature_algorithm": algorithm_of(key, None),
                "signature": sign_asn1(key, tbs_der, ""),
            }
        ).dump()
    )


@dataclass(frozen=True)
class Pki:
    root: Issued
    intermediate: Issued
    leaf: Issued
    root_crl: bytes
    intermediate_crl: bytes


ROOT_CN, CA_CN, LEAF_CN = "Test Root CA", "Test Issuing CA", "atm-0042.bank.example"
ROOT, CA, LEAF = label(ROOT_CN, 1), label(CA_CN, 0x10), label(LEAF_CN, 0x1001)


@pytest.fixture(scope="module")
def pki() -> Pki:
    """Root (RSA-2048) -> issuing CA (EC P-384, pathLen 0) -> leaf (EC P-256)."""
    root = issue(ROOT_CN, key=rsa_key(2048, 1), serial=1, ca=True)
    intermediate = issue(
        CA_CN, key=ec_key("P-384", 1), serial=0x10, issuer=root, ca=True, path_length=0
    )
    leaf = issue(
        LEAF_CN,
        key=ec_key("P-256", 1),
        serial=0x1001,
        issuer=intermediate,
        eku=(ExtendedKeyUsageOID.CLIENT_AUTH,),
        dns=(LEAF_CN,),
    )
    return Pki(root, intermediate, leaf, crl(root), crl(intermediate))


def validate(pki: Pki, leaf: bytes | None = None, **arguments: Any) -> pkix.ValidatedCertificate:
    arguments.setdefault("anchors", [pki.root.der])
    arguments.setdefault("intermediates", [pki.intermediate.der])
    arguments.setdefault("crls", [pki.root_crl, pki.intermediate_crl])
    arguments.setdefault("now", NOW)
    return pkix.validate_certificate(pki.leaf.der if leaf is None else leaf, **arguments)


def leaf_of(pki: Pki, **changes: Any) -> Issued:
    settings_: dict[str, Any] = {
        "key": ec_key("P-256", 1),
        "serial": 0x1001,
        "issuer": pki.intermediate,
        "eku": (ExtendedKeyUsageOID.CLIENT_AUTH,),
        "dns": (LEAF_CN,),
    }
    settings_.update(changes)
    return issue(LEAF_CN, **settings_)


# =========================================================================== requests


def profile_for(key_type: str) -> Profile:
    usage = {
        "digital_signature",
        "key_encipherment" if key_type.startswith("RSA") else "key_agreement",
    }
    return Profile(
        subject="CN=atm-0042.bank.example,OU=ATM,O=Bank,L=London,ST=Greater London,C=GB",
        dns_names=("atm-0042.bank.example", "*.atm.bank.example"),
        ip_addresses=("10.20.30.40", "2001:db8::42"),
        emails=("atm-ops@bank.example",),
        key_usage=frozenset(usage),
        extended_key_usage=("server_auth", "client_auth", "1.3.6.1.4.1.99999.7"),
    )


@pytest.mark.parametrize("key_type", list(KEYS))
def test_request_verifies_with_openssl_and_cryptography(key_type: str, tmp_path: Path) -> None:
    key = KEYS[key_type]()
    profile = profile_for(key_type)
    der = pkix.build_csr(profile, public_key=spki(key), sign=signer(key))

    path = tmp_path / "request.csr"
    path.write_text(pkix.csr_pem(der))
    result = subprocess.run(
        ["openssl", "req", "-verify", "-noout", "-in", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "verify OK" in result.stdout + result.stderr

    request = x509.load_der_x509_csr(der)
    assert request.is_signature_valid
    expected_hash = "sha256WithRSAEncryption" if key_type.startswith("RSA") else "ecdsa-with-SHA256"
    assert request.signature_algorithm_oid._name == expected_hash
    assert request.public_key().public_bytes(
        DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == spki(key)
    assert request.subject.rfc4514_string() == profile.subject
    extensions = {e.oid: e for e in request.extensions}
    constraints = extensions[x509.oid.ExtensionOID.BASIC_CONSTRAINTS]
    assert constraints.critical and constraints.value == x509.BasicConstraints(False, None)
    usage = extensions[x509.oid.ExtensionOID.KEY_USAGE]
    assert usage.critical
    assert usage.value.digital_signature
    if key_type.startswith("RSA"):
        assert usage.value.key_encipherment and not usage.value.key_agreement
    else:
        assert usage.value.key_agreement and not usage.value.key_encipherment
    purposes = extensions[x509.oid.ExtensionOID.EXTENDED_KEY_USAGE]
    assert not purposes.critical
    assert list(purposes.value) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
        x509.ObjectIdentifier("1.3.6.1.4.1.99999.7"),
    ]
    alt = extensions[x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME]
    assert not alt.critical
    assert alt.value.get_values_for_type(x509.DNSName) == list(profile.dns_names)
    assert [str(a) for a in alt.value.get_values_for_type(x509.IPAddress)] == list(
        profile.ip_addresses
    )
    assert alt.value.get_values_for_type(x509.RFC822Name) == list(profile.emails)

    info = pkix.read_csr(der)
    assert info.subject == profile.subject
    assert info.public_key == spki(key)
    assert info.key_type == key_type
    assert info.signature_algorithm == expected_hash
    assert (info.dns_names, info.ip_addresses, info.emails) == (
        profile.dns_names,
        profile.ip_addresses,
        profile.emails,
    )
    assert info.key_usage == profile.key_usage
    assert info.extended_key_usage == profile.extended_key_usage
    assert (info.ca, info.path_length) == (False, None)
    assert info.extensions == ("basicConstraints", "keyUsage", "extKeyUsage", "subjectAltName")


def test_ca_request_asks_for_basic_constraints_with_path_length() -> None:
    key = ec_key("P-384")
    profile = Profile(
        subject="CN=Bank Issuing CA,O=Bank,C=GB",
        key_usage=frozenset({"key_cert_sign", "crl_sign"}),
        ca=True,
        path_length=0,
    )
    der = pkix.build_csr(profile, public_key=spki(key), sign=signer(key))
    request = x509.load_der_x509_csr(der)
    constraints = request.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value == x509.BasicConstraints(True, 0)
    usage = request.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert [e.oid for e in request.extensions] == [
        x509.oid.ExtensionOID.BASIC_CONSTRAINTS,
        x509.oid.ExtensionOID.KEY_USAGE,
    ]
    info = pkix.read_csr(der)
    assert (info.ca, info.path_length, info.extensions) == (
        True,
        0,
        ("basicConstraints", "keyUsage"),
    )


def test_minimal_request_carries_only_basic_constraints_in_its_extension_request() -> None:
    key = ec_key("P-256")
    der = pkix.build_csr(Profile(subject="CN=HSM 7"), public_key=spki(key), sign=signer(key))
    parsed = asn1_csr.CertificationRequest.load(der)
    info = parsed["certification_request_info"]
    assert int(info["version"]) == 0
    attributes = list(info["attributes"])
    assert [a["type"].dotted for a in attributes] == ["1.2.840.113549.1.9.14"]
    (extensions,) = attributes[0]["values"]
    assert [e["extn_id"].native for e in extensions] == ["basic_constraints"]
    assert extensions[0]["extn_value"].contents == b"\x30\x00"  # cA FALSE is the DEFAULT
    # RFC 5758 3.2: ecdsa-with-SHA256 without parameters
    assert parsed["signature_algorithm"].dump().hex() == "300a06082a8648ce3d040302"


def test_rsa_request_signature_algorithm_has_null_parameters() -> None:
    key = rsa_key(2048)
    der = pkix.build_csr(Profile(subject="CN=KDH 1"), public_key=spki(key), sign=signer(key))
    algorithm = asn1_csr.CertificationRequest.load(der)["signature_algorithm"].dump()
    assert algorithm.hex() == "300d06092a864886f70d01010b0500"  # RFC 4055 5


def string_tag(value: Any) -> int:
    """The universal tag of an attribute value (a DirectoryString is a CHOICE)."""
    return int(value.chosen.tag if isinstance(value, asn1_x509.DirectoryString) else value.tag)


def test_subject_types_and_string_encodings() -> None:
    key = ec_key("P-256")
    subject = (
        "CN=Zürich ATM\\, lobby,OU=Ops,O=Bank,L=Zürich,ST=ZH,C=CH,serialNumber=A-1234,"
        "emailAddress=ops@bank.example,DC=bank,DC=example"
    )
    der = pkix.build_csr(Profile(subject=subject), public_key=spki(key), sign=signer(key))
    name = asn1_csr.CertificationRequest.load(der)["certification_request_info"]["subject"]
    # RFC 4514 lists the RDNs from the last one; DER from the first.
    encoded = [(rdn[0]["type"].native, string_tag(rdn[0]["value"])) for rdn in name.chosen]
    assert encoded == [
        ("domain_component", 22),  # IA5String
        ("domain_component", 22),
        ("email_address", 22),
        ("serial_number", 19),  # PrintableString
        ("country_name", 19),
        ("state_or_province_name", 12),  # UTF8String
        ("locality_name", 12),
        ("organization_name", 12),
        ("organizational_unit_name", 12),
        ("common_name", 12),
    ]
    request = x509.load_der_x509_csr(der)
    assert request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Zürich ATM, lobby"
    )
    assert pkix.read_csr(der).subject == subject


@pytest.mark.parametrize(
    ("subject", "common_name"),
    [
        ("CN=a\\+b", "a+b"),
        ("CN=\\ leading and trailing\\ ", " leading and trailing "),
        ("CN=\\#hash", "#hash"),
        ("CN=equals=fine", "equals=fine"),
        ("CN=Z\\C3\\BCrich", "Zürich"),
        ('CN=quote\\"d\\;semi\\<\\>', 'quote"d;semi<>'),
        ("cn=lower-case keyword", "lower-case keyword"),
        ("CN=back\\\\slash", "back\\slash"),
    ],
)
def test_subject_escapes(subject: str, common_name: str) -> None:
    key = ec_key("P-256")
    der = pkix.build_csr(Profile(subject=subject), public_key=spki(key), sign=signer(key))
    value = x509.load_der_x509_csr(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert value[0].value == common_name


@settings(max_examples=60, deadline=None)
@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn")),
        min_size=1,
        max_size=16,  # cryptography bounds CN at 64 UTF-8 bytes
    )
)
def test_subject_text_from_cryptography_reads_back_to_the_same_value(value: str) -> None:
    """RFC 4514 escaping as cryptography writes it, read by this module's parser."""
    text = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, value)]).rfc4514_string()
    key = ec_key("P-256")
    der = pkix.build_csr(Profile(subject=text), public_key=spki(key), sign=signer(key))
    read = x509.load_der_x509_csr(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert read[0].value == value
    assert pkix.read_csr(der).subject == text


PROFILE_REFUSALS: list[tuple[dict[str, Any], str]] = [
    ({"subject": ""}, "subject is empty"),
    (
        {"subject": b"CN=x"},
        "subject must be a str in RFC 4514 form, like 'CN=atm-0042,O=Bank,C=GB'",
    ),
    ({"subject": "CN=a,,O=b"}, "subject has an empty RDN (a comma at an end, or two together)"),
    ({"subject": "CN=a,"}, "subject has an empty RDN (a comma at an end, or two together)"),
    (
        {"subject": "CN=a, O=Bank"},
        "subject: ' O=Bank' is not TYPE=value with TYPE one of "
        "C, ST, L, O, OU, CN, serialNumber, emailAddress, DC",
    ),
    (
        {"subject": "STREET=Main St"},
        "subject: 'STREET=Main St' is not TYPE=value with TYPE one of "
        "C, ST, L, O, OU, CN, serialNumber, emailAddress, DC",
    ),
    (
        {"subject": "2.5.4.3=x"},
        "subject: '2.5.4.3=x' is not TYPE=value with TYPE one of "
        "C, ST, L, O, OU, CN, serialNumber, emailAddress, DC",
    ),
    (
        {"subject": "CN"},
        "subject: 'CN' is not TYPE=value with TYPE one of "
        "C, ST, L, O, OU, CN, serialNumber, emailAddress, DC",
    ),
    ({"subject": "CN="}, "subject: CN is empty"),
    (
        {"subject": "CN= padded"},
        "subject: CN has an unescaped space at its start or end "
        "(RFC 4514 has no spaces around ',' and '=')",
    ),
    (
        {"subject": "CN=padded ,O=Bank"},
        "subject: CN has an unescaped space at its start or end "
        "(RFC 4514 has no spaces around ',' and '=')",
    ),
    (
        {"subject": "CN=a+OU=b"},
        "subject: multi-valued RDNs ('+') are not accepted; write '\\+' for a literal '+'",
    ),
    ({"subject": "CN=a;b"}, "subject: CN has an unescaped ';'"),
    ({"subject": 'CN=a"b'}, "subject: CN has an unescaped '\"'"),
    ({"subject": "CN=a\\x"}, "subject: CN has a bad escape '\\\\x'"),
    ({"subject": "CN=a\\"}, "subject: CN has a bad escape '\\\\'"),
    ({"subject": "CN=\\C3"}, "subject: CN has escaped bytes that are not UTF-8"),
    (
        {"subject": "CN=#04024869"},
        "subject: CN starts with '#'; hex-encoded values are not accepted "
        "(write '\\#' for a literal '#')",
    ),
    ({"subject": "CN=tab\there"}, "subject: CN contains a control character"),
    (
        {"subject": "CN=" + "x" * 65},
        "subject: CN is 65 characters; at most 64 (RFC 5280 Appendix A)",
    ),
    (
        {"subject": "L=" + "x" * 129},
        "subject: L is 129 characters; at most 128 (RFC 5280 Appendix A)",
    ),
    (
        {"subject": "C=GBR"},
        "subject: C must be two capital letters (ISO 3166-1 alpha-2), not 'GBR'",
    ),
    ({"subject": "C=gb"}, "subject: C must be two capital letters (ISO 3166-1 alpha-2), not 'gb'"),
    (
        {"subject": "serialNumber=N°1"},
        "subject: serialNumber must be PrintableString characters "
        "(letters, digits, space and '()+,-./:=?)",
    ),
    (
        {"subject": "emailAddress=nobody"},
        "subject: emailAddress: 'nobody' is not a mailbox like name@bank.example",
    ),
    (
        {"subject": "DC=bank.example"},
        "subject: DC: 'bank.example' is not a DNS label (letters, digits and inner hyphens, "
        "at most 63)",
    ),
    ({"subject": "CN=x", "dns_names": ["a.example"]}, "dns_names must be a tuple of str"),
    ({"subject": "CN=x", "dns_names": ("",)}, "dns_names: each name must be a non-empty str"),
    (
        {"subject": "CN=x", "dns_names": ("zürich.example",)},
        "dns_names: 'zürich.example' is not ASCII; give its A-label form (xn--...)",
    ),
    ({"subject": "CN=x", "dns_names": ("a.example.",)}, "dns_names: 'a.example.' ends with a dot"),
    (
        {"subject": "CN=x", "dns_names": ("a..example",)},
        "dns_names: 'a..example' has a label that is not letters, digits and inner hyphens of "
        "at most 63 characters: ''",
    ),
    (
        {"subject": "CN=x", "dns_names": ("-a.example",)},
        "dns_names: '-a.example' has a label that is not letters, digits and inner hyphens of "
        "at most 63 characters: '-a'",
    ),
    (
        {"subject": "CN=x", "dns_names": ("under_score.example",)},
        "dns_names: 'under_score.example' has a label that is not letters, digits and inner "
        "hyphens of at most 63 characters: 'under_score'",
    ),
    (
        {"subject": "CN=x", "dns_names": ("a" * 64 + ".example",)},
        f"dns_names: '{'a' * 64}.example' has a label that is not letters, digits and inner "
        f"hyphens of at most 63 characters: '{'a' * 64}'",
    ),
    (
        {"subject": "CN=x", "dns_names": (".".join(["a" * 63] * 4),)},
        f"dns_names: '{'.'.join(['a' * 63] * 4)}' is longer than 253 characters",
    ),
    (
        {"subject": "CN=x", "dns_names": ("*.example",)},
        "dns_names: '*.example' has a wildcard over fewer than two labels",
    ),
    (
        {"subject": "CN=x", "dns_names": ("a.*.example",)},
        "dns_names: 'a.*.example' has a wildcard that is not its whole first label",
    ),
    (
        {"subject": "CN=x", "dns_names": ("atm*.bank.example",)},
        "dns_names: 'atm*.bank.example' has a wildcard that is not its whole first label",
    ),
    (
        {"subject": "CN=x", "dns_names": ("a.example", "A.EXAMPLE")},
        "dns_names: 'A.EXAMPLE' appears twice",
    ),
    (
        {"subject": "CN=x", "ip_addresses": ("10.0.0.256",)},
        "ip_addresses: '10.0.0.256' is not an IPv4 or IPv6 address",
    ),
    (
        {"subject": "CN=x", "ip_addresses": ("010.0.0.1",)},
        "ip_addresses: '010.0.0.1' is not an IPv4 or IPv6 address",
    ),
    (
        {"subject": "CN=x", "ip_addresses": ("fe80::1%eth0",)},
        "ip_addresses: 'fe80::1%eth0' has a zone index, which a certificate cannot carry",
    ),
    (
        {"subject": "CN=x", "ip_addresses": ("2001:db8::1", "2001:DB8:0::1")},
        "ip_addresses: '2001:DB8:0::1' appears twice",
    ),
    ({"subject": "CN=x", "ip_addresses": (10,)}, "ip_addresses: each address must be a str"),
    (
        {"subject": "CN=x", "emails": ("a@b@bank.example",)},
        "emails: 'a@b@bank.example' is not a mailbox like name@bank.example",
    ),
    (
        {"subject": "CN=x", "emails": ("first..last@bank.example",)},
        "emails: 'first..last@bank.example' is not a mailbox like name@bank.example",
    ),
    (
        {"subject": "CN=x", "emails": ("ops@bank_example",)},
        "emails: 'ops@bank_example': its domain has a label that is not letters, digits and "
        "inner hyphens of at most 63 characters: 'bank_example'",
    ),
    ({"subject": "CN=x", "emails": ("ops@",)}, "emails: 'ops@': its domain is empty"),
    (
        {"subject": "CN=x", "emails": ("ops@bank.example", "ops@bank.example")},
        "emails: 'ops@bank.example' appears twice",
    ),
    (
        {"subject": "CN=x", "key_usage": {"digital_signature"}},
        "key_usage must be a frozenset of usage names",
    ),
    (
        {"subject": "CN=x", "key_usage": frozenset({"digitalSignature"})},
        "key_usage: 'digitalSignature' is not one of digital_signature, non_repudiation, "
        "key_encipherment, data_encipherment, key_agreement, key_cert_sign, crl_sign, "
        "encipher_only, decipher_only",
    ),
    (
        {"subject": "CN=x", "key_usage": frozenset({"encipher_only"})},
        "key_usage: encipher_only and decipher_only need key_agreement",
    ),
    (
        {"subject": "CN=x", "key_usage": frozenset({"key_cert_sign"})},
        "key_usage: key_cert_sign is for a CA; set ca=True",
    ),
    ({"subject": "CN=x", "ca": True}, "key_usage: a CA (ca=True) needs key_cert_sign"),
    ({"subject": "CN=x", "ca": 1}, "ca must be True or False"),
    (
        {"subject": "CN=x", "path_length": 1},
        "path_length is for a CA; set ca=True",
    ),
    (
        {
            "subject": "CN=x",
            "ca": True,
            "key_usage": frozenset({"key_cert_sign"}),
            "path_length": -1,
        },
        "path_length must be None or an integer of 0 or more",
    ),
    (
        {"subject": "CN=x", "extended_key_usage": ["server_auth"]},
        "extended_key_usage must be a tuple of key purposes",
    ),
    (
        {"subject": "CN=x", "extended_key_usage": ("serverAuth",)},
        "extended_key_usage: 'serverAuth' is neither one of server_auth, client_auth, "
        "code_signing, email_protection, time_stamping, ocsp_signing nor a dotted OID",
    ),
    (
        {"subject": "CN=x", "extended_key_usage": ("1.40.3",)},
        "extended_key_usage: '1.40.3' is neither one of server_auth, client_auth, "
        "code_signing, email_protection, time_stamping, ocsp_signing nor a dotted OID",
    ),
    (
        {"subject": "CN=x", "extended_key_usage": ("1.3.6.01",)},
        "extended_key_usage: '1.3.6.01' is neither one of server_auth, client_auth, "
        "code_signing, email_protection, time_stamping, ocsp_signing nor a dotted OID",
    ),
    (
        {"subject": "CN=x", "extended_key_usage": ("server_auth", "1.3.6.1.5.5.7.3.1")},
        "extended_key_usage: '1.3.6.1.5.5.7.3.1' appears twice",
    ),
]


@pytest.mark.parametrize(("arguments", "message"), PROFILE_REFUSALS)
def test_profile_refusals(arguments: dict[str, Any], message: str) -> None:
    with refused(message):
        Profile(**arguments)


def test_internationalized_names_stay_in_their_a_label_form() -> None:
    key = ec_key("P-256")
    profile = Profile(
        subject="CN=x", dns_names=("xn--zrich-kva.example",), emails=("ops@xn--zrich-kva.example",)
    )
    der = pkix.build_csr(profile, public_key=spki(key), sign=signer(key))
    info = pkix.read_csr(der)
    assert (info.dns_names, info.emails) == (profile.dns_names, profile.emails)


def test_profile_accepts_what_the_refusals_do_not() -> None:
    profile = Profile(
        subject="CN=x",
        dns_names=("localhost", "*.a.example", "xn--zrich-kva.example"),
        ip_addresses=("::1",),
        emails=("first.last+tag@bank.example",),
        extended_key_usage=("2.999.1", "0.39.1"),
        key_usage=frozenset({"key_agreement", "encipher_only"}),
    )
    assert profile.dns_names[2] == "xn--zrich-kva.example"


def test_build_csr_refusals() -> None:
    key = ec_key("P-256")
    profile = Profile(subject="CN=x")
    with refused("profile must be a Profile"):
        pkix.build_csr("CN=x", public_key=spki(key), sign=signer(key))  # type: ignore[arg-type]
    with refused("public_key is not a DER SubjectPublicKeyInfo"):
        pkix.build_csr(profile, public_key=b"\x30\x03\x02\x01\x01", sign=signer(key))
    pkcs1 = rsa_key(2048).public_key().public_bytes(DER, serialization.PublicFormat.PKCS1)
    with refused("public_key is not a DER SubjectPublicKeyInfo"):
        pkix.build_csr(profile, public_key=pkcs1, sign=signer(key))
    with refused("public_key must be a DER SubjectPublicKeyInfo (bytes)"):
        pkix.build_csr(profile, public_key="MFkw", sign=signer(key))  # type: ignore[arg-type]
    with refused("public_key is a 1024-bit RSA key; at least 2048 bits are required"):
        pkix.build_csr(profile, public_key=spki(rsa_key(1024)), sign=signer(key))
    with refused("public_key is an EC key on secp256k1; P-256, P-384 or P-521 is required"):
        pkix.build_csr(profile, public_key=spki(ec_key("secp256k1")), sign=signer(key))
    edwards = ed25519.Ed25519PrivateKey.generate()
    with refused("public_key is an Ed25519 key; RSA or EC keys are required"):
        pkix.build_csr(profile, public_key=spki(edwards), sign=signer(key))
    rsa_profile = Profile(subject="CN=x", key_usage=frozenset({"key_agreement", "decipher_only"}))
    with refused(
        "key_usage: decipher_only, key_agreement does not fit an RSA key (RFC 3279 2.3.1)"
    ):
        pkix.build_csr(rsa_profile, public_key=spki(rsa_key(2048)), sign=signer(rsa_key(2048)))
    ec_profile = Profile(subject="CN=x", key_usage=frozenset({"key_encipherment"}))
    with refused("key_usage: key_encipherment does not fit an EC key (RFC 5480 3)"):
        pkix.build_csr(ec_profile, public_key=spki(key), sign=signer(key))
    with refused("sign must be a callable that signs bytes"):
        pkix.build_csr(profile, public_key=spki(key), sign=b"")  # type: ignore[arg-type]
    with refused("sign must return the signature as bytes"):
        pkix.build_csr(profile, public_key=spki(key), sign=lambda data: None)  # type: ignore[arg-type,return-value]
    with refused("sign's signature does not verify with public_key (ecdsa-with-SHA256)"):
        pkix.build_csr(profile, public_key=spki(key), sign=signer(ec_key("P-256", 2)))
    with refused("sign's signature does not verify with public_key (sha256WithRSAEncryption)"):
        pkix.build_csr(profile, public_key=spki(rsa_key(2048)), sign=signer(rsa_key(2048, 1)))


def test_build_csr_explains_a_raw_ecdsa_signature() -> None:
    """PKCS#11 CKM_ECDSA returns r || s; the Signer must return the DER form."""
    key = ec_key("P-256")

    def raw_sign(data: bytes) -> bytes:
        r, s = decode_dss(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    with refused(
        "sign returned an ECDSA signature that is not DER (r || s as PKCS#11 gives it must be "
        "DER-encoded: RFC 5480 Appendix A, ECDSA-Sig-Value)"
    ):
        pkix.build_csr(Profile(subject="CN=x"), public_key=spki(key), sign=raw_sign)


def decode_dss(signature: bytes) -> tuple[int, int]:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    return decode_dss_signature(signature)


def test_build_csr_accepts_a_bytearray_key_and_signature() -> None:
    key = ec_key("P-256")
    der = pkix.build_csr(
        Profile(subject="CN=x"),
        public_key=bytearray(spki(key)),
        sign=lambda data: bytearray(signer(key)(data)),
    )
    assert x509.load_der_x509_csr(der).is_signature_valid


@pytest.fixture(scope="module")
def request_der() -> bytes:
    key = ec_key("P-256")
    return pkix.build_csr(profile_for("EC P-256"), public_key=spki(key), sign=signer(key))


def test_tampered_request_is_refused(request_der: bytes) -> None:
    at = request_der.index(b"atm-0042")
    altered = request_der[:at] + b"atm-0043" + request_der[at + 8 :]
    assert not x509.load_der_x509_csr(altered).is_signature_valid
    with refused("certificate request signature does not verify with its public key"):
        pkix.read_csr(altered)
    flipped = bytearray(request_der)
    flipped[-1] ^= 0x01
    with refused("certificate request signature does not verify with its public key"):
        pkix.read_csr(bytes(flipped))


def test_read_csr_reads_pem_and_refuses_what_is_not_one_request(request_der: bytes) -> None:
    text = pkix.csr_pem(request_der)
    assert pkix.read_csr(text.encode()).dns_names == profile_for("EC P-256").dns_names
    legacy = text.replace("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")
    assert pkix.read_csr(("some text\r\n" + legacy).replace("\n", "\r\n").encode()).subject
    with refused(
        "data must hold one PEM CERTIFICATE REQUEST block (found: CERTIFICATE REQUEST, "
        "CERTIFICATE REQUEST) or be DER"
    ):
        pkix.read_csr((text + text).encode())
    with refused("data must hold one PEM CERTIFICATE REQUEST block (found: CERTIFICATE) or be DER"):
        pkix.read_csr(text.replace("CERTIFICATE REQUEST", "CERTIFICATE").encode())
    with refused("data must hold one PEM CERTIFICATE REQUEST block (found: none) or be DER"):
        pkix.read_csr(b"no PEM here")
    with refused("certificate request is not a DER certificate request (PKCS#10)"):
        pkix.read_csr(request_der + b"\x00")
    with refused("certificate request is not a DER certificate request (PKCS#10)"):
        pkix.read_csr(b"\x30\x03\x02\x01\x00")
    with refused("data is empty"):
        pkix.read_csr(b"")
    with refused("data must be bytes"):
        pkix.read_csr(text)  # type: ignore[arg-type]


def resign_request(
    der: bytes, key: Any, edit: Callable[[Any], None], algorithm: str | None = None
) -> bytes:
    request = asn1_csr.CertificationRequest.load(der)
    info = request["certification_request_info"]
    edit(info)
    info_der = info.dump(force=True)
    return bytes(
        asn1_csr.CertificationRequest(
            {
                "certification_request_info": asn1_csr.CertificationRequestInfo.load(info_der),
                "signature_algorithm": algorithm_of(key, algorithm),
                "signature": sign_asn1(key, info_der, algorithm or ""),
            }
        ).dump()
    )


def test_read_csr_refuses_version_algorithm_key_and_repeated_attributes(request_der: bytes) -> None:
    key = ec_key("P-256")

    def version_2(info: Any) -> None:
        info["version"] = 1

    with refused("certificate request version is 1, not 0 (v1, RFC 2986 4.1)"):
        pkix.read_csr(resign_request(request_der, key, version_2))
    with refused(
        "certificate request is signed with ecdsa-with-SHA1, which is not accepted "
        "(RSA PKCS#1 v1.5 or ECDSA, with SHA-256, SHA-384 or SHA-512)"
    ):
        pkix.read_csr(resign_request(request_der, key, lambda info: None, "sha1_ecdsa"))

    def twice(info: Any) -> None:
        attribute = info["attributes"][0]
        info["attributes"] = [attribute, attribute]

    with refused("certificate request has more than one extensionRequest attribute"):
        pkix.read_csr(resign_request(request_der, key, twice))

    small = rsa_key(1024)
    weak = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(dn("weak"))
        .sign(small, hashes.SHA256())
        .public_bytes(DER)
    )
    with refused("certificate request has a 1024-bit RSA key; at least 2048 bits are required"):
        pkix.read_csr(weak)


def test_read_csr_names_every_requested_extension() -> None:
    key = ec_key("P-256")
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(dn("other tool"))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier("https://bank.example"), x509.DNSName("a.example")]
            ),
            critical=False,
        )
        .add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), b"\x05\x00"), False
        )
        .sign(key, hashes.SHA384())
    )
    info = pkix.read_csr(request.public_bytes(DER))
    assert info.extensions == ("subjectKeyIdentifier", "subjectAltName", "1.2.3.4")
    assert info.dns_names == ("a.example",)
    assert info.signature_algorithm == "ecdsa-with-SHA384"
    assert info.key_usage == frozenset() and info.extended_key_usage == ()
    assert info.subject == "CN=other tool,O=Bank,C=GB"


def test_csr_pem_is_rfc_7468_text(request_der: bytes) -> None:
    text = pkix.csr_pem(request_der)
    lines = text.splitlines()
    assert lines[0] == "-----BEGIN CERTIFICATE REQUEST-----"
    assert lines[-1] == "-----END CERTIFICATE REQUEST-----"
    assert all(len(line) == 64 for line in lines[1:-2]) and 0 < len(lines[-2]) <= 64
    assert text.endswith("\n")
    assert base64.b64decode("".join(lines[1:-1])) == request_der
    pem = x509.load_pem_x509_csr(text.encode())
    assert pem.public_bytes(DER) == request_der
    with refused("der is not a DER certificate request (PKCS#10)"):
        pkix.csr_pem(b"\x30\x00")
    with refused("der must be bytes"):
        pkix.csr_pem(text)  # type: ignore[arg-type]


# =========================================================================== validation


def test_good_chain(pki: Pki) -> None:
    checked = validate(
        pki,
        key_usage=frozenset({"digital_signature"}),
        extended_key_usage=("client_auth",),
        public_key=spki(pki.leaf.key),
        require_crl=True,
    )
    assert checked.subject == rfc4514(LEAF_CN)
    assert checked.issuer == rfc4514(CA_CN)
    assert checked.serial == 0x1001
    assert (checked.not_before, checked.not_after) == (START, END)
    assert checked.public_key == spki(pki.leaf.key)
    assert checked.chain == (pki.leaf.der, pki.intermediate.der, pki.root.der)
    assert checked.key_usage == frozenset({"digital_signature"})
    assert checked.extended_key_usage == ("client_auth",)
    assert checked.dns_names == (LEAF_CN,)
    # validity includes both ends (RFC 5280 4.1.2.5)
    assert validate(pki, now=START, crls=[]).serial == 0x1001
    assert validate(pki, now=END, crls=[]).serial == 0x1001


def test_path_is_found_among_unrelated_and_unordered_intermediates(pki: Pki) -> None:
    other_root = issue("Other Root", key=ec_key("P-256", 5), serial=7, ca=True)
    other_ca = issue("Other CA", key=ec_key("P-256", 6), serial=8, issuer=other_root, ca=True)
    checked = validate(
        pki,
        anchors=[other_root.der, pki.root.der],
        intermediates=[other_ca.der, pki.leaf.der, pki.intermediate.der],
    )
    assert checked.chain == (pki.leaf.der, pki.intermediate.der, pki.root.der)


def test_a_renewed_issuer_with_the_same_key_is_chosen_over_its_expired_predecessor(
    pki: Pki,
) -> None:
    expired = issue(
        CA_CN,
        key=ec_key("P-384", 1),
        serial=0x0F,
        issuer=pki.root,
        ca=True,
        not_before=datetime(2024, 1, 1, tzinfo=UTC),
        not_after=datetime(2025, 1, 1, tzinfo=UTC),
    )
    checked = validate(pki, intermediates=[expired.der, pki.intermediate.der])
    assert checked.chain[1] == pki.intermediate.der


def test_an_anchor_is_trusted_as_given(pki: Pki) -> None:
    # The issuing CA as the anchor: its own issuer (the root) is not needed.
    checked = validate(pki, anchors=[pki.intermediate.der], intermediates=[], crls=[])
    assert checked.chain == (pki.leaf.der, pki.intermediate.der)
    # A certificate that is itself an anchor is a path of one.
    root = validate(pki, pki.root.der, key_usage=frozenset({"key_cert_sign"}))
    assert root.chain == (pki.root.der,)


def test_a_version_1_anchor_is_a_ca_and_a_version_1_intermediate_is_not(pki: Pki) -> None:
    def version_1(tbs: Any) -> None:
        tbs["version"] = "v1"
        tbs["extensions"] = []

    root_v1 = resign_certificate(pki.root.der, pki.root.key, version_1)
    assert x509.load_der_x509_certificate(root_v1).version == x509.Version.v1
    assert validate(pki, anchors=[root_v1], crls=[pki.intermediate_crl]).chain[-1] == root_v1
    ca_v1 = resign_certificate(pki.intermediate.der, pki.root.key, version_1)
    with refused(f"{CA} is not a CA (basicConstraints cA is not set), yet it issued {LEAF}"):
        validate(pki, intermediates=[ca_v1], crls=[])


# --- dates


def test_expired(pki: Pki) -> None:
    leaf = leaf_of(pki, not_after=datetime(2026, 5, 31, 12, tzinfo=UTC))
    with refused(f"{LEAF} has expired (not after 2026-05-31T12:00:00Z)"):
        validate(pki, leaf.der)


def test_not_yet_valid(pki: Pki) -> None:
    leaf = leaf_of(pki, not_before=datetime(2026, 6, 2, 12, tzinfo=UTC))
    with refused(f"{LEAF} is not yet valid (not before 2026-06-02T12:00:00Z)"):
        validate(pki, leaf.der)


def test_expired_issuer_and_anchor(pki: Pki) -> None:
    intermediate = issue(
        CA_CN,
        key=ec_key("P-384", 1),
        serial=0x10,
        issuer=pki.root,
        ca=True,
        not_after=datetime(2026, 5, 1, tzinfo=UTC),
    )
    with refused(f"{CA} has expired (not after 2026-05-01T00:00:00Z)"):
        validate(pki, intermediates=[intermediate.der])
    with refused(f"{CA} has expired (not after 2026-05-01T00:00:00Z)"):
        validate(pki, anchors=[intermediate.der], intermediates=[])


# --- issuance and signature


def test_wrongly_issued_no_issuer_found(pki: Pki) -> None:
    with refused(
        f"{LEAF} is wrongly issued: its issuer {rfc4514(CA_CN)} is none of the intermediates "
        "or anchors"
    ):
        validate(pki, intermediates=[])


def test_wrongly_issued_self_issued_and_not_an_anchor(pki: Pki) -> None:
    other = issue("Other Root", key=ec_key("P-256", 5), serial=7, ca=True)
    with refused(f"{ROOT} is wrongly issued: it is self-issued and not an anchor"):
        validate(pki, pki.root.der, anchors=[other.der])


def test_wrongly_issued_by_another_key_under_the_issuers_name(pki: Pki) -> None:
    impostor = issue(CA_CN, key=ec_key("P-384", 9), serial=0x99, issuer=pki.root, ca=True)
    leaf = leaf_of(pki, issuer=impostor)
    with refused(
        f"{LEAF} is wrongly issued: {CA} has its issuer's name but not the key that signed it"
    ):
        validate(pki, leaf.der)
    sibling = issue(CA_CN, key=ec_key("P-384", 8), serial=0x11, issuer=pki.root, ca=True)
    with refused(
        f"{LEAF} is wrongly issued: {CA} and {label(CA_CN, 0x11)} have its issuer's name but "
        "not the key that signed it"
    ):
        validate(pki, leaf.der, intermediates=[pki.intermediate.der, sibling.der])


def test_bad_signature(pki: Pki) -> None:
    flipped = bytearray(pki.leaf.der)
    flipped[-1] ^= 0x01  # the last byte of the ECDSA signature's s
    message = f"{LEAF} has a bad signature: it does not verify with the key of its issuer {CA}"
    with refused(message):
        validate(pki, bytes(flipped))
    at = pki.leaf.der.rindex(b"atm-0042")  # content altered after signing
    altered = pki.leaf.der[:at] + b"atm-0043" + pki.leaf.der[at + 8 :]
    with refused(message):
        validate(pki, altered)


def test_bad_signature_or_wrong_issuer_without_authority_key_identifier(pki: Pki) -> None:
    impostor = issue(CA_CN, key=ec_key("P-384", 9), serial=0x99, issuer=pki.root, ca=True)
    leaf = leaf_of(pki, issuer=impostor, aki=False)
    with refused(
        f"{LEAF} has a bad signature or is wrongly issued: it does not verify with the key of "
        f"{CA}, and it has no authority key identifier to tell which"
    ):
        validate(pki, leaf.der)


def test_signature_algorithm_not_accepted(pki: Pki) -> None:
    sha1 = resign_certificate(pki.leaf.der, pki.intermediate.key, lambda tbs: None, "sha1_ecdsa")
    with refused(
        f"{LEAF} is signed with ecdsa-with-SHA1, which is not accepted "
        "(RSA PKCS#1 v1.5 or ECDSA, with SHA-256, SHA-384 or SHA-512)"
    ):
        validate(pki, sha1)
    edwards_ca = issue("Edwards CA", key=ed25519.Ed25519PrivateKey.generate(), serial=3, ca=True)
    leaf = issue("Edwards leaf", key=ec_key("P-256", 1), serial=4, issuer=edwards_ca)
    with refused(
        f"{label('Edwards leaf', 4)} is signed with Ed25519, which is not accepted "
        "(RSA PKCS#1 v1.5 or ECDSA, with SHA-256, SHA-384 or SHA-512)"
    ):
        validate(pki, leaf.der, anchors=[edwards_ca.der])


def test_signature_algorithm_fields_must_agree(pki: Pki) -> None:
    certificate = asn1_x509.Certificate.load(pki.leaf.der)
    certificate["signature_algorithm"] = {"algorithm": "sha384_ecdsa"}
    with refused(
        f"{LEAF} is malformed: its two signature algorithm fields differ (RFC 5280 4.1.1.2)"
    ):
        validate(pki, certificate.dump(force=True))


# --- revocation


def test_revoked(pki: Pki) -> None:
    listing = crl(
        pki.intermediate,
        revoked=(
            (0x1000, datetime(2026, 5, 2, tzinfo=UTC), None),
            (0x1001, datetime(2026, 5, 15, tzinfo=UTC), x509.ReasonFlags.key_compromise),
        ),
    )
    with refused(
        f"{LEAF} is revoked: the CRL of {rfc4514(CA_CN)} lists it "
        "(revoked 2026-05-15T00:00:00Z, keyCompromise)"
    ):
        validate(pki, crls=[pki.root_crl, listing])


def test_revoked_issuer(pki: Pki) -> None:
    listing = crl(pki.root, revoked=((0x10, datetime(2026, 5, 20, tzinfo=UTC), None),))
    with refused(
        f"{CA} is revoked: the CRL of {rfc4514(ROOT_CN)} lists it (revoked 2026-05-20T00:00:00Z)"
    ):
        validate(pki, crls=[listing, pki.intermediate_crl])


def test_crl_with_a_bad_signature(pki: Pki) -> None:
    forged = crl(
        pki.intermediate,
        revoked=((0x1001, NOW, None),),
        signed_by=ec_key("P-384", 9),
    )
    with refused(f"{LEAF}: the CRL of {rfc4514(CA_CN)} has a bad signature"):
        validate(pki, crls=[pki.root_crl, forged])


def test_crl_that_is_not_current(pki: Pki) -> None:
    stale = crl(pki.intermediate, next_update=datetime(2026, 5, 31, tzinfo=UTC))
    with refused(
        f"{LEAF}: the CRL of {rfc4514(CA_CN)} is out of date (next update 2026-05-31T00:00:00Z)"
    ):
        validate(pki, crls=[pki.root_crl, stale])
    early = crl(pki.intermediate, this_update=datetime(2026, 6, 2, tzinfo=UTC))
    with refused(
        f"{LEAF}: the CRL of {rfc4514(CA_CN)} is not yet valid (this update 2026-06-02T00:00:00Z)"
    ):
        validate(pki, crls=[pki.root_crl, early])

    def no_next_update(tbs: Any) -> None:
        tbs["next_update"] = None

    endless = resign_crl(pki.intermediate_crl, pki.intermediate.key, no_next_update)
    assert x509.load_der_x509_crl(endless).next_update_utc is None
    with refused(
        f"{LEAF}: the CRL of {rfc4514(CA_CN)} has no next update, so it cannot be shown current"
    ):
        validate(pki, crls=[pki.root_crl, endless])


def test_crl_with_a_critical_extension_not_processed(pki: Pki) -> None:
    partitioned = crl(
        pki.intermediate,
        extra=(
            (
                x509.IssuingDistributionPoint(
                    full_name=[x509.UniformResourceIdentifier("http://crl.bank.example/1.crl")],
                    relative_name=None,
                    only_contains_user_certs=True,
                    only_contains_ca_certs=False,
                    only_some_reasons=None,
                    indirect_crl=False,
                    only_contains_attribute_certs=False,
                ),
                True,
            ),
        ),
    )
    with refused(
        f"{LEAF}: the CRL of {rfc4514(CA_CN)} has a critical extension "
        "issuingDistributionPoint (2.5.29.28) that is not processed here"
    ):
        validate(pki, crls=[pki.root_crl, partitioned])


def test_crl_of_an_issuer_that_may_not_sign_crls(pki: Pki) -> None:
    intermediate = issue(
        CA_CN,
        key=ec_key("P-384", 1),
        serial=0x10,
        issuer=pki.root,
        ca=True,
        usage=("key_cert_sign",),
    )
    with refused(
        f"{LEAF}: the CRL of {rfc4514(CA_CN)} is signed by {CA}, whose keyUsage lacks crl_sign"
    ):
        validate(pki, intermediates=[intermediate.der])


def test_require_crl(pki: Pki) -> None:
    with refused(f"{LEAF} cannot be checked for revocation: no CRL of {rfc4514(CA_CN)} was given"):
        validate(pki, crls=[], require_crl=True)
    with refused(f"{CA} cannot be checked for revocation: no CRL of {rfc4514(ROOT_CN)} was given"):
        validate(pki, crls=[pki.intermediate_crl], require_crl=True)
    # without require_crl, no CRL means no revocation check
    assert validate(pki, crls=[]).serial == 0x1001


def test_crls_of_other_issuers_are_ignored(pki: Pki) -> None:
    other_root = issue("Other Root", key=ec_key("P-256", 5), serial=7, ca=True)
    other = crl(
        other_root, revoked=((0x1001, NOW, None),), next_update=datetime(2026, 5, 2, tzinfo=UTC)
    )
    assert validate(pki, crls=[other]).serial == 0x1001


# --- CA constraints


def test_issuer_that_is_not_a_ca(pki: Pki) -> None:
    for ca in (False, None):
        intermediate = issue(
            CA_CN, key=ec_key("P-384", 1), serial=0x10, issuer=pki.root, ca=ca, usage=()
        )
        with refused(f"{CA} is not a CA (basicConstraints cA is not set), yet it issued {LEAF}"):
            validate(pki, intermediates=[intermediate.der])


def test_issuer_without_key_cert_sign(pki: Pki) -> None:
    intermediate = issue(
        CA_CN,
        key=ec_key("P-384", 1),
        serial=0x10,
        issuer=pki.root,
        ca=True,
        usage=("crl_sign", "digital_signature"),
    )
    with refused(
        f"{CA} may not sign certificates (keyUsage lacks key_cert_sign), yet it issued {LEAF}"
    ):
        validate(pki, intermediates=[intermediate.der])


def test_path_length_exceeded(pki: Pki) -> None:
    root = issue(ROOT_CN, key=rsa_key(2048, 1), serial=1, ca=True, path_length=0)
    with refused(
        f"{ROOT} exceeds its path length: its pathLenConstraint is 0 but 1 CA certificate "
        "follows it"
    ):
        validate(pki, anchors=[root.der], crls=[])
    sub = issue("Sub CA", key=ec_key("P-256", 3), serial=0x20, issuer=pki.intermediate, ca=True)
    leaf = issue(LEAF_CN, key=ec_key("P-256", 1), serial=0x1001, issuer=sub)
    with refused(
        f"{CA} exceeds its path length: its pathLenConstraint is 0 but 1 CA certificate follows it"
    ):
        validate(pki, leaf.der, intermediates=[sub.der, pki.intermediate.der], crls=[])
    two = issue(ROOT_CN, key=rsa_key(2048, 1), serial=1, ca=True, path_length=1)
    open_ca = issue(CA_CN, key=ec_key("P-384", 1), serial=0x10, issuer=two, ca=True)
    with refused(
        f"{ROOT} exceeds its path length: its pathLenConstraint is 1 but 2 CA certificates "
        "follow it"
    ):
        validate(pki, leaf.der, anchors=[two.der], intermediates=[sub.der, open_ca.der], crls=[])


def test_self_issued_certificates_do_not_count_against_path_length(pki: Pki) -> None:
    """RFC 5280 6.1.4 (l): a key rollover certificate (same name, new key) is not counted."""
    root = issue(ROOT_CN, key=rsa_key(2048, 1), serial=1, ca=True, path_length=0)
    rollover = issue(ROOT_CN, key=rsa_key(2048, 2), serial=2, issuer=root, ca=True, path_length=0)
    leaf = issue(LEAF_CN, key=ec_key("P-256", 1), serial=0x1001, issuer=rollover)
    checked = validate(pki, leaf.der, anchors=[root.der], intermediates=[rollover.der], crls=[])
    assert checked.chain == (leaf.der, rollover.der, root.der)


# --- the key


def test_public_key_of_another_key_pair(pki: Pki) -> None:
    with refused(f"{LEAF} does not certify this key pair: its public key is not public_key"):
        validate(pki, public_key=spki(ec_key("P-256", 2)))
    with refused("public_key is not a DER SubjectPublicKeyInfo"):
        validate(pki, public_key=b"\x04" + bytes(64))


def test_rsa_keys_under_2048_bits(pki: Pki) -> None:
    leaf = leaf_of(pki, key=rsa_key(1024))
    with refused(f"{LEAF} has a 1024-bit RSA key; at least 2048 bits are required"):
        validate(pki, leaf.der)
    weak_root = issue("Weak Root", key=rsa_key(1024), serial=5, ca=True)
    leaf = issue(LEAF_CN, key=ec_key("P-256", 1), serial=0x1001, issuer=weak_root)
    with refused(
        f"{label('Weak Root', 5)} has a 1024-bit RSA key; at least 2048 bits are required"
    ):
        validate(pki, leaf.der, anchors=[weak_root.der])


def test_keys_that_are_not_accepted(pki: Pki) -> None:
    leaf = leaf_of(pki, key=ec_key("secp256k1"))
    with refused(f"{LEAF} has an EC key on secp256k1; P-256, P-384 or P-521 is required"):
        validate(pki, leaf.der)
    leaf = leaf_of(pki, key=ed25519.Ed25519PrivateKey.generate())
    with refused(f"{LEAF} has an Ed25519 key; RSA or EC keys are required"):
        validate(pki, leaf.der)


# --- extensions and usage


def test_unknown_critical_extension(pki: Pki) -> None:
    private = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    leaf = leaf_of(pki, extra=((private, True),))
    with refused(f"{LEAF} has an unknown critical extension 1.3.6.1.4.1.99999.1"):
        validate(pki, leaf.der)
    assert validate(pki, leaf_of(pki, extra=((private, False),)).der).serial == 0x1001
    constraints = x509.NameConstraints(
        permitted_subtrees=[x509.DNSName("bank.example")], excluded_subtrees=None
    )
    intermediate = issue(
        CA_CN,
        key=ec_key("P-384", 1),
        serial=0x10,
        issuer=pki.root,
        ca=True,
        extra=((constraints, True),),
    )
    with refused(f"{CA} has an unknown critical extension nameConstraints (2.5.29.30)"):
        validate(pki, intermediates=[intermediate.der])


def test_critical_extensions_that_change_nothing_are_accepted(pki: Pki) -> None:
    policies = x509.CertificatePolicies(
        [x509.PolicyInformation(x509.ObjectIdentifier("2.999.1"), None)]
    )
    leaf = leaf_of(pki, extra=((policies, True),))
    assert validate(pki, leaf.der).serial == 0x1001


def test_repeated_extensions_identical_are_tolerated_and_differing_are_refused(pki: Pki) -> None:
    def repeat(tbs: Any) -> None:
        extensions = list(tbs["extensions"])
        tbs["extensions"] = [*extensions, extensions[1]]  # basicConstraints again

    again = resign_certificate(pki.leaf.der, pki.intermediate.key, repeat)
    assert validate(pki, again).serial == 0x1001

    def contradict(tbs: Any) -> None:
        extensions = list(tbs["extensions"])
        other = asn1_x509.Extension(
            {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": True}}
        )
        tbs["extensions"] = [*extensions, other]

    contradicting = resign_certificate(pki.leaf.der, pki.intermediate.key, contradict)
    with refused(f"{LEAF} has two different basicConstraints (2.5.29.19) extensions"):
        validate(pki, contradicting)


def test_wrong_key_usage(pki: Pki) -> None:
    with refused(f"{LEAF} key usage lacks key_agreement"):
        validate(pki, key_usage=frozenset({"digital_signature", "key_agreement"}))
    leaf = leaf_of(pki, usage=())
    with refused(f"{LEAF} has no keyUsage extension; digital_signature is required"):
        validate(pki, leaf.der, key_usage=frozenset({"digital_signature"}))
    assert validate(pki, leaf.der).key_usage == frozenset()


def test_wrong_extended_key_usage(pki: Pki) -> None:
    with refused(f"{LEAF} extended key usage lacks server_auth, 1.3.6.1.4.1.99999.7"):
        validate(pki, extended_key_usage=("server_auth", "client_auth", "1.3.6.1.4.1.99999.7"))
    leaf = leaf_of(pki, eku=None)
    with refused(f"{LEAF} has no extendedKeyUsage extension; server_auth is required"):
        validate(pki, leaf.der, extended_key_usage=("server_auth",))
    anything = leaf_of(pki, eku=(ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,))
    with refused(f"{LEAF} extended key usage lacks server_auth"):
        validate(pki, anything.der, extended_key_usage=("server_auth",))
    assert validate(pki, anything.der).extended_key_usage == ("2.5.29.37.0",)


# --- arguments


def test_argument_refusals(pki: Pki) -> None:
    with refused("now must be a timezone-aware datetime"):
        validate(pki, now=datetime(2026, 6, 1))
    with refused("anchors is empty: give at least one trust anchor"):
        validate(pki, anchors=[])
    with refused("anchors must be a sequence of DER certificates, not bytes"):
        validate(pki, anchors=pki.root.der)
    with refused("crls must be a sequence of DER CRLs, not bytes"):
        validate(pki, crls=pki.root_crl)
    with refused("certificate is not a DER X.509 certificate"):
        validate(pki, b"\x30\x00")
    with refused(
        "certificate is not a DER X.509 certificate (PEM: read it with read_certificates)"
    ):
        validate(pki, b"-----BEGIN CERTIFICATE-----\n")
    with refused("certificate must be DER bytes"):
        validate(pki, "MII")
    with refused("intermediates[1] is not a DER X.509 certificate"):
        validate(pki, intermediates=[pki.intermediate.der, pki.root_crl])
    with refused("anchors[0] is not a DER X.509 certificate"):
        validate(pki, anchors=[pki.leaf.der[:-1]])
    with refused("crls[1] is not a DER X.509 CRL"):
        validate(pki, crls=[pki.root_crl, pki.root.der])
    with refused("key_usage must be a frozenset of usage names"):
        validate(pki, key_usage={"digital_signature"})
    with refused(
        "key_usage: 'signing' is not one of digital_signature, non_repudiation, "
        "key_encipherment, data_encipherment, key_agreement, key_cert_sign, crl_sign, "
        "encipher_only, decipher_only"
    ):
        validate(pki, key_usage=frozenset({"signing"}))
    with refused("extended_key_usage must be a tuple of key purposes"):
        validate(pki, extended_key_usage="server_auth")
    with refused("require_crl must be True or False"):
        validate(pki, require_crl="yes")


# --- the published TR-34-2019 sample PKI


def test_tr34_sample_pki_validates_with_its_crl() -> None:
    """Root -> CA KDH -> KDH 1 (B.2.1.1, B.2.1.2, B.2.1.5) with the CA's CRL (B.2.1.3).
    KDH 1 repeats basicConstraints and keyUsage with the same contents: tolerated."""
    during_crl = datetime(2010, 11, 15, tzinfo=UTC)
    checked = pkix.validate_certificate(
        sample_cert(KDH1),
        anchors=[sample_cert(ROOT_CA)],
        intermediates=[sample_cert(CA_KRD), sample_cert(CA_KDH)],
        crls=[sample(SAMPLE_CRL)],
        now=during_crl,
        key_usage=frozenset({"digital_signature", "non_repudiation"}),
    )
    assert checked.subject == "CN=TR34 Sample KDH 1,O=TR34 Samples,C=US"
    assert checked.serial == 0x3400000006
    assert checked.chain == (sample_cert(KDH1), sample_cert(CA_KDH), sample_cert(ROOT_CA))
    krd = pkix.validate_certificate(
        sample_cert(KRD1),
        anchors=[sample_cert(ROOT_CA)],
        intermediates=[sample_cert(CA_KDH), sample_cert(CA_KRD)],
        now=during_crl,
        key_usage=frozenset({"key_encipherment"}),
    )
    assert krd.issuer == "CN=TR34 Sample CA KDH,O=TR34 Samples,C=US".replace("KDH", "KRD")
    kdh1 = 'certificate "CN=TR34 Sample KDH 1,O=TR34 Samples,C=US" (serial 0x3400000006)'
    with refused(
        f"{kdh1}: the CRL of CN=TR34 Sample CA KDH,O=TR34 Samples,C=US is out of date "
        "(next update 2010-12-02T17:33:30Z)"
    ):
        pkix.validate_certificate(
            sample_cert(KDH1),
            anchors=[sample_cert(ROOT_CA)],
            intermediates=[sample_cert(CA_KDH)],
            crls=[sample(SAMPLE_CRL)],
            now=datetime(2011, 1, 1, tzinfo=UTC),
        )
    with refused(f"{kdh1} has expired (not after 2020-10-29T23:59:59Z)"):
        pkix.validate_certificate(
            sample_cert(KDH1),
            anchors=[sample_cert(ROOT_CA)],
            intermediates=[sample_cert(CA_KDH)],
            now=datetime(2021, 1, 1, tzinfo=UTC),
        )
    # The samples carry no authority key identifier: a signature that does not verify is
    # reported as either fault.
    with refused(
        f"{kdh1} has a bad signature or is wrongly issued: it does not verify with the key of "
        'certificate "CN=TR34 Sample CA KDH,O=TR34 Samples,C=US" (serial 0x3400000005), and '
        "it has no authority key identifier to tell which"
    ):
        tampered = bytearray(sample_cert(KDH1))
        tampered[-1] ^= 0x01
        pkix.validate_certificate(
            bytes(tampered),
            anchors=[sample_cert(ROOT_CA)],
            intermediates=[sample_cert(CA_KDH)],
            now=during_crl,
        )


# =========================================================================== reading


def pem(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()


def test_read_pem_bundle_der_and_p7b(pki: Pki) -> None:
    ders = [pki.leaf.der, pki.intermediate.der, pki.root.der]
    bundle = "".join(f"subject={i}\n{pem(der)}\n" for i, der in enumerate(ders))
    assert pkix.read_certificates(bundle.encode()) == ders
    assert pkix.read_certificates(bundle.replace("\n", "\r\n").encode()) == ders
    assert pkix.read_certificates(pki.leaf.der) == [pki.leaf.der]
    assert pkix.read_certificates(bytearray(pki.leaf.der)) == [pki.leaf.der]
    certificates = [x509.load_der_x509_certificate(der) for der in ders]
    p7b = pkcs7.serialize_certificates(certificates, DER)
    assert pkix.read_certificates(p7b) == ders
    p7b_pem = pkcs7.serialize_certificates(certificates, serialization.Encoding.PEM)
    assert p7b_pem.startswith(b"-----BEGIN PKCS7-----")
    assert pkix.read_certificates(p7b_pem) == ders
    mixed = pem(pki.root.der).encode() + p7b_pem
    assert pkix.read_certificates(mixed) == [pki.root.der, *ders]


@pytest.mark.parametrize(
    ("name", "certificate"),
    [
        ("B_3_TR34_SAMPLE_ROOT_P7B", ROOT_CA),
        ("B_4_CA_KDH_P7B", CA_KDH),
        ("B_5_SAMPLE_CA_KRD_P7B", CA_KRD),
        ("B_7_KRD_CREDENTIAL_TOKEN_1_P7B", KRD1),
    ],
)
def test_read_tr34_sample_p7b(name: str, certificate: str) -> None:
    assert pkix.read_certificates(sample(name)) == [sample_cert(certificate)]


def test_read_certificates_refusals(pki: Pki) -> None:
    certificate = pem(pki.root.der)
    with refused("data is empty"):
        pkix.read_certificates(b"")
    with refused("data must be bytes"):
        pkix.read_certificates(certificate)  # type: ignore[arg-type]
    with refused("data holds no certificate: it is neither DER nor PEM with BEGIN lines"):
        pkix.read_certificates(b"hello")
    with refused("data is neither DER nor PEM text"):
        pkix.read_certificates(b"\xff\xfe")
    with refused("PEM block 2 is a PRIVATE KEY, not a CERTIFICATE or PKCS7 bundle"):
        key = ec_key("P-256").private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        pkix.read_certificates(certificate.encode() + key)
    with refused("PEM block 1 is a X509 CRL, not a CERTIFICATE or PKCS7 bundle"):
        pkix.read_certificates(
            x509.load_der_x509_crl(pki.root_crl).public_bytes(serialization.Encoding.PEM)
        )
    with refused("data: PEM block 1 (CERTIFICATE) has no END line"):
        pkix.read_certificates(certificate.rsplit("-----END", 1)[0].encode())
    with refused("data: PEM block 1 (CERTIFICATE) has no END line"):
        pkix.read_certificates((certificate.rsplit("-----END", 1)[0] + certificate).encode())
    with refused("data: PEM block 1 begins CERTIFICATE but ends X509 CRL"):
        pkix.read_certificates(certificate.replace("END CERTIFICATE", "END X509 CRL").encode())
    with refused("data: PEM END line without a BEGIN line"):
        pkix.read_certificates(b"-----END CERTIFICATE-----\n")
    with refused("data: PEM block 1 (CERTIFICATE) is not valid base64"):
        lines = certificate.splitlines()
        pkix.read_certificates("\n".join([lines[0], "Proc-Type: 4,ENCRYPTED", *lines[1:]]).encode())
    with refused("PEM block 1 is not a DER X.509 certificate"):
        pkix.read_certificates(
            pkix.csr_pem(
                pkix.build_csr(
                    Profile(subject="CN=x"),
                    public_key=spki(ec_key("P-256")),
                    sign=signer(ec_key("P-256")),
                )
            )
            .replace("CERTIFICATE REQUEST", "CERTIFICATE")
            .encode()
        )
    with refused("data is not a DER X.509 certificate"):
        pkix.read_certificates(pki.root_crl)
    with refused("data is not a DER certificate or PKCS#7 bundle"):
        pkix.read_certificates(pki.root.der + b"\x00")
    with refused("data is not a DER certificate or PKCS#7 bundle"):
        pkix.read_certificates(b"\x30\x05\x02\x01")


def test_read_p7b_refusals(pki: Pki) -> None:
    from asn1crypto import cms

    empty = cms.ContentInfo(
        {
            "content_type": "signed_data",
            "content": {
                "version": "v1",
                "digest_algorithms": [],
                "encap_content_info": {"content_type": "data"},
                "signer_infos": [],
            },
        }
    ).dump()
    with refused("data holds no certificate"):
        pkix.read_certificates(empty)
    data = cms.ContentInfo({"content_type": "data", "content": b"x"}).dump()
    with refused("data is a PKCS#7 data, not a signedData bundle"):
        pkix.read_certificates(data)
    text = "-----BEGIN PKCS7-----\n" + base64.b64encode(data).decode() + "\n-----END PKCS7-----\n"
    with refused("PEM block 1 is a PKCS#7 data, not a signedData bundle"):
        pkix.read_certificates(text.encode())


# =========================================================================== doctests


def test_module_doctests() -> None:
    result = doctest.testmod(pkix)
    assert result.attempted > 0
    assert result.failed == 0


# =========================================================================== OpenSSL interop


def openssl(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *arguments], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_read_csr_of_a_request_made_by_openssl(tmp_path: Path) -> None:
    made = openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes",
        "-keyout", "key.pem", "-out", "request.pem", "-subj", "/C=GB/O=Bank/CN=vendor-ca",
        "-addext", "subjectAltName=DNS:vendor.bank.example,IP:192.0.2.7",
        "-addext", "keyUsage=critical,digitalSignature,keyAgreement",
        "-addext", "extendedKeyUsage=serverAuth",
        cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    info = pkix.read_csr((tmp_path / "request.pem").read_bytes())
    assert info.subject == "CN=vendor-ca,O=Bank,C=GB"
    assert info.key_type == "EC P-384"
    assert (info.dns_names, info.ip_addresses) == (("vendor.bank.example",), ("192.0.2.7",))
    assert info.key_usage == frozenset({"digital_signature", "key_agreement"})
    assert info.extended_key_usage == ("server_auth",)
    key = serialization.load_pem_private_key((tmp_path / "key.pem").read_bytes(), None)
    assert info.public_key == spki(key)


def test_a_certificate_openssl_issues_from_a_request_validates(tmp_path: Path) -> None:
    """build_csr -> an OpenSSL CA copying the requested extensions -> validate_certificate."""
    ca_key = ec_key("P-384", 3)
    year = timedelta(days=365)  # around today: OpenSSL dates what it issues from its clock
    ca = issue(
        "OpenSSL CA", key=ca_key, serial=1, ca=True, not_before=datetime.now(UTC) - year,
        not_after=datetime.now(UTC) + year,
    )  # fmt: skip
    (tmp_path / "ca.pem").write_text(pem(ca.der))
    (tmp_path / "ca.key").write_bytes(
        ca_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key = rsa_key(3072)
    profile = Profile(
        subject="CN=kdh.bank.example,O=Bank,C=GB",
        dns_names=("kdh.bank.example",),
        key_usage=frozenset({"digital_signature", "key_encipherment"}),
        extended_key_usage=("client_auth",),
    )
    der = pkix.build_csr(profile, public_key=spki(key), sign=signer(key))
    (tmp_path / "request.pem").write_text(pkix.csr_pem(der))
    issued = openssl(
        "x509", "-req", "-in", "request.pem", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-set_serial", "0x2002", "-days", "30", "-sha256", "-copy_extensions", "copy",
        "-out", "issued.pem",
        cwd=tmp_path,
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    (certificate,) = pkix.read_certificates((tmp_path / "issued.pem").read_bytes())
    loaded = x509.load_der_x509_certificate(certificate)
    checked = pkix.validate_certificate(
        certificate,
        anchors=[ca.der],
        now=loaded.not_valid_before_utc,
        key_usage=frozenset({"digital_signature", "key_encipherment"}),
        extended_key_usage=("client_auth",),
        public_key=spki(key),
    )
    assert (checked.subject, checked.serial) == (profile.subject, 0x2002)
    assert checked.dns_names == profile.dns_names


def openssl_accepts(
    tmp_path: Path, leaf: bytes, anchor: bytes, intermediates: list[bytes], crls: list[bytes]
) -> bool:
    (tmp_path / "anchor.pem").write_text(pem(anchor))
    (tmp_path / "untrusted.pem").write_text("".join(pem(der) for der in intermediates))
    (tmp_path / "leaf.pem").write_text(pem(leaf))
    arguments = ["verify", "-attime", str(int(NOW.timestamp())), "-CAfile", "anchor.pem"]
    if intermediates:
        arguments += ["-untrusted", "untrusted.pem"]
    if crls:
        text = b"".join(
            x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM) for der in crls
        )
        (tmp_path / "crls.pem").write_bytes(text)
        arguments += ["-crl_check_all", "-CRLfile", "crls.pem"]
    return openssl(*arguments, "leaf.pem", cwd=tmp_path).returncode == 0


def agreement_cases(pki: Pki) -> dict[str, tuple[bytes, list[bytes], list[bytes]]]:
    """(leaf, intermediates, CRLs) under the anchor pki.root."""
    crls = [pki.root_crl, pki.intermediate_crl]
    not_ca = issue(CA_CN, key=ec_key("P-384", 1), serial=0x10, issuer=pki.root, ca=False)
    short = issue(CA_CN, key=ec_key("P-384", 1), serial=0x10, issuer=pki.root, ca=True,
                  not_after=datetime(2026, 5, 1, tzinfo=UTC))  # fmt: skip
    sub = issue("Sub CA", key=ec_key("P-256", 3), serial=0x20, issuer=pki.intermediate, ca=True)
    flipped = bytearray(pki.leaf.der)
    flipped[-1] ^= 1
    revoking = crl(pki.intermediate, revoked=((0x1001, datetime(2026, 5, 15, tzinfo=UTC), None),))
    return {
        "good": (pki.leaf.der, [pki.intermediate.der], crls),
        "good without CRLs": (pki.leaf.der, [pki.intermediate.der], []),
        "expired": (
            leaf_of(pki, not_after=datetime(2026, 5, 31, tzinfo=UTC)).der,
            [pki.intermediate.der],
            crls,
        ),
        "not yet valid": (
            leaf_of(pki, not_before=datetime(2026, 6, 2, tzinfo=UTC)).der,
            [pki.intermediate.der],
            crls,
        ),
        "issuer expired": (pki.leaf.der, [short.der], []),
        "no issuer": (pki.leaf.der, [], []),
        "bad signature": (bytes(flipped), [pki.intermediate.der], crls),
        "issuer not a CA": (pki.leaf.der, [not_ca.der], []),
        "path length": (
            issue(LEAF_CN, key=ec_key("P-256", 1), serial=0x1001, issuer=sub).der,
            [sub.der, pki.intermediate.der],
            [],
        ),
        "revoked": (pki.leaf.der, [pki.intermediate.der], [pki.root_crl, revoking]),
        "stale CRL": (
            pki.leaf.der,
            [pki.intermediate.der],
            [pki.root_crl, crl(pki.intermediate, next_update=datetime(2026, 5, 31, tzinfo=UTC))],
        ),
    }


def test_accepts_and_refuses_as_openssl_verify_does(pki: Pki, tmp_path: Path) -> None:
    outcomes = {}
    for case, (leaf, intermediates, crls) in agreement_cases(pki).items():
        try:
            validate(pki, leaf, intermediates=intermediates, crls=crls)
            ours = True
        except PkixError:
            ours = False
        outcomes[case] = (ours, openssl_accepts(tmp_path, leaf, pki.root.der, intermediates, crls))
    assert all(ours == theirs for ours, theirs in outcomes.values()), outcomes
    assert [case for case, (ours, _) in outcomes.items() if ours] == ["good", "good without CRLs"]
