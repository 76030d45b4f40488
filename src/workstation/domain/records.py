"""Canonical encoding of records: what is MAC-bound, hashed into the audit chain and stored.

One encoding everywhere, so that a value bound by the HSM, written to the repository and
read back is byte-for-byte the same input to the check.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def canonical_bytes(record: dict[str, Any]) -> bytes:
    """Deterministic JSON: sorted keys, no insignificant white space, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with microseconds, or None."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime: every time in the workstation is timezone-aware UTC")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # Formatted by hand: this runs several times per key and strftime is slow.
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
        f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}Z"
    )


def parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    if len(text) != 27 or text[-1] != "Z":
        raise ValueError(f"not a workstation time: {text!r}")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
