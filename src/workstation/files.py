"""Files the workstation writes where a person chose: new files only, whole or not at all.

The data goes to a temporary file beside the target, flushed to the disk, then takes the
target's name without ever replacing a file that is there. Where the filesystem has hard
links, ``os.link`` does that in one step (it fails when the name exists). FAT, vfat and
exFAT (most USB sticks) have none and refuse the link; there the name is first reserved
with ``O_CREAT | O_EXCL`` (which refuses an existing file) and the written temporary file
is renamed over that empty reservation. Whatever fails, the temporary file and the
reservation are removed: nothing half-written is left under the target's name.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from workstation.errors import BadInput

__all__ = ["write_new"]

# What os.link raises where the filesystem has no hard links (vfat: EPERM; others say
# they do not support the operation).
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK}


def _exists(target: Path) -> BadInput:
    return BadInput(f"{target} exists; choose a new file name (nothing is overwritten).")


def _take_name_without_links(tmp: str, target: Path) -> None:
    """Reserve ``target`` (refusing an existing file), then rename ``tmp`` over the
    reservation; on failure the reservation goes again."""
    try:
        reserved = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise _exists(target) from None
    os.close(reserved)
    try:
        os.replace(tmp, target)
    except BaseException:
        target.unlink(missing_ok=True)  # our empty reservation, nothing else
        raise
    sync_folder(target.parent)


def sync_folder(folder: Path) -> None:
    """Make the new name durable (not every filesystem lets a folder be synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_new(path: str, data: bytes) -> Path:
    """Write ``data`` to a new file, whole or not at all; refuse to overwrite."""
    target = Path(path).expanduser().resolve()
    if target.exists():
        raise _exists(target)
    if not target.parent.is_dir():
        raise BadInput(f"Folder {target.parent} does not exist.")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, target)  # fails if the target appeared meanwhile
        except FileExistsError:
            raise _exists(target) from None
        except OSError as e:
            if e.errno not in _NO_LINKS:
                raise
            _take_name_without_links(tmp, target)
        else:
            sync_folder(target.parent)
    finally:
        # After os.link the temporary name is a second link; after os.replace it is gone.
        Path(tmp).unlink(missing_ok=True)
    return target
