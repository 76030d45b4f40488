"""Certificates of key pairs as plain Python: the rows of the Certificates page and the two
wizards, "Request a certificate" and "Import a certificate".

The wizards are flows over named steps, as in :mod:`workstation.flows.wizards`: a
``validate_*`` method says what is wrong with a step's input, by field; the matching
``set_*``/``choose`` method stores accepted input (or raises
:class:`~workstation.flows.wizards.FlowError`); ``advance()`` moves on. The certificate
service is reached only through callables passed in (the service with the session bound),
so the Qt wizards run them on the device thread and the tests pass fakes. The service
checks every rule again when the work runs (the quorum, the key pair's state and template,
the profile, the chain, the signatures, validity, usage, revocation, the public key): a
flow only catches mistakes early, next to the field that holds them.

- :class:`CertificateRow` and :func:`certificate_rows`: a key pair and one of its
  certificates (or none) as the page shows it, with the days left and how urgent they are.
- :class:`RequestFlow`: a PKCS#10 request signed by a key pair inside the HSM, with a
  profile (subject, subject alternative names, key usage, extended key usage, CA), written
  as PEM or DER to a new file.
- :class:`ImportCertificateFlow`: an issued certificate (PEM, DER, PEM bundle or PKCS #7),
  the partner whose trust anchors and CRLs check it, optional chain files and the usage it
  must allow; the result is the validated facts or the refusal in full.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from workstation.domain.algorithms import KeyAlgorithm, KeyFamily
from workstation.domain.certificates import CertificateRecord, CertificateStatus
from workstation.domain.expiry import days_left
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.partners import Partner
from workstation.domain.templates import KeyTemplate
from workstation.errors import BadInput
from workstation.flows.interchange import LoadedFile
from workstation.flows.wizards import (
    FieldErrors,
    FlowError,
    QuorumShown,
    StepInfo,
    _Flow,
)
from workstation.services.certificates import (
    REQUEST_FORMATS,
    CertificateRequest,
    KeyPairCertificates,
    KeyPairList,
)
from workstation.services.logon import Requirement
from workstation.standards import pkix

__all__ = [
    "EKU_CHOICES",
    "FORMATS",
    "KEY_USAGE_CHOICES",
    "SOON_DAYS",
    "CertificateData",
    "CertificateRow",
    "ImportCertificate",
    "ImportCertificateFlow",
    "ImportOutcome",
    "ImportStep",
    "ProfileDefaults",
    "ProfileInput",
    "RequestFlow",
    "RequestStep",
    "SignRequest",
    "Urgency",
    "certificate_facts",
    "certificate_rows",
    "days_left",
    "file_lines",
    "new_file_problem",
    "overview",
    "pair_line",
    "profile_defaults",
    "profile_errors",
    "split_names",
    "subject_status",
    "usable_key_usages",
]

SOON_DAYS = 30  # a certificate this close to its end is flagged (amber) on the page

# RFC 5280 4.2.1.3, by the names standards.pkix uses, as a custodian reads them.
KEY_USAGE_CHOICES: Mapping[str, str] = {
    "digital_signature": "Digital signature",
    "non_repudiation": "Non-repudiation (content commitment)",
    "key_encipherment": "Key encipherment",
    "data_encipherment": "Data encipherment",
    "key_agreement": "Key agreement",
    "key_cert_sign": "Certificate signing (CA)",
    "crl_sign": "CRL signing",
    "encipher_only": "Encipher only (with key agreement)",
    "decipher_only": "Decipher only (with key agreement)",
}
# RFC 3279 2.3.1 (rsaEncryption) and RFC 5480 3 (id-ecPublicKey): what each key may assert.
_NOT_FOR_RSA = frozenset({"key_agreement", "encipher_only", "decipher_only"})
_NOT_FOR_EC = frozenset({"key_encipherment", "data_encipherment"})

# RFC 5280 4.2.1.12 key purposes by name.
EKU_CHOICES: Mapping[str, str] = {
    "server_auth": "TLS server authentication",
    "client_auth": "TLS client authentication",
    "code_signing": "Code signing",
    "email_protection": "E-mail protection",
    "time_stamping": "Time stamping",
    "ocsp_signing": "OCSP signing",
}

FORMATS: Mapping[str, str] = {
    "pem": "PEM — text, -----BEGIN CERTIFICATE REQUEST----- (most CAs)",
    "der": "DER — binary (CAs and HSM tools that ask for a .der or .p10 file)",
}
assert tuple(FORMATS) == REQUEST_FORMATS

_SUFFIX = {"pem": ".csr", "der": ".der"}
_NAME_SEPARATORS = re.compile(r"[\s,;]+")
_PROFILE_FIELDS = {
    "subject": "subject",
    "dns_names": "dns_names",
    "ip_addresses": "ip_addresses",
    "emails": "emails",
    "key_usage": "key_usage",
    "extended_key_usage": "extended_key_usage",
    "ca": "ca",
    "path_length": "ca",
}
_SUBJECT_EXAMPLE = "CN=host.bank.example,O=Bank,C=GB"


# --- wording shared by the page and the wizards -------------------------------------------


def _state(key: ManagedKey) -> str:
    return "pre-active" if key.state is KeyState.PRE_ACTIVATION else key.state.value


def _day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}"


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


class Urgency(StrEnum):
    NONE = "none"  # no current certificate to watch (none at all, or superseded)
    OK = "ok"
    SOON = "soon"  # ends within SOON_DAYS days
    EXPIRED = "expired"


def split_names(text: str) -> tuple[str, ...]:
    """The names of a field where they are typed one a line or separated by commas,
    semicolons or spaces (none of which a DNS name, IP address or mailbox holds).

    >>> split_names(" host.bank.example, www.bank.example\\n\\n10.0.0.1 ")
    ('host.bank.example', 'www.bank.example', '10.0.0.1')
    """
    return tuple(name for name in _NAME_SEPARATORS.split(text) if name)


def pair_line(pair: KeyPairCertificates) -> str:
    """How a key pair appears in a wizard's list."""
    key = pair.key
    current = pair.current
    certificate = (
        f"certificate to {_day(current.not_after)}" if current is not None else "no certificate"
    )
    return (
        f"{key.label} — {key.algorithm.value}, {pair.template_name}, {_state(key)}, {certificate}"
    )


