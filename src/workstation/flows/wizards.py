"""The key wizards and the administration forms as plain Python.

A flow is a small state machine over named steps. For each step it says what the step
needs (``StepInfo.needs``), checks a step's input with a ``validate_*`` method that
returns field errors in words (``{"count": "Generate between 1 and 100,000 keys."}``;
empty when all is well), stores accepted input with the matching ``set_*`` method (which
raises :class:`FlowError` with the same errors), and decides which step comes next
(``next_step``). ``advance()`` checks the current step's stored input and moves on;
``back()`` returns to the step before.

The flows never call a service themselves except through a callable the caller passes in
(``generate``, ``rotate``, ``apply``), so the Qt wizards can run that callable on the device
thread and a test can pass a fake. The services check every rule again when the work runs:
a flow only catches input mistakes early, next to the field that holds them.

The forms at the end (:class:`TemplateForm`, :class:`PolicyForm`, :class:`EnrolForm`,
:class:`GroupForm`) are one-step flows for the administration dialogs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.keys import ACTION_TARGET, KeyState, ManagedKey, allowed_actions
from workstation.domain.people import Group, Role
from workstation.domain.policy import KEY_ACTIONS, Action, PolicySet, Quorum
from workstation.domain.templates import (
    EXPORTABILITY,
    KEY_USAGES,
    MODES_OF_USE,
    KeyTemplate,
    TemplateStatus,
    check_label_pattern,
    render_label,
)
from workstation.errors import BadInput
from workstation.services.keys import Availability, GenerationResult, KeyDetail
from workstation.services.logon import Requirement

__all__ = [
    "MAX_KEYS_PER_RUN",
    "MAX_REASON",
    "EnrolForm",
    "FieldErrors",
    "FlowError",
    "GenerateKeyFlow",
    "GenerateKeys",
    "GenerateStep",
    "GroupForm",
    "PolicyForm",
    "RotateFlow",
    "RotateStep",
    "StateChangeFlow",
    "StateChangeStep",
    "StepInfo",
    "TemplateForm",
    "describe_period",
    "quorum_text",
    "requirement_lines",
]

FieldErrors = dict[str, str]
"""Field name -> what is wrong with it, in words. Empty when the input is acceptable."""

MAX_KEYS_PER_RUN = 100_000  # as the key service accepts
MAX_REASON = 500
MAX_LABEL = 128

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FlowError(BadInput):
    """Input a step cannot accept; ``errors`` says which field and why."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: FieldErrors = dict(errors)
        super().__init__(" ".join(self.errors.values()) or "The input is not complete.")


@dataclass(frozen=True)
class StepInfo:
    """What a step is called, what it asks for, and the input it needs (field names)."""

    title: str
    subtitle: str
    needs: tuple[str, ...] = ()


S = TypeVar("S", bound=StrEnum)


class QuorumShown:
    """The quorum a flow's commit page shows: set once the services say who is needed for
    the action (``LogonService.requirement``), shown as lines until then and after."""

    requirement: Requirement | None = None

    def set_requirement(self, requirement: Requirement) -> None:
        self.requirement = requirement

    def quorum_lines(self) -> list[str]:
        if self.requirement is None:
            return ["Checking who is needed…"]
        return requirement_lines(self.requirement)


class _Flow(ABC, Generic[S]):
    """Steps, history and navigation shared by the wizards' flows."""

    STEPS: ClassVar[Mapping[Any, StepInfo]]

    def __init__(self, first: S) -> None:
        self.step: S = first
        self._history: list[S] = []

    def info(self, step: S | None = None) -> StepInfo:
        info: StepInfo = self.STEPS[step if step is not None else self.step]
        return info

    @abstractmethod
    def errors(self, step: S | None = None) -> FieldErrors:
        """What is wrong with the stored input of ``step`` (default: the current one)."""

    def next_step(self, step: S | None = None) -> S | None:
        """The step after ``step`` (default: the current one); None after the last. Steps
        follow their declaration order unless a flow skips some."""
        order = list(type(self.step))
        index = order.index(step or self.step)
        return order[index + 1] if index + 1 < len(order) else None

    def advance(self) -> S:
        """Check the current step and go to the next; raises :class:`FlowError`."""
        errors = self.errors()
        if errors:
            raise FlowError(errors)
        following = self.next_step()
        if following is None:
            raise FlowError({"flow": "This is the last step."})
        self._history.append(self.step)
        self.step = following
        return following

    def back(self) -> S:
        """Return to the step before (the input given there is kept)."""
        if not self._history:
            raise FlowError({"flow": "This is the first step."})
        self.step = self._history.pop()
        return self.step

    def back_to(self, step: S) -> None:
        """Return to ``step`` if it was passed (used when a page covers several steps)."""
        while self.step != step and self._history:
            self.step = self._history.pop()

    @property
    def path(self) -> list[S]:
        """The steps taken so far, the current one last."""
        return [*self._history, self.step]

    @property
    def finished(self) -> bool:
        return self.next_step() is None


# --- shared wording ----------------------------------------------------------------------


def describe_period(days: int) -> str:
    """A crypto-period in words.

    >>> describe_period(730)
    '730 days (2 years)'
    >>> describe_period(1)
    '1 day'
    """
    text = f"{days:,} day{'s' if days != 1 else ''}"
    if days >= 365 and days % 365 == 0:
        years = days // 365
        text += f" ({years} year{'s' if years != 1 else ''})"
    return text


