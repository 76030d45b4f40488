"""The exchange wizards' flows without Qt: steps in order, field errors in words, the
service reached only through the callables passed in (fakes here), and the forms of the
Exchanges page."""

from __future__ import annotations

import doctest
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.partners import Partner
from workstation.domain.policy import Action
from workstation.domain.templates import KeyTemplate, seed_templates
from workstation.errors import BadInput
from workstation.flows import interchange as flows
from workstation.flows.interchange import (
    Direction,
    DukptExportFlow,
    DukptExportStep,
    DukptTestFlow,
    DukptTestStep,
    EcdhFlow,
    EcdhStep,
    ExchangeData,
    ExportTr31Flow,
    ImportTr31Flow,
    KsnSource,
    LegacyImportFlow,
    LegacyStep,
    LoadedFile,
    PartnerForm,
    PartnerUpdateForm,
    PublishForm,
    Tr31ExportStep,
    Tr31ImportStep,
    Tr34Flow,
    Tr34Step,
)
from workstation.flows.wizards import FlowError
from workstation.services.interchange import (
    DukptExport,
    DukptTestKeys,
    ExchangeIdentity,
    ExportedKey,
    ImportedKey,
    InitialKeyLine,
    KeyBlockInfo,
    consecutive_ksns,
)
from workstation.services.logon import Requirement
from workstation.standards import legacy, tr34

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
PARTNER = "Acquirer Bank 042"


def template(seed: str) -> KeyTemplate:
    return next(t for t in seed_templates() if t.id == f"seed-{seed}")


SECRET_PVK = replace(template("pvk"), id="pvk-secret", name="Secret PVK", exportability="N")
TEMPLATES = [*seed_templates(), SECRET_PVK]


def key(
    label: str,
    seed: str,
    *,
    state: KeyState = KeyState.ACTIVE,
    kcv: str = "0A1B2C",
    t: KeyTemplate | None = None,
) -> ManagedKey:
    tpl = t or template(seed)
    return ManagedKey(
        id=f"id-{label}",
        label=label,
        template_id=tpl.id,
        algorithm=tpl.algorithm,
        key_usage=tpl.key_usage,
        mode_of_use=tpl.mode_of_use,
        exportability=tpl.exportability,
        kcv=kcv,
        wrapped=b"wrapped",
        public_key=None,
        state=state,
        version=1,
        created_at=T0,
        activation_date=T0,
        deactivation_date=T0 + timedelta(days=365),
        test_key=tpl.test_key,
    )


ZMK = key("ZMK-AES-1", "zmk", kcv="AAAAAA")
ZMK_T = key("ZMK-T-1", "zmk-tdes", kcv="BBBBBB")
ZMK_OLD = key("ZMK-OLD", "zmk", state=KeyState.DEACTIVATED)
PEK = key("PEK-1", "pek", state=KeyState.PRE_ACTIVATION, kcv="CCCCCC")
CVK = key("CVK-1", "cvk", kcv="DDDDDD")
PVK = key("PVK-SECRET", "pvk", t=SECRET_PVK)
BDK_T = key("BDK-T-1", "bdk-tdes")
BDK_A = key("BDK-A-1", "bdk-aes")
BDK_TEST = key("BDK-TEST-1", "bdk-aes-test")
KEYS = (ZMK, ZMK_T, ZMK_OLD, PEK, CVK, PVK, BDK_T, BDK_A, BDK_TEST)


def partner(name: str = PARTNER, *, krd: bool = False) -> Partner:
    return Partner(
        id=f"p-{name}",
        name=name,
        kind="bank",
        ca_certificates=("-----BEGIN CERTIFICATE-----",),
        krd_certificate="-----BEGIN CERTIFICATE-----" if krd else None,
    )


def data(*, certificates: tuple[str, ...] = ("tr34-krd", "tr34-kdh", "ecdh-p256")) -> ExchangeData:
    return ExchangeData(
        partners=(partner(), partner("Card Brand", krd=True)),
        keys=KEYS,
        templates=tuple(TEMPLATES),
        identity=ExchangeIdentity("CA PEM", {name: "PEM" for name in certificates}),
    )


def requirement(action: Action) -> Requirement:
    return Requirement(action, "2 key custodians + 1 supervisor", True, (), "", ("Cara",))


def imported(label: str = "PEK-042", warnings: tuple[str, ...] = ()) -> ImportedKey:
    return ImportedKey(
        key=replace(PEK, label=label, kcv="0F0F0F"),
        template="PIN encryption key",
        format="TR-31 D",
        partner=PARTNER,
        header="D0112P0AE00E0000",
        wrapping_kcv="AAAAAA",
        warnings=warnings,
    )


def exported(**changes: Any) -> ExportedKey:
    base = ExportedKey(
        key_label="PEK-1",
        key_kcv="CCCCCC",
        wrapping_label="ZMK-AES-1",
        wrapping_kcv="AAAAAA",
        format="TR-31 D",
        partner=PARTNER,
        key_block="D0144P0AE00E0200KC0701CCCCCCKP0701AAAAAA" + "0" * 64,
        header="D0144P0AE00E0200",
    )
    return replace(base, **changes)


# --- shared checks ---------------------------------------------------------------------------


def test_the_module_doctests_pass() -> None:
    result = doctest.testmod(flows)
    assert result.failed == 0 and result.attempted > 10


