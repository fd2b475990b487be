"""Reading the audit trail: filtered, newest first, in keyset pages (the table grows without bound), and
described for people (``describe``: names instead of ids, lines compared line by line, the rows of a
changeset) in batches, for the Audit view and ``backoffice audit``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, func, or_, select

from backoffice.db import Database
from backoffice.models import AuditEntry
from backoffice.services.base import NotFound, jsonable


@dataclass(frozen=True)
class AuditFilter:
    text: str = ""          # matched against entity id, username, action and operation id
    entity: str = ""        # "product", "variant", "stock_operation", ...
    username: str = ""
    action: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: dt.datetime
    username: str
    entity: str
    entity_id: str
    action: str
    operation_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    view: EntryView | None = None   # display-ready text with names (``describe``); None: not described

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON-safe values (``backoffice audit --json``); a described one adds its subject,
        summary and changeset."""
        data: dict[str, Any] = {"id": self.id, "at": self.at, "username": self.username, "entity": self.entity,
                                "entity_id": self.entity_id, "action": self.action,
                                "operation_id": self.operation_id, "before": self.before, "after": self.after}
        if self.view is not None:
            data.update(subject=self.view.subject, summary=self.view.summary, changeset_id=self.view.changeset_id)
        return jsonable(data)

    def changed_fields(self) -> list[str]:
        before, after = self.before or {}, self.after or {}
        return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))

    def summary(self) -> str:
        """One line for a table cell: which fields changed and how (at most three shown)."""
        before, after = self.before or {}, self.after or {}
        if not before and after:
            label = after.get("title") or after.get("sku") or after.get("username") or after.get("reason") or ""
            return f"created {label}".strip()
        if before and not after:
            return "deleted"
        parts = []
        fields = self.changed_fields()
        for name in fields[:3]:
            parts.append(f"{name}: {_short(before.get(name))} → {_short(after.get(name))}")
        if len(fields) > 3:
            parts.append(f"+{len(fields) - 3} more")
        return "; ".join(parts)


def _short(value: Any) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


PAGE_SIZE = 200


def _filtered(stmt: Select, f: AuditFilter) -> Select:
    if f.entity:
        stmt = stmt.where(AuditEntry.entity == f.entity)
    if f.username:
        stmt = stmt.where(AuditEntry.username == f.username)
    if f.action:
        stmt = stmt.where(AuditEntry.action == f.action)
    if f.since is not None:
        stmt = stmt.where(AuditEntry.at >= f.since)
    if f.until is not None:
        stmt = stmt.where(AuditEntry.at < f.until)
    if f.text.strip():
        needle = f"%{f.text.strip().lower()}%"
        stmt = stmt.where(
            or_(
                AuditEntry.entity_id == f.text.strip(),
                func.lower(AuditEntry.username).like(needle),
                func.lower(AuditEntry.action).like(needle),
                func.lower(AuditEntry.entity).like(needle),
                AuditEntry.operation_id == f.text.strip(),
            )
        )
    return stmt


def fetch_page(db: Database, f: AuditFilter = AuditFilter(), *, before_id: int | None = None,
               limit: int = PAGE_SIZE) -> list[AuditRow]:
    """Up to ``limit`` entries older than ``before_id`` (newest first); keyset, never OFFSET."""
    stmt = _filtered(select(AuditEntry), f)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    stmt = stmt.order_by(AuditEntry.id.desc()).limit(limit)
    with db.read() as session:
        return [_row_of(e) for e in session.scalars(stmt)]


def fetch_entry(db: Database, entry_id: int) -> AuditRow:
    """One entry, described (names, not ids); NotFound when there is none."""
    with db.read() as session:
        e = session.get(AuditEntry, entry_id)
        if e is None:
            raise NotFound(f"audit entry {entry_id} does not exist")
        row = _row_of(e)
    return describe(db, [row])[0]


def _row_of(e: AuditEntry) -> AuditRow:
    return AuditRow(e.id, e.at, e.username, e.entity, e.entity_id, e.action, e.operation_id, e.before, e.after)


def count(db: Database, f: AuditFilter = AuditFilter()) -> int:
    with db.read() as session:
        return session.scalar(_filtered(select(func.count()).select_from(AuditEntry), f)) or 0


def facets(db: Database) -> dict[str, list[str]]:
    """The distinct entities, actions and users, for the filter combo boxes."""
    with db.read() as session:
        return {
            "entity": list(session.scalars(select(AuditEntry.entity).distinct().order_by(AuditEntry.entity))),
            "action": list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))),
            "username": list(session.scalars(select(AuditEntry.username).distinct().order_by(AuditEntry.username))),
        }


