"""Ports: the small interfaces through which the services reach the world.

Adapters implement them (``workstation.adapters``); ``workstation.bootstrap`` builds the
concrete ones; tests may pass fakes. Nothing here imports a device library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Generic, Protocol, TypeVar

from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.audit import AuditCheckpoint, AuditEntry, AuditEvent
from workstation.domain.ceremonies import Ceremony, ComponentHolding, Envelope, EnvelopeState
from workstation.domain.certificates import CertificateRecord
from workstation.domain.distribution import HeldKey
from workstation.domain.documents import Document
from workstation.domain.keys import KeyEvent, KeyState, ManagedKey
from workstation.domain.partners import Partner
from workstation.domain.people import Card, Group, Person
from workstation.domain.policy import PolicySet
from workstation.domain.templates import KeyTemplate

T = TypeVar("T")

# --- clock -------------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds, for idle timeouts."""
        ...


# --- HSM ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HsmInfo:
    library: str  # module path
    manufacturer: str
    model: str
    serial: str
    token_label: str


@dataclass(frozen=True)
class GeneratedKey:
    """A key made inside the HSM, as it leaves the HSM: wrapped, with its check value."""

    wrapped: bytes  # under the workstation master key (AES key wrap with padding, RFC 5649)
    kcv: bytes  # TDES: first 3 bytes of E(0^64); AES: first 5 bytes of CMAC(0^128)
    public_key: bytes | None = None  # key pairs: SubjectPublicKeyInfo DER


