"""Configuration: where the workstation keeps its data, which HSM and readers it uses.

Everything lives under one home directory (``--home``, ``$KCW_HOME``, or
``~/.local/share/key-custodian-workstation``), in ``workstation.toml``:

.. code-block:: toml

    [hsm]
    module = "/opt/vendor/lib/libvendorpkcs11.so"   # any PKCS#11 module
    token_label = "KCW"
    pin_source = "prompt"          # or "env:KCW_HSM_PIN", or "file:hsm/user.pin"
    [hsm.environment]              # set before the module is loaded
    SOFTHSM2_CONF = "hsm/softhsm2.conf"

    [repository]
    path = "workstation.db"

    [cards]
    reader_filter = ""             # only readers whose name contains this; empty: all

    [printing]
    printer = "kms-laser"          # a CUPS printer; without it, documents go to PDF files
    command = "lp"

    [mail]                         # the SMTP relay for expiry alerts (optional)
    host = "smtp.bank.example"
    port = 587
    security = "starttls"          # or "tls" (implicit, port 465), or "none" (port 25)
    sender = "kcw-alerts@bank.example"
    username = "kcw-alerts"        # optional: log in (only ever over TLS)
    password_source = "env:KCW_SMTP_PASSWORD"   # or "file:mail/password", or "prompt"
    ca_file = "mail/relay-ca.pem"  # optional: trust anchors for the relay's certificate

Relative paths are relative to the home directory. With no ``[hsm]`` section the
workstation provisions its embedded default: a SoftHSM2 token under ``home/hsm``.
"""

from __future__ import annotations

import getpass
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from workstation.errors import BadInput

CONFIG_NAME = "workstation.toml"
DEFAULT_TOKEN_LABEL = "KCW"  # noqa: S105 - a token label, not a secret


def default_home() -> Path:
    env = os.environ.get("KCW_HOME")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "key-custodian-workstation"


@dataclass
class HsmConfig:
    module: str
    token_label: str
    pin_source: str
    environment: dict[str, str] = field(default_factory=dict)


@dataclass
class MailConfig:
    """The SMTP relay for expiry alerts (``[mail]``)."""

    host: str
    port: int
    security: str  # "starttls", "tls" or "none"
    sender: str
    username: str = ""
    password_source: str = ""  # "env:NAME", "file:PATH" or "prompt"
    ca_file: str = ""  # trust anchors for the relay's certificate; empty: the system's


MAIL_SECURITY = ("starttls", "tls", "none")


def _mail_config(data: object, path: Path) -> MailConfig | None:
    if not isinstance(data, dict):
        return None
    try:
        host, sender = str(data["host"]), str(data["sender"])
    except KeyError as exc:
        raise BadInput(f"{path}: [mail] needs {exc.args[0]!r}.") from None
    security = str(data.get("security", "starttls"))
    if security not in MAIL_SECURITY:
        raise BadInput(f"{path}: [mail] security must be one of {', '.join(MAIL_SECURITY)}.")
    default_port = {"starttls": 587, "tls": 465, "none": 25}[security]
    port = data.get("port", default_port)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise BadInput(f"{path}: [mail] port must be a TCP port number (1 to 65535).")
    username = str(data.get("username", ""))
    password_source = str(data.get("password_source", ""))
    if username and not password_source:
        raise BadInput(f"{path}: [mail] has a username but no password_source.")
    return MailConfig(
        host=host,
        port=port,
        security=security,
        sender=sender,
        username=username,
        password_source=password_source,
        ca_file=str(data.get("ca_file", "")),
    )


