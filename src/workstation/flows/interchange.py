"""Exchanges with partners as plain Python: the wizards that send and receive keys by the
payment standards, and the forms of the Exchanges page.

Each wizard is a flow over named steps, as in :mod:`workstation.flows.wizards`: a
``validate_*`` method says what is wrong with a step's input, in words, by field; the
matching ``set_*``/``choose_*`` method stores accepted input (or raises
:class:`~workstation.flows.wizards.FlowError`); ``advance()`` and ``back()`` move between
steps. The interchange service is reached only through callables passed in (the service
with the session bound), so the Qt wizards run them on the device thread and the tests
pass fakes. The service checks every rule again when the work runs (the quorum, the key's
exportability and state, the KEK, the certificates, the check value): a flow only catches
input mistakes early, next to the field that holds them.

- :class:`ExportTr31Flow`: a key as a TR-31 / ANSI X9.143 key block under a KEK.
- :class:`ImportTr31Flow`: a key block read (header, templates), then stored pre-active.
- :class:`Tr34Flow`: TR-34 import (one- or two-pass) and export.
- :class:`EcdhFlow`: a TR-31 block under a KEK derived by ECDH, either way.
- :class:`LegacyImportFlow`: a key encrypted under a zone master key without a key block.
- :class:`DukptExportFlow`: DUKPT initial keys of a list of devices.
- :class:`DukptTestFlow`: the DUKPT test tool, on test keys only.
- :class:`PartnerForm`, :class:`PartnerUpdateForm`, :class:`PublishForm`: the page's dialogs.

No clear key passes through these flows: what they hold is labels, public certificates,
key blocks and tokens (encrypted), check values and file names. The one exception is the
DUKPT test tool's result, which shows the keys of a *test* BDK by design.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from workstation.domain.algorithms import KeyAlgorithm, KeyFamily
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.partners import PARTNER_KINDS, Partner, check_partner_name
from workstation.domain.policy import Action
from workstation.domain.templates import (
    EXPORTABILITY,
    KEY_USAGES,
    MODES_OF_USE,
    KeyTemplate,
    TemplateStatus,
)
from workstation.errors import BadInput
from workstation.flows.ceremonies import validate_label
from workstation.flows.wizards import (
    FieldErrors,
    FlowError,
    QuorumShown,
    StepInfo,
    _Flow,
)
from workstation.services.interchange import (
    BDK_USAGES,
    ECDH_KEYS,
    KEK_USAGES,
    MAX_DUKPT_DEVICES,
    TR34_KDH,
    TR34_KRD,
    DukptExport,
    DukptTestKeys,
    ExchangeIdentity,
    ExportedKey,
    ImportedKey,
    KeyBlockInfo,
)
from workstation.services.logon import Requirement
from workstation.standards import ecdh, legacy, tr31, tr34

__all__ = [
    "CURVES",
    "EDITIONS",
    "EXCHANGE_KEYS",
    "HASHES",
    "KDFS",
    "KEK_ALGORITHMS",
    "KEYS_LISTED",
    "MAX_FILE_BYTES",
    "TR31_VERSIONS",
    "Direction",
    "DukptExportFlow",
    "DukptExportStep",
    "DukptTestFlow",
    "DukptTestStep",
    "EcdhFlow",
    "EcdhStep",
    "ExchangeData",
    "ExportTr31Flow",
    "ImportTr31Flow",
    "KsnSource",
    "LegacyImportFlow",
    "LegacyStep",
    "LoadedFile",
    "PartnerForm",
    "PartnerUpdateForm",
    "PublishForm",
    "Tr31ExportStep",
    "Tr31ImportStep",
    "Tr34Flow",
    "Tr34Step",
    "bdk_refusal",
    "certificate_curve",
    "check_hex",
    "check_kcv",
    "export_refusal",
    "kek_refusal",
    "key_line",
    "ksn_lines",
    "ksn_problem",
    "legacy_warning",
    "normalise_block",
    "read_file",
    "strength_refusal",
    "version_refusal",
]

MAX_FILE_BYTES = 1 << 20  # a certificate, CRL, token or key block file; anything larger is not one
KEYS_LISTED = 5000  # candidates read for a wizard's key lists

# TR-31 versions a wizard offers, and the KEK family each needs (ANSI X9.143:2021 Table 1:
# A, B and C bind with a TDES KBPK, D with an AES KBPK). E is ISO 20038 only: not offered.
TR31_VERSIONS: Mapping[str, str] = {
    "A": "A — TDES key variant binding (TR-31:2005; deprecated)",
    "B": "B — TDES key derivation binding",
    "C": "C — TDES key variant binding (TR-31:2010)",
    "D": "D — AES key derivation binding",
}
_VERSION_FAMILY: Mapping[str, KeyFamily] = {
    "A": KeyFamily.TDES,
    "B": KeyFamily.TDES,
    "C": KeyFamily.TDES,
    "D": KeyFamily.AES,
    "E": KeyFamily.AES,
}

# Security strength in bits (NIST SP 800-57 Part 1 Rev. 5, Table 2): a KEK protects only
# keys no stronger than itself (ANSI X9.143, PCI PIN Security Requirement 18-3).
_STRENGTH: Mapping[KeyAlgorithm, int] = {
    KeyAlgorithm.TDES_2KEY: 80,
    KeyAlgorithm.TDES_3KEY: 112,
    KeyAlgorithm.AES_128: 128,
    KeyAlgorithm.AES_192: 192,
    KeyAlgorithm.AES_256: 256,
}

EDITIONS: Mapping[str, str] = {
    "2019": "ASC X9 TR-34-2019 (current)",
    "2012": "ASC X9 TR-34-2012 (for partners not yet on 2019)",
}
CURVES: tuple[str, ...] = tuple(ECDH_KEYS)
KDFS: Mapping[str, str] = {
    "NIST_SP800": "NIST SP 800-56C concatenation (one-step) KDF",
    "ANSI_X963": "ANSI X9.63 KDF",
}
HASHES: tuple[str, ...] = tuple(ecdh.HASHES)
KEK_ALGORITHMS: tuple[str, ...] = tuple(ecdh.KEY_ALGORITHMS)
EXCHANGE_KEYS: Mapping[str, str] = {
    TR34_KRD: "TR-34 receiving: partners send keys to it",
    TR34_KDH: "TR-34 sending: signs the keys sent",
    **{name: f"ECDH key agreement on {curve}" for curve, name in ECDH_KEYS.items()},
}

_HEX = set("0123456789ABCDEF")
_CHOOSE_KEK = "Choose the key encryption key shared with the partner."


# --- shared wording and checks -------------------------------------------------------------


def _state(key: ManagedKey) -> str:
    if key.state is KeyState.PRE_ACTIVATION:
        return "pre-active"
    return key.state.value.replace("_", " ")


def key_line(key: ManagedKey) -> str:
    """How a key appears in a wizard's list.

    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> key_line(ManagedKey("k", "ZMK-0001", "t", KeyAlgorithm.AES_256, "K0", "B", "E",
    ...     "0A1B2C", b"w", None, KeyState.ACTIVE, 1, t, t, t))
    'ZMK-0001 — AES-256, usage K0, KCV 0A1B2C, active'
    """
    text = (
        f"{key.label} — {key.algorithm.value}, usage {key.key_usage}, KCV {key.kcv}, {_state(key)}"
    )
    return text + (", TEST KEY" if key.test_key else "")


def _coded(code: str, table: Mapping[str, str]) -> str:
    meaning = table.get(code)
    return f"{code} — {meaning}" if meaning else code


def export_refusal(key: ManagedKey, template: KeyTemplate | None) -> str | None:
    """Why ``key`` cannot be exported (the service's rules), or None."""
    if not key.algorithm.is_symmetric:
        return f"Key {key.label} is a key pair; these formats carry secret keys."
    if template is None:
        return f"The template of key {key.label} is missing; it cannot be exported."
    if (
        key.exportability == "N"
        or not template.exportable
        or not template.allows(Action.EXPORT_KEY)
    ):
        return (
            f"Key {key.label} is not exportable (template {template.name!r}, exportability "
            f"{key.exportability})."
        )
    if key.state not in (KeyState.PRE_ACTIVATION, KeyState.ACTIVE):
        return f"Key {key.label} is {_state(key)}; only a pre-active or active key is exported."
    if key.wrapped is None:
        return f"Key {key.label} holds no key material."
    return None


def kek_refusal(
    key: ManagedKey, usages: Sequence[str] = KEK_USAGES, what: str = "key encryption key"
) -> str | None:
    """Why ``key`` cannot protect an exchange as a KEK (or BDK), or None."""
    if not key.algorithm.is_symmetric or key.key_usage not in usages:
        return (
            f"Key {key.label} (usage {key.key_usage}) is not a {what} (TR-31 key usage "
            f"{' or '.join(usages)})."
        )
    if key.state is not KeyState.ACTIVE:
        return (
            f"{what[0].upper() + what[1:]} {key.label} is {_state(key)}; only an active key "
            "can be used."
        )
    if key.wrapped is None:
        return f"Key {key.label} holds no key material."
    return None


def bdk_refusal(key: ManagedKey) -> str | None:
    """Why ``key`` cannot derive DUKPT keys, or None."""
    return kek_refusal(key, BDK_USAGES, "base derivation key")


def strength_refusal(key: ManagedKey, kek: ManagedKey) -> str | None:
    """A KEK weaker than the key it would carry (ANSI X9.143; PCI PIN 18-3), or None.

    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> aes = ManagedKey("a", "PEK-1", "t", KeyAlgorithm.AES_128, "P0", "E", "E", "AAAAAA",
    ...     b"w", None, KeyState.ACTIVE, 1, t, t, t)
    >>> tdes = ManagedKey("b", "ZMK-1", "t", KeyAlgorithm.TDES_2KEY, "K0", "B", "E",
    ...     "BBBBBB", b"w", None, KeyState.ACTIVE, 1, t, t, t)
    >>> print(strength_refusal(aes, tdes))  # doctest: +ELLIPSIS
    KEK ZMK-1 (TDES-2KEY, 80-bit strength) is weaker than key PEK-1 (AES-128, ...
    """
    mine, theirs = _STRENGTH.get(key.algorithm), _STRENGTH.get(kek.algorithm)
    if mine is None or theirs is None or theirs >= mine:
        return None
    return (
        f"KEK {kek.label} ({kek.algorithm.value}, {theirs}-bit strength) is weaker than key "
        f"{key.label} ({key.algorithm.value}, {mine}-bit strength): a key travels only under "
        "a KEK at least as strong (ANSI X9.143, PCI PIN 18-3)."
    )


def version_refusal(version: str, kek: ManagedKey) -> str | None:
    """A TR-31 version that cannot be made or read with ``kek``'s algorithm, or None.

    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> kek = ManagedKey("b", "ZMK-1", "t", KeyAlgorithm.TDES_2KEY, "K0", "B", "E",
    ...     "BBBBBB", b"w", None, KeyState.ACTIVE, 1, t, t, t)
    >>> print(version_refusal("D", kek))
    TR-31 version D is bound with an AES KEK; ZMK-1 is TDES-2KEY (versions A, B, C).
    """
    family = _VERSION_FAMILY.get(version)
    if family is None:
        return f"TR-31 version {version!r} is not one of A, B, C, D."
    if family is kek.algorithm.family:
        return None
    fits = [v for v, f in _VERSION_FAMILY.items() if f is kek.algorithm.family and v != "E"]
    return (
        f"TR-31 version {version} is bound with an {family.value} KEK; {kek.label} is "
        f"{kek.algorithm.value} (version{'s' if len(fits) > 1 else ''} {', '.join(fits)})."
    )


def check_hex(text: str, what: str) -> tuple[bytes | None, str | None]:
    """(bytes, None) for hexadecimal ``text`` (spaces allowed), else (None, the problem).

    >>> check_hex("00 11 aa", "Shared information")
    (b'\\x00\\x11\\xaa', None)
    >>> check_hex("0G", "Shared information")[1]
    "Shared information contains 'G' at position 2, which is not a hex digit."
    >>> check_hex("ABC", "Shared information")[1]
    'Shared information has 3 hex digits; give whole bytes (an even number of digits).'
    """
    digits = 0
    for position, char in enumerate(text, 1):
        if char in " \t":
            continue
        if char.upper() not in _HEX:
            return None, (
                f"{what} contains {char!r} at position {position}, which is not a hex digit."
            )
        digits += 1
    if digits % 2:
        return None, (
            f"{what} has {digits} hex digits; give whole bytes (an even number of digits)."
        )
    return bytes.fromhex("".join(text.split())), None


def check_kcv(text: str, *, required: bool = True) -> str | None:
    """The sender's check value as typed: 2 to 16 bytes of hex (4 to 32 digits), as the
    service reads it.

    >>> print(check_kcv(""))
    Type the check value the partner gave you by another channel (e.g. 0A1B2C).
    >>> print(check_kcv("0A1B"))
    None
    >>> print(check_kcv("0A1"))
    The check value 0A1 is not 2 to 16 bytes of hexadecimal (4 to 32 digits, e.g. 0A1B2C).
    """
    norm = "".join(text.split()).upper()
    if not norm:
        if required:
            return "Type the check value the partner gave you by another channel (e.g. 0A1B2C)."
        return None
    if not 4 <= len(norm) <= 32 or len(norm) % 2 or any(c not in _HEX for c in norm):
        return (
            f"The check value {text.strip()} is not 2 to 16 bytes of hexadecimal (4 to 32 "
            "digits, e.g. 0A1B2C)."
        )
    return None


def normalise_block(text: str) -> str:
    """A pasted key block on one line: surrounding space gone, lines an e-mail client
    broke joined again (a key block holds no line breaks; its MAC catches any other change).

    >>> normalise_block("  D0112P0AE00E0000\\n  B826791 \\n")
    'D0112P0AE00E0000B826791'
    """
    return "".join(line.strip() for line in text.splitlines())


def _optional_block(block_id: str, value: str) -> str:
    """An optional block's value and what it is (ANSI X9.143:2021 Table 7).

    >>> _optional_block("KC", "016BFFC3D2F4")
    '016BFFC3D2F4 — key check value of the wrapped key (CMAC: 6BFFC3D2F4)'
    """
    meaning = tr31.OPTIONAL_BLOCKS.get(block_id)
    if meaning is None:
        return value
    text = f"{value} — {meaning[0].lower()}{meaning[1:]}"
    if block_id in ("KC", "KP", "PK") and len(value) > 2 and value[:2] in ("00", "01"):
        # X9.143 6.3.6.7: the first two digits say how the check value was computed.
        method = "legacy, TDES-ECB of zeros" if value[:2] == "00" else "CMAC"
        text += f" ({method}: {value[2:]})"
    return text


def _validate_block_text(text: str) -> FieldErrors:
    block = normalise_block(text)
    if not block:
        return {"block": "Paste the key block, or load it from a file."}
    if any(not 0x20 <= ord(c) <= 0x7E for c in block):
        return {"block": "A key block is printable ASCII text; this one holds other characters."}
    if len(block) < 16:
        return {"block": f"A key block starts with a 16-character header; this has {len(block)}."}
    return {}


def _file_problem(data: bytes, what: str) -> str | None:
    if not data:
        return f"The {what} file is empty."
    if len(data) > MAX_FILE_BYTES:
        return f"The {what} file is {len(data):,} bytes; a {what} is far smaller."
    return None


def _scheme(algorithm: KeyAlgorithm) -> str:
    return "AES" if algorithm.family is KeyFamily.AES else "TDES"


def ksn_problem(scheme: str, text: str, line: int) -> str | None:
    """What is wrong with a device's initial KSN (the rules the service applies), or None.

    TDES (ANSI X9.24-1:2009): 20 hex digits, the rightmost 21 bits (the transaction counter)
    zero. AES (ANSI X9.24-3:2017): 24 hex digits with a zero 32-bit counter, or the 16-digit
    initial key ID.

    >>> print(ksn_problem("TDES", "FFFF9876543210E00001", 1))  # doctest: +ELLIPSIS
    KSN 1 (FFFF9876543210E00001) has a transaction counter; an initial key is derived ...
    >>> print(ksn_problem("AES", "1234567890123456", 2))
    None
    """
    norm = "".join(text.split()).upper()
    want = (24, 16) if scheme == "AES" else (20,)
    if len(norm) not in want or any(c not in _HEX for c in norm):
        lengths = " or ".join(str(n) for n in want)
        return (
            f"KSN {line} ({text.strip()!r}) is not {lengths} hexadecimal digits (an {scheme} "
            "DUKPT KSN)."
        )
    raw = bytes.fromhex(norm)
    counter = (
        int.from_bytes(raw[8:], "big") if scheme == "AES" else int.from_bytes(raw[-3:]) & 0x1FFFFF
    )
    if counter:
        return (
            f"KSN {line} ({norm}) has a transaction counter; an initial key is derived from a "
            "KSN whose counter is 0."
        )
    return None


def ksn_lines(text: str) -> list[str]:
    """The KSNs of a pasted or loaded list: one a line; blank lines and ``#`` comments
    skipped, as the command line reads a KSN file.

    >>> ksn_lines("# lab terminals\\nFFFF9876543210E00000\\n\\n FFFF9876543210E00200 \\n")
    ['FFFF9876543210E00000', 'FFFF9876543210E00200']
    """
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _initial_key_id(scheme: str, ksn: str) -> str:
    """What names a device, as the service counts them: AES, the 16-digit initial key ID;
    TDES, the whole initial KSN (its counter is zero)."""
    norm = "".join(ksn.split()).upper()
    return norm[:16] if scheme == "AES" else norm


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "key"


def _quorum_rows(requirement: Requirement | None) -> list[tuple[str, str]]:
    if requirement is None:
        return []
    return [("Quorum", requirement.quorum)]


@dataclass(frozen=True)
class ExchangeData:
    """What the exchange wizards choose from, read in one go when a wizard opens: the
    partners, the candidate keys (pre-active and active ones), the templates and the
    workstation's exchange certificates."""

    partners: tuple[Partner, ...] = ()
    keys: tuple[ManagedKey, ...] = ()
    templates: tuple[KeyTemplate, ...] = ()
    identity: ExchangeIdentity | None = None
    truncated: bool = False  # more keys than were read

    def partner(self, name: str | None) -> Partner | None:
        wanted = (name or "").strip().casefold()
        return next((p for p in self.partners if p.name.casefold() == wanted), None)

    def key(self, label: str | None) -> ManagedKey | None:
        wanted = (label or "").strip()
        return next((k for k in self.keys if k.label == wanted), None)

    def template_of(self, key: ManagedKey) -> KeyTemplate | None:
        return next((t for t in self.templates if t.id == key.template_id), None)

    def template(self, name: str | None) -> KeyTemplate | None:
        wanted = (name or "").strip().casefold()
        return next((t for t in self.templates if t.name.casefold() == wanted), None)

    def has_certificate(self, name: str) -> bool:
        return self.identity is not None and name in self.identity.certificates

    @property
    def partner_names(self) -> list[str]:
        return sorted((p.name for p in self.partners), key=str.casefold)


def _sorted(keys: Iterable[ManagedKey]) -> list[ManagedKey]:
    return sorted(keys, key=lambda k: k.label.casefold())


def _partner_errors(data: ExchangeData, name: str | None, *, krd: bool = False) -> FieldErrors:
    if not (name or "").strip():
        if not data.partners:
            return {
                "partner": "There is no exchange partner yet: add one on the Exchanges page "
                "(Add partner…)."
            }
        return {"partner": "Choose the partner the key goes to or comes from."}
    partner = data.partner(name)
    if partner is None:
        return {"partner": f"No exchange partner named {name!r}; add it first."}
    if krd and partner.krd_certificate is None:
        return {
            "partner": f"Partner {partner.name} has no KRD certificate: add it with Update… "
            "on the Exchanges page."
        }
    return {}


def _own_certificate_error(data: ExchangeData, name: str) -> str | None:
    if data.identity is None or data.has_certificate(name):
        return None
    return (
        f"The workstation has no {name} certificate yet: publish it on the Exchanges page "
        "(Publish certificate…) and send it to the partner first."
    )


class _ExchangeFlow(_Flow[Any], QuorumShown):
    """What every exchange wizard shares: the data it chooses from, the quorum it shows."""

    def __init__(self, first: Any, data: ExchangeData | None = None) -> None:
        super().__init__(first)
        self.data = data or ExchangeData()
        self.requirement: Requirement | None = None

    def load(self, data: ExchangeData) -> None:
        self.data = data

    def finish(self, result_step: Any) -> None:
        """Go to the result step (the work is done)."""
        while self.step is not result_step:
            following = self.next_step()
            if following is None:
                break
            self._history.append(self.step)
            self.step = following

    def exportable_keys(self) -> list[ManagedKey]:
        return _sorted(
            k for k in self.data.keys if export_refusal(k, self.data.template_of(k)) is None
        )

    def keks(self) -> list[ManagedKey]:
        return _sorted(k for k in self.data.keys if kek_refusal(k) is None)

    def exportabilities(self, key_label: str | None) -> list[tuple[str | None, str]]:
        return _exportability_choices(self.data.key(key_label))

    def _export_key_errors(self, label: str | None) -> FieldErrors:
        if not (label or "").strip():
            return {"key": "Choose the key to export."}
        key = self.data.key(label)
        if key is None:
            return {"key": f"No pre-active or active key labelled {label!r}."}
        problem = export_refusal(key, self.data.template_of(key))
        return {"key": problem} if problem else {}

    def _chosen_key(
        self, label: str | None, *, missing: str, refusal: Callable[[ManagedKey], str | None]
    ) -> tuple[ManagedKey | None, str | None]:
        """An active key chosen from a list by its label, and why it cannot serve: none
        chosen (``missing``), no such key, or what ``refusal`` says of it. The key is
        given even when refused, as later checks (strength, length) still read it."""
        if not (label or "").strip():
            return None, missing
        key = self.data.key(label)
        if key is None:
            return None, f"No active key labelled {label!r}."
        return key, refusal(key)

    def _forget_quorum_if_template_changes(
        self, old: ManagedKey | None, new: ManagedKey | None
    ) -> None:
        """A key of another template may need another quorum: the one read is forgotten."""
        if old is None or new is None or new.template_id != old.template_id:
            self.requirement = None

    def _check(self, *steps: Any) -> None:
        """Raise FlowError for the first of ``steps`` whose stored input is wrong: the
        service is called only with input every step accepted."""
        for step in steps:
            errors = self.errors(step)
            if errors:
                raise FlowError(errors)


def _step(title: str, subtitle: str, *needs: str) -> StepInfo:
    return StepInfo(title, subtitle, tuple(needs))


def _exportability_choices(key: ManagedKey | None) -> list[tuple[str | None, str]]:
    """What a key block may say about exporting the key: the key's own value, or narrower
    (E → N; S → E or N). Never wider than the key itself."""
    if key is None:
        return [(None, "as the key says")]
    narrower = {"E": ("N",), "S": ("E", "N"), "N": ()}.get(key.exportability, ())
    return [(None, f"as the key says: {_coded(key.exportability, EXPORTABILITY)}")] + [
        (code, _coded(code, EXPORTABILITY)) for code in narrower
    ]


def _exportability_error(key: ManagedKey | None, exportability: str | None) -> FieldErrors:
    if exportability is None or key is None:
        return {}
    allowed = [c for c, _ in _exportability_choices(key) if c is not None]
    if exportability not in allowed:
        return {
            "exportability": f"Key {key.label} is {_coded(key.exportability, EXPORTABILITY)}; "
            "the block may say the same or narrower, not "
            f"{exportability}."
        }
    return {}


def _exported_rows(result: ExportedKey) -> list[tuple[str, str]]:
    rows = [
        ("Key", result.key_label),
        ("Key check value", result.key_kcv),
        ("Protected by", result.wrapping_label),
    ]
    if result.wrapping_kcv:
        rows.append(("KEK check value", result.wrapping_kcv))
    rows += [("Format", result.format), ("Partner", result.partner)]
    if result.header:
        rows.append(("Header", result.header))
    return rows


def _imported_rows(result: ImportedKey) -> list[tuple[str, str]]:
    k = result.key
    rows = [
        ("Label", k.label),
        ("Key check value", k.kcv),
        ("State", f"{_state(k)}: activate it under its quorum once its check value is confirmed"),
        ("Algorithm", k.algorithm.value),
        ("TR-31", f"usage {k.key_usage}, mode {k.mode_of_use}, export {k.exportability}"),
        ("Template", result.template),
        ("Partner", result.partner),
        ("Format", result.format),
    ]
    if result.wrapping_kcv:
        rows.append(("KEK check value", result.wrapping_kcv))
    return rows


def _imported_summary(result: ImportedKey) -> str:
    k = result.key
    return (
        f"Key {k.label} (KCV {k.kcv}) was received from {result.partner} as {result.format} "
        f"and stored {_state(k)}. Nobody can use it until it is activated under its quorum."
    )


def _export_reminder(result: ExportedKey) -> str:
    return (
        f"Tell {result.partner} the key's check value {result.key_kcv} by another channel "
        "(telephone, signed letter), never with the key block or token itself."
    )


# --- TR-31 export ----------------------------------------------------------------------------


class Tr31ExportStep(StrEnum):
    CHOOSE = "choose"
    REVIEW = "review"
    EXPORT = "export"
    RESULT = "result"


class ExportTr31(Protocol):
    """``InterchangeService.export_tr31`` with the session bound."""

    def __call__(
        self,
        key_ref: str,
        kek_ref: str,
        *,
        partner: str,
        version: str | None,
        exportability: str | None,
    ) -> ExportedKey: ...


class ExportTr31Flow(_ExchangeFlow):
    """A key as a TR-31 key block under a KEK the partner shares."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        Tr31ExportStep.CHOOSE: _step(
            "The key, the KEK and the partner",
            "Only a pre-active or active secret key that its template lets leave can be "
            "exported, under an active KEK (TR-31 usage K0 or K1) shared with the partner.",
            "partner",
            "key",
            "kek",
            "version",
            "exportability",
        ),
        Tr31ExportStep.REVIEW: _step(
            "Review and export",
            "The export needs the quorum of the key's template. Missing people are asked for "
            "their cards when you press Export.",
            "requirement",
        ),
        Tr31ExportStep.EXPORT: _step("Exporting", "The key is wrapped under the KEK.", "result"),
        Tr31ExportStep.RESULT: _step(
            "Key block made",
            "Save the key block and send it to the partner; the check values go by another "
            "channel.",
        ),
    }

    def __init__(self, data: ExchangeData | None = None) -> None:
        super().__init__(Tr31ExportStep.CHOOSE, data)
        self.partner: str | None = None
        self.key: ManagedKey | None = None
        self.kek: ManagedKey | None = None
        self.version: str | None = None
        self.exportability: str | None = None
        self.result: ExportedKey | None = None

    @staticmethod
    def default_version(kek: ManagedKey | None) -> str | None:
        """X9.143: version D for an AES KEK; B (derivation binding) for a TDES one."""
        if kek is None:
            return None
        return "D" if kek.algorithm.family is KeyFamily.AES else "B"

    def versions(self, kek_label: str | None) -> list[tuple[str, str]]:
        """The versions the KEK can bind (all four before a KEK is chosen)."""
        kek = self.data.key(kek_label)
        return [
            (code, text)
            for code, text in TR31_VERSIONS.items()
            if kek is None or _VERSION_FAMILY[code] is kek.algorithm.family
        ]

    def validate_choice(
        self,
        *,
        partner: str | None,
        key: str | None,
        kek: str | None,
        version: str | None,
        exportability: str | None,
    ) -> FieldErrors:
        errors = _partner_errors(self.data, partner)
        errors.update(self._export_key_errors(key))
        the_key = self.data.key(key)
        the_kek, problem = self._chosen_key(kek, missing=_CHOOSE_KEK, refusal=kek_refusal)
        if problem is None and the_kek is not None and the_key is not None:
            if the_key.id == the_kek.id:
                problem = "A key cannot be exported under itself."
            else:
                problem = strength_refusal(the_key, the_kek)
        if problem:
            errors["kek"] = problem
        if version is not None and the_kek is not None and "kek" not in errors:
            problem = version_refusal(version, the_kek)
            if problem:
                errors["version"] = problem
        errors.update(_exportability_error(the_key, exportability))
        return errors

    def choose(
        self,
        *,
        partner: str | None,
        key: str | None,
        kek: str | None,
        version: str | None,
        exportability: str | None,
    ) -> None:
        values = {
            "partner": partner,
            "key": key,
            "kek": kek,
            "version": version,
            "exportability": exportability,
        }
        errors = self.validate_choice(**values)
        if errors:
            raise FlowError(errors)
        the_partner = self.data.partner(partner)
        assert the_partner is not None
        new_key = self.data.key(key)
        self._forget_quorum_if_template_changes(self.key, new_key)
        self.partner = the_partner.name
        self.key, self.kek = new_key, self.data.key(kek)
        self.version = version or self.default_version(self.kek)
        self.exportability = exportability

    @property
    def quorum_template(self) -> str | None:
        """The template whose export quorum applies (its id)."""
        return self.key.template_id if self.key is not None else None

    def review_rows(self) -> list[tuple[str, str]]:
        key, kek = self.key, self.kek
        if key is None or kek is None or self.version is None:
            return []
        template = self.data.template_of(key)
        exportability = self.exportability or key.exportability
        return [
            ("Partner", self.partner or ""),
            ("Key", f"{key.label} ({key.algorithm.value}, {_state(key)})"),
            ("Key check value", key.kcv),
            ("Template", template.name if template else "(missing)"),
            ("KEK", f"{kek.label} ({kek.algorithm.value}, usage {kek.key_usage})"),
            ("KEK check value", kek.kcv),
            ("Key block", f"TR-31 version {TR31_VERSIONS[self.version]}"),
            ("Exportability in the block", _coded(exportability, EXPORTABILITY)),
            ("Optional blocks", "KC and KP (the check values of the key and the KEK), TS"),
            *_quorum_rows(self.requirement),
        ]

    def summary(self) -> str:
        if self.key is None or self.kek is None:
            return ""
        return (
            f"Export key {self.key.label} (KCV {self.key.kcv}) to {self.partner} as a TR-31 "
            f"version {self.version} key block under KEK {self.kek.label} (KCV {self.kek.kcv})."
        )

    def export(self, call: ExportTr31) -> ExportedKey:
        self._check(Tr31ExportStep.CHOOSE)
        assert self.key is not None and self.kek is not None and self.partner is not None
        return call(
            self.key.label,
            self.kek.label,
            partner=self.partner,
            version=self.version,
            exportability=self.exportability,
        )

    def record_result(self, result: ExportedKey) -> None:
        self.result = result
        self.finish(Tr31ExportStep.RESULT)

    def result_rows(self) -> list[tuple[str, str]]:
        return _exported_rows(self.result) if self.result else []

    def result_summary(self) -> str:
        if self.result is None:
            return "The key has not been exported yet."
        r = self.result
        return (
            f"Key {r.key_label} was wrapped for {r.partner} as a {r.format} key block. Nothing "
            "is on disk until you save it."
        )

    def reminder(self) -> str:
        return _export_reminder(self.result) if self.result else ""

    def file_text(self) -> bytes:
        """The file to save: the key block on one line."""
        return (self.result.key_block + "\n").encode() if self.result else b""

    def file_name(self) -> str:
        if self.result is None:
            return "key-block.txt"
        return f"{_safe_name(self.result.key_label)}-{_safe_name(self.result.partner)}-tr31.txt"

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is Tr31ExportStep.CHOOSE:
            return self.validate_choice(
                partner=self.partner,
                key=self.key.label if self.key else None,
                kek=self.kek.label if self.kek else None,
                version=self.version,
                exportability=self.exportability,
            )
        if step is Tr31ExportStep.EXPORT and self.result is None:
            return {"result": "The key has not been exported yet."}
        return {}


# --- TR-31 import ----------------------------------------------------------------------------


class Tr31ImportStep(StrEnum):
    BLOCK = "block"
    HEADER = "header"
    KEK = "kek"
    IMPORT = "import"
    RESULT = "result"


class ImportTr31(Protocol):
    """``InterchangeService.import_tr31`` with the session bound."""

    def __call__(
        self,
        key_block: str,
        kek_ref: str,
        *,
        partner: str,
        template_ref: str | None,
        expected_kcv: str | None,
        label: str | None,
    ) -> ImportedKey: ...


class _ReceiveChoice:
    """The partner, the sender's check value and an optional label of a received key."""

    def __init__(self) -> None:
        self.partner: str | None = None
        self.expected_kcv = ""
        self.label: str | None = None

    @staticmethod
    def validate(data: ExchangeData, partner: str | None, kcv: str, label: str) -> FieldErrors:
        errors = _partner_errors(data, partner)
        problem = check_kcv(kcv)
        if problem:
            errors["kcv"] = problem
        errors.update(validate_label(label))
        return errors

    def set(self, data: ExchangeData, partner: str | None, kcv: str, label: str) -> None:
        errors = self.validate(data, partner, kcv, label)
        if errors:
            raise FlowError(errors)
        the_partner = data.partner(partner)
        assert the_partner is not None
        self.partner = the_partner.name
        self.expected_kcv = "".join(kcv.split()).upper()
        self.label = label.strip() or None

    def errors(self, data: ExchangeData) -> FieldErrors:
        return self.validate(data, self.partner, self.expected_kcv, self.label or "")

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("Partner", self.partner or ""),
            ("The partner's check value", self.expected_kcv),
            ("Label", self.label or "from the template's pattern"),
        ]


