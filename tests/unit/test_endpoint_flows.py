"""The TLS wizards' flows without Qt (the service reached through fakes), and the pure
parts beneath them: targets and owners read strictly, with messages that name the
problem; the Endpoint document's record round trip."""

from __future__ import annotations

import doctest
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from workstation.domain import endpoints as domain
from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.certificates import CertificateRecord
from workstation.domain.endpoints import (
    Endpoint,
    Target,
    check_owner,
    check_owners,
    parse_target,
    parse_target_line,
    parse_targets,
)
from workstation.domain.keys import KeyState, ManagedKey
from workstation.domain.policy import Action
from workstation.errors import BadInput
from workstation.flows import endpoints as flows
from workstation.flows.endpoints import (
    DiscoverFlow,
    DiscoverStep,
    KeystoreFlow,
    KeystoreStep,
    password_errors,
    split_owners,
)
from workstation.flows.wizards import FlowError
from workstation.services.endpoints import Discovery, KeystoreChoice, days_left
from workstation.services.logon import Requirement

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_doctests() -> None:
    for module in (domain, flows):
        assert doctest.testmod(module).failed == 0


# --- targets and owners ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "port", "shown"),
    [
        ("pay.bank.example", "pay.bank.example", 443, "pay.bank.example:443"),
        ("Pay.Bank.Example.:8443", "pay.bank.example", 8443, "pay.bank.example:8443"),
        ("10.0.0.5:636", "10.0.0.5", 636, "10.0.0.5:636"),
        ("[2001:DB8::1]:8443", "2001:db8::1", 8443, "[2001:db8::1]:8443"),
        ("[::1]", "::1", 443, "[::1]:443"),
        ("2001:db8:0:0::7", "2001:db8::7", 443, "[2001:db8::7]:443"),
        ("localhost:1", "localhost", 1, "localhost:1"),
        (
            "xn--bcher-kva.example:65535",
            "xn--bcher-kva.example",
            65535,
            "xn--bcher-kva.example:65535",
        ),
    ],
)
def test_targets_read_as_written(text: str, host: str, port: int, shown: str) -> None:
    target = parse_target(text)
    assert (target.host, target.port, target.text) == (host, port, shown)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The target is empty; write host:port, e.g. pay.bank.example:443."),
        ("host:0", "Target 'host:0': the port 0 is not from 1 to 65535."),
        ("host:70000", "Target 'host:70000': the port 70000 is not from 1 to 65535."),
        ("host:https", "Target 'host:https': the port 'https' is not a number from 1 to 65535."),
        ("host:", "Target 'host:': the port '' is not a number from 1 to 65535."),
        (
            "https://pay.bank.example",
            "Target 'https://pay.bank.example' is a URL; write only host:port, e.g. host:443.",
        ),
        ("999.1.1.1:443", "Target '999.1.1.1:443': '999.1.1.1' is not a valid IPv4 address."),
        (
            "pay_bank.example",
            "Target 'pay_bank.example': the host 'pay_bank.example' has a label that is not "
            "letters, digits and inner hyphens of 1 to 63 characters: 'pay_bank'.",
        ),
        (
            "bücher.example",
            "Target 'bücher.example': the host 'bücher.example' is not ASCII; write an "
            "international name in its A-label form (xn--...).",
        ),
        ("[2001:db8::1", "Target '[2001:db8::1': the IPv6 address has no closing ']'."),
        (
            "[pay.bank]:443",
            "Target '[pay.bank]:443': 'pay.bank' in brackets is not an IPv6 address.",
        ),
        ("[::1]443", "Target '[::1]443': write [address]:port."),
        (
            "2001:db8::1:443x",
            "Target '2001:db8::1:443x' is not host:port; write an IPv6 address with a port as "
            "[address]:port.",
        ),
        (":443", "Target ':443' names no host."),
        (
            "host.123",
            "Target 'host.123': the host 'host.123' is neither a host name (its last label "
            "is all digits) nor an IPv4 address.",
        ),
    ],
)
def test_bad_targets_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(BadInput) as refused:
        parse_target(text)
    assert refused.value.user_message() == message


