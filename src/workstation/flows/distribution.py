"""The Distribution page without Qt: the rows of its key store and job tables, the form
that registers a key store, and the two wizards that make jobs ("Push keys…" and "Rotate
and push…"), each with its checks (every error names its field).

The flows call no service themselves: the GUI reads :class:`DistributionChoices` on the
device thread and passes the service's ``distribute``/``rotate`` in as callables. The
service checks every rule again when the job is made (``DistributionService``): a flow
only catches a mistake early, next to the field that holds it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from workstation.domain.algorithms import KeyFamily
from workstation.domain.distribution import (
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    Delivery,
    DeliveryState,
    DistributionJob,
    JobKind,
    JobState,
    KeyStore,
    TargetKind,
    check_tag,
    check_target_name,
)
from workstation.domain.endpoints import parse_target
from workstation.domain.keys import ManagedKey
from workstation.domain.policy import Action
from workstation.domain.templates import KeyTemplate
from workstation.errors import BadInput
from workstation.flows.interchange import export_refusal, kek_refusal, key_line
from workstation.flows.wizards import (
    MAX_REASON,
    FieldErrors,
    FlowError,
    QuorumShown,
    StepInfo,
    _Flow,
)
from workstation.services.distribution import JobReport

__all__ = [
    "ALL_TAGS",
    "DELIVERY_HEADERS",
    "JOBS_LISTED",
    "JOB_HEADERS",
    "KEYS_LISTED",
    "MAX_ATTEMPTS",
    "MAX_BACKOFF",
    "STORE_HEADERS",
    "DistributionChoices",
    "DistributionRegister",
    "JobOptions",
    "KeyStoreForm",
    "PushFlow",
    "PushStep",
    "RotateAllFlow",
    "RotateAllStep",
    "check_summary",
    "delivery_cells",
    "filter_stores",
    "held_rows",
    "job_cells",
    "job_progress",
    "split_tags",
    "store_cells",
    "store_facts",
    "store_status",
    "stores_overview",
    "tag_choices",
    "unfinished_text",
]

ALL_TAGS = ""  # the tag filter's "every key store"
JOBS_LISTED = 50  # newest jobs shown with their progress
KEYS_LISTED = 5_000  # pre-active and active keys read for the choices
MAX_ATTEMPTS = 100  # as the service accepts
MAX_BACKOFF = 3600.0
MAX_KEK_LABEL = 128

STORE_HEADERS = ("Name", "Kind", "Location", "Tags", "Status", "Keys held", "Last checked (UTC)")
JOB_HEADERS = ("Job", "Kind", "State", "Made (UTC)", "Keys", "Targets", "Progress")
DELIVERY_HEADERS = (
    "Key store",
    "State",
    "Tries",
    "Keys",
    "Last error",
    "Next attempt (UTC)",
)


def _when(moment: datetime | None, never: str = "never") -> str:
    return never if moment is None else f"{moment:%Y-%m-%d %H:%M}"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


# --- what the page and the wizards read ---------------------------------------------------


@dataclass(frozen=True)
class DistributionChoices:
    """What the form and the wizards choose from, read in one go on the device thread: the
    key stores, the pre-active and active keys, the templates."""

    stores: tuple[KeyStore, ...] = ()
    keys: tuple[ManagedKey, ...] = ()
    templates: tuple[KeyTemplate, ...] = ()
    truncated: bool = False  # more keys than were read

    def key(self, label: str | None) -> ManagedKey | None:
        wanted = (label or "").strip()
        return next((k for k in self.keys if k.label == wanted), None)

    def key_by_id(self, key_id: str) -> ManagedKey | None:
        return next((k for k in self.keys if k.id == key_id), None)

    def template_of(self, key: ManagedKey) -> KeyTemplate | None:
        return next((t for t in self.templates if t.id == key.template_id), None)

    def template(self, name: str | None) -> KeyTemplate | None:
        wanted = (name or "").strip().casefold()
        return next((t for t in self.templates if t.name.casefold() == wanted), None)

    def store(self, name: str) -> KeyStore | None:
        wanted = name.strip().lower()
        return next((s for s in self.stores if s.name.lower() == wanted), None)

    def keks(self, kind: TargetKind | None = None) -> list[ManagedKey]:
        """The active TR-31 K0/K1 keys a key store may share (AES only for a PKCS#11
        token, which unwraps with AES key wrap)."""
        return _sorted(k for k in self.keys if _kek_problem(k, kind) is None)

    def pushable_keys(self) -> list[ManagedKey]:
        """Secret keys that may be pushed: exportable, pre-active or active."""
        return _sorted(k for k in self.keys if export_refusal(k, self.template_of(k)) is None)

    @property
    def tags(self) -> list[str]:
        return tag_choices(self.stores)


def _sorted(keys: Iterable[ManagedKey]) -> list[ManagedKey]:
    return sorted(keys, key=lambda k: k.label.casefold())


def _kek_problem(key: ManagedKey, kind: TargetKind | None) -> str | None:
    problem = kek_refusal(key)
    if problem is None and kind is TargetKind.PKCS11 and key.algorithm.family is not KeyFamily.AES:
        problem = (
            f"Key {key.label} is {key.algorithm.value}: a PKCS#11 token receives keys under "
            "AES key wrap (RFC 5649), so its KEK must be an AES key."
        )
    return problem


@dataclass(frozen=True)
class DistributionRegister:
    """What the page shows, read in one go: the choices (key stores first), the newest
    jobs with their deliveries, and the quorums in the policy's words."""

    choices: DistributionChoices
    reports: tuple[JobReport, ...]  # newest first
    read_at: datetime
    jobs_total: int = 0
    quorums: Mapping[Action, str] = field(default_factory=dict)

    @property
    def stores(self) -> tuple[KeyStore, ...]:
        return self.choices.stores

    @property
    def unfinished(self) -> list[DistributionJob]:
        return [r.job for r in self.reports if not r.job.state.finished]

    def needs(self, action: Action) -> str:
        return self.quorums.get(action) or "its quorum"

    def report(self, job_id: str) -> JobReport | None:
        return next((r for r in self.reports if r.job.id == job_id), None)