def test_candidate_filters_follow_the_services_rules() -> None:
    assert flows.export_refusal(PEK, template("pek")) is None
    assert flows.export_refusal(PVK, SECRET_PVK) == (
        "Key PVK-SECRET is not exportable (template 'Secret PVK', exportability N)."
    )
    assert flows.export_refusal(ZMK_OLD, template("zmk")) == (
        "Key ZMK-OLD is deactivated; only a pre-active or active key is exported."
    )
    assert flows.kek_refusal(PEK) == (
        "Key PEK-1 (usage P0) is not a key encryption key (TR-31 key usage K0 or K1)."
    )
    assert flows.kek_refusal(ZMK_OLD) == (
        "Key encryption key ZMK-OLD is deactivated; only an active key can be used."
    )
    assert flows.bdk_refusal(BDK_T) is None and flows.bdk_refusal(ZMK) is not None
    assert flows.strength_refusal(PEK, ZMK_T) is not None  # AES-256 under TDES-2KEY
    assert flows.strength_refusal(CVK, ZMK) is None
    assert flows.key_line(BDK_TEST).endswith("active, TEST KEY")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "Type the check value the partner gave you by another channel (e.g. 0A1B2C)."),
        ("0a1b2c", None),
        ("0A 1B 2C", None),
        (
            "0A1",
            "The check value 0A1 is not 2 to 16 bytes of hexadecimal (4 to 32 digits, "
            "e.g. 0A1B2C).",
        ),
        (
            "ZZZZ",
            "The check value ZZZZ is not 2 to 16 bytes of hexadecimal (4 to 32 digits, "
            "e.g. 0A1B2C).",
        ),
    ],
)
def test_the_partners_check_value_as_typed(text: str, problem: str | None) -> None:
    assert flows.check_kcv(text) == problem


# --- TR-31 export ----------------------------------------------------------------------------


def choice(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "partner": PARTNER,
        "key": "PEK-1",
        "kek": "ZMK-AES-1",
        "version": None,
        "exportability": None,
    }
    values.update(changes)
    return values


def test_export_tr31_lists_only_what_may_be_chosen() -> None:
    flow = ExportTr31Flow(data())
    assert [k.label for k in flow.exportable_keys()] == [
        "BDK-A-1",
        "BDK-T-1",
        "BDK-TEST-1",
        "CVK-1",
        "PEK-1",
        "ZMK-AES-1",
        "ZMK-T-1",
    ]
    assert [k.label for k in flow.keks()] == ["ZMK-AES-1", "ZMK-T-1"]
    assert [v for v, _ in flow.versions("ZMK-AES-1")] == ["D"]
    assert [v for v, _ in flow.versions("ZMK-T-1")] == ["A", "B", "C"]
    assert flow.default_version(ZMK) == "D" and flow.default_version(ZMK_T) == "B"
    # The block may say the key's own exportability, or narrower: never wider.
    assert [c for c, _ in flow.exportabilities("PEK-1")] == [None, "N"]


def test_export_tr31_refusals_name_their_field() -> None:
    flow = ExportTr31Flow(data())
    assert flow.validate_choice(**choice(partner=None, key=None, kek=None)) == {
        "partner": "Choose the partner the key goes to or comes from.",
        "key": "Choose the key to export.",
        "kek": "Choose the key encryption key shared with the partner.",
    }
    assert flow.validate_choice(**choice(key="PVK-SECRET"))["key"].startswith(
        "Key PVK-SECRET is not exportable"
    )
    assert flow.validate_choice(**choice(kek="PEK-1"))["kek"].endswith(
        "(TR-31 key usage K0 or K1)."
    )
    assert flow.validate_choice(**choice(key="ZMK-AES-1")) == {
        "kek": "A key cannot be exported under itself."
    }
    assert "is weaker than key PEK-1" in flow.validate_choice(**choice(kek="ZMK-T-1"))["kek"]
    assert flow.validate_choice(**choice(key="CVK-1", kek="ZMK-T-1", version="D")) == {
        "version": "TR-31 version D is bound with an AES KEK; ZMK-T-1 is TDES-2KEY (versions "
        "A, B, C)."
    }
    assert flow.validate_choice(**choice(exportability="S"))["exportability"].startswith(
        "Key PEK-1 is E — "
    )
    assert flow.validate_choice(**choice(partner="Nobody")) == {
        "partner": "No exchange partner named 'Nobody'; add it first."
    }
    with pytest.raises(FlowError) as refused:
        flow.choose(**choice(key=None))
    assert refused.value.errors == {"key": "Choose the key to export."}
    assert (
        ExportTr31Flow(ExchangeData())
        .validate_choice(**choice(partner=None))["partner"]
        .startswith("There is no exchange partner yet")
    )


