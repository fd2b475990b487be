"""Attributes (size, colour, material…), their ordered values, and variant templates.

Values are offered in ``position`` order everywhere (pickers, generated combinations, the matrix).
A value or attribute that variants use cannot disappear: removing it archives it (no longer offered
for new combinations, existing variants keep it); one that nothing uses is deleted.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import (
    Attribute,
    AttributeValue,
    VariantOption,
    VariantTemplate,
    VariantTemplateValue,
)
from backoffice.services.base import (
    Actor,
    Change,
    ConflictError,
    NotFound,
    ValidationError,
    audit_change,
    claim_operation,
    store_operation_result,
)

CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
RESERVED_CODES = frozenset({"handle", "title"})   # SKU pattern placeholders of the product


@dataclass(frozen=True)
class ValueInfo:
    id: int
    value: str
    position: int
    archived: bool
    version: int
    variant_count: int


@dataclass(frozen=True)
class AttributeInfo:
    id: int
    code: str
    name: str
    position: int
    archived: bool
    version: int
    values: tuple[ValueInfo, ...]

    def offered(self) -> list[str]:
        """The values new combinations may use, in order."""
        return [v.value for v in self.values if not v.archived]


@dataclass(frozen=True)
class TemplateInfo:
    id: int
    name: str
    description: str
    sku_pattern: str
    version: int
    options: dict[str, list[str]]            # attribute code -> values, in order
    exclusions: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return " × ".join(f"{code} ({len(values)})" for code, values in self.options.items())

    def combination_count(self) -> int:
        """How many combinations the template makes, exclusions left out."""
        codes = list(self.options)
        return sum(1 for picked in itertools.product(*self.options.values())
                   if not any(ex and all(dict(zip(codes, picked, strict=True)).get(k) == v for k, v in ex.items())
                              for ex in self.exclusions))


# -- reads ----------------------------------------------------------------------------------------------
def list_attributes(db: Database, *, include_archived: bool = True) -> list[AttributeInfo]:
    with db.read() as session:
        return _attributes(session, include_archived)


def _attributes(session: Session, include_archived: bool = True) -> list[AttributeInfo]:
    used = dict(session.execute(select(VariantOption.attribute_value_id, func.count())
                                .group_by(VariantOption.attribute_value_id)).all())
    values: dict[int, list[ValueInfo]] = {}
    for v in session.scalars(select(AttributeValue).order_by(AttributeValue.attribute_id, AttributeValue.position,
                                                              AttributeValue.id)):
        if v.archived and not include_archived:
            continue
        values.setdefault(v.attribute_id, []).append(
            ValueInfo(v.id, v.value, v.position, v.archived, v.version, int(used.get(v.id, 0))))
    out = []
    for a in session.scalars(select(Attribute).order_by(Attribute.position, Attribute.id)):
        if a.archived and not include_archived:
            continue
        out.append(AttributeInfo(a.id, a.code, a.name, a.position, a.archived, a.version, tuple(values.get(a.id, ()))))
    return out


def resolve_values(session: Session, options: dict[str, list[str]], problems: list,
                   *, allow_archived: bool = False) -> list[tuple[Attribute, list[AttributeValue]]]:
    """The attributes and values named by {"size": ["S", "M"]}, attributes in their display order and
    values in the order given. Unknown or archived ones are reported in ``problems``."""
    out: list[tuple[Attribute, list[AttributeValue]]] = []
    codes = list(options)
    attributes = {a.code: a for a in session.scalars(select(Attribute).where(Attribute.code.in_(codes)))}
    for code in codes:
        attribute = attributes.get(code)
        if attribute is None:
            problems.append((f"attribute {code}", "", "does not exist"))
            continue
        if attribute.archived and not allow_archived:
            problems.append((f"attribute {code}", "", "is archived"))
        wanted = options[code]
        if not wanted:
            problems.append((f"attribute {code}", "values", "choose at least one value"))
        by_value = {v.value: v for v in attribute.values}
        chosen: list[AttributeValue] = []
        for name in wanted:
            v = by_value.get(name)
            if v is None:
                problems.append((f"attribute {code}", "values", f"{name!r} is not one of its values"))
            elif v.archived and not allow_archived:
                problems.append((f"attribute {code}", "values", f"{name!r} is archived"))
            elif v not in chosen:
                chosen.append(v)
        out.append((attribute, chosen))
    out.sort(key=lambda pair: (pair[0].position, pair[0].id))
    return out


# -- attributes -----------------------------------------------------------------------------------------
def _clean_values(values: list[str], row: str, problems: list) -> list[str]:
    clean = [str(v).strip() for v in values]
    if any(not v for v in clean):
        problems.append((row, "values", "must not be empty"))
    if any(len(v) > 200 for v in clean):
        problems.append((row, "values", "at most 200 characters each"))
    dupes = sorted({v for v in clean if clean.count(v) > 1})
    if dupes:
        problems.append((row, "values", f"{', '.join(dupes)} given more than once"))
    return clean


def _lock(session: Session, model: type, row_id: int, label: str) -> Any:
    obj = session.scalar(select(model).where(model.id == row_id).with_for_update())
    if obj is None:
        raise NotFound(f"{label} {row_id} does not exist")
    return obj


def _check_version(entity: str, obj: Any, label: str, expected: int | None) -> None:
    if expected is not None and obj.version != expected:
        raise ConflictError(entity, obj.id, label, expected, obj.version)


def write_audited(db: Database, actor: Actor, action: str, operation_id: str | None,
                  body: Callable[[Session], Change]) -> Change:
    """Run ``body(session) -> Change`` in one transaction with the idempotency claim and the audit (the
    writes of attributes, templates and pricing rules)."""

    def claim_and_write(session: Session) -> Change:
        previous = claim_operation(session, operation_id, action, actor)
        if previous is not None:
            return Change.from_dict(previous)
        change = body(session)
        audit_change(session, actor, change, operation_id)
        store_operation_result(session, operation_id, change.to_dict())
        return change

    return db.run_write(claim_and_write)


def create_attribute(db: Database, actor: Actor, *, code: str, name: str = "", values: list[str] = (),  # type: ignore[assignment]
                     operation_id: str | None = None) -> Change:
    code = (code or "").strip().lower()
    problems: list = []
    row = f"attribute {code!r}"
    if not CODE_RE.match(code) or len(code) > 100:
        problems.append((row, "code", "must be lower-case letters, digits and underscores, starting with a letter"))
    if code in RESERVED_CODES:
        problems.append((row, "code", f"{code!r} is reserved for the SKU pattern"))
    clean = _clean_values(list(values), row, problems)
    name = (name or "").strip() or code.replace("_", " ").title()
    if problems:
        raise ValidationError(problems)

    def body(session: Session) -> Change:
        if session.scalar(select(Attribute.id).where(Attribute.code == code)) is not None:
            raise ValidationError([(f"attribute {code}", "code", "is already used")])
        last = session.scalar(select(func.max(Attribute.position))) or 0
        attribute = Attribute(code=code, name=name, position=last + 1, archived=False)
        attribute.values = [AttributeValue(value=v, position=i, archived=False) for i, v in enumerate(clean)]
        session.add(attribute)
        session.flush()
        return Change("attribute", attribute.id, "create", attribute.version, None,
                      {"code": code, "name": name, "values": clean})

    return write_audited(db, actor, "create_attribute", operation_id, body)


def rename_attribute(db: Database, actor: Actor, attribute_id: int, *, name: str, expected_version: int | None = None,
                     operation_id: str | None = None) -> Change:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationError([(f"attribute {attribute_id}", "name", "must be 1 to 200 characters")])

    def body(session: Session) -> Change:
        a = _lock(session, Attribute, attribute_id, "attribute")
        _check_version("attribute", a, a.code, expected_version)
        before = a.name
        a.name = name
        session.flush()
        return Change("attribute", a.id, "update", a.version, {"name": before}, {"name": name})

    return write_audited(db, actor, "rename_attribute", operation_id, body)


def add_values(db: Database, actor: Actor, attribute_id: int, values: list[str], *,
               operation_id: str | None = None) -> Change:
    """Append values at the end of the attribute's order (an archived value of the same name is
    offered again instead)."""
    problems: list = []
    clean = _clean_values(list(values), f"attribute {attribute_id}", problems)
    if not clean:
        problems.append((f"attribute {attribute_id}", "values", "give at least one value"))
    if problems:
        raise ValidationError(problems)

    def body(session: Session) -> Change:
        a = _lock(session, Attribute, attribute_id, "attribute")
        existing = {v.value: v for v in a.values}
        taken = [v for v in clean if v in existing and not existing[v].archived]
        if taken:
            raise ValidationError([(f"attribute {a.code}", "values", f"{', '.join(taken)} already exist")])
        position = max((v.position for v in a.values), default=-1)
        change = Change("attribute", a.id, "add_values", a.version, None, {"values": clean})
        for v in clean:
            if v in existing:
                existing[v].archived = False
                session.flush()
                change.children.append(Change("attribute_value", existing[v].id, "restore", existing[v].version,
                                              {"archived": True}, {"archived": False}))
                continue
            position += 1
            row = AttributeValue(attribute_id=a.id, value=v, position=position, archived=False)
            session.add(row)
            session.flush()
            change.children.append(Change("attribute_value", row.id, "create", row.version, None,
                                          {"attribute": a.code, "value": v, "position": position}))
        return change

    return write_audited(db, actor, "add_attribute_values", operation_id, body)


def rename_value(db: Database, actor: Actor, value_id: int, *, value: str, expected_version: int | None = None,
                 operation_id: str | None = None) -> Change:
    value = (value or "").strip()
    if not value or len(value) > 200:
        raise ValidationError([(f"value {value_id}", "value", "must be 1 to 200 characters")])

    def body(session: Session) -> Change:
        v = _lock(session, AttributeValue, value_id, "attribute value")
        _check_version("attribute_value", v, v.value, expected_version)
        clash = session.scalar(select(AttributeValue.id).where(AttributeValue.attribute_id == v.attribute_id,
                                                               AttributeValue.value == value, AttributeValue.id != v.id))
        if clash is not None:
            raise ValidationError([(f"value {v.value}", "value", f"{value!r} already exists in this attribute")])
        before = v.value
        v.value = value
        session.flush()
        return Change("attribute_value", v.id, "update", v.version, {"value": before}, {"value": value})

    return write_audited(db, actor, "rename_attribute_value", operation_id, body)


def reorder_values(db: Database, actor: Actor, attribute_id: int, value_ids: list[int], *,
                   expected_version: int | None = None, operation_id: str | None = None) -> Change:
    """Put the attribute's values in the order of ``value_ids`` (every value, each once)."""

    def body(session: Session) -> Change:
        a = _lock(session, Attribute, attribute_id, "attribute")
        _check_version("attribute", a, a.code, expected_version)
        current = [v.id for v in a.values]
        if sorted(current) != sorted(value_ids) or len(set(value_ids)) != len(value_ids):
            raise ValidationError([(f"attribute {a.code}", "values", "give every value of the attribute exactly once")])
        by_id = {v.id: v for v in a.values}
        before = [by_id[i].value for i in current]
        for position, vid in enumerate(value_ids):
            by_id[vid].position = position
        session.flush()
        # the order belongs to the attribute: its version moves on
        session.execute(Attribute.__table__.update().where(Attribute.id == a.id)
                        .values(version=Attribute.version + 1))
        after = [by_id[i].value for i in value_ids]
        return Change("attribute", a.id, "reorder", a.version + 1, {"values": before}, {"values": after})

    return write_audited(db, actor, "reorder_attribute_values", operation_id, body)


