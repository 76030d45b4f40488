"""The EMV issuer key wizards as plain Python: issuer keys for a list of BINs in one job, the
request to the brand, and the brand's issuer certificate imported.

Each wizard is a flow over named steps, as in :mod:`workstation.flows.wizards`: a
``validate_*`` method says what is wrong with a step's input, by field; the matching
``set_*``/``choose`` method stores accepted input (or raises
:class:`~workstation.flows.wizards.FlowError`); ``advance()`` and ``back()`` move between
steps. The EMV service is reached only through callables passed in (the service with the
session bound), so the Qt wizards run them on the device thread and the tests pass fakes.
The service checks every rule again when the work runs (the quorum, the BINs, the brand's
CA key, the certificate): a flow only catches input mistakes early, next to their field.

- :class:`IssuerKeysFlow`: a brand, a key pair template and a list of BINs; the job with
  progress that may be cancelled between BINs.
- :class:`IssuerRequestFlow`: the request file of one BIN's issuer key, to save.
- :class:`ImportCertificateFlow`: the brand's certificate, remainder and exponent, checked.

No key material passes through these flows: labels, check values, public keys and
certificates only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from workstation.domain.algorithms import KeyFamily
from workstation.domain.emv_keys import (
    EmvCaKey,
    IssuerKeySet,
    bin_lines,
    binary_or_hex,
    check_bins,
    month_end,
    parse_ca_index,
    parse_exponent,
    parse_hex,
    parse_month_year,
    parse_serial,
)
from workstation.domain.partners import Partner
from workstation.domain.templates import KeyTemplate, TemplateStatus
from workstation.errors import BadInput
from workstation.flows.wizards import (
    FieldErrors,
    FlowError,
    QuorumShown,
    StepInfo,
    _Flow,
)
from workstation.services.emv import (
    ISSUER_TEMPLATE,
    MASTER_KEY_TEMPLATES,
    MAX_ISSUER_BITS,
    IssuerKeyJob,
)
from workstation.services.logon import Requirement

__all__ = [
    "EXPONENTS",
    "EmvData",
    "ImportCertificateFlow",
    "ImportStep",
    "IssuerKeysFlow",
    "IssuerKeysStep",
    "IssuerRequestFlow",
    "RequestStep",
]

EXPONENTS: tuple[tuple[int, str], ...] = ((65537, "010001 (65537)"), (3, "03 (3)"))
_SHOWN_BINS = 20


@dataclass(frozen=True)
class EmvData:
    """What the EMV wizards choose from, read in one go when a wizard opens: the brands,
    their CA keys, the templates, and the issuer key sets in use."""

    brands: tuple[Partner, ...] = ()
    ca_keys: tuple[EmvCaKey, ...] = ()
    templates: tuple[KeyTemplate, ...] = ()
    key_sets: tuple[IssuerKeySet, ...] = ()
    truncated: bool = False  # as the exchange wizards' data: nothing here is cut short

    def brand(self, name: str | None) -> Partner | None:
        wanted = (name or "").strip().casefold()
        return next((p for p in self.brands if p.name.casefold() == wanted), None)

    @property
    def brand_names(self) -> list[str]:
        return sorted((p.name for p in self.brands), key=str.casefold)

    def template(self, name: str | None) -> KeyTemplate | None:
        wanted = (name or "").strip().casefold()
        return next((t for t in self.templates if t.name.casefold() == wanted), None)

    def key_set(self, bin: str | None) -> IssuerKeySet | None:
        wanted = (bin or "").strip()
        return next((s for s in self.key_sets if s.bin == wanted), None)

    def ca_keys_of(self, brand_id: str) -> list[EmvCaKey]:
        return sorted((k for k in self.ca_keys if k.partner_id == brand_id), key=lambda k: k.index)

    def ca_key(self, brand_id: str, index: int) -> EmvCaKey | None:
        return next((k for k in self.ca_keys_of(brand_id) if k.index == index), None)


def _step(title: str, subtitle: str, *needs: str) -> StepInfo:
    return StepInfo(title, subtitle, tuple(needs))


def _brand_errors(data: EmvData, name: str | None) -> FieldErrors:
    if not (name or "").strip():
        if not data.brands:
            return {
                "brand": "There is no card brand yet: add the brand as an exchange partner of "
                "kind 'brand' on the Exchanges page."
            }
        return {"brand": "Choose the card brand."}
    if data.brand(name) is None:
        return {"brand": f"No card brand named {name!r}."}
    return {}


def _message(e: BadInput) -> str:
    return e.user_message()


class _EmvFlow(_Flow[Any], QuorumShown):
    """What the EMV wizards share: the data they choose from, the quorum they show."""

    def __init__(self, first: Any, data: EmvData | None = None) -> None:
        super().__init__(first)
        self.data = data or EmvData()
        self.requirement: Requirement | None = None

    def load(self, data: EmvData) -> None:
        self.data = data

    def _quorum_rows(self) -> list[tuple[str, str]]:
        return [] if self.requirement is None else [("Quorum", self.requirement.quorum)]

    def finish(self, result_step: Any) -> None:
        """Go to the result step (the work is done)."""
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

    def _chosen_set(self, bin: str | None, *, requested: bool = False) -> FieldErrors:
        if not (bin or "").strip():
            if not self.data.key_sets:
                return {
                    "bin": "No BIN has issuer keys yet: make them first (EMV issuer keys for BINs)."
                }
            return {"bin": "Choose the BIN."}
        key_set = self.data.key_set(bin)
        if key_set is None:
            return {"bin": f"BIN {bin} has no issuer key set in use."}
        if requested and key_set.request is None:
            return {
                "bin": f"No certificate was requested for BIN {key_set.bin} yet: make the "
                "request first (Request issuer certificate)."
            }
        return {}


# --- issuer keys for BINs ------------------------------------------------------------------------


class IssuerKeysStep(StrEnum):
    CHOOSE = "choose"
    BINS = "bins"
    REVIEW = "review"
    RUN = "run"
    RESULT = "result"


class CreateIssuerKeys(Protocol):
    """``EmvService.create_issuer_keys`` with the session bound."""

    def __call__(
        self,
        bins: Sequence[str],
        *,
        brand: str,
        template: str,
        master_key_templates: Sequence[str],
        progress: Callable[[int, int], None] | None,
        cancelled: Callable[[], bool] | None,
    ) -> IssuerKeyJob: ...


class IssuerKeysFlow(_EmvFlow):
    """For each BIN of a list, an issuer key pair and the issuer master keys, in one job."""

    STEPS: ClassVar[dict[Any, StepInfo]] = {
        IssuerKeysStep.CHOOSE: _step(
            "The brand and the key pair",
            "The brand whose CA will certify the issuer keys, and the template of the issuer "
            "key pairs (RSA of at most 1984 bits, EMV Book 2 Annex B2.1). The issuer master "
            "keys (AC, SMI, SMC) come from their templates.",
            "brand",
            "template",
        ),
        IssuerKeysStep.BINS: _step(
            "The BINs",
            "6 or 8 digits each, one a line (or separated by commas); # starts a comment. A "
            "BIN whose issuer keys are still in use is refused.",
            "bins",
        ),
        IssuerKeysStep.REVIEW: _step(
            "Review and start",
            "The job takes the templates' generation quorum once. Cancel stops it between "
            "BINs; each BIN made is complete and audited.",
            "requirement",
        ),
        IssuerKeysStep.RUN: _step(
            "Generating", "The keys of each BIN are made in the HSM.", "result"
        ),
        IssuerKeysStep.RESULT: _step(
            "Issuer keys made",
            "Next: request each BIN's issuer certificate from the brand (Request issuer "
            "certificate).",
        ),
    }

    def __init__(self, data: EmvData | None = None) -> None:
        super().__init__(IssuerKeysStep.CHOOSE, data)
        self.brand: str | None = None
        self.template: KeyTemplate | None = None
        self.master_templates: tuple[str, ...] = MASTER_KEY_TEMPLATES
        self.bins: list[str] = []
        self.progress: tuple[int, int] | None = None
        self.result: IssuerKeyJob | None = None

    def key_pair_templates(self) -> list[KeyTemplate]:
        """The active RSA templates short enough for EMV, the seed template first."""
        found = [
            t
            for t in self.data.templates
            if t.status is TemplateStatus.ACTIVE
            and t.algorithm.family is KeyFamily.RSA
            and t.algorithm.bits <= MAX_ISSUER_BITS
        ]
        return sorted(found, key=lambda t: (t.name != ISSUER_TEMPLATE, t.name.casefold()))

    def validate_choice(self, *, brand: str | None, template: str | None) -> FieldErrors:
        errors = _brand_errors(self.data, brand)
        if not (template or "").strip():
            errors["template"] = "Choose the template of the issuer key pairs."
        elif (t := self.data.template(template)) is None or t not in self.key_pair_templates():
            errors["template"] = (
                f"Template {template!r} is not an active RSA template of at most "
                f"{MAX_ISSUER_BITS} bits."
            )
        missing = [n for n in self.master_templates if self.data.template(n) is None]
        if missing:
            errors["template"] = (
                f"The issuer master key template{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} {'are' if len(missing) > 1 else 'is'} missing."
            )
        return errors

    def choose(self, *, brand: str | None, template: str | None) -> None:
        errors = self.validate_choice(brand=brand, template=template)
        if errors:
            raise FlowError(errors)
        chosen = self.data.template(template)
        if self.template is None or chosen is None or chosen.id != self.template.id:
            self.requirement = None  # another template may need another quorum
        the_brand = self.data.brand(brand)
        assert the_brand is not None
        self.brand, self.template = the_brand.name, chosen

    @property
    def quorum_template(self) -> str | None:
        """The key pair template: its generation quorum is asked for (the service checks
        each template's)."""
        return self.template.id if self.template else None

    def _parse(self, text: str) -> tuple[list[str], FieldErrors]:
        lines = bin_lines(text)
        if not lines:
            return [], {"bins": "Type or load the BINs, one a line."}
        try:
            bins = check_bins(lines)
        except BadInput as e:
            return [], {"bins": _message(e)}
        taken = [b for b in bins if self.data.key_set(b) is not None]
        if taken:
            shown = ", ".join(taken[:_SHOWN_BINS]) + (" …" if len(taken) > _SHOWN_BINS else "")
            return [], {
                "bins": f"BIN {shown} already {'has' if len(taken) == 1 else 'have'} issuer "
                "keys in use."
            }
        return bins, {}

    def validate_bins(self, text: str) -> FieldErrors:
        return self._parse(text)[1]

    def set_bins(self, text: str) -> None:
        bins, errors = self._parse(text)
        if errors:
            raise FlowError(errors)
        self.bins = bins

    def review_rows(self) -> list[tuple[str, str]]:
        if self.template is None or not self.bins:
            return []
        shown = ", ".join(self.bins[:_SHOWN_BINS])
        if len(self.bins) > _SHOWN_BINS:
            shown += f" and {len(self.bins) - _SHOWN_BINS:,} more"
        return [
            ("Brand", self.brand or ""),
            ("BINs", f"{len(self.bins):,}: {shown}"),
            ("Issuer key pair", f"{self.template.name} ({self.template.algorithm.value})"),
            ("Master keys", ", ".join(self.master_templates)),
            ("Keys made", f"{len(self.bins) * (1 + len(self.master_templates)):,}"),
            *self._quorum_rows(),
        ]

    def summary(self) -> str:
        n = len(self.bins)
        return (
            f"Make the issuer keys of {n:,} BIN{'s' if n != 1 else ''} for {self.brand}: per "
            f"BIN a key pair and {len(self.master_templates)} master keys, in the HSM."
        )

    @property
    def cancellable(self) -> bool:
        return True

    def run(
        self,
        call: CreateIssuerKeys,
        *,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> IssuerKeyJob:
        self._check(IssuerKeysStep.CHOOSE, IssuerKeysStep.BINS)
        assert self.brand is not None and self.template is not None

        def seen(done: int, total: int) -> None:
            self.progress = (done, total)
            if progress is not None:
                progress(done, total)

        return call(
            list(self.bins),
            brand=self.brand,
            template=self.template.name,
            master_key_templates=self.master_templates,
            progress=seen,
            cancelled=cancelled,
        )

    def record_result(self, result: IssuerKeyJob) -> None:
        self.result = result
        self.finish(IssuerKeysStep.RESULT)

    @property
    def stopped(self) -> bool:
        return self.result is not None and self.result.stopped is not None

    def result_rows(self) -> list[tuple[str, str]]:
        r = self.result
        if r is None:
            return []
        rows = [("Brand", r.brand), ("BINs made", f"{len(r.made):,}")]
        if r.not_made:
            rows.append(("Not made", ", ".join(r.not_made)))
        return rows

    def result_summary(self) -> str:
        r = self.result
        if r is None:
            return "No issuer key was made yet."
        total = len(r.made) + len(r.not_made)
        if r.stopped:
            return (
                f"The job stopped ({r.stopped}) after {len(r.made):,} of {total:,} BINs. The "
                "BINs made are complete and audited; start a new job for the others."
            )
        return f"The issuer keys of {total:,} BIN{'s' if total != 1 else ''} are made, pre-active."

    def key_rows(self) -> list[tuple[str, str, str, str]]:
        """(BIN, key pair, its check value, master keys) of each BIN made."""
        if self.result is None:
            return []
        return [
            (s.bin, s.key_pair_label, s.key_pair_kcv, ", ".join(m.label for m in s.master_keys))
            for s in self.result.made
        ]

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is IssuerKeysStep.CHOOSE:
            return self.validate_choice(
                brand=self.brand, template=self.template.name if self.template else None
            )
        if step is IssuerKeysStep.BINS:
            return (
                self.validate_bins("\n".join(self.bins))
                if self.bins
                else {"bins": "Type or load the BINs, one a line."}
            )
        if step is IssuerKeysStep.RUN and self.result is None:
            return {"result": "No issuer key was made yet."}
        return {}


# --- the request to the brand --------------------------------------------------------------------


class RequestStep(StrEnum):
    CHOOSE = "choose"
    REVIEW = "review"
    RESULT = "result"


class MakeRequest(Protocol):
    """``EmvService.issuer_request`` with the session bound."""

    def __call__(
        self, bin: str, *, ca_index: int | str, expiry: str, serial: str | None
    ) -> bytes: ...


class IssuerRequestFlow(_EmvFlow):
    """The request file for one BIN's issuer key, signed in the HSM by that key."""

    STEPS: ClassVar[dict[Any, StepInfo]] = {
        RequestStep.CHOOSE: _step(
            "The BIN and the certificate asked for",
            "The brand CA key to certify under (its modulus at least as long as the issuer "
            "key, EMV Book 2 5.1), the certificate's last month, and a serial number only "
            "where the brand has the issuer propose one.",
            "bin",
            "ca_index",
            "expiry",
            "serial",
        ),
        RequestStep.REVIEW: _step(
            "Review and sign",
            "The issuer private key signs the request inside the HSM (proof of possession).",
            "requirement",
        ),
        RequestStep.RESULT: _step(
            "Request made",
            "Save the file and send it to the brand; import the certificate it returns "
            "(Import issuer certificate).",
        ),
    }

    def __init__(self, data: EmvData | None = None, *, today: date | None = None) -> None:
        super().__init__(RequestStep.CHOOSE, data)
        self.today = today or date.today()
        self.key_set: IssuerKeySet | None = None
        self.ca_index: int | None = None
        self.expiry = ""  # MMYY
        self.serial: str | None = None
        self.result: bytes | None = None

    def ca_choices(self, bin: str | None) -> list[tuple[int, str]]:
        """(index, description) of the brand CA keys the BIN's issuer key fits under."""
        key_set = self.data.key_set(bin)
        if key_set is None:
            return []
        return [
            (k.index, f"{k.index:02X} — {k.modulus_length * 8} bits, expires {k.expires}")
            for k in self.data.ca_keys_of(key_set.brand_id)
            if k.modulus_length * 8 >= key_set.modulus_bits and k.expires >= self.today
        ]

    def validate_choice(
        self, *, bin: str | None, ca_index: int | None, expiry: str, serial: str
    ) -> FieldErrors:
        errors = self._chosen_set(bin)
        key_set = self.data.key_set(bin)
        ca: EmvCaKey | None = None
        if ca_index is None:
            errors["ca_index"] = "Choose the brand CA key to certify under."
        elif key_set is not None:
            ca = self.data.ca_key(key_set.brand_id, ca_index)
            if ca is None or ca_index not in dict(self.ca_choices(bin)):
                errors["ca_index"] = (
                    f"{key_set.brand} has no CA key index {ca_index:02X} the issuer key of "
                    f"{key_set.modulus_bits} bits fits under."
                )
        try:
            mmyy = parse_month_year(expiry)
            if month_end(mmyy) < self.today:
                errors["expiry"] = f"Expiry {expiry.strip()} is in the past."
            elif ca is not None and month_end(mmyy) > ca.expires:
                errors["expiry"] = (
                    f"The certificate cannot outlive the CA key (it expires {ca.expires})."
                )
        except BadInput as e:
            errors["expiry"] = _message(e)
        try:
            parse_serial(serial)
        except BadInput as e:
            errors["serial"] = _message(e)
        return errors

    def choose(self, *, bin: str | None, ca_index: int | None, expiry: str, serial: str) -> None:
        errors = self.validate_choice(bin=bin, ca_index=ca_index, expiry=expiry, serial=serial)
        if errors:
            raise FlowError(errors)
        chosen = self.data.key_set(bin)
        if self.key_set is None or chosen is None or chosen.id != self.key_set.id:
            self.requirement = None
        self.key_set, self.ca_index = chosen, ca_index
        self.expiry = parse_month_year(expiry)
        serial_bytes = parse_serial(serial)
        self.serial = serial_bytes.hex().upper() if serial_bytes else None

    @property
    def quorum_template(self) -> str | None:
        return self.key_set.key_pair_template_id if self.key_set else None

    def review_rows(self) -> list[tuple[str, str]]:
        s = self.key_set
        if s is None or self.ca_index is None:
            return []
        return [
            ("BIN", s.bin),
            ("Brand", s.brand),
            (
                "Issuer key pair",
                f"{s.key_pair_label} ({s.modulus_bits} bits, KCV {s.key_pair_kcv})",
            ),
            ("CA key index", f"{self.ca_index:02X}"),
            ("Expiry", f"{self.expiry[:2]}/{self.expiry[2:]}"),
            ("Serial number", self.serial or "assigned by the brand"),
            *self._quorum_rows(),
        ]

    def summary(self) -> str:
        return (
            f"Sign the request for the issuer key of BIN {self.key_set.bin} with that key in "
            "the HSM."
            if self.key_set
            else ""
        )

    def run(self, call: MakeRequest) -> bytes:
        self._check(RequestStep.CHOOSE)
        assert self.key_set is not None and self.ca_index is not None
        return call(
            self.key_set.bin,
            ca_index=self.ca_index,
            expiry=f"{self.expiry[:2]}/{self.expiry[2:]}",
            serial=self.serial,
        )

    def record_result(self, result: bytes) -> None:
        self.result = result
        self.finish(RequestStep.RESULT)

    def result_rows(self) -> list[tuple[str, str]]:
        if self.result is None or self.key_set is None:
            return []
        return [
            ("BIN", self.key_set.bin),
            ("File SHA-256", hashlib.sha256(self.result).hexdigest().upper()),
        ]

    def result_summary(self) -> str:
        if self.result is None:
            return "No request was made yet."
        return (
            "The request is signed and its SHA-256 is in the audit log; nothing is on disk "
            "until you save it."
        )

    def file_name(self) -> str:
        return f"emv-issuer-{self.key_set.bin if self.key_set else 'bin'}-request.json"

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is RequestStep.CHOOSE:
            return self.validate_choice(
                bin=self.key_set.bin if self.key_set else None,
                ca_index=self.ca_index,
                expiry=f"{self.expiry[:2]}/{self.expiry[2:]}",
                serial=self.serial or "",
            )
        if step is RequestStep.REVIEW and self.result is None:
            return {"result": "No request was made yet."}
        return {}


# --- the brand's certificate ---------------------------------------------------------------------


class ImportStep(StrEnum):
    CHOOSE = "choose"
    CERTIFICATE = "certificate"
    REVIEW = "review"
    RESULT = "result"


class ImportCertificate(Protocol):
    """``EmvService.import_issuer_certificate`` with the session bound."""

    def __call__(
        self,
        bin: str,
        certificate: bytes,
        *,
        remainder: bytes,
        exponent: int,
        ca_index: int | str,
    ) -> IssuerKeySet: ...


class ImportCertificateFlow(_EmvFlow):
    """The brand's Issuer Public Key Certificate for a BIN, checked before it is kept."""

    STEPS: ClassVar[dict[Any, StepInfo]] = {
        ImportStep.CHOOSE: _step("The BIN", "The BIN whose issuer key the brand certified.", "bin"),
        ImportStep.CERTIFICATE: _step(
            "The brand's answer",
            "The Issuer Public Key Certificate (tag 90, binary or hex), the remainder (tag "
            "92) where the key did not fit in it, the exponent (tag 9F32) and the CA key "
            "that signed it.",
            "certificate",
            "remainder",
            "exponent",
            "ca_index",
        ),
        ImportStep.REVIEW: _step(
            "Review and import",
            "The certificate is recovered with the brand's CA key (EMV Book 2 5.3) and must "
            "name this BIN, carry this key pair's public key and not have expired.",
            "requirement",
        ),
        ImportStep.RESULT: _step("Certificate kept", "The BIN's issuer key is certified."),
    }

    def __init__(self, data: EmvData | None = None) -> None:
        super().__init__(ImportStep.CHOOSE, data)
        self.key_set: IssuerKeySet | None = None
        self.certificate = b""
        self.certificate_name = ""
        self.remainder = b""
        self.exponent = 65537
        self.ca_index: int | None = None
        self.result: IssuerKeySet | None = None

    def requested_bins(self) -> list[str]:
        return sorted(s.bin for s in self.data.key_sets if s.request is not None)

    def validate_bin(self, bin: str | None) -> FieldErrors:
        return self._chosen_set(bin, requested=True)

    def choose(self, bin: str | None) -> None:
        errors = self.validate_bin(bin)
        if errors:
            raise FlowError(errors)
        chosen = self.data.key_set(bin)
        assert chosen is not None and chosen.request is not None
        if self.key_set is None or chosen.id != self.key_set.id:
            self.requirement = None
            self.ca_index = chosen.request.ca_index  # the index asked for, by default
        self.key_set = chosen

    @property
    def asked_index(self) -> int | None:
        request = self.key_set.request if self.key_set else None
        return request.ca_index if request else None

    def _read(
        self, certificate: bytes, remainder: str, exponent: int | None, ca_index: str
    ) -> tuple[tuple[bytes, bytes, int, int] | None, FieldErrors]:
        errors: FieldErrors = {}
        cert = rest = b""
        if not certificate:
            errors["certificate"] = "Load the certificate file the brand sent."
        else:
            try:
                cert = binary_or_hex(certificate, "certificate")
            except BadInput as e:
                errors["certificate"] = _message(e)
        if remainder.strip():
            try:
                rest = parse_hex(remainder, "remainder")
            except BadInput as e:
                errors["remainder"] = _message(e)
        value = 0
        try:
            value = parse_exponent(exponent if exponent is not None else "")
        except BadInput as e:
            errors["exponent"] = _message(e)
        index = -1
        try:
            index = parse_ca_index(ca_index)
        except BadInput as e:
            errors["ca_index"] = _message(e)
        else:
            asked = self.asked_index
            if asked is not None and index != asked:
                errors["ca_index"] = (
                    f"The request for BIN {self.key_set.bin if self.key_set else ''} asked for "
                    f"CA key index {asked:02X}; a certificate under another CA key is refused."
                )
        if errors:
            return None, errors
        return (cert, rest, value, index), {}

    def validate_certificate(
        self, *, certificate: bytes, remainder: str, exponent: int | None, ca_index: str
    ) -> FieldErrors:
        return self._read(certificate, remainder, exponent, ca_index)[1]

    def set_certificate(
        self,
        *,
        certificate: bytes,
        remainder: str,
        exponent: int | None,
        ca_index: str,
        name: str = "",
    ) -> None:
        read, errors = self._read(certificate, remainder, exponent, ca_index)
        if read is None:
            raise FlowError(errors)
        self.certificate, self.remainder, self.exponent, self.ca_index = read
        self.certificate_name = name

    @property
    def quorum_template(self) -> str | None:
        return self.key_set.key_pair_template_id if self.key_set else None

    def review_rows(self) -> list[tuple[str, str]]:
        s = self.key_set
        if s is None or self.ca_index is None or not self.certificate:
            return []
        return [
            ("BIN", s.bin),
            ("Brand", s.brand),
            ("Issuer key pair", f"{s.key_pair_label} (KCV {s.key_pair_kcv})"),
            ("Certificate", f"{len(self.certificate)} bytes {self.certificate_name}".strip()),
            ("Remainder", f"{len(self.remainder)} bytes" if self.remainder else "none"),
            ("Exponent", dict(EXPONENTS)[self.exponent]),
            ("CA key index", f"{self.ca_index:02X}"),
            *self._quorum_rows(),
        ]

    def summary(self) -> str:
        return (
            f"Check the brand's certificate for BIN {self.key_set.bin} and keep it."
            if self.key_set
            else ""
        )

    def run(self, call: ImportCertificate) -> IssuerKeySet:
        self._check(ImportStep.CHOOSE, ImportStep.CERTIFICATE)
        assert self.key_set is not None and self.ca_index is not None
        return call(
            self.key_set.bin,
            self.certificate,
            remainder=self.remainder,
            exponent=self.exponent,
            ca_index=self.ca_index,
        )

    def record_result(self, result: IssuerKeySet) -> None:
        self.result = result
        self.finish(ImportStep.RESULT)

    def result_rows(self) -> list[tuple[str, str]]:
        r = self.result
        if r is None or r.certificate is None:
            return []
        c = r.certificate
        return [
            ("BIN", r.bin),
            ("Brand CA key", f"{c.rid} index {c.ca_index:02X}"),
            ("Serial number", c.serial),
            ("Valid until", f"{c.expires_on:%Y-%m-%d}"),
            ("Certifies", f"{r.key_pair_label} (KCV {r.key_pair_kcv})"),
            ("Certificate SHA-256", c.sha256),
        ]

    def result_summary(self) -> str:
        r = self.result
        if r is None or r.certificate is None:
            return "No certificate was imported yet."
        return (
            f"The issuer certificate of BIN {r.bin} was recovered with {r.brand}'s CA key and "
            f"kept; it expires at the end of {r.certificate.expires_on:%B %Y}."
        )

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is ImportStep.CHOOSE:
            return self.validate_bin(self.key_set.bin if self.key_set else None)
        if step is ImportStep.CERTIFICATE:
            if not self.certificate:
                return {"certificate": "Load the certificate file the brand sent."}
            index = f"{self.ca_index:02X}" if self.ca_index is not None else ""
            return self.validate_certificate(
                certificate=self.certificate,
                remainder=self.remainder.hex(),
                exponent=self.exponent,
                ca_index=index,
            )
        if step is ImportStep.REVIEW and self.result is None:
            return {"result": "No certificate was imported yet."}
        return {}
