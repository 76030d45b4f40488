"""Policies: who, and how many, must be logged on for each sensitive action.

A quorum is a list of requirements ("1 security officer", "2 of group custodians A"). It
is met when *distinct* people of the session can be assigned to every place the
requirements open: one person never fills two places, even when they hold two roles or
belong to two groups (dual control, PCI PIN Security Requirements 5-1 and 6-1). The
person who requests an action is one of those people and fills exactly one place, so a
requester never approves their own request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from workstation.domain.people import Group, Role
from workstation.domain.records import canonical_bytes
from workstation.errors import BadInput


class Action(StrEnum):
    LOGON = "logon"
    ENROL_PERSON = "enrol_person"
    MANAGE_PEOPLE = "manage_people"  # suspend, reinstate, revoke, roles
    MANAGE_CARDS = "manage_cards"  # suspend, reinstate, revoke a card
    MANAGE_GROUPS = "manage_groups"
    CHANGE_POLICY = "change_policy"
    MANAGE_TEMPLATES = "manage_templates"
    VIEW_INVENTORY = "view_inventory"
    GENERATE_KEY = "generate_key"
    ACTIVATE_KEY = "activate_key"
    SUSPEND_KEY = "suspend_key"
    REINSTATE_KEY = "reinstate_key"
    DEACTIVATE_KEY = "deactivate_key"
    COMPROMISE_KEY = "compromise_key"
    DESTROY_KEY = "destroy_key"
    ROTATE_KEY = "rotate_key"
    EXPORT_KEY = "export_key"
    IMPORT_KEY = "import_key"  # a key received from a partner (TR-31, TR-34, ECDH, legacy)
    DERIVE_TEST_KEYS = "derive_test_keys"  # DUKPT test tool, on test keys only
    MANAGE_PARTNERS = "manage_partners"  # exchange partners, their trust anchors and CRLs
    MANAGE_CERTIFICATES = "manage_certificates"  # requests signed by a key pair, imports
    MANAGE_MONITORING = "manage_monitoring"  # expiry windows, alert owners, TLS endpoints
    PRINT_COMPONENTS = "print_components"  # generate a key as printed components
    ENTER_COMPONENTS = "enter_components"  # form a key from components typed by custodians
    RECORD_ENVELOPE = "record_envelope"  # sealed, handed over, received, opened, destroyed
    BACKUP_MASTER_KEY = "backup_master_key"
    VIEW_AUDIT = "view_audit"
    EXPORT_AUDIT = "export_audit"

    @property
    def display(self) -> str:
        return self.value.replace("_", " ")

    @classmethod
    def parse(cls, text: str) -> Action:
        norm = text.strip().lower().replace("-", "_").replace(" ", "_")
        try:
            return cls(norm)
        except ValueError:
            names = ", ".join(a.value for a in cls)
            raise BadInput(f"Unknown action {text!r}; use one of: {names}.") from None


# Key actions a template may allow or forbid (the rest are not about one key).
KEY_ACTIONS: frozenset[Action] = frozenset(
    {
        Action.GENERATE_KEY,
        Action.ACTIVATE_KEY,
        Action.SUSPEND_KEY,
        Action.REINSTATE_KEY,
        Action.DEACTIVATE_KEY,
        Action.COMPROMISE_KEY,
        Action.DESTROY_KEY,
        Action.ROTATE_KEY,
        Action.EXPORT_KEY,
        Action.IMPORT_KEY,
        Action.DERIVE_TEST_KEYS,
        Action.MANAGE_CERTIFICATES,
    }
)


@dataclass(frozen=True)
class Requirement:
    """``count`` people holding any of ``roles``, or the threshold of ``group`` (its m of n)."""

    count: int
    roles: frozenset[Role] = frozenset()
    group: str | None = None  # group name

    def __post_init__(self) -> None:
        if bool(self.roles) == (self.group is not None):
            raise BadInput("A requirement names either roles or a group.")
        if self.count < 1:
            raise BadInput("A requirement needs at least one person.")

    def describe(self) -> str:
        if self.group is not None:
            return f"{self.count} of group {self.group}"
        plural = "s" if self.count > 1 else ""
        names = sorted(r.display + plural for r in self.roles)
        return f"{self.count} {' or '.join(names)}"

    def to_record(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "roles": sorted(r.value for r in self.roles),
            "group": self.group,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Requirement:
        return cls(
            count=int(rec["count"]),
            roles=frozenset(Role(r) for r in rec.get("roles") or ()),
            group=rec.get("group"),
        )


_TERM = re.compile(
    r"^\s*(?P<count>\d+)\s+(?:of\s+group\s+(?P<group>.+?)|(?P<roles>[a-z_ |-]+?))\s*$", re.I
)


def _parse_role_word(text: str) -> Role:
    word = text.strip()
    try:
        return Role.parse(word)
    except BadInput:
        if word.lower().endswith("s"):
            return Role.parse(word[:-1])
        raise


@dataclass(frozen=True)
class Quorum:
    requirements: tuple[Requirement, ...]

    def __post_init__(self) -> None:
        if not self.requirements:
            raise BadInput("A quorum needs at least one requirement.")

    @property
    def size(self) -> int:
        return sum(r.count for r in self.requirements)

    def describe(self) -> str:
        return " + ".join(r.describe() for r in self.requirements)

    @classmethod
    def parse(cls, text: str) -> Quorum:
        """Parse "1 security_officer + 1 supervisor", "2 of group custodians A", or
        "1 auditor|supervisor" (any of several roles).

        >>> Quorum.parse("1 security officer + 1 supervisor").describe()
        '1 security officer + 1 supervisor'
        >>> Quorum.parse("2 of group custodians A").requirements[0].group
        'custodians A'
        """
        reqs: list[Requirement] = []
        for term in text.split("+"):
            m = _TERM.match(term)
            if not m:
                raise BadInput(
                    f"Cannot read the quorum term {term.strip()!r}; write for example "
                    "'2 security_officer' or '2 of group custodians A', joined by '+'."
                )
            count = int(m["count"])
            if m["group"]:
                reqs.append(Requirement(count=count, group=m["group"].strip()))
            else:
                roles = frozenset(_parse_role_word(w) for w in m["roles"].split("|"))
                reqs.append(Requirement(count=count, roles=roles))
        return cls(tuple(reqs))

    def to_record(self) -> list[dict[str, Any]]:
        return [r.to_record() for r in self.requirements]

    @classmethod
    def from_record(cls, rec: list[dict[str, Any]]) -> Quorum:
        return cls(tuple(Requirement.from_record(r) for r in rec))


@dataclass(frozen=True)
class Participant:
    """A person as a quorum sees them: identity, roles and group memberships."""

    person_id: str
    name: str
    roles: frozenset[Role]
    groups: frozenset[str]  # group names


@dataclass(frozen=True)
class QuorumResult:
    met: bool
    assignment: Mapping[str, str]  # person_id -> description of the place they fill
    missing: tuple[str, ...]  # e.g. ("1 supervisor",) when not met
    reason: str = ""

    def explain(self, quorum: Quorum) -> str:
        if self.met:
            return f"Quorum met: {quorum.describe()}."
        if self.reason:
            return self.reason
        return f"Needs {quorum.describe()}; still missing: {', '.join(self.missing)}."


def _eligible(p: Participant, req: Requirement) -> bool:
    if req.group is not None:
        return req.group in p.groups
    return bool(req.roles & p.roles)


def _resolve_counts(quorum: Quorum, groups: Mapping[str, Group]) -> list[Requirement]:
    """Group requirements take the group's current threshold (its m of n)."""
    resolved: list[Requirement] = []
    for req in quorum.requirements:
        if req.group is not None:
            group = groups.get(req.group)
            if group is None:
                raise BadInput(f"The policy names group {req.group!r}, which does not exist.")
            resolved.append(Requirement(count=group.threshold, group=req.group))
        else:
            resolved.append(req)
    return resolved


