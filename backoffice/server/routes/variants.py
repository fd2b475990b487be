"""The variants area over HTTP: attributes and their ordered values, variant templates, the combination
generator, surcharge rules and repricing, a product's price/stock matrix, and low-stock thresholds and
variant images set on many variants at once.

Attributes are addressed by code or by id (``/v1/attributes/size``, ``/v1/attributes/3``: a code starts
with a letter). Versioned rows (attributes, values, templates, rules) carry an ``ETag``; their edits take
``If-Match``. Every POST that creates rows or applies a plan takes an ``Idempotency-Key``. Catalog-wide
changes are previewed first: the preview's ``stamp`` goes back with the apply, which writes only the rows
the preview showed and reports those changed since as ``conflicts``.

:func:`plain` (the JSON form of the contract's dataclasses: money as strings) and
:func:`current_on_conflict` are shared with the images resources.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.responses import JSONResponse, Response

from backoffice.operations import ConflictError, NotFound
from backoffice.operations.variants import (
    AttributeInfo,
    GenerationRequest,
    MatrixPrice,
    Target,
    TemplateInfo,
    ValueInfo,
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

TAG = "variants"
MAX_ID = 2_147_483_647          # ids are 32-bit in the database: larger ones are refused as invalid, not looked up
MAX_ITEMS = 10_000

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
NO_NUL = r"^[^\x00]*$"          # PostgreSQL text cannot hold NUL


def text_field(max_length: int, min_length: int = 0) -> Any:  # noqa: ANN401
    """A string field of at most ``max_length`` characters, without NUL."""
    return Field(min_length=min_length, max_length=max_length, pattern=NO_NUL)


Short = Annotated[str, text_field(200)]
Money = Annotated[str, Field(max_length=40, pattern=r"^\s*-?\d{1,12}(\.\d{1,4})?\s*$",
                             description="An amount as a string, e.g. \"19.99\"")]


# -- JSON forms ---------------------------------------------------------------------------------------------
def problems_of(rows: list[tuple[str, str, str]] | list[Any]) -> list[dict[str, str]]:
    return [{"row": str(r[0]), "field": str(r[1]), "message": str(r[2])} for r in rows]


@contextmanager
def current_on_conflict(read: Callable[[], Any]) -> Iterator[None]:
    """A stale write's 412 carries the resource as GET shows it (``current``), read after the refusal."""
    try:
        yield
    except ConflictError as exc:
        try:
            exc.current = read()
        except NotFound:
            exc.current = {}
        raise


def created(body: Any, version: int | None, location: str) -> JSONResponse:  # noqa: ANN401
    response = with_etag(body, version, status_code=201)
    response.headers["Location"] = location
    return response


def json_response(body: Any, status_code: int = 200) -> JSONResponse:  # noqa: ANN401
    return JSONResponse(plain(body), status_code=status_code)


# -- request bodies -----------------------------------------------------------------------------------------
class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewAttribute(Body):
    code: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*$")]
    name: Short = ""
    values: list[Short] = Field(default_factory=list, max_length=MAX_ITEMS)


class AttributeRename(Body):
    name: Annotated[str, text_field(200, 1)]


class NewValues(Body):
    values: list[Short] = Field(min_length=1, max_length=MAX_ITEMS)


class ValueRename(Body):
    value: Annotated[str, text_field(200, 1)]


class ValueOrder(Body):
    value_ids: list[RowId] = Field(min_length=1, max_length=MAX_ITEMS)


Options = Annotated[dict[Short, list[Short]], Field(max_length=20)]
Exclusions = Annotated[list[dict[Short, Short]], Field(max_length=MAX_ITEMS)]


class TemplateBody(Body):
    name: Annotated[str, text_field(200, 1)]
    options: Options
    exclusions: Exclusions = Field(default_factory=list)
    sku_pattern: Short = ""
    description: Annotated[str, text_field(2000)] = ""


class Generation(Body):
    """Which combinations of attribute values the products should have."""

    product_ids: list[RowId] = Field(min_length=1, max_length=MAX_ITEMS)
    options: Options
    exclusions: Exclusions = Field(default_factory=list)
    sku_pattern: Short = ""
    price: Money | None = Field(None, description="The price of new variants of products without a base price")
    prune: bool = Field(False, description="Archive (with history) or delete the variants whose combination "
                                           "is not chosen")

    def request(self) -> GenerationRequest:
        return GenerationRequest(tuple(self.product_ids), {k: list(v) for k, v in self.options.items()},
                                 tuple(dict(e) for e in self.exclusions), self.sku_pattern, self.price, self.prune)