class Hsm(Protocol):
    """The HSM as the workstation uses it. Implementations: PKCS#11 (python-pkcs11)."""

    def info(self) -> HsmInfo: ...

    def has_workstation_keys(self) -> bool:
        """Whether any of the master, binding or audit keys exist on the token."""
        ...

    def create_workstation_keys(self) -> None:
        """Create the master key (AES-256, sensitive; extractable only by wrapping, for the
        backup by shares), the binding MAC key and the
        audit signing key pair (EC P-256) as token objects. Refuses if any already exists."""
        ...

    def generate_key(self, algorithm: KeyAlgorithm) -> GeneratedKey:
        """Generate a secret key or key pair inside the HSM and return it wrapped."""
        ...

    def key_check_value(self, algorithm: KeyAlgorithm, wrapped: bytes) -> bytes:
        """Unwrap into a session object and compute the KCV again (secret keys only)."""
        ...

    def bind(self, data: bytes) -> bytes:
        """MAC (HMAC-SHA-256 under the binding key) over a record's canonical bytes."""
        ...

    def verify_binding(self, data: bytes, mac: bytes) -> bool: ...

    def audit_public_key(self) -> bytes:
        """The audit signing key's SubjectPublicKeyInfo, DER."""
        ...

    def sign_audit(self, message: bytes) -> bytes:
        """ECDSA P-256 / SHA-256 signature of ``message``, DER-encoded (verifiable with
        ``cryptography`` and the public key above)."""
        ...

    # --- clear key material for paper ceremonies (issue 4) --------------------------------
    # The only paths by which clear key bytes cross the HSM boundary. The services call
    # them under the ceremony, export and backup quorums; the caller wipes every bytearray
    # it receives or passes.

    def random_bytes(self, length: int) -> bytearray:
        """``length`` random bytes from the HSM's generator (C_GenerateRandom)."""
        ...

    def import_clear_key(self, algorithm: KeyAlgorithm, value: bytearray) -> GeneratedKey:
        """Take a clear secret key (combined from components) into the HSM as a transient
        object, compute its check value there, and return it wrapped under the master key.
        TDES values must already have odd parity. ``value`` is not wiped here."""
        ...

    def export_clear_key(self, algorithm: KeyAlgorithm, wrapped: bytes) -> bytearray:
        """Unwrap a stored secret key and return its clear value (to be split into
        components for printing). Raises IntegrityError if it does not unwrap."""
        ...

    def backup_workstation_keys(self) -> WorkstationKeyBackup:
        """Wrap the master, binding and audit keys under a fresh random transport key
        (AES-256) made in the HSM; return the transport key in clear (to be split into
        shares or components at once) and the wrapped keys. Raises HsmError when the keys
        were created unexportable."""
        ...

    def restore_workstation_keys(self, transport_key: bytearray, blob: bytes) -> None:
        """On a token without workstation keys: unwrap ``blob`` (from
        ``backup_workstation_keys``) under ``transport_key`` and store the three keys as
        token objects with the attributes ``create_workstation_keys`` gives them. Refuses
        (AlreadyInitialised) if any workstation key exists; IntegrityError if the blob does
        not unwrap under the transport key. All or nothing."""
        ...

    # --- managed key pairs (certificates issue) ------------------------------------------

    def sign_with_key(self, algorithm: KeyAlgorithm, wrapped: bytes, message: bytes) -> bytes:
        """Sign ``message`` with a stored key pair's private key (wrapped under the master
        key, as ``generate_key`` returned it), unwrapped into a session object for the one
        operation: RSASSA-PKCS1-v1_5 with SHA-256 for RSA, ECDSA with SHA-256 (DER
        signature) for EC. Raises IntegrityError if it does not unwrap."""
        ...

    def export_private_key(self, algorithm: KeyAlgorithm, wrapped: bytes) -> bytearray:
        """A stored key pair's private key in clear, as PKCS #8 PrivateKeyInfo DER (RFC
        5208), for a key store (PKCS #12) or a key block to another HSM. The services call
        it only under the export quorum of the key's template; the caller wipes the result.
        Raises IntegrityError if it does not unwrap or holds another size or curve."""
        ...

    # --- exchange key pairs (interchange issue: TR-34 and ECDH) ---------------------------
    # The workstation's own key pairs for key exchange with partners, kept as token objects
    # under a name ("exchange-ca", "tr34-krd", "tr34-kdh", "ecdh-p256", ...). Private keys
    # never leave the HSM: these methods are the only operations on them.

    def exchange_public_key(self, name: str) -> bytes | None:
        """The SubjectPublicKeyInfo (DER) of exchange key pair ``name``, or None if the
        token holds no such pair."""
        ...

    def create_exchange_key(self, name: str, algorithm: KeyAlgorithm) -> bytes:
        """Generate exchange key pair ``name`` (RSA or EC) as token objects; return its
        public key (SubjectPublicKeyInfo DER). Refuses (AlreadyInitialised) if it exists.
        An RSA pair whose name ends ``-krd`` decrypts only; every other RSA pair signs only
        (raw decryption with a signing key would forge its signatures)."""
        ...

    def exchange_sign(self, name: str, message: bytes) -> bytes:
        """Sign ``message`` with exchange key ``name``: RSASSA-PKCS1-v1_5 with SHA-256 for
        RSA, ECDSA with SHA-256 (DER signature) for EC."""
        ...

    def exchange_decrypt_raw(self, name: str, ciphertext: bytes) -> bytearray:
        """Raw RSA decryption (c^d mod n, CKM_RSA_X_509) with RSA exchange key ``name``; the
        result is the encoded message, as long as the modulus, for OAEP decoding in
        software (SoftHSM 2.6 does OAEP with SHA-1 only)."""
        ...

    def exchange_agree(self, name: str, peer_public_key: bytes) -> bytearray:
        """ECDH (CKM_ECDH1_DERIVE, no KDF) of EC exchange key ``name`` with the peer's
        public key (SubjectPublicKeyInfo DER, same curve): the shared secret Z, for the
        key derivation function in software."""
        ...

    def delete_exchange_key(self, name: str) -> None:
        """Destroy exchange key pair ``name`` (retiring a key pair); no error if absent."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class WorkstationKeyBackup:
    """The workstation keys wrapped under a one-time transport key.

    ``blob`` is not secret (every key in it is wrapped under the transport key, RFC 5649):
    it is kept in the repository, so a repository backup carries it. ``transport_key`` is
    the clear AES-256 transport key; the caller splits it into shares and wipes it.
    ``transport_kcv``: AES CMAC check value of the transport key (5 bytes), to tell a
    correct recombination from a wrong one before the HSM is asked to unwrap.
    """

    transport_key: bytearray
    transport_kcv: bytes
    blob: bytes


# --- smart cards -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReaderStatus:
    name: str
    card_present: bool


class PivCard(Protocol):
    """A connection to a PIV card (NIST SP 800-73-4) in one reader."""

    @property
    def reader(self) -> str: ...

    def authentication_certificate(self) -> bytes:
        """The X.509 certificate (DER) of the PIV Authentication key, slot 9A."""
        ...

    def pin_retries_left(self) -> int | None:
        """Tries left before the PIN blocks (0 = blocked); None if the card does not say."""
        ...

    def verify_pin(self, pin: bytearray) -> None:
        """VERIFY the PIV card application PIN. Raises PinIncorrect(retries_left),
        CardBlocked, or BadInput for a PIN of the wrong form. The caller wipes ``pin``."""
        ...

    def sign(self, message: bytes) -> bytes:
        """GENERAL AUTHENTICATE with the 9A key over SHA-256(message). The result verifies
        with the certificate's key as ECDSA-SHA256 (DER) or RSASSA-PKCS1-v1_5-SHA256."""
        ...

    def change_pin(self, old: bytearray, new: bytearray) -> None:
        """CHANGE REFERENCE DATA for the card application PIN."""
        ...

    def still_present(self) -> bool:
        """False once the card was removed (or reset) since this connection was made,
        even if a card is back in the reader."""
        ...

    def close(self) -> None: ...


