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

Exchange key pairs (``create_exchange_key``): RSA or EC key pairs for key exchange with
partners (TR-34, ECDH), token objects labelled ``kcw-exchange-<name>``. Their private keys
are sensitive and never extractable, not even wrapped: they are used only inside the HSM
(signing, raw RSA decryption, ECDH) and are not part of the workstation key backup.

The three workstation keys are sensitive (never readable in clear) and extractable only by
wrapping, so that ``backup_workstation_keys`` can wrap them under a one-time transport key
for a backup by shares. Every other key lives on the token only for the length of one call,
as a session object (CKA_TOKEN false), and leaves it wrapped under the master key
(CKM_AES_KEY_WRAP_PAD, RFC 5649). Check values are computed inside the HSM. A stored key
pair's private key (its PKCS #8 PrivateKeyInfo, wrapped) comes back in only to sign
(``sign_with_key``): unwrapped as a session object that signs and does nothing else, and
destroyed when the signature is made.

Clear key bytes cross the HSM boundary only in the paper-ceremony calls: ``import_clear_key``
(a key combined from components goes in), ``export_clear_key`` (a stored key comes out, to
be split into components) and ``backup_workstation_keys`` (the transport key comes out, to
be split into shares); and in the two exchange calls whose result is secret:
``exchange_agree`` (the ECDH shared secret Z comes out, for the KDF in software) and
``exchange_decrypt_raw`` (a raw RSA decryption comes out, for OAEP decoding in software).
They travel in ``bytearray``s the caller wipes.

The workstation key backup (``WorkstationKeyBackup.blob``) is canonical JSON (sorted keys,
no spaces, ASCII), upper-case hex for binary values::

    {"audit_private": "<RFC 5649 wrap of the audit key's PKCS #8 PrivateKeyInfo>",
     "audit_public": "<the audit key's SubjectPublicKeyInfo, DER>",
     "binding": "<RFC 5649 wrap of the binding key>",
     "binding_type": "hmac-sha256" | "aes-cmac",
     "format": "kcw-workstation-keys",
     "master": "<RFC 5649 wrap of the master key>",
     "transport_kcv": "<AES CMAC check value of the transport key, 5 bytes>",
     "version": 1}

Every wrap is under the transport key (CKM_AES_KEY_WRAP_PAD); nothing in the blob is secret.
A reader outside an HSM should take the DER length of the unwrapped PKCS #8 structure:
SoftHSM 2.6 zero-pads it to a multiple of 8 bytes before wrapping, so the RFC 5649 length
counts the zeros (its own C_UnwrapKey accepts them).

Threads: PKCS#11 login state belongs to the application, not to a session (PKCS#11 v2.40
base §5.6, C_Login), and python-pkcs11 calls C_Initialize with no locking arguments, which
promises the module that calls will not overlap (§5.4, C_Initialize / CK_C_INITIALIZE_ARGS).
So every ``Pkcs11Hsm`` on one module takes the same lock (``pkcs11_module_lock``), and all
the instances on one token share one logged-in session.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import pkcs11
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import KDF, Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11
from pkcs11.constants import DEFAULT
from pkcs11.types import (
    DecryptMixin,
    DeriveMixin,
    EncryptMixin,
    Key,
    Object,
    SecretKey,
    Session,
    SignMixin,
    Token,
    UnwrapMixin,
    VerifyMixin,
    WrapMixin,
)

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
    HsmError,
    HsmPinRejected,
    IntegrityError,
    NotFound,
    NotInitialised,
    WorkstationError,
)
from workstation.services.ports import GeneratedKey, HsmInfo, WorkstationKeyBackup
from workstation.standards import ecdh

