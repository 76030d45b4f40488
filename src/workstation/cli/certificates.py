"""``workstation-cli certs``: certificate requests signed by key pairs inside the HSM,
issued certificates checked and kept, and what expires when."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workstation.domain.certificates import CertificateRecord
from workstation.errors import BadInput
from workstation.files import write_new
from workstation.services.certificates import REQUEST_FORMATS
from workstation.standards import pkix

from .console import emit, table
from .interchange import read_input

if TYPE_CHECKING:
    from .main import Cli

EXIT_OK = 0


def _data(c: CertificateRecord) -> dict[str, Any]:
    return {
        "key": c.key_label,
        "subject": c.subject,
        "issuer": c.issuer,
        "serial": c.serial,
        "not_before": c.not_before.isoformat(),
        "not_after": c.not_after.isoformat(),
        "fingerprint": c.fingerprint,
        "anchor": c.anchor,
        "partner": c.partner,
        "status": c.status.value,
    }


def _rows(items: list[CertificateRecord]) -> list[str]:
    return table(
        [
            [
                c.key_label,
                c.subject[:48],
                c.serial[:16],
                f"{c.not_after:%Y-%m-%d}",
                c.status.value,
                c.partner,
            ]
            for c in items
        ],
        ["key", "subject", "serial", "expires", "status", "partner"],
    )


def cmd_request(cli: Cli) -> int:
    a = cli.args
    if Path(a.out).expanduser().exists():
        raise BadInput(f"{a.out} exists; choose a new file name (nothing is overwritten).")
    try:
        profile = pkix.Profile(
            subject=a.subject,
            dns_names=tuple(a.dns or ()),
            ip_addresses=tuple(a.ip or ()),
            emails=tuple(a.email or ()),
            key_usage=frozenset(a.key_usage or ()),
            extended_key_usage=tuple(a.eku or ()),
            ca=a.ca,
        )
    except pkix.PkixError as e:
        raise BadInput(f"Certificate profile: {e}") from None
    with cli.session() as session:
        result = cli.services.certificates.request(session, a.key, profile)
    written = write_new(a.out, result.encoded(a.format))
    emit(
        cli.json,
        {
            "key": result.key_label,
            "subject": result.subject,
            "file": str(written),
            "format": a.format,
            "sha256": result.sha256,
        },
        [
            f"Certificate request for {result.key_label} ({result.subject}), signed in the HSM.",
            f"Written: {written} ({a.format.upper()}; SHA-256 of the DER {result.sha256})",
        ],
    )
    return EXIT_OK


def cmd_import(cli: Cli) -> int:
    a = cli.args
    data = read_input(a.file, "certificate")
    chain = [read_input(f, "chain file") for f in a.chain or ()]
    with cli.session() as session:
        record = cli.services.certificates.import_certificate(
            session,
            a.key,
            data,
            partner=a.partner,
            chain=chain,
            key_usage=frozenset(a.require_key_usage or ()),
            extended_key_usage=tuple(a.require_eku or ()),
        )
    emit(
        cli.json,
        _data(record),
        [
            f"Certificate {record.serial} of {record.subject} checked against {record.partner}'s "
            f"trust anchor {record.anchor} and kept for {record.key_label}.",
            f"Valid from {record.not_before:%Y-%m-%d} to {record.not_after:%Y-%m-%d}; "
            f"SHA-256 fingerprint {record.fingerprint}.",
        ],
    )
    return EXIT_OK


def cmd_list(cli: Cli) -> int:
    with cli.session() as session:
        items = cli.services.certificates.certificates(session, key_ref=cli.args.key)
    emit(cli.json, [_data(c) for c in items], _rows(items) if items else ["No certificate."])
    return EXIT_OK


def cmd_expiring(cli: Cli) -> int:
    with cli.session() as session:
        items = cli.services.certificates.expiring(session, cli.args.days)
    emit(
        cli.json,
        [_data(c) for c in items],
        _rows(items) if items else [f"No certificate expires within {cli.args.days} days."],
    )
    return EXIT_OK


def register(
    sub: Any, cmd: Callable[[Any, str, Callable[[Cli], int], str], argparse.ArgumentParser]
) -> None:
    certs = sub.add_parser(
        "certs", help="certificates of key pairs: requests, imports, expiry"
    ).add_subparsers(dest="sub", required=True, metavar="ACTION")
    sp = cmd(certs, "request", cmd_request, "a PKCS#10 request signed by a key pair in the HSM")
    sp.add_argument("key", help="the key pair's label")
    sp.add_argument("--subject", required=True, help='e.g. "CN=host.bank.example,O=Bank,C=GB"')
    sp.add_argument("--dns", action="append", metavar="NAME", help="subject alternative name")
    sp.add_argument("--ip", action="append", metavar="ADDRESS")
    sp.add_argument("--email", action="append", metavar="ADDRESS")
    sp.add_argument(
        "--key-usage",
        action="append",
        metavar="USAGE",
        help="digital_signature, key_encipherment, key_agreement, ... (repeat)",
    )
    sp.add_argument(
        "--eku", action="append", metavar="USAGE", help="server_auth, client_auth, or an OID"
    )
    sp.add_argument("--ca", action="store_true", help="request a CA certificate")
    sp.add_argument("--out", required=True, metavar="FILE", help="the request, a new file")
    sp.add_argument(
        "--format",
        choices=REQUEST_FORMATS,
        default="pem",
        help="pem (text, the default) or der (binary, as some CAs' upload forms ask)",
    )
    sp = cmd(certs, "import", cmd_import, "check an issued certificate and keep it")
    sp.add_argument("key", help="the key pair's label")
    sp.add_argument("file", help="the certificate (PEM, DER, PEM bundle or PKCS#7)")
    sp.add_argument("--partner", required=True, help="whose trust anchors and CRLs to check with")
    sp.add_argument("--chain", action="append", metavar="FILE", help="intermediate certificates")
    sp.add_argument("--require-key-usage", action="append", metavar="USAGE")
    sp.add_argument(
        "--require-eku", action="append", metavar="USAGE", help="server_auth, ... or an OID"
    )
    sp = cmd(certs, "list", cmd_list, "certificates, soonest expiry first")
    sp.add_argument("--key", help="only this key pair's")
    sp = cmd(certs, "expiring", cmd_expiring, "current certificates expiring within N days")
    sp.add_argument("--days", type=int, default=30)
