"""What a write changed, in terms a client can act on: which kinds of data, and which ids of each.

A write operation records a :class:`Changes` when it has committed; whoever ran it (the GUI's write
operation, a server route, the HTTP client reading a response) collects the changes of that call and
passes them on, so each open view reloads only what concerns it (Anki's ``OpChanges``). The value is
plain and serialises to JSON without loss, so a remote implementation sends it along with a result.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

# The kinds of data a write can change. A view names the kinds it shows; a change of another kind
# does not make it reload.
PRODUCTS = "products"            # product and variant fields (titles, status, tags, categories of products)
PRICES = "prices"                # prices, compare-at prices, costs
VARIANTS = "variants"            # variants created or removed, their options
ATTRIBUTES = "attributes"        # attributes, their values and pricing rules
IMAGES = "images"
STOCK = "stock"                  # on hand / reserved at locations (ids: location ids and variant ids)
THRESHOLDS = "thresholds"        # low-stock thresholds and reorder points
ALERTS = "alerts"
TRANSFERS = "transfers"
ADJUSTMENTS = "adjustments"
SUPPLIERS = "suppliers"          # suppliers and supplier items
PURCHASE_ORDERS = "purchase_orders"
CHANGESETS = "changesets"
LOCATIONS = "locations"
CATEGORIES = "categories"
REPORTS = "reports"              # saved reports, schedules and runs
USERS = "users"
SETTINGS = "settings"
ORDERS = "orders"                # orders, their reservations, shipments and returns
CUSTOMERS = "customers"
AUDIT = "audit"                  # every write is audited: recorded with every change

KINDS = frozenset({PRODUCTS, PRICES, VARIANTS, ATTRIBUTES, IMAGES, STOCK, THRESHOLDS, ALERTS, TRANSFERS,
                   ADJUSTMENTS, SUPPLIERS, PURCHASE_ORDERS, CHANGESETS, LOCATIONS, CATEGORIES, REPORTS, USERS,
                   SETTINGS, ORDERS, CUSTOMERS, AUDIT})


@dataclass(frozen=True)
class Changes:
    """Kinds of data changed, with the ids changed where they are known.

    ``ids`` maps an id space ("product", "variant", "location", "transfer", "purchase_order", …) to the
    ids written; an id space that is absent means "not known": a view must then reload all it shows of
    that kind. ``everything`` is for a write whose reach cannot be told (a whole import, a demo store).
    """

    kinds: frozenset[str] = frozenset()
    ids: dict[str, frozenset[int]] = field(default_factory=dict)
    everything: bool = False

    @classmethod
    def of(cls, *kinds: str, **ids: Iterable[int]) -> Changes:
        unknown = set(kinds) - KINDS
        if unknown:
            raise ValueError(f"unknown kind of change: {', '.join(sorted(unknown))}")
        return cls(frozenset(kinds) | {AUDIT}, {k: frozenset(int(i) for i in v) for k, v in ids.items()})

    @classmethod
    def all(cls) -> Changes:
        return cls(KINDS, {}, True)

    def __bool__(self) -> bool:
        return self.everything or bool(self.kinds)

    def __or__(self, other: Changes) -> Changes:
        shared = (self.kinds & other.kinds) - {AUDIT}
        if shared and (not self.ids or not other.ids):
            ids: dict[str, frozenset[int]] = {}      # one side did not say which rows: all of them may have
        else:
            ids = dict(self.ids)
            for space, values in other.ids.items():
                ids[space] = ids.get(space, frozenset()) | values
        return Changes(self.kinds | other.kinds, ids, self.everything or other.everything)

    def concerns(self, *kinds: str) -> bool:
        """True when any of ``kinds`` changed (or everything did)."""
        return self.everything or not self.kinds.isdisjoint(kinds)

    def ids_of(self, space: str) -> frozenset[int] | None:
        """The ids of ``space`` that changed, or None when not known (reload everything of it)."""
        if self.everything:
            return None
        return self.ids.get(space)

    def to_json(self) -> dict[str, Any]:
        return {"kinds": sorted(self.kinds), "ids": {k: sorted(v) for k, v in sorted(self.ids.items())},
                "everything": self.everything}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Changes:
        return cls(frozenset(data.get("kinds", ())), {k: frozenset(v) for k, v in data.get("ids", {}).items()},
                   bool(data.get("everything", False)))

    def __str__(self) -> str:
        if self.everything:
            return "everything"
        parts = []
        for kind in sorted(self.kinds - {AUDIT}):
            parts.append(kind)
        for space, values in sorted(self.ids.items()):
            parts.append(f"{space} {', '.join(map(str, sorted(values)[:5]))}{'…' if len(values) > 5 else ''}")
        return "; ".join(parts) or "nothing"


NOTHING = Changes()

_collector: contextvars.ContextVar[list[Changes] | None] = contextvars.ContextVar("backoffice_changes", default=None)


def record(changes: Changes) -> None:
    """Note that the running write changed this (no-op when nobody collects)."""
    bucket = _collector.get()
    if bucket is not None:
        bucket.append(changes)


@contextlib.contextmanager
def collecting() -> Iterator[list[Changes]]:
    """Collect what the writes run inside the block changed (per thread and task: contextvars)::

        with collecting() as changed:
            ops.transfers.ship(ref)
        merged = merge(changed)
    """
    bucket: list[Changes] = []
    token = _collector.set(bucket)
    try:
        yield bucket
    finally:
        _collector.reset(token)


def merge(changes: Iterable[Changes]) -> Changes:
    total = NOTHING
    for c in changes:
        total = total | c if total else c
    return total
