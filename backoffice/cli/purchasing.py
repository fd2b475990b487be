"""``backoffice purchasing …``: suppliers, replenishment suggestions and purchase orders, for buyers and
schedulers (``purchasing suggest --create-drafts`` nightly never orders the same need twice).

Receiving takes ``--op-id``: run it again with the same id and it reports the first result instead of
posting twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
import uuid
from decimal import Decimal
from typing import Any

import click

from backoffice.cli.app import Context, db_options, main
from backoffice.cli.stock import OP_ID_HELP, _location, _parse_lines, _smtp_password, _variant_ids

PO_STATES = ("draft", "sent", "partial", "received", "closed", "cancelled")


def _money(amount: Decimal | None, currency: str) -> str:
    from backoffice.services.po_documents import format_money

    return format_money(amount, currency)


def _show_order(po: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(po.to_dict(), indent=2))
        return
    note = " (already posted with this operation id: nothing moved)" if po.replayed else ""
    late = "  LATE" if po.late() else ""
    expected = po.expected_on.isoformat() if po.expected_on else "—"
    click.echo(f"{po.number}  {po.state:<9}  {po.supplier} → {po.destination}  {po.units:,} units, "
               f"{po.outstanding:,} outstanding, {_money(po.total, po.currency)}, expected {expected}{late}{note}")
    for ln in po.lines:
        click.echo(f"  {ln.sku:<24} {ln.supplier_sku:<14} qty {ln.quantity:>6,}  received {ln.received:>6,}  "
                   f"at {_money(ln.unit_cost, po.currency):>14}  = {_money(ln.line_total, po.currency):>14}")


@main.group()
def purchasing() -> None:
    """Suppliers, replenishment suggestions and purchase orders."""


# -- suggestions ------------------------------------------------------------------------------------------
@purchasing.command("suggest")
@click.option("--location", metavar="CODE", help="Only this warehouse or store.")
@click.option("--create-drafts", is_flag=True, help="Add the orderable suggestions to draft purchase orders "
                                                     "(one per supplier and destination).")
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", default=None, help="Compute as on this day (default today).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--op-id", default=None, help="Operation id of --create-drafts: the same id twice creates once.")
@db_options
@click.pass_obj
def suggest(obj: Context, location: str | None, create_drafts: bool, as_of: str | None, fmt: str,
            op_id: str | None) -> None:
    """What to reorder and why: on hand, in transit, on order, daily demand, lead time, safety stock,
    reorder point, order-up-to level and the quantity rounded to MOQ and packs."""
    from backoffice.services import replenishment

    database = obj.database()
    day = None
    if as_of:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise click.UsageError(f"--as-of {as_of!r}: write the day as YYYY-MM-DD") from None
    loc = _location(database, location) if location else None
    rows = replenishment.suggest(database, location_id=loc, as_of=day)
    if fmt == "json":
        click.echo(json.dumps([r.to_dict() for r in rows], indent=2))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["sku", "location", "on_hand", "available", "in_transit", "on_order", "daily_demand",
                         "demand_sigma", "lead_time_days", "safety_stock", "reorder_point", "order_up_to", "quantity",
                         "supplier", "unit_cost", "currency", "problem", "notes"])
        for r in rows:
            writer.writerow([r.sku, r.location, r.on_hand, r.available, r.in_transit, r.on_order + r.drafted,
                             r.daily_demand, r.demand_sigma, r.lead_time_days, r.safety_stock, r.reorder_point,
                             r.order_up_to, r.quantity, r.supplier, r.unit_cost or "", r.currency, r.problem,
                             "; ".join(r.notes)])
    else:
        if not rows:
            click.echo("Nothing to reorder.")
        else:
            click.echo(f"{'SKU':<22} {'Loc':<6} {'Avail':>6} {'Trans':>6} {'Order':>6} {'Dem/d':>6} {'Lead':>5} "
                       f"{'SS':>6} {'ROP':>5} {'S':>5} {'Qty':>6}  Supplier")
        for r in rows:
            mark = ("*" if r.reorder_point_override else "") + ("+" if r.order_up_to_override else "")
            supplier = r.supplier or f"— {r.problem}"
            click.echo(f"{r.sku:<22} {r.location:<6} {r.available:>6,} {r.in_transit:>6,} {r.on_order + r.drafted:>6,} "
                       f"{r.daily_demand:>6.2f} {r.lead_time_days:>5} {r.safety_stock:>6.1f} {r.reorder_point:>5,} "
                       f"{r.order_up_to:>5,} {r.quantity:>6,}{mark:<2} {supplier}")
            for note in r.notes:
                click.echo(f"    note: {note}")
        if any(r.reorder_point_override or r.order_up_to_override for r in rows):
            click.echo("(* reorder point, + order-up-to level set by hand)")
    if create_drafts:
        result = replenishment.create_drafts(database, obj.actor(), location_id=loc, as_of=day,
                                             operation_id=op_id)
        skipped = sum(1 for r in rows if not r.orderable)
        if not result.orders:
            click.echo("No draft purchase orders needed: nothing orderable is short.", err=fmt != "table")
        for o in result.orders:
            verb = "created" if o["created"] else "added to"
            click.echo(f"{o['number']} {verb}: {o['lines']} line(s) from {o['supplier']} for {o['destination']}",
                       err=fmt != "table")
        if skipped:
            click.echo(f"{skipped} suggestion(s) skipped: no supplier item.", err=True)


@purchasing.command("settings")
@click.option("--service-level", type=click.FloatRange(0.5, 0.999), default=None, help="e.g. 0.95 for 95 %.")
@click.option("--window", "window_days", type=click.IntRange(7, 730), default=None, help="Days of sales history.")
@click.option("--half-life", "half_life_days", type=click.FloatRange(1, 365), default=None,
              help="Days after which a day's sales count half.")
@click.option("--review", "review_days", type=click.IntRange(0, 365), default=None,
              help="Days an order has to last until the next one.")
@click.option("--default-lead-time", type=click.IntRange(0, 730), default=None,
              help="Lead time of variants without a supplier item.")
@click.option("--fulfilment", metavar="CODE", default=None, help="The location that ships store orders.")
@db_options
@click.pass_obj
def settings_command(obj: Context, service_level: float | None, window_days: int | None, half_life_days: float | None,
                     review_days: int | None, default_lead_time: int | None, fulfilment: str | None) -> None:
    """Show or change how reorder points are computed."""
    from dataclasses import replace

    from backoffice.services import replenishment

    database = obj.database()
    current = replenishment.get_settings(database)
    changes = {k: v for k, v in {"service_level": service_level, "window_days": window_days,
                                 "half_life_days": half_life_days, "review_days": review_days,
                                 "default_lead_time_days": default_lead_time}.items() if v is not None}
    if fulfilment:
        changes["fulfilment_location_id"] = _location(database, fulfilment)
    if changes:
        current = replenishment.save_settings(database, obj.actor(), replace(current, **changes))
    click.echo(f"Service level {current.service_level:.1%} (z = {current.z:.3f}), {current.window_days} days of sales "
               f"weighted with a half-life of {current.half_life_days:g} days, review period {current.review_days} "
               f"days, default lead time {current.default_lead_time_days} days, fulfilment location "
               f"{current.fulfilment_location_id or 'the first warehouse'}.")


@purchasing.command("override")
@click.option("--sku", required=True)
@click.option("--location", required=True, metavar="CODE")
@click.option("--reorder-point", type=click.IntRange(min=0), default=None, help="Empty: computed.")
@click.option("--order-up-to", type=click.IntRange(min=0), default=None, help="Empty: computed.")
@db_options
@click.pass_obj
def override_command(obj: Context, sku: str, location: str, reorder_point: int | None, order_up_to: int | None) -> None:
    """Set (or, without values, clear) a variant's reorder point and order-up-to level at a location."""
    from backoffice.services import replenishment

    database = obj.database()
    [(vid, _)] = _variant_ids(database, [(sku, 1)])
    replenishment.set_overrides(database, obj.actor(), variant_id=vid, location_id=_location(database, location),
                                reorder_point=reorder_point, order_up_to=order_up_to)
    click.echo(f"{sku} at {location.upper()}: reorder point {reorder_point if reorder_point is not None else 'computed'}"
               f", order up to {order_up_to if order_up_to is not None else 'computed'}.")


