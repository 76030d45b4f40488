"""Key ceremonies on paper: the signed ceremony records, the envelope register and the
split-knowledge register, with the ceremony wizards one click away.

Three tabs, fed by one background read (``CeremonyService`` on the device thread, asked
first through ``read_if_allowed`` so that a session that may not read them leaves no
refused attempts in the audit log):

- *Ceremonies*: every ceremony, newest first; the selected one shows its script (the
  steps and the people each needs), its transcript and its participants with their card
  signatures. "Verify signatures" checks the record's seal and every signature against
  the enrolled card certificates (VIEW_AUDIT) and says plainly which are valid;
  "Print record…" prints the record for the participants' handwritten signatures.
- *Envelope register*: every mailer's envelope with its chain of custody. Only the
  events the envelope can go through next are offered (``ENVELOPE_TRANSITIONS``); each
  runs through ``perform`` under RECORD_ENVELOPE, so the co-sign dialog asks for missing
  people, and the service refuses hand-over, receipt and opening unless the envelope's
  custodian is logged on.
- *Component holders*: who has ever known which component (split knowledge), and the
  state of the master key backup.

Nothing here decides what is allowed: the buttons say what an event needs, and the
service checks again when it runs.
"""

from __future__ import annotations

import importlib
import logging
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QSignalBlocker,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontDatabase, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from workstation.domain.ceremonies import (
    CUSTODIAN_EVENTS,
    ENVELOPE_TRANSITIONS,
    SCRIPTS,
    Ceremony,
    CeremonyKind,
    ComponentHolding,
    Envelope,
    EnvelopeState,
)
from workstation.domain.policy import Action, MediaExport
from workstation.domain.records import parse_time
from workstation.services.ceremonies import (
    CeremonyVerification,
    Delivery,
    MasterKeyBackupInfo,
    PaperOutput,
    RecordExport,
)
from workstation.services.logon import Requirement

from . import file_choice
from .actions import perform, perform_change, read_if_allowed
from .errors import describe
from .runner import JobControl
from .state import AppState
from .status import StatusLine
from .tables import (
    RecordModel,
    RecordRole,
    current_record,
    fit_columns,
    fit_to_contents,
    record_table,
    select_row,
)
from .wizards import ERROR_STYLE, GOOD_STYLE, wizard_toolbar

log = logging.getLogger(__name__)

__all__ = [
    "EVENT_BUTTONS",
    "WIZARD_ENTRIES",
    "CeremoniesPage",
    "CeremonyDetail",
    "CeremonyRegister",
    "CeremonyTableModel",
    "EnvelopeDetail",
    "EnvelopeTableModel",
    "HoldingTableModel",
    "PaperOutputDialog",
    "RecordRole",
    "signature_status",
    "verdict",
]

WIZARDS_MODULE = "workstation.gui.ceremony_wizards"
# (entry point in WIZARDS_MODULE, toolbar text, object name, tooltip)
WIZARD_ENTRIES: tuple[tuple[str, str, str, str], ...] = (
    (
        "open_generate_components",
        "Generate key as components…",
        "generateComponentsAction",
        "A new key from the HSM's random generator, printed as one component per custodian",
    ),
    (
        "open_enter_components",
        "Enter key from components…",
        "enterComponentsAction",
        "Form a key from components its custodians type in, checked against the sender's KCV",
    ),
    (
        "open_export_components",
        "Export key as components…",
        "exportComponentsAction",
        "Print an exportable key as fresh components (the selected ceremony's key, if any)",
    ),
    (
        "open_master_key_backup",
        "Back up master key…",
        "backupMasterKeyAction",
        "Back up the workstation master key as shares printed for their holders",
    ),
)

# The events a person can register, in the order an envelope goes through them:
# (event, button text, object name, what it records).
EVENT_BUTTONS: tuple[tuple[EnvelopeState, str, str, str], ...] = (
    (
        EnvelopeState.SEALED,
        "Seal…",
        "sealButton",
        "The envelope was sealed in a tamper-evident bag (you are asked the bag's number).",
    ),
    (
        EnvelopeState.HANDED_OVER,
        "Hand over",
        "handOverButton",
        "The sealed bag was handed to its custodian.",
    ),
    (
        EnvelopeState.RECEIVED,
        "Receive",
        "receiveButton",
        "The custodian received the bag and found it intact.",
    ),
    (
        EnvelopeState.OPENED,
        "Open",
        "openButton",
        "The custodian opened the envelope to use the component.",
    ),
    (
        EnvelopeState.DESTROYED,
        "Destroy…",
        "destroyButton",
        "The envelope was destroyed, witnessed (you are asked how and why).",
    ),
)
EVENT_DONE: Mapping[EnvelopeState, str] = {
    EnvelopeState.SEALED: "sealed",
    EnvelopeState.HANDED_OVER: "handed over",
    EnvelopeState.RECEIVED: "received",
    EnvelopeState.OPENED: "opened",
    EnvelopeState.DESTROYED: "destroyed",
}
STATE_MEANINGS: Mapping[EnvelopeState, str] = {
    EnvelopeState.PRINTED: "printed, not yet sealed in its bag",
    EnvelopeState.SEALED: "sealed in a tamper-evident bag, not yet with its custodian",
    EnvelopeState.HANDED_OVER: "handed to its custodian, receipt not yet confirmed",
    EnvelopeState.RECEIVED: "with its custodian, who confirmed the bag was intact",
    EnvelopeState.OPENED: "opened by its custodian",
    EnvelopeState.DESTROYED: "destroyed, witnessed",
}
STATE_COLOURS: Mapping[EnvelopeState, str] = {
    EnvelopeState.PRINTED: "#b26a00",  # loose paper with a clear component: seal it
    EnvelopeState.SEALED: "#3d6fa8",
    EnvelopeState.HANDED_OVER: "#3d6fa8",
    EnvelopeState.RECEIVED: "#1b7f3a",
    EnvelopeState.OPENED: "#5f6368",
    EnvelopeState.DESTROYED: "#8a8a8a",
}
# How the holders' register names a ceremony, before its time.
CEREMONY_NAMES: Mapping[CeremonyKind, str] = {
    CeremonyKind.GENERATE_COMPONENTS: "generation",
    CeremonyKind.ENTER_COMPONENTS: "entry",
    CeremonyKind.EXPORT_COMPONENTS: "export",
    CeremonyKind.MASTER_KEY_BACKUP: "master key backup",
    CeremonyKind.MASTER_KEY_RECOVERY: "recovery",
}
SCHEMES: Mapping[str, str] = {
    "shares": "Shamir shares",
    "components": "XOR components",
}
BAD_COLOUR = "#b00020"


def moment(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M}"


def state_title(state: EnvelopeState) -> str:
    return state.value.capitalize()


def step_title(kind: CeremonyKind, step_id: str) -> str:
    try:
        return SCRIPTS[kind].step(step_id).title
    except KeyError:
        return step_id


def count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


# --- table models --------------------------------------------------------------------------


