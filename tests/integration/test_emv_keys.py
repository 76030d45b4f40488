# ruff: noqa: F811 - the tests take the imported `world` fixture as their parameter
"""EMV issuer keys on the real stack (SoftHSM2, pcscd with virtual PIV cards, SQLite): a test
brand CA of 1984 bits, made here in software, certifies the issuer key pairs a job made on
SoftHSM2 for three BINs; the request file's proof of possession verifies under the key it
carries; the certificate is recovered and kept; every wrong certificate (wrong BIN,
tampered, wrong CA index, another key pair's, expired) is refused with its own message,
audited, and changes nothing; the job validates its BINs first, and a cancelled job keeps
the BINs it made, each complete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.test_interchange import (
    ADMINS,
    Exchange,
    world,  # noqa: F401 - the same world fixture
)
from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.emv_keys import (
    CaKeyFields,
    IssuerKeySet,
    IssuerKeyStatus,
    read_request_file,
)
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.policy import Action
from workstation.errors import AlreadyExists, BadInput, NotFound, PolicyRefused
from workstation.standards import emv

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

BRAND = "Test Brand"
RID = bytes.fromhex("A000000999")
MAKERS = ("Cara", "Carl")  # generate_key: 2 key custodians
CERTIFIERS = ("Cara", "Sam")  # manage_certificates: 1 key custodian + 1 supervisor
BINS = ["400000", "40000012", "510000"]
CA_EXPIRY = date(2035, 12, 31)


@dataclass
class BrandCa:
    """The brand's certification authority: its private keys, by CA public key index."""

    keys: dict[int, rsa.RSAPrivateKey]

    def public(self, index: int) -> emv.CaPublicKey:
        n = self.keys[index].public_key().public_numbers().n
        return emv.CaPublicKey(rid=RID, index=index, modulus=n, exponent=3)

    def fields(self, index: int, *, check_sum: bytes | None = None) -> CaKeyFields:
        public = self.public(index)
        return CaKeyFields(
            rid=RID,
            index=index,
            modulus=public.modulus,
            exponent=3,
            expires=CA_EXPIRY,
            check_sum=check_sum or public.check_sum(),
        )

    def certify(
        self,
        index: int,
        modulus: int,
        *,
        identifier: str,
        expiry: str = "1229",
        serial: bytes = bytes.fromhex("00002A"),
    ) -> tuple[bytes, bytes]:
        """What the brand returns: the certificate (tag 90) and the remainder (tag 92)."""
        return emv.issue_issuer_certificate(
            ca_private=self.keys[index],
            issuer_modulus=modulus,
            issuer_exponent=65537,
            issuer_identifier=identifier,
            expiry=expiry,
            serial=serial,
        )


@pytest.fixture(scope="module")
def brand_ca() -> BrandCa:
    # Index 92: 1984 bits, the EMV maximum (Book 2 Annex B2.1), exponent 3 as brands use;
    # index 94: 1408 bits, too short for a 1984-bit issuer key.
    return BrandCa(
        {
            0x92: rsa.generate_private_key(public_exponent=3, key_size=1984),  # noqa: S505
            0x93: rsa.generate_private_key(public_exponent=3, key_size=1984),  # noqa: S505
            0x94: rsa.generate_private_key(public_exponent=3, key_size=1408),  # noqa: S505
        }
    )


@pytest.fixture
def emv_world(world: Exchange, brand_ca: BrandCa) -> Exchange:
    """The interchange world with the brand as a partner and its three CA keys."""
    session = world.session(*ADMINS)
    world.s.interchange.add_partner(session, BRAND, "brand")
    world.s.emv.add_ca_keys(session, BRAND, [brand_ca.fields(i) for i in (0x92, 0x93, 0x94)])
    world.end()
    return world


def key(world: Exchange, ref: str) -> ManagedKey:
    with world.repo.unit_of_work(read_only=True) as uow:
        sealed = uow.keys.get(ref) or uow.keys.by_label(ref)
        assert sealed is not None
        return sealed.value


def modulus_of(world: Exchange, key_set: IssuerKeySet) -> int:
    public = serialization.load_der_public_key(key(world, key_set.key_pair_id).public_key or b"")
    assert isinstance(public, rsa.RSAPublicKey)
    return public.public_numbers().n