class GenerationApply(Generation):
    description: Annotated[str, text_field(500)] = ""


class NewRule(Body):
    attribute: Annotated[str, text_field(100, 1)]
    value: Annotated[str, text_field(200, 1)]
    kind: Annotated[str, Field(pattern=r"^(amount|percent)$")]
    amount: Money
    product_id: RowId | None = Field(None, description="The product the rule is for; none: store-wide")


class Products(Body):
    product_ids: list[RowId] = Field(min_length=1, max_length=MAX_ITEMS)


class RepriceApply(Products):
    stamp: Annotated[str, text_field(10_000_000)] = Field("", description="The preview's stamp: only the rows it "
                                                                    "showed are written")
    description: Annotated[str, text_field(500)] = ""


class BasePrice(Body):
    base_price: Money | None


class Filter(Body):
    """Which variants: the fields of the catalog grid's filter (empty ones do not filter)."""

    text: Annotated[str, text_field(500)] = ""
    category_id: RowId | None = None
    statuses: list[Short] = Field(default_factory=list, max_length=20)
    variant_statuses: list[Short] = Field(default_factory=list, max_length=20)
    vendors: list[Short] = Field(default_factory=list, max_length=1000)
    tags: list[Short] = Field(default_factory=list, max_length=1000)
    price_min: Money | None = None
    price_max: Money | None = None
    stock_min: Annotated[int, Field(ge=-MAX_ID, le=MAX_ID)] | None = None
    stock_max: Annotated[int, Field(ge=-MAX_ID, le=MAX_ID)] | None = None
    changed_since: dt.datetime | None = None
    low_stock: bool = False
    product_ids: list[RowId] = Field(default_factory=list, max_length=MAX_ITEMS)
    variant_ids: list[RowId] = Field(default_factory=list, max_length=MAX_ITEMS)
    option_value_ids: list[RowId] = Field(default_factory=list, max_length=100)

    def to_filter(self) -> VariantFilter:
        data = self.model_dump(exclude_defaults=True)
        for key in ("price_min", "price_max"):
            if key in data:
                data[key] = Decimal(data[key].strip())
        if "changed_since" in data:
            data["changed_since"] = data["changed_since"].isoformat()
        return VariantFilter.from_dict(data)


class TargetBody(Body):
    """Either explicit variants or a filter (every matching variant)."""

    variant_ids: list[RowId] = Field(default_factory=list, max_length=100_000)
    filter: Filter | None = None

    @model_validator(mode="after")
    def one_of_them(self) -> TargetBody:
        if bool(self.variant_ids) == (self.filter is not None):
            raise ValueError("give either variant_ids or a filter ({} for every variant), not both")
        return self

    def target(self) -> Target:
        return Target(tuple(self.variant_ids), self.filter.to_filter() if self.filter is not None else None)


class Thresholds(Body):
    target: TargetBody
    threshold: Annotated[int, Field(ge=0, le=MAX_ID)] | None = Field(
        ..., description="The low-stock threshold; null: back to the defaults")
    location_ids: list[RowId] | None = Field(None, max_length=1000, description="None: every active internal "
                                                                               "location")


class ThresholdsApply(Thresholds):
    stamp: Annotated[str, text_field(10_000_000)] = ""
    description: Annotated[str, text_field(500)] = ""


class ImageAssignment(Body):
    target: TargetBody
    match: Annotated[str, text_field(200)] | None = Field(None, description="Text the image's file name contains; "
                                                                      "none: back to the main image")


class ImageAssignmentApply(ImageAssignment):
    stamp: Annotated[str, text_field(10_000_000)] = ""
    description: Annotated[str, text_field(500)] = ""


class CellPrice(Body):
    row: Annotated[str, text_field(200)] = ""
    column: Annotated[str, text_field(200)] = ""
    price: Money


class MatrixPrices(Body):
    """Prices typed into cells of the matrix. ``versions`` are the variants' versions as the matrix was
    read (``cells[].variant_ids`` / ``versions``): a variant changed since is a conflict, not overwritten."""

    row_attribute: Short = ""
    column_attribute: Short = ""
    cells: list[CellPrice] = Field(min_length=1, max_length=MAX_ITEMS)
    versions: dict[RowId, Annotated[int, Field(ge=0, le=MAX_ID)]] = Field(default_factory=dict, max_length=100_000)
    keep_prices: bool = Field(True, description="The variants keep these prices when the product is repriced")
    description: Annotated[str, text_field(500)] = ""


