"""``workstation-cli tls`` and ``certs-keystore``: the certificates TLS servers present,
discovered, enrolled and refreshed; and key stores (PKCS #12, PEM) of a certified key
pair.

``tls discover`` and ``tls refresh`` report every target; when one was not reached they
still print (and, with ``--enrol``, enrol) the others, then exit 1."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workstation.domain.endpoints import Endpoint, Target, check_owners, parse_targets
from workstation.errors import BadInput
from workstation.files import write_new
from workstation.services.endpoints import (
    KEYSTORE_FORMATS,
    MAX_PASSWORD_BYTES,
    Discovery,
    check_keystore_password,
    days_left,
)

from .console import emit, table
from .interchange import read_input

if TYPE_CHECKING:
    from .main import Cli

EXIT_OK = 0
EXIT_NOT_REACHED = 1  # a failure: some target was not reached (the rest was done)
MAX_LIST_BYTES = 1 << 20


def _short(name: str, width: int = 40) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _discovery_data(d: Discovery) -> dict[str, Any]:
    data: dict[str, Any] = {
        "target": d.target.text,
        "server_name": d.target.sni,
        "reached": d.ok,
    }
    if not d.ok:
        data["error"] = d.error
    else:
        data.update(
            subject=d.certificate_subject,
            issuer=d.issuer,
            serial=d.serial,
            not_before=d.not_before.isoformat() if d.not_before else None,
            not_after=d.not_after.isoformat() if d.not_after else None,
            days_left=d.days_left,
            fingerprint=d.fingerprint,
            dns_names=list(d.dns_names),
            chain_length=len(d.chain),
            self_signed=d.self_signed,
            protocol=d.protocol,
            cipher=d.cipher,
            key=d.key_label,
            key_state=d.key_state,
        )
    data.update(enrolled=d.enrolled, changed=d.changed)
    return data


def _inventory(d: Discovery) -> str:
    if d.changed:
        return "CHANGED"
    return "enrolled" if d.enrolled else "new"


def _discovery_lines(found: Sequence[Discovery]) -> list[str]:
    reached = [d for d in found if d.ok]
    lines: list[str] = []
    if reached:
        lines += table(
            [
                [
                    str(d.target),
                    f"{d.not_after:%Y-%m-%d}" if d.not_after else "",
                    str(d.days_left) + (" EXPIRED" if d.expired else ""),
                    _short(d.certificate_subject),
                    "self-signed" if d.self_signed else _short(d.issuer),
                    d.key_label or "",
                    _inventory(d),
                ]
                for d in reached
            ],
            ["target", "expires", "days", "subject", "issuer", "key pair", "inventory"],
        )
    missed = [d for d in found if not d.ok]
    if missed:
        lines.append(f"Not reached ({len(missed)}):")
        lines += [f"  {d.error}" for d in missed]
    return lines


def _endpoint_data(e: Endpoint, now: Any) -> dict[str, Any]:
    return {
        "id": e.id,
        "target": e.subject,
        "server_name": e.server_name,
        "subject": e.certificate_subject,
        "issuer": e.issuer,
        "serial": e.serial,
        "not_before": e.not_before.isoformat(),
        "not_after": e.not_after.isoformat(),
        "days_left": days_left(e.not_after, now),
        "fingerprint": e.fingerprint,
        "protocol": e.protocol,
        "cipher": e.cipher,
        "key": e.key_label,
        "owners": list(e.owners),
        "enrolled_at": e.enrolled_at.isoformat(),
        "last_seen_at": e.last_seen_at.isoformat(),
    }


def read_targets(paths: Sequence[str], texts: Sequence[str]) -> list[Target]:
    """The targets named on the command line, then those of ``--file`` lists (one
    ``host:port [server-name]`` per line, ``#`` comments), checked before anyone logs on."""
    lines = list(texts)
    for path in paths:
        data = read_input(path, "target list")
        if len(data) > MAX_LIST_BYTES:
            raise BadInput(f"Target list {path} is larger than 1 MiB.")
        try:
            lines += data.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            raise BadInput(f"Target list {path} is not UTF-8 text.") from None
    if not lines:
        raise BadInput("Name at least one target (host:port), or a list with --file.")
    return parse_targets(lines)


def cmd_discover(cli: Cli) -> int:
    a = cli.args
    targets = read_targets(a.file or (), a.targets or ())
    owners = check_owners(tuple(a.owner or ()))
    if owners and not a.enrol:
        raise BadInput("--owner names who to alert for enrolled endpoints: add --enrol.")
    enrolled: list[Endpoint] = []
    with cli.session() as session:
        found = cli.services.endpoints.discover(session, targets, timeout=a.timeout)
        reached = [d for d in found if d.ok]
        if a.enrol and reached:
            enrolled = cli.services.endpoints.enrol_many(session, reached, owners=owners)
    lines = _discovery_lines(found)
    if a.enrol:
        lines.append(
            f"Enrolled {len(enrolled)} endpoint{'s' if len(enrolled) != 1 else ''}"
            + (f" (owners: {', '.join(owners)})." if owners and enrolled else ".")
        )
    emit(
        cli.json,
        {
            "results": [_discovery_data(d) for d in found],
            "enrolled": [e.subject for e in enrolled],
        },
        lines,
    )
    return EXIT_OK if len(reached) == len(found) else EXIT_NOT_REACHED


def cmd_list(cli: Cli) -> int:
    with cli.session() as session:
        items = cli.services.endpoints.endpoints(session)
    now = cli.services.ctx.clock.now()
    rows = [
        [
            str(e.target),
            f"{e.not_after:%Y-%m-%d}",
            str(days_left(e.not_after, now)),
            _short(e.certificate_subject),
            e.key_label or "",
            ", ".join(e.owners),
            f"{e.last_seen_at:%Y-%m-%d %H:%M}",
        ]
        for e in items
    ]
    emit(
        cli.json,
        [_endpoint_data(e, now) for e in items],
        table(rows, ["target", "expires", "days", "subject", "key pair", "owners", "last seen"])
        if items
        else ["No endpoint is enrolled."],
    )
    return EXIT_OK


def cmd_refresh(cli: Cli) -> int:
    with cli.session() as session:
        found = cli.services.endpoints.refresh(session, timeout=cli.args.timeout)
    reached = [d for d in found if d.ok]
    changed = [d for d in found if d.changed]
    lines = (
        [
            *_discovery_lines(found),
            f"{len(found)} endpoints: {len(reached)} reached, {len(changed)} with a new "
            f"certificate, {len(found) - len(reached)} not reached (kept as they were).",
        ]
        if found
        else ["No endpoint is enrolled."]
    )
    emit(cli.json, [_discovery_data(d) for d in found], lines)
    return EXIT_OK if len(reached) == len(found) else EXIT_NOT_REACHED


def cmd_remove(cli: Cli) -> int:
    with cli.session() as session:
        removed = cli.services.endpoints.remove(session, cli.args.endpoint)
    emit(
        cli.json,
        {"removed": removed.subject, "fingerprint": removed.fingerprint},
        f"Endpoint {removed.target} is no longer watched (its certificate "
        f"{removed.fingerprint[:16]}… expires {removed.not_after:%Y-%m-%d}).",
    )
    return EXIT_OK


def _wipe(buffer: bytearray | None) -> None:
    if buffer is not None:
        buffer[:] = bytes(len(buffer))


def read_password_file(path: str) -> bytearray:
    """A key store password from the first line of a file, read straight into a bytearray
    (wiped by the caller); the line break is not part of it."""
    buffer = bytearray(MAX_PASSWORD_BYTES + 3)
    try:
        with Path(path).expanduser().open("rb") as f:
            size = f.readinto(buffer)
            extra = f.read(1)
    except OSError as e:
        raise BadInput(f"Cannot read the password file {path}: {e.strerror}.") from None
    end = buffer.find(b"\n", 0, size)
    line_end = size if end < 0 else end
    if end < 0 and (extra or size > MAX_PASSWORD_BYTES):
        _wipe(buffer)
        raise BadInput(f"The password in {path} is longer than {MAX_PASSWORD_BYTES} bytes.")
    if line_end > 0 and buffer[line_end - 1] == 0x0D:  # CR LF
        line_end -= 1
    password = bytearray(buffer[:line_end])
    _wipe(buffer)
    if not password:
        raise BadInput(f"The password file {path} starts with an empty line.")
    return password


def cmd_keystore(cli: Cli) -> int:
    a = cli.args
    if Path(a.out).expanduser().exists():
        raise BadInput(f"{a.out} exists; choose a new file name (nothing is overwritten).")
    password: bytearray | None = None
    again: bytearray | None = None
    try:
        if a.password_file:
            password = read_password_file(a.password_file)
        else:
            password = cli.pins.read("Key store password (at least 12 characters): ")
            if not cli.args.pin_stdin:
                again = cli.pins.read("The same password again: ")
                if again != password:
                    raise BadInput("The two passwords differ; nothing was exported.")
        check_keystore_password(password)  # before anyone logs on
        with cli.session() as session:
            data = cli.services.endpoints.export_keystore(
                session, a.key, fmt=a.format, password=password
            )
    finally:
        _wipe(password)
        _wipe(again)
    written = write_new(a.out, data)
    emit(
        cli.json,
        {"key": a.key, "format": a.format, "file": str(written), "bytes": len(data)},
        [
            f"{KEYSTORE_FORMATS[a.format]} key store of {a.key} (private key encrypted under "
            "the password, certificate and chain) written:",
            f"  {written}",
            "Give the password by another channel than the file.",
        ],
    )
    return EXIT_OK


def register(
    sub: Any, cmd: Callable[[Any, str, Callable[[Cli], int], str], argparse.ArgumentParser]
) -> None:
    tls = sub.add_parser(
        "tls", help="TLS endpoints: the certificates servers present, enrolled and watched"
    ).add_subparsers(dest="sub", required=True, metavar="ACTION")
    sp = cmd(
        tls,
        "discover",
        cmd_discover,
        "connect to each target and show the certificate it presents (exit 1 if one was "
        "not reached)",
    )
    sp.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help="host:port, [IPv6]:port or host (port 443); 'host:port server-name' asks for "
        "that name (SNI)",
    )
    sp.add_argument(
        "--file", action="append", metavar="LIST", help="targets, one per line ('-': stdin)"
    )
    sp.add_argument(
        "--enrol",
        action="store_true",
        help="enrol (or update) every endpoint reached (quorum: manage_monitoring)",
    )
    sp.add_argument(
        "--owner", action="append", metavar="EMAIL", help="who to alert before expiry (repeat)"
    )
    sp.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS", help="per target")
    cmd(tls, "list", cmd_list, "enrolled endpoints, soonest expiry first")
    sp = cmd(
        tls,
        "refresh",
        cmd_refresh,
        "probe every enrolled endpoint again and record what it presents (exit 1 if one "
        "was not reached)",
    )
    sp.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS", help="per target")
    sp = cmd(tls, "remove", cmd_remove, "stop watching an endpoint (quorum: manage_monitoring)")
    sp.add_argument("endpoint", metavar="HOST:PORT")
    sp = cmd(
        sub,
        "certs-keystore",
        cmd_keystore,
        "a key pair with its current certificate as a password-protected key store "
        "(quorum: export_key of its template)",
    )
    sp.add_argument("key", help="the key pair's label")
    sp.add_argument("--format", required=True, choices=tuple(KEYSTORE_FORMATS))
    sp.add_argument("--out", required=True, metavar="FILE", help="a new file")
    sp.add_argument(
        "--password-file",
        metavar="FILE",
        help="read the password from the first line of FILE (default: asked twice; with "
        "--pin-stdin, the first line of standard input, before the PINs)",
    )
