# ruff: noqa: F811 - the tests take the imported `world` fixture as their parameter
"""ATM remote key loading on the real stack (SoftHSM2, pcscd with virtual cards, SQLite):
host key pairs made in the HSM for a certificate vendor (a vendor CA made here issues the
certificate) and a signature vendor (a vendor RSA key made here signs the host key), and
the bundle for the host HSM opened as a host would: the TR-31 block unwrapped with the
KEK's clear value gives a PKCS #8 key whose public key is the certified or signed one, and
every file matches the manifest. Each refusal has its own message and changes nothing."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.integration.test_certificates import CERTIFIERS, issue
from tests.integration.test_interchange import (
    ADMINS,
    EXPORTERS,
    Exchange,
    PartnerPki,
    pem,
    world,  # noqa: F401 - the same world fixture
)
from workstation.domain.rkl import RklStatus
from workstation.errors import AlreadyExists, BadInput, IntegrityError, PolicyRefused
from workstation.services.rkl import RklBundle
from workstation.standards import pkix, tr31

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

VENDOR_CA = "Vendor C Root CA"  # the certificate vendor's CA, a device-vendor partner
HOST = "Host HSM 1"  # the host HSM receiving the bundle
CERT_VENDOR = "Vendor C (certificate)"
SIG_VENDOR = "Vendor S (signature)"
RKL_TEMPLATE = "ATM RKL host key pair"  # seed template: RSA-2048, S0, S, E
MAKERS = ("Cara", "Carl")  # key generation: 2 key custodians


def spki(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def pkcs1(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1))


def key_pem(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


class Vendors:
    """The two vendors' sides, made in software: a CA and an RSA signing key."""

    def __init__(self, world: Exchange) -> None:
        self.world = world
        self.ca = PartnerPki()
        self.signer = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        session = world.session(*ADMINS)
        interchange, rkl = world.s.interchange, world.s.rkl
        interchange.add_partner(
            session,
            VENDOR_CA,
            "device-vendor",
            ca_certificates=[pem(self.ca.ca)],
            crls=[pem(self.ca.crl)],
        )
        interchange.add_partner(session, HOST, "host-hsm")
        rkl.add_vendor(
            session, CERT_VENDOR, "certificate", template=RKL_TEMPLATE, partner=VENDOR_CA
        )
        rkl.add_vendor(
            session,
            SIG_VENDOR,
            "signature",
            template=RKL_TEMPLATE,
            public_key=key_pem(self.signer.public_key()),
            signature_scheme="pss",
            signed_form="pkcs1",
        )
        world.end()

    def certified(self) -> Any:
        """A host key of the certificate vendor, certified by the vendor CA."""
        rkl = self.world.s.rkl
        host = rkl.create_host_key(self.world.session(*MAKERS), CERT_VENDOR)
        request = rkl.request(
            self.world.session(*CERTIFIERS),
            host.key.label,
            pkix.Profile(subject="CN=RKL host 1,O=Acquirer Bank 042,C=GB"),
        )
        cert = issue(self.ca, request.pem)
        return rkl.import_certificate(self.world.session(*CERTIFIERS), host.key.label, pem(cert))

    def signed(self) -> Any:
        """A host key of the signature vendor, signed by the vendor's key."""
        rkl = self.world.s.rkl
        host = rkl.create_host_key(self.world.session(*MAKERS), SIG_VENDOR)
        material = rkl.material_to_sign(self.world.session(*CERTIFIERS), host.key.label)
        signature = self.signer.sign(material, PSS, hashes.SHA256())
        return rkl.import_signature(self.world.session(*CERTIFIERS), host.key.label, signature)


def opened(bundle: RklBundle) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The bundle read as a host would: the manifest, and every file it lists checked
    against its SHA-256 and length."""
    import hashlib

    with zipfile.ZipFile(io.BytesIO(bundle.data)) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(contents.pop("manifest.json"))
    assert manifest["format"] == "kcw-rkl-bundle" and manifest["format_version"] == 1
    listed = {f["name"]: f for f in manifest["files"]}
    assert set(listed) == set(contents)
    for name, data in contents.items():
        assert hashlib.sha256(data).hexdigest().upper() == listed[name]["sha256"]
        assert len(data) == listed[name]["bytes"]
    assert hashlib.sha256(bundle.data).hexdigest().upper() == bundle.sha256
    return manifest, contents


def unwrapped(world: Exchange, kek: Any, block: bytes) -> tuple[tr31.Header, Any]:
    """The host HSM's side: the block under the KEK's clear value, the PKCS #8 key."""
    header, key = tr31.unwrap(world.clear(kek), block.decode().strip())
    return header, serialization.load_der_private_key(key, None)


