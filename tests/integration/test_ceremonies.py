"""Paper ceremonies on the real stack: SoftHSM2, pcscd with virtual PIV cards, SQLite, and
real PDFs read back with ``pdftotext``.

Each mailer must hold exactly its own component and check value: nothing of another
component and nothing of the combined key. A refusal (split knowledge, a wrong component,
a custodian who leaves, too few shares) stores nothing.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.hsm import open_test_hsm
from workstation.adapters.hsm_pkcs11 import Pkcs11Hsm
from workstation.adapters.printing_reportlab import ReportlabRenderer
from workstation.adapters.repository_sqlite import SqliteRepository
from workstation.adapters.smartcard_pcsc import PcscCardReaders
from workstation.adapters.softhsm import provision_softhsm
from workstation.domain import components as comp
from workstation.domain import secret_sharing as sss
from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.ceremonies import EnvelopeState
from workstation.domain.keys import KeyState
from workstation.domain.people import Role
from workstation.errors import (
    AlreadyExists,
    BadInput,
    InvalidTransition,
    NotInitialised,
    PolicyRefused,
    SessionLocked,
)
from workstation.services.app import WorkstationServices
from workstation.services.ceremonies import ComponentEntry, KcvMismatch, PaperOutput
from workstation.services.context import ServiceContext
from workstation.services.initialise import OfficerCard
from workstation.services.ports import KeyQuery
from workstation.services.recovery import ShareOffer
from workstation.services.session import Session

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

PIN = "123456"
TDES_TEMPLATE = "Card verification key"  # TDES-2KEY, exportable
AES_TEMPLATE = "PIN encryption key"  # AES-256, exportable
PEOPLE = {
    "Olivia": Role.SECURITY_OFFICER,
    "Oscar": Role.SECURITY_OFFICER,
    "Cara": Role.KEY_CUSTODIAN,
    "Carl": Role.KEY_CUSTODIAN,
    "Chen": Role.KEY_CUSTODIAN,
    "Sam": Role.SUPERVISOR,
    "Alex": Role.AUDITOR,
}


def pin() -> bytearray:
    return bytearray(PIN.encode())


class World:
    def __init__(self, home: Path, hsm: Pkcs11Hsm, cards: Any) -> None:
        self.home = home
        self.cards = cards
        self.readers = PcscCardReaders(reader_filter="KCW Virtual Reader")
        self.repo = SqliteRepository(home / "workstation.db")
        self.s = self.services(self.repo, hsm)
        self.people = {n: cards.issue(n, PIN) for n in PEOPLE}
        self.sessions: list[Session] = []
        self.slots: dict[str, int] = {}

    def services(self, repo: SqliteRepository, hsm: Pkcs11Hsm) -> WorkstationServices:
        return WorkstationServices(
            ServiceContext(
                repository=repo,
                hsm=hsm,
                readers=self.readers,
                renderer=ReportlabRenderer(),
                open_repository_copy=SqliteRepository,
            )
        )

    def initialise(self) -> None:
        r0 = self.cards.insert(self.people["Olivia"], 0)
        r1 = self.cards.insert(self.people["Oscar"], 1)
        self.s.init.initialise([OfficerCard(r0, "Olivia", pin()), OfficerCard(r1, "Oscar", pin())])
        session = self.s.logon.open_session()
        self.s.logon.log_on(session, r0, pin())
        self.s.logon.log_on(session, r1, pin())
        for name, role in PEOPLE.items():
            if role is Role.SECURITY_OFFICER:
                continue
            reader = self.cards.insert(self.people[name], 5)
            self.s.people.enrol(session, name=name, roles=[role], reader=reader, pin=pin())
            self.cards.remove(5)
        session.close()
        self.cards.remove_all()

    def session(self, *names: str, services: WorkstationServices | None = None) -> Session:
        """Log ``names`` on, their cards in readers 0, 1, 2, ... (others taken out)."""
        services = services or self.s
        self.end()
        session = services.logon.open_session()
        self.sessions.append(session)
        for i, name in enumerate(names):
            reader = self.cards.insert(self.people[name], i)
            self.slots[name] = i
            services.logon.log_on(session, reader, pin())
        return session

    def end(self) -> None:
        for s in self.sessions:
            s.close()
        self.sessions.clear()
        self.cards.remove_all()
        self.slots.clear()

    def key_count(self) -> int:
        with self.repo.unit_of_work(read_only=True) as uow:
            return uow.keys.count(KeyQuery())

    def ceremony_count(self) -> int:
        with self.repo.unit_of_work(read_only=True) as uow:
            return len(uow.ceremonies.list())


@pytest.fixture
def world(tmp_path: Path, hsm: Pkcs11Hsm, virtual_cards: Any) -> Iterator[World]:
    w = World(tmp_path, hsm, virtual_cards)
    w.initialise()
    try:
        yield w
    finally:
        w.end()
        w.repo.close()


# --- reading the paper back -----------------------------------------------------------------

_GROUP = re.compile(r"\b[0-9A-F]{4}\b")


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def secret_from_mailer(text: str, length: int) -> bytearray:
    """The component (or share) on a mailer's inner part: the groups of four hex digits
    printed between the value's heading and its check value."""
    inner = text[text.index("VALUE:") : text.index("Check value (KCV)")]
    inner = inner.split("\n", 1)[1]
    digits = "".join(_GROUP.findall(inner))
    return bytearray.fromhex(digits[: length * 2])


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def check_mailers(files: list[Path], secrets: list[bytes], kcvs: list[str], key_kcv: str) -> None:
    """Each mailer holds its own secret and KCV and nothing of the others or of the key."""
    for n, path in enumerate(files):
        text = pdf_text(path)
        flat = compact(text)
        assert secrets[n].hex().upper() in flat  # printed in groups of four, in order
        assert comp.format_groups(secrets[n][:8]) in text
        assert kcvs[n] in flat
        for m, other in enumerate(secrets):
            if m != n:
                assert other.hex().upper() not in flat
                assert comp.format_groups(other[:8]) not in text
                assert kcvs[m] not in flat
        assert key_kcv.upper() not in flat


