"""m-of-n secret sharing for the backup of the workstation's keys.

The backup's transport key is split so that any ``threshold`` of ``count`` holders can
recover it and fewer learn nothing about it: PCI PIN Security Requirement 8-2 allows such
"secret sharing" (Shamir's scheme) in place of XOR components when not every holder can be
required to be present.

Construction (A. Shamir, "How to share a secret", CACM 22(11), 1979): each byte ``s`` of
the secret is the constant term of its own random polynomial
``f(x) = s + a1·x + ... + a(t-1)·x^(t-1)`` over the field GF(2^8), the coefficients drawn
uniformly from the random source. Share ``i`` (``i`` = 1 to ``count``) holds ``f(i)`` for
every byte. Any ``t`` shares determine ``f`` and so ``f(0) = s`` by Lagrange interpolation;
``t - 1`` shares are consistent with every value of ``s``, equally.

The field is GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11B, FIPS 197
§4.2), so every share byte is one byte and shares are as long as the secret. Addition is
XOR; multiplication and inversion use logarithm tables to the generator 0x03, built once at
import. Tables are simpler to check than carry-less multiplication and make inversion a
lookup; in Python no arithmetic is constant-time anyway, which is acceptable here because
the split and the recovery run once, during a ceremony, on the offline workstation.

>>> secret = bytearray.fromhex("00112233445566778899AABBCCDDEEFF")
>>> counter = iter(range(1, 256))
>>> def not_random(n):  # a fixed source, for the example only
...     return bytearray(next(counter) for _ in range(n))
>>> shares = split_secret(secret, threshold=2, count=3, random_bytes=not_random,
...                       set_id="1A2B3C4D")
>>> [share.index for share in shares]
[1, 2, 3]
>>> combine_shares([shares[2], shares[0]]).hex().upper()
'00112233445566778899AABBCCDDEEFF'
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from workstation.domain.components import (  # the same wording in both modules
    _count,
    _describe,
    _enumerate_words,
    _were,
    _wipe,
)
from workstation.errors import BadInput, WorkstationError

__all__ = [
    "MAX_SECRET_BYTES",
    "MAX_SHARES",
    "MIN_THRESHOLD",
    "Share",
    "ShareError",
    "combine_shares",
    "new_set_id",
    "parse_share_value",
    "split_secret",
]

MIN_THRESHOLD = 2
# Share indexes are single hex digits on the mailers, and 16 holders is already more than any
# backup needs. (GF(2^8) itself would allow 255.)
MAX_SHARES = 16
MAX_SECRET_BYTES = 64  # room for any key the workstation backs up (AES-256 is 32)

_SET_ID_DIGITS = 8
_UPPER_HEX = frozenset("0123456789ABCDEF")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_CHECK_VALUE_DOMAIN = b"KCW share v1"


class ShareError(BadInput):
    """A share, a set of shares or a request to split is not acceptable; the message says why."""


# --- GF(2^8) -----------------------------------------------------------------------------


def _build_tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    exp = [0] * 510  # doubled so that exp[log a + log b] needs no reduction mod 255
    log = [0] * 256
    x = 1
    for power in range(255):
        exp[power] = exp[power + 255] = x
        log[x] = power
        # x·3 = x·2 XOR x, where x·2 is a shift reduced by the AES polynomial.
        doubled = x << 1
        if doubled & 0x100:
            doubled ^= 0x11B
        x = doubled ^ x
    return tuple(exp), tuple(log)


_EXP, _LOG = _build_tables()


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    # b is never 0 here: it is a difference of two distinct share indexes.
    if a == 0:
        return 0
    return _EXP[_LOG[a] + 255 - _LOG[b]]


def _lagrange_weights(xs: Sequence[int], at: int) -> list[int]:
    """The weights w_i with f(at) = sum of w_i·f(x_i), for any f of degree < len(xs)."""
    weights = []
    for i, xi in enumerate(xs):
        weight = 1
        for j, xj in enumerate(xs):
            if i != j:
                # (at - x_j) / (x_i - x_j); subtraction is XOR in GF(2^8).
                weight = _mul(weight, _div(at ^ xj, xi ^ xj))
        weights.append(weight)
    return weights


# --- shares ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """One holder's share of a secret.

    Attributes
    ----------
    set_id
        The backup set it belongs to: 8 upper-case hex digits, the same on every share.
    index
        The share's number and x-coordinate, 1 to ``count``.
    threshold
        How many shares recover the secret.
    count
        How many shares were made.
    value
        The share itself, as long as the secret; left out of ``repr``. ``wipe()`` when done.
    """

    set_id: str
    index: int
    threshold: int
    count: int
    value: bytearray = field(repr=False)

    def __post_init__(self) -> None:
        _check_set_id(self.set_id)
        _check_split(self.threshold, self.count)
        if not 1 <= self.index <= self.count:
            raise ShareError(
                f"Share {self.index} does not exist: the shares of a {self.threshold}-of-"
                f"{self.count} backup are numbered 1 to {self.count}."
            )
        if not 1 <= len(self.value) <= MAX_SECRET_BYTES:
            raise ShareError(
                f"Share {self.index} holds {_count(len(self.value), 'byte')}; a share holds "
                f"1 to {MAX_SECRET_BYTES}."
            )

    @property
    def check_value(self) -> str:
        """6 upper-case hex digits printed on the share mailer, to check what was typed.

        The first 3 bytes of SHA-256 over a domain-separated encoding of the share, its set
        and its place in the set, so a share typed against the wrong set or number fails too.
        24 bits reveal nothing useful about the secret: the share alone is independent of it.

        >>> Share("1A2B3C4D", 1, 2, 3, bytearray(16)).check_value
        '732494'
        """
        digest = hashlib.sha256()
        digest.update(_CHECK_VALUE_DOMAIN)
        digest.update(self.set_id.encode("ascii"))
        digest.update(bytes([self.threshold, self.count, self.index]))
        digest.update(self.value)
        return digest.digest()[:3].hex().upper()

    def wipe(self) -> None:
        """Overwrite the share's value with zeros."""
        self.value[:] = bytes(len(self.value))


