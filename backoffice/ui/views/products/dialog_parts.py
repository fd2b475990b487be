"""What the Products dialogs and panels share: field names, a field's value for a table cell, and
category paths. Numbers, money, dates and errors are written by ``backoffice.ui.format``; tables and
labels come from ``backoffice.ui.widgets.rows``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP

from backoffice.ui.format import NO_VALUE, format_money, translator

CONTEXT = "ProductsDialogs"
MONEY_FIELDS = frozenset({"price", "compare_at_price", "cost"})
tr = translator(CONTEXT)

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


def field_label(name: str) -> str:
    label = FIELD_LABELS.get(name)
    return tr(label) if label else name.replace("_", " ").capitalize()


def format_value(name: str, value: Any, categories: dict[int, str] | None = None) -> str:
    """A field's value for a table cell: money in the locale's currency, categories by name, tag lists
    joined; "—" for none and “” for an empty text."""
    if value is None:
        return NO_VALUE
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


def category_paths(categories: Sequence[dict[str, Any]]) -> dict[int, str]:
    """``{id: "Women > Clothing > Tops"}`` from a list of categories (id, parent_id, name), as the catalog facets give them."""
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