def render_and_look(path: Path, tmp: Path) -> None:
    """Every PDF renders (pdftoppm); the pictures are non-trivial."""
    prefix = tmp / f"look-{path.stem}"
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(prefix)], check=True)
    pngs = sorted(tmp.glob(f"look-{path.stem}*.png"))
    assert pngs and all(p.stat().st_size > 2000 for p in pngs)


# --- generation, printing, entry ------------------------------------------------------------


def test_generate_as_components_print_and_enter_again(world: World, tmp_path: Path) -> None:
    out = tmp_path / "paper"
    out.mkdir()
    session = world.session("Olivia", "Cara", "Carl")
    outcome = world.s.ceremonies.generate_components(
        session, TDES_TEMPLATE, ["Cara", "Carl"], output=PaperOutput(directory=out)
    )
    key = outcome.key
    assert key is not None and key.state is KeyState.PRE_ACTIVATION
    assert key.algorithm is KeyAlgorithm.TDES_2KEY
    files = [Path(f) for f in outcome.delivery.files]
    assert [f.name for f in files] == [f"{e.serial}.pdf" for e in outcome.envelopes]
    secrets = [secret_from_mailer(pdf_text(f), 16) for f in files]
    kcvs = [e.secret_kcv for e in outcome.envelopes]
    assert [comp.kcv_hex(comp.check_value(key.algorithm, s)) for s in secrets] == kcvs
    assert comp.kcv_hex(comp.check_value(key.algorithm, comp.combine(key.algorithm, secrets))) == (
        key.kcv
    )
    check_mailers(files, secrets, kcvs, key.kcv)
    for f in files:
        render_and_look(f, tmp_path)
    # The ceremony: every participant signed; the record verifies; the KCV is on it.
    c = outcome.ceremony
    assert {s.name for s in c.signatures} == {"Olivia", "Cara", "Carl"}
    assert c.key_kcv == key.kcv
    assert world.s.keys.verify(session, key.label).kcv == key.kcv
    world.end()
    auditor = world.session("Alex")
    verification = world.s.ceremonies.verify_ceremony(auditor, c.id[:10])
    assert verification.ok
    record = world.s.ceremonies.print_record(auditor, c.id, output=PaperOutput(directory=out))
    record_text = pdf_text(Path(record.files[0]))
    assert key.kcv in compact(record_text) and "Olivia" in record_text
    render_and_look(Path(record.files[0]), tmp_path)
    holders = world.s.ceremonies.holdings(auditor, key_ref=key.label)
    assert sorted((h.person_name, h.index, h.how) for h in holders) == [
        ("Cara", 1, "printed"),
        ("Carl", 2, "printed"),
    ]

    # Entered again by the same custodians, each their own component: allowed.
    session = world.session("Olivia", "Cara", "Carl")
    entered = world.s.ceremonies.enter_components(
        session,
        TDES_TEMPLATE,
        [
            ComponentEntry("Cara", bytearray(secrets[0])),
            ComponentEntry("Carl", bytearray(secrets[1])),
        ],
        sender_kcv=key.kcv,
    )
    assert entered.key is not None and entered.key.kcv == key.kcv
    assert entered.key.id != key.id

    # Swapped: each would learn the other's component of the same key. Refused.
    before = (world.key_count(), world.ceremony_count())
    with pytest.raises(PolicyRefused, match="split knowledge"):
        world.s.ceremonies.enter_components(
            session,
            TDES_TEMPLATE,
            [
                ComponentEntry("Cara", bytearray(secrets[1])),
                ComponentEntry("Carl", bytearray(secrets[0])),
            ],
            sender_kcv=key.kcv,
        )
    assert (world.key_count(), world.ceremony_count()) == before


