"""Keys on a PKCS#11 token, named the way the workstation knows them.

Used by the agent (its local token) and by the workstation's PKCS#11 target
(``workstation.adapters.key_stores``), so both name and report keys the same way:

- ``CKA_LABEL`` is the workstation's key label;
- ``CKA_ID`` is ``kcw1;<key id>;<version>;<check value>;<installed at>`` (UTF-8): the
  workstation's key id and version, the check value the token computed when the key was
  installed and the UTC time of installation. The token is the only record of what it
  holds: a key and its description are created in one C_CreateObject / C_UnwrapKey, so
  an agent killed at any moment holds a key completely or not at all.

Installed keys are token objects, private, sensitive and not extractable (PKCS#11 v2.40
§4.10: CKA_SENSITIVE, CKA_EXTRACTABLE), with the capabilities of the key block's mode of
use. Before that, the clear value goes into the token once as a session object that only
computes the check value (X9.24-1:2017 A.2 for TDES: encrypt zeros, 3 bytes; A.3 for AES:
CMAC of a zero block, 5 bytes); a value whose check value differs from the delivered one
never becomes a token object.

Thread safety: python-pkcs11 initialises the module without locking arguments, so every
call takes the process-wide lock of the module (shared with the workstation's HSM
adapter), and one logged-in session per token is shared by all users in the process
(login is per application, PKCS#11 v2.40 §5.6).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11
from pkcs11.types import Session

from workstation.adapters.hsm_pkcs11 import pkcs11_module_lock
from workstation.agent.components import KekAlgorithm
from workstation.agent.protocol import HeldEntry

__all__ = [
    "ID_PREFIX",
    "KcvMismatch",
    "KeyToken",
    "TokenFailure",
    "binding_key_inputs",
    "capabilities_for_mode",
    "open_token",
]

ID_PREFIX = b"kcw1;"
_KEY_TYPES = {
    "AES-128": (KeyType.AES, 16),
    "AES-192": (KeyType.AES, 24),
    "AES-256": (KeyType.AES, 32),
    "TDES-2KEY": (KeyType.DES2, 16),
    "TDES-3KEY": (KeyType.DES3, 24),
}
_CAPABILITY_ATTRIBUTES = {
    Attribute.ENCRYPT: MechanismFlag.ENCRYPT,
    Attribute.DECRYPT: MechanismFlag.DECRYPT,
    Attribute.WRAP: MechanismFlag.WRAP,
    Attribute.UNWRAP: MechanismFlag.UNWRAP,
    Attribute.SIGN: MechanismFlag.SIGN,
    Attribute.VERIFY: MechanismFlag.VERIFY,
    Attribute.DERIVE: MechanismFlag.DERIVE,
}
_F = MechanismFlag
# TR-31 mode of use (ANSI X9.143:2021 Table 4) -> PKCS#11 capabilities of the installed key.
_MODES = {
    "B": _F.ENCRYPT | _F.DECRYPT | _F.WRAP | _F.UNWRAP,
    "C": _F.SIGN | _F.VERIFY,
    "D": _F.DECRYPT | _F.UNWRAP,
    "E": _F.ENCRYPT | _F.WRAP,
    "G": _F.SIGN,
    "V": _F.VERIFY,
    "N": _F.ENCRYPT | _F.DECRYPT | _F.WRAP | _F.UNWRAP | _F.SIGN | _F.VERIFY,
    "X": _F.DERIVE,
    "Y": _F.DERIVE,
}


class TokenFailure(Exception):
    """The token could not be opened or refused an operation; the message says what."""


class KcvMismatch(Exception):
    """The key's check value, computed in the token, is not the one delivered."""

    def __init__(self, expected: str, computed: str) -> None:
        super().__init__(
            f"check value mismatch: the key unwrapped to check value {computed}, the "
            f"workstation sent {expected}; nothing was installed"
        )
        self.expected = expected
        self.computed = computed


def capabilities_for_mode(mode_of_use: str) -> MechanismFlag | None:
    """The capabilities for a TR-31 mode of use, None for one this module cannot express."""
    return _MODES.get(mode_of_use)


# TR-31:2018 A.4 / ANSI X9.143:2021 7.2 key derivation binding: the KBEK and KBAK are CMACs
# under the KBPK of counter (1) || key usage (2: 0000 encryption, 0001 MAC) || separator 00
# || algorithm (2) || length in bits (2), for counter 1..n, concatenated, cut to length.
_DERIVATION = {
    ("TDES", 16): (b"\x00\x00", b"\x00\x80"),
    ("TDES", 24): (b"\x00\x01", b"\x00\xc0"),
    ("AES", 16): (b"\x00\x02", b"\x00\x80"),
    ("AES", 24): (b"\x00\x03", b"\x00\xc0"),
    ("AES", 32): (b"\x00\x04", b"\x01\x00"),
}


