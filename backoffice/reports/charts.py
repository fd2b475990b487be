"""Charts of report results, drawn with matplotlib into a Figure the caller owns (the Reports view's
QtAgg canvas, a PDF page). No pyplot: no global figure state, no backend chosen behind anyone's back."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from backoffice.reports.compiler import OutputColumn
from backoffice.reports.definition import ChartSpec
from backoffice.reports.formats import bucket_label, bucket_of

if TYPE_CHECKING:
    from backoffice.reports.runner import ReportResult, ReportTable

PALETTE = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#0ea5e9", "#84cc16", "#ec4899", "#64748b",
           "#14b8a6", "#f97316", "#a855f7"]
TOP_N = 15           # categories a bar chart shows; the rest are summed into one "Other"
PIE_SLICES = 8       # slices of a pie, "Other" included
MAX_DATE_BARS = 120  # periods a bar chart shows (the latest); a line shows up to MAX_POINTS
MAX_POINTS = 400
LABEL_CHARS = 28     # a category name longer than this is cut with "…"
MAX_KEYS = 200_000   # distinct categories summed while streaming; more go straight into "Other"
OTHER = "Other"


@dataclass
class ChartData:
    kind: str
    title: str
    x_label: str
    labels: list[str]
    x_dates: list[dt.date] | None
    series: dict[str, np.ndarray]
    kinds: dict[str, str]
    x_values: list[Any] = field(default_factory=list)   # the category values (real dates for buckets)
    partial: list[bool] = field(default_factory=list)   # per category: a period covered in part
    bucket: str = ""
    other: bool = False          # the last category is "Other": the sum of the ones not shown
    dropped: int = 0             # earlier periods left out of a long time series
    horizontal: bool = False     # long category names: drawn as horizontal bars, the first on top
    currency: str = ""

    @property
    def any_partial(self) -> bool:
        return any(self.partial)


def _find(columns: list[OutputColumn], name: str) -> OutputColumn | None:
    for c in columns:
        if c.key == name or c.key.endswith(f"_{name}") and c.key.split("_", 1)[0] in ("sum", "avg", "min", "max"):
            return c
    return None


def chart_columns(columns: list[OutputColumn], spec: ChartSpec) -> tuple[OutputColumn, list[OutputColumn]] | None:
    """The x column and y columns a chart spec picks from a result's columns."""
    dims = [c for c in columns if c.role == "dimension"]
    x = _find(columns, spec.x) if spec.x else (dims[0] if dims else None)
    if x is None:
        return None
    ys = [c for c in (_find(columns, y) for y in spec.y) if c is not None] if spec.y else []
    if not ys:
        ys = [c for c in columns if c.role == "measure" and c.numeric]
    if not ys:
        return None
    return x, ys[:1] if spec.kind == "pie" else ys


def _number(v: Any) -> float:
    if v is None:
        return math.nan
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


