"""Description templates: saved, rendered per product in the sandbox, applied in bulk as one changeset.

A template (``content_templates``) writes one product field: ``description``, ``seo_title`` or
``seo_description``. Its fields come from the product and its variants (``template_values``, listed in
``FIELDS`` and docs/content.md); product values are plain text to the template, so ``{{ 7*7 }}`` inside a
title comes out as those characters, never as 49.

``plan`` renders the template for every product of a target (a grid filter or a selection, the bulk
edits' ``Target``) and returns the changes, the products left as they are and the products it cannot
render (each named with the reason); nothing is written. ``apply_template`` plans again inside the write
transaction on the rows the preview showed (their versions): rows changed since are conflicts, left as
they are; the rest become one changeset of kind "template" (revertible like any row changeset).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import (
    Attribute,
    AttributeValue,
    ContentTemplate,
    Product,
    ProductTag,
    Variant,
    VariantOption,
)
from backoffice.models.content import TEMPLATE_FIELDS
from backoffice.services.base import (
    Actor,
    Change,
    ConflictError,
    NotFound,
    ServiceError,
    ValidationError,
    audit_change,
    chunked_in,
    claim_operation,
    jsonable,
    store_operation_result,
)
from backoffice.services.bulk import Target
from backoffice.services.catalog import MAX_LENGTHS
from backoffice.services.changesets import ApplyResult, Conflict, RowChange, apply_in_session, replayed
from backoffice.services.content_checks import product_ids_of
from backoffice.services.importexport.common import category_paths
from backoffice.services.templating import check_template, render_template
from backoffice.services.wording import money_text

KIND = "template"          # the changesets' kind
CHUNK = 500                # products read and rendered at a time
SAMPLE = 50

# The fields a template may use, with what they hold (the editor lists them; docs/content.md too).
FIELDS: dict[str, str] = {
    "handle": "the product's handle (text)",
    "title": "the product's title",
    "vendor": "the vendor ('' when none)",
    "product_type": "the product type ('' when none)",
    "status": "draft, active or archived",
    "category.name": "the category's own name ('' when none)",
    "category.path": "the category with its parents, \"Apparel > Shirts\" ('' when none)",
    "tags": "the tags, a list (tags|join(', '))",
    "description": "the current description",
    "seo_title": "the current SEO title",
    "seo_description": "the current SEO description",
    "attributes": "attribute name → list of its values over the variants (attributes.Colour|join(', '))",
    "variants": "list of variants, each with sku, title, price (money text) and options (name → value)",
    "min_price": "the lowest variant price as money text ('' without variants)",
    "max_price": "the highest variant price as money text",
}


class Cancelled(ServiceError):
    pass


@dataclass(frozen=True)
class TemplateInfo:
    id: int
    name: str
    target_field: str
    source: str
    note: str
    version: int


@dataclass
class Plan:
    template_name: str
    target_field: str
    changes: list[RowChange]
    considered: int
    unchanged: int
    sample: list[tuple[str, str, str]]          # (handle, before, after), the first 50 changes
    invalid: list[tuple[str, str, str]]         # (product handle, field, why it cannot be rendered)
    conflicts: list[Conflict] = field(default_factory=list)
    invalid_versions: dict[int, int] = field(default_factory=dict)   # product id -> version, of the invalid rows

    @property
    def versions(self) -> dict[tuple[str, int], int]:
        """The products the plan changes and those it cannot render, with the versions read: an apply with
        them renders both again (so rows it cannot render still refuse it unless skipped)."""
        out = {("product", pid): version for pid, version in self.invalid_versions.items()}
        out.update({(c.entity, c.entity_id): c.expected_version for c in self.changes})
        return out


# -- saved templates ----------------------------------------------------------------------------------------
def _info(t: ContentTemplate) -> TemplateInfo:
    return TemplateInfo(t.id, t.name, t.target_field, t.source, t.note, t.version)


def list_templates(db: Database) -> list[TemplateInfo]:
    with db.read() as session:
        return [_info(t) for t in session.scalars(select(ContentTemplate).order_by(ContentTemplate.name))]


def get_template(db: Database, name: str) -> TemplateInfo:
    with db.read() as session:
        t = session.scalars(select(ContentTemplate).where(ContentTemplate.name == name.strip())).first()
        if t is None:
            raise NotFound(f"description template {name.strip()!r} does not exist")
        return _info(t)


def _clean(name: str, target_field: str, source: str) -> tuple[str, str]:
    name = (name or "").strip()
    problems = []
    if not name:
        problems.append(("template", "name", "must not be empty"))
    elif len(name) > 100:
        problems.append((f"template {name[:40]}…", "name", "is longer than 100 characters"))
    if target_field not in TEMPLATE_FIELDS:
        problems.append((f"template {name}", "field", f"{target_field!r} is not one of {', '.join(TEMPLATE_FIELDS)}"))
    if not (source or "").strip():
        problems.append((f"template {name}", "source", "must not be empty"))
    if problems:
        raise ValidationError(problems)
    try:
        check_template(source, field_name="source")
    except ValidationError as exc:
        raise ValidationError([(f"template {name}", f, why) for _, f, why in exc.problems]) from None
    return name, target_field


def _write(db: Database, actor: Actor, action: str, operation_id: str | None,
           body: Callable[[Session], Change]) -> Change:
    def claim_and_write(session: Session) -> Change:
        previous = claim_operation(session, operation_id, action, actor)
        if previous is not None:
            return Change.from_dict(previous)
        change = body(session)
        audit_change(session, actor, change, operation_id)
        store_operation_result(session, operation_id, change.to_dict())
        return change

    return db.run_write(claim_and_write)


def save_template(db: Database, actor: Actor, *, name: str, target_field: str, source: str, note: str = "",
                  expected_version: int | None = None, operation_id: str | None = None) -> Change:
    """Create the template ``name`` or replace its field and source (version-checked when
    ``expected_version`` is given). The source must compile; it is not rendered here."""
    name, target_field = _clean(name, target_field, source)

    def body(session: Session) -> Change:
        t = session.scalars(select(ContentTemplate).where(ContentTemplate.name == name).with_for_update()).first()
        after = {"name": name, "target_field": target_field, "source": source, "note": note[:500]}
        if t is None:
            t = ContentTemplate(name=name, target_field=target_field, source=source, note=note[:500])
            session.add(t)
            session.flush()
            return Change("content_template", t.id, "create", t.version, None, after)
        if expected_version is not None and t.version != expected_version:
            raise ConflictError("content_template", t.id, name, expected_version, t.version)
        before = {"name": t.name, "target_field": t.target_field, "source": t.source, "note": t.note}
        t.target_field, t.source, t.note = target_field, source, note[:500]
        session.flush()
        return Change("content_template", t.id, "update", t.version, before, after)

    return _write(db, actor, "save_content_template", operation_id, body)


def delete_template(db: Database, actor: Actor, name: str, *, operation_id: str | None = None) -> Change:
    def body(session: Session) -> Change:
        t = session.scalars(select(ContentTemplate).where(ContentTemplate.name == name.strip()).with_for_update()).first()
        if t is None:
            raise NotFound(f"description template {name.strip()!r} does not exist")
        before = {"name": t.name, "target_field": t.target_field, "source": t.source}
        tid = t.id
        session.delete(t)
        session.flush()
        return Change("content_template", tid, "delete", None, before, None)

    return _write(db, actor, "delete_content_template", operation_id, body)


# -- what a template sees -----------------------------------------------------------------------------------
def template_values(session: Session, product_ids: list[int], categories: dict[int, str] | None = None,
                    *, lock: bool = False) -> dict[int, tuple[int, dict[str, Any]]]:
    """``{product id: (version, the template's fields)}`` for the products, read in a few statements."""
    if categories is None:
        categories = category_paths(session)
    out: dict[int, tuple[int, dict[str, Any]]] = {}
    for chunk in [product_ids[i:i + CHUNK] for i in range(0, len(product_ids), CHUNK)]:
        products = []
        for cond in chunked_in(session, Product.id, chunk):
            stmt = select(Product.id, Product.version, Product.handle, Product.title, Product.vendor,
                          Product.product_type, Product.status, Product.category_id, Product.description,
                          Product.seo_title, Product.seo_description).where(cond).order_by(Product.id)
            products.extend(session.execute(stmt.with_for_update() if lock else stmt))
        tags: dict[int, list[str]] = defaultdict(list)
        variants: dict[int, list[dict[str, Any]]] = defaultdict(list)
        prices: dict[int, list[Any]] = defaultdict(list)
        options: dict[int, dict[str, str]] = defaultdict(dict)
        values: dict[int, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
        for cond in chunked_in(session, ProductTag.product_id, chunk):
            for pid, tag in session.execute(select(ProductTag.product_id, ProductTag.tag).where(cond)
                                            .order_by(ProductTag.tag)):
                tags[pid].append(tag)
        for cond in chunked_in(session, Variant.product_id, chunk):
            option_rows = session.execute(
                select(Variant.id, Variant.product_id, Attribute.name, Attribute.position, AttributeValue.value,
                       AttributeValue.position)
                .join(VariantOption, VariantOption.variant_id == Variant.id)
                .join(Attribute, Attribute.id == VariantOption.attribute_id)
                .join(AttributeValue, AttributeValue.id == VariantOption.attribute_value_id)
                .where(cond).order_by(Attribute.position, Attribute.id))
            for vid, pid, attr, _apos, value, vpos in option_rows:
                options[vid][attr] = value
                values[pid][attr].setdefault(value, vpos)
            for vid, pid, sku, title, price in session.execute(
                    select(Variant.id, Variant.product_id, Variant.sku, Variant.title, Variant.price)
                    .where(cond).order_by(Variant.product_id, Variant.position, Variant.id)):
                variants[pid].append({"sku": sku, "title": title or "", "price": money_text(price),
                                      "options": dict(options.get(vid, {}))})
                prices[pid].append(price)
        for pid, version, handle, title, vendor, ptype, status, category_id, description, seo_title, seo_desc in products:
            path = categories.get(category_id, "") if category_id is not None else ""
            fields = {
                "handle": handle, "title": title, "vendor": vendor or "", "product_type": ptype or "",
                "status": status.value if hasattr(status, "value") else str(status),
                "category": {"name": path.rsplit(" > ", 1)[-1] if path else "", "path": path},
                "tags": list(tags.get(pid, [])), "description": description or "", "seo_title": seo_title or "",
                "seo_description": seo_desc or "",
                "attributes": {attr: [v for v, _ in sorted(vals.items(), key=lambda kv: (kv[1], kv[0]))]
                               for attr, vals in values.get(pid, {}).items()},
                "variants": variants.get(pid, []),
                "min_price": money_text(min(prices[pid])) if prices.get(pid) else "",
                "max_price": money_text(max(prices[pid])) if prices.get(pid) else "",
            }
            out[pid] = (version, fields)
    return out


def render_for(source: str, target_field: str, values: dict[str, Any]) -> str:
    """The rendered text for one product (ValidationError naming the product and the reason)."""
    row = f"product {values.get('handle', '')}"
    text = render_template(source, values, row=row, field_name=target_field).strip()
    limit = MAX_LENGTHS.get(target_field)
    if limit is not None and len(text) > limit:
        raise ValidationError([(row, target_field, f"renders {len(text):,} characters; the field holds {limit:,}")])
    return text


def render_sample(db: Database, source: str, target_field: str, handle: str) -> tuple[str, str]:
    """(current value, rendered text) of the product ``handle``: the editor's live preview."""
    check_template(source, field_name="source")
    if target_field not in TEMPLATE_FIELDS:
        raise ValidationError([("template", "field", f"{target_field!r} is not one of {', '.join(TEMPLATE_FIELDS)}")])
    with db.read() as session:
        pid = session.scalar(select(Product.id).where(Product.handle == handle.strip()))
        if pid is None:
            raise NotFound(f"product {handle.strip()!r} does not exist")
        _version, values = template_values(session, [pid])[pid]
    return values[target_field], render_for(source, target_field, values)


# -- plan and apply -----------------------------------------------------------------------------------------
def _template(session: Session, name: str) -> ContentTemplate:
    t = session.scalars(select(ContentTemplate).where(ContentTemplate.name == name.strip())).first()
    if t is None:
        raise NotFound(f"description template {name.strip()!r} does not exist")
    return t


def _plan(session: Session, t: ContentTemplate, ids: list[int], previewed: dict[tuple[str, int], int] | None,
          progress: Callable[[float | None, str | None], None] | None = None,
          cancel: Callable[[], bool] | None = None, lock: bool = False) -> Plan:
    source, target = t.source, t.target_field
    check_template(source, field_name="source")
    plan = Plan(t.name, target, [], len(ids), 0, [], [])
    categories = category_paths(session)
    for start in range(0, len(ids), CHUNK):
        if cancel is not None and cancel():
            raise Cancelled("the preview was cancelled")
        chunk = ids[start:start + CHUNK]
        found = template_values(session, chunk, categories, lock=lock)
        for pid in chunk:
            if pid not in found:
                continue            # deleted since: nothing to write
            version, values = found[pid]
            handle = values["handle"]
            old = values[target]
            try:
                new = render_for(source, target, values)
            except ValidationError as exc:
                if previewed is not None and previewed.get(("product", pid)) != version:
                    plan.conflicts.append(Conflict("product", pid, handle, target, None, None, old, version))
                else:
                    plan.invalid.extend(exc.problems)
                    plan.invalid_versions[pid] = version
                continue
            if previewed is not None and previewed.get(("product", pid)) != version:
                plan.conflicts.append(Conflict("product", pid, handle, target, None, jsonable(new), old, version))
                continue
            if new == old:
                plan.unchanged += 1
                continue
            plan.changes.append(RowChange("product", pid, version, {target: new}, {target: old}))
            if len(plan.sample) < SAMPLE:
                plan.sample.append((handle, old, new))
        if progress is not None:
            progress(min(1.0, (start + len(chunk)) / max(1, len(ids))),
                     f"Rendered {min(start + len(chunk), len(ids)):,} of {len(ids):,} products")
    return plan


def plan(db: Database, template_name: str, target: Target, *,
         progress: Callable[[float | None, str | None], None] | None = None,
         cancel: Callable[[], bool] | None = None) -> Plan:
    """What applying the template to the target's products would change; nothing is written."""
    with db.read() as session:
        t = _template(session, template_name)
        ids = product_ids_of(session, target.filter, tuple(target.variant_ids))
        return _plan(session, t, ids, None, progress, cancel)


def apply_template(db: Database, actor: Actor, template_name: str, target: Target, *,
                   previewed: dict[tuple[str, int], int] | None = None, skip_invalid: bool = False,
                   expected_template_version: int | None = None, operation_id: str | None = None) -> ApplyResult:
    """Apply the template to the target's products as one changeset (planned again in the write).

    With ``previewed`` (the preview's versions) only those products are written and those changed since
    are conflicts. Products the template cannot render refuse the whole apply unless ``skip_invalid``
    (they are then left as they are). ``expected_template_version``: the template as the preview used it
    (changed since: a conflict, nothing written)."""

    def plan_and_apply(session: Session) -> ApplyResult:
        done = replayed(session, operation_id)
        if done is not None:
            return done
        t = _template(session, template_name)
        if expected_template_version is not None and t.version != expected_template_version:
            raise ConflictError("content_template", t.id, t.name, expected_template_version, t.version)
        if previewed is None:
            ids = product_ids_of(session, target.filter, tuple(target.variant_ids))
        else:
            ids = sorted(i for e, i in previewed if e == "product")
        p = _plan(session, t, ids, previewed, lock=True)
        if p.invalid and not skip_invalid:
            raise ValidationError(p.invalid[:200])
        description = f"Template {t.name!r} → {t.target_field.replace('_', ' ')}"
        if not p.changes:
            return ApplyResult(None, 0, p.conflicts, p.unchanged)
        result = apply_in_session(session, actor, p.changes, description=description[:500], kind=KIND,
                                  operation_id=operation_id)
        result.conflicts[:0] = p.conflicts
        return result

    return db.run_write(plan_and_apply)
