"""The demonstration workstation: SoftHSM2 token, pcscd with virtual readers, virtual cards.

``python -m workstation.devtools.demo start --home DIR`` (what ``make run`` does):

1. starts the virtual card daemon (and pcscd with six virtual readers),
2. issues a virtual PIV card to each demo person (PIN 123456) from a demo CA,
3. on first run provisions the SoftHSM2 token, initialises the workstation with the two
   security officers' cards, enrols the custodians, the supervisor and the auditor, and
   puts the three custodians in group "custodians A" (2 of 3) — all through the same
   services and policies as ``workstation-cli``,
4. makes three key agents on loopback and registers them as key stores (first run), or
   starts them again (``devtools/demo_agents.py``),
5. prints how to insert cards and use the workstation.

``stop`` stops the agents, removes the cards and stops the daemon (and the pcscd it
started).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from workstation.bootstrap import build
from workstation.config import save_config
from workstation.devtools.cast import CAST, CUSTODIAN_GROUP, DEMO_PIN, DemoPerson
from workstation.devtools.demo_agents import provision_agents, start_agents, stop_agents
from workstation.devtools.demo_ca import DEMO_CA_NAME, DemoCa
from workstation.devtools.vcard_cli import DaemonClient, start_daemon, stop_daemon
from workstation.domain.people import Role
from workstation.errors import BadInput, WorkstationError
from workstation.services.app import WorkstationServices
from workstation.services.initialise import OfficerCard

ENROL_READER = 5  # the reader new people's cards go into during enrolment
DEMO_PARTNER = "Demo Acquirer Bank"


def demo_ca_dir(home: Path) -> Path:
    return home / "demo-ca"


def card_dir(home: Path) -> Path:
    return home / "demo-cards"


def vcard_state(home: Path) -> Path:
    return home / "vcard"


def card_file(home: Path, person: DemoPerson) -> Path:
    return card_dir(home) / f"{person.slug}.json"


def issue_cards(home: Path) -> None:
    from workstation.devtools.card_issuer import DemoCa, issue_card

    directory = card_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    ca = DemoCa.load_or_create(directory / "demo-ca")
    for person in CAST:
        path = card_file(home, person)
        if not path.exists():
            issue_card(path, person.name, DEMO_PIN, valid_days=3 * 365, ca=ca)


def _pin() -> bytearray:
    return bytearray(DEMO_PIN.encode())


def provision(home: Path, services: WorkstationServices, cards: DaemonClient) -> None:
    """Initialise the workstation and enrol the cast, as the officers would."""
    officers = [p for p in CAST if Role.SECURITY_OFFICER in p.roles]
    readers = [cards.insert(card_file(home, p), i) for i, p in enumerate(officers)]
    try:
        services.init.initialise(
            [OfficerCard(r, p.name, _pin()) for r, p in zip(readers, officers, strict=True)]
        )
        session = services.logon.open_session()
        for reader in readers:
            services.logon.log_on(session, reader, _pin())
        try:
            for person in CAST:
                if person in officers:
                    continue
                reader = cards.insert(card_file(home, person), ENROL_READER)
                try:
                    services.people.enrol(
                        session, name=person.name, roles=person.roles, reader=reader, pin=_pin()
                    )
                finally:
                    cards.remove(ENROL_READER)
            custodians = [p.name for p in CAST if Role.KEY_CUSTODIAN in p.roles]
            services.people.change_group(session, CUSTODIAN_GROUP, add=custodians)
            # A partner to exchange keys with (partners: a security officer + a supervisor).
            supervisor = next(p for p in CAST if Role.SUPERVISOR in p.roles)
            reader = cards.insert(card_file(home, supervisor), ENROL_READER)
            try:
                services.logon.log_on(session, reader, _pin())
                services.interchange.add_partner(
                    session,
                    DEMO_PARTNER,
                    "bank",
                    notes="Demo partner: exchanges TR-31 key blocks under a shared ZMK.",
                )
                # A CA to certify the demo's key pairs (sign-csr below plays its part).
                services.interchange.add_partner(
                    session,
                    DEMO_CA_NAME,
                    "other",
                    ca_certificates=[DemoCa(demo_ca_dir(home)).create()],
                    notes="Demo CA: issues certificates for the demo's key pairs (sign-csr).",
                )
            finally:
                cards.remove(ENROL_READER)
        finally:
            session.close()
    finally:
        for i in range(len(officers)):
            cards.remove(i)
    services.ctx.checkpoint(force=True)


def start(home: Path) -> int:
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    print(f"Demo workstation in {home}")
    issue_cards(home)
    start_daemon(vcard_state(home))
    cards = DaemonClient(vcard_state(home))
    config, services = build(home)
    try:
        if not config.demo:
            config.demo = True
            save_config(config)
        if not services.ctx.repository.exists():
            print("First run: initialising the workstation and enrolling the demo people ...")
            provision(home, services, cards)
            print("Making three key agents (branch hosts) and registering them as key stores ...")
            provision_agents(home, config, services, cards, card_file)
        else:
            start_agents(home)
        with services.ctx.repository.unit_of_work() as uow:
            people = len(uow.people.list())
            entries = uow.audit.count()
        info = services.ctx.hsm.info()
    finally:
        services.close()
    print_guide(home, people, entries, info.token_label)
    return 0


def print_guide(home: Path, people: int, entries: int, token: str) -> None:
    bindir = Path(sys.executable).parent
    cli = shlex.quote(str(bindir / "workstation-cli")) + " --home " + shlex.quote(str(home))
    state = " --state " + shlex.quote(str(vcard_state(home)))
    vcard_bin = shlex.quote(str(bindir / "workstation-vcard"))
    demo = f"{shlex.quote(sys.executable)} -m workstation.devtools.demo sign-csr"
    demo_home = f"--home {shlex.quote(str(home))}"

    def insert(slug: str, reader: int) -> str:
        card = shlex.quote(str(card_dir(home) / (slug + ".json")))
        return f"{vcard_bin} insert {card} --reader {reader}{state}"

    def remove(reader: int) -> str:
        return f"{vcard_bin} remove --reader {reader}{state}"

    print(
        f"""
