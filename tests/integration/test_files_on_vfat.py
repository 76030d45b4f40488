"""write_new on a real vfat filesystem (a loop-mounted image, as a USB stick would be):
vfat has no hard links, so the file arrives by the reservation and rename, whole, and an
existing file is refused. Needs root, mkfs.vfat (Debian dosfstools) and a kernel that
mounts vfat on a loop device; the test skips naming what is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from workstation.errors import BadInput
from workstation.files import write_new


@pytest.fixture
def vfat(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a vfat image needs root")
    mkfs = shutil.which("mkfs.vfat")
    if mkfs is None:
        pytest.skip("mkfs.vfat is missing (Debian package dosfstools)")
    image, mount_point = tmp_path / "stick.img", tmp_path / "STICK"
    mount_point.mkdir()
    with image.open("wb") as f:
        f.truncate(8 * 1024 * 1024)
    subprocess.run([mkfs, "-n", "KCWSTICK", str(image)], check=True, capture_output=True)
    mounted = subprocess.run(
        ["mount", "-t", "vfat", "-o", "loop", str(image), str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot loop-mount a vfat image here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False, capture_output=True)


def test_a_new_file_on_vfat_is_written_whole(vfat: Path) -> None:
    target = vfat / "audit.jsonl"
    with pytest.raises(OSError):  # the reason for the fallback: no hard links on vfat
        os.link(__file__, vfat / "link-test")
    assert write_new(str(target), b'{"entry": 1}\n') == target.resolve()
    assert target.read_bytes() == b'{"entry": 1}\n'
    assert sorted(p.name for p in vfat.iterdir()) == ["audit.jsonl"]
    with pytest.raises(BadInput, match="exists; choose a new file name"):
        write_new(str(target), b"again")
    assert target.read_bytes() == b'{"entry": 1}\n'
    assert sorted(p.name for p in vfat.iterdir()) == ["audit.jsonl"]
