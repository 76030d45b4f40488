"""The workstation's use cases in one object, as the CLI and the GUI see them."""

from __future__ import annotations

from workstation.services.admin import PolicyService, TemplateService
from workstation.services.audit import AuditService
from workstation.services.context import ServiceContext
from workstation.services.initialise import InitialiseService
from workstation.services.keys import KeyService
from workstation.services.logon import LogonService
from workstation.services.people import PeopleService


class WorkstationServices:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.init = InitialiseService(ctx)
        self.logon = LogonService(ctx)
        self.people = PeopleService(ctx)
        self.policies = PolicyService(ctx)
        self.templates = TemplateService(ctx)
        self.keys = KeyService(ctx)
        self.audit = AuditService(ctx)

    def close(self) -> None:
        try:
            self.ctx.repository.close()
        finally:
            self.ctx.hsm.close()