def binding_key_inputs(family: str, length: int) -> tuple[list[bytes], list[bytes]]:
    """The CMAC inputs of the KBEK and of the KBAK for a KBPK (versions B and D)."""
    algorithm, bits = _DERIVATION[family, length]
    count = -(-length // (8 if family == "TDES" else 16))

    def inputs(usage: bytes) -> list[bytes]:
        return [bytes([i]) + usage + b"\x00" + algorithm + bits for i in range(1, count + 1)]

    return inputs(b"\x00\x00"), inputs(b"\x00\x01")


@dataclass(eq=False)
class _Shared:
    key: tuple[str, str]
    session: Session
    lock: threading.RLock
    users: int = 1


_registry_lock = threading.Lock()
_shared: dict[tuple[str, str], _Shared] = {}
_loaded_modules: set[str] = set()


def _other_loaded_modules() -> list[str]:
    """Modules the workstation's HSM adapter loaded in this process (python-pkcs11 keeps
    one library per path, initialised once)."""
    from workstation.adapters import hsm_pkcs11

    return list(getattr(hsm_pkcs11, "_module_environments", {}))


def open_token(
    module_path: str, label: str, pin: str, *, environment: dict[str, str] | None = None
) -> KeyToken:
    """The token labelled ``label`` in the PKCS#11 module, logged in as its user.

    ``environment`` is set before the module is first loaded in this process (SoftHSM2
    reads ``SOFTHSM2_CONF`` once, at C_Initialize).
    """
    real = os.path.realpath(module_path)
    if not os.path.isfile(real):
        raise TokenFailure(f"the PKCS#11 module {module_path} does not exist")
    lock = pkcs11_module_lock(real)
    with lock, _registry_lock:
        shared = _shared.get((real, label))
        if shared is not None:
            shared.users += 1
            return KeyToken(shared, label)
        if real not in _loaded_modules:
            # Read once, at the module's C_Initialize: only worth setting before the first
            # load in this process (where SoftHSM2 is loaded already, the token must be in
            # the store it was loaded with, or it is not found).
            loaded_elsewhere = any(os.path.realpath(p) == real for p in _other_loaded_modules())
            if not loaded_elsewhere:
                os.environ.update(environment or {})
            _loaded_modules.add(real)
        try:
            lib = pkcs11.lib(real)
            token = _find(lib, label, module_path)
            try:
                session = token.open(rw=True, user_pin=pin)
            except p11.UserAlreadyLoggedIn:
                # Another part of this program logged in to the token already; login is per
                # application, so a session of ours is logged in too.
                session = token.open(rw=True)
        except p11.PinIncorrect:
            raise TokenFailure(f"token {label!r} refused the PIN") from None
        except (p11.PKCS11Error, OSError, RuntimeError) as exc:
            raise TokenFailure(
                f"token {label!r} in {module_path} cannot be opened ({type(exc).__name__})"
            ) from None
        shared = _Shared((real, label), session, lock)
        _shared[(real, label)] = shared
        return KeyToken(shared, label)


def _find(lib: Any, label: str, module_path: str) -> Any:
    found = []
    for slot in lib.get_slots(token_present=True):
        try:
            token = slot.get_token()
        except p11.PKCS11Error:
            continue
        if token.flags & TokenFlag.TOKEN_INITIALIZED and token.label == label:
            found.append(token)
    if len(found) != 1:
        raise TokenFailure(
            f"{'no' if not found else len(found)} token{'s' if found else ''} labelled "
            f"{label!r} in {module_path}"
        )
    return found[0]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_id(raw: bytes) -> tuple[str, int, str, str] | None:
    if not raw.startswith(ID_PREFIX):
        return None
    try:
        key_id, version, kcv, installed_at = raw[len(ID_PREFIX) :].decode("utf-8").split(";")
        return key_id, int(version), kcv, installed_at
    except ValueError:
        return None


class KeyToken:
    """One user's handle on a shared, logged-in token session (see ``open_token``)."""

    def __init__(self, shared: _Shared, label: str) -> None:
        self._shared = shared
        self.label = label
        self._closed = False

    def close(self) -> None:
        """The last user of the token in this process closes the session (and logs out)."""
        with self._shared.lock, _registry_lock:
            if self._closed:
                return
            self._closed = True
            self._shared.users -= 1
            if self._shared.users == 0:
                _shared.pop(self._shared.key, None)
                try:
                    self._shared.session.close()
                except p11.PKCS11Error:
                    pass

    @contextmanager
    def _session(self, action: str) -> Iterator[Session]:
        with self._shared.lock:
            if self._closed:
                raise TokenFailure(f"token {self.label!r} is closed")
            try:
                yield self._shared.session
            except p11.PKCS11Error as exc:
                raise TokenFailure(
                    f"token {self.label!r} failed to {action} ({type(exc).__name__})"
                ) from None

    # --- the KEK -------------------------------------------------------------------------

    def _kek(self, session: Session, kek_label: str) -> Any:
        template = {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: kek_label}
        found = list(session.get_objects(template))
        if len(found) != 1:
            raise TokenFailure(
                f"token {self.label!r} holds {'no' if not found else len(found)} KEK "
                f"labelled {kek_label!r}"
            )
        return found[0]

    def has_object(self, label: str) -> bool:
        with self._session("look for an object") as session:
            return bool(list(session.get_objects({Attribute.LABEL: label})))

    def create_kek(self, kek_label: str, algorithm: KekAlgorithm, value: bytearray) -> None:
        """Create the agent's KEK: a private, sensitive, non-extractable token key whose only
        use is CMAC (the TR-31 binding key derivation). Refuses a label already present."""
        key_type = KeyType.AES if algorithm.family == "AES" else _KEY_TYPES[algorithm.name][0]
        with self._session("create the KEK") as session:
            if list(session.get_objects({Attribute.LABEL: kek_label})):
                raise TokenFailure(
                    f"token {self.label!r} already holds an object labelled {kek_label!r}"
                )
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.SECRET_KEY,
                    Attribute.KEY_TYPE: key_type,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.MODIFIABLE: False,
                    Attribute.LABEL: kek_label,
                    **{a: a is Attribute.SIGN for a in _CAPABILITY_ATTRIBUTES},
                    # The bytearray itself: python-pkcs11 copies it into the C template only
                    # for the call (see adapters/hsm_pkcs11.py, _create_secret_key).
                    Attribute.VALUE: value,
                }
            )

    def kek_cmac(self, kek_label: str, family: str, data: bytes) -> bytes:
        """CMAC (NIST SP 800-38B) of ``data`` under the KEK, in the token."""
        mechanism = Mechanism.AES_CMAC if family == "AES" else Mechanism.DES3_CMAC
        with self._session("compute a CMAC with the KEK") as session:
            result = self._kek(session, kek_label).sign(data, mechanism=mechanism)
            return bytes(result)

    def derive_binding_keys(
        self, kek_label: str, family: str, length: int
    ) -> tuple[bytearray, bytearray]:
        """The TR-31 KBEK and KBAK (key derivation binding, versions B and D) of the KEK,
        computed by CMAC inside the token: the KEK never leaves it. The caller wipes them."""
        enc_inputs, mac_inputs = binding_key_inputs(family, length)
        mechanism = Mechanism.AES_CMAC if family == "AES" else Mechanism.DES3_CMAC
        kbek, kbak = bytearray(), bytearray()
        with self._session("derive the key block binding keys") as session:
            kek = self._kek(session, kek_label)
            for data in enc_inputs:
                kbek += kek.sign(data, mechanism=mechanism)
            for data in mac_inputs:
                kbak += kek.sign(data, mechanism=mechanism)
        del kbek[length:], kbak[length:]
        return kbek, kbak

    # --- held keys -----------------------------------------------------------------------

    def held(self) -> list[HeldEntry]:
        """Every key installed under the workstation's naming, in key id and version order."""
        entries: list[HeldEntry] = []
        with self._session("list its keys") as session:
            for obj in session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}):
                try:
                    raw = bytes(obj[Attribute.ID])
                except (p11.AttributeTypeInvalid, KeyError):
                    continue
                parsed = _parse_id(raw)
                if parsed is None:
                    continue
                key_id, version, kcv, installed_at = parsed
                label = str(obj[Attribute.LABEL])
                entries.append(HeldEntry(key_id, label, version, kcv, installed_at))
        entries.sort(key=lambda e: (e.key_id, e.version))
        return entries

    def find(self, key_id: str, version: int) -> HeldEntry | None:
        return next((e for e in self.held() if e.key_id == key_id and e.version == version), None)

    # --- installing ----------------------------------------------------------------------

    @staticmethod
    def _template(
        key_id: str, version: int, label: str, kcv: str, capabilities: MechanismFlag
    ) -> dict[Attribute, Any]:
        return {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.LABEL: label,
            Attribute.ID: ID_PREFIX + f"{key_id};{version};{kcv};{_now()}".encode(),
            **{a: bool(capabilities & f) for a, f in _CAPABILITY_ATTRIBUTES.items()},
        }

    @staticmethod
    def _check_template(algorithm: str) -> dict[Attribute, Any]:
        # A session object that can only compute the check value.
        aes = algorithm.startswith("AES")
        return {
            Attribute.TOKEN: False,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            **{
                a: (a is Attribute.SIGN if aes else a is Attribute.ENCRYPT)
                for a in _CAPABILITY_ATTRIBUTES
            },
        }

    @staticmethod
    def _kcv_of(key: Any, algorithm: str) -> bytes:
        if algorithm.startswith("AES"):
            # X9.24-1:2017 A.3: CMAC of one zero block.
            return bytes(key.sign(bytes(16), mechanism=Mechanism.AES_CMAC))
        # X9.24-1:2017 A.2 (legacy): TDES-ECB of eight zero bytes.
        return bytes(key.encrypt(bytes(8), mechanism=Mechanism.DES3_ECB))

    @staticmethod
    def _compare(full: bytes, expected: str, algorithm: str) -> str:
        computed = full[: len(expected) // 2].hex().upper()
        if computed != expected:
            raise KcvMismatch(expected, computed)
        return full[: 5 if algorithm.startswith("AES") else 3].hex().upper()

    def install_clear(
        self,
        *,
        key_id: str,
        version: int,
        label: str,
        algorithm: str,
        value: bytearray,
        capabilities: MechanismFlag,
        expected_kcv: str,
    ) -> tuple[bool, str]:
        """Install a key given in clear (the agent, after unwrapping a key block).

        Returns (installed, check value); (False, held check value) if this key id and
        version are held already. Raises KcvMismatch, creating nothing, if the check value
        differs. The caller wipes ``value`` and serialises calls for one token.
        """
        key_type, length = _KEY_TYPES[algorithm]
        if len(value) != length:
            raise TokenFailure(f"a {algorithm} key has {length} bytes, not {len(value)}")
        held = self.find(key_id, version)
        if held is not None:
            return False, held.kcv
        base = {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: key_type}
        with self._session("install the key") as session:
            check = session.create_object(
                {**base, **self._check_template(algorithm), Attribute.VALUE: value}
            )
            try:
                full = self._kcv_of(check, algorithm)
            finally:
                check.destroy()
            kcv = self._compare(full, expected_kcv, algorithm)
            session.create_object(
                {
                    **base,
                    **self._template(key_id, version, label, kcv, capabilities),
                    Attribute.VALUE: value,
                }
            )
        return True, full[: len(expected_kcv) // 2].hex().upper()

    def install_wrapped(
        self,
        *,
        kek_label: str,
        key_id: str,
        version: int,
        label: str,
        algorithm: str,
        wrapped: bytes,
        capabilities: MechanismFlag,
        expected_kcv: str,
    ) -> tuple[bool, str]:
        """Install a key wrapped under the token's KEK with RFC 5649 (AES key wrap with
        padding, CKM_AES_KEY_WRAP_PAD) by C_UnwrapKey: the clear key never leaves the token.
        Same answers and refusals as ``install_clear``."""
        key_type = _KEY_TYPES[algorithm][0]
        held = self.find(key_id, version)
        if held is not None:
            return False, held.kcv
        with self._session("unwrap the key") as session:
            kek = self._kek(session, kek_label)
            check = kek.unwrap_key(
                ObjectClass.SECRET_KEY,
                key_type,
                wrapped,
                mechanism=Mechanism.AES_KEY_WRAP_PAD,
                template=self._check_template(algorithm),
            )
            try:
                # A key of another length than the algorithm's fails the comparison of
                # check values below (the workstation computed its value on the right key).
                full = self._kcv_of(check, algorithm)
            finally:
                check.destroy()
            kcv = self._compare(full, expected_kcv, algorithm)
            kek.unwrap_key(
                ObjectClass.SECRET_KEY,
                key_type,
                wrapped,
                mechanism=Mechanism.AES_KEY_WRAP_PAD,
                template=self._template(key_id, version, label, kcv, capabilities),
            )
        return True, full[: len(expected_kcv) // 2].hex().upper()