# -- display-ready summaries ------------------------------------------------------------------------------
# The trail stores what each write saw: ids, nested lines, JSON. People read names. ``describe`` turns a
# page of entries into text a person can read: the subject of each entry by name ("TR-000012 (WH1 → SHOP)",
# "MC-S · Merino Crew / S"), every id in the before/after values resolved to its code or name, lists of
# lines compared line by line. Names are looked up in one batch per kind of thing for the whole page, so a
# page costs a handful of queries, never one per entry. Run it off the GUI thread.

@dataclass(frozen=True)
class FieldLine:
    """One row of an entry's before/after table, ready to show."""

    field: str        # the stored field name ("destination_location_id", "lines")
    label: str        # what a person reads ("destination location", "line MC-S · Merino Crew / S")
    before: str
    after: str
    changed: bool


@dataclass(frozen=True)
class EntryView:
    subject: str                       # the thing changed, by name: "TR-000012 (WH1 → SHOP)"
    item: str                          # its short name for a table cell: "TR-000012", "MC-S", "WH1"
    summary: str                       # what happened, one line, names not ids
    lines: tuple[FieldLine, ...]       # changed lines first, then the unchanged ones
    changeset_id: int | None = None    # a bulk edit, import or revert: its rows can be listed
    changeset_rows: int | None = None


_KINDS_OF_FIELDS = {
    "variant_id": "variant", "product_id": "product", "supplier_id": "supplier", "category_id": "category",
    "attribute_id": "attribute", "attribute_value_id": "attribute_value", "user_id": "user", "created_by": "user",
    "changeset_id": "changeset", "reverts_id": "changeset", "image_id": "product_image", "transfer_id": "transfer",
    "purchase_order_id": "purchase_order", "location_id": "location", "stock_count_id": "stock_count",
}
_IDENTITY_KEYS = ("variant_id", "sku", "location_id", "location", "from", "to")
_NAME_KEYS = ("number", "title", "name", "sku", "code", "handle", "username", "report_name", "key")
CHANGESET_KINDS = {"bulk": "Bulk edit", "import": "Import", "revert": "Revert", "edit": "Grid edit"}
SETTING_LABELS = {"smtp": "mail server settings"}


def _field_kind(entity: str, name: str) -> str | None:
    if name in _KINDS_OF_FIELDS:
        return _KINDS_OF_FIELDS[name]
    if name.endswith("location_id"):
        return "location"
    if name == "parent_id" and entity == "category":
        return "category"
    return None


def field_label(name: str) -> str:
    """``destination_location_id`` -> ``destination location``; ``created_by`` -> ``created by``."""
    text = name[:-3] if name.endswith("_id") else name
    return text.replace("_", " ")


def _as_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class _Names:
    """Ids wanted per kind, then resolved in one batch per kind."""

    CHUNK = 900

    def __init__(self) -> None:
        self.wanted: dict[str, set[int]] = {}
        self.found: dict[tuple[str, int], tuple[str, str]] = {}   # (kind, id) -> (long, short)

    def want(self, kind: str | None, value: Any) -> None:
        i = _as_id(value)
        if kind is not None and i is not None and kind in _LOADERS:
            self.wanted.setdefault(kind, set()).add(i)

    def load(self, session: Any) -> None:
        for kind, ids in self.wanted.items():
            ordered = sorted(ids)
            for start in range(0, len(ordered), self.CHUNK):
                for key, names in _LOADERS[kind](session, ordered[start:start + self.CHUNK]).items():
                    self.found[(kind, key)] = names

    def long(self, kind: str, value: Any) -> str | None:
        i = _as_id(value)
        names = self.found.get((kind, i)) if i is not None else None
        return names[0] if names else None

    def short(self, kind: str, value: Any) -> str | None:
        i = _as_id(value)
        names = self.found.get((kind, i)) if i is not None else None
        return names[1] if names else None

    def text(self, kind: str, value: Any) -> str:
        """A resolved id for a cell: its name, or what is known of it if it no longer exists."""
        if value is None:
            return "—"
        return self.long(kind, value) or f"{kind.replace('_', ' ')} {value} (no longer exists)"


