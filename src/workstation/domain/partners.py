"""Exchange partners: the organisations and devices keys travel to and from.

A partner is a bank, a processor, a card brand, a host HSM or a cloud service such as AWS
Payment Cryptography. What the workstation keeps about one is public material only: the CA
certificates it trusts for that partner (the anchors a TR-34 KDH certificate or an ECDH
certificate must chain to), the CRLs those CAs issued, and the partner's key receiving
device (KRD) certificate for TR-34 exports. The record is sealed like every other, so a
trust anchor swapped in the database is refused, not trusted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from workstation.domain.records import canonical_bytes, format_time, parse_time
from workstation.errors import BadInput

__all__ = ["PARTNER_KINDS", "Partner", "check_partner_name"]

PARTNER_KINDS = ("bank", "processor", "brand", "host-hsm", "cloud", "device-vendor", "other")

_NAME = re.compile(r"^[\w .,&()'/-]{1,80}$")


def check_partner_name(name: str) -> str:
    """A partner's name as shown in records and the audit log: 1-80 printable characters."""
    text = name.strip()
    if not _NAME.fullmatch(text):
        raise BadInput(
            f"Partner name {name!r} is not valid: use 1 to 80 letters, digits, spaces "
            "and . , & ( ) ' / -."
        )
    return text


@dataclass(frozen=True)
class Partner:
    id: str
    name: str
    kind: str
    ca_certificates: tuple[str, ...] = ()  # PEM, the trust anchors for this partner
    crls: tuple[str, ...] = ()  # PEM, issued by those CAs
    krd_certificate: str | None = None  # PEM, the partner's key receiving device (TR-34)
    notes: str = ""
    created_at: datetime | None = None
    version: int = 1

    def __post_init__(self) -> None:
        check_partner_name(self.name)
        if self.kind not in PARTNER_KINDS:
            raise BadInput(
                f"Partner kind {self.kind!r} is not known; use one of: {', '.join(PARTNER_KINDS)}."
            )
        if len(self.notes) > 2000:
            raise BadInput("Partner notes are limited to 2000 characters.")

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "ca_certificates": list(self.ca_certificates),
            "crls": list(self.crls),
            "krd_certificate": self.krd_certificate,
            "notes": self.notes,
            "created_at": format_time(self.created_at),
            "version": self.version,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Partner:
        return cls(
            id=rec["id"],
            name=rec["name"],
            kind=rec["kind"],
            ca_certificates=tuple(rec["ca_certificates"]),
            crls=tuple(rec["crls"]),
            krd_certificate=rec["krd_certificate"],
            notes=rec["notes"],
            created_at=parse_time(rec["created_at"]),
            version=int(rec["version"]),
        )

    def binding_bytes(self) -> bytes:
        return canonical_bytes({"type": "partner", **self.to_record()})

    def updated(self, **changes: Any) -> Partner:
        return replace(self, version=self.version + 1, **changes)
