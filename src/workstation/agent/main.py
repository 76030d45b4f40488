"""``workstation-agent``: init, certificate, load-kek, serve, status (docs/agent.md)."""

from __future__ import annotations

import argparse
import getpass
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from workstation.adapters.softhsm import provision_softhsm
from workstation.agent import AGENT_VERSION
from workstation.agent.components import (
    ComponentError,
    KekAlgorithm,
    combine,
    component_check_value,
    kek_algorithm,
    parse_component,
    wipe,
)
from workstation.agent.config import (
    AgentConfig,
    ConfigError,
    KekConfig,
    TokenConfig,
    check_listen,
    load_config,
    save_config,
)
from workstation.agent.server import AgentServer, open_agent_token
from workstation.agent.tls import (
    TlsSetupError,
    install_certificate,
    install_trust,
    make_key_and_request,
)
from workstation.agent.token import TokenFailure
from workstation.errors import WorkstationError
from workstation.standards.tr31 import key_strength

__all__ = ["init_agent", "load_kek", "main"]

DEFAULT_LISTEN = "127.0.0.1:7443"
DEFAULT_TOKEN_LABEL = "kcw-agent"  # noqa: S105 - a token label


class AgentError(Exception):
    """Something an operator must fix; printed without a traceback."""


def init_agent(
    home: Path,
    *,
    name: str,
    listen: str = DEFAULT_LISTEN,
    token_label: str = DEFAULT_TOKEN_LABEL,
    token: TokenConfig | None = None,
    softhsm_directory: Path | None = None,
) -> AgentConfig:
    """Write ``home/agent.toml``, make the TLS key pair and request, and (without ``token``)
    provision a SoftHSM2 token: in ``home/hsm``, or in the SoftHSM store
    ``softhsm_directory`` shared by several agents of one process (PINs under ``home``)."""
    home = Path(home).absolute()
    if (home / "agent.toml").exists():
        raise AgentError(f"{home / 'agent.toml'} exists already: this agent was initialised")
    try:  # checked before anything is written
        check_listen(listen, Path("--listen"))
    except ConfigError as exc:
        raise AgentError(str(exc).replace("--listen: listen", "--listen")) from None
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    if token is None:
        store = softhsm_directory or home / "hsm"
        pins = home / "hsm" if softhsm_directory is None else home / "hsm-pins"
        made = provision_softhsm(store, token_label, pin_directory=pins)
        token = TokenConfig(
            module=made.module_path,
            label=made.label,
            pin_source=f"file:{_relative(made.user_pin_file, home)}",
            environment={"SOFTHSM2_CONF": _relative(made.conf_path, home)},
        )
    config = AgentConfig(home=home, name=name, listen=listen, token=token)
    make_key_and_request(config.tls_dir, name, config.host_port[0])
    save_config(config)
    return config


def _relative(path: Path, home: Path) -> str:
    try:
        return str(path.relative_to(home))
    except ValueError:
        return str(path)


def load_kek(
    config: AgentConfig, label: str, algorithm: KekAlgorithm, components: list[bytearray]
) -> AgentConfig:
    """Combine the components (XOR), create the KEK in the token and record its label,
    algorithm, check value and strength in agent.toml. Wipes the components."""
    kek = bytearray()
    try:
        if config.kek is not None:
            raise AgentError(
                f"a KEK ({config.kek.label!r}, check value {config.kek.kcv}) is loaded "
                "already; initialise a new agent home to change it"
            )
        kek = combine(components, algorithm)
        kcv = component_check_value(kek, algorithm)
        strength = key_strength(kek, "A" if algorithm.family == "AES" else "T")
        token = open_agent_token(config)
        try:
            token.create_kek(label, algorithm, kek)
        finally:
            token.close()
    finally:
        wipe(kek)
        for part in components:
            wipe(part)
    updated = config.with_kek(KekConfig(label, algorithm.name, kcv, strength))
    save_config(updated)
    return updated


# --- commands ------------------------------------------------------------------------------


def _cmd_init(args: argparse.Namespace) -> None:
    token = None
    if args.module:
        if not args.pin_source:
            raise AgentError("--module needs --pin-source (env:NAME or file:PATH)")
        token = TokenConfig(args.module, args.token_label, args.pin_source)
    config = init_agent(
        args.home,
        name=args.name or socket.gethostname(),
        listen=args.listen,
        token_label=args.token_label,
        token=token,
    )
    print(f"Agent {config.name!r} initialised in {config.home}, token {config.token.label!r}.")
    print(f"Certificate request for the bank's CA: {config.tls_dir / 'agent.csr'}")
    print("Next: 'certificate FILE', 'certificate --trust CA_FILE', 'load-kek', 'serve'.")


def _cmd_certificate(args: argparse.Namespace) -> None:
    config = load_config(args.home)
    if not args.file and not args.trust:
        raise AgentError("give the agent's certificate FILE, or --trust CA_FILE, or both")
    if args.file:
        cert = install_certificate(config.tls_dir, args.file)
        print(f"Installed the agent certificate {cert.subject.rfc4514_string()}.")
    if args.trust:
        for ca in install_trust(config.tls_dir, args.trust):
            print(f"Clients certified by {ca.subject.rfc4514_string()} are accepted.")


