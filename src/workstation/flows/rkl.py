"""ATM remote key loading as plain Python: the wizards' steps, field checks and wording.

As in :mod:`workstation.flows.interchange`, a ``validate_*`` method says what is wrong
with a step's input, in words, by field; the matching ``set_*`` method stores accepted
input (or raises :class:`~workstation.flows.wizards.FlowError`); the RKL service is reached
only through callables passed in (the service with the session bound), and it checks every
rule again when the work runs: a flow only catches mistakes early, next to their field.

- :class:`VendorFlow`: an ATM vendor profile, new or changed.
- :class:`HostKeyFlow`: a host key pair for a vendor, created, then its certificate request
  or the material the vendor signs, then the vendor's certificate or signature imported;
  a host key made earlier can be taken up where it stopped.
- :class:`BundleFlow`: the bundle for the host HSM.

No clear key passes through these flows: they hold labels, public keys, certificates,
signatures, the request and the bundle (whose private key is a TR-31 block).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from workstation.domain.algorithms import KeyFamily
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.partners import Partner
from workstation.domain.policy import Action
from workstation.domain.rkl import (
    MIN_VENDOR_RSA_BITS,
    SIGNATURE_SCHEMES,
    SIGNED_FORMS,
    VENDOR_STYLES,
    AtmVendor,
    RklStatus,
    check_vendor_name,
    fingerprint,
    read_signature,
    read_vendor_key,
)
from workstation.domain.templates import KeyTemplate, TemplateStatus
from workstation.errors import BadInput
from workstation.flows.ceremonies import validate_label
from workstation.flows.interchange import LoadedFile, kek_refusal, key_line
from workstation.flows.wizards import (
    FieldErrors,
    FlowError,
    QuorumShown,
    StepInfo,
    _Flow,
)
from workstation.services.certificates import CertificateRequest
from workstation.services.interchange import algorithm_strength
from workstation.services.logon import Requirement
from workstation.services.rkl import (
    HOST_PARTNER_KIND,
    VENDOR_PARTNER_KIND,
    HostKey,
    RklBundle,
)
from workstation.standards import pkix

__all__ = [
    "BUNDLE_VERSIONS",
    "BundleFlow",
    "BundleStep",
    "HostKeyFlow",
    "HostKeyMode",
    "HostKeyStep",
    "RklData",
    "VendorFlow",
    "VendorStep",
    "bundle_refusal",
    "host_key_line",
    "host_key_lines",
    "key_lines",
    "template_refusal",
]

# The TR-31 version of a bundle's key block, by the KEK's family (X9.143: D binds with an
# AES KBPK, B, the TDES derivation binding, with a TDES one).
BUNDLE_VERSIONS: Mapping[KeyFamily, str] = {KeyFamily.AES: "D", KeyFamily.TDES: "B"}


@dataclass(frozen=True)
class RklData:
    """What the RKL wizards choose from, read in one go when a wizard opens."""

    vendors: tuple[AtmVendor, ...] = ()
    host_keys: tuple[HostKey, ...] = ()
    partners: tuple[Partner, ...] = ()
    templates: tuple[KeyTemplate, ...] = ()
    keys: tuple[ManagedKey, ...] = ()  # pre-active and active keys: the KEK candidates
    truncated: bool = False  # more keys than were read

    def vendor(self, name: str | None) -> AtmVendor | None:
        wanted = (name or "").strip().casefold()
        return next((v for v in self.vendors if v.name.casefold() == wanted), None)

    def host_key(self, label: str | None) -> HostKey | None:
        wanted = (label or "").strip()
        return next((h for h in self.host_keys if h.key.label == wanted), None)

    def partner(self, name: str | None) -> Partner | None:
        wanted = (name or "").strip().casefold()
        return next((p for p in self.partners if p.name.casefold() == wanted), None)

    def template(self, name: str | None) -> KeyTemplate | None:
        wanted = (name or "").strip().casefold()
        return next((t for t in self.templates if t.name.casefold() == wanted), None)

    def template_by_id(self, template_id: str) -> KeyTemplate | None:
        return next((t for t in self.templates if t.id == template_id), None)

    def key(self, label: str | None) -> ManagedKey | None:
        wanted = (label or "").strip()
        return next((k for k in self.keys if k.label == wanted), None)

    def partner_names(self, kind: str) -> list[str]:
        return sorted((p.name for p in self.partners if p.kind == kind), key=str.casefold)


def _step(title: str, subtitle: str, *needs: str) -> StepInfo:
    return StepInfo(title, subtitle, tuple(needs))


def _state(key: ManagedKey) -> str:
    return "pre-active" if key.state is KeyState.PRE_ACTIVATION else key.state.value


def host_key_line(host: HostKey) -> str:
    """How a host key appears in a wizard's list."""
    return (
        f"{host.key.label} — {host.vendor.name} ({host.link.style}), "
        f"{host.link.status.value}, {_state(host.key)}"
    )


def template_refusal(template: KeyTemplate) -> str | None:
    """Why ``template`` cannot make RKL host keys (the service's rule), or None."""
    algorithm = template.algorithm
    if template.status is not TemplateStatus.ACTIVE:
        return f"Template {template.name!r} is retired."
    if algorithm.family is not KeyFamily.RSA or algorithm.bits < MIN_VENDOR_RSA_BITS:
        return (
            f"Template {template.name!r} makes {algorithm.value} keys; an RKL host key is an "
            f"RSA key pair of at least {MIN_VENDOR_RSA_BITS} bits."
        )
    if not template.allows(Action.EXPORT_KEY):
        return (
            f"Template {template.name!r} does not let its keys leave (exportability "
            f"{template.exportability}); the host key goes to the host HSM."
        )
    return None


