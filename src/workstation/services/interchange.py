"""Interchange: keys to and from partners by the payment standards.

TR-31 / ANSI X9.143 key blocks under a key encryption key (KEK) both ways, TR-34 as key
receiving device (KRD) and as key distribution host (KDH), ECDH key agreement deriving the
KEK of a TR-31 block, DUKPT initial keys exported per device, and the legacy import of a key
encrypted under a zone master key without a key block.

Where clear key material exists: the standards code runs in this process, so a key and its
KEK are unwrapped from the HSM into ``bytearray``s for the length of one wrap or unwrap and
overwritten at once (invariant 2). The workstation's own private keys (TR-34 KRD and KDH,
ECDH, the exchange CA) never leave the HSM: it signs, decrypts raw RSA and agrees ECDH
secrets there (``Hsm.exchange_*``). A received key enters the HSM wrapped under the master
key and is stored pre-active: activating it takes the activation quorum (PCI PIN Security
Requirement 18-1: a received key is used only once its origin and check value are confirmed).

Policy: exports take the key's export quorum and a key whose template or exportability says
no is never exported (X9.143 exportability 'N'); imports take the import quorum of the
template the key block's header maps to. Every exchange writes one audit entry naming the
partner, the format and the check values of the key and of the KEK.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from workstation.domain import components as comp
from workstation.domain.algorithms import KeyAlgorithm, KeyFamily
from workstation.domain.keys import KeyEvent, KeyState, ManagedKey
from workstation.domain.partners import Partner, check_partner_name
from workstation.domain.policy import Action
from workstation.domain.records import format_time, parse_time
from workstation.domain.templates import KeyTemplate, TemplateStatus, render_label
from workstation.errors import (
    AlreadyExists,
    BadInput,
    IntegrityError,
    NotFound,
    PolicyRefused,
)
from workstation.services.context import Authorisation, ServiceContext
from workstation.services.keys import KeyService, check_exportable
from workstation.services.ports import KeyQuery, UnitOfWork
from workstation.services.session import Session
from workstation.standards import dukpt, ecdh, kcv, legacy, tr31, tr34

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]

# The workstation's exchange key pairs, by name in the HSM.
EXCHANGE_CA = "exchange-ca"
TR34_KRD = "tr34-krd"
TR34_KDH = "tr34-kdh"
ECDH_KEYS = {"P-256": "ecdh-p256", "P-384": "ecdh-p384", "P-521": "ecdh-p521"}
_EXCHANGE_ALGORITHMS = {
    EXCHANGE_CA: KeyAlgorithm.RSA_3072,
    # RSA-3072 (128-bit strength, NIST SP 800-57 Part 1 Table 2) so that TR-34 may carry
    # an AES-128 KEK without a weaker wrapping key.
    TR34_KRD: KeyAlgorithm.RSA_3072,
    TR34_KDH: KeyAlgorithm.RSA_3072,
    "ecdh-p256": KeyAlgorithm.EC_P256,
    "ecdh-p384": KeyAlgorithm.EC_P384,
    "ecdh-p521": KeyAlgorithm.EC_P521,
}
_KEY_USAGE = {
    EXCHANGE_CA: frozenset({"key_cert_sign", "crl_sign"}),
    TR34_KRD: frozenset({"key_encipherment"}),
    TR34_KDH: frozenset({"digital_signature"}),
    **{name: frozenset({"key_agreement"}) for name in ECDH_KEYS.values()},
}
_CERT_META = "exchange_certificate:"
_NONCE_META = "tr34_nonce:"
_SIGNING_TIME_META = "tr34_last_signing_time:"  # per partner: one-pass replay protection
CA_VALIDITY = timedelta(days=3650)
LEAF_VALIDITY = timedelta(days=730)

KEK_USAGES = ("K0", "K1")  # TR-31: key encryption or wrapping; key block protection key
BDK_USAGES = ("B0",)
IPEK_USAGE = "B1"
MAX_DUKPT_DEVICES = 200_000

STANDARD_ERRORS: tuple[type[ValueError], ...] = (
    tr31.TR31Error,
    kcv.KcvError,
    legacy.LegacyKeyError,
    tr34.TR34Error,
    ecdh.ECDHError,
    dukpt.DukptError,
)


@contextmanager
def _standard_errors(what: str) -> Iterator[None]:
    """The standards modules' errors are bad input: name what was being read."""
    try:
        yield
    except STANDARD_ERRORS as e:
        raise BadInput(f"{what}: {e}") from None


def _wipe(*buffers: bytearray | None) -> None:
    for b in buffers:
        if b is not None:
            b[:] = bytes(len(b))


