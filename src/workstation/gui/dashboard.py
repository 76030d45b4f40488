"""The dashboard: how many keys are in each state and of each usage, which keys in
service reach the end of their crypto-period soon (a timeline drawn with QPainter), and what
falls due within the alert windows (the "Due soon" panel: keys, certificates and whatever
else the expiry service follows, counted per window and overdue, with the next few).

The figures are counts read through ``KeyService.query`` with ``limit=0`` (the service
counts the whole match and returns no rows) on the device thread. The port offers no
grouped count, so the dashboard asks one count per state, per usage and per timeline
boundary: a few dozen indexed counts, each authorised like any inventory read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from PySide6.QtCore import QEvent, QPoint, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from workstation.domain.keys import KeyState
from workstation.domain.monitoring import DueTask
from workstation.domain.templates import KEY_USAGES, KeyTemplate
from workstation.errors import WorkstationError
from workstation.flows.expiry import DueSummary, Severity, severity, summarise
from workstation.services.ports import KeyQuery

from .errors import describe
from .inventory import IN_SERVICE, STATE_COLOURS, STATE_MEANINGS, STATE_NAMES, count_text
from .runner import JobControl
from .state import AppState

WINDOWS: tuple[int, ...] = (30, 90, 365)  # the horizons the dashboard reports
BUCKET_EDGES: tuple[int, ...] = (0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 330, 365)
OVERDUE_COLOUR = "#8e0016"
WINDOW_COLOURS: Mapping[int, str] = {30: "#d32f2f", 90: "#ef8f00", 365: "#3d6fa8"}


@dataclass(frozen=True)
class ExpiryBucket:
    """Keys in service whose crypto-period ends ``start``..``end`` days from now."""

    start: int
    end: int
    count: int

    @property
    def window(self) -> int:
        """The first horizon (30, 90, 365) that holds the whole bucket."""
        return next(w for w in WINDOWS if self.end <= w)

    @property
    def label(self) -> str:
        return f"{self.start}–{self.end}"


@dataclass(frozen=True)
class DashboardFigures:
    at: datetime
    total: int
    by_state: Mapping[KeyState, int]
    by_usage: Sequence[tuple[str, int]]  # usages with keys, most keys first
    overdue: int  # keys in service past the end of their crypto-period
    buckets: Sequence[ExpiryBucket]
    due_within: Mapping[int, int] = field(default_factory=dict)  # 30/90/365 -> keys (cumulative)
    due: DueSummary | None = None  # the alert windows' view (keys, certificates, ...)
    due_error: str = ""  # why ``due`` could not be read


Count = Callable[[KeyQuery], int]


def collect_figures(
    count: Count, now: datetime, usages_first: Iterable[str] = ()
) -> DashboardFigures:
    """Every figure of the dashboard from counts (runs on the device thread).

    Usages are counted in the order given (those of the templates first), then the other
    TR-31 usages, stopping once every key is accounted for.
    """
    total = count(KeyQuery())
    by_state = {s: count(KeyQuery(states=(s,))) for s in KeyState}
    by_usage: list[tuple[str, int]] = []
    counted = 0
    order = list(dict.fromkeys([*usages_first, *KEY_USAGES]))
    for usage in order:
        if counted >= total:
            break
        n = count(KeyQuery(key_usage=usage))
        if n:
            by_usage.append((usage, n))
            counted += n
    by_usage.sort(key=lambda item: (-item[1], item[0]))
    in_service = KeyQuery(states=tuple(s for s in KeyState if s in IN_SERVICE))

    def due_before(days: int) -> int:
        return count(replace(in_service, expiring_before=now + timedelta(days=days)))

    cumulative = {edge: due_before(edge) for edge in BUCKET_EDGES}
    overdue = cumulative[0]
    buckets = [ExpiryBucket(a, b, cumulative[b] - cumulative[a]) for a, b in pairwise(BUCKET_EDGES)]
    due_within = {w: cumulative[w] - overdue for w in WINDOWS}
    return DashboardFigures(now, total, by_state, by_usage, overdue, buckets, due_within)


# --- the chart ---------------------------------------------------------------------------


def nice_step(top: int, ticks: int = 4) -> int:
    """A round step (1, 2, 5 x 10^n) giving about ``ticks`` gridlines up to ``top``.

    >>> nice_step(7), nice_step(130), nice_step(0)
    (2, 50, 1)
    """
    if top <= ticks:
        return 1
    raw = top / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    return int(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))


class ExpiryTimeline(QWidget):
    """Bars of keys in service by when their crypto-period ends: overdue, then 30-day
    steps to a year; coloured by the 30, 90 and 365-day horizons, with a legend."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("expiryTimeline")
        self.figures: DashboardFigures | None = None
        self._bars: list[tuple[QRectF, str]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setAccessibleName("Expiry timeline")

    def set_figures(self, figures: DashboardFigures | None) -> None:
        self.figures = figures
        self.setAccessibleDescription(self.summary())
        self.update()

    def summary(self) -> str:
        f = self.figures
        if f is None:
            return "No figures yet."
        parts = [f"{count_text(f.overdue)} overdue"]
        parts += [f"{count_text(f.due_within[w])} due within {w} days" for w in WINDOWS]
        return "; ".join(parts) + "."

    def minimumSizeHint(self) -> QSize:
        return QSize(520, 280)

    def sizeHint(self) -> QSize:
        return QSize(720, 340)

    def legend_entries(self) -> list[tuple[str, str]]:
        f = self.figures
        if f is None:
            return []
        within = f.due_within
        return [
            (OVERDUE_COLOUR, f"Overdue: {f.overdue:,}"),
            (WINDOW_COLOURS[30], f"Due within 30 days: {within[30]:,}"),
            (
                WINDOW_COLOURS[90],
                f"In 31–90 days: {within[90] - within[30]:,} (90-day total {within[90]:,})",
            ),
            (
                WINDOW_COLOURS[365],
                f"In 91–365 days: {within[365] - within[90]:,} (year total {within[365]:,})",
            ),
        ]

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text_colour = palette.color(QPalette.ColorRole.WindowText)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        self._bars = []
        f = self.figures
        metrics = QFontMetrics(self.font())
        line = metrics.height()
        if f is None:
            painter.setPen(text_colour)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Reading the figures…")
            painter.end()
            return

        # Legend: two columns of swatches across the top.
        margin = 12
        entries = self.legend_entries()
        column_width = (self.width() - 2 * margin) / 2
        for i, (colour, text) in enumerate(entries):
            x = margin + (i % 2) * column_width
            y = margin + (i // 2) * (line + 6)
            painter.fillRect(QRectF(x, y + 2, line - 4, line - 4), QColor(colour))
            painter.setPen(text_colour)
            painter.drawText(
                QRectF(x + line + 2, y, column_width - line - 4, line),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(column_width - line)),
            )
        legend_bottom = margin + 2 * (line + 6) + 4

        values = [f.overdue, *(b.count for b in f.buckets)]
        labels = ["Overdue", *(b.label for b in f.buckets)]
        colours = [OVERDUE_COLOUR, *(WINDOW_COLOURS[b.window] for b in f.buckets)]
        step = nice_step(max(values))
        top = max(step, math.ceil(max(values) / step) * step)
        axis_width = metrics.horizontalAdvance(f"{top:,}") + 10
        plot = QRectF(
            margin + axis_width,
            legend_bottom + line / 2,
            self.width() - 2 * margin - axis_width,
            self.height() - legend_bottom - line / 2 - 2 * line - 14 - margin,
        )
        if plot.height() < 40 or plot.width() < 100:
            painter.end()
            return

        # Grid and y axis ("keys").
        grid = QColor(text_colour)
        grid.setAlpha(40)
        for value in range(0, top + 1, step):
            grid_y = plot.bottom() - plot.height() * value / top
            painter.setPen(QPen(grid, 1))
            painter.drawLine(int(plot.left()), int(grid_y), int(plot.right()), int(grid_y))
            painter.setPen(text_colour)
            painter.drawText(
                QRectF(margin, grid_y - line / 2, axis_width - 6, line),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{value:,}",
            )
        painter.setPen(QPen(text_colour, 1))
        painter.drawLine(
            int(plot.left()), int(plot.bottom()), int(plot.right()), int(plot.bottom())
        )

        # Bars with their counts above. The overdue bar stands apart on the left; the
        # others sit on a days axis whose ticks mark the bucket edges (0 = today).
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.9))
        small_metrics = QFontMetrics(small)
        painter.setFont(small)
        overdue_slot = max(
            plot.width() / len(values), small_metrics.horizontalAdvance("Overdue") + 12
        )
        gap = small_metrics.horizontalAdvance("today") / 2 + 8
        axis_left = plot.left() + overdue_slot + gap
        slot = (plot.right() - axis_left) / len(f.buckets)
        slots = [QRectF(plot.left(), plot.top(), overdue_slot, plot.height())] + [
            QRectF(axis_left + k * slot, plot.top(), slot, plot.height())
            for k in range(len(f.buckets))
        ]
        for i, (value, label, colour, area) in enumerate(
            zip(values, labels, colours, slots, strict=True)
        ):
            bar_width = max(6.0, min(area.width(), slot) * 0.66)
            x = area.center().x() - bar_width / 2
            height = plot.height() * value / top
            bar = QRectF(x, plot.bottom() - height, bar_width, height)
            painter.fillRect(bar, QColor(colour))
            tip = (
                f"{count_text(value)} in service past the end of their crypto-period"
                if i == 0
                else f"{count_text(value)} whose crypto-period ends in {label} days"
            )
            self._bars.append((area, tip))
            painter.setPen(text_colour)
            if value:
                painter.drawText(
                    QRectF(x - 10, bar.top() - line, bar_width + 20, line),
                    Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                    f"{value:,}",
                )
        painter.setPen(text_colour)
        painter.drawText(
            QRectF(plot.left(), plot.bottom() + 4, overdue_slot, line),
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
            "Overdue",
        )
        for k, edge in enumerate(BUCKET_EDGES):
            x = axis_left + k * slot
            painter.drawLine(int(x), int(plot.bottom()), int(x), int(plot.bottom() + 3))
            text = "today" if edge == 0 else str(edge)
            half = slot / 2
            painter.drawText(
                QRectF(x - half, plot.bottom() + 4, slot, line),
                Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                text,
            )
        # A faint line where the future begins.
        painter.setPen(QPen(grid, 1, Qt.PenStyle.DashLine))
        painter.drawLine(int(axis_left), int(plot.top()), int(axis_left), int(plot.bottom()))
        painter.setFont(self.font())
        painter.setPen(text_colour)
        painter.drawText(
            QRectF(axis_left, plot.bottom() + line + 8, plot.right() - axis_left, line),
            Qt.AlignmentFlag.AlignHCenter,
            "days from today until the end of the crypto-period",
        )
        painter.end()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            tip = self.bar_tip(event.pos())
            if tip:
                QToolTip.showText(event.globalPos(), tip, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def bar_tip(self, pos: QPoint) -> str:
        return next((tip for rect, tip in self._bars if rect.contains(pos.toPointF())), "")


# --- the page ----------------------------------------------------------------------------


class StateTile(QFrame):
    """A big number for one state (or the total), with what the state means."""

    def __init__(self, title: str, meaning: str, colour: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            f"StateTile {{ border: 1px solid palette(mid); border-top: 4px solid {colour};"
            " border-radius: 3px; background: palette(base); }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(2)
        self.number = QLabel("–", self)
        font = QFont(self.number.font())
        font.setPointSizeF(font.pointSizeF() * 1.9)
        font.setBold(True)
        self.number.setFont(font)
        self.number.setStyleSheet(f"color: {colour};")
        self.title = QLabel(f"<b>{title}</b>", self)
        self.meaning = QLabel(meaning, self)
        self.meaning.setWordWrap(True)
        self.meaning.setStyleSheet("color: palette(dark);")
        small = QFont(self.meaning.font())
        small.setPointSizeF(small.pointSizeF() * 0.9)
        self.meaning.setFont(small)
        layout.addWidget(self.number)
        layout.addWidget(self.title)
        layout.addWidget(self.meaning)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(110)

    def set_count(self, n: int | None) -> None:
        self.number.setText("–" if n is None else f"{n:,}")


DUE_COLOURS: Mapping[Severity, str] = {
    Severity.OVERDUE: "#b00020",  # red
    Severity.URGENT: "#b36200",  # amber: within the shortest window
    Severity.SOON: "",
    Severity.LATER: "",
}


class DueSoonPanel(QGroupBox):
    """What falls due within the alert windows: overdue, a count per window's band, and
    the next items, coloured (overdue red, the shortest window amber)."""

    open_requested = Signal()  # "Due dates…": show the task list

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Due soon", parent)
        self.setObjectName("dueSoonPanel")
        self.summary: DueSummary | None = None
        self.counts = QLabel(self)
        self.counts.setObjectName("dueCounts")
        self.counts.setTextFormat(Qt.TextFormat.RichText)
        self.counts.setWordWrap(True)
        self.items = QLabel(self)
        self.items.setObjectName("dueItems")
        self.items.setTextFormat(Qt.TextFormat.RichText)
        self.items.setWordWrap(True)
        self.items.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.open_button = QPushButton("Task &list…", self)
        self.open_button.setObjectName("openDueDates")
        self.open_button.clicked.connect(self.open_requested)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.counts)
        layout.addWidget(self.items, 1)
        layout.addLayout(buttons)
        self.set_summary(None)

    @staticmethod
    def _coloured(text: str, colour: str) -> str:
        return f"<span style='color:{colour}'>{text}</span>" if colour else text

    def set_summary(self, summary: DueSummary | None, error: str = "") -> None:
        self.summary = summary
        if summary is None:
            self.counts.setText(error or "–")
            self.items.setText("")
            return
        shortest = summary.windows.shortest
        parts = [self._coloured(f"<b>{summary.overdue}</b> overdue", DUE_COLOURS[Severity.OVERDUE])]
        for window, n in summary.by_window:
            colour = DUE_COLOURS[Severity.URGENT] if window == shortest else ""
            parts.append(self._coloured(f"<b>{n}</b> {summary.band_label(window)}", colour))
        self.counts.setText(" · ".join(parts))
        if not summary.next_items:
            self.items.setText(
                f"Nothing falls due within {summary.windows.longest} days, and nothing is overdue."
            )
            return
        self.items.setText("<br>".join(self.item_line(t) for t in summary.next_items))

    def item_line(self, task: DueTask) -> str:
        assert self.summary is not None
        colour = DUE_COLOURS[severity(task, self.summary.windows)]
        label = task.item.label if len(task.item.label) <= 60 else task.item.label[:59] + "…"
        text = (
            f"{task.item.due:%Y-%m-%d} · {task.state} · {task.item.what}: "
            f"{label.replace('&', '&amp;').replace('<', '&lt;')}"
        )
        return self._coloured(text, colour)

    def lines(self) -> list[str]:
        """The next items as plain text (what a screen reader or a test reads)."""
        s = self.summary
        if s is None:
            return []
        return [
            f"{t.item.due:%Y-%m-%d} · {t.state} · {t.item.what}: {t.item.label}"
            for t in s.next_items
        ]


class DashboardPage(QWidget):
    """Counts by state and usage, and the expiry timeline; refreshed on every change."""

    refreshed = Signal()  # new figures are shown

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dashboardPage")
        self.state = state
        self.figures: DashboardFigures | None = None
        self._dirty = True
        self._generation = 0
        self._running = False

        heading = QLabel("<h2 style='margin:0'>Key inventory at a glance</h2>", self)
        self.as_of = QLabel(self)
        self.as_of.setObjectName("dashboardAsOf")
        self.refresh_button = QPushButton("&Refresh", self)
        self.refresh_button.setObjectName("dashboardRefresh")
        self.refresh_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addStretch(1)
        top.addWidget(self.as_of)
        top.addWidget(self.refresh_button)

        tiles_box = QWidget(self)
        tiles = QGridLayout(tiles_box)
        tiles.setContentsMargins(0, 0, 0, 0)
        tiles.setHorizontalSpacing(8)
        self.total_tile = StateTile("All keys", "in the repository", "#333333", tiles_box)
        self.total_tile.setObjectName("stateCount_total")
        tiles.addWidget(self.total_tile, 0, 0)
        self.state_tiles: dict[KeyState, StateTile] = {}
        for i, key_state in enumerate(KeyState, start=1):
            tile = StateTile(
                STATE_NAMES[key_state],
                STATE_MEANINGS[key_state],
                STATE_COLOURS[key_state],
                tiles_box,
            )
            tile.setObjectName(f"stateCount_{key_state.value}")
            tiles.addWidget(tile, 0, i)
            self.state_tiles[key_state] = tile
        for column in range(len(KeyState) + 1):
            tiles.setColumnStretch(column, 1)

        self.timeline = ExpiryTimeline(self)
        timeline_box = QGroupBox("When keys in service reach the end of their crypto-period", self)
        timeline_box.setObjectName("expiryBox")
        timeline_layout = QVBoxLayout(timeline_box)
        explain = QLabel(
            "Keys that are pre-activation, active or suspended, by the days left until their "
            "deactivation date. Rotate or deactivate them before it passes.",
            timeline_box,
        )
        explain.setWordWrap(True)
        timeline_layout.addWidget(explain)
        timeline_layout.addWidget(self.timeline, 1)

        usage_box = QGroupBox("Keys by usage (TR-31)", self)
        usage_layout = QVBoxLayout(usage_box)
        self.usage_table = QTableWidget(0, 3, usage_box)
        self.usage_table.setObjectName("usageCounts")
        self.usage_table.setHorizontalHeaderLabels(["Usage", "Meaning", "Keys"])
        self.usage_table.verticalHeader().setVisible(False)
        self.usage_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.usage_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.usage_table.setAlternatingRowColors(True)
        self.usage_table.setWordWrap(False)
        header = self.usage_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        usage_layout.addWidget(self.usage_table)
        usage_box.setMinimumWidth(300)

        self.due_panel = DueSoonPanel(self)
        self.due_dates_requested = self.due_panel.open_requested
        right = QVBoxLayout()
        right.addWidget(self.due_panel, 1)
        right.addWidget(usage_box, 1)

        lower = QHBoxLayout()
        lower.addWidget(timeline_box, 3)
        lower.addLayout(right, 2)

        self.status = QLabel(self)
        self.status.setObjectName("dashboardStatus")
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(tiles_box)
        layout.addLayout(lower, 1)
        layout.addWidget(self.status)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(150)  # one refresh for a burst of changes
        self._refresh_timer.timeout.connect(self.refresh)
        state.data_changed.connect(self._data_changed)
        state.session_changed.connect(self._session_changed)
        state.unlocked.connect(self._schedule)

    # --- when to refresh -----------------------------------------------------------------

    def _data_changed(self, what: str) -> None:
        if what in ("keys", "templates", "certificates", "expiry", "endpoints"):
            self._schedule()

    def _session_changed(self) -> None:
        if not self.state.members:
            self._generation += 1
            self._dirty = True
            self.show_figures(None)
            self.status.setText("Log on to see the figures.")
            return
        self._schedule()

    def _schedule(self) -> None:
        self._dirty = True
        if self.isVisible():
            self._refresh_timer.start()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._dirty:
            self._refresh_timer.start()

    def refresh(self) -> None:
        """Read every figure again on the device thread."""
        if not self.state.members:
            return
        self._dirty = False
        self._generation += 1
        generation = self._generation
        services = self.state.services

        def work(_: JobControl) -> DashboardFigures:
            session = self.state.ensure_session()

            def count(q: KeyQuery) -> int:
                return services.keys.query(session, replace(q, limit=0))[1]

            templates: list[KeyTemplate] = services.templates.list(session, include_retired=True)
            usages = [t.key_usage for t in templates]
            figures = collect_figures(count, services.ctx.clock.now(), usages)
            try:
                windows = services.expiry.windows(session)
                due = summarise(services.expiry.due(session), windows)
            except WorkstationError as e:  # e.g. tampered windows: say so, show the rest
                return replace(figures, due_error=e.user_message())
            return replace(figures, due=due)

        def done(figures: DashboardFigures) -> None:
            if generation == self._generation:
                self.show_figures(figures)
                self.status.setText("")
                self.refreshed.emit()

        def failed(exc: BaseException) -> None:
            if generation == self._generation:
                _, message, _ = describe(exc)
                self.status.setText(message)

        self.status.setText("Reading the figures…")
        self.state.run(work, title="read the dashboard figures", on_done=done, on_error=failed)

    # --- showing -------------------------------------------------------------------------

    def show_figures(self, figures: DashboardFigures | None) -> None:
        self.figures = figures
        self.timeline.set_figures(figures)
        self.total_tile.set_count(None if figures is None else figures.total)
        for key_state, tile in self.state_tiles.items():
            tile.set_count(None if figures is None else figures.by_state.get(key_state, 0))
        self.usage_table.setRowCount(0)
        if figures is None:
            self.due_panel.set_summary(None)
            self.as_of.setText("")
            return
        self.due_panel.set_summary(figures.due, figures.due_error)
        self.as_of.setText(f"as of {figures.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
        self.usage_table.setRowCount(len(figures.by_usage))
        for row, (usage, n) in enumerate(figures.by_usage):
            code = QTableWidgetItem(usage)
            meaning = QTableWidgetItem(KEY_USAGES.get(usage, "unknown usage"))
            meaning.setToolTip(meaning.text())
            number = QTableWidgetItem(f"{n:,}")
            number.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for column, item in enumerate((code, meaning, number)):
                self.usage_table.setItem(row, column, item)


__all__ = [
    "DashboardFigures",
    "DashboardPage",
    "DueSoonPanel",
    "ExpiryBucket",
    "ExpiryTimeline",
    "collect_figures",
    "nice_step",
]
