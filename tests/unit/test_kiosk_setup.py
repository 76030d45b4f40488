"""kcw-kiosk-setup writes the kiosk's configuration into a root, changes nothing the
second time, matches the examples shipped beside it, and refuses to run as non-root
without --root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

KIOSK = Path(__file__).resolve().parents[2] / "installer" / "kiosk"
SETUP = KIOSK / "kcw-kiosk-setup"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SETUP), *args], capture_output=True, text=True, check=False
    )


def snapshot(root: Path) -> dict[str, tuple[bytes, float]]:
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else b"", p.stat().st_mtime)
        for p in sorted(root.rglob("*"))
    }


def test_setup_into_a_root_writes_the_files_once(tmp_path: Path) -> None:
    first = run("--root", str(tmp_path))
    assert first.returncode == 0, first.stderr
    lightdm = tmp_path / "etc/lightdm/lightdm.conf.d/50-key-custodian-workstation-kiosk.conf"
    xorg = tmp_path / "etc/X11/xorg.conf.d/50-key-custodian-workstation-kiosk.conf"
    polkit = tmp_path / "etc/polkit-1/rules.d/50-key-custodian-workstation-kiosk.rules"
    assert "autologin-user=kcw-kiosk" in lightdm.read_text()
    assert "autologin-session=key-custodian-workstation-kiosk" in lightdm.read_text()
    assert 'Option "DontVTSwitch" "true"' in xorg.read_text()
    assert 'Option "DontZap" "true"' in xorg.read_text()
    rules = polkit.read_text()
    assert "org.freedesktop.udisks2.filesystem-mount" in rules
    assert 'subject.user == "kcw-kiosk"' in rules and "polkit.Result.NO" in rules
    assert (tmp_path / "var/lib/key-custodian-workstation/exports").is_dir()
    for path, example in (
        (lightdm, "lightdm-50-key-custodian-workstation-kiosk.conf"),
        (xorg, "xorg-50-key-custodian-workstation-kiosk.conf"),
        (polkit, "polkit-50-key-custodian-workstation-kiosk.rules"),
    ):
        assert path.read_text() == (KIOSK / "examples" / example).read_text()
    before = snapshot(tmp_path)
    second = run("--root", str(tmp_path))
    assert second.returncode == 0
    assert "nothing to change" in second.stdout
    assert snapshot(tmp_path) == before


def test_a_changed_file_is_put_back(tmp_path: Path) -> None:
    run("--root", str(tmp_path))
    xorg = tmp_path / "etc/X11/xorg.conf.d/50-key-custodian-workstation-kiosk.conf"
    xorg.write_text("# edited\n")
    again = run("--root", str(tmp_path))
    assert str(xorg) in again.stdout and "DontZap" in xorg.read_text()


@pytest.mark.skipif(os.geteuid() == 0, reason="the refusal is for users other than root")
def test_non_root_without_root_is_refused() -> None:
    refused = run()
    assert refused.returncode == 2
    assert "run it as root (sudo), or with --root DIR" in refused.stderr


def test_kiosk_session_runs_the_workstation_in_kiosk_mode_and_no_terminal() -> None:
    session = (KIOSK / "kiosk-session").read_text()
    assert '"$WORKSTATION" --kiosk --home "$HOME_DIR"' in session
    assert "while true" in session and "xterm" not in session
    desktop = (KIOSK / "key-custodian-workstation-kiosk.desktop").read_text()
    assert "Exec=/usr/libexec/key-custodian-workstation/kiosk-session" in desktop
    assert subprocess.run(["sh", "-n", str(KIOSK / "kiosk-session")], check=False).returncode == 0
