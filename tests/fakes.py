"""Fakes behind the ports, for fast unit tests of the services.

Integration tests cover the real adapters (SoftHSM2, pcscd + virtual cards, SQLite); these
fakes follow the same contracts so the services can be tested in milliseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap_with_padding,
    aes_key_wrap_with_padding,
)
from cryptography.x509.oid import NameOID

from workstation.domain.algorithms import (
    KeyAlgorithm,
    KeyFamily,
    key_pair_algorithms,
    name_list,
    rsa_algorithm,
)
from workstation.errors import (
    AlreadyInitialised,
    BadInput,
    CardBlocked,
    CardRemoved,
    HsmError,
    IntegrityError,
    NoCardPresent,
    NotFound,
    PinIncorrect,
)
from workstation.services.ports import (
    CardWatch,
    GeneratedKey,
    HsmInfo,
    PivCard,
    ReaderStatus,
    WorkstationKeyBackup,
)
from workstation.standards import ecdh


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

    BACKUP_FIELDS = frozenset(
        {
            "format",
            "version",
            "master",
            "binding",
            "binding_type",
            "audit_private",
            "audit_public",
            "transport_kcv",
        }
    )

    def __init__(self) -> None:
        self.master: bytes | None = None
        self.binding: bytes | None = None
        self.audit_key: ec.EllipticCurvePrivateKey | None = None
        # Clear values (generated, imported, backup transport keys), so tests can look for
        # leaks.
        self.generated: list[bytes] = []
        # False: the workstation keys behave as if created unexportable (no backup by shares).
        self.exportable = True
        # Exchange key pairs by name (the adapter keeps them as token objects).
        self.exchange_keys: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey] = {}

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
        # The pair asked for (the adapter makes it inside the HSM): its PKCS #8 is wrapped.
        private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        if algorithm.family is KeyFamily.RSA:
            private = rsa.generate_private_key(65537, algorithm.bits)
        else:
            private = ec.generate_private_key(dict(self.EXCHANGE_CURVES)[algorithm])
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

    # --- clear key material for paper ceremonies ------------------------------------------

    def random_bytes(self, length: int) -> bytearray:
        if not 1 <= length <= 4096:
            raise BadInput(f"{length} random bytes were asked for; the HSM gives 1 to 4096.")
        return bytearray(os.urandom(length))

    def import_clear_key(self, algorithm: KeyAlgorithm, value: bytearray) -> GeneratedKey:
        assert self.master is not None
        if not algorithm.is_symmetric:
            raise BadInput(f"{algorithm.value} is a key pair: only secret keys are imported.")
        if len(value) != algorithm.key_bytes:
            raise BadInput(
                f"{algorithm.value} keys are {algorithm.key_bytes} bytes long; the value given "
                f"is {len(value)} bytes.",
            )
        if algorithm.family is KeyFamily.TDES:
            for index, byte in enumerate(value):
                if not byte.bit_count() % 2:
                    raise BadInput(f"Byte {index + 1} of the key does not have odd parity.")
        clear = bytes(value)
        self.generated.append(clear)
        return GeneratedKey(
            aes_key_wrap_with_padding(self.master, clear), self._kcv(algorithm, clear)
        )

    def export_clear_key(self, algorithm: KeyAlgorithm, wrapped: bytes) -> bytearray:
        assert self.master is not None
        if not algorithm.is_symmetric:
            raise BadInput(f"{algorithm.value} is a key pair: only secret keys are exported.")
        try:
            value = aes_key_unwrap_with_padding(self.master, wrapped)
        except InvalidUnwrap:
            raise IntegrityError("unwrap failed") from None
        if len(value) != algorithm.key_bytes:
            raise IntegrityError(f"the wrapped key holds {len(value)} bytes")
        return bytearray(value)

    def backup_workstation_keys(self) -> WorkstationKeyBackup:
        assert self.master is not None and self.binding is not None
        assert self.audit_key is not None
        if not self.exportable:
            raise HsmError(
                "The workstation keys on token FAKE were created unexportable; they cannot be "
                "backed up by shares."
            )
        transport = os.urandom(32)
        self.generated.append(transport)
        kcv = self._kcv(KeyAlgorithm.AES_256, transport)
        private = self.audit_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        document = {
            "format": "kcw-workstation-keys",
            "version": 1,
            "master": aes_key_wrap_with_padding(transport, self.master).hex().upper(),
            "binding": aes_key_wrap_with_padding(transport, self.binding).hex().upper(),
            "binding_type": "hmac-sha256",
            "audit_private": aes_key_wrap_with_padding(transport, private).hex().upper(),
            "audit_public": self.audit_public_key().hex().upper(),
            "transport_kcv": kcv.hex().upper(),
        }
        blob = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")
        return WorkstationKeyBackup(
            transport_key=bytearray(transport), transport_kcv=kcv, blob=blob
        )

    def restore_workstation_keys(self, transport_key: bytearray, blob: bytes) -> None:
        if self.master is not None:
            raise AlreadyInitialised("keys exist")
        if len(transport_key) != 32:
            raise BadInput(f"The transport key is {len(transport_key)} bytes long, not 32.")
        fields = self._parse_backup(blob)
        transport = bytes(transport_key)
        if self._kcv(KeyAlgorithm.AES_256, transport) != fields["transport_kcv"]:
            raise IntegrityError("The shares do not recombine to this backup's transport key.")
        try:
            master = aes_key_unwrap_with_padding(transport, fields["master"])
            binding = aes_key_unwrap_with_padding(transport, fields["binding"])
            private_der = aes_key_unwrap_with_padding(transport, fields["audit_private"])
        except InvalidUnwrap:
            raise IntegrityError("The backup does not unwrap under its transport key.") from None
        try:
            private = serialization.load_der_private_key(private_der, None)
        except ValueError:
            raise IntegrityError("The backup's audit key is not a private key.") from None
        if not isinstance(private, ec.EllipticCurvePrivateKey) or (
            private.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            != fields["audit_public"]
        ):
            raise IntegrityError("The backup's audit public key does not belong to its key.")
        # All or nothing: nothing is kept until everything unwrapped.
        self.master, self.binding, self.audit_key = master, binding, private

    @classmethod
    def _parse_backup(cls, blob: bytes) -> dict[str, bytes]:
        try:
            document = json.loads(bytes(blob).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BadInput("The workstation key backup is not a JSON document.") from None
        if not isinstance(document, dict) or document.keys() != cls.BACKUP_FIELDS:
            raise BadInput("The workstation key backup does not have the expected fields.")
        for name, expected in (("format", "kcw-workstation-keys"), ("version", 1)):
            if document[name] != expected or type(document[name]) is not type(expected):
                raise BadInput(f"The field {name!r} of the workstation key backup is wrong.")
        if document["binding_type"] != "hmac-sha256":
            raise BadInput("The field 'binding_type' of the workstation key backup is wrong.")
        fields: dict[str, bytes] = {}
        for name in ("master", "binding", "audit_private", "audit_public", "transport_kcv"):
            try:
                fields[name] = bytes.fromhex(document[name])
            except (TypeError, ValueError):
                raise BadInput(
                    f"The field {name!r} of the workstation key backup is not hexadecimal."
                ) from None
        if len(fields["transport_kcv"]) != 5:
            raise BadInput("The field 'transport_kcv' of the workstation key backup is wrong.")
        return fields

    # --- managed key pairs (same checks and messages as the PKCS#11 adapter) --------------

    def sign_with_key(self, algorithm: KeyAlgorithm, wrapped: bytes, message: bytes) -> bytes:
        if not isinstance(message, bytes | bytearray):
            raise BadInput(f"The message to sign is {type(message).__name__}, not bytes.")
        private = self._stored_private(
            algorithm, wrapped, "signs", name_list(key_pair_algorithms())
        )
        if isinstance(private, rsa.RSAPrivateKey):
            return private.sign(bytes(message), padding.PKCS1v15(), hashes.SHA256())
        return private.sign(bytes(message), ec.ECDSA(hashes.SHA256()))

    def export_private_key(self, algorithm: KeyAlgorithm, wrapped: bytes) -> bytearray:
        if not isinstance(algorithm, KeyAlgorithm) or algorithm.is_symmetric:
            shown = algorithm.value if isinstance(algorithm, KeyAlgorithm) else repr(algorithm)
            raise BadInput(
                f"{shown} is not a key pair algorithm: only a stored key pair's private key "
                "is exported this way (secret keys leave as components or key blocks).",
            )
        private = self._stored_private(algorithm, wrapped, "", "")
        return bytearray(
            private.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def _stored_private(
        self, algorithm: KeyAlgorithm, wrapped: bytes, verb: str, names: str
    ) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
        assert self.master is not None
        if not isinstance(algorithm, KeyAlgorithm) or algorithm.is_symmetric:
            shown = algorithm.value if isinstance(algorithm, KeyAlgorithm) else repr(algorithm)
            raise BadInput(
                f"{shown} is not a key pair algorithm: only a stored key pair ({names}) {verb}.",
            )
        if not isinstance(wrapped, bytes | bytearray):
            raise BadInput(f"The wrapped key pair is {type(wrapped).__name__}, not bytes.")
        if not 16 <= len(wrapped) <= 4096 or len(wrapped) % 8:
            raise IntegrityError(
                f"The wrapped {algorithm.value} key pair is {len(wrapped)} bytes long; wrapped "
                "under the master key it is a multiple of 8 bytes, 16 to 4096. It is refused.",
            )
        refused = IntegrityError(
            f"The wrapped {algorithm.value} key pair does not unwrap under this workstation's "
            "master key: it was altered, belongs to another workstation or holds another kind "
            "of key. It is refused.",
        )
        try:
            private = serialization.load_der_private_key(
                aes_key_unwrap_with_padding(self.master, bytes(wrapped)), None
            )
        except (InvalidUnwrap, ValueError):
            raise refused from None
        # As the adapter: the HSM unwraps as the family's key type (another family does not
        # unwrap), then the size or curve is checked.
        held: str | None
        if isinstance(private, rsa.RSAPrivateKey) and algorithm.family is KeyFamily.RSA:
            size = rsa_algorithm(private.key_size)
            held = size.value if size is not None else None
            if held == algorithm.value:
                return private
        elif isinstance(private, ec.EllipticCurvePrivateKey) and algorithm.family is KeyFamily.EC:
            held = next(
                (a.value for a, c in self.EXCHANGE_CURVES if c.name == private.curve.name), None
            )
            if held == algorithm.value:
                return private
        else:
            raise refused
        raise IntegrityError(
            f"The wrapped key pair is not {algorithm.value}: its private key is "
            f"{held or 'of another kind'}. It is refused.",
        )

    # --- exchange key pairs (same checks and messages as the PKCS#11 adapter) -------------

    EXCHANGE_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
    EXCHANGE_CURVES: tuple[tuple[KeyAlgorithm, ec.EllipticCurve], ...] = (
        (KeyAlgorithm.EC_P256, ec.SECP256R1()),
        (KeyAlgorithm.EC_P384, ec.SECP384R1()),
        (KeyAlgorithm.EC_P521, ec.SECP521R1()),
    )

    @classmethod
    def _exchange_name(cls, name: str) -> str:
        if not isinstance(name, str) or len(name) > 48 or not cls.EXCHANGE_NAME.fullmatch(name):
            raise BadInput(
                f"The exchange key name {name!r} is not valid: use 1 to 48 lower-case letters "
                "and digits, with single dashes between them (for example 'tr34-krd').",
            )
        return name

    def _exchange_key(self, name: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
        key = self.exchange_keys.get(self._exchange_name(name))
        if key is None:
            raise NotFound(f"HSM token 'FAKE' holds no exchange key pair {name!r}.")
        return key

    @staticmethod
    def _spki(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
        return key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def _exchange_algorithm(self, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
        if isinstance(key, rsa.RSAPrivateKey):
            return f"RSA-{key.key_size}"
        return next(a.value for a, c in self.EXCHANGE_CURVES if c.name == key.curve.name)

    def exchange_public_key(self, name: str) -> bytes | None:
        key = self.exchange_keys.get(self._exchange_name(name))
        return None if key is None else self._spki(key)

    def create_exchange_key(self, name: str, algorithm: KeyAlgorithm) -> bytes:
        self._exchange_name(name)
        # As the adapter: RSA of at least 2048 bits or EC (the EMV sizes are not for these).
        exchange = key_pair_algorithms(min_rsa_bits=2048)
        if not isinstance(algorithm, KeyAlgorithm) or algorithm not in exchange:
            shown = algorithm.value if isinstance(algorithm, KeyAlgorithm) else repr(algorithm)
            raise BadInput(
                f"{shown} is not a key pair algorithm: an exchange key pair is "
                f"{name_list(exchange)}.",
            )
        if name in self.exchange_keys:
            raise AlreadyInitialised(
                f"HSM token 'FAKE' already holds exchange key pair {name!r}; delete it first "
                "to replace it.",
            )
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        if algorithm.family is KeyFamily.RSA:
            key = rsa.generate_private_key(65537, algorithm.bits)
        else:
            key = ec.generate_private_key(dict(self.EXCHANGE_CURVES)[algorithm])
        self.exchange_keys[name] = key
        return self._spki(key)

    def exchange_sign(self, name: str, message: bytes) -> bytes:
        key = self._exchange_key(name)
        if not isinstance(message, bytes | bytearray):
            raise BadInput(f"The message to sign is {type(message).__name__}, not bytes.")
        if isinstance(key, rsa.RSAPrivateKey):
            if name.endswith("-krd"):  # as the PKCS#11 adapter: an RSA pair signs or decrypts
                raise BadInput(
                    f"Exchange key {name!r} is a key receiving device's key: it decrypts "
                    "and does not sign."
                )
            return key.sign(bytes(message), padding.PKCS1v15(), hashes.SHA256())
        return key.sign(bytes(message), ec.ECDSA(hashes.SHA256()))

    def exchange_decrypt_raw(self, name: str, ciphertext: bytes) -> bytearray:
        key = self._exchange_key(name)
        if not isinstance(ciphertext, bytes | bytearray):
            raise BadInput(f"The ciphertext is {type(ciphertext).__name__}, not bytes.")
        algorithm = self._exchange_algorithm(key)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise BadInput(
                f"Exchange key {name!r} is an {algorithm} key: only RSA exchange keys decrypt.",
            )
        if not name.endswith("-krd"):
            raise BadInput(
                f"Exchange key {name!r} is a signing key: only a key receiving device's key "
                "(a name ending -krd) decrypts."
            )
        numbers = key.private_numbers()
        n = numbers.public_numbers.n
        size = (n.bit_length() + 7) // 8
        if len(ciphertext) != size:
            raise BadInput(
                f"The ciphertext is {len(ciphertext)} bytes long; exchange key {name!r} "
                f"({algorithm}) decrypts exactly {size} bytes.",
            )
        c = int.from_bytes(ciphertext, "big")
        if c >= n:
            raise BadInput(
                f"The ciphertext is not below the modulus of exchange key {name!r}: it was "
                "not encrypted under this key.",
            )
        return bytearray(pow(c, numbers.d, n).to_bytes(size, "big"))

    def exchange_agree(self, name: str, peer_public_key: bytes) -> bytearray:
        key = self._exchange_key(name)
        algorithm = self._exchange_algorithm(key)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise BadInput(
                f"Exchange key {name!r} is an {algorithm} key: only elliptic-curve exchange "
                "keys agree on a shared secret.",
            )
        if not isinstance(peer_public_key, bytes | bytearray):
            raise BadInput(
                f"The peer's public key is {type(peer_public_key).__name__}, not a DER "
                "SubjectPublicKeyInfo.",
            )
        try:
            peer = ecdh.load_public_key(bytes(peer_public_key))
        except ecdh.ECDHError as exc:
            raise BadInput(
                f"The peer's public key for exchange key {name!r} is refused ({exc}).",
            ) from None
        theirs = next(a for a, c in self.EXCHANGE_CURVES if c.name == peer.curve.name)
        if theirs.value != algorithm:
            ours = KeyAlgorithm(algorithm)
            raise BadInput(
                f"The peer's public key is on {theirs.curve} ({theirs.value}); exchange key "
                f"{name!r} is on {ours.curve} ({ours.value}): both must be on the same curve.",
            )
        return bytearray(key.exchange(ec.ECDH(), peer))

    def delete_exchange_key(self, name: str) -> None:
        self.exchange_keys.pop(self._exchange_name(name), None)

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
