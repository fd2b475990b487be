"""Catalog files: ``backoffice import products FILE`` and ``backoffice export products FILE``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from backoffice.cli.app import Context, db_options, main


def _progress():  # type: ignore[no-untyped-def]
    """A progress line on a terminal's stderr; nothing when piped (scripts, schedulers, tests)."""
    if not sys.stderr.isatty():
        return None
    last = [-1]

    def report(fraction: float, text: str) -> None:
        pct = int(fraction * 100)
        if pct != last[0]:
            click.echo(f"\r{pct:3d}%  {text[:60]:<60}", err=True, nl=False)
            last[0] = pct
            if fraction >= 1.0:
                click.echo("", err=True)
    return report


# -- import ---------------------------------------------------------------------------------------------
@main.group("import")
def import_group() -> None:
    """Import catalog files (CSV, XLSX, Shopify CSV)."""


@import_group.command("products")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and show what would change; write nothing.")
@click.option("--format", "fmt", type=click.Choice(["auto", "csv", "xlsx", "shopify"]), default="auto",
              show_default=True, help="File format; auto looks at the content and the header row.")
@click.option("--error-report", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="OUT.xlsx",
              help="On problems, save the rows with an errors column and the bad cells highlighted.")
@click.option("--max-size", type=click.FloatRange(min=0.001), default=None, metavar="MB",
              help="Refuse files bigger than this (default 100, or BACKOFFICE_IMPORT_MAX_MB).")
@click.option("--map", "mappings", multiple=True, metavar='"HEADER=COLUMN"',
              help='Read the file\'s column HEADER as the native COLUMN, e.g. --map "Item code=sku" '
                   '--map "Retail=price"; "HEADER=" ignores that column (repeatable).')
@click.option("--on-conflict", type=click.Choice(["refuse", "skip", "overwrite"]), default="refuse", show_default=True,
              help="Rows someone changed since the file was exported (older version column, or changed after "
                   "--changed-since) whose cells differ from the store: refuse the import, skip those rows, or "
                   "overwrite them with the file's values.")
@click.option("--changed-since", default=None, metavar="ISO-TIME",
              help="For files without a version column: rows the store changed after this time "
                   "(e.g. 2026-03-01T09:30, UTC unless an offset is given) are treated as stale.")
@click.option("--op-id", default=None, help="Operation id: a retried import with the same id is applied once "
                                             "(the retry reports the first result and writes nothing).")
@db_options
@click.pass_obj
def import_products(obj: Context, file: Path, dry_run: bool, fmt: str, error_report: Path | None,
                    max_size: float | None, mappings: tuple[str, ...], on_conflict: str, changed_since: str | None,
                    op_id: str | None) -> None:
    """Create and update products and variants from FILE, matched by handle and SKU.

    All or nothing: if any row is bad, nothing is written and the first problems are shown (row as
    numbered in the file, column, reason). A successful import is one changeset, revertible later.
    Rows changed by someone else since the export (their version column is older than the store's)
    are conflicts: listed in the dry run, and refused (exit status 3) unless --on-conflict says skip or
    overwrite. Cells equal to the store's value never count as changes.
    """
    from backoffice.operations.importexport import ImportConflicts, ImportRejected, parse_map_options

    since = _parse_time(changed_since) if changed_since else None
    progress = _progress()
    mapping = parse_map_options(mappings) if mappings else None
    max_bytes = int(max_size * 1024 * 1024) if max_size else None
    files = obj.operations().importexport
    try:
        if dry_run:
            report = files.check(file, fmt, mapping=mapping, on_conflict=on_conflict, changed_since=since,
                                 max_bytes=max_bytes, progress=progress)
            if report.problems:
                if error_report is not None:
                    files.write_error_report(file, report, error_report, fmt, mapping=mapping, max_bytes=max_bytes)
                raise ImportRejected(report, file.name)
        else:
            result = files.apply(file, fmt, mapping=mapping, on_conflict=on_conflict, changed_since=since,
                                 max_bytes=max_bytes, op_id=op_id, error_report=error_report, progress=progress)
    except ImportConflicts as exc:
        _echo_conflicts(exc.report)
        click.echo(f"backoffice: error: {exc}", err=True)
        raise SystemExit(3) from None
    except ImportRejected as exc:
        if error_report is not None:
            exc.args = (f"{exc.args[0]} (annotated rows saved to {error_report})",)
        raise
    for note in report.notes if dry_run else result.notes:
        click.echo(f"backoffice: note: {note}", err=True)
    if dry_run:
        _echo_conflicts(report)
        click.echo(f"Dry run of {file.name}: would make {report.counts()}; nothing was written.")
        if report.conflict_rows and on_conflict == "refuse":
            click.echo(f"backoffice: error: {report.conflict_rows:,} rows changed by someone else since the file was "
                       "exported; the import would be refused (--on-conflict skip|overwrite)", err=True)
            raise SystemExit(3)
    elif result.replayed:
        where = f"changeset #{result.changeset_id}" if result.changeset_id is not None else "no changes"
        click.echo(f"Already imported with operation id {op_id}: {_counts(result)} ({where}); nothing written now.")
    elif result.changeset_id is None:
        skipped = (f"; {result.conflict_rows:,} conflicting row{'s' if result.conflict_rows != 1 else ''} skipped"
                   if result.conflict_rows else "")
        click.echo(f"Imported {file.name}: nothing to change ({result.unchanged_variants:,} rows already as in the "
                   f"file{skipped}).")
    else:
        click.echo(f"Imported {file.name}: {_counts(result)} (changeset #{result.changeset_id}).")


