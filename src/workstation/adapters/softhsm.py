"""The embedded default HSM: a private SoftHSM2 token under the workstation's data directory.

``provision_softhsm`` sets up everything without shell tools: the token directory, the
SoftHSM configuration file, random user and SO PINs in files only the owner can read, and
the token itself, initialised through the module's own PKCS#11 interface (ctypes, because
python-pkcs11 cannot call C_InitToken). Afterwards the workstation uses the token like any
vendor's HSM, through ``adapters.hsm_pkcs11.Pkcs11Hsm``::

    token = provision_softhsm(home / "hsm", "KCW workstation")
    hsm = Pkcs11Hsm(token.module_path, token.label, token.read_user_pin(),
                    environment=token.environment)

SoftHSM reads its configuration (``SOFTHSM2_CONF``) once, at C_Initialize. Provisioning
sets it for its own C_Initialize and puts it back afterwards; if the module is already
initialised in this process (say by a ``Pkcs11Hsm``), ``SOFTHSM2_CONF`` must already name
the same configuration file, or the token would land in another directory.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import stat
import sysconfig
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from workstation.adapters.hsm_pkcs11 import pkcs11_module_lock
from workstation.errors import AlreadyInitialised, BadInput, HsmError

__all__ = [
    "CONFIG_ENV",
    "SoftHsmToken",
    "existing_softhsm_token",
    "find_softhsm_module",
    "provision_softhsm",
    "read_pin_file",
    "softhsm_config",
]

CONFIG_ENV = "SOFTHSM2_CONF"
CONFIG_NAME = "softhsm2.conf"
TOKEN_DIR_NAME = "tokens"  # noqa: S105 (a directory name, not a secret)
USER_PIN_NAME = "user.pin"
SO_PIN_NAME = "so.pin"
_PIN_RANDOM_BYTES = 16  # 128 bits, written as 32 hex digits


@dataclass(frozen=True)
class SoftHsmToken:
    """A provisioned SoftHSM2 token: what ``Pkcs11Hsm`` needs to open it."""

    module_path: str
    conf_path: Path
    label: str
    user_pin_file: Path
    so_pin_file: Path

    @property
    def environment(self) -> dict[str, str]:
        """The variables to set before the module is loaded (``Pkcs11Hsm(environment=...)``)."""
        return {CONFIG_ENV: str(self.conf_path)}

    def read_user_pin(self) -> str:
        return read_pin_file(self.user_pin_file)

    def read_so_pin(self) -> str:
        return read_pin_file(self.so_pin_file)


def find_softhsm_module() -> str:
    """The path of Debian's SoftHSM2 PKCS#11 module (package ``softhsm2``)."""
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    candidates = [
        "/usr/lib/softhsm/libsofthsm2.so",
        *([f"/usr/lib/{multiarch}/softhsm/libsofthsm2.so"] if multiarch else []),
        "/usr/local/lib/softhsm/libsofthsm2.so",
        "/usr/lib64/softhsm/libsofthsm2.so",
    ]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise HsmError(
        "SoftHSM2 is not installed (looked for "
        + ", ".join(candidates)
        + "). Install the Debian package softhsm2, or configure the workstation with "
        "another PKCS#11 module.",
    )


