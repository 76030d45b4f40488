"""Policies and templates: changed only under their own quorum, every change audited."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.people import Role, Status
from workstation.domain.policy import (
    KEY_ACTIONS,
    Action,
    MediaExport,
    Participant,
    PolicySet,
    Quorum,
    evaluate_quorum,
)
from workstation.domain.templates import KeyTemplate, TemplateStatus
from workstation.errors import AlreadyExists, BadInput, NotFound, PolicyRefused
from workstation.services.context import ServiceContext
from workstation.services.ports import UnitOfWork
from workstation.services.session import Session


class PolicyService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def current(self, session: Session) -> PolicySet:
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            return self.ctx.policy(uow)

    def removable_media_exports(self) -> frozenset[MediaExport]:
        """What the policy in force lets a kiosk write to removable media.

        Read without a session: the kiosk's file dialogs need it before and between
        actions, and it is no secret (the seal is checked as for every read)."""
        with self.ctx.repository.unit_of_work() as uow:
            return self.ctx.policy(uow).removable_media_exports

    def change(
        self,
        session: Session,
        *,
        quorums: Mapping[Action, Quorum] | None = None,
        idle_timeout_seconds: int | None = None,
        incompatible_roles: frozenset[frozenset[Role]] | None = None,
        removable_media_exports: frozenset[MediaExport] | None = None,
    ) -> PolicySet:
        """Change policies under the CHANGE_POLICY quorum of the policy in force.

        ``removable_media_exports`` replaces the whole set of kinds a kiosk may write to
        removable media (an empty set: none, the outbox only)."""
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.CHANGE_POLICY)
            old = self.ctx.policy(uow)
            new_quorums = dict(old.quorums)
            for action, quorum in (quorums or {}).items():
                if action is Action.LOGON:
                    raise BadInput("Logon has no quorum: every enrolled, active person may log on.")
                new_quorums[action] = quorum
            new = PolicySet(
                quorums=new_quorums,
                idle_timeout_seconds=(
                    idle_timeout_seconds
                    if idle_timeout_seconds is not None
                    else old.idle_timeout_seconds
                ),
                incompatible_roles=(
                    incompatible_roles if incompatible_roles is not None else old.incompatible_roles
                ),
                version=old.version + 1,
                removable_media_exports=(
                    frozenset(removable_media_exports)
                    if removable_media_exports is not None
                    else old.removable_media_exports
                ),
            )
            if new.to_record() | {"version": 0} == old.to_record() | {"version": 0}:
                raise BadInput("The new policy is the same as the one in force; nothing changed.")
            self._check_achievable(uow, new, changed=set((quorums or {}).keys()))
            self._check_people_comply(uow, new)
            uow.policy.put(new, self.ctx.seal(new))
            changes: dict[str, Any] = {
                a.value: {
                    "before": old.quorums[a].describe() if a in old.quorums else None,
                    "after": q.describe(),
                }
                for a, q in (quorums or {}).items()
            }
            if idle_timeout_seconds is not None:
                changes["idle_timeout_seconds"] = {
                    "before": old.idle_timeout_seconds,
                    "after": idle_timeout_seconds,
                }
            if new.removable_media_exports != old.removable_media_exports:
                changes["removable_media_exports"] = {
                    "before": sorted(k.value for k in old.removable_media_exports),
                    "after": sorted(k.value for k in new.removable_media_exports),
                }
            self.ctx.audit(
                uow,
                auth,
                "policy.change",
                "policy",
                "policy",
                before=f"version {old.version}",
                after=f"version {new.version}",
                details={"changes": changes},
                session=session,
            )
            uow.commit()
            return new

    def _check_achievable(self, uow: UnitOfWork, policy: PolicySet, changed: set[Action]) -> None:
        """Refuse a quorum nobody enrolled could meet: it would lock the workstation out."""
        groups = self.ctx.groups(uow)
        people = [
            Participant(
                p.value.id,
                p.value.name,
                p.value.roles,
                frozenset(g.name for g in groups.values() if p.value.id in g.members),
            )
            for p in uow.people.list()
            if p.value.status is Status.ACTIVE
        ]
        for action in changed:
            quorum = policy.quorum_for(action)
            for req in quorum.requirements:
                if req.group is not None and req.group not in groups:
                    raise BadInput(f"The quorum names group {req.group!r}, which does not exist.")
            if action in (Action.CHANGE_POLICY, Action.ENROL_PERSON, Action.MANAGE_PEOPLE):
                result = evaluate_quorum(quorum, people, groups)
                if not result.met:
                    raise PolicyRefused(
                        f"No set of active people could meet {quorum.describe()} for "
                        f"{action.display} (missing {', '.join(result.missing)}); the "
                        "workstation would be locked out. Nothing was changed."
                    )

    def _check_people_comply(self, uow: UnitOfWork, policy: PolicySet) -> None:
        for p in uow.people.list():
            if p.value.status is Status.REVOKED:
                continue
            try:
                policy.check_roles(p.value.roles)
            except BadInput as exc:
                raise PolicyRefused(
                    f"{p.value.name} holds roles the new policy forbids together: "
                    f"{exc.user_message()} Change their roles first."
                ) from None


def _template_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Turn CLI/GUI values (strings) into template field values."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if name == "algorithm":
            out[name] = KeyAlgorithm.parse(str(value))
        elif name in ("key_usage", "mode_of_use", "exportability"):
            out[name] = str(value).strip().upper()
        elif name == "crypto_period_days":
            try:
                out[name] = int(value)
            except (TypeError, ValueError):
                raise BadInput(
                    f"The crypto-period must be a number of days, not {value!r}."
                ) from None
        elif name == "allowed_actions":
            out[name] = frozenset(Action.parse(a) for a in value)
        elif name == "quorums":
            out[name] = {
                Action.parse(a): Quorum.parse(q) if isinstance(q, str) else q
                for a, q in dict(value).items()
            }
        elif name in ("name", "description", "label_pattern"):
            out[name] = str(value).strip()
        elif name == "test_key":
            out[name] = bool(value)
        else:
            raise BadInput(f"Unknown template field {name!r}.")
    return out


class TemplateService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def find(self, uow: UnitOfWork, ref: str) -> KeyTemplate:
        sealed = uow.templates.by_name(ref) or uow.templates.get(ref)
        if sealed is None:
            raise NotFound(f"No template named {ref!r}.")
        return self.ctx.unseal(sealed, f"template {sealed.value.name}")

    def list(self, session: Session, *, include_retired: bool = False) -> list[KeyTemplate]:
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            return [
                s.value
                for s in uow.templates.list()
                if include_retired or s.value.status is TemplateStatus.ACTIVE
            ]

    def show(self, session: Session, ref: str) -> KeyTemplate:
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            return self.find(uow, ref)

    def create(self, session: Session, **fields: Any) -> KeyTemplate:
        values = _template_fields(fields)
        missing = {
            "name",
            "algorithm",
            "key_usage",
            "mode_of_use",
            "exportability",
            "crypto_period_days",
            "label_pattern",
        } - set(values)
        if missing:
            raise BadInput(f"A template needs: {', '.join(sorted(missing))}.")
        values.setdefault("description", "")
        values.setdefault("allowed_actions", KEY_ACTIONS)
        template = KeyTemplate(id=uuid.uuid4().hex, **values)
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_TEMPLATES)
            if uow.templates.by_name(template.name) is not None:
                raise AlreadyExists(f"A template named {template.name!r} already exists.")
            self._check_groups(uow, template)
            uow.templates.add(template, self.ctx.seal(template))
            self.ctx.audit(
                uow,
                auth,
                "template.create",
                "template",
                template.id,
                label=template.name,
                after="version 1",
                details=template.to_record(),
                session=session,
            )
            uow.commit()
        return template

    def edit(self, session: Session, ref: str, **fields: Any) -> KeyTemplate:
        values = _template_fields(fields)
        if not values:
            raise BadInput("Nothing to change: name at least one field.")
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_TEMPLATES)
            old = self.find(uow, ref)
            if old.status is TemplateStatus.RETIRED:
                raise BadInput(f"Template {old.name!r} is retired; it cannot be edited.")
            if "name" in values and values["name"].casefold() != old.name.casefold():
                if uow.templates.by_name(values["name"]) is not None:
                    raise AlreadyExists(f"A template named {values['name']!r} already exists.")
            new = old.edited(**values)
            self._check_groups(uow, new)
            uow.templates.update(new, self.ctx.seal(new))
            changed = {
                k: {"before": old.to_record()[k], "after": new.to_record()[k]}
                for k in new.to_record()
                if new.to_record()[k] != old.to_record()[k]
            }
            self.ctx.audit(
                uow,
                auth,
                "template.edit",
                "template",
                new.id,
                label=new.name,
                before=f"version {old.version}",
                after=f"version {new.version}",
                details={"changes": changed},
                session=session,
            )
            uow.commit()
        return new

    def retire(self, session: Session, ref: str) -> KeyTemplate:
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_TEMPLATES)
            old = self.find(uow, ref)
            if old.status is TemplateStatus.RETIRED:
                raise BadInput(f"Template {old.name!r} is already retired.")
            new = replace(old, status=TemplateStatus.RETIRED, version=old.version + 1)
            uow.templates.update(new, self.ctx.seal(new))
            self.ctx.audit(
                uow,
                auth,
                "template.retire",
                "template",
                new.id,
                label=new.name,
                before="active",
                after="retired",
                session=session,
            )
            uow.commit()
        return new

    def _check_groups(self, uow: UnitOfWork, template: KeyTemplate) -> None:
        groups = self.ctx.groups(uow)
        for quorum in template.quorums.values():
            for req in quorum.requirements:
                if req.group is not None and req.group not in groups:
                    raise BadInput(
                        f"Template {template.name!r} names group {req.group!r}, which does "
                        "not exist."
                    )
