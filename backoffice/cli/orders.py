"""``backoffice orders …``, ``backoffice returns …`` and ``backoffice customers …``.

``orders process`` reserves every order the store wrote since the last run (idempotent per order, safe to
run from the OS scheduler while the app runs too). Commands that move stock take ``--op-id``: run again
with the same id and they report the first result instead of shipping or receiving twice.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from decimal import Decimal
from typing import Any

import click

from backoffice.cli.app import Context, db_options, json_text, main
from backoffice.cli.lines import OP_ID_HELP, find_location_id, parse_lines

STATE_WORDS = {"new": "new", "open": "waiting for stock", "allocated": "allocated",
               "partially_fulfilled": "part shipped", "fulfilled": "fulfilled", "cancelled": "cancelled"}


def _money(amount: Any, currency: str) -> str:
    return f"{Decimal(amount):,.2f} {currency}"


def _reserved_text(line: Any) -> str:
    return ", ".join(f"{r.quantity:,} at {r.location}" for r in line.reservations) or "-"


def show_order(o: Any, as_json: bool) -> None:
    if as_json:
        data = asdict(o)
        data["waiting"] = o.waiting
        click.echo(json_text(data))
        return
    overdue = "  OVERDUE" if o.overdue else ""
    click.echo(f"{o.number}  {STATE_WORDS.get(o.state, o.state)}  payment {o.status}  {o.channel}  "
               f"{o.ordered_at:%Y-%m-%d %H:%M}  {o.customer_name}  {_money(o.total, o.currency)}{overdue}")
    if o.cancel_reason:
        click.echo(f"  cancelled: {o.cancel_reason}")
    for ln in o.lines:
        click.echo(f"  {ln.sku:<24} ordered {ln.quantity:>5,}  shipped {ln.fulfilled:>5,}  cancelled {ln.cancelled:>4,}"
                   f"  returned {ln.returned:>4,}  waiting {ln.waiting:>4,}  reserved {_reserved_text(ln)}")
    for s in o.shipments:
        units = sum(q for _, _, q in s.lines)
        track = f"  {s.carrier} {s.tracking}".rstrip() if s.carrier or s.tracking else ""
        click.echo(f"  shipment {s.number} from {s.location} {s.shipped_at:%Y-%m-%d %H:%M}: {units:,} units{track}")
    for r in o.returns:
        click.echo(f"  return {r['number']} {r['state']}: {r['units']:,} units, refund {r['refund_amount']} ({r['refund_status']})")
    if o.allocation_note:
        click.echo(f"  {o.allocation_note}")


def _date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.UsageError(f"{name} {value!r}: write the date as YYYY-MM-DD") from None


def _line_quantities(ops: Any, order: Any, specs: tuple[str, ...], *, left: str) -> dict[int, int]:
    """SKU=QTY (or barcode=QTY) as order line id -> units, filling the order's lines of that variant in
    order; a code not on the order, or more units than left, is one clear error."""
    wanted: dict[int, int] = {}
    problems = []
    for code, qty in parse_lines(specs):
        found = ops.transfers.find_variant(code)
        lines = [ln for ln in order.lines if found is not None and ln.variant_id == found["variant_id"]]
        if not lines:
            problems.append(f"{code} is not on {order.number}")
            continue
        for ln in lines:
            room = getattr(ln, left) - wanted.get(ln.id, 0)
            take = min(room, qty)
            if take > 0:
                wanted[ln.id] = wanted.get(ln.id, 0) + take
                qty -= take
        if qty > 0:
            problems.append(f"{code}: {qty:,} more units than {order.number} has left")
    if problems:
        raise click.ClickException("; ".join(problems))
    return wanted


# -- orders ---------------------------------------------------------------------------------------------
@main.group()
def orders() -> None:
    """Orders the store wrote: reserve (process), list, show, fulfil, cancel."""


@orders.command("process")
@click.option("--batch", type=click.IntRange(1, 5000), default=500, show_default=True, help="Orders per transaction.")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def orders_process(obj: Context, batch: int, as_json: bool) -> None:
    """Reserve every new order, then try again the units that waited for stock (run it from the OS
    scheduler: each order is reserved once, however often and in how many processes it runs)."""
    from backoffice.operations.schedule import JobBusy

    try:
        result = obj.operations().orders.process(batch=batch)
    except JobBusy as busy:   # another run is processing: nothing to do here
        click.echo(f"skipped: {busy}", err=as_json)
        return
    if as_json:
        click.echo(json_text(asdict(result)))
        return
    click.echo(f"{result.orders:,} new orders processed: {result.reserved_units:,} units reserved, "
               f"{result.refused:,} refused; {result.retried:,} waiting orders tried again; "
               f"{result.waiting_units:,} units wait for stock")


@orders.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(list(STATE_WORDS)), help="Only these states (repeatable).")
@click.option("--from-date", default=None, metavar="YYYY-MM-DD", help="Ordered on or after this day.")
@click.option("--to-date", default=None, metavar="YYYY-MM-DD", help="Ordered on or before this day.")
@click.option("--location", default=None, metavar="CODE", help="Reserved or shipped at this location.")
@click.option("--customer", "customer_id", type=int, default=None, help="Only this customer's orders (id).")
@click.option("--overdue", is_flag=True, help="Only open orders older than the overdue setting.")
@click.option("--search", default="", help="Order number, customer name or e-mail.")
@click.option("--limit", type=click.IntRange(1, 2000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def orders_list(obj: Context, states: tuple[str, ...], from_date: str | None, to_date: str | None, location: str | None,
                customer_id: int | None, overdue: bool, search: str, limit: int, as_json: bool) -> None:
    """Orders, newest first."""
    from backoffice.operations.orders import OrderFilter

    ops = obj.operations()
    flt = OrderFilter(states=states, ordered_from=_date(from_date, "--from-date"), ordered_to=_date(to_date, "--to-date"),
                      location_id=find_location_id(ops, location) if location else None, customer_id=customer_id,
                      overdue=overdue, search=search)
    rows = ops.orders.list(flt, limit=limit)
    total = ops.orders.count(flt)
    if as_json:
        click.echo(json_text({"count": total, "orders": [asdict(r) | {"waiting": r.waiting} for r in rows]}))
        return
    for r in rows:
        click.echo(f"{r.number:<14} {r.ordered_at:%Y-%m-%d %H:%M}  {STATE_WORDS.get(r.state, r.state):<17} "
                   f"{r.status:<10} {r.customer[:28]:<28} {r.units:>5,} units  shipped {r.fulfilled:>5,}  "
                   f"waiting {r.waiting:>4,}  {_money(r.total, r.currency):>14}" + ("  OVERDUE" if r.overdue else ""))
    click.echo(f"{len(rows):,} of {total:,} orders")


@orders.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def orders_show(obj: Context, ref: str, as_json: bool) -> None:
    """Order REF (its number or id): lines with reservations, shipments, returns."""
    show_order(obj.operations().orders.find(ref), as_json)


@orders.command("place")
@click.option("--line", "lines", multiple=True, required=True, metavar="SKU=QTY", help="A line (repeatable).")
@click.option("--customer", "customer_id", type=int, default=None, help="The customer's id.")
@click.option("--number", default=None, help="The order number (default: BO-…).")
@click.option("--channel", default="phone", show_default=True)
@click.option("--status", default="paid", show_default=True, help="Payment status.")
@click.option("--op-id", default=None, help=OP_ID_HELP + " The same id given again returns the order it made.")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def orders_place(obj: Context, lines: tuple[str, ...], customer_id: int | None, number: str | None, channel: str,
                 status: str, op_id: str | None, as_json: bool) -> None:
    """Take an order here (a phone order), at the variants' prices, and reserve it at once."""
    ops = obj.operations()
    resolved = []
    for code, qty in parse_lines(lines):
        found = ops.transfers.find_variant(code)
        if found is None:
            raise click.ClickException(f"no variant with SKU or barcode {code!r}")
        price = ops.catalog.variant(found["variant_id"])["price"]
        resolved.append((found["variant_id"], qty, str(price)))
    show_order(ops.orders.place(lines=resolved, customer_id=customer_id, number=number, channel=channel, status=status,
                                op_id=op_id), as_json)


