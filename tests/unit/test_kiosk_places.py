"""Kiosk file places: the outbox always, removable media for reading, and for writing
only the kinds the policy allows; symbolic links and typed paths judged where they lead."""

from __future__ import annotations

from pathlib import Path

import pytest

from workstation.config import KioskConfig, load_config, save_config
from workstation.domain.policy import MediaExport
from workstation.errors import BadInput
from workstation.flows.kiosk_places import (
    KioskPlaces,
    OutsideKioskPlaces,
    mounted_media,
    read_mount_points,
)


@pytest.fixture
def places(tmp_path: Path) -> KioskPlaces:
    outbox = tmp_path / "home" / "exports"
    outbox.mkdir(parents=True)
    root = tmp_path / "media"
    stick = root / "kcw-kiosk" / "USB"
    stick.mkdir(parents=True)
    (root / "kcw-kiosk" / "EMPTY").mkdir()  # a folder, not mounted: not a medium
    return KioskPlaces.of(outbox, [root], [Path("/"), stick, root])


def test_only_mount_points_strictly_below_a_root_are_media(places: KioskPlaces) -> None:
    assert [m.name for m in places.media] == ["USB"]


def test_the_outbox_is_always_allowed(places: KioskPlaces) -> None:
    target = places.outbox / "audit.jsonl"
    assert places.check(target, writing=True, kind=None, allowed=()) == target
    assert places.check(places.outbox / "x", writing=False, kind=None, allowed=()) is not None


def test_reading_from_a_medium_is_allowed(places: KioskPlaces) -> None:
    source = places.media[0] / "block.txt"
    assert places.check(source, writing=False, kind=None, allowed=()) == source


def test_writing_to_a_medium_needs_the_policy(places: KioskPlaces) -> None:
    target = places.media[0] / "audit.jsonl"
    with pytest.raises(
        OutsideKioskPlaces,
        match=r"Policy does not allow audit exports on removable media; nothing was written\. "
        r"Save it in the outbox \(.*exports\) instead\.",
    ):
        places.check(target, writing=True, kind=MediaExport.AUDIT_EXPORT, allowed=())
    allowed = {MediaExport.AUDIT_EXPORT}
    assert places.check(target, writing=True, kind=MediaExport.AUDIT_EXPORT, allowed=allowed)
    with pytest.raises(OutsideKioskPlaces, match="Policy does not allow due-date"):
        places.check(target, writing=True, kind=MediaExport.DUE_DATES, allowed=allowed)


def test_component_mailers_never_go_to_media(places: KioskPlaces) -> None:
    with pytest.raises(OutsideKioskPlaces, match="clear component: it never goes to removable"):
        places.check(places.media[0], writing=True, kind=None, allowed=set(MediaExport))


def test_outside_the_places_is_refused_naming_them(places: KioskPlaces, tmp_path: Path) -> None:
    with pytest.raises(OutsideKioskPlaces) as refused:
        places.check(Path("/etc/passwd"), writing=False, kind=None, allowed=())
    message = refused.value.user_message()
    assert "/etc/passwd is outside the places this kiosk may read from" in message
    assert str(places.outbox) in message and str(places.media[0]) in message
    # typed with .. from inside the outbox
    with pytest.raises(OutsideKioskPlaces, match=r"may write to: .*exports\.$"):
        places.check(places.outbox / ".." / "x", writing=True, kind=None, allowed=())
    # an unmounted folder under a media root is not a medium
    with pytest.raises(OutsideKioskPlaces):
        places.check(
            tmp_path / "media" / "kcw-kiosk" / "EMPTY" / "f", writing=False, kind=None, allowed=()
        )


def test_a_symbolic_link_is_judged_where_it_leads(places: KioskPlaces, tmp_path: Path) -> None:
    (places.outbox / "escape").symlink_to(tmp_path)
    with pytest.raises(OutsideKioskPlaces):
        places.check(places.outbox / "escape" / "f", writing=True, kind=None, allowed=())


def test_places_offered(places: KioskPlaces) -> None:
    labels = [p.label for p in places.places(writing=False, kind=None, allowed=())]
    assert labels == ["Outbox", "Removable medium USB"]
    assert len(places.places(writing=True, kind=MediaExport.CERTIFICATES, allowed=())) == 1


def test_mount_points_are_read_with_their_escapes(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /media/kcw-kiosk/MY\\040STICK vfat rw 0 0\n"
    )
    points = read_mount_points(mounts)
    assert points == [Path("/"), Path("/media/kcw-kiosk/MY STICK")]
    assert read_mount_points(tmp_path / "absent") == []
    assert mounted_media([Path("/media")], points) == (Path("/media/kcw-kiosk/MY STICK"),)


def test_kiosk_configuration_loads_saves_and_names_errors(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config.kiosk == KioskConfig() and not config.kiosk.enabled
    assert config.outbox == tmp_path / "exports"
    save_config(config)
    assert "[kiosk]" not in (tmp_path / "workstation.toml").read_text()
    config.kiosk = KioskConfig(True, ("/media", "/mnt/usb"), "/srv/out")
    save_config(config)
    again = load_config(tmp_path)
    assert again.kiosk == config.kiosk and again.outbox == Path("/srv/out")
    (tmp_path / "workstation.toml").write_text('[kiosk]\nmedia_roots = ["media"]\n')
    with pytest.raises(BadInput, match="media_roots must be absolute paths, not 'media'"):
        load_config(tmp_path)
    (tmp_path / "workstation.toml").write_text('[kiosk]\nenabled = "yes"\n')
    with pytest.raises(BadInput, match="enabled must be true or false"):
        load_config(tmp_path)