def _parse_time(text: str):  # type: ignore[no-untyped-def]
    import datetime as dt

    from backoffice.operations import ValidationError

    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValidationError(f"--changed-since: {text!r} is not a time such as 2026-03-01T09:30") from exc
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.timezone.utc)


def _echo_conflicts(report: Any, shown: int = 50) -> None:
    """Each conflicting cell on a line of stderr: row, column, the file's and the store's value, who and when."""
    for c in report.conflicts[:shown]:
        click.echo(f"backoffice: conflict: {c.label_text()}", err=True)
    if report.conflict_count > shown:
        click.echo(f"backoffice: conflict: … and {report.conflict_count - shown:,} more", err=True)


def _counts(result: Any) -> str:
    def n(count: int, what: str) -> str:
        return f"{count:,} {what}{'s' if count != 1 else ''}"

    parts = [n(result.new_products, "new product"), n(result.new_variants, "new variant"),
             n(result.updated_products, "updated product"), n(result.updated_variants, "updated variant"),
             f"{result.unchanged_variants:,} unchanged"]
    if getattr(result, "conflict_rows", 0):
        what = "overwritten" if result.on_conflict == "overwrite" else "skipped"
        parts.append(f"{n(result.conflict_rows, 'conflicting row')} {what}")
    return ", ".join(parts)


# -- export ---------------------------------------------------------------------------------------------
@main.group("export")
def export_group() -> None:
    """Export catalog files (CSV, XLSX, Shopify CSV)."""


FILTER_OPTIONS = (
    click.option("--filter", "filter_json", default=None, metavar="JSON",
                 help='A grid filter as JSON, e.g. \'{"vendors": ["Norda"], "price_min": "10"}\'.'),
    click.option("--vendor", "vendors", multiple=True, help="Only this vendor (repeatable)."),
    click.option("--status", "statuses", multiple=True, type=click.Choice(["draft", "active", "archived"]),
                 help="Only products with this status (repeatable)."),
    click.option("--category", default=None, metavar="PATH",
                 help='Only this category and those below it: its path ("Apparel > Shirts") or id.'),
    click.option("--tag", "tags", multiple=True, help="Only products with this tag (repeatable)."),
    click.option("--text", default="", help="Title, SKU or barcode contains this."),
)


def filter_options(f: Any) -> Any:
    """The options that choose rows as the grid's filter does (``export products``, ``products bulk``):
    they arrive as filter_json, vendors, statuses, category, tags and text (see :func:`build_filter`)."""
    for option in reversed(FILTER_OPTIONS):
        f = option(f)
    return f


@export_group.command("products")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "shopify"]), default=None,
              help="File format (default: xlsx for .xlsx files, else csv).")
@filter_options
@db_options
@click.pass_obj
def export_products_cmd(obj: Context, file: Path, fmt: str | None, filter_json: str | None, vendors: tuple[str, ...],
                        statuses: tuple[str, ...], category: str | None, tags: tuple[str, ...], text: str) -> None:
    """Write the matching variants to FILE, one row per variant (the import's own format)."""
    ops = obj.operations()
    flt = build_filter(ops, filter_json, vendors=vendors, statuses=statuses, category=category, tags=tags,
                       text=text)
    fmt = fmt or ("xlsx" if file.suffix.lower() == ".xlsx" else "csv")
    n = ops.importexport.export(file, fmt, flt, progress=_progress())
    click.echo(f"Exported {n:,} row{'s' if n != 1 else ''} to {file} ({fmt}).")


def build_filter(ops: Any, filter_json: str | None, *, vendors: tuple[str, ...] = (),
                 statuses: tuple[str, ...] = (), category: str | None = None, tags: tuple[str, ...] = (),
                 text: str = ""):  # type: ignore[no-untyped-def]
    """A VariantFilter from --filter JSON plus the simple options (which win where both are given)."""
    from backoffice.operations import ValidationError
    from backoffice.operations.importexport import VariantFilter

    data: dict[str, Any] = {}
    if filter_json:
        try:
            data = json.loads(filter_json)
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            VariantFilter.from_dict(data)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise ValidationError(f"--filter: not a valid filter ({exc}); expected a JSON object such as "
                                  '{"vendors": ["Norda"]}') from exc
    if vendors:
        data["vendors"] = list(vendors)
    if statuses:
        data["statuses"] = list(statuses)
    if tags:
        data["tags"] = list(tags)
    if text:
        data["text"] = text
    if category:
        data["category_id"] = category_id(ops, category)
    return VariantFilter.from_dict(data)