@dataclass
class WorkstationConfig:
    home: Path
    hsm: HsmConfig | None
    database: Path
    reader_filter: str = ""
    demo: bool = False
    printer: str | None = None
    print_command: str = "lp"
    mail: MailConfig | None = None

    @property
    def path(self) -> Path:
        return self.home / CONFIG_NAME

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    def resolve(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.home / p

    def hsm_pin(self) -> str:
        """Read the HSM user PIN from where the configuration says."""
        assert self.hsm is not None
        source = self.hsm.pin_source
        if source.startswith("env:"):
            name = source[4:]
            value = os.environ.get(name)
            if not value:
                raise BadInput(f"The HSM PIN is configured to come from ${name}, which is not set.")
            return value
        if source.startswith("file:"):
            path = self.resolve(source[5:])
            try:
                return path.read_text().strip()
            except OSError as exc:
                raise BadInput(f"Cannot read the HSM PIN file {path}: {exc.strerror}.") from None
        if source == "prompt":
            return getpass.getpass(f"HSM user PIN for token {self.hsm.token_label!r}: ")
        raise BadInput(
            f"Unknown HSM pin_source {source!r}; use 'prompt', 'env:NAME' or 'file:PATH'."
        )

    def mail_password(self) -> str:
        """Read the SMTP relay's password from where ``[mail] password_source`` says."""
        assert self.mail is not None
        source = self.mail.password_source
        if source.startswith("env:"):
            value = os.environ.get(source[4:])
            if not value:
                raise BadInput(
                    f"The mail relay password is configured to come from ${source[4:]}, "
                    "which is not set."
                )
            return value
        if source.startswith("file:"):
            path = self.resolve(source[5:])
            try:
                return path.read_text().strip()
            except OSError as exc:
                raise BadInput(
                    f"Cannot read the mail relay password file {path}: {exc.strerror}."
                ) from None
        if source == "prompt":
            return getpass.getpass(f"Password of {self.mail.username!r} on {self.mail.host}: ")
        raise BadInput(
            f"Unknown [mail] password_source {source!r}; use 'prompt', 'env:NAME' or 'file:PATH'."
        )

    def hsm_environment(self) -> dict[str, str]:
        assert self.hsm is not None
        env: dict[str, str] = {}
        for name, value in self.hsm.environment.items():
            env[name] = str(self.resolve(value)) if name.endswith("_CONF") else value
        return env


def load_config(home: Path) -> WorkstationConfig:
    """Read ``home/workstation.toml``; a missing file gives the embedded defaults."""
    path = home / CONFIG_NAME
    data: dict[str, object] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BadInput(f"{path} is not valid TOML: {exc}.") from None
    hsm_data = data.get("hsm")
    hsm: HsmConfig | None = None
    if isinstance(hsm_data, dict):
        try:
            hsm = HsmConfig(
                module=str(hsm_data["module"]),
                token_label=str(hsm_data.get("token_label", DEFAULT_TOKEN_LABEL)),
                pin_source=str(hsm_data.get("pin_source", "prompt")),
                environment={
                    str(k): str(v) for k, v in dict(hsm_data.get("environment", {})).items()
                },
            )
        except KeyError as exc:
            raise BadInput(f"{path}: [hsm] needs {exc.args[0]!r}.") from None
    repo = data.get("repository")
    db_name = (
        str(repo.get("path", "workstation.db")) if isinstance(repo, dict) else "workstation.db"
    )
    cards = data.get("cards")
    reader_filter = str(cards.get("reader_filter", "")) if isinstance(cards, dict) else ""
    printing = data.get("printing")
    printer: str | None = None
    print_command = "lp"
    if isinstance(printing, dict):
        printer = str(printing.get("printer", "")) or None
        print_command = str(printing.get("command", "lp")) or "lp"
    demo = data.get("demo")
    config = WorkstationConfig(
        home=home,
        hsm=hsm,
        database=Path(db_name),
        reader_filter=reader_filter,
        demo=bool(demo.get("enabled", False)) if isinstance(demo, dict) else False,
        printer=printer,
        print_command=print_command,
        mail=_mail_config(data.get("mail"), path),
    )
    config.database = config.resolve(db_name)
    return config


def _toml_string(value: str) -> str:
    # A JSON string is a valid TOML basic string for the characters we write.
    return json.dumps(value, ensure_ascii=False)


def save_config(config: WorkstationConfig) -> None:
    """Write the configuration atomically (temp file + rename)."""
    lines: list[str] = ["# Key Custodian Workstation configuration", ""]
    if config.hsm is not None:
        lines += [
            "[hsm]",
            f"module = {_toml_string(config.hsm.module)}",
            f"token_label = {_toml_string(config.hsm.token_label)}",
            f"pin_source = {_toml_string(config.hsm.pin_source)}",
            "",
        ]
        if config.hsm.environment:
            lines.append("[hsm.environment]")
            lines += [f"{k} = {_toml_string(v)}" for k, v in sorted(config.hsm.environment.items())]
            lines.append("")
    try:
        db = str(config.database.relative_to(config.home))
    except ValueError:
        db = str(config.database)
    lines += ["[repository]", f"path = {_toml_string(db)}", ""]
    lines += ["[cards]", f"reader_filter = {_toml_string(config.reader_filter)}", ""]
    lines.append("[printing]")
    if config.printer:
        lines.append(f"printer = {_toml_string(config.printer)}")
    lines += [f"command = {_toml_string(config.print_command)}", ""]
    if config.mail is not None:
        m = config.mail
        lines += ["[mail]", f"host = {_toml_string(m.host)}", f"port = {m.port}"]
        lines += [f"security = {_toml_string(m.security)}", f"sender = {_toml_string(m.sender)}"]
        if m.username:
            lines.append(f"username = {_toml_string(m.username)}")
        if m.password_source:
            lines.append(f"password_source = {_toml_string(m.password_source)}")
        if m.ca_file:
            lines.append(f"ca_file = {_toml_string(m.ca_file)}")
        lines.append("")
    lines += ["[demo]", f"enabled = {'true' if config.demo else 'false'}", ""]
    config.home.mkdir(parents=True, exist_ok=True)
    tmp = config.path.with_suffix(".toml.tmp")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, config.path)