class CardWatch(Protocol):
    def stop(self) -> None: ...


class CardReaders(Protocol):
    """The PC/SC readers of this workstation."""

    def readers(self) -> list[ReaderStatus]: ...

    def connect(self, reader: str) -> PivCard:
        """Connect to the card in ``reader`` and SELECT the PIV application.
        Raises NoCardPresent or CardError."""
        ...

    def watch(self, on_change: Callable[[list[ReaderStatus]], None]) -> CardWatch:
        """Call ``on_change`` (from a background thread) whenever a card is inserted or
        removed, until ``stop()``."""
        ...


# --- printing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentMailer:
    """One sealed-envelope mailer: a key component (or a master key backup share) for one
    custodian. ``secret`` is the clear component or share value; the renderer prints it only
    on the inner part, in groups of four hex digits, with ``secret_kcv``. The outer part
    carries no key material and no check value of the combined key."""

    envelope_serial: str  # e.g. "KCW-E-000042"; printed and as a Code 128 barcode
    custodian: str  # the named custodian this envelope is for
    key_label: str
    algorithm: str  # e.g. "TDES-2KEY", "AES-256"
    index: int  # 1-based: "component 2 of 3" / "share 2 of 5"
    count: int
    secret: bytearray
    secret_kcv: str  # upper-case hex
    ceremony_id: str
    workstation_id: str
    printed_at: datetime
    kind: str = "component"  # "component" or "share"
    threshold: int | None = None  # shares: how many recover the secret


@dataclass(frozen=True)
class AcknowledgementForm:
    """A custodian's acknowledgement of an envelope, printed for signature."""

    envelope_serial: str
    bag_number: str | None
    custodian: str
    key_label: str
    index: int
    count: int
    kind: str  # "component" or "share"
    event: str  # what is acknowledged: "received", "handed over", ...
    history: tuple[tuple[str, str, str], ...]  # (time, event, people) so far
    workstation_id: str
    printed_at: datetime


@dataclass(frozen=True)
class CeremonyDocument:
    """A ceremony record for printing: the transcript, and a signature line per participant."""

    ceremony_id: str
    title: str
    script: str
    workstation_id: str
    key_label: str | None
    algorithm: str | None
    key_kcv: str | None  # the combined key's check value: on the record, never on a mailer
    started_at: datetime
    completed_at: datetime | None
    status: str
    transcript: tuple[tuple[str, str, str, str], ...]  # (time, step, people, text)
    transcript_hash: str  # hex SHA-256 of the canonical transcript
    participants: tuple[tuple[str, str, str, str], ...]  # (name, role, card id, signature status)
    printed_at: datetime