# -- representations -------------------------------------------------------------------------------------
def attribute_json(attribute: AttributeInfo) -> dict[str, Any]:
    return plain(attribute)


def find_attribute(caller: Caller, ref: str) -> AttributeInfo:
    """An attribute by code, or by id when ``ref`` is a number (codes start with a letter)."""
    if ref.isdigit():
        found = next((a for a in caller.ops.variants.attributes() if a.id == int(ref)), None)
        if found is None:
            raise NotFound(f"unknown attribute: {ref}")
        return found
    return caller.ops.variants.attribute(ref)


def find_value(attribute: AttributeInfo, value_id: int) -> ValueInfo:
    found = next((v for v in attribute.values if v.id == value_id), None)
    if found is None:
        raise NotFound(f"attribute {attribute.code} has no value {value_id}")
    return found


def attribute_by_id(caller: Caller, attribute_id: int) -> AttributeInfo:
    return find_attribute(caller, str(attribute_id))


def find_template(caller: Caller, template_id: int) -> TemplateInfo:
    found = next((t for t in caller.ops.variants.templates() if t.id == template_id), None)
    if found is None:
        raise NotFound(f"variant template {template_id} does not exist")
    return found


AttributeRef = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^([a-z][a-z0-9_]*|[1-9][0-9]{0,9})$",
                                   description="The attribute's code, or its id")]


def check_version(expected: int, actual: int, entity: str, entity_id: int, label: str, current: Any) -> None:  # noqa: ANN401
    """For the deletes whose operation takes no version: refuse a stale If-Match before deleting."""
    if expected != actual:
        raise ConflictError(entity, entity_id, label, expected, actual, current)


def register(router: APIRouter) -> None:
    register_attributes(router)
    register_templates(router)
    register_generation(router)
    register_pricing(router)
    register_bulk_settings(router)