# --- key stores ---------------------------------------------------------------------------


def store_status(store: KeyStore) -> tuple[str, bool]:
    """(status text, whether it is bad): reachable, UNREACHABLE or not asked."""
    if store.reachable is None:
        return "not asked", False
    if store.reachable:
        return "reachable", False
    return "UNREACHABLE", True


def store_cells(store: KeyStore) -> tuple[str, ...]:
    """A key store's row, as :data:`STORE_HEADERS`."""
    location = store.location + (f" [{store.token}]" if store.token else "")
    return (
        store.name,
        store.kind.display,
        location,
        ", ".join(store.tags),
        store_status(store)[0],
        str(len(store.held)) if store.reachable is not None else "—",
        _when(store.checked_at),
    )


def held_rows(store: KeyStore) -> list[tuple[str, str, str]]:
    """(label, version, KCV) of each key the store held when last asked, by label."""
    return [
        (h.label, str(h.version), h.kcv)
        for h in sorted(store.held, key=lambda h: (h.label.casefold(), h.version))
    ]


def store_facts(store: KeyStore, kek: ManagedKey | None) -> list[tuple[str, str]]:
    """The details pane of a key store."""
    kek_text = (
        f"{kek.label} ({kek.algorithm.value}, KCV {kek.kcv}) — held there as {store.kek_label}"
        if kek is not None
        else f"held there as {store.kek_label} (the workstation key is no longer active)"
    )
    rows = [
        ("Name", store.name),
        ("Kind", store.kind.display),
        ("Location", store.location),
    ]
    if store.kind is TargetKind.PKCS11:
        rows.append(("Token", store.token))
        rows.append(("PIN file", store.pin_file or "(none: the token asks for no PIN)"))
    status, _ = store_status(store)
    rows += [
        ("KEK", kek_text),
        ("Tags", ", ".join(store.tags) or "(none)"),
        ("Status", status + (f": {store.detail}" if store.detail else "")),
        ("Last checked", _when(store.checked_at) + (" UTC" if store.checked_at else "")),
        ("Added", f"{_when(store.added_at)} UTC by {', '.join(store.added_by) or '—'}"),
    ]
    return rows


def tag_choices(stores: Iterable[KeyStore]) -> list[str]:
    return sorted({t for s in stores for t in s.tags})


def filter_stores(stores: Iterable[KeyStore], tag: str) -> list[KeyStore]:
    return [s for s in stores if not tag or tag in s.tags]


