"""Fakes behind the ports, for fast unit tests of the services.

Integration tests cover the real adapters (SoftHSM2, pcscd + virtual cards, SQLite); these
fakes follow the same contracts so the services can be tested in milliseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap_with_padding,
    aes_key_wrap_with_padding,
)
from cryptography.x509.oid import NameOID

from workstation.domain.algorithms import KeyAlgorithm, KeyFamily
from workstation.errors import (
    AlreadyInitialised,
    BadInput,
    CardBlocked,
    CardRemoved,
    IntegrityError,
    NoCardPresent,
    PinIncorrect,
)
from workstation.services.ports import CardWatch, GeneratedKey, HsmInfo, PivCard, ReaderStatus


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        self.mono += seconds


class FakeHsm:
    """Keys in process memory; same contract as the PKCS#11 adapter."""

    def __init__(self) -> None:
        self.master: bytes | None = None
        self.binding: bytes | None = None
        self.audit_key: ec.EllipticCurvePrivateKey | None = None
        self.generated: list[bytes] = []  # clear values, so tests can look for leaks

    def info(self) -> HsmInfo:
        return HsmInfo("fake", "Fake", "FakeHSM", "0001", "FAKE")

    def has_workstation_keys(self) -> bool:
        return self.master is not None

    def create_workstation_keys(self) -> None:
        if self.master is not None:
            raise AlreadyInitialised("keys exist")
        self.master = os.urandom(32)
        self.binding = os.urandom(32)
        self.audit_key = ec.generate_private_key(ec.SECP256R1())

    def _kcv(self, algorithm: KeyAlgorithm, value: bytes) -> bytes:
        if algorithm.family is KeyFamily.TDES:
            k = value if len(value) == 24 else value + value[:8]
            enc = Cipher(TripleDES(k), modes.ECB()).encryptor()  # noqa: S305
            return (enc.update(bytes(8)) + enc.finalize())[:3]
        c = CMAC(algorithms.AES(value))
        c.update(bytes(16))
        return c.finalize()[:5]

    def generate_key(self, algorithm: KeyAlgorithm) -> GeneratedKey:
        assert self.master is not None
        if algorithm.is_symmetric:
            value = os.urandom(algorithm.key_bytes)
            self.generated.append(value)
            return GeneratedKey(
                aes_key_wrap_with_padding(self.master, value), self._kcv(algorithm, value)
            )
        private = ec.generate_private_key(ec.SECP256R1())
        der = private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        spki = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return GeneratedKey(
            aes_key_wrap_with_padding(self.master, der), hashlib.sha256(spki).digest()[:3], spki
        )

    def key_check_value(self, algorithm: KeyAlgorithm, wrapped: bytes) -> bytes:
        assert self.master is not None
        try:
            value = aes_key_unwrap_with_padding(self.master, wrapped)
        except InvalidUnwrap:
            raise IntegrityError("unwrap failed") from None
        return self._kcv(algorithm, value)

    def bind(self, data: bytes) -> bytes:
        assert self.binding is not None
        return hmac.new(self.binding, data, hashlib.sha256).digest()

    def verify_binding(self, data: bytes, mac: bytes) -> bool:
        return hmac.compare_digest(self.bind(data), mac)

    def audit_public_key(self) -> bytes:
        assert self.audit_key is not None
        return self.audit_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign_audit(self, message: bytes) -> bytes:
        assert self.audit_key is not None
        return self.audit_key.sign(message, ec.ECDSA(hashes.SHA256()))

    def close(self) -> None:
        pass


@dataclass
class FakeCardData:
    """A PIV card: key pair, certificate, PIN with a retry counter."""

    holder: str
    pin: str = "123456"
    tries: int = 3
    max_tries: int = 3
    not_after: datetime = field(default_factory=lambda: datetime(2030, 1, 1, tzinfo=UTC))
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    certificate: bytes = b""
    verified: bool = False

    def __post_init__(self) -> None:
        if not self.certificate:
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.holder)])
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(self.key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
                .not_valid_after(self.not_after)
                .sign(self.key, hashes.SHA256())
            )
            self.certificate = cert.public_bytes(serialization.Encoding.DER)


class FakePivCard:
    def __init__(self, readers: FakeReaders, reader: str, data: FakeCardData) -> None:
        self._readers = readers
        self._reader = reader
        self.data = data
        self.generation = readers.generation[reader]
        data.verified = False

    @property
    def reader(self) -> str:
        return self._reader

    def _check(self) -> None:
        if not self.still_present():
            raise CardRemoved("The card was removed.")

    def authentication_certificate(self) -> bytes:
        self._check()
        return self.data.certificate

    def pin_retries_left(self) -> int | None:
        self._check()
        return self.data.tries

    def verify_pin(self, pin: bytearray) -> None:
        self._check()
        if not (6 <= len(pin) <= 8 and bytes(pin).isdigit()):
            raise BadInput("A PIN has 6 to 8 digits.")
        if self.data.tries == 0:
            raise CardBlocked()
        if bytes(pin).decode() != self.data.pin:
            self.data.tries -= 1
            raise PinIncorrect(self.data.tries)
        self.data.tries = self.data.max_tries
        self.data.verified = True

    def sign(self, message: bytes) -> bytes:
        self._check()
        if not self.data.verified:
            raise BadInput("PIN not verified")
        return self.data.key.sign(message, ec.ECDSA(hashes.SHA256()))

    def change_pin(self, old: bytearray, new: bytearray) -> None:
        self.verify_pin(old)
        self.data.pin = bytes(new).decode()

    def still_present(self) -> bool:
        return self._readers.generation.get(self._reader) == self.generation and (
            self._readers.slots.get(self._reader) is self.data
        )

    def close(self) -> None:
        pass


class _Watch:
    def __init__(self, readers: FakeReaders, cb: Callable[[list[ReaderStatus]], None]) -> None:
        self.readers = readers
        self.cb = cb

    def stop(self) -> None:
        if self in self.readers.watches:
            self.readers.watches.remove(self)


class FakeReaders:
    def __init__(self, count: int = 4) -> None:
        self.names = [f"Fake Reader {i:02d}" for i in range(count)]
        self.slots: dict[str, FakeCardData | None] = dict.fromkeys(self.names)
        self.generation: dict[str, int] = dict.fromkeys(self.names, 0)
        self.watches: list[_Watch] = []
        self.lock = threading.Lock()

    def readers(self) -> list[ReaderStatus]:
        return [ReaderStatus(n, self.slots[n] is not None) for n in self.names]

    def connect(self, reader: str) -> PivCard:
        data = self.slots.get(reader)
        if data is None:
            raise NoCardPresent(f"No card in {reader}.")
        return FakePivCard(self, reader, data)

    def watch(self, on_change: Callable[[list[ReaderStatus]], None]) -> CardWatch:
        w = _Watch(self, on_change)
        self.watches.append(w)
        return w

    def insert(self, index: int, card: FakeCardData) -> str:
        name = self.names[index]
        self.slots[name] = card
        self.generation[name] += 1
        self._notify()
        return name

    def remove(self, index: int) -> None:
        name = self.names[index]
        self.slots[name] = None
        self.generation[name] += 1
        self._notify()

    def _notify(self) -> None:
        for w in list(self.watches):
            w.cb(self.readers())
