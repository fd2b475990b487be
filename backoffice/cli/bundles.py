"""``backoffice bundles …``: fixed bundles (a SKU made of component SKUs) and mix-and-match rules.

    backoffice bundles create KIT-1 --title "Winter kit" --component MC-M:2 --component HAT:1 --discount 10%
    backoffice bundles list [--json]
    backoffice bundles show KIT-1 [--json]
    backoffice bundles availability KIT-1
    backoffice bundles rules add "Any 3 socks for 12" --quantity 3 --price 12 --category 7
    backoffice bundles rules quote "Any 3 socks for 12" SOCK-A SOCK-B SOCK-A
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import click

from backoffice.cli.app import EXIT_ERROR, Context, db_options, json_text, main


def _json(value: Any) -> str:  # noqa: ANN401
    if isinstance(value, list):
        return json_text([dataclasses.asdict(v) for v in value])
    return json_text(dataclasses.asdict(value))


def _fail(message: str) -> None:
    click.echo(f"backoffice: error: {message}", err=True)
    raise click.exceptions.Exit(EXIT_ERROR)


def _money(value: Any) -> str:  # noqa: ANN401
    return "—" if value is None else f"{Decimal(str(value)):,.2f}"


def _components(specs: tuple[str, ...]) -> list[Any]:
    from backoffice.operations.bundles import ComponentSpec

    out = []
    for spec in specs:
        sku, sep, qty = spec.rpartition(":") if ":" in spec else spec.rpartition("*")
        if not sep:
            sku, qty = spec, "1"
        try:
            quantity = int(qty)
        except ValueError:
            _fail(f"--component {spec}: the quantity {qty!r} is not a whole number (SKU:QTY)")
        out.append(ComponentSpec(sku.strip(), quantity))
    return out


def _pricing(fixed_price: str | None, discount: str | None) -> tuple[str, str, str] | None:
    """(pricing, amount, percent off) from --fixed-price / --discount (``10%`` or an amount)."""
    if fixed_price is not None and discount is not None:
        _fail("give --fixed-price or --discount, not both")
    if fixed_price is not None:
        return "fixed", fixed_price, "0"
    if discount is not None:
        text = discount.strip()
        if text.endswith("%"):
            return "discount", "0", text[:-1].strip()
        return "discount", text, "0"
    return None


def _show(row: Any) -> None:  # noqa: ANN401
    rule = (f"fixed price {_money(row.amount)}" if row.pricing == "fixed" else
            "components' prices" + (f" − {Decimal(row.percent_off):g} %" if row.percent_off else "")
            + (f" − {_money(row.amount)}" if row.amount else ""))
    click.echo(f"{row.sku}  {row.title}")
    click.echo(f"  pricing: {rule}")
    click.echo(f"  price {_money(row.price)}" + (f" (the rule gives {_money(row.rule_price)} today)"
                                                 if row.rule_price != row.price else ""))
    click.echo(f"  components' prices {_money(row.component_price)}, cost {_money(row.component_cost)}, margin "
               + ("—" if row.margin is None else f"{_money(row.margin)} ({row.margin_percent} %)"))
    for c in row.components:
        click.echo(f"  {c.quantity:>4} × {c.sku:<20} {c.title}  price {_money(c.price)}  cost {_money(c.cost)}")
    click.echo("  available: " + (", ".join(f"{code} {n:,}" for code, n in row.available.items()) or "no selling location"))


@main.group("bundles")
def bundles_group() -> None:
    """Fixed bundles (a SKU made of components) and mix-and-match rules (any N of a set)."""


@bundles_group.command("list")
@click.option("--search", default="", help="Part of the SKU or title.")
@click.option("--json", "as_json", is_flag=True, help="Print the bundles as JSON.")
@db_options
@click.pass_obj
def list_cmd(obj: Context, search: str, as_json: bool) -> None:
    """Bundles with price, component cost, margin and units available."""
    rows = obj.operations().bundles.list(text=search)
    if as_json:
        click.echo(_json(rows))
        return
    if not rows:
        click.echo("No bundles yet: backoffice bundles create SKU --component SKU:QTY … --fixed-price 49.00")
        return
    click.echo(f"{'SKU':<20} {'price':>10} {'cost':>10} {'margin':>10} {'margin %':>8} {'available':>9}  title")
    for r in rows:
        click.echo(f"{r.sku:<20} {_money(r.price):>10} {_money(r.component_cost):>10} {_money(r.margin):>10} "
                   f"{'—' if r.margin_percent is None else str(r.margin_percent) + ' %':>8} "
                   f"{sum(r.available.values()):>9,}  {r.title}")


@bundles_group.command("show")
@click.argument("sku")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def show_cmd(obj: Context, sku: str, as_json: bool) -> None:
    """A bundle: its pricing, components, margin and availability."""
    row = obj.operations().bundles.get(sku)
    click.echo(_json(row)) if as_json else _show(row)


@bundles_group.command("availability")
@click.argument("sku")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def availability_cmd(obj: Context, sku: str, as_json: bool) -> None:
    """Bundles each selling location can sell: min over components of available ÷ quantity."""
    found = obj.operations().bundles.availability(sku)
    if as_json:
        click.echo(_json(found))
        return
    for code, n in found.by_location.items():
        click.echo(f"{code:<12} {n:>8,}")


@bundles_group.command("create")
@click.argument("sku")
@click.option("--component", "components", multiple=True, metavar="SKU:QTY", required=True,
              help="A component and how many of it one bundle holds (repeatable).")
@click.option("--fixed-price", default=None, metavar="AMOUNT", help="Sell the bundle at this price.")
@click.option("--discount", default=None, metavar="10%|AMOUNT",
              help="Sell at the components' prices less a percentage (10%) or an amount (5.00).")
@click.option("--title", default="", help="The title of a new bundle product (default: the SKU).")
@db_options
@click.pass_obj
def create_cmd(obj: Context, sku: str, components: tuple[str, ...], fixed_price: str | None, discount: str | None,
               title: str) -> None:
    """Make SKU a bundle (a new SKU becomes a draft product; an existing one must hold no stock)."""
    pricing = _pricing(fixed_price, discount) or ("discount", "0", "0")
    row = obj.operations().bundles.save(sku, pricing=pricing[0], amount=pricing[1], percent_off=pricing[2],
                                        components=_components(components), title=title)
    click.echo(f"Bundle {row.sku}: {len(row.components)} components, price {_money(row.price)}, "
               f"margin {_money(row.margin)}")


@bundles_group.command("edit")
@click.argument("sku")
@click.option("--component", "components", multiple=True, metavar="SKU:QTY",
              help="The new components (repeatable; replace all of them). Default: keep them.")
@click.option("--fixed-price", default=None, metavar="AMOUNT")
@click.option("--discount", default=None, metavar="10%|AMOUNT")
@db_options
@click.pass_obj
def edit_cmd(obj: Context, sku: str, components: tuple[str, ...], fixed_price: str | None, discount: str | None) -> None:
    """Change a bundle's pricing and/or components."""
    ops = obj.operations()
    current = ops.bundles.get(sku)
    pricing = _pricing(fixed_price, discount) or (current.pricing, str(current.amount), str(current.percent_off))
    row = ops.bundles.save(sku, pricing=pricing[0], amount=pricing[1], percent_off=pricing[2],
                           components=_components(components) if components else None,
                           expected_version=current.version)
    click.echo(f"Bundle {row.sku}: {len(row.components)} components, price {_money(row.price)}")