def bundle_refusal(host: HostKey, template: KeyTemplate | None) -> str | None:
    """Why ``host`` cannot go to the host HSM now (the service's rules), or None."""
    key = host.key
    if host.link.status is not RklStatus.READY:
        return f"Host key {key.label} is {host.link.status.value}."
    if template is None:
        return f"The template of host key {key.label} is missing."
    if key.exportability == "N" or not template.allows(Action.EXPORT_KEY):
        return (
            f"Key {key.label} is not exportable (template {template.name!r}, exportability "
            f"{key.exportability})."
        )
    if key.state not in (KeyState.PRE_ACTIVATION, KeyState.ACTIVE) or key.wrapped is None:
        return f"Key {key.label} is {_state(key)}; only a pre-active or active key is exported."
    return None


def _sorted_names(names: Iterable[str]) -> list[str]:
    return sorted(names, key=str.casefold)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "key"


class _RklFlow(_Flow[Any], QuorumShown):
    """What the RKL wizards share: the data they choose from, the quorum they show."""

    def __init__(self, first: Any, data: RklData | None = None) -> None:
        super().__init__(first)
        self.data = data or RklData()
        self.requirement: Requirement | None = None

    def load(self, data: RklData) -> None:
        self.data = data

    def _quorum_rows(self) -> list[tuple[str, str]]:
        return [("Quorum", self.requirement.quorum)] if self.requirement else []

    def finish(self, result_step: Any) -> None:
        """Go to ``result_step`` (the work it follows is done)."""
        while self.step is not result_step:
            following = self.next_step()
            if following is None:
                break
            self._history.append(self.step)
            self.step = following

    def _check(self, *steps: Any) -> None:
        for step in steps:
            errors = self.errors(step)
            if errors:
                raise FlowError(errors)


# --- vendor profiles -------------------------------------------------------------------------


class VendorStep(StrEnum):
    PROFILE = "profile"
    DETAILS = "details"
    REVIEW = "review"
    SAVE = "save"
    RESULT = "result"


class AddVendor(Protocol):
    """``RklService.add_vendor`` with the session bound."""

    def __call__(
        self,
        name: str,
        style: str,
        *,
        template: str,
        partner: str | None,
        public_key: bytes | None,
        signature_scheme: str | None,
        signed_form: str | None,
        notes: str,
    ) -> AtmVendor: ...


class UpdateVendor(Protocol):
    """``RklService.update_vendor`` with the session bound."""

    def __call__(
        self,
        name: str,
        *,
        template: str | None,
        partner: str | None,
        public_key: bytes | None,
        signature_scheme: str | None,
        signed_form: str | None,
        notes: str | None,
    ) -> AtmVendor: ...