def _variant_names(session: Any, ids: list[int]) -> dict[int, tuple[str, str]]:
    from backoffice.models import Product, Variant

    out = {}
    for vid, sku, vtitle, ptitle in session.execute(
            select(Variant.id, Variant.sku, Variant.title, Product.title)
            .join(Product, Product.id == Variant.product_id).where(Variant.id.in_(ids))):
        out[vid] = (f"{sku} · {ptitle}" + (f" / {vtitle}" if vtitle else ""), sku)
    return out


def _simple(model_name: str, long_expr: str, short_expr: str | None = None):  # type: ignore[no-untyped-def]
    def load(session: Any, ids: list[int]) -> dict[int, tuple[str, str]]:
        import backoffice.models as m

        model = getattr(m, model_name)
        long_col = getattr(model, long_expr)
        short_col = getattr(model, short_expr) if short_expr else long_col
        return {i: (str(a), str(b)) for i, a, b in session.execute(
            select(model.id, long_col, short_col).where(model.id.in_(ids)))}
    return load


def _location_names(session: Any, ids: list[int]) -> dict[int, tuple[str, str]]:
    from backoffice.models import Location

    return {i: (f"{code} · {name}", code) for i, code, name in session.execute(
        select(Location.id, Location.code, Location.name).where(Location.id.in_(ids)))}


def _transfer_names(session: Any, ids: list[int]) -> dict[int, tuple[str, str]]:
    from sqlalchemy.orm import aliased

    from backoffice.models import Location, Transfer

    src, dst = aliased(Location), aliased(Location)
    return {i: (f"{number} ({a} → {b})", number) for i, number, a, b in session.execute(
        select(Transfer.id, Transfer.number, src.code, dst.code).join(src, src.id == Transfer.source_location_id)
        .join(dst, dst.id == Transfer.destination_location_id).where(Transfer.id.in_(ids)))}


def _purchase_order_names(session: Any, ids: list[int]) -> dict[int, tuple[str, str]]:
    from backoffice.models import PurchaseOrder, Supplier

    return {i: (f"{number} ({supplier})", number) for i, number, supplier in session.execute(
        select(PurchaseOrder.id, PurchaseOrder.number, Supplier.name)
        .join(Supplier, Supplier.id == PurchaseOrder.supplier_id).where(PurchaseOrder.id.in_(ids)))}


def _stock_count_names(session: Any, ids: list[int]) -> dict[int, tuple[str, str]]:
    from backoffice.models import Location, StockCount

    return {i: (f"{number} at {code}", number) for i, number, code in session.execute(
        select(StockCount.id, StockCount.number, Location.code).join(Location, Location.id == StockCount.location_id)
        .where(StockCount.id.in_(ids)))}


def _stock_level_names(session: Any, ids: list[int]) -> dict[int, tuple[str, str]]:
    from backoffice.models import Location, Product, StockLevel, Variant

    return {i: (f"{sku} · {title} at {code}", f"{sku} at {code}") for i, sku, title, code in session.execute(
        select(StockLevel.id, Variant.sku, Product.title, Location.code)
        .join(Variant, Variant.id == StockLevel.variant_id).join(Product, Product.id == Variant.product_id)
        .join(Location, Location.id == StockLevel.location_id).where(StockLevel.id.in_(ids)))}


def _stock_operation_names(session: Any, ids: list[int]) -> dict[int, tuple[str, str]]:
    from backoffice.models import StockOperation

    out = {}
    for i, reason, document in session.execute(
            select(StockOperation.id, StockOperation.reason, StockOperation.document).where(StockOperation.id.in_(ids))):
        what = reason.replace("_", " ")
        out[i] = (f"{what} {document}".strip() if document else f"{what} #{i}", document or f"#{i}")
    return out


def _changeset_names(session: Any, ids: list[int]) -> dict[int, tuple[str, str]]:
    from backoffice.models import Changeset

    return {i: (f"{CHANGESET_KINDS.get(kind, kind.replace('_', ' ').capitalize())} #{i}: {description}", f"#{i}")
            for i, kind, description in session.execute(
                select(Changeset.id, Changeset.kind, Changeset.description).where(Changeset.id.in_(ids)))}


def _image_names(session: Any, ids: list[int]) -> dict[int, tuple[str, str]]:
    from backoffice.models import Product, ProductImage

    return {i: (f"{name or 'image ' + str(i)} of {title}", name or f"image {i}") for i, name, title in session.execute(
        select(ProductImage.id, ProductImage.filename, Product.title).join(Product, Product.id == ProductImage.product_id)
        .where(ProductImage.id.in_(ids)))}


