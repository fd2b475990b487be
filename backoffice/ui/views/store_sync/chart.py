"""The store API's response times: a matplotlib Figure on a QtAgg canvas (as the Reports view embeds its
charts), each call a point over time, failed calls marked in red."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import matplotlib.dates as mdates
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from PySide6.QtWidgets import QSizePolicy, QWidget

from backoffice.ui import theme
from backoffice.ui.format import format_count, translator

tr = translator("StoreSync")
Point = tuple[dt.datetime, float, int]   # (when, ms, HTTP status; 0: no answer)


def failed(status: int) -> bool:
    return status == 0 or status >= 400


def local(at: dt.datetime) -> dt.datetime:
    """The user's wall-clock time, naive (matplotlib would draw an aware time in UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone().replace(tzinfo=None)


class ResponseTimeChart(FigureCanvasQTAgg):
    """Milliseconds per call over the period shown; an empty period says so."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.figure = Figure(figsize=(5, 2.4), dpi=100, facecolor=theme.SURFACE)
        super().__init__(self.figure)
        self.setParent(parent)
        self.setMinimumHeight(170)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.points: list[Point] = []
        self.errors_marked = 0
        self.show_points([], "")

    def show_points(self, points: Sequence[Point], empty_text: str) -> None:
        self.points = list(points)
        fig = self.figure
        fig.clear()
        ax = fig.add_subplot(111)
        ax.set_facecolor(theme.SURFACE)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color(theme.BORDER)
        ax.tick_params(colors=theme.TEXT_MUTED, labelsize=8, length=0)
        ax.grid(axis="y", color=theme.BORDER, linewidth=0.6)
        ax.set_axisbelow(True)
        ok = [(local(at), ms) for at, ms, status in self.points if not failed(status)]
        bad = [(local(at), ms) for at, ms, status in self.points if failed(status)]
        self.errors_marked = len(bad)
        if not self.points:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.5, 0.5, empty_text, ha="center", va="center", transform=ax.transAxes, color=theme.TEXT_MUTED,
                    fontsize=9)
        else:
            if ok:
                xs, ys = zip(*ok)
                ax.plot(xs, ys, color=theme.ACCENT, linewidth=0.8, alpha=0.45)
                ax.scatter(xs, ys, s=9, color=theme.ACCENT, zorder=3, label=tr("answered"))
            if bad:
                xs, ys = zip(*bad)
                ax.scatter(xs, ys, s=26, color=theme.DANGER, marker="x", linewidths=1.4, zorder=4, label=tr("failed"))
            ax.set_ylim(bottom=0)
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{format_count(round(v))} ms"))
            locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
            ax.xaxis.set_major_locator(locator)
            # a tick is never a bare number: seconds show as 12:11:30, hours and minutes as 12:11, days as 3 Dec
            formats = ["%Y", "%b", "%-d %b", "%H:%M", "%H:%M", "%H:%M:%S"]
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(
                locator, formats=formats, zero_formats=["", "%Y", "%b", "%-d %b", "%H:%M", "%H:%M"],
                show_offset=False))
            if bad:
                ax.legend(loc="upper left", fontsize=7.5, frameon=False, ncols=2)
        self._layout()
        self.draw_idle()

    def _layout(self) -> None:
        if self.width() > 50 and self.height() > 50:
            try:
                self.figure.tight_layout(pad=0.6)
            except (ValueError, RuntimeError):   # too small for the labels: keep the last layout
                pass

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        super().resizeEvent(event)
        self._layout()
