"""The stock area of the operations contract: levels per variant and location (keyset pages and true
counts), one variant at every location, the ledger history, and the pickers of the stock screens
(locations, categories, on-hand figures beside a document's lines). Reads only: stock moves through the
transfers, adjustments and purchase-order areas."""

from __future__ import annotations

from typing import Any

from backoffice.operations.base import Area
from backoffice.services import inventory, stock_query, stock_ui_queries
from backoffice.services.stock_query import LedgerRow, StockFilter, StockRow
from backoffice.services.stock_ui_queries import CategoryChoice

__all__ = ["HISTORY_PAGE", "INTERNAL_KINDS", "CategoryChoice", "LedgerRow", "StockFilter", "StockOperations",
           "StockRow"]

INTERNAL_KINDS = ("warehouse", "store")   # the locations whose stock is listed, adjusted and counted
HISTORY_PAGE = 5_000                       # ledger rows read per page by :meth:`StockOperations.all_history`


class StockOperations(Area):
    # -- levels ------------------------------------------------------------------------------------------
    def levels(self, f: StockFilter = StockFilter(), *, after: tuple[int, int] | None = None,
               limit: int = 200) -> list[StockRow]:
        """The next page of (variant, location) levels matching ``f``, after the key ``after``."""
        return stock_query.stock_page(self._db, f, after=after, limit=limit)

    def count_levels(self, f: StockFilter = StockFilter()) -> int:
        """How many (variant, location) levels match ``f``: the true number."""
        return stock_query.stock_count(self._db, f)

    def availability(self, variant_id: int) -> list[StockRow]:
        """One variant at every warehouse and store."""
        return stock_query.availability(self._db, variant_id)

    def levels_at(self, location_id: int, variant_ids: list[int]) -> dict[int, tuple[int, int]]:
        """(on hand, reserved) of the variants at one location; (0, 0) where never stocked."""
        return stock_ui_queries.levels_at(self._db, location_id, list(variant_ids))

    # -- the ledger ---------------------------------------------------------------------------------------
    def history(self, *, variant_id: int | None = None, location_id: int | None = None,
                before_id: int | None = None, limit: int = 500) -> list[LedgerRow]:
        """Ledger rows newest first (keyset on the move id); quantities signed when a location is given."""
        return stock_query.stock_history(self._db, variant_id=variant_id, location_id=location_id,
                                         before_id=before_id, limit=limit)

    def all_history(self, variant_id: int, location_id: int | None = None) -> list[LedgerRow]:
        """Every ledger row of the variant (at the location), newest first: what an export writes."""
        out: list[LedgerRow] = []
        before: int | None = None
        while True:
            page = self.history(variant_id=variant_id, location_id=location_id, before_id=before, limit=HISTORY_PAGE)
            out.extend(page)
            if len(page) < HISTORY_PAGE:
                return out
            before = page[-1].move_id

    # -- pickers -----------------------------------------------------------------------------------------
    def locations(self, *, include_archived: bool = True) -> list[dict[str, Any]]:
        """Every location by code: id, code, name, kind, internal, active, version."""
        return inventory.list_locations(self._db, include_archived=include_archived)

    def location_by_code(self, code: str) -> dict[str, Any]:
        """The location with this code (any case): id, code, name, kind. NotFound names the known codes."""
        return stock_query.location_by_code(self._db, code)

    def category_choices(self) -> list[CategoryChoice]:
        """Every category in tree order with its depth and full label (the Inventory filter)."""
        return stock_ui_queries.category_choices(self._db)
