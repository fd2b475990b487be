"""What a changeset is made of: the row changes a caller asks for, and what applying them gives back
(the rows written, and the conflicts: rows changed since the caller read them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backoffice.models import Product, SupplierItem, Variant
from backoffice.services.base import jsonable

EDITABLE = {
    "product": ("title", "handle", "description", "vendor", "product_type", "status", "category_id", "seo_title",
                "seo_description", "tags"),
    "variant": ("sku", "barcode", "title", "price", "compare_at_price", "cost", "weight_grams", "status"),
    "supplier_item": ("supplier_sku", "unit_cost", "min_order_qty", "pack_size", "lead_time_days"),
}
MODELS = {"product": Product, "variant": Variant, "supplier_item": SupplierItem}
LABEL = {"product": "handle", "variant": "sku", "supplier_item": "supplier_sku"}   # how a row is named


@dataclass(frozen=True)
class RowChange:
    entity: str                      # "product" or "variant"
    entity_id: int
    expected_version: int            # the version the caller read
    values: dict[str, Any]           # field -> new value
    original: dict[str, Any] = field(default_factory=dict)  # field -> value the caller read (for conflict reports)

    def to_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "entity_id": self.entity_id, "expected_version": self.expected_version,
                "values": jsonable(self.values), "original": jsonable(self.original)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RowChange:
        return cls(d["entity"], int(d["entity_id"]), int(d["expected_version"]), dict(d["values"]),
                   dict(d.get("original") or {}))


@dataclass(frozen=True)
class Conflict:
    entity: str
    entity_id: int
    label: str           # SKU or handle
    field: str
    original: Any        # what the caller read
    yours: Any           # what the caller wanted
    theirs: Any          # what is stored now
    current_version: int

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self.__dict__)


@dataclass
class ApplyResult:
    changeset_id: int | None
    applied_rows: int
    conflicts: list[Conflict]
    unchanged_rows: int = 0
    versions: dict[tuple[str, int], int] = field(default_factory=dict)  # new version per applied row

    def to_dict(self) -> dict[str, Any]:
        return {"changeset_id": self.changeset_id, "applied_rows": self.applied_rows,
                "unchanged_rows": self.unchanged_rows, "conflicts": [c.to_dict() for c in self.conflicts],
                "versions": [{"entity": entity, "id": entity_id, "version": version}
                             for (entity, entity_id), version in sorted(self.versions.items())]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ApplyResult:
        """The result from :meth:`to_dict` (what the store API sends)."""
        return cls(d.get("changeset_id"), int(d.get("applied_rows", 0)),
                   [Conflict(**c) for c in d.get("conflicts", ())], int(d.get("unchanged_rows", 0)),
                   {(str(v["entity"]), int(v["id"])): int(v["version"]) for v in d.get("versions", ())})



def enum_value(v: Any) -> Any:
    return v.value if hasattr(v, "value") else v
