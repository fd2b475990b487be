"""The bundles area of the operations contract: fixed bundles (a SKU made of component SKUs, priced by a
rule, its availability derived from its components per location) and mix-and-match rules (any N items of
a set for a price or a percentage off). Bundle writes note PRODUCTS and PRICES with the bundle's variant id."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from backoffice.operations.base import Area
from backoffice.operations.changes import PRICES, PRODUCTS, VARIANTS, Changes
from backoffice.services import bundles
from backoffice.services.bundles import BundleRow, ComponentRow, ComponentSpec, Quote, RuleRow

__all__ = ["Availability", "BundleOperations", "BundleRow", "ComponentRow", "ComponentSpec", "Quote", "RuleRow"]


@dataclass(frozen=True)
class Availability:
    sku: str
    components: list[ComponentRow]
    by_location: dict[str, int]    # location code -> bundles sellable there

    @property
    def total(self) -> int:
        return sum(self.by_location.values())


class BundleOperations(Area):
    # -- reads -------------------------------------------------------------------------------------------------
    def list(self, *, text: str = "") -> list[BundleRow]:
        """Every bundle by SKU with its price, component cost, margin and availability per location."""
        return bundles.list_bundles(self._db, text=text)

    def get(self, sku: str) -> BundleRow:
        """One bundle by its SKU (NotFound when the SKU is not a bundle)."""
        return bundles.get_bundle(self._db, sku)

    def availability(self, sku: str) -> Availability:
        """What each selling location can sell of the bundle: min over components of available ÷ quantity."""
        row = bundles.get_bundle(self._db, sku)
        return Availability(row.sku, row.components, row.available)

    def rules(self) -> list[RuleRow]:
        """Mix-and-match rules by name."""
        return bundles.list_rules(self._db)

    def quote(self, rule: str, skus: list[str]) -> Quote:
        """The price of a basket (SKUs, one per unit) under the rule named ``rule``."""
        return bundles.quote(self._db, rule, list(skus))

    # -- writes ------------------------------------------------------------------------------------------------
    def save(self, sku: str, *, pricing: str, amount: Decimal | str = "0", percent_off: Decimal | str = "0",
             components: list[ComponentSpec] | None = None, title: str = "", expected_version: int | None = None,
             op_id: str | None = None) -> BundleRow:
        """Create the bundle ``sku`` (a new SKU becomes a draft product) or change its pricing and, when
        given, its components; the variant's price follows the rule."""
        row = bundles.save_bundle(self._db, self._actor, sku=sku, title=title, pricing=pricing, amount=amount,
                                  percent_off=percent_off, components=components,
                                  expected_version=expected_version, operation_id=op_id)
        self.changed(Changes.of(PRODUCTS, PRICES, VARIANTS, variant=[row.variant_id], product=[row.product_id]))
        return row

    def set_components(self, bundle_id: int, components: list[ComponentSpec], *, expected_version: int | None = None,
                       op_id: str | None = None) -> BundleRow:
        """Replace the bundle's components."""
        row = bundles.set_components(self._db, self._actor, bundle_id, components,
                                     expected_version=expected_version, operation_id=op_id)
        self.changed(Changes.of(PRODUCTS, PRICES, variant=[row.variant_id], product=[row.product_id]))
        return row

    def delete(self, bundle_id: int, *, expected_version: int | None = None, op_id: str | None = None) -> int:
        """Remove the bundle's rule and components (its variant stays an ordinary product); the variant id."""
        variant_id = bundles.delete_bundle(self._db, self._actor, bundle_id, expected_version=expected_version,
                                           operation_id=op_id)
        self.changed(Changes.of(PRODUCTS, variant=[variant_id]))
        return variant_id

    def save_rule(self, *, name: str, quantity: int, kind: str, amount: Decimal | str,
                  product_ids: list[int] | None = None, category_ids: list[int] | None = None, active: bool = True,
                  rule_id: int | None = None, expected_version: int | None = None, op_id: str | None = None) -> RuleRow:
        """Create (no ``rule_id``) or change a mix-and-match rule."""
        row = bundles.save_rule(self._db, self._actor, name=name, quantity=quantity, kind=kind, amount=amount,
                                product_ids=list(product_ids or []), category_ids=list(category_ids or []),
                                active=active, rule_id=rule_id, expected_version=expected_version, operation_id=op_id)
        self.changed(Changes.of(PRICES))
        return row

    def delete_rule(self, rule_id: int, *, op_id: str | None = None) -> None:
        bundles.delete_rule(self._db, self._actor, rule_id, operation_id=op_id)
        self.changed(Changes.of(PRICES))
