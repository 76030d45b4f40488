"""Key generation: the workstation's full path against a bare python-pkcs11 loop.

Both run in this process on the same fresh SoftHSM2 token. The workstation path is what a
custodian's ``keys generate --count 10000`` does: a session of two custodians logged on
with virtual PIV cards through pcscd, the quorum checked, and for every key: generation in
the HSM, KCV in the HSM (AES-CMAC), wrap under the master key, HSM seal (HMAC) of the
record, repository row, history event and hash-chained audit entry, all committed in SQLite
(WAL, synchronous=FULL), with signed audit checkpoints.

Target (issue 2): at least 1,000 keys/s and at least a quarter of the bare loop's rate.

    .venv/bin/python bench/bench_keygen.py [-n 10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench_hsm_baseline import bare_generate_and_wrap
from workstation.adapters.hsm_pkcs11 import Pkcs11Hsm
from workstation.adapters.repository_sqlite import SqliteRepository
from workstation.adapters.smartcard_pcsc import PcscCardReaders
from workstation.adapters.softhsm import provision_softhsm
from workstation.devtools.card_issuer import issue_card
from workstation.devtools.pcscd import ensure_pcscd, stop_pcscd
from workstation.devtools.virtual_piv import VirtualCardSlot
from workstation.domain.people import Role
from workstation.services.app import WorkstationServices
from workstation.services.context import ServiceContext
from workstation.services.initialise import OfficerCard

PIN = "123456"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kcw-bench-keygen-") as tmp_name:
        tmp = Path(tmp_name)
        ports = ensure_pcscd(tmp / "pcscd")
        readers_by_index = list(ports)
        token = provision_softhsm(tmp / "hsm", "kcw-bench")
        hsm = Pkcs11Hsm(
            token.module_path, token.label, token.read_user_pin(), environment=token.environment
        )
        repo = SqliteRepository(tmp / "ws.db")
        services = WorkstationServices(
            ServiceContext(
                repository=repo, hsm=hsm, readers=PcscCardReaders(reader_filter="KCW Virtual")
            )
        )
        slots: dict[int, VirtualCardSlot] = {}

        def insert(name: str, index: int) -> str:
            card = issue_card(tmp / "cards" / f"{name}.json", name, PIN)
            slot = VirtualCardSlot(card)
            slot.insert(ports[readers_by_index[index]])
            slots[index] = slot
            return readers_by_index[index]

        def remove(index: int) -> None:
            slots.pop(index).remove()

        def pin() -> bytearray:
            return bytearray(PIN.encode())

        try:
            r0, r1 = insert("Olivia", 0), insert("Oscar", 1)
            services.init.initialise(
                [OfficerCard(r0, "Olivia", pin()), OfficerCard(r1, "Oscar", pin())]
            )
            officers = services.logon.open_session()
            services.logon.log_on(officers, r0, pin())
            services.logon.log_on(officers, r1, pin())
            for i, name in ((2, "Cara"), (3, "Carl")):
                reader = insert(name, i)
                services.people.enrol(
                    officers, name=name, roles=[Role.KEY_CUSTODIAN], reader=reader, pin=pin()
                )
            officers.close()
            remove(0)
            remove(1)
            session = services.logon.open_session()
            watch = services.logon.watch(session)
            services.logon.log_on(session, readers_by_index[2], pin())
            services.logon.log_on(session, readers_by_index[3], pin())

            baseline = bare_generate_and_wrap(token, args.n)
            start = time.perf_counter()
            result = services.keys.generate(session, "PIN encryption key", count=args.n)
            elapsed = time.perf_counter() - start
            assert len(result.keys) == args.n, result.stopped_reason
            watch.stop()
            session.close()
            verify_start = time.perf_counter()
            report = services.audit.verify(None)
            verify_elapsed = time.perf_counter() - verify_start
            assert report.ok
        finally:
            for index in list(slots):
                remove(index)
            services.close()
            stop_pcscd(tmp / "pcscd")  # only if this run started it

    rate = args.n / elapsed
    print(f"bare python-pkcs11 generate + wrap + destroy (baseline): {baseline:8,.0f} keys/s")
    print(
        f"workstation keys generate (full path, n={args.n}):        {rate:8,.0f} keys/s"
        f"  = {rate / baseline:.0%} of the baseline ({elapsed:.2f} s)"
    )
    print(
        f"audit log verification after it ({report.entries_checked:,} entries): "
        f"{verify_elapsed:.2f} s"
    )
    target_ok = rate >= 1000 and rate >= baseline / 4
    print(f"target >= 1,000 keys/s and >= 25% of baseline: {'met' if target_ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
