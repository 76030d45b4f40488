"""ATM remote key loading (ANSI X9.24-2): the host's key pair per ATM vendor, vouched for
by the vendor and handed to the host HSM.

The workstation makes the host's key pair in the HSM from the vendor profile's template
(under its generation quorum), gets it certified (certificate vendors: a PKCS #10 request
signed in the HSM, the issued certificate checked against the vendor CA's anchors and
CRLs) or signed (signature vendors: the public key in the form the vendor signs, the
signature verified with the vendor's key), and then makes the bundle for the host HSM: the
private key as a TR-31 key block under a KEK shared with the host HSM, with the certificate
chain or the vendor's signature, the host's public key and a manifest naming every file and
its SHA-256 (``docs/rkl.md``).

Policy: vendor profiles take the partner-management quorum; the host key its template's
generation quorum; requests, material and imports the certificate quorum; the bundle the
template's export quorum, for a key whose template and exportability let it leave, only
once it is ready, and only under an active KEK at least as strong as the key (ANSI X9.143,
PCI PIN Security Requirement 18-3). Every step is audited in the transaction of its change;
a refused signature is audited too.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from workstation.domain.algorithms import KeyFamily
from workstation.domain.certificates import CertificateRecord, CertificateStatus
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.partners import Partner
from workstation.domain.policy import Action
from workstation.domain.records import format_time
from workstation.domain.rkl import (
    MIN_VENDOR_RSA_BITS,
    SIGNATURE_SCHEMES,
    SIGNED_FORMS,
    VENDOR_STYLES,
    AtmVendor,
    RklHostKey,
    RklStatus,
    SignatureCheck,
    check_signature,
    check_vendor_name,
    fingerprint,
    host_key_material,
    read_vendor_key,
)
from workstation.domain.templates import KeyTemplate, TemplateStatus, render_label
from workstation.errors import AlreadyExists, BadInput, IntegrityError, NotFound, PolicyRefused
from workstation.services.certificates import CertificateRequest, CertificateService
from workstation.services.context import ServiceContext
from workstation.services.interchange import (
    KEK_USAGES,
    InterchangeService,
    algorithm_strength,
    certificate_der,
    crl_der,
)
from workstation.services.keys import KeyService, check_exportable
from workstation.services.ports import UnitOfWork
from workstation.services.session import Session
from workstation.standards import pkix

log = logging.getLogger(__name__)

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_FORMAT_VERSION",
    "HOST_PARTNER_KIND",
    "VENDOR_PARTNER_KIND",
    "HostKey",
    "RklBundle",
    "RklService",
]

BUNDLE_FORMAT = "kcw-rkl-bundle"
BUNDLE_FORMAT_VERSION = 1
VENDOR_PARTNER_KIND = "device-vendor"  # the partner holding a certificate vendor's CA
HOST_PARTNER_KIND = "host-hsm"  # who receives the bundle

# The files of a bundle (docs/rkl.md says what each holds).
MANIFEST = "manifest.json"
KEY_BLOCK = "private-key.tr31"
HOST_PUBLIC_KEY = "host-public-key.pem"
CERTIFICATE_CHAIN = "certificate-chain.pem"
SIGNATURE = "vendor-signature.bin"
SIGNED_MATERIAL = "signed-material.der"
VENDOR_PUBLIC_KEY = "vendor-public-key.pem"


@dataclass(frozen=True)
class HostKey:
    """A host key pair for remote key loading: the key, its link to the vendor, the
    vendor's profile and, for a certificate vendor, its current certificate."""

    key: ManagedKey
    link: RklHostKey
    vendor: AtmVendor
    certificate: CertificateRecord | None = None


@dataclass(frozen=True)
class RklBundle:
    """What the host HSM receives: a ZIP of the files the manifest lists."""

    key_label: str
    key_kcv: str
    vendor: str
    style: str
    partner: str
    kek_label: str
    kek_kcv: str
    format: str  # "TR-31 D"
    header: str  # the key block's first 16 characters
    manifest: str  # the manifest's JSON text, as in the ZIP
    files: tuple[tuple[str, str], ...]  # (name, SHA-256) of each file the manifest lists
    sha256: str  # of the ZIP
    data: bytes = field(repr=False)  # the ZIP

    @property
    def file_name(self) -> str:
        """A name to suggest for the ZIP."""
        return f"rkl-{_safe(self.key_label)}-{_safe(self.partner)}.zip"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "key"


