"""``backoffice products templates …``, ``products new --template`` and ``products revert``.

Templates are what new products start from (``ops.product_templates``); ``products new`` shows the
product and variants a template makes and creates them in one transaction; ``products revert HANDLE
--to DATE`` sets a product and its variants back to how they were then, previewed field by field with
what cannot be reverted, written as one changeset (revertible with ``backoffice changesets revert``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from backoffice.cli.app import Context, db_options, json_text
from backoffice.cli.products import products
from backoffice.cli.replay import op_id_option


@products.group("templates")
def templates() -> None:
    """Product templates: vendor, type, category, tags, variant options, description and SEO templates,
    default price and cost that new products start from."""


def _money(value: Any) -> str:  # noqa: ANN401
    return "—" if value in (None, "") else f"{value}"


def _show(t: Any) -> None:  # noqa: ANN401
    click.echo(f"{t.name} (id {t.id}, version {t.version})")
    rows = [("vendor", t.vendor or "—"), ("product type", t.product_type or "—"), ("category id", t.category_id or "—"),
            ("tags", ", ".join(t.tags) or "—"), ("status", t.status),
            ("options", "; ".join(f"{k}: {', '.join(v)}" for k, v in t.attributes.items()) or "—"),
            ("variant template id", t.variant_template_id or "—"), ("SKU pattern", t.sku_pattern or "(default)"),
            ("default price", _money(t.default_price)), ("default cost", _money(t.default_cost)),
            ("description", t.description_template or "—"), ("SEO title", t.seo_title_template or "—"),
            ("SEO description", t.seo_description_template or "—")]
    for label, value in rows:
        click.echo(f"  {label + ':':<21}{value}")


@templates.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_options
@click.pass_obj
def list_cmd(obj: Context, as_json: bool) -> None:
    """Every product template, by name."""
    found = obj.operations().product_templates.list()
    if as_json:
        from backoffice.operations.base import jsonable

        click.echo(json_text(jsonable(found)))
        return
    if not found:
        click.echo("No product templates yet: add one with `backoffice products templates save NAME …`.")
        return
    for t in found:
        options = " × ".join(f"{k} ({len(v)})" for k, v in t.attributes.items()) or (
            "variant template" if t.variant_template_id else "one variant")
        click.echo(f"{t.name:<30} {t.vendor or '—':<20} {options:<24} {_money(t.default_price):>10}")


@templates.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_options
@click.pass_obj
def show_cmd(obj: Context, name: str, as_json: bool) -> None:
    """One template's fields."""
    t = obj.operations().product_templates.get(name)
    if as_json:
        from backoffice.operations.base import jsonable

        click.echo(json_text(jsonable(t)))
    else:
        _show(t)