# -- suppliers --------------------------------------------------------------------------------------------
@purchasing.command("suppliers")
@click.option("--search", "text", default="", metavar="TEXT")
@db_options
@click.pass_obj
def suppliers_command(obj: Context, text: str) -> None:
    """Suppliers with their currency, lead time, terms and number of items."""
    from backoffice.services import suppliers

    rows = suppliers.list_suppliers(obj.database(), text=text)
    if not rows:
        click.echo("No suppliers.")
    for r in rows:
        click.echo(f"{r.id:>4}  {r.name:<32} {r.currency}  lead {r.lead_time_days:>3} d  {r.items:>6,} items  "
                   f"{r.email:<32} {r.payment_terms}")


@purchasing.command("supplier-add")
@click.option("--name", required=True)
@click.option("--email", default="")
@click.option("--currency", default="EUR", show_default=True)
@click.option("--lead-time", "lead_time", type=int, default=7, show_default=True, help="Default lead time in days.")
@click.option("--terms", default="", help="Payment terms.")
@click.option("--contact", default="")
@db_options
@click.pass_obj
def supplier_add(obj: Context, name: str, email: str, currency: str, lead_time: int, terms: str, contact: str) -> None:
    """Add a supplier."""
    from backoffice.services import suppliers

    change = suppliers.create_supplier(obj.database(), obj.actor(), {
        "name": name, "email": email, "currency": currency, "lead_time_days": lead_time, "payment_terms": terms,
        "contact_name": contact})
    click.echo(f"Supplier {name} added (id {change.entity_id}).")


