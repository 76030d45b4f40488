"""Cold start to the logon window, against a bare PySide6 window started the same way.

Each is a new process (interpreter start, imports, window shown, first event-loop turn);
the median of several runs is printed. The workstation runs on an initialised demo home
(SoftHSM2 token, pcscd with virtual readers). Target (issue 3): at most 2x the bare start.

    .venv/bin/python bench/bench_gui_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBE = Path(__file__).with_name("gui_start_probe.py")


def time_start(*args: str) -> float:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    env.pop("SOFTHSM2_CONF", None)
    # An installed application runs from compiled bytecode (pip and the .deb compile it);
    # the warm-up run writes it here, for both probes alike.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(PROBE), *args], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - began
    proc.wait(timeout=60)
    if line.strip() != "shown":
        raise SystemExit(f"probe {args} did not show its window (exit {proc.returncode})")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kcw-bench-gui-") as tmp:
        home = Path(tmp) / "home"
        demo = [sys.executable, "-m", "workstation.devtools.demo"]
        subprocess.run([*demo, "start", "--home", str(home)], check=True, stdout=subprocess.DEVNULL)
        try:
            time_start("bare")  # warm the file cache for both
            time_start("workstation", str(home))
            bare: list[float] = []
            ours: list[float] = []
            for _ in range(args.runs):  # interleaved, so that a busy moment hits both alike
                bare.append(time_start("bare"))
                ours.append(time_start("workstation", str(home)))
        finally:
            subprocess.run(
                [*demo, "stop", "--home", str(home)], check=False, stdout=subprocess.DEVNULL
            )
    b, w = statistics.median(bare), statistics.median(ours)
    print(
        f"bare PySide6 window, process start to shown:      {b * 1000:7.0f} ms (median of "
        f"{args.runs})"
    )
    print(f"workstation logon window, process start to shown: {w * 1000:7.0f} ms = {w / b:.2f}x")
    print(f"target <= 2x the bare start: {'met' if w <= 2 * b else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
