"""What falls due: the one shape in which keys, certificates, TLS endpoints and EMV issuer
certificates reach the expiry dashboard, the task list, the alerts and the calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["DueItem"]


@dataclass(frozen=True)
class DueItem:
    kind: str  # "key", "certificate", "endpoint", "emv-certificate", ...
    ref: str  # the id of the thing that falls due (key id, certificate id, ...)
    label: str  # what a person reads: key label, certificate subject, host:port
    what: str  # what happens then, e.g. "crypto-period ends", "certificate expires"
    due: datetime  # timezone-aware UTC
    key_id: str | None = None  # the managed key it concerns, if any (for owners)
    template_id: str | None = None  # that key's template, if any (for owners)
    owners: tuple[str, ...] = ()  # e-mail addresses recorded on the item itself