__all__ = [
    "AUDIT_KEY_LABEL",
    "BINDING_KEY_LABEL",
    "EXCHANGE_LABEL_PREFIX",
    "MASTER_KEY_LABEL",
    "Pkcs11Hsm",
    "exchange_key_label",
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
# private keys, §4.10 secret keys). SENSITIVE means no one, the workstation included, can
# read their value; not MODIFIABLE stops anyone with the user PIN from switching CKA_DECRYPT
# on for the master key (which would decrypt every wrapped key); not COPYABLE stops
# C_CopyObject from making a copy with other attributes.
#
# EXTRACTABLE (by wrapping only: a sensitive key's value still cannot be read) so that the
# keys can be backed up by shares: ``backup_workstation_keys`` wraps them under a one-time
# transport key that is split among custodians (PCI PIN Security Requirement 8-2: a secret
# or private key is backed up only under dual control and split knowledge, as components or
# shares). The user PIN stays the boundary, as it is for the stored keys: whoever holds it
# can already unwrap any stored key in clear; with EXTRACTABLE they could also wrap the
# master key itself out under a key of their own, which is why the services call the backup
# only under the backup quorum and the PIN must be guarded as the master key is. A
# production HSM that has a trusted backup of its own (a vendor's smart-card-protected key
# backup, or cloning between HSMs of one security domain) should use that instead, with
# these keys unextractable.
#
# MODIFIABLE comes last: SoftHSM 2.6 applies a C_UnwrapKey template in order and refuses
# (CKR_ATTRIBUTE_READ_ONLY) an attribute that follows CKA_MODIFIABLE false.
_RESIDENT_SECRET: dict[Attribute, Any] = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: True,
    Attribute.COPYABLE: False,
    Attribute.MODIFIABLE: False,
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
# Keys whose clear value the workstation reads (C_GetAttributeValue of CKA_VALUE): a stored
# key exported for a ceremony, and the backup transport key. Session objects, destroyed as
# soon as the value is read.
_TRANSIENT_READABLE: dict[Attribute, Any] = {
    Attribute.TOKEN: False,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: False,
    Attribute.EXTRACTABLE: True,
}
# A stored key pair's private key, unwrapped for one signature (``sign_with_key``): a session
# object that signs and does nothing else. Never readable, and not even wrappable again
# (PKCS#11 v2.40 base §4.9: EXTRACTABLE false, so C_WrapKey refuses it). SIGN_RECOVER is
# refused as well: with RSA it is the raw private-key operation, as DECRYPT would be.
# python-pkcs11's unwrap template names every capability; a private key has no CKA_ENCRYPT,
# CKA_VERIFY or CKA_WRAP (§4.9) and SoftHSM refuses them, so DEFAULT leaves them out.
_TRANSIENT_SIGNING: dict[Attribute, Any] = {
    Attribute.ENCRYPT: DEFAULT,
    Attribute.VERIFY: DEFAULT,
    Attribute.WRAP: DEFAULT,
    Attribute.SIGN_RECOVER: False,
    Attribute.TOKEN: False,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
}
# A stored key pair's private key unwrapped for ``export_private_key``: readable once (its
# components become PKCS #8 for a key store), and able to do nothing at all.
_TRANSIENT_PRIVATE_READABLE: dict[Attribute, Any] = {
    Attribute.ENCRYPT: DEFAULT,
    Attribute.VERIFY: DEFAULT,
    Attribute.WRAP: DEFAULT,
    Attribute.SIGN_RECOVER: False,
    Attribute.TOKEN: False,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: False,
    Attribute.EXTRACTABLE: True,
}

# A C_CreateObject template names every capability: the defaults of CKA_ENCRYPT and the rest
# are the module's own choice (PKCS#11 v2.40 base §4.8), python-pkcs11 sets them only in its
# generate, unwrap and derive templates.
_SECRET_KEY_CAPABILITIES: dict[Attribute, MechanismFlag] = {
    Attribute.ENCRYPT: MechanismFlag.ENCRYPT,
    Attribute.DECRYPT: MechanismFlag.DECRYPT,
    Attribute.WRAP: MechanismFlag.WRAP,
    Attribute.UNWRAP: MechanismFlag.UNWRAP,
    Attribute.SIGN: MechanismFlag.SIGN,
    Attribute.VERIFY: MechanismFlag.VERIFY,
    Attribute.DERIVE: MechanismFlag.DERIVE,
}

# The most random bytes one call hands out (C_GenerateRandom): plenty for components and
# shares, small enough that a mistaken length is refused rather than served.
_MAX_RANDOM_BYTES = 4096

# The backup by shares: a one-time AES-256 transport key, and the blob's identification.
_TRANSPORT_KEY = KeyAlgorithm.AES_256
_BACKUP_FORMAT = "kcw-workstation-keys"
_BACKUP_VERSION = 1
_BINDING_TYPES: dict[str, tuple[KeyType, Mechanism]] = {
    "hmac-sha256": (KeyType.GENERIC_SECRET, Mechanism.SHA256_HMAC),
    "aes-cmac": (KeyType.AES, Mechanism.AES_CMAC),
}
_BACKUP_FIELDS = frozenset(
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
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_MAX_WRAPPED_PRIVATE = 4096  # a wrapped PKCS #8 EC key is far smaller
# A stored key pair: its PKCS #8 PrivateKeyInfo wrapped under the master key (RFC 5649).
# RSA-4096's is about 2.4 KB; the bound refuses nonsense before the HSM sees it.
_MIN_WRAPPED_KEY_PAIR = 16
_MAX_WRAPPED_KEY_PAIR = 4096

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
# Exchange key pairs (TR-34, ECDH, the exchange CA) are RSA of at least 2048 bits (TR-34's
# floor, as standards.tr34 checks; 112 bits of strength, NIST SP 800-57 Part 1 Table 2) or
# EC: the EMV issuer sizes (RSA-1408, RSA-1984) are for stored key pairs only.
EXCHANGE_ALGORITHMS = key_pair_algorithms(min_rsa_bits=2048)

# --- exchange key pairs ---------------------------------------------------------------------

EXCHANGE_LABEL_PREFIX = "kcw-exchange-"
_EXCHANGE_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_MAX_EXCHANGE_NAME = 48
# What each kind of pair does inside the HSM: RSA signs (CKM_SHA256_RSA_PKCS) and decrypts
# (CKM_RSA_X_509); EC signs (CKM_ECDSA) and derives (CKM_ECDH1_DERIVE). VERIFY goes to the
# public key only (python-pkcs11 puts each flag on the half of the pair it belongs to).
# An RSA pair either decrypts or signs, never both: raw decryption (CKM_RSA_X_509) of a
# signing key would let anyone who can call it forge that key's signatures. A key receiving
# device's pair (a name ending "-krd") decrypts; every other RSA pair signs.
_RSA_DECRYPTING = MechanismFlag.DECRYPT | MechanismFlag.ENCRYPT
_RSA_SIGNING = MechanismFlag.SIGN | MechanismFlag.VERIFY


def _rsa_decrypts(name: str) -> bool:
    return name.endswith("-krd")


_EXCHANGE_CAPABILITIES: dict[KeyFamily, MechanismFlag] = {
    KeyFamily.RSA: MechanismFlag.SIGN | MechanismFlag.VERIFY | MechanismFlag.DECRYPT,
    KeyFamily.EC: MechanismFlag.SIGN | MechanismFlag.VERIFY | MechanismFlag.DERIVE,
}
# The private half: a token object that no one reads or takes out of the HSM, not even
# wrapped (PKCS#11 v2.40 base §4.9: EXTRACTABLE false, so C_WrapKey refuses it; SENSITIVE
# true, so its private values are never returned), and whose attributes cannot be changed
# or copied into a more permissive object. MODIFIABLE last (see _RESIDENT_SECRET).
_EXCHANGE_PRIVATE: dict[Attribute, Any] = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.COPYABLE: False,
    Attribute.MODIFIABLE: False,
}

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
# Refusals of the template the workstation itself built: a fault here, not in the data.
_TEMPLATE_ERRORS: tuple[type[p11.PKCS11Error], ...] = (
    p11.AttributeReadOnly,
    p11.AttributeTypeInvalid,
    p11.AttributeValueInvalid,
    p11.TemplateIncomplete,
    p11.TemplateInconsistent,
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


def _check_wrapped_length(algorithm: KeyAlgorithm, wrapped: bytes) -> None:
    expected = _wrapped_length(algorithm.key_bytes)
    if len(wrapped) != expected:
        raise IntegrityError(
            f"The wrapped {algorithm.value} key is {len(wrapped)} bytes long; wrapped "
            f"under the master key it is {expected} bytes. It is refused.",
        )


def _check_wrapped_key_pair_length(algorithm: KeyAlgorithm, wrapped: bytes) -> None:
    # RFC 5649 §4.1: a multiple of 8 bytes, the integrity block and at least one more block.
    length = len(wrapped)
    if not _MIN_WRAPPED_KEY_PAIR <= length <= _MAX_WRAPPED_KEY_PAIR or length % 8:
        raise IntegrityError(
            f"The wrapped {algorithm.value} key pair is {length} bytes long; wrapped under "
            f"the master key it is a multiple of 8 bytes, {_MIN_WRAPPED_KEY_PAIR} to "
            f"{_MAX_WRAPPED_KEY_PAIR}. It is refused.",
        )


def _wipe(secret: bytearray) -> None:
    secret[:] = bytes(len(secret))


def _capability_template(capabilities: MechanismFlag) -> dict[Attribute, bool]:
    """Every capability attribute of a secret key: true for those in ``capabilities``."""
    return {
        attribute: bool(capabilities & flag) for attribute, flag in _SECRET_KEY_CAPABILITIES.items()
    }


def _create_secret_key(
    session: Session,
    key_type: KeyType,
    value: bytearray,
    capabilities: MechanismFlag,
    template: Mapping[Attribute, Any],
) -> SecretKey:
    """A secret key object from its clear value (C_CreateObject, PKCS#11 v2.40 base §5.7)."""
    key = session.create_object(
        {
            Attribute.CLASS: ObjectClass.SECRET_KEY,
            Attribute.KEY_TYPE: key_type,
            **template,
            **_capability_template(capabilities),
            # The bytearray itself, not a copy: python-pkcs11 packs CKA_VALUE with bytes()
            # while it builds the C template, and that immutable copy (which nothing can
            # wipe) is dropped as soon as the template is built; the C buffer it copies
            # into is freed after C_CreateObject. No other copy is made here.
            Attribute.VALUE: value,
        }
    )
    return _capable(key, SecretKey, "the imported key")


def _check_odd_parity(value: bytearray, algorithm: KeyAlgorithm) -> None:
    """Each byte of a DES key has odd parity (FIPS 46-3 §3; PKCS#11 v2.40 Current Mechanisms
    §2.28/§2.29: a module may refuse a DES2 or DES3 key without it, SoftHSM does not)."""
    for index, byte in enumerate(value):
        if not byte.bit_count() % 2:
            raise BadInput(
                f"Byte {index + 1} of the {algorithm.value} key does not have odd parity; "
                "a TDES key is taken into the HSM only with its parity bits set (adjust the "
                "parity after combining the components).",
            )


def _der_octet_string_of(data: bytes) -> bytes:
    """``data`` as a DER OCTET STRING (X.690 §8.7; definite length, §8.1.3)."""
    length = len(data)
    if length < 0x80:
        return bytes([0x04, length]) + data
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x04, 0x80 | len(octets)]) + octets + data


