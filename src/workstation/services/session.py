"""A logged-on session of one or more card holders.

Each member's card stays in its reader for as long as they take part: removing it drops
that person at once (the card watch calls :meth:`Session.readers_changed` from its own
thread), and the session locks when the people left no longer meet what it was opened
for. An idle session locks after the policy's timeout. A locked session refuses every
action until it is unlocked by a member's card and PIN (or closed).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from workstation.domain.people import Card, Group, Person
from workstation.domain.policy import Participant, Quorum, evaluate_quorum
from workstation.errors import BadInput, SessionLocked
from workstation.services.ports import Clock, PivCard, ReaderStatus


@dataclass
class Member:
    person: Person
    card: Card
    reader: str
    connection: PivCard
    logged_on_at: datetime

    @property
    def name(self) -> str:
        return self.person.name


@dataclass
class SessionEvent:
    kind: str  # "joined", "dropped", "locked", "unlocked", "closed"
    text: str


log = logging.getLogger(__name__)

Listener = Callable[[SessionEvent], None]


@dataclass
class Session:
    """Who is logged on. Thread-safe: the card watch may drop members at any moment."""

    clock: Clock
    idle_timeout_seconds: int
    purpose: Quorum | None = None  # what it was opened for; None: "at least one person"
    groups: Mapping[str, Group] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    requester_id: str | None = None
    _members: list[Member] = field(default_factory=list)
    _locked_reason: str | None = None
    _last_activity: float = 0.0
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _listeners: list[Listener] = field(default_factory=list)
    _closed: bool = False
    _changes: int = 0  # bumped whenever someone joins or is dropped

    def __post_init__(self) -> None:
        self._last_activity = self.clock.monotonic()

    # --- membership ----------------------------------------------------------------------

    @property
    def members(self) -> list[Member]:
        with self._lock:
            return list(self._members)

    def member(self, person_id: str) -> Member | None:
        with self._lock:
            return next((m for m in self._members if m.person.id == person_id), None)

    def has_reader(self, reader: str) -> bool:
        with self._lock:
            return any(m.reader == reader for m in self._members)

    def add(self, member: Member) -> None:
        with self._lock:
            if self._closed:
                raise SessionLocked("The session is closed; start a new one.")
            if any(m.person.id == member.person.id for m in self._members):
                raise BadInput(
                    f"{member.name} is already logged on in this session; one person counts once."
                )
            if any(m.reader == member.reader for m in self._members):
                raise BadInput(f"Reader {member.reader} already holds a logged-on card.")
            self._members.append(member)
            self._changes += 1
            self._last_activity = self.clock.monotonic()
        self._emit(SessionEvent("joined", f"{member.name} logged on ({member.reader})."))

    @property
    def requester(self) -> Member | None:
        """The person named as requester of the next actions, if someone was named.

        When nobody was named, the policy check takes the first member (in logon order)
        who fills a place of the quorum."""
        with self._lock:
            return next((m for m in self._members if m.person.id == self.requester_id), None)

    @property
    def changes(self) -> int:
        """A counter of membership changes, for long actions that re-check their quorum."""
        with self._lock:
            return self._changes

    @property
    def first(self) -> Member | None:
        with self._lock:
            return self._members[0] if self._members else None

    def set_requester(self, name: str) -> Member:
        with self._lock:
            for m in self._members:
                if m.person.name.casefold() == name.casefold():
                    self.requester_id = m.person.id
                    return m
        raise BadInput(f"{name!r} is not logged on in this session.")

    def participants(self) -> list[Participant]:
        with self._lock:
            return [
                Participant(
                    person_id=m.person.id,
                    name=m.person.name,
                    roles=m.person.roles,
                    groups=frozenset(
                        g.name for g in self.groups.values() if m.person.id in g.members
                    ),
                )
                for m in self._members
            ]

    # --- dropping and locking ------------------------------------------------------------

    def readers_changed(self, statuses: list[ReaderStatus]) -> None:
        """Card watch callback: drop every member whose card left its reader."""
        present = {s.name for s in statuses if s.card_present}
        with self._lock:
            gone = [m for m in self._members if m.reader not in present]
        for m in gone:
            self.drop(m.person.id, f"{m.name}'s card was removed from {m.reader}")

    def check_presence(self) -> None:
        """At the moment of an action: ask each member's card connection directly."""
        for m in self.members:
            if not m.connection.still_present():
                self.drop(m.person.id, f"{m.name}'s card was removed from {m.reader}")

    def drop(self, person_id: str, reason: str) -> None:
        with self._lock:
            member = next((m for m in self._members if m.person.id == person_id), None)
            if member is None:
                return
            self._members.remove(member)
            self._changes += 1
            if self.requester_id == person_id:
                self.requester_id = None
            still_met = self._purpose_met()
        _close_quietly(member.connection)
        self._emit(SessionEvent("dropped", reason + "."))
        if not still_met:
            self.lock(reason)

    def _purpose_met(self) -> bool:
        if not self._members:
            return False
        if self.purpose is None:
            return True
        return evaluate_quorum(self.purpose, self.participants(), self.groups).met

    def lock(self, reason: str) -> None:
        with self._lock:
            if self._locked_reason is not None:
                return
            self._locked_reason = reason
        self._emit(SessionEvent("locked", f"Session locked: {reason}."))

    def unlock(self) -> None:
        """Called by the logon service once a member has presented card and PIN again."""
        with self._lock:
            self._locked_reason = None
            self._last_activity = self.clock.monotonic()
        self._emit(SessionEvent("unlocked", "Session unlocked."))

    @property
    def locked_reason(self) -> str | None:
        with self._lock:
            self._check_idle()
            return self._locked_reason

    @property
    def is_locked(self) -> bool:
        return self.locked_reason is not None

    def _check_idle(self) -> None:
        idle = self.clock.monotonic() - self._last_activity
        if self._locked_reason is None and idle > self.idle_timeout_seconds:
            self._locked_reason = f"idle for more than {self.idle_timeout_seconds} seconds"

    def ensure_usable(self, *, check_cards: bool = True) -> None:
        """Refuse if locked, idle past the timeout, closed or empty; then mark activity."""
        if check_cards:
            self.check_presence()
        with self._lock:
            if self._closed:
                raise SessionLocked("The session is closed; log on again.")
            self._check_idle()
            if self._locked_reason is not None:
                raise SessionLocked(
                    f"The session is locked ({self._locked_reason}). "
                    "Present a card and PIN to unlock it."
                )
            if not self._members:
                raise SessionLocked("No one is logged on.")
            self._last_activity = self.clock.monotonic()

    def touch(self) -> None:
        """A person worked at the screen: the idle timeout starts again (unless locked)."""
        with self._lock:
            if self._locked_reason is None:
                self._check_idle()
            if self._locked_reason is None:
                self._last_activity = self.clock.monotonic()

    def close(self) -> None:
        with self._lock:
            members, self._members = self._members, []
            self._closed = True
        for m in members:
            _close_quietly(m.connection)
        self._emit(SessionEvent("closed", "Session closed."))

    # --- listeners -----------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def _emit(self, event: SessionEvent) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event)


def _close_quietly(connection: PivCard) -> None:
    """Closing the connection of a card that may be gone is best effort."""
    try:
        connection.close()
    except Exception:
        log.debug("closing a card connection failed", exc_info=True)