def _supplier_item_names(session: Any, ids: list[int]) -> dict[int, tuple[str, str]]:
    from backoffice.models import Supplier, SupplierItem, Variant

    return {i: (f"{sku} from {supplier}", sku) for i, sku, supplier in session.execute(
        select(SupplierItem.id, Variant.sku, Supplier.name).join(Variant, Variant.id == SupplierItem.variant_id)
        .join(Supplier, Supplier.id == SupplierItem.supplier_id).where(SupplierItem.id.in_(ids)))}


def _attribute_value_names(session: Any, ids: list[int]) -> dict[int, tuple[str, str]]:
    from backoffice.models import Attribute, AttributeValue

    return {i: (f"{name}: {value}", value) for i, value, name in session.execute(
        select(AttributeValue.id, AttributeValue.value, Attribute.name)
        .join(Attribute, Attribute.id == AttributeValue.attribute_id).where(AttributeValue.id.in_(ids)))}


_LOADERS: dict[str, Any] = {
    "variant": _variant_names,
    "product": _simple("Product", "title"),
    "location": _location_names,
    "supplier": _simple("Supplier", "name"),
    "category": _simple("Category", "name"),
    "user": _simple("User", "username"),
    "attribute": _simple("Attribute", "name"),
    "attribute_value": _attribute_value_names,
    "transfer": _transfer_names,
    "purchase_order": _purchase_order_names,
    "stock_count": _stock_count_names,
    "stock_level": _stock_level_names,
    "stock_operation": _stock_operation_names,
    "changeset": _changeset_names,
    "product_image": _image_names,
    "supplier_item": _supplier_item_names,
    "report": _simple("SavedReport", "name"),
    "report_schedule": _simple("ReportSchedule", "report_name"),
}


