"""The TLS wizards as plain Python: discover the certificates servers present and enrol
them, and export a certified key pair as a key store.

As in :mod:`workstation.flows.interchange`, each wizard is a flow over named steps: a
``validate_*`` method says what is wrong with a step's input, by field; the matching
``set_*``/``choose*`` method stores accepted input (or raises
:class:`~workstation.flows.wizards.FlowError`). The endpoint service is reached only
through callables passed in, so the Qt wizards run them on the device thread and the tests
pass fakes; the service checks every rule again when the work runs.

- :class:`DiscoverFlow`: a list of targets, probed; the results with their days left; the
  rows ticked to enrol, with the owners to alert.
- :class:`KeystoreFlow`: a key pair with a current certificate, the format, a password
  (typed twice) and a new file.

No password is kept by a flow: it checks the typed text and forgets it; the wizard hands
the password to the service as a bytearray it wipes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol

from workstation.domain.endpoints import MAX_TARGETS, Endpoint, Target, check_owners, parse_targets
from workstation.errors import BadInput
from workstation.flows.wizards import FieldErrors, FlowError, StepInfo, _Flow, requirement_lines
from workstation.services.endpoints import (
    KEYSTORE_FORMATS,
    KEYSTORE_KDF_ROUNDS,
    MAX_PASSWORD_BYTES,
    MIN_PASSWORD_CHARS,
    Discovery,
    KeystoreChoice,
    days_left,
)
from workstation.services.logon import Requirement

__all__ = [
    "DUE_SOON_DAYS",
    "ENDPOINT_HEADERS",
    "DiscoverFlow",
    "DiscoverStep",
    "EndpointRow",
    "KeystoreFlow",
    "KeystoreStep",
    "RefreshSummary",
    "ResultRow",
    "days_text",
    "endpoint_rows",
    "endpoints_overview",
    "expiry_level",
    "password_errors",
    "refresh_summary",
    "split_owners",
]

DUE_SOON_DAYS = 30  # a certificate expiring within this many days is shown as due
MAX_TIMEOUT = 60.0


def expiry_level(days_left: int | None) -> str:
    """How a result row is coloured: "expired", "due" (within DUE_SOON_DAYS days), "ok",
    or "unreachable" (no certificate seen).

    >>> [expiry_level(d) for d in (-1, 0, 30, 31, None)]
    ['expired', 'due', 'due', 'ok', 'unreachable']
    """
    if days_left is None:
        return "unreachable"
    if days_left < 0:
        return "expired"
    return "due" if days_left <= DUE_SOON_DAYS else "ok"


def split_owners(text: str) -> list[str]:
    """The addresses of an owners field: separated by commas, semicolons or spaces."""
    return [part for part in re.split(r"[,;\s]+", text.strip()) if part]


def _days_text(d: Discovery) -> str:
    if d.days_left is None:
        return ""
    if d.days_left < 0:
        return f"expired {-d.days_left} d ago"
    return f"{d.days_left} d"


def _cn(name: str) -> str:
    """The CN of an RFC 4514 name when it has one, else the whole name."""
    for part in name.split(","):
        key, _, value = part.partition("=")
        if key.strip().upper() == "CN":
            return value
    return name


@dataclass(frozen=True)
class ResultRow:
    """One row of the discovery's results table."""

    target: str
    expires: str
    days: str
    subject: str
    issuer: str
    key_pair: str
    status: str
    level: str  # expiry_level
    tickable: bool
    detail: str  # tooltip: the full names, fingerprint, protocol, or the error

    @property
    def cells(self) -> tuple[str, ...]:
        return (
            self.target,
            self.expires,
            self.days,
            self.subject,
            self.issuer,
            self.key_pair,
            self.status,
        )


HEADERS: tuple[str, ...] = (
    "Target",
    "Expires",
    "Days left",
    "Subject",
    "Issuer",
    "Key pair",
    "Inventory",
)


