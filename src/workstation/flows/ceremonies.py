"""The paper ceremonies' wizards as plain Python: generate a key as printed components,
form a key from components typed by their custodians, export a key as components, and
back the master key up as shares.

Each flow is a state machine over named steps, as in :mod:`workstation.flows.wizards`: a
``validate_*`` method says what is wrong with a step's input, in words, by field; the
matching ``set_*``/``choose_*`` method stores accepted input (or raises
:class:`~workstation.flows.wizards.FlowError`); ``advance()`` and ``back()`` move between
steps. The ceremony service is reached only through callables passed in, so the Qt
wizards run it on the device thread and the tests pass fakes. The service checks every
rule again when the ceremony runs (the quorum, that each named custodian is logged on,
split knowledge); the flows catch input mistakes early, next to the field that holds them.

Clear key material: :class:`EnterComponentsFlow` holds each typed component, once
accepted, as a ``bytearray`` (never a ``str`` of ours) and overwrites it when the wizard
is cancelled or finished, when the custodians or the template change, and once the
ceremony service has taken it (the service wipes what it is handed, stored or not).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from workstation.domain import components as comp
from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.components import MAX_COMPONENTS, MIN_COMPONENTS, EntryState
from workstation.domain.keys import KeyState
from workstation.domain.people import Person, Role, Status
from workstation.domain.policy import Action
from workstation.domain.templates import KeyTemplate, TemplateStatus
from workstation.errors import BadInput
from workstation.flows.wizards import (
    MAX_LABEL,
    FieldErrors,
    FlowError,
    StepInfo,
    _Flow,
    describe_algorithm,
    requirement_lines,
)
from workstation.services.ceremonies import CeremonyOutcome, ComponentEntry, PaperOutput
from workstation.services.keys import KeyDetail
from workstation.services.logon import Requirement

__all__ = [
    "REMINDER",
    "BackupScheme",
    "BackupStep",
    "CustodianChoice",
    "EnterComponentsFlow",
    "EnterStep",
    "EntryStatus",
    "ExportComponentsFlow",
    "ExportStep",
    "GenerateComponentsFlow",
    "GenerateComponentsStep",
    "LogonRow",
    "MasterKeyBackupFlow",
    "OutputChoice",
    "OutputKind",
    "validate_label",
]

REMINDER = (
    "Seal each envelope in a tamper-evident bag in front of its custodian and the "
    "witnesses, write the bag number down, and register it on the Ceremonies page "
    "(sealed, then handed over)."
)

CombinedCheckValue = Callable[[KeyAlgorithm, Sequence[bytearray]], str]
"""The ceremony service's ``combined_check_value``."""


class GenerateComponents(Protocol):
    """``CeremonyService.generate_components`` with the session bound."""

    def __call__(
        self, template_ref: str, custodians: list[str], *, output: PaperOutput, label: str | None
    ) -> CeremonyOutcome: ...


class EnterComponents(Protocol):
    """``CeremonyService.enter_components`` with the session bound."""

    def __call__(
        self,
        template_ref: str,
        entries: list[ComponentEntry],
        *,
        sender_kcv: str,
        label: str | None,
    ) -> CeremonyOutcome: ...


class ExportComponents(Protocol):
    """``CeremonyService.export_components`` with the session bound."""

    def __call__(
        self, key_ref: str, custodians: list[str], *, output: PaperOutput
    ) -> CeremonyOutcome: ...


class BackupMasterKey(Protocol):
    """``CeremonyService.backup_master_key`` with the session bound."""

    def __call__(
        self, holders: list[str], *, threshold: int, output: PaperOutput, scheme: str
    ) -> CeremonyOutcome: ...


# --- shared input ------------------------------------------------------------------------


