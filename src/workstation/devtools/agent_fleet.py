"""A fleet of key agents on loopback, for tests, the demo and the benchmark.

Each agent has its own home, its own SoftHSM2 token, a certificate from the fleet's test CA
for 127.0.0.1, the CA as the only issuer of accepted client certificates, and the KEK
loaded from two components. The same CA issues the workstation's client certificate
(``write_client_files``), and the workstation trusts the agents through it.

In-process agents (``processes=False``) run as threads (200 of them for the benchmark);
their tokens share one SoftHSM2 store, the one this process uses: SoftHSM2 reads its
configuration once per process, so the caller passes it (``softhsm_conf``, which must
agree with ``SOFTHSM2_CONF`` when that is set) and the fleet never changes the process's
environment itself. Process agents (``processes=True``) are real ``workstation-agent
serve`` programs with a token each under their home, for kill tests::

    fleet = Fleet.start(tmp / "fleet", 3, kek=kek_bytes, softhsm_conf=conf)
    connector = KeyStores(*fleet.client_files)
    target = connector.connect(fleet.address("agent-001"))
    fleet.stop("agent-001")          # kill=True sends SIGKILL to a process agent
    fleet.start_again("agent-001")
    fleet.close()
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from workstation.adapters.softhsm import CONFIG_ENV
from workstation.agent.components import kek_algorithm
from workstation.agent.config import AgentConfig, load_config
from workstation.agent.main import init_agent, load_kek
from workstation.agent.server import AgentServer
from workstation.agent.tls import CSR_NAME, install_certificate, install_trust
from workstation.config import DistributionConfig
from workstation.services.ports import TargetAddress

__all__ = ["ClientFiles", "Fleet", "FleetAgent", "TestCa", "write_client_files"]

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 30.0  # seconds a process agent may take to listen


class TestCa:
    """An EC P-256 test CA in ``directory`` (``ca.key`` mode 0600, ``ca.pem``)."""

    __test__ = False  # not a pytest class

    def __init__(self, directory: Path, name: str = "KCW Fleet Test CA") -> None:
        self.directory = directory
        self.key_file = directory / "ca.key"
        self.cert_file = directory / "ca.pem"
        if self.key_file.exists():
            key = serialization.load_pem_private_key(self.key_file.read_bytes(), None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            self._key = key
            self.certificate = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
            return
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(
                self._key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        self.cert_file.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def issue(
        self,
        public_key: ec.EllipticCurvePublicKey,
        common_name: str,
        *,
        server_names: list[x509.GeneralName] | None = None,
        client: bool = False,
    ) -> x509.Certificate:
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=825))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
                ),
                critical=False,
            )
        )
        if server_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(server_names), False)
        return builder.sign(self._key, hashes.SHA256())

    def sign_request(self, csr_file: Path, out_file: Path) -> Path:
        """Certify an agent's request (its CN and subject alternative names)."""
        csr = x509.load_pem_x509_csr(csr_file.read_bytes())
        if not csr.is_signature_valid:
            raise ValueError(f"{csr_file}: the request's signature does not verify")
        public = csr.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        sans = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        cert = self.issue(public, str(cn), server_names=sans)
        out_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return out_file


@dataclass(frozen=True)
class ClientFiles:
    """The workstation's ``[distribution]`` files: ``KeyStores(*client_files)``."""

    certificate: Path
    key: Path
    trust: Path

    def __iter__(self) -> Iterator[Path]:
        return iter((self.certificate, self.key, self.trust))

    def distribution_config(self, timeout: float = 10.0) -> DistributionConfig:
        """The workstation's ``[distribution]`` section for these files."""
        return DistributionConfig(str(self.certificate), str(self.key), str(self.trust), timeout)


