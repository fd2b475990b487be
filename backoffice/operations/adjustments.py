"""The adjustments area of the operations contract: correcting the books at a location with a reason,
and stock counts (start or resume, record what was counted, post the differences, cancel)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from backoffice.operations.base import Area
from backoffice.operations.changes import ADJUSTMENTS, STOCK, Changes
from backoffice.services import adjustments, stock_ui_queries
from backoffice.services.adjustments import ADJUSTMENT_REASONS, CountInfo, CountLineInfo, CountStateError
from backoffice.services.stock_ui_queries import OpenCount

__all__ = ["ADJUSTMENT_REASONS", "AdjustmentOperations", "CountInfo", "CountLineInfo", "CountStateError",
           "LevelAfter", "OpenCount", "StockPosted"]


@dataclass(frozen=True)
class LevelAfter:
    variant_id: int
    location_id: int
    on_hand: int


@dataclass(frozen=True)
class StockPosted:
    """What a post of stock moves did: ``applied`` is False when its operation id had been posted before
    (a retry): nothing moved this time, and ``levels`` are the figures now."""

    operation_id: str
    applied: bool
    levels: list[LevelAfter]


class AdjustmentOperations(Area):
    def adjust(self, location_id: int, changes: dict[int, int], *, reason: str, note: str = "",
               op_id: str | None = None) -> StockPosted:
        """Change on hand at one warehouse or store by ``changes`` (variant id -> +found / -missing units)
        with a reason (count, damage, loss, found)."""
        result = adjustments.adjust_stock(self._db, self._actor, location_id=location_id, changes=dict(changes),
                                          reason=reason, note=note, operation_id=op_id or uuid.uuid4().hex)
        self.changed(Changes.of(STOCK, ADJUSTMENTS, location=[location_id],
                                variant=[v for v, q in changes.items() if q]))
        return StockPosted(result.operation_id, result.applied,
                           [LevelAfter(v, loc, q) for (v, loc), q in sorted(result.levels.items())])

    # -- counts ------------------------------------------------------------------------------------------
    def open_counts(self, *, location_id: int | None = None, limit: int = 50) -> list[OpenCount]:
        """Counts not posted or cancelled yet, newest first."""
        return stock_ui_queries.open_counts(self._db, location_id=location_id, limit=limit)

    def get_count(self, count_id: int) -> CountInfo:
        return adjustments.get_count(self._db, count_id)

    def start_count(self, location_id: int, *, note: str = "", op_id: str | None = None) -> CountInfo:
        """A new open count at one warehouse or store."""
        info = adjustments.start_count(self._db, self._actor, location_id=location_id, note=note,
                                         operation_id=op_id)
        self.changed(Changes.of(ADJUSTMENTS, count=[info.id]))
        return info

    def record_counts(self, count_id: int, counted: dict[int, int], *, add: bool = False,
                      op_id: str | None = None) -> CountInfo:
        """Set (or with ``add``, increase: one scan = +1) the counted quantity of variants on an open count."""
        info = adjustments.record_counts(self._db, self._actor, count_id, dict(counted), add=add,
                                           operation_id=op_id)
        self.changed(Changes.of(ADJUSTMENTS, count=[count_id]))
        return info

    def post_count(self, count_id: int, *, op_id: str | None = None) -> CountInfo:
        """Post every difference between counted and on hand as one adjustment; the count is then posted."""
        info = adjustments.post_count(self._db, self._actor, count_id, operation_id=op_id or uuid.uuid4().hex)
        self.changed(Changes.of(STOCK, ADJUSTMENTS, location=[info.location_id], count=[count_id],
                                variant=[ln.variant_id for ln in info.differences]))
        return info

    def cancel_count(self, count_id: int, *, op_id: str | None = None) -> CountInfo:
        """Discard an open count; the stock is not changed."""
        info = adjustments.cancel_count(self._db, self._actor, count_id, operation_id=op_id)
        self.changed(Changes.of(ADJUSTMENTS, count=[count_id]))
        return info
