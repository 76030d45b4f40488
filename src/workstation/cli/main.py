"""``workstation-cli``: the workstation's services for scripting and operations.

Every command that acts logs on the cards in the readers first (each holder types their
PIN; ``--pin-stdin`` reads them one per line, in reader order), and the same services and
policy checks run as in the GUI.

Exit codes: 0 done; 1 failure (device, unexpected); 2 bad input; 3 refused by policy
(quorum, roles, locked session); 4 authentication refused (PIN, card); 5 integrity
violation (a tampered record, a broken audit chain).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from workstation.config import default_home, load_config
from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.people import Role, Status
from workstation.domain.policy import Action, MediaExport, Quorum, describe_media_exports
from workstation.domain.records import format_time
from workstation.errors import BadInput, ErrorCategory, WorkstationError
from workstation.services.app import WorkstationServices
from workstation.services.initialise import OfficerCard
from workstation.services.ports import KeyQuery

from .console import CliSession, PinSource, emit, parse_date, resolve_reader, table

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_POLICY = 3
EXIT_AUTH = 4
EXIT_INTEGRITY = 5

EXIT_CODES = {
    ErrorCategory.FAILURE: EXIT_FAILURE,
    ErrorCategory.BAD_INPUT: EXIT_BAD_INPUT,
    ErrorCategory.POLICY: EXIT_POLICY,
    ErrorCategory.AUTHENTICATION: EXIT_AUTH,
    ErrorCategory.INTEGRITY: EXIT_INTEGRITY,
}


class Cli:
    def __init__(self, args: argparse.Namespace, services: WorkstationServices) -> None:
        self.args = args
        self.services = services
        self.pins = PinSource(from_stdin=args.pin_stdin)

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    def session(self, exclude: Sequence[str] = ()) -> CliSession:
        return CliSession(
            self.services,
            self.pins,
            readers=self.args.reader or (),
            exclude=exclude,
            requester=self.args.requester,
        )

    # --- no logon ------------------------------------------------------------------------

    def cmd_status(self) -> int:
        s = self.services
        info = s.ctx.hsm.info()
        initialised = s.ctx.repository.exists()
        readers = s.ctx.readers.readers()
        data: dict[str, Any] = {
            "initialised": initialised,
            "hsm": {
                "library": info.library,
                "manufacturer": info.manufacturer,
                "model": info.model,
                "serial": info.serial,
                "token": info.token_label,
            },
            "readers": [{"name": r.name, "card_present": r.card_present} for r in readers],
        }
        lines = [
            "Workstation: "
            + ("initialised" if initialised else "NOT initialised (run: workstation-cli init)"),
            f"HSM: {info.manufacturer} {info.model}, token {info.token_label!r} ({info.library})",
            f"Readers: {len(readers)}, cards inserted: {sum(r.card_present for r in readers)}",
        ]
        if initialised:
            with s.ctx.repository.unit_of_work() as uow:
                data["workstation_id"] = uow.meta.get("workstation_id")
                data["audit_entries"] = uow.audit.count()
                data["keys"] = uow.keys.count(KeyQuery())
                data["people"] = len(uow.people.list())
            lines += [
                f"Workstation id: {data['workstation_id']}",
                f"People: {data['people']}, keys: {data['keys']}, audit entries: "
                f"{data['audit_entries']}",
            ]
        emit(self.json, data, lines)
        return EXIT_OK

    def cmd_readers(self) -> int:
        s = self.services
        rows: list[dict[str, Any]] = []
        for i, r in enumerate(s.ctx.readers.readers()):
            row: dict[str, Any] = {"index": i, "reader": r.name, "card_present": r.card_present}
            if r.card_present and s.ctx.repository.exists():
                try:
                    info = s.logon.inspect(r.name)
                    row.update(
                        holder=info.holder,
                        roles=info.roles,
                        card_status=info.card_status,
                        pin_tries_left=info.retries_left,
                    )
                except WorkstationError as exc:
                    row.update(error=exc.user_message())
            rows.append(row)
        human = table(
            [
                [
                    str(r["index"]),
                    r["reader"],
                    "card" if r["card_present"] else "empty",
                    str(r.get("holder") or ("not enrolled" if r["card_present"] else "")),
                    str(r.get("card_status", r.get("error", ""))),
                    "" if r.get("pin_tries_left") is None else str(r["pin_tries_left"]),
                ]
                for r in rows
            ],
            ["#", "reader", "slot", "holder", "status", "PIN tries"],
        )
        emit(self.json, rows, human)
        return EXIT_OK

    def cmd_init(self) -> int:
        s = self.services
        if s.init.is_initialised():
            s.init.initialise([])  # raises AlreadyInitialised with the reason
        present = [r.name for r in s.ctx.readers.readers() if r.card_present]
        officers: list[OfficerCard] = []
        for i, spec in enumerate(self.args.officer):
            name, _, reader_ref = spec.partition("@")
            if reader_ref:
                reader = resolve_reader(s, reader_ref)
            elif i < len(present):
                reader = present[i]
            else:
                raise BadInput(
                    f"No card for officer {name!r}: insert one card per officer, or write "
                    "NAME@READER."
                )
            pin = self.pins.read(f"PIN for {name} ({reader}): ")
            officers.append(OfficerCard(reader=reader, name=name, pin=pin))
        result = s.init.initialise(officers)
        emit(
            self.json,
            {
                "workstation_id": result.workstation_id,
                "officers": result.officers,
                "templates": result.templates,
            },
            [
                f"Workstation {result.workstation_id} initialised.",
                f"Security officers: {', '.join(result.officers)}.",
                f"{result.templates} seed templates installed; group 'custodians A' (2 of n) "
                "is empty until members are added.",
            ],
        )
        return EXIT_OK

    def cmd_change_pin(self) -> int:
        reader = resolve_reader(self.services, self.args.card_reader)
        old = self.pins.read("Current PIN: ")
        new = self.pins.read("New PIN: ")
        if not self.args.pin_stdin:
            again = self.pins.read("New PIN again: ")
            if again != new:
                for b in (old, new, again):
                    b[:] = bytes(len(b))
                raise BadInput("The two new PINs differ; nothing was changed.")
            again[:] = bytes(len(again))
        name = self.services.people.change_pin(reader, old, new)
        emit(self.json, {"holder": name, "changed": True}, f"PIN changed for {name}'s card.")
        return EXIT_OK

    # --- people, cards, groups -----------------------------------------------------------

    def cmd_people_list(self) -> int:
        with self.session() as session:
            people = self.services.people.list_people(session)
        data = [
            {
                **p.to_record(),
                "cards": [
                    {
                        "id": c.short_id,
                        "status": c.status.value,
                        "expires": f"{c.not_after:%Y-%m-%d}",
                    }
                    for c in cards
                ],
            }
            for p, cards in people
        ]
        human = table(
            [
                [
                    p.name,
                    p.roles_text,
                    p.status.value,
                    ", ".join(f"{c.short_id} ({c.status.value})" for c in cards),
                ]
                for p, cards in people
            ],
            ["name", "roles", "status", "cards"],
        )
        emit(self.json, data, human)
        return EXIT_OK

    def cmd_people_enrol(self) -> int:
        reader = resolve_reader(self.services, self.args.card_reader)
        roles = [Role.parse(r) for r in self.args.role]
        with self.session(exclude=[reader]) as session:
            pin = self.pins.read(f"PIN of {self.args.name}'s new card ({reader}): ")
            person = self.services.people.enrol(
                session, name=self.args.name, roles=roles, reader=reader, pin=pin
            )
        emit(
            self.json,
            person.to_record(),
            f"Enrolled {person.name} ({person.roles_text}) with the card in {reader}.",
        )
        return EXIT_OK

    def cmd_people_add_card(self) -> int:
        reader = resolve_reader(self.services, self.args.card_reader)
        with self.session(exclude=[reader]) as session:
            pin = self.pins.read(f"PIN of the new card ({reader}): ")
            card = self.services.people.add_card(
                session, person=self.args.name, reader=reader, pin=pin
            )
        emit(
            self.json,
            {"card": card.id, "person": self.args.name},
            f"Card {card.short_id} enrolled for {self.args.name}.",
        )
        return EXIT_OK

    def cmd_people_status(self, target: Status) -> int:
        with self.session() as session:
            person = self.services.people.set_status(
                session, self.args.name, target, self.args.reason or ""
            )
        emit(self.json, person.to_record(), f"{person.name} is now {person.status.value}.")
        return EXIT_OK

    def cmd_people_roles(self) -> int:
        roles = [Role.parse(r) for r in self.args.role]
        with self.session() as session:
            person = self.services.people.set_roles(session, self.args.name, roles)
        emit(self.json, person.to_record(), f"{person.name}: {person.roles_text}.")
        return EXIT_OK

    def cmd_cards_status(self, target: Status) -> int:
        with self.session() as session:
            card = self.services.people.set_card_status(
                session, self.args.card, target, self.args.reason or ""
            )
        emit(
            self.json,
            {"card": card.id, "status": card.status.value},
            f"Card {card.short_id} is now {card.status.value}.",
        )
        return EXIT_OK

    def cmd_groups_list(self) -> int:
        with self.session() as session:
            groups = self.services.people.list_groups(session)
        data = [{"name": g.name, "threshold": g.threshold, "members": names} for g, names in groups]
        human = table(
            [[g.name, f"{g.threshold} of {len(names)}", ", ".join(names)] for g, names in groups],
            ["group", "threshold", "members"],
        )
        emit(self.json, data, human)
        return EXIT_OK

    def cmd_groups_create(self) -> int:
        with self.session() as session:
            g = self.services.people.create_group(
                session, self.args.name, self.args.threshold, self.args.member or []
            )
        emit(self.json, g.to_record(), f"Group {g.describe} created.")
        return EXIT_OK

    def cmd_groups_change(self) -> int:
        with self.session() as session:
            g = self.services.people.change_group(
                session,
                self.args.name,
                threshold=self.args.threshold,
                add=self.args.add or [],
                remove=self.args.remove or [],
            )
        emit(self.json, g.to_record(), f"Group {g.describe}.")
        return EXIT_OK

    # --- policy and templates ------------------------------------------------------------

    def cmd_policy_show(self) -> int:
        with self.session() as session:
            p = self.services.policies.current(session)
        human = [
            f"Policy version {p.version}; idle timeout {p.idle_timeout_seconds} s",
            "Kiosk exports allowed on removable media: "
            + describe_media_exports(p.removable_media_exports),
            "",
        ]
        human += table(
            [[a.value, q.describe()] for a, q in sorted(p.quorums.items())], ["action", "quorum"]
        )
        human += [
            "",
            "Roles one person may not hold together: "
            + "; ".join(
                " + ".join(sorted(r.value for r in pair))
                for pair in sorted(p.incompatible_roles, key=lambda x: sorted(x))
            ),
        ]
        emit(self.json, p.to_record(), human)
        return EXIT_OK

    def cmd_policy_set_quorum(self) -> int:
        action = Action.parse(self.args.action)
        quorum = Quorum.parse(self.args.quorum)
        with self.session() as session:
            p = self.services.policies.change(session, quorums={action: quorum})
        emit(
            self.json,
            p.to_record(),
            f"Policy version {p.version}: {action.display} now needs {quorum.describe()}.",
        )
        return EXIT_OK

    def cmd_policy_set_timeout(self) -> int:
        with self.session() as session:
            p = self.services.policies.change(session, idle_timeout_seconds=self.args.seconds)
        emit(
            self.json,
            p.to_record(),
            f"Policy version {p.version}: sessions lock after {p.idle_timeout_seconds} s idle.",
        )
        return EXIT_OK

    def cmd_policy_set_media_exports(self) -> int:
        words = [w for arg in self.args.kinds for w in arg.split(",") if w.strip()]
        if self.args.none == bool(words):
            raise BadInput(
                "Name the kinds of export a kiosk may write to removable media, or --none; "
                f"kinds: {', '.join(k.value for k in MediaExport)}."
            )
        kinds = frozenset(MediaExport.parse(w) for w in words)
        with self.session() as session:
            p = self.services.policies.change(session, removable_media_exports=kinds)
        emit(
            self.json,
            p.to_record(),
            f"Policy version {p.version}: kiosk exports allowed on removable media: "
            f"{describe_media_exports(p.removable_media_exports)}.",
        )
        return EXIT_OK

    def cmd_templates_list(self) -> int:
        with self.session() as session:
            ts = self.services.templates.list(session, include_retired=self.args.all)
        human = table(
            [
                [
                    t.name,
                    t.algorithm.value,
                    t.key_usage,
                    t.mode_of_use,
                    t.exportability,
                    f"{t.crypto_period_days} d",
                    t.status.value,
                ]
                for t in ts
            ],
            ["template", "algorithm", "usage", "mode", "export", "period", "status"],
        )
        emit(self.json, [t.to_record() for t in ts], human)
        return EXIT_OK

    def cmd_templates_show(self) -> int:
        with self.session() as session:
            t = self.services.templates.show(session, self.args.name)
        rec = t.to_record()
        human = [f"{k}: {v}" for k, v in rec.items()]
        emit(self.json, rec, human)
        return EXIT_OK

    def _template_fields(self) -> dict[str, Any]:
        a = self.args
        quorums = {}
        for spec in a.quorum or []:
            action, sep, text = spec.partition("=")
            if not sep:
                raise BadInput(f"--quorum takes ACTION=QUORUM, not {spec!r}.")
            quorums[action] = text
        return {
            "name": a.new_name if hasattr(a, "new_name") else a.name,
            "description": a.description,
            "algorithm": a.algorithm,
            "key_usage": a.usage,
            "mode_of_use": a.mode,
            "exportability": a.exportability,
            "crypto_period_days": a.period_days,
            "label_pattern": a.label_pattern,
            "allowed_actions": a.allow if a.allow else None,
            "quorums": quorums or None,
            "test_key": True if a.test_key else None,
        }

    def cmd_templates_create(self) -> int:
        with self.session() as session:
            t = self.services.templates.create(session, **self._template_fields())
        emit(self.json, t.to_record(), f"Template {t.name!r} created.")
        return EXIT_OK

    def cmd_templates_edit(self) -> int:
        fields = self._template_fields()
        with self.session() as session:
            t = self.services.templates.edit(session, self.args.name, **fields)
        emit(self.json, t.to_record(), f"Template {t.name!r} is now version {t.version}.")
        return EXIT_OK

    def cmd_templates_retire(self) -> int:
        with self.session() as session:
            t = self.services.templates.retire(session, self.args.name)
        emit(self.json, t.to_record(), f"Template {t.name!r} retired.")
        return EXIT_OK

    # --- keys ----------------------------------------------------------------------------

    @staticmethod
    def key_row(k: ManagedKey) -> list[str]:
        return [
            k.label,
            k.algorithm.value,
            k.key_usage,
            k.kcv[:6],
            k.state.value,
            f"{k.deactivation_date:%Y-%m-%d}",
        ]

    KEY_HEADERS = ("label", "algorithm", "usage", "KCV", "state", "expires")

    @staticmethod
    def key_data(k: ManagedKey) -> dict[str, Any]:
        rec = k.to_record()
        rec.pop("wrapped")
        return rec

    def cmd_keys_generate(self) -> int:
        activation = (
            parse_date(self.args.activation_date, "activation date")
            if self.args.activation_date
            else None
        )
        with self.session() as session:

            def progress(done: int, total: int) -> None:
                if total > 1 and not self.json:
                    print(f"\r{done}/{total} keys", end="", file=sys.stderr, flush=True)

            result = self.services.keys.generate(
                session,
                self.args.template,
                count=self.args.count,
                label=self.args.label,
                activation_date=activation,
                progress=progress,
            )
            if self.args.count > 1 and not self.json:
                print(file=sys.stderr)
        keys = result.keys
        human = table([self.key_row(k) for k in keys[:50]], self.KEY_HEADERS)
        if len(keys) > 50:
            human.append(f"... and {len(keys) - 50} more")
        human.append(f"{len(keys)} of {result.requested} key(s) generated.")
        if result.stopped_reason:
            human.append(f"Stopped: {result.stopped_reason}.")
        emit(
            self.json,
            {
                "generated": [self.key_data(k) for k in keys],
                "requested": result.requested,
                "stopped": result.stopped_reason,
            },
            human,
        )
        return EXIT_OK if result.stopped_reason is None else EXIT_POLICY

    def cmd_keys_list(self) -> int:
        a = self.args
        expiring = None
        if a.expiring_days is not None:
            from datetime import timedelta

            expiring = self.services.ctx.clock.now() + timedelta(days=a.expiring_days)
        template_id = None
        with self.session() as session:
            if a.template:
                template_id = self.services.templates.show(session, a.template).id
            query = KeyQuery(
                states=tuple(KeyState.parse(s) for s in (a.state or [])),
                key_usage=a.usage.upper() if a.usage else None,
                algorithm=KeyAlgorithm.parse(a.algorithm) if a.algorithm else None,
                template_id=template_id,
                label=a.label,
                kcv=a.kcv,
                expiring_before=expiring,
                limit=a.limit,
                offset=a.offset,
            )
            keys, total = self.services.keys.query(session, query)
        human = table([self.key_row(k) for k in keys], self.KEY_HEADERS)
        human.append(f"{len(keys)} shown of {total} matching.")
        emit(self.json, {"keys": [self.key_data(k) for k in keys], "total": total}, human)
        return EXIT_OK

    def cmd_keys_expiring(self) -> int:
        with self.session() as session:
            keys = self.services.keys.expiring(session, self.args.days)
        human = table([self.key_row(k) for k in keys], self.KEY_HEADERS)
        human.append(
            f"{len(keys)} key(s) reach the end of their crypto-period within {self.args.days} days."
        )
        emit(self.json, [self.key_data(k) for k in keys], human)
        return EXIT_OK

    def cmd_keys_show(self) -> int:
        with self.session() as session:
            d = self.services.keys.detail(session, self.args.key)
        k = d.key
        human = [
            f"Label:        {k.label}",
            f"Id:           {k.id}",
            f"Template:     {d.template.name if d.template else k.template_id}",
            f"Algorithm:    {k.algorithm.value}",
            f"TR-31:        usage {k.key_usage}, mode {k.mode_of_use}, export {k.exportability}",
            f"KCV:          {k.kcv}",
            f"State:        {k.state.value}",
            f"Version:      {k.version}",
            f"Created:      {format_time(k.created_at)}",
            f"Activation:   {format_time(k.activation_date)}",
            f"Deactivation: {format_time(k.deactivation_date)}",
            f"Predecessor:  {k.predecessor_id or '-'}",
            f"Successor:    {k.successor_id or '-'}",
            "Integrity:    "
            + (
                "sealed record verified by the HSM"
                if d.integrity_ok
                else "FAILED: the record was changed outside the workstation"
            ),
            "",
            "History:",
        ]
        for e in d.history:
            human.append(
                f"  {format_time(e.at)}  {e.action.value:<15} "
                f"{(e.from_state.value if e.from_state else '-'):>14} -> "
                f"{e.to_state.value:<14} {', '.join(e.people)}"
                + (f"  ({e.reason})" if e.reason else "")
            )
        data = {
            "key": self.key_data(k),
            "integrity_ok": d.integrity_ok,
            "history": [e.to_record() for e in d.history],
            "audit": [{"seq": e.seq, **e.body} for e in d.audit_trail],
        }
        emit(self.json, data, human)
        return EXIT_OK if d.integrity_ok else EXIT_INTEGRITY

    def cmd_keys_transition(self, action: Action) -> int:
        date = (
            parse_date(self.args.date, "compromise date")
            if getattr(self.args, "date", None)
            else None
        )
        with self.session() as session:
            k = self.services.keys.change_state(
                session,
                self.args.key,
                action,
                reason=getattr(self.args, "reason", "") or "",
                compromise_date=date,
            )
        emit(
            self.json, self.key_data(k), f"Key {k.label} (KCV {k.kcv[:6]}) is now {k.state.value}."
        )
        return EXIT_OK

    def cmd_keys_rotate(self) -> int:
        with self.session() as session:
            old, new = self.services.keys.rotate(
                session, self.args.key, reason=self.args.reason or ""
            )
        emit(
            self.json,
            {"predecessor": self.key_data(old), "successor": self.key_data(new)},
            [
                f"Key {old.label} rotated: successor {new.label} (KCV {new.kcv[:6]}, "
                f"{new.state.value}, version {new.version})."
            ],
        )
        return EXIT_OK

    def cmd_keys_verify(self) -> int:
        with self.session() as session:
            k = self.services.keys.verify(session, self.args.key)
        emit(
            self.json,
            {"label": k.label, "kcv": k.kcv, "verified": True},
            f"Key {k.label}: seal verified, KCV {k.kcv} recomputed in the HSM and matches.",
        )
        return EXIT_OK

    # --- audit ---------------------------------------------------------------------------

    def cmd_audit_verify(self) -> int:
        with self.session() as session:
            report = self.services.audit.verify(session)
        emit(self.json, report.to_dict(), report.summary())
        return EXIT_OK if report.ok else EXIT_INTEGRITY

    def cmd_audit_export(self) -> int:
        path = Path(self.args.file).resolve()
        with self.session() as session:
            count, key_path = self.services.audit.export(session, path)
        emit(
            self.json,
            {"file": str(path), "entries": count, "public_key": str(key_path)},
            [
                f"{count} audit entries exported to {path}.",
                f"Audit public key: {key_path}",
                f"Verify anywhere with: workstation-audit-verify {path} --public-key {key_path}",
            ],
        )
        return EXIT_OK

    def cmd_audit_show(self) -> int:
        a = self.args
        with self.session() as session:
            entries = self.services.audit.search(
                session,
                person=a.person,
                action=a.action,
                object_id=a.object,
                since=parse_date(a.since, "start") if a.since else None,
                until=parse_date(a.until, "end", end_of_day=True) if a.until else None,
                limit=a.limit,
            )
        human = table(
            [
                [
                    str(e.seq),
                    e.at[:19],
                    e.action,
                    str(e.body.get("object_label") or e.body.get("object_id", ""))[:30],
                    f"{e.body.get('before') or ''} -> {e.body.get('after') or ''}"
                    if e.body.get("after")
                    else "",
                    ", ".join(m["name"] for m in e.body.get("members", [])),
                ]
                for e in entries
            ],
            ["seq", "time (UTC)", "action", "object", "change", "people"],
        )
        emit(self.json, [{"seq": e.seq, "hash": e.hash.hex(), **e.body} for e in entries], human)
        return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="workstation-cli",
        description="Key Custodian Workstation: keys, people, policies and audit, from the "
        "command line. Commands that act log on the cards in the readers first.",
        epilog="Exit codes: 0 done, 1 failure, 2 bad input, 3 refused by policy, "
        "4 authentication refused, 5 integrity violation.",
    )
    p.add_argument(
        "--home",
        type=Path,
        default=None,
        help="workstation data directory (default $KCW_HOME or "
        "~/.local/share/key-custodian-workstation)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--pin-stdin",
        action="store_true",
        help="read PINs from standard input, one per line, in the order asked",
    )
    p.add_argument(
        "--reader",
        action="append",
        metavar="READER",
        help="log on only the card in this reader (index, name or part of it); "
        "repeat for a group; default: every inserted card",
    )
    p.add_argument(
        "--requester",
        metavar="NAME",
        help="who requests the action (default: the first card logged on)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="more detail in the log file")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cmd(
        parent: Any, name: str, handler: Callable[[Cli], int], help_text: str
    ) -> argparse.ArgumentParser:
        sp: argparse.ArgumentParser = parent.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(handler=handler)
        return sp

    cmd(
        sub,
        "status",
        Cli.cmd_status,
        "show whether the workstation is initialised, the HSM and readers",
    )
    cmd(sub, "readers", Cli.cmd_readers, "list card readers, inserted cards and their holders")
    sp = cmd(
        sub,
        "init",
        Cli.cmd_init,
        "initialise: repository, HSM keys, the first two security officers",
    )
    sp.add_argument(
        "--officer",
        action="append",
        required=True,
        metavar="NAME[@READER]",
        help="a security officer (twice at least); cards taken in reader order "
        "unless @READER is given",
    )
    sp = cmd(sub, "change-pin", Cli.cmd_change_pin, "change the PIN of your card")
    sp.add_argument("--card-reader", required=True, metavar="READER")

    people = sub.add_parser("people", help="people and their roles").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    cmd(people, "list", Cli.cmd_people_list, "list enrolled people")
    sp = cmd(people, "enrol", Cli.cmd_people_enrol, "enrol a person with the card in --card-reader")
    sp.add_argument("--name", required=True)
    sp.add_argument(
        "--role",
        action="append",
        required=True,
        help="security_officer, key_custodian, supervisor or auditor (repeat)",
    )
    sp.add_argument(
        "--card-reader",
        required=True,
        metavar="READER",
        help="the reader holding the new person's card",
    )
    sp = cmd(people, "add-card", Cli.cmd_people_add_card, "enrol a further card for a person")
    sp.add_argument("name")
    sp.add_argument("--card-reader", required=True, metavar="READER")
    for verb, target in (
        ("suspend", Status.SUSPENDED),
        ("reinstate", Status.ACTIVE),
        ("revoke", Status.REVOKED),
    ):
        sp = cmd(people, verb, partial(Cli.cmd_people_status, target=target), f"{verb} a person")
        sp.add_argument("name")
        sp.add_argument("--reason")
    sp = cmd(people, "roles", Cli.cmd_people_roles, "set a person's roles")
    sp.add_argument("name")
    sp.add_argument("--role", action="append", required=True)

    cards = sub.add_parser("cards", help="enrolled cards").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    for verb, target in (
        ("suspend", Status.SUSPENDED),
        ("reinstate", Status.ACTIVE),
        ("revoke", Status.REVOKED),
    ):
        sp = cmd(cards, verb, partial(Cli.cmd_cards_status, target=target), f"{verb} a card")
        sp.add_argument("card", help="card id (at least 8 hex digits, see 'people list')")
        sp.add_argument("--reason")

    groups = sub.add_parser("groups", help="groups with an m-of-n threshold").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    cmd(groups, "list", Cli.cmd_groups_list, "list groups")
    sp = cmd(groups, "create", Cli.cmd_groups_create, "create a group")
    sp.add_argument("name")
    sp.add_argument("--threshold", type=int, required=True, help="m: how many must act together")
    sp.add_argument("--member", action="append")
    sp = cmd(groups, "change", Cli.cmd_groups_change, "change members or threshold")
    sp.add_argument("name")
    sp.add_argument("--threshold", type=int)
    sp.add_argument("--add", action="append", metavar="PERSON")
    sp.add_argument("--remove", action="append", metavar="PERSON")

    policy = sub.add_parser("policy", help="quorums and session policy").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    cmd(policy, "show", Cli.cmd_policy_show, "show the policy in force")
    sp = cmd(
        policy,
        "set-quorum",
        Cli.cmd_policy_set_quorum,
        "set the quorum of an action, e.g. destroy_key '1 security_officer + 1 supervisor'",
    )
    sp.add_argument("action")
    sp.add_argument("quorum")
    sp = cmd(
        policy, "set-idle-timeout", Cli.cmd_policy_set_timeout, "lock sessions after SECONDS idle"
    )
    sp.add_argument("seconds", type=int)
    sp = cmd(
        policy,
        "set-media-exports",
        Cli.cmd_policy_set_media_exports,
        "the kinds of export a kiosk may write to removable media (replaces the list): "
        + ", ".join(k.value for k in MediaExport),
    )
    sp.add_argument("kinds", nargs="*", metavar="KIND")
    sp.add_argument("--none", action="store_true", help="nothing: the kiosk's outbox only")

    templates = sub.add_parser("templates", help="key templates").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    sp = cmd(templates, "list", Cli.cmd_templates_list, "list templates")
    sp.add_argument("--all", action="store_true", help="include retired templates")
    sp = cmd(templates, "show", Cli.cmd_templates_show, "show a template")
    sp.add_argument("name")

    def template_fields(sp: argparse.ArgumentParser, required: bool) -> None:
        sp.add_argument("--description")
        sp.add_argument(
            "--algorithm", required=required, help=", ".join(a.value for a in KeyAlgorithm)
        )
        sp.add_argument("--usage", required=required, help="TR-31 key usage, e.g. K0, P0, B0")
        sp.add_argument("--mode", required=required, help="TR-31 mode of use, e.g. B, E, X")
        sp.add_argument("--exportability", required=required, help="E, N or S")
        sp.add_argument("--period-days", type=int, required=required, help="crypto-period")
        sp.add_argument("--label-pattern", required=required, help="e.g. 'ZMK-{date}-{seq:04d}'")
        sp.add_argument(
            "--allow",
            action="append",
            metavar="ACTION",
            help="key actions allowed (repeat); default all",
        )
        sp.add_argument(
            "--quorum",
            action="append",
            metavar="ACTION=QUORUM",
            help="override the policy for this template's keys",
        )
        sp.add_argument("--test-key", action="store_true", help="keys are test keys")

    sp = cmd(templates, "create", Cli.cmd_templates_create, "create a template")
    sp.add_argument("name")
    template_fields(sp, True)
    sp = cmd(templates, "edit", Cli.cmd_templates_edit, "edit a template (a new version)")
    sp.add_argument("name")
    sp.add_argument("--new-name", dest="new_name")
    template_fields(sp, False)
    sp = cmd(templates, "retire", Cli.cmd_templates_retire, "retire a template")
    sp.add_argument("name")

    keys = sub.add_parser("keys", help="keys and their lifecycle").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    sp = cmd(keys, "generate", Cli.cmd_keys_generate, "generate keys from a template in the HSM")
    sp.add_argument("--template", required=True)
    sp.add_argument("--count", type=int, default=1)
    sp.add_argument("--label")
    sp.add_argument("--activation-date", metavar="YYYY-MM-DD")
    sp = cmd(keys, "list", Cli.cmd_keys_list, "inventory")
    sp.add_argument("--state", action="append")
    sp.add_argument("--usage")
    sp.add_argument("--algorithm")
    sp.add_argument("--template")
    sp.add_argument("--label", help="part of the label")
    sp.add_argument("--kcv", help="start of the KCV")
    sp.add_argument("--expiring-days", type=int, metavar="N")
    sp.add_argument("--limit", type=int, default=200)
    sp.add_argument("--offset", type=int, default=0)
    sp = cmd(keys, "expiring", Cli.cmd_keys_expiring, "keys whose crypto-period ends within N days")
    sp.add_argument("--days", type=int, default=30)
    sp = cmd(keys, "show", Cli.cmd_keys_show, "a key's attributes, history and integrity")
    sp.add_argument("key", help="label or id")
    for verb, action in (
        ("activate", Action.ACTIVATE_KEY),
        ("suspend", Action.SUSPEND_KEY),
        ("reinstate", Action.REINSTATE_KEY),
        ("deactivate", Action.DEACTIVATE_KEY),
        ("compromise", Action.COMPROMISE_KEY),
        ("destroy", Action.DESTROY_KEY),
    ):
        sp = cmd(keys, verb, partial(Cli.cmd_keys_transition, action=action), f"{verb} a key")
        sp.add_argument("key", help="label or id")
        sp.add_argument("--reason", required=action in (Action.COMPROMISE_KEY, Action.DESTROY_KEY))
        if action is Action.COMPROMISE_KEY:
            sp.add_argument("--date", metavar="YYYY-MM-DD", help="when the compromise happened")
    sp = cmd(keys, "rotate", Cli.cmd_keys_rotate, "make a successor from the same template")
    sp.add_argument("key")
    sp.add_argument("--reason")
    sp = cmd(keys, "verify", Cli.cmd_keys_verify, "check a key's seal and recompute its KCV")
    sp.add_argument("key")

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    cmd(audit, "verify", Cli.cmd_audit_verify, "verify the hash chain and signed checkpoints")
    sp = cmd(audit, "export", Cli.cmd_audit_export, "export for the standalone verifier")
    sp.add_argument("file")
    sp = cmd(audit, "show", Cli.cmd_audit_show, "search the log")
    sp.add_argument("--person")
    sp.add_argument("--action", help="e.g. key. or key.destroy")
    sp.add_argument("--object", help="object id")
    sp.add_argument("--since", metavar="DATE")
    sp.add_argument("--until", metavar="DATE")
    sp.add_argument("--limit", type=int, default=100)

    from .ceremonies import register
    from .certificates import register as register_certificates
    from .distribution import register as register_distribution
    from .emv import register as register_emv
    from .endpoints import register as register_endpoints
    from .expiry import register as register_expiry
    from .interchange import register as register_interchange
    from .rkl import register as register_rkl

    register(sub, cmd)
    register_interchange(sub, cmd)
    register_certificates(sub, cmd)
    register_endpoints(sub, cmd)
    register_rkl(sub, cmd)
    register_emv(sub, cmd)
    register_expiry(sub, cmd)
    register_distribution(sub, cmd)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    home = args.home or default_home()
    services: WorkstationServices | None = None
    try:
        from workstation.bootstrap import build, setup_logging

        setup_logging(load_config(home), verbose=args.verbose)
        _, services = build(home)
        cli = Cli(args, services)
        code: int = args.handler(cli)
        return code
    except WorkstationError as exc:
        log.warning("refused or failed: %s (%s)", exc.user_message(), exc.detail or "")
        print(f"error: {exc.user_message()}", file=sys.stderr)
        return EXIT_CODES[exc.category]
    except KeyboardInterrupt:
        print("interrupted; nothing further was done.", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        if services is not None:
            try:
                services.close()
            except Exception:
                log.exception("closing the devices failed")


if __name__ == "__main__":
    sys.exit(main())
