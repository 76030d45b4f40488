"""workstation.toml: unknown sections and keys refused, what save_config writes loads back,
private modes for a new home, the file and the logs, and prompts without a terminal."""

from __future__ import annotations

import logging
import logging.handlers
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from workstation.bootstrap import setup_logging
from workstation.config import (
    CONFIG_NAME,
    SECTION_KEYS,
    DistributionConfig,
    HsmConfig,
    KioskConfig,
    MailConfig,
    WorkstationConfig,
    load_config,
    save_config,
)
from workstation.errors import BadInput


def write(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / CONFIG_NAME
    path.write_text(textwrap.dedent(text))
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- unknown sections and keys ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            '[hsm]\nmodule = "/x.so"\npin_souce = "prompt"\n',
            [
                "unknown key 'pin_souce' in [hsm]",
                "module, token_label, pin_source, environment",
            ],
        ),
        (
            '[cards]\nreader_filtre = "Yubico"\n',
            ["unknown key 'reader_filtre' in [cards]", "allowed there are: reader_filter."],
        ),
        (
            "[kiosk]\nenable = true\n",
            ["unknown key 'enable' in [kiosk]", "enabled, media_roots, outbox"],
        ),
        (
            '[mail]\nhost = "h"\nsender = "s"\nstarttls = true\n',
            ["unknown key 'starttls' in [mail]", "security"],
        ),
        ("[demo]\nenabled = false\npanel = true\n", ["unknown key 'panel' in [demo]"]),
        (
            '[printer]\nprinter = "kms-laser"\n',
            ["unknown section 'printer'", "[printing]", "[kiosk]", "[demo]"],
        ),
        ('reader_filter = "Yubico"\n', ["unknown key outside any section 'reader_filter'"]),
        ('cards = "Yubico"\n', ["[cards] must be a section"]),
        (
            '[hsm]\nmodule = "/x.so"\n[hsm.environment]\nVENDOR_CONF = 3\n',
            ["[hsm.environment] holds environment variables"],
        ),
    ],
)
def test_unknown_keys_and_sections_are_refused(tmp_path: Path, text: str, words: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(BadInput) as refused:
        load_config(tmp_path)
    message = refused.value.user_message()
    assert message.startswith(f"{path}: ")
    for w in words:
        assert w in message


def test_hsm_environment_is_free_form(tmp_path: Path) -> None:
    write(
        tmp_path,
        """\
        [hsm]
        module = "/opt/vendor/lib/libvendor.so"
        pin_source = "env:VENDOR_PIN"
        [hsm.environment]
        VENDOR_PKCS11_CONF = "/etc/vendor/pkcs11.conf"
        ANY_NAME_AT_ALL = "value"
        """,
    )
    config = load_config(tmp_path)
    assert config.hsm is not None
    assert config.hsm.environment == {
        "VENDOR_PKCS11_CONF": "/etc/vendor/pkcs11.conf",
        "ANY_NAME_AT_ALL": "value",
    }


def test_the_documented_example_with_every_section_loads(tmp_path: Path) -> None:
    # The complete example of docs/administrator-guide.md, section 4.
    write(
        tmp_path,
        """\
        [hsm]
        module = "/opt/vendor/lib/libvendorpkcs11.so"
        token_label = "KCW"
        pin_source = "prompt"

        [hsm.environment]
        VENDOR_PKCS11_CONF = "/etc/vendor/pkcs11.conf"

        [repository]
        path = "workstation.db"

        [cards]
        reader_filter = "Yubico"

        [printing]
        printer = "kms-laser"
        command = "lp"

        [mail]
        host = "smtp.bank.example"
        port = 587
        security = "starttls"
        sender = "kcw-alerts@bank.example"
        username = "kcw-alerts"
        password_source = "file:mail/password"
        ca_file = "mail/relay-ca.pem"

        [distribution]
        client_certificate = "distribution/client.crt"
        client_key = "distribution/client.key"
        trust = "distribution/agents-ca.pem"
        timeout = 10

        [kiosk]
        enabled = false
        media_roots = ["/media", "/run/media"]
        outbox = "exports"

        [demo]
        enabled = false
        """,
    )
    config = load_config(tmp_path)
    assert config.reader_filter == "Yubico" and config.mail is not None
    assert set(SECTION_KEYS) == {
        "hsm",
        "repository",
        "cards",
        "printing",
        "mail",
        "distribution",
        "kiosk",
        "demo",
    }


def full_config(home: Path) -> WorkstationConfig:
    return WorkstationConfig(
        home=home,
        hsm=HsmConfig(
            module="/opt/vendor/lib/libvendor.so",
            token_label="KCW prod",
            pin_source="prompt",
            environment={"VENDOR_PKCS11_CONF": "/etc/vendor/pkcs11.conf", "OTHER": "x"},
        ),
        database=home / "repo" / "workstation.db",
        reader_filter="Yubico",
        demo=True,
        printer="kms-laser",
        print_command="/usr/bin/lp",
        mail=MailConfig(
            host="smtp.bank.example",
            port=465,
            security="tls",
            sender="kcw@bank.example",
            username="kcw",
            password_source="file:mail/password",
            ca_file="mail/ca.pem",
        ),
        repository_url="postgresql://kcw@db.bank.example/kcw?sslmode=verify-full",
        repository_password_source="env:KCW_DB_PASSWORD",
        distribution=DistributionConfig("d/client.crt", "d/client.key", "d/ca.pem", 2.5),
        kiosk=KioskConfig(True, ("/media", "/mnt/usb"), "/var/lib/kcw/exports"),
    )


@pytest.mark.parametrize(
    "make",
    [
        full_config,
        lambda home: WorkstationConfig(home=home, hsm=None, database=home / "workstation.db"),
    ],
    ids=["every-section", "defaults"],
)
def test_what_save_config_writes_loads_back(tmp_path: Path, make: object) -> None:
    assert callable(make)
    config = make(tmp_path / "home")
    save_config(config)
    again = load_config(config.home)
    assert again == config


# --- modes ------------------------------------------------------------------------------


def test_a_new_home_and_its_configuration_are_private(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    save_config(WorkstationConfig(home=home, hsm=None, database=home / "workstation.db"))
    assert mode(home) == 0o700
    assert mode(home / CONFIG_NAME) == 0o600
    assert not (home / "workstation.toml.tmp").exists()


def test_an_existing_home_and_file_keep_their_modes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o750)
    home.chmod(0o750)
    config = WorkstationConfig(home=home, hsm=None, database=home / "workstation.db")
    save_config(config)
    assert mode(home) == 0o750
    (home / CONFIG_NAME).chmod(0o640)
    config.reader_filter = "Yubico"
    save_config(config)
    assert mode(home / CONFIG_NAME) == 0o640
    assert load_config(home).reader_filter == "Yubico"


@pytest.fixture()
def fresh_logging() -> Iterator[logging.Logger]:
    """The workstation logger without the handler an earlier test may have set up."""
    root = logging.getLogger("workstation")
    saved, saved_level = list(root.handlers), root.level
    for h in saved:
        root.removeHandler(h)
    yield root
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in saved:
        root.addHandler(h)
    root.setLevel(saved_level)


def test_logs_are_private(tmp_path: Path, fresh_logging: logging.Logger) -> None:
    home = tmp_path / "home"
    config = WorkstationConfig(home=home, hsm=None, database=home / "workstation.db")
    setup_logging(config)
    log_file = config.log_dir / "workstation.log"
    logging.getLogger("workstation.test").info("a line")
    assert mode(home) == 0o700
    assert mode(config.log_dir) == 0o700
    assert mode(log_file) == 0o600
    assert "a line" in log_file.read_text()
    # A rotation makes a new file: private too, and the old one keeps its mode.
    (handler,) = fresh_logging.handlers
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    handler.doRollover()
    logging.getLogger("workstation.test").info("after rotation")
    assert mode(log_file) == 0o600 and mode(config.log_dir / "workstation.log.1") == 0o600
    assert "after rotation" in log_file.read_text()


def test_existing_logs_folder_keeps_its_mode(tmp_path: Path, fresh_logging: logging.Logger) -> None:
    home = tmp_path / "home"
    (home / "logs").mkdir(parents=True)
    home.chmod(0o755)
    (home / "logs").chmod(0o750)
    setup_logging(WorkstationConfig(home=home, hsm=None, database=home / "workstation.db"))
    assert mode(home) == 0o755 and mode(home / "logs") == 0o750


# --- prompts without a terminal -----------------------------------------------------------

NO_TERMINAL_SCRIPT = """
import sys
from pathlib import Path
from workstation.config import load_config
from workstation.errors import BadInput
config = load_config(Path(sys.argv[1]))
ask = {"hsm": config.hsm_pin, "mail": config.mail_password,
       "repository": config.repository_password}[sys.argv[2]]
try:
    ask()
except BadInput as exc:
    print(exc.user_message())
    sys.exit(2)
print("asked")
"""


@pytest.mark.parametrize(
    ("which", "words"),
    [
        ("hsm", ["The HSM user PIN", "[hsm] pin_source"]),
        ("mail", ["The mail relay password", "[mail] password_source"]),
        ("repository", ["The shared repository's password", "[repository] password_source"]),
    ],
)
def test_prompt_without_a_terminal_names_the_fix(
    tmp_path: Path, which: str, words: list[str]
) -> None:
    path = write(
        tmp_path,
        """\
        [hsm]
        module = "/opt/vendor/lib/libvendor.so"
        pin_source = "prompt"
        [repository]
        url = "postgresql://kcw@db.bank.example/kcw"
        password_source = "prompt"
        [mail]
        host = "smtp.bank.example"
        sender = "kcw@bank.example"
        username = "kcw"
        password_source = "prompt"
        """,
    )
    # A new session has no controlling terminal, and standard input is empty: as for a
    # program started from a desktop menu or a service.
    done = subprocess.run(
        [sys.executable, "-c", NO_TERMINAL_SCRIPT, str(tmp_path), which],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    message = done.stdout.strip()
    assert "Traceback" not in done.stderr
    assert "there is no terminal to ask on" in message
    assert str(path) in message
    assert '"env:NAME"' in message and '"file:PATH"' in message
    for w in words:
        assert w in message
