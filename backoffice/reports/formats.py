"""How report values look, the same in the preview, the chart and every export: date buckets ("Jan 2025",
"2025-W03", "Q1 2025"), money rounded to its currency's minor unit, and the spreadsheet number formats
that show them so (real dates and numbers in the cell, the text only in the format).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

DEFAULT_CURRENCY = "EUR"
# ISO 4217 minor units of the currencies that do not use two decimals.
_PLACES = {"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
           "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
           "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3}
_PREFIX_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹", "AUD": "A$",
                   "CAD": "C$", "NZD": "NZ$", "HKD": "HK$", "SGD": "S$", "BRL": "R$", "MXN": "MX$"}

PARTIAL_SUFFIX = " (partial)"


# -- money ------------------------------------------------------------------------------------------------
def currency_places(code: str | None) -> int:
    return _PLACES.get((code or DEFAULT_CURRENCY).upper(), 2)


def to_money(value: Any, code: str | None = None) -> Decimal | None:
    """``value`` as a Decimal rounded half-up to the currency's places (None for empty or not a number)."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        value = repr(float(value))   # the shortest text that reads back as this float, not its binary expansion
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    return amount.quantize(Decimal(1).scaleb(-currency_places(code)), ROUND_HALF_UP)


def money_format(code: str | None) -> str:
    """A spreadsheet number format for amounts in ``code``: "€"#,##0.00, or #,##0.00" CHF"."""
    code = (code or DEFAULT_CURRENCY).upper()
    places = currency_places(code)
    number = "#,##0" + ("." + "0" * places if places else "")
    symbol = _PREFIX_SYMBOLS.get(code)
    if symbol:
        return f'"{symbol}"{number};-"{symbol}"{number}'
    return f'{number}" {code}";-{number}" {code}"'


def money_text(value: Any, code: str | None = None, *, symbol: bool = False, grouped: bool = True) -> str:
    amount = to_money(value, code)
    if amount is None:
        return ""
    text = f"{amount:,}" if grouped else f"{amount}"
    if not symbol:
        return text
    sign = _PREFIX_SYMBOLS.get((code or DEFAULT_CURRENCY).upper())
    if sign:
        return f"-{sign}{text[1:]}" if text.startswith("-") else f"{sign}{text}"
    return f"{text} {(code or DEFAULT_CURRENCY).upper()}"


# -- date buckets ---------------------------------------------------------------------------------------------
def bucket_of(key: str, kind: str) -> str:
    """The bucket of an output column from its key ("ordered_at_month" -> "month"), "" if it has none."""
    if kind != "date":
        return ""
    tail = key.rsplit("_", 1)[-1]
    return tail if tail in ("day", "week", "month", "quarter", "year") else ""


def as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def bucket_label(value: Any, bucket: str, partial: bool = False) -> str:
    """Jan 2025 · 2025-W03 · Q1 2025 · 2025 · 2025-01-15, with " (partial)" for an incomplete period."""
    d = as_date(value)
    if d is None:
        return "(empty)" if value is None else str(value)
    if bucket == "month":
        text = f"{d:%b %Y}"
    elif bucket == "quarter":
        text = f"Q{(d.month - 1) // 3 + 1} {d.year}"
    elif bucket == "year":
        text = str(d.year)
    elif bucket == "week":
        year, week, _ = d.isocalendar()
        text = f"{year}-W{week:02d}"
    else:
        text = d.isoformat()
    return text + (PARTIAL_SUFFIX if partial else "")


def bucket_number_format(value: Any, bucket: str, partial: bool = False) -> str:
    """The number format of a bucket's date: mmm yyyy for months, yyyy for years, ISO yyyy-mm-dd for days,
    "Q1 "yyyy for quarters, and for an ISO week its label with its Monday ("2026-W01 (29 Dec)": a date
    format cannot compute the ISO week, so that part is literal). Every one is a date format: the cell
    holds the real date, so it sorts, filters and reads back as a date."""
    suffix = f'" {PARTIAL_SUFFIX.strip()}"' if partial else ""
    if bucket == "month":
        return "mmm yyyy" + suffix
    if bucket == "year":
        return "yyyy" + suffix
    if bucket == "quarter":
        d = as_date(value)
        quarter = (d.month - 1) // 3 + 1 if d else 1
        return f'"Q{quarter} "yyyy' + suffix
    if bucket == "week":
        return f'"{bucket_label(value, "week")} ("d mmm")"' + suffix
    return "yyyy-mm-dd" + suffix


def axis_number_format(bucket: str) -> str:
    """The format of a chart's date axis: one for the whole axis (weeks show their Monday)."""
    return {"month": "mmm yyyy", "year": "yyyy", "quarter": "mmm yyyy"}.get(bucket, "yyyy-mm-dd")


def local_zone_name() -> str:
    """The IANA name of this machine's time zone (TZ, else /etc/localtime's link), "UTC" when unknown."""
    import os
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if not name:
            continue
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        return name
    return "UTC"