@pytest.fixture
def vendors(world: Exchange) -> Vendors:
    return Vendors(world)


def test_certificate_vendor_bundle_opens_at_the_host(world: Exchange, vendors: Vendors) -> None:
    host = vendors.certified()
    assert host.link.status is RklStatus.READY
    assert host.link.certificate_fingerprint == host.certificate.fingerprint
    kek = world.key("Test ZMK AES")
    bundle = world.s.rkl.export_bundle(
        world.session(*EXPORTERS), host.key.label, kek.label, host_partner=HOST
    )
    assert bundle.format == "TR-31 D" and bundle.header[5:10] == "S0RS0"
    manifest, files = opened(bundle)
    assert manifest["vendor"] == {"name": CERT_VENDOR, "style": "certificate"}
    assert manifest["key"]["kcv"] == host.key.kcv and manifest["kek"]["kcv"] == kek.kcv
    header, private = unwrapped(world, kek, files["private-key.tr31"])
    assert (header.version_id, header.key_usage, header.algorithm, header.mode_of_use) == (
        "D",
        "S0",
        "R",
        "S",
    )
    assert header.exportability == "E" and [b for b, _ in header.blocks] == ["KP", "TS"]
    chain = pkix.read_certificates(files["certificate-chain.pem"])
    leaf = x509.load_der_x509_certificate(chain[0])
    assert spki(leaf.public_key()) == spki(private.public_key()) == host.key.public_key
    assert chain[-1] == vendors.ca.ca.public_bytes(serialization.Encoding.DER)
    assert manifest["certificate"]["fingerprint"] == host.certificate.fingerprint
    public = serialization.load_pem_public_key(files["host-public-key.pem"])
    assert spki(public) == host.key.public_key
    export = world.audit("key.export")[-1]
    assert export["details"]["format"] == "RKL bundle (TR-31 D)"
    assert export["details"]["partner"] == HOST
    assert export["details"]["bundle_sha256"] == bundle.sha256
    assert world.audit("rkl.host_key.create") and world.audit("rkl.host_key.certified")
    listed = world.s.rkl.host_keys(world.session(*ADMINS), vendor=CERT_VENDOR)
    assert [(h.key.label, h.link.status) for h in listed] == [(host.key.label, RklStatus.READY)]


def test_signature_vendor_bundle_opens_at_the_host(world: Exchange, vendors: Vendors) -> None:
    host = vendors.signed()
    assert host.link.status is RklStatus.READY and host.link.signed_form == "pkcs1"
    world.s.templates.create(
        world.session(*ADMINS),
        name="Test ZMK TDES-3",
        algorithm="TDES-3KEY",
        key_usage="K0",
        mode_of_use="B",
        label_pattern="ZMK-T3-{seq:03d}",
        crypto_period_days=365,
        exportability="E",
    )
    kek = world.key("Test ZMK TDES-3")  # 3TDEA: 112 bits, as strong as RSA-2048
    bundle = world.s.rkl.export_bundle(
        world.session(*EXPORTERS), host.key.label, kek.label, host_partner=HOST
    )
    assert bundle.format == "TR-31 B"
    manifest, files = opened(bundle)
    header, private = unwrapped(world, kek, files["private-key.tr31"])
    assert header.version_id == "B" and header.algorithm == "R"
    # The host's EPP check: the vendor key verifies the signature over the material, and
    # the material is the bundle's private key's public key as PKCS #1 RSAPublicKey.
    assert files["signed-material.der"] == pkcs1(private.public_key())
    vendor_key = serialization.load_pem_public_key(files["vendor-public-key.pem"])
    assert spki(vendor_key) == spki(vendors.signer.public_key())
    vendor_key.verify(  # type: ignore[union-attr,call-arg]
        files["vendor-signature.bin"], files["signed-material.der"], PSS, hashes.SHA256()
    )
    assert manifest["signature"]["scheme"] == "pss"
    assert (
        manifest["signature"]["vendor_key_sha256"]
        == json.loads(bundle.manifest)["signature"]["vendor_key_sha256"]
    )
    assert world.audit("rkl.host_key.signed")[-1]["details"]["signed_form"] == "pkcs1"


