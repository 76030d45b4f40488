"""The Distribution page's dialogs: register a key store, the "Push keys…" and "Rotate and
push…" wizards, and the run view a job runs in.

The wizards render :mod:`workstation.flows.distribution` (which step comes next, what is
wrong with the input). A job is made under every quorum it needs, gathered once: the
export quorum of each key's template (and, for a rotation, the rotation quorum): for each,
the co-sign dialog asks the missing people for their cards, and the last goes through
``perform``, which makes the job on the device thread. The job then runs in
:class:`JobRunView`: a progress bar, each key store's result as it comes, and Stop, which
leaves the job unfinished to be resumed. The service checks every rule again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
    QWizard,
)

from workstation.domain.distribution import (
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DistributionJob,
    JobKind,
    KeyStore,
    TargetKind,
)
from workstation.domain.keys import ManagedKey
from workstation.domain.policy import Action, MediaExport
from workstation.flows.distribution import (
    LOCATION_HINTS,
    MAX_ATTEMPTS,
    MAX_BACKOFF,
    DistributionChoices,
    KeyStoreForm,
    PushFlow,
    PushStep,
    RotateAllFlow,
    RotateAllStep,
    finished_text,
    store_status,
)
from workstation.flows.interchange import key_line
from workstation.flows.kiosk_places import OutsideKioskPlaces
from workstation.flows.wizards import FieldErrors
from workstation.services.distribution import JobReport
from workstation.services.logon import Requirement

from . import file_choice
from .actions import perform
from .cosign import CoSignDialog
from .distribution_page import DeliveryModel, DistributionPage, delivery_table, read_choices
from .errors import describe, show_error
from .runner import Job, JobControl
from .state import AppState
from .wizards import (
    ERROR_STYLE,
    GOOD_STYLE,
    FormDialog,
    QuorumPanel,
    RowsModel,
    _FlowPage,
    _FlowWizard,
    _form,
    _note,
    _result_table,
    fill_form,
)

log = logging.getLogger(__name__)

__all__ = [
    "JobRunView",
    "KeyStoreDialog",
    "PushWizard",
    "RotateAllWizard",
    "checked_values",
    "open_add_store",
    "open_push",
    "open_rotate",
    "open_run",
    "perform_under",
    "set_checked",
]

Need = tuple[Action, str | None]  # an action and the template whose quorum it takes


def perform_under(
    state: AppState,
    parent: QWidget,
    needs: Sequence[Need],
    *,
    title: str,
    work: Callable[[JobControl], Any],
    on_done: Callable[[Any], None],
    on_stopped: Callable[[], None] | None = None,
) -> None:
    """Gather every quorum of ``needs`` in turn (the co-sign dialog for whoever is missing
    from each), then run ``work`` through ``perform`` under the last. Cancelling a co-sign
    dialog starts nothing (``on_stopped`` hears it). The service checks every quorum again
    when the work runs."""
    steps = list(needs) or [(Action.VIEW_INVENTORY, None)]

    def step(index: int) -> None:
        action, template = steps[index]
        if index == len(steps) - 1:
            perform(
                state,
                parent,
                action=action,
                title=title,
                work=work,
                on_done=on_done,
                template=template,
            )
            return

        def checked(requirement: Requirement) -> None:
            if requirement.met:
                step(index + 1)
                return
            dialog = CoSignDialog(state, action, template, requirement, parent)
            dialog.accepted.connect(lambda: step(index + 1))
            if on_stopped is not None:
                dialog.rejected.connect(on_stopped)
            dialog.open()

        def failed(exc: BaseException) -> None:
            show_error(parent, exc)
            if on_stopped is not None:
                on_stopped()

        state.requirement(action, template, checked, on_error=failed)

    step(0)


# --- the run view ---------------------------------------------------------------------------


class _Feed(QObject):
    """A running job's reports, emitted on the device thread, received in the GUI's."""

    report = Signal(object)


class JobRunView(QDialog):
    """One job running: a progress bar, each key store's result as it comes, and Stop
    (the job stays unfinished; Resume carries it on). Closing it while the job runs stops
    the job the same way."""

    ended = Signal(object)  # the last JobReport, or None when the run failed

    def __init__(
        self,
        state: AppState,
        page: DistributionPage,
        job_id: str,
        then: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(page)
        self.setObjectName("jobRunView")
        self.state = state
        self.page = page
        self.job_id = job_id
        self.then = then
        self.job: Job | None = None
        self.report: JobReport | None = None
        self.running = False
        self.setWindowTitle(f"Distribution job {job_id[:12]}")
        self.heading = QLabel(f"Job {job_id[:12]}", self)
        self.heading.setObjectName("runHeading")
        self.heading.setWordWrap(True)
        font = self.heading.font()
        font.setBold(True)
        self.heading.setFont(font)
        self.bar = QProgressBar(self)
        self.bar.setObjectName("runProgress")
        self.bar.setRange(0, 0)
        self.text = QLabel("Starting…", self)
        self.text.setObjectName("runText")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model = DeliveryModel(self)
        self.table = delivery_table(self.model, "runDeliveryTable", self)
        self.stop_button = QPushButton("&Stop", self)
        self.stop_button.setObjectName("stopJobButton")
        self.stop_button.setToolTip(
            "Stop after the key stores being contacted now answer; the job stays unfinished "
            "and Resume carries it on"
        )
        self.stop_button.clicked.connect(self.stop)
        self.close_button = QPushButton("&Close", self)
        self.close_button.setObjectName("closeRunButton")
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.bar)
        layout.addWidget(self.text)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.resize(900, 460)
        known = page.register.report(job_id) if page.register is not None else None
        if known is not None:
            self._show_report(known)
        self.feed = _Feed(self)
        self.feed.report.connect(self._show_report)

    def start(self) -> None:
        services = self.state.services
        job_id = self.job_id
        feed = self.feed

        def work(control: JobControl) -> JobReport:
            session = self.state.ensure_session()
            dist = services.distribution

            def progress(done: int, total: int, text: str) -> None:
                control.progress(done, total, text)
                # Between rounds, outside any transaction: the report as it stands.
                feed.report.emit(dist.report(session, job_id))

            return dist.run(session, job_id, progress=progress, stop=control.cancelled)

        self.running = True
        self.close_button.setEnabled(False)
        self.page.job_started(job_id)
        self.job = self.state.run(
            work,
            title=f"run distribution job {job_id[:12]}",
            on_done=self._done,
            on_error=self._failed,
            on_progress=self._progressed,
        )

    def _progressed(self, done: int, total: int, text: str) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        if text and self.stop_button.isEnabled():
            self.text.setText(text)

    def _show_report(self, report: JobReport) -> None:
        self.report = report
        job = report.job
        keys = ", ".join(label for _, label, _, _ in job.deliverables()) or "(keys being made)"
        kind = "rotate and push" if job.kind is JobKind.ROTATE else "push"
        n = len(job.target_ids)
        self.heading.setText(
            f"Job {job.id[:12]} ({kind}): {keys} to {n} key store{'s' if n != 1 else ''}"
        )
        self.model.set_rows(report.deliveries)
        total = len(report.deliveries)
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(total - report.pending)
        self.page.show_progress(report)

    def stop(self) -> None:
        """End the run after the key stores being contacted answer; the job stays
        unfinished."""
        if not self.running or self.job is None:
            return
        self.job.cancel()
        self.state.services.distribution.wake()  # a wait before a retry ends now
        self.stop_button.setEnabled(False)
        self.text.setText("Stopping once the key stores being contacted now have answered…")

    def _done(self, report: JobReport) -> None:
        self.running = False
        self._show_report(report)
        text, bad = finished_text(report)
        self.text.setText(text)
        self.text.setStyleSheet(ERROR_STYLE if bad else GOOD_STYLE)
        self._ended(report)

    def _failed(self, exc: BaseException) -> None:
        self.running = False
        self.text.setText(describe(exc)[1])
        self.text.setStyleSheet(ERROR_STYLE)
        self._ended(None)
        if self.isVisible():
            show_error(self, exc)

    def _ended(self, report: JobReport | None) -> None:
        self.stop_button.setEnabled(False)
        self.close_button.setEnabled(True)
        self.bar.setRange(0, max(self.bar.maximum(), 1))
        self.page.job_ended(report, self.job_id)
        self.ended.emit(report)
        if not self.isVisible():
            self.deleteLater()
        # "Resume all" carries on with the next job, unless this one was stopped.
        if report is not None and report.job.state.finished and self.then is not None:
            self.then()

    def closeEvent(self, event: QCloseEvent) -> None:
        # Closed while running (by a person, or by the lock): stop, as Stop does; the view
        # goes once the run has ended.
        if self.running:
            self.stop()
        else:
            self.deleteLater()
        super().closeEvent(event)

    def reject(self) -> None:
        self.close()


def open_run(
    state: AppState,
    page: DistributionPage,
    job_id: str,
    then: Callable[[], None] | None = None,
) -> JobRunView:
    view = JobRunView(state, page, job_id, then)
    view.show()
    view.start()
    return view


# --- register a key store -------------------------------------------------------------------


class KeyStoreDialog(FormDialog):
    """The form that registers a key store; each field is checked as it is typed."""

    loaded = Signal()  # the keys to choose the KEK from were read

    def __init__(self, page: DistributionPage) -> None:
        needs = page.register.needs(Action.MANAGE_PARTNERS) if page.register else "its quorum"
        super().__init__(
            page,
            "keyStoreDialog",
            "Add key store",
            "A key store receives keys under the key encryption key (KEK) it shares with "
            "this workstation: an active TR-31 K0 or K1 key of the inventory, loaded into "
            "the key store by its custodians. Registering it needs "
            f"{needs}.",
        )
        self.page = page
        self.choices = DistributionChoices()
        self.touched: set[str] = set()
        self.name = QLineEdit(self)
        self.name.setObjectName("storeName")
        self.name.setPlaceholderText("e.g. atm-host-01")
        self.add_row("&Name:", self.name, "name")
        self.kind = QComboBox(self)
        self.kind.setObjectName("storeKind")
        for kind in TargetKind:
            self.kind.addItem(kind.display, kind.value)
        self.add_row("&Kind:", self.kind, "kind")
        self.location = QLineEdit(self)
        self.location.setObjectName("storeLocation")
        self.add_row("&Location:", self.location, "location")
        self.kek = QComboBox(self)
        self.kek.setObjectName("storeKek")
        self.add_row("K&EK:", self.kek, "kek")
        self.kek_label = QLineEdit(self)
        self.kek_label.setObjectName("storeKekLabel")
        self.add_row("KEK's label &there:", self.kek_label, "kek_label")
        self.token = QLineEdit(self)
        self.token.setObjectName("storeToken")
        self.token.setPlaceholderText("the token's label")
        self.add_row("&Token:", self.token, "token")
        self.pin_file = QLineEdit(self)
        self.pin_file.setObjectName("storePinFile")
        self.pin_file.setPlaceholderText("a file holding the token's user PIN (optional)")
        self.add_row("&PIN file:", self.pin_file, "pin_file")
        self.tags = QLineEdit(self)
        self.tags.setObjectName("storeTags")
        self.tags.setPlaceholderText("e.g. atm, emea (separated by commas or spaces)")
        self.add_row("T&ags:", self.tags, "tags")
        self.finish_layout("&Register", "registerKeyStoreButton")
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setEnabled(False)
        self.general.show_error("Reading the keys…")
        self.general.setStyleSheet("")
        for field, edit in (
            ("name", self.name),
            ("location", self.location),
            ("kek_label", self.kek_label),
            ("token", self.token),
            ("pin_file", self.pin_file),
            ("tags", self.tags),
        ):
            edit.textEdited.connect(lambda _t, f=field: self._typed(f))
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.kek.currentIndexChanged.connect(lambda _i: self._typed("kek"))
        self._kind_changed()
        self.resize(620, self.sizeHint().height())

    def load(self) -> None:
        def done(choices: DistributionChoices) -> None:
            self.choices = choices
            self._fill_keks()
            self.general.show_error(None)
            self.general.setStyleSheet(ERROR_STYLE)
            self.ok.setEnabled(True)
            self.loaded.emit()

        def failed(exc: BaseException) -> None:
            self.general.setStyleSheet(ERROR_STYLE)
            self.general.show_error(describe(exc)[1])

        self.page.state.run(
            lambda _: read_choices(self.page.state, every_key=False),
            title="read the keys for a key store",
            on_done=done,
            on_error=failed,
        )

    def _fill_keks(self) -> None:
        chosen = self.kek.currentData()
        self.kek.blockSignals(True)
        self.kek.clear()
        keks = self.form_values().kek_choices()
        for key in keks:
            self.kek.addItem(key_line(key), key.label)
        index = self.kek.findData(chosen)
        self.kek.setCurrentIndex(index if index >= 0 else (0 if keks else -1))
        self.kek.blockSignals(False)
        self.kek.setPlaceholderText(
            "no active K0/K1 key" + (" (AES)" if self._kind() is TargetKind.PKCS11 else "")
        )
        self._kek_chosen()

    def _kind(self) -> TargetKind:
        return TargetKind(str(self.kind.currentData()))

    def _kind_changed(self) -> None:
        kind = self._kind()
        pkcs11 = kind is TargetKind.PKCS11
        for widget in (self.token, self.pin_file):
            widget.setEnabled(pkcs11)
        self.location.setPlaceholderText(LOCATION_HINTS[kind])
        self._fill_keks()
        self._typed("kind")

    def _kek_chosen(self) -> None:
        label = self.kek.currentData()
        self.kek_label.setPlaceholderText(f"the same: {label}" if label else "the same")

    def form_values(self) -> KeyStoreForm:
        return KeyStoreForm(
            name=self.name.text(),
            kind=str(self.kind.currentData()),
            location=self.location.text(),
            kek=str(self.kek.currentData() or ""),
            kek_label=self.kek_label.text(),
            token=self.token.text(),
            pin_file=self.pin_file.text(),
            tags=self.tags.text(),
            choices=self.choices,
        )

    def _typed(self, field: str) -> None:
        """Check as typed: errors shown for the fields touched so far."""
        if field == "kek":
            self._kek_chosen()
        self.touched.add(field)
        errors = self.form_values().validate()
        for name, label in self.errors.items():
            label.show_error(errors.get(name) if name in self.touched else None)

    def _outside_kiosk_places(self, form: KeyStoreForm) -> FieldErrors:
        """In kiosk mode a file drop's folder and a PIN file are typed paths like any
        other: the kiosk's places only (outside kiosk mode, no errors)."""
        kind = self._kind()
        typed: list[tuple[str, str, bool]] = []
        if kind is TargetKind.FILE and form.location.strip():
            typed.append(("location", form.location.strip(), True))
        if kind is TargetKind.PKCS11 and form.pin_file.strip():
            typed.append(("pin_file", form.pin_file.strip(), False))
        errors: FieldErrors = {}
        for field, text, writing in typed:
            try:
                file_choice.check_path(text, writing=writing, kind=MediaExport.KEY_EXCHANGE)
            except OutsideKioskPlaces as e:
                errors[field] = e.user_message()
        return errors

    def submit(self) -> None:
        form = self.form_values()
        self.touched.update(self.errors)
        if not self.show_errors({**self._outside_kiosk_places(form), **form.validate()}):
            return
        arguments = form.arguments()
        services = self.page.state.services
        state = self.page.state

        def work(_: JobControl) -> KeyStore:
            return services.distribution.add_target(state.ensure_session(), **arguments)

        def done(store: KeyStore) -> None:
            self.accept()
            self.page.say(
                f"Key store {store.name} ({store.kind.display}, {store.location}) registered; "
                f"keys reach it under KEK {store.kek_label}. Check all asks what it holds."
            )
            state.data_changed.emit("distribution")

        perform(
            state,
            self,
            action=Action.MANAGE_PARTNERS,
            title=f"Registering key store {arguments['name']}",
            work=work,
            on_done=done,
        )


