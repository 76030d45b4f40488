"""EMV issuer keys: the brands' CA public keys, issuer key sets made per BIN in one job,
the request to the brand, and the brand's Issuer Public Key Certificate checked and kept.

- A brand's CA public keys are kept as published (RID, index, modulus, exponent, expiry,
  check sum) once the check sum matches (EMV 4.3 Book 2 11.2), under the partners quorum.
- :meth:`EmvService.create_issuer_keys` makes, for each BIN of a list, an issuer RSA key
  pair and the issuer master keys (AC, SMI, SMC) from their templates inside the HSM, each
  labelled with the BIN, and an :class:`~workstation.domain.emv_keys.IssuerKeySet` naming
  them. The generation quorum of every template is taken once for the job; the session is
  checked again before each BIN, and Cancel stops between BINs: each BIN is made whole
  (keys, key set, audit entries in one transaction) or not at all.
- :meth:`EmvService.issuer_request` writes what the brand's CA needs (a documented JSON
  file, signed by the issuer private key in the HSM as proof of possession).
- :meth:`EmvService.import_issuer_certificate` recovers the certificate with the brand's
  CA key (EMV Book 2 5.3) and checks it against the key set: the BIN, this key pair's
  public key, the expiry, the CA key asked for. Each refusal is audited with its reason and
  changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from workstation.domain.algorithms import KeyFamily
from workstation.domain.emv_keys import (
    CaKeyFields,
    EmvCaKey,
    IssuerCertificateFacts,
    IssuerKeySet,
    IssuerRequestFacts,
    MasterKeyRef,
    check_bin,
    check_bins,
    exponent_bytes,
    month_end,
    parse_ca_index,
    parse_month_year,
    parse_serial,
    read_request_file,
    request_body,
    request_file,
)
from workstation.domain.expiry import DueItem
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.partners import Partner
from workstation.domain.policy import Action
from workstation.domain.records import canonical_bytes
from workstation.domain.templates import KeyTemplate, TemplateStatus, render_label
from workstation.errors import AlreadyExists, BadInput, NotFound, PolicyRefused, SessionLocked
from workstation.services.context import Authorisation, ServiceContext
from workstation.services.interchange import InterchangeService
from workstation.services.keys import KeyService
from workstation.services.ports import GeneratedKey, UnitOfWork
from workstation.services.session import Session
from workstation.standards import emv

log = logging.getLogger(__name__)

__all__ = [
    "ISSUER_TEMPLATE",
    "MASTER_KEY_TEMPLATES",
    "EmvService",
    "IssuerKeyJob",
]

ISSUER_TEMPLATE = "EMV issuer key pair"
MASTER_KEY_TEMPLATES = (
    "EMV issuer master key (AC)",
    "EMV issuer master key (SMI)",
    "EMV issuer master key (SMC)",
)
# EMV Book 2 Annex B2.1: no issuer (or CA) modulus longer than 1984 bits.
MAX_ISSUER_BITS = 1984
# A key set stays the BIN's while its key pair may still be used.
_LIVE = (KeyState.PRE_ACTIVATION, KeyState.ACTIVE, KeyState.SUSPENDED)

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]


@dataclass(frozen=True)
class IssuerKeyJob:
    """What one job made: a complete key set per BIN in ``made``, the BINs it did not reach
    in ``not_made``, and why it stopped early (None when it ran to the end)."""

    brand: str
    made: tuple[IssuerKeySet, ...]
    not_made: tuple[str, ...]
    stopped: str | None = None


def _rsa_numbers(key: ManagedKey) -> tuple[int, int]:
    """The modulus and exponent of a stored RSA key pair's public key."""
    assert key.public_key is not None
    public = serialization.load_der_public_key(key.public_key)
    if not isinstance(public, rsa.RSAPublicKey):
        raise BadInput(f"Key {key.label} is not an RSA key pair.")
    numbers = public.public_numbers()
    return numbers.n, numbers.e


