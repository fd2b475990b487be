"""``backoffice content …``: description templates and the SEO and content checks.

``content templates list|show|save|delete`` keeps the store's templates; ``content apply TEMPLATE``
renders one for every matching product, previews it and applies it as one changeset (revertible with
``backoffice changesets revert``); ``content check`` writes the checks of every matching product (one
row each, with its score) as a table, JSON, or an XLSX/CSV report; ``content settings`` shows or sets
the thresholds. See docs/content.md.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click

from backoffice.cli.app import Context, db_options, json_text, main
from backoffice.cli.catalog import build_filter, filter_options
from backoffice.cli.replay import op_id_option

SAMPLE_ROWS = 10


@main.group("content")
def content_group() -> None:
    """Description templates applied in bulk, and SEO and content checks over the catalog."""


def _clip(text: str, width: int = 70) -> str:
    one_line = " ".join(str(text).split())
    return one_line if len(one_line) <= width else one_line[:width - 1] + "…"


# -- templates --------------------------------------------------------------------------------------------
@content_group.group("templates")
def templates_group() -> None:
    """List, show, save and delete description templates."""


@templates_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_options
@click.pass_obj
def templates_list(obj: Context, as_json: bool) -> None:
    """The saved templates: name, the field each writes, its first line."""
    found = obj.operations().content.templates()
    if as_json:
        click.echo(json_text([dataclasses.asdict(t) for t in found]))
        return
    if not found:
        click.echo("No description templates yet (backoffice content templates save NAME --file T.j2).")
        return
    width = max(len(t.name) for t in found)
    for t in found:
        click.echo(f"{t.name:<{width}}  {t.target_field:<15}  {_clip(t.source, 60)}")


@templates_group.command("show")
@click.argument("name")
@db_options
@click.pass_obj
def templates_show(obj: Context, name: str) -> None:
    """Print a template's source (as saved, to edit and save again)."""
    t = obj.operations().content.template(name)
    click.echo(f"# {t.name} → {t.target_field} (version {t.version})", err=True)
    click.echo(t.source)


@templates_group.command("save")
@click.argument("name")
@click.option("--field", "target_field", type=click.Choice(["description", "seo_title", "seo_description"]),
              default="description", show_default=True, help="The product field the template writes.")
@click.option("--file", "source_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The template's source (Jinja2), e.g. T.j2.")
@click.option("--note", default="", help="What the template is for.")
@op_id_option
@db_options
@click.pass_obj
def templates_save(obj: Context, name: str, target_field: str, source_file: Path, note: str, op_id: str | None) -> None:
    """Create or replace the template NAME from a file (it must compile; nothing is rendered)."""
    from backoffice.operations import ValidationError

    try:
        source = source_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{source_file}: not UTF-8 text ({exc.reason})") from None
    t = obj.operations().content.save_template(name, target_field, source, note, op_id=op_id)
    click.echo(f"Saved template {t.name!r} → {t.target_field} (version {t.version}).")


@templates_group.command("delete")
@click.argument("name")
@op_id_option
@db_options
@click.pass_obj
def templates_delete(obj: Context, name: str, op_id: str | None) -> None:
    """Delete the template NAME (descriptions it wrote stay as they are)."""
    obj.operations().content.delete_template(name, op_id=op_id)
    click.echo(f"Deleted template {name.strip()!r}.")


# -- apply ------------------------------------------------------------------------------------------------
@content_group.command("apply")
@click.argument("template")
@filter_options
@click.option("--dry-run", is_flag=True, help="Show the preview; write nothing.")
@click.option("--skip-invalid", is_flag=True,
              help="Apply to the products the template renders, leaving those it cannot as they are.")
