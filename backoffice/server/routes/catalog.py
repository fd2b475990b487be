"""The catalog resources: grid pages (``/v1/catalog/variants``, keyset cursors, filters, sorting), the
filter choices and counts, products and variants (read with an ``ETag``, written with ``If-Match``),
bulk operations (preview, apply), and the store's categories and locations (read-only here).

A grid page's cursor is opaque: it packs the order (sort key, direction) and the last row's sort value
and variant id, so the next page is one keyset read wherever the client is in a million rows. Writes
of one product or variant go through the catalog's changeset write with the If-Match version as the
version the client read: a stale one is answered 412 with the representation now (``current``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backoffice.operations import ConflictError, ValidationError
from backoffice.operations.bulk import BulkOperation, BulkPreview, PriceStep, Target
from backoffice.operations.catalog import (
    MONEY_LIMIT,
    PRODUCT_STATUSES,
    SORT_KEYS,
    VARIANT_STATUSES,
    ApplyResult,
    RowChange,
    VariantFilter,
)
from backoffice.server.http import (
    IDEMPOTENT_RESPONSES,
    IF_MATCH_RESPONSES,
    expected_version,
    idempotent,
    plain,
    with_etag,
)
from backoffice.server.security import Caller, route

MAX_ID = 2**63 - 1
MAX_INT = 2**31 - 1
MAX_LIMIT = 1000

# -- value types: text without NUL (no database stores it), bounded numbers, money as strings -------------
NO_NUL = r"^[^\x00]*$"


def text(max_length: int, min_length: int = 0) -> Any:  # noqa: ANN401
    return Annotated[str, StringConstraints(max_length=max_length, min_length=min_length, pattern=NO_NUL)]


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
Money = Annotated[str, StringConstraints(pattern=r"^\s*\d{1,10}(\.\d{1,2})?\s*$"),
                  Field(description="An amount as a string with at most two decimals: \"19.99\"")]
ProductStatusName = Literal[PRODUCT_STATUSES]  # type: ignore[valid-type]
VariantStatusName = Literal[VARIANT_STATUSES]  # type: ignore[valid-type]
SortKey = Literal[SORT_KEYS]  # type: ignore[valid-type]
NonEmpty100 = text(100, 1)
Tag = NonEmpty100
Text64 = text(64)
Text255 = text(255)
NonEmpty255 = text(255, 1)
LongText = text(100_000)
Text200 = text(200)
Text500 = text(500)
Text100 = text(100)
Text1000 = text(1000)
StampText = text(10_000_000)

# -- the grid --------------------------------------------------------------------------------------------


def grid_filter(
    text_: Annotated[str, Query(alias="text", max_length=200, pattern=NO_NUL,
                                description="Title or SKU contains (any case), or the barcode is")] = "",
    category_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="This category and below")] = None,
    status: Annotated[list[ProductStatusName], Query(description="Product status, any of")] = [],  # noqa: B006
    variant_status: Annotated[list[VariantStatusName], Query(description="Variant status, any of")] = [],  # noqa: B006
    vendor: Annotated[list[Text200], Query(description="Vendor, any of")] = [],  # noqa: B006
    tag: Annotated[list[Tag], Query(description="Carries any of these tags")] = [],  # noqa: B006
    price_min: Annotated[Decimal | None, Query(ge=0, lt=MONEY_LIMIT, allow_inf_nan=False)] = None,
    price_max: Annotated[Decimal | None, Query(ge=0, lt=MONEY_LIMIT, allow_inf_nan=False)] = None,
    stock_min: Annotated[int | None, Query(ge=-MAX_INT, le=MAX_INT, description="Units on hand, in all")] = None,
    stock_max: Annotated[int | None, Query(ge=-MAX_INT, le=MAX_INT)] = None,
    changed_since: Annotated[dt.datetime | None, Query(description="Product or variant changed at or after")] = None,
    low_stock: Annotated[bool, Query(description="Some location at or below its low-stock threshold")] = False,
    product_id: Annotated[list[Id], Query(max_length=MAX_LIMIT)] = [],  # noqa: B006
    variant_id: Annotated[list[Id], Query(max_length=MAX_LIMIT)] = [],  # noqa: B006
    option_value_id: Annotated[list[Id], Query(max_length=50, description="Carries every one of these "
                                                                          "attribute values")] = [],  # noqa: B006
) -> VariantFilter:
    """The grid's filter from the query (the fields of the desktop grid's filter)."""
    if changed_since is not None and changed_since.tzinfo is None:
        changed_since = changed_since.replace(tzinfo=dt.timezone.utc)
    return VariantFilter(
        text=text_, category_id=category_id, statuses=tuple(status), variant_statuses=tuple(variant_status),
        vendors=tuple(vendor), tags=tuple(tag), price_min=price_min, price_max=price_max, stock_min=stock_min,
        stock_max=stock_max, changed_since=changed_since, low_stock=low_stock, product_ids=tuple(product_id),
        variant_ids=tuple(variant_id), option_value_ids=tuple(option_value_id))


Filter = Annotated[VariantFilter, Depends(grid_filter)]


class GridRowOut(BaseModel):
    """One row of the grid: a variant with its product's fields. Money as strings."""

    variant_id: int
    product_id: int
    variant_version: int
    product_version: int
    title: str
    handle: str
    sku: str
    barcode: str | None
    options: str
    status: str
    variant_status: str
    category_id: int | None
    category: str
    vendor: str
    product_type: str
    tags: list[str]
    price: str
    compare_at_price: str | None
    cost: str | None
    margin: str | None = Field(description="(price - cost) / price in percent, one decimal")
    stock: int
    updated_at: dt.datetime | None
    thumb_hash: str | None


