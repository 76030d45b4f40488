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
    path = "workstation.db"        # an SQLite file, or a shared PostgreSQL database:
    # url = "postgresql://kcw@db.bank.example:5432/kcw?sslmode=verify-full&sslrootcert=db-ca.pem"
    # password_source = "env:KCW_DB_PASSWORD"   # or "file:db/password", or "prompt"

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

    [distribution]                 # key agents: the workstation's client TLS files
    client_certificate = "distribution/client.crt"
    client_key = "distribution/client.key"
    trust = "distribution/agents-ca.pem"   # the CA that issues the agents' certificates
    timeout = 10                   # optional: seconds to connect and for each answer

    [kiosk]                        # the workstation as a session's only program (docs/kiosk.md)
    enabled = true                 # or start it with `workstation --kiosk`
    media_roots = ["/media", "/run/media"]   # where removable media are mounted
    outbox = "exports"             # the kiosk's own export folder

Relative paths are relative to the home directory. With no ``[hsm]`` section the
workstation provisions its embedded default: a SoftHSM2 token under ``home/hsm``. A
section or key not listed here is refused (``[hsm.environment]`` is free-form), so a
misspelt key never quietly keeps its default. A home the workstation makes is 0700 and
the file it writes 0600; an existing home or file keeps its mode.

``prompt`` sources ask on the terminal and are refused, naming the fix, when there is
none (a desktop session, a service); the desktop application asks for the HSM PIN in a
dialog of its own instead (``gui.logon.ask_hsm_pin_at_start``).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from workstation.errors import BadInput

CONFIG_NAME = "workstation.toml"
DEFAULT_TOKEN_LABEL = "KCW"  # noqa: S105 - a token label, not a secret

# The home holds the repository, the embedded token and the logs: only its owner enters a
# home the workstation makes, and only its owner reads the files it writes there.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600

# The keys each section of workstation.toml may hold. [hsm.environment] is free-form (the
# vendor module's variables); anything else unknown is refused, so a misspelt key does not
# quietly keep its default.
SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "hsm": ("module", "token_label", "pin_source", "environment"),
    "repository": ("path", "url", "password_source"),
    "cards": ("reader_filter",),
    "printing": ("printer", "command"),
    "mail": ("host", "port", "security", "sender", "username", "password_source", "ca_file"),
    "distribution": ("client_certificate", "client_key", "trust", "timeout"),
    "kiosk": ("enabled", "media_roots", "outbox"),
    "demo": ("enabled",),
}


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) so that only its owner may enter it.

    An existing folder keeps the mode its administrator gave it; parents that are made
    get the usual mode, as any program's would."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)


def terminal_available() -> bool:
    """Whether a prompt can be asked: a controlling terminal, or standard input is one.

    getpass falls back to reading standard input without hiding the echo, and fails with
    EOFError when there is nothing to read (a desktop session, a service, a pipe)."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        stdin = sys.stdin
        return stdin is not None and stdin.isatty()
    os.close(fd)
    return True


def _ask_on_terminal(prompt: str, *, what: str, setting: str, path: Path) -> str:
    """Ask for a secret on the terminal; a clear refusal when there is none to ask on."""
    if not terminal_available():
        raise BadInput(
            f'{what} is to be typed at a terminal ({setting} = "prompt" in {path}), but '
            "there is no terminal to ask on. Run the command from a terminal, or set "
            f'{setting} to "env:NAME" (an environment variable) or "file:PATH" (a file '
            "only the workstation's user can read)."
        )
    try:
        return getpass.getpass(prompt)
    except EOFError:
        raise BadInput(f"{what} was not typed (the terminal input ended).") from None


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


@dataclass
class DistributionConfig:
    """The workstation's client TLS files for key agents (``[distribution]``)."""

    client_certificate: str
    client_key: str
    trust: str  # the CA that issues the agents' certificates
    timeout: float = 10.0  # seconds to connect to a target and for each answer


DEFAULT_MEDIA_ROOTS = ("/media", "/run/media")
DEFAULT_OUTBOX = "exports"


