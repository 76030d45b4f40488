"""One worker thread for every service call that reaches a device (HSM, card, repository).

The GUI thread never blocks on PKCS#11 or PC/SC: it submits a job, and the result, an
error or progress arrive as signals in the GUI thread. Jobs run one at a time, in order.
A job may be cancelled where that is safe: it receives a ``cancelled()`` callable to poll.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

log = logging.getLogger(__name__)

Work = Callable[["JobControl"], Any]


@dataclass
class JobControl:
    """Handed to a job: report progress, and see whether the person cancelled."""

    _cancel: threading.Event = field(default_factory=threading.Event)
    _progress: Callable[[int, int, str], None] = lambda done, total, text: None

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def progress(self, done: int, total: int, text: str = "") -> None:
        self._progress(done, total, text)


class Job(QObject):
    """A submitted piece of work; its signals arrive in the GUI thread."""

    done = Signal(object)
    failed = Signal(object)  # the exception
    progressed = Signal(int, int, str)
    finished = Signal()

    def __init__(self, work: Work, title: str) -> None:
        super().__init__()
        self.work = work
        self.title = title
        self.control = JobControl()
        self.control._progress = self.progressed.emit

    def cancel(self) -> None:
        self.control._cancel.set()


class _Worker(QThread):
    def __init__(self, jobs: queue.Queue[Job | None]) -> None:
        super().__init__()
        self.setObjectName("kcw-device-thread")
        self.jobs = jobs

    def run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            try:
                result = job.work(job.control)
            except Exception as exc:  # noqa: BLE001 - every error goes back to the GUI
                log.info("job %r failed: %s", job.title, exc)
                job.failed.emit(exc)
            else:
                job.done.emit(result)
            finally:
                job.finished.emit()


class ServiceRunner(QObject):
    """Submit work to the device thread."""

    busy_changed = Signal(bool)

    def __init__(self) -> None:
        super().__init__()
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._worker = _Worker(self._jobs)
        self._pending = 0
        self._keep: set[Job] = set()
        self._worker.start()

    def submit(
        self,
        work: Work,
        *,
        title: str = "",
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
    ) -> Job:
        job = Job(work, title)
        if on_done is not None:
            job.done.connect(on_done)
        if on_error is not None:
            job.failed.connect(on_error)
        if on_progress is not None:
            job.progressed.connect(on_progress)
        job.finished.connect(lambda: self._finished(job))
        self._keep.add(job)
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        self._jobs.put(job)
        return job

    def _finished(self, job: Job) -> None:
        self._keep.discard(job)
        self._pending -= 1
        if self._pending == 0:
            self.busy_changed.emit(False)

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def stop(self, timeout_ms: int = 10_000) -> None:
        self._jobs.put(None)
        self._worker.wait(timeout_ms)
