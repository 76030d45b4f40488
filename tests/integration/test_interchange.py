"""Exchanges with partners on the real stack: SoftHSM2 (the workstation's keys and its
exchange key pairs), pcscd with virtual PIV cards (the quorums), SQLite.

The partner's side of every exchange is played in software with the standards modules and
psec, so each test checks that what leaves the workstation is what a partner can open, and
that what a partner sends is stored with the key's check value, pre-active, and audited.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psec.tr31
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.integration.test_ceremonies import World
from workstation.adapters.hsm_pkcs11 import Pkcs11Hsm
from workstation.domain import components as comp
from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.policy import Action
from workstation.errors import AlreadyExists, BadInput, IntegrityError, NotFound, PolicyRefused
from workstation.services.interchange import certificate_der
from workstation.services.session import Session
from workstation.standards import dukpt, ecdh, kcv, legacy, tr31, tr34

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

PARTNER = "Acquirer Bank 042"
EXPORTERS = ("Cara", "Carl", "Sam")  # export quorum: 2 key custodians + 1 supervisor
IMPORTERS = ("Cara", "Carl")  # import quorum: 2 key custodians
ADMINS = ("Olivia", "Sam")  # partners and templates: 1 security officer + 1 supervisor


# --- a partner's PKI, made in software ------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, PARTNER),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


class PartnerPki:
    """The partner's CA, its KDH and KRD key pairs and an ECDH key pair, with certificates."""

    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ca = self._cert(
            "Partner CA", self.ca_key.public_key(), None, ca=True, now=now, usage="ca"
        )
        self.kdh_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kdh = self._cert(
            "Partner KDH", self.kdh_key.public_key(), self.ca, now=now, usage="sign"
        )
        self.krd_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        self.krd = self._cert(
            "Partner KRD", self.krd_key.public_key(), self.ca, now=now, usage="encrypt"
        )
        self.ecdh_key = ec.generate_private_key(ec.SECP256R1())
        self.ecdh = self._cert(
            "Partner ECDH", self.ecdh_key.public_key(), self.ca, now=now, usage="agree"
        )
        self.crl = self.make_crl([])

    def _cert(
        self,
        cn: str,
        public: Any,
        issuer: x509.Certificate | None,
        *,
        now: datetime,
        usage: str,
        ca: bool = False,
        not_after: datetime | None = None,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(issuer.subject if issuer else _name(cn))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(not_after or now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=usage == "sign",
                    content_commitment=False,
                    key_encipherment=usage == "encrypt",
                    data_encipherment=False,
                    key_agreement=usage == "agree",
                    key_cert_sign=usage == "ca",
                    crl_sign=usage == "ca",
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        )
        return builder.sign(self.ca_key, hashes.SHA256())

    def make_crl(self, revoked: list[x509.Certificate]) -> x509.CertificateRevocationList:
        now = datetime.now(UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca.subject)
            .last_update(now - timedelta(hours=1))
            .next_update(now + timedelta(days=7))
        )
        for cert in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(now - timedelta(minutes=30))
                .build()
            )
        return builder.sign(self.ca_key, hashes.SHA256())


def pem(obj: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)


def der(obj: x509.Certificate) -> bytes:
    return obj.public_bytes(serialization.Encoding.DER)


# --- the workstation -----------------------------------------------------------------------


