"""A report definition compiled to one SQLAlchemy Core SELECT.

Every value that comes from the user (filter values, dates of relative ranges, the limit) is a bound
parameter; the only text the compiler puts into the SQL itself is its own vocabulary (bucket keywords
such as 'month', date formats), chosen from fixed lists. Aggregation happens in the database: GROUP BY
the group-by levels (by position, so an expression with parameters is grouped as it is selected) and
HAVING for filters on aggregated outputs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Date, Float, Integer, Numeric, String, cast, distinct, func, literal_column, select, type_coerce
from sqlalchemy.types import TypeDecorator

from backoffice.reports.dates import (
    at_midnight,
    bucket_end,
    describe_range,
    parse_date,
    partial_buckets,
    resolve_range,
)
from backoffice.reports.definition import (
    AGGREGATES,
    BUCKETS,
    CHART_KINDS,
    FILTER_OPS,
    DefinitionError,
    Filter,
    PARTIAL_PERIODS,
    ReportDefinition,
    Sort,
)
from backoffice.reports.formats import DEFAULT_CURRENCY, bucket_label, currency_places, to_money
from backoffice.reports.sources import SOURCES, FieldSpec, Source, context, source


class Money(TypeDecorator):
    """Amounts read back as Decimal rounded to the currency's places: a sum of floats on SQLite
    (52672.92000000002) and an exact numeric on PostgreSQL both come out as Decimal("52672.92")."""

    impl = Numeric
    cache_ok = True

    def __init__(self, currency: str = DEFAULT_CURRENCY) -> None:
        super().__init__(asdecimal=True)
        self.currency = currency
        self._quantum = Decimal(1).scaleb(-currency_places(currency))

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if type(value) is Decimal and value.is_finite():   # PostgreSQL's numeric: only the rounding
            return value.quantize(self._quantum, ROUND_HALF_UP)
        return to_money(value, self.currency)


# What each kind of output reads back as: Decimal for money (above), floats for ratios (converted by the
# driver layer, not value by value in Python), plain strings for text (enum columns too).
_RESULT_TYPES = {"number": Float(), "percent": Float(), "text": String()}

BUCKET_LABELS = {"day": "Day", "week": "Week", "month": "Month", "quarter": "Quarter", "year": "Year"}
OP_LABELS = {"eq": "is", "ne": "is not", "in": "is one of", "not_in": "is not one of", "gt": ">", "gte": "≥",
             "lt": "<", "lte": "≤", "between": "between", "contains": "contains", "range": "in",
             "is_null": "is empty", "not_null": "is not empty"}


@dataclass(frozen=True)
class OutputColumn:
    key: str
    label: str
    kind: str
    role: str  # "dimension" or "measure"
    additive: bool = False  # a total over rows means something (sums and counts, not averages or ratios)

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "number", "money", "percent")


@dataclass
class CompiledReport:
    definition: ReportDefinition
    source: Source
    statement: Any
    outputs: list[OutputColumn]
    params: dict[str, Any]
    filter_text: list[str] = field(default_factory=list)
    today: dt.date = field(default_factory=dt.date.today)
    currency: str = DEFAULT_CURRENCY
    partial: dict[str, set[dt.date]] = field(default_factory=dict)   # bucket key -> incomplete buckets
    notes: list[str] = field(default_factory=list)

    def is_partial(self, key: str, value: Any) -> bool:
        marks = self.partial.get(key)
        if not marks or value is None:
            return False
        if hasattr(value, "to_pydatetime"):
            value = value.to_pydatetime()
        if isinstance(value, dt.datetime):
            value = value.date()
        return value in marks

    def sql(self, dialect: Any) -> str:
        return str(self.statement.compile(dialect=dialect))


def _bucket(expr: Any, bucket: str, spec: FieldSpec, dialect: str) -> Any:
    if bucket not in BUCKETS:
        raise DefinitionError(f"unknown date bucket {bucket!r}; use {', '.join(BUCKETS)}")
    if not spec.temporal:
        raise DefinitionError(f"{spec.name} is not a date: it cannot be bucketed by {bucket}")
    if dialect == "postgresql":
        value = expr if spec.kind == "date" else func.timezone(literal_column("'UTC'"), expr)
        return cast(func.date_trunc(literal_column(f"'{bucket}'"), value), Date)
    # SQLite stores UTC timestamps as ISO text: date() and strftime() read them directly.
    k = literal_column
    match bucket:
        case "day":
            sql = func.date(expr)
        case "week":  # ISO weeks start on Monday: the next Sunday (or today), minus six days
            sql = func.date(expr, k("'weekday 0'"), k("'-6 days'"))
        case "month":
            sql = func.date(expr, k("'start of month'"))
        case "quarter":
            back = (cast(func.strftime(k("'%m'"), expr), Integer) - k("1")) % k("3")
            sql = func.date(expr, k("'start of month'"), func.printf(k("'-%d months'"), back))
        case _:
            sql = func.date(expr, k("'start of year'"))
    return type_coerce(sql, Date)


def _aggregate(expr: Any, agg: str) -> Any:
    match agg:
        case "sum":
            return func.coalesce(func.sum(expr), 0)
        case "count":
            return func.count(expr)
        case "count_distinct":
            return func.count(distinct(expr))
        case "avg":
            return func.avg(expr)
        case "min":
            return func.min(expr)
        case "max":
            return func.max(expr)
    raise DefinitionError(f"unknown aggregate {agg!r}; use {', '.join(AGGREGATES)}")


def _agg_kind(kind: str, agg: str) -> str:
    if agg in ("count", "count_distinct"):
        return "int"
    if agg == "avg" and kind == "int":
        return "number"
    return kind


def _agg_label(spec: FieldSpec | None, agg: str) -> str:
    if spec is None:
        return "Rows"
    return {"sum": spec.label, "count": f"Count of {spec.label.lower()}",
            "count_distinct": f"Distinct {spec.label.lower()}", "avg": f"Average {spec.label.lower()}",
            "min": f"Lowest {spec.label.lower()}", "max": f"Highest {spec.label.lower()}"}[agg]


def _coerce(spec: FieldSpec, value: Any) -> Any:
    if value is None:
        raise DefinitionError(f"filter on {spec.name}: a value is needed")
    try:
        match spec.kind:
            case "int":
                return int(value)
            case "money" | "number" | "percent":
                return Decimal(str(value))
            case "date":
                return parse_date(value)
            case "datetime":
                return at_midnight(parse_date(value))
            case _:
                return str(value.value if hasattr(value, "value") else value)
    except (ValueError, InvalidOperation):
        raise DefinitionError(f"filter on {spec.name}: {value!r} is not a valid {spec.kind}") from None


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value or [])


def _condition(expr: Any, spec: FieldSpec, f: Filter, value: Any, today: dt.date) -> tuple[Any, str]:
    op = f.op
    if op not in FILTER_OPS:
        raise DefinitionError(f"unknown filter operator {op!r}; use {', '.join(FILTER_OPS)}")
    label = spec.label
    if op == "range":
        if not spec.temporal:
            raise DefinitionError(f"filter on {spec.name}: a date range needs a date field")
        start, end = resolve_range(value, today)
        conds = []
        if start is not None:
            conds.append(expr >= (at_midnight(start) if spec.kind == "datetime" else start))
        if end is not None:
            conds.append(expr < (at_midnight(end) if spec.kind == "datetime" else end))
        text = f"{label}: {describe_range(value, today)}"
        if not conds:
            return None, text
        return (conds[0] if len(conds) == 1 else conds[0] & conds[1]), text
    if op == "is_null":
        return expr.is_(None), f"{label} is empty"
    if op == "not_null":
        return expr.is_not(None), f"{label} is not empty"
    if op in ("in", "not_in"):
        values = [_coerce(spec, v) for v in _as_list(value)]
        if not values:
            raise DefinitionError(f"filter on {spec.name}: list at least one value")
        cond = expr.in_(values) if op == "in" else expr.not_in(values)
        return cond, f"{label} {OP_LABELS[op]} {', '.join(map(_shown, values))}"
    if op == "between":
        lo, hi = _as_list(value) if not isinstance(value, dict) else (value.get("from"), value.get("to"))
        a, b = _coerce(spec, lo), _coerce(spec, hi)
        return expr.between(a, b), f"{label} between {a} and {b}"
    if op == "contains":
        text = str(value)
        return func.lower(expr).contains(text.lower(), autoescape=True), f"{label} contains “{text}”"
    v = _coerce(spec, value)
    cond = {"eq": expr == v, "ne": expr != v, "gt": expr > v, "gte": expr >= v, "lt": expr < v,
            "lte": expr <= v}[op]
    return cond, f"{label} {OP_LABELS[op]} {_shown(v)}"


def _shown(value: Any) -> str:
    """A filter value as a reader sees it in a report's description: partially_refunded as
    "partially refunded"."""
    return value.replace("_", " ") if isinstance(value, str) else str(value)


def resolve_params(defn: ReportDefinition, params: dict[str, Any] | None) -> dict[str, Any]:
    given = dict(params or {})
    # a source option (the sales period of sell-through) can be given as a parameter too
    options = set(source(defn.source).options) if defn.source in SOURCES else set()
    known = set(defn.params) | {f.param for f in defn.filters if f.param} | options
    unknown = sorted(set(given) - known)
    if unknown:
        raise DefinitionError(f"report {defn.name!r} has no parameter {', '.join(unknown)}"
                              + (f"; its parameters: {', '.join(sorted(known))}" if known else ""))
    resolved = {k: v for k, v in defn.params.items()}
    resolved.update(given)
    return resolved


def _window(defn: ReportDefinition, resolved: dict[str, Any], field_name: str,
            today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The [start, end) dates the range filters on ``field_name`` leave (None: open)."""
    start: dt.date | None = None
    end: dt.date | None = None
    for f in defn.filters:
        if f.field != field_name or f.op != "range":
            continue
        a, b = resolve_range(resolved.get(f.param, f.value) if f.param else f.value, today)
        if a is not None and (start is None or a > start):
            start = a
        if b is not None and (end is None or b < end):
            end = b
    return start, end


