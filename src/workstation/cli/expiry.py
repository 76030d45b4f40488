"""``workstation-cli expiry``: what falls due, the alert windows and owners, the e-mail
alerts (also unattended, from a timer) and the due dates as an iCalendar file."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workstation.domain.monitoring import AlertOwners, DueTask
from workstation.errors import BadInput
from workstation.files import write_new
from workstation.services.expiry import AlertReport

from .console import emit, table

if TYPE_CHECKING:
    from .main import Cli

EXIT_OK = 0
EXIT_FAILURE = 1


def _when(task: DueTask) -> str:
    return "" if task.last_alerted is None else f"{task.last_alerted:%Y-%m-%d %H:%M}"


def _task_data(t: DueTask) -> dict[str, Any]:
    return {
        "kind": t.item.kind,
        "ref": t.item.ref,
        "label": t.item.label,
        "what": t.item.what,
        "due": t.item.due.isoformat(),
        "days_left": t.days_left,
        "window": t.window,
        "overdue": t.overdue,
        "state": t.state,
        "owners": list(t.owners),
        "last_alerted": t.last_alerted.isoformat() if t.last_alerted else None,
    }


def cmd_list(cli: Cli) -> int:
    with cli.session() as session:
        tasks = cli.services.expiry.due(session, within_days=cli.args.days)
    rows = [
        [
            f"{t.item.due:%Y-%m-%d}",
            str(t.days_left),
            t.state,
            t.item.kind,
            t.item.label[:56],
            ", ".join(t.owners) or "(none)",
            _when(t),
        ]
        for t in tasks
    ]
    human = (
        table(rows, ["due", "days", "state", "kind", "label", "owners", "last alerted"])
        if tasks
        else ["Nothing falls due in that time, and nothing is overdue."]
    )
    emit(cli.json, [_task_data(t) for t in tasks], human)
    return EXIT_OK


def cmd_windows(cli: Cli) -> int:
    with cli.session() as session:
        if cli.args.set is not None:
            windows = cli.services.expiry.set_windows(session, cli.args.set)
            said = f"Alert windows set: {windows.text()} days (and overdue)."
        else:
            windows = cli.services.expiry.windows(session)
            said = f"Alert windows: {windows.text()} days (and overdue)."
    emit(cli.json, {"windows": list(windows.days)}, [said])
    return EXIT_OK


def _owners_data(o: AlertOwners) -> dict[str, Any]:
    return {
        "scope": o.scope,
        "label": o.label,
        "emails": list(o.emails),
        "changed_at": o.changed_at.isoformat(),
    }


def cmd_owners(cli: Cli) -> int:
    a = cli.args
    scope = (
        "default"
        if a.default
        else f"template:{a.template}"
        if a.template
        else f"key:{a.key}"
        if a.key
        else None
    )
    if scope is None:
        if a.email or a.clear:
            raise BadInput("Say whose owners: --default, --template NAME or --key LABEL.")
        with cli.session() as session:
            owners = cli.services.expiry.owners(session)
        rows = [[o.scope.split(":")[0], o.label, ", ".join(o.emails)] for o in owners]
        human = table(rows, ["scope", "of", "e-mail"]) if rows else ["No alert owners set."]
        emit(cli.json, [_owners_data(o) for o in owners], human)
        return EXIT_OK
    if a.clear and a.email:
        raise BadInput("Either --clear or --email, not both.")
    if not a.clear and not a.email:
        raise BadInput("Give the owners with --email (repeat for several), or --clear.")
    with cli.session() as session:
        if a.clear:
            removed = cli.services.expiry.clear_owners(session, scope)
            emit(
                cli.json,
                {"cleared": _owners_data(removed)},
                [f"Alert owners of {removed.label} removed ({', '.join(removed.emails)})."],
            )
        else:
            record = cli.services.expiry.set_owners(session, scope, a.email)
            emit(
                cli.json,
                _owners_data(record),
                [f"Alert owners of {record.label}: {', '.join(record.emails)}."],
            )
    return EXIT_OK


def _report_data(r: AlertReport) -> dict[str, Any]:
    return {
        "at": r.at.isoformat(),
        "items": r.items,
        "alerts": r.alerts,
        "sent": list(r.sent),
        "failures": [{"recipient": f.recipient, "reason": f.reason} for f in r.failures],
        "unowned": [{"kind": i.kind, "ref": i.ref, "label": i.label} for i in r.unowned],
        "unattended": r.unattended,
    }


def cmd_alert(cli: Cli) -> int:
    """Unattended by default (a timer): alerts carry no secret. ``--logon``: as the people
    whose cards are in the readers."""
    if cli.args.logon:
        with cli.session() as session:
            report = cli.services.expiry.send_alerts(session)
    else:
        report = cli.services.expiry.send_alerts(None)
    emit(cli.json, _report_data(report), [report.summary])
    return EXIT_FAILURE if report.failures else EXIT_OK


def cmd_calendar(cli: Cli) -> int:
    a = cli.args
    if Path(a.out).expanduser().exists():
        raise BadInput(f"{a.out} exists; choose a new file name (nothing is overwritten).")
    if not str(a.out).lower().endswith(".ics"):
        raise BadInput(f"{a.out}: name the calendar file *.ics.")
    with cli.session() as session:
        text = cli.services.expiry.calendar(session, within_days=a.days)
    written = write_new(a.out, text.encode("utf-8"))
    events = text.count("BEGIN:VEVENT")
    emit(
        cli.json,
        {"file": str(written), "events": events},
        [f"{events} due date{'s' * (events != 1)} written to {written} (iCalendar)."],
    )
    return EXIT_OK


def register(
    sub: Any, cmd: Callable[[Any, str, Callable[[Cli], int], str], argparse.ArgumentParser]
) -> None:
    expiry = sub.add_parser(
        "expiry", help="what falls due: task list, alert windows and owners, alerts, calendar"
    ).add_subparsers(dest="sub", required=True, metavar="ACTION")
    sp = cmd(expiry, "list", cmd_list, "keys and certificates due soon or overdue, soonest first")
    sp.add_argument("--days", type=int, help="how far ahead (default: the longest window)")
    sp = cmd(expiry, "windows", cmd_windows, "show or set the alert windows (days)")
    sp.add_argument("--set", metavar="DAYS", help="e.g. 90,30,7")
    sp = cmd(expiry, "owners", cmd_owners, "who is alerted: list, set or clear, per scope")
    scope = sp.add_mutually_exclusive_group()
    scope.add_argument("--default", action="store_true", help="items with no other owner")
    scope.add_argument("--template", metavar="NAME", help="the keys of a template")
    scope.add_argument("--key", metavar="LABEL", help="one key and its certificates")
    sp.add_argument("--email", action="append", metavar="ADDRESS", help="repeat for several")
    sp.add_argument("--clear", action="store_true", help="remove the scope's owners")
    sp = cmd(expiry, "alert", cmd_alert, "e-mail the owners what entered a window (once each)")
    sp.add_argument(
        "--logon", action="store_true", help="log on the cards first (default: unattended)"
    )
    sp = cmd(expiry, "calendar", cmd_calendar, "the due dates as an iCalendar (.ics) file")
    sp.add_argument("--out", required=True, metavar="FILE.ics", help="a new file")
    sp.add_argument("--days", type=int, help="how far ahead (default: the longest window)")
