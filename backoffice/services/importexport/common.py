"""What reading, importing and exporting share: the column sets of the three formats, formula
neutralisation, category paths, problems, errors and progress."""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backoffice.models import Category
from backoffice.services.base import ServiceError, ValidationError

ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]

FORMATS = ("auto", "csv", "xlsx", "shopify")
EXPORT_FORMATS = ("csv", "xlsx", "shopify")

# -- limits ---------------------------------------------------------------------------------------------
DEFAULT_MAX_BYTES = 100 * 1024 * 1024          # refuse bigger import files (override: BACKOFFICE_IMPORT_MAX_MB)
XLSX_MAX_UNCOMPRESSED_FACTOR = 8               # an .xlsx may unpack to at most 8x the size limit ...
XLSX_MAX_RATIO = 100                           # ... and no part of it may be compressed more than 100:1
XLSX_RATIO_MIN_BYTES = 10 * 1024 * 1024        # (small parts compress well legitimately)
XLSX_MAX_ROWS = 1_048_576                      # Excel's sheet limit, header included


def default_max_bytes() -> int:
    env = os.environ.get("BACKOFFICE_IMPORT_MAX_MB", "").strip()
    if env:
        try:
            return max(1, int(float(env) * 1024 * 1024))
        except ValueError:
            pass
    return DEFAULT_MAX_BYTES


# -- columns --------------------------------------------------------------------------------------------
PRODUCT_COLUMNS = ("handle", "title", "description", "vendor", "product_type", "status", "category", "tags",
                   "seo_title", "seo_description")
VARIANT_COLUMNS = ("sku", "barcode", "price", "compare_at_price", "cost", "weight_grams", "variant_status")
# the row's versions as exported (variant, product): an import of a stale row sees conflicts, not overwrites
VERSION_COLUMNS = ("version", "product_version")
MONEY_COLUMNS = ("price", "compare_at_price", "cost")
# a bundle's components and pricing rule (see bundle_columns.py): written only when the store has bundles
BUNDLE_COLUMNS = ("bundle_components", "bundle_pricing", "bundle_amount", "bundle_percent_off")
OPTION_SLOTS = 3   # option1..option3 columns; more when the store has more attributes


def native_header(option_slots: int = OPTION_SLOTS, bundles: bool = False) -> list[str]:
    opts = [f"option{i}_{part}" for i in range(1, option_slots + 1) for part in ("name", "value")]
    return [*PRODUCT_COLUMNS, *VARIANT_COLUMNS, *opts, *VERSION_COLUMNS, *(BUNDLE_COLUMNS if bundles else ())]


# Shopify's product CSV: header -> our field (None: read but not imported).
SHOPIFY_FIELDS: dict[str, str | None] = {
    "Handle": "handle", "Title": "title", "Body (HTML)": "description", "Vendor": "vendor", "Type": "product_type",
    "Tags": "tags", "Status": "status", "SEO Title": "seo_title", "SEO Description": "seo_description",
    "Variant SKU": "sku", "Variant Barcode": "barcode", "Variant Price": "price",
    "Variant Compare At Price": "compare_at_price", "Cost per item": "cost", "Variant Grams": "weight_grams",
    "Published": "published",
    # columns Shopify's importer ignores: the versions the rows were exported at
    "Backoffice Version": "version", "Backoffice Product Version": "product_version",
}
SHOPIFY_HEADER = [
    "Handle", "Title", "Body (HTML)", "Vendor", "Product Category", "Type", "Tags", "Published",
    "Option1 Name", "Option1 Value", "Option2 Name", "Option2 Value", "Option3 Name", "Option3 Value",
    "Variant SKU", "Variant Grams", "Variant Inventory Tracker", "Variant Inventory Policy",
    "Variant Fulfillment Service", "Variant Price", "Variant Compare At Price", "Variant Requires Shipping",
    "Variant Taxable", "Variant Barcode", "Image Src", "Image Position", "Image Alt Text", "Gift Card",
    "SEO Title", "SEO Description", "Variant Image", "Variant Weight Unit", "Cost per item", "Status",
    "Backoffice Version", "Backoffice Product Version",
]
SHOPIFY_NO_OPTION = ("Title", "Default Title")   # how Shopify spells "this product has no options"
SHOPIFY_IMAGE_COLUMNS = ("Image Src", "Variant Image")


# -- formula neutralisation -----------------------------------------------------------------------------
# A text cell that a spreadsheet could take for a formula gets a leading single quote on export. Cells
# that already start with quotes followed by such a character get one more, so that the importer's
# "remove one quote" undoes exactly what the exporter did and nothing else.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_FIRST = frozenset("=+-@\t\r'")
NEEDS_QUOTE = re.compile(r"'*[=+\-@\t\r]")
_WAS_QUOTED = re.compile(r"'+[=+\-@\t\r]")


def neutralise(text: str) -> str:
    if text and text[0] in FORMULA_FIRST and NEEDS_QUOTE.match(text):
        return "'" + text
    return text


def unneutralise(text: str) -> str:
    if text and text[0] == "'" and _WAS_QUOTED.match(text):
        return text[1:]
    return text


