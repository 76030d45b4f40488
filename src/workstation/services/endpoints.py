"""TLS endpoints: the certificates servers present, discovered, enrolled and watched; and
key stores (PKCS #12, PEM) for a key pair whose renewed certificate a server needs.

Discovery connects to each target (through the ``TlsProbe`` port, a few at a time), keeps
the chain the server presented without judging it, and says for each what it found: the
certificate's facts, the days left, whether the certificate carries one of the
workstation's own key pairs, and whether the endpoint is enrolled and its certificate
changed since. A run is audited once, under the inventory quorum. Enrolling keeps an
endpoint as a sealed document that falls due when its certificate expires (the expiry
service reads ``due_items``); a refresh probes every enrolled endpoint again.

A key store carries a key pair's private key out of the HSM, so it is a key export: the
template's export quorum, ``check_exportable`` with key pairs allowed, a current (not
expired) certificate for the key pair, and a password of at least 12 characters; the clear
PKCS #8 is wiped once encrypted, and the export is audited without the password.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.serialization import pkcs12

from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.certificates import CertificateRecord, CertificateStatus
from workstation.domain.endpoints import (
    MAX_TARGETS,
    Endpoint,
    Target,
    check_owners,
    parse_target,
)
from workstation.domain.expiry import DueItem, days_left
from workstation.domain.keys import KeyEvent, ManagedKey
from workstation.domain.policy import Action
from workstation.domain.templates import KeyTemplate
from workstation.errors import (
    BadInput,
    EndpointError,
    IntegrityError,
    NotFound,
    PolicyRefused,
)
from workstation.services.context import Authorisation, ServiceContext
from workstation.services.keys import Cancelled, KeyService, Progress, check_exportable
from workstation.services.ports import KeyQuery, PresentedChain, TlsProbe, UnitOfWork
from workstation.services.session import Session

log = logging.getLogger(__name__)

__all__ = [
    "KEYSTORE_FORMATS",
    "KEYSTORE_KDF_ROUNDS",
    "MAX_PASSWORD_BYTES",
    "MIN_PASSWORD_CHARS",
    "Discovery",
    "EndpointService",
    "KeystoreChoice",
    "check_keystore_password",
    "days_left",
]

PARALLEL_PROBES = 16  # connections at a time; each waits on the network, not on the HSM
STOP_CHECK = 0.2  # seconds between looks at a cancel or a locked session while probing
MAX_TIMEOUT = 60.0  # seconds, per target
AUDIT_LISTED = 200  # targets named in one discovery's audit entry
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_BYTES = 1024
# PBKDF2-HMAC-SHA256 rounds for the key store's encryption: NIST SP 800-132 5.2 asks for as
# many as the users tolerate (at least 1,000); OWASP's password storage guidance (2023)
# gives 600,000 for PBKDF2-HMAC-SHA256. A key store is opened rarely, so we take that.
KEYSTORE_KDF_ROUNDS = 600_000
KEYSTORE_FORMATS = {"pkcs12": "PKCS #12", "pem": "PEM bundle"}

_CURVES: dict[str, KeyAlgorithm] = {
    "secp256r1": KeyAlgorithm.EC_P256,
    "secp384r1": KeyAlgorithm.EC_P384,
    "secp521r1": KeyAlgorithm.EC_P521,
}
_RSA: dict[int, KeyAlgorithm] = {
    2048: KeyAlgorithm.RSA_2048,
    3072: KeyAlgorithm.RSA_3072,
    4096: KeyAlgorithm.RSA_4096,
}


@dataclass(frozen=True)
class _Leaf:
    """What the workstation reads from a server's certificate."""

    subject: str
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    fingerprint: str
    spki: bytes
    algorithm: KeyAlgorithm | None  # as a managed key pair would have it, if one could
    dns_names: tuple[str, ...]


