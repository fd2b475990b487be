"""``backoffice purchasing …``: suppliers, replenishment suggestions and purchase orders, for buyers and
schedulers (``purchasing suggest --create-drafts`` nightly never orders the same need twice).

Every write takes ``--op-id``: run it again with the same id and it reports the first result (exit 0)
instead of writing twice. ``suggest --create-drafts`` prints what it is about to write and, on a
terminal, asks first (``--yes`` skips the question; scripts, with no terminal, are never asked).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from dataclasses import replace
from decimal import Decimal
from typing import Any

import click

from backoffice.cli.app import Context, db_options, main
from backoffice.cli.lines import OP_ID_HELP, find_location_id, find_variant_ids, parse_lines, smtp_password
from backoffice.cli.transfers import summed

PO_STATES = ("draft", "sent", "partial", "received", "closed", "cancelled")
WRITE_OP_HELP = ("Operation id: run again with the same id and the first result is reported, nothing is written "
                 "twice (give your own in scripts so a retried command is safe).")
REPLAYED = " (already done with this operation id: nothing written, nothing moved)"


def _interactive() -> bool:
    """A person at a terminal (a script's stdin is not one: it is never asked)."""
    return sys.stdin.isatty()


def _middle(text: str, width: int) -> str:
    """``text`` cut in the middle to ``width`` characters, so both ends (what tells variants apart) show."""
    if len(text) <= width:
        return text
    left = (width - 1) // 2
    return text[:left] + "…" + text[len(text) - (width - 1 - left):]


def _money(amount: Decimal | None, currency: str) -> str:
    from backoffice.operations.purchase_orders import format_money

    return format_money(amount, currency)


def _show_order(po: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(po.to_dict(), indent=2))
        return
    note = REPLAYED if po.replayed else ""
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
                                                     "(one per supplier and destination); prints what it will write "
                                                     "and, on a terminal, asks first.")
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="With --create-drafts: do not ask.")
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", default=None, help="Compute as on this day (default today).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--op-id", default=None, help="Operation id of --create-drafts: the same id twice creates once.")
@db_options
@click.pass_obj
def suggest(obj: Context, location: str | None, create_drafts: bool, assume_yes: bool, as_of: str | None, fmt: str,
            op_id: str | None) -> None:
    """What to reorder and why: on hand, in transit, on order, daily demand, lead time, safety stock,
    reorder point, order-up-to level and the quantity rounded to MOQ and packs, with totals per supplier
    and currency. Lines ordering more days of cover than the setting (or with no demand) are flagged (!)."""
    from backoffice.operations.replenishment import plan_drafts

    ops = obj.operations()
    day = None
    if as_of:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise click.UsageError(f"--as-of {as_of!r}: write the day as YYYY-MM-DD") from None
    loc = find_location_id(ops, location) if location else None
    rows = ops.replenishment.suggest(location_id=loc, as_of=day)
    if fmt == "json":
        click.echo(json.dumps([r.to_dict() for r in rows], indent=2))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["sku", "title", "location", "on_hand", "available", "in_transit", "on_order", "daily_demand",
                         "demand_sigma", "lead_time_days", "safety_stock", "reorder_point", "order_up_to", "need",
                         "quantity", "cover_days", "supplier", "unit_cost", "currency", "line_total", "flag", "problem",
                         "notes"])
        for r in rows:
            writer.writerow([r.sku, r.title, r.location, r.on_hand, r.available, r.in_transit, r.on_order + r.drafted,
                             r.daily_demand, r.demand_sigma, r.lead_time_days, r.safety_stock, r.reorder_point,
                             r.order_up_to, r.need, r.quantity, "" if r.cover_days is None else r.cover_days,
                             r.supplier, r.unit_cost or "", r.currency, r.line_total or "", r.flag, r.problem,
                             "; ".join(r.notes)])
    else:
        _suggestion_table(rows)
    if not create_drafts:
        return
    err = fmt != "table"
    plan = plan_drafts(rows)
    if not plan.lines and op_id is None:
        click.echo("No draft purchase orders needed: nothing orderable is short.", err=err)
        return
    if plan.lines:
        click.echo(f"To write: {plan.text()}.", err=err)
    if not assume_yes and plan.lines and _interactive() and not click.confirm("Create these draft orders?",
                                                                               default=False, err=err):
        click.echo("Nothing written.", err=err)
        return
    result = ops.replenishment.create_drafts(location_id=loc, as_of=day, op_id=op_id)
    if result.replayed:
        click.echo(f"Already done with operation id {op_id}: nothing written again. First result:", err=err)
    if not result.orders:
        click.echo("No draft purchase orders needed: nothing orderable is short.", err=err)
    for o in result.orders:
        verb = "created" if o["created"] else "added to"
        click.echo(f"{o['number']} {verb}: {o['lines']} line(s) from {o['supplier']} for {o['destination']}", err=err)
    if result.orders:
        money = ", ".join(_money(Decimal(v), c) for c, v in result.value.items())
        click.echo(f"Written: {len(result.orders):,} draft order(s), {result.lines:,} line(s), {result.units:,} units"
                   + (f", {money}" if money else "") + ".", err=err)
    if plan.skipped:
        click.echo(f"{plan.skipped} suggestion(s) skipped: they cannot be ordered as they are (see the problem).",
                   err=True)


