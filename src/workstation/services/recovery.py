"""Recovering a workstation on a fresh machine: a repository backup plus the master key
backup shares (PCI PIN Security Requirement 8-2: secret sharing of the keys that protect
other keys).

No one can log on before the keys are back (every person and card record is sealed by the
binding key, which the shares restore), so the share holders prove who they are with
their cards against the certificates in the backup, and their records' seals are checked
as soon as the keys are back. Then every record, the audit chain and every key's check
value are verified; the recovery is complete only if all of it holds.

Steps: ``restore_repository`` (copy the backup into place), ``backup_info`` (what the
shares must be), ``recover`` (shares in, keys restored, everything verified). A refusal
before the keys are restored (too few shares, a wrong share, a card that is not the
holder's) removes the copied repository again: nothing is left behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from workstation.domain import components as comp
from workstation.domain import secret_sharing as sss
from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.audit import AuditActor, AuditEvent
from workstation.domain.policy import Action
from workstation.errors import (
    AlreadyInitialised,
    AuthenticationFailed,
    BadInput,
    IntegrityError,
    NotInitialised,
    PolicyRefused,
    WorkstationError,
)
from workstation.services.ceremonies import MASTER_KEY_BACKUP_META, MasterKeyBackupInfo
from workstation.services.context import ServiceContext
from workstation.services.logon import prove_possession, verify_pin_on_card
from workstation.services.session import Session

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


def _wipe(buffer: bytearray) -> None:
    buffer[:] = bytes(len(buffer))


@dataclass
class ShareOffer:
    """One holder's share: their card (reader, PIN) and the share value they typed. The
    service wipes ``pin`` and ``value``."""

    holder: str
    reader: str
    pin: bytearray
    value: bytearray


@dataclass(frozen=True)
class RecoveryReport:
    workstation_id: str
    set_id: str
    holders: tuple[str, ...]
    records_verified: int
    keys_verified: int
    audit_entries: int
    problems: tuple[str, ...] = field(default_factory=tuple)


class RecoveryService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def backup_repository(self, session: Session, target: Path) -> int:
        """A consistent copy of the repository (keys stay wrapped under the master key),
        audited; returns the number of keys in it."""
        from workstation.services.ports import KeyQuery

        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            count = uow.keys.count(KeyQuery())
        self.ctx.repository.backup(target)
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.audit(
                uow,
                None,
                "repository.backup",
                "repository",
                self.ctx.workstation_id(uow),
                label=str(target),
                details={"file": str(target), "keys": count},
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint(force=True)
        return count

    def restore_repository(self, backup_file: Path) -> MasterKeyBackupInfo:
        """Copy the repository backup into place on this fresh workstation and return what
        the master key backup needs. Refuses if this workstation has keys or a repository."""
        if self.ctx.hsm.has_workstation_keys():
            raise AlreadyInitialised(
                "This workstation's HSM token already holds workstation keys; recovery is "
                "done on a fresh token."
            )
        self.ctx.repository.restore(backup_file)
        try:
            return self.backup_info()
        except BaseException:
            self.abandon()
            raise

    def backup_info(self) -> MasterKeyBackupInfo:
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            text = uow.meta.get(MASTER_KEY_BACKUP_META)
        if text is None:
            raise NotInitialised(
                "This repository backup holds no master key backup: the master key was "
                "never backed up by shares, so it cannot be recovered from them."
            )
        return MasterKeyBackupInfo.from_json(text)

    def abandon(self) -> None:
        """Remove a restored repository whose recovery did not go through."""
        self.ctx.repository.remove()

    def recover(
        self, offers: Sequence[ShareOffer], progress: Progress | None = None
    ) -> RecoveryReport:
        """Check each holder's card, combine the shares, restore the workstation keys into
        the HSM and verify everything. Wipes every PIN and share value."""
        try:
            try:
                transport_key, info, holders = self._combine(offers)
            except BaseException:
                self.abandon()
                raise
            try:
                self.ctx.hsm.restore_workstation_keys(transport_key, info.blob)
            except BaseException:
                self.abandon()
                raise
            finally:
                _wipe(transport_key)
        finally:
            for o in offers:
                _wipe(o.pin)
                _wipe(o.value)
        return self._verify(info, holders, progress)

    # --- steps ---------------------------------------------------------------------------

    def _combine(
        self, offers: Sequence[ShareOffer]
    ) -> tuple[bytearray, MasterKeyBackupInfo, list[tuple[str, str, str]]]:
        info = self.backup_info()
        by_name = {
            name.casefold(): (index, pid)
            for (index, name, _), pid in zip(info.holders, info.holder_ids, strict=True)
        }
        if len(offers) < info.threshold:
            raise PolicyRefused(
                f"{info.threshold} shares are needed to recover backup set {info.set_id}; "
                f"{len(offers)} {'was' if len(offers) == 1 else 'were'} given. Nothing was "
                "restored."
            )
        seen: set[str] = set()
        shares: list[sss.Share] = []
        parts: list[bytearray] = []
        holders: list[tuple[str, str, str]] = []  # (person id, name, card id)
        try:
            for offer in offers:
                key = offer.holder.strip().casefold()
                if key not in by_name:
                    names = ", ".join(n for _, n, _ in info.holders)
                    raise PolicyRefused(
                        f"{offer.holder} holds no share of backup set {info.set_id} "
                        f"(holders: {names})."
                    )
                if key in seen:
                    raise BadInput(f"{offer.holder} gave a share twice.")
                seen.add(key)
                index, person_id = by_name[key]
                card_id = self._authenticate(offer, person_id)
                holders.append((person_id, offer.holder.strip(), card_id))
                expected_check = info.checks[[h[0] for h in info.holders].index(index)]
                if info.scheme == "shares":
                    share = sss.Share(
                        set_id=info.set_id,
                        index=index,
                        threshold=info.threshold,
                        count=info.count,
                        value=bytearray(offer.value),
                    )
                    if share.check_value != expected_check:
                        share.wipe()
                        raise BadInput(
                            f"{offer.holder}'s share {index} has check value "
                            f"{share.check_value}; the mailer says {expected_check}. Check "
                            "what was typed. Nothing was restored."
                        )
                    shares.append(share)
                else:
                    check = comp.kcv_hex(comp.check_value(KeyAlgorithm.AES_256, offer.value))
                    if check != expected_check:
                        raise BadInput(
                            f"{offer.holder}'s component {index} has check value {check}; "
                            f"the mailer says {expected_check}. Nothing was restored."
                        )
                    parts.append(bytearray(offer.value))
            if info.scheme == "shares":
                transport_key = sss.combine_shares(shares)
            else:
                if len(parts) != info.count:
                    raise PolicyRefused(
                        f"All {info.count} components are needed; {len(parts)} were given."
                    )
                transport_key = comp.combine(KeyAlgorithm.AES_256, parts)
        finally:
            for s in shares:
                s.wipe()
            for p in parts:
                _wipe(p)
        check = comp.kcv_hex(comp.check_value(KeyAlgorithm.AES_256, transport_key))
        if check != info.transport_kcv.upper():
            _wipe(transport_key)
            raise IntegrityError(
                f"The shares combine to a transport key with check value {check}, not the "
                f"backup's {info.transport_kcv}. Nothing was restored."
            )
        return transport_key, info, holders

    def _authenticate(self, offer: ShareOffer, person_id: str) -> str:
        """The card in the offer's reader is one of the holder's cards in the backup (its
        record is checked against its seal once the keys are back), and it knows the PIN."""
        connection = self.ctx.readers.connect(offer.reader)
        try:
            der = connection.authentication_certificate()
            with self.ctx.repository.unit_of_work(read_only=True) as uow:
                cards = [c.value for c in uow.cards.for_person(person_id)]
            card = next((c for c in cards if c.certificate == der), None)
            if card is None:
                raise AuthenticationFailed(
                    f"The card in {offer.reader} is not one of {offer.holder}'s cards."
                )
            verify_pin_on_card(connection, offer.pin)
            prove_possession(connection, der)
            return card.id
        finally:
            connection.close()

    def _verify(
        self,
        info: MasterKeyBackupInfo,
        holders: Sequence[tuple[str, str, str]],
        progress: Progress | None,
    ) -> RecoveryReport:
        ctx = self.ctx
        problems: list[str] = []
        records = 0
        keys_checked = 0
        with ctx.repository.unit_of_work(read_only=True) as uow:
            wid = ctx.workstation_id(uow)
            for person_id, name, card_id in holders:
                person = uow.people.get(person_id)
                card = uow.cards.get(card_id)
                if person is None or card is None:
                    problems.append(f"The records of {name} or their card are missing.")
                    continue
                ctx.unseal(person, f"person {name}")
                ctx.unseal(card, f"the card of {name}")
            sealed_sets: list[tuple[str, Sequence[object]]] = [
                ("person", uow.people.list()),
                ("card", uow.cards.list()),
                ("group", uow.groups.list()),
                ("template", uow.templates.list()),
                ("ceremony", uow.ceremonies.list(limit=1_000_000)),
                ("envelope", uow.envelopes.list()),
                ("holding", uow.holdings.list(limit=10_000_000)),
            ]
            policy = uow.policy.get()
            if policy is not None:
                sealed_sets.append(("policy", [policy]))
            for what, items in sealed_sets:
                for sealed in items:
                    value = sealed.value  # type: ignore[attr-defined]
                    if not ctx.hsm.verify_binding(value.binding_bytes(), sealed.mac):  # type: ignore[attr-defined]
                        problems.append(f"A {what} record's seal does not verify.")
                    records += 1
            from workstation.services.ports import KeyQuery

            total = uow.keys.count(KeyQuery())
            offset = 0
            while True:
                batch = uow.keys.query(KeyQuery(limit=500, offset=offset))
                if not batch:
                    break
                offset += len(batch)
                for sealed_key in batch:
                    key = sealed_key.value
                    records += 1
                    if not ctx.hsm.verify_binding(key.binding_bytes(), sealed_key.mac):
                        problems.append(f"Key {key.label}: its seal does not verify.")
                        continue
                    if key.wrapped is not None and key.algorithm.is_symmetric:
                        try:
                            kcv = ctx.hsm.key_check_value(key.algorithm, key.wrapped).hex().upper()
                        except WorkstationError as exc:
                            problems.append(f"Key {key.label}: {exc.user_message()}")
                            continue
                        if kcv != key.kcv.upper():
                            problems.append(
                                f"Key {key.label}: the HSM computes {kcv}, the record says "
                                f"{key.kcv}."
                            )
                            continue
                        keys_checked += 1
                    if progress is not None:
                        progress(offset, total, f"Verified {key.label}")
        from workstation.services.audit import AuditService

        report = AuditService(ctx).verify(None)
        if not report.ok:
            problems.append(f"The audit log does not verify: {report.summary()}")
        if problems:
            raise IntegrityError(
                "The workstation keys were restored, but the repository does not verify with "
                "them: " + " ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
            )
        with ctx.repository.unit_of_work() as uow:
            actors = tuple(AuditActor(pid, name, card_id[:12]) for pid, name, card_id in holders)
            uow.audit.append(
                AuditEvent(
                    action="workstation.recovered",
                    object_type="workstation",
                    object_id=wid,
                    object_label="master key recovery",
                    before=None,
                    after=None,
                    kcv=None,
                    details={
                        "set_id": info.set_id,
                        "scheme": info.scheme,
                        "threshold": info.threshold,
                        "records_verified": records,
                        "keys_verified": keys_checked,
                    },
                    requester=actors[0],
                    members=actors,
                    at=ctx.clock.now(),
                )
            )
            entries = uow.audit.count()
            uow.commit()
        ctx.checkpoint(force=True)
        return RecoveryReport(
            workstation_id=wid,
            set_id=info.set_id,
            holders=tuple(name for _, name, _ in holders),
            records_verified=records,
            keys_verified=keys_checked,
            audit_entries=entries,
        )
