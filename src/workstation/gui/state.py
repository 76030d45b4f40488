"""What every screen shares: the services, the device thread, the readers and the session.

Signals arrive in the GUI thread; the card watch and the session's own events come from
other threads and are forwarded here as queued signals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSettings, QTimer, Signal

from workstation.domain.policy import Action
from workstation.services.app import WorkstationServices
from workstation.services.logon import Requirement
from workstation.services.ports import CardWatch, ReaderStatus
from workstation.services.session import Member, Session, SessionEvent

from .runner import Job, JobControl, ServiceRunner

log = logging.getLogger(__name__)

IDLE_CHECK_MS = 1000


@dataclass(frozen=True)
class StartupReport:
    demo: bool
    initialised: bool


class AppState(QObject):
    readers_changed = Signal(list)  # list[ReaderStatus]
    session_changed = Signal()  # joined, dropped, opened, closed
    session_event = Signal(str, str)  # kind, text (from the session's listeners)
    locked = Signal(str)  # reason
    unlocked = Signal()
    data_changed = Signal(str)  # "keys", "people", "policy", "templates", "audit", "groups"
    ready = Signal(object)  # StartupReport, once the services are built (deferred start)
    startup_failed = Signal(object)  # the exception

    def __init__(
        self,
        services: WorkstationServices | None,
        *,
        home: Path,
        demo: bool = False,
        settings: QSettings | None = None,
        build: Callable[[], tuple[Any, WorkstationServices]] | None = None,
    ) -> None:
        """``services`` ready-made, or None with ``build`` returning (config, services):
        then the services are built as the device thread's first job, after the window
        shows, and ``ready`` is emitted."""
        super().__init__()
        if services is None and build is None:
            raise ValueError("AppState needs services or a way to build them")
        self._services = services
        self._build = build
        self.home = home
        self.demo = demo
        self.settings = settings or QSettings(str(home / "gui.ini"), QSettings.Format.IniFormat)
        self.runner = ServiceRunner()
        self.session: Session | None = None
        self.readers: list[ReaderStatus] = []
        self._watch: CardWatch | None = None
        self._was_locked = False
        self.session_event.connect(self._on_session_event)
        self.readers_changed.connect(self._store_readers)
        self._idle = QTimer(self)
        self._idle.setInterval(IDLE_CHECK_MS)
        self._idle.timeout.connect(self._check_lock)

    # --- readers -------------------------------------------------------------------------

    def start(self) -> None:
        """Start watching the readers (insertions and removals appear by themselves).

        The first reading and the watch start on the device thread, so the window shows
        without waiting for PC/SC."""

        def begin(_: JobControl) -> StartupReport | None:
            report = None
            if self._services is None:
                assert self._build is not None
                config, self._services = self._build()
                report = StartupReport(
                    demo=bool(getattr(config, "demo", False)),
                    initialised=self._services.ctx.repository.exists(),
                )
            self.readers_changed.emit(self.services.ctx.readers.readers())
            self._watch = self.services.ctx.readers.watch(self._from_watch)
            return report

        def begun(report: StartupReport | None) -> None:
            if report is not None:
                self.demo = report.demo
                self.ready.emit(report)

        self.run(
            begin, title="start the workstation", on_done=begun, on_error=self.startup_failed.emit
        )
        self._idle.start()

    @property
    def services(self) -> WorkstationServices:
        """The services; with a deferred start, available once ``ready`` was emitted (and
        always inside jobs, which run after the start job)."""
        if self._services is None:
            raise RuntimeError("the workstation is still starting")
        return self._services

    @property
    def started(self) -> bool:
        return self._services is not None

    def _store_readers(self, statuses: list[ReaderStatus]) -> None:
        self.readers = list(statuses)

    def _from_watch(self, statuses: list[ReaderStatus]) -> None:
        # Called on the watch thread: drop members at once, then tell the GUI.
        if self.session is not None:
            self.session.readers_changed(statuses)
        self.readers_changed.emit(statuses)

    def stop(self) -> None:
        self._idle.stop()
        self.runner.stop()  # finishes the queued work first (the watch may start in it)
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        self.close_session()

    # --- the device thread ---------------------------------------------------------------

    def run(
        self,
        work: Callable[[JobControl], Any],
        *,
        title: str = "",
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
    ) -> Job:
        return self.runner.submit(
            work, title=title, on_done=on_done, on_error=on_error, on_progress=on_progress
        )

    # --- the session ---------------------------------------------------------------------

    @property
    def members(self) -> list[Member]:
        return self.session.members if self.session is not None else []

    def ensure_session(self) -> Session:
        """The current session, opened on first logon (runs on the device thread)."""
        if self.session is None or (self.session.is_locked and not self.session.members):
            session = self.services.logon.open_session()
            session.subscribe(lambda e: self.session_event.emit(e.kind, e.text))
            self.session = session
        return self.session

    def log_on(
        self,
        reader: str,
        pin: bytearray,
        *,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> Job:
        """Authenticate the card in ``reader`` and add its holder to the session; unlocks
        a locked session when the card belongs to someone in it."""

        def work(_: JobControl) -> Member:
            session = self.ensure_session()
            if session.is_locked and session.members:
                return self.services.logon.unlock(session, reader, pin)
            return self.services.logon.log_on(session, reader, pin)

        def done(member: Any) -> None:
            self.session_changed.emit()
            self._check_lock()
            if on_done is not None:
                on_done(member)

        return self.run(work, title="log on", on_done=done, on_error=on_error)

    def requirement(
        self,
        action: Action,
        template: str | None,
        on_done: Callable[[Requirement], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> Job:
        def work(_: JobControl) -> Requirement:
            return self.services.logon.requirement(self.ensure_session(), action, template)

        return self.run(work, title="check the quorum", on_done=on_done, on_error=on_error)

    def close_session(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            session.close()
            self.session_changed.emit()

    def touch(self) -> None:
        if self.session is not None:
            self.session.touch()

    def _on_session_event(self, kind: str, text: str) -> None:
        if kind in ("joined", "dropped", "closed"):
            self.session_changed.emit()
        self._check_lock()

    def _check_lock(self) -> None:
        session = self.session
        reason = session.locked_reason if session is not None else None
        if reason is not None and not self._was_locked:
            self._was_locked = True
            log.info("session locked: %s", reason)
            self.locked.emit(reason)
        elif reason is None and self._was_locked:
            self._was_locked = False
            self.unlocked.emit()

    @property
    def is_locked(self) -> bool:
        return self._was_locked


class ActivityFilter(QObject):
    """Key presses and mouse clicks count as activity for the idle timeout."""

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress):
            self.state.touch()
        return False


__all__ = ["ActivityFilter", "AppState", "SessionEvent"]
