"""Repository backups (signed, encrypted), their verification, and recovering a workstation
on a fresh machine from a backup plus the master key backup shares (PCI PIN Security
Requirement 8-2: secret sharing of the keys that protect other keys).

The backup file (``workstation.domain.backup_file``) holds a clear header (what a fresh
workstation needs before any key is back: the master key backup's holders, threshold and
their card certificates; the counts; the audit public key), the repository copy
compressed and encrypted with AES-256-GCM under a data key made in the HSM and kept wrapped
under the master key, and a signature by the HSM audit key. The keys inside the copy stay
wrapped under the master key as always: the backup adds a layer, it never unwraps them.

Restoring: no one can log on before the keys are back (every person and card record is
sealed by the binding key, which the shares restore), so the share holders prove who they
are with their cards against the certificates in the header. Steps: ``restore_repository``
(read and check the file; nothing is written), ``backup_info`` (what the shares must be),
``recover`` (at least two holders' cards, PINs and shares; the workstation keys restored;
THEN the data key unwrapped under the restored master key, the copy decrypted, checked
against the header and restored; every record, the audit chain and every key's check value
verified). A refusal before the keys are restored leaves the workstation as it was. A
failure after it removes the restored repository again; the keys restored into the HSM
token stay (the HSM port deletes no workstation key), and the error says so: the operator
initialises the token afresh before trying again (docs/backup.md).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from workstation.domain import components as comp
from workstation.domain import secret_sharing as sss
from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.audit import AuditActor, AuditEvent
from workstation.domain.backup_file import (
    BackupCounts,
    BackupFile,
    BackupFormatError,
    BackupHeader,
    HolderCard,
    fingerprint,
    read_backup,
    write_backup,
)
from workstation.domain.people import Status
from workstation.domain.policy import Action
from workstation.domain.records import format_time
from workstation.errors import (
    AlreadyInitialised,
    AuthenticationFailed,
    BadInput,
    IntegrityError,
    NotInitialised,
    PolicyRefused,
    WorkstationError,
)
from workstation.files import sync_folder
from workstation.services.ceremonies import MASTER_KEY_BACKUP_META, MasterKeyBackupInfo
from workstation.services.context import ServiceContext
from workstation.services.logon import prove_possession, verify_pin_on_card
from workstation.services.ports import KeyQuery, Repository
from workstation.services.session import Session
from workstation.standalone.audit_verify import verify_chain

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]

# Appended to the message of any failure after the workstation keys were restored.
KEYS_LEFT_IN_HSM = (
    " The workstation keys had already been restored into the HSM token; the repository "
    "was not kept. Before trying again, initialise the HSM token afresh (delete and "
    "re-create it, or use a fresh one): see docs/backup.md, 'When a restore fails'."
)


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
    backup_id: str = ""
    problems: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class BackupResult:
    """A backup written: where, what it holds, and what the operator should know."""

    file: Path
    backup_id: str
    size: int
    counts: BackupCounts
    audit_key_fingerprint: str
    warnings: tuple[str, ...] = ()


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_POSSIBLE = "not possible"


@dataclass(frozen=True)
class BackupCheck:
    name: str  # structure, signature, signer, decryption, audit chain, record seals, counts
    status: CheckStatus
    detail: str


@dataclass(frozen=True)
class BackupReport:
    """The outcome of ``verify_backup``: each check with its status and why."""

    file: Path
    checks: tuple[BackupCheck, ...]
    header: BackupHeader | None = None
    trusted_key: str = ""  # which key the signer was checked against ("" when none)

    @property
    def ok(self) -> bool:
        """Nothing failed (checks that were not possible do not fail)."""
        return all(c.status is not CheckStatus.FAILED for c in self.checks)

    @property
    def authenticated(self) -> bool:
        """The signature verified against a key trusted independently of the file."""
        return any(c.name == "signer" and c.status is CheckStatus.PASSED for c in self.checks)

    @property
    def verified(self) -> bool:
        """Intact and authentic: the verdict an auditor relies on."""
        return self.ok and self.authenticated

    def check(self, name: str) -> BackupCheck | None:
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        h = self.header
        return {
            "file": str(self.file),
            "verified": self.verified,
            "ok": self.ok,
            "authenticated": self.authenticated,
            "trusted_key": self.trusted_key,
            "backup_id": h.backup_id if h else None,
            "made_at": h.made_at if h else None,
            "made_by": list(h.made_by) if h else None,
            "workstation_id": h.workstation_id if h else None,
            "audit_key_fingerprint": h.audit_key_fingerprint if h else None,
            "counts": h.counts.to_record() if h else None,
            "checks": [
                {"name": c.name, "status": c.status.value, "detail": c.detail} for c in self.checks
            ],
        }

    def lines(self) -> list[str]:
        out = [f"Backup        {self.file}"]
        if self.header is not None:
            h = self.header
            n = h.counts
            out += [
                f"Backup id     {h.backup_id}, made {h.made_at} by {', '.join(h.made_by)}",
                f"Workstation   {h.workstation_id}",
                f"Holds         {n.keys} keys, {n.people} people, {n.cards} cards, "
                f"{n.audit_entries} audit entries",
                f"Signed by     audit key SHA-256 {h.audit_key_fingerprint}",
            ]
        for c in self.checks:
            out.append(f"{c.name:<13} {c.status.value.upper()}: {c.detail}")
        if self.verified:
            out.append("Result        VERIFIED: intact and signed by the trusted audit key.")
        elif self.ok:
            out.append(
                "Result        NOT VERIFIED: intact as far as checked, but no trusted key "
                "confirmed who signed it (give --audit-key-fingerprint)."
            )
        else:
            failed = next(c for c in self.checks if c.status is CheckStatus.FAILED)
            out.append(f"Result        FAILED: {failed.name}: {failed.detail}")
        return out


@dataclass(frozen=True)
class _Pending:
    """A backup read by ``restore_repository`` for the ``recover`` that follows."""

    backup: BackupFile
    info: MasterKeyBackupInfo


class RecoveryService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._pending: _Pending | None = None
        self._restored = False  # the repository was restored by this recovery

    # --- making a backup -------------------------------------------------------------------

    def backup_repository(self, session: Session, target: Path) -> BackupResult:
        """Write a signed, encrypted backup of the repository to ``target`` (a new file),
        audited. The plain copy exists only in a private temporary folder while it is
        encrypted; ``target`` appears whole (a temporary file renamed) or not at all."""
        ctx = self.ctx
        target = Path(target).expanduser().absolute()
        if target.exists():
            raise BadInput(f"{target} exists already; choose a new file name.")
        if not target.parent.is_dir():
            raise BadInput(f"The folder {target.parent} does not exist.")
        open_copy = self._opener()
        with ctx.repository.unit_of_work() as uow:
            ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            wid = ctx.workstation_id(uow)
            text = uow.meta.get(MASTER_KEY_BACKUP_META)
            master: dict[str, Any] | None = json.loads(text) if text else None
            holder_cards: list[HolderCard] = []
            if text is not None:
                info = MasterKeyBackupInfo.from_json(text)
                for person_id in info.holder_ids:
                    for sealed in uow.cards.for_person(person_id):
                        card = ctx.unseal(sealed, "a master key backup holder's card")
                        if card.status is Status.ACTIVE:
                            holder_cards.append(HolderCard(person_id, card.id, card.certificate))
        warnings: list[str] = []
        if master is None:
            warnings.append(
                "The master key has never been backed up by shares: this backup can be "
                "verified here, but not restored on a fresh workstation until it is "
                "('workstation-cli master-key backup')."
            )
        # Every entry in the copy is covered by a signed checkpoint.
        ctx.checkpoint(force=True)
        backup_id = str(uuid.uuid4())
        partial: Path | None = None
        data_key = bytearray()
        try:
            with _private_folder("kcw-backup-") as work:
                plain = work / "repository.db"
                ctx.repository.backup(plain)
                copy = open_copy(plain)
                try:
                    counts, schema_version, _ = _counts(copy)
                finally:
                    copy.close()
                generated = ctx.hsm.generate_key(KeyAlgorithm.AES_256)
                data_key = ctx.hsm.export_clear_key(KeyAlgorithm.AES_256, generated.wrapped)
                header = BackupHeader(
                    backup_id=backup_id,
                    made_at=format_time(ctx.clock.now()) or "",
                    made_by=tuple(m.name for m in session.members),
                    workstation_id=wid,
                    schema_version=schema_version,
                    counts=counts,
                    master_key_backup=master,
                    holder_cards=tuple(holder_cards),
                    data_key_wrapped=generated.wrapped,
                    data_key_kcv=generated.kcv.hex().upper(),
                    nonce=bytes(ctx.hsm.random_bytes(12)),
                    plain_size=plain.stat().st_size,
                    audit_public_key=ctx.hsm.audit_public_key(),
                )
                partial = target.with_name(f".{target.name}.{backup_id[:8]}.partial")
                fd = os.open(partial, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
                with os.fdopen(fd, "w+b") as out, plain.open("rb") as source:
                    write_backup(out, header, source, data_key, ctx.hsm.sign_audit)
                    os.fsync(out.fileno())
            _wipe(data_key)
            if target.exists():
                raise BadInput(f"{target} appeared while the backup was written; choose another.")
            os.replace(partial, target)
            partial = None
            sync_folder(target.parent)
        except OSError as exc:
            raise WorkstationError(
                f"The backup {target} could not be written: {exc.strerror or exc}. Nothing "
                "was left behind.",
                detail=repr(exc),
            ) from None
        finally:
            _wipe(data_key)
            if partial is not None:
                partial.unlink(missing_ok=True)
        size = target.stat().st_size
        try:
            with ctx.repository.unit_of_work() as uow:
                ctx.audit(
                    uow,
                    None,
                    "repository.backup",
                    "repository",
                    wid,
                    label=target.name,
                    details={
                        "file": str(target),
                        "backup_id": backup_id,
                        "size": size,
                        "audit_key_sha256": header.audit_key_fingerprint,
                        **counts.to_record(),
                    },
                    session=session,
                )
                uow.commit()
        except BaseException:
            target.unlink(missing_ok=True)  # an unaudited backup is not left behind
            raise
        ctx.checkpoint(force=True)
        log.info("repository backed up to %s (backup %s)", target, backup_id)
        return BackupResult(
            file=target,
            backup_id=backup_id,
            size=size,
            counts=counts,
            audit_key_fingerprint=header.audit_key_fingerprint,
            warnings=tuple(warnings),
        )

    # --- verifying a backup ----------------------------------------------------------------

    def verify_backup(
        self,
        backup_file: Path,
        *,
        expected_audit_key: bytes | None = None,
        progress: Progress | None = None,
    ) -> BackupReport:
        """Check a backup without restoring it; nothing is written anywhere.

        Always: its structure, and its signature against the audit key in its header.
        The signer: against ``expected_audit_key`` when given (the key's SHA-256
        fingerprint, 32 bytes, or the SubjectPublicKeyInfo DER itself), else against this
        workstation's own audit key when it has one. The contents, when this workstation
        holds the master key the backup was made under (the same workstation or its
        disaster-recovery twin): decrypted into a private temporary folder, the audit chain,
        every record's seal and key check value, and the counts against the header."""
        path = Path(backup_file).expanduser()
        checks: list[BackupCheck] = []
        try:
            backup = read_backup(path)
        except BackupFormatError as exc:
            checks.append(BackupCheck("structure", CheckStatus.FAILED, exc.user_message()))
            for name in ("signature", "signer", "decryption"):
                checks.append(
                    BackupCheck(name, CheckStatus.NOT_POSSIBLE, "the file's structure is broken")
                )
            return BackupReport(file=path, checks=tuple(checks))
        header = backup.header
        checks.append(
            BackupCheck(
                "structure",
                CheckStatus.PASSED,
                f"backup format 1: a {len(backup.header_bytes)}-byte header, "
                f"{backup.ciphertext_length} bytes encrypted, a signature",
            )
        )
        intact = backup.signature_valid(header.audit_public_key)
        checks.append(
            BackupCheck(
                "signature",
                CheckStatus.PASSED if intact else CheckStatus.FAILED,
                "verifies with the audit key in the header: the file is as it was signed"
                if intact
                else "does not verify with the audit key in the header: the file was changed "
                "after it was signed",
            )
        )
        own_key = self.ctx.hsm.audit_public_key() if self.ctx.hsm.has_workstation_keys() else None
        trusted_key, signer = self._signer_check(backup, intact, expected_audit_key, own_key)
        checks.append(signer)
        checks += self._content_checks(backup, intact, own_key, progress)
        return BackupReport(file=path, checks=tuple(checks), header=header, trusted_key=trusted_key)

    def _signer_check(
        self,
        backup: BackupFile,
        intact: bool,
        expected: bytes | None,
        own_key: bytes | None,
    ) -> tuple[str, BackupCheck]:
        signer_fp = backup.header.audit_key_fingerprint
        if expected is not None:
            anchor = "the audit key fingerprint given"
            wanted = expected.hex() if len(expected) == 32 else fingerprint(expected)
        elif own_key is not None:
            anchor = "this workstation's audit key"
            wanted = fingerprint(own_key)
        else:
            return "", BackupCheck(
                "signer",
                CheckStatus.NOT_POSSIBLE,
                "no trusted key: this workstation has no audit key and no fingerprint was "
                "given, and the key in the file proves nothing about who made it",
            )
        if wanted != signer_fp:
            return anchor, BackupCheck(
                "signer",
                CheckStatus.FAILED,
                f"signed by the audit key with fingerprint {signer_fp}, not by {anchor} ({wanted})",
            )
        if not intact:
            return anchor, BackupCheck(
                "signer",
                CheckStatus.FAILED,
                f"the header names {anchor}, but the signature does not verify with it",
            )
        return anchor, BackupCheck("signer", CheckStatus.PASSED, f"signed by {anchor}")

    def _content_checks(
        self,
        backup: BackupFile,
        intact: bool,
        own_key: bytes | None,
        progress: Progress | None,
    ) -> list[BackupCheck]:
        header = backup.header
        ctx = self.ctx

        def not_possible(why: str) -> list[BackupCheck]:
            return [BackupCheck("decryption", CheckStatus.NOT_POSSIBLE, why)]

        if own_key is None:
            return not_possible(
                "this workstation holds no master key; only the workstation that made the "
                "backup (or its disaster-recovery twin) opens it"
            )
        if not intact:
            return not_possible("the signature does not verify, so the content is not opened")
        if own_key != header.audit_public_key:
            return not_possible(
                "this workstation's keys are not the ones the backup was made with; only "
                "the workstation that made it (or its disaster-recovery twin) opens it"
            )
        try:
            kcv = ctx.hsm.key_check_value(KeyAlgorithm.AES_256, header.data_key_wrapped)
        except IntegrityError:
            return not_possible("its data key does not unwrap under this workstation's master key")
        if kcv.hex().upper() != header.data_key_kcv.upper():
            return [
                BackupCheck(
                    "decryption",
                    CheckStatus.FAILED,
                    f"the data key's check value is {kcv.hex().upper()}, the header says "
                    f"{header.data_key_kcv}",
                )
            ]
        open_copy = self._opener()
        checks: list[BackupCheck] = []
        with _private_folder("kcw-verify-") as work:
            plain = work / "repository.db"
            try:
                size = self._decrypt(backup, plain)
            except IntegrityError as exc:
                return [BackupCheck("decryption", CheckStatus.FAILED, exc.user_message())]
            checks.append(
                BackupCheck(
                    "decryption",
                    CheckStatus.PASSED,
                    f"decrypted with this workstation's master key: {size} bytes, AES-GCM "
                    "tag verified",
                )
            )
            copy = open_copy(plain)
            try:
                counts, _, wid = _counts(copy)
                checks.append(_chain_check(copy, own_key, header.workstation_id, wid))
                records, keys, problems = _check_records(ctx, copy, progress)
                checks.append(
                    BackupCheck(
                        "record seals",
                        CheckStatus.FAILED if problems else CheckStatus.PASSED,
                        "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
                        if problems
                        else f"{records} records' seals verify; {keys} keys open and match "
                        "their check values",
                    )
                )
                checks.append(_counts_check(header.counts, counts))
            finally:
                copy.close()
        return checks

    # --- restoring onto a fresh workstation ----------------------------------------------

    def restore_repository(self, backup_file: Path) -> MasterKeyBackupInfo:
        """Read a backup for recovery on this fresh workstation and return what the master
        key backup needs. Checks the file's structure and signature (against the key in
        its header: the restored audit key is compared with it later); writes nothing.
        Refuses if this workstation has keys or a repository, or if the backup can be
        recovered by fewer than two people."""
        self._pending = None
        if self.ctx.hsm.has_workstation_keys():
            raise AlreadyInitialised(
                "This workstation's HSM token already holds workstation keys; recovery is "
                "done on a fresh token."
            )
        if self.ctx.repository.exists():
            raise AlreadyInitialised(
                "This workstation already has a repository; a backup is restored only onto a "
                "fresh workstation."
            )
        backup = self._read_signed(Path(backup_file).expanduser())
        header = backup.header
        if header.master_key_backup is None:
            raise NotInitialised(
                "This repository backup holds no master key backup: the master key was "
                "never backed up by shares, so it cannot be recovered from them."
            )
        info = MasterKeyBackupInfo.from_json(json.dumps(header.master_key_backup))
        needed = info.count if info.scheme == "components" else info.threshold
        if needed < 2:
            raise PolicyRefused(
                f"Backup set {info.set_id} is recovered by {needed} person alone; restoring "
                "a workstation needs at least two share holders (dual control: no one person "
                "may recover the master key). Back the master key up again with a threshold "
                "of two or more and make a new repository backup. Nothing was restored."
            )
        self._pending = _Pending(backup, info)
        self._restored = False
        return info

    def backup_info(self) -> MasterKeyBackupInfo:
        """The master key backup of the backup read by ``restore_repository``."""
        if self._pending is None:
            raise BadInput("No backup has been read for recovery; read one first.")
        return self._pending.info

    def abandon(self) -> None:
        """Forget the backup read for recovery and remove a repository restored from it
        whose recovery did not go through."""
        self._pending = None
        if self._restored:
            self.ctx.repository.remove()
            self._restored = False

    def recover(
        self, offers: Sequence[ShareOffer], progress: Progress | None = None
    ) -> RecoveryReport:
        """Check each holder's card, combine the shares, restore the workstation keys into
        the HSM, then decrypt and restore the repository and verify everything. Wipes every
        PIN and share value."""
        pending = self._pending
        try:
            try:
                if pending is None:
                    raise BadInput("No backup has been read for recovery; read one first.")
                backup = self._read_signed(pending.backup.path)
                if backup.digest != pending.backup.digest:
                    raise IntegrityError(
                        f"The backup {backup.path} changed since it was read. Nothing was restored."
                    )
                transport_key, info, holders = self._combine(offers, pending)
            finally:
                for o in offers:
                    _wipe(o.pin)
                    _wipe(o.value)
            try:
                self.ctx.hsm.restore_workstation_keys(transport_key, info.blob)
            finally:
                _wipe(transport_key)
            try:
                self._restore_content(backup)
                return self._verify(info, holders, backup.header, progress)
            except BaseException as exc:
                self.abandon()
                if isinstance(exc, WorkstationError):
                    exc.message = exc.message + KEYS_LEFT_IN_HSM
                    exc.args = (exc.message,)
                raise
        finally:
            self._pending = None
            self._restored = False

    # --- steps ---------------------------------------------------------------------------

    def _opener(self) -> Callable[[Path], Repository]:
        opener = self.ctx.open_repository_copy
        if opener is None:
            raise WorkstationError(
                "This workstation was built without a way to open repository copies "
                "(open_repository_copy); backups cannot be made or checked."
            )
        return opener

    @staticmethod
    def _read_signed(path: Path) -> BackupFile:
        backup = read_backup(path)
        if not backup.signature_valid(backup.header.audit_public_key):
            raise IntegrityError(
                f"The backup {path.name} does not verify: its signature does not match the "
                "audit key in its header, so the file was changed after it was signed. "
                "Nothing was restored."
            )
        return backup

    def _decrypt(self, backup: BackupFile, plain: Path) -> int:
        """Unwrap the data key under the master key in the HSM and decrypt the copy into
        ``plain`` (a new file in a private folder). The clear data key is wiped."""
        data_key = self.ctx.hsm.export_clear_key(
            KeyAlgorithm.AES_256, backup.header.data_key_wrapped
        )
        try:
            fd = os.open(plain, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            with os.fdopen(fd, "wb") as out:
                return backup.decrypt_to(out, data_key)
        finally:
            _wipe(data_key)

    def _restore_content(self, backup: BackupFile) -> None:
        ctx = self.ctx
        header = backup.header
        restored_key = ctx.hsm.audit_public_key()
        if restored_key != header.audit_public_key:
            raise IntegrityError(
                "The audit key restored from the shares (SHA-256 "
                f"{fingerprint(restored_key)}) is not the key that signed this backup "
                f"({header.audit_key_fingerprint}): the backup and the shares belong to "
                "different workstations."
            )
        kcv = ctx.hsm.key_check_value(KeyAlgorithm.AES_256, header.data_key_wrapped)
        if kcv.hex().upper() != header.data_key_kcv.upper():
            raise IntegrityError(
                f"The backup's data key has check value {kcv.hex().upper()} under the "
                f"restored master key; the header says {header.data_key_kcv}."
            )
        with _private_folder("kcw-restore-") as work:
            plain = work / "repository.db"
            self._decrypt(backup, plain)
            ctx.repository.restore(plain)
            self._restored = True

    def _combine(
        self, offers: Sequence[ShareOffer], pending: _Pending
    ) -> tuple[bytearray, MasterKeyBackupInfo, list[tuple[str, str, str]]]:
        info = pending.info
        cards = pending.backup.header.holder_cards
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
                card_id = self._authenticate(offer, person_id, cards)
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
            if len({pid for pid, _, _ in holders}) < 2:
                raise PolicyRefused(
                    "Restoring a workstation needs at least two different share holders "
                    "(dual control). Nothing was restored."
                )
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

    def _authenticate(self, offer: ShareOffer, person_id: str, cards: Sequence[HolderCard]) -> str:
        """The card in the offer's reader is one of the holder's cards in the backup header
        (its record is checked against its seal once the keys are back), and it knows the
        PIN."""
        connection = self.ctx.readers.connect(offer.reader)
        try:
            der = connection.authentication_certificate()
            card = next(
                (c for c in cards if c.person_id == person_id and c.certificate == der), None
            )
            if card is None:
                raise AuthenticationFailed(
                    f"The card in {offer.reader} is not one of {offer.holder}'s cards."
                )
            verify_pin_on_card(connection, offer.pin)
            prove_possession(connection, der)
            return card.card_id
        finally:
            connection.close()

    def _verify(
        self,
        info: MasterKeyBackupInfo,
        holders: Sequence[tuple[str, str, str]],
        header: BackupHeader,
        progress: Progress | None,
    ) -> RecoveryReport:
        ctx = self.ctx
        problems: list[str] = []
        counts, _, wid = _counts(ctx.repository)
        if wid != header.workstation_id:
            problems.append(
                f"The repository is of workstation {wid}, the header says {header.workstation_id}."
            )
        counted = _counts_check(header.counts, counts)
        if counted.status is CheckStatus.FAILED:
            problems.append(f"Its contents differ from the header: {counted.detail}.")
        with ctx.repository.unit_of_work(read_only=True) as uow:
            for person_id, name, card_id in holders:
                person = uow.people.get(person_id)
                card = uow.cards.get(card_id)
                if person is None or card is None:
                    problems.append(f"The records of {name} or their card are missing.")
                    continue
                ctx.unseal(person, f"person {name}")
                ctx.unseal(card, f"the card of {name}")
                listed = next(c for c in header.holder_cards if c.card_id == card_id)
                if card.value.certificate != listed.certificate:
                    problems.append(f"The card of {name} differs from the backup header's.")
        records, keys_checked, found = _check_records(ctx, ctx.repository, progress)
        problems += found
        from workstation.services.audit import AuditService

        report = AuditService(ctx).verify(None)
        if not report.ok:
            problems.append(f"The audit log does not verify: {report.summary()}")
        if problems:
            raise IntegrityError(
                "The repository does not verify with the restored keys: "
                + " ".join(problems[:5])
                + (" ..." if len(problems) > 5 else "")
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
                        "backup_id": header.backup_id,
                        "backup_made_at": header.made_at,
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
            backup_id=header.backup_id,
        )


# --- helpers over any repository (the live one or a copy) -------------------------------------


def _counts(repository: Repository) -> tuple[BackupCounts, int, str]:
    """What a repository holds, its schema version and its workstation id."""
    with repository.unit_of_work(read_only=True) as uow:
        last = uow.audit.last()
        counts = BackupCounts(
            keys=uow.keys.count(KeyQuery()),
            people=len(uow.people.list()),
            cards=len(uow.cards.list()),
            audit_entries=uow.audit.count(),
            last_audit_seq=last.seq if last else 0,
            last_audit_hash=last.hash.hex() if last else "",
        )
        schema = uow.meta.get("schema_version")
        wid = uow.meta.get("workstation_id")
    if wid is None:
        raise NotInitialised("The repository copy has no workstation id: it is not initialised.")
    return counts, int(schema or 0), wid


def _counts_check(expected: BackupCounts, found: BackupCounts) -> BackupCheck:
    wanted, have = expected.to_record(), found.to_record()
    differ = [
        f"{k}: header {wanted[k]!r}, copy {have[k]!r}" for k in wanted if wanted[k] != have[k]
    ]
    if differ:
        return BackupCheck("counts", CheckStatus.FAILED, "; ".join(differ))
    return BackupCheck(
        "counts",
        CheckStatus.PASSED,
        f"{found.keys} keys, {found.people} people, {found.cards} cards, "
        f"{found.audit_entries} audit entries (last {found.last_audit_seq}) as the header says",
    )


def _chain_check(
    repository: Repository, public_key_der: bytes, header_wid: str, wid: str
) -> BackupCheck:
    """The copy's audit chain and signed checkpoints, by the auditor's verifier."""
    if wid != header_wid:
        return BackupCheck(
            "audit chain",
            CheckStatus.FAILED,
            f"the copy is of workstation {wid}, the header says {header_wid}",
        )
    key = serialization.load_der_public_key(public_key_der)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    with repository.unit_of_work(read_only=True) as uow:
        checkpoints = [(c.seq, c.hash, c.at, c.signature) for c in uow.audit.checkpoints()]
        report = verify_chain(uow.audit.chain(), checkpoints, key, wid)
    if not report.ok:
        return BackupCheck("audit chain", CheckStatus.FAILED, report.problem or "does not verify")
    return BackupCheck(
        "audit chain",
        CheckStatus.PASSED,
        f"{report.entries_checked} entries chained, {report.checkpoints_valid} signed "
        f"checkpoints valid, {report.uncovered_entries} entries after the last one",
    )


def _check_records(
    ctx: ServiceContext, repository: Repository, progress: Progress | None
) -> tuple[int, int, list[str]]:
    """Every sealed record's seal (the binding key in this HSM) and every stored secret
    key's check value (unwrapped under this HSM's master key): (records, keys, problems)."""
    problems: list[str] = []
    records = 0
    keys_checked = 0
    with repository.unit_of_work(read_only=True) as uow:
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
                            f"Key {key.label}: the HSM computes {kcv}, the record says {key.kcv}."
                        )
                        continue
                    keys_checked += 1
                if progress is not None:
                    progress(offset, total, f"Verified {key.label}")
    return records, keys_checked, problems


@contextmanager
def _private_folder(prefix: str) -> Iterator[Path]:
    """A temporary folder only this user reads (mode 0700), removed with everything in it
    however the block ends: the plain repository copy lives only here."""
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        yield Path(name)