def key_set(world: Exchange, bin: str) -> IssuerKeySet:
    (found,) = world.s.emv.key_sets(world.session(*ADMINS), bin=bin)
    return found


def make(world: Exchange, bins: list[str], **options: Any) -> Any:
    return world.s.emv.create_issuer_keys(world.session(*MAKERS), bins, brand=BRAND, **options)


def request(world: Exchange, bin: str, **options: Any) -> bytes:
    options = {"ca_index": "92", "expiry": "12/29", **options}
    return world.s.emv.issuer_request(world.session(*CERTIFIERS), bin, **options)


# --- the whole way: three BINs, a request, a certificate ---------------------------------------


def test_three_bins_in_one_job_are_requested_and_certified(
    emv_world: Exchange, brand_ca: BrandCa
) -> None:
    world = emv_world
    before = world.key_count()
    seen: list[tuple[int, int]] = []
    job = make(world, BINS, progress=lambda done, total: seen.append((done, total)))
    assert job.stopped is None and job.not_made == () and job.brand == BRAND
    assert [s.bin for s in job.made] == BINS and seen == [(1, 3), (2, 3), (3, 3)]
    assert world.key_count() == before + 12  # a key pair and three master keys per BIN
    for made in job.made:
        pair = key(world, made.key_pair_id)
        assert pair.algorithm is KeyAlgorithm.RSA_1984 and pair.key_usage == "S0"
        assert pair.label.startswith(f"EMV-ISS-{made.bin}-") and pair.kcv == made.key_pair_kcv
        assert pair.state is KeyState.PRE_ACTIVATION
        assert [m.usage for m in made.master_keys] == ["E0", "E2", "E1"]  # AC, SMI, SMC
        for ref in made.master_keys:
            master = key(world, ref.key_id)
            assert master.algorithm is KeyAlgorithm.TDES_2KEY and master.kcv == ref.kcv
            assert master.label.endswith(f"-{made.bin}")
        assert made.status is IssuerKeyStatus.GENERATED and made.due is None
    generated = [e for e in world.audit("key.generate") if e["details"].get("bin") in BINS]
    assert len(generated) == 12
    assert {e["details"]["job"] for e in generated} == {
        world.audit("emv.issuer_keys.job")[-1]["object_id"]
    }
    assert [e["object_label"] for e in world.audit("emv.issuer_keys.create")] == [
        f"BIN {b}" for b in BINS
    ]

    # The request: the facts of EMV Book 2 5.1 and a proof of possession by the HSM key.
    data = request(world, "400000", serial="00002A")
    read = read_request_file(data)
    first = job.made[0]
    assert read.body["bin"] == "400000" and read.body["issuer_identifier"] == "400000FF"
    assert read.body["ca_index"] == "92" and read.body["rid"] == RID.hex().upper()
    assert read.body["expiry"] == "1229" and read.body["serial"] == "00002A"
    assert read.body["modulus_length"] == 248 and read.body["exponent"] == "010001"
    assert read.request.modulus == modulus_of(world, first)
    entry = world.audit("emv.issuer_request")[-1]
    assert entry["details"]["request_sha256"] == read.sha256 and entry["kcv"] == first.key_pair_kcv
    assert key_set(world, "400000").status is IssuerKeyStatus.REQUESTED

    # The brand certifies the key in the request; the certificate is recovered and kept.
    certificate, remainder = brand_ca.certify(0x92, read.request.modulus, identifier="400000")
    assert len(certificate) == 248 and len(remainder) == 36  # NI - (NCA - 36)
    kept = world.s.emv.import_issuer_certificate(
        world.session(*CERTIFIERS),
        "400000",
        certificate,
        remainder=remainder,
        exponent=65537,
        ca_index="92",
    )
    assert kept.status is IssuerKeyStatus.CERTIFIED and kept.certificate is not None
    assert kept.certificate.serial == "00002A" and kept.certificate.expiry == "1229"
    assert kept.certificate.certificate == certificate.hex().upper()
    assert kept.due == datetime(2029, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert key_set(world, "400000") == kept
    assert world.audit("emv.certificate.import")[-1]["details"]["serial"] == "00002A"

    # What falls due: the issuer certificate and the brand's CA keys.
    with world.repo.unit_of_work(read_only=True) as uow:
        due = world.s.emv.due_items(uow, datetime(2036, 1, 1, tzinfo=UTC))
    assert (due[0].kind, due[0].ref) == ("emv-certificate", kept.id)
    assert due[0].what == "issuer certificate expires" and due[0].key_id == kept.key_pair_id
    assert sorted(i.ref for i in due if i.kind == "emv-ca-key") == [
        "A000000999-92",
        "A000000999-93",
        "A000000999-94",
    ]
    with world.repo.unit_of_work(read_only=True) as uow:
        assert world.s.emv.due_items(uow, datetime(2029, 1, 1, tzinfo=UTC)) == []


# --- certificates refused ----------------------------------------------------------------------


def test_wrong_certificates_are_refused_each_with_its_reason(
    emv_world: Exchange, brand_ca: BrandCa
) -> None:
    world = emv_world
    job = make(world, ["400000", "510000"])
    mine, other = job.made
    request(world, "400000")
    requested = key_set(world, "400000")
    modulus = modulus_of(world, mine)
    good, rest = brand_ca.certify(0x92, modulus, identifier="400000")
    tampered = bytearray(good)
    tampered[100] ^= 0x01
    wrong_bin = brand_ca.certify(0x92, modulus, identifier="400001")
    others = brand_ca.certify(0x92, modulus_of(world, other), identifier="400000")
    expired = brand_ca.certify(0x92, modulus, identifier="400000", expiry="0120")
    under_93 = brand_ca.certify(0x93, modulus, identifier="400000")
    cases = [
        (wrong_bin, "92", "it names issuer identifier 400001, not BIN 400000"),
        ((bytes(tampered), rest), "92", "recovered data trailer is|hash result does not match"),
        (
            under_93,
            "93",
            "given as signed under CA key index 93, but the request asked for index 92",
        ),
        (others, "92", "it certifies another public key than issuer key pair EMV-ISS-400000-"),
        (expired, "92", r"certificate expired: valid until the end of 01/2020"),
    ]
    for (certificate, remainder), index, reason in cases:
        refused = len(world.audit("emv.certificate.refused"))
        with pytest.raises(
            BadInput, match=f"^Issuer certificate for BIN 400000 refused: .*({reason})"
        ):
            world.s.emv.import_issuer_certificate(
                world.session(*CERTIFIERS),
                "400000",
                certificate,
                remainder=remainder,
                exponent=65537,
                ca_index=index,
            )
        audit = world.audit("emv.certificate.refused")
        assert len(audit) == refused + 1 and audit[-1]["object_label"] == "BIN 400000"
        assert key_set(world, "400000") == requested  # nothing changed
    assert world.audit("emv.certificate.import") == []
    # Before any request, an import is refused: nothing says which CA key to expect.
    certificate, remainder = brand_ca.certify(0x92, modulus_of(world, other), identifier="510000")
    with pytest.raises(BadInput, match="No certificate was requested for BIN 510000"):
        world.s.emv.import_issuer_certificate(
            world.session(*CERTIFIERS),
            "510000",
            certificate,
            remainder=remainder,
            exponent=65537,
            ca_index="92",
        )


def test_requests_the_brand_could_not_answer_are_refused(emv_world: Exchange) -> None:
    world = emv_world
    make(world, ["400000"])
    with pytest.raises(BadInput, match=r"longer than Test Brand's CA key index 94 \(176 bytes\)"):
        request(world, "400000", ca_index="94")  # NI <= NCA, EMV Book 2 5.1
    with pytest.raises(BadInput, match="a certificate cannot outlive the key that signs it"):
        request(world, "400000", expiry="01/36")
    with pytest.raises(BadInput, match="Expiry 01/20 is in the past"):
        request(world, "400000", expiry="01/20")
    with pytest.raises(NotFound, match="no CA public key with index 95"):
        request(world, "400000", ca_index="95")
    with pytest.raises(NotFound, match="BIN 400001 has no issuer key set in use"):
        request(world, "400001")
    with pytest.raises(PolicyRefused):  # the certificate quorum: no supervisor
        world.s.emv.issuer_request(world.session(*MAKERS), "400000", ca_index="92", expiry="12/29")
    assert world.audit("emv.issuer_request") == []
    assert key_set(world, "400000").status is IssuerKeyStatus.GENERATED


# --- the job -----------------------------------------------------------------------------------


def test_the_bins_are_checked_before_anything_is_made(emv_world: Exchange) -> None:
    world = emv_world
    make(world, ["400000"])
    before = world.key_count()
    for bins, refusal, message in [
        (["40000"], BadInput, "BIN '40000' is not 6 or 8 digits"),
        (["400001", "4000X1"], BadInput, "BIN '4000X1' is not 6 or 8 digits"),
        (["400001", "400001"], BadInput, "BIN 400001 is given twice"),
        (["400002", "400000"], AlreadyExists, "BIN 400000 already has an issuer key set in use"),
        ([], BadInput, "Give at least one BIN"),
    ]:
        with pytest.raises(refusal, match=message):
            make(world, bins)
    with pytest.raises(BadInput, match="is a bank, not a card brand"):
        world.s.emv.create_issuer_keys(
            world.session(*MAKERS), ["400003"], brand="Acquirer Bank 042"
        )
    with pytest.raises(BadInput, match="an EMV issuer key pair is RSA of at most 1984 bits"):
        make(world, ["400003"], template="ATM EPP key pair")
    with pytest.raises(PolicyRefused):  # the generation quorum: two custodians
        world.s.emv.create_issuer_keys(world.session("Cara", "Sam"), ["400003"], brand=BRAND)
    assert world.key_count() == before
    assert len(world.audit("emv.issuer_keys.create")) == 1

    # Once its key pair is destroyed, a BIN may have a new key set.
    old = key_set(world, "400000")
    world.s.keys.change_state(
        world.session("Olivia", "Sam"), old.key_pair_label, Action.DESTROY_KEY, reason="test"
    )
    again = make(world, ["400000"]).made[0]
    assert again.id != old.id and again.key_pair_id != old.key_pair_id


def test_a_cancelled_job_keeps_the_bins_it_made(emv_world: Exchange) -> None:
    world = emv_world
    done: list[int] = []
    job = make(
        world,
        ["400000", "400001", "400002"],
        progress=lambda made, total: done.append(made),
        cancelled=lambda: len(done) >= 1,
    )
    assert job.stopped == "cancelled"
    assert [s.bin for s in job.made] == ["400000"] and job.not_made == ("400001", "400002")
    assert [s.bin for s in world.s.emv.key_sets(world.session(*ADMINS))] == ["400000"]
    summary = world.audit("emv.issuer_keys.job")[-1]["details"]
    assert summary["made"] == ["400000"] and summary["not_made"] == ["400001", "400002"]
    assert summary["stopped"] == "cancelled"
    assert len([e for e in world.audit("key.generate") if "bin" in e["details"]]) == 4


# --- brand CA keys -----------------------------------------------------------------------------


def test_brand_ca_keys_are_checked_by_their_check_sum(
    emv_world: Exchange, brand_ca: BrandCa
) -> None:
    world = emv_world
    session = world.session(*ADMINS)
    listed = world.s.emv.ca_keys(session, brand=BRAND)
    assert [(k.id, k.modulus_length) for k in listed] == [
        ("A000000999-92", 248),
        ("A000000999-93", 248),
        ("A000000999-94", 176),
    ]
    assert listed[0].check_sum == brand_ca.public(0x92).check_sum().hex().upper()
    added = world.audit("emv.ca_key.add")
    assert len(added) == 3 and added[0]["details"]["modulus_bits"] == 1984
    wrong = brand_ca.fields(0x92, check_sum=bytes(20))
    with pytest.raises(BadInput, match=r"the check sum published is 0000.*a field was mistyped"):
        world.s.emv.add_ca_keys(session, BRAND, [wrong])
    with pytest.raises(AlreadyExists, match="already has CA public key index 92"):
        world.s.emv.add_ca_keys(session, BRAND, [brand_ca.fields(0x92)])
    with pytest.raises(BadInput, match="is a bank, not a card brand"):
        world.s.emv.add_ca_keys(session, "Acquirer Bank 042", [brand_ca.fields(0x92)])
    assert len(world.audit("emv.ca_key.add")) == 3
    removed = world.s.emv.remove_ca_key(session, BRAND, "94")
    assert removed.id == "A000000999-94"
    assert [k.index for k in world.s.emv.ca_keys(session, brand=BRAND)] == [0x92, 0x93]
    assert world.audit("emv.ca_key.remove")[-1]["object_id"] == "A000000999-94"
    with pytest.raises(PolicyRefused):  # the partners quorum: officer and supervisor
        world.s.emv.remove_ca_key(world.session("Cara", "Sam"), BRAND, "93")