def _row(d: Discovery) -> ResultRow:
    if not d.ok:
        error = d.error or ""
        prefix = f"{d.target.text}: "
        return ResultRow(
            target=str(d.target),
            expires="",
            days="",
            # Said in the row itself, without the target it already names.
            subject=error[len(prefix) :] if error.startswith(prefix) else error,
            issuer="",
            key_pair="",
            status="not reached",
            level="unreachable",
            tickable=False,
            detail=d.error or "",
        )
    status = "changed" if d.changed else "enrolled" if d.enrolled else "new"
    detail = [
        f"Subject: {d.certificate_subject}",
        f"Issuer: {d.issuer}",
        f"Serial: {d.serial}",
        f"SHA-256: {d.fingerprint}",
        f"Chain: {len(d.chain)} certificate{'s' if len(d.chain) != 1 else ''}",
        f"{d.protocol}, {d.cipher}",
    ]
    if d.changed:
        detail.append(f"Enrolled with: {d.enrolled_fingerprint}")
    return ResultRow(
        target=str(d.target),
        expires=f"{d.not_after:%Y-%m-%d}" if d.not_after else "",
        days=_days_text(d),
        subject=_cn(d.certificate_subject),
        issuer="self-signed" if d.self_signed else _cn(d.issuer),
        key_pair=d.key_label or "",
        status=status,
        level=expiry_level(d.days_left),
        tickable=True,
        detail="\n".join(detail),
    )


def _step(title: str, subtitle: str, *needs: str) -> StepInfo:
    return StepInfo(title, subtitle, tuple(needs))


# --- discovery -------------------------------------------------------------------------------


class DiscoverStep(StrEnum):
    TARGETS = "targets"
    RESULTS = "results"
    DONE = "done"


class Discover(Protocol):
    """``EndpointService.discover`` with the session (and progress) bound."""

    def __call__(self, targets: Sequence[Target], *, timeout: float) -> list[Discovery]: ...


class Enrol(Protocol):
    """``EndpointService.enrol_many`` with the session bound."""

    def __call__(
        self, discoveries: Sequence[Discovery], *, owners: Sequence[str]
    ) -> list[Endpoint]: ...


