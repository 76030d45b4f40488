"""The demo workstation's people (kept apart from the demo machinery, so that the demo
panel of the GUI can name them without loading the card tools)."""

from __future__ import annotations

from dataclasses import dataclass

from workstation.domain.people import Role

DEMO_PIN = "123456"


@dataclass(frozen=True)
class DemoPerson:
    slug: str
    name: str
    roles: tuple[Role, ...]


CAST: tuple[DemoPerson, ...] = (
    DemoPerson("olivia", "Olivia Grant", (Role.SECURITY_OFFICER,)),
    DemoPerson("oscar", "Oscar Lindqvist", (Role.SECURITY_OFFICER,)),
    DemoPerson("cara", "Cara Mendes", (Role.KEY_CUSTODIAN,)),
    DemoPerson("carl", "Carl Novak", (Role.KEY_CUSTODIAN,)),
    DemoPerson("chen", "Chen Wei", (Role.KEY_CUSTODIAN,)),
    DemoPerson("sam", "Sam Okafor", (Role.SUPERVISOR,)),
    DemoPerson("alex", "Alex Moreau", (Role.AUDITOR,)),
)
CUSTODIAN_GROUP = "custodians A"

__all__ = ["CAST", "CUSTODIAN_GROUP", "DEMO_PIN", "DemoPerson"]