def _ask_components(
    algorithm: KekAlgorithm,
    count: int,
    read: Callable[[str], bytearray],
    confirm: Callable[[str], bool] | None,
) -> list[bytearray]:
    components: list[bytearray] = []
    try:
        for number in range(1, count + 1):
            text = read(f"Custodian {number} of {count}: component (hex, not shown): ")
            value = parse_component(text, algorithm, number)
            components.append(value)
            kcv = component_check_value(value, algorithm)
            print(f"Component {number} check value: {kcv}")
            if confirm is not None and not confirm(
                f"Does {kcv} match component {number}'s form? [y/N] "
            ):
                raise AgentError(f"component {number} was not confirmed; nothing was loaded")
        return components
    except BaseException:
        for part in components:
            wipe(part)
        raise


def _cmd_load_kek(args: argparse.Namespace) -> None:
    config = load_config(args.home)
    algorithm = kek_algorithm(args.algorithm)
    if args.components < 2:
        raise AgentError("a KEK needs at least two components")
    if args.components_from_stdin:

        def read(prompt: str) -> bytearray:
            del prompt  # nobody to show it to
            line = sys.stdin.readline()
            if not line:
                raise AgentError("standard input ended before every component was read")
            return bytearray(line.strip().encode("ascii", "replace"))

        components = _ask_components(algorithm, args.components, read, None)
        answer = sys.stdin.readline().strip().lower()
    else:

        def read(prompt: str) -> bytearray:
            return bytearray(getpass.getpass(prompt).encode("ascii", "replace"))

        def confirm(prompt: str) -> bool:
            return input(prompt).strip().lower() in ("y", "yes")

        components = _ask_components(algorithm, args.components, read, confirm)
        answer = ""
    try:
        kek = combine(components, algorithm)
        kcv = component_check_value(kek, algorithm)
        wipe(kek)
    except BaseException:
        for part in components:
            wipe(part)
        raise
    print(f"Combined KEK check value: {kcv}")
    if not args.components_from_stdin:
        answer = input(f"Load KEK {args.label!r} with check value {kcv}? Type yes: ").strip()
    if answer.lower() != "yes":
        for part in components:
            wipe(part)
        raise AgentError("the KEK was not confirmed; nothing was loaded")
    updated = load_kek(config, args.label, algorithm, components)
    assert updated.kek is not None
    print(f"KEK {args.label!r} ({algorithm.name}, check value {updated.kek.kcv}) loaded.")


def _cmd_serve(args: argparse.Namespace) -> None:
    config = load_config(args.home)
    server = AgentServer(config)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.address
    print(f"workstation-agent {AGENT_VERSION} {config.name!r} listening on {host}:{port}")
    sys.stdout.flush()
    try:
        server.serve_forever()
    finally:
        server.stop()


def _cmd_status(args: argparse.Namespace) -> None:
    config = load_config(args.home)
    token = open_agent_token(config)
    try:
        held = token.held()
    finally:
        token.close()
    kek = config.kek
    print(f"Agent {config.name!r}, token {config.token.label!r}, listen {config.listen}")
    print(f"KEK: {kek.label!r} {kek.algorithm}, check value {kek.kcv}" if kek else "KEK: none")
    print(f"{len(held)} key version(s) held")
    for entry in held:
        print(
            f"  {entry.key_id}  v{entry.version}  {entry.label}  kcv {entry.kcv}  "
            f"installed {entry.installed_at}"
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workstation-agent", description="The Key Custodian Workstation's key agent."
    )
    parser.add_argument("--version", action="version", version=AGENT_VERSION)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="configure the agent, its token and its TLS key")
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--name", help="the agent's name and certificate CN (default: host name)")
    p.add_argument("--listen", default=DEFAULT_LISTEN)
    p.add_argument("--token-label", default=DEFAULT_TOKEN_LABEL)
    p.add_argument("--module", help="an existing PKCS#11 module instead of SoftHSM2")
    p.add_argument("--pin-source", help="with --module: env:NAME or file:PATH")
    p.set_defaults(run=_cmd_init)

    p = sub.add_parser("certificate", help="install the agent certificate and the client CA")
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("file", type=Path, nargs="?", help="the agent's certificate from the CA")
    p.add_argument("--trust", type=Path, help="the CA of the workstations' client certificates")
    p.set_defaults(run=_cmd_certificate)

    p = sub.add_parser("load-kek", help="load the KEK from custodians' components")
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--label", required=True)
    p.add_argument("--algorithm", required=True, help="AES-128/192/256, TDES-2KEY, TDES-3KEY")
    p.add_argument("--components", type=int, default=2, help="how many (at least 2)")
    p.add_argument(
        "--components-from-stdin",
        action="store_true",
        help="read one component per line, then 'yes', from standard input (tests)",
    )
    p.set_defaults(run=_cmd_load_kek)

    p = sub.add_parser("serve", help="listen for the workstation (mutual TLS)")
    p.add_argument("--home", type=Path, required=True)
    p.set_defaults(run=_cmd_serve)

    p = sub.add_parser("status", help="print the KEK and the keys held")
    p.add_argument("--home", type=Path, required=True)
    p.set_defaults(run=_cmd_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except (
        AgentError,
        ComponentError,
        ConfigError,
        TlsSetupError,
        TokenFailure,
        WorkstationError,
        OSError,
    ) as exc:
        message = exc.user_message() if isinstance(exc, WorkstationError) else str(exc)
        print(f"workstation-agent: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
