"""Errors in words a custodian understands, with the detail one click away."""

from __future__ import annotations

import logging
import traceback

from PySide6.QtWidgets import QMessageBox, QWidget

from workstation.errors import ErrorCategory, WorkstationError

log = logging.getLogger(__name__)

TITLES = {
    ErrorCategory.BAD_INPUT: "Please check the input",
    ErrorCategory.POLICY: "Not allowed by policy",
    ErrorCategory.AUTHENTICATION: "Logon refused",
    ErrorCategory.INTEGRITY: "Integrity alarm",
    ErrorCategory.FAILURE: "Something went wrong",
}


def describe(exc: BaseException) -> tuple[str, str, str]:
    """(title, message, detail) for an exception."""
    if isinstance(exc, WorkstationError):
        return TITLES[exc.category], exc.user_message(), exc.detail or ""
    log.error("unexpected error", exc_info=exc)
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return (
        TITLES[ErrorCategory.FAILURE],
        "An unexpected error stopped this action. Nothing further was done; the details "
        "are in the log.",
        detail,
    )


def show_error(parent: QWidget | None, exc: BaseException) -> QMessageBox:
    title, message, detail = describe(exc)
    box = QMessageBox(parent)
    box.setObjectName("errorBox")
    is_integrity = isinstance(exc, WorkstationError) and (exc.category is ErrorCategory.INTEGRITY)
    box.setIcon(QMessageBox.Icon.Critical if is_integrity else QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(message)
    if detail:
        box.setDetailedText(detail)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.open()
    return box