class Exchange(World):
    def templates(self) -> None:
        session = self.session(*ADMINS)
        t = self.s.templates
        common = {"crypto_period_days": 365, "exportability": "E"}
        t.create(
            session,
            name="Test ZMK AES",
            algorithm="AES-256",
            key_usage="K0",
            mode_of_use="B",
            label_pattern="ZMK-A-{seq:03d}",
            **common,
        )
        t.create(
            session,
            name="Test ZMK TDES",
            algorithm="TDES-2KEY",
            key_usage="K0",
            mode_of_use="B",
            label_pattern="ZMK-T-{seq:03d}",
            **common,
        )
        t.create(
            session,
            name="Test PEK",
            algorithm="AES-128",
            key_usage="P0",
            mode_of_use="E",
            label_pattern="PEK-{seq:03d}",
            **common,
        )
        t.create(
            session,
            name="Test CVK",
            algorithm="TDES-2KEY",
            key_usage="C0",
            mode_of_use="C",
            label_pattern="CVK-{seq:03d}",
            **common,
        )
        t.create(
            session,
            name="Test secret PVK",
            algorithm="TDES-2KEY",
            key_usage="V2",
            mode_of_use="C",
            label_pattern="PVK-{seq:03d}",
            crypto_period_days=365,
            exportability="N",
        )
        t.create(
            session,
            name="Test BDK AES",
            algorithm="AES-128",
            key_usage="B0",
            mode_of_use="X",
            label_pattern="BDK-A-{seq:03d}",
            test_key=True,
            **common,
        )
        t.create(
            session,
            name="Test BDK TDES",
            algorithm="TDES-2KEY",
            key_usage="B0",
            mode_of_use="X",
            label_pattern="BDK-T-{seq:03d}",
            **common,
        )
        self.s.interchange.add_partner(
            session,
            PARTNER,
            "bank",
            ca_certificates=[pem(self.pki.ca)],
            crls=[pem(self.pki.crl)],
            krd_certificate=pem(self.pki.krd),
        )
        self.end()

    def key(self, template: str, *, active: bool = True) -> ManagedKey:
        session = self.session("Cara", "Carl")
        key = self.s.keys.generate(session, template).keys[0]
        if active:
            session = self.session("Cara", "Sam")
            key = self.s.keys.change_state(session, key.label, Action.ACTIVATE_KEY)
        self.end()
        return key

    def clear(self, key: ManagedKey) -> bytes:
        assert key.wrapped is not None
        return bytes(self.hsm.export_clear_key(key.algorithm, key.wrapped))

    def audit(self, action: str) -> list[dict[str, Any]]:
        with self.repo.unit_of_work(read_only=True) as uow:
            return [e.body for e in uow.audit.entries() if e.body["action"] == action]


@pytest.fixture
def world(tmp_path: Path, hsm: Pkcs11Hsm, virtual_cards: Any) -> Iterator[Exchange]:
    w = Exchange(tmp_path, hsm, virtual_cards)
    w.hsm = hsm  # type: ignore[attr-defined]
    w.pki = PartnerPki()  # type: ignore[attr-defined]
    w.initialise()
    w.templates()
    try:
        yield w
    finally:
        w.end()
        w.repo.close()


def exporters(world: Exchange) -> Session:
    return world.session(*EXPORTERS)


# --- TR-31 ---------------------------------------------------------------------------------


def test_export_tr31_opens_with_psec_and_is_audited(world: Exchange) -> None:
    zmk = world.key("Test ZMK AES")
    pek = world.key("Test PEK", active=False)
    result = world.s.interchange.export_tr31(
        exporters(world), pek.label, zmk.label, partner=PARTNER
    )
    assert result.format == "TR-31 D" and result.key_block.startswith("D")
    header, key = psec.tr31.unwrap(world.clear(zmk), result.key_block)
    assert header.key_usage == "P0" and header.algorithm == "A" and header.mode_of_use == "E"
    assert comp.kcv_hex(comp.check_value(pek.algorithm, key)) == pek.kcv
    entry = world.audit("key.export")[-1]
    assert entry["object_label"] == pek.label and entry["kcv"] == pek.kcv
    assert entry["details"]["partner"] == PARTNER
    assert entry["details"]["format"] == "TR-31 D"
    assert entry["details"]["wrapping_kcv"] == zmk.kcv


def test_export_tr31_version_b_under_tdes_kek(world: Exchange) -> None:
    zmk = world.key("Test ZMK TDES")
    cvk = world.key("Test CVK")
    result = world.s.interchange.export_tr31(
        exporters(world), cvk.label, zmk.label, partner=PARTNER
    )
    assert result.key_block[0] == "B"
    _, key = tr31.unwrap(world.clear(zmk), result.key_block)
    assert comp.kcv_hex(comp.check_value(cvk.algorithm, key)) == cvk.kcv


