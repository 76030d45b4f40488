"""The domain and the services import no GUI, no device library and no adapter."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "workstation"
FORBIDDEN = (
    "PySide6",
    "pkcs11",
    "smartcard",
    "reportlab",
    "psycopg",
    "sqlite3",
    "workstation.adapters",
    "workstation.gui",
    "workstation.devtools",
    "workstation.bootstrap",
    "workstation.cli",
)


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("layer", ["domain", "services", "flows"])
def test_core_layers_stay_pure(layer):
    files = sorted((SRC / layer).rglob("*.py"))
    assert files, f"no files in {layer}"
    offences = [
        f"{f.relative_to(SRC)} imports {name}"
        for f in files
        for name in imported_modules(f)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
    ]
    assert offences == []


def test_standalone_verifier_depends_only_on_stdlib_and_cryptography():
    import sys

    path = SRC / "standalone" / "audit_verify.py"
    allowed = set(sys.stdlib_module_names) | {"cryptography", "__future__"}
    bad = [n for n in imported_modules(path) if n.split(".")[0] not in allowed]
    assert bad == []


def test_demo_panel_reader_prefix_matches_pcscd():
    from workstation.devtools.pcscd import READER_PREFIX
    from workstation.gui import demo_panel

    assert demo_panel.READER_PREFIX == READER_PREFIX


def test_standards_package_stands_alone():
    """``workstation.standards`` is a library of its own: stdlib, cryptography, asn1crypto."""
    import sys

    allowed = set(sys.stdlib_module_names) | {"cryptography", "asn1crypto", "__future__"}
    files = sorted((SRC / "standards").rglob("*.py"))
    assert files
    bad = [
        f"{f.relative_to(SRC)} imports {name}"
        for f in files
        for name in imported_modules(f)
        if name.split(".")[0] not in allowed and not name.startswith("workstation.standards")
    ]
    assert bad == []


def test_the_agent_is_a_program_of_its_own():
    """``workstation.agent`` (the key agent beside an application) uses the standards, the
    SoftHSM2 provisioning and PKCS#11, never the workstation's services or user interfaces."""
    forbidden = (
        "workstation.services",
        "workstation.domain",
        "workstation.gui",
        "workstation.bootstrap",
        "workstation.cli",
        "workstation.flows",
        "workstation.devtools",
        "PySide6",
    )
    files = sorted((SRC / "agent").rglob("*.py"))
    assert files
    offences = [
        f"{f.relative_to(SRC)} imports {name}"
        for f in files
        for name in imported_modules(f)
        if any(name == bad or name.startswith(bad + ".") for bad in forbidden)
    ]
    assert offences == []
