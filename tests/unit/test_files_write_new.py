"""write_new on filesystems without hard links (FAT, vfat, exFAT: os.link refuses with
EPERM): the name is reserved with O_CREAT|O_EXCL and the written temporary file renamed
over it. An existing file is refused, a failure leaves neither the reservation nor the
temporary file, and where links work they are still used."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from workstation.errors import BadInput
from workstation.files import write_new


def no_links(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """os.link fails as on vfat; returns the targets it was asked for."""
    asked: list[str] = []

    def refuse(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        asked.append(str(dst))
        raise PermissionError(errno.EPERM, "Operation not permitted", str(dst))

    monkeypatch.setattr(os, "link", refuse)
    return asked


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_without_links_the_file_is_written_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = no_links(monkeypatch)
    target = tmp_path / "block.txt"
    assert write_new(str(target), b"B0096...") == target
    assert asked == [str(target)]  # the link was tried first
    assert target.read_bytes() == b"B0096..."
    assert leftovers(tmp_path) == ["block.txt"]  # no temporary file left


def test_without_links_an_existing_file_is_refused_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_links(monkeypatch)
    target = tmp_path / "block.txt"
    real_open = os.open

    def appears(path: Any, flags: int, *args: Any) -> int:
        # Another program takes the name between the check and the reservation.
        if Path(path) == target and flags & os.O_EXCL:
            target.write_bytes(b"theirs")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", appears)
    with pytest.raises(BadInput) as refused:
        write_new(str(target), b"ours")
    assert (
        str(refused.value) == f"{target} exists; choose a new file name (nothing is overwritten)."
    )
    assert target.read_bytes() == b"theirs"
    assert leftovers(tmp_path) == ["block.txt"]


def test_without_links_a_failed_rename_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_links(monkeypatch)

    def broken(src: Any, dst: Any) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="Input/output error"):
        write_new(str(tmp_path / "block.txt"), b"data")
    assert leftovers(tmp_path) == []  # neither the reservation nor the temporary file


def test_a_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        write_new(str(tmp_path / "block.txt"), b"data")
    assert leftovers(tmp_path) == []


def test_other_link_errors_are_not_taken_for_a_missing_feature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "link", read_only)
    with pytest.raises(OSError, match="Read-only file system"):
        write_new(str(tmp_path / "block.txt"), b"data")
    assert leftovers(tmp_path) == []


def test_with_links_the_link_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_replace(src: Any, dst: Any) -> None:
        raise AssertionError("os.replace is only for filesystems without links")

    monkeypatch.setattr(os, "replace", no_replace)
    target = write_new(str(tmp_path / "block.txt"), b"data")
    assert target.read_bytes() == b"data"
    assert leftovers(tmp_path) == ["block.txt"]
    with pytest.raises(BadInput, match="exists; choose a new file name"):
        write_new(str(target), b"again")
    assert target.read_bytes() == b"data"
