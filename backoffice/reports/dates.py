"""Relative date ranges ("last month", "last 30 days") resolved to half-open UTC intervals [start, end)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from backoffice.reports.definition import DefinitionError

UTC = dt.timezone.utc

RELATIVE_RANGES: dict[str, str] = {
    "today": "Today", "yesterday": "Yesterday", "this_week": "This week", "last_week": "Last week",
    "this_month": "This month", "last_month": "Last month", "this_quarter": "This quarter",
    "last_quarter": "Last quarter", "this_year": "This year", "last_year": "Last year",
    "last_7_days": "Last 7 days", "last_30_days": "Last 30 days", "last_90_days": "Last 90 days",
    "last_12_months": "Last 12 months", "last_24_months": "Last 24 months", "year_to_date": "Year to date",
    "all_time": "All time",
}


def _month_start(d: dt.date, back: int = 0) -> dt.date:
    index = d.year * 12 + d.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def _quarter_start(d: dt.date, back: int = 0) -> dt.date:
    first = dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    return _month_start(first, 3 * back)


def relative_range(name: str, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """[start, end) dates of a named range around ``today``; (None, None) for all time."""
    week = today - dt.timedelta(days=today.weekday())
    tomorrow = today + dt.timedelta(days=1)
    match name:
        case "today":
            return today, tomorrow
        case "yesterday":
            return today - dt.timedelta(days=1), today
        case "this_week":
            return week, tomorrow
        case "last_week":
            return week - dt.timedelta(days=7), week
        case "this_month":
            return _month_start(today), tomorrow
        case "last_month":
            return _month_start(today, 1), _month_start(today)
        case "this_quarter":
            return _quarter_start(today), tomorrow
        case "last_quarter":
            return _quarter_start(today, 1), _quarter_start(today)
        case "this_year":
            return dt.date(today.year, 1, 1), tomorrow
        case "year_to_date":
            return dt.date(today.year, 1, 1), tomorrow
        case "last_year":
            return dt.date(today.year - 1, 1, 1), dt.date(today.year, 1, 1)
        case "last_7_days" | "last_30_days" | "last_90_days":
            return tomorrow - dt.timedelta(days=int(name.split("_")[1])), tomorrow
        case "last_12_months":
            return _month_start(today, 11), tomorrow
        case "last_24_months":
            return _month_start(today, 23), tomorrow
        case "all_time":
            return None, None
    raise DefinitionError(f"unknown date range {name!r}; use one of {', '.join(RELATIVE_RANGES)} "
                          "or FROM..TO (YYYY-MM-DD)")


def parse_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise DefinitionError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def resolve_range(value: Any, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """A range filter's value: a relative name, "FROM..TO", or {"from": .., "to": ..} (``to`` exclusive)."""
    if value is None or value == "":
        return None, None
    if isinstance(value, dict):
        start = parse_date(value["from"]) if value.get("from") else None
        end = parse_date(value["to"]) if value.get("to") else None
        return start, end
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return resolve_range({"from": value[0], "to": value[1]}, today)
    text = str(value).strip()
    if ".." in text:
        a, _, b = text.partition("..")
        return resolve_range({"from": a or None, "to": b or None}, today)
    return relative_range(text, today)


def at_midnight(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day, tzinfo=UTC)


def describe_range(value: Any, today: dt.date) -> str:
    start, end = resolve_range(value, today)
    label = RELATIVE_RANGES.get(str(value), "") if isinstance(value, str) else ""
    if start is None and end is None:
        return label or "All time"
    span = f"{start.isoformat() if start else '…'} – {(end - dt.timedelta(days=1)).isoformat() if end else '…'}"
    return f"{label} ({span})" if label else span


def bucket_start(d: dt.date, bucket: str) -> dt.date:
    """The first day of the day/week (Monday)/month/quarter/year bucket holding ``d``."""
    match bucket:
        case "week":
            return d - dt.timedelta(days=d.weekday())
        case "month":
            return _month_start(d)
        case "quarter":
            return _quarter_start(d)
        case "year":
            return dt.date(d.year, 1, 1)
    return d


def bucket_end(start: dt.date, bucket: str) -> dt.date:
    """The first day after the bucket that starts on ``start``."""
    match bucket:
        case "week":
            return start + dt.timedelta(days=7)
        case "month":
            return _month_start(start, -1)
        case "quarter":
            return _month_start(start, -3)
        case "year":
            return dt.date(start.year + 1, 1, 1)
    return start + dt.timedelta(days=1)


def partial_buckets(bucket: str, start: dt.date | None, end: dt.date | None, today: dt.date) -> list[dt.date]:
    """The buckets a report window [start, end) covers only in part, as of ``today`` (whose own data is
    still coming in): the first one when the window starts inside it, the last one when the window (or
    today) ends inside it. Returned as their first days."""
    complete_until = today if end is None else min(end, today)
    out: list[dt.date] = []
    if start is not None and bucket_start(start, bucket) != start:
        out.append(bucket_start(start, bucket))
    last_day = (end if end is not None and end <= today else today + dt.timedelta(days=1)) - dt.timedelta(days=1)
    if start is not None and last_day < start:
        return out
    last = bucket_start(last_day, bucket)
    if bucket_end(last, bucket) > complete_until and last not in out:
        out.append(last)
    return out