def _suggestion_table(rows: list[Any]) -> None:
    from backoffice.operations.replenishment import currency_totals, supplier_totals

    if not rows:
        click.echo("Nothing to reorder.")
        return
    sku_w = max(12, max(len(r.sku) for r in rows))     # never cut: two variants must not look alike
    title_w = 34
    click.echo(f"{'SKU':<{sku_w}} {'Title':<{title_w}} {'Loc':<6} {'Avail':>6} {'Trans':>6} {'Order':>6} "
               f"{'Dem/d':>6} {'Lead':>5} {'SS':>6} {'ROP':>5} {'S':>5} {'Qty':>6}   {'Cover':>6}  Supplier")
    for r in rows:
        mark = ("*" if r.reorder_point_override else "") + ("+" if r.order_up_to_override else "")
        flag = "!" if r.flag else ""
        cover = "—" if r.cover_days is None else f"{r.cover_days:,.0f} d"
        supplier = r.supplier or f"— {r.problem}"
        click.echo(f"{r.sku:<{sku_w}} {_middle(r.title, title_w):<{title_w}} {r.location:<6} {r.available:>6,} "
                   f"{r.in_transit:>6,} {r.on_order + r.drafted:>6,} {r.daily_demand:>6.2f} {r.lead_time_days:>5} "
                   f"{r.safety_stock:>6.1f} {r.reorder_point:>5,} {r.order_up_to:>5,} {r.quantity:>6,}{mark:<2}{flag:<1} "
                   f"{cover:>6}  {supplier}")
        for note in r.notes:
            click.echo(f"    note: {note}")
        if r.flag:
            click.echo(f"    flag: {r.flag}")
        if r.problem and r.supplier:
            click.echo(f"    problem: {r.problem}")
    marks = []
    if any(r.reorder_point_override or r.order_up_to_override for r in rows):
        marks.append("* reorder point, + order-up-to level set by hand")
    if any(r.flag for r in rows):
        marks.append("! more days of cover than the setting, or no demand: see the flag")
    if marks:
        click.echo("(" + "; ".join(marks) + ")")
    click.echo("")
    click.echo("Totals by supplier:")
    totals = supplier_totals(rows)
    name_w = max(len(t.supplier or "— no supplier item") for t in totals)
    for t in totals:
        flagged = f"  ({t.flagged:,} flagged)" if t.flagged else ""
        value = _money(t.value, t.currency) if t.supplier else "—"
        click.echo(f"  {t.supplier or '— no supplier item':<{name_w}}  {t.currency:<3}  {t.lines:>5,} lines  "
                   f"{t.units:>8,} units  {value:>18}{flagged}")
    money = ", ".join(_money(v, c) for c, v in currency_totals(rows).items()) or "—"
    click.echo(f"Total: {len(rows):,} lines, {sum(r.quantity for r in rows):,} units, {money}")


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
@click.option("--max-cover", "max_cover_days", type=click.IntRange(1, 3650), default=None,
              help="Flag a suggested line that orders more days of demand than this (default 180).")