def remove_value(db: Database, actor: Actor, value_id: int, *, expected_version: int | None = None,
                 operation_id: str | None = None) -> Change:
    """Delete a value nothing uses; archive one that variants carry (they keep it)."""

    def body(session: Session) -> Change:
        v = _lock(session, AttributeValue, value_id, "attribute value")
        _check_version("attribute_value", v, v.value, expected_version)
        in_use = session.scalar(select(func.count()).select_from(VariantOption)
                                .where(VariantOption.attribute_value_id == v.id)) or 0
        if in_use:
            v.archived = True
            session.flush()
            return Change("attribute_value", v.id, "archive", v.version, {"archived": False},
                          {"archived": True, "variants": int(in_use)})
        session.execute(delete(VariantTemplateValue).where(VariantTemplateValue.attribute_value_id == v.id))
        snap = {"attribute_id": v.attribute_id, "value": v.value, "position": v.position}
        session.delete(v)
        session.flush()
        return Change("attribute_value", value_id, "delete", None, snap, None)

    return write_audited(db, actor, "remove_attribute_value", operation_id, body)


def remove_attribute(db: Database, actor: Actor, attribute_id: int, *, expected_version: int | None = None,
                     operation_id: str | None = None) -> Change:
    """Delete an attribute no variant uses (with its values); archive one in use."""

    def body(session: Session) -> Change:
        a = _lock(session, Attribute, attribute_id, "attribute")
        _check_version("attribute", a, a.code, expected_version)
        in_use = session.scalar(select(func.count()).select_from(VariantOption)
                                .where(VariantOption.attribute_id == a.id)) or 0
        if in_use:
            a.archived = True
            session.flush()
            return Change("attribute", a.id, "archive", a.version, {"archived": False},
                          {"archived": True, "variants": int(in_use)})
        ids = [v.id for v in a.values]
        if ids:
            session.execute(delete(VariantTemplateValue).where(VariantTemplateValue.attribute_value_id.in_(ids)))
        snap = {"code": a.code, "name": a.name, "values": [v.value for v in a.values]}
        for v in list(a.values):
            session.delete(v)
        session.delete(a)
        session.flush()
        return Change("attribute", attribute_id, "delete", None, snap, None)

    return write_audited(db, actor, "remove_attribute", operation_id, body)


