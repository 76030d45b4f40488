"""Certificates of the workstation's key pairs: requests signed inside the HSM, issued
certificates checked and kept beside their key pair, and what expires when.

A key pair is generated in the HSM from a template like any key (its private key is stored
only wrapped under the master key). A certificate request (PKCS#10, RFC 2986) is signed by
that private key inside the HSM, under the certificate quorum of the key's template. The
certificate the CA returns is checked before it is kept: its chain to one of the trust
anchors of the partner (vendor, card brand or CA) that issued it, every signature,
validity now, key usage, basic constraints, revocation by that partner's CRLs, and that it
carries this key pair's public key. Each refusal names its reason.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.certificates import CertificateRecord, CertificateStatus
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.policy import Action
from workstation.domain.templates import KeyTemplate
from workstation.errors import BadInput, PolicyRefused
from workstation.services.context import ServiceContext
from workstation.services.interchange import InterchangeService, certificate_der, crl_der
from workstation.services.keys import KeyService
from workstation.services.ports import KeyQuery, UnitOfWork
from workstation.services.session import Session
from workstation.standards import pkix

log = logging.getLogger(__name__)

__all__ = [
    "KEY_PAIRS_LISTED",
    "REQUEST_FORMATS",
    "CertificateRequest",
    "CertificateService",
    "KeyPairCertificates",
    "KeyPairList",
    "key_pair_refusal",
]

#: How a request is written: PEM (RFC 7468 7, "CERTIFICATE REQUEST") or the bare DER of the
#: CertificationRequest (RFC 2986 4.2), as CAs' upload forms and HSM vendors' tools ask.
REQUEST_FORMATS = ("pem", "der")
KEY_PAIRS_LISTED = 5000  # per algorithm, for the Certificates page and the wizards

_LIVE_STATES = tuple(s for s in KeyState if s is not KeyState.DESTROYED)
_KEY_PAIR_ALGORITHMS = tuple(a for a in KeyAlgorithm if not a.is_symmetric)


@dataclass(frozen=True)
class CertificateRequest:
    key_label: str
    subject: str
    pem: str  # the PKCS#10 request
    sha256: str  # of the DER, as audited
    der: bytes = field(repr=False)  # the same request, DER

    def encoded(self, fmt: str) -> bytes:
        """The request as written to a file: ``"pem"`` (text) or ``"der"`` (binary)."""
        if fmt == "pem":
            return self.pem.encode("ascii")
        if fmt == "der":
            return self.der
        raise BadInput(f"Request format {fmt!r}: choose {' or '.join(REQUEST_FORMATS)}.")


@dataclass(frozen=True)
class KeyPairCertificates:
    """A key pair (not destroyed), the name of its template, and its certificates."""

    key: ManagedKey
    template: KeyTemplate | None  # None: its template record is missing
    certificates: tuple[CertificateRecord, ...] = ()  # newest expiry first

    @property
    def current(self) -> CertificateRecord | None:
        return next((c for c in self.certificates if c.status is CertificateStatus.CURRENT), None)

    @property
    def template_name(self) -> str:
        return self.template.name if self.template is not None else "(template missing)"

    @property
    def refusal(self) -> str | None:
        """Why no request can be signed nor certificate kept for it now, or None."""
        return key_pair_refusal(self.key, self.template)


@dataclass(frozen=True)
class KeyPairList:
    """The key pairs and their certificates, as read at ``read_at``."""

    pairs: tuple[KeyPairCertificates, ...]
    read_at: datetime
    truncated: bool = False  # more key pairs of some algorithm than were read


def key_pair_refusal(key: ManagedKey, template: KeyTemplate | None) -> str | None:
    """Why ``key`` cannot be certified (a request signed, a certificate kept), or None: the
    rules :meth:`CertificateService.request` and ``import_certificate`` apply."""
    if key.algorithm.is_symmetric or key.public_key is None:
        return f"Key {key.label} is a secret key; certificates are for key pairs."
    if key.state not in (KeyState.PRE_ACTIVATION, KeyState.ACTIVE):
        return (
            f"Key {key.label} is {key.state.value}; only a pre-active or active key pair "
            "is certified."
        )
    if key.wrapped is None:
        return f"Key {key.label} holds no key material."
    if template is None:
        return f"The template of key {key.label} is missing."
    if not template.allows(Action.MANAGE_CERTIFICATES):
        return f"Template {template.name!r} does not allow certificates for its key pairs."
    return None


class CertificateService:
    def __init__(self, ctx: ServiceContext, keys: KeyService, interchange: InterchangeService):
        self.ctx = ctx
        self.keys = keys
        self.interchange = interchange

    # --- lookup ----------------------------------------------------------------------------

    def _key_pair(self, uow: UnitOfWork, ref: str) -> tuple[ManagedKey, KeyTemplate]:
        key = self.keys.find_key(uow, ref)
        template = self.keys.template_of(uow, key)
        problem = key_pair_refusal(key, template)
        if problem is not None:
            # Not a key pair, or no key material: the wrong key was named. A state or a
            # template that forbids it: a rule refuses it.
            usable = key.state in (KeyState.PRE_ACTIVATION, KeyState.ACTIVE)
            wrong_key = key.public_key is None or (usable and key.wrapped is None)
            raise (BadInput if wrong_key else PolicyRefused)(problem)
        return key, template

    def key_pairs(self, session: Session) -> KeyPairList:
        """Every key pair that is not destroyed, with its template and its certificates
        (sealed records, each checked), by label."""
        pairs: list[KeyPairCertificates] = []
        truncated = False
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            templates = {t.value.id: t.value for t in uow.templates.list()}
            for algorithm in _KEY_PAIR_ALGORITHMS:
                query = KeyQuery(states=_LIVE_STATES, algorithm=algorithm, limit=KEY_PAIRS_LISTED)
                found = [s.value for s in uow.keys.query(query)]
                truncated = truncated or len(found) >= KEY_PAIRS_LISTED
                for key in found:
                    if key.public_key is None:
                        continue
                    certificates = tuple(
                        self.ctx.unseal(r, f"certificate {r.value.serial}")
                        for r in uow.certificates.for_key(key.id)
                    )
                    pairs.append(
                        KeyPairCertificates(key, templates.get(key.template_id), certificates)
                    )
            read_at = self.ctx.clock.now()
        pairs.sort(key=lambda p: p.key.label.casefold())
        return KeyPairList(tuple(pairs), read_at, truncated)

    def certificates(
        self, session: Session, *, key_ref: str | None = None
    ) -> list[CertificateRecord]:
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            if key_ref is not None:
                key = self.keys.find_key(uow, key_ref)
                rows = uow.certificates.for_key(key.id)
            else:
                rows = uow.certificates.list()
            return [self.ctx.unseal(r, f"certificate {r.value.serial}") for r in rows]

    def expiring(self, session: Session, days: int) -> list[CertificateRecord]:
        """Current certificates whose validity ends within ``days`` days (or has ended)."""
        if not 0 <= days <= 3650:
            raise BadInput("Give the window in days, from 0 to 3650.")
        before = self.ctx.clock.now() + timedelta(days=days)
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            rows = uow.certificates.list(expiring_before=before)
            return [self.ctx.unseal(r, f"certificate {r.value.serial}") for r in rows]

    # --- requests --------------------------------------------------------------------------

    def request(self, session: Session, key_ref: str, profile: pkix.Profile) -> CertificateRequest:
        """A PKCS#10 request for a key pair, signed by its private key inside the HSM."""
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            key, template = self._key_pair(uow, key_ref)
            auth = self.ctx.authorise(uow, session, Action.MANAGE_CERTIFICATES, template=template)
        assert key.wrapped is not None and key.public_key is not None
        wrapped = key.wrapped
        try:
            der = pkix.build_csr(
                profile,
                public_key=key.public_key,
                sign=lambda m: self.ctx.hsm.sign_with_key(key.algorithm, wrapped, m),
            )
        except pkix.PkixError as e:
            raise BadInput(f"Certificate request not made: {e}") from None
        digest = hashlib.sha256(der).hexdigest().upper()
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.audit(
                uow,
                auth,
                "certificate.request",
                "key",
                key.id,
                label=key.label,
                kcv=key.kcv,
                details={
                    "subject": profile.subject,
                    "dns_names": list(profile.dns_names),
                    "csr_sha256": digest,
                },
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return CertificateRequest(key.label, profile.subject, pkix.csr_pem(der), digest, der)

    # --- issued certificates ---------------------------------------------------------------

    def import_certificate(
        self,
        session: Session,
        key_ref: str,
        data: bytes | str,
        *,
        partner: str,
        chain: Sequence[bytes | str] = (),
        key_usage: frozenset[str] = frozenset(),
        extended_key_usage: tuple[str, ...] = (),
    ) -> CertificateRecord:
        """An issued certificate for a key pair, checked against the trust anchors and CRLs
        of the partner (the CA, vendor or brand that issued it) before it is kept. ``data``
        may carry the chain too (PEM bundle or PKCS#7); ``chain`` adds intermediates;
        ``key_usage`` and ``extended_key_usage`` are what the certificate must allow."""
        _check_required_usage(key_usage, extended_key_usage)
        raw = data.encode() if isinstance(data, str) else data
        try:
            found = pkix.read_certificates(raw)
            for extra in chain:
                found += pkix.read_certificates(extra.encode() if isinstance(extra, str) else extra)
        except pkix.PkixError as e:
            raise BadInput(f"Certificate file: {e}") from None
        if not found:
            raise BadInput("The file holds no certificate.")
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            the_partner = self.interchange.find_partner(uow, partner)
            key, template = self._key_pair(uow, key_ref)
            auth = self.ctx.authorise(uow, session, Action.MANAGE_CERTIFICATES, template=template)
        anchors = [certificate_der(c, "stored CA") for c in the_partner.ca_certificates]
        crls = [crl_der(c, "stored CRL") for c in the_partner.crls]
        if not anchors:
            raise BadInput(
                f"Partner {the_partner.name} has no CA certificate: import the CA that "
                "issued this certificate first."
            )
        leaf = self._leaf_for(found, key)
        try:
            checked = pkix.validate_certificate(
                leaf,
                anchors=anchors,
                intermediates=[c for c in found if c != leaf],
                crls=crls,
                now=self.ctx.clock.now(),
                key_usage=key_usage,
                extended_key_usage=extended_key_usage,
                public_key=key.public_key,
            )
        except pkix.PkixError as e:
            # A refused certificate is a security event too (its own transaction).
            self.ctx.record_refusal(
                session, "certificate.import.refused", "key", key.id, str(e), key.label
            )
            raise BadInput(f"Certificate refused: {e}") from None
        record = CertificateRecord(
            id=uuid.uuid4().hex,
            key_id=key.id,
            key_label=key.label,
            subject=checked.subject,
            issuer=checked.issuer,
            serial=f"{checked.serial:X}",
            not_before=checked.not_before,
            not_after=checked.not_after,
            fingerprint=hashlib.sha256(leaf).hexdigest().upper(),
            pem="".join(_pem(c) for c in checked.chain[:-1] or (leaf,)),
            anchor=_subject(checked.chain[-1]),
            partner=the_partner.name,
            imported_at=self.ctx.clock.now(),
        )
        with self.ctx.repository.unit_of_work() as uow:
            for older in uow.certificates.for_key(key.id):
                previous = self.ctx.unseal(older, f"certificate {older.value.serial}")
                if previous.status is CertificateStatus.CURRENT:
                    renewed = previous.superseded()
                    uow.certificates.update(renewed, self.ctx.seal(renewed))
            uow.certificates.add(record, self.ctx.seal(record))
            self.ctx.audit(
                uow,
                auth,
                "certificate.import",
                "key",
                key.id,
                label=key.label,
                kcv=key.kcv,
                details={
                    "partner": the_partner.name,
                    "subject": record.subject,
                    "issuer": record.issuer,
                    "serial": record.serial,
                    "not_after": record.not_after.isoformat(),
                    "fingerprint": record.fingerprint,
                    "anchor": record.anchor,
                },
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return record

    @staticmethod
    def _leaf_for(found: list[bytes], key: ManagedKey) -> bytes:
        """The certificate among ``found`` that carries the key pair's public key, or the
        first one (whose check then names the mismatch)."""
        for der in found:
            public = x509.load_der_x509_certificate(der).public_key()
            spki = public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            if spki == key.public_key:
                return der
        return found[0]


def _check_required_usage(key_usage: frozenset[str], extended_key_usage: tuple[str, ...]) -> None:
    """The usages a certificate must allow are names pkix knows (a mistyped one is bad
    input, not a refused certificate): checked as a profile asking for them would be."""
    try:
        pkix.Profile(
            subject="CN=required usage",
            key_usage=frozenset(key_usage),
            extended_key_usage=tuple(extended_key_usage),
            ca="key_cert_sign" in key_usage,
        )
    except pkix.PkixError as e:
        raise BadInput(f"Required usage: {e}") from None


def _pem(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()


def _subject(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).subject.rfc4514_string()