def open_add_store(state: AppState, page: DistributionPage) -> KeyStoreDialog:
    dialog = KeyStoreDialog(page)
    dialog.finished.connect(lambda _: dialog.deleteLater())
    dialog.open()
    dialog.load()
    return dialog


# --- the job wizards ------------------------------------------------------------------------


def _checkable(name: str, parent: QWidget) -> QListWidget:
    view = QListWidget(parent)
    view.setObjectName(name)
    view.setUniformItemSizes(True)
    return view


def _add_check(view: QListWidget, text: str, data: str, checked: bool = False) -> None:
    item = QListWidgetItem(text, view)
    item.setData(Qt.ItemDataRole.UserRole, data)
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
    item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)


def checked_values(view: QListWidget) -> list[str]:
    out = []
    for row in range(view.count()):
        item = view.item(row)
        if item.checkState() == Qt.CheckState.Checked:
            out.append(str(item.data(Qt.ItemDataRole.UserRole)))
    return out


def set_checked(view: QListWidget, values: Sequence[str]) -> None:
    """Tick exactly the items whose value is in ``values`` (tests and the screenshots)."""
    for row in range(view.count()):
        item = view.item(row)
        on = str(item.data(Qt.ItemDataRole.UserRole)) in values
        item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)


def _store_text(store: KeyStore) -> str:
    _status, bad = store_status(store)
    tags = f" [{', '.join(store.tags)}]" if store.tags else ""
    note = " — UNREACHABLE when last asked" if bad else ""
    return f"{store.name} ({store.kind.display}){tags}{note}"