@click.option("--demand-basis", type=click.Choice(["fulfilled", "ordered"]), default=None,
              help="What a day's sales are: units shipped, where they left from (fulfilled, the default), or "
                   "units ordered, where they are reserved or shipped (ordered).")
@click.option("--op-id", default=None, help=WRITE_OP_HELP)
@db_options
@click.pass_obj
def settings_command(obj: Context, service_level: float | None, window_days: int | None, half_life_days: float | None,
                     review_days: int | None, default_lead_time: int | None, fulfilment: str | None,
                     max_cover_days: int | None, demand_basis: str | None, op_id: str | None) -> None:
    """Show or change how reorder points are computed."""
    ops = obj.operations()
    current = ops.replenishment.settings()
    changes = {k: v for k, v in {"service_level": service_level, "window_days": window_days,
                                 "half_life_days": half_life_days, "review_days": review_days,
                                 "default_lead_time_days": default_lead_time, "max_cover_days": max_cover_days,
                                 "demand_basis": demand_basis}.items()
               if v is not None}
    if fulfilment:
        changes["fulfilment_location_id"] = find_location_id(ops, fulfilment)
    if changes:
        saved = ops.replenishment.save_settings(replace(current, **changes), op_id=op_id)
        current = saved.settings
        if saved.replayed:
            click.echo(f"Already saved with operation id {op_id}: nothing changed. First result:")
    basis = ("units shipped, where they left from" if current.demand_basis == "fulfilled"
             else "units ordered, where they are reserved or shipped")
    click.echo(f"Demand: {basis}. "
               f"Service level {current.service_level:.1%} (z = {current.z:.3f}), {current.window_days} days of sales "
               f"weighted with a half-life of {current.half_life_days:g} days, review period {current.review_days} "
               f"days, default lead time {current.default_lead_time_days} days, fulfilment location "
               f"{current.fulfilment_location_id or 'the first warehouse'}; lines ordering more than "
               f"{current.max_cover_days} days of cover are flagged.")


@purchasing.command("override")
@click.option("--sku", required=True)
@click.option("--location", required=True, metavar="CODE")
@click.option("--reorder-point", type=click.IntRange(min=0), default=None, help="Empty: computed.")
@click.option("--order-up-to", type=click.IntRange(min=0), default=None, help="Empty: computed.")
@click.option("--op-id", default=None, help=WRITE_OP_HELP)
@db_options
@click.pass_obj
def override_command(obj: Context, sku: str, location: str, reorder_point: int | None, order_up_to: int | None,
                     op_id: str | None) -> None:
    """Set (or, without values, clear) a variant's reorder point and order-up-to level at a location."""
    ops = obj.operations()
    [(vid, _)] = find_variant_ids(ops, [(sku, 1)])
    done = ops.replenishment.set_levels(variant_id=vid, location_id=find_location_id(ops, location),
                                        reorder_point=reorder_point, order_up_to=order_up_to, op_id=op_id)
    rop, upto = done.reorder_point, done.order_up_to
    click.echo(f"{sku} at {location.upper()}: reorder point {rop if rop is not None else 'computed'}"
               f", order up to {upto if upto is not None else 'computed'}." + (REPLAYED if done.replayed else ""))


# -- suppliers --------------------------------------------------------------------------------------------
@purchasing.command("suppliers")
@click.option("--search", "text", default="", metavar="TEXT")
@db_options
@click.pass_obj
def suppliers_command(obj: Context, text: str) -> None:
    """Suppliers with their currency, lead time, terms and number of items."""
    rows = obj.operations().suppliers.list(text=text)
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
@click.option("--op-id", default=None, help=WRITE_OP_HELP)
@db_options
@click.pass_obj
def supplier_add(obj: Context, name: str, email: str, currency: str, lead_time: int, terms: str, contact: str,
                 op_id: str | None) -> None:
    """Add a supplier."""
    saved = obj.operations().suppliers.create({
        "name": name, "email": email, "currency": currency, "lead_time_days": lead_time, "payment_terms": terms,
        "contact_name": contact}, op_id=op_id)
    first = saved.values.get("name", name)
    click.echo(f"Supplier {first} added (id {saved.id})." + (REPLAYED if saved.replayed else ""))


