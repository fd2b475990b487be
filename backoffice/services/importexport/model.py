"""The data of an import plan: the report the user sees, and the rows the import will write."""

from __future__ import annotations

import base64
import zlib
from array import array
from dataclasses import dataclass, field
from typing import Any

from backoffice.services.changesets import RowChange
from backoffice.services.importexport.common import Problem


ON_CONFLICT = ("refuse", "skip", "overwrite")
MAX_KEPT_PROBLEMS = 10_000    # problems (and conflicts) listed one by one; the counts include the rest
MAX_KEPT_CONFLICTS = 10_000


@dataclass
class ImportConflict:
    """A cell of a stale row (its version is older than the store's, or it was changed since the given
    time) that differs from what the store holds now: someone else changed the row since the file was
    exported. ``changed_by``/``changed_at``: the last change to the row, where the history knows it."""

    row: int
    column: str
    entity: str            # "variant" or "product"
    label: str             # SKU or handle
    field: str
    file_value: Any
    current_value: Any
    file_version: int | None
    current_version: int
    changed_by: str | None = None
    changed_at: str | None = None

    def label_text(self) -> str:
        who = ""
        if self.changed_by or self.changed_at:
            who = " (changed" + (f" by {self.changed_by}" if self.changed_by else "") + (
                f" at {self.changed_at}" if self.changed_at else "") + ")"
        return (f"row {self.row} {self.column}: {self.entity} {self.label} has {_show(self.current_value)} in the "
                f"store now{who}; the file has {_show(self.file_value)}")

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if k in ("file_value", "current_value") and v is not None and not isinstance(v, str | int)
                    else v) for k, v in self.__dict__.items()}


def _show(v: Any) -> str:
    if v is None or v == "" or v == []:
        return "nothing"
    if isinstance(v, list):
        return repr(", ".join(map(str, v)))
    return repr(str(v)) if isinstance(v, str) else str(v)


class Baseline:
    """The store as a dry run saw it: each data row's variant version (0: not in the store) and each
    product's version. An import given the baseline treats rows changed since as stale, exactly as if
    the file carried those versions: an import checked against the same state as another one sees the
    other's changes as conflicts."""

    def __init__(self, rows: int, signature: str = "") -> None:
        self.variants = array("q", bytes(8 * rows))
        self.products: dict[str, int] = {}
        self.rows = rows
        self.signature = signature    # of the file the dry run read (see reading.file_signature)

    def to_json(self) -> dict[str, Any]:
        """As JSON (the variant versions packed: 8 bytes a row, compressed), for a client of a remote store."""
        packed = zlib.compress(self.variants.tobytes(), 6)
        return {"rows": self.rows, "signature": self.signature, "products": dict(self.products),
                "variants": base64.b64encode(packed).decode("ascii")}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Baseline:
        baseline = cls(0, str(data.get("signature", "")))
        baseline.rows = int(data["rows"])
        baseline.variants = array("q", zlib.decompress(base64.b64decode(data["variants"])))
        baseline.products = {str(k): int(v) for k, v in data.get("products", {}).items()}
        if len(baseline.variants) != baseline.rows:
            raise ValueError("not a dry run's baseline")
        return baseline


@dataclass
class ImportReport:
    """What an import would do, or why it cannot: counts, and every problem with its row and column."""

    file: str
    format: str
    container: str
    rows: int
    new_products: int = 0
    new_variants: int = 0
    updated_products: int = 0
    updated_variants: int = 0
    unchanged_variants: int = 0
    skipped_rows: int = 0                      # Shopify image-only rows
    new_attributes: list[str] = field(default_factory=list)
    new_attribute_values: list[str] = field(default_factory=list)   # "Size: XXL"
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problem_count: int = 0                     # every problem; ``problems`` lists the first MAX_KEPT_PROBLEMS
    conflicts: list[ImportConflict] = field(default_factory=list)   # the first MAX_KEPT_CONFLICTS
    conflict_count: int = 0                    # conflicting cells
    conflict_rows: int = 0                     # rows with a conflicting cell (skipped unless overwritten)
    changed_since_rows: int = 0                # rows the file names that someone changed since the baseline
    on_conflict: str = "refuse"
    baseline: Baseline | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.problems and not (self.conflict_rows and self.on_conflict == "refuse")

    @property
    def changed_rows(self) -> int:
        return self.new_products + self.new_variants + self.updated_products + self.updated_variants

    def counts(self) -> str:
        def n(count: int, what: str) -> str:
            return f"{count:,} {what}{'s' if count != 1 else ''}"

        parts = [n(self.new_products, "new product"), n(self.new_variants, "new variant"),
                 n(self.updated_products, "updated product"), n(self.updated_variants, "updated variant"),
                 f"{self.unchanged_variants:,} unchanged"]
        if self.new_attributes:
            parts.append(n(len(self.new_attributes), "new option name"))
        if self.new_attribute_values:
            parts.append(n(len(self.new_attribute_values), "new option value"))
        if self.conflict_rows:
            what = {"refuse": "refused", "skip": "skipped", "overwrite": "overwritten"}[self.on_conflict]
            parts.append(n(self.conflict_rows, "conflicting row") + f" ({what})")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {k: ([p.to_dict() for p in v] if k in ("problems", "conflicts") else v)
                for k, v in self.__dict__.items() if k != "baseline"}


@dataclass
class NewProduct:
    handle: str
    values: dict[str, Any]
    tags: list[str]


@dataclass(slots=True)
class NewVariant:
    handle: str
    product_id: int | None           # an existing product, or None: the new product with this handle
    values: tuple                    # (sku, barcode, price, compare_at_price, cost, weight_grams, status, title)
    options: list[tuple[Any, Any]]   # (attribute key, value key), see _Attributes
    position: int = 0


@dataclass
class Plan:
    report: ImportReport
    new_products: list[NewProduct] = field(default_factory=list)
    new_variants: list[NewVariant] = field(default_factory=list)
    changes: list[RowChange] = field(default_factory=list)
    new_attributes: dict[str, str] = field(default_factory=dict)          # code -> name
    new_values: dict[tuple[Any, str], None] = field(default_factory=dict)  # (attribute key, value), in order
    locked_variants: dict[int, dict[str, Any]] | None = None   # changed variants as read locked (see Planner)