def test_export_refusals_change_nothing(world: Exchange) -> None:
    zmk_tdes = world.key("Test ZMK TDES")
    zmk = world.key("Test ZMK AES")
    pvk = world.key("Test secret PVK")
    pek = world.key("Test PEK")
    before = len(world.audit("key.export"))
    with pytest.raises(PolicyRefused, match="not exportable"):
        world.s.interchange.export_tr31(exporters(world), pvk.label, zmk.label, partner=PARTNER)
    with pytest.raises(PolicyRefused):  # quorum: two custodians but no supervisor
        world.s.interchange.export_tr31(
            world.session("Cara", "Carl"), pek.label, zmk.label, partner=PARTNER
        )
    with pytest.raises(BadInput, match="TR-31 key usage K0 or K1"):
        world.s.interchange.export_tr31(exporters(world), zmk.label, pek.label, partner=PARTNER)
    with pytest.raises(BadInput, match=r"(?i)strong"):  # AES-128 key under a TDES KEK
        world.s.interchange.export_tr31(
            exporters(world), pek.label, zmk_tdes.label, partner=PARTNER
        )
    with pytest.raises(NotFound, match="No exchange partner"):
        world.s.interchange.export_tr31(exporters(world), pek.label, zmk.label, partner="Nobody")
    assert len(world.audit("key.export")) == before


def test_import_tr31_from_psec_is_stored_pre_active(world: Exchange) -> None:
    zmk = world.key("Test ZMK AES")
    value = os.urandom(16)
    block = psec.tr31.wrap(
        world.clear(zmk), psec.tr31.Header("D", "P0", "A", "E", "00", "E"), value
    )
    expected = comp.kcv_hex(comp.check_value(KeyAlgorithm.AES_128, value))
    info = world.s.interchange.describe_key_block(world.session(*IMPORTERS), block)
    assert info.key_usage == "P0" and info.templates == ("Test PEK",)
    result = world.s.interchange.import_tr31(
        world.session(*IMPORTERS), block, zmk.label, partner=PARTNER, expected_kcv=expected[:6]
    )
    assert result.key.kcv == expected and result.key.state is KeyState.PRE_ACTIVATION
    assert result.template == "Test PEK" and result.warnings == ()
    assert world.clear(result.key) == value
    entry = world.audit("key.import")[-1]
    assert entry["details"]["partner"] == PARTNER and entry["details"]["format"] == "TR-31 D"
    assert entry["kcv"] == expected and entry["details"]["wrapping_kcv"] == zmk.kcv


def test_import_refusals_store_nothing(world: Exchange) -> None:
    zmk = world.key("Test ZMK AES")
    other = world.key("Test ZMK AES")
    value = os.urandom(16)
    block = tr31.wrap(world.clear(zmk), tr31.Header("D", "P0", "A", "E", "00", "E"), value)
    count = world.key_count()
    session = world.session(*IMPORTERS)
    tampered = block[:-1] + ("0" if block[-1] != "0" else "1")
    with pytest.raises(BadInput, match="Key block refused"):
        world.s.interchange.import_tr31(session, tampered, zmk.label, partner=PARTNER)
    with pytest.raises(BadInput, match="Key block refused"):
        world.s.interchange.import_tr31(session, block, other.label, partner=PARTNER)
    with pytest.raises(BadInput, match="does not match"):
        world.s.interchange.import_tr31(
            session, block, zmk.label, partner=PARTNER, expected_kcv="000000"
        )
    with pytest.raises(BadInput, match="does not fit template 'Test CVK'"):
        world.s.interchange.import_tr31(
            session, block, zmk.label, partner=PARTNER, template_ref="Test CVK"
        )
    with pytest.raises(BadInput, match="Key block refused"):
        world.s.interchange.import_tr31(session, "D0112P0AE00E0000ZZ", zmk.label, partner=PARTNER)
    mac_block = tr31.wrap(world.clear(zmk), tr31.Header("D", "M7", "A", "G", "00", "E"), value)
    with pytest.raises(BadInput, match="No active template"):
        world.s.interchange.import_tr31(session, mac_block, zmk.label, partner=PARTNER)
    assert world.key_count() == count
    # A refused import may be tried again once the input is right.
    result = world.s.interchange.import_tr31(
        session, block, zmk.label, partner=PARTNER, label="PEK-from-042"
    )
    with pytest.raises(AlreadyExists):
        world.s.interchange.import_tr31(
            session, block, zmk.label, partner=PARTNER, label="PEK-from-042"
        )
    assert result.key.label == "PEK-from-042"


