"""``backoffice events …``: price events and flash sales.

``events add`` plans an event on the variants chosen by the same filter options as ``products bulk``
(or ``--sku``), with the same ``--set price=… --round …`` syntax; ``events run-due`` (from the OS
scheduler, ``backoffice schedule install``) starts, limits and ends them, each exactly once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

import click

from backoffice.cli.app import Context, db_options, json_text, main
from backoffice.cli.catalog import filter_options
from backoffice.cli.products import build_operation
from backoffice.cli.replay import op_id_option, previous_result

STATES = ("planned", "active", "ended", "cancelled")
SAMPLE_ROWS = 20


@main.group("events")
def events() -> None:
    """Price events and flash sales: planned prices between a start and an end, applied and reverted
    as changesets by `events run-due`."""


def _moment(text: str, option: str, zone: str | None) -> tuple[dt.datetime, str]:
    """An ISO time and the zone it is written in: its own offset, else --tz, else this computer's."""
    from backoffice.operations.events import zone_of

    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.UsageError(f"{option} {text!r}: write a date and time such as 2026-12-24T09:00 "
                               "(or 2026-12-24T09:00+01:00)") from None
    if zone:
        try:
            tz = zone_of(zone)
        except ValueError as exc:
            raise click.UsageError(f"--tz: {exc}") from None
    if moment.tzinfo is not None:
        if zone:
            return moment, zone
        offset = moment.utcoffset() or dt.timedelta()
        return moment, _offset_text(offset)
    if zone:
        return moment.replace(tzinfo=tz), zone
    local = moment.astimezone()   # this computer's zone
    return local, _offset_text(local.utcoffset() or dt.timedelta())


def _offset_text(offset: dt.timedelta) -> str:
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _money(value: Any) -> str:
    from backoffice.operations.bulk import money_text

    return "—" if value is None else money_text(value)


def _event_line(e: Any) -> str:
    from backoffice.operations.events import local_time

    limit = f", limit {e.quantity_limit:,} per variant" if e.quantity_limit else ""
    conflicts = f", {e.conflicts:,} conflict{'s' if e.conflicts != 1 else ''} to resolve" if e.conflicts else ""
    return (f"{e.name:<24} {e.state:<9} {local_time(e.starts_at, e.time_zone)} → {local_time(e.ends_at, e.time_zone)}"
            f"  {e.rule_text} · {e.variants:,} variant{'s' if e.variants != 1 else ''}{limit}, {e.sold:,} sold"
            f"{conflicts}")


@events.command("add")
@click.argument("name")
@click.option("--set", "assignment", required=True, metavar="price=CHANGE",
              help="The event price: price=-20% (lower), price=+5%, price=-2 (subtract), price=9.99 (set).")
@click.option("--round", "rounding", default=None, metavar=".99|STEP",
              help="After the change: .99 (or .95, .00) rounds to that ending; 0.05 (or 1, …) to a multiple.")
@filter_options
@click.option("--sku", "skus", multiple=True, help="These variants instead of a filter (repeatable).")
@click.option("--start", "start", required=True, metavar="ISO-TIME", help="When it starts, e.g. 2026-12-24T09:00.")
@click.option("--end", "end", required=True, metavar="ISO-TIME", help="When it ends (prices go back then).")
@click.option("--tz", "zone", default=None, metavar="ZONE",
              help="The time zone of --start/--end without an offset (Europe/Paris, UTC, +01:00); "
                   "default: this computer's.")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="Units per variant: a variant that sold this many since the start goes back to its price.")
