"""Product templates: saved starting points for new products, and creating a product from one.

A template holds what products of one kind share: vendor, product type, category, tags, status, the
options its variants are made of (its own ``attributes``, else those of a variant template), a SKU
pattern, a description template and SEO templates (Jinja sources rendered in the sandbox of
``services.templating``) and a default price and cost.

``plan_product`` works out, without writing, the product a template makes for a title: its fields, the
rendered texts and every variant (SKU, options, price), with every problem named by field.
``create_product`` plans again and writes the product and its variants through
``catalog.create_product``: one transaction, audited like any new product.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import Attribute, AttributeValue, Category, ProductStatus, ProductTemplate, Variant
from backoffice.models.variants import VariantTemplate
from backoffice.services import catalog
from backoffice.services.base import (Actor, Change, ConflictError, NotFound, ValidationError, audit, claim_operation,
                                      jsonable, store_operation_result)
from backoffice.services.templating import check_template, render_template
from backoffice.services.variants.attributes import get_template as get_variant_template
from backoffice.services.variants.sku_pattern import SkuPattern

TEMPLATE_FIELDS = ("name", "vendor", "product_type", "category_id", "tags", "status", "attributes",
                   "variant_template_id", "sku_pattern", "description_template", "seo_title_template",
                   "seo_description_template", "default_price", "default_cost")
_TEXT_LIMITS = {"name": 200, "vendor": 200, "product_type": 200, "sku_pattern": 200, "seo_title_template": 500}
MAX_VARIANTS = 500        # variants one new product may get from a template
MAX_ID = 2**63 - 1        # ids beyond a BIGINT name no row (and must not reach the database)


@dataclass(frozen=True)
class ProductTemplateInfo:
    id: int
    name: str
    vendor: str
    product_type: str
    category_id: int | None
    tags: list[str]
    status: str
    attributes: dict[str, list[str]]
    variant_template_id: int | None
    sku_pattern: str
    description_template: str
    seo_title_template: str
    seo_description_template: str
    default_price: Decimal | None
    default_cost: Decimal | None
    version: int

    def values(self) -> dict[str, Any]:
        """The editable fields, as ``save_template`` takes them."""
        return {name: getattr(self, name) for name in TEMPLATE_FIELDS}


@dataclass(frozen=True)
class PlannedVariant:
    sku: str
    title: str
    options: dict[str, str]
    price: Decimal | None
    cost: Decimal | None


@dataclass
class ProductPlan:
    """What a template makes for one title: nothing is written."""

    template: str
    handle: str
    values: dict[str, Any]                   # product fields (description and SEO texts rendered)
    variants: list[PlannedVariant] = field(default_factory=list)
    problems: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class CreatedProduct:
    product_id: int
    handle: str
    version: int
    variant_ids: list[int]
    skus: list[str]


def _info(t: ProductTemplate) -> ProductTemplateInfo:
    return ProductTemplateInfo(t.id, t.name, t.vendor, t.product_type, t.category_id, list(t.tags or []), t.status,
                               {k: list(v) for k, v in (t.attributes or {}).items()}, t.variant_template_id,
                               t.sku_pattern, t.description_template, t.seo_title_template,
                               t.seo_description_template, t.default_price, t.default_cost, t.version)


# -- reads ------------------------------------------------------------------------------------------------
def list_templates(db: Database) -> list[ProductTemplateInfo]:
    with db.read() as session:
        return [_info(t) for t in session.scalars(select(ProductTemplate).order_by(ProductTemplate.name))]


def find_template(db: Database, name_or_id: str | int) -> ProductTemplateInfo:
    """By id or exact name (any case); NotFound names the templates there are."""
    with db.read() as session:
        t = _find(session, name_or_id)
        return _info(t)


def _find(session: Session, name_or_id: str | int) -> ProductTemplate:
    t = None
    if (isinstance(name_or_id, int) or str(name_or_id).isdigit()) and 0 < int(name_or_id) <= MAX_ID:
        t = session.get(ProductTemplate, int(name_or_id))
    if t is None:
        wanted = str(name_or_id).strip().lower()
        t = next((x for x in session.scalars(select(ProductTemplate)) if x.name.lower() == wanted), None)
    if t is None:
        names = ", ".join(session.scalars(select(ProductTemplate.name).order_by(ProductTemplate.name))) or "none yet"
        raise NotFound(f"there is no product template {name_or_id!r} (templates: {names})")
    return t


# -- validation -------------------------------------------------------------------------------------------
def clean_template_values(values: dict[str, Any], problems: list) -> dict[str, Any]:
    """The fields of a template checked and normalised; problems named ("template", field, why)."""
    row = "template"
    unknown = sorted(set(values) - set(TEMPLATE_FIELDS))
    for name in unknown:
        problems.append((row, name, f"is not a template field ({', '.join(TEMPLATE_FIELDS)})"))
    out: dict[str, Any] = {}
    for name, limit in _TEXT_LIMITS.items():
        if name in values:
            v = values[name] if values[name] is not None else ""
            if not isinstance(v, str):
                problems.append((row, name, f"must be text, not {type(v).__name__}"))
                continue
            v = v.strip()
            if len(v) > limit:
                problems.append((row, name, f"is {len(v)} characters long; at most {limit}"))
            out[name] = v
    if "name" in out and not out["name"]:
        problems.append((row, "name", "must not be empty"))
    for name in ("description_template", "seo_description_template"):
        if name in values:
            v = values[name] if values[name] is not None else ""
            if not isinstance(v, str):
                problems.append((row, name, f"must be text, not {type(v).__name__}"))
            else:
                out[name] = v
    for name in ("description_template", "seo_title_template", "seo_description_template"):
        if out.get(name):
            try:
                check_template(out[name], field_name=name)
            except ValidationError as exc:
                problems.extend((row, p[1], p[2]) for p in exc.problems)
    if "status" in values:
        try:
            out["status"] = ProductStatus(values["status"] or "draft").value
        except ValueError:
            allowed = ", ".join(s.value for s in ProductStatus)
            problems.append((row, "status", f"{values['status']!r} is not one of {allowed}"))
    if "tags" in values:
        tags = values["tags"] or []
        if isinstance(tags, str):
            tags = [t for t in (s.strip() for s in tags.split(",")) if t]
        if not isinstance(tags, list) or any(not isinstance(t, str) or not t.strip() or len(t) > 100 for t in tags):
            problems.append((row, "tags", f"{tags!r} must be a list of tags of at most 100 characters"))
        else:
            out["tags"] = sorted({t.strip() for t in tags})
    if "attributes" in values:
        attrs = values["attributes"] or {}
        good = isinstance(attrs, dict) and all(
            isinstance(k, str) and k.strip() and isinstance(v, list) and v
            and all(isinstance(x, str) and x.strip() for x in v) for k, v in attrs.items())
        if not good:
            problems.append((row, "attributes", "must map attribute codes to lists of values "
                                                "({\"size\": [\"S\", \"M\"]})"))
        else:
            out["attributes"] = {k.strip().lower(): [x.strip() for x in v] for k, v in attrs.items()}
    for name in ("category_id", "variant_template_id"):
        if name in values:
            v = values[name]
            if v in (None, ""):
                out[name] = None
            elif (isinstance(v, bool) or not isinstance(v, int) and not (isinstance(v, str) and v.isdigit())
                  or not 0 < int(v) <= MAX_ID):
                problems.append((row, name, f"{v!r} must be an id"))
            else:
                out[name] = int(v)
    for name in ("default_price", "default_cost"):
        if name in values:
            out[name] = catalog.parse_money(values[name], row, name, problems, required=False)
    return out


def _check_references(session: Session, clean: dict[str, Any], problems: list) -> None:
    if clean.get("category_id") is not None and session.get(Category, clean["category_id"]) is None:
        problems.append(("template", "category_id", f"category {clean['category_id']} does not exist"))
    if clean.get("variant_template_id") is not None and session.get(VariantTemplate, clean["variant_template_id"]) is None:
        problems.append(("template", "variant_template_id",
                         f"variant template {clean['variant_template_id']} does not exist"))
    for code, wanted in (clean.get("attributes") or {}).items():
        attribute = session.scalar(select(Attribute).where(Attribute.code == code))
        if attribute is None:
            known = ", ".join(session.scalars(select(Attribute.code).order_by(Attribute.code))) or "none yet"
            problems.append(("template", f"attributes.{code}", f"there is no attribute {code!r} (attributes: {known})"))
            continue
        have = set(session.scalars(select(AttributeValue.value).where(AttributeValue.attribute_id == attribute.id)))
        missing = [v for v in wanted if v not in have]
        if missing:
            problems.append(("template", f"attributes.{code}",
                             f"{', '.join(map(repr, missing))} not values of {code!r} ({', '.join(sorted(have)) or 'none'})"))


# -- writes -----------------------------------------------------------------------------------------------
def save_template(db: Database, actor: Actor, values: dict[str, Any], *, template_id: int | None = None,
                  expected_version: int | None = None, operation_id: str | None = None) -> ProductTemplateInfo:
    """Create a template (no ``template_id``) or change one; a stale ``expected_version`` is a
    ConflictError, a name used by another template or a bad field a ValidationError naming the field."""
    problems: list = []
    clean = clean_template_values(dict(values), problems)
    if template_id is None and "name" not in clean and not problems:
        problems.append(("template", "name", "is required"))
    if problems:
        raise ValidationError(problems)

    if template_id is not None and not 0 < template_id <= MAX_ID:
        raise NotFound(f"product template {template_id} does not exist")

    def write(session: Session) -> ProductTemplateInfo:
        previous = claim_operation(session, operation_id, "save_product_template", actor)
        if previous is not None:   # a retry: the template as it is now, nothing written again
            again = session.get(ProductTemplate, previous.get("id"))
            if again is None:
                raise NotFound(f"product template {previous.get('id')} does not exist any more")
            return _info(again)
        problems: list = []
        _check_references(session, clean, problems)
        if "name" in clean:
            other = session.scalar(select(ProductTemplate.id).where(ProductTemplate.name == clean["name"]))
            if other is not None and other != template_id:
                problems.append(("template", "name", f"{clean['name']!r} is already the name of another template"))
        if problems:
            raise ValidationError(problems)
        if template_id is None:
            t = ProductTemplate(**{"tags": [], "attributes": {}, **clean})
            session.add(t)
            session.flush()
            audit(session, actor, "product_template", t.id, "create", None, jsonable(_info(t).values()), operation_id)
            store_operation_result(session, operation_id, {"id": t.id})
            return _info(t)
        t = session.scalar(select(ProductTemplate).where(ProductTemplate.id == template_id).with_for_update())
        if t is None:
            raise NotFound(f"product template {template_id} does not exist")
        before = jsonable(_info(t).values())
        if expected_version is not None and t.version != expected_version:
            raise ConflictError("product_template", t.id, repr(t.name), expected_version, t.version, before)
        for name, value in clean.items():
            setattr(t, name, value)
        session.flush()
        after = jsonable(_info(t).values())
        changed = [k for k in after if after[k] != before[k]]
        if changed:
            audit(session, actor, "product_template", t.id, "update", {k: before[k] for k in changed},
                  {k: after[k] for k in changed}, operation_id)
        store_operation_result(session, operation_id, {"id": t.id})
        return _info(t)

    try:
        return db.run_write(write)
    except IntegrityError as exc:   # a concurrent save took the name first
        raise ValidationError([("template", "name", f"{clean.get('name')!r} is already the name of another template")]) from exc


def delete_template(db: Database, actor: Actor, template_id: int, *, expected_version: int | None = None,
                    operation_id: str | None = None) -> bool:
    """Delete a template (products made from it keep what they were given). False when it was gone already."""

    if not 0 < template_id <= MAX_ID:
        return False

    def write(session: Session) -> bool:
        t = session.scalar(select(ProductTemplate).where(ProductTemplate.id == template_id).with_for_update())
        if t is None:
            return False
        if expected_version is not None and t.version != expected_version:
            raise ConflictError("product_template", t.id, repr(t.name), expected_version, t.version)
        audit(session, actor, "product_template", t.id, "delete", jsonable(_info(t).values()), None, operation_id)
        session.delete(t)
        return True

    return db.run_write(write)


# -- a product from a template ----------------------------------------------------------------------------
OVERRIDABLE = ("vendor", "product_type", "category_id", "tags", "status", "price", "cost", "description",
               "seo_title", "seo_description")


def plan_product(db: Database, template: str | int, *, title: str, handle: str | None = None,
                 overrides: dict[str, Any] | None = None) -> ProductPlan:
    """The product ``template`` makes for ``title`` (``overrides``: vendor, product_type, category_id, tags,
    status, price, cost, or the description/SEO texts as they are), with its variants and every problem."""
    with db.read() as session:
        t = _info(_find(session, template))
        return _plan(session, db, t, title, handle, dict(overrides or {}))


def _plan(session: Session, db: Database, t: ProductTemplateInfo, title: str, handle: str | None,
          overrides: dict[str, Any]) -> ProductPlan:
    problems: list = []
    title = (title or "").strip()
    if not title:
        problems.append(("product", "title", "must not be empty"))
    handle = (handle or "").strip() or catalog.handle_from_title(title)
    if not catalog.HANDLE_RE.match(handle or ""):
        problems.append(("product", "handle", f"{handle!r} must be lower-case letters, digits and single dashes"))
    for name in sorted(set(overrides) - set(OVERRIDABLE)):
        problems.append(("product", name, f"cannot be given here ({', '.join(OVERRIDABLE)})"))
    price_given = overrides.get("price")
    price = catalog.parse_money(price_given if price_given not in (None, "") else t.default_price,
                                "product", "price", problems, required=False)
    cost_given = overrides.get("cost")
    cost = catalog.parse_money(cost_given if cost_given not in (None, "") else t.default_cost,
                               "product", "cost", problems, required=False)
    if price is None and not any(p[1] == "price" for p in problems):
        problems.append(("product", "price", f"template {t.name!r} has no default price: give one"))

    options: dict[str, list[str]] = dict(t.attributes)
    exclusions: list[dict[str, str]] = []
    pattern = t.sku_pattern
    if t.variant_template_id is not None:
        try:
            vt = get_variant_template(db, t.variant_template_id)
            if not options:
                options = dict(vt.options)
                exclusions = list(vt.exclusions)
            pattern = pattern or vt.sku_pattern
        except NotFound:
            problems.append((f"template {t.name}", "variant_template_id",
                             f"variant template {t.variant_template_id} does not exist"))
    pattern = pattern or "{handle}" + "".join(f"-{{{code}}}" for code in options)
    sku_pattern = SkuPattern(pattern)
    try:
        sku_pattern.check(set(options))
    except ValidationError as exc:
        problems.extend((f"template {t.name}", "sku_pattern", f"{p[1]}: {p[2]}" if p[1] else p[2]) for p in exc.problems)

    values: dict[str, Any] = {"handle": handle, "title": title, "vendor": t.vendor, "product_type": t.product_type,
                              "status": t.status, "category_id": t.category_id, "tags": list(t.tags)}
    given = {k: v for k, v in overrides.items() if k in ("vendor", "product_type", "status", "category_id", "tags",
                                                            "description", "seo_title", "seo_description")}
    local: list = []
    if "tags" in given and not isinstance(given["tags"], str | list):
        local.append(("product", "tags", f"must be a list of tags or comma-separated text, not {type(given['tags']).__name__}"))
    checked = catalog.clean_product_values({k: v for k, v in given.items() if not (k == "tags" and local)}, "product",
                                           local, partial=True)   # each override's type and length
    if "category_id" in given and given["category_id"] is not None and (
            isinstance(given["category_id"], bool) or not isinstance(given["category_id"], int)
            or not 0 < given["category_id"] <= MAX_ID):
        local.append(("product", "category_id", f"{given['category_id']!r} must be a category id"))
    for text_field in ("vendor", "product_type", "description", "seo_title", "seo_description"):
        if text_field in given and not isinstance(given[text_field], str | None):
            local.append(("product", text_field, f"must be text, not {type(given[text_field]).__name__}"))
    problems.extend(p for p in local if p not in problems)
    for name in ("vendor", "product_type", "status", "category_id", "tags"):
        if name in given and not any(p[1] == name for p in local):
            value = checked.get(name, given[name])
            values[name] = value.value if hasattr(value, "value") else value

    variants: list[PlannedVariant] = []
    codes = list(options)
    total = math.prod(len(v) for v in options.values())
    combos: list[dict[str, str]] = [{}]
    if total > MAX_VARIANTS:    # counted before any is made: a template of many options must not fill the memory
        problems.append((f"template {t.name}", "attributes", f"makes {total:,} variants; at most {MAX_VARIANTS}"))
        combos = []
    elif codes:
        combos = [dict(zip(codes, picked, strict=True)) for picked in itertools.product(*options.values())]
    combos = [c for c in combos if not any(ex and all(c.get(k) == v for k, v in ex.items()) for ex in exclusions)]
    if not any(p[1] == "sku_pattern" for p in problems):
        for combo in combos:
            sku = sku_pattern.render({"handle": handle, "title": title, **combo})
            variants.append(PlannedVariant(sku, " / ".join(combo.values()), combo, price, cost))
        seen: set[str] = set()
        for v in variants:
            where = f"variant {v.title or v.sku}"
            if not catalog.SKU_RE.match(v.sku) or len(v.sku) > 100:
                problems.append((where, "sku", f"{v.sku!r} is not a valid SKU (letters, digits, . _ / -; at most 100)"))
            elif v.sku in seen:
                problems.append((where, "sku", f"{v.sku!r} is made twice: change the template's SKU pattern"))
            seen.add(v.sku)
        taken = set(session.scalars(select(Variant.sku).where(Variant.sku.in_(list(seen))))) if seen else set()
        for v in variants:
            if v.sku in taken:
                problems.append((f"variant {v.title or v.sku}", "sku", f"{v.sku!r} is already used by another variant"))
    if catalog.HANDLE_RE.match(handle or ""):
        from backoffice.models import Product

        if session.scalar(select(Product.id).where(Product.handle == handle)) is not None:
            problems.append(("product", "handle", f"{handle!r} is already used by another product"))

    context = {"title": title, "handle": handle, "vendor": values["vendor"], "product_type": values["product_type"],
               "tags": list(values["tags"] or []), "options": options, "price": "" if price is None else str(price),
               "variants": [{"sku": v.sku, "title": v.title, "options": v.options} for v in variants],
               "attributes": {code: ", ".join(values_) for code, values_ in options.items()},
               "template": t.name}
    for out_field, source_field in (("description", "description_template"), ("seo_title", "seo_title_template"),
                                    ("seo_description", "seo_description_template")):
        if out_field in given:
            values[out_field] = given[out_field] if isinstance(given[out_field], str) else ""
            continue
        source = getattr(t, source_field)
        if not source:
            continue
        try:
            values[out_field] = render_template(source, context, row=f"template {t.name}", field_name=source_field).strip()
        except ValidationError as exc:
            problems.extend(exc.problems)
    limits = {"seo_title": 255, "seo_description": 500}
    for name, limit in limits.items():
        if len(values.get(name) or "") > limit:
            problems.append(("product", name, f"renders {len(values[name])} characters; at most {limit}"))
    final: list = []
    catalog.clean_product_values(dict(values), "product", final, partial=False)
    problems.extend(p for p in final if p not in problems and p[1] not in ("handle", "title"))
    return ProductPlan(t.name, handle, jsonable(values), variants, problems)


def create_product(db: Database, actor: Actor, template: str | int, *, title: str, handle: str | None = None,
                   overrides: dict[str, Any] | None = None, operation_id: str | None = None) -> CreatedProduct:
    """Create the product the template makes for ``title``, with its variants, in one transaction
    (``catalog.create_product``: audited, the same operation id twice creates once). Any problem
    refuses the whole product (ValidationError naming each field)."""
    if operation_id is not None:
        from backoffice.services.base import applied_result

        previous = applied_result(db, operation_id, "create_product")
        if previous is not None:
            return _created(Change.from_dict(previous))
    plan = plan_product(db, template, title=title, handle=handle, overrides=overrides)
    if plan.problems:
        raise ValidationError(plan.problems)
    variants = [{"sku": v.sku, "price": v.price, "cost": v.cost, "title": v.title, "options": dict(v.options)}
                for v in plan.variants]
    change = catalog.create_product(db, actor, values=dict(plan.values), variants=variants, operation_id=operation_id)
    return _created(change)


def _created(change: Change) -> CreatedProduct:
    after = change.after or {}
    return CreatedProduct(change.entity_id, after.get("handle", ""), change.version or 1,
                          [c.entity_id for c in change.children], [(c.after or {}).get("sku", "") for c in change.children])


def add_demo_templates(db: Database, actor: Actor) -> int:
    """Two templates on a freshly made demo store (when it has the demo's size and colour attributes), so
    Merchandising → Product templates… is not empty. Returns the templates made."""
    with db.read() as session:
        values = {code: set(session.scalars(select(AttributeValue.value).join(Attribute)
                                            .where(Attribute.code == code)))
                  for code in ("size", "colour")}
        have = set(session.scalars(select(ProductTemplate.name)))   # a store filled again keeps its templates
    made = 0
    if {"S", "M", "L"} <= values["size"] and "T-shirt" not in have:
        save_template(db, actor, {
            "name": "T-shirt", "product_type": "T-Shirt", "tags": ["new"], "status": "draft",
            "attributes": {"size": ["S", "M", "L"]}, "default_price": "24.99", "default_cost": "8.50",
            "description_template": "{{ title }}: a soft everyday tee, in sizes {{ attributes.size }}.",
            "seo_title_template": "{{ title }} | T-shirts"})
        made += 1
    if {"S", "M", "L"} <= values["size"] and {"Black", "Navy"} <= values["colour"] and "Knit jumper" not in have:
        save_template(db, actor, {
            "name": "Knit jumper", "product_type": "Jumper", "tags": ["knitwear"], "status": "draft",
            "attributes": {"size": ["S", "M", "L"], "colour": ["Black", "Navy"]}, "default_price": "79.00",
            "default_cost": "31.00", "sku_pattern": "{handle}-{colour:3}-{size}",
            "description_template": "{{ title }} in {{ attributes.colour }}. Sizes {{ attributes.size }}.",
            "seo_title_template": "{{ title }} | Knitwear"})
        made += 1
    return made