def describe_algorithm(algorithm: KeyAlgorithm) -> str:
    """An algorithm and what kind of key it makes.

    >>> describe_algorithm(KeyAlgorithm.AES_256)
    'AES-256 (256-bit secret key)'
    """
    if algorithm.is_symmetric:
        return f"{algorithm.value} ({algorithm.bits}-bit secret key)"
    return f"{algorithm.value} (key pair; the private key stays wrapped)"


def _coded(code: str, table: Mapping[str, str]) -> str:
    meaning = table.get(code)
    return f"{code} — {meaning}" if meaning else code


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment is not None else "—"


def requirement_lines(requirement: Requirement) -> list[str]:
    """The quorum step in words: what the action needs, who is here, who is missing."""
    action = requirement.action.display.capitalize()
    lines = [f"{action} needs {requirement.quorum}."]
    present = ", ".join(requirement.present) or "nobody"
    lines.append(f"Logged on now: {present}.")
    if requirement.met:
        lines.append("The quorum is met: you can go ahead.")
    elif requirement.reason:
        lines.append(requirement.reason)
    else:
        lines.append(
            f"Still missing: {', '.join(requirement.missing)}. When you go ahead, the "
            "workstation asks them to insert their cards and type their PINs."
        )
    return lines


def quorum_text(quorum: Quorum) -> str:
    """A quorum in the syntax ``Quorum.parse`` reads, for an editable field.

    >>> quorum_text(Quorum.parse("1 auditor|security officer + 2 of group custodians A"))
    '1 auditor|security_officer + 2 of group custodians A'
    """
    terms = []
    for req in quorum.requirements:
        if req.group is not None:
            terms.append(f"{req.count} of group {req.group}")
        else:
            terms.append(f"{req.count} {'|'.join(sorted(r.value for r in req.roles))}")
    return " + ".join(terms)


def _check_reason(reason: str, *, required: bool, what: str) -> str | None:
    text = reason.strip()
    if required and not text:
        return f"Say why: {what} needs a reason, which is kept in the audit log."
    if len(text) > MAX_REASON:
        return f"Keep the reason to {MAX_REASON} characters (it has {len(text)})."
    return None


# --- generate keys -----------------------------------------------------------------------


class GenerateStep(StrEnum):
    TEMPLATE = "template"
    REVIEW = "review"
    QUORUM = "quorum"
    GENERATE = "generate"
    RESULT = "result"


class GenerateKeys(Protocol):
    """The key service's ``generate`` with the session bound."""

    def __call__(
        self,
        template_ref: str,
        *,
        count: int,
        label: str | None,
        activation_date: datetime | None,
        progress: Callable[[int, int], None] | None,
        cancelled: Callable[[], bool] | None,
    ) -> GenerationResult: ...


@dataclass(frozen=True)
class GeneratedRow:
    label: str
    kcv: str
    state: str
    activation: str
    deactivation: str