def _template_names(data: ExchangeData, *, import_only: bool = True) -> list[str]:
    return sorted(
        (
            t.name
            for t in data.templates
            if t.status is TemplateStatus.ACTIVE
            and t.algorithm.is_symmetric
            and (not import_only or t.allows(Action.IMPORT_KEY))
        ),
        key=str.casefold,
    )


def _optional_template_errors(data: ExchangeData, name: str | None) -> FieldErrors:
    if not (name or "").strip():
        return {}
    template = data.template(name)
    if template is None:
        return {"template": f"No template named {name!r}."}
    if template.status is not TemplateStatus.ACTIVE:
        return {"template": f"Template {template.name!r} is retired; no keys are added to it."}
    if not template.allows(Action.IMPORT_KEY):
        return {"template": f"Template {template.name!r} does not allow importing keys."}
    return {}


class _ImportFlow(_ExchangeFlow):
    """A key received one way (a TR-31 key block, a legacy key): recorded under a
    template and stored pre-active once the partner's check value agrees."""

    RESULT_STEP: ClassVar[Any]

    def __init__(self, first: Any, data: ExchangeData | None = None) -> None:
        super().__init__(first, data)
        self.template: str | None = None
        self.receive = _ReceiveChoice()
        self.result: ImportedKey | None = None

    @property
    def quorum_template(self) -> str | None:
        """The template whose import quorum applies (its name)."""
        return self.template

    def record_result(self, result: ImportedKey) -> None:
        self.result = result
        self.finish(self.RESULT_STEP)

    def result_rows(self) -> list[tuple[str, str]]:
        return _imported_rows(self.result) if self.result else []

    def result_summary(self) -> str:
        return _imported_summary(self.result) if self.result else "No key was imported yet."

    def warnings(self) -> list[str]:
        return list(self.result.warnings) if self.result else []


