"""Running a report: the compiled query on a read connection, as a pandas DataFrame or as a stream of
row chunks for exports, with a cancel that interrupts the query in the database itself.

Pivoting spreads one group-by level across columns after the database has aggregated (the reshape of
an already small result); the forecast is a post-processing step of its built-in report.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from backoffice.db import Database
from backoffice.reports.compiler import CompiledReport, OutputColumn, compile_report
from backoffice.reports.dates import RELATIVE_RANGES, describe_range
from backoffice.reports.definition import ChartSpec, ReportDefinition
from backoffice.reports.formats import DEFAULT_CURRENCY, bucket_label, bucket_of, to_money
from backoffice.services.base import ServiceError

CHUNK_ROWS = 10_000


class ReportCancelled(ServiceError):
    def __init__(self) -> None:
        super().__init__("the report was cancelled")


class QueryHandle:
    """Lets another thread stop a running report: ``cancel()`` sets the flag checked between chunks and
    interrupts the statement in the database (sqlite3 ``interrupt``, psycopg ``cancel``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dbapi: Any = None
        self._cancelled = threading.Event()

    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def attach(self, dbapi_connection: Any) -> None:
        with self._lock:
            self._dbapi = dbapi_connection
        if self.cancelled():
            self._interrupt()

    def detach(self) -> None:
        with self._lock:
            self._dbapi = None

    def cancel(self) -> None:
        self._cancelled.set()
        self._interrupt()

    def _interrupt(self) -> None:
        with self._lock:
            conn = self._dbapi
        if conn is None:
            return
        try:
            if hasattr(conn, "interrupt"):
                conn.interrupt()
            elif hasattr(conn, "cancel_safe"):
                conn.cancel_safe()
            elif hasattr(conn, "cancel"):
                conn.cancel()
        except Exception:  # noqa: BLE001 - the flag still stops the next chunk
            pass


@contextlib.contextmanager
def cancelled_by(cancel: Callable[[], bool] | None, *, interval: float = 0.05) -> Iterator[QueryHandle]:
    """A :class:`QueryHandle` that cancels itself once ``cancel()`` answers True (polled every
    ``interval`` seconds while the block runs), so a caller that can only be asked "stop?" still
    interrupts the statement in the database."""
    handle = QueryHandle()
    if cancel is None:
        yield handle
        return
    stop = threading.Event()

    def watch_for_cancel() -> None:
        while True:
            if cancel():
                handle.cancel()
                return
            if stop.wait(interval):
                return

    watcher = threading.Thread(target=watch_for_cancel, name="report-cancel", daemon=True)
    watcher.start()
    try:
        yield handle
    finally:
        stop.set()


def plain_value(v: Any) -> Any:
    """A value of a result frame as a plain Python value: numpy scalars as int/float, timestamps as
    datetimes, NaN and NA as None."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if hasattr(v, "to_pydatetime"):
        return v.to_pydatetime()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def frame_rows(frame: pd.DataFrame) -> list[tuple]:
    """The rows of a result frame as tuples of plain values."""
    objects = frame.astype(object).where(frame.notna(), None)
    return [tuple(plain_value(v) for v in r) for r in objects.itertuples(index=False, name=None)]


@dataclass
class ReportTable:
    """A report's result as plain values, what the operations contract returns: the columns, the rows
    (str, int, float, Decimal money, dates, zoned datetimes, None), the chart the report asks for, the
    notes, whether the rows were cut at a limit, and per date-bucket column the periods it covers only
    in part."""

    name: str
    title: str
    columns: list[OutputColumn]
    rows: list[tuple]
    chart: ChartSpec | None = None
    currency: str = DEFAULT_CURRENCY
    notes: list[str] = field(default_factory=list)
    truncated: bool = False
    partial: dict[str, list[dt.date]] = field(default_factory=dict)

    def is_partial(self, key: str, value: Any) -> bool:
        """Whether ``value`` of the date-bucket column ``key`` is a period the report covers in part."""
        marks = self.partial.get(key)
        if not marks or value is None:
            return False
        if isinstance(value, dt.datetime):
            value = value.date()
        return value in marks


@dataclass
class ReportResult:
    compiled: CompiledReport
    frame: pd.DataFrame
    columns: list[OutputColumn]
    notes: list[str] = field(default_factory=list)
    truncated: bool = False
    forecast: Any = None  # the Forecast of the revenue forecast report
    timezone: str = "UTC"  # the one run times are shown in (a schedule's)

    @property
    def definition(self) -> ReportDefinition:
        return self.compiled.definition

    @property
    def currency(self) -> str:
        return self.compiled.currency

    def is_partial(self, key: str, value: Any) -> bool:
        """Whether ``value`` of the date-bucket column ``key`` is a period the report covers in part."""
        return self.compiled.is_partial(key, value)

    def table(self) -> ReportTable:
        """This result as plain values (columns, rows, chart spec, notes)."""
        d = self.definition
        return ReportTable(d.name, d.display_title(), list(self.columns), frame_rows(self.frame), d.chart,
                           self.currency, list(self.notes), self.truncated,
                           {k: sorted(v) for k, v in self.compiled.partial.items()})

    def parameter_rows(self, rows: int | None = None, *, timezone: str = "UTC",
                       run_at: dt.datetime | None = None) -> list[tuple[str, str]]:
        """What the Parameters sheet (and the PDF header) shows: how this result was produced, in words
        ("Period: Last 24 months (2024-04-01 – 2026-03-10)"), with the time zone of its dates."""
        d = self.definition
        compiled = self.compiled
        run_at = run_at or dt.datetime.now(dt.timezone.utc)
        try:
            from zoneinfo import ZoneInfo

            local = run_at.astimezone(ZoneInfo(timezone))
        except (ValueError, KeyError, ImportError):
            local, timezone = run_at.astimezone(dt.timezone.utc), "UTC"
        out = [("Report", d.display_title()), ("Source", compiled.source.title),
               ("Run at", f"{local:%Y-%m-%d %H:%M} ({timezone})"),
               ("As of", compiled.today.isoformat()),
               ("Time zone", "Dates and periods are in UTC" + (f"; run times in {timezone}" if timezone != "UTC"
                                                                 else ""))]
        if any(o.kind == "money" for o in self.columns):
            out.append(("Currency", compiled.currency))
        for k, v in sorted(compiled.params.items()):
            out.append((_param_label(compiled, k), _param_value(v, compiled.today)))
        # a filter whose value is a parameter is said by the parameter's line
        out += [("Filter", t) for f, t in zip(d.filters, compiled.filter_text) if not (f.param and f.param in
                                                                                     compiled.params)]
        options = compiled.source.options
        out += [(options.get(k, k.replace("_", " ").capitalize()), _param_value(v, compiled.today))
                for k, v in sorted(d.options.items()) if k not in compiled.params]
        if d.group_by:
            out.append(("Grouped by", ", ".join(o.label for o in compiled.outputs if o.role == "dimension")))
        if d.limit:
            out.append(("Limit", f"{d.limit:,} rows"))
        out += [("Note", n) for n in self.notes]
        out.append(("Rows", f"{len(self.frame) if rows is None else rows:,}"))
        return out


def _param_label(compiled: CompiledReport, name: str) -> str:
    option = compiled.source.options.get(name)
    if option:
        return option
    return name.replace("_", " ").capitalize()


def _param_value(value: Any, today: dt.date) -> str:
    """A parameter in words: a relative range by its name and dates, anything else as it is."""
    if isinstance(value, str) and (value in RELATIVE_RANGES or ".." in value):
        try:
            return describe_range(value, today)
        except ValueError:
            return value
    if isinstance(value, dict) and ("from" in value or "to" in value):
        try:
            return describe_range(value, today)
        except ValueError:
            return str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _frame(rows: list[tuple], outputs: list[OutputColumn], currency: str | None = None) -> pd.DataFrame:
    frame = pd.DataFrame([tuple(r) for r in rows], columns=[o.key for o in outputs])
    for o in outputs:
        if o.kind == "money":   # Decimal rounded to the currency's places (None when empty)
            frame[o.key] = pd.Series([to_money(v, currency) for v in frame[o.key]], index=frame.index, dtype=object)
        elif o.kind in ("number", "percent"):
            frame[o.key] = pd.to_numeric(frame[o.key], errors="coerce").astype("float64")
        elif o.kind == "int":
            col = pd.to_numeric(frame[o.key], errors="coerce")
            frame[o.key] = col.astype("Int64") if col.isna().any() else col.astype("int64")
    return frame


def stream(db: Database, compiled: CompiledReport, *, chunk_rows: int = CHUNK_ROWS,
           handle: QueryHandle | None = None) -> Iterator[list[tuple]]:
    """The rows of a compiled report in chunks, fetched with a server-side cursor on PostgreSQL, so an
    export of a million rows holds one chunk at a time."""
    with db.engine.connect() as conn:
        if handle is not None:
            handle.attach(conn.connection.dbapi_connection)
        try:
            result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(compiled.statement)
            for part in result.partitions(chunk_rows):
                if handle is not None and handle.cancelled():
                    raise ReportCancelled()
                yield [tuple(r) for r in part]
        except Exception as exc:
            if handle is not None and handle.cancelled():
                raise ReportCancelled() from exc
            raise
        finally:
            if handle is not None:
                handle.detach()


def run(db: Database, defn: ReportDefinition, params: dict[str, Any] | None = None, *,
        today: dt.date | None = None, max_rows: int | None = None, handle: QueryHandle | None = None) -> ReportResult:
    """Run a report into a DataFrame. ``max_rows`` caps what is fetched (previews); the result says
    whether it was cut."""
    compiled = compile_report(defn, db.dialect, params, today)
    rows: list[tuple] = []
    truncated = False
    with db.engine.connect() as conn:
        if handle is not None:
            handle.attach(conn.connection.dbapi_connection)
        try:
            # An aggregate is planned as a whole (a server-side cursor would be planned for its first rows)
            options = {} if defn.aggregated else {"stream_results": True, "yield_per": CHUNK_ROWS}
            result = conn.execution_options(**options).execute(compiled.statement)
            for part in result.partitions(CHUNK_ROWS):
                if handle is not None and handle.cancelled():
                    raise ReportCancelled()
                rows.extend(part)
                if max_rows is not None and len(rows) > max_rows:
                    rows = rows[:max_rows]
                    truncated = True
                    break
        except Exception as exc:
            if handle is not None and handle.cancelled():
                raise ReportCancelled() from exc
            raise
        finally:
            if handle is not None:
                handle.detach()
    frame = _frame(rows, compiled.outputs, compiled.currency)
    result_obj = ReportResult(compiled, frame, list(compiled.outputs), notes=list(compiled.notes), truncated=truncated)
    if defn.post:
        from backoffice.reports.builtin import POST_STEPS

        POST_STEPS[defn.post](result_obj)
    if defn.pivot:
        pivot(result_obj)
    return result_obj


def pivot(result: ReportResult) -> None:
    """Spread the pivot level across columns: one column per (measure, pivot value); with a single
    measure the columns are named by the pivot values alone."""
    key = result.definition.pivot
    assert key is not None
    dims = [o for o in result.columns if o.role == "dimension" and o.key != key]
    measures = [o for o in result.columns if o.role == "measure"]
    frame = result.frame
    if frame.empty or not measures:
        return
    values = list(dict.fromkeys(frame[key].tolist()))
    index = [o.key for o in dims]
    if index:
        wide = frame.set_index([*index, key])[[m.key for m in measures]].unstack(key)
    else:
        wide = frame.set_index(key)[[m.key for m in measures]].unstack().to_frame().T
    columns: list[OutputColumn] = list(dims)
    flat: dict[Any, str] = {}
    taken = {o.key for o in dims}
    pivot_col = next(o for o in result.columns if o.key == key)
    bucket = bucket_of(pivot_col.key, pivot_col.kind)
    for m in measures:
        for v in values:
            # A label made from data is only ever a label: the column's key is made unique apart from it.
            text = _pivot_name(v, bucket, result.is_partial(key, v))
            label = text if len(measures) == 1 else f"{m.label} · {text}"
            name, n = label, 2
            while name in taken:
                name, n = f"{label} ({n})", n + 1
            taken.add(name)
            flat[(m.key, v)] = name
            columns.append(OutputColumn(name, label, m.kind, "measure", m.additive))
    wide = wide.reindex(columns=list(flat))
    wide.columns = [flat[c] for c in wide.columns]
    wide = wide.reset_index(drop=not index)
    for m in measures:
        for v in values:
            col = flat[(m.key, v)]
            if m.kind in ("int",):
                wide[col] = wide[col].fillna(0).astype("int64")
            elif m.kind == "money":
                wide[col] = pd.Series([to_money(x, result.currency) for x in wide[col]], index=wide.index,
                                      dtype=object)
            else:
                wide[col] = wide[col].astype("float64")
    result.frame = wide
    result.columns = columns


def _pivot_name(v: Any, bucket: str = "", partial: bool = False) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "(empty)"
    if bucket:
        return bucket_label(v, bucket, partial)
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)