class GenerateKeyFlow(_Flow[GenerateStep], QuorumShown):
    """Choose a template, review what it makes (with count, label and activation date),
    see the quorum, generate, and read the labels and check values."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        GenerateStep.TEMPLATE: StepInfo(
            "Choose a template",
            "The template fixes the algorithm, the TR-31 attributes, the crypto-period and "
            "the label of the new keys.",
            ("template",),
        ),
        GenerateStep.REVIEW: StepInfo(
            "Review the key attributes",
            "Check what the template makes. Choose how many keys, and optionally a label "
            "(one key only) and a later activation date.",
            ("count", "label", "activation_date"),
        ),
        GenerateStep.QUORUM: StepInfo(
            "Dual control",
            "Generating keys needs the people below. Missing people are asked for their "
            "cards when you press Generate.",
            ("requirement",),
        ),
        GenerateStep.GENERATE: StepInfo(
            "Generating",
            "The HSM generates the keys; each is wrapped under the master key.",
            ("result",),
        ),
        GenerateStep.RESULT: StepInfo(
            "Keys generated",
            "Write down or compare the key check values (KCV) where your procedure asks.",
        ),
    }

    def __init__(self, templates: Sequence[KeyTemplate] = (), *, clock: Clock = _utc_now) -> None:
        super().__init__(GenerateStep.TEMPLATE)
        self.clock = clock
        self.templates: list[KeyTemplate] = list(templates)
        self.template: KeyTemplate | None = None
        self.count = 1
        self.label: str | None = None
        self.activation_date: date | None = None
        self.requirement: Requirement | None = None
        self.result: GenerationResult | None = None

    # step 1: template

    def set_templates(self, templates: Iterable[KeyTemplate]) -> None:
        self.templates = list(templates)

    @property
    def choosable(self) -> list[KeyTemplate]:
        """Templates keys can be made from now (active ones), by name."""
        return sorted(
            (t for t in self.templates if t.status is TemplateStatus.ACTIVE),
            key=lambda t: t.name.casefold(),
        )

    def _find(self, name: str) -> KeyTemplate | None:
        wanted = name.strip().casefold()
        return next((t for t in self.templates if t.name.casefold() == wanted), None)

    def validate_template(self, name: str | None) -> FieldErrors:
        if not name or not name.strip():
            return {"template": "Choose the template the keys are made from."}
        template = self._find(name)
        if template is None:
            return {"template": f"No template named {name!r}."}
        if template.status is not TemplateStatus.ACTIVE:
            return {"template": f"Template {template.name!r} is retired; no keys are made from it."}
        return {}

    def choose_template(self, name: str) -> KeyTemplate:
        errors = self.validate_template(name)
        if errors:
            raise FlowError(errors)
        template = self._find(name)
        assert template is not None
        if template != self.template:
            self.requirement = None
            self.label = None
        self.template = template
        return template

    # step 2: review

    def example_label(self, seq: int = 1) -> str:
        assert self.template is not None
        return render_label(
            self.template.label_pattern,
            seq=seq,
            when=self.clock(),
            template=self.template.name,
            version=1,
        )

    def review_rows(self) -> list[tuple[str, str]]:
        """The attributes the new keys get, as (name, value) in reading order."""
        t = self.template
        if t is None:
            return []
        if self.requirement is not None:
            quorum = self.requirement.quorum
        elif Action.GENERATE_KEY in t.quorums:
            quorum = t.quorums[Action.GENERATE_KEY].describe()
        else:
            quorum = "as the workstation policy sets"
        if Action.GENERATE_KEY in t.quorums:
            quorum += " (set by this template)"
        rows = [
            ("Template", f"{t.name} (version {t.version})"),
            ("Algorithm", describe_algorithm(t.algorithm)),
            ("Key usage (TR-31)", _coded(t.key_usage, KEY_USAGES)),
            ("Mode of use", _coded(t.mode_of_use, MODES_OF_USE)),
            ("Exportability", _coded(t.exportability, EXPORTABILITY)),
            ("Crypto-period", describe_period(t.crypto_period_days)),
            ("Label pattern", f"{t.label_pattern}  (e.g. {self.example_label()})"),
            ("Quorum to generate", quorum),
        ]
        if t.test_key:
            rows.append(("Test key", "yes: for test tools only, never for live traffic"))
        if t.description:
            rows.insert(1, ("Purpose", t.description))
        return rows

    def validate_options(
        self, *, count: int, label: str | None, activation_date: date | None
    ) -> FieldErrors:
        errors: FieldErrors = {}
        if not 1 <= count <= MAX_KEYS_PER_RUN:
            errors["count"] = f"Generate between 1 and {MAX_KEYS_PER_RUN:,} keys at a time."
        text = (label or "").strip()
        if text:
            if count != 1:
                errors["label"] = (
                    "A label can only be given for one key; leave it empty and the "
                    "template's pattern names each key."
                )
            elif len(text) > MAX_LABEL:
                errors["label"] = f"A label has at most {MAX_LABEL} characters."
            elif any(not c.isprintable() for c in text):
                errors["label"] = "A label cannot hold control characters."
        if activation_date is not None:
            today = self.clock().astimezone(UTC).date()
            if activation_date < today:
                errors["activation_date"] = (
                    f"The activation date cannot be in the past (today is {today:%Y-%m-%d})."
                )
        return errors

    def set_options(self, *, count: int, label: str | None, activation_date: date | None) -> None:
        errors = self.validate_options(count=count, label=label, activation_date=activation_date)
        if errors:
            raise FlowError(errors)
        self.count = count
        self.label = (label or "").strip() or None
        self.activation_date = activation_date

    def activation_datetime(self) -> datetime | None:
        """When the keys may be activated: None means now; a later day starts 00:00 UTC."""
        if self.activation_date is None:
            return None
        today = self.clock().astimezone(UTC).date()
        if self.activation_date <= today:
            return None
        return datetime.combine(self.activation_date, time(0), tzinfo=UTC)

    # step 3: quorum

    def summary(self) -> str:
        """What pressing Generate does, in one sentence."""
        if self.template is None:
            return ""
        what = "1 key" if self.count == 1 else f"{self.count:,} keys"
        text = f"Generate {what} from template {self.template.name!r}"
        if self.label:
            text += f", labelled {self.label!r}"
        activation = self.activation_datetime()
        text += (
            f", to be activated from {activation:%Y-%m-%d}"
            if activation
            else ", usable once activated"
        )
        return text + "."

    @property
    def cancellable(self) -> bool:
        """Bulk generation may be stopped; keys already made are kept."""
        return self.count > 1

    # step 4: generate

    def generate(
        self,
        generate: GenerateKeys,
        *,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> GenerationResult:
        """Run the generation through ``generate`` (the service, session bound)."""
        if self.template is None:
            raise FlowError({"template": "Choose a template first."})
        return generate(
            self.template.name,
            count=self.count,
            label=self.label,
            activation_date=self.activation_datetime(),
            progress=progress,
            cancelled=cancelled,
        )

    def record_result(self, result: GenerationResult) -> None:
        self.result = result
        while self.step is not GenerateStep.RESULT:
            self.advance()

    # step 5: result

    def result_rows(self) -> list[GeneratedRow]:
        if self.result is None:
            return []
        return [
            GeneratedRow(
                k.label, k.kcv, k.state.value, _when(k.activation_date), _when(k.deactivation_date)
            )
            for k in self.result.keys
        ]

    def result_summary(self) -> str:
        if self.result is None:
            return "No key was generated yet."
        made, wanted = len(self.result.keys), self.result.requested
        noun = "key" if wanted == 1 else "keys"
        if self.result.stopped_reason is None:
            return f"{made:,} {noun} generated, each in the pre-activation state."
        return (
            f"Stopped after {made:,} of {wanted:,} {noun}: {self.result.stopped_reason}. The "
            f"{made:,} keys made are complete and recorded in the audit log."
        )

    # navigation

    def errors(self, step: GenerateStep | None = None) -> FieldErrors:
        step = step or self.step
        if step is GenerateStep.TEMPLATE:
            return self.validate_template(self.template.name if self.template else None)
        if step is GenerateStep.REVIEW:
            return self.validate_options(
                count=self.count, label=self.label, activation_date=self.activation_date
            )
        if step is GenerateStep.GENERATE and self.result is None:
            return {"result": "The keys have not been generated yet."}
        return {}


# --- rotate a key ------------------------------------------------------------------------


class RotateStep(StrEnum):
    KEY = "key"
    REVIEW = "review"
    QUORUM = "quorum"
    ROTATE = "rotate"
    RESULT = "result"


RotateKey = Callable[[str, str], tuple[ManagedKey, ManagedKey]]
"""The key service's ``rotate(session, ref, reason=...)`` with the session bound:
``(label, reason) -> (predecessor, successor)``."""


class RotateFlow(_Flow[RotateStep], QuorumShown):
    """Rotate a key: its successor is made from the current version of its template and
    linked both ways; the predecessor keeps its state until someone changes it."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        RotateStep.KEY: StepInfo(
            "The key to rotate",
            "Only a key that is pre-active, active or suspended and has no successor yet "
            "can be rotated.",
            ("detail",),
        ),
        RotateStep.REVIEW: StepInfo(
            "Review predecessor and successor",
            "The successor is a new key from the template's current version; its label "
            "and check value differ from the predecessor's.",
            ("reason",),
        ),
        RotateStep.QUORUM: StepInfo(
            "Dual control",
            "Rotation needs the people below. Missing people are asked for their cards "
            "when you press Rotate.",
            ("requirement",),
        ),
        RotateStep.ROTATE: StepInfo("Rotating", "The HSM generates the successor.", ("result",)),
        RotateStep.RESULT: StepInfo(
            "Key rotated", "The successor starts in pre-activation; activate it when due."
        ),
    }

    def __init__(self, key_label: str, *, clock: Clock = _utc_now) -> None:
        super().__init__(RotateStep.KEY)
        self.key_label = key_label
        self.clock = clock
        self.detail: KeyDetail | None = None
        self.reason = ""
        self.requirement: Requirement | None = None
        self.result: tuple[ManagedKey, ManagedKey] | None = None

    def load(self, detail: KeyDetail) -> None:
        self.detail = detail
        self.key_label = detail.key.label

    @property
    def template(self) -> KeyTemplate | None:
        return self.detail.template if self.detail is not None else None

    def validate_key(self) -> FieldErrors:
        if self.detail is None:
            return {"key": f"Key {self.key_label} has not been read yet."}
        key, template = self.detail.key, self.detail.template
        if not self.detail.integrity_ok:
            return {
                "key": f"The record of key {key.label} failed its integrity check; it is "
                "refused. Report this to a security officer."
            }
        if Action.ROTATE_KEY not in allowed_actions(key.state):
            return {"key": f"Key {key.label} is {key.state.value}; it cannot be rotated."}
        if key.successor_id is not None:
            return {"key": f"Key {key.label} already has a successor; rotate that one instead."}
        if template is None:
            return {"key": f"The template of key {key.label} is missing; it cannot be rotated."}
        if template.status is not TemplateStatus.ACTIVE:
            return {"key": f"Template {template.name!r} is retired; no successor can be made."}
        if not template.allows(Action.ROTATE_KEY):
            return {"key": f"Template {template.name!r} does not allow rotation."}
        return {}

    def comparison_rows(self) -> list[tuple[str, str, str]]:
        """(attribute, predecessor, successor) side by side, in reading order."""
        if self.detail is None:
            return []
        k, t = self.detail.key, self.detail.template
        if t is None:
            return [("Label", k.label, "—"), ("Key check value", k.kcv, "—")]
        end = self.clock() + timedelta(days=t.crypto_period_days)
        return [
            ("Template", t.name, f"{t.name} (version {t.version})"),
            ("Label", k.label, f"from the pattern {t.label_pattern}"),
            ("State", k.state.value, KeyState.PRE_ACTIVATION.value),
            ("Version", str(k.version), str(k.version + 1)),
            ("Algorithm", describe_algorithm(k.algorithm), describe_algorithm(t.algorithm)),
            (
                "TR-31",
                f"usage {k.key_usage}, mode {k.mode_of_use}, export {k.exportability}",
                f"usage {t.key_usage}, mode {t.mode_of_use}, export {t.exportability}",
            ),
            ("Key check value", k.kcv, "computed by the HSM when generated"),
            ("Activation", _when(k.activation_date), "when someone activates it"),
            (
                "Crypto-period",
                describe_period((k.deactivation_date - k.activation_date).days),
                describe_period(t.crypto_period_days),
            ),
            (
                "End of crypto-period",
                _when(k.deactivation_date),
                f"{_when(end)} if activated today",
            ),
        ]

    def validate_review(self, reason: str) -> FieldErrors:
        problem = _check_reason(reason, required=False, what="rotation")
        return {"reason": problem} if problem else {}

    def set_reason(self, reason: str) -> None:
        errors = self.validate_review(reason)
        if errors:
            raise FlowError(errors)
        self.reason = reason.strip()

    def summary(self) -> str:
        template = self.template.name if self.template else "its template"
        return f"Make a successor of key {self.key_label} from template {template!r}."

    def rotate(self, rotate: RotateKey) -> tuple[ManagedKey, ManagedKey]:
        errors = self.validate_key()
        if errors:
            raise FlowError(errors)
        return rotate(self.key_label, self.reason)

    def record_result(self, result: tuple[ManagedKey, ManagedKey]) -> None:
        self.result = result
        while self.step is not RotateStep.RESULT:
            self.advance()

    def result_rows(self) -> list[tuple[str, str, str, str]]:
        """(role, label, KCV, state) for the predecessor and the successor."""
        if self.result is None:
            return []
        old, new = self.result
        return [
            ("Predecessor", old.label, old.kcv, old.state.value),
            ("Successor", new.label, new.kcv, new.state.value),
        ]

    def result_summary(self) -> str:
        if self.result is None:
            return "The key has not been rotated yet."
        old, new = self.result
        return (
            f"Key {old.label} now has the successor {new.label} (version {new.version}, KCV "
            f"{new.kcv}); each names the other. The predecessor stays {old.state.value}: "
            "change its state when the successor takes over."
        )

    def errors(self, step: RotateStep | None = None) -> FieldErrors:
        step = step or self.step
        if step is RotateStep.KEY:
            return self.validate_key()
        if step is RotateStep.REVIEW:
            return self.validate_review(self.reason)
        if step is RotateStep.ROTATE and self.result is None:
            return {"result": "The key has not been rotated yet."}
        return {}