class DocumentRenderer(Protocol):
    """Makes the ceremony's paper as PDF, in memory. The caller wipes the returned buffer
    (a mailer's PDF holds a clear component)."""

    def component_mailers(self, mailers: Sequence[ComponentMailer]) -> bytearray:
        """One PDF, one page per mailer, in the order given."""
        ...

    def acknowledgement_forms(self, forms: Sequence[AcknowledgementForm]) -> bytearray: ...

    def ceremony_record(self, record: CeremonyDocument) -> bytearray: ...


class PrintQueue(Protocol):
    """A configured printer. ``submit`` hands the PDF to the print system through a pipe
    (never a file of ours) and returns the job id the print system gave."""

    @property
    def printer(self) -> str | None:
        """The configured printer's name; None when no printer is configured."""
        ...

    def submit(self, pdf: bytearray, *, title: str) -> str: ...


# --- network: TLS endpoints and e-mail (certificates issue) -------------------------------


@dataclass(frozen=True)
class PresentedChain:
    """What a TLS server presented in its handshake, as received (not verified: the point
    is to see the certificates in use, expired or not)."""

    host: str
    port: int
    certificates: tuple[bytes, ...]  # DER, the server's certificate first
    protocol: str  # e.g. "TLSv1.3"
    cipher: str  # e.g. "TLS_AES_256_GCM_SHA384"


class TlsProbe(Protocol):
    def fetch(
        self, host: str, port: int, *, timeout: float = 5.0, server_name: str | None = None
    ) -> PresentedChain:
        """Connect to ``host:port``, complete a TLS handshake (SNI ``server_name`` or
        ``host``) and return the chain the server presented. Raises EndpointError (naming
        the host, port and what failed: name resolution, refused, timeout, not TLS)."""
        ...


@dataclass(frozen=True)
class MailMessage:
    sender: str
    recipients: tuple[str, ...]
    subject: str
    body: str  # plain text
    attachments: tuple[tuple[str, str, bytes], ...] = ()  # (file name, MIME type, content)


class Mailer(Protocol):
    """The configured SMTP relay."""

    @property
    def sender(self) -> str:
        """The From address alerts are sent with."""
        ...

    def send(self, message: MailMessage) -> None:
        """Hand one message to the relay. Raises MailError naming the relay and what
        failed (connection, refused recipient, authentication)."""
        ...


# --- key store targets (distribution issue) ------------------------------------------------


@dataclass(frozen=True)
class TargetState:
    """What a target said when asked: reachable or not, and which key versions it holds."""

    reachable: bool
    held: tuple[HeldKey, ...] = ()
    detail: str = ""  # e.g. "agent 0.1.0, token 'host-a'", or why it could not be reached

    def holds(self, key_id: str, version: int) -> HeldKey | None:
        return next((h for h in self.held if h.key_id == key_id and h.version == version), None)


@dataclass(frozen=True)
class KeyDelivery:
    """One key for one target. ``delivery_id`` is unique per job, target and key; a target
    given the same key id and version twice installs nothing the second time."""

    delivery_id: str
    key_id: str
    label: str
    version: int
    algorithm: str  # a KeyAlgorithm value, e.g. "AES-256"
    kcv: str  # the workstation's check value: the target must compute the same
    key_block: str  # TR-31 key block under the target's KEK (agent, file drop)
    wrapped: bytes = b""  # RFC 5649 AES key wrap under the target's KEK (PKCS#11 target)


@dataclass(frozen=True)
class InstallReceipt:
    installed: bool  # False: the target already held this key version; nothing was done
    kcv: str  # upper-case hex, as the target computed it after installing (or held it)


@dataclass(frozen=True)
class TargetAddress:
    """How to reach a target, from its record: ``kind`` is "agent" (``location`` is
    host:port), "pkcs11" (``location`` is the PKCS#11 module path, ``token`` the token
    label, ``pin_file`` a file holding the user PIN) or "file" (``location`` is a folder).
    ``kek_label`` names the KEK as the target knows it."""

    name: str
    kind: str
    location: str
    kek_label: str
    token: str = ""
    pin_file: str = ""