class ImportTr31Flow(_ImportFlow):
    """A TR-31 key block from a partner: read its header (no key needed), map it to a
    template, then unwrap it under the KEK and store the key pre-active if the partner's
    check value agrees."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        Tr31ImportStep.BLOCK: _step(
            "The key block",
            "Paste the key block the partner sent, or load it from its file. Nothing is "
            "stored until the last step.",
            "block",
        ),
        Tr31ImportStep.HEADER: _step(
            "What the header says",
            "The header is read without the KEK. The key is recorded under a template "
            "whose attributes match it.",
            "template",
        ),
        Tr31ImportStep.KEK: _step(
            "The KEK, the partner and the check value",
            "The block is unwrapped under the KEK shared with the partner. The key is "
            "stored only if it gives the check value the partner told you.",
            "partner",
            "kek",
            "kcv",
            "label",
        ),
        Tr31ImportStep.IMPORT: _step("Importing", "The key enters the HSM.", "result"),
        Tr31ImportStep.RESULT: _step(
            "Key received",
            "The key is stored pre-active: nobody can use it until it is activated under "
            "its quorum.",
        ),
    }
    RESULT_STEP = Tr31ImportStep.RESULT

    def __init__(self, data: ExchangeData | None = None) -> None:
        super().__init__(Tr31ImportStep.BLOCK, data)
        self.block = ""
        self.header_info: KeyBlockInfo | None = None
        self.kek: ManagedKey | None = None

    # the block

    def validate_block(self, text: str) -> FieldErrors:
        return _validate_block_text(text)

    def set_block(self, text: str) -> bool:
        """Keep the block; True when it is new (its header must be read again)."""
        errors = self.validate_block(text)
        if errors:
            raise FlowError(errors)
        block = normalise_block(text)
        changed = block != self.block
        if changed:
            self.block, self.header_info, self.template = block, None, None
            self.requirement = None
        return changed

    def needs_reading(self, text: str) -> bool:
        return self.header_info is None or normalise_block(text) != self.block

    def set_info(self, info: KeyBlockInfo) -> None:
        """What the service read from the header (``describe_key_block``)."""
        self.header_info = info
        self.template = info.templates[0] if len(info.templates) == 1 else None

    # the header

    def header_rows(self) -> list[tuple[str, str]]:
        i = self.header_info
        if i is None:
            return []
        rows = [
            ("Version", TR31_VERSIONS.get(i.version, i.version)),
            ("Key usage", f"{i.key_usage} — {i.key_usage_text}"),
            ("Algorithm", {"A": "A — AES", "T": "T — TDES"}.get(i.algorithm, i.algorithm)),
            ("Mode of use", _coded(i.mode_of_use, MODES_OF_USE)),
            ("Key version", i.key_version),
            ("Exportability", _coded(i.exportability, EXPORTABILITY)),
        ]
        for block_id, value in i.optional_blocks:
            rows.append((f"Optional block {block_id}", _optional_block(block_id, value)))
        return rows

    @property
    def templates(self) -> list[str]:
        return list(self.header_info.templates) if self.header_info else []

    def validate_template(self, name: str | None) -> FieldErrors:
        i = self.header_info
        if i is None:
            return {"template": "The key block's header has not been read yet."}
        if not i.templates:
            usage = KEY_USAGES.get(i.key_usage, i.key_usage_text)
            return {
                "template": f"No active template is for keys with TR-31 usage {i.key_usage} "
                f"({usage}), algorithm {i.algorithm} and mode of use {i.mode_of_use}. A "
                "security officer creates one under Administration → Templates."
            }
        if len(i.templates) > 1 and not name:
            return {
                "template": f"Several templates fit this key ({', '.join(i.templates)}): "
                "choose the one it is recorded under."
            }
        if name and name not in i.templates:
            return {"template": f"Template {name!r} does not fit this key block's header."}
        return {}

    def choose_template(self, name: str | None) -> None:
        errors = self.validate_template(name)
        if errors:
            raise FlowError(errors)
        chosen = name or self.templates[0]
        if chosen != self.template:
            self.requirement = None
        self.template = chosen

    # the KEK

    def keks(self) -> list[ManagedKey]:
        """The active KEKs that can open this version of block."""
        version = self.header_info.version if self.header_info else None
        return [k for k in super().keks() if version is None or version_refusal(version, k) is None]

    def validate_kek(
        self, *, partner: str | None, kek: str | None, kcv: str, label: str
    ) -> FieldErrors:
        errors = self.receive.validate(self.data, partner, kcv, label)
        the_kek, problem = self._chosen_key(kek, missing=_CHOOSE_KEK, refusal=kek_refusal)
        if problem is None and the_kek is not None and self.header_info is not None:
            problem = version_refusal(self.header_info.version, the_kek)
        if problem:
            errors["kek"] = problem
        return errors

    def set_kek(self, *, partner: str | None, kek: str | None, kcv: str, label: str) -> None:
        errors = self.validate_kek(partner=partner, kek=kek, kcv=kcv, label=label)
        if errors:
            raise FlowError(errors)
        self.receive.set(self.data, partner, kcv, label)
        self.kek = self.data.key(kek)

    def review_rows(self) -> list[tuple[str, str]]:
        rows = [("Key block", self.block[:16] + "…"), ("Template", self.template or "")]
        if self.kek is not None:
            rows.append(("KEK", f"{self.kek.label} (KCV {self.kek.kcv})"))
        return rows + self.receive.rows() + _quorum_rows(self.requirement)

    def summary(self) -> str:
        if self.kek is None:
            return ""
        return (
            f"Unwrap the key block under KEK {self.kek.label}, compare the key's check value "
            f"with {self.receive.expected_kcv} from {self.receive.partner}, and store it "
            f"pre-active under template {self.template!r}."
        )

    def run(self, call: ImportTr31) -> ImportedKey:
        self._check(Tr31ImportStep.BLOCK, Tr31ImportStep.HEADER, Tr31ImportStep.KEK)
        assert self.kek is not None and self.receive.partner is not None
        return call(
            self.block,
            self.kek.label,
            partner=self.receive.partner,
            template_ref=self.template,
            expected_kcv=self.receive.expected_kcv,
            label=self.receive.label,
        )

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is Tr31ImportStep.BLOCK:
            errors = self.validate_block(self.block)
            if not errors and self.header_info is None:
                errors = {"block": "The key block's header has not been read yet."}
            return errors
        if step is Tr31ImportStep.HEADER:
            return self.validate_template(self.template)
        if step is Tr31ImportStep.KEK:
            return self.validate_kek(
                partner=self.receive.partner,
                kek=self.kek.label if self.kek else None,
                kcv=self.receive.expected_kcv,
                label=self.receive.label or "",
            )
        if step is Tr31ImportStep.IMPORT and self.result is None:
            return {"result": "The key has not been imported yet."}
        return {}


# --- TR-34 -----------------------------------------------------------------------------------


class Direction(StrEnum):
    IMPORT = "import"
    EXPORT = "export"


class Tr34Step(StrEnum):
    DIRECTION = "direction"
    RECEIVE = "receive"  # import: the token, the partner, two-pass, the check value
    SEND = "send"  # export: the key, the partner's KRD, the edition
    REVIEW = "review"
    RUN = "run"
    RESULT = "result"


class ImportTr34(Protocol):
    """``InterchangeService.import_tr34`` with the session bound."""

    def __call__(
        self,
        token: bytes,
        *,
        partner: str,
        template_ref: str | None,
        expected_kcv: str | None,
        label: str | None,
        nonce_token: bytes | None,
        kdh_certificate: bytes | None,
    ) -> ImportedKey: ...


class ExportTr34(Protocol):
    """``InterchangeService.export_tr34`` with the session bound."""

    def __call__(
        self,
        key_ref: str,
        *,
        partner: str,
        edition: str,
        nonce_token: bytes | None,
        exportability: str | None,
    ) -> ExportedKey: ...


@dataclass(frozen=True)
class LoadedFile:
    """A file a person chose: its name (as shown and audited) and its bytes."""

    name: str
    data: bytes = field(repr=False)


def read_file(path: Path, what: str) -> LoadedFile:
    """A file's bytes; BadInput naming the file when it cannot be read or is no ``what``."""
    try:
        data = path.expanduser().read_bytes()
    except OSError as e:
        raise BadInput(f"Cannot read the {what} {path}: {e.strerror}.") from None
    problem = _file_problem(data, what)
    if problem:
        raise BadInput(problem)
    return LoadedFile(str(path), data)