class GridPageOut(BaseModel):
    rows: list[GridRowOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null after the last")
    total: int | None = Field(None, description="The number of matching rows, with `total=true`")


def encode_cursor(sort: str, descending: bool, after: list[Any]) -> str:
    data = json.dumps({"s": sort, "d": descending, "a": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, sort: str, descending: bool) -> list[Any]:
    """The key a cursor carries; 422 for a cursor that is not ours or was made for another order."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(data, dict) or not isinstance(data.get("a"), list):
            raise ValueError("not a cursor")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError([("cursor", "cursor", "is not a cursor of this list (pass next_cursor as it came)")]) \
            from None
    if data.get("s") != sort or data.get("d") is not descending:
        raise ValidationError([("cursor", "cursor", "was made for another order: send the same sort and "
                                                    "descending as for the first page")])
    return data["a"]


# -- products and variants -------------------------------------------------------------------------------
class VariantIn(BaseModel):
    """A new variant of a new product."""

    model_config = ConfigDict(extra="forbid")
    sku: NonEmpty100
    price: Money
    barcode: Text64 | None = None
    title: Text255 = ""
    compare_at_price: Money | None = None
    cost: Money | None = None
    weight_grams: Annotated[int, Field(ge=0, le=MAX_INT)] | None = None
    status: VariantStatusName = "active"
    options: dict[NonEmpty100, NonEmpty255] = Field(
        default_factory=dict, max_length=20, description="Attribute code → value: {\"size\": \"M\"}")


class ProductIn(BaseModel):
    """A new product with its variants, created in one transaction."""

    model_config = ConfigDict(extra="forbid")
    handle: NonEmpty255
    title: NonEmpty255
    description: LongText = ""
    vendor: Text200 = ""
    product_type: Text200 = ""
    status: ProductStatusName = "draft"
    category_id: Id | None = None
    seo_title: Text255 = ""
    seo_description: Text500 = ""
    tags: list[Tag] = Field(default_factory=list, max_length=200)
    variants: list[VariantIn] = Field(default_factory=list, max_length=MAX_LIMIT)


class ProductPatch(BaseModel):
    """The product fields to change (those left out stay as they are)."""

    model_config = ConfigDict(extra="forbid")
    handle: NonEmpty255 | None = None
    title: NonEmpty255 | None = None
    description: LongText | None = None
    vendor: Text200 | None = None
    product_type: Text200 | None = None
    status: ProductStatusName | None = None
    category_id: Id | None = None
    seo_title: Text255 | None = None
    seo_description: Text500 | None = None
    tags: list[Tag] | None = Field(None, max_length=200)


class VariantPatch(BaseModel):
    """The variant fields to change (those left out stay as they are; null clears barcode,
    compare_at_price, cost and weight_grams)."""

    model_config = ConfigDict(extra="forbid")
    sku: NonEmpty100 | None = None
    barcode: Text64 | None = None
    title: Text255 | None = None
    price: Money | None = None
    compare_at_price: Money | None = None
    cost: Money | None = None
    weight_grams: Annotated[int, Field(ge=0, le=MAX_INT)] | None = None
    status: VariantStatusName | None = None


_NOT_NULL_PRODUCT = frozenset({"handle", "title", "description", "vendor", "product_type", "status", "seo_title",
                               "seo_description", "tags"})
_NOT_NULL_VARIANT = frozenset({"sku", "title", "price", "status"})


def _changes(body: BaseModel, not_null: frozenset[str], row: str) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True)
    problems = [(row, name, "must not be null") for name in sorted(not_null & values.keys()) if values[name] is None]
    if problems:
        raise ValidationError(problems)
    if not values:
        raise ValidationError([(row, "", "name at least one field to change")])
    return values


class VariantOut(BaseModel):
    id: int
    product_id: int
    version: int
    sku: str
    barcode: str | None
    title: str
    price: str
    compare_at_price: str | None
    cost: str | None
    weight_grams: int | None
    status: str
    position: int


class ProductOut(BaseModel):
    id: int
    version: int
    handle: str
    title: str
    description: str | None
    vendor: str | None
    product_type: str | None
    status: str
    category_id: int | None
    seo_title: str | None
    seo_description: str | None
    tags: list[str]
    variants: list[VariantOut]


class HistoryLineOut(BaseModel):
    at: dt.datetime
    username: str
    source: str
    row: str
    field: str
    before: Any = None
    after: Any = None


class HistoryOut(BaseModel):
    title: str
    lines: list[HistoryLineOut]


def _write_one(caller: Caller, entity: str, entity_id: int, expected: int, values: dict[str, Any]) -> JSONResponse:
    """Write one product's or variant's fields as a changeset, checked against the version the client
    read: the representation after it with its ETag, or ConflictError (412) with the one now."""
    read = caller.ops.catalog.variant if entity == "variant" else caller.ops.catalog.product
    try:
        result = caller.ops.catalog.save_edits([RowChange(entity, entity_id, expected, values)],
                                               description=f"Edit {entity} {entity_id} (store API)")
    except ValidationError:
        read(entity_id)            # an unknown id is a 404, not an invalid row
        raise
    if result.conflicts:
        current = read(entity_id)
        label = current.get("sku") if entity == "variant" else current.get("handle")
        raise ConflictError(entity, entity_id, str(label), expected, int(current["version"]), current)
    current = read(entity_id)
    return with_etag(current, current["version"])


# -- bulk ------------------------------------------------------------------------------------------------
class PriceStepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    op: Literal[PriceStep.OPS]
    value: Annotated[Decimal, Field(ge=-MONEY_LIMIT, le=MONEY_LIMIT, allow_inf_nan=False)]


class FilterIn(BaseModel):
    """Every variant matching these (the grid's filter; empty fields do not filter)."""

    model_config = ConfigDict(extra="forbid")
    text: Text200 = ""
    category_id: Id | None = None
    statuses: list[ProductStatusName] = Field(default_factory=list, max_length=10)
    variant_statuses: list[VariantStatusName] = Field(default_factory=list, max_length=10)
    vendors: list[Text200] = Field(default_factory=list, max_length=MAX_LIMIT)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_LIMIT)
    price_min: Annotated[Decimal, Field(ge=0, lt=MONEY_LIMIT, allow_inf_nan=False)] | None = None
    price_max: Annotated[Decimal, Field(ge=0, lt=MONEY_LIMIT, allow_inf_nan=False)] | None = None
    stock_min: Annotated[int, Field(ge=-MAX_INT, le=MAX_INT)] | None = None
    stock_max: Annotated[int, Field(ge=-MAX_INT, le=MAX_INT)] | None = None
    changed_since: dt.datetime | None = None
    low_stock: bool = False
    product_ids: list[Id] = Field(default_factory=list, max_length=10_000)
    variant_ids: list[Id] = Field(default_factory=list, max_length=10_000)
    option_value_ids: list[Id] = Field(default_factory=list, max_length=50)

    def to_filter(self) -> VariantFilter:
        since = self.changed_since
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=dt.timezone.utc)
        return VariantFilter(
            text=self.text, category_id=self.category_id, statuses=tuple(self.statuses),
            variant_statuses=tuple(self.variant_statuses), vendors=tuple(self.vendors), tags=tuple(self.tags),
            price_min=self.price_min, price_max=self.price_max, stock_min=self.stock_min, stock_max=self.stock_max,
            changed_since=since, low_stock=self.low_stock, product_ids=tuple(self.product_ids),
            variant_ids=tuple(self.variant_ids), option_value_ids=tuple(self.option_value_ids))


class TargetIn(BaseModel):
    """The rows: explicit variant ids (a selection), or every variant a filter matches."""

    model_config = ConfigDict(extra="forbid")
    variant_ids: list[Id] = Field(default_factory=list, max_length=100_000)
    filter: FilterIn | None = None

    def to_target(self) -> Target:
        return Target(tuple(self.variant_ids), self.filter.to_filter() if self.filter is not None else None)


class OperationIn(BaseModel):
    """One operation on many rows: ``money`` (field + steps: raise 7 % then round to .99), ``set`` (field
    + value), ``tags_add``/``tags_remove`` (tags), ``replace`` (field, find, replace, regex,
    case_sensitive), ``category_replace`` (find: the category id to replace, value: the new one) or
    ``category_remove`` (value: the category id, or null for any)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["money", "set", "tags_add", "tags_remove", "replace", "category_replace", "category_remove"]
    field: Text100 = ""
    steps: list[PriceStepIn] = Field(default_factory=list, max_length=20)
    value: str | int | bool | None = Field(None, description="For set and the category kinds")
    tags: list[Tag] = Field(default_factory=list, max_length=100)
    find: Text1000 = ""
    replace: Text1000 = ""
    regex: bool = False
    case_sensitive: bool = False

    def to_operation(self) -> BulkOperation:
        value = self.value
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError([("operation", "value", "must not contain NUL characters")])
        return BulkOperation(self.kind, self.field, tuple(PriceStep(s.op, s.value) for s in self.steps), value,
                             tuple(self.tags), self.find, self.replace, self.regex, self.case_sensitive)


class BulkPreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operation: OperationIn
    target: TargetIn


class BulkApplyIn(BulkPreviewIn):
    stamp: StampText = Field("", description="The preview's stamp: only the rows it showed are "
                                                    "written, those changed since come back as conflicts")
    description: Text500 = ""
    allow_below_cost: bool = False


class SampleOut(BaseModel):
    row: str
    field: str
    old: Any = None
    new: Any = None


class ProblemRowOut(BaseModel):
    row: str
    field: str
    message: str


class BelowCostOut(BaseModel):
    row: str
    price: str
    cost: str


class BulkPreviewOut(BaseModel):
    entity: str
    considered: int
    affected: int
    sample: list[SampleOut]
    invalid: list[ProblemRowOut]
    stats: dict[str, str]
    below_cost: list[BelowCostOut]
    needs_confirmation: bool
    stamp: str


def preview_json(p: BulkPreview) -> dict[str, Any]:
    return {
        "entity": p.entity, "considered": p.considered, "affected": p.affected,
        "sample": [{"row": r, "field": f, "old": plain(o), "new": plain(n)} for r, f, o, n in p.sample],
        "invalid": [{"row": r, "field": f, "message": m} for r, f, m in p.invalid],
        "stats": {k: str(v) for k, v in p.stats.items()},
        "below_cost": [{"row": r, "price": str(price), "cost": str(cost)} for r, price, cost in p.below_cost],
        "needs_confirmation": p.needs_confirmation, "stamp": p.stamp,
    }


class ConflictOut(BaseModel):
    entity: str
    entity_id: int
    label: str
    field: str
    original: Any = None
    yours: Any = None
    theirs: Any = None
    current_version: int


class RowVersionOut(BaseModel):
    entity: str
    id: int
    version: int


class ApplyResultOut(BaseModel):
    """A written changeset (``changeset_id`` null when nothing changed), its rows' new versions, and the
    rows left as they are because they changed since they were read (``conflicts``)."""

    changeset_id: int | None
    applied_rows: int
    unchanged_rows: int
    conflicts: list[ConflictOut]
    versions: list[RowVersionOut]


def result_response(result: ApplyResult) -> JSONResponse:
    """201 with the changeset's Location when one was written, else 200."""
    if result.changeset_id is None:
        return JSONResponse(result.to_dict())
    return JSONResponse(result.to_dict(), status_code=201,
                        headers={"Location": f"/v1/changesets/{result.changeset_id}"})


# -- categories and locations ----------------------------------------------------------------------------
class CategoryOut(BaseModel):
    id: int
    parent_id: int | None
    name: str
    full_name: str
    depth: int
    version: int
    path: str
    products: int = Field(description="Products directly in it")


class LocationOut(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    internal: bool
    active: bool
    version: int
    on_hand: int | None = None


TAG_CATALOG, TAG_PRODUCTS, TAG_BULK, TAG_STORE = "catalog", "products", "bulk", "store"
_ETAG_HEADER = {"ETag": {"description": "The version, to send back as If-Match", "schema": {"type": "string"}}}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such resource"}}
_INVALID: dict[int | str, dict[str, Any]] = {422: {"description": "Invalid: `errors` lists each row/field/message"}}


def register(router: APIRouter) -> None:  # noqa: C901, PLR0915  (one function per resource below)
    # -- the grid ----------------------------------------------------------------------------------------
    @route(router, "GET", "/catalog/variants", "catalog.page", response_model=GridPageOut, tags=[TAG_CATALOG],
           responses=_INVALID)
    def grid_page(f: Filter, *, caller: Caller,
                  sort: Annotated[SortKey, Query(description="The column to sort by")] = "id",
                  descending: bool = False,
                  cursor: Annotated[str | None, Query(max_length=4000, pattern=NO_NUL)] = None,
                  limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
                  total: Annotated[bool, Query(description="Also count every matching row (costs a count)")] = False,
                  ) -> JSONResponse:
        """One page of the product grid, one row per variant, in the order asked (ties by variant id).
        Pass ``next_cursor`` as ``cursor`` with the same filter and order for the next page."""
        after = decode_cursor(cursor, sort, descending) if cursor else None
        page = caller.ops.catalog.page_json(f, sort, descending, limit, after)
        # The rows arrive as JSON written by the database: sent as they are, neither parsed nor validated
        # again (a test holds them to the same documents as the contract's rows).
        tail = orjson.dumps({
            "next_cursor": encode_cursor(sort, descending, page.next_after) if page.next_after else None,
            "total": caller.ops.catalog.count(f) if total else None,
        })
        return Response(b'{"rows":' + page.rows_json.encode() + b"," + tail[1:], media_type="application/json")

    class CountOut(BaseModel):
        count: int

    @route(router, "GET", "/catalog/count", "catalog.count", response_model=CountOut, tags=[TAG_CATALOG])
    def grid_count(f: Filter, *, caller: Caller) -> dict[str, int]:
        """How many variants match the filter."""
        return {"count": caller.ops.catalog.count(f)}

    class FacetCategory(BaseModel):
        id: int
        parent_id: int | None
        name: str
        path: str

    class FacetsOut(BaseModel):
        vendors: list[str]
        tags: list[str]
        categories: list[FacetCategory]
        statuses: list[str]
        variant_statuses: list[str]
        sort_keys: list[str]

    @route(router, "GET", "/catalog/facets", "catalog.facets", response_model=FacetsOut, tags=[TAG_CATALOG])
    def facets(*, caller: Caller) -> dict[str, Any]:
        """What the filters can choose from: vendors, tags, the category tree, statuses; and the sort keys."""
        return {**caller.ops.catalog.facets(), "statuses": list(PRODUCT_STATUSES),
                "variant_statuses": list(VARIANT_STATUSES), "sort_keys": list(SORT_KEYS)}

    # -- products ----------------------------------------------------------------------------------------
    @route(router, "GET", "/products/{product_id}", "catalog.product", response_model=ProductOut,
           tags=[TAG_PRODUCTS], responses={200: {"headers": _ETAG_HEADER}, **_NOT_FOUND})
    def get_product(product_id: PathId, *, caller: Caller) -> JSONResponse:
        """A product with its variants; ``ETag`` is the product's version."""
        product = caller.ops.catalog.product(product_id)
        return with_etag(product, product["version"])

    @route(router, "POST", "/products", "catalog.create_product", response_model=ProductOut, status_code=201,
           tags=[TAG_PRODUCTS], responses={201: {"headers": _ETAG_HEADER}, **IDEMPOTENT_RESPONSES})
    def create_product(body: ProductIn, request: Request, *, caller: Caller) -> Response:
        """Create a product with its variants (every bad row is reported). Needs an Idempotency-Key: a
        replay returns the first answer and creates nothing."""
        values = body.model_dump(exclude={"variants"})
        variants = [v.model_dump(exclude_none=True) for v in body.variants]

        def run(op_id: str) -> Response:
            change = caller.ops.catalog.create_product(values, variants, op_id=op_id)
            product = caller.ops.catalog.product(change.entity_id)
            response = with_etag(product, product["version"], status_code=201)
            response.headers["Location"] = f"/v1/products/{change.entity_id}"
            return response

        return idempotent(request, caller, body, run)

    @route(router, "PATCH", "/products/{product_id}", "catalog.save_edits", response_model=ProductOut,
           operation_id="catalog_save_edits_patch_product",
           tags=[TAG_PRODUCTS], responses={200: {"headers": _ETAG_HEADER}, **_NOT_FOUND, **IF_MATCH_RESPONSES,
                                           **_INVALID})
    def patch_product(product_id: PathId, body: ProductPatch, request: Request, *,
                      caller: Caller) -> JSONResponse:
        """Change product fields; ``If-Match`` names the version edited (412 with ``current`` when it
        is stale)."""
        expected = expected_version(request)
        return _write_one(caller, "product", product_id, expected, _changes(body, _NOT_NULL_PRODUCT,
                                                                           f"product {product_id}"))

    @route(router, "GET", "/products/{product_id}/history", "catalog.product_history", response_model=HistoryOut,
           tags=[TAG_PRODUCTS], responses=_NOT_FOUND)
    def product_history(product_id: PathId, *, caller: Caller,
                        variant_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> dict[str, Any]:
        """Every recorded change of the product (and of one of its variants), one line per field, newest
        first."""
        history = caller.ops.catalog.product_history(product_id, variant_id)
        return {"title": history.title, "lines": [line.__dict__ for line in history.lines]}

    # -- variants ----------------------------------------------------------------------------------------
    @route(router, "GET", "/variants/{variant_id}", "catalog.variant", response_model=VariantOut,
           tags=[TAG_PRODUCTS], responses={200: {"headers": _ETAG_HEADER}, **_NOT_FOUND})
    def get_variant(variant_id: PathId, *, caller: Caller) -> JSONResponse:
        """One variant; ``ETag`` is its version."""
        variant = caller.ops.catalog.variant(variant_id)
        return with_etag(variant, variant["version"])

    @route(router, "PATCH", "/variants/{variant_id}", "catalog.save_edits", response_model=VariantOut,
           operation_id="catalog_save_edits_patch_variant",
           tags=[TAG_PRODUCTS], responses={200: {"headers": _ETAG_HEADER}, **_NOT_FOUND, **IF_MATCH_RESPONSES,
                                           **_INVALID})
    def patch_variant(variant_id: PathId, body: VariantPatch, request: Request, *,
                      caller: Caller) -> JSONResponse:
        """Change variant fields (price, compare-at price, cost, SKU, barcode…); ``If-Match`` names the
        version edited (412 with ``current`` when it is stale)."""
        expected = expected_version(request)
        return _write_one(caller, "variant", variant_id, expected, _changes(body, _NOT_NULL_VARIANT,
                                                                           f"variant {variant_id}"))

    # -- bulk --------------------------------------------------------------------------------------------
    @route(router, "POST", "/bulk/preview", "bulk.preview", response_model=BulkPreviewOut, tags=[TAG_BULK],
           responses=_INVALID)
    def bulk_preview(body: BulkPreviewIn, *, caller: Caller) -> JSONResponse:
        """What the operation would do to the target: counts, a sample, invalid rows, rows it would price
        below cost, and the ``stamp`` to apply exactly what was shown. Nothing is written."""
        preview = caller.ops.bulk.preview(body.operation.to_operation(), body.target.to_target())
        return JSONResponse(preview_json(preview))

    @route(router, "POST", "/bulk/apply", "bulk.apply", response_model=ApplyResultOut, status_code=201,
           tags=[TAG_BULK], responses={200: {"model": ApplyResultOut, "description": "Nothing to change"},
                                       **IDEMPOTENT_RESPONSES})
    def bulk_apply(body: BulkApplyIn, request: Request, *, caller: Caller) -> Response:
        """Apply the operation as one revertible changeset (201, Location of the changeset; 200 when
        nothing changed). Invalid rows refuse it all (422, each row in ``errors``); so do rows priced
        below cost unless ``allow_below_cost``. Needs an Idempotency-Key."""
        operation, target = body.operation.to_operation(), body.target.to_target()

        def run(op_id: str) -> Response:
            result = caller.ops.bulk.apply(operation, target, stamp=body.stamp, description=body.description,
                                           allow_below_cost=body.allow_below_cost, op_id=op_id)
            return result_response(result)

        return idempotent(request, caller, body, run)

    # -- the store's categories and locations ------------------------------------------------------------
    @route(router, "GET", "/categories", "store.list_categories", response_model=list[CategoryOut],
           tags=[TAG_STORE])
    def categories(*, caller: Caller) -> list[dict[str, Any]]:
        """The category tree in display order (parents before children)."""
        return caller.ops.store.list_categories()

    @route(router, "GET", "/locations", "store.list_locations", response_model=list[LocationOut], tags=[TAG_STORE])
    def locations(*, caller: Caller, include_archived: bool = True, with_stock: bool = False) -> list[dict[str, Any]]:
        """Every location by code (with ``on_hand``, the units each holds, when ``with_stock``)."""
        return caller.ops.store.list_locations(include_archived=include_archived, with_stock=with_stock)