def split_secret(
    secret: bytes | bytearray,
    *,
    threshold: int,
    count: int,
    random_bytes: Callable[[int], bytearray],
    set_id: str,
) -> list[Share]:
    """Split ``secret`` into ``count`` shares of which any ``threshold`` recover it.

    Parameters
    ----------
    secret
        1 to 64 bytes; not wiped here.
    threshold
        How many shares recover the secret: 2 to ``count``.
    count
        How many shares to make: ``threshold`` to 16.
    random_bytes
        The random source for the polynomial coefficients, normally the HSM's generator.
    set_id
        The backup set's name, from ``new_set_id``.

    Returns
    -------
    list of Share
        Shares 1 to ``count``, in order; the caller wipes them once printed.

    Raises
    ------
    ShareError
        For a threshold or count out of range, a secret of the wrong length or a bad set id.
    """
    _check_split(threshold, count)
    _check_set_id(set_id)
    if not 1 <= len(secret) <= MAX_SECRET_BYTES:
        raise ShareError(
            f"The secret is {_count(len(secret), 'byte')} long; it must be 1 to "
            f"{MAX_SECRET_BYTES} bytes."
        )
    length = len(secret)
    needed = (threshold - 1) * length
    # coefficients[k * length + j] is the coefficient of x^(k+1) in byte j's polynomial.
    coefficients = random_bytes(needed)
    values: list[bytearray] = []
    try:
        if len(coefficients) != needed:
            # The random source broke its contract: a failure, not the custodian's input.
            raise WorkstationError(
                f"The random generator returned {len(coefficients)} bytes, not {needed}."
            )
        for x in range(1, count + 1):
            value = bytearray(length)
            values.append(value)
            for j in range(length):
                # Horner's rule from the highest coefficient down to the secret byte.
                y = 0
                for k in range(threshold - 2, -1, -1):
                    y = _mul(y, x) ^ coefficients[k * length + j]
                value[j] = _mul(y, x) ^ secret[j]
        return [Share(set_id, x, threshold, count, value) for x, value in enumerate(values, 1)]
    except BaseException:
        for value in values:
            _wipe(value)
        raise
    finally:
        _wipe(coefficients)


