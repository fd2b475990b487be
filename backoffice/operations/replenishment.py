"""The replenishment area of the operations contract: reorder points that explain themselves, the
suggestions they make, and the draft purchase orders made from them.

Saving the settings notes SETTINGS; a buyer's levels set by hand note THRESHOLDS for the variant at the
location; drafts made from suggestions note PURCHASE_ORDERS with the orders' ids.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from backoffice.operations.base import Area
from backoffice.operations.changes import PURCHASE_ORDERS, SETTINGS, THRESHOLDS, Changes
from backoffice.services import purchase_orders, replenishment
from backoffice.services.replenishment import (
    DraftsPlan,
    DraftsResult,
    ReplenishmentSettings,
    Suggestion,
    SupplierTotal,
    currency_totals,
    plan_drafts,
    supplier_totals,
)

__all__ = ["DraftsPlan", "DraftsResult", "Levels", "ReplenishmentOperations", "ReplenishmentSettings", "SavedSettings",
           "Suggestion", "SupplierTotal", "currency_totals", "plan_drafts", "supplier_totals"]


@dataclass(frozen=True)
class SavedSettings:
    settings: ReplenishmentSettings
    replayed: bool = False      # saved before with the same operation id: what was saved then


@dataclass(frozen=True)
class Levels:
    """A variant's reorder point and order-up-to level set by hand at a location (None: computed)."""

    variant_id: int
    location_id: int
    reorder_point: int | None
    order_up_to: int | None
    replayed: bool = False


class ReplenishmentOperations(Area):
    def suggest(self, *, location_id: int | None = None, as_of: dt.date | None = None,
                settings: ReplenishmentSettings | None = None) -> list[Suggestion]:
        """What to reorder at each warehouse and store (or ``location_id``) and why, as of today (or
        ``as_of``), with the saved settings (or ``settings``, to try others)."""
        return replenishment.suggest(self._db, location_id=location_id, as_of=as_of, settings=settings)

    def settings(self) -> ReplenishmentSettings:
        return replenishment.get_settings(self._db)

    def save_settings(self, settings: ReplenishmentSettings, *, op_id: str | None = None) -> SavedSettings:
        """Store how reorder points are computed; every problem is reported at once."""
        replayed = purchase_orders.operation_applied(self._db, op_id)
        saved = replenishment.save_settings(self._db, self._actor, settings, operation_id=op_id)
        self.changed(Changes.of(SETTINGS))
        return SavedSettings(saved, replayed)

    def set_levels(self, *, variant_id: int, location_id: int, reorder_point: int | None, order_up_to: int | None,
                   op_id: str | None = None) -> Levels:
        """A buyer's reorder point and order-up-to level for a variant at a location (None: computed)."""
        done = replenishment.set_overrides(self._db, self._actor, variant_id=variant_id, location_id=location_id,
                                           reorder_point=reorder_point, order_up_to=order_up_to, operation_id=op_id)
        self.changed(Changes.of(THRESHOLDS, variant=[variant_id], location=[location_id]))
        return Levels(done["variant_id"], done["location_id"], done["reorder_point"], done["order_up_to"],
                      bool(done.get("replayed")))

    def create_drafts(self, *, keys: list[tuple[int, int]] | None = None, location_id: int | None = None,
                      as_of: dt.date | None = None, op_id: str | None = None) -> DraftsResult:
        """The suggestions ``keys`` ((variant id, location id); None: every orderable one) added to draft
        purchase orders, one per supplier and destination; computed again inside the write, so a need
        already on order is never ordered twice."""
        result = replenishment.create_drafts(self._db, self._actor, keys=None if keys is None else list(keys),
                                             location_id=location_id, as_of=as_of, operation_id=op_id)
        self.changed(Changes.of(PURCHASE_ORDERS, purchase_order=[o["id"] for o in result.orders]))
        return result