def category_id(ops: Any, text: str) -> int:
    """The id of the category ``text`` names: its id, or its path ("Apparel > Shirts", any case)."""
    from backoffice.operations import ValidationError
    from backoffice.operations.importexport import category_key

    paths = ops.importexport.category_paths()
    if text.strip().isdigit() and int(text) in paths:
        return int(text)
    wanted = category_key(text)
    for cid, path in paths.items():
        if category_key(path) == wanted:
            return cid
    raise ValidationError(f"--category: unknown category {text!r} (give its full path, such as \"Apparel > Shirts\", "
                          "or its id)")


# -- changesets -----------------------------------------------------------------------------------------
@main.group("changesets")
def changesets_group() -> None:
    """Applied bulk edits and imports: list them, see their rows, revert one."""


@changesets_group.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per changeset.")
@db_options
@click.pass_obj
def changesets_list(obj: Context, limit: int, as_json: bool) -> None:
    """Changesets, newest first: who, when, what, how many rows, and what reverted what."""
    rows = obj.operations().changesets.list(limit=limit)
    if as_json:
        for r in rows:
            click.echo(json.dumps({"id": r.id, "created_at": r.created_at.isoformat(), "username": r.username,
                                   "kind": r.kind, "description": r.description, "row_count": r.row_count,
                                   "reverts_id": r.reverts_id, "reverted_by": r.reverted_by}))
        return
    if not rows:
        click.echo("No changesets yet.")
        return
    for r in rows:
        notes = []
        if r.reverts_id:
            notes.append(f"reverts #{r.reverts_id}")
        if r.reverted_by:
            notes.append("reverted by " + ", ".join(f"#{i}" for i in r.reverted_by))
        click.echo(f"#{r.id:<6} {r.created_at:%Y-%m-%d %H:%M}  {r.username:<12} {r.kind:<7} {r.row_count:>8,} rows  "
                   f"{r.description}" + (f"  ({'; '.join(notes)})" if notes else ""))


@changesets_group.command("show")
@click.argument("changeset_id", type=int)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many rows.")
@db_options
@click.pass_obj
def changesets_show(obj: Context, changeset_id: int, limit: int) -> None:
    """The rows of changeset CHANGESET_ID with each field's value before and after."""
    ops = obj.operations()
    info = ops.changesets.get(changeset_id)
    click.echo(f"#{info.id} {info.kind} by {info.username} at {info.created_at:%Y-%m-%d %H:%M}: {info.description} "
               f"({info.row_count:,} rows)")
    for e in ops.changesets.entries(changeset_id, limit=limit):
        fields = sorted(set(e["before"]) | set(e["after"]))
        diff = ", ".join(f"{f}: {e['before'].get(f)!s} → {e['after'].get(f)!s}" for f in fields)
        click.echo(f"  {e['entity']} {e['entity_id']}: {diff}")
    if info.row_count > limit:
        click.echo(f"  … and {info.row_count - limit:,} more rows (--limit)")


@changesets_group.command("revert")
@click.argument("changeset_id", type=int)
@click.option("--op-id", default=None, help="Operation id: a retried revert with the same id is applied once.")
@db_options
@click.pass_obj
def changesets_revert(obj: Context, changeset_id: int, op_id: str | None) -> None:
    """Restore the values changeset CHANGESET_ID replaced, as a new changeset.

    Rows someone changed since are not overwritten: they are listed as conflicts (exit status 3) and
    every other row is restored.
    """
    from backoffice.cli.replay import REPLAY_NOTE

    ops = obj.operations()
    done = ops.changesets.for_operation(op_id)
    if done is not None:   # a retry: the revert the first run made (its conflicts were reported then)
        click.echo(f"Reverted #{changeset_id} as changeset #{done.id}: {done.row_count:,} rows restored{REPLAY_NOTE}.")
        return
    result = ops.changesets.revert(changeset_id, op_id=op_id)
    if result.changeset_id is None:
        click.echo(f"Nothing to revert in #{changeset_id}: every row already holds its earlier value.")
    else:
        click.echo(f"Reverted #{changeset_id} as changeset #{result.changeset_id}: {result.applied_rows:,} rows restored.")
    for c in result.conflicts:
        click.echo(f"backoffice: conflict: {c.entity} {c.label} {c.field}: changed since to {c.theirs!s} "
                   f"(the changeset had set {c.original!s}); left as it is", err=True)
    if result.conflicts:
        raise SystemExit(3)