class DiscoverFlow(_Flow[DiscoverStep]):
    """Targets probed, the results read, the ticked ones enrolled."""

    STEPS: ClassVar[dict[Any, StepInfo]] = {
        DiscoverStep.TARGETS: _step(
            "The servers to look at",
            "One target per line: host:port, [IPv6 address]:port, or a host alone for port "
            "443. A server name after the target is asked for in the handshake (SNI). "
            "Nothing is trusted or refused: the point is to see what each server presents.",
            "targets",
            "timeout",
        ),
        DiscoverStep.RESULTS: _step(
            "What the servers present",
            "Tick the endpoints to enrol: the workstation watches their certificates and "
            "tells the owners before they expire. Enrolling needs a security officer or a "
            "supervisor.",
            "rows",
            "owners",
        ),
        DiscoverStep.DONE: _step("Enrolled", "The endpoints are in the inventory."),
    }

    def __init__(self) -> None:
        super().__init__(DiscoverStep.TARGETS)
        self.targets: list[Target] = []
        self.timeout = 5.0
        self.discoveries: list[Discovery] = []
        self.ticked: set[int] = set()
        self.owners: tuple[str, ...] = ()
        self.enrolled: list[Endpoint] = []
        self.requirement: Requirement | None = None

    # targets

    @staticmethod
    def validate_targets(text: str, timeout: float = 5.0) -> FieldErrors:
        errors: FieldErrors = {}
        if not text.strip():
            errors["targets"] = "Write at least one target, e.g. pay.bank.example:443."
        else:
            try:
                parse_targets(text)
            except BadInput as e:
                errors["targets"] = e.user_message()
        if not 0 < timeout <= MAX_TIMEOUT:
            errors["timeout"] = f"Wait more than 0 and at most {MAX_TIMEOUT:g} seconds."
        return errors

    def set_targets(self, text: str, timeout: float = 5.0) -> None:
        errors = self.validate_targets(text, timeout)
        if errors:
            raise FlowError(errors)
        targets = parse_targets(text)
        if targets != self.targets or any(
            a.server_name != b.server_name for a, b in zip(targets, self.targets, strict=False)
        ):
            self.discoveries, self.ticked = [], set()
        self.targets, self.timeout = targets, timeout

    def target_count_text(self, text: str) -> str:
        """What the targets field holds, as it is typed."""
        try:
            count = len(parse_targets(text))
        except BadInput:
            return ""
        return f"{count} target{'s' if count != 1 else ''} (at most {MAX_TARGETS})"

    def discover(self, call: Discover) -> list[Discovery]:
        errors = self.errors(DiscoverStep.TARGETS)
        if errors:
            raise FlowError(errors)
        return call(self.targets, timeout=self.timeout)

    def record_discoveries(self, found: list[Discovery]) -> None:
        """The probe's answers; new and changed endpoints come ticked, the step moves on."""
        self.discoveries = list(found)
        self.ticked = {i for i, d in enumerate(found) if d.ok and (not d.enrolled or d.changed)}
        self.enrolled = []
        self.back_to(DiscoverStep.TARGETS)
        self.advance()

    # results

    def rows(self) -> list[ResultRow]:
        return [_row(d) for d in self.discoveries]

    def counts_text(self) -> str:
        found = self.discoveries
        reached = sum(d.ok for d in found)
        expired = sum(d.ok and d.expired for d in found)
        due = sum(d.ok and expiry_level(d.days_left) == "due" for d in found)
        parts = [f"{reached} of {len(found)} reached"]
        if expired:
            parts.append(f"{expired} expired")
        if due:
            parts.append(f"{due} expiring within {DUE_SOON_DAYS} days")
        changed = sum(d.changed for d in found)
        if changed:
            parts.append(f"{changed} present a certificate other than the one enrolled")
        return "; ".join(parts) + "."

    def set_ticked(self, index: int, ticked: bool) -> None:
        if not 0 <= index < len(self.discoveries) or not self.discoveries[index].ok:
            return
        if ticked:
            self.ticked.add(index)
        else:
            self.ticked.discard(index)

    def validate_enrol(self, ticked: set[int], owners_text: str) -> FieldErrors:
        errors: FieldErrors = {}
        usable = {i for i in ticked if 0 <= i < len(self.discoveries)}
        if not usable:
            errors["rows"] = "Tick at least one endpoint that was reached."
        elif any(not self.discoveries[i].ok for i in usable):
            errors["rows"] = "Only an endpoint that was reached can be enrolled."
        try:
            check_owners(tuple(split_owners(owners_text)))
        except BadInput as e:
            errors["owners"] = e.user_message()
        return errors

    def choose_enrol(self, ticked: set[int], owners_text: str) -> None:
        errors = self.validate_enrol(ticked, owners_text)
        if errors:
            raise FlowError(errors)
        self.ticked = set(ticked)
        self.owners = check_owners(tuple(split_owners(owners_text)))

    def set_requirement(self, requirement: Requirement) -> None:
        self.requirement = requirement

    def quorum_lines(self) -> list[str]:
        if self.requirement is None:
            return ["Checking who is needed…"]
        return requirement_lines(self.requirement)

    def chosen(self) -> list[Discovery]:
        return [self.discoveries[i] for i in sorted(self.ticked)]

    def enrol(self, call: Enrol) -> list[Endpoint]:
        for step in (DiscoverStep.TARGETS, DiscoverStep.RESULTS):
            errors = self.errors(step)
            if errors:
                raise FlowError(errors)
        return call(self.chosen(), owners=self.owners)

    def record_enrolled(self, endpoints: list[Endpoint]) -> None:
        self.enrolled = list(endpoints)
        self.back_to(DiscoverStep.RESULTS)
        self.advance()

    def result_summary(self) -> str:
        if not self.enrolled:
            return "Nothing has been enrolled yet."
        n = len(self.enrolled)
        owners = f" Owners to alert: {', '.join(self.owners)}." if self.owners else ""
        return (
            f"{n} endpoint{'s are' if n != 1 else ' is'} enrolled; each falls due when its "
            f"certificate expires.{owners}"
        )

    def result_rows(self) -> list[tuple[str, str]]:
        return [
            (e.subject, f"expires {e.not_after:%Y-%m-%d}, {_cn(e.certificate_subject)}")
            for e in self.enrolled
        ]

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is DiscoverStep.TARGETS and not self.targets:
            return {"targets": "Write at least one target, e.g. pay.bank.example:443."}
        if step is DiscoverStep.RESULTS:
            if not self.discoveries:
                return {"rows": "The targets have not been probed yet."}
            return self.validate_enrol(self.ticked, ", ".join(self.owners))
        return {}


