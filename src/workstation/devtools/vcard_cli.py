"""``workstation-vcard``: issue virtual PIV cards and put them into the virtual readers.

::

    workstation-vcard create --out alice.json --name "Alice Example" --pin 123456 [--ca-dir DIR]
    workstation-vcard serve  --state DIR     # starts the card daemon (and pcscd) in the background
    workstation-vcard insert alice.json --reader 0 --state DIR
    workstation-vcard remove --reader 0 --state DIR
    workstation-vcard status --state DIR [--json]
    workstation-vcard stop   --state DIR     # removes every card, stops the daemon and its pcscd

A card is "inserted" while a process keeps a vpcd connection open for it, so ``serve`` runs a
small daemon that holds the insertions; ``insert`` and ``remove`` ask it over a Unix socket
(``DIR/vcard.sock``, mode 0600) and return once pcscd sees the change. ``--reader`` takes a
reader's index (0 to 5, in port order; ``status`` lists them) or its name (or a unique part of
it). ``--state`` defaults to ``$KCW_VCARD_STATE``, else ``~/.local/state/kcw-vcard``.

The PIN given to ``create`` is hashed into the card file and not stored; the card's private
key is stored unencrypted: these are demo cards.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from cryptography.hazmat.primitives import serialization

from workstation.devtools import pcscd
from workstation.devtools.card_issuer import CA_CERT_FILE, DemoCa, issue_card
from workstation.devtools.virtual_piv import (
    SlotError,
    VirtualCard,
    VirtualCardError,
    VirtualCardSlot,
)

__all__ = [
    "CardDaemon",
    "DaemonClient",
    "VcardError",
    "default_state_dir",
    "main",
    "resolve_reader",
    "start_daemon",
    "stop_daemon",
]

SOCKET_NAME = "vcard.sock"
PID_NAME = "vcard.pid"
LOG_NAME = "vcard.log"
PCSCD_DIR = "pcscd"
_MAX_REQUEST = 64 * 1024


class VcardError(Exception):
    """A failure to report to the person at the command line (exit status 1)."""


def default_state_dir() -> Path:
    env = os.environ.get("KCW_VCARD_STATE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kcw-vcard"


# --- the daemon ----------------------------------------------------------------------------


@dataclass
class _Insertion:
    slot: VirtualCardSlot
    card_file: Path


class _Shutdown(Exception):
    pass


class CardDaemon:
    """Holds the virtual cards inserted in the virtual readers; served on a Unix socket.

    One request per connection, one JSON object per line each way. Requests are handled
    one at a time, which keeps the state simple: an insertion cannot race a removal.
    """

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir.resolve()
        self.readers: dict[str, int] = {}
        self.insertions: dict[str, _Insertion] = {}
        self._stop = False
        self._busy = False

    # -- requests --

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        try:
            if op == "status":
                return {"ok": True, "status": self.status()}
            if op == "insert":
                return {"ok": True, **self.insert(str(request["card"]), str(request["reader"]))}
            if op == "remove":
                return {"ok": True, **self.remove(str(request["reader"]))}
            if op == "stop":
                self._stop = True
                return {"ok": True}
            return {"ok": False, "error": f"Unknown request {op!r}."}
        except (VcardError, SlotError, VirtualCardError) as exc:
            return {"ok": False, "error": str(exc)}
        except KeyError as exc:
            return {"ok": False, "error": f"The request lacks {exc}."}

    def _forget_dead(self) -> None:
        for name, insertion in list(self.insertions.items()):
            if not insertion.slot.inserted:  # pcscd went away, or vpcd dropped the card
                del self.insertions[name]

    def resolve(self, spec: str) -> str:
        return resolve_reader(spec, list(self.readers))

    def status(self) -> dict[str, Any]:
        self._forget_dead()
        present = _presence(list(self.readers))
        return {
            "pid": os.getpid(),
            "readers": [
                {
                    "index": index,
                    "name": name,
                    "port": port,
                    "card_present": present.get(name),
                    "card_file": (
                        str(self.insertions[name].card_file) if name in self.insertions else None
                    ),
                    "holder": (
                        self.insertions[name].slot.card.holder_name
                        if name in self.insertions
                        else None
                    ),
                }
                for index, (name, port) in enumerate(self.readers.items())
            ],
        }

    def insert(self, card_file: str, spec: str) -> dict[str, Any]:
        self._forget_dead()
        reader = self.resolve(spec)
        path = Path(card_file).resolve()
        if reader in self.insertions:
            raise VcardError(f"{reader} already holds {self.insertions[reader].card_file}.")
        for other, insertion in self.insertions.items():
            if insertion.card_file == path:
                raise VcardError(f"{path} is already inserted in {other}.")
        if _presence([reader]).get(reader):
            raise VcardError(f"{reader} already holds a card inserted by another program.")
        slot = VirtualCardSlot(VirtualCard(path))
        slot.insert(self.readers[reader], reader=reader)
        self.insertions[reader] = _Insertion(slot, path)
        return {"reader": reader, "holder": slot.card.holder_name}

    def remove(self, spec: str) -> dict[str, Any]:
        self._forget_dead()
        reader = self.resolve(spec)
        insertion = self.insertions.pop(reader, None)
        if insertion is None:
            raise VcardError(f"There is no card of this daemon in {reader}.")
        insertion.slot.remove()
        return {"reader": reader, "card_file": str(insertion.card_file)}

    def remove_all(self) -> None:
        for reader in list(self.insertions):
            insertion = self.insertions.pop(reader)
            with contextlib.suppress(SlotError):
                insertion.slot.remove()

    # -- serving --

    def serve(self) -> None:
        """Run until ``stop`` or SIGTERM/SIGINT; then remove the cards and stop the pcscd
        started here."""
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        sock_path = self.state_dir / SOCKET_NAME
        if DaemonClient(self.state_dir).running():
            raise VcardError(f"A card daemon already serves {sock_path}.")
        sock_path.unlink(missing_ok=True)  # stale, from a daemon that died
        self.readers = pcscd.ensure_pcscd(self.state_dir / PCSCD_DIR)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            server.bind(str(sock_path))
        finally:
            os.umask(old_umask)
        server.listen(8)
        (self.state_dir / PID_NAME).write_text(f"{os.getpid()}\n")

        def on_signal(signum: int, frame: FrameType | None) -> None:
            self._stop = True
            if not self._busy:
                raise _Shutdown

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        print(f"card daemon {os.getpid()} serving {sock_path}", flush=True)
        try:
            while not self._stop:
                connection, _ = server.accept()
                self._busy = True
                try:
                    self._serve_one(connection)
                finally:
                    self._busy = False
        except _Shutdown:
            pass
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            server.close()
            sock_path.unlink(missing_ok=True)
            self.remove_all()
            pcscd.stop_pcscd(self.state_dir / PCSCD_DIR)
            (self.state_dir / PID_NAME).unlink(missing_ok=True)
            print("card daemon stopped", flush=True)

    def _serve_one(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(10.0)
            try:
                line = _read_line(connection)
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ValueError("not an object")
            except (OSError, ValueError) as exc:
                reply: dict[str, Any] = {"ok": False, "error": f"Bad request: {exc}"}
            else:
                reply = self.handle(request)
            with contextlib.suppress(OSError):
                connection.sendall(json.dumps(reply).encode() + b"\n")


def _read_line(connection: socket.socket) -> str:
    data = bytearray()
    while not data.endswith(b"\n"):
        chunk = connection.recv(4096)
        if not chunk:
            break
        data.extend(chunk)
        if len(data) > _MAX_REQUEST:
            raise ValueError("request too long")
    return data.decode("utf-8")


def _presence(names: list[str]) -> dict[str, bool]:
    """PC/SC's view: whether each reader holds a card (from any program)."""
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS or not names:
        return {}
    try:
        hresult, states = scard.SCardGetStatusChange(
            context, 0, [(n, scard.SCARD_STATE_UNAWARE) for n in names]
        )
        if hresult != scard.SCARD_S_SUCCESS:
            return {}
        return {str(n): bool(int(s) & scard.SCARD_STATE_PRESENT) for n, s, _ in states}
    finally:
        scard.SCardReleaseContext(context)


