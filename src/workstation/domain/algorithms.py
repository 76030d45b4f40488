"""Key algorithms the workstation manages, and their properties."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from workstation.errors import BadInput


class KeyFamily(StrEnum):
    TDES = "TDES"
    AES = "AES"
    RSA = "RSA"
    EC = "EC"


class KeyAlgorithm(StrEnum):
    """An algorithm and length. The value is the name used in files, the CLI and the repository."""

    TDES_2KEY = "TDES-2KEY"  # double length, 112-bit keying option 2 (16 bytes)
    TDES_3KEY = "TDES-3KEY"  # triple length, keying option 1 (24 bytes)
    AES_128 = "AES-128"
    AES_192 = "AES-192"
    AES_256 = "AES-256"
    # EMV issuer key pairs: EMV 4.3 Book 2 Annex B2.1 caps an issuer or CA modulus at 1984
    # bits (248 bytes), and 5.1 wants the issuer's no longer than the brand CA's, so the
    # usual issuer sizes are 1408 and 1984 bits (a 2048-bit key cannot be certified).
    RSA_1408 = "RSA-1408"
    RSA_1984 = "RSA-1984"
    RSA_2048 = "RSA-2048"
    RSA_3072 = "RSA-3072"
    RSA_4096 = "RSA-4096"
    EC_P256 = "EC-P256"
    EC_P384 = "EC-P384"
    EC_P521 = "EC-P521"

    @property
    def family(self) -> KeyFamily:
        return KeyFamily(self.value.split("-")[0])

    @property
    def is_symmetric(self) -> bool:
        return self.family in (KeyFamily.TDES, KeyFamily.AES)

    @property
    def key_bytes(self) -> int:
        """Length of a secret key value in bytes (symmetric algorithms only)."""
        lengths = {
            KeyAlgorithm.TDES_2KEY: 16,
            KeyAlgorithm.TDES_3KEY: 24,
            KeyAlgorithm.AES_128: 16,
            KeyAlgorithm.AES_192: 24,
            KeyAlgorithm.AES_256: 32,
        }
        if self not in lengths:
            raise ValueError(f"{self.value} is not a secret-key algorithm")
        return lengths[self]

    @property
    def bits(self) -> int:
        """Nominal size: key bits for symmetric keys, modulus or curve size for key pairs."""
        if self.is_symmetric:
            return self.key_bytes * 8
        return int(self.value.split("-")[1].lstrip("P"))

    @property
    def curve(self) -> str:
        if self.family is not KeyFamily.EC:
            raise ValueError(f"{self.value} is not an elliptic-curve algorithm")
        return {"EC-P256": "secp256r1", "EC-P384": "secp384r1", "EC-P521": "secp521r1"}[self.value]

    @classmethod
    def parse(cls, text: str) -> KeyAlgorithm:
        """Accept the canonical names and a few common spellings, case-insensitively.

        >>> KeyAlgorithm.parse("aes256")
        <KeyAlgorithm.AES_256: 'AES-256'>
        >>> KeyAlgorithm.parse("p-384")
        <KeyAlgorithm.EC_P384: 'EC-P384'>
        """
        norm = text.strip().upper().replace("_", "-").replace(" ", "-")
        aliases = {
            "TDES-2K": "TDES-2KEY",
            "TDES-DOUBLE": "TDES-2KEY",
            "TDES-3K": "TDES-3KEY",
            "TDES-TRIPLE": "TDES-3KEY",
            "AES128": "AES-128",
            "AES192": "AES-192",
            "AES256": "AES-256",
            "RSA1408": "RSA-1408",
            "RSA1984": "RSA-1984",
            "RSA2048": "RSA-2048",
            "RSA3072": "RSA-3072",
            "RSA4096": "RSA-4096",
            "P-256": "EC-P256",
            "P256": "EC-P256",
            "EC-P-256": "EC-P256",
            "P-384": "EC-P384",
            "P384": "EC-P384",
            "EC-P-384": "EC-P384",
            "P-521": "EC-P521",
            "P521": "EC-P521",
            "EC-P-521": "EC-P521",
        }
        norm = aliases.get(norm, norm)
        try:
            return cls(norm)
        except ValueError:
            names = ", ".join(a.value for a in cls)
            raise BadInput(f"Unknown key algorithm {text!r}; use one of: {names}.") from None


def key_pair_algorithms(*, min_rsa_bits: int = 0) -> tuple[KeyAlgorithm, ...]:
    """The key pair algorithms, RSA ones from ``min_rsa_bits`` up, in declaration order.

    >>> [a.value for a in key_pair_algorithms(min_rsa_bits=2048)][:2]
    ['RSA-2048', 'RSA-3072']
    """
    return tuple(
        a
        for a in KeyAlgorithm
        if not a.is_symmetric and (a.family is not KeyFamily.RSA or a.bits >= min_rsa_bits)
    )


def rsa_algorithm(bits: int) -> KeyAlgorithm | None:
    """The RSA algorithm of a modulus of ``bits`` bits, or None if the workstation has none.

    >>> rsa_algorithm(1984)
    <KeyAlgorithm.RSA_1984: 'RSA-1984'>
    >>> rsa_algorithm(1024) is None
    True
    """
    return next((a for a in KeyAlgorithm if a.family is KeyFamily.RSA and a.bits == bits), None)


def name_list(algorithms: Iterable[KeyAlgorithm]) -> str:
    """Algorithm names for a message: "A, B or C".

    >>> name_list([KeyAlgorithm.RSA_2048, KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P384])
    'RSA-2048, EC-P256 or EC-P384'
    """
    names = [a.value for a in algorithms]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
