"""The data of an import plan: the report the user sees, and the rows the import will write."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backoffice.services.changesets import RowChange
from backoffice.services.importexport.common import Problem


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

    @property
    def ok(self) -> bool:
        return not self.problems

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
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {k: ([p.to_dict() for p in v] if k == "problems" else v) for k, v in self.__dict__.items()}


@dataclass
class NewProduct:
    handle: str
    values: dict[str, Any]
    tags: list[str]


@dataclass(slots=True)
class NewVariant:
    handle: str
    product_id: int | None           # an existing product, or None: the new product with this handle
    row: int                         # index into the plan's columns
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
    skus: list[str] = field(default_factory=list)                          # per row of the file
    values: dict[str, list[Any]] = field(default_factory=dict)             # variant field -> value per row
    options: list[Any] = field(default_factory=list)                       # per row: [(name, value, column)]
    locked_variants: dict[int, dict[str, Any]] | None = None   # changed variants as read locked (see Planner)