# --- key store ---------------------------------------------------------------------------------


class KeystoreStep(StrEnum):
    CHOOSE = "choose"
    PROTECT = "protect"
    REVIEW = "review"
    RESULT = "result"


class ExportKeystore(Protocol):
    """``EndpointService.export_keystore`` with the session bound."""

    def __call__(self, key_ref: str, *, fmt: str, password: bytearray) -> bytes: ...


def password_errors(password: str, again: str) -> FieldErrors:
    """What is wrong with a key store password typed twice (the service checks again)."""
    if not password:
        return {"password": f"Type a password of at least {MIN_PASSWORD_CHARS} characters."}
    if len(password) < MIN_PASSWORD_CHARS:
        return {
            "password": f"The password has {len(password)} characters; it needs at least "
            f"{MIN_PASSWORD_CHARS}."
        }
    if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
        return {"password": f"The password is longer than {MAX_PASSWORD_BYTES} bytes."}
    if again != password:
        return {"again": "The two passwords differ."}
    return {}


def _file_errors(path: str) -> FieldErrors:
    if not path.strip():
        return {"file": "Choose the new file to write the key store to."}
    target = Path(path).expanduser()
    if target.exists():
        return {"file": f"{target} exists; choose a new file name (nothing is overwritten)."}
    if not target.parent.is_dir():
        return {"file": f"Folder {target.parent} does not exist."}
    return {}


