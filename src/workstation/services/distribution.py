"""Distribution: pushing keys to key stores, and bulk rotation.

Targets (``domain/distribution.py``) are reached through the ``KeyStoreConnector`` port:
key agents over mutual TLS, PKCS#11 tokens, file drops. Every key goes to a target under
that target's own KEK: a TR-31 key block (agents, file drops; version D under an AES KEK,
B under a TDES one) or an RFC 5649 AES key wrap (PKCS#11 tokens, unwrapped inside the
token). A key pair's private key travels only to a file drop, as a TR-31 block carrying
its PKCS #8 (X9.143 algorithm R or E); agents and PKCS#11 targets take secret keys (a
server's key pair goes as PKCS #12 through ``EndpointService.export_keystore``).

A job is authorised once, when it is made: the export quorum of every key's template (and,
for a bulk rotation, the rotation quorum), with the people at the workstation. It is then
written down with one delivery per target before anything is sent; ``run`` works through
the deliveries, a few targets at a time, and records each target's outcome in its own
transaction with its audit entries. A target that cannot be reached is tried again after
an exponential backoff, up to the job's number of attempts, then reported failed. Before
sending, each target is asked which key versions it holds, and a version it holds is not
sent again: so a job resumed after the workstation stopped (even killed) finishes with
nothing lost and nothing installed twice, and the agents refuse a second install of a
version as well. Running a job again needs only someone logged on: it carries out what
was authorised.

Rules: a target's KEK must be an active TR-31 K0/K1 key (AES for PKCS#11 tokens); a key
must be exportable (``check_exportable``), and is refused if, by the time it is sent, it
is no longer pre-active or active (compromised keys are never delivered); a target that
reports a check value other than the key's is a failed delivery and a security event, not
retried.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import datetime

from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from workstation.domain.algorithms import KeyFamily
from workstation.domain.distribution import (
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    Delivery,
    DeliveryState,
    DistributionJob,
    HeldKey,
    JobKey,
    JobKind,
    JobState,
    KeyOutcome,
    KeyStore,
    TargetKind,
    check_tag,
    check_target_name,
)
from workstation.domain.endpoints import parse_target
from workstation.domain.keys import KeyState, ManagedKey, allowed_actions
from workstation.domain.policy import Action
from workstation.domain.templates import KeyTemplate
from workstation.errors import (
    AlreadyExists,
    BadInput,
    ConflictError,
    NotFound,
    PolicyRefused,
    TargetError,
    WorkstationError,
)
from workstation.services.context import Authorisation, ServiceContext
from workstation.services.interchange import KEK_USAGES, InterchangeService
from workstation.services.keys import KeyService, check_exportable
from workstation.services.ports import (
    InstallReceipt,
    KeyDelivery,
    KeyQuery,
    KeyStoreConnector,
    TargetAddress,
    TargetState,
    UnitOfWork,
)
from workstation.services.session import Session

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # targets finished, targets in all, a message
Stop = Callable[[], bool]

MAX_TARGETS_PER_JOB = 10_000
MAX_KEYS_PER_JOB = 1_000
DEFAULT_WORKERS = 8  # targets contacted at once


def _wipe(*buffers: bytearray | None) -> None:
    for b in buffers:
        if b is not None:
            b[:] = bytes(len(b))


@dataclass(frozen=True)
class JobReport:
    job: DistributionJob
    deliveries: tuple[Delivery, ...]

    def count(self, state: DeliveryState) -> int:
        return sum(1 for d in self.deliveries if d.state is state)

    @property
    def done(self) -> int:
        return self.count(DeliveryState.DONE)

    @property
    def failed(self) -> int:
        return self.count(DeliveryState.FAILED)

    @property
    def pending(self) -> int:
        return self.count(DeliveryState.PENDING)

    @property
    def installed(self) -> int:
        """Keys installed by this job (a version a target already held is not counted)."""
        return sum(d.installed for d in self.deliveries)

    @property
    def already_held(self) -> int:
        return sum(d.already_held for d in self.deliveries)

    def text(self) -> str:
        parts = [f"{self.done} of {len(self.deliveries)} targets done"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.pending:
            parts.append(f"{self.pending} pending")
        parts.append(f"{self.installed} keys installed")
        if self.already_held:
            parts.append(f"{self.already_held} already held")
        return ", ".join(parts)


@dataclass
class _Contact:
    """The outcome of contacting one target (made in a worker thread)."""

    delivery: Delivery
    state: TargetState | None = None
    outcomes: tuple[KeyOutcome, ...] = ()
    error: str = ""
    fatal: bool = False  # a refusal that retrying cannot fix (a check value mismatch)


class DistributionService:
    def __init__(
        self,
        ctx: ServiceContext,
        keys: KeyService,
        interchange: InterchangeService,
        *,
        workers: int = DEFAULT_WORKERS,
        contact_timeout: float = 10.0,
    ) -> None:
        self.ctx = ctx
        self.keys = keys
        self.interchange = interchange
        self.workers = workers
        self.contact_timeout = contact_timeout
        self._sleep = threading.Event()  # interruptible waits between retries

    # --- targets -------------------------------------------------------------------------

    def _connector(self) -> KeyStoreConnector:
        if self.ctx.key_stores is None:
            raise BadInput(
                "This workstation has no key store connection configured: add a "
                "[distribution] section (client certificate, key and trust anchors for the "
                "key agents) to workstation.toml."
            )
        return self.ctx.key_stores

    def targets(self, session: Session, *, tag: str | None = None) -> list[KeyStore]:
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            stores = self._all_targets(uow)
        if tag is not None:
            wanted = check_tag(tag)
            stores = [s for s in stores if wanted in s.tags]
        return stores

    def _all_targets(self, uow: UnitOfWork) -> list[KeyStore]:
        stores = [
            self.ctx.unseal(s, f"key store {s.value.name}")
            for s in uow.documents.list(KeyStore, limit=MAX_TARGETS_PER_JOB)
        ]
        return sorted(stores, key=lambda s: s.name.lower())

    def _target(self, uow: UnitOfWork, name: str) -> KeyStore:
        rows = uow.documents.list(KeyStore, subject=name.strip().lower(), limit=2)
        if not rows:
            raise NotFound(f"There is no key store named {name!r}.")
        return self.ctx.unseal(rows[0], f"key store {name}")

    def _target_by_id(self, uow: UnitOfWork, target_id: str) -> KeyStore:
        sealed = uow.documents.get(KeyStore, target_id)
        if sealed is None:
            raise NotFound(f"Key store {target_id} is no longer registered.")
        return self.ctx.unseal(sealed, f"key store {sealed.value.name}")

    @staticmethod
    def _check_kek(kek: ManagedKey, kind: TargetKind) -> None:
        InterchangeService.require_usable_kek(kek, KEK_USAGES, "key encryption key")
        if kind is TargetKind.PKCS11 and kek.algorithm.family is not KeyFamily.AES:
            raise BadInput(
                f"Key {kek.label} is {kek.algorithm.value}: a PKCS#11 token receives keys "
                "under AES key wrap (RFC 5649), so its KEK must be an AES key."
            )

    def add_target(
        self,
        session: Session,
        *,
        name: str,
        kind: TargetKind | str,
        location: str,
        kek: str,
        kek_label: str | None = None,
        token: str = "",
        pin_file: str = "",
        tags: Sequence[str] = (),
    ) -> KeyStore:
        """Register a key store: where it is, and the KEK (a managed key) it shares."""
        name = check_target_name(name)
        kind = TargetKind.parse(kind) if isinstance(kind, str) else kind
        location = location.strip()
        if not location:
            raise BadInput(f"Key store {name}: give its location ({_where(kind)}).")
        if kind is TargetKind.AGENT:
            target = parse_target(location)
            location = target.text
        if kind is TargetKind.PKCS11 and not token.strip():
            raise BadInput(f"Key store {name}: a PKCS#11 target needs the token's label.")
        clean_tags = tuple(sorted({check_tag(t) for t in tags}))
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_PARTNERS)
            if uow.documents.list(KeyStore, subject=name.lower(), limit=1):
                raise AlreadyExists(f"A key store named {name!r} is already registered.")
            the_kek = self.keys.find_key(uow, kek)
            self._check_kek(the_kek, kind)
            store = KeyStore(
                id=uuid.uuid4().hex,
                name=name,
                kind=kind,
                location=location,
                kek_id=the_kek.id,
                kek_label=(kek_label or the_kek.label).strip(),
                added_at=self.ctx.clock.now(),
                added_by=tuple(m.name for m in session.members),
                token=token.strip(),
                pin_file=pin_file.strip(),
                tags=clean_tags,
            )
            uow.documents.add(store, self.ctx.seal(store))
            self.ctx.audit(
                uow,
                auth,
                "key-store.add",
                "key-store",
                store.id,
                label=name,
                kcv=the_kek.kcv,
                details={
                    "kind": kind.value,
                    "location": location,
                    "kek": the_kek.label,
                    "kek_label": store.kek_label,
                    **({"tags": ",".join(clean_tags)} if clean_tags else {}),
                },
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return store

    def remove_target(self, session: Session, name: str) -> KeyStore:
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_PARTNERS)
            store = self._target(uow, name)
            for job in self._jobs(uow, unfinished=True):
                if store.id in job.target_ids:
                    raise PolicyRefused(
                        f"Key store {store.name} is a target of unfinished job "
                        f"{job.id[:12]}; finish or cancel the job first."
                    )
            uow.documents.delete(KeyStore, store.id)
            self.ctx.audit(
                uow,
                auth,
                "key-store.remove",
                "key-store",
                store.id,
                label=store.name,
                details={"kind": store.kind.value, "location": store.location},
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return store

    @staticmethod
    def address(store: KeyStore) -> TargetAddress:
        return TargetAddress(
            name=store.name,
            kind=store.kind.value,
            location=store.location,
            kek_label=store.kek_label,
            token=store.token,
            pin_file=store.pin_file,
        )

    def check_targets(
        self,
        session: Session,
        names: Sequence[str] = (),
        *,
        progress: Progress | None = None,
    ) -> list[KeyStore]:
        """Ask each target (all, or those named) whether it can be reached and which key
        versions it holds; kept with the target and audited once."""
        connector = self._connector()
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            stores = [self._target(uow, n) for n in names] if names else self._all_targets(uow)
        results: dict[str, TargetState | str] = {}

        def ask(store: KeyStore) -> tuple[str, TargetState | str]:
            try:
                target = connector.connect(self.address(store), timeout=self.contact_timeout)
                try:
                    return store.id, target.status()
                finally:
                    target.close()
            except TargetError as exc:
                return store.id, exc.message

        done = 0
        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            for sid, outcome in pool.map(ask, stores):
                results[sid] = outcome
                done += 1
                if progress is not None:
                    progress(done, len(stores), "Asking the key stores")
        now = self.ctx.clock.now()
        updated: list[KeyStore] = []
        with self.ctx.repository.unit_of_work() as uow:
            reachable = 0
            for store in stores:
                current = self._target_by_id(uow, store.id)
                outcome = results[store.id]
                if isinstance(outcome, TargetState):
                    reachable += 1
                    new = replace(
                        current,
                        checked_at=now,
                        reachable=True,
                        held=outcome.held,
                        detail=outcome.detail,
                    )
                else:
                    new = replace(current, checked_at=now, reachable=False, detail=outcome)
                uow.documents.update(new, self.ctx.seal(new))
                updated.append(new)
            self.ctx.audit(
                uow,
                auth,
                "key-store.check",
                "key-store",
                "*" if not names else ",".join(s.id for s in stores),
                label=f"{len(stores)} key stores",
                details={"asked": len(stores), "reachable": reachable},
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return updated

    # --- making jobs ---------------------------------------------------------------------

    def _choose_targets(
        self, uow: UnitOfWork, names: Sequence[str], tags: Sequence[str]
    ) -> list[KeyStore]:
        chosen: dict[str, KeyStore] = {}
        for n in names:
            store = self._target(uow, n)
            chosen[store.id] = store
        if tags:
            wanted = {check_tag(t) for t in tags}
            matched = [s for s in self._all_targets(uow) if wanted & set(s.tags)]
            if not matched:
                raise NotFound(f"No key store carries the tag {', '.join(sorted(wanted))}.")
            chosen.update((s.id, s) for s in matched)
        if len(chosen) > MAX_TARGETS_PER_JOB:
            raise BadInput(f"A job reaches at most {MAX_TARGETS_PER_JOB} key stores.")
        return list(chosen.values())

    def _check_targets_keks(self, uow: UnitOfWork, stores: Iterable[KeyStore]) -> None:
        for store in stores:
            kek = self.keys.find_key(uow, store.kek_id)
            try:
                self._check_kek(kek, store.kind)
            except WorkstationError as exc:
                raise type(exc)(f"Key store {store.name}: {exc.message}") from None

    def _authorise_keys(
        self,
        uow: UnitOfWork,
        session: Session,
        keys: Sequence[ManagedKey],
        action: Action,
    ) -> tuple[list[Authorisation], dict[str, KeyTemplate]]:
        """One authorisation per template of the keys (its quorum for ``action``)."""
        templates: dict[str, KeyTemplate] = {}
        for key in keys:
            if key.template_id not in templates:
                templates[key.template_id] = self.keys.template_of(uow, key)
        auths = [self.ctx.authorise(uow, session, action, template=t) for t in templates.values()]
        return auths, templates

    def _new_job(
        self,
        uow: UnitOfWork,
        session: Session,
        auth: Authorisation,
        *,
        kind: JobKind,
        keys: Sequence[ManagedKey],
        stores: Sequence[KeyStore],
        reason: str,
        max_attempts: int,
        backoff_seconds: float,
    ) -> DistributionJob:
        if not 1 <= max_attempts <= 100:
            raise BadInput("The number of attempts per target must be from 1 to 100.")
        if not 0 <= backoff_seconds <= 3600:
            raise BadInput("The first retry wait must be from 0 to 3600 seconds.")
        job = DistributionJob(
            id=uuid.uuid4().hex,
            kind=kind,
            created_at=self.ctx.clock.now(),
            created_by=tuple(m.name for m in session.members),
            keys=tuple(JobKey(k.id, k.label, k.version, k.kcv) for k in keys),
            target_ids=tuple(s.id for s in stores),
            reason=reason.strip(),
            max_attempts=max_attempts,
            backoff_seconds=backoff_seconds,
        )
        seq = self.ctx.audit(
            uow,
            auth,
            "distribution.create",
            "distribution-job",
            job.id,
            label=f"{kind.value} {len(keys)} keys to {len(stores)} key stores",
            details={
                "kind": kind.value,
                "keys": ",".join(k.label for k in keys),
                "targets": len(stores),
                **({"reason": job.reason} if job.reason else {}),
            },
            session=session,
        )
        job = replace(job, authorised_seq=seq)
        uow.documents.add(job, self.ctx.seal(job))
        for store in stores:
            d = Delivery(job_id=job.id, target_id=store.id, target_name=store.name)
            uow.documents.add(d, self.ctx.seal(d))
        return job

    def distribute(
        self,
        session: Session,
        key_refs: Sequence[str],
        *,
        targets: Sequence[str] = (),
        tags: Sequence[str] = (),
        reason: str = "",
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
    ) -> DistributionJob:
        """Make (not run) a job pushing these keys to these targets, under the export
        quorum of each key's template, gathered now."""
        if not key_refs:
            raise BadInput("Name at least one key to distribute.")
        if not targets and not tags:
            raise BadInput("Name the key stores to push to (by name or by tag).")
        if len(key_refs) > MAX_KEYS_PER_JOB:
            raise BadInput(f"A job carries at most {MAX_KEYS_PER_JOB} keys.")
        with self.ctx.repository.unit_of_work() as uow:
            keys = _unique(self.keys.find_key(uow, r) for r in key_refs)
            stores = self._choose_targets(uow, targets, tags)
            auths, templates = self._authorise_keys(uow, session, keys, Action.EXPORT_KEY)
            for key in keys:
                check_exportable(
                    key, templates[key.template_id], carried_as="key blocks", key_pairs=True
                )
            _key_pairs_to_file_drops_only(keys, stores)
            self._check_targets_keks(uow, stores)
            _no_kek_to_itself(keys, stores)
            job = self._new_job(
                uow,
                session,
                auths[0],
                kind=JobKind.DISTRIBUTE,
                keys=keys,
                stores=stores,
                reason=reason,
                max_attempts=max_attempts,
                backoff_seconds=backoff_seconds,
            )
            uow.commit()
        self.ctx.checkpoint()
        return job

    def rotation_candidates(
        self, session: Session, *, template: str | None = None, key_refs: Sequence[str] = ()
    ) -> list[ManagedKey]:
        """The keys a bulk rotation would rotate: those named, or every key of the
        template that may be rotated now (no successor yet)."""
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            return self._rotation_keys(uow, template, key_refs)

    def _rotation_keys(
        self, uow: UnitOfWork, template: str | None, key_refs: Sequence[str]
    ) -> list[ManagedKey]:
        if key_refs:
            return _unique(self.keys.find_key(uow, r) for r in key_refs)
        if template is None:
            raise BadInput("Name the template (or the keys) to rotate.")
        tmpl = self.keys.templates.find(uow, template)
        states = tuple(s for s in KeyState if Action.ROTATE_KEY in allowed_actions(s))
        keys: list[ManagedKey] = []
        offset = 0
        while True:
            page = uow.keys.query(
                KeyQuery(states=states, template_id=tmpl.id, limit=1000, offset=offset)
            )
            keys += [
                self.ctx.unseal(s, f"key {s.value.label}")
                for s in page
                if s.value.successor_id is None
            ]
            if len(page) < 1000:
                break
            offset += 1000
        if not keys:
            raise NotFound(f"Template {tmpl.name!r} has no key that can be rotated now.")
        return keys

    def rotate(
        self,
        session: Session,
        *,
        template: str | None = None,
        key_refs: Sequence[str] = (),
        targets: Sequence[str] = (),
        tags: Sequence[str] = (),
        reason: str = "",
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
        progress: Progress | None = None,
    ) -> DistributionJob:
        """Bulk rotation: every rotatable key of a template (or the keys named) gets a
        successor, under the rotation and export quorums gathered once, now; the job then
        pushes the successors to the targets named, or, with none named, to every key
        store that holds a version of one of the rotated keys. Each rotation is recorded
        with the job in one transaction; ``run`` then distributes."""
        with self.ctx.repository.unit_of_work() as uow:
            keys = self._rotation_keys(uow, template, key_refs)
            if len(keys) > MAX_KEYS_PER_JOB:
                raise BadInput(
                    f"{len(keys)} keys: a job rotates at most {MAX_KEYS_PER_JOB}; "
                    "name the keys in smaller groups."
                )
            for key in keys:
                self.keys.check_rotatable(uow, key)
            if targets or tags:
                stores = self._choose_targets(uow, targets, tags)
            else:
                ids = {k.id for k in keys}
                stores = [s for s in self._all_targets(uow) if any(h.key_id in ids for h in s.held)]
            rot_auths, templates = self._authorise_keys(uow, session, keys, Action.ROTATE_KEY)
            self._authorise_keys(uow, session, keys, Action.EXPORT_KEY)
            if stores:
                for key in keys:
                    check_exportable(
                        key, templates[key.template_id], carried_as="key blocks", key_pairs=True
                    )
                _key_pairs_to_file_drops_only(keys, stores)
                self._check_targets_keks(uow, stores)
            job = self._new_job(
                uow,
                session,
                rot_auths[0],
                kind=JobKind.ROTATE,
                keys=keys,
                stores=stores,
                reason=reason,
                max_attempts=max_attempts,
                backoff_seconds=backoff_seconds,
            )
            uow.commit()
        auth_by_template = dict(zip(templates, rot_auths, strict=True))
        self._rotate_keys(session, job, auth_by_template, progress)
        self.ctx.checkpoint()
        return self._job(job.id)

    def _rotate_keys(
        self,
        session: Session,
        job: DistributionJob,
        auths: dict[str, Authorisation],
        progress: Progress | None,
    ) -> None:
        todo = [k for k in job.keys if k.successor_id is None]
        for n, jk in enumerate(todo, 1):
            if progress is not None:
                progress(n - 1, len(todo), f"Rotating {jk.label}")
            with self.ctx.repository.unit_of_work(read_only=True) as uow:
                old = self.keys.find_key(uow, jk.key_id)
            if old.successor_id is not None:
                # Rotated already (by this job before a restart, or by someone else): its
                # successor is what the targets receive.
                with self.ctx.repository.unit_of_work() as uow:
                    new = self.keys.find_key(uow, old.successor_id)
                    self._record_successor(uow, job.id, old, new)
                    uow.commit()
                continue

            def record(uow: UnitOfWork, new: ManagedKey, old: ManagedKey = old) -> None:
                self._record_successor(uow, job.id, old, new)

            self.keys.rotate_authorised(
                auths[old.template_id],
                session,
                old,
                reason=job.reason,
                details={"job": job.id},
                also=record,
            )
        if progress is not None:
            progress(len(todo), len(todo), "Keys rotated")

    def _record_successor(
        self, uow: UnitOfWork, job_id: str, old: ManagedKey, new: ManagedKey
    ) -> None:
        job = self._load_job(uow, job_id)
        job = job.with_successor(old.id, new.id, new.label, new.version, new.kcv)
        uow.documents.update(job, self.ctx.seal(job))

    # --- reading jobs --------------------------------------------------------------------

    def _load_job(self, uow: UnitOfWork, job_id: str) -> DistributionJob:
        sealed = uow.documents.get(DistributionJob, job_id)
        if sealed is None:
            matches = [
                s
                for s in uow.documents.list(DistributionJob, limit=100_000)
                if s.value.id.startswith(job_id.strip().lower())
            ]
            if len(matches) != 1 or not job_id.strip():
                raise NotFound(f"There is no distribution job {job_id!r}.")
            sealed = matches[0]
        return self.ctx.unseal(sealed, f"distribution job {job_id[:12]}")

    def _deliveries(self, uow: UnitOfWork, job_id: str) -> list[Delivery]:
        rows = uow.documents.list(Delivery, subject=job_id, limit=MAX_TARGETS_PER_JOB + 1)
        out = [self.ctx.unseal(s, f"delivery {s.value.target_name}") for s in rows]
        return sorted(out, key=lambda d: d.target_name.lower())

    def _jobs(self, uow: UnitOfWork, *, unfinished: bool) -> list[DistributionJob]:
        if unfinished:
            rows = uow.documents.list(DistributionJob, subject=JobState.RUNNING.value)
        else:
            rows = uow.documents.list(DistributionJob, limit=100_000)
        jobs = [self.ctx.unseal(s, f"distribution job {s.value.id[:12]}") for s in rows]
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)

    def _job(self, job_id: str) -> DistributionJob:
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            return self._load_job(uow, job_id)

    def jobs(self, session: Session, *, unfinished: bool = False) -> list[DistributionJob]:
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            return self._jobs(uow, unfinished=unfinished)

    def report(self, session: Session, job_id: str) -> JobReport:
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            job = self._load_job(uow, job_id)
            return JobReport(job, tuple(self._deliveries(uow, job.id)))

    # --- running jobs --------------------------------------------------------------------

    def wake(self) -> None:
        """End a wait between retries now (a person asked to stop or retry)."""
        self._sleep.set()

    def run(
        self,
        session: Session,
        job_id: str,
        *,
        progress: Progress | None = None,
        stop: Stop | None = None,
    ) -> JobReport:
        """Carry a job through: rotations not yet made (the rotation quorum again, since
        the one the job was made with is gone), then every pending delivery, retrying
        unreachable targets with backoff. Returns when every delivery is done or failed,
        or when ``stop`` says so (the job stays unfinished and can be run again)."""
        stop = stop or (lambda: False)
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            job = self._load_job(uow, job_id)
        if job.state.finished:
            return self.report(session, job.id)
        if not job.rotated:
            with self.ctx.repository.unit_of_work() as uow:
                keys = [self.keys.find_key(uow, k.key_id) for k in job.keys]
                auths, templates = self._authorise_keys(uow, session, keys, Action.ROTATE_KEY)
            self._rotate_keys(session, job, dict(zip(templates, auths, strict=True)), progress)
            job = self._job(job.id)
        connector = self._connector()
        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            while True:
                with self.ctx.repository.unit_of_work(read_only=True) as uow:
                    job = self._load_job(uow, job.id)
                    deliveries = self._deliveries(uow, job.id)
                pending = [d for d in deliveries if d.state is DeliveryState.PENDING]
                finished = len(deliveries) - len(pending)
                if progress is not None:
                    progress(finished, len(deliveries), _progress_text(deliveries))
                if job.state.finished or not pending:
                    break
                if stop():
                    return JobReport(job, tuple(deliveries))
                now = self.ctx.clock.now()
                ready = [d for d in pending if d.ready(now)]
                if not ready:
                    self._wait_until(min(d.next_attempt_at for d in pending if d.next_attempt_at))
                    continue
                batch = ready[: self.workers * 4]
                prepared = self._prepare(job, batch)
                futures = [pool.submit(self._contact, connector, *p) for p in prepared]
                # Each outcome is recorded as soon as its target has answered, while the
                # others are still being contacted.
                for future in as_completed(futures):
                    self._record(session, job, future.result())
                    if stop():
                        break
        if not job.state.finished:
            self._finish(session, job.id)
        self.ctx.checkpoint()
        return self.report(session, job.id)

    def _wait_until(self, when: datetime) -> None:
        seconds = (when - self.ctx.clock.now()).total_seconds()
        if seconds > 0:
            self._sleep.wait(min(seconds, 1.0))  # wake at least every second to look again
            self._sleep.clear()

    def _prepare(
        self, job: DistributionJob, batch: Sequence[Delivery]
    ) -> list[tuple[Delivery, KeyStore | None, list[KeyDelivery], str]]:
        """For each delivery: its target and the keys wrapped under the target's KEK (in
        this thread: the HSM is used by one thread). A problem that no retry can fix (a
        key compromised since the job was made, a target removed) is returned as the
        delivery's fatal error."""
        out: list[tuple[Delivery, KeyStore | None, list[KeyDelivery], str]] = []
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            keys: list[ManagedKey] = []
            problem = ""
            for key_id, _label, _version, _kcv in job.deliverables():
                key = self.keys.find_key(uow, key_id)
                if key.state not in (KeyState.PRE_ACTIVATION, KeyState.ACTIVE):
                    problem = (
                        f"Key {key.label} is {key.state.value} since the job was made; it is "
                        "not delivered."
                    )
                keys.append(key)
            for d in batch:
                try:
                    store = self._target_by_id(uow, d.target_id)
                    kek = self.keys.find_key(uow, store.kek_id)
                    self._check_kek(kek, store.kind)
                except WorkstationError as exc:
                    out.append((d, None, [], problem or exc.message))
                    continue
                if problem:
                    out.append((d, store, [], problem))
                    continue
                try:
                    wrapped = [self._wrap_for(store, kek, key, d) for key in keys]
                except WorkstationError as exc:
                    out.append((d, store, [], exc.message))
                    continue
                out.append((d, store, wrapped, ""))
        return out

    def _wrap_for(
        self, store: KeyStore, kek: ManagedKey, key: ManagedKey, d: Delivery
    ) -> KeyDelivery:
        block = ""
        wrapped = b""
        if store.kind is TargetKind.PKCS11:
            # RFC 5649 AES key wrap with padding: what CKM_AES_KEY_WRAP_PAD unwraps in the
            # target token, under the KEK it holds.
            kek_value = self.interchange.clear_value(kek)
            value = self.interchange.clear_value(key)
            try:
                wrapped = aes_key_wrap_with_padding(bytes(kek_value), bytes(value))
            finally:
                _wipe(kek_value, value)
        else:
            block = self.interchange.key_block(
                key,
                kek,
                version="D" if kek.algorithm.family is KeyFamily.AES else "B",
                key_version=f"{key.version % 100:02d}",
            )
        return KeyDelivery(
            delivery_id=f"{d.id}/{key.id}",
            key_id=key.id,
            label=key.label,
            version=key.version,
            algorithm=key.algorithm.value,
            kcv=key.kcv.upper(),
            key_block=block,
            wrapped=wrapped,
        )

    def _contact(
        self,
        connector: KeyStoreConnector,
        d: Delivery,
        store: KeyStore | None,
        wrapped: list[KeyDelivery],
        problem: str,
    ) -> _Contact:
        """One target: what it holds, then the keys it lacks (in a worker thread; no
        repository or HSM here)."""
        if problem or store is None:
            return _Contact(d, error=problem, fatal=True)
        try:
            target = connector.connect(self.address(store), timeout=self.contact_timeout)
        except TargetError as exc:
            return _Contact(d, error=exc.message)
        try:
            state = target.status()
            outcomes: list[KeyOutcome] = []
            for kd in wrapped:
                held = state.holds(kd.key_id, kd.version)
                if held is not None:
                    receipt = InstallReceipt(installed=False, kcv=held.kcv)
                else:
                    receipt = target.install(kd)
                if receipt.kcv.upper() != kd.kcv:
                    return _Contact(
                        d,
                        state=state,
                        outcomes=tuple(outcomes),
                        error=(
                            f"Key store {store.name} reports check value {receipt.kcv} for "
                            f"{kd.label} version {kd.version}; the key's is {kd.kcv}. Not "
                            "used: report this to a security officer."
                        ),
                        fatal=True,
                    )
                outcomes.append(KeyOutcome(kd.key_id, kd.version, kd.kcv, receipt.installed))
            try:
                state = target.status()
            except TargetError:
                pass  # installed and acknowledged; the next check updates what it holds
            return _Contact(d, state=state, outcomes=tuple(outcomes))
        except TargetError as exc:
            return _Contact(d, error=exc.message)
        except Exception as exc:  # a target's fault must not end the job for the others
            log.exception("key store %s failed", store.name)
            return _Contact(d, error=f"Key store {store.name} failed: {exc}")
        finally:
            target.close()

    def _record(self, session: Session, job: DistributionJob, c: _Contact) -> None:
        """One target's outcome, its audit entries and what it holds, in one transaction."""
        now = self.ctx.clock.now()
        try:
            with self.ctx.repository.unit_of_work() as uow:
                sealed = uow.documents.get(Delivery, c.delivery.id)
                if sealed is None:
                    return
                current = self.ctx.unseal(sealed, f"delivery {c.delivery.target_name}")
                if current.state is not DeliveryState.PENDING:
                    return  # another workstation running the same job recorded it
                if c.error:
                    if c.fatal:
                        new = replace(
                            current,
                            attempts=current.attempts + 1,
                            state=DeliveryState.FAILED,
                            last_error=c.error,
                            next_attempt_at=None,
                            outcomes=c.outcomes,
                            finished_at=now,
                        )
                    else:
                        new = current.failed_contact(
                            now, c.error, job.max_attempts, job.backoff_seconds
                        )
                    if new.state is DeliveryState.FAILED:
                        self.ctx.audit(
                            uow,
                            None,
                            "distribution.target-failed",
                            "key-store",
                            current.target_id,
                            label=current.target_name,
                            details={
                                "job": job.id,
                                "attempts": new.attempts,
                                "error": c.error,
                            },
                            session=session,
                        )
                else:
                    new = replace(
                        current,
                        attempts=current.attempts + 1,
                        state=DeliveryState.DONE,
                        last_error="",
                        next_attempt_at=None,
                        outcomes=c.outcomes,
                        finished_at=now,
                    )
                    labels = {k[0]: k[1] for k in job.deliverables()}
                    for o in c.outcomes:
                        self.ctx.audit(
                            uow,
                            None,
                            "key.distribute",
                            "key",
                            o.key_id,
                            label=labels.get(o.key_id, ""),
                            kcv=o.kcv,
                            details={
                                "job": job.id,
                                "target": current.target_name,
                                "version": o.version,
                                "result": "installed" if o.installed else "already held",
                                "authorised": job.authorised_seq,
                            },
                            session=session,
                        )
                uow.documents.update(new, self.ctx.seal(new))
                self._remember_state(uow, current.target_id, c, now)
                uow.commit()
        except ConflictError:
            log.info("delivery %s recorded by another workstation", c.delivery.id)

    def _remember_state(self, uow: UnitOfWork, target_id: str, c: _Contact, now: datetime) -> None:
        sealed = uow.documents.get(KeyStore, target_id)
        if sealed is None:
            return
        store = self.ctx.unseal(sealed, f"key store {sealed.value.name}")
        if c.state is not None:
            held = {(h.key_id, h.version): h for h in c.state.held}
            new = replace(
                store,
                checked_at=now,
                reachable=True,
                held=tuple(held.values()),
                detail=c.state.detail,
            )
        elif c.error and not c.fatal:
            new = replace(store, checked_at=now, reachable=False, detail=c.error)
        else:
            return
        uow.documents.update(new, self.ctx.seal(new))

    def _finish(self, session: Session, job_id: str) -> None:
        try:
            self._finish_job(session, job_id)
        except ConflictError:
            log.info("job %s finished by another workstation", job_id)

    def _finish_job(self, session: Session, job_id: str) -> None:
        with self.ctx.repository.unit_of_work() as uow:
            job = self._load_job(uow, job_id)
            if job.state.finished:
                return
            deliveries = self._deliveries(uow, job.id)
            if any(d.state is DeliveryState.PENDING for d in deliveries):
                return
            failed = sum(1 for d in deliveries if d.state is DeliveryState.FAILED)
            state = JobState.FAILED if failed else JobState.DONE
            new = replace(job, state=state, finished_at=self.ctx.clock.now())
            uow.documents.update(new, self.ctx.seal(new))
            report = JobReport(new, tuple(deliveries))
            self.ctx.audit(
                uow,
                None,
                "distribution.finish",
                "distribution-job",
                job.id,
                label=f"{job.kind.value}: {report.text()}",
                before=JobState.RUNNING.value,
                after=state.value,
                details={
                    "targets": len(deliveries),
                    "done": report.done,
                    "failed": failed,
                    "installed": report.installed,
                    "already_held": report.already_held,
                },
                session=session,
            )
            uow.commit()

    # --- after a job ---------------------------------------------------------------------

    def retry_failed(self, session: Session, job_id: str) -> DistributionJob:
        """Give the failed targets of a finished job another round of attempts."""
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            job = self._load_job(uow, job_id)
            failed = [d for d in self._deliveries(uow, job.id) if d.state is DeliveryState.FAILED]
            if not failed:
                raise BadInput(f"Job {job.id[:12]} has no failed key store to try again.")
            for d in failed:
                again = replace(
                    d,
                    state=DeliveryState.PENDING,
                    attempts=0,
                    next_attempt_at=None,
                    finished_at=None,
                )
                uow.documents.update(again, self.ctx.seal(again))
            new = replace(job, state=JobState.RUNNING, finished_at=None)
            uow.documents.update(new, self.ctx.seal(new))
            self.ctx.audit(
                uow,
                auth,
                "distribution.retry",
                "distribution-job",
                job.id,
                before=job.state.value,
                after=JobState.RUNNING.value,
                details={"targets": ",".join(d.target_name for d in failed)},
                session=session,
            )
            uow.commit()
        return new

    def cancel(self, session: Session, job_id: str) -> DistributionJob:
        """Stop a job: pending deliveries are not made (what was delivered stays)."""
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            job = self._load_job(uow, job_id)
            if job.state.finished:
                raise BadInput(f"Job {job.id[:12]} is already {job.state.value}.")
            now = self.ctx.clock.now()
            pending = [d for d in self._deliveries(uow, job.id) if d.state is DeliveryState.PENDING]
            for d in pending:
                c = replace(d, state=DeliveryState.CANCELLED, finished_at=now)
                uow.documents.update(c, self.ctx.seal(c))
            new = replace(job, state=JobState.CANCELLED, finished_at=now)
            uow.documents.update(new, self.ctx.seal(new))
            self.ctx.audit(
                uow,
                auth,
                "distribution.cancel",
                "distribution-job",
                job.id,
                before=job.state.value,
                after=JobState.CANCELLED.value,
                details={"pending": len(pending)},
                session=session,
            )
            uow.commit()
        self.wake()
        return new


