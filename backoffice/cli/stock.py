"""``backoffice stock …``: levels, transfers, adjustments and low-stock alerts, for scripts and schedulers.

Every command that moves stock takes ``--op-id``: run it again with the same id (after a timeout, a lost
connection, a scheduler retry) and it reports the first result instead of posting twice.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import uuid
from typing import Any

import click

from backoffice.cli.app import Context, db_options, main

OP_ID_HELP = ("Operation id: the same id posted twice moves stock once (default: a new random id; give your "
              "own in scripts so a retried command is safe).")


def _parse_lines(lines: tuple[str, ...], *, signed: bool = False) -> list[tuple[str, int]]:
    out = []
    for i, spec in enumerate(lines, 1):
        sku, sep, qty = spec.rpartition("=")
        if not sep or not sku.strip():
            raise click.UsageError(f"--line {i} {spec!r}: write it as SKU=QUANTITY")
        try:
            n = int(qty)
        except ValueError:
            raise click.UsageError(f"--line {i} {spec!r}: {qty!r} is not a whole number") from None
        if not signed and n <= 0:
            raise click.UsageError(f"--line {i} {spec!r}: the quantity must be greater than zero")
        out.append((sku.strip(), n))
    return out


def _variant_ids(database: Any, lines: list[tuple[str, int]]) -> list[tuple[int, int]]:
    from backoffice.services.transfers import find_variant_by_code

    resolved, unknown = [], []
    for sku, qty in lines:
        found = find_variant_by_code(database, sku)
        if found is None:
            unknown.append(sku)
        else:
            resolved.append((found["variant_id"], qty))
    if unknown:
        raise click.ClickException(f"unknown SKU or barcode: {', '.join(unknown)}")
    return resolved


def _location(database: Any, code: str) -> int:
    from backoffice.services.stock_query import location_by_code

    return location_by_code(database, code)["id"]


def _show_transfer(t: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(t.to_dict(), indent=2))
        return
    note = " (already posted with this operation id: nothing moved)" if t.replayed else ""
    click.echo(f"{t.number}  {t.state:<9}  {t.source} → {t.destination}  {t.total_quantity:,} units, "
               f"{t.in_transit:,} in transit{note}")
    for ln in t.lines:
        click.echo(f"  {ln.sku:<24} qty {ln.quantity:>6,}  shipped {ln.shipped:>6,}  received {ln.received:>6,}"
                   f"  lost {ln.lost:>4,}  returned {ln.returned:>4,}")


@main.group()
def stock() -> None:
    """Stock levels, transfers between locations, adjustments and low-stock alerts."""


# -- levels ---------------------------------------------------------------------------------------------
@stock.command("levels")
@click.option("--location", metavar="CODE", help="Only this location.")
@click.option("--search", "text", default="", metavar="TEXT", help="SKU, barcode or title.")
@click.option("--low", is_flag=True, help="Only rows at or below their low-stock threshold.")
@click.option("--zero", is_flag=True, help="Only rows with nothing available.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many rows (default: all).")
@db_options
@click.pass_obj
def levels(obj: Context, location: str | None, text: str, low: bool, zero: bool, fmt: str, limit: int | None) -> None:
    """Stock per variant and location: on hand, reserved, available, in transit, threshold."""
    from backoffice.services.stock_query import StockFilter, stock_page

    database = obj.database()
    f = StockFilter(text=text, location_id=_location(database, location) if location else None, low_only=low,
                    zero_only=zero)
    writer = csv.writer(sys.stdout) if fmt == "csv" else None
    if writer:
        writer.writerow(["sku", "location", "on_hand", "reserved", "available", "in_transit", "threshold", "title"])
    if fmt == "table":
        click.echo(f"{'SKU':<24} {'Location':<10} {'On hand':>9} {'Reserved':>9} {'Available':>9} {'Transit':>8} "
                   f"{'Threshold':>9}  Product")
    rows_json: list[dict[str, Any]] = []
    after, shown = None, 0
    while limit is None or shown < limit:
        page = stock_page(database, f, after=after, limit=min(1000, (limit - shown) if limit else 1000))
        if not page:
            break
        for r in page:
            if fmt == "table":
                thr = "" if r.threshold is None else f"{r.threshold:,}"
                flag = "  LOW" if r.low else ""
                click.echo(f"{r.sku:<24} {r.location:<10} {r.on_hand:>9,} {r.reserved:>9,} {r.available:>9,} "
                           f"{r.in_transit:>8,} {thr:>9}  {r.title}{flag}")
            elif writer:
                writer.writerow([r.sku, r.location, r.on_hand, r.reserved, r.available, r.in_transit,
                                 "" if r.threshold is None else r.threshold, r.title])
            else:
                rows_json.append({"sku": r.sku, "location": r.location, "on_hand": r.on_hand, "reserved": r.reserved,
                                  "available": r.available, "in_transit": r.in_transit, "threshold": r.threshold,
                                  "title": r.title})
        shown += len(page)
        after = page[-1].key
    if fmt == "json":
        click.echo(json.dumps(rows_json, indent=2))


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
    from backoffice.services import transfers

    database, actor = obj.database(), obj.actor()
    parsed = _variant_ids(database, _parse_lines(lines))
    places = {"source_location_id": _location(database, source), "destination_location_id": _location(database, destination)}
    if ship:  # one transaction: a refused shipment leaves no draft; a retry with --op-id ships once
        t = transfers.create_and_ship(database, actor, **places, lines=parsed, note=note,
                                      operation_id=op_id or uuid.uuid4().hex)
    else:
        t = transfers.create_transfer(database, actor, **places, lines=parsed, note=note, operation_id=op_id)
    _show_transfer(t, as_json)


@transfer.command("ship")
@click.argument("ref")
@click.option("--op-id", default=None, help=OP_ID_HELP)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def transfer_ship(obj: Context, ref: str, op_id: str | None, as_json: bool) -> None:
    """Ship transfer REF (number TR-… or id): every line leaves the source, all or nothing."""
    from backoffice.services import transfers

    database = obj.database()
    t = transfers.find_transfer(database, ref)
    _show_transfer(transfers.ship_transfer(database, obj.actor(), t.id, operation_id=op_id or uuid.uuid4().hex), as_json)


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
    from backoffice.services import transfers

    if bool(lines) == everything:
        raise click.UsageError("give either --all or one or more --line SKU=QTY")
    database = obj.database()
    t = transfers.find_transfer(database, ref)
    if everything:
        quantities = {ln.variant_id: ln.in_transit for ln in t.lines if ln.in_transit > 0}
    else:
        quantities = {}
        for vid, q in _variant_ids(database, _parse_lines(lines)):
            quantities[vid] = quantities.get(vid, 0) + q
    result = transfers.receive_transfer(database, obj.actor(), t.id, quantities=quantities,
                                        operation_id=op_id or uuid.uuid4().hex)
    _show_transfer(result, as_json)


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
    from backoffice.services import transfers

    database = obj.database()
    t = transfers.find_transfer(database, ref)
    _show_transfer(transfers.close_transfer(database, obj.actor(), t.id, shortfall=shortfall, reason=reason,
                                            operation_id=op_id or uuid.uuid4().hex), as_json)


@transfer.command("cancel")
@click.argument("ref")
@click.option("--op-id", default=None, help=OP_ID_HELP)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def transfer_cancel(obj: Context, ref: str, op_id: str | None, as_json: bool) -> None:
    """Cancel a draft, or a shipped transfer (what is in transit goes back to the source)."""
    from backoffice.services import transfers

    database = obj.database()
    t = transfers.find_transfer(database, ref)
    _show_transfer(transfers.cancel_transfer(database, obj.actor(), t.id, operation_id=op_id or uuid.uuid4().hex),
                   as_json)


@transfer.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def transfer_show(obj: Context, ref: str, as_json: bool) -> None:
    """One transfer with its lines."""
    from backoffice.services import transfers

    _show_transfer(transfers.find_transfer(obj.database(), ref), as_json)


@transfer.command("list")
@click.option("--state", "states", multiple=True,
              type=click.Choice(["draft", "shipped", "partial", "received", "closed", "cancelled"]))
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@db_options
@click.pass_obj
def transfer_list(obj: Context, states: tuple[str, ...], limit: int) -> None:
    """Transfers, newest first."""
    from backoffice.services import transfers

    rows = transfers.list_transfers(obj.database(), states=states, limit=limit)
    if not rows:
        click.echo("No transfers.")
    for r in rows:
        click.echo(f"{r.number}  {r.state:<9}  {r.source:>8} → {r.destination:<8}  {r.lines:>3} lines  "
                   f"{r.units:>7,} units  {r.in_transit:>6,} in transit  {r.created_at.astimezone():%Y-%m-%d %H:%M}"
                   f"  {r.created_by}")


# -- adjustments ----------------------------------------------------------------------------------------
@stock.command("adjust")
@click.option("--location", required=True, metavar="CODE")
@click.option("--line", "lines", multiple=True, required=True, metavar="SKU=±QTY",
              help="Units found (+) or missing (-), e.g. --line TEE-M=-2 (repeatable).")
@click.option("--reason", type=click.Choice(["count", "damage", "loss", "found"]), required=True)
@click.option("--note", default="")
@click.option("--op-id", default=None, help=OP_ID_HELP)
@db_options
@click.pass_obj
def adjust(obj: Context, location: str, lines: tuple[str, ...], reason: str, note: str, op_id: str | None) -> None:
    """Correct on-hand at a location, with a reason."""
    from backoffice.services import adjustments

    database = obj.database()
    changes: dict[int, int] = {}
    for vid, q in _variant_ids(database, _parse_lines(lines, signed=True)):
        changes[vid] = changes.get(vid, 0) + q
    result = adjustments.adjust_stock(database, obj.actor(), location_id=_location(database, location), changes=changes,
                                      reason=reason, note=note, operation_id=op_id or uuid.uuid4().hex)
    suffix = "" if result.applied else " (already posted with this operation id: nothing moved)"
    click.echo(f"Adjusted {len(changes)} line(s) at {location.upper()}{suffix}.")


# -- alerts ---------------------------------------------------------------------------------------------
@stock.command("alerts")
@click.option("--send", is_flag=True, help="Mail the alerts not mailed yet to the configured recipients.")
@click.option("--limit", type=click.IntRange(0, 1_000_000), default=50, show_default=True,
              help="Open alerts listed, newest first (the count printed is always the true total).")
@db_options
@click.pass_obj
def alerts_command(obj: Context, send: bool, limit: int) -> None:
    """Check stock against the low-stock thresholds; list open alerts; with --send, mail the new ones.

    Each crossing below a threshold is mailed once, however often this runs (e.g. hourly from cron or the
    Windows task scheduler). The mail server is set with `backoffice stock mail-settings`.
    """
    from backoffice.services import alerts, settings

    database = obj.database()
    ev = alerts.evaluate(database)
    shown = alerts.overview(database, limit=limit)  # the newest rows; the counts are never capped
    click.echo(f"{shown.open_total:,} item(s) low on stock ({ev.opened:,} new, {ev.closed:,} recovered since last "
               f"check); {shown.unsent_total:,} not mailed yet.")
    for r in shown.rows:
        click.echo(f"  {r.sku:<24} {r.location:<10} available {r.available:>6,}  threshold {r.threshold:>6,}  {r.title}")
    if shown.truncated:
        click.echo(f"  … and {shown.open_total - len(shown.rows):,} more (showing {len(shown.rows):,} of "
                   f"{shown.open_total:,} open alerts)")
    if send:
        smtp = settings.get_smtp(database)
        if not smtp.configured:
            raise click.ClickException("no mail server is set: run `backoffice stock mail-settings --host …` first")
        result = alerts.send_digest(database, obj.actor(), smtp, _smtp_password(smtp))
        if result.sent:
            listed = f" (the mail lists the first {result.listed:,})" if result.listed < result.sent else ""
            click.echo(f"Mailed {result.sent:,} new alert(s) to {', '.join(result.recipients)}{listed}.")
        else:
            click.echo("Nothing new to mail.")


def _smtp_password(smtp: Any) -> str | None:
    from backoffice.secrets import SecretStore
    from backoffice.services.settings import smtp_secret_key

    if not smtp.username:
        return None
    env = os.environ.get("BACKOFFICE_SMTP_PASSWORD")
    if env:
        return env
    password = SecretStore().resolve(smtp_secret_key(smtp), None)
    if password is None:
        raise click.ClickException(f"no password for {smtp.username}@{smtp.host} in the keyring: run "
                                   "`backoffice stock mail-settings --ask-password` on this machine")
    return password


@stock.command("mail-settings")
@click.option("--host", default=None)
@click.option("--port", type=click.IntRange(1, 65535), default=None)
@click.option("--security", type=click.Choice(["starttls", "ssl", "none"]), default=None)
@click.option("--username", default=None, help="Login name (empty: no login).")
@click.option("--sender", default=None, help="From address.")
@click.option("--recipient", "recipients", multiple=True, help="Who gets the digests (repeatable; replaces the list).")
@click.option("--ask-password", is_flag=True, help="Ask for the mail password and keep it in the OS keyring.")
@click.option("--op-id", default=None, help="Operation id: the same change sent again with this id is saved once.")
@db_options
@click.pass_obj
def mail_settings(obj: Context, host: str | None, port: int | None, security: str | None, username: str | None,
                  sender: str | None, recipients: tuple[str, ...], ask_password: bool, op_id: str | None) -> None:
    """Show or change the outgoing mail server used for alert digests."""
    from dataclasses import replace

    from backoffice.secrets import SecretStore
    from backoffice.services import settings

    database = obj.database()
    current = settings.get_smtp(database)
    changes = {k: v for k, v in {"host": host, "port": port, "security": security, "username": username,
                                 "sender": sender}.items() if v is not None}
    if recipients:
        changes["recipients"] = tuple(recipients)
    if changes:
        current = settings.save_smtp(database, obj.actor(), replace(current, **changes), operation_id=op_id)
    if ask_password:
        if not current.username:
            raise click.ClickException("set --username first: a password is only used with a login")
        SecretStore().set(settings.smtp_secret_key(current),
                          click.prompt(f"Password for {current.username}@{current.host}", hide_input=True))
        click.echo("Password stored in the keyring.")
    if not current.configured:
        click.echo("No mail server set.")
        return
    login = f" as {current.username}" if current.username else ""
    click.echo(f"Mail server {current.host}:{current.port} ({current.security}){login}, from {current.sender} "
               f"to {', '.join(current.recipients) or '(nobody)'}")
