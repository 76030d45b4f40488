# ruff: noqa: F811 - the tests take the imported `world` fixture as their parameter
"""TLS endpoints and key stores on the real stack (SoftHSM2, pcscd with virtual cards,
SQLite) against TLS servers the tests start on loopback.

Discovery sees a chain with its intermediate, an expired certificate, a self-signed one
and a server whose key is one of the workstation's key pairs; a closed port and a server
that is not TLS are reported with their cause. Enrolled endpoints are re-enrolled and
refreshed when the server's certificate changes (audited with both fingerprints), kept
when unreachable, and fall due when their certificate expires. A key pair with its
current certificate leaves as a PKCS #12 (opened by openssl and cryptography) or a PEM
bundle (its key matching its certificate), under the export quorum, and every refusal
says why with nothing given out."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.integration.test_certificates import CERTIFIERS, TLS, issue, make_request
from tests.integration.test_interchange import (
    ADMINS,
    EXPORTERS,
    PARTNER,
    Exchange,
    pem,
    world,  # noqa: F401 - the same world fixture
)
from tests.tls_servers import PlainServer, SilentServer, TestPki, TlsServer, closed_port, der
from workstation.adapters.tls_probe import SslTlsProbe
from workstation.domain.endpoints import Endpoint, parse_target, parse_target_line
from workstation.domain.keys import ManagedKey
from workstation.domain.policy import Action
from workstation.errors import (
    BadInput,
    EndpointError,
    IntegrityError,
    NotFound,
    PolicyRefused,
    QuorumNotMet,
)
from workstation.services.endpoints import KEYSTORE_KDF_ROUNDS

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]

WATCHERS = ("Olivia", "Sam")  # manage_monitoring: 1 security officer or supervisor
OWNER = "tls-owners@bank.example"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def tls(world: Exchange) -> Iterator[Exchange]:
    world.s.ctx.tls_probe = SslTlsProbe()
    yield world


def certified(world: Exchange, template: str = TLS) -> tuple[ManagedKey, x509.Certificate]:
    """A key pair made in the HSM with a certificate from the partner's CA, kept."""
    key = world.key(template)
    cert = issue(world.pki, make_request(world, key))  # type: ignore[attr-defined]
    world.s.certificates.import_certificate(
        world.session(*CERTIFIERS), key.label, pem(cert), partner=PARTNER
    )
    world.end()
    return key, cert


def private_key_of(world: Exchange, key: ManagedKey) -> Any:
    """The key pair's private key, to run a server with (what an exported key store gives)."""
    assert key.wrapped is not None
    pkcs8 = world.hsm.export_private_key(key.algorithm, key.wrapped)  # type: ignore[attr-defined]
    return serialization.load_der_private_key(bytes(pkcs8), password=None)


