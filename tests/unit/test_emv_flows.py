"""The EMV issuer key wizards' flows without Qt: steps in order, field errors in words, the
service reached only through the callables passed in (fakes here); and the domain's readers
of what people and brands write (BINs, CA key files, hex or binary certificates)."""

from __future__ import annotations

import doctest
import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from workstation.domain import emv_keys
from workstation.domain.emv_keys import (
    EmvCaKey,
    IssuerKeySet,
    IssuerKeyStatus,
    IssuerRequestFacts,
    MasterKeyRef,
    binary_or_hex,
    check_bins,
    parse_ca_keys,
)
from workstation.domain.partners import Partner
from workstation.domain.policy import Action
from workstation.domain.templates import seed_templates
from workstation.errors import BadInput
from workstation.flows import emv as flows
from workstation.flows.emv import (
    EmvData,
    ImportCertificateFlow,
    ImportStep,
    IssuerKeysFlow,
    IssuerKeysStep,
    IssuerRequestFlow,
    RequestStep,
)
from workstation.flows.wizards import FlowError
from workstation.services.emv import IssuerKeyJob
from workstation.services.logon import Requirement

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 10)
BRAND = Partner(id="brand-1", name="Lab Brand", kind="brand")
BANK = Partner(id="bank-1", name="Bank 042", kind="bank")
TEMPLATES = tuple(seed_templates())
ISSUER = next(t for t in TEMPLATES if t.name == "EMV issuer key pair")


