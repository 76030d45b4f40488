"""Distribution from the command line, in separate processes, against key agents on
loopback: key stores registered, a key pushed while two agents are down, the workstation
killed with SIGKILL while it waits to retry them, and the job finished after the restart with
nothing lost or installed twice; the audit log still verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import BIN, PIN, Cli
from tests.e2e.test_cli_interchange import staffed
from workstation.adapters.key_stores import KeyStores
from workstation.adapters.softhsm import softhsm_config
from workstation.devtools.agent_fleet import Fleet

pytestmark = [pytest.mark.e2e, pytest.mark.pcsc, pytest.mark.hsm]

AGENTS = 6
EXPORTERS = ("Cara Mendes", "Carl Novak", "Sam Adeyemi")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


def _clear_key(cli: Cli, label: str) -> bytes:
    """The KEK's value, read from the workstation's own token by a separate process (what
    custodians would carry to the agents as components)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from workstation.bootstrap import build\n"
        "_, s = build(Path(sys.argv[1]))\n"
        "with s.ctx.repository.unit_of_work(read_only=True) as uow:\n"
        "    k = uow.keys.by_label(sys.argv[2]).value\n"
        "print(bytes(s.ctx.hsm.export_clear_key(k.algorithm, k.wrapped)).hex())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(cli.home), label],
        capture_output=True,
        text=True,
        env=cli.env,
        check=True,
        timeout=60,
    )
    return bytes.fromhex(out.stdout.strip())


def _held(connector: KeyStores, fleet: Fleet, name: str) -> list[tuple[str, int]]:
    target = connector.connect(fleet.address(name))
    try:
        return sorted((h.key_id, h.version) for h in target.status().held)
    finally:
        target.close()


def test_a_job_killed_mid_way_finishes_after_a_restart(
    cli: Cli, virtual_cards: Any, tmp_path: Path, softhsm_directory: Path
) -> None:
    # The agents run in this process: their tokens go in the session's SoftHSM2 store
    # (softhsm_directory), the one configuration SoftHSM2 is loaded with in this process.
    readers = staffed(cli, virtual_cards)
    readers("Olivia Grant", "Sam Adeyemi")
    cli.ok(
        "templates",
        "create",
        "Fleet KEK",
        "--algorithm",
        "AES-256",
        "--usage",
        "K0",
        "--mode",
        "B",
        "--exportability",
        "E",
        "--period-days",
        "365",
        "--label-pattern",
        "FKEK-{seq:03d}",
        pins=[PIN] * 2,
    )
    readers("Cara Mendes", "Carl Novak")
    kek = cli.json("keys", "generate", "--template", "Fleet KEK", pins=[PIN] * 2)["generated"][0]
    pek = cli.json("keys", "generate", "--template", "PIN encryption key", pins=[PIN] * 2)[
        "generated"
    ][0]
    readers("Cara Mendes", "Sam Adeyemi")
    cli.ok("keys", "activate", kek["label"], pins=[PIN] * 2)

    fleet = Fleet.start(
        tmp_path / "fleet",
        AGENTS,
        kek=_clear_key(cli, kek["label"]),
        softhsm_conf=softhsm_config(softhsm_directory),
    )
    try:
        files = fleet.client_files
        config = cli.home / "workstation.toml"
        config.write_text(
            config.read_text()
            + "\n[distribution]\n"
            + f'client_certificate = "{files.certificate}"\n'
            + f'client_key = "{files.key}"\n'
            + f'trust = "{files.trust}"\n'
            + "timeout = 5\n"
        )
        readers("Olivia Grant", "Sam Adeyemi")
        for address in fleet.addresses():
            cli.ok(
                "targets",
                "add",
                address.name,
                "--kind",
                "agent",
                "--location",
                address.location,
                "--kek",
                kek["label"],
                "--kek-label",
                address.kek_label,
                "--tag",
                "atm",
                pins=[PIN] * 2,
            )
        bad = cli.run(
            "targets", "add", "x", "--kind", "agent", "--location", "h:0", "--kek", kek["label"],
            pins=[PIN] * 2,
        )  # fmt: skip
        assert bad.returncode == 2 and "port" in bad.stderr

        names = list(fleet.agents)
        down = names[:2]
        for name in down:
            fleet.stop(name)
        readers(*EXPORTERS)
        job = subprocess.Popen(
            [
                str(BIN / "workstation-cli"),
                "--home",
                str(cli.home),
                "--pin-stdin",
                "distribute",
                pek["label"],
                "--tag",
                "atm",
                "--attempts",
                "10",
                "--backoff",
                "30",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli.env,
        )
        assert job.stdin is not None
        job.stdin.write("".join(p + "\n" for p in [PIN] * 3))
        job.stdin.close()
        # Wait until the reachable agents hold the key: the job then waits to retry the
        # two that are down. Kill the workstation there, with no chance to clean up.
        connector = KeyStores(*files)
        up = names[2:]
        deadline = time.monotonic() + 120
        while not all(_held(connector, fleet, n) for n in up):
            assert job.poll() is None, job.stderr.read() if job.stderr else job.returncode
            assert time.monotonic() < deadline, "the job did not reach the agents"
            time.sleep(0.2)
        time.sleep(1.0)  # let it record them
        os.kill(job.pid, signal.SIGKILL)
        job.wait(timeout=30)
        assert job.returncode == -signal.SIGKILL

        unfinished = cli.json("jobs", "list", "--unfinished", pins=[PIN] * 3)
        assert len(unfinished) == 1 and unfinished[0]["state"] == "running"
        job_id = unfinished[0]["id"]

        for name in down:
            fleet.start_again(name)
        result = cli.json("jobs", "run", job_id[:10], pins=[PIN] * 3)
        assert result["job"]["state"] == "done"
        assert result["done"] == AGENTS and result["failed"] == 0
        # Every agent holds the key once; none was given it twice.
        for name in names:
            assert _held(connector, fleet, name) == [(pek["id"], 1)]
        readers("Olivia Grant")
        audit = cli.json("audit", "show", "--action", "key.distribute", pins=[PIN])
        installed = [e for e in audit if e["details"]["result"] == "installed"]
        assert sorted(e["details"]["target"] for e in installed) <= sorted(names)
        assert len({e["details"]["target"] for e in installed}) == len(installed)
        cli.ok("audit", "verify", pins=[PIN])
        finished = cli.json("jobs", "show", job_id, pins=[PIN])
        assert finished["installed"] + finished["already_held"] == AGENTS
    finally:
        fleet.close()