class KeystoreFlow(_Flow[KeystoreStep]):
    """A key pair with its current certificate, as a PKCS #12 or a PEM bundle."""

    STEPS: ClassVar[dict[Any, StepInfo]] = {
        KeystoreStep.CHOOSE: _step(
            "The key pair and the format",
            "A key pair leaves with its current certificate and chain, for the server that "
            "uses it. Only a pre-active or active key pair that its template lets leave "
            "can be exported.",
            "key",
            "format",
        ),
        KeystoreStep.PROTECT: _step(
            "The password and the file",
            f"The private key is encrypted under a password of at least {MIN_PASSWORD_CHARS} "
            "characters (PBKDF2-HMAC-SHA256, AES-256). Give the password to the server's "
            "administrator by another channel than the file.",
            "password",
            "again",
            "file",
        ),
        KeystoreStep.REVIEW: _step(
            "Review and export",
            "The export needs the export quorum of the key pair's template. Missing people "
            "are asked for their cards when you press Export.",
            "requirement",
        ),
        KeystoreStep.RESULT: _step("Key store written", "The file holds the key store."),
    }

    def __init__(self, choices: Sequence[KeystoreChoice] = ()) -> None:
        super().__init__(KeystoreStep.CHOOSE)
        self.choices: tuple[KeystoreChoice, ...] = tuple(choices)
        self.choice: KeystoreChoice | None = None
        self.format: str | None = None
        self.file: str = ""
        self.requirement: Requirement | None = None
        self.written: Path | None = None
        self.size = 0

    def load(self, choices: Sequence[KeystoreChoice]) -> None:
        self.choices = tuple(choices)

    def find(self, label: str | None) -> KeystoreChoice | None:
        return next((c for c in self.choices if c.key.label == (label or "").strip()), None)

    @staticmethod
    def line(choice: KeystoreChoice) -> str:
        """How a key pair appears in the list."""
        c, k = choice.certificate, choice.key
        text = (
            f"{k.label} — {k.algorithm.value}, {_cn(c.subject)}, certificate expires "
            f"{c.not_after:%Y-%m-%d}"
        )
        return text + (" (cannot leave)" if choice.refusal else "")

    @staticmethod
    def formats() -> list[tuple[str, str]]:
        return [
            ("pkcs12", "PKCS #12 (.p12): key, certificate and chain in one file"),
            ("pem", "PEM bundle (.pem): encrypted PKCS #8 key, then certificate and chain"),
        ]

    def validate_choice(self, key: str | None, fmt: str | None) -> FieldErrors:
        errors: FieldErrors = {}
        if not (key or "").strip():
            errors["key"] = (
                "Choose the key pair."
                if self.choices
                else "No key pair has a current certificate: import one first (certs import)."
            )
        else:
            choice = self.find(key)
            if choice is None:
                errors["key"] = f"No key pair labelled {key!r} has a current certificate."
            elif choice.refusal:
                errors["key"] = choice.refusal
        if fmt not in KEYSTORE_FORMATS:
            errors["format"] = "Choose PKCS #12 or PEM."
        return errors

    def choose(self, key: str | None, fmt: str | None) -> None:
        errors = self.validate_choice(key, fmt)
        if errors:
            raise FlowError(errors)
        choice = self.find(key)
        if (
            self.choice is None
            or choice is None
            or choice.key.template_id != (self.choice.key.template_id)
        ):
            self.requirement = None  # another template may need another quorum
        self.choice, self.format = choice, fmt
        if self.file and Path(self.file).suffix != self.suffix():
            self.file = ""

    def suffix(self) -> str:
        return ".p12" if self.format == "pkcs12" else ".pem"

    def suggested_name(self) -> str:
        label = self.choice.key.label if self.choice else "key-store"
        return re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-") + self.suffix()

    @staticmethod
    def validate_protect(password: str, again: str, path: str) -> FieldErrors:
        errors = password_errors(password, again)
        errors.update(_file_errors(path))
        return errors

    def set_protect(self, password: str, again: str, path: str) -> None:
        """Check the password (not kept) and keep the file name."""
        errors = self.validate_protect(password, again, path)
        if errors:
            raise FlowError(errors)
        self.file = str(Path(path).expanduser())

    @property
    def quorum_template(self) -> str | None:
        return self.choice.key.template_id if self.choice else None

    def set_requirement(self, requirement: Requirement) -> None:
        self.requirement = requirement

    def review_rows(self) -> list[tuple[str, str]]:
        if self.choice is None or self.format is None:
            return []
        c, k = self.choice.certificate, self.choice.key
        rows = [
            ("Key pair", f"{k.label} ({k.algorithm.value}, {k.state.value})"),
            ("Template", self.choice.template),
            ("Certificate", c.subject),
            ("Serial", c.serial),
            ("Expires", f"{c.not_after:%Y-%m-%d}"),
            ("SHA-256", c.fingerprint),
            ("Format", KEYSTORE_FORMATS[self.format]),
            (
                "Encryption",
                f"PBES2: PBKDF2-HMAC-SHA256, {KEYSTORE_KDF_ROUNDS:,} rounds, AES-256-CBC",
            ),
            ("File", self.file),
        ]
        if self.requirement is not None:
            rows.append(("Quorum", self.requirement.quorum))
        return rows

    def summary(self) -> str:
        if self.choice is None or self.format is None:
            return ""
        return (
            f"Export key pair {self.choice.key.label} with its certificate "
            f"{self.choice.certificate.serial} as a {KEYSTORE_FORMATS[self.format]} key "
            f"store to {self.file}."
        )

    def export(self, call: ExportKeystore, password: bytearray) -> bytes:
        for step in (KeystoreStep.CHOOSE, KeystoreStep.PROTECT):
            errors = self.errors(step)
            if errors:
                raise FlowError(errors)
        assert self.choice is not None and self.format is not None
        return call(self.choice.key.label, fmt=self.format, password=password)

    def record_result(self, written: Path, size: int) -> None:
        self.written, self.size = written, size
        self.back_to(KeystoreStep.REVIEW)
        self.advance()

    def result_summary(self) -> str:
        if self.written is None or self.choice is None or self.format is None:
            return "Nothing has been exported yet."
        return (
            f"The {KEYSTORE_FORMATS[self.format]} key store of {self.choice.key.label} "
            f"({self.size:,} bytes) is in {self.written}. Give the password by another "
            "channel than the file."
        )

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is KeystoreStep.CHOOSE:
            return self.validate_choice(self.choice.key.label if self.choice else None, self.format)
        if step is KeystoreStep.PROTECT and not self.file:
            return {"file": "Choose the new file to write the key store to."}
        if step is KeystoreStep.REVIEW and self.written is None:
            return {"result": "The key store has not been exported yet."}
        return {}


