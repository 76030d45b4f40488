"""The workstation's use cases in one object, as the CLI and the GUI see them.

Each service is made on first use, so that a window or a command opens without loading
what it does not need (the desktop application must open its logon window fast)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from workstation.services.context import ServiceContext
from workstation.services.logon import LogonService

if TYPE_CHECKING:
    from workstation.services.admin import PolicyService, TemplateService
    from workstation.services.audit import AuditService
    from workstation.services.ceremonies import CeremonyService
    from workstation.services.certificates import CertificateService
    from workstation.services.distribution import DistributionService
    from workstation.services.emv import EmvService
    from workstation.services.endpoints import EndpointService
    from workstation.services.expiry import ExpiryService
    from workstation.services.initialise import InitialiseService
    from workstation.services.interchange import InterchangeService
    from workstation.services.keys import KeyService
    from workstation.services.people import PeopleService
    from workstation.services.recovery import RecoveryService
    from workstation.services.rkl import RklService


class WorkstationServices:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.logon = LogonService(ctx)

    @cached_property
    def init(self) -> InitialiseService:
        from workstation.services.initialise import InitialiseService

        return InitialiseService(self.ctx)

    @cached_property
    def people(self) -> PeopleService:
        from workstation.services.people import PeopleService

        return PeopleService(self.ctx)

    @cached_property
    def policies(self) -> PolicyService:
        from workstation.services.admin import PolicyService

        return PolicyService(self.ctx)

    @cached_property
    def templates(self) -> TemplateService:
        from workstation.services.admin import TemplateService

        return TemplateService(self.ctx)

    @cached_property
    def keys(self) -> KeyService:
        from workstation.services.keys import KeyService

        return KeyService(self.ctx)

    @cached_property
    def audit(self) -> AuditService:
        from workstation.services.audit import AuditService

        return AuditService(self.ctx)

    @cached_property
    def ceremonies(self) -> CeremonyService:
        from workstation.services.ceremonies import CeremonyService

        return CeremonyService(
            self.ctx, renderer=self.ctx.renderer, print_queue=self.ctx.print_queue
        )

    @cached_property
    def recovery(self) -> RecoveryService:
        from workstation.services.recovery import RecoveryService

        return RecoveryService(self.ctx)

    @cached_property
    def interchange(self) -> InterchangeService:
        from workstation.services.interchange import InterchangeService

        return InterchangeService(self.ctx, self.keys)

    @cached_property
    def certificates(self) -> CertificateService:
        from workstation.services.certificates import CertificateService

        return CertificateService(self.ctx, self.keys, self.interchange)

    @cached_property
    def emv(self) -> EmvService:
        from workstation.services.emv import EmvService

        return EmvService(self.ctx, self.keys, self.interchange)

    @cached_property
    def rkl(self) -> RklService:
        from workstation.services.rkl import RklService

        return RklService(self.ctx, self.keys, self.certificates, self.interchange)

    @cached_property
    def endpoints(self) -> EndpointService:
        from workstation.services.endpoints import EndpointService

        return EndpointService(self.ctx, self.keys)

    @cached_property
    def expiry(self) -> ExpiryService:
        from workstation.services.expiry import ExpiryService

        # Everything that falls due: keys and certificates (built in), TLS endpoints, EMV
        # issuer certificates and brand CA keys.
        return ExpiryService(self.ctx, sources=[self.endpoints.due_items, self.emv.due_items])

    @cached_property
    def distribution(self) -> DistributionService:
        from workstation.services.distribution import DistributionService

        return DistributionService(self.ctx, self.keys, self.interchange)

    def close(self) -> None:
        try:
            self.ctx.repository.close()
        finally:
            self.ctx.hsm.close()
