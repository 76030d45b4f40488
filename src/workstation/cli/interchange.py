"""``workstation-cli`` commands for exchanges with partners: partners and their trust
anchors, the workstation's exchange certificates, TR-31 key blocks, legacy imports, TR-34,
ECDH and DUKPT initial keys.

Files written by these commands are new files (an existing file is never overwritten),
written whole or not at all.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workstation.domain.partners import PARTNER_KINDS, Partner
from workstation.errors import BadInput
from workstation.files import write_new
from workstation.services.interchange import (
    ECDH_KEYS,
    EXCHANGE_CA,
    ExportedKey,
    ImportedKey,
    certificate_der,
    certificate_summary,
    consecutive_ksns,
)
from workstation.standards import tr34

from .console import emit, table

if TYPE_CHECKING:
    from .main import Cli

EXIT_OK = 0
EXCHANGE_KEY_NAMES = ("tr34-krd", "tr34-kdh", *ECDH_KEYS.values())


def read_input(path: str, what: str) -> bytes:
    """A file's bytes, or standard input for ``-``; BadInput naming the file otherwise."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as e:
        raise BadInput(f"Cannot read {what} {path}: {e.strerror}.") from None


def read_text(path: str, what: str) -> str:
    try:
        return read_input(path, what).decode("ascii").strip()
    except UnicodeDecodeError:
        raise BadInput(f"{what.capitalize()} {path} is not ASCII text.") from None


def _hex(text: str, what: str) -> bytes:
    norm = text.strip().replace(" ", "")
    try:
        return bytes.fromhex(norm)
    except ValueError:
        raise BadInput(f"{what} {text!r} is not hexadecimal.") from None


def _partner_data(p: Partner) -> dict[str, Any]:
    return {
        "name": p.name,
        "kind": p.kind,
        "ca_certificates": [
            certificate_summary(certificate_der(c, "CA")) for c in p.ca_certificates
        ],
        "crls": len(p.crls),
        "krd_certificate": certificate_summary(certificate_der(p.krd_certificate, "KRD"))
        if p.krd_certificate
        else None,
        "notes": p.notes,
        "version": p.version,
    }


def _exported(cli: Cli, result: ExportedKey, written: Path | None) -> int:
    lines = [
        f"Key {result.key_label} (KCV {result.key_kcv}) exported to {result.partner} as "
        f"{result.format}.",
        f"Protected by {result.wrapping_label}"
        + (f" (KCV {result.wrapping_kcv})." if result.wrapping_kcv else "."),
    ]
    if result.key_block and written is None:
        lines.append(result.key_block)
    if written is not None:
        lines.append(f"Written: {written}")
    lines.append(
        f"Tell {result.partner} the key's check value {result.key_kcv} by another channel."
    )
    data = {
        "key": result.key_label,
        "kcv": result.key_kcv,
        "partner": result.partner,
        "format": result.format,
        "wrapping": result.wrapping_label,
        "wrapping_kcv": result.wrapping_kcv,
        "header": result.header,
        "key_block": result.key_block or None,
        "file": str(written) if written else None,
    }
    emit(cli.json, data, lines)
    return EXIT_OK


def _imported(cli: Cli, result: ImportedKey) -> int:
    k = result.key
    lines = [
        f"Key {k.label} ({k.algorithm.value}, usage {k.key_usage}) received from "
        f"{result.partner} as {result.format}, KCV {k.kcv}, template {result.template}.",
        f"The key is {k.state.value}: activate it under its quorum "
        f"(workstation-cli keys activate {k.label}) once its check value is confirmed.",
    ]
    lines += [f"warning: {w}" for w in result.warnings]
    data = {
        "key": k.label,
        "id": k.id,
        "kcv": k.kcv,
        "algorithm": k.algorithm.value,
        "usage": k.key_usage,
        "state": k.state.value,
        "template": result.template,
        "partner": result.partner,
        "format": result.format,
        "header": result.header,
        "wrapping_kcv": result.wrapping_kcv,
        "warnings": list(result.warnings),
    }
    emit(cli.json, data, lines)
    return EXIT_OK


# --- partners -----------------------------------------------------------------------------