class EmvService:
    def __init__(self, ctx: ServiceContext, keys: KeyService, interchange: InterchangeService):
        self.ctx = ctx
        self.keys = keys
        self.interchange = interchange

    # --- lookups ---------------------------------------------------------------------------

    def _brand(self, uow: UnitOfWork, name: str) -> Partner:
        partner = self.interchange.find_partner(uow, name)
        if partner.kind != "brand":
            raise BadInput(
                f"Partner {partner.name} is a {partner.kind}, not a card brand: EMV CA keys "
                "and issuer certificates come from a brand (add the brand as a partner of "
                "kind 'brand')."
            )
        return partner

    def _brand_of(self, uow: UnitOfWork, key_set: IssuerKeySet) -> Partner:
        sealed = uow.partners.get(key_set.brand_id)
        if sealed is None:
            raise NotFound(
                f"The brand of BIN {key_set.bin}, {key_set.brand}, is no longer a partner."
            )
        return self.ctx.unseal(sealed, f"partner {sealed.value.name}")

    def _ca_keys(self, uow: UnitOfWork, partner_id: str | None = None) -> list[EmvCaKey]:
        rows = uow.documents.list(EmvCaKey, subject=partner_id)
        return [self.ctx.unseal(r, f"EMV CA key {r.value.id}") for r in rows]

    def _ca_key(self, uow: UnitOfWork, brand: Partner, index: int) -> EmvCaKey:
        found = [k for k in self._ca_keys(uow, brand.id) if k.index == index]
        if not found:
            raise NotFound(
                f"{brand.name} has no CA public key with index {index:02X}: add it first "
                "(emv ca-keys add)."
            )
        return found[0]

    def _live(self, uow: UnitOfWork, key_set: IssuerKeySet) -> bool:
        sealed = uow.keys.get(key_set.key_pair_id)
        if sealed is None:
            return False
        key = self.ctx.unseal(sealed, f"key {sealed.value.label}")
        return key.state in _LIVE

    def _live_set(self, uow: UnitOfWork, bin: str) -> IssuerKeySet | None:
        rows = uow.documents.list(IssuerKeySet, subject=bin)
        sets = [self.ctx.unseal(r, f"the issuer key set of BIN {bin}") for r in rows]
        live = [s for s in sets if self._live(uow, s)]
        return max(live, key=lambda s: s.created_at) if live else None

    def _current_set(self, uow: UnitOfWork, bin: str) -> IssuerKeySet:
        found = self._live_set(uow, bin)
        if found is None:
            raise NotFound(
                f"BIN {bin} has no issuer key set in use: make one first (emv issuer-keys create)."
            )
        return found

    def _key_pair(self, uow: UnitOfWork, key_set: IssuerKeySet) -> tuple[ManagedKey, KeyTemplate]:
        key = self.keys.find_key(uow, key_set.key_pair_id)
        template = self.keys.template_of(uow, key)
        if key.state not in (KeyState.PRE_ACTIVATION, KeyState.ACTIVE):
            raise PolicyRefused(
                f"Issuer key pair {key.label} is {key.state.value}; only a pre-active or "
                "active key pair is certified."
            )
        if key.wrapped is None or key.public_key is None:
            raise BadInput(f"Key {key.label} holds no key material.")
        if not template.allows(Action.MANAGE_CERTIFICATES):
            raise PolicyRefused(
                f"Template {template.name!r} does not allow certificates for its key pairs."
            )
        return key, template

    # --- brand CA public keys --------------------------------------------------------------

    def ca_keys(self, session: Session, *, brand: str | None = None) -> list[EmvCaKey]:
        """The brands' CA public keys (one brand's with ``brand``), soonest expiry first."""
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            partner_id = self._brand(uow, brand).id if brand is not None else None
            return self._ca_keys(uow, partner_id)

    def add_ca_keys(
        self, session: Session, brand: str, keys: Sequence[CaKeyFields]
    ) -> list[EmvCaKey]:
        """A brand's CA public keys, all kept or none: each refused unless its check sum
        matches, it has not expired, and the brand has no key of that index yet."""
        if not keys:
            raise BadInput("Give at least one CA public key.")
        with self.ctx.repository.unit_of_work() as uow:
            partner = self._brand(uow, brand)
            auth = self.ctx.authorise(uow, session, Action.MANAGE_PARTNERS)
            now = self.ctx.clock.now()
            checked = [
                EmvCaKey.checked(f, partner_id=partner.id, partner=partner.name, added_at=now)
                for f in keys
            ]
            held = {k.index: k for k in self._ca_keys(uow, partner.id)}
            for key in checked:
                if key.expires < now.date():
                    raise BadInput(
                        f"CA public key {key.rid} index {key.index:02X} expired on "
                        f"{key.expires:%Y-%m-%d}; it is not added."
                    )
                if key.index in held:
                    raise AlreadyExists(
                        f"{partner.name} already has CA public key index {key.index:02X} "
                        f"({held[key.index].rid}, check sum {held[key.index].check_sum}); "
                        "remove it first to replace it."
                    )
                if uow.documents.get(EmvCaKey, key.id) is not None:
                    raise AlreadyExists(
                        f"CA public key {key.rid} index {key.index:02X} is already kept for "
                        "another partner."
                    )
                held[key.index] = key
                uow.documents.add(key, self.ctx.seal(key))
                self.ctx.audit(
                    uow,
                    auth,
                    "emv.ca_key.add",
                    "emv-ca-key",
                    key.id,
                    label=key.label,
                    details={
                        "brand": partner.name,
                        "rid": key.rid,
                        "index": f"{key.index:02X}",
                        "modulus_bits": key.modulus_length * 8,
                        "exponent": key.exponent,
                        "expires": key.expires.isoformat(),
                        "check_sum": key.check_sum,
                    },
                    session=session,
                )
            uow.commit()
        self.ctx.checkpoint()
        return checked

    def remove_ca_key(self, session: Session, brand: str, index: int | str) -> EmvCaKey:
        """Forget a brand's CA public key (withdrawn by the brand, or entered by mistake)."""
        ca_index = parse_ca_index(index)
        with self.ctx.repository.unit_of_work() as uow:
            partner = self._brand(uow, brand)
            auth = self.ctx.authorise(uow, session, Action.MANAGE_PARTNERS)
            key = self._ca_key(uow, partner, ca_index)
            uow.documents.delete(EmvCaKey, key.id)
            self.ctx.audit(
                uow,
                auth,
                "emv.ca_key.remove",
                "emv-ca-key",
                key.id,
                label=key.label,
                details={"brand": partner.name, "check_sum": key.check_sum},
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return key

    # --- issuer key sets -------------------------------------------------------------------

    def key_sets(
        self, session: Session, *, bin: str | None = None, in_use_only: bool = False
    ) -> list[IssuerKeySet]:
        """The issuer key sets (one BIN's with ``bin``; with ``in_use_only``, those whose key
        pair is not deactivated, compromised or destroyed): certified ones by expiry first."""
        wanted = check_bin(bin) if bin is not None else None
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            rows = uow.documents.list(IssuerKeySet, subject=wanted)
            sets = [self.ctx.unseal(r, f"the issuer key set of BIN {r.value.bin}") for r in rows]
            return [s for s in sets if not in_use_only or self._live(uow, s)]

    def _job_templates(
        self, uow: UnitOfWork, issuer: str, masters: Sequence[str]
    ) -> tuple[KeyTemplate, list[KeyTemplate]]:
        pair = self.keys.templates.find(uow, issuer)
        if pair.algorithm.family is not KeyFamily.RSA or pair.algorithm.bits > MAX_ISSUER_BITS:
            raise BadInput(
                f"Template {pair.name!r} makes {pair.algorithm.value} keys; an EMV issuer key "
                f"pair is RSA of at most {MAX_ISSUER_BITS} bits (EMV Book 2 Annex B2.1)."
            )
        found = [self.keys.templates.find(uow, name) for name in masters]
        for t in found:
            if not (t.algorithm.is_symmetric and t.key_usage.startswith("E")):
                raise BadInput(
                    f"Template {t.name!r} is not an issuer master key template (a secret key "
                    "of TR-31 usage E0 to E6)."
                )
        ids = [t.id for t in (pair, *found)]
        if len(set(ids)) != len(ids):
            raise BadInput("A template is named twice for the job.")
        for t in (pair, *found):
            if t.status is not TemplateStatus.ACTIVE:
                raise BadInput(f"Template {t.name!r} is retired; no keys are made from it.")
        return pair, found

    def create_issuer_keys(
        self,
        session: Session,
        bins: Sequence[str],
        *,
        brand: str,
        template: str = ISSUER_TEMPLATE,
        master_key_templates: Sequence[str] = MASTER_KEY_TEMPLATES,
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> IssuerKeyJob:
        """For each BIN, an issuer key pair and the issuer master keys, made in the HSM.

        The BINs are checked before anything is made (6 or 8 digits, none twice, none with
        an issuer key set still in use); the generation quorum of each template is taken
        once. Before each BIN the job looks at ``cancelled`` and at the session: it stops
        if asked to or if the quorum is no longer met, keeping the BINs already made (each
        complete and audited). A BIN is made in one transaction: its keys, their audit
        entries and its key set, or nothing.
        """
        wanted = check_bins(list(bins))
        with self.ctx.repository.unit_of_work() as uow:
            the_brand = self._brand(uow, brand)
            pair_template, master_templates = self._job_templates(
                uow, template, master_key_templates
            )
            auths = {
                t.id: self.ctx.authorise(uow, session, Action.GENERATE_KEY, template=t)
                for t in (pair_template, *master_templates)
            }
            taken = [b for b in wanted if self._live_set(uow, b) is not None]
            if taken:
                raise AlreadyExists(
                    f"BIN {', '.join(taken)} already {'has' if len(taken) == 1 else 'have'} "
                    "an issuer key set in use; nothing was made."
                )
        job = uuid.uuid4().hex
        made: list[IssuerKeySet] = []
        stopped: str | None = None
        clash = False
        seen = session.changes
        for number, bin in enumerate(wanted, 1):
            if cancelled is not None and cancelled():
                stopped = "cancelled"
                break
            if session.is_locked or session.changes != seen:
                # Someone left (or joined): every template's quorum must still be met.
                stopped = next(
                    (r for a in auths.values() if (r := self.ctx.still_met(session, a))), None
                )
                if stopped is not None:
                    break
                seen = session.changes
            pair = self.ctx.hsm.generate_key(pair_template.algorithm)
            masters = [(t, self.ctx.hsm.generate_key(t.algorithm)) for t in master_templates]
            key_set = self._store_bin(
                session, auths, bin, the_brand, job, (pair_template, pair), masters
            )
            if key_set is None:
                clash, stopped = True, f"a key label for BIN {bin} is taken by another key"
                break
            made.append(key_set)
            if progress is not None:
                progress(number, len(wanted))
        result = IssuerKeyJob(
            brand=the_brand.name,
            made=tuple(made),
            not_made=tuple(wanted[len(made) :]),
            stopped=stopped,
        )
        self._audit_job(session, auths[pair_template.id], job, result)
        self.ctx.checkpoint()
        if stopped is not None and stopped != "cancelled" and not made:
            refusal = AlreadyExists if clash else SessionLocked
            raise refusal(f"No issuer key was made: {stopped}.")
        if stopped is not None:
            log.warning("issuer key job stopped after %d BINs: %s", len(made), stopped)
        return result

    def _label(self, uow: UnitOfWork, template: KeyTemplate, bin: str) -> str:
        label = render_label(
            template.label_pattern,
            seq=uow.templates.next_sequence(template.id),
            when=self.ctx.clock.now(),
            template=template.name,
            version=1,
            bin=bin,
        )
        # A template whose pattern has no {bin} still names the BIN.
        return label if "{bin}" in template.label_pattern else f"{label}-{bin}"

    def _store_bin(
        self,
        session: Session,
        auths: dict[str, Authorisation],
        bin: str,
        brand: Partner,
        job: str,
        pair: tuple[KeyTemplate, GeneratedKey],
        masters: list[tuple[KeyTemplate, GeneratedKey]],
    ) -> IssuerKeySet | None:
        """One BIN's keys and key set, with their audit entries, in one transaction; None
        (nothing stored) when a label the templates give is already taken."""
        details = {"bin": bin, "brand": brand.name, "job": job}
        with self.ctx.repository.unit_of_work() as uow:
            stored: list[ManagedKey] = []
            for template, generated in (pair, *masters):
                label = self._label(uow, template, bin)
                if uow.keys.by_label(label) is not None:
                    return None
                stored.append(
                    self.keys.record_new(
                        uow,
                        auths[template.id],
                        session,
                        template,
                        generated,
                        key_id="",
                        label=label,
                        details=details,
                    )
                )
            key_pair = stored[0]
            key_set = IssuerKeySet(
                id=uuid.uuid4().hex,
                bin=bin,
                brand_id=brand.id,
                brand=brand.name,
                key_pair_id=key_pair.id,
                key_pair_label=key_pair.label,
                key_pair_kcv=key_pair.kcv,
                key_pair_template_id=pair[0].id,
                modulus_bits=pair[0].algorithm.bits,
                master_keys=tuple(
                    MasterKeyRef(t.name, t.key_usage, k.id, k.label, k.kcv)
                    for (t, _), k in zip(masters, stored[1:], strict=True)
                ),
                created_at=self.ctx.clock.now(),
            )
            uow.documents.add(key_set, self.ctx.seal(key_set))
            self.ctx.audit(
                uow,
                auths[pair[0].id],
                "emv.issuer_keys.create",
                "emv-issuer",
                key_set.id,
                label=f"BIN {bin}",
                kcv=key_pair.kcv,
                details={
                    **details,
                    "key_pair": key_pair.label,
                    "master_keys": [f"{m.label} ({m.kcv})" for m in key_set.master_keys],
                },
                session=session,
            )
            uow.commit()
        return key_set

    def _audit_job(
        self, session: Session, auth: Authorisation, job: str, result: IssuerKeyJob
    ) -> None:
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.audit(
                uow,
                auth,
                "emv.issuer_keys.job",
                "emv-job",
                job,
                label=f"{len(result.made)} of {len(result.made) + len(result.not_made)} BINs",
                details={
                    "brand": result.brand,
                    "made": [s.bin for s in result.made],
                    "not_made": list(result.not_made),
                    "stopped": result.stopped,
                },
                session=session,
            )
            uow.commit()

    # --- the request to the brand ----------------------------------------------------------

    def issuer_request(
        self,
        session: Session,
        bin: str,
        *,
        ca_index: int | str,
        expiry: str,
        serial: str | None = None,
    ) -> bytes:
        """The request file for the BIN's issuer public key (format: docs/emv.md), signed
        inside the HSM by the issuer private key; audited with its SHA-256.

        ``ca_index`` names the brand's CA key the certificate is asked under (its modulus
        must be at least as long as the issuer's, EMV Book 2 5.1); ``expiry`` is ``MM/YY``,
        in the future and no later than that CA key's expiry; ``serial`` (6 hex digits) only
        where the brand has the issuer propose the certificate serial number.
        """
        wanted = check_bin(bin)
        index = parse_ca_index(ca_index)
        mmyy = parse_month_year(expiry)
        serial_bytes = parse_serial(serial)
        today = self.ctx.clock.now().date()
        if month_end(mmyy) < today:
            raise BadInput(f"Expiry {expiry.strip()} is in the past.")
        with self.ctx.repository.unit_of_work() as uow:
            key_set = self._current_set(uow, wanted)
            key, template = self._key_pair(uow, key_set)
            brand = self._brand_of(uow, key_set)
            auth = self.ctx.authorise(uow, session, Action.MANAGE_CERTIFICATES, template=template)
            ca = self._ca_key(uow, brand, index)
        modulus, exponent = _rsa_numbers(key)
        issuer_length = (modulus.bit_length() + 7) // 8
        if issuer_length > ca.modulus_length:
            raise BadInput(
                f"The issuer key of BIN {wanted} is {issuer_length} bytes, longer than "
                f"{brand.name}'s CA key index {index:02X} ({ca.modulus_length} bytes): the "
                "issuer key may be no longer than the CA key (EMV Book 2 5.1)."
            )
        if ca.expires < today:
            raise BadInput(f"{ca.label} expired on {ca.expires:%Y-%m-%d}.")
        if month_end(mmyy) > ca.expires:
            raise BadInput(
                f"Expiry {expiry.strip()} is after {ca.label} expires ({ca.expires:%Y-%m-%d}): "
                "a certificate cannot outlive the key that signs it."
            )
        body = request_body(
            brand=brand.name,
            rid=ca.rid,
            ca_index=index,
            bin=wanted,
            expiry=mmyy,
            serial=serial_bytes,
            modulus=modulus,
            exponent=exponent,
            key_label=key.label,
            key_check_value=key.kcv,
            made_at=self.ctx.clock.now(),
        )
        assert key.wrapped is not None
        signature = self.ctx.hsm.sign_with_key(key.algorithm, key.wrapped, canonical_bytes(body))
        data = request_file(body, signature)
        checked = read_request_file(data)  # the file verifies as the brand will check it
        with self.ctx.repository.unit_of_work() as uow:
            current = self._current_set(uow, wanted)
            if current.id != key_set.id:
                raise BadInput(f"The issuer key set of BIN {wanted} changed meanwhile; try again.")
            facts = IssuerRequestFacts(
                ca_index=index,
                expiry=mmyy,
                serial=None if serial_bytes is None else serial_bytes.hex().upper(),
                sha256=checked.sha256,
                made_at=self.ctx.clock.now(),
            )
            updated = current.requested(facts)
            uow.documents.update(updated, self.ctx.seal(updated))
            self.ctx.audit(
                uow,
                auth,
                "emv.issuer_request",
                "emv-issuer",
                key_set.id,
                label=f"BIN {wanted}",
                kcv=key.kcv,
                details={
                    "brand": brand.name,
                    "key_pair": key.label,
                    "rid": ca.rid,
                    "ca_index": f"{index:02X}",
                    "expiry": mmyy,
                    "serial": facts.serial,
                    "request_sha256": checked.sha256,
                },
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return data

    # --- the brand's certificate -----------------------------------------------------------

    def import_issuer_certificate(
        self,
        session: Session,
        bin: str,
        certificate: bytes,
        *,
        remainder: bytes = b"",
        exponent: int,
        ca_index: int | str,
    ) -> IssuerKeySet:
        """The brand's Issuer Public Key Certificate (tag 90) with its remainder (92) and
        exponent (9F32), recovered with the CA key of ``ca_index`` (EMV Book 2 5.3) and
        checked against the BIN's key set before it is kept: the CA index is the one the
        request asked for, the certificate names this BIN and carries this key pair's
        public key, and it has not expired. Each refusal is audited; nothing changes."""
        wanted = check_bin(bin)
        index = parse_ca_index(ca_index)
        exponent_data = exponent_bytes(exponent)
        if not isinstance(certificate, bytes | bytearray) or not certificate:
            raise BadInput("The certificate is empty.")
        with self.ctx.repository.unit_of_work() as uow:
            key_set = self._current_set(uow, wanted)
            key, template = self._key_pair(uow, key_set)
            brand = self._brand_of(uow, key_set)
            request = key_set.request
            if request is None:
                raise BadInput(
                    f"No certificate was requested for BIN {wanted}: make the request first "
                    "(emv request)."
                )
            auth = self.ctx.authorise(uow, session, Action.MANAGE_CERTIFICATES, template=template)
            ca_keys = [k for k in self._ca_keys(uow, brand.id) if k.index == index]

        def refuse(reason: str) -> BadInput:
            self.ctx.record_refusal(
                session,
                "emv.certificate.refused",
                "emv-issuer",
                key_set.id,
                reason,
                f"BIN {wanted}",
            )
            return BadInput(f"Issuer certificate for BIN {wanted} refused: {reason}.")

        asked = request.ca_index
        if index != asked:
            raise refuse(
                f"it is given as signed under CA key index {index:02X}, but the request asked "
                f"for index {asked:02X}"
            )
        if not ca_keys:
            raise refuse(f"{brand.name} has no CA public key with index {index:02X}")
        ca = ca_keys[0]
        today = self.ctx.clock.now().date()
        if ca.expires < today:
            raise refuse(f"{ca.label} expired on {ca.expires:%Y-%m-%d}")
        try:
            recovered = emv.recover_issuer_certificate(
                bytes(certificate),
                ca=ca.public_key(),
                remainder=bytes(remainder),
                exponent=exponent_data,
                today=today,
            )
        except emv.EmvError as e:
            raise refuse(str(e)) from None
        if recovered.issuer_identifier != wanted:
            raise refuse(
                f"it names issuer identifier {recovered.issuer_identifier}, not BIN {wanted}"
            )
        modulus, public_exponent = _rsa_numbers(key)
        if (recovered.modulus, recovered.exponent) != (modulus, public_exponent):
            raise refuse(
                f"it certifies another public key than issuer key pair {key.label} of BIN {wanted}"
            )
        facts = IssuerCertificateFacts(
            rid=ca.rid,
            ca_index=index,
            expiry=recovered.expiry,
            serial=recovered.serial.hex().upper(),
            certificate=bytes(certificate).hex().upper(),
            remainder=bytes(remainder).hex().upper(),
            exponent=recovered.exponent,
            sha256=hashlib.sha256(bytes(certificate)).hexdigest().upper(),
            imported_at=self.ctx.clock.now(),
        )
        with self.ctx.repository.unit_of_work() as uow:
            current = self._current_set(uow, wanted)
            if current != key_set:
                raise BadInput(f"The issuer key set of BIN {wanted} changed meanwhile; try again.")
            updated = current.certified(facts)
            uow.documents.update(updated, self.ctx.seal(updated))
            self.ctx.audit(
                uow,
                auth,
                "emv.certificate.import",
                "emv-issuer",
                key_set.id,
                label=f"BIN {wanted}",
                kcv=key.kcv,
                details={
                    "brand": brand.name,
                    "key_pair": key.label,
                    "rid": ca.rid,
                    "ca_index": f"{index:02X}",
                    "serial": facts.serial,
                    "expiry": facts.expiry,
                    "certificate_sha256": facts.sha256,
                },
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return updated

    # --- what falls due --------------------------------------------------------------------

    def due_items(self, uow: UnitOfWork, before: datetime) -> list[DueItem]:
        """Issuer certificates of key sets in use, and brand CA keys, due before
        ``before`` (for the expiry service, which authorises the reading)."""
        items: list[DueItem] = []
        for row in uow.documents.list(IssuerKeySet, due_before=before):
            key_set = self.ctx.unseal(row, f"the issuer key set of BIN {row.value.bin}")
            if key_set.due is None or key_set.certificate is None or not self._live(uow, key_set):
                continue
            items.append(
                DueItem(
                    kind="emv-certificate",
                    ref=key_set.id,
                    label=f"BIN {key_set.bin} ({key_set.brand}, CA index "
                    f"{key_set.certificate.ca_index:02X})",
                    what="issuer certificate expires",
                    due=key_set.due,
                    key_id=key_set.key_pair_id,
                    template_id=key_set.key_pair_template_id,
                )
            )
        for ca_row in uow.documents.list(EmvCaKey, due_before=before):
            ca = self.ctx.unseal(ca_row, f"EMV CA key {ca_row.value.id}")
            items.append(
                DueItem(
                    kind="emv-ca-key",
                    ref=ca.id,
                    label=ca.label,
                    what="brand CA public key expires",
                    due=ca.due,
                )
            )
        return sorted(items, key=lambda i: (i.due, i.ref))