def _parse_option(values: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in values:
        code, sep, rest = item.partition("=")
        if not sep or not code.strip() or not rest.strip():
            raise click.BadParameter(f"{item!r}: write CODE=VALUE,VALUE (size=S,M,L)", param_hint="--option")
        out[code.strip()] = [v.strip() for v in rest.split(",") if v.strip()]
    return out


@templates.command("save")
@click.argument("name")
@click.option("--file", "file_", type=click.Path(dir_okay=False, path_type=Path),
              help="A JSON object of the template's fields (vendor, product_type, category_id, tags, status, "
                   "attributes, variant_template_id, sku_pattern, description_template, seo_title_template, "
                   "seo_description_template, default_price, default_cost).")
@click.option("--vendor")
@click.option("--type", "product_type")
@click.option("--category-id", type=int)
@click.option("--tags", help="Comma-separated tags.")
@click.option("--status", type=click.Choice(["draft", "active", "archived"]))
@click.option("--option", "options", multiple=True, metavar="CODE=V1,V2",
              help="An attribute and the values new products get variants for (repeatable).")
@click.option("--variant-template-id", type=int)
@click.option("--sku-pattern")
@click.option("--description", "description_template", help="Description template (Jinja: {{ title }}…).")
@click.option("--seo-title", "seo_title_template")
@click.option("--seo-description", "seo_description_template")
@click.option("--price", "default_price")
@click.option("--cost", "default_cost")
@op_id_option
@db_options
@click.pass_obj
def save_cmd(obj: Context, name: str, file_: Path | None, options: tuple[str, ...], op_id: str | None,
             **fields: Any) -> None:
    """Create the template NAME, or change the fields given of the one that has that name.

    \b
    Examples:
      backoffice products templates save Shirts --vendor Norda --option size=S,M,L --price 19.99 \\
          --description "{{ title }} in {{ options.size | join(', ') }}"
      backoffice products templates save Shirts --file shirts.json
    """
    values: dict[str, Any] = {}
    if file_ is not None:
        try:
            loaded = json.loads(file_.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise click.BadParameter(f"{file_}: {exc}", param_hint="--file") from None
        if not isinstance(loaded, dict):
            raise click.BadParameter(f"{file_}: must hold one JSON object", param_hint="--file")
        values.update(loaded)
    values.update({k: v for k, v in fields.items() if v is not None})
    if options:
        values["attributes"] = _parse_option(options)
    ops = obj.operations().product_templates
    existing = next((t for t in ops.list() if t.name.lower() == name.strip().lower()), None)
    if existing is None:
        saved = ops.save({**values, "name": name}, op_id=op_id)
        click.echo(f"Created product template {saved.name!r} (id {saved.id}).")
    else:
        values.setdefault("name", existing.name if existing.name.lower() == name.strip().lower() else name)
        saved = ops.save(values, template_id=existing.id, expected_version=existing.version, op_id=op_id)
        click.echo(f"Saved product template {saved.name!r} (version {saved.version}).")


@templates.command("delete")
@click.argument("name")
@db_options
@click.pass_obj
def delete_cmd(obj: Context, name: str) -> None:
    """Delete a template (products made from it keep what they were given)."""
    ops = obj.operations().product_templates
    t = ops.get(name)
    ops.delete(t.id, expected_version=t.version)
    click.echo(f"Deleted product template {t.name!r}.")


# -- a product from a template ------------------------------------------------------------------------
@products.command("new")
@click.option("--template", "template", required=True, metavar="NAME", help="The product template.")
@click.option("--title", required=True)
@click.option("--handle", default=None, help="Default: made from the title.")
@click.option("--price", default=None, help="Instead of the template's default price.")
@click.option("--cost", default=None, help="Instead of the template's default cost.")
@click.option("--vendor", default=None)
@click.option("--status", type=click.Choice(["draft", "active", "archived"]), default=None)
@click.option("--dry-run", is_flag=True, help="Show the product and variants; write nothing.")
@op_id_option
@db_options
@click.pass_obj
def new_cmd(obj: Context, template: str, title: str, handle: str | None, price: str | None, cost: str | None,
            vendor: str | None, status: str | None, dry_run: bool, op_id: str | None) -> None:
    """Create a product and its variants from a template, in one transaction.

    \b
    Example:
      backoffice products new --template Shirts --title "Linen Shirt" --price 24.99
    """
    from backoffice.operations import ValidationError

    overrides = {k: v for k, v in (("price", price), ("cost", cost), ("vendor", vendor), ("status", status))
                 if v is not None}
    ops = obj.operations().product_templates
    plan = ops.plan_product(template, title=title, handle=handle, overrides=overrides)
    click.echo(f"{plan.values.get('title')} ({plan.handle}) from template {plan.template!r}: "
               f"{len(plan.variants)} variant{'s' if len(plan.variants) != 1 else ''}")
    for v in plan.variants:
        click.echo(f"  {v.sku:<30} {v.title or '—':<24} {_money(v.price):>10}")
    if plan.problems:
        for row, field, message in plan.problems:
            click.echo(f"backoffice: {row} {field}: {message}".replace("  ", " "), err=True)
        raise ValidationError(f"{len(plan.problems)} problem{'s' if len(plan.problems) != 1 else ''}; nothing was written")
    if dry_run:
        click.echo("Dry run: nothing was written.")
        return
    created = ops.create_product(template, title=title, handle=handle, overrides=overrides, op_id=op_id)
    click.echo(f"Created product {created.handle} (id {created.product_id}) with {len(created.variant_ids)} "
               f"variant{'s' if len(created.variant_ids) != 1 else ''}.")


# -- revert a product to a moment ---------------------------------------------------------------------
def parse_moment(text: str) -> dt.datetime:
    """An ISO date or date-time; without a time zone it is the computer's local time."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO date (2026-11-30 or 2026-11-30T14:00)",
                                 param_hint="--to") from None
    if value.tzinfo is None:
        value = value.astimezone()        # local time, as a person means it
    return value.astimezone(dt.timezone.utc)


def _value(v: Any) -> str:  # noqa: ANN401
    if v is None or v == "":
        return "—"
    if isinstance(v, list):
        return ", ".join(map(str, v)) or "—"
    text = str(v).replace("\n", " ")
    return text if len(text) <= 40 else text[:39] + "…"


@products.command("revert")
@click.argument("handle")
@click.option("--to", "to", required=True, metavar="ISO-DATE",
              help="The moment to go back to: 2026-11-30, 2026-11-30T14:00 (local time) or with an offset.")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@op_id_option
@db_options
@click.pass_obj
def revert_cmd(obj: Context, handle: str, to: str, dry_run: bool, op_id: str | None) -> None:
    """Set a product and its variants back to how they were at a moment: every field changed since gets
    the value it had then (from the changesets and the audit). Variants created since are listed and
    left as they are; values not on record are listed as conflicts. Written as one changeset.

    Exit status: 0 done (or nothing to change), 1 bad input, 3 written but some rows were left as they are.
    """
    at = parse_moment(to)
    ops = obj.operations().product_templates
    product = ops.find_product(handle)
    plan = ops.plan_revert(product.id, at)
    click.echo(f"Revert {product.handle} to {at:%Y-%m-%d %H:%M} UTC: {len(plan.fields)} field"
               f"{'s' if len(plan.fields) != 1 else ''} on {plan.rows} row{'s' if plan.rows != 1 else ''}")
    for f in plan.fields:
        click.echo(f"  {f.label:<28} {f.field:<18} {_value(f.now)} → {_value(f.then)}")
    for c in plan.conflicts:
        click.echo(f"backoffice: conflict: {c.label}: {c.message}", err=True)
    if dry_run:
        click.echo("Dry run: nothing was written.")
        return
    if not plan.fields:
        click.echo("Nothing to change: the product is as it was then.")
        return
    result = ops.apply_revert(product.id, at, versions=plan.versions, op_id=op_id)
    if result.changeset_id is None:
        click.echo("Nothing was applied.")
    else:
        click.echo(f"Applied as changeset #{result.changeset_id}: {result.applied_rows} row"
                   f"{'s' if result.applied_rows != 1 else ''} changed.")
    late = [c for c in result.conflicts if c.kind == "changed"]
    for c in late:
        click.echo(f"backoffice: conflict: {c.label}: {c.message}", err=True)
    if late:
        raise SystemExit(3)
