"""Key ceremonies on paper: components generated, printed, entered and exported under dual
control and split knowledge, the envelope register, signed ceremony records, and the
master key backup by shares.

Where clear key material exists (ANSI X9.24-1:2017 section 7: key components; PCI PIN
Security Requirements 5, 6, 8 and 21):

- components are made from the HSM's random generator, combined by XOR in ``bytearray``s
  and handed to the HSM at once; each buffer is overwritten when done (invariant 2);
- a component reaches paper through a PDF made in memory and written only where the
  operator chose (a folder, audited) or piped to the configured printer;
- a ceremony stores nothing until every step has succeeded and every participant's card
  has signed the transcript; a refusal or failure leaves no key, no ceremony, no holding.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from workstation.domain import components as comp
from workstation.domain import secret_sharing as sss
from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.audit import AuditEntry
from workstation.domain.cardauth import signature_is_valid
from workstation.domain.ceremonies import (
    CUSTODIAN_EVENTS,
    SCRIPTS,
    Assignment,
    Ceremony,
    CeremonyKind,
    CeremonyScript,
    CeremonySignature,
    ComponentHolding,
    Envelope,
    EnvelopeEvent,
    EnvelopeState,
    Participant,
    TranscriptEntry,
    key_identity,
    split_knowledge_refusals,
)
from workstation.domain.keys import ManagedKey
from workstation.domain.people import Role
from workstation.domain.policy import Action
from workstation.domain.records import format_time
from workstation.domain.templates import KeyTemplate, TemplateStatus, render_label
from workstation.errors import (
    AlreadyExists,
    BadInput,
    CardError,
    IntegrityError,
    NotFound,
    PolicyRefused,
    SessionLocked,
    WorkstationError,
)
from workstation.files import write_new
from workstation.services.context import Authorisation, ServiceContext
from workstation.services.keys import check_exportable
from workstation.services.ports import (
    AcknowledgementForm,
    CeremonyDocument,
    ComponentMailer,
    DocumentRenderer,
    PrintQueue,
    UnitOfWork,
)
from workstation.services.session import Member, Session
from workstation.standalone.audit_verify import (
    CEREMONY_RECORD_FORMAT,
    CEREMONY_RECORD_VERSION,
    SignatureCheck,
    ceremony_record_file,
    ceremony_record_message,
)

log = logging.getLogger(__name__)

MASTER_KEY_BACKUP_META = "master_key_backup"
MASTER_KEY_LABEL = "Workstation master key"


class KcvMismatch(BadInput):
    """The components combine to a key whose check value is not the sender's."""


def _wipe(buffer: bytearray | None) -> None:
    if buffer is not None:
        buffer[:] = bytes(len(buffer))


def _normalise_kcv(text: str) -> str:
    kcv = "".join(text.split()).upper()
    if not kcv or any(c not in "0123456789ABCDEF" for c in kcv):
        raise BadInput(f"The sender's check value {text!r} is not hexadecimal.")
    if len(kcv) < 4:
        raise BadInput("Give at least 4 hex digits of the sender's check value.")
    return kcv


@dataclass(frozen=True)
class PaperOutput:
    """Where a ceremony's paper goes: PDF files in a folder the operator chose (the choice
    is audited), or the configured printer (through a pipe, no file of ours)."""

    directory: Path | None = None
    printer: bool = False

    def describe(self) -> str:
        if self.directory is not None:
            return f"PDF files in {self.directory}"
        return "the configured printer"


@dataclass(frozen=True)
class Delivery:
    files: tuple[str, ...] = ()
    print_jobs: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.files:
            return ", ".join(self.files)
        return "print jobs " + ", ".join(self.print_jobs)


@dataclass(frozen=True)
class CeremonyOutcome:
    ceremony: Ceremony
    key: ManagedKey | None
    envelopes: tuple[Envelope, ...]
    delivery: Delivery


@dataclass
class ComponentEntry:
    """One custodian's typed component (parsed with ``components.parse_component``). The
    service wipes ``value`` when done."""

    custodian: str
    value: bytearray
    envelope: str | None = None


@dataclass(frozen=True)
class CeremonyVerification:
    ceremony: Ceremony
    seal_ok: bool
    signatures: tuple[SignatureCheck, ...]
    missing: tuple[str, ...]  # participants who did not sign

    @property
    def ok(self) -> bool:
        return self.seal_ok and not self.missing and all(s.valid for s in self.signatures)


@dataclass(frozen=True)
class RecordExport:
    """A ceremony record written for the standalone verifier."""

    path: Path
    ceremony_id: str
    transcript_hash: str
    audit_seq: int  # the audit entry that recorded the ceremony
    signatures: int
    audit_key_sha256: str