class KeyStoreTarget(Protocol):
    """A connection to one target. Raises TargetError naming the target and what failed."""

    def status(self) -> TargetState:
        """Which key versions the target holds; raises TargetError if unreachable."""
        ...

    def install(self, delivery: KeyDelivery) -> InstallReceipt:
        """Install one key. Refuses (TargetError) a key whose check value, once unwrapped,
        differs from ``delivery.kcv``; installs nothing for a key version already held."""
        ...

    def close(self) -> None: ...


class KeyStoreConnector(Protocol):
    """Opens connections to targets (mutual TLS for agents, PKCS#11 for tokens)."""

    def connect(self, address: TargetAddress, *, timeout: float = 10.0) -> KeyStoreTarget:
        """Raises TargetError naming the target if it cannot be reached."""
        ...


# --- repository --------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyQuery:
    """Inventory filter; every field narrows the result. ``text`` matches label or KCV."""

    states: tuple[KeyState, ...] = ()
    key_usage: str | None = None
    algorithm: KeyAlgorithm | None = None
    template_id: str | None = None
    label: str | None = None  # substring, case-insensitive
    kcv: str | None = None  # prefix, case-insensitive
    expiring_before: datetime | None = None  # deactivation date before this, not destroyed
    limit: int | None = None
    offset: int = 0


@dataclass(frozen=True)
class Sealed(Generic[T]):
    """An object read from the repository with the HSM MAC stored beside it."""

    value: T
    mac: bytes


class PeopleRepository(Protocol):
    def add(self, person: Person, mac: bytes) -> None: ...
    def update(self, person: Person, mac: bytes) -> None: ...
    def get(self, person_id: str) -> Sealed[Person] | None: ...
    def by_name(self, name: str) -> Sealed[Person] | None:
        """Exact name, case-insensitive."""
        ...

    def list(self) -> list[Sealed[Person]]: ...


class CardRepository(Protocol):
    def add(self, card: Card, mac: bytes) -> None: ...
    def update(self, card: Card, mac: bytes) -> None: ...
    def get(self, card_id: str) -> Sealed[Card] | None: ...
    def for_person(self, person_id: str) -> list[Sealed[Card]]: ...
    def list(self) -> list[Sealed[Card]]: ...


class GroupRepository(Protocol):
    def add(self, group: Group, mac: bytes) -> None: ...
    def update(self, group: Group, mac: bytes) -> None: ...
    def by_name(self, name: str) -> Sealed[Group] | None:
        """Exact name, case-insensitive."""
        ...

    def list(self) -> list[Sealed[Group]]: ...


class PolicyRepository(Protocol):
    def get(self) -> Sealed[PolicySet] | None: ...
    def put(self, policy: PolicySet, mac: bytes) -> None: ...


class TemplateRepository(Protocol):
    def add(self, template: KeyTemplate, mac: bytes) -> None: ...
    def update(self, template: KeyTemplate, mac: bytes) -> None: ...
    def get(self, template_id: str) -> Sealed[KeyTemplate] | None: ...
    def by_name(self, name: str) -> Sealed[KeyTemplate] | None:
        """Exact name, case-insensitive."""
        ...

    def list(self) -> list[Sealed[KeyTemplate]]: ...
    def next_sequence(self, template_id: str) -> int:
        """1, 2, 3, ... per template, for labels; part of the transaction."""
        ...

    def reserve_sequence(self, template_id: str, count: int) -> int:
        """Reserve ``count`` consecutive numbers; returns the first."""
        ...


class KeyRepository(Protocol):
    def add(self, key: ManagedKey, mac: bytes) -> None: ...
    def add_many(self, keys: Sequence[tuple[ManagedKey, bytes]]) -> None: ...
    def update(self, key: ManagedKey, mac: bytes) -> None: ...
    def get(self, key_id: str) -> Sealed[ManagedKey] | None: ...
    def by_label(self, label: str) -> Sealed[ManagedKey] | None: ...
    def query(self, query: KeyQuery) -> list[Sealed[ManagedKey]]: ...
    def count(self, query: KeyQuery) -> int: ...
    def add_event(self, event: KeyEvent) -> None: ...
    def add_events(self, events: Sequence[KeyEvent]) -> None: ...
    def events(self, key_id: str) -> list[KeyEvent]: ...


