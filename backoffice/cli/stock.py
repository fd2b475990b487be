"""``backoffice stock …``: levels, transfers, adjustments and low-stock alerts, for scripts and schedulers.

Every command that moves stock takes ``--op-id``: run it again with the same id (after a timeout, a lost
connection, a scheduler retry) and it reports the first result instead of posting twice.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

import click

from backoffice.cli.app import Context, db_options, main
from backoffice.cli.lines import OP_ID_HELP, find_location_id, find_variant_ids, parse_lines, smtp_password


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
    from backoffice.operations.stock import StockFilter

    ops = obj.operations()
    f = StockFilter(text=text, location_id=find_location_id(ops, location) if location else None, low_only=low,
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
        page = ops.stock.levels(f, after=after, limit=min(1000, (limit - shown) if limit else 1000))
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
    ops = obj.operations()
    changes: dict[int, int] = {}
    for vid, q in find_variant_ids(ops, parse_lines(lines, signed=True)):
        changes[vid] = changes.get(vid, 0) + q
    result = ops.adjustments.adjust(find_location_id(ops, location), changes, reason=reason, note=note, op_id=op_id)
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
    ops = obj.operations()
    ev = ops.alerts.check_now()
    shown = ops.alerts.overview(limit=limit)  # the newest rows; the counts are never capped
    click.echo(f"{shown.open_total:,} item(s) low on stock ({ev.opened:,} new, {ev.closed:,} recovered since last "
               f"check); {shown.unsent_total:,} not mailed yet.")
    for r in shown.rows:
        click.echo(f"  {r.sku:<24} {r.location:<10} available {r.available:>6,}  threshold {r.threshold:>6,}  {r.title}")
    if shown.truncated:
        click.echo(f"  … and {shown.open_total - len(shown.rows):,} more (showing {len(shown.rows):,} of "
                   f"{shown.open_total:,} open alerts)")
    if send:
        smtp = ops.alerts.mail_settings()   # without one, send_digest fails (and the run is recorded as failed)
        from backoffice.operations.schedule import JobBusy

        try:
            result = ops.alerts.send_digest(smtp_password(smtp))
        except JobBusy as busy:   # another run is mailing: nothing to do here
            click.echo(f"skipped: {busy}")
            return
        if result.sent:
            listed = f" (the mail lists the first {result.listed:,})" if result.listed < result.sent else ""
            click.echo(f"Mailed {result.sent:,} new alert(s) to {', '.join(result.recipients)}{listed}.")
        else:
            click.echo("Nothing new to mail.")


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

    from backoffice.operations.alerts import smtp_secret_key
    from backoffice.secrets import SecretStore

    ops = obj.operations()
    current = ops.alerts.mail_settings()
    changes = {k: v for k, v in {"host": host, "port": port, "security": security, "username": username,
                                 "sender": sender}.items() if v is not None}
    if recipients:
        changes["recipients"] = tuple(recipients)
    if changes:
        current = ops.alerts.save_mail_settings(replace(current, **changes), op_id=op_id)
    if ask_password:
        if not current.username:
            raise click.ClickException("set --username first: a password is only used with a login")
        SecretStore().set(smtp_secret_key(current),
                          click.prompt(f"Password for {current.username}@{current.host}", hide_input=True))
        click.echo("Password stored in the keyring.")
    if not current.configured:
        click.echo("No mail server set.")
        return
    login = f" as {current.username}" if current.username else ""
    click.echo(f"Mail server {current.host}:{current.port} ({current.security}){login}, from {current.sender} "
               f"to {', '.join(current.recipients) or '(nobody)'}")