class _JobWizard(_FlowWizard):
    """What both job wizards share: the choices read when it opens, the making of the job
    under every quorum it needs, and the hand-over to the run view."""

    loaded = Signal()  # the choices were read and the first page filled

    def __init__(self, state: AppState, page: DistributionPage) -> None:
        super().__init__(state, page)
        self.dist_page = page
        self.choices: DistributionChoices | None = None
        self.job: DistributionJob | None = None

    def load(self) -> None:
        def done(choices: DistributionChoices) -> None:
            self.choices = choices
            self.flow_load(choices)
            self.loaded.emit()

        self.call(lambda _: read_choices(self.state), done, title="read the keys and key stores")

    def flow_load(self, choices: DistributionChoices) -> None:
        """Give the flow its choices and fill the first page (each wizard its own)."""

    def make_job(
        self,
        needs: Sequence[Need],
        title: str,
        work: Callable[[JobControl], DistributionJob],
        data: tuple[str, ...] = ("distribution",),
    ) -> None:
        if self.running:
            return
        self.running = True

        def done(job: DistributionJob) -> None:
            self.running = False
            self.job = job
            for kind in data:
                self.state.data_changed.emit(kind)
            if self.closed:
                return
            self.accept()
            self.dist_page.run_job(job.id)

        def stopped() -> None:
            self.running = False

        perform_under(
            self.state, self, needs, title=title, work=work, on_done=done, on_stopped=stopped
        )


