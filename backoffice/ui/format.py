"""How the GUI writes numbers, money, dates and errors: one place, in the user's number format.

Views translate with a ``tr`` made for their context (``tr = translator("Stock")``) and format with the
functions here, so a quantity, an amount or a date reads the same in every view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import QCoreApplication, QLocale

from backoffice.operations import ConflictError, PermissionDenied, ServiceError, ValidationError

CURRENCY_SYMBOL = "€"  # the store's currency (orders and suppliers default to EUR)
NO_VALUE = "—"


def translator(context: str) -> Callable[[str], str]:
    """``tr`` for one translation context: ``tr = translator("Stock")``; ``tr("Ship")``."""
    def tr(text: str) -> str:
        return QCoreApplication.translate(context, text)
    tr.__qualname__ = f"tr[{context}]"
    return tr


_tr = translator("Format")


def ui_locale() -> QLocale:
    """The user's number format; the C locale (no LANG set) reads as US English."""
    loc = QLocale()
    if loc.language() == QLocale.Language.C:
        loc = QLocale(QLocale.Language.English, QLocale.Country.UnitedStates)
    return loc


def to_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


# -- counts and quantities ----------------------------------------------------------------------------
def format_count(n: int) -> str:
    """``1,234`` in the user's format."""
    return ui_locale().toString(int(n))


def format_qty(n: int | None, empty: str = NO_VALUE) -> str:
    """A quantity, ``1,234``; ``empty`` ("—" unless told) for no value."""
    return empty if n is None else ui_locale().toString(int(n))


def format_signed(n: int | None) -> str:
    """``+12``, ``−3``, ``0``: a change of stock."""
    if n is None:
        return NO_VALUE
    text = ui_locale().toString(abs(int(n)))
    return f"+{text}" if n > 0 else f"−{text}" if n < 0 else text


def plural(n: int, one: str, many: str, **values: Any) -> str:
    """``one`` or ``many`` (both already translated) with ``{n}`` in the user's number format:
    "1 unit", "12 units"."""
    return (one if n == 1 else many).format(n=format_count(n), **values)


def format_percent(value: Any, places: int = 1) -> str:
    number = to_decimal(value)
    return NO_VALUE if number is None else ui_locale().toString(float(number), "f", places) + " %"


# -- money --------------------------------------------------------------------------------------------
def format_money(value: Any, empty: str = NO_VALUE) -> str:
    """``€1,234.50``: the store's currency in the user's number format; ``empty`` for no value; a text
    that is not a number is shown as it is."""
    amount = to_decimal(value)
    if amount is None:
        return empty if value in (None, "") else str(value)
    return ui_locale().toCurrencyString(float(amount), CURRENCY_SYMBOL, 2)


def format_amount(amount: Any, currency: str = "") -> str:
    """``1,234.50 EUR``: an amount in a named currency (suppliers, purchase orders), exact (Decimal,
    never float), in the user's separators; "—" for no amount."""
    value = to_decimal(amount)
    if value is None:
        return NO_VALUE
    loc = ui_locale()
    text = f"{value.quantize(Decimal('0.01')):,}"
    text = text.replace(",", "\x00").replace(".", loc.decimalPoint()).replace("\x00", loc.groupSeparator())
    return f"{text} {currency}".strip()


def format_change(delta: Any) -> str:
    """A signed amount: ``+€4.00``, ``−€0.50``, ``€0.00``."""
    amount = to_decimal(delta)
    if amount is None:
        return NO_VALUE
    text = ui_locale().toCurrencyString(float(abs(amount)), CURRENCY_SYMBOL, 2)
    return ("+" if amount > 0 else "−" if amount < 0 else "") + text


# -- dates ----------------------------------------------------------------------------------------------
def format_when(at: dt.datetime | None) -> str:
    """A timestamp in the user's local time zone, to the minute; "" for none."""
    if at is None:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone().strftime("%Y-%m-%d %H:%M")


# -- errors ---------------------------------------------------------------------------------------------
def error_text(exc: BaseException, limit: int = 6) -> str:
    """What went wrong, fit for a banner: every problem of a ValidationError on its own line, a service's
    message as it is, anything unexpected with its type so it can be reported."""
    if isinstance(exc, ValidationError):
        lines = []
        for row, field_name, message in exc.problems[:limit]:
            where = " ".join(p for p in (row, field_name) if p)
            lines.append(f"{where}: {message}" if where else message)
        if len(exc.problems) > limit:
            lines.append(_tr("…and {n} more").format(n=format_count(len(exc.problems) - limit)))
        return "\n".join(lines) or str(exc)
    if isinstance(exc, ConflictError | PermissionDenied | ServiceError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def error_message(exc: BaseException, limit: int = 5) -> str:
    """A shorter form for dialogs: a ValidationError lists its first problems, one per line; anything
    else its first line."""
    if isinstance(exc, ValidationError) and len(exc.problems) > 1:
        lines = [": ".join(p for p in (" ".join(q for q in (row, name) if q), msg) if p)
                 for row, name, msg in exc.problems[:limit]]
        more = len(exc.problems) - limit
        if more > 0:
            lines.append(_tr("…and {n} more").format(n=format_count(more)))
        return "\n".join(lines)
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