@dataclass
class KioskConfig:
    """Kiosk mode (``[kiosk]``): file dialogs confined to the outbox and removable media."""

    enabled: bool = False
    media_roots: tuple[str, ...] = DEFAULT_MEDIA_ROOTS
    outbox: str = DEFAULT_OUTBOX

    @property
    def is_default(self) -> bool:
        return self == KioskConfig()


def _kiosk_config(data: object, path: Path) -> KioskConfig:
    if data is None:
        return KioskConfig()
    if not isinstance(data, dict):
        raise BadInput(f"{path}: [kiosk] must be a table.")
    enabled = data.get("enabled", False)
    if not isinstance(enabled, bool):
        raise BadInput(f"{path}: [kiosk] enabled must be true or false.")
    roots = data.get("media_roots", list(DEFAULT_MEDIA_ROOTS))
    if not isinstance(roots, list) or not all(isinstance(r, str) and r for r in roots):
        raise BadInput(f"{path}: [kiosk] media_roots must be a list of folder paths.")
    relative = [r for r in roots if not Path(r).is_absolute()]
    if relative:
        raise BadInput(f"{path}: [kiosk] media_roots must be absolute paths, not {relative[0]!r}.")
    outbox = data.get("outbox", DEFAULT_OUTBOX)
    if not isinstance(outbox, str) or not outbox.strip():
        raise BadInput(f"{path}: [kiosk] outbox must be a folder path.")
    return KioskConfig(enabled=enabled, media_roots=tuple(roots), outbox=outbox)


def _distribution_config(data: object, path: Path) -> DistributionConfig | None:
    if not isinstance(data, dict):
        return None
    try:
        timeout = float(data.get("timeout", 10.0))
        config = DistributionConfig(
            client_certificate=str(data["client_certificate"]),
            client_key=str(data["client_key"]),
            trust=str(data["trust"]),
            timeout=timeout,
        )
    except KeyError as exc:
        raise BadInput(f"{path}: [distribution] needs {exc.args[0]!r}.") from None
    except (TypeError, ValueError):
        raise BadInput(f"{path}: [distribution] timeout must be a number of seconds.") from None
    if not 0 < config.timeout <= 600:
        raise BadInput(f"{path}: [distribution] timeout must be between 0 and 600 seconds.")
    return config


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
    repository_url: str = ""  # [repository] url: a shared PostgreSQL repository
    repository_password_source: str = ""  # "env:NAME", "file:PATH" or "prompt"
    distribution: DistributionConfig | None = None
    kiosk: KioskConfig = field(default_factory=KioskConfig)

    @property
    def path(self) -> Path:
        return self.home / CONFIG_NAME

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def outbox(self) -> Path:
        """The kiosk's own export folder (``[kiosk] outbox``, under the home if relative)."""
        return self.resolve(self.kiosk.outbox)

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
            return _ask_on_terminal(
                f"HSM user PIN for token {self.hsm.token_label!r}: ",
                what="The HSM user PIN",
                setting="[hsm] pin_source",
                path=self.path,
            )
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
            return _ask_on_terminal(
                f"Password of {self.mail.username!r} on {self.mail.host}: ",
                what="The mail relay password",
                setting="[mail] password_source",
                path=self.path,
            )
        raise BadInput(
            f"Unknown [mail] password_source {source!r}; use 'prompt', 'env:NAME' or 'file:PATH'."
        )

    def repository_password(self) -> str | None:
        """The shared repository's password from ``[repository] password_source``; None
        without one (libpq then looks at PGPASSWORD and ~/.pgpass)."""
        source = self.repository_password_source
        if not source:
            return None
        kind, _, where = source.partition(":")
        if kind == "env" and os.environ.get(where):
            return os.environ[where]
        if kind == "env":
            raise BadInput(f"The repository password is to come from ${where}, which is not set.")
        if kind == "file":
            try:
                return self.resolve(where).read_text().strip()
            except OSError as exc:
                raise BadInput(
                    f"Cannot read the repository password file {self.resolve(where)}: "
                    f"{exc.strerror}."
                ) from None
        if source == "prompt":
            return _ask_on_terminal(
                "Password of the shared repository (PostgreSQL): ",
                what="The shared repository's password",
                setting="[repository] password_source",
                path=self.path,
            )
        raise BadInput(
            f"Unknown [repository] password_source {source!r}; use 'prompt', 'env:NAME' or "
            "'file:PATH'."
        )

    def hsm_environment(self) -> dict[str, str]:
        assert self.hsm is not None
        env: dict[str, str] = {}
        for name, value in self.hsm.environment.items():
            env[name] = str(self.resolve(value)) if name.endswith("_CONF") else value
        return env