def test_server_names_and_lists() -> None:
    assert parse_target_line("10.0.0.5:8443 Pay.Bank.Example  # the payment API") == Target(
        "10.0.0.5", 8443, "pay.bank.example"
    )
    assert parse_target_line("  # only a comment") is None
    assert parse_target("10.0.0.5").sni is None and parse_target("a.example").sni == "a.example"
    assert (
        str(parse_target("10.0.0.5:8443", "pay.bank.example")) == "10.0.0.5:8443 (pay.bank.example)"
    )
    with pytest.raises(BadInput, match="is an IP address; TLS asks for a server by name only"):
        parse_target("pay.bank.example", "10.0.0.5")
    with pytest.raises(BadInput, match="is not 'host:port' or 'host:port server-name'"):
        parse_target_line("a b c")
    listed = parse_targets("a.example\n\n# comment\nb.example:8443 api.b.example\n")
    assert [t.text for t in listed] == ["a.example:443", "b.example:8443"]
    with pytest.raises(BadInput) as refused:
        parse_targets("a.example\nb.example:0\nA.example:443\nc_d\n")
    assert refused.value.user_message() == (
        "Line 2: Target 'b.example:0': the port 0 is not from 1 to 65535. "
        "Line 3: a.example:443 is already on line 1. "
        "Line 4: Target 'c_d': the host 'c_d' has a label that is not letters, digits and "
        "inner hyphens of 1 to 63 characters: 'c_d'."
    )
    with pytest.raises(BadInput, match="names no target"):
        parse_targets("# nothing\n")
    with pytest.raises(BadInput, match="at most 1000 per run"):
        parse_targets([f"h{i}.example" for i in range(1001)])


def test_owners() -> None:
    assert check_owner(" Ops.Team+tls@Bank.Example ") == "Ops.Team+tls@bank.example"
    assert check_owners(("a@bank.example", "A@Bank.example", "b@bank.example")) == (
        "a@bank.example",
        "b@bank.example",
    )
    for bad, message in [
        ("", "The owner's e-mail address is empty."),
        ("ops", "Owner 'ops' is not an e-mail address like name@bank.example."),
        ("ops..team@bank.example", "Owner 'ops..team@bank.example' is not an e-mail address"),
        ("ops@localhost", "Owner 'ops@localhost': the domain has only one label."),
        ("ops@bank_x.example", "Owner 'ops@bank_x.example': the domain has a label"),
        ("josé@bank.example", "Owner 'josé@bank.example' is not an ASCII e-mail address."),
    ]:
        with pytest.raises(BadInput) as refused:
            check_owner(bad)
        assert refused.value.user_message().startswith(message)
    assert split_owners(" a@x.example, b@x.example;c@x.example  d@x.example ") == [
        "a@x.example",
        "b@x.example",
        "c@x.example",
        "d@x.example",
    ]


def endpoint(**changes: Any) -> Endpoint:
    base = Endpoint(
        id="e1",
        host="2001:db8::1",
        port=8443,
        server_name="pay.bank.example",
        certificate_subject="CN=pay.bank.example,O=Bank",
        issuer="CN=Issuing CA,O=Bank",
        serial="1F",
        not_before=NOW - timedelta(days=10),
        not_after=NOW + timedelta(days=80),
        fingerprint="AB" * 32,
        chain_pem="-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
        protocol="TLSv1.3",
        cipher="TLS_AES_128_GCM_SHA256",
        key_id=None,
        key_label=None,
        owners=("ops@bank.example",),
        enrolled_at=NOW,
        last_seen_at=NOW,
    )
    return replace(base, **changes)


def test_endpoint_document() -> None:
    e = endpoint()
    assert e.KIND == "endpoint" and e.subject == "[2001:db8::1]:8443" and e.due == e.not_after
    assert Endpoint.from_record(e.to_record()) == e
    assert b'"type":"document:endpoint"' in e.binding_bytes()
    assert e.binding_bytes() != endpoint(owners=("evil@x.example",)).binding_bytes()
    # Rounded up, as every page shows days: an hour past the end is 0 days left (due).
    assert days_left(e.not_after, NOW) == 80 and days_left(NOW - timedelta(hours=1), NOW) == 0
    assert days_left(NOW - timedelta(days=1, hours=1), NOW) == -1


# --- discovery -----------------------------------------------------------------------------------