# -- attributes ----------------------------------------------------------------------------------------------
def register_attributes(router: APIRouter) -> None:
    @route(router, "GET", "/attributes", "variants.attributes", tags=[TAG])
    def list_attributes(include_archived: bool = True, *, caller: Caller) -> dict[str, Any]:
        """Every attribute with its values in order (archived ones too unless ``include_archived=false``)."""
        return {"items": [attribute_json(a) for a in caller.ops.variants.attributes(include_archived=include_archived)]}

    @route(router, "GET", "/attributes/{attribute}", "variants.attribute", tags=[TAG],
           responses={404: {"description": "No such attribute"}})
    def get_attribute(attribute: AttributeRef, *, caller: Caller) -> JSONResponse:
        """One attribute with its values; ``ETag`` is its version (the values have their own)."""
        found = find_attribute(caller, attribute)
        return with_etag(attribute_json(found), found.version)

    @route(router, "POST", "/attributes", "variants.create_attribute", tags=[TAG], status_code=201,
           responses=IDEMPOTENT_RESPONSES)
    def create_attribute(body: NewAttribute, request: Request, *, caller: Caller) -> Response:
        """A new attribute (``code``: lower-case letters, digits and underscores) with its first values."""
        def run(op_id: str) -> Response:
            change = caller.ops.variants.create_attribute(body.code, name=body.name, values=list(body.values),
                                                          op_id=op_id)
            made = attribute_by_id(caller, change.entity_id)
            return created(attribute_json(made), made.version, f"/v1/attributes/{made.code}")

        return idempotent(request, caller, body, run)

    @route(router, "PATCH", "/attributes/{attribute}", "variants.rename_attribute", tags=[TAG],
           responses=IF_MATCH_RESPONSES)
    def rename_attribute(attribute: AttributeRef, body: AttributeRename, request: Request, *,
                         caller: Caller) -> JSONResponse:
        """Rename an attribute (its code stays)."""
        version = expected_version(request)
        found = find_attribute(caller, attribute)
        with current_on_conflict(lambda: attribute_json(attribute_by_id(caller, found.id))):
            caller.ops.variants.rename_attribute(found.id, body.name, expected_version=version)
        now = attribute_by_id(caller, found.id)
        return with_etag(attribute_json(now), now.version)

    @route(router, "DELETE", "/attributes/{attribute}", "variants.remove_attribute", tags=[TAG],
           responses=IF_MATCH_RESPONSES)
    def remove_attribute(attribute: AttributeRef, request: Request, *, caller: Caller) -> JSONResponse:
        """Delete an attribute no variant uses (with its values); one in use is archived (``action``)."""
        version = expected_version(request)
        found = find_attribute(caller, attribute)
        with current_on_conflict(lambda: attribute_json(attribute_by_id(caller, found.id))):
            change = caller.ops.variants.remove_attribute(found.id, expected_version=version)
        return json_response({"id": found.id, "code": found.code, "action": change.action, "version": change.version})

    @route(router, "POST", "/attributes/{attribute}/restore", "variants.restore_attribute", tags=[TAG])
    def restore_attribute(attribute: AttributeRef, *, caller: Caller) -> JSONResponse:
        """Bring back an archived attribute."""
        found = find_attribute(caller, attribute)
        caller.ops.variants.restore_attribute(found.id)
        now = attribute_by_id(caller, found.id)
        return with_etag(attribute_json(now), now.version)

    @route(router, "POST", "/attributes/{attribute}/values", "variants.add_values", tags=[TAG], status_code=201,
           responses=IDEMPOTENT_RESPONSES)
    def add_values(attribute: AttributeRef, body: NewValues, request: Request, *, caller: Caller) -> Response:
        """Append values at the end of the attribute's order (an archived value of the same name comes back)."""
        found = find_attribute(caller, attribute)

        def run(op_id: str) -> Response:
            caller.ops.variants.add_values(found.id, list(body.values), op_id=op_id)
            now = attribute_by_id(caller, found.id)
            return created(attribute_json(now), now.version, f"/v1/attributes/{now.code}")

        return idempotent(request, caller, {"attribute": found.id, **body.model_dump()}, run)

    @route(router, "PUT", "/attributes/{attribute}/values/order", "variants.reorder_values", tags=[TAG],
           responses=IF_MATCH_RESPONSES)
    def reorder_values(attribute: AttributeRef, body: ValueOrder, request: Request, *,
                       caller: Caller) -> JSONResponse:
        """Put the values in this order (every value, once). If-Match: the attribute's ETag."""
        version = expected_version(request)
        found = find_attribute(caller, attribute)
        with current_on_conflict(lambda: attribute_json(attribute_by_id(caller, found.id))):
            caller.ops.variants.reorder_values(found.id, list(body.value_ids), expected_version=version)
        now = attribute_by_id(caller, found.id)
        return with_etag(attribute_json(now), now.version)

    @route(router, "GET", "/attributes/{attribute}/values/{value_id}", "variants.attribute", tags=[TAG],
           operation_id="variants_attribute_value_get",
           responses={404: {"description": "No such attribute or value"}})
    def get_value(attribute: AttributeRef, value_id: Id, *, caller: Caller) -> JSONResponse:
        """One value of an attribute; ``ETag`` is the value's version."""
        value = find_value(find_attribute(caller, attribute), value_id)
        return with_etag(plain(value), value.version)

    @route(router, "PATCH", "/attributes/{attribute}/values/{value_id}", "variants.rename_value", tags=[TAG],
           responses=IF_MATCH_RESPONSES)
    def rename_value(attribute: AttributeRef, value_id: Id, body: ValueRename, request: Request, *,
                     caller: Caller) -> JSONResponse:
        """Rename a value (the variants carrying it follow). If-Match: the value's ETag."""
        version = expected_version(request)
        found = find_attribute(caller, attribute)
        find_value(found, value_id)

        def current() -> dict[str, Any]:
            return plain(find_value(attribute_by_id(caller, found.id), value_id))

        with current_on_conflict(current):
            caller.ops.variants.rename_value(value_id, body.value, expected_version=version)
        value = find_value(attribute_by_id(caller, found.id), value_id)
        return with_etag(plain(value), value.version)

    @route(router, "DELETE", "/attributes/{attribute}/values/{value_id}", "variants.remove_value", tags=[TAG],
           responses=IF_MATCH_RESPONSES)
    def remove_value(attribute: AttributeRef, value_id: Id, request: Request, *, caller: Caller) -> JSONResponse:
        """Delete a value nothing uses; one that variants carry is archived (``action`` says which)."""
        version = expected_version(request)
        found = find_attribute(caller, attribute)
        find_value(found, value_id)
        with current_on_conflict(lambda: plain(find_value(attribute_by_id(caller, found.id), value_id))):
            change = caller.ops.variants.remove_value(value_id, expected_version=version)
        return json_response({"id": value_id, "attribute_id": found.id, "action": change.action,
                              "version": change.version})


