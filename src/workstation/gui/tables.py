"""Tables of records as the pages show them (the Ceremonies and Exchanges pages).

:class:`RecordModel` holds records as read-only rows: each model names its columns and
says what a record shows in each; ``RecordRole`` gives the record itself, so a page reads
the selected row without going back to its list. :func:`record_table` is the view they
are shown in (whole rows, one at a time, nothing editable); :func:`fit_columns` sizes its
columns to a sample value, :func:`fit_to_contents` to the values shown.
:func:`current_record` is the record of a table's current row (what a page acts on), and
:func:`select_row` makes a row the current one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor, QFontDatabase, QFontMetrics
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

__all__ = [
    "RecordModel",
    "RecordRole",
    "Records",
    "current_record",
    "fit_columns",
    "fit_to_contents",
    "record_table",
    "select_row",
]

RecordRole = int(Qt.ItemDataRole.UserRole) + 1  # the row's record (Ceremony, Partner, ...)

Row = TypeVar("Row")
Row_co = TypeVar("Row_co", covariant=True)
_ROOT = QModelIndex()


class Records(Protocol[Row_co]):
    """A table model that gives the record of each row (``RecordModel`` and the
    administration page's model)."""

    def record(self, row: int) -> Row_co: ...

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = ...) -> int: ...


class RecordModel(QAbstractTableModel, Generic[Row]):
    """Records as table rows, fed by ``set_rows``, with named columns in subclasses;
    ``RecordRole`` gives the record itself. A subclass gives each column's text
    (``_display``) and, where it has more to say, its tooltip, colour and order."""

    HEADERS: tuple[str, ...] = ()
    TIPS: tuple[str, ...] = ()
    MONOSPACE: frozenset[int] = frozenset()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []
        self._fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

    def set_rows(self, rows: Iterable[Row]) -> None:
        self.beginResetModel()
        self._rows = self._ordered(list(rows))
        self.endResetModel()

    def _ordered(self, rows: list[Row]) -> list[Row]:
        return rows

    def record(self, row: int) -> Row:
        return self._rows[row]

    @property
    def records(self) -> Sequence[Row]:
        return tuple(self._rows)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.HEADERS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole and section < len(self.TIPS):
            return self.TIPS[section]
        return None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        record = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(record, column)
        if role == RecordRole:
            return record
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(record, column) or self._display(record, column) or None
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(record, column)
        if role == Qt.ItemDataRole.FontRole and column in self.MONOSPACE:
            return self._fixed
        return None

    def _display(self, record: Row, column: int) -> str:
        """Each model gives its columns' text; the base shows nothing."""
        return ""

    def _tooltip(self, record: Row, column: int) -> str | None:
        """More than the cell shows (None: the cell's text is its tooltip)."""
        return None

    def _foreground(self, record: Row, column: int) -> QColor | None:
        return None


def record_table(model: QAbstractTableModel, name: str, parent: QWidget) -> QTableView:
    """A read-only table of ``model``: whole rows, one selected at a time."""
    view = QTableView(parent)
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.setTabKeyNavigation(False)
    view.verticalHeader().setVisible(False)
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setStretchLastSection(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return view


def fit_columns(view: QTableView, samples: Mapping[int, str]) -> None:
    """Each column as wide as its sample value or its title, whichever is wider, in the
    font the column is shown in."""
    for column, sample in samples.items():
        view.setColumnWidth(column, _width(view, column, (sample,)))


def fit_to_contents(view: QTableView, columns: Iterable[int], *, rows: int = 2000) -> None:
    """Each of ``columns`` as wide as its widest cell (of the first ``rows``) or its title:
    for a register whose values (bag numbers, key labels) have no fixed length, after its
    rows are set. The last column is left to stretch."""
    model = view.model()
    count = min(model.rowCount(), rows)
    for column in columns:
        texts = (str(model.index(row, column).data() or "") for row in range(count))
        view.setColumnWidth(column, _width(view, column, texts))


def _width(view: QTableView, column: int, texts: Iterable[str]) -> int:
    """The width that shows every one of ``texts`` and the column's title in full."""
    model = view.model()
    monospace: frozenset[int] = getattr(model, "MONOSPACE", frozenset())
    if column in monospace:
        metrics = QFontMetrics(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    else:
        metrics = view.fontMetrics()
    title = str(model.headerData(column, Qt.Orientation.Horizontal) or "")
    widest = max((metrics.horizontalAdvance(text) for text in texts), default=0)
    return max(widest, view.horizontalHeader().fontMetrics().horizontalAdvance(title)) + 20


def current_record(view: QAbstractItemView, model: Records[Row]) -> Row | None:
    """The record of ``view``'s current row, or None when no row is current (or the row
    is gone from ``model`` since)."""
    index = view.currentIndex()
    if not index.isValid() or not 0 <= index.row() < model.rowCount():
        return None
    return model.record(index.row())


def select_row(view: QAbstractItemView, row: int) -> None:
    """Make ``row`` the current and only selected row of ``view``."""
    view.selectionModel().setCurrentIndex(
        view.model().index(row, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