@purchasing.command("items")
@click.option("--supplier", required=True, metavar="NAME|ID")
@click.option("--search", "text", default="", metavar="TEXT")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@db_options
@click.pass_obj
def items_command(obj: Context, supplier: str, text: str, limit: int) -> None:
    """A supplier's items: their SKU, unit cost, MOQ, pack size, lead time; * marks the preferred ones."""
    from backoffice.services import suppliers

    database = obj.database()
    s = suppliers.find_supplier(database, supplier)
    rows = suppliers.list_items(database, supplier_id=s.id, text=text, limit=limit)
    if not rows:
        click.echo(f"{s.name} has no supplier items.")
    for r in rows:
        click.echo(f"{'*' if r.preferred else ' '} {r.sku:<24} {r.supplier_sku:<16} {_money(r.unit_cost, r.currency):>14}"
                   f"  MOQ {r.min_order_qty:>4}  pack {r.pack_size:>4}  lead {r.effective_lead_time:>3} d  {r.title}")


@purchasing.command("item")
@click.option("--supplier", required=True, metavar="NAME|ID")
@click.option("--sku", required=True, help="Our SKU or barcode.")
@click.option("--supplier-sku", default=None)
@click.option("--cost", default=None, help="Unit cost, e.g. 12.50.")
@click.option("--moq", type=int, default=None, help="Minimum order quantity.")
@click.option("--pack", type=int, default=None, help="Pack size.")
@click.option("--lead-time", "lead_time", type=int, default=None, help="Lead time in days.")
@click.option("--preferred/--not-preferred", default=None)
@db_options
@click.pass_obj
def item_command(obj: Context, supplier: str, sku: str, supplier_sku: str | None, cost: str | None, moq: int | None,
                 pack: int | None, lead_time: int | None, preferred: bool | None) -> None:
    """Add or change one supplier item."""
    from backoffice.services import suppliers

    database = obj.database()
    s = suppliers.find_supplier(database, supplier)
    [(vid, _)] = _variant_ids(database, [(sku, 1)])
    values = {k: v for k, v in {"supplier_sku": supplier_sku, "unit_cost": cost, "min_order_qty": moq,
                                "pack_size": pack, "lead_time_days": lead_time, "preferred": preferred}.items()
              if v is not None}
    change = suppliers.upsert_item(database, obj.actor(), supplier_id=s.id, variant_id=vid, values=values)
    click.echo(f"Supplier item {sku} from {s.name} {'added' if change.action == 'create' else 'changed'}.")


# -- purchase orders --------------------------------------------------------------------------------------
@purchasing.group("po")
def po() -> None:
    """Purchase orders: list, show, create, send, receive, close, cancel, export."""


