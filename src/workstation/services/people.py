"""People, cards and groups, each change under its quorum and with its audit entry."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import NoReturn

from workstation.domain.cardauth import CardCertificate, card_id, require_logon_key
from workstation.domain.people import Card, Group, Person, Role, Status, transition_status
from workstation.domain.policy import Action, Participant, PolicySet, evaluate_quorum
from workstation.errors import AlreadyExists, BadInput, CardNotUsable, NotFound, PolicyRefused
from workstation.services.context import ServiceContext
from workstation.services.logon import card_for_enrolment
from workstation.services.ports import UnitOfWork
from workstation.services.session import Session


def DEFAULT_GROUPS() -> list[Group]:
    """Groups the seed templates refer to; empty until a security officer fills them."""
    return [Group(id=uuid.uuid4().hex, name="custodians A", threshold=2)]


def _check_name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean:
        raise BadInput("A name is needed.")
    if len(clean) > 100:
        raise BadInput("A name has at most 100 characters.")
    return clean


class PeopleService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # --- reading -------------------------------------------------------------------------

    def find_person(self, uow: UnitOfWork, name_or_id: str) -> Person:
        sealed = uow.people.by_name(name_or_id) or uow.people.get(name_or_id)
        if sealed is None:
            raise NotFound(f"No person named {name_or_id!r} is enrolled.")
        return self.ctx.unseal(sealed, f"person {sealed.value.name}")

    def list_people(self, session: Session) -> list[tuple[Person, list[Card]]]:
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            return [
                (p.value, [c.value for c in uow.cards.for_person(p.value.id)])
                for p in uow.people.list()
            ]

    def list_groups(self, session: Session) -> list[tuple[Group, list[str]]]:
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            names = {p.value.id: p.value.name for p in uow.people.list()}
            return [
                (g, sorted(names.get(m, m) for m in g.members))
                for g in self.ctx.groups(uow).values()
            ]

    # --- enrolment -----------------------------------------------------------------------

    def enrol(
        self, session: Session, *, name: str, roles: Iterable[Role], reader: str, pin: bytearray
    ) -> Person:
        """Enrol a person with the PIV card in ``reader``; the holder types their PIN."""
        try:
            return self._enrol(session, name=name, roles=frozenset(roles), reader=reader, pin=pin)
        finally:
            for i in range(len(pin)):
                pin[i] = 0

    def _enrol(
        self, session: Session, *, name: str, roles: frozenset[Role], reader: str, pin: bytearray
    ) -> Person:
        name = _check_name(name)
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.ENROL_PERSON)
            self.ctx.policy(uow).check_roles(roles)
            if uow.people.by_name(name) is not None:
                raise AlreadyExists(f"A person named {name!r} is already enrolled.")
        if session.has_reader(reader):
            raise BadInput(
                f"The card in {reader} belongs to someone logged on; insert the new person's "
                "card in a free reader."
            )
        now = self.ctx.clock.now()
        person = Person(id=uuid.uuid4().hex, name=name, roles=roles, created_at=now)
        card = card_for_enrolment(
            self.ctx.readers,
            reader,
            pin,
            person_id=person.id,
            now=now,
            refuse=self._refuse_enrolled,
        )
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.ENROL_PERSON, check_cards=False)
            uow.people.add(person, self.ctx.seal(person))
            uow.cards.add(card, self.ctx.seal(card))
            self.ctx.audit(
                uow,
                auth,
                "person.enrol",
                "person",
                person.id,
                label=person.name,
                after="active",
                details={
                    "roles": sorted(r.value for r in roles),
                    "card": card.short_id,
                    "card_subject": card.subject,
                    "card_expires": f"{card.not_after:%Y-%m-%d}",
                },
                session=session,
            )
            uow.commit()
        return person

    def add_card(self, session: Session, *, person: str, reader: str, pin: bytearray) -> Card:
        """Enrol a further (replacement) card for an enrolled person."""
        try:
            with self.ctx.repository.unit_of_work() as uow:
                self.ctx.authorise(uow, session, Action.ENROL_PERSON)
                holder = self.find_person(uow, person)
        except Exception:
            pin[:] = bytes(len(pin))
            raise
        card = card_for_enrolment(
            self.ctx.readers,
            reader,
            pin,
            person_id=holder.id,
            now=self.ctx.clock.now(),
            refuse=self._refuse_enrolled,
        )
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.ENROL_PERSON, check_cards=False)
            if uow.cards.get(card.id) is not None:
                raise AlreadyExists("This card is already enrolled (one person per card).")
            uow.cards.add(card, self.ctx.seal(card))
            self.ctx.audit(
                uow,
                auth,
                "card.enrol",
                "card",
                card.short_id,
                label=holder.name,
                after="active",
                details={"card_subject": card.subject},
                session=session,
            )
            uow.commit()
        return card

    def _refuse_enrolled(self, cert: CardCertificate) -> None:
        require_logon_key(cert)
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            if uow.cards.get(cert.fingerprint) is not None:
                raise AlreadyExists("This card is already enrolled (one person per card).")

    # --- status and roles ----------------------------------------------------------------

    def _refuse_self(self, session: Session, person: Person) -> None:
        # A requester never approves their own request: nobody changes their own standing.
        if session.member(person.id) is not None:
            raise PolicyRefused(
                f"{person.name} is logged on in this session; a change to a person must be "
                "made by others."
            )

    def _ensure_governable(self, uow: UnitOfWork, policy: PolicySet, changed: Person) -> None:
        """After a change to people, the administrative quorums must still be achievable."""
        people = [changed if p.value.id == changed.id else p.value for p in uow.people.list()]
        active = [
            Participant(p.id, p.name, p.roles, frozenset())
            for p in people
            if p.status is Status.ACTIVE
        ]
        for action in (Action.ENROL_PERSON, Action.CHANGE_POLICY, Action.MANAGE_PEOPLE):
            quorum = policy.quorum_for(action)
            if not evaluate_quorum(quorum, active, self.ctx.groups(uow)).met:
                raise PolicyRefused(
                    f"This change would leave too few active people to {action.display} "
                    f"({quorum.describe()}); enrol someone else first."
                )

    def set_status(self, session: Session, name: str, target: Status, reason: str = "") -> Person:
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_PEOPLE)
            person = self.find_person(uow, name)
            self._refuse_self(session, person)
            new_status = transition_status(person.status, target, f"person {person.name}")
            updated = person.with_status(new_status)
            if new_status is not Status.ACTIVE:
                self._ensure_governable(uow, self.ctx.policy(uow), updated)
            uow.people.update(updated, self.ctx.seal(updated))
            self.ctx.audit(
                uow,
                auth,
                f"person.{_verb(target)}",
                "person",
                person.id,
                label=person.name,
                before=person.status.value,
                after=new_status.value,
                details={"reason": reason} if reason else {},
                session=session,
            )
            uow.commit()
            return updated

    def set_roles(self, session: Session, name: str, roles: Iterable[Role]) -> Person:
        wanted = frozenset(roles)
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_PEOPLE)
            policy = self.ctx.policy(uow)
            policy.check_roles(wanted)
            person = self.find_person(uow, name)
            self._refuse_self(session, person)
            if person.status is Status.REVOKED:
                raise BadInput(f"{person.name} is revoked; roles cannot be changed.")
            updated = person.with_roles(wanted)
            self._ensure_governable(uow, policy, updated)
            uow.people.update(updated, self.ctx.seal(updated))
            self.ctx.audit(
                uow,
                auth,
                "person.roles",
                "person",
                person.id,
                label=person.name,
                before=",".join(sorted(r.value for r in person.roles)),
                after=",".join(sorted(r.value for r in wanted)),
                session=session,
            )
            uow.commit()
            return updated

    def set_card_status(
        self, session: Session, card_ref: str, target: Status, reason: str = ""
    ) -> Card:
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_CARDS)
            card = self._find_card(uow, card_ref)
            holder = self.ctx.unseal(uow.people.get(card.person_id) or _missing(card), "a person")
            self._refuse_self(session, holder)
            new_status = transition_status(card.status, target, f"card {card.short_id}")
            updated = card.with_status(new_status)
            uow.cards.update(updated, self.ctx.seal(updated))
            self.ctx.audit(
                uow,
                auth,
                f"card.{_verb(target)}",
                "card",
                card.short_id,
                label=holder.name,
                before=card.status.value,
                after=new_status.value,
                details={"reason": reason} if reason else {},
                session=session,
            )
            uow.commit()
            return updated

    def _find_card(self, uow: UnitOfWork, ref: str) -> Card:
        ref = ref.strip().lower()
        if len(ref) < 8:
            raise BadInput("Give at least 8 hex digits of the card id.")
        matches = [c for c in uow.cards.list() if c.value.id.startswith(ref)]
        if not matches:
            raise NotFound(f"No enrolled card has an id starting {ref}.")
        if len(matches) > 1:
            raise BadInput(f"Several cards have ids starting {ref}; give more digits.")
        return self.ctx.unseal(matches[0], f"card {ref}")

    def change_pin(self, reader: str, old: bytearray, new: bytearray) -> str:
        """The card holder changes their own PIN; the card checks the old one."""
        try:
            connection = self.ctx.readers.connect(reader)
            try:
                der = connection.authentication_certificate()
                with self.ctx.repository.unit_of_work() as uow:
                    sealed = uow.cards.get(card_id(der))
                    if sealed is None:
                        raise NotFound("This card is not enrolled on this workstation.")
                    card = self.ctx.unseal(sealed, "a card")
                    person = self.ctx.unseal(
                        uow.people.get(card.person_id) or _missing(card), "a person"
                    )
                if card.status is not Status.ACTIVE:
                    raise CardNotUsable(f"This card is {card.status.value}.")
                connection.change_pin(old, new)
            finally:
                connection.close()
        finally:
            for buf in (old, new):
                for i in range(len(buf)):
                    buf[i] = 0
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.audit(uow, None, "card.pin_change", "card", card.short_id, label=person.name)
            uow.commit()
        return person.name

    # --- groups --------------------------------------------------------------------------

    def create_group(
        self, session: Session, name: str, threshold: int, members: Iterable[str]
    ) -> Group:
        name = _check_name(name)
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_GROUPS)
            if uow.groups.by_name(name) is not None:
                raise AlreadyExists(f"A group named {name!r} already exists.")
            ids = frozenset(self.find_person(uow, m).id for m in members)
            group = Group(id=uuid.uuid4().hex, name=name, threshold=threshold, members=ids)
            uow.groups.add(group, self.ctx.seal(group))
            self.ctx.audit(
                uow,
                auth,
                "group.create",
                "group",
                group.id,
                label=name,
                after=group.describe,
                details=group.to_record(),
                session=session,
            )
            uow.commit()
            return group

    def change_group(
        self,
        session: Session,
        name: str,
        *,
        threshold: int | None = None,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
    ) -> Group:
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_GROUPS)
            sealed = uow.groups.by_name(name)
            if sealed is None:
                raise NotFound(f"No group named {name!r}.")
            group = self.ctx.unseal(sealed, f"group {name}")
            members = set(group.members)
            for ref in add:
                person = self.find_person(uow, ref)
                if person.id in members:
                    raise BadInput(f"{person.name} is already in group {group.name}.")
                members.add(person.id)
            for ref in remove:
                person = self.find_person(uow, ref)
                if person.id not in members:
                    raise BadInput(f"{person.name} is not in group {group.name}.")
                members.discard(person.id)
            updated = Group(
                id=group.id,
                name=group.name,
                threshold=threshold if threshold is not None else group.threshold,
                members=frozenset(members),
            )
            uow.groups.update(updated, self.ctx.seal(updated))
            self.ctx.audit(
                uow,
                auth,
                "group.change",
                "group",
                group.id,
                label=group.name,
                before=group.describe,
                after=updated.describe,
                details=updated.to_record(),
                session=session,
            )
            uow.commit()
            return updated


def _verb(target: Status) -> str:
    return {Status.ACTIVE: "reinstate", Status.SUSPENDED: "suspend", Status.REVOKED: "revoke"}[
        target
    ]


def _missing(card: Card) -> NoReturn:
    raise NotFound(f"The holder of card {card.short_id} is missing from the repository.")