class AuditRepository(Protocol):
    def append(self, event: AuditEvent) -> AuditEntry:
        """Hash-chain ``event`` after the last entry, in the current transaction."""
        ...

    def append_many(self, events: Sequence[AuditEvent]) -> list[AuditEntry]:
        """Hash-chain several events in order, in the current transaction."""
        ...

    def last(self) -> AuditEntry | None: ...
    def entries(self, start_seq: int = 1) -> Iterator[AuditEntry]:
        """Every entry in seq order (streamed)."""
        ...

    def chain(self, start_seq: int = 1) -> Iterator[tuple[int, bytes, bytes, bytes]]:
        """(seq, canonical body bytes, prev_hash, hash) as stored, streamed, for
        verification and export without re-encoding each body."""
        ...

    def count(self) -> int: ...
    def add_checkpoint(self, checkpoint: AuditCheckpoint) -> None: ...
    def checkpoints(self) -> list[AuditCheckpoint]: ...
    def search(
        self,
        *,
        person: str | None = None,
        action: str | None = None,
        object_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]: ...


class CeremonyRepository(Protocol):
    def add(self, ceremony: Ceremony, mac: bytes) -> None: ...
    def get(self, ceremony_id: str) -> Sealed[Ceremony] | None:
        """By id, or by a unique prefix of it (at least 6 characters)."""
        ...

    def list(self, *, key_id: str | None = None, limit: int = 500) -> list[Sealed[Ceremony]]:
        """Newest first."""
        ...


class EnvelopeRepository(Protocol):
    def next_serials(self, count: int) -> list[str]:
        """``count`` new serial numbers ("KCW-E-000001", ...), part of the transaction."""
        ...

    def add(self, envelope: Envelope, mac: bytes) -> None: ...
    def update(self, envelope: Envelope, mac: bytes) -> None: ...
    def get(self, serial: str) -> Sealed[Envelope] | None:
        """Case-insensitive serial."""
        ...

    def list(
        self,
        *,
        state: EnvelopeState | None = None,
        custodian_id: str | None = None,
        ceremony_id: str | None = None,
        key_id: str | None = None,
    ) -> list[Sealed[Envelope]]:
        """In serial order."""
        ...


class HoldingRepository(Protocol):
    """Who held which component: append-only, kept for good (split knowledge)."""

    def add_many(self, holdings: Sequence[tuple[ComponentHolding, bytes]]) -> None: ...
    def for_people(self, person_ids: Sequence[str]) -> list[Sealed[ComponentHolding]]: ...
    def for_key(self, key_id: str) -> list[Sealed[ComponentHolding]]: ...
    def list(self, *, limit: int = 5000) -> list[Sealed[ComponentHolding]]: ...


class CertificateRepository(Protocol):
    def add(self, certificate: CertificateRecord, mac: bytes) -> None: ...
    def update(self, certificate: CertificateRecord, mac: bytes) -> None: ...
    def get(self, certificate_id: str) -> Sealed[CertificateRecord] | None: ...
    def for_key(self, key_id: str) -> list[Sealed[CertificateRecord]]:
        """Newest expiry first."""
        ...

    def list(
        self, *, expiring_before: datetime | None = None, limit: int = 5000
    ) -> list[Sealed[CertificateRecord]]:
        """All, soonest expiry first; with ``expiring_before``, the current ones that
        expire before then."""
        ...


class PartnerRepository(Protocol):
    def add(self, partner: Partner, mac: bytes) -> None: ...
    def update(self, partner: Partner, mac: bytes) -> None: ...
    def get(self, partner_id: str) -> Sealed[Partner] | None: ...
    def by_name(self, name: str) -> Sealed[Partner] | None:
        """Case-insensitive."""
        ...

    def list(self) -> list[Sealed[Partner]]: ...


