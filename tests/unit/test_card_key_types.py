"""Cards whose 9A key the workstation cannot log on with are refused at enrolment and at
initialisation, before the PIN is asked, naming the key found and the keys supported."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.fakes import FakeCardData
from tests.unit.test_services import World
from workstation.domain.cardauth import parse_card_certificate, require_logon_key
from workstation.domain.people import Role
from workstation.errors import BadInput
from workstation.services.initialise import OfficerCard

SUPPORTED = "this workstation logs on only with EC P-256 or RSA-2048 keys"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def certificate(key: PrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Card Holder")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2040, 1, 1, tzinfo=UTC))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    ("key", "found"),
    [
        (lambda: ec.generate_private_key(ec.SECP256R1()), None),
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), None),
        (lambda: ec.generate_private_key(ec.SECP384R1()), "EC P-384"),
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=3072), "RSA-3072"),
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=4096), "RSA-4096"),
    ],
    ids=["P-256", "RSA-2048", "P-384", "RSA-3072", "RSA-4096"],
)
def test_logon_key_rule(key: object, found: str | None) -> None:
    assert callable(key)
    cert = parse_card_certificate(certificate(key()))
    if found is None:
        require_logon_key(cert)
        return
    with pytest.raises(BadInput) as refused:
        require_logon_key(cert)
    assert refused.value.user_message() == (
        f"The card's PIV Authentication key (slot 9A) is {found}; {SUPPORTED}. Put an "
        "EC P-256 or RSA-2048 key and its certificate in slot 9A, then enrol the card."
    )


@pytest.fixture()
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def p384_card(holder: str) -> FakeCardData:
    return FakeCardData(holder, key=ec.generate_private_key(ec.SECP384R1()))


def test_enrolment_refuses_a_p384_card_before_the_pin(world: World) -> None:
    world.initialise()
    session = world.session("Olivia", "Oscar")
    card = p384_card("Dana")
    reader = world.readers.insert(5, card)
    pin = world.pin()
    with pytest.raises(BadInput, match="is EC P-384; " + SUPPORTED):
        world.s.people.enrol(
            session, name="Dana", roles=[Role.KEY_CUSTODIAN], reader=reader, pin=pin
        )
    assert pin == bytearray(len(pin))  # wiped all the same
    assert not card.verified and card.tries == card.max_tries  # the PIN was never asked
    with world.repo.unit_of_work() as uow:
        assert uow.people.by_name("Dana") is None
        assert uow.cards.get(parse_card_certificate(card.certificate).fingerprint) is None
    # A further card for an enrolled person is refused the same way.
    with pytest.raises(BadInput, match="is EC P-384"):
        world.s.people.add_card(session, person="Oscar", reader=reader, pin=world.pin())
    assert not card.verified


def test_initialisation_refuses_a_p384_officer_card(world: World) -> None:
    r0 = world.readers.insert(0, world.cards["Olivia"])
    r1 = world.readers.insert(1, p384_card("Oscar"))
    with pytest.raises(BadInput, match="is EC P-384; " + SUPPORTED):
        world.s.init.initialise(
            [OfficerCard(r0, "Olivia", world.pin()), OfficerCard(r1, "Oscar", world.pin())]
        )
    assert not world.repo.exists()
    assert not world.hsm.has_workstation_keys()
