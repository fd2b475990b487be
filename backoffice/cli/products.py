"""``backoffice products …``: scripted catalog edits through the same operations as the GUI.

``products bulk`` is the bulk edit dialog for scripts: the rows chosen by the same filter options as
``backoffice export products``, one operation (``--set``), the same preview (``ops.bulk.preview``) and
the same write (``ops.bulk.apply``: one changeset, revertible with ``backoffice changesets revert``).
"""

from __future__ import annotations

import re
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

import click

from backoffice.cli.app import Context, db_options, main
from backoffice.cli.catalog import filter_options
from backoffice.cli.replay import op_id_option, replayed_changeset_line

MONEY_ALIASES = {"price": "price", "compare_at": "compare_at_price", "compare_at_price": "compare_at_price",
                 "compare-at": "compare_at_price", "cost": "cost"}
TEXT_ALIASES = {"vendor": "vendor", "product_type": "product_type", "type": "product_type",
                "product-type": "product_type"}
SET_HELP = ("What to change, one of: price=AMOUNT|+N|-N|+N%|-N% (also compare_at=…, cost=…); status=STATUS; "
            "variant_status=STATUS; vendor=TEXT; product_type=TEXT; category=PATH|ID (empty removes it); "
            "tags+=TAG,TAG (add); tags-=TAG,TAG (remove). An empty vendor or type clears it.")
SAMPLE_ROWS = 20


@main.group("products")
def products() -> None:
    """Products: create them and change many at once (previewed, applied as one revertible changeset)."""


# -- the operation from the command line ------------------------------------------------------------------
_MONEY = re.compile(r"^\s*([+-])?\s*(\d+(?:\.\d*)?|\.\d+)\s*(%)?\s*$")


