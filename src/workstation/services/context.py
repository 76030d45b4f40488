"""What every use case shares: the ports, record sealing, and the policy check.

Sealing: every security-relevant record (key, person, card, group, policy, template) is
stored with a MAC computed by the HSM over its canonical bytes. A record is checked when
it is used for a decision; a row edited behind the workstation's back is refused with a
clear message, never used (design invariant 1).

Authorisation: a policy is checked here, at the moment of the action, against the people
in the session as the repository knows them *now* (a person suspended a minute ago no
longer counts), never only in a user interface (invariant 4).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from workstation.domain.audit import AuditActor, AuditEvent
from workstation.domain.people import Group, Status
from workstation.domain.policy import Action, PolicySet, Quorum, evaluate_quorum
from workstation.domain.templates import KeyTemplate
from workstation.errors import IntegrityError, NotInitialised, QuorumNotMet, SessionLocked
from workstation.services.ports import (
    CardReaders,
    Clock,
    DocumentRenderer,
    Hsm,
    KeyStoreConnector,
    Mailer,
    PrintQueue,
    Repository,
    Sealed,
    TlsProbe,
    UnitOfWork,
)
from workstation.services.session import Member, Session

log = logging.getLogger(__name__)


class Bindable(Protocol):
    def binding_bytes(self) -> bytes: ...


B = TypeVar("B", bound=Bindable)

AUDIT_CHECKPOINT_EVERY = 1000


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        import time

        return time.monotonic()


@dataclass(frozen=True)
class Authorisation:
    """The result of a successful policy check, carried into the audit entry."""

    action: Action
    quorum: Quorum
    requester: Member
    members: tuple[Member, ...]
    assignment: dict[str, str] = field(default_factory=dict)


class ServiceContext:
    def __init__(
        self,
        *,
        repository: Repository,
        hsm: Hsm,
        readers: CardReaders,
        clock: Clock | None = None,
        renderer: DocumentRenderer | None = None,
        print_queue: PrintQueue | None = None,
        tls_probe: TlsProbe | None = None,
        mailer: Mailer | None = None,
        key_stores: KeyStoreConnector | None = None,
        open_repository_copy: Callable[[Path], Repository] | None = None,
    ) -> None:
        self.repository = repository
        self.hsm = hsm
        self.readers = readers
        self.clock: Clock = clock or SystemClock()
        self.renderer = renderer  # paper ceremonies (PDF)
        self.print_queue = print_queue  # the configured printer, if any
        self.tls_probe = tls_probe  # TLS endpoint discovery
        self.mailer = mailer  # the configured SMTP relay for expiry alerts, if any
        self.key_stores = key_stores  # key agents, PKCS#11 tokens and file drops
        # Opens a repository copy (a backup's SQLite file) read for verification; built in
        # bootstrap, since the services never name an adapter.
        self.open_repository_copy = open_repository_copy

    # --- sealing -------------------------------------------------------------------------

    def seal(self, record: Bindable) -> bytes:
        return self.hsm.bind(record.binding_bytes())

    def unseal(self, sealed: Sealed[B], what: str) -> B:
        if not self.hsm.verify_binding(sealed.value.binding_bytes(), sealed.mac):
            log.error("integrity check failed for %s", what)
            raise IntegrityError(
                f"The stored record of {what} was changed outside the workstation "
                "(its HSM seal does not match). It is refused; report this to a security "
                "officer and the auditors."
            )
        return sealed.value

    # --- shared reads --------------------------------------------------------------------

    def workstation_id(self, uow: UnitOfWork) -> str:
        wid = uow.meta.get("workstation_id")
        if wid is None:
            raise NotInitialised("The workstation is not initialised; run 'workstation-cli init'.")
        return wid

    def policy(self, uow: UnitOfWork) -> PolicySet:
        sealed = uow.policy.get()
        if sealed is None:
            raise NotInitialised("The workstation has no policy; it is not initialised.")
        return self.unseal(sealed, "the policy set")

    def groups(self, uow: UnitOfWork) -> dict[str, Group]:
        groups = (self.unseal(s, f"group {s.value.name}") for s in uow.groups.list())
        return {g.name: g for g in groups}

    # --- policy check --------------------------------------------------------------------

    def authorise(
        self,
        uow: UnitOfWork,
        session: Session,
        action: Action,
        *,
        template: KeyTemplate | None = None,
        check_cards: bool = True,
    ) -> Authorisation:
        """Check the quorum for ``action`` against the session now; raise if not met."""
        session.ensure_usable(check_cards=check_cards)
        policy = self.policy(uow)
        quorum = (template.quorums.get(action) if template else None) or policy.quorum_for(action)
        groups = self.groups(uow)
        session.groups = groups
        # Re-read each member as the repository knows them now: a person or card suspended
        # or revoked since logon no longer counts.
        for m in session.members:
            person_sealed = uow.people.get(m.person.id)
            card_sealed = uow.cards.get(m.card.id)
            person = self.unseal(person_sealed, f"person {m.name}") if person_sealed else None
            card = self.unseal(card_sealed, f"the card of {m.name}") if card_sealed else None
            if (
                person is None
                or person.status is not Status.ACTIVE
                or card is None
                or (card.status is not Status.ACTIVE)
            ):
                session.drop(m.person.id, f"{m.name} is no longer active on this workstation")
            else:
                m.person = person
                m.card = card
        if not session.members:
            raise SessionLocked("No one is logged on.")
        named = session.requester
        result = evaluate_quorum(
            quorum,
            session.participants(),
            groups,
            requester=named.person.id if named is not None else None,
        )
        if not result.met:
            names = ", ".join(m.name for m in session.members)
            refusal = QuorumNotMet(
                f"{action.display.capitalize()} needs {quorum.describe()}. "
                + (result.reason or f"Still missing: {', '.join(result.missing)}.")
                + f" Logged on: {names}.",
                missing=result.missing,
            )

            # A refused attempt is a security event. authorise() is called before anything
            # is written in ``uow``, so committing the refusal here commits nothing else; a
            # read-only unit of work cannot write, so the refusal gets a transaction of its
            # own (the repository lets one writer work beside readers).
            def record(into: UnitOfWork) -> None:
                self.audit(
                    into,
                    None,
                    "policy.refused",
                    "action",
                    action.value,
                    label=action.display,
                    details={
                        "quorum": quorum.describe(),
                        "missing": list(result.missing),
                        "reason": refusal.user_message(),
                    },
                    session=session,
                )
                into.commit()

            if uow.read_only:
                with self.repository.unit_of_work() as own:
                    record(own)
            else:
                record(uow)
            raise refusal
        members = tuple(m for m in session.members if m.person.id in result.assignment)
        requester = named if named is not None else members[0]
        return Authorisation(
            action=action,
            quorum=quorum,
            requester=requester,
            members=members,
            assignment=dict(result.assignment),
        )

    @staticmethod
    def still_met(session: Session, auth: Authorisation) -> str | None:
        """During a long action: None while the people in the session still meet the
        quorum it was authorised under (checked in memory), else why not."""
        reason = session.locked_reason
        if reason is not None:
            return f"the session locked ({reason})"
        result = evaluate_quorum(auth.quorum, session.participants(), session.groups)
        if not result.met:
            return f"the quorum is no longer met (missing {', '.join(result.missing)})"
        return None

    # --- audit ---------------------------------------------------------------------------

    @staticmethod
    def actor(member: Member) -> AuditActor:
        return AuditActor(
            person_id=member.person.id, name=member.name, card_id=member.card.short_id
        )

    def audit(
        self,
        uow: UnitOfWork,
        auth: Authorisation | None,
        action: str,
        object_type: str,
        object_id: str,
        *,
        label: str = "",
        before: str | None = None,
        after: str | None = None,
        kcv: str | None = None,
        details: dict[str, Any] | None = None,
        session: Session | None = None,
    ) -> int:
        """Append an audit entry in ``uow``'s transaction; returns its sequence number."""
        if auth is not None:
            requester: AuditActor | None = self.actor(auth.requester)
            members = tuple(self.actor(m) for m in (session.members if session else auth.members))
            details = {"quorum": auth.quorum.describe(), **(details or {})}
        elif session is not None and (session.requester or session.first) is not None:
            who = session.requester or session.first
            assert who is not None
            requester = self.actor(who)
            members = tuple(self.actor(m) for m in session.members)
        else:
            requester, members = None, ()
        entry = uow.audit.append(
            AuditEvent(
                action=action,
                object_type=object_type,
                object_id=object_id,
                object_label=label,
                before=before,
                after=after,
                kcv=kcv,
                details=details or {},
                requester=requester,
                members=members,
                at=self.clock.now(),
            )
        )
        return entry.seq

    def audit_events(
        self,
        auth: Authorisation,
        session: Session,
        action: str,
        object_type: str,
        objects: list[tuple[str, str, str | None, str | None, str | None, dict[str, Any]]],
    ) -> list[AuditEvent]:
        """Audit events for many objects of one authorised action (bulk work): each
        object is (id, label, before, after, kcv, details)."""
        requester = self.actor(auth.requester)
        members = tuple(self.actor(m) for m in session.members)
        at = self.clock.now()
        quorum = auth.quorum.describe()
        return [
            AuditEvent(
                action=action,
                object_type=object_type,
                object_id=oid,
                object_label=label,
                before=before,
                after=after,
                kcv=kcv,
                details={"quorum": quorum, **details},
                requester=requester,
                members=members,
                at=at,
            )
            for oid, label, before, after, kcv, details in objects
        ]

    def checkpoint(self, *, force: bool = False) -> int | None:
        """Sign the head of the audit chain with the HSM audit key (every
        AUDIT_CHECKPOINT_EVERY entries, or when ``force``); returns the seq signed."""
        from workstation.domain.audit import AuditCheckpoint
        from workstation.domain.records import format_time
        from workstation.standalone.audit_verify import checkpoint_message

        with self.repository.unit_of_work() as uow:
            last = uow.audit.last()
            if last is None:
                return None
            checkpoints = uow.audit.checkpoints()
            last_signed = checkpoints[-1].seq if checkpoints else 0
            if last.seq == last_signed or (
                not force and last.seq - last_signed < AUDIT_CHECKPOINT_EVERY
            ):
                return None
            wid = self.workstation_id(uow)
            at = format_time(self.clock.now())
            assert at is not None
            signature = self.hsm.sign_audit(checkpoint_message(wid, last.seq, last.hash, at))
            uow.audit.add_checkpoint(
                AuditCheckpoint(seq=last.seq, hash=last.hash, at=at, signature=signature)
            )
            uow.commit()
            return last.seq

    def record_refusal(
        self,
        session: Session | None,
        action: str,
        object_type: str,
        object_id: str,
        reason: str,
        label: str = "",
    ) -> None:
        """Refusals are security events too: write them in a transaction of their own."""
        try:
            with self.repository.unit_of_work() as uow:
                self.audit(
                    uow,
                    None,
                    action,
                    object_type,
                    object_id,
                    label=label,
                    details={"reason": reason},
                    session=session,
                )
                uow.commit()
        except Exception:
            log.exception("could not audit a refusal")