class VendorFlow(_RklFlow):
    """An ATM vendor profile: its style, the template of its host keys, and the vendor
    CA's partner (certificate style) or the vendor's key and how it signs (signature)."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        VendorStep.PROFILE: _step(
            "The vendor",
            "A certificate vendor's CA certifies the host key (X.509); a signature vendor signs "
            "the host's public key with its own key. Host keys are RSA key pairs made from the "
            "template chosen here.",
            "existing",
            "name",
            "style",
            "template",
            "notes",
        ),
        VendorStep.DETAILS: _step(
            "How the vendor vouches for the host key",
            "A certificate vendor: the partner (a device vendor) holding its CA certificates "
            "and CRLs. A signature vendor: its RSA public key, the scheme and what it signs.",
            "partner",
            "public_key",
            "scheme",
            "form",
        ),
        VendorStep.REVIEW: _step(
            "Review and save",
            "A vendor profile takes the partner-management quorum.",
            "requirement",
        ),
        VendorStep.SAVE: _step("Saving", "The profile is sealed and audited.", "result"),
        VendorStep.RESULT: _step("Vendor profile saved", "Host keys can now be made for it."),
    }

    def __init__(self, data: RklData | None = None) -> None:
        super().__init__(VendorStep.PROFILE, data)
        self.existing: AtmVendor | None = None
        self.name = ""
        self.style: str | None = None
        self.template: KeyTemplate | None = None
        self.notes = ""
        self.partner: str | None = None
        self.public_key: LoadedFile | None = None
        self.scheme: str | None = None
        self.form: str | None = None
        self.result: AtmVendor | None = None

    # choices

    def vendor_names(self) -> list[str]:
        return _sorted_names(v.name for v in self.data.vendors)

    def templates(self) -> list[str]:
        """The templates that can make host keys."""
        return _sorted_names(t.name for t in self.data.templates if template_refusal(t) is None)

    def vendor_partners(self) -> list[str]:
        return self.data.partner_names(VENDOR_PARTNER_KIND)

    @staticmethod
    def styles() -> list[tuple[str, str]]:
        return [(code, f"{code} — {text}") for code, text in VENDOR_STYLES.items()]

    @staticmethod
    def schemes() -> list[tuple[str, str]]:
        return list(SIGNATURE_SCHEMES.items())

    @staticmethod
    def forms() -> list[tuple[str, str]]:
        return list(SIGNED_FORMS.items())

    def prefill(self, existing: str | None) -> dict[str, Any]:
        """The values a page shows for a chosen profile (or blank for a new one)."""
        vendor = self.data.vendor(existing)
        if vendor is None:
            return {"name": "", "style": None, "template": None, "notes": ""}
        template = self.data.template_by_id(vendor.template_id)
        return {
            "name": vendor.name,
            "style": vendor.style,
            "template": template.name if template else vendor.template_name,
            "notes": vendor.notes,
            "partner": vendor.partner,
            "scheme": vendor.signature_scheme,
            "form": vendor.signed_form,
        }

    # the profile

    def validate_profile(
        self,
        *,
        existing: str | None,
        name: str,
        style: str | None,
        template: str | None,
        notes: str,
    ) -> FieldErrors:
        errors: FieldErrors = {}
        vendor = self.data.vendor(existing) if existing else None
        if existing and vendor is None:
            errors["existing"] = f"No ATM vendor profile named {existing!r}."
        if vendor is None:
            try:
                checked = check_vendor_name(name)
            except BadInput as e:
                errors["name"] = "Give the vendor's name." if not name.strip() else e.user_message()
            else:
                if self.data.vendor(checked) is not None:
                    errors["name"] = f"An ATM vendor profile named {checked} already exists."
            if style not in VENDOR_STYLES:
                errors["style"] = (
                    "Choose how the vendor vouches for host keys: certificate or signature."
                )
        if not (template or "").strip():
            errors["template"] = "Choose the key pair template the host keys are made from."
        else:
            the_template = self.data.template(template)
            if the_template is None:
                errors["template"] = f"No template named {template!r}."
            else:
                problem = template_refusal(the_template)
                if problem:
                    errors["template"] = problem
        if len(notes) > 2000:
            errors["notes"] = "Notes are limited to 2000 characters."
        return errors

    def set_profile(
        self,
        *,
        existing: str | None,
        name: str,
        style: str | None,
        template: str | None,
        notes: str,
    ) -> None:
        errors = self.validate_profile(
            existing=existing, name=name, style=style, template=template, notes=notes
        )
        if errors:
            raise FlowError(errors)
        self.existing = self.data.vendor(existing) if existing else None
        if self.existing is not None:
            self.name, self.style = self.existing.name, self.existing.style
        else:
            self.name, self.style = check_vendor_name(name), style
        self.template = self.data.template(template)
        self.notes = notes.strip()

    # the details

    def validate_details(
        self,
        *,
        partner: str | None,
        public_key: LoadedFile | None,
        scheme: str | None,
        form: str | None,
    ) -> FieldErrors:
        errors: FieldErrors = {}
        if self.style == "certificate":
            if not (partner or "").strip():
                errors["partner"] = (
                    "Choose the partner holding the vendor's CA certificates (a device vendor)."
                    if self.vendor_partners()
                    else "There is no device-vendor partner yet: add the vendor's CA as a "
                    "partner of kind device-vendor on the Exchanges page first."
                )
            else:
                found = self.data.partner(partner)
                if found is None:
                    errors["partner"] = f"No partner named {partner!r}."
                elif found.kind != VENDOR_PARTNER_KIND:
                    errors["partner"] = (
                        f"Partner {found.name} is a {found.kind} partner; a vendor CA is a "
                        f"partner of kind {VENDOR_PARTNER_KIND}."
                    )
                elif not found.ca_certificates:
                    errors["partner"] = (
                        f"Partner {found.name} has no CA certificate: add the vendor's CA "
                        "certificate to it first."
                    )
            return errors
        keeps_key = self.existing is not None and self.existing.public_key is not None
        if public_key is None:
            if not keeps_key:
                errors["public_key"] = "Load the vendor's RSA public key (a PEM file)."
        else:
            try:
                read_vendor_key(public_key.data)
            except BadInput as e:
                errors["public_key"] = f"{public_key.name}: {e.user_message()}"
        if scheme not in SIGNATURE_SCHEMES:
            errors["scheme"] = "Choose the scheme the vendor signs with."
        if form not in SIGNED_FORMS:
            errors["form"] = "Choose what the vendor signs: the host key as SPKI or PKCS #1 DER."
        return errors

    def set_details(
        self,
        *,
        partner: str | None,
        public_key: LoadedFile | None,
        scheme: str | None,
        form: str | None,
    ) -> None:
        errors = self.validate_details(
            partner=partner, public_key=public_key, scheme=scheme, form=form
        )
        if errors:
            raise FlowError(errors)
        if self.style == "certificate":
            found = self.data.partner(partner)
            assert found is not None
            self.partner, self.public_key, self.scheme, self.form = found.name, None, None, None
        else:
            self.partner, self.public_key, self.scheme, self.form = None, public_key, scheme, form

    # review and save

    def vendor_key_fingerprint(self) -> str | None:
        if self.public_key is not None:
            return fingerprint(read_vendor_key(self.public_key.data)[1])
        if self.existing is not None:
            return self.existing.vendor_key_fingerprint
        return None

    def review_rows(self) -> list[tuple[str, str]]:
        if self.style is None or self.template is None:
            return []
        rows = [
            ("Vendor", self.name),
            (
                "Profile",
                f"changed (now version {self.existing.version})" if self.existing else "new",
            ),
            ("Style", VENDOR_STYLES[self.style]),
            ("Template", f"{self.template.name} ({self.template.algorithm.value})"),
        ]
        if self.style == "certificate":
            rows.append(("Vendor CA (partner)", self.partner or ""))
        else:
            rows += [
                ("Vendor key SHA-256", self.vendor_key_fingerprint() or ""),
                ("Signature scheme", SIGNATURE_SCHEMES.get(self.scheme or "", "")),
                ("What is signed", SIGNED_FORMS.get(self.form or "", "")),
            ]
        if self.notes:
            rows.append(("Notes", self.notes))
        return rows + self._quorum_rows()

    def summary(self) -> str:
        if self.existing is not None:
            return f"Change the ATM vendor profile {self.name}."
        return f"Add {self.name}, a {self.style} vendor, for remote key loading."

    @property
    def quorum_template(self) -> str | None:
        return None  # the partner-management quorum is the policy's

    def save(self, add: AddVendor, update: UpdateVendor) -> AtmVendor:
        self._check(VendorStep.PROFILE, VendorStep.DETAILS)
        assert self.style is not None and self.template is not None
        key = self.public_key.data if self.public_key is not None else None
        if self.existing is None:
            return add(
                self.name,
                self.style,
                template=self.template.name,
                partner=self.partner,
                public_key=key,
                signature_scheme=self.scheme,
                signed_form=self.form,
                notes=self.notes,
            )
        old = self.existing
        return update(
            old.name,
            template=self.template.name if self.template.id != old.template_id else None,
            partner=self.partner if self.partner != old.partner else None,
            public_key=key,
            signature_scheme=self.scheme if self.scheme != old.signature_scheme else None,
            signed_form=self.form if self.form != old.signed_form else None,
            notes=self.notes if self.notes != old.notes else None,
        )

    def record_result(self, result: AtmVendor) -> None:
        self.result = result
        self.finish(VendorStep.RESULT)

    def result_rows(self) -> list[tuple[str, str]]:
        v = self.result
        if v is None:
            return []
        rows = [("Vendor", v.name), ("Style", v.style), ("Template", v.template_name)]
        if v.style == "certificate":
            rows.append(("Vendor CA (partner)", v.partner or ""))
        else:
            rows.append(("Vendor key SHA-256", v.vendor_key_fingerprint or ""))
        rows.append(("Profile version", str(v.version)))
        return rows

    def result_summary(self) -> str:
        if self.result is None:
            return "The profile has not been saved yet."
        return (
            f"The ATM vendor profile {self.result.name} is saved. Make its host keys with the "
            "RKL host key wizard."
        )

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is VendorStep.PROFILE:
            if self.style is None or self.template is None:
                return {"name": "Give the vendor's name, style and template."}
            return {}
        if step is VendorStep.DETAILS:
            return self.validate_details(
                partner=self.partner, public_key=self.public_key, scheme=self.scheme, form=self.form
            )
        if step is VendorStep.SAVE and self.result is None:
            return {"result": "The profile has not been saved yet."}
        return {}


# --- host keys -------------------------------------------------------------------------------


class HostKeyStep(StrEnum):
    START = "start"
    CREATE = "create"
    SEND = "send"
    RECEIVE = "receive"
    IMPORT = "import"
    RESULT = "result"


class HostKeyMode(StrEnum):
    NEW = "new"  # make a host key for a vendor
    CONTINUE = "continue"  # take up a host key made earlier


class CreateHostKey(Protocol):
    """``RklService.create_host_key`` with the session bound."""

    def __call__(self, vendor: str, *, label: str | None) -> HostKey: ...


class MakeRequest(Protocol):
    """``RklService.request`` with the session bound."""

    def __call__(self, key_ref: str, profile: pkix.Profile) -> CertificateRequest: ...


class MakeMaterial(Protocol):
    """``RklService.material_to_sign`` with the session bound."""

    def __call__(self, key_ref: str) -> bytes: ...


class ImportCertificate(Protocol):
    def __call__(self, key_ref: str, data: bytes, *, chain: Sequence[bytes]) -> HostKey: ...


class ImportSignature(Protocol):
    def __call__(self, key_ref: str, signature: bytes) -> HostKey: ...


class HostKeyFlow(_RklFlow):
    """A host key for a vendor: created under its template's quorum; the request for the
    vendor's CA or the material the vendor signs, under the certificate quorum; then the
    vendor's answer imported and checked. A host key made earlier is taken up where it
    stopped (the vendor's answer may take days)."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        HostKeyStep.START: _step(
            "A new host key, or one made earlier",
            "Make the host's key pair for an ATM vendor, or take up a host key still waiting "
            "for its certificate or signature (or one whose certificate is renewed).",
            "mode",
            "vendor",
            "label",
            "host_key",
        ),
        HostKeyStep.CREATE: _step(
            "Make the host key",
            "The key pair is generated in the HSM from the vendor's template, under the "
            "template's generation quorum. Its private key never leaves the HSM unwrapped.",
            "requirement",
        ),
        HostKeyStep.SEND: _step(
            "What goes to the vendor",
            "A certificate vendor gets a certificate request signed by the host key in the "
            "HSM; a signature vendor gets the host's public key in the form it signs. Save it "
            "and send it to the vendor.",
            "subject",
            "sent",
        ),
        HostKeyStep.RECEIVE: _step(
            "The vendor's answer",
            "Load the certificate the vendor's CA issued, or the vendor's signature. It is "
            "checked before anything is kept.",
            "answer",
        ),
        HostKeyStep.IMPORT: _step("Importing", "The answer is checked and kept.", "result"),
        HostKeyStep.RESULT: _step(
            "Host key ready",
            "Make the bundle for the host HSM with the RKL bundle wizard.",
        ),
    }

    def __init__(self, data: RklData | None = None) -> None:
        super().__init__(HostKeyStep.START, data)
        self.mode: HostKeyMode | None = None
        self.vendor: AtmVendor | None = None
        self.label: str | None = None
        self.host: HostKey | None = None
        self.answer_here = True
        self.profile: pkix.Profile | None = None
        self.request: CertificateRequest | None = None
        self.material: bytes | None = None
        self.certificate: LoadedFile | None = None
        self.chain: tuple[LoadedFile, ...] = ()
        self.signature: LoadedFile | None = None
        self.result: HostKey | None = None

    # choices

    def vendor_names(self) -> list[str]:
        return _sorted_names(v.name for v in self.data.vendors)

    def host_keys(self) -> list[HostKey]:
        """Host keys that may still be certified or signed."""
        return sorted(
            (
                h
                for h in self.data.host_keys
                if h.key.state in (KeyState.PRE_ACTIVATION, KeyState.ACTIVE)
            ),
            key=lambda h: h.key.label.casefold(),
        )

    @property
    def style(self) -> str | None:
        if self.host is not None:
            return self.host.link.style
        return self.vendor.style if self.vendor is not None else None

    # start

    def validate_start(
        self,
        *,
        mode: HostKeyMode | None,
        vendor: str | None,
        label: str | None,
        host_key: str | None,
    ) -> FieldErrors:
        if mode is HostKeyMode.NEW:
            errors: FieldErrors = {}
            if not (vendor or "").strip():
                errors["vendor"] = (
                    "Choose the ATM vendor the host key is for."
                    if self.data.vendors
                    else "There is no ATM vendor profile yet: add one with the ATM vendor "
                    "profile wizard first."
                )
            else:
                found = self.data.vendor(vendor)
                if found is None:
                    errors["vendor"] = f"No ATM vendor profile named {vendor!r}."
                else:
                    template = self.data.template_by_id(found.template_id)
                    problem = (
                        template_refusal(template)
                        if template is not None
                        else f"The template of {found.name} is missing."
                    )
                    if problem:
                        errors["vendor"] = problem
            errors.update(validate_label(label))
            text = (label or "").strip()
            taken = {k.label for k in self.data.keys} | {h.key.label for h in self.data.host_keys}
            if text and text in taken:
                errors["label"] = f"A key labelled {text!r} already exists."
            return errors
        if mode is HostKeyMode.CONTINUE:
            if not (host_key or "").strip():
                return {"host_key": "Choose the host key to take up."}
            host = self.data.host_key(host_key)
            if host is None or host not in self.host_keys():
                return {"host_key": f"No pre-active or active RKL host key labelled {host_key!r}."}
            return {}
        return {"mode": "Choose whether to make a new host key or take up one made earlier."}

    def set_start(
        self,
        *,
        mode: HostKeyMode | None,
        vendor: str | None,
        label: str | None,
        host_key: str | None,
        answer_here: bool = True,
    ) -> None:
        errors = self.validate_start(mode=mode, vendor=vendor, label=label, host_key=host_key)
        if errors:
            raise FlowError(errors)
        self.mode = mode
        if mode is HostKeyMode.NEW:
            self.vendor = self.data.vendor(vendor)
            self.label = (label or "").strip() or None
            self.host = None
        else:
            self.host = self.data.host_key(host_key)
            assert self.host is not None
            self.vendor = self.host.vendor
            self.answer_here = answer_here
        self.request, self.material, self.result = None, None, None
        self.requirement = None

    def next_step(self, step: Any = None) -> HostKeyStep | None:
        step = step or self.step
        if step is HostKeyStep.START:
            if self.mode is HostKeyMode.CONTINUE:
                return HostKeyStep.RECEIVE if self.answer_here else HostKeyStep.SEND
            return HostKeyStep.CREATE
        following: HostKeyStep | None = super().next_step(step)
        return following

    # create

    @property
    def quorum_template(self) -> str | None:
        """The template whose quorums apply (its id)."""
        if self.host is not None:
            return self.host.key.template_id
        return self.vendor.template_id if self.vendor is not None else None

    @property
    def action(self) -> Action:
        """The action the current step's work takes the quorum of."""
        return (
            Action.GENERATE_KEY if self.step is HostKeyStep.CREATE else Action.MANAGE_CERTIFICATES
        )

    def create_rows(self) -> list[tuple[str, str]]:
        if self.vendor is None:
            return []
        template = self.data.template_by_id(self.vendor.template_id)
        rows = [
            ("Vendor", f"{self.vendor.name} ({self.vendor.style})"),
            ("Template", template.name if template else self.vendor.template_name),
        ]
        if template is not None:
            rows += [
                ("Algorithm", template.algorithm.value),
                (
                    "TR-31",
                    f"usage {template.key_usage}, mode {template.mode_of_use}, "
                    f"export {template.exportability}",
                ),
            ]
        rows.append(("Label", self.label or "from the template's pattern"))
        return rows + self._quorum_rows()

    def create(self, call: CreateHostKey) -> HostKey:
        self._check(HostKeyStep.START)
        assert self.vendor is not None
        return call(self.vendor.name, label=self.label)

    def record_created(self, host: HostKey) -> None:
        self.host = host
        self.vendor = host.vendor
        self.requirement = None
        self.finish(HostKeyStep.SEND)

    # send

    @staticmethod
    def validate_subject(subject: str, dns_names: str = "") -> FieldErrors:
        if not subject.strip():
            return {
                "subject": 'Type the subject the vendor asks for, e.g. "CN=RKL host 1,O=Bank,C=GB".'
            }
        try:
            pkix.Profile(subject=subject.strip(), dns_names=tuple(dns_names.split()))
        except pkix.PkixError as e:
            return {"subject": str(e)}
        return {}

    def set_subject(self, subject: str, dns_names: str = "") -> None:
        errors = self.validate_subject(subject, dns_names)
        if errors:
            raise FlowError(errors)
        self.profile = pkix.Profile(subject=subject.strip(), dns_names=tuple(dns_names.split()))

    def make_request(self, call: MakeRequest) -> CertificateRequest:
        if self.host is None or self.profile is None:
            raise FlowError({"subject": "Type the subject first."})
        return call(self.host.key.label, self.profile)

    def make_material(self, call: MakeMaterial) -> bytes:
        if self.host is None:
            raise FlowError({"sent": "Choose or make the host key first."})
        return call(self.host.key.label)

    def sent_name(self) -> str:
        """The file name to suggest for what goes to the vendor."""
        if self.host is None:
            return "host-key.csr"
        label = _safe(self.host.key.label)
        if self.style == "certificate":
            return f"{label}.csr"
        return f"{label}-{self.host.vendor.signed_form or 'public-key'}.der"

    def record_sent(self, sent: CertificateRequest | bytes) -> None:
        if isinstance(sent, CertificateRequest):
            self.request = sent
        else:
            self.material = sent

    def sent_file(self) -> tuple[bytes, str, str] | None:
        """(data, suggested name, what it is) of what goes to the vendor, once made."""
        if self.host is None:
            return None
        if self.request is not None:
            return self.request.pem.encode(), self.sent_name(), "certificate request"
        if self.material is not None:
            return self.material, self.sent_name(), "public key to sign"
        return None

    def sent_summary(self) -> str:
        if self.request is not None:
            return (
                f"Certificate request for {self.request.key_label} ({self.request.subject}), "
                f"SHA-256 {self.request.sha256}."
            )
        if self.material is not None and self.host is not None:
            form = self.host.vendor.signed_form or ""
            return (
                f"The public key of {self.host.key.label} as {SIGNED_FORMS.get(form, form)}, "
                f"{len(self.material)} bytes."
            )
        return ""

    # receive

    def validate_answer(
        self,
        *,
        certificate: LoadedFile | None = None,
        chain: Sequence[LoadedFile] = (),
        signature: LoadedFile | None = None,
    ) -> FieldErrors:
        if self.style == "certificate":
            if certificate is None:
                return {"answer": "Load the certificate the vendor's CA issued for the host key."}
            try:
                pkix.read_certificates(certificate.data)
                for extra in chain:
                    pkix.read_certificates(extra.data)
            except pkix.PkixError as e:
                return {"answer": str(e)}
            return {}
        if signature is None:
            return {"answer": "Load the vendor's signature of the host key."}
        vendor = self.host.vendor if self.host is not None else self.vendor
        if vendor is not None and vendor.public_key is not None:
            size = (read_vendor_key(vendor.public_key)[0].key_size + 7) // 8
            got = len(read_signature(signature.data))
            if got != size:
                return {
                    "answer": f"{signature.name} holds {got} bytes; {vendor.name}'s key makes "
                    f"signatures of {size} bytes (raw, or as hex or base64 text)."
                }
        return {}

    def set_answer(
        self,
        *,
        certificate: LoadedFile | None = None,
        chain: Sequence[LoadedFile] = (),
        signature: LoadedFile | None = None,
    ) -> None:
        errors = self.validate_answer(certificate=certificate, chain=chain, signature=signature)
        if errors:
            raise FlowError(errors)
        self.certificate, self.chain, self.signature = certificate, tuple(chain), signature
        self.requirement = None

    def answer_rows(self) -> list[tuple[str, str]]:
        if self.host is None:
            return []
        rows = [("Host key", f"{self.host.key.label} ({self.host.vendor.name})")]
        if self.certificate is not None:
            rows.append(("Certificate", self.certificate.name))
            rows += [("Chain", f.name) for f in self.chain]
            rows.append(("Checked against", f"partner {self.host.vendor.partner}'s CAs and CRLs"))
        if self.signature is not None:
            rows.append(("Signature", self.signature.name))
            rows.append(("Checked with", f"{self.host.vendor.name}'s public key"))
        return rows + self._quorum_rows()

    def import_answer(self, certificate: ImportCertificate, signature: ImportSignature) -> HostKey:
        self._check(HostKeyStep.RECEIVE)
        assert self.host is not None
        label = self.host.key.label
        if self.style == "certificate":
            assert self.certificate is not None
            return certificate(label, self.certificate.data, chain=[f.data for f in self.chain])
        assert self.signature is not None
        return signature(label, read_signature(self.signature.data))

    def record_result(self, result: HostKey) -> None:
        self.result = result
        self.host = result
        self.finish(HostKeyStep.RESULT)

    def result_rows(self) -> list[tuple[str, str]]:
        h = self.result
        if h is None:
            return []
        rows = [
            ("Host key", h.key.label),
            ("Public key check value", h.key.kcv),
            ("Vendor", f"{h.vendor.name} ({h.link.style})"),
            ("Status", h.link.status.value),
        ]
        if h.certificate is not None:
            rows += [
                ("Certificate", f"{h.certificate.subject} (serial {h.certificate.serial})"),
                ("Valid to", f"{h.certificate.not_after:%Y-%m-%d}"),
                ("Fingerprint", h.certificate.fingerprint),
            ]
        if h.link.signature is not None:
            rows.append(("Signed form", SIGNED_FORMS.get(h.link.signed_form or "", "")))
        return rows

    def result_summary(self) -> str:
        if self.result is None:
            return "Nothing has been imported yet."
        return (
            f"Host key {self.result.key.label} is {self.result.link.status.value}: make the "
            "bundle for the host HSM with the RKL bundle wizard."
        )

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is HostKeyStep.START:
            if self.mode is None:
                return {
                    "mode": "Choose whether to make a new host key or take up one made earlier."
                }
            return {}
        if step is HostKeyStep.CREATE and self.host is None:
            return {"requirement": "The host key has not been made yet."}
        if step is HostKeyStep.SEND and self.request is None and self.material is None:
            return {"sent": "Make what goes to the vendor first."}
        if step is HostKeyStep.RECEIVE:
            return self.validate_answer(
                certificate=self.certificate, chain=self.chain, signature=self.signature
            )
        if step is HostKeyStep.IMPORT and self.result is None:
            return {"result": "The vendor's answer has not been imported yet."}
        return {}