def evaluate_quorum(
    quorum: Quorum,
    participants: Sequence[Participant],
    groups: Mapping[str, Group],
    *,
    requester: str | None = None,
) -> QuorumResult:
    """Whether distinct participants fill every place of the quorum.

    With ``requester`` (a person id), that person must fill one of the places: someone
    whose roles do not count for the action cannot request it.
    """
    reqs = _resolve_counts(quorum, groups)
    slots: list[Requirement] = [r for r in reqs for _ in range(r.count)]
    unique: dict[str, Participant] = {}
    for p in participants:
        unique.setdefault(p.person_id, p)  # one person never counts twice
    people = list(unique.values())

    def match(fixed: dict[int, str]) -> dict[int, str]:
        # Kuhn's augmenting paths: slots on one side, people on the other.
        owner: dict[str, int] = {pid: s for s, pid in fixed.items()}
        slot_owner: dict[int, str] = dict(fixed)

        def try_slot(s: int, seen: set[str]) -> bool:
            for p in people:
                if p.person_id in seen or not _eligible(p, slots[s]):
                    continue
                if p.person_id in owner and owner[p.person_id] in fixed:
                    continue
                seen.add(p.person_id)
                if p.person_id not in owner or try_slot(owner[p.person_id], seen):
                    owner[p.person_id] = s
                    slot_owner[s] = p.person_id
                    return True
            return False

        for s in range(len(slots)):
            if s not in slot_owner:
                try_slot(s, set())
        return slot_owner

    best: dict[int, str] = {}
    if requester is not None:
        if requester not in unique:
            return QuorumResult(False, {}, (), "The requester is not logged on in this session.")
        req_p = unique[requester]
        candidate_slots = [s for s in range(len(slots)) if _eligible(req_p, slots[s])]
        if not candidate_slots:
            return QuorumResult(
                False,
                {},
                (),
                f"{req_p.name} ({', '.join(sorted(r.display for r in req_p.roles)) or 'no role'})"
                f" may not request this action; it needs {quorum.describe()}.",
            )
        seen_kinds: set[Requirement] = set()
        for s in candidate_slots:
            if slots[s] in seen_kinds:
                continue
            seen_kinds.add(slots[s])
            result = match({s: requester})
            if len(result) > len(best):
                best = result
            if len(best) == len(slots):
                break
    else:
        best = match({})

    assignment = {pid: slots[s].describe() for s, pid in best.items()}
    if len(best) == len(slots):
        return QuorumResult(True, assignment, ())
    missing_counts: dict[Requirement, int] = {}
    for s, req in enumerate(slots):
        if s not in best:
            missing_counts[req] = missing_counts.get(req, 0) + 1
    missing = tuple(
        Requirement(count=n, roles=r.roles, group=r.group).describe()
        for r, n in missing_counts.items()
    )
    return QuorumResult(False, assignment, missing)


