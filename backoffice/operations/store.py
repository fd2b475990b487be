"""The store area of the operations contract: setting a store up. Locations (warehouses, stores and the
external places stock comes from and goes to) and the category tree.

Rows are plain dicts as the services list them; writes return the service's :class:`Change` (what was
written, before and after) and note LOCATIONS or CATEGORIES with the ids written.
"""

from __future__ import annotations

from typing import Any

from backoffice.operations.base import Area
from backoffice.operations.changes import CATEGORIES, LOCATIONS, Changes
from backoffice.services import catalog, inventory, stock_query
from backoffice.services.base import Change, new_operation_id

__all__ = ["LOCATION_KINDS", "Change", "StoreOperations", "new_operation_id"]

LOCATION_KINDS = ("warehouse", "store", "supplier", "customer", "adjustment", "transit")


def _location_written(change: Change) -> Changes:
    return Changes.of(LOCATIONS, location=[change.entity_id])


def _category_written(change: Change) -> Changes:
    return Changes.of(CATEGORIES, category=[change.entity_id, *(c.entity_id for c in change.children)])


class StoreOperations(Area):
    # -- locations -----------------------------------------------------------------------------------------
    def list_locations(self, *, include_archived: bool = True, with_stock: bool = False) -> list[dict[str, Any]]:
        """Every location by code: id, code, name, kind, internal, active, version (and ``on_hand``, the
        units it holds, with ``with_stock``)."""
        return inventory.list_locations(self._db, include_archived=include_archived, with_stock=with_stock)

    def find_location(self, code: str) -> dict[str, Any]:
        """The location with this code (any case), as :meth:`list_locations` lists it; NotFound names the
        codes there are."""
        found = stock_query.location_by_code(self._db, code)
        return next(r for r in inventory.list_locations(self._db) if r["id"] == found["id"])

    def add_location(self, code: str, name: str, kind: str, *, op_id: str | None = None) -> Change:
        return self._write(lambda: inventory.create_location(self._db, self._actor, code=code, name=name, kind=kind,
                                                             operation_id=op_id), _location_written)

    def edit_location(self, location_id: int, *, expected_version: int | None = None, name: str | None = None,
                      kind: str | None = None, op_id: str | None = None) -> Change:
        """Rename a location or change its kind (None: unchanged)."""
        return self._write(lambda: inventory.update_location(self._db, self._actor, location_id,
                                                             expected_version=expected_version, name=name, kind=kind,
                                                             operation_id=op_id), _location_written)

    def archive_location(self, location_id: int, *, expected_version: int | None = None,
                         op_id: str | None = None) -> Change:
        """Refused while it holds stock or an open transfer or purchase order names it."""
        return self._write(lambda: inventory.archive_location(self._db, self._actor, location_id,
                                                              expected_version=expected_version, operation_id=op_id),
                           _location_written)

    def restore_location(self, location_id: int, *, expected_version: int | None = None,
                         op_id: str | None = None) -> Change:
        return self._write(lambda: inventory.restore_location(self._db, self._actor, location_id,
                                                              expected_version=expected_version, operation_id=op_id),
                           _location_written)

    # -- categories ----------------------------------------------------------------------------------------
    def list_categories(self) -> list[dict[str, Any]]:
        """The tree in display order (parents before children): id, parent_id, name, full_name, depth,
        version, path and the number of products directly in each."""
        return catalog.list_categories(self._db)

    def find_category(self, path: str) -> dict[str, Any]:
        """A category by its path of names ("Clothing/Tops", "Clothing > Tops"; case ignored) or its id."""
        return catalog.find_category(self._db, path)

    def add_category(self, name: str, parent_id: int | None = None, *, op_id: str | None = None) -> Change:
        """A category under ``parent_id`` (None: at the top level)."""
        return self._write(lambda: catalog.create_category(self._db, self._actor, name=name, parent_id=parent_id,
                                                           operation_id=op_id), _category_written)

    def add_category_path(self, path: str, *, op_id: str | None = None) -> Change:
        """Every missing level of "Clothing/Tops"; the change is the last level's, the levels made above it
        its children."""
        return self._write(lambda: catalog.add_category_path(self._db, self._actor, path, operation_id=op_id),
                           _category_written)

    def rename_category(self, category_id: int, name: str, *, expected_version: int | None = None,
                        op_id: str | None = None) -> Change:
        return self._write(lambda: catalog.rename_category(self._db, self._actor, category_id, name=name,
                                                           expected_version=expected_version, operation_id=op_id),
                           _category_written)

    def move_category(self, category_id: int, parent_id: int | None, *, expected_version: int | None = None,
                      op_id: str | None = None) -> Change:
        """Put a category, with everything below it, under ``parent_id`` (None: the top level)."""
        return self._write(lambda: catalog.move_category(self._db, self._actor, category_id, parent_id=parent_id,
                                                         expected_version=expected_version, operation_id=op_id),
                           _category_written)
