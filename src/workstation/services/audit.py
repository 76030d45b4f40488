"""The audit log as an auditor uses it: search, verify, export.

Verification runs the same code as the standalone verifier
(``workstation.standalone.audit_verify``), over the repository instead of a file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from workstation.domain.audit import AuditEntry
from workstation.domain.policy import Action
from workstation.domain.records import format_time
from workstation.errors import BadInput
from workstation.services.context import ServiceContext
from workstation.services.session import Session
from workstation.standalone.audit_verify import Report, verify_chain, write_export


class AuditService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def public_key_pem(self) -> bytes:
        key = serialization.load_der_public_key(self.ctx.hsm.audit_public_key())
        return key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def search(
        self,
        session: Session,
        *,
        person: str | None = None,
        action: str | None = None,
        object_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        if not 1 <= limit <= 100_000:
            raise BadInput("Show between 1 and 100,000 entries.")
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_AUDIT)
            return uow.audit.search(
                person=person,
                action=action,
                object_id=object_id,
                since=since,
                until=until,
                limit=limit,
            )

    def verify(
        self, session: Session | None, *, progress: Callable[[int], None] | None = None
    ) -> Report:
        """Verify the whole chain and its checkpoints. ``session`` None is for the
        workstation's own start-up check; people need VIEW_AUDIT."""
        self.ctx.checkpoint(force=True)
        if session is not None:
            with self.ctx.repository.unit_of_work() as uow:
                self.ctx.authorise(uow, session, Action.VIEW_AUDIT)
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            wid = self.ctx.workstation_id(uow)
            public_key = serialization.load_der_public_key(self.ctx.hsm.audit_public_key())
            assert isinstance(public_key, ec.EllipticCurvePublicKey)
            checkpoints = [(c.seq, c.hash, c.at, c.signature) for c in uow.audit.checkpoints()]

            def rows() -> Iterator[tuple[int, bytes, bytes, bytes]]:
                for n, row in enumerate(uow.audit.chain(), start=1):
                    if progress is not None and n % 10_000 == 0:
                        progress(n)
                    yield row

            report = verify_chain(rows(), checkpoints, public_key, wid)
        if session is not None:
            with self.ctx.repository.unit_of_work() as uow:
                self.ctx.audit(
                    uow,
                    None,
                    "audit.verify",
                    "audit",
                    wid,
                    after="ok" if report.ok else "FAILED",
                    details={"entries": report.entries_checked, "problem": report.problem or ""},
                    session=session,
                )
                uow.commit()
        return report

    def export(self, session: Session, path: Path) -> tuple[int, Path]:
        """Write the log, its checkpoints and the public key for the standalone verifier.

        Also writes ``<path>.pub.pem`` (the audit public key). Returns entries written."""
        if path.exists():
            raise BadInput(f"{path} exists already; choose a new file name.")
        if not path.parent.is_dir():
            raise BadInput(f"The folder {path.parent} does not exist.")
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.EXPORT_AUDIT)
            wid = self.ctx.workstation_id(uow)
            self.ctx.audit(
                uow,
                auth,
                "audit.export",
                "audit",
                wid,
                details={"file": str(path)},
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint(force=True)
        pem = self.public_key_pem()
        with self.ctx.repository.unit_of_work(read_only=True) as uow:
            count = uow.audit.count()
            write_export(
                path,
                workstation_id=wid,
                public_key_pem=pem.decode(),
                entries=uow.audit.chain(),
                checkpoints=[(c.seq, c.hash, c.at, c.signature) for c in uow.audit.checkpoints()],
                exported_at=format_time(self.ctx.clock.now()) or "",
            )
        key_path = path.with_name(path.name + ".pub.pem")
        key_path.write_bytes(pem)
        return count, key_path
