"""``backoffice stock transfer …``: create, ship, receive, close, cancel, show, list and export transfers.

Every command that moves stock takes ``--op-id``: run it again with the same id and it reports the first
result instead of posting twice.
"""

from __future__ import annotations

import json
from typing import Any

import click

from backoffice.cli.app import Context, db_options
from backoffice.cli.lines import OP_ID_HELP, find_location_id, find_variant_ids, parse_lines
from backoffice.cli.stock import stock


def show_transfer(t: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(t.to_dict(), indent=2))
        return
    note = " (already posted with this operation id: nothing moved)" if t.replayed else ""
    click.echo(f"{t.number}  {t.state:<9}  {t.source} → {t.destination}  {t.total_quantity:,} units, "
               f"{t.in_transit:,} in transit{note}")
    for ln in t.lines:
        click.echo(f"  {ln.sku:<24} qty {ln.quantity:>6,}  shipped {ln.shipped:>6,}  received {ln.received:>6,}"
                   f"  lost {ln.lost:>4,}  returned {ln.returned:>4,}")


def summed(lines: list[tuple[int, int]]) -> dict[int, int]:
    """(variant id, quantity) lines as variant id -> total quantity (a SKU given twice adds up)."""
    quantities: dict[int, int] = {}
    for vid, q in lines:
        quantities[vid] = quantities.get(vid, 0) + q
    return quantities


# -- transfers ------------------------------------------------------------------------------------------
@stock.group()
def transfer() -> None:
    """Create, ship, receive, close and cancel transfers between locations."""


@transfer.command("create")
@click.option("--from", "source", required=True, metavar="CODE", help="Source location code.")
@click.option("--to", "destination", required=True, metavar="CODE", help="Destination location code.")
@click.option("--line", "lines", multiple=True, required=True, metavar="SKU=QTY", help="A line (repeatable).")
@click.option("--note", default="", help="A note on the transfer.")
@click.option("--ship", is_flag=True, help="Ship it at once (stock leaves the source into transit).")
@click.option("--op-id", default=None, help=OP_ID_HELP + " The same id given again returns the transfer it made.")
@click.option("--json", "as_json", is_flag=True, help="Print the transfer as JSON.")
@db_options
@click.pass_obj
def transfer_create(obj: Context, source: str, destination: str, lines: tuple[str, ...], note: str, ship: bool,
                    op_id: str | None, as_json: bool) -> None:
    """A draft transfer (and with --ship, shipped)."""
    ops = obj.operations()
    parsed = find_variant_ids(ops, parse_lines(lines))
    places = {"source_location_id": find_location_id(ops, source),
              "destination_location_id": find_location_id(ops, destination)}
    if ship:  # one transaction: a refused shipment leaves no draft; a retry with --op-id ships once
        t = ops.transfers.create_and_ship(**places, lines=parsed, note=note, op_id=op_id)
    else:
        t = ops.transfers.create(**places, lines=parsed, note=note, op_id=op_id)
    show_transfer(t, as_json)


@transfer.command("ship")
@click.argument("ref")
@click.option("--op-id", default=None, help=OP_ID_HELP)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def transfer_ship(obj: Context, ref: str, op_id: str | None, as_json: bool) -> None:
    """Ship transfer REF (number TR-… or id): every line leaves the source, all or nothing."""
    ops = obj.operations()
    show_transfer(ops.transfers.ship(ops.transfers.find(ref).id, op_id=op_id), as_json)


@transfer.command("receive")
@click.argument("ref")
@click.option("--line", "lines", multiple=True, metavar="SKU=QTY", help="Units arriving now (repeatable).")
@click.option("--all", "everything", is_flag=True, help="Receive everything still in transit.")
@click.option("--op-id", default=None, help=OP_ID_HELP)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def transfer_receive(obj: Context, ref: str, lines: tuple[str, ...], everything: bool, op_id: str | None,
                     as_json: bool) -> None:
    """Receive transfer REF in full (--all) or in part (--line SKU=QTY …)."""
    if bool(lines) == everything:
        raise click.UsageError("give either --all or one or more --line SKU=QTY")
    ops = obj.operations()
    t = ops.transfers.find(ref)
    quantities = None if everything else summed(find_variant_ids(ops, parse_lines(lines)))
    show_transfer(ops.transfers.receive(t.id, quantities, op_id=op_id), as_json)


@transfer.command("close")
@click.argument("ref")
@click.option("--shortfall", type=click.Choice(["loss", "return"]), required=True,
              help="What happens to units still in transit: written off as lost, or returned to the source.")
@click.option("--reason", default="", help="Why (required for loss).")
@click.option("--op-id", default=None, help=OP_ID_HELP)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def transfer_close(obj: Context, ref: str, shortfall: str, reason: str, op_id: str | None, as_json: bool) -> None:
    """Close a shipped or partly received transfer REF."""
    ops = obj.operations()
    show_transfer(ops.transfers.close(ops.transfers.find(ref).id, shortfall=shortfall, reason=reason, op_id=op_id),
                  as_json)


@transfer.command("cancel")
@click.argument("ref")
@click.option("--op-id", default=None, help=OP_ID_HELP)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def transfer_cancel(obj: Context, ref: str, op_id: str | None, as_json: bool) -> None:
    """Cancel a draft, or a shipped transfer (what is in transit goes back to the source)."""
    ops = obj.operations()
    show_transfer(ops.transfers.cancel(ops.transfers.find(ref).id, op_id=op_id), as_json)


@transfer.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def transfer_show(obj: Context, ref: str, as_json: bool) -> None:
    """One transfer with its lines."""
    show_transfer(obj.operations().transfers.find(ref), as_json)


@transfer.command("list")
@click.option("--state", "states", multiple=True,
              type=click.Choice(["draft", "shipped", "partial", "received", "closed", "cancelled"]))
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@db_options
@click.pass_obj
def transfer_list(obj: Context, states: tuple[str, ...], limit: int) -> None:
    """Transfers, newest first."""
    rows = obj.operations().transfers.list(states=states, limit=limit)
    if not rows:
        click.echo("No transfers.")
    for r in rows:
        click.echo(f"{r.number}  {r.state:<9}  {r.source:>8} → {r.destination:<8}  {r.lines:>3} lines  "
                   f"{r.units:>7,} units  {r.in_transit:>6,} in transit  {r.created_at.astimezone():%Y-%m-%d %H:%M}"
                   f"  {r.created_by}")


@transfer.command("export")
@click.argument("ref")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@db_options
@click.pass_obj
def transfer_export(obj: Context, ref: str, path: str) -> None:
    """Write REF's pick list (before shipping) or packing slip (once shipped) as PATH (.pdf or .xlsx)."""
    ops = obj.operations()
    doc = ops.transfers.document(ops.transfers.find(ref).id)
    try:
        written = ops.transfers.write_document(doc, path)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"{doc.title} of {doc.number} written to {written}.")