def cmd_partners_list(cli: Cli) -> int:
    with cli.session() as session:
        items = cli.services.interchange.partners(session)
    rows = [
        [
            p.name,
            p.kind,
            str(len(p.ca_certificates)),
            str(len(p.crls)),
            "yes" if p.krd_certificate else "",
        ]
        for p in items
    ]
    emit(
        cli.json,
        [_partner_data(p) for p in items],
        table(rows, ["partner", "kind", "CAs", "CRLs", "KRD cert"]),
    )
    return EXIT_OK


def cmd_partners_show(cli: Cli) -> int:
    with cli.session() as session:
        p = cli.services.interchange.partner(session, cli.args.name)
    data = _partner_data(p)
    lines = [f"{p.name} ({p.kind}), record version {p.version}"]
    lines += [f"  CA: {c}" for c in data["ca_certificates"]] or ["  no CA certificate"]
    lines.append(f"  CRLs: {data['crls']}")
    lines.append(f"  KRD certificate: {data['krd_certificate'] or 'none'}")
    if p.notes:
        lines.append(f"  notes: {p.notes}")
    emit(cli.json, data, lines)
    return EXIT_OK


def cmd_partners_add(cli: Cli) -> int:
    a = cli.args
    cas = [read_input(f, "CA certificate") for f in a.ca or ()]
    crls = [read_input(f, "CRL") for f in a.crl or ()]
    krd = read_input(a.krd_cert, "KRD certificate") if a.krd_cert else None
    with cli.session() as session:
        p = cli.services.interchange.add_partner(
            session,
            a.name,
            a.kind,
            ca_certificates=cas,
            crls=crls,
            krd_certificate=krd,
            notes=a.notes or "",
        )
    emit(cli.json, _partner_data(p), f"Partner {p.name} added.")
    return EXIT_OK


def cmd_partners_update(cli: Cli) -> int:
    a = cli.args
    cas = [read_input(f, "CA certificate") for f in a.add_ca or ()]
    crls = [read_input(f, "CRL") for f in a.crl] if a.crl else None
    krd = read_input(a.krd_cert, "KRD certificate") if a.krd_cert else None
    with cli.session() as session:
        p = cli.services.interchange.update_partner(
            session, a.name, add_ca_certificates=cas, crls=crls, krd_certificate=krd, notes=a.notes
        )
    emit(cli.json, _partner_data(p), f"Partner {p.name} updated (record version {p.version}).")
    return EXIT_OK


# --- the workstation's exchange certificates ---------------------------------------------


def cmd_exchange_certificate(cli: Cli) -> int:
    a = cli.args
    if a.credential_token and a.name != "tr34-krd":
        raise BadInput("A credential token is made for the tr34-krd certificate only.")
    for path in (a.out, a.ca_out, a.credential_token):
        if path and Path(path).expanduser().exists():
            raise BadInput(f"{path} exists; choose a new file name (nothing is overwritten).")
    with cli.session() as session:
        pem = cli.services.interchange.exchange_certificate(session, a.name)
        identity = cli.services.interchange.exchange_identity(session)
    lines = [f"{a.name}: {certificate_summary(certificate_der(pem, a.name))}"]
    written = []
    if a.out:
        written.append(write_new(a.out, pem.encode()))
    if a.ca_out and identity.ca_certificate:
        written.append(write_new(a.ca_out, identity.ca_certificate.encode()))
    if a.credential_token:
        # TR-34-2019 Annex B.7: the KRD's certificate in a degenerate SignedData.
        token = tr34.credential_token(certificate_der(pem, a.name))
        written.append(write_new(a.credential_token, token))
    lines += [f"Written: {w}" for w in written]
    if not a.out:
        lines.append(pem.rstrip())
    emit(
        cli.json,
        {
            "name": a.name,
            "certificate": pem,
            "ca_certificate": identity.ca_certificate,
            "files": [str(w) for w in written],
        },
        lines,
    )
    return EXIT_OK


