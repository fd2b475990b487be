"""Planning an import: every row checked, then compared with the store.

Built for 100k-row files: pass 1 works column by column (each distinct cell text parsed once: prices,
statuses and weights repeat a lot), pass 2 is one lean loop over the rows with the store's rows read in
chunks keyed by SKU and handle. The same plan serves the dry run (read session) and the import (inside
the write transaction).
"""

from __future__ import annotations

from collections import defaultdict
from operator import itemgetter
from typing import Any

from sqlalchemy import String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from backoffice.models import Product, ProductTag, Variant, VariantOption
from backoffice.services.catalog import HANDLE_RE, MAX_LENGTHS, SKU_RE
from backoffice.services.changesets import RowChange
from backoffice.services.importexport.attributes import OptionResolver
from backoffice.services.importexport.cells import (
    ABSENT,
    PARSERS,
    PRODUCT_STATUSES,
    array_literal,
    parse_signature,
    same_value,
    short,
    signature,
)
from backoffice.services.importexport.common import (
    SHOPIFY_IMAGE_COLUMNS,
    SHOPIFY_NO_OPTION,
    Problem,
    Steps,
    category_key,
    category_paths,
    unneutralise,
)
from backoffice.services.importexport.model import (
    ImportReport,
    NewProduct,
    NewVariant,
    Plan,
)
from backoffice.services.importexport.reading import ParsedFile

CHUNK = 5000
PRODUCT_TEXT = {"title": 255, "vendor": 200, "product_type": 200, "seo_title": 255, "seo_description": 500}
PRODUCT_FIELDS = ("title", "description", "vendor", "product_type", "status", "category", "tags", "seo_title",
                  "seo_description", "published")
# variant fields as (field, column key); their position in a stored variant tuple (see load_variants)
VARIANT_FIELDS = (("price", "price"), ("compare_at_price", "compare_at_price"), ("cost", "cost"),
                  ("barcode", "barcode"), ("weight_grams", "weight_grams"), ("status", "variant_status"))
_STORED = {"barcode": 5, "price": 6, "compare_at_price": 7, "cost": 8, "weight_grams": 9, "status": 10}
# a stored variant tuple as changesets.apply_in_session(locked_variants=...) wants it (product id and handle unused)
_LOCKED_FIELDS = ("sku", "id", "version", "product_id", "handle", "barcode", "price", "compare_at_price", "cost",
                  "weight_grams", "status")



