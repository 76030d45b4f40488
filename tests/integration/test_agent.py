"""The key agent end to end: real SoftHSM2 tokens, real mutual TLS on loopback, the
workstation's agent client (``KeyStores``) and the agent program itself."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from workstation.adapters.key_stores import KeyStores
from workstation.adapters.softhsm import softhsm_config
from workstation.agent.config import load_config
from workstation.agent.protocol import encode_message, read_message, status_request
from workstation.agent.server import open_agent_token
from workstation.devtools.agent_fleet import Fleet, TestCa, write_client_files
from workstation.errors import TargetError
from workstation.services.ports import InstallReceipt, KeyDelivery, TargetAddress
from workstation.standards import tr31
from workstation.standards.kcv import key_check_value

pytestmark = pytest.mark.hsm

KEK = bytes.fromhex("88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6")


def delivery(
    key: bytes,
    *,
    kek: bytes = KEK,
    key_id: str = "key-1",
    version: int = 1,
    header: str = "D0000P0AE00E0000",
    kcv: str | None = None,
) -> KeyDelivery:
    return KeyDelivery(
        delivery_id=f"job-1/{key_id}/{version}",
        key_id=key_id,
        label=f"PEK {key_id}",
        version=version,
        algorithm=f"AES-{8 * len(key)}",
        kcv=kcv or key_check_value(key, family="AES").hex().upper(),
        key_block=tr31.wrap(kek, header, key),
    )


@pytest.fixture
def fleet(softhsm_directory: Path, tmp_path: Path) -> Iterator[Fleet]:
    conf = softhsm_config(softhsm_directory)
    with Fleet.start(tmp_path / "fleet", 2, kek=KEK, softhsm_conf=conf) as fleet:
        yield fleet


@pytest.fixture
def stores(fleet: Fleet) -> KeyStores:
    return KeyStores(*fleet.client_files)


def held_in_token(fleet: Fleet, name: str) -> list[tuple[str, int]]:
    token = open_agent_token(fleet.config(name))
    try:
        return [(e.key_id, e.version) for e in token.held()]
    finally:
        token.close()


def test_install_then_status_round_trip(fleet: Fleet, stores: KeyStores) -> None:
    key = os.urandom(16)
    sent = delivery(key)
    target = stores.connect(fleet.address("agent-001"))
    try:
        assert target.status().held == ()
        receipt = target.install(sent)
        assert receipt.installed and receipt.kcv == sent.kcv
        state = target.status()
    finally:
        target.close()
    assert state.reachable and "agent-001" in state.detail
    held = state.holds("key-1", 1)
    assert held is not None and held.kcv == sent.kcv and held.label == "PEK key-1"
    log = (fleet.agents["agent-001"].home / "agent.log").read_text()
    assert "client='workstation' install delivery='job-1/key-1/1'" in log
    assert sent.key_block not in log and key.hex().upper() not in log


def test_the_same_key_version_twice_installs_nothing_the_second_time(
    fleet: Fleet, stores: KeyStores
) -> None:
    sent = delivery(os.urandom(32))
    target = stores.connect(fleet.address("agent-001"))
    try:
        first = target.install(sent)
        second = target.install(sent)
    finally:
        target.close()
    assert first.installed and not second.installed and second.kcv == first.kcv
    assert held_in_token(fleet, "agent-001") == [("key-1", 1)]


def test_a_wrong_check_value_is_refused_and_nothing_is_created(
    fleet: Fleet, stores: KeyStores
) -> None:
    target = stores.connect(fleet.address("agent-001"))
    try:
        with pytest.raises(TargetError, match="check value mismatch") as caught:
            target.install(delivery(os.urandom(16), kcv="0102030405"))
    finally:
        target.close()
    assert "Target 'agent-001' (agent at 127.0.0.1:" in caught.value.message
    assert held_in_token(fleet, "agent-001") == []


def test_a_block_under_another_kek_is_refused_and_nothing_is_created(
    fleet: Fleet, stores: KeyStores
) -> None:
    target = stores.connect(fleet.address("agent-001"))
    try:
        with pytest.raises(TargetError, match="MAC does not verify"):
            target.install(delivery(os.urandom(16), kek=os.urandom(32)))
    finally:
        target.close()
    assert held_in_token(fleet, "agent-001") == []


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("D0000P0AE00S0000", "exportability S is not accepted"),
        ("D0000S0AE00N0000", "key usage S0 is not accepted"),
        ("D0000P0TE00E0000", "algorithm 'T' is not that of a AES-128 key"),
    ],
)
def test_headers_the_agent_does_not_accept_are_refused(
    fleet: Fleet, stores: KeyStores, header: str, message: str
) -> None:
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210") if "T" in header[7] else None
    sent = delivery(key or os.urandom(16), header=header)
    target = stores.connect(fleet.address("agent-001"))
    try:
        with pytest.raises(TargetError, match=message):
            target.install(sent)
    finally:
        target.close()
    assert held_in_token(fleet, "agent-001") == []


def test_a_target_recorded_with_another_kek_label_is_refused(
    fleet: Fleet, stores: KeyStores
) -> None:
    a = fleet.address("agent-001")
    wrong = TargetAddress(a.name, a.kind, a.location, "OTHER-KEK")
    target = stores.connect(wrong)
    try:
        with pytest.raises(TargetError, match="KEK not found: the agent's KEK is 'KEK'"):
            target.install(delivery(os.urandom(16)))
    finally:
        target.close()


def _raw_status(fleet: Fleet, context: ssl.SSLContext) -> object:
    port = fleet.agents["agent-001"].port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(encode_message(status_request()))
            return read_message(tls)


def test_a_client_without_a_certificate_is_refused(fleet: Fleet) -> None:
    context = ssl.create_default_context(cafile=str(fleet.client_files.trust))
    try:
        answer = _raw_status(fleet, context)
    except (ssl.SSLError, OSError):
        answer = None  # TLS 1.2 refuses in the handshake, TLS 1.3 right after it
    assert answer is None
    log = fleet.agents["agent-001"].home / "agent.log"
    deadline = time.monotonic() + 10  # the agent's thread logs after the client sees it
    while "TLS handshake refused" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "TLS handshake refused" in log.read_text()


def test_a_client_certified_by_another_ca_is_refused(fleet: Fleet, tmp_path: Path) -> None:
    other = TestCa(tmp_path / "other-ca", "Some Other CA")
    files = write_client_files(other, tmp_path / "other-client")
    stores = KeyStores(files.certificate, files.key, fleet.client_files.trust)
    with pytest.raises(TargetError, match="agent-001") as caught:
        target = stores.connect(fleet.address("agent-001"))
        try:
            target.status()
        finally:
            target.close()
    assert any(
        words in caught.value.message
        for words in (
            "refused the TLS connection",
            "closed the connection",
            "reset the connection",
            "handshake",
        )
    )


def test_an_agent_certified_by_an_untrusted_ca_is_refused(fleet: Fleet, tmp_path: Path) -> None:
    other = TestCa(tmp_path / "other-ca", "Some Other CA")
    stores = KeyStores(fleet.client_files.certificate, fleet.client_files.key, other.cert_file)
    with pytest.raises(TargetError, match="the agent's certificate is refused"):
        stores.connect(fleet.address("agent-001"))


def test_an_agent_outside_the_allowed_client_list_refuses(fleet: Fleet) -> None:
    from dataclasses import replace

    from workstation.agent.config import save_config

    fleet.stop("agent-002")
    config = fleet.config("agent-002")
    save_config(replace(config, allowed_clients=("workstation-dr",)))
    fleet.start_again("agent-002")
    target = KeyStores(*fleet.client_files).connect(fleet.address("agent-002"))
    try:
        with pytest.raises(TargetError, match="client 'workstation' is not allowed here"):
            target.status()
    finally:
        target.close()


def test_a_stopped_agent_is_a_target_error_and_keeps_its_keys_when_started_again(
    fleet: Fleet, stores: KeyStores
) -> None:
    target = stores.connect(fleet.address("agent-002"))
    target.install(delivery(os.urandom(16), key_id="key-9", version=3))
    fleet.stop("agent-002")
    try:
        with pytest.raises(TargetError, match="agent-002"):
            target.status()
    finally:
        target.close()
    with pytest.raises(TargetError, match="connection was refused"):
        stores.connect(fleet.address("agent-002"))
    fleet.start_again("agent-002")
    target = stores.connect(fleet.address("agent-002"))
    try:
        assert target.status().holds("key-9", 3) is not None
    finally:
        target.close()


# --- the program ------------------------------------------------------------------------


def _agent(*args: str, home: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    return subprocess.run(
        [sys.executable, "-m", "workstation.agent.main", *args, "--home", str(home)],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_program_initialises_loads_the_kek_from_components_and_reports(
    tmp_path: Path,
) -> None:
    home = tmp_path / "agent"
    done = _agent("init", "--name", "host-a", "--listen", "127.0.0.1:7999", home=home)
    assert done.returncode == 0, done.stderr
    assert (home / "tls" / "agent.csr").is_file()
    first = bytes(range(32))
    second = bytes(a ^ b for a, b in zip(first, KEK, strict=True))
    components = f"{first.hex()}\n{second.hex().upper()}\nyes\n"
    done = _agent(
        "load-kek", "--label", "KEK", "--algorithm", "AES-256", "--components-from-stdin",
        home=home, stdin=components,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = key_check_value(KEK, family="AES").hex().upper()
    assert f"Combined KEK check value: {expected}" in done.stdout
    assert f"Component 1 check value: {key_check_value(first, family='AES').hex().upper()}" in (
        done.stdout
    )
    assert load_config(home).kek is not None
    assert first.hex() not in (home / "agent.toml").read_text()
    again = _agent(
        "load-kek", "--label", "KEK2", "--algorithm", "AES-256", "--components-from-stdin",
        home=home, stdin=components,
    )  # fmt: skip
    assert again.returncode == 1 and "loaded already" in again.stderr
    status = _agent("status", home=home)
    assert status.returncode == 0, status.stderr
    assert f"KEK: 'KEK' AES-256, check value {expected}" in status.stdout
    assert "0 key version(s) held" in status.stdout


def test_an_unconfirmed_kek_is_not_loaded(tmp_path: Path) -> None:
    home = tmp_path / "agent"
    assert _agent("init", "--name", "host-b", home=home).returncode == 0
    done = _agent(
        "load-kek", "--label", "KEK", "--algorithm", "AES-128", "--components-from-stdin",
        home=home, stdin=f"{'11' * 16}\n{'22' * 16}\nno\n",
    )  # fmt: skip
    assert done.returncode == 1 and "not confirmed" in done.stderr
    assert load_config(home).kek is None


@pytest.mark.slow
def test_a_killed_agent_process_started_again_still_holds_its_keys(tmp_path: Path) -> None:
    with Fleet.start(tmp_path / "fleet", 1, kek=KEK, processes=True) as fleet:
        stores = KeyStores(*fleet.client_files)
        sent = delivery(os.urandom(16), key_id="key-5")
        target = stores.connect(fleet.address("agent-001"))
        try:
            assert target.install(sent).installed
        finally:
            target.close()
        fleet.stop("agent-001", kill=True)
        fleet.start_again("agent-001")
        target = stores.connect(fleet.address("agent-001"))
        try:
            assert target.status().holds("key-5", 1) is not None
            assert not target.install(sent).installed
        finally:
            target.close()


def test_a_tdes_kek_takes_version_b_blocks(softhsm_directory: Path, tmp_path: Path) -> None:
    kek = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    key = bytes.fromhex("89E88CF7931444F334BD7547FC3F380C")
    sent = KeyDelivery(
        delivery_id="job-2/tdes",
        key_id="tdes-1",
        label="Legacy PEK",
        version=1,
        algorithm="TDES-2KEY",
        kcv=key_check_value(key, family="TDES").hex().upper(),
        key_block=tr31.wrap(kek, "B0000P0TE00E0000", key),
    )
    conf = softhsm_config(softhsm_directory)
    with Fleet.start(
        tmp_path / "fleet", 1, kek=kek, algorithm="TDES-2KEY", softhsm_conf=conf
    ) as fleet:
        target = KeyStores(*fleet.client_files).connect(fleet.address("agent-001"))
        try:
            assert target.install(sent) == InstallReceipt(True, sent.kcv)
            state = target.status()
            with pytest.raises(TargetError, match="version D is not accepted"):
                target.install(delivery(os.urandom(16), key_id="aes-1"))
        finally:
            target.close()
    assert "KEK 'KEK' check value 08D7B4" in state.detail  # X9.24-1 legacy KCV of the KEK
    assert state.holds("tdes-1", 1) is not None
