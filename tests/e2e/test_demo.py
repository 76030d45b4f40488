"""``make run``'s provisioning, as a separate process: cards issued, workstation initialised,
the cast enrolled through the services, and a guide a newcomer can follow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

pytestmark = [pytest.mark.e2e, pytest.mark.pcsc, pytest.mark.hsm, pytest.mark.slow]

BIN = Path(sys.executable).parent


def run(*args: str, home: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    return subprocess.run(
        [*args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
        cwd=home.parent,
    )


def test_demo_start_provisions_and_guides(tmp_path: Path, pcsc_readers: list[str]) -> None:
    home = tmp_path / "demo"
    demo = [sys.executable, "-m", "workstation.devtools.demo"]
    try:
        first = run(*demo, "start", "--home", str(home), home=home)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "First run" in first.stdout
        assert "7 people enrolled" in first.stdout
        assert "Every demo card's PIN is 123456" in first.stdout
        # Running it again reuses what is there.
        again = run(*demo, "start", "--home", str(home), home=home)
        assert again.returncode == 0 and "First run" not in again.stdout

        # Follow the guide: two custodians insert their cards and generate a key.
        vcard = [str(BIN / "workstation-vcard")]
        state = ["--state", str(home / "vcard")]
        cli = [str(BIN / "workstation-cli"), "--home", str(home)]
        for slug, reader in (("cara", "0"), ("carl", "1")):
            inserted = run(
                *vcard,
                "insert",
                str(home / "demo-cards" / f"{slug}.json"),
                "--reader",
                reader,
                *state,
                home=home,
            )
            assert inserted.returncode == 0, inserted.stderr
        made = run(
            *cli,
            "--json",
            "--pin-stdin",
            "keys",
            "generate",
            "--template",
            "PIN encryption key",
            home=home,
            stdin="123456\n123456\n",
        )
        assert made.returncode == 0, made.stderr
        pek = json.loads(made.stdout)["generated"][0]["label"]
        assert pek.startswith("PEK-")

        # The guide's distribution: with the supervisor's card too, the PEK goes to the
        # three demo key agents, which then say they hold it.
        inserted = run(
            *vcard, "insert", str(home / "demo-cards" / "sam.json"), "--reader", "2", *state,
            home=home,
        )  # fmt: skip
        assert inserted.returncode == 0, inserted.stderr
        pushed = run(
            *cli, "--json", "--pin-stdin", "distribute", pek, "--tag", "branch",
            home=home, stdin="123456\n" * 3,
        )  # fmt: skip
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        assert json.loads(pushed.stdout)["installed"] == 3
        checked = run(
            *cli, "--json", "--pin-stdin", "targets", "check", home=home, stdin="123456\n" * 3
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        stores = json.loads(checked.stdout)
        assert len(stores) == 3 and all(s["reachable"] for s in stores)
        assert all([h["label"] for h in s["held"]] == [pek] for s in stores)
        removed = run(*vcard, "remove", "--reader", "2", *state, home=home)
        assert removed.returncode == 0, removed.stderr
        status = json.loads(run(*cli, "--json", "status", home=home).stdout)
        assert status["initialised"] and status["people"] == 7

        # The demo CA is a partner, and its counter certifies a request.
        listed = run(
            *cli, "--json", "--pin-stdin", "partners", "list", home=home, stdin="123456\n" * 2
        )
        assert listed.returncode == 0, listed.stderr
        partners = json.loads(listed.stdout)
        assert "Demo Lab CA" in [p["name"] for p in partners]
        key = ec.generate_private_key(ec.SECP256R1())
        csr = home / "pay.csr"
        csr.write_bytes(
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pay.demo")]))
            .sign(key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )
        signed = run(
            *demo,
            "sign-csr",
            "--home",
            str(home),
            str(csr),
            "--out",
            str(home / "pay.pem"),
            "--days",
            "20",
            home=home,
        )
        assert signed.returncode == 0, signed.stderr
        issued = x509.load_pem_x509_certificate((home / "pay.pem").read_bytes())
        anchor = x509.load_pem_x509_certificate((home / "demo-ca" / "ca.pem").read_bytes())
        issued.verify_directly_issued_by(anchor)
        again = run(
            *demo,
            "sign-csr",
            "--home",
            str(home),
            str(csr),
            "--out",
            str(home / "pay.pem"),
            home=home,
        )
        assert again.returncode == 1 and "nothing is overwritten" in again.stderr

        # The desktop application opens on it: the logon page, the six readers and, this
        # being the demo, the demo cards panel once the services have started.
        smoke = run(
            sys.executable, str(Path(__file__).with_name("gui_smoke.py")), str(home), home=home
        )
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr
        assert "demo_panel=True readers=6 page=0" in smoke.stdout
    finally:
        stopped = run(*demo, "stop", "--home", str(home), home=home)
        assert stopped.returncode == 0
        assert "3 demo key agents stopped" in stopped.stdout