class _TargetsPage(_FlowPage):
    """Key stores by tag and by name; with ``holders``, "where the keys are held" first."""

    def __init__(self, wizard: _JobWizard, title: str, subtitle: str, holders: bool) -> None:
        super().__init__(title, subtitle, wizard)
        self.setObjectName("targetsPage")
        self.w = wizard
        self.holders = holders
        layout = QVBoxLayout(self)
        self.where_held = QRadioButton("Where the keys are held now (when last asked)", self)
        self.where_held.setObjectName("targetsWhereHeld")
        self.chosen_here = QRadioButton("The key stores ticked below", self)
        self.chosen_here.setObjectName("targetsChosen")
        group = QButtonGroup(self)
        group.addButton(self.where_held)
        group.addButton(self.chosen_here)
        self.where_held.setChecked(True)
        self.where_held.toggled.connect(self._changed)
        if holders:
            layout.addWidget(self.where_held)
            layout.addWidget(self.chosen_here)
        else:
            self.where_held.hide()
            self.chosen_here.hide()
        lists = QHBoxLayout()
        tag_box = QGroupBox("By tag", self)
        self.tag_list = _checkable("targetTagList", tag_box)
        QVBoxLayout(tag_box).addWidget(self.tag_list)
        store_box = QGroupBox("By name", self)
        self.store_list = _checkable("targetStoreList", store_box)
        QVBoxLayout(store_box).addWidget(self.store_list)
        lists.addWidget(tag_box, 1)
        lists.addWidget(store_box, 2)
        layout.addLayout(lists, 1)
        self.chosen = _note("", self)
        self.chosen.setObjectName("targetsPreview")
        layout.addWidget(self.chosen)
        self.add_error("targets", layout)
        layout.addWidget(self.general_error)
        self.tag_list.itemChanged.connect(self._changed)
        self.store_list.itemChanged.connect(self._changed)

    def initializePage(self) -> None:
        choices = self.w.choices
        if choices is None or self.tag_list.count() or self.store_list.count():
            self._changed()
            return
        self.tag_list.blockSignals(True)
        self.store_list.blockSignals(True)
        for tag in choices.tags:
            n = sum(1 for s in choices.stores if tag in s.tags)
            _add_check(self.tag_list, f"{tag} ({n} key store{'s' if n != 1 else ''})", tag)
        for store in sorted(choices.stores, key=lambda s: s.name.casefold()):
            _add_check(self.store_list, _store_text(store), store.name)
        self.tag_list.blockSignals(False)
        self.store_list.blockSignals(False)
        self._changed()

    def values(self) -> tuple[bool, list[str], list[str]]:
        use_holders = self.holders and self.where_held.isChecked()
        return use_holders, checked_values(self.tag_list), checked_values(self.store_list)

    def _changed(self, *_: Any) -> None:
        use_holders, tags, names = self.values()
        for view in (self.tag_list, self.store_list):
            view.setEnabled(not use_holders)
        flow = self.w_flow()
        if use_holders and isinstance(flow, RotateAllFlow):
            stores = flow.holders()
        else:
            stores = flow.stores_for(tags, names)
        shown = ", ".join(s.name for s in stores[:10]) + (", …" if len(stores) > 10 else "")
        down = sum(1 for s in stores if s.reachable is False)
        self.chosen.setText(
            f"{len(stores)} key store{'s' if len(stores) != 1 else ''} chosen"
            + (f": {shown}" if stores else "")
            + (f". {down} did not answer when last asked." if down else ".")
        )
        if self.errors["targets"].isVisibleTo(self):  # an error shown: check again now
            self.show_errors(self._errors())

    def w_flow(self) -> PushFlow | RotateAllFlow:
        flow: PushFlow | RotateAllFlow = self.w.flow  # type: ignore[attr-defined]
        return flow

    def _errors(self) -> FieldErrors:
        flow = self.w_flow()
        use_holders, tags, names = self.values()
        if isinstance(flow, RotateAllFlow):
            return flow.validate_targets(use_holders, tags, names)
        return flow.validate_targets(tags, names)

    def validatePage(self) -> bool:
        if not self.show_errors(self._errors()):
            return False
        flow = self.w_flow()
        use_holders, tags, names = self.values()
        if isinstance(flow, RotateAllFlow):
            flow.back_to(RotateAllStep.TARGETS)
            flow.set_targets(use_holders, tags, names)
        else:
            flow.back_to(PushStep.TARGETS)
            flow.set_targets(tags, names)
        flow.advance()
        return True