# -- templates ---------------------------------------------------------------------------------------------
TemplateId = Annotated[int, Path(ge=1, le=MAX_ID)]


def register_templates(router: APIRouter) -> None:
    @route(router, "GET", "/variant-templates", "variants.templates", tags=[TAG])
    def list_templates(*, caller: Caller) -> dict[str, Any]:
        """Saved choices of attribute values (and exclusions, SKU pattern) for the generator."""
        return {"items": plain(caller.ops.variants.templates())}

    @route(router, "GET", "/variant-templates/{template_id}", "variants.templates", tags=[TAG],
           operation_id="variants_template_get",
           responses={404: {"description": "No such template"}})
    def get_template(template_id: TemplateId, *, caller: Caller) -> JSONResponse:
        found = find_template(caller, template_id)
        return with_etag(plain(found), found.version)

    @route(router, "POST", "/variant-templates", "variants.save_template", tags=[TAG], status_code=201,
           responses=IDEMPOTENT_RESPONSES)
    def create_template(body: TemplateBody, request: Request, *, caller: Caller) -> Response:
        def run(op_id: str) -> Response:
            change = caller.ops.variants.save_template(
                body.name, {k: list(v) for k, v in body.options.items()}, exclusions=[dict(e) for e in body.exclusions],
                sku_pattern=body.sku_pattern, description=body.description, op_id=op_id)
            made = find_template(caller, change.entity_id)
            return created(plain(made), made.version, f"/v1/variant-templates/{made.id}")

        return idempotent(request, caller, body, run)

    @route(router, "PUT", "/variant-templates/{template_id}", "variants.save_template", tags=[TAG],
           operation_id="variants_save_template_put",
           responses=IF_MATCH_RESPONSES)
    def replace_template(template_id: TemplateId, body: TemplateBody, request: Request, *,
                         caller: Caller) -> JSONResponse:
        """Replace a template's contents."""
        version = expected_version(request)
        find_template(caller, template_id)
        with current_on_conflict(lambda: plain(find_template(caller, template_id))):
            caller.ops.variants.save_template(
                body.name, {k: list(v) for k, v in body.options.items()}, exclusions=[dict(e) for e in body.exclusions],
                sku_pattern=body.sku_pattern, description=body.description, template_id=template_id,
                expected_version=version)
        now = find_template(caller, template_id)
        return with_etag(plain(now), now.version)

    @route(router, "DELETE", "/variant-templates/{template_id}", "variants.delete_template", tags=[TAG],
           status_code=204, responses=IF_MATCH_RESPONSES)
    def delete_template(template_id: TemplateId, request: Request, *, caller: Caller) -> Response:
        version = expected_version(request)
        found = find_template(caller, template_id)
        check_version(version, found.version, "variant template", found.id, repr(found.name), plain(found))
        caller.ops.variants.delete_template(template_id)
        return Response(status_code=204)


# -- the generator -------------------------------------------------------------------------------------------
def plan_json(plan: Any) -> dict[str, Any]:  # noqa: ANN401
    body = plain(plan)
    body["problems"] = problems_of(plan.problems)
    body.update(to_create=plan.to_create, existing=plan.existing, other=plan.other, to_archive=plan.to_archive,
                to_delete=plan.to_delete)
    return body


def register_generation(router: APIRouter) -> None:
    @route(router, "POST", "/variant-generation/plan", "variants.plan_generation", tags=[TAG])
    def plan_generation(body: Generation, *, caller: Caller) -> dict[str, Any]:
        """What apply would create (and with ``prune`` archive or delete) per product, every problem listed
        (any problem refuses the apply). Nothing is written."""
        return plan_json(caller.ops.variants.plan_generation(body.request()))

    @route(router, "POST", "/variant-generation/apply", "variants.generate", tags=[TAG],
           responses=IDEMPOTENT_RESPONSES)
    def apply_generation(body: GenerationApply, request: Request, *, caller: Caller) -> Response:
        """Create the missing combinations as one changeset (planned again inside the write; any problem
        refuses the whole run with 422 and its rows)."""
        def run(op_id: str) -> Response:
            result = caller.ops.variants.generate(body.request(), description=body.description, op_id=op_id)
            return json_response(result, 201 if result.created else 200)

        return idempotent(request, caller, body, run)