# -- the planner ----------------------------------------------------------------------------------------
class Planner:
    """``lock``: the plan is made inside the import's write transaction: the store's variants that the
    file names are read locked (in id order), so the changeset can take their values as read."""

    def __init__(self, session: Session, parsed: ParsedFile, steps: Steps, *, lock: bool = False) -> None:
        self.s, self.p, self.steps, self.lock = session, parsed, steps, lock
        self.pg = session.get_bind().dialect.name == "postgresql"
        self.problems: list[Problem] = []
        self.cols = parsed.columns
        self.header = parsed.header
        self.report = ImportReport(parsed.name, parsed.format, parsed.container, parsed.data_rows,
                                   notes=list(parsed.notes))
        width = len(parsed.header)
        for r in parsed.rows:   # pad short rows once, so every column index is valid below
            if len(r) < width:
                r.extend([""] * (width - len(r)))

    def problem(self, row: int, col: int | str | None, message: str) -> None:
        name = self.header[col] if isinstance(col, int) else (col or "")
        self.problems.append(Problem(row, name, message))

    def column(self, i: int) -> list[str]:
        return list(map(itemgetter(i), self.p.rows))

    # -- pass 1: every row on its own, column by column ----------------------------------------------
    def read_rows(self) -> tuple[list[int], list[str], list[str], dict[str, list[Any]], list[Any]]:
        """Row indexes that passed, with per-row SKU, handle, variant values (by field) and options."""
        p, cols, nums = self.p, self.cols, self.p.row_numbers
        n_rows = len(p.rows)
        bad: set[int] = set()
        skip: set[int] = set()
        i_sku, i_handle = cols["sku"], cols.get("handle")
        shopify = p.format == "shopify"
        clean = {t: unneutralise(t).strip() for t in set(self.column(i_sku))}
        skus = [clean[t] for t in self.column(i_sku)]
        sku_max = MAX_LENGTHS["sku"]
        sku_errors = {}
        for s in set(clean.values()):
            if len(s) > sku_max:
                sku_errors[s] = f"is {len(s)} characters long; at most {sku_max}"
            elif s and not SKU_RE.match(s):
                sku_errors[s] = f"{short(s)} must start with a letter or digit and hold no spaces"
        self.steps.within(0.05)
        values: dict[str, list[Any]] = {}
        value_errors: dict[str, tuple[int, dict[str, str]]] = {}
        for key, col in VARIANT_FIELDS:
            if col not in cols:
                continue
            texts = self.column(cols[col])
            parse = PARSERS[key]
            if key == "barcode":   # nearly every barcode is distinct: skip the call for plain digits
                parsed = {t: (t, None) if t.isdigit() and len(t) <= 64 else parse(unneutralise(t).strip())
                          for t in set(texts)}
            else:
                parsed = {t: parse(unneutralise(t).strip()) for t in set(texts)}
            errors = {t: e for t, (_, e) in parsed.items() if e is not None}
            values[key] = [parsed[t][0] for t in texts]
            if errors:
                value_errors[key] = (cols[col], errors)
                for k, t in enumerate(texts):
                    if t in errors:
                        bad.add(k)
        self.steps.within(0.2)
        money_cols = [cols[k] for k in ("price", "compare_at_price", "cost") if k in cols]
        option_idx = [i for pair in p.option_columns for i in pair if i is not None]
        if p.options_column is not None:
            option_idx = [p.options_column]
        # empty SKUs: Shopify image rows are skipped, anything else is a problem
        if "" in clean.values():
            for k, s in enumerate(skus):
                if s:
                    continue
                r = p.rows[k]
                if shopify and not any(r[i].strip() for i in money_cols + option_idx):
                    skip.add(k)
                else:
                    self.problem(nums[k], i_sku, "is empty: every variant needs a SKU (variants are matched by SKU)")
                    bad.add(k)
        if shopify:
            image_cols = [p.header.index(h) for h in SHOPIFY_IMAGE_COLUMNS if h in p.header]
            images = sum(1 for r in p.rows if any(r[i].strip() for i in image_cols)) if image_cols else 0
            self.report.skipped_rows = len(skip)
            if images:
                self.report.notes.append(f"{images:,} image URL{'s' if images != 1 else ''} not imported "
                                         "(add images in Backoffice's image library)")
        if sku_errors:
            for k, s in enumerate(skus):
                if s in sku_errors:
                    self.problem(nums[k], i_sku, sku_errors[s])
                    bad.add(k)
        if len(set(skus)) + len(skip) < n_rows:
            seen: dict[str, int] = {}
            for k, s in enumerate(skus):
                if not s:
                    continue
                first = seen.get(s)
                if first is None:
                    seen[s] = nums[k]
                else:
                    self.problem(nums[k], i_sku, f"{short(s)} already appears on row {first}; each SKU may appear once")
                    bad.add(k)
        if i_handle is not None:
            hclean = {t: unneutralise(t).strip() for t in set(self.column(i_handle))}
            handles = [hclean[t] for t in self.column(i_handle)]
            handle_errors = {}
            for h in set(hclean.values()):
                if len(h) > MAX_LENGTHS["handle"]:
                    handle_errors[h] = f"is {len(h)} characters long; at most {MAX_LENGTHS['handle']}"
                elif h and not HANDLE_RE.match(h):
                    handle_errors[h] = f"{short(h)} must be lower-case letters, digits and single dashes"
            if handle_errors:
                for k, h in enumerate(handles):
                    if h in handle_errors and k not in skip:
                        self.problem(nums[k], i_handle, handle_errors[h])
                        bad.add(k)
        else:
            handles = [""] * n_rows
            handle_errors = {}
        for col_i, errors in value_errors.values():
            texts = self.column(col_i)
            for k, t in enumerate(texts):
                if t in errors and k not in skip:
                    self.problem(nums[k], col_i, errors[t])
        self.steps.within(0.3)
        options: list[Any] = [None] * n_rows
        if option_idx:
            options = self._options(handles, option_idx, bad, skip, shopify)
        self.steps.within(0.4)
        good = [k for k in range(n_rows) if k not in bad and k not in skip] if (bad or skip) else list(range(n_rows))
        self.valid_handles = {h for h in set(handles) if h and h not in handle_errors}
        self.skipped = skip
        return good, skus, handles, values, options

    def _options(self, handles: list[str], option_idx: list[int], bad: set[int], skip: set[int],
                 shopify: bool) -> list[Any]:
        """Per row: a list of (name, value, column), shared between rows with the same option cells."""
        p = self.p
        get = itemgetter(*option_idx)
        names_by_handle: dict[str, list[str]] = {}
        cache: dict[tuple, list | None] = {}
        out: list[Any] = [None] * len(p.rows)
        single = len(option_idx) == 1
        for k, r in enumerate(p.rows):
            if k in skip:
                continue
            raw = get(r)
            if single:
                raw = (raw,)
            handle = handles[k]
            carried = names_by_handle.get(handle) if handle else None
            key = (raw, tuple(carried) if carried else None)
            if key in cache:
                found = cache[key]
                if found is None:
                    self._row_options(p.row_numbers[k], handle, r, names_by_handle, shopify)   # report this row too
                elif handle and carried is None and p.option_columns:
                    self._row_options(p.row_numbers[k], handle, r, names_by_handle, shopify)   # remember the names
            else:
                found = cache[key] = self._row_options(p.row_numbers[k], handle, r, names_by_handle, shopify)
            if found is None:
                bad.add(k)
            else:
                out[k] = found
        return out

    def _row_options(self, num: int, handle: str, r: list[str], names_by_handle: dict[str, list[str]],
                     shopify: bool) -> list[tuple[str, str, int]] | None:
        def cell(i: int | None) -> str:
            return unneutralise(r[i]).strip() if i is not None else ""

        pairs: list[tuple[str, str, int]] = []
        ok = True
        i_options = self.p.options_column
        if i_options is not None:
            for part in (x.strip() for x in cell(i_options).split(";")):
                if not part:
                    continue
                if "=" not in part:
                    self.problem(num, i_options, f"{short(part)} is not name=value (write options as \"size=M; colour=Red\")")
                    ok = False
                    continue
                name, value = (x.strip() for x in part.split("=", 1))
                if not name or not value:
                    self.problem(num, i_options, f"{short(part)} needs both a name and a value")
                    ok = False
                    continue
                pairs.append((name, value, i_options))
        else:
            carried = names_by_handle.get(handle) if handle else None
            names: list[str] = []
            for slot, (i_name, i_value) in enumerate(self.p.option_columns):
                name = cell(i_name)
                if not name and carried and slot < len(carried):
                    name = carried[slot]
                names.append(name)
                value = cell(i_value)
                if not value:
                    continue
                if not name:
                    self.problem(num, i_value, f"{short(value)} has no option name (option{slot + 1}_name is empty)")
                    ok = False
                    continue
                pairs.append((name, value, i_value))
            if handle and any(names) and handle not in names_by_handle:
                names_by_handle[handle] = names
            if shopify and len(pairs) == 1 and (pairs[0][0], pairs[0][1]) == SHOPIFY_NO_OPTION:
                pairs = []
        seen_names: set[str] = set()
        for name, value, col in pairs:
            if name.casefold() in seen_names:
                self.problem(num, col, f"option {short(name)} is given twice")
                ok = False
            seen_names.add(name.casefold())
            if len(name) > 200 or len(value) > 200:
                self.problem(num, col, "option names and values are at most 200 characters")
                ok = False
        return pairs if ok else None

    # -- reads of the store ---------------------------------------------------------------------------
    def _keyed(self, stmt_for, keys: list[Any]):  # type: ignore[no-untyped-def]
        """Rows of ``stmt_for(condition)`` for the keys, in chunks (``= ANY(array)`` on PostgreSQL)."""
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start:start + CHUNK]
            if self.pg:
                kind = String if isinstance(chunk[0], str) else Variant.id.type
                yield from self.s.execute(stmt_for(lambda col, c=chunk, t=kind: col == any_(bindparam(
                    "keys", c, type_=ARRAY(t))))).all()
            else:
                yield from self.s.execute(stmt_for(lambda col, c=chunk: col.in_(c))).all()

    def _raw(self, sql: str, keys: list[Any]) -> list[tuple]:
        """PostgreSQL: one plain driver query joining the keys as ``unnest(%s)`` (the array sent as one
        text literal: far cheaper than adapting a list element by element; the server then picks a hash
        join for big files), rows without ORM processing."""
        if not keys:
            return []
        raw = self.s.connection().connection.driver_connection
        with raw.cursor() as cur:
            cur.execute(sql, [array_literal(keys)])
            return cur.fetchall()

    def load_variants(self, skus: list[str], with_handle: bool = True) -> dict[str, tuple]:
        """sku -> (sku, id, version, product_id, handle, barcode, price, compare_at, cost, weight, status);
        handle None unless ``with_handle`` (PostgreSQL: then products are not joined)."""
        if self.pg:
            # "= ANY(array)": the server hashes the keys and probes them from a scan of variants (a join with
            # unnest() made it hash all of variants instead, several times slower at 100k keys)
            handle, join = ("p.handle", " JOIN products p ON p.id = v.product_id") if with_handle else ("NULL", "")
            return {r[0]: r for r in self._raw(
                f"SELECT v.sku, v.id, v.version, v.product_id, {handle}, v.barcode, v.price, v.compare_at_price, v.cost,"
                f" v.weight_grams, v.status FROM variants v{join}"
                " WHERE v.sku = ANY(%s::text[])" + (" ORDER BY v.id FOR UPDATE OF v" if self.lock else ""), skus)}
        cols = (Variant.sku, Variant.id, Variant.version, Variant.product_id, Product.handle, Variant.barcode,
                Variant.price, Variant.compare_at_price, Variant.cost, Variant.weight_grams, Variant.status)
        return {r[0]: (*r[:10], r[10].value) for r in self._keyed(
            lambda cond: select(*cols).join(Product, Product.id == Variant.product_id).where(cond(Variant.sku)), skus)}

    def load_options(self, variant_ids: list[int]) -> dict[int, str]:
        """variant id -> its options as "attribute id:value id,..." ordered by attribute id (one string per
        variant: cheap to fetch and to compare with what the file says)."""
        if self.pg:
            return dict(self._raw(
                "SELECT o.variant_id, string_agg(o.attribute_id || ':' || o.attribute_value_id, ','"
                " ORDER BY o.attribute_id) FROM unnest(%s::bigint[]) AS k(id)"
                " JOIN variant_options o ON o.variant_id = k.id GROUP BY o.variant_id", variant_ids))
        pairs: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for vid, aid, avid in self._keyed(lambda cond: select(VariantOption.variant_id, VariantOption.attribute_id,
                                                              VariantOption.attribute_value_id)
                                          .where(cond(VariantOption.variant_id)), variant_ids):
            pairs[vid].append((aid, avid))
        return {vid: signature(p) for vid, p in pairs.items()}

    def load_products(self, handles: list[str], with_tags: bool) -> tuple[dict[str, tuple], dict[int, list[str]]]:
        cols = (Product.handle, Product.id, Product.version, Product.title, Product.description, Product.vendor,
                Product.product_type, Product.status, Product.category_id, Product.seo_title, Product.seo_description)
        products = {r[0]: r for r in self._keyed(lambda cond: select(*cols).where(cond(Product.handle)), handles)}
        tags: dict[int, list[str]] = defaultdict(list)
        if with_tags and products:
            for pid, tag in self._keyed(
                    lambda cond: select(ProductTag.product_id, ProductTag.tag).where(cond(ProductTag.product_id)),
                    sorted(r[1] for r in products.values())):
                tags[pid].append(tag)
        return products, tags

    # -- pass 2: against the store --------------------------------------------------------------------
    def plan(self) -> Plan:
        s, p, cols, nums = self.s, self.p, self.cols, self.p.row_numbers
        steps = self.steps
        good, skus, handles, values, options = self.read_rows()
        valid_handles = self.valid_handles
        plan = Plan(self.report)
        locked = plan.locked_variants = {} if self.lock else None
        product_cols = [(k, cols[k]) for k in PRODUCT_FIELDS if k in cols]
        # the stored variant's product matters for a row with a handle or product fields (a price list: no)
        existing = self.load_variants(sorted({skus[k] for k in good}), "handle" in cols or bool(product_cols))
        # the products the rows name; with product columns, also those of the rows' existing variants
        wanted = {handles[k] for k in good if handles[k]}
        if product_cols:
            wanted |= {v[4] for v in existing.values()}
        products, tags = self.load_products(sorted(wanted), "tags" in cols)
        cat_by_key: dict[str, int] = {}
        if "category" in cols:
            cat_by_key = {category_key(path): cid for cid, path in category_paths(s).items()}
        need_options = any(options[k] for k in good)
        attrs = OptionResolver(s, plan) if need_options else None
        stored_options: dict[int, str] = {}
        if need_options:
            stored_options = self.load_options(sorted(existing[skus[k]][1] for k in good
                                                      if options[k] and skus[k] in existing))
        steps.within(0.6)

        fields = [(key, values[key], _STORED[key]) for key, _ in VARIANT_FIELDS if key in values]
        price_col = values.get("price")
        compare_col = values.get("compare_at_price")
        get_cells = itemgetter(*[i for _, i in product_cols]) if product_cols else None
        single_product_col = len(product_cols) == 1
        merged: dict[str, list[str]] = {}
        origin: dict[str, list[int]] = {}
        first_row: dict[str, int] = {}
        last_cells: dict[str, tuple] = {}
        new_rows: dict[str, list[int]] = defaultdict(list)
        resolved_by_row: dict[int, list] = {}
        resolved_cache: dict[int, tuple] = {}   # option lists are shared by rows with equal cells
        i_sku = cols["sku"]
        # product cells, merged per product over every row that names it (rows with other problems too):
        # the first non-empty value wins, a different one is a problem
        if get_cells is not None:
            for k, r in enumerate(p.rows):
                handle = handles[k] if handles[k] in valid_handles else ""
                if not handle:
                    ex = existing.get(skus[k])
                    if ex is None:
                        continue
                    handle = ex[4]
                cells = get_cells(r)
                if single_product_col:
                    cells = (cells,)
                last = last_cells.get(handle)
                if last is None:
                    merged[handle] = list(cells)
                    origin[handle] = [nums[k]] * len(cells)
                    last_cells[handle] = cells
                elif cells != last:
                    self._merge(handle, cells, nums[k], merged[handle], origin[handle], product_cols)
                    last_cells[handle] = cells
        n_good = max(1, len(good))
        add_change, updated, unchanged = plan.changes.append, 0, 0
        for n, k in enumerate(good):
            if n % 5000 == 0:
                steps.within(0.6 + 0.3 * n / n_good)
            sku, num = skus[k], nums[k]
            ex = existing.get(sku)
            handle = handles[k]
            price = price_col[k] if price_col is not None else None
            compare_at = compare_col[k] if compare_col is not None else None
            if ex is not None:
                if handle and handle != ex[4]:
                    self.problem(num, i_sku, f"SKU {sku} belongs to product {ex[4]!r} in the store, not {handle!r}; "
                                             "an import cannot move variants between products")
                    continue
                handle = ex[4]
                if price_col is not None and price is None:
                    self.problem(num, cols["price"], "is empty; a variant's price cannot be removed")
                    continue
                if price_col is None:
                    price = ex[6]
                if compare_col is None:
                    compare_at = ex[7]
            else:
                if not handle:
                    self.problem(num, cols.get("handle", i_sku), f"SKU {sku} is not in the store, and a new variant "
                                                                 "needs a handle (the product it belongs to)")
                    continue
                if price is None:
                    self.problem(num, cols.get("price", i_sku), "is required for a new variant")
                    continue
            if compare_at is not None and price is not None and compare_at < price:
                self.problem(num, cols.get("compare_at_price", cols.get("price")), f"{compare_at} is below the price {price}")
                continue
            if handle not in first_row and (ex is None or product_cols):   # (no product fields: nothing to plan)
                first_row[handle] = num
            # options
            opts = options[k]
            if opts and attrs is not None:
                found = resolved_cache.get(id(opts))
                if found is None:
                    resolved = attrs.resolve(opts)
                    expected = (signature([(a[1], v[1]) for a, v in resolved])
                                if all(a[0] == "a" and v[0] == "v" for a, v in resolved) else None)
                    found = resolved_cache[id(opts)] = (resolved, expected)
                resolved, expected = found
                if ex is not None:
                    stored = stored_options.get(ex[1])
                    if expected is None or stored != expected:   # else: exactly as stored
                        self._check_options(num, sku, resolved, opts, parse_signature(stored), attrs)
                else:
                    resolved_by_row[k] = resolved
            if ex is None:
                new_rows[handle].append(k)
            else:
                diff = {}
                for key, column, pos in fields:
                    v = column[k]
                    if v is not ABSENT and v != ex[pos]:
                        diff[key] = v
                if diff:
                    add_change(RowChange("variant", ex[1], ex[2], diff))
                    if locked is not None:
                        locked[ex[1]] = dict(zip(_LOCKED_FIELDS, ex, strict=False))
                    updated += 1
                else:
                    unchanged += 1
        self.report.updated_variants += updated
        self.report.unchanged_variants += unchanged
        steps.within(0.9)
        self._plan_products(plan, first_row, merged, origin, product_cols, products, tags, cat_by_key)
        self._plan_new_variants(plan, new_rows, products, skus, values, options, resolved_by_row)
        self.report.new_products = len(plan.new_products)
        self.report.new_variants = len(plan.new_variants)
        if attrs is not None:
            self.report.new_attributes = list(plan.new_attributes.values())
            self.report.new_attribute_values = [f"{attrs.attribute_name(a)}: {v}" for a, v in plan.new_values]
        order = {h: i for i, h in enumerate(self.header)}
        self.report.problems = sorted(self.problems, key=lambda q: (q.row, order.get(q.column, -1)))
        return plan

    def _merge(self, handle: str, cells: tuple, num: int, m: list[str], o: list[int],
               product_cols: list[tuple[str, int]]) -> None:
        for j, v in enumerate(cells):
            if not v or v == m[j]:
                continue
            if not m[j]:
                m[j], o[j] = v, num
            elif same_value(product_cols[j][0], unneutralise(v), unneutralise(m[j])):
                continue
            else:
                self.problem(num, product_cols[j][1], f"{short(unneutralise(v))} differs from {short(unneutralise(m[j]))} "
                                                      f"on row {o[j]} (product fields must agree on every row of {handle!r})")

    def _check_options(self, num: int, sku: str, resolved: list, opts: list, stored: dict[int, int],
                       attrs: OptionResolver) -> None:
        for (akey, vkey), (name, _value, col) in zip(resolved, opts, strict=True):
            if akey[0] == "a" and vkey[0] == "v" and stored.get(akey[1]) == vkey[1]:
                continue
            now = attrs.value_text(stored.get(akey[1])) if akey[0] == "a" else None
            held = f"{name}={now}" if now else f"no {name}"
            self.problem(num, col, f"SKU {sku} has {held} in the store; an import cannot change the options of "
                                   "existing variants (use the variant generator)")

    def _plan_products(self, plan: Plan, first_row: dict[str, int], merged: dict[str, list[str]],
                       origin: dict[str, list[int]], product_cols: list[tuple[str, int]], products: dict[str, tuple],
                       tags: dict[int, list[str]], cat_by_key: dict[str, int]) -> None:
        cols = self.cols
        for handle, first in first_row.items():
            cur = products.get(handle)
            values = self._product_values(product_cols, merged.get(handle), origin.get(handle), cat_by_key,
                                          new=cur is None)
            if values is None:
                continue
            if cur is None:
                if not values.get("title"):
                    self.problem(first, cols.get("title", cols.get("handle")), f"is required for the new product {handle!r}")
                    continue
                tag_list = values.pop("tags", [])
                plan.new_products.append(NewProduct(handle, values, tag_list))
                continue
            now = {"title": cur[3], "description": cur[4], "vendor": cur[5], "product_type": cur[6],
                   "status": cur[7].value, "category_id": cur[8], "seo_title": cur[9], "seo_description": cur[10],
                   "tags": sorted(tags.get(cur[1], []))}
            diff = {k: v for k, v in values.items() if now.get(k) != v}
            if diff:
                plan.changes.append(RowChange("product", cur[1], cur[2], diff, {k: now.get(k) for k in diff}))
                self.report.updated_products += 1

    def _plan_new_variants(self, plan: Plan, new_rows: dict[str, list[int]], products: dict[str, tuple],
                           skus: list[str], values: dict[str, list[Any]], options: list[Any],
                           resolved_by_row: dict[int, list]) -> None:
        existing_products = {h: products[h][1] for h in new_rows if h in products}
        last_position: dict[int, int] = {}
        ids = sorted(existing_products.values())
        for start in range(0, len(ids), CHUNK):
            last_position.update(self.s.execute(select(Variant.product_id, func.max(Variant.position))
                                                .where(Variant.product_id.in_(ids[start:start + CHUNK]))
                                                .group_by(Variant.product_id)).all())
        for handle, rows in new_rows.items():
            pid = existing_products.get(handle)
            pos = (last_position.get(pid, -1) + 1) if pid is not None else 0
            for k in rows:
                plan.new_variants.append(NewVariant(handle, pid, k, resolved_by_row.get(k, []), pos))
                pos += 1
        plan.skus, plan.values, plan.options = skus, values, options

    def _product_values(self, product_cols: list[tuple[str, int]], cells: list[str] | None, rows: list[int] | None,
                        cat_by_key: dict[str, int], *, new: bool) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        ok = True
        published = None
        for j, (key, i) in enumerate(product_cols):
            text = unneutralise(cells[j]) if cells else ""
            row = rows[j] if rows else 0
            if key in PRODUCT_TEXT:
                if key == "title":
                    text = text.strip()
                    if not text:
                        continue   # an existing product keeps its title; a new one is checked by the caller
                if len(text) > PRODUCT_TEXT[key]:
                    self.problem(row, i, f"is {len(text)} characters long; at most {PRODUCT_TEXT[key]}")
                    ok = False
                out[key] = text
            elif key == "description":
                out[key] = text
            elif key == "status":
                st = text.strip().lower()
                if not st:
                    continue
                if st not in PRODUCT_STATUSES:
                    self.problem(row, i, f"{short(st)} is not one of {', '.join(sorted(PRODUCT_STATUSES))}")
                    ok = False
                out["status"] = st
            elif key == "published":
                published = text.strip().lower() in ("true", "yes", "1")
            elif key == "category":
                path = text.strip()
                if not path:
                    out["category_id"] = None
                    continue
                cid = cat_by_key.get(category_key(path))
                if cid is None:
                    self.problem(row, i, f"unknown category {short(path, 80)} (write the full path of names, "
                                         "such as \"Apparel > Shirts\")")
                    ok = False
                out["category_id"] = cid
            elif key == "tags":
                found = sorted({t.strip() for t in text.split(",") if t.strip()})
                long = [t for t in found if len(t) > 100]
                if long:
                    self.problem(row, i, f"tag {short(long[0])} is longer than 100 characters")
                    ok = False
                out["tags"] = found
        if new and "status" not in out:
            out["status"] = "active" if published else "draft"
        return out if ok else None
