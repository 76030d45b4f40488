"""Where a kiosk may read and write files: the rules, without Qt.

A kiosk (docs/kiosk.md) offers two kinds of place in its file dialogs: its own outbox
(always, for reading and writing) and the removable media mounted under the configured
media roots (for reading; for writing only the kinds of export the policy allows there).
A path is judged after resolving symbolic links, so a link in the outbox that points
elsewhere does not open a way out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from workstation.domain.policy import MediaExport
from workstation.errors import BadInput

MOUNTS_FILE = Path("/proc/self/mounts")


class OutsideKioskPlaces(BadInput):
    """A path a kiosk may not use (outside its places, or a medium the policy refuses)."""


@dataclass(frozen=True)
class Place:
    path: Path  # resolved
    label: str
    removable: bool


def _unescape_mount_field(text: str) -> str:
    # /proc/self/mounts writes space, tab, newline and backslash as octal escapes.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        text = text.replace(code, char)
    return text


def read_mount_points(mounts_file: Path = MOUNTS_FILE) -> list[Path]:
    """The mount points the system lists now (none when the file cannot be read)."""
    try:
        lines = mounts_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    points = []
    for line in lines:
        fields = line.split(" ")
        if len(fields) >= 2:
            points.append(Path(_unescape_mount_field(fields[1])))
    return points


def mounted_media(roots: Sequence[Path], mount_points: Iterable[Path]) -> tuple[Path, ...]:
    """The mount points strictly below a media root (``/media/kcw-kiosk/USB``), in order."""
    resolved_roots = [r.resolve() for r in roots]
    media = {
        point.resolve()
        for point in mount_points
        if any(point.resolve() != r and point.resolve().is_relative_to(r) for r in resolved_roots)
    }
    return tuple(sorted(media))


def _inside(path: Path, place: Path) -> bool:
    return path == place or path.is_relative_to(place)


@dataclass(frozen=True)
class KioskPlaces:
    """The outbox and the media mounted at one moment."""

    outbox: Path
    media: tuple[Path, ...] = ()

    @classmethod
    def of(cls, outbox: Path, roots: Sequence[Path], mount_points: Iterable[Path]) -> KioskPlaces:
        return cls(outbox.resolve(), mounted_media(roots, mount_points))

    def places(
        self, *, writing: bool, kind: MediaExport | None, allowed: Iterable[MediaExport]
    ) -> list[Place]:
        """The places a dialog offers: the outbox first, then each medium it may use."""
        offered = [Place(self.outbox, "Outbox", removable=False)]
        if not writing or (kind is not None and kind in frozenset(allowed)):
            offered += [Place(m, f"Removable medium {m.name}", removable=True) for m in self.media]
        return offered

    def describe(
        self, *, writing: bool, kind: MediaExport | None, allowed: Iterable[MediaExport]
    ) -> str:
        return ", ".join(
            str(p.path) for p in self.places(writing=writing, kind=kind, allowed=allowed)
        )

    def check(
        self,
        path: Path,
        *,
        writing: bool,
        kind: MediaExport | None,
        allowed: Iterable[MediaExport],
    ) -> Path:
        """The resolved path when the kiosk may use it; otherwise OutsideKioskPlaces saying
        which places it may use."""
        allowed = frozenset(allowed)
        resolved = path.expanduser().resolve()
        for place in self.places(writing=writing, kind=kind, allowed=allowed):
            if _inside(resolved, place.path):
                return resolved
        on_medium = any(_inside(resolved, m) for m in self.media)
        if writing and on_medium:
            reason = (
                f"Policy does not allow {kind.display} on removable media"
                if kind is not None
                else "This file can hold a clear component: it never goes to removable media"
            )
            raise OutsideKioskPlaces(
                f"{reason}; nothing was written. Save it in the outbox ({self.outbox}) instead."
            )
        places = self.describe(writing=writing, kind=kind, allowed=allowed)
        verb = "write to" if writing else "read from"
        raise OutsideKioskPlaces(
            f"{resolved} is outside the places this kiosk may {verb}: {places}."
        )