def resolve_reader(spec: str, names: Sequence[str]) -> str:
    """A reader by index (in port order), exact name, or unique case-insensitive part.

    >>> resolve_reader("1", ["A 00 00", "A 00 01"])
    'A 00 01'
    >>> resolve_reader("00 00", ["A 00 00", "A 00 01"])
    'A 00 00'
    """
    if spec.isdigit():
        index = int(spec)
        if index >= len(names):
            raise VcardError(f"There is no reader {index}; use 0 to {len(names) - 1}.")
        return names[index]
    if spec in names:
        return spec
    matches = [n for n in names if spec.lower() in n.lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise VcardError(f"No virtual reader matches {spec!r}.")
    raise VcardError(f"{spec!r} matches several readers: {', '.join(matches)}.")


# --- the client ----------------------------------------------------------------------------


class DaemonClient:
    """Talks to the card daemon of one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.socket_path = state_dir / SOCKET_NAME

    def request(self, request: dict[str, Any], *, timeout: float = 30.0) -> dict[str, Any]:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(str(self.socket_path))
                sock.sendall(json.dumps(request).encode() + b"\n")
                reply = json.loads(_read_line(sock))
        except (FileNotFoundError, ConnectionRefusedError):
            raise VcardError(
                f"The card daemon is not running; start it with "
                f"`workstation-vcard serve --state {self.state_dir}`."
            ) from None
        except (OSError, ValueError) as exc:
            raise VcardError(f"The card daemon did not answer properly: {exc}") from exc
        if not isinstance(reply, dict):
            raise VcardError("The card daemon gave a malformed answer.")
        if not reply.get("ok"):
            raise VcardError(str(reply.get("error", "The card daemon refused the request.")))
        return reply

    def running(self) -> bool:
        try:
            self.request({"op": "status"}, timeout=5.0)
        except VcardError:
            return False
        return True

    def status(self) -> dict[str, Any]:
        """``{"pid": int, "readers": [{"index", "name", "port", "card_present",
        "card_file", "holder"}, ...]}``, readers in index order."""
        status: dict[str, Any] = self.request({"op": "status"})["status"]
        return status

    def insert(self, card_file: Path, reader: str | int) -> str:
        """Insert the card in ``card_file`` into ``reader`` (index or name); returns the
        reader's PC/SC name once pcscd sees the card."""
        reply = self.request(
            {"op": "insert", "card": str(Path(card_file).resolve()), "reader": str(reader)}
        )
        return str(reply["reader"])

    def remove(self, reader: str | int) -> str:
        """Remove the card from ``reader``; returns the reader's name once pcscd sees it
        empty."""
        return str(self.request({"op": "remove", "reader": str(reader)})["reader"])


def start_daemon(state_dir: Path, *, timeout: float = 30.0) -> int:
    """Start ``serve --foreground`` as a detached process; return its pid once it answers."""
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    client = DaemonClient(state_dir)
    if client.running():
        return int(client.status()["pid"])
    with open(state_dir / LOG_NAME, "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workstation.devtools.vcard_cli",
                "serve",
                "--foreground",
                "--state",
                str(state_dir),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not client.running():
        if process.poll() is not None:
            tail = "\n".join((state_dir / LOG_NAME).read_text(errors="replace").splitlines()[-15:])
            raise VcardError(f"The card daemon exited (status {process.returncode}):\n{tail}")
        if time.monotonic() >= deadline:
            process.terminate()
            raise VcardError(f"The card daemon did not start within {timeout:g} s.")
        time.sleep(delay)  # poll the socket; the daemon has no other way to say it is up
        delay = min(delay * 2, 0.25)
    return process.pid


def stop_daemon(state_dir: Path, *, timeout: float = 30.0) -> bool:
    """Ask the daemon to stop; wait until its socket is gone. False if none was running."""
    client = DaemonClient(state_dir)
    try:
        client.request({"op": "stop"})
    except VcardError:
        return False
    # The daemon leaves its accept loop after answering, then removes cards and pcscd.
    pid_file = state_dir / PID_NAME
    deadline = time.monotonic() + timeout
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return True


# --- command line --------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state",
        type=Path,
        default=None,
        help="the daemon's directory (default: $KCW_VCARD_STATE or ~/.local/state/kcw-vcard)",
    )
    parser = argparse.ArgumentParser(
        prog="workstation-vcard",
        description="Virtual PIV cards for the Key Custodian Workstation demo and tests.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    create = commands.add_parser("create", parents=[common], help="issue a new card file")
    create.add_argument("--out", type=Path, required=True, help="the card file to write")
    create.add_argument("--name", required=True, help="the cardholder's name")
    create.add_argument("--pin", required=True, help="the card's PIN, 6 to 8 digits")
    create.add_argument("--ca-dir", type=Path, default=None, help="the demo CA (default: STATE/ca)")
    create.add_argument("--valid-days", type=int, default=365)
    create.add_argument("--key-type", choices=["ec-p256", "rsa-2048"], default="ec-p256")
    create.add_argument("--pin-tries", type=int, default=3)
    create.add_argument("--force", action="store_true", help="overwrite an existing file")

    serve = commands.add_parser("serve", parents=[common], help="start the card daemon")
    serve.add_argument(
        "--foreground", action="store_true", help="run in this process (for service managers)"
    )

    insert = commands.add_parser("insert", parents=[common], help="insert a card")
    insert.add_argument("card", type=Path, help="the card file")
    insert.add_argument("--reader", required=True, help="reader index (0-5) or name")

    remove = commands.add_parser("remove", parents=[common], help="remove a card")
    remove.add_argument("--reader", required=True, help="reader index (0-5) or name")

    status = commands.add_parser("status", parents=[common], help="readers and cards")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    commands.add_parser("stop", parents=[common], help="remove all cards, stop the daemon")
    return parser


def _create(args: argparse.Namespace, state: Path) -> int:
    ca_dir: Path = args.ca_dir or state / "ca"
    ca = DemoCa.load_or_create(ca_dir)
    try:
        card = issue_card(
            args.out,
            args.name,
            args.pin,
            valid_days=args.valid_days,
            ca=ca,
            key_type=args.key_type,
            pin_tries=args.pin_tries,
            overwrite=args.force,
        )
    except FileExistsError:
        raise VcardError(f"{args.out} exists; use --force to replace it.") from None
    except ValueError as exc:
        raise VcardError(f"Cannot issue the card: {exc}.") from exc
    fingerprint = hashlib.sha256(
        card.certificate.public_bytes(serialization.Encoding.DER)
    ).hexdigest()
    print(f"card file:    {card.path}")
    print(f"holder:       {card.holder_name}")
    print(f"key:          {card.algorithm.name}")
    print(f"certificate:  SHA-256 {fingerprint}")
    print(f"valid until:  {card.certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    print(f"issuing CA:   {ca_dir / CA_CERT_FILE}")
    return 0


def _print_status(status: dict[str, Any]) -> None:
    print(f"card daemon pid {status['pid']}")
    for reader in status["readers"]:
        if reader["card_file"]:
            what = f"{reader['holder']} ({reader['card_file']})"
        elif reader["card_present"]:
            what = "a card from another program"
        else:
            what = "empty"
        print(f"  [{reader['index']}] {reader['name']} (port {reader['port']}): {what}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``workstation-vcard``; returns the exit status."""
    args = _parser().parse_args(argv)
    state: Path = (args.state or default_state_dir()).resolve()
    try:
        if args.command == "create":
            return _create(args, state)
        if args.command == "serve":
            if args.foreground:
                CardDaemon(state).serve()
                return 0
            pid = start_daemon(state)
            print(f"card daemon {pid} serving {state / SOCKET_NAME}")
            _print_status(DaemonClient(state).status())
            return 0
        client = DaemonClient(state)
        if args.command == "insert":
            reader = client.insert(args.card, args.reader)
            print(f"inserted {args.card} in {reader}")
            return 0
        if args.command == "remove":
            print(f"removed the card from {client.remove(args.reader)}")
            return 0
        if args.command == "status":
            status = client.status()
            if args.json:
                print(json.dumps(status, indent=2))
            else:
                _print_status(status)
            return 0
        if args.command == "stop":
            if stop_daemon(state):
                print("card daemon stopped")
            else:
                print("no card daemon was running")
            return 0
    except (VcardError, pcscd.PcscdError, VirtualCardError, SlotError) as exc:
        print(f"workstation-vcard: {exc}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
