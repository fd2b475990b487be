"""``backoffice variants …``: attributes, templates, the combination generator, surcharge pricing, bulk
variant changes and the matrix of one product, through the same operations as the GUI."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import click

from backoffice.cli.app import Context, db_options, main
from backoffice.cli.replay import (
    REPLAY_NOTE,
    op_id_option,
    previous_changeset,
    previous_result,
    replayed_changeset_line,
)


def _pairs(spec: str, what: str) -> dict[str, list[str]]:
    code, sep, values = spec.partition("=")
    if not sep or not code.strip() or not values.strip():
        raise click.UsageError(f"{what} {spec!r}: write it as CODE=VALUE,VALUE,…")
    return {code.strip(): [v.strip() for v in values.split(",") if v.strip()]}


def _options(specs: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for spec in specs:
        for code, values in _pairs(spec, "--attribute").items():
            out.setdefault(code, []).extend(values)
    return out


def _exclusions(specs: tuple[str, ...]) -> tuple[dict[str, str], ...]:
    out = []
    for spec in specs:
        combo = {}
        for part in spec.split(","):
            code, sep, value = part.partition("=")
            if not sep or not code.strip() or not value.strip():
                raise click.UsageError(f"--exclude {spec!r}: write it as CODE=VALUE,CODE=VALUE")
            combo[code.strip()] = value.strip()
        out.append(combo)
    return tuple(out)


def _product_ids(ops: Any, products: tuple[str, ...]) -> list[int]:
    from backoffice.operations import NotFound

    try:
        return ops.variants.resolve_products(list(products))
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None


def _money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


@main.group()
def variants() -> None:
    """Attributes, variant templates, the combination generator and variant pricing."""


# -- attributes -----------------------------------------------------------------------------------------
@variants.command("attributes")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_options
@click.pass_obj
def attributes_cmd(obj: Context, as_json: bool) -> None:
    """List attributes and their values, in order (archived ones marked)."""
    rows = obj.operations().variants.attributes()
    if as_json:
        click.echo(json.dumps([{"code": a.code, "name": a.name, "archived": a.archived,
                                "values": [{"value": v.value, "archived": v.archived, "variants": v.variant_count}
                                           for v in a.values]} for a in rows], indent=2))
        return
    if not rows:
        click.echo("No attributes yet: add one with `backoffice variants add-attribute CODE VALUES`.")
    for a in rows:
        values = ", ".join(v.value + (" (archived)" if v.archived else "") for v in a.values)
        click.echo(f"{a.code:<14} {a.name:<18} {values}{'  [archived]' if a.archived else ''}")


@variants.command("add-attribute")
@click.argument("code")
@click.argument("values")
@click.option("--name", default="", help="Display name (default: from the code).")
@op_id_option
@db_options
@click.pass_obj
def add_attribute(obj: Context, code: str, values: str, name: str, op_id: str | None) -> None:
    """Create attribute CODE with comma-separated VALUES in order, e.g. size XS,S,M,L,XL."""
    from backoffice.operations.variants import Change

    ops = obj.operations()
    previous = previous_result(ops, op_id, "create_attribute")
    change = Change.from_dict(previous) if previous is not None else ops.variants.create_attribute(
        code, name=name, values=[v.strip() for v in values.split(",")], op_id=op_id)
    made = change.after or {}
    click.echo(f"Created attribute {made.get('code')} with {len(made.get('values') or [])} values"
               + (REPLAY_NOTE if previous is not None else "") + ".")


def _attribute(ops: Any, code: str) -> Any:
    from backoffice.operations import NotFound

    try:
        return ops.variants.attribute(code)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None


@variants.command("add-values")
@click.argument("code")
@click.argument("values")
@op_id_option
@db_options
@click.pass_obj
def add_values(obj: Context, code: str, values: str, op_id: str | None) -> None:
    """Append comma-separated VALUES to attribute CODE."""
    from backoffice.operations.variants import Change

    ops = obj.operations()
    previous = previous_result(ops, op_id, "add_attribute_values")
    change = Change.from_dict(previous) if previous is not None else ops.variants.add_values(
        _attribute(ops, code).id, values.split(","), op_id=op_id)
    click.echo(f"Added {len(change.children)} value(s) to {code}" + (REPLAY_NOTE if previous is not None else "") + ".")


@variants.command("remove-value")
@click.argument("code")
@click.argument("value")
@op_id_option
@db_options
@click.pass_obj
def remove_value(obj: Context, code: str, value: str, op_id: str | None) -> None:
    """Remove VALUE from attribute CODE: deleted if no variant uses it, archived otherwise."""
    from backoffice.operations.variants import Change

    ops = obj.operations()
    previous = previous_result(ops, op_id, "remove_attribute_value")
    if previous is not None:   # the value may be gone by now: report the first removal
        change = Change.from_dict(previous)
    else:
        found = next((v for v in _attribute(ops, code).values if v.value == value), None)
        if found is None:
            raise click.ClickException(f"{value!r} is not a value of {code}")
        change = ops.variants.remove_value(found.id, op_id=op_id)
    click.echo(f"{code}={value} {'deleted' if change.action == 'delete' else 'archived (variants use it)'}"
               + (REPLAY_NOTE if previous is not None else "") + ".")


# -- templates ------------------------------------------------------------------------------------------
@variants.command("templates")
@db_options
@click.pass_obj
def templates_cmd(obj: Context) -> None:
    """List variant templates."""
    rows = obj.operations().variants.templates()
    if not rows:
        click.echo("No templates yet: save one with `backoffice variants save-template`.")
    for t in rows:
        options = "; ".join(f"{code}={','.join(values)}" for code, values in t.options.items())
        click.echo(f"{t.name:<32} {options}  pattern {t.sku_pattern or '(default)'}")


@variants.command("save-template")
@click.argument("name")
@click.option("--attribute", "attributes", multiple=True, required=True, metavar="CODE=V1,V2",
              help="An attribute and its values (repeatable).")
@click.option("--exclude", multiple=True, metavar="CODE=V,CODE=V", help="A combination to leave out (repeatable).")
@click.option("--sku-pattern", default="", help="e.g. {handle}-{color:3}-{size}")
@op_id_option
@db_options
@click.pass_obj
def save_template(obj: Context, name: str, attributes: tuple[str, ...], exclude: tuple[str, ...],
                  sku_pattern: str, op_id: str | None) -> None:
    """Save (create or replace) the variant template NAME."""
    from backoffice.operations.variants import Change

    ops = obj.operations()
    previous = previous_result(ops, op_id, "save_variant_template")
    if previous is not None:
        verb = "Saved" if Change.from_dict(previous).action == "create" else "Updated"
        click.echo(f"{verb} template {name}{REPLAY_NOTE}.")
        return
    existing = next((t for t in ops.variants.templates() if t.name == name), None)
    ops.variants.save_template(name, _options(attributes), exclusions=list(_exclusions(exclude)),
                               sku_pattern=sku_pattern, template_id=existing.id if existing else None,
                               expected_version=existing.version if existing else None, op_id=op_id)
    click.echo(f"{'Updated' if existing else 'Saved'} template {name}.")


# -- generator ------------------------------------------------------------------------------------------
@variants.command("generate")
@click.argument("products", nargs=-1, required=True)
@click.option("--attribute", "attributes", multiple=True, metavar="CODE=V1,V2",
              help="An attribute and the values to combine (repeatable), e.g. --attribute size=S,M,L.")
@click.option("--template", default=None, metavar="NAME", help="Take attributes, exclusions and pattern from a template.")
@click.option("--exclude", multiple=True, metavar="CODE=V,CODE=V", help="A combination to leave out (repeatable).")
@click.option("--sku-pattern", default="", help="Placeholders {handle}, {title} and attribute codes, :N keeps N chars.")
@click.option("--price", default=None, help="Price of new variants of products without a base price.")
@click.option("--prune", is_flag=True, help="Remove variants whose combination is not chosen (archived if they "
                                             "have stock or sales, deleted otherwise).")
@click.option("--dry-run", is_flag=True, help="Show what would be created; write nothing.")
@op_id_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_options
@click.pass_obj
def generate(obj: Context, products: tuple[str, ...], attributes: tuple[str, ...], template: str | None,
             exclude: tuple[str, ...], sku_pattern: str, price: str | None, prune: bool, dry_run: bool,
             op_id: str | None, as_json: bool) -> None:
    """Create every missing combination for PRODUCTS (handles). Running it again adds only what is missing."""
    from backoffice.operations import ValidationError
    from backoffice.operations.variants import GenerationRequest, GenerationResult

    ops = obj.operations()
    previous = None if dry_run else previous_result(ops, op_id, "generate_variants")
    if previous is not None:   # a retry: what the first run did, nothing planned or written again
        _show_generated(GenerationResult(**previous), as_json, replayed=True)
        return
    ids = _product_ids(ops, products)
    chosen, exclusions, pattern = _options(attributes), _exclusions(exclude), sku_pattern
    if template:
        found = next((t for t in ops.variants.templates() if t.name == template), None)
        if found is None:
            raise click.ClickException(f"unknown template: {template}")
        chosen = chosen or found.options
        exclusions = tuple(found.exclusions) + exclusions
        pattern = pattern or found.sku_pattern
    if not chosen:
        raise click.UsageError("give --attribute CODE=VALUES at least once, or --template NAME")
    request = GenerationRequest(tuple(ids), chosen, exclusions, pattern, price, prune)
    plan = ops.variants.plan_generation(request)
    if plan.problems:
        raise ValidationError(plan.problems)
    if dry_run:
        if as_json:
            click.echo(json.dumps({"create": plan.to_create, "existing": plan.existing, "archive": plan.to_archive,
                                   "delete": plan.to_delete, "other": plan.other, "rows": [[h, o, s, str(p) if p is not None else None, a]
                                                                       for h, o, s, p, a in plan.rows()]}, indent=2))
            return
        for handle, options, sku, amount, action in plan.rows():
            click.echo(f"{action:<8} {handle:<24} {options:<24} {sku:<28} {_money(amount)}")
        other = f", leave {plan.other} with other attributes" if plan.other else ""
        click.echo(f"Dry run: would create {plan.to_create}, keep {plan.existing} existing, archive {plan.to_archive}, "
                   f"delete {plan.to_delete}{other}; nothing was written.")
        return
    result = ops.variants.generate(request, op_id=op_id or uuid.uuid4().hex)
    _show_generated(result, as_json, replayed=False)


def _show_generated(result: Any, as_json: bool, *, replayed: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.to_dict() | {"replayed": replayed}, indent=2))
        return
    click.echo(f"Created {result.created}, kept {result.existing} existing, archived {result.archived}, "
               f"deleted {result.deleted}" + (f" (changeset #{result.changeset_id})" if result.changeset_id else "")
               + (REPLAY_NOTE if replayed else "") + ".")


# -- pricing --------------------------------------------------------------------------------------------
@variants.command("base-price")
@click.argument("product")
@click.argument("price")
@op_id_option
@db_options
@click.pass_obj
def base_price(obj: Context, product: str, price: str, op_id: str | None) -> None:
    """Set PRODUCT's base price (the price before surcharges); "none" removes it."""
    ops = obj.operations()
    previous = previous_result(ops, op_id, "set_base_price")
    if previous is None:
        pid = _product_ids(ops, (product,))[0]
        ops.variants.set_base_price(pid, None if price.lower() == "none" else price, op_id=op_id)
    else:
        price = str((previous.get("after") or {}).get("base_price") or "none")
    click.echo(f"Base price of {product}: {price}" + (REPLAY_NOTE if previous is not None else "") + ".")