def stores_overview(stores: Sequence[KeyStore]) -> str:
    """``5 key stores: 3 reachable, 1 unreachable, 1 not asked yet.``"""
    if not stores:
        return "No key store is registered yet: Add key store… registers one."
    up = sum(1 for s in stores if s.reachable)
    down = sum(1 for s in stores if s.reachable is False)
    unasked = len(stores) - up - down
    parts = [f"{up} reachable"]
    if down:
        parts.append(f"{down} unreachable")
    if unasked:
        parts.append(f"{unasked} not asked yet")
    return f"{_plural(len(stores), 'key store')}: {', '.join(parts)}."


def check_summary(stores: Sequence[KeyStore]) -> tuple[str, bool]:
    """After "Check all": how many answered, and each one that did not with its reason;
    and whether any did not."""
    down = [s for s in stores if not s.reachable]
    up = len(stores) - len(down)
    text = f"{up} of {_plural(len(stores), 'key store')} reachable."
    if down:
        text += " Not reached: " + "; ".join(f"{s.name} ({s.detail or 'no answer'})" for s in down)
        text += "."
    return text, bool(down)


# --- jobs ---------------------------------------------------------------------------------


def job_progress(report: JobReport) -> str:
    """``n of m done, k failed`` (and what waits for another try, what was cancelled)."""
    total = len(report.deliveries)
    text = f"{report.done} of {total} done"
    if report.failed:
        text += f", {report.failed} failed"
    waiting = sum(
        1 for d in report.deliveries if d.state is DeliveryState.PENDING and d.attempts > 0
    )
    if waiting:
        text += f", {waiting} to try again"
    cancelled = report.count(DeliveryState.CANCELLED)
    if cancelled:
        text += f", {cancelled} not made"
    return text


def _job_keys(job: DistributionJob) -> str:
    if job.kind is JobKind.ROTATE:
        return ", ".join(
            f"{k.label} → {k.successor_label}" if k.successor_label else k.label for k in job.keys
        )
    return ", ".join(k.label for k in job.keys)


def job_cells(report: JobReport) -> tuple[str, ...]:
    """A job's row, as :data:`JOB_HEADERS`."""
    job = report.job
    return (
        job.id[:12],
        "rotate and push" if job.kind is JobKind.ROTATE else "push",
        job.state.value,
        _when(job.created_at),
        _job_keys(job),
        str(len(job.target_ids)),
        job_progress(report),
    )


def job_facts(report: JobReport) -> str:
    """One line under the results: what the job carries and why."""
    job = report.job
    text = (
        f"Job {job.id[:12]}, made {_when(job.created_at)} UTC by "
        f"{', '.join(job.created_by) or '—'}: {report.text()}."
    )
    if job.reason:
        text += f" Reason: {job.reason}."
    if job.finished_at is not None:
        text += f" Ended {_when(job.finished_at)} UTC."
    return text


def delivery_cells(d: Delivery) -> tuple[str, ...]:
    """A key store's result in a job, as :data:`DELIVERY_HEADERS`."""
    if d.outcomes:
        keys = f"{d.installed} installed, {d.already_held} already held"
    else:
        keys = ""
    waiting = d.state is DeliveryState.PENDING and d.next_attempt_at is not None
    return (
        d.target_name,
        d.state.value,
        str(d.attempts),
        keys,
        d.last_error,
        # To the second: retry waits start at seconds.
        f"{d.next_attempt_at:%Y-%m-%d %H:%M:%S}" if waiting and d.next_attempt_at else "",
    )


def unfinished_text(jobs: Sequence[DistributionJob]) -> str:
    """The banner over the page: ``2 unfinished jobs`` (empty when none)."""
    if not jobs:
        return ""
    what = "unfinished job" if len(jobs) == 1 else "unfinished jobs"
    return (
        f"{len(jobs)} {what}: stopped before every key store had its keys (the workstation "
        "stopped, or someone pressed Stop). Resume carries on; no key store receives a key "
        "version twice."
    )


# --- the key store form -------------------------------------------------------------------

_TAG_SEPARATORS = re.compile(r"[\s,;]+")


def split_tags(text: str) -> list[str]:
    return [t for t in _TAG_SEPARATORS.split(text.strip()) if t]


LOCATION_HINTS: dict[TargetKind, str] = {
    TargetKind.AGENT: "host:port of the key agent, e.g. hsm-gw-1.bank.example:7443",
    TargetKind.PKCS11: "the PKCS#11 module's path, e.g. /usr/lib/softhsm/libsofthsm2.so",
    TargetKind.FILE: "the folder the TR-31 blocks are written to",
}


