"""Distribution: the key stores keys are pushed to, and the jobs that push them.

One background read feeds the page (``DistributionService.targets``, the newest jobs with
their deliveries, the pre-active and active keys, the templates and the policy, on the
device thread, asked first through ``read_register``). The key stores table shows each
store's kind, location, tags, whether it answered when last asked (UNREACHABLE in red)
and how many keys it held; the details under it list each key held (label, version,
KCV). On the Jobs tab, each job's state (failed in red) and progress; the selected
job's per-key-store results are listed under it.

"Add key store…" registers one (a form checked as typed, then the partner quorum); "Check
all" asks every key store on the device thread behind a progress dialog;
"Remove…" asks, then unregisters. "Push keys…" and "Rotate and push…" open the wizards
(:mod:`workstation.gui.distribution_wizards`, loaded on first use); a job then runs in
the run view (progress bar, the per-key-store table updating, Stop). Unfinished jobs are
announced above the page with a button that resumes them; "Resume", "Retry failed" and
"Cancel job…" act on the selected job. The service checks every rule again; the rows and
words come from :mod:`workstation.flows.distribution`.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workstation.domain.distribution import Delivery, DeliveryState, JobState, KeyStore
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.policy import Action
from workstation.flows.distribution import (
    ALL_TAGS,
    DELIVERY_HEADERS,
    JOB_HEADERS,
    JOBS_LISTED,
    KEYS_LISTED,
    STORE_HEADERS,
    DistributionChoices,
    DistributionRegister,
    check_summary,
    delivery_cells,
    filter_stores,
    held_rows,
    job_cells,
    job_facts,
    store_cells,
    store_facts,
    store_status,
    stores_overview,
    unfinished_text,
)
from workstation.services.distribution import JobReport
from workstation.services.interchange import KEK_USAGES
from workstation.services.ports import KeyQuery

from .actions import confirm, perform, perform_change, read_register
from .runner import JobControl
from .state import AppState
from .status import StatusLine
from .tables import RecordModel, current_record, fit_columns, record_table, select_row
from .wizards import RowsModel, fill_form

log = logging.getLogger(__name__)

__all__ = [
    "BAD_TEXT",
    "DeliveryModel",
    "DistributionPage",
    "JobModel",
    "KeyStoreModel",
    "read_choices",
]

WIZARDS_MODULE = "workstation.gui.distribution_wizards"
BAD_TEXT = QColor("#b00020")  # red: unreachable, failed
QUIET_TEXT = QColor("#777777")  # cancelled, not asked
BANNER_STYLE = (
    "QFrame#unfinishedBanner { background: #fff3cd; border: 1px solid #d9a400; "
    "border-radius: 3px; }"
)
CHECK_TIMEOUT = 10.0  # seconds per key store, as the service's default


def read_choices(state: AppState, *, every_key: bool = True) -> DistributionChoices:
    """The key stores, the templates and the pre-active and active keys, or with
    ``every_key`` False only the active KEKs (TR-31 K0 and K1: what the page and the key
    store form name), which stays a short read however many keys there are. Run it on
    the device thread."""
    services = state.services
    session = state.ensure_session()
    stores = services.distribution.targets(session)
    if every_key:
        queries = [KeyQuery(states=(KeyState.PRE_ACTIVATION, KeyState.ACTIVE), limit=KEYS_LISTED)]
    else:
        queries = [
            KeyQuery(states=(KeyState.ACTIVE,), key_usage=usage, limit=KEYS_LISTED)
            for usage in KEK_USAGES
        ]
    keys: list[ManagedKey] = []
    truncated = False
    for query in queries:
        found, total = services.keys.query(session, query)
        keys += found
        truncated = truncated or total > len(found)
    return DistributionChoices(
        stores=tuple(stores),
        keys=tuple(keys),
        templates=tuple(services.templates.list(session)),
        truncated=truncated,
    )


# --- table models ---------------------------------------------------------------------------


class KeyStoreModel(RecordModel[KeyStore]):
    NAME, KIND, LOCATION, TAGS, STATUS, HELD, CHECKED = range(7)
    HEADERS = STORE_HEADERS
    TIPS = (
        "The key store's name on this workstation",
        "Key agent (mutual TLS), PKCS#11 token, or a folder of TR-31 blocks",
        "host:port, the PKCS#11 module [token], or the folder",
        "Tags choose key stores for a job",
        "Whether it answered when last asked (Check all asks again)",
        "How many key versions it held when last asked",
        "When it was last asked, or last given keys (UTC)",
    )

    def _display(self, record: KeyStore, column: int) -> str:
        return store_cells(record)[column]

    def _tooltip(self, record: KeyStore, column: int) -> str | None:
        if column == self.STATUS and record.detail:
            return record.detail
        return None

    def _foreground(self, record: KeyStore, column: int) -> QColor | None:
        if column != self.STATUS:
            return None
        _text, bad = store_status(record)
        if bad:
            return BAD_TEXT
        return QUIET_TEXT if record.reachable is None else None

    def row_of(self, store_id: str) -> int | None:
        return next((i for i, s in enumerate(self._rows) if s.id == store_id), None)


class JobModel(RecordModel[JobReport]):
    JOB, KIND, STATE, MADE, KEYS, TARGETS, PROGRESS = range(7)
    HEADERS = JOB_HEADERS
    TIPS = (
        "The job's id (its first characters are enough for the CLI)",
        "Push keys, or rotate keys and push the successors",
        "running (unfinished), done, failed (some key stores not given their keys), cancelled",
        "When it was made and authorised (UTC)",
        "The keys it carries (a rotation: old → successor)",
        "How many key stores it reaches",
        "Key stores done and failed so far",
    )
    MONOSPACE = frozenset({JOB})

    def _display(self, record: JobReport, column: int) -> str:
        return job_cells(record)[column]

    def _foreground(self, record: JobReport, column: int) -> QColor | None:
        state = record.job.state
        if state is JobState.FAILED and column in (self.STATE, self.PROGRESS):
            return BAD_TEXT
        if state is JobState.CANCELLED:
            return QUIET_TEXT
        return None

    def row_of(self, job_id: str) -> int | None:
        return next((i for i, r in enumerate(self._rows) if r.job.id == job_id), None)

    def replace(self, report: JobReport) -> bool:
        """Show a newer report of a listed job (a run's progress); False if not listed."""
        row = self.row_of(report.job.id)
        if row is None:
            return False
        self._rows[row] = report
        self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))
        return True