@variants.command("rule")
@click.argument("option")
@click.argument("surcharge")
@click.option("--product", default=None, metavar="HANDLE", help="Only for this product (default: store-wide).")
@op_id_option
@db_options
@click.pass_obj
def rule(obj: Context, option: str, surcharge: str, product: str | None, op_id: str | None) -> None:
    """Surcharge for variants with OPTION (CODE=VALUE): an amount (+2.00, -1.50) or a percentage (15%)."""
    code, sep, value = option.partition("=")
    if not sep:
        raise click.UsageError(f"{option!r}: write the option as CODE=VALUE, e.g. size=XL")
    kind = "percent" if surcharge.strip().endswith("%") else "amount"
    ops = obj.operations()
    previous = previous_result(ops, op_id, "set_price_rule")
    if previous is None:
        pid = _product_ids(ops, (product,))[0] if product else None
        ops.variants.set_rule(code.strip(), value.strip(), kind, surcharge.strip().rstrip("%"), product_id=pid,
                              op_id=op_id)
    click.echo(f"Surcharge {code}={value}: {surcharge}{' for ' + product if product else ''}"
               + (REPLAY_NOTE if previous is not None else "") + ".")


@variants.command("rules")
@db_options
@click.pass_obj
def rules(obj: Context) -> None:
    """List surcharge rules."""
    found = obj.operations().variants.rules()
    if not found:
        click.echo("No surcharge rules yet: add one with `backoffice variants rule size=XL +2.00`.")
    for r in found:
        click.echo(f"{r.attribute_code}={r.value:<16} {r.surcharge.describe():>10}  {r.product_handle or 'all products'}")


