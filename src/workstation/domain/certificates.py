"""Certificates of the workstation's key pairs: what an issued certificate says, kept beside
the key pair it certifies, sealed like every other record.

A certificate is public, but what the workstation believes about it is not to be edited
behind its back: that it was checked against a trust anchor, that it carries the key
pair's public key, when it expires. The record keeps the certificate itself (PEM) and the
facts read from it at import; the seal binds them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from workstation.domain.records import canonical_bytes, format_time, parse_time

__all__ = ["CertificateRecord", "CertificateStatus"]


class CertificateStatus(StrEnum):
    CURRENT = "current"  # checked at import; the newest one of its key pair
    SUPERSEDED = "superseded"  # a renewal for the same key pair was imported after it


@dataclass(frozen=True)
class CertificateRecord:
    id: str
    key_id: str
    key_label: str
    subject: str
    issuer: str
    serial: str  # upper-case hex
    not_before: datetime
    not_after: datetime
    fingerprint: str  # SHA-256 of the DER, upper-case hex
    pem: str  # the certificate, then the chain up to (not including) the anchor
    anchor: str  # the trust anchor's subject
    partner: str  # whose trust anchors it was checked against
    imported_at: datetime
    status: CertificateStatus = CertificateStatus.CURRENT

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key_id": self.key_id,
            "key_label": self.key_label,
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": format_time(self.not_before),
            "not_after": format_time(self.not_after),
            "fingerprint": self.fingerprint,
            "pem": self.pem,
            "anchor": self.anchor,
            "partner": self.partner,
            "imported_at": format_time(self.imported_at),
            "status": self.status.value,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> CertificateRecord:
        def when(name: str) -> datetime:
            value = parse_time(rec[name])
            assert value is not None
            return value

        return cls(
            id=rec["id"],
            key_id=rec["key_id"],
            key_label=rec["key_label"],
            subject=rec["subject"],
            issuer=rec["issuer"],
            serial=rec["serial"],
            not_before=when("not_before"),
            not_after=when("not_after"),
            fingerprint=rec["fingerprint"],
            pem=rec["pem"],
            anchor=rec["anchor"],
            partner=rec["partner"],
            imported_at=when("imported_at"),
            status=CertificateStatus(rec["status"]),
        )

    def binding_bytes(self) -> bytes:
        return canonical_bytes({"type": "certificate", **self.to_record()})

    def superseded(self) -> CertificateRecord:
        return replace(self, status=CertificateStatus.SUPERSEDED)