def test_export_tr31_runs_through_the_callable_and_keeps_the_result() -> None:
    flow = ExportTr31Flow(data())
    assert flow.path == [Tr31ExportStep.CHOOSE]
    flow.choose(**choice(partner=PARTNER.upper(), exportability="N"))
    assert flow.partner == PARTNER and flow.version == "D"  # defaulted from the KEK
    flow.advance()
    flow.set_requirement(requirement(Action.EXPORT_KEY))
    rows = dict(flow.review_rows())
    assert rows["Key check value"] == "CCCCCC" and rows["KEK check value"] == "AAAAAA"
    assert rows["Key block"] == "TR-31 version D — AES key derivation binding"
    assert rows["Exportability in the block"].startswith("N — ")
    assert rows["Quorum"] == "2 key custodians + 1 supervisor"
    assert flow.quorum_template == "seed-pek"
    assert flow.summary() == (
        f"Export key PEK-1 (KCV CCCCCC) to {PARTNER} as a TR-31 version D key block under "
        "KEK ZMK-AES-1 (KCV AAAAAA)."
    )
    flow.advance()
    assert flow.errors() == {"result": "The key has not been exported yet."}
    calls: list[tuple[Any, ...]] = []

    def export(key_ref: str, kek_ref: str, **kw: Any) -> ExportedKey:
        calls.append((key_ref, kek_ref, kw))
        return exported()

    result = flow.export(export)
    assert calls == [
        ("PEK-1", "ZMK-AES-1", {"partner": PARTNER, "version": "D", "exportability": "N"})
    ]
    flow.record_result(result)
    assert flow.step is Tr31ExportStep.RESULT and flow.finished
    assert dict(flow.result_rows())["KEK check value"] == "AAAAAA"
    assert flow.file_text() == (result.key_block + "\n").encode()
    assert flow.file_name() == "PEK-1-Acquirer-Bank-042-tr31.txt"
    assert "by another channel" in flow.reminder()


# --- TR-31 import ----------------------------------------------------------------------------


def info(*templates: str, version: str = "D") -> KeyBlockInfo:
    return KeyBlockInfo(
        version=version,
        key_usage="P0",
        key_usage_text="PIN encryption",
        algorithm="A",
        mode_of_use="E",
        key_version="00",
        exportability="E",
        optional_blocks=(("KC", "01CCCCCC"),),
        templates=templates,
    )


def test_import_tr31_reads_the_block_then_maps_the_header() -> None:
    flow = ImportTr31Flow(data())
    assert flow.validate_block("  ") == {"block": "Paste the key block, or load it from a file."}
    assert flow.validate_block("D0112P0") == {
        "block": "A key block starts with a 16-character header; this has 7."
    }
    assert flow.validate_block("D0112P0AE00E0000é") == {
        "block": "A key block is printable ASCII text; this one holds other characters."
    }
    assert flow.set_block(" D0112P0AE00E0000\n  ABCDEF\n")
    assert flow.block == "D0112P0AE00E0000ABCDEF"
    assert flow.errors() == {"block": "The key block's header has not been read yet."}
    assert flow.needs_reading("D0112P0AE00E0000ABCDEF")
    flow.set_info(info("PIN encryption key"))
    assert not flow.needs_reading("D0112P0AE00E0000ABCDEF\n")
    assert not flow.set_block("D0112P0AE00E0000ABCDEF")  # the same block: read already
    flow.advance()
    assert flow.template == "PIN encryption key"  # the only one that fits
    rows = dict(flow.header_rows())
    assert rows["Key usage"] == "P0 — PIN encryption"
    assert rows["Optional block KC"] == (
        "01CCCCCC — key check value of the wrapped key (CMAC: CCCCCC)"
    )
    flow.choose_template(None)
    flow.advance()
    assert flow.step is Tr31ImportStep.KEK


def test_import_tr31_template_and_kek_checks() -> None:
    flow = ImportTr31Flow(data())
    flow.set_block("D0112P0AE00E0000ABCDEF")
    flow.set_info(info("PEK A", "PEK B"))
    assert flow.template is None
    assert flow.validate_template(None) == {
        "template": "Several templates fit this key (PEK A, PEK B): choose the one it is "
        "recorded under."
    }
    assert flow.validate_template("PEK B") == {}
    flow.set_info(info())
    assert flow.validate_template(None)["template"].startswith(
        "No active template is for keys with TR-31 usage P0"
    )
    flow.set_info(info("PIN encryption key"))
    assert [k.label for k in flow.keks()] == ["ZMK-AES-1"]  # version D: AES KEKs only
    errors = flow.validate_kek(partner=PARTNER, kek="ZMK-T-1", kcv="", label="")
    assert errors == {
        "kcv": "Type the check value the partner gave you by another channel (e.g. 0A1B2C).",
        "kek": "TR-31 version D is bound with an AES KEK; ZMK-T-1 is TDES-2KEY (versions A, B, C).",
    }


def test_import_tr31_runs_through_the_callable() -> None:
    flow = ImportTr31Flow(data())
    flow.set_block("D0112P0AE00E0000ABCDEF")
    flow.set_info(info("PIN encryption key"))
    flow.advance()
    flow.choose_template("PIN encryption key")
    flow.advance()
    flow.set_kek(partner=PARTNER, kek="ZMK-AES-1", kcv=" 0f0f0f ", label="PEK-042")
    flow.advance()
    calls: list[tuple[Any, ...]] = []

    def call(block: str, kek: str, **kw: Any) -> ImportedKey:
        calls.append((block, kek, kw))
        return imported(warnings=("A key with the same check value is already there.",))

    flow.record_result(flow.run(call))
    assert calls == [
        (
            "D0112P0AE00E0000ABCDEF",
            "ZMK-AES-1",
            {
                "partner": PARTNER,
                "template_ref": "PIN encryption key",
                "expected_kcv": "0F0F0F",
                "label": "PEK-042",
            },
        )
    ]
    assert flow.step is Tr31ImportStep.RESULT
    rows = dict(flow.result_rows())
    assert rows["Label"] == "PEK-042" and rows["Key check value"] == "0F0F0F"
    assert rows["State"].startswith("pre-active: activate it under its quorum")
    assert flow.warnings() == ["A key with the same check value is already there."]
    assert "stored pre-active" in flow.result_summary()