class ChartAccumulator:
    """Sums a result's rows per chart category as they go by (an export streams them once), then
    makes the :class:`ChartData`: periods in date order (the latest ones when there are too many),
    categories top N by the first measure plus "Other", labels that fit, partial periods flagged."""

    def __init__(self, columns: list[OutputColumn], spec: ChartSpec | None, *, title: str = "",
                 is_partial: Callable[[str, Any], bool] | None = None, currency: str = "") -> None:
        self.spec = spec
        picked = chart_columns(columns, spec) if spec is not None else None
        self.ok = picked is not None
        self.title = (spec.title if spec else "") or title
        self.is_partial = is_partial or (lambda key, value: False)
        self.currency = currency
        if picked is None:
            return
        self.x, self.ys = picked
        self.xi = columns.index(self.x)
        self.yis = [columns.index(y) for y in self.ys]
        self.additive = [y.additive for y in self.ys]
        self.sums: dict[Any, list[float]] = {}
        self.counts: dict[Any, int] = {}
        self.overflow = [0.0] * len(self.ys)
        self.overflowed = False

    def add(self, rows: Iterable[tuple]) -> None:
        if not self.ok:
            return
        xi, yis, sums, counts = self.xi, self.yis, self.sums, self.counts
        for r in rows:
            key = r[xi]
            if hasattr(key, "to_pydatetime"):
                key = key.to_pydatetime()
            if isinstance(key, float) and math.isnan(key):
                key = None
            acc = sums.get(key)
            if acc is None:
                if len(sums) >= MAX_KEYS:
                    self.overflowed = True
                    for j, yi in enumerate(yis):
                        v = _number(r[yi])
                        if v == v:
                            self.overflow[j] += v
                    continue
                acc = sums[key] = [math.nan] * len(yis)   # stays empty (a gap, not a zero) without values
                counts[key] = 0
            counts[key] += 1
            for j, yi in enumerate(yis):
                v = _number(r[yi])
                if v == v:
                    acc[j] = v if acc[j] != acc[j] else acc[j] + v

    def data(self) -> ChartData | None:
        if not self.ok or not self.sums:
            return None
        spec = self.spec
        assert spec is not None
        x = self.x
        keys = list(self.sums)
        values = {k: [v if self.additive[j] else v / max(1, self.counts[k]) for j, v in enumerate(self.sums[k])]
                  for k in keys}
        bucket = bucket_of(x.key, x.kind)
        is_date = x.kind in ("date", "datetime")
        other: list[float] | None = None
        dropped = 0
        title = self.title
        if is_date and spec.kind != "pie":
            keys.sort(key=lambda k: (k is None, k or dt.date.min))
            cap = MAX_POINTS if spec.kind == "line" else MAX_DATE_BARS
            if len(keys) > cap:
                dropped = len(keys) - cap
                keys = keys[-cap:]
                title = f"{title} (the latest {cap})"
        else:
            limit = PIE_SLICES - 1 if spec.kind == "pie" else TOP_N
            if len(keys) > limit or self.overflowed:
                def rank(k: Any) -> float:
                    row = [v if v == v else 0.0 for v in values[k]]
                    return sum(abs(v) for v in row) if spec.kind == "stacked_bar" else row[0]

                ranked = sorted(keys, key=rank, reverse=True)
                keys, rest = ranked[:limit], ranked[limit:]
                other = [sum(v for k in rest if (v := values[k][j]) == v) + self.overflow[j]
                         if self.additive[j] else math.nan for j in range(len(self.ys))]
        partial = [bool(bucket) and self.is_partial(x.key, k) for k in keys]
        if bucket:
            labels = [bucket_label(k, bucket, p) for k, p in zip(keys, partial)]
        else:
            labels = [_label(k) for k in keys]
        x_values: list[Any] = list(keys)
        series = {y.label: np.array([values[k][j] for k in keys], dtype=float) for j, y in enumerate(self.ys)}
        if other is not None:
            labels.append(OTHER)
            x_values.append(OTHER)
            partial.append(False)
            for j, y in enumerate(self.ys):
                series[y.label] = np.append(series[y.label], other[j])
        short = [_fit(label) for label in labels]
        horizontal = spec.kind in ("bar", "stacked_bar") and not is_date and len(short) > 5 \
            and max(len(label) for label in short) > 10
        return ChartData(spec.kind, title, x.label, short, [_as_date(k) for k in keys] if is_date else None,
                         series, {y.label: y.kind for y in self.ys}, x_values, partial, bucket,
                         other is not None, dropped, horizontal, self.currency)


def _as_date(v: Any) -> dt.date | None:
    if isinstance(v, dt.datetime):
        return v.date()
    return v if isinstance(v, dt.date) else None


def _fit(label: str, width: int = LABEL_CHARS) -> str:
    return label if len(label) <= width else label[:width - 1].rstrip() + "…"


def chart_data(result: ReportResult, spec: ChartSpec | None = None) -> ChartData | None:
    """What a chart of this result shows (see :func:`table_chart`)."""
    return table_chart(result.table(), spec)


def table_chart(table: ReportTable, spec: ChartSpec | None = None) -> ChartData | None:
    """What a chart of this result shows: the x column (default: the first dimension), the y series
    (default: every numeric measure), summed per x when other dimensions split it; at most TOP_N
    categories plus "Other", or the latest periods of a long time series."""
    spec = spec or table.chart
    if spec is None or not table.rows:
        return None
    acc = ChartAccumulator(table.columns, spec, title=table.title, is_partial=table.is_partial,
                           currency=table.currency)
    if not acc.ok:
        return None
    acc.add(table.rows)
    return acc.data()


