"""``backoffice store …``: connecting the store's own system (Medusa first) and keeping it in step.

``store add medusa URL --api-key KEY`` connects a store (the key goes to the keyring), ``store locations``
lists the store's stock locations and ``store link-location`` maps ours to them; ``store sync`` and
``store reconcile`` are what the OS scheduler runs. Exit status: 0 when the run was clean, 1 when it
failed (the store unreachable, a bad key), 3 when it finished with some items failed or in conflict (they
are listed; ``store outbox`` shows what waits).
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from typing import Any

import click

from backoffice.cli.app import Context, db_options, json_text, main
from backoffice.connectors import key_env

PARTIAL_EXIT = 3
KEY_ENV = "BACKOFFICE_STORE_API_KEY"


def _read_key(api_key: str | None, from_stdin: bool) -> str:
    if from_stdin:
        key = sys.stdin.readline().strip()
    elif api_key:
        key = api_key
    elif os.environ.get(KEY_ENV):
        key = os.environ[KEY_ENV]
    elif sys.stdin.isatty():
        key = click.prompt("The store's API key", hide_input=True)
    else:
        raise click.UsageError(f"give the store's API key: --api-key KEY, --api-key-stdin, or {KEY_ENV}")
    if not key.strip():
        raise click.UsageError("the API key is empty")
    return key.strip()


def _progress() -> Any:  # noqa: ANN401
    last = [""]

    def show(fraction: float | None, text: str | None) -> None:
        if not sys.stderr.isatty() or text is None or text == last[0]:
            return
        pct = "" if fraction is None else f"{int(fraction * 100):3d}%  "
        click.echo(f"\r{pct}{text:<60}", err=True, nl=False)
        last[0] = text

    return show


def _settings_from(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--set {pair!r}: write it as KEY=VALUE")
        value: Any = raw
        if raw.lower() in ("true", "yes", "on"):
            value = True
        elif raw.lower() in ("false", "no", "off"):
            value = False
        elif raw.isdigit():
            value = int(raw)
        out[key.strip()] = value
    return out


@main.group("store")
def store_group() -> None:
    """The store's own system (Medusa): connect it, link locations, sync, reconcile."""


@store_group.command("add")
@click.argument("kind", type=click.Choice(["medusa"]))
@click.argument("url")
@click.option("--name", default=None, help="What to call this store here (default: the kind).")
@click.option("--api-key", default=None, help=f"The store's secret API key (or --api-key-stdin, or {KEY_ENV}).")
@click.option("--api-key-stdin", is_flag=True, help="Read the API key from the first line of standard input.")
@click.option("--currency", default="EUR", show_default=True, help="The currency prices are pushed in.")
@click.option("--sales-channel", default=None, help="Medusa: the sales channel id new products are published in.")
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE", help="Another setting (repeatable).")
@click.option("--no-check", is_flag=True, help="Do not call the store to check the URL and key.")
@db_options
@click.pass_obj
def store_add(obj: Context, kind: str, url: str, name: str | None, api_key: str | None, api_key_stdin: bool,
              currency: str, sales_channel: str | None, pairs: tuple[str, ...], no_check: bool) -> None:
    """Connect a store at URL. The key is kept in this computer's keyring, never in a file."""
    key = _read_key(api_key, api_key_stdin)
    settings = {"currency": currency, **_settings_from(pairs)}
    if sales_channel:
        settings["sales_channel_id"] = sales_channel
    ops = obj.operations()
    info = ops.connectors.add(kind, name or kind, url, key, settings=settings)
    source = ops.connectors.key_source(info.name)
    where = {"keyring": "the API key is in the keyring",
             "environment": f"the API key is read from {key_env(info.name)}, not stored"}.get(source, "no key stored")
    click.echo(f"Connected {info.name}: {info.kind} at {info.url} ({where})")
    if not no_check:
        health = ops.connectors.health(info.name)
        if health.ok:
            version = f" {health.version}" if health.version else ""
            click.echo(f"The store answers{version} in {health.latency_ms:.0f} ms and accepts the key.")
        else:
            click.echo(f"Warning: the store does not answer as expected: {health.message}", err=True)
    click.echo(f"Next: `backoffice store locations {info.name}`, then "
               f"`backoffice store link-location {info.name} CODE STORE_LOCATION_ID` for each location.")