class DeliveryModel(RecordModel[Delivery]):
    """A job's result per key store (the page's lower table and the run view's)."""

    TARGET, STATE, TRIES, KEYS, ERROR, NEXT = range(6)
    HEADERS = DELIVERY_HEADERS
    TIPS = (
        "The key store",
        "pending (to be made or tried again), done, failed, cancelled",
        "Contacts made so far",
        "Key versions installed now, and those it held already (not sent again)",
        "Why the last contact failed",
        "When a key store that did not answer is tried again (UTC)",
    )

    def _display(self, record: Delivery, column: int) -> str:
        return delivery_cells(record)[column]

    def _foreground(self, record: Delivery, column: int) -> QColor | None:
        if record.state is DeliveryState.FAILED:
            return BAD_TEXT
        if record.state is DeliveryState.CANCELLED:
            return QUIET_TEXT
        if column == self.ERROR and record.last_error:
            return BAD_TEXT
        return None


def delivery_table(model: DeliveryModel, name: str, parent: QWidget) -> QTableView:
    view = record_table(model, name, parent)
    fit_columns(
        view,
        {
            DeliveryModel.TARGET: "hsm-gateway-01",
            DeliveryModel.STATE: "cancelled",
            DeliveryModel.TRIES: "Tries",
            DeliveryModel.KEYS: "2 installed, 1 already held",
            DeliveryModel.ERROR: "Key store atm-03 (10.0.0.3:7443): refused.",
            DeliveryModel.NEXT: "2026-12-31 23:59:59",
        },
    )
    # The error says the most: it takes what is left (the whole of it in its tooltip).
    view.horizontalHeader().setStretchLastSection(False)
    view.horizontalHeader().setSectionResizeMode(
        DeliveryModel.ERROR, QHeaderView.ResizeMode.Stretch
    )
    return view


def _button(text: str, name: str, parent: QWidget, tip: str) -> QPushButton:
    button = QPushButton(text, parent)
    button.setObjectName(name)
    button.setToolTip(tip)
    return button


