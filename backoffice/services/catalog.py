"""Products and variants: create, update with version checks, archive.

Arguments are plain values so the same call works from the GUI, the CLI, the HTTP server or an outbox
replay. Money arrives as ``Decimal`` or a string ("12.99"), never a float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import (
    Attribute,
    AttributeValue,
    Category,
    Product,
    ProductStatus,
    ProductTag,
    Variant,
    VariantOption,
    VariantStatus,
    utcnow,
)
from backoffice.services.base import (
    Actor,
    Change,
    ConflictError,
    NotFound,
    ValidationError,
    audit_change,
    claim_operation,
    jsonable,
    snapshot,
    store_operation_result,
)
from backoffice.services.catalog_grid import read_one_statement
from backoffice.services.price_rules import compare_at_below_price

PRODUCT_FIELDS = ("handle", "title", "description", "vendor", "product_type", "status", "category_id",
                  "seo_title", "seo_description")
VARIANT_FIELDS = ("sku", "barcode", "title", "price", "compare_at_price", "cost", "weight_grams", "status", "position")

HANDLE_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SKU_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
MAX_LENGTHS = {"handle": 255, "title": 255, "vendor": 200, "product_type": 200, "seo_title": 255,
               "seo_description": 500, "sku": 100, "barcode": 64}


@dataclass
class VariantInput:
    sku: str
    price: Decimal | str
    barcode: str | None = None
    title: str = ""
    compare_at_price: Decimal | str | None = None
    cost: Decimal | str | None = None
    weight_grams: int | None = None
    status: str = VariantStatus.ACTIVE.value
    options: dict[str, str] = field(default_factory=dict)  # attribute code -> value, e.g. {"size": "M"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VariantInput:
        return cls(**data)


# -- validation -----------------------------------------------------------------------------------------
_CENT = Decimal("0.01")
MONEY_LIMIT = Decimal("10000000000")


def parse_money(value: Any, row: str, name: str, problems: list, *, required: bool) -> Decimal | None:
    if type(value) is Decimal and value.is_finite() and 0 <= value < MONEY_LIMIT and value.as_tuple().exponent == -2:
        return value  # already an exact amount in cents (values computed by bulk operations)
    if value is None or value == "":
        if required:
            problems.append((row, name, "is required"))
        return None
    if isinstance(value, float):
        problems.append((row, name, f"{value!r} is a float; pass money as a string or Decimal"))
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        problems.append((row, name, f"{value!r} is not an amount"))
        return None
    if not amount.is_finite():
        problems.append((row, name, f"{value!r} is not an amount"))
        return None
    if amount < 0:
        problems.append((row, name, f"{amount} is negative"))
        return None
    if amount >= Decimal("10000000000"):      # before rounding: 1e10000 cannot be rounded to cents
        problems.append((row, name, f"{amount} is too large"))
        return None
    if amount != amount.quantize(Decimal("0.01")):
        problems.append((row, name, f"{amount} has more than two decimals"))
        return None
    return amount.quantize(Decimal("0.01"))


def _check_text(values: dict[str, Any], row: str, problems: list) -> None:
    for name, limit in MAX_LENGTHS.items():
        v = values.get(name)
        if v is not None and not isinstance(v, str):
            problems.append((row, name, f"must be text, not {type(v).__name__}"))
        elif isinstance(v, str) and len(v) > limit:
            problems.append((row, name, f"is {len(v)} characters long; at most {limit}"))


def clean_product_values(values: dict[str, Any], row: str, problems: list, *, partial: bool) -> dict[str, Any]:
    """Product field values checked and normalised (problems appended as (row, field, message)); with
    ``partial`` only the fields given (an edit), else a whole product (a new one)."""
    unknown = set(values) - set(PRODUCT_FIELDS) - {"tags"}
    for name in sorted(unknown):
        problems.append((row, name, "is not a product field"))
    out = {k: v for k, v in values.items() if k in PRODUCT_FIELDS or k == "tags"}
    _check_text(out, row, problems)
    if "handle" in out or not partial:
        handle = str(out.get("handle") or "").strip()
        if not HANDLE_RE.match(handle):
            problems.append((row, "handle", f"{handle!r} must be lower-case letters, digits and single dashes"))
        out["handle"] = handle
    if "title" in out or not partial:
        title = str(out.get("title") or "").strip()
        if not title:
            problems.append((row, "title", "must not be empty"))
        out["title"] = title
    if "status" in out:
        try:
            out["status"] = ProductStatus(out["status"])
        except ValueError:
            allowed = ", ".join(s.value for s in ProductStatus)
            problems.append((row, "status", f"{out['status']!r} is not one of {allowed}"))
    if "tags" in out:
        tags = out["tags"]
        if isinstance(tags, str):
            tags = [t for t in (s.strip() for s in tags.split(",")) if t]
        bad = [t for t in tags if not isinstance(t, str) or not t.strip() or len(t) > 100]
        if bad:
            problems.append((row, "tags", f"invalid tags {bad!r}"))
        out["tags"] = sorted({t.strip() for t in tags if isinstance(t, str) and t.strip()})
    return out


def clean_variant_values(values: dict[str, Any], row: str, problems: list, *, partial: bool) -> dict[str, Any]:
    """Variant field values checked and normalised, as :func:`clean_product_values` does for products."""
    unknown = set(values) - set(VARIANT_FIELDS) - {"options"}
    for name in sorted(unknown):
        problems.append((row, name, "is not a variant field"))
    out = {k: v for k, v in values.items() if k in VARIANT_FIELDS or k == "options"}
    _check_text(out, row, problems)
    if "sku" in out or not partial:
        sku = str(out.get("sku") or "").strip()
        if not SKU_RE.match(sku):
            problems.append((row, "sku", f"{sku!r} must start with a letter or digit and hold no spaces"))
        out["sku"] = sku
    if "barcode" in out and out["barcode"] is not None:
        code = str(out["barcode"]).strip()
        if code and not code.isdigit():
            problems.append((row, "barcode", f"{code!r} must be digits only"))
        out["barcode"] = code or None
    for name, required in (("price", not partial), ("compare_at_price", False), ("cost", False)):
        if name in out or required:
            out[name] = parse_money(out.get(name), row, name, problems, required=required)
    if "weight_grams" in out and out["weight_grams"] is not None:
        w = out["weight_grams"]
        if isinstance(w, bool) or not isinstance(w, int) or w < 0:
            problems.append((row, "weight_grams", f"{w!r} must be a whole number of grams, not negative"))
    if "status" in out:
        try:
            out["status"] = VariantStatus(out["status"])
        except ValueError:
            allowed = ", ".join(s.value for s in VariantStatus)
            problems.append((row, "status", f"{out['status']!r} is not one of {allowed}"))
    return out


def _check_variant_prices(v: Variant, row: str, problems: list) -> None:
    if compare_at_below_price(v.price, v.compare_at_price):
        problems.append((row, "compare_at_price", f"{v.compare_at_price} is below the price {v.price}"))


# -- helpers --------------------------------------------------------------------------------------------
def _variant_label(v: Variant) -> str:
    return f"SKU {v.sku}"


def _product_snapshot(p: Product) -> dict[str, Any]:
    snap = snapshot(p, PRODUCT_FIELDS)
    snap["tags"] = sorted(t.tag for t in p.tags)
    return snap


def _variant_snapshot(v: Variant, option_labels: dict[str, str] | None = None) -> dict[str, Any]:
    snap = snapshot(v, VARIANT_FIELDS)
    snap["product_id"] = v.product_id
    if option_labels is not None:
        snap["options"] = option_labels
    return snap


def _check_version(entity: str, obj: Any, label: str, expected: int, snap: dict[str, Any]) -> None:
    if obj.version != expected:
        raise ConflictError(entity, obj.id, label, expected, obj.version, snap)


def _lock(session: Session, model: type, row_id: int, entity: str) -> Any:
    obj = session.scalar(select(model).where(model.id == row_id).with_for_update())
    if obj is None:
        raise NotFound(f"{entity} {row_id} does not exist")
    return obj


def _resolve_options(session: Session, options: dict[str, str], row: str, problems: list) -> list[tuple[int, int]]:
    """(attribute id, value id) for {"size": "M"}; unknown attributes or values are reported with the
    values that exist."""
    resolved = []
    for code, value in sorted(options.items()):
        pair = session.execute(
            select(Attribute.id, AttributeValue.id)
            .join(AttributeValue, AttributeValue.attribute_id == Attribute.id)
            .where(Attribute.code == code, AttributeValue.value == value)
        ).first()
        if pair is not None:
            resolved.append((pair[0], pair[1]))
            continue
        attribute_id = session.scalar(select(Attribute.id).where(Attribute.code == code))
        if attribute_id is None:
            known = ", ".join(session.scalars(select(Attribute.code).order_by(Attribute.code))) or "none yet"
            problems.append((row, f"options.{code}", f"there is no attribute {code!r} (attributes: {known})"))
            continue
        known = ", ".join(session.scalars(select(AttributeValue.value).where(AttributeValue.attribute_id == attribute_id)
                                          .order_by(AttributeValue.position)))
        problems.append((row, f"options.{code}", f"{value!r} is not a value of attribute {code!r} ({known or 'no values'})"))
    return resolved


def _sku_taken(session: Session, skus: list[str], exclude_variant: int | None = None) -> set[str]:
    if not skus:
        return set()
    stmt = select(Variant.sku).where(Variant.sku.in_(skus))
    if exclude_variant is not None:
        stmt = stmt.where(Variant.id != exclude_variant)
    return set(session.scalars(stmt))


def _integrity_to_validation(exc: IntegrityError, row: str) -> ValidationError:
    text = str(exc.orig).lower()
    if "sku" in text:
        return ValidationError([(row, "sku", "is already used by another variant")])
    if "handle" in text:
        return ValidationError([(row, "handle", "is already used by another product")])
    return ValidationError([(row, "", f"rejected by the database: {str(exc.orig).splitlines()[0]}")])


def _add_variant(session: Session, product: Product, data: dict[str, Any], row: str, problems: list) -> Variant | None:
    options = data.pop("options", {}) or {}
    resolved = _resolve_options(session, options, row, problems)
    v = Variant(product_id=product.id, **{k: val for k, val in data.items()})
    if v.status is None:
        v.status = VariantStatus.ACTIVE
    _check_variant_prices(v, row, problems)
    if problems:
        return None
    session.add(v)
    session.flush()
    for attribute_id, value_id in resolved:
        session.add(VariantOption(variant_id=v.id, attribute_id=attribute_id, attribute_value_id=value_id))
    return v


def _check_variant_rows(rows: list[dict[str, Any]], problems: list) -> None:
    """What is wrong between the rows of one form: a SKU or barcode given twice, two rows with the same
    options, options that are not text. Each problem names the row (variant 1, 2...)."""
    first_sku: dict[str, int] = {}
    first_barcode: dict[str, int] = {}
    first_combo: dict[tuple[tuple[str, str], ...], int] = {}
    for i, v in enumerate(rows, 1):
        row = f"variant {i}"
        sku = v.get("sku")
        if sku:   # exact, as the database's UNIQUE compares them
            if sku in first_sku:
                problems.append((row, "sku", f"{sku!r} is also the SKU of variant {first_sku[sku]}"))
            else:
                first_sku[sku] = i
        code = v.get("barcode")
        if code:
            if code in first_barcode:
                problems.append((row, "barcode", f"{code!r} is also the barcode of variant {first_barcode[code]}"))
            else:
                first_barcode[code] = i
        options = v.get("options") or {}
        if not isinstance(options, dict):
            problems.append((row, "options", "must be attribute=value pairs"))
            continue
        bad = [k for k, val in options.items() if not isinstance(k, str) or not isinstance(val, str)
               or not k.strip() or not val.strip()]
        if bad:
            problems.append((row, "options", f"{', '.join(map(repr, bad))}: give a value for each attribute"))
            continue
        v["options"] = {k.strip().lower(): val.strip() for k, val in options.items()}
        if v["options"]:
            combo = tuple(sorted(v["options"].items()))
            if combo in first_combo:
                described = ", ".join(f"{k}={val}" for k, val in combo)
                problems.append((row, "options", f"{described} is also the combination of variant {first_combo[combo]}"))
            else:
                first_combo[combo] = i
    if len(rows) > 1:
        shapes = {tuple(sorted((v.get("options") or {}) if isinstance(v.get("options"), dict) else {})) for v in rows}
        if len(shapes) > 1:
            problems.append(("variants", "options", "every variant of a product needs a value for the same attributes"))


def _sku_owners(session: Session, skus: list[str]) -> dict[str, str]:
    """SKU -> handle of the product that has it, for the SKUs already in the catalog."""
    if not skus:
        return {}
    return dict(session.execute(
        select(Variant.sku, Product.handle).join(Product, Product.id == Variant.product_id).where(Variant.sku.in_(skus))
    ).all())


_HANDLE_STRIP = re.compile(r"[^a-z0-9]+")


def handle_from_title(title: str) -> str:
    """The handle a title suggests: "Merino Crew Neck (Navy)" -> "merino-crew-neck-navy"."""
    import unicodedata

    text = unicodedata.normalize("NFKD", title or "").encode("ascii", "ignore").decode("ascii").lower()
    return _HANDLE_STRIP.sub("-", text).strip("-")[:MAX_LENGTHS["handle"]].strip("-")


# -- operations -----------------------------------------------------------------------------------------
def create_product(db: Database, actor: Actor, *, values: dict[str, Any], variants: list[dict[str, Any]] = (),
                   operation_id: str | None = None) -> Change:
    """Create a product with its variants in one transaction."""
    problems: list = []
    clean = clean_product_values(values, "product", problems, partial=False)
    clean_variants = [
        clean_variant_values(dict(v), f"variant {i + 1}", problems, partial=False) for i, v in enumerate(variants)
    ]
    _check_variant_rows(clean_variants, problems)
    if problems:
        raise ValidationError(problems)

    def insert_product(session: Session) -> Change:
        previous = claim_operation(session, operation_id, "create_product", actor)
        if previous is not None:
            return Change.from_dict(previous)
        problems: list = []
        if session.scalar(select(Product.id).where(Product.handle == clean["handle"])) is not None:
            problems.append(("product", "handle", f"{clean['handle']!r} is already used by another product"))
        taken = _sku_owners(session, [v["sku"] for v in clean_variants])
        for i, v in enumerate(clean_variants):
            if v["sku"] in taken:
                problems.append((f"variant {i + 1}", "sku", f"{v['sku']!r} is already used by product {taken[v['sku']]!r}"))
        if clean.get("category_id") is not None and session.get(Category, clean["category_id"]) is None:
            problems.append(("product", "category_id", f"category {clean['category_id']} does not exist"))
        for i, data in enumerate(clean_variants):
            _resolve_options(session, dict(data.get("options") or {}), f"variant {i + 1}", problems)
        if problems:
            raise ValidationError(problems)
        tags = clean.pop("tags", [])
        product = Product(**clean)
        product.tags = [ProductTag(tag=t) for t in tags]
        session.add(product)
        session.flush()
        change = Change("product", product.id, "create", product.version, None, _product_snapshot(product))
        for i, data in enumerate(clean_variants):
            options = dict(data.get("options") or {})
            v = _add_variant(session, product, dict(data, position=data.get("position", i)), f"variant {i + 1}", problems)
            if v is not None:
                change.children.append(Change("variant", v.id, "create", v.version, None, _variant_snapshot(v, options)))
        if problems:
            raise ValidationError(problems)
        audit_change(session, actor, change, operation_id)
        store_operation_result(session, operation_id, change.to_dict())
        return change

    try:
        return db.run_write(insert_product)
    except IntegrityError as exc:  # a concurrent writer took the handle or a SKU first
        raise _integrity_to_validation(exc, "product") from exc


def update_product(db: Database, actor: Actor, product_id: int, *, expected_version: int, values: dict[str, Any],
                   operation_id: str | None = None) -> Change:
    """Change product fields. ``expected_version`` is the version the caller read; if the row has moved
    on since, ConflictError reports it and nothing is written."""
    problems: list = []
    clean = clean_product_values(values, f"product {product_id}", problems, partial=True)
    if problems:
        raise ValidationError(problems)

    def write_product(session: Session) -> Change:
        previous = claim_operation(session, operation_id, "update_product", actor)
        if previous is not None:
            return Change.from_dict(previous)
        product = _lock(session, Product, product_id, "product")
        before = _product_snapshot(product)
        _check_version("product", product, f"{product.handle!r}", expected_version, before)
        if "handle" in clean and clean["handle"] != product.handle:
            if session.scalar(select(Product.id).where(Product.handle == clean["handle"])) is not None:
                raise ValidationError([(f"product {product.handle}", "handle", f"{clean['handle']!r} is already used")])
        if clean.get("category_id") is not None and session.get(Category, clean["category_id"]) is None:
            raise ValidationError([(f"product {product.handle}", "category_id", f"category {clean['category_id']} does not exist")])
        tags = clean.pop("tags", None)
        for name, value in clean.items():
            setattr(product, name, value)
        if tags is not None and tags != before["tags"]:
            product.tags = [ProductTag(tag=t) for t in tags]
            product.updated_at = utcnow()  # tags live in their own table; touching the row bumps its version
        session.flush()
        old, new = _diff(before, _product_snapshot(product))
        change = Change("product", product.id, "update", product.version, old, new)
        if new:
            audit_change(session, actor, change, operation_id)
        store_operation_result(session, operation_id, change.to_dict())
        return change

    try:
        return db.run_write(write_product)
    except IntegrityError as exc:
        raise _integrity_to_validation(exc, f"product {product_id}") from exc


def archive_product(db: Database, actor: Actor, product_id: int, *, expected_version: int,
                    operation_id: str | None = None) -> Change:
    """Archive a product and its variants (they keep their stock and sales history)."""

    def archive_product_and_variants(session: Session) -> Change:
        previous = claim_operation(session, operation_id, "archive_product", actor)
        if previous is not None:
            return Change.from_dict(previous)
        product = _lock(session, Product, product_id, "product")
        before = _product_snapshot(product)
        _check_version("product", product, f"{product.handle!r}", expected_version, before)
        product.status = ProductStatus.ARCHIVED
        session.flush()
        change = Change("product", product.id, "archive", product.version,
                        {"status": before["status"]}, {"status": ProductStatus.ARCHIVED.value})
        variants = session.scalars(
            select(Variant).where(Variant.product_id == product.id, Variant.status != VariantStatus.ARCHIVED)
            .order_by(Variant.id).with_for_update()
        ).all()
        for v in variants:
            old = v.status.value
            v.status = VariantStatus.ARCHIVED
            session.flush()
            change.children.append(Change("variant", v.id, "archive", v.version, {"status": old}, {"status": "archived"}))
        audit_change(session, actor, change, operation_id)
        store_operation_result(session, operation_id, change.to_dict())
        return change

    return db.run_write(archive_product_and_variants)


def add_variant(db: Database, actor: Actor, product_id: int, *, values: dict[str, Any],
                operation_id: str | None = None) -> Change:
    problems: list = []
    clean = clean_variant_values(values, "variant", problems, partial=False)
    if problems:
        raise ValidationError(problems)

    def insert_variant(session: Session) -> Change:
        previous = claim_operation(session, operation_id, "add_variant", actor)
        if previous is not None:
            return Change.from_dict(previous)
        product = session.get(Product, product_id)
        if product is None:
            raise NotFound(f"product {product_id} does not exist")
        if _sku_taken(session, [clean["sku"]]):
            raise ValidationError([(f"variant {clean['sku']}", "sku", "is already used by another variant")])
        problems: list = []
        options = dict(clean.get("options") or {})
        v = _add_variant(session, product, dict(clean), f"variant {clean['sku']}", problems)
        if problems or v is None:
            raise ValidationError(problems)
        change = Change("variant", v.id, "create", v.version, None, _variant_snapshot(v, options))
        audit_change(session, actor, change, operation_id)
        store_operation_result(session, operation_id, change.to_dict())
        return change

    try:
        return db.run_write(insert_variant)
    except IntegrityError as exc:
        raise _integrity_to_validation(exc, f"variant {clean['sku']}") from exc


def update_variant(db: Database, actor: Actor, variant_id: int, *, expected_version: int, values: dict[str, Any],
                   operation_id: str | None = None) -> Change:
    problems: list = []
    clean = clean_variant_values(values, f"variant {variant_id}", problems, partial=True)
    if "options" in clean:
        problems.append((f"variant {variant_id}", "options", "change options with the variant generator"))
    if problems:
        raise ValidationError(problems)

    def write_variant(session: Session) -> Change:
        previous = claim_operation(session, operation_id, "update_variant", actor)
        if previous is not None:
            return Change.from_dict(previous)
        v = _lock(session, Variant, variant_id, "variant")
        before = _variant_snapshot(v)
        _check_version("variant", v, _variant_label(v), expected_version, before)
        if "sku" in clean and clean["sku"] != v.sku and _sku_taken(session, [clean["sku"]], exclude_variant=v.id):
            raise ValidationError([(_variant_label(v), "sku", f"{clean['sku']!r} is already used by another variant")])
        for name, value in clean.items():
            setattr(v, name, value)
        problems: list = []
        _check_variant_prices(v, _variant_label(v), problems)
        if problems:
            raise ValidationError(problems)
        session.flush()
        old, new = _diff(before, _variant_snapshot(v))
        change = Change("variant", v.id, "update", v.version, old, new)
        if new:
            audit_change(session, actor, change, operation_id)
        store_operation_result(session, operation_id, change.to_dict())
        return change

    try:
        return db.run_write(write_variant)
    except IntegrityError as exc:
        raise _integrity_to_validation(exc, f"variant {variant_id}") from exc


def _diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


# -- reads ----------------------------------------------------------------------------------------------
def get_product(db: Database, product_id: int) -> dict[str, Any]:
    """A product with its variants as plain values (including versions, for a later update)."""
    with db.read() as session:
        p = session.get(Product, product_id)
        if p is None:
            raise NotFound(f"product {product_id} does not exist")
        data = _product_snapshot(p) | {"id": p.id, "version": p.version}
        data["variants"] = [_variant_snapshot(v) | {"id": v.id, "version": v.version} for v in p.variants]
        return data


def get_variant(db: Database, variant_id: int) -> dict[str, Any]:
    """One variant as plain values, with its id and version (for a later update)."""
    columns = (*VARIANT_FIELDS, "product_id", "id", "version")
    stmt = select(*(getattr(Variant, c) for c in columns)).where(Variant.id == variant_id)
    # one statement, columns not an entity: the store API reads a variant after every write of one
    row = read_one_statement(db, lambda conn: conn.execute(stmt).first())
    if row is None:
        raise NotFound(f"variant {variant_id} does not exist")
    return {c: jsonable(v) for c, v in zip(columns, row, strict=True)}


def create_attribute(db: Database, actor: Actor, *, code: str, name: str, values: list[str]) -> Change:
    """An option dimension (size, colour...) with its ordered values."""
    code = (code or "").strip().lower()
    problems: list = []
    if not re.match(r"^[a-z][a-z0-9_]*$", code):
        problems.append((f"attribute {code!r}", "code", "must be lower-case letters, digits and underscores"))
    if len(set(values)) != len(values):
        problems.append((f"attribute {code!r}", "values", "hold duplicates"))
    if any(not str(v).strip() for v in values):
        problems.append((f"attribute {code!r}", "values", "must not be empty"))
    if problems:
        raise ValidationError(problems)

    def insert_attribute(session: Session) -> Change:
        if session.scalar(select(Attribute.id).where(Attribute.code == code)) is not None:
            raise ValidationError([(f"attribute {code}", "code", "is already used")])
        attribute = Attribute(code=code, name=name or code.title())
        attribute.values = [AttributeValue(value=str(v).strip(), position=i) for i, v in enumerate(values)]
        session.add(attribute)
        session.flush()
        change = Change("attribute", attribute.id, "create", attribute.version, None,
                        {"code": code, "name": attribute.name, "values": [v.value for v in attribute.values]})
        audit_change(session, actor, change, None)
        return change

    return db.run_write(insert_attribute)


# -- categories -----------------------------------------------------------------------------------------
CATEGORY_SEPARATORS = (">", "/")
_CATEGORY_FIELDS = ("name", "parent_id", "path", "position")


def split_category_path(text: str) -> list[str]:
    """"Clothing/Tops" or "Clothing > Tops" -> ["Clothing", "Tops"] (">" wins when both appear)."""
    sep = ">" if ">" in (text or "") else "/"
    return [" ".join(part.split()) for part in (text or "").split(sep)]


def _clean_category_name(name: Any, row: str, problems: list) -> str:
    text = " ".join(str(name or "").split())
    if not text:
        problems.append((row, "name", "must not be empty"))
    elif len(text) > 200:
        problems.append((row, "name", f"is {len(text)} characters long; at most 200"))
    elif any(sep in text for sep in CATEGORY_SEPARATORS):
        problems.append((row, "name", f"{text!r} must not hold {' or '.join(CATEGORY_SEPARATORS)} (they separate a path)"))
    return text


def _sibling_named(session: Session, parent_id: int | None, name: str, exclude: int | None = None) -> Category | None:
    """The category called ``name`` (ignoring case, as imports compare paths) under ``parent_id``."""
    stmt = select(Category).where(func.lower(Category.name) == name.lower(),
                                  Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id)
    if exclude is not None:
        stmt = stmt.where(Category.id != exclude)
    return session.scalars(stmt.limit(1)).first()


def _category_label(session: Session, category: Category) -> str:
    ids = [int(x) for x in category.path.strip("/").split("/") if x]
    names = dict(session.execute(select(Category.id, Category.name).where(Category.id.in_(ids))).all()) if ids else {}
    return " > ".join(names.get(i, "?") for i in ids) or category.name


def _insert_category(session: Session, name: str, parent: Category | None) -> Category:
    siblings = session.scalar(select(func.count()).select_from(Category).where(
        Category.parent_id.is_(None) if parent is None else Category.parent_id == parent.id)) or 0
    category = Category(name=name, parent_id=parent.id if parent else None, position=int(siblings), path="/")
    session.add(category)
    session.flush()
    category.path = f"{parent.path if parent else '/'}{category.id}/"
    if len(category.path) > 400:
        raise ValidationError([(f"category {name!r}", "parent", "the tree is too deep here")])
    session.flush()
    return category


_CATEGORY_LOCK = 7_301_402   # one PostgreSQL advisory lock key for writes to the category tree


def _category_write(db: Database, actor: Actor, action: str, operation_id: str | None, body) -> Change:  # type: ignore[no-untyped-def]
    """Tree writes queue behind one another (an advisory lock on PostgreSQL; SQLite has one writer): two
    moves checked at once could otherwise make a cycle, two adds the same top-level name twice (NULL
    parents escape the UNIQUE constraint)."""

    def write_tree(session: Session) -> Change:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CATEGORY_LOCK})
        previous = claim_operation(session, operation_id, action, actor)
        if previous is not None:
            return Change.from_dict(previous)
        change = body(session)
        audit_change(session, actor, change, operation_id)
        store_operation_result(session, operation_id, change.to_dict())
        return change

    try:
        return db.run_write(write_tree)
    except IntegrityError as exc:  # a concurrent writer made the same sibling first
        raise ValidationError([("category", "name", "already exists at this place in the tree")]) from exc


def create_category(db: Database, actor: Actor, *, name: str, parent_id: int | None = None,
                    operation_id: str | None = None) -> Change:
    """A node of the category tree under ``parent_id`` (None: a top-level category). Names are unique
    among siblings, ignoring case."""
    problems: list = []
    clean = _clean_category_name(name, "category", problems)
    if problems:
        raise ValidationError(problems)

    def body(session: Session) -> Change:
        parent = None
        if parent_id is not None:
            parent = session.get(Category, int(parent_id))
            if parent is None:
                raise NotFound(f"category {parent_id} does not exist")
        if _sibling_named(session, parent.id if parent else None, clean) is not None:
            where = f"under {_category_label(session, parent)}" if parent else "at the top level"
            raise ValidationError([(f"category {clean!r}", "name", f"already exists {where}")])
        category = _insert_category(session, clean, parent)
        return Change("category", category.id, "create", category.version, None, snapshot(category, _CATEGORY_FIELDS))

    return _category_write(db, actor, "create_category", operation_id, body)


def add_category_path(db: Database, actor: Actor, path: str, *, operation_id: str | None = None) -> Change:
    """Create "Clothing/Tops" (or "Clothing > Tops"): every missing level along the path. The change is the
    last level's, with the levels created above it as children. A path that exists already is refused."""
    problems: list = []
    parts = split_category_path(path)
    names = [_clean_category_name(part, f"category path {path!r} level {i}", problems) for i, part in enumerate(parts, 1)]
    if problems:
        raise ValidationError(problems)

    def body(session: Session) -> Change:
        parent: Category | None = None
        created: list[Category] = []
        for name in names:
            found = None if created else _sibling_named(session, parent.id if parent else None, name)
            parent = found if found is not None else _insert_category(session, name, parent)
            if found is None:
                created.append(parent)
        if not created:
            raise ValidationError([(f"category {' > '.join(names)}", "path", "already exists")])
        leaf = created[-1]
        after = snapshot(leaf, _CATEGORY_FIELDS) | {"full_name": " > ".join(names)}
        change = Change("category", leaf.id, "create", leaf.version, None, after)
        change.children = [Change("category", c.id, "create", c.version, None, snapshot(c, _CATEGORY_FIELDS))
                           for c in created[:-1]]
        return change

    return _category_write(db, actor, "add_category_path", operation_id, body)