@store_group.command("set-key")
@click.argument("name")
@click.option("--api-key", default=None)
@click.option("--api-key-stdin", is_flag=True)
@db_options
@click.pass_obj
def store_set_key(obj: Context, name: str, api_key: str | None, api_key_stdin: bool) -> None:
    """Replace the API key of store NAME in this computer's keyring."""
    obj.operations().connectors.set_key(name, _read_key(api_key, api_key_stdin))
    click.echo(f"The API key of {name} is replaced.")


@store_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def store_list(obj: Context, as_json: bool) -> None:
    """The connected stores, their last sync and what waits."""
    rows = obj.operations().connectors.list()
    if as_json:
        click.echo(json_text([asdict(r) for r in rows]))
        return
    if not rows:
        click.echo("No store is connected: `backoffice store add medusa URL --api-key …`")
    for r in rows:
        last = r.last_run
        when = "never synced" if last is None else f"last {last.kind} {last.started_at:%Y-%m-%d %H:%M} {last.state}"
        click.echo(f"{r.name:<14} {r.kind:<8} {r.url:<36} {when}; {r.linked_variants:,} variants linked, "
                   f"{r.pending:,} waiting, {r.failed:,} failed" + ("" if r.active else "  PAUSED"))
        for link in r.locations:
            click.echo(f"  {link.code:<10} -> {link.store_location_id}" + ("  (ours: stock pushed)" if link.owned
                                                                           else "  (compared only)"))


@store_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def store_show(obj: Context, name: str, as_json: bool) -> None:
    """Store NAME: its settings (direction rules), location links and the API's response times."""
    ops = obj.operations()
    info = ops.connectors.get(name)
    stats = ops.connectors.api_stats(name)
    if as_json:
        click.echo(json_text({"connection": asdict(info), "api": [asdict(s) for s in stats]}))
        return
    click.echo(f"{info.name}: {info.kind} at {info.url}" + ("" if info.active else " (paused)"))
    s = info.settings
    rules = [("catalog", "push_catalog", "back-office -> store"), ("prices", "push_prices", "back-office -> store"),
             ("stock", "push_stock", "back-office -> store at owned locations"),
             ("orders", "pull_orders", "store -> back-office"), ("fulfilments", "push_fulfilments", "back-office -> store")]
    for label, key, way in rules:
        click.echo(f"  {label:<12} {way if s.get(key, True) else 'off'}")
    click.echo(f"  overlap window {s.get('overlap_seconds')} s, currency {s.get('currency')}")
    for link in info.locations:
        click.echo(f"  location {link.code} -> {link.store_location_id} ({'owned' if link.owned else 'compared only'})")
    if stats:
        click.echo("  API (last 7 days):  calls  errors  mean ms  p95 ms  endpoint")
        for st in stats[:12]:
            click.echo(f"  {'':<18}{st.calls:>6,} {st.errors:>7,} {st.mean_ms:>8.0f} {st.p95_ms:>7.0f}  "
                       f"{st.method if st.endpoint != '*' else ''} {st.endpoint if st.endpoint != '*' else 'all'}")


@store_group.command("locations")
@click.argument("name")
@db_options
@click.pass_obj
def store_locations(obj: Context, name: str) -> None:
    """The store's stock locations (their ids are what link-location takes)."""
    ops = obj.operations()
    linked = {link.store_location_id: link.code for link in ops.connectors.get(name).locations}
    for loc in ops.connectors.store_locations(name):
        ours = f"  linked to {linked[loc.id]}" if loc.id in linked else ""
        click.echo(f"{loc.id:<40} {loc.name}{ours}")


