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
from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from workstation.domain.certificates import CertificateRecord, CertificateStatus
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.policy import Action
from workstation.domain.templates import KeyTemplate
from workstation.errors import BadInput, PolicyRefused
from workstation.services.context import ServiceContext
from workstation.services.interchange import InterchangeService, certificate_der, crl_der
from workstation.services.keys import KeyService
from workstation.services.ports import UnitOfWork
from workstation.services.session import Session
from workstation.standards import pkix

log = logging.getLogger(__name__)

__all__ = ["CertificateRequest", "CertificateService"]


@dataclass(frozen=True)
class CertificateRequest:
    key_label: str
    subject: str
    pem: str  # the PKCS#10 request
    sha256: str  # of the DER, as audited


class CertificateService:
    def __init__(self, ctx: ServiceContext, keys: KeyService, interchange: InterchangeService):
        self.ctx = ctx
        self.keys = keys
        self.interchange = interchange

    # --- lookup ----------------------------------------------------------------------------

    def _key_pair(self, uow: UnitOfWork, ref: str) -> tuple[ManagedKey, KeyTemplate]:
        key = self.keys._find(uow, ref)
        template = self.keys._template_for(uow, key)
        if key.algorithm.is_symmetric or key.public_key is None:
            raise BadInput(f"Key {key.label} is a secret key; certificates are for key pairs.")
        if key.state not in (KeyState.PRE_ACTIVATION, KeyState.ACTIVE):
            raise PolicyRefused(
                f"Key {key.label} is {key.state.value}; only a pre-active or active key pair "
                "is certified."
            )
        if key.wrapped is None:
            raise BadInput(f"Key {key.label} holds no key material.")
        if not template.allows(Action.MANAGE_CERTIFICATES):
            raise PolicyRefused(
                f"Template {template.name!r} does not allow certificates for its key pairs."
            )
        return key, template

    def certificates(
        self, session: Session, *, key_ref: str | None = None
    ) -> list[CertificateRecord]:
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            if key_ref is not None:
                key = self.keys._find(uow, key_ref)
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
        return CertificateRequest(key.label, profile.subject, pkix.csr_pem(der), digest)

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
    ) -> CertificateRecord:
        """An issued certificate for a key pair, checked against the trust anchors and CRLs
        of the partner (the CA, vendor or brand that issued it) before it is kept. ``data``
        may carry the chain too (PEM bundle or PKCS#7); ``chain`` adds intermediates."""
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
            the_partner = self.interchange._partner(uow, partner)
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


def _pem(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()


def _subject(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).subject.rfc4514_string()