def test_wrong_component_gives_a_kcv_mismatch_and_stores_nothing(world: World) -> None:
    session = world.session("Olivia", "Cara", "Carl")
    a = bytearray.fromhex("0123456789ABCDEFFEDCBA9876543210")
    b = bytearray.fromhex("1F1F1F1F0E0E0E0E0101010101010101")
    right = world.s.ceremonies.combined_check_value(KeyAlgorithm.TDES_2KEY, [a, b])
    wrong = bytearray.fromhex("1F1F1F1F0E0E0E0E0101010101010103")  # even parity: a typo
    with pytest.raises(comp.ComponentError, match="parity"):
        world.s.ceremonies.enter_components(
            session,
            TDES_TEMPLATE,
            [ComponentEntry("Cara", bytearray(a)), ComponentEntry("Carl", wrong)],
            sender_kcv=right,
        )
    typo = bytearray.fromhex("1F1F1F1F0E0E0E0E0101010101010123")  # odd parity, other value
    before = (world.key_count(), world.ceremony_count())
    entries = [ComponentEntry("Cara", bytearray(a)), ComponentEntry("Carl", typo)]
    with pytest.raises(KcvMismatch, match=f"the sender's is {right}"):
        world.s.ceremonies.enter_components(session, TDES_TEMPLATE, entries, sender_kcv=right)
    assert all(e.value == bytearray(16) for e in entries)  # wiped
    assert (world.key_count(), world.ceremony_count()) == before
    # Nor may a custodian enter two components, or someone not logged on enter one.
    with pytest.raises(PolicyRefused, match="split knowledge"):
        world.s.ceremonies.enter_components(
            session,
            TDES_TEMPLATE,
            [ComponentEntry("Cara", bytearray(a)), ComponentEntry("Cara", bytearray(b))],
            sender_kcv=right,
        )
    with pytest.raises(PolicyRefused, match="Chen must be logged on"):
        world.s.ceremonies.enter_components(
            session,
            TDES_TEMPLATE,
            [ComponentEntry("Cara", bytearray(a)), ComponentEntry("Chen", bytearray(b))],
            sender_kcv=right,
        )
    assert (world.key_count(), world.ceremony_count()) == before


class _LeavingRenderer(ReportlabRenderer):
    """Takes a custodian's card out while the mailers are printed."""

    def __init__(self, leave: Any) -> None:
        super().__init__()
        self.leave = leave

    def component_mailers(self, mailers: Any) -> bytearray:
        if self.leave is not None:
            self.leave()
            self.leave = None
        return super().component_mailers(mailers)


def test_a_custodian_who_logs_off_mid_ceremony_stops_it(world: World, tmp_path: Path) -> None:
    out = tmp_path / "paper"
    out.mkdir()
    session = world.session("Olivia", "Cara", "Carl")
    before = (world.key_count(), world.ceremony_count())
    world.s.ctx.renderer = _LeavingRenderer(lambda: world.cards.remove(world.slots["Carl"]))
    world.s.__dict__.pop("ceremonies", None)
    with pytest.raises(SessionLocked, match="Carl"):
        world.s.ceremonies.generate_components(
            session, AES_TEMPLATE, ["Cara", "Carl"], output=PaperOutput(directory=out)
        )
    assert (world.key_count(), world.ceremony_count()) == before
    assert list(out.iterdir()) == []  # the PDFs written were removed
    world.end()
    auditor = world.session("Alex")
    aborted = world.s.audit.search(auditor, action="ceremony.aborted")
    assert aborted and "Carl" in aborted[0].body["details"]["reason"]