@store_group.command("link-location")
@click.argument("name")
@click.argument("code")
@click.argument("store_location_id")
@click.option("--compare-only", is_flag=True, help="The store owns the stock there: compare, never push.")
@db_options
@click.pass_obj
def store_link_location(obj: Context, name: str, code: str, store_location_id: str, compare_only: bool) -> None:
    """Link our location CODE to the store's STORE_LOCATION_ID."""
    obj.operations().connectors.link_location(name, code, store_location_id, owned=not compare_only)
    click.echo(f"{code} is linked to {store_location_id} of {name}"
               + (" (compared only)." if compare_only else ": its stock is pushed."))


@store_group.command("unlink-location")
@click.argument("name")
@click.argument("code")
@db_options
@click.pass_obj
def store_unlink_location(obj: Context, name: str, code: str) -> None:
    obj.operations().connectors.unlink_location(name, code)
    click.echo(f"{code} is no longer linked to a location of {name}.")


@store_group.command("set")
@click.argument("name")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
@db_options
@click.pass_obj
def store_set(obj: Context, name: str, pairs: tuple[str, ...]) -> None:
    """Change settings of store NAME, e.g. ``push_stock=false`` or ``overlap_seconds=900``."""
    info = obj.operations().connectors.update(name, settings=_settings_from(pairs))
    click.echo(f"{info.name}: " + ", ".join(f"{k}={info.settings[k]}" for k in _settings_from(pairs)))


@store_group.command("pause")
@click.argument("name")
@db_options
@click.pass_obj
def store_pause(obj: Context, name: str) -> None:
    """Stop syncing NAME (scheduled runs do nothing) until resumed."""
    obj.operations().connectors.update(name, active=False)
    click.echo(f"{name} is paused.")


@store_group.command("resume")
@click.argument("name")
@db_options
@click.pass_obj
def store_resume(obj: Context, name: str) -> None:
    obj.operations().connectors.update(name, active=True)
    click.echo(f"{name} syncs again.")


@store_group.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask.")
@db_options
@click.pass_obj
def store_remove(obj: Context, name: str, yes: bool) -> None:
    """Disconnect NAME: forget its links, log and key (nothing here or in the store is deleted)."""
    if not yes and not click.confirm(f"Disconnect {name}?", default=False):
        raise click.Abort()
    obj.operations().connectors.remove(name)
    click.echo(f"{name} is disconnected.")


def _names(ops: Any, name: str | None) -> list[str]:  # noqa: ANN401
    if name:
        return [name]
    names = [c.name for c in ops.connectors.list() if c.active]
    if not names:
        raise click.UsageError("no active store is connected")
    return names


@store_group.command("sync")
@click.argument("name", required=False)
@click.option("--pull", "direction", flag_value="pull", help="Only take from the store (orders, catalog links).")
@click.option("--push", "direction", flag_value="push", help="Only send to the store (catalog, prices, stock, fulfilments).")
@click.option("--dry-run", is_flag=True, help="Read the store and plan; write nothing anywhere.")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def store_sync(obj: Context, name: str | None, direction: str | None, dry_run: bool, as_json: bool) -> None:
    """Sync store NAME (every active store when left out): pull orders, push catalog, prices, shipments
    and stock, as its direction rules say. Run it from the OS scheduler."""
    ops = obj.operations()
    worst = 0
    results = []
    from backoffice.operations.schedule import JobBusy

    for conn in _names(ops, name):
        try:
            report = ops.connectors.sync(conn, direction=direction or "both", dry_run=dry_run, progress=_progress())
        except JobBusy as busy:   # another run is syncing this store: nothing to do here
            click.echo(f"skipped: {busy}", err=as_json)
            continue
        if sys.stderr.isatty():
            click.echo("", err=True)
        results.append(report)
        worst = max(worst, {"ok": 0, "partial": PARTIAL_EXIT, "failed": 1}.get(report.state, 1))
        if not as_json:
            _show_sync(report)
    if as_json:
        click.echo(json_text([asdict(r) for r in results]))
    if worst:
        sys.exit(worst)