@purchasing.command("items")
@click.option("--supplier", required=True, metavar="NAME|ID")
@click.option("--search", "text", default="", metavar="TEXT")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@db_options
@click.pass_obj
def items_command(obj: Context, supplier: str, text: str, limit: int) -> None:
    """A supplier's items: their SKU, unit cost, MOQ, pack size, lead time; * marks the preferred ones."""
    ops = obj.operations()
    s = ops.suppliers.find(supplier)
    rows = ops.suppliers.items(supplier_id=s.id, text=text, limit=limit)
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
@click.option("--op-id", default=None, help=WRITE_OP_HELP)
@db_options
@click.pass_obj
def item_command(obj: Context, supplier: str, sku: str, supplier_sku: str | None, cost: str | None, moq: int | None,
                 pack: int | None, lead_time: int | None, preferred: bool | None, op_id: str | None) -> None:
    """Add or change one supplier item."""
    ops = obj.operations()
    s = ops.suppliers.find(supplier)
    [(vid, _)] = find_variant_ids(ops, [(sku, 1)])
    values = {k: v for k, v in {"supplier_sku": supplier_sku, "unit_cost": cost, "min_order_qty": moq,
                                "pack_size": pack, "lead_time_days": lead_time, "preferred": preferred}.items()
              if v is not None}
    saved = ops.suppliers.save_item(supplier_id=s.id, variant_id=vid, values=values, op_id=op_id)
    click.echo(f"Supplier item {sku} from {s.name} {'added' if saved.action == 'create' else 'changed'}."
               + (REPLAYED if saved.replayed else ""))


# -- purchase orders --------------------------------------------------------------------------------------
@purchasing.group("po")
def po() -> None:
    """Purchase orders: list, show, create, send, e-mail, receive, close, cancel, export."""