# SQL twin of ``neutralise`` for exports PostgreSQL formats itself (ascii() first: cheap for most rows).
PG_NEUTRALISE = ("CASE WHEN ascii({x}) IN (61, 43, 45, 64, 9, 13, 39) AND {x} ~ '^''*[-=+@\\t\\r]' "
                 "THEN '''' || {x} ELSE {x} END")


# -- categories -----------------------------------------------------------------------------------------
CATEGORY_SEPARATOR = " > "


def category_paths(session: Session) -> dict[int, str]:
    """Every category as its path of names, "Apparel > Shirts"."""
    rows = session.execute(select(Category.id, Category.parent_id, Category.name)).all()
    parent = {cid: pid for cid, pid, _ in rows}
    name = {cid: n for cid, _, n in rows}
    out: dict[int, str] = {}

    def path(cid: int, depth: int = 0) -> str:
        if cid in out:
            return out[cid]
        pid = parent.get(cid)
        text = name[cid] if pid is None or pid not in name or depth > 100 else path(pid, depth + 1) + CATEGORY_SEPARATOR + name[cid]
        out[cid] = text
        return text

    for cid in name:
        path(cid)
    return out


def category_key(text: str) -> str:
    """The form in which category paths are compared: segments trimmed, case folded."""
    return ">".join(part.strip().casefold() for part in text.split(">"))


# -- problems and errors --------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an import: the row as numbered in the file (header = row 1; 0 for the file
    as a whole), the column as named in the file's header, and why."""

    row: int
    column: str
    message: str

    def label(self) -> str:
        where = " ".join(p for p in ((f"row {self.row}" if self.row else ""), self.column) if p)
        return f"{where}: {self.message}" if where else self.message

    def as_tuple(self) -> tuple[str, str, str]:
        return (f"row {self.row}" if self.row else "file", self.column, self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


class ImportFileError(ValidationError):
    """The file cannot be read as a product list at all (too big, a zip bomb, empty, not a table,
    required columns missing): one clear message, nothing was read into the store."""

    def __init__(self, message: str) -> None:
        super().__init__([("", "", message)])


class ImportRejected(ValidationError):
    """Some rows are bad. ``problems`` holds every one as (row label, column, message) and ``report``
    the full ImportReport; the message names the first few. Nothing was written."""

    SHOWN = 5

    def __init__(self, report: Any, name: str = "") -> None:
        self.report = report
        super().__init__([p.as_tuple() for p in report.problems])
        self.args = (rejection_message(report.problems, name, self.SHOWN, getattr(report, "problem_count", 0)),)

    def __str__(self) -> str:
        return str(self.args[0])


class ImportConflicts(ImportRejected):
    """Rows of the file are stale (someone changed them since it was exported or checked) and their
    cells differ from the store: nothing was written. ``report.conflicts`` lists them; import again
    choosing to skip those rows or to overwrite them."""

    def __init__(self, report: Any, name: str = "") -> None:
        self.report = report
        ValidationError.__init__(self, [(f"row {c.row}", c.column, c.label_text()) for c in report.conflicts])
        n, cells = report.conflict_rows, report.conflict_count
        first = "; ".join(c.label_text() for c in report.conflicts[:self.SHOWN])
        more = f"; and {cells - self.SHOWN} more" if cells > self.SHOWN else ""
        prefix = f"{name}: " if name else ""
        self.args = (f"{prefix}{n} row{'s' if n != 1 else ''} changed by someone else since the file was exported: "
                     f"{first}{more}; nothing was imported (choose to skip those rows or to overwrite them: "
                     "--on-conflict skip|overwrite)",)


def rejection_message(problems: list[Problem], name: str = "", shown: int = 5, total: int | None = None) -> str:
    n = max(len(problems), total or 0)
    first = "; ".join(p.label().replace("\n", " ") for p in problems[:shown])
    more = f"; and {n - shown} more" if n > shown else ""
    prefix = f"{name}: " if name else ""
    return f"{prefix}{n} problem{'s' if n != 1 else ''}: {first}{more}; nothing was imported"


class Cancelled(ServiceError):
    def __init__(self, what: str = "import") -> None:
        super().__init__(f"{what} cancelled; nothing was {'written' if what == 'import' else 'kept'}")


class Steps:
    """Progress as a fraction over weighted steps, and cancellation checks between pieces of work."""

    def __init__(self, progress: ProgressFn | None, cancel: CancelFn | None, what: str = "import") -> None:
        self.progress, self.cancel, self.what = progress, cancel, what
        self.start, self.span, self.text, self.last = 0.0, 0.0, "", -1.0

    def check(self) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled(self.what)

    def step(self, start: float, end: float, text: str) -> None:
        self.check()
        self.start, self.span, self.text = start, end - start, text
        self._report(start)

    def within(self, fraction: float) -> None:
        self.check()
        value = self.start + self.span * min(1.0, max(0.0, fraction))
        if value - self.last >= 0.01:
            self._report(value)

    def _report(self, value: float) -> None:
        self.last = value
        if self.progress is not None:
            self.progress(min(0.99, value), self.text)

    def done(self, text: str) -> None:
        if self.progress is not None:
            self.progress(1.0, text)


@contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector paused while hundreds of thousands of small objects are made (it
    would scan them over and over: about twice the time); reference counting still frees everything."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
