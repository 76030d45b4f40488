"""Talking to a person at a terminal: PIN prompts, readers, session logon, output."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

from workstation.errors import BadInput, NoCardPresent
from workstation.services.app import WorkstationServices
from workstation.services.ports import CardWatch
from workstation.services.session import Session, SessionEvent


class PinSource:
    """PINs from a non-echoing prompt, or one per line from standard input (scripts, tests)."""

    def __init__(self, *, from_stdin: bool, stream: TextIO | None = None) -> None:
        self.from_stdin = from_stdin
        self.stream = stream or sys.stdin

    def read(self, prompt: str) -> bytearray:
        if self.from_stdin:
            line = (
                self.stream.buffer.readline()
                if hasattr(self.stream, "buffer")
                else (self.stream.readline().encode())
            )
            if not line:
                raise BadInput(f"--pin-stdin: standard input ended; no PIN for: {prompt.strip()}")
            pin = bytearray(line.rstrip(b"\r\n"))
            return pin
        # getpass returns an immutable str; it is turned into a bytearray at once and the
        # reference dropped, so only the bytearray (wiped after use) is kept.
        text = getpass.getpass(prompt)
        pin = bytearray(text.encode())
        del text
        return pin


def resolve_reader(services: WorkstationServices, ref: str) -> str:
    """A reader by index (as ``readers`` lists them), exact name or unique substring."""
    names = [r.name for r in services.ctx.readers.readers()]
    if not names:
        raise NoCardPresent("No card reader is connected.")
    if ref.isdigit():
        index = int(ref)
        if index >= len(names):
            raise BadInput(
                f"There is no reader {index}; readers are numbered 0 to {len(names) - 1}."
            )
        return names[index]
    if ref in names:
        return ref
    matches = [n for n in names if ref.casefold() in n.casefold()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise BadInput(f"No reader matches {ref!r}. Readers: {', '.join(names)}.")
    raise BadInput(f"Several readers match {ref!r}: {', '.join(matches)}.")


class CliSession:
    """Log on every card in the chosen readers (each holder types their PIN), for one command.

    The session is watched: a card removed while the command runs drops its holder and,
    when nobody is left, locks the session, so the command stops.
    """

    def __init__(
        self,
        services: WorkstationServices,
        pins: PinSource,
        *,
        readers: Sequence[str] = (),
        exclude: Iterable[str] = (),
        requester: str | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.services = services
        self.pins = pins
        self.reader_refs = list(readers)
        self.exclude = set(exclude)
        self.requester = requester
        self.err = err or sys.stderr
        self.session: Session | None = None
        self.watch: CardWatch | None = None

    def __enter__(self) -> Session:
        services = self.services
        if self.reader_refs:
            chosen = [resolve_reader(services, r) for r in self.reader_refs]
        else:
            chosen = [r.name for r in services.ctx.readers.readers() if r.card_present]
        chosen = [r for r in chosen if r not in self.exclude]
        if not chosen:
            raise NoCardPresent(
                "No card to log on with: insert your card (and those of the people who must "
                "act with you), then run the command again."
            )
        session = services.logon.open_session()
        self.session = session
        session.subscribe(self._on_event)
        self.watch = services.logon.watch(session)
        try:
            for reader in chosen:
                info = services.logon.inspect(reader)
                holder = info.holder or "unknown card"
                tries = f", {info.retries_left} tries left" if info.retries_left is not None else ""
                pin = self.pins.read(f"PIN for {holder} ({reader}{tries}): ")
                services.logon.log_on(session, reader, pin)
            if self.requester:
                session.set_requester(self.requester)
        except BaseException:
            self._finish()
            raise
        names = "; ".join(f"{m.name} ({m.person.roles_text})" for m in session.members)
        print(f"Logged on: {names}", file=self.err)
        return session

    def _on_event(self, event: SessionEvent) -> None:
        if event.kind in ("dropped", "locked"):
            print(event.text, file=self.err)

    def _finish(self) -> None:
        if self.watch is not None:
            self.watch.stop()
            self.watch = None
        if self.session is not None:
            self.session.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._finish()
        try:
            self.services.ctx.checkpoint(force=True)
        except Exception:
            if exc is None:
                raise


def parse_date(text: str, what: str, *, end_of_day: bool = False) -> datetime:
    """YYYY-MM-DD or an ISO 8601 time; UTC unless a zone is given. A bare date as the end
    of a range means the end of that day."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"The {what} {text!r} is not a date (write YYYY-MM-DD).") from None
    if end_of_day and len(text.strip()) == 10:
        value = value.replace(hour=23, minute=59, second=59, microsecond=999_999)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def emit(as_json: bool, data: Any, human: str | Iterable[str]) -> None:
    if as_json:
        print(json.dumps(data, indent=2, default=str, ensure_ascii=False))
    elif isinstance(human, str):
        print(human)
    else:
        for line in human:
            print(line)


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in rows]
    return lines