def seen(target: str, days: int | None, **kw: Any) -> Discovery:
    t = parse_target_line(target)
    assert t is not None
    if days is None:
        return Discovery(t, NOW, error=kw.pop("error", f"{t.text}: the connection was refused."))
    return Discovery(
        target=t,
        seen_at=NOW,
        chain=kw.pop("chain", (b"leaf", b"intermediate")),
        protocol="TLSv1.3",
        cipher="TLS_AES_256_GCM_SHA384",
        certificate_subject=kw.pop("subject", f"CN={t.host},O=Bank"),
        issuer=kw.pop("issuer", "CN=Issuing CA,O=Bank"),
        serial="0A",
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=days, hours=1),
        fingerprint=kw.pop("fingerprint", "CD" * 32),
        days_left=days,
        **kw,
    )


def requirement(met: bool = True) -> Requirement:
    return Requirement(
        action=Action.MANAGE_MONITORING,
        quorum="1 security officer or supervisor",
        met=met,
        missing=() if met else ("1 security officer or supervisor",),
        reason="",
        present=("Olivia Grant",),
    )


def test_discovery_flow_from_targets_to_enrolled() -> None:
    flow = DiscoverFlow()
    assert flow.validate_targets("") == {
        "targets": "Write at least one target, e.g. pay.bank.example:443."
    }
    assert flow.validate_targets("a.example:99999", 5)["targets"] == (
        "Line 1: Target 'a.example:99999': the port 99999 is not from 1 to 65535."
    )
    assert flow.validate_targets("a.example", 0) == {
        "timeout": "Wait more than 0 and at most 60 seconds."
    }
    with pytest.raises(FlowError):
        flow.advance()
    text = "a.example\nb.example:8443\nc.example\nd.example\n10.0.0.9:443 e.example\n"
    assert flow.target_count_text(text) == "5 targets (at most 1000)"
    flow.set_targets(text, 2.5)
    asked: list[Any] = []

    def discover(targets: Any, *, timeout: float) -> list[Discovery]:
        asked.append((list(targets), timeout))
        return [
            seen("a.example", 200),
            seen("b.example:8443", 12, enrolled_fingerprint="CD" * 32),
            seen("c.example", -3, enrolled_fingerprint="EF" * 32, key_id="k1", key_label="TLS-1"),
            seen("d.example", None),
            seen(
                "10.0.0.9:443 e.example",
                90,
                chain=(b"self",),
                subject="CN=e.example",
                issuer="CN=e.example",
            ),
        ]

    found = flow.discover(discover)
    assert asked[0][1] == 2.5 and [t.text for t in asked[0][0]][4] == "10.0.0.9:443"
    assert asked[0][0][4].server_name == "e.example"
    flow.record_discoveries(found)
    assert flow.step is DiscoverStep.RESULTS
    assert flow.ticked == {0, 2, 4}  # new or changed, and reached
    rows = flow.rows()
    assert [r.level for r in rows] == ["ok", "due", "expired", "unreachable", "ok"]
    assert [r.status for r in rows] == ["new", "enrolled", "changed", "not reached", "new"]
    assert rows[2].days == "expired 3 d ago" and rows[2].key_pair == "TLS-1"
    assert rows[0].cells[:4] == (
        "a.example:443",
        f"{NOW + timedelta(days=200, hours=1):%Y-%m-%d}",
        "200 d",
        "a.example",
    )
    assert rows[4].issuer == "self-signed" and rows[4].target == "10.0.0.9:443 (e.example)"
    assert rows[3].detail == "d.example:443: the connection was refused." and not rows[3].tickable
    assert rows[3].subject == "the connection was refused."
    assert "Enrolled with: " + "EF" * 32 in rows[2].detail
    assert flow.counts_text() == (
        "4 of 5 reached; 1 expired; 1 expiring within 30 days; 1 present a certificate other "
        "than the one enrolled."
    )
    flow.set_ticked(3, True)  # not reached: cannot be ticked
    flow.set_ticked(4, False)
    assert flow.ticked == {0, 2}
    assert flow.validate_enrol(set(), "") == {
        "rows": "Tick at least one endpoint that was reached."
    }
    assert flow.validate_enrol({3}, "")["rows"] == (
        "Only an endpoint that was reached can be enrolled."
    )
    assert flow.validate_enrol({0}, "ops@bank.example, nobody")["owners"] == (
        "Owner 'nobody' is not an e-mail address like name@bank.example."
    )
    flow.choose_enrol({0, 2}, "ops@bank.example; PKI@Bank.example")
    assert flow.owners == ("ops@bank.example", "PKI@bank.example")
    flow.set_requirement(requirement())
    assert flow.quorum_lines()[-1] == "The quorum is met: you can go ahead."
    calls: list[Any] = []

    def enrol(discoveries: Any, *, owners: Any) -> list[Endpoint]:
        calls.append(([d.target.text for d in discoveries], owners))
        return [
            endpoint(id="1", host="a.example", port=443, server_name=None),
            endpoint(id="2", host="c.example", port=443, server_name=None),
        ]

    flow.record_enrolled(flow.enrol(enrol))
    assert calls == [(["a.example:443", "c.example:443"], ("ops@bank.example", "PKI@bank.example"))]
    assert flow.step is DiscoverStep.DONE and flow.finished
    assert flow.result_summary() == (
        "2 endpoints are enrolled; each falls due when its certificate expires. Owners to "
        "alert: ops@bank.example, PKI@bank.example."
    )
    assert flow.result_rows()[0] == (
        "a.example:443",
        f"expires {NOW + timedelta(days=80):%Y-%m-%d}, pay.bank.example",
    )