def _header_templates(data: ExchangeData, header: str) -> list[str]:
    """Templates whose attributes a TR-31 header (16 characters) names: usage, algorithm
    family, mode of use (the key's length is known only once it is unwrapped)."""
    if len(header) < 9:
        return []
    usage, algorithm, mode = header[5:7], header[7], header[8]
    family = {"A": KeyFamily.AES, "T": KeyFamily.TDES}.get(algorithm)
    return sorted(
        (
            t.name
            for t in data.templates
            if t.status is TemplateStatus.ACTIVE
            and t.allows(Action.IMPORT_KEY)
            and t.key_usage == usage
            and t.algorithm.family is family
            and t.mode_of_use == mode
        ),
        key=str.casefold,
    )


class _TwoWayFlow(_ExchangeFlow):
    """An exchange that either receives a key (stored pre-active under a template, once
    the partner's check value agrees) or sends one (TR-34, ECDH): the quorum of the
    direction's action, and the result of whichever ran."""

    RUN_STEP: ClassVar[Any]
    RESULT_STEP: ClassVar[Any]

    def __init__(self, first: Any, data: ExchangeData | None = None) -> None:
        super().__init__(first, data)
        self.direction: Direction | None = None
        self.partner: str | None = None
        # receiving
        self.template: str | None = None
        self.receive = _ReceiveChoice()
        # sending
        self.key: ManagedKey | None = None
        self.exportability: str | None = None
        self.imported: ImportedKey | None = None
        self.exported: ExportedKey | None = None

    @property
    def action(self) -> Action:
        return Action.EXPORT_KEY if self.direction is Direction.EXPORT else Action.IMPORT_KEY

    @property
    def quorum_template(self) -> str | None:
        """Sending, the key's template (its id); receiving, the one it is recorded under."""
        if self.direction is Direction.EXPORT:
            return self.key.template_id if self.key else None
        return self.template

    def _set_sent_key(self, key: str | None, exportability: str | None) -> None:
        """The key to send (checked already), and what its block says of exporting it."""
        new_key = self.data.key(key)
        self._forget_quorum_if_template_changes(self.key, new_key)
        self.key, self.exportability = new_key, exportability

    def record_result(self, result: ImportedKey | ExportedKey) -> None:
        if isinstance(result, ImportedKey):
            self.imported = result
        else:
            self.exported = result
        self.finish(self.RESULT_STEP)

    def result_rows(self) -> list[tuple[str, str]]:
        if self.imported is not None:
            return _imported_rows(self.imported)
        if self.exported is not None:
            return _exported_rows(self.exported)
        return []

    def result_summary(self) -> str:
        if self.imported is not None:
            return _imported_summary(self.imported)
        if self.exported is not None:
            return self._sent_summary(self.exported)
        return "Nothing was received or sent yet."

    @abstractmethod
    def _sent_summary(self, sent: ExportedKey) -> str:
        """What was made for the partner, in one sentence."""

    def warnings(self) -> list[str]:
        return list(self.imported.warnings) if self.imported else []

    def reminder(self) -> str:
        return _export_reminder(self.exported) if self.exported else ""

    def _run_errors(self, step: Any) -> FieldErrors:
        if step is self.RUN_STEP and self.imported is None and self.exported is None:
            return {"result": "Nothing was received or sent yet."}
        return {}


