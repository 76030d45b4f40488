"""``workstation-cli emv``: the brands' CA public keys, issuer keys made for a list of BINs
in one job, the request to the brand, and the brand's issuer certificate checked and kept."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workstation.domain.emv_keys import (
    EmvCaKey,
    IssuerKeySet,
    bin_lines,
    binary_or_hex,
    ca_key_fields,
    parse_ca_keys,
    parse_exponent,
    parse_hex,
    read_request_file,
)
from workstation.errors import BadInput
from workstation.files import write_new
from workstation.services.emv import ISSUER_TEMPLATE, MASTER_KEY_TEMPLATES

from .console import emit, table
from .interchange import read_input

if TYPE_CHECKING:
    from .main import Cli

EXIT_OK = 0
EXIT_POLICY = 3
_CA_FIELDS = ("rid", "index", "modulus", "exponent", "expiry", "check_sum")


def _ca_data(k: EmvCaKey) -> dict[str, Any]:
    return {
        "id": k.id,
        "brand": k.partner,
        "rid": k.rid,
        "index": f"{k.index:02X}",
        "modulus_bits": k.modulus_length * 8,
        "exponent": k.exponent,
        "expires": k.expires.isoformat(),
        "check_sum": k.check_sum,
    }


def _set_data(s: IssuerKeySet) -> dict[str, Any]:
    cert = s.certificate
    return {
        "bin": s.bin,
        "brand": s.brand,
        "status": s.status.value,
        "key_pair": s.key_pair_label,
        "key_pair_kcv": s.key_pair_kcv,
        "modulus_bits": s.modulus_bits,
        "master_keys": [
            {"label": m.label, "usage": m.usage, "kcv": m.kcv, "template": m.template}
            for m in s.master_keys
        ],
        "request": None
        if s.request is None
        else {
            "ca_index": f"{s.request.ca_index:02X}",
            "expiry": s.request.expiry,
            "serial": s.request.serial,
            "sha256": s.request.sha256,
        },
        "certificate": None
        if cert is None
        else {
            "rid": cert.rid,
            "ca_index": f"{cert.ca_index:02X}",
            "serial": cert.serial,
            "expires": cert.expires_on.isoformat(),
            "sha256": cert.sha256,
        },
    }


def _set_rows(sets: list[IssuerKeySet]) -> list[str]:
    return table(
        [
            [
                s.bin,
                s.brand,
                s.status.value,
                s.key_pair_label,
                ", ".join(m.label for m in s.master_keys),
                f"{s.certificate.expires_on:%Y-%m-%d}" if s.certificate else "",
            ]
            for s in sets
        ],
        ["BIN", "brand", "status", "key pair", "master keys", "certificate expires"],
    )


# --- CA public keys --------------------------------------------------------------------------


def cmd_ca_add(cli: Cli) -> int:
    a = cli.args
    given = {f: getattr(a, f) for f in _CA_FIELDS if getattr(a, f) is not None}
    if a.file and given:
        raise BadInput("Give the CA key in a file or as arguments, not both.")
    if a.file:
        try:
            text = read_input(a.file, "CA key file").decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput(f"The CA key file {a.file} is not text.") from None
        keys = parse_ca_keys(text)
    else:
        missing = [f"--{f.replace('_', '-')}" for f in _CA_FIELDS if f not in given]
        if missing:
            raise BadInput(f"Give the CA key's {', '.join(missing)} (or --file).")
        keys = [ca_key_fields(**given)]
    with cli.session() as session:
        added = cli.services.emv.add_ca_keys(session, a.brand, keys)
    emit(
        cli.json,
        [_ca_data(k) for k in added],
        [
            f"Added {k.label}: {k.modulus_length * 8} bits, expires {k.expires:%Y-%m-%d}, "
            f"check sum {k.check_sum} verified."
            for k in added
        ],
    )
    return EXIT_OK


def cmd_ca_list(cli: Cli) -> int:
    with cli.session() as session:
        keys = cli.services.emv.ca_keys(session, brand=cli.args.brand)
    rows = table(
        [
            [
                k.partner,
                k.rid,
                f"{k.index:02X}",
                str(k.modulus_length * 8),
                f"{k.expires}",
                k.check_sum,
            ]
            for k in keys
        ],
        ["brand", "RID", "index", "bits", "expires", "check sum"],
    )
    emit(cli.json, [_ca_data(k) for k in keys], rows if keys else ["No EMV CA public key."])
    return EXIT_OK


def cmd_ca_remove(cli: Cli) -> int:
    with cli.session() as session:
        key = cli.services.emv.remove_ca_key(session, cli.args.brand, cli.args.index)
    emit(cli.json, _ca_data(key), f"Removed {key.label}.")
    return EXIT_OK


# --- issuer keys -----------------------------------------------------------------------------


def cmd_create(cli: Cli) -> int:
    a = cli.args
    bins = list(a.bin or ())
    if a.bins_file:
        try:
            bins += bin_lines(read_input(a.bins_file, "BIN list").decode("ascii"))
        except UnicodeDecodeError:
            raise BadInput(f"The BIN list {a.bins_file} is not text.") from None
    if not bins:
        raise BadInput("Give the BINs: --bin BIN (repeat) or --bins-file FILE.")
    with cli.session() as session:

        def progress(done: int, total: int) -> None:
            if not cli.json:
                print(f"\r{done}/{total} BINs", end="", file=sys.stderr, flush=True)

        job = cli.services.emv.create_issuer_keys(
            session,
            bins,
            brand=a.brand,
            template=a.template,
            master_key_templates=tuple(a.master_key_template or MASTER_KEY_TEMPLATES),
            progress=progress,
        )
        if not cli.json:
            print(file=sys.stderr)
    human = _set_rows(list(job.made)) if job.made else []
    human.append(f"Issuer keys made for {len(job.made)} of {len(bins)} BIN(s) ({job.brand}).")
    if job.stopped:
        human.append(f"Stopped: {job.stopped}. Not made: {', '.join(job.not_made)}.")
    emit(
        cli.json,
        {
            "brand": job.brand,
            "made": [_set_data(s) for s in job.made],
            "not_made": list(job.not_made),
            "stopped": job.stopped,
        },
        human,
    )
    return EXIT_OK if job.stopped is None else EXIT_POLICY


def cmd_request(cli: Cli) -> int:
    a = cli.args
    if Path(a.out).expanduser().exists():
        raise BadInput(f"{a.out} exists; choose a new file name (nothing is overwritten).")
    with cli.session() as session:
        data = cli.services.emv.issuer_request(
            session, a.bin, ca_index=a.ca_index, expiry=a.expiry, serial=a.serial
        )
    written = write_new(a.out, data)
    read = read_request_file(data)
    body = read.body
    emit(
        cli.json,
        {"bin": body["bin"], "file": str(written), "sha256": read.sha256},
        [
            f"Request for the issuer key of BIN {body['bin']} ({body['key_label']}) under "
            f"{body['brand']}'s CA key {body['rid']} index {body['ca_index']}, signed in the HSM.",
            f"Written: {written} (SHA-256 {read.sha256})",
        ],
    )
    return EXIT_OK


def cmd_import(cli: Cli) -> int:
    a = cli.args
    certificate = binary_or_hex(read_input(a.file, "certificate"), "certificate")
    if a.remainder is not None and a.remainder_file is not None:
        raise BadInput("Give the remainder as hex or in a file, not both.")
    remainder = b""
    if a.remainder is not None:
        remainder = parse_hex(a.remainder, "remainder")
    elif a.remainder_file is not None:
        remainder = binary_or_hex(read_input(a.remainder_file, "remainder"), "remainder")
    with cli.session() as session:
        key_set = cli.services.emv.import_issuer_certificate(
            session,
            a.bin,
            certificate,
            remainder=remainder,
            exponent=parse_exponent(a.exponent),
            ca_index=a.ca_index,
        )
    cert = key_set.certificate
    assert cert is not None
    emit(
        cli.json,
        _set_data(key_set),
        [
            f"Issuer certificate of BIN {key_set.bin} recovered with {key_set.brand}'s CA key "
            f"{cert.rid} index {cert.ca_index:02X}, checked and kept.",
            f"Serial {cert.serial}, valid to {cert.expires_on:%Y-%m-%d}; it certifies "
            f"{key_set.key_pair_label} (KCV {key_set.key_pair_kcv}).",
        ],
    )
    return EXIT_OK


def cmd_list(cli: Cli) -> int:
    with cli.session() as session:
        sets = cli.services.emv.key_sets(session, bin=cli.args.bin)
    emit(
        cli.json, [_set_data(s) for s in sets], _set_rows(sets) if sets else ["No issuer key set."]
    )
    return EXIT_OK


def register(
    sub: Any, cmd: Callable[[Any, str, Callable[[Cli], int], str], argparse.ArgumentParser]
) -> None:
    emv = sub.add_parser(
        "emv", help="EMV issuer keys: brand CA keys, keys per BIN, requests, certificates"
    ).add_subparsers(dest="sub", required=True, metavar="ACTION")

    ca = emv.add_parser("ca-keys", help="the brands' CA public keys").add_subparsers(
        dest="ca_action", required=True, metavar="ACTION"
    )
    sp = cmd(ca, "add", cmd_ca_add, "add a brand's CA public key, checked by its check sum")
    sp.add_argument("brand", help="the brand (a partner of kind 'brand')")
    sp.add_argument(
        "--file",
        metavar="FILE",
        help="'Name: value' lines as the brand lists them (RID, Index, Modulus, Exponent, "
        "Expiry, Check sum); several keys, each starting with RID",
    )
    sp.add_argument("--rid", help="5 bytes in hex, e.g. A000000003")
    sp.add_argument("--index", help="the CA public key index in hex, e.g. 92")
    sp.add_argument("--modulus", help="hex")
    sp.add_argument("--exponent", help="03 or 010001")
    sp.add_argument("--expiry", help="YYYY-MM-DD or MM/YY")
    sp.add_argument("--check-sum", dest="check_sum", help="the published SHA-1, 40 hex digits")
    sp = cmd(ca, "list", cmd_ca_list, "the brands' CA public keys, soonest expiry first")
    sp.add_argument("--brand")
    sp = cmd(ca, "remove", cmd_ca_remove, "forget a brand's CA public key")
    sp.add_argument("brand")
    sp.add_argument("index", help="the CA public key index in hex, e.g. 92")

    issuer = emv.add_parser("issuer-keys", help="issuer keys made per BIN").add_subparsers(
        dest="issuer_action", required=True, metavar="ACTION"
    )
    sp = cmd(
        issuer,
        "create",
        cmd_create,
        "for each BIN, an issuer key pair and the issuer master keys, in one job",
    )
    sp.add_argument("--brand", required=True)
    sp.add_argument("--bin", action="append", metavar="BIN", help="6 or 8 digits (repeat)")
    sp.add_argument("--bins-file", metavar="FILE", help="BINs, one a line; # starts a comment")
    sp.add_argument("--template", default=ISSUER_TEMPLATE, help="the key pair's template")
    sp.add_argument(
        "--master-key-template",
        action="append",
        metavar="TEMPLATE",
        help=f"repeat; default: {', '.join(MASTER_KEY_TEMPLATES)}",
    )

    sp = cmd(emv, "request", cmd_request, "the request to the brand, signed by the issuer key")
    sp.add_argument("bin")
    sp.add_argument("--ca-index", required=True, help="the brand CA key to certify under (hex)")
    sp.add_argument("--expiry", required=True, help="MM/YY, the certificate's last month")
    sp.add_argument("--serial", help="6 hex digits, where the brand has the issuer propose it")
    sp.add_argument("--out", required=True, metavar="FILE", help="the request (JSON)")

    sp = cmd(emv, "import", cmd_import, "check the brand's issuer certificate and keep it")
    sp.add_argument("bin")
    sp.add_argument("file", help="the Issuer Public Key Certificate (tag 90), binary or hex")
    sp.add_argument("--ca-index", required=True, help="the brand CA key that signed it (hex)")
    sp.add_argument("--remainder", help="the Issuer Public Key Remainder (tag 92) in hex")
    sp.add_argument("--remainder-file", metavar="FILE", help="the remainder, binary or hex")
    sp.add_argument("--exponent", default="010001", help="03 or 010001 (tag 9F32)")

    sp = cmd(emv, "list", cmd_list, "the issuer key sets, certified ones by expiry")
    sp.add_argument("--bin")
