"""Print (NUL-separated) the ELF files of the packaged environment that the workstation
loads, for dpkg-shlibdeps to turn into Debian dependencies.

Every compiled extension module outside PySide6 counts. Of PySide6 (a wheel that carries
all of Qt, Wayland and QML included), only what the workstation loads: the QtCore, QtGui
and QtWidgets modules, the X11 (xcb) platform plugin with its OpenGL integrations, the
image format, icon engine and input context plugins, and the Qt libraries these need,
followed through their DT_NEEDED entries. Qt libraries the workstation never loads would
otherwise make the package depend on Wayland and more.

Usage: elf_needed.py SITE_PACKAGES
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

QT_MODULES = ("QtCore", "QtGui", "QtWidgets", "QtSvg")
QT_PLUGIN_DIRS = (
    "platforms/libqxcb.so",
    "platforms/libqoffscreen.so",
    "xcbglintegrations",
    "imageformats",
    "iconengines",
    "platforminputcontexts",
)


def is_elf(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"\x7fELF"


def needed(path: Path) -> list[str]:
    out = subprocess.run(
        ["readelf", "-d", "-W", str(path)], capture_output=True, text=True, check=True
    ).stdout
    names = []
    for line in out.splitlines():
        if "(NEEDED)" in line and "[" in line:
            names.append(line.rsplit("[", 1)[1].rstrip("]"))
    return names


def main(site: Path) -> None:
    roots: list[Path] = []
    pyside = site / "PySide6"
    for path in sorted(site.rglob("*.so*")):
        if not path.is_file() or not is_elf(path):
            continue
        if pyside in path.parents:
            continue
        roots.append(path)
    for module in QT_MODULES:
        roots += sorted(pyside.glob(f"{module}.*.so"))
    roots += sorted(pyside.glob("libpyside6*.so*"))
    for entry in QT_PLUGIN_DIRS:
        where = pyside / "Qt" / "plugins" / entry
        roots += sorted(where.glob("*.so")) if where.is_dir() else [where]
    qt_lib = pyside / "Qt" / "lib"
    # A plugin that needs a Qt library the wheel does not carry (the PDF image format, the
    # virtual keyboard) never loads, so it brings no dependency either.
    todo = [
        p
        for p in roots
        if p.exists() and all((qt_lib / n).exists() for n in needed(p) if n.startswith("libQt6"))
    ]
    chosen: dict[Path, None] = {}
    while todo:
        path = todo.pop()
        if path in chosen:
            continue
        chosen[path] = None
        for name in needed(path):
            for folder in (qt_lib, pyside, site / "shiboken6"):
                candidate = folder / name
                if candidate.exists():
                    todo.append(candidate)
                    break
    sys.stdout.write("".join(f"{p}\0" for p in sorted(chosen)))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
