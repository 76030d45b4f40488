"""Keys: generation from templates inside the HSM, lifecycle, rotation, inventory.

A key leaves the HSM only wrapped under the workstation master key; its attributes and the
wrapped value are sealed together by an HSM MAC, checked whenever the key is acted on.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from workstation.domain.audit import AuditEntry
from workstation.domain.keys import ACTION_TARGET, KeyEvent, KeyState, ManagedKey, allowed_actions
from workstation.domain.policy import Action
from workstation.domain.templates import KeyTemplate, TemplateStatus, render_label
from workstation.errors import (
    AlreadyExists,
    BadInput,
    IntegrityError,
    InvalidTransition,
    NotFound,
    PolicyRefused,
    SessionLocked,
)
from workstation.services.admin import TemplateService
from workstation.services.context import Authorisation, ServiceContext
from workstation.services.ports import GeneratedKey, KeyQuery, UnitOfWork
from workstation.services.session import Session

log = logging.getLogger(__name__)

# Keys generated in one transaction during bulk generation. Each key and its audit entry
# still commit together; a batch only saves the cost of a commit per key.
GENERATION_BATCH = 200

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]


@dataclass(frozen=True)
class KeyDetail:
    key: ManagedKey
    template: KeyTemplate | None
    history: list[KeyEvent]
    audit_trail: list[AuditEntry]
    integrity_ok: bool


@dataclass(frozen=True)
class Availability:
    """Whether an action on a key can be offered now, and why not."""

    action: Action
    allowed: bool  # the key's state and template allow it
    reason: str  # why not (empty when allowed)
    quorum: str  # what it needs, e.g. "1 key custodian + 1 supervisor"
    missing: tuple[str, ...]  # people still needed in the session (co-sign)


KEY_MENU: tuple[Action, ...] = (
    Action.ACTIVATE_KEY,
    Action.SUSPEND_KEY,
    Action.REINSTATE_KEY,
    Action.DEACTIVATE_KEY,
    Action.COMPROMISE_KEY,
    Action.DESTROY_KEY,
    Action.ROTATE_KEY,
)


@dataclass(frozen=True)
class GenerationResult:
    keys: list[ManagedKey]
    requested: int
    stopped_reason: str | None = None


def _kcv_hex(kcv: bytes) -> str:
    return kcv.hex().upper()


def check_exportable(
    key: ManagedKey, template: KeyTemplate, *, carried_as: str, key_pairs: bool = False
) -> None:
    """Refuse to export a key whose template or exportability says no (X9.143 'N'), that
    is neither pre-active nor active, or that holds no material. ``carried_as`` names what
    carries secret keys only ("components", "these formats") for a key pair's message;
    ``key_pairs`` lets a key pair's private key through (key stores, key blocks to an HSM)."""
    if not key.algorithm.is_symmetric and not key_pairs:
        raise BadInput(f"Key {key.label} is a key pair; only secret keys travel as {carried_as}.")
    if (
        key.exportability == "N"
        or not template.exportable
        or not template.allows(Action.EXPORT_KEY)
    ):
        raise PolicyRefused(
            f"Key {key.label} is not exportable (template {template.name!r}, "
            f"exportability {key.exportability})."
        )
    if key.state not in (KeyState.PRE_ACTIVATION, KeyState.ACTIVE):
        raise PolicyRefused(
            f"Key {key.label} is {key.state.value}; only a pre-active or active key is exported."
        )
    if key.wrapped is None:
        raise BadInput(f"Key {key.label} holds no key material.")


