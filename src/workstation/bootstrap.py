"""The one place that builds concrete adapters and hands them to the services."""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from workstation.config import (
    DEFAULT_TOKEN_LABEL,
    PRIVATE_FILE_MODE,
    HsmConfig,
    WorkstationConfig,
    load_config,
    make_private_dir,
    save_config,
)
from workstation.domain.algorithms import KeyAlgorithm
from workstation.services.app import WorkstationServices
from workstation.services.context import ServiceContext
from workstation.services.ports import (
    AcknowledgementForm,
    CardReaders,
    CeremonyDocument,
    Clock,
    ComponentMailer,
    DocumentRenderer,
    GeneratedKey,
    Hsm,
    HsmInfo,
    KeyStoreConnector,
    Mailer,
    PrintQueue,
    Repository,
    WorkstationKeyBackup,
)

log = logging.getLogger(__name__)


def _private_log_handler(path: Path) -> logging.Handler:
    """A rotating log file that only the workstation's user reads (mode 0600 when made).

    The log names people, cards and keys, not secrets, but it is nobody else's business;
    a file the administrator already has keeps its mode."""
    import logging.handlers

    class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
        def _open(self) -> io.TextIOWrapper:
            fd = os.open(
                self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE
            )
            return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)

    return PrivateRotatingFileHandler(path, maxBytes=5_000_000, backupCount=5)


def setup_logging(config: WorkstationConfig, *, verbose: bool = False) -> None:
    """Log to ``home/logs/workstation.log``. Nothing secret is ever passed to a logger."""
    make_private_dir(config.home)
    make_private_dir(config.log_dir)
    root = logging.getLogger("workstation")
    if any(getattr(h, "_kcw", False) for h in root.handlers):
        return
    handler = _private_log_handler(config.log_dir / "workstation.log")
    handler._kcw = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def provision_embedded_hsm(config: WorkstationConfig) -> WorkstationConfig:
    """First run with no HSM configured: a private SoftHSM2 token under ``home/hsm``."""
    from workstation.adapters.softhsm import provision_softhsm

    directory = config.home / "hsm"
    token = provision_softhsm(directory, DEFAULT_TOKEN_LABEL)
    config.hsm = HsmConfig(
        module=token.module_path,
        token_label=token.label,
        pin_source=f"file:{token.user_pin_file.relative_to(config.home)}",
        environment={"SOFTHSM2_CONF": str(token.conf_path.relative_to(config.home))},
    )
    save_config(config)
    log.info("provisioned the embedded SoftHSM2 token %r in %s", token.label, directory)
    return config


def load_or_create(home: Path) -> WorkstationConfig:
    config = load_config(home)
    if config.hsm is None:
        make_private_dir(config.home)
        config = provision_embedded_hsm(config)
    return config


class DeferredHsm:
    """The HSM port, connected on first use.

    Loading the PKCS#11 module and logging in to the token is left until the HSM is first
    needed (on the device thread, for the GUI), so a window opens without waiting for it.
    The PIN is read at once, so a prompt never appears in the middle of other work."""

    def __init__(self, connect: Callable[[], Hsm]) -> None:
        self._connect = connect
        self._hsm: Hsm | None = None
        self._lock = threading.Lock()

    def _get(self) -> Hsm:
        with self._lock:
            if self._hsm is None:
                self._hsm = self._connect()
            return self._hsm

    def info(self) -> HsmInfo:
        return self._get().info()

    def has_workstation_keys(self) -> bool:
        return self._get().has_workstation_keys()

    def create_workstation_keys(self) -> None:
        self._get().create_workstation_keys()

    def generate_key(self, algorithm: KeyAlgorithm) -> GeneratedKey:
        return self._get().generate_key(algorithm)

    def key_check_value(self, algorithm: KeyAlgorithm, wrapped: bytes) -> bytes:
        return self._get().key_check_value(algorithm, wrapped)

    def bind(self, data: bytes) -> bytes:
        return self._get().bind(data)

    def verify_binding(self, data: bytes, mac: bytes) -> bool:
        return self._get().verify_binding(data, mac)

    def audit_public_key(self) -> bytes:
        return self._get().audit_public_key()

    def sign_audit(self, message: bytes) -> bytes:
        return self._get().sign_audit(message)

    def random_bytes(self, length: int) -> bytearray:
        return self._get().random_bytes(length)

    def import_clear_key(self, algorithm: KeyAlgorithm, value: bytearray) -> GeneratedKey:
        return self._get().import_clear_key(algorithm, value)

    def export_clear_key(self, algorithm: KeyAlgorithm, wrapped: bytes) -> bytearray:
        return self._get().export_clear_key(algorithm, wrapped)

    def backup_workstation_keys(self) -> WorkstationKeyBackup:
        return self._get().backup_workstation_keys()

    def restore_workstation_keys(self, transport_key: bytearray, blob: bytes) -> None:
        self._get().restore_workstation_keys(transport_key, blob)

    def sign_with_key(self, algorithm: KeyAlgorithm, wrapped: bytes, message: bytes) -> bytes:
        return self._get().sign_with_key(algorithm, wrapped, message)

    def export_private_key(self, algorithm: KeyAlgorithm, wrapped: bytes) -> bytearray:
        return self._get().export_private_key(algorithm, wrapped)

    def exchange_public_key(self, name: str) -> bytes | None:
        return self._get().exchange_public_key(name)

    def create_exchange_key(self, name: str, algorithm: KeyAlgorithm) -> bytes:
        return self._get().create_exchange_key(name, algorithm)

    def exchange_sign(self, name: str, message: bytes) -> bytes:
        return self._get().exchange_sign(name, message)

    def exchange_decrypt_raw(self, name: str, ciphertext: bytes) -> bytearray:
        return self._get().exchange_decrypt_raw(name, ciphertext)

    def exchange_agree(self, name: str, peer_public_key: bytes) -> bytearray:
        return self._get().exchange_agree(name, peer_public_key)

    def delete_exchange_key(self, name: str) -> None:
        self._get().delete_exchange_key(name)

    def close(self) -> None:
        with self._lock:
            hsm, self._hsm = self._hsm, None
        if hsm is not None:
            hsm.close()


