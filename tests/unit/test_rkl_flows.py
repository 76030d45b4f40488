"""The RKL wizards' flows without Qt: steps in order, field errors in words, and the RKL
service reached only through the callables passed in (fakes here, which record what they
were given)."""

from __future__ import annotations

import doctest
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from workstation.domain import rkl as domain_rkl
from workstation.domain.certificates import CertificateRecord
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.partners import Partner
from workstation.domain.policy import Action
from workstation.domain.rkl import AtmVendor, RklHostKey, RklStatus, host_key_material
from workstation.domain.templates import KeyTemplate, seed_templates
from workstation.flows import rkl as flows_rkl
from workstation.flows.interchange import LoadedFile
from workstation.flows.rkl import (
    BundleFlow,
    BundleStep,
    HostKeyFlow,
    HostKeyMode,
    HostKeyStep,
    RklData,
    VendorFlow,
    VendorStep,
)
from workstation.flows.wizards import FlowError
from workstation.services.certificates import CertificateRequest
from workstation.services.logon import Requirement
from workstation.services.rkl import HostKey, RklBundle

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
RKL = "ATM RKL host key pair"
VENDOR_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
HOST_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def template(seed: str) -> KeyTemplate:
    return next(t for t in seed_templates() if t.id == f"seed-{seed}")


