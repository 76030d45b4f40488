"""TLS endpoints: the servers whose certificates the workstation watches.

A target is written ``host:port``, ``[v6-address]:port`` or just ``host`` (port 443). The
host is a DNS name (RFC 1123 2.1 preferred name syntax, A-labels for international names)
or an IP address; a name whose last label is all digits is refused, as it is neither a
name nor an address (RFC 3696 2). A line of a target list may name the server to ask for
(TLS SNI, RFC 6066 3) after the target, e.g. ``10.0.0.5:8443 pay.bank.example``.

An enrolled endpoint is a sealed document (``domain/documents.py``): what its server
presented when it was last seen (the leaf certificate's facts and the whole chain as
PEM), the managed key pair the certificate carries if it is one of the workstation's, and
the people to tell before it expires. Its lookup ``subject`` is the target
``host:port``; it falls ``due`` when the certificate expires.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from workstation.domain.documents import document_binding
from workstation.domain.records import format_time, parse_time
from workstation.errors import BadInput

__all__ = [
    "DEFAULT_PORT",
    "MAX_TARGETS",
    "Endpoint",
    "Target",
    "check_owner",
    "check_owners",
    "check_server_name",
    "parse_target",
    "parse_target_line",
    "parse_targets",
]

DEFAULT_PORT = 443  # HTTPS (RFC 9110 4.2.2); the port a target without one is probed on
MAX_TARGETS = 1000  # in one discovery run

_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# RFC 5322 3.2.3 atext: the characters of a dot-atom local part.
_ATEXT = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~")


def _name_problem(name: str) -> str | None:
    """Why ``name`` is not a DNS host name (RFC 1123 2.1, RFC 3696 2), or None."""
    if not name.isascii():
        return "is not ASCII; write an international name in its A-label form (xn--...)"
    if len(name) > 253:
        return "is longer than 253 characters"
    labels = name.split(".")
    for label in labels:
        if not _LABEL.match(label):
            return (
                f"has a label that is not letters, digits and inner hyphens of 1 to 63 "
                f"characters: {label!r}"
            )
    if labels[-1].isdigit():
        return "is neither a host name (its last label is all digits) nor an IPv4 address"
    return None


def check_server_name(text: str) -> str:
    """A server name to ask for (SNI): a DNS host name, lower-cased; never an address
    (RFC 6066 3: literal IP addresses are not permitted in server_name)."""
    name = text.strip().rstrip(".").lower()
    if not name:
        raise BadInput("The server name is empty.")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise BadInput(
            f"Server name {text!r} is an IP address; TLS asks for a server by name only "
            "(RFC 6066 3). Leave it out to connect without one."
        )
    problem = _name_problem(name)
    if problem is not None:
        raise BadInput(f"Server name {text!r} {problem}.")
    return name


@dataclass(frozen=True, order=True)
class Target:
    """Where to connect: a host (lower-case name or an address in its compressed form),
    a port, and the server name to ask for (None: the host itself, if it is a name)."""

    host: str
    port: int
    server_name: str | None = field(default=None, compare=False)

    @property
    def is_address(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    @property
    def text(self) -> str:
        """``host:port``, with an IPv6 address in brackets (RFC 3986 3.2.2)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def sni(self) -> str | None:
        """The name the handshake asks for: the one given, else the host if it is a name."""
        if self.server_name is not None:
            return self.server_name
        return None if self.is_address else self.host

    def __str__(self) -> str:
        if self.server_name is not None and self.server_name != self.host:
            return f"{self.text} ({self.server_name})"
        return self.text


