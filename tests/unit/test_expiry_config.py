"""The ``[mail]`` section of workstation.toml: read, checked, written back, and turned into
the SMTP relay adapter by bootstrap (the password read only when asked for)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workstation.adapters.smtp_mail import SmtpMailer
from workstation.bootstrap import build_mailer
from workstation.config import CONFIG_NAME, MailConfig, load_config, save_config
from workstation.errors import BadInput


def home_with(tmp_path: Path, mail: str) -> Path:
    (tmp_path / CONFIG_NAME).write_text(mail)
    return tmp_path


def test_mail_section_read_and_written_back(tmp_path: Path) -> None:
    home = home_with(
        tmp_path,
        '[mail]\nhost = "smtp.bank.example"\nsecurity = "tls"\nsender = "kcw@bank.example"\n'
        'username = "kcw"\npassword_source = "file:mail/pw"\nca_file = "mail/ca.pem"\n',
    )
    config = load_config(home)
    assert config.mail == MailConfig(
        host="smtp.bank.example",
        port=465,  # the default for implicit TLS
        security="tls",
        sender="kcw@bank.example",
        username="kcw",
        password_source="file:mail/pw",
        ca_file="mail/ca.pem",
    )
    save_config(config)
    assert load_config(home).mail == config.mail
    assert load_config(tmp_path / "elsewhere").mail is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[mail]\nsender = "a@b.example"\n', "needs 'host'"),
        ('[mail]\nhost = "h"\nsender = "a@b.example"\nsecurity = "ssl"\n', "security must be"),
        ('[mail]\nhost = "h"\nsender = "a@b.example"\nport = 70000\n', "port must be"),
        ('[mail]\nhost = "h"\nsender = "a@b.example"\nusername = "u"\n', "no password_source"),
    ],
)
def test_bad_mail_sections_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        load_config(home_with(tmp_path, text))


def test_password_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = home_with(
        tmp_path,
        '[mail]\nhost = "h.example"\nsender = "a@b.example"\nusername = "u"\n'
        'password_source = "env:KCW_TEST_SMTP_PASSWORD"\n',
    )
    config = load_config(home)
    monkeypatch.delenv("KCW_TEST_SMTP_PASSWORD", raising=False)
    with pytest.raises(BadInput, match=r"\$KCW_TEST_SMTP_PASSWORD, which is not set"):
        config.mail_password()
    monkeypatch.setenv("KCW_TEST_SMTP_PASSWORD", "s3cret")
    assert config.mail_password() == "s3cret"
    assert config.mail is not None
    config.mail.password_source = "file:pw.txt"
    with pytest.raises(BadInput, match="Cannot read the mail relay password file"):
        config.mail_password()
    (tmp_path / "pw.txt").write_text("from-file\n")
    assert config.mail_password() == "from-file"
    config.mail.password_source = "vault:x"
    with pytest.raises(BadInput, match="Unknown \\[mail\\] password_source"):
        config.mail_password()


def test_bootstrap_builds_the_relay_only_when_configured(tmp_path: Path) -> None:
    assert build_mailer(load_config(tmp_path / "none")) is None
    home = home_with(
        tmp_path, '[mail]\nhost = "smtp.bank.example"\nport = 2525\nsender = "kcw@bank.example"\n'
    )
    mailer = build_mailer(load_config(home))
    assert isinstance(mailer, SmtpMailer)
    assert mailer.relay == "smtp.bank.example:2525" and mailer.security == "starttls"
    assert mailer.sender == "kcw@bank.example" and mailer.username is None
    login_in_clear = home_with(
        tmp_path,
        '[mail]\nhost = "h.example"\nsecurity = "none"\nsender = "a@b.example"\n'
        'username = "u"\npassword_source = "prompt"\n',
    )
    with pytest.raises(BadInput, match="sent in clear"):
        build_mailer(load_config(login_in_clear))
