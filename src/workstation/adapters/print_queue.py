"""The print queue: PDFs handed to CUPS with ``lp``, through a pipe.

A mailer's PDF holds a clear key component, so it never touches a file of ours: ``lp``
reads it from standard input (``-``) and CUPS spools it under its own protection
(``/var/spool/cups``, root only, removed when the job completes unless the administrator
keeps job files, which a key management printer must not do).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from pathlib import PurePath

from workstation.errors import BadInput, WorkstationError

__all__ = ["LpPrintQueue", "PrintFailed"]

log = logging.getLogger(__name__)

SUBMIT_TIMEOUT = 60.0  # seconds; lp returns as soon as the scheduler has queued the job

_REQUEST_ID = re.compile(r"request id is (\S+)")
# CUPS printer names: printable characters except space, tab, "/", "\\", "'", '"', "#"
# (cupsd.conf(5)), and we refuse a leading "-" so the name cannot read as an option.
_PRINTER_NAME = re.compile(r"[^\s/\\'\"#-][^\s/\\'\"#]{0,126}")


class PrintFailed(WorkstationError):
    """The print system refused or failed a job (the document was not printed)."""


class LpPrintQueue:
    """``PrintQueue`` through the CUPS ``lp`` command (Debian package cups-client)."""

    def __init__(self, printer: str | None, command: str = "lp") -> None:
        self._printer = printer or None
        self._command = command

    @property
    def printer(self) -> str | None:
        return self._printer

    def submit(self, pdf: bytearray, *, title: str) -> str:
        """Queue ``pdf`` on the configured printer; return the job id CUPS gave it.

        Raises ``BadInput`` when no (or no valid) printer is configured, ``PrintFailed``
        when the print command is missing, refuses the job or does not answer in time. When
        ``lp`` succeeds but prints no job id, the job was queued: ``"unknown"`` is returned
        rather than an error that might prompt a second print of a secret.
        """
        printer = self._printer
        if printer is None:
            raise BadInput(
                "No printer is configured: set printer in the [printing] section of "
                "workstation.toml, or save the documents as PDF files instead."
            )
        if not _PRINTER_NAME.fullmatch(printer):
            raise BadInput(
                f"The configured printer name {printer!r} is not a valid CUPS printer name."
            )
        title = " ".join(title.split())[:200] or "Key Custodian Workstation document"
        args = [self._command, "-d", printer, "-t", title, "-"]
        # The C locale keeps lp's "request id is ..." in English, whatever the desktop uses.
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        try:
            # ``input`` takes the bytearray itself: subprocess writes it through a
            # memoryview, so no immutable copy of the PDF is made here.
            done = subprocess.run(
                args,
                input=pdf,
                capture_output=True,
                timeout=SUBMIT_TIMEOUT,
                env=env,
                check=False,
            )
        except FileNotFoundError:
            raise PrintFailed(self._missing_command_message()) from None
        except PermissionError:
            raise PrintFailed(
                f"The print command '{self._command}' cannot be run (permission denied)."
            ) from None
        except subprocess.TimeoutExpired:
            raise PrintFailed(
                f"The print system did not answer within {SUBMIT_TIMEOUT:.0f} seconds. The "
                f"document may still print: check the queue of {printer!r} (lpstat -o) "
                "before you print it again.",
            ) from None
        except OSError as exc:
            raise PrintFailed(
                f"The print command '{self._command}' could not be started: {exc.strerror}."
            ) from None

        out = done.stdout.decode("utf-8", "replace")
        err = done.stderr.decode("utf-8", "replace").strip()
        if done.returncode != 0:
            raise PrintFailed(self._refusal_message(printer, err), detail=_clip(err))
        match = _REQUEST_ID.search(out)
        if match is None:
            log.warning(
                "%s queued a job on %s but printed no request id: %r",
                self._command,
                printer,
                _clip(out),
            )
            return "unknown"
        job = match.group(1)
        log.info("queued %r on %s as %s", title, printer, job)
        return job

    def _missing_command_message(self) -> str:
        if PurePath(self._command).name == "lp":
            return (
                f"The print command '{self._command}' is not installed "
                "(Debian package cups-client)."
            )
        return f"The print command '{self._command}' was not found."

    def _refusal_message(self, printer: str, err: str) -> str:
        lowered = err.lower()
        if "does not exist" in lowered or "unknown destination" in lowered:
            return f"The printer {printer!r} is not known to the print system (CUPS)."
        if "not accepting" in lowered:
            return f"The printer {printer!r} is not accepting jobs; ask an administrator."
        if "scheduler not responding" in lowered or "connection refused" in lowered:
            return "The print system (CUPS) is not running, so nothing was printed."
        first = err.splitlines()[0] if err else "no message"
        return f"Printing on {printer!r} failed: {_clip(first, 200)}"


def _clip(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
