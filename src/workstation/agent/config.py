"""The agent's configuration: ``agent.toml`` in its home directory.

.. code-block:: toml

    [agent]
    name = "host-a"
    listen = "127.0.0.1:7443"
    allowed_clients = []          # client certificate subject CNs; empty: any the CA issued

    [token]                       # any PKCS#11 module; init writes the embedded SoftHSM2 one
    module = "/usr/lib/softhsm/libsofthsm2.so"
    label = "kcw-agent"
    pin_source = "file:hsm/user.pin"   # or "env:NAME"
    [token.environment]
    SOFTHSM2_CONF = "hsm/softhsm2.conf"

    [kek]                         # written by load-kek
    label = "KEK"
    algorithm = "AES-256"
    kcv = "0A1B2C3D4E"
    strength = 256

    [policy]                      # what the agent accepts in a key block header
    key_usages = ["B0", "C0", "D0", ...]
    exportability = ["E", "N"]

Relative paths are relative to the home directory.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = [
    "CONFIG_NAME",
    "DEFAULT_EXPORTABILITY",
    "DEFAULT_KEY_USAGES",
    "AgentConfig",
    "ConfigError",
    "KekConfig",
    "TokenConfig",
    "load_config",
    "save_config",
]

CONFIG_NAME = "agent.toml"
# Symmetric key usages an application's token may receive (ANSI X9.143 Table 2); the
# asymmetric ones (D1, E7, K2, K3, S0-S2) are not installed by this agent.
DEFAULT_KEY_USAGES = (
    "B0", "B1", "B3", "C0", "D0", "D2", "D3", "E0", "E1", "E2", "E3", "E4", "E5", "E6",
    "I0", "K0", "K1", "K4", "M0", "M1", "M2", "M3", "M4", "M5", "M6", "M8", "P0", "P1",
    "V0", "V1", "V2", "V3", "V4", "V5",
)  # fmt: skip
# "S" (exportable in forms outside X9.24) is refused by default: the block's sender allows
# what this agent would never do, and a sender that means "E" should say "E".
DEFAULT_EXPORTABILITY = ("E", "N")


class ConfigError(ValueError):
    """agent.toml is missing, malformed or incomplete; the message names the file and field."""


@dataclass(frozen=True)
class TokenConfig:
    module: str
    label: str
    pin_source: str
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KekConfig:
    label: str
    algorithm: str
    kcv: str
    strength: int


@dataclass(frozen=True)
class AgentConfig:
    home: Path
    name: str
    listen: str
    token: TokenConfig
    allowed_clients: tuple[str, ...] = ()
    kek: KekConfig | None = None
    key_usages: tuple[str, ...] = DEFAULT_KEY_USAGES
    exportability: tuple[str, ...] = DEFAULT_EXPORTABILITY

    @property
    def path(self) -> Path:
        return self.home / CONFIG_NAME

    @property
    def log_path(self) -> Path:
        return self.home / "agent.log"

    @property
    def tls_dir(self) -> Path:
        return self.home / "tls"

    def resolve(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.home / p

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)

    def token_environment(self) -> dict[str, str]:
        return {
            k: str(self.resolve(v)) if k.endswith("_CONF") else v
            for k, v in self.token.environment.items()
        }

    def token_pin(self) -> str:
        source = self.token.pin_source
        if source.startswith("env:"):
            value = os.environ.get(source[4:])
            if not value:
                raise ConfigError(f"The token PIN should come from ${source[4:]}, which is unset")
            return value
        if source.startswith("file:"):
            path = self.resolve(source[5:])
            try:
                mode = path.stat().st_mode
                if mode & 0o077:
                    raise ConfigError(
                        f"The token PIN file {path} can be read by other users; chmod 600 it"
                    )
                return path.read_text(encoding="ascii").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"Cannot read the token PIN file {path}: {exc}") from None
        raise ConfigError(
            f"{self.path}: [token] pin_source {source!r} is not env:NAME or file:PATH"
        )

    def with_kek(self, kek: KekConfig) -> AgentConfig:
        return replace(self, kek=kek)


def check_listen(listen: str, path: Path) -> str:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"{path}: listen {listen!r} is not HOST:PORT")
    return listen


def _strings(value: object, name: str, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {name} must be a list of strings")
    return tuple(value)


def load_config(home: Path) -> AgentConfig:
    path = home / CONFIG_NAME
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist: run 'workstation-agent init --home {home}' first"
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read as TOML: {exc}") from None
    try:
        agent, token = data["agent"], data["token"]
        token_config = TokenConfig(
            module=str(token["module"]),
            label=str(token["label"]),
            pin_source=str(token["pin_source"]),
            environment={str(k): str(v) for k, v in dict(token.get("environment", {})).items()},
        )
        kek_data = data.get("kek")
        kek = (
            KekConfig(
                label=str(kek_data["label"]),
                algorithm=str(kek_data["algorithm"]),
                kcv=str(kek_data["kcv"]),
                strength=int(kek_data["strength"]),
            )
            if isinstance(kek_data, dict)
            else None
        )
        policy = data.get("policy", {})
        return AgentConfig(
            home=home,
            name=str(agent["name"]),
            listen=check_listen(str(agent["listen"]), path),
            token=token_config,
            allowed_clients=_strings(agent.get("allowed_clients", []), "allowed_clients", path),
            kek=kek,
            key_usages=_strings(
                policy.get("key_usages", list(DEFAULT_KEY_USAGES)), "key_usages", path
            ),
            exportability=_strings(
                policy.get("exportability", list(DEFAULT_EXPORTABILITY)), "exportability", path
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: a required setting is missing or malformed ({exc})") from None


def _s(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def _list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_s(v) for v in values) + "]"


def save_config(config: AgentConfig) -> None:
    """Write agent.toml atomically (temporary file, fsync, rename)."""
    t = config.token
    lines = [
        "# workstation-agent configuration (docs/agent.md)",
        "[agent]",
        f"name = {_s(config.name)}",
        f"listen = {_s(config.listen)}",
        f"allowed_clients = {_list(config.allowed_clients)}",
        "",
        "[token]",
        f"module = {_s(t.module)}",
        f"label = {_s(t.label)}",
        f"pin_source = {_s(t.pin_source)}",
        "",
    ]
    if t.environment:
        lines.append("[token.environment]")
        lines += [f"{k} = {_s(v)}" for k, v in sorted(t.environment.items())]
        lines.append("")
    if config.kek is not None:
        k = config.kek
        lines += [
            "[kek]",
            f"label = {_s(k.label)}",
            f"algorithm = {_s(k.algorithm)}",
            f"kcv = {_s(k.kcv)}",
            f"strength = {k.strength}",
            "",
        ]
    lines += [
        "[policy]",
        f"key_usages = {_list(config.key_usages)}",
        f"exportability = {_list(config.exportability)}",
        "",
    ]
    config.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = config.path.with_name(CONFIG_NAME + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write("\n".join(lines))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, config.path)