def restore_attribute(db: Database, actor: Actor, attribute_id: int, *, operation_id: str | None = None) -> Change:
    def body(session: Session) -> Change:
        a = _lock(session, Attribute, attribute_id, "attribute")
        a.archived = False
        session.flush()
        return Change("attribute", a.id, "restore", a.version, {"archived": True}, {"archived": False})

    return write_audited(db, actor, "restore_attribute", operation_id, body)


# -- templates ------------------------------------------------------------------------------------------
def list_templates(db: Database) -> list[TemplateInfo]:
    with db.read() as session:
        names = {v.id: (a.code, v.value) for v, a in session.execute(
            select(AttributeValue, Attribute).join(Attribute, Attribute.id == AttributeValue.attribute_id)).all()}
        out = []
        for t in session.scalars(select(VariantTemplate).order_by(VariantTemplate.name)):
            options: dict[str, list[str]] = {}
            for tv in t.values:
                code, value = names[tv.attribute_value_id]
                options.setdefault(code, []).append(value)
            exclusions = [{names[i][0]: names[i][1] for i in combo if i in names} for combo in (t.exclusions or [])]
            out.append(TemplateInfo(t.id, t.name, t.description, t.sku_pattern, t.version, options, exclusions))
        return out


def get_template(db: Database, template_id: int) -> TemplateInfo:
    for t in list_templates(db):
        if t.id == template_id:
            return t
    raise NotFound(f"variant template {template_id} does not exist")