def ca_key(index: int, bits: int, expires: date = date(2030, 12, 31)) -> EmvCaKey:
    return EmvCaKey(
        partner_id=BRAND.id,
        partner=BRAND.name,
        rid="A000000999",
        index=index,
        modulus="C1" * (bits // 8),
        exponent=3,
        expires=expires,
        check_sum="00" * 20,
        added_at=T0,
    )


def key_set(bin: str, *, request: IssuerRequestFacts | None = None) -> IssuerKeySet:
    return IssuerKeySet(
        id=f"set-{bin}",
        bin=bin,
        brand_id=BRAND.id,
        brand=BRAND.name,
        key_pair_id=f"pair-{bin}",
        key_pair_label=f"EMV-ISS-{bin}-0001",
        key_pair_kcv="A1B2C3",
        key_pair_template_id=ISSUER.id,
        modulus_bits=1984,
        master_keys=(
            MasterKeyRef("EMV issuer master key (AC)", "E0", "m1", f"IMK-AC-1-{bin}", "D4E5F6"),
        ),
        created_at=T0,
        status=IssuerKeyStatus.GENERATED if request is None else IssuerKeyStatus.REQUESTED,
        request=request,
    )


REQUESTED = IssuerRequestFacts(
    ca_index=0x92, expiry="1229", serial=None, sha256="AB" * 32, made_at=T0
)
DATA = EmvData(
    brands=(BRAND,),
    ca_keys=(ca_key(0x92, 1984), ca_key(0x94, 1408), ca_key(0x95, 1984, date(2025, 12, 31))),
    templates=TEMPLATES,
    key_sets=(key_set("400000", request=REQUESTED), key_set("510000")),
)


def requirement(met: bool = True) -> Requirement:
    return Requirement(
        action=Action.GENERATE_KEY,
        quorum="2 key custodians",
        met=met,
        missing=() if met else ("1 key custodian",),
        reason="",
        present=("Cara Mendes", "Carl Novak"),
    )


def test_the_domain_doctests_run() -> None:
    assert doctest.testmod(emv_keys).failed == 0


# --- reading what people and brands write ----------------------------------------------------


@pytest.mark.parametrize(
    ("bins", "message"),
    [
        (["40000"], "BIN '40000' is not 6 or 8 digits (ISO/IEC 7812-1)."),
        (["4000000"], "BIN '4000000' is not 6 or 8 digits (ISO/IEC 7812-1)."),
        (["40000A"], "BIN '40000A' is not 6 or 8 digits (ISO/IEC 7812-1)."),
        (["400000", "400000"], "BIN 400000 is given twice."),
        ([], "Give at least one BIN."),
    ],
)
def test_bins_are_refused_by_name(bins: list[str], message: str) -> None:
    with pytest.raises(BadInput) as caught:
        check_bins(bins)
    assert caught.value.user_message() == message


def test_a_ca_key_file_as_brands_list_them() -> None:
    text = """# two keys
    RID: A000000999
    Index: 92
    Modulus: C1C2 C3C4
             C5C6
    Exponent: 03
    Expiry date: 12/30
    Check sum: 00112233445566778899AABBCCDDEEFF00112233
    RID: A000000999
    CA public key index: 94
    Modulus: D1D2
    Exponent: 01 00 01
    Expiration date: 2031-06-30
    SHA-1: 00112233445566778899AABBCCDDEEFF00112233
    """
    first, second = parse_ca_keys(text)
    assert (first.index, first.modulus, first.exponent) == (0x92, 0xC1C2C3C4C5C6, 3)
    assert first.expires == date(2030, 12, 31)
    assert (second.index, second.exponent, second.expires) == (0x94, 65537, date(2031, 6, 30))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("RID: A000000999\nColour: blue", "Line 2 is not 'Name: value' with a known name"),
        ("RID: A000000999\nIndex: 92\nIndex: 93", "Line 3 gives the index a second time"),
        ("RID: A000000999\nIndex: 92", "CA key 1 in the file lacks: modulus, exponent, expiry"),
        ("", "The file holds no CA public key"),
    ],
)
def test_a_bad_ca_key_file_is_refused_by_line(text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_ca_keys(text)


def test_a_ca_key_whose_check_sum_does_not_match_is_refused() -> None:
    fields = emv_keys.ca_key_fields(
        rid="A000000003",
        index="01",
        modulus=(
            "C696034213D7D8546984579D1D0F0EA519CFF8DEFFC429354CF3A871A6F7183F1228DA5C7470C055"
            "387100CB935A712C4E2864DF5D64BA93FE7E63E71F25B1E5F5298575EBE1C63AA617706917911DC2"
            "A75AC28B251C7EF40F2365912490B939BCA2124A30A28F54402C34AECA331AB67E1E79B285DD5771"
            "B5D9FF79EA630B75"
        ),
        exponent="03",
        expiry="2030-12-31",
        check_sum="D34A6A776011C7E7CE3AEC5F03AD2F8CFC5503CC",  # Visa test key 01, as published
    )
    kept = EmvCaKey.checked(fields, partner_id="v", partner="Visa", added_at=T0)
    assert kept.id == "A000000003-01" and kept.modulus_length == 128
    assert EmvCaKey.from_record(kept.to_record()) == kept
    with pytest.raises(BadInput, match=r"check sum published is D34A6A77.*a field was mistyped"):
        EmvCaKey.checked(
            replace(fields, modulus=fields.modulus ^ 2), partner_id="v", partner="Visa", added_at=T0
        )


def test_certificates_come_binary_or_as_hex() -> None:
    assert binary_or_hex(b"6A 02\n41", "certificate") == bytes.fromhex("6A0241")
    assert binary_or_hex(b"\x6a\x02\xff", "certificate") == b"\x6a\x02\xff"
    with pytest.raises(BadInput, match="The certificate file is empty"):
        binary_or_hex(b"", "certificate")


def test_an_issuer_key_set_round_trips_its_record() -> None:
    s = key_set("400000", request=REQUESTED)
    assert IssuerKeySet.from_record(s.to_record()) == s
    assert s.subject == "400000" and s.due is None


# --- issuer keys for BINs ----------------------------------------------------------------------


def test_the_job_flow_checks_brand_template_and_bins() -> None:
    flow = IssuerKeysFlow()
    assert flow.validate_choice(brand=None, template=None)["brand"].startswith(
        "There is no card brand yet"
    )
    flow.load(DATA)
    assert [t.name for t in flow.key_pair_templates()] == ["EMV issuer key pair"]
    errors = flow.validate_choice(brand="Bank 042", template="ATM EPP key pair")
    assert errors == {
        "brand": "No card brand named 'Bank 042'.",
        "template": "Template 'ATM EPP key pair' is not an active RSA template of at most "
        "1984 bits.",
    }
    flow.choose(brand="lab brand", template=ISSUER.name)
    assert flow.brand == "Lab Brand" and flow.quorum_template == ISSUER.id
    flow.advance()
    assert flow.step is IssuerKeysStep.BINS
    assert flow.validate_bins("") == {"bins": "Type or load the BINs, one a line."}
    assert flow.validate_bins("400001\n4000") == {
        "bins": "BIN '4000' is not 6 or 8 digits (ISO/IEC 7812-1)."
    }
    assert flow.validate_bins("400001, 510000") == {
        "bins": "BIN 510000 already has issuer keys in use."
    }
    with pytest.raises(FlowError):
        flow.set_bins("400001 400001")
    flow.set_bins("# new\n400001\n40000112  # eight digits\n")
    flow.advance()
    flow.set_requirement(requirement())
    rows = dict(flow.review_rows())
    assert rows["BINs"] == "2: 400001, 40000112" and rows["Keys made"] == "8"
    assert rows["Quorum"] == "2 key custodians"
    assert flow.summary().startswith("Make the issuer keys of 2 BINs for Lab Brand")


def test_the_job_runs_through_the_callable_and_reports_what_was_not_made() -> None:
    flow = IssuerKeysFlow(DATA)
    flow.choose(brand="Lab Brand", template=ISSUER.name)
    flow.advance()
    flow.set_bins("400001\n400002\n400003")
    flow.advance()
    calls: list[dict[str, Any]] = []

    def create(bins: Any, **options: Any) -> IssuerKeyJob:
        calls.append({"bins": bins, **options})
        options["progress"](1, 3)
        made = replace(key_set("400001"), status=IssuerKeyStatus.GENERATED)
        return IssuerKeyJob("Lab Brand", (made,), ("400002", "400003"), "cancelled")

    result = flow.run(create, cancelled=lambda: False)
    assert calls[0]["bins"] == ["400001", "400002", "400003"]
    assert calls[0]["template"] == ISSUER.name and calls[0]["brand"] == "Lab Brand"
    assert len(calls[0]["master_key_templates"]) == 3 and flow.progress == (1, 3)
    flow.record_result(result)
    assert flow.step is IssuerKeysStep.RESULT and flow.stopped
    assert flow.result_summary().startswith("The job stopped (cancelled) after 1 of 3 BINs.")
    assert dict(flow.result_rows())["Not made"] == "400002, 400003"
    assert flow.key_rows() == [("400001", "EMV-ISS-400001-0001", "A1B2C3", "IMK-AC-1-400001")]


# --- the request -------------------------------------------------------------------------------


def test_the_request_flow_offers_the_ca_keys_the_issuer_key_fits_under() -> None:
    flow = IssuerRequestFlow(DATA, today=TODAY)
    # 94 is 1408 bits (shorter than the 1984-bit issuer key), 95 has expired.
    assert [i for i, _ in flow.ca_choices("510000")] == [0x92]
    errors = flow.validate_choice(bin="510000", ca_index=0x94, expiry="13/29", serial="12")
    assert errors == {
        "ca_index": "Lab Brand has no CA key index 94 the issuer key of 1984 bits fits under.",
        "expiry": "Expiry '13/29' is not a month and year MM/YY (e.g. 12/29).",
        "serial": "The certificate serial number must be 3 bytes, not 1.",
    }
    assert (
        flow.validate_choice(bin="510000", ca_index=0x92, expiry="01/31", serial="")["expiry"]
        == "The certificate cannot outlive the CA key (it expires 2030-12-31)."
    )
    assert (
        flow.validate_choice(bin="510000", ca_index=0x92, expiry="01/26", serial="")["expiry"]
        == "Expiry 01/26 is in the past."
    )
    assert (
        flow.validate_choice(bin="999999", ca_index=0x92, expiry="12/29", serial="")["bin"]
        == "BIN 999999 has no issuer key set in use."
    )
    flow.choose(bin="510000", ca_index=0x92, expiry="1229", serial="00 00 2a")
    flow.advance()
    assert flow.step is RequestStep.REVIEW and flow.quorum_template == ISSUER.id
    assert dict(flow.review_rows())["Serial number"] == "00002A"
    seen: list[Any] = []

    def make(bin: str, **options: Any) -> bytes:
        seen.append((bin, options))
        return b'{"request": {}}\n'

    flow.record_result(flow.run(make))
    assert seen == [("510000", {"ca_index": 0x92, "expiry": "12/29", "serial": "00002A"})]
    assert flow.step is RequestStep.RESULT and flow.file_name() == "emv-issuer-510000-request.json"
    digest = hashlib.sha256(b'{"request": {}}\n').hexdigest().upper()
    assert dict(flow.result_rows())["File SHA-256"] == digest  # of the bytes returned


# --- the certificate ---------------------------------------------------------------------------


def test_the_import_flow_wants_a_request_and_the_ca_key_it_asked_for() -> None:
    flow = ImportCertificateFlow(DATA)
    assert flow.requested_bins() == ["400000"]
    assert flow.validate_bin("510000") == {
        "bin": "No certificate was requested for BIN 510000 yet: make the request first "
        "(Request issuer certificate)."
    }
    flow.choose("400000")
    assert flow.ca_index == 0x92 and flow.quorum_template == ISSUER.id
    flow.advance()
    assert flow.step is ImportStep.CERTIFICATE
    errors = flow.validate_certificate(certificate=b"", remainder="XY", exponent=5, ca_index="93")
    assert errors == {
        "certificate": "Load the certificate file the brand sent.",
        "remainder": "The remainder is not hexadecimal bytes (pairs of 0-9, A-F).",
        "exponent": "Exponent '5' is not 03 or 010001 (3 or 65537, EMV Book 2 Annex B2.1).",
        "ca_index": "The request for BIN 400000 asked for CA key index 92; a certificate under "
        "another CA key is refused.",
    }
    flow.set_certificate(
        certificate=b"6a02 FFFF\n", remainder="0102", exponent=65537, ca_index="92", name="c.hex"
    )
    assert flow.certificate == bytes.fromhex("6A02FFFF") and flow.remainder == b"\x01\x02"
    flow.advance()
    rows = dict(flow.review_rows())
    assert rows["Certificate"] == "4 bytes c.hex" and rows["Exponent"] == "010001 (65537)"
    calls: list[Any] = []

    def import_(bin: str, certificate: bytes, **options: Any) -> IssuerKeySet:
        calls.append((bin, certificate, options))
        raise BadInput("Issuer certificate for BIN 400000 refused: it names 400001.")

    with pytest.raises(BadInput, match="refused"):
        flow.run(import_)
    assert calls == [
        (
            "400000",
            bytes.fromhex("6A02FFFF"),
            {"remainder": b"\x01\x02", "exponent": 65537, "ca_index": 0x92},
        )
    ]
    assert flow.result is None and flow.step is ImportStep.REVIEW
    assert flows.EXPONENTS[0] == (65537, "010001 (65537)")