class _OptionsPage(_FlowPage):
    def __init__(self, wizard: _JobWizard, title: str, subtitle: str) -> None:
        super().__init__(title, subtitle, wizard)
        self.setObjectName("optionsPage")
        self.w = wizard
        layout = QVBoxLayout(self)
        form = _form()
        self.reason = QLineEdit(self)
        self.reason.setObjectName("jobReason")
        self.reason.setPlaceholderText("e.g. new PIN keys for the ATMs (kept in the audit log)")
        form.addRow("&Reason:", self.reason)
        self.add_error("reason", form)
        self.attempts = QSpinBox(self)
        self.attempts.setObjectName("jobAttempts")
        self.attempts.setRange(1, MAX_ATTEMPTS)
        self.attempts.setValue(DEFAULT_MAX_ATTEMPTS)
        form.addRow("&Attempts per key store:", self.attempts)
        self.add_error("attempts", form)
        self.backoff = QDoubleSpinBox(self)
        self.backoff.setObjectName("jobBackoff")
        self.backoff.setRange(0.0, MAX_BACKOFF)
        self.backoff.setDecimals(1)
        self.backoff.setSuffix(" s")
        self.backoff.setValue(DEFAULT_BACKOFF_SECONDS)
        form.addRow("&First retry wait:", self.backoff)
        self.add_error("backoff", form)
        layout.addLayout(form)
        layout.addWidget(
            _note(
                "Each later wait is twice the one before, at most 5 minutes. Stop ends the "
                "run at any time; the job stays unfinished until it is resumed or cancelled.",
                self,
            )
        )
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def validatePage(self) -> bool:
        flow: PushFlow | RotateAllFlow = self.w.flow  # type: ignore[attr-defined]
        reason, attempts, backoff = self.reason.text(), self.attempts.value(), self.backoff.value()
        if not self.show_errors(flow.validate_options(reason, attempts, backoff)):
            return False
        if isinstance(flow, PushFlow):
            flow.back_to(PushStep.OPTIONS)
        else:
            flow.back_to(RotateAllStep.OPTIONS)
        flow.set_options(reason, attempts, backoff)
        flow.advance()
        return True