# --- change a key's state ----------------------------------------------------------------


class StateChangeStep(StrEnum):
    KEY = "key"
    ACTION = "action"
    REASON = "reason"
    CONFIRM = "confirm"
    RESULT = "result"


# Actions whose wizard asks for a reason (required where the service requires it).
ASKS_REASON: frozenset[Action] = frozenset(
    {Action.SUSPEND_KEY, Action.DEACTIVATE_KEY, Action.COMPROMISE_KEY, Action.DESTROY_KEY}
)
NEEDS_REASON: frozenset[Action] = frozenset({Action.COMPROMISE_KEY, Action.DESTROY_KEY})
# Nothing undoes these; the person confirms they mean it.
IRREVERSIBLE: frozenset[Action] = frozenset({Action.COMPROMISE_KEY, Action.DESTROY_KEY})

ACTION_TITLES: Mapping[Action, str] = {
    Action.ACTIVATE_KEY: "Activate",
    Action.SUSPEND_KEY: "Suspend",
    Action.REINSTATE_KEY: "Reinstate",
    Action.DEACTIVATE_KEY: "Deactivate",
    Action.COMPROMISE_KEY: "Mark compromised",
    Action.DESTROY_KEY: "Destroy",
}

ACTION_EFFECTS: Mapping[Action, str] = {
    Action.ACTIVATE_KEY: "The key may be used for its purpose from now on.",
    Action.SUSPEND_KEY: "The key may not be used until it is reinstated.",
    Action.REINSTATE_KEY: "A suspended key becomes active again.",
    Action.DEACTIVATE_KEY: "The key no longer protects new data; it may still process "
    "(decrypt, verify) what it protected.",
    Action.COMPROMISE_KEY: "The key is no longer trusted. It may only be destroyed "
    "afterwards; this cannot be undone.",
    Action.DESTROY_KEY: "The wrapped key material is erased; only its record remains. This "
    "cannot be undone.",
}