class CeremonyTableModel(RecordModel[Ceremony]):
    """Ceremonies, newest first."""

    STARTED, SCRIPT, KEY, KCV, PARTICIPANTS, SIGNATURES = range(6)
    HEADERS = ("Started (UTC)", "Script", "Key", "KCV", "Participants", "Signatures")
    TIPS = (
        "When the ceremony was opened",
        "The ceremony's script",
        "The key the ceremony made, entered or exported",
        "The key's check value",
        "Everyone logged on during the ceremony",
        "Card signatures over the transcript: signed / participants",
    )
    MONOSPACE = frozenset({KCV})

    def _ordered(self, rows: list[Ceremony]) -> list[Ceremony]:
        return sorted(rows, key=lambda c: c.started_at, reverse=True)

    def row_of(self, ceremony_id: str) -> int | None:
        return next((i for i, c in enumerate(self._rows) if c.id == ceremony_id), None)

    def _display(self, record: Ceremony, column: int) -> str:
        if column == self.STARTED:
            return moment(record.started_at)
        if column == self.SCRIPT:
            return record.title
        if column == self.KEY:
            return record.key_label or ""
        if column == self.KCV:
            return record.key_kcv or ""
        if column == self.PARTICIPANTS:
            return ", ".join(p.name for p in record.participants)
        if column == self.SIGNATURES:
            return f"{len(record.signatures)}/{len(record.participants)}"
        return ""

    def _tooltip(self, record: Ceremony, column: int) -> str | None:
        if column == self.PARTICIPANTS:
            return "\n".join(f"{p.name}: {p.part}" for p in record.participants)
        if column == self.SIGNATURES:
            signed = {s.person_id for s in record.signatures}
            missing = [p.name for p in record.participants if p.person_id not in signed]
            if missing:
                return f"Not signed by {', '.join(missing)}"
            return "Every participant's card signed the transcript (verify to check them)"
        if column == self.STARTED:
            return f"Ceremony {record.id}, completed {moment(record.completed_at)} UTC"
        return None

    def _foreground(self, record: Ceremony, column: int) -> QColor | None:
        if column == self.SIGNATURES and len(record.signatures) < len(record.participants):
            return QColor(BAD_COLOUR)
        return None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == self.SIGNATURES:
            if index.isValid() and 0 <= index.row() < len(self._rows):
                return int(Qt.AlignmentFlag.AlignCenter)
        return super().data(index, role)


class EnvelopeTableModel(RecordModel[Envelope]):
    """The envelope register, in serial order."""

    SERIAL, KIND, KEY, CUSTODIAN, STATE, BAG, LAST_EVENT = range(7)
    HEADERS = ("Serial", "Kind", "Key", "Custodian", "State", "Bag", "Last event (UTC)")
    TIPS = (
        "The envelope's serial number, printed on the mailer",
        "Which component (or backup share) of how many",
        "The key the component belongs to",
        "The custodian the envelope is for",
        "Where the envelope is in its chain of custody",
        "The tamper-evident bag it was sealed in",
        "When its last event was registered",
    )
    MONOSPACE = frozenset({SERIAL, BAG})

    def row_of(self, serial: str) -> int | None:
        return next((i for i, e in enumerate(self._rows) if e.serial == serial), None)

    def _display(self, record: Envelope, column: int) -> str:
        if column == self.SERIAL:
            return record.serial
        if column == self.KIND:
            return record.describe
        if column == self.KEY:
            return record.key_label
        if column == self.CUSTODIAN:
            return record.custodian_name
        if column == self.STATE:
            return state_title(record.state)
        if column == self.BAG:
            return record.bag_number or ""
        if column == self.LAST_EVENT:
            return moment(record.events[-1].at)
        return ""

    def _tooltip(self, record: Envelope, column: int) -> str | None:
        if column == self.STATE:
            return f"{state_title(record.state)}: {STATE_MEANINGS[record.state]}"
        if column == self.LAST_EVENT:
            last = record.events[-1]
            return f"{state_title(last.state)} with {', '.join(last.people)}"
        return None

    def _foreground(self, record: Envelope, column: int) -> QColor | None:
        if column == self.STATE:
            return QColor(STATE_COLOURS[record.state])
        if record.state is EnvelopeState.DESTROYED:
            return QColor(STATE_COLOURS[EnvelopeState.DESTROYED])
        return None


# The envelope register's columns sized to what they show (the last one stretches).
ENVELOPE_FITTED = tuple(range(EnvelopeTableModel.LAST_EVENT))


class HoldingTableModel(RecordModel[ComponentHolding]):
    """The split-knowledge register: who has known which component, by person."""

    PERSON, KEY, COMPONENT, COMPONENT_KCV, HOW, WHEN, CEREMONY = range(7)
    HEADERS = ("Person", "Key", "Component", "Component KCV", "How", "When (UTC)", "Ceremony")
    TIPS = (
        "The person who knows the component",
        "The key it belongs to",
        "Which component (or master key backup share)",
        "The component's own check value: tells one component from another",
        "How the person came to know it",
        "When",
        "The ceremony it happened in",
    )
    MONOSPACE = frozenset({COMPONENT_KCV})

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ceremonies: dict[str, str] = {}

    def set_ceremony_names(self, names: Mapping[str, str]) -> None:
        """Ceremony id -> how to name it in the last column."""
        self._ceremonies = dict(names)
        if self._rows:
            last = len(self._rows) - 1
            self.dataChanged.emit(self.index(0, self.CEREMONY), self.index(last, self.CEREMONY))

    def _ordered(self, rows: list[ComponentHolding]) -> list[ComponentHolding]:
        return sorted(rows, key=lambda h: (h.person_name.casefold(), h.at))

    def _display(self, record: ComponentHolding, column: int) -> str:
        if column == self.PERSON:
            return record.person_name
        if column == self.KEY:
            return record.key_label
        if column == self.COMPONENT:
            what = "share" if record.key_id.startswith("backup:") else "component"
            return f"{what} {record.index}"
        if column == self.COMPONENT_KCV:
            return record.secret_kcv
        if column == self.HOW:
            return record.how
        if column == self.WHEN:
            return moment(record.at)
        if column == self.CEREMONY:
            return self._ceremonies.get(record.ceremony_id, record.ceremony_id[:12])
        return ""

    def _tooltip(self, record: ComponentHolding, column: int) -> str | None:
        if column == self.KEY:
            return f"{record.key_label} ({record.key_identity})"
        if column == self.CEREMONY:
            return f"Ceremony {record.ceremony_id}"
        return None


# --- what the page reads -------------------------------------------------------------------


@dataclass(frozen=True)
class CeremonyRegister:
    """Everything the page shows, read in one job on the device thread."""

    ceremonies: list[Ceremony]
    envelopes: list[Envelope]
    holdings: list[ComponentHolding]
    backup: MasterKeyBackupInfo | None
    envelope_requirement: Requirement | None = None  # what an envelope event needs now