@dataclass(frozen=True)
class MasterKeyBackupInfo:
    set_id: str
    scheme: str  # "shares" or "components"
    threshold: int
    count: int
    created_at: str
    ceremony_id: str
    holders: tuple[tuple[int, str, str], ...]  # (index, name, envelope serial)
    blob: bytes = field(repr=False, default=b"")
    transport_kcv: str = ""
    holder_ids: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()  # each share's check value, in index order

    def to_json(self) -> str:
        return json.dumps(
            {
                "set_id": self.set_id,
                "scheme": self.scheme,
                "threshold": self.threshold,
                "count": self.count,
                "created_at": self.created_at,
                "ceremony_id": self.ceremony_id,
                "holders": [
                    {"index": i, "name": n, "envelope": e, "person_id": pid, "check": c}
                    for (i, n, e), pid, c in zip(
                        self.holders, self.holder_ids, self.checks, strict=True
                    )
                ],
                "blob": self.blob.hex(),
                "transport_kcv": self.transport_kcv,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> MasterKeyBackupInfo:
        try:
            rec = json.loads(text)
            holders = rec["holders"]
            return cls(
                set_id=str(rec["set_id"]),
                scheme=str(rec["scheme"]),
                threshold=int(rec["threshold"]),
                count=int(rec["count"]),
                created_at=str(rec["created_at"]),
                ceremony_id=str(rec["ceremony_id"]),
                holders=tuple(
                    (int(h["index"]), str(h["name"]), str(h["envelope"])) for h in holders
                ),
                holder_ids=tuple(str(h["person_id"]) for h in holders),
                checks=tuple(str(h["check"]) for h in holders),
                blob=bytes.fromhex(rec["blob"]),
                transport_kcv=str(rec["transport_kcv"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BadInput(f"The master key backup record cannot be read ({exc}).") from None


class CeremonyService:
    def __init__(
        self,
        ctx: ServiceContext,
        *,
        renderer: DocumentRenderer | None,
        print_queue: PrintQueue | None,
    ) -> None:
        self.ctx = ctx
        self.renderer = renderer
        self.print_queue = print_queue

    # --- reading -------------------------------------------------------------------------

    @staticmethod
    def scripts() -> list[CeremonyScript]:
        return list(SCRIPTS.values())

    def ceremonies(self, session: Session, *, key_ref: str | None = None) -> list[Ceremony]:
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            key_id = self._key(uow, key_ref).id if key_ref else None
            return [
                self.ctx.unseal(s, f"ceremony {s.value.id[:8]}")
                for s in uow.ceremonies.list(key_id=key_id)
            ]

    def ceremony(self, session: Session, ref: str) -> Ceremony:
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            return self._ceremony(uow, ref)

    def envelopes(
        self,
        session: Session,
        *,
        state: EnvelopeState | None = None,
        custodian: str | None = None,
        key_ref: str | None = None,
    ) -> list[Envelope]:
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            custodian_id = None
            if custodian:
                person = uow.people.by_name(custodian)
                if person is None:
                    raise NotFound(f"No one named {custodian!r} is enrolled.")
                custodian_id = person.value.id
            key_id = self._key(uow, key_ref).id if key_ref else None
            return [
                self.ctx.unseal(s, f"envelope {s.value.serial}")
                for s in uow.envelopes.list(state=state, custodian_id=custodian_id, key_id=key_id)
            ]

    def envelope(self, session: Session, serial: str) -> Envelope:
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            return self._envelope(uow, serial)

    def holdings(
        self, session: Session, *, key_ref: str | None = None, person: str | None = None
    ) -> list[ComponentHolding]:
        """The split-knowledge register: who held which component, and how."""
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            if key_ref:
                sealed = uow.holdings.for_key(self._key(uow, key_ref).id)
            elif person:
                p = uow.people.by_name(person)
                if p is None:
                    raise NotFound(f"No one named {person!r} is enrolled.")
                sealed = uow.holdings.for_people([p.value.id])
            else:
                sealed = uow.holdings.list()
            return [self.ctx.unseal(s, "a component holding") for s in sealed]

    def master_key_backup(self, session: Session) -> MasterKeyBackupInfo | None:
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            text = uow.meta.get(MASTER_KEY_BACKUP_META)
        return MasterKeyBackupInfo.from_json(text) if text else None

    # --- component generation ------------------------------------------------------------

    def generate_components(
        self,
        session: Session,
        template_ref: str,
        custodians: Sequence[str],
        *,
        output: PaperOutput,
        label: str | None = None,
    ) -> CeremonyOutcome:
        """A new key from ``template_ref`` as ``len(custodians)`` printed components, one
        per named custodian (in component order); the key is stored wrapped, pre-active."""
        started = self.ctx.clock.now()
        self._check_output(output)
        with self.ctx.repository.unit_of_work() as uow:
            template = self._template(uow, template_ref)
            auth = self.ctx.authorise(uow, session, Action.PRINT_COMPONENTS, template=template)
            wid = self.ctx.workstation_id(uow)
            assigned = self._assign(uow, session, custodians, "printing their component")
            refusals = split_knowledge_refusals(
                [Assignment(m.person.id, m.name, i) for i, m in assigned], key_ids=(), history=()
            )
            self._refuse_if(session, refusals, "ceremony.refused", template.name)
            # Serial numbers and the label's sequence number are taken now (and kept even
            # if the ceremony stops: an envelope serial is never used twice).
            serials = uow.envelopes.next_serials(len(assigned))
            label = self._label(uow, template, label, started)
            uow.commit()
        self._check_targets(output, [f"{s}.pdf" for s in serials])
        algorithm = template.algorithm
        ceremony_id = uuid.uuid4().hex
        parts = comp.random_components(algorithm, len(assigned), self.ctx.hsm.random_bytes)
        try:
            key = comp.combine(algorithm, parts)
            try:
                generated = self.ctx.hsm.import_clear_key(algorithm, key)
            finally:
                _wipe(key)
            kcvs = [comp.kcv_hex(comp.check_value(algorithm, c)) for c in parts]
            key_kcv = comp.kcv_hex(generated.kcv)
            transcript = self._opening(session, started)
            transcript.append(
                self._entry(
                    "generate",
                    auth.members,
                    f"{len(parts)} components of a {algorithm.value} key generated by the "
                    "HSM's random generator",
                    {f"component {i} kcv": k for i, k in enumerate(kcvs, 1)},
                )
            )
            delivery = self._print_mailers(
                session,
                auth,
                ceremony_id,
                wid,
                assigned,
                serials,
                parts,
                kcvs,
                label=label,
                algorithm=algorithm.value,
                output=output,
            )
        finally:
            for c in parts:
                _wipe(c)
        transcript.append(
            self._entry(
                "print",
                tuple(m for _, m in assigned),
                f"Mailers printed to {output.describe()}",
                {f"envelope {i}": serials[n] for n, (i, _) in enumerate(assigned)},
            )
        )
        transcript.append(
            self._entry(
                "store",
                auth.members,
                f"Key {label} stored wrapped under the master key, pre-active",
                {"key kcv": key_kcv},
            )
        )
        return self._finish(
            session,
            auth,
            kind=CeremonyKind.GENERATE_COMPONENTS,
            ceremony_id=ceremony_id,
            started=started,
            wid=wid,
            transcript=transcript,
            assigned=assigned,
            kcvs=kcvs,
            serials=serials,
            template=template,
            new_key=(generated, label),
            existing_key=None,
            key_kcv=key_kcv,
            how="printed",
            delivery=delivery,
            output=output,
        )

    # --- key entry from components -------------------------------------------------------

    def combined_check_value(self, algorithm: KeyAlgorithm, values: Sequence[bytearray]) -> str:
        """The check value the components combine to, for the screen before confirmation
        (computed here in memory; the key is not stored)."""
        key = comp.combine(algorithm, values)
        try:
            return comp.kcv_hex(comp.check_value(algorithm, key))
        finally:
            _wipe(key)

    def enter_components(
        self,
        session: Session,
        template_ref: str,
        entries: Sequence[ComponentEntry],
        *,
        sender_kcv: str,
        label: str | None = None,
    ) -> CeremonyOutcome:
        """Form a key from components typed by their custodians; stored wrapped and
        pre-active only if its check value is the sender's. Wipes every entry's value."""
        try:
            return self._enter_components(
                session, template_ref, entries, sender_kcv=sender_kcv, label=label
            )
        finally:
            for e in entries:
                _wipe(e.value)

    def _enter_components(
        self,
        session: Session,
        template_ref: str,
        entries: Sequence[ComponentEntry],
        *,
        sender_kcv: str,
        label: str | None,
    ) -> CeremonyOutcome:
        started = self.ctx.clock.now()
        expected = _normalise_kcv(sender_kcv)
        if len(entries) < 2:
            raise BadInput("A key is entered from at least two components.")
        with self.ctx.repository.unit_of_work() as uow:
            template = self._template(uow, template_ref)
            algorithm = template.algorithm
            for n, e in enumerate(entries, 1):
                self._check_component(algorithm, e.value, n, e.custodian)
            auth = self.ctx.authorise(uow, session, Action.ENTER_COMPONENTS, template=template)
            wid = self.ctx.workstation_id(uow)
            assigned = self._assign(
                uow, session, [e.custodian for e in entries], "entering their component"
            )
            envelopes = self._entry_envelopes(uow, entries, assigned)
            history = self._history(uow, [m.person.id for _, m in assigned])
        kcvs = [comp.kcv_hex(comp.check_value(algorithm, e.value)) for e in entries]
        key = comp.combine(algorithm, [e.value for e in entries])
        try:
            key_kcv = comp.kcv_hex(comp.check_value(algorithm, key))
            if not key_kcv.startswith(expected) and not expected.startswith(key_kcv):
                reason = (
                    f"The components combine to a key with check value {key_kcv}; the "
                    f"sender's is {expected}. Nothing was stored: check each component "
                    "against its mailer."
                )
                self.ctx.record_refusal(
                    session, "ceremony.refused", "template", template.id, reason, template.name
                )
                raise KcvMismatch(reason)
            refusals = split_knowledge_refusals(
                [Assignment(m.person.id, m.name, i, kcvs[i - 1]) for i, m in assigned],
                key_ids=(key_identity(algorithm.value, key_kcv),),
                history=history,
            )
            self._refuse_if(session, refusals, "ceremony.refused", template.name)
            self._require_present(session, auth, [m for _, m in assigned])
            generated = self.ctx.hsm.import_clear_key(algorithm, key)
        finally:
            _wipe(key)
        if comp.kcv_hex(generated.kcv) != key_kcv:
            raise IntegrityError(
                f"The HSM computes check value {comp.kcv_hex(generated.kcv)} for the entered "
                f"key, the workstation {key_kcv}; nothing was stored."
            )
        with self.ctx.repository.unit_of_work() as uow:
            label = self._label(uow, template, label, started)
            uow.commit()
        transcript = self._opening(session, started)
        for (i, m), k, e in zip(assigned, kcvs, entries, strict=True):
            data = {"component kcv": k}
            if e.envelope:
                data["envelope"] = e.envelope.upper()
            transcript.append(
                self._entry("enter", (m,), f"Component {i} entered by {m.name}", data)
            )
        transcript.append(
            self._entry(
                "confirm",
                auth.members,
                "The combined key's check value matches the sender's",
                {"key kcv": key_kcv, "sender kcv": expected},
            )
        )
        transcript.append(
            self._entry(
                "store",
                auth.members,
                f"Key {label} stored wrapped under the master key, pre-active",
                {"key kcv": key_kcv},
            )
        )
        return self._finish(
            session,
            auth,
            kind=CeremonyKind.ENTER_COMPONENTS,
            ceremony_id=uuid.uuid4().hex,
            started=started,
            wid=wid,
            transcript=transcript,
            assigned=assigned,
            kcvs=kcvs,
            serials=[],
            template=template,
            new_key=(generated, label),
            existing_key=None,
            key_kcv=key_kcv,
            how="entered",
            delivery=Delivery(),
            output=None,
            opened=envelopes,
        )

    # --- export as components ------------------------------------------------------------

    def export_components(
        self,
        session: Session,
        key_ref: str,
        custodians: Sequence[str],
        *,
        output: PaperOutput,
    ) -> CeremonyOutcome:
        """An exportable key as fresh printed components, for loading into a device by
        hand, under the export quorum."""
        started = self.ctx.clock.now()
        self._check_output(output)
        with self.ctx.repository.unit_of_work() as uow:
            key = self._key(uow, key_ref)
            template = self._template(uow, key.template_id, for_new_keys=False)
            check_exportable(key, template, carried_as="components")
            auth = self.ctx.authorise(uow, session, Action.EXPORT_KEY, template=template)
            wid = self.ctx.workstation_id(uow)
            assigned = self._assign(uow, session, custodians, "receiving their component")
            history = self._history(uow, [m.person.id for _, m in assigned])
            refusals = split_knowledge_refusals(
                [Assignment(m.person.id, m.name, i) for i, m in assigned],
                key_ids=(key.id, key_identity(key.algorithm.value, key.kcv)),
                history=history,
            )
            self._refuse_if(session, refusals, "key.export.refused", key.label, key.id)
            serials = uow.envelopes.next_serials(len(assigned))
            uow.commit()
        self._check_targets(output, [f"{s}.pdf" for s in serials])
        algorithm = key.algorithm
        ceremony_id = uuid.uuid4().hex
        assert key.wrapped is not None  # check_exportable refused a key without material
        clear = self.ctx.hsm.export_clear_key(algorithm, key.wrapped)
        parts: list[bytearray] = []
        try:
            if comp.kcv_hex(comp.check_value(algorithm, clear)) != key.kcv.upper():
                raise IntegrityError(
                    f"Key {key.label} does not give its recorded check value; not exported."
                )
            parts = comp.split(algorithm, clear, len(assigned), self.ctx.hsm.random_bytes)
            _wipe(clear)
            kcvs = [comp.kcv_hex(comp.check_value(algorithm, c)) for c in parts]
            transcript = self._opening(session, started)
            transcript.append(
                self._entry(
                    "split",
                    auth.members,
                    f"Key {key.label} split into {len(parts)} new components",
                    {f"component {i} kcv": k for i, k in enumerate(kcvs, 1)},
                )
            )
            delivery = self._print_mailers(
                session,
                auth,
                ceremony_id,
                wid,
                assigned,
                serials,
                parts,
                kcvs,
                label=key.label,
                algorithm=algorithm.value,
                output=output,
            )
        finally:
            _wipe(clear)
            for c in parts:
                _wipe(c)
        transcript.append(
            self._entry(
                "print",
                tuple(m for _, m in assigned),
                f"Mailers printed to {output.describe()}",
                {f"envelope {i}": serials[n] for n, (i, _) in enumerate(assigned)},
            )
        )
        return self._finish(
            session,
            auth,
            kind=CeremonyKind.EXPORT_COMPONENTS,
            ceremony_id=ceremony_id,
            started=started,
            wid=wid,
            transcript=transcript,
            assigned=assigned,
            kcvs=kcvs,
            serials=serials,
            template=template,
            new_key=None,
            existing_key=key,
            key_kcv=key.kcv,
            how="exported",
            delivery=delivery,
            output=output,
        )

    # --- master key backup ---------------------------------------------------------------

    def backup_master_key(
        self,
        session: Session,
        holders: Sequence[str],
        *,
        threshold: int,
        output: PaperOutput,
        scheme: str = "shares",
    ) -> CeremonyOutcome:
        """Back up the workstation keys: wrapped under a one-time transport key kept in the
        repository, the transport key split into ``threshold``-of-``len(holders)`` shares
        (Shamir) or into ``len(holders)`` XOR components (every one needed)."""
        started = self.ctx.clock.now()
        if scheme not in ("shares", "components"):
            raise BadInput(f"Unknown backup scheme {scheme!r}; use shares or components.")
        count = len(holders)
        if scheme == "components":
            threshold = count
        if not 2 <= threshold <= count:
            raise BadInput(
                f"The backup needs between 2 and {count} shares to recover (asked: {threshold})."
            )
        self._check_output(output)
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.BACKUP_MASTER_KEY)
            wid = self.ctx.workstation_id(uow)
            assigned = self._assign(uow, session, holders, "receiving their share")
            serials = uow.envelopes.next_serials(count)
            uow.commit()
        self._check_targets(output, [f"{s}.pdf" for s in serials])
        ceremony_id = uuid.uuid4().hex
        backup = self.ctx.hsm.backup_workstation_keys()
        values: list[bytearray] = []
        try:
            set_id = sss.new_set_id(self.ctx.hsm.random_bytes)
            if scheme == "shares":
                shares = sss.split_secret(
                    backup.transport_key,
                    threshold=threshold,
                    count=count,
                    random_bytes=self.ctx.hsm.random_bytes,
                    set_id=set_id,
                )
                values = [s.value for s in shares]
                checks = [s.check_value for s in shares]
            else:
                values = comp.split(
                    KeyAlgorithm.AES_256, backup.transport_key, count, self.ctx.hsm.random_bytes
                )
                checks = [comp.kcv_hex(comp.check_value(KeyAlgorithm.AES_256, v)) for v in values]
            _wipe(backup.transport_key)
            label = f"{MASTER_KEY_LABEL} (backup set {set_id})"
            transcript = self._opening(session, started)
            transcript.append(
                self._entry(
                    "wrap",
                    auth.members,
                    "Master, binding and audit keys wrapped under a new transport key",
                    {"set id": set_id, "transport kcv": backup.transport_kcv.hex().upper()},
                )
            )
            delivery = self._print_mailers(
                session,
                auth,
                ceremony_id,
                wid,
                assigned,
                serials,
                values,
                checks,
                label=label,
                algorithm="AES-256 transport key",
                output=output,
                kind="share",
                threshold=threshold,
            )
        finally:
            _wipe(backup.transport_key)
            for v in values:
                _wipe(v)
        transcript.append(
            self._entry(
                "print",
                tuple(m for _, m in assigned),
                f"{count} {scheme} printed ({threshold} recover) to {output.describe()}",
                {f"envelope {i}": serials[n] for n, (i, _) in enumerate(assigned)},
            )
        )
        info = MasterKeyBackupInfo(
            set_id=set_id,
            scheme=scheme,
            threshold=threshold,
            count=count,
            created_at=format_time(started) or "",
            ceremony_id=ceremony_id,
            holders=tuple((i, m.name, serials[n]) for n, (i, m) in enumerate(assigned)),
            holder_ids=tuple(m.person.id for _, m in assigned),
            checks=tuple(checks),
            blob=backup.blob,
            transport_kcv=backup.transport_kcv.hex().upper(),
        )
        return self._finish(
            session,
            auth,
            kind=CeremonyKind.MASTER_KEY_BACKUP,
            ceremony_id=ceremony_id,
            started=started,
            wid=wid,
            transcript=transcript,
            assigned=assigned,
            kcvs=checks,
            serials=serials,
            template=None,
            new_key=None,
            existing_key=None,
            key_kcv=None,
            how="backup share",
            delivery=delivery,
            output=output,
            backup=info,
            holding_key=f"backup:{set_id}",
            holding_label=label,
        )

    # --- envelopes -----------------------------------------------------------------------

    def record_envelope(
        self,
        session: Session,
        serial: str,
        event: EnvelopeState,
        *,
        bag_number: str | None = None,
        note: str = "",
    ) -> Envelope:
        """Register what happened to an envelope (sealed, handed over, received, opened,
        destroyed), with the people logged on as its witnesses."""
        if event is EnvelopeState.PRINTED:
            raise BadInput("Envelopes are registered as printed by their ceremony only.")
        with self.ctx.repository.unit_of_work() as uow:
            envelope = self._envelope(uow, serial)
            auth = self.ctx.authorise(uow, session, Action.RECORD_ENVELOPE)
            if event in CUSTODIAN_EVENTS and session.member(envelope.custodian_id) is None:
                raise PolicyRefused(
                    f"Envelope {envelope.serial} is {envelope.custodian_name}'s: "
                    f"{envelope.custodian_name} must be logged on when it is {event.value}."
                )
            moved = envelope.moved(
                event,
                at=self.ctx.clock.now(),
                people=[m.name for m in session.members],
                note=note,
                bag_number=bag_number,
            )
            uow.envelopes.update(moved, self.ctx.seal(moved))
            self.ctx.audit(
                uow,
                auth,
                f"envelope.{event.value.replace(' ', '_')}",
                "envelope",
                envelope.serial,
                label=f"{envelope.key_label}, {envelope.describe}",
                before=envelope.state.value,
                after=event.value,
                details={
                    "custodian": envelope.custodian_name,
                    **({"bag": moved.bag_number} if moved.bag_number else {}),
                    **({"note": note.strip()} if note.strip() else {}),
                },
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return moved

    def acknowledgement_form(
        self, session: Session, serial: str, *, output: PaperOutput
    ) -> Delivery:
        """The custodian's acknowledgement of an envelope, printed for signature."""
        self._check_output(output)
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            envelope = self._envelope(uow, serial)
            wid = self.ctx.workstation_id(uow)
        form = AcknowledgementForm(
            envelope_serial=envelope.serial,
            bag_number=envelope.bag_number,
            custodian=envelope.custodian_name,
            key_label=envelope.key_label,
            index=envelope.index,
            count=envelope.count,
            kind=envelope.kind,
            event=envelope.state.value,
            history=tuple(
                (f"{e.at:%Y-%m-%d %H:%M} UTC", e.state.value, ", ".join(e.people))
                for e in envelope.events
            ),
            workstation_id=wid,
            printed_at=self.ctx.clock.now(),
        )
        name = f"acknowledgement-{envelope.serial}.pdf"
        self._check_targets(output, [name])
        pdf = self._renderer().acknowledgement_forms([form])
        return self._deliver(
            session,
            [(name, f"Acknowledgement {envelope.serial}", pdf)],
            output,
            "envelope",
            envelope.serial,
        )

    # --- ceremony records ----------------------------------------------------------------

    def verify_ceremony(self, session: Session, ref: str) -> CeremonyVerification:
        """Check the record's seal and every participant's card signature over the
        transcript, against the card certificates enrolled on this workstation."""
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_AUDIT)
            sealed = uow.ceremonies.get(ref)
            if sealed is None:
                raise NotFound(f"No ceremony {ref!r}.")
            ceremony = sealed.value
            seal_ok = self.ctx.hsm.verify_binding(ceremony.binding_bytes(), sealed.mac)
            message = ceremony.transcript_bytes()
            checks: list[SignatureCheck] = []
            for sig in ceremony.signatures:
                card = uow.cards.get(sig.card_id)
                if card is None:
                    checks.append(SignatureCheck(sig.name, sig.card_id, False, "card unknown"))
                    continue
                if not self.ctx.hsm.verify_binding(card.value.binding_bytes(), card.mac):
                    checks.append(
                        SignatureCheck(sig.name, sig.card_id, False, "card record altered")
                    )
                    continue
                valid = signature_is_valid(card.value.certificate, message, sig.signature)
                checks.append(
                    SignatureCheck(
                        sig.name, sig.card_id, valid, "" if valid else "signature does not verify"
                    )
                )
        signed = {s.person_id for s in ceremony.signatures}
        missing = tuple(p.name for p in ceremony.participants if p.person_id not in signed)
        return CeremonyVerification(ceremony, seal_ok, tuple(checks), missing)

    def print_record(self, session: Session, ref: str, *, output: PaperOutput) -> Delivery:
        self._check_output(output)
        verification = self.verify_ceremony(session, ref)
        c = verification.ceremony
        status = {s.card_id: s for s in verification.signatures}
        participants = tuple(
            (
                p.name,
                p.part,
                p.card_id[:12],
                (
                    "signed with card (verified)"
                    if status.get(p.card_id) and status[p.card_id].valid
                    else f"NOT VALID: {status[p.card_id].problem}"
                    if p.card_id in status
                    else "not signed"
                ),
            )
            for p in c.participants
        )
        document = CeremonyDocument(
            ceremony_id=c.id,
            title=c.title,
            script=c.kind.value,
            workstation_id=c.workstation_id,
            key_label=c.key_label,
            algorithm=c.algorithm,
            key_kcv=c.key_kcv,
            started_at=c.started_at,
            completed_at=c.completed_at,
            status="completed, verified" if verification.ok else "completed, NOT VERIFIED",
            transcript=tuple(
                (f"{e.at:%Y-%m-%d %H:%M:%S}", e.step, ", ".join(e.people), self._line(e))
                for e in c.transcript
            ),
            transcript_hash=c.transcript_hash,
            participants=participants,
            printed_at=self.ctx.clock.now(),
        )
        name = f"ceremony-{c.id[:12]}.pdf"
        self._check_targets(output, [name])
        pdf = self._renderer().ceremony_record(document)
        return self._deliver(
            session, [(name, f"Ceremony record {c.id[:12]}", pdf)], output, "ceremony", c.id
        )

    def export_record(self, session: Session, ref: str, path: Path) -> RecordExport:
        """Write the ceremony's record for the standalone verifier
        (``workstation-audit-verify --ceremony``): the transcript as the cards signed it,
        its hash, each signature with the signer's enrolled card certificate, the audit
        entry that recorded the ceremony, all signed by the HSM audit key (format in
        ``standalone/audit_verify.py``). Needs EXPORT_AUDIT; audited; a new file only.

        A record whose seal, or whose signers' card records, do not verify is refused: the
        audit key signs only what the workstation holds unaltered."""
        target = Path(path).expanduser()
        if target.exists():
            raise BadInput(f"{target} exists already; choose a new file name.")
        if not target.parent.is_dir():
            raise BadInput(f"The folder {target.parent} does not exist.")
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.EXPORT_AUDIT)
            sealed = uow.ceremonies.get(ref)
            if sealed is None:
                raise NotFound(f"No ceremony {ref!r}.")
            ceremony = sealed.value
            if not self.ctx.hsm.verify_binding(ceremony.binding_bytes(), sealed.mac):
                raise IntegrityError(
                    f"The stored record of ceremony {ceremony.id[:12]} fails its seal (altered "
                    "in the database); it is not exported."
                )
            signatures: list[dict[str, str]] = []
            for sig in ceremony.signatures:
                card = uow.cards.get(sig.card_id)
                if card is None or not self.ctx.hsm.verify_binding(
                    card.value.binding_bytes(), card.mac
                ):
                    state = "is not enrolled here" if card is None else "fails its seal"
                    raise IntegrityError(
                        f"The card {sig.card_id[:12]} that signed for {sig.name} {state}; the "
                        f"record of ceremony {ceremony.id[:12]} is not exported."
                    )
                signatures.append(
                    {
                        "person_id": sig.person_id,
                        "name": sig.name,
                        "card_id": sig.card_id,
                        "certificate": base64.b64encode(card.value.certificate).decode("ascii"),
                        "signature": base64.b64encode(sig.signature).decode("ascii"),
                    }
                )
            entry = self._ceremony_entry(uow, ceremony)
            wid = self.ctx.workstation_id(uow)
            audit_key = self.ctx.hsm.audit_public_key()
            record: dict[str, Any] = {
                "format": CEREMONY_RECORD_FORMAT,
                "version": CEREMONY_RECORD_VERSION,
                "workstation_id": wid,
                "ceremony_id": ceremony.id,
                "exported_at": format_time(self.ctx.clock.now()),
                "transcript": ceremony.transcript_record(),
                "transcript_sha256": ceremony.transcript_hash,
                "signatures": signatures,
                "audit_entry": {"seq": entry.seq, "hash": entry.hash.hex(), "action": entry.action},
                "audit_key_sha256": hashlib.sha256(audit_key).hexdigest(),
            }
            data = ceremony_record_file(
                record, self.ctx.hsm.sign_audit(ceremony_record_message(record))
            )
            self.ctx.audit(
                uow,
                auth,
                "ceremony.export-record",
                "ceremony",
                ceremony.id,
                label=ceremony.key_label or "",
                details={
                    "file": str(target),
                    "transcript_hash": ceremony.transcript_hash,
                    "audit_entry": entry.seq,
                },
                session=session,
            )
            try:
                written = write_new(str(target), data)
            except OSError as exc:
                raise WorkstationError(
                    f"The ceremony record could not be written to {target}: {exc.strerror or exc}."
                ) from None
            try:
                uow.commit()
            except BaseException:
                written.unlink(missing_ok=True)
                raise
        self.ctx.checkpoint()
        return RecordExport(
            path=written,
            ceremony_id=ceremony.id,
            transcript_hash=ceremony.transcript_hash,
            audit_seq=entry.seq,
            signatures=len(signatures),
            audit_key_sha256=record["audit_key_sha256"],
        )

    @staticmethod
    def _ceremony_entry(uow: UnitOfWork, ceremony: Ceremony) -> AuditEntry:
        """The audit entry that recorded ``ceremony`` with its transcript hash."""
        action = f"ceremony.{ceremony.kind.value}"
        for entry in uow.audit.search(action=action, object_id=ceremony.id, limit=100):
            details = entry.body.get("details")
            if (
                entry.action == action
                and isinstance(details, dict)
                and details.get("transcript_hash") == ceremony.transcript_hash
            ):
                return entry
        raise IntegrityError(
            f"No audit entry records ceremony {ceremony.id[:12]} with its transcript hash; "
            "the record is not exported (verify the audit log)."
        )

    @staticmethod
    def _line(e: TranscriptEntry) -> str:
        if not e.data:
            return e.text
        return e.text + " (" + "; ".join(f"{k} {v}" for k, v in e.data.items()) + ")"

    # --- shared steps --------------------------------------------------------------------

    def _renderer(self) -> DocumentRenderer:
        if self.renderer is None:
            raise WorkstationError("No document renderer is configured on this workstation.")
        return self.renderer

    def _check_output(self, output: PaperOutput) -> None:
        if output.directory is None and not output.printer:
            raise BadInput("Choose a folder for the PDF files or the configured printer.")
        if output.directory is not None:
            if not output.directory.is_dir():
                raise BadInput(f"The folder {output.directory} does not exist.")
        elif self.print_queue is None or self.print_queue.printer is None:
            raise BadInput(
                "No printer is configured: set [printing] printer in workstation.toml, or "
                "choose a folder for the PDF files."
            )

    @staticmethod
    def _check_targets(output: PaperOutput, names: Sequence[str]) -> None:
        if output.directory is None:
            return
        taken = [n for n in names if (output.directory / n).exists()]
        if taken:
            raise AlreadyExists(
                f"{', '.join(taken)} exist(s) already in {output.directory}; choose another "
                "folder. Nothing was printed."
            )

    def _deliver(
        self,
        session: Session,
        documents: Sequence[tuple[str, str, bytearray]],
        output: PaperOutput,
        object_type: str,
        object_id: str,
    ) -> Delivery:
        """Write or print each (file name, title, pdf); wipes every pdf buffer. A document
        with key material written to a folder is audited with its path."""
        files: list[str] = []
        jobs: list[str] = []
        try:
            for name, title, pdf in documents:
                if output.directory is not None:
                    path = output.directory / name
                    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                    try:
                        view = memoryview(pdf)
                        while view:
                            written = os.write(fd, view)
                            view = view[written:]
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                    files.append(str(path))
                else:
                    assert self.print_queue is not None
                    jobs.append(self.print_queue.submit(pdf, title=title))
        except OSError as exc:
            self._remove(files)
            raise WorkstationError(
                f"The PDF could not be written to {output.directory}: {exc.strerror or exc}."
            ) from None
        except BaseException:
            self._remove(files)
            raise
        finally:
            for _, _, pdf in documents:
                _wipe(pdf)
        return Delivery(tuple(files), tuple(jobs))

    @staticmethod
    def _remove(files: Sequence[str]) -> None:
        """Undo: overwrite and delete the PDFs written (best effort on journaling and
        flash storage, where an overwrite may land elsewhere)."""
        for name in files:
            try:
                size = os.path.getsize(name)
                with open(name, "r+b") as f:
                    f.write(bytes(size))
                    f.flush()
                    os.fsync(f.fileno())
                os.unlink(name)
            except OSError:
                log.exception("could not remove %s after a failed ceremony", name)

    def _print_mailers(
        self,
        session: Session,
        auth: Authorisation,
        ceremony_id: str,
        wid: str,
        assigned: Sequence[tuple[int, Member]],
        serials: Sequence[str],
        secrets: Sequence[bytearray],
        checks: Sequence[str],
        *,
        label: str,
        algorithm: str,
        output: PaperOutput,
        kind: str = "component",
        threshold: int | None = None,
    ) -> Delivery:
        """One mailer per assigned custodian (in component order), printed once everyone
        the ceremony needs is still logged on."""
        mailers = [
            ComponentMailer(
                envelope_serial=serials[n],
                custodian=m.name,
                key_label=label,
                algorithm=algorithm,
                index=i,
                count=len(assigned),
                secret=secrets[n],
                secret_kcv=checks[n],
                ceremony_id=ceremony_id,
                workstation_id=wid,
                printed_at=self.ctx.clock.now(),
                kind=kind,
                threshold=threshold,
            )
            for n, (i, m) in enumerate(assigned)
        ]
        self._require_present(session, auth, [m for _, m in assigned])
        return self._deliver_mailers(session, ceremony_id, mailers, output, label)

    def _deliver_mailers(
        self,
        session: Session,
        ceremony_id: str,
        mailers: Sequence[ComponentMailer],
        output: PaperOutput,
        label: str,
    ) -> Delivery:
        renderer = self._renderer()
        documents = []
        try:
            for m in mailers:
                documents.append(
                    (
                        f"{m.envelope_serial}.pdf",
                        f"Mailer {m.envelope_serial}",
                        renderer.component_mailers([m]),
                    )
                )
        except BaseException:
            for _, _, pdf in documents:
                _wipe(pdf)
            raise
        try:
            return self._deliver(session, documents, output, "ceremony", ceremony_id)
        except WorkstationError as exc:
            self._aborted(session, ceremony_id, label, exc.user_message(), [])
            raise

    def _aborted(
        self,
        session: Session,
        ceremony_id: str,
        label: str,
        reason: str,
        printed: Sequence[str],
    ) -> None:
        details: dict[str, Any] = {"reason": reason}
        if printed:
            details["printed_envelopes"] = list(printed)
            details["instruction"] = "destroy these envelopes unopened, witnessed"
        try:
            with self.ctx.repository.unit_of_work() as uow:
                self.ctx.audit(
                    uow,
                    None,
                    "ceremony.aborted",
                    "ceremony",
                    ceremony_id,
                    label=label,
                    details=details,
                    session=session,
                )
                uow.commit()
        except Exception:
            log.exception("could not audit an aborted ceremony")

    def _template(self, uow: UnitOfWork, ref: str, *, for_new_keys: bool = True) -> KeyTemplate:
        sealed = uow.templates.by_name(ref) or uow.templates.get(ref)
        if sealed is None:
            raise NotFound(f"No template named {ref!r}.")
        template = self.ctx.unseal(sealed, f"template {sealed.value.name}")
        if for_new_keys:
            if template.status is not TemplateStatus.ACTIVE:
                raise BadInput(f"Template {template.name!r} is retired; choose another.")
            if not template.algorithm.is_symmetric:
                raise BadInput(
                    f"Template {template.name!r} makes {template.algorithm.value} key pairs; "
                    "components are for secret keys."
                )
            if not template.allows(Action.GENERATE_KEY):
                raise PolicyRefused(f"Template {template.name!r} does not allow new keys.")
        return template

    def _key(self, uow: UnitOfWork, ref: str) -> ManagedKey:
        sealed = uow.keys.by_label(ref) or uow.keys.get(ref)
        if sealed is None:
            raise NotFound(f"No key labelled {ref!r}.")
        return self.ctx.unseal(sealed, f"key {sealed.value.label}")

    def _ceremony(self, uow: UnitOfWork, ref: str) -> Ceremony:
        sealed = uow.ceremonies.get(ref)
        if sealed is None:
            raise NotFound(f"No ceremony {ref!r}.")
        return self.ctx.unseal(sealed, f"ceremony {sealed.value.id[:8]}")

    def _envelope(self, uow: UnitOfWork, serial: str) -> Envelope:
        sealed = uow.envelopes.get(serial)
        if sealed is None:
            raise NotFound(f"No envelope {serial!r} in the register.")
        return self.ctx.unseal(sealed, f"envelope {sealed.value.serial}")

    def _label(
        self, uow: UnitOfWork, template: KeyTemplate, label: str | None, now: datetime
    ) -> str:
        if label is not None:
            label = label.strip()
            if not label:
                raise BadInput("The key label is empty.")
            if uow.keys.by_label(label) is not None:
                raise AlreadyExists(f"A key labelled {label} already exists.")
            return label
        seq = uow.templates.next_sequence(template.id)
        return render_label(
            template.label_pattern, seq=seq, when=now, template=template.name, version=1
        )

    def _assign(
        self, uow: UnitOfWork, session: Session, names: Sequence[str], doing: str
    ) -> list[tuple[int, Member]]:
        """The named custodians, in component order, each logged on in the session."""
        if len(names) < 2:
            raise BadInput("Name at least two custodians: one for each component.")
        if len(names) > 9:
            raise BadInput("At most nine custodians take part in one ceremony.")
        result: list[tuple[int, Member]] = []
        for index, name in enumerate(names, 1):
            sealed = uow.people.by_name(name.strip())
            if sealed is None:
                raise NotFound(f"No one named {name!r} is enrolled.")
            person = self.ctx.unseal(sealed, f"person {sealed.value.name}")
            if Role.KEY_CUSTODIAN not in person.roles:
                raise PolicyRefused(f"{person.name} is not a key custodian.")
            member = session.member(person.id)
            if member is None:
                raise PolicyRefused(
                    f"{person.name} must be logged on with their card for {doing} "
                    f"(component {index})."
                )
            result.append((index, member))
        return result

    def _history(self, uow: UnitOfWork, person_ids: Sequence[str]) -> list[ComponentHolding]:
        return [
            self.ctx.unseal(s, "a component holding") for s in uow.holdings.for_people(person_ids)
        ]

    def _refuse_if(
        self,
        session: Session,
        refusals: Sequence[str],
        action: str,
        label: str,
        object_id: str = "",
    ) -> None:
        if not refusals:
            return
        reason = " ".join(refusals)
        self.ctx.record_refusal(session, action, "ceremony", object_id or "-", reason, label)
        raise PolicyRefused(reason)

    def _check_component(
        self, algorithm: KeyAlgorithm, value: bytearray, number: int, custodian: str
    ) -> None:
        if len(value) != algorithm.key_bytes:
            raise comp.ComponentError(
                f"Component {number} ({custodian}) is {len(value)} bytes long; a "
                f"{algorithm.value} component has {algorithm.key_bytes}."
            )
        if algorithm.family.value == "TDES":
            bad = comp.parity_errors(value)
            if bad:
                where = ", ".join(str(b + 1) for b in bad)
                raise comp.ComponentError(
                    f"Component {number} ({custodian}) has even parity in byte(s) {where}; "
                    "a TDES component has odd parity in every byte: check for a typing error."
                )

    def _entry_envelopes(
        self,
        uow: UnitOfWork,
        entries: Sequence[ComponentEntry],
        assigned: Sequence[tuple[int, Member]],
    ) -> list[Envelope]:
        result: list[Envelope] = []
        for e, (_, m) in zip(entries, assigned, strict=True):
            if not e.envelope:
                continue
            envelope = self._envelope(uow, e.envelope)
            if envelope.custodian_id != m.person.id:
                raise PolicyRefused(
                    f"Envelope {envelope.serial} was issued to {envelope.custodian_name}, not "
                    f"to {m.name}."
                )
            if envelope.state not in (EnvelopeState.RECEIVED, EnvelopeState.OPENED):
                raise BadInput(
                    f"Envelope {envelope.serial} is {envelope.state.value}; a component is "
                    "entered from an envelope its custodian received."
                )
            result.append(envelope)
        return result

    def _require_present(
        self, session: Session, auth: Authorisation, people: Sequence[Member]
    ) -> None:
        """Everyone the ceremony needs is still logged on, cards in their readers."""
        session.ensure_usable(check_cards=True)
        for m in (*auth.members, *people):
            if session.member(m.person.id) is None or not m.connection.still_present():
                raise SessionLocked(
                    f"{m.name} logged off (card removed) during the ceremony; it stops and "
                    "nothing is stored."
                )
        problem = self.ctx.still_met(session, auth)
        if problem is not None:
            raise SessionLocked(f"The ceremony stops: {problem}. Nothing is stored.")

    def _opening(self, session: Session, started: datetime) -> list[TranscriptEntry]:
        return [
            TranscriptEntry(
                at=m.logged_on_at,
                step="open",
                people=(m.name,),
                text=f"{m.name} logged on ({m.person.roles_text}) with card {m.card.short_id}",
                data={"reader": m.reader},
            )
            for m in session.members
        ] + [
            TranscriptEntry(
                at=started,
                step="open",
                people=tuple(m.name for m in session.members),
                text="Ceremony opened",
            )
        ]

    def _entry(
        self, step: str, people: Sequence[Member], text: str, data: dict[str, str] | None = None
    ) -> TranscriptEntry:
        return TranscriptEntry(
            at=self.ctx.clock.now(),
            step=step,
            people=tuple(m.name for m in people),
            text=text,
            data=data or {},
        )

    def _finish(
        self,
        session: Session,
        auth: Authorisation,
        *,
        kind: CeremonyKind,
        ceremony_id: str,
        started: datetime,
        wid: str,
        transcript: list[TranscriptEntry],
        assigned: Sequence[tuple[int, Member]],
        kcvs: Sequence[str],
        serials: Sequence[str],
        template: KeyTemplate | None,
        new_key: tuple[Any, str] | None,
        existing_key: ManagedKey | None,
        key_kcv: str | None,
        how: str,
        delivery: Delivery,
        output: PaperOutput | None,
        opened: Sequence[Envelope] = (),
        backup: MasterKeyBackupInfo | None = None,
        holding_key: str | None = None,
        holding_label: str | None = None,
    ) -> CeremonyOutcome:
        """Sign the transcript with every participant's card, then store everything in
        one transaction. Any failure here stores nothing (printed envelopes are named in
        the audit entry of the abort, to be destroyed)."""
        parts = {
            m.person.id: f"custodian of {'share' if backup else 'component'} {i}"
            for i, m in assigned
        }
        label = (
            new_key[1] if new_key else existing_key.label if existing_key else holding_label or ""
        )
        key_id = uuid.uuid4().hex if new_key else existing_key.id if existing_key else None
        try:
            self._require_present(session, auth, [m for _, m in assigned])
            transcript.append(
                self._entry("sign", session.members, "Transcript signed by every participant")
            )
            ceremony = Ceremony(
                id=ceremony_id,
                kind=kind,
                workstation_id=wid,
                started_at=started,
                completed_at=self.ctx.clock.now(),
                participants=tuple(
                    Participant(
                        m.person.id, m.name, parts.get(m.person.id, m.person.roles_text), m.card.id
                    )
                    for m in session.members
                ),
                transcript=tuple(transcript),
                key_id=key_id,
                key_label=label or None,
                algorithm=(
                    template.algorithm.value if template else ("AES-256" if backup else None)
                ),
                key_kcv=key_kcv,
                envelopes=tuple(serials),
            )
            ceremony = self._sign(session, ceremony)
        except (WorkstationError, CardError) as exc:
            self._aborted(
                session,
                ceremony_id,
                label,
                exc.user_message(),
                delivery.files or serials if output else [],
            )
            self._remove(delivery.files)
            raise
        now = self.ctx.clock.now()
        with self.ctx.repository.unit_of_work() as uow:
            key: ManagedKey | None = existing_key
            if new_key is not None:
                assert template is not None
                from workstation.services.keys import KeyService

                key = KeyService(self.ctx).record_new(
                    uow,
                    auth,
                    session,
                    template,
                    new_key[0],
                    key_id=key_id or "",
                    label=new_key[1],
                    details={"ceremony": ceremony_id, "origin": kind.value},
                )
            uow.ceremonies.add(ceremony, self.ctx.seal(ceremony))
            people_names = [m.name for m in session.members]
            envelopes: list[Envelope] = []
            for n, (i, m) in enumerate(assigned):
                if n < len(serials):
                    e = Envelope(
                        serial=serials[n],
                        ceremony_id=ceremony_id,
                        kind="share" if backup else "component",
                        key_id=key.id if key else None,
                        key_label=label,
                        index=i,
                        count=len(assigned),
                        custodian_id=m.person.id,
                        custodian_name=m.name,
                        secret_kcv=kcvs[n],
                        events=(
                            EnvelopeEvent(
                                EnvelopeState.PRINTED,
                                now,
                                tuple(people_names),
                                f"ceremony {ceremony_id[:12]}",
                            ),
                        ),
                    )
                    uow.envelopes.add(e, self.ctx.seal(e))
                    envelopes.append(e)
            for e in opened:
                if e.state is EnvelopeState.RECEIVED:
                    moved = e.moved(
                        EnvelopeState.OPENED,
                        at=now,
                        people=people_names,
                        note=f"component entered, ceremony {ceremony_id[:12]}",
                    )
                    uow.envelopes.update(moved, self.ctx.seal(moved))
            ident = holding_key or (key_identity(key.algorithm.value, key.kcv) if key else "-")
            holdings = [
                ComponentHolding(
                    person_id=m.person.id,
                    person_name=m.name,
                    key_id=holding_key or (key.id if key else "-"),
                    key_identity=ident,
                    key_label=label,
                    index=i,
                    secret_kcv=kcvs[n],
                    ceremony_id=ceremony_id,
                    how=how,
                    at=now,
                )
                for n, (i, m) in enumerate(assigned)
            ]
            uow.holdings.add_many([(h, self.ctx.seal(h)) for h in holdings])
            if backup is not None:
                uow.meta.put(MASTER_KEY_BACKUP_META, backup.to_json())
            details: dict[str, Any] = {
                "script": kind.value,
                "transcript_hash": ceremony.transcript_hash,
                "holders": [f"{m.name}: {i}" for i, m in assigned],
                "envelopes": list(serials),
                "signed_by": [s.name for s in ceremony.signatures],
            }
            if delivery.files:
                # The operator chose to put clear components on disk inside PDFs.
                details["pdf_files"] = list(delivery.files)
            if delivery.print_jobs:
                details["print_jobs"] = list(delivery.print_jobs)
            if backup is not None:
                details.update(
                    set_id=backup.set_id, scheme=backup.scheme, threshold=backup.threshold
                )
            self.ctx.audit(
                uow,
                auth,
                f"ceremony.{kind.value}",
                "ceremony",
                ceremony_id,
                label=label,
                kcv=key_kcv,
                details=details,
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return CeremonyOutcome(ceremony, key, tuple(envelopes), delivery)

    def _sign(self, session: Session, ceremony: Ceremony) -> Ceremony:
        """Every participant's card signs the transcript (PIV GENERAL AUTHENTICATE with the
        9A key, SP 800-73-4 part 2 section 3.2.4); each signature is checked at once."""
        message = ceremony.transcript_bytes()
        signatures: list[CeremonySignature] = []
        for m in session.members:
            try:
                signature = m.connection.sign(message)
            except CardError as exc:
                raise SessionLocked(
                    f"{m.name}'s card could not sign the transcript ({exc.user_message()}); "
                    "the ceremony stops and nothing is stored."
                ) from exc
            if not signature_is_valid(m.card.certificate, message, signature):
                raise IntegrityError(
                    f"{m.name}'s card signature over the transcript does not verify; the "
                    "ceremony stops and nothing is stored."
                )
            signatures.append(CeremonySignature(m.person.id, m.name, m.card.id, signature))
        from dataclasses import replace

        return replace(ceremony, signatures=tuple(signatures))


# Recovery is a use case of its own (no one can log on before it): see services/recovery.py.
ProgressCallback = Callable[[int, int, str], None]