def test_discovery_enrolment_refresh_and_removal(tls: Exchange, tmp_path: Path) -> None:
    world = tls
    pki = TestPki()
    key, key_cert = certified(world)
    valid, valid_key = pki.server("pay.bank.example")
    expired, expired_key = pki.server(
        "old.bank.example", days=30, start=datetime.now(UTC) - timedelta(days=40)
    )
    own, own_key = TestPki.self_signed("self.bank.example")
    with (
        TlsServer([valid, pki.intermediate], valid_key, tmp_path) as pay,
        TlsServer([expired, pki.intermediate], expired_key, tmp_path) as old,
        TlsServer([own], own_key, tmp_path) as selfish,
        TlsServer([key_cert], private_key_of(world, key), tmp_path) as managed,
        PlainServer() as plain,
        closed_port() as closed,
    ):
        targets = [
            f"localhost:{pay.port} pay.bank.example",
            old.target,
            selfish.target,
            managed.target,
            plain.target,
            f"127.0.0.1:{closed}",
        ]
        found = world.s.endpoints.discover(
            world.session("Alex"), [parse_target_line(t) for t in targets], timeout=5
        )
        assert [str(d.target) for d in found] == [
            f"localhost:{pay.port} (pay.bank.example)",
            old.target,
            selfish.target,
            managed.target,
            plain.target,
            f"127.0.0.1:{closed}",
        ]
        first, stale, lonely, ours, not_tls, nobody = found
        assert first.ok and first.chain == (der(valid), der(pki.intermediate))
        assert pay.server_names == ["pay.bank.example"]
        assert first.certificate_subject == valid.subject.rfc4514_string()
        assert first.issuer == pki.intermediate.subject.rfc4514_string()
        assert first.serial == f"{valid.serial_number:X}"
        assert first.dns_names == ("pay.bank.example",)
        assert first.days_left in (89, 90) and not first.expired and not first.enrolled
        assert first.key_label is None and first.protocol.startswith("TLSv1.")
        assert stale.expired and stale.days_left == -10 and stale.ok
        assert lonely.self_signed and not first.self_signed
        assert ours.key_id == key.id and ours.key_label == key.label
        assert ours.key_state == "active"
        assert not_tls.error == (
            f"{plain.target}: the server answered, but not with TLS (not a TLS server)."
        )
        assert nobody.error == (
            f"127.0.0.1:{closed}: the connection was refused (nothing listens on port {closed})."
        )
        entry = world.audit("endpoint.discover")[-1]
        assert entry["details"]["targets"] == 6 and entry["details"]["reached"] == 4
        assert entry["details"]["results"][4] == {"target": plain.target, "error": not_tls.error}

        # Enrolling needs the monitoring quorum; a target not reached is not enrolled.
        with pytest.raises(QuorumNotMet):
            world.s.endpoints.enrol(world.session("Cara"), first, owners=[OWNER])
        watchers = world.session(*WATCHERS)
        with pytest.raises(BadInput, match=r"is not enrolled: .* refused"):
            world.s.endpoints.enrol(watchers, nobody)
        with pytest.raises(BadInput, match="is not an e-mail address"):
            world.s.endpoints.enrol(watchers, first, owners=["ops at bank"])
        assert world.s.endpoints.endpoints(watchers) == []
        enrolled = world.s.endpoints.enrol_many(
            watchers, [first, stale, ours], owners=[OWNER, "PKI@Bank.Example"]
        )
        assert [e.subject for e in enrolled] == [
            f"localhost:{pay.port}",
            old.target,
            ours.target.text,
        ]
        assert enrolled[0].owners == (OWNER, "PKI@bank.example")
        assert enrolled[0].server_name == "pay.bank.example"
        assert enrolled[2].key_id == key.id
        assert enrolled[0].chain_pem == (pem(valid) + pem(pki.intermediate)).decode()
        listed = world.s.endpoints.endpoints(watchers)
        assert [e.subject for e in listed] == [old.target, enrolled[0].subject, ours.target.text]

        # Expiry: the expired one and the one due within 400 days (the managed key's
        # certificate is valid for 365 days, the others for 90 and -11).
        with world.repo.unit_of_work(read_only=True) as uow:
            due = world.s.endpoints.due_items(uow, datetime.now(UTC) + timedelta(days=100))
        assert [(d.kind, d.label, d.what) for d in due] == [
            ("endpoint", old.target, "server certificate expires"),
            ("endpoint", enrolled[0].subject, "server certificate expires"),
        ]
        assert (
            due[0].owners == (OWNER, "PKI@bank.example")
            and due[0].due == expired.not_valid_after_utc
        )
        with world.repo.unit_of_work(read_only=True) as uow:
            later = world.s.endpoints.due_items(uow, datetime.now(UTC) + timedelta(days=400))
        mine = next(d for d in later if d.key_id == key.id)
        assert mine.template_id == key.template_id

        # The server gets a renewed certificate; discovery says so, re-enrolling records it.
        port = pay.port
    renewed, renewed_key = pki.server("pay.bank.example", days=200)
    with TlsServer([renewed, pki.intermediate], renewed_key, tmp_path, port=port) as pay:
        again = world.s.endpoints.discover(
            world.session(*WATCHERS), [parse_target(f"localhost:{port}", "pay.bank.example")]
        )[0]
        assert again.enrolled and again.changed
        assert again.enrolled_fingerprint == enrolled[0].fingerprint
        updated = world.s.endpoints.enrol(world.session(*WATCHERS), again)
        assert updated.id == enrolled[0].id and updated.owners == enrolled[0].owners
        assert updated.fingerprint == again.fingerprint != enrolled[0].fingerprint
        entry = world.audit("endpoint.enrol")[-1]
        assert entry["before"] == enrolled[0].fingerprint and entry["after"] == updated.fingerprint
        assert entry["details"]["re_enrolled"] is True

        # Refresh: the old server is gone (reported, kept), the self-updated one is seen.
        renewed2, renewed2_key = pki.server("pay.bank.example", days=300)
    with TlsServer([renewed2, pki.intermediate], renewed2_key, tmp_path, port=port) as pay:
        refreshed = world.s.endpoints.refresh(world.session(*WATCHERS), timeout=3)
    by_target = {d.target.text: d for d in refreshed}
    assert by_target[f"localhost:{port}"].changed
    assert by_target[old.target].error is not None and "refused" in by_target[old.target].error
    kept = {e.subject: e for e in world.s.endpoints.endpoints(world.session(*WATCHERS))}
    assert len(kept) == 3
    assert kept[old.target].last_seen_at == enrolled[1].last_seen_at  # not seen since
    assert kept[f"localhost:{port}"].fingerprint == by_target[f"localhost:{port}"].fingerprint
    assert kept[f"localhost:{port}"].not_after == renewed2.not_valid_after_utc
    change = world.audit("endpoint.certificate_changed")[-1]
    assert (
        change["before"] == updated.fingerprint
        and change["after"] == kept[f"localhost:{port}"].fingerprint
    )
    run = world.audit("endpoint.refresh")[-1]["details"]
    assert run["endpoints"] == 3 and run["reached"] == 1 and run["changed"] == 1
    assert {r["target"] for r in run["not_reached"]} == {old.target, ours.target.text}

    # Removal, by host:port; then it is gone and the audit says which certificate it had.
    removed = world.s.endpoints.remove(world.session(*WATCHERS), old.target)
    assert removed.fingerprint == enrolled[1].fingerprint
    with pytest.raises(NotFound, match=f"No enrolled endpoint {old.target}"):
        world.s.endpoints.remove(world.session(*WATCHERS), old.target)
    assert world.audit("endpoint.remove")[-1]["before"] == removed.fingerprint
    assert len(world.s.endpoints.endpoints(world.session(*WATCHERS))) == 2