@orders.command("fulfil")
@click.argument("ref", required=False)
@click.option("--from", "source", required=True, metavar="CODE", help="The location the units leave.")
@click.option("--line", "lines", multiple=True, metavar="SKU=QTY", help="Units shipped now (repeatable); "
              "default: everything reserved at the location.")
@click.option("--all-reserved", is_flag=True, help="Instead of REF: ship every order holding units at the location "
              "(oldest first), one shipment each.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="With --all-reserved: at most this many orders.")
@click.option("--carrier", default="", help="The carrier (DHL, UPS, …).")
@click.option("--tracking", default="", help="The tracking number.")
@click.option("--op-id", default=None, help=OP_ID_HELP)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def orders_fulfil(obj: Context, ref: str | None, source: str, lines: tuple[str, ...], all_reserved: bool,
                  limit: int | None, carrier: str, tracking: str, op_id: str | None, as_json: bool) -> None:
    """Ship units of order REF from one location (one shipment, posted through the ledger), or with
    --all-reserved everything reserved there, order by order (an order that cannot ship is reported and
    the rest go on; rerun with the same --op-id after an interruption and nothing ships twice)."""
    ops = obj.operations()
    if all_reserved:
        if ref or lines or tracking:
            raise click.UsageError("--all-reserved ships whole reservations: give no REF, --line or --tracking")
        result = ops.orders.fulfil_many(location_id=find_location_id(ops, source), carrier=carrier, limit=limit,
                                        op_id=op_id)
        if as_json:
            click.echo(json.dumps({"shipped": result.shipped, "units": result.units, "skipped": result.skipped,
                                   "failed": [{"order": n, "error": e} for n, e in result.failed]}))
        else:
            click.echo(f"{result.shipped:,} shipments from {source}, {result.units:,} units"
                       + (f"; {result.skipped:,} already shipped by an earlier run" if result.skipped else ""))
            for number, error in result.failed:
                click.echo(f"  {number}: not shipped: {error}", err=True)
        if result.failed:
            raise SystemExit(1)
        return
    if not ref:
        raise click.UsageError("give the order (REF), or --all-reserved")
    order = ops.orders.find(ref)
    # with --op-id, a rerun must map the lines as the first run did (the service then finds it posted)
    quantities = _line_quantities(ops, order, lines, left="quantity" if op_id else "outstanding") if lines else None
    show_order(ops.orders.fulfil(order.id, location_id=find_location_id(ops, source), quantities=quantities,
                                 carrier=carrier, tracking=tracking, op_id=op_id), as_json)


@orders.command("cancel")
@click.argument("ref")
@click.option("--line", "lines", multiple=True, metavar="SKU=QTY", help="Units cancelled (repeatable); default: all not shipped.")
@click.option("--reason", default="", help="Why (shown on the order).")
@click.option("--op-id", default=None, help=OP_ID_HELP)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def orders_cancel(obj: Context, ref: str, lines: tuple[str, ...], reason: str, op_id: str | None, as_json: bool) -> None:
    """Cancel what is not shipped of order REF; its reservations are released."""
    ops = obj.operations()
    order = ops.orders.find(ref)
    quantities = _line_quantities(ops, order, lines, left="outstanding") if lines else None
    show_order(ops.orders.cancel(order.id, reason=reason, quantities=quantities, op_id=op_id), as_json)


@orders.command("payment")
@click.argument("ref")
@click.argument("status", type=click.Choice(["pending", "authorised", "paid", "partially_refunded", "refunded", "cancelled"]))
@db_options
@click.pass_obj
def orders_payment(obj: Context, ref: str, status: str) -> None:
    """Record order REF's payment status as the store reports it."""
    ops = obj.operations()
    show_order(ops.orders.record_payment(ops.orders.find(ref).id, status=status), False)


@orders.command("backorders")
@click.argument("handles", nargs=-1, required=True)
@click.option("--allow/--refuse", required=True, help="Let orders reserve beyond stock for these products, or stop it.")
@db_options
@click.pass_obj
def orders_backorders(obj: Context, handles: tuple[str, ...], allow: bool) -> None:
    """Products (by handle) whose orders may reserve more than is on hand."""
    ops = obj.operations()
    ids = [ops.images.product_by_handle(h).id for h in handles]
    changed = ops.orders.set_backorders(ids, allowed=allow)
    click.echo(f"{changed:,} product(s) changed: backorders {'allowed' if allow else 'refused'}")


@orders.command("settings")
@click.option("--allocation", type=click.Choice(["channel_then_most_available", "most_available"]), default=None)
@click.option("--split/--no-split", default=None, help="May a line be reserved at several locations.")
@click.option("--shortage", type=click.Choice(["backorder", "refuse"]), default=None,
              help="Units no location covers: wait for stock, or refuse the order.")
@click.option("--channel", "channels", multiple=True, metavar="CHANNEL=CODE", help="A sales channel's preferred location.")
@click.option("--write-off", default=None, metavar="CODE", help="Where damaged returns are written off to.")
@click.option("--overdue-days", type=click.IntRange(0, 365), default=None)
@db_options
@click.pass_obj
def orders_settings(obj: Context, allocation: str | None, split: bool | None, shortage: str | None,
                    channels: tuple[str, ...], write_off: str | None, overdue_days: int | None) -> None:
    """Show the order settings, or change the ones given."""
    from backoffice.operations.orders import OrderSettings

    ops = obj.operations()
    current = ops.orders.settings()
    changes: dict[str, Any] = {}
    if allocation is not None:
        changes["allocation"] = allocation
    if split is not None:
        changes["split"] = split
    if shortage is not None:
        changes["shortage"] = shortage
    if overdue_days is not None:
        changes["overdue_days"] = overdue_days
    if write_off is not None:
        changes["write_off_location_id"] = find_location_id(ops, write_off)
    if channels:
        mapping = dict(current.channel_locations)
        for spec in channels:
            name, sep, code = spec.partition("=")
            if not sep or not name.strip():
                raise click.UsageError(f"--channel {spec!r}: write it as CHANNEL=LOCATION_CODE (empty code: remove)")
            if code.strip():
                mapping[name.strip()] = find_location_id(ops, code.strip())
            else:
                mapping.pop(name.strip(), None)
        changes["channel_locations"] = mapping
    if changes:
        current = ops.orders.save_settings(OrderSettings(**(asdict(current) | changes)))
    codes = {loc["id"]: loc["code"] for loc in ops.stock.locations()}
    click.echo(current.explain(codes))
    click.echo(f"Overdue after {current.overdue_days} day(s); damaged returns written off to "
               f"{codes.get(current.write_off_location_id, 'the first adjustment location')}.")


@orders.command("check")
@db_options
@click.pass_obj
def orders_check(obj: Context) -> None:
    """Check that reserved stock equals the open orders' reservations (exit status 1 when it does not)."""
    problems = obj.operations().orders.check()
    for p in problems:
        click.echo("  " + ", ".join(f"{k} {v}" for k, v in p.items()))
    if problems:
        raise click.ClickException(f"{len(problems):,} reservation mismatch(es)")
    click.echo("Reserved stock equals the open orders' reservations.")


# -- returns -----------------------------------------------------------------------------------------------
def show_return(r: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json_text(asdict(r)))
        return
    where = f" at {r.location}" if r.location else ""
    click.echo(f"{r.number}  {r.state}{where}  order {r.order_number}  refund {r.refund_amount} ({r.refund_status})")
    for ln in r.lines:
        click.echo(f"  {ln.sku:<24} {ln.quantity:>4,}  {ln.reason:<18} {ln.condition}")


@main.group()
def returns() -> None:
    """Return authorisations (RMA): authorise, receive, cancel, record the refund."""


@returns.command("authorise")
@click.argument("order_ref")
@click.option("--line", "lines", multiple=True, metavar="SKU=QTY", help="Units coming back to stock (repeatable).")
@click.option("--damaged", "damaged", multiple=True, metavar="SKU=QTY", help="Damaged units: written off on receipt.")
@click.option("--reason", required=True, type=click.Choice(["wrong_size", "not_as_described", "defective",
                                                             "damaged_in_transit", "changed_mind", "late", "other"]))
@click.option("--refund", default="0", help="The refund decided (the store's gateway pays it).")
@click.option("--note", default="")
@click.option("--op-id", default=None, help=OP_ID_HELP)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def returns_authorise(obj: Context, order_ref: str, lines: tuple[str, ...], damaged: tuple[str, ...], reason: str,
                      refund: str, note: str, op_id: str | None, as_json: bool) -> None:
    """Authorise a return against ORDER_REF's shipped lines."""
    if not lines and not damaged:
        raise click.UsageError("give at least one --line or --damaged SKU=QTY")
    ops = obj.operations()
    order = ops.orders.find(order_ref)
    good = _line_quantities(ops, order, lines, left="fulfilled")
    bad = _line_quantities(ops, order, damaged, left="fulfilled")
    wanted = [(lid, q, reason, "restock") for lid, q in good.items()] + [(lid, q, reason, "damaged") for lid, q in bad.items()]
    show_return(ops.returns.authorise(order.id, lines=wanted, note=note, refund_amount=refund, op_id=op_id), as_json)


@returns.command("receive")
@click.argument("ref")
@click.option("--at", "location", required=True, metavar="CODE", help="Where restockable units go.")
@click.option("--op-id", default=None, help=OP_ID_HELP)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def returns_receive(obj: Context, ref: str, location: str, op_id: str | None, as_json: bool) -> None:
    """Receive return REF: restockable units into the location, damaged ones written off."""
    ops = obj.operations()
    show_return(ops.returns.receive(ops.returns.find(ref).id, location_id=find_location_id(ops, location), op_id=op_id),
                as_json)


@returns.command("cancel")
@click.argument("ref")
@db_options
@click.pass_obj
def returns_cancel(obj: Context, ref: str) -> None:
    ops = obj.operations()
    show_return(ops.returns.cancel(ops.returns.find(ref).id), False)


@returns.command("refund")
@click.argument("ref")
@click.argument("status", type=click.Choice(["pending", "refunded", "declined"]))
@click.option("--amount", default=None, help="The amount refunded, when it differs from the one decided.")
@db_options
@click.pass_obj
def returns_refund(obj: Context, ref: str, status: str, amount: str | None) -> None:
    """Record the refund of return REF as the store's gateway reports it."""
    ops = obj.operations()
    show_return(ops.returns.record_refund(ops.returns.find(ref).id, status=status, amount=amount), False)


@returns.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(["authorised", "received", "cancelled"]))
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def returns_list(obj: Context, states: tuple[str, ...], limit: int, as_json: bool) -> None:
    rows = obj.operations().returns.list(states=states, limit=limit)
    if as_json:
        click.echo(json_text([asdict(r) for r in rows]))
        return
    for r in rows:
        click.echo(f"{r.number:<11} {r.state:<10} {r.order_number:<14} {r.units:>4,} units  refund {r.refund_amount} "
                   f"({r.refund_status})  {r.created_at:%Y-%m-%d}")
    click.echo(f"{len(rows):,} returns")