# -- pricing --------------------------------------------------------------------------------------------------
RuleId = Annotated[int, Path(ge=1, le=MAX_ID)]


def find_rule(caller: Caller, rule_id: int, product_id: int | None = None) -> Any:  # noqa: ANN401
    found = next((r for r in caller.ops.variants.rules(product_id=product_id) if r.id == rule_id), None)
    if found is None:
        raise NotFound(f"price rule {rule_id} does not exist")
    return found


def register_pricing(router: APIRouter) -> None:
    @route(router, "GET", "/price-rules", "variants.rules", tags=[TAG])
    def list_rules(product_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None, *,
                   caller: Caller) -> dict[str, Any]:
        """Store-wide surcharge rules, and with ``product_id`` that product's own rules too."""
        return {"items": plain(caller.ops.variants.rules(product_id=product_id))}

    @route(router, "POST", "/price-rules", "variants.set_rule", tags=[TAG], status_code=201,
           responses=IDEMPOTENT_RESPONSES)
    def set_rule(body: NewRule, request: Request, *, caller: Caller) -> Response:
        """Create or replace the surcharge ("amount" or "percent") of one attribute value, store-wide or for
        one product."""
        def run(op_id: str) -> Response:
            change = caller.ops.variants.set_rule(body.attribute, body.value, body.kind, body.amount.strip(),
                                                  product_id=body.product_id, op_id=op_id)
            rule = find_rule(caller, change.entity_id, body.product_id)
            return created(plain(rule), rule.version, f"/v1/price-rules/{rule.id}")

        return idempotent(request, caller, body, run)

    @route(router, "DELETE", "/price-rules/{rule_id}", "variants.delete_rule", tags=[TAG], status_code=204,
           responses=IF_MATCH_RESPONSES)
    def delete_rule(rule_id: RuleId, request: Request,
                    product_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="For a product's own rule: "
                                                            "the product")] = None, *,
                    caller: Caller) -> Response:
        """Delete a surcharge rule. If-Match: the rule's ETag (its version in the list)."""
        version = expected_version(request)
        rule = find_rule(caller, rule_id, product_id)
        check_version(version, rule.version, "price rule", rule.id, f"{rule.attribute_code}={rule.value}", plain(rule))
        caller.ops.variants.delete_rule(rule_id)
        return Response(status_code=204)

    @route(router, "PUT", "/products/{product_id}/base-price", "variants.set_base_price", tags=[TAG])
    def set_base_price(product_id: Id, body: BasePrice, *, caller: Caller) -> dict[str, Any]:
        """The price the product's variants start from when repriced by the rules (null removes it)."""
        caller.ops.variants.set_base_price(product_id, body.base_price.strip() if body.base_price else None)
        grid = caller.ops.variants.matrix(product_id)
        return {"product_id": product_id, "base_price": plain(grid.base_price)}

    @route(router, "POST", "/repricing/preview", "variants.preview_reprice", tags=[TAG])
    def preview_reprice(body: Products, *, caller: Caller) -> dict[str, Any]:
        """Every price change the rules make on the products' variants, summed up, with the first 200 and
        the ``stamp`` to apply exactly this. Nothing is written."""
        preview = caller.ops.variants.preview_reprice(list(body.product_ids))
        out = plain(preview)
        out["sample"] = [{"sku": sku, "price": str(old), "new_price": str(new), "how": how}
                         for sku, old, new, how in preview.sample]
        out["invalid"] = problems_of(preview.invalid)
        return out

    @route(router, "POST", "/repricing/apply", "variants.apply_reprice", tags=[TAG], responses=IDEMPOTENT_RESPONSES)
    def apply_reprice(body: RepriceApply, request: Request, *, caller: Caller) -> Response:
        """Reprice as one revertible changeset (invalid rows refuse it). With the preview's ``stamp`` only
        the variants it showed are written; those changed since come back as ``conflicts``."""
        def run(op_id: str) -> Response:
            result = caller.ops.variants.apply_reprice(list(body.product_ids), stamp=body.stamp,
                                                       description=body.description, op_id=op_id)
            return JSONResponse(result.to_dict())

        return idempotent(request, caller, body, run)

    @route(router, "GET", "/products/{product_id}/matrix", "variants.matrix", tags=[TAG],
           responses={404: {"description": "No such product"}})
    def get_matrix(product_id: Id, row: Annotated[str, Query(max_length=100, pattern=NO_NUL)] = "",
                   column: Annotated[str, Query(max_length=100, pattern=NO_NUL)] = "", *,
                   caller: Caller) -> dict[str, Any]:
        """The product's variants laid out by two attributes (``row``, ``column``: codes; by default the
        first two): per cell the variants with their versions, prices and total stock."""
        return plain(caller.ops.variants.matrix(product_id, row, column))

    @route(router, "POST", "/products/{product_id}/matrix/prices", "variants.save_matrix_prices", tags=[TAG],
           responses=IDEMPOTENT_RESPONSES)
    def save_matrix_prices(product_id: Id, body: MatrixPrices, request: Request, *, caller: Caller) -> Response:
        """Set the price of every variant in the given cells as one changeset; a variant whose version is
        not the one in ``versions`` is left as it is and reported in ``conflicts``."""
        def run(op_id: str) -> Response:
            grid = caller.ops.variants.matrix(product_id, body.row_attribute, body.column_attribute)
            cells = tuple(dataclasses.replace(c, versions=tuple(body.versions.get(v, n) for v, n in
                                                                zip(c.variant_ids, c.versions, strict=True)))
                          for c in grid.cells)
            grid = dataclasses.replace(grid, cells=cells)
            prices = [MatrixPrice(c.row, c.column, Decimal(c.price.strip())) for c in body.cells]
            result = caller.ops.variants.save_matrix_prices(grid, prices, keep_prices=body.keep_prices, op_id=op_id)
            return JSONResponse(result.to_dict())

        return idempotent(request, caller, {"product_id": product_id, **body.model_dump(mode="json")}, run)