def _lock_category(session: Session, category_id: int, expected_version: int | None) -> Category:
    category = session.scalar(select(Category).where(Category.id == int(category_id)).with_for_update())
    if category is None:
        raise NotFound(f"category {category_id} does not exist")
    if expected_version is not None and category.version != expected_version:
        raise ConflictError("category", category.id, repr(category.name), expected_version, category.version,
                            snapshot(category, _CATEGORY_FIELDS))
    return category


def rename_category(db: Database, actor: Actor, category_id: int, *, name: str, expected_version: int | None = None,
                    operation_id: str | None = None) -> Change:
    problems: list = []
    clean = _clean_category_name(name, f"category {category_id}", problems)
    if problems:
        raise ValidationError(problems)

    def body(session: Session) -> Change:
        category = _lock_category(session, category_id, expected_version)
        if _sibling_named(session, category.parent_id, clean, exclude=category.id) is not None:
            raise ValidationError([(f"category {category.name!r}", "name", f"{clean!r} already exists at this place in the tree")])
        before = category.name
        category.name = clean
        session.flush()
        return Change("category", category.id, "rename", category.version, {"name": before}, {"name": clean})

    return _category_write(db, actor, "rename_category", operation_id, body)


def move_category(db: Database, actor: Actor, category_id: int, *, parent_id: int | None,
                  expected_version: int | None = None, operation_id: str | None = None) -> Change:
    """Put a category (with everything below it) under ``parent_id`` (None: the top level). Refused if the
    new parent is the category itself or below it, or if a sibling there has the same name."""

    def body(session: Session) -> Change:
        category = _lock_category(session, category_id, expected_version)
        parent = None
        if parent_id is not None:
            parent = session.scalar(select(Category).where(Category.id == int(parent_id)).with_for_update())
            if parent is None:
                raise NotFound(f"category {parent_id} does not exist")
            if parent.path.startswith(category.path):
                what = "itself" if parent.id == category.id else f"{_category_label(session, parent)}, which is below it"
                raise ValidationError([(f"category {_category_label(session, category)}", "parent",
                                        f"cannot move under {what}")])
        new_parent_id = parent.id if parent else None
        label = _category_label(session, category)
        if new_parent_id == category.parent_id:
            raise ValidationError([(f"category {label}", "parent", "is already there")])
        if _sibling_named(session, new_parent_id, category.name, exclude=category.id) is not None:
            where = f"under {_category_label(session, parent)}" if parent else "at the top level"
            raise ValidationError([(f"category {label}", "name", f"a category {category.name!r} already exists {where}")])
        old_prefix = category.path
        new_prefix = f"{parent.path if parent else '/'}{category.id}/"
        longest = session.scalar(select(func.max(func.length(Category.path))).where(Category.path.like(old_prefix + "%"))) or 0
        if longest - len(old_prefix) + len(new_prefix) > 400:
            raise ValidationError([(f"category {label}", "parent", "the tree would be too deep there")])
        before = {"parent_id": category.parent_id, "path": old_prefix, "full_name": label}
        siblings = session.scalar(select(func.count()).select_from(Category).where(
            Category.parent_id.is_(None) if parent is None else Category.parent_id == parent.id)) or 0
        descendants = session.scalars(select(Category).where(Category.path.like(old_prefix + "%"),
                                                             Category.id != category.id)
                                      .order_by(Category.id).with_for_update()).all()
        for d in descendants:
            d.path = new_prefix + d.path[len(old_prefix):]
        category.parent_id, category.path, category.position = new_parent_id, new_prefix, int(siblings)
        session.flush()
        after = {"parent_id": new_parent_id, "path": new_prefix, "full_name": _category_label(session, category)}
        return Change("category", category.id, "move", category.version, before, after,
                      [Change("category", d.id, "move", d.version, None, {"path": d.path}) for d in descendants])

    return _category_write(db, actor, "move_category", operation_id, body)


