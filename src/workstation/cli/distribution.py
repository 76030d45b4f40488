"""``workstation-cli targets``, ``distribute``, ``rotate-all`` and ``jobs``: key stores, and
the jobs that push keys (or a bulk rotation's successors) to them.

``distribute`` and ``rotate-all`` make the job under the quorum of the people logged on,
then run it (``--no-run``: only make it). A job that ends with a failed target exits 1;
``jobs run ID`` carries an unfinished job on (after a stop or a restart) and ``jobs retry
ID`` gives its failed targets another round."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workstation.domain.distribution import (
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    Delivery,
    DistributionJob,
    JobState,
    KeyStore,
    TargetKind,
)
from workstation.services.distribution import JobReport

from .console import emit, table

if TYPE_CHECKING:
    from workstation.services.session import Session

    from .main import Cli

EXIT_OK = 0
EXIT_INCOMPLETE = 1  # some target could not be reached or given its keys


def _when(value: object) -> str:
    return "never" if value is None else f"{value:%Y-%m-%d %H:%M}"


def _store_data(s: KeyStore) -> dict[str, Any]:
    return {
        "name": s.name,
        "kind": s.kind.value,
        "location": s.location,
        "token": s.token or None,
        "kek_label": s.kek_label,
        "tags": list(s.tags),
        "reachable": s.reachable,
        "checked_at": s.checked_at.isoformat() if s.checked_at else None,
        "detail": s.detail,
        "held": [h.to_record() for h in s.held],
    }


def _reach(s: KeyStore) -> str:
    return {None: "not asked", True: "reachable", False: "UNREACHABLE"}[s.reachable]


def _store_rows(stores: list[KeyStore]) -> list[list[str]]:
    return [
        [
            s.name,
            s.kind.display,
            s.location + (f" [{s.token}]" if s.token else ""),
            ",".join(s.tags),
            _reach(s),
            str(len(s.held)),
            _when(s.checked_at),
        ]
        for s in stores
    ]


_STORE_HEADERS = ["name", "kind", "location", "tags", "status", "keys", "checked"]


def cmd_targets_add(cli: Cli) -> int:
    a = cli.args
    with cli.session() as session:
        store = cli.services.distribution.add_target(
            session,
            name=a.name,
            kind=a.kind,
            location=a.location,
            kek=a.kek,
            kek_label=a.kek_label,
            token=a.token or "",
            pin_file=a.pin_file or "",
            tags=a.tag or (),
        )
    emit(
        cli.json,
        _store_data(store),
        f"Key store {store.name} ({store.kind.display}, {store.location}) registered; keys "
        f"reach it under KEK {store.kek_label}.",
    )
    return EXIT_OK


def cmd_targets_list(cli: Cli) -> int:
    with cli.session() as session:
        stores = cli.services.distribution.targets(session, tag=cli.args.tag)
    emit(
        cli.json,
        [_store_data(s) for s in stores],
        table(_store_rows(stores), _STORE_HEADERS) if stores else ["No key store registered."],
    )
    return EXIT_OK


def cmd_targets_check(cli: Cli) -> int:
    with cli.session() as session:
        stores = cli.services.distribution.check_targets(
            session, cli.args.names or (), progress=_progress(cli, "key stores")
        )
    lines = table(_store_rows(stores), _STORE_HEADERS)
    for s in stores:
        if not s.reachable:
            lines.append(f"{s.name}: {s.detail}")
        for h in s.held:
            lines.append(f"{s.name}: holds {h.label} version {h.version} (KCV {h.kcv})")
    emit(cli.json, [_store_data(s) for s in stores], lines)
    return EXIT_OK if all(s.reachable for s in stores) else EXIT_INCOMPLETE


def cmd_targets_remove(cli: Cli) -> int:
    with cli.session() as session:
        store = cli.services.distribution.remove_target(session, cli.args.name)
    emit(cli.json, {"removed": store.name}, f"Key store {store.name} is no longer registered.")
    return EXIT_OK


def _progress(cli: Cli, what: str) -> Callable[[int, int, str], None] | None:
    if cli.json:
        return None

    def show(done: int, total: int, text: str) -> None:
        print(f"\r{text} ({done}/{total} {what})".ljust(78), end="", file=sys.stderr, flush=True)
        if done >= total:
            print(file=sys.stderr)

    return show


def _delivery_data(d: Delivery) -> dict[str, Any]:
    return {
        "target": d.target_name,
        "state": d.state.value,
        "attempts": d.attempts,
        "last_error": d.last_error or None,
        "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
        "keys": [o.to_record() for o in d.outcomes],
    }


def _job_data(job: DistributionJob) -> dict[str, Any]:
    return {**job.to_record(), "targets": len(job.target_ids)}


def _report_data(r: JobReport) -> dict[str, Any]:
    return {
        "job": _job_data(r.job),
        "done": r.done,
        "failed": r.failed,
        "pending": r.pending,
        "installed": r.installed,
        "already_held": r.already_held,
        "deliveries": [_delivery_data(d) for d in r.deliveries],
    }


def _report_lines(r: JobReport) -> list[str]:
    job = r.job
    lines = [
        f"Job {job.id[:12]} ({job.kind.value}, {job.state.value}): {r.text()}.",
    ]
    for k in job.keys:
        if k.successor_id:
            lines.append(
                f"  {k.label} v{k.version} -> {k.successor_label} v{k.successor_version} "
                f"(KCV {k.successor_kcv})"
            )
        else:
            lines.append(f"  {k.label} v{k.version} (KCV {k.kcv})")
    rows = [
        [
            d.target_name,
            d.state.value,
            str(d.attempts),
            f"{d.installed} installed, {d.already_held} held" if d.outcomes else "",
            d.last_error,
        ]
        for d in r.deliveries
        if d.state.value != "done" or len(r.deliveries) <= 50
    ]
    if rows:
        lines += table(rows, ["target", "state", "tries", "keys", "last error"])
    return lines


def _run(cli: Cli, session: Session, job: DistributionJob) -> int:
    """Run a job just made, in the session that made it (``--no-run``: leave it)."""
    if cli.args.no_run:
        emit(
            cli.json,
            _job_data(job),
            f"Job {job.id[:12]} made ({len(job.target_ids)} key stores); run it with "
            f"`jobs run {job.id[:12]}`.",
        )
        return EXIT_OK
    report = cli.services.distribution.run(session, job.id, progress=_progress(cli, "key stores"))
    emit(cli.json, _report_data(report), _report_lines(report))
    return EXIT_OK if report.job.state is JobState.DONE else EXIT_INCOMPLETE


def cmd_distribute(cli: Cli) -> int:
    a = cli.args
    with cli.session() as session:
        job = cli.services.distribution.distribute(
            session,
            a.keys,
            targets=a.to or (),
            tags=a.tag or (),
            reason=a.reason or "",
            max_attempts=a.attempts,
            backoff_seconds=a.backoff,
        )
        return _run(cli, session, job)


def cmd_rotate_all(cli: Cli) -> int:
    a = cli.args
    with cli.session() as session:
        job = cli.services.distribution.rotate(
            session,
            template=a.template,
            key_refs=a.key or (),
            targets=a.to or (),
            tags=a.tag or (),
            reason=a.reason or "",
            max_attempts=a.attempts,
            backoff_seconds=a.backoff,
            progress=_progress(cli, "keys"),
        )
        return _run(cli, session, job)


def cmd_jobs_list(cli: Cli) -> int:
    with cli.session() as session:
        jobs = cli.services.distribution.jobs(session, unfinished=cli.args.unfinished)
    rows = [
        [
            j.id[:12],
            j.kind.value,
            j.state.value,
            f"{j.created_at:%Y-%m-%d %H:%M}",
            ", ".join(k.label for k in j.keys)[:40],
            str(len(j.target_ids)),
        ]
        for j in jobs
    ]
    emit(
        cli.json,
        [_job_data(j) for j in jobs],
        table(rows, ["job", "kind", "state", "made", "keys", "targets"])
        if rows
        else ["No distribution job."],
    )
    return EXIT_OK


def cmd_jobs_show(cli: Cli) -> int:
    with cli.session() as session:
        report = cli.services.distribution.report(session, cli.args.job)
    emit(cli.json, _report_data(report), _report_lines(report))
    return EXIT_OK


def cmd_jobs_run(cli: Cli) -> int:
    with cli.session() as session:
        report = cli.services.distribution.run(
            session, cli.args.job, progress=_progress(cli, "key stores")
        )
    emit(cli.json, _report_data(report), _report_lines(report))
    return EXIT_OK if report.job.state is JobState.DONE else EXIT_INCOMPLETE


def cmd_jobs_retry(cli: Cli) -> int:
    with cli.session() as session:
        job = cli.services.distribution.retry_failed(session, cli.args.job)
        report = cli.services.distribution.run(
            session, job.id, progress=_progress(cli, "key stores")
        )
    emit(cli.json, _report_data(report), _report_lines(report))
    return EXIT_OK if report.job.state is JobState.DONE else EXIT_INCOMPLETE


def cmd_jobs_cancel(cli: Cli) -> int:
    with cli.session() as session:
        job = cli.services.distribution.cancel(session, cli.args.job)
    emit(cli.json, _job_data(job), f"Job {job.id[:12]} cancelled.")
    return EXIT_OK


def _job_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--to", action="append", metavar="TARGET", help="a key store (repeat)")
    sp.add_argument("--tag", action="append", help="every key store with this tag (repeat)")
    sp.add_argument("--reason")
    sp.add_argument(
        "--attempts",
        type=int,
        default=DEFAULT_MAX_ATTEMPTS,
        help=f"contacts per key store before it is reported failed (default "
        f"{DEFAULT_MAX_ATTEMPTS})",
    )
    sp.add_argument(
        "--backoff",
        type=float,
        default=DEFAULT_BACKOFF_SECONDS,
        metavar="SECONDS",
        help="wait after the first failed contact, doubled each time (default "
        f"{DEFAULT_BACKOFF_SECONDS:g})",
    )
    sp.add_argument("--no-run", action="store_true", help="only make the job")


def register(
    sub: Any, cmd: Callable[[Any, str, Callable[[Cli], int], str], argparse.ArgumentParser]
) -> None:
    targets = sub.add_parser(
        "targets", help="key stores: key agents, PKCS#11 tokens, file drops"
    ).add_subparsers(dest="sub", required=True, metavar="ACTION")
    sp = cmd(targets, "add", cmd_targets_add, "register a key store (quorum: manage_partners)")
    sp.add_argument("name")
    sp.add_argument("--kind", required=True, choices=[k.value for k in TargetKind])
    sp.add_argument(
        "--location",
        required=True,
        help="agent: host:port; pkcs11: the module's path; file: the folder",
    )
    sp.add_argument("--kek", required=True, help="the managed KEK it shares (label or id)")
    sp.add_argument("--kek-label", help="the KEK's label on the key store (default: the same)")
    sp.add_argument("--token", help="pkcs11: the token's label")
    sp.add_argument("--pin-file", help="pkcs11: a file holding the token's user PIN")
    sp.add_argument("--tag", action="append", help="e.g. atm, host (repeat)")
    sp = cmd(targets, "list", cmd_targets_list, "registered key stores and what they hold")
    sp.add_argument("--tag")
    sp = cmd(
        targets,
        "check",
        cmd_targets_check,
        "ask each key store which key versions it holds (exit 1 if one is unreachable)",
    )
    sp.add_argument("names", nargs="*", metavar="NAME")
    sp = cmd(targets, "remove", cmd_targets_remove, "unregister a key store")
    sp.add_argument("name")

    sp = cmd(
        sub,
        "distribute",
        cmd_distribute,
        "push keys to key stores (quorum: export_key of each key's template)",
    )
    sp.add_argument("keys", nargs="+", metavar="KEY")
    _job_options(sp)
    sp = cmd(
        sub,
        "rotate-all",
        cmd_rotate_all,
        "rotate every key of a template (or the keys named) and push the successors "
        "(quorums: rotate_key and export_key, gathered once)",
    )
    sp.add_argument("--template", help="every key of this template that can be rotated")
    sp.add_argument("--key", action="append", help="a key to rotate (repeat)")
    _job_options(sp)

    jobs = sub.add_parser("jobs", help="distribution jobs").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    sp = cmd(jobs, "list", cmd_jobs_list, "distribution jobs, newest first")
    sp.add_argument("--unfinished", action="store_true")
    for name, handler, text in (
        ("show", cmd_jobs_show, "a job and each key store's result"),
        ("run", cmd_jobs_run, "carry an unfinished job on (after a stop or restart)"),
        ("retry", cmd_jobs_retry, "try the failed key stores of a job again"),
        ("cancel", cmd_jobs_cancel, "stop a job: pending key stores are not given keys"),
    ):
        sp = cmd(jobs, name, handler, text)
        sp.add_argument("job", help="the job id (its first characters are enough)")
