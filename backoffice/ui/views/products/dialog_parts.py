"""What the Products dialogs and panels share: money and values in the user's locale, field names, a
plain read-only table model fed with rows, a table view set up like the rest of the app, and one-line
error texts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QLocale, Qt

from backoffice.services.base import ValidationError
from backoffice.ui.views.products.columns import CURRENCY_SYMBOL
from backoffice.ui.views.products.columns import locale as grid_locale

CONTEXT = "ProductsDialogs"
MONEY_FIELDS = frozenset({"price", "compare_at_price", "cost"})
OBJECT_ROLE = Qt.ItemDataRole.UserRole + 1
MATCH_BG = "#fde68a"

FIELD_LABELS = {
    "title": QT_TRANSLATE_NOOP("ProductsDialogs", "Title"),
    "handle": QT_TRANSLATE_NOOP("ProductsDialogs", "Handle"),
    "description": QT_TRANSLATE_NOOP("ProductsDialogs", "Description"),
    "seo_title": QT_TRANSLATE_NOOP("ProductsDialogs", "SEO title"),
    "seo_description": QT_TRANSLATE_NOOP("ProductsDialogs", "SEO description"),
    "vendor": QT_TRANSLATE_NOOP("ProductsDialogs", "Vendor"),
    "product_type": QT_TRANSLATE_NOOP("ProductsDialogs", "Type"),
    "status": QT_TRANSLATE_NOOP("ProductsDialogs", "Status"),
    "variant_status": QT_TRANSLATE_NOOP("ProductsDialogs", "Variant status"),
    "category_id": QT_TRANSLATE_NOOP("ProductsDialogs", "Category"),
    "category": QT_TRANSLATE_NOOP("ProductsDialogs", "Category"),
    "tags": QT_TRANSLATE_NOOP("ProductsDialogs", "Tags"),
    "sku": QT_TRANSLATE_NOOP("ProductsDialogs", "SKU"),
    "barcode": QT_TRANSLATE_NOOP("ProductsDialogs", "Barcode"),
    "price": QT_TRANSLATE_NOOP("ProductsDialogs", "Price"),
    "compare_at_price": QT_TRANSLATE_NOOP("ProductsDialogs", "Compare-at price"),
    "cost": QT_TRANSLATE_NOOP("ProductsDialogs", "Cost"),
    "weight_grams": QT_TRANSLATE_NOOP("ProductsDialogs", "Weight (g)"),
}


def tr(text: str) -> str:
    return QCoreApplication.translate(CONTEXT, text)


def field_label(name: str) -> str:
    label = FIELD_LABELS.get(name)
    return tr(label) if label else name.replace("_", " ").capitalize()


def ui_locale() -> QLocale:
    """The user's number format, as the grid uses it (the C locale reads as US English)."""
    return grid_locale()


def to_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def format_money(value: Any) -> str:
    """``€1,234.50`` (the store's currency in the user's number format, as the grid shows it); "—" for
    no value."""
    amount = to_decimal(value)
    if amount is None:
        return "—" if value in (None, "") else str(value)
    return ui_locale().toCurrencyString(float(amount), CURRENCY_SYMBOL, 2)


def format_change(delta: Any) -> str:
    """A signed amount: ``+€4.00``, ``−€0.50``, ``€0.00``."""
    amount = to_decimal(delta)
    if amount is None:
        return "—"
    text = ui_locale().toCurrencyString(float(abs(amount)), CURRENCY_SYMBOL, 2)
    return ("+" if amount > 0 else "−" if amount < 0 else "") + text


def format_count(n: int) -> str:
    return ui_locale().toString(int(n))


def format_when(at: dt.datetime | None) -> str:
    """A timestamp in the user's local time zone, to the minute."""
    if at is None:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone().strftime("%Y-%m-%d %H:%M")


def format_value(name: str, value: Any, categories: dict[int, str] | None = None) -> str:
    """A field's value for a table cell: money in the locale's currency, categories by name, tag lists
    joined; "—" for none and “” for an empty text."""
    if value is None:
        return "—"
    if name in MONEY_FIELDS:
        return format_money(value)
    if name in ("category_id", "category") and categories is not None:
        try:
            return categories.get(int(value), str(value))
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else "“”"
    if isinstance(value, dict):
        if all(isinstance(v, str | int | float) for v in value.values()):
            return "; ".join(f"{k}={v}" for k, v in value.items()) or "“”"
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return tr("yes") if value else tr("no")
    text = str(getattr(value, "value", value))
    text = text.replace("\n", " ⏎ ")
    return text if text.strip() else "“”"


def error_message(exc: BaseException, limit: int = 5) -> str:
    """What went wrong, for a banner: a ValidationError lists its first problems, one per line."""
    if isinstance(exc, ValidationError) and len(exc.problems) > 1:
        lines = [": ".join(p for p in (" ".join(q for q in (row, name) if q), msg) if p)
                 for row, name, msg in exc.problems[:limit]]
        more = len(exc.problems) - limit
        if more > 0:
            lines.append(tr("…and {n} more").format(n=format_count(more)))
        return "\n".join(lines)
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def category_paths(categories: Sequence[dict[str, Any]]) -> dict[int, str]:
    """``{id: "Women > Clothing > Tops"}`` from the category list of ``catalog_grid.facets``."""
    by_id = {c["id"]: c for c in categories}
    out: dict[int, str] = {}

    def path(cid: int, depth: int = 0) -> str:
        if cid in out:
            return out[cid]
        c = by_id[cid]
        parent = c.get("parent_id")
        text = c["name"] if parent not in by_id or depth > 50 else f"{path(parent, depth + 1)} > {c['name']}"
        out[cid] = text
        return text

    for cid in by_id:
        path(cid)
    return out


def plural(n: int, one: str, many: str, **values: Any) -> str:
    """``one`` or ``many`` (both already translated) with ``{n}`` filled in the user's number format."""
    return (one if n == 1 else many).format(n=format_count(n), **values)


from backoffice.ui.widgets.rows import (  # noqa: E402 - kept here for the modules that import them from here
    HighlightDelegate,
    RowsModel,
    before_after_colours,
    heading,
    make_table,
    muted,
)

__all__ = ["HighlightDelegate", "RowsModel", "before_after_colours", "heading", "make_table", "muted"]
