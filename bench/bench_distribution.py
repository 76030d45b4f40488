"""A rotation pushed to a fleet of key agents on loopback: targets per second, against the
agents' own protocol driven bare in the same run.

The fleet: N ``workstation-agent`` servers in this process (threads), each with its own
SoftHSM2 token, a certificate from a test CA, listening with mutual TLS, the same KEK
loaded. The workstation: pcscd with virtual PIV cards, its own SoftHSM2 token, SQLite.

- baseline: for each agent, connect (mutual TLS), ask what it holds, install one TR-31
  block made beforehand, close: the adapter alone, no HSM, repository or audit; once one
  agent at a time, once with as many threads as the workstation uses;
- workstation: ``rotate-all`` of a template with two keys under the quorum gathered once
  (two successors generated in the HSM) and the job run to every agent: for each agent the
  two blocks made under its KEK (unwrapped and checked in the HSM), status, two installs,
  the outcome and its audit entries recorded in one transaction.

Target (distribution issue): targets per second printed for 200 agents.

    .venv/bin/python bench/bench_distribution.py [-n 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _stack import BenchStack
from workstation.adapters.key_stores import KeyStores
from workstation.adapters.softhsm import softhsm_config
from workstation.devtools.agent_fleet import Fleet
from workstation.domain.distribution import JobState
from workstation.domain.policy import Action
from workstation.services.distribution import DEFAULT_WORKERS
from workstation.services.ports import KeyDelivery, TargetAddress
from workstation.standards import kcv, tr31


def baseline(
    connector: KeyStores, addresses: list[TargetAddress], kek: bytes, workers: int
) -> float:
    """Seconds to give every agent two keys with the adapter alone (as many as the
    rotation pushes), the blocks made once beforehand."""
    keys = []
    for n in (1, 2):
        value = bytes(range(n, n + 16))
        check = kcv.key_check_value(value, family="AES").hex().upper()
        keys.append((n, check, tr31.wrap(kek, tr31.Header("D", "P0", "A", "E", "01", "E"), value)))

    def one(address: TargetAddress) -> None:
        target = connector.connect(address)
        try:
            target.status()
            for n, check, block in keys:
                target.install(
                    KeyDelivery(
                        delivery_id=f"baseline/{workers}/{address.name}/{n}",
                        key_id=f"baseline-{workers}-{n}",
                        label=f"BASELINE-{workers}-{n}",
                        version=1,
                        algorithm="AES-128",
                        kcv=check,
                        key_block=block,
                    )
                )
        finally:
            target.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, addresses))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="agents")
    args = parser.parse_args(argv)
    n = args.n
    with (
        tempfile.TemporaryDirectory(prefix="kcw-bench-dist-") as tmp_name,
        BenchStack(Path(tmp_name)) as stack,
    ):
        tmp = Path(tmp_name)
        s = stack.services
        admins = stack.log_on("Olivia", "Sam")
        s.templates.create(
            admins,
            name="Bench fleet KEK",
            algorithm="AES-256",
            key_usage="K0",
            mode_of_use="B",
            exportability="E",
            crypto_period_days=365,
            label_pattern="FKEK-{seq:03d}",
        )
        s.templates.create(
            admins,
            name="Bench PEK",
            algorithm="AES-128",
            key_usage="P0",
            mode_of_use="E",
            exportability="E",
            crypto_period_days=365,
            label_pattern="BPEK-{seq:03d}",
        )
        admins.close()
        custodians = stack.log_on("Cara", "Carl")
        kek = s.keys.generate(custodians, "Bench fleet KEK").keys[0]
        peks = s.keys.generate(custodians, "Bench PEK", count=2).keys
        custodians.close()
        activators = stack.log_on("Cara", "Sam")
        for key in (kek, *peks):
            s.keys.change_state(activators, key.label, Action.ACTIVATE_KEY)
        activators.close()
        assert kek.wrapped is not None
        kek_value = bytes(stack.hsm.export_clear_key(kek.algorithm, kek.wrapped))

        began = time.perf_counter()
        fleet = Fleet.start(
            tmp / "fleet",
            n,
            kek=kek_value,
            kek_label="FLEET-KEK",
            softhsm_conf=softhsm_config(tmp / "hsm"),  # the stack's HSM store (BenchStack)
        )
        started = time.perf_counter() - began
        try:
            connector = KeyStores(*fleet.client_files)
            s.ctx.key_stores = connector
            addresses = fleet.addresses()
            one_by_one = baseline(connector, addresses, kek_value, 1)
            threaded = baseline(connector, addresses, kek_value, DEFAULT_WORKERS)

            admins = stack.log_on("Olivia", "Sam")
            for a in addresses:
                s.distribution.add_target(
                    admins,
                    name=a.name,
                    kind="agent",
                    location=a.location,
                    kek=kek.label,
                    kek_label=a.kek_label,
                    tags=["fleet"],
                )
            admins.close()
            exporters = stack.log_on("Cara", "Carl", "Sam")
            first = s.distribution.distribute(exporters, [k.label for k in peks], tags=["fleet"])
            report = s.distribution.run(exporters, first.id)
            assert report.job.state is JobState.DONE, report.text()

            start = time.perf_counter()
            job = s.distribution.rotate(exporters, template="Bench PEK", reason="benchmark")
            rotated = time.perf_counter() - start
            report = s.distribution.run(exporters, job.id)
            elapsed = time.perf_counter() - start
            exporters.close()
            assert report.job.state is JobState.DONE, report.text()
            assert report.installed == 2 * n, report.text()
        finally:
            fleet.close()

    print(f"{n} agents on loopback (threads in this process), started in {started:.1f} s")
    print(
        f"baseline, adapter alone, one agent at a time:  {one_by_one:6.2f} s "
        f"({n / one_by_one:6.1f} targets/s, 2 keys each)"
    )
    print(
        f"baseline, adapter alone, {DEFAULT_WORKERS} at a time:         {threaded:6.2f} s "
        f"({n / threaded:6.1f} targets/s, 2 keys each)"
    )
    print(
        f"workstation, rotate 2 keys + push to {n}:     {elapsed:6.2f} s "
        f"({n / elapsed:6.1f} targets/s, 2 keys each; rotation {rotated:.2f} s) = "
        f"{threaded / elapsed:.0%} of the threaded baseline's rate"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