@click.option("--dry-run", is_flag=True, help="Show the preview; write nothing.")
@op_id_option
@db_options
@click.pass_obj
def add_cmd(obj: Context, name: str, assignment: str, rounding: str | None, filter_json: str | None,
            vendors: tuple[str, ...], statuses: tuple[str, ...], category: str | None, tags: tuple[str, ...],
            text: str, skus: tuple[str, ...], start: str, end: str, zone: str | None, limit: int | None,
            dry_run: bool, op_id: str | None) -> None:
    """Plan the price event NAME: its variants (the filter options, as `products bulk` means them, or
    --sku) are frozen now; it is refused when some of them are in another event at an overlapping time.

    \b
    Example:
      backoffice events add "Winter sale" --vendor Norda --set price=-20% --round .99 \\
          --start 2026-12-24T09:00 --end 2026-12-27T00:00 --tz Europe/Paris --limit 50
    """
    from backoffice.cli.catalog import build_filter
    from backoffice.operations import ValidationError
    from backoffice.operations.events import EventDraft, Target

    ops = obj.operations()
    done = None if dry_run or not op_id else previous_result(ops, op_id, "events.plan")
    if done is not None:   # a retry: the event the first run planned, nothing planned again
        click.echo(f"Already planned by operation {op_id}: {_event_line(ops.events.get(str(done['id'])))}")
        return
    operation = build_operation(ops, assignment, rounding)
    if operation.kind != "money" or operation.field != "price":
        raise click.UsageError(f"--set {assignment!r}: an event changes the price: write --set price=-20% (or "
                               "price=+5%, price=-2, price=9.99)")
    starts_at, start_zone = _moment(start, "--start", zone)
    ends_at, _ = _moment(end, "--end", zone)
    if skus:
        if filter_json or vendors or statuses or category or tags or text:
            raise click.UsageError("--sku chooses the variants itself: leave out the filter options")
        found = ops.variants.variant_ids_by_sku(list(skus))
        missing = [s for s in skus if s not in found]
        if missing:
            raise ValidationError([(f"SKU {s}", "", "no such variant") for s in missing])
        target = Target(variant_ids=tuple(sorted(found[s] for s in skus)))
    else:
        target = Target(filter=build_filter(ops, filter_json, vendors=vendors, statuses=statuses, category=category,
                                            tags=tags, text=text))
    draft = EventDraft(name, target, operation.steps, starts_at, ends_at, start_zone, limit)
    preview = ops.events.preview(draft)
    click.echo(f"{name}: {operation.describe()} on {preview.considered:,} variant{'s' if preview.considered != 1 else ''}"
               f" ({preview.changing:,} change price)"
               + (", compare-at set to the regular price" if preview.compare_at_regular else ""))
    for sku, before, after, compare in preview.sample[:SAMPLE_ROWS]:
        click.echo(f"  SKU {sku:<24} {_money(before)} → {_money(after)}"
                   + (f" (compare-at {_money(compare)})" if preview.compare_at_regular else ""))
    if preview.considered > SAMPLE_ROWS:
        click.echo(f"  … and {preview.considered - SAMPLE_ROWS:,} more")
    if preview.below_cost:
        click.echo(f"Below cost: {preview.below_cost:,} variant(s) would be priced below their cost.")
    problems = [(f"event {c.event}", "variants", c.text()) for c in preview.clashes] + list(preview.invalid)
    if not preview.considered:
        problems.append(("event", "variants", "the filter or selection names no variant"))
    if problems:
        for row, field, message in problems[1:SAMPLE_ROWS]:
            click.echo(f"backoffice: {row} {field}: {message}", err=True)
        raise ValidationError(problems[:1] if len(problems) == 1 else
                              [(problems[0][0], problems[0][1], problems[0][2] + f" (and {len(problems) - 1:,} "
                                                                               "more problems above)")])
    if dry_run:
        click.echo("Dry run: nothing was written.")
        return
    info = ops.events.plan(draft, op_id=op_id)
    click.echo(f"Planned: {_event_line(info)}")


@events.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(STATES), help="Only these states (repeatable).")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def list_cmd(obj: Context, states: tuple[str, ...], as_json: bool) -> None:
    """Every price event by start: state, times in the zone it was planned in, rule, variants, units
    sold, conflicts to resolve."""
    found = obj.operations().events.list(states=list(states))
    if as_json:
        click.echo(json_text([{**asdict(e), "conflicts": e.conflicts} for e in found]))
        return
    if not found:
        click.echo("No price events" + (f" {', '.join(states)}" if states else "") + ".")
        return
    for e in found:
        click.echo(_event_line(e))


