"""The Debian package, built and installed as an IT team would: `make deb`'s script builds
it, debootstrap makes a fresh Debian 12 root, apt installs the package there with the
dependencies it declares (and nothing else), and the installed commands run in that root:
`workstation-cli` against a new SoftHSM2 token, `workstation-agent` setting up its own
token, the Qt runtime on an X server, then removal.

Needs root (debootstrap, chroot, namespaces) and the Debian archive (or the mirror in
$KCW_DEBIAN_MIRROR). Slow: building is about two minutes, the fresh root about two more.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PROJECT = Path(__file__).resolve().parents[2]
PACKAGE = "key-custodian-workstation"
MIRROR = os.environ.get("KCW_DEBIAN_MIRROR", "http://deb.debian.org/debian")
COMMANDS = ("workstation", "workstation-cli", "workstation-agent", "workstation-audit-verify")
CLEAN_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
}


def _prerequisites() -> str | None:
    if os.geteuid() != 0:
        return "building a root with debootstrap and chroot needs root"
    for tool in ("debootstrap", "dpkg-deb", "dpkg-shlibdeps", "unshare", "chroot"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/install-system-deps.sh installs it)"
    return None


@pytest.fixture(scope="module", autouse=True)
def _can_run() -> None:
    missing = _prerequisites()
    if missing and os.environ.get("CI"):
        pytest.fail(f"the package tests cannot run in CI: {missing}")
    if missing:
        pytest.skip(missing)


def run(cmd: list[str], timeout: float = 900, **kwargs: object) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {done.returncode}\n--- stdout\n{done.stdout[-4000:]}"
            f"\n--- stderr\n{done.stderr[-4000:]}"
        )
    return str(done.stdout)


# pcscd as the package's dependency installs it, started by hand: services don't start in
# a chroot. It ends with the script's process namespace.
WITH_PCSCD = (
    "mkdir -p /run/pcscd && pcscd && "
    "for i in $(seq 100); do [ -S /run/pcscd/pcscd.comm ] && break; sleep 0.1; done; "
)


def in_root(root: Path, script: str, timeout: float = 900) -> str:
    """Run a shell script inside the root: its own mount and process namespaces (so /proc
    is mounted for it alone and gone afterwards), the environment of a fresh login."""
    return run(
        [
            "unshare", "--mount", "--pid", "--fork", f"--mount-proc={root}/proc",
            "chroot", str(root), "/bin/sh", "-euc", script,
        ],
        timeout=timeout,
        env=CLEAN_ENV,
    )  # fmt: skip


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run([str(PROJECT / "installer" / "build-deb.sh"), "--out", str(out)])
    (built,) = out.glob(f"{PACKAGE}_*.deb")
    return built


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, deb: Path) -> Iterator[Path]:
    """A fresh Debian 12 (minbase) with the package installed by apt from the file."""
    root = tmp_path_factory.mktemp("debian") / "root"
    run(["debootstrap", "--variant=minbase", "bookworm", str(root), MIRROR])
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    # As in any chroot: packages' maintainer scripts must not start services here.
    policy = root / "usr" / "sbin" / "policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    shutil.copy(deb, root / "tmp" / deb.name)
    in_root(root, "apt-get update -q")
    in_root(root, f"apt-get install -y -q --no-install-recommends /tmp/{deb.name}")
    yield root


def test_package_declares_its_dependencies_and_files(deb: Path) -> None:
    fields = run(["dpkg-deb", "--field", str(deb)])
    assert f"Package: {PACKAGE}" in fields
    depends = next(line for line in fields.splitlines() if line.startswith("Depends:"))
    for dependency in ("python3.11", "pcscd", "softhsm2", "libpcsclite1", "libxcb-cursor0"):
        assert dependency in depends
    files = run(["dpkg-deb", "--contents", str(deb)])
    for command in COMMANDS:
        assert f"./usr/bin/{command} -> /opt/{PACKAGE}/bin/{command}" in files
    for path in (
        f"./usr/share/applications/{PACKAGE}.desktop",
        f"./usr/share/icons/hicolor/scalable/apps/{PACKAGE}.svg",
        "./lib/systemd/system/workstation-agent.service",
        f"./opt/{PACKAGE}/bin/python3.11 -> /usr/bin/python3.11",
    ):
        assert path in files
    # Nothing of the build machine's paths, no compiler or pip inside.
    assert "/bin/pip" not in files
    assert "/bin/activate" not in files


def test_apt_installs_it_into_a_fresh_debian_root(root: Path) -> None:
    status = in_root(root, f"dpkg-query -W -f '${{Status}} ${{Version}}' {PACKAGE}")
    assert status.startswith("install ok installed")
    for command in COMMANDS:
        assert os.path.lexists(root / "usr" / "bin" / command), command
    assert "kcw-agent" in (root / "etc" / "passwd").read_text()
    # No compiler or pip was needed: the root has neither.
    assert not (root / "usr" / "bin" / "gcc").exists()
    assert in_root(root, "command -v pip pip3 || echo none").strip() == "none"


def test_installed_cli_runs_against_a_new_token(root: Path) -> None:
    out = in_root(root, WITH_PCSCD + "workstation-cli --home /root/kcw status")
    assert "Workstation: NOT initialised" in out
    assert "HSM: SoftHSM" in out and "token 'KCW'" in out
    tokens = list((root / "root" / "kcw" / "hsm" / "tokens").iterdir())
    assert len(tokens) == 1  # the embedded default: a token made on first use
    # The token is the real one, through the Debian softhsm2 the package depends on.
    listing = in_root(
        root,
        "SOFTHSM2_CONF=/root/kcw/hsm/softhsm2.conf softhsm2-util --show-slots",
    )
    assert "Label:            KCW" in listing
    refused = in_root(
        root, WITH_PCSCD + "workstation-cli --home /root/kcw keys show x 2>&1 || echo exit $?"
    )
    assert "insert your card" in refused
    assert refused.strip().splitlines()[-1] == "exit 1"


INIT_WITH_CARDS = """
V=/opt/key-custodian-workstation/bin/workstation-vcard
rm -rf /run/pcscd
$V serve
mkdir -p /root/cards
$V create --out /root/cards/olivia.json --name "Olivia Grant" --pin 123456
$V create --out /root/cards/oscar.json --name "Oscar Lindqvist" --pin 123456
$V insert --reader 0 /root/cards/olivia.json
$V insert --reader 1 /root/cards/oscar.json
pins() { printf '123456\n123456\n'; }
pins | workstation-cli --home /root/officers --pin-stdin init \
    --officer "Olivia Grant" --officer "Oscar Lindqvist"