# -- thresholds and images on many variants ------------------------------------------------------------------
def register_bulk_settings(router: APIRouter) -> None:
    @route(router, "POST", "/thresholds/preview", "variants.preview_thresholds", tags=[TAG])
    def preview_thresholds(body: Thresholds, *, caller: Caller) -> dict[str, Any]:
        """How many stock levels (variant × location) a low-stock threshold changes, the first of them, and
        the ``stamp`` to apply exactly this."""
        preview = caller.ops.variants.preview_thresholds(body.target.target(), body.threshold,
                                                         list(body.location_ids) if body.location_ids else None)
        out = plain(preview)
        out["target"] = body.target.model_dump(mode="json")
        return out

    @route(router, "POST", "/thresholds/apply", "variants.apply_thresholds", tags=[TAG],
           responses=IDEMPOTENT_RESPONSES)
    def apply_thresholds(body: ThresholdsApply, request: Request, *, caller: Caller) -> Response:
        """Set the threshold as one changeset; with the preview's ``stamp`` only the levels it showed."""
        def run(op_id: str) -> Response:
            result = caller.ops.variants.apply_thresholds(
                body.target.target(), body.threshold, list(body.location_ids) if body.location_ids else None,
                stamp=body.stamp, description=body.description, op_id=op_id)
            return JSONResponse(result.to_dict())

        return idempotent(request, caller, body, run)

    @route(router, "POST", "/image-assignment/preview", "variants.preview_image_assignment", tags=[TAG])
    def preview_image_assignment(body: ImageAssignment, *, caller: Caller) -> dict[str, Any]:
        """Per variant, the first image of its product whose file name contains ``match`` (none: the main
        image): how many change, the first of them, the variants without such an image, and the stamp."""
        preview = caller.ops.variants.preview_image_assignment(body.target.target(), body.match)
        out = plain(preview)
        out["target"] = body.target.model_dump(mode="json")
        out["invalid"] = problems_of(preview.invalid)
        return out

    @route(router, "POST", "/image-assignment/apply", "variants.apply_image_assignment", tags=[TAG],
           responses=IDEMPOTENT_RESPONSES)
    def apply_image_assignment(body: ImageAssignmentApply, request: Request, *, caller: Caller) -> Response:
        """Show the matching images as one revertible changeset; with the preview's ``stamp`` only the
        variants it showed."""
        def run(op_id: str) -> Response:
            result = caller.ops.variants.apply_image_assignment(body.target.target(), body.match, stamp=body.stamp,
                                                                description=body.description, op_id=op_id)
            return JSONResponse(result.to_dict())

        return idempotent(request, caller, body, run)


__all__ = ["current_on_conflict", "plain", "problems_of", "register", "text_field"]