def compile_report(defn: ReportDefinition, dialect: str, params: dict[str, Any] | None = None,
                   today: dt.date | None = None) -> CompiledReport:
    src = source(defn.source)
    today = today or dt.datetime.now(dt.timezone.utc).date()
    currency = (defn.currency or DEFAULT_CURRENCY).upper()
    if len(currency) != 3 or not currency.isalpha():
        raise DefinitionError(f"{defn.currency!r} is not a currency code (e.g. EUR, USD)")
    if defn.partial_periods not in PARTIAL_PERIODS:
        raise DefinitionError(f"partial periods: {defn.partial_periods!r} is not one of {', '.join(PARTIAL_PERIODS)}")
    money_type = Money(currency)
    resolved = resolve_params(defn, params)
    options = {**defn.options, **{k: v for k, v in resolved.items() if k in src.options}}
    ns = src.namespace(context(options, today))
    joins: set[str] = set()

    def field_expr(name: str) -> tuple[FieldSpec, Any]:
        spec = src.field(name)
        joins.update(spec.joins)
        return spec, spec.expr(ns)

    selected: list[Any] = []
    outputs: list[OutputColumn] = []
    by_key: dict[str, Any] = {}
    aggregated = defn.aggregated

    def add(key: str, label: str, kind: str, role: str, expr: Any, additive: bool = False) -> None:
        if key in by_key:
            raise DefinitionError(f"the column {key!r} appears twice")
        if kind == "money":
            labelled = type_coerce(expr, money_type).label(key)
        elif kind in _RESULT_TYPES:
            labelled = type_coerce(expr, _RESULT_TYPES[kind]).label(key)
        else:
            labelled = expr.label(key)
        selected.append(labelled)
        by_key[key] = labelled
        outputs.append(OutputColumn(key, label, kind, role, additive))

    partial: dict[str, set[dt.date]] = {}
    notes: list[str] = []
    trim: list[Any] = []   # conditions that leave out incomplete buckets (partial_periods "exclude")
    for g in defn.group_by:
        spec, expr = field_expr(g.field)
        if g.bucket:
            if g.bucket in BUCKETS and spec.temporal:
                start, end = _window(defn, resolved, g.field, today)
                marks = partial_buckets(g.bucket, start, end, today)
                if defn.partial_periods == "exclude":
                    for mark in marks:
                        edge = bucket_end(mark, g.bucket) if start is not None and mark < start else mark
                        bound = at_midnight(edge) if spec.kind == "datetime" else edge
                        trim.append(expr >= bound if start is not None and mark < start else expr < bound)
                    if marks:
                        notes.append("Incomplete periods left out: " + ", ".join(
                            bucket_label(m, g.bucket) for m in marks) + ".")
                elif marks:
                    partial[g.key] = set(marks)
                    notes.append(_partial_note(g.bucket, marks, start, end, today))
            expr = _bucket(expr, g.bucket, spec, dialect)
            label = BUCKET_LABELS[g.bucket] if g.field == src.date_field else f"{spec.label} ({g.bucket})"
            add(g.key, label, "date", "dimension", expr)
        else:
            add(g.key, spec.label, spec.kind, "dimension", expr)
    for c in defn.columns:
        computed = src.computed_measure(c.field)
        if computed is not None:
            def agg(name: str, fn: str) -> Any:
                return _aggregate(field_expr(name)[1], fn)
            add(c.key, c.label or computed.label, computed.kind, "measure", computed.build(agg), computed.additive)
            aggregated = True
        elif c.agg:
            if c.field == "*":
                if c.agg != "count":
                    raise DefinitionError("only count can count rows (*)")
                add("count_rows", c.label or "Rows", "int", "measure", func.count(), True)
                continue
            spec, expr = field_expr(c.field)
            aggregate = _aggregate(expr, c.agg)
            add(c.key, c.label or _agg_label(spec, c.agg), _agg_kind(spec.kind, c.agg), "measure",
                aggregate, c.agg in ("sum", "count"))
        else:
            spec, expr = field_expr(c.field)
            add(c.key, c.label or spec.label, spec.kind, "dimension", expr,
                not aggregated and spec.kind in ("int", "money") and not spec.name.endswith("_id"))
    if not selected:
        raise DefinitionError("choose at least one column")

    where, having, filter_text = list(trim), [], []
    for f in defn.filters:
        value = resolved.get(f.param, f.value) if f.param else f.value
        if f.field in by_key and not any(f.field == g.key for g in defn.group_by) and \
                next(o for o in outputs if o.key == f.field).role == "measure":
            out = next(o for o in outputs if o.key == f.field)
            pseudo = FieldSpec(out.key, out.label, out.kind, lambda ns: None)
            cond, text = _condition(by_key[f.field].element, pseudo, f, value, today)
            having.append(cond)
        else:
            spec, expr = field_expr(f.field)
            cond, text = _condition(expr, spec, f, value, today)
            if cond is not None:
                where.append(cond)
        filter_text.append(text)

    stmt = select(*selected).select_from(src.root)
    for j in src.join_order(joins):
        target, onclause = j.build(ns)
        stmt = stmt.join(target, onclause, isouter=j.outer)
    if where:
        stmt = stmt.where(*where)
    dims = [o for o in outputs if o.role == "dimension"]
    if aggregated and dims and len(dims) < len(outputs):
        positions = [i + 1 for i, o in enumerate(outputs) if o.role == "dimension"]
        stmt = stmt.group_by(*[literal_column(str(p)) for p in positions])
    elif aggregated and dims:  # only dimensions: distinct combinations
        stmt = stmt.distinct()
    if having:
        stmt = stmt.having(*having)
    order = defn.sort
    if order:
        clauses = []
        for s in order:
            if s.key not in by_key:  # a field name stands for the one column made of it
                made_of = [c.key for c in defn.columns if c.field == s.key]
                if len(made_of) == 1:
                    s = Sort(made_of[0], s.desc)
            if s.key not in by_key:
                raise DefinitionError(f"cannot sort by {s.key!r}: it is not a column of the report "
                                      f"({', '.join(by_key)})")
            clauses.append(by_key[s.key].desc() if s.desc else by_key[s.key].asc())
        stmt = stmt.order_by(*clauses)
    elif aggregated and dims:
        stmt = stmt.order_by(*[by_key[o.key] for o in dims])
    if defn.limit is not None:
        if int(defn.limit) < 1:
            raise DefinitionError("the limit must be a positive number of rows")
        stmt = stmt.limit(int(defn.limit))
    if defn.pivot is not None and defn.pivot not in [g.key for g in defn.group_by]:
        raise DefinitionError(f"pivot {defn.pivot!r} must be one of the group-by levels "
                              f"({', '.join(g.key for g in defn.group_by) or 'none'})")
    if defn.chart is not None and defn.chart.kind not in CHART_KINDS:
        raise DefinitionError(f"unknown chart {defn.chart.kind!r}; use {', '.join(CHART_KINDS)}")
    return CompiledReport(defn, src, stmt, outputs, resolved, filter_text, today, currency, partial, notes)


def _partial_note(bucket: str, marks: list[dt.date], start: dt.date | None, end: dt.date | None,
                  today: dt.date) -> str:
    parts = []
    for m in marks:
        if start is not None and m < start:
            parts.append(f"{bucket_label(m, bucket)} from {start.isoformat()} only")
        elif end is not None and end <= today:
            parts.append(f"{bucket_label(m, bucket)} up to {(end - dt.timedelta(days=1)).isoformat()} only")
        else:
            parts.append(f"{bucket_label(m, bucket)} so far (as of {today.isoformat()})")
    return "Partial periods (marked): " + "; ".join(parts) + "."


