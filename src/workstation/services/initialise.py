"""Initialisation: the repository, the workstation's HSM keys and the first two officers.

It refuses to run on an initialised workstation and never overwrites anything: both
officers' cards are checked (PIN and proof of possession) before anything is created.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from workstation.domain.cardauth import CardCertificate, require_logon_key
from workstation.domain.people import Card, Person, Role
from workstation.domain.policy import PolicySet
from workstation.domain.templates import seed_templates
from workstation.errors import AlreadyInitialised, BadInput
from workstation.services.context import ServiceContext
from workstation.services.logon import card_for_enrolment
from workstation.services.people import DEFAULT_GROUPS

MIN_OFFICERS = 2


@dataclass
class OfficerCard:
    reader: str
    name: str
    pin: bytearray


@dataclass(frozen=True)
class InitResult:
    workstation_id: str
    officers: tuple[str, ...]
    templates: int


class InitialiseService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def is_initialised(self) -> bool:
        return self.ctx.repository.exists() or self.ctx.hsm.has_workstation_keys()

    def initialise(self, officers: list[OfficerCard]) -> InitResult:
        try:
            return self._initialise(officers)
        finally:
            for o in officers:
                for i in range(len(o.pin)):
                    o.pin[i] = 0

    def _initialise(self, officers: list[OfficerCard]) -> InitResult:
        if self.ctx.repository.exists():
            raise AlreadyInitialised(
                "This workstation is already initialised (its repository exists); nothing "
                "was changed."
            )
        if self.ctx.hsm.has_workstation_keys():
            raise AlreadyInitialised(
                "The HSM token already holds workstation keys; initialising again would "
                "orphan them. Nothing was changed."
            )
        if len(officers) < MIN_OFFICERS:
            raise BadInput(f"Initialisation enrols at least {MIN_OFFICERS} security officers.")
        names = [o.name.strip() for o in officers]
        if any(not n for n in names):
            raise BadInput("Every security officer needs a name.")
        if len({n.casefold() for n in names}) != len(names):
            raise BadInput("The security officers must be different people (names repeat).")
        if len({o.reader for o in officers}) != len(officers):
            raise BadInput("Each security officer's card must be in its own reader.")

        now = self.ctx.clock.now()
        people: list[Person] = []
        cards: list[Card] = []
        for officer, name in zip(officers, names, strict=True):
            person = Person(
                id=uuid.uuid4().hex,
                name=name,
                roles=frozenset({Role.SECURITY_OFFICER}),
                created_at=now,
            )

            def refuse_repeat(cert: CardCertificate) -> None:
                require_logon_key(cert)
                if any(c.id == cert.fingerprint for c in cards):
                    raise BadInput("The same card was presented twice; each officer needs a card.")

            cards.append(
                card_for_enrolment(
                    self.ctx.readers,
                    officer.reader,
                    officer.pin,
                    person_id=person.id,
                    now=now,
                    refuse=refuse_repeat,
                )
            )
            people.append(person)

        # Everything checked: create the HSM keys, then the repository in one transaction.
        self.ctx.hsm.create_workstation_keys()
        self.ctx.repository.create()
        workstation_id = uuid.uuid4().hex
        policy = PolicySet()
        templates = seed_templates()
        info = self.ctx.hsm.info()
        with self.ctx.repository.unit_of_work() as uow:
            uow.meta.put("workstation_id", workstation_id)
            uow.meta.put("initialised_at", now.isoformat())
            self.ctx.audit(
                uow,
                None,
                "workstation.init",
                "workstation",
                workstation_id,
                details={
                    "hsm": {
                        "library": info.library,
                        "manufacturer": info.manufacturer,
                        "model": info.model,
                        "serial": info.serial,
                        "token": info.token_label,
                    },
                    "officers": names,
                },
            )
            for person, card in zip(people, cards, strict=True):
                uow.people.add(person, self.ctx.seal(person))
                uow.cards.add(card, self.ctx.seal(card))
                self.ctx.audit(
                    uow,
                    None,
                    "person.enrol",
                    "person",
                    person.id,
                    label=person.name,
                    after="active",
                    details={
                        "roles": sorted(r.value for r in person.roles),
                        "card": card.short_id,
                        "card_subject": card.subject,
                    },
                )
            uow.policy.put(policy, self.ctx.seal(policy))
            self.ctx.audit(
                uow,
                None,
                "policy.set",
                "policy",
                "policy",
                after="version 1",
                details=policy.to_record(),
            )
            for group in DEFAULT_GROUPS():
                uow.groups.add(group, self.ctx.seal(group))
                self.ctx.audit(
                    uow,
                    None,
                    "group.create",
                    "group",
                    group.id,
                    label=group.name,
                    details=group.to_record(),
                )
            for template in templates:
                uow.templates.add(template, self.ctx.seal(template))
                self.ctx.audit(
                    uow,
                    None,
                    "template.create",
                    "template",
                    template.id,
                    label=template.name,
                    details=template.to_record(),
                )
            uow.commit()
        self.ctx.checkpoint(force=True)
        return InitResult(workstation_id, tuple(names), len(templates))