pins | workstation-cli --home /root/officers --pin-stdin people list
pins | workstation-cli --home /root/officers --pin-stdin audit verify
$V stop
"""


def test_installed_cli_initialises_a_workstation_with_two_officers_cards(root: Path) -> None:
    """The whole first step of a real installation, with the installed commands only: a
    new SoftHSM2 token, pcscd (from the package's dependencies) with virtual readers
    (vsmartcard-vpcd, which the package suggests), two PIV cards, `workstation-cli init`.
    In a network namespace of its own, so its readers' ports are its own."""
    in_root(root, "apt-get install -y -q --no-install-recommends vsmartcard-vpcd")
    (root / "tmp" / "init.sh").write_text(INIT_WITH_CARDS)
    out = run(
        [
            "unshare", "--mount", "--pid", "--net", "--fork", f"--mount-proc={root}/proc",
            "sh", "-ec", f"ip link set lo up; exec chroot {root} /bin/sh -eu /tmp/init.sh",
        ],
        env=CLEAN_ENV,
        timeout=300,
    )  # fmt: skip
    assert "Security officers: Olivia Grant, Oscar Lindqvist." in out
    assert "Olivia Grant     security officer  active" in out
    assert "Result        VERIFIED" in out


def test_installed_agent_sets_up_its_own_token(root: Path) -> None:
    out = in_root(
        root,
        "workstation-agent init --home /root/agent --name branch-01 --listen 127.0.0.1:7443"
        " && workstation-agent status --home /root/agent",
    )
    assert "branch-01" in out
    assert (root / "root" / "agent" / "tls" / "agent.csr").exists()
    assert "KEK" in out


def test_installed_qt_runtime_opens_a_window_on_x11(root: Path) -> None:
    in_root(root, "apt-get install -y -q --no-install-recommends xvfb xauth")
    probe = (
        "from PySide6.QtWidgets import QApplication, QLabel\n"
        "app = QApplication(['probe'])\n"
        "label = QLabel('Key Custodian Workstation'); label.show(); app.processEvents()\n"
        "print(app.platformName(), label.isVisible())\n"
    )
    (root / "tmp" / "probe.py").write_text(probe)
    out = in_root(
        root,
        f"QT_QPA_PLATFORM=xcb xvfb-run -a /opt/{PACKAGE}/bin/python /tmp/probe.py",
    )
    assert out.strip().splitlines()[-1] == "xcb True"


def test_removal_keeps_each_workstations_data(root: Path) -> None:
    in_root(root, f"apt-get remove -y -q {PACKAGE}")
    assert not os.path.lexists(root / "usr" / "bin" / "workstation-cli")
    assert not (root / "opt" / PACKAGE).exists()
    assert (root / "root" / "kcw" / "hsm" / "tokens").is_dir()