class Tr34Flow(_TwoWayFlow):
    """TR-34 (ASC X9 TR-34-2019, -2012): a key received as key receiving device (KRD) in a
    signed and enveloped token, one-pass or two-pass, or a key sent as key distribution
    host (KDH) to the partner's KRD certificate."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        Tr34Step.DIRECTION: _step(
            "Receive or send",
            "TR-34 carries a key (usually a KEK) from a key distribution host to a key "
            "receiving device, signed by the one and encrypted for the other.",
            "direction",
        ),
        Tr34Step.RECEIVE: _step(
            "The partner's key token",
            "Load the token the partner sent. In two-pass mode it answers the random number "
            "token this workstation sent first.",
            "token",
            "partner",
            "nonce",
            "template",
            "kcv",
            "label",
        ),
        Tr34Step.SEND: _step(
            "The key and the partner",
            "The key is encrypted for the partner's KRD certificate and signed by this "
            "workstation's KDH key.",
            "key",
            "partner",
            "edition",
            "partner_nonce",
            "exportability",
        ),
        Tr34Step.REVIEW: _step(
            "Review and start",
            "Missing people are asked for their cards when you start.",
            "requirement",
        ),
        Tr34Step.RUN: _step("Working", "The HSM signs or decrypts.", "result"),
        Tr34Step.RESULT: _step("Done", "What was received or made."),
    }
    RUN_STEP = Tr34Step.RUN
    RESULT_STEP = Tr34Step.RESULT

    def __init__(self, data: ExchangeData | None = None) -> None:
        super().__init__(Tr34Step.DIRECTION, data)
        # receiving
        self.token: LoadedFile | None = None
        self.token_info: Any = None  # tr34.KeyTokenInfo once read
        self.two_pass = False
        self.nonce_token: LoadedFile | None = None  # our random number token (RKRD)
        self.kdh_certificate: LoadedFile | None = None  # for tokens that do not carry it
        # sending (the partner is the one whose KRD certificate receives the key)
        self.edition = "2019"
        self.partner_nonce: LoadedFile | None = None

    # direction

    def validate_direction(self, direction: Direction | None) -> FieldErrors:
        if direction is None:
            return {"direction": "Choose whether a key is received or sent."}
        own = TR34_KRD if direction is Direction.IMPORT else TR34_KDH
        problem = _own_certificate_error(self.data, own)
        return {"direction": problem} if problem else {}

    def choose_direction(self, direction: Direction | None) -> None:
        errors = self.validate_direction(direction)
        if errors:
            raise FlowError(errors)
        if direction is not self.direction:
            self.requirement = None
        self.direction = direction

    # receiving

    def set_token(self, token: LoadedFile) -> FieldErrors:
        """Read a token the partner sent (nothing is verified yet); errors under ``token``."""
        problem = _file_problem(token.data, "TR-34 key token")
        if problem:
            self.token, self.token_info = None, None
            return {"token": problem}
        try:
            info = tr34.read_key_token(token.data)
        except tr34.TR34Error as e:
            self.token, self.token_info = None, None
            return {"token": f"{Path(token.name).name} is not a TR-34 key token: {e}."}
        self.token, self.token_info = token, info
        self.two_pass = info.nonce is not None
        names = _header_templates(self.data, info.header)
        if self.template not in names:
            self.template = names[0] if len(names) == 1 else None
        return {}

    def token_rows(self) -> list[tuple[str, str]]:
        info = self.token_info
        if info is None or self.token is None:
            return []
        mode = "two-pass (answers a random number token)" if info.nonce else "one-pass"
        rows = [
            ("File", self.token.name),
            ("Edition", f"TR-34 {info.edition}, {mode}"),
            ("Key block header", info.header),
            (
                "KDH certificate",
                "in the token" if info.certificates else "not in the token: load it below",
            ),
        ]
        if info.signing_time is not None:
            rows.append(("Signed at", f"{info.signing_time:%Y-%m-%d %H:%M} UTC"))
        return rows

    @property
    def templates(self) -> list[str]:
        if self.token_info is None:
            return _template_names(self.data)
        return _header_templates(self.data, self.token_info.header)

    def set_nonce_token(self, nonce_token: LoadedFile) -> FieldErrors:
        try:
            tr34.read_random_number_token(nonce_token.data)
        except tr34.TR34Error as e:
            return {"nonce": f"{Path(nonce_token.name).name} is not a random number token: {e}."}
        self.nonce_token = nonce_token
        return {}

    def set_kdh_certificate(self, certificate: LoadedFile | None) -> FieldErrors:
        """The partner's KDH certificate, for a token that does not carry it (TR-34-2012
        allows leaving it out when the KRD has it already)."""
        if certificate is None:
            self.kdh_certificate = None
            return {}
        if _certificate_line(certificate.data) == "(not a certificate)":
            return {
                "kdh_certificate": f"{Path(certificate.name).name} is not an X.509 "
                "certificate (PEM or DER)."
            }
        self.kdh_certificate = certificate
        return {}

    @property
    def token_lacks_kdh(self) -> bool:
        return self.token_info is not None and not self.token_info.certificates

    def validate_receive(
        self, *, partner: str | None, template: str | None, kcv: str, label: str
    ) -> FieldErrors:
        errors: FieldErrors = {}
        if self.token is None:
            errors["token"] = "Load the TR-34 key token the partner sent."  # noqa: S105
        elif self.token_lacks_kdh and self.kdh_certificate is None:
            errors["kdh_certificate"] = (
                "This token does not carry the partner's KDH certificate: load it (the "
                "partner sends it with its CA certificate)."
            )
        if self.two_pass and self.nonce_token is None:
            errors["nonce"] = (
                "This token answers a random number token: load the one this workstation "
                "sent the partner (each is used once)."
                if self.token_info is not None and self.token_info.nonce
                else "Two-pass: make a random number token for the partner, or load the one "
                "sent earlier."
            )
        errors.update(self.receive.validate(self.data, partner, kcv, label))
        errors.update(_optional_template_errors(self.data, template))
        if (
            not errors.get("template")
            and not template
            and self.token_info is not None
            and len(self.templates) != 1
        ):
            errors["template"] = (
                f"Several templates fit the header {self.token_info.header} "
                f"({', '.join(self.templates)}): choose one."
                if self.templates
                else f"No active template fits the header {self.token_info.header}. A "
                "security officer creates one under Administration → Templates."
            )
        return errors

    def set_receive(
        self, *, partner: str | None, template: str | None, kcv: str, label: str
    ) -> None:
        errors = self.validate_receive(partner=partner, template=template, kcv=kcv, label=label)
        if errors:
            raise FlowError(errors)
        self.receive.set(self.data, partner, kcv, label)
        chosen = template or (self.templates[0] if len(self.templates) == 1 else None)
        if chosen != self.template:
            self.requirement = None
        self.template = chosen

    # sending

    def partners_with_krd(self) -> list[str]:
        return sorted((p.name for p in self.data.partners if p.krd_certificate), key=str.casefold)

    def set_partner_nonce(self, nonce_token: LoadedFile | None) -> FieldErrors:
        """The partner's random number token (two-pass export), or None for one-pass."""
        if nonce_token is None:
            self.partner_nonce = None
            return {}
        try:
            tr34.read_random_number_token(nonce_token.data)
        except tr34.TR34Error as e:
            return {
                "partner_nonce": f"{Path(nonce_token.name).name} is not a random number token: {e}."
            }
        self.partner_nonce = nonce_token
        return {}

    def validate_send(
        self,
        *,
        key: str | None,
        partner: str | None,
        edition: str | None,
        exportability: str | None,
    ) -> FieldErrors:
        errors = self._export_key_errors(key)
        errors.update(_partner_errors(self.data, partner, krd=True))
        if edition not in EDITIONS:
            errors["edition"] = "Choose the TR-34 edition the partner reads: 2019 or 2012."
        errors.update(_exportability_error(self.data.key(key), exportability))
        return errors

    def set_send(
        self,
        *,
        key: str | None,
        partner: str | None,
        edition: str | None,
        exportability: str | None,
    ) -> None:
        errors = self.validate_send(
            key=key, partner=partner, edition=edition, exportability=exportability
        )
        if errors:
            raise FlowError(errors)
        self._set_sent_key(key, exportability)
        the_partner = self.data.partner(partner)
        assert the_partner is not None and edition is not None
        self.partner, self.edition = the_partner.name, edition

    # review and run

    def review_rows(self) -> list[tuple[str, str]]:
        if self.direction is Direction.IMPORT:
            rows = self.token_rows()
            rows.append(
                (
                    "Random number token",
                    self.nonce_token.name if self.two_pass and self.nonce_token else "— (one-pass)",
                )
            )
            rows.append(("Template", self.template or ""))
            return rows + self.receive.rows() + _quorum_rows(self.requirement)
        key = self.key
        if key is None:
            return []
        partner = self.data.partner(self.partner)
        krd = "—"
        if partner is not None and partner.krd_certificate:
            krd = _certificate_line(partner.krd_certificate.encode())
        return [
            ("Key", f"{key.label} ({key.algorithm.value}, {_state(key)})"),
            ("Key check value", key.kcv),
            ("Partner", self.partner or ""),
            ("Partner's KRD certificate", krd),
            ("Edition", f"TR-34 {self.edition}"),
            (
                "Mode",
                f"two-pass, answering {self.partner_nonce.name}"
                if self.partner_nonce
                else "one-pass",
            ),
            (
                "Exportability in the block",
                _coded(self.exportability or key.exportability, EXPORTABILITY),
            ),
            *_quorum_rows(self.requirement),
        ]

    def summary(self) -> str:
        if self.direction is Direction.IMPORT:
            return (
                f"Verify the token's signature and the partner's KDH certificate against "
                f"{self.receive.partner}'s CAs and CRLs, decrypt the key in the HSM's KRD key, "
                f"compare its check value with {self.receive.expected_kcv} and store it "
                "pre-active."
            )
        if self.key is None:
            return ""
        return (
            f"Send key {self.key.label} (KCV {self.key.kcv}) to {self.partner} as a TR-34 "
            f"{self.edition} key token, signed by this workstation's KDH key."
        )

    def run_import(self, call: ImportTr34) -> ImportedKey:
        self._check(Tr34Step.DIRECTION, Tr34Step.RECEIVE)
        assert self.token is not None and self.receive.partner is not None
        return call(
            self.token.data,
            partner=self.receive.partner,
            template_ref=self.template,
            expected_kcv=self.receive.expected_kcv,
            label=self.receive.label,
            nonce_token=self.nonce_token.data if self.two_pass and self.nonce_token else None,
            kdh_certificate=self.kdh_certificate.data if self.kdh_certificate else None,
        )

    def run_export(self, call: ExportTr34) -> ExportedKey:
        self._check(Tr34Step.DIRECTION, Tr34Step.SEND)
        assert self.key is not None and self.partner is not None
        return call(
            self.key.label,
            partner=self.partner,
            edition=self.edition,
            nonce_token=self.partner_nonce.data if self.partner_nonce else None,
            exportability=self.exportability,
        )

    def _sent_summary(self, sent: ExportedKey) -> str:
        return (
            f"Key {sent.key_label} was sealed for {sent.partner} as a {sent.format} key "
            "token. Nothing is on disk until you save it."
        )

    def file_data(self) -> bytes:
        return self.exported.token if self.exported else b""

    def file_name(self) -> str:
        if self.exported is None:
            return "key-token.der"
        e = self.exported
        return f"{_safe_name(e.key_label)}-{_safe_name(e.partner)}-tr34.der"

    def nonce_file_name(self, partner: str | None) -> str:
        return f"random-number-token-{_safe_name(partner or 'partner')}.der"

    # navigation

    def next_step(self, step: Any = None) -> Tr34Step | None:
        step = step or self.step
        if step is Tr34Step.DIRECTION:
            return Tr34Step.SEND if self.direction is Direction.EXPORT else Tr34Step.RECEIVE
        if step in (Tr34Step.RECEIVE, Tr34Step.SEND):
            return Tr34Step.REVIEW
        if step is Tr34Step.REVIEW:
            return Tr34Step.RUN
        if step is Tr34Step.RUN:
            return Tr34Step.RESULT
        return None

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is Tr34Step.DIRECTION:
            return self.validate_direction(self.direction)
        if step is Tr34Step.RECEIVE:
            return self.validate_receive(
                partner=self.receive.partner,
                template=self.template,
                kcv=self.receive.expected_kcv,
                label=self.receive.label or "",
            )
        if step is Tr34Step.SEND:
            return self.validate_send(
                key=self.key.label if self.key else None,
                partner=self.partner,
                edition=self.edition,
                exportability=self.exportability,
            )
        return self._run_errors(step)


def _load_certificate(data: bytes) -> x509.Certificate:
    """A certificate as partners send them, PEM or DER; ValueError when it is neither."""
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def _certificate_line(data: bytes) -> str:
    """A certificate in one line: subject, serial, valid to."""
    try:
        cert = _load_certificate(data)
    except ValueError:
        return "(not a certificate)"
    return (
        f"{cert.subject.rfc4514_string()} (serial {cert.serial_number:X}, valid to "
        f"{cert.not_valid_after_utc:%Y-%m-%d})"
    )


# --- ECDH ------------------------------------------------------------------------------------


class EcdhStep(StrEnum):
    PARTNER = "partner"  # direction, partner, the partner's certificate
    AGREEMENT = "agreement"  # curve, KDF, hash, shared information, KEK algorithm
    KEY = "key"  # export: the key; import: the key block and the check value
    REVIEW = "review"
    RUN = "run"
    RESULT = "result"


class ExportEcdh(Protocol):
    """``InterchangeService.export_ecdh`` with the session bound."""

    def __call__(
        self,
        key_ref: str,
        *,
        partner: str,
        partner_certificate: bytes,
        curve: str,
        kdf: str,
        hash_name: str,
        shared_info: bytes,
        kek_algorithm: str,
        exportability: str | None,
    ) -> ExportedKey: ...


class ImportEcdh(Protocol):
    """``InterchangeService.import_ecdh`` with the session bound."""

    def __call__(
        self,
        key_block: str,
        *,
        partner: str,
        partner_certificate: bytes,
        curve: str,
        kdf: str,
        hash_name: str,
        shared_info: bytes,
        kek_algorithm: str,
        template_ref: str | None,
        expected_kcv: str | None,
        label: str | None,
    ) -> ImportedKey: ...


_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def certificate_curve(data: bytes) -> tuple[str | None, str | None]:
    """(curve, None) of a certificate's EC public key, or (None, the problem)."""
    try:
        cert = _load_certificate(data)
    except ValueError:
        return None, "The partner's ECDH certificate is not an X.509 certificate (PEM or DER)."
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        return None, "The partner's certificate does not hold an elliptic-curve public key."
    curve = _CURVE_NAMES.get(public.curve.name)
    if curve is None:
        return None, (
            f"The partner's certificate is on {public.curve.name}; ECDH here takes "
            f"{', '.join(CURVES)}."
        )
    return curve, None


def _weaker(key: KeyAlgorithm, kek: KeyAlgorithm) -> bool:
    mine, theirs = _STRENGTH.get(key), _STRENGTH.get(kek)
    return mine is not None and theirs is not None and theirs < mine


