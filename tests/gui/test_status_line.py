"""The pages' shared pieces on their own: the status line (what is said, what is a notice
and when it is withdrawn) and the record of a table's current row."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QVBoxLayout, QWidget

from workstation.gui.status import StatusLine
from workstation.gui.tables import RecordModel, current_record, record_table, select_row
from workstation.gui.wizards import ERROR_STYLE, GOOD_STYLE


class Names(RecordModel[str]):
    HEADERS = ("Name",)

    def _display(self, record: str, column: int) -> str:
        return record


def _page(qtbot: Any, **options: Any) -> tuple[QWidget, StatusLine]:
    page = QWidget()
    qtbot.addWidget(page)
    line = StatusLine("someStatus", page, **options)
    QVBoxLayout(page).addWidget(line)
    page.show()
    return page, line


def test_what_is_said_shows_in_its_colour_and_an_empty_line_takes_no_room(qtbot: Any) -> None:
    page, line = _page(qtbot)
    assert line.objectName() == "someStatus" and not line.isVisibleTo(page)
    line.say("Partner ACME added.")
    assert line.text() == "Partner ACME added." and line.isVisibleTo(page)
    assert line.styleSheet() == GOOD_STYLE and not line.bad
    line.say("The file exists; choose a new file name.", bad=True)
    assert line.styleSheet() == ERROR_STYLE and line.bad
    line.say("")
    assert line.text() == "" and not line.isVisibleTo(page) and not line.bad


def test_a_notice_is_withdrawn_but_a_result_said_since_stays(qtbot: Any) -> None:
    page, line = _page(qtbot)
    line.notice("Log on to see the exchange partners.")
    assert line.provisional and line.styleSheet() == "" and line.isVisibleTo(page)
    line.withdraw_notice()
    assert line.text() == "" and not line.isVisibleTo(page)

    line.notice("Reading needs 1 auditor.", bad=True)
    assert line.bad and line.styleSheet() == ERROR_STYLE
    line.say("Key store drop-01 is no longer registered.")
    line.withdraw_notice()
    assert line.text() == "Key store drop-01 is no longer registered."


def test_a_plain_line_that_stays_in_place(qtbot: Any) -> None:
    page, line = _page(qtbot, good_style="", selectable=False, hides_when_empty=False)
    assert line.isVisibleTo(page)
    line.say("3 matching entries, newest first.")
    assert line.styleSheet() == ""
    line.say("")
    assert line.isVisibleTo(page)


def test_the_record_of_the_current_row(qtbot: Any) -> None:
    page = QWidget()
    qtbot.addWidget(page)
    model = Names(page)
    view = record_table(model, "names", page)
    assert current_record(view, model) is None
    model.set_rows(["alpha", "beta", "gamma"])
    assert current_record(view, model) is None  # no row is current yet
    select_row(view, 1)
    assert current_record(view, model) == "beta"
    assert [i.row() for i in view.selectionModel().selectedRows()] == [1]
    select_row(view, 2)
    assert current_record(view, model) == "gamma"
    assert [i.row() for i in view.selectionModel().selectedRows()] == [2]
    model.set_rows([])
    assert current_record(view, model) is None