# --- the policy set ----------------------------------------------------------------------


def _q(text: str) -> Quorum:
    return Quorum.parse(text)


# Shipped defaults. LOGON is not here: any enrolled, active person with an active card may log on.
DEFAULT_QUORUMS: dict[Action, Quorum] = {
    Action.ENROL_PERSON: _q("2 security_officer"),
    Action.MANAGE_PEOPLE: _q("2 security_officer"),
    Action.MANAGE_CARDS: _q("1 security_officer"),
    Action.MANAGE_GROUPS: _q("2 security_officer"),
    Action.CHANGE_POLICY: _q("2 security_officer"),
    Action.MANAGE_TEMPLATES: _q("1 security_officer + 1 supervisor"),
    Action.VIEW_INVENTORY: _q("1 security_officer|key_custodian|supervisor|auditor"),
    Action.GENERATE_KEY: _q("2 key_custodian"),
    Action.ACTIVATE_KEY: _q("1 key_custodian + 1 supervisor"),
    Action.SUSPEND_KEY: _q("1 supervisor"),
    Action.REINSTATE_KEY: _q("1 key_custodian + 1 supervisor"),
    Action.DEACTIVATE_KEY: _q("1 key_custodian + 1 supervisor"),
    Action.COMPROMISE_KEY: _q("1 security_officer + 1 supervisor"),
    Action.DESTROY_KEY: _q("1 security_officer + 1 supervisor"),
    Action.ROTATE_KEY: _q("2 key_custodian"),
    Action.EXPORT_KEY: _q("2 key_custodian + 1 supervisor"),
    # A received key enters pre-active; activating it takes the activation quorum.
    Action.IMPORT_KEY: _q("2 key_custodian"),
    Action.DERIVE_TEST_KEYS: _q("1 key_custodian"),
    Action.MANAGE_PARTNERS: _q("1 security_officer + 1 supervisor"),
    Action.MANAGE_CERTIFICATES: _q("1 key_custodian + 1 supervisor"),
    Action.MANAGE_MONITORING: _q("1 security_officer|supervisor"),
    # Paper ceremonies: the officer conducts, the custodians named for the components
    # must be logged on as well (checked by the ceremony service).
    Action.PRINT_COMPONENTS: _q("1 security_officer + 2 key_custodian"),
    Action.ENTER_COMPONENTS: _q("1 security_officer + 2 key_custodian"),
    Action.RECORD_ENVELOPE: _q("1 security_officer + 1 key_custodian|supervisor"),
    Action.BACKUP_MASTER_KEY: _q("1 security_officer + 1 supervisor"),
    Action.VIEW_AUDIT: _q("1 auditor|security_officer"),
    Action.EXPORT_AUDIT: _q("1 auditor"),
}