# -- category reads -------------------------------------------------------------------------------------
def list_categories(db: Database) -> list[dict[str, Any]]:
    """The whole tree in display order (each parent before its children, siblings by position then
    name): id, parent_id, name, full_name ("Clothing > Tops"), depth, version and how many products
    sit directly in it."""
    with db.read() as session:
        counts = dict(session.execute(select(Product.category_id, func.count()).where(Product.category_id.is_not(None))
                                      .group_by(Product.category_id)).all())
        rows = session.execute(select(Category.id, Category.parent_id, Category.name, Category.position,
                                      Category.version, Category.path)).all()
    children: dict[int | None, list] = {}
    for r in rows:
        children.setdefault(r.parent_id, []).append(r)
    out: list[dict[str, Any]] = []

    def walk(parent_id: int | None, prefix: str, depth: int) -> None:
        for r in sorted(children.get(parent_id, []), key=lambda r: (r.position, r.name.casefold(), r.id)):
            full = f"{prefix} > {r.name}" if prefix else r.name
            out.append({"id": r.id, "parent_id": r.parent_id, "name": r.name, "full_name": full, "depth": depth,
                        "version": r.version, "path": r.path, "products": int(counts.get(r.id, 0))})
            if depth < 100:
                walk(r.id, full, depth + 1)

    walk(None, "", 0)
    return out


def find_category(db: Database, path: str) -> dict[str, Any]:
    """A category by its path of names ("Clothing/Tops", "Clothing > Tops"; case ignored) or its id."""
    text = (path or "").strip()
    rows = list_categories(db)
    if text.isdigit():
        hit = next((r for r in rows if r["id"] == int(text)), None)
    else:
        key = [p.casefold() for p in split_category_path(text)]
        hit = next((r for r in rows if [p.casefold() for p in r["full_name"].split(" > ")] == key), None)
    if hit is None:
        raise NotFound(f"no category {text!r} (write its path of names, e.g. Clothing/Tops; "
                       "`backoffice categories list` shows them)")
    return hit
