"""UI-agnostic flows: which step comes next, what each step needs, and what is wrong with
the input of a step, in words. Plain Python with no Qt, tested without a GUI; the Qt
wizards only render the steps (``workstation.gui.wizards``) and the CLI may drive the
same flows. Services are reached only through callables passed in, so a flow never
decides policy: it checks input early and the service checks everything again.
"""

from workstation.flows.wizards import (
    EnrolForm,
    FieldErrors,
    FlowError,
    GenerateKeyFlow,
    GenerateStep,
    GroupForm,
    PolicyForm,
    RotateFlow,
    RotateStep,
    StateChangeFlow,
    StateChangeStep,
    StepInfo,
    TemplateForm,
    describe_period,
    quorum_text,
    requirement_lines,
)

__all__ = [
    "EnrolForm",
    "FieldErrors",
    "FlowError",
    "GenerateKeyFlow",
    "GenerateStep",
    "GroupForm",
    "PolicyForm",
    "RotateFlow",
    "RotateStep",
    "StateChangeFlow",
    "StateChangeStep",
    "StepInfo",
    "TemplateForm",
    "describe_period",
    "quorum_text",
    "requirement_lines",
]