def combine_shares(shares: Sequence[Share]) -> bytearray:
    """Recover the secret from ``threshold`` or more shares of one set.

    The first ``threshold`` shares, in the order given, determine the secret; any further
    shares must lie on the same polynomials, so that a mistyped share shows up instead of
    silently giving a wrong secret.

    Parameters
    ----------
    shares
        Shares of one backup set, each index at most once.

    Returns
    -------
    bytearray
        The secret; the caller wipes it when done.

    Raises
    ------
    ShareError
        Fewer shares than the threshold, a share given twice, shares from different sets or
        splits or of different lengths, or a share that does not agree with the others.
    """
    if not shares:
        raise ShareError("No shares were given.")
    first = shares[0]
    seen: set[int] = set()
    for share in shares:
        if share.set_id != first.set_id:
            raise ShareError(
                f"Share {share.index} belongs to backup set {share.set_id}, not {first.set_id}."
            )
        if (share.threshold, share.count) != (first.threshold, first.count):
            raise ShareError(
                f"Share {share.index} is from a {share.threshold}-of-{share.count} split, "
                f"not the {first.threshold}-of-{first.count} split of share {first.index}."
            )
        if len(share.value) != len(first.value):
            raise ShareError(
                f"Share {share.index} holds {_count(len(share.value), 'byte')}, not the "
                f"{len(first.value)} of share {first.index}."
            )
        if share.index in seen:
            raise ShareError(f"Share {share.index} was given more than once.")
        seen.add(share.index)
    if len(shares) < first.threshold:
        raise ShareError(
            f"{first.threshold} shares are needed to recover; {_were(len(shares))} given."
        )

    basis = shares[: first.threshold]
    xs = [share.index for share in basis]
    secret = _interpolate(basis, _lagrange_weights(xs, 0))
    for extra in shares[first.threshold :]:
        weights = _lagrange_weights(xs, extra.index)
        expected = _interpolate(basis, weights)
        agrees = expected == extra.value
        _wipe(expected)
        if not agrees:
            _wipe(secret)
            names = _enumerate_words([str(x) for x in xs])
            raise ShareError(
                f"Share {extra.index} does not agree with shares {names}: one of them was "
                "typed wrongly. Compare each with the check value on its mailer."
            )
    return secret


def _interpolate(basis: Sequence[Share], weights: Sequence[int]) -> bytearray:
    result = bytearray(len(basis[0].value))
    for share, weight in zip(basis, weights, strict=True):
        for j, byte in enumerate(share.value):
            result[j] ^= _mul(weight, byte)
    return result


def parse_share_value(text: str, *, length: int, index: int) -> bytearray:
    """A share's value as typed by its holder.

    Upper- or lower-case hex digits, optionally separated by white space or dashes.

    Parameters
    ----------
    text
        What was typed.
    length
        The share's length in bytes (the secret's length).
    index
        The share's number, named in the messages.

    Returns
    -------
    bytearray
        The value; the caller wipes it (or the Share made from it) when done.

    Raises
    ------
    ShareError
        Naming the first character that is not a hex digit (positions count hex digits from
        1, separators not counted) or the wrong number of digits.

    Examples
    --------
    >>> parse_share_value("0a1b-2C3D", length=4, index=2).hex()
    '0a1b2c3d'
    >>> try:
    ...     parse_share_value("0A1B 2C", length=4, index=2)
    ... except ShareError as error:
    ...     print(error)
    Share 2 is 6 hex digits long; it should have 8.
    """
    digits: list[str] = []
    for char in text:
        if char == "-" or char.isspace():
            continue
        if char not in _HEX_DIGITS:
            raise ShareError(
                f"Share {index} contains {_describe(char)} at position {len(digits) + 1}, "
                "which is not a hex digit."
            )
        digits.append(char)
    needed = 2 * length
    if not digits:
        raise ShareError(f"Share {index} is empty; it should have {needed} hex digits.")
    if len(digits) != needed:
        raise ShareError(
            f"Share {index} is {_count(len(digits), 'hex digit')} long; it should have {needed}."
        )
    return bytearray.fromhex("".join(digits))


def new_set_id(random_bytes: Callable[[int], bytearray]) -> str:
    """A fresh backup set id: 8 upper-case hex digits from 4 random bytes.

    >>> new_set_id(lambda n: bytearray(range(0x1A, 0x1A + n)))
    '1A1B1C1D'
    """
    value = random_bytes(_SET_ID_DIGITS // 2)
    if len(value) != _SET_ID_DIGITS // 2:
        raise WorkstationError(
            f"The random generator returned {len(value)} bytes, not {_SET_ID_DIGITS // 2}."
        )
    return value.hex().upper()


# --- helpers -----------------------------------------------------------------------------


def _check_set_id(set_id: str) -> None:
    if len(set_id) != _SET_ID_DIGITS or not set(set_id) <= _UPPER_HEX:
        raise ShareError(
            f"Backup set {set_id!r} is not named by {_SET_ID_DIGITS} upper-case hex digits."
        )


def _check_split(threshold: int, count: int) -> None:
    if not MIN_THRESHOLD <= count <= MAX_SHARES:
        raise ShareError(
            f"A backup is split into {MIN_THRESHOLD} to {MAX_SHARES} shares; "
            f"{_were(count)} asked for."
        )
    if not MIN_THRESHOLD <= threshold <= count:
        raise ShareError(
            f"The number of shares needed to recover must be from {MIN_THRESHOLD} to the "
            f"number of shares ({count}); {threshold} was asked for."
        )