def test_changing_the_targets_forgets_the_results() -> None:
    flow = DiscoverFlow()
    flow.set_targets("a.example")
    flow.record_discoveries(flow.discover(lambda targets, *, timeout: [seen("a.example", 5)]))
    assert flow.ticked == {0}
    flow.back()
    flow.set_targets("a.example")  # the same list: the results stay
    assert flow.discoveries and flow.ticked == {0}
    with pytest.raises(FlowError, match="is an IP address"):
        flow.set_targets("a.example 10.0.0.1")  # a server name must be a name
    assert flow.discoveries
    flow.set_targets("a.example pay.bank.example")  # another server name: probe again
    assert not flow.discoveries and flow.ticked == set()
    assert flow.errors(DiscoverStep.RESULTS) == {"rows": "The targets have not been probed yet."}


# --- key stores ----------------------------------------------------------------------------------


def key_pair(label: str, template: str = "t-tls", **changes: Any) -> ManagedKey:
    key = ManagedKey(
        id=f"id-{label}",
        label=label,
        template_id=template,
        algorithm=KeyAlgorithm.EC_P256,
        key_usage="S0",
        mode_of_use="S",
        exportability="E",
        kcv="A1B2C3",
        wrapped=b"wrapped",
        public_key=b"spki",
        state=KeyState.ACTIVE,
        version=1,
        created_at=NOW,
        activation_date=NOW,
        deactivation_date=NOW + timedelta(days=397),
    )
    return replace(key, **changes)


def certificate(key: ManagedKey) -> CertificateRecord:
    return CertificateRecord(
        id=f"c-{key.label}",
        key_id=key.id,
        key_label=key.label,
        subject=f"CN={key.label.lower()}.bank.example,O=Bank",
        issuer="CN=Lab CA",
        serial="7B",
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=60),
        fingerprint="12" * 32,
        pem="",
        anchor="CN=Lab CA",
        partner="Lab CA",
        imported_at=NOW,
    )


def choices() -> list[KeystoreChoice]:
    good = key_pair("TLS-1")
    other = key_pair("TLS-2", template="t-other")
    kept = key_pair("TLS-N", exportability="N")
    return [
        KeystoreChoice(good, "TLS server key pair", certificate(good), None),
        KeystoreChoice(other, "Other TLS", certificate(other), None),
        KeystoreChoice(
            kept,
            "TLS kept in",
            certificate(kept),
            "Key TLS-N is not exportable (template 'TLS kept in', exportability N).",
        ),
    ]


def test_password_rules() -> None:
    assert password_errors("", "") == {"password": "Type a password of at least 12 characters."}
    assert password_errors("eleven char", "eleven char") == {
        "password": "The password has 11 characters; it needs at least 12."
    }
    assert password_errors("twelve chars", "twelve chars!") == {
        "again": "The two passwords differ."
    }
    assert password_errors("ñandú-ñandú-", "ñandú-ñandú-") == {}  # characters, not bytes
    assert password_errors("x" * 1025, "x" * 1025) == {
        "password": "The password is longer than 1024 bytes."
    }