@events.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def show_cmd(obj: Context, name: str, as_json: bool) -> None:
    """One event and its variants (state, regular price, event price, units sold)."""
    ops = obj.operations()
    info = ops.events.get(name)
    rows = ops.events.variants(name)
    if as_json:
        click.echo(json_text({**asdict(info), "conflicts": info.conflicts, "variant_rows": rows}))
        return
    click.echo(_event_line(info))
    if info.note:
        click.echo(f"  note: {info.note}")
    for r in rows:
        click.echo(f"  SKU {r['sku']:<24} {r['state']:<13} {_money(r['regular_price'])} → {_money(r['event_price'])}"
                   f"  {r['sold']:,} sold" + (f"  ({r['note']})" if r["note"] else ""))


@events.command("cancel")
@click.argument("name")
@op_id_option
@db_options
@click.pass_obj
def cancel_cmd(obj: Context, name: str, op_id: str | None) -> None:
    """Cancel an event: a planned one never starts; an active one ends now (regular prices restored,
    prices edited meanwhile left as conflicts)."""
    info = obj.operations().events.cancel(name, op_id=op_id)
    click.echo(f"Cancelled: {_event_line(info)}")


@events.command("conflicts")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def conflicts_cmd(obj: Context, name: str, as_json: bool) -> None:
    """The variants of an event whose price was edited during it: left as edited, to resolve."""
    found = obj.operations().events.conflicts(name)
    if as_json:
        click.echo(json_text([asdict(c) for c in found]))
        return
    if not found:
        click.echo(f"No conflicts in {name}.")
        return
    click.echo(f"{'SKU':<24} {'event price':>12} {'price now':>12} {'regular':>12}")
    for c in found:
        click.echo(f"{c.sku:<24} {_money(c.event_price):>12} {_money(c.current_price):>12} {_money(c.regular_price):>12}")


@events.command("resolve")
@click.argument("name")
@click.argument("skus", nargs=-1)
@click.option("--keep-current", "choice", flag_value="keep", help="Keep the price found (the edit made meanwhile).")
@click.option("--restore-regular", "choice", flag_value="restore", help="Put the regular price back.")
@op_id_option
@db_options
@click.pass_obj
def resolve_cmd(obj: Context, name: str, skus: tuple[str, ...], choice: str | None, op_id: str | None) -> None:
    """Resolve the conflicts of an event (all, or those of the SKUs given)."""
    if choice is None:
        raise click.UsageError("say how: --keep-current or --restore-regular")
    result = obj.operations().events.resolve(name, keep_current=choice == "keep", skus=list(skus), op_id=op_id)
    if choice == "keep":
        click.echo(f"Kept the edited price of {result.kept:,} variant{'s' if result.kept != 1 else ''}.")
    else:
        where = f" as changeset #{result.changeset_id}" if result.changeset_id else ""
        click.echo(f"Restored the regular price of {result.restored:,} variant{'s' if result.restored != 1 else ''}"
                   f"{where}.")


@events.command("run-due")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def run_due_cmd(obj: Context, as_json: bool) -> None:
    """Start, limit and end every due event (run it from the OS scheduler: each transition happens once,
    however often and in how many processes it runs)."""
    from backoffice.operations.schedule import JobBusy

    try:
        result = obj.operations().events.run_due()
    except JobBusy as busy:   # another run is at it: nothing to do here
        click.echo(f"skipped: {busy}", err=as_json)
        return
    if as_json:
        click.echo(json_text(asdict(result)))
        return
    click.echo(result.summary() if result.changed or result.limit_reached else "nothing due")
    for name in result.missed:
        click.echo(f"backoffice: {name}: its end passed before it could start; nothing was applied", err=True)


@events.command("settings")
@click.option("--compare-at-regular/--no-compare-at-regular", "compare_at", default=None,
              help="During events, set the compare-at price to the regular price (\"was 59.99\").")
@db_options
@click.pass_obj
def settings_cmd(obj: Context, compare_at: bool | None) -> None:
    """Show or change the price events' setting."""
    from backoffice.operations.events import EventSettings

    ops = obj.operations()
    current = ops.events.settings() if compare_at is None else ops.events.save_settings(EventSettings(compare_at))
    click.echo("compare-at price during events: " + ("the regular price" if current.compare_at_regular else
                                                     "left as it is"))
