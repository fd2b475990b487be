"""The variants area of the operations contract: attributes and their ordered values, variant templates,
the combination generator, surcharge pricing and repricing, the price/stock matrix of a product, and
bulk changes of variant fields, low-stock thresholds and the image each variant shows.

A generation plan is read first and shown; generating plans again inside the write and refuses any
problem. Repricing, thresholds and images on many variants are previewed as counts, a sample and a
``stamp`` (the versions of the rows the preview would change, packed): the apply methods take the
products or the target again with that stamp, plan anew inside the write and report the rows changed
since the preview as conflicts, so a catalog-wide change never travels to the client and back. A change
of one plain variant field is a bulk operation (:meth:`VariantOperations.bulk_operation`) previewed and
applied by the bulk area (``ops.bulk``) the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from backoffice.operations.base import Area, NotFound
from backoffice.operations.bulk import changes_of_rows, pack_versions, unpack_versions
from backoffice.operations.changes import (
    ATTRIBUTES,
    CHANGESETS,
    IMAGES,
    PRICES,
    THRESHOLDS,
    VARIANTS,
    Changes,
)
from backoffice.services import variants as vs
from backoffice.services.base import Change
from backoffice.services.bulk import BulkOperation, Target
from backoffice.services.catalog_grid import VariantFilter
from backoffice.services.changesets import ApplyResult, Conflict
from backoffice.services.variants import (
    AttributeInfo,
    GenerationPlan,
    GenerationRequest,
    GenerationResult,
    Matrix,
    MatrixCell,
    Overview,
    ProductRow,
    RuleInfo,
    Surcharge,
    TemplateInfo,
    ValueInfo,
)
from backoffice.services.variants.image_assignment import ImageRow
from backoffice.services.variants.operations import BULK_FIELDS, ThresholdRow

__all__ = [
    "BULK_FIELDS", "ApplyResult", "AttributeInfo", "BulkOperation", "Change", "Conflict", "GenerationPlan",
    "GenerationRequest", "GenerationResult", "ImagePreview", "ImageRow", "Matrix", "MatrixCell", "MatrixPrice",
    "Overview", "ProductRow", "RepricePreview", "RuleInfo", "Surcharge", "Target", "TemplateInfo", "ThresholdPreview",
    "ThresholdRow", "ValueInfo", "VariantFilter", "VariantOperations",
]


SAMPLE = 200   # rows of a preview shown


@dataclass(frozen=True)
class RepricePreview:
    """What repricing ``product_ids`` by the surcharge rules would change: ``affected`` of ``considered``
    variants, the first 200 as (SKU, now, new, how: "20.00 +2.00 +15 %"); variants keeping their own
    price and archived ones passed by; products without a base price (handles); ``invalid`` rows (they
    block the apply); ``stamp`` what :meth:`VariantOperations.apply_reprice` checks the rows against."""

    product_ids: tuple[int, ...]
    considered: int
    affected: int
    sample: list[tuple[str, Decimal, Decimal, str]]
    skipped_overrides: int
    skipped_archived: int
    products_without_base: list[str]
    invalid: list[tuple[str, str, str]]
    stamp: str = ""


@dataclass(frozen=True)
class ThresholdPreview:
    """What setting a low-stock threshold would change: ``affected`` stock levels (a variant at a
    location) of ``considered`` variants, the first of them in ``sample``, and the ``stamp`` that
    :meth:`VariantOperations.apply_thresholds` checks them against ("" when nothing changes)."""

    target: Target
    threshold: int | None
    location_ids: tuple[int, ...]
    considered: int
    affected: int
    sample: list[ThresholdRow]
    stamp: str = ""


@dataclass(frozen=True)
class ImagePreview:
    """What showing the image matching ``match`` would change: ``affected`` of ``considered`` variants,
    the first of them in ``sample``; ``invalid`` the variants whose product has no such image (they block
    the apply); ``stamp`` what :meth:`VariantOperations.apply_image_assignment` checks the rows against."""

    target: Target
    match: str
    considered: int
    affected: int
    sample: list[ImageRow]
    invalid: list[tuple[str, str, str]]
    stamp: str = ""


@dataclass(frozen=True)
class MatrixPrice:
    """A price typed into one cell of the matrix (every variant of the cell gets it)."""

    row: str
    column: str
    price: Decimal


class VariantOperations(Area):
    # -- reads -------------------------------------------------------------------------------------------
    def overview(self) -> Overview:
        """Attributes (archived ones too), templates and store-wide surcharge rules, in one read."""
        return vs.overview(self._db)

    def find_products(self, text: str = "", *, limit: int = 200) -> list[ProductRow]:
        """Products whose title or handle contains ``text``, by title (a picker: at most ``limit``)."""
        return vs.find_products(self._db, text, limit=limit)

    def resolve_products(self, refs: list[str]) -> list[int]:
        """The ids of the products named by handle (or id); NotFound naming every unknown one."""
        ids, unknown = vs.queries.resolve_products(self._db, list(refs))
        if unknown:
            raise NotFound(f"unknown product: {', '.join(unknown)}")
        return ids

    def products_with_base_price(self) -> list[int]:
        return vs.queries.products_with_base_price(self._db)

    def variant_ids_by_sku(self, skus: list[str]) -> dict[str, int]:
        """{SKU: variant id} of the SKUs that exist."""
        return vs.queries.variant_ids_by_sku(self._db, list(skus))

    def attributes(self, *, include_archived: bool = True) -> list[AttributeInfo]:
        return vs.list_attributes(self._db, include_archived=include_archived)

    def attribute(self, code: str) -> AttributeInfo:
        found = next((a for a in vs.list_attributes(self._db) if a.code == code), None)
        if found is None:
            raise NotFound(f"unknown attribute: {code}")
        return found

    def templates(self) -> list[TemplateInfo]:
        return vs.list_templates(self._db)

    def rules(self, *, product_id: int | None = None) -> list[RuleInfo]:
        """Store-wide surcharge rules, and with ``product_id`` that product's own rules too."""
        return vs.list_rules(self._db, product_id=product_id)

    def matrix(self, product_id: int, row_attribute: str = "", column_attribute: str = "") -> Matrix:
        """One product's variants laid out by two attributes: price(s) and total stock per cell."""
        return vs.matrix(self._db, product_id, row_attribute, column_attribute)

    def option_filter(self, options: dict[str, str], base: VariantFilter | None = None) -> VariantFilter:
        """``base`` narrowed to the variants carrying these values ({"size": "XL"})."""
        return vs.option_filter(self._db, dict(options), base or VariantFilter())

    # -- attributes and values ---------------------------------------------------------------------------
    def create_attribute(self, code: str, *, name: str = "", values: list[str] = (),  # type: ignore[assignment]
                         op_id: str | None = None) -> Change:
        return self._write(lambda: vs.create_attribute(self._db, self._actor, code=code, name=name,
                                                       values=list(values), operation_id=op_id), self._attribute_changes)

    def rename_attribute(self, attribute_id: int, name: str, *, expected_version: int | None = None,
                         op_id: str | None = None) -> Change:
        return self._write(lambda: vs.rename_attribute(self._db, self._actor, attribute_id, name=name,
                                                       expected_version=expected_version, operation_id=op_id),
                           Changes.of(ATTRIBUTES, VARIANTS, attribute=[attribute_id]))

    def add_values(self, attribute_id: int, values: list[str], *, op_id: str | None = None) -> Change:
        """Append values at the end of the attribute's order (an archived one of the same name comes back)."""
        return self._write(lambda: vs.add_values(self._db, self._actor, attribute_id, list(values), operation_id=op_id),
                           Changes.of(ATTRIBUTES, attribute=[attribute_id]))

    def rename_value(self, value_id: int, value: str, *, expected_version: int | None = None,
                     op_id: str | None = None) -> Change:
        return self._write(lambda: vs.rename_value(self._db, self._actor, value_id, value=value,
                                                   expected_version=expected_version, operation_id=op_id),
                           Changes.of(ATTRIBUTES, VARIANTS))

    def reorder_values(self, attribute_id: int, value_ids: list[int], *, expected_version: int | None = None,
                       op_id: str | None = None) -> Change:
        """Put the attribute's values in the order of ``value_ids`` (every value, once)."""
        return self._write(lambda: vs.reorder_values(self._db, self._actor, attribute_id, list(value_ids),
                                                     expected_version=expected_version, operation_id=op_id),
                           Changes.of(ATTRIBUTES, attribute=[attribute_id]))

    def remove_value(self, value_id: int, *, expected_version: int | None = None, op_id: str | None = None) -> Change:
        """Delete a value nothing uses; archive one that variants carry (``Change.action`` says which)."""
        return self._write(lambda: vs.remove_value(self._db, self._actor, value_id, expected_version=expected_version,
                                                   operation_id=op_id), Changes.of(ATTRIBUTES))

    def remove_attribute(self, attribute_id: int, *, expected_version: int | None = None,
                         op_id: str | None = None) -> Change:
        """Delete an attribute no variant uses (with its values); archive one in use."""
        return self._write(lambda: vs.remove_attribute(self._db, self._actor, attribute_id,
                                                       expected_version=expected_version, operation_id=op_id),
                           Changes.of(ATTRIBUTES, attribute=[attribute_id]))

    def restore_attribute(self, attribute_id: int, *, op_id: str | None = None) -> Change:
        return self._write(lambda: vs.restore_attribute(self._db, self._actor, attribute_id, operation_id=op_id),
                           Changes.of(ATTRIBUTES, attribute=[attribute_id]))

    @staticmethod
    def _attribute_changes(change: Change) -> Changes:
        return Changes.of(ATTRIBUTES, attribute=[change.entity_id])

    # -- templates ---------------------------------------------------------------------------------------
    def save_template(self, name: str, options: dict[str, list[str]], *, exclusions: list[dict[str, str]] = (),  # type: ignore[assignment]
                      sku_pattern: str = "", description: str = "", template_id: int | None = None,
                      expected_version: int | None = None, op_id: str | None = None) -> Change:
        """Create a template (no ``template_id``) or replace one's contents (version-checked)."""
        return self._write(lambda: vs.save_template(
            self._db, self._actor, name=name, options=dict(options), exclusions=list(exclusions),
            sku_pattern=sku_pattern, description=description, template_id=template_id,
            expected_version=expected_version, operation_id=op_id), Changes.of(ATTRIBUTES))

    def delete_template(self, template_id: int, *, op_id: str | None = None) -> Change:
        return self._write(lambda: vs.delete_template(self._db, self._actor, template_id, operation_id=op_id),
                           Changes.of(ATTRIBUTES))

    # -- the generator -----------------------------------------------------------------------------------
    def plan_generation(self, request: GenerationRequest) -> GenerationPlan:
        """What ``generate`` would create (and with ``prune`` archive or delete), every problem listed."""
        return vs.plan_generation(self._db, request)

    def generate(self, request: GenerationRequest, *, description: str = "", op_id: str | None = None) -> GenerationResult:
        """Create the missing combinations as one changeset; any problem refuses the whole run."""
        return self._write(lambda: vs.generate(self._db, self._actor, request, operation_id=op_id,
                                               description=description),
                           Changes.of(VARIANTS, PRICES, CHANGESETS, product=request.product_ids))

    # -- pricing -----------------------------------------------------------------------------------------
    def set_rule(self, attribute: str, value: str, kind: str, amount: Decimal | str, *, product_id: int | None = None,
                 op_id: str | None = None) -> Change:
        """Create or replace the surcharge ("amount" or "percent") of one attribute value, store-wide or for
        one product."""
        return self._write(lambda: vs.set_rule(self._db, self._actor, attribute=attribute, value=value, kind=kind,
                                               amount=amount, product_id=product_id, operation_id=op_id),
                           Changes.of(ATTRIBUTES))

    def delete_rule(self, rule_id: int, *, op_id: str | None = None) -> Change:
        return self._write(lambda: vs.delete_rule(self._db, self._actor, rule_id, operation_id=op_id),
                           Changes.of(ATTRIBUTES))

    def set_base_price(self, product_id: int, base_price: Decimal | str | None, *, op_id: str | None = None) -> Change:
        """The price the product's variants start from (None removes it)."""
        return self._write(lambda: vs.set_base_price(self._db, self._actor, product_id, base_price, operation_id=op_id),
                           Changes.of(PRICES, product=[product_id]))

    def set_price_override(self, variant_ids: list[int], override: bool, *, op_id: str | None = None) -> Change:
        """Mark variants as keeping their own price when repricing (or as priced by the rules again)."""
        return self._write(lambda: vs.set_price_override(self._db, self._actor, list(variant_ids), override,
                                                         operation_id=op_id),
                           Changes.of(PRICES, variant=variant_ids))

    def preview_reprice(self, product_ids: list[int]) -> RepricePreview:
        """Every price change the rules make on the products' variants, summed up; nothing written."""
        plan = vs.plan_reprice(self._db, list(product_ids))
        return RepricePreview(tuple(sorted(set(product_ids))), plan.considered, plan.affected, plan.sample,
                              plan.skipped_overrides, plan.skipped_archived, plan.products_without_base, plan.invalid,
                              pack_versions(plan.versions) if plan.changes and not plan.invalid else "")

    def apply_reprice(self, product_ids: list[int], *, stamp: str = "", description: str = "",
                      op_id: str | None = None) -> ApplyResult:
        """Reprice the products' variants as one revertible changeset (invalid rows refuse it). With the
        ``stamp`` of the preview the user saw, only the variants it showed are written; those changed
        since are ``conflicts``."""
        previewed = unpack_versions(stamp) if stamp else None
        return self._write(lambda: vs.apply_reprice_to(self._db, self._actor, list(product_ids), previewed=previewed,
                                                       description=description, operation_id=op_id),
                           lambda result: changes_of_rows(result, PRICES))

    # -- the matrix ----------------------------------------------------------------------------------------
    def save_matrix_prices(self, grid: Matrix, prices: list[MatrixPrice], *, keep_prices: bool = True,
                           op_id: str | None = None) -> ApplyResult:
        """Set the price of every variant in the given cells (versions as read in ``grid``) as one changeset;
        with ``keep_prices`` they keep that price when the product is repriced by rules."""
        by_cell = {(p.row, p.column): p.price for p in prices}
        ids = sorted({vid for p in prices for cell in [grid.cell(p.row, p.column)] if cell for vid in cell.variant_ids})
        return self._write(lambda: vs.set_matrix_prices(self._db, self._actor, grid.product_id, by_cell, grid,
                                                        mark_override=keep_prices, operation_id=op_id),
                           Changes.of(PRICES, CHANGESETS, variant=ids, product=[grid.product_id]))

    # -- bulk: variant fields, thresholds, images ---------------------------------------------------------
    @staticmethod
    def bulk_operation(field_name: str, value: Any = None) -> BulkOperation:
        """The bulk operation that sets one variant field (price, compare_at_price, cost, weight_grams,
        status; enable / disable take no value) to ``value``: previewed and applied with ``ops.bulk``."""
        return vs.bulk_operation(field_name, value)

    def preview_thresholds(self, target: Target, threshold: int | None,
                           location_ids: list[int] | None = None) -> ThresholdPreview:
        """The low-stock threshold (None: back to the defaults) of the target variants at the given
        locations (every active internal one when None): how many stock levels change, the first of them,
        and the stamp :meth:`apply_thresholds` checks them against."""
        plan = vs.plan_thresholds(self._db, target, threshold, location_ids)
        return ThresholdPreview(target, threshold, tuple(location_ids or ()), plan.considered, plan.affected,
                                plan.rows[:SAMPLE], pack_versions(plan.versions) if plan.rows else "")

    def apply_thresholds(self, target: Target, threshold: int | None, location_ids: list[int] | None = None, *,
                         stamp: str = "", description: str = "", op_id: str | None = None) -> ApplyResult:
        """Set the threshold as one changeset of kind "threshold". With the ``stamp`` of the preview the
        user saw, only the levels it showed are written; those changed since are ``conflicts``."""
        previewed = unpack_versions(stamp) if stamp else None
        variants = sorted({vid for _, vid in previewed}) if previewed else None
        return self._write(lambda: vs.apply_thresholds_to(self._db, self._actor, target, threshold, location_ids,
                                                          previewed=previewed, description=description,
                                                          operation_id=op_id),
                           Changes.of(THRESHOLDS, CHANGESETS, **({"variant": variants} if variants else {})))

    def preview_image_assignment(self, target: Target, match: str | None) -> ImagePreview:
        """Per target variant, the first image of its product's gallery whose file name contains ``match``
        (no text: back to the product's main image): how many variants change, the first of them, the
        variants without such an image (they block the apply) and the stamp of the preview."""
        plan = vs.plan_image_assignment(self._db, target, match)
        return ImagePreview(target, plan.match, plan.considered, plan.affected, plan.rows[:SAMPLE], plan.invalid,
                            pack_versions(plan.versions) if plan.rows and not plan.invalid else "")

    def apply_image_assignment(self, target: Target, match: str | None, *, stamp: str = "", description: str = "",
                               op_id: str | None = None) -> ApplyResult:
        """Show the matching images as one revertible changeset of kind "image". With the ``stamp`` of the
        preview the user saw, only the variants it showed are written; those changed since are
        ``conflicts``."""
        previewed = unpack_versions(stamp) if stamp else None
        variants = sorted({vid for _, vid in previewed}) if previewed else None
        return self._write(lambda: vs.apply_image_assignment_to(self._db, self._actor, target, match,
                                                                previewed=previewed, description=description,
                                                                operation_id=op_id),
                           Changes.of(IMAGES, CHANGESETS, **({"variant": variants} if variants else {})))