# --- the page -------------------------------------------------------------------------------


class DistributionPage(QWidget):
    refreshed = Signal()  # after each read shown (or refused)
    job_finished = Signal(object)  # the JobReport a run ended with (done, failed, stopped)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("distributionPage")
        self.state = state
        self.register: DistributionRegister | None = None
        self._stale = True
        self._ticket = 0
        self.running: set[str] = set()  # ids of jobs running from this page now
        self.confirm_box: QMessageBox | None = None
        self.summary_box: QMessageBox | None = None

        heading = QLabel("<h2 style='margin:0'>Distribution</h2>", self)
        self.push_button = _button(
            "&Push keys…",
            "pushKeysButton",
            self,
            "Push exportable keys to key stores, each under its own KEK (export quorum)",
        )
        self.push_button.clicked.connect(lambda: self.open_wizard("open_push"))
        self.rotate_button = _button(
            "Rotate a&nd push…",
            "rotateAndPushButton",
            self,
            "Rotate every key of a template (or the keys ticked) and push the successors "
            "(rotation and export quorums, gathered once)",
        )
        self.rotate_button.clicked.connect(lambda: self.open_wizard("open_rotate"))
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addStretch(1)
        top.addWidget(self.push_button)
        top.addWidget(self.rotate_button)

        self.banner = QFrame(self)
        self.banner.setObjectName("unfinishedBanner")
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner_text = QLabel(self.banner)
        self.banner_text.setObjectName("unfinishedText")
        self.banner_text.setWordWrap(True)
        self.resume_all_button = _button(
            "Resume all",
            "resumeAllButton",
            self.banner,
            "Carry every unfinished job on, one after the other",
        )
        self.resume_all_button.clicked.connect(self.resume_all)
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.addWidget(self.banner_text, 1)
        banner_layout.addWidget(self.resume_all_button)
        self.banner.hide()

        self.status = StatusLine("distributionStatus", self)

        # Two tabs, each with its table on top and the chosen row's details below: the
        # tables keep their whole width.
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("distributionTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._build_stores(), "Key stores")
        self.tabs.addTab(self._build_jobs(), "Jobs")
        self._want_job: str | None = None  # the job to select once read again

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)

        state.session_changed.connect(self._session_changed)
        state.data_changed.connect(self._data_changed)
        state.unlocked.connect(self.mark_stale)
        self._session_changed()

    def _build_stores(self) -> QWidget:
        box = QWidget(self)
        box.setObjectName("keyStoresTab")
        self.add_button = _button(
            "Add ke&y store…",
            "addKeyStoreButton",
            box,
            "Register a key agent, PKCS#11 token or file drop with the KEK it shares",
        )
        self.add_button.clicked.connect(lambda: self.add_store())
        self.check_button = _button(
            "Check a&ll",
            "checkAllButton",
            box,
            "Ask every key store whether it answers and which key versions it holds",
        )
        self.check_button.clicked.connect(self.check_all)
        self.remove_button = _button(
            "Remo&ve…", "removeKeyStoreButton", box, "Unregister the selected key store"
        )
        self.remove_button.clicked.connect(self.ask_remove)
        self.tag_filter = QComboBox(box)
        self.tag_filter.setObjectName("tagFilter")
        self.tag_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.tag_filter.addItem("Every key store", ALL_TAGS)
        self.tag_filter.currentIndexChanged.connect(self._show_stores)
        tag_label = QLabel("Ta&g:", box)
        tag_label.setBuddy(self.tag_filter)
        self.store_count = QLabel(box)
        self.store_count.setObjectName("storeCount")
        bar = QHBoxLayout()
        for button in (self.add_button, self.check_button, self.remove_button):
            bar.addWidget(button)
        bar.addSpacing(16)
        bar.addWidget(tag_label)
        bar.addWidget(self.tag_filter)
        bar.addSpacing(12)
        bar.addWidget(self.store_count, 1)

        self.store_model = KeyStoreModel(self)
        self.store_table = record_table(self.store_model, "keyStoreTable", box)
        fit_columns(
            self.store_table,
            {
                KeyStoreModel.NAME: "hsm-gateway-01",
                KeyStoreModel.KIND: "PKCS#11 token",
                KeyStoreModel.LOCATION: "hsm-gw-01.bank.example:7443",
                KeyStoreModel.TAGS: "atm, emea",
                KeyStoreModel.STATUS: "UNREACHABLE",
                KeyStoreModel.HELD: "Keys held",
                KeyStoreModel.CHECKED: "2026-12-31 23:59",
            },
        )
        self.store_table.selectionModel().currentRowChanged.connect(self._store_chosen)

        details = QGroupBox("Key store", box)
        details.setObjectName("keyStoreDetails")
        facts = QWidget(details)
        self.store_facts = QFormLayout(facts)
        self.store_facts.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        scroll = QScrollArea(details)
        scroll.setWidgetResizable(True)
        scroll.setWidget(facts)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.held_title = QLabel("Keys held when last asked:", details)
        self.held_model = RowsModel(["Key", "Version", "KCV"], self)
        self.held_table = QTableView(details)
        self.held_table.setObjectName("heldKeysTable")
        self.held_table.setModel(self.held_model)
        self.held_table.verticalHeader().setVisible(False)
        self.held_table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        header = self.held_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        held = QVBoxLayout()
        held.addWidget(self.held_title)
        held.addWidget(self.held_table, 1)
        details_layout = QHBoxLayout(details)
        details_layout.addWidget(scroll, 3)
        details_layout.addLayout(held, 2)

        split = QSplitter(Qt.Orientation.Vertical, box)
        split.setObjectName("keyStoresSplitter")
        split.addWidget(self.store_table)
        split.addWidget(details)
        split.setChildrenCollapsible(False)
        split.setSizes([1, 1])
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        self._show_store(None)
        return box

    def _build_jobs(self) -> QWidget:
        box = QWidget(self)
        box.setObjectName("jobsTab")
        self.resume_button = _button(
            "R&esume", "resumeJobButton", box, "Carry the selected unfinished job on"
        )
        self.resume_button.clicked.connect(self.resume_selected)
        self.retry_button = _button(
            "Retry &failed",
            "retryFailedButton",
            box,
            "Give the failed key stores of the selected job another round of attempts",
        )
        self.retry_button.clicked.connect(self.retry_selected)
        self.cancel_button = _button(
            "Cancel &job…",
            "cancelJobButton",
            box,
            "Stop the selected job for good: pending key stores are not given their keys",
        )
        self.cancel_button.clicked.connect(self.ask_cancel)
        self.job_count = QLabel(box)
        self.job_count.setObjectName("jobCount")
        bar = QHBoxLayout()
        for button in (self.resume_button, self.retry_button, self.cancel_button):
            bar.addWidget(button)
        bar.addSpacing(12)
        bar.addWidget(self.job_count, 1)

        self.job_model = JobModel(self)
        self.job_table = record_table(self.job_model, "jobTable", box)
        fit_columns(
            self.job_table,
            {
                JobModel.JOB: "0123456789ab",
                JobModel.KIND: "rotate and push",
                JobModel.STATE: "cancelled",
                JobModel.MADE: "2026-12-31 23:59",
                JobModel.KEYS: "PEK-20261207-0001",
                JobModel.TARGETS: "Targets",
            },
        )
        self.job_table.selectionModel().currentRowChanged.connect(self._job_chosen)
        self.job_text = QLabel(box)
        self.job_text.setObjectName("jobFacts")
        self.job_text.setWordWrap(True)
        self.job_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.delivery_model = DeliveryModel(self)
        self.delivery_table = delivery_table(self.delivery_model, "deliveryTable", box)

        results = QGroupBox("Each key store's result", box)
        results.setObjectName("jobResults")
        results_layout = QVBoxLayout(results)
        results_layout.addWidget(self.job_text)
        results_layout.addWidget(self.delivery_table, 1)
        split = QSplitter(Qt.Orientation.Vertical, box)
        split.setObjectName("jobsSplitter")
        split.addWidget(self.job_table)
        split.addWidget(results)
        split.setChildrenCollapsible(False)
        split.setSizes([1, 1])
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        return box

    # --- reading -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the key stores and jobs again, only if the session may."""
        services = self.state.services

        def work(_: JobControl) -> DistributionRegister:
            session = self.state.ensure_session()
            choices = read_choices(self.state, every_key=False)
            dist = services.distribution
            jobs = dist.jobs(session)
            listed = [j for j in jobs if not j.state.finished]
            listed += [j for j in jobs[:JOBS_LISTED] if j.state.finished]
            listed.sort(key=lambda j: j.created_at, reverse=True)
            reports = tuple(dist.report(session, j.id) for j in listed)
            policy = services.policies.current(session)
            quorums = {
                a: policy.quorum_for(a).describe()
                for a in (Action.MANAGE_PARTNERS, Action.EXPORT_KEY, Action.ROTATE_KEY)
            }
            return DistributionRegister(
                choices=choices,
                reports=reports,
                read_at=services.ctx.clock.now(),
                jobs_total=len(jobs),
                quorums=quorums,
            )

        read_register(
            self,
            what="the key stores",
            title="read the key stores and distribution jobs",
            work=work,
            on_done=self._show,
        )

    def _show(self, register: DistributionRegister) -> None:
        self.register = register
        chosen_tag = self.tag_filter.currentData()
        self.tag_filter.blockSignals(True)
        self.tag_filter.clear()
        self.tag_filter.addItem("Every key store", ALL_TAGS)
        for tag in register.choices.tags:
            self.tag_filter.addItem(tag, tag)
        index = self.tag_filter.findData(chosen_tag)
        self.tag_filter.setCurrentIndex(max(index, 0))
        self.tag_filter.blockSignals(False)
        self._show_stores()
        self._show_jobs()
        self._show_banner()
        self.tabs.setTabText(0, f"Key stores ({len(register.stores)})")
        self.tabs.setTabText(1, f"Jobs ({register.jobs_total})")
        self._update_buttons()
        self.refreshed.emit()

    def _show_stores(self, *_: Any) -> None:
        register = self.register
        chosen = self.selected_store()
        stores = filter_stores(register.stores, self.tag) if register else []
        self.store_model.set_rows(stores)
        self.store_count.setText(stores_overview(register.stores) if register else "")
        row = self.store_model.row_of(chosen.id) if chosen is not None else None
        if stores:
            select_row(self.store_table, 0 if row is None else row)
        else:
            self._show_store(None)
        self._update_buttons()

    @property
    def tag(self) -> str:
        return str(self.tag_filter.currentData() or ALL_TAGS)

    def _show_jobs(self) -> None:
        register = self.register
        chosen = self.selected_job()
        reports = register.reports if register else ()
        self.job_model.set_rows(reports)
        if register is not None:
            shown = len(reports)
            more = register.jobs_total - shown
            self.job_count.setText(
                f"{register.jobs_total} job{'s' if register.jobs_total != 1 else ''}"
                + (f"; the newest {shown} shown" if more > 0 else "")
                + f". Jobs are made under {register.needs(Action.EXPORT_KEY)} (export)."
            )
        else:
            self.job_count.setText("")
        wanted = self._want_job or (chosen.job.id if chosen is not None else None)
        self._want_job = None
        row = self.job_model.row_of(wanted) if wanted is not None else None
        if reports:
            select_row(self.job_table, 0 if row is None else row)
        else:
            self._show_job(None)

    def _show_banner(self) -> None:
        waiting = [j for j in self.unfinished() if j.id not in self.running]
        text = unfinished_text(waiting)
        self.banner_text.setText(text)
        self.banner.setVisible(bool(text))
        self.resume_all_button.setText("Resume" if len(waiting) == 1 else "Resume all")

    def unfinished(self) -> list[Any]:
        return self.register.unfinished if self.register is not None else []

    def _clear(self) -> None:
        self.register = None
        self.store_model.set_rows([])
        self.job_model.set_rows([])
        self.store_count.setText("")
        self.job_count.setText("")
        self._show_store(None)
        self._show_job(None)
        self.banner.hide()
        self.tabs.setTabText(0, "Key stores")
        self.tabs.setTabText(1, "Jobs")
        self._update_buttons()

    def say(self, text: str, *, bad: bool = False) -> None:
        self.status.say(text, bad=bad)

    # --- selection and details -----------------------------------------------------------------

    def selected_store(self) -> KeyStore | None:
        return current_record(self.store_table, self.store_model)

    def select_store(self, name: str) -> bool:
        row = next((i for i, s in enumerate(self.store_model.records) if s.name == name), None)
        if row is None:
            return False
        select_row(self.store_table, row)
        return True

    def _store_chosen(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_store(current_record(self.store_table, self.store_model))
        self._update_buttons()

    def _show_store(self, store: KeyStore | None) -> None:
        if store is None:
            fill_form(self.store_facts, [])
            self.store_facts.addRow(QLabel("Choose a key store to see what it holds.", self))
            self.held_model.set_rows([])
            self.held_title.setText("Keys held when last asked:")
            return
        kek = self.register.choices.key_by_id(store.kek_id) if self.register else None
        fill_form(self.store_facts, store_facts(store, kek), prefix="store")
        rows = held_rows(store)
        self.held_model.set_rows(rows)
        if store.reachable is None:
            self.held_title.setText("Not asked yet: Check all asks what it holds.")
        else:
            self.held_title.setText(f"Keys held when last asked ({len(rows)}):")

    def selected_job(self) -> JobReport | None:
        return current_record(self.job_table, self.job_model)

    def select_job(self, job_id: str) -> bool:
        row = self.job_model.row_of(job_id)
        if row is None:
            return False
        select_row(self.job_table, row)
        return True

    def _job_chosen(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_job(current_record(self.job_table, self.job_model))
        self._update_buttons()

    def _show_job(self, report: JobReport | None) -> None:
        if report is None:
            self.job_text.setText("Choose a job to see each key store's result.")
            self.delivery_model.set_rows([])
            return
        self.job_text.setText(job_facts(report))
        self.delivery_model.set_rows(report.deliveries)

    def show_progress(self, report: JobReport) -> None:
        """A running job's newer report (from the run view): its row and, when it is the
        one selected, its results."""
        if not self.job_model.replace(report):
            return
        chosen = self.selected_job()
        if chosen is not None and chosen.job.id == report.job.id:
            self._show_job(report)

    # --- acting --------------------------------------------------------------------------------

    def _wizards(self) -> Any:
        return importlib.import_module(WIZARDS_MODULE)

    def open_wizard(self, entry: str) -> QWidget | None:
        """Open "Push keys…" (``open_push``) or "Rotate and push…" (``open_rotate``)."""
        wizard = getattr(self._wizards(), entry)(self.state, self)
        return wizard if isinstance(wizard, QWidget) else None

    def add_store(self) -> QWidget:
        """The form that registers a key store."""
        dialog: QWidget = self._wizards().open_add_store(self.state, self)
        return dialog

    def run_job(self, job_id: str, *, then: Callable[[], None] | None = None) -> QWidget:
        """Run (or carry on) a job in the run view; ``then`` runs after it ends."""
        view: QWidget = self._wizards().open_run(self.state, self, job_id, then=then)
        return view

    def job_started(self, job_id: str) -> None:
        self.running.add(job_id)
        self._show_banner()
        self._update_buttons()

    def job_ended(self, report: JobReport | None, job_id: str) -> None:
        """A run ended: read again, and show the job and its results."""
        self.running.discard(job_id)
        self._want_job = job_id
        self.tabs.setCurrentIndex(1)
        self.state.data_changed.emit("distribution")
        if report is not None:
            self.job_finished.emit(report)
        self._update_buttons()

    def check_all(self) -> None:
        """Ask every key store on the device thread, then say who answered and why the
        others did not."""
        services = self.state.services
        count = len(self.register.stores) if self.register else 0

        def work(control: JobControl) -> list[KeyStore]:
            session = self.state.ensure_session()
            return services.distribution.check_targets(
                session,
                progress=lambda done, total, text: control.progress(
                    done, total, f"{text}: {done} of {total} answered or gave up"
                ),
            )

        def done(stores: list[KeyStore]) -> None:
            text, bad = check_summary(stores)
            self.say(text, bad=bad)
            self.state.data_changed.emit("distribution")

        perform(
            self.state,
            self,
            action=Action.VIEW_INVENTORY,
            title=f"Asking {count} key store{'s' if count != 1 else ''}",
            work=work,
            on_done=done,
        )

    def ask_remove(self) -> None:
        store = self.selected_store()
        if store is None:
            return
        needs = self.register.needs(Action.MANAGE_PARTNERS) if self.register else "its quorum"
        self.confirm_box = confirm(
            self,
            name="removeKeyStoreBox",
            title="Remove key store",
            text=f"Unregister key store {store.name} ({store.kind.display}, {store.location})? "
            "No key is taken from it; it just receives no more keys from this workstation. "
            f"This needs {needs}.",
            yes="Remove",
            on_yes=lambda: self.remove(store),
        )

    def remove(self, store: KeyStore) -> None:
        services = self.state.services
        perform_change(
            self.state,
            self,
            action=Action.MANAGE_PARTNERS,
            title=f"Removing key store {store.name}",
            call=lambda session: services.distribution.remove_target(session, store.name),
            said=lambda removed: f"Key store {removed.name} is no longer registered.",
            say=self.say,
            changed="distribution",
        )

    def resume_selected(self) -> None:
        report = self.selected_job()
        if report is not None and not report.job.state.finished:
            self.run_job(report.job.id)

    def resume_all(self) -> None:
        """Run every unfinished job not running yet, one after the other."""
        waiting = [j.id for j in self.unfinished() if j.id not in self.running]

        def next_one() -> None:
            if waiting and self.state.members:
                self.run_job(waiting.pop(0), then=next_one)

        next_one()

    def retry_selected(self) -> None:
        report = self.selected_job()
        if report is None or not report.failed:
            return
        job_id = report.job.id
        services = self.state.services

        def work(_: JobControl) -> Any:
            return services.distribution.retry_failed(self.state.ensure_session(), job_id)

        perform(
            self.state,
            self,
            action=Action.VIEW_INVENTORY,
            title=f"Trying job {job_id[:12]} again",
            work=work,
            on_done=lambda _: self._run_again(job_id),
        )

    def _run_again(self, job_id: str) -> None:
        self.run_job(job_id)

    def ask_cancel(self) -> None:
        report = self.selected_job()
        if report is None or report.job.state.finished:
            return
        job = report.job
        self.confirm_box = confirm(
            self,
            name="cancelJobBox",
            title="Cancel job",
            text=f"Cancel job {job.id[:12]}? Key stores still pending ({report.pending}) do not "
            "get their keys; what was delivered stays. A cancelled job cannot be resumed.",
            yes="Cancel the job",
            no="Keep it",
            on_yes=lambda: self.cancel(job.id),
        )

    def cancel(self, job_id: str) -> None:
        services = self.state.services
        perform_change(
            self.state,
            self,
            action=Action.VIEW_INVENTORY,
            title=f"Cancelling job {job_id[:12]}",
            call=lambda session: services.distribution.cancel(session, job_id),
            said=lambda _: f"Job {job_id[:12]} cancelled; what was delivered stays.",
            say=self.say,
            changed="distribution",
        )

    # --- keeping up to date --------------------------------------------------------------------

    def _update_buttons(self) -> None:
        on = bool(self.state.members) and self.register is not None
        for button in (self.push_button, self.rotate_button, self.add_button):
            button.setEnabled(on)
        self.check_button.setEnabled(on and bool(self.register and self.register.stores))
        self.remove_button.setEnabled(on and self.selected_store() is not None)
        report = self.selected_job() if on else None
        idle = report is not None and report.job.id not in self.running
        unfinished = report is not None and not report.job.state.finished
        self.resume_button.setEnabled(idle and unfinished)
        self.cancel_button.setEnabled(idle and unfinished)
        self.retry_button.setEnabled(idle and report is not None and report.failed > 0)
        self.resume_all_button.setEnabled(on)

    def _session_changed(self) -> None:
        if not self.state.members:
            self._ticket += 1  # answers on their way belong to the old session
            self._clear()
            self.status.notice("Log on to see the key stores and distribution jobs.")
            self._stale = True
            return
        self.status.withdraw_notice()
        self.mark_stale()

    def _data_changed(self, kind: str) -> None:
        if kind in ("distribution", "keys", "templates", "policy"):
            self.mark_stale()

    def mark_stale(self) -> None:
        """Read again now if shown, else when next shown."""
        self._stale = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()