ChangeState = Callable[[str, Action, str, datetime | None], ManagedKey]
"""The key service's ``change_state(session, ref, action, reason=, compromise_date=)`` with
the session bound: ``(label, action, reason, compromise_date) -> key``."""


class StateChangeFlow(_Flow[StateChangeStep], QuorumShown):
    """Move a key to another lifecycle state: key → action → reason (and, for a
    compromise, when it happened) → confirm → result."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        StateChangeStep.KEY: StepInfo(
            "The key", "The key whose state changes, as the repository holds it.", ("detail",)
        ),
        StateChangeStep.ACTION: StepInfo(
            "The change",
            "Only the changes its state and template allow are offered.",
            ("action",),
        ),
        StateChangeStep.REASON: StepInfo(
            "Why",
            "The reason is kept in the key's history and in the audit log.",
            ("reason", "compromise_date"),
        ),
        StateChangeStep.CONFIRM: StepInfo(
            "Confirm",
            "Check the change. Missing people are asked for their cards when you go ahead.",
            ("confirmed", "requirement"),
        ),
        StateChangeStep.RESULT: StepInfo("Done", "The key's new state is recorded."),
    }

    def __init__(self, key_label: str, action: Action, *, clock: Clock = _utc_now) -> None:
        super().__init__(StateChangeStep.KEY)
        self.key_label = key_label
        self.action = action
        self.clock = clock
        self.detail: KeyDetail | None = None
        self.availability: dict[Action, Availability] = {}
        self.reason = ""
        self.compromise_date: date | None = None
        self.confirmed = False
        self.requirement: Requirement | None = None
        self.result: ManagedKey | None = None

    def load(self, detail: KeyDetail, availability: Iterable[Availability] = ()) -> None:
        self.detail = detail
        self.key_label = detail.key.label
        self.availability = {a.action: a for a in availability}

    @property
    def key(self) -> ManagedKey | None:
        return self.detail.key if self.detail is not None else None

    @property
    def target(self) -> KeyState | None:
        return ACTION_TARGET.get(self.action)

    def today(self) -> date:
        return self.clock().astimezone(UTC).date()

    # step 1: key

    def validate_key(self) -> FieldErrors:
        if self.detail is None:
            return {"key": f"Key {self.key_label} has not been read yet."}
        key = self.detail.key
        if not self.detail.integrity_ok:
            return {
                "key": f"The record of key {key.label} failed its integrity check; it is "
                "refused. Report this to a security officer."
            }
        if key.state is KeyState.DESTROYED:
            return {"key": f"Key {key.label} is destroyed; its state can no longer change."}
        return {}

    def key_rows(self) -> list[tuple[str, str]]:
        if self.detail is None:
            return []
        k = self.detail.key
        template = self.detail.template.name if self.detail.template else "(missing)"
        return [
            ("Label", k.label),
            ("State", k.state.value),
            ("Template", template),
            ("Algorithm", describe_algorithm(k.algorithm)),
            ("Key check value", k.kcv),
            ("Activation", _when(k.activation_date)),
            ("End of crypto-period", _when(k.deactivation_date)),
        ]

    # step 2: action

    def choices(self) -> list[tuple[Action, bool, str]]:
        """The state changes, each with whether it is possible now and why not."""
        out: list[tuple[Action, bool, str]] = []
        for action in ACTION_TARGET:
            known = self.availability.get(action)
            if known is not None:
                out.append((action, known.allowed, known.reason))
            elif self.key is not None:
                ok = action in allowed_actions(self.key.state)
                why = "" if ok else f"Not possible: the key is {self.key.state.value}."
                out.append((action, ok, why))
        return out

    def validate_action(self, action: Action) -> FieldErrors:
        if action not in ACTION_TARGET:
            return {"action": f"{action.display.capitalize()} is not a change of a key's state."}
        known = self.availability.get(action)
        if known is not None and not known.allowed:
            return {"action": known.reason}
        key = self.key
        if key is not None and action not in allowed_actions(key.state):
            return {"action": f"Key {key.label} is {key.state.value}; it cannot be changed so."}
        return {}

    def choose_action(self, action: Action) -> None:
        errors = self.validate_action(action)
        if errors:
            raise FlowError(errors)
        if action != self.action:
            self.confirmed = False
            self.requirement = None
        self.action = action

    # step 3: reason

    @property
    def asks_reason(self) -> bool:
        return self.action in ASKS_REASON

    @property
    def needs_reason(self) -> bool:
        return self.action in NEEDS_REASON

    @property
    def asks_compromise_date(self) -> bool:
        return self.action is Action.COMPROMISE_KEY

    def validate_reason(self, reason: str, compromise_date: date | None = None) -> FieldErrors:
        errors: FieldErrors = {}
        problem = _check_reason(
            reason, required=self.needs_reason, what=ACTION_TITLES.get(self.action, "this")
        )
        if problem:
            errors["reason"] = problem
        if self.asks_compromise_date:
            today = self.today()
            if compromise_date is None:
                errors["compromise_date"] = (
                    "Give the date the key was (or may have been) compromised."
                )
            elif compromise_date > today:
                errors["compromise_date"] = (
                    f"The compromise date cannot be in the future (today is {today:%Y-%m-%d})."
                )
            elif self.key is not None and compromise_date < self.key.created_at.date():
                errors["compromise_date"] = (
                    f"Key {self.key.label} was created on {self.key.created_at:%Y-%m-%d}; it "
                    "cannot have been compromised before."
                )
        return errors

    def set_reason(self, reason: str, compromise_date: date | None = None) -> None:
        errors = self.validate_reason(reason, compromise_date)
        if errors:
            raise FlowError(errors)
        self.reason = reason.strip()
        self.compromise_date = compromise_date if self.asks_compromise_date else None

    def compromise_datetime(self) -> datetime | None:
        """The compromise moment for the service: today means now, an earlier day its start
        (00:00 UTC), so it is never in the future."""
        if not self.asks_compromise_date or self.compromise_date is None:
            return None
        now = self.clock()
        if self.compromise_date >= now.astimezone(UTC).date():
            return now
        return datetime.combine(self.compromise_date, time(0), tzinfo=UTC)

    # step 4: confirm

    @property
    def irreversible(self) -> bool:
        return self.action in IRREVERSIBLE

    def confirm_rows(self) -> list[tuple[str, str]]:
        key = self.key
        rows = [("Key", f"{self.key_label}" + (f" (KCV {key.kcv})" if key else ""))]
        target = self.target
        if key is not None and target is not None:
            rows.append(("Change", f"{key.state.value} → {target.value}"))
        rows.append(("Effect", ACTION_EFFECTS.get(self.action, "")))
        if self.reason:
            rows.append(("Reason", self.reason))
        if self.compromise_date is not None:
            rows.append(("Compromised on", f"{self.compromise_date:%Y-%m-%d}"))
        return rows

    def validate_confirm(self, confirmed: bool) -> FieldErrors:
        if self.irreversible and not confirmed:
            return {
                "confirmed": "This change cannot be undone: tick the box to confirm you mean it."
            }
        return {}

    def set_confirmed(self, confirmed: bool) -> None:
        errors = self.validate_confirm(confirmed)
        if errors:
            raise FlowError(errors)
        self.confirmed = confirmed

    def apply(self, change_state: ChangeState) -> ManagedKey:
        """Make the change through ``change_state`` (the service, session bound)."""
        for step in (StateChangeStep.KEY, StateChangeStep.ACTION, StateChangeStep.REASON):
            errors = self.errors(step)
            if errors:
                raise FlowError(errors)
        return change_state(self.key_label, self.action, self.reason, self.compromise_datetime())

    def record_result(self, key: ManagedKey) -> None:
        self.result = key
        self.step = StateChangeStep.RESULT

    def result_summary(self) -> str:
        if self.result is None:
            return "Nothing has changed yet."
        k = self.result
        text = f"Key {k.label} (KCV {k.kcv}) is now {k.state.value}."
        if k.compromise_date is not None and k.state is KeyState.COMPROMISED:
            text += f" Recorded as compromised on {k.compromise_date:%Y-%m-%d}."
        if k.state is KeyState.DESTROYED:
            text += " Its key material is erased; the record and its history remain."
        return text

    # navigation

    def errors(self, step: StateChangeStep | None = None) -> FieldErrors:
        step = step or self.step
        if step is StateChangeStep.KEY:
            return self.validate_key()
        if step is StateChangeStep.ACTION:
            return self.validate_action(self.action)
        if step is StateChangeStep.REASON:
            return self.validate_reason(self.reason, self.compromise_date)
        if step is StateChangeStep.CONFIRM:
            return self.validate_confirm(self.confirmed)
        return {}

    def next_step(self, step: StateChangeStep | None = None) -> StateChangeStep | None:
        step = step or self.step
        if step is StateChangeStep.KEY:
            return StateChangeStep.ACTION
        if step is StateChangeStep.ACTION:
            return StateChangeStep.REASON if self.asks_reason else StateChangeStep.CONFIRM
        if step is StateChangeStep.REASON:
            return StateChangeStep.CONFIRM
        if step is StateChangeStep.CONFIRM:
            return StateChangeStep.RESULT
        return None


# --- administration forms ----------------------------------------------------------------

TEMPLATE_FIELDS = (
    "name",
    "description",
    "algorithm",
    "key_usage",
    "mode_of_use",
    "exportability",
    "crypto_period_days",
    "label_pattern",
    "allowed_actions",
    "quorums",
    "test_key",
)


def _field_of_template_error(message: str) -> str:
    """Which form field a KeyTemplate refusal concerns (its messages name the attribute)."""
    lowered = message.lower()
    for words, name in (
        ("label pattern", "label_pattern"),
        ("key usage", "key_usage"),
        ("mode of use", "mode_of_use"),
        ("exportability", "exportability"),
        ("crypto-period", "crypto_period_days"),
        ("bdk", "algorithm"),
        ("quorum", "quorums"),
        ("generating keys must be allowed", "allowed_actions"),
        ("needs a name", "name"),
    ):
        if words in lowered:
            return name
    return "form"


@dataclass
class TemplateForm:
    """The template editor: values as the form holds them (text, numbers, ticks), checked
    by the domain's :class:`KeyTemplate` rules, each refusal placed next to its field."""

    name: str = ""
    description: str = ""
    algorithm: str = KeyAlgorithm.AES_256.value
    key_usage: str = "K0"
    mode_of_use: str = "B"
    exportability: str = "E"
    crypto_period_days: int | str = 365
    label_pattern: str = "KEY-{seq:04d}"
    allowed_actions: frozenset[Action] = KEY_ACTIONS
    quorums: Mapping[Action, str] | None = None  # action -> quorum text; empty: the policy's
    test_key: bool = False

    @classmethod
    def from_template(cls, template: KeyTemplate) -> TemplateForm:
        return cls(
            name=template.name,
            description=template.description,
            algorithm=template.algorithm.value,
            key_usage=template.key_usage,
            mode_of_use=template.mode_of_use,
            exportability=template.exportability,
            crypto_period_days=template.crypto_period_days,
            label_pattern=template.label_pattern,
            allowed_actions=frozenset(template.allowed_actions),
            quorums={a: quorum_text(q) for a, q in template.quorums.items()},
            test_key=template.test_key,
        )

    def _parsed(self) -> tuple[dict[str, Any], FieldErrors]:
        errors: FieldErrors = {}
        values: dict[str, Any] = {}
        if not self.name.strip():
            errors["name"] = "A template needs a name."
        elif len(self.name.strip()) > 100:
            errors["name"] = "A template name has at most 100 characters."
        values["name"] = self.name.strip() or "?"
        values["description"] = self.description.strip()
        try:
            values["algorithm"] = KeyAlgorithm.parse(self.algorithm)
        except BadInput as exc:
            errors["algorithm"] = exc.user_message()
        for name, table in (
            ("key_usage", KEY_USAGES),
            ("mode_of_use", MODES_OF_USE),
            ("exportability", EXPORTABILITY),
        ):
            code = str(getattr(self, name)).strip().upper()
            values[name] = code
            if code not in table:
                label = name.replace("_", " ")
                errors[name] = (
                    f"Choose a TR-31 {label} from the list ({code or 'empty'} is not one)."
                )
        try:
            days = int(str(self.crypto_period_days).strip())
        except ValueError:
            errors["crypto_period_days"] = (
                f"The crypto-period is a number of days, not {self.crypto_period_days!r}."
            )
        else:
            values["crypto_period_days"] = days
            if not 1 <= days <= 365 * 30:
                errors["crypto_period_days"] = "The crypto-period must be 1 day to 30 years."
        try:
            check_label_pattern(self.label_pattern)
        except BadInput as exc:
            errors["label_pattern"] = exc.user_message()
        values["label_pattern"] = self.label_pattern.strip()
        values["allowed_actions"] = frozenset(self.allowed_actions)
        if Action.GENERATE_KEY not in self.allowed_actions:
            errors["allowed_actions"] = (
                "Generating keys must be allowed, or the template is useless."
            )
        quorums: dict[Action, Quorum] = {}
        bad: list[str] = []
        for action, text in (self.quorums or {}).items():
            if not text.strip():
                continue
            if action not in KEY_ACTIONS:
                bad.append(f"{action.display}: quorums are set here only for key actions.")
                continue
            try:
                quorums[action] = Quorum.parse(text)
            except BadInput as exc:
                bad.append(f"{action.display}: {exc.user_message()}")
        if bad:
            errors["quorums"] = " ".join(bad)
        values["quorums"] = quorums
        values["test_key"] = bool(self.test_key)
        return values, errors

    def validate(self) -> FieldErrors:
        """Every field error at once; empty when the domain accepts the template."""
        values, errors = self._parsed()
        if errors:
            return errors
        try:
            KeyTemplate(id="form", **values)
        except BadInput as exc:
            return {_field_of_template_error(exc.user_message()): exc.user_message()}
        return {}

    def fields(self) -> dict[str, Any]:
        """The values for ``TemplateService.create`` (strings and lists, as the CLI gives)."""
        values, errors = self._parsed()
        if errors:
            raise FlowError(errors)
        return {
            "name": values["name"],
            "description": values["description"],
            "algorithm": values["algorithm"].value,
            "key_usage": values["key_usage"],
            "mode_of_use": values["mode_of_use"],
            "exportability": values["exportability"],
            "crypto_period_days": values["crypto_period_days"],
            "label_pattern": values["label_pattern"],
            "allowed_actions": sorted(a.value for a in values["allowed_actions"]),
            "quorums": {a.value: quorum_text(q) for a, q in values["quorums"].items()},
            "test_key": values["test_key"],
        }

    def changes(self, old: KeyTemplate) -> dict[str, Any]:
        """Only the fields that differ from ``old``, for ``TemplateService.edit``."""
        mine = self.fields()
        before = TemplateForm.from_template(old).fields()
        return {k: v for k, v in mine.items() if v != before[k]}