def test_keystore_flow(tmp_path: Path) -> None:
    flow = KeystoreFlow()
    assert flow.validate_choice(None, "pkcs12") == {
        "key": "No key pair has a current certificate: import one first (certs import)."
    }
    flow.load(choices())
    assert KeystoreFlow.line(flow.choices[2]).endswith("(cannot leave)")
    assert KeystoreFlow.line(flow.choices[0]) == (
        "TLS-1 — EC-P256, tls-1.bank.example, certificate expires "
        f"{NOW + timedelta(days=60):%Y-%m-%d}"
    )
    assert flow.validate_choice("", None) == {
        "key": "Choose the key pair.",
        "format": "Choose PKCS #12 or PEM.",
    }
    assert flow.validate_choice("TLS-N", "pem") == {
        "key": "Key TLS-N is not exportable (template 'TLS kept in', exportability N)."
    }
    assert flow.validate_choice("TLS-9", "pem") == {
        "key": "No key pair labelled 'TLS-9' has a current certificate."
    }
    flow.choose("TLS-1", "pkcs12")
    assert flow.quorum_template == "t-tls" and flow.suggested_name() == "TLS-1.p12"
    flow.set_requirement(requirement())
    flow.advance()
    taken = tmp_path / "taken.p12"
    taken.write_bytes(b"x")
    assert flow.validate_protect("long enough pw", "long enough pw", str(taken)) == {
        "file": f"{taken} exists; choose a new file name (nothing is overwritten)."
    }
    assert flow.validate_protect(
        "long enough pw", "long enough pw", str(tmp_path / "no" / "x.p12")
    ) == {"file": f"Folder {tmp_path / 'no'} does not exist."}
    assert flow.validate_protect("short", "short", "")["file"] == (
        "Choose the new file to write the key store to."
    )
    target = tmp_path / "TLS-1.p12"
    flow.set_protect("long enough pw", "long enough pw", str(target))
    assert not hasattr(flow, "password")
    flow.advance()
    assert flow.step is KeystoreStep.REVIEW
    rows = dict(flow.review_rows())
    assert rows["Key pair"] == "TLS-1 (EC-P256, active)" and rows["File"] == str(target)
    assert rows["Encryption"] == "PBES2: PBKDF2-HMAC-SHA256, 600,000 rounds, AES-256-CBC"
    assert rows["Quorum"] == "1 security officer or supervisor"
    assert flow.summary() == (
        f"Export key pair TLS-1 with its certificate 7B as a PKCS #12 key store to {target}."
    )
    calls: list[Any] = []

    def export(key_ref: str, *, fmt: str, password: bytearray) -> bytes:
        calls.append((key_ref, fmt, bytes(password)))
        return b"p12 bytes"

    assert flow.export(export, bytearray(b"long enough pw")) == b"p12 bytes"
    assert calls == [("TLS-1", "pkcs12", b"long enough pw")]
    flow.record_result(target, 9)
    assert flow.step is KeystoreStep.RESULT and flow.finished
    assert flow.result_summary().startswith("The PKCS #12 key store of TLS-1 (9 bytes) is in ")

    # Another template: the quorum read is forgotten; another format: the file too.
    flow.back_to(KeystoreStep.CHOOSE)
    flow.choose("TLS-2", "pem")
    assert flow.requirement is None and flow.file == ""
    assert flow.errors(KeystoreStep.PROTECT) == {
        "file": "Choose the new file to write the key store to."
    }
    with pytest.raises(FlowError):
        flow.export(export, bytearray(b"long enough pw"))
    assert flows.DUE_SOON_DAYS == 30


# --- enrolled endpoints on the Certificates page --------------------------------------------


