"""The audit page on the real services: filters, verification (good and tampered), the
export for auditors, and the table model checked by qtmodeltester.

The tamper test edits this module's workstation database, so it runs last here."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QDate, QDateTime, Qt, QTime
from PySide6.QtWidgets import QFileDialog

from tests.gui.conftest import GuiWorld
from tests.gui.helpers import WAIT, log_on
from workstation.domain.audit import AuditEntry
from workstation.standalone import audit_verify

pytestmark = [pytest.mark.hsm, pytest.mark.pcsc]


def entry(seq: int, **body: Any) -> AuditEntry:
    full = {
        "seq": seq,
        "at": f"2026-03-10T14:{seq:02d}:00.000000Z",
        "action": "key.generate",
        "object_type": "key",
        "object_id": f"id{seq}",
        "object_label": f"ZMK-{seq:04d}",
        "before": None,
        "after": "pre-activation",
        "kcv": "A1B2C3",
        "details": {"quorum": "2 key custodians"},
        "requester": {"person_id": "p1", "name": "Cara Mendes", "card": "c1"},
        "members": [
            {"person_id": "p1", "name": "Cara Mendes", "card": "c1"},
            {"person_id": "p2", "name": "Carl Novak", "card": "c2"},
        ],
        **body,
    }
    return AuditEntry(seq, full, bytes(32), bytes([seq]) * 32)


def test_table_model_named_columns(qtmodeltester: Any) -> None:
    from workstation.gui.audit_view import AuditTableModel, EntryRole

    model = AuditTableModel()
    model.set_rows(
        [
            entry(1),
            entry(2, before="active", after="compromised", details={"reason": "lost"}),
            entry(3, requester=None, members=[], kcv=None, before=None, after=None),
        ]
    )
    qtmodeltester.check(model)
    assert model.columnCount() == 6
    horizontal = Qt.Orientation.Horizontal
    assert [model.headerData(c, horizontal) for c in range(6)] == list(model.HEADERS)
    row = [model.index(0, c).data() for c in range(6)]
    assert row == [
        "1",
        "2026-03-10 14:01:00",
        "key.generate",
        "key ZMK-0001",
        "pre-activation (KCV A1B2C3)",
        "Cara Mendes with Carl Novak",
    ]
    assert model.index(1, model.CHANGE).data() == (
        "active → compromised (KCV A1B2C3); reason: lost"
    )
    assert model.index(2, model.PEOPLE).data() == ""
    assert model.index(1, 0).data(EntryRole).seq == 2
    assert model.row_of(3) == 2
    model.set_rows([])
    qtmodeltester.check(model)


@pytest.fixture
def page(qtbot: Any, app_state: Any, gui_world: GuiWorld) -> Any:
    from workstation.gui.audit_view import AuditPage

    log_on(qtbot, app_state, gui_world, "alex")
    widget = AuditPage(app_state)
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    with qtbot.waitSignal(widget.model.modelReset, timeout=WAIT):
        widget.show()
    qtbot.waitUntil(lambda: widget.model.rowCount() > 0, timeout=WAIT)
    return widget


def search(qtbot: Any, page: Any) -> list[AuditEntry]:
    with qtbot.waitSignal(page.model.modelReset, timeout=WAIT):
        page.search_button.click()
    return list(page.model.entries)


def test_filters(qtbot: Any, page: Any) -> None:
    everything = list(page.model.entries)
    assert everything[0].seq > everything[-1].seq  # newest first
    assert "matching entries, newest first." in page.status.text()

    page.action.setEditText("person.")
    found = search(qtbot, page)
    assert found and all(e.action.startswith("person.") for e in found)

    page.action.setEditText("")
    page.person.setText("alex moreau")  # names match case-insensitively
    found = search(qtbot, page)
    assert found and all("Alex Moreau" in {m["name"] for m in e.body["members"]} for e in found)

    page.person.clear()
    enrolment = next(e for e in everything if e.action == "person.enrol")
    page.object.setText(enrolment.body["object_id"])
    found = search(qtbot, page)
    assert {e.body["object_id"] for e in found} == {enrolment.body["object_id"]}

    page.object.clear()
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    page.use_since.setChecked(True)
    page.since.setDateTime(
        QDateTime(QDate(tomorrow.year, tomorrow.month, tomorrow.day), QTime(0, 0))
    )
    assert search(qtbot, page) == []
    assert page.status.text() == "0 matching entries, newest first."

    page.use_until.setChecked(True)
    page.until.setDateTime(QDateTime(QDate(2020, 1, 1), QTime(0, 0)))
    page.search_button.click()
    assert "'From' time is after the 'Until' time" in page.status.text()

    page.limit.setValue(3)
    page.use_since.setChecked(False)
    page.use_until.setChecked(False)
    assert len(search(qtbot, page)) == 3
    assert "(the limit)" in page.status.text()


def test_a_session_without_an_auditor_sees_a_note_not_the_log(
    qtbot: Any, app_state: Any, gui_world: GuiWorld
) -> None:
    from workstation.gui.audit_view import AuditPage

    log_on(qtbot, app_state, gui_world, "cara")
    widget = AuditPage(app_state)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitUntil(
        lambda: "Reading the audit log needs 1 auditor" in widget.status.text(), timeout=WAIT
    )
    assert widget.model.rowCount() == 0


def test_verify_shows_a_verified_result(qtbot: Any, page: Any) -> None:
    page.verify_button.click()
    qtbot.waitUntil(lambda: page.banner.isVisible(), timeout=WAIT)
    assert page.headline.text().startswith("✔ Verified: entries 1 to ")
    assert "VERIFIED" in page.result_text.text()
    assert page.last_report is not None and page.last_report.ok
    # the verification is itself audited, and the table shows it
    qtbot.waitUntil(lambda: page.model.entries[0].action == "audit.verify", timeout=WAIT)


def test_export_writes_the_file_and_the_public_key(
    qtbot: Any, page: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "for-auditors.jsonl"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), ""))
    )
    page.export_button.click()
    qtbot.waitUntil(lambda: page.last_export is not None, timeout=WAIT)
    count, path, key_path = page.last_export
    assert path == target and path.exists()
    assert key_path == tmp_path / "for-auditors.jsonl.pub.pem"
    assert key_path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert page.headline.text() == f"Exported {count:,} entries for the auditors."
    shown = page.result_text.text()
    assert str(key_path) in shown
    assert f"workstation-audit-verify {target} --public-key {key_path}" in shown
    header = json.loads(path.read_text().splitlines()[0])
    assert header["entries"] == count
    assert audit_verify.main([str(path), "--public-key", str(key_path)]) == 0


def test_verify_after_tampering_names_the_first_bad_entry(
    qtbot: Any, page: Any, gui_world: GuiWorld
) -> None:
    db = sqlite3.connect(gui_world.home / "workstation.db")
    try:
        db.execute("DROP TRIGGER audit_entries_append_only_update")
        (body,) = db.execute("SELECT body FROM audit_entries WHERE seq = 4").fetchone()
        edited = json.loads(body)
        edited["object_label"] = "Mallory"
        db.execute(
            "UPDATE audit_entries SET body = ? WHERE seq = 4",
            (json.dumps(edited, sort_keys=True, separators=(",", ":")),),
        )
        db.commit()
    finally:
        db.close()
    page.verify_button.click()
    qtbot.waitUntil(lambda: page.banner.isVisible(), timeout=WAIT)
    assert page.headline.text().startswith(
        "✘ The audit log FAILED verification. First bad entry: 4 — "
    )
    assert page.last_report is not None and not page.last_report.ok
    assert page.last_report.first_problem is not None
    assert page.last_report.first_problem.seq == 4
    assert "FAILED" in page.result_text.text()
