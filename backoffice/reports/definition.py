"""Report definitions: plain, serialisable descriptions of what a report shows.

A definition names a data source (``backoffice.reports.sources``), the output columns (plain fields or
aggregates of fields, or a computed measure of the source such as margin), the group-by levels (a date
field may be bucketed by day, week, month, quarter or year), typed filters, sort, limit, an optional
pivot (one group-by level spread across columns) and a chart. It round-trips through JSON unchanged
(``to_dict`` / ``from_dict``), which is how saved reports are stored.

A date bucket the report's window covers only in part (the current month of "Sales by month", today of
"Sales by day") is marked as partial in the table and the chart, or left out when ``partial_periods`` is
"exclude"; money columns are rounded to the places of ``currency``.

A filter may take its value from a run parameter (``param``): a saved "Sales by month" filters on
``period`` = "last_month" by default, and a schedule or ``backoffice reports run --param
period=last_week`` overrides it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from backoffice.services.base import ServiceError

AGGREGATES = ("sum", "count", "count_distinct", "avg", "min", "max")
BUCKETS = ("day", "week", "month", "quarter", "year")
FILTER_OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "contains", "range",
              "is_null", "not_null")
CHART_KINDS = ("line", "bar", "stacked_bar", "pie")
PARTIAL_PERIODS = ("mark", "exclude")   # the current, incomplete period: marked as partial, or left out
AGGREGATE_LABELS = {"sum": "Sum", "count": "Count", "count_distinct": "Distinct", "avg": "Average",
                    "min": "Min", "max": "Max"}


class DefinitionError(ServiceError, ValueError):
    """A definition that cannot be compiled: an unknown field, aggregate, bucket or operator."""


@dataclass
class Column:
    """One output column: a field as it is (``agg`` None), an aggregate of a field, or a computed
    measure of the source (``field`` names it, ``agg`` stays None)."""

    field: str
    agg: str | None = None
    label: str = ""

    @property
    def key(self) -> str:
        return f"{self.agg}_{self.field}" if self.agg else self.field


@dataclass
class GroupBy:
    field: str
    bucket: str | None = None  # for date fields: day, week, month, quarter or year

    @property
    def key(self) -> str:
        return f"{self.field}_{self.bucket}" if self.bucket else self.field


@dataclass
class Filter:
    """``field op value``. Dates take ``range`` with a relative name ("last_month") or
    ``{"from": "2026-01-01", "to": "2026-02-01"}`` (``to`` exclusive); ``in`` takes a list, ``between``
    a pair. ``param`` names a run parameter that replaces ``value`` when given."""

    field: str
    op: str = "eq"
    value: Any = None
    param: str | None = None


@dataclass
class Sort:
    key: str
    desc: bool = False


@dataclass
class ChartSpec:
    kind: str = "bar"
    x: str = ""                                  # an output column (default: the first group-by level)
    y: list[str] = field(default_factory=list)   # output columns (default: every numeric measure)
    title: str = ""


@dataclass
class ReportDefinition:
    name: str
    source: str
    title: str = ""
    description: str = ""
    columns: list[Column] = field(default_factory=list)
    group_by: list[GroupBy] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    sort: list[Sort] = field(default_factory=list)
    limit: int | None = None
    pivot: str | None = None                     # the key of a group-by level to spread across columns
    chart: ChartSpec | None = None
    options: dict[str, Any] = field(default_factory=dict)   # source options, e.g. {"sales_period": ...}
    params: dict[str, Any] = field(default_factory=dict)    # run parameters and their defaults
    builtin: bool = False
    post: str | None = None                      # a named post-processing step (the forecast)
    currency: str = ""                           # of the money columns (ISO code; empty: EUR)
    partial_periods: str = "mark"                # date buckets the period covers in part: mark or exclude

    @property
    def aggregated(self) -> bool:
        return bool(self.group_by) or any(c.agg for c in self.columns)

    def display_title(self) -> str:
        return self.title or self.name

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("builtin")
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReportDefinition:
        try:
            chart = d.get("chart")
            return cls(
                name=str(d["name"]), source=str(d["source"]), title=d.get("title", ""),
                description=d.get("description", ""),
                columns=[Column(**c) for c in d.get("columns", [])],
                group_by=[GroupBy(**g) for g in d.get("group_by", [])],
                filters=[Filter(**f) for f in d.get("filters", [])],
                sort=[Sort(**s) for s in d.get("sort", [])],
                limit=d.get("limit"), pivot=d.get("pivot"),
                chart=ChartSpec(**chart) if chart else None,
                options=dict(d.get("options") or {}), params=dict(d.get("params") or {}),
                post=d.get("post"), currency=str(d.get("currency") or ""),
                partial_periods=str(d.get("partial_periods") or "mark"),
            )
        except (KeyError, TypeError) as exc:
            raise DefinitionError(f"not a report definition: {exc}") from exc

    @classmethod
    def from_json(cls, text: str) -> ReportDefinition:
        return cls.from_dict(json.loads(text))

    def copy(self, **changes: Any) -> ReportDefinition:
        new = ReportDefinition.from_dict(self.to_dict())
        for k, v in changes.items():
            setattr(new, k, v)
        return new