def test_legacy_import_warns_and_needs_the_check_value(world: Exchange) -> None:
    zmk = world.key("Test ZMK TDES")
    value = bytearray(os.urandom(16))
    comp.odd_parity(value)
    encrypted = legacy.encrypt_under_zmk(world.clear(zmk), bytes(value))
    kcv_hex = comp.kcv_hex(comp.check_value(zmk.algorithm, value))
    session = world.session(*IMPORTERS)
    with pytest.raises(BadInput, match="needs the partner's check value"):
        world.s.interchange.import_legacy(
            session,
            encrypted.hex(),
            zmk.label,
            partner=PARTNER,
            template_ref="Test CVK",
            expected_kcv=" ",
        )
    result = world.s.interchange.import_legacy(
        session,
        encrypted.hex(),
        zmk.label,
        partner=PARTNER,
        template_ref="Test CVK",
        expected_kcv=kcv_hex,
    )
    assert result.key.kcv == kcv_hex
    assert any("PCI PIN" in w for w in result.warnings)
    assert "PCI PIN" in world.audit("key.import")[-1]["details"]["warnings"]


# --- TR-34 ---------------------------------------------------------------------------------


def test_tr34_import_as_krd_one_and_two_pass(world: Exchange) -> None:
    pki = world.pki  # type: ignore[attr-defined]
    krd_pem = world.s.interchange.exchange_certificate(world.session(*ADMINS), "tr34-krd")
    krd = x509.load_pem_x509_certificate(krd_pem.encode())
    value = os.urandom(32)
    token = tr34.build_key_token(
        key=value,
        header="D0000K0AB00E0000",
        kdh_certificate=der(pki.kdh),
        kdh_sign=tr34.signer_for(pki.kdh_key),
        krd_certificate=der(krd),
    )
    result = world.s.interchange.import_tr34(
        world.session(*IMPORTERS), token, partner=PARTNER, template_ref="Test ZMK AES"
    )
    assert world.clear(result.key) == value
    assert result.template == "Test ZMK AES" and result.format.startswith("TR-34 2019 one-pass")
    # Two-pass: the nonce is ours, and used once.
    rkrd = world.s.interchange.tr34_nonce(world.session(*IMPORTERS), PARTNER)
    nonce = tr34.read_random_number_token(rkrd)
    value2 = os.urandom(32)
    token2 = tr34.build_key_token(
        key=value2,
        header="D0000K0AB00E0000",
        kdh_certificate=der(pki.kdh),
        kdh_sign=tr34.signer_for(pki.kdh_key),
        krd_certificate=der(krd),
        nonce=nonce,
    )
    result2 = world.s.interchange.import_tr34(
        world.session(*IMPORTERS),
        token2,
        partner=PARTNER,
        nonce_token=rkrd,
        template_ref="Test ZMK AES",
    )
    assert world.clear(result2.key) == value2 and "two-pass" in result2.format
    with pytest.raises(BadInput, match="used already"):
        world.s.interchange.import_tr34(
            world.session(*IMPORTERS),
            token2,
            partner=PARTNER,
            nonce_token=rkrd,
            template_ref="Test ZMK AES",
        )


def test_tr34_import_refuses_a_revoked_kdh(world: Exchange) -> None:
    pki = world.pki  # type: ignore[attr-defined]
    krd_pem = world.s.interchange.exchange_certificate(world.session(*ADMINS), "tr34-krd")
    world.s.interchange.update_partner(
        world.session(*ADMINS), PARTNER, crls=[pem(pki.make_crl([pki.kdh]))]
    )
    token = tr34.build_key_token(
        key=os.urandom(32),
        header="D0000K0AB00E0000",
        kdh_certificate=der(pki.kdh),
        kdh_sign=tr34.signer_for(pki.kdh_key),
        krd_certificate=der(x509.load_pem_x509_certificate(krd_pem.encode())),
    )
    count = world.key_count()
    with pytest.raises(BadInput, match=r"(?i)revoked"):
        world.s.interchange.import_tr34(world.session(*IMPORTERS), token, partner=PARTNER)
    assert world.key_count() == count