def _port(text: str, target: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise BadInput(f"Target {target!r}: the port {text!r} is not a number from 1 to 65535.")
    value = int(text)
    if not 1 <= value <= 65535:
        raise BadInput(f"Target {target!r}: the port {value} is not from 1 to 65535.")
    return value


def _address_or_name(host: str, target: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    name = host.rstrip(".").lower()
    if not name:
        raise BadInput(f"Target {target!r} names no host.")
    if all(part.isdigit() for part in name.split(".")) and name.count(".") == 3:
        raise BadInput(f"Target {target!r}: {host!r} is not a valid IPv4 address.")
    problem = _name_problem(name)
    if problem is not None:
        raise BadInput(f"Target {target!r}: the host {host!r} {problem}.")
    return name


def parse_target(text: str, server_name: str | None = None) -> Target:
    """A target from ``host``, ``host:port``, ``[v6]:port``, or an IPv6 address alone;
    the port is 443 when none is given.

    >>> parse_target("Pay.Bank.Example:8443").text
    'pay.bank.example:8443'
    >>> parse_target("[2001:db8::1]:443").text
    '[2001:db8::1]:443'
    >>> parse_target("2001:db8::1").port
    443
    """
    target = text.strip()
    if not target:
        raise BadInput("The target is empty; write host:port, e.g. pay.bank.example:443.")
    if any(c.isspace() for c in target):
        raise BadInput(f"Target {target!r} has a space in it; write host:port.")
    if "://" in target:
        raise BadInput(f"Target {target!r} is a URL; write only host:port, e.g. host:443.")
    if target.startswith("["):
        close = target.find("]")
        if close < 0:
            raise BadInput(f"Target {target!r}: the IPv6 address has no closing ']'.")
        inside, rest = target[1:close], target[close + 1 :]
        try:
            address = ipaddress.IPv6Address(inside)
        except ValueError:
            raise BadInput(
                f"Target {target!r}: {inside!r} in brackets is not an IPv6 address."
            ) from None
        if rest and not rest.startswith(":"):
            raise BadInput(f"Target {target!r}: write [address]:port.")
        port = _port(rest[1:], target) if rest else DEFAULT_PORT
        host = str(address)
    elif target.count(":") > 1:
        try:
            host = str(ipaddress.IPv6Address(target))
        except ValueError:
            raise BadInput(
                f"Target {target!r} is not host:port; write an IPv6 address with a port as "
                "[address]:port."
            ) from None
        port = DEFAULT_PORT
    else:
        host_text, colon, port_text = target.partition(":")
        port = _port(port_text, target) if colon else DEFAULT_PORT
        host = _address_or_name(host_text, target)
    sni = check_server_name(server_name) if server_name is not None else None
    return Target(host, port, sni)


def parse_target_line(line: str) -> Target | None:
    """One line of a target list: ``TARGET [SERVER-NAME]``; None for a blank line or a
    comment (``#``)."""
    text = line.split("#", 1)[0].strip()
    if not text:
        return None
    parts = text.split()
    if len(parts) > 2:
        raise BadInput(f"{text!r} is not 'host:port' or 'host:port server-name'.")
    return parse_target(parts[0], parts[1] if len(parts) == 2 else None)


def parse_targets(lines: str | list[str]) -> list[Target]:
    """The targets of a list (text or lines), in order, each once; every mistake named by
    its line number, all of them at once."""
    rows = lines.splitlines() if isinstance(lines, str) else list(lines)
    targets: list[Target] = []
    problems: list[str] = []
    seen: dict[tuple[str, int], int] = {}
    for number, line in enumerate(rows, 1):
        try:
            target = parse_target_line(line)
        except BadInput as e:
            problems.append(f"Line {number}: {e.message}")
            continue
        if target is None:
            continue
        key = (target.host, target.port)
        if key in seen:
            problems.append(f"Line {number}: {target.text} is already on line {seen[key]}.")
            continue
        seen[key] = number
        targets.append(target)
    if problems:
        shown = problems[:10]
        more = len(problems) - len(shown)
        raise BadInput(" ".join(shown) + (f" ({more} more problems.)" if more > 0 else ""))
    if not targets:
        raise BadInput("The list names no target; write one host:port per line.")
    if len(targets) > MAX_TARGETS:
        raise BadInput(f"The list names {len(targets)} targets; at most {MAX_TARGETS} per run.")
    return targets


def check_owner(text: str) -> str:
    """An owner's e-mail address: a dot-atom local part (RFC 5322 3.2.3) at a DNS name,
    at most 254 characters (RFC 5321 4.5.3.1.3); the domain lower-cased.

    >>> check_owner("Ops.Team@Bank.Example")
    'Ops.Team@bank.example'
    """
    address = text.strip()
    if not address:
        raise BadInput("The owner's e-mail address is empty.")
    if not address.isascii():
        raise BadInput(f"Owner {address!r} is not an ASCII e-mail address.")
    if len(address) > 254:
        raise BadInput(f"Owner {address[:40]!r}... is longer than 254 characters.")
    local, at, domain = address.rpartition("@")
    atoms = local.split(".")
    if not at or not local or len(local) > 64 or not all(a and set(a) <= _ATEXT for a in atoms):
        raise BadInput(f"Owner {address!r} is not an e-mail address like name@bank.example.")
    domain = domain.lower()
    problem = _name_problem(domain) if domain else "is empty"
    if problem is None and "." not in domain:
        problem = "has only one label"
    if problem is not None:
        raise BadInput(f"Owner {address!r}: the domain {problem}.")
    return f"{local}@{domain}"


def check_owners(addresses: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Each address checked, duplicates (ignoring case) dropped, order kept."""
    owners: list[str] = []
    for text in addresses:
        address = check_owner(text)
        if address.casefold() not in (o.casefold() for o in owners):
            owners.append(address)
    return tuple(owners)


@dataclass(frozen=True)
class Endpoint:
    """An enrolled TLS endpoint and the certificate its server last presented."""

    KIND: ClassVar[str] = "endpoint"

    id: str
    host: str
    port: int
    server_name: str | None  # the name asked for (SNI), if any
    certificate_subject: str  # the leaf's subject (RFC 4514)
    issuer: str  # the leaf's issuer (RFC 4514)
    serial: str  # upper-case hex
    not_before: datetime
    not_after: datetime
    fingerprint: str  # SHA-256 of the leaf's DER, upper-case hex
    chain_pem: str  # every certificate presented, the server's first
    protocol: str  # e.g. "TLSv1.3"
    cipher: str
    key_id: str | None  # the managed key pair the certificate carries, if any
    key_label: str | None  # that key pair's label
    owners: tuple[str, ...]  # e-mail addresses to alert
    enrolled_at: datetime
    last_seen_at: datetime

    @property
    def target(self) -> Target:
        return Target(self.host, self.port, self.server_name)

    @property
    def subject(self) -> str:
        return self.target.text

    @property
    def due(self) -> datetime:
        return self.not_after

    @property
    def self_signed(self) -> bool:
        return self.certificate_subject == self.issuer and self.chain_pem.count("BEGIN") == 1

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "port": self.port,
            "server_name": self.server_name,
            "certificate_subject": self.certificate_subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": format_time(self.not_before),
            "not_after": format_time(self.not_after),
            "fingerprint": self.fingerprint,
            "chain_pem": self.chain_pem,
            "protocol": self.protocol,
            "cipher": self.cipher,
            "key_id": self.key_id,
            "key_label": self.key_label,
            "owners": list(self.owners),
            "enrolled_at": format_time(self.enrolled_at),
            "last_seen_at": format_time(self.last_seen_at),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Endpoint:
        def when(name: str) -> datetime:
            value = parse_time(rec[name])
            assert value is not None
            return value

        return cls(
            id=rec["id"],
            host=rec["host"],
            port=int(rec["port"]),
            server_name=rec["server_name"],
            certificate_subject=rec["certificate_subject"],
            issuer=rec["issuer"],
            serial=rec["serial"],
            not_before=when("not_before"),
            not_after=when("not_after"),
            fingerprint=rec["fingerprint"],
            chain_pem=rec["chain_pem"],
            protocol=rec["protocol"],
            cipher=rec["cipher"],
            key_id=rec["key_id"],
            key_label=rec["key_label"],
            owners=tuple(rec["owners"]),
            enrolled_at=when("enrolled_at"),
            last_seen_at=when("last_seen_at"),
        )

    def binding_bytes(self) -> bytes:
        return document_binding(self)
