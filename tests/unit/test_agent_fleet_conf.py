"""An in-process key agent fleet needs the SoftHSM2 configuration of this process: it is
refused, with words that say what to pass, rather than choosing one for the process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workstation.adapters.softhsm import CONFIG_ENV, softhsm_config
from workstation.devtools.agent_fleet import Fleet

KEK = bytes(32)


def test_an_in_process_fleet_without_a_softhsm_configuration_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    with pytest.raises(ValueError, match=r"SOFTHSM2_CONF is not set: pass softhsm_conf="):
        Fleet.start(tmp_path / "fleet", 1, kek=KEK)
    assert CONFIG_ENV not in os.environ
    assert not (tmp_path / "fleet").exists()  # refused before anything was made


def test_a_configuration_other_than_the_process_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(softhsm_config(tmp_path / "process")))
    other = softhsm_config(tmp_path / "other")
    with pytest.raises(ValueError, match=r"is not the SoftHSM2 configuration of this process"):
        Fleet.start(tmp_path / "fleet", 1, kek=KEK, softhsm_conf=other)
    assert os.environ[CONFIG_ENV] == str(tmp_path / "process" / "softhsm2.conf")


def test_a_missing_configuration_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    missing = tmp_path / "nowhere" / "softhsm2.conf"
    with pytest.raises(ValueError, match=r"nowhere/softhsm2.conf: there is no SoftHSM2"):
        Fleet.start(tmp_path / "fleet", 1, kek=KEK, softhsm_conf=missing)
    assert CONFIG_ENV not in os.environ