def _pem(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()


def _as_der(data: bytes | str, what: str, kind: str, pem: Any, der: Any) -> bytes:
    """One PEM or DER object read with the given cryptography loaders, as DER; BadInput
    naming ``what`` and the ``kind`` expected otherwise."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        obj = pem(raw) if raw.lstrip().startswith(b"-----BEGIN") else der(raw)
    except ValueError:
        raise BadInput(f"{what} is not {kind} (PEM or DER).") from None
    return bytes(obj.public_bytes(serialization.Encoding.DER))


def certificate_der(data: bytes | str, what: str) -> bytes:
    """One X.509 certificate, PEM or DER, as DER; BadInput naming ``what`` otherwise."""
    return _as_der(
        data,
        what,
        "an X.509 certificate",
        x509.load_pem_x509_certificate,
        x509.load_der_x509_certificate,
    )


def crl_der(data: bytes | str, what: str) -> bytes:
    """One CRL, PEM or DER, as DER; BadInput naming ``what`` otherwise."""
    return _as_der(
        data,
        what,
        "a certificate revocation list",
        x509.load_pem_x509_crl,
        x509.load_der_x509_crl,
    )


def _crl_pem(der: bytes) -> str:
    return x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM).decode()


def certificate_summary(der: bytes) -> str:
    cert = x509.load_der_x509_certificate(der)
    return (
        f"{cert.subject.rfc4514_string()} (serial {cert.serial_number:X}, issued by "
        f"{cert.issuer.rfc4514_string()}, valid to {cert.not_valid_after_utc:%Y-%m-%d})"
    )


def tr31_algorithm(algorithm: KeyAlgorithm) -> str:
    """The TR-31 algorithm code of a key's algorithm (X9.143 Table 3): T and A for secret
    keys, R (RSA) and E (elliptic curve) for a key pair's private key."""
    return {KeyFamily.TDES: "T", KeyFamily.AES: "A", KeyFamily.RSA: "R", KeyFamily.EC: "E"}[
        algorithm.family
    ]


# Security strength in bits, NIST SP 800-57 Part 1 Rev. 5 Table 2: TDES by keying option,
# AES by length, RSA by modulus (2048: 112, 3072: 128, ...), EC by curve (half the order).
_IFC_STRENGTH = ((15360, 256), (7680, 192), (3072, 128), (2048, 112), (1024, 80))


def algorithm_strength(algorithm: KeyAlgorithm) -> int:
    """The security strength of a key of ``algorithm``, as ``tr31.key_strength`` judges the
    key itself, known before any clear value exists."""
    if algorithm.family is KeyFamily.TDES:
        return 112 if algorithm is KeyAlgorithm.TDES_3KEY else 80
    if algorithm.family is KeyFamily.RSA:
        return next((s for bits, s in _IFC_STRENGTH if algorithm.bits >= bits), 0)
    if algorithm.family is KeyFamily.EC:
        return min(algorithm.bits // 2, 256)
    return algorithm.bits


def algorithm_for(code: str, length: int) -> KeyAlgorithm:
    """The key algorithm of a received key from its TR-31 algorithm code and length."""
    table = {
        ("T", 16): KeyAlgorithm.TDES_2KEY,
        ("T", 24): KeyAlgorithm.TDES_3KEY,
        ("A", 16): KeyAlgorithm.AES_128,
        ("A", 24): KeyAlgorithm.AES_192,
        ("A", 32): KeyAlgorithm.AES_256,
    }
    if (code, length) not in table:
        if code == "T" and length == 8:
            raise BadInput(
                "The key block holds a single-length DES key; single DES is not accepted "
                "(ANSI X9.24-1:2017 and PCI PIN: TDES keys are at least double length)."
            )
        raise BadInput(
            f"The key block holds a {length}-byte key with algorithm {code!r}; the workstation "
            "takes TDES (16 or 24 bytes) and AES (16, 24 or 32 bytes) secret keys."
        )
    return table[(code, length)]


def _family(algorithm: KeyAlgorithm) -> str:
    return algorithm.family.value


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportedKey:
    """A key sent to a partner: the text or bytes to hand over, and what to tell them."""

    key_label: str
    key_kcv: str
    wrapping_label: str  # the KEK, the partner's KRD certificate or the ECDH agreement
    wrapping_kcv: str
    format: str  # "TR-31 D", "TR-34 2019 one-pass", ...
    partner: str
    key_block: str = ""  # TR-31 (text)
    token: bytes = b""  # TR-34 (DER)
    header: str = ""


@dataclass(frozen=True)
class ImportedKey:
    key: ManagedKey
    template: str
    format: str
    partner: str
    header: str
    wrapping_kcv: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyBlockInfo:
    """What a TR-31 key block says about itself, read without the KEK."""

    version: str
    key_usage: str
    key_usage_text: str
    algorithm: str
    mode_of_use: str
    key_version: str
    exportability: str
    optional_blocks: tuple[tuple[str, str], ...]
    templates: tuple[str, ...]  # active templates the header maps to


@dataclass(frozen=True)
class ExchangeIdentity:
    """The workstation's certificates for exchanges (PEM), to hand to partners."""

    ca_certificate: str | None
    certificates: dict[str, str] = field(default_factory=dict)  # exchange key name -> PEM


@dataclass(frozen=True)
class InitialKeyLine:
    ksn: str
    initial_key_id: str
    key_block: str
    kcv: str


@dataclass(frozen=True)
class DukptExport:
    bdk_label: str
    bdk_kcv: str
    kek_label: str
    kek_kcv: str
    partner: str
    lines: tuple[InitialKeyLine, ...]
    digest: str  # SHA-256 of the exported file's text, as audited
    stopped: str | None = None

    def text(self) -> str:
        """The exported file: a header line, then one line per device (CSV)."""
        rows = ["ksn,initial_key_id,tr31_key_block,kcv"]
        rows += [f"{x.ksn},{x.initial_key_id},{x.key_block},{x.kcv}" for x in self.lines]
        return "\n".join(rows) + "\n"


@dataclass(frozen=True)
class DukptTestKeys:
    """Keys of one transaction of a TEST base derivation key, for checking a terminal."""

    bdk_label: str
    ksn: str
    scheme: str  # "TDES" or "AES"
    initial_key: str
    transaction_key: str
    working_keys: dict[str, str]


# --- the service ---------------------------------------------------------------------------


class InterchangeService:
    def __init__(self, ctx: ServiceContext, keys: KeyService) -> None:
        self.ctx = ctx
        self.keys = keys

    # --- partners ----------------------------------------------------------------------

    def partners(self, session: Session) -> list[Partner]:
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            return [self.ctx.unseal(s, f"partner {s.value.name}") for s in uow.partners.list()]

    def partner(self, session: Session, name: str) -> Partner:
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            return self.find_partner(uow, name)

    def find_partner(self, uow: UnitOfWork, name: str) -> Partner:
        """The exchange partner named ``name``, unsealed in ``uow``, for a service that
        has authorised its own action. Raises ``NotFound`` when there is none."""
        sealed = uow.partners.by_name(name.strip())
        if sealed is None:
            raise NotFound(f"No exchange partner named {name!r}; add it first.")
        return self.ctx.unseal(sealed, f"partner {sealed.value.name}")

    def add_partner(
        self,
        session: Session,
        name: str,
        kind: str,
        *,
        ca_certificates: Sequence[bytes | str] = (),
        crls: Sequence[bytes | str] = (),
        krd_certificate: bytes | str | None = None,
        notes: str = "",
    ) -> Partner:
        name = check_partner_name(name)
        cas = [certificate_der(c, f"CA certificate {i}") for i, c in enumerate(ca_certificates, 1)]
        self._check_anchors(cas)
        crl_list = [crl_der(c, f"CRL {i}") for i, c in enumerate(crls, 1)]
        self._check_crls(cas, crl_list)
        krd = certificate_der(krd_certificate, "KRD certificate") if krd_certificate else None
        if krd is not None:
            self._check_partner_certificate(cas, crl_list, krd, "key_encipherment", "KRD")
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_PARTNERS)
            if uow.partners.by_name(name) is not None:
                raise AlreadyExists(f"A partner named {name} already exists.")
            partner = Partner(
                id=uuid.uuid4().hex,
                name=name,
                kind=kind,
                ca_certificates=tuple(_pem(c) for c in cas),
                crls=tuple(_crl_pem(c) for c in crl_list),
                krd_certificate=_pem(krd) if krd else None,
                notes=notes.strip(),
                created_at=self.ctx.clock.now(),
            )
            uow.partners.add(partner, self.ctx.seal(partner))
            self.ctx.audit(
                uow,
                auth,
                "partner.add",
                "partner",
                partner.id,
                label=partner.name,
                details={
                    "kind": kind,
                    "ca_certificates": [certificate_summary(c) for c in cas],
                    "crls": len(crl_list),
                    "krd_certificate": certificate_summary(krd) if krd else None,
                },
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return partner

    def update_partner(
        self,
        session: Session,
        name: str,
        *,
        add_ca_certificates: Sequence[bytes | str] = (),
        crls: Sequence[bytes | str] | None = None,
        krd_certificate: bytes | str | None = None,
        notes: str | None = None,
    ) -> Partner:
        """Add trust anchors, replace the CRLs (a newer list supersedes the old) or the
        KRD certificate, or change the notes."""
        new_cas = [
            certificate_der(c, f"CA certificate {i}") for i, c in enumerate(add_ca_certificates, 1)
        ]
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_PARTNERS)
            partner = self.find_partner(uow, name)
            cas = [certificate_der(c, "stored CA") for c in partner.ca_certificates] + new_cas
            self._check_anchors(cas)
            crl_list = (
                [crl_der(c, f"CRL {i}") for i, c in enumerate(crls, 1)]
                if crls is not None
                else [crl_der(c, "stored CRL") for c in partner.crls]
            )
            self._check_crls(cas, crl_list)
            krd_pem = partner.krd_certificate
            changes: dict[str, object] = {}
            if krd_certificate is not None:
                krd = certificate_der(krd_certificate, "KRD certificate")
                self._check_partner_certificate(cas, crl_list, krd, "key_encipherment", "KRD")
                krd_pem = _pem(krd)
                changes["krd_certificate"] = certificate_summary(krd)
            if new_cas:
                changes["added_ca_certificates"] = [certificate_summary(c) for c in new_cas]
            if crls is not None:
                changes["crls"] = len(crl_list)
            if notes is not None:
                changes["notes"] = "changed"
            if not changes:
                raise BadInput(
                    "Nothing to change: give a CA certificate, CRLs, a KRD certificate or notes."
                )
            updated = partner.updated(
                ca_certificates=tuple(_pem(c) for c in cas),
                crls=tuple(_crl_pem(c) for c in crl_list),
                krd_certificate=krd_pem,
                notes=partner.notes if notes is None else notes.strip(),
            )
            uow.partners.update(updated, self.ctx.seal(updated))
            self.ctx.audit(
                uow,
                auth,
                "partner.update",
                "partner",
                partner.id,
                label=partner.name,
                details=changes,
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return updated

    def _check_anchors(self, cas: Sequence[bytes]) -> None:
        now = self.ctx.clock.now()
        for i, der in enumerate(cas, 1):
            cert = x509.load_der_x509_certificate(der)
            try:
                bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            except x509.ExtensionNotFound:
                bc = None
            if bc is None or not bc.ca:
                raise BadInput(
                    f"CA certificate {i} ({cert.subject.rfc4514_string()}) is not a CA "
                    "certificate (basicConstraints CA is not set)."
                )
            if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                raise BadInput(
                    f"CA certificate {i} ({cert.subject.rfc4514_string()}) is not valid now "
                    f"(valid {cert.not_valid_before_utc:%Y-%m-%d} to "
                    f"{cert.not_valid_after_utc:%Y-%m-%d})."
                )

    @staticmethod
    def _check_crls(cas: Sequence[bytes], crls: Sequence[bytes]) -> None:
        issuers = {x509.load_der_x509_certificate(c).subject: c for c in cas}
        for i, der in enumerate(crls, 1):
            crl = x509.load_der_x509_crl(der)
            ca = issuers.get(crl.issuer)
            if ca is None:
                raise BadInput(
                    f"CRL {i} was issued by {crl.issuer.rfc4514_string()}, which is not one of "
                    "this partner's CA certificates."
                )
            public = x509.load_der_x509_certificate(ca).public_key()
            if not crl.is_signature_valid(public):  # type: ignore[arg-type]
                raise BadInput(f"CRL {i}'s signature does not verify with its issuer's key.")

    def _check_partner_certificate(
        self, cas: Sequence[bytes], crls: Sequence[bytes], der: bytes, usage: str, what: str
    ) -> None:
        if not cas:
            raise BadInput(
                f"The partner has no CA certificate: import the CA that issued its {what} "
                "certificate first."
            )
        with _standard_errors(f"{what} certificate refused"):
            tr34.verify_certificate_chain(
                der, ca_certificates=cas, crls=crls, now=self.ctx.clock.now(), usage=usage
            )

    @staticmethod
    def _anchors(partner: Partner) -> tuple[list[bytes], list[bytes]]:
        return (
            [certificate_der(c, "stored CA") for c in partner.ca_certificates],
            [crl_der(c, "stored CRL") for c in partner.crls],
        )

    # --- the workstation's exchange identity ---------------------------------------------

    def exchange_identity(self, session: Session) -> ExchangeIdentity:
        """The workstation's exchange certificates made so far (nothing is created)."""
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            certs = {
                name: pem
                for name in _EXCHANGE_ALGORITHMS
                if (pem := uow.meta.get(_CERT_META + name)) is not None
            }
        ca = certs.pop(EXCHANGE_CA, None)
        return ExchangeIdentity(ca, certs)

    def exchange_certificate(self, session: Session, name: str) -> str:
        """The certificate (PEM) of exchange key ``name``, issued by the workstation's
        exchange CA; the CA and the key pair are made in the HSM on first use under the
        partner-management quorum."""
        if name not in _EXCHANGE_ALGORITHMS or name == EXCHANGE_CA:
            raise BadInput(
                f"Unknown exchange key {name!r}; use one of: "
                + ", ".join(n for n in _EXCHANGE_ALGORITHMS if n != EXCHANGE_CA)
                + "."
            )
        with self.ctx.repository.unit_of_work() as uow:
            existing = uow.meta.get(_CERT_META + name)
            if existing is not None:
                self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
                self._check_own_certificate(name, existing)
                return existing
            auth = self.ctx.authorise(uow, session, Action.MANAGE_PARTNERS)
            wid = self.ctx.workstation_id(uow)
            ca_pem = uow.meta.get(_CERT_META + EXCHANGE_CA)
            if ca_pem is None:
                ca_pem = self._issue(uow, auth, session, EXCHANGE_CA, wid, None)
            pem = self._issue(uow, auth, session, name, wid, ca_pem)
            uow.commit()
        self.ctx.checkpoint()
        return pem

    def _issue(
        self,
        uow: UnitOfWork,
        auth: Authorisation,
        session: Session,
        name: str,
        wid: str,
        ca_pem: str | None,
    ) -> str:
        algorithm = _EXCHANGE_ALGORITHMS[name]
        public = self.ctx.hsm.exchange_public_key(name)
        if public is None:
            public = self.ctx.hsm.create_exchange_key(name, algorithm)
        now = self.ctx.clock.now()
        is_ca = name == EXCHANGE_CA
        subject = f"CN=KCW {name} {wid[:8]},O=Key Custodian Workstation"
        with _standard_errors("Certificate not issued"):
            der = tr34.issue_certificate(
                subject=subject,
                public_key=public,
                issuer_certificate=None if ca_pem is None else certificate_der(ca_pem, "CA"),
                issuer_sign=lambda m: self.ctx.hsm.exchange_sign(EXCHANGE_CA, m),
                serial=secrets.randbits(63) | 1,
                not_before=now - timedelta(minutes=5),
                not_after=now + (CA_VALIDITY if is_ca else LEAF_VALIDITY),
                ca=is_ca,
                key_usage=_KEY_USAGE[name],
            )
        pem = _pem(der)
        uow.meta.put(_CERT_META + name, pem)
        self.ctx.audit(
            uow,
            auth,
            "exchange.certificate",
            "exchange_key",
            name,
            label=name,
            details={"certificate": certificate_summary(der), "algorithm": algorithm.value},
            session=session,
        )
        return pem

    def _check_own_certificate(self, name: str, pem: str) -> bytes:
        """The stored certificate must carry the HSM's public key (a row swapped in the
        repository is refused, not used)."""
        der = certificate_der(pem, f"the {name} certificate")
        cert = x509.load_der_x509_certificate(der)
        spki = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if spki != self.ctx.hsm.exchange_public_key(name):
            raise IntegrityError(
                f"The stored {name} certificate does not carry the HSM's {name} public key."
            )
        return der

    def _own_certificate(self, uow: UnitOfWork, name: str) -> bytes:
        pem = uow.meta.get(_CERT_META + name)
        if pem is None:
            raise BadInput(
                f"The workstation has no {name} certificate yet: publish it first "
                f"(exchange certificate {name})."
            )
        return self._check_own_certificate(name, pem)

    # --- keys and templates ------------------------------------------------------------

    def key_and_template(self, uow: UnitOfWork, ref: str) -> tuple[ManagedKey, KeyTemplate]:
        """The key ``ref`` and its template, unsealed in ``uow``."""
        key = self.keys.find_key(uow, ref)
        return key, self.keys.template_of(uow, key)

    @staticmethod
    def require_usable_kek(kek: ManagedKey, usages: Sequence[str], what: str) -> None:
        """Refuse ``kek`` as the ``what`` ("key encryption key", "zone master key") of an
        exchange unless it is a symmetric key with one of the TR-31 ``usages``, active,
        and holding key material. Raises ``BadInput`` or ``PolicyRefused`` naming the
        key and what is wrong."""
        if not kek.algorithm.is_symmetric or kek.key_usage not in usages:
            raise BadInput(
                f"Key {kek.label} (usage {kek.key_usage}) is not a {what} "
                f"(TR-31 key usage {' or '.join(usages)})."
            )
        if kek.state is not KeyState.ACTIVE:
            raise PolicyRefused(
                f"{what[0].upper() + what[1:]} {kek.label} is {kek.state.value}; only an "
                "active key protects an exchange."
            )
        if kek.wrapped is None:
            raise BadInput(f"Key {kek.label} holds no key material.")

    def clear_value(self, key: ManagedKey) -> bytearray:
        """The clear value of a stored secret key, checked against its recorded KCV
        (``IntegrityError`` when it does not match). The caller has checked the quorum
        and exportability, and overwrites the returned ``bytearray`` when done."""
        assert key.wrapped is not None
        value = self.ctx.hsm.export_clear_key(key.algorithm, key.wrapped)
        if comp.kcv_hex(comp.check_value(key.algorithm, value)) != key.kcv.upper():
            _wipe(value)
            raise IntegrityError(f"Key {key.label} does not give its recorded check value.")
        return value

    def _private_key(self, key: ManagedKey) -> bytearray:
        """A stored key pair's private key in clear (PKCS #8 DER), for one wrap. No public
        key comparison is made here: the wrapped value is sealed with the record (and its
        public key), and key wrap with padding refuses any other value in the HSM."""
        assert key.wrapped is not None
        return self.ctx.hsm.export_private_key(key.algorithm, key.wrapped)

    def key_block(
        self,
        key: ManagedKey,
        kek: ManagedKey,
        *,
        version: str,
        exportability: str | None = None,
        key_version: str = "00",
        include_check_values: bool = True,
    ) -> str:
        """``key`` (a secret key, or a key pair's private key) as a TR-31 block under
        ``kek``. The caller has checked exportability, the KEK and the quorum; the clear
        values exist only for the wrap and are overwritten after it."""
        kbpk = self.clear_value(kek)
        try:
            return self._wrap(
                key,
                kbpk,
                kek.algorithm,
                version=version,
                exportability=exportability,
                key_version=key_version,
                kcv_block=include_check_values,
            )
        finally:
            _wipe(kbpk)

    def _header_for(
        self,
        key: ManagedKey,
        *,
        version: str,
        exportability: str | None,
        key_version: str,
        kcv_block: bool,
        kbpk: bytearray | None,
        kbpk_algorithm: KeyAlgorithm | None,
        usage: str | None = None,
        mode: str | None = None,
        blocks: Sequence[tuple[str, str]] = (),
    ) -> tr31.Header:
        exp = _narrowed(key, exportability)
        optional = list(blocks)
        if kcv_block:
            # X9.143 KC / KP optional blocks: algorithm 00 legacy (TDES, 3 bytes) or 01 CMAC
            # (AES, 5 bytes), then the check value, as X9.24-1:2017 Annex A defines them.
            # Neither method is defined for a private key, so a key pair's block has KP only.
            if key.algorithm.is_symmetric:
                optional.append(("KC", _kcv_block(key.algorithm, key.kcv)))
            if kbpk is not None and kbpk_algorithm is not None:
                kp = comp.kcv_hex(comp.check_value(kbpk_algorithm, kbpk))
                optional.append(("KP", _kcv_block(kbpk_algorithm, kp)))
        optional.append(("TS", self.ctx.clock.now().strftime("%Y%m%d%H%M%SZ")))
        with _standard_errors("Key block header"):
            return tr31.Header(
                version_id=version,
                key_usage=usage or key.key_usage,
                algorithm=tr31_algorithm(key.algorithm),
                mode_of_use=mode or key.mode_of_use,
                version_num=key_version,
                exportability=exp,
                blocks=optional,
            )

    def _templates_for(
        self, uow: UnitOfWork, usage: str, algorithm: KeyAlgorithm, mode: str
    ) -> list[KeyTemplate]:
        found = []
        for sealed in uow.templates.list():
            t = self.ctx.unseal(sealed, f"template {sealed.value.name}")
            if (
                t.status is TemplateStatus.ACTIVE
                and t.key_usage == usage
                and t.algorithm is algorithm
                and t.mode_of_use == mode
            ):
                found.append(t)
        return found

    def _map_template(
        self,
        uow: UnitOfWork,
        template_ref: str | None,
        usage: str,
        algorithm: KeyAlgorithm,
        mode: str,
    ) -> KeyTemplate:
        """The template a received key is recorded under: the one named (which must agree
        with the header), or the only active template matching the header."""
        if template_ref:
            template = self.keys.templates.find(uow, template_ref)
            if template.status is not TemplateStatus.ACTIVE:
                raise BadInput(f"Template {template.name!r} is retired; no keys are added to it.")
            wrong = [
                f"{what} {got} (template {want})"
                for what, got, want in (
                    ("key usage", usage, template.key_usage),
                    ("algorithm", algorithm.value, template.algorithm.value),
                    ("mode of use", mode, template.mode_of_use),
                )
                if got != want
            ]
            if wrong:
                raise BadInput(
                    f"The received key does not fit template {template.name!r}: "
                    + "; ".join(wrong)
                    + "."
                )
            return template
        candidates = self._templates_for(uow, usage, algorithm, mode)
        if not candidates:
            raise BadInput(
                f"No active template is for {algorithm.value} keys with TR-31 usage {usage} and "
                f"mode of use {mode}: create one, or name a template."
            )
        if len(candidates) > 1:
            names = ", ".join(repr(t.name) for t in candidates)
            raise BadInput(f"Several templates fit the received key ({names}): name one.")
        return candidates[0]

    def _record_import(
        self,
        session: Session,
        *,
        value: bytearray,
        algorithm: KeyAlgorithm,
        template_ref: str | None,
        usage: str,
        mode: str,
        label: str | None,
        expected_kcv: str | None,
        fmt: str,
        partner_name: str,
        header: str,
        wrapping: str,
        wrapping_kcv: str,
        warnings: list[str],
        extra: dict[str, str] | None = None,
    ) -> ImportedKey:
        """Check a received clear key and store it pre-active under its template: all in
        one transaction with its audit entry, or nothing."""
        if algorithm.family is KeyFamily.TDES:
            if comp.parity_errors(value):
                # DES ignores the parity bits (FIPS 46-3 section 1.2), so the check value
                # is the same; the HSM takes keys with odd parity only.
                comp.odd_parity(value)
                warnings.append("The received TDES key did not have odd parity; parity was set.")
        computed = comp.kcv_hex(comp.check_value(algorithm, value))
        if expected_kcv:
            got = bytes.fromhex(_kcv_text(expected_kcv))
            with _standard_errors("Check value refused"):
                match = kcv.identify(value, family=_family(algorithm), kcv=got)
            if match.warning:
                warnings.append(match.warning)
        with self.ctx.repository.unit_of_work() as uow:
            partner = self.find_partner(uow, partner_name)
            template = self._map_template(uow, template_ref, usage, algorithm, mode)
            if not template.allows(Action.IMPORT_KEY):
                raise PolicyRefused(f"Template {template.name!r} does not allow importing keys.")
            auth = self.ctx.authorise(uow, session, Action.IMPORT_KEY, template=template)
            if label is not None and uow.keys.by_label(label) is not None:
                raise AlreadyExists(f"A key labelled {label!r} already exists.")
            duplicate = [
                k.value.label
                for k in uow.keys.query(KeyQuery(kcv=computed))
                if k.value.algorithm is algorithm and k.value.state is not KeyState.DESTROYED
            ]
            if duplicate:
                warnings.append(
                    f"A key with the same check value is already in the inventory "
                    f"({', '.join(duplicate)})."
                )
            generated = self.ctx.hsm.import_clear_key(algorithm, value)
            if comp.kcv_hex(generated.kcv) != computed:
                raise IntegrityError("The HSM computed another check value for the received key.")
            seq = uow.templates.reserve_sequence(template.id, 1)
            now = self.ctx.clock.now()
            key_label = label or render_label(
                template.label_pattern, seq=seq, when=now, template=template.name, version=1
            )
            details = {
                "partner": partner.name,
                "format": fmt,
                "header": header,
                "wrapping": wrapping,
                "wrapping_kcv": wrapping_kcv,
                **({"warnings": " | ".join(warnings)} if warnings else {}),
                **(extra or {}),
            }
            key = self.keys.record_new(
                uow,
                auth,
                session,
                template,
                generated,
                key_id=uuid.uuid4().hex,
                label=key_label,
                details=details,
                action=Action.IMPORT_KEY,
            )
            uow.commit()
        self.ctx.checkpoint()
        return ImportedKey(
            key=key,
            template=template.name,
            format=fmt,
            partner=partner.name,
            header=header,
            wrapping_kcv=wrapping_kcv,
            warnings=tuple(warnings),
        )

    def record_sent_key(
        self,
        session: Session,
        auth: Authorisation,
        key: ManagedKey,
        *,
        partner: Partner,
        fmt: str,
        wrapping: str,
        wrapping_kcv: str,
        header: str,
        key_block: str = "",
        token: bytes = b"",
        shown_wrapping: str | None = None,
        details: dict[str, object] | None = None,
    ) -> ExportedKey:
        """Audit a key sent to a partner (entry and key history) and describe it."""
        with self.ctx.repository.unit_of_work() as uow:
            now = self.ctx.clock.now()
            seq = self.ctx.audit(
                uow,
                auth,
                "key.export",
                "key",
                key.id,
                label=key.label,
                kcv=key.kcv,
                details={
                    "partner": partner.name,
                    "format": fmt,
                    "wrapping": wrapping,
                    "wrapping_kcv": wrapping_kcv,
                    **(details or {}),
                },
                session=session,
            )
            uow.keys.add_event(
                KeyEvent(
                    key_id=key.id,
                    at=now,
                    action=Action.EXPORT_KEY,
                    from_state=key.state,
                    to_state=key.state,
                    people=tuple(m.name for m in session.members),
                    reason=f"{fmt} to {partner.name}",
                    audit_seq=seq,
                )
            )
            uow.commit()
        self.ctx.checkpoint()
        return ExportedKey(
            key_label=key.label,
            key_kcv=key.kcv,
            wrapping_label=shown_wrapping or wrapping,
            wrapping_kcv=wrapping_kcv,
            format=fmt,
            partner=partner.name,
            key_block=key_block,
            token=token,
            header=header,
        )

    def _wrap(
        self,
        key: ManagedKey,
        kbpk: bytearray,
        kbpk_algorithm: KeyAlgorithm,
        *,
        version: str,
        exportability: str | None,
        key_version: str,
        kcv_block: bool,
    ) -> str:
        """``key`` as a TR-31 block under ``kbpk`` (which the caller wipes): a secret key,
        or a key pair's private key as PKCS #8 DER (X9.143 algorithm R or E)."""
        value = self.clear_value(key) if key.algorithm.is_symmetric else self._private_key(key)
        try:
            header = self._header_for(
                key,
                version=version,
                exportability=exportability,
                key_version=key_version,
                kcv_block=kcv_block,
                kbpk=kbpk,
                kbpk_algorithm=kbpk_algorithm,
            )
            with _standard_errors("Key block not made"):
                return tr31.wrap(kbpk, header, value)
        finally:
            _wipe(value)

    def _import_block(
        self,
        session: Session,
        kbpk: bytearray,
        text: str,
        *,
        fmt_prefix: str,
        partner: str,
        template_ref: str | None,
        expected_kcv: str | None,
        label: str | None,
        wrapping: str,
        wrapping_kcv: str,
        extra: dict[str, str] | None = None,
    ) -> ImportedKey:
        """Unwrap a TR-31 block under ``kbpk`` (which the caller wipes) and record it."""
        value: bytearray | None = None
        try:
            with _standard_errors("Key block refused"):
                header, clear = tr31.unwrap(kbpk, text)
            value = bytearray(clear)
            del clear
            return self._record_import(
                session,
                value=value,
                algorithm=algorithm_for(header.algorithm, len(value)),
                template_ref=template_ref,
                usage=header.key_usage,
                mode=header.mode_of_use,
                label=label,
                expected_kcv=expected_kcv,
                fmt=f"{fmt_prefix}TR-31 {header.version_id}",
                partner_name=partner,
                header=text[:16],
                wrapping=wrapping,
                wrapping_kcv=wrapping_kcv,
                warnings=[],
                extra=extra,
            )
        finally:
            _wipe(value)

    # --- TR-31 -------------------------------------------------------------------------

    def describe_key_block(self, session: Session, key_block: str) -> KeyBlockInfo:
        """Read a key block's header (no KEK needed) and the templates it maps to."""
        text = key_block.strip()
        with _standard_errors("Key block refused"):
            header = tr31.parse(text)
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            names: tuple[str, ...] = ()
            if header.algorithm in ("T", "A"):
                found: list[str] = []
                for length in (16, 24, 32):
                    try:
                        algorithm = algorithm_for(header.algorithm, length)
                    except BadInput:
                        continue
                    found += [
                        t.name
                        for t in self._templates_for(
                            uow, header.key_usage, algorithm, header.mode_of_use
                        )
                    ]
                names = tuple(found)
        return KeyBlockInfo(
            version=header.version_id,
            key_usage=header.key_usage,
            key_usage_text=tr31.KEY_USAGES.get(header.key_usage, "unknown"),
            algorithm=header.algorithm,
            mode_of_use=header.mode_of_use,
            key_version=header.version_num,
            exportability=header.exportability,
            optional_blocks=tuple(header.blocks),
            templates=names,
        )

    def export_tr31(
        self,
        session: Session,
        key_ref: str,
        kek_ref: str,
        *,
        partner: str,
        version: str | None = None,
        exportability: str | None = None,
        key_version: str = "00",
        include_check_values: bool = True,
    ) -> ExportedKey:
        """A key as a TR-31 key block under a KEK shared with the partner: a secret key, or
        a key pair's private key (PKCS #8, algorithm R or E) for a host HSM or key store,
        which its template must let leave like any key."""
        with self.ctx.repository.unit_of_work() as uow:
            the_partner = self.find_partner(uow, partner)
            key, template = self.key_and_template(uow, key_ref)
            kek, _ = self.key_and_template(uow, kek_ref)
            if kek.id == key.id:
                raise BadInput("A key cannot be exported under itself.")
            check_exportable(key, template, carried_as="these formats", key_pairs=True)
            self.require_usable_kek(kek, KEK_USAGES, "key encryption key")
            auth = self.ctx.authorise(uow, session, Action.EXPORT_KEY, template=template)
        chosen = version or ("D" if kek.algorithm.family is KeyFamily.AES else "B")
        block = self.key_block(
            key,
            kek,
            version=chosen,
            exportability=exportability,
            key_version=key_version,
            include_check_values=include_check_values,
        )
        fmt = f"TR-31 {chosen}"
        return self.record_sent_key(
            session,
            auth,
            key,
            partner=the_partner,
            fmt=fmt,
            wrapping=kek.label,
            wrapping_kcv=kek.kcv,
            header=block[:16],
            key_block=block,
            details={"header": block[:16]},
        )

    def import_tr31(
        self,
        session: Session,
        key_block: str,
        kek_ref: str,
        *,
        partner: str,
        template_ref: str | None = None,
        expected_kcv: str | None = None,
        label: str | None = None,
    ) -> ImportedKey:
        """A TR-31 key block from a partner, under a KEK shared with them: the MAC is
        verified, the header mapped to a template, the check value compared, and the key
        stored pre-active."""
        text = key_block.strip()
        with _standard_errors("Key block refused"):
            tr31.parse(text)
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.find_partner(uow, partner)
            kek, _ = self.key_and_template(uow, kek_ref)
            self.require_usable_kek(kek, KEK_USAGES, "key encryption key")
        kbpk = self.clear_value(kek)
        try:
            return self._import_block(
                session,
                kbpk,
                text,
                fmt_prefix="",
                partner=partner,
                template_ref=template_ref,
                expected_kcv=expected_kcv,
                label=label,
                wrapping=kek.label,
                wrapping_kcv=kek.kcv,
            )
        finally:
            _wipe(kbpk)

    # --- legacy import -----------------------------------------------------------------

    def import_legacy(
        self,
        session: Session,
        encrypted: str,
        zmk_ref: str,
        *,
        partner: str,
        template_ref: str,
        expected_kcv: str,
        label: str | None = None,
    ) -> ImportedKey:
        """A key encrypted under a zone master key without a key block (TDES ECB): accepted
        for import only, with the partner's check value required, and a warning that PCI PIN
        requires key blocks. Such keys are exported as key blocks only."""
        if not expected_kcv.strip():
            raise BadInput("A key received without a key block needs the partner's check value.")
        try:
            data = bytes.fromhex(encrypted.strip().replace(" ", ""))
        except ValueError:
            raise BadInput("The encrypted key is not hexadecimal.") from None
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.find_partner(uow, partner)
            zmk, _ = self.key_and_template(uow, zmk_ref)
            self.require_usable_kek(zmk, ("K0",), "zone master key")
            if zmk.algorithm.family is not KeyFamily.TDES:
                raise BadInput(f"Zone master key {zmk.label} is not a TDES key.")
            template = self.keys.templates.find(uow, template_ref)
        zmk_value = self.clear_value(zmk)
        value: bytearray | None = None
        try:
            with _standard_errors("Encrypted key refused"):
                value = bytearray(legacy.decrypt_under_zmk(zmk_value, data))
            if len(value) != template.algorithm.key_bytes:
                raise BadInput(
                    f"The decrypted key is {len(value)} bytes; template {template.name!r} is for "
                    f"{template.algorithm.value} keys ({template.algorithm.key_bytes} bytes)."
                )
            warnings = [legacy.WARNING]
            with _standard_errors("Key strength"):
                weaker = tr31.key_strength(zmk_value, "T") < tr31.key_strength(
                    value, tr31_algorithm(template.algorithm)
                )
            if weaker:
                # ANSI X9.24-1 / PCI PIN 18-3: a key is protected by a key at least as strong;
                # the key came this way already, so the custodians are told, not stopped.
                warnings.append(
                    f"Zone master key {zmk.label} is weaker than the key it carried; "
                    "replace it and send the key again under a key block."
                )
            return self._record_import(
                session,
                value=value,
                algorithm=template.algorithm,
                template_ref=template.name,
                usage=template.key_usage,
                mode=template.mode_of_use,
                label=label,
                expected_kcv=expected_kcv,
                fmt="legacy TDES-ECB under ZMK",
                partner_name=partner,
                header="",
                wrapping=zmk.label,
                wrapping_kcv=zmk.kcv,
                warnings=warnings,
            )
        finally:
            _wipe(zmk_value, value)

    # --- TR-34 -------------------------------------------------------------------------

    def tr34_nonce(self, session: Session, partner: str) -> bytes:
        """A random number token (RKRD) for a two-pass TR-34 import from ``partner``; the
        nonce is remembered until one token from that partner uses it."""
        nonce = bytes(self.ctx.hsm.random_bytes(16))
        with self.ctx.repository.unit_of_work() as uow:
            the_partner = self.find_partner(uow, partner)
            auth = self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            uow.meta.put(_NONCE_META + nonce.hex().upper(), the_partner.id)
            self.ctx.audit(
                uow,
                auth,
                "tr34.nonce",
                "partner",
                the_partner.id,
                label=the_partner.name,
                details={"nonce": nonce.hex().upper()},
                session=session,
            )
            uow.commit()
        with _standard_errors("Random number token"):
            return tr34.random_number_token(nonce)

    def import_tr34(
        self,
        session: Session,
        token: bytes,
        *,
        partner: str,
        template_ref: str | None = None,
        expected_kcv: str | None = None,
        label: str | None = None,
        nonce_token: bytes | None = None,
        kdh_certificate: bytes | str | None = None,
    ) -> ImportedKey:
        """A TR-34 key token from the partner as KDH, addressed to this workstation's KRD
        certificate: the KDH certificate is checked against the partner's CA and CRLs, the
        signature verified, the key unwrapped in the HSM's KRD key and stored pre-active.
        ``kdh_certificate`` is needed only when the token does not carry it."""
        nonce: bytes | None = None
        kdh_der = certificate_der(kdh_certificate, "KDH certificate") if kdh_certificate else None
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            the_partner = self.find_partner(uow, partner)
            cas, crls = self._anchors(the_partner)
            if not cas:
                raise BadInput(
                    f"Partner {the_partner.name} has no CA certificate: import the CA that "
                    "issued its KDH certificate first."
                )
            krd_cert = self._own_certificate(uow, TR34_KRD)
            last_time = parse_time(uow.meta.get(_SIGNING_TIME_META + the_partner.id))
            if nonce_token is not None:
                with _standard_errors("Random number token"):
                    nonce = tr34.read_random_number_token(nonce_token)
                if uow.meta.get(_NONCE_META + nonce.hex().upper()) != the_partner.id:
                    raise BadInput(
                        "The random number token was not issued by this workstation for "
                        f"{the_partner.name}, or it was used already."
                    )

        def krd_decrypt(ciphertext: bytes) -> bytes:
            encoded = self.ctx.hsm.exchange_decrypt_raw(TR34_KRD, ciphertext)
            try:
                return tr34.oaep_decode(bytes(encoded))
            finally:
                _wipe(encoded)

        value: bytearray | None = None
        try:
            with _standard_errors("TR-34 key token refused"):
                received = tr34.open_key_token(
                    token,
                    krd_decrypt=krd_decrypt,
                    krd_certificate=krd_cert,
                    ca_certificates=cas,
                    crls=crls,
                    nonce=nonce,
                    now=self.ctx.clock.now(),
                    kdh_certificate=kdh_der,
                    # One-pass: a token is fresh only if signed after the last one taken
                    # from this partner (TR-34-2019 5.4: replay protection by time stamp).
                    last_signing_time=last_time if nonce is None else None,
                )
            value = bytearray(received.key)
            with _standard_errors("TR-34 key block header"):
                header = tr31.Header.load(received.header)
            algorithm = algorithm_for(header.algorithm, len(value))
            mode = "two-pass" if received.nonce is not None else "one-pass"
            result = self._record_import(
                session,
                value=value,
                algorithm=algorithm,
                template_ref=template_ref,
                usage=header.key_usage,
                mode=header.mode_of_use,
                label=label,
                expected_kcv=expected_kcv,
                fmt=f"TR-34 {received.edition} {mode}",
                partner_name=partner,
                header=received.header,
                wrapping=f"KRD certificate {_serial(krd_cert)}",
                wrapping_kcv="",
                warnings=[],
                extra={"kdh_certificate": certificate_summary(received.kdh_certificate)},
            )
            # The nonce is spent and the time stamp moves on only once the key is stored,
            # so a refused import may be tried again with the same token.
            with self.ctx.repository.unit_of_work() as uow:
                if nonce is not None:
                    uow.meta.put(_NONCE_META + nonce.hex().upper(), "used")
                elif received.signing_time is not None:
                    stamp = format_time(received.signing_time)
                    assert stamp is not None
                    uow.meta.put(_SIGNING_TIME_META + the_partner.id, stamp)
                uow.commit()
            return result
        finally:
            _wipe(value)

    def export_tr34(
        self,
        session: Session,
        key_ref: str,
        *,
        partner: str,
        edition: str = "2019",
        nonce_token: bytes | None = None,
        exportability: str | None = None,
    ) -> ExportedKey:
        """A key (typically a KEK) as a TR-34 key token for the partner's KRD certificate,
        signed by this workstation's KDH key in the HSM."""
        if edition not in ("2012", "2019"):
            raise BadInput(f"TR-34 edition {edition!r} is not 2012 or 2019.")
        with self.ctx.repository.unit_of_work() as uow:
            the_partner = self.find_partner(uow, partner)
            if the_partner.krd_certificate is None:
                raise BadInput(
                    f"Partner {the_partner.name} has no KRD certificate: import it first."
                )
            cas, crls = self._anchors(the_partner)
            krd = certificate_der(the_partner.krd_certificate, "KRD certificate")
            self._check_partner_certificate(cas, crls, krd, "key_encipherment", "KRD")
            kdh_cert = self._own_certificate(uow, TR34_KDH)
            key, template = self.key_and_template(uow, key_ref)
            check_exportable(key, template, carried_as="these formats")
            auth = self.ctx.authorise(uow, session, Action.EXPORT_KEY, template=template)
        nonce: bytes | None = None
        if nonce_token is not None:
            with _standard_errors("Random number token"):
                nonce = tr34.read_random_number_token(nonce_token)
        exp = _narrowed(key, exportability)
        value = self.clear_value(key)
        try:
            # TR-34 carries the 16-character TR-31 header of the key (no optional blocks):
            # version D for AES keys, A (TDES) as in the TR-34-2019 Annex B samples.
            with _standard_errors("Key block header"):
                header_text = tr31.Header(
                    version_id="D" if key.algorithm.family is KeyFamily.AES else "A",
                    key_usage=key.key_usage,
                    algorithm=tr31_algorithm(key.algorithm),
                    mode_of_use=key.mode_of_use,
                    version_num="00",
                    exportability=exp,
                ).dump(len(value))[:16]
            with _standard_errors("TR-34 key token not made"):
                token = tr34.build_key_token(
                    key=value,
                    header=header_text,
                    kdh_certificate=kdh_cert,
                    kdh_sign=lambda m: self.ctx.hsm.exchange_sign(TR34_KDH, m),
                    krd_certificate=krd,
                    edition=edition,  # type: ignore[arg-type]
                    nonce=nonce,
                    signing_time=self.ctx.clock.now(),
                    random=lambda n: bytes(self.ctx.hsm.random_bytes(n)),
                )
        finally:
            _wipe(value)
        mode = "two-pass" if nonce is not None else "one-pass"
        fmt = f"TR-34 {edition} {mode}"
        krd_text = certificate_summary(krd)
        return self.record_sent_key(
            session,
            auth,
            key,
            partner=the_partner,
            fmt=fmt,
            wrapping=f"KRD {krd_text}",
            wrapping_kcv="",
            header=header_text,
            token=token,
            shown_wrapping=krd_text,
            details={"header": header_text},
        )

    # --- ECDH --------------------------------------------------------------------------

    def _agreed_kek(
        self,
        uow: UnitOfWork,
        partner: Partner,
        partner_certificate: bytes | str,
        *,
        curve: str,
        kdf: str,
        hash_name: str,
        shared_info: bytes,
        kek_algorithm: str,
    ) -> tuple[bytearray, str]:
        """The KEK both sides derive: ECDH of the HSM's key with the partner's certified
        public key, then the KDF in software. Returns the KEK and its check value."""
        if curve not in ECDH_KEYS:
            raise BadInput(f"Curve {curve!r} is not one of {', '.join(ECDH_KEYS)}.")
        name = ECDH_KEYS[curve]
        self._own_certificate(uow, name)
        der = certificate_der(partner_certificate, "Partner's ECDH certificate")
        cas, crls = self._anchors(partner)
        self._check_partner_certificate(cas, crls, der, "key_agreement", "ECDH")
        peer = x509.load_der_x509_certificate(der).public_key()
        spki = peer.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        algorithm = KeyAlgorithm.parse(kek_algorithm)
        z = self.ctx.hsm.exchange_agree(name, spki)
        try:
            with _standard_errors("ECDH key derivation"):
                kek = bytearray(
                    ecdh.derive_kek(
                        # typed as bytes, takes any buffer: the bytearray is what is wiped
                        cast(bytes, z),
                        kdf=kdf,
                        hash_name=hash_name,
                        shared_info=shared_info,
                        key_algorithm=algorithm.value,
                    )
                )
        finally:
            _wipe(z)
        return kek, comp.kcv_hex(comp.check_value(algorithm, kek))

    def export_ecdh(
        self,
        session: Session,
        key_ref: str,
        *,
        partner: str,
        partner_certificate: bytes | str,
        curve: str = "P-256",
        kdf: str = "NIST_SP800",
        hash_name: str = "SHA-512",
        shared_info: bytes,
        kek_algorithm: str = "AES-256",
        exportability: str | None = None,
    ) -> ExportedKey:
        """A key as a TR-31 block (version D) under a KEK derived by ECDH with the partner."""
        with self.ctx.repository.unit_of_work() as uow:
            the_partner = self.find_partner(uow, partner)
            key, template = self.key_and_template(uow, key_ref)
            check_exportable(key, template, carried_as="these formats")
            auth = self.ctx.authorise(uow, session, Action.EXPORT_KEY, template=template)
            kek, kek_kcv = self._agreed_kek(
                uow,
                the_partner,
                partner_certificate,
                curve=curve,
                kdf=kdf,
                hash_name=hash_name,
                shared_info=shared_info,
                kek_algorithm=kek_algorithm,
            )
        kek_alg = KeyAlgorithm.parse(kek_algorithm)
        try:
            block = self._wrap(
                key,
                kek,
                kek_alg,
                version="D" if kek_alg.family is KeyFamily.AES else "B",
                exportability=exportability,
                key_version="00",
                kcv_block=True,
            )
        finally:
            _wipe(kek)
        fmt = f"ECDH {curve} {kdf} {hash_name} + TR-31 {block[0]}"
        return self.record_sent_key(
            session,
            auth,
            key,
            partner=the_partner,
            fmt=fmt,
            wrapping="ECDH-derived KEK",
            wrapping_kcv=kek_kcv,
            header=block[:16],
            key_block=block,
            details={"header": block[:16], "shared_info": shared_info.hex().upper()},
        )

    def import_ecdh(
        self,
        session: Session,
        key_block: str,
        *,
        partner: str,
        partner_certificate: bytes | str,
        curve: str = "P-256",
        kdf: str = "NIST_SP800",
        hash_name: str = "SHA-512",
        shared_info: bytes,
        kek_algorithm: str = "AES-256",
        template_ref: str | None = None,
        expected_kcv: str | None = None,
        label: str | None = None,
    ) -> ImportedKey:
        text = key_block.strip()
        with _standard_errors("Key block refused"):
            tr31.parse(text)
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            the_partner = self.find_partner(uow, partner)
            kek, kek_kcv = self._agreed_kek(
                uow,
                the_partner,
                partner_certificate,
                curve=curve,
                kdf=kdf,
                hash_name=hash_name,
                shared_info=shared_info,
                kek_algorithm=kek_algorithm,
            )
        try:
            return self._import_block(
                session,
                kek,
                text,
                fmt_prefix=f"ECDH {curve} {kdf} {hash_name} + ",
                partner=partner,
                template_ref=template_ref,
                expected_kcv=expected_kcv,
                label=label,
                wrapping="ECDH-derived KEK",
                wrapping_kcv=kek_kcv,
                extra={"shared_info": shared_info.hex().upper()},
            )
        finally:
            _wipe(kek)

    # --- DUKPT -------------------------------------------------------------------------

    def _bdk(self, uow: UnitOfWork, bdk_ref: str) -> tuple[ManagedKey, KeyTemplate]:
        bdk, template = self.key_and_template(uow, bdk_ref)
        if bdk.key_usage not in BDK_USAGES or not bdk.algorithm.is_symmetric:
            raise BadInput(
                f"Key {bdk.label} (usage {bdk.key_usage}) is not a base derivation key "
                "(TR-31 key usage B0)."
            )
        if bdk.state is not KeyState.ACTIVE:
            raise PolicyRefused(
                f"Base derivation key {bdk.label} is {bdk.state.value}; only an active BDK "
                "derives keys."
            )
        if bdk.wrapped is None:
            raise BadInput(f"Key {bdk.label} holds no key material.")
        return bdk, template

    def export_initial_keys(
        self,
        session: Session,
        bdk_ref: str,
        kek_ref: str,
        ksns: Sequence[str],
        *,
        partner: str,
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> DukptExport:
        """The initial keys (IPEK / AES initial keys) of a list of devices, each as a TR-31
        block with key usage B1 under a transport KEK, in one job with progress.

        The BDK stays in the inventory; what leaves is one initial key per device. The job
        takes the BDK template's export quorum once; if the session changes (a card is
        removed) the job stops and nothing is returned, since a partial list would be
        audited as given out."""
        if not ksns:
            raise BadInput("Give at least one KSN.")
        if len(ksns) > MAX_DUKPT_DEVICES:
            raise BadInput(f"At most {MAX_DUKPT_DEVICES:,} devices in one job.")
        with self.ctx.repository.unit_of_work() as uow:
            the_partner = self.find_partner(uow, partner)
            bdk, template = self._bdk(uow, bdk_ref)
            kek, _ = self.key_and_template(uow, kek_ref)
            self.require_usable_kek(kek, KEK_USAGES, "key encryption key")
            if not template.allows(Action.EXPORT_KEY):
                raise PolicyRefused(
                    f"Template {template.name!r} does not allow exporting keys derived from "
                    "its keys."
                )
            auth = self.ctx.authorise(uow, session, Action.EXPORT_KEY, template=template)
        scheme = "AES" if bdk.algorithm.family is KeyFamily.AES else "TDES"
        parsed = [self._parse_ksn(scheme, text, i) for i, text in enumerate(ksns, 1)]
        if len({p[0] for p in parsed}) != len(parsed):
            raise BadInput("The list names a device twice (the same initial key ID).")
        version = "D" if kek.algorithm.family is KeyFamily.AES else "B"
        bdk_value = self.clear_value(bdk)
        kbpk = self.clear_value(kek)
        lines: list[InitialKeyLine] = []
        changes = session.changes
        try:
            for i, (ident, ksn_bytes, ksn_text) in enumerate(parsed):
                if cancelled is not None and cancelled():
                    return self._stopped(bdk, kek, the_partner, "cancelled")
                if session.changes != changes:
                    reason = self.ctx.still_met(session, auth)
                    if reason is not None:
                        return self._stopped(bdk, kek, the_partner, reason)
                    changes = session.changes
                with _standard_errors(f"KSN {ksn_text}"):
                    if scheme == "AES":
                        ik = bytearray(dukpt.aes_initial_key(bdk_value, ksn_bytes[:8]))
                        block_id, block_value = "IK", ksn_bytes[:8].hex().upper()
                    else:
                        ik = bytearray(dukpt.tdes_ipek(bdk_value, ksn_bytes))
                        block_id, block_value = "KS", ksn_bytes.hex().upper()
                try:
                    ik_alg = algorithm_for("A" if scheme == "AES" else "T", len(ik))
                    check = comp.kcv_hex(comp.check_value(ik_alg, ik))
                    with _standard_errors("Key block not made"):
                        header = tr31.Header(
                            version_id=version,
                            key_usage=IPEK_USAGE,
                            algorithm="A" if scheme == "AES" else "T",
                            mode_of_use="X",
                            version_num="00",
                            exportability="N",
                            blocks=[(block_id, block_value)],
                        )
                        block = tr31.wrap(kbpk, header, ik)
                finally:
                    _wipe(ik)
                lines.append(InitialKeyLine(ksn_text, ident, block, check))
                if progress is not None and (i % 100 == 99 or i + 1 == len(parsed)):
                    progress(i + 1, len(parsed))
        finally:
            _wipe(bdk_value, kbpk)
        result = DukptExport(
            bdk_label=bdk.label,
            bdk_kcv=bdk.kcv,
            kek_label=kek.label,
            kek_kcv=kek.kcv,
            partner=the_partner.name,
            lines=tuple(lines),
            digest="",
        )
        digest = hashlib.sha256(result.text().encode()).hexdigest().upper()
        result = replace(result, digest=digest)
        with self.ctx.repository.unit_of_work() as uow:
            seq = self.ctx.audit(
                uow,
                auth,
                "dukpt.export_initial_keys",
                "key",
                bdk.id,
                label=bdk.label,
                kcv=bdk.kcv,
                details={
                    "partner": the_partner.name,
                    "format": f"TR-31 {version} (B1)",
                    "devices": len(lines),
                    "first_ksn": lines[0].ksn,
                    "last_ksn": lines[-1].ksn,
                    "wrapping": kek.label,
                    "wrapping_kcv": kek.kcv,
                    "file_sha256": digest,
                },
                session=session,
            )
            uow.keys.add_event(
                KeyEvent(
                    key_id=bdk.id,
                    at=self.ctx.clock.now(),
                    action=Action.EXPORT_KEY,
                    from_state=bdk.state,
                    to_state=bdk.state,
                    people=tuple(m.name for m in session.members),
                    reason=f"initial keys of {len(lines)} devices to {the_partner.name}",
                    audit_seq=seq,
                )
            )
            uow.commit()
        self.ctx.checkpoint()
        return result

    def _stopped(
        self, bdk: ManagedKey, kek: ManagedKey, partner: Partner, reason: str
    ) -> DukptExport:
        log.warning("initial key export stopped: %s", reason)
        return DukptExport(
            bdk_label=bdk.label,
            bdk_kcv=bdk.kcv,
            kek_label=kek.label,
            kek_kcv=kek.kcv,
            partner=partner.name,
            lines=(),
            digest="",
            stopped=reason,
        )

    @staticmethod
    def _parse_ksn(scheme: str, text: str, line: int) -> tuple[str, bytes, str]:
        """(initial key id, KSN bytes, normalised text) of one device's KSN."""
        norm = text.strip().upper().replace(" ", "")
        want = {"AES": (24, 16), "TDES": (20,)}[scheme]
        if len(norm) not in want or any(c not in "0123456789ABCDEF" for c in norm):
            lengths = " or ".join(str(n) for n in want)
            raise BadInput(
                f"KSN {line} ({text.strip()!r}) is not {lengths} hexadecimal digits "
                f"(an {scheme} DUKPT KSN)."
            )
        if scheme == "AES":
            if len(norm) == 16:
                norm += "00000000"
            raw = bytes.fromhex(norm)
            if raw[8:] != bytes(4):
                raise BadInput(
                    f"KSN {line} ({norm}) has a transaction counter; an initial key is derived "
                    "from a KSN whose counter is 0."
                )
            return raw[:8].hex().upper(), raw, norm
        raw = bytes.fromhex(norm)
        # X9.24-1:2009: the rightmost 21 bits are the transaction counter.
        if int.from_bytes(raw[-3:], "big") & 0x1FFFFF:
            raise BadInput(
                f"KSN {line} ({norm}) has a transaction counter; an initial key is derived from "
                "a KSN whose counter is 0."
            )
        return norm, raw, norm  # the initial KSN identifies the device

    def derive_test_keys(self, session: Session, bdk_ref: str, ksn: str) -> DukptTestKeys:
        """The test tool: a transaction's keys for a KSN, shown in clear, only for a BDK
        whose template marks its keys as test keys."""
        with self.ctx.repository.unit_of_work() as uow:
            bdk, template = self._bdk(uow, bdk_ref)
            if not (template.test_key and bdk.test_key):
                raise PolicyRefused(
                    f"Key {bdk.label} is not a test key (template {template.name!r}); the test "
                    "tool derives keys of test keys only."
                )
            auth = self.ctx.authorise(uow, session, Action.DERIVE_TEST_KEYS, template=template)
        scheme = "AES" if bdk.algorithm.family is KeyFamily.AES else "TDES"
        norm = ksn.strip().upper().replace(" ", "")
        want = 24 if scheme == "AES" else 20
        if len(norm) != want or any(c not in "0123456789ABCDEF" for c in norm):
            raise BadInput(
                f"KSN {ksn.strip()!r} is not {want} hexadecimal digits ({scheme} DUKPT)."
            )
        raw = bytes.fromhex(norm)
        bdk_value = self.clear_value(bdk)
        try:
            with _standard_errors(f"KSN {norm}"):
                if scheme == "AES":
                    initial = dukpt.aes_initial_key(bdk_value, raw[:8])
                    txn = dukpt.aes_derivation_key(initial, raw)
                    key_type = dukpt.KeyType[bdk.algorithm.value.replace("-", "")]
                    working = {
                        usage.name.lower().replace("_", " "): dukpt.aes_working_key(
                            txn, raw, usage, key_type
                        )
                        .hex()
                        .upper()
                        for usage in (
                            dukpt.KeyUsage.PIN_ENCRYPTION,
                            dukpt.KeyUsage.MAC_GENERATION,
                            dukpt.KeyUsage.MAC_VERIFICATION,
                            dukpt.KeyUsage.DATA_ENCRYPT,
                            dukpt.KeyUsage.DATA_DECRYPT,
                        )
                    }
                else:
                    initial = dukpt.tdes_ipek(bdk_value, raw)
                    txn = dukpt.tdes_transaction_key(initial, raw)
                    keys = dukpt.tdes_working_keys(txn)
                    working = {
                        "pin encryption": keys.pin.hex().upper(),
                        "mac request": keys.mac_request.hex().upper(),
                        "mac response": keys.mac_response.hex().upper(),
                        "data request": keys.data_request.hex().upper(),
                        "data response": keys.data_response.hex().upper(),
                    }
        finally:
            _wipe(bdk_value)
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.audit(
                uow,
                auth,
                "dukpt.test_keys",
                "key",
                bdk.id,
                label=bdk.label,
                kcv=bdk.kcv,
                details={"ksn": norm, "test_key": True},
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return DukptTestKeys(
            bdk_label=bdk.label,
            ksn=norm,
            scheme=scheme,
            initial_key=initial.hex().upper(),
            transaction_key=txn.hex().upper(),
            working_keys=working,
        )


def consecutive_ksns(first: str, count: int, descriptor: str | None = None) -> list[str]:
    """``count`` initial KSNs for consecutive devices from ``first``: the device ID counts
    up, as the KSN descriptor lays it out (TDES, e.g. ``A05``: BDK ID, sub-key ID and device
    ID lengths in hex digits; AES has one layout, ANSI X9.24-3:2017). A range that would run
    past the device ID into the BDK ID is refused."""
    norm = first.strip().upper().replace(" ", "")
    if not 1 <= count <= 200_000:
        raise BadInput("--count must be between 1 and 200,000.")
    if len(norm) == 16:  # an AES initial key ID: counter 0
        norm += "00000000"
    if len(norm) == 24:
        descriptor = "AES"
    elif descriptor is None:
        raise BadInput(
            "A TDES KSN needs its descriptor to count devices: --ksn-descriptor, e.g. A05 "
            "(BDK ID, sub-key ID and device ID lengths in hex digits)."
        )
    try:
        start = dukpt.Ksn.parse(norm, descriptor)
        return [str(k) for k in dukpt.ksn_range(start, count)]
    except dukpt.DukptError as e:
        raise BadInput(f"KSN range from {norm}: {e}.") from None


# X9.143 exportability from the widest to the narrowest: S (also under a key that is not a
# KEK meeting X9.24), E (under a KEK meeting X9.24), N (not at all).
_EXPORTABILITY_ORDER = "SEN"


def _narrowed(key: ManagedKey, exportability: str | None) -> str:
    """The exportability a sent block carries: the key's own, or a narrower one."""
    exp = exportability or key.exportability
    if exp not in _EXPORTABILITY_ORDER:
        raise BadInput(f"Exportability {exp!r} is not E, N or S.")
    if _EXPORTABILITY_ORDER.index(exp) < _EXPORTABILITY_ORDER.index(key.exportability):
        raise PolicyRefused(
            f"Key {key.label} has exportability {key.exportability}; a block sent from here "
            f"may narrow that but not widen it to {exp}."
        )
    return exp


def _serial(der: bytes) -> str:
    return f"{x509.load_der_x509_certificate(der).serial_number:X}"


def _kcv_block(algorithm: KeyAlgorithm, kcv_hex: str) -> str:
    """KC/KP optional block content: 00 + legacy KCV (TDES) or 01 + CMAC KCV (AES)."""
    return ("00" if algorithm.family is KeyFamily.TDES else "01") + kcv_hex.upper()


def _kcv_text(text: str) -> str:
    norm = text.strip().upper().replace(" ", "")
    if not 4 <= len(norm) <= 32 or len(norm) % 2 or any(c not in "0123456789ABCDEF" for c in norm):
        raise BadInput(f"Check value {text.strip()!r} is not 2 to 16 bytes of hexadecimal.")
    return norm