def read_pin_file(path: Path) -> str:
    """A PIN from a file written by ``provision_softhsm``; refused if others may read it."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise HsmError(
                f"The PIN file {path} can be read by other users (mode {stat.S_IMODE(mode):o}); "
                "restrict it to its owner (chmod 600).",
            )
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise HsmError(f"Cannot read the PIN file {path}.", detail=str(exc)) from exc


def softhsm_config(directory: Path) -> Path:
    """Create (or check) ``directory/softhsm2.conf`` with its token store in
    ``directory/tokens``, and return its path.

    An existing file is kept if it names that token directory, and refused otherwise.
    """
    directory = _absolute(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    token_dir = directory / TOKEN_DIR_NAME
    token_dir.mkdir(mode=0o700, exist_ok=True)
    conf = directory / CONFIG_NAME
    if conf.exists():
        configured = _configured_token_dir(conf)
        if configured is None or configured.resolve() != token_dir.resolve():
            raise HsmError(
                f"{conf} keeps its tokens in {configured or 'an unspecified directory'}, not "
                f"in {token_dir}; it is left as it is. Move it away to provision here.",
            )
        return conf
    text = (
        "# SoftHSM2 configuration of the Key Custodian Workstation's embedded HSM.\n"
        f"directories.tokendir = {token_dir}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
    )
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return conf


def existing_softhsm_token(
    directory: Path,
    label: str,
    *,
    pin_directory: Path | None = None,
    module_path: str | None = None,
) -> SoftHsmToken:
    """The description of a token provisioned earlier in ``directory`` (nothing is opened:
    ``Pkcs11Hsm`` finds the token by label and says if it is missing)."""
    directory = _absolute(directory)
    pins = _absolute(pin_directory) if pin_directory is not None else directory
    token = SoftHsmToken(
        module_path=module_path or find_softhsm_module(),
        conf_path=directory / CONFIG_NAME,
        label=label,
        user_pin_file=pins / USER_PIN_NAME,
        so_pin_file=pins / SO_PIN_NAME,
    )
    for path in (token.conf_path, token.user_pin_file):
        if not path.is_file():
            raise HsmError(f"No SoftHSM token was provisioned in {directory}: {path} is missing.")
    return token


def provision_softhsm(
    directory: Path,
    label: str,
    *,
    pin_directory: Path | None = None,
    module_path: str | None = None,
) -> SoftHsmToken:
    """Initialise a new SoftHSM2 token labelled ``label`` with its store in ``directory``.

    Writes ``directory/softhsm2.conf`` (unless it is there already), random user and SO PINs
    to ``user.pin`` and ``so.pin`` (mode 0600) in ``pin_directory`` (default: ``directory``),
    and initialises a free slot's token. Refuses (``AlreadyInitialised``) if a token with
    that label exists or if the PIN files exist: a PIN file is never overwritten, since it
    may be the only copy of another token's PIN.
    """
    _check_label(label)
    module = module_path or find_softhsm_module()
    directory = _absolute(directory)
    conf = softhsm_config(directory)
    token_dir = directory / TOKEN_DIR_NAME
    pins = _absolute(pin_directory) if pin_directory is not None else directory
    pins.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = SoftHsmToken(
        module_path=module,
        conf_path=conf,
        label=label,
        user_pin_file=pins / USER_PIN_NAME,
        so_pin_file=pins / SO_PIN_NAME,
    )
    for path in (token.user_pin_file, token.so_pin_file):
        if path.exists() or path.is_symlink():
            raise AlreadyInitialised(
                f"{path} already exists: a token was provisioned with these PIN files. "
                "Refusing to overwrite them.",
            )

    with pkcs11_module_lock(module), _Cryptoki(module).started(conf) as cryptoki:
        slots = cryptoki.slots()
        if any(cryptoki.label(slot) == label for slot in slots if cryptoki.is_initialised(slot)):
            raise AlreadyInitialised(
                f"An HSM token labelled {label!r} already exists; refusing to overwrite it.",
            )
        free = [slot for slot in slots if not cryptoki.is_initialised(slot)]
        if not free:
            raise HsmError("SoftHSM offers no free slot for a new token.")
        before = set(token_dir.iterdir())
        so_pin = _random_pin()
        user_pin = _random_pin()
        token_made = False
        try:
            _write_secret(token.so_pin_file, so_pin)
            _write_secret(token.user_pin_file, user_pin)
            cryptoki.init_token(free[0], so_pin, label)
            token_made = True
            if set(token_dir.iterdir()) == before:
                raise HsmError(
                    f"SoftHSM did not create the token in {token_dir}: the module in this "
                    f"program was started with another configuration. Set {CONFIG_ENV}={conf} "
                    "before the HSM is first used.",
                )
            cryptoki.init_user_pin(free[0], so_pin, user_pin)
        except BaseException:
            token.user_pin_file.unlink(missing_ok=True)
            if not token_made:
                token.so_pin_file.unlink(missing_ok=True)
            raise
        finally:
            _wipe(so_pin)
            _wipe(user_pin)
    return token


# --- helpers -------------------------------------------------------------------------------


def _absolute(path: Path) -> Path:
    # Absolute but not resolved: callers express these paths relative to their home
    # directory, which may sit behind a symbolic link.
    return Path(os.path.abspath(path))


def _configured_token_dir(conf: Path) -> Path | None:
    for line in conf.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == "directories.tokendir":
            return Path(value.strip())
    return None


def _check_label(label: str) -> None:
    # CK_TOKEN_INFO.label: 32 bytes of UTF-8, padded with blanks (PKCS#11 v2.40 base §3.2),
    # so leading or trailing blanks would not survive.
    if not label or label != label.strip() or not label.isprintable():
        raise BadInput(
            f"The token label {label!r} must be printable text without leading or trailing blanks."
        )
    if len(label.encode("utf-8")) > 32:
        raise BadInput(f"The token label {label!r} is longer than 32 bytes (UTF-8).")


_HEX_DIGITS = b"0123456789abcdef"


def _random_pin() -> bytearray:
    """A random PIN as hex digits, in a bytearray that is wiped after use."""
    raw = bytearray(secrets.token_bytes(_PIN_RANDOM_BYTES))
    pin = bytearray(2 * len(raw))
    for i, byte in enumerate(raw):
        pin[2 * i] = _HEX_DIGITS[byte >> 4]
        pin[2 * i + 1] = _HEX_DIGITS[byte & 0x0F]
    _wipe(raw)
    return pin


def _wipe(secret: bytearray) -> None:
    secret[:] = bytes(len(secret))


def _write_secret(path: Path, secret: bytearray) -> None:
    """Create ``path`` (never overwrite, never follow a link) readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with memoryview(secret) as view:
            written = 0
            while written < len(view):
                written += os.write(fd, view[written:])
        os.fsync(fd)
    finally:
        os.close(fd)