def test_signature_refusals_each_say_why(world: Exchange, vendors: Vendors) -> None:
    rkl = world.s.rkl
    first = vendors.signed()
    second = rkl.create_host_key(world.session(*MAKERS), SIG_VENDOR)
    label = second.key.label
    material = rkl.material_to_sign(world.session(*CERTIFIERS), label)
    assert material == pkcs1(serialization.load_der_public_key(second.key.public_key))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    first_material = pkcs1(serialization.load_der_public_key(first.key.public_key))
    cases = [
        (stranger.sign(material, PSS, hashes.SHA256()), "does not verify with Vendor S"),
        (vendors.signer.sign(material, PSS, hashes.SHA256())[:-1], "is 383 bytes"),
        (
            vendors.signer.sign(first_material, PSS, hashes.SHA256()),
            f"signature of host key {first.key.label}, not of host key {label}",
        ),
        (
            vendors.signer.sign(second.key.public_key, PSS, hashes.SHA256()),
            "as SubjectPublicKeyInfo DER",
        ),
        (vendors.signer.sign(b"something else", PSS, hashes.SHA256()), "not over host key"),
    ]
    for signature, reason in cases:
        with pytest.raises(BadInput, match=reason):
            rkl.import_signature(world.session(*CERTIFIERS), label, signature)
    refused = world.audit("rkl.signature.refused")
    assert len(refused) == len(cases) and all(e["object_id"] == second.key.id for e in refused)
    still = rkl.host_key(world.session(*ADMINS), label)
    assert still.link.status is RklStatus.AWAITING_SIGNATURE and still.link.signature is None
    # A signature vendor's key is signed, not certified; and the other way round.
    with pytest.raises(BadInput, match="signature vendor: it is signed, not certified"):
        rkl.request(world.session(*CERTIFIERS), label, pkix.Profile(subject="CN=x"))


def test_bundle_refusals_each_say_why(world: Exchange, vendors: Vendors) -> None:
    rkl = world.s.rkl
    aes_kek = world.key("Test ZMK AES")
    waiting = rkl.create_host_key(world.session(*MAKERS), CERT_VENDOR, label="RKL-WAITING")
    with pytest.raises(PolicyRefused, match="is awaiting certificate; the bundle is made once"):
        rkl.export_bundle(
            world.session(*EXPORTERS), waiting.key.label, aes_kek.label, host_partner=HOST
        )
    with pytest.raises(BadInput, match="certificate vendor: it is certified, not signed"):
        rkl.material_to_sign(world.session(*CERTIFIERS), waiting.key.label)
    # A certificate for another key pair: refused by the certificate checks, nothing kept.
    request = rkl.request(
        world.session(*CERTIFIERS), waiting.key.label, pkix.Profile(subject="CN=RKL host 2")
    )
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    wrong = issue(vendors.ca, request.pem, public_key=other)
    with pytest.raises(BadInput, match=r"Certificate refused: .*public key"):
        rkl.import_certificate(world.session(*CERTIFIERS), waiting.key.label, pem(wrong))
    assert rkl.host_key(world.session(*ADMINS), waiting.key.label).link.status is (
        RklStatus.AWAITING_CERTIFICATE
    )

    host = vendors.certified()
    label = host.key.label
    tdes2 = world.key("Test ZMK TDES")
    with pytest.raises(BadInput, match=r"TDES-2KEY, 80-bit strength\) is weaker than host key"):
        rkl.export_bundle(world.session(*EXPORTERS), label, tdes2.label, host_partner=HOST)
    with pytest.raises(BadInput, match="a bank partner; the bundle goes to a host HSM"):
        rkl.export_bundle(
            world.session(*EXPORTERS), label, aes_kek.label, host_partner="Acquirer Bank 042"
        )
    with pytest.raises(BadInput, match="version 'B' does not fit KEK"):
        rkl.export_bundle(
            world.session(*EXPORTERS), label, aes_kek.label, host_partner=HOST, version="B"
        )
    with pytest.raises(PolicyRefused):  # two of the three the export takes
        rkl.export_bundle(world.session(*CERTIFIERS), label, aes_kek.label, host_partner=HOST)
    # The security officers withdraw the template's exportability: the key stays here.
    world.s.templates.edit(world.session(*ADMINS), RKL_TEMPLATE, exportability="N")
    with pytest.raises(PolicyRefused, match=f"Key {label} is not exportable"):
        rkl.export_bundle(world.session(*EXPORTERS), label, aes_kek.label, host_partner=HOST)
    assert [e for e in world.audit("key.export")] == []


