"""agent.toml, and the workstation's [distribution] section that points at the client TLS
files for key agents."""

from __future__ import annotations

from pathlib import Path

import pytest

from workstation.agent.config import (
    DEFAULT_EXPORTABILITY,
    AgentConfig,
    ConfigError,
    KekConfig,
    TokenConfig,
    load_config,
    save_config,
)
from workstation.bootstrap import build_key_stores
from workstation.config import DistributionConfig
from workstation.config import load_config as load_workstation_config
from workstation.config import save_config as save_workstation_config
from workstation.errors import BadInput


def _agent(home: Path) -> AgentConfig:
    return AgentConfig(
        home=home,
        name="payments-01",
        listen="127.0.0.1:7443",
        token=TokenConfig(
            "/usr/lib/softhsm/libsofthsm2.so",
            "kcw-agent",
            "file:hsm/user.pin",
            {"SOFTHSM2_CONF": "hsm/softhsm2.conf"},
        ),
        allowed_clients=("kcw-primary",),
        kek=KekConfig("KEK-1", "AES-256", "E4AFA6E082", 256),
    )


def test_agent_configuration_round_trips(tmp_path: Path) -> None:
    config = _agent(tmp_path)
    save_config(config)
    loaded = load_config(tmp_path)
    assert loaded == config
    assert loaded.exportability == DEFAULT_EXPORTABILITY
    assert loaded.token_environment() == {"SOFTHSM2_CONF": str(tmp_path / "hsm/softhsm2.conf")}
    assert loaded.host_port == ("127.0.0.1", 7443)


def test_a_missing_agent_configuration_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run 'workstation-agent init --home"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[agent]\nname = 'a'\n", "a required setting is missing"),
        ("[agent\n", "cannot be read as TOML"),
        (
            "[agent]\nname='a'\nlisten='nowhere'\n[token]\nmodule='m'\nlabel='l'\n"
            "pin_source='file:p'\n",
            "listen 'nowhere' is not HOST:PORT",
        ),
    ],
)
def test_malformed_agent_configurations_are_named(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "agent.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path)


def test_a_pin_file_others_can_read_is_refused(tmp_path: Path) -> None:
    config = _agent(tmp_path)
    (tmp_path / "hsm").mkdir()
    pin = tmp_path / "hsm" / "user.pin"
    pin.write_text("1234\n")
    pin.chmod(0o644)
    with pytest.raises(ConfigError, match="can be read by other users"):
        config.token_pin()
    pin.chmod(0o600)
    assert config.token_pin() == "1234"


def test_the_distribution_section_round_trips_and_builds_the_connector(tmp_path: Path) -> None:
    config = load_workstation_config(tmp_path)
    assert config.distribution is None and build_key_stores(config) is None
    config.distribution = DistributionConfig(
        "distribution/client.crt", "distribution/client.key", "distribution/ca.pem", 5.0
    )
    save_workstation_config(config)
    loaded = load_workstation_config(tmp_path)
    assert loaded.distribution == config.distribution
    assert build_key_stores(loaded) is not None  # the files are read at the first connection


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("client_key = 'k'\ntrust = 't'\n", "needs 'client_certificate'"),
        ("client_certificate='c'\nclient_key='k'\ntrust='t'\ntimeout='soon'\n", "number"),
        ("client_certificate='c'\nclient_key='k'\ntrust='t'\ntimeout=0\n", "between 0 and 600"),
    ],
)
def test_a_malformed_distribution_section_is_named(
    tmp_path: Path, section: str, message: str
) -> None:
    (tmp_path / "workstation.toml").write_text("[distribution]\n" + section)
    with pytest.raises(BadInput, match=message):
        load_workstation_config(tmp_path)


def test_init_refuses_a_bad_listen_address_before_writing_anything(tmp_path: Path) -> None:
    from workstation.agent.main import AgentError, init_agent

    home = tmp_path / "agent"
    with pytest.raises(AgentError, match=r"--listen '127\.0\.0\.1:99999' is not HOST:PORT"):
        init_agent(home, name="a1", listen="127.0.0.1:99999")
    assert not home.exists()