@dataclass
class PolicyForm:
    """The policy editor: a quorum text per action and the idle timeout."""

    current: PolicySet
    quorums: dict[Action, str]
    idle_timeout_seconds: int

    @classmethod
    def from_policy(cls, policy: PolicySet) -> PolicyForm:
        return cls(
            current=policy,
            quorums={a: quorum_text(q) for a, q in policy.quorums.items()},
            idle_timeout_seconds=policy.idle_timeout_seconds,
        )

    @staticmethod
    def editable_actions() -> list[Action]:
        return [a for a in Action if a is not Action.LOGON]

    def validate(self) -> FieldErrors:
        """Errors keyed by action value (``"generate_key"``) or ``"idle_timeout_seconds"``."""
        errors: FieldErrors = {}
        for action, text in self.quorums.items():
            if action is Action.LOGON:
                errors[action.value] = "Logon has no quorum."
                continue
            if not text.strip():
                errors[action.value] = "Give a quorum, e.g. '2 security_officer'."
                continue
            try:
                Quorum.parse(text)
            except BadInput as exc:
                errors[action.value] = exc.user_message()
        if not 30 <= self.idle_timeout_seconds <= 86_400:
            errors["idle_timeout_seconds"] = (
                "The idle timeout must be between 30 seconds and 24 hours."
            )
        return errors

    def changes(self) -> tuple[dict[Action, Quorum], int | None]:
        """(changed quorums, new idle timeout or None) for ``PolicyService.change``."""
        errors = self.validate()
        if errors:
            raise FlowError(errors)
        changed: dict[Action, Quorum] = {}
        for action, text in self.quorums.items():
            quorum = Quorum.parse(text)
            old = self.current.quorums.get(action)
            if old is None or old.to_record() != quorum.to_record():
                changed[action] = quorum
        timeout = self.idle_timeout_seconds
        return changed, (timeout if timeout != self.current.idle_timeout_seconds else None)

    def describe_changes(self) -> list[str]:
        changed, timeout = self.changes()
        lines = []
        for action, quorum in sorted(changed.items()):
            old = self.current.quorums.get(action)
            before = old.describe() if old is not None else "none"
            lines.append(f"{action.display.capitalize()}: {before} → {quorum.describe()}")
        if timeout is not None:
            lines.append(f"Idle timeout: {self.current.idle_timeout_seconds} s → {timeout} s")
        return lines


