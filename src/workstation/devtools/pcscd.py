"""Start, reuse and stop pcscd with the vpcd virtual readers of the demo and the tests.

pcscd serves one socket per machine (``/run/pcscd/pcscd.comm``; 1.9.9 ignores
``PCSCLITE_CSOCK_NAME``), so there is one pcscd for everybody. :func:`ensure_pcscd`
reuses a pcscd that already offers our readers, starts one (``pcscd -f -c DIR``) when none
runs, and refuses, saying how to stop it, when another pcscd runs without them.

Each of the three vpcd entries in the generated ``reader.conf.d`` gives two readers, one per
TCP port: ``KCW Virtual Reader 1 00 00`` on 35963, ``KCW Virtual Reader 1 00 01`` on 35964,
``KCW Virtual Reader 2 00 00`` on 35965, and so on up to 35968. A virtual card is inserted
by connecting to the reader's port (see ``workstation.devtools.virtual_piv``).

vpcd keeps its sockets in a static array indexed by slot number, so entries loading the same
``libifdvpcd.so`` would share slots 0 and 1 (a card on port 35963 showed up in readers 1, 2
and 3). Each entry therefore loads its own copy of the driver from ``STATE/drivers``.

Note that vpcd listens on all interfaces: on a shared network, anyone reaching these ports
can put a virtual card into these readers. Use the virtual readers on demo and test machines
only (or firewall the ports).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "FIRST_PORT",
    "READER_PREFIX",
    "VPCD_DRIVER",
    "PcscdError",
    "PcscdStatus",
    "ensure_pcscd",
    "expected_readers",
    "list_readers",
    "pcscd_binary",
    "status",
    "stop_pcscd",
    "vpcd_driver",
]

READER_PREFIX: Final = "KCW Virtual Reader"
FIRST_PORT: Final = 35963  # 0x8C7B, vpcd's default
ENTRIES: Final = 3  # vpcd entries; two readers each
VPCD_DRIVER: Final = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
SYSTEM_PID_FILE: Final = Path("/run/pcscd/pcscd.pid")

_CONF_DIR = "reader.conf.d"
_DRIVERS_DIR = "drivers"
_PID_FILE = "pcscd.pid"
_LOG_FILE = "pcscd.log"
_LOCK_FILE = "pcscd.lock"

# Popen objects of the pcscd this process started, so stop_pcscd() can reap them.
_children: dict[int, subprocess.Popen[bytes]] = {}


class PcscdError(RuntimeError):
    """pcscd could not be started, reused or stopped; the message says what to do."""


@dataclass(frozen=True)
class PcscdStatus:
    """What :func:`status` found."""

    running: bool
    pid: int | None  # the running pcscd's pid, if known
    ours: bool  # started from this state directory
    readers: dict[str, int]  # our virtual readers that pcscd lists, name -> port


def pcscd_binary() -> str | None:
    """The pcscd executable, also found in /usr/sbin when that is not on PATH."""
    return shutil.which("pcscd") or shutil.which(
        "pcscd", path=os.pathsep.join(["/usr/local/sbin", "/usr/sbin", "/sbin"])
    )


def vpcd_driver() -> Path | None:
    """The vpcd IFD handler library, if installed (Debian ``vsmartcard-vpcd``)."""
    return VPCD_DRIVER if VPCD_DRIVER.exists() else None


def expected_readers(first_port: int = FIRST_PORT, entries: int = ENTRIES) -> dict[str, int]:
    """The PC/SC names of our virtual readers and their vpcd TCP ports, in port order.

    >>> list(expected_readers().items())[:3]
    [('KCW Virtual Reader 1 00 00', 35963), ('KCW Virtual Reader 1 00 01', 35964), \
('KCW Virtual Reader 2 00 00', 35965)]
    """
    readers: dict[str, int] = {}
    for i in range(entries):
        port = first_port + 2 * i
        # pcscd names a reader "FRIENDLYNAME <reader index> <slot>"; vpcd has two slots
        # per entry, the second on the next port.
        readers[f"{READER_PREFIX} {i + 1} 00 00"] = port
        readers[f"{READER_PREFIX} {i + 1} 00 01"] = port + 1
    return readers


def list_readers() -> list[str] | None:
    """The readers pcscd lists, or None when no pcscd answers."""
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return None
    try:
        hresult, names = scard.SCardListReaders(context, [])
        if hresult == scard.SCARD_S_SUCCESS:
            return [str(n) for n in names]
        if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        return None
    finally:
        scard.SCardReleaseContext(context)


def _write_config(state_dir: Path, first_port: int, entries: int) -> Path:
    conf = state_dir / _CONF_DIR
    drivers = state_dir / _DRIVERS_DIR
    conf.mkdir(parents=True, exist_ok=True)
    drivers.mkdir(parents=True, exist_ok=True)
    for old in conf.glob("*.conf"):
        old.unlink()
    for i in range(entries):
        port = first_port + 2 * i
        # vpcd keeps its sockets in a static array indexed by slot, so entries that load
        # the same library share (and fight over) slots 0 and 1: a card on one port shows
        # up in several readers. A copy per entry is a separate object for dlopen (it
        # tells objects apart by inode), with its own array.
        driver = drivers / f"libifdvpcd-{i + 1}.so"
        shutil.copyfile(VPCD_DRIVER.resolve(), driver)
        driver.chmod(0o755)
        (conf / f"kcw-vpcd-{i + 1}.conf").write_text(
            f'FRIENDLYNAME "{READER_PREFIX} {i + 1}"\n'
            f"DEVICENAME /dev/null:0x{port:X}\n"
            f"LIBPATH {driver}\n"
            f"CHANNELID 0x{port:X}\n",
            encoding="ascii",
        )
    return conf


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the parenthesised command name.
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _is_pcscd(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "pcscd" and _alive(pid)
    except OSError:
        return False


def _read_pid(path: Path) -> int | None:
    try:
        # pcscd ends its pid file with a NUL byte.
        return int(path.read_text().replace("\0", "").strip())
    except (OSError, ValueError):
        return None


def _running_pcscd() -> int | None:
    pid = _read_pid(SYSTEM_PID_FILE)
    return pid if pid is not None and _is_pcscd(pid) else None


def _our_pid(state_dir: Path) -> int | None:
    """The pid of the pcscd started from ``state_dir``, if it still runs."""
    pid = _read_pid(state_dir / _PID_FILE)
    if pid is None or not _is_pcscd(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    conf = str((state_dir / _CONF_DIR).resolve()).encode()
    return pid if conf in cmdline else None


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """Serialise ensure/stop between processes using the same state directory."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / _LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _log_tail(state_dir: Path, lines: int = 15) -> str:
    try:
        text = (state_dir / _LOG_FILE).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _have_all(expected: dict[str, int]) -> bool:
    names = list_readers()
    return names is not None and set(expected) <= set(names)


