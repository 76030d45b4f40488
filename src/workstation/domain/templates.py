"""Key templates: what a key is for, how it may be used, and who must act on it.

Key usage, mode of use and exportability use the ANSI X9.143 (TR-31) header codes, so a
key generated here maps onto a key block without translation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from workstation.domain.algorithms import KeyAlgorithm, KeyFamily
from workstation.domain.policy import KEY_ACTIONS, Action, Quorum
from workstation.domain.records import canonical_bytes
from workstation.errors import BadInput

# ANSI X9.143-2022 table 6 (key usage), as far as this workstation manages them.
KEY_USAGES: Mapping[str, str] = {
    "B0": "BDK base derivation key",
    "B1": "initial DUKPT key",
    "B2": "base key variant key",
    "C0": "CVK card verification key",
    "D0": "symmetric key for data encryption",
    "D1": "asymmetric key for data encryption",
    "D2": "data encryption key for decimalization table",
    "E0": "EMV/chip issuer master key: application cryptograms",
    "E1": "EMV/chip issuer master key: secure messaging for confidentiality",
    "E2": "EMV/chip issuer master key: secure messaging for integrity",
    "E3": "EMV/chip issuer master key: data authentication code",
    "E4": "EMV/chip issuer master key: dynamic numbers",
    "E5": "EMV/chip issuer master key: card personalization",
    "E6": "EMV/chip issuer master key: other",
    "K0": "key encryption or wrapping",
    "K1": "TR-31 key block protection key",
    "K2": "TR-34 asymmetric key",
    "K3": "asymmetric key for key agreement/key wrapping",
    "M0": "ISO 16609 MAC algorithm 1 (using TDEA)",
    "M1": "ISO 9797-1 MAC algorithm 1",
    "M3": "ISO 9797-1 MAC algorithm 3",
    "M6": "ISO 9797-1:2011 MAC algorithm 5/CMAC",
    "M7": "HMAC",
    "P0": "PIN encryption",
    "S0": "asymmetric key pair for digital signature",
    "S1": "asymmetric key pair, CA key",
    "S2": "asymmetric key pair, non-X9.24 key",
    "V0": "PIN verification, KPV, other algorithm",
    "V1": "PIN verification, IBM 3624",
    "V2": "PIN verification, VISA PVV",
}

# ANSI X9.143-2022 table 8 (mode of use).
MODES_OF_USE: Mapping[str, str] = {
    "B": "both encrypt and decrypt / wrap and unwrap",
    "C": "both generate and verify",
    "D": "decrypt / unwrap only",
    "E": "encrypt / wrap only",
    "G": "generate only",
    "N": "no special restrictions",
    "S": "signature only",
    "T": "both sign and decrypt",
    "V": "verify only",
    "X": "key used to derive other keys",
    "Y": "key used to create key variants",
}

# ANSI X9.143-2022 table 10 (exportability).
EXPORTABILITY: Mapping[str, str] = {
    "E": "exportable under a KEK in a form meeting X9.24",
    "N": "not exportable",
    "S": "sensitive: exportable under a KEK in a form not necessarily meeting X9.24",
}

_LABEL_FIELD = re.compile(r"\{([a-z]+)(?::([^{}]*))?\}")
_LABEL_FIELDS = {"seq", "date", "year", "template", "version", "bin"}
# What {bin} becomes for a key made outside a job for a BIN (plain generation from the
# template): visibly no BIN rather than an empty field.
NO_BIN = "NOBIN"


def render_label(
    pattern: str, *, seq: int, when: datetime, template: str, version: int, bin: str | None = None
) -> str:
    """Fill a label pattern: {seq[:format]}, {date}, {year}, {template}, {version}, and
    {bin}, the BIN a job for EMV issuer keys makes the key for (``NO_BIN`` without one).

    >>> from datetime import datetime, UTC
    >>> render_label("ZMK-{date}-{seq:04d}", seq=7, when=datetime(2026, 1, 2, tzinfo=UTC),
    ...              template="zmk", version=1)
    'ZMK-20260102-0007'
    >>> render_label("EMV-ISS-{bin}-{seq:04d}", seq=3, when=datetime(2026, 1, 2, tzinfo=UTC),
    ...              template="iss", version=1, bin="40000012")
    'EMV-ISS-40000012-0003'
    """

    def fill(m: re.Match[str]) -> str:
        name, spec = m[1], m[2] or ""
        values: dict[str, object] = {
            "seq": seq,
            "date": when.strftime("%Y%m%d"),
            "year": when.strftime("%Y"),
            "template": template,
            "version": version,
            "bin": NO_BIN if bin is None else bin,
        }
        return format(values[name], spec)

    return _LABEL_FIELD.sub(fill, pattern)


def check_label_pattern(pattern: str) -> None:
    if not pattern.strip():
        raise BadInput("The label pattern is empty.")
    names = {m[1] for m in _LABEL_FIELD.finditer(pattern)}
    unknown = names - _LABEL_FIELDS
    if unknown:
        raise BadInput(
            f"The label pattern uses unknown field(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(sorted(_LABEL_FIELDS))}."
        )
    if "seq" not in names:
        raise BadInput("The label pattern must contain {seq} so that every label is unique.")
    try:
        render_label(pattern, seq=1, when=datetime(2000, 1, 1), template="t", version=1)
    except (ValueError, TypeError) as exc:
        raise BadInput(f"The label pattern {pattern!r} cannot be filled: {exc}.") from None


class TemplateStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


@dataclass(frozen=True)
class KeyTemplate:
    id: str
    name: str
    description: str
    algorithm: KeyAlgorithm
    key_usage: str  # TR-31 key usage, e.g. "K0"
    mode_of_use: str  # TR-31 mode of use, e.g. "B"
    exportability: str  # TR-31 exportability, "E", "N" or "S"
    crypto_period_days: int
    label_pattern: str
    allowed_actions: frozenset[Action] = KEY_ACTIONS
    quorums: Mapping[Action, Quorum] = field(default_factory=dict)  # overrides of the policy
    test_key: bool = False  # a test key may be used by the test tools (DUKPT issue)
    status: TemplateStatus = TemplateStatus.ACTIVE
    version: int = 1

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise BadInput("A template needs a name.")
        if self.key_usage not in KEY_USAGES:
            raise BadInput(f"Template {self.name!r}: unknown TR-31 key usage {self.key_usage!r}.")
        if self.mode_of_use not in MODES_OF_USE:
            raise BadInput(
                f"Template {self.name!r}: unknown TR-31 mode of use {self.mode_of_use!r}."
            )
        if self.exportability not in EXPORTABILITY:
            raise BadInput(
                f"Template {self.name!r}: exportability must be E, N or S, "
                f"not {self.exportability!r}."
            )
        if not 1 <= self.crypto_period_days <= 365 * 30:
            raise BadInput(f"Template {self.name!r}: the crypto-period must be 1 day to 30 years.")
        asymmetric_usage = self.key_usage in {"D1", "K2", "K3", "S0", "S1", "S2"}
        if asymmetric_usage == self.algorithm.is_symmetric:
            kind = "a key pair" if asymmetric_usage else "a secret key"
            raise BadInput(
                f"Template {self.name!r}: key usage {self.key_usage} is for {kind}, "
                f"but the algorithm is {self.algorithm.value}."
            )
        if self.key_usage == "B0" and self.algorithm.family not in (KeyFamily.TDES, KeyFamily.AES):
            raise BadInput(f"Template {self.name!r}: a BDK is a TDES or AES key.")
        check_label_pattern(self.label_pattern)
        unknown = set(self.quorums) - KEY_ACTIONS
        if unknown:
            raise BadInput(
                f"Template {self.name!r}: quorums may only be set for key actions, not "
                f"{', '.join(sorted(a.value for a in unknown))}."
            )
        if Action.GENERATE_KEY not in self.allowed_actions:
            raise BadInput(f"Template {self.name!r}: generating keys must be allowed.")

    @property
    def exportable(self) -> bool:
        return self.exportability in {"E", "S"}

    def allows(self, action: Action) -> bool:
        if action is Action.EXPORT_KEY and not self.exportable:
            return False
        return action in self.allowed_actions

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "algorithm": self.algorithm.value,
            "key_usage": self.key_usage,
            "mode_of_use": self.mode_of_use,
            "exportability": self.exportability,
            "crypto_period_days": self.crypto_period_days,
            "label_pattern": self.label_pattern,
            "allowed_actions": sorted(a.value for a in self.allowed_actions),
            "quorums": {a.value: q.to_record() for a, q in sorted(self.quorums.items())},
            "test_key": self.test_key,
            "status": self.status.value,
            "version": self.version,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> KeyTemplate:
        return cls(
            id=rec["id"],
            name=rec["name"],
            description=rec["description"],
            algorithm=KeyAlgorithm(rec["algorithm"]),
            key_usage=rec["key_usage"],
            mode_of_use=rec["mode_of_use"],
            exportability=rec["exportability"],
            crypto_period_days=int(rec["crypto_period_days"]),
            label_pattern=rec["label_pattern"],
            allowed_actions=frozenset(Action(a) for a in rec["allowed_actions"]),
            quorums={Action(a): Quorum.from_record(q) for a, q in rec["quorums"].items()},
            test_key=bool(rec["test_key"]),
            status=TemplateStatus(rec["status"]),
            version=int(rec["version"]),
        )

    def binding_bytes(self) -> bytes:
        return canonical_bytes({"type": "template", **self.to_record()})

    def edited(self, **changes: Any) -> KeyTemplate:
        """A new version of the template; existing keys keep the attributes they were made with."""
        return replace(self, **changes, version=self.version + 1)


def _seed(
    slug: str,
    name: str,
    description: str,
    algorithm: KeyAlgorithm,
    usage: str,
    mode: str,
    export: str,
    days: int,
    label: str,
    quorums: Mapping[Action, str] | None = None,
    actions: frozenset[Action] = KEY_ACTIONS,
    test_key: bool = False,
) -> KeyTemplate:
    return KeyTemplate(
        id=f"seed-{slug}",
        name=name,
        description=description,
        algorithm=algorithm,
        key_usage=usage,
        mode_of_use=mode,
        exportability=export,
        crypto_period_days=days,
        label_pattern=label,
        allowed_actions=actions,
        quorums={a: Quorum.parse(q) for a, q in (quorums or {}).items()},
        test_key=test_key,
    )


_KEK_QUORUM = {Action.GENERATE_KEY: "2 of group custodians A"}


def seed_templates() -> list[KeyTemplate]:
    """Templates shipped for the systems this workstation replaces."""
    a = KeyAlgorithm
    no_export = KEY_ACTIONS - {Action.EXPORT_KEY}
    return [
        _seed(
            "atm-tmk",
            "ATM terminal master key",
            "Terminal master key loaded into an ATM to protect its working keys.",
            a.TDES_3KEY,
            "K0",
            "B",
            "E",
            365 * 3,
            "TMK-{date}-{seq:04d}",
            _KEK_QUORUM,
        ),
        _seed(
            "zmk",
            "Zone master key (KEK)",
            "Key encryption key shared with a partner or network to exchange working keys.",
            a.AES_256,
            "K0",
            "B",
            "E",
            365 * 2,
            "ZMK-{date}-{seq:04d}",
            _KEK_QUORUM,
        ),
        _seed(
            "zmk-tdes",
            "Zone master key (TDES)",
            "TDES key encryption key for partners and host HSMs that exchange TR-31 "
            "version B blocks (or, on import only, keys without a key block).",
            a.TDES_2KEY,
            "K0",
            "B",
            "E",
            365 * 2,
            "ZMK-T-{date}-{seq:04d}",
            _KEK_QUORUM,
        ),
        _seed(
            "bdk-tdes",
            "TDES base derivation key",
            "BDK for TDES DUKPT (ANSI X9.24-1-2009) terminals.",
            a.TDES_2KEY,
            "B0",
            "X",
            "E",
            365 * 3,
            "BDK-TDES-{seq:04d}",
            _KEK_QUORUM,
        ),
        _seed(
            "bdk-aes",
            "AES base derivation key",
            "BDK for AES DUKPT (ANSI X9.24-3-2017) terminals.",
            a.AES_128,
            "B0",
            "X",
            "E",
            365 * 3,
            "BDK-AES-{seq:04d}",
            _KEK_QUORUM,
        ),
        _seed(
            "bdk-aes-test",
            "AES base derivation key (test)",
            "TEST BDK for AES DUKPT terminals in the lab; the DUKPT test tool shows the "
            "transaction keys of these keys only. Never for production terminals.",
            a.AES_128,
            "B0",
            "X",
            "E",
            365,
            "BDK-AES-TEST-{seq:04d}",
            test_key=True,
        ),
        _seed(
            "pek",
            "PIN encryption key",
            "Zone PIN key protecting PIN blocks between hosts.",
            a.AES_256,
            "P0",
            "B",
            "E",
            365,
            "PEK-{date}-{seq:04d}",
        ),
        _seed(
            "mac",
            "MAC key",
            "CMAC key for message authentication between hosts.",
            a.AES_128,
            "M6",
            "C",
            "E",
            365,
            "MAC-{date}-{seq:04d}",
        ),
        _seed(
            "cvk",
            "Card verification key",
            "CVK for CVV/CVC and iCVV generation and checks.",
            a.TDES_2KEY,
            "C0",
            "C",
            "E",
            365 * 2,
            "CVK-{seq:04d}",
        ),
        _seed(
            "pvk",
            "PIN verification key",
            "PVK for Visa PVV generation and verification.",
            a.TDES_2KEY,
            "V2",
            "C",
            "E",
            365 * 2,
            "PVK-{seq:04d}",
        ),
        _seed(
            "emv-imk-ac",
            "EMV issuer master key (AC)",
            "Issuer master key for application cryptograms (ARQC/ARPC).",
            a.TDES_2KEY,
            "E0",
            "X",
            "E",
            365 * 5,
            "IMK-AC-{seq:04d}",
        ),
        _seed(
            "emv-imk-smi",
            "EMV issuer master key (SMI)",
            "Issuer master key for secure messaging integrity (script MACs).",
            a.TDES_2KEY,
            "E2",
            "X",
            "E",
            365 * 5,
            "IMK-SMI-{seq:04d}",
        ),
        _seed(
            "emv-imk-smc",
            "EMV issuer master key (SMC)",
            "Issuer master key for secure messaging confidentiality (script encryption).",
            a.TDES_2KEY,
            "E1",
            "X",
            "E",
            365 * 5,
            "IMK-SMC-{seq:04d}",
        ),
        _seed(
            "emv-issuer",
            "EMV issuer key pair",
            "Issuer RSA key pair for one BIN, certified by the card brand's CA (EMV 4.3 Book 2 "
            "5.1); it signs the ICC public key certificates and static data of the BIN's cards "
            "at personalisation. 1984 bits, the EMV maximum (Book 2 Annex B2.1); make a "
            "1408-bit template for a brand CA key of 1408 bits.",
            a.RSA_1984,
            # ANSI X9.143 has no key usage for an EMV issuer key pair (E0-E6 are issuer
            # master keys, E7 the ICC PIN encipherment pair), so a signature key pair, S0.
            "S0",
            "S",
            # Exportable under a KEK: the personalisation system's HSM signs with it.
            "E",
            365 * 5,
            "EMV-ISS-{bin}-{seq:04d}",
        ),
        _seed(
            "atm-epp",
            "ATM EPP key pair",
            "Key pair for an ATM encrypting PIN pad (remote key loading, ANSI X9.24-2).",
            a.RSA_2048,
            "D1",
            "B",
            "N",
            365 * 5,
            "EPP-{seq:05d}",
            actions=no_export,
        ),
        _seed(
            "atm-rkl-host",
            "ATM RKL host key pair",
            "The host's key pair for remote key loading to the ATMs of one vendor (ANSI "
            "X9.24-2): certified or signed by the vendor, handed to the host HSM in a bundle.",
            a.RSA_2048,
            "S0",
            "S",
            "E",
            365 * 3,
            "RKL-{seq:04d}",
        ),
        _seed(
            "tls-server",
            "TLS server key pair",
            "Key pair for a TLS server certificate.",
            a.EC_P256,
            "S0",
            "S",
            "E",
            397,
            "TLS-{date}-{seq:04d}",
        ),
    ]