def _label(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "(empty)"
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def compact_number(v: float, _pos: Any = None) -> str:
    a = abs(v)
    if a >= 1_000_000:
        return f"{v / 1_000_000:.1f}M"
    if a >= 10_000:
        return f"{v / 1_000:.0f}k"
    if a >= 1_000:
        return f"{v / 1_000:.1f}k"
    return f"{v:.0f}" if float(v).is_integer() or a >= 10 else f"{v:.2f}"


def draw(figure: Figure, data: ChartData | None, *, empty_text: str = "No chart for this report",
         rect: tuple[float, float, float, float] | None = None) -> None:
    """Draw ``data`` on ``figure``: the whole figure (cleared first), or only the axes at ``rect``.
    Partial periods are hatched (bars) or reached by a dashed line; "Other" is grey."""
    if rect is None:
        figure.clear()
    ax = figure.add_subplot(1, 1, 1) if rect is None else figure.add_axes(rect)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color("#cbd5e1")
    ax.spines["bottom"].set_color("#cbd5e1")
    ax.tick_params(colors="#475569", labelsize=8)
    if data is None or not data.labels:
        ax.set_axis_off()
        ax.text(0.5, 0.5, empty_text, ha="center", va="center", color="#64748b", fontsize=10,
                transform=ax.transAxes)
        return
    ax.set_title(data.title, loc="left", fontsize=10, color="#0f172a", fontweight="bold")
    names = list(data.series)
    n = len(data.labels)
    partial = data.partial if len(data.partial) == n else [False] * n
    other = [data.other and i == n - 1 for i in range(n)]

    def colour(i: int, k: int) -> str:
        return "#94a3b8" if other[k] else PALETTE[i % len(PALETTE)]

    if data.kind == "pie":
        values = np.nan_to_num(data.series[names[0]])
        values = np.where(values > 0, values, 0)
        colours = [colour(k, k) for k in range(len(values))]
        ax.pie(values, labels=data.labels, colors=colours, autopct="%1.0f%%", startangle=90,
               counterclock=False, textprops={"fontsize": 8, "color": "#334155"},
               wedgeprops={"linewidth": 1, "edgecolor": "white"})
        ax.set_aspect("equal")
    elif data.kind == "line":
        xs = np.arange(n)
        for i, name in enumerate(names):
            values = data.series[name]
            c = PALETTE[i % len(PALETTE)]
            complete = np.where(np.array(partial), np.nan, values)
            if any(partial):   # the partial period: a dashed line to a hollow marker
                ax.plot(xs, values, color=c, linewidth=1.5, linestyle=(0, (3, 2)), alpha=0.8)
                idx = [k for k in range(n) if partial[k]]
                ax.plot(idx, values[idx], linestyle="none", marker="o", markersize=5, markerfacecolor="white",
                        markeredgecolor=c)
            ax.plot(xs, complete, color=c, linewidth=1.8, label=name,
                    marker="o" if n <= 40 else None, markersize=3)
        _category_ticks(ax, data.labels)
        ax.grid(axis="y", color="#e2e8f0", linewidth=0.8)
        if all(np.nanmin(v) >= 0 for v in data.series.values() if np.isfinite(v).any()):
            ax.set_ylim(bottom=0)   # amounts from zero: a dip is not drawn as a collapse
    else:
        stacked = data.kind == "stacked_bar"
        positions = np.arange(n)
        width = 0.8 if stacked or len(names) == 1 else 0.8 / len(names)
        base = np.zeros(n)
        bar = ax.barh if data.horizontal else ax.bar
        for i, name in enumerate(names):
            values = np.nan_to_num(data.series[name])
            colours = [colour(i, k) for k in range(n)]
            if stacked:
                kw = {"left": base} if data.horizontal else {"bottom": base}
                bars = bar(positions, values, 0.8, color=colours, label=name, **kw)
                base = base + values
            else:
                offset = (i - (len(names) - 1) / 2) * width
                bars = bar(positions + offset, values, width, color=colours, label=name)
            for k, patch in enumerate(bars):
                if partial[k]:
                    patch.set_alpha(0.45)
                    patch.set_hatch("///")
                    patch.set_edgecolor(PALETTE[i % len(PALETTE)])
        if data.horizontal:
            ax.set_yticks(positions)
            ax.set_yticklabels(data.labels, fontsize=7.5)
            ax.invert_yaxis()
            ax.xaxis.set_major_formatter(FuncFormatter(compact_number))
            ax.grid(axis="x", color="#e2e8f0", linewidth=0.8)
        else:
            _category_ticks(ax, data.labels)
            ax.grid(axis="y", color="#e2e8f0", linewidth=0.8)
        ax.set_axisbelow(True)
    if data.kind != "pie":
        if not data.horizontal:
            ax.yaxis.set_major_formatter(FuncFormatter(compact_number))
        if len(names) > 1:
            ax.legend(fontsize=8, frameon=False, loc="lower right" if data.horizontal else "upper left")
    if rect is None:
        try:
            figure.tight_layout()
        except (ValueError, RuntimeError):   # too small for the labels: keep the default layout
            pass


def _category_ticks(ax: Any, labels: list[str]) -> None:
    """At most 12 labels along the axis (every k-th), turned when there are more than six."""
    n = len(labels)
    step = max(1, math.ceil(n / 12))
    ticks = list(range(0, n, step))
    if n - 1 not in ticks and n > 1 and (n - 1) - ticks[-1] >= step / 2:
        ticks.append(n - 1)   # the latest period is the one people look for
    ax.set_xticks(ticks)
    short = [_fit(labels[i], 20) for i in ticks]
    turned = n > 6 or max((len(t) for t in short), default=0) > 10
    ax.set_xticklabels(short, rotation=30 if turned else 0, ha="right" if turned else "center",
                       rotation_mode="anchor" if turned else "default")
    if n:
        ax.set_xlim(-0.6, n - 0.4)