class EcdhFlow(_TwoWayFlow):
    """A TR-31 key block (version D for an AES KEK) under a KEK both sides derive by ECDH
    (NIST SP 800-56A) and a KDF (NIST SP 800-56C or ANSI X9.63) over agreed shared
    information, in either direction, as AWS Payment Cryptography does."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        EcdhStep.PARTNER: _step(
            "Direction and partner",
            "The partner's ECDH certificate must chain to one of the partner's CAs; this "
            "workstation's own ECDH certificate must have been sent to the partner.",
            "direction",
            "partner",
            "certificate",
        ),
        EcdhStep.AGREEMENT: _step(
            "Key agreement",
            "Both sides use the same curve, KDF, hash and shared information; the shared "
            "information should differ for every exchange.",
            "curve",
            "kdf",
            "hash",
            "shared_info",
            "kek_algorithm",
        ),
        EcdhStep.KEY: _step(
            "The key",
            "The key travels as a TR-31 key block under the derived KEK.",
            "key",
            "block",
            "template",
            "kcv",
            "label",
            "exportability",
        ),
        EcdhStep.REVIEW: _step(
            "Review and start",
            "Missing people are asked for their cards when you start.",
            "requirement",
        ),
        EcdhStep.RUN: _step("Working", "The HSM agrees the shared secret.", "result"),
        EcdhStep.RESULT: _step("Done", "What was received or made."),
    }
    RUN_STEP = EcdhStep.RUN
    RESULT_STEP = EcdhStep.RESULT

    def __init__(self, data: ExchangeData | None = None) -> None:
        super().__init__(EcdhStep.PARTNER, data)
        self.certificate: LoadedFile | None = None
        self.certificate_curve: str | None = None
        self.curve = "P-256"
        self.kdf = "NIST_SP800"
        self.hash_name = "SHA-512"
        self.shared_info: bytes = b""
        self.kek_algorithm = "AES-256"
        self.block = ""  # receiving

    # partner

    def set_certificate(self, certificate: LoadedFile | None) -> FieldErrors:
        if certificate is None:
            self.certificate, self.certificate_curve = None, None
            return {}
        problem = _file_problem(certificate.data, "certificate")
        curve = None
        if problem is None:
            curve, problem = certificate_curve(certificate.data)
        if problem:
            self.certificate, self.certificate_curve = None, None
            return {"certificate": problem}
        self.certificate, self.certificate_curve = certificate, curve
        assert curve is not None
        self.curve = curve
        return {}

    def certificate_text(self) -> str:
        if self.certificate is None:
            return ""
        return f"{_certificate_line(self.certificate.data)}, {self.certificate_curve}"

    def validate_partner(self, direction: Direction | None, partner: str | None) -> FieldErrors:
        errors: FieldErrors = {}
        if direction is None:
            errors["direction"] = "Choose whether a key is sent or received."
        errors.update(_partner_errors(self.data, partner))
        if self.certificate is None:
            errors["certificate"] = "Load the partner's ECDH certificate (PEM or DER)."
        return errors

    def set_partner(self, direction: Direction | None, partner: str | None) -> None:
        errors = self.validate_partner(direction, partner)
        if errors:
            raise FlowError(errors)
        the_partner = self.data.partner(partner)
        assert the_partner is not None
        if direction is not self.direction:
            self.requirement = None
        self.direction, self.partner = direction, the_partner.name

    # agreement

    @staticmethod
    def shared_info_status(text: str) -> tuple[bool, str]:
        """The live line under the shared information field: its length, or the mistake."""
        value, problem = check_hex(text, "Shared information")
        if problem:
            return False, problem
        assert value is not None
        if not value:
            return False, "Type the shared information agreed with the partner, in hex."
        if len(value) > ecdh.MAX_SHARED_INFO:
            return False, (
                f"Shared information has {len(value):,} bytes; at most "
                f"{ecdh.MAX_SHARED_INFO:,} are taken."
            )
        return True, f"{len(value)} byte{'s' if len(value) != 1 else ''}"

    def validate_agreement(
        self, *, curve: str, kdf: str, hash_name: str, shared_info: str, kek_algorithm: str
    ) -> FieldErrors:
        errors: FieldErrors = {}
        if curve not in CURVES:
            errors["curve"] = f"Curve {curve!r} is not one of {', '.join(CURVES)}."
        elif self.certificate_curve is not None and curve != self.certificate_curve:
            errors["curve"] = (
                f"The partner's certificate is on {self.certificate_curve}; both sides "
                "must use the same curve."
            )
        elif (own := _own_certificate_error(self.data, ECDH_KEYS[curve])) is not None:
            errors["curve"] = own
        if kdf not in KDFS:
            errors["kdf"] = "Choose the KDF agreed with the partner."
        if hash_name not in HASHES:
            errors["hash"] = "Choose the hash agreed with the partner."
        ok, text = self.shared_info_status(shared_info)
        if not ok:
            errors["shared_info"] = text
        if kek_algorithm not in KEK_ALGORITHMS:
            errors["kek_algorithm"] = "Choose the algorithm of the derived KEK."
        return errors

    def set_agreement(
        self, *, curve: str, kdf: str, hash_name: str, shared_info: str, kek_algorithm: str
    ) -> None:
        errors = self.validate_agreement(
            curve=curve,
            kdf=kdf,
            hash_name=hash_name,
            shared_info=shared_info,
            kek_algorithm=kek_algorithm,
        )
        if errors:
            raise FlowError(errors)
        value, _ = check_hex(shared_info, "Shared information")
        assert value is not None
        self.curve, self.kdf, self.hash_name = curve, kdf, hash_name
        self.shared_info, self.kek_algorithm = value, kek_algorithm

    # the key

    @property
    def templates(self) -> list[str]:
        return _template_names(self.data)

    def validate_key(
        self,
        *,
        key: str | None = None,
        exportability: str | None = None,
        block: str = "",
        template: str | None = None,
        kcv: str = "",
        label: str = "",
    ) -> FieldErrors:
        if self.direction is Direction.EXPORT:
            errors = self._export_key_errors(key)
            the_key = self.data.key(key)
            kek = KeyAlgorithm.parse(self.kek_algorithm)
            if the_key is not None and not errors and _weaker(the_key.algorithm, kek):
                errors["key"] = (
                    f"Key {the_key.label} ({the_key.algorithm.value}) is stronger than the "
                    f"derived {kek.value} KEK: choose a KEK algorithm at least as strong "
                    "(ANSI X9.143, PCI PIN 18-3)."
                )
            errors.update(_exportability_error(the_key, exportability))
            return errors
        errors = _validate_block_text(block)
        errors.update(_optional_template_errors(self.data, template))
        problem = check_kcv(kcv)
        if problem:
            errors["kcv"] = problem
        errors.update(validate_label(label))
        return errors

    def set_key(
        self,
        *,
        key: str | None = None,
        exportability: str | None = None,
        block: str = "",
        template: str | None = None,
        kcv: str = "",
        label: str = "",
    ) -> None:
        errors = self.validate_key(
            key=key,
            exportability=exportability,
            block=block,
            template=template,
            kcv=kcv,
            label=label,
        )
        if errors:
            raise FlowError(errors)
        if self.direction is Direction.EXPORT:
            self._set_sent_key(key, exportability)
            return
        if (template or None) != self.template:
            self.requirement = None
        self.block, self.template = normalise_block(block), template or None
        assert self.partner is not None
        self.receive.set(self.data, self.partner, kcv, label)

    # review and run

    def _agreement_rows(self) -> list[tuple[str, str]]:
        return [
            ("Partner", self.partner or ""),
            ("Partner's certificate", self.certificate_text()),
            ("Curve", f"{self.curve} (this workstation's key {ECDH_KEYS.get(self.curve, '')})"),
            ("KDF", f"{KDFS.get(self.kdf, self.kdf)}, {self.hash_name}"),
            ("Shared information", self.shared_info.hex().upper()),
            ("KEK", f"{self.kek_algorithm}, derived by both sides"),
        ]

    def review_rows(self) -> list[tuple[str, str]]:
        rows = self._agreement_rows()
        if self.direction is Direction.EXPORT and self.key is not None:
            rows += [
                ("Key", f"{self.key.label} ({self.key.algorithm.value}, {_state(self.key)})"),
                ("Key check value", self.key.kcv),
                (
                    "Exportability in the block",
                    _coded(self.exportability or self.key.exportability, EXPORTABILITY),
                ),
            ]
        elif self.direction is Direction.IMPORT:
            rows.append(("Key block", self.block[:16] + "…"))
            rows.append(("Template", self.template or "the one its header maps to"))
            rows += self.receive.rows()[1:]
        return rows + _quorum_rows(self.requirement)

    def summary(self) -> str:
        if self.direction is Direction.EXPORT:
            if self.key is None:
                return ""
            return (
                f"Derive a {self.kek_algorithm} KEK with {self.partner} by ECDH on "
                f"{self.curve} and send key {self.key.label} (KCV {self.key.kcv}) under it "
                "as a TR-31 key block."
            )
        return (
            f"Derive the {self.kek_algorithm} KEK with {self.partner} by ECDH on {self.curve}, "
            f"unwrap the key block under it, compare the key's check value with "
            f"{self.receive.expected_kcv} and store it pre-active."
        )

    def _options(self) -> dict[str, Any]:
        assert self.partner is not None and self.certificate is not None
        return {
            "partner": self.partner,
            "partner_certificate": self.certificate.data,
            "curve": self.curve,
            "kdf": self.kdf,
            "hash_name": self.hash_name,
            "shared_info": self.shared_info,
            "kek_algorithm": self.kek_algorithm,
        }

    def _check_all(self) -> None:
        self._check(EcdhStep.PARTNER, EcdhStep.AGREEMENT, EcdhStep.KEY)

    def run_export(self, call: ExportEcdh) -> ExportedKey:
        self._check_all()
        assert self.key is not None
        return call(self.key.label, exportability=self.exportability, **self._options())

    def run_import(self, call: ImportEcdh) -> ImportedKey:
        self._check_all()
        return call(
            self.block,
            template_ref=self.template,
            expected_kcv=self.receive.expected_kcv,
            label=self.receive.label,
            **self._options(),
        )

    def _sent_summary(self, sent: ExportedKey) -> str:
        return (
            f"Key {sent.key_label} was wrapped for {sent.partner} under the ECDH-derived KEK "
            f"(KCV {sent.wrapping_kcv}). Nothing is on disk until you save it."
        )

    def reminder(self) -> str:
        if self.exported is None:
            return ""
        return (
            super().reminder()
            + f" The partner's KEK must give check value {self.exported.wrapping_kcv}."
        )

    def file_text(self) -> bytes:
        return (self.exported.key_block + "\n").encode() if self.exported else b""

    def file_name(self) -> str:
        if self.exported is None:
            return "key-block.txt"
        e = self.exported
        return f"{_safe_name(e.key_label)}-{_safe_name(e.partner)}-ecdh-tr31.txt"

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is EcdhStep.PARTNER:
            return self.validate_partner(self.direction, self.partner)
        if step is EcdhStep.AGREEMENT:
            return self.validate_agreement(
                curve=self.curve,
                kdf=self.kdf,
                hash_name=self.hash_name,
                shared_info=self.shared_info.hex(),
                kek_algorithm=self.kek_algorithm,
            )
        if step is EcdhStep.KEY:
            return self.validate_key(
                key=self.key.label if self.key else None,
                exportability=self.exportability,
                block=self.block,
                template=self.template,
                kcv=self.receive.expected_kcv,
                label=self.receive.label or "",
            )
        return self._run_errors(step)


# --- legacy import ---------------------------------------------------------------------------


class LegacyStep(StrEnum):
    WARNING = "warning"
    INPUT = "input"
    REVIEW = "review"
    RUN = "run"
    RESULT = "result"


class ImportLegacy(Protocol):
    """``InterchangeService.import_legacy`` with the session bound."""

    def __call__(
        self,
        encrypted: str,
        zmk_ref: str,
        *,
        partner: str,
        template_ref: str,
        expected_kcv: str,
        label: str | None,
    ) -> ImportedKey: ...


def legacy_warning() -> str:
    """The PCI PIN warning, as the standards module words it, as a sentence."""
    return legacy.WARNING + "."


def _zmk_refusal(key: ManagedKey) -> str | None:
    """Why ``key`` cannot be the zone master key of a legacy import (usage K0), or None."""
    return kek_refusal(key, ("K0",), "zone master key")


class LegacyImportFlow(_ImportFlow):
    """A key received encrypted under a zone master key without a key block (TDES ECB):
    import only, with the partner's check value, the PCI PIN warning before and after."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        LegacyStep.WARNING: _step(
            "A key without a key block",
            "Read this before you go on: such a key is accepted for import only.",
            "acknowledged",
        ),
        LegacyStep.INPUT: _step(
            "The encrypted key",
            "The key as the partner sent it, in hexadecimal, the zone master key (ZMK) it is "
            "encrypted under, the template it is recorded under and the partner's check value.",
            "encrypted",
            "zmk",
            "partner",
            "template",
            "kcv",
            "label",
        ),
        LegacyStep.REVIEW: _step(
            "Review and import",
            "Missing people are asked for their cards when you press Import.",
            "requirement",
        ),
        LegacyStep.RUN: _step("Importing", "The key enters the HSM.", "result"),
        LegacyStep.RESULT: _step(
            "Key received without a key block",
            "The key is stored pre-active. It leaves this workstation only in key blocks.",
        ),
    }
    RESULT_STEP = LegacyStep.RESULT

    def __init__(self, data: ExchangeData | None = None) -> None:
        super().__init__(LegacyStep.WARNING, data)
        self.acknowledged = False
        self.encrypted = ""
        self.zmk: ManagedKey | None = None

    @staticmethod
    def warning() -> str:
        return legacy_warning()

    def validate_warning(self, acknowledged: bool) -> FieldErrors:
        if not acknowledged:
            return {
                "acknowledged": "Tick the box to confirm you have read the warning: the key "
                "is imported only, and your procedure may need a security officer's approval."
            }
        return {}

    def acknowledge(self, acknowledged: bool) -> None:
        errors = self.validate_warning(acknowledged)
        if errors:
            raise FlowError(errors)
        self.acknowledged = True

    def zmks(self) -> list[ManagedKey]:
        """Active TDES keys of usage K0: the ECB construction is TDES only."""
        return _sorted(
            k
            for k in self.data.keys
            if _zmk_refusal(k) is None and k.algorithm.family is KeyFamily.TDES
        )

    @property
    def templates(self) -> list[str]:
        """TDES templates that take imports (a key under a TDES ZMK is a TDES key)."""
        return sorted(
            (
                t.name
                for t in self.data.templates
                if t.status is TemplateStatus.ACTIVE
                and t.algorithm.family is KeyFamily.TDES
                and t.allows(Action.IMPORT_KEY)
            ),
            key=str.casefold,
        )

    def validate_input(
        self,
        *,
        encrypted: str,
        zmk: str | None,
        partner: str | None,
        template: str | None,
        kcv: str,
        label: str,
    ) -> FieldErrors:
        errors = self.receive.validate(self.data, partner, kcv, label)
        the_template = self.data.template(template)
        if not (template or "").strip():
            errors["template"] = "Choose the template the key is recorded under."
        elif the_template is None or the_template.name not in self.templates:
            errors["template"] = (
                f"Template {template!r} is not an active TDES template that takes imports."
            )
        value, problem = check_hex(encrypted, "The encrypted key")
        if problem:
            errors["encrypted"] = problem
        elif not value:
            errors["encrypted"] = "Paste the encrypted key, in hexadecimal."
        elif the_template is not None and len(value) != the_template.algorithm.key_bytes:
            errors["encrypted"] = (
                f"The encrypted key has {2 * len(value)} hex digits; a "
                f"{the_template.algorithm.value} key encrypted under a ZMK has "
                f"{2 * the_template.algorithm.key_bytes}."
            )
        the_zmk, problem = self._chosen_key(
            zmk,
            missing="Choose the zone master key shared with the partner.",
            refusal=_zmk_refusal,
        )
        if problem is None and the_zmk is not None:
            if the_zmk.algorithm.family is not KeyFamily.TDES:
                problem = f"Zone master key {the_zmk.label} is not a TDES key."
            elif the_template is not None and _weaker(the_template.algorithm, the_zmk.algorithm):
                problem = (
                    f"ZMK {the_zmk.label} ({the_zmk.algorithm.value}) is weaker than a "
                    f"{the_template.algorithm.value} key: a key travels only under a key at "
                    "least as strong (PCI PIN 18-3)."
                )
        if problem:
            errors["zmk"] = problem
        return errors

    def set_input(
        self,
        *,
        encrypted: str,
        zmk: str | None,
        partner: str | None,
        template: str | None,
        kcv: str,
        label: str,
    ) -> None:
        errors = self.validate_input(
            encrypted=encrypted, zmk=zmk, partner=partner, template=template, kcv=kcv, label=label
        )
        if errors:
            raise FlowError(errors)
        self.receive.set(self.data, partner, kcv, label)
        the_template = self.data.template(template)
        assert the_template is not None
        if the_template.name != self.template:
            self.requirement = None
        self.encrypted = "".join(encrypted.split()).upper()
        self.zmk, self.template = self.data.key(zmk), the_template.name

    def review_rows(self) -> list[tuple[str, str]]:
        rows = [("Encrypted key", self.encrypted)]
        if self.zmk is not None:
            rows.append(("Zone master key", f"{self.zmk.label} (KCV {self.zmk.kcv})"))
        rows.append(("Template", self.template or ""))
        return rows + self.receive.rows() + _quorum_rows(self.requirement)

    def summary(self) -> str:
        if self.zmk is None:
            return ""
        return (
            f"Decrypt the key under ZMK {self.zmk.label} (TDES-ECB), compare its check value "
            f"with {self.receive.expected_kcv} from {self.receive.partner} and store it "
            f"pre-active under template {self.template!r}."
        )

    def run(self, call: ImportLegacy) -> ImportedKey:
        if not self.acknowledged:
            raise FlowError(self.validate_warning(False))
        self._check(LegacyStep.INPUT)
        assert self.zmk is not None and self.template is not None
        assert self.receive.partner is not None
        return call(
            self.encrypted,
            self.zmk.label,
            partner=self.receive.partner,
            template_ref=self.template,
            expected_kcv=self.receive.expected_kcv,
            label=self.receive.label,
        )

    def warnings(self) -> list[str]:
        """The PCI PIN warning first (said again after the import), then the others."""
        said = list(self.result.warnings) if self.result else []
        first = legacy_warning()
        return [first] + [w for w in said if w.rstrip(".") != first.rstrip(".")]

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is LegacyStep.WARNING:
            return self.validate_warning(self.acknowledged)
        if step is LegacyStep.INPUT:
            return self.validate_input(
                encrypted=self.encrypted,
                zmk=self.zmk.label if self.zmk else None,
                partner=self.receive.partner,
                template=self.template,
                kcv=self.receive.expected_kcv,
                label=self.receive.label or "",
            )
        if step is LegacyStep.RUN and self.result is None:
            return {"result": "The key has not been imported yet."}
        return {}


