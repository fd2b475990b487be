"""Charts of report results, drawn with matplotlib into a Figure the caller owns (the Reports view's
QtAgg canvas, a PDF page). No pyplot: no global figure state, no backend chosen behind anyone's back."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from backoffice.reports.compiler import OutputColumn
from backoffice.reports.definition import ChartSpec

if TYPE_CHECKING:
    from backoffice.reports.runner import ReportResult

PALETTE = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#0ea5e9", "#84cc16", "#ec4899", "#64748b",
           "#14b8a6", "#f97316", "#a855f7"]
MAX_POINTS = 400     # categories drawn; more are summarised ("top N" for bars, all for lines up to this)
PIE_SLICES = 8


@dataclass
class ChartData:
    kind: str
    title: str
    x_label: str
    labels: list[str]
    x_dates: list[dt.date] | None
    series: dict[str, np.ndarray]
    kinds: dict[str, str]


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


def chart_data(result: ReportResult, spec: ChartSpec | None = None) -> ChartData | None:
    """What a chart of this result shows: the x column (default: the first dimension), the y series
    (default: every numeric measure); with more dimensions than the x one the rows are summed per x."""
    spec = spec or result.definition.chart
    frame, columns = result.frame, result.columns
    if spec is None or frame.empty:
        return None
    picked = chart_columns(columns, spec)
    if picked is None:
        return None
    x, ys = picked
    dims = [c for c in columns if c.role == "dimension"]
    data = frame[[x.key, *[y.key for y in ys]]].copy()
    if len(dims) > 1 and data[x.key].duplicated().any():
        data = data.groupby(x.key, sort=False, dropna=False).sum(numeric_only=True).reset_index()
        if x.kind == "date":
            data = data.sort_values(x.key)
    is_date = x.kind in ("date", "datetime") and spec.kind in ("line",)
    if spec.kind in ("bar", "stacked_bar", "pie") and len(data) > (PIE_SLICES if spec.kind == "pie" else 30) \
            and x.kind not in ("date", "datetime"):
        top = data.nlargest(PIE_SLICES - 1 if spec.kind == "pie" else 30, ys[0].key)
        if spec.kind == "pie":
            rest = data.drop(top.index)[[y.key for y in ys]].sum()
            other = pd.DataFrame([{x.key: "Other", **rest.to_dict()}])
            top = pd.concat([top, other], ignore_index=True)
        data = top
    data = data.tail(MAX_POINTS)
    bucket = x.key.rsplit("_", 1)[-1] if x.kind == "date" else ""
    labels = [_label(v, bucket) for v in data[x.key]]
    series = {y.label: pd.to_numeric(data[y.key], errors="coerce").to_numpy(dtype=float) for y in ys}
    return ChartData(spec.kind, spec.title or result.definition.display_title(), x.label, labels,
                     [pd.Timestamp(v).date() for v in data[x.key]] if is_date else None, series,
                     {y.label: y.kind for y in ys})


def _label(v: Any, bucket: str = "") -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "(empty)"
    if isinstance(v, dt.date) and bucket in ("month", "quarter", "year"):
        return {"month": f"{v:%b %Y}", "quarter": f"{v.year} Q{(v.month - 1) // 3 + 1}", "year": str(v.year)}[bucket]
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
    """Draw ``data`` on ``figure``: the whole figure (cleared first), or only the axes at ``rect``."""
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
    if data.kind == "pie":
        values = np.nan_to_num(data.series[names[0]])
        values = np.where(values > 0, values, 0)
        ax.pie(values, labels=data.labels, colors=PALETTE[:len(values)], autopct="%1.0f%%", startangle=90,
               counterclock=False, textprops={"fontsize": 8, "color": "#334155"},
               wedgeprops={"linewidth": 1, "edgecolor": "white"})
        ax.set_aspect("equal")
    elif data.kind == "line":
        xs = data.x_dates if data.x_dates else np.arange(len(data.labels))
        for i, name in enumerate(names):
            ax.plot(xs, data.series[name], color=PALETTE[i % len(PALETTE)], linewidth=1.8, label=name,
                    marker="o" if len(data.labels) <= 40 else None, markersize=3)
        if not data.x_dates:
            _category_ticks(ax, data.labels)
        else:
            figure.autofmt_xdate(rotation=0, ha="center")
        ax.grid(axis="y", color="#e2e8f0", linewidth=0.8)
    elif data.kind == "bar" and data.x_dates is None and len(data.labels) > 5 \
            and max(len(label) for label in data.labels) > 10:
        # Long names (products, SKUs) read better as horizontal bars, the first row on top.
        ys = np.arange(len(data.labels))
        height = 0.8 / len(names)
        for i, name in enumerate(names):
            ax.barh(ys + (i - (len(names) - 1) / 2) * height, np.nan_to_num(data.series[name]), height,
                    color=PALETTE[i % len(PALETTE)], label=name)
        ax.set_yticks(ys)
        ax.set_yticklabels([label if len(label) <= 34 else label[:33] + "…" for label in data.labels], fontsize=7.5)
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(FuncFormatter(compact_number))
        ax.grid(axis="x", color="#e2e8f0", linewidth=0.8)
        ax.set_axisbelow(True)
        if len(names) > 1:
            ax.legend(fontsize=8, frameon=False, loc="lower right")
        if rect is None:
            figure.tight_layout()
        return
    else:
        xs = np.arange(len(data.labels))
        stacked = data.kind == "stacked_bar"
        width = 0.8 if stacked or len(names) == 1 else 0.8 / len(names)
        bottom = np.zeros(len(xs))
        for i, name in enumerate(names):
            values = np.nan_to_num(data.series[name])
            if stacked:
                ax.bar(xs, values, 0.8, bottom=bottom, color=PALETTE[i % len(PALETTE)], label=name)
                bottom += values
            else:
                offset = (i - (len(names) - 1) / 2) * width
                ax.bar(xs + offset, values, width, color=PALETTE[i % len(PALETTE)], label=name)
        _category_ticks(ax, data.labels)
        ax.grid(axis="y", color="#e2e8f0", linewidth=0.8)
        ax.set_axisbelow(True)
    if data.kind != "pie":
        ax.yaxis.set_major_formatter(FuncFormatter(compact_number))
        if len(names) > 1:
            ax.legend(fontsize=8, frameon=False, loc="upper left")
    if rect is None:
        figure.tight_layout()


def _category_ticks(ax: Any, labels: list[str]) -> None:
    n = len(labels)
    step = max(1, n // 12)
    ticks = list(range(0, n, step))
    ax.set_xticks(ticks)
    short = [labels[i] if len(labels[i]) <= 18 else labels[i][:17] + "…" for i in ticks]
    ax.set_xticklabels(short, rotation=30 if n > 6 else 0, ha="right" if n > 6 else "center")
