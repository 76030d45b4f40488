"""Files the workstation writes where a person chose: new files only, whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from workstation.errors import BadInput

__all__ = ["write_new"]


def write_new(path: str, data: bytes) -> Path:
    """Write ``data`` to a new file, whole or not at all; refuse to overwrite."""
    target = Path(path).expanduser().resolve()
    if target.exists():
        raise BadInput(f"{target} exists; choose a new file name (nothing is overwritten).")
    if not target.parent.is_dir():
        raise BadInput(f"Folder {target.parent} does not exist.")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, target)  # fails if the target appeared meanwhile
    except FileExistsError:
        raise BadInput(f"{target} exists; choose a new file name.") from None
    finally:
        os.unlink(tmp)
    return target
