"""Running an action the way every screen does: quorum first, co-sign if needed, then the
work on the device thread with progress, and errors shown in words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QProgressDialog, QWidget

from workstation.domain.policy import Action
from workstation.services.logon import Requirement
from workstation.services.session import Session

from .errors import describe, show_error
from .runner import Job, JobControl
from .state import AppState


def run_with_progress(
    state: AppState,
    parent: QWidget | None,
    *,
    title: str,
    work: Callable[[JobControl], Any],
    on_done: Callable[[Any], None] | None = None,
    cancellable: bool = False,
) -> Job:
    """Long work off the GUI thread behind a progress dialog (cancellable where safe)."""
    dialog = QProgressDialog(title, "Cancel" if cancellable else "", 0, 0, parent)
    dialog.setObjectName("progressDialog")
    dialog.setWindowTitle(title)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)
    if not cancellable:
        dialog.setCancelButton(None)

    def progressed(done: int, total: int, text: str) -> None:
        dialog.setMaximum(total)
        dialog.setValue(done)
        if text:
            dialog.setLabelText(text)

    def finished(result: Any) -> None:
        dialog.reset()
        if on_done is not None:
            on_done(result)

    def failed(exc: BaseException) -> None:
        dialog.reset()
        show_error(parent, exc)

    job = state.run(work, title=title, on_done=finished, on_error=failed, on_progress=progressed)
    dialog.canceled.connect(job.cancel)
    return job


def perform(
    state: AppState,
    parent: QWidget | None,
    *,
    action: Action,
    title: str,
    work: Callable[[JobControl], Any],
    on_done: Callable[[Any], None] | None = None,
    template: str | None = None,
    cancellable: bool = False,
) -> None:
    """Check what ``action`` needs; when people are missing, open the co-sign dialog so
    they can insert their cards; then run ``work``. Cancelling the co-sign leaves nothing
    done. The service checks the policy again when the work runs."""
    from .cosign import CoSignDialog

    def start() -> None:
        run_with_progress(
            state, parent, title=title, work=work, on_done=on_done, cancellable=cancellable
        )

    def checked(requirement: Requirement) -> None:
        if requirement.met:
            start()
            return
        dialog = CoSignDialog(state, action, template, requirement, parent)
        dialog.accepted.connect(start)
        dialog.open()

    def failed(exc: BaseException) -> None:
        show_error(parent, exc)

    state.requirement(action, template, checked, on_error=failed)


T = TypeVar("T")


def perform_change(
    state: AppState,
    parent: QWidget | None,
    *,
    action: Action,
    title: str,
    call: Callable[[Session], T],
    said: Callable[[T], str],
    say: Callable[[str], None],
    changed: str,
) -> None:
    """:func:`perform` for the common change: one service call with the session on the
    device thread; when it is done, the page's status line says ``said(result)`` and
    every page showing ``changed`` reads again."""

    def work(_: JobControl) -> T:
        return call(state.ensure_session())

    def done(result: T) -> None:
        say(said(result))
        state.data_changed.emit(changed)

    perform(state, parent, action=action, title=title, work=work, on_done=done)


def read_if_allowed(
    state: AppState,
    action: Action,
    *,
    title: str,
    work: Callable[[JobControl], Any],
    on_done: Callable[[Any], None],
    on_refused: Callable[[Requirement], None],
    on_error: Callable[[BaseException], None],
    current: Callable[[], bool] = lambda: True,
) -> None:
    """Background reads of a page: ask first whether the session may (so that refreshes do
    not fill the audit log with refused attempts), then read on the device thread.
    ``current`` lets a page drop answers to a request it has since replaced."""

    def done(result: Any) -> None:
        if current():
            on_done(result)

    def failed(exc: BaseException) -> None:
        if current():
            on_error(exc)

    def checked(requirement: Requirement) -> None:
        if not current():
            return
        if requirement.met:
            state.run(work, title=title, on_done=done, on_error=failed)
        else:
            on_refused(requirement)

    state.requirement(action, None, checked, on_error=failed)


R = TypeVar("R")


class _RefreshedSignal(Protocol):
    def emit(self) -> None: ...


class ReadingPage(Protocol):
    """A page that shows one register read in the background (Certificates, Exchanges,
    Due dates, TLS endpoints): what :func:`read_register` needs of it."""

    state: AppState
    _stale: bool
    _ticket: int

    @property
    def refreshed(self) -> _RefreshedSignal: ...

    def _clear(self) -> None: ...

    def say(self, text: str, *, bad: bool = False) -> None: ...


def read_register(
    page: ReadingPage,
    *,
    what: str,
    title: str,
    work: Callable[[JobControl], R],
    on_done: Callable[[R], None],
) -> None:
    """Read a page's register again if someone is logged on and the session may view the
    inventory: on the device thread, an answer to an older request dropped; a refusal says
    who ``what`` ("the key pairs") needs and clears the page; an error is said."""
    if not page.state.members:
        return
    page._stale = False
    page._ticket += 1
    ticket = page._ticket

    def refused(requirement: Requirement) -> None:
        page._clear()
        page.say(f"Reading {what} needs {requirement.quorum}; nobody logged on fills it.", bad=True)
        page.refreshed.emit()

    def failed(exc: BaseException) -> None:
        page.say(describe(exc)[1], bad=True)
        page.refreshed.emit()

    read_if_allowed(
        page.state,
        Action.VIEW_INVENTORY,
        title=title,
        work=work,
        on_done=on_done,
        on_refused=refused,
        on_error=failed,
        current=lambda: ticket == page._ticket,
    )


def confirm(
    parent: QWidget,
    *,
    name: str,
    title: str,
    text: str,
    yes: str,
    on_yes: Callable[[], None],
    no: str | None = None,
) -> QMessageBox:
    """Ask before an action that changes something (window-modal, not blocking): ``yes``
    names the action on its button, the safe answer is the default; ``on_yes`` runs only
    if it is chosen. The box is returned (tests find it by ``name``)."""
    Button = QMessageBox.StandardButton
    safe = Button.No if no is not None else Button.Cancel
    box = QMessageBox(QMessageBox.Icon.Question, title, text, Button.Yes | safe, parent)
    box.setObjectName(name)
    box.setDefaultButton(safe)
    box.button(Button.Yes).setText(yes)
    if no is not None:
        box.button(Button.No).setText(no)

    def answered(button: QAbstractButton) -> None:
        if box.standardButton(button) == Button.Yes:
            on_yes()

    box.buttonClicked.connect(answered)
    box.open()
    return box