# --- TR-34 -----------------------------------------------------------------------------------


def _cert(
    name: str, public: Any, issuer_key: Any, issuer: x509.Name | None, *, ca: bool, usage: str
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(days=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=usage == "sign",
                content_commitment=False,
                key_encipherment=usage == "encrypt",
                data_encipherment=False,
                key_agreement=usage == "agree",
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(issuer_key, hashes.SHA256())
    )


def token(*, nonce: bytes | None = None, edition: str = "2019") -> bytes:
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = _cert("CA", ca_key.public_key(), ca_key, None, ca=True, usage="ca")
    kdh_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kdh = _cert("KDH", kdh_key.public_key(), ca_key, ca.subject, ca=False, usage="sign")
    krd_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    krd = _cert("KRD", krd_key.public_key(), ca_key, ca.subject, ca=False, usage="encrypt")
    der = serialization.Encoding.DER
    return tr34.build_key_token(
        key=bytes(range(16)),
        header="D0000K0AB00E0000",
        kdh_certificate=kdh.public_bytes(der),
        kdh_sign=tr34.signer_for(kdh_key),
        krd_certificate=krd.public_bytes(der),
        nonce=nonce,
        edition=edition,  # type: ignore[arg-type]
    )


def test_tr34_direction_needs_the_workstations_own_certificate() -> None:
    flow = Tr34Flow(data(certificates=()))
    assert flow.validate_direction(None) == {
        "direction": "Choose whether a key is received or sent."
    }
    assert flow.validate_direction(Direction.IMPORT) == {
        "direction": "The workstation has no tr34-krd certificate yet: publish it on the "
        "Exchanges page (Publish certificate…) and send it to the partner first."
    }
    flow.load(data())
    flow.choose_direction(Direction.EXPORT)
    assert flow.next_step() is Tr34Step.SEND
    flow.choose_direction(Direction.IMPORT)
    assert flow.next_step() is Tr34Step.RECEIVE


def test_tr34_import_reads_the_token_and_asks_for_our_random_number_token() -> None:
    flow = Tr34Flow(data())
    flow.choose_direction(Direction.IMPORT)
    flow.advance()
    assert flow.set_token(LoadedFile("/tmp/garbage.der", b"\x30\x03\x02\x01\x01"))[
        "token"
    ].startswith("garbage.der is not a TR-34 key token: ")
    assert flow.token is None
    nonce = bytes(range(16))
    assert flow.set_token(LoadedFile("/tmp/kek.der", token(nonce=nonce))) == {}
    assert flow.two_pass
    rows = dict(flow.token_rows())
    assert rows["Edition"] == "TR-34 2019, two-pass (answers a random number token)"
    assert rows["Key block header"] == "D0000K0AB00E0000"
    assert flow.templates == ["Zone master key (KEK)"]  # K0, AES, mode B
    errors = flow.validate_receive(partner=PARTNER, template=None, kcv="0A1B2C", label="")
    assert errors == {
        "nonce": "This token answers a random number token: load the one this workstation "
        "sent the partner (each is used once)."
    }
    assert flow.set_nonce_token(LoadedFile("/tmp/x.der", b"nonsense"))["nonce"].startswith(
        "x.der is not a random number token: "
    )
    rkrd = LoadedFile("/tmp/rkrd.der", tr34.random_number_token(nonce))
    assert flow.set_nonce_token(rkrd) == {}
    flow.set_receive(partner=PARTNER, template=None, kcv="0A1B2C", label="")
    assert flow.template == "Zone master key (KEK)"
    flow.advance()
    assert flow.step is Tr34Step.REVIEW and flow.action is Action.IMPORT_KEY
    calls: list[tuple[Any, ...]] = []

    def call(data: bytes, **kw: Any) -> ImportedKey:
        calls.append((data, kw))
        return imported("ZMK-042")

    flow.advance()
    flow.record_result(flow.run_import(call))
    assert calls[0][1] == {
        "partner": PARTNER,
        "template_ref": "Zone master key (KEK)",
        "expected_kcv": "0A1B2C",
        "label": None,
        "nonce_token": rkrd.data,
        "kdh_certificate": None,
    }
    assert flow.step is Tr34Step.RESULT and dict(flow.result_rows())["Label"] == "ZMK-042"


def test_tr34_import_of_a_token_without_the_kdh_certificate_asks_for_it() -> None:
    flow = Tr34Flow(data())
    flow.choose_direction(Direction.IMPORT)
    flow.advance()
    assert flow.set_token(LoadedFile("/tmp/old.der", token(edition="2012"))) == {}
    assert flow.token_lacks_kdh
    assert dict(flow.token_rows())["KDH certificate"] == "not in the token: load it below"
    errors = flow.validate_receive(partner=PARTNER, template=None, kcv="0A1B2C", label="")
    assert errors == {
        "kdh_certificate": "This token does not carry the partner's KDH certificate: load "
        "it (the partner sends it with its CA certificate)."
    }
    assert flow.set_kdh_certificate(LoadedFile("/tmp/kdh.txt", b"hello")) == {
        "kdh_certificate": "kdh.txt is not an X.509 certificate (PEM or DER)."
    }
    kdh = LoadedFile("/tmp/kdh.pem", ecdh_certificate())
    assert flow.set_kdh_certificate(kdh) == {}
    flow.set_receive(partner=PARTNER, template=None, kcv="0A1B2C", label="")
    seen: list[Any] = []
    flow.run_import(lambda data, **kw: seen.append(kw) or imported())
    assert seen[0]["kdh_certificate"] == kdh.data and seen[0]["nonce_token"] is None


def test_tr34_export_needs_a_partner_with_a_krd_certificate() -> None:
    flow = Tr34Flow(data())
    flow.choose_direction(Direction.EXPORT)
    flow.advance()
    assert flow.partners_with_krd() == ["Card Brand"]
    assert flow.validate_send(
        key="ZMK-AES-1", partner=PARTNER, edition="2019", exportability=None
    ) == {
        "partner": f"Partner {PARTNER} has no KRD certificate: add it with Update… on the "
        "Exchanges page."
    }
    assert flow.validate_send(
        key="ZMK-AES-1", partner="Card Brand", edition="2015", exportability=None
    ) == {"edition": "Choose the TR-34 edition the partner reads: 2019 or 2012."}
    assert (
        flow.set_partner_nonce(LoadedFile("/tmp/n.der", tr34.random_number_token(bytes(16)))) == {}
    )
    flow.set_send(key="ZMK-AES-1", partner="Card Brand", edition="2012", exportability=None)
    flow.advance()
    assert flow.quorum_template == "seed-zmk" and flow.action is Action.EXPORT_KEY
    flow.advance()
    calls: list[tuple[Any, ...]] = []

    def call(key_ref: str, **kw: Any) -> ExportedKey:
        calls.append((key_ref, kw))
        return exported(
            key_label="ZMK-AES-1",
            partner="Card Brand",
            token=b"\x30\x00",
            key_block="",
            format="TR-34 2012 two-pass",
        )

    flow.record_result(flow.run_export(call))
    assert calls == [
        (
            "ZMK-AES-1",
            {
                "partner": "Card Brand",
                "edition": "2012",
                "nonce_token": tr34.random_number_token(bytes(16)),
                "exportability": None,
            },
        )
    ]
    assert flow.file_data() == b"\x30\x00"
    assert flow.file_name() == "ZMK-AES-1-Card-Brand-tr34.der"


# --- ECDH ------------------------------------------------------------------------------------


def ecdh_certificate(curve: ec.EllipticCurve | None = None) -> bytes:
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = ec.generate_private_key(curve or ec.SECP256R1())
    cert = _cert("ECDH", leaf.public_key(), ca_key, None, ca=False, usage="agree")
    return cert.public_bytes(serialization.Encoding.PEM)


def test_ecdh_takes_the_curve_from_the_partners_certificate() -> None:
    flow = EcdhFlow(data())
    assert flow.set_certificate(LoadedFile("/tmp/x.pem", b"not a certificate")) == {
        "certificate": "The partner's ECDH certificate is not an X.509 certificate (PEM or DER)."
    }
    assert flow.set_certificate(LoadedFile("/tmp/p384.pem", ecdh_certificate(ec.SECP384R1()))) == {}
    assert flow.curve == "P-384"
    flow.set_partner(Direction.EXPORT, PARTNER)
    flow.advance()
    good = {
        "kdf": "NIST_SP800",
        "hash_name": "SHA-512",
        "shared_info": "A1B2",
        "kek_algorithm": "AES-256",
    }
    assert flow.validate_agreement(curve="P-256", **good) == {
        "curve": "The partner's certificate is on P-384; both sides must use the same curve."
    }
    assert flow.validate_agreement(curve="P-384", **good) == {
        "curve": "The workstation has no ecdh-p384 certificate yet: publish it on the "
        "Exchanges page (Publish certificate…) and send it to the partner first."
    }


@pytest.mark.parametrize(
    ("text", "ok", "line"),
    [
        ("00112233", True, "4 bytes"),
        ("00 11 22 33 44", True, "5 bytes"),
        (
            "0011G2",
            False,
            "Shared information contains 'G' at position 5, which is not a hex digit.",
        ),
        (
            "001",
            False,
            "Shared information has 3 hex digits; give whole bytes (an even number of digits).",
        ),
        ("", False, "Type the shared information agreed with the partner, in hex."),
        ("00" * 1025, False, "Shared information has 1,025 bytes; at most 1,024 are taken."),
    ],
)
def test_shared_information_is_checked_as_typed(text: str, ok: bool, line: str) -> None:
    assert EcdhFlow.shared_info_status(text) == (ok, line)


def test_ecdh_export_and_import_pass_the_agreed_parameters() -> None:
    cert = LoadedFile("/tmp/partner-ecdh.pem", ecdh_certificate())
    flow = EcdhFlow(data())
    assert flow.set_certificate(cert) == {}
    assert flow.validate_partner(None, None) == {
        "direction": "Choose whether a key is sent or received.",
        "partner": "Choose the partner the key goes to or comes from.",
    }
    flow.set_partner(Direction.EXPORT, PARTNER)
    flow.advance()
    flow.set_agreement(
        curve="P-256",
        kdf="ANSI_X963",
        hash_name="SHA-256",
        shared_info="00 11 22 33",
        kek_algorithm="TDES-2KEY",
    )
    flow.advance()
    assert "stronger than the derived TDES-2KEY KEK" in flow.validate_key(key="PEK-1")["key"]
    flow.set_key(key="CVK-1")
    flow.advance()
    assert dict(flow.review_rows())["Shared information"] == "00112233"
    flow.advance()
    calls: list[tuple[Any, ...]] = []

    def call(key_ref: str, **kw: Any) -> ExportedKey:
        calls.append((key_ref, kw))
        return exported(key_label="CVK-1", wrapping_label="ECDH-derived KEK", wrapping_kcv="EEEEEE")

    flow.record_result(flow.run_export(call))
    assert calls == [
        (
            "CVK-1",
            {
                "exportability": None,
                "partner": PARTNER,
                "partner_certificate": cert.data,
                "curve": "P-256",
                "kdf": "ANSI_X963",
                "hash_name": "SHA-256",
                "shared_info": bytes.fromhex("00112233"),
                "kek_algorithm": "TDES-2KEY",
            },
        )
    ]
    assert "check value EEEEEE" in flow.reminder()

    back = EcdhFlow(data())
    back.set_certificate(cert)
    back.set_partner(Direction.IMPORT, PARTNER)
    back.advance()
    back.set_agreement(
        curve="P-256",
        kdf="NIST_SP800",
        hash_name="SHA-512",
        shared_info="A1",
        kek_algorithm="AES-256",
    )
    back.advance()
    assert back.validate_key(block="", kcv="") == {
        "block": "Paste the key block, or load it from a file.",
        "kcv": "Type the check value the partner gave you by another channel (e.g. 0A1B2C).",
    }
    back.set_key(block="D0112P0AE00E0000ABCD", kcv="0f0f0f")
    back.advance()
    back.advance()
    seen: list[tuple[Any, ...]] = []
    back.record_result(back.run_import(lambda block, **kw: seen.append((block, kw)) or imported()))
    assert seen[0][0] == "D0112P0AE00E0000ABCD"
    assert seen[0][1]["expected_kcv"] == "0F0F0F" and seen[0][1]["shared_info"] == b"\xa1"
    assert back.step is EcdhStep.RESULT


# --- legacy ----------------------------------------------------------------------------------


def test_legacy_import_warns_before_and_after() -> None:
    flow = LegacyImportFlow(data())
    assert flow.warning() == legacy.WARNING + "."
    with pytest.raises(FlowError) as refused:
        flow.acknowledge(False)
    assert refused.value.errors["acknowledged"].startswith("Tick the box")
    flow.acknowledge(True)
    flow.advance()
    assert [k.label for k in flow.zmks()] == ["ZMK-T-1"]  # TDES, K0, active
    assert "Card verification key" in flow.templates
    assert "PIN encryption key" not in flow.templates  # AES: not under a TDES ZMK
    values = {
        "encrypted": "0123 4567 89AB CDEF 0123 4567 89AB CD",
        "zmk": "ZMK-AES-1",
        "partner": PARTNER,
        "template": "Card verification key",
        "kcv": "",
        "label": "",
    }
    assert flow.validate_input(**values) == {
        "kcv": "Type the check value the partner gave you by another channel (e.g. 0A1B2C).",
        "encrypted": "The encrypted key has 30 hex digits; a TDES-2KEY key encrypted under a "
        "ZMK has 32.",
        "zmk": "Zone master key ZMK-AES-1 is not a TDES key.",
    }
    values.update(encrypted="0123456789ABCDEF0123456789abcdef", zmk="ZMK-T-1", kcv="1A2B3C")
    flow.set_input(**values)
    flow.advance()
    flow.advance()
    calls: list[tuple[Any, ...]] = []

    def call(encrypted: str, zmk: str, **kw: Any) -> ImportedKey:
        calls.append((encrypted, zmk, kw))
        return imported("CVK-042", warnings=(legacy.WARNING,))

    flow.record_result(flow.run(call))
    assert calls[0][:2] == ("0123456789ABCDEF0123456789ABCDEF", "ZMK-T-1")
    assert calls[0][2]["template_ref"] == "Card verification key"
    assert flow.step is LegacyStep.RESULT
    assert flow.warnings() == [legacy.WARNING + "."]  # said once, first


# --- DUKPT -----------------------------------------------------------------------------------


def dukpt_flow(bdk: str = "BDK-T-1", kek: str = "ZMK-T-1") -> DukptExportFlow:
    flow = DukptExportFlow(data(), consecutive=consecutive_ksns)
    flow.choose(bdk=bdk, kek=kek, partner=PARTNER)
    flow.advance()
    return flow


def test_dukpt_choice() -> None:
    flow = DukptExportFlow(data())
    assert [k.label for k in flow.bdks()] == ["BDK-A-1", "BDK-T-1", "BDK-TEST-1"]
    assert flow.validate_choice(bdk="ZMK-T-1", kek="BDK-T-1", partner=PARTNER) == {
        "bdk": "Key ZMK-T-1 (usage K0) is not a base derivation key (TR-31 key usage B0).",
        "kek": "Key BDK-T-1 (usage B0) is not a key encryption key (TR-31 key usage K0 or K1).",
    }
    assert (
        "weaker than key BDK-A-1"
        in flow.validate_choice(bdk="BDK-A-1", kek="ZMK-T-1", partner=PARTNER)["kek"]
    )


def test_dukpt_ksns_from_a_list_name_the_wrong_lines() -> None:
    flow = dukpt_flow()
    assert flow.example_ksn() == "FFFF9876543210E00000"
    text = "\n".join(
        ["# lab", "FFFF9876543210E00000", "XYZ", "FFFF9876543210E00001", "FFFF9876543210E00000"]
    )
    assert flow.validate_ksns(KsnSource.LIST, text=text) == {
        "ksns": "KSN 2 ('XYZ') is not 20 hexadecimal digits (an TDES DUKPT KSN). KSN 3 "
        "(FFFF9876543210E00001) has a transaction counter; an initial key is derived from a "
        "KSN whose counter is 0."
    }
    assert flow.validate_ksns(
        KsnSource.LIST, text="FFFF9876543210E00000\nffff9876543210e00000"
    ) == {
        "ksns": "KSN 2 names the same device as KSN 1 (initial key ID FFFF9876543210E00000): "
        "each device is given once."
    }
    assert flow.validate_ksns(KsnSource.FILE, text="# nothing\n") == {
        "ksns": "Load a file of KSNs, one a line."
    }
    many = "\n".join(f"X{i}" for i in range(5))
    assert flow.validate_ksns(KsnSource.LIST, text=many)["ksns"].endswith("2 more KSNs are wrong.")


def test_dukpt_ksns_from_the_first_and_a_count() -> None:
    flow = dukpt_flow()
    assert flow.needs_descriptor
    assert flow.validate_ksns(KsnSource.RANGE, first="", count=0) == {
        "first_ksn": "Type the first device's KSN.",
        "count": "Give between 1 and 200,000 devices.",
        "descriptor": "Give the KSN descriptor the terminals' host uses: the lengths of the "
        "BDK ID, sub-key ID and device ID in hex digits, e.g. A05.",
    }
    assert flow.validate_ksns(
        KsnSource.RANGE, first="FFFF9876543210E00001", count=2, descriptor="A05"
    ) == {
        "first_ksn": "The first KSN (FFFF9876543210E00001) has a transaction counter; an "
        "initial key is derived from a KSN whose counter is 0."
    }
    # The command line's rule decides what fits the descriptor, and says so.
    errors = flow.validate_ksns(
        KsnSource.RANGE, first="FFFFFFFFFFFFFFE00000", count=5, descriptor="A05"
    )
    assert errors["range"].startswith("KSN range from FFFFFFFFFFFFFFE00000: count 5 from ")
    assert flow.validate_ksns(
        KsnSource.RANGE, first="FFFF9876543210E00000", count=5, descriptor="Z05"
    )["range"].startswith("KSN range from FFFF9876543210E00000: descriptor must be three")
    flow.set_ksns(KsnSource.RANGE, first="FFFF9876543210E00000", count=3, descriptor="a05")
    assert flow.ksns == [
        "FFFF9876543210E00000",
        "FFFF9876543211000000",  # the device ID's last bit is the counter's top bit
        "FFFF9876543211200000",
    ]
    flow.advance()
    rows = dict(flow.review_rows())
    assert rows["Devices"] == "3 (3 consecutive devices from FFFF9876543210E00000, descriptor A05)"
    assert rows["Last KSN"] == "FFFF9876543211200000"
    assert rows["Each initial key"] == "TR-31 version B, usage B1, not exportable"

    aes = dukpt_flow("BDK-A-1", "ZMK-AES-1")
    assert not aes.needs_descriptor
    aes.set_ksns(KsnSource.RANGE, first="1234567890123456", count=2)
    assert aes.ksns == ["123456789012345600000000", "123456789012345700000000"]


def test_dukpt_run_reports_progress_and_a_stop() -> None:
    flow = dukpt_flow("BDK-A-1", "ZMK-AES-1")
    flow.set_ksns(KsnSource.LIST, text="1234567890123456\n123456789012345700000000")
    flow.advance()
    flow.advance()
    reported: list[tuple[int, int]] = []

    def call(
        bdk: str, kek: str, ksns: Any, *, partner: str, progress: Any, cancelled: Any
    ) -> DukptExport:
        assert (bdk, kek, partner, cancelled()) == ("BDK-A-1", "ZMK-AES-1", PARTNER, False)
        progress(2, 2)
        lines = tuple(InitialKeyLine(k, k[:16], "D0000", "111111") for k in ksns)
        return DukptExport("BDK-A-1", "AAAAAA", "ZMK-AES-1", "BBBBBB", PARTNER, lines, "F00D")

    result = flow.run(call, progress=lambda d, t: reported.append((d, t)), cancelled=lambda: False)
    assert reported == [(2, 2)] and flow.progress == (2, 2)
    flow.record_result(result)
    assert flow.step is DukptExportStep.RESULT and not flow.stopped
    assert flow.file_text() == result.text().encode()
    assert flow.file_text().decode().splitlines()[0] == "ksn,initial_key_id,tr31_key_block,kcv"
    assert flow.file_name() == "BDK-A-1-Acquirer-Bank-042-initial-keys.csv"
    assert dict(flow.result_rows())["File SHA-256"] == "F00D"

    stopped = dukpt_flow()
    stopped.set_ksns(KsnSource.LIST, text="FFFF9876543210E00000")
    stopped.record_result(
        DukptExport("BDK-T-1", "A", "ZMK-T-1", "B", PARTNER, (), "", stopped="cancelled")
    )
    assert stopped.stopped and stopped.file_text() == b"" and stopped.result_rows() == []
    assert stopped.result_summary().startswith("The job stopped (cancelled). No initial key")


def test_dukpt_test_tool_lists_test_keys_first_and_leaves_refusal_to_the_service() -> None:
    flow = DukptTestFlow(data())
    assert [k.label for k in flow.bdks()] == ["BDK-TEST-1", "BDK-A-1", "BDK-T-1"]
    assert flow.validate_choice("BDK-TEST-1", "12345") == {
        "ksn": "KSN '12345' is not 24 hexadecimal digits (AES DUKPT)."
    }
    assert flow.validate_choice("BDK-T-1", "") == {
        "ksn": "Type the transaction's KSN (20 hex digits)."
    }
    flow.choose("BDK-T-1", "FFFF9876543210E00001")  # not a test key: the service decides
    assert flow.quorum_template == "seed-bdk-tdes"
    flow.choose("BDK-TEST-1", "1234 5678 9012 3456 0000 0001")
    keys = DukptTestKeys(
        "BDK-TEST-1",
        "123456789012345600000001",
        "AES",
        "11" * 16,
        "22" * 16,
        {"pin encryption": "33" * 16},
    )
    seen: list[tuple[str, str]] = []
    flow.record_result(flow.derive(lambda bdk, ksn: seen.append((bdk, ksn)) or keys))
    assert seen == [("BDK-TEST-1", "123456789012345600000001")]
    assert flow.step is DukptTestStep.RESULT
    assert flow.banner().startswith("TEST KEY — BDK-TEST-1: for checking terminals")
    assert flow.key_rows()[-1] == ("PIN encryption", "33" * 16)
    flow.forget()
    assert flow.key_rows() == []


# --- forms -----------------------------------------------------------------------------------


def test_partner_form(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"CA")
    form = PartnerForm(name="", kind="")
    assert form.validate() == {
        "name": "Give the partner's name.",
        "kind": "Choose what kind of partner it is (bank, processor, brand, host-hsm, cloud, "
        "device-vendor, other).",
    }
    form = PartnerForm(name="Bank<1>", kind="bank", crl_files=[tmp_path / "x.crl"])
    errors = form.validate()
    assert errors["name"].startswith("Partner name 'Bank<1>' is not valid")
    assert errors["crl_files"] == f"The CRL file {tmp_path / 'x.crl'} does not exist."
    form = PartnerForm(name="bank 7", kind="bank", existing=frozenset({"bank 7"}))
    assert form.validate() == {"name": "A partner named bank 7 already exists."}
    form = PartnerForm(name=" Bank 7 ", kind="bank", ca_files=[ca], notes=" n ")
    assert form.read() == {
        "name": "Bank 7",
        "kind": "bank",
        "ca_certificates": [b"CA"],
        "crls": [],
        "krd_certificate": None,
        "notes": "n",
    }
    ca.write_bytes(b"")
    with pytest.raises(BadInput, match=r"The CA certificate file is empty\."):
        form.read()


def test_partner_update_form(tmp_path: Path) -> None:
    crl = tmp_path / "new.crl"
    crl.write_bytes(b"CRL")
    p = replace(partner(), notes="old", crls=("a", "b"))
    assert PartnerUpdateForm(p, notes="old").validate() == {
        "form": "Nothing to change: add a CA certificate, replace the CRLs, give a KRD "
        "certificate or change the notes."
    }
    form = PartnerUpdateForm(p, replace_crls=True, crl_files=[crl], notes="new")
    assert form.describe() == [
        "Replace the 2 stored CRL(s) with 1 new one(s).",
        "Change the notes.",
    ]
    assert form.read() == {
        "add_ca_certificates": [],
        "crls": [b"CRL"],
        "krd_certificate": None,
        "notes": "new",
    }


def test_publish_form(tmp_path: Path) -> None:
    taken = tmp_path / "taken.pem"
    taken.write_text("x")
    form = PublishForm("tr34-krd", None, None, existing=frozenset({"ecdh-p256"}))
    assert form.validate() == {"certificate_file": "Choose where the certificate (PEM) is saved."}
    assert form.makes_new and "made in the HSM now" in form.describe()
    form = PublishForm(
        "ecdh-p256", taken, tmp_path / "nowhere" / "ca.pem", existing=frozenset({"ecdh-p256"})
    )
    assert form.validate() == {
        "certificate_file": f"{taken} exists; choose a new file name for the certificate "
        "(nothing is overwritten).",
        "ca_file": f"The folder {tmp_path / 'nowhere'} does not exist.",
    }
    assert not form.makes_new
    same = tmp_path / "same.pem"
    assert PublishForm("ecdh-p256", same, same).validate() == {
        "ca_file": "Save the CA certificate in another file than the certificate."
    }
    assert PublishForm("exchange-ca", same).validate() == {
        "name": "Choose the exchange key whose certificate you publish."
    }


def test_key_algorithm_strength_table_covers_the_secret_key_algorithms() -> None:
    secret = [a for a in KeyAlgorithm if a.is_symmetric]
    assert set(secret) == set(flows._STRENGTH)