@po.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(PO_STATES))
@click.option("--late", is_flag=True, help="Only sent or partly received orders past their expected date.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@db_options
@click.pass_obj
def po_list(obj: Context, states: tuple[str, ...], late: bool, limit: int) -> None:
    """Purchase orders, newest first."""
    from backoffice.services import purchase_orders

    rows = purchase_orders.list_orders(obj.database(), states=states or (("sent", "partial") if late else ()),
                                       limit=limit)
    rows = [r for r in rows if r.late] if late else rows
    if not rows:
        click.echo("No purchase orders.")
    for r in rows:
        expected = r.expected_on.isoformat() if r.expected_on else "—"
        click.echo(f"{r.number}  {r.state:<9}  {r.supplier:<28} → {r.destination:<8} {r.lines:>3} lines "
                   f"{r.units:>7,} units {r.outstanding:>6,} open  {_money(r.total, r.currency):>16}  expected "
                   f"{expected}{'  LATE' if r.late else ''}")


@po.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def po_show(obj: Context, ref: str, as_json: bool) -> None:
    """One purchase order with its lines."""
    from backoffice.services import purchase_orders

    _show_order(purchase_orders.find_order(obj.database(), ref), as_json)


@po.command("create")
@click.option("--supplier", required=True, metavar="NAME|ID")
@click.option("--to", "destination", required=True, metavar="CODE", help="Warehouse or store receiving it.")
@click.option("--line", "lines", multiple=True, required=True, metavar="SKU=QTY", help="A line (repeatable).")
@click.option("--note", default="")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def po_create(obj: Context, supplier: str, destination: str, lines: tuple[str, ...], note: str, as_json: bool) -> None:
    """A draft purchase order at the supplier items' costs."""
    from backoffice.services import purchase_orders, suppliers

    database = obj.database()
    s = suppliers.find_supplier(database, supplier)
    parsed = _variant_ids(database, _parse_lines(lines))
    _show_order(purchase_orders.create_order(database, obj.actor(), supplier_id=s.id,
                                             destination_location_id=_location(database, destination), lines=parsed,
                                             note=note), as_json)


@po.command("send")
@click.argument("ref")
@click.option("--email", "mail", is_flag=True, help="E-mail the PDF and XLSX to the supplier (mail server from "
                                                     "`backoffice stock mail-settings`).")
@click.option("--to", "recipients", multiple=True, metavar="ADDRESS", help="Send to this address instead (repeatable).")
@click.option("--store-name", default="Backoffice", show_default=True, help="The store's name on the document.")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def po_send(obj: Context, ref: str, mail: bool, recipients: tuple[str, ...], store_name: str, as_json: bool) -> None:
    """Send draft REF: it is fixed, its expected date set from the lead times, and with --email mailed."""
    from backoffice.services import purchase_orders, settings
    from backoffice.services.po_documents import OrderMail

    database = obj.database()
    order = purchase_orders.find_order(database, ref)
    order_mail = None
    if mail or recipients:
        smtp = settings.get_smtp(database)
        if not smtp.configured:
            raise click.ClickException("no mail server is set: run `backoffice stock mail-settings --host …` first")
        order_mail = OrderMail(smtp, _smtp_password(smtp), tuple(recipients), store_name)
    sent = purchase_orders.send_order(database, obj.actor(), order.id, mail=order_mail)
    _show_order(sent, as_json)
    if order_mail is not None and not as_json:
        click.echo(f"Mailed to {', '.join(recipients) or sent.supplier_email}.")


@po.command("export")
@click.argument("ref")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.option("--store-name", default="Backoffice", show_default=True)
@db_options
@click.pass_obj
def po_export(obj: Context, ref: str, path: str, store_name: str) -> None:
    """Write REF's document as PATH (.pdf or .xlsx)."""
    from backoffice.models import Supplier
    from backoffice.services import purchase_orders
    from backoffice.services.po_documents import build_document, write_document

    database = obj.database()
    order = purchase_orders.find_order(database, ref)
    with database.read() as session:
        supplier = session.get(Supplier, order.supplier_id)
        doc = build_document(order, supplier, store_name)
    try:
        written = write_document(doc, path)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"{order.number} written to {written}.")


@po.command("receive")
@click.argument("ref")
@click.option("--line", "lines", multiple=True, metavar="SKU=QTY", help="Units arriving now (repeatable).")
@click.option("--all", "everything", is_flag=True, help="Receive everything outstanding.")
@click.option("--location", metavar="CODE", help="Receive into this warehouse or store (default: the order's).")
@click.option("--over", "over", is_flag=True, help="Confirm receiving more than is outstanding on a line.")
@click.option("--op-id", default=None, help=OP_ID_HELP)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def po_receive(obj: Context, ref: str, lines: tuple[str, ...], everything: bool, location: str | None, over: bool,
               op_id: str | None, as_json: bool) -> None:
    """Receive REF in full (--all) or in part (--line SKU=QTY …); posted to the stock ledger."""
    from backoffice.services import purchase_orders

    if bool(lines) == everything:
        raise click.UsageError("give either --all or one or more --line SKU=QTY")
    database = obj.database()
    order = purchase_orders.find_order(database, ref)
    if everything:
        quantities = {ln.variant_id: ln.outstanding for ln in order.lines if ln.outstanding > 0}
    else:
        quantities = {}
        for vid, q in _variant_ids(database, _parse_lines(lines)):
            quantities[vid] = quantities.get(vid, 0) + q
    result = purchase_orders.receive_order(database, obj.actor(), order.id, quantities=quantities,
                                           operation_id=op_id or uuid.uuid4().hex,
                                           location_id=_location(database, location) if location else None,
                                           allow_over_receipt=over)
    _show_order(result, as_json)


@po.command("close")
@click.argument("ref")
@click.option("--reason", default="")
@db_options
@click.pass_obj
def po_close(obj: Context, ref: str, reason: str) -> None:
    """Close a received or partly received order: nothing more is expected."""
    from backoffice.services import purchase_orders

    database = obj.database()
    _show_order(purchase_orders.close_order(database, obj.actor(), purchase_orders.find_order(database, ref).id,
                                            reason=reason), False)


@po.command("cancel")
@click.argument("ref")
@click.option("--reason", default="")
@db_options
@click.pass_obj
def po_cancel(obj: Context, ref: str, reason: str) -> None:
    """Cancel a draft or sent order before anything arrived."""
    from backoffice.services import purchase_orders

    database = obj.database()
    _show_order(purchase_orders.cancel_order(database, obj.actor(), purchase_orders.find_order(database, ref).id,
                                             reason=reason), False)
