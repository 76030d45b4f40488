"""Render the main screens to docs/screenshots/*.png (``make screenshots``, under xvfb-run).

Runs the real workstation on a fresh demo home: SoftHSM2 token, pcscd with the virtual
readers, virtual PIV cards inserted through the demo card daemon, the real services.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QDialog, QWidget, QWizard

DEMO_PIN = bytearray(b"123456")


def wait_until(
    app: QApplication, condition: Callable[[], bool], what: str, timeout: float = 20.0
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.02)


def settle(app: QApplication, seconds: float = 0.4) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def save(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print(f"wrote {path}")


def top_dialog(app: QApplication) -> QWidget | None:
    for w in app.topLevelWidgets():
        if w.isVisible() and isinstance(w, QDialog | QWizard):
            return w
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kcw-shots-") as tmp:
        home = Path(tmp) / "home"
        demo = [sys.executable, "-m", "workstation.devtools.demo"]
        subprocess.run([*demo, "start", "--home", str(home)], check=True, stdout=subprocess.DEVNULL)
        try:
            return shoot(home, out)
        finally:
            subprocess.run(
                [*demo, "stop", "--home", str(home)], check=False, stdout=subprocess.DEVNULL
            )


def shoot(home: Path, out: Path) -> int:
    from workstation.bootstrap import build
    from workstation.devtools.vcard_cli import DaemonClient
    from workstation.domain.policy import Action
    from workstation.gui.actions import perform
    from workstation.gui.main_window import MainWindow
    from workstation.gui.state import AppState

    app = QApplication([sys.argv[0]])
    _config, services = build(home)
    settings = QSettings(str(home / "gui-shots.ini"), QSettings.Format.IniFormat)
    state = AppState(services, home=home, demo=True, settings=settings)
    window = MainWindow(state)
    window.resize(1280, 800)
    state.start()
    window.show()
    cards = DaemonClient(home / "vcard")

    def card(slug: str) -> Path:
        return home / "demo-cards" / f"{slug}.json"

    try:
        r0 = cards.insert(card("cara"), 0)
        wait_until(app, lambda: any(r.card_present for r in state.readers), "a card")
        settle(app, 1.0)
        save(window, out / "01-logon.png")
        shoot_logon_pin(app, window, out)

        done: list[object] = []
        state.log_on(r0, bytearray(DEMO_PIN), on_done=done.append)
        wait_until(app, lambda: len(done) == 1, "Cara's logon")
        r1 = cards.insert(card("carl"), 1)
        wait_until(app, lambda: sum(r.card_present for r in state.readers) == 2, "Carl's card")
        state.log_on(r1, bytearray(DEMO_PIN), on_done=done.append)
        wait_until(app, lambda: len(done) == 2, "Carl's logon")

        made: list[object] = []

        def generate(template: str, count: int) -> Callable[[object], object]:
            def work(_: object) -> object:
                assert state.session is not None
                return services.keys.generate(state.session, template, count=count)

            return work

        for template, count in (
            ("PIN encryption key", 12),
            ("MAC key", 8),
            ("Card verification key", 5),
            ("Zone master key (KEK)", 2),
        ):
            state.run(generate(template, count), on_done=made.append)
        wait_until(app, lambda: len(made) == 4, "key generation", timeout=60)
        state.data_changed.emit("keys")
        window.tabs.setCurrentWidget(window.dashboard)
        settle(app, 1.5)
        save(window, out / "02-dashboard.png")

        window.tabs.setCurrentWidget(window.keys)
        settle(app, 1.5)
        view = window.keys.findChild(QWidget, "keyTable")
        if view is not None and hasattr(view, "selectRow"):
            view.selectRow(0)
        settle(app, 1.5)
        save(window, out / "03-keys.png")

        # Dual control: activating needs a supervisor; the co-sign dialog asks for one.
        first = made[0]
        label = first.keys[0].label  # type: ignore[attr-defined]
        perform(
            state,
            window,
            action=Action.ACTIVATE_KEY,
            title="Activate key",
            work=lambda _: services.keys.change_state(
                state.session,
                label,  # type: ignore[arg-type]
                Action.ACTIVATE_KEY,
            ),
        )
        wait_until(app, lambda: top_dialog(app) is not None, "the co-sign dialog")
        settle(app, 1.0)
        dialog = top_dialog(app)
        assert dialog is not None
        save(dialog, out / "04-cosign.png")
        dialog.close()
        settle(app)

        window.tabs.setCurrentWidget(window.admin)
        settle(app, 1.5)
        save(window, out / "05-administration.png")
        window.tabs.setCurrentWidget(window.audit)
        settle(app, 1.5)
        save(window, out / "06-audit.png")

        from workstation.gui.wizards import GenerateKeyWizard

        wizard = GenerateKeyWizard(state, window)
        wizard.show()
        settle(app, 1.5)
        save(wizard, out / "07-generate-wizard.png")
        wizard.close()

        shoot_exchanges(app, state, window, cards.insert, card, out)
        shoot_ceremonies(app, state, window, cards.insert, card, home, out)
        shoot_certificates(app, state, window, home, out)
        pek = made[0].keys[0].label  # type: ignore[attr-defined]
        shoot_distribution(app, state, window, pek, out)
        shoot_administration(app, window, out)

        assert state.session is not None
        state.session.lock("idle for more than 300 seconds")
        state._check_lock()
        settle(app, 1.0)
        save(window, out / "08-locked.png")
    finally:
        state.stop()
        window.close()
        services.close()
        for i in range(6):
            with contextlib.suppress(Exception):  # an empty reader is fine here
                cards.remove(i)
    return 0


def shoot_logon_pin(app: QApplication, window: object, out: Path) -> None:
    """The logon screen with a PIN typed (masked), then the answer to a wrong PIN."""
    form = window.logon.form  # type: ignore[attr-defined]
    form.pin_edit.setText("123456")
    settle(app, 0.5)
    save(window, out / "13-logon-pin.png")  # type: ignore[arg-type]
    form.pin_edit.setText("654321")
    form.submit()
    wait_until(app, lambda: "not correct" in form.message.text(), "the wrong PIN's answer")
    settle(app, 1.0)  # the reader list reads the tries left again
    save(window, out / "13-logon-wrong-pin.png")  # type: ignore[arg-type]


def shoot_ceremonies(
    app: QApplication,
    state: object,
    window: object,
    insert: Callable[[Path, int], str],
    card: Callable[[str], Path],
    home: Path,
    out: Path,
) -> None:
    """A key generated as printed components (the wizard's custodians, review and result
    pages), its envelopes sealed and handed over (the envelope register), and the master
    key backed up as 2-of-3 shares (the wizard's scheme page and the holders tab)."""
    from workstation.domain.ceremonies import EnvelopeState
    from workstation.gui.ceremonies_page import CeremoniesPage
    from workstation.gui.ceremony_wizards import open_generate_components, open_master_key_backup
    from workstation.gui.state import AppState
    from workstation.gui.tables import select_row

    assert isinstance(state, AppState)
    services = state.services
    done: list[object] = []
    # Cara, Carl, Olivia and Sam are logged on; Chen holds the third master key share.
    state.log_on(insert(card("chen"), 4), bytearray(DEMO_PIN), on_done=done.append)
    wait_until(app, lambda: bool(done), "Chen's logon")
    paper = home / "paper"
    paper.mkdir(mode=0o700)

    page = window.ceremonies  # type: ignore[attr-defined]
    assert isinstance(page, CeremoniesPage)
    window.tabs.setCurrentWidget(page)  # type: ignore[attr-defined]
    settle(app, 1.0)

    wizard = open_generate_components(state, window)  # type: ignore[arg-type]
    templates = wizard.template_page.list
    wait_until(app, lambda: templates.count() > 0, "the ceremony wizard's templates")
    wizard.template_page.select("Card verification key")
    wizard.template_page.label.setText("CVK-2026-PAPER-01")
    wizard.next()
    custodians = wizard.custodians_page
    wait_until(app, lambda: custodians.loaded, "the custodians")
    custodians.choose(1, "Cara Mendes")
    custodians.choose(2, "Carl Novak")
    settle(app, 0.5)
    save(wizard, out / "14-ceremony-custodians.png")
    wizard.next()
    wizard.output_page.set_directory(paper)
    wizard.next()
    review = wizard.review_page
    wait_until(app, lambda: "quorum is met" in review.quorum.status.text(), "the quorum")
    settle(app, 0.5)
    save(wizard, out / "14-ceremony-review.png")
    wizard.next()
    wait_until(app, lambda: wizard.currentId() == wizard.RESULT_PAGE, "the mailers", 60)
    settle(app, 1.0)
    save(wizard, out / "14-ceremony-result.png")
    serials = [str(row[0]) for row in wizard.result_page.model.rows]
    wizard.close()
    settle(app)

    moved: list[object] = []

    def custody(_: object) -> object:
        session = state.ensure_session()
        ceremonies = services.ceremonies
        for number, serial in enumerate(serials, 1):
            ceremonies.record_envelope(
                session, serial, EnvelopeState.SEALED, bag_number=f"TEB-0047{number:02d}"
            )
        return ceremonies.record_envelope(session, serials[0], EnvelopeState.HANDED_OVER)

    state.run(custody, on_done=moved.append, on_error=moved.append)
    wait_until(app, lambda: bool(moved), "the envelope events", timeout=60)
    if isinstance(moved[0], BaseException):
        raise moved[0]
    state.data_changed.emit("ceremonies")
    page.refresh()
    wait_until(app, lambda: page.select_envelope(serials[0]), "the envelope register")
    settle(app, 1.0)
    save(window, out / "15-envelope-register.png")  # type: ignore[arg-type]

    # The ceremony's record, its card signatures verified (an auditor's or officer's check).
    page.tabs.setCurrentIndex(0)
    select_row(page.ceremony_table, 0)
    wait_until(app, lambda: page.ceremony_detail.current is not None, "the ceremony record")
    page.verify_selected()
    detail = page.ceremony_detail
    wait_until(app, lambda: detail.verification is not None, "the signatures verified", 60)
    settle(app, 1.0)
    save(window, out / "15-ceremony-record.png")  # type: ignore[arg-type]

    backup = open_master_key_backup(state, window)  # type: ignore[arg-type]
    holders = backup.holders_page
    wait_until(app, lambda: holders.loaded, "the share holders")
    holders.count.setValue(3)
    for number, name in enumerate(("Cara Mendes", "Carl Novak", "Chen Wei"), 1):
        holders.choose(number, name)
    backup.next()
    backup.scheme_page.threshold.setValue(2)
    settle(app, 0.5)
    save(backup, out / "16-master-key-backup.png")
    backup.next()
    backup.output_page.set_directory(paper)
    backup.next()
    quorum = backup.review_page.quorum.status
    wait_until(app, lambda: "quorum is met" in quorum.text(), "the backup quorum")
    backup.next()
    wait_until(app, lambda: backup.currentId() == backup.RESULT_PAGE, "the share mailers", 60)
    settle(app, 1.0)
    save(backup, out / "16-master-key-backup-result.png")
    backup.close()
    settle(app)
    page.refresh()
    settle(app, 1.5)
    page.tabs.setCurrentIndex(2)
    settle(app, 0.5)
    save(window, out / "16-component-holders.png")  # type: ignore[arg-type]


def shoot_administration(app: QApplication, window: object, out: Path) -> None:
    """The Administration page's policies (what to review after initialisation) and the
    enrolment dialog."""
    admin = window.admin  # type: ignore[attr-defined]
    window.tabs.setCurrentWidget(admin)  # type: ignore[attr-defined]
    settle(app, 1.0)
    admin.tabs.setCurrentWidget(admin.policies)
    settle(app, 1.5)
    save(window, out / "17-policies.png")  # type: ignore[arg-type]
    admin.tabs.setCurrentWidget(admin.people)
    settle(app, 1.0)
    dialog = admin.people.open_enrol()
    settle(app, 1.0)
    save(dialog, out / "17-enrol-person.png")
    dialog.close()
    settle(app)


def partner_ca() -> tuple[bytes, bytes]:
    """A partner's CA certificate and its TR-34 KRD certificate (PEM), made in software."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acquirer Bank 042"),
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
            ]
        )

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)

    def issue(cn: str, public: object, ca: bool) -> bytes:
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(name("Acquirer Bank 042 Root CA"))
            .public_key(public)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=730))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=not ca,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=ca,
                    crl_sign=ca,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    krd_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return (
        issue("Acquirer Bank 042 Root CA", ca_key.public_key(), True),
        issue("Acquirer Bank 042 KRD", krd_key.public_key(), False),
    )


def shoot_exchanges(
    app: QApplication,
    state: object,
    window: object,
    insert: Callable[[Path, int], str],
    card: Callable[[str], Path],
    out: Path,
) -> None:
    """The Exchanges tab with a partner, a TR-31 export's result and an import's header."""
    from workstation.domain.policy import Action
    from workstation.gui.exchange_wizards import ExportTr31Wizard, ImportTr31Wizard
    from workstation.gui.state import AppState

    assert isinstance(state, AppState)
    services = state.services
    done: list[object] = []
    for count, (slug, reader) in enumerate((("olivia", 2), ("sam", 3)), 1):
        # Partners need a security officer and a supervisor; exports a supervisor too.
        name = insert(card(slug), reader)
        state.log_on(name, bytearray(DEMO_PIN), on_done=done.append)
        wait_until(app, lambda n=count: len(done) >= n, f"{slug}'s logon")

    ca, krd = partner_ca()
    made: list[object] = []

    def prepare(_: object) -> object:
        session = state.ensure_session()
        interchange = services.interchange
        interchange.add_partner(
            session,
            "Acquirer Bank 042",
            "bank",
            ca_certificates=[ca],
            krd_certificate=krd,
            notes="EU acquirer; working keys by TR-31 version D under the AES ZMK.",
        )
        interchange.add_partner(session, "Card Brand Test Host", "brand")
        for name in ("tr34-krd", "tr34-kdh", "ecdh-p256"):
            interchange.exchange_certificate(session, name)
        zmk = services.keys.generate(session, "Zone master key (KEK)").keys[0]
        return services.keys.change_state(session, zmk.label, Action.ACTIVATE_KEY)

    state.run(prepare, on_done=made.append, on_error=made.append)
    wait_until(app, lambda: bool(made), "the partners and the KEK", timeout=60)
    zmk = made[0]
    if isinstance(zmk, BaseException):
        raise zmk
    window.tabs.setCurrentWidget(window.exchanges)  # type: ignore[attr-defined]
    settle(app, 1.5)
    window.exchanges.select_partner("Acquirer Bank 042")  # type: ignore[attr-defined]
    settle(app, 0.5)
    save(window, out / "exchanges.png")  # type: ignore[arg-type]

    export = ExportTr31Wizard(state, window)  # type: ignore[arg-type]
    export.show()
    wait_until(app, lambda: export.data is not None, "the export wizard's lists")
    page = export.choose_page
    page.partner.choose("Acquirer Bank 042")
    pin_keys = [k for k in export.flow.exportable_keys() if k.key_usage == "P0"]
    page.key.choose(pin_keys[0].label)
    page.kek.choose(zmk.label)  # type: ignore[attr-defined]
    export.next()
    wait_until(
        app, lambda: "quorum is met" in export.review_page.quorum.status.text(), "the quorum"
    )
    export.next()
    wait_until(app, lambda: export.currentId() == export.RESULT_PAGE, "the key block", 30)
    settle(app, 1.0)
    save(export, out / "exchanges-tr31-export.png")
    block = export.result_page.block.toPlainText()
    export.close()
    settle(app)

    receive = ImportTr31Wizard(state, window)  # type: ignore[arg-type]
    receive.show()
    wait_until(app, lambda: receive.data is not None, "the import wizard's lists")
    receive.block_page.edit.setPlainText(block)
    receive.next()
    wait_until(app, lambda: receive.currentId() == receive.HEADER_PAGE, "the header", 30)
    settle(app, 1.0)
    save(receive, out / "exchanges-import-header.png")
    receive.close()
    settle(app)


def shoot_certificates(
    app: QApplication, state: object, window: object, home: Path, out: Path
) -> None:
    """The Certificates and Due dates tabs: two TLS key pairs certified by the demo CA, one
    of them for 20 days only (so it is due soon)."""
    from workstation.devtools.demo import demo_ca_dir
    from workstation.devtools.demo_ca import DEMO_CA_NAME, DemoCa
    from workstation.domain.policy import Action
    from workstation.gui.state import AppState
    from workstation.standards import pkix

    assert isinstance(state, AppState)
    services = state.services
    made: list[object] = []

    def certify(_: object) -> object:
        session = state.ensure_session()
        for host, days in (("payments.demo.example", 396), ("atm-switch.demo.example", 20)):
            pair = services.keys.generate(session, "TLS server key pair").keys[0]
            services.keys.change_state(session, pair.label, Action.ACTIVATE_KEY)
            profile = pkix.Profile(
                f"CN={host},O=Demo Bank,C=GB",
                dns_names=(host,),
                key_usage=frozenset({"digital_signature"}),
                extended_key_usage=("server_auth",),
            )
            request = services.certificates.request(session, pair.label, profile)
            issued = DemoCa(demo_ca_dir(home)).sign(request.pem.encode(), days=days)
            services.certificates.import_certificate(
                session, pair.label, issued, partner=DEMO_CA_NAME
            )
        return True

    state.run(certify, on_done=made.append, on_error=made.append)
    wait_until(app, lambda: bool(made), "the certified key pairs", timeout=60)
    if isinstance(made[0], BaseException):
        raise made[0]
    state.data_changed.emit("certificates")
    window.tabs.setCurrentWidget(window.certificates)  # type: ignore[attr-defined]
    settle(app, 1.5)
    save(window, out / "09-certificates.png")  # type: ignore[arg-type]
    window.tabs.setCurrentWidget(window.expiry)  # type: ignore[attr-defined]
    settle(app, 1.5)
    save(window, out / "10-due-dates.png")  # type: ignore[arg-type]
    window.tabs.setCurrentWidget(window.dashboard)  # type: ignore[attr-defined]
    settle(app, 1.5)
    save(window, out / "11-dashboard-due-soon.png")  # type: ignore[arg-type]


def shoot_distribution(
    app: QApplication, state: object, window: object, pek: str, out: Path
) -> None:
    """The Distribution tab: the demo's three key agents (tagged branch) and a fourth key
    store nothing answers for, a PIN key pushed to all four (the fourth failing, red) in
    the run view, then the job's results and the key stores (the fourth UNREACHABLE)."""
    import socket

    from workstation.gui.distribution_page import DistributionPage
    from workstation.gui.state import AppState

    assert isinstance(state, AppState)
    services = state.services
    with socket.socket() as probe:  # a loopback port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        silent = f"127.0.0.1:{probe.getsockname()[1]}"
    made: list[object] = []

    def prepare(_: object) -> object:
        session = state.ensure_session()
        dist = services.distribution
        branches = dist.targets(session, tag="branch")
        if not branches:
            raise SystemExit("the demo has no key agents tagged 'branch'")
        dist.add_target(
            session,
            name="branch-4",
            kind="agent",
            location=silent,
            kek=branches[0].kek_id,
            kek_label=branches[0].kek_label,
            tags=["branch"],
        )
        return dist.distribute(
            session,
            [pek],
            tags=["branch"],
            reason="PIN key for the branch hosts",
            max_attempts=2,
            backoff_seconds=0,
        )

    state.run(prepare, on_done=made.append, on_error=made.append)
    wait_until(app, lambda: bool(made), "the fourth key store and the job", timeout=60)
    from workstation.domain.distribution import DistributionJob

    job = made[0]
    if isinstance(job, BaseException):
        raise job
    assert isinstance(job, DistributionJob)
    page = window.distribution  # type: ignore[attr-defined]
    assert isinstance(page, DistributionPage)
    window.tabs.setCurrentWidget(page)  # type: ignore[attr-defined]
    settle(app, 1.5)
    ended: list[object] = []
    page.job_finished.connect(ended.append)
    view = page.run_job(job.id)
    wait_until(app, lambda: bool(ended), "the distribution job", timeout=120)
    settle(app, 1.0)
    save(view, out / "12-distribution-run.png")
    view.close()
    settle(app, 1.5)
    page.select_job(job.id)
    settle(app, 0.5)
    save(window, out / "12-distribution-jobs.png")  # type: ignore[arg-type]
    page.tabs.setCurrentIndex(0)
    page.select_store("branch-host-001")  # what it holds; branch-4 stays red in the table
    settle(app, 1.0)
    save(window, out / "12-distribution.png")  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