def cmd_exchange_identity(cli: Cli) -> int:
    with cli.session() as session:
        identity = cli.services.interchange.exchange_identity(session)
    rows = []
    if identity.ca_certificate:
        rows.append(
            [EXCHANGE_CA, certificate_summary(certificate_der(identity.ca_certificate, "CA"))]
        )
    rows += [
        [n, certificate_summary(certificate_der(c, n))] for n, c in identity.certificates.items()
    ]
    emit(
        cli.json,
        {"ca_certificate": identity.ca_certificate, "certificates": identity.certificates},
        table(rows, ["exchange key", "certificate"]) if rows else ["No exchange certificate yet."],
    )
    return EXIT_OK


# --- TR-31 --------------------------------------------------------------------------------


def cmd_tr31_inspect(cli: Cli) -> int:
    text = read_text(cli.args.file, "key block")
    with cli.session() as session:
        info = cli.services.interchange.describe_key_block(session, text)
    lines = [
        f"TR-31 version {info.version}, key usage {info.key_usage} ({info.key_usage_text}), "
        f"algorithm {info.algorithm}, mode of use {info.mode_of_use}, key version "
        f"{info.key_version}, exportability {info.exportability}",
    ]
    lines += [f"  optional block {b}: {v}" for b, v in info.optional_blocks]
    lines.append(
        "Templates it maps to: " + (", ".join(info.templates) if info.templates else "none")
    )
    emit(cli.json, info.__dict__, lines)
    return EXIT_OK


def cmd_tr31_export(cli: Cli) -> int:
    a = cli.args
    if a.out and Path(a.out).expanduser().exists():
        raise BadInput(f"{a.out} exists; choose a new file name (nothing is overwritten).")
    with cli.session() as session:
        result = cli.services.interchange.export_tr31(
            session,
            a.key,
            a.kek,
            partner=a.partner,
            version=a.version,
            exportability=a.exportability,
            key_version=a.key_version,
        )
    written = write_new(a.out, (result.key_block + "\n").encode()) if a.out else None
    return _exported(cli, result, written)


def cmd_tr31_import(cli: Cli) -> int:
    a = cli.args
    text = read_text(a.file, "key block")
    with cli.session() as session:
        result = cli.services.interchange.import_tr31(
            session,
            text,
            a.kek,
            partner=a.partner,
            template_ref=a.template,
            expected_kcv=a.kcv,
            label=a.label,
        )
    return _imported(cli, result)


def cmd_legacy_import(cli: Cli) -> int:
    a = cli.args
    encrypted = a.encrypted or (read_text(a.file, "encrypted key") if a.file else None)
    if not encrypted:
        raise BadInput("Give the encrypted key: --encrypted HEX or --file FILE.")
    with cli.session() as session:
        result = cli.services.interchange.import_legacy(
            session,
            encrypted,
            a.zmk,
            partner=a.partner,
            template_ref=a.template,
            expected_kcv=a.kcv,
            label=a.label,
        )
    return _imported(cli, result)


# --- TR-34 --------------------------------------------------------------------------------


def cmd_tr34_nonce(cli: Cli) -> int:
    a = cli.args
    if Path(a.out).expanduser().exists():
        raise BadInput(f"{a.out} exists; choose a new file name (nothing is overwritten).")
    with cli.session() as session:
        token = cli.services.interchange.tr34_nonce(session, a.partner)
    written = write_new(a.out, token)
    emit(
        cli.json,
        {"file": str(written)},
        [
            f"Random number token for {a.partner}: {written}",
            "Send it to the partner; their two-pass key token must carry it.",
        ],
    )
    return EXIT_OK


def cmd_tr34_import(cli: Cli) -> int:
    a = cli.args
    token = read_input(a.file, "TR-34 key token")
    nonce = read_input(a.nonce_token, "random number token") if a.nonce_token else None
    kdh = read_input(a.kdh_cert, "KDH certificate") if a.kdh_cert else None
    with cli.session() as session:
        result = cli.services.interchange.import_tr34(
            session,
            token,
            partner=a.partner,
            template_ref=a.template,
            expected_kcv=a.kcv,
            label=a.label,
            nonce_token=nonce,
            kdh_certificate=kdh,
        )
    return _imported(cli, result)


