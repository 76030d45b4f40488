"""PIV Authentication certificates and the proof of possession of their key.

A card is identified by the SHA-256 of its PIV Authentication certificate (slot 9A,
NIST SP 800-73-4 part 1, table 3). At enrolment and at every logon the card signs a fresh
random challenge with the 9A key (GENERAL AUTHENTICATE, SP 800-73-4 part 2, 3.2.4), and
the signature is checked here against the enrolled certificate's public key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from workstation.errors import BadInput

# Keys a PIV card may hold for slot 9A that this workstation accepts
# (SP 800-78-4 table 3-1: RSA 2048, ECC P-256 and P-384).
_ACCEPTED_CURVES = ("secp256r1", "secp384r1")
_MIN_RSA_BITS = 2048

# Keys the workstation can log on with: the card adapter signs the challenge with PIV
# algorithm 0x11 (ECC P-256) or 0x07 (RSA 2048) only (SP 800-78-4 table 6-2). A card with
# another key must be refused at enrolment, or it would be enrolled and never log on.
LOGON_KEY_TYPES = ("EC secp256r1", "RSA 2048")
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}

# cryptography's X.509 modules are imported where they are used: the logon screen needs
# card_id() at start, the certificate parsing only once someone logs on.


@dataclass(frozen=True)
class CardCertificate:
    der: bytes
    fingerprint: str  # SHA-256 of the DER, lower-case hex: the card's id
    subject: str
    common_name: str
    serial_number: str
    not_before: datetime
    not_after: datetime
    key_description: str

    def expired(self, now: datetime) -> bool:
        return now > self.not_after

    def not_yet_valid(self, now: datetime) -> bool:
        return now < self.not_before


def card_id(cert_der: bytes) -> str:
    return hashlib.sha256(cert_der).hexdigest()


def parse_card_certificate(der: bytes) -> CardCertificate:
    """Read a PIV Authentication certificate; a malformed or unsuitable one is refused."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise BadInput(
            "The card's PIV Authentication certificate (slot 9A) cannot be read.", detail=str(exc)
        ) from None
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _ACCEPTED_CURVES:
            raise BadInput(f"The card's key uses curve {key.curve.name}; P-256 or P-384 is needed.")
        key_description = f"EC {key.curve.name}"
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _MIN_RSA_BITS:
            raise BadInput(f"The card's RSA key has {key.key_size} bits; at least 2048 are needed.")
        key_description = f"RSA {key.key_size}"
    else:
        raise BadInput("The card's key is neither EC nor RSA; it cannot be used for logon.")
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(cns[0].value) if cns else cert.subject.rfc4514_string()
    return CardCertificate(
        der=der,
        fingerprint=card_id(der),
        subject=cert.subject.rfc4514_string(),
        common_name=common_name,
        serial_number=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc.astimezone(UTC),
        not_after=cert.not_valid_after_utc.astimezone(UTC),
        key_description=key_description,
    )


def key_name(key_description: str) -> str:
    """A card key as people name it: 'EC P-384', 'RSA-3072'."""
    kind, _, size = key_description.partition(" ")
    if kind == "EC":
        return f"EC {_CURVE_NAMES.get(size, size)}"
    return f"{kind}-{size}" if size else kind


def require_logon_key(cert: CardCertificate) -> None:
    """Refuse a card whose 9A key the workstation cannot log on with (enrolment, and the
    officers' cards at initialisation), naming the key found and the keys supported.
    """
    if cert.key_description in LOGON_KEY_TYPES:
        return
    supported = " or ".join(key_name(k) for k in LOGON_KEY_TYPES)
    raise BadInput(
        f"The card's PIV Authentication key (slot 9A) is {key_name(cert.key_description)}; "
        f"this workstation logs on only with {supported} keys. Put an {supported} key and "
        "its certificate in slot 9A, then enrol the card."
    )


def signature_is_valid(cert_der: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` over ``message`` verifies with the certificate's key.

    EC keys: ECDSA with SHA-256 (DER signature). RSA keys: RSASSA-PKCS1-v1_5 with SHA-256.
    """
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        key = x509.load_der_x509_certificate(cert_der).public_key()
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True
