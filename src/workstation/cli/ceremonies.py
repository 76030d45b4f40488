"""``workstation-cli`` commands for paper ceremonies, envelopes, the split-knowledge
register, the master key backup, repository backups and recovery.

Components and shares are typed without echo (or read one per line from standard input
with ``--pin-stdin``, after the PINs, in the order asked) and kept in bytearrays that the
services wipe.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workstation.domain import components as comp
from workstation.domain import secret_sharing as sss
from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.ceremonies import SCRIPTS, Ceremony, Envelope, EnvelopeState
from workstation.errors import BadInput
from workstation.services.ceremonies import ComponentEntry, Delivery, PaperOutput
from workstation.services.recovery import ShareOffer

from .console import emit, resolve_reader, table

if TYPE_CHECKING:
    from .main import Cli

EXIT_OK = 0
EXIT_INTEGRITY = 5


def _output(cli: Cli) -> PaperOutput:
    a = cli.args
    if a.out and a.print:
        raise BadInput("Choose either --out FOLDER or --print, not both.")
    if a.out:
        return PaperOutput(directory=Path(a.out).expanduser().resolve())
    if a.print:
        return PaperOutput(printer=True)
    raise BadInput("Say where the paper goes: --out FOLDER (PDF files) or --print.")


def _delivered(delivery: Delivery) -> list[str]:
    if delivery.files:
        return [f"Written: {f}" for f in delivery.files]
    return [f"Print job: {j}" for j in delivery.print_jobs]


def _ceremony_data(c: Ceremony) -> dict[str, Any]:
    return {
        "id": c.id,
        "script": c.kind.value,
        "title": c.title,
        "started_at": c.started_at.isoformat(),
        "completed_at": c.completed_at.isoformat(),
        "key_label": c.key_label,
        "algorithm": c.algorithm,
        "key_kcv": c.key_kcv,
        "envelopes": list(c.envelopes),
        "participants": [
            {"name": p.name, "part": p.part, "card": p.card_id[:12]} for p in c.participants
        ],
        "signed_by": [s.name for s in c.signatures],
        "transcript_hash": c.transcript_hash,
        "transcript": [e.to_record() for e in c.transcript],
    }


def _envelope_data(e: Envelope) -> dict[str, Any]:
    return {
        "serial": e.serial,
        "kind": e.kind,
        "index": e.index,
        "count": e.count,
        "key_label": e.key_label,
        "custodian": e.custodian_name,
        "state": e.state.value,
        "bag_number": e.bag_number,
        "events": [ev.to_record() for ev in e.events],
    }


def _outcome(cli: Cli, outcome: Any, what: str) -> int:
    c: Ceremony = outcome.ceremony
    lines = [
        f"{what}: ceremony {c.id[:12]} completed and signed by "
        + ", ".join(s.name for s in c.signatures)
        + "."
    ]
    if outcome.key is not None:
        lines.append(
            f"Key {outcome.key.label} ({outcome.key.algorithm.value}), KCV {outcome.key.kcv}, "
            f"{outcome.key.state.value}."
        )
    for e in outcome.envelopes:
        lines.append(f"Envelope {e.serial}: {e.describe} for {e.custodian_name}")
    lines += _delivered(outcome.delivery)
    if outcome.envelopes:
        lines.append(
            "Seal each envelope in a tamper-evident bag and register it: "
            "workstation-cli envelopes record SERIAL sealed --bag NUMBER"
        )
    data = {
        "ceremony": _ceremony_data(c),
        "key": outcome.key.label if outcome.key else None,
        "kcv": outcome.key.kcv if outcome.key else None,
        "envelopes": [_envelope_data(e) for e in outcome.envelopes],
        "files": list(outcome.delivery.files),
        "print_jobs": list(outcome.delivery.print_jobs),
    }
    emit(cli.json, data, lines)
    return EXIT_OK


# --- ceremonies ---------------------------------------------------------------------------


def cmd_scripts(cli: Cli) -> int:
    data = [
        {
            "kind": s.kind.value,
            "title": s.title,
            "steps": [{"id": st.id, "title": st.title, "needs": st.needs} for st in s.steps],
        }
        for s in SCRIPTS.values()
    ]
    lines: list[str] = []
    for s in SCRIPTS.values():
        lines.append(f"{s.kind.value}: {s.title}")
        lines += [f"  {i}. {st.title} — needs {st.needs}" for i, st in enumerate(s.steps, 1)]
    emit(cli.json, data, lines)
    return EXIT_OK


def cmd_generate(cli: Cli) -> int:
    output = _output(cli)
    with cli.session() as session:
        outcome = cli.services.ceremonies.generate_components(
            session, cli.args.template, cli.args.custodian, output=output, label=cli.args.label
        )
    return _outcome(cli, outcome, "Key generated as components")


def cmd_enter(cli: Cli) -> int:
    a = cli.args
    if a.envelope and len(a.envelope) != len(a.custodian):
        raise BadInput("Give one --envelope per --custodian, in the same order, or none.")
    with cli.session() as session:
        template = cli.services.templates.show(session, a.template)
        algorithm = template.algorithm
        entries: list[ComponentEntry] = []
        try:
            for n, name in enumerate(a.custodian, 1):
                text = cli.pins.read(
                    f"Component {n} of {len(a.custodian)} for {name} "
                    f"({algorithm.value}, {algorithm.key_bytes * 2} hex digits, hidden): "
                )
                try:
                    value = comp.parse_component(algorithm, text.decode(), number=n)
                finally:
                    text[:] = bytes(len(text))
                kcv = comp.kcv_hex(comp.check_value(algorithm, value))
                print(f"Component {n} KCV: {kcv} — compare with the mailer.", file=sys.stderr)
                envelope = a.envelope[n - 1] if a.envelope else None
                entries.append(ComponentEntry(name, value, envelope))
            combined = cli.services.ceremonies.combined_check_value(
                algorithm, [e.value for e in entries]
            )
            print(f"The components combine to KCV {combined}.", file=sys.stderr)
            sender = a.sender_kcv
            if not sender:
                sender = bytes(cli.pins.read("The sender's KCV (to compare): ")).decode()
            outcome = cli.services.ceremonies.enter_components(
                session, a.template, entries, sender_kcv=sender, label=a.label
            )
        finally:
            for e in entries:
                e.value[:] = bytes(len(e.value))
    return _outcome(cli, outcome, "Key entered from components")


def cmd_export(cli: Cli) -> int:
    output = _output(cli)
    with cli.session() as session:
        outcome = cli.services.ceremonies.export_components(
            session, cli.args.key, cli.args.custodian, output=output
        )
    return _outcome(cli, outcome, "Key exported as components")


def cmd_list(cli: Cli) -> int:
    with cli.session() as session:
        items = cli.services.ceremonies.ceremonies(session, key_ref=cli.args.key)
    rows = [
        [
            f"{c.started_at:%Y-%m-%d %H:%M}",
            c.id[:12],
            c.kind.value,
            c.key_label or "",
            c.key_kcv or "",
            f"{len(c.signatures)}/{len(c.participants)}",
        ]
        for c in items
    ]
    emit(
        cli.json,
        [_ceremony_data(c) for c in items],
        table(rows, ["started", "id", "script", "key", "KCV", "signed"]),
    )
    return EXIT_OK


def cmd_show(cli: Cli) -> int:
    with cli.session() as session:
        c = cli.services.ceremonies.ceremony(session, cli.args.ceremony)
    lines = [
        f"Ceremony {c.id}: {c.title}",
        f"Workstation {c.workstation_id}; {c.started_at:%Y-%m-%d %H:%M:%S} to "
        f"{c.completed_at:%H:%M:%S} UTC",
    ]
    if c.key_label:
        lines.append(f"Key {c.key_label} ({c.algorithm}), KCV {c.key_kcv}")
    lines.append("Participants: " + "; ".join(f"{p.name} ({p.part})" for p in c.participants))
    lines.append("Transcript:")
    for e in c.transcript:
        extra = "; ".join(f"{k} {v}" for k, v in e.data.items())
        lines.append(
            f"  {e.at:%H:%M:%S} [{e.step}] {', '.join(e.people)}: {e.text}"
            + (f" ({extra})" if extra else "")
        )
    lines.append(f"Transcript SHA-256: {c.transcript_hash}")
    lines.append("Signed by: " + ", ".join(s.name for s in c.signatures))
    emit(cli.json, _ceremony_data(c), lines)
    return EXIT_OK


def cmd_verify(cli: Cli) -> int:
    with cli.session() as session:
        v = cli.services.ceremonies.verify_ceremony(session, cli.args.ceremony)
    lines = [
        f"Ceremony {v.ceremony.id[:12]} ({v.ceremony.title})",
        f"Record seal: {'valid' if v.seal_ok else 'DOES NOT VERIFY'}",
        f"Transcript SHA-256: {v.ceremony.transcript_hash}",
    ]
    for s in v.signatures:
        lines.append(
            f"  {s.name} (card {s.card_id[:12]}): "
            + ("signature valid" if s.valid else f"INVALID: {s.problem}")
        )
    for name in v.missing:
        lines.append(f"  {name}: did not sign")
    lines.append("VERIFIED" if v.ok else "NOT VERIFIED")
    emit(
        cli.json,
        {
            "ceremony": v.ceremony.id,
            "ok": v.ok,
            "seal_ok": v.seal_ok,
            "transcript_hash": v.ceremony.transcript_hash,
            "signatures": [
                {"name": s.name, "card": s.card_id, "valid": s.valid, "problem": s.problem}
                for s in v.signatures
            ],
            "missing": list(v.missing),
        },
        lines,
    )
    return EXIT_OK if v.ok else EXIT_INTEGRITY


def cmd_print(cli: Cli) -> int:
    output = _output(cli)
    with cli.session() as session:
        delivery = cli.services.ceremonies.print_record(session, cli.args.ceremony, output=output)
    emit(
        cli.json,
        {"files": list(delivery.files), "print_jobs": list(delivery.print_jobs)},
        _delivered(delivery),
    )
    return EXIT_OK


def cmd_export_record(cli: Cli) -> int:
    target = Path(cli.args.out).expanduser()
    with cli.session() as session:
        result = cli.services.ceremonies.export_record(session, cli.args.ceremony, target)
    lines = [
        f"Ceremony record {result.ceremony_id[:12]} written to {result.path}: the transcript "
        f"(SHA-256 {result.transcript_hash}), {result.signatures} card signature(s) with their "
        f"certificates and audit entry {result.audit_seq}, signed by the audit key "
        f"SHA-256 {result.audit_key_sha256}.",
        "Verify anywhere with: workstation-audit-verify --ceremony "
        f"{result.path} --public-key AUDIT-KEY.pem [--audit-export EXPORT]",
    ]
    emit(
        cli.json,
        {
            "file": str(result.path),
            "ceremony": result.ceremony_id,
            "transcript_hash": result.transcript_hash,
            "audit_entry": result.audit_seq,
            "signatures": result.signatures,
            "audit_key_sha256": result.audit_key_sha256,
        },
        lines,
    )
    return EXIT_OK


# --- envelopes and holders ----------------------------------------------------------------


def cmd_envelopes_list(cli: Cli) -> int:
    a = cli.args
    state = EnvelopeState.parse(a.state) if a.state else None
    with cli.session() as session:
        items = cli.services.ceremonies.envelopes(
            session, state=state, custodian=a.custodian, key_ref=a.key
        )
    rows = [
        [
            e.serial,
            e.describe,
            e.key_label,
            e.custodian_name,
            e.state.value,
            e.bag_number or "",
            f"{e.events[-1].at:%Y-%m-%d %H:%M}",
        ]
        for e in items
    ]
    emit(
        cli.json,
        [_envelope_data(e) for e in items],
        table(rows, ["serial", "holds", "key", "custodian", "state", "bag", "since"]),
    )
    return EXIT_OK


def cmd_envelopes_record(cli: Cli) -> int:
    a = cli.args
    event = EnvelopeState.parse(a.event)
    with cli.session() as session:
        e = cli.services.ceremonies.record_envelope(
            session, a.serial, event, bag_number=a.bag, note=a.note or ""
        )
    emit(
        cli.json,
        _envelope_data(e),
        f"Envelope {e.serial} ({e.describe} of {e.key_label}, {e.custodian_name}): "
        f"{e.state.value}" + (f", bag {e.bag_number}" if e.bag_number else "") + ".",
    )
    return EXIT_OK


def cmd_envelopes_acknowledge(cli: Cli) -> int:
    output = _output(cli)
    with cli.session() as session:
        delivery = cli.services.ceremonies.acknowledgement_form(
            session, cli.args.serial, output=output
        )
    emit(
        cli.json,
        {"files": list(delivery.files), "print_jobs": list(delivery.print_jobs)},
        _delivered(delivery),
    )
    return EXIT_OK


def cmd_holders(cli: Cli) -> int:
    with cli.session() as session:
        items = cli.services.ceremonies.holdings(
            session, key_ref=cli.args.key, person=cli.args.person
        )
    rows = [
        [h.person_name, h.key_label, str(h.index), h.secret_kcv, h.how, f"{h.at:%Y-%m-%d %H:%M}"]
        for h in items
    ]
    emit(
        cli.json,
        [h.to_record() for h in items],
        table(rows, ["person", "key", "component", "its KCV", "how", "when"]),
    )
    return EXIT_OK


# --- master key, repository, recovery -----------------------------------------------------


def cmd_master_backup(cli: Cli) -> int:
    a = cli.args
    output = _output(cli)
    threshold = a.threshold if a.threshold is not None else len(a.holder)
    with cli.session() as session:
        outcome = cli.services.ceremonies.backup_master_key(
            session, a.holder, threshold=threshold, output=output, scheme=a.scheme
        )
    return _outcome(cli, outcome, "Master key backed up")


def cmd_master_status(cli: Cli) -> int:
    with cli.session() as session:
        info = cli.services.ceremonies.master_key_backup(session)
    if info is None:
        emit(cli.json, None, "The master key has not been backed up.")
        return EXIT_OK
    lines = [
        f"Backup set {info.set_id} ({info.scheme}): any {info.threshold} of {info.count} "
        f"recover; made {info.created_at}, ceremony {info.ceremony_id[:12]}."
    ]
    lines += [f"  {i}. {name} (envelope {serial})" for i, name, serial in info.holders]
    emit(
        cli.json,
        {
            "set_id": info.set_id,
            "scheme": info.scheme,
            "threshold": info.threshold,
            "count": info.count,
            "created_at": info.created_at,
            "holders": [{"index": i, "name": n, "envelope": s} for i, n, s in info.holders],
        },
        lines,
    )
    return EXIT_OK


def cmd_repository_backup(cli: Cli) -> int:
    target = Path(cli.args.file).expanduser()
    with cli.session() as session:
        result = cli.services.recovery.backup_repository(session, target)
    c = result.counts
    lines = [
        f"Repository backed up to {result.file} ({result.size} bytes), backup {result.backup_id}.",
        f"It holds {c.keys} keys (all wrapped under the master key), {c.people} people and "
        f"{c.audit_entries} audit entries; encrypted (AES-256-GCM) and signed by the audit key "
        f"SHA-256 {result.audit_key_fingerprint}.",
    ]
    lines += [f"Warning: {w}" for w in result.warnings]
    emit(
        cli.json,
        {
            "file": str(result.file),
            "backup_id": result.backup_id,
            "size": result.size,
            "keys": c.keys,
            "counts": c.to_record(),
            "audit_key_fingerprint": result.audit_key_fingerprint,
            "warnings": list(result.warnings),
        },
        lines,
    )
    return EXIT_OK


def cmd_repository_verify_backup(cli: Cli) -> int:
    """No logon: the signature part is for auditors anywhere; the contents are checked only
    where the master key is, and the report shows nothing the clear header does not."""
    a = cli.args
    expected: bytes | None = None
    if a.audit_key_fingerprint:
        text = a.audit_key_fingerprint.replace(":", "").replace(" ", "").lower()
        try:
            expected = bytes.fromhex(text)
        except ValueError:
            expected = None
        if expected is None or len(expected) != 32:
            raise BadInput(
                "--audit-key-fingerprint takes the audit key's SHA-256 fingerprint: 64 hex "
                "digits (colons and spaces allowed)."
            )
    report = cli.services.recovery.verify_backup(
        Path(a.file).expanduser(), expected_audit_key=expected
    )
    emit(cli.json, report.to_dict(), report.lines())
    return EXIT_OK if report.verified else EXIT_INTEGRITY


def cmd_recover(cli: Cli) -> int:
    a = cli.args
    recovery = cli.services.recovery
    info = recovery.restore_repository(Path(a.backup).expanduser())
    print(
        f"Backup set {info.set_id}: {info.threshold} of {info.count} {info.scheme} recover. "
        "Holders: " + ", ".join(f"{n} ({i})" for i, n, _ in info.holders),
        file=sys.stderr,
    )
    offers: list[ShareOffer] = []
    try:
        for spec in a.share:
            name, _, reader_ref = spec.partition("@")
            if not reader_ref:
                raise BadInput(f"Write each share holder as NAME@READER (got {spec!r}).")
            reader = resolve_reader(cli.services, reader_ref)
            pin = cli.pins.read(f"PIN for {name} ({reader}): ")
            text = bytearray()
            try:
                text = cli.pins.read(f"{name}'s share (hex, hidden): ")
                index = next((i for i, n, _ in info.holders if n.casefold() == name.casefold()), 0)
                if info.scheme == "shares":
                    value = sss.parse_share_value(text.decode(), length=32, index=index)
                else:
                    value = comp.parse_component(KeyAlgorithm.AES_256, text.decode(), number=index)
            except BaseException:
                pin[:] = bytes(len(pin))
                raise
            finally:
                text[:] = bytes(len(text))
            offers.append(ShareOffer(holder=name, reader=reader, pin=pin, value=value))
    except BaseException:
        for o in offers:
            o.pin[:] = bytes(len(o.pin))
            o.value[:] = bytes(len(o.value))
        recovery.abandon()
        raise
    report = recovery.recover(offers)
    emit(
        cli.json,
        {
            "workstation_id": report.workstation_id,
            "backup_id": report.backup_id,
            "set_id": report.set_id,
            "holders": list(report.holders),
            "records_verified": report.records_verified,
            "keys_verified": report.keys_verified,
            "audit_entries": report.audit_entries,
        },
        [
            f"Workstation {report.workstation_id} recovered from backup {report.backup_id} "
            f"and master key backup set {report.set_id} by {', '.join(report.holders)}.",
            f"{report.records_verified} records verified, {report.keys_verified} keys open "
            f"and match their KCV, audit log ({report.audit_entries} entries) verified.",
        ],
    )
    return EXIT_OK


# --- parser -------------------------------------------------------------------------------


def register(
    sub: Any, cmd: Callable[[Any, str, Callable[[Cli], int], str], argparse.ArgumentParser]
) -> None:
    def paper(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--out", metavar="FOLDER", help="write PDF files there (audited)")
        sp.add_argument("--print", action="store_true", help="send to the configured printer")

    ceremony = sub.add_parser(
        "ceremony", help="key ceremonies on paper: components, records"
    ).add_subparsers(dest="sub", required=True, metavar="ACTION")
    cmd(ceremony, "scripts", cmd_scripts, "the ceremony scripts and the people each step needs")
    sp = cmd(ceremony, "generate", cmd_generate, "generate a key as printed components")
    sp.add_argument("--template", required=True)
    sp.add_argument(
        "--custodian",
        action="append",
        required=True,
        metavar="NAME",
        help="custodian of component 1, 2, ... (repeat; each logged on)",
    )
    sp.add_argument("--label")
    paper(sp)
    sp = cmd(ceremony, "enter", cmd_enter, "form a key from components typed by custodians")
    sp.add_argument("--template", required=True)
    sp.add_argument("--custodian", action="append", required=True, metavar="NAME")
    sp.add_argument(
        "--envelope",
        action="append",
        metavar="SERIAL",
        help="the envelope each component comes from (repeat, same order)",
    )
    sp.add_argument("--sender-kcv", metavar="KCV", help="the key's check value from the sender")
    sp.add_argument("--label")
    sp = cmd(ceremony, "export", cmd_export, "export a key as printed components")
    sp.add_argument("key")
    sp.add_argument("--custodian", action="append", required=True, metavar="NAME")
    paper(sp)
    sp = cmd(ceremony, "list", cmd_list, "ceremonies, newest first")
    sp.add_argument("--key")
    sp = cmd(ceremony, "show", cmd_show, "a ceremony's transcript")
    sp.add_argument("ceremony", help="id or its first characters")
    sp = cmd(ceremony, "verify", cmd_verify, "verify a ceremony record's card signatures")
    sp.add_argument("ceremony")
    sp = cmd(ceremony, "print", cmd_print, "print a ceremony record for hand signatures")
    sp.add_argument("ceremony")
    paper(sp)
    sp = cmd(
        ceremony,
        "export-record",
        cmd_export_record,
        "write a ceremony record signed by the audit key, for workstation-audit-verify",
    )
    sp.add_argument("ceremony", help="id or its first characters")
    sp.add_argument("--out", metavar="FILE", required=True, help="a new file (never overwritten)")

    envelopes = sub.add_parser("envelopes", help="the envelope register").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    sp = cmd(envelopes, "list", cmd_envelopes_list, "envelopes and where they are")
    sp.add_argument("--state")
    sp.add_argument("--custodian")
    sp.add_argument("--key")
    sp = cmd(
        envelopes,
        "record",
        cmd_envelopes_record,
        "register an event: sealed, handed-over, received, opened, destroyed",
    )
    sp.add_argument("serial")
    sp.add_argument("event")
    sp.add_argument("--bag", metavar="NUMBER", help="tamper-evident bag number (sealed)")
    sp.add_argument("--note")
    sp = cmd(
        envelopes,
        "acknowledge",
        cmd_envelopes_acknowledge,
        "print a custodian acknowledgement form",
    )
    sp.add_argument("serial")
    paper(sp)

    sp = cmd(sub, "holders", cmd_holders, "who held which component (split knowledge)")
    sp.add_argument("--key")
    sp.add_argument("--person")

    master = sub.add_parser("master-key", help="master key backup").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    sp = cmd(master, "backup", cmd_master_backup, "back up the master key as shares")
    sp.add_argument("--holder", action="append", required=True, metavar="NAME")
    sp.add_argument("--threshold", type=int, help="shares needed to recover (default: all)")
    sp.add_argument("--scheme", choices=("shares", "components"), default="shares")
    paper(sp)
    cmd(master, "status", cmd_master_status, "the current master key backup")

    repository = sub.add_parser("repository", help="repository backup").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    sp = cmd(
        repository,
        "backup",
        cmd_repository_backup,
        "a signed, encrypted backup of the repository (see docs/backup.md)",
    )
    sp.add_argument("file")
    sp = cmd(
        repository,
        "verify-backup",
        cmd_repository_verify_backup,
        "verify a repository backup without restoring it (no logon needed)",
    )
    sp.add_argument("file")
    sp.add_argument(
        "--audit-key-fingerprint",
        metavar="HEX",
        help="the SHA-256 fingerprint of the audit key the backup must be signed by "
        "(default: this workstation's own audit key)",
    )

    sp = cmd(
        sub,
        "recover",
        cmd_recover,
        "recover a fresh workstation from a repository backup and shares (two holders or more)",
    )
    sp.add_argument("--backup", required=True, metavar="FILE")
    sp.add_argument("--share", action="append", required=True, metavar="NAME@READER")