def test_tr34_export_as_kdh_opens_at_the_partners_krd(world: Exchange) -> None:
    pki = world.pki  # type: ignore[attr-defined]
    kdh_pem = world.s.interchange.exchange_certificate(world.session(*ADMINS), "tr34-kdh")
    identity = world.s.interchange.exchange_identity(world.session(*ADMINS))
    assert identity.ca_certificate is not None
    zmk = world.key("Test ZMK AES")
    for edition in ("2019", "2012"):
        result = world.s.interchange.export_tr34(
            exporters(world), zmk.label, partner=PARTNER, edition=edition
        )
        received = tr34.open_key_token(
            result.token,
            krd_decrypt=tr34.decryptor_for(pki.krd_key),
            krd_certificate=der(pki.krd),
            ca_certificates=[certificate_der(identity.ca_certificate, "CA")],
            # The 2012 form (AWS Payment Cryptography's X9_TR34_2012) does not carry it.
            kdh_certificate=certificate_der(kdh_pem, "KDH"),
        )
        assert received.key == world.clear(zmk)
        assert received.header.startswith("D") and received.header[5:7] == "K0"
        assert world.audit("key.export")[-1]["details"]["format"].startswith(f"TR-34 {edition}")


# --- ECDH ----------------------------------------------------------------------------------


def test_ecdh_both_directions_agree_with_the_partner(world: Exchange) -> None:
    pki = world.pki  # type: ignore[attr-defined]
    ours = world.s.interchange.exchange_certificate(world.session(*ADMINS), "ecdh-p256")
    # The partner trusts our exchange CA for our ECDH certificate and derives the same KEK.
    z = ecdh.shared_secret(
        pki.ecdh_key,
        x509.load_pem_x509_certificate(ours.encode())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
    )
    info = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
    kek = ecdh.derive_kek(
        z, kdf="NIST_SP800", hash_name="SHA-512", shared_info=info, key_algorithm="AES-256"
    )
    pek = world.key("Test PEK")
    result = world.s.interchange.export_ecdh(
        exporters(world),
        pek.label,
        partner=PARTNER,
        partner_certificate=pem(pki.ecdh),
        shared_info=info,
    )
    _, key = tr31.unwrap(kek, result.key_block)
    assert comp.kcv_hex(comp.check_value(pek.algorithm, key)) == pek.kcv
    assert result.wrapping_kcv == kcv.key_check_value(kek, family="AES").hex().upper()
    # And back: the partner wraps a key under the agreed KEK.
    value = os.urandom(16)
    block = tr31.wrap(kek, tr31.Header("D", "P0", "A", "E", "00", "E"), value)
    imported = world.s.interchange.import_ecdh(
        world.session(*IMPORTERS),
        block,
        partner=PARTNER,
        partner_certificate=pem(pki.ecdh),
        shared_info=info,
    )
    assert world.clear(imported.key) == value
    with pytest.raises(BadInput, match="Key block refused"):  # other shared info, other KEK
        world.s.interchange.import_ecdh(
            world.session(*IMPORTERS),
            block,
            partner=PARTNER,
            partner_certificate=pem(pki.ecdh),
            shared_info=b"x",
        )


def test_ecdh_refuses_a_certificate_from_another_ca(world: Exchange) -> None:
    world.s.interchange.exchange_certificate(world.session(*ADMINS), "ecdh-p256")
    stranger = PartnerPki()
    pek = world.key("Test PEK")
    with pytest.raises(BadInput, match="ECDH certificate refused"):
        world.s.interchange.export_ecdh(
            exporters(world),
            pek.label,
            partner=PARTNER,
            partner_certificate=pem(stranger.ecdh),
            shared_info=b"abc",
        )