The demo workstation is running: SoftHSM2 token {token!r}, pcscd with 6 virtual readers,
{people} people enrolled, {entries} audit entries.

Every demo card's PIN is {DEMO_PIN}. The cards (virtual PIV, in {card_dir(home)}):
"""
    )
    for p in CAST:
        print(f"  {p.slug:<7} {p.name:<17} {', '.join(r.display for r in p.roles)}")
    print(
        f"""
Try dual control: two custodians insert their cards and generate a PIN encryption key.

  {insert("cara", 0)}
  {insert("carl", 1)}
  {cli} readers
  {cli} keys generate --template "PIN encryption key"
  {cli} keys list

A single custodian is refused (the policy needs 2 key custodians):

  {remove(1)}
  {cli} keys generate --template "PIN encryption key"

Activation needs a custodian and a supervisor; the auditor verifies the log:

  {insert("sam", 1)}
  {cli} keys activate <LABEL>
  {remove(0)}
  {remove(1)}
  {insert("alex", 0)}
  {cli} audit verify

Send a key to the demo partner ({DEMO_PARTNER!r}) as a TR-31 key block: a zone master
key (2 of group custodians A), activated (a custodian and a supervisor), then the export
(2 custodians and a supervisor):

  {remove(0)}
  {insert("cara", 0)}
  {insert("carl", 1)}
  {insert("sam", 2)}
  {cli} keys generate --template "Zone master key (KEK)"
  {cli} keys activate <ZMK LABEL>
  {cli} tr31 export <PEK LABEL> --kek <ZMK LABEL> --partner "{DEMO_PARTNER}"

Certify a TLS server key pair: two custodians generate it, a custodian and a supervisor
have its request signed in the HSM, the demo CA ({DEMO_CA_NAME!r}) issues the
certificate, and the workstation checks it before keeping it; it then shows as due:

  {cli} keys generate --template "TLS server key pair"
  {cli} certs request <TLS LABEL> --subject "CN=pay.demo.example,O=Demo Bank" \\
      --dns pay.demo.example --out pay.csr
  {demo} {demo_home} pay.csr --out pay.pem --days 20
  {cli} certs import <TLS LABEL> pay.pem --partner "{DEMO_CA_NAME}"
  {cli} expiry list

Push the PIN key to the three demo key agents (branch hosts on loopback, mutual TLS),
then see which key versions each holds:

  {cli} targets list
  {cli} distribute <PEK LABEL> --tag branch
  {cli} targets check

Stop the demo's key agents, card daemon and pcscd with: make demo-stop
"""
    )


def stop(home: Path) -> int:
    agents = stop_agents(home.resolve())
    if agents:
        print(f"{agents} demo key agents stopped.")
    stopped = stop_daemon(vcard_state(home.resolve()))
    print("Demo card daemon stopped." if stopped else "The demo card daemon was not running.")
    return 0


def sign_csr(home: Path, request: Path, out: Path, days: int) -> int:
    """The demo CA's counter: a certificate for a request, written to a new file."""
    from workstation.files import write_new

    try:
        data = request.read_bytes()
    except OSError as exc:
        raise BadInput(f"Cannot read {request}: {exc.strerror}.") from None
    write_new(str(out), DemoCa(demo_ca_dir(home.resolve())).sign(data, days=days))
    print(f"Certificate for the request in {request} written to {out} ({days} days).")
    return 0


def open_gui(home: Path) -> int:
    """Start the desktop application on the demo workstation, when there is a screen."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print(
            "No display found, so the desktop application was not opened. On a desktop, run:\n"
            f"  {Path(sys.executable).parent / 'workstation'} --home {home}\n"
            "or try it on a virtual screen with: xvfb-run -a <that command>.",
        )
        return 0
    from workstation.gui.app import main as gui_main

    return gui_main(["--home", str(home)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workstation.devtools.demo")
    home = argparse.ArgumentParser(add_help=False)
    home.add_argument("--home", type=Path, required=True)
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sp = sub.add_parser("start", parents=[home], help="start (and on first run provision)")
    sp.add_argument("--gui", action="store_true", help="then open the desktop application")
    sub.add_parser("stop", parents=[home], help="remove the cards, stop the card daemon")
    sp = sub.add_parser("sign-csr", parents=[home], help="the demo CA certifies a request")
    sp.add_argument("request", type=Path, help="the PKCS#10 request (PEM or DER)")
    sp.add_argument("--out", type=Path, required=True, help="the certificate (PEM)")
    sp.add_argument("--days", type=int, default=397, help="validity (default 397 days)")
    args = parser.parse_args(argv)
    try:
        if args.action == "stop":
            return stop(args.home)
        if args.action == "sign-csr":
            return sign_csr(args.home, args.request, args.out, args.days)
        code = start(args.home)
        if code == 0 and args.gui:
            code = open_gui(args.home.resolve())
        return code
    except WorkstationError as exc:
        print(f"error: {exc.user_message()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
