"""The bulk area of the operations contract: one operation (raise prices 7 % then round to .99, set the
vendor, add a tag, find and replace in titles…) on many rows, previewed, then applied as one revertible
changeset.

A preview (:meth:`BulkOperations.preview`) returns counts, a sample of old → new, the problems and the
rows priced below their cost, never the rows themselves; its ``stamp`` packs the versions of the rows it
would change (a byte or two a row). :meth:`BulkOperations.apply` takes the operation and the target again
with that stamp: the rows are planned anew inside the write, and those changed since the preview are
left as they are and reported as conflicts.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from backoffice.models import ProductStatus, VariantStatus
from backoffice.operations.base import Area, ValidationError
from backoffice.operations.changes import CHANGESETS, PRICES, PRODUCTS, Changes
from backoffice.services import bulk as bulk_service
from backoffice.services.bulk import (
    FIELD_NAMES,
    MONEY_FIELDS,
    BulkOperation,
    PriceStep,
    Target,
    Versions,
    below_cost_text,
    describe_step,
    replacer,
)
from backoffice.services.catalog_grid import VariantFilter, facets
from backoffice.services.changesets import ApplyResult, Conflict
from backoffice.services.importexport.common import category_paths
from backoffice.services.wording import count_text, decimal_text, money_text

PRODUCT_STATUSES = tuple(s.value for s in ProductStatus)    # "draft", "active", "archived"
VARIANT_STATUSES = tuple(s.value for s in VariantStatus)

__all__ = ["FIELD_NAMES", "MONEY_FIELDS", "PRODUCT_STATUSES", "VARIANT_STATUSES", "ApplyResult", "BulkChoices",
           "BulkOperation", "BulkOperations", "BulkPreview", "Conflict", "PriceStep", "Target", "VariantFilter",
           "below_cost_text", "count_text", "decimal_text", "describe_step", "money_text", "pack_versions",
           "replacer", "unpack_versions"]


@dataclass(frozen=True)
class BulkPreview:
    """What an operation would do to its target. ``entity`` is what it changes ("variant" or "product":
    ``considered`` and ``affected`` count those); ``sample`` the first 50 changes as (row, field, old,
    new); ``invalid`` the rows it cannot be applied to (row, field, why: they block the apply);
    ``stats`` the lowest/median/highest money change; ``below_cost`` (row, price, cost) of the rows it
    would price below their cost (applied only once the user confirms); ``stamp`` what :meth:`apply`
    checks the rows against ("" when the preview cannot be applied)."""

    operation: BulkOperation
    target: Target
    entity: str
    considered: int
    affected: int
    sample: list[tuple[str, str, Any, Any]]
    invalid: list[tuple[str, str, str]]
    stats: dict[str, Decimal]
    below_cost: list[tuple[str, Decimal, Decimal]]
    stamp: str = ""

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.below_cost)


@dataclass(frozen=True)
class BulkChoices:
    """What the bulk editors offer: every category by its path ("Apparel > Shirts"), vendors and tags."""

    categories: dict[int, str]
    vendors: list[str]
    tags: list[str]


# -- the stamp: a preview's row versions, packed ---------------------------------------------------------
def _varint(n: int, out: bytearray) -> None:
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def pack_versions(versions: Versions) -> str:
    """``{("variant", 17): 3, …}`` as a short text: per entity, ids ascending as gaps and versions as
    variable-length numbers, compressed ("variant:eJz…")."""
    parts = []
    for entity in sorted({e for e, _ in versions}):
        data = bytearray()
        previous = 0
        for entity_id in sorted(i for e, i in versions if e == entity):
            _varint(entity_id - previous, data)
            _varint(versions[(entity, entity_id)], data)
            previous = entity_id
        parts.append(f"{entity}:{base64.urlsafe_b64encode(zlib.compress(bytes(data), 6)).decode('ascii')}")
    return ";".join(parts)


def unpack_versions(stamp: str) -> Versions:
    """The versions :func:`pack_versions` packed (ValidationError for a text it did not make: a stamp
    comes back from a client, and a mangled one is the client's mistake, not the server's)."""
    try:
        return _unpack(stamp)
    except (ValueError, zlib.error, UnicodeError) as exc:   # binascii.Error is a ValueError
        raise ValidationError([("", "stamp", "is not a stamp of a preview: preview again and apply with "
                                             "the stamp it returns")]) from exc


def _unpack(stamp: str) -> Versions:
    versions: Versions = {}
    for part in filter(None, stamp.split(";")):
        entity, sep, text = part.partition(":")
        if not sep:
            raise ValueError("not a preview stamp")
        data = zlib.decompress(base64.urlsafe_b64decode(text.encode("ascii")))
        numbers, n, shift = [], 0, 0
        for byte in data:
            n |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                numbers.append(n)
                n, shift = 0, 0
        entity_id = 0
        for gap, version in zip(numbers[::2], numbers[1::2], strict=True):
            entity_id += gap
            versions[(entity, entity_id)] = version
    return versions


class BulkOperations(Area):
    def choices(self) -> BulkChoices:
        """Categories, vendors and tags to pick from in the bulk editors."""
        found = facets(self._db)
        with self._db.read() as session:
            paths = category_paths(session)
        return BulkChoices(paths, list(found.get("vendors", [])), list(found.get("tags", [])))

    def preview(self, operation: BulkOperation, target: Target) -> BulkPreview:
        """Every change ``operation`` would make on ``target``, summed up; nothing is written."""
        plan = bulk_service.plan(self._db, operation, target)
        versions = plan.versions
        return BulkPreview(operation, target, plan.entity, plan.considered, plan.affected, plan.sample, plan.invalid,
                           plan.stats, plan.below_cost, pack_versions(versions) if versions else "")

    def apply(self, operation: BulkOperation, target: Target, *, stamp: str = "", description: str = "",
              allow_below_cost: bool = False, op_id: str | None = None) -> ApplyResult:
        """Apply ``operation`` to ``target`` as one changeset (the same ``op_id`` twice writes once).

        With the ``stamp`` of the preview the user saw, only the rows it showed are written; those changed
        since are left as they are (``conflicts``). Without one, every row the operation changes now.
        Rows it cannot be applied to refuse it (ValidationError); rows priced below their cost too unless
        ``allow_below_cost`` (the user confirmed)."""
        previewed = unpack_versions(stamp) if stamp else None
        result = bulk_service.apply_plan(self._db, self._actor, operation, target, previewed=previewed,
                                         description=description, operation_id=op_id,
                                         allow_below_cost=allow_below_cost)
        if result.changeset_id is not None:
            kind = PRICES if operation.kind == "money" else PRODUCTS
            self.changed(changes_of_rows(result, kind))
        return result


ID_LIMIT = 10_000   # more rows than this: the change names no ids (views reload all they show of the kind)


def changes_of_rows(result: ApplyResult, *kinds: str) -> Changes:
    """What a row changeset changed: ``kinds`` and the changesets, with the ids of the rows written
    (``variant=…``, ``product=…``, ``supplier_item=…``) when they are known and not too many."""
    ids: dict[str, list[int]] = {}
    for entity, entity_id in result.versions:
        ids.setdefault(entity, []).append(entity_id)
    if not result.versions or len(result.versions) > ID_LIMIT:
        ids = {}
    return Changes.of(CHANGESETS, *kinds, **ids)
