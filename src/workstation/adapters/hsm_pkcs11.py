"""The workstation's HSM through PKCS#11 (python-pkcs11): the ``Hsm`` port.

Any vendor's PKCS#11 module works: the module path, the token label, the user PIN and the
environment the module reads at ``C_Initialize`` come from configuration. Nothing here
knows about SoftHSM (the embedded default is provisioned by ``adapters.softhsm``).

What lives on the token (PKCS#11 token objects, created once by ``create_workstation_keys``):

========================  ================================================================
``KCW master key``        AES-256, WRAP/UNWRAP only: wraps every key the workstation stores
``KCW binding key``       256-bit generic secret for CKM_SHA256_HMAC, SIGN/VERIFY only: binds
                          repository rows to their wrapped values (falls back to AES-256 with
                          CKM_AES_CMAC on a module without HMAC key generation)
``KCW audit key``         EC P-256 key pair: signs audit checkpoints
========================  ================================================================

All three are sensitive and never extractable. Every other key lives on the token only for
the length of one call, as a session object (CKA_TOKEN false), and leaves it wrapped under
the master key (CKM_AES_KEY_WRAP_PAD, RFC 5649). No clear key byte is ever read from the
HSM: check values are computed inside it.

Threads: PKCS#11 login state belongs to the application, not to a session (PKCS#11 v2.40
base §5.6, C_Login), and python-pkcs11 calls C_Initialize with no locking arguments, which
promises the module that calls will not overlap (§5.4, C_Initialize / CK_C_INITIALIZE_ARGS).
So every ``Pkcs11Hsm`` on one module takes the same lock (``pkcs11_module_lock``), and all
the instances on one token share one logged-in session.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import pkcs11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11
from pkcs11.types import (
    EncryptMixin,
    Object,
    Session,
    SignMixin,
    Token,
    UnwrapMixin,
    VerifyMixin,
    WrapMixin,
)

from workstation.domain.algorithms import KeyAlgorithm, KeyFamily
from workstation.errors import (
    AlreadyInitialised,
    BadInput,
    HsmError,
    HsmPinRejected,
    IntegrityError,
    NotInitialised,
    WorkstationError,
)
from workstation.services.ports import GeneratedKey, HsmInfo

__all__ = [
    "AUDIT_KEY_LABEL",
    "BINDING_KEY_LABEL",
    "MASTER_KEY_LABEL",
    "Pkcs11Hsm",
    "pkcs11_module_lock",
]

log = logging.getLogger(__name__)

MASTER_KEY_LABEL = "KCW master key"
BINDING_KEY_LABEL = "KCW binding key"
AUDIT_KEY_LABEL = "KCW audit key"
_WORKSTATION_LABELS = (MASTER_KEY_LABEL, BINDING_KEY_LABEL, AUDIT_KEY_LABEL)

# RFC 5649 (AES key wrap with padding); PKCS#11 v2.40 Current Mechanisms, "AES Key Wrap".
_WRAP = Mechanism.AES_KEY_WRAP_PAD

# Attributes of the three workstation keys (PKCS#11 v2.40 base §4.4 storage objects, §4.9
# private keys, §4.10 secret keys). SENSITIVE and not EXTRACTABLE mean no one, the
# workstation included, can read or wrap them out; not MODIFIABLE stops anyone with the user
# PIN from switching CKA_DECRYPT on for the master key (which would decrypt every wrapped
# key); not COPYABLE stops C_CopyObject from making a copy with other attributes.
_RESIDENT_SECRET: dict[Attribute, Any] = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.MODIFIABLE: False,
    Attribute.COPYABLE: False,
}
_RESIDENT_PUBLIC: dict[Attribute, Any] = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: False,
    Attribute.MODIFIABLE: False,
}

# Keys made for one call: session objects (gone when the session closes even if a destroy
# fails), sensitive (CKA_VALUE never readable) but extractable, so that C_WrapKey may export
# them under the master key (PKCS#11 v2.40 base §5.14, C_WrapKey).
_TRANSIENT_EXPORTABLE: dict[Attribute, Any] = {
    Attribute.TOKEN: False,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: True,
}
_TRANSIENT_PUBLIC: dict[Attribute, Any] = {Attribute.TOKEN: False}
# Unwrapped only to compute a check value: not even wrappable again.
_TRANSIENT_CHECK: dict[Attribute, Any] = {
    Attribute.TOKEN: False,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
}

_SECRET_KEY_TYPES: dict[KeyAlgorithm, tuple[KeyType, Mechanism]] = {
    KeyAlgorithm.TDES_2KEY: (KeyType.DES2, Mechanism.DES2_KEY_GEN),
    KeyAlgorithm.TDES_3KEY: (KeyType.DES3, Mechanism.DES3_KEY_GEN),
    KeyAlgorithm.AES_128: (KeyType.AES, Mechanism.AES_KEY_GEN),
    KeyAlgorithm.AES_192: (KeyType.AES, Mechanism.AES_KEY_GEN),
    KeyAlgorithm.AES_256: (KeyType.AES, Mechanism.AES_KEY_GEN),
}

# The check value is the only use a transient secret key has inside the HSM: TDES keys
# encrypt (ECB) and AES keys MAC (CMAC).
_KCV_CAPABILITY: dict[KeyFamily, MechanismFlag] = {
    KeyFamily.TDES: MechanismFlag.ENCRYPT,
    KeyFamily.AES: MechanismFlag.SIGN,
}

# namedCurve OIDs, DER (RFC 5480 §2.1.1.1), as CKA_EC_PARAMS (PKCS#11 v2.40 Current
# Mechanisms §2.3.3: DER of the ANSI X9.62 Parameters choice).
_EC_PARAMS: dict[KeyAlgorithm, bytes] = {
    KeyAlgorithm.EC_P256: bytes.fromhex("06082a8648ce3d030107"),  # 1.2.840.10045.3.1.7
    KeyAlgorithm.EC_P384: bytes.fromhex("06052b81040022"),  # 1.3.132.0.34
    KeyAlgorithm.EC_P521: bytes.fromhex("06052b81040023"),  # 1.3.132.0.35
}
_EC_CURVES: dict[KeyAlgorithm, ec.EllipticCurve] = {
    KeyAlgorithm.EC_P256: ec.SECP256R1(),
    KeyAlgorithm.EC_P384: ec.SECP384R1(),
    KeyAlgorithm.EC_P521: ec.SECP521R1(),
}
_RSA_PUBLIC_EXPONENT = 65537

# Failures of the HSM itself (or of the connection to it), as opposed to a refusal of the
# data given to it: an unwrap that fails with one of these is not an integrity failure.
_INFRASTRUCTURE_ERRORS: tuple[type[p11.PKCS11Error], ...] = (
    p11.DeviceError,
    p11.DeviceMemory,
    p11.DeviceRemoved,
    p11.HostMemory,
    p11.TokenNotPresent,
    p11.TokenNotRecognised,
    p11.SessionClosed,
    p11.SessionHandleInvalid,
    p11.UserNotLoggedIn,
    p11.MechanismInvalid,
    p11.FunctionNotSupported,
    p11.UnwrappingKeyHandleInvalid,
    p11.OperationActive,
)

_T = TypeVar("_T")


# --- process-wide state: one lock per module, one login per token -------------------------

_registry_lock = threading.Lock()
_module_locks: dict[str, threading.RLock] = {}
_module_environments: dict[str, dict[str, str]] = {}
_shared_sessions: dict[tuple[str, str, bytes], _SharedSession] = {}
# PINs are compared (when a second instance attaches to a logged-in token) through an HMAC
# under a key that exists only in this process's memory; the PIN itself is never kept.
_PIN_DIGEST_KEY = secrets.token_bytes(32)


def pkcs11_module_lock(module_path: str) -> threading.RLock:
    """The lock every caller of the PKCS#11 module at ``module_path`` holds in this process.

    Other adapters that call the same module directly (for example through ctypes to
    initialise a token) take it too, so that no two calls into the module overlap.
    """
    real = os.path.realpath(module_path)
    with _registry_lock:
        lock = _module_locks.get(real)
        if lock is None:
            lock = _module_locks[real] = threading.RLock()
        return lock


@dataclass(eq=False)
class _SharedSession:
    """The one logged-in R/W session of this process on one token."""

    key: tuple[str, str, bytes]
    token: Token
    session: Session
    pin_digest: bytes
    mechanisms: frozenset[int]
    users: int = 1
    objects: dict[tuple[str, ObjectClass], Object] = field(default_factory=dict)
    binding_mechanism: Mechanism | None = None


def _pin_digest(pin: str) -> bytes:
    return hmac.new(_PIN_DIGEST_KEY, pin.encode("utf-8"), hashlib.sha256).digest()


def _apply_environment(real_module: str, environment: Mapping[str, str]) -> None:
    """Set the variables a module reads at C_Initialize (its configuration file, say).

    A module reads them once per process; asking for other values once it is loaded would
    silently have no effect, so that is refused.
    """
    recorded = _module_environments.get(real_module)
    if recorded is not None:
        for name, value in environment.items():
            effective = recorded.get(name, os.environ.get(name))
            if effective != value:
                raise HsmError(
                    f"The PKCS#11 module {real_module} is already in use in this program with "
                    f"{name}={effective!r}; it reads its configuration only once, so "
                    f"{name}={value!r} cannot take effect. Restart the program.",
                )
        recorded.update(environment)
    else:
        _module_environments[real_module] = dict(environment)
    os.environ.update(environment)


def _load_module(module_path: str, real_module: str) -> Any:
    if not os.path.isfile(real_module):
        raise HsmError(
            f"The PKCS#11 module {module_path} does not exist. Check the HSM configuration.",
        )
    try:
        # Always the resolved path: python-pkcs11 keeps one library object per path string,
        # and a second object for the same module would call C_Initialize twice.
        return pkcs11.lib(real_module)
    except (p11.PKCS11Error, OSError) as exc:
        raise HsmError(
            f"The PKCS#11 module {module_path} could not be loaded.",
            detail=f"{type(exc).__name__}: {exc}",
        ) from exc


def _find_token(lib: Any, module_path: str, label: str) -> Token:
    """The initialised token labelled ``label``. Slot ids may change when a token is
    initialised or the module restarts, so tokens are always found by label."""
    matches: list[Token] = []
    others: list[str] = []
    for slot in lib.get_slots(token_present=True):
        try:
            token = slot.get_token()
        except (p11.TokenNotPresent, p11.TokenNotRecognised):
            continue
        if not token.flags & TokenFlag.TOKEN_INITIALIZED:
            continue
        if token.label == label:
            matches.append(token)
        else:
            others.append(token.label)
    if len(matches) > 1:
        raise HsmError(
            f"{len(matches)} HSM tokens are labelled {label!r} in {module_path}; the "
            "workstation needs exactly one. Relabel or remove the others.",
        )
    if not matches:
        present = ", ".join(repr(x) for x in sorted(others)) or "none"
        raise HsmError(
            f"No HSM token is labelled {label!r} in {module_path}. Tokens present: {present}.",
        )
    return matches[0]


def _translate(exc: p11.PKCS11Error, action: str, label: str) -> WorkstationError:
    """A python-pkcs11 exception as words a custodian understands (the detail keeps the
    library's name for it; pkcs11 exceptions carry return codes, never key material)."""
    detail = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if isinstance(exc, p11.PinIncorrect):
        return HsmPinRejected(
            f"The HSM refused the PIN for token {label!r}. Check the HSM PIN in the "
            "workstation configuration.",
            detail=detail,
        )
    if isinstance(exc, p11.PinLocked):
        return HsmPinRejected(
            f"The user PIN of HSM token {label!r} is locked after too many wrong tries; the "
            "token's security officer must unlock it.",
            detail=detail,
        )
    if isinstance(exc, p11.PinExpired):
        return HsmPinRejected(
            f"The user PIN of HSM token {label!r} has expired and must be changed first.",
            detail=detail,
        )
    if isinstance(exc, p11.PinInvalid | p11.PinLenRange):
        return HsmPinRejected(
            f"The HSM refused the PIN for token {label!r}: it is not of a form the HSM accepts.",
            detail=detail,
        )
    if isinstance(exc, p11.UserAlreadyLoggedIn | p11.UserTooManyTypes):
        return HsmError(
            f"HSM token {label!r} is already logged in by another part of this program "
            "that the workstation did not open. Close it and try again.",
            detail=detail,
        )
    if isinstance(
        exc,
        p11.DeviceRemoved
        | p11.TokenNotPresent
        | p11.TokenNotRecognised
        | p11.SessionClosed
        | p11.SessionHandleInvalid,
    ):
        return HsmError(
            f"The HSM could not {action}: token {label!r} is no longer reachable. Check the "
            "HSM and reconnect.",
            detail=detail,
        )
    if isinstance(exc, p11.UserNotLoggedIn):
        return HsmError(
            f"The HSM could not {action}: the session on token {label!r} is no longer "
            "logged in. Reconnect to the HSM.",
            detail=detail,
        )
    if isinstance(exc, p11.MechanismInvalid | p11.FunctionNotSupported):
        return HsmError(
            f"The HSM could not {action}: it does not support a mechanism the workstation needs.",
            detail=detail,
        )
    return HsmError(f"The HSM could not {action}.", detail=detail)


def _capable(obj: object, kind: type[_T], what: str) -> _T:
    """``obj`` as an object with capability ``kind`` (python-pkcs11 builds its classes from
    the object's attributes at run time)."""
    if not isinstance(obj, kind):
        raise HsmError(f"The HSM object {what} cannot be used for this operation.")
    return obj


@contextmanager
def _transient_objects() -> Iterator[list[Object]]:
    """Collect the session objects made during one call and destroy them at the end,
    whatever happens (C_DestroyObject, PKCS#11 v2.40 base §5.7)."""
    objects: list[Object] = []
    failed = False
    try:
        yield objects
    except BaseException:
        failed = True
        raise
    finally:
        errors: list[p11.PKCS11Error] = []
        for obj in reversed(objects):
            try:
                obj.destroy()
            except p11.PKCS11Error as exc:
                errors.append(exc)
        if errors:
            log.error("could not destroy %d temporary HSM object(s): %r", len(errors), errors)
            if not failed:
                raise HsmError(
                    "The HSM could not destroy a temporary key object. Reconnect to the HSM "
                    "(closing the session removes it).",
                    detail=repr(errors),
                )


def _der_octet_string(data: bytes) -> bytes:
    """The contents of a DER OCTET STRING (X.690 §8.7, definite length)."""
    if len(data) < 2 or data[0] != 0x04:
        raise ValueError("not an OCTET STRING")
    length, offset = data[1], 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 2 or len(data) < 2 + count:
            raise ValueError("bad OCTET STRING length")
        length, offset = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    if offset + length != len(data):
        raise ValueError("OCTET STRING length does not match")
    return data[offset:]


def _ec_spki(ec_point: bytes, curve: ec.EllipticCurve) -> bytes:
    """SubjectPublicKeyInfo (RFC 5480) from CKA_EC_POINT.

    PKCS#11 v2.40 Current Mechanisms §2.3.3 defines CKA_EC_POINT as the DER encoding of the
    X9.62 ECPoint, i.e. an OCTET STRING around the point; some modules return the bare
    point. Both start with 0x04, so the length tells them apart: a bare uncompressed point
    is exactly 1 + 2 * (coordinate size) bytes.
    """
    coordinate = (curve.key_size + 7) // 8
    try:
        if len(ec_point) == 1 + 2 * coordinate and ec_point[0] == 0x04:
            point = ec_point
        else:
            point = _der_octet_string(ec_point)
        public = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    except ValueError as exc:
        raise HsmError(
            "The HSM returned an elliptic-curve public key the workstation cannot read.",
            detail=str(exc),
        ) from exc
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _rsa_spki(modulus: bytes, exponent: bytes, bits: int) -> bytes:
    n = int.from_bytes(modulus, "big")
    e = int.from_bytes(exponent, "big")
    if n.bit_length() != bits or e != _RSA_PUBLIC_EXPONENT:
        raise HsmError(
            f"The HSM generated an RSA key of {n.bit_length()} bits with public exponent {e}; "
            f"{bits} bits with exponent {_RSA_PUBLIC_EXPONENT} were asked for.",
        )
    return (
        rsa.RSAPublicNumbers(e, n)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _wrapped_length(key_bytes: int) -> int:
    """RFC 5649 §4.1: the key is padded to a multiple of 8 bytes and an 8-byte integrity
    block (AIV) is prepended."""
    return 8 + 8 * ((key_bytes + 7) // 8)


class Pkcs11Hsm:
    """The ``Hsm`` port on a PKCS#11 token, found by its label.

    Parameters
    ----------
    module_path
        The vendor's PKCS#11 library (``.so``).
    token_label
        The token's label (CKA_LABEL of the token, up to 32 bytes).
    user_pin
        The token's user (CKU_USER) PIN.
    environment
        Variables the module reads when it is first initialised in this process (its
        configuration file, for example); set before the module is loaded.

    Raises ``HsmError`` if the module cannot be loaded or no token has that label (the
    message lists the labels present), ``HsmPinRejected`` if the token refuses the PIN.
    """

    def __init__(
        self,
        module_path: str,
        token_label: str,
        user_pin: str,
        *,
        environment: dict[str, str] | None = None,
    ) -> None:
        self._module_path = module_path
        self._label = token_label
        self._lock = pkcs11_module_lock(module_path)
        self._closed = True
        real = os.path.realpath(module_path)
        with self._lock:
            _apply_environment(real, environment or {})
            lib = _load_module(module_path, real)
            try:
                token = _find_token(lib, module_path, token_label)
                self._shared = self._attach(real, token, user_pin)
            except p11.PKCS11Error as exc:
                raise _translate(exc, "open the token", token_label) from exc
        self._closed = False

    @staticmethod
    def _attach(real_module: str, token: Token, user_pin: str) -> _SharedSession:
        key = (real_module, token.label, token.serial)
        digest = _pin_digest(user_pin)
        shared = _shared_sessions.get(key)
        if shared is not None:
            # The token is logged in already (login is per application, PKCS#11 v2.40 base
            # §5.6): a second C_Login would answer CKR_USER_ALREADY_LOGGED_IN whatever the
            # PIN, so the PIN is checked against the one that logged in.
            if not hmac.compare_digest(shared.pin_digest, digest):
                raise HsmPinRejected(
                    f"The HSM refused the PIN for token {token.label!r}. Check the HSM PIN in "
                    "the workstation configuration.",
                    detail="PIN differs from the one this process logged in with",
                )
            shared.users += 1
            return shared
        # Note: python-pkcs11 opens the session before C_Login and does not close it when the
        # login fails; such a session holds nothing and goes with C_Finalize.
        session = token.open(rw=True, user_pin=user_pin)
        mechanisms = frozenset(int(m) for m in token.slot.get_mechanisms())
        shared = _SharedSession(key, token, session, digest, mechanisms)
        _shared_sessions[key] = shared
        log.info("logged in to HSM token %r (%s)", token.label, real_module)
        return shared

    # --- context management ------------------------------------------------------------

    def __enter__(self) -> Pkcs11Hsm:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Let go of the token. The last instance on a token logs out (C_Logout) and closes
        the session. Never raises; a failure is logged."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            shared = self._shared
            shared.users -= 1
            if shared.users > 0:
                return
            _shared_sessions.pop(shared.key, None)
            shared.objects.clear()
            try:
                shared.session.close()
            except p11.PKCS11Error as exc:
                log.warning("closing the session on HSM token %r failed: %r", self._label, exc)

    @contextmanager
    def _use(self, action: str) -> Iterator[_SharedSession]:
        with self._lock:
            if self._closed:
                raise HsmError(f"The HSM could not {action}: the connection was closed.")
            try:
                yield self._shared
            except p11.PKCS11Error as exc:
                raise _translate(exc, action, self._label) from exc

    # --- the workstation keys ------------------------------------------------------------

    def _find(self, shared: _SharedSession, label: str, object_class: ObjectClass) -> Object:
        cached = shared.objects.get((label, object_class))
        if cached is not None:
            return cached
        # list(): a search left open (C_FindObjectsFinal not called) blocks the session.
        found = list(
            shared.session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label})
        )
        if not found:
            raise NotInitialised(
                f"HSM token {self._label!r} holds no {label!r}: the workstation keys have not "
                "been created on it.",
            )
        if len(found) > 1:
            raise HsmError(
                f"HSM token {self._label!r} holds {len(found)} objects labelled {label!r}; "
                "the workstation needs exactly one.",
            )
        shared.objects[(label, object_class)] = found[0]
        return found[0]

    def _master(self, shared: _SharedSession) -> Any:
        return self._find(shared, MASTER_KEY_LABEL, ObjectClass.SECRET_KEY)

    @staticmethod
    def _any_workstation_key(shared: _SharedSession) -> bool:
        return any(
            list(shared.session.get_objects({Attribute.LABEL: label}))
            for label in _WORKSTATION_LABELS
        )

    def info(self) -> HsmInfo:
        with self._use("describe the token") as shared:
            token = shared.token
            return HsmInfo(
                library=self._module_path,
                manufacturer=token.manufacturer_id,
                model=token.model,
                serial=token.serial.decode("ascii", "replace").strip(),
                token_label=token.label,
            )

    def has_workstation_keys(self) -> bool:
        with self._use("look for the workstation keys") as shared:
            return self._any_workstation_key(shared)

    def create_workstation_keys(self) -> None:
        with self._use("create the workstation keys") as shared:
            if self._any_workstation_key(shared):
                raise AlreadyInitialised(
                    f"HSM token {self._label!r} already holds workstation keys; they are "
                    "never created twice.",
                )
            session = shared.session
            created: list[Object] = []
            try:
                created.append(
                    session.generate_key(
                        KeyType.AES,
                        256,
                        label=MASTER_KEY_LABEL,
                        store=True,
                        mechanism=Mechanism.AES_KEY_GEN,
                        capabilities=MechanismFlag.WRAP | MechanismFlag.UNWRAP,
                        template=_RESIDENT_SECRET,
                    )
                )
                created.append(self._generate_binding_key(shared))
                public, private = session.generate_keypair(
                    KeyType.EC,
                    label=AUDIT_KEY_LABEL,
                    store=True,
                    mechanism=Mechanism.EC_KEY_PAIR_GEN,
                    capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                    public_template={
                        **_RESIDENT_PUBLIC,
                        Attribute.EC_PARAMS: _EC_PARAMS[KeyAlgorithm.EC_P256],
                    },
                    private_template=_RESIDENT_SECRET,
                )
                created += [public, private]
            except BaseException:
                # All three or none: a half-initialised token would refuse the next attempt.
                for obj in reversed(created):
                    try:
                        obj.destroy()
                    except p11.PKCS11Error as exc:
                        log.error("could not remove a partly created workstation key: %r", exc)
                raise
            shared.objects.clear()
            shared.binding_mechanism = None
            log.info("created the workstation keys on HSM token %r", self._label)

    @staticmethod
    def _generate_binding_key(shared: _SharedSession) -> Object:
        capabilities = MechanismFlag.SIGN | MechanismFlag.VERIFY
        if {Mechanism.GENERIC_SECRET_KEY_GEN, Mechanism.SHA256_HMAC} <= shared.mechanisms:
            # HMAC-SHA-256 (PKCS#11 v2.40 Current Mechanisms, "General-length SHA-256-HMAC")
            # with a 256-bit generic secret. SoftHSM 2.6 accepts this, so the embedded
            # default uses HMAC.
            return shared.session.generate_key(
                KeyType.GENERIC_SECRET,
                256,
                label=BINDING_KEY_LABEL,
                store=True,
                mechanism=Mechanism.GENERIC_SECRET_KEY_GEN,
                capabilities=capabilities,
                template=_RESIDENT_SECRET,
            )
        # A module without HMAC key generation: AES-256 and CKM_AES_CMAC (NIST SP 800-38B).
        return shared.session.generate_key(
            KeyType.AES,
            256,
            label=BINDING_KEY_LABEL,
            store=True,
            mechanism=Mechanism.AES_KEY_GEN,
            capabilities=capabilities,
            template=_RESIDENT_SECRET,
        )

    # --- keys the workstation manages ----------------------------------------------------

    def generate_key(self, algorithm: KeyAlgorithm) -> GeneratedKey:
        if algorithm.is_symmetric:
            return self._generate_secret_key(algorithm)
        return self._generate_key_pair(algorithm)

    def _generate_secret_key(self, algorithm: KeyAlgorithm) -> GeneratedKey:
        key_type, mechanism = _SECRET_KEY_TYPES[algorithm]
        with self._use(f"generate a {algorithm.value} key") as shared, _transient_objects() as objs:
            master = _capable(self._master(shared), WrapMixin, MASTER_KEY_LABEL)
            key = shared.session.generate_key(
                key_type,
                algorithm.bits if key_type is KeyType.AES else None,
                store=False,
                mechanism=mechanism,
                capabilities=_KCV_CAPABILITY[algorithm.family],
                template=_TRANSIENT_EXPORTABLE,
            )
            objs.append(key)
            kcv = _key_check_value(key, algorithm)
            wrapped = master.wrap_key(key, mechanism=_WRAP)
        return GeneratedKey(wrapped=wrapped, kcv=kcv)

    def _generate_key_pair(self, algorithm: KeyAlgorithm) -> GeneratedKey:
        with (
            self._use(f"generate a {algorithm.value} key pair") as shared,
            _transient_objects() as objs,
        ):
            master = _capable(self._master(shared), WrapMixin, MASTER_KEY_LABEL)
            # The pair's attributes do not travel with the wrapped value (only the PKCS #8
            # PrivateKeyInfo does, PKCS#11 v2.40 base §5.14 C_WrapKey), so the transient
            # objects get the least they need.
            capabilities = MechanismFlag.SIGN | MechanismFlag.VERIFY
            if algorithm.family is KeyFamily.RSA:
                public, private = shared.session.generate_keypair(
                    KeyType.RSA,
                    algorithm.bits,
                    store=False,
                    mechanism=Mechanism.RSA_PKCS_KEY_PAIR_GEN,
                    capabilities=capabilities,
                    public_template={
                        **_TRANSIENT_PUBLIC,
                        Attribute.PUBLIC_EXPONENT: _RSA_PUBLIC_EXPONENT.to_bytes(3, "big"),
                    },
                    private_template=_TRANSIENT_EXPORTABLE,
                )
                objs += [public, private]
                spki = _rsa_spki(
                    public[Attribute.MODULUS], public[Attribute.PUBLIC_EXPONENT], algorithm.bits
                )
            else:
                public, private = shared.session.generate_keypair(
                    KeyType.EC,
                    store=False,
                    mechanism=Mechanism.EC_KEY_PAIR_GEN,
                    capabilities=capabilities,
                    public_template={
                        **_TRANSIENT_PUBLIC,
                        Attribute.EC_PARAMS: _EC_PARAMS[algorithm],
                    },
                    private_template=_TRANSIENT_EXPORTABLE,
                )
                objs += [public, private]
                spki = _ec_spki(public[Attribute.EC_POINT], _EC_CURVES[algorithm])
            wrapped = master.wrap_key(private, mechanism=_WRAP)
        # A key pair's check value: the first 3 bytes of SHA-256 over its public key.
        return GeneratedKey(wrapped=wrapped, kcv=hashlib.sha256(spki).digest()[:3], public_key=spki)

    def key_check_value(self, algorithm: KeyAlgorithm, wrapped: bytes) -> bytes:
        if not algorithm.is_symmetric:
            raise BadInput(
                f"{algorithm.value} is a key pair: its check value comes from its public key, "
                "not from the HSM.",
            )
        expected = _wrapped_length(algorithm.key_bytes)
        if len(wrapped) != expected:
            raise IntegrityError(
                f"The wrapped {algorithm.value} key is {len(wrapped)} bytes long; wrapped "
                f"under the master key it is {expected} bytes. It is refused.",
            )
        key_type, _ = _SECRET_KEY_TYPES[algorithm]
        with self._use(f"check a {algorithm.value} key") as shared, _transient_objects() as objs:
            master = _capable(self._master(shared), UnwrapMixin, MASTER_KEY_LABEL)
            try:
                key = master.unwrap_key(
                    ObjectClass.SECRET_KEY,
                    key_type,
                    wrapped,
                    mechanism=_WRAP,
                    store=False,
                    capabilities=_KCV_CAPABILITY[algorithm.family],
                    template=_TRANSIENT_CHECK,
                )
            except _INFRASTRUCTURE_ERRORS:
                raise
            except p11.PKCS11Error as exc:
                # RFC 5649 §3: the unwrap fails when the integrity check (AIV) does not
                # match, i.e. the value was altered or wrapped under another master key.
                raise IntegrityError(
                    f"The wrapped {algorithm.value} key does not unwrap under this "
                    "workstation's master key: it was altered or belongs to another "
                    "workstation. It is refused.",
                    detail=f"{type(exc).__name__}: {exc}",
                ) from exc
            objs.append(key)
            if key_type is KeyType.AES:
                self._check_unwrapped_length(key, algorithm)
            return _key_check_value(key, algorithm)

    @staticmethod
    def _check_unwrapped_length(key: Object, algorithm: KeyAlgorithm) -> None:
        # RFC 5649 carries the exact length inside the wrap; a module that reports
        # CKA_VALUE_LEN lets us check it (some report 0 for unwrapped keys).
        try:
            length = int(key[Attribute.VALUE_LEN])
        except p11.PKCS11Error:
            return
        if length and length != algorithm.key_bytes:
            raise IntegrityError(
                f"The wrapped key holds {length} bytes, not the {algorithm.key_bytes} of "
                f"{algorithm.value}. It is refused.",
            )

    # --- binding MACs and audit signatures -----------------------------------------------

    def _binding(self, shared: _SharedSession) -> tuple[Any, Mechanism]:
        key = self._find(shared, BINDING_KEY_LABEL, ObjectClass.SECRET_KEY)
        if shared.binding_mechanism is None:
            # Whichever kind create_workstation_keys could make on this module.
            shared.binding_mechanism = (
                Mechanism.AES_CMAC
                if key[Attribute.KEY_TYPE] == KeyType.AES
                else Mechanism.SHA256_HMAC
            )
        return key, shared.binding_mechanism

    def bind(self, data: bytes) -> bytes:
        with self._use("compute a binding MAC") as shared:
            key, mechanism = self._binding(shared)
            signer = _capable(key, SignMixin, BINDING_KEY_LABEL)
            return signer.sign(data, mechanism=mechanism)

    def verify_binding(self, data: bytes, mac: bytes) -> bool:
        with self._use("verify a binding MAC") as shared:
            key, mechanism = self._binding(shared)
            verifier = _capable(key, VerifyMixin, BINDING_KEY_LABEL)
            # C_Verify compares inside the HSM; a MAC of the wrong length is a mismatch.
            return verifier.verify(data, mac, mechanism=mechanism)

    def audit_public_key(self) -> bytes:
        with self._use("read the audit public key") as shared:
            public = self._find(shared, AUDIT_KEY_LABEL, ObjectClass.PUBLIC_KEY)
            params = public[Attribute.EC_PARAMS]
            for algorithm, der in _EC_PARAMS.items():
                if params == der:
                    return _ec_spki(public[Attribute.EC_POINT], _EC_CURVES[algorithm])
            raise HsmError(
                f"The audit key on HSM token {self._label!r} is on a curve the workstation "
                "does not know.",
            )

    def sign_audit(self, message: bytes) -> bytes:
        with self._use("sign an audit checkpoint") as shared:
            private = self._find(shared, AUDIT_KEY_LABEL, ObjectClass.PRIVATE_KEY)
            signer = _capable(private, SignMixin, AUDIT_KEY_LABEL)
            if Mechanism.ECDSA_SHA256 in shared.mechanisms:
                raw = signer.sign(message, mechanism=Mechanism.ECDSA_SHA256)
            else:
                # SoftHSM 2.6 has no CKM_ECDSA_SHA256: hash here (the message is not
                # secret) and sign the digest with raw CKM_ECDSA (FIPS 186-4 §6.4).
                digest = hashlib.sha256(message).digest()
                raw = signer.sign(digest, mechanism=Mechanism.ECDSA)
        # PKCS#11 v2.40 Current Mechanisms §2.3.1: the signature is r || s, each as long as
        # the group order; X.509 and cryptography want the DER SEQUENCE (RFC 3279 §2.2.3).
        if not raw or len(raw) % 2:
            raise HsmError("The HSM returned a malformed ECDSA signature.")
        half = len(raw) // 2
        return encode_dss_signature(
            int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        )


def _key_check_value(key: Object, algorithm: KeyAlgorithm) -> bytes:
    """The check value, computed inside the HSM."""
    if algorithm.family is KeyFamily.TDES:
        # ANSI X9.24-1:2017 Annex A (legacy method): encrypt 64 zero bits with the key
        # (TDEA, ECB), keep the leftmost 24 bits.
        encryptor = _capable(key, EncryptMixin, "key")
        encrypted = encryptor.encrypt(bytes(8), mechanism=Mechanism.DES3_ECB)
        if not isinstance(encrypted, bytes):  # only for iterator input
            raise HsmError("The HSM returned no check value.")
        return encrypted[:3]
    # ANSI X9.24-1:2017 A.3 (AES): CMAC (NIST SP 800-38B) over 128 zero bits, keep the
    # leftmost 40 bits.
    signer = _capable(key, SignMixin, "key")
    return signer.sign(bytes(16), mechanism=Mechanism.AES_CMAC)[:5]
