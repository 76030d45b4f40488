"""The workstation's errors: one base class, a human diagnostic, and a category per kind.

Adapters translate library exceptions at the edge (a ``pkcs11`` or ``smartcard``
exception becomes one of these), so the CLI and the GUI show words a custodian
understands while the log keeps the detail.

The category decides the CLI's exit code (see ``workstation.cli``): bad input,
refused by policy, refused authentication, integrity violation, or failure.
"""

from __future__ import annotations

from enum import Enum


class ErrorCategory(Enum):
    FAILURE = "failure"
    BAD_INPUT = "bad_input"
    POLICY = "policy"
    AUTHENTICATION = "authentication"
    INTEGRITY = "integrity"


class WorkstationError(Exception):
    """Base of every error the workstation reports to a person."""

    category = ErrorCategory.FAILURE

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def user_message(self) -> str:
        """The sentence shown to the person at the workstation."""
        return self.message


# --- bad input ---------------------------------------------------------------------------


class BadInput(WorkstationError, ValueError):
    """Something a person or a file supplied is malformed; nothing was changed."""

    category = ErrorCategory.BAD_INPUT


class NotFound(BadInput):
    """A named object (person, card, key, template, group) does not exist."""


class AlreadyExists(BadInput):
    """An object with that name or identity is already there."""


class InvalidTransition(BadInput):
    """A key lifecycle transition that NIST SP 800-57 does not allow."""


# --- policy ------------------------------------------------------------------------------


class PolicyRefused(WorkstationError):
    """The action is not allowed for the people in the session (quorum, roles, split knowledge)."""

    category = ErrorCategory.POLICY


class QuorumNotMet(PolicyRefused):
    """More (or other) people must be logged on for this action."""

    def __init__(self, message: str, *, missing: tuple[str, ...] = (), detail: str | None = None):
        super().__init__(message, detail=detail)
        self.missing = missing


class SessionLocked(PolicyRefused):
    """The session was locked (a card removed, the idle timeout passed)."""


class NotInitialised(WorkstationError):
    """The workstation has not been initialised yet (asked of the wrong state: bad input)."""

    category = ErrorCategory.BAD_INPUT


class AlreadyInitialised(WorkstationError):
    """``init`` on a workstation that already holds a repository or keys (bad input)."""

    category = ErrorCategory.BAD_INPUT


# --- authentication ----------------------------------------------------------------------


class AuthenticationFailed(WorkstationError):
    """Logon refused: wrong PIN, blocked, unknown, suspended, revoked or expired card."""

    category = ErrorCategory.AUTHENTICATION


class PinIncorrect(AuthenticationFailed):
    def __init__(self, retries_left: int | None, *, detail: str | None = None) -> None:
        if retries_left is None:
            message = "The PIN is not correct."
        elif retries_left == 0:
            message = "The PIN is not correct. The card is now blocked."
        elif retries_left == 1:
            message = "The PIN is not correct. 1 try left before the card is blocked."
        else:
            message = (
                f"The PIN is not correct. {retries_left} tries left before the card is blocked."
            )
        super().__init__(message, detail=detail)
        self.retries_left = retries_left


# The workstation cannot unblock a card: the PIN's retry counter is reset only with the
# card's PUK (the card administrator, with the vendor's tool), or the card is replaced.
CARD_BLOCKED_MESSAGE = (
    "The card is blocked after too many wrong PINs; the workstation cannot unblock it. "
    "The card administrator can unblock it with the card's PUK (using the card vendor's "
    "tool), or a security officer revokes the card and enrols a new one."
)


class CardBlocked(AuthenticationFailed):
    def __init__(self, message: str | None = None, *, detail: str | None = None) -> None:
        super().__init__(message or CARD_BLOCKED_MESSAGE, detail=detail)


class CardNotEnrolled(AuthenticationFailed):
    """The card's certificate is not enrolled on this workstation."""


class CardNotUsable(AuthenticationFailed):
    """The card or its holder is suspended, revoked or expired."""


# --- devices -----------------------------------------------------------------------------


class DeviceError(WorkstationError):
    """A device (HSM, card reader) failed or is unreachable."""


class HsmError(DeviceError):
    pass


class HsmPinRejected(HsmError):
    pass


class CardError(DeviceError):
    """A card or reader problem that is not a refusal of the person (no card, removed, I/O)."""


class CardRemoved(CardError):
    pass


class NoCardPresent(CardError):
    pass


class EndpointError(DeviceError):
    """A TLS endpoint could not be reached or did not complete a handshake."""


class MailError(DeviceError):
    """The SMTP relay could not be reached or refused a message."""


class TargetError(DeviceError):
    """A key store target (key agent, PKCS#11 token, file drop) could not be reached or
    refused a delivery; the message names the target and what failed."""


class StorageError(DeviceError):
    """The repository (SQLite file, PostgreSQL server) could not be reached or failed."""


# --- concurrency -------------------------------------------------------------------------


class ConflictError(WorkstationError):
    """Another workstation changed a record after this one read it (optimistic concurrency):
    nothing was saved; read it again and retry. Counted as bad input: the action is refused,
    not failed."""

    category = ErrorCategory.BAD_INPUT


# --- integrity ---------------------------------------------------------------------------


class IntegrityError(WorkstationError):
    """Stored data failed its check (a MAC, a hash chain, a signature): it is refused, not used."""

    category = ErrorCategory.INTEGRITY