def signature_status(
    ceremony: Ceremony, verification: CeremonyVerification | None
) -> dict[str, tuple[bool | None, str]]:
    """Each participant's signature, by person id: (True valid / False bad / None not
    checked yet, words)."""
    signed = {s.person_id: s for s in ceremony.signatures}
    checks = {s.card_id: s for s in verification.signatures} if verification else {}
    missing = set(verification.missing) if verification else set()
    result: dict[str, tuple[bool | None, str]] = {}
    for p in ceremony.participants:
        signature = signed.get(p.person_id)
        if signature is None or p.name in missing:
            result[p.person_id] = (False, "✘ did not sign")
            continue
        check = checks.get(signature.card_id)
        if verification is None:
            result[p.person_id] = (None, "signed with their card (not verified yet)")
        elif check is None:
            result[p.person_id] = (False, "✘ signature not checked")
        elif check.valid:
            result[p.person_id] = (True, "✔ signature valid")
        else:
            result[p.person_id] = (False, f"✘ INVALID: {check.problem}")
    return result


def verdict(verification: CeremonyVerification) -> str:
    """The verification's result in one sentence."""
    if verification.ok:
        n = len(verification.signatures)
        every = "the participant's" if n == 1 else f"all {n} participants'"
        return (
            f"✔ Verified: the record's seal is intact and {every} card signatures over the "
            "transcript are valid."
        )
    problems: list[str] = []
    if not verification.seal_ok:
        problems.append("the record does not match its HSM seal (changed outside the workstation)")
    problems += [
        f"{s.name}'s signature: {s.problem}" for s in verification.signatures if not s.valid
    ]
    problems += [f"{name} did not sign" for name in verification.missing]
    return (
        "✘ NOT verified: "
        + "; ".join(problems)
        + ". Report this to the security officers and the auditors."
    )


# --- shared pieces ---------------------------------------------------------------------------


CELL = "padding:3px 10px 3px 0; border-bottom:1px solid #ddd"
HEAD = "padding:3px 10px 3px 0; border-bottom:1px solid #999"