@variants.command("reprice")
@click.argument("products", nargs=-1)
@click.option("--all", "all_products", is_flag=True, help="Every product with a base price.")
@click.option("--dry-run", is_flag=True, help="Show the price changes; write nothing.")
@op_id_option
@db_options
@click.pass_obj
def reprice(obj: Context, products: tuple[str, ...], all_products: bool, dry_run: bool, op_id: str | None) -> None:
    """Set variant prices to base price + surcharges, as one revertible changeset (overrides untouched)."""
    ops = obj.operations()
    done = None if dry_run else previous_changeset(ops, op_id)
    if done is not None:   # a retry: the first run's changeset, nothing planned or written again
        click.echo(replayed_changeset_line(done))
        return
    if all_products:
        ids = ops.variants.products_with_base_price()
    elif products:
        ids = _product_ids(ops, products)
    else:
        raise click.UsageError("name the products to reprice, or give --all")
    plan = ops.variants.preview_reprice(ids)
    for sku, old, new, how in plan.sample:
        click.echo(f"{sku:<28} {_money(old):>10} → {_money(new):>10}   {how}")
    if plan.products_without_base:
        click.echo(f"backoffice: note: no base price, passed by: {', '.join(plan.products_without_base[:10])}", err=True)
    summary = (f"{plan.affected} of {plan.considered} variants change; {plan.skipped_overrides} overrides and "
               f"{plan.skipped_archived} archived left as they are")
    if dry_run:
        click.echo(f"Dry run: {summary}; nothing was written.")
        for row, _, message in plan.invalid:
            click.echo(f"  {row}: {message}")
        return
    result = ops.variants.apply_reprice(ids, stamp=plan.stamp, op_id=op_id)
    click.echo(f"{summary}. Applied {result.applied_rows}"
               + (f" (changeset #{result.changeset_id})" if result.changeset_id else "")
               + (f"; {len(result.conflicts)} conflicts skipped" if result.conflicts else "") + ".")