# --- DUKPT ---------------------------------------------------------------------------------


def test_dukpt_initial_keys_export_and_test_tool(world: Exchange) -> None:
    bdk = world.key("Test BDK AES")
    zmk = world.key("Test ZMK AES")
    ksns = ["123456789012345600000000", "1234567890123457", "123456789012345800000000"]
    result = world.s.interchange.export_initial_keys(
        exporters(world), bdk.label, zmk.label, ksns, partner=PARTNER
    )
    assert len(result.lines) == 3 and result.stopped is None
    clear_bdk = world.clear(bdk)
    for line in result.lines:
        header, key = tr31.unwrap(world.clear(zmk), line.key_block)
        assert header.key_usage == "B1"
        assert dict(header.blocks)["IK"] == line.initial_key_id
        assert key == dukpt.aes_initial_key(clear_bdk, bytes.fromhex(line.initial_key_id))
    entry = world.audit("dukpt.export_initial_keys")[-1]
    assert entry["details"]["devices"] == 3 and entry["details"]["file_sha256"] == result.digest
    keys = world.s.interchange.derive_test_keys(
        world.session("Cara"), bdk.label, "123456789012345600000001"
    )
    initial = dukpt.aes_initial_key(clear_bdk, bytes.fromhex("1234567890123456"))
    assert keys.initial_key == initial.hex().upper()
    assert (
        keys.transaction_key
        == dukpt.aes_derivation_key(initial, bytes.fromhex("123456789012345600000001"))
        .hex()
        .upper()
    )
    assert set(keys.working_keys) >= {"pin encryption", "mac generation", "data encrypt"}


def test_dukpt_refusals(world: Exchange) -> None:
    bdk = world.key("Test BDK TDES")
    zmk = world.key("Test ZMK TDES")
    with pytest.raises(PolicyRefused, match="not a test key"):
        world.s.interchange.derive_test_keys(
            world.session("Cara"), bdk.label, "FFFF9876543210E00001"
        )
    with pytest.raises(BadInput, match="KSN 2"):
        world.s.interchange.export_initial_keys(
            exporters(world), bdk.label, zmk.label, ["FFFF9876543210E00000", "XYZ"], partner=PARTNER
        )
    with pytest.raises(BadInput, match="transaction counter"):
        world.s.interchange.export_initial_keys(
            exporters(world), bdk.label, zmk.label, ["FFFF9876543210E00001"], partner=PARTNER
        )
    result = world.s.interchange.export_initial_keys(
        exporters(world), bdk.label, zmk.label, ["FFFF9876543210E00000"], partner=PARTNER
    )
    _, ipek = tr31.unwrap(world.clear(zmk), result.lines[0].key_block)
    assert ipek == dukpt.tdes_ipek(world.clear(bdk), bytes.fromhex("FFFF9876543210E00000"))


def test_partner_records_are_sealed(world: Exchange) -> None:
    with world.repo.unit_of_work() as uow:
        row = uow.partners.by_name(PARTNER)
        assert row is not None
        record = json.loads(json.dumps(row.value.to_record()))
    with world.repo._connect() as conn:  # a CA swapped in the file is refused, not trusted
        record["ca_certificates"] = [pem(PartnerPki().ca).decode()]
        conn.execute("UPDATE partners SET record = ? WHERE name = ?", (json.dumps(record), PARTNER))
    with pytest.raises(IntegrityError):
        world.s.interchange.partner(world.session(*ADMINS), PARTNER)


def test_exportability_is_narrowed_never_widened(world: Exchange) -> None:
    zmk = world.key("Test ZMK AES")
    pek = world.key("Test PEK")  # exportability E
    narrowed = world.s.interchange.export_tr31(
        exporters(world), pek.label, zmk.label, partner=PARTNER, exportability="N"
    )
    assert tr31.parse(narrowed.key_block).exportability == "N"
    with pytest.raises(PolicyRefused, match="may narrow that but not widen it to S"):
        world.s.interchange.export_tr31(
            exporters(world), pek.label, zmk.label, partner=PARTNER, exportability="S"
        )