class KeyService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.templates = TemplateService(ctx)

    # --- lookup --------------------------------------------------------------------------

    def find_key(self, uow: UnitOfWork, ref: str) -> ManagedKey:
        """The key labelled ``ref`` (or with the id ``ref``), unsealed in ``uow``: the
        lookup other services use inside their own unit of work. No policy is checked
        here; the caller has authorised its action. Raises ``NotFound``, or
        ``IntegrityError`` when the stored record was altered."""
        sealed = uow.keys.by_label(ref) or uow.keys.get(ref)
        if sealed is None:
            raise NotFound(f"No key labelled {ref!r}.")
        return self.ctx.unseal(sealed, f"key {sealed.value.label}")

    def template_of(self, uow: UnitOfWork, key: ManagedKey) -> KeyTemplate:
        """The template ``key`` was made from, unsealed in ``uow`` (its exportability and
        quorums decide what may be done with the key). Raises ``IntegrityError`` when the
        template is missing or its record was altered."""
        sealed = uow.templates.get(key.template_id)
        if sealed is None:
            raise IntegrityError(f"The template of key {key.label} is missing from the repository.")
        return self.ctx.unseal(sealed, f"template {sealed.value.name}")

    # --- generation ----------------------------------------------------------------------

    def generate(
        self,
        session: Session,
        template_ref: str,
        *,
        count: int = 1,
        label: str | None = None,
        activation_date: datetime | None = None,
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> GenerationResult:
        """Generate ``count`` keys from a template inside the HSM.

        The quorum is checked at the start, and the session is checked again before every
        key: if a card is removed or the session locks, generation stops; keys already
        made are kept (each is complete and audited) and the result says why it stopped.
        """
        if not 1 <= count <= 100_000:
            raise BadInput("Generate between 1 and 100,000 keys at a time.")
        if label is not None and count != 1:
            raise BadInput("A label can only be given when generating one key.")
        if activation_date is not None and activation_date.tzinfo is None:
            raise BadInput("The activation date needs a time zone.")
        with self.ctx.repository.unit_of_work() as uow:
            template = self.templates.find(uow, template_ref)
            if template.status is not TemplateStatus.ACTIVE:
                raise BadInput(f"Template {template.name!r} is retired; no keys are made from it.")
            auth = self.ctx.authorise(uow, session, Action.GENERATE_KEY, template=template)
            if label is not None and uow.keys.by_label(label) is not None:
                raise AlreadyExists(f"A key labelled {label!r} already exists.")

        made: list[ManagedKey] = []
        stopped: str | None = None
        seen_changes = session.changes
        while len(made) < count and stopped is None:
            # The HSM work first, checking the session before every key ...
            generated: list[GeneratedKey] = []
            for _ in range(min(GENERATION_BATCH, count - len(made))):
                if cancelled is not None and cancelled():
                    stopped = "cancelled"
                    break
                if session.is_locked or session.changes != seen_changes:
                    # Someone left (or joined): check the quorum again before going on.
                    stopped = self.ctx.still_met(session, auth)
                    if stopped is not None:
                        break
                    seen_changes = session.changes
                generated.append(self.ctx.hsm.generate_key(template.algorithm))
            if not generated:
                break
            # ... then the records, their seals and audit entries in one transaction.
            with self.ctx.repository.unit_of_work() as uow:
                first = uow.templates.reserve_sequence(template.id, len(generated))
                now = self.ctx.clock.now()
                keys = [
                    self._new_key(
                        template,
                        g,
                        seq=first + i,
                        now=now,
                        label=label,
                        activation_date=activation_date,
                    )
                    for i, g in enumerate(generated)
                ]
                self._store_new(uow, auth, session, keys, template, Action.GENERATE_KEY)
                uow.commit()
            made += keys
            if progress is not None:
                progress(len(made), count)
        self.ctx.checkpoint()
        if stopped is not None and stopped != "cancelled" and not made:
            raise SessionLocked(f"No key was generated: {stopped}.")
        if stopped is not None:
            log.warning("generation stopped after %d of %d keys: %s", len(made), count, stopped)
        return GenerationResult(made, count, stopped)

    def record_new(
        self,
        uow: UnitOfWork,
        auth: Authorisation,
        session: Session,
        template: KeyTemplate,
        generated: GeneratedKey,
        *,
        key_id: str,
        label: str,
        details: dict[str, str],
        action: Action = Action.GENERATE_KEY,
    ) -> ManagedKey:
        """Store a key made outside ``generate`` (a paper ceremony, or received from a
        partner with ``action`` IMPORT_KEY), pre-active, with its seal, audit entry and
        first history event, in the caller's transaction."""
        key = replace(
            self._new_key(
                template,
                generated,
                seq=0,
                now=self.ctx.clock.now(),
                label=label,
                activation_date=None,
            ),
            id=key_id or uuid.uuid4().hex,
        )
        self._store_new(uow, auth, session, [key], template, action, details)
        return key

    def _new_key(
        self,
        template: KeyTemplate,
        generated: GeneratedKey,
        *,
        seq: int,
        now: datetime,
        label: str | None,
        activation_date: datetime | None,
        version: int = 1,
        predecessor: ManagedKey | None = None,
    ) -> ManagedKey:
        if label is None:
            label = render_label(
                template.label_pattern, seq=seq, when=now, template=template.name, version=version
            )
        activation = activation_date or now
        return ManagedKey(
            id=uuid.uuid4().hex,
            label=label,
            template_id=template.id,
            algorithm=template.algorithm,
            key_usage=template.key_usage,
            mode_of_use=template.mode_of_use,
            exportability=template.exportability,
            kcv=_kcv_hex(generated.kcv),
            wrapped=generated.wrapped,
            public_key=generated.public_key,
            state=KeyState.PRE_ACTIVATION,
            version=version,
            created_at=now,
            activation_date=activation,
            deactivation_date=activation + timedelta(days=template.crypto_period_days),
            predecessor_id=predecessor.id if predecessor else None,
            state_changed_at=now,
            test_key=template.test_key,
        )

    def _store_new(
        self,
        uow: UnitOfWork,
        auth: Authorisation,
        session: Session,
        keys: list[ManagedKey],
        template: KeyTemplate,
        action: Action,
        details: dict[str, str] | None = None,
    ) -> None:
        """New keys with their seals, audit entries and first history events."""
        uow.keys.add_many([(k, self.ctx.seal(k)) for k in keys])
        audit = self.ctx.audit_events(
            auth,
            session,
            "key.import" if action is Action.IMPORT_KEY else "key.generate",
            "key",
            [
                (
                    k.id,
                    k.label,
                    None,
                    k.state.value,
                    k.kcv,
                    {
                        "template": template.name,
                        "template_version": template.version,
                        "algorithm": k.algorithm.value,
                        "usage": k.key_usage,
                        "version": k.version,
                        **(details or {}),
                    },
                )
                for k in keys
            ],
        )
        entries = uow.audit.append_many(audit)
        people = tuple(m.name for m in session.members)
        uow.keys.add_events(
            [
                KeyEvent(
                    key_id=k.id,
                    at=k.created_at,
                    action=action,
                    from_state=None,
                    to_state=k.state,
                    people=people,
                    audit_seq=e.seq,
                )
                for k, e in zip(keys, entries, strict=True)
            ]
        )

    # --- lifecycle -----------------------------------------------------------------------

    def change_state(
        self,
        session: Session,
        ref: str,
        action: Action,
        *,
        reason: str = "",
        compromise_date: datetime | None = None,
    ) -> ManagedKey:
        if action not in ACTION_TARGET:
            raise BadInput(f"{action.display} is not a change of a key's state.")
        target = ACTION_TARGET[action]
        if action in (Action.COMPROMISE_KEY, Action.DESTROY_KEY) and not reason.strip():
            raise BadInput(f"Say why: {action.display} needs a reason.")
        now = self.ctx.clock.now()
        if compromise_date is not None and compromise_date > now:
            raise BadInput("The compromise date cannot be in the future.")
        with self.ctx.repository.unit_of_work() as uow:
            key = self.find_key(uow, ref)
            template = self.template_of(uow, key)
            if not template.allows(action):
                raise PolicyRefused(
                    f"Template {template.name!r} does not allow {action.display} for its keys."
                )
            auth = self.ctx.authorise(uow, session, action, template=template)
            if action is Action.ACTIVATE_KEY and now < key.activation_date:
                raise InvalidTransition(
                    f"Key {key.label} may be activated from {key.activation_date:%Y-%m-%d %H:%M} "
                    "UTC, not before."
                )
            updated = key.transitioned(target, now, action, compromise_date=compromise_date)
            uow.keys.update(updated, self.ctx.seal(updated))
            details: dict[str, str] = {}
            if reason:
                details["reason"] = reason.strip()
            if updated.compromise_date is not None and target is KeyState.COMPROMISED:
                details["compromise_date"] = f"{updated.compromise_date:%Y-%m-%d}"
            seq = self.ctx.audit(
                uow,
                auth,
                f"key.{action.value.removesuffix('_key')}",
                "key",
                key.id,
                label=key.label,
                before=key.state.value,
                after=target.value,
                kcv=key.kcv,
                details=details,
                session=session,
            )
            uow.keys.add_event(
                KeyEvent(
                    key_id=key.id,
                    at=now,
                    action=action,
                    from_state=key.state,
                    to_state=target,
                    people=tuple(m.name for m in session.members),
                    reason=reason.strip(),
                    audit_seq=seq,
                )
            )
            uow.commit()
        if target is KeyState.DESTROYED:
            self.ctx.repository.scrub()
        self.ctx.checkpoint()
        return updated

    def rotate(
        self, session: Session, ref: str, *, reason: str = ""
    ) -> tuple[ManagedKey, ManagedKey]:
        """Make a successor from the same template, linked both ways."""
        with self.ctx.repository.unit_of_work() as uow:
            old = self.find_key(uow, ref)
            template = self.check_rotatable(uow, old)
            auth = self.ctx.authorise(uow, session, Action.ROTATE_KEY, template=template)
        result = self.rotate_authorised(auth, session, old, reason=reason)
        self.ctx.checkpoint()
        return result

    def check_rotatable(self, uow: UnitOfWork, old: ManagedKey) -> KeyTemplate:
        """The key's template, if the key may be rotated now; raises saying why not."""
        template = self.template_of(uow, old)
        if not template.allows(Action.ROTATE_KEY):
            raise PolicyRefused(f"Template {template.name!r} does not allow rotation.")
        if Action.ROTATE_KEY not in allowed_actions(old.state):
            raise InvalidTransition(f"Key {old.label} is {old.state.value}; it cannot be rotated.")
        if old.successor_id is not None:
            raise InvalidTransition(f"Key {old.label} already has a successor.")
        if template.status is not TemplateStatus.ACTIVE:
            raise BadInput(f"Template {template.name!r} is retired; choose a new template.")
        return template

    def rotate_authorised(
        self,
        auth: Authorisation,
        session: Session,
        old: ManagedKey,
        *,
        reason: str = "",
        details: dict[str, str] | None = None,
        also: Callable[[UnitOfWork, ManagedKey], None] | None = None,
    ) -> tuple[ManagedKey, ManagedKey]:
        """Rotate ``old`` under an authorisation already given (one key, or each key of a
        bulk rotation under the quorum gathered once for the job). ``also`` runs inside the
        same transaction with the successor (a job records it there: both or neither)."""
        template_id = old.template_id
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            template = self.template_of(uow, old)
        generated = self.ctx.hsm.generate_key(template.algorithm)
        now = self.ctx.clock.now()
        with self.ctx.repository.unit_of_work() as uow:
            current = self.find_key(uow, old.id)
            if current != old or current.template_id != template_id:
                raise BadInput(f"Key {old.label} changed while rotating; try again.")
            new = self._new_key(
                template,
                generated,
                seq=uow.templates.next_sequence(template.id),
                now=now,
                label=None,
                activation_date=None,
                version=old.version + 1,
                predecessor=old,
            )
            extra = {**(details or {}), **({"reason": reason} if reason else {})}
            self._store_new(
                uow,
                auth,
                session,
                [new],
                template,
                Action.ROTATE_KEY,
                details={"predecessor": old.label, **extra},
            )
            linked = replace(old, successor_id=new.id)
            uow.keys.update(linked, self.ctx.seal(linked))
            seq = self.ctx.audit(
                uow,
                auth,
                "key.rotate",
                "key",
                old.id,
                label=old.label,
                before=old.state.value,
                after=old.state.value,
                kcv=old.kcv,
                details={"successor": new.label, "successor_kcv": new.kcv, **extra},
                session=session,
            )
            uow.keys.add_event(
                KeyEvent(
                    key_id=old.id,
                    at=now,
                    action=Action.ROTATE_KEY,
                    from_state=old.state,
                    to_state=old.state,
                    people=tuple(m.name for m in session.members),
                    reason=f"successor {new.label}",
                    audit_seq=seq,
                )
            )
            if also is not None:
                also(uow, new)
            uow.commit()
        return linked, new

    def availability(self, session: Session, ref: str) -> list[Availability]:
        """For a screen: each lifecycle action on the key, whether its state and template
        allow it now (with the reason if not), and who the quorum still lacks. Nothing is
        authorised here; every action is checked again when it runs."""
        from workstation.domain.policy import evaluate_quorum

        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            key = self.find_key(uow, ref)
            template = self.template_of(uow, key)
            policy = self.ctx.policy(uow)
            groups = self.ctx.groups(uow)
        possible = allowed_actions(key.state)
        now = self.ctx.clock.now()
        result: list[Availability] = []
        for action in KEY_MENU:
            quorum = template.quorums.get(action) or policy.quorum_for(action)
            reason = ""
            if action not in possible:
                reason = f"Not possible: the key is {key.state.value}."
            elif not template.allows(action):
                reason = f"Template {template.name!r} does not allow this."
            elif action is Action.ROTATE_KEY and key.successor_id is not None:
                reason = "The key already has a successor."
            elif action is Action.ACTIVATE_KEY and now < key.activation_date:
                reason = f"Its activation date is {key.activation_date:%Y-%m-%d %H:%M} UTC."
            check = evaluate_quorum(quorum, session.participants(), groups)
            result.append(
                Availability(action, not reason, reason, quorum.describe(), check.missing)
            )
        return result

    # --- inventory -----------------------------------------------------------------------

    def query(self, session: Session, query: KeyQuery) -> tuple[list[ManagedKey], int]:
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            keys = [s.value for s in uow.keys.query(query)]
            total = uow.keys.count(replace(query, limit=None, offset=0))
        return keys, total

    def expiring(self, session: Session, days: int) -> list[ManagedKey]:
        if not 0 <= days <= 3650:
            raise BadInput("Give a number of days between 0 and 3650.")
        limit = self.ctx.clock.now() + timedelta(days=days)
        keys, _ = self.query(session, KeyQuery(expiring_before=limit))
        return sorted(keys, key=lambda k: k.deactivation_date)

    def detail(self, session: Session, ref: str) -> KeyDetail:
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            sealed = uow.keys.by_label(ref) or uow.keys.get(ref)
            if sealed is None:
                raise NotFound(f"No key labelled {ref!r}.")
            ok = self.ctx.hsm.verify_binding(sealed.value.binding_bytes(), sealed.mac)
            key = sealed.value
            t = uow.templates.get(key.template_id)
            return KeyDetail(
                key=key,
                template=t.value if t else None,
                history=uow.keys.events(key.id),
                audit_trail=uow.audit.search(object_id=key.id, limit=1000),
                integrity_ok=ok,
            )

    def verify(self, session: Session, ref: str) -> ManagedKey:
        """Check the seal and recompute the KCV inside the HSM; raise if anything differs."""
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            key = self.find_key(uow, ref)
        if key.wrapped is None:
            raise BadInput(f"Key {key.label} is destroyed; there is no key material to verify.")
        if key.algorithm.is_symmetric:
            kcv = _kcv_hex(self.ctx.hsm.key_check_value(key.algorithm, key.wrapped))
        else:
            assert key.public_key is not None
            kcv = hashlib.sha256(key.public_key).digest()[:3].hex().upper()
        if kcv != key.kcv:
            raise IntegrityError(
                f"Key {key.label}: the HSM computes KCV {kcv}, the record says {key.kcv}."
            )
        return key