@po.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(PO_STATES))
@click.option("--late", is_flag=True, help="Only sent or partly received orders past their expected date.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@db_options
@click.pass_obj
def po_list(obj: Context, states: tuple[str, ...], late: bool, limit: int) -> None:
    """Purchase orders, newest first."""
    rows = obj.operations().purchase_orders.list(states=states, limit=limit, late_only=late)
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
    _show_order(obj.operations().purchase_orders.find(ref), as_json)


@po.command("create")
@click.option("--supplier", required=True, metavar="NAME|ID")
@click.option("--to", "destination", required=True, metavar="CODE", help="Warehouse or store receiving it.")
@click.option("--line", "lines", multiple=True, required=True, metavar="SKU=QTY", help="A line (repeatable).")
@click.option("--note", default="")
@click.option("--op-id", default=None, help=WRITE_OP_HELP)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def po_create(obj: Context, supplier: str, destination: str, lines: tuple[str, ...], note: str, op_id: str | None,
              as_json: bool) -> None:
    """A draft purchase order at the supplier items' costs."""
    ops = obj.operations()
    s = ops.suppliers.find(supplier)
    parsed = find_variant_ids(ops, parse_lines(lines))
    _show_order(ops.purchase_orders.create(supplier_id=s.id, destination_location_id=find_location_id(ops, destination),
                                           lines=parsed, note=note, op_id=op_id), as_json)


@po.command("send")
@click.argument("ref")
@click.option("--email", "mail", is_flag=True, help="E-mail the PDF and XLSX to the supplier (mail server from "
                                                     "`backoffice stock mail-settings`).")
@click.option("--to", "recipients", multiple=True, metavar="ADDRESS", help="Send to this address instead (repeatable).")
@click.option("--store-name", default="Backoffice", show_default=True, help="The store's name on the document.")
@click.option("--op-id", default=None, help=WRITE_OP_HELP)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def po_send(obj: Context, ref: str, mail: bool, recipients: tuple[str, ...], store_name: str, op_id: str | None,
            as_json: bool) -> None:
    """Send draft REF: it is fixed, its expected date set from the lead times, and with --email mailed."""
    from backoffice.operations.purchase_orders import MailRequest

    ops = obj.operations()
    order = ops.purchase_orders.find(ref)
    order_mail = None
    if (mail or recipients) and order.state == "draft":   # a replayed send mails nothing again
        smtp = ops.alerts.mail_settings()
        if not smtp.configured:
            raise click.ClickException("no mail server is set: run `backoffice stock mail-settings --host …` first")
        order_mail = MailRequest(tuple(recipients), store_name, password=smtp_password(smtp))
    sent = ops.purchase_orders.send(order.id, mail=order_mail, op_id=op_id)
    _show_order(sent, as_json)
    if order_mail is not None and not as_json and not sent.replayed:
        click.echo(f"Mailed to {', '.join(recipients) or sent.supplier_email}.")


@po.command("email")
@click.argument("ref")
@click.option("--to", "recipients", multiple=True, metavar="ADDRESS", help="Send to this address instead (repeatable).")
@click.option("--store-name", default="Backoffice", show_default=True, help="The store's name on the document.")
@db_options
@click.pass_obj
def po_email(obj: Context, ref: str, recipients: tuple[str, ...], store_name: str) -> None:
    """E-mail sent order REF's PDF and XLSX to the supplier (again)."""
    from backoffice.operations.purchase_orders import MailRequest

    ops = obj.operations()
    order = ops.purchase_orders.find(ref)
    smtp = ops.alerts.mail_settings()
    if not smtp.configured:
        raise click.ClickException("no mail server is set: run `backoffice stock mail-settings --host …` first")
    sent_to = ops.purchase_orders.email(order.id, MailRequest(tuple(recipients), store_name,
                                                              password=smtp_password(smtp)))
    click.echo(f"{order.number} mailed to {', '.join(sent_to)}.")


@po.command("export")
@click.argument("ref")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.option("--store-name", default="Backoffice", show_default=True)
@db_options
@click.pass_obj
def po_export(obj: Context, ref: str, path: str, store_name: str) -> None:
    """Write REF's document as PATH (.pdf or .xlsx)."""
    ops = obj.operations()
    order = ops.purchase_orders.find(ref)
    try:
        written = ops.purchase_orders.write_document(order.id, path, store_name=store_name)
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
    if bool(lines) == everything:
        raise click.UsageError("give either --all or one or more --line SKU=QTY")
    ops = obj.operations()
    order = ops.purchase_orders.find(ref)
    quantities = None if everything else summed(find_variant_ids(ops, parse_lines(lines)))
    result = ops.purchase_orders.receive(order.id, quantities, op_id=op_id,
                                         location_id=find_location_id(ops, location) if location else None,
                                         allow_over_receipt=over)
    _show_order(result, as_json)


@po.command("close")
@click.argument("ref")
@click.option("--reason", default="")
@click.option("--op-id", default=None, help=WRITE_OP_HELP)
@db_options
@click.pass_obj
def po_close(obj: Context, ref: str, reason: str, op_id: str | None) -> None:
    """Close a received or partly received order: nothing more is expected."""
    ops = obj.operations()
    _show_order(ops.purchase_orders.close(ops.purchase_orders.find(ref).id, reason=reason, op_id=op_id), False)


@po.command("cancel")
@click.argument("ref")
@click.option("--reason", default="")
@click.option("--op-id", default=None, help=WRITE_OP_HELP)
@db_options
@click.pass_obj
def po_cancel(obj: Context, ref: str, reason: str, op_id: str | None) -> None:
    """Cancel a draft or sent order before anything arrived."""
    ops = obj.operations()
    _show_order(ops.purchase_orders.cancel(ops.purchase_orders.find(ref).id, reason=reason, op_id=op_id), False)