class _SummaryPage(_FlowPage):
    """The job in words, the quorums it is made under (each with who is missing), and the
    commit button."""

    def __init__(self, wizard: _JobWizard, title: str, subtitle: str, commit: str) -> None:
        super().__init__(title, subtitle, wizard)
        self.setObjectName("summaryPage")
        self.w = wizard
        self.setCommitPage(True)
        # The last page: Qt shows Finish where a commit button would be.
        self.setButtonText(QWizard.WizardButton.CommitButton, commit)
        self.setButtonText(QWizard.WizardButton.FinishButton, commit)
        layout = QVBoxLayout(self)
        self.summary = _note("", self)
        self.summary.setObjectName("jobSummary")
        font = self.summary.font()
        font.setBold(True)
        self.summary.setFont(font)
        layout.addWidget(self.summary)
        facts = QWidget(self)
        self.facts = _form()
        facts.setLayout(self.facts)
        layout.addWidget(facts)
        self.quorum_box = QGroupBox("Dual control (gathered once, for the whole job)", self)
        self.quorum_box.setObjectName("jobQuorums")
        self.quorum_layout = QVBoxLayout(self.quorum_box)
        self.panels: list[QuorumPanel] = []
        layout.addWidget(self.quorum_box)
        layout.addWidget(self.general_error)
        layout.addStretch(1)

    def initializePage(self) -> None:
        flow: PushFlow | RotateAllFlow = self.w.flow  # type: ignore[attr-defined]
        self.summary.setText(flow.summary())
        fill_form(self.facts, flow.summary_rows(), prefix="summary")
        for panel in self.panels:
            panel.deleteLater()
        self.panels = []
        for (action, template), (_, name) in zip(
            flow.quorum_needs(), flow.quorum_names(), strict=True
        ):
            title = QLabel(f"{action.display.capitalize()} of template {name!r}:", self.quorum_box)
            panel = QuorumPanel(self.w.state, self.quorum_box)
            self.quorum_layout.addWidget(title)
            self.quorum_layout.addWidget(panel)
            panel.destroyed.connect(title.deleteLater)
            panel.ask(action, template)
            self.panels.append(panel)

    def validatePage(self) -> bool:
        if self.w.job is not None:
            return True
        self.w.make()  # type: ignore[attr-defined]
        return False


# --- push keys ------------------------------------------------------------------------------


class _PushKeysPage(_FlowPage):
    def __init__(self, wizard: PushWizard) -> None:
        info = wizard.flow.info(PushStep.KEYS)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("pushKeysPage")
        self.w = wizard
        layout = QVBoxLayout(self)
        self.status = _note("Reading the keys and key stores…", self)
        self.status.setObjectName("pushKeysStatus")
        layout.addWidget(self.status)
        self.filter = QLineEdit(self)
        self.filter.setObjectName("pushKeyFilter")
        self.filter.setPlaceholderText("Filter by label, algorithm, usage or KCV")
        self.filter.textChanged.connect(self._filter)
        layout.addWidget(self.filter)
        self.keys = _checkable("pushKeyList", self)
        layout.addWidget(self.keys, 1)
        self.add_error("keys", layout)
        layout.addWidget(self.general_error)

    def fill(self, keys: Sequence[ManagedKey], truncated: bool, preselect: Sequence[str]) -> None:
        self.keys.clear()
        for key in keys:
            _add_check(self.keys, key_line(key), key.label, key.label in preselect)
        text = (
            f"{len(keys)} key{'s' if len(keys) != 1 else ''} can be pushed."
            if keys
            else "No exportable pre-active or active secret key."
        )
        if truncated:
            text += " Not every key was read: filter on the Keys page first."
        self.status.setText(text)

    def _filter(self, text: str) -> None:
        wanted = text.strip().casefold()
        for row in range(self.keys.count()):
            item = self.keys.item(row)
            item.setHidden(bool(wanted) and wanted not in item.text().casefold())

    def validatePage(self) -> bool:
        labels = checked_values(self.keys)
        flow = self.w.flow
        if not self.show_errors(flow.validate_keys(labels)):
            return False
        flow.back_to(PushStep.KEYS)
        flow.set_keys(labels)
        flow.advance()
        return True