def _template_rows(session: Session, name: str, options: dict[str, list[str]], exclusions: list[dict[str, str]],
                   sku_pattern: str) -> tuple[list[int], list[list[int]]]:
    problems: list = []
    if not name.strip() or len(name) > 200:
        problems.append(("template", "name", "must be 1 to 200 characters"))
    if not options:
        problems.append((f"template {name}", "options", "choose at least one attribute"))
    resolved = resolve_values(session, options, problems)
    value_ids = [v.id for _, values in resolved for v in values]
    lookup = {(a.code, v.value): v.id for a, values in resolved for v in values}
    combos: list[list[int]] = []
    for i, combo in enumerate(exclusions):
        ids = []
        for code, value in combo.items():
            vid = lookup.get((code, value))
            if vid is None:
                problems.append((f"template {name} exclusion {i + 1}", code, f"{value!r} is not among the chosen values"))
            else:
                ids.append(vid)
        combos.append(sorted(ids))
    if sku_pattern:
        from backoffice.services.variants.sku_pattern import SkuPattern

        try:
            SkuPattern(sku_pattern).check(set(options))
        except ValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems)
    return value_ids, combos


def save_template(db: Database, actor: Actor, *, name: str, options: dict[str, list[str]],
                  exclusions: list[dict[str, str]] = (), sku_pattern: str = "", description: str = "",  # type: ignore[assignment]
                  template_id: int | None = None, expected_version: int | None = None,
                  operation_id: str | None = None) -> Change:
    """Create a template (no ``template_id``) or replace one's contents (version-checked)."""
    name = (name or "").strip()

    def body(session: Session) -> Change:
        value_ids, combos = _template_rows(session, name, options, list(exclusions), sku_pattern.strip())
        clash = session.scalar(select(VariantTemplate.id).where(VariantTemplate.name == name))
        if clash is not None and clash != template_id:
            raise ValidationError([(f"template {name}", "name", "is already used")])
        after = {"name": name, "options": options, "exclusions": list(exclusions), "sku_pattern": sku_pattern.strip(),
                 "description": description}
        if template_id is None:
            t = VariantTemplate(name=name, description=description, sku_pattern=sku_pattern.strip(), exclusions=combos)
            session.add(t)
            before = None
            action = "create"
        else:
            t = _lock(session, VariantTemplate, template_id, "variant template")
            _check_version("variant_template", t, t.name, expected_version)
            before = {"name": t.name, "sku_pattern": t.sku_pattern, "values": [v.attribute_value_id for v in t.values]}
            t.name, t.description, t.sku_pattern, t.exclusions = name, description, sku_pattern.strip(), combos
            t.values.clear()
            session.flush()
            action = "update"
        t.values = [VariantTemplateValue(attribute_value_id=vid, position=i) for i, vid in enumerate(value_ids)]
        session.flush()
        return Change("variant_template", t.id, action, t.version, before, after)

    return write_audited(db, actor, "save_variant_template", operation_id, body)


def delete_template(db: Database, actor: Actor, template_id: int, *, operation_id: str | None = None) -> Change:
    def body(session: Session) -> Change:
        t = _lock(session, VariantTemplate, template_id, "variant template")
        snap = {"name": t.name, "sku_pattern": t.sku_pattern}
        session.delete(t)
        session.flush()
        return Change("variant_template", template_id, "delete", None, snap, None)

    return write_audited(db, actor, "delete_variant_template", operation_id, body)
