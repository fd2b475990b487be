"""The grid's columns as the user sees them: how each kind of value is shown, copied and typed in.

Values travel as plain Python values (``Decimal`` money, ``int`` stock, ``list[str]`` tags, enum values as
strings, a category id). This module turns them into cell text in the user's number format, into plain
clipboard text that Excel reads back, and parses what a user types or pastes, with a message fit to show
when it cannot be taken. The category tree (names and paths by id) lives here too, for display and lookup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt

from backoffice.operations.catalog import (
    COLUMN_BY_KEY,
    COLUMNS,
    HANDLE_RE,
    MAX_LENGTHS,
    MONEY_LIMIT,
    PRODUCT_STATUSES,
    SKU_RE,
    VARIANT_STATUSES,
    Column,
    GridRow,
)
from backoffice.ui.format import format_money, format_percent, format_qty, format_when, translator

CENT = Decimal("0.01")

KEYS: tuple[str, ...] = tuple(c.key for c in COLUMNS)
INDEX: dict[str, int] = {k: i for i, k in enumerate(KEYS)}
NUMERIC_KINDS = frozenset({"money", "int", "percent"})
NULLABLE = frozenset({"barcode", "compare_at_price", "cost", "category"})
ENUM_VALUES: dict[str, tuple[str, ...]] = {
    "status": PRODUCT_STATUSES,
    "variant_status": VARIANT_STATUSES,
}
# Codes that differ at the end or in the middle (MC-NAVY-L / MC-NAVY-XL): cut in the middle, never at the end.
MIDDLE_ELIDED = frozenset({"sku", "barcode", "handle"})
DEFAULT_WIDTHS: dict[str, int] = {
    "title": 220, "sku": 140, "options": 130, "barcode": 120, "status": 80, "variant_status": 96,
    "category": 150, "vendor": 120, "product_type": 110, "tags": 140, "price": 86, "compare_at_price": 92,
    "cost": 80, "margin": 72, "stock": 64, "updated_at": 130, "handle": 200,
}
# The columns a merchandiser reads first come first; every column can be moved, hidden or shown.
DEFAULT_ORDER: tuple[str, ...] = (
    "title", "sku", "options", "price", "compare_at_price", "cost", "margin", "stock", "status", "variant_status",
    "category", "vendor", "product_type", "tags", "barcode", "updated_at", "handle",
)
DEFAULT_HIDDEN = frozenset({"handle", "barcode", "product_type", "variant_status", "compare_at_price"})


class CellError(ValueError):
    """A value a cell cannot take; the message says why, in words for the user."""


tr = translator("ProductGrid")


def column_label(column: Column) -> str:
    return QCoreApplication.translate("ProductGrid", column.label)


def is_editable(column: Column) -> bool:
    return column.entity is not None


def alignment(column: Column) -> int:
    if column.kind in NUMERIC_KINDS:
        return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)


# -- the category tree ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CategoryNode:
    id: int
    parent_id: int | None
    name: str
    path: str      # "Home › Bedding"


class CategoryIndex:
    """Categories by id, with readable paths, built from ``ops.catalog.facets()["categories"]``."""

    def __init__(self, categories: Iterable[dict[str, Any]] = ()) -> None:
        raw = {int(c["id"]): c for c in categories}
        self.nodes: dict[int, CategoryNode] = {}

        def path_of(cid: int, seen: frozenset[int] = frozenset()) -> str:
            c = raw[cid]
            parent = c.get("parent_id")
            if parent in raw and parent not in seen:
                return f"{path_of(parent, seen | {cid})} › {c['name']}"
            return str(c["name"])

        for cid, c in raw.items():
            self.nodes[cid] = CategoryNode(cid, c.get("parent_id"), str(c["name"]), path_of(cid))

    def __len__(self) -> int:
        return len(self.nodes)

    def name(self, category_id: int | None) -> str:
        node = self.nodes.get(category_id) if category_id is not None else None
        return node.name if node else ("" if category_id is None else f"#{category_id}")

    def path(self, category_id: int | None) -> str:
        node = self.nodes.get(category_id) if category_id is not None else None
        return node.path if node else self.name(category_id)

    def children(self, parent_id: int | None) -> list[CategoryNode]:
        return sorted((n for n in self.nodes.values() if n.parent_id == parent_id or
                       (parent_id is None and n.parent_id not in self.nodes)), key=lambda n: n.name.lower())

    def resolve(self, text: str) -> int | None:
        """A category from what a user typed or pasted: its path, its name when unique, or ``#id``."""
        wanted = " ".join(text.split()).strip()
        if not wanted:
            return None
        key = re.sub(r"\s*(›|>|/)\s*", " › ", wanted).lower()
        for node in self.nodes.values():
            if node.path.lower() == key:
                return node.id
        named = [n for n in self.nodes.values() if n.name.lower() == wanted.lower()]
        if len(named) == 1:
            return named[0].id
        if len(named) > 1:
            raise CellError(tr("“{name}” names {n} categories; use the full path, such as “{path}”")
                            .format(name=wanted, n=len(named), path=named[0].path))
        m = re.fullmatch(r"#?(\d+)", wanted)
        if m and int(m.group(1)) in self.nodes:
            return int(m.group(1))
        raise CellError(tr("there is no category “{name}”").format(name=wanted))


# -- values of a row ----------------------------------------------------------------------------------
def row_value(row: GridRow, column: Column) -> Any:
    """The value a cell holds (what an edit changes): the category id rather than its name."""
    if column.key == "category":
        return row.category_id
    value = row.value(column.key)
    return list(value) if isinstance(value, list) else value