# --- PKCS#11 through ctypes (pkcs11.h v2.40; CK_ULONG is unsigned long on Unix) -------------

_CK_RV = ctypes.c_ulong
_CK_ULONG = ctypes.c_ulong
_CKR_OK = 0x000
_CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191
_CKF_OS_LOCKING_OK = 0x002  # CK_C_INITIALIZE_ARGS.flags
_CKF_RW_SESSION = 0x002
_CKF_SERIAL_SESSION = 0x004
_CKF_TOKEN_INITIALIZED = 0x400  # CK_TOKEN_INFO.flags
_CKU_SO = 0
_RV_NAMES = {
    0x003: "CKR_SLOT_ID_INVALID",
    0x005: "CKR_GENERAL_ERROR",
    0x006: "CKR_FUNCTION_FAILED",
    0x007: "CKR_ARGUMENTS_BAD",
    0x0A0: "CKR_PIN_INCORRECT",
    0x0A1: "CKR_PIN_INVALID",
    0x0A2: "CKR_PIN_LEN_RANGE",
    0x0B6: "CKR_SESSION_EXISTS",
    0x0E0: "CKR_TOKEN_NOT_PRESENT",
    0x100: "CKR_USER_ALREADY_LOGGED_IN",
    0x190: "CKR_CRYPTOKI_NOT_INITIALIZED",
    0x191: "CKR_CRYPTOKI_ALREADY_INITIALIZED",
}