def _ec_params_of(public: ec.EllipticCurvePublicKey) -> bytes | None:
    """CKA_EC_PARAMS for the curve of ``public``; None for a curve the workstation does not use."""
    for algorithm, curve in _EC_CURVES.items():
        if curve.name == public.curve.name:
            return _EC_PARAMS[algorithm]
    return None


@dataclass(frozen=True)
class _BackupBlob:
    """The workstation keys wrapped under a transport key: ``WorkstationKeyBackup.blob``,
    in the format the module docstring gives."""

    master: bytes
    binding: bytes
    binding_type: str  # a key of _BINDING_TYPES
    audit_private: bytes
    audit_public: bytes
    transport_kcv: bytes

    def encode(self) -> bytes:
        document = {
            "format": _BACKUP_FORMAT,
            "version": _BACKUP_VERSION,
            "master": self.master.hex().upper(),
            "binding": self.binding.hex().upper(),
            "binding_type": self.binding_type,
            "audit_private": self.audit_private.hex().upper(),
            "audit_public": self.audit_public.hex().upper(),
            "transport_kcv": self.transport_kcv.hex().upper(),
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")

    @classmethod
    def parse(cls, blob: bytes) -> _BackupBlob:
        """Read a backup strictly: every field present, no other, each of its form."""
        if not isinstance(blob, bytes | bytearray):
            raise BadInput("The workstation key backup must be given as bytes.")
        try:
            document = json.loads(bytes(blob).decode("utf-8"), object_pairs_hook=_unique_fields)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInput(
                "The workstation key backup is not a JSON document.", detail=str(exc)
            ) from exc
        if not isinstance(document, dict):
            raise BadInput("The workstation key backup is not a JSON object.")
        missing = _BACKUP_FIELDS - document.keys()
        if missing:
            raise BadInput(
                f"The workstation key backup lacks the field(s) {', '.join(sorted(missing))}.",
            )
        unknown = document.keys() - _BACKUP_FIELDS
        if unknown:
            names = ", ".join(repr(name) for name in sorted(unknown))
            raise BadInput(f"The workstation key backup has unknown field(s) {names}.")
        if document["format"] != _BACKUP_FORMAT:
            raise BadInput(
                f"The field 'format' of the workstation key backup is not {_BACKUP_FORMAT!r}: "
                "this is not a workstation key backup.",
            )
        version = document["version"]
        if type(version) is not int or version != _BACKUP_VERSION:
            raise BadInput(
                f"The field 'version' of the workstation key backup is {version!r}; this "
                f"workstation reads version {_BACKUP_VERSION}.",
            )
        binding_type = document["binding_type"]
        if binding_type not in _BINDING_TYPES:
            raise BadInput(
                f"The field 'binding_type' of the workstation key backup is {binding_type!r}; "
                f"it is one of {', '.join(sorted(_BINDING_TYPES))}.",
            )
        master, binding, audit_private, audit_public, transport_kcv = (
            _hex_field(document, name)
            for name in ("master", "binding", "audit_private", "audit_public", "transport_kcv")
        )
        secret_wrap = _wrapped_length(32)
        for name, value, good, holds in (
            ("master", master, len(master) == secret_wrap, f"{secret_wrap} bytes"),
            ("binding", binding, len(binding) == secret_wrap, f"{secret_wrap} bytes"),
            (
                "audit_private",
                audit_private,
                16 <= len(audit_private) <= _MAX_WRAPPED_PRIVATE and len(audit_private) % 8 == 0,
                "a multiple of 8 bytes, 16 to 4096",
            ),
            ("transport_kcv", transport_kcv, len(transport_kcv) == 5, "5 bytes"),
        ):
            if not good:
                raise BadInput(
                    f"The field {name!r} of the workstation key backup is {len(value)} bytes "
                    f"long; it should be {holds}.",
                )
        _backup_public_key(audit_public)
        return cls(
            master=master,
            binding=binding,
            binding_type=binding_type,
            audit_private=audit_private,
            audit_public=audit_public,
            transport_kcv=transport_kcv,
        )


def _unique_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for name, value in pairs:
        if name in document:
            raise BadInput(f"The workstation key backup gives the field {name!r} twice.")
        document[name] = value
    return document


def _hex_field(document: Mapping[str, Any], name: str) -> bytes:
    text = document[name]
    if not isinstance(text, str) or not _HEX.fullmatch(text):
        raise BadInput(
            f"The field {name!r} of the workstation key backup is not a hexadecimal string.",
        )
    return bytes.fromhex(text)


def _backup_public_key(spki: bytes) -> ec.EllipticCurvePublicKey:
    """The audit public key of a backup: an elliptic-curve SubjectPublicKeyInfo, DER, on a
    curve the workstation uses."""
    try:
        public = serialization.load_der_public_key(spki)
    except ValueError as exc:
        raise BadInput(
            "The field 'audit_public' of the workstation key backup is not a DER public key.",
            detail=str(exc),
        ) from exc
    if not isinstance(public, ec.EllipticCurvePublicKey) or _ec_params_of(public) is None:
        raise BadInput(
            "The field 'audit_public' of the workstation key backup is not an elliptic-curve "
            "public key on a curve the workstation uses.",
        )
    canonical = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if canonical != spki:
        raise BadInput(
            "The field 'audit_public' of the workstation key backup is not in canonical DER.",
        )
    return public


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
        _check_wrapped_length(algorithm, wrapped)
        with self._use(f"check a {algorithm.value} key") as shared, _transient_objects() as objs:
            key = self._unwrap_stored(
                shared,
                objs,
                algorithm,
                wrapped,
                capabilities=_KCV_CAPABILITY[algorithm.family],
                template=_TRANSIENT_CHECK,
            )
            return _key_check_value(key, algorithm)

    def _unwrap_stored(
        self,
        shared: _SharedSession,
        objs: list[Object],
        algorithm: KeyAlgorithm,
        wrapped: bytes,
        *,
        capabilities: MechanismFlag,
        template: dict[Attribute, Any],
    ) -> Object:
        """A stored secret key unwrapped under the master key as a session object, added to
        the call's transient ``objs``. IntegrityError when it does not unwrap."""
        key_type, _ = _SECRET_KEY_TYPES[algorithm]
        master = _capable(self._master(shared), UnwrapMixin, MASTER_KEY_LABEL)
        try:
            key = master.unwrap_key(
                ObjectClass.SECRET_KEY,
                key_type,
                wrapped,
                mechanism=_WRAP,
                store=False,
                capabilities=capabilities,
                template=template,
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
        return key

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

    # --- clear key material for paper ceremonies -----------------------------------------

    def random_bytes(self, length: int) -> bytearray:
        if not 1 <= length <= _MAX_RANDOM_BYTES:
            raise BadInput(
                f"{length} random bytes were asked for; the HSM gives 1 to "
                f"{_MAX_RANDOM_BYTES} at a time.",
            )
        random = bytearray()
        with self._use("generate random bytes") as shared:
            # python-pkcs11 returns bytes, which cannot be wiped: copied at once into the
            # bytearray, and no name keeps them.
            random.extend(shared.session.generate_random(length * 8))
        if len(random) != length:
            count = len(random)
            _wipe(random)
            raise HsmError(f"The HSM returned {count} random bytes; {length} were asked for.")
        return random

    def import_clear_key(self, algorithm: KeyAlgorithm, value: bytearray) -> GeneratedKey:
        if not algorithm.is_symmetric:
            raise BadInput(
                f"{algorithm.value} is a key pair: only secret keys are taken into the HSM "
                "in clear.",
            )
        if len(value) != algorithm.key_bytes:
            raise BadInput(
                f"{algorithm.value} keys are {algorithm.key_bytes} bytes long; the value given "
                f"is {len(value)} bytes.",
            )
        if algorithm.family is KeyFamily.TDES:
            _check_odd_parity(value, algorithm)
        key_type, _ = _SECRET_KEY_TYPES[algorithm]
        with self._use(f"import a {algorithm.value} key") as shared, _transient_objects() as objs:
            master = _capable(self._master(shared), WrapMixin, MASTER_KEY_LABEL)
            key = _create_secret_key(
                shared.session,
                key_type,
                value,
                _KCV_CAPABILITY[algorithm.family],
                _TRANSIENT_EXPORTABLE,
            )
            objs.append(key)
            kcv = _key_check_value(key, algorithm)
            wrapped = master.wrap_key(key, mechanism=_WRAP)
        return GeneratedKey(wrapped=wrapped, kcv=kcv)

    def export_clear_key(self, algorithm: KeyAlgorithm, wrapped: bytes) -> bytearray:
        if not algorithm.is_symmetric:
            raise BadInput(
                f"{algorithm.value} is a key pair: only secret keys are exported in clear "
                "(as components).",
            )
        _check_wrapped_length(algorithm, wrapped)
        value = bytearray()
        try:
            with (
                self._use(f"export a {algorithm.value} key") as shared,
                _transient_objects() as objs,
            ):
                # No capability at all: the object exists only to be read.
                key = self._unwrap_stored(
                    shared,
                    objs,
                    algorithm,
                    wrapped,
                    capabilities=MechanismFlag(0),
                    template=_TRANSIENT_READABLE,
                )
                # python-pkcs11 returns CKA_VALUE as bytes, which cannot be wiped: copied at
                # once into the bytearray, and no name keeps them.
                value.extend(key[Attribute.VALUE])
            if len(value) != algorithm.key_bytes:
                raise IntegrityError(
                    f"The wrapped key holds {len(value)} bytes, not the {algorithm.key_bytes} "
                    f"of {algorithm.value}. It is refused.",
                )
        except BaseException:
            _wipe(value)
            raise
        return value

    def backup_workstation_keys(self) -> WorkstationKeyBackup:
        transport_value = bytearray()
        try:
            with (
                self._use("back up the workstation keys") as shared,
                _transient_objects() as objs,
            ):
                master = self._master(shared)
                binding, binding_mechanism = self._binding(shared)
                private = _capable(
                    self._find(shared, AUDIT_KEY_LABEL, ObjectClass.PRIVATE_KEY),
                    Key,
                    AUDIT_KEY_LABEL,
                )
                audit_public = self._audit_spki(shared)
                self._check_exportable(
                    (MASTER_KEY_LABEL, master),
                    (BINDING_KEY_LABEL, binding),
                    (AUDIT_KEY_LABEL, private),
                )
                # Readable (not SENSITIVE): its value leaves the HSM to be split into shares.
                transport = shared.session.generate_key(
                    KeyType.AES,
                    _TRANSPORT_KEY.bits,
                    store=False,
                    mechanism=Mechanism.AES_KEY_GEN,
                    capabilities=MechanismFlag.WRAP | MechanismFlag.SIGN,
                    template=_TRANSIENT_READABLE,
                )
                objs.append(transport)
                transport_kcv = _key_check_value(transport, _TRANSPORT_KEY)
                wrapper = _capable(transport, WrapMixin, "the transport key")
                try:
                    wrapped = [
                        wrapper.wrap_key(key, mechanism=_WRAP) for key in (master, binding, private)
                    ]
                except (p11.KeyUnextractable, p11.KeyNotWrappable) as exc:
                    raise self._unexportable(f"{type(exc).__name__}: {exc}") from exc
                # bytes from python-pkcs11 (not wipeable): copied at once, no name keeps them.
                transport_value.extend(transport[Attribute.VALUE])
            if len(transport_value) != _TRANSPORT_KEY.key_bytes:
                raise HsmError(
                    f"The HSM returned a transport key of {len(transport_value)} bytes; "
                    f"{_TRANSPORT_KEY.key_bytes} were asked for.",
                )
        except BaseException:
            _wipe(transport_value)
            raise
        binding_type = next(
            name
            for name, (_, mechanism) in _BINDING_TYPES.items()
            if mechanism == binding_mechanism
        )
        blob = _BackupBlob(
            master=wrapped[0],
            binding=wrapped[1],
            binding_type=binding_type,
            audit_private=wrapped[2],
            audit_public=audit_public,
            transport_kcv=transport_kcv,
        ).encode()
        log.info(
            "backed up the workstation keys of HSM token %r under a transport key", self._label
        )
        return WorkstationKeyBackup(
            transport_key=transport_value, transport_kcv=transport_kcv, blob=blob
        )

    def _check_exportable(self, *keys: tuple[str, Object]) -> None:
        for label, key in keys:
            if not key[Attribute.EXTRACTABLE]:
                raise self._unexportable(f"CKA_EXTRACTABLE false on {label!r}")

    def _unexportable(self, detail: str) -> HsmError:
        return HsmError(
            f"The workstation keys on HSM token {self._label!r} were created unexportable; "
            "they cannot be backed up by shares. Back the token up with the HSM's own backup "
            "procedure instead.",
            detail=detail,
        )

    def restore_workstation_keys(self, transport_key: bytearray, blob: bytes) -> None:
        if len(transport_key) != _TRANSPORT_KEY.key_bytes:
            raise BadInput(
                f"The transport key is {len(transport_key)} bytes long; the transport key of "
                f"a workstation key backup is {_TRANSPORT_KEY.value} "
                f"({_TRANSPORT_KEY.key_bytes} bytes).",
            )
        backup = _BackupBlob.parse(blob)
        binding_key_type, binding_mechanism = _BINDING_TYPES[backup.binding_type]
        with self._use("restore the workstation keys") as shared:
            if self._any_workstation_key(shared):
                raise AlreadyInitialised(
                    f"HSM token {self._label!r} already holds workstation keys; a backup is "
                    "restored only onto a token without them.",
                )
            if binding_mechanism not in shared.mechanisms:
                raise HsmError(
                    f"HSM token {self._label!r} does not offer {binding_mechanism.name}, which "
                    f"the backed-up binding key ({backup.binding_type}) needs.",
                )
            try:
                with _transient_objects() as objs:
                    # Never readable or wrappable: it only unwraps the backup (and computes
                    # its own check value).
                    transport = _create_secret_key(
                        shared.session,
                        KeyType.AES,
                        transport_key,
                        MechanismFlag.UNWRAP | MechanismFlag.SIGN,
                        _TRANSIENT_CHECK,
                    )
                    objs.append(transport)
                    kcv = _key_check_value(transport, _TRANSPORT_KEY)
                    if not hmac.compare_digest(kcv, backup.transport_kcv):
                        raise IntegrityError(
                            "The shares do not recombine to this backup's transport key "
                            f"(check value {backup.transport_kcv.hex().upper()}): a share is "
                            "wrong or belongs to another backup. Nothing was restored.",
                        )
                    unwrapper = _capable(transport, UnwrapMixin, "the transport key")
                    self._restore_objects(shared, unwrapper, backup, binding_key_type)
            finally:
                # Found objects may be stale (keys removed from the token behind our back).
                shared.objects.clear()
                shared.binding_mechanism = None
        log.info("restored the workstation keys on HSM token %r from a backup", self._label)

    def _restore_objects(
        self,
        shared: _SharedSession,
        unwrapper: UnwrapMixin,
        backup: _BackupBlob,
        binding_key_type: KeyType,
    ) -> None:
        """The three workstation keys as token objects, with the attributes
        ``create_workstation_keys`` gives them; all of them or none."""
        created: list[Object] = []
        try:
            created.append(
                _unwrap_backup(
                    unwrapper,
                    "master key",
                    backup.master,
                    ObjectClass.SECRET_KEY,
                    KeyType.AES,
                    label=MASTER_KEY_LABEL,
                    capabilities=MechanismFlag.WRAP | MechanismFlag.UNWRAP,
                    template=_RESIDENT_SECRET,
                )
            )
            self._check_unwrapped_length(created[-1], KeyAlgorithm.AES_256)
            created.append(
                _unwrap_backup(
                    unwrapper,
                    "binding key",
                    backup.binding,
                    ObjectClass.SECRET_KEY,
                    binding_key_type,
                    label=BINDING_KEY_LABEL,
                    capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                    template=_RESIDENT_SECRET,
                )
            )
            private = _unwrap_backup(
                unwrapper,
                "audit private key",
                backup.audit_private,
                ObjectClass.PRIVATE_KEY,
                KeyType.EC,
                label=AUDIT_KEY_LABEL,
                capabilities=MechanismFlag.SIGN,
                # python-pkcs11's unwrap template names every capability; a private key has
                # no CKA_ENCRYPT, CKA_VERIFY or CKA_WRAP (PKCS#11 v2.40 base §4.9), and
                # SoftHSM refuses them (CKR_ATTRIBUTE_TYPE_INVALID). DEFAULT leaves them out.
                template={
                    Attribute.ENCRYPT: DEFAULT,
                    Attribute.VERIFY: DEFAULT,
                    Attribute.WRAP: DEFAULT,
                    **_RESIDENT_SECRET,
                },
            )
            created.append(private)
            public_key = _backup_public_key(backup.audit_public)
            point = public_key.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
            created.append(
                shared.session.create_object(
                    {
                        Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                        Attribute.KEY_TYPE: KeyType.EC,
                        Attribute.LABEL: AUDIT_KEY_LABEL,
                        Attribute.EC_PARAMS: _ec_params_of(public_key),
                        # PKCS#11 v2.40 Current Mechanisms §2.3.3: DER of the ECPoint, an
                        # OCTET STRING around the uncompressed point.
                        Attribute.EC_POINT: _der_octet_string_of(point),
                        Attribute.ENCRYPT: False,
                        Attribute.WRAP: False,
                        Attribute.VERIFY: True,
                        **_RESIDENT_PUBLIC,
                    }
                )
            )
            # The public key is not under the transport key's protection: check that it
            # belongs to the private key before the pair signs anything.
            challenge = secrets.token_bytes(32)
            signature = _ecdsa_sign(shared, private, challenge)
            try:
                public_key.verify(signature, challenge, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                raise IntegrityError(
                    "The backup's audit public key does not belong to its audit private key: "
                    "the backup was altered. Nothing was restored.",
                ) from None
        except BaseException:
            # All or nothing: a half-restored token would refuse the next attempt.
            for obj in reversed(created):
                try:
                    obj.destroy()
                except p11.PKCS11Error as exc:
                    log.error("could not remove a partly restored workstation key: %r", exc)
            raise

    # --- managed key pairs (certificates) ------------------------------------------------

    def sign_with_key(self, algorithm: KeyAlgorithm, wrapped: bytes, message: bytes) -> bytes:
        if not isinstance(algorithm, KeyAlgorithm) or algorithm.is_symmetric:
            shown = algorithm.value if isinstance(algorithm, KeyAlgorithm) else repr(algorithm)
            raise BadInput(
                f"{shown} is not a key pair algorithm: only a stored key pair "
                f"({name_list(key_pair_algorithms())}) signs.",
            )
        if not isinstance(wrapped, bytes | bytearray):
            raise BadInput(f"The wrapped key pair is {type(wrapped).__name__}, not bytes.")
        if not isinstance(message, bytes | bytearray):
            raise BadInput(f"The message to sign is {type(message).__name__}, not bytes.")
        _check_wrapped_key_pair_length(algorithm, wrapped)
        with (
            self._use(f"sign with a stored {algorithm.value} key pair") as shared,
            _transient_objects() as objs,
        ):
            private = self._unwrap_stored_private(shared, objs, algorithm, bytes(wrapped))
            if algorithm.family is KeyFamily.RSA:
                # RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2), hashed inside the HSM.
                signer = _capable(private, SignMixin, "the stored key pair")
                return signer.sign(bytes(message), mechanism=Mechanism.SHA256_RSA_PKCS)
            return _ecdsa_sign(shared, private, bytes(message), "the stored key pair")

    def export_private_key(self, algorithm: KeyAlgorithm, wrapped: bytes) -> bytearray:
        if not isinstance(algorithm, KeyAlgorithm) or algorithm.is_symmetric:
            shown = algorithm.value if isinstance(algorithm, KeyAlgorithm) else repr(algorithm)
            raise BadInput(
                f"{shown} is not a key pair algorithm: only a stored key pair's private key "
                "is exported this way (secret keys leave as components or key blocks).",
            )
        if not isinstance(wrapped, bytes | bytearray):
            raise BadInput(f"The wrapped key pair is {type(wrapped).__name__}, not bytes.")
        _check_wrapped_key_pair_length(algorithm, wrapped)
        with (
            self._use(f"export a stored {algorithm.value} private key") as shared,
            _transient_objects() as objs,
        ):
            private = self._unwrap_stored_private(
                shared,
                objs,
                algorithm,
                bytes(wrapped),
                capabilities=MechanismFlag(0),
                template=_TRANSIENT_PRIVATE_READABLE,
            )
            # Read as its components and encoded as PKCS #8 (RFC 5208) in software. The
            # attribute values and cryptography's encoding are immutable bytes that cannot be
            # wiped (docs/security.md, known limits); only the result is a bytearray.
            if algorithm.family is KeyFamily.RSA:

                def number(attribute: Attribute) -> int:
                    return int.from_bytes(private[attribute], "big")

                n, e = number(Attribute.MODULUS), number(Attribute.PUBLIC_EXPONENT)
                key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = rsa.RSAPrivateNumbers(
                    p=number(Attribute.PRIME_1),
                    q=number(Attribute.PRIME_2),
                    d=number(Attribute.PRIVATE_EXPONENT),
                    dmp1=number(Attribute.EXPONENT_1),
                    dmq1=number(Attribute.EXPONENT_2),
                    iqmp=number(Attribute.COEFFICIENT),
                    public_numbers=rsa.RSAPublicNumbers(e, n),
                ).private_key()
            else:
                scalar = int.from_bytes(private[Attribute.VALUE], "big")
                key = ec.derive_private_key(scalar, _EC_CURVES[algorithm])
            return bytearray(
                key.private_bytes(
                    serialization.Encoding.DER,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )

    def _unwrap_stored_private(
        self,
        shared: _SharedSession,
        objs: list[Object],
        algorithm: KeyAlgorithm,
        wrapped: bytes,
        *,
        capabilities: MechanismFlag = MechanismFlag.SIGN,
        template: dict[Attribute, Any] | None = None,
    ) -> Object:
        """A stored key pair's private key (its PKCS #8 PrivateKeyInfo, wrapped under the
        master key by ``_generate_key_pair``) unwrapped as a session object that only signs,
        added to the call's transient ``objs``. IntegrityError when it does not unwrap, or
        holds a key of another size or curve than ``algorithm``."""
        key_type = KeyType.RSA if algorithm.family is KeyFamily.RSA else KeyType.EC
        master = _capable(self._master(shared), UnwrapMixin, MASTER_KEY_LABEL)
        try:
            private = master.unwrap_key(
                ObjectClass.PRIVATE_KEY,
                key_type,
                wrapped,
                mechanism=_WRAP,
                store=False,
                capabilities=capabilities,
                template=_TRANSIENT_SIGNING if template is None else template,
            )
        except _INFRASTRUCTURE_ERRORS + _TEMPLATE_ERRORS:
            raise
        except p11.PKCS11Error as exc:
            # RFC 5649 §3: the integrity check (AIV) failed, i.e. the value was altered or
            # wrapped under another master key; or it unwrapped to something that is not a
            # PKCS #8 private key of this family (SoftHSM 2.6: CKR_FUNCTION_FAILED).
            raise IntegrityError(
                f"The wrapped {algorithm.value} key pair does not unwrap under this "
                "workstation's master key: it was altered, belongs to another workstation "
                "or holds another kind of key. It is refused.",
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc
        objs.append(private)
        # The family was fixed by the unwrap; the size or curve is checked here, so that a
        # key is never used as another algorithm than the one recorded for it.
        held = _key_pair_algorithm(private)
        if held is not algorithm:
            shown = held.value if held is not None else "of another kind"
            raise IntegrityError(
                f"The wrapped key pair is not {algorithm.value}: its private key is {shown}. "
                "It is refused.",
            )
        return private

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
            return self._audit_spki(shared)

    def _audit_spki(self, shared: _SharedSession) -> bytes:
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
            return _ecdsa_sign(shared, private, message)

    # --- exchange key pairs --------------------------------------------------------------
    # Looked up afresh on every call (not cached in ``shared.objects``): they are created
    # and deleted while the workstation runs.

    def exchange_public_key(self, name: str) -> bytes | None:
        label = exchange_key_label(name)
        with self._use(f"read the public key of exchange key pair {name!r}") as shared:
            pair = self._exchange_pair(shared, name, label)
            return None if pair is None else _exchange_spki(pair[0], name)

    def create_exchange_key(self, name: str, algorithm: KeyAlgorithm) -> bytes:
        label = exchange_key_label(name)
        if not isinstance(algorithm, KeyAlgorithm) or algorithm not in EXCHANGE_ALGORITHMS:
            shown = algorithm.value if isinstance(algorithm, KeyAlgorithm) else repr(algorithm)
            raise BadInput(
                f"{shown} is not a key pair algorithm: an exchange key pair is "
                f"{name_list(EXCHANGE_ALGORITHMS)}.",
            )
        with self._use(f"create exchange key pair {name!r}") as shared:
            if list(shared.session.get_objects({Attribute.LABEL: label})):
                raise AlreadyInitialised(
                    f"HSM token {self._label!r} already holds exchange key pair {name!r}; "
                    "delete it first to replace it.",
                )
            capabilities = _EXCHANGE_CAPABILITIES[algorithm.family]
            if algorithm.family is KeyFamily.RSA:
                capabilities = _RSA_DECRYPTING if _rsa_decrypts(name) else _RSA_SIGNING
                public, private = shared.session.generate_keypair(
                    KeyType.RSA,
                    algorithm.bits,
                    label=label,
                    store=True,
                    mechanism=Mechanism.RSA_PKCS_KEY_PAIR_GEN,
                    capabilities=capabilities,
                    public_template={
                        **_RESIDENT_PUBLIC,
                        Attribute.PUBLIC_EXPONENT: _RSA_PUBLIC_EXPONENT.to_bytes(3, "big"),
                    },
                    private_template=_EXCHANGE_PRIVATE,
                )
            else:
                public, private = shared.session.generate_keypair(
                    KeyType.EC,
                    label=label,
                    store=True,
                    mechanism=Mechanism.EC_KEY_PAIR_GEN,
                    capabilities=capabilities,
                    public_template={
                        **_RESIDENT_PUBLIC,
                        Attribute.EC_PARAMS: _EC_PARAMS[algorithm],
                    },
                    private_template=_EXCHANGE_PRIVATE,
                )
            try:
                spki = _exchange_spki(public, name)
                if _exchange_algorithm(public, name) is not algorithm:
                    raise HsmError(
                        f"The HSM generated exchange key pair {name!r} other than the "
                        f"{algorithm.value} asked for.",
                    )
            except BaseException:
                # Not a pair the workstation can use: leave nothing behind.
                for obj in (private, public):
                    try:
                        obj.destroy()
                    except p11.PKCS11Error as exc:
                        log.error("could not remove a refused exchange key: %r", exc)
                raise
        log.info("created exchange key pair %r (%s) on HSM token %r", name, algorithm, self._label)
        return spki

    def exchange_sign(self, name: str, message: bytes) -> bytes:
        label = exchange_key_label(name)
        if not isinstance(message, bytes | bytearray):
            raise BadInput(f"The message to sign is {type(message).__name__}, not bytes.")
        with self._use(f"sign with exchange key {name!r}") as shared:
            public, private = self._require_exchange_pair(shared, name, label)
            if _exchange_algorithm(public, name).family is KeyFamily.RSA:
                if _rsa_decrypts(name):
                    raise BadInput(
                        f"Exchange key {name!r} is a key receiving device's key: it decrypts "
                        "and does not sign."
                    )
                # RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2), hashed inside the HSM.
                signer = _capable(private, SignMixin, label)
                return signer.sign(bytes(message), mechanism=Mechanism.SHA256_RSA_PKCS)
            return _ecdsa_sign(shared, private, bytes(message), label)

    def exchange_decrypt_raw(self, name: str, ciphertext: bytes) -> bytearray:
        label = exchange_key_label(name)
        if not isinstance(ciphertext, bytes | bytearray):
            raise BadInput(f"The ciphertext is {type(ciphertext).__name__}, not bytes.")
        encoded = bytearray()
        try:
            with self._use(f"decrypt with exchange key {name!r}") as shared:
                public, private = self._require_exchange_pair(shared, name, label)
                algorithm = _exchange_algorithm(public, name)
                if algorithm.family is not KeyFamily.RSA:
                    raise BadInput(
                        f"Exchange key {name!r} is an {algorithm.value} key: only RSA exchange "
                        "keys decrypt.",
                    )
                if not _rsa_decrypts(name):
                    raise BadInput(
                        f"Exchange key {name!r} is a signing key: only a key receiving "
                        "device's key (a name ending -krd) decrypts."
                    )
                modulus = int.from_bytes(public[Attribute.MODULUS], "big")
                size = (modulus.bit_length() + 7) // 8
                # RFC 8017 §7.1.2 step 1 and §5.1.2 (RSADP): the ciphertext is exactly as
                # long as the modulus and, as an integer, below it.
                if len(ciphertext) != size:
                    raise BadInput(
                        f"The ciphertext is {len(ciphertext)} bytes long; exchange key "
                        f"{name!r} ({algorithm.value}) decrypts exactly {size} bytes.",
                    )
                if int.from_bytes(ciphertext, "big") >= modulus:
                    raise BadInput(
                        f"The ciphertext is not below the modulus of exchange key {name!r}: "
                        "it was not encrypted under this key.",
                    )
                decryptor = _capable(private, DecryptMixin, label)
                plain = decryptor.decrypt(bytes(ciphertext), mechanism=Mechanism.RSA_X_509)
                if not isinstance(plain, bytes):  # only for iterator input
                    raise HsmError("The HSM returned no decryption.")
                if len(plain) > size:
                    raise HsmError(
                        f"The HSM returned {len(plain)} bytes for a raw RSA decryption with "
                        f"a {size}-byte modulus.",
                    )
                # CKM_RSA_X_509 gives the integer c^d mod n; a module may drop its leading
                # zero bytes (an OAEP encoded message always starts with one): they are put
                # back, so the result is the k-byte encoded message of RFC 8017 §7.1.2 step
                # 2c (I2OSP). python-pkcs11 returns bytes, which cannot be wiped: copied at
                # once into a buffer of the final size (no reallocation), the name dropped.
                encoded = bytearray(size)
                encoded[size - len(plain) :] = plain
                del plain
        except BaseException:
            _wipe(encoded)
            raise
        return encoded

    def exchange_agree(self, name: str, peer_public_key: bytes) -> bytearray:
        label = exchange_key_label(name)
        z = bytearray()
        try:
            with (
                self._use(f"agree a shared secret with exchange key {name!r}") as shared,
                _transient_objects() as objs,
            ):
                public, private = self._require_exchange_pair(shared, name, label)
                algorithm = _exchange_algorithm(public, name)
                if algorithm.family is not KeyFamily.EC:
                    raise BadInput(
                        f"Exchange key {name!r} is an {algorithm.value} key: only "
                        "elliptic-curve exchange keys agree on a shared secret.",
                    )
                point = _peer_point(peer_public_key, algorithm, name)
                size = _FIELD_BYTES[algorithm]
                deriver = _capable(private, DeriveMixin, label)
                # CKM_ECDH1_DERIVE with CKD_NULL (PKCS#11 v2.40 Current Mechanisms §2.3.16):
                # the derived key is Z itself, here a session object readable once and
                # destroyed when the call ends. The peer's point goes raw (X9.62
                # uncompressed), the form every token MUST accept.
                secret = deriver.derive_key(
                    KeyType.GENERIC_SECRET,
                    size * 8,
                    mechanism=Mechanism.ECDH1_DERIVE,
                    mechanism_param=(KDF.NULL, None, point),
                    store=False,
                    capabilities=MechanismFlag(0),
                    template=_TRANSIENT_READABLE,
                )
                objs.append(secret)
                # bytes from python-pkcs11 (not wipeable): copied at once, no name keeps them.
                z.extend(secret[Attribute.VALUE])
            if len(z) != size:
                raise HsmError(
                    f"The HSM returned a shared secret of {len(z)} bytes; on "
                    f"{algorithm.value} it is {size} bytes.",
                )
        except BaseException:
            _wipe(z)
            raise
        return z

    def delete_exchange_key(self, name: str) -> None:
        label = exchange_key_label(name)
        with self._use(f"delete exchange key pair {name!r}") as shared:
            found = list(shared.session.get_objects({Attribute.LABEL: label}))
            for obj in found:
                obj.destroy()
        if found:
            log.info("deleted exchange key pair %r from HSM token %r", name, self._label)

    def _exchange_pair(
        self, shared: _SharedSession, name: str, label: str
    ) -> tuple[Object, Object] | None:
        """The public and private key of exchange pair ``name``; None if neither exists."""
        public = self._exchange_object(shared, label, ObjectClass.PUBLIC_KEY)
        private = self._exchange_object(shared, label, ObjectClass.PRIVATE_KEY)
        if public is None and private is None:
            return None
        if public is None or private is None:
            present = "private" if public is None else "public"
            raise HsmError(
                f"HSM token {self._label!r} holds only the {present} key of exchange key "
                f"pair {name!r}; delete the pair and create it again.",
            )
        return public, private

    def _require_exchange_pair(
        self, shared: _SharedSession, name: str, label: str
    ) -> tuple[Object, Object]:
        pair = self._exchange_pair(shared, name, label)
        if pair is None:
            raise NotFound(f"HSM token {self._label!r} holds no exchange key pair {name!r}.")
        return pair

    def _exchange_object(
        self, shared: _SharedSession, label: str, object_class: ObjectClass
    ) -> Object | None:
        found = list(
            shared.session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label})
        )
        if len(found) > 1:
            raise HsmError(
                f"HSM token {self._label!r} holds {len(found)} objects labelled {label!r} "
                f"of class {object_class.name}; the workstation needs exactly one.",
            )
        return found[0] if found else None


def exchange_key_label(name: str) -> str:
    """The token label (CKA_LABEL) of exchange key pair ``name``; BadInput for a name that
    is not 1 to 48 lower-case letters, digits and single inner dashes."""
    if (
        not isinstance(name, str)
        or len(name) > _MAX_EXCHANGE_NAME
        or not _EXCHANGE_NAME.fullmatch(name)
    ):
        raise BadInput(
            f"The exchange key name {name!r} is not valid: use 1 to {_MAX_EXCHANGE_NAME} "
            "lower-case letters and digits, with single dashes between them "
            "(for example 'tr34-krd').",
        )
    return EXCHANGE_LABEL_PREFIX + name


_FIELD_BYTES: dict[KeyAlgorithm, int] = {
    KeyAlgorithm.EC_P256: 32,
    KeyAlgorithm.EC_P384: 48,
    KeyAlgorithm.EC_P521: 66,
}


def _key_pair_algorithm(key: Object) -> KeyAlgorithm | None:
    """The algorithm of either half of an RSA or EC key pair; None for a key of a kind the
    workstation does not use. CKA_MODULUS and CKA_EC_PARAMS are readable on a sensitive
    private key too (PKCS#11 v2.40 Current Mechanisms §2.1.3 and §2.3.4: not sensitive)."""
    key_type = key[Attribute.KEY_TYPE]
    if key_type == KeyType.RSA:
        return rsa_algorithm(int.from_bytes(key[Attribute.MODULUS], "big").bit_length())
    if key_type == KeyType.EC:
        params = key[Attribute.EC_PARAMS]
        for algorithm, der in _EC_PARAMS.items():
            if params == der:
                return algorithm
    return None


def _exchange_algorithm(public: Object, name: str) -> KeyAlgorithm:
    """The algorithm of an exchange key pair, from its public key's attributes."""
    algorithm = _key_pair_algorithm(public)
    if algorithm is None:
        raise HsmError(f"Exchange key pair {name!r} is of a kind the workstation does not use.")
    return algorithm


def _exchange_spki(public: Object, name: str) -> bytes:
    """The SubjectPublicKeyInfo (DER) of an exchange key pair's public key."""
    algorithm = _exchange_algorithm(public, name)
    if algorithm.family is KeyFamily.RSA:
        return _rsa_spki(
            public[Attribute.MODULUS], public[Attribute.PUBLIC_EXPONENT], algorithm.bits
        )
    return _ec_spki(public[Attribute.EC_POINT], _EC_CURVES[algorithm])


def _peer_point(peer_public_key: bytes, algorithm: KeyAlgorithm, name: str) -> bytes:
    """The peer's public key as an uncompressed X9.62 point, after checking that it is an
    elliptic-curve key on the curve of exchange key ``name`` and that its point lies on that
    curve (NIST SP 800-56A Rev. 3 §5.6.2.3.3; the HSM may not check)."""
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
    theirs = next(a for a, curve in _EC_CURVES.items() if curve.name == peer.curve.name)
    if theirs is not algorithm:
        raise BadInput(
            f"The peer's public key is on {theirs.curve} ({theirs.value}); exchange key "
            f"{name!r} is on {algorithm.curve} ({algorithm.value}): both must be on the same "
            "curve.",
        )
    return peer.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _unwrap_backup(
    unwrapper: UnwrapMixin,
    what: str,
    wrapped: bytes,
    object_class: ObjectClass,
    key_type: KeyType,
    *,
    label: str,
    capabilities: MechanismFlag,
    template: dict[Attribute, Any],
) -> Object:
    """One key of a workstation key backup, unwrapped as a token object. IntegrityError when
    it does not unwrap under the transport key."""
    try:
        return unwrapper.unwrap_key(
            object_class,
            key_type,
            wrapped,
            label=label,
            mechanism=_WRAP,
            store=True,
            capabilities=capabilities,
            template=template,
        )
    except _INFRASTRUCTURE_ERRORS + _TEMPLATE_ERRORS:
        raise
    except p11.PKCS11Error as exc:
        # RFC 5649 §3: the integrity check (AIV) failed, or the unwrapped value is not a key
        # of this kind. The transport key's check value matched, so the blob was altered.
        raise IntegrityError(
            f"The backup's {what} does not unwrap under its transport key: the backup was "
            "altered. Nothing was restored.",
            detail=f"{type(exc).__name__}: {exc}",
        ) from exc


def _ecdsa_sign(
    shared: _SharedSession, private: Object, message: bytes, what: str = AUDIT_KEY_LABEL
) -> bytes:
    """ECDSA with SHA-256 of ``message`` under ``private``, DER-encoded (RFC 3279 §2.2.3)."""
    signer = _capable(private, SignMixin, what)
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