def test_vendor_profiles_are_checked_and_sealed(world: Exchange, vendors: Vendors) -> None:
    rkl = world.s.rkl
    session = world.session(*ADMINS)
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()  # noqa: S505 - refused
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"style": "email"}, BadInput, "Vendor style 'email' is not one of"),
        ({"style": "certificate"}, BadInput, "needs the partner whose CA certificates"),
        (
            {"style": "certificate", "partner": "Acquirer Bank 042"},
            BadInput,
            "is a bank partner; a certificate vendor's CA is a partner of kind device-vendor",
        ),
        (
            {"style": "certificate", "partner": VENDOR_CA, "template": "ATM EPP key pair"},
            BadInput,
            "does not let its keys leave",
        ),
        (
            {"style": "certificate", "partner": VENDOR_CA, "template": "Test ZMK AES"},
            BadInput,
            "an RKL host key is an RSA key pair",
        ),
        ({"style": "signature"}, BadInput, "needs its public key, signature scheme, signed form"),
        (
            {
                "style": "signature",
                "public_key": key_pem(small),
                "signature_scheme": "pss",
                "signed_form": "spki",
            },
            BadInput,
            "RSA-1024; at least RSA-2048",
        ),
        (
            {
                "style": "signature",
                "public_key": b"not a key",
                "signature_scheme": "pss",
                "signed_form": "spki",
            },
            BadInput,
            "is not a public key in SubjectPublicKeyInfo form",
        ),
        (
            {
                "style": "signature",
                "public_key": key_pem(vendors.signer.public_key()),
                "signature_scheme": "sha1",
                "signed_form": "spki",
            },
            BadInput,
            "Signature scheme 'sha1' is not one of",
        ),
        (
            {"name": CERT_VENDOR.upper(), "style": "certificate", "partner": VENDOR_CA},
            AlreadyExists,
            "already exists",
        ),
    ]
    for fields, error, message in cases:
        args = {"name": "New vendor", "template": RKL_TEMPLATE, **fields}
        with pytest.raises(error, match=message):
            rkl.add_vendor(session, args.pop("name"), args.pop("style"), **args)
    assert [v.name for v in rkl.vendors(session)] == [CERT_VENDOR, SIG_VENDOR]
    updated = rkl.update_vendor(session, SIG_VENDOR, signed_form="spki", notes="re-keyed 2026")
    assert updated.signed_form == "spki" and updated.version == 2
    with pytest.raises(BadInput, match="Nothing to change"):
        rkl.update_vendor(session, SIG_VENDOR, signed_form="spki")
    world.end()
    # A profile edited in the database is refused, not used.
    db = sqlite3.connect(world.home / "workstation.db")
    db.execute(
        "UPDATE documents SET record = replace(record, 'spki', 'pkcs1') WHERE kind = 'atm-vendor'"
    )
    db.commit()
    db.close()
    with pytest.raises(IntegrityError, match="changed outside the workstation"):
        rkl.vendors(world.session(*ADMINS))


def test_host_key_is_generated_under_the_templates_quorum(
    world: Exchange, vendors: Vendors
) -> None:
    rkl = world.s.rkl
    with pytest.raises(PolicyRefused):
        rkl.create_host_key(world.session("Cara"), CERT_VENDOR)
    host = rkl.create_host_key(world.session(*MAKERS), SIG_VENDOR)
    assert host.key.label.startswith("RKL-") and host.key.algorithm.value == "RSA-2048"
    assert host.link.status is RklStatus.AWAITING_SIGNATURE and host.key.id == host.link.id
    with pytest.raises(AlreadyExists):
        rkl.create_host_key(world.session(*MAKERS), SIG_VENDOR, label=host.key.label)
    created = world.audit("rkl.host_key.create")
    assert len(created) == 1 and created[0]["details"]["vendor"] == SIG_VENDOR
    generated = [e for e in world.audit("key.generate") if e["object_id"] == host.key.id]
    assert generated and generated[0]["details"]["rkl_vendor"] == SIG_VENDOR
    assert datetime.now(UTC) - host.link.created_at < timedelta(minutes=5)
