"""``backoffice locations …``, ``backoffice categories …`` and ``backoffice products add``: setting up a
store from nothing, through the same operations as the GUI.

Every write takes ``--op-id``: the same command retried with the same id writes nothing and reports
what the first run did, with exit status 0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from backoffice.cli.app import Context, db_options, main
from backoffice.cli.products import products
from backoffice.cli.replay import REPLAY_NOTE, op_id_option, previous_result
from backoffice.operations import Operations
from backoffice.operations.store import LOCATION_KINDS, Change


def _change(ops: Operations, op_id: str | None, action: str, write) -> tuple[Change, bool]:  # type: ignore[no-untyped-def]
    """Run ``write(op_id)`` unless ``op_id`` was applied before (checked before the command resolves its
    arguments: a moved category is no longer where the command names it): (the Change, replayed?)."""
    previous = previous_result(ops, op_id, action)
    if previous is not None:
        return Change.from_dict(previous), True
    return write(op_id), False


def _emit(change: Any, replayed: bool, as_json: bool, text: str) -> None:
    if as_json:
        click.echo(json.dumps(change.to_dict() | {"replayed": replayed}, indent=2))
    else:
        click.echo(text + (REPLAY_NOTE if replayed else "") + ".")


# -- locations ------------------------------------------------------------------------------------------
@main.group("locations")
def locations() -> None:
    """Warehouses, stores and the external places stock comes from and goes to."""


@locations.command("list")
@click.option("--active", "active_only", is_flag=True, help="Leave archived locations out.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_options
@click.pass_obj
def locations_list(obj: Context, active_only: bool, as_json: bool) -> None:
    """Every location: code, kind, name, units held, and whether it is archived."""
    rows = obj.operations().store.list_locations(include_archived=not active_only, with_stock=True)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No locations yet: add one with `backoffice locations add WH1 \"Main warehouse\" --kind warehouse`.")
        return
    click.echo(f"{'Code':<12} {'Kind':<11} {'On hand':>9}  Name")
    for r in rows:
        held = f"{r['on_hand']:,}" if r["internal"] else "—"
        click.echo(f"{r['code']:<12} {r['kind']:<11} {held:>9}  {r['name']}" + ("" if r["active"] else "  [archived]"))


@locations.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--kind", type=click.Choice(LOCATION_KINDS), default="warehouse", show_default=True,
              help="Warehouses, stores (and transit) hold stock; suppliers, customers and adjustment are the "
                   "other side of receipts, sales and write-offs.")
@op_id_option
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@db_options
@click.pass_obj
def locations_add(obj: Context, code: str, name: str, kind: str, op_id: str | None, as_json: bool) -> None:
    """Create location CODE (upper-case, no spaces) called NAME."""
    ops = obj.operations()
    store = ops.store
    change, replayed = _change(ops, op_id, "create_location",
                               lambda op: store.add_location(code, name, kind, op_id=op))
    after = change.after or {}
    _emit(change, replayed, as_json, f"Created location {after.get('code')} ({after.get('kind')}): {after.get('name')}")


@locations.command("edit")
@click.argument("code")
@click.option("--name", default=None, help="A new name.")
@click.option("--kind", type=click.Choice(LOCATION_KINDS), default=None, help="A new kind.")
@op_id_option
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def locations_edit(obj: Context, code: str, name: str | None, kind: str | None, op_id: str | None,
                   as_json: bool) -> None:
    """Rename location CODE or change its kind."""
    if name is None and kind is None:
        raise click.UsageError("give --name and/or --kind")
    ops = obj.operations()
    store = ops.store

    def edit_location(op: str | None):  # type: ignore[no-untyped-def]
        loc = store.find_location(code)
        return store.edit_location(loc["id"], expected_version=loc["version"], name=name, kind=kind, op_id=op)

    change, replayed = _change(ops, op_id, "update_location", edit_location)
    what = ", ".join(f"{k} {change.before.get(k)} → {v}" for k, v in (change.after or {}).items()) or "nothing to change"
    _emit(change, replayed, as_json, f"Location {code.upper()}: {what}")


@locations.command("archive")
@click.argument("code")
@op_id_option
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def locations_archive(obj: Context, code: str, op_id: str | None, as_json: bool) -> None:
    """Archive location CODE: no stock moves to or from it any more; its history stays. Refused while it
    holds stock or an open transfer or purchase order names it."""
    ops = obj.operations()
    store = ops.store
    change, replayed = _change(ops, op_id, "archive_location",
                               lambda op: store.archive_location(store.find_location(code)["id"], op_id=op))
    _emit(change, replayed, as_json, f"Archived location {code.upper()}")


@locations.command("restore")
@click.argument("code")
@op_id_option
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def locations_restore(obj: Context, code: str, op_id: str | None, as_json: bool) -> None:
    """Make archived location CODE active again."""
    ops = obj.operations()
    store = ops.store
    change, replayed = _change(ops, op_id, "restore_location",
                               lambda op: store.restore_location(store.find_location(code)["id"], op_id=op))
    _emit(change, replayed, as_json, f"Restored location {code.upper()}")


# -- categories -----------------------------------------------------------------------------------------
@main.group("categories")
def categories() -> None:
    """The category tree: paths of names such as Clothing/Tops (or "Clothing > Tops")."""


@categories.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (each node with its full name and depth).")
@db_options
@click.pass_obj
def categories_list(obj: Context, as_json: bool) -> None:
    """The category tree, indented, with the number of products directly in each category."""
    rows = obj.operations().store.list_categories()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No categories yet: add one with `backoffice categories add Clothing/Tops`.")
        return
    for r in rows:
        count = f"  ({r['products']:,} product{'s' if r['products'] != 1 else ''})" if r["products"] else ""
        click.echo(f"{'  ' * r['depth']}{r['name']}{count}")


@categories.command("add")
@click.argument("path")
@op_id_option
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def categories_add(obj: Context, path: str, op_id: str | None, as_json: bool) -> None:
    """Create category PATH, e.g. Clothing/Tops, with any missing level above it."""
    ops = obj.operations()
    store = ops.store
    change, replayed = _change(ops, op_id, "add_category_path", lambda op: store.add_category_path(path, op_id=op))
    made = len(change.children) + 1
    _emit(change, replayed, as_json, f"Created category {change.after.get('full_name')}"
          + (f" ({made} levels)" if made > 1 else ""))


@categories.command("rename")
@click.argument("path")
@click.argument("name")
@op_id_option
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def categories_rename(obj: Context, path: str, name: str, op_id: str | None, as_json: bool) -> None:
    """Rename the category at PATH to NAME (it keeps its place and its products)."""
    ops = obj.operations()
    store = ops.store

    def rename_category(op: str | None):  # type: ignore[no-untyped-def]
        found = store.find_category(path)
        return store.rename_category(found["id"], name, expected_version=found["version"], op_id=op)

    change, replayed = _change(ops, op_id, "rename_category", rename_category)
    _emit(change, replayed, as_json, f"Renamed category {change.before.get('name')} to {change.after.get('name')}")


@categories.command("move")
@click.argument("path")
@click.option("--to", "parent", required=True, metavar="PARENT",
              help='The new parent\'s path; "/" (or "") for the top level.')
@op_id_option
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def categories_move(obj: Context, path: str, parent: str, op_id: str | None, as_json: bool) -> None:
    """Move the category at PATH, with everything below it, under PARENT."""
    ops = obj.operations()
    store = ops.store

    def move_category(op: str | None):  # type: ignore[no-untyped-def]
        found = store.find_category(path)
        parent_id = None if parent.strip() in ("", "/", ">") else store.find_category(parent)["id"]
        return store.move_category(found["id"], parent_id, expected_version=found["version"], op_id=op)

    change, replayed = _change(ops, op_id, "move_category", move_category)
    below = f", with {len(change.children)} below it" if change.children else ""
    _emit(change, replayed, as_json,
          f"Moved category {change.before.get('full_name')} to {change.after.get('full_name')}{below}")


# -- products add ---------------------------------------------------------------------------------------
VARIANT_KEYS = {"price": "price", "cost": "cost", "compare_at": "compare_at_price",
                "compare_at_price": "compare_at_price", "barcode": "barcode", "weight": "weight_grams",
                "weight_grams": "weight_grams", "title": "title", "status": "status"}


def parse_variant(spec: str, index: int) -> dict[str, Any]:
    """"LT-M,price=25.00,cost=9.50,size=M" -> a variant: the SKU first, then KEY=VALUE pairs; keys other
    than price, cost, compare_at, barcode, weight, title and status are attribute codes."""
    where = f"--variant {index} {spec!r}"
    sku, *pairs = [part.strip() for part in spec.split(",")]
    if not sku or "=" in sku:
        raise click.UsageError(f"{where}: start with the SKU, e.g. TEE-M,price=25.00,size=M")
    out: dict[str, Any] = {"sku": sku, "options": {}}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise click.UsageError(f"{where}: {pair!r} is not KEY=VALUE")
        field = VARIANT_KEYS.get(key)
        if field is None:
            if key in out["options"]:
                raise click.UsageError(f"{where}: {key} is given twice")
            out["options"][key] = value.strip()
            continue
        if field in out:
            raise click.UsageError(f"{where}: {key} is given twice")
        if field == "weight_grams":
            if not value.strip().isdigit():
                raise click.UsageError(f"{where}: weight {value!r} must be a whole number of grams")
            out[field] = int(value)
        else:
            out[field] = value.strip()
    if "price" not in out:
        raise click.UsageError(f"{where}: give its price, e.g. {sku},price=25.00")
    return out


def _read_json_form(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{path} is not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("variants", []), list):
        raise click.ClickException(f"{path}: expected an object with product fields and a \"variants\" list")
    return data


@products.command("add")
@click.argument("handle", required=False)
@click.option("--title", default=None, help="The product title (required unless --json gives it).")
@click.option("--vendor", default=None)
@click.option("--type", "product_type", default=None, help="Product type.")
@click.option("--category", default=None, metavar="PATH", help="Category path, e.g. Clothing/Tops.")
@click.option("--status", type=click.Choice(["draft", "active", "archived"]), default=None,
              help="Default: draft.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--description", default=None)
@click.option("--variant", "variant_specs", multiple=True, metavar="SKU,price=P[,cost=C][,barcode=B][,ATTR=VALUE…]",
              help="A variant (repeatable): the SKU, then price, cost, compare_at, barcode, weight (grams), title "
                   "and option values by attribute code, e.g. TEE-M,price=25.00,cost=9.50,size=M.")
@click.option("--json", "json_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help='Read the product from a JSON file instead: {"handle", "title", "vendor", "category", '
                   '"status", "tags", "variants": [{"sku", "price", "cost", "options": {"size": "M"}}, …]}. '
                   "Options given on the command line win.")
@op_id_option
@click.option("--print-json", "as_json", is_flag=True, help="Print what was created as JSON.")
@db_options
@click.pass_obj
def products_add(obj: Context, handle: str | None, title: str | None, vendor: str | None, product_type: str | None,
                 category: str | None, status: str | None, tags: tuple[str, ...], description: str | None,
                 variant_specs: tuple[str, ...], json_file: Path | None, op_id: str | None, as_json: bool) -> None:
    """Create product HANDLE with its variants, in one transaction: every bad row is reported, nothing
    is written unless all of it is good."""
    from backoffice.operations.catalog import handle_from_title

    form: dict[str, Any] = _read_json_form(json_file) if json_file else {}
    variants = [dict(v) for v in form.pop("variants", [])]
    for name, value in (("handle", handle), ("title", title), ("vendor", vendor), ("product_type", product_type),
                        ("category", category), ("status", status), ("description", description)):
        if value is not None:
            form[name] = value
    if tags:
        form["tags"] = list(tags)
    if variant_specs:
        variants = [parse_variant(spec, i) for i, spec in enumerate(variant_specs, 1)]
    if not form.get("title"):
        raise click.UsageError("give the product's --title")
    form.setdefault("handle", handle_from_title(str(form["title"])))
    if not variants:
        raise click.UsageError("give at least one --variant SKU,price=… (a product is sold through its variants)")
    ops = obj.operations()

    def create_product(op: str | None):  # type: ignore[no-untyped-def]
        values = dict(form)
        path = values.pop("category", None)
        if path:
            values["category_id"] = ops.store.find_category(str(path))["id"]
        return ops.catalog.create_product(values, variants, op_id=op)

    change, replayed = _change(ops, op_id, "create_product", create_product)
    skus = ", ".join(c.after.get("sku", "") for c in change.children)
    _emit(change, replayed, as_json, f"Created product {change.after.get('handle')} (id {change.entity_id}) with "
          f"{len(change.children)} variant{'s' if len(change.children) != 1 else ''}: {skus}")