# --- the bundle --------------------------------------------------------------------------------


class BundleStep(StrEnum):
    CHOOSE = "choose"
    REVIEW = "review"
    EXPORT = "export"
    RESULT = "result"


class ExportBundle(Protocol):
    """``RklService.export_bundle`` with the session bound."""

    def __call__(
        self, key_ref: str, kek_ref: str, *, host_partner: str, version: str | None
    ) -> RklBundle: ...


class BundleFlow(_RklFlow):
    """The bundle for the host HSM: a ready host key's private key under a KEK shared with
    the host HSM, with the vendor's certificate chain or signature and a manifest."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        BundleStep.CHOOSE: _step(
            "The host key, the KEK and the host HSM",
            "Only a ready host key (certified or signed by its vendor) that its template lets "
            "leave goes to the host HSM, under an active KEK (TR-31 usage K0 or K1) at least "
            "as strong as the key.",
            "host_key",
            "kek",
            "partner",
        ),
        BundleStep.REVIEW: _step(
            "Review and make the bundle",
            "The bundle takes the export quorum of the host key's template. Missing people "
            "are asked for their cards when you press Make bundle.",
            "requirement",
        ),
        BundleStep.EXPORT: _step("Making the bundle", "The private key is wrapped.", "result"),
        BundleStep.RESULT: _step(
            "Bundle made",
            "Save the bundle and send it to the host HSM's operators; its SHA-256 and the "
            "KEK's check value go by another channel.",
        ),
    }

    def __init__(self, data: RklData | None = None) -> None:
        super().__init__(BundleStep.CHOOSE, data)
        self.host: HostKey | None = None
        self.kek: ManagedKey | None = None
        self.partner: str | None = None
        self.result: RklBundle | None = None

    def host_keys(self) -> list[HostKey]:
        """The ready host keys that may leave."""
        return [
            h
            for h in sorted(self.data.host_keys, key=lambda h: h.key.label.casefold())
            if bundle_refusal(h, self.data.template_by_id(h.key.template_id)) is None
        ]

    def keks(self) -> list[ManagedKey]:
        return sorted(
            (k for k in self.data.keys if kek_refusal(k) is None), key=lambda k: k.label.casefold()
        )

    def host_partners(self) -> list[str]:
        return self.data.partner_names(HOST_PARTNER_KIND)

    @staticmethod
    def version(kek: ManagedKey | None) -> str | None:
        return BUNDLE_VERSIONS.get(kek.algorithm.family) if kek is not None else None

    def validate_choice(
        self, *, host_key: str | None, kek: str | None, partner: str | None
    ) -> FieldErrors:
        errors: FieldErrors = {}
        host = self.data.host_key(host_key) if host_key else None
        if not (host_key or "").strip():
            errors["host_key"] = "Choose the host key to hand to the host HSM."
        elif host is None:
            errors["host_key"] = f"No RKL host key labelled {host_key!r}."
        else:
            problem = bundle_refusal(host, self.data.template_by_id(host.key.template_id))
            if problem:
                errors["host_key"] = problem
        the_kek = self.data.key(kek) if kek else None
        if not (kek or "").strip():
            errors["kek"] = "Choose the key encryption key shared with the host HSM."
        elif the_kek is None:
            errors["kek"] = f"No active key labelled {kek!r}."
        else:
            problem = kek_refusal(the_kek)
            if problem is None and host is not None:
                wrapping = algorithm_strength(the_kek.algorithm)
                wrapped = algorithm_strength(host.key.algorithm)
                if wrapping < wrapped:
                    problem = (
                        f"KEK {the_kek.label} ({the_kek.algorithm.value}, {wrapping}-bit "
                        f"strength) is weaker than host key {host.key.label} "
                        f"({host.key.algorithm.value}, {wrapped}-bit strength): a key travels "
                        "only under a KEK at least as strong (ANSI X9.143, PCI PIN 18-3)."
                    )
            if problem:
                errors["kek"] = problem
        if not (partner or "").strip():
            errors["partner"] = (
                "Choose the host HSM the bundle goes to."
                if self.host_partners()
                else "There is no host HSM partner yet: add one (kind host-hsm) on the "
                "Exchanges page first."
            )
        else:
            found = self.data.partner(partner)
            if found is None:
                errors["partner"] = f"No partner named {partner!r}."
            elif found.kind != HOST_PARTNER_KIND:
                errors["partner"] = (
                    f"Partner {found.name} is a {found.kind} partner; the bundle goes to a "
                    f"host HSM (kind {HOST_PARTNER_KIND})."
                )
        return errors

    def choose(self, *, host_key: str | None, kek: str | None, partner: str | None) -> None:
        errors = self.validate_choice(host_key=host_key, kek=kek, partner=partner)
        if errors:
            raise FlowError(errors)
        host = self.data.host_key(host_key)
        if self.host is None or host is None or host.key.template_id != self.host.key.template_id:
            self.requirement = None  # another template may need another quorum
        self.host, self.kek = host, self.data.key(kek)
        found = self.data.partner(partner)
        assert found is not None
        self.partner = found.name

    @property
    def quorum_template(self) -> str | None:
        return self.host.key.template_id if self.host is not None else None

    def review_rows(self) -> list[tuple[str, str]]:
        host, kek = self.host, self.kek
        if host is None or kek is None:
            return []
        vouching = (
            "the certificate chain to the vendor's CA"
            if host.link.style == "certificate"
            else "the vendor's signature, what it signs and the vendor's public key"
        )
        return [
            ("Host HSM", self.partner or ""),
            ("Host key", f"{host.key.label} ({host.key.algorithm.value}, {_state(host.key)})"),
            ("Public key check value", host.key.kcv),
            ("Vendor", f"{host.vendor.name} ({host.link.style})"),
            ("KEK", f"{kek.label} ({kek.algorithm.value}, usage {kek.key_usage})"),
            ("KEK check value", kek.kcv),
            ("Key block", f"TR-31 version {self.version(kek)}, algorithm R, PKCS #8 private key"),
            ("With it", vouching + ", the host public key and a manifest"),
            *self._quorum_rows(),
        ]

    def summary(self) -> str:
        if self.host is None or self.kek is None:
            return ""
        return (
            f"Make the RKL bundle of host key {self.host.key.label} for {self.partner}, its "
            f"private key under KEK {self.kek.label} (KCV {self.kek.kcv})."
        )

    def export(self, call: ExportBundle) -> RklBundle:
        self._check(BundleStep.CHOOSE)
        assert self.host is not None and self.kek is not None and self.partner is not None
        return call(self.host.key.label, self.kek.label, host_partner=self.partner, version=None)

    def record_result(self, result: RklBundle) -> None:
        self.result = result
        self.finish(BundleStep.RESULT)

    def result_rows(self) -> list[tuple[str, str]]:
        r = self.result
        if r is None:
            return []
        return [
            ("Host key", r.key_label),
            ("Public key check value", r.key_kcv),
            ("Vendor", f"{r.vendor} ({r.style})"),
            ("Host HSM", r.partner),
            ("Format", r.format),
            ("Header", r.header),
            ("KEK", r.kek_label),
            ("KEK check value", r.kek_kcv),
            ("Bundle SHA-256", r.sha256),
        ]

    def file_rows(self) -> list[tuple[str, str]]:
        return list(self.result.files) if self.result else []

    def result_summary(self) -> str:
        if self.result is None:
            return "The bundle has not been made yet."
        return (
            f"The bundle of host key {self.result.key_label} for {self.result.partner} is made "
            f"({len(self.result.files) + 1} files). Nothing is on disk until you save it."
        )

    def reminder(self) -> str:
        if self.result is None:
            return ""
        return (
            f"Tell {self.result.partner} the bundle's SHA-256 and the KEK's check value "
            f"{self.result.kek_kcv} by another channel, never with the bundle itself."
        )

    def file_data(self) -> bytes:
        return self.result.data if self.result else b""

    def file_name(self) -> str:
        return self.result.file_name if self.result else "rkl-bundle.zip"

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is BundleStep.CHOOSE:
            return self.validate_choice(
                host_key=self.host.key.label if self.host else None,
                kek=self.kek.label if self.kek else None,
                partner=self.partner,
            )
        if step is BundleStep.EXPORT and self.result is None:
            return {"result": "The bundle has not been made yet."}
        return {}


def key_lines(keys: Iterable[ManagedKey]) -> list[tuple[str, str]]:
    """(text, label) items of a list of keys."""
    return [(key_line(k), k.label) for k in keys]


def host_key_lines(hosts: Iterable[HostKey]) -> list[tuple[str, str]]:
    """(text, label) items of a list of host keys."""
    return [(host_key_line(h), h.key.label) for h in hosts]
