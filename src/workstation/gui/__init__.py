"""The desktop workstation (PySide6). It only renders and asks: every rule is in the
services, reached through ``AppState`` and the ``ServiceRunner`` (one device thread)."""

from __future__ import annotations

import ctypes
import sys


def _keep_none_alive() -> None:
    """Work around a reference-count bug of PySide6 6.12 on Python 3.11.

    The PySide6 6.12 wheel is built for the stable ABI (cp310-abi3). Each time C++ calls a
    Python override that returns None (``paintEvent``, ``resizeEvent``, a model's
    ``data()`` for a role it does not serve, ...), one reference to None is dropped. From
    Python 3.12 None is immortal and that costs nothing; on 3.11 None's count reaches zero
    after some ten thousand calls and the interpreter aborts ("none_dealloc: deallocating
    None"). None is given, once per process, a count that no session can use up. Adding
    references to None is harmless whether or not the bug is present.
    """
    if sys.version_info >= (3, 12) or getattr(sys, "_kcw_none_kept", False):
        return
    refcount = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt opens every PyObject
    refcount.value += 1 << 48
    sys._kcw_none_kept = True  # type: ignore[attr-defined]


_keep_none_alive()