@dataclass
class KeyStoreForm:
    """Register a key store: its name, kind, location, the KEK it shares (an active K0/K1
    key of the inventory), that KEK's label on the store, a PKCS#11 token and PIN file,
    and tags."""

    name: str = ""
    kind: str = TargetKind.AGENT.value
    location: str = ""
    kek: str = ""  # the workstation key's label
    kek_label: str = ""  # its label on the key store; empty: the same
    token: str = ""
    pin_file: str = ""
    tags: str = ""
    choices: DistributionChoices = field(default_factory=DistributionChoices)

    def target_kind(self) -> TargetKind | None:
        try:
            return TargetKind.parse(self.kind)
        except BadInput:
            return None

    def kek_choices(self) -> list[ManagedKey]:
        return self.choices.keks(self.target_kind())

    def validate(self) -> FieldErrors:
        errors: FieldErrors = {}
        try:
            name = check_target_name(self.name)
            if self.choices.store(name) is not None:
                errors["name"] = f"A key store named {name!r} is already registered."
        except BadInput as e:
            errors["name"] = (
                "Give the key store a name." if not self.name.strip() else e.user_message()
            )
        kind = self.target_kind()
        if kind is None:
            kinds = ", ".join(k.display for k in TargetKind)
            errors["kind"] = f"Choose what the key store is: {kinds}."
        location = self.location.strip()
        if kind is not None and not location:
            errors["location"] = f"Give its location: {LOCATION_HINTS[kind]}."
        elif kind is TargetKind.AGENT:
            try:
                parse_target(location)
            except BadInput as e:
                errors["location"] = e.user_message()
        if kind is TargetKind.PKCS11:
            if not self.token.strip():
                # A field name, not a secret.
                errors["token"] = "Give the label of the token that receives the keys."  # noqa: S105
            pin_file = self.pin_file.strip()
            if pin_file and not Path(pin_file).expanduser().is_file():
                errors["pin_file"] = f"There is no file {pin_file}."
        if not self.kek.strip():
            errors["kek"] = "Choose the key encryption key (KEK) the key store shares."
        else:
            key = self.choices.key(self.kek)
            if key is None:
                errors["kek"] = f"No active key labelled {self.kek.strip()!r}."
            else:
                problem = _kek_problem(key, kind)
                if problem:
                    errors["kek"] = problem
        label = self.kek_label.strip()
        if len(label) > MAX_KEK_LABEL or any(not c.isprintable() for c in label):
            errors["kek_label"] = (
                f"The KEK's label on the key store is 1 to {MAX_KEK_LABEL} printable "
                "characters (empty: the same as here)."
            )
        for tag in split_tags(self.tags):
            try:
                check_tag(tag)
            except BadInput as e:
                errors["tags"] = e.user_message()
                break
        return errors

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments of ``DistributionService.add_target`` (raises
        :class:`FlowError` while the form has errors)."""
        errors = self.validate()
        if errors:
            raise FlowError(errors)
        kind = self.target_kind()
        assert kind is not None
        pkcs11 = kind is TargetKind.PKCS11
        return {
            "name": self.name.strip(),
            "kind": kind,
            "location": self.location.strip(),
            "kek": self.kek.strip(),
            "kek_label": self.kek_label.strip() or None,
            "token": self.token.strip() if pkcs11 else "",
            "pin_file": str(Path(self.pin_file.strip()).expanduser())
            if pkcs11 and self.pin_file.strip()
            else "",
            "tags": sorted({check_tag(t) for t in split_tags(self.tags)}),
        }


# --- the job wizards ----------------------------------------------------------------------


@dataclass(frozen=True)
class JobOptions:
    reason: str = ""
    attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff: float = DEFAULT_BACKOFF_SECONDS


def _options_errors(reason: str, attempts: int, backoff: float) -> FieldErrors:
    errors: FieldErrors = {}
    if len(reason.strip()) > MAX_REASON:
        errors["reason"] = f"Keep the reason to {MAX_REASON} characters (it has {len(reason)})."
    if not 1 <= attempts <= MAX_ATTEMPTS:
        errors["attempts"] = f"Try each key store from 1 to {MAX_ATTEMPTS} times."
    if not 0 <= backoff <= MAX_BACKOFF:
        errors["backoff"] = f"The first retry wait is from 0 to {MAX_BACKOFF:g} seconds."
    return errors


def _backoff_text(options: JobOptions) -> str:
    if options.attempts == 1:
        return "1 attempt per key store, no retry"
    if options.backoff == 0:
        return f"{options.attempts} attempts per key store, each straight after the one before"
    waits = [options.backoff * 2**i for i in range(min(options.attempts - 1, 4))]
    shown = ", ".join(f"{w:g}" for w in waits)
    more = ", …" if options.attempts - 1 > len(waits) else ""
    return (
        f"{options.attempts} attempts per key store; waits of {shown}{more} seconds between "
        "them (doubled each time, at most 5 minutes)"
    )


class _JobFlow(QuorumShown):
    """What both job wizards share: the choices, the targets, the options."""

    def __init__(self) -> None:
        self.choices = DistributionChoices()
        self.target_tags: tuple[str, ...] = ()
        self.target_names: tuple[str, ...] = ()
        self.options = JobOptions()
        self.job: DistributionJob | None = None

    def load(self, choices: DistributionChoices) -> None:
        self.choices = choices

    def stores_for(self, tags: Sequence[str], names: Sequence[str]) -> list[KeyStore]:
        """The key stores named and those carrying one of the tags, each once, by name."""
        chosen: dict[str, KeyStore] = {}
        wanted = set(tags)
        for s in self.choices.stores:
            if s.name in names or wanted & set(s.tags):
                chosen[s.id] = s
        return sorted(chosen.values(), key=lambda s: s.name.casefold())

    def chosen_stores(self) -> list[KeyStore]:
        return self.stores_for(self.target_tags, self.target_names)

    def _targets_errors(
        self, tags: Sequence[str], names: Sequence[str], keys: Sequence[ManagedKey]
    ) -> FieldErrors:
        known = {s.name for s in self.choices.stores}
        unknown = [n for n in names if n not in known]
        if unknown:
            return {"targets": f"There is no key store named {unknown[0]!r}."}
        for tag in tags:
            if not any(tag in s.tags for s in self.choices.stores):
                return {"targets": f"No key store carries the tag {tag!r}."}
        ids = {k.id for k in keys}
        for store in self.stores_for(tags, names):
            if store.kek_id in ids:
                return {"targets": f"Key store {store.name}: a KEK is not sent under itself."}
            kek = self.choices.key_by_id(store.kek_id)
            problem = (
                _kek_problem(kek, store.kind)
                if kek is not None
                else "its KEK is no longer an active key"
            )
            if problem:
                return {"targets": f"Key store {store.name}: {problem}"}
        return {}

    def validate_options(self, reason: str, attempts: int, backoff: float) -> FieldErrors:
        return _options_errors(reason, attempts, backoff)

    def set_options(self, reason: str, attempts: int, backoff: float) -> None:
        errors = self.validate_options(reason, attempts, backoff)
        if errors:
            raise FlowError(errors)
        self.options = JobOptions(reason.strip(), attempts, float(backoff))

    def _targets_text(self) -> str:
        stores = self.chosen_stores()
        parts = []
        if self.target_tags:
            parts.append("tagged " + ", ".join(self.target_tags))
        if self.target_names:
            parts.append("named " + ", ".join(self.target_names))
        names = ", ".join(s.name for s in stores[:8]) + (", …" if len(stores) > 8 else "")
        return f"{_plural(len(stores), 'key store')} ({'; '.join(parts)}): {names}"

    def _option_rows(self) -> list[tuple[str, str]]:
        return [
            ("Reason", self.options.reason or "(none given)"),
            ("Retries", _backoff_text(self.options)),
        ]

    def _templates_of(self, keys: Iterable[ManagedKey]) -> list[str]:
        ids: list[str] = []
        for k in keys:
            if k.template_id not in ids:
                ids.append(k.template_id)
        return ids

    def _template_name(self, template_id: str) -> str:
        t = next((t for t in self.choices.templates if t.id == template_id), None)
        return t.name if t is not None else template_id


class PushStep(StrEnum):
    KEYS = "keys"
    TARGETS = "targets"
    OPTIONS = "options"
    SUMMARY = "summary"


Distribute = Callable[..., DistributionJob]
"""``DistributionService.distribute`` with the session bound: ``(key_refs, *, targets,
tags, reason, max_attempts, backoff_seconds) -> job``."""


class PushFlow(_Flow[PushStep], _JobFlow):
    """Push keys to key stores: the keys, the key stores (by tag and/or by name), the
    reason and retries, a summary; the job is made under the export quorum of each key's
    template, then runs."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        PushStep.KEYS: StepInfo(
            "The keys to push",
            "Exportable secret keys that are pre-active or active. Each key store receives "
            "them under its own KEK.",
            ("keys",),
        ),
        PushStep.TARGETS: StepInfo(
            "The key stores",
            "Every key store carrying a tag ticked, and every key store ticked by name.",
            ("targets",),
        ),
        PushStep.OPTIONS: StepInfo(
            "Reason and retries",
            "A key store that cannot be reached is tried again after a wait that doubles "
            "each time, then reported failed.",
            ("reason", "attempts", "backoff"),
        ),
        PushStep.SUMMARY: StepInfo(
            "Summary",
            "The job is written down before anything is sent, then runs; Stop leaves it "
            "to resume later.",
            ("requirement",),
        ),
    }

    def __init__(self, choices: DistributionChoices | None = None) -> None:
        _Flow.__init__(self, PushStep.KEYS)
        _JobFlow.__init__(self)
        if choices is not None:
            self.load(choices)
        self.key_labels: tuple[str, ...] = ()

    def validate_keys(self, labels: Sequence[str]) -> FieldErrors:
        if not labels:
            return {"keys": "Tick at least one key to push."}
        for label in labels:
            key = self.choices.key(label)
            if key is None:
                return {"keys": f"No pre-active or active key labelled {label!r}."}
            problem = export_refusal(key, self.choices.template_of(key))
            if problem:
                return {"keys": problem}
        return {}

    def set_keys(self, labels: Sequence[str]) -> None:
        errors = self.validate_keys(labels)
        if errors:
            raise FlowError(errors)
        self.key_labels = tuple(labels)

    def keys(self) -> list[ManagedKey]:
        return [k for k in (self.choices.key(label) for label in self.key_labels) if k]

    def validate_targets(self, tags: Sequence[str], names: Sequence[str]) -> FieldErrors:
        if not tags and not names:
            return {"targets": "Tick at least one tag or key store."}
        return self._targets_errors(tags, names, self.keys())

    def set_targets(self, tags: Sequence[str], names: Sequence[str]) -> None:
        errors = self.validate_targets(tags, names)
        if errors:
            raise FlowError(errors)
        self.target_tags, self.target_names = tuple(tags), tuple(names)

    def summary_rows(self) -> list[tuple[str, str]]:
        keys = self.keys()
        return [
            ("Keys", "; ".join(key_line(k) for k in keys)),
            ("Key stores", self._targets_text()),
            *self._option_rows(),
        ]

    def summary(self) -> str:
        keys, stores = self.keys(), self.chosen_stores()
        return (
            f"Push {_plural(len(keys), 'key')} to {_plural(len(stores), 'key store')}: "
            f"{len(keys) * len(stores)} deliveries at most (a version a key store holds "
            "already is not sent again)."
        )

    def quorum_needs(self) -> list[tuple[Action, str]]:
        """(action, template id) of every quorum the job is made under."""
        return [(Action.EXPORT_KEY, t) for t in self._templates_of(self.keys())]

    def quorum_names(self) -> list[tuple[Action, str]]:
        return [(a, self._template_name(t)) for a, t in self.quorum_needs()]

    def make(self, distribute: Distribute) -> DistributionJob:
        for step in (PushStep.KEYS, PushStep.TARGETS, PushStep.OPTIONS):
            errors = self.errors(step)
            if errors:
                raise FlowError(errors)
        return distribute(
            list(self.key_labels),
            targets=list(self.target_names),
            tags=list(self.target_tags),
            reason=self.options.reason,
            max_attempts=self.options.attempts,
            backoff_seconds=self.options.backoff,
        )

    def record_job(self, job: DistributionJob) -> None:
        self.job = job

    def errors(self, step: PushStep | None = None) -> FieldErrors:
        step = step or self.step
        if step is PushStep.KEYS:
            return self.validate_keys(self.key_labels)
        if step is PushStep.TARGETS:
            return self.validate_targets(self.target_tags, self.target_names)
        if step is PushStep.OPTIONS:
            o = self.options
            return self.validate_options(o.reason, o.attempts, o.backoff)
        return {}