DocT = TypeVar("DocT", bound=Document)


class DocumentRepository(Protocol):
    """Sealed documents of every newer kind (``workstation.domain.documents``), one table."""

    def add(self, doc: Document, mac: bytes) -> None:
        """Refuses (Conflict) a second document of the same kind and id."""
        ...

    def update(self, doc: Document, mac: bytes) -> None:
        """NotFound if there is no such document."""
        ...

    def delete(self, kind: type[Document], doc_id: str) -> None:
        """NotFound if there is no such document."""
        ...

    def get(self, kind: type[DocT], doc_id: str) -> Sealed[DocT] | None: ...

    def list(
        self,
        kind: type[DocT],
        *,
        subject: str | None = None,
        due_before: datetime | None = None,
        limit: int = 5000,
    ) -> list[Sealed[DocT]]:
        """Documents of ``kind``, narrowed to one ``subject`` and/or to those due before a
        time; ordered by due date (undated last), then id."""
        ...


class MetaRepository(Protocol):
    """Workstation-wide settings: id, schema version, initialisation time."""

    def get(self, name: str) -> str | None: ...
    def put(self, name: str, value: str) -> None: ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the ``with`` block without ``commit()`` rolls back.

    ``with uow: uow.keys.add(key, mac); uow.audit.append(event); uow.commit()`` — the
    change and its audit entry commit together or not at all.
    """

    people: PeopleRepository
    cards: CardRepository
    groups: GroupRepository
    policy: PolicyRepository
    templates: TemplateRepository
    keys: KeyRepository
    audit: AuditRepository
    meta: MetaRepository
    ceremonies: CeremonyRepository
    envelopes: EnvelopeRepository
    holdings: HoldingRepository
    partners: PartnerRepository
    certificates: CertificateRepository
    documents: DocumentRepository

    @property
    def read_only(self) -> bool:
        """Whether this unit of work only reads (it cannot append to the audit log)."""
        ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class Repository(Protocol):
    """The store as a whole: makes units of work."""

    def exists(self) -> bool:
        """Whether the repository has been created (schema present)."""
        ...

    def create(self) -> None:
        """Create the schema; refuses if it exists."""
        ...

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        """A transaction; ``read_only`` ones take no write lock (long reads such as audit
        verification do not block the other workstations' writers)."""
        ...

    def backup(self, target: Path) -> None:
        """A consistent copy of the whole repository into ``target`` (a new file), taken
        while others may be using it. Keys stay wrapped under the master key."""
        ...

    def restore(self, source: Path) -> None:
        """Become a copy of the backup file ``source``: only where no repository exists
        yet (a fresh workstation). Refuses a file that is not a workstation repository."""
        ...

    def remove(self) -> None:
        """Delete the repository's files: only to undo a restore whose recovery failed."""
        ...

    def scrub(self) -> None:
        """After a key is destroyed: make sure no freed page, journal or WAL frame still
        holds the removed wrapped value (SQLite: secure_delete on, WAL checkpoint TRUNCATE)."""
        ...

    def close(self) -> None: ...


__all__ = [
    "AcknowledgementForm",
    "AuditRepository",
    "CardReaders",
    "CardRepository",
    "CardWatch",
    "CeremonyDocument",
    "CeremonyRepository",
    "CertificateRepository",
    "Clock",
    "ComponentMailer",
    "DocumentRenderer",
    "EnvelopeRepository",
    "GeneratedKey",
    "GroupRepository",
    "HeldKey",
    "HoldingRepository",
    "Hsm",
    "HsmInfo",
    "InstallReceipt",
    "KeyDelivery",
    "KeyQuery",
    "KeyRepository",
    "KeyStoreConnector",
    "KeyStoreTarget",
    "MetaRepository",
    "PartnerRepository",
    "PeopleRepository",
    "PivCard",
    "PolicyRepository",
    "PrintQueue",
    "ReaderStatus",
    "Repository",
    "Sealed",
    "TargetAddress",
    "TargetState",
    "TemplateRepository",
    "UnitOfWork",
    "WorkstationKeyBackup",
]