def _want_values(names: _Names, entity: str, values: dict[str, Any] | None) -> None:
    for key, value in (values or {}).items():
        kind = _field_kind(entity, key)
        if kind is not None:
            names.want(kind, value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    for k, v in item.items():
                        names.want(_field_kind(entity, k), v)


def _want(names: _Names, row: AuditRow) -> None:
    if row.entity in _LOADERS:
        names.want(row.entity, row.entity_id)
    if row.entity == "low_stock_default":
        category, _, location = row.entity_id.partition("/")
        names.want("category", category)
        names.want("location", location)
    _want_values(names, row.entity, row.before)
    _want_values(names, row.entity, row.after)


def _scalar_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_scalar_text(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{field_label(k)} {_scalar_text(v)}" for k, v in _ordered(value)) if value else "none"
    text = str(value)
    return text if text.strip() else "“”"


def _value_text(names: _Names, entity: str, field: str, value: Any) -> str:
    kind = _field_kind(entity, field)
    if kind is not None and _as_id(value) is not None:
        return names.text(kind, value)
    return _scalar_text(value)


def _is_lines(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _line_key(item: dict[str, Any]) -> tuple[Any, ...]:
    return tuple((k, item[k]) for k in _IDENTITY_KEYS if k in item)


def _line_label(names: _Names, entity: str, item: dict[str, Any]) -> str:
    if "variant_id" in item:
        what = names.long("variant", item["variant_id"]) or f"variant {item['variant_id']} (no longer exists)"
    else:
        what = str(item.get("sku", ""))
    if "location_id" in item:
        what += f" at {names.short('location', item['location_id']) or item['location_id']}"
    elif "location" in item:
        what += f" at {item['location']}"
    if "from" in item or "to" in item:
        what += f" {item.get('from', '?')} → {item.get('to', '?')}"
    return what.strip()


_FIRST_KEYS = ("quantity", "shipped", "received", "lost", "returned", "on_hand", "unit_cost")


def _ordered(item: dict[str, Any]) -> list[tuple[str, Any]]:
    """A stable order whatever the database did to the JSON (PostgreSQL's jsonb sorts keys its own way)."""
    rank = {k: i for i, k in enumerate(_FIRST_KEYS)}
    return sorted(item.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def _line_values(names: _Names, entity: str, item: dict[str, Any] | None) -> str:
    if item is None:
        return "—"
    parts = [f"{field_label(k)} {_value_text(names, entity, k, v)}" for k, v in _ordered(item) if k not in _IDENTITY_KEYS]
    return ", ".join(parts) if parts else "present"


def _lines_diff(names: _Names, entity: str, field: str, before: Any, after: Any) -> list[FieldLine]:
    """A list of line dicts compared line by line: one row per line, keyed by what identifies it."""
    singular = field[:-1] if field.endswith("s") else field

    def keyed(items: Any) -> dict[tuple[Any, ...], dict[str, Any]]:
        out: dict[tuple[Any, ...], dict[str, Any]] = {}
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                key = _line_key(item)
                n = 0
                while (key, n) in out:  # the same thing twice in one list: keep both
                    n += 1
                out[(key, n)] = item  # type: ignore[index]
        return out  # type: ignore[return-value]

    b, a = keyed(before), keyed(after)
    order = list(a) + [k for k in b if k not in a]
    lines = []
    for key in order:
        item = a.get(key) or b.get(key) or {}
        before_text, after_text = _line_values(names, entity, b.get(key)), _line_values(names, entity, a.get(key))
        lines.append(FieldLine(field, f"{singular} {_line_label(names, entity, item)}", before_text, after_text,
                               b.get(key) != a.get(key)))
    return lines


def _subject(names: _Names, row: AuditRow) -> tuple[str, str]:
    entity, eid = row.entity, row.entity_id
    if entity in _LOADERS and names.long(entity, eid):
        return names.long(entity, eid) or eid, names.short(entity, eid) or eid
    if entity == "setting":
        label = SETTING_LABELS.get(eid, eid.replace("_", " "))
        return label, label
    if entity == "low_stock_default":
        category, _, location = eid.partition("/")
        cat = names.long("category", category) if category != "*" else None
        loc = names.short("location", location) if location != "*" else None
        text = f"{cat or 'every category'} at {loc or 'every location'}"
        return text, text
    snapshot = row.after or row.before or {}
    for key in _NAME_KEYS:
        if snapshot.get(key):
            name = str(snapshot[key])
            return name, name
    return f"{entity.replace('_', ' ')} {eid}", eid


def _entry_lines(names: _Names, row: AuditRow) -> list[FieldLine]:
    before, after = row.before or {}, row.after or {}
    changed, unchanged = [], []
    for field in sorted(set(before) | set(after)):
        b, a = before.get(field), after.get(field)
        if _is_lines(b) or _is_lines(a):
            for line in _lines_diff(names, row.entity, field, b, a):
                (changed if line.changed else unchanged).append(line)
            continue
        before_text = _value_text(names, row.entity, field, b) if field in before else "—"
        after_text = _value_text(names, row.entity, field, a) if field in after else "—"
        differs = ((field in before) != (field in after) or b != a) and before_text != after_text
        line = FieldLine(field, field_label(field), before_text, after_text, differs)
        (changed if differs else unchanged).append(line)
    return changed + unchanged


def _short_text(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _count_of(n: int, plural_field: str) -> str:
    """``3 lines``, ``1 line``."""
    word = plural_field.replace("_", " ")
    return f"{n:,} {word[:-1] if n == 1 and word.endswith('s') else word}"


def _summary(names: _Names, row: AuditRow, subject: str, lines: list[FieldLine]) -> str:
    before, after = row.before or {}, row.after or {}
    if row.entity == "changeset":
        rows = after.get("rows")
        text = subject
        if isinstance(rows, int):
            text += f" · {rows:,} row{'s' if rows != 1 else ''} changed"
        if after.get("conflicts"):
            text += f", {after['conflicts']:,} left as they were (changed since)"
        return text
    if row.entity == "stock_operation":
        moves = after.get("lines") or []
        parts = [f"{m.get('quantity')} × {m.get('sku')} {m.get('from')} → {m.get('to')}" for m in moves[:3]
                 if isinstance(m, dict)]
        if len(moves) > 3:
            parts.append(f"+{len(moves) - 3:,} more")
        reason = str(after.get("reason") or "").replace("_", " ")
        return f"{reason}: {', '.join(parts)}" if parts else reason
    changed = [ln for ln in lines if ln.changed]
    line_fields = {ln.field for ln in changed if ln.label != field_label(ln.field)}
    if not before and after:
        facts = [f"{ln.label}: {_short_text(ln.after, 40)}" for ln in changed
                 if ln.field not in _NAME_KEYS and ln.field not in line_fields and ln.after not in ("—", "“”")][:3]
        counts = [_count_of(sum(1 for ln in changed if ln.field == f), f) for f in sorted(line_fields)]
        return "; ".join(["created " + subject, *facts, *counts])
    if before and not after:
        return f"deleted {subject}"
    parts = [f"{ln.label}: {_short_text(ln.before, 32)} → {_short_text(ln.after, 32)}" for ln in changed
             if ln.field not in line_fields]
    for f in sorted(line_fields):
        parts.append(_count_of(sum(1 for ln in changed if ln.field == f), f) + " changed")
    if len(parts) > 3:
        parts = parts[:3] + [f"+{len(parts) - 3} more"]
    return "; ".join(parts) if parts else "no field changed"


def describe(db: Database, rows: list[AuditRow]) -> list[AuditRow]:
    """The same entries, each with ``view`` filled in: display-ready text with names instead of ids."""
    if not rows:
        return []
    names = _Names()
    for row in rows:
        _want(names, row)
    with db.read() as session:
        names.load(session)
    return [_describe_one(names, row) for row in rows]


def _describe_one(names: _Names, row: AuditRow) -> AuditRow:
    subject, item = _subject(names, row)
    lines = _entry_lines(names, row)
    changeset_id = _as_id(row.entity_id) if row.entity == "changeset" else None
    rows_changed = (row.after or {}).get("rows") if changeset_id is not None else None
    view = EntryView(subject, item, _summary(names, row, subject, lines), tuple(lines), changeset_id,
                     rows_changed if isinstance(rows_changed, int) else None)
    return replace(row, view=view)


def fetch_described_page(db: Database, f: AuditFilter = AuditFilter(), *, before_id: int | None = None,
                         limit: int = PAGE_SIZE) -> list[AuditRow]:
    """``fetch_page`` with each entry described (names, not ids): what the Audit view and CLI show."""
    return describe(db, fetch_page(db, f, before_id=before_id, limit=limit))


# -- the rows of a changeset ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChangesetRow:
    item: str          # SKU or handle
    name: str          # product title (and variant title)
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class ChangesetRows:
    changeset_id: int
    title: str                 # "Bulk edit #12: Raise prices 5%"
    username: str
    at: dt.datetime | None
    total_entries: int         # rows (variants, products) the changeset changed, all of them
    shown_entries: int         # entries read (at most the limit)
    rows: list[ChangesetRow]   # one per changed field of the entries read


def changeset_rows(db: Database, changeset_id: int, *, limit: int = 1000) -> ChangesetRows:
    """Which rows a bulk edit, import or revert changed, and each field before → after, by name."""
    from backoffice.models import Changeset, ChangesetEntry, Product, Variant

    with db.read() as session:
        cs = session.get(Changeset, changeset_id)
        if cs is None:
            raise NotFound(f"changeset {changeset_id} does not exist")
        total = int(session.scalar(select(func.count()).select_from(ChangesetEntry)
                                   .where(ChangesetEntry.changeset_id == changeset_id)) or 0)
        entries = list(session.scalars(select(ChangesetEntry).where(ChangesetEntry.changeset_id == changeset_id)
                                       .order_by(ChangesetEntry.id).limit(limit)))
        labels: dict[tuple[str, int], tuple[str, str]] = {}
        variant_ids = sorted({e.entity_id for e in entries if e.entity == "variant"})
        product_ids = sorted({e.entity_id for e in entries if e.entity == "product"})
        for start in range(0, len(variant_ids), _Names.CHUNK):
            for vid, sku, vtitle, ptitle in session.execute(
                    select(Variant.id, Variant.sku, Variant.title, Product.title)
                    .join(Product, Product.id == Variant.product_id)
                    .where(Variant.id.in_(variant_ids[start:start + _Names.CHUNK]))):
                labels[("variant", vid)] = (sku, f"{ptitle} / {vtitle}" if vtitle else ptitle)
        for start in range(0, len(product_ids), _Names.CHUNK):
            for pid, handle, title in session.execute(
                    select(Product.id, Product.handle, Product.title)
                    .where(Product.id.in_(product_ids[start:start + _Names.CHUNK]))):
                labels[("product", pid)] = (handle, title)
        title = f"{CHANGESET_KINDS.get(cs.kind, cs.kind.capitalize())} #{cs.id}: {cs.description}"
        out = []
        for e in entries:
            before, after = e.before or {}, e.after or {}
            item, name = labels.get((e.entity, e.entity_id)) or (
                str(after.get("sku") or after.get("handle") or before.get("sku") or f"{e.entity} {e.entity_id}"),
                str(after.get("title") or before.get("title") or ""))
            for field in sorted(set(before) | set(after)):
                if before.get(field) != after.get(field) or e.version_before == 0:
                    out.append(ChangesetRow(item, name, field_label(field),
                                            _scalar_text(before.get(field)) if field in before else "—",
                                            _scalar_text(after.get(field))))
        return ChangesetRows(cs.id, title, cs.username, cs.created_at, total, len(entries), out)
