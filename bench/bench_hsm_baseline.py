"""Baseline: how fast can bare python-pkcs11 generate and wrap keys on this token?

``bare_generate_and_wrap(token, n)`` runs the smallest loop that does the HSM work of one
key generation (generate an AES-256 session key, wrap it under the master key with
CKM_AES_KEY_WRAP_PAD, destroy it) and returns keys per second. The workstation's own
generation (check value, binding MAC, audit entry, repository row) is compared against it
in the same run by the generation benchmark.

Run alone: ``.venv/bin/python bench/bench_hsm_baseline.py [-n 10000]`` provisions a
temporary SoftHSM2 token, creates the workstation keys and prints the figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import UserAlreadyLoggedIn

from workstation.adapters.hsm_pkcs11 import MASTER_KEY_LABEL, Pkcs11Hsm
from workstation.adapters.softhsm import provision_softhsm


class TokenDetails(Protocol):
    """What the baseline needs of a token (``SoftHsmToken`` has it)."""

    @property
    def module_path(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def environment(self) -> dict[str, str]: ...

    def read_user_pin(self) -> str: ...


def bare_generate_and_wrap(token_details: TokenDetails, n: int) -> float:
    """Keys per second of a bare python-pkcs11 loop: generate an AES-256 session key, wrap
    it under the workstation master key (RFC 5649), destroy it; ``n`` times.

    The token must hold the workstation keys (``Pkcs11Hsm.create_workstation_keys()``).
    If a ``Pkcs11Hsm`` of this process is logged in to it, the loop uses that login.
    """
    os.environ.update(token_details.environment)
    lib = pkcs11.lib(os.path.realpath(token_details.module_path))
    token = lib.get_token(token_label=token_details.label)
    try:
        session = token.open(rw=True, user_pin=token_details.read_user_pin())
    except UserAlreadyLoggedIn:
        session = token.open(rw=True)  # login is per application: already logged in
    try:
        master: Any = session.get_key(ObjectClass.SECRET_KEY, label=MASTER_KEY_LABEL)
        template = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: True}
        start = time.perf_counter()
        for _ in range(n):
            key = session.generate_key(
                KeyType.AES,
                256,
                store=False,
                capabilities=MechanismFlag.SIGN,
                template=template,
            )
            master.wrap_key(key, mechanism=Mechanism.AES_KEY_WRAP_PAD)
            key.destroy()
        elapsed = time.perf_counter() - start
    finally:
        session.close()
    return n / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="keys to generate (10000)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kcw-bench-hsm-") as tmp:
        token = provision_softhsm(Path(tmp) / "hsm", "kcw-bench-baseline")
        with Pkcs11Hsm(
            token.module_path, token.label, token.read_user_pin(), environment=token.environment
        ) as hsm:
            hsm.create_workstation_keys()
        rate = bare_generate_and_wrap(token, args.n)
    print(
        f"baseline: bare python-pkcs11 AES-256 generate + wrap (AES_KEY_WRAP_PAD) + destroy: "
        f"{rate:,.0f} keys/s (n={args.n})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