def validate_label(label: str | None) -> FieldErrors:
    """An optional key label: empty means the template's pattern names the key.

    >>> validate_label("ZMK PARTNER\\t1")
    {'label': 'A label cannot hold control characters.'}
    """
    text = (label or "").strip()
    if len(text) > MAX_LABEL:
        return {"label": f"A label has at most {MAX_LABEL} characters (it has {len(text)})."}
    if any(not c.isprintable() for c in text):
        return {"label": "A label cannot hold control characters."}
    return {}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _names(names: Sequence[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


class CustodianChoice:
    """``count`` custodians, one per component (or share), distinct, chosen among the
    active key custodians; slot ``i`` (from 1) holds component ``i``."""

    def __init__(self, part: str = "component") -> None:
        self.part = part
        self.people: list[Person] = []
        self.loaded = False
        self.count = MIN_COMPONENTS
        self.names: list[str] = []

    def set_people(self, people: Iterable[Person]) -> None:
        self.people = list(people)
        self.loaded = True

    @property
    def candidates(self) -> list[str]:
        """The active key custodians, by name."""
        return sorted(
            (
                p.name
                for p in self.people
                if Role.KEY_CUSTODIAN in p.roles and p.status is Status.ACTIVE
            ),
            key=str.casefold,
        )

    def validate(self, count: int, names: Sequence[str | None]) -> FieldErrors:
        """Errors keyed ``count`` or ``custodian_1`` … ``custodian_9``."""
        if not MIN_COMPONENTS <= count <= MAX_COMPONENTS:
            return {
                "count": f"Choose between {MIN_COMPONENTS} and {MAX_COMPONENTS} "
                f"{self.part}s (one custodian each)."
            }
        errors: FieldErrors = {}
        candidates = {n.casefold(): n for n in self.candidates}
        first: dict[str, int] = {}
        for number in range(1, count + 1):
            name = (names[number - 1] if number <= len(names) else None) or ""
            name = name.strip()
            field = f"custodian_{number}"
            if not name:
                errors[field] = f"Choose the custodian of {self.part} {number}."
            elif self.loaded and name.casefold() not in candidates:
                errors[field] = f"{name} is not an active key custodian."
            elif name.casefold() in first:
                errors[field] = (
                    f"{name} already holds {self.part} {first[name.casefold()]}: each "
                    f"{self.part} goes to a different custodian (split knowledge)."
                )
            else:
                first[name.casefold()] = number
        return errors

    def choose(self, count: int, names: Sequence[str | None]) -> bool:
        """Store the choice; True when it differs from the one before."""
        errors = self.validate(count, names)
        if errors:
            raise FlowError(errors)
        spelled = {n.casefold(): n for n in self.candidates}
        chosen = [(n or "").strip() for n in names[:count]]
        chosen = [spelled.get(n.casefold(), n) for n in chosen]
        changed = chosen != self.names
        self.count, self.names = count, chosen
        return changed

    def errors(self) -> FieldErrors:
        if not self.names:
            return {"custodian_1": f"Choose the custodian of each {self.part}."}
        return self.validate(self.count, self.names)


class OutputKind(StrEnum):
    FOLDER = "folder"
    PRINTER = "printer"


@dataclass
class OutputChoice:
    """Where the mailers go: PDF files in a folder (clear components on disk: the choice is
    audited with the files' paths) or the configured printer."""

    kind: OutputKind | None = None
    directory: Path | None = None
    printer: str | None = None  # the configured printer's name; None: there is none

    def validate(self, kind: OutputKind | None, directory: Path | None) -> FieldErrors:
        if kind is None:
            return {"output": "Choose where the mailers go: PDF files in a folder, or the printer."}
        if kind is OutputKind.FOLDER:
            if directory is None:
                return {"directory": "Choose the folder for the PDF files."}
            if not directory.is_dir():
                return {"directory": f"The folder {directory} does not exist."}
            return {}
        if self.printer is None:
            return {
                "output": "No printer is configured: set [printing] printer in "
                "workstation.toml, or choose a folder for the PDF files."
            }
        return {}

    def choose(self, kind: OutputKind | None, directory: Path | None) -> None:
        errors = self.validate(kind, directory)
        if errors:
            raise FlowError(errors)
        self.kind = kind
        self.directory = directory if kind is OutputKind.FOLDER else None

    def errors(self) -> FieldErrors:
        return self.validate(self.kind, self.directory)

    def paper(self) -> PaperOutput:
        errors = self.errors()
        if errors:
            raise FlowError(errors)
        if self.kind is OutputKind.FOLDER:
            return PaperOutput(directory=self.directory)
        return PaperOutput(printer=True)

    def describe(self) -> str:
        if self.kind is OutputKind.FOLDER and self.directory is not None:
            return f"PDF files in {self.directory} (clear components on disk; audited)"
        if self.kind is OutputKind.PRINTER:
            return f"the printer {self.printer}" if self.printer else "the printer"
        return "not chosen yet"


@dataclass(frozen=True)
class LogonRow:
    """One person the ceremony needs, and whether they are logged on now."""

    name: str
    part: str  # "component 1", "share 2"
    logged_on: bool

    @property
    def text(self) -> str:
        state = "logged on" if self.logged_on else "NOT logged on"
        return f"{self.name} ({self.part}): {state}"


# --- the shared ceremony flow -----------------------------------------------------------

S = TypeVar("S", bound=StrEnum)


class _PaperFlow(_Flow[S], Generic[S]):
    """What every paper ceremony shares: the custodians it names, who is logged on, the
    quorum, and the outcome."""

    ACTION: ClassVar[Action]
    CUSTODIANS_STEP: ClassVar[Any]

    def __init__(self, first: S, *, part: str = "component") -> None:
        super().__init__(first)
        self.custodians = CustodianChoice(part)
        self.present: frozenset[str] = frozenset()
        self.requirement: Requirement | None = None
        self.outcome: CeremonyOutcome | None = None

    @property
    def part(self) -> str:
        return self.custodians.part

    def set_people(self, people: Iterable[Person]) -> None:
        self.custodians.set_people(people)

    def set_present(self, names: Iterable[str]) -> None:
        """The names of the people logged on now."""
        self.present = frozenset(n.casefold() for n in names)

    def set_requirement(self, requirement: Requirement) -> None:
        self.requirement = requirement

    def validate_custodians(self, count: int, names: Sequence[str | None]) -> FieldErrors:
        return self.custodians.validate(count, names)

    def choose_custodians(self, count: int, names: Sequence[str | None]) -> None:
        self.custodians.choose(count, names)

    def logon_rows(self) -> list[LogonRow]:
        """Each named custodian and whether they are logged on."""
        return [
            LogonRow(name, f"{self.part} {i}", name.casefold() in self.present)
            for i, name in enumerate(self.custodians.names, 1)
        ]

    def validate_presence(self) -> FieldErrors:
        missing = [r for r in self.logon_rows() if not r.logged_on]
        if not missing:
            return {}
        who = _names([r.name for r in missing])
        verb = "is" if len(missing) == 1 else "are"
        return {
            "presence": f"{who} {verb} named for a {self.part} but not logged on: each named "
            "custodian logs on with their card before the ceremony starts."
        }

    def quorum_lines(self) -> list[str]:
        if self.requirement is None:
            return ["Checking who is needed…"]
        return requirement_lines(self.requirement)

    def back_to_named(self, name: str) -> None:
        """``back_to`` by the step's name ("custodians", "output", "review"), for the pages
        every ceremony shares."""
        self.back_to(type(self.step)(name))

    def record_outcome(self, outcome: CeremonyOutcome) -> None:
        self.outcome = outcome
        while self.next_step() is not None:
            self._history.append(self.step)
            following = self.next_step()
            assert following is not None
            self.step = following

    # result

    def result_rows(self) -> list[tuple[str, str]]:
        """(name, value) of the ceremony's outcome, in reading order."""
        o = self.outcome
        if o is None:
            return []
        c = o.ceremony
        rows: list[tuple[str, str]] = []
        if o.key is not None:
            rows.append(("Key", o.key.label))
            rows.append(("Key check value", o.key.kcv))
            rows.append(("State", o.key.state.value))
        elif c.key_label:
            rows.append(("Key", c.key_label))
        rows.append(("Ceremony", c.id))
        if o.delivery.files:
            rows.append(("Files written", "\n".join(o.delivery.files)))
        if o.delivery.print_jobs:
            rows.append(("Print jobs", ", ".join(o.delivery.print_jobs)))
        rows.append(("Signed by", ", ".join(s.name for s in c.signatures) or "—"))
        return rows

    def envelope_rows(self) -> list[tuple[str, str, str, str]]:
        """(envelope serial, custodian, what it holds, its check value)."""
        if self.outcome is None:
            return []
        return [
            (e.serial, e.custodian_name, e.describe, e.secret_kcv) for e in self.outcome.envelopes
        ]


def _step_info(title: str, subtitle: str, *needs: str) -> StepInfo:
    return StepInfo(title, subtitle, tuple(needs))


# --- templates ---------------------------------------------------------------------------


class _TemplateChoice:
    """The active secret-key templates new keys may be made from."""

    def __init__(self) -> None:
        self.templates: list[KeyTemplate] = []
        self.template: KeyTemplate | None = None
        self.label: str | None = None

    @property
    def choosable(self) -> list[KeyTemplate]:
        return sorted(
            (
                t
                for t in self.templates
                if t.status is TemplateStatus.ACTIVE
                and t.algorithm.is_symmetric
                and t.allows(Action.GENERATE_KEY)
            ),
            key=lambda t: t.name.casefold(),
        )

    def find(self, name: str) -> KeyTemplate | None:
        wanted = name.strip().casefold()
        return next((t for t in self.templates if t.name.casefold() == wanted), None)

    def validate(self, name: str | None, label: str | None) -> FieldErrors:
        errors: FieldErrors = {}
        template = self.find(name) if name and name.strip() else None
        if not name or not name.strip():
            errors["template"] = "Choose the template the key is made from."
        elif template is None:
            errors["template"] = f"No template named {name!r}."
        elif template.status is not TemplateStatus.ACTIVE:
            errors["template"] = f"Template {template.name!r} is retired; no keys are made from it."
        elif not template.algorithm.is_symmetric:
            errors["template"] = (
                f"Template {template.name!r} makes {template.algorithm.value} key pairs; "
                "components are for secret keys."
            )
        elif not template.allows(Action.GENERATE_KEY):
            errors["template"] = f"Template {template.name!r} does not allow new keys."
        errors.update(validate_label(label))
        return errors

    def choose(self, name: str, label: str | None) -> bool:
        """Store the choice; True when the template changed."""
        errors = self.validate(name, label)
        if errors:
            raise FlowError(errors)
        template = self.find(name)
        assert template is not None
        changed = template != self.template
        self.template = template
        self.label = (label or "").strip() or None
        return changed

    def errors(self) -> FieldErrors:
        return self.validate(self.template.name if self.template else None, self.label)

    def rows(self) -> list[tuple[str, str]]:
        t = self.template
        if t is None:
            return []
        return [
            ("Template", f"{t.name} (version {t.version})"),
            ("Algorithm", describe_algorithm(t.algorithm)),
            ("TR-31", f"usage {t.key_usage}, mode {t.mode_of_use}, export {t.exportability}"),
            ("Label", self.label or f"from the pattern {t.label_pattern}"),
        ]


# --- generate as components --------------------------------------------------------------


class GenerateComponentsStep(StrEnum):
    TEMPLATE = "template"
    CUSTODIANS = "custodians"
    OUTPUT = "output"
    REVIEW = "review"
    GENERATE = "generate"
    RESULT = "result"


class GenerateComponentsFlow(_PaperFlow[GenerateComponentsStep]):
    """A new key made as 2 to 9 random components, each printed on a mailer for its
    custodian; the key is stored wrapped, pre-active."""

    ACTION: ClassVar[Action] = Action.PRINT_COMPONENTS
    CUSTODIANS_STEP: ClassVar[Any] = GenerateComponentsStep.CUSTODIANS
    STEPS: ClassVar[dict[Any, StepInfo]] = {
        GenerateComponentsStep.TEMPLATE: _step_info(
            "Choose a template",
            "The template fixes the algorithm and the TR-31 attributes of the new key. Only "
            "active secret-key templates can be made as components.",
            "template",
            "label",
        ),
        GenerateComponentsStep.CUSTODIANS: _step_info(
            "Components and custodians",
            "The key is the XOR of its components; each goes to a different custodian, who "
            "alone sees it (split knowledge).",
            "count",
            "custodians",
        ),
        GenerateComponentsStep.OUTPUT: _step_info(
            "Where the mailers go",
            "Each component is printed on its own mailer, inside a sealed part.",
            "output",
        ),
        GenerateComponentsStep.REVIEW: _step_info(
            "Review and start",
            "The ceremony needs the quorum and each named custodian logged on. Missing "
            "quorum members are asked for their cards when you start.",
            "presence",
            "requirement",
        ),
        GenerateComponentsStep.GENERATE: _step_info(
            "Generating", "The HSM's random generator makes the components.", "outcome"
        ),
        GenerateComponentsStep.RESULT: _step_info(
            "Components printed",
            "The key is stored pre-active. Each envelope now goes to its custodian.",
        ),
    }

    def __init__(self, templates: Sequence[KeyTemplate] = (), printer: str | None = None) -> None:
        super().__init__(GenerateComponentsStep.TEMPLATE)
        self.choice = _TemplateChoice()
        self.choice.templates = list(templates)
        self.output = OutputChoice(printer=printer)

    @property
    def template(self) -> KeyTemplate | None:
        return self.choice.template

    @property
    def label(self) -> str | None:
        return self.choice.label

    def set_templates(self, templates: Iterable[KeyTemplate]) -> None:
        self.choice.templates = list(templates)

    @property
    def choosable(self) -> list[KeyTemplate]:
        return self.choice.choosable

    def validate_template(self, name: str | None, label: str | None = None) -> FieldErrors:
        return self.choice.validate(name, label)

    def choose_template(self, name: str, label: str | None = None) -> KeyTemplate:
        if self.choice.choose(name, label):
            self.requirement = None
        assert self.choice.template is not None
        return self.choice.template

    def validate_output(self, kind: OutputKind | None, directory: Path | None) -> FieldErrors:
        return self.output.validate(kind, directory)

    def choose_output(self, kind: OutputKind | None, directory: Path | None) -> None:
        self.output.choose(kind, directory)

    def review_rows(self) -> list[tuple[str, str]]:
        rows = self.choice.rows()
        rows.append(("Components", f"{self.custodians.count}, one per custodian"))
        rows.extend((f"Component {i}", name) for i, name in enumerate(self.custodians.names, 1))
        rows.append(("Mailers", self.output.describe()))
        return rows

    def summary(self) -> str:
        t = self.template
        if t is None:
            return ""
        return (
            f"Generate a {t.algorithm.value} key from template {t.name!r} as "
            f"{self.custodians.count} components, printed to {self.output.describe()}."
        )

    def generate(self, generate: GenerateComponents) -> CeremonyOutcome:
        for step in (
            GenerateComponentsStep.TEMPLATE,
            GenerateComponentsStep.CUSTODIANS,
            GenerateComponentsStep.OUTPUT,
            GenerateComponentsStep.REVIEW,
        ):
            errors = self.errors(step)
            if errors:
                raise FlowError(errors)
        assert self.template is not None
        return generate(
            self.template.name,
            list(self.custodians.names),
            output=self.output.paper(),
            label=self.label,
        )

    def result_summary(self) -> str:
        o = self.outcome
        if o is None or o.key is None:
            return "No key was generated yet."
        where = "written as PDF files" if o.delivery.files else "sent to the printer"
        return (
            f"Key {o.key.label} (KCV {o.key.kcv}) is stored pre-active; its "
            f"{_plural(len(o.envelopes), 'mailer')} were {where}."
        )

    def errors(self, step: GenerateComponentsStep | None = None) -> FieldErrors:
        step = step or self.step
        if step is GenerateComponentsStep.TEMPLATE:
            return self.choice.errors()
        if step is GenerateComponentsStep.CUSTODIANS:
            return self.custodians.errors()
        if step is GenerateComponentsStep.OUTPUT:
            return self.output.errors()
        if step is GenerateComponentsStep.REVIEW:
            return self.validate_presence()
        if step is GenerateComponentsStep.GENERATE and self.outcome is None:
            return {"outcome": "The components have not been generated yet."}
        return {}


# --- enter from components ---------------------------------------------------------------


class EnterStep(StrEnum):
    TEMPLATE = "template"
    CUSTODIANS = "custodians"
    COMPONENT = "component"  # once per component: ``position`` says which
    CONFIRM = "confirm"
    STORE = "store"
    RESULT = "result"


@dataclass(frozen=True)
class EntryStatus:
    """What the line under a component field says while it is typed."""

    state: EntryState
    text: str
    kcv: str | None = None


_ENVELOPE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,39}$")


class EnterComponentsFlow(_PaperFlow[EnterStep]):
    """A key formed from components typed by their custodians, one after the other, each
    checked as it is typed; stored (wrapped, pre-active) only if the combined key's check
    value is the sender's."""

    ACTION: ClassVar[Action] = Action.ENTER_COMPONENTS
    CUSTODIANS_STEP: ClassVar[Any] = EnterStep.CUSTODIANS
    STEPS: ClassVar[dict[Any, StepInfo]] = {
        EnterStep.TEMPLATE: _step_info(
            "Choose a template",
            "The template of the key being entered: it fixes the algorithm, so the length "
            "of each component, and the TR-31 attributes.",
            "template",
            "label",
        ),
        EnterStep.CUSTODIANS: _step_info(
            "Components and custodians",
            "Each component is typed by the custodian who holds it, logged on with their "
            "card, while the others look away.",
            "count",
            "custodians",
        ),
        EnterStep.COMPONENT: _step_info(
            "Type the component",
            "The digits are masked and never shown. The line under the field counts them "
            "and shows the component's check value once it is complete.",
            "component",
            "envelope",
        ),
        EnterStep.CONFIRM: _step_info(
            "Confirm the check value",
            "Compare the combined key's check value with the sender's, then store the key.",
            "sender_kcv",
            "requirement",
        ),
        EnterStep.STORE: _step_info("Storing", "The HSM takes the key.", "outcome"),
        EnterStep.RESULT: _step_info(
            "Key entered",
            "The key is stored pre-active; the components typed here have been wiped.",
        ),
    }

    def __init__(self, templates: Sequence[KeyTemplate] = ()) -> None:
        super().__init__(EnterStep.TEMPLATE)
        self.choice = _TemplateChoice()
        self.choice.templates = list(templates)
        self.position = 1  # the component the COMPONENT step is at (from 1)
        self._positions: list[int] = []
        self._values: list[bytearray | None] = []
        self.component_kcvs: list[str | None] = []
        self.envelopes: list[str] = []
        self.combined: str | None = None
        self.combined_error: str | None = None
        self.sender_kcv = ""
        self.wiped = False  # the components were taken or wiped: they must be typed again

    # template

    @property
    def template(self) -> KeyTemplate | None:
        return self.choice.template

    @property
    def algorithm(self) -> KeyAlgorithm | None:
        return self.template.algorithm if self.template else None

    @property
    def label(self) -> str | None:
        return self.choice.label

    def set_templates(self, templates: Iterable[KeyTemplate]) -> None:
        self.choice.templates = list(templates)

    @property
    def choosable(self) -> list[KeyTemplate]:
        return self.choice.choosable

    def validate_template(self, name: str | None, label: str | None = None) -> FieldErrors:
        return self.choice.validate(name, label)

    def choose_template(self, name: str, label: str | None = None) -> KeyTemplate:
        if self.choice.choose(name, label):
            # Another algorithm: components typed for the old one mean nothing now.
            self.requirement = None
            self.wipe()
        assert self.choice.template is not None
        return self.choice.template

    # custodians

    def validate_custodians(self, count: int, names: Sequence[str | None]) -> FieldErrors:
        errors = self.custodians.validate(count, names)
        if errors:
            return errors
        missing = [
            (n or "").strip()
            for n in names[:count]
            if (n or "").strip().casefold() not in self.present
        ]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            return {
                "presence": f"{_names(missing)} {verb} not logged on: each custodian logs on "
                "with their card before typing their component."
            }
        return {}

    def choose_custodians(self, count: int, names: Sequence[str | None]) -> None:
        errors = self.validate_custodians(count, names)
        if errors:
            raise FlowError(errors)
        if self.custodians.choose(count, names) or len(self._values) != count:
            # A component typed by one custodian is never assigned to another.
            self.wipe()
            self._values = [None] * count
            self.component_kcvs = [None] * count
            self.envelopes = [""] * count
            self.wiped = False

    # components

    @property
    def count(self) -> int:
        return self.custodians.count

    def custodian_of(self, number: int) -> str:
        return self.custodians.names[number - 1]

    def digits_needed(self) -> int:
        return 2 * self.algorithm.key_bytes if self.algorithm else 0

    def holds(self, number: int) -> bool:
        """Whether component ``number`` has been typed and accepted (and is still held)."""
        return 0 < number <= len(self._values) and self._values[number - 1] is not None

    @property
    def values(self) -> list[bytearray]:
        """The components held, in order (the flow keeps them; do not copy them)."""
        return [v for v in self._values if v is not None]

    def entry_status(self, text: str) -> EntryStatus:
        """The live line under the entry field: digits counted, the exact error, or the
        component's check value once complete."""
        if self.algorithm is None:
            return EntryStatus(EntryState.INVALID, "Choose the template first.")
        check = comp.check_entry(self.algorithm, text)
        if check.state is EntryState.COMPLETE:
            return EntryStatus(check.state, f"Complete — KCV {check.kcv}", check.kcv)
        return EntryStatus(check.state, check.message)

    def validate_component(self, number: int, text: str, envelope: str = "") -> FieldErrors:
        """``text`` empty keeps a component already held."""
        errors: FieldErrors = {}
        if not 1 <= number <= self.count or len(self.custodians.names) < number:
            return {"component": f"There is no component {number}."}
        custodian = self.custodian_of(number)
        if custodian.casefold() not in self.present:
            errors["custodian"] = (
                f"{custodian} must be logged on with their card to type component {number}."
            )
        if not text.strip() and self.holds(number):
            pass
        elif self.algorithm is None:
            errors["component"] = "Choose the template first."
        else:
            check = comp.check_entry(self.algorithm, text)
            if check.state is EntryState.INVALID:
                errors["component"] = check.message.replace("Component", f"Component {number}", 1)
            elif check.state is EntryState.INCOMPLETE:
                errors["component"] = (
                    f"Component {number} is not complete: {check.digits} of {check.needed} hex "
                    "digits typed."
                )
            else:
                for other, kcv in enumerate(self.component_kcvs, 1):
                    if other != number and kcv is not None and kcv == check.kcv:
                        errors["component"] = (
                            f"Component {number} has the same check value ({kcv}) as "
                            f"component {other}: the same component was typed twice."
                        )
                        break
        serial = envelope.strip().upper()
        if serial and not _ENVELOPE.match(serial):
            errors["envelope"] = (
                "An envelope serial has letters, digits and dashes only (e.g. KCW-E-000042)."
            )
        return errors

    def set_component(self, number: int, text: str, envelope: str = "") -> None:
        """Parse and hold component ``number`` (or keep the one held when ``text`` is
        empty); the caller clears its own copy of ``text`` at once."""
        errors = self.validate_component(number, text, envelope)
        if errors:
            raise FlowError(errors)
        self.envelopes[number - 1] = envelope.strip().upper()
        if not text.strip():
            return
        assert self.algorithm is not None
        value = comp.parse_component(self.algorithm, text, number=number)
        old = self._values[number - 1]
        if old is not None:
            old[:] = bytes(len(old))
        self._values[number - 1] = value
        self.component_kcvs[number - 1] = comp.kcv_hex(comp.check_value(self.algorithm, value))
        self.combined = None
        self.combined_error = None
        if len(self.values) == self.count:
            self.wiped = False

    def component_rows(self) -> list[tuple[str, str, str, str]]:
        """(component, custodian, its check value, envelope) for the confirmation page."""
        return [
            (
                f"{i} of {self.count}",
                name,
                self.component_kcvs[i - 1] or "—",
                self.envelopes[i - 1] if i <= len(self.envelopes) else "",
            )
            for i, name in enumerate(self.custodians.names, 1)
        ]

    # confirm

    def compute_combined(self, combined_check_value: CombinedCheckValue) -> str | None:
        """The combined key's check value, computed by the service in memory; None (and
        ``combined_error`` set) when the components do not form an acceptable key."""
        self.combined, self.combined_error = None, None
        if self.algorithm is None or len(self.values) != self.count:
            self.combined_error = "Not every component has been typed."
            return None
        try:
            self.combined = combined_check_value(self.algorithm, self.values)
        except BadInput as exc:
            self.combined_error = exc.user_message()
        return self.combined

    def validate_sender_kcv(self, text: str) -> FieldErrors:
        if not self.custodians.names or len(self.values) != self.count:
            if self.wiped:
                return {
                    "components": "The components were wiped after the last attempt: each "
                    "custodian types theirs again."
                }
            return {"components": "Not every component has been typed."}
        if self.combined_error:
            return {"components": self.combined_error}
        kcv = "".join(text.split()).upper()
        if not kcv:
            return {
                "sender_kcv": "Type the check value the sender gave for the key (on their "
                "key transfer form), to compare it with the combined one."
            }
        if any(c not in "0123456789ABCDEF" for c in kcv):
            return {"sender_kcv": f"{text.strip()!r} is not a check value: use hex digits only."}
        if len(kcv) < 4:
            return {"sender_kcv": "Give at least 4 hex digits of the sender's check value."}
        combined = self.combined
        if combined is None:
            return {"components": "The combined check value has not been computed yet."}
        if not combined.startswith(kcv) and not kcv.startswith(combined):
            return {
                "sender_kcv": f"The components combine to a key with check value {combined}; "
                f"the sender's is {kcv}. Nothing was stored: check each component against "
                "its mailer."
            }
        return {}

    def set_sender_kcv(self, text: str) -> None:
        errors = self.validate_sender_kcv(text)
        if errors:
            raise FlowError(errors)
        self.sender_kcv = "".join(text.split()).upper()

    # store

    def store(self, enter: EnterComponents) -> CeremonyOutcome:
        """Hand the components to ``enter`` (the service, session bound). Whatever the
        outcome they are wiped: a second attempt needs them typed again."""
        try:
            for step in (EnterStep.TEMPLATE, EnterStep.CUSTODIANS):
                errors = self.errors(step)
                if errors:
                    raise FlowError(errors)
            errors = self.validate_sender_kcv(self.sender_kcv)
            if errors:
                raise FlowError(errors)
            assert self.template is not None
            entries = [
                ComponentEntry(name, value, self.envelopes[i] or None)
                for i, (name, value) in enumerate(
                    zip(self.custodians.names, self.values, strict=True)
                )
            ]
            return enter(self.template.name, entries, sender_kcv=self.sender_kcv, label=self.label)
        finally:
            self.wipe()

    def wipe(self) -> None:
        """Overwrite every component held and forget it (cancel, finish, after a store)."""
        held = any(v is not None for v in self._values)
        for value in self._values:
            if value is not None:
                value[:] = bytes(len(value))
        self._values = [None] * len(self._values)
        self.component_kcvs = [None] * len(self.component_kcvs)
        self.combined = None
        self.combined_error = None
        if held:
            self.wiped = True

    def result_summary(self) -> str:
        o = self.outcome
        if o is None or o.key is None:
            return "No key was entered yet."
        return (
            f"Key {o.key.label} (KCV {o.key.kcv}) was formed from {self.count} components "
            "and is stored pre-active. The components typed here have been wiped."
        )

    # navigation

    def errors(self, step: EnterStep | None = None) -> FieldErrors:
        step = step or self.step
        if step is EnterStep.TEMPLATE:
            return self.choice.errors()
        if step is EnterStep.CUSTODIANS:
            errors = self.custodians.errors()
            return errors or self.validate_custodians(self.count, self.custodians.names)
        if step is EnterStep.COMPONENT:
            envelope = self.envelopes[self.position - 1] if self.envelopes else ""
            return self.validate_component(self.position, "", envelope)
        if step is EnterStep.CONFIRM:
            return self.validate_sender_kcv(self.sender_kcv)
        if step is EnterStep.STORE and self.outcome is None:
            return {"outcome": "The key has not been stored yet."}
        return {}

    def next_step(self, step: EnterStep | None = None) -> EnterStep | None:
        step = step or self.step
        if (
            step is EnterStep.COMPONENT
            and self.step is EnterStep.COMPONENT
            and self.position < self.count
        ):
            return EnterStep.COMPONENT
        return super().next_step(step)

    def advance(self) -> EnterStep:
        before, position = self.step, self.position
        step = super().advance()
        self._positions.append(position)
        if step is EnterStep.COMPONENT:
            self.position = position + 1 if before is EnterStep.COMPONENT else 1
        return step

    def back(self) -> EnterStep:
        step = super().back()
        self.position = self._positions.pop()
        return step

    def back_to(self, step: EnterStep, position: int = 1) -> None:
        """Return to ``step`` (for COMPONENT: to component ``position``) if it was passed."""
        while self._history and (
            self.step != step or (step is EnterStep.COMPONENT and self.position != position)
        ):
            self.back()

    def record_outcome(self, outcome: CeremonyOutcome) -> None:
        self.outcome = outcome
        self._history.append(self.step)
        self._positions.append(self.position)
        self.step = EnterStep.RESULT


# --- export as components ----------------------------------------------------------------


class ExportStep(StrEnum):
    KEY = "key"
    CUSTODIANS = "custodians"
    OUTPUT = "output"
    REVIEW = "review"
    EXPORT = "export"
    RESULT = "result"


class ExportComponentsFlow(_PaperFlow[ExportStep]):
    """An exportable key printed as fresh components, for loading into a device by hand,
    under the export quorum."""

    ACTION: ClassVar[Action] = Action.EXPORT_KEY
    CUSTODIANS_STEP: ClassVar[Any] = ExportStep.CUSTODIANS
    STEPS: ClassVar[dict[Any, StepInfo]] = {
        ExportStep.KEY: _step_info(
            "The key to export",
            "Only a pre-active or active secret key whose template allows export can be "
            "printed as components.",
            "key",
        ),
        ExportStep.CUSTODIANS: _step_info(
            "Components and custodians",
            "The key is split into new random components, one per custodian. Nobody who "
            "already knows a component of this key may receive another.",
            "count",
            "custodians",
        ),
        ExportStep.OUTPUT: _step_info(
            "Where the mailers go",
            "Each component is printed on its own mailer, inside a sealed part.",
            "output",
        ),
        ExportStep.REVIEW: _step_info(
            "Review and start",
            "The export needs its quorum and each named custodian logged on. Missing quorum "
            "members are asked for their cards when you start.",
            "presence",
            "requirement",
        ),
        ExportStep.EXPORT: _step_info(
            "Exporting", "The HSM unwraps and splits the key.", "outcome"
        ),
        ExportStep.RESULT: _step_info(
            "Components printed", "Each envelope now goes to its custodian."
        ),
    }

    def __init__(self, key_label: str = "", printer: str | None = None) -> None:
        super().__init__(ExportStep.KEY)
        self.key_label = key_label.strip()
        self.detail: KeyDetail | None = None
        self.output = OutputChoice(printer=printer)

    @property
    def template(self) -> KeyTemplate | None:
        return self.detail.template if self.detail is not None else None

    def validate_label(self, label: str) -> FieldErrors:
        if not label.strip():
            return {"key": "Type the label of the key to export."}
        return {}

    def load(self, detail: KeyDetail | None, label: str = "") -> None:
        """The key as read (None: no key has that label)."""
        self.detail = detail
        self.key_label = detail.key.label if detail is not None else label.strip()

    def validate_key(self) -> FieldErrors:
        if not self.key_label:
            return {"key": "Type the label of the key to export."}
        if self.detail is None:
            return {"key": f"No key labelled {self.key_label!r}."}
        key, template = self.detail.key, self.detail.template
        if not self.detail.integrity_ok:
            return {
                "key": f"The record of key {key.label} failed its integrity check; it is "
                "refused. Report this to a security officer."
            }
        if not key.algorithm.is_symmetric:
            return {"key": f"Key {key.label} is a key pair; only secret keys have components."}
        if template is None:
            return {"key": f"The template of key {key.label} is missing; it cannot be exported."}
        if key.exportability == "N" or not template.allows(Action.EXPORT_KEY):
            return {
                "key": f"Key {key.label} is not exportable (template {template.name!r}, "
                f"exportability {key.exportability})."
            }
        if key.state not in (KeyState.PRE_ACTIVATION, KeyState.ACTIVE):
            return {
                "key": f"Key {key.label} is {key.state.value}; only a pre-active or active key "
                "is exported."
            }
        return {}

    def key_rows(self) -> list[tuple[str, str]]:
        if self.detail is None:
            return []
        k, t = self.detail.key, self.detail.template
        return [
            ("Label", k.label),
            ("Algorithm", describe_algorithm(k.algorithm)),
            ("Key check value", k.kcv),
            ("State", k.state.value),
            ("Template", t.name if t else "(missing)"),
            ("TR-31", f"usage {k.key_usage}, mode {k.mode_of_use}, export {k.exportability}"),
        ]

    def validate_output(self, kind: OutputKind | None, directory: Path | None) -> FieldErrors:
        return self.output.validate(kind, directory)

    def choose_output(self, kind: OutputKind | None, directory: Path | None) -> None:
        self.output.choose(kind, directory)

    def review_rows(self) -> list[tuple[str, str]]:
        rows = [r for r in self.key_rows() if r[0] in ("Label", "Algorithm", "Key check value")]
        rows.append(("Components", f"{self.custodians.count} new ones, one per custodian"))
        rows.extend((f"Component {i}", name) for i, name in enumerate(self.custodians.names, 1))
        rows.append(("Mailers", self.output.describe()))
        return rows

    def summary(self) -> str:
        return (
            f"Export key {self.key_label} as {self.custodians.count} components, printed "
            f"to {self.output.describe()}."
        )

    def export(self, export: ExportComponents) -> CeremonyOutcome:
        for step in (ExportStep.KEY, ExportStep.CUSTODIANS, ExportStep.OUTPUT, ExportStep.REVIEW):
            errors = self.errors(step)
            if errors:
                raise FlowError(errors)
        return export(self.key_label, list(self.custodians.names), output=self.output.paper())

    def result_summary(self) -> str:
        o = self.outcome
        if o is None:
            return "The key has not been exported yet."
        where = "written as PDF files" if o.delivery.files else "sent to the printer"
        return (
            f"Key {self.key_label} was split into {_plural(len(o.envelopes), 'new component')}; "
            f"the mailers were {where}. The key itself is unchanged."
        )

    def errors(self, step: ExportStep | None = None) -> FieldErrors:
        step = step or self.step
        if step is ExportStep.KEY:
            return self.validate_key()
        if step is ExportStep.CUSTODIANS:
            return self.custodians.errors()
        if step is ExportStep.OUTPUT:
            return self.output.errors()
        if step is ExportStep.REVIEW:
            return self.validate_presence()
        if step is ExportStep.EXPORT and self.outcome is None:
            return {"outcome": "The key has not been exported yet."}
        return {}


# --- master key backup -------------------------------------------------------------------


class BackupStep(StrEnum):
    HOLDERS = "holders"
    SCHEME = "scheme"
    OUTPUT = "output"
    REVIEW = "review"
    BACKUP = "backup"
    RESULT = "result"


class BackupScheme(StrEnum):
    SHARES = "shares"  # m of n (Shamir)
    COMPONENTS = "components"  # every one needed (XOR)


class MasterKeyBackupFlow(_PaperFlow[BackupStep]):
    """The workstation keys wrapped under a one-time transport key, whose shares (m of n)
    or components (all n) are printed for their holders."""

    ACTION: ClassVar[Action] = Action.BACKUP_MASTER_KEY
    CUSTODIANS_STEP: ClassVar[Any] = BackupStep.HOLDERS
    STEPS: ClassVar[dict[Any, StepInfo]] = {
        BackupStep.HOLDERS: _step_info(
            "Share holders",
            "Each share of the backup's transport key goes to a different key custodian.",
            "count",
            "custodians",
        ),
        BackupStep.SCHEME: _step_info(
            "How many recover",
            "Shares: any m of the n holders recover the backup, fewer learn nothing. "
            "Components: every holder is needed.",
            "scheme",
            "threshold",
        ),
        BackupStep.OUTPUT: _step_info(
            "Where the mailers go",
            "Each share is printed on its own mailer, inside a sealed part.",
            "output",
        ),
        BackupStep.REVIEW: _step_info(
            "Review and start",
            "The backup needs its quorum and each holder logged on. Missing quorum members "
            "are asked for their cards when you start.",
            "presence",
            "requirement",
        ),
        BackupStep.BACKUP: _step_info(
            "Backing up", "The HSM wraps the workstation keys.", "outcome"
        ),
        BackupStep.RESULT: _step_info(
            "Backup made", "Each envelope now goes to its holder; the backup record is kept."
        ),
    }

    def __init__(self, printer: str | None = None) -> None:
        super().__init__(BackupStep.HOLDERS, part="share")
        self.scheme = BackupScheme.SHARES
        self.threshold = MIN_COMPONENTS
        self.output = OutputChoice(printer=printer)

    def validate_scheme(self, scheme: BackupScheme | None, threshold: int) -> FieldErrors:
        count = self.custodians.count
        if scheme is None:
            return {"scheme": "Choose shares (m of n) or components (all needed)."}
        if scheme is BackupScheme.SHARES and not MIN_COMPONENTS <= threshold <= count:
            return {
                "threshold": f"Between {MIN_COMPONENTS} and {count} of the {count} shares "
                f"recover the backup (asked: {threshold})."
            }
        return {}

    def choose_scheme(self, scheme: BackupScheme | None, threshold: int) -> None:
        errors = self.validate_scheme(scheme, threshold)
        if errors:
            raise FlowError(errors)
        assert scheme is not None
        self.scheme = scheme
        self.threshold = threshold if scheme is BackupScheme.SHARES else self.custodians.count

    def choose_custodians(self, count: int, names: Sequence[str | None]) -> None:
        super().choose_custodians(count, names)
        self.threshold = min(max(self.threshold, MIN_COMPONENTS), count)

    def scheme_text(self) -> str:
        n, m = self.custodians.count, self.threshold
        if self.scheme is BackupScheme.COMPONENTS:
            return (
                f"{n} components: all {n} holders are needed; one lost envelope loses the backup."
            )
        return (
            f"{m} of {n} shares: any {m} of the {n} holders recover the backup; fewer learn "
            "nothing."
        )

    def validate_output(self, kind: OutputKind | None, directory: Path | None) -> FieldErrors:
        return self.output.validate(kind, directory)

    def choose_output(self, kind: OutputKind | None, directory: Path | None) -> None:
        self.output.choose(kind, directory)

    def review_rows(self) -> list[tuple[str, str]]:
        rows = [("Scheme", self.scheme_text())]
        rows.extend((f"Share {i}", name) for i, name in enumerate(self.custodians.names, 1))
        rows.append(("Mailers", self.output.describe()))
        return rows

    def summary(self) -> str:
        return (
            f"Back up the master key as {self.scheme_text()} Mailers go to "
            f"{self.output.describe()}."
        )

    def backup(self, backup: BackupMasterKey) -> CeremonyOutcome:
        for step in (BackupStep.HOLDERS, BackupStep.SCHEME, BackupStep.OUTPUT, BackupStep.REVIEW):
            errors = self.errors(step)
            if errors:
                raise FlowError(errors)
        return backup(
            list(self.custodians.names),
            threshold=self.threshold,
            output=self.output.paper(),
            scheme=self.scheme.value,
        )

    def result_summary(self) -> str:
        o = self.outcome
        if o is None:
            return "The master key has not been backed up yet."
        where = "written as PDF files" if o.delivery.files else "sent to the printer"
        return f"The master key backup is made as {self.scheme_text()} The mailers were {where}."

    def errors(self, step: BackupStep | None = None) -> FieldErrors:
        step = step or self.step
        if step is BackupStep.HOLDERS:
            return self.custodians.errors()
        if step is BackupStep.SCHEME:
            return self.validate_scheme(self.scheme, self.threshold)
        if step is BackupStep.OUTPUT:
            return self.output.errors()
        if step is BackupStep.REVIEW:
            return self.validate_presence()
        if step is BackupStep.BACKUP and self.outcome is None:
            return {"outcome": "The master key has not been backed up yet."}
        return {}