@variants.command("override")
@click.argument("skus", nargs=-1, required=True)
@click.option("--off", is_flag=True, help="Price these by the rules again.")
@op_id_option
@db_options
@click.pass_obj
def override(obj: Context, skus: tuple[str, ...], off: bool, op_id: str | None) -> None:
    """Mark variants (by SKU) as keeping their own price when repricing."""
    from backoffice.operations.variants import Change

    ops = obj.operations()
    previous = previous_result(ops, op_id, "set_price_override")
    if previous is not None:
        change = Change.from_dict(previous)
    else:
        found = ops.variants.variant_ids_by_sku(list(skus))
        unknown = [s for s in skus if s not in found]
        if unknown:
            raise click.ClickException(f"unknown SKU: {', '.join(unknown)}")
        change = ops.variants.set_price_override(list(found.values()), not off, op_id=op_id)
    click.echo(f"{len(change.children)} variant(s) {'priced by rules again' if off else 'marked as price overrides'}"
               + (REPLAY_NOTE if previous is not None else "") + ".")


# -- bulk and matrix ------------------------------------------------------------------------------------
@variants.command("bulk")
@click.option("--set", "assignment", required=True, metavar="FIELD=VALUE",
              help="price, compare_at_price, cost, weight_grams, status, threshold or image (part of a file name; "
                   "empty for the main image); or enable / disable.")
@click.option("--option", "options", multiple=True, metavar="CODE=VALUE", help="Only variants with this value.")
@click.option("--category", type=int, default=None, help="Only this category (and below), by id.")
@click.option("--product", "products", multiple=True, metavar="HANDLE", help="Only these products.")
@click.option("--dry-run", is_flag=True, help="Preview; write nothing.")
@click.option("--allow-below-cost", is_flag=True,
              help="Apply even when some prices end up below their cost (else a terminal asks; a script stops).")