class RotateAllStep(StrEnum):
    SCOPE = "scope"
    CANDIDATES = "candidates"
    TARGETS = "targets"
    OPTIONS = "options"
    SUMMARY = "summary"


Candidates = Callable[[str | None, Sequence[str]], list[ManagedKey]]
"""``DistributionService.rotation_candidates`` with the session bound: ``(template,
key_refs) -> keys``."""
Rotate = Callable[..., DistributionJob]
"""``DistributionService.rotate`` with the session bound."""


class RotateAllFlow(_Flow[RotateAllStep], _JobFlow):
    """Bulk rotation: every key of a template that can be rotated now (or the keys
    ticked) gets a successor, under the rotation and export quorums gathered once; the
    successors go to the key stores chosen, by default those that hold the keys."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        RotateAllStep.SCOPE: StepInfo(
            "What to rotate",
            "Every key of a template that can be rotated now, or the keys you tick.",
            ("template", "keys"),
        ),
        RotateAllStep.CANDIDATES: StepInfo(
            "The keys to rotate",
            "Each gets a successor from its template's current version (pre-active, version + 1).",
            ("candidates",),
        ),
        RotateAllStep.TARGETS: StepInfo(
            "Where the successors go",
            "By default every key store that holds a version of one of these keys.",
            ("targets",),
        ),
        RotateAllStep.OPTIONS: StepInfo(
            "Reason and retries",
            "The reason is kept with each rotation and the job in the audit log.",
            ("reason", "attempts", "backoff"),
        ),
        RotateAllStep.SUMMARY: StepInfo(
            "Summary",
            "Rotation and export quorums are gathered once, for the whole job.",
            ("requirement",),
        ),
    }

    def __init__(self, choices: DistributionChoices | None = None) -> None:
        _Flow.__init__(self, RotateAllStep.SCOPE)
        _JobFlow.__init__(self)
        if choices is not None:
            self.load(choices)
        self.template_name: str | None = None
        self.key_labels: tuple[str, ...] = ()
        self.candidates: tuple[ManagedKey, ...] | None = None
        self.use_holders = True

    def rotatable_templates(self) -> list[KeyTemplate]:
        """Templates of the secret keys listed (active or not: the service says which
        keys can be rotated now)."""
        ids = {k.template_id for k in self.choices.keys if k.algorithm.is_symmetric}
        return sorted(
            (t for t in self.choices.templates if t.id in ids), key=lambda t: t.name.casefold()
        )

    def rotatable_keys(self) -> list[ManagedKey]:
        return _sorted(
            k for k in self.choices.keys if k.algorithm.is_symmetric and k.successor_id is None
        )

    def validate_scope(self, template: str | None, labels: Sequence[str]) -> FieldErrors:
        if template and labels:
            return {"scope": "Choose a template or tick keys, not both."}
        if template:
            if self.choices.template(template) is None:
                return {"template": f"No template named {template!r}."}
            return {}
        if not labels:
            return {"scope": "Choose a template, or tick the keys to rotate."}
        for label in labels:
            key = self.choices.key(label)
            if key is None:
                return {"keys": f"No pre-active or active key labelled {label!r}."}
            if key.successor_id is not None:
                return {"keys": f"Key {label} already has a successor; rotate that one instead."}
        return {}

    def set_scope(self, template: str | None, labels: Sequence[str]) -> None:
        errors = self.validate_scope(template, labels)
        if errors:
            raise FlowError(errors)
        changed = (template or None, tuple(labels)) != (self.template_name, self.key_labels)
        self.template_name, self.key_labels = template or None, tuple(labels)
        if changed:
            self.candidates = None
            self.requirement = None

    def find_candidates(self, candidates: Candidates) -> list[ManagedKey]:
        errors = self.errors(RotateAllStep.SCOPE)
        if errors:
            raise FlowError(errors)
        return candidates(self.template_name, list(self.key_labels))

    def set_candidates(self, keys: Sequence[ManagedKey]) -> None:
        self.candidates = tuple(keys)

    def validate_candidates(self) -> FieldErrors:
        if self.candidates is None:
            return {"candidates": "The keys to rotate have not been read yet."}
        if not self.candidates:
            return {"candidates": "No key can be rotated now."}
        return {}

    def holders(self) -> list[KeyStore]:
        """Key stores that held a version of one of the candidates when last asked."""
        ids = {k.id for k in self.candidates or ()}
        return sorted(
            (s for s in self.choices.stores if any(h.key_id in ids for h in s.held)),
            key=lambda s: s.name.casefold(),
        )

    def validate_targets(
        self, use_holders: bool, tags: Sequence[str], names: Sequence[str]
    ) -> FieldErrors:
        if use_holders:
            if tags or names:
                return {"targets": "Untick the tags and key stores, or untick 'where held'."}
            return self._targets_errors((), [s.name for s in self.holders()], ())
        if not tags and not names:
            return {"targets": "Tick at least one tag or key store, or choose 'where held'."}
        return self._targets_errors(tags, names, ())

    def set_targets(self, use_holders: bool, tags: Sequence[str], names: Sequence[str]) -> None:
        errors = self.validate_targets(use_holders, tags, names)
        if errors:
            raise FlowError(errors)
        self.use_holders = use_holders
        self.target_tags, self.target_names = tuple(tags), tuple(names)

    def chosen_stores(self) -> list[KeyStore]:
        if self.use_holders:
            return self.holders()
        return super().chosen_stores()

    def candidate_rows(self) -> list[tuple[str, str, str, str, str]]:
        """(label, version, KCV, state, held by) of each key to rotate."""
        rows = []
        for k in self.candidates or ():
            held = [s.name for s in self.choices.stores if any(h.key_id == k.id for h in s.held)]
            rows.append(
                (
                    k.label,
                    str(k.version),
                    k.kcv,
                    k.state.value,
                    ", ".join(held) or "(no key store)",
                )
            )
        return rows

    def summary_rows(self) -> list[tuple[str, str]]:
        keys = self.candidates or ()
        scope = (
            f"every key of template {self.template_name!r} that can be rotated now"
            if self.template_name
            else "the keys ticked"
        )
        stores = self.chosen_stores()
        if self.use_holders:
            where = (
                f"where the keys are held: {_plural(len(stores), 'key store')} "
                f"({', '.join(s.name for s in stores[:8])}{', …' if len(stores) > 8 else ''})"
                if stores
                else "nowhere: no key store holds these keys (they are rotated only)"
            )
        else:
            where = self._targets_text()
        return [
            ("Rotate", f"{_plural(len(keys), 'key')}, {scope}"),
            ("Keys", ", ".join(f"{k.label} (v{k.version})" for k in keys)),
            ("Successors to", where),
            *self._option_rows(),
        ]

    def summary(self) -> str:
        keys = self.candidates or ()
        stores = self.chosen_stores()
        return (
            f"Rotate {_plural(len(keys), 'key')} and push the successors to "
            f"{_plural(len(stores), 'key store')}."
        )

    def quorum_needs(self) -> list[tuple[Action, str]]:
        templates = self._templates_of(self.candidates or ())
        return [(Action.ROTATE_KEY, t) for t in templates] + [
            (Action.EXPORT_KEY, t) for t in templates
        ]

    def quorum_names(self) -> list[tuple[Action, str]]:
        return [(a, self._template_name(t)) for a, t in self.quorum_needs()]

    def make(self, rotate: Rotate) -> DistributionJob:
        for step in (RotateAllStep.SCOPE, RotateAllStep.CANDIDATES, RotateAllStep.TARGETS):
            errors = self.errors(step)
            if errors:
                raise FlowError(errors)
        keys = self.candidates or ()
        return rotate(
            template=None if self.key_labels else self.template_name,
            key_refs=[k.id for k in keys] if self.key_labels else [],
            targets=[] if self.use_holders else list(self.target_names),
            tags=[] if self.use_holders else list(self.target_tags),
            reason=self.options.reason,
            max_attempts=self.options.attempts,
            backoff_seconds=self.options.backoff,
        )

    def record_job(self, job: DistributionJob) -> None:
        self.job = job

    def errors(self, step: RotateAllStep | None = None) -> FieldErrors:
        step = step or self.step
        if step is RotateAllStep.SCOPE:
            return self.validate_scope(self.template_name, self.key_labels)
        if step is RotateAllStep.CANDIDATES:
            return self.validate_candidates()
        if step is RotateAllStep.TARGETS:
            return self.validate_targets(self.use_holders, self.target_tags, self.target_names)
        if step is RotateAllStep.OPTIONS:
            o = self.options
            return self.validate_options(o.reason, o.attempts, o.backoff)
        return {}


def finished_text(report: JobReport) -> tuple[str, bool]:
    """What the run view says when a run ends: (text, whether something failed)."""
    job = report.job
    if job.state is JobState.RUNNING:
        return (
            f"Stopped: {report.text()}. The job stays unfinished; Resume carries it on.",
            False,
        )
    if job.state is JobState.DONE:
        return f"Done: {report.text()}.", False
    if job.state is JobState.CANCELLED:
        return f"Cancelled: {report.text()}.", True
    return f"Finished with failures: {report.text()}. Retry failed tries them again.", True