# --- export ---------------------------------------------------------------------------------


def test_export_as_components_under_the_export_quorum(world: World, tmp_path: Path) -> None:
    out = tmp_path / "paper"
    out.mkdir()
    session = world.session("Cara", "Carl")
    key = world.s.keys.generate(session, AES_TEMPLATE).keys[0]
    with pytest.raises(PolicyRefused, match="supervisor"):
        world.s.ceremonies.export_components(
            session, key.label, ["Cara", "Carl"], output=PaperOutput(directory=out)
        )
    session = world.session("Cara", "Chen", "Sam")
    outcome = world.s.ceremonies.export_components(
        session, key.label, ["Cara", "Chen"], output=PaperOutput(directory=out)
    )
    files = [Path(f) for f in outcome.delivery.files]
    secrets = [secret_from_mailer(pdf_text(f), 32) for f in files]
    combined = comp.combine(KeyAlgorithm.AES_256, secrets)
    assert comp.kcv_hex(comp.check_value(KeyAlgorithm.AES_256, combined)) == key.kcv
    check_mailers(files, secrets, [e.secret_kcv for e in outcome.envelopes], key.kcv)
    # A second export to Cara would give her a second, different component: refused.
    before = world.ceremony_count()
    session = world.session("Cara", "Carl", "Sam")
    with pytest.raises(PolicyRefused, match="Cara already knows component 1"):
        world.s.ceremonies.export_components(
            session, key.label, ["Carl", "Cara"], output=PaperOutput(directory=out)
        )
    assert world.ceremony_count() == before


# --- envelopes ------------------------------------------------------------------------------


def test_envelope_register(world: World, tmp_path: Path) -> None:
    out = tmp_path / "paper"
    out.mkdir()
    session = world.session("Olivia", "Cara", "Carl")
    outcome = world.s.ceremonies.generate_components(
        session, TDES_TEMPLATE, ["Cara", "Carl"], output=PaperOutput(directory=out)
    )
    first, second = outcome.envelopes
    cs = world.s.ceremonies
    with pytest.raises(BadInput, match="bag"):
        cs.record_envelope(session, first.serial, EnvelopeState.SEALED)
    cs.record_envelope(session, first.serial, EnvelopeState.SEALED, bag_number="TB-1001")
    with pytest.raises(AlreadyExists, match="TB-1001"):
        cs.record_envelope(session, second.serial, EnvelopeState.SEALED, bag_number="TB-1001")
    with pytest.raises(InvalidTransition, match="cannot be opened"):
        cs.record_envelope(session, first.serial, EnvelopeState.OPENED)
    world.end()
    session = world.session("Olivia", "Carl")
    with pytest.raises(PolicyRefused, match="Cara must be logged on"):
        cs.record_envelope(session, first.serial, EnvelopeState.HANDED_OVER)
    session = world.session("Olivia", "Cara")
    cs.record_envelope(session, first.serial, EnvelopeState.HANDED_OVER)
    received = cs.record_envelope(session, first.serial, EnvelopeState.RECEIVED, note="safe 4")
    assert [e.state for e in received.events] == [
        EnvelopeState.PRINTED,
        EnvelopeState.SEALED,
        EnvelopeState.HANDED_OVER,
        EnvelopeState.RECEIVED,
    ]
    assert received.events[-1].people == ("Olivia", "Cara")
    form = cs.acknowledgement_form(session, first.serial, output=PaperOutput(directory=out))
    text = pdf_text(Path(form.files[0]))
    assert first.serial in text and "TB-1001" in text and "Cara" in text
    assert outcome.key is not None and outcome.key.kcv not in compact(text)
    render_and_look(Path(form.files[0]), tmp_path)
    listed = cs.envelopes(session, state=EnvelopeState.RECEIVED)
    assert [e.serial for e in listed] == [first.serial]


# --- master key backup and recovery ----------------------------------------------------------