@op_id_option
@db_options
@click.pass_obj
def apply_cmd(obj: Context, template: str, filter_json: str | None, vendors: tuple[str, ...],
              statuses: tuple[str, ...], category: str | None, tags: tuple[str, ...], text: str, dry_run: bool,
              skip_invalid: bool, op_id: str | None) -> None:
    """Render TEMPLATE for every matching product (all products without a filter), show the counts and
    the first changes, then apply them as one changeset (revertible with ``backoffice changesets revert``).

    \b
    Examples:
      backoffice content apply "Knitwear" --category "Apparel > Knitwear" --dry-run
      backoffice content apply "Meta" --vendor Norda --skip-invalid

    Exit status: 0 done (or nothing to change), 1 bad input or products the template cannot render
    (nothing written), 3 applied but some products changed meanwhile were left as they are.
    """
    from backoffice.operations import ValidationError
    from backoffice.operations.content import Target

    ops = obj.operations()
    flt = build_filter(ops, filter_json, vendors=vendors, statuses=statuses, category=category, tags=tags, text=text)
    target = Target(filter=flt)
    p = ops.content.preview(template, target)
    click.echo(f"Template {p.template_name!r} → {p.target_field}: {p.considered:,} products, "
               f"{p.affected:,} would change, {p.unchanged:,} unchanged, {p.invalid_count:,} cannot be rendered.")
    for handle, before, after in p.sample[:SAMPLE_ROWS]:
        click.echo(f"  {handle}: {_clip(before, 40) or '(empty)'} → {_clip(after, 60)}")
    for row, field, message in p.invalid[:SAMPLE_ROWS]:
        click.echo(f"backoffice: {row} {field}: {message}", err=True)
    if p.invalid_count > SAMPLE_ROWS:
        click.echo(f"backoffice: … and {p.invalid_count - SAMPLE_ROWS:,} more products that cannot be rendered",
                   err=True)
    if dry_run:
        click.echo("Dry run: nothing was written.")
        return
    if p.invalid_count and not skip_invalid:
        raise ValidationError(f"{p.invalid_count:,} product{'s' if p.invalid_count != 1 else ''} cannot be rendered; "
                              "nothing was written (fix the template, narrow the filter or add --skip-invalid)")
    if not p.affected:
        click.echo("Nothing to change: every product already reads as the template renders it.")
        return
    result = ops.content.apply(template, target, stamp=p.stamp, skip_invalid=skip_invalid,
                               template_version=p.template_version, op_id=op_id)
    if result.changeset_id is None:
        click.echo("Nothing was applied.")
    else:
        click.echo(f"Applied as changeset #{result.changeset_id}: {result.applied_rows:,} "
                   f"product{'s' if result.applied_rows != 1 else ''} changed.")
    for c in result.conflicts:
        click.echo(f"backoffice: conflict: product {c.label} {c.field}: changed since the preview; left as it is",
                   err=True)
    if result.conflicts:
        raise SystemExit(3)


# -- checks -----------------------------------------------------------------------------------------------
@content_group.command("check")
@filter_options
@click.option("--xlsx", "xlsx_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report (one row per product) to this XLSX file.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report (one row per product) to this CSV file.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary and the products as JSON.")
@click.option("--limit", default=20, show_default=True, help="Products listed on screen (worst score first).")
@db_options
@click.pass_obj
def check_cmd(obj: Context, filter_json: str | None, vendors: tuple[str, ...], statuses: tuple[str, ...],
              category: str | None, tags: tuple[str, ...], text: str, xlsx_file: Path | None,
              csv_file: Path | None, as_json: bool, limit: int) -> None:
    """Check titles, SEO texts, descriptions, images, categories and vendors of every matching product
    (all products without a filter): the products failing each check, the score of each product (100
    less the weight of each failing check) and how many need attention."""
    from backoffice.operations import ValidationError

    if xlsx_file and csv_file:
        raise ValidationError("give --xlsx or --csv, not both")
    if not 0 <= limit <= 5000:
        raise ValidationError("--limit: must be from 0 to 5,000")
    ops = obj.operations()
    flt = build_filter(ops, filter_json, vendors=vendors, statuses=statuses, category=category, tags=tags, text=text)
    if xlsx_file or csv_file:
        path = xlsx_file or csv_file
        n = ops.content.export_report(path, "xlsx" if xlsx_file else "csv", flt)
        click.echo(f"Wrote {n:,} product{'s' if n != 1 else ''} to {path}.")
        if not as_json:
            return
    summary = ops.content.check(flt, limit=5000 if as_json else limit)
    if as_json:
        click.echo(json_text(_summary_json(summary)))
        return
    rules = summary.rules
    click.echo(f"{summary.total:,} products checked; {summary.attention_count:,} need attention "
               f"(score below {rules.attention_below}); average score {summary.average_score:g}.")
    for c in summary.checks:
        click.echo(f"  {c.label:<22} {c.failing:>8,}   (-{c.weight})")
    shown = summary.rows[:limit]
    if shown:
        click.echo("Lowest scores:")
        labels = {c.key: c.label for c in summary.checks}
        for r in shown:
            click.echo(f"  {r.score:>3}  {r.handle}: {', '.join(labels[k] for k in r.failing) or 'all checks pass'}")


def _summary_json(summary: Any) -> dict[str, Any]:  # noqa: ANN401
    return {"rules": dataclasses.asdict(summary.rules), "total": summary.total,
            "attention_count": summary.attention_count, "average_score": summary.average_score,
            "checks": [dataclasses.asdict(c) for c in summary.checks],
            "products": [dict(dataclasses.asdict(r), failing=list(r.failing)) for r in summary.rows]}


@content_group.command("settings")
@click.option("--thin-words", type=int, default=None, help="Descriptions with fewer words are thin.")
@click.option("--attention-below", type=int, default=None,
              help="Products scoring below this (0-100) need attention; 100 means any failing check.")
@op_id_option
@db_options
@click.pass_obj
def settings_cmd(obj: Context, thin_words: int | None, attention_below: int | None, op_id: str | None) -> None:
    """Show the checks' thresholds, or set them."""
    ops = obj.operations()
    rules = ops.content.settings()
    if thin_words is not None or attention_below is not None:
        rules = ops.content.save_settings(rules.thin_words if thin_words is None else thin_words,
                                          rules.attention_below if attention_below is None else attention_below,
                                          rules.version, op_id=op_id)
        click.echo("Saved.")
    click.echo(f"Thin description: fewer than {rules.thin_words} words. Needs attention: score below "
               f"{rules.attention_below}.")
