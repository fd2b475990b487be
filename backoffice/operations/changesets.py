"""The changesets area of the operations contract: every grid save, bulk edit, import, repricing and
revert, newest first; what one changed, row by row; reverting one as a new changeset."""

from __future__ import annotations

from typing import Any

import backoffice.services.variants  # noqa: F401 - registers the reverters of its changesets (thresholds, images)
from backoffice.operations.base import Area
from backoffice.operations.bulk import changes_of_rows
from backoffice.operations.changes import IMAGES, PRICES, PRODUCTS, SUPPLIERS, THRESHOLDS, VARIANTS
from backoffice.services import changesets as service
from backoffice.services.changesets import ApplyResult, ChangesetInfo, Conflict, FieldChange

__all__ = ["ApplyResult", "ChangesetInfo", "ChangesetOperations", "Conflict", "FieldChange"]

# the kinds of data a changeset's rows are, by the entity its entries name
ENTITY_KINDS = {"variant": (PRODUCTS, PRICES, VARIANTS), "product": (PRODUCTS,), "supplier_item": (SUPPLIERS,),
                "stock_level": (THRESHOLDS,), "variant_image": (IMAGES,)}


class ChangesetOperations(Area):
    def list(self, *, before_id: int | None = None, limit: int = 100) -> list[ChangesetInfo]:
        """Newest first, ``limit`` at a time; ``before_id`` (the last one shown) gives the next page."""
        return service.list_changesets(self._db, before_id=before_id, limit=limit)

    def get(self, changeset_id: int) -> ChangesetInfo:
        """One changeset (NotFound when there is none of that id)."""
        return service.get_changeset(self._db, changeset_id)

    def for_operation(self, op_id: str | None) -> ChangesetInfo | None:
        """The changeset a write with this operation id made, if one did: a retry reports it instead of
        writing again."""
        return service.changeset_for_operation(self._db, op_id)

    def rows(self, changeset_id: int, *, limit: int = 1000) -> list[FieldChange]:
        """Each field its first ``limit`` rows changed: row (by SKU or handle), field, before, after."""
        return service.changeset_rows(self._db, changeset_id, limit)

    def entries(self, changeset_id: int, *, limit: int = 1000) -> list[dict[str, Any]]:
        """Its rows as recorded: entity, entity_id, before, after, version_before, version_after."""
        return service.changeset_entries(self._db, changeset_id, limit)

    def history(self, entity: str, entity_id: int) -> list[dict[str, Any]]:
        """Every recorded change of one row ("variant", 17), oldest first: changesets and audited writes."""
        return service.history(self._db, entity, entity_id)

    def revert(self, changeset_id: int, *, op_id: str | None = None) -> ApplyResult:
        """Restore what the changeset replaced, as a new changeset; rows changed since are left as they
        are (``conflicts``). The same ``op_id`` twice reverts once."""
        entities = service.changed_entities(self._db, changeset_id)
        result = service.revert_changeset(self._db, self._actor, changeset_id, operation_id=op_id)
        if result.changeset_id is not None:
            kinds = {k for e in entities for k in ENTITY_KINDS.get(e, (PRODUCTS, PRICES, VARIANTS))}
            self.changed(changes_of_rows(result, *sorted(kinds)))
        return result
