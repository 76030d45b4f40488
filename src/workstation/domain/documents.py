"""Sealed documents: the records of the newer features kept in one table.

Each kind of document (a TLS endpoint, an EMV CA public key, an expiry alert sent, ...) is
a frozen dataclass with a ``KIND``, an ``id``, a ``subject`` the repository can look it up
by (a key id, a partner id, ``host:port``) and an optional ``due`` date the expiry queries
use. Like every record it is sealed by the HSM: the seal covers the kind, so a document of
one kind cannot be passed off as another. ``docs/architecture.md`` says why one table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Protocol, Self

from workstation.domain.records import canonical_bytes

__all__ = ["Document", "document_binding"]


class Document(Protocol):
    KIND: ClassVar[str]  # lower-case, e.g. "endpoint"; stored in its own column

    @property
    def id(self) -> str: ...

    @property
    def subject(self) -> str:
        """What the document is about, for lookups (a key id, ``host:port``, ...)."""
        ...

    @property
    def due(self) -> datetime | None:
        """When it falls due (expiry), for the expiry queries; None if never."""
        ...

    def to_record(self) -> dict[str, Any]: ...

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Self: ...

    def binding_bytes(self) -> bytes: ...


def document_binding(doc: Document) -> bytes:
    """The canonical bytes a document's seal covers: its kind and its record."""
    return canonical_bytes({"type": f"document:{doc.KIND}", **doc.to_record()})