def usable_key_usages(algorithm: KeyAlgorithm) -> tuple[str, ...]:
    """The keyUsage bits a key of ``algorithm`` may assert (RFC 3279 2.3.1, RFC 5480 3).

    >>> "key_agreement" in usable_key_usages(KeyAlgorithm.RSA_2048)
    False
    >>> "key_encipherment" in usable_key_usages(KeyAlgorithm.EC_P256)
    False
    """
    unfit = _NOT_FOR_RSA if algorithm.family is KeyFamily.RSA else _NOT_FOR_EC
    return tuple(u for u in KEY_USAGE_CHOICES if u not in unfit)


def _names_of(
    certificate: x509.Certificate,
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The certificate's subjectAltName DNS names, IP addresses and mailboxes."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return (), (), ()
    return (
        tuple(str(n) for n in san.get_values_for_type(x509.DNSName)),
        tuple(str(a) for a in san.get_values_for_type(x509.IPAddress)),
        tuple(str(m) for m in san.get_values_for_type(x509.RFC822Name)),
    )


def _leaf(record: CertificateRecord) -> x509.Certificate | None:
    """The certificate itself: the first of the record's PEM chain."""
    try:
        return x509.load_pem_x509_certificates(record.pem.encode())[0]
    except (ValueError, IndexError):
        return None


def _usages_of(certificate: x509.Certificate) -> tuple[list[str], list[str]]:
    """(keyUsage names, extendedKeyUsage names or dotted OIDs) of a certificate."""
    usages: list[str] = []
    purposes: list[str] = []
    try:
        ku = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        pass
    else:
        bits = {
            "digital_signature": ku.digital_signature,
            "non_repudiation": ku.content_commitment,
            "key_encipherment": ku.key_encipherment,
            "data_encipherment": ku.data_encipherment,
            "key_agreement": ku.key_agreement,
            "key_cert_sign": ku.key_cert_sign,
            "crl_sign": ku.crl_sign,
            "encipher_only": ku.key_agreement and ku.encipher_only,
            "decipher_only": ku.key_agreement and ku.decipher_only,
        }
        usages = [name for name, on in bits.items() if on]
    try:
        eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        pass
    else:
        names = {
            "1.3.6.1.5.5.7.3.1": "server_auth",
            "1.3.6.1.5.5.7.3.2": "client_auth",
            "1.3.6.1.5.5.7.3.3": "code_signing",
            "1.3.6.1.5.5.7.3.4": "email_protection",
            "1.3.6.1.5.5.7.3.8": "time_stamping",
            "1.3.6.1.5.5.7.3.9": "ocsp_signing",
        }
        purposes = [names.get(oid.dotted_string, oid.dotted_string) for oid in eku]
    return usages, purposes


def certificate_facts(record: CertificateRecord, now: datetime) -> list[tuple[str, str]]:
    """What a kept certificate says, in words: the record's facts (read and checked at
    import) and, from the certificate itself, its names and usage."""
    left = days_left(record.not_after, now)
    ends = (
        f"{_when(record.not_after)} (expired {-left} day{'s' if left != -1 else ''} ago)"
        if record.not_after <= now
        else f"{_when(record.not_after)} ({left} day{'s' if left != 1 else ''} left)"
    )
    rows = [
        ("Key pair", record.key_label),
        ("Subject", record.subject),
        ("Issuer", record.issuer),
        ("Serial", record.serial),
        ("Valid from", _when(record.not_before)),
        ("Valid to", ends),
        ("Status", record.status.value),
    ]
    leaf = _leaf(record)
    if leaf is not None:
        dns, ips, emails = _names_of(leaf)
        usages, purposes = _usages_of(leaf)
        if dns or ips or emails:
            rows.append(("Alternative names", ", ".join((*dns, *ips, *emails))))
        rows.append(("Key usage", ", ".join(usages) or "(no keyUsage extension)"))
        rows.append(("Extended key usage", ", ".join(purposes) or "(no extendedKeyUsage)"))
    chain = record.pem.count("-----BEGIN CERTIFICATE-----")
    rows += [
        ("SHA-256 fingerprint", record.fingerprint),
        ("Trust anchor", record.anchor),
        ("Checked for", record.partner),
        ("Chain kept", f"{chain} certificate{'s' if chain != 1 else ''} (anchor not included)"),
        ("Imported", _when(record.imported_at)),
    ]
    return rows


# --- the page's rows -----------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateRow:
    """A key pair and one of its certificates (None: it has no current certificate), as
    read at ``now``."""

    pair: KeyPairCertificates
    certificate: CertificateRecord | None
    now: datetime

    @property
    def key(self) -> ManagedKey:
        return self.pair.key

    @property
    def superseded(self) -> bool:
        c = self.certificate
        return c is not None and c.status is CertificateStatus.SUPERSEDED

    @property
    def days_left(self) -> int | None:
        c = self.certificate
        return days_left(c.not_after, self.now) if c is not None else None

    @property
    def urgency(self) -> Urgency:
        c = self.certificate
        if c is None or c.status is not CertificateStatus.CURRENT:
            return Urgency.NONE
        if c.not_after <= self.now:
            return Urgency.EXPIRED
        left = self.days_left
        return Urgency.SOON if left is not None and left <= SOON_DAYS else Urgency.OK

    @property
    def state(self) -> str:
        return _state(self.key)

    @property
    def days_text(self) -> str:
        if self.certificate is None:
            return "—"
        left = self.days_left
        assert left is not None
        if self.certificate.not_after <= self.now:
            return "expired"
        return str(left)

    @property
    def status(self) -> str:
        c = self.certificate
        if c is None:
            refusal = self.pair.refusal
            if refusal is not None and self.key.state in (
                KeyState.PRE_ACTIVATION,
                KeyState.ACTIVE,
            ):
                return "no certificate (not allowed)"
            return "no certificate"
        if c.status is CertificateStatus.SUPERSEDED:
            return "superseded"
        urgency = self.urgency
        if urgency is Urgency.EXPIRED:
            return "expired: renew"
        if urgency is Urgency.SOON:
            return "current: renew soon"
        return "current"

    def cells(self) -> tuple[str, ...]:
        """Key pair, template, state, subject, not after, days left, status, issuer, serial:
        what falls due first, then who issued it."""
        c = self.certificate
        return (
            self.key.label,
            self.pair.template_name,
            self.state,
            c.subject if c else "",
            _day(c.not_after) if c else "",
            self.days_text,
            self.status,
            c.issuer if c else "",
            c.serial if c else "",
        )

    def detail_rows(self) -> list[tuple[str, str]]:
        key = self.key
        rows = [
            ("Key pair", f"{key.label} ({key.algorithm.value}, {self.state})"),
            ("Template", self.pair.template_name),
            ("Public key check value", key.kcv),
            ("Key usage (TR-31)", f"{key.key_usage}, mode {key.mode_of_use}"),
        ]
        if self.certificate is None:
            refusal = self.pair.refusal
            rows.append(
                (
                    "Certificate",
                    "None yet: Request certificate… makes the request; Import certificate… "
                    "keeps what the CA returns."
                    if refusal is None
                    else f"None. {refusal}",
                )
            )
            return rows
        facts = certificate_facts(self.certificate, self.now)
        return rows + [(name, value) for name, value in facts if name != "Key pair"]

    @property
    def pem(self) -> str:
        return self.certificate.pem if self.certificate is not None else ""


def certificate_rows(listing: KeyPairList, *, superseded: bool = False) -> list[CertificateRow]:
    """One row per key pair with its current certificate (or none), by label; with
    ``superseded``, each pair's superseded certificates follow it, newest expiry first."""
    rows: list[CertificateRow] = []
    for pair in listing.pairs:
        rows.append(CertificateRow(pair, pair.current, listing.read_at))
        if superseded:
            rows += [
                CertificateRow(pair, c, listing.read_at)
                for c in pair.certificates
                if c.status is CertificateStatus.SUPERSEDED
            ]
    return rows


def overview(listing: KeyPairList) -> str:
    """The page's count line.

    >>> from datetime import UTC, datetime
    >>> overview(KeyPairList((), datetime(2026, 1, 1, tzinfo=UTC)))
    'No key pair yet.'
    """
    pairs = listing.pairs
    if not pairs:
        return "No key pair yet."
    rows = [CertificateRow(p, p.current, listing.read_at) for p in pairs]
    certified = sum(1 for r in rows if r.certificate is not None)
    soon = sum(1 for r in rows if r.urgency is Urgency.SOON)
    expired = sum(1 for r in rows if r.urgency is Urgency.EXPIRED)
    n = len(pairs)
    text = f"{n} key pair{'s' if n != 1 else ''}, {certified} with a current certificate"
    if soon:
        text += f"; {soon} expire{'s' if soon == 1 else ''} within {SOON_DAYS} days"
    if expired:
        text += f"; {expired} expired"
    if listing.truncated:
        text += " (the list is cut short: too many key pairs)"
    return text + "."


# --- what the wizards choose from ----------------------------------------------------------


@dataclass(frozen=True)
class CertificateData:
    """What the certificate wizards choose from, read in one go when a wizard opens."""

    pairs: tuple[KeyPairCertificates, ...] = ()
    partners: tuple[Partner, ...] = ()
    truncated: bool = False

    def pair(self, label: str | None) -> KeyPairCertificates | None:
        wanted = (label or "").strip()
        return next((p for p in self.pairs if p.key.label == wanted), None)

    def certifiable(self) -> list[KeyPairCertificates]:
        return [p for p in self.pairs if p.refusal is None]

    def partner(self, name: str | None) -> Partner | None:
        wanted = (name or "").strip().casefold()
        return next((p for p in self.partners if p.name.casefold() == wanted), None)

    @property
    def partner_names(self) -> list[str]:
        return sorted((p.name for p in self.partners), key=str.casefold)


def _key_errors(data: CertificateData, label: str | None) -> FieldErrors:
    if not (label or "").strip():
        if not data.pairs:
            return {
                "key": "There is no key pair yet: generate one on the Keys page from a "
                "key-pair template (TLS server key pair, ATM RKL host key pair, …)."
            }
        return {"key": "Choose the key pair."}
    pair = data.pair(label)
    if pair is None:
        return {"key": f"No key pair labelled {label!r}."}
    problem = pair.refusal
    return {"key": problem} if problem else {}


def new_file_problem(path: Path | None, what: str) -> str | None:
    """Why ``path`` cannot take a new file (none given, it exists, no such folder), or None."""
    if path is None:
        return f"Choose where the {what} is saved."
    target = path.expanduser()
    if target.exists():
        return f"{target} exists; choose a new file name for the {what} (nothing is overwritten)."
    if not target.parent.is_dir():
        return f"The folder {target.parent} does not exist."
    return None


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "key-pair"


# --- the request's profile ------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileDefaults:
    """What a request asks for unless the person changes it."""

    key_usage: frozenset[str]
    extended_key_usage: tuple[str, ...] = ()
    ca: bool = False


def profile_defaults(key: ManagedKey, template: KeyTemplate | None) -> ProfileDefaults:
    """Sensible defaults from the key pair's TR-31 usage (ANSI X9.143 Table 6) and its
    template, within what the key type allows (RFC 3279 2.3.1, RFC 5480 3).

    - S1 (CA key): a CA, certificate and CRL signing (RFC 5280 4.2.1.3, 4.2.1.9).
    - S0, S2 (signature): digital signature; a TLS template adds the TLS purpose
      (``server_auth``, or ``client_auth`` for a client template: RFC 5280 4.2.1.12) and,
      for an RSA server key, key encipherment (TLS 1.2 RSA key transport, RFC 5246 7.4.2).
    - K2 (TR-34): digital signature and key encipherment (RSA; TR-34 KDH signs, KRD
      unwraps) or key agreement (EC).
    - K3, D1 (key agreement or wrapping, data encryption): key encipherment for RSA, key
      agreement for EC.

    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> key = ManagedKey("k", "TLS-1", "t", KeyAlgorithm.EC_P256, "S0", "S", "E", "0A1B2C",
    ...     b"w", b"p", KeyState.ACTIVE, 1, t, t, t)
    >>> profile_defaults(key, None)
    ProfileDefaults(key_usage=frozenset({'digital_signature'}), extended_key_usage=(), ca=False)
    """
    rsa = key.algorithm.family is KeyFamily.RSA
    name = (template.name if template is not None else "").casefold()
    usage = key.key_usage
    if usage == "S1":
        return ProfileDefaults(
            frozenset({"key_cert_sign", "crl_sign", "digital_signature"}), ca=True
        )
    if usage == "K2":
        return ProfileDefaults(
            frozenset({"digital_signature", "key_encipherment" if rsa else "key_agreement"})
        )
    if usage in ("K3", "D1"):
        return ProfileDefaults(frozenset({"key_encipherment" if rsa else "key_agreement"}))
    if "tls" in name:
        client = "client" in name
        usages = {"digital_signature"}
        if rsa and not client:
            usages.add("key_encipherment")
        return ProfileDefaults(frozenset(usages), ("client_auth" if client else "server_auth",))
    return ProfileDefaults(frozenset({"digital_signature"}))


def subject_status(text: str) -> tuple[bool, str]:
    """Whether ``text`` is a subject the request accepts (RFC 4514, as
    :class:`~workstation.standards.pkix.Profile` reads it), and what to show beside it.

    >>> subject_status("CN=host.bank.example,O=Bank,C=GB")
    (True, 'RFC 4514 name: CN, O, C.')
    >>> subject_status("CN=host,C=gb")
    (False, "C must be two capital letters (ISO 3166-1 alpha-2), not 'gb'.")
    >>> subject_status("CN=host,,O=Bank")
    (False, 'The subject has an empty RDN (a comma at an end, or two together).')
    """
    if not text.strip():
        return False, f"Type the subject, most specific first, e.g. {_SUBJECT_EXAMPLE}."
    try:
        pkix.Profile(subject=text)
    except pkix.PkixError as e:
        message = str(e)
        if message.startswith("subject: "):
            rest = message[len("subject: ") :]
            return False, f"{rest[:1].upper()}{rest[1:]}."
        if message.startswith("subject "):
            return False, f"The {message}."
        return False, message
    types = [part.partition("=")[0] for part in re.split(r"(?<!\\),", text)]
    return True, f"RFC 4514 name: {', '.join(types)}."


@dataclass(frozen=True)
class ProfileInput:
    """The profile as typed on the wizard's page."""

    subject: str = ""
    dns_names: str = ""
    ip_addresses: str = ""
    emails: str = ""
    key_usage: frozenset[str] = frozenset()
    extended_key_usage: tuple[str, ...] = ()  # names of EKU_CHOICES
    other_purposes: str = ""  # dotted OIDs
    ca: bool = False

    def purposes(self) -> tuple[str, ...]:
        return (*self.extended_key_usage, *split_names(self.other_purposes))

    def usage_problem(self) -> str | None:
        """The key usage against the CA flag, in the form's words (RFC 5280 4.2.1.3:
        keyCertSign only in a CA certificate; encipherOnly and decipherOnly only with
        keyAgreement), or None."""
        usages = self.key_usage
        cert_sign = KEY_USAGE_CHOICES["key_cert_sign"]
        if self.ca and "key_cert_sign" not in usages:
            return f"A CA certificate needs the key usage {cert_sign}."
        if not self.ca and "key_cert_sign" in usages:
            return f"{cert_sign} is for a CA: ask for a CA certificate, or leave it out."
        if usages & {"encipher_only", "decipher_only"} and "key_agreement" not in usages:
            return "Encipher only and decipher only qualify key agreement: tick it too."
        return None

    def profile(self) -> pkix.Profile:
        """The pkix profile (raises :class:`~workstation.standards.pkix.PkixError`)."""
        return pkix.Profile(
            subject=self.subject.strip(),
            dns_names=split_names(self.dns_names),
            ip_addresses=split_names(self.ip_addresses),
            emails=split_names(self.emails),
            key_usage=frozenset(self.key_usage),
            extended_key_usage=self.purposes(),
            ca=self.ca,
        )


def _profile_problem(field_name: str, error: pkix.PkixError) -> tuple[str, str]:
    """(form field, message) of a pkix refusal, which starts with the profile's field."""
    message = str(error)
    head = re.match(r"([a-z_]+)(: | )", message)
    if head is None or head.group(1) not in _PROFILE_FIELDS:
        return field_name, message
    rest = message[head.end() :]
    if head.group(2) == " ":  # "dns_names must be ..."
        return _PROFILE_FIELDS[head.group(1)], message
    return _PROFILE_FIELDS[head.group(1)], rest[:1].upper() + rest[1:]


def profile_errors(values: ProfileInput, algorithm: KeyAlgorithm | None) -> FieldErrors:
    """What is wrong with each field of a profile, all at once (each field checked on its
    own by pkix, then together, then against the key type)."""
    errors: FieldErrors = {}
    ok, text = subject_status(values.subject)
    if not ok:
        errors["subject"] = text
    usage = values.usage_problem()
    if usage is not None:
        errors["key_usage"] = usage
    stand_in = "CN=stand-in"  # a valid subject, so each other field is judged alone
    singles: list[tuple[str, dict[str, Any]]] = [
        ("dns_names", {"dns_names": split_names(values.dns_names)}),
        ("ip_addresses", {"ip_addresses": split_names(values.ip_addresses)}),
        ("emails", {"emails": split_names(values.emails)}),
        ("extended_key_usage", {"extended_key_usage": values.purposes()}),
        ("key_usage", {"key_usage": frozenset(values.key_usage), "ca": values.ca}),
    ]
    for name, kwargs in singles:
        try:
            pkix.Profile(subject=stand_in, **kwargs)
        except pkix.PkixError as e:
            where, message = _profile_problem(name, e)
            errors.setdefault(where, message)
    if algorithm is not None and "key_usage" not in errors:
        unfit = sorted(set(values.key_usage) - set(usable_key_usages(algorithm)))
        if unfit:
            rule = "RFC 3279 2.3.1" if algorithm.family is KeyFamily.RSA else "RFC 5480 3"
            errors["key_usage"] = (
                f"{', '.join(KEY_USAGE_CHOICES[u] for u in unfit)} does not fit an "
                f"{algorithm.value} key ({rule})."
            )
    server = "server_auth" in values.extended_key_usage
    if server and not (split_names(values.dns_names) or split_names(values.ip_addresses)):
        # RFC 9525 6.3: a TLS client checks the DNS-ID or IP-ID, never the subject's CN.
        errors.setdefault(
            "dns_names",
            "A TLS server certificate names its host in a DNS name or an IP address "
            "(RFC 9525 6.3: clients do not read the subject's CN).",
        )
    return errors


def _renewal_input(record: CertificateRecord, defaults: ProfileDefaults) -> ProfileInput:
    """A renewal asks for what the current certificate says (its subject, names and
    usage), so the new certificate replaces it like for like."""
    leaf = _leaf(record)
    if leaf is None:
        return ProfileInput(
            subject=record.subject,
            key_usage=defaults.key_usage,
            extended_key_usage=defaults.extended_key_usage,
            ca=defaults.ca,
        )
    dns, ips, emails = _names_of(leaf)
    usages, purposes = _usages_of(leaf)
    try:
        ca = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        ca = defaults.ca
    known = tuple(p for p in purposes if p in EKU_CHOICES)
    return ProfileInput(
        subject=pkix_subject(leaf),
        dns_names="\n".join(dns),
        ip_addresses="\n".join(ips),
        emails="\n".join(emails),
        key_usage=frozenset(usages) if usages else defaults.key_usage,
        extended_key_usage=known if purposes else defaults.extended_key_usage,
        other_purposes=" ".join(p for p in purposes if p not in known),
        ca=ca,
    )


def pkix_subject(certificate: x509.Certificate) -> str:
    """A certificate's subject in the RFC 4514 text a profile reads (serialNumber and
    emailAddress by those keywords)."""
    return certificate.subject.rfc4514_string(
        {NameOID.SERIAL_NUMBER: "serialNumber", NameOID.EMAIL_ADDRESS: "emailAddress"}
    )


# --- request a certificate ------------------------------------------------------------------


class RequestStep(StrEnum):
    KEY = "key"
    PROFILE = "profile"
    REVIEW = "review"
    SIGN = "sign"
    RESULT = "result"


class SignRequest(Protocol):
    """``CertificateService.request`` with the session bound."""

    def __call__(self, key_ref: str, profile: pkix.Profile) -> CertificateRequest: ...


def _step(title: str, subtitle: str, *needs: str) -> StepInfo:
    return StepInfo(title, subtitle, tuple(needs))


class _CertificateFlow(_Flow[Any], QuorumShown):
    """What both wizards share: the data they choose from, the key pair, the quorum."""

    def __init__(self, first: Any, data: CertificateData | None = None) -> None:
        super().__init__(first)
        self.data = data or CertificateData()
        self.pair: KeyPairCertificates | None = None
        self.requirement: Requirement | None = None

    def load(self, data: CertificateData) -> None:
        self.data = data

    def key_pairs(self) -> list[KeyPairCertificates]:
        return self.data.certifiable()

    @property
    def quorum_template(self) -> str | None:
        """The template whose certificate quorum applies (its id)."""
        return self.pair.key.template_id if self.pair is not None else None

    def _set_pair(self, label: str | None) -> None:
        new = self.data.pair(label)
        old = self.pair
        if old is None or new is None or old.key.template_id != new.key.template_id:
            self.requirement = None  # another template may set another quorum
        self.pair = new

    def _quorum_rows(self) -> list[tuple[str, str]]:
        return [("Quorum", self.requirement.quorum)] if self.requirement else []

    def _check(self, *steps: Any) -> None:
        for step in steps:
            errors = self.errors(step)
            if errors:
                raise FlowError(errors)

    def finish(self, result_step: Any) -> None:
        while self.step is not result_step:
            following = self.next_step()
            if following is None:
                break
            self._history.append(self.step)
            self.step = following


class RequestFlow(_CertificateFlow):
    """A PKCS#10 request signed by a key pair in the HSM, written to a new file."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        RequestStep.KEY: _step(
            "The key pair",
            "Only a pre-active or active key pair whose template allows certificates can "
            "sign a request. Key pairs are generated on the Keys page.",
            "key",
        ),
        RequestStep.PROFILE: _step(
            "What the request asks for",
            "The subject and the extensions the CA is asked to certify. Defaults follow the "
            "key pair's template; a renewal starts from the current certificate.",
            "subject",
            "dns_names",
            "ip_addresses",
            "emails",
            "key_usage",
            "extended_key_usage",
            "ca",
        ),
        RequestStep.REVIEW: _step(
            "The file, and sign",
            "The request is signed by the key pair inside the HSM under the certificate "
            "quorum of its template; missing people are asked for their cards when you press "
            "Sign.",
            "format",
            "file",
        ),
        RequestStep.SIGN: _step("Signing", "The HSM signs the request.", "result"),
        RequestStep.RESULT: _step(
            "Request made",
            "Send the file to the CA. Check with the CA, by another channel, that the request "
            "it received has this SHA-256.",
        ),
    }

    def __init__(self, data: CertificateData | None = None, *, key_label: str | None = None):
        super().__init__(RequestStep.KEY, data)
        self.wanted = key_label  # the key pair the page had selected, chosen if it may be
        self.values: ProfileInput | None = None
        self.profile: pkix.Profile | None = None
        self.filled_for: str | None = None  # the key id whose defaults fill the form
        self.format = "pem"
        self.target: Path | None = None
        self.result: CertificateRequest | None = None
        self.saved: Path | None = None
        self.save_error: str | None = None

    # key

    def validate_key(self, label: str | None) -> FieldErrors:
        return _key_errors(self.data, label)

    def choose_key(self, label: str | None) -> None:
        errors = self.validate_key(label)
        if errors:
            raise FlowError(errors)
        self._set_pair(label)

    # profile

    def needs_filling(self) -> bool:
        """True when the profile form should be filled afresh (another key pair chosen)."""
        return self.pair is not None and self.filled_for != self.pair.key.id

    def initial_input(self) -> ProfileInput:
        """The form's values for the chosen key pair: its current certificate's for a
        renewal, else the template's defaults with an empty subject."""
        pair = self.pair
        if pair is None:
            return ProfileInput()
        self.filled_for = pair.key.id
        defaults = profile_defaults(pair.key, pair.template)
        if pair.current is not None:
            return _renewal_input(pair.current, defaults)
        return ProfileInput(
            key_usage=defaults.key_usage,
            extended_key_usage=defaults.extended_key_usage,
            ca=defaults.ca,
        )

    def renewal_of(self) -> CertificateRecord | None:
        return self.pair.current if self.pair is not None else None

    def validate_profile(self, values: ProfileInput) -> FieldErrors:
        if self.pair is None:
            return {"key": "Choose the key pair first."}
        return profile_errors(values, self.pair.key.algorithm)

    def set_profile(self, values: ProfileInput) -> None:
        errors = self.validate_profile(values)
        if errors:
            raise FlowError(errors)
        self.values = values
        self.profile = values.profile()

    # output

    def suggested_name(self, fmt: str | None = None) -> str:
        label = self.pair.key.label if self.pair is not None else "key-pair"
        return f"{_safe_name(label)}{_SUFFIX.get(fmt or self.format, '.csr')}"

    def validate_output(self, fmt: str | None, path: Path | None) -> FieldErrors:
        errors: FieldErrors = {}
        if fmt not in FORMATS:
            errors["format"] = "Choose PEM or DER."
        problem = new_file_problem(path, "request")
        if problem:
            errors["file"] = problem
        return errors

    def set_output(self, fmt: str | None, path: Path | None) -> None:
        errors = self.validate_output(fmt, path)
        if errors:
            raise FlowError(errors)
        assert fmt is not None
        self.format, self.target = fmt, path

    def review_rows(self) -> list[tuple[str, str]]:
        pair, profile = self.pair, self.profile
        if pair is None or profile is None:
            return []
        key = pair.key
        rows = [
            ("Key pair", f"{key.label} ({key.algorithm.value}, {_state(key)})"),
            ("Template", pair.template_name),
            ("Subject", profile.subject),
        ]
        names = (*profile.dns_names, *profile.ip_addresses, *profile.emails)
        rows.append(("Alternative names", ", ".join(names) or "none"))
        rows.append(("Key usage", ", ".join(sorted(profile.key_usage)) or "none asked"))
        rows.append(("Extended key usage", ", ".join(profile.extended_key_usage) or "none asked"))
        rows.append(("CA", "yes: a CA certificate is asked for" if profile.ca else "no"))
        renewal = self.renewal_of()
        if renewal is not None:
            rows.append(("Renews", f"serial {renewal.serial}, to {_day(renewal.not_after)}"))
        if self.target is not None:
            rows.append(("File", f"{self.target} ({self.format.upper()})"))
        return rows + self._quorum_rows()

    def summary(self) -> str:
        if self.pair is None or self.profile is None:
            return ""
        return (
            f"Key pair {self.pair.key.label} signs a request for {self.profile.subject} "
            "inside the HSM; the request is written to a new file."
        )

    # signing

    def sign(self, call: SignRequest) -> CertificateRequest:
        self._check(RequestStep.KEY, RequestStep.PROFILE, RequestStep.REVIEW)
        assert self.pair is not None and self.profile is not None
        return call(self.pair.key.label, self.profile)

    def record_result(
        self, result: CertificateRequest, saved: Path | None, save_error: str | None = None
    ) -> None:
        self.result, self.saved, self.save_error = result, saved, save_error
        self.finish(RequestStep.RESULT)

    def record_saved(self, path: Path) -> None:
        self.saved, self.save_error = path, None

    def file_data(self) -> bytes:
        return self.result.encoded(self.format) if self.result is not None else b""

    def result_rows(self) -> list[tuple[str, str]]:
        r = self.result
        if r is None:
            return []
        if self.saved is not None:
            where = f"{self.saved} ({self.format.upper()}, {len(self.file_data()):,} bytes)"
        else:
            where = f"not saved: {self.save_error or 'nothing is on disk yet'}"
        return [
            ("Key pair", r.key_label),
            ("Subject", r.subject),
            ("SHA-256 of the request (DER)", r.sha256),
            ("File", where),
        ]

    def result_summary(self) -> str:
        r = self.result
        if r is None:
            return "The request has not been signed yet."
        if self.saved is None:
            return (
                f"The request of {r.key_label} was signed in the HSM, but the file could not "
                "be written. Save it under another name."
            )
        return (
            f"The request of {r.key_label} was signed in the HSM and written to {self.saved}. "
            "When the CA returns the certificate, keep it with Import certificate…."
        )

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is RequestStep.KEY:
            return self.validate_key(self.pair.key.label if self.pair else None)
        if step is RequestStep.PROFILE:
            if self.values is None:
                return {"subject": "Give the request's profile."}
            return self.validate_profile(self.values)
        if step is RequestStep.REVIEW:
            if self.result is not None:
                return {}
            return self.validate_output(self.format, self.target)
        if step is RequestStep.SIGN and self.result is None:
            return {"result": "The request has not been signed yet."}
        return {}


# --- import a certificate -------------------------------------------------------------------


class ImportStep(StrEnum):
    KEY = "key"
    FILES = "files"
    REVIEW = "review"
    IMPORT = "import"
    RESULT = "result"


class ImportCertificate(Protocol):
    """``CertificateService.import_certificate`` with the session bound."""

    def __call__(
        self,
        key_ref: str,
        data: bytes | str,
        *,
        partner: str,
        chain: Sequence[bytes | str] = (),
        key_usage: frozenset[str] = frozenset(),
        extended_key_usage: tuple[str, ...] = (),
    ) -> CertificateRecord: ...


@dataclass(frozen=True)
class ImportOutcome:
    """The certificate kept, or the reason it was refused (then nothing was kept)."""

    record: CertificateRecord | None = None
    refusal: str | None = None
    replaced: CertificateRecord | None = field(default=None, repr=False)


def _read(loaded: LoadedFile) -> tuple[list[bytes], str | None]:
    try:
        return pkix.read_certificates(loaded.data), None
    except pkix.PkixError as e:
        return [], f"{Path(loaded.name).name}: {e}"


def _spki(der: bytes) -> bytes | None:
    try:
        public = x509.load_der_x509_certificate(der).public_key()
    except ValueError:
        return None
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def file_lines(files: Iterable[LoadedFile], key: ManagedKey | None) -> list[str]:
    """What chosen files hold, a line per certificate: its subject, issuer and end, and
    whether it carries the key pair's public key (the certificate to keep)."""
    lines: list[str] = []
    for loaded in files:
        found, problem = _read(loaded)
        if problem:
            lines.append(f"✗ {problem}")
            continue
        for der in found:
            certificate = x509.load_der_x509_certificate(der)
            mark = (
                "this key pair's certificate: "
                if key is not None and _spki(der) == key.public_key
                else ""
            )
            lines.append(
                f"• {mark}{pkix_subject(certificate)}, issued by "
                f"{certificate.issuer.rfc4514_string()}, valid to "
                f"{_day(certificate.not_valid_after_utc)}"
            )
    return lines


class ImportCertificateFlow(_CertificateFlow):
    """An issued certificate for a key pair, checked against a partner's trust anchors and
    CRLs before it is kept."""

    STEPS: ClassVar[Mapping[Any, StepInfo]] = {
        ImportStep.KEY: _step(
            "The key pair and the CA",
            "The key pair the certificate was issued for, and the partner (CA, vendor or card "
            "brand) whose trust anchors and CRLs it is checked against.",
            "key",
            "partner",
        ),
        ImportStep.FILES: _step(
            "The certificate",
            "The certificate as the CA sent it: PEM, DER, a PEM bundle or PKCS #7 (.p7b), "
            "with intermediate CA certificates in the same file or in chain files.",
            "certificate",
            "chain",
            "key_usage",
            "extended_key_usage",
        ),
        ImportStep.REVIEW: _step(
            "Check and import",
            "The certificate is checked before anything is kept: chain, signatures, validity, "
            "usage, basic constraints, revocation, and this key pair's public key.",
        ),
        ImportStep.IMPORT: _step("Checking", "The certificate is checked.", "result"),
        ImportStep.RESULT: _step("Result", "What the check found."),
    }

    def __init__(self, data: CertificateData | None = None, *, key_label: str | None = None):
        super().__init__(ImportStep.KEY, data)
        self.wanted = key_label
        self.partner: str | None = None
        self.certificate: LoadedFile | None = None
        self.chain: tuple[LoadedFile, ...] = ()
        self.key_usage: frozenset[str] = frozenset()
        self.extended_key_usage: tuple[str, ...] = ()
        self.outcome: ImportOutcome | None = None

    @property
    def result(self) -> ImportOutcome | None:
        return self.outcome

    def partners(self) -> list[tuple[str, str]]:
        """(name, text) of each partner: its kind and how many CAs it is trusted through."""
        items = []
        for name in self.data.partner_names:
            p = self.data.partner(name)
            assert p is not None
            n = len(p.ca_certificates)
            cas = f"{n} CA certificate{'s' if n != 1 else ''}" if n else "no CA certificate"
            items.append((name, f"{name} — {p.kind}, {cas}"))
        return items

    def validate_choice(self, key: str | None, partner: str | None) -> FieldErrors:
        errors = _key_errors(self.data, key)
        if not (partner or "").strip():
            errors["partner"] = (
                "Choose the partner that issued the certificate."
                if self.data.partners
                else "There is no partner yet: add the CA with its certificate on the "
                "Exchanges page (Add partner…)."
            )
        else:
            found = self.data.partner(partner)
            if found is None:
                errors["partner"] = f"No partner named {partner!r}; add it first."
            elif not found.ca_certificates:
                errors["partner"] = (
                    f"Partner {found.name} has no CA certificate: add the CA that issued "
                    "the certificate on the Exchanges page (Update partner…)."
                )
        return errors

    def choose(self, key: str | None, partner: str | None) -> None:
        errors = self.validate_choice(key, partner)
        if errors:
            raise FlowError(errors)
        self._set_pair(key)
        found = self.data.partner(partner)
        assert found is not None
        self.partner = found.name

    def validate_files(
        self,
        certificate: LoadedFile | None,
        chain: Sequence[LoadedFile] = (),
        key_usage: frozenset[str] = frozenset(),
        extended_key_usage: tuple[str, ...] = (),
    ) -> FieldErrors:
        errors: FieldErrors = {}
        if certificate is None:
            errors["certificate"] = "Choose the certificate file the CA sent."
        else:
            found, problem = _read(certificate)
            if problem:
                errors["certificate"] = problem
            elif self.pair is not None and not any(
                _spki(der) == self.pair.key.public_key for der in found
            ):
                errors["certificate"] = (
                    f"No certificate in {Path(certificate.name).name} carries the public key "
                    f"of {self.pair.key.label}: it was issued for another key."
                )
        for loaded in chain:
            _, problem = _read(loaded)
            if problem:
                errors["chain"] = problem
                break
        unknown = sorted(set(key_usage) - set(KEY_USAGE_CHOICES))
        if unknown:
            errors["key_usage"] = f"Unknown key usage: {', '.join(unknown)}."
        try:
            pkix.Profile(subject="CN=stand-in", extended_key_usage=tuple(extended_key_usage))
        except pkix.PkixError as e:
            errors["extended_key_usage"] = _profile_problem("extended_key_usage", e)[1]
        return errors

    def set_files(
        self,
        certificate: LoadedFile | None,
        chain: Sequence[LoadedFile] = (),
        key_usage: frozenset[str] = frozenset(),
        extended_key_usage: tuple[str, ...] = (),
    ) -> None:
        errors = self.validate_files(certificate, chain, key_usage, extended_key_usage)
        if errors:
            raise FlowError(errors)
        self.certificate, self.chain = certificate, tuple(chain)
        self.key_usage, self.extended_key_usage = frozenset(key_usage), tuple(extended_key_usage)

    def review_rows(self) -> list[tuple[str, str]]:
        pair = self.pair
        if pair is None or self.certificate is None:
            return []
        rows = [
            ("Key pair", f"{pair.key.label} ({pair.key.algorithm.value}, {_state(pair.key)})"),
            ("Template", pair.template_name),
            ("Partner", self.partner or ""),
            ("Certificate file", self.certificate.name),
        ]
        if self.chain:
            rows.append(("Chain files", ", ".join(c.name for c in self.chain)))
        rows.append(("Must allow", self._required_text()))
        current = pair.current
        if current is not None:
            rows.append(
                ("Supersedes", f"serial {current.serial}, valid to {_day(current.not_after)}")
            )
        return rows + self._quorum_rows()

    def _required_text(self) -> str:
        required = [*sorted(self.key_usage), *self.extended_key_usage]
        return ", ".join(required) or "no particular usage"

    def summary(self) -> str:
        if self.pair is None or self.certificate is None:
            return ""
        return (
            f"Check {Path(self.certificate.name).name} against the trust anchors and CRLs of "
            f"{self.partner}, and keep it for {self.pair.key.label} only if every check passes."
        )

    def run(self, call: ImportCertificate) -> ImportOutcome:
        """The import; a certificate the service refuses (bad input: the file, the chain,
        a check) is an outcome with the reason, not an error: nothing was kept."""
        self._check(ImportStep.KEY, ImportStep.FILES)
        assert self.pair is not None and self.certificate is not None
        assert self.partner is not None
        replaced = self.pair.current
        try:
            record = call(
                self.pair.key.label,
                self.certificate.data,
                partner=self.partner,
                chain=[c.data for c in self.chain],
                key_usage=self.key_usage,
                extended_key_usage=self.extended_key_usage,
            )
        except FlowError:
            raise
        except BadInput as e:
            return ImportOutcome(refusal=e.user_message())
        return ImportOutcome(record=record, replaced=replaced)

    def record_result(self, outcome: ImportOutcome) -> None:
        self.outcome = outcome
        self.finish(ImportStep.RESULT)

    @property
    def refused(self) -> bool:
        return self.outcome is not None and self.outcome.refusal is not None

    def result_rows(self, now: datetime | None = None) -> list[tuple[str, str]]:
        o = self.outcome
        if o is None or o.record is None:
            return []
        record = o.record
        rows = certificate_facts(record, now or record.imported_at)
        if o.replaced is not None:
            rows.append(
                ("Superseded", f"serial {o.replaced.serial}, to {_day(o.replaced.not_after)}")
            )
        return rows

    def result_summary(self) -> str:
        o = self.outcome
        if o is None:
            return "The certificate has not been checked yet."
        if o.refusal is not None:
            key = self.pair.key.label if self.pair else "the key pair"
            return (
                f"The certificate was refused and nothing was kept for {key}. The refusal is "
                "recorded in the audit log."
            )
        assert o.record is not None
        r = o.record
        return (
            f"Certificate {r.serial} of {r.subject} passed every check against "
            f"{r.partner}'s trust anchor {r.anchor} and is kept for {r.key_label}."
        )

    def errors(self, step: Any = None) -> FieldErrors:
        step = step or self.step
        if step is ImportStep.KEY:
            return self.validate_choice(self.pair.key.label if self.pair else None, self.partner)
        if step is ImportStep.FILES:
            return self.validate_files(
                self.certificate, self.chain, self.key_usage, self.extended_key_usage
            )
        if step is ImportStep.IMPORT and self.outcome is None:
            return {"result": "The certificate has not been checked yet."}
        return {}