# --- enrolled endpoints ------------------------------------------------------------------------


def days_text(days: int) -> str:
    """Days left as a row shows them.

    >>> [days_text(d) for d in (45, 0, -3)]
    ['45 d', '0 d', 'expired 3 d ago']
    """
    return f"expired {-days} d ago" if days < 0 else f"{days} d"


ENDPOINT_HEADERS: tuple[str, ...] = (
    "Endpoint",
    "Server name",
    "Subject",
    "Issuer",
    "Not after",
    "Days left",
    "Key pair",
    "Owners",
    "Last seen",
    "Protocol",
)


@dataclass(frozen=True)
class EndpointRow:
    """One enrolled endpoint as the Certificates page lists it, its days counted from
    ``read_at`` (the time of the read that fetched it)."""

    endpoint: Endpoint
    read_at: datetime

    @property
    def days_left(self) -> int:
        return days_left(self.endpoint.not_after, self.read_at)

    @property
    def level(self) -> str:
        """Expired once it has ended (days left round up: not by the days alone), due
        within DUE_SOON_DAYS days, else ok."""
        if self.endpoint.not_after <= self.read_at:
            return "expired"
        return expiry_level(self.days_left)

    @property
    def server_name(self) -> str:
        """The name the handshake asks for (SNI), or why there is none."""
        sni = self.endpoint.target.sni
        return sni if sni is not None else "(none: an address)"

    @property
    def cells(self) -> tuple[str, ...]:
        e = self.endpoint
        return (
            e.subject,
            self.server_name,
            e.certificate_subject,
            "self-signed" if e.self_signed else e.issuer,
            f"{e.not_after:%Y-%m-%d}",
            days_text(self.days_left),
            e.key_label or "",
            ", ".join(e.owners),
            f"{e.last_seen_at:%Y-%m-%d %H:%M}",
            e.protocol,
        )

    @property
    def days_tip(self) -> str:
        end = f"{self.endpoint.not_after:%Y-%m-%d %H:%M} UTC"
        if self.level == "expired":
            return f"Ended {end}: the server presents an expired certificate."
        if self.level == "due":
            return f"Ends {end}, within {DUE_SOON_DAYS} days: renew it."
        return f"Ends {end}."

    def detail_rows(self) -> list[tuple[str, str]]:
        e = self.endpoint
        chain = e.chain_pem.count("-----BEGIN CERTIFICATE-----")
        return [
            ("Endpoint", e.subject),
            ("Server name", self.server_name),
            ("Subject", e.certificate_subject),
            ("Issuer", e.issuer + (" (self-signed)" if e.self_signed else "")),
            ("Serial", e.serial),
            ("Valid from", f"{e.not_before:%Y-%m-%d %H:%M} UTC"),
            ("Valid to", f"{e.not_after:%Y-%m-%d %H:%M} UTC ({days_text(self.days_left)})"),
            ("SHA-256", e.fingerprint),
            ("Chain", f"{chain} certificate{'s' if chain != 1 else ''} presented"),
            ("Protocol", f"{e.protocol}, {e.cipher}"),
            ("Key pair", e.key_label or "not one of the workstation's key pairs"),
            ("Owners", ", ".join(e.owners) or "nobody is alerted"),
            ("Enrolled", f"{e.enrolled_at:%Y-%m-%d %H:%M} UTC"),
            ("Last seen", f"{e.last_seen_at:%Y-%m-%d %H:%M} UTC"),
        ]

    def removal_question(self) -> str:
        e = self.endpoint
        return (
            f"Stop watching {e.subject}? Its certificate ({_cn(e.certificate_subject)}, "
            f"expires {e.not_after:%Y-%m-%d}) will no longer fall due or alert "
            f"{', '.join(e.owners) or 'anyone'}. The removal is audited; discover the "
            "endpoint again to enrol it anew."
        )