def cell_key(row: GridRow, column: Column) -> tuple[str, int, str]:
    """(entity, id, field) that an edit of this cell changes: product fields belong to the product."""
    assert column.entity is not None and column.field is not None
    entity_id = row.product_id if column.entity == "product" else row.variant_id
    return column.entity, entity_id, column.field


def row_label(row: GridRow, entity: str) -> str:
    return row.sku if entity == "variant" else row.handle


# -- showing values -------------------------------------------------------------------------------------
def format_value(column: Column, value: Any, categories: CategoryIndex | None = None) -> str:
    """A value as a cell shows it."""
    if value is None:
        return ""
    kind = column.kind
    if kind == "money":
        return format_money(value, empty="")
    if kind == "int":
        return format_qty(value, empty="")
    if kind == "percent":
        return format_percent(value, 1)
    if kind == "datetime":
        return format_when(value)
    if kind == "category":
        return categories.path(value) if categories is not None else str(value)
    if kind == "tags":
        return ", ".join(value)
    if kind == "enum":
        return QCoreApplication.translate("ProductGrid", str(value).capitalize())
    return str(value)


def clipboard_text(column: Column, value: Any, categories: CategoryIndex | None = None) -> str:
    """A value as copied to the clipboard: plain numbers (no symbol or grouping) so spreadsheets read
    them as numbers, and everything else as this grid would parse it back."""
    if value is None:
        return ""
    if column.kind == "money":
        return f"{value:.2f}"
    if column.kind in ("int", "percent"):
        return str(value)
    if column.kind == "datetime":
        return value.astimezone().isoformat(sep=" ", timespec="seconds")
    if column.kind == "category":
        return categories.path(value) if categories is not None else str(value)
    if column.kind == "tags":
        return ", ".join(value)
    return str(value)


# -- reading values -------------------------------------------------------------------------------------
def parse_money(text: str, *, nullable: bool) -> Decimal | None:
    """``12.5``, ``1,234.50``, ``€ 9,99``, ``1.234,50``: an exact amount with at most two decimals."""
    raw = text.strip()
    cleaned = re.sub(r"[\s\u00a0\u202f€$£¥]|EUR|USD|GBP", "", raw, flags=re.IGNORECASE)
    if not cleaned:
        if nullable:
            return None
        raise CellError(tr("an amount is required"))
    if cleaned.startswith("-"):
        raise CellError(tr("{value} is negative").format(value=raw))
    if not re.fullmatch(r"[\d.,']+", cleaned) or not re.search(r"\d", cleaned):
        raise CellError(tr("“{value}” is not an amount").format(value=raw))
    cleaned = cleaned.replace("'", "")
    dot, comma = cleaned.rfind("."), cleaned.rfind(",")
    if dot >= 0 and comma >= 0:  # the later one separates the decimals
        decimal_sep = "." if dot > comma else ","
    elif comma >= 0:  # "9,99" is a decimal comma; "1,234" and "1,234,567" group thousands
        decimal_sep = "," if cleaned.count(",") == 1 and len(cleaned) - comma - 1 in (1, 2) else ""
    elif dot >= 0:
        decimal_sep = "." if cleaned.count(".") == 1 else ""
    else:
        decimal_sep = ""
    group_sep = {".": ",", ",": "."}.get(decimal_sep, ",." if decimal_sep == "" else "")
    for sep in group_sep:
        cleaned = cleaned.replace(sep, "")
    if decimal_sep:
        cleaned = cleaned.replace(decimal_sep, ".")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise CellError(tr("“{value}” is not an amount").format(value=raw)) from None
    if amount != amount.quantize(CENT):
        raise CellError(tr("{value} has more than two decimals").format(value=raw))
    if amount >= MONEY_LIMIT:
        raise CellError(tr("{value} is too large").format(value=raw))
    return amount.quantize(CENT)


def parse_tags(text: str) -> list[str]:
    tags = sorted({t.strip() for t in re.split(r"[,;]", text) if t.strip()})
    for tag in tags:
        if len(tag) > 100:
            raise CellError(tr("the tag “{tag}…” is longer than 100 characters").format(tag=tag[:20]))
    return tags


def parse_value(column: Column, text: str, categories: CategoryIndex | None = None) -> Any:
    """What a cell of ``column`` would hold for the typed or pasted ``text``; CellError if it cannot."""
    if not is_editable(column):
        raise CellError(tr("{column} is computed and cannot be edited").format(column=column_label(column)))
    value = text.strip()
    kind, key = column.kind, column.key
    if kind == "money":
        return parse_money(value, nullable=key in NULLABLE)
    if kind == "enum":
        allowed = ENUM_VALUES[key]
        lowered = value.lower()
        if lowered not in allowed:
            raise CellError(tr("“{value}” is not one of {allowed}").format(value=value, allowed=", ".join(allowed)))
        return lowered
    if kind == "category":
        if categories is None:
            raise CellError(tr("the categories are still loading"))
        return categories.resolve(value)
    if kind == "tags":
        return parse_tags(value)
    limit = MAX_LENGTHS.get(column.field or key)
    if limit is not None and len(value) > limit:
        raise CellError(tr("is {n} characters long; at most {limit}").format(n=len(value), limit=limit))
    if key == "title" and not value:
        raise CellError(tr("a title is required"))
    if key == "sku" and not SKU_RE.match(value):
        raise CellError(tr("“{value}” is not a SKU: letters, digits, . _ / - and no spaces").format(value=value))
    if key == "handle" and not HANDLE_RE.match(value):
        raise CellError(tr("“{value}” is not a handle: lower-case letters, digits and single dashes")
                        .format(value=value))
    if key == "barcode":
        if value and not value.isdigit():
            raise CellError(tr("“{value}” is not a barcode: digits only").format(value=value))
        return value or None
    return value


def column(key: str) -> Column:
    return COLUMN_BY_KEY[key]

