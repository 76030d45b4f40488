"""What falls due: the one shape in which keys, certificates, TLS endpoints and EMV issuer
certificates reach the expiry dashboard, the task list, the alerts and the calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["DueItem", "days_left"]

_DAY_US = 86_400 * 1_000_000


def days_left(due: datetime, now: datetime) -> int:
    """Whole days until ``due``, rounded up, as every page, list and alert shows them: an
    item is in alert window W exactly when ``days_left <= W`` (due within W days); zero or
    less: due or overdue.

    >>> from datetime import UTC, datetime, timedelta
    >>> now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    >>> [days_left(now + timedelta(days=d), now) for d in (7, 6.5, 7.01, 0, -1.5)]
    [7, 7, 8, 0, -1]
    """
    delta = due - now
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return -((-micros) // _DAY_US)


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