def test_endpoint_rows_cells_order_and_colours() -> None:
    late = endpoint(id="e1", not_after=NOW + timedelta(days=80, hours=2))
    soon = endpoint(
        id="e2",
        host="10.0.0.5",
        port=443,
        server_name=None,
        key_label="TLS-0001",
        not_after=NOW + timedelta(days=29, hours=22),
        owners=("a@bank.example", "b@bank.example"),
    )
    ended = endpoint(
        id="e3",
        host="old.bank.example",
        port=443,
        server_name=None,
        issuer="CN=pay.bank.example,O=Bank",
        not_after=NOW - timedelta(days=3, hours=1),
        owners=(),
    )
    rows = flows.endpoint_rows([late, soon, ended], NOW)
    assert [r.endpoint.id for r in rows] == ["e3", "e2", "e1"]  # the first to end on top
    assert [r.level for r in rows] == ["expired", "due", "ok"]
    assert len(flows.ENDPOINT_HEADERS) == len(rows[0].cells)
    assert rows[0].cells == (
        "old.bank.example:443",
        "old.bank.example",
        "CN=pay.bank.example,O=Bank",
        "self-signed",
        f"{ended.not_after:%Y-%m-%d}",
        "expired 3 d ago",
        "",
        "",
        "2026-11-24 09:00",
        "TLSv1.3",
    )
    assert rows[1].cells[1] == "(none: an address)"
    assert rows[1].cells[5:8] == ("30 d", "TLS-0001", "a@bank.example, b@bank.example")
    assert rows[2].cells[:4] == (
        "[2001:db8::1]:8443",
        "pay.bank.example",
        "CN=pay.bank.example,O=Bank",
        "CN=Issuing CA,O=Bank",
    )
    assert rows[0].days_tip.startswith("Ended ") and "renew it" in rows[1].days_tip
    assert rows[2].days_tip == f"Ends {late.not_after:%Y-%m-%d %H:%M} UTC."
    facts = dict(rows[0].detail_rows())
    assert facts["Issuer"] == "CN=pay.bank.example,O=Bank (self-signed)"
    assert facts["Chain"] == "1 certificate presented"
    assert facts["Key pair"] == "not one of the workstation's key pairs"
    assert facts["Owners"] == "nobody is alerted"
    assert facts["Valid to"].endswith("(expired 3 d ago)")
    assert dict(rows[1].detail_rows())["Key pair"] == "TLS-0001"
    question = rows[1].removal_question()
    assert question.startswith("Stop watching 10.0.0.5:443? Its certificate (pay.bank.example,")
    assert "alert a@bank.example, b@bank.example" in question
    assert "alert anyone" in rows[0].removal_question()


def test_endpoints_overview() -> None:
    assert flows.endpoints_overview([]).startswith("No TLS endpoint is enrolled")
    one = flows.endpoint_rows([endpoint()], NOW)
    assert flows.endpoints_overview(one) == "1 endpoint enrolled."
    rows = flows.endpoint_rows(
        [
            endpoint(id="a", not_after=NOW - timedelta(days=1)),
            endpoint(id="b", not_after=NOW + timedelta(days=5)),
            endpoint(id="c", not_after=NOW + timedelta(days=6)),
        ],
        NOW,
    )
    assert flows.endpoints_overview(rows) == (
        "3 endpoints enrolled; 1 expired; 2 expire within 30 days."
    )


def test_refresh_summary_names_the_changed_and_the_unreachable() -> None:
    assert flows.refresh_summary([]).text == (
        "No endpoint is enrolled; there was nothing to re-check."
    )
    same = seen("pay.bank.example:443", 80, enrolled_fingerprint="CD" * 32)
    renewed = seen("api.bank.example:443", 300, enrolled_fingerprint="EF" * 32)
    gone = seen("old.bank.example:443", None, enrolled_fingerprint="12" * 32)
    odd = Discovery(parse_target("10.0.0.9:443"), NOW, error="the handshake failed.")
    summary = flows.refresh_summary([same, renewed, gone, odd])
    assert summary.text == (
        "4 endpoints re-checked: 2 reached, 1 presents a new certificate, 2 not reached."
    )
    assert summary.changed == (
        f"api.bank.example:443: now api.bank.example, serial 0A, expires "
        f"{renewed.not_after:%Y-%m-%d} (was SHA-256 {'EF' * 8}…)",
    )
    assert summary.unreachable == (
        "old.bank.example:443: the connection was refused.",
        "10.0.0.9:443: the handshake failed.",
    )
    assert summary.details.splitlines() == [
        "Changed:",
        f"  {summary.changed[0]}",
        "Not reached (kept as last seen):",
        f"  {summary.unreachable[0]}",
        f"  {summary.unreachable[1]}",
    ]
    calm = flows.refresh_summary(
        [same, seen("x.bank.example:443", -2, enrolled_fingerprint="CD" * 32)]
    )
    assert calm.text == (
        "2 endpoints re-checked: 2 reached, no certificate changed, 1 still expired."
    )
    assert calm.details == ""
