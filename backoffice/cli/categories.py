"""``backoffice categories suggest`` and ``backoffice categories evaluate``: category and tag suggestions
learnt from the store's own categorised products (the ``categories`` group is catalog_setup's)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from backoffice.cli.app import Context, db_options, json_text
from backoffice.cli.catalog import build_filter, filter_options
from backoffice.cli.catalog_setup import categories
from backoffice.cli.replay import op_id_option

_CONFIDENCE = click.option("--min-confidence", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.6,
                           show_default=True,
                           help="No suggestion below this confidence (0.6: the model is at least 60 % sure).")
_EMBEDDINGS = click.option("--embeddings", is_flag=True,
                           help="Use sentence embeddings (needs the optional extra: pip install 'backoffice[embeddings]').")


def _progress():  # type: ignore[no-untyped-def]
    """A progress line on a terminal's stderr while the model learns; nothing when piped."""
    if not sys.stderr.isatty():
        return None
    last = [-1]

    def report(fraction: float | None, text: str | None) -> None:
        pct = int((fraction or 0.0) * 100)
        if pct != last[0]:
            click.echo(f"\r{pct:3d}%  {(text or '')[:60]:<60}", err=True, nl=False)
            last[0] = pct
            if pct >= 100:
                click.echo("", err=True)
    return report


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


@categories.command("evaluate")
@click.option("--holdout", type=click.FloatRange(0.05, 0.5), default=0.2, show_default=True,
              help="The share of the categorised products held out to score the model on.")
@_CONFIDENCE
@_EMBEDDINGS
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_options
@click.pass_obj
def categories_evaluate(obj: Context, holdout: float, min_confidence: float, embeddings: bool, as_json: bool) -> None:
    """How well category suggestions work on this catalog: the model is trained on part of the categorised
    products and scored on the rest (the same split every time). With --embeddings, TF-IDF and sentence
    embeddings are compared on the same split."""
    results = obj.operations().classifier.evaluate(holdout=holdout, min_confidence=min_confidence,
                                                   embeddings=embeddings, progress=_progress())
    if as_json:
        click.echo(json_text([_plain(e) for e in results]))
        return
    for evaluation in results:
        for line in evaluation.lines():
            click.echo(line)
    if len(results) == 2:
        a, b = results
        click.echo(f"Same split: TF-IDF {a.accuracy:.1%}, sentence embeddings {b.accuracy:.1%}.")


@categories.command("suggest")
@click.option("--uncategorised", is_flag=True,
              help="Only products without a category (the default when no filter is given).")
@click.option("--product-id", "product_ids", type=int, multiple=True, help="Only this product (repeatable).")
@filter_options
@_CONFIDENCE
@_EMBEDDINGS
@click.option("--limit", type=click.IntRange(1, 100_000), default=10_000, show_default=True,
              help="Suggest for at most this many products.")
@click.option("--apply", "apply_all", is_flag=True,
              help="Apply every suggestion shown as one changeset (revertible: `backoffice changesets revert ID`).")
@op_id_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_options
@click.pass_obj
def categories_suggest(obj: Context, uncategorised: bool, product_ids: tuple[int, ...], filter_json: str | None,
                       vendors: tuple[str, ...], statuses: tuple[str, ...], category: str | None,
                       tags: tuple[str, ...], text: str, min_confidence: float, embeddings: bool, limit: int,
                       apply_all: bool, op_id: str | None, as_json: bool) -> None:
    """Suggest a category and tags for products, each with its confidence; nothing below --min-confidence.
    Nothing is written unless --apply."""
    from backoffice.operations.classifier import Accepted, SuggestTarget

    ops = obj.operations()
    filtered = bool(filter_json or vendors or statuses or category or tags or text)
    flt = build_filter(ops, filter_json, vendors=vendors, statuses=statuses, category=category, tags=tags,
                       text=text) if filtered else None
    target = SuggestTarget(product_ids=product_ids, filter=flt, uncategorised=uncategorised)
    run = ops.classifier.suggest(target, min_confidence=min_confidence, embeddings=embeddings, limit=limit,
                                 progress=_progress())
    result = None
    if apply_all and run.suggestions:
        accepted = [Accepted(s.product_id, s.version, s.category_id, tuple(s.tags)) for s in run.suggestions]
        result = ops.classifier.apply(accepted, op_id=op_id)
    if as_json:
        out: dict[str, Any] = _plain(run)
        if result is not None:
            out["applied"] = result.to_dict()
        click.echo(json_text(out))
        return
    method = "sentence embeddings" if run.method == "embeddings" else "TF-IDF"
    click.echo(f"Learnt from {run.trained_on:,} categorised products ({run.categories} categories, {method}, "
               f"{run.seconds:.1f} s).")
    for text_line in run.left_out[:10]:
        click.echo(f"Left out (too few examples): {text_line}")
    if not run.considered:
        click.echo("No products to suggest for" + (" (every product has a category)." if target.is_empty
                                                    or uncategorised else "."))
        return
    if run.suggestions:
        click.echo(f"{'Product':<40} {'Now':<30} {'Suggested':<36} {'Conf.':>5}  Tags to add")
        for s in run.suggestions:
            suggested = s.category if s.category_id is not None else "(keep)"
            new_tags = ", ".join(f"{t} ({_percent(p)})" for t, p in zip(s.tags, s.tag_confidences, strict=True))
            click.echo(f"{s.handle[:40]:<40} {(s.current_category or '—')[:30]:<30} {suggested[:36]:<36} "
                       f"{_percent(s.confidence) if s.category_id is not None else '':>5}  {new_tags}")
    click.echo(f"{run.considered:,} product(s) considered: {len(run.suggestions):,} with a suggestion, "
               f"{run.refused:,} refused below {min_confidence:.0%}, {run.unchanged:,} already as suggested.")
    for s in run.refused_sample[:5]:
        click.echo(f"  refused: {s.handle}: {s.reason}")
    if result is not None:
        click.echo(f"Applied as changeset {result.changeset_id}: {result.applied_rows:,} product(s) changed"
                   + (f", {len(result.conflicts):,} changed by someone else since and left as they are"
                      if result.conflicts else "") + ".")
        for c in result.conflicts[:20]:
            click.echo(f"  conflict: {c.label}: {c.field} is now {c.theirs!r}")
    elif apply_all:
        click.echo("Nothing to apply.")


def _plain(value: Any) -> Any:  # noqa: ANN401
    """A dataclass of the contract as plain JSON values."""
    import dataclasses

    return json.loads(json.dumps(dataclasses.asdict(value), default=str))