def _show_sync(r: Any) -> None:  # noqa: ANN401
    what = "Dry run of" if r.dry_run else "Synced"
    click.echo(f"{what} {r.connection} ({r.direction}) in {r.seconds:.1f} s: {r.state}")
    if r.orders_seen or r.direction != "push":
        click.echo(f"  orders:      {r.orders_new:,} new, {r.orders_updated:,} updated, {r.orders_failed:,} failed "
                   f"({r.orders_seen:,} read)")
    if r.store_products_seen or r.variants_linked or r.catalog_drift:
        click.echo(f"  store catalog: {r.store_products_seen:,} products read, {r.variants_linked:,} variants linked, "
                   f"{r.catalog_drift:,} changed in the store (sent again)")
    if r.direction != "pull":
        if r.dry_run:
            click.echo(f"  would send:  {r.products_planned:,} products, {r.prices_planned:,} prices, "
                       f"{r.fulfilments_pushed:,} shipments, {r.stock_planned:,} stock levels")
        else:
            click.echo(f"  products:    {r.products_created:,} created, {r.products_updated:,} updated, "
                       f"{r.products_matched:,} matched, {r.products_failed:,} failed")
            click.echo(f"  prices:      {r.prices_pushed:,} sent, {r.prices_failed:,} failed")
            click.echo(f"  shipments:   {r.fulfilments_pushed:,} sent, {r.fulfilments_failed:,} failed")
            click.echo(f"  stock:       {r.stock_set:,} set, {r.stock_in_step:,} already right, "
                       f"{r.stock_conflict_count:,} changed in the store (not overwritten)"
                       + (f", {r.stock_waiting:,} wait for a shipment" if r.stock_waiting else ""))
    for c in r.stock_conflicts[:20]:
        click.echo(f"  conflict: {c.sku} at {c.location}: ours {c.ours}, the store now {c.store} "
                   f"(was {c.expected}); run `backoffice store reconcile {r.connection} --fix` to set ours")
    for e in r.errors[:20]:
        click.echo(f"  error: {e}")
    if r.error_count > 20:
        click.echo(f"  … {r.error_count - 20:,} more errors: `backoffice store log {r.connection}`")
    click.echo(f"  API: {r.calls:,} calls, {r.api_errors:,} errors, {r.mean_ms:.0f} ms mean")


@store_group.command("reconcile")
@click.argument("name", required=False)
@click.option("--fix", is_flag=True, help="Set the store to our stock where they differ.")
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def store_reconcile(obj: Context, name: str | None, fix: bool, as_json: bool) -> None:
    """Compare the store's whole stock with ours, row by row, at the locations we own (nightly)."""
    ops = obj.operations()
    worst = 0
    results = []
    for conn in _names(ops, name):
        r = ops.connectors.reconcile(conn, fix=fix, progress=_progress())
        if sys.stderr.isatty():
            click.echo("", err=True)
        results.append(r)
        worst = max(worst, {"ok": 0, "partial": PARTIAL_EXIT, "failed": 1}.get(r.state, 1))
        if as_json:
            continue
        click.echo(f"Reconciled {r.connection} in {r.seconds:.1f} s: {r.checked:,} stock levels compared, "
                   f"{r.difference_count:,} different" + (f", {r.fixed:,} fixed" if fix else ""))
        for d in r.differences[:50]:
            store = "none" if d.store is None else f"{d.store:,}"
            click.echo(f"  {d.sku:<24} {d.location:<10} ours {d.ours:>7,}  store {store:>7}"
                       + ("  fixed" if d.fixed else ""))
        if r.difference_count > 50:
            click.echo(f"  … {r.difference_count - 50:,} more (--json lists {len(r.differences):,})")
        if r.missing_in_store:
            click.echo(f"  {len(r.missing_in_store):,} linked SKUs have no stock item in the store: "
                       + ", ".join(r.missing_in_store[:10]))
        for e in r.errors[:20]:
            click.echo(f"  error: {e}")
        if r.difference_count and not fix:
            click.echo(f"  Run `backoffice store reconcile {r.connection} --fix` to set the store to ours.")
    if as_json:
        click.echo(json_text([asdict(r) for r in results]))
    if worst:
        sys.exit(worst)