def build_hsm(config: WorkstationConfig, *, pin: str | None = None) -> Hsm:
    """The HSM port; ``pin`` is the user PIN when the caller asked for it itself (the
    desktop application's dialog for ``pin_source = "prompt"``), otherwise it is read
    from where the configuration says."""
    assert config.hsm is not None
    hsm_config = config.hsm
    environment = config.hsm_environment()
    for name, value in environment.items():
        os.environ[name] = value
    if pin is None:
        pin = config.hsm_pin()

    def connect() -> Hsm:
        from workstation.adapters.hsm_pkcs11 import Pkcs11Hsm

        return Pkcs11Hsm(hsm_config.module, hsm_config.token_label, pin, environment=environment)

    return DeferredHsm(connect)


def build_repository(config: WorkstationConfig) -> Repository:
    """``[repository] url`` selects the shared PostgreSQL repository (docs/postgresql.md);
    otherwise the SQLite file at ``path``."""
    if config.repository_url:
        from workstation.adapters.repository_postgres import PostgresRepository

        return PostgresRepository(config.repository_url, password=config.repository_password())
    from workstation.adapters.repository_sqlite import SqliteRepository

    return SqliteRepository(config.database)


def open_repository_copy(path: Path) -> Repository:
    """A repository copy as a backup holds it (an SQLite file, whatever the workstation's
    own repository is), opened for the backup's verification and counts."""
    from workstation.adapters.repository_sqlite import SqliteRepository

    return SqliteRepository(path)


def build_key_stores(config: WorkstationConfig) -> KeyStoreConnector | None:
    """The key store targets' connector with the ``[distribution]`` client TLS files, or
    None without that section (PKCS#11 and file drop targets need no TLS files, but the
    section is what says the workstation distributes keys)."""
    if config.distribution is None:
        return None
    from workstation.adapters.key_stores import KeyStores

    d = config.distribution
    return KeyStores(
        config.resolve(d.client_certificate),
        config.resolve(d.client_key),
        config.resolve(d.trust),
        timeout=d.timeout,
    )


def build_readers(config: WorkstationConfig) -> CardReaders:
    from workstation.adapters.smartcard_pcsc import PcscCardReaders

    return PcscCardReaders(reader_filter=config.reader_filter or None)


class DeferredRenderer:
    """The document renderer, loaded on first use: reportlab is not imported by commands
    and screens that print nothing."""

    def __init__(self) -> None:
        self._renderer: DocumentRenderer | None = None

    def _get(self) -> DocumentRenderer:
        if self._renderer is None:
            from workstation.adapters.printing_reportlab import ReportlabRenderer

            self._renderer = ReportlabRenderer()
        return self._renderer

    def component_mailers(self, mailers: Sequence[ComponentMailer]) -> bytearray:
        return self._get().component_mailers(mailers)

    def acknowledgement_forms(self, forms: Sequence[AcknowledgementForm]) -> bytearray:
        return self._get().acknowledgement_forms(forms)

    def ceremony_record(self, record: CeremonyDocument) -> bytearray:
        return self._get().ceremony_record(record)


def build_renderer(config: WorkstationConfig) -> DocumentRenderer:
    return DeferredRenderer()


def build_print_queue(config: WorkstationConfig) -> PrintQueue:
    from workstation.adapters.print_queue import LpPrintQueue

    return LpPrintQueue(config.printer, config.print_command)


def build_mailer(config: WorkstationConfig) -> Mailer | None:
    """The SMTP relay of ``[mail]``, or None when none is configured. The password is read
    when a message is sent, not at start-up."""
    if config.mail is None:
        return None
    import ssl

    from workstation.adapters.smtp_mail import SmtpMailer

    mail = config.mail
    context = ssl.create_default_context(
        cafile=str(config.resolve(mail.ca_file)) if mail.ca_file else None
    )
    return SmtpMailer(
        mail.host,
        mail.port,
        sender=mail.sender,
        security=mail.security,
        username=mail.username or None,
        password=config.mail_password if mail.username else None,
        ssl_context=context,
    )


def build(
    home: Path,
    *,
    hsm: Hsm | None = None,
    repository: Repository | None = None,
    readers: CardReaders | None = None,
    clock: Clock | None = None,
    hsm_pin: str | None = None,
) -> tuple[WorkstationConfig, WorkstationServices]:
    """Build the services for the workstation in ``home``; tests may pass their own ports.

    ``hsm_pin`` is the HSM user PIN already asked for by the caller (the desktop
    application asks in a dialog on the GUI thread when ``pin_source = "prompt"``, since
    it has no terminal); without it the PIN comes from the configured source."""
    from workstation.adapters.tls_probe import SslTlsProbe

    config = load_or_create(home)
    setup_logging(config)
    ctx = ServiceContext(
        repository=repository or build_repository(config),
        hsm=hsm or build_hsm(config, pin=hsm_pin),
        readers=readers or build_readers(config),
        clock=clock,
        renderer=build_renderer(config),
        print_queue=build_print_queue(config),
        tls_probe=SslTlsProbe(),
        mailer=build_mailer(config),
        key_stores=build_key_stores(config),
        open_repository_copy=open_repository_copy,
    )
    return config, WorkstationServices(ctx)
