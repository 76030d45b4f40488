"""The certificate flows without Qt or devices: the page's rows (days left, urgency,
superseded ones on request), the request wizard's steps (defaults per template usage,
renewal from the current certificate, every field's error, PEM or DER to a new file) and the
import wizard's (partner without a CA, a file for another key, a refusal as an outcome with
nothing kept), with the service replaced by plain callables."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.certificates import CertificateRecord, CertificateStatus
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.partners import Partner
from workstation.domain.policy import KEY_ACTIONS, Action
from workstation.domain.templates import seed_templates
from workstation.errors import BadInput
from workstation.flows.certificates import (
    CertificateData,
    ImportCertificateFlow,
    ImportStep,
    ProfileInput,
    RequestFlow,
    RequestStep,
    Urgency,
    certificate_rows,
    file_lines,
    overview,
    pair_line,
    profile_defaults,
    profile_errors,
    subject_status,
)
from workstation.flows.interchange import LoadedFile
from workstation.flows.wizards import FlowError
from workstation.services.certificates import (
    CertificateRequest,
    KeyPairCertificates,
    KeyPairList,
)
from workstation.services.logon import Requirement
from workstation.standards import pkix

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
TEMPLATES = {t.name: t for t in seed_templates()}
TLS = TEMPLATES["TLS server key pair"]
RKL = TEMPLATES["ATM RKL host key pair"]
EPP = TEMPLATES["ATM EPP key pair"]


def spki(private: Any) -> bytes:
    return bytes(
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def key_pair(
    label: str, template: Any, private: Any, state: KeyState = KeyState.ACTIVE
) -> ManagedKey:
    return ManagedKey(
        id=f"id-{label}",
        label=label,
        template_id=template.id,
        algorithm=template.algorithm,
        key_usage=template.key_usage,
        mode_of_use=template.mode_of_use,
        exportability=template.exportability,
        kcv="0A1B2C",
        wrapped=b"wrapped",
        public_key=spki(private),
        state=state,
        version=1,
        created_at=NOW - timedelta(days=30),
        activation_date=NOW - timedelta(days=30),
        deactivation_date=NOW + timedelta(days=365),
    )


def issue(
    subject_key: Any,
    *,
    days: int,
    dns: tuple[str, ...] = ("host.bank.example",),
    start: datetime | None = None,
) -> x509.Certificate:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    start = start or NOW - timedelta(days=1)
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bank"),
                    x509.NameAttribute(NameOID.COMMON_NAME, dns[0] if dns else "host"),
                ]
            )
        )
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Lab CA")]))
        .public_key(subject_key.public_key())
        .serial_number(0x5A3C)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address("10.0.0.7"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def record(
    key: ManagedKey,
    cert: x509.Certificate,
    status: CertificateStatus = CertificateStatus.CURRENT,
) -> CertificateRecord:
    return CertificateRecord(
        id=f"c-{cert.serial_number}-{status.value}-{cert.not_valid_after_utc:%Y%m%d}",
        key_id=key.id,
        key_label=key.label,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=f"{cert.serial_number:X}",
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint="AB" * 32,
        pem=pem(cert),
        anchor="CN=Lab CA",
        partner="Lab CA",
        imported_at=NOW,
        status=status,
    )


@pytest.fixture
def world() -> dict[str, Any]:
    tls_private = ec.generate_private_key(ec.SECP256R1())
    rkl_private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tls = key_pair("TLS-0001", TLS, tls_private)
    rkl = key_pair("RKL-0001", RKL, rkl_private, KeyState.PRE_ACTIVATION)
    old = issue(tls_private, days=400, start=NOW - timedelta(days=390))
    new = issue(tls_private, days=20)
    pairs = (
        KeyPairCertificates(
            tls,
            TLS,
            (record(tls, new), record(tls, old, CertificateStatus.SUPERSEDED)),
        ),
        KeyPairCertificates(rkl, RKL, ()),
    )
    return {
        "tls": tls,
        "rkl": rkl,
        "tls_private": tls_private,
        "rkl_private": rkl_private,
        "pairs": pairs,
        "new": new,
    }


# --- the page's rows ----------------------------------------------------------------------------


def test_rows_days_left_urgency_and_superseded(world: dict[str, Any]) -> None:
    listing = KeyPairList(world["pairs"], NOW)
    rows = certificate_rows(listing)
    assert [r.key.label for r in rows] == ["TLS-0001", "RKL-0001"]
    tls, rkl = rows
    assert tls.cells()[0:3] == ("TLS-0001", "TLS server key pair", "active")
    assert tls.cells()[3] == "CN=host.bank.example,O=Bank" and tls.cells()[8] == "5A3C"
    assert tls.cells()[7] == "CN=Lab CA"
    assert tls.days_left == 19 and tls.urgency is Urgency.SOON
    assert tls.status == "current: renew soon"
    assert rkl.cells()[2] == "pre-active" and rkl.days_text == "—"
    assert rkl.status == "no certificate" and rkl.urgency is Urgency.NONE
    assert overview(listing) == (
        "2 key pairs, 1 with a current certificate; 1 expires within 30 days."
    )

    later = certificate_rows(replace(listing, read_at=NOW + timedelta(days=20)))[0]
    assert later.urgency is Urgency.EXPIRED and later.days_text == "expired"
    assert later.status == "expired: renew"
    assert dict(later.detail_rows())["Valid to"].endswith("(expired 1 day ago)")

    with_old = certificate_rows(listing, superseded=True)
    assert [(r.key.label, r.status) for r in with_old] == [
        ("TLS-0001", "current: renew soon"),
        ("TLS-0001", "superseded"),
        ("RKL-0001", "no certificate"),
    ]
    assert with_old[1].superseded and with_old[1].urgency is Urgency.NONE


def test_detail_rows_and_pem(world: dict[str, Any]) -> None:
    row = certificate_rows(KeyPairList(world["pairs"], NOW))[0]
    detail = dict(row.detail_rows())
    assert detail["Key pair"] == "TLS-0001 (EC-P256, active)"
    assert detail["Alternative names"] == "host.bank.example, 10.0.0.7"
    assert detail["Key usage"] == "digital_signature"
    assert detail["Extended key usage"] == "server_auth"
    assert detail["Valid to"].endswith("(19 days left)")
    assert row.pem.startswith("-----BEGIN CERTIFICATE-----")
    none = certificate_rows(KeyPairList(world["pairs"], NOW))[1]
    assert "Request certificate…" in dict(none.detail_rows())["Certificate"]
    assert none.pem == ""
    assert pair_line(world["pairs"][1]) == (
        "RKL-0001 — RSA-2048, ATM RKL host key pair, pre-active, no certificate"
    )


def test_a_key_pair_its_template_forbids_says_why(world: dict[str, Any]) -> None:
    closed = replace(TLS, allowed_actions=KEY_ACTIONS - {Action.MANAGE_CERTIFICATES})
    pair = KeyPairCertificates(world["rkl"], closed, ())
    row = certificate_rows(KeyPairList((pair,), NOW))[0]
    assert row.status == "no certificate (not allowed)"
    assert "does not allow certificates" in dict(row.detail_rows())["Certificate"]
    assert CertificateData(pairs=(pair,)).certifiable() == []


# --- profile checks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ok", "message"),
    [
        ("CN=host.bank.example,O=Bank,C=GB", True, "RFC 4514 name: CN, O, C."),
        (
            "",
            False,
            "Type the subject, most specific first, e.g. CN=host.bank.example,O=Bank,C=GB.",
        ),
        ("CN=host,C=gb", False, "C must be two capital letters (ISO 3166-1 alpha-2), not 'gb'."),
        (
            "CN=a, O=b",
            False,
            "' O=b' is not TYPE=value with TYPE one of C, ST, L, O, OU, CN, "
            "serialNumber, emailAddress, DC.",
        ),
        ("CN=a,", False, "The subject has an empty RDN (a comma at an end, or two together)."),
        (
            "CN=a+b",
            False,
            "Multi-valued RDNs ('+') are not accepted; write '\\+' for a literal '+'.",
        ),
    ],
)
def test_subject_checked_as_typed(text: str, ok: bool, message: str) -> None:
    assert subject_status(text) == (ok, message)


def test_profile_errors_name_each_field() -> None:
    values = ProfileInput(
        subject="CN=host,C=gb",
        dns_names="good.example\nbad_name.example",
        ip_addresses="10.0.0.300",
        emails="not-a-mailbox",
        key_usage=frozenset({"key_agreement"}),
        extended_key_usage=("server_auth",),
        other_purposes="not.an.oid",
    )
    errors = profile_errors(values, KeyAlgorithm.RSA_2048)
    assert set(errors) == {
        "subject",
        "dns_names",
        "ip_addresses",
        "emails",
        "key_usage",
        "extended_key_usage",
    }
    assert errors["key_usage"] == "Key agreement does not fit an RSA-2048 key (RFC 3279 2.3.1)."
    assert "bad_name.example" in errors["dns_names"]
    assert "not.an.oid" in errors["extended_key_usage"]
    ca = profile_errors(ProfileInput(subject="CN=CA", ca=True), KeyAlgorithm.EC_P256)
    assert ca == {"key_usage": "A CA certificate needs the key usage Certificate signing (CA)."}
    server = profile_errors(
        ProfileInput(subject="CN=h", extended_key_usage=("server_auth",)), KeyAlgorithm.EC_P256
    )
    assert server["dns_names"].startswith("A TLS server certificate names its host")
    agreement = profile_errors(
        ProfileInput(subject="CN=h", key_usage=frozenset({"key_encipherment"})),
        KeyAlgorithm.EC_P384,
    )
    assert agreement == {"key_usage": "Key encipherment does not fit an EC-P384 key (RFC 5480 3)."}


def test_defaults_follow_the_template_usage(world: dict[str, Any]) -> None:
    assert profile_defaults(world["tls"], TLS).key_usage == {"digital_signature"}
    assert profile_defaults(world["tls"], TLS).extended_key_usage == ("server_auth",)
    rsa_tls = replace(world["rkl"], algorithm=KeyAlgorithm.RSA_3072)
    assert profile_defaults(rsa_tls, TLS).key_usage == {"digital_signature", "key_encipherment"}
    rkl = profile_defaults(world["rkl"], RKL)
    assert rkl.key_usage == {"digital_signature"} and rkl.extended_key_usage == ()
    epp = profile_defaults(replace(world["rkl"], key_usage="D1"), EPP)
    assert epp.key_usage == {"key_encipherment"}
    ca = profile_defaults(replace(world["rkl"], key_usage="S1"), RKL)
    assert ca.ca and ca.key_usage == {"key_cert_sign", "crl_sign", "digital_signature"}
    kdh = profile_defaults(replace(world["tls"], key_usage="K2"), None)
    assert kdh.key_usage == {"digital_signature", "key_agreement"}


# --- request ------------------------------------------------------------------------------------


def test_request_flow_new_key_pair_pem(world: dict[str, Any], tmp_path: Path) -> None:
    data = CertificateData(pairs=world["pairs"])
    flow = RequestFlow(data, key_label="RKL-0001")
    assert [p.key.label for p in flow.key_pairs()] == ["TLS-0001", "RKL-0001"]
    assert flow.validate_key(None) == {"key": "Choose the key pair."}
    assert flow.validate_key("NOPE") == {"key": "No key pair labelled 'NOPE'."}
    with pytest.raises(FlowError):
        flow.advance()
    flow.choose_key("RKL-0001")
    flow.advance()
    assert flow.step is RequestStep.PROFILE and flow.needs_filling()
    values = flow.initial_input()
    assert values.subject == "" and values.key_usage == {"digital_signature"}
    assert not flow.needs_filling() and flow.renewal_of() is None
    assert flow.validate_profile(values) == {
        "subject": "Type the subject, most specific first, e.g. CN=host.bank.example,O=Bank,C=GB."
    }
    values = replace(values, subject="CN=RKL host 1,O=Bank,C=GB")
    flow.set_profile(values)
    flow.advance()
    target = tmp_path / flow.suggested_name()
    assert target.name == "RKL-0001.csr"
    assert flow.validate_output("pem", None) == {"file": "Choose where the request is saved."}
    assert flow.validate_output("xml", target) == {"format": "Choose PEM or DER."}
    (tmp_path / "taken.csr").write_text("x")
    assert "exists" in flow.validate_output("pem", tmp_path / "taken.csr")["file"]
    assert "does not exist" in flow.validate_output("pem", tmp_path / "no" / "x.csr")["file"]
    flow.set_output("pem", target)
    flow.set_requirement(
        Requirement(Action.MANAGE_CERTIFICATES, "1 key custodian + 1 supervisor", True, (), "", ())
    )
    review = dict(flow.review_rows())
    assert review["Subject"] == "CN=RKL host 1,O=Bank,C=GB"
    assert review["Key usage"] == "digital_signature" and review["CA"] == "no"
    assert review["Quorum"] == "1 key custodian + 1 supervisor"
    flow.advance()
    assert flow.step is RequestStep.SIGN

    calls: list[tuple[str, pkix.Profile]] = []

    def sign(key_ref: str, profile: pkix.Profile) -> CertificateRequest:
        calls.append((key_ref, profile))
        text = "-----BEGIN CERTIFICATE REQUEST-----\n"
        return CertificateRequest(key_ref, profile.subject, text, "AB" * 32, b"\x30\x00")

    result = flow.sign(sign)
    assert calls[0][0] == "RKL-0001" and calls[0][1].key_usage == {"digital_signature"}
    flow.record_result(result, target, None)
    assert flow.step is RequestStep.RESULT
    rows = dict(flow.result_rows())
    assert rows["SHA-256 of the request (DER)"] == "AB" * 32
    assert rows["File"].startswith(f"{target} (PEM")
    assert flow.file_data() == b"-----BEGIN CERTIFICATE REQUEST-----\n"


def test_request_flow_renewal_and_der(world: dict[str, Any], tmp_path: Path) -> None:
    flow = RequestFlow(CertificateData(pairs=world["pairs"]))
    flow.choose_key("TLS-0001")
    flow.advance()
    values = flow.initial_input()
    assert values.subject == "CN=host.bank.example,O=Bank"
    assert values.dns_names == "host.bank.example" and values.ip_addresses == "10.0.0.7"
    assert values.key_usage == {"digital_signature"}
    assert values.extended_key_usage == ("server_auth",)
    assert flow.renewal_of() is not None
    flow.set_profile(values)
    flow.advance()
    assert flow.suggested_name("der") == "TLS-0001.der"
    flow.set_output("der", tmp_path / "TLS-0001.der")
    assert dict(flow.review_rows())["Renews"].startswith("serial 5A3C, to ")
    flow.advance()
    request = CertificateRequest("TLS-0001", values.subject, "PEM", "CD" * 32, b"\x30\x03DER")
    flow.record_result(request, None, "Folder /x does not exist.")
    assert flow.file_data() == b"\x30\x03DER"
    assert dict(flow.result_rows())["File"] == "not saved: Folder /x does not exist."
    assert "could not be written" in flow.result_summary()
    flow.record_saved(tmp_path / "again.der")
    assert "again.der (DER, 5 bytes)" in dict(flow.result_rows())["File"]


def test_choosing_another_template_forgets_the_quorum(world: dict[str, Any]) -> None:
    flow = RequestFlow(CertificateData(pairs=world["pairs"]))
    flow.choose_key("TLS-0001")
    flow.set_requirement(
        Requirement(Action.MANAGE_CERTIFICATES, "1 key custodian + 1 supervisor", True, (), "", ())
    )
    flow.choose_key("TLS-0001")
    assert flow.requirement is not None
    flow.choose_key("RKL-0001")
    assert flow.requirement is None and flow.quorum_template == RKL.id


def test_certificate_request_encodings() -> None:
    request = CertificateRequest("K", "CN=K", "-----PEM-----\n", "00", b"\x30\x00")
    assert request.encoded("pem") == b"-----PEM-----\n" and request.encoded("der") == b"\x30\x00"
    with pytest.raises(BadInput, match="choose pem or der"):
        request.encoded("p12")


# --- import --------------------------------------------------------------------------------------


def test_import_flow_checks_then_keeps(world: dict[str, Any]) -> None:
    lab = Partner("p1", "Lab CA", "other", ("CA PEM",))
    bare = Partner("p2", "Bare Partner", "bank")
    data = CertificateData(pairs=world["pairs"], partners=(bare, lab))
    flow = ImportCertificateFlow(data, key_label="TLS-0001")
    assert flow.partners() == [
        ("Bare Partner", "Bare Partner — bank, no CA certificate"),
        ("Lab CA", "Lab CA — other, 1 CA certificate"),
    ]
    assert flow.validate_choice("TLS-0001", None) == {
        "partner": "Choose the partner that issued the certificate."
    }
    assert "has no CA certificate" in flow.validate_choice("TLS-0001", "Bare Partner")["partner"]
    flow.choose("TLS-0001", "lab ca")
    assert flow.partner == "Lab CA"
    flow.advance()
    assert flow.step is ImportStep.FILES

    own = LoadedFile("/in/host.pem", pem(world["new"]).encode())
    stranger = issue(ec.generate_private_key(ec.SECP256R1()), days=30)
    other = LoadedFile("/in/other.pem", pem(stranger).encode())
    junk = LoadedFile("/in/junk.txt", b"hello")
    assert flow.validate_files(None) == {"certificate": "Choose the certificate file the CA sent."}
    assert flow.validate_files(other)["certificate"] == (
        "No certificate in other.pem carries the public key of TLS-0001: it was issued for "
        "another key."
    )
    assert flow.validate_files(junk)["certificate"].startswith("junk.txt: ")
    assert flow.validate_files(own, [junk])["chain"].startswith("junk.txt: ")
    assert flow.validate_files(own, (), frozenset({"flying"})) == {
        "key_usage": "Unknown key usage: flying."
    }
    lines = file_lines([own, other], world["tls"])
    assert lines[0].startswith("• this key pair's certificate: CN=host.bank.example,O=Bank")
    assert not lines[1].startswith("• this key pair's")
    flow.set_files(own, (other,), frozenset({"digital_signature"}), ("server_auth",))
    flow.advance()
    review = dict(flow.review_rows())
    assert review["Must allow"] == "digital_signature, server_auth"
    assert review["Supersedes"].startswith("serial 5A3C")
    flow.advance()

    seen: dict[str, Any] = {}

    def keep(key_ref: str, data: bytes | str, **kwargs: Any) -> CertificateRecord:
        seen.update(kwargs, key_ref=key_ref, data=data)
        return record(world["tls"], world["new"])

    outcome = flow.run(keep)
    assert seen["partner"] == "Lab CA" and seen["chain"] == [other.data]
    assert seen["key_usage"] == {"digital_signature"}
    assert seen["extended_key_usage"] == ("server_auth",)
    flow.record_result(outcome)
    assert flow.step is ImportStep.RESULT and not flow.refused
    facts = dict(flow.result_rows())
    assert facts["Serial"] == "5A3C" and facts["Superseded"].startswith("serial 5A3C")
    assert "passed every check" in flow.result_summary()


def test_a_refusal_is_an_outcome_with_nothing_kept(world: dict[str, Any]) -> None:
    data = CertificateData(
        pairs=world["pairs"], partners=(Partner("p1", "Lab CA", "other", ("CA PEM",)),)
    )
    flow = ImportCertificateFlow(data)
    flow.choose("TLS-0001", "Lab CA")
    flow.advance()
    flow.set_files(LoadedFile("host.pem", pem(world["new"]).encode()))
    flow.advance()
    flow.advance()
    reason = (
        "Certificate refused: certificate CN=host.bank.example,O=Bank (serial 5A3C) is "
        "revoked by the CRL of CN=Lab CA"
    )

    def refuse(*_: Any, **__: Any) -> CertificateRecord:
        raise BadInput(reason)

    flow.record_result(flow.run(refuse))
    assert flow.refused and flow.outcome is not None and flow.outcome.refusal == reason
    assert flow.result_rows() == []
    assert flow.result_summary().startswith("The certificate was refused and nothing was kept")


def test_import_runs_only_with_checked_input(world: dict[str, Any]) -> None:
    flow = ImportCertificateFlow(CertificateData(pairs=world["pairs"]))
    with pytest.raises(FlowError) as raised:
        flow.run(lambda *a, **k: pytest.fail("the service must not be called"))
    assert "key" in raised.value.errors