@op_id_option
@db_options
@click.pass_obj
def bulk_cmd(obj: Context, assignment: str, options: tuple[str, ...], category: int | None,
             products: tuple[str, ...], dry_run: bool, allow_below_cost: bool, op_id: str | None) -> None:
    """Change one field of every matching variant as one revertible changeset, e.g. all XL in a category."""
    from backoffice.operations import ValidationError
    from backoffice.operations.variants import Target, VariantFilter

    ops = obj.operations()
    field_name, sep, value = assignment.partition("=")
    if not sep and field_name not in ("enable", "disable"):
        raise click.UsageError(f"--set {assignment!r}: write it as FIELD=VALUE, or enable / disable")
    done = None if dry_run else previous_changeset(ops, op_id)
    if done is not None:   # a retry: the first run's changeset, nothing planned or written again
        click.echo(replayed_changeset_line(done))
        return
    pairs = {}
    for spec in options:
        code, sep2, val = spec.partition("=")
        if not sep2:
            raise click.UsageError(f"--option {spec!r}: write it as CODE=VALUE")
        pairs[code.strip()] = val.strip()
    base = VariantFilter(category_id=category, product_ids=tuple(_product_ids(ops, products)) if products else ())
    target = Target(filter=ops.variants.option_filter(pairs, base))
    if field_name == "threshold":
        if value.lower() != "none" and not value.strip().isdigit():
            raise click.UsageError(f"--set threshold={value}: give a whole number, or none for the defaults")
        threshold = None if value.lower() == "none" else int(value)
        tplan = ops.variants.preview_thresholds(target, threshold)
        if dry_run:
            click.echo(f"Dry run: {tplan.affected} stock levels of {tplan.considered} variants would change.")
            return
        tresult = ops.variants.apply_thresholds(target, threshold, stamp=tplan.stamp, op_id=op_id)
        click.echo(f"Changed {tresult.applied_rows} stock levels (changeset #{tresult.changeset_id}).")
        return
    if field_name == "image":   # image=TEXT: per product, the image whose file name holds TEXT; image= : main
        iplan = ops.variants.preview_image_assignment(target, value)
        for r in iplan.sample[:20]:
            click.echo(f"SKU {r.sku:<24} image: {', '.join(r.before_names) or '(main image)'} → "
                       f"{r.after_name or '(main image)'}")
        if iplan.invalid:
            raise ValidationError(iplan.invalid[:20])
        if dry_run:
            click.echo(f"Dry run: {iplan.affected} of {iplan.considered} variants would change; nothing was written.")
            return
        iresult = ops.variants.apply_image_assignment(target, value, stamp=iplan.stamp, op_id=op_id)
        click.echo(f"Changed {iresult.applied_rows} variants" + (f" (changeset #{iresult.changeset_id})"
                                                                 if iresult.changeset_id else "") + ".")
        for c in iresult.conflicts:
            click.echo(f"backoffice: conflict: {c.label}: its image changed meanwhile; left as it is", err=True)
        return
    operation = ops.variants.bulk_operation(field_name, value or None)
    plan = ops.bulk.preview(operation, target)
    for label, name, old, new in plan.sample[:20]:
        click.echo(f"{label:<28} {name}: {old} → {new}")
    if plan.invalid:
        for row, name, message in plan.invalid[:20]:
            click.echo(f"  invalid {row} {name}: {message}", err=True)
    from backoffice.cli.products import confirm_below_cost, print_below_cost

    print_below_cost(plan)
    if dry_run:
        click.echo(f"Dry run: {plan.affected} of {plan.considered} variants would change; nothing was written.")
        return
    confirm_below_cost(plan, allow_below_cost)
    result = ops.bulk.apply(operation, target, stamp=plan.stamp, allow_below_cost=True, op_id=op_id)
    click.echo(f"Changed {result.applied_rows} variants" + (f" (changeset #{result.changeset_id})"
                                                            if result.changeset_id else "") + ".")


@variants.command("matrix")
@click.argument("product")
@click.option("--rows", "row_attribute", default="", metavar="CODE", help="Attribute down the side.")
@click.option("--columns", "column_attribute", default="", metavar="CODE", help="Attribute across the top.")
@db_options
@click.pass_obj
def matrix_cmd(obj: Context, product: str, row_attribute: str, column_attribute: str) -> None:
    """Print PRODUCT's variants as a grid: price and total stock per pair of values."""
    ops = obj.operations()
    grid = ops.variants.matrix(_product_ids(ops, (product,))[0], row_attribute, column_attribute)
    width = 18
    click.echo(f"{grid.row_attribute or '':<12}" + "".join(f"{c or '—':>{width}}" for c in grid.columns))
    for r in grid.rows:
        cells = []
        for c in grid.columns:
            cell = grid.cell(r, c)
            if cell is None:
                cells.append(f"{'·':>{width}}")
                continue
            price = _money(cell.price_min) if cell.price_min == cell.price_max else \
                f"{_money(cell.price_min)}–{_money(cell.price_max)}"
            cells.append(f"{price + ' / ' + str(cell.stock):>{width}}")
        click.echo(f"{r or '—':<12}" + "".join(cells))