@dataclass
class EnrolForm:
    """Enrolling a person: name, roles, the reader with the NEW person's card, their PIN."""

    name: str
    roles: frozenset[Role]
    reader: str | None
    pin_length: int
    busy_readers: frozenset[str] = frozenset()  # readers whose cards are logged on
    policy: PolicySet | None = None

    def validate(self) -> FieldErrors:
        errors: FieldErrors = {}
        name = " ".join(self.name.split())
        if not name:
            errors["name"] = "Give the person's full name."
        elif len(name) > 100:
            errors["name"] = "A name has at most 100 characters."
        if not self.roles:
            errors["roles"] = "Tick at least one role."
        elif self.policy is not None:
            try:
                self.policy.check_roles(self.roles)
            except BadInput as exc:
                errors["roles"] = exc.user_message()
        if not self.reader:
            errors["reader"] = "Insert the new person's card in a free reader and choose it."
        elif self.reader in self.busy_readers:
            errors["reader"] = (
                "That reader holds the card of someone logged on; choose the reader with the "
                "new person's card."
            )
        if self.pin_length == 0:
            errors["pin"] = "The new card holder types their PIN."
        elif not 6 <= self.pin_length <= 8:
            errors["pin"] = "A PIV PIN has 6 to 8 digits."
        return errors


@dataclass
class GroupForm:
    """Creating or changing a group: name, the m of its n members."""

    name: str
    threshold: int
    members: frozenset[str]  # person names
    existing: Group | None = None

    def validate(self) -> FieldErrors:
        errors: FieldErrors = {}
        name = " ".join(self.name.split())
        if not name:
            errors["name"] = "A group needs a name."
        if self.threshold < 1:
            errors["threshold"] = "The threshold must be at least 1."
        elif self.members and self.threshold > len(self.members):
            errors["threshold"] = (
                f"A threshold of {self.threshold} needs at least {self.threshold} members; "
                f"{len(self.members)} are ticked."
            )
        return errors

    def member_changes(self, current: Iterable[str]) -> tuple[list[str], list[str]]:
        """(names to add, names to remove) compared with the current members."""
        now = set(current)
        return sorted(self.members - now), sorted(now - self.members)