def _decimal(text: str, what: str, *, places: int | None = 2) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise click.UsageError(f"{what}: {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise click.UsageError(f"{what}: {text!r} is not a number of zero or more")
    if places is not None and value != value.quantize(Decimal(1).scaleb(-places)):
        raise click.UsageError(f"{what}: {text!r} has more than {places} decimals")
    return value


def money_steps(spec: str, rounding: str | None, option: str = "--set") -> tuple[Any, ...]:
    """``12.50`` (set), ``+2``/``-2`` (add or subtract), ``+10%``/``-10%`` (raise or lower), then the
    rounding: ``.99`` (the nearest price ending in .99) or ``0.05`` (the nearest multiple)."""
    from backoffice.operations.bulk import PriceStep

    m = _MONEY.match(spec)
    if m is None:
        raise click.UsageError(f"{option} {spec!r}: write an amount (12.50), a change (+2, -2) or a percentage "
                               "(+10%, -10%)")
    sign, number, percent = m.groups()
    if percent and not sign:
        raise click.UsageError(f"{option} {spec!r}: write +{number}% to raise or -{number}% to lower")
    value = _decimal(number, option, places=None if percent else 2)
    if percent:
        if sign == "-" and value > 100:
            raise click.UsageError(f"{option} {spec!r}: a price cannot be lowered by more than 100%")
        steps = [PriceStep("percent", -value if sign == "-" else value)]
    elif sign:
        steps = [PriceStep("add", -value if sign == "-" else value)]
    else:
        steps = [PriceStep("set", value)]
    if rounding:
        steps.append(rounding_step(rounding))
    return tuple(steps)


def rounding_step(text: str) -> Any:
    """``.99``/``.95``/``.00``: round to the nearest price with that ending; ``0.05``, ``1``: to the
    nearest multiple."""
    from backoffice.operations.bulk import PriceStep

    cleaned = text.strip()
    if cleaned.startswith("."):
        ending = _decimal("0" + cleaned, "--round")
        if ending >= 1:
            raise click.UsageError(f"--round {text!r}: an ending is written .99, .95 or .00")
        return PriceStep("round_ending", ending)
    step = _decimal(cleaned, "--round")
    if step <= 0:
        raise click.UsageError(f"--round {text!r}: the step must be more than zero (or write an ending: .99)")
    return PriceStep("round_step", step)


def build_operation(ops: Any, assignment: str, rounding: str | None) -> Any:
    """The ``BulkOperation`` a ``--set`` (and ``--round``) asks for, as the bulk dialog builds it."""
    from backoffice.operations.bulk import PRODUCT_STATUSES, VARIANT_STATUSES, BulkOperation

    name, sep, value = assignment.partition("=")
    name = name.strip().lower()
    if not sep or not name:
        raise click.UsageError(f"--set {assignment!r}: write it as FIELD=VALUE (see --help)")
    if rounding and name not in MONEY_ALIASES:
        raise click.UsageError(f"--round only goes with --set price=…, compare_at=… or cost=…, not {name}")
    if name in MONEY_ALIASES:
        return BulkOperation("money", MONEY_ALIASES[name], steps=money_steps(value, rounding))
    if name in ("status", "variant_status", "variant-status"):
        field = "status" if name == "status" else "variant_status"
        allowed = list(PRODUCT_STATUSES if field == "status" else VARIANT_STATUSES)
        if value.strip().lower() not in allowed:
            raise click.UsageError(f"--set {assignment!r}: the status is one of {', '.join(allowed)}")
        return BulkOperation("set", field, value=value.strip().lower())
    if name in TEXT_ALIASES:
        return BulkOperation("set", TEXT_ALIASES[name], value=value.strip())
    if name == "category":
        if not value.strip():
            return BulkOperation("category_remove")
        from backoffice.cli.catalog import category_id

        return BulkOperation("set", "category_id", value=category_id(ops, value))
    if name in ("tags+", "tags-"):
        tags = tuple(dict.fromkeys(t.strip() for t in value.split(",") if t.strip()))
        if not tags:
            raise click.UsageError(f"--set {assignment!r}: give at least one tag")
        return BulkOperation("tags_add" if name == "tags+" else "tags_remove", tags=tags)
    raise click.UsageError(f"--set {assignment!r}: {name!r} cannot be changed in bulk (see --help)")


# -- words ------------------------------------------------------------------------------------------------
def operation_text(op: Any, categories: dict[int, str]) -> str:
    """The operation in the words the bulk dialog uses for its changeset."""
    if op.kind == "money":
        return op.describe()
    if op.kind == "set" and op.field == "category_id":
        return f"Category: set to {categories.get(int(op.value), op.value)}"
    if op.kind == "category_remove":
        return "Category: removed"
    if op.kind == "set":
        label = {"status": "Status", "variant_status": "Variant status", "vendor": "Vendor",
                 "product_type": "Type"}.get(op.field, op.field)
        return f"{label}: set to “{op.value}”"
    if op.kind in ("tags_add", "tags_remove"):
        return f"Tags {'added' if op.kind == 'tags_add' else 'removed'}: {', '.join(op.tags)}"
    return op.describe()


def target_text(considered: int, noun: str, filters: list[str]) -> str:
    from backoffice.operations.bulk import count_text

    counted = count_text(considered, noun, noun + "s")
    if not filters:
        return f"all {counted}" if considered != 1 else f"the only {noun}"
    return f"{counted} matching {', '.join(filters)}"


def value_text(field: str, value: Any, categories: dict[int, str]) -> str:
    from backoffice.operations.bulk import decimal_text, money_text

    if value is None:
        return "—"
    if field in ("price", "compare_at_price", "cost"):
        return money_text(value)
    if field == "category_id":
        return categories.get(int(value), str(value))
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "“”"
    text = str(getattr(value, "value", value))
    return text if text.strip() else "“”"


def print_preview(plan: Any, header: str, categories: dict[int, str], noun: str) -> None:
    from backoffice.operations.bulk import count_text, money_text

    click.echo(header)
    line = f"{plan.affected:,} of {count_text(plan.considered, noun, noun + 's')} will change"
    if plan.stats:
        def signed(d: Decimal) -> str:
            return ("+" if d > 0 else "−" if d < 0 else "") + money_text(abs(d))
        line += (f" (change per row: lowest {signed(plan.stats['min'])}, median {signed(plan.stats['median'])}, "
                 f"highest {signed(plan.stats['max'])})")
    click.echo(line + ".")
    for label, field, old, new in plan.sample[:SAMPLE_ROWS]:
        click.echo(f"  {label:<28} {field}: {value_text(field, old, categories)} → {value_text(field, new, categories)}")
    if plan.affected > SAMPLE_ROWS:
        click.echo(f"  … and {plan.affected - SAMPLE_ROWS:,} more")
    print_below_cost(plan)


def print_below_cost(plan: Any) -> None:
    """The plan's rows priced below their cost (for ``products bulk`` and ``variants bulk``)."""
    from backoffice.operations.bulk import below_cost_text, count_text

    if plan.below_cost:
        click.echo(f"Below cost: {count_text(len(plan.below_cost), 'row', 'rows')} would be priced below "
                   f"{'its' if len(plan.below_cost) == 1 else 'their'} cost:")
        for text in below_cost_text(plan, limit=SAMPLE_ROWS):
            click.echo(f"  {text}")


def confirm_below_cost(plan: Any, allowed: bool) -> None:
    """Rows priced below cost are applied only with --allow-below-cost, or a yes on a terminal; without
    either the command stops here, having written nothing."""
    if not plan.below_cost or allowed:
        return
    from backoffice.operations import ValidationError
    from backoffice.operations.bulk import count_text

    rows = count_text(len(plan.below_cost), "row", "rows")
    if _terminal() and click.confirm(f"{rows} would be priced below cost. Apply anyway?", default=False,
                                            err=True):
        return
    raise ValidationError(f"{rows} would be priced below cost; nothing was written (add --allow-below-cost to "
                          "apply anyway)")


def _terminal() -> bool:
    return sys.stdin.isatty()


# -- products bulk ----------------------------------------------------------------------------------------
@products.command("bulk")
@click.option("--set", "assignment", required=True, metavar="FIELD=VALUE", help=SET_HELP)
@click.option("--round", "rounding", default=None, metavar=".99|STEP",
              help="After a price change: .99 (or .95, .00) rounds to the nearest price with that ending; "
                   "0.05 (or 1, …) to the nearest multiple.")
@filter_options
@click.option("--dry-run", is_flag=True, help="Show the preview; write nothing.")
@click.option("--allow-below-cost", is_flag=True,
              help="Apply even when some prices end up below their cost (else a terminal asks; a script stops).")
@op_id_option
@db_options
@click.pass_obj
def bulk_cmd(obj: Context, assignment: str, rounding: str | None, filter_json: str | None,
             vendors: tuple[str, ...], statuses: tuple[str, ...], category: str | None, tags: tuple[str, ...],
             text: str, dry_run: bool, allow_below_cost: bool, op_id: str | None) -> None:
    """Change every matching product or variant at once, as the bulk edit dialog does: preview the rows
    that change (a sample of before → after, counts, rows priced below cost), then apply them as one
    changeset, revertible with ``backoffice changesets revert``.

    \b
    Examples:
      backoffice products bulk --vendor Norda --set price=+10% --round .99 --dry-run
      backoffice products bulk --category "Apparel > Shirts" --set tags+=sale
      backoffice products bulk --filter '{"price_max": "5"}' --set status=draft

    Exit status: 0 done (or nothing to change, or a replay of --op-id), 1 bad input or rows that cannot
    take the change (nothing written), 3 applied but some rows changed meanwhile were left as they are.
    """
    from backoffice.cli.catalog import build_filter
    from backoffice.operations import ValidationError
    from backoffice.operations.bulk import Target

    ops = obj.operations()
    done = None if dry_run else ops.changesets.for_operation(op_id)
    if done is not None:   # a retry: the first run's changeset, nothing planned or written again
        click.echo(replayed_changeset_line((done.id, done.row_count, done.description)))
        return
    flt = build_filter(ops, filter_json, vendors=vendors, statuses=statuses, category=category, tags=tags,
                       text=text)
    op = build_operation(ops, assignment, rounding)
    categories = ops.importexport.category_paths()
    target = Target(filter=flt)
    plan = ops.bulk.preview(op, target)
    noun = plan.entity
    filters = ([f"vendor {v}" for v in vendors] + [f"status {s}" for s in statuses]
               + ([f"category {categories.get(flt.category_id, category)}"] if category else [])
               + [f"tag {t}" for t in tags] + ([f"“{text}”"] if text else []) + (["a filter"] if filter_json else []))
    description = f"{operation_text(op, categories)} · {target_text(plan.considered, noun, filters)}"
    print_preview(plan, description, categories, noun)
    if plan.invalid:
        for row, field, message in plan.invalid[:SAMPLE_ROWS]:
            click.echo(f"backoffice: {row} {field}: {message}", err=True)
        n = len(plan.invalid)
        raise ValidationError(f"{n:,} row{'s' if n != 1 else ''} cannot take this change; nothing was written")
    if dry_run:
        click.echo("Dry run: nothing was written.")
        return
    if not plan.affected:
        click.echo("Nothing to change: every row already has this value.")
        return
    confirm_below_cost(plan, allow_below_cost)
    result = ops.bulk.apply(op, target, stamp=plan.stamp, description=description[:500], op_id=op_id,
                            allow_below_cost=True)   # confirmed just above
    if result.changeset_id is None:
        click.echo("Nothing was applied: every row already has this value.")
    else:
        click.echo(f"Applied as changeset #{result.changeset_id}: {result.applied_rows:,} "
                   f"row{'s' if result.applied_rows != 1 else ''} changed.")
    for c in result.conflicts:
        click.echo(f"backoffice: conflict: {c.entity} {c.label} {c.field}: changed since the preview; left as it is",
                   err=True)
    if result.conflicts:
        raise SystemExit(3)
