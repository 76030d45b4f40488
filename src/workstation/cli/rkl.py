"""``workstation-cli rkl``: ATM remote key loading (ANSI X9.24-2). Vendor profiles, the
host's key pair per vendor, its certificate request or the material the vendor signs, the
vendor's certificate or signature checked and kept, and the bundle for the host HSM.

Files written by these commands are new files (an existing file is never overwritten),
written whole or not at all.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workstation.domain.rkl import (
    SIGNATURE_SCHEMES,
    SIGNED_FORMS,
    VENDOR_STYLES,
    AtmVendor,
    read_signature,
)
from workstation.errors import BadInput
from workstation.files import write_new
from workstation.services.rkl import HostKey
from workstation.standards import pkix

from .console import emit, table
from .interchange import read_input

if TYPE_CHECKING:
    from .main import Cli

EXIT_OK = 0


def _vendor_data(v: AtmVendor) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": v.name,
        "style": v.style,
        "template": v.template_name,
        "version": v.version,
        "notes": v.notes,
    }
    if v.style == "certificate":
        data["partner"] = v.partner
    else:
        data["signature_scheme"] = v.signature_scheme
        data["signed_form"] = v.signed_form
        data["vendor_key_sha256"] = v.vendor_key_fingerprint
    return data


def _vendor_lines(v: AtmVendor, verb: str) -> list[str]:
    lines = [f"ATM vendor profile {v.name} {verb} ({v.style} style, template {v.template_name})."]
    if v.style == "certificate":
        lines.append(f"  The vendor CA's anchors and CRLs: partner {v.partner}.")
    else:
        assert v.signature_scheme is not None and v.signed_form is not None
        lines.append(
            f"  Signs {SIGNED_FORMS[v.signed_form]} with {SIGNATURE_SCHEMES[v.signature_scheme]}."
        )
        lines.append(f"  Vendor key SHA-256: {v.vendor_key_fingerprint}")
    return lines


def _host_data(h: HostKey) -> dict[str, Any]:
    k = h.key
    data: dict[str, Any] = {
        "key": k.label,
        "id": k.id,
        "kcv": k.kcv,
        "algorithm": k.algorithm.value,
        "state": k.state.value,
        "vendor": h.vendor.name,
        "style": h.link.style,
        "status": h.link.status.value,
    }
    if h.certificate is not None:
        data["certificate"] = {
            "subject": h.certificate.subject,
            "serial": h.certificate.serial,
            "not_after": h.certificate.not_after.isoformat(),
            "fingerprint": h.certificate.fingerprint,
        }
    if h.link.signature is not None:
        data["signature_scheme"] = h.link.signature_scheme
        data["signed_form"] = h.link.signed_form
    return data


def _out_free(path: str) -> None:
    """Refuse an existing output file before anything is done (write_new refuses it too)."""
    if Path(path).expanduser().exists():
        raise BadInput(f"{path} exists; choose a new file name (nothing is overwritten).")


# --- vendors -------------------------------------------------------------------------------


def cmd_vendors_add(cli: Cli) -> int:
    a = cli.args
    public_key = read_input(a.public_key, "vendor public key") if a.public_key else None
    with cli.session() as session:
        vendor = cli.services.rkl.add_vendor(
            session,
            a.name,
            a.style,
            template=a.template,
            partner=a.partner,
            public_key=public_key,
            signature_scheme=a.scheme,
            signed_form=a.signed_form,
            notes=a.notes or "",
        )
    emit(cli.json, _vendor_data(vendor), _vendor_lines(vendor, "added"))
    return EXIT_OK


def cmd_vendors_update(cli: Cli) -> int:
    a = cli.args
    public_key = read_input(a.public_key, "vendor public key") if a.public_key else None
    with cli.session() as session:
        vendor = cli.services.rkl.update_vendor(
            session,
            a.name,
            template=a.template,
            partner=a.partner,
            public_key=public_key,
            signature_scheme=a.scheme,
            signed_form=a.signed_form,
            notes=a.notes,
        )
    emit(
        cli.json, _vendor_data(vendor), _vendor_lines(vendor, f"changed (version {vendor.version})")
    )
    return EXIT_OK


def cmd_vendors_list(cli: Cli) -> int:
    with cli.session() as session:
        items = cli.services.rkl.vendors(session)
    rows = [
        [
            v.name,
            v.style,
            v.template_name,
            v.partner or f"{v.signature_scheme}, {v.signed_form}",
        ]
        for v in items
    ]
    emit(
        cli.json,
        [_vendor_data(v) for v in items],
        table(rows, ["vendor", "style", "template", "CA partner / signature"])
        if items
        else ["No ATM vendor profile."],
    )
    return EXIT_OK


# --- host keys -----------------------------------------------------------------------------


def cmd_host_key_create(cli: Cli) -> int:
    with cli.session() as session:
        host = cli.services.rkl.create_host_key(session, cli.args.vendor, label=cli.args.label)
    k = host.key
    nxt = (
        f"workstation-cli rkl request {k.label} --subject ... --out {k.label}.csr"
        if host.link.style == "certificate"
        else f"workstation-cli rkl material {k.label} --out {k.label}.der"
    )
    emit(
        cli.json,
        _host_data(host),
        [
            f"Host key {k.label} ({k.algorithm.value}) made in the HSM for {host.vendor.name}; "
            f"public key check value {k.kcv}.",
            f"It is {host.link.status.value}. Next: {nxt}",
        ],
    )
    return EXIT_OK


def cmd_request(cli: Cli) -> int:
    a = cli.args
    _out_free(a.out)
    try:
        profile = pkix.Profile(
            subject=a.subject,
            dns_names=tuple(a.dns or ()),
            key_usage=frozenset(a.key_usage or ()),
            extended_key_usage=tuple(a.eku or ()),
        )
    except pkix.PkixError as e:
        raise BadInput(f"Certificate profile: {e}") from None
    with cli.session() as session:
        result = cli.services.rkl.request(session, a.key, profile)
    written = write_new(a.out, result.pem.encode())
    emit(
        cli.json,
        {
            "key": result.key_label,
            "subject": result.subject,
            "file": str(written),
            "sha256": result.sha256,
        },
        [
            f"Certificate request for host key {result.key_label} ({result.subject}), signed "
            "in the HSM.",
            f"Written: {written} (SHA-256 {result.sha256}). Send it to the vendor's CA.",
        ],
    )
    return EXIT_OK


def cmd_import_certificate(cli: Cli) -> int:
    a = cli.args
    data = read_input(a.file, "certificate")
    chain = [read_input(f, "chain file") for f in a.chain or ()]
    with cli.session() as session:
        host = cli.services.rkl.import_certificate(session, a.key, data, chain=chain)
    c = host.certificate
    assert c is not None
    emit(
        cli.json,
        _host_data(host),
        [
            f"Certificate {c.serial} ({c.subject}) checked against {c.partner}'s anchor "
            f"{c.anchor} and kept for host key {host.key.label}.",
            f"Host key {host.key.label} is {host.link.status.value}: make the bundle for the "
            "host HSM (workstation-cli rkl bundle).",
        ],
    )
    return EXIT_OK


def cmd_material(cli: Cli) -> int:
    a = cli.args
    _out_free(a.out)
    with cli.session() as session:
        host = cli.services.rkl.host_key(session, a.key)
        material = cli.services.rkl.material_to_sign(session, a.key)
    written = write_new(a.out, material)
    form = host.vendor.signed_form or ""
    digest = hashlib.sha256(material).hexdigest().upper()
    emit(
        cli.json,
        {
            "key": host.key.label,
            "vendor": host.vendor.name,
            "signed_form": form,
            "file": str(written),
            "bytes": len(material),
            "sha256": digest,
        },
        [
            f"The public key of host key {host.key.label} as {SIGNED_FORMS.get(form, form)}, "
            f"{len(material)} bytes, for {host.vendor.name} to sign.",
            f"Written: {written} (SHA-256 {digest}).",
        ],
    )
    return EXIT_OK


def cmd_import_signature(cli: Cli) -> int:
    a = cli.args
    signature = read_signature(read_input(a.file, "signature"))
    with cli.session() as session:
        host = cli.services.rkl.import_signature(session, a.key, signature)
    emit(
        cli.json,
        _host_data(host),
        [
            f"{host.vendor.name}'s signature of host key {host.key.label} verified with the "
            f"vendor's key ({host.vendor.vendor_key_fingerprint}) and kept.",
            f"Host key {host.key.label} is {host.link.status.value}: make the bundle for the "
            "host HSM (workstation-cli rkl bundle).",
        ],
    )
    return EXIT_OK


def cmd_bundle(cli: Cli) -> int:
    a = cli.args
    _out_free(a.out)
    with cli.session() as session:
        bundle = cli.services.rkl.export_bundle(
            session, a.key, a.kek, host_partner=a.partner, version=a.version
        )
    written = write_new(a.out, bundle.data)
    emit(
        cli.json,
        {
            "key": bundle.key_label,
            "kcv": bundle.key_kcv,
            "vendor": bundle.vendor,
            "style": bundle.style,
            "partner": bundle.partner,
            "kek": bundle.kek_label,
            "kek_kcv": bundle.kek_kcv,
            "format": bundle.format,
            "header": bundle.header,
            "file": str(written),
            "sha256": bundle.sha256,
            "files": dict(bundle.files),
        },
        [
            f"RKL bundle for {bundle.partner}: host key {bundle.key_label} ({bundle.vendor}, "
            f"{bundle.style} style) as a {bundle.format} key block under KEK {bundle.kek_label} "
            f"(KCV {bundle.kek_kcv}).",
            f"Written: {written} (SHA-256 {bundle.sha256}).",
            *(f"  {name}  {digest}" for name, digest in bundle.files),
            f"Tell {bundle.partner} the bundle's SHA-256 and the KEK's check value by another "
            "channel.",
        ],
    )
    return EXIT_OK


def cmd_list(cli: Cli) -> int:
    with cli.session() as session:
        items = cli.services.rkl.host_keys(session, vendor=cli.args.vendor)
    rows = [
        [
            h.key.label,
            h.vendor.name,
            h.link.style,
            h.link.status.value,
            h.key.state.value,
            f"{h.certificate.not_after:%Y-%m-%d}" if h.certificate else "",
        ]
        for h in items
    ]
    emit(
        cli.json,
        [_host_data(h) for h in items],
        table(rows, ["host key", "vendor", "style", "status", "state", "cert expires"])
        if items
        else ["No RKL host key."],
    )
    return EXIT_OK


def register(
    sub: Any, cmd: Callable[[Any, str, Callable[[Cli], int], str], argparse.ArgumentParser]
) -> None:
    rkl = sub.add_parser(
        "rkl", help="ATM remote key loading: vendor profiles, host keys, bundles"
    ).add_subparsers(dest="sub", required=True, metavar="ACTION")

    vendors = rkl.add_parser("vendors", help="ATM vendor profiles").add_subparsers(
        dest="vendors_sub", required=True, metavar="ACTION"
    )

    def vendor_fields(sp: argparse.ArgumentParser, *, new: bool) -> None:
        sp.add_argument("--template", required=new, help="the key pair template of host keys")
        sp.add_argument("--partner", help="certificate style: the vendor CA (device-vendor)")
        sp.add_argument(
            "--public-key", metavar="FILE", help="signature style: the vendor's key (SPKI PEM)"
        )
        sp.add_argument("--scheme", help=f"signature style: {', '.join(SIGNATURE_SCHEMES)}")
        sp.add_argument(
            "--signed-form", help=f"signature style: what is signed, {', '.join(SIGNED_FORMS)}"
        )
        sp.add_argument("--notes")

    sp = cmd(vendors, "add", cmd_vendors_add, "add an ATM vendor profile")
    sp.add_argument("name")
    sp.add_argument("--style", required=True, help=" or ".join(VENDOR_STYLES))
    vendor_fields(sp, new=True)
    sp = cmd(vendors, "update", cmd_vendors_update, "change an ATM vendor profile")
    sp.add_argument("name")
    vendor_fields(sp, new=False)
    cmd(vendors, "list", cmd_vendors_list, "ATM vendor profiles")

    host_key = rkl.add_parser("host-key", help="host key pairs").add_subparsers(
        dest="host_key_sub", required=True, metavar="ACTION"
    )
    sp = cmd(host_key, "create", cmd_host_key_create, "make the host's key pair for a vendor")
    sp.add_argument("vendor")
    sp.add_argument("--label")

    sp = cmd(rkl, "request", cmd_request, "a certificate request for the vendor's CA")
    sp.add_argument("key", help="the host key's label")
    sp.add_argument("--subject", required=True, help='e.g. "CN=RKL host 1,O=Bank,C=GB"')
    sp.add_argument("--dns", action="append", metavar="NAME")
    sp.add_argument("--key-usage", action="append", metavar="USAGE")
    sp.add_argument("--eku", action="append", metavar="USAGE")
    sp.add_argument("--out", required=True, metavar="FILE", help="the request (PEM)")
    sp = cmd(rkl, "import-certificate", cmd_import_certificate, "the vendor CA's certificate")
    sp.add_argument("key")
    sp.add_argument("file", help="the certificate (PEM, DER, PEM bundle or PKCS#7)")
    sp.add_argument("--chain", action="append", metavar="FILE", help="intermediate certificates")
    sp = cmd(rkl, "material", cmd_material, "the host public key for a signature vendor")
    sp.add_argument("key")
    sp.add_argument("--out", required=True, metavar="FILE", help="DER, as the vendor signs it")
    sp = cmd(rkl, "import-signature", cmd_import_signature, "the vendor's signature")
    sp.add_argument("key")
    sp.add_argument("file", help="the signature: raw bytes, hex or base64 text")
    sp = cmd(rkl, "bundle", cmd_bundle, "the bundle for the host HSM (ZIP)")
    sp.add_argument("key")
    sp.add_argument("--kek", required=True, help="a KEK shared with the host HSM")
    sp.add_argument("--partner", required=True, help="the host HSM (a host-hsm partner)")
    sp.add_argument("--version", help="TR-31 version: D under an AES KEK, B under TDES")
    sp.add_argument("--out", required=True, metavar="FILE")
    sp = cmd(rkl, "list", cmd_list, "RKL host keys and their status")
    sp.add_argument("--vendor")
