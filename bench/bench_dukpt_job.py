"""DUKPT initial keys for many devices in one job: the workstation's full path against the
standards modules alone.

Both run in this process. The workstation path is what ``dukpt export-initial-keys --first-ksn
... --count 100000`` does after the logon: a session of two key custodians and a supervisor
logged on with virtual PIV cards through pcscd, the export quorum checked, the BDK and the
transport KEK unwrapped from a fresh SoftHSM2 token and checked against their KCVs, every KSN
checked, and for each device the AES initial key derived (ANSI X9.24-3:2017), its KCV
computed, and a TR-31 version D block (usage B1, IK optional block) made under the KEK; then
the file's SHA-256 and one audit entry. The baseline is the bare loop of the same
derivation and wrap with the standards modules, in memory.

Target (interchange issue): the time for 100,000 devices printed.

    .venv/bin/python bench/bench_dukpt_job.py [-n 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _stack import BenchStack
from workstation.domain.policy import Action
from workstation.services.interchange import consecutive_ksns
from workstation.standards import dukpt, tr31


def bare_loop(bdk: bytes, kek: bytes, ksns: list[str]) -> float:
    """Seconds for derive + wrap of every device with the standards modules alone."""
    start = time.perf_counter()
    for text in ksns:
        ksn = bytes.fromhex(text)
        key = dukpt.aes_initial_key(bdk, ksn[:8])
        header = tr31.Header("D", "B1", "A", "X", "00", "N", blocks=[("IK", ksn[:8].hex().upper())])
        tr31.wrap(kek, header, key)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000)
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="kcw-bench-dukpt-") as tmp_name,
        BenchStack(Path(tmp_name)) as stack,
    ):
        services, hsm = stack.services, stack.hsm
        admins = stack.log_on("Olivia", "Sam")
        services.templates.create(
            admins,
            name="Bench transport KEK",
            algorithm="AES-256",
            key_usage="K0",
            mode_of_use="B",
            exportability="E",
            crypto_period_days=365,
            label_pattern="KEK-{seq:03d}",
        )
        services.interchange.add_partner(admins, "Key injection facility", "device-vendor")
        admins.close()
        custodians = stack.log_on("Cara", "Carl")
        bdk = services.keys.generate(custodians, "AES base derivation key (test)").keys[0]
        kek = services.keys.generate(custodians, "Bench transport KEK").keys[0]
        custodians.close()
        activators = stack.log_on("Cara", "Sam")
        for key in (bdk, kek):
            services.keys.change_state(activators, key.label, Action.ACTIVATE_KEY)
        activators.close()

        ksns = consecutive_ksns("1234567800000000", args.n)
        assert bdk.wrapped is not None and kek.wrapped is not None
        baseline = bare_loop(
            bytes(hsm.export_clear_key(bdk.algorithm, bdk.wrapped)),
            bytes(hsm.export_clear_key(kek.algorithm, kek.wrapped)),
            ksns,
        )
        exporters = stack.log_on("Cara", "Carl", "Sam")
        start = time.perf_counter()
        result = services.interchange.export_initial_keys(
            exporters,
            bdk.label,
            kek.label,
            ksns,
            partner="Key injection facility",
        )
        text = result.text()
        elapsed = time.perf_counter() - start
        exporters.close()
        assert len(result.lines) == args.n and result.stopped is None

    print(
        f"standards modules alone (baseline), {args.n:,} devices: {baseline:6.2f} s "
        f"({args.n / baseline:8,.0f}/s)"
    )
    print(
        f"workstation job, {args.n:,} devices:                  {elapsed:6.2f} s "
        f"({args.n / elapsed:8,.0f}/s, {len(text) / 1e6:.1f} MB file) = "
        f"{baseline / elapsed:.0%} of the baseline's rate"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