# Role pairs one person may not hold together (separation of duties). The auditor changes
# nothing, so holds no other role; a security officer administers people and cards and so
# does not also hold key components (PCI PIN Security Requirements 5-1: no one person
# controls a key).
DEFAULT_INCOMPATIBLE_ROLES: frozenset[frozenset[Role]] = frozenset(
    {
        frozenset({Role.AUDITOR, Role.SECURITY_OFFICER}),
        frozenset({Role.AUDITOR, Role.KEY_CUSTODIAN}),
        frozenset({Role.AUDITOR, Role.SUPERVISOR}),
        frozenset({Role.SECURITY_OFFICER, Role.KEY_CUSTODIAN}),
    }
)

DEFAULT_IDLE_TIMEOUT_SECONDS = 300


class MediaExport(StrEnum):
    """The kinds of file a kiosk may write to removable media, when the policy allows.

    None of them can hold a clear key or component: key exchange files are TR-31/TR-34
    blocks and tokens encrypted under a KEK, key stores are password-protected, backups
    are encrypted under the master key. Component mailers (PDF files with a clear
    component) are not a kind here, so no policy can send them to removable media.
    """

    AUDIT_EXPORT = "audit_export"
    REPOSITORY_BACKUP = "repository_backup"
    KEY_EXCHANGE = "key_exchange"
    CERTIFICATES = "certificates"
    TLS_KEY_STORES = "tls_key_stores"
    DUE_DATES = "due_dates"
    CEREMONY_RECORDS = "ceremony_records"

    @property
    def display(self) -> str:
        return _MEDIA_EXPORT_NAMES[self]

    @classmethod
    def parse(cls, text: str) -> MediaExport:
        norm = text.strip().lower().replace("-", "_").replace(" ", "_")
        try:
            return cls(norm)
        except ValueError:
            names = ", ".join(k.value for k in cls)
            raise BadInput(f"Unknown kind of export {text!r}; use one of: {names}.") from None


