"""Logon with a PIV card and PIN, alone or as a group (m of n).

The card proves possession of its enrolled key by signing a fresh random challenge with
its PIV Authentication key (slot 9A) after the PIN was verified by the card itself
(NIST SP 800-73-4 part 2, VERIFY and GENERAL AUTHENTICATE). The card counts wrong PINs
and blocks; the number of tries left is shown before and after each attempt.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from workstation.domain.cardauth import (
    CardCertificate,
    card_id,
    parse_card_certificate,
    signature_is_valid,
)
from workstation.domain.people import Card, Person, Status
from workstation.domain.policy import Action, Quorum, evaluate_quorum
from workstation.errors import (
    AuthenticationFailed,
    BadInput,
    CardBlocked,
    CardNotEnrolled,
    CardNotUsable,
    NotFound,
    PinIncorrect,
    PolicyRefused,
)
from workstation.services.context import ServiceContext
from workstation.services.ports import CardReaders, CardWatch, PivCard, ReaderStatus
from workstation.services.session import Member, Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Requirement:
    """The quorum an action needs, judged against the session now."""

    action: Action
    quorum: str  # e.g. "2 key custodians"
    met: bool
    missing: tuple[str, ...]  # e.g. ("1 supervisor",)
    reason: str  # set when not met for another reason than missing people
    present: tuple[str, ...]  # names logged on

    def explain(self) -> str:
        if self.met:
            return f"{self.action.display.capitalize()}: {self.quorum} — met."
        if self.reason:
            return self.reason
        return (
            f"{self.action.display.capitalize()} needs {self.quorum}; still missing: "
            f"{', '.join(self.missing)}."
        )


@dataclass(frozen=True)
class CardInReader:
    """What the logon screen shows for an inserted card before the PIN is entered."""

    reader: str
    holder: str | None  # enrolled person's name, None if the card is unknown here
    roles: str
    card_status: str  # "active", "suspended", "revoked", "not enrolled", "expired"
    retries_left: int | None


def prove_possession(connection: PivCard, cert_der: bytes) -> None:
    """Challenge-response with the 9A key; raises unless the signature verifies."""
    challenge = secrets.token_bytes(32)
    signature = connection.sign(challenge)
    if not signature_is_valid(cert_der, challenge, signature):
        raise AuthenticationFailed(
            "The card did not prove possession of the key in its certificate; it is refused."
        )


def verify_pin_on_card(connection: PivCard, pin: bytearray) -> None:
    """VERIFY on the card; the card keeps the retry counter. Wipes ``pin``."""
    try:
        retries = connection.pin_retries_left()
        if retries == 0:
            raise CardBlocked()
        connection.verify_pin(pin)
    finally:
        for i in range(len(pin)):
            pin[i] = 0


def card_for_enrolment(
    readers: CardReaders,
    reader: str,
    pin: bytearray,
    *,
    person_id: str,
    now: datetime,
    refuse: Callable[[CardCertificate], None] = lambda cert: None,
) -> Card:
    """Read the card in ``reader`` for enrolment: its certificate must be valid now, the
    holder types the PIN and the card proves possession of its key. ``refuse`` may veto
    the card (already enrolled, presented twice) before the PIN is asked. Wipes ``pin``."""
    try:
        connection = readers.connect(reader)
        try:
            der = connection.authentication_certificate()
            cert = parse_card_certificate(der)
            if cert.expired(now) or cert.not_yet_valid(now):
                raise CardNotUsable(
                    f"The card's certificate is valid from {cert.not_before:%Y-%m-%d} to "
                    f"{cert.not_after:%Y-%m-%d}; it cannot be enrolled now."
                )
            refuse(cert)
            verify_pin_on_card(connection, pin)
            prove_possession(connection, der)
        finally:
            connection.close()
    finally:
        for i in range(len(pin)):
            pin[i] = 0
    return Card(
        id=cert.fingerprint,
        person_id=person_id,
        certificate=der,
        subject=cert.subject,
        serial_number=cert.serial_number,
        not_after=cert.not_after,
        enrolled_at=now,
    )


class LogonService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def open_session(self, purpose: Quorum | None = None) -> Session:
        with self.ctx.repository.unit_of_work() as uow:
            policy = self.ctx.policy(uow)
            groups = self.ctx.groups(uow)
        return Session(
            clock=self.ctx.clock,
            idle_timeout_seconds=policy.idle_timeout_seconds,
            purpose=purpose,
            groups=groups,
        )

    def requirement(
        self, session: Session, action: Action, template_ref: str | None = None
    ) -> Requirement:
        """What ``action`` needs and who is still missing, for a screen to show before
        the action is tried (the action itself is checked again when it runs)."""
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            template = None
            if template_ref is not None:
                sealed = uow.templates.by_name(template_ref) or uow.templates.get(template_ref)
                if sealed is None:
                    raise NotFound(f"No template named {template_ref!r}.")
                template = self.ctx.unseal(sealed, f"template {sealed.value.name}")
            policy = self.ctx.policy(uow)
            quorum = (template.quorums.get(action) if template else None) or (
                policy.quorum_for(action)
            )
            groups = self.ctx.groups(uow)
        session.groups = groups
        named = session.requester
        result = evaluate_quorum(
            quorum,
            session.participants(),
            groups,
            requester=named.person.id if named is not None else None,
        )
        return Requirement(
            action=action,
            quorum=quorum.describe(),
            met=result.met,
            missing=result.missing,
            reason=result.reason,
            present=tuple(m.name for m in session.members),
        )

    def watch(self, session: Session) -> CardWatch:
        """Drop members at once when their card leaves its reader."""

        def on_change(statuses: list[ReaderStatus]) -> None:
            session.readers_changed(statuses)

        return self.ctx.readers.watch(on_change)

    def inspect(self, reader: str) -> CardInReader:
        """Who the card in ``reader`` belongs to, and the PIN tries left (no PIN needed)."""
        connection = self.ctx.readers.connect(reader)
        try:
            der = connection.authentication_certificate()
            retries = connection.pin_retries_left()
        finally:
            connection.close()
        with self.ctx.repository.unit_of_work() as uow:
            sealed = uow.cards.get(card_id(der))
            if sealed is None:
                return CardInReader(reader, None, "", "not enrolled", retries)
            card = self.ctx.unseal(sealed, "a card")
            person_sealed = uow.people.get(card.person_id)
            person = self.ctx.unseal(person_sealed, "a person") if person_sealed else None
        status = card.status.value
        if card.not_after < self.ctx.clock.now():
            status = "expired"
        if person is not None and person.status is not Status.ACTIVE:
            status = f"holder {person.status.value}"
        return CardInReader(
            reader,
            person.name if person else None,
            person.roles_text if person else "",
            status,
            retries,
        )

    def log_on(self, session: Session, reader: str, pin: bytearray) -> Member:
        """Authenticate the card in ``reader`` and add its holder to ``session``."""
        if session.has_reader(reader):
            for i in range(len(pin)):
                pin[i] = 0
            raise BadInput(f"The card in {reader} is already logged on.")
        connection = self.ctx.readers.connect(reader)
        try:
            member = self._authenticate(session, connection, pin)
            session.add(member)
        except Exception:
            connection.close()
            raise
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.audit(
                uow,
                None,
                "session.logon",
                "person",
                member.person.id,
                label=member.name,
                details={"reader": reader, "session": session.id, "card": member.card.short_id},
                session=session,
            )
            uow.commit()
        return member

    def unlock(self, session: Session, reader: str, pin: bytearray) -> Member:
        """Unlock a locked session with the card and PIN of someone in it.

        The card may still be in its reader (the session holds that connection: it is
        used as it is) or be put back into any reader. Someone who is not in the locked
        session cannot unlock it: they log everyone off and start a new session."""
        existing = next((m for m in session.members if m.reader == reader), None)
        if existing is not None:
            member = self._authenticate(session, existing.connection, pin, allow_member=True)
            if member.person.id != existing.person.id:  # pragma: no cover - one card a reader
                raise AuthenticationFailed("The card in this reader changed; log on again.")
            member = existing
        else:
            connection = self.ctx.readers.connect(reader)
            try:
                member = self._authenticate(session, connection, pin, allow_member=True)
                existing = session.member(member.person.id)
                if existing is None:
                    raise PolicyRefused(
                        f"{member.name} is not in the locked session; only someone in it can "
                        "unlock it. Log everyone off to start a new session."
                    )
            except Exception:
                connection.close()
                raise
            existing.connection.close()
            existing.connection = connection
            existing.reader = reader
            member = existing
        session.unlock()
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.audit(
                uow,
                None,
                "session.unlock",
                "person",
                member.person.id,
                label=member.name,
                details={"reader": reader, "session": session.id},
                session=session,
            )
            uow.commit()
        return member

    def _authenticate(
        self, session: Session, connection: PivCard, pin: bytearray, *, allow_member: bool = False
    ) -> Member:
        try:
            der = connection.authentication_certificate()
        except Exception:
            for i in range(len(pin)):
                pin[i] = 0
            raise
        cid = card_id(der)
        with self.ctx.repository.unit_of_work() as uow:
            card_sealed = uow.cards.get(cid)
            card: Card | None = self.ctx.unseal(card_sealed, "a card") if card_sealed else None
            person: Person | None = None
            if card is not None:
                person_sealed = uow.people.get(card.person_id)
                if person_sealed is not None:
                    person = self.ctx.unseal(person_sealed, "a person")
        now = self.ctx.clock.now()
        try:
            if card is None or person is None:
                raise CardNotEnrolled(
                    "This card is not enrolled on this workstation. A security officer must "
                    "enrol it first."
                )
            if card.status is not Status.ACTIVE:
                raise CardNotUsable(f"This card of {person.name} is {card.status.value}.")
            if person.status is not Status.ACTIVE:
                raise CardNotUsable(f"{person.name} is {person.status.value} on this workstation.")
            if now > card.not_after:
                raise CardNotUsable(
                    f"The certificate on {person.name}'s card expired on "
                    f"{card.not_after:%Y-%m-%d}; the card must be renewed."
                )
            if not allow_member and session.member(person.id) is not None:
                raise BadInput(
                    f"{person.name} is already logged on in this session; one person counts once."
                )
            cert = parse_card_certificate(der)
            if cert.not_yet_valid(now):
                raise CardNotUsable(f"The certificate on {person.name}'s card is not valid yet.")
            verify_pin_on_card(connection, pin)
            prove_possession(connection, der)
        except (AuthenticationFailed, BadInput) as exc:
            self.ctx.record_refusal(
                session,
                "session.logon_refused",
                "card",
                cid[:12],
                reason=exc.user_message(),
                label=person.name if person else "unknown card",
            )
            raise
        finally:
            for i in range(len(pin)):
                pin[i] = 0
        return Member(
            person=person,
            card=card,
            reader=connection.reader,
            connection=connection,
            logged_on_at=now,
        )


__all__ = [
    "CardInReader",
    "LogonService",
    "PinIncorrect",
    "prove_possession",
    "verify_pin_on_card",
]