def _html_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    empty: str,
    widths: Sequence[int] = (),
) -> str:
    """Rows of already-escaped HTML cells as a plain ruled table; ``widths`` in per cent
    of the width, by column."""
    if not rows:
        return f"<p><i>{escape(empty)}</i></p>"
    sizes = [f" width='{w}%'" for w in widths] + [""] * len(header)
    head = "".join(
        f"<th align='left'{size} style='{HEAD}'>{h}</th>"
        for h, size in zip(header, sizes, strict=False)
    )
    body = "".join(
        "<tr>" + "".join(f"<td valign='top' style='{CELL}'>{c}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table cellspacing='0' width='100%'><tr>{head}</tr>{body}</table>"


def _heading_font(label: QLabel, scale: float = 1.3) -> None:
    font = QFont(label.font())
    font.setPointSizeF(font.pointSizeF() * scale)
    font.setBold(True)
    label.setFont(font)


def _browser(name: str, parent: QWidget) -> QTextBrowser:
    browser = QTextBrowser(parent)
    browser.setObjectName(name)
    browser.setOpenLinks(False)
    browser.setFrameShape(QFrame.Shape.NoFrame)
    browser.document().setDocumentMargin(2)
    return browser


class PaperOutputDialog(QDialog):
    """Where a document goes: a PDF file in a folder the person chooses, or the printer
    configured on this workstation (offered only when there is one)."""

    def __init__(
        self,
        title: str,
        what: str,
        printer: str | None,
        folder: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("paperOutputDialog")
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        intro = QLabel(what, self)
        intro.setWordWrap(True)
        self.to_folder = QRadioButton("Save as a PDF file in this folder:", self)
        self.to_folder.setObjectName("toFolder")
        self.folder = QLineEdit(folder, self)
        self.folder.setObjectName("folderEdit")
        self.folder.setPlaceholderText("choose a folder")
        self.choose = QPushButton("Choose…", self)
        self.choose.setObjectName("chooseFolder")
        self.choose.clicked.connect(self._choose)
        self.to_printer = QRadioButton(
            f"Print on {printer}" if printer else "Print (no printer is configured here)", self
        )
        self.to_printer.setObjectName("toPrinter")
        self.to_printer.setEnabled(printer is not None)
        group = QButtonGroup(self)
        group.addButton(self.to_folder)
        group.addButton(self.to_printer)
        self.to_folder.setChecked(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        folder_row = QHBoxLayout()
        folder_row.setContentsMargins(24, 0, 0, 0)
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.choose)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.to_folder)
        layout.addLayout(folder_row)
        layout.addWidget(self.to_printer)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        for signal in (self.to_folder.toggled, self.folder.textChanged):
            signal.connect(self._update)
        self._update()
        self.resize(520, self.sizeHint().height())

    def _choose(self) -> None:
        chosen = file_choice.choose_directory(
            self,
            "Choose the folder for the PDF file",
            self.folder.text() or str(Path.home()),
            kind=MediaExport.CEREMONY_RECORDS,
        )
        if chosen is not None:
            self.folder.setText(str(chosen))
            self.to_folder.setChecked(True)

    def _update(self) -> None:
        text = self.folder.text().strip()
        ok = self.to_printer.isChecked() or (bool(text) and Path(text).is_dir())
        button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if button is not None:
            button.setEnabled(ok)

    def output(self) -> PaperOutput:
        if self.to_printer.isChecked():
            return PaperOutput(printer=True)
        return PaperOutput(directory=Path(self.folder.text().strip()))


# --- the ceremony's detail -------------------------------------------------------------------


class CeremonyDetail(QWidget):
    """One ceremony: facts, the verification verdict, participants with their signatures,
    the script and the transcript."""

    verify_clicked = Signal()
    print_clicked = Signal()
    export_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ceremonyDetail")
        self.current: Ceremony | None = None
        self.verification: CeremonyVerification | None = None

        self.stack = QStackedWidget(self)
        placeholder = QLabel("Choose a ceremony to see its script, transcript and signatures.")
        placeholder.setObjectName("ceremonyPlaceholder")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        placeholder.setWordWrap(True)
        self.stack.addWidget(placeholder)

        body = QWidget(self)
        content = QVBoxLayout(body)
        content.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel(body)
        self.title.setObjectName("ceremonyTitle")
        self.title.setWordWrap(True)
        _heading_font(self.title)
        self.facts = QLabel(body)
        self.facts.setObjectName("ceremonyFacts")
        self.facts.setWordWrap(True)
        self.facts.setTextFormat(Qt.TextFormat.RichText)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict = QLabel(body)
        self.verdict.setObjectName("ceremonyVerdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bold = QFont(self.verdict.font())
        bold.setBold(True)
        self.verdict.setFont(bold)
        self.verdict.hide()
        buttons = QHBoxLayout()
        self.verify_button = QPushButton("&Verify signatures", body)
        self.verify_button.setObjectName("verifyCeremonyButton")
        self.verify_button.setToolTip(
            "Check the record's HSM seal and every participant's card signature over the "
            "transcript against the card certificates enrolled here (needs an auditor or a "
            "security officer)."
        )
        self.verify_button.clicked.connect(self.verify_clicked)
        self.print_button = QPushButton("&Print record…", body)
        self.print_button.setObjectName("printRecordButton")
        self.print_button.setToolTip(
            "Print the ceremony record for every participant to sign by hand; it is filed "
            "with the envelope register."
        )
        self.print_button.clicked.connect(self.print_clicked)
        # No mnemonic: every free letter near it is a tab's or the session panel's.
        self.export_button = QPushButton("Export record…", body)
        self.export_button.setObjectName("exportRecordButton")
        self.export_button.setToolTip(
            "Write the record as a file an auditor verifies on any machine with "
            "workstation-audit-verify --ceremony: the transcript, every card signature with "
            "its certificate and the audit entry, signed by the HSM audit key (needs an "
            "auditor)."
        )
        self.export_button.clicked.connect(self.export_clicked)
        buttons.addWidget(self.verify_button)
        buttons.addWidget(self.print_button)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        self.document = _browser("ceremonyDocument", body)
        content.addWidget(self.title)
        content.addWidget(self.facts)
        content.addLayout(buttons)
        content.addWidget(self.verdict)
        content.addWidget(self.document, 1)
        self.stack.addWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

    def clear(self) -> None:
        self.current = None
        self.verification = None
        self.stack.setCurrentIndex(0)

    def show_ceremony(
        self, ceremony: Ceremony, verification: CeremonyVerification | None = None
    ) -> None:
        self.current = ceremony
        self.verification = verification
        self.stack.setCurrentIndex(1)
        self.title.setText(ceremony.title)
        facts = []
        if ceremony.key_label:
            key = f"Key <b>{escape(ceremony.key_label)}</b>"
            if ceremony.algorithm:
                key += f" ({escape(ceremony.algorithm)})"
            if ceremony.key_kcv:
                key += f", KCV <code>{escape(ceremony.key_kcv)}</code>"
            facts.append(key)
        facts.append(
            f"{moment(ceremony.started_at)} to {ceremony.completed_at.astimezone(UTC):%H:%M} UTC"
        )
        if ceremony.envelopes:
            facts.append("envelopes " + escape(", ".join(ceremony.envelopes)))
        facts.append(f"ceremony <code>{escape(ceremony.id[:12])}</code>")
        self.facts.setText(" · ".join(facts))
        self.facts.setToolTip(
            f"Ceremony {ceremony.id}\nWorkstation {ceremony.workstation_id}\n"
            f"Transcript SHA-256 {ceremony.transcript_hash}"
        )
        if verification is None:
            self.verdict.hide()
        else:
            self.verdict.setText(verdict(verification))
            self.verdict.setStyleSheet(GOOD_STYLE if verification.ok else ERROR_STYLE)
            self.verdict.show()
        self.document.setHtml(self._html(ceremony, verification))

    @staticmethod
    def _html(ceremony: Ceremony, verification: CeremonyVerification | None) -> str:
        status = signature_status(ceremony, verification)
        colours = {True: "#1b7f3a", False: BAD_COLOUR, None: "#000000"}
        participants = [
            (
                f"<b>{escape(p.name)}</b>",
                escape(p.part),
                f"<code>{escape(p.card_id[:12])}</code>",
                f"<span style='color:{colours[status[p.person_id][0]]}'>"
                f"{escape(status[p.person_id][1])}</span>",
            )
            for p in ceremony.participants
        ]
        done = {e.step for e in ceremony.transcript}
        steps = [
            (
                f"<span style='white-space:nowrap'>{n}.</span>",
                f"<b>{escape(s.title)}</b>" + (" ✔" if s.id in done else ""),
                escape(s.needs),
            )
            for n, s in enumerate(ceremony.script.steps, 1)
        ]
        transcript = []
        for e in ceremony.transcript:
            what = escape(e.text)
            if e.data:
                what += "<br>" + "<br>".join(
                    f"<span style='color:#555'>{escape(k)}</span> <code>{escape(v)}</code>"
                    for k, v in e.data.items()
                )
            transcript.append(
                (
                    f"{e.at.astimezone(UTC):%H:%M:%S}",
                    escape(step_title(ceremony.kind, e.step)),
                    escape(", ".join(e.people)),
                    what,
                )
            )
        return (
            "<h4>Participants and their card signatures</h4>"
            + _html_table(
                ("Person", "Part", "Card", "Signature"),
                participants,
                "Nobody took part.",
                (20, 30, 16, 34),
            )
            + f"<h4>Script: {escape(ceremony.title)}</h4>"
            + _html_table(("", "Step", "Needs"), steps, "No steps.", (3, 37, 60))
            + f"<h4>Transcript ({ceremony.started_at.astimezone(UTC):%Y-%m-%d}, UTC)</h4>"
            + _html_table(
                ("Time", "Step", "People", "What happened"),
                transcript,
                "Empty.",
                (9, 19, 22, 50),
            )
            + "<p style='color:#555'>Transcript SHA-256 "
            + f"<code>{ceremony.transcript_hash}</code></p>"
        )


# --- the envelope's detail -------------------------------------------------------------------


class EnvelopeDetail(QWidget):
    """One envelope: what it holds, its chain of custody and the events it can go through
    next."""

    event_clicked = Signal(object)  # EnvelopeState
    acknowledgement_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("envelopeDetail")
        self.current: Envelope | None = None
        self.present: list[str] = []
        self.requirement: Requirement | None = None
        self.stack = QStackedWidget(self)
        placeholder = QLabel("Choose an envelope to see its chain of custody.")
        placeholder.setObjectName("envelopePlaceholder")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        placeholder.setWordWrap(True)
        self.stack.addWidget(placeholder)

        body = QWidget(self)
        content = QVBoxLayout(body)
        content.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel(body)
        self.title.setObjectName("envelopeTitle")
        self.title.setWordWrap(True)
        _heading_font(self.title)
        content.addWidget(self.title)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.fields: dict[str, QLabel] = {}
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for name, title in (
            ("holds", "Holds"),
            ("custodian", "Custodian"),
            ("state", "State"),
            ("bag", "Bag number"),
            ("kcv", "Component KCV"),
            ("ceremony", "Printed by"),
        ):
            value = QLabel(body)
            value.setObjectName(f"envelope_{name}")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"{title}:", value)
            self.fields[name] = value
        self.fields["kcv"].setFont(fixed)
        self.fields["bag"].setFont(fixed)
        content.addLayout(form)

        events_box = QGroupBox("Register the next event", body)
        events_box.setObjectName("envelopeEvents")
        events = QVBoxLayout(events_box)
        row = QHBoxLayout()
        self.event_buttons: dict[EnvelopeState, QPushButton] = {}
        for event, text, object_name, meaning in EVENT_BUTTONS:
            button = QPushButton(text, events_box)
            button.setObjectName(object_name)
            button.setToolTip(meaning)
            button.clicked.connect(lambda _=False, e=event: self.event_clicked.emit(e))
            row.addWidget(button)
            self.event_buttons[event] = button
        row.addStretch(1)
        self.needs = QLabel(events_box)
        self.needs.setObjectName("envelopeNeeds")
        self.needs.setWordWrap(True)
        events.addLayout(row)
        events.addWidget(self.needs)
        content.addWidget(events_box)

        history_box = QGroupBox("Chain of custody (UTC)", body)
        history = QVBoxLayout(history_box)
        self.history = _browser("envelopeHistory", history_box)
        history.addWidget(self.history)

        self.acknowledgement_button = QPushButton("Print &acknowledgement form…", body)
        self.acknowledgement_button.setObjectName("acknowledgementButton")
        self.acknowledgement_button.setToolTip(
            "A form for the custodian to sign: the envelope, its bag and its history so far."
        )
        self.acknowledgement_button.clicked.connect(self.acknowledgement_clicked)
        ack_row = QHBoxLayout()
        ack_row.addWidget(self.acknowledgement_button)
        ack_row.addStretch(1)
        content.addLayout(ack_row)
        content.addStretch(1)
        # What the envelope is and what can happen next on the left, its chain of custody
        # beside it: the register is wide and the events' people need the room.
        columns = QWidget(self)
        beside = QHBoxLayout(columns)
        beside.setContentsMargins(0, 0, 0, 0)
        beside.addWidget(body, 1)
        beside.addWidget(history_box, 1)
        self.stack.addWidget(columns)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

    def clear(self) -> None:
        self.current = None
        self.stack.setCurrentIndex(0)

    def next_events(self) -> list[EnvelopeState]:
        """The events offered for the shown envelope (its possible next states)."""
        return [e for e, b in self.event_buttons.items() if not b.isHidden()]

    def show_envelope(self, envelope: Envelope, ceremonies: Mapping[str, str]) -> None:
        self.current = envelope
        self.stack.setCurrentIndex(1)
        self.title.setText(f"Envelope {envelope.serial}")
        f = self.fields
        f["holds"].setText(f"{envelope.describe} of {envelope.key_label}")
        f["custodian"].setText(envelope.custodian_name)
        colour = STATE_COLOURS[envelope.state]
        f["state"].setText(
            f"<b style='color:{colour}'>{escape(state_title(envelope.state))}</b> — "
            f"{escape(STATE_MEANINGS[envelope.state])}"
        )
        f["bag"].setText(envelope.bag_number or "not sealed yet")
        f["kcv"].setText(envelope.secret_kcv)
        f["ceremony"].setText(
            ceremonies.get(envelope.ceremony_id, f"ceremony {envelope.ceremony_id[:12]}")
        )
        possible = ENVELOPE_TRANSITIONS[envelope.state]
        for event, button in self.event_buttons.items():
            button.setVisible(event in possible)
        self._show_needs()
        # No fixed column widths: the table gives each column at least its longest word,
        # so a ceremony id in a note is never split; the time stays on one line.
        rows = [
            (
                f"<p style='margin:0; white-space:nowrap'>{escape(moment(e.at))}</p>",
                f"<b>{escape(state_title(e.state))}</b>",
                escape(", ".join(e.people)),
                escape(e.note),
            )
            for e in envelope.events
        ]
        self.history.setHtml(
            _html_table(("Time", "Event", "People", "Note"), rows, "No events registered.")
        )

    def set_session(self, present: Iterable[str], requirement: Requirement | None) -> None:
        """Who is logged on, and what an envelope event needs with them (as the service
        says): the line under the buttons follows."""
        self.present = list(present)
        self.requirement = requirement
        self._show_needs()

    def _show_needs(self) -> None:
        envelope = self.current
        if envelope is None:
            return
        possible = ENVELOPE_TRANSITIONS[envelope.state]
        if not possible:
            self.needs.setText("Destroyed: nothing further can happen to this envelope.")
            self.needs.setStyleSheet("")
            return
        requirement = self.requirement
        if requirement is None:
            text = "Each event is checked against the policy when it is registered."
        elif requirement.met:
            text = f"Each event needs {requirement.quorum}: met."
        elif requirement.reason:
            text = requirement.reason
        else:
            text = (
                f"Each event needs {requirement.quorum}; still missing: "
                f"{', '.join(requirement.missing)} (asked for when you choose an event)."
            )
        present = self.present
        custodial = [e for e, *_ in EVENT_BUTTONS if e in possible and e in CUSTODIAN_EVENTS]
        here = envelope.custodian_name in set(present)
        if custodial:
            what = " / ".join(EVENT_DONE[e] for e in custodial).capitalize()
            text += f" {what}: {envelope.custodian_name} must be logged on" + (
                " (logged on now)." if here else f"; {envelope.custodian_name} is not now."
            )
        self.needs.setText(text)
        self.needs.setStyleSheet("" if here or not custodial else "color: #b26a00;")


# --- the page --------------------------------------------------------------------------------


class CeremoniesPage(QWidget):
    """Toolbar of ceremony wizards and three tabs: ceremonies, envelopes, holders."""

    refreshed = Signal()  # after each read shown

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ceremoniesPage")
        self.state = state
        self._stale = True
        self._ticket = 0
        self.register: CeremonyRegister | None = None
        self._verifications: dict[str, CeremonyVerification] = {}
        self._ceremony_names: dict[str, str] = {}
        self.last_delivery: Delivery | None = None
        self.last_record_export: RecordExport | None = None

        self.toolbar, self.wizard_actions = wizard_toolbar(
            self, "Ceremonies", "ceremonyToolbar", WIZARD_ENTRIES, self.open_wizard
        )

        self.status = StatusLine("ceremoniesStatus", self, good_style="", selectable=False)

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("ceremonyTabs")
        self.tabs.addTab(self._build_ceremonies_tab(), "Ceremonies")
        self.tabs.addTab(self._build_envelopes_tab(), "Envelope register")
        self.tabs.addTab(self._build_holders_tab(), "Component holders")

        layout = QVBoxLayout(self)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)

        state.session_changed.connect(self._session_changed)
        state.data_changed.connect(self._data_changed)
        state.unlocked.connect(self._mark_stale)

    # --- building --------------------------------------------------------------------------

    def _build_ceremonies_tab(self) -> QWidget:
        tab = QWidget(self)
        self.ceremony_model = CeremonyTableModel(self)
        self.ceremony_table = record_table(self.ceremony_model, "ceremonyTable", tab)
        fit_columns(
            self.ceremony_table,
            {
                CeremonyTableModel.STARTED: "2026-03-10 14:30",
                CeremonyTableModel.SCRIPT: "Generate a key as printed components",
                CeremonyTableModel.KEY: "TMK-20260310-0001",
                CeremonyTableModel.KCV: "A1B2C3",
                CeremonyTableModel.SIGNATURES: "3/3",
            },
        )
        # The participants take what is left: the other columns have a known width.
        header = self.ceremony_table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(CeremonyTableModel.PARTICIPANTS, QHeaderView.ResizeMode.Stretch)
        self.ceremony_table.selectionModel().currentRowChanged.connect(self._ceremony_chosen)
        self.ceremony_detail = CeremonyDetail(tab)
        self.ceremony_detail.verify_clicked.connect(self.verify_selected)
        self.ceremony_detail.print_clicked.connect(self.print_selected)
        self.ceremony_detail.export_clicked.connect(self.export_selected)
        splitter = QSplitter(Qt.Orientation.Vertical, tab)
        splitter.setObjectName("ceremonySplitter")
        splitter.addWidget(self.ceremony_table)
        splitter.addWidget(self.ceremony_detail)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 4)
        splitter.setSizes([130, 520])  # a few ceremonies show; the record gets the room
        splitter.setChildrenCollapsible(False)
        self.ceremony_count = QLabel(tab)
        self.ceremony_count.setObjectName("ceremonyCount")
        layout = QVBoxLayout(tab)
        layout.addWidget(self.ceremony_count)
        layout.addWidget(splitter, 1)
        return tab

    def _build_envelopes_tab(self) -> QWidget:
        tab = QWidget(self)
        self.envelope_filter = QComboBox(tab)
        self.envelope_filter.setObjectName("envelopeStateFilter")
        self.envelope_filter.addItem("Any state", None)
        for s in EnvelopeState:
            self.envelope_filter.addItem(state_title(s), s.value)
            self.envelope_filter.setItemData(
                self.envelope_filter.count() - 1,
                STATE_MEANINGS[s],
                Qt.ItemDataRole.ToolTipRole,
            )
        self.envelope_filter.currentIndexChanged.connect(lambda _: self.refresh())
        label = QLabel("S&tate:", tab)
        label.setBuddy(self.envelope_filter)
        self.envelope_count = QLabel(tab)
        self.envelope_count.setObjectName("envelopeCount")
        filters = QHBoxLayout()
        filters.addWidget(label)
        filters.addWidget(self.envelope_filter)
        filters.addSpacing(12)
        filters.addWidget(self.envelope_count, 1)

        self.envelope_model = EnvelopeTableModel(self)
        self.envelope_table = record_table(self.envelope_model, "envelopeTable", tab)
        fit_columns(
            self.envelope_table,
            {
                EnvelopeTableModel.SERIAL: "KCW-E-000000",
                EnvelopeTableModel.KIND: "component 2 of 3",
                EnvelopeTableModel.KEY: "TMK-20260310-0001",
                EnvelopeTableModel.CUSTODIAN: "Oscar Lindqvist",
                EnvelopeTableModel.STATE: "Handed over",
                EnvelopeTableModel.BAG: "TEB-0000",
            },
        )
        self.envelope_table.selectionModel().currentRowChanged.connect(self._envelope_chosen)
        self.envelope_detail = EnvelopeDetail(tab)
        self.envelope_detail.event_clicked.connect(self.record_event)
        self.envelope_detail.acknowledgement_clicked.connect(self.print_acknowledgement)

        left = QWidget(tab)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(filters)
        left_layout.addWidget(self.envelope_table, 1)
        splitter = QSplitter(Qt.Orientation.Vertical, tab)
        splitter.setObjectName("envelopeSplitter")
        splitter.addWidget(left)
        splitter.addWidget(self.envelope_detail)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([200, 420])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(tab)
        layout.addWidget(splitter)
        return tab

    def _build_holders_tab(self) -> QWidget:
        tab = QWidget(self)
        self.person_filter = QComboBox(tab)
        self.person_filter.setObjectName("holderPersonFilter")
        self.person_filter.addItem("Anyone", None)
        self.key_filter = QComboBox(tab)
        self.key_filter.setObjectName("holderKeyFilter")
        self.key_filter.addItem("Any key", None)
        for combo in (self.person_filter, self.key_filter):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.currentIndexChanged.connect(lambda _: self._filter_holdings())
        person_label = QLabel("P&erson:", tab)
        person_label.setBuddy(self.person_filter)
        key_label = QLabel("Ke&y:", tab)
        key_label.setBuddy(self.key_filter)
        self.holding_count = QLabel(tab)
        self.holding_count.setObjectName("holdingCount")
        filters = QHBoxLayout()
        filters.addWidget(person_label)
        filters.addWidget(self.person_filter)
        filters.addSpacing(12)
        filters.addWidget(key_label)
        filters.addWidget(self.key_filter)
        filters.addSpacing(12)
        filters.addWidget(self.holding_count, 1)

        explanation = QLabel(
            "Split knowledge: nobody may ever know more than one component of a key. Every "
            "component a person printed, entered, exported or holds as a backup share is "
            "remembered here for good, and each ceremony checks it.",
            tab,
        )
        explanation.setWordWrap(True)
        explanation.setStyleSheet("color: #555;")
        self.holding_model = HoldingTableModel(self)
        self.holding_table = record_table(self.holding_model, "holdingTable", tab)
        fit_columns(
            self.holding_table,
            {
                HoldingTableModel.PERSON: "Oscar Lindqvist",
                HoldingTableModel.KEY: "TMK-20260310-0001",
                HoldingTableModel.COMPONENT: "component 2",
                HoldingTableModel.COMPONENT_KCV: "A1B2C3",
                HoldingTableModel.HOW: "backup share",
                HoldingTableModel.WHEN: "2026-03-10 14:30",
            },
        )

        backup_box = QGroupBox("Master key backup", tab)
        backup_layout = QVBoxLayout(backup_box)
        self.backup_line = QLabel(backup_box)
        self.backup_line.setObjectName("backupLine")
        self.backup_line.setWordWrap(True)
        self.backup_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        backup_layout.addWidget(self.backup_line)

        layout = QVBoxLayout(tab)
        layout.addLayout(filters)
        layout.addWidget(explanation)
        layout.addWidget(self.holding_table, 1)
        layout.addWidget(backup_box)
        return tab

    # --- reading ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the registers again, only if the session may read them."""
        if not self.state.members:
            return
        self._stale = False
        self._ticket += 1
        ticket = self._ticket
        services = self.state.services
        chosen = self.envelope_filter.currentData()
        envelope_state = EnvelopeState(chosen) if isinstance(chosen, str) else None

        def work(_: JobControl) -> CeremonyRegister:
            session = self.state.ensure_session()
            ceremonies = services.ceremonies
            return CeremonyRegister(
                ceremonies=ceremonies.ceremonies(session),
                envelopes=ceremonies.envelopes(session, state=envelope_state),
                holdings=ceremonies.holdings(session),
                backup=ceremonies.master_key_backup(session),
                envelope_requirement=services.logon.requirement(
                    session, Action.RECORD_ENVELOPE, None
                ),
            )

        def refused(requirement: Requirement) -> None:
            self._clear()
            self.status.notice(
                f"Reading the ceremonies needs {requirement.quorum}; nobody logged on fills it."
            )
            self.refreshed.emit()

        def failed(exc: BaseException) -> None:
            self.status.notice(describe(exc)[1], bad=True)
            self.refreshed.emit()

        read_if_allowed(
            self.state,
            Action.VIEW_INVENTORY,
            title="read the ceremony registers",
            work=work,
            on_done=self._show,
            on_refused=refused,
            on_error=failed,
            current=lambda: ticket == self._ticket,
        )

    def _show(self, register: CeremonyRegister) -> None:
        self.register = register
        self._ceremony_names = {
            c.id: f"{CEREMONY_NAMES.get(c.kind, c.kind.value)} {moment(c.started_at)}"
            for c in register.ceremonies
        }
        ceremony_id = self.ceremony_detail.current.id if self.ceremony_detail.current else None
        serial = self.envelope_detail.current.serial if self.envelope_detail.current else None

        self.ceremony_model.set_rows(register.ceremonies)
        self._reselect(self.ceremony_table, self.ceremony_model.row_of(ceremony_id or ""))
        if self.ceremony_model.rowCount() == 0:
            self.ceremony_detail.clear()

        self.envelope_detail.set_session(self._present(), register.envelope_requirement)
        self.envelope_model.set_rows(register.envelopes)
        if register.envelopes:  # bag numbers and key labels have no fixed length
            fit_to_contents(self.envelope_table, ENVELOPE_FITTED)
        self._reselect(self.envelope_table, self.envelope_model.row_of(serial or ""))
        if self.envelope_model.rowCount() == 0:
            self.envelope_detail.clear()
        self.envelope_count.setText(self._envelope_summary(register.envelopes))

        self.holding_model.set_ceremony_names(self._ceremony_names)
        self._fill_holding_filters(register.holdings)
        self._filter_holdings()
        self.show_backup(register.backup)

        n = len(register.ceremonies)
        self.ceremony_count.setText(
            f"{count(n, 'ceremony', 'ceremonies')}, newest first." if n else "No ceremonies yet."
        )
        # The status line is for what people did, and read problems until a read succeeds.
        self.status.withdraw_notice()
        self.refreshed.emit()

    def _reselect(self, view: QTableView, row: int | None) -> None:
        """The record shown before, or the first row: a detail pane is never empty while
        there are rows."""
        if view.model().rowCount() == 0:
            return
        select_row(view, 0 if row is None else row)

    @staticmethod
    def _envelope_summary(envelopes: Sequence[Envelope]) -> str:
        if not envelopes:
            return "No envelopes."
        counts: dict[EnvelopeState, int] = {}
        for e in envelopes:
            counts[e.state] = counts.get(e.state, 0) + 1
        detail = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
        return f"{count(len(envelopes), 'envelope')}: {detail}."

    def _fill_holding_filters(self, holdings: Sequence[ComponentHolding]) -> None:
        people = sorted({h.person_name for h in holdings}, key=str.casefold)
        keys = sorted({h.key_label for h in holdings}, key=str.casefold)
        for combo, values, anything in (
            (self.person_filter, people, "Anyone"),
            (self.key_filter, keys, "Any key"),
        ):
            chosen = combo.currentData()
            with QSignalBlocker(combo):
                combo.clear()
                combo.addItem(anything, None)
                for value in values:
                    combo.addItem(value, value)
                combo.setCurrentIndex(max(0, combo.findData(chosen)))

    def _filter_holdings(self) -> None:
        holdings = self.register.holdings if self.register else []
        person = self.person_filter.currentData()
        key = self.key_filter.currentData()
        shown = [
            h
            for h in holdings
            if (person is None or h.person_name == person) and (key is None or h.key_label == key)
        ]
        self.holding_model.set_rows(shown)
        if len(shown) == len(holdings):
            self.holding_count.setText(count(len(holdings), "holding") + ".")
        else:
            self.holding_count.setText(f"{len(shown):,} of {count(len(holdings), 'holding')}.")

    def show_backup(self, backup: MasterKeyBackupInfo | None) -> None:
        if backup is None:
            self.backup_line.setText(
                "⚠ The master key has not been backed up. Without a backup, losing this "
                "HSM loses every key: use “Back up master key…”."
            )
            self.backup_line.setStyleSheet(ERROR_STYLE)
            return
        try:
            when = parse_time(backup.created_at) if backup.created_at else None
        except ValueError:
            when = None
        if backup.scheme == "components":
            recover = f"all {backup.count} XOR components recover it"
        else:
            scheme = SCHEMES.get(backup.scheme, backup.scheme)
            recover = f"any {backup.threshold} of its {backup.count} {scheme} recover it"
        holders = ", ".join(f"{i} {name} (envelope {serial})" for i, name, serial in backup.holders)
        made = f" {moment(when)} UTC" if when is not None else ""
        self.backup_line.setText(
            f"✔ Master key backed up{made} as set {backup.set_id}: {recover}. Holders: {holders}."
        )
        self.backup_line.setStyleSheet(GOOD_STYLE)

    def _clear(self) -> None:
        self.register = None
        self.ceremony_model.set_rows([])
        self.ceremony_detail.clear()
        self.envelope_model.set_rows([])
        self.envelope_detail.clear()
        self.envelope_count.setText("")
        self.ceremony_count.setText("")
        self.holding_model.set_rows([])
        self.holding_count.setText("")
        self.backup_line.setText("")

    # --- selection -------------------------------------------------------------------------

    def _ceremony_chosen(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        ceremony = current_record(self.ceremony_table, self.ceremony_model)
        if ceremony is None:
            return
        self.ceremony_detail.show_ceremony(ceremony, self._verifications.get(ceremony.id))

    def _envelope_chosen(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        envelope = current_record(self.envelope_table, self.envelope_model)
        if envelope is None:
            return
        self.envelope_detail.show_envelope(envelope, self._ceremony_names)

    def _present(self) -> list[str]:
        return [m.name for m in self.state.members]

    def select_ceremony(self, ceremony_id: str) -> bool:
        row = self.ceremony_model.row_of(ceremony_id)
        if row is None:
            return False
        self.tabs.setCurrentIndex(0)
        select_row(self.ceremony_table, row)
        return True

    def select_envelope(self, serial: str) -> bool:
        row = self.envelope_model.row_of(serial)
        if row is None:
            return False
        self.tabs.setCurrentIndex(1)
        select_row(self.envelope_table, row)
        return True

    # --- ceremony records ------------------------------------------------------------------

    def verify_selected(self) -> None:
        ceremony = self.ceremony_detail.current
        if ceremony is None:
            return
        services = self.state.services

        def work(_: JobControl) -> CeremonyVerification:
            return services.ceremonies.verify_ceremony(self.state.ensure_session(), ceremony.id)

        def done(verification: CeremonyVerification) -> None:
            self._verifications[ceremony.id] = verification
            shown = self.ceremony_detail.current
            if shown is not None and shown.id == ceremony.id:
                self.ceremony_detail.show_ceremony(ceremony, verification)

        perform(
            self.state,
            self,
            action=Action.VIEW_AUDIT,
            title=f"Verifying the ceremony record {ceremony.id[:12]}",
            work=work,
            on_done=done,
        )

    def print_selected(self) -> None:
        ceremony = self.ceremony_detail.current
        if ceremony is None:
            return
        services = self.state.services

        def run(output: PaperOutput) -> None:
            def work(_: JobControl) -> Delivery:
                return services.ceremonies.print_record(
                    self.state.ensure_session(), ceremony.id, output=output
                )

            perform(
                self.state,
                self,
                action=Action.VIEW_AUDIT,
                title=f"Printing the ceremony record {ceremony.id[:12]}",
                work=work,
                on_done=lambda d: self._delivered(d, "The ceremony record"),
            )

        self.ask_output(
            "Print the ceremony record",
            f"The record of “{ceremony.title}” ({moment(ceremony.started_at)} UTC), for every "
            "participant to sign by hand. It holds no key material.",
            run,
        )

    def export_selected(self) -> None:
        ceremony = self.ceremony_detail.current
        if ceremony is None:
            return
        path = self.ask_record_file(ceremony)
        if path is not None:
            self.export_record_to(ceremony, path)

    def ask_record_file(self, ceremony: Ceremony) -> Path | None:
        """The file a ceremony record goes to (None: cancelled). The service refuses an
        existing file, so the dialog does not offer to replace one."""
        folder = self.state.settings.value("ceremonies/record_folder", "")
        start = Path(folder) if isinstance(folder, str) and folder else Path.home()
        return file_choice.save_file(
            self,
            "Export the ceremony record for auditors",
            str(start / f"ceremony-{ceremony.id[:12]}.json"),
            "Ceremony record (*.json);;All files (*)",
            kind=MediaExport.CEREMONY_RECORDS,
            confirm_overwrite=False,
        )

    def export_record_to(self, ceremony: Ceremony, path: Path) -> None:
        services = self.state.services

        def work(_: JobControl) -> RecordExport:
            return services.ceremonies.export_record(self.state.ensure_session(), ceremony.id, path)

        def done(result: RecordExport) -> None:
            self.last_record_export = result
            self.state.settings.setValue("ceremonies/record_folder", str(result.path.parent))
            self.status.say(
                f"The record of ceremony {result.ceremony_id[:12]} was written to "
                f"{result.path}, signed by the audit key (SHA-256 "
                f"{result.audit_key_sha256[:16]}…). Verify it on any machine with: "
                f"workstation-audit-verify --ceremony {shlex.quote(str(result.path))} "
                "--public-key AUDIT-KEY.pem --audit-export AUDIT-EXPORT.jsonl"
            )

        perform(
            self.state,
            self,
            action=Action.EXPORT_AUDIT,
            title=f"Exporting the ceremony record {ceremony.id[:12]}",
            work=work,
            on_done=done,
        )

    def ask_output(self, title: str, what: str, then: Callable[[PaperOutput], None]) -> None:
        """Ask where a document goes; ``then`` runs with the answer (not on Cancel)."""
        queue = self.state.services.ctx.print_queue
        printer = getattr(queue, "printer", None) if queue is not None else None
        folder = self.state.settings.value("ceremonies/paper_folder", "")
        dialog = PaperOutputDialog(
            title,
            what,
            printer if isinstance(printer, str) and printer else None,
            folder if isinstance(folder, str) else "",
            self,
        )

        def accepted() -> None:
            output = dialog.output()
            if output.directory is not None:
                self.state.settings.setValue("ceremonies/paper_folder", str(output.directory))
            then(output)

        dialog.accepted.connect(accepted)
        dialog.finished.connect(lambda _: dialog.deleteLater())
        dialog.open()

    def _delivered(self, delivery: Delivery, what: str) -> None:
        self.last_delivery = delivery
        where = (
            f"written to {delivery.describe()}"
            if delivery.files
            else f"sent to the printer ({delivery.describe()})"
        )
        self.status.say(f"{what} was {where}.")

    # --- envelopes -------------------------------------------------------------------------

    def record_event(self, event: EnvelopeState) -> None:
        """Register ``event`` for the shown envelope under RECORD_ENVELOPE (co-sign when
        people are missing); the service checks the custodian and the transition."""
        envelope = self.envelope_detail.current
        if envelope is None:
            return
        serial = envelope.serial
        bag: str | None = None
        note = ""
        if event is EnvelopeState.SEALED:
            text, ok = QInputDialog.getText(
                self,
                f"Seal envelope {serial}",
                f"Envelope {serial} ({envelope.describe} of {envelope.key_label}) is sealed "
                "in a tamper-evident bag.\nThe bag's number:",
            )
            if not ok or not text.strip():
                return
            bag = text.strip()
        elif event is EnvelopeState.DESTROYED:
            text, ok = QInputDialog.getText(
                self,
                f"Destroy envelope {serial}",
                f"How was envelope {serial} destroyed, why, and who witnessed it?\n"
                "(e.g. cross-cut shredded unopened, ceremony aborted; witnessed by …)",
            )
            if not ok or not text.strip():
                return
            note = text.strip()
        services = self.state.services

        def said(moved: Envelope) -> str:
            text = f"Envelope {serial} {EVENT_DONE[event]}"
            if event is EnvelopeState.SEALED and moved.bag_number:
                text += f" in bag {moved.bag_number}"
            return text + "."

        perform_change(
            self.state,
            self,
            action=Action.RECORD_ENVELOPE,
            title=f"Envelope {serial}: {EVENT_DONE[event]}",
            call=lambda session: services.ceremonies.record_envelope(
                session, serial, event, bag_number=bag, note=note
            ),
            said=said,
            say=self.status.say,
            changed="envelopes",
        )

    def print_acknowledgement(self) -> None:
        envelope = self.envelope_detail.current
        if envelope is None:
            return
        serial = envelope.serial
        services = self.state.services

        def run(output: PaperOutput) -> None:
            def work(_: JobControl) -> Delivery:
                return services.ceremonies.acknowledgement_form(
                    self.state.ensure_session(), serial, output=output
                )

            perform(
                self.state,
                self,
                action=Action.VIEW_INVENTORY,
                title=f"Printing the acknowledgement form for {serial}",
                work=work,
                on_done=lambda d: self._delivered(d, f"The acknowledgement form for {serial}"),
            )

        self.ask_output(
            "Print the acknowledgement form",
            f"The form {envelope.custodian_name} signs for envelope {serial} "
            f"({envelope.describe} of {envelope.key_label}), {envelope.state.value}.",
            run,
        )

    # --- the ceremony wizards --------------------------------------------------------------

    def open_wizard(self, entry: str) -> None:
        """Open a ceremony wizard (its own module, imported when first used: the page works
        without it)."""
        try:
            module = importlib.import_module(WIZARDS_MODULE)
            opener = getattr(module, entry)
        except (ImportError, AttributeError) as exc:
            log.warning("ceremony wizards unavailable: %s", exc)
            box = QMessageBox(self)
            box.setObjectName("ceremonyWizardsMissing")
            box.setIcon(QMessageBox.Icon.Information)
            box.setWindowTitle("Not available")
            box.setText("The ceremony wizards are not installed in this build.")
            box.open()
            return
        if entry == "open_export_components":
            result = opener(self.state, self, key_label=self._export_candidate())
        else:
            result = opener(self.state, self)
        if isinstance(result, QDialog):
            result.finished.connect(lambda _: self._mark_stale())

    def _export_candidate(self) -> str | None:
        """The selected ceremony's key, when it is a key one can export."""
        ceremony = self.ceremony_detail.current
        if ceremony is None or ceremony.key_id is None or not ceremony.key_label:
            return None
        if ceremony.kind is CeremonyKind.MASTER_KEY_BACKUP:
            return None
        return ceremony.key_label

    # --- keeping up to date ----------------------------------------------------------------

    def _session_changed(self) -> None:
        if not self.state.members:
            self._ticket += 1  # answers still on their way belong to the old session
            self._clear()
            self._verifications.clear()
            self.status.notice("Log on to see the ceremonies.")  # until the next read
            self._stale = True
            return
        requirement = self.register.envelope_requirement if self.register else None
        self.envelope_detail.set_session(self._present(), requirement)
        self._mark_stale()

    def _data_changed(self, kind: str) -> None:
        if kind != "audit":
            self._mark_stale()

    def _mark_stale(self) -> None:
        self._stale = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()