class PushWizard(_JobWizard):
    """Push keys to key stores: keys, key stores, reason and retries, summary; then the
    job is made under the export quorum and runs in the run view."""

    KEYS_PAGE, TARGETS_PAGE, OPTIONS_PAGE, SUMMARY_PAGE = range(4)

    def __init__(
        self, state: AppState, page: DistributionPage, preselect: Sequence[str] = ()
    ) -> None:
        super().__init__(state, page)
        self.setObjectName("pushWizard")
        self.setWindowTitle("Push keys to key stores")
        self.flow = PushFlow()
        self.preselect = tuple(preselect)
        self.keys_page = _PushKeysPage(self)
        t = self.flow.info(PushStep.TARGETS)
        self.targets_page = _TargetsPage(self, t.title, t.subtitle, holders=False)
        o = self.flow.info(PushStep.OPTIONS)
        self.options_page = _OptionsPage(self, o.title, o.subtitle)
        s = self.flow.info(PushStep.SUMMARY)
        self.summary_page = _SummaryPage(self, s.title, s.subtitle, "&Push")
        self.add_pages(self.keys_page, self.targets_page, self.options_page, self.summary_page)

    def flow_load(self, choices: DistributionChoices) -> None:
        self.flow.load(choices)
        self.keys_page.fill(choices.pushable_keys(), choices.truncated, self.preselect)

    def make(self) -> None:
        flow = self.flow
        services = self.state.services
        state = self.state

        def work(_: JobControl) -> DistributionJob:
            session = state.ensure_session()
            return flow.make(
                lambda refs, **kw: services.distribution.distribute(session, refs, **kw)
            )

        n = len(flow.key_labels)
        self.make_job(
            flow.quorum_needs(),
            f"Making the job: {n} key{'s' if n != 1 else ''} to push",
            work,
        )


def open_push(state: AppState, page: DistributionPage, preselect: Sequence[str] = ()) -> PushWizard:
    wizard = PushWizard(state, page, preselect)
    wizard.show()
    wizard.load()
    return wizard


# --- rotate and push ------------------------------------------------------------------------


class _ScopePage(_FlowPage):
    def __init__(self, wizard: RotateAllWizard) -> None:
        info = wizard.flow.info(RotateAllStep.SCOPE)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("rotateScopePage")
        self.w = wizard
        layout = QVBoxLayout(self)
        self.status = _note("Reading the keys and key stores…", self)
        self.status.setObjectName("rotateScopeStatus")
        layout.addWidget(self.status)
        self.by_template = QRadioButton("Every key of a &template that can be rotated now", self)
        self.by_template.setObjectName("scopeByTemplate")
        self.by_keys = QRadioButton("The keys ticked", self)
        self.by_keys.setObjectName("scopeByKeys")
        group = QButtonGroup(self)
        group.addButton(self.by_template)
        group.addButton(self.by_keys)
        self.by_template.setChecked(True)
        self.template = QComboBox(self)
        self.template.setObjectName("rotateTemplate")
        self.keys = _checkable("rotateKeyList", self)
        layout.addWidget(self.by_template)
        layout.addWidget(self.template)
        self.add_error("template", layout)
        layout.addWidget(self.by_keys)
        layout.addWidget(self.keys, 1)
        self.add_error("keys", layout)
        self.add_error("scope", layout)
        layout.addWidget(self.general_error)
        self.by_template.toggled.connect(self._mode)
        self._mode()

    def fill(self) -> None:
        flow = self.w.flow
        self.template.clear()
        for t in flow.rotatable_templates():
            self.template.addItem(t.name, t.name)
        self.keys.clear()
        for key in flow.rotatable_keys():
            _add_check(self.keys, key_line(key), key.label)
        self.status.setText(
            "Successors are made in the HSM from each key's template; the keys keep their "
            "state until someone changes it."
        )

    def _mode(self) -> None:
        on = self.by_template.isChecked()
        self.template.setEnabled(on)
        self.keys.setEnabled(not on)

    def values(self) -> tuple[str | None, list[str]]:
        if self.by_template.isChecked():
            return (str(self.template.currentData() or "") or None), []
        return None, checked_values(self.keys)

    def validatePage(self) -> bool:
        template, labels = self.values()
        flow = self.w.flow
        if not self.show_errors(flow.validate_scope(template, labels)):
            return False
        flow.back_to(RotateAllStep.SCOPE)
        flow.set_scope(template, labels)
        flow.advance()
        return True


