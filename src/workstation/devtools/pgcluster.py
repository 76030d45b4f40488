"""A private PostgreSQL cluster on loopback, for the tests and the benchmarks.

``PgCluster.start()`` runs ``initdb`` into a new temporary directory and starts the server
with ``pg_ctl``, listening on 127.0.0.1 at a free port and on a Unix socket in that
directory, and nowhere else. The superuser ``kcw`` has a random password: TCP connections
authenticate with SCRAM-SHA-256, the socket in the private directory with ``trust``.
``stop()`` stops the server and removes the directory.

PostgreSQL refuses to run as root. When this process is root (CI), ``initdb`` and
``pg_ctl`` run as the ``postgres`` system user through ``runuser``, and the directory is
handed to that user.

The server binaries come from ``$KCW_PG_BIN``, else the newest
``/usr/lib/postgresql/*/bin`` (Debian's ``postgresql`` package), else ``pg_config
--bindir``. If none has ``initdb`` the cluster refuses to start with a message saying how
to install it: the tests must fail, not skip, without PostgreSQL.

    python -m workstation.devtools.pgcluster   # start one, print its URL, stop on Enter
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

__all__ = ["PgCluster", "PgClusterError", "find_bin_dir"]

SUPERUSER = "kcw"
SYSTEM_USER = "postgres"  # who runs the server when we are root


class PgClusterError(RuntimeError):
    """The private cluster could not be made or started."""


def find_bin_dir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are (see the module docstring)."""
    candidates: list[Path] = []
    env = os.environ.get("KCW_PG_BIN")
    if env:
        candidates.append(Path(env))
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += versions
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if out:
            candidates.append(Path(out))
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    raise PgClusterError(
        "The PostgreSQL server binaries (initdb, pg_ctl) were not found in $KCW_PG_BIN, "
        "/usr/lib/postgresql/*/bin or pg_config --bindir. Install them with "
        "scripts/install-system-deps.sh (Debian package 'postgresql')."
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """One private PostgreSQL server (see the module docstring).

    ``durable=False`` (tests, benchmark set-up) turns ``fsync`` off: a crash of the
    machine may lose the cluster, which is thrown away anyway.
    """

    def __init__(
        self, *, durable: bool = False, base: Path | None = None, keep: Path | None = None
    ) -> None:
        self.bin_dir = find_bin_dir()
        self.durable = durable
        self.password = secrets.token_urlsafe(18)
        self.port = 0
        self.host = "127.0.0.1"
        self._base = base
        self._keep = keep  # a directory kept between runs (benchmarks): not removed
        self._dir: Path | None = None
        self._as_root = os.geteuid() == 0
        self._running = False

    @property
    def directory(self) -> Path:
        if self._dir is None:
            raise PgClusterError("The cluster has not been started.")
        return self._dir

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def socket_dir(self) -> Path:
        return self.directory

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if self._as_root:
            command = ["runuser", "-u", SYSTEM_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PgClusterError(
                f"{argv[0]} failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-2000:]}"
            )
        return result

    def start(self) -> PgCluster:
        if self._running:
            return self
        if self._keep is not None:
            self._keep.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._dir = self._keep
        else:
            self._dir = Path(tempfile.mkdtemp(prefix="kcw-pg-", dir=self._base))
        try:
            if self._as_root:
                shutil.chown(self._dir, SYSTEM_USER, SYSTEM_USER)
            pwfile = self._dir / "superuser.pw"
            if (self.data_dir / "PG_VERSION").is_file() and pwfile.is_file():
                self.password = pwfile.read_text().strip()  # a kept cluster
            else:
                self._initdb(pwfile)
            self.port = _free_port()
            self._run(
                "pg_ctl",
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.directory / "server.log"),
                "-o",
                f"-p {self.port}",
            )
            self._running = True
        except BaseException:
            self._remove()
            raise
        return self

    def _initdb(self, pwfile: Path) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if self._as_root:
            shutil.chown(pwfile, SYSTEM_USER, SYSTEM_USER)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        )
        if self._keep is None:
            pwfile.unlink()
        settings = [
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.socket_dir}'",
            "max_connections = 60",
            "shared_buffers = '256MB'",
            "work_mem = '16MB'",
            "maintenance_work_mem = '256MB'",
        ]
        if not self.durable:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# kcw private cluster\n" + "\n".join(settings) + "\n")

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        try:
            if self._running:
                self._running = False
                self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir))
        finally:
            self._remove()

    def _remove(self) -> None:
        if self._dir is not None and self._keep is None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def url(self, database: str = "postgres", *, with_password: bool = False) -> str:
        """A ``postgresql://`` URL of ``database`` over TCP on loopback."""
        secret = f":{quote(self.password, safe='')}" if with_password else ""
        return f"postgresql://{SUPERUSER}{secret}@{self.host}:{self.port}/{quote(database)}"

    def admin_conninfo(self, database: str = "postgres") -> str:
        """Over the private socket (trust): for creating and dropping databases."""
        return f"host={self.socket_dir} port={self.port} user={SUPERUSER} dbname={database}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = (self.directory / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> PgCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    with PgCluster() as cluster:
        print(cluster.url(with_password=True), flush=True)
        print(f"socket: {cluster.admin_conninfo()}", flush=True)
        input("Enter stops the cluster. ")


if __name__ == "__main__":
    main()