_MEDIA_EXPORT_NAMES: dict[MediaExport, str] = {
    MediaExport.AUDIT_EXPORT: "audit exports",
    MediaExport.REPOSITORY_BACKUP: "repository backups (encrypted)",
    MediaExport.KEY_EXCHANGE: "key exchange files (TR-31/TR-34 blocks, tokens, vendor files)",
    MediaExport.CERTIFICATES: "certificate requests and certificates",
    MediaExport.TLS_KEY_STORES: "TLS key stores (password-protected)",
    MediaExport.DUE_DATES: "due-date calendars and reports",
    MediaExport.CEREMONY_RECORDS: "ceremony transcripts and forms (no components)",
}


def describe_media_exports(kinds: Iterable[MediaExport]) -> str:
    """The kinds' names in the enum's order, or "none"."""
    chosen = set(kinds)
    names = [k.display for k in MediaExport if k in chosen]
    return "; ".join(names) if names else "none"


@dataclass(frozen=True)
class PolicySet:
    """Every policy of the workstation; changed as a whole, under CHANGE_POLICY's quorum."""

    quorums: Mapping[Action, Quorum] = field(default_factory=lambda: dict(DEFAULT_QUORUMS))
    idle_timeout_seconds: int = DEFAULT_IDLE_TIMEOUT_SECONDS
    incompatible_roles: frozenset[frozenset[Role]] = DEFAULT_INCOMPATIBLE_ROLES
    version: int = 1
    # What a kiosk may write to removable media; none by default (outbox only).
    removable_media_exports: frozenset[MediaExport] = frozenset()

    def __post_init__(self) -> None:
        if not 30 <= self.idle_timeout_seconds <= 86_400:
            raise BadInput("The idle timeout must be between 30 seconds and 24 hours.")
        for pair in self.incompatible_roles:
            if len(pair) != 2:
                raise BadInput("Incompatible roles are given as pairs of two different roles.")

    def quorum_for(self, action: Action) -> Quorum:
        try:
            return self.quorums[action]
        except KeyError:
            # An action added after this policy set was stored has its default until a
            # policy change sets it (the stored record and its seal stay as they were).
            if action in DEFAULT_QUORUMS:
                return DEFAULT_QUORUMS[action]
            raise BadInput(f"No policy is set for {action.display}.") from None

    def check_roles(self, roles: Iterable[Role]) -> None:
        """Refuse a role combination that separation of duties forbids."""
        held = frozenset(roles)
        if not held:
            raise BadInput("A person needs at least one role.")
        for pair in sorted(self.incompatible_roles, key=lambda p: sorted(p)):
            if pair <= held:
                a, b = sorted(r.display for r in pair)
                raise BadInput(f"Policy forbids one person to be both {a} and {b}.")

    def allows_on_media(self, kind: MediaExport | None) -> bool:
        """Whether a kiosk may write ``kind`` to removable media (None: never)."""
        return kind is not None and kind in self.removable_media_exports

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "quorums": {a.value: q.to_record() for a, q in sorted(self.quorums.items())},
            "idle_timeout_seconds": self.idle_timeout_seconds,
            "incompatible_roles": sorted(
                sorted(r.value for r in p) for p in self.incompatible_roles
            ),
            "version": self.version,
        }
        # Left out when empty: a policy stored before this field existed has the same
        # canonical bytes, so its seal still verifies.
        if self.removable_media_exports:
            record["removable_media_exports"] = sorted(
                k.value for k in self.removable_media_exports
            )
        return record

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> PolicySet:
        return cls(
            quorums={Action(a): Quorum.from_record(q) for a, q in rec["quorums"].items()},
            idle_timeout_seconds=int(rec["idle_timeout_seconds"]),
            incompatible_roles=frozenset(
                frozenset(Role(r) for r in p) for p in rec["incompatible_roles"]
            ),
            version=int(rec["version"]),
            removable_media_exports=frozenset(
                MediaExport(k) for k in rec.get("removable_media_exports") or ()
            ),
        )

    def binding_bytes(self) -> bytes:
        return canonical_bytes({"type": "policy", **self.to_record()})