def endpoint_rows(endpoints: Sequence[Endpoint], read_at: datetime) -> list[EndpointRow]:
    """The rows, the certificate that ends first on top; then by endpoint."""
    return sorted(
        (EndpointRow(e, read_at) for e in endpoints),
        key=lambda r: (r.endpoint.not_after, r.endpoint.subject),
    )


def endpoints_overview(rows: Sequence[EndpointRow]) -> str:
    """One line over the table: how many, how many expired or due soon."""
    if not rows:
        return "No TLS endpoint is enrolled: Discover TLS endpoints… (TLS menu) enrols them."
    n = len(rows)
    parts = [f"{n} endpoint{'s' if n != 1 else ''} enrolled"]
    expired = sum(r.level == "expired" for r in rows)
    due = sum(r.level == "due" for r in rows)
    if expired:
        parts.append(f"{expired} expired")
    if due:
        parts.append(f"{due} expire{'s' if due == 1 else ''} within {DUE_SOON_DAYS} days")
    return "; ".join(parts) + "."


@dataclass(frozen=True)
class RefreshSummary:
    """What a re-check of every enrolled endpoint found, as a person reads it."""

    text: str
    changed: tuple[str, ...]  # one line per endpoint that presents another certificate
    unreachable: tuple[str, ...]  # one line per endpoint not reached, with the reason

    @property
    def details(self) -> str:
        lines: list[str] = []
        if self.changed:
            lines.append("Changed:")
            lines.extend(f"  {line}" for line in self.changed)
        if self.unreachable:
            lines.append("Not reached (kept as last seen):")
            lines.extend(f"  {line}" for line in self.unreachable)
        return "\n".join(lines)


def _reason(target: str, error: str) -> str:
    return error if error.startswith(f"{target}:") else f"{target}: {error}"


def refresh_summary(found: Sequence[Discovery]) -> RefreshSummary:
    """The summary of ``EndpointService.refresh``'s answer."""
    if not found:
        return RefreshSummary("No endpoint is enrolled; there was nothing to re-check.", (), ())
    changed = tuple(
        f"{d.target.text}: now {_cn(d.certificate_subject)}, serial {d.serial}, expires "
        f"{d.not_after:%Y-%m-%d} (was SHA-256 {(d.enrolled_fingerprint or '')[:16]}…)"
        for d in found
        if d.changed
    )
    unreachable = tuple(
        _reason(d.target.text, d.error or "nothing was presented.") for d in found if not d.ok
    )
    n = len(found)
    reached = n - len(unreachable)
    parts = [f"{n} endpoint{'s' if n != 1 else ''} re-checked: {reached} reached"]
    parts.append(
        f"{len(changed)} present{'s' if len(changed) == 1 else ''} a new certificate"
        if changed
        else "no certificate changed"
    )
    if unreachable:
        parts.append(f"{len(unreachable)} not reached")
    expired = sum(d.ok and d.expired for d in found)
    if expired:
        parts.append(f"{expired} still expired")
    return RefreshSummary(", ".join(parts) + ".", changed, unreachable)