class _CK_VERSION(ctypes.Structure):  # PKCS#11 names
    _fields_ = (("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte))


class _CK_TOKEN_INFO(ctypes.Structure):
    _fields_ = (
        ("label", ctypes.c_ubyte * 32),
        ("manufacturerID", ctypes.c_ubyte * 32),
        ("model", ctypes.c_ubyte * 16),
        ("serialNumber", ctypes.c_ubyte * 16),
        ("flags", _CK_ULONG),
        ("ulMaxSessionCount", _CK_ULONG),
        ("ulSessionCount", _CK_ULONG),
        ("ulMaxRwSessionCount", _CK_ULONG),
        ("ulRwSessionCount", _CK_ULONG),
        ("ulMaxPinLen", _CK_ULONG),
        ("ulMinPinLen", _CK_ULONG),
        ("ulTotalPublicMemory", _CK_ULONG),
        ("ulFreePublicMemory", _CK_ULONG),
        ("ulTotalPrivateMemory", _CK_ULONG),
        ("ulFreePrivateMemory", _CK_ULONG),
        ("hardwareVersion", _CK_VERSION),
        ("firmwareVersion", _CK_VERSION),
        ("utcTime", ctypes.c_ubyte * 16),
    )


class _CK_C_INITIALIZE_ARGS(ctypes.Structure):
    _fields_ = (
        ("CreateMutex", ctypes.c_void_p),
        ("DestroyMutex", ctypes.c_void_p),
        ("LockMutex", ctypes.c_void_p),
        ("UnlockMutex", ctypes.c_void_p),
        ("flags", _CK_ULONG),
        ("pReserved", ctypes.c_void_p),
    )


_BYTES = ctypes.POINTER(ctypes.c_ubyte)
_C_Initialize = ctypes.CFUNCTYPE(_CK_RV, ctypes.c_void_p)
_C_Finalize = ctypes.CFUNCTYPE(_CK_RV, ctypes.c_void_p)
_C_GetSlotList = ctypes.CFUNCTYPE(
    _CK_RV, ctypes.c_ubyte, ctypes.POINTER(_CK_ULONG), ctypes.POINTER(_CK_ULONG)
)
_C_GetTokenInfo = ctypes.CFUNCTYPE(_CK_RV, _CK_ULONG, ctypes.POINTER(_CK_TOKEN_INFO))
_C_InitToken = ctypes.CFUNCTYPE(_CK_RV, _CK_ULONG, _BYTES, _CK_ULONG, _BYTES)
_C_InitPIN = ctypes.CFUNCTYPE(_CK_RV, _CK_ULONG, _BYTES, _CK_ULONG)
_C_OpenSession = ctypes.CFUNCTYPE(
    _CK_RV, _CK_ULONG, _CK_ULONG, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(_CK_ULONG)
)
_C_CloseSession = ctypes.CFUNCTYPE(_CK_RV, _CK_ULONG)
_C_Login = ctypes.CFUNCTYPE(_CK_RV, _CK_ULONG, _CK_ULONG, _BYTES, _CK_ULONG)
_C_Logout = ctypes.CFUNCTYPE(_CK_RV, _CK_ULONG)


class _CK_FUNCTION_LIST(ctypes.Structure):
    # The first 21 entries of CK_FUNCTION_LIST, in the order of pkcs11f.h; the rest of the
    # table is never read, and the structure is only ever reached through the module's
    # pointer.
    _fields_ = (
        ("version", _CK_VERSION),
        ("C_Initialize", _C_Initialize),
        ("C_Finalize", _C_Finalize),
        ("C_GetInfo", ctypes.c_void_p),
        ("C_GetFunctionList", ctypes.c_void_p),
        ("C_GetSlotList", _C_GetSlotList),
        ("C_GetSlotInfo", ctypes.c_void_p),
        ("C_GetTokenInfo", _C_GetTokenInfo),
        ("C_GetMechanismList", ctypes.c_void_p),
        ("C_GetMechanismInfo", ctypes.c_void_p),
        ("C_InitToken", _C_InitToken),
        ("C_InitPIN", _C_InitPIN),
        ("C_SetPIN", ctypes.c_void_p),
        ("C_OpenSession", _C_OpenSession),
        ("C_CloseSession", _C_CloseSession),
        ("C_CloseAllSessions", ctypes.c_void_p),
        ("C_GetSessionInfo", ctypes.c_void_p),
        ("C_GetOperationState", ctypes.c_void_p),
        ("C_SetOperationState", ctypes.c_void_p),
        ("C_Login", _C_Login),
        ("C_Logout", _C_Logout),
    )


def _buffer(secret: bytearray) -> ctypes.Array[ctypes.c_ubyte]:
    """A ctypes view of ``secret``'s own memory (no copy to wipe)."""
    return (ctypes.c_ubyte * len(secret)).from_buffer(secret)


class _Cryptoki:
    """Just enough of the PKCS#11 API, through the module's function list, to initialise a
    token. The module is the same shared object python-pkcs11 loads (one copy per process),
    so it shares its state."""

    def __init__(self, module_path: str) -> None:
        try:
            library = ctypes.CDLL(module_path)
        except OSError as exc:
            raise HsmError(
                f"The PKCS#11 module {module_path} could not be loaded.", detail=str(exc)
            ) from exc
        get_function_list = library.C_GetFunctionList
        get_function_list.restype = _CK_RV
        get_function_list.argtypes = (ctypes.POINTER(ctypes.POINTER(_CK_FUNCTION_LIST)),)
        table = ctypes.POINTER(_CK_FUNCTION_LIST)()
        self._check(int(get_function_list(ctypes.byref(table))), "C_GetFunctionList")
        self._f = table.contents

    @staticmethod
    def _check(rv: int, function: str) -> None:
        if rv != _CKR_OK:
            raise HsmError(
                f"SoftHSM refused {function} ({_RV_NAMES.get(rv, f'CKR 0x{rv:X}')}).",
            )

    @contextmanager
    def started(self, conf: Path) -> Iterator[_Cryptoki]:
        """C_Initialize with ``SOFTHSM2_CONF=conf`` for the call; C_Finalize at the end only
        if this call initialised the module (PKCS#11 v2.40 base §5.4: another part of the
        program, python-pkcs11 say, may be using it)."""
        previous = os.environ.get(CONFIG_ENV)
        os.environ[CONFIG_ENV] = str(conf)
        owned = False
        try:
            args = _CK_C_INITIALIZE_ARGS(flags=_CKF_OS_LOCKING_OK)
            rv = int(self._f.C_Initialize(ctypes.cast(ctypes.byref(args), ctypes.c_void_p)))
            if rv == _CKR_CRYPTOKI_ALREADY_INITIALIZED:
                if previous is None or Path(previous).resolve() != conf.resolve():
                    raise HsmError(
                        "SoftHSM is already in use in this program with the configuration "
                        f"{previous or 'of the system'}; it reads its configuration once, so "
                        f"no token can be provisioned under {conf} from here. Set "
                        f"{CONFIG_ENV}={conf} before the HSM is first used.",
                    )
            else:
                self._check(rv, "C_Initialize")
                owned = True
            yield self
        finally:
            if owned:
                self._f.C_Finalize(None)
            if previous is None:
                os.environ.pop(CONFIG_ENV, None)
            else:
                os.environ[CONFIG_ENV] = previous

    def slots(self) -> list[int]:
        # The first call (no buffer) is also what makes SoftHSM add a fresh uninitialised
        # slot when the last one was used.
        count = _CK_ULONG(0)
        self._check(int(self._f.C_GetSlotList(0, None, ctypes.byref(count))), "C_GetSlotList")
        ids = (_CK_ULONG * max(count.value, 1))()
        self._check(int(self._f.C_GetSlotList(0, ids, ctypes.byref(count))), "C_GetSlotList")
        return [int(ids[i]) for i in range(count.value)]

    def _token_info(self, slot: int) -> _CK_TOKEN_INFO:
        info = _CK_TOKEN_INFO()
        self._check(int(self._f.C_GetTokenInfo(slot, ctypes.byref(info))), "C_GetTokenInfo")
        return info

    def is_initialised(self, slot: int) -> bool:
        return bool(int(self._token_info(slot).flags) & _CKF_TOKEN_INITIALIZED)

    def label(self, slot: int) -> str:
        raw = bytes(self._token_info(slot).label)
        return raw.decode("utf-8", "replace").rstrip(" \0")

    def init_token(self, slot: int, so_pin: bytearray, label: str) -> None:
        # C_InitToken (PKCS#11 v2.40 base §5.5): the label is 32 bytes, blank padded, not
        # NUL terminated.
        padded = label.encode("utf-8").ljust(32, b" ")
        label_buffer = (ctypes.c_ubyte * 32).from_buffer_copy(padded)
        pin = _buffer(so_pin)
        try:
            self._check(
                int(self._f.C_InitToken(slot, pin, len(so_pin), label_buffer)), "C_InitToken"
            )
        finally:
            del pin

    def init_user_pin(self, slot: int, so_pin: bytearray, user_pin: bytearray) -> None:
        """C_OpenSession (R/W) → C_Login as SO → C_InitPIN → C_Logout → C_CloseSession
        (PKCS#11 v2.40 base §5.5 C_InitPIN: only the SO, in a R/W session)."""
        session = _CK_ULONG(0)
        self._check(
            int(
                self._f.C_OpenSession(
                    slot, _CKF_SERIAL_SESSION | _CKF_RW_SESSION, None, None, ctypes.byref(session)
                )
            ),
            "C_OpenSession",
        )
        try:
            so = _buffer(so_pin)
            self._check(
                int(self._f.C_Login(session.value, _CKU_SO, so, len(so_pin))), "C_Login (SO)"
            )
            del so
            try:
                user = _buffer(user_pin)
                self._check(int(self._f.C_InitPIN(session.value, user, len(user_pin))), "C_InitPIN")
                del user
            finally:
                self._f.C_Logout(session.value)
        finally:
            self._f.C_CloseSession(session.value)