def test_master_key_backup_and_recovery_on_a_fresh_workstation(
    world: World, tmp_path: Path, softhsm_directory: Path
) -> None:
    out = tmp_path / "paper"
    out.mkdir()
    session = world.session("Cara", "Carl")
    keys = world.s.keys.generate(session, AES_TEMPLATE, count=3).keys
    tdes = world.s.keys.generate(session, TDES_TEMPLATE).keys[0]
    session = world.session("Olivia", "Sam", "Cara", "Carl", "Chen")
    outcome = world.s.ceremonies.backup_master_key(
        session, ["Cara", "Carl", "Chen"], threshold=2, output=PaperOutput(directory=out)
    )
    files = [Path(f) for f in outcome.delivery.files]
    shares = [secret_from_mailer(pdf_text(f), 32) for f in files]
    checks = [e.secret_kcv for e in outcome.envelopes]
    info = world.s.ceremonies.master_key_backup(session)
    assert info is not None and (info.threshold, info.count) == (2, 3)
    for n, share in enumerate(shares):
        s = sss.Share(info.set_id, n + 1, 2, 3, bytearray(share))
        assert s.check_value == checks[n]
    backup_file = tmp_path / "repository.backup"
    session = world.session("Olivia")
    assert world.s.recovery.backup_repository(session, backup_file).counts.keys == 4
    world.end()

    # A fresh workstation: its own token and an empty home.
    fresh_home = tmp_path / "fresh"
    fresh_home.mkdir()
    token = provision_softhsm(
        softhsm_directory, f"kcw-fresh-{uuid.uuid4().hex[:12]}", pin_directory=fresh_home / "pins"
    )
    hsm2 = open_test_hsm(token)
    repo2 = SqliteRepository(fresh_home / "workstation.db")
    s2 = world.services(repo2, hsm2)
    try:
        # One holder only: refused (dual control), nothing left behind.
        s2.recovery.restore_repository(backup_file)
        reader = world.cards.insert(world.people["Cara"], 0)
        with pytest.raises(PolicyRefused, match="2 shares are needed"):
            s2.recovery.recover([ShareOffer("Cara", reader, pin(), bytearray(shares[0]))])
        assert not repo2.exists() and not hsm2.has_workstation_keys()
        # A share typed wrong: refused by its check value, nothing left behind.
        s2.recovery.restore_repository(backup_file)
        reader2 = world.cards.insert(world.people["Chen"], 1)
        bad = bytearray(shares[2])
        bad[0] ^= 1
        with pytest.raises(BadInput, match="check value"):
            s2.recovery.recover(
                [
                    ShareOffer("Cara", reader, pin(), bytearray(shares[0])),
                    ShareOffer("Chen", reader2, pin(), bad),
                ]
            )
        assert not repo2.exists() and not hsm2.has_workstation_keys()
        # Two holders with their cards and shares: recovered and verified.
        s2.recovery.restore_repository(backup_file)
        report = s2.recovery.recover(
            [
                ShareOffer("Cara", reader, pin(), bytearray(shares[0])),
                ShareOffer("Chen", reader2, pin(), bytearray(shares[2])),
            ]
        )
        assert report.keys_verified == 4 and report.holders == ("Cara", "Chen")
        assert report.backup_id
        world.cards.remove_all()
        session2 = world.session("Olivia", services=s2)
        for k in [*keys, tdes]:
            assert s2.keys.verify(session2, k.label).kcv == k.kcv
        world.end()
        auditor = world.session("Alex", services=s2)
        assert s2.audit.verify(auditor).ok
        assert s2.audit.search(auditor, action="workstation.recovered")
    finally:
        world.end()
        repo2.close()
        hsm2.close()


def test_recovery_refuses_a_backup_without_master_key_shares(
    world: World, tmp_path: Path, softhsm_directory: Path
) -> None:
    session = world.session("Olivia")
    backup_file = tmp_path / "repository.backup"
    made = world.s.recovery.backup_repository(session, backup_file)
    assert "never been backed up by shares" in made.warnings[0]
    world.end()
    token = provision_softhsm(
        softhsm_directory, f"kcw-fresh-{uuid.uuid4().hex[:12]}", pin_directory=tmp_path / "pins2"
    )
    hsm2 = open_test_hsm(token)
    repo2 = SqliteRepository(tmp_path / "fresh.db")
    try:
        s2 = world.services(repo2, hsm2)
        with pytest.raises(NotInitialised, match="never backed up"):
            s2.recovery.restore_repository(backup_file)
        assert not repo2.exists()
    finally:
        repo2.close()
        hsm2.close()