def cmd_tr34_export(cli: Cli) -> int:
    a = cli.args
    if Path(a.out).expanduser().exists():
        raise BadInput(f"{a.out} exists; choose a new file name (nothing is overwritten).")
    nonce = read_input(a.nonce_token, "random number token") if a.nonce_token else None
    with cli.session() as session:
        result = cli.services.interchange.export_tr34(
            session,
            a.key,
            partner=a.partner,
            edition=a.edition,
            nonce_token=nonce,
            exportability=a.exportability,
        )
    written = write_new(a.out, result.token)
    return _exported(cli, result, written)


# --- ECDH ---------------------------------------------------------------------------------


def _ecdh_options(cli: Cli) -> dict[str, Any]:
    a = cli.args
    return {
        "partner": a.partner,
        "partner_certificate": read_input(a.partner_cert, "partner's ECDH certificate"),
        "curve": a.curve,
        "kdf": a.kdf,
        "hash_name": a.hash,
        "shared_info": _hex(a.shared_info, "Shared information"),
        "kek_algorithm": a.kek_algorithm,
    }


def cmd_ecdh_export(cli: Cli) -> int:
    a = cli.args
    if a.out and Path(a.out).expanduser().exists():
        raise BadInput(f"{a.out} exists; choose a new file name (nothing is overwritten).")
    options = _ecdh_options(cli)
    with cli.session() as session:
        result = cli.services.interchange.export_ecdh(session, a.key, **options)
    written = write_new(a.out, (result.key_block + "\n").encode()) if a.out else None
    return _exported(cli, result, written)


def cmd_ecdh_import(cli: Cli) -> int:
    a = cli.args
    text = read_text(a.file, "key block")
    options = _ecdh_options(cli)
    with cli.session() as session:
        result = cli.services.interchange.import_ecdh(
            session, text, template_ref=a.template, expected_kcv=a.kcv, label=a.label, **options
        )
    return _imported(cli, result)


# --- DUKPT --------------------------------------------------------------------------------


