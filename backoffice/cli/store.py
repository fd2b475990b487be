"""Store-wide commands: the demo generator and offscreen screenshots."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click

from backoffice.cli.app import Context, db_options, main


# -- demo -----------------------------------------------------------------------------------------------
@main.command()
@click.option("--products", type=click.IntRange(min=1), default=2000, show_default=True, help="Number of products.")
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same store.")
@click.option("--anchor", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Last day of the sales history (default: today).")
@click.option("--photos/--no-photos", default=True, show_default=True,
              help="Give each product a photo per colour, in the profile's image store.")
@click.option("--image-store", default=None, metavar="FOLDER", help="Image store folder (default: the profile's).")
@db_options
@click.pass_obj
def demo(obj: Context, products: int, seed: int, anchor: dt.datetime | None, photos: bool,
         image_store: str | None) -> None:
    """Fill an empty database with a realistic demo store (about 10 variants per product, two years of
    sales posted through the stock ledger, a photo per product and colour)."""
    ops = obj.operations(create_schema=True)
    last = [-1]

    def show_progress(fraction: float | None, text: str | None) -> None:
        if fraction is None:
            return
        pct = int(fraction * 100)
        if pct != last[0] and sys.stderr.isatty():
            click.echo(f"\r{pct:3d}%  {text or '':<50}", err=True, nl=False)
        last[0] = pct

    summary = ops.admin.generate_demo(products, seed=seed, anchor=anchor.date() if anchor else None, photos=photos,
                                      profile=obj.profile_name, image_folder=image_store, progress=show_progress)
    if sys.stderr.isatty():
        click.echo("", err=True)
    counts = summary.to_dict()
    seconds = counts.pop("seconds")
    click.echo(f"Demo store written to {ops.url} in {seconds:.1f} s:")
    for name, value in counts.items():
        click.echo(f"  {name.replace('_', ' '):<14}{value:>12,}")


# -- screenshot -----------------------------------------------------------------------------------------
@main.command()
@click.option("--view", "view", required=True, metavar="NAME", help="Which view (shell, audit, products, …).")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--width", type=click.IntRange(320, 7680), default=1280, show_default=True)
@click.option("--height", type=click.IntRange(240, 4320), default=800, show_default=True)
@db_options
@click.pass_obj
def screenshot(obj: Context, view: str, file: Path, width: int, height: int) -> None:
    """Render a view offscreen, after its data has loaded, to a PNG file."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from backoffice.ui.screenshot import VIEW_NAMES, render_view_to_file

    if view not in VIEW_NAMES:
        raise click.BadParameter(f"unknown view {view!r}; choose from {', '.join(VIEW_NAMES)}", param_hint="--view")
    render_view_to_file(obj.operations(), view, file, width=width, height=height, profile_name=obj.profile_name)
    click.echo(f"{file} ({width}x{height})")
