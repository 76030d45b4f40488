"""A demo card-issuing CA for the virtual PIV cards.

It plays the part of a bank's card management system: it holds a CA key (EC P-256) and
certificate, and issues virtual PIV cards with a fresh key pair and a PIV Authentication
certificate (slot 9A) signed by the CA. Not for production: the CA key is stored
unencrypted in its directory.

Examples
--------
>>> ca = DemoCa.load_or_create(Path("/tmp/demo/ca"))  # doctest: +SKIP
>>> card = issue_card(Path("/tmp/demo/alice.json"), "Alice Example", "123456",
...                   valid_days=365, ca=ca)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from workstation.devtools.virtual_piv import VirtualCard

__all__ = ["CA_CERT_FILE", "CA_KEY_FILE", "DemoCa", "KeyType", "issue_card"]

CA_KEY_FILE = "ca-key.pem"
CA_CERT_FILE = "ca-cert.pem"

#: Microsoft smart card logon, often found beside clientAuth in PIV Authentication
#: certificates (FIPS 201-3 and the FPKI profile allow both in that certificate;
#: id-PIV-cardAuth belongs to the Card Authentication certificate, slot 9E, instead).
_SMARTCARD_LOGON = ObjectIdentifier("1.3.6.1.4.1.311.20.2.2")

KeyType = Literal["ec-p256", "rsa-2048"]


@dataclass(frozen=True)
class DemoCa:
    """The demo card-issuing CA: a key and a self-signed certificate."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(
        cls, common_name: str = "KCW Demo Card Issuing CA", *, valid_days: int = 3650
    ) -> DemoCa:
        """Make a new CA key (EC P-256) and a self-signed CA certificate."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Key Custodian Workstation demo"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        now = datetime.now(UTC)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)

    @classmethod
    def load(cls, directory: Path) -> DemoCa:
        """Load the CA from ``directory`` (``ca-key.pem`` and ``ca-cert.pem``)."""
        key = serialization.load_pem_private_key(
            (directory / CA_KEY_FILE).read_bytes(), password=None
        )
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{directory / CA_KEY_FILE} is not an EC key")
        certificate = x509.load_pem_x509_certificate((directory / CA_CERT_FILE).read_bytes())
        return cls(key, certificate)

    @classmethod
    def load_or_create(cls, directory: Path) -> DemoCa:
        """Load the CA kept in ``directory``, or create and save one there."""
        if (directory / CA_KEY_FILE).exists():
            return cls.load(directory)
        ca = cls.create()
        ca.save(directory)
        return ca

    def save(self, directory: Path) -> None:
        """Write ``ca-key.pem`` (mode 0600) and ``ca-cert.pem`` to ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        _write_private(
            directory / CA_KEY_FILE,
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        (directory / CA_CERT_FILE).write_bytes(
            self.certificate.public_bytes(serialization.Encoding.PEM)
        )

    def issue_certificate(
        self,
        public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
        holder_name: str,
        *,
        valid_days: int,
        not_before: datetime | None = None,
        card_uuid: bytes | None = None,
    ) -> x509.Certificate:
        """A PIV Authentication certificate for ``holder_name``'s card key.

        Subject CN = the holder name; key usage digitalSignature (critical); extended key
        usage clientAuth and smart card logon. ``not_before`` defaults to a minute ago; a
        ``not_before`` far enough in the past makes an already-expired certificate.
        """
        start = not_before if not_before is not None else datetime.now(UTC) - timedelta(minutes=1)
        if start.tzinfo is None:
            raise ValueError("not_before must be timezone-aware")
        end = start + timedelta(days=valid_days)
        if end <= start:
            raise ValueError("valid_days must be positive")
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(
                            NameOID.ORGANIZATION_NAME, "Key Custodian Workstation demo"
                        ),
                        x509.NameAttribute(NameOID.COMMON_NAME, holder_name),
                    ]
                )
            )
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, _SMARTCARD_LOGON]),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if card_uuid is not None:
            # FIPS 201-3 puts the card UUID in the subject alternative name as a URN.
            urn = f"urn:uuid:{uuid.UUID(bytes=card_uuid)}"
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(urn)]),
                critical=False,
            )
        return builder.sign(self.key, hashes.SHA256())


def issue_card(
    path: str | os.PathLike[str],
    holder_name: str,
    pin: str | bytes | bytearray,
    *,
    valid_days: int = 365,
    not_before: datetime | None = None,
    ca: DemoCa | None = None,
    key_type: KeyType = "ec-p256",
    pin_tries: int = 3,
    overwrite: bool = False,
) -> VirtualCard:
    """Issue a new virtual PIV card to ``path`` and return it.

    Parameters
    ----------
    path
        The card file to write (refused if it exists, unless ``overwrite``).
    holder_name
        The cardholder; becomes the certificate's subject CN.
    pin
        The card's PIN, 6 to 8 digits. Only a salted hash is stored.
    valid_days, not_before
        The certificate's validity. ``not_before`` in the past with a short ``valid_days``
        gives an expired certificate (for tests of expired cards).
    ca
        The issuing CA. Default: the CA kept in ``demo-ca/`` beside the card file (created
        on first use), so cards issued into one directory share one CA.
    key_type
        ``"ec-p256"`` (PIV algorithm 11, the default) or ``"rsa-2048"`` (algorithm 07).
    pin_tries
        Wrong PINs before the card blocks.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists")
    if not holder_name.strip():
        raise ValueError("the holder name is empty")
    issuer = ca if ca is not None else DemoCa.load_or_create(target.parent / "demo-ca")
    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if key_type == "ec-p256":
        private_key = ec.generate_private_key(ec.SECP256R1())
    elif key_type == "rsa-2048":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        raise ValueError(f"unknown key type {key_type!r}")
    card_uuid = secrets.token_bytes(16)
    certificate = issuer.issue_certificate(
        private_key.public_key(),
        holder_name,
        valid_days=valid_days,
        not_before=not_before,
        card_uuid=card_uuid,
    )
    return VirtualCard.create(
        target,
        holder_name=holder_name,
        private_key=private_key,
        certificate=certificate,
        pin=pin,
        pin_tries=pin_tries,
        overwrite=overwrite,
        guid=card_uuid,
    )


def _write_private(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)  # mkstemp made it 0600
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