# --- DUKPT initial keys ----------------------------------------------------------------------


class DukptExportStep(StrEnum):
    CHOOSE = "choose"
    KSNS = "ksns"
    REVIEW = "review"
    RUN = "run"
    RESULT = "result"


class KsnSource(StrEnum):
    LIST = "list"  # pasted, one a line
    FILE = "file"  # loaded, one a line
    RANGE = "range"  # the first KSN and a count of consecutive devices


class ExportInitialKeys(Protocol):
    """``InterchangeService.export_initial_keys`` with the session bound."""

    def __call__(
        self,
        bdk_ref: str,
        kek_ref: str,
        ksns: Sequence[str],
        *,
        partner: str,
        progress: Callable[[int, int], None] | None,
        cancelled: Callable[[], bool] | None,
    ) -> DukptExport: ...


ConsecutiveKsns = Callable[[str, int, str | None], list[str]]
"""``(first, count, descriptor)`` -> the initial KSNs of ``count`` consecutive devices, the
device ID counting up as the KSN descriptor lays it out (TDES, e.g. ``A05``; AES has one
layout). The command line's rule; BadInput when the range does not fit."""

_SHOWN_PROBLEMS = 3


class DukptExportFlow(_ExchangeFlow):
    """The initial keys of a list of devices, each a TR-31 block (usage B1) under a
    transport KEK, in one job with progress that may be cancelled."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        DukptExportStep.CHOOSE: _step(
            "The BDK, the KEK and the partner",
            "The base derivation key stays here; what leaves is one initial key per device, "
            "each under the transport KEK shared with the partner (a key injection facility "
            "or a terminal vendor).",
            "bdk",
            "kek",
            "partner",
        ),
        DukptExportStep.KSNS: _step(
            "The devices",
            "One initial KSN per device, its transaction counter zero: paste a list, load a "
            "file, or give the first KSN and the number of consecutive devices.",
            "source",
            "ksns",
            "first_ksn",
            "count",
            "descriptor",
            "range",
        ),
        DukptExportStep.REVIEW: _step(
            "Review and start",
            "The job takes the BDK template's export quorum once. It stops, and gives out "
            "nothing, if you cancel or someone's card leaves.",
            "requirement",
        ),
        DukptExportStep.RUN: _step("Deriving", "Each device's initial key is wrapped.", "result"),
        DukptExportStep.RESULT: _step(
            "Initial keys made",
            "Save the file (CSV: KSN, initial key ID, TR-31 key block, check value) and "
            "send it to the partner.",
        ),
    }

    def __init__(
        self, data: ExchangeData | None = None, *, consecutive: ConsecutiveKsns | None = None
    ) -> None:
        super().__init__(DukptExportStep.CHOOSE, data)
        self.consecutive = consecutive
        self.bdk: ManagedKey | None = None
        self.kek: ManagedKey | None = None
        self.partner: str | None = None
        self.source = KsnSource.LIST
        self.ksns: list[str] = []
        self.source_text = ""  # where the KSNs came from, for the review
        self.progress: tuple[int, int] | None = None
        self.result: DukptExport | None = None

    @property
    def scheme(self) -> str | None:
        return _scheme(self.bdk.algorithm) if self.bdk else None

    def bdks(self) -> list[ManagedKey]:
        return _sorted(
            k
            for k in self.data.keys
            if bdk_refusal(k) is None
            and (t := self.data.template_of(k)) is not None
            and t.allows(Action.EXPORT_KEY)
        )

    def validate_choice(
        self, *, bdk: str | None, kek: str | None, partner: str | None
    ) -> FieldErrors:
        errors = _partner_errors(self.data, partner)
        the_bdk, problem = self._chosen_key(
            bdk, missing="Choose the base derivation key (TR-31 usage B0).", refusal=bdk_refusal
        )
        if problem is None and the_bdk is not None:
            t = self.data.template_of(the_bdk)
            if t is None or not t.allows(Action.EXPORT_KEY):
                name = t.name if t else "(missing)"
                problem = f"Template {name!r} does not allow exporting keys derived from its keys."
        if problem:
            errors["bdk"] = problem
        the_kek, problem = self._chosen_key(
            kek, missing="Choose the transport KEK shared with the partner.", refusal=kek_refusal
        )
        if problem is None and the_kek is not None and the_bdk is not None:
            problem = strength_refusal(the_bdk, the_kek)
        if problem:
            errors["kek"] = problem
        return errors

    def choose(self, *, bdk: str | None, kek: str | None, partner: str | None) -> None:
        errors = self.validate_choice(bdk=bdk, kek=kek, partner=partner)
        if errors:
            raise FlowError(errors)
        new_bdk = self.data.key(bdk)
        if self.bdk is None or new_bdk is None or new_bdk.algorithm != self.bdk.algorithm:
            self.ksns = []  # KSNs of the other DUKPT scheme mean nothing now
        self._forget_quorum_if_template_changes(self.bdk, new_bdk)
        the_partner = self.data.partner(partner)
        assert the_partner is not None
        self.bdk, self.kek, self.partner = new_bdk, self.data.key(kek), the_partner.name

    @property
    def quorum_template(self) -> str | None:
        """The BDK's template: its export quorum applies."""
        return self.bdk.template_id if self.bdk else None

    def example_ksn(self) -> str:
        return "123456789012345600000000" if self.scheme == "AES" else "FFFF9876543210E00000"

    @property
    def needs_descriptor(self) -> bool:
        """A TDES KSN's layout varies by host: counting devices needs its descriptor."""
        return self.scheme == "TDES"

    def _collect(
        self, source: KsnSource | None, text: str, first: str, count: int, descriptor: str
    ) -> tuple[list[str], FieldErrors]:
        if source is None:
            return [], {"source": "Choose how the devices' KSNs are given."}
        if source is KsnSource.RANGE:
            errors: FieldErrors = {}
            scheme = self.scheme or "TDES"
            if not first.strip():
                errors["first_ksn"] = "Type the first device's KSN."
            elif problem := ksn_problem(scheme, first, 1):
                errors["first_ksn"] = problem.replace("KSN 1 ", "The first KSN ", 1)
            if not 1 <= count <= MAX_DUKPT_DEVICES:
                errors["count"] = f"Give between 1 and {MAX_DUKPT_DEVICES:,} devices."
            if self.needs_descriptor and not descriptor.strip():
                errors["descriptor"] = (
                    "Give the KSN descriptor the terminals' host uses: the lengths of the BDK "
                    "ID, sub-key ID and device ID in hex digits, e.g. A05."
                )
            if errors:
                return [], errors
            if self.consecutive is None:
                return [], {"range": "Consecutive KSNs cannot be made here."}
            layout = descriptor.strip() if self.needs_descriptor else None
            try:
                return self.consecutive(first, count, layout), {}
            except BadInput as e:
                return [], {"range": e.user_message()}
        lines = ksn_lines(text)
        if not lines:
            where = "Paste the KSNs" if source is KsnSource.LIST else "Load a file of KSNs"
            return [], {"ksns": f"{where}, one a line."}
        return lines, {}

    def validate_ksns(
        self,
        source: KsnSource | None,
        *,
        text: str = "",
        first: str = "",
        count: int = 1,
        descriptor: str = "",
    ) -> FieldErrors:
        ksns, errors = self._collect(source, text, first, count, descriptor)
        if errors:
            return errors
        return self._check_list(ksns)

    def _check_list(self, ksns: Sequence[str]) -> FieldErrors:
        if self.bdk is None:
            return {"ksns": "Choose the BDK first: it says whether the KSNs are TDES or AES."}
        if len(ksns) > MAX_DUKPT_DEVICES:
            return {
                "ksns": f"At most {MAX_DUKPT_DEVICES:,} devices in one job ({len(ksns):,} given)."
            }
        scheme = _scheme(self.bdk.algorithm)
        problems = [
            p for i, text in enumerate(ksns, 1) if (p := ksn_problem(scheme, text, i)) is not None
        ]
        if problems:
            more = len(problems) - _SHOWN_PROBLEMS
            text = " ".join(problems[:_SHOWN_PROBLEMS])
            if more > 0:
                text += f" {more:,} more KSN{'s are' if more > 1 else ' is'} wrong."
            return {"ksns": text}
        seen: dict[str, int] = {}
        for i, text in enumerate(ksns, 1):
            ident = _initial_key_id(scheme, text)
            if ident in seen:
                return {
                    "ksns": f"KSN {i} names the same device as KSN {seen[ident]} (initial key "
                    f"ID {ident}): each device is given once."
                }
            seen[ident] = i
        return {}

    def set_ksns(
        self,
        source: KsnSource | None,
        *,
        text: str = "",
        first: str = "",
        count: int = 1,
        descriptor: str = "",
        where: str = "",
    ) -> None:
        ksns, errors = self._collect(source, text, first, count, descriptor)
        errors = errors or self._check_list(ksns)
        if errors:
            raise FlowError(errors)
        assert source is not None
        self.source, self.ksns = source, ksns
        self.source_text = {
            KsnSource.LIST: "pasted list",
            KsnSource.FILE: f"file {where}" if where else "file",
            KsnSource.RANGE: f"{count:,} consecutive devices from {first.strip().upper()}"
            + (f", descriptor {descriptor.strip().upper()}" if self.needs_descriptor else ""),
        }[source]

    def review_rows(self) -> list[tuple[str, str]]:
        bdk, kek = self.bdk, self.kek
        if bdk is None or kek is None or not self.ksns:
            return []
        version = "D" if kek.algorithm.family is KeyFamily.AES else "B"
        scheme = _scheme(bdk.algorithm)
        standard = "ANSI X9.24-3-2017" if scheme == "AES" else "ANSI X9.24-1-2009"
        return [
            ("BDK", f"{bdk.label} ({bdk.algorithm.value}, {scheme} DUKPT, {standard})"),
            ("BDK check value", bdk.kcv),
            ("Transport KEK", f"{kek.label} (KCV {kek.kcv})"),
            ("Partner", self.partner or ""),
            ("Devices", f"{len(self.ksns):,} ({self.source_text})"),
            ("First KSN", self.ksns[0].strip().upper()),
            ("Last KSN", self.ksns[-1].strip().upper()),
            ("Each initial key", f"TR-31 version {version}, usage B1, not exportable"),
            *_quorum_rows(self.requirement),
        ]

    def summary(self) -> str:
        if self.bdk is None:
            return ""
        n = len(self.ksns)
        return (
            f"Derive the initial keys of {n:,} device{'s' if n != 1 else ''} from BDK "
            f"{self.bdk.label} and wrap each under {self.kek.label if self.kek else ''} for "
            f"{self.partner}."
        )

    @property
    def cancellable(self) -> bool:
        return True

    def run(
        self,
        call: ExportInitialKeys,
        *,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> DukptExport:
        self._check(DukptExportStep.CHOOSE, DukptExportStep.KSNS)
        assert self.bdk is not None and self.kek is not None and self.partner is not None

        def seen(done: int, total: int) -> None:
            self.progress = (done, total)
            if progress is not None:
                progress(done, total)

        return call(
            self.bdk.label,
            self.kek.label,
            list(self.ksns),
            partner=self.partner,
            progress=seen,
            cancelled=cancelled,
        )

    def record_result(self, result: DukptExport) -> None:
        self.result = result
        self.finish(DukptExportStep.RESULT)

    @property
    def stopped(self) -> bool:
        return self.result is not None and self.result.stopped is not None

    def result_rows(self) -> list[tuple[str, str]]:
        r = self.result
        if r is None or r.stopped:
            return []
        return [
            ("Devices", f"{len(r.lines):,}"),
            ("BDK", f"{r.bdk_label} (KCV {r.bdk_kcv})"),
            ("Transport KEK", f"{r.kek_label} (KCV {r.kek_kcv})"),
            ("Partner", r.partner),
            ("File SHA-256", r.digest),
        ]

    def result_summary(self) -> str:
        r = self.result
        if r is None:
            return "No initial key was made yet."
        if r.stopped:
            return (
                f"The job stopped ({r.stopped}). No initial key was given out and nothing "
                "can be saved; start again when everyone is ready."
            )
        return (
            f"The initial keys of {len(r.lines):,} devices are made, each under "
            f"{r.kek_label}. The file's SHA-256 is in the audit log; nothing is on disk until "
            "you save it."
        )

    def preview_rows(self, limit: int = 50) -> list[tuple[str, str, str]]:
        """(KSN, initial key ID, check value) of the first devices."""
        if self.result is None:
            return []
        return [(x.ksn, x.initial_key_id, x.kcv) for x in self.result.lines[:limit]]

    def file_text(self) -> bytes:
        r = self.result
        return r.text().encode() if r is not None and not r.stopped else b""

    def file_name(self) -> str:
        r = self.result
        if r is None:
            return "initial-keys.csv"
        return f"{_safe_name(r.bdk_label)}-{_safe_name(r.partner)}-initial-keys.csv"

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is DukptExportStep.CHOOSE:
            return self.validate_choice(
                bdk=self.bdk.label if self.bdk else None,
                kek=self.kek.label if self.kek else None,
                partner=self.partner,
            )
        if step is DukptExportStep.KSNS:
            if not self.ksns:
                return {"ksns": "Give the devices' KSNs."}
            return self._check_list(self.ksns)
        if step is DukptExportStep.RUN and self.result is None:
            return {"result": "No initial key was made yet."}
        return {}


# --- DUKPT test keys -------------------------------------------------------------------------


class DukptTestStep(StrEnum):
    CHOOSE = "choose"
    RESULT = "result"


DeriveTestKeys = Callable[[str, str], DukptTestKeys]
"""``InterchangeService.derive_test_keys`` with the session bound: ``(bdk, ksn)``."""


class DukptTestFlow(_ExchangeFlow):
    """The keys of one transaction of a TEST base derivation key, to check a terminal in
    the lab. The service refuses a BDK whose template does not mark it as a test key."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        DukptTestStep.CHOOSE: _step(
            "The test BDK and the KSN",
            "Only a BDK made from a test template gives its keys here; the workstation "
            "refuses any other.",
            "bdk",
            "ksn",
        ),
        DukptTestStep.RESULT: _step(
            "Test keys",
            "These keys are shown in clear because the BDK is a test key. Close the window "
            "when you are done.",
        ),
    }

    def __init__(self, data: ExchangeData | None = None) -> None:
        super().__init__(DukptTestStep.CHOOSE, data)
        self.bdk: ManagedKey | None = None
        self.ksn = ""
        self.result: DukptTestKeys | None = None

    def bdks(self) -> list[ManagedKey]:
        """Every active BDK: test keys first (the service refuses the others, and says why)."""
        return sorted(
            (k for k in self.data.keys if bdk_refusal(k) is None),
            key=lambda k: (not k.test_key, k.label.casefold()),
        )

    def validate_choice(self, bdk: str | None, ksn: str) -> FieldErrors:
        errors: FieldErrors = {}
        the_bdk, problem = self._chosen_key(
            bdk, missing="Choose the test BDK.", refusal=bdk_refusal
        )
        if problem:
            errors["bdk"] = problem
        norm = "".join(ksn.split()).upper()
        want = 24 if the_bdk is not None and the_bdk.algorithm.family is KeyFamily.AES else 20
        scheme = "AES" if want == 24 else "TDES"
        if not norm:
            errors["ksn"] = f"Type the transaction's KSN ({want} hex digits)."
        elif len(norm) != want or any(c not in _HEX for c in norm):
            errors["ksn"] = (
                f"KSN {ksn.strip()!r} is not {want} hexadecimal digits ({scheme} DUKPT)."
            )
        return errors

    def choose(self, bdk: str | None, ksn: str) -> None:
        errors = self.validate_choice(bdk, ksn)
        if errors:
            raise FlowError(errors)
        self.bdk = self.data.key(bdk)
        self.ksn = "".join(ksn.split()).upper()
        self.result = None

    @property
    def quorum_template(self) -> str | None:
        return self.bdk.template_id if self.bdk else None

    def derive(self, call: DeriveTestKeys) -> DukptTestKeys:
        self._check(DukptTestStep.CHOOSE)
        assert self.bdk is not None
        return call(self.bdk.label, self.ksn)

    def record_result(self, result: DukptTestKeys) -> None:
        self.result = result
        self.finish(DukptTestStep.RESULT)

    def banner(self) -> str:
        label = self.result.bdk_label if self.result else (self.bdk.label if self.bdk else "")
        return (
            f"TEST KEY — {label}: for checking terminals in the lab only. Never load these "
            "keys, or their BDK, into a device that handles live cards."
        )

    def key_rows(self) -> list[tuple[str, str]]:
        """(key, value) of the transaction, in clear: test keys only."""
        r = self.result
        if r is None:
            return []
        rows = [
            ("KSN", r.ksn),
            ("Initial key", r.initial_key),
            ("Transaction key", r.transaction_key),
        ]
        rows += [(_key_name(name), value) for name, value in r.working_keys.items()]
        return rows

    def result_summary(self) -> str:
        r = self.result
        if r is None:
            return "No test key was derived yet."
        return f"{r.scheme} DUKPT keys of BDK {r.bdk_label} for KSN {r.ksn}."

    def forget(self) -> None:
        """Drop the shown keys (the wizard closes)."""
        self.result = None

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is DukptTestStep.CHOOSE:
            return self.validate_choice(self.bdk.label if self.bdk else None, self.ksn)
        return {}


def _key_name(name: str) -> str:
    """A working key's name as the service gives it, written as people write it.

    >>> _key_name("pin encryption"), _key_name("mac request")
    ('PIN encryption', 'MAC request')
    """
    words = [{"pin": "PIN", "mac": "MAC"}.get(w, w) for w in name.split()]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


# --- the Exchanges page's forms --------------------------------------------------------------


def _missing_files(fields: Iterable[tuple[str, Iterable[Path], str]]) -> FieldErrors:
    """Each form field (name, its paths, what they hold) whose files do not all exist,
    with the first that does not."""
    errors: FieldErrors = {}
    for field_name, paths, what in fields:
        missing = next((p for p in paths if not p.expanduser().is_file()), None)
        if missing is not None:
            errors[field_name] = f"The {what} file {missing} does not exist."
    return errors


def _notes_errors(notes: str | None) -> FieldErrors:
    if notes is not None and len(notes.strip()) > 2000:
        return {"notes": "Partner notes are limited to 2000 characters."}
    return {}


def _read_all(paths: Iterable[Path], what: str) -> list[bytes]:
    return [read_file(p, what).data for p in paths]


def _read_krd(path: Path | None) -> bytes | None:
    return read_file(path, "KRD certificate").data if path else None


@dataclass
class PartnerForm:
    """A new exchange partner: name, kind, its CA certificates and CRLs (files), its
    TR-34 KRD certificate (a file, optional) and notes."""

    name: str = ""
    kind: str = ""
    ca_files: list[Path] = field(default_factory=list)
    crl_files: list[Path] = field(default_factory=list)
    krd_file: Path | None = None
    notes: str = ""
    existing: frozenset[str] = frozenset()  # the partners' names, case-folded

    def validate(self) -> FieldErrors:
        errors: FieldErrors = {}
        try:
            name = check_partner_name(self.name)
        except BadInput as e:
            errors["name"] = (
                "Give the partner's name." if not self.name.strip() else e.user_message()
            )
        else:
            if name.casefold() in self.existing:
                errors["name"] = f"A partner named {name} already exists."
        if self.kind not in PARTNER_KINDS:
            errors["kind"] = f"Choose what kind of partner it is ({', '.join(PARTNER_KINDS)})."
        errors.update(
            _missing_files(
                (
                    ("ca_files", self.ca_files, "CA certificate"),
                    ("crl_files", self.crl_files, "CRL"),
                    ("krd_file", [self.krd_file] if self.krd_file else [], "KRD certificate"),
                )
            )
        )
        if self.crl_files and not self.ca_files and "crl_files" not in errors:
            errors["crl_files"] = "A CRL is checked against the partner's CAs: add the CA too."
        if self.krd_file and not self.ca_files and "krd_file" not in errors:
            errors["krd_file"] = (
                "The KRD certificate is checked against the partner's CAs: add the CA that "
                "issued it."
            )
        errors.update(_notes_errors(self.notes))
        return errors

    def read(self) -> dict[str, Any]:
        """The service's arguments, the files read (BadInput names a file that cannot be)."""
        errors = self.validate()
        if errors:
            raise FlowError(errors)
        return {
            "name": self.name.strip(),
            "kind": self.kind,
            "ca_certificates": _read_all(self.ca_files, "CA certificate"),
            "crls": _read_all(self.crl_files, "CRL"),
            "krd_certificate": _read_krd(self.krd_file),
            "notes": self.notes.strip(),
        }


@dataclass
class PartnerUpdateForm:
    """Changes to a partner: CA certificates added, the CRLs replaced (a newer list
    supersedes the old), a new KRD certificate, or new notes."""

    partner: Partner
    add_ca_files: list[Path] = field(default_factory=list)
    replace_crls: bool = False
    crl_files: list[Path] = field(default_factory=list)
    krd_file: Path | None = None
    notes: str | None = None

    @property
    def notes_changed(self) -> bool:
        return self.notes is not None and self.notes.strip() != self.partner.notes

    def validate(self) -> FieldErrors:
        errors = _missing_files(
            (
                ("add_ca_files", self.add_ca_files, "CA certificate"),
                ("crl_files", self.crl_files if self.replace_crls else [], "CRL"),
                ("krd_file", [self.krd_file] if self.krd_file else [], "KRD certificate"),
            )
        )
        errors.update(_notes_errors(self.notes))
        nothing = not (
            self.add_ca_files or self.replace_crls or self.krd_file or self.notes_changed
        )
        if nothing and not errors:
            errors["form"] = (
                "Nothing to change: add a CA certificate, replace the CRLs, give a KRD "
                "certificate or change the notes."
            )
        return errors

    def describe(self) -> list[str]:
        lines = []
        if self.add_ca_files:
            lines.append(f"Add {len(self.add_ca_files)} CA certificate(s).")
        if self.replace_crls:
            n = len(self.crl_files)
            lines.append(
                f"Replace the {len(self.partner.crls)} stored CRL(s) with {n} new one(s)."
                if n
                else f"Remove the {len(self.partner.crls)} stored CRL(s)."
            )
        if self.krd_file:
            lines.append(
                "Replace the KRD certificate."
                if self.partner.krd_certificate
                else "Add a KRD certificate."
            )
        if self.notes_changed:
            lines.append("Change the notes.")
        return lines

    def read(self) -> dict[str, Any]:
        errors = self.validate()
        if errors:
            raise FlowError(errors)
        return {
            "add_ca_certificates": _read_all(self.add_ca_files, "CA certificate"),
            "crls": _read_all(self.crl_files, "CRL") if self.replace_crls else None,
            "krd_certificate": _read_krd(self.krd_file),
            "notes": self.notes.strip() if self.notes_changed and self.notes is not None else None,
        }


def _new_file_problem(path: Path | None, what: str) -> str | None:
    if path is None:
        return None
    target = path.expanduser()
    if target.exists():
        return f"{target} exists; choose a new file name for the {what} (nothing is overwritten)."
    if not target.parent.is_dir():
        return f"The folder {target.parent} does not exist."
    return None


@dataclass
class PublishForm:
    """One of the workstation's exchange certificates, made on first use, saved as PEM
    where the person chooses (and the exchange CA's certificate beside it if asked)."""

    name: str = ""
    certificate_file: Path | None = None
    ca_file: Path | None = None
    existing: frozenset[str] = frozenset()  # exchange keys that have a certificate already

    @property
    def makes_new(self) -> bool:
        """True when the key pair and certificate are made now (partner-management quorum)."""
        return self.name not in self.existing

    def validate(self) -> FieldErrors:
        errors: FieldErrors = {}
        if self.name not in EXCHANGE_KEYS:
            errors["name"] = "Choose the exchange key whose certificate you publish."
        if self.certificate_file is None:
            errors["certificate_file"] = "Choose where the certificate (PEM) is saved."
        elif problem := _new_file_problem(self.certificate_file, "certificate"):
            errors["certificate_file"] = problem
        if (problem := _new_file_problem(self.ca_file, "CA certificate")) is not None:
            errors["ca_file"] = problem
        elif (
            self.ca_file is not None
            and self.certificate_file is not None
            and self.ca_file.expanduser().resolve() == self.certificate_file.expanduser().resolve()
        ):
            errors["ca_file"] = "Save the CA certificate in another file than the certificate."
        return errors

    def describe(self) -> str:
        use = EXCHANGE_KEYS.get(self.name, self.name)
        if self.makes_new:
            return (
                f"The {self.name} key pair ({use}) is made in the HSM now, with a certificate "
                "issued by the workstation's exchange CA (made too, on first use)."
            )
        return f"The {self.name} certificate ({use}) exists; it is saved again."
