"""The key inventory: a lazy table of keys with filters, and the selected key's detail.

The table never holds the whole inventory. ``KeyTableModel`` knows how many keys match
the filters and keeps a window of pages (``PAGE_SIZE`` rows each) fetched through
``KeyService.query`` with limit and offset on the device thread; a row whose page is not
there yet shows "Loading…" and asks for its page. Scrolling to the end of 100,000 keys
fetches one page, not 100,000 rows.

Sorting. The repository returns keys in label order only (the port has no "order by"),
so for a large result the label column is the only sortable one: descending label order
reads the same pages backwards. When the filters narrow the result to
``LOCAL_SORT_LIMIT`` keys or fewer, the whole result is loaded and any column sorts, in
memory. Sorting a windowed result by another column would sort only what happens to be
loaded and show a wrong order, so the model refuses it and says why.

Every rule stays in the services: the page asks ``KeyService.availability`` which
lifecycle actions the selected key allows and shows the answer; the actions themselves
run through ``workstation.gui.actions.perform`` and are checked again by the service.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from html import escape
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QSettings,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QFontDatabase,
    QFontMetrics,
    QKeySequence,
    QResizeEvent,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workstation.domain.algorithms import KeyAlgorithm
from workstation.domain.audit import AuditEntry
from workstation.domain.keys import KeyEvent, KeyState, ManagedKey
from workstation.domain.policy import Action
from workstation.domain.records import parse_time
from workstation.domain.templates import EXPORTABILITY, KEY_USAGES, MODES_OF_USE, KeyTemplate
from workstation.services.keys import Availability, KeyDetail
from workstation.services.ports import KeyQuery

from .actions import perform
from .errors import describe
from .runner import JobControl
from .state import AppState

log = logging.getLogger(__name__)


# --- columns, roles, presentation --------------------------------------------------------

LABEL, ALGORITHM, USAGE, KCV, STATE, TEMPLATE, ACTIVATION, EXPIRES = range(8)
COLUMN_TITLES: tuple[str, ...] = (
    "Label",
    "Algorithm",
    "Usage",
    "KCV",
    "State",
    "Template",
    "Activation",
    "Expires",
)
COLUMN_TIPS: tuple[str, ...] = (
    "The key's unique name",
    "Algorithm and key length",
    "TR-31 key usage code (hover a cell for its meaning)",
    "Key check value: identifies the key without revealing it",
    "Lifecycle state (NIST SP 800-57)",
    "The template the key was generated from",
    "From when the key may be activated (UTC)",
    "End of the crypto-period: deactivation date (UTC)",
)

KeyRole = int(Qt.ItemDataRole.UserRole) + 1  # the ManagedKey of the row (None while loading)
SortRole = int(Qt.ItemDataRole.UserRole) + 2  # a value that sorts as the column should
KeyIdRole = int(Qt.ItemDataRole.UserRole) + 3  # the key's id (None while loading)

PAGE_SIZE = 200
LOCAL_SORT_LIMIT = 5_000  # at or below: the whole result is loaded and sorts by any column
MAX_CACHED_PAGES = 64  # pages kept of a windowed result (64 x 200 = 12,800 rows)
MAX_WANTED_PAGES = 6  # pages waiting to be fetched; older wishes (scrolled past) are dropped
LOADING = "Loading…"

STATE_NAMES: Mapping[KeyState, str] = {
    KeyState.PRE_ACTIVATION: "Pre-activation",
    KeyState.ACTIVE: "Active",
    KeyState.SUSPENDED: "Suspended",
    KeyState.DEACTIVATED: "Deactivated",
    KeyState.COMPROMISED: "Compromised",
    KeyState.DESTROYED: "Destroyed",
}
STATE_COLOURS: Mapping[KeyState, str] = {
    KeyState.PRE_ACTIVATION: "#3d6fa8",
    KeyState.ACTIVE: "#1b7f3a",
    KeyState.SUSPENDED: "#b26a00",
    KeyState.DEACTIVATED: "#5f6368",
    KeyState.COMPROMISED: "#b00020",
    KeyState.DESTROYED: "#8a8a8a",
}
STATE_MEANINGS: Mapping[KeyState, str] = {
    KeyState.PRE_ACTIVATION: "generated, not yet in use",
    KeyState.ACTIVE: "in use for protecting data",
    KeyState.SUSPENDED: "temporarily out of use; may be reinstated",
    KeyState.DEACTIVATED: "no longer used to protect; may still process old data",
    KeyState.COMPROMISED: "known or suspected to be disclosed",
    KeyState.DESTROYED: "key material erased; only the record remains",
}
_STATE_ORDER = {s: i for i, s in enumerate(KeyState)}
# Keys still in service: the end of their crypto-period calls for action.
IN_SERVICE: frozenset[KeyState] = frozenset(
    {KeyState.PRE_ACTIVATION, KeyState.ACTIVE, KeyState.SUSPENDED}
)
OVERDUE_COLOUR = "#b00020"
SOON_COLOUR = "#b26a00"
SOON_DAYS = 30

ACTION_BUTTONS: tuple[tuple[Action, str, str], ...] = (
    (Action.ACTIVATE_KEY, "Activate", "activateButton"),
    (Action.SUSPEND_KEY, "Suspend", "suspendButton"),
    (Action.REINSTATE_KEY, "Reinstate", "reinstateButton"),
    (Action.DEACTIVATE_KEY, "Deactivate", "deactivateButton"),
    (Action.COMPROMISE_KEY, "Compromise…", "compromiseButton"),
    (Action.DESTROY_KEY, "Destroy…", "destroyButton"),
    (Action.ROTATE_KEY, "Rotate…", "rotateButton"),
)
SIMPLE_ACTIONS = frozenset(
    {Action.ACTIVATE_KEY, Action.SUSPEND_KEY, Action.REINSTATE_KEY, Action.DEACTIVATE_KEY}
)

# The order a custodian reads a row in: name, state, check value, then the rest.
VISUAL_ORDER: tuple[int, ...] = (LABEL, STATE, KCV, EXPIRES, USAGE, ALGORITHM, TEMPLATE, ACTIVATION)

_ROOT = QModelIndex()


def day(value: datetime | None) -> str:
    return "" if value is None else f"{value.astimezone(UTC):%Y-%m-%d}"


def moment(value: datetime | None) -> str:
    return "" if value is None else f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def count_text(n: int, what: str = "key") -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


# --- the model ---------------------------------------------------------------------------


class KeyTableModel(QAbstractTableModel):
    """Keys as table rows: the whole (small) result, or a window of pages of a large one.

    Fed by ``set_rows(keys, total)``: when ``total`` is more than the keys given, those are
    the first pages and the rest arrive through ``add_page`` after ``page_requested`` asks
    for them (at most one request is outstanding; the newest wish goes first).
    """

    page_requested = Signal(int, int)  # offset, limit (in the repository's label order)
    sort_refused = Signal(str)  # why the requested order cannot be shown

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        page_size: int = PAGE_SIZE,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(parent)
        self._page_size = page_size
        self._now = now or (lambda: datetime.now(UTC))
        self._total = 0
        self._rows: list[ManagedKey] | None = []  # the whole result in display order, or None
        self._pages: OrderedDict[int, list[ManagedKey]] = OrderedDict()
        self._stale: dict[int, list[ManagedKey]] = {}  # shown until the fresh page arrives
        self._in_flight: int | None = None
        self._wanted: list[int] = []
        self._failed: set[int] = set()
        self._sort_column = LABEL
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._templates: dict[str, str] = {}
        self._fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self._request_timer = QTimer(self)
        self._request_timer.setSingleShot(True)
        self._request_timer.setInterval(0)
        self._request_timer.timeout.connect(self._send_request)

    # --- feeding -------------------------------------------------------------------------

    def set_rows(
        self, keys: Sequence[ManagedKey], total: int | None = None, *, keep_view: bool = False
    ) -> None:
        """Show ``keys``: all of the result, or its first rows when ``total`` is larger.

        ``keep_view``: the same filters read again (after a change): when the number of
        rows is unchanged, the rows are replaced in place, so the selection and the scroll
        position stay; otherwise the model resets.
        """
        total = len(keys) if total is None else max(total, len(keys))
        complete = total == len(keys)
        if complete:
            rows = self._sorted(list(keys))
            if keep_view and self._rows is not None and len(self._rows) == total:
                self._replace_rows(rows)
                return
            self.beginResetModel()
            self._clear_window()
            self._rows, self._total = rows, total
            self.endResetModel()
            return
        pages = self._chunk(keys)
        if keep_view and self._rows is None and self._total == total:
            self._stale = {**self._stale, **self._pages}
            self._pages = OrderedDict(pages)
            for p in pages:
                self._stale.pop(p, None)
            self._in_flight, self._wanted, self._failed = None, [], set()
            if total:
                self.dataChanged.emit(self.index(0, 0), self.index(total - 1, EXPIRES))
            return
        self.beginResetModel()
        self._clear_window()
        self._rows, self._total = None, total
        self._pages = OrderedDict(pages)
        if self._sort_column != LABEL:
            # A windowed result sorts by label only (see the module docstring).
            self._sort_column = LABEL
            self._sort_order = Qt.SortOrder.AscendingOrder
        self.endResetModel()

    def _chunk(self, keys: Sequence[ManagedKey]) -> dict[int, list[ManagedKey]]:
        size = self._page_size
        # Only whole pages: a short last chunk of a partial result would hide rows.
        return {
            i // size: list(keys[i : i + size])
            for i in range(0, len(keys) - len(keys) % size, size)
        }

    def _clear_window(self) -> None:
        self._pages.clear()
        self._stale.clear()
        self._in_flight = None
        self._wanted = []
        self._failed = set()

    def _replace_rows(self, rows: list[ManagedKey]) -> None:
        self.layoutAboutToBeChanged.emit()
        old = self._rows or []
        new_row = {k.id: i for i, k in enumerate(rows)}
        sources = self.persistentIndexList()
        targets = []
        for index in sources:
            row = new_row.get(old[index.row()].id) if 0 <= index.row() < len(old) else None
            targets.append(_ROOT if row is None else self.index(row, index.column()))
        self._rows = rows
        self.changePersistentIndexList(sources, targets)
        self.layoutChanged.emit()
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, EXPIRES))

    def add_page(self, offset: int, keys: Sequence[ManagedKey]) -> None:
        """A page fetched after ``page_requested``; rows of a stale request are ignored."""
        if self._rows is not None or offset % self._page_size:
            return
        page = offset // self._page_size
        if self._in_flight == page:
            self._in_flight = None
        self._pages[page] = list(keys)
        self._pages.move_to_end(page)
        self._stale.pop(page, None)
        while len(self._pages) > MAX_CACHED_PAGES:
            self._pages.popitem(last=False)
        first, last = self._display_span(offset, len(keys))
        if last >= first:
            self.dataChanged.emit(self.index(first, 0), self.index(last, EXPIRES))
        self._schedule()

    def page_failed(self, offset: int) -> None:
        """The request for the page at ``offset`` failed: show it as not loaded, do not
        ask again until the rows are set anew."""
        page = offset // self._page_size
        if self._in_flight == page:
            self._in_flight = None
        self._failed.add(page)
        first, last = self._display_span(offset, self._page_size)
        if last >= first:
            self.dataChanged.emit(self.index(first, 0), self.index(last, 0))
        self._schedule()

    def set_template_names(self, names: Mapping[str, str]) -> None:
        self._templates = dict(names)
        if self._total:
            self.dataChanged.emit(self.index(0, TEMPLATE), self.index(self._total - 1, TEMPLATE))

    # --- reading -------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return self._total

    @property
    def is_complete(self) -> bool:
        """Whether every matching key is in memory (and any column can sort)."""
        return self._rows is not None

    @property
    def sort_column(self) -> int:
        return self._sort_column

    @property
    def sort_order(self) -> Qt.SortOrder:
        return self._sort_order

    @property
    def page_size(self) -> int:
        return self._page_size

    def loaded_rows(self) -> int:
        if self._rows is not None:
            return len(self._rows)
        return sum(len(p) for p in self._pages.values())

    def key_at(self, row: int) -> ManagedKey | None:
        """The key shown in ``row``, or None while its page is loading (asks for it)."""
        if not 0 <= row < self._total:
            return None
        if self._rows is not None:
            return self._rows[row]
        index = self._server_index(row)
        page, at = divmod(index, self._page_size)
        rows = self._pages.get(page)
        if rows is not None:
            self._pages.move_to_end(page)
        else:
            self._want(page)
            rows = self._stale.get(page)
        if rows is None or at >= len(rows):
            return None
        return rows[at]

    def row_of(self, key_id: str) -> int | None:
        """The row of a loaded key, or None."""
        if self._rows is not None:
            return next((i for i, k in enumerate(self._rows) if k.id == key_id), None)
        for page, rows in self._pages.items():
            for at, key in enumerate(rows):
                if key.id == key_id:
                    index = page * self._page_size + at
                    return self._display_span(index, 1)[0]
        return None

    def _server_index(self, row: int) -> int:
        if self._sort_order == Qt.SortOrder.DescendingOrder:
            return self._total - 1 - row
        return row

    def _display_span(self, offset: int, count: int) -> tuple[int, int]:
        last_index = min(offset + count, self._total) - 1
        if self._sort_order == Qt.SortOrder.DescendingOrder:
            return self._total - 1 - last_index, self._total - 1 - offset
        return offset, last_index

    def _want(self, page: int) -> None:
        if page in self._failed or page == self._in_flight:
            return
        if page in self._wanted:
            self._wanted.remove(page)
        self._wanted.append(page)
        del self._wanted[:-MAX_WANTED_PAGES]
        if not self._request_timer.isActive():
            self._request_timer.start()

    def _schedule(self) -> None:
        if self._wanted and not self._request_timer.isActive():
            self._request_timer.start()

    def _send_request(self) -> None:
        # Deferred out of data(): the view is painting, and an answer must not change the
        # model under it.
        while self._in_flight is None and self._wanted:
            page = self._wanted.pop()
            if page in self._pages or page in self._failed:
                continue
            self._in_flight = page
            self.page_requested.emit(page * self._page_size, self._page_size)

    # --- Qt model ------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else self._total

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMN_TITLES)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMN_TITLES):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMN_TITLES[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMN_TIPS[section]
        return None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < self._total:
            return None
        column = index.column()
        key = self.key_at(index.row())
        if key is None:
            if role == Qt.ItemDataRole.DisplayRole and column == LABEL:
                failed = self._server_index(index.row()) // self._page_size in self._failed
                return "Not loaded (see the status line)" if failed else LOADING
            if role == Qt.ItemDataRole.ForegroundRole:
                return QColor("#8a8a8a")
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(key, column)
        if role == KeyRole:
            return key
        if role == KeyIdRole:
            return key.id
        if role == SortRole:
            return self._sort_value(key, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(key, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(key, column)
        if role == Qt.ItemDataRole.FontRole and column == KCV:
            return self._fixed
        return None

    def _display(self, key: ManagedKey, column: int) -> str:
        if column == LABEL:
            return key.label
        if column == ALGORITHM:
            return key.algorithm.value
        if column == USAGE:
            return key.key_usage
        if column == KCV:
            return key.kcv
        if column == STATE:
            return STATE_NAMES[key.state]
        if column == TEMPLATE:
            return self._templates.get(key.template_id, key.template_id)
        if column == ACTIVATION:
            return day(key.activation_date)
        return day(key.deactivation_date)

    def _sort_value(self, key: ManagedKey, column: int) -> Any:
        if column == STATE:
            return _STATE_ORDER[key.state]
        if column == ACTIVATION:
            return key.activation_date.timestamp()
        if column == EXPIRES:
            return key.deactivation_date.timestamp()
        if column == ALGORITHM:
            return f"{key.algorithm.family.value}{key.algorithm.bits:05d}"
        return self._display(key, column).casefold()

    def _tooltip(self, key: ManagedKey, column: int) -> str | None:
        if column == USAGE:
            return f"{key.key_usage}: {KEY_USAGES.get(key.key_usage, 'unknown usage')}"
        if column == STATE:
            return f"{STATE_NAMES[key.state]}: {STATE_MEANINGS[key.state]}"
        if column == EXPIRES and key.state in IN_SERVICE:
            days = (key.deactivation_date - self._now()).days
            if days < 0:
                return f"The crypto-period ended {-days} days ago: deactivate or rotate the key."
            return f"The crypto-period ends in {days} days."
        if column == LABEL:
            return f"{key.label} (version {key.version})"
        return None

    def _foreground(self, key: ManagedKey, column: int) -> QColor | None:
        if column == STATE:
            return QColor(STATE_COLOURS[key.state])
        if column == EXPIRES and key.state in IN_SERVICE:
            left = key.deactivation_date - self._now()
            if left < timedelta(0):
                return QColor(OVERDUE_COLOUR)
            if left < timedelta(days=SOON_DAYS):
                return QColor(SOON_COLOUR)
        if key.state is KeyState.DESTROYED:
            return QColor(STATE_COLOURS[KeyState.DESTROYED])
        return None

    # --- sorting -------------------------------------------------------------------------

    def _sorted(self, rows: list[ManagedKey]) -> list[ManagedKey]:
        column = self._sort_column
        descending = self._sort_order == Qt.SortOrder.DescendingOrder
        # Label as the tie-breaker keeps equal values in the repository's order.
        rows.sort(key=lambda k: k.label)
        if column != LABEL:
            rows.sort(key=lambda k: self._sort_value(k, column), reverse=descending)
        elif descending:
            rows.reverse()
        return rows

    def can_sort(self, column: int) -> bool:
        return self._rows is not None or column == LABEL

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMN_TITLES):
            return
        if column == self._sort_column and order == self._sort_order:
            return
        if not self.can_sort(column):
            self.sort_refused.emit(
                f"Sorting by {COLUMN_TITLES[column].lower()} needs every matching key in "
                f"memory: narrow the filters to {LOCAL_SORT_LIMIT:,} keys or fewer. Large "
                "results are shown in label order, as the repository pages them."
            )
            return
        self.layoutAboutToBeChanged.emit()
        sources = self.persistentIndexList()
        if self._rows is not None:
            old_ids = [self._rows[i.row()].id for i in sources]
            self._sort_column, self._sort_order = column, order
            self._rows = self._sorted(self._rows)
            now_at = {k.id: i for i, k in enumerate(self._rows)}
            targets = [
                self.index(now_at[key_id], i.column())
                for key_id, i in zip(old_ids, sources, strict=True)
            ]
        else:
            self._sort_column, self._sort_order = column, order
            # Descending label order reads the same pages backwards.
            targets = [self.index(self._total - 1 - i.row(), i.column()) for i in sources]
        self.changePersistentIndexList(sources, targets)
        self.layoutChanged.emit()


# --- filters -----------------------------------------------------------------------------


class SearchMode(StrEnum):
    AUTO = "auto"  # label or KCV
    LABEL = "label"
    KCV = "kcv"


SEARCH_MODE_TITLES: Mapping[SearchMode, str] = {
    SearchMode.AUTO: "Label or KCV",
    SearchMode.LABEL: "Label contains",
    SearchMode.KCV: "KCV starts with",
}
_HEX = re.compile(r"[0-9A-Fa-f]+")


@dataclass(frozen=True)
class InventoryFilter:
    """What the person chose in the filter bar."""

    states: tuple[KeyState, ...] = ()
    usage: str | None = None
    algorithm: KeyAlgorithm | None = None
    template_id: str | None = None
    expiring_days: int | None = None  # deactivation date within this many days (or past)
    search: str = ""
    search_mode: SearchMode = SearchMode.AUTO

    @property
    def is_empty(self) -> bool:
        return self == InventoryFilter(search_mode=self.search_mode)

    def base_query(self, now: datetime) -> KeyQuery:
        expiring = None
        if self.expiring_days is not None:
            expiring = now + timedelta(days=self.expiring_days)
        return KeyQuery(
            states=self.states,
            key_usage=self.usage,
            algorithm=self.algorithm,
            template_id=self.template_id,
            expiring_before=expiring,
        )

    def searches(self, now: datetime) -> list[tuple[str, KeyQuery]]:
        """The queries the search box stands for, each with what it means in words: one,
        or two (label and KCV) when "label or KCV" is chosen and the text is hexadecimal."""
        base = self.base_query(now)
        text = self.search.strip()
        if not text:
            return [("", base)]
        label = (f"label contains “{text}”", replace(base, label=text))
        kcv_text = text.replace(" ", "").upper()
        kcv = (f"KCV starts with {kcv_text}", replace(base, kcv=kcv_text))
        if self.search_mode is SearchMode.LABEL:
            return [label]
        if self.search_mode is SearchMode.KCV:
            return [kcv]
        return [label, kcv] if _HEX.fullmatch(kcv_text) else [label]

    def describe(self, template_names: Mapping[str, str] | None = None) -> str:
        parts: list[str] = []
        if self.states:
            parts.append(" or ".join(STATE_NAMES[s].lower() for s in self.states))
        if self.algorithm is not None:
            parts.append(self.algorithm.value)
        if self.usage is not None:
            parts.append(f"usage {self.usage}")
        if self.template_id is not None:
            name = (template_names or {}).get(self.template_id, self.template_id)
            parts.append(f"template “{name}”")
        if self.expiring_days is not None:
            parts.append(f"expiring within {self.expiring_days} days or overdue")
        return ", ".join(parts)

    # --- remembered between runs --------------------------------------------------------

    def save(self, settings: QSettings, prefix: str = "inventory/filter") -> None:
        settings.setValue(f"{prefix}/states", ",".join(s.value for s in self.states))
        settings.setValue(f"{prefix}/usage", self.usage or "")
        settings.setValue(f"{prefix}/algorithm", self.algorithm.value if self.algorithm else "")
        settings.setValue(f"{prefix}/template", self.template_id or "")
        days = "" if self.expiring_days is None else str(self.expiring_days)
        settings.setValue(f"{prefix}/expiring_days", days)
        settings.setValue(f"{prefix}/search", self.search)
        settings.setValue(f"{prefix}/search_mode", self.search_mode.value)

    @classmethod
    def load(cls, settings: QSettings, prefix: str = "inventory/filter") -> InventoryFilter:
        def text(name: str) -> str:
            value = settings.value(f"{prefix}/{name}", "")
            return value if isinstance(value, str) else ""

        states = tuple(KeyState(s) for s in text("states").split(",") if s in set(KeyState))
        usage = text("usage") if text("usage") in KEY_USAGES else None
        algorithm_text = text("algorithm")
        algorithm = KeyAlgorithm(algorithm_text) if algorithm_text in set(KeyAlgorithm) else None
        days_text = text("expiring_days")
        days = int(days_text) if days_text.isdigit() else None
        mode_text = text("search_mode")
        mode = SearchMode(mode_text) if mode_text in set(SearchMode) else SearchMode.AUTO
        return cls(
            states=states,
            usage=usage,
            algorithm=algorithm,
            template_id=text("template") or None,
            expiring_days=None if days is None else min(days, 3650),
            search=text("search"),
            search_mode=mode,
        )


Query = Callable[[KeyQuery], tuple[list[ManagedKey], int]]


@dataclass(frozen=True)
class LoadedKeys:
    """The first rows of a result, the query that pages the rest, and what it matched."""

    keys: list[ManagedKey]
    total: int
    query: KeyQuery
    matched: str  # e.g. "KCV starts with 1A2B", or "" without a search
    note: str = ""


def load_first(query: Query, searches: Sequence[tuple[str, KeyQuery]], page: int) -> LoadedKeys:
    """Read the first rows for the filters (on the device thread).

    A small result (up to ``LOCAL_SORT_LIMIT``) is read whole so that it sorts by any
    column. "Label or KCV" with hexadecimal text counts both; the port narrows with AND
    only, so both matches are shown together when they are few, and otherwise the label
    matches are shown with a note.
    """
    if len(searches) == 2:
        (label_words, by_label), (kcv_words, by_kcv) = searches
        _, n_label = query(replace(by_label, limit=0))
        _, n_kcv = query(replace(by_kcv, limit=0))
        if n_label and n_kcv and n_label + n_kcv <= LOCAL_SORT_LIMIT:
            a, _ = query(replace(by_label, limit=LOCAL_SORT_LIMIT))
            b, _ = query(replace(by_kcv, limit=LOCAL_SORT_LIMIT))
            merged = {k.id: k for k in (*a, *b)}
            keys = sorted(merged.values(), key=lambda k: k.label)
            return LoadedKeys(keys, len(keys), by_label, f"{label_words} or {kcv_words}")
        if n_kcv and not n_label:
            searches = [(kcv_words, by_kcv)]
        else:
            note = (
                f"{n_kcv:,} keys whose KCV starts with the same text are not shown: choose "
                "“KCV starts with” to see them."
                if n_kcv
                else ""
            )
            keys, total = _read(query, by_label, page)
            return LoadedKeys(keys, total, by_label, label_words, note)
    words, chosen = searches[0]
    keys, total = _read(query, chosen, page)
    return LoadedKeys(keys, total, chosen, words)


def _read(query: Query, chosen: KeyQuery, page: int) -> tuple[list[ManagedKey], int]:
    keys, total = query(replace(chosen, limit=page, offset=0))
    if len(keys) < total <= LOCAL_SORT_LIMIT:
        keys, total = query(replace(chosen, limit=LOCAL_SORT_LIMIT, offset=0))
    return keys, total


# --- the page ----------------------------------------------------------------------------


class KeysPage(QWidget):
    """Filter bar, key table and the selected key's detail with its lifecycle actions."""

    rows_loaded = Signal(int)  # the number of matching keys, after each (re)load

    def __init__(
        self, state: AppState, parent: QWidget | None = None, *, page_size: int = PAGE_SIZE
    ) -> None:
        super().__init__(parent)
        self.setObjectName("keysPage")
        self.state = state
        self.model = KeyTableModel(self, page_size=page_size, now=state.services.ctx.clock.now)
        self._filter = InventoryFilter.load(state.settings)
        self._query: KeyQuery | None = None  # what the current pages come from
        self._generation = 0  # bumped per reload; answers of older loads are dropped
        self._dirty = True
        self._loading = False
        self._templates: list[KeyTemplate] = []
        self._template_names: dict[str, str] = {}
        self._selected_id: str | None = None
        self._restoring = False
        self._matched = ""  # what the search matched, in words
        self._note = ""

        self._build_filter_bar()
        self.table = QTableView(self)
        self.table.setObjectName("keyTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().setVisible(False)
        # Fixed row heights: a view of 100,000 rows must not measure each one.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        self._arrange_columns()
        self.table.setSortingEnabled(True)
        header.setSortIndicator(LABEL, Qt.SortOrder.AscendingOrder)
        self.status = QLabel(self)
        self.status.setObjectName("inventoryStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.detail = KeyDetailPane(self)
        table_side = QWidget(self)
        table_layout = QVBoxLayout(table_side)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addWidget(self.table, 1)
        table_layout.addWidget(self.status)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("keysSplitter")
        self.splitter.addWidget(table_side)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.splitter, 1)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(300)
        self._search_timer.timeout.connect(self._filters_changed)
        self._detail_timer = QTimer(self)
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(120)
        self._detail_timer.timeout.connect(self._load_detail)
        self._detail_generation = 0

        self.model.page_requested.connect(self._load_page)
        self.model.sort_refused.connect(self._sort_refused)
        self.model.modelReset.connect(self._sync_sort_indicator)
        selection = self.table.selectionModel()
        selection.currentRowChanged.connect(self._current_changed)
        self.detail.jump_requested.connect(self.jump_to)
        self.detail.action_clicked.connect(self.start_action)
        self.model.dataChanged.connect(self._rows_arrived)
        state.data_changed.connect(self._data_changed)
        state.session_changed.connect(self._session_changed)
        state.unlocked.connect(lambda: self.reload(keep_view=True))
        QShortcut(QKeySequence.StandardKey.Find, self, self.search.setFocus)
        self._apply_filter_to_widgets(self._filter)

    # --- columns -------------------------------------------------------------------------

    def _arrange_columns(self) -> None:
        """Widths from the font; the columns a custodian reads first on the left. The
        header's context menu hides and shows columns; the choice is remembered."""
        header = self.table.horizontalHeader()
        fm = self.table.fontMetrics()
        fixed = QFontMetrics(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        pad = 22  # cell margins and the sort arrow
        widths = {
            LABEL: fm.horizontalAdvance("MAC-20260128-00001") + pad,
            ALGORITHM: fm.horizontalAdvance("TDES-3KEY") + pad,
            USAGE: fm.horizontalAdvance("Usage") + pad,
            KCV: fixed.horizontalAdvance("0123456789") + pad,
            STATE: fm.horizontalAdvance("Pre-activation") + pad,
            TEMPLATE: fm.horizontalAdvance("Zone master key (KEK)") + pad,
            ACTIVATION: fm.horizontalAdvance("2026-11-24") + pad,
            EXPIRES: fm.horizontalAdvance("2026-11-24") + pad,
        }
        for column, width in widths.items():
            self.table.setColumnWidth(column, width)
        for visual, column in enumerate(VISUAL_ORDER):
            header.moveSection(header.visualIndex(column), visual)
        saved = self.state.settings.value("inventory/header")
        if isinstance(saved, QByteArray):
            header.restoreState(saved)
        header.setSortIndicator(LABEL, Qt.SortOrder.AscendingOrder)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        header.sectionMoved.connect(lambda *_: self._save_header())
        header.sectionResized.connect(lambda *_: self._save_header())

    def _header_menu(self, pos: QPoint) -> None:
        header = self.table.horizontalHeader()
        menu = QMenu(self)
        menu.setObjectName("columnMenu")
        for column, title in enumerate(COLUMN_TITLES):
            action = menu.addAction(title)
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(column))
            action.setEnabled(column != LABEL)
            action.toggled.connect(lambda shown, c=column: self._show_column(c, shown))
        menu.popup(header.mapToGlobal(pos))

    def _show_column(self, column: int, shown: bool) -> None:
        self.table.horizontalHeader().setSectionHidden(column, not shown)
        self._save_header()

    def _save_header(self) -> None:
        self.state.settings.setValue("inventory/header", self.table.horizontalHeader().saveState())

    # --- filter bar ----------------------------------------------------------------------

    def _build_filter_bar(self) -> None:
        bar = QFrame(self)
        bar.setObjectName("filterBar")
        grid = QGridLayout(bar)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)

        self.search = QLineEdit(bar)
        self.search.setObjectName("searchBox")
        self.search.setPlaceholderText("Label or key check value, e.g. ZMK-2026 or 1A2B3C")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(200)
        self.search.textChanged.connect(lambda _: self._search_timer.start())
        self.search.returnPressed.connect(self._filters_changed)
        search_label = QLabel("Sea&rch:", bar)
        search_label.setBuddy(self.search)
        self.search_mode = QComboBox(bar)
        self.search_mode.setObjectName("searchMode")
        for mode, title in SEARCH_MODE_TITLES.items():
            self.search_mode.addItem(title, mode.value)
        self.search_mode.setToolTip(
            "Label or KCV: hexadecimal text is also looked up as the start of a KCV"
        )
        self.search_mode.currentIndexChanged.connect(self._filters_changed)

        self.states_button = QToolButton(bar)
        self.states_button.setObjectName("stateFilter")
        self.states_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.states_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.states_button.setMinimumWidth(120)
        menu = QMenu(self.states_button)
        menu.setObjectName("stateFilterMenu")
        self.state_actions: dict[KeyState, QAction] = {}
        for key_state in KeyState:
            action = QAction(STATE_NAMES[key_state], menu)
            action.setCheckable(True)
            action.setToolTip(STATE_MEANINGS[key_state])
            action.toggled.connect(self._filters_changed)
            menu.addAction(action)
            self.state_actions[key_state] = action
        menu.addSeparator()
        menu.addAction("Any state", self._clear_states)
        self.states_button.setMenu(menu)
        state_label = QLabel("S&tate:", bar)
        state_label.setBuddy(self.states_button)

        self.usage = QComboBox(bar)
        self.usage.setObjectName("usageFilter")
        self.usage.addItem("Any usage", None)
        for code, meaning in KEY_USAGES.items():
            self.usage.addItem(f"{code} — {meaning}", code)
        self._compact(self.usage, 11)
        self.usage.currentIndexChanged.connect(self._filters_changed)
        usage_label = QLabel("Usa&ge:", bar)
        usage_label.setBuddy(self.usage)

        self.algorithm = QComboBox(bar)
        self.algorithm.setObjectName("algorithmFilter")
        self.algorithm.addItem("Any algorithm", None)
        for algorithm in KeyAlgorithm:
            self.algorithm.addItem(algorithm.value, algorithm.value)
        self.algorithm.currentIndexChanged.connect(self._filters_changed)
        algorithm_label = QLabel("&Algorithm:", bar)
        algorithm_label.setBuddy(self.algorithm)

        self.template = QComboBox(bar)
        self.template.setObjectName("templateFilter")
        self.template.addItem("Any template", None)
        self._compact(self.template, 13)
        self.template.currentIndexChanged.connect(self._filters_changed)
        template_label = QLabel("Tem&plate:", bar)
        template_label.setBuddy(self.template)

        self.expiring = QCheckBox("&Expiring within", bar)
        self.expiring.setObjectName("expiringFilter")
        self.expiring.setToolTip(
            "Keys whose crypto-period ends within this many days, and those already overdue "
            "(destroyed keys are left out)"
        )
        self.expiring_days = QSpinBox(bar)
        self.expiring_days.setObjectName("expiringDays")
        self.expiring_days.setRange(0, 3650)
        self.expiring_days.setValue(90)
        self.expiring_days.setSuffix(" days")
        self.expiring_days.setEnabled(False)
        self.expiring.toggled.connect(self.expiring_days.setEnabled)
        self.expiring.toggled.connect(self._filters_changed)
        self.expiring_days.valueChanged.connect(lambda _: self._search_timer.start())

        self.clear_button = QPushButton("&Clear filters", bar)
        self.clear_button.setObjectName("clearFilters")
        self.clear_button.clicked.connect(self.clear_filters)
        self.generate_button = QPushButton("Ge&nerate key…", bar)
        self.generate_button.setObjectName("generateKeyButton")
        self.generate_button.setToolTip("Generate new keys inside the HSM from a template")
        self.generate_button.clicked.connect(self.open_generate)

        row1 = QHBoxLayout()
        row1.addWidget(search_label)
        row1.addWidget(self.search, 1)
        row1.addWidget(self.search_mode)
        row1.addWidget(self.clear_button)
        row1.addSpacing(16)
        row1.addWidget(self.generate_button)
        row2 = QHBoxLayout()
        for widget in (
            state_label,
            self.states_button,
            usage_label,
            self.usage,
            algorithm_label,
            self.algorithm,
            template_label,
            self.template,
            self.expiring,
            self.expiring_days,
        ):
            row2.addWidget(widget)
        row2.addStretch(1)
        grid.addLayout(row1, 0, 0)
        grid.addLayout(row2, 1, 0)
        self.filter_bar: QFrame = bar

    @staticmethod
    def _compact(combo: QComboBox, characters: int) -> None:
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(characters)
        combo.view().setMinimumWidth(combo.fontMetrics().averageCharWidth() * 60)

    def current_filter(self) -> InventoryFilter:
        states = tuple(s for s, a in self.state_actions.items() if a.isChecked())
        usage = self.usage.currentData()
        algorithm = self.algorithm.currentData()
        template = self.template.currentData()
        return InventoryFilter(
            states=states,
            usage=usage if isinstance(usage, str) else None,
            algorithm=KeyAlgorithm(algorithm) if isinstance(algorithm, str) else None,
            template_id=template if isinstance(template, str) else None,
            expiring_days=self.expiring_days.value() if self.expiring.isChecked() else None,
            search=self.search.text().strip(),
            search_mode=SearchMode(self.search_mode.currentData()),
        )

    def set_filter(self, value: InventoryFilter) -> None:
        """Show ``value`` in the filter bar and load the keys it matches."""
        self._apply_filter_to_widgets(value)
        self._filters_changed()

    def _apply_filter_to_widgets(self, value: InventoryFilter) -> None:
        self._restoring = True
        try:
            for key_state, action in self.state_actions.items():
                action.setChecked(key_state in value.states)
            self.usage.setCurrentIndex(max(0, self.usage.findData(value.usage)))
            algorithm = value.algorithm.value if value.algorithm else None
            self.algorithm.setCurrentIndex(max(0, self.algorithm.findData(algorithm)))
            if value.template_id is not None and self.template.findData(value.template_id) < 0:
                # Known once the templates are read; keep the choice until then.
                self.template.addItem(value.template_id, value.template_id)
            self.template.setCurrentIndex(max(0, self.template.findData(value.template_id)))
            self.expiring.setChecked(value.expiring_days is not None)
            if value.expiring_days is not None:
                self.expiring_days.setValue(value.expiring_days)
            self.search.setText(value.search)
            self.search_mode.setCurrentIndex(
                max(0, self.search_mode.findData(value.search_mode.value))
            )
        finally:
            self._restoring = False
        self._update_states_button()

    def _clear_states(self) -> None:
        self._restoring = True
        for action in self.state_actions.values():
            action.setChecked(False)
        self._restoring = False
        self._filters_changed()

    def clear_filters(self) -> None:
        self.set_filter(InventoryFilter(search_mode=self.current_filter().search_mode))

    def _update_states_button(self) -> None:
        chosen = [STATE_NAMES[s] for s, a in self.state_actions.items() if a.isChecked()]
        if not chosen:
            text = "Any state"
        elif len(chosen) == 1:
            text = chosen[0]
        else:
            text = f"{chosen[0]} +{len(chosen) - 1}"
        self.states_button.setText(text)
        self.states_button.setToolTip(
            "Show keys in these states: " + (", ".join(chosen) if chosen else "any state")
        )

    def _filters_changed(self) -> None:
        if self._restoring:
            return
        self._search_timer.stop()
        self._update_states_button()
        value = self.current_filter()
        value.save(self.state.settings)
        if value != self._filter or self._query is None:
            self._filter = value
            self.reload()

    # --- loading -------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._dirty and self.state.members:
            if not self._templates:
                self._load_templates()
            self.reload()

    def _session_changed(self) -> None:
        if not self.state.members:
            self._generation += 1
            self._query = None
            self._dirty = True
            self.model.set_rows([])
            self.detail.clear()
            self._selected_id = None
            self.status.setText("Log on to see the key inventory.")
            return
        if self._query is None or not self._templates:
            self._load_templates()
            self.reload()
        elif self._selected_id is not None:
            # Who is logged on decides who is still missing for each action.
            self._detail_timer.start()

    def _data_changed(self, what: str) -> None:
        if what == "templates":
            self._load_templates()
        if what in ("keys", "templates"):
            self.reload(keep_view=True)

    def _load_templates(self) -> None:
        if not self.state.members:
            return

        def work(_: JobControl) -> list[KeyTemplate]:
            session = self.state.ensure_session()
            return self.state.services.templates.list(session, include_retired=True)

        self.state.run(work, title="read the templates", on_done=self._templates_loaded)

    def _templates_loaded(self, templates: list[KeyTemplate]) -> None:
        self._templates = list(templates)
        self._template_names = {t.id: t.name for t in templates}
        self.model.set_template_names(self._template_names)
        chosen = self._filter.template_id
        self._restoring = True
        try:
            self.template.clear()
            self.template.addItem("Any template", None)
            for t in sorted(templates, key=lambda t: t.name.casefold()):
                retired = " (retired)" if t.status.value == "retired" else ""
                self.template.addItem(f"{t.name}{retired}", t.id)
                self.template.setItemData(
                    self.template.count() - 1, t.description, Qt.ItemDataRole.ToolTipRole
                )
            self.template.setCurrentIndex(max(0, self.template.findData(chosen)))
        finally:
            self._restoring = False
        if chosen is not None and self.template.findData(chosen) < 0:
            self._filters_changed()  # the remembered template no longer exists
        self._show_status()

    def reload(self, *, keep_view: bool = False) -> None:
        """Read the first rows for the current filters on the device thread."""
        if not self.state.members:
            self._dirty = True
            return
        if not self.isVisible():
            self._dirty = True
            return
        self._dirty = False
        self._generation += 1
        generation = self._generation
        value = self._filter
        same_query = keep_view and self._query is not None
        services = self.state.services
        page = self.model.page_size

        def query(q: KeyQuery) -> tuple[list[ManagedKey], int]:
            return services.keys.query(self.state.ensure_session(), q)

        def work(_: JobControl) -> LoadedKeys:
            return load_first(query, value.searches(services.ctx.clock.now()), page)

        def done(loaded: LoadedKeys) -> None:
            if generation != self._generation:
                return
            self._loading = False
            self._query = loaded.query
            self._matched, self._note = loaded.matched, loaded.note
            self.model.set_rows(loaded.keys, loaded.total, keep_view=same_query)
            self._sync_sort_indicator()
            self._show_status()
            self._reselect(keep_view=same_query)
            self.rows_loaded.emit(loaded.total)

        def failed(exc: BaseException) -> None:
            if generation != self._generation:
                return
            self._loading = False
            self._show_status(error=exc)

        self._loading = True
        self._show_status()
        self.state.run(work, title="read the key inventory", on_done=done, on_error=failed)

    def _load_page(self, offset: int, limit: int) -> None:
        chosen = self._query
        if chosen is None:
            return
        generation = self._generation
        total = self.model.total

        def work(_: JobControl) -> tuple[list[ManagedKey], int]:
            q = replace(chosen, limit=limit, offset=offset)
            return self.state.services.keys.query(self.state.ensure_session(), q)

        def done(result: tuple[list[ManagedKey], int]) -> None:
            if generation != self._generation:
                return
            keys, now_total = result
            if now_total != total:
                self.reload()  # keys came or went meanwhile: the offsets moved
                return
            self.model.add_page(offset, keys)

        def failed(exc: BaseException) -> None:
            if generation != self._generation:
                return
            self.model.page_failed(offset)
            self._show_status(error=exc)

        self.state.run(work, title="read a page of keys", on_done=done, on_error=failed)

    def _show_status(self, error: BaseException | None = None) -> None:
        if error is not None:
            _, message, _ = describe(error)
            self.status.setText(f"<span style='color:{OVERDUE_COLOUR}'>{message}</span>")
            return
        if self._loading and not self.model.total:
            self.status.setText("Reading the inventory…")
            return
        parts = [f"<b>{count_text(self.model.total)}</b>"]
        words = self._filter.describe(self._template_names)
        if words or self._matched:
            parts.append("matching " + "; ".join(w for w in (words, self._matched) if w))
        if not self.model.is_complete:
            parts.append("in label order, read page by page as you scroll")
        text = " — ".join(parts) + "."
        if self._note:
            text += f" {self._note}"
        self.status.setText(text)

    def _sort_refused(self, message: str) -> None:
        self._sync_sort_indicator()
        QTimer.singleShot(0, self._sync_sort_indicator)
        self.status.setText(message)

    def _sync_sort_indicator(self) -> None:
        header = self.table.horizontalHeader()
        if (header.sortIndicatorSection(), header.sortIndicatorOrder()) == (
            self.model.sort_column,
            self.model.sort_order,
        ):
            return
        header.blockSignals(True)
        header.setSortIndicator(self.model.sort_column, self.model.sort_order)
        header.blockSignals(False)
        header.viewport().update()

    # --- selection and detail ------------------------------------------------------------

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        key = self.model.key_at(current.row()) if current.isValid() else None
        if key is None:
            return
        if key.id != self._selected_id:
            self._selected_id = key.id
            self.detail.show_loading(key)
            self._detail_timer.start()

    def _rows_arrived(self, first: QModelIndex, last: QModelIndex) -> None:
        # A row selected while its page was loading gets its detail once the page is here.
        current = self.table.currentIndex()
        if current.isValid() and first.row() <= current.row() <= last.row():
            self._current_changed(current, current)

    def _reselect(self, *, keep_view: bool) -> None:
        if self._selected_id is None:
            return
        row = self.model.row_of(self._selected_id)
        if row is None and not keep_view:
            # New filters: the detail follows the table, and the key is not in it.
            self._selected_id = None
            self.detail.clear()
            return
        if row is not None:
            index = self.model.index(row, LABEL)
            if self.table.currentIndex().row() != row:
                self.table.selectionModel().setCurrentIndex(
                    index,
                    QItemSelectionModel.SelectionFlag.ClearAndSelect
                    | QItemSelectionModel.SelectionFlag.Rows,
                )
        self._detail_timer.start()

    def select_key(self, key_id: str) -> bool:
        """Select the row of a loaded key; False when it is not among the loaded rows."""
        row = self.model.row_of(key_id)
        if row is None:
            return False
        index = self.model.index(row, LABEL)
        self.table.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(index)
        return True

    def jump_to(self, key_id: str) -> None:
        """Show a linked key (predecessor or successor): its row when it is loaded, else
        its detail alone (the filters stay as they are)."""
        if self.select_key(key_id):
            return
        self.table.clearSelection()
        self._selected_id = key_id
        self._load_detail()

    def _load_detail(self) -> None:
        key_id = self._selected_id
        if key_id is None or not self.state.members:
            return
        self._detail_generation += 1
        generation = self._detail_generation
        services = self.state.services

        def work(_: JobControl) -> tuple[KeyDetail, list[Availability], dict[str, str]]:
            session = self.state.ensure_session()
            detail = services.keys.detail(session, key_id)
            availability = services.keys.availability(session, key_id)
            linked: dict[str, str] = {}
            for other in (detail.key.predecessor_id, detail.key.successor_id):
                if other is not None:
                    linked[other] = services.keys.detail(session, other).key.label
            return detail, availability, linked

        def done(result: tuple[KeyDetail, list[Availability], dict[str, str]]) -> None:
            if generation == self._detail_generation and key_id == self._selected_id:
                detail, availability, linked = result
                self.detail.show_detail(detail, availability, linked, self._template_names)

        def failed(exc: BaseException) -> None:
            if generation == self._detail_generation:
                self.detail.show_error(exc)

        self.state.run(work, title="read the key's detail", on_done=done, on_error=failed)

    # --- actions -------------------------------------------------------------------------

    def start_action(self, action: Action) -> None:
        shown = self.detail.current
        if shown is None:
            return
        key = shown.key
        if action in SIMPLE_ACTIONS:
            self._change_state(key, action)
            return
        wizards = self._wizards()
        if wizards is None:
            return
        if action is Action.ROTATE_KEY:
            wizard = wizards.RotateWizard(self.state, key.label, self)
        else:
            wizard = wizards.StateChangeWizard(self.state, key.label, action, self)
        wizard.finished.connect(lambda _: self._detail_timer.start())
        wizard.open()

    def _change_state(self, key: ManagedKey, action: Action) -> None:
        verb = action.display.split()[0].capitalize()
        if action is Action.DEACTIVATE_KEY:
            answer = QMessageBox.question(
                self,
                "Deactivate key",
                f"Deactivate key {key.label}? A deactivated key never becomes active again; "
                "it may still process data protected before.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        services = self.state.services

        def work(_: JobControl) -> ManagedKey:
            return services.keys.change_state(self.state.ensure_session(), key.id, action)

        def done(_: Any) -> None:
            self.state.data_changed.emit("keys")

        perform(
            self.state,
            self,
            action=action,
            title=f"{verb} key {key.label}",
            work=work,
            on_done=done,
            template=key.template_id,
        )

    def open_generate(self) -> None:
        wizards = self._wizards()
        if wizards is not None:
            wizard = wizards.GenerateKeyWizard(self.state, self)
            wizard.open()

    def _wizards(self) -> Any:
        # Imported when first used: the wizards are their own module, and the page works
        # (and its tests run) without it.
        try:
            return importlib.import_module("workstation.gui.wizards")
        except ImportError as exc:
            log.warning("key wizards unavailable: %s", exc)
            box = QMessageBox(self)
            box.setObjectName("wizardMissing")
            box.setIcon(QMessageBox.Icon.Information)
            box.setWindowTitle("Not available")
            box.setText("The key wizards are not installed in this build.")
            box.open()
            return None


# --- the detail pane ---------------------------------------------------------------------


class _FittingBody(QWidget):
    """Content of a scroll area whose wrapped labels get the height they need at the width
    they are given (a scroll area sizes its widget from its size hint, which is computed
    for the preferred width, and wrapped text would be clipped)."""

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        layout = self.layout()
        if layout is not None and layout.hasHeightForWidth():
            needed = layout.heightForWidth(self.width())
            if needed > 0 and needed != self.minimumHeight():
                self.setMinimumHeight(needed)


class KeyDetailPane(QWidget):
    """Everything about one key: attributes, integrity, links, actions, history, audit."""

    jump_requested = Signal(str)  # key id
    action_clicked = Signal(object)  # Action
    shown = Signal(str)  # the id of the key whose detail is now shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("keyDetail")
        self.current: KeyDetail | None = None
        self.availability: dict[Action, Availability] = {}
        self._links: dict[str, str | None] = {"predecessor": None, "successor": None}
        self.history_events: list[KeyEvent] = []
        self.audit_entries: list[AuditEntry] = []

        self.stack = QStackedWidget(self)
        self.placeholder = QLabel("Select a key to see its details and lifecycle actions.", self)
        self.placeholder.setObjectName("detailPlaceholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.stack.addWidget(self.placeholder)

        body = _FittingBody(self)
        content = QVBoxLayout(body)
        self.title = QLabel(body)
        self.title.setObjectName("detailTitle")
        title_font = QFont(self.title.font())
        title_font.setPointSizeF(title_font.pointSizeF() * 1.35)
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setWordWrap(True)
        self.integrity = QLabel(body)
        self.integrity.setObjectName("integrityLine")
        self.integrity.setWordWrap(True)
        content.addWidget(self.title)
        content.addWidget(self.integrity)

        form_box = QGroupBox("Attributes", body)
        self.form = QFormLayout(form_box)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fields: dict[str, QLabel] = {}
        for name, title in (
            ("state", "State"),
            ("algorithm", "Algorithm"),
            ("kcv", "Key check value"),
            ("usage", "Key usage"),
            ("mode", "Mode of use"),
            ("export", "Exportability"),
            ("template", "Template"),
            ("version", "Version"),
            ("created", "Generated"),
            ("activation", "Activation date"),
            ("deactivation", "Deactivation date"),
            ("changed", "State changed"),
            ("compromise", "Compromise date"),
            ("destroyed", "Destroyed"),
        ):
            value = QLabel(form_box)
            value.setObjectName(f"field_{name}")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            self.form.addRow(f"{title}:", value)
            self.fields[name] = value
        self.fields["kcv"].setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.predecessor = self._link_button("predecessorLink", form_box)
        self.successor = self._link_button("successorLink", form_box)
        self.predecessor.clicked.connect(lambda: self._jump("predecessor"))
        self.successor.clicked.connect(lambda: self._jump("successor"))
        self.form.addRow("Predecessor:", self.predecessor)
        self.form.addRow("Successor:", self.successor)
        content.addWidget(form_box)

        actions_box = QGroupBox("Lifecycle actions", body)
        actions_box.setObjectName("actionsBox")
        grid = QGridLayout(actions_box)
        grid.setColumnStretch(1, 1)
        self.action_buttons: dict[Action, QPushButton] = {}
        self.quorum_notes: dict[Action, QLabel] = {}
        for row, (action, text, object_name) in enumerate(ACTION_BUTTONS):
            button = QPushButton(text, actions_box)
            button.setObjectName(object_name)
            button.setEnabled(False)
            button.clicked.connect(lambda _=False, a=action: self.action_clicked.emit(a))
            note = QLabel(actions_box)
            note.setObjectName(f"{object_name.removesuffix('Button')}Quorum")
            note.setWordWrap(True)
            grid.addWidget(button, row, 0)
            grid.addWidget(note, row, 1)
            self.action_buttons[action] = button
            self.quorum_notes[action] = note
        hint = QLabel(
            "Each action states the people it needs. When someone is missing, you are asked "
            "to have them insert their card; the workstation checks again when it acts.",
            actions_box,
        )
        hint.setWordWrap(True)
        hint.setObjectName("actionsHint")
        hint.setStyleSheet("color: palette(mid);")
        grid.addWidget(hint, len(ACTION_BUTTONS), 0, 1, 2)
        content.addWidget(actions_box)

        # History and audit trail as wrapped text, newest first: the pane is narrow, and a
        # table would hide the people and reasons behind a horizontal scroll bar.
        history_box = QGroupBox("State history (newest first, times in UTC)", body)
        history_layout = QVBoxLayout(history_box)
        self.history = self._log("historyList", history_box)
        history_layout.addWidget(self.history)
        content.addWidget(history_box)

        audit_box = QGroupBox("Audit trail of this key (newest first)", body)
        audit_layout = QVBoxLayout(audit_box)
        self.audit = self._log("auditTrail", audit_box)
        audit_layout.addWidget(self.audit)
        content.addWidget(audit_box)
        content.addStretch(1)

        scroll = QScrollArea(self)
        scroll.setObjectName("detailScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        self.stack.addWidget(scroll)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.setMinimumWidth(380)

    @staticmethod
    def _link_button(name: str, parent: QWidget) -> QPushButton:
        button = QPushButton(parent)
        button.setObjectName(name)
        button.setFlat(True)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.setStyleSheet(
            "QPushButton { text-align: left; color: palette(link); text-decoration: underline;"
            " padding: 0; border: none; }"
            "QPushButton:disabled { color: palette(text); text-decoration: none; }"
        )
        return button

    @staticmethod
    def _log(name: str, parent: QWidget) -> QLabel:
        label = QLabel(parent)
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        return label

    def _jump(self, which: str) -> None:
        key_id = self._links.get(which)
        if key_id is not None:
            self.jump_requested.emit(key_id)

    # --- showing -------------------------------------------------------------------------

    def clear(self) -> None:
        self.current = None
        self.availability = {}
        self.stack.setCurrentIndex(0)
        for button in self.action_buttons.values():
            button.setEnabled(False)

    def show_loading(self, key: ManagedKey) -> None:
        self.title.setText(key.label)
        self.integrity.setText("Checking the record's seal in the HSM…")
        self.integrity.setStyleSheet("")
        for button in self.action_buttons.values():
            button.setEnabled(False)
            button.setToolTip("Reading what this key allows…")
        self.stack.setCurrentIndex(1)

    def show_error(self, exc: BaseException) -> None:
        _, message, _ = describe(exc)
        self.integrity.setText(message)
        self.integrity.setStyleSheet(f"color: {OVERDUE_COLOUR}; font-weight: bold;")

    def show_detail(
        self,
        detail: KeyDetail,
        availability: Sequence[Availability],
        linked: Mapping[str, str],
        template_names: Mapping[str, str],
    ) -> None:
        self.current = detail
        key = detail.key
        self.stack.setCurrentIndex(1)
        self.title.setText(key.label)
        if detail.integrity_ok:
            self.integrity.setText("✔ Sealed record verified by the HSM")
            self.integrity.setStyleSheet("color: #1b7f3a;")
            self.integrity.setToolTip(
                "The key's attributes and wrapped value match the MAC the HSM computed when "
                "they were stored."
            )
        else:
            self.integrity.setText(
                "⚠ INTEGRITY ALARM: this key's stored record does not match its HSM seal. "
                "It was changed outside the workstation and will be refused. Report this to "
                "a security officer and the auditors."
            )
            self.integrity.setStyleSheet(
                f"color: white; background: {OVERDUE_COLOUR}; font-weight: bold; padding: 4px;"
            )
            self.integrity.setToolTip("")
        colour = STATE_COLOURS[key.state]
        f = self.fields
        f["state"].setText(
            f"<b style='color:{colour}'>{STATE_NAMES[key.state]}</b> — {STATE_MEANINGS[key.state]}"
        )
        f["algorithm"].setText(key.algorithm.value)
        f["kcv"].setText(key.kcv)
        f["usage"].setText(f"{key.key_usage} — {KEY_USAGES.get(key.key_usage, 'unknown')}")
        f["mode"].setText(f"{key.mode_of_use} — {MODES_OF_USE.get(key.mode_of_use, 'unknown')}")
        f["export"].setText(
            f"{key.exportability} — {EXPORTABILITY.get(key.exportability, 'unknown')}"
        )
        template = detail.template
        f["template"].setText(
            template.name
            if template is not None
            else template_names.get(key.template_id, key.template_id)
        )
        f["version"].setText(f"{key.version}" + (" (test key)" if key.test_key else ""))
        f["created"].setText(moment(key.created_at))
        f["activation"].setText(moment(key.activation_date))
        f["deactivation"].setText(moment(key.deactivation_date))
        f["changed"].setText(moment(key.state_changed_at))
        f["compromise"].setText(moment(key.compromise_date))
        f["destroyed"].setText(moment(key.destroyed_at))
        for name in ("compromise", "destroyed"):  # only when they happened
            self.form.setRowVisible(f[name], bool(f[name].text()))
        self._show_link(self.predecessor, "predecessor", key.predecessor_id, linked)
        self._show_link(self.successor, "successor", key.successor_id, linked)
        self._show_availability(availability)
        self._show_history(detail.history)
        self._show_audit(detail.audit_trail)
        self.shown.emit(key.id)

    def _show_link(
        self, button: QPushButton, which: str, key_id: str | None, linked: Mapping[str, str]
    ) -> None:
        self._links[which] = key_id
        if key_id is None:
            button.setText("none")
            button.setEnabled(False)
            button.setToolTip("")
            return
        label = linked.get(key_id, key_id)
        button.setText(label)
        button.setEnabled(True)
        button.setToolTip(f"Show key {label}")

    def _show_availability(self, availability: Sequence[Availability]) -> None:
        self.availability = {a.action: a for a in availability}
        for action, button in self.action_buttons.items():
            note = self.quorum_notes[action]
            a = self.availability.get(action)
            if a is None:
                button.setEnabled(False)
                button.setToolTip("This action is not offered for this key.")
                note.setText("")
                continue
            needs = f"Needs {a.quorum}"
            if a.missing:
                needs += f"; still to insert a card: {', '.join(a.missing)}"
            button.setEnabled(a.allowed)
            button.setToolTip(needs if a.allowed else f"{a.reason}\n{needs}")
            if a.allowed:
                note.setText(needs)
                note.setStyleSheet("")
            else:
                note.setText(a.reason)
                note.setStyleSheet("color: palette(mid);")

    def _show_history(self, events: Sequence[KeyEvent]) -> None:
        self.history_events = list(events)
        rows = []
        for event in reversed(events):
            change = STATE_NAMES[event.to_state]
            if event.from_state is not None and event.from_state is not event.to_state:
                change = f"{STATE_NAMES[event.from_state]} → {change}"
            lines = [f"<b>{escape(event.action.display.capitalize())}</b> · {escape(change)}"]
            if event.people:
                lines.append(f"by {escape(', '.join(event.people))}")
            if event.reason:
                lines.append(f"<i>{escape(event.reason)}</i>")
            rows.append((f"{event.at.astimezone(UTC):%Y-%m-%d %H:%M}", "<br>".join(lines)))
        self.history.setText(_log_table(rows, "No history recorded."))

    def _show_audit(self, entries: Sequence[AuditEntry]) -> None:
        self.audit_entries = list(entries)
        rows = []
        for entry in list(reversed(entries))[:AUDIT_SHOWN]:
            body = entry.body
            at = parse_time(entry.at)
            requester = body.get("requester") or {}
            members = [str(m.get("name", "")) for m in body.get("members") or []]
            people = ", ".join(members)
            if requester.get("name"):
                others = [m for m in members if m != requester["name"]]
                people = str(requester["name"]) + (f" with {', '.join(others)}" if others else "")
            lines = [f"<b>{escape(entry.action)}</b> (entry #{entry.seq})"]
            if people:
                lines.append(f"by {escape(people)}")
            change = ""
            if body.get("after") and body.get("before") != body.get("after"):
                change = f"{body.get('before') or '—'} → {body['after']}"
            details = body.get("details") or {}
            facts = [change, *(f"{k}: {v}" for k, v in details.items())]
            if any(facts):
                lines.append(escape("; ".join(f for f in facts if f)))
            when = "" if at is None else f"{at:%Y-%m-%d %H:%M}"
            rows.append((when, "<br>".join(lines)))
        text = _log_table(rows, "No audit entries for this key.")
        if len(entries) > AUDIT_SHOWN:
            text += (
                f"<p>The latest {AUDIT_SHOWN} of {len(entries):,} entries; the Audit page "
                "searches them all.</p>"
            )
        self.audit.setText(text)


AUDIT_SHOWN = 50


def _log_table(rows: Sequence[tuple[str, str]], empty: str) -> str:
    if not rows:
        return f"<i>{escape(empty)}</i>"
    cells = "".join(
        f"<tr><td style='white-space:nowrap; padding:2px 10px 6px 0'>{escape(when)}</td>"
        f"<td style='padding:2px 0 6px 0'>{what}</td></tr>"
        for when, what in rows
    )
    return f"<table cellspacing='0'>{cells}</table>"


__all__ = [
    "ACTIVATION",
    "ALGORITHM",
    "EXPIRES",
    "IN_SERVICE",
    "KCV",
    "LABEL",
    "STATE",
    "STATE_COLOURS",
    "STATE_MEANINGS",
    "STATE_NAMES",
    "TEMPLATE",
    "USAGE",
    "InventoryFilter",
    "KeyDetailPane",
    "KeyIdRole",
    "KeyRole",
    "KeyTableModel",
    "KeysPage",
    "LoadedKeys",
    "SearchMode",
    "SortRole",
    "load_first",
]
