"""Key store targets: the ``KeyStoreConnector`` port for key agents, PKCS#11 tokens and
file drops (docs/agent.md).

- ``agent``: a ``workstation-agent`` at ``host:port``, over mutual TLS (TLS 1.2 or later;
  the agent's certificate is checked against ``trust`` and the host name, ours is
  ``client_certificate``). The wire protocol is ``workstation.agent.protocol``.
- ``pkcs11``: a token (a host HSM) through its PKCS#11 module: the key arrives wrapped
  under the token's KEK with RFC 5649 (AES key wrap with padding, CKM_AES_KEY_WRAP_PAD) and
  is unwrapped by C_UnwrapKey into a token object named as the agent names its keys
  (``workstation.agent.token``); its check value is computed in that token.
- ``file``: a folder that receives ``<label>-v<version>.tr31`` files, written atomically
  and never overwritten, and ``manifest.json`` recording key id, version and check value
  of each file.

Every failure is a ``TargetError`` naming the target, its location and what failed.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

from workstation.agent.protocol import (
    InstallRequest,
    ProtocolError,
    encode_message,
    held_from_json,
    install_request,
    read_message,
    status_request,
)
from workstation.agent.token import (
    KcvMismatch,
    KeyToken,
    TokenFailure,
    capabilities_for_mode,
    open_token,
)
from workstation.errors import TargetError
from workstation.services.ports import (
    HeldKey,
    InstallReceipt,
    KeyDelivery,
    KeyStoreTarget,
    TargetAddress,
    TargetState,
)
from workstation.standards import tr31

__all__ = ["MANIFEST_NAME", "KeyStores", "drop_file_name"]

MANIFEST_NAME = "manifest.json"
_ERROR_WORDS = {
    "bad-request": "refused the request as malformed",
    "refused": "refused the key",
    "kcv-mismatch": "refused the key: check value mismatch",
    "bad-block": "refused the key block",
    "no-kek": "has no KEK loaded",
    "token": "failed in its token",
}


def _fail(address: TargetAddress, what: str) -> TargetError:
    where = {"agent": "agent", "pkcs11": "PKCS#11 token", "file": "file drop"}.get(
        address.kind, address.kind
    )
    at = f"at {address.location}"
    if address.kind == "pkcs11":
        at = f"{address.token!r} in {address.location}"
    return TargetError(f"Target {address.name!r} ({where} {at}): {what}.")


class KeyStores:
    """The workstation's connector to its key store targets.

    ``timeout`` (``[distribution] timeout``), when given, is the seconds every agent
    connection waits to connect and for each answer, whatever a caller passes to
    ``connect``: it is the administrator's setting for this network.
    """

    def __init__(
        self,
        client_certificate: Path,
        client_key: Path,
        trust: Path,
        *,
        timeout: float | None = None,
    ) -> None:
        self._files = (Path(client_certificate), Path(client_key), Path(trust))
        self._timeout = timeout
        self._context: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    def _tls(self, address: TargetAddress) -> ssl.SSLContext:
        with self._lock:
            if self._context is None:
                certificate, key, trust = self._files
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                try:
                    context.load_verify_locations(cafile=str(trust))
                    context.load_cert_chain(certificate, key)
                except (OSError, ssl.SSLError) as exc:
                    raise _fail(
                        address,
                        f"the workstation's client TLS files cannot be used "
                        f"({certificate}, {key}, {trust}: {exc})",
                    ) from None
                self._context = context
            return self._context

    def connect(self, address: TargetAddress, *, timeout: float = 10.0) -> KeyStoreTarget:
        if address.kind == "agent":
            return _AgentTarget(address, self._tls(address), self._timeout or timeout)
        if address.kind == "pkcs11":
            return _Pkcs11Target(address)
        if address.kind == "file":
            return _FileTarget(address)
        raise _fail(address, f"unknown kind of target {address.kind!r} (agent, pkcs11 or file)")


def _check_receipt(address: TargetAddress, delivery: KeyDelivery, kcv: str) -> None:
    n = min(len(kcv), len(delivery.kcv))
    if n < 4 or kcv[:n].upper() != delivery.kcv[:n].upper():
        raise _fail(
            address,
            f"check value mismatch for {delivery.label} v{delivery.version}: the target "
            f"answered {kcv}, the workstation's is {delivery.kcv}",
        )


# --- agent -------------------------------------------------------------------------------


class _AgentTarget:
    def __init__(self, address: TargetAddress, context: ssl.SSLContext, timeout: float) -> None:
        self.address = address
        host, sep, port = address.location.rpartition(":")
        if not sep or not port.isdigit():
            raise _fail(address, "the location is not HOST:PORT")
        host = host.strip("[]")
        try:
            raw = socket.create_connection((host, int(port)), timeout=timeout)
        except ConnectionRefusedError:
            raise _fail(address, "the connection was refused (is the agent running?)") from None
        except TimeoutError:
            raise _fail(address, f"no answer within {timeout:g} s (timeout)") from None
        except OSError as exc:
            raise _fail(address, f"cannot connect ({exc.strerror or exc})") from None
        try:
            self._connection = context.wrap_socket(raw, server_hostname=host)
        except ssl.SSLCertVerificationError as exc:
            raw.close()
            raise _fail(
                address, f"TLS handshake: the agent's certificate is refused ({exc.verify_message})"
            ) from None
        except (ssl.SSLError, OSError) as exc:
            raw.close()
            raise _fail(address, f"TLS handshake failed ({_ssl_reason(exc)})") from None
        self._lock = threading.Lock()
        self._kek: tuple[str, str] | None = None

    def _ask(self, message: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            try:
                self._connection.sendall(encode_message(message))
                answer = read_message(self._connection)
            except TimeoutError:
                raise _fail(self.address, "the agent did not answer in time (timeout)") from None
            except ssl.SSLError as exc:
                raise _fail(
                    self.address,
                    f"the agent refused the TLS connection ({_ssl_reason(exc)}; is the "
                    "workstation's client certificate from the CA the agent trusts?)",
                ) from None
            except ConnectionResetError:
                raise _fail(
                    self.address,
                    "the agent reset the connection (it refused this workstation's client "
                    "certificate, or it stopped)",
                ) from None
            except (OSError, EOFError) as exc:
                raise _fail(self.address, f"the connection was lost ({exc})") from None
            except ProtocolError as exc:
                raise _fail(self.address, f"the agent's answer is malformed ({exc})") from None
        if answer is None:
            raise _fail(
                self.address,
                "the agent closed the connection (it refused this workstation's client "
                "certificate, or it stopped)",
            )
        if answer.get("ok") is not True:
            code = str(answer.get("error", ""))
            words = _ERROR_WORDS.get(code, "refused the request")
            raise _fail(self.address, f"the agent {words}: {answer.get('message', '')}")
        return answer

    def status(self) -> TargetState:
        answer = self._ask(status_request())
        try:
            held = tuple(
                HeldKey(e.key_id, e.label, e.version, e.kcv)
                for e in map(held_from_json, answer.get("held", []))
            )
        except ProtocolError as exc:
            raise _fail(self.address, f"the agent's status is malformed ({exc})") from None
        self._kek = (str(answer.get("kek_label", "")), str(answer.get("kek_kcv", "")))
        detail = (
            f"agent {answer.get('agent', '?')} {answer.get('agent_version', '?')}, token "
            f"{answer.get('token', '?')!r}, KEK {self._kek[0]!r} check value {self._kek[1]}"
        )
        return TargetState(reachable=True, held=held, detail=detail)

    def install(self, delivery: KeyDelivery) -> InstallReceipt:
        if self._kek is None:
            self.status()
        assert self._kek is not None
        if self._kek[0] != self.address.kek_label:
            raise _fail(
                self.address,
                f"KEK not found: the agent's KEK is {self._kek[0] or 'not loaded'!r}, the "
                f"target is recorded with {self.address.kek_label!r}",
            )
        if not delivery.key_block:
            raise _fail(self.address, "the delivery has no TR-31 key block for an agent")
        request = InstallRequest(
            delivery_id=delivery.delivery_id,
            key_id=delivery.key_id,
            label=delivery.label,
            version=delivery.version,
            algorithm=delivery.algorithm,
            kcv=delivery.kcv.upper(),
            key_block=delivery.key_block,
        )
        answer = self._ask(install_request(request))
        receipt = InstallReceipt(bool(answer.get("installed")), str(answer.get("kcv", "")))
        _check_receipt(self.address, delivery, receipt.kcv)
        return receipt

    def close(self) -> None:
        try:
            self._connection.close()
        except OSError:
            pass


def _ssl_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc).replace("_", " ").lower()


# --- PKCS#11 token -------------------------------------------------------------------------

_token_locks: dict[tuple[str, str], threading.Lock] = {}
_token_locks_lock = threading.Lock()


def _token_lock(module: str, token: str) -> threading.Lock:
    with _token_locks_lock:
        return _token_locks.setdefault((os.path.realpath(module), token), threading.Lock())


class _Pkcs11Target:
    def __init__(self, address: TargetAddress) -> None:
        self.address = address
        if not address.token:
            raise _fail(address, "no token label is recorded for this target")
        try:
            path = Path(address.pin_file)
            if not address.pin_file or not path.is_file():
                raise _fail(address, f"the PIN file {address.pin_file!r} does not exist")
            if path.stat().st_mode & 0o077:
                raise _fail(address, f"the PIN file {path} can be read by others (chmod 600)")
            pin = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise _fail(address, f"the PIN file cannot be read ({exc.strerror})") from None
        try:
            self._token: KeyToken = open_token(address.location, address.token, pin)
        except TokenFailure as exc:
            raise _fail(address, str(exc)) from None
        self._lock = _token_lock(address.location, address.token)
        try:
            if not self._token.has_object(address.kek_label):
                raise _fail(address, f"KEK not found: no object labelled {address.kek_label!r}")
        except TokenFailure as exc:
            self._token.close()
            raise _fail(address, str(exc)) from None
        except TargetError:
            self._token.close()
            raise

    def status(self) -> TargetState:
        try:
            held = self._token.held()
        except TokenFailure as exc:
            raise _fail(self.address, str(exc)) from None
        return TargetState(
            reachable=True,
            held=tuple(HeldKey(e.key_id, e.label, e.version, e.kcv) for e in held),
            detail=f"PKCS#11 token {self.address.token!r}",
        )

    def install(self, delivery: KeyDelivery) -> InstallReceipt:
        if not delivery.wrapped:
            raise _fail(self.address, "the delivery has no RFC 5649 wrapped key for a token")
        mode = "N"
        if delivery.key_block:
            try:
                mode = tr31.parse(delivery.key_block).mode_of_use
            except tr31.TR31Error as exc:
                raise _fail(self.address, f"the delivery's key block header: {exc}") from None
        capabilities = capabilities_for_mode(mode)
        if capabilities is None:
            raise _fail(self.address, f"mode of use {mode!r} cannot be set on a PKCS#11 key")
        with self._lock:
            try:
                installed, kcv = self._token.install_wrapped(
                    kek_label=self.address.kek_label,
                    key_id=delivery.key_id,
                    version=delivery.version,
                    label=delivery.label,
                    algorithm=delivery.algorithm,
                    wrapped=delivery.wrapped,
                    capabilities=capabilities,
                    expected_kcv=delivery.kcv.upper(),
                )
            except KcvMismatch as exc:
                raise _fail(self.address, str(exc)) from None
            except (TokenFailure, KeyError) as exc:
                raise _fail(self.address, f"the key was not installed: {exc}") from None
        if not installed:
            _check_receipt(self.address, delivery, kcv)
        return InstallReceipt(installed, kcv)

    def close(self) -> None:
        self._token.close()


# --- file drop ---------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def drop_file_name(label: str, version: int) -> str:
    """``<label>-v<version>.tr31``, the label's characters outside [A-Za-z0-9._-] as ``_``."""
    return f"{_UNSAFE.sub('_', label).strip('.') or 'key'}-v{version}.tr31"


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _FileTarget:
    def __init__(self, address: TargetAddress) -> None:
        self.address = address
        self.folder = Path(address.location)
        if not self.folder.is_dir():
            raise _fail(address, "the folder does not exist")
        if not os.access(self.folder, os.W_OK | os.X_OK):
            raise _fail(address, "the folder cannot be written")

    def _locked(self) -> Any:
        lock = open(self.folder / ".manifest.lock", "a")
        fcntl.flock(lock, fcntl.LOCK_EX)
        return lock

    def _manifest(self) -> dict[str, dict[str, Any]]:
        path = self.folder / MANIFEST_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise _fail(self.address, f"{MANIFEST_NAME} cannot be read ({exc})") from None
        files = data.get("files") if isinstance(data, dict) else None
        if not isinstance(files, dict):
            raise _fail(self.address, f"{MANIFEST_NAME} has no 'files' object")
        return files

    def _save_manifest(self, files: dict[str, dict[str, Any]]) -> None:
        text = json.dumps({"files": files}, indent=2, sort_keys=True) + "\n"
        tmp = self.folder / f".{MANIFEST_NAME}.tmp"
        _write_durably(tmp, text.encode("utf-8"))
        os.replace(tmp, self.folder / MANIFEST_NAME)
        _sync_directory(self.folder)

    def status(self) -> TargetState:
        lock = self._locked()
        try:
            files = self._manifest()
        finally:
            lock.close()
        held = []
        for name, entry in sorted(files.items()):
            if not (self.folder / name).is_file():
                continue  # taken away by the application: no longer held
            try:
                held.append(
                    HeldKey(
                        str(entry["key_id"]),
                        str(entry["label"]),
                        int(entry["version"]),
                        str(entry["kcv"]),
                    )
                )
            except (KeyError, TypeError, ValueError):
                raise _fail(
                    self.address, f"{MANIFEST_NAME}: the entry of {name} is malformed"
                ) from None
        return TargetState(True, tuple(held), f"file drop {self.folder}")

    def install(self, delivery: KeyDelivery) -> InstallReceipt:
        if not delivery.key_block:
            raise _fail(self.address, "the delivery has no TR-31 key block to drop")
        name = drop_file_name(delivery.label, delivery.version)
        final = self.folder / name
        entry = {
            "key_id": delivery.key_id,
            "label": delivery.label,
            "version": delivery.version,
            "kcv": delivery.kcv.upper(),
            "algorithm": delivery.algorithm,
            "delivery_id": delivery.delivery_id,
        }
        lock = self._locked()
        try:
            files = self._manifest()
            recorded = files.get(name)
            if recorded is not None and (
                recorded.get("key_id") != delivery.key_id
                or str(recorded.get("kcv", "")).upper() != delivery.kcv.upper()
            ):
                raise _fail(
                    self.address,
                    f"{name} holds another key (key {recorded.get('key_id')}, check value "
                    f"{recorded.get('kcv')}); nothing was written",
                )
            tmp = self.folder / f".{name}.{os.getpid()}.tmp"
            try:
                _write_durably(tmp, (delivery.key_block + "\n").encode("ascii"))
                # link() never replaces an existing file: a version already dropped stays
                # exactly as it was.
                os.link(tmp, final)
                installed = True
            except FileExistsError:
                installed = False
            except (OSError, UnicodeEncodeError) as exc:
                raise _fail(self.address, f"{name} could not be written ({exc})") from None
            finally:
                tmp.unlink(missing_ok=True)
            if installed:
                _sync_directory(self.folder)
            if recorded is None:
                files[name] = entry
                self._save_manifest(files)
        except OSError as exc:
            raise _fail(self.address, f"the manifest could not be written ({exc})") from None
        finally:
            lock.close()
        return InstallReceipt(installed, delivery.kcv.upper())

    def close(self) -> None:
        pass