def write_client_files(
    ca: TestCa, directory: Path, common_name: str = "workstation"
) -> ClientFiles:
    """Issue a workstation client certificate from ``ca`` and write ``client.crt``,
    ``client.key`` (0600) and ``agents-ca.pem`` (the CA, to trust the agents) in
    ``directory``: the files of the workstation's ``[distribution]`` section."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca.issue(key.public_key(), common_name, client=True)
    key_file = directory / "client.key"
    key_file.unlink(missing_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    cert_file = directory / "client.crt"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    trust = directory / "agents-ca.pem"
    trust.write_bytes(ca.cert_file.read_bytes())
    return ClientFiles(cert_file, key_file, trust)


def _agent_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop(CONFIG_ENV, None)  # each agent program sets its own token store's
    return env


def _run_agent(*args: str, home: Path, stdin: str = "") -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workstation.agent.main", *args, "--home", str(home)],
        input=stdin,
        capture_output=True,
        text=True,
        env=_agent_environment(),
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"workstation-agent {args[0]} failed: {done.stderr.strip()}")


def _shared_store(softhsm_conf: Path | None) -> Path:
    """The SoftHSM2 store (the configuration's directory) in-process agents share."""
    configured = os.environ.get(CONFIG_ENV)
    if softhsm_conf is None and not configured:
        raise ValueError(
            f"An in-process fleet makes its agents' tokens in the SoftHSM2 store this "
            f"process uses, and {CONFIG_ENV} is not set: pass softhsm_conf= (the "
            f"softhsm2.conf the process's HSM is opened with), set {CONFIG_ENV} before the "
            "HSM is first used, or start the fleet with processes=True."
        )
    conf = Path(softhsm_conf or str(configured)).absolute()
    if configured and Path(configured).resolve() != conf.resolve():
        raise ValueError(
            f"softhsm_conf={conf} is not the SoftHSM2 configuration of this process "
            f"({CONFIG_ENV}={configured}); SoftHSM2 reads one configuration per process, "
            "so the agents' tokens would not be found."
        )
    if not conf.is_file():
        raise ValueError(f"softhsm_conf={conf}: there is no SoftHSM2 configuration there.")
    return conf.parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@dataclass
class FleetAgent:
    name: str
    home: Path
    port: int
    kek_label: str
    server: AgentServer | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def location(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def address(self) -> TargetAddress:
        return TargetAddress(self.name, "agent", self.location, self.kek_label)

    @property
    def running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return self.server is not None


@dataclass
class Fleet:
    directory: Path
    processes: bool
    ca: TestCa
    client_files: ClientFiles
    agents: dict[str, FleetAgent] = field(default_factory=dict)

    # --- making ----------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        directory: Path,
        count: int,
        *,
        kek: bytes,
        kek_label: str = "KEK",
        algorithm: str = "AES-256",
        processes: bool = False,
        prefix: str = "agent",
        softhsm_conf: Path | None = None,
    ) -> Fleet:
        """Make ``count`` agents named ``<prefix>-001``... and start them.

        In-process agents make their tokens in the SoftHSM2 store of ``softhsm_conf``
        (or, when that is not given, of ``SOFTHSM2_CONF``); with neither, the fleet is
        refused rather than choosing a configuration for the whole process. Process
        agents need neither: each program has its own store.
        """
        store = None if processes else _shared_store(softhsm_conf)
        directory = Path(directory).absolute()
        directory.mkdir(parents=True, exist_ok=True)
        ca = TestCa(directory / "ca")
        fleet = cls(directory, processes, ca, write_client_files(ca, directory / "workstation"))
        try:
            for number in range(1, count + 1):
                name = f"{prefix}-{number:03d}"
                fleet.agents[name] = fleet._make(name, kek, kek_label, algorithm, store)
                fleet.start_again(name)
        except BaseException:
            fleet.close()
            raise
        return fleet

    @classmethod
    def reopen(cls, directory: Path) -> Fleet:
        """The process fleet made earlier in ``directory`` (the demo's, after a restart),
        its agents not started: ``start_again`` each, or ``stop_recorded`` to stop the
        ones a previous run left running."""
        directory = Path(directory).absolute()
        ca = TestCa(directory / "ca")
        files = directory / "workstation"
        fleet = cls(
            directory,
            True,
            ca,
            ClientFiles(files / "client.crt", files / "client.key", files / "agents-ca.pem"),
        )
        for home in sorted(p.parent for p in directory.glob("*/agent.toml")):
            config = load_config(home)
            port = int(config.listen.rsplit(":", 1)[1])
            label = config.kek.label if config.kek is not None else "KEK"
            fleet.agents[config.name] = FleetAgent(config.name, home, port, label)
        return fleet

    @property
    def _pid_file(self) -> Path:
        return self.directory / "pids.json"

    def record_pids(self) -> None:
        """Write the process agents' ids, so another process can stop them."""
        pids = {
            a.name: a.process.pid
            for a in self.agents.values()
            if a.process is not None and a.process.poll() is None
        }
        self._pid_file.write_text(json.dumps(pids, indent=2) + "\n")

    def stop_recorded(self) -> int:
        """Stop (SIGTERM) the agents a previous process recorded; returns how many."""
        try:
            pids = json.loads(self._pid_file.read_text())
        except (OSError, ValueError):
            return 0
        stopped = 0
        for pid in pids.values():
            try:
                # Only an agent of this fleet: a recorded id may belong to another process
                # by now.
                cmdline = Path(f"/proc/{int(pid)}/cmdline").read_bytes()
                if (
                    b"workstation.agent.main" not in cmdline
                    or str(self.directory).encode() not in cmdline
                ):
                    continue
                os.kill(int(pid), signal.SIGTERM)
                stopped += 1
            except (OSError, ValueError):
                pass
        self._pid_file.unlink(missing_ok=True)
        return stopped

    def _make(
        self, name: str, kek: bytes, kek_label: str, algorithm: str, store: Path | None
    ) -> FleetAgent:
        home = self.directory / name
        port = _free_port()
        listen = f"{LOOPBACK}:{port}"
        token_label = f"{name}-{secrets.token_hex(4)}"
        first = bytearray(secrets.token_bytes(len(kek)))
        second = bytearray(a ^ b for a, b in zip(first, kek, strict=True))
        if self.processes:
            # The agent program provisions its own token: SoftHSM2 reads its configuration
            # once per process, so this process cannot make tokens in another store.
            _run_agent("init", "--name", name, "--listen", listen, "--token-label",
                       token_label, home=home)  # fmt: skip
            components = f"{first.hex()}\n{second.hex()}\nyes\n"
            _run_agent("load-kek", "--label", kek_label, "--algorithm", algorithm,
                       "--components-from-stdin", home=home, stdin=components)  # fmt: skip
            first[:] = bytes(len(first))
            second[:] = bytes(len(second))
            config = load_config(home)
        else:
            config = init_agent(
                home, name=name, listen=listen, token_label=token_label, softhsm_directory=store
            )
            config = load_kek(config, kek_label, kek_algorithm(algorithm), [first, second])
        self.ca.sign_request(config.tls_dir / CSR_NAME, home / "agent-signed.pem")
        install_certificate(config.tls_dir, home / "agent-signed.pem")
        install_trust(config.tls_dir, self.ca.cert_file)
        return FleetAgent(name, home, port, kek_label)

    # --- running ---------------------------------------------------------------------------

    def config(self, name: str) -> AgentConfig:
        return load_config(self.agents[name].home)

    def address(self, name: str) -> TargetAddress:
        return self.agents[name].address()

    def addresses(self) -> list[TargetAddress]:
        return [agent.address() for agent in self.agents.values()]

    def start_again(self, name: str) -> None:
        """Start a stopped agent on its port, with its token (and the keys it holds)."""
        agent = self.agents[name]
        if agent.running:
            return
        if not self.processes:
            server = AgentServer(load_config(agent.home))
            server.start()
            agent.server = server
            return
        env = _agent_environment()
        log = open(agent.home / "serve.out", "ab")
        try:
            agent.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "workstation.agent.main",
                    "serve",
                    "--home",
                    str(agent.home),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        finally:
            log.close()
        self._wait_listening(agent)

    def _wait_listening(self, agent: FleetAgent) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert agent.process is not None
            if agent.process.poll() is not None:
                output = (agent.home / "serve.out").read_text(errors="replace")
                raise RuntimeError(f"agent {agent.name} exited at start:\n{output}")
            try:
                with socket.create_connection((LOOPBACK, agent.port), timeout=1.0):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop(agent.name, kill=True)
                    raise RuntimeError(
                        f"agent {agent.name} did not listen within {START_TIMEOUT}s"
                    ) from None
                time.sleep(0.05)

    def stop(self, name: str, *, kill: bool = False) -> None:
        """Stop an agent: cleanly (SIGTERM for a process), or with SIGKILL (``kill``)."""
        agent = self.agents[name]
        if agent.server is not None:
            agent.server.stop()
            agent.server = None
        if agent.process is not None:
            if agent.process.poll() is None:
                agent.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
                try:
                    agent.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    agent.process.kill()
                    agent.process.wait()
            agent.process = None

    def close(self) -> None:
        """Stop every agent (in parallel: each waits for its listener's poll)."""
        with ThreadPoolExecutor(max_workers=32) as pool:
            list(pool.map(self.stop, list(self.agents)))

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