@store_group.command("log")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@db_options
@click.pass_obj
def store_log(obj: Context, name: str, limit: int, as_json: bool) -> None:
    """The sync log of NAME, newest first: what each run sent and received, its errors and API figures."""
    runs = obj.operations().connectors.runs(name, limit=limit)
    if as_json:
        click.echo(json_text([asdict(r) for r in runs]))
        return
    for r in runs:
        s = r.summary
        took = "" if r.finished_at is None else f" {(r.finished_at - r.started_at).total_seconds():.1f} s"
        if r.kind != "sync":
            sent = (f"{s.get('checked', 0):,} compared, {s.get('difference_count', 0):,} different"
                    + (f", {s.get('fixed', 0):,} fixed" if r.direction == "fix" else ""))
        elif r.dry_run:
            sent = (f"would send products {s.get('products_planned', 0):,}, prices {s.get('prices_planned', 0):,}, "
                    f"stock {s.get('stock_planned', 0):,}; orders +{s.get('orders_new', 0):,}")
        else:
            sent = (f"orders +{s.get('orders_new', 0):,}, products "
                    f"{s.get('products_created', 0) + s.get('products_updated', 0) + s.get('products_matched', 0):,}, "
                    f"prices {s.get('prices_pushed', 0):,}, shipments {s.get('fulfilments_pushed', 0):,}, "
                    f"stock {s.get('stock_set', 0):,}")
        click.echo(f"#{r.id:<5} {r.started_at:%Y-%m-%d %H:%M:%S} {r.kind:<9} {r.direction:<5} "
                   f"{'dry run ' if r.dry_run else ''}{r.state:<8}{took}  {sent}; {r.calls:,} calls, "
                   f"{r.errors:,} errors, {r.mean_ms:.0f} ms mean" + (f"  {r.error}" if r.error else ""))


@store_group.command("outbox")
@click.argument("name")
@click.option("--state", "states", multiple=True,
              type=click.Choice(["pending", "sending", "done", "failed", "conflict"]))
@click.option("--retry", is_flag=True, help="Send the failed entries again at the next sync.")
@click.option("--discard", is_flag=True, help="Give up the failed entries.")
@click.option("--limit", type=click.IntRange(1, 5000), default=50, show_default=True)
@db_options
@click.pass_obj
def store_outbox(obj: Context, name: str, states: tuple[str, ...], retry: bool, discard: bool, limit: int) -> None:
    """Pushes to NAME that wait, failed or went (newest first)."""
    ops = obj.operations()
    if retry and discard:
        raise click.UsageError("--retry or --discard, not both")
    if retry:
        click.echo(f"{ops.connectors.retry_outbox(name):,} entries will be sent again.")
        return
    if discard:
        click.echo(f"{ops.connectors.discard_outbox(name):,} entries discarded.")
        return
    for e in ops.connectors.outbox(name, states=list(states) or None, limit=limit):
        click.echo(f"#{e.id:<6} {e.created_at:%Y-%m-%d %H:%M} {e.kind:<9} {e.ref:<22} {e.state:<8} "
                   f"tries {e.attempts}" + (f"  {e.last_error[:120]}" if e.last_error else ""))