def _wait_for_readers(expected: dict[str, int], deadline: float, pid: int | None) -> bool:
    # pcscd offers no event for "configuration loaded"; poll with a short, growing delay.
    delay = 0.02
    while True:
        if _have_all(expected):
            return True
        if time.monotonic() >= deadline or (pid is not None and not _alive(pid)):
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def _refuse_foreign(pid: int | None) -> PcscdError:
    who = f"A pcscd (pid {pid})" if pid is not None else "A pcscd"
    how = f"`sudo kill {pid}`" if pid is not None else "`sudo pkill -x pcscd`"
    return PcscdError(
        f"{who} is running without the KCW virtual readers, and it was not started here. "
        f"Stop it first: {how}, or `sudo systemctl stop pcscd.socket pcscd.service` where "
        "systemd starts it. Then try again."
    )


def ensure_pcscd(
    state_dir: Path,
    *,
    first_port: int = FIRST_PORT,
    entries: int = ENTRIES,
    timeout: float = 20.0,
) -> dict[str, int]:
    """Make sure pcscd runs with our virtual readers; return reader name -> vpcd port.

    Parameters
    ----------
    state_dir
        Where the ``reader.conf.d`` directory, ``pcscd.pid`` and ``pcscd.log`` go.
    first_port, entries
        The vpcd ports: ``entries`` entries of two readers from ``first_port``.
    timeout
        Seconds to wait for pcscd to list the readers.

    Raises
    ------
    PcscdError
        pcscd or vpcd is not installed; another pcscd runs without our readers; or pcscd
        did not come up (the message has the end of its log).
    """
    state_dir = state_dir.resolve()
    expected = expected_readers(first_port, entries)
    with _locked(state_dir):
        if _have_all(expected):
            return expected
        deadline = time.monotonic() + timeout
        ours = _our_pid(state_dir)
        if ours is not None:  # ours, still loading its readers (or broken)
            if _wait_for_readers(expected, deadline, ours):
                return expected
            raise PcscdError(
                f"The pcscd started from {state_dir} (pid {ours}) does not list the virtual "
                f"readers. Its log ends:\n{_log_tail(state_dir)}"
            )
        running = _running_pcscd()
        if running is not None or list_readers() is not None:
            raise _refuse_foreign(running)
        binary = pcscd_binary()
        if binary is None:
            raise PcscdError("pcscd is not installed (Debian package `pcscd`).")
        if vpcd_driver() is None:
            raise PcscdError(
                f"The vpcd reader driver {VPCD_DRIVER} is missing "
                "(Debian package `vsmartcard-vpcd`)."
            )
        conf = _write_config(state_dir, first_port, entries)
        with open(state_dir / _LOG_FILE, "ab") as log:
            process = subprocess.Popen(
                [binary, "--foreground", "--config", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # not killed by the terminal's Ctrl-C
            )
        _children[process.pid] = process
        (state_dir / _PID_FILE).write_text(f"{process.pid}\n")
        if _wait_for_readers(expected, deadline, process.pid):
            return expected
        if process.poll() is not None:
            _children.pop(process.pid, None)
            (state_dir / _PID_FILE).unlink(missing_ok=True)
            # Another process may have started a pcscd with our readers meanwhile.
            if _wait_for_readers(expected, time.monotonic() + 1.0, None):
                return expected
            raise PcscdError(
                f"pcscd exited with status {process.returncode}. Its log "
                f"({state_dir / _LOG_FILE}) ends:\n{_log_tail(state_dir)}"
            )
        _stop_pid(process.pid, timeout=5.0)
        (state_dir / _PID_FILE).unlink(missing_ok=True)
        raise PcscdError(
            f"pcscd did not list the virtual readers within {timeout:g} s. Its log ends:\n"
            f"{_log_tail(state_dir)}"
        )


def _stop_pid(pid: int, *, timeout: float) -> None:
    child = _children.pop(pid, None)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if child is not None:
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout)
        return
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
        time.sleep(0.02)


def stop_pcscd(state_dir: Path, *, timeout: float = 10.0) -> bool:
    """Stop the pcscd started from ``state_dir``; leave any other pcscd alone.

    Returns True if a pcscd was stopped.
    """
    state_dir = state_dir.resolve()
    with _locked(state_dir):
        pid = _our_pid(state_dir)
        (state_dir / _PID_FILE).unlink(missing_ok=True)
        if pid is None:
            return False
        _stop_pid(pid, timeout=timeout)
        return True


def status(state_dir: Path) -> PcscdStatus:
    """Whether pcscd runs, whether it is the one started from ``state_dir``, and which
    of our virtual readers it lists."""
    state_dir = state_dir.resolve()
    names = list_readers()
    ours = _our_pid(state_dir)
    pid = ours if ours is not None else _running_pcscd()
    listed = set(names or [])
    return PcscdStatus(
        running=names is not None or pid is not None,
        pid=pid,
        ours=ours is not None,
        readers={n: p for n, p in expected_readers().items() if n in listed},
    )