@bundles_group.command("delete")
@click.argument("sku")
@db_options
@click.pass_obj
def delete_cmd(obj: Context, sku: str) -> None:
    """Stop SKU being a bundle (its product stays, with no components)."""
    ops = obj.operations()
    current = ops.bundles.get(sku)
    ops.bundles.delete(current.id, expected_version=current.version)
    click.echo(f"{sku} is no longer a bundle")


# -- mix-and-match rules ---------------------------------------------------------------------------------------
@bundles_group.group("rules")
def rules_group() -> None:
    """Mix-and-match rules: any N items of a set of products/categories at a price or a percentage off."""


def _rule_text(r: Any) -> str:  # noqa: ANN401
    deal = f"for {_money(r.amount)}" if r.kind == "price" else f"at {Decimal(r.amount):g} % off"
    members = ", ".join([*r.products, *(f"category {c}" for c in r.categories)])
    return f"{r.id:>4}  {r.name:<30} any {r.quantity} {deal}  ({members}){'' if r.active else '  [inactive]'}"


@rules_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def rules_list(obj: Context, as_json: bool) -> None:
    rows = obj.operations().bundles.rules()
    if as_json:
        click.echo(_json(rows))
    elif not rows:
        click.echo("No mix-and-match rules yet: backoffice bundles rules add NAME --quantity 3 --price 20 --product ID")
    else:
        for r in rows:
            click.echo(_rule_text(r))


