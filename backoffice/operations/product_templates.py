"""The product_templates area of the operations contract: saved templates new products start from,
creating a product from one (its variants and rendered texts, previewed first), and reverting a product
to how it was at a moment (previewed with its conflicts, written as one revertible changeset).

The revert lives here rather than in the changesets area: it reads the changesets *and* the audit of
one product, and it is reached from the same places (the Products view, ``backoffice products``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from backoffice.operations.base import Area
from backoffice.operations.changes import CHANGESETS, PRICES, PRODUCTS, SETTINGS, VARIANTS, Changes
from backoffice.services import product_revert, product_templates as service
from backoffice.services.product_revert import RevertConflict, RevertField, RevertPlan, RevertResult
from backoffice.services.product_templates import CreatedProduct, PlannedVariant, ProductPlan, ProductTemplateInfo

__all__ = ["CreatedProduct", "PlannedVariant", "ProductPlan", "ProductRef", "ProductTemplateInfo",
           "ProductTemplateOperations", "RevertConflict", "RevertField", "RevertPlan", "RevertResult"]


@dataclass(frozen=True)
class ProductRef:
    id: int
    handle: str
    title: str
    version: int


class ProductTemplateOperations(Area):
    # -- templates --------------------------------------------------------------------------------------
    def list(self) -> list[ProductTemplateInfo]:
        """Every product template, by name."""
        return service.list_templates(self._db)

    def get(self, name_or_id: str) -> ProductTemplateInfo:
        """One template by id or name (any case); NotFound names the templates there are."""
        return service.find_template(self._db, name_or_id)

    def save(self, values: dict[str, Any], *, template_id: int | None = None, expected_version: int | None = None,
             op_id: str | None = None) -> ProductTemplateInfo:
        """Create a template (no ``template_id``) or change the fields given; a bad field is a
        ValidationError naming it, a stale ``expected_version`` a ConflictError."""
        saved = service.save_template(self._db, self._actor, dict(values), template_id=template_id,
                                      expected_version=expected_version, operation_id=op_id)
        self.changed(Changes.of(SETTINGS))
        return saved

    def delete(self, template_id: int, *, expected_version: int | None = None, op_id: str | None = None) -> bool:
        """Delete a template (False when it was gone already); products made from it are left as they are."""
        gone = service.delete_template(self._db, self._actor, template_id, expected_version=expected_version,
                                       operation_id=op_id)
        self.changed(Changes.of(SETTINGS))
        return gone

    # -- a product from a template ----------------------------------------------------------------------
    def plan_product(self, template: str, *, title: str, handle: str | None = None,
                     overrides: dict[str, Any] | None = None) -> ProductPlan:
        """The product the template makes for ``title``: fields, rendered texts, variants and every problem
        (nothing written)."""
        return service.plan_product(self._db, template, title=title, handle=handle, overrides=overrides)

    def create_product(self, template: str, *, title: str, handle: str | None = None,
                       overrides: dict[str, Any] | None = None, op_id: str | None = None) -> CreatedProduct:
        """Create that product and its variants in one transaction; any problem refuses it all."""
        created = service.create_product(self._db, self._actor, template, title=title, handle=handle,
                                         overrides=overrides, operation_id=op_id)
        self.changed(Changes.of(PRODUCTS, VARIANTS, PRICES, product=[created.product_id], variant=created.variant_ids))
        return created

    # -- reverting a product to a moment ----------------------------------------------------------------
    def find_product(self, handle: str) -> ProductRef:
        """A product by its handle (NotFound otherwise)."""
        return ProductRef(*product_revert.find_product(self._db, handle))

    def plan_revert(self, product_id: int, at: dt.datetime) -> RevertPlan:
        """Every field of the product and its variants changed after ``at``: the value then and now, and
        what cannot be reverted (variants created or deleted since, values not on record)."""
        return product_revert.plan_revert_to(self._db, product_id, at)

    def apply_revert(self, product_id: int, at: dt.datetime, *, versions: dict[str, int] | None = None,
                     op_id: str | None = None) -> RevertResult:
        """Write the plan as one changeset (revertible); rows changed since ``versions`` were read are
        conflicts, left as they are."""
        result = product_revert.apply_revert_to(self._db, self._actor, product_id, at, versions=versions,
                                                operation_id=op_id)
        if result.changeset_id is not None:
            self.changed(Changes.of(CHANGESETS, PRODUCTS, PRICES, VARIANTS, product=[product_id]))
        return result
