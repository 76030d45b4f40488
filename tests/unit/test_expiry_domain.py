"""Expiry monitoring's pure rules: windows, days left, owners and their addresses, the key
of an alert, and the alert text (labels and dates, never key material)."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta

import pytest

from workstation.domain import monitoring
from workstation.domain.expiry import DueItem
from workstation.domain.monitoring import (
    OVERDUE,
    AlertLine,
    AlertOwners,
    AlertSent,
    AlertWindows,
    DueTask,
    alert_id,
    alert_message,
    check_email,
    check_emails,
    check_scope,
    days_left,
    owners_for,
    parse_windows,
)
from workstation.errors import BadInput

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def item(**changes: object) -> DueItem:
    fields: dict[str, object] = {
        "kind": "key",
        "ref": "k1",
        "label": "ZMK-0001",
        "what": "crypto-period ends",
        "due": NOW + timedelta(days=20),
        "key_id": "k1",
        "template_id": "seed-zmk",
    }
    fields.update(changes)
    return DueItem(**fields)  # type: ignore[arg-type]


# --- windows -----------------------------------------------------------------------------


def test_default_windows_and_their_order() -> None:
    assert AlertWindows().days == (90, 30, 7)
    assert parse_windows(" 7, 90 ,30").days == (90, 30, 7)
    assert parse_windows("14").text() == "14"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "days separated by commas"),
        ("90,,7", "days separated by commas"),
        ("90,thirty", "'thirty' is not a whole number"),
        ("-7", "'-7' is not a whole number"),
        ("0", "from 1 to 3650 days; 0 is not"),
        ("3651", "3651 is not"),
        ("30,30", "given once"),
        ("1,2,3,4,5,6,7", "at most 6"),
    ],
)
def test_bad_windows_are_refused_with_their_reason(text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_windows(text)


def test_windows_entered_and_band() -> None:
    w = AlertWindows()
    assert w.entered(91) == () and w.band(91) is None
    assert w.entered(90) == (90,) and w.band(90) == 90
    assert w.entered(30) == (90, 30) and w.band(31) == 90 and w.band(30) == 30
    assert w.entered(1) == (90, 30, 7) and w.band(1) == 7
    assert w.entered(0) == (90, 30, 7, OVERDUE) and w.band(0) is None
    assert w.entered(-40) == (90, 30, 7, OVERDUE)


def test_days_left_rounds_up_so_windows_mean_due_within() -> None:
    assert days_left(NOW + timedelta(days=7), NOW) == 7
    assert days_left(NOW + timedelta(days=7, seconds=1), NOW) == 8
    assert days_left(NOW + timedelta(microseconds=1), NOW) == 1
    assert days_left(NOW, NOW) == 0
    assert days_left(NOW - timedelta(days=2, hours=1), NOW) == -2


def test_windows_seal_covers_the_days() -> None:
    assert AlertWindows((90, 30)).binding_bytes() != AlertWindows((90, 7)).binding_bytes()


# --- owners ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ops@bank.example", "ops@bank.example"),
        ("  Key.Team+alerts@Bank.EXAMPLE ", "Key.Team+alerts@bank.example"),
        ("o'neil@sub-1.bank.example", "o'neil@sub-1.bank.example"),
    ],
)
def test_good_addresses(text: str, expected: str) -> None:
    assert check_email(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Give an e-mail address"),
        ("ops", "not an e-mail address"),
        ("a@b@bank.example", "not an e-mail address"),
        ("@bank.example", "part before @"),
        ("two..dots@bank.example", "part before @"),
        (".lead@bank.example", "part before @"),
        ("sp ace@bank.example", "part before @"),
        ("x" * 65 + "@bank.example", "part before @"),
        ("ops@localhost", "domain after @"),
        ("ops@-bank.example", "domain after @"),
        ("ops@bank..example", "domain after @"),
        ("ops@bank_example.com", "domain after @"),
        ("ops@[127.0.0.1]", "domain after @"),
        ("x" * 10 + "@" + ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 55, "ex"]), "254"),
    ],
)
def test_bad_addresses_are_refused_with_their_reason(text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        check_email(text)


def test_addresses_once_each_and_within_bounds() -> None:
    assert check_emails(["a@bank.example", "A@BANK.example", "b@bank.example"]) == (
        "a@bank.example",
        "b@bank.example",
    )
    with pytest.raises(BadInput, match="at least one"):
        check_emails([])
    with pytest.raises(BadInput, match="at most 20"):
        check_emails([f"p{i}@bank.example" for i in range(21)])


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("default", True),
        ("template:seed-zmk", True),
        ("key:0f3a", True),
        ("key:", False),
        ("partner:x", False),
        ("template:two words", False),
    ],
)
def test_scopes(text: str, ok: bool) -> None:
    if ok:
        assert check_scope(text) == text
    else:
        with pytest.raises(BadInput, match="default, template:<id> or key:<id>"):
            check_scope(text)


def test_owners_are_the_items_keys_and_templates_else_the_default() -> None:
    table = {
        "default": ("desk@bank.example",),
        "template:seed-zmk": ("kms@bank.example", "Ops@bank.example"),
        "key:k1": ("ops@bank.example",),
    }
    assert owners_for(item(), table) == ("ops@bank.example", "kms@bank.example")
    assert owners_for(item(owners=("cert@bank.example",)), table)[0] == "cert@bank.example"
    assert owners_for(item(key_id="k2", template_id="seed-pek"), table) == ("desk@bank.example",)
    assert owners_for(item(key_id=None, template_id=None), {}) == ()


def test_owner_record_round_trip_and_checks() -> None:
    owners = AlertOwners("template:seed-zmk", "Zone master key", ("kms@bank.example",), NOW)
    assert AlertOwners.from_record(owners.to_record()) == owners
    assert owners.id == owners.subject == "template:seed-zmk" and owners.due is None
    assert b"document:alert-owners" in owners.binding_bytes()
    with pytest.raises(BadInput, match="domain after @"):
        AlertOwners("default", "default", ("kms@bank",), NOW)


# --- alerts sent ---------------------------------------------------------------------------


def test_alert_key_is_item_due_and_window() -> None:
    first = alert_id(item(), 30)
    assert first == alert_id(item(label="renamed"), 30)  # the label is not part of it
    assert first != alert_id(item(), 7)
    assert first != alert_id(item(due=NOW + timedelta(days=400)), 30)  # renewed: starts over
    assert first != alert_id(item(kind="certificate"), 30)
    sent = AlertSent.first(item(), 30, ("a@bank.example",), NOW)
    assert sent.id == first and sent.subject == "key:k1" and sent.due == item().due
    more = sent.adding(("A@bank.example", "b@bank.example"), NOW + timedelta(hours=1))
    assert more.recipients == ("a@bank.example", "b@bank.example")
    assert more.first_sent_at == NOW and more.last_sent_at == NOW + timedelta(hours=1)
    assert AlertSent.from_record(more.to_record()) == more


def test_task_states() -> None:
    def task(left: int, window: int | None) -> DueTask:
        return DueTask(item(), left, window, left <= 0, ())

    assert task(20, 30).state == "within 30 days"
    assert task(0, None).state == "overdue"
    assert task(-1, None).state == "overdue by 1 day"
    assert task(-3, None).state == "overdue by 3 days"
    assert task(120, None).state == "in 120 days"


# --- the message -------------------------------------------------------------------------


def test_alert_message_lists_each_item_once_soonest_first() -> None:
    cert = item(
        kind="certificate",
        ref="c1",
        label="CN=atm-0042.bank.example",
        what="certificate expires",
        due=NOW + timedelta(days=5),
    )
    late = item(ref="k9", label="PEK-0009", due=NOW - timedelta(days=3))
    lines = [AlertLine(item(), 20, 30), AlertLine(cert, 5, 7), AlertLine(late, -3, OVERDUE)]
    message = alert_message("ops@bank.example", lines, now=NOW, workstation="WS-1")
    assert message.subject == "[KCW] 3 items fall due (1 overdue, soonest within 7 days)"
    body = message.body
    assert body.startswith("Key Custodian Workstation WS-1: due dates for ops@bank.example\n")
    assert "1. Crypto-period ends: PEK-0009\n" in body
    assert "OVERDUE: was due 2026-11-21 09:00 UTC (3 days ago)" in body
    assert "2. Certificate expires: CN=atm-0042.bank.example\n" in body
    assert "due 2026-11-29 09:00 UTC: 5 days left (alert window 7 days)" in body
    assert "3. Crypto-period ends: ZMK-0001\n" in body
    assert "20 days left (alert window 30 days)" in body
    assert body.index("PEK-0009") < body.index("atm-0042") < body.index("ZMK-0001")
    one = alert_message("ops@bank.example", lines[:1], now=NOW, workstation="WS-1")
    assert one.subject == "[KCW] 1 item falls due (soonest within 30 days)"


def test_doctests() -> None:
    assert doctest.testmod(monitoring).failed == 0