def pem(key: Any) -> str:
    return str(
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def spki(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def key(label: str, seed: str, *, state: KeyState = KeyState.ACTIVE) -> ManagedKey:
    tpl = template(seed)
    pair = not tpl.algorithm.is_symmetric
    return ManagedKey(
        id=f"id-{label}",
        label=label,
        template_id=tpl.id,
        algorithm=tpl.algorithm,
        key_usage=tpl.key_usage,
        mode_of_use=tpl.mode_of_use,
        exportability=tpl.exportability,
        kcv="0A1B2C",
        wrapped=b"wrapped",
        public_key=spki(HOST_KEY) if pair else None,
        state=state,
        version=1,
        created_at=T0,
        activation_date=T0,
        deactivation_date=T0 + timedelta(days=365),
    )


CERT_VENDOR = AtmVendor(
    "v-c", "Vendor C", "certificate", "seed-atm-rkl-host", RKL, partner="Vendor CA"
)
SIG_VENDOR = AtmVendor(
    "v-s",
    "Vendor S",
    "signature",
    "seed-atm-rkl-host",
    RKL,
    public_key=pem(VENDOR_KEY),
    signature_scheme="pkcs1v15",
    signed_form="pkcs1",
)
ZMK = key("ZMK-AES-1", "zmk")
ZMK_T = key("ZMK-T-1", "zmk-tdes")


def host(label: str, vendor: AtmVendor, status: RklStatus) -> HostKey:
    k = key(label, "atm-rkl-host", state=KeyState.PRE_ACTIVATION)
    link = RklHostKey(k.id, label, vendor.id, vendor.name, vendor.style, status, T0, T0)
    return HostKey(k, link, vendor)


READY = host("RKL-0001", CERT_VENDOR, RklStatus.READY)
WAITING = host("RKL-0002", SIG_VENDOR, RklStatus.AWAITING_SIGNATURE)
PARTNERS = (
    Partner("p1", "Vendor CA", "device-vendor", ca_certificates=("-----BEGIN CERTIFICATE-----",)),
    Partner("p2", "Empty vendor CA", "device-vendor"),
    Partner("p3", "Host HSM 1", "host-hsm"),
    Partner("p4", "Acquirer Bank 042", "bank"),
)


def data(**changes: Any) -> RklData:
    base = RklData(
        vendors=(CERT_VENDOR, SIG_VENDOR),
        host_keys=(READY, WAITING),
        partners=PARTNERS,
        templates=tuple(seed_templates()),
        keys=(ZMK, ZMK_T),
    )
    return replace(base, **changes)


def requirement(action: Action) -> Requirement:
    return Requirement(action, "1 key custodian + 1 supervisor", True, (), "", ("Cara",))


def certificate_pem(cn: str) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(HOST_KEY.public_key())
        .serial_number(1)
        .not_valid_before(T0)
        .not_valid_after(T0 + timedelta(days=1))
        .sign(HOST_KEY, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def certificate_request(label: str, subject: str) -> CertificateRequest:
    # Built from the fields the class has: its DER field is newer than this test.
    values = {"key_label": label, "subject": subject, "pem": "PEM TEXT", "sha256": "AB" * 32}
    values["der"] = b"DER"
    names = {f.name for f in fields(CertificateRequest)}
    return CertificateRequest(**{k: v for k, v in values.items() if k in names})


class Recorder:
    """A fake service call: records its arguments, returns what it was given."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((args, kwargs))
        return self.result


def test_module_doctests() -> None:
    for module in (domain_rkl, flows_rkl):
        assert doctest.testmod(module).failed == 0


# --- vendor profiles -------------------------------------------------------------------------


def test_vendor_profile_fields_are_checked_by_name() -> None:
    flow = VendorFlow(data())
    assert flow.templates() == [RKL]  # RSA-2048 and exportable; the EPP pair is not
    errors = flow.validate_profile(existing=None, name="", style=None, template=None, notes="")
    assert errors == {
        "name": "Give the vendor's name.",
        "style": "Choose how the vendor vouches for host keys: certificate or signature.",
        "template": "Choose the key pair template the host keys are made from.",
    }
    errors = flow.validate_profile(
        existing=None, name="vendor c", style="certificate", template="ATM EPP key pair", notes=""
    )
    assert errors["name"] == "An ATM vendor profile named vendor c already exists."
    assert "does not let its keys leave (exportability N)" in errors["template"]
    errors = flow.validate_profile(
        existing=None, name="X", style="signature", template="PIN encryption key", notes=""
    )
    assert "makes AES-256 keys; an RKL host key is an RSA key pair" in errors["template"]
    with pytest.raises(FlowError):
        flow.advance()


def test_certificate_vendor_added_through_the_callable() -> None:
    flow = VendorFlow(data())
    flow.set_profile(existing=None, name=" Vendor N ", style="certificate", template=RKL, notes="")
    flow.advance()
    assert flow.step is VendorStep.DETAILS
    assert flow.vendor_partners() == ["Empty vendor CA", "Vendor CA"]
    none = flow.validate_details(partner=None, public_key=None, scheme=None, form=None)
    assert none == {
        "partner": "Choose the partner holding the vendor's CA certificates (a device vendor)."
    }
    bank = flow.validate_details(
        partner="Acquirer Bank 042", public_key=None, scheme=None, form=None
    )
    assert "is a bank partner; a vendor CA is a partner of kind device-vendor" in bank["partner"]
    empty = flow.validate_details(
        partner="Empty vendor CA", public_key=None, scheme=None, form=None
    )
    assert "has no CA certificate" in empty["partner"]
    flow.set_details(partner="vendor ca", public_key=None, scheme=None, form=None)
    flow.advance()
    flow.set_requirement(requirement(Action.MANAGE_PARTNERS))
    rows = dict(flow.review_rows())
    assert rows["Vendor"] == "Vendor N" and rows["Vendor CA (partner)"] == "Vendor CA"
    assert rows["Quorum"] == "1 key custodian + 1 supervisor"
    made = replace(CERT_VENDOR, id="v-n", name="Vendor N")
    add, update = Recorder(made), Recorder(None)
    assert flow.save(add, update) is made and update.calls == []
    args, kwargs = add.calls[0]
    assert args == ("Vendor N", "certificate")
    assert kwargs["template"] == RKL and kwargs["partner"] == "Vendor CA"
    assert kwargs["public_key"] is None and kwargs["signature_scheme"] is None
    flow.advance()
    flow.record_result(made)
    assert flow.step is VendorStep.RESULT and dict(flow.result_rows())["Vendor"] == "Vendor N"


def test_signature_vendor_key_is_read_before_it_is_sent() -> None:
    flow = VendorFlow(data())
    flow.set_profile(existing=None, name="Vendor T", style="signature", template=RKL, notes="")
    flow.advance()
    missing = flow.validate_details(partner=None, public_key=None, scheme=None, form=None)
    assert set(missing) == {"public_key", "scheme", "form"}
    bad = flow.validate_details(
        partner=None, public_key=LoadedFile("key.pem", b"garbage"), scheme="pss", form="spki"
    )
    assert bad["public_key"].startswith("key.pem: The vendor's public key is not a public key")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - refused
    weak = flow.validate_details(
        partner=None,
        public_key=LoadedFile("small.pem", pem(small).encode()),
        scheme="pss",
        form="spki",
    )
    assert "RSA-1024; at least RSA-2048" in weak["public_key"]
    loaded = LoadedFile("vendor.pem", pem(VENDOR_KEY).encode())
    flow.set_details(partner=None, public_key=loaded, scheme="pss", form="spki")
    rows = dict(flow.review_rows())
    assert rows["Vendor key SHA-256"] == domain_rkl.fingerprint(spki(VENDOR_KEY))
    add = Recorder(SIG_VENDOR)
    flow.save(add, Recorder(None))
    assert add.calls[0][1]["public_key"] == loaded.data
    assert add.calls[0][1]["signature_scheme"] == "pss"


def test_changing_a_profile_sends_only_what_changed() -> None:
    flow = VendorFlow(data())
    assert flow.prefill("Vendor S")["form"] == "pkcs1"
    flow.set_profile(existing="Vendor S", name="ignored", style=None, template=RKL, notes="new")
    assert flow.name == "Vendor S" and flow.style == "signature"
    flow.advance()
    # The stored key is kept when no new key file is loaded.
    flow.set_details(partner=None, public_key=None, scheme="pkcs1v15", form="spki")
    update = Recorder(SIG_VENDOR)
    flow.save(Recorder(None), update)
    args, kwargs = update.calls[0]
    assert args == ("Vendor S",)
    assert kwargs == {
        "template": None,
        "partner": None,
        "public_key": None,
        "signature_scheme": None,
        "signed_form": "spki",
        "notes": "new",
    }


# --- host keys -------------------------------------------------------------------------------


def test_new_host_key_for_a_certificate_vendor_goes_through_every_step() -> None:
    flow = HostKeyFlow(data())
    assert flow.validate_start(mode=None, vendor=None, label=None, host_key=None) == {
        "mode": "Choose whether to make a new host key or take up one made earlier."
    }
    errors = flow.validate_start(mode=HostKeyMode.NEW, vendor=None, label="RKL-0001", host_key=None)
    assert errors == {
        "vendor": "Choose the ATM vendor the host key is for.",
        "label": "A key labelled 'RKL-0001' already exists.",
    }
    flow.set_start(mode=HostKeyMode.NEW, vendor="vendor c", label="", host_key=None)
    assert flow.advance() is HostKeyStep.CREATE
    assert flow.action is Action.GENERATE_KEY and flow.quorum_template == "seed-atm-rkl-host"
    assert dict(flow.create_rows())["Label"] == "from the template's pattern"
    made = host("RKL-0003", CERT_VENDOR, RklStatus.AWAITING_CERTIFICATE)
    create = Recorder(made)
    assert flow.create(create) is made
    assert create.calls == [(("Vendor C",), {"label": None})]
    flow.record_created(made)
    assert flow.step is HostKeyStep.SEND and flow.action is Action.MANAGE_CERTIFICATES
    assert flow.errors() == {"sent": "Make what goes to the vendor first."}
    assert "subject" in flow.validate_subject("")
    assert flow.validate_subject("CN=a, O=b")  # a space after the comma: refused by pkix
    flow.set_subject("CN=RKL host 3,O=Bank,C=GB")
    request = certificate_request("RKL-0003", "CN=RKL host 3,O=Bank,C=GB")
    call = Recorder(request)
    flow.record_sent(flow.make_request(call))
    assert call.calls[0][0][0] == "RKL-0003"
    assert flow.sent_file() == (b"PEM TEXT", "RKL-0003.csr", "certificate request")
    assert flow.advance() is HostKeyStep.RECEIVE
    assert flow.validate_answer() == {
        "answer": "Load the certificate the vendor's CA issued for the host key."
    }
    assert "answer" in flow.validate_answer(certificate=LoadedFile("x.pem", b"not a certificate"))


def test_taking_up_a_signature_host_key_and_importing_the_signature() -> None:
    flow = HostKeyFlow(data())
    flow.set_start(mode=HostKeyMode.CONTINUE, vendor=None, label=None, host_key="RKL-0002")
    assert flow.advance() is HostKeyStep.RECEIVE  # the vendor's answer is here
    material = host_key_material(WAITING.key.public_key or b"", "pkcs1")
    signature = VENDOR_KEY.sign(material, padding.PKCS1v15(), hashes.SHA256())
    short = flow.validate_answer(signature=LoadedFile("sig.bin", signature[:-2]))
    assert short == {
        "answer": "sig.bin holds 254 bytes; Vendor S's key makes signatures of 256 bytes (raw, "
        "or as hex or base64 text)."
    }
    flow.set_answer(signature=LoadedFile("sig.hex", signature.hex().encode() + b"\n"))
    rows = dict(flow.answer_rows())
    assert rows["Signature"] == "sig.hex" and rows["Checked with"] == "Vendor S's public key"
    flow.advance()
    done = replace(WAITING, link=replace(WAITING.link, status=RklStatus.READY))
    certificate, sign = Recorder(None), Recorder(done)
    flow.import_answer(certificate, sign)
    assert certificate.calls == [] and sign.calls == [(("RKL-0002", signature), {})]
    flow.record_result(done)
    assert flow.step is HostKeyStep.RESULT and dict(flow.result_rows())["Status"] == "ready"
    # Taken up to send the material again first.
    again = HostKeyFlow(data())
    again.set_start(
        mode=HostKeyMode.CONTINUE, vendor=None, label=None, host_key="RKL-0002", answer_here=False
    )
    assert again.advance() is HostKeyStep.SEND
    again.record_sent(material)
    assert again.sent_file() == (material, "RKL-0002-pkcs1.der", "public key to sign")


def test_certificate_answer_goes_with_its_chain() -> None:
    flow = HostKeyFlow(data())
    flow.set_start(mode=HostKeyMode.CONTINUE, vendor=None, label=None, host_key="RKL-0001")
    flow.advance()
    leaf, ca = (
        LoadedFile("leaf.pem", certificate_pem("leaf")),
        LoadedFile("ca.pem", certificate_pem("ca")),
    )
    flow.set_answer(certificate=leaf, chain=[ca])
    record = CertificateRecord(
        "c",
        READY.key.id,
        "RKL-0001",
        "CN=x",
        "CN=ca",
        "01",
        T0,
        T0,
        "FF",
        "PEM",
        "CN=ca",
        "Vendor CA",
        T0,
    )
    done = replace(READY, certificate=record)
    certificate = Recorder(done)
    flow.advance()
    flow.import_answer(certificate, Recorder(None))
    assert certificate.calls == [(("RKL-0001", leaf.data), {"chain": [ca.data]})]


# --- the bundle ------------------------------------------------------------------------------


def test_bundle_choices_and_refusals() -> None:
    flow = BundleFlow(data())
    assert [h.key.label for h in flow.host_keys()] == ["RKL-0001"]  # ready ones only
    assert flow.host_partners() == ["Host HSM 1"]
    errors = flow.validate_choice(host_key="RKL-0002", kek="ZMK-T-1", partner="Acquirer Bank 042")
    assert errors["host_key"] == "Host key RKL-0002 is awaiting signature."
    assert errors["partner"].startswith("Partner Acquirer Bank 042 is a bank partner")
    weak = flow.validate_choice(host_key="RKL-0001", kek="ZMK-T-1", partner="Host HSM 1")
    assert weak == {
        "kek": "KEK ZMK-T-1 (TDES-2KEY, 80-bit strength) is weaker than host key RKL-0001 "
        "(RSA-2048, 112-bit strength): a key travels only under a KEK at least as strong "
        "(ANSI X9.143, PCI PIN 18-3)."
    }
    secret = replace(READY, key=replace(READY.key, exportability="N"))
    assert "is not exportable" in (flows_rkl.bundle_refusal(secret, template("atm-rkl-host")) or "")
    flow.choose(host_key="RKL-0001", kek="ZMK-AES-1", partner="host hsm 1")
    assert flow.advance() is BundleStep.REVIEW and flow.quorum_template == "seed-atm-rkl-host"
    assert "TR-31 version D" in dict(flow.review_rows())["Key block"]
    bundle = RklBundle(
        "RKL-0001",
        "0A1B2C",
        "Vendor C",
        "certificate",
        "Host HSM 1",
        "ZMK-AES-1",
        "0A1B2C",
        "TR-31 D",
        "D0000S0RS00E0200",
        "{}",
        (("private-key.tr31", "AA"),),
        "BB",
        b"zip",
    )
    call = Recorder(bundle)
    assert flow.export(call) is bundle
    assert call.calls == [
        (("RKL-0001", "ZMK-AES-1"), {"host_partner": "Host HSM 1", "version": None})
    ]
    flow.advance()
    flow.record_result(bundle)
    assert flow.step is BundleStep.RESULT
    assert flow.file_name() == "rkl-RKL-0001-Host-HSM-1.zip" and flow.file_data() == b"zip"
    assert "another channel" in flow.reminder()
    assert dict(flow.result_rows())["Bundle SHA-256"] == "BB"