@returns.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def returns_show(obj: Context, ref: str, as_json: bool) -> None:
    show_return(obj.operations().returns.find(ref), as_json)


# -- customers ------------------------------------------------------------------------------------------------
@main.group()
def customers() -> None:
    """Customers: list, show, edit, export their data (GDPR), erase (anonymise)."""


@customers.command("list")
@click.option("--search", default="", help="Name or e-mail.")
@click.option("--limit", type=click.IntRange(1, 2000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def customers_list(obj: Context, search: str, limit: int, as_json: bool) -> None:
    ops = obj.operations()
    rows = ops.customers.list(search=search, limit=limit)
    if as_json:
        click.echo(json_text({"count": ops.customers.count(search=search), "customers": [asdict(r) for r in rows]}))
        return
    for c in rows:
        last = f"{c.last_order_at:%Y-%m-%d}" if c.last_order_at else "-"
        click.echo(f"{c.id:>8}  {(c.name or '-')[:28]:<28} {c.email[:36]:<36} {c.country}  {c.orders:>4,} orders  "
                   f"{c.lifetime_value:>12,.2f}  last {last}")
    click.echo(f"{len(rows):,} of {ops.customers.count(search=search):,} customers")


@customers.command("show")
@click.argument("customer_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def customers_show(obj: Context, customer_id: int, as_json: bool) -> None:
    c = obj.operations().customers.get(customer_id)
    if as_json:
        click.echo(json_text(asdict(c)))
        return
    erased = f"  (erased {c.erased_at:%Y-%m-%d})" if c.erased_at else ""
    click.echo(f"{c.id}  {c.label}  {c.email}  {c.phone}  {c.country}{erased}")
    if c.address:
        click.echo("  " + c.address.replace("\n", ", "))
    click.echo(f"  {c.orders:,} orders, lifetime value {c.lifetime_value:,.2f} (refunded {c.refunded:,.2f}), "
               f"{c.returns:,} returns ({c.returned_units:,} units)")
    for o in c.recent_orders[:10]:
        click.echo(f"  {o.number:<14} {o.ordered_at:%Y-%m-%d}  {STATE_WORDS.get(o.state, o.state):<17} {_money(o.total, o.currency)}")


@customers.command("edit")
@click.argument("customer_id", type=int)
@click.option("--set", "values", multiple=True, metavar="FIELD=VALUE", help="name, email, phone, address, note or country.")
@db_options
@click.pass_obj
def customers_edit(obj: Context, customer_id: int, values: tuple[str, ...]) -> None:
    """Change a customer's details (audited by field name)."""
    changes = {}
    for spec in values:
        key, sep, value = spec.partition("=")
        if not sep:
            raise click.UsageError(f"--set {spec!r}: write it as FIELD=VALUE")
        changes[key.strip()] = value
    if not changes:
        raise click.UsageError("give at least one --set FIELD=VALUE")
    ops = obj.operations()
    current = ops.customers.get(customer_id)
    c = ops.customers.update(customer_id, expected_version=current.version, values=changes)
    click.echo(f"{c.id}  {c.label}  {c.email}  {c.phone}  {c.country}  (version {c.version})")


@customers.command("export")
@click.argument("customer_id", type=int)
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@db_options
@click.pass_obj
def customers_export(obj: Context, customer_id: int, path: str) -> None:
    """Write everything held about a customer to PATH (.json): the GDPR access request."""
    click.echo(f"Wrote {obj.operations().customers.export(customer_id, path)}")


@customers.command("erase")
@click.argument("customer_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@db_options
@click.pass_obj
def customers_erase(obj: Context, customer_id: int, yes: bool) -> None:
    """Anonymise a customer (GDPR erasure): their details go, their orders' accounting stays."""
    if not yes:
        click.confirm(f"Erase customer {customer_id}'s name, e-mail, phone, address and note for good?", abort=True)
    c = obj.operations().customers.erase(customer_id)
    click.echo(f"Customer {c.id} erased; {c.orders:,} orders kept (lifetime value {c.lifetime_value:,.2f}).")