class _CandidatesPage(_FlowPage):
    """The keys the service would rotate (``rotation_candidates``), read on entry."""

    def __init__(self, wizard: RotateAllWizard) -> None:
        info = wizard.flow.info(RotateAllStep.CANDIDATES)
        super().__init__(info.title, info.subtitle, wizard)
        self.setObjectName("rotateCandidatesPage")
        self.w = wizard
        layout = QVBoxLayout(self)
        self.status = _note("", self)
        self.status.setObjectName("candidatesStatus")
        layout.addWidget(self.status)
        self.model = RowsModel(["Key", "Version", "KCV", "State", "Held by"], self)
        self.table: QTableView = _result_table(self.model, "candidateTable", self)
        layout.addWidget(self.table, 1)
        self.add_error("candidates", layout)
        layout.addWidget(self.general_error)
        self.refusal = ""

    def initializePage(self) -> None:
        flow = self.w.flow
        if flow.candidates is not None:
            self._show()
            return
        self.refusal = ""
        self.model.set_rows([])
        self.status.setText("Asking which keys can be rotated now…")
        self.show_errors({})
        services = self.w.state.services
        state = self.w.state

        def work(_: JobControl) -> list[ManagedKey]:
            session = state.ensure_session()
            return flow.find_candidates(
                lambda template, refs: services.distribution.rotation_candidates(
                    session, template=template, key_refs=refs
                )
            )

        def done(keys: list[ManagedKey]) -> None:
            flow.set_candidates(keys)
            self._show()
            self.w.candidates_read.emit()

        def failed(exc: BaseException) -> None:
            # The service's refusal ("Template ... has no key that can be rotated now.")
            # says more than an empty list would.
            self.refusal = describe(exc)[1]
            flow.set_candidates([])
            self._show()
            self.w.candidates_read.emit()

        self.w.call(work, done, failed, title="find the keys to rotate")

    def _errors(self) -> FieldErrors:
        errors = self.w.flow.validate_candidates()
        if errors and self.refusal:
            return {"candidates": self.refusal}
        return errors

    def _show(self) -> None:
        rows = self.w.flow.candidate_rows()
        self.model.set_rows(rows)
        n = len(rows)
        self.status.setText(
            f"{n} key{'s' if n != 1 else ''} to rotate, each with no successor yet." if rows else ""
        )
        self.show_errors(self._errors())

    def validatePage(self) -> bool:
        flow = self.w.flow
        if not self.show_errors(self._errors()):
            return False
        flow.back_to(RotateAllStep.CANDIDATES)
        flow.advance()
        return True


class RotateAllWizard(_JobWizard):
    """Bulk rotation: the template (or keys), the keys it rotates, where the successors
    go, reason and retries, summary; the rotation and export quorums gathered once."""

    SCOPE_PAGE, CANDIDATES_PAGE, TARGETS_PAGE, OPTIONS_PAGE, SUMMARY_PAGE = range(5)
    candidates_read = Signal()

    def __init__(self, state: AppState, page: DistributionPage) -> None:
        super().__init__(state, page)
        self.setObjectName("rotateAllWizard")
        self.setWindowTitle("Rotate keys and push the successors")
        self.flow = RotateAllFlow()
        self.scope_page = _ScopePage(self)
        self.candidates_page = _CandidatesPage(self)
        t = self.flow.info(RotateAllStep.TARGETS)
        self.targets_page = _TargetsPage(self, t.title, t.subtitle, holders=True)
        o = self.flow.info(RotateAllStep.OPTIONS)
        self.options_page = _OptionsPage(self, o.title, o.subtitle)
        s = self.flow.info(RotateAllStep.SUMMARY)
        self.summary_page = _SummaryPage(self, s.title, s.subtitle, "&Rotate and push")
        self.add_pages(
            self.scope_page,
            self.candidates_page,
            self.targets_page,
            self.options_page,
            self.summary_page,
        )

    def flow_load(self, choices: DistributionChoices) -> None:
        self.flow.load(choices)
        self.scope_page.fill()

    def make(self) -> None:
        flow = self.flow
        services = self.state.services
        state = self.state

        def work(control: JobControl) -> DistributionJob:
            session = state.ensure_session()
            return flow.make(
                lambda **kw: services.distribution.rotate(session, progress=control.progress, **kw)
            )

        n = len(flow.candidates or ())
        self.make_job(
            flow.quorum_needs(),
            f"Rotating {n} key{'s' if n != 1 else ''}",
            work,
            ("distribution", "keys"),
        )


def open_rotate(state: AppState, page: DistributionPage) -> RotateAllWizard:
    wizard = RotateAllWizard(state, page)
    wizard.show()
    wizard.load()
    return wizard