def test_an_edited_endpoint_is_refused(tls: Exchange, tmp_path: Path) -> None:
    world = tls
    pki = TestPki()
    cert, key = pki.server("pay.bank.example")
    with TlsServer([cert, pki.intermediate], key, tmp_path) as server:
        found = world.s.endpoints.discover(world.session(*WATCHERS), [server.target])
        world.s.endpoints.enrol(world.session(*WATCHERS), found[0], owners=[OWNER])
    db = sqlite3.connect(world.home / "workstation.db")
    record = json.loads(
        db.execute("SELECT record FROM documents WHERE kind = 'endpoint'").fetchone()[0]
    )
    record["owners"] = ["attacker@evil.example"]
    db.execute("UPDATE documents SET record = ? WHERE kind = 'endpoint'", (json.dumps(record),))
    db.commit()
    db.close()
    with pytest.raises(IntegrityError, match="changed outside the workstation"):
        world.s.endpoints.endpoints(world.session(*WATCHERS))


# --- key stores ------------------------------------------------------------------------------


def test_pkcs12_and_pem_key_stores_of_a_certified_key_pair(tls: Exchange, tmp_path: Path) -> None:
    world = tls
    key, cert = certified(world)
    password = PASSWORD.encode()

    p12 = world.s.endpoints.export_keystore(
        world.session(*EXPORTERS), key.label, fmt="pkcs12", password=bytearray(password)
    )
    path = tmp_path / "server.p12"
    path.write_bytes(p12)
    opened = subprocess.run(
        ["openssl", "pkcs12", "-in", str(path), "-passin", f"pass:{PASSWORD}", "-nodes"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert opened.returncode == 0, opened.stderr
    assert "BEGIN PRIVATE KEY" in opened.stdout and f"friendlyName: {key.label}" in opened.stdout
    assert pem(cert).decode().strip() in opened.stdout
    info = subprocess.run(
        ["openssl", "pkcs12", "-in", str(path), "-passin", f"pass:{PASSWORD}", "-info", "-noout"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert f"PBES2, PBKDF2, AES-256-CBC, Iteration {KEYSTORE_KDF_ROUNDS}, PRF hmacWithSHA256" in (
        info.stderr + info.stdout
    )
    assert "MAC: sha256" in info.stderr + info.stdout
    loaded = pkcs12.load_pkcs12(p12, password)
    assert loaded.key is not None and loaded.cert is not None
    assert loaded.cert.certificate == cert and loaded.cert.friendly_name == key.label.encode()
    assert _spki(loaded.key.public_key()) == key.public_key
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(p12, b"wrong password here")

    bundle = world.s.endpoints.export_keystore(
        world.session(*EXPORTERS), key.label, fmt="pem", password=bytearray(password)
    )
    assert bundle.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    private = serialization.load_pem_private_key(bundle, password)
    certs = x509.load_pem_x509_certificates(bundle)
    assert certs == [cert]  # the partner's CA is the anchor, not carried
    assert _spki(private.public_key()) == _spki(certs[0].public_key()) == key.public_key
    pem_path = tmp_path / "server.pem"
    pem_path.write_bytes(bundle)
    checked = subprocess.run(
        ["openssl", "pkey", "-in", str(pem_path), "-passin", f"pass:{PASSWORD}", "-pubout"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.encode() == private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    parsed = subprocess.run(
        ["openssl", "asn1parse", "-in", str(pem_path)], capture_output=True, text=True, check=True
    ).stdout
    assert "PBES2" in parsed and "hmacWithSHA256" in parsed and "aes-256-cbc" in parsed
    assert re.search(rf"INTEGER\s*:0*{KEYSTORE_KDF_ROUNDS:X}\n", parsed)  # PBKDF2 rounds

    exports = world.audit("key.export")[-2:]
    assert [e["details"]["format"] for e in exports] == ["PKCS #12", "PEM bundle"]
    fingerprint = world.s.certificates.certificates(world.session(*ADMINS), key_ref=key.label)[
        0
    ].fingerprint
    assert all(e["details"]["certificate_fingerprint"] == fingerprint for e in exports)
    with world.repo.unit_of_work(read_only=True) as uow:
        everything = json.dumps([e.body for e in uow.audit.entries()])
    assert PASSWORD not in everything and "horse" not in everything
    history = world.s.keys.detail(world.session(*ADMINS), key.label).history
    assert [h.action for h in history].count(Action.EXPORT_KEY) == 2


def test_key_store_refusals_say_why_and_give_nothing(tls: Exchange) -> None:
    world = tls
    key, _ = certified(world)
    exporters = world.session(*EXPORTERS)
    before = len(world.audit("key.export"))

    def refused(ref: str, error: type[Exception], match: str, **kw: Any) -> None:
        password = bytearray(kw.pop("password", PASSWORD).encode())
        with pytest.raises(error, match=match):
            world.s.endpoints.export_keystore(
                kw.pop("session", exporters), ref, fmt=kw.pop("fmt", "pkcs12"), password=password
            )

    refused(key.label, BadInput, "has 11 characters; it needs at least 12", password="short words")
    refused(key.label, BadInput, "format 'jks': use pkcs12 or pem", fmt="jks")
    bare = world.key(TLS)
    refused(
        bare.label,
        BadInput,
        f"Key pair {bare.label} has no current certificate",
        session=world.session(*EXPORTERS),
    )
    secret = world.key("Test PEK")
    refused(secret.label, BadInput, "is a secret key", session=world.session(*EXPORTERS))
    refused(
        "NO-SUCH-KEY", NotFound, "No key labelled 'NO-SUCH-KEY'", session=world.session(*EXPORTERS)
    )
    refused(
        key.label,
        QuorumNotMet,
        "needs 2 key custodians \\+ 1 supervisor",
        session=world.session(*CERTIFIERS),
    )

    # A template that keeps its key pairs in: not exportable.
    world.s.templates.create(
        world.session(*ADMINS),
        name="TLS kept in",
        algorithm="EC-P256",
        key_usage="S0",
        mode_of_use="S",
        exportability="N",
        crypto_period_days=365,
        label_pattern="TLSN-{seq:03d}",
    )
    kept, _ = certified(world, "TLS kept in")
    refused(kept.label, PolicyRefused, "is not exportable", session=world.session(*EXPORTERS))

    # A destroyed key pair (its certificate still current).
    world.s.keys.change_state(world.session("Cara", "Sam"), key.label, Action.DEACTIVATE_KEY)
    world.s.keys.change_state(
        world.session("Olivia", "Sam"), key.label, Action.DESTROY_KEY, reason="server retired"
    )
    refused(
        key.label,
        PolicyRefused,
        "is destroyed; only a pre-active or active key",
        session=world.session(*EXPORTERS),
    )
    assert len(world.audit("key.export")) == before


def _spki(public: Any) -> bytes:
    data: bytes = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


def test_discovery_without_a_probe_or_with_bad_targets(world: Exchange) -> None:
    session = world.session(*WATCHERS)
    with pytest.raises(EndpointError, match="not set up"):
        world.s.endpoints.discover(session, ["127.0.0.1:443"])
    world.s.ctx.tls_probe = SslTlsProbe()
    with pytest.raises(BadInput, match="port 70000 is not from 1 to 65535"):
        world.s.endpoints.discover(session, ["host.bank.example:70000"])
    with pytest.raises(BadInput, match="named twice"):
        world.s.endpoints.discover(session, ["a.bank.example", "A.bank.example:443"])
    with pytest.raises(BadInput, match="timeout"):
        world.s.endpoints.discover(session, ["a.bank.example"], timeout=0)
    assert world.audit("endpoint.discover") == []
    with world.repo.unit_of_work(read_only=True) as uow:
        assert uow.documents.list(Endpoint) == []


def test_a_cancelled_discovery_stops_without_waiting_for_silent_servers(tls: Exchange) -> None:
    world = tls
    steps: list[tuple[int, int]] = []
    with SilentServer() as silent, closed_port() as closed:
        found = world.s.endpoints.discover(
            world.session(*WATCHERS),
            [f"127.0.0.1:{closed}", silent.target],
            timeout=30,
            progress=lambda done, total: steps.append((done, total)),
            # The person cancels once one has answered and the other is being waited for.
            cancelled=lambda: bool(steps) and silent.held == 1,
        )
        # The run ended while the silent server still held the probe's connection: it did
        # not wait for the 30-second timeout.
        assert silent.held == 1
    assert "refused" in (found[0].error or "")
    assert found[1].error == f"{silent.target}: not probed (cancelled)."
    assert steps == [(1, 2)]
    assert world.audit("endpoint.discover")[-1]["details"]["stopped"] == "cancelled"