def _unique(keys: Iterable[ManagedKey]) -> list[ManagedKey]:
    seen: dict[str, ManagedKey] = {}
    for k in keys:
        seen.setdefault(k.id, k)
    return list(seen.values())


def _no_kek_to_itself(keys: Sequence[ManagedKey], stores: Sequence[KeyStore]) -> None:
    ids = {k.id for k in keys}
    for s in stores:
        if s.kek_id in ids:
            raise BadInput(f"Key store {s.name}: a KEK is not sent under itself.")


def _key_pairs_to_file_drops_only(keys: Sequence[ManagedKey], stores: Sequence[KeyStore]) -> None:
    pairs = [k for k in keys if not k.algorithm.is_symmetric]
    others = [s for s in stores if s.kind is not TargetKind.FILE]
    if pairs and others:
        raise BadInput(
            f"Key {pairs[0].label} is a key pair: it goes only to file drops (a TR-31 block "
            f"with its PKCS #8), not to {others[0].kind.display} {others[0].name}. Push it "
            "in a job of its own to file drops, or give a server its key store "
            "(certs-keystore)."
        )


def _where(kind: TargetKind) -> str:
    return {
        TargetKind.AGENT: "host:port of the agent",
        TargetKind.PKCS11: "the PKCS#11 module's path",
        TargetKind.FILE: "the folder",
    }[kind]


def _progress_text(deliveries: Sequence[Delivery]) -> str:
    done = sum(1 for d in deliveries if d.state is DeliveryState.DONE)
    failed = sum(1 for d in deliveries if d.state is DeliveryState.FAILED)
    waiting = sum(1 for d in deliveries if d.state is DeliveryState.PENDING and d.attempts > 0)
    text = f"{done} of {len(deliveries)} key stores done"
    if failed:
        text += f", {failed} failed"
    if waiting:
        text += f", {waiting} to try again"
    return text


__all__ = ["DistributionService", "HeldKey", "JobReport"]