def _refuse_unknown_keys(data: dict[str, object], path: Path) -> None:
    """Refuse a section or a key the workstation does not know, naming what is allowed."""
    sections = ", ".join(f"[{name}]" for name in SECTION_KEYS)
    for name, section in data.items():
        allowed = SECTION_KEYS.get(name)
        if allowed is None:
            where = "section" if isinstance(section, dict) else "key outside any section"
            raise BadInput(
                f"{path}: unknown {where} {name!r}. The sections of workstation.toml are "
                f"{sections}."
            )
        if not isinstance(section, dict):
            raise BadInput(f"{path}: [{name}] must be a section (a table), not a single value.")
        for key in section:
            if key not in allowed:
                raise BadInput(
                    f"{path}: unknown key {key!r} in [{name}]. The keys allowed there are: "
                    f"{', '.join(allowed)}."
                )
    hsm = data.get("hsm")
    environment = hsm.get("environment", {}) if isinstance(hsm, dict) else {}
    if not isinstance(environment, dict) or not all(
        isinstance(v, str) for v in environment.values()
    ):
        raise BadInput(
            f'{path}: [hsm.environment] holds environment variables: NAME = "value" lines.'
        )


def load_config(home: Path) -> WorkstationConfig:
    """Read ``home/workstation.toml``; a missing file gives the embedded defaults."""
    path = home / CONFIG_NAME
    data: dict[str, object] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BadInput(f"{path} is not valid TOML: {exc}.") from None
        _refuse_unknown_keys(data, path)
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
    repo_url = str(repo.get("url", "")) if isinstance(repo, dict) else ""
    if repo_url and not repo_url.startswith(("postgresql://", "postgres://")):
        raise BadInput(f"{path}: [repository] url must start with postgresql://.")
    repo_password = str(repo.get("password_source", "")) if isinstance(repo, dict) else ""
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
        repository_url=repo_url,
        repository_password_source=repo_password,
        distribution=_distribution_config(data.get("distribution"), path),
        kiosk=_kiosk_config(data.get("kiosk"), path),
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
    lines += ["[repository]", f"path = {_toml_string(db)}"]
    if config.repository_url:
        lines.append(f"url = {_toml_string(config.repository_url)}")
    if config.repository_password_source:
        lines.append(f"password_source = {_toml_string(config.repository_password_source)}")
    lines.append("")
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
    if config.distribution is not None:
        d = config.distribution
        lines += [
            "[distribution]",
            f"client_certificate = {_toml_string(d.client_certificate)}",
            f"client_key = {_toml_string(d.client_key)}",
            f"trust = {_toml_string(d.trust)}",
            f"timeout = {d.timeout}",
            "",
        ]
    if not config.kiosk.is_default:
        k = config.kiosk
        roots = ", ".join(_toml_string(r) for r in k.media_roots)
        lines += [
            "[kiosk]",
            f"enabled = {'true' if k.enabled else 'false'}",
            f"media_roots = [{roots}]",
            f"outbox = {_toml_string(k.outbox)}",
            "",
        ]
    lines += ["[demo]", f"enabled = {'true' if config.demo else 'false'}", ""]
    make_private_dir(config.home)
    # A new file is for the owner only; one the administrator already has keeps its mode.
    try:
        mode = config.path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = PRIVATE_FILE_MODE
    tmp = config.path.with_suffix(".toml.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(fd, mode)  # a stale temporary file from a crash may have another mode
        out.write("\n".join(lines))
    os.replace(tmp, config.path)