def cmd_dukpt_export(cli: Cli) -> int:
    a = cli.args
    if Path(a.out).expanduser().exists():
        raise BadInput(f"{a.out} exists; choose a new file name (nothing is overwritten).")
    ksns: list[str] = list(a.ksn or ())
    if a.ksn_file:
        ksns += [
            line.strip()
            for line in read_text(a.ksn_file, "KSN list").splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
    if a.first_ksn:
        ksns += consecutive_ksns(a.first_ksn, a.count, a.ksn_descriptor)
    if not ksns:
        raise BadInput(
            "Give the devices' KSNs: --ksn KSN, --ksn-file FILE or --first-ksn KSN --count N."
        )

    def progress(done: int, total: int) -> None:
        if not cli.json and (done == total or done % 5000 == 0):
            print(f"  {done:,} of {total:,} initial keys", file=sys.stderr)

    with cli.session() as session:
        result = cli.services.interchange.export_initial_keys(
            session, a.bdk, a.kek, ksns, partner=a.partner, progress=progress
        )
    if result.stopped:
        raise BadInput(f"The job stopped ({result.stopped}); no file was written.")
    written = write_new(a.out, result.text().encode())
    lines = [
        f"Initial keys of {len(result.lines):,} devices from {result.bdk_label} (KCV "
        f"{result.bdk_kcv}) under {result.kek_label} (KCV {result.kek_kcv}) for {result.partner}.",
        f"Written: {written} (SHA-256 {result.digest})",
    ]
    emit(
        cli.json,
        {
            "devices": len(result.lines),
            "file": str(written),
            "sha256": result.digest,
            "bdk": result.bdk_label,
            "kek": result.kek_label,
            "partner": result.partner,
        },
        lines,
    )
    return EXIT_OK


def cmd_dukpt_test(cli: Cli) -> int:
    a = cli.args
    with cli.session() as session:
        keys = cli.services.interchange.derive_test_keys(session, a.bdk, a.ksn)
    lines = [
        f"TEST key {keys.bdk_label}, {keys.scheme} DUKPT, KSN {keys.ksn}",
        f"  initial key:      {keys.initial_key}",
        f"  transaction key:  {keys.transaction_key}",
    ]
    lines += [f"  {name + ':':<17} {value}" for name, value in keys.working_keys.items()]
    emit(cli.json, keys.__dict__, lines)
    return EXIT_OK


# --- registration -------------------------------------------------------------------------


def register(
    sub: Any, cmd: Callable[[Any, str, Callable[[Cli], int], str], argparse.ArgumentParser]
) -> None:
    partners = sub.add_parser(
        "partners", help="exchange partners, their CA certificates, CRLs and KRD certificates"
    ).add_subparsers(dest="sub", required=True, metavar="ACTION")
    cmd(partners, "list", cmd_partners_list, "exchange partners")
    sp = cmd(partners, "show", cmd_partners_show, "a partner's trust anchors")
    sp.add_argument("name")
    sp = cmd(partners, "add", cmd_partners_add, "add a partner (quorum: manage_partners)")
    sp.add_argument("name")
    sp.add_argument("--kind", required=True, choices=PARTNER_KINDS)
    sp.add_argument("--ca", action="append", metavar="FILE", help="a CA certificate (PEM/DER)")
    sp.add_argument("--crl", action="append", metavar="FILE", help="a CRL of one of those CAs")
    sp.add_argument("--krd-cert", metavar="FILE", help="the partner's TR-34 KRD certificate")
    sp.add_argument("--notes")
    sp = cmd(
        partners, "update", cmd_partners_update, "add CAs, replace CRLs or the KRD certificate"
    )
    sp.add_argument("name")
    sp.add_argument("--add-ca", action="append", metavar="FILE")
    sp.add_argument("--crl", action="append", metavar="FILE", help="replaces the stored CRLs")
    sp.add_argument("--krd-cert", metavar="FILE")
    sp.add_argument("--notes")

    exchange = sub.add_parser(
        "exchange", help="the workstation's own exchange certificates"
    ).add_subparsers(dest="sub", required=True, metavar="ACTION")
    sp = cmd(
        exchange,
        "certificate",
        cmd_exchange_certificate,
        "publish an exchange certificate (made in the HSM on first use)",
    )
    sp.add_argument("name", choices=EXCHANGE_KEY_NAMES)
    sp.add_argument("--out", metavar="FILE", help="write the certificate (PEM) there")
    sp.add_argument("--ca-out", metavar="FILE", help="write the exchange CA certificate there")
    sp.add_argument(
        "--credential-token",
        metavar="FILE",
        help="tr34-krd: also write the KRD credential token (TR-34 B.7, DER)",
    )
    cmd(exchange, "identity", cmd_exchange_identity, "the exchange certificates made so far")

    tr31 = sub.add_parser("tr31", help="TR-31 / X9.143 key blocks").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    sp = cmd(tr31, "inspect", cmd_tr31_inspect, "read a key block's header (no key needed)")
    sp.add_argument("file", help="file with the key block, or - for standard input")
    sp = cmd(tr31, "export", cmd_tr31_export, "export a key as a TR-31 block under a KEK")
    sp.add_argument("key")
    sp.add_argument("--kek", required=True, help="the key encryption key shared with the partner")
    sp.add_argument("--partner", required=True)
    sp.add_argument(
        "--version", choices=("A", "B", "C", "D"), help="default: D for an AES KEK, B for TDES"
    )
    sp.add_argument("--exportability", choices=("E", "N", "S"))
    sp.add_argument(
        "--key-version", default="00", help="two characters, e.g. 00, or c1 for component 1"
    )
    sp.add_argument("--out", metavar="FILE")
    sp = cmd(tr31, "import", cmd_tr31_import, "import a TR-31 block (stored pre-active)")
    sp.add_argument("file", help="file with the key block, or - for standard input")
    sp.add_argument("--kek", required=True)
    sp.add_argument("--partner", required=True)
    sp.add_argument("--template", help="default: the only template the header maps to")
    sp.add_argument("--kcv", help="the check value the partner gave")
    sp.add_argument("--label")

    legacy = sub.add_parser(
        "legacy", help="keys received without a key block (import only)"
    ).add_subparsers(dest="sub", required=True, metavar="ACTION")
    sp = cmd(legacy, "import", cmd_legacy_import, "import a key encrypted under a ZMK (TDES ECB)")
    sp.add_argument("--zmk", required=True)
    sp.add_argument("--partner", required=True)
    sp.add_argument("--template", required=True)
    sp.add_argument("--kcv", required=True, help="the check value the partner gave")
    sp.add_argument("--encrypted", metavar="HEX")
    sp.add_argument("--file", metavar="FILE")
    sp.add_argument("--label")

    tr34 = sub.add_parser("tr34", help="TR-34 asymmetric key transport").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    sp = cmd(tr34, "nonce", cmd_tr34_nonce, "a random number token for a two-pass import")
    sp.add_argument("--partner", required=True)
    sp.add_argument("--out", required=True, metavar="FILE")
    sp = cmd(tr34, "import", cmd_tr34_import, "import a key token addressed to our KRD certificate")
    sp.add_argument("file")
    sp.add_argument("--partner", required=True)
    sp.add_argument("--template")
    sp.add_argument("--kcv")
    sp.add_argument("--label")
    sp.add_argument("--nonce-token", metavar="FILE", help="our random number token (two-pass)")
    sp.add_argument("--kdh-cert", metavar="FILE", help="only if the token does not carry it")
    sp = cmd(tr34, "export", cmd_tr34_export, "a key token for the partner's KRD certificate")
    sp.add_argument("key")
    sp.add_argument("--partner", required=True)
    sp.add_argument("--edition", choices=("2012", "2019"), default="2019")
    sp.add_argument("--nonce-token", metavar="FILE", help="the partner's random number token")
    sp.add_argument("--exportability", choices=("E", "N", "S"))
    sp.add_argument("--out", required=True, metavar="FILE")

    ecdh = sub.add_parser("ecdh", help="ECDH key agreement and TR-31").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    for name, handler, text in (
        ("export", cmd_ecdh_export, "export a key as TR-31 under an ECDH-derived KEK"),
        ("import", cmd_ecdh_import, "import a TR-31 block under an ECDH-derived KEK"),
    ):
        sp = cmd(ecdh, name, handler, text)
        sp.add_argument("key" if name == "export" else "file")
        sp.add_argument("--partner", required=True)
        sp.add_argument("--partner-cert", required=True, metavar="FILE")
        sp.add_argument("--curve", choices=tuple(ECDH_KEYS), default="P-256")
        sp.add_argument("--kdf", choices=("NIST_SP800", "ANSI_X963"), default="NIST_SP800")
        sp.add_argument("--hash", choices=("SHA-256", "SHA-384", "SHA-512"), default="SHA-512")
        sp.add_argument("--shared-info", required=True, metavar="HEX")
        sp.add_argument("--kek-algorithm", default="AES-256")
        if name == "export":
            sp.add_argument("--out", metavar="FILE")
        else:
            sp.add_argument("--template")
            sp.add_argument("--kcv")
            sp.add_argument("--label")

    dukpt = sub.add_parser("dukpt", help="DUKPT initial keys and the test tool").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    sp = cmd(
        dukpt,
        "export-initial-keys",
        cmd_dukpt_export,
        "initial keys of devices as TR-31 (B1) blocks under a transport KEK",
    )
    sp.add_argument("bdk")
    sp.add_argument("--kek", required=True)
    sp.add_argument("--partner", required=True)
    sp.add_argument("--ksn", action="append", help="a device's initial KSN (repeat)")
    sp.add_argument("--ksn-file", metavar="FILE", help="one KSN per line")
    sp.add_argument("--first-ksn", metavar="KSN", help="with --count: consecutive devices")
    sp.add_argument("--count", type=int, default=1)
    sp.add_argument(
        "--ksn-descriptor",
        metavar="XYZ",
        help="TDES: how the KSN splits into BDK ID, sub-key ID and device ID (e.g. A05)",
    )
    sp.add_argument(
        "--out", required=True, metavar="FILE", help="CSV: ksn, initial key id, block, kcv"
    )
    sp = cmd(dukpt, "test-keys", cmd_dukpt_test, "a transaction's keys for a KSN (test BDKs only)")
    sp.add_argument("bdk")
    sp.add_argument("--ksn", required=True)