def _pem(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()


def _public_pem(spki: bytes) -> str:
    key = serialization.load_der_public_key(spki)
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest().upper()


class RklService:
    def __init__(
        self,
        ctx: ServiceContext,
        keys: KeyService,
        certificates: CertificateService,
        interchange: InterchangeService,
    ) -> None:
        self.ctx = ctx
        self.keys = keys
        self.certificates = certificates
        self.interchange = interchange

    # --- vendor profiles -----------------------------------------------------------------

    def vendors(self, session: Session) -> list[AtmVendor]:
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            found = [
                self.ctx.unseal(s, f"ATM vendor {s.value.name}")
                for s in uow.documents.list(AtmVendor)
            ]
        return sorted(found, key=lambda v: v.name.casefold())

    def vendor(self, session: Session, name: str) -> AtmVendor:
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            return self._vendor(uow, name)

    def _vendor(self, uow: UnitOfWork, name: str) -> AtmVendor:
        rows = uow.documents.list(AtmVendor, subject=name.strip().casefold())
        if not rows:
            raise NotFound(f"No ATM vendor profile named {name.strip()!r}; add it first.")
        return self.ctx.unseal(rows[0], f"ATM vendor {rows[0].value.name}")

    def _vendor_by_id(self, uow: UnitOfWork, vendor_id: str, name: str) -> AtmVendor:
        sealed = uow.documents.get(AtmVendor, vendor_id)
        if sealed is None:
            raise IntegrityError(f"The ATM vendor profile {name} is missing from the repository.")
        return self.ctx.unseal(sealed, f"ATM vendor {sealed.value.name}")

    def _host_template(self, uow: UnitOfWork, ref: str) -> KeyTemplate:
        """The template a vendor's host keys are made from: an active, exportable RSA key
        pair template of at least 2048 bits."""
        template = self.keys.templates.find(uow, ref)
        if template.status is not TemplateStatus.ACTIVE:
            raise BadInput(f"Template {template.name!r} is retired; choose an active template.")
        algorithm = template.algorithm
        if algorithm.family is not KeyFamily.RSA or algorithm.bits < MIN_VENDOR_RSA_BITS:
            raise BadInput(
                f"Template {template.name!r} makes {algorithm.value} keys; an RKL host key is "
                f"an RSA key pair of at least {MIN_VENDOR_RSA_BITS} bits (ANSI X9.24-2; NIST SP "
                "800-131A Rev. 2)."
            )
        if not template.allows(Action.EXPORT_KEY):
            raise BadInput(
                f"Template {template.name!r} does not let its keys leave (exportability "
                f"{template.exportability}); an RKL host key goes to the host HSM: choose an "
                "exportable key pair template such as 'ATM RKL host key pair'."
            )
        return template

    def _vendor_partner(self, uow: UnitOfWork, name: str) -> Partner:
        partner = self.interchange.find_partner(uow, name)
        if partner.kind != VENDOR_PARTNER_KIND:
            raise BadInput(
                f"Partner {partner.name} is a {partner.kind} partner; a certificate vendor's CA "
                f"is a partner of kind {VENDOR_PARTNER_KIND}."
            )
        if not partner.ca_certificates:
            raise BadInput(
                f"Partner {partner.name} has no CA certificate: add the vendor's CA "
                "certificate to it first (it is the trust anchor of the host certificates)."
            )
        return partner

    def _signature_fields(
        self, public_key: bytes | str | None, scheme: str | None, form: str | None
    ) -> dict[str, Any]:
        """The signature fields given, checked; the public key as SPKI PEM."""
        out: dict[str, Any] = {}
        if public_key is not None:
            _, spki = read_vendor_key(public_key)
            out["public_key"] = _public_pem(spki)
        if scheme is not None:
            norm = scheme.strip().lower()
            if norm not in SIGNATURE_SCHEMES:
                raise BadInput(
                    f"Signature scheme {scheme!r} is not one of: {', '.join(SIGNATURE_SCHEMES)} "
                    f"({'; '.join(SIGNATURE_SCHEMES.values())})."
                )
            out["signature_scheme"] = norm
        if form is not None:
            norm = form.strip().lower()
            if norm not in SIGNED_FORMS:
                raise BadInput(
                    f"Signed form {form!r} is not one of: {', '.join(SIGNED_FORMS)} "
                    f"({'; '.join(SIGNED_FORMS.values())})."
                )
            out["signed_form"] = norm
        return out

    def add_vendor(
        self,
        session: Session,
        name: str,
        style: str,
        *,
        template: str,
        partner: str | None = None,
        public_key: bytes | str | None = None,
        signature_scheme: str | None = None,
        signed_form: str | None = None,
        notes: str = "",
    ) -> AtmVendor:
        """A vendor profile: a certificate vendor names the partner (kind device-vendor)
        whose CA certificates and CRLs are the anchors; a signature vendor gives its RSA
        public key (SPKI), the scheme it signs with and the form of the host key it signs."""
        name = check_vendor_name(name)
        norm_style = style.strip().lower()
        if norm_style not in VENDOR_STYLES:
            raise BadInput(f"Vendor style {style!r} is not one of: {', '.join(VENDOR_STYLES)}.")
        fields = self._signature_fields(public_key, signature_scheme, signed_form)
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_PARTNERS)
            if uow.documents.list(AtmVendor, subject=name.casefold()):
                raise AlreadyExists(f"An ATM vendor profile named {name} already exists.")
            the_template = self._host_template(uow, template)
            partner_name = None
            if partner is not None and partner.strip():
                partner_name = self._vendor_partner(uow, partner).name
            vendor = AtmVendor(
                id=uuid.uuid4().hex,
                name=name,
                style=norm_style,
                template_id=the_template.id,
                template_name=the_template.name,
                partner=partner_name,
                notes=notes.strip(),
                created_at=self.ctx.clock.now(),
                **fields,
            )
            uow.documents.add(vendor, self.ctx.seal(vendor))
            self.ctx.audit(
                uow,
                auth,
                "rkl.vendor.add",
                "atm_vendor",
                vendor.id,
                label=vendor.name,
                details=self._vendor_details(vendor),
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return vendor

    def update_vendor(
        self,
        session: Session,
        name: str,
        *,
        template: str | None = None,
        partner: str | None = None,
        public_key: bytes | str | None = None,
        signature_scheme: str | None = None,
        signed_form: str | None = None,
        notes: str | None = None,
    ) -> AtmVendor:
        """Change a profile's template, CA partner, vendor key, scheme, signed form or
        notes. The style stays: a vendor that changes style is a new profile. Host keys
        signed already keep the vendor key that verified their signature."""
        fields = self._signature_fields(public_key, signature_scheme, signed_form)
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_PARTNERS)
            vendor = self._vendor(uow, name)
            changes: dict[str, Any] = dict(fields)
            if template is not None:
                the_template = self._host_template(uow, template)
                changes["template_id"] = the_template.id
                changes["template_name"] = the_template.name
            if partner is not None:
                changes["partner"] = self._vendor_partner(uow, partner).name
            if notes is not None and notes.strip() != vendor.notes:
                changes["notes"] = notes.strip()
            changed = {k: v for k, v in changes.items() if getattr(vendor, k) != v}
            if not changed:
                raise BadInput(
                    "Nothing to change: give a template, a CA partner, a vendor public key, "
                    "a signature scheme, a signed form or notes that differ from the profile's."
                )
            updated = vendor.updated(**changed)
            uow.documents.update(updated, self.ctx.seal(updated))
            shown = {
                k: ("changed" if k in ("notes", "public_key") else v) for k, v in changed.items()
            }
            if "public_key" in changed:
                shown["vendor_key_sha256"] = updated.vendor_key_fingerprint
            self.ctx.audit(
                uow,
                auth,
                "rkl.vendor.update",
                "atm_vendor",
                vendor.id,
                label=vendor.name,
                details=shown,
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return updated

    @staticmethod
    def _vendor_details(vendor: AtmVendor) -> dict[str, Any]:
        details: dict[str, Any] = {"style": vendor.style, "template": vendor.template_name}
        if vendor.style == "certificate":
            details["partner"] = vendor.partner
        else:
            details["signature_scheme"] = vendor.signature_scheme
            details["signed_form"] = vendor.signed_form
            details["vendor_key_sha256"] = vendor.vendor_key_fingerprint
        return details

    # --- host keys -----------------------------------------------------------------------

    def _link(self, uow: UnitOfWork, key: ManagedKey) -> RklHostKey:
        sealed = uow.documents.get(RklHostKey, key.id)
        if sealed is None:
            raise BadInput(
                f"Key {key.label} is not an RKL host key (make one with rkl host-key create)."
            )
        return self.ctx.unseal(sealed, f"the RKL link of key {key.label}")

    def _host_key(self, uow: UnitOfWork, ref: str) -> tuple[ManagedKey, RklHostKey, AtmVendor]:
        key = self.keys.find_key(uow, ref)
        link = self._link(uow, key)
        return key, link, self._vendor_by_id(uow, link.vendor_id, link.vendor)

    def _current_certificate(self, uow: UnitOfWork, key: ManagedKey) -> CertificateRecord | None:
        found = [
            self.ctx.unseal(r, f"certificate {r.value.serial}")
            for r in uow.certificates.for_key(key.id)
        ]
        return next((c for c in found if c.status is CertificateStatus.CURRENT), None)

    def host_keys(self, session: Session, *, vendor: str | None = None) -> list[HostKey]:
        """The RKL host keys (of one vendor, if named), by label."""
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            wanted = self._vendor(uow, vendor).id if vendor is not None else None
            result: list[HostKey] = []
            vendors: dict[str, AtmVendor] = {}
            for sealed in uow.documents.list(RklHostKey):
                link = self.ctx.unseal(sealed, f"the RKL link of key {sealed.value.key_label}")
                if wanted is not None and link.vendor_id != wanted:
                    continue
                key_sealed = uow.keys.get(link.key_id)
                if key_sealed is None:
                    raise IntegrityError(
                        f"RKL host key {link.key_label} is missing its key record."
                    )
                key = self.ctx.unseal(key_sealed, f"key {key_sealed.value.label}")
                if link.vendor_id not in vendors:
                    vendors[link.vendor_id] = self._vendor_by_id(uow, link.vendor_id, link.vendor)
                result.append(
                    HostKey(key, link, vendors[link.vendor_id], self._current_certificate(uow, key))
                )
        return sorted(result, key=lambda h: h.key.label.casefold())

    def host_key(self, session: Session, key_ref: str) -> HostKey:
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            key, link, vendor = self._host_key(uow, key_ref)
            return HostKey(key, link, vendor, self._current_certificate(uow, key))

    def create_host_key(
        self, session: Session, vendor: str, *, label: str | None = None
    ) -> HostKey:
        """The host's key pair for ``vendor``, generated in the HSM from the profile's
        template under its generation quorum; the key and its link to the vendor are
        stored, sealed and audited in one transaction. The key is pre-active, like every
        new key, and awaits the vendor's certificate or signature."""
        with self.ctx.repository.unit_of_work() as uow:
            the_vendor = self._vendor(uow, vendor)
            template = self._host_template(uow, the_vendor.template_id)
            if the_vendor.style == "certificate":
                assert the_vendor.partner is not None
                self._vendor_partner(uow, the_vendor.partner)
            auth = self.ctx.authorise(uow, session, Action.GENERATE_KEY, template=template)
            if label is not None:
                label = label.strip()
                if not label:
                    raise BadInput(
                        "The label is empty; leave it out to use the template's pattern."
                    )
                if uow.keys.by_label(label) is not None:
                    raise AlreadyExists(f"A key labelled {label!r} already exists.")
        generated = self.ctx.hsm.generate_key(template.algorithm)
        with self.ctx.repository.unit_of_work() as uow:
            now = self.ctx.clock.now()
            if label is None:
                seq = uow.templates.reserve_sequence(template.id, 1)
                label = render_label(
                    template.label_pattern, seq=seq, when=now, template=template.name, version=1
                )
            elif uow.keys.by_label(label) is not None:
                raise AlreadyExists(f"A key labelled {label!r} already exists.")
            key = self.keys.record_new(
                uow,
                auth,
                session,
                template,
                generated,
                key_id=uuid.uuid4().hex,
                label=label,
                details={"rkl_vendor": the_vendor.name, "rkl_style": the_vendor.style},
            )
            link = RklHostKey(
                id=key.id,
                key_label=key.label,
                vendor_id=the_vendor.id,
                vendor=the_vendor.name,
                style=the_vendor.style,
                status=RklStatus.awaiting(the_vendor.style),
                created_at=now,
                updated_at=now,
            )
            uow.documents.add(link, self.ctx.seal(link))
            self.ctx.audit(
                uow,
                auth,
                "rkl.host_key.create",
                "key",
                key.id,
                label=key.label,
                kcv=key.kcv,
                after=link.status.value,
                details={
                    "vendor": the_vendor.name,
                    "style": the_vendor.style,
                    "template": template.name,
                    "public_key_sha256": _sha256(key.public_key or b""),
                },
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return HostKey(key, link, the_vendor)

    @staticmethod
    def _vouchable(key: ManagedKey, template: KeyTemplate) -> None:
        """A host key the vendor may still certify or sign: pre-active or active, with its
        material, under a template that allows certificates."""
        if key.state not in (KeyState.PRE_ACTIVATION, KeyState.ACTIVE) or key.wrapped is None:
            raise PolicyRefused(
                f"Host key {key.label} is {key.state.value}; only a pre-active or active host "
                "key is certified or signed."
            )
        if not template.allows(Action.MANAGE_CERTIFICATES):
            raise PolicyRefused(
                f"Template {template.name!r} does not allow certificates or signatures for its "
                "key pairs."
            )

    @staticmethod
    def _require_style(key: ManagedKey, vendor: AtmVendor, style: str) -> None:
        if vendor.style == style:
            return
        if style == "certificate":
            raise BadInput(
                f"Host key {key.label} is for {vendor.name}, a signature vendor: it is signed, "
                "not certified (give the vendor the material to sign, then import the "
                "signature)."
            )
        raise BadInput(
            f"Host key {key.label} is for {vendor.name}, a certificate vendor: it is "
            "certified, not signed (send the certificate request, then import the certificate)."
        )

    # --- certificate vendors ---------------------------------------------------------------

    def request(self, session: Session, key_ref: str, profile: pkix.Profile) -> CertificateRequest:
        """The PKCS #10 request for the vendor's CA, signed by the host key in the HSM
        (the certificate service's rules, quorum and audit)."""
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            key, _, vendor = self._host_key(uow, key_ref)
            self._require_style(key, vendor, "certificate")
        return self.certificates.request(session, key.id, profile)

    def import_certificate(
        self,
        session: Session,
        key_ref: str,
        data: bytes | str,
        *,
        chain: Sequence[bytes | str] = (),
    ) -> HostKey:
        """The vendor CA's certificate for the host key, checked by the certificate service
        against the vendor partner's anchors and CRLs (each refusal audited there) and
        kept; the host key becomes ready."""
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            key, _, vendor = self._host_key(uow, key_ref)
            self._require_style(key, vendor, "certificate")
            assert vendor.partner is not None
            self._vendor_partner(uow, vendor.partner)
        record = self.certificates.import_certificate(
            session, key.id, data, partner=vendor.partner, chain=chain
        )
        with self.ctx.repository.unit_of_work() as uow:
            key, link, vendor = self._host_key(uow, key.id)
            template = self.keys.template_of(uow, key)
            auth = self.ctx.authorise(uow, session, Action.MANAGE_CERTIFICATES, template=template)
            updated = link.certified(record.fingerprint, self.ctx.clock.now())
            uow.documents.update(updated, self.ctx.seal(updated))
            self.ctx.audit(
                uow,
                auth,
                "rkl.host_key.certified",
                "key",
                key.id,
                label=key.label,
                kcv=key.kcv,
                before=link.status.value,
                after=updated.status.value,
                details={
                    "vendor": vendor.name,
                    "partner": record.partner,
                    "subject": record.subject,
                    "serial": record.serial,
                    "not_after": record.not_after.isoformat(),
                    "fingerprint": record.fingerprint,
                },
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return HostKey(key, updated, vendor, record)

    # --- signature vendors -----------------------------------------------------------------

    def material_to_sign(self, session: Session, key_ref: str) -> bytes:
        """What goes to a signature vendor: the host's public key, DER, in the form the
        vendor signs (SubjectPublicKeyInfo or PKCS #1 RSAPublicKey). Under the certificate
        quorum of the key's template, like a certificate request, and audited."""
        with self.ctx.repository.unit_of_work() as uow:
            key, _, vendor = self._host_key(uow, key_ref)
            self._require_style(key, vendor, "signature")
            template = self.keys.template_of(uow, key)
            self._vouchable(key, template)
            auth = self.ctx.authorise(uow, session, Action.MANAGE_CERTIFICATES, template=template)
            assert key.public_key is not None and vendor.signed_form is not None
            material = host_key_material(key.public_key, vendor.signed_form)
            self.ctx.audit(
                uow,
                auth,
                "rkl.host_key.material",
                "key",
                key.id,
                label=key.label,
                kcv=key.kcv,
                details={
                    "vendor": vendor.name,
                    "signed_form": vendor.signed_form,
                    "material_sha256": _sha256(material),
                },
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return material

    def import_signature(self, session: Session, key_ref: str, signature: bytes) -> HostKey:
        """The vendor's signature of the host key (raw bytes, as long as the vendor key's
        modulus), verified with the vendor's public key over the material it signs. A
        refusal says whether the signature has the wrong length, was made with another
        key, or is the vendor's signature of something else (another host key, the other
        form of this one), and is audited; nothing changes."""
        signature = bytes(signature)
        with self.ctx.repository.unit_of_work() as uow:
            key, link, vendor = self._host_key(uow, key_ref)
            self._require_style(key, vendor, "signature")
            template = self.keys.template_of(uow, key)
            self._vouchable(key, template)
            auth = self.ctx.authorise(uow, session, Action.MANAGE_CERTIFICATES, template=template)
        assert vendor.public_key is not None and vendor.signature_scheme is not None
        assert vendor.signed_form is not None and key.public_key is not None
        vendor_key, vendor_spki = read_vendor_key(vendor.public_key)
        material = host_key_material(key.public_key, vendor.signed_form)
        verdict = check_signature(vendor_key, vendor.signature_scheme, material, signature)
        if verdict is not SignatureCheck.VALID:
            reason = self._signature_refusal(
                verdict, key, vendor, vendor_spki, signature, len(material)
            )
            self.ctx.record_refusal(
                session, "rkl.signature.refused", "key", key.id, reason, key.label
            )
            raise BadInput(f"Signature refused: {reason}")
        with self.ctx.repository.unit_of_work() as uow:
            key, link, vendor_now = self._host_key(uow, key.id)
            if vendor_now.public_key != vendor.public_key:
                raise BadInput(
                    f"The profile of {vendor.name} changed while the signature was checked; "
                    "import it again."
                )
            updated = link.signed(
                signature,
                scheme=vendor.signature_scheme,
                form=vendor.signed_form,
                vendor_key=vendor.public_key,
                now=self.ctx.clock.now(),
            )
            uow.documents.update(updated, self.ctx.seal(updated))
            self.ctx.audit(
                uow,
                auth,
                "rkl.host_key.signed",
                "key",
                key.id,
                label=key.label,
                kcv=key.kcv,
                before=link.status.value,
                after=updated.status.value,
                details={
                    "vendor": vendor.name,
                    "signature_scheme": vendor.signature_scheme,
                    "signed_form": vendor.signed_form,
                    "vendor_key_sha256": fingerprint(vendor_spki),
                    "material_sha256": _sha256(material),
                    "signature_sha256": _sha256(signature),
                },
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return HostKey(key, updated, vendor)

    def _signature_refusal(
        self,
        verdict: SignatureCheck,
        key: ManagedKey,
        vendor: AtmVendor,
        vendor_spki: bytes,
        signature: bytes,
        material_length: int,
    ) -> str:
        vendor_key, _ = read_vendor_key(vendor.public_key or "")
        size = (vendor_key.key_size + 7) // 8
        assert vendor.signature_scheme is not None and vendor.signed_form is not None
        if verdict is SignatureCheck.BAD_LENGTH:
            return (
                f"it is {len(signature)} bytes; {vendor.name}'s RSA-{vendor_key.key_size} key "
                f"makes signatures of {size} bytes (give the raw signature, or its hex or "
                "base64 text)."
            )
        if verdict is SignatureCheck.WRONG_KEY:
            return (
                f"it does not verify with {vendor.name}'s public key (SHA-256 "
                f"{fingerprint(vendor_spki)[:16]}…): it was made with another key, or it is "
                "damaged."
            )
        # The vendor's key made it: over another host key of this vendor, or this key in
        # the other form?
        assert key.public_key is not None
        scheme = vendor.signature_scheme
        other_form = next(f for f in SIGNED_FORMS if f != vendor.signed_form)
        if (
            check_signature(
                vendor_key, scheme, host_key_material(key.public_key, other_form), signature
            )
            is SignatureCheck.VALID
        ):
            return (
                f"{vendor.name} signed host key {key.label} as {SIGNED_FORMS[other_form]}, but "
                f"the profile says the vendor signs {SIGNED_FORMS[vendor.signed_form]}: correct "
                "the profile or ask the vendor to sign the material as given."
            )
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            for sealed in uow.documents.list(RklHostKey):
                other = sealed.value
                if other.vendor_id != vendor.id or other.id == key.id:
                    continue
                other_key = uow.keys.get(other.key_id)
                if other_key is None or other_key.value.public_key is None:
                    continue
                material = host_key_material(other_key.value.public_key, vendor.signed_form)
                if check_signature(vendor_key, scheme, material, signature) is SignatureCheck.VALID:
                    return (
                        f"it is {vendor.name}'s signature of host key {other.key_label}, not of "
                        f"host key {key.label}."
                    )
        return (
            f"{vendor.name}'s key made it, but not over host key {key.label}'s public key "
            f"({SIGNED_FORMS[vendor.signed_form]}, {material_length} bytes): it is not this "
            "host key's signature."
        )

    # --- the bundle for the host HSM -------------------------------------------------------

    def export_bundle(
        self,
        session: Session,
        key_ref: str,
        kek_ref: str,
        *,
        host_partner: str,
        version: str | None = None,
    ) -> RklBundle:
        """The bundle for the host HSM: the host key's private key as a TR-31 key block
        (version D under an AES KEK, B under TDES; algorithm R) under a KEK shared with the
        host HSM, the certificate chain or the vendor's signature, the host public key and
        a manifest. Only for a ready host key, under the export quorum of its template."""
        with self.ctx.repository.unit_of_work() as uow:
            partner = self.interchange.find_partner(uow, host_partner)
            if partner.kind != HOST_PARTNER_KIND:
                raise BadInput(
                    f"Partner {partner.name} is a {partner.kind} partner; the bundle goes to a "
                    f"host HSM (a partner of kind {HOST_PARTNER_KIND})."
                )
            key, link, vendor = self._host_key(uow, key_ref)
            template = self.keys.template_of(uow, key)
            if link.status is not RklStatus.READY:
                answer = "certificate" if vendor.style == "certificate" else "signature"
                raise PolicyRefused(
                    f"Host key {key.label} is {link.status.value}; the bundle is made once "
                    f"{vendor.name}'s {answer} is imported."
                )
            check_exportable(key, template, carried_as="key blocks", key_pairs=True)
            kek, _ = self.interchange.key_and_template(uow, kek_ref)
            self.interchange.require_usable_kek(kek, KEK_USAGES, "key encryption key")
            chosen = self._version(version, kek)
            wrapping, wrapped = algorithm_strength(kek.algorithm), algorithm_strength(key.algorithm)
            if wrapping < wrapped:
                raise BadInput(
                    f"KEK {kek.label} ({kek.algorithm.value}, {wrapping}-bit strength) is weaker "
                    f"than host key {key.label} ({key.algorithm.value}, {wrapped}-bit strength): "
                    "a key travels only under a KEK at least as strong (ANSI X9.143, PCI PIN "
                    "Security Requirement 18-3; NIST SP 800-57 Part 1 Table 2)."
                )
            auth = self.ctx.authorise(uow, session, Action.EXPORT_KEY, template=template)
            if vendor.style == "certificate":
                vouching = self._certificate_files(uow, key, vendor)
            else:
                vouching = self._signature_files(key, link)
            workstation = self.ctx.workstation_id(uow)
        assert key.public_key is not None
        block = self.interchange.key_block(key, kek, version=chosen)
        now = self.ctx.clock.now()
        files: list[tuple[str, bytes]] = [
            (KEY_BLOCK, (block + "\n").encode("ascii")),
            (HOST_PUBLIC_KEY, _public_pem(key.public_key).encode("ascii")),
            *vouching.files,
        ]
        manifest = {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_FORMAT_VERSION,
            "created_at": format_time(now),
            "workstation": workstation,
            "host_partner": partner.name,
            "vendor": {"name": vendor.name, "style": vendor.style},
            "key": {
                "label": key.label,
                "id": key.id,
                "algorithm": key.algorithm.value,
                "usage": key.key_usage,
                "mode_of_use": key.mode_of_use,
                "exportability": key.exportability,
                "kcv": key.kcv,
                "kcv_method": "first 3 bytes of SHA-256 of the SubjectPublicKeyInfo DER",
                "public_key_sha256": _sha256(key.public_key),
            },
            "key_block": {
                "file": KEY_BLOCK,
                "format": f"TR-31 {chosen}",
                "header": block[:16],
                "payload": "PKCS #8 PrivateKeyInfo DER (RFC 5208)",
            },
            "kek": {"label": kek.label, "kcv": kek.kcv, "algorithm": kek.algorithm.value},
            vendor.style: vouching.facts,
            "files": [
                {"name": name, "bytes": len(data), "sha256": _sha256(data)} for name, data in files
            ],
        }
        manifest_text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        data = _zip([(MANIFEST, manifest_text.encode()), *files], now)
        digest = _sha256(data)
        fmt = f"TR-31 {chosen}"
        self.interchange.record_sent_key(
            session,
            auth,
            key,
            partner=partner,
            fmt=f"RKL bundle ({fmt})",
            wrapping=kek.label,
            wrapping_kcv=kek.kcv,
            header=block[:16],
            key_block=block,
            details={
                "header": block[:16],
                "vendor": vendor.name,
                "style": vendor.style,
                "bundle_sha256": digest,
                "manifest_sha256": _sha256(manifest_text.encode()),
                "files": {name: _sha256(content) for name, content in files},
            },
        )
        return RklBundle(
            key_label=key.label,
            key_kcv=key.kcv,
            vendor=vendor.name,
            style=vendor.style,
            partner=partner.name,
            kek_label=kek.label,
            kek_kcv=kek.kcv,
            format=fmt,
            header=block[:16],
            manifest=manifest_text,
            files=tuple((name, _sha256(content)) for name, content in files),
            sha256=digest,
            data=data,
        )

    @staticmethod
    def _version(version: str | None, kek: ManagedKey) -> str:
        """X9.143: D under an AES KEK, B (derivation binding) under TDES; A and C, the
        variant bindings, are not offered for a new private key block."""
        aes = kek.algorithm.family is KeyFamily.AES
        if version is None:
            return "D" if aes else "B"
        chosen = version.strip().upper()
        fits = "D" if aes else "B"
        if chosen != fits:
            raise BadInput(
                f"TR-31 version {chosen!r} does not fit KEK {kek.label} ({kek.algorithm.value}): "
                f"the bundle's key block is version {fits} under it."
            )
        return chosen

    def _certificate_files(self, uow: UnitOfWork, key: ManagedKey, vendor: AtmVendor) -> _Vouching:
        """The host certificate and its chain to the vendor CA, checked again now."""
        record = self._current_certificate(uow, key)
        if record is None:
            raise PolicyRefused(
                f"Host key {key.label} has no current certificate; import {vendor.name}'s "
                "certificate first."
            )
        assert vendor.partner is not None
        partner = self._vendor_partner(uow, vendor.partner)
        try:
            found = pkix.read_certificates(record.pem.encode())
            checked = pkix.validate_certificate(
                found[0],
                anchors=[certificate_der(c, "stored CA") for c in partner.ca_certificates],
                intermediates=found[1:],
                crls=[crl_der(c, "stored CRL") for c in partner.crls],
                now=self.ctx.clock.now(),
                public_key=key.public_key,
            )
        except pkix.PkixError as e:
            raise PolicyRefused(
                f"The certificate of host key {key.label} no longer passes its checks ({e}); "
                f"import a renewed certificate from {vendor.name} first."
            ) from None
        chain = "".join(_pem(c) for c in checked.chain)
        facts = {
            "file": CERTIFICATE_CHAIN,
            "partner": partner.name,
            "subject": checked.subject,
            "issuer": checked.issuer,
            "serial": f"{checked.serial:X}",
            "not_after": format_time(checked.not_after),
            "fingerprint": fingerprint(checked.chain[0]),
            "anchor_fingerprint": fingerprint(checked.chain[-1]),
            "chain": "leaf first, then each issuer up to and including the vendor's CA",
        }
        return _Vouching([(CERTIFICATE_CHAIN, chain.encode("ascii"))], facts)

    @staticmethod
    def _signature_files(key: ManagedKey, link: RklHostKey) -> _Vouching:
        """The vendor's signature, what it signs and the vendor key, checked again now."""
        signature = link.signature_bytes
        if (
            signature is None
            or link.vendor_key is None
            or link.signature_scheme is None
            or link.signed_form is None
        ):
            raise IntegrityError(f"The RKL link of host key {key.label} is ready but unsigned.")
        assert key.public_key is not None
        vendor_key, spki = read_vendor_key(link.vendor_key)
        material = host_key_material(key.public_key, link.signed_form)
        if check_signature(vendor_key, link.signature_scheme, material, signature) is not (
            SignatureCheck.VALID
        ):
            raise IntegrityError(
                f"The stored vendor signature of host key {key.label} does not verify."
            )
        facts = {
            "file": SIGNATURE,
            "signed_material": SIGNED_MATERIAL,
            "vendor_public_key": VENDOR_PUBLIC_KEY,
            "scheme": link.signature_scheme,
            "scheme_text": SIGNATURE_SCHEMES[link.signature_scheme],
            "signed_form": link.signed_form,
            "signed_form_text": SIGNED_FORMS[link.signed_form],
            "vendor_key_sha256": fingerprint(spki),
            "signature_bytes": len(signature),
        }
        return _Vouching(
            [
                (SIGNATURE, signature),
                (SIGNED_MATERIAL, material),
                (VENDOR_PUBLIC_KEY, _public_pem(spki).encode("ascii")),
            ],
            facts,
        )


@dataclass(frozen=True)
class _Vouching:
    """The vendor's part of a bundle: its files and the manifest's facts about them."""

    files: list[tuple[str, bytes]]
    facts: dict[str, Any]


def _zip(files: Sequence[tuple[str, bytes]], when: datetime) -> bytes:
    """A ZIP of ``files`` in order, every entry dated ``when`` (UTC) and readable by all."""
    out = io.BytesIO()
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()