def _deal(price: str | None, percent: str | None) -> tuple[str, str]:
    if (price is None) == (percent is None):
        _fail("give --price AMOUNT or --percent-off N, one of them")
    return ("price", price) if price is not None else ("percent", str(percent).rstrip("%"))


@rules_group.command("add")
@click.argument("name")
@click.option("--quantity", type=int, required=True, help="How many items make a group (N, at least 2).")
@click.option("--price", default=None, metavar="AMOUNT", help="A group of N costs this.")
@click.option("--percent-off", default=None, metavar="N", help="A group of N costs this percentage less.")
@click.option("--product", "products", multiple=True, type=int, metavar="ID", help="A product of the set (repeatable).")
@click.option("--category", "categories", multiple=True, type=int, metavar="ID",
              help="A category of the set, with those below it (repeatable).")
@db_options
@click.pass_obj
def rules_add(obj: Context, name: str, quantity: int, price: str | None, percent_off: str | None,
              products: tuple[int, ...], categories: tuple[int, ...]) -> None:
    kind, amount = _deal(price, percent_off)
    r = obj.operations().bundles.save_rule(name=name, quantity=quantity, kind=kind, amount=amount,
                                           product_ids=list(products), category_ids=list(categories))
    click.echo(_rule_text(r))


def _find_rule(ops: Any, name: str) -> Any:  # noqa: ANN401
    for r in ops.bundles.rules():
        if r.name.lower() == name.strip().lower() or str(r.id) == name.strip():
            return r
    _fail(f"no mix-and-match rule {name!r} (backoffice bundles rules list)")


@rules_group.command("edit")
@click.argument("name")
@click.option("--rename", default=None)
@click.option("--quantity", type=int, default=None)
@click.option("--price", default=None, metavar="AMOUNT")
@click.option("--percent-off", default=None, metavar="N")
@click.option("--product", "products", multiple=True, type=int, metavar="ID", help="Replace the products (repeatable).")
@click.option("--category", "categories", multiple=True, type=int, metavar="ID", help="Replace the categories.")
@click.option("--active/--inactive", default=None)
@db_options
@click.pass_obj
def rules_edit(obj: Context, name: str, rename: str | None, quantity: int | None, price: str | None,
               percent_off: str | None, products: tuple[int, ...], categories: tuple[int, ...],
               active: bool | None) -> None:
    ops = obj.operations()
    r = _find_rule(ops, name)
    kind, amount = (r.kind, str(r.amount)) if price is None and percent_off is None else _deal(price, percent_off)
    saved = ops.bundles.save_rule(
        rule_id=r.id, expected_version=r.version, name=rename or r.name, quantity=quantity or r.quantity, kind=kind,
        amount=amount, product_ids=list(products) if products else r.product_ids,
        category_ids=list(categories) if categories else r.category_ids, active=r.active if active is None else active)
    click.echo(_rule_text(saved))


@rules_group.command("delete")
@click.argument("name")
@db_options
@click.pass_obj
def rules_delete(obj: Context, name: str) -> None:
    ops = obj.operations()
    r = _find_rule(ops, name)
    ops.bundles.delete_rule(r.id)
    click.echo(f"Rule {r.name} deleted")


@rules_group.command("quote")
@click.argument("name")
@click.argument("skus", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def rules_quote(obj: Context, name: str, skus: tuple[str, ...], as_json: bool) -> None:
    """The price of a basket (one SKU per unit) under a rule."""
    q = obj.operations().bundles.quote(name, list(skus))
    if as_json:
        click.echo(_json(q))
        return
    for group in q.groups:
        click.echo("group: " + " + ".join(group))
    if q.full_price_skus:
        click.echo("full price: " + ", ".join(q.full_price_skus))
    click.echo(f"full price {_money(q.full_price)}, discount {_money(q.discount)}, total {_money(q.total)}")