def _read_leaf(der: bytes) -> _Leaf:
    try:
        cert = x509.load_der_x509_certificate(der)
        public = cert.public_key()
        spki = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns = tuple(san.get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            dns = ()
        subject = cert.subject.rfc4514_string()
        issuer = cert.issuer.rfc4514_string()
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    except ValueError as e:
        raise BadInput(f"the server's certificate could not be read ({e})") from None
    algorithm: KeyAlgorithm | None = None
    if isinstance(public, ec.EllipticCurvePublicKey):
        algorithm = _CURVES.get(public.curve.name)
    elif isinstance(public, rsa.RSAPublicKey):
        algorithm = _RSA.get(public.key_size)
    return _Leaf(
        subject=subject,
        issuer=issuer,
        serial=f"{cert.serial_number:X}",
        not_before=not_before,
        not_after=not_after,
        fingerprint=hashlib.sha256(der).hexdigest().upper(),
        spki=spki,
        algorithm=algorithm,
        dns_names=dns,
    )


def _pem(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()


def _ders(chain_pem: str) -> list[bytes]:
    return [
        c.public_bytes(serialization.Encoding.DER)
        for c in x509.load_pem_x509_certificates(chain_pem.encode())
    ]


def _wipe(*buffers: bytearray | None) -> None:
    for b in buffers:
        if b is not None:
            b[:] = bytes(len(b))


@dataclass(frozen=True)
class Discovery:
    """What one target presented (or why nothing was seen), as a person reads it."""

    target: Target
    seen_at: datetime
    chain: tuple[bytes, ...] = ()  # DER, the server's certificate first
    protocol: str = ""
    cipher: str = ""
    certificate_subject: str = ""
    issuer: str = ""
    serial: str = ""
    not_before: datetime | None = None
    not_after: datetime | None = None
    fingerprint: str = ""
    dns_names: tuple[str, ...] = ()
    key_id: str | None = None  # the managed key pair the certificate carries
    key_label: str | None = None
    key_state: str | None = None
    error: str | None = None  # why the target was not seen
    enrolled_fingerprint: str | None = None  # the enrolled endpoint's, if enrolled
    days_left: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.chain)

    @property
    def enrolled(self) -> bool:
        return self.enrolled_fingerprint is not None

    @property
    def changed(self) -> bool:
        """Enrolled, and the server now presents another certificate."""
        return self.ok and self.enrolled and self.enrolled_fingerprint != self.fingerprint

    @property
    def self_signed(self) -> bool:
        return self.ok and len(self.chain) == 1 and self.certificate_subject == self.issuer

    @property
    def expired(self) -> bool:
        return self.days_left is not None and self.not_after is not None and self.days_left < 0


@dataclass(frozen=True)
class KeystoreChoice:
    """A key pair with a current certificate, and why it cannot leave in a key store
    (None when it can)."""

    key: ManagedKey
    template: str  # its template's name
    certificate: CertificateRecord
    refusal: str | None


class EndpointService:
    def __init__(self, ctx: ServiceContext, keys: KeyService) -> None:
        self.ctx = ctx
        self.keys = keys

    # --- probing ---------------------------------------------------------------------------

    def _probe(self) -> TlsProbe:
        if self.ctx.tls_probe is None:
            raise EndpointError("TLS endpoint discovery is not set up on this workstation.")
        return self.ctx.tls_probe

    @staticmethod
    def _targets(targets: Sequence[Target | str]) -> list[Target]:
        parsed = [t if isinstance(t, Target) else parse_target(t) for t in targets]
        if not parsed:
            raise BadInput("Give at least one target (host:port).")
        if len(parsed) > MAX_TARGETS:
            raise BadInput(f"{len(parsed)} targets; at most {MAX_TARGETS} in one run.")
        seen: set[tuple[str, int]] = set()
        for t in parsed:
            if (t.host, t.port) in seen:
                raise BadInput(f"Target {t.text} is named twice.")
            seen.add((t.host, t.port))
        return parsed

    @staticmethod
    def _check_timeout(timeout: float) -> None:
        if not 0 < timeout <= MAX_TIMEOUT:
            raise BadInput(f"The timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds.")

    def _fetch_all(
        self,
        targets: list[Target],
        *,
        timeout: float,
        session: Session,
        auth: Authorisation,
        progress: Progress | None,
        cancelled: Cancelled | None,
    ) -> tuple[list[PresentedChain | str], str | None]:
        """Each target's chain, or the words of its failure; and why the run stopped early
        (cancelled, the session locked), if it did: the targets not probed say so."""
        probe = self._probe()
        results: list[PresentedChain | str | None] = [None] * len(targets)
        stopped: str | None = None
        pool = ThreadPoolExecutor(
            max_workers=min(PARALLEL_PROBES, len(targets)), thread_name_prefix="kcw-tls"
        )
        try:
            futures: dict[Future[PresentedChain], int] = {
                pool.submit(probe.fetch, t.host, t.port, timeout=timeout, server_name=t.sni): i
                for i, t in enumerate(targets)
            }
            pending = set(futures)
            while pending and stopped is None:
                # Woken at least every STOP_CHECK seconds, so a cancel or a locked session
                # stops the run at once rather than after the slowest server's timeout.
                finished, pending = wait(pending, timeout=STOP_CHECK, return_when=FIRST_COMPLETED)
                for future in finished:
                    i = futures[future]
                    try:
                        results[i] = future.result()
                    except EndpointError as e:
                        results[i] = e.user_message()
                    except Exception as e:
                        log.exception("probing %s failed", targets[i].text)
                        results[i] = f"{targets[i].text}: the probe failed ({e})."
                if finished and progress is not None:
                    progress(len(targets) - len(pending), len(targets))
                if cancelled is not None and cancelled():
                    stopped = "cancelled"
                else:
                    stopped = self.ctx.still_met(session, auth)
        finally:
            # Probes still running end by their own timeout; their answers are not used.
            pool.shutdown(wait=False, cancel_futures=True)
        return [
            r if r is not None else f"{t.text}: not probed ({stopped or 'stopped'})."
            for r, t in zip(results, targets, strict=True)
        ], stopped

    def _key_for(self, uow: UnitOfWork, leaf: _Leaf) -> ManagedKey | None:
        """The managed key pair whose public key the certificate carries, if there is one
        (looked up by the key pair's check value: SHA-256 of its public key, 3 bytes)."""
        if leaf.algorithm is None:
            return None
        kcv = hashlib.sha256(leaf.spki).digest()[:3].hex().upper()
        found = [
            s
            for s in uow.keys.query(KeyQuery(algorithm=leaf.algorithm, kcv=kcv, limit=100))
            if s.value.public_key == leaf.spki
        ]
        if not found:
            return None
        found.sort(key=lambda s: s.value.wrapped is None)  # a live key before a destroyed one
        return self.ctx.unseal(found[0], f"key {found[0].value.label}")

    def _enrolled(self, uow: UnitOfWork, target: Target) -> Endpoint | None:
        rows = uow.documents.list(Endpoint, subject=target.text, limit=2)
        for sealed in rows:
            endpoint = self.ctx.unseal(sealed, f"endpoint {target.text}")
            if endpoint.subject == target.text:
                return endpoint
        return None

    def _discovery(
        self,
        uow: UnitOfWork,
        target: Target,
        seen: PresentedChain | str,
        now: datetime,
        enrolled: Endpoint | None,
    ) -> Discovery:
        before = enrolled.fingerprint if enrolled is not None else None
        if isinstance(seen, str):
            return Discovery(target, now, error=seen, enrolled_fingerprint=before)
        try:
            leaf = _read_leaf(seen.certificates[0])
        except BadInput as e:
            return Discovery(
                target, now, error=f"{target.text}: {e.message}.", enrolled_fingerprint=before
            )
        key = self._key_for(uow, leaf)
        return Discovery(
            target=target,
            seen_at=now,
            chain=seen.certificates,
            protocol=seen.protocol,
            cipher=seen.cipher,
            certificate_subject=leaf.subject,
            issuer=leaf.issuer,
            serial=leaf.serial,
            not_before=leaf.not_before,
            not_after=leaf.not_after,
            fingerprint=leaf.fingerprint,
            dns_names=leaf.dns_names,
            key_id=key.id if key else None,
            key_label=key.label if key else None,
            key_state=key.state.value if key else None,
            enrolled_fingerprint=before,
            days_left=days_left(leaf.not_after, now),
        )

    # --- discovery ---------------------------------------------------------------------------

    def discover(
        self,
        session: Session,
        targets: Sequence[Target | str],
        *,
        timeout: float = 5.0,
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> list[Discovery]:
        """Probe each target and say what it presented (or why nothing), in the order
        given. One audit entry for the run; nothing is enrolled."""
        parsed = self._targets(targets)
        self._check_timeout(timeout)
        self._probe()
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
        seen, stopped = self._fetch_all(
            parsed,
            timeout=timeout,
            session=session,
            auth=auth,
            progress=progress,
            cancelled=cancelled,
        )
        now = self.ctx.clock.now()
        with self.ctx.repository.unit_of_work() as uow:
            found = [
                self._discovery(uow, t, s, now, self._enrolled(uow, t))
                for t, s in zip(parsed, seen, strict=True)
            ]
            reached = [d for d in found if d.ok]
            self.ctx.audit(
                uow,
                auth,
                "endpoint.discover",
                "endpoint",
                "discovery",
                label=f"{len(parsed)} target{'s' if len(parsed) != 1 else ''}",
                details={
                    "targets": len(parsed),
                    "reached": len(reached),
                    "not_reached": len(found) - len(reached),
                    "stopped": stopped,
                    "timeout": timeout,
                    "results": [
                        {"target": str(d.target), "fingerprint": d.fingerprint}
                        if d.ok
                        else {"target": str(d.target), "error": d.error}
                        for d in found[:AUDIT_LISTED]
                    ],
                },
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return found

    # --- enrolment ---------------------------------------------------------------------------

    def enrol(
        self, session: Session, discovery: Discovery, *, owners: Sequence[str] = ()
    ) -> Endpoint:
        """Keep a discovered endpoint (or update the enrolled one for the same host:port);
        ``owners`` replace the recorded owners when given."""
        return self.enrol_many(session, [discovery], owners=owners)[0]

    def enrol_many(
        self, session: Session, discoveries: Sequence[Discovery], *, owners: Sequence[str] = ()
    ) -> list[Endpoint]:
        """Enrol several discovered endpoints under one authorisation, all or none."""
        if not discoveries:
            raise BadInput("Choose at least one endpoint to enrol.")
        checked = check_owners(tuple(owners))
        for d in discoveries:
            if not d.ok:
                raise BadInput(f"{d.target.text} is not enrolled: {d.error or 'nothing seen'}")
        if len({(d.target.host, d.target.port) for d in discoveries}) != len(discoveries):
            raise BadInput("An endpoint is named twice.")
        # Facts are read again from the chain itself: what is kept is what was presented.
        prepared: list[tuple[Discovery, _Leaf, str]] = []
        for d in discoveries:
            try:
                leaf = _read_leaf(d.chain[0])
                chain_pem = "".join(_pem(c) for c in d.chain)
            except BadInput as e:
                raise BadInput(f"{d.target.text} is not enrolled: {e.message}.") from None
            except ValueError as e:
                raise BadInput(
                    f"{d.target.text} is not enrolled: a certificate of its chain could not "
                    f"be read ({e})."
                ) from None
            prepared.append((d, leaf, chain_pem))
        enrolled: list[Endpoint] = []
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_MONITORING)
            now = self.ctx.clock.now()
            for d, leaf, chain_pem in prepared:
                key = self._key_for(uow, leaf)
                existing = self._enrolled(uow, d.target)
                facts: dict[str, Any] = {
                    "host": d.target.host,
                    "port": d.target.port,
                    "server_name": d.target.server_name,
                    "certificate_subject": leaf.subject,
                    "issuer": leaf.issuer,
                    "serial": leaf.serial,
                    "not_before": leaf.not_before,
                    "not_after": leaf.not_after,
                    "fingerprint": leaf.fingerprint,
                    "chain_pem": chain_pem,
                    "protocol": d.protocol,
                    "cipher": d.cipher,
                    "key_id": key.id if key else None,
                    "key_label": key.label if key else None,
                    "last_seen_at": d.seen_at,
                }
                if existing is None:
                    endpoint = Endpoint(
                        id=uuid.uuid4().hex, owners=checked, enrolled_at=now, **facts
                    )
                    uow.documents.add(endpoint, self.ctx.seal(endpoint))
                else:
                    endpoint = replace(existing, owners=checked or existing.owners, **facts)
                    uow.documents.update(endpoint, self.ctx.seal(endpoint))
                self.ctx.audit(
                    uow,
                    auth,
                    "endpoint.enrol",
                    "endpoint",
                    endpoint.id,
                    label=str(endpoint.target),
                    before=existing.fingerprint if existing else None,
                    after=endpoint.fingerprint,
                    details={
                        "re_enrolled": existing is not None,
                        "subject": endpoint.certificate_subject,
                        "issuer": endpoint.issuer,
                        "serial": endpoint.serial,
                        "not_after": endpoint.not_after.isoformat(),
                        "key": key.label if key else None,
                        "owners": list(endpoint.owners),
                    },
                    session=session,
                )
                enrolled.append(endpoint)
            uow.commit()
        self.ctx.checkpoint()
        return enrolled

    def endpoints(self, session: Session) -> list[Endpoint]:
        """Every enrolled endpoint, soonest expiry first."""
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            return [
                self.ctx.unseal(s, f"endpoint {s.value.subject}")
                for s in uow.documents.list(Endpoint)
            ]

    def _find(self, uow: UnitOfWork, ref: str) -> Endpoint:
        text = ref.strip()
        sealed = uow.documents.get(Endpoint, text) if text else None
        if sealed is not None:
            return self.ctx.unseal(sealed, f"endpoint {sealed.value.subject}")
        target = parse_target(text)
        found = self._enrolled(uow, target)
        if found is None:
            raise NotFound(f"No enrolled endpoint {target.text}.")
        return found

    def remove(self, session: Session, ref: str) -> Endpoint:
        """Stop watching an endpoint (by ``host:port`` or id); returns what was removed."""
        with self.ctx.repository.unit_of_work() as uow:
            endpoint = self._find(uow, ref)
            auth = self.ctx.authorise(uow, session, Action.MANAGE_MONITORING)
            uow.documents.delete(Endpoint, endpoint.id)
            self.ctx.audit(
                uow,
                auth,
                "endpoint.remove",
                "endpoint",
                endpoint.id,
                label=str(endpoint.target),
                before=endpoint.fingerprint,
                details={
                    "subject": endpoint.certificate_subject,
                    "not_after": endpoint.not_after.isoformat(),
                },
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return endpoint

    def refresh(
        self,
        session: Session,
        *,
        timeout: float = 5.0,
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> list[Discovery]:
        """Probe every enrolled endpoint again: the ones reached are seen now, and take the
        certificate they present (a change is audited with the old and new fingerprint);
        the ones not reached are reported and kept as they were."""
        self._check_timeout(timeout)
        self._probe()
        with self.ctx.repository.unit_of_work() as uow:
            auth = self.ctx.authorise(uow, session, Action.MANAGE_MONITORING)
            enrolled = [
                self.ctx.unseal(s, f"endpoint {s.value.subject}")
                for s in uow.documents.list(Endpoint)
            ]
        if not enrolled:
            return []
        targets = [e.target for e in enrolled]
        seen, stopped = self._fetch_all(
            targets,
            timeout=timeout,
            session=session,
            auth=auth,
            progress=progress,
            cancelled=cancelled,
        )
        now = self.ctx.clock.now()
        found: list[Discovery] = []
        with self.ctx.repository.unit_of_work() as uow:
            changed = 0
            for before, target, s in zip(enrolled, targets, seen, strict=True):
                current = uow.documents.get(Endpoint, before.id)
                if current is None:  # removed while the probes ran
                    continue
                endpoint = self.ctx.unseal(current, f"endpoint {target.text}")
                d = self._discovery(uow, target, s, now, endpoint)
                found.append(d)
                if not d.ok:
                    continue
                assert d.not_after is not None and d.not_before is not None
                updated = replace(
                    endpoint,
                    protocol=d.protocol,
                    cipher=d.cipher,
                    last_seen_at=now,
                    certificate_subject=d.certificate_subject,
                    issuer=d.issuer,
                    serial=d.serial,
                    not_before=d.not_before,
                    not_after=d.not_after,
                    fingerprint=d.fingerprint,
                    chain_pem="".join(_pem(c) for c in d.chain),
                    key_id=d.key_id,
                    key_label=d.key_label,
                )
                uow.documents.update(updated, self.ctx.seal(updated))
                if d.changed:
                    changed += 1
                    self.ctx.audit(
                        uow,
                        auth,
                        "endpoint.certificate_changed",
                        "endpoint",
                        endpoint.id,
                        label=str(endpoint.target),
                        before=endpoint.fingerprint,
                        after=updated.fingerprint,
                        details={
                            "subject": updated.certificate_subject,
                            "issuer": updated.issuer,
                            "serial": updated.serial,
                            "not_after": updated.not_after.isoformat(),
                            "previous_not_after": endpoint.not_after.isoformat(),
                            "key": d.key_label,
                        },
                        session=session,
                    )
            unreachable = [d for d in found if not d.ok]
            self.ctx.audit(
                uow,
                auth,
                "endpoint.refresh",
                "endpoint",
                "refresh",
                label=f"{len(found)} endpoints",
                details={
                    "endpoints": len(found),
                    "reached": len(found) - len(unreachable),
                    "changed": changed,
                    "stopped": stopped,
                    "not_reached": [
                        {"target": str(d.target), "error": d.error}
                        for d in unreachable[:AUDIT_LISTED]
                    ],
                },
                session=session,
            )
            uow.commit()
        self.ctx.checkpoint()
        return found

    def due_items(self, uow: UnitOfWork, before: datetime) -> list[DueItem]:
        """The enrolled endpoints whose certificates expire before ``before``, for the
        expiry service (read in its unit of work; each record's seal is checked)."""
        items: list[DueItem] = []
        templates: dict[str, str | None] = {}
        for sealed in uow.documents.list(Endpoint, due_before=before):
            endpoint = self.ctx.unseal(sealed, f"endpoint {sealed.value.subject}")
            template_id = None
            if endpoint.key_id is not None:
                if endpoint.key_id not in templates:
                    key = uow.keys.get(endpoint.key_id)
                    templates[endpoint.key_id] = key.value.template_id if key else None
                template_id = templates[endpoint.key_id]
            items.append(
                DueItem(
                    kind="endpoint",
                    ref=endpoint.id,
                    label=endpoint.subject,
                    what="server certificate expires",
                    due=endpoint.not_after,
                    key_id=endpoint.key_id,
                    template_id=template_id,
                    owners=endpoint.owners,
                )
            )
        return items

    # --- key stores --------------------------------------------------------------------------

    def _current_certificate(self, uow: UnitOfWork, key: ManagedKey) -> CertificateRecord:
        for sealed in uow.certificates.for_key(key.id):
            record = self.ctx.unseal(sealed, f"certificate {sealed.value.serial}")
            if record.status is CertificateStatus.CURRENT:
                if record.not_after <= self.ctx.clock.now():
                    raise PolicyRefused(
                        f"The certificate of key pair {key.label} expired on "
                        f"{record.not_after:%Y-%m-%d}; import the renewed certificate first."
                    )
                return record
        raise BadInput(
            f"Key pair {key.label} has no current certificate; import the one its CA issued "
            "first (certs import)."
        )

    def _keystore_refusal(
        self, uow: UnitOfWork, key: ManagedKey, template: KeyTemplate
    ) -> tuple[CertificateRecord, str | None]:
        certificate = self._current_certificate(uow, key)
        try:
            check_exportable(key, template, carried_as="key stores", key_pairs=True)
        except (BadInput, PolicyRefused) as e:
            return certificate, e.message
        return certificate, None

    def keystore_choices(self, session: Session) -> list[KeystoreChoice]:
        """The key pairs with a current certificate, each with why it cannot leave in a key
        store (its template, exportability or state), for the export wizard's list."""
        choices: list[KeystoreChoice] = []
        with self.ctx.repository.unit_of_work() as uow:
            self.ctx.authorise(uow, session, Action.VIEW_INVENTORY)
            seen: set[str] = set()
            for sealed in uow.certificates.list():
                record = sealed.value
                if record.status is not CertificateStatus.CURRENT or record.key_id in seen:
                    continue
                seen.add(record.key_id)
                key_sealed = uow.keys.get(record.key_id)
                if key_sealed is None:
                    continue
                key = self.ctx.unseal(key_sealed, f"key {key_sealed.value.label}")
                template = self.keys.template_of(uow, key)
                try:
                    certificate, refusal = self._keystore_refusal(uow, key, template)
                except (BadInput, PolicyRefused) as e:
                    certificate, refusal = self.ctx.unseal(sealed, "certificate"), e.message
                choices.append(KeystoreChoice(key, template.name, certificate, refusal))
        return sorted(choices, key=lambda c: c.key.label.casefold())

    def export_keystore(
        self, session: Session, key_ref: str, *, fmt: str, password: bytearray
    ) -> bytes:
        """A key pair's private key with its current certificate and chain, encrypted
        under ``password``: ``fmt`` "pkcs12" (RFC 7292: PBES2 AES-256-CBC bags, HMAC-SHA256
        MAC, the key's label as friendly name) or "pem" (encrypted PKCS #8, RFC 5958 /
        RFC 8018 PBES2, then the certificate and the chain). The caller wipes
        ``password``."""
        if fmt not in KEYSTORE_FORMATS:
            raise BadInput(f"Key store format {fmt!r}: use pkcs12 or pem.")
        check_keystore_password(password)
        with self.ctx.repository.unit_of_work() as uow:
            key = self.keys.find_key(uow, key_ref)
            template = self.keys.template_of(uow, key)
            if key.algorithm.is_symmetric or key.public_key is None:
                raise BadInput(
                    f"Key {key.label} is a secret key; a key store carries a key pair with "
                    "its certificate."
                )
            check_exportable(key, template, carried_as="key stores", key_pairs=True)
            certificate = self._current_certificate(uow, key)
            auth = self.ctx.authorise(uow, session, Action.EXPORT_KEY, template=template)
        assert key.wrapped is not None
        chain = _ders(certificate.pem)
        leaf = x509.load_der_x509_certificate(chain[0])
        if (
            leaf.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            != key.public_key
        ):
            raise IntegrityError(
                f"The current certificate of {key.label} does not carry its public key."
            )
        pkcs8 = self.ctx.hsm.export_private_key(key.algorithm, key.wrapped)
        secret = bytes(password)  # cryptography takes bytes (see docs/tls.md, known limits)
        try:
            private = serialization.load_der_private_key(pkcs8, password=None)
            public = private.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            if public != key.public_key:
                raise IntegrityError(f"Key pair {key.label} does not give its recorded public key.")
            if fmt == "pkcs12":
                if not isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                    raise IntegrityError(f"Key pair {key.label} is of an unexpected kind.")
                encryption = (
                    serialization.PrivateFormat.PKCS12.encryption_builder()
                    .kdf_rounds(KEYSTORE_KDF_ROUNDS)
                    .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
                    .hmac_hash(hashes.SHA256())
                    .build(secret)
                )
                data = pkcs12.serialize_key_and_certificates(
                    name=key.label.encode(),
                    key=private,
                    cert=leaf,
                    cas=[x509.load_der_x509_certificate(c) for c in chain[1:]] or None,
                    encryption_algorithm=encryption,
                )
            else:
                data = (
                    _encrypted_pkcs8_pem(pkcs8, secret) + "".join(_pem(c) for c in chain).encode()
                )
            del private
        finally:
            _wipe(pkcs8)
            del secret
        digest = hashlib.sha256(data).hexdigest().upper()
        with self.ctx.repository.unit_of_work() as uow:
            seq = self.ctx.audit(
                uow,
                auth,
                "key.export",
                "key",
                key.id,
                label=key.label,
                kcv=key.kcv,
                details={
                    "format": KEYSTORE_FORMATS[fmt],
                    "certificate_fingerprint": certificate.fingerprint,
                    "certificate_serial": certificate.serial,
                    "certificate_subject": certificate.subject,
                    "certificates": len(chain),
                    "encryption": "PBES2: PBKDF2-HMAC-SHA256 "
                    f"{KEYSTORE_KDF_ROUNDS} rounds, AES-256-CBC",
                    "keystore_sha256": digest,
                },
                session=session,
            )
            uow.keys.add_event(
                KeyEvent(
                    key_id=key.id,
                    at=self.ctx.clock.now(),
                    action=Action.EXPORT_KEY,
                    from_state=key.state,
                    to_state=key.state,
                    people=tuple(m.name for m in session.members),
                    reason=f"{KEYSTORE_FORMATS[fmt]} key store with certificate "
                    f"{certificate.serial}",
                    audit_seq=seq,
                )
            )
            uow.commit()
        self.ctx.checkpoint()
        return data


def check_keystore_password(password: bytearray) -> None:
    """Refuse a key store password that is not a bytearray, is too long, or has fewer than
    MIN_PASSWORD_CHARS characters (counted as UTF-8)."""
    if not isinstance(password, bytearray):
        raise BadInput("The key store password must be given as a bytearray (it is wiped).")
    if len(password) > MAX_PASSWORD_BYTES:
        raise BadInput(f"The key store password is longer than {MAX_PASSWORD_BYTES} bytes.")
    # Characters counted without decoding into an immutable str: each UTF-8 character has
    # exactly one byte that is not a continuation byte (10xxxxxx).
    characters = sum(1 for b in password if b & 0xC0 != 0x80)
    if characters < MIN_PASSWORD_CHARS:
        raise BadInput(
            f"The key store password has {characters} characters; it needs at least "
            f"{MIN_PASSWORD_CHARS}."
        )


def _encrypted_pkcs8_pem(pkcs8: bytearray, password: bytes) -> bytes:
    """An EncryptedPrivateKeyInfo (RFC 5958 3) under PBES2 (RFC 8018 6.2) with PBKDF2-HMAC-
    SHA256 and AES-256-CBC, as PEM ("ENCRYPTED PRIVATE KEY", RFC 7468 11). Written here
    rather than by ``BestAvailableEncryption``, which fixes PBKDF2 at 2,048 rounds."""
    salt, iv = os.urandom(16), os.urandom(16)
    kek = bytearray(
        PBKDF2HMAC(
            algorithm=hashes.SHA256(), length=32, salt=salt, iterations=KEYSTORE_KDF_ROUNDS
        ).derive(password)
    )
    pad = 16 - len(pkcs8) % 16  # PKCS #7 padding (RFC 8018 6.2.1 step 4)
    padded = bytearray(pkcs8)
    padded += bytes([pad]) * pad
    try:
        encryptor = Cipher(algorithms.AES(kek), modes.CBC(iv)).encryptor()
        encrypted = encryptor.update(padded) + encryptor.finalize()
    finally:
        _wipe(padded, kek)
    info = asn1_keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {
                "algorithm": "pbes2",
                "parameters": {
                    "key_derivation_func": {
                        "algorithm": "pbkdf2",
                        "parameters": {
                            "salt": {"specified": salt},
                            "iteration_count": KEYSTORE_KDF_ROUNDS,
                            "prf": {"algorithm": "sha256"},
                        },
                    },
                    "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
                },
            },
            "encrypted_data": encrypted,
        }
    )
    armored: bytes = asn1_pem.armor("ENCRYPTED PRIVATE KEY", info.dump())
    return armored
