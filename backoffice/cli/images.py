"""The image library: ``backoffice images upload|list|missing-alt|alt|edit|versions|restore``."""

from __future__ import annotations

import sys

import click

from backoffice.cli.app import EXIT_ERROR, Context, db_options, main
from backoffice.cli.replay import REPLAY_NOTE, op_id_option, previous_result


def _operations(obj: Context, image_store: str | None = None):  # type: ignore[no-untyped-def]
    """The operations, their image files in ``--image-store`` or else in the profile's folder."""
    ops = obj.operations()
    _url, profile = obj.target()
    ops.images.use_store(profile=profile.name if profile else "", folder=image_store)
    return ops


def _progress():  # type: ignore[no-untyped-def]
    if not sys.stderr.isatty():
        return None
    last = [-1]

    def report(fraction: float, text: str) -> None:
        pct = int(fraction * 100)
        if pct != last[0]:
            last[0] = pct
            click.echo(f"\r{pct:3d}%  {text[:60]:<60}", err=True, nl=False)
            if fraction >= 1.0:
                click.echo("", err=True)
    return report


@main.group("images")
def images_group() -> None:
    """Product images: bulk upload with matching by SKU or handle, galleries, alt text."""


_store_option = click.option("--image-store", default=None, metavar="FOLDER",
                             help="Image store folder (default: the profile's, BACKOFFICE_IMAGE_STORE, or the "
                                  "user data folder).")


@images_group.command("upload")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--product", "product_handle", default=None, metavar="HANDLE",
              help="Put every file in this product's gallery (a SKU in the name still picks the variant).")
@click.option("--pattern", default="auto", show_default=True, metavar="PATTERN",
              help='How names carry the SKU or handle: "auto", "{sku}_{n}.jpg", "{handle}-{n}", or "re:REGEX" '
                   "with named groups sku/handle/n.")
@click.option("--dry-run", is_flag=True, help="Show the matching review and write nothing.")
@click.option("--format", "web_format", type=click.Choice(["jpeg", "webp"]), default="jpeg", show_default=True,
              help="Format of the web versions and thumbnails.")
@click.option("--max-edge", type=click.IntRange(64, 10000), default=2048, show_default=True,
              help="Longest side of the web version, in pixels.")
@click.option("--quality", type=click.IntRange(1, 100), default=85, show_default=True)
@click.option("--max-size", type=click.FloatRange(min=0.001), default=50, show_default=True, metavar="MB",
              help="Refuse files bigger than this.")
@click.option("--workers", type=click.IntRange(1, 8), default=2, show_default=True,
              help="Processes for the image work.")
@_store_option
@op_id_option
@db_options
@click.pass_obj
def upload(obj: Context, paths: tuple[str, ...], product_handle: str | None, pattern: str, dry_run: bool,
           web_format: str, max_edge: int, quality: int, max_size: float, workers: int, image_store: str | None,
           op_id: str | None) -> None:
    """Add the image files in PATHS (files or folders) to the galleries of the products they name.

    Every file is first matched and listed (matched, ambiguous, unmatched, rejected); ambiguous and
    unmatched files are not uploaded. A file already in that gallery is reported and not added twice.
    Exits with status 1 when any file was not added.
    """
    from backoffice.operations.images import RenditionSettings, describe_size

    settings = RenditionSettings(web_max_edge=max_edge, web_format=web_format, web_quality=quality,
                                 max_bytes=int(max_size * 1024 * 1024))
    ops = _operations(obj, image_store)
    plan = ops.images.plan_upload(list(paths), pattern=pattern, product_handle=product_handle, settings=settings)
    counts = plan.counts()
    click.echo(f"{counts['matched']} matched, {counts['ambiguous']} ambiguous, {counts['unmatched']} unmatched, "
               f"{counts['rejected']} rejected")
    for f in plan.matched:
        click.echo(f"  matched    {f.name} → {f.target.label()}" + (f" (#{f.n})" if f.n is not None else ""))
    for a in plan.ambiguous:
        click.echo(f"  ambiguous  {a.name} → {' | '.join(t.label() for t in a.candidates)}")
    for s in plan.unmatched:
        click.echo(f"  unmatched  {s.name}: {s.reason}")
    for s in plan.rejected:
        click.echo(f"  rejected   {s.name}: {s.reason}")
    not_added = counts["ambiguous"] + counts["unmatched"] + counts["rejected"]
    if dry_run:
        click.echo("Dry run: nothing was written.")
        return
    replayed = previous_result(ops, op_id, "upload_images") is not None
    result = ops.images.upload(plan.matched, settings=settings, progress=_progress(), workers=workers, op_id=op_id)
    for o in result.outcomes:
        if o.status == "added":
            click.echo(f"  added      {o.name} (image {o.image_id}, {describe_size(o.original_bytes)} → "
                       f"{describe_size(o.web_bytes)})")
        else:
            click.echo(f"  {o.status:<10} {o.message}")
    click.echo(f"Added {len(result.added)} image{'s' if len(result.added) != 1 else ''}, "
               f"{len(result.duplicates)} already there, {len(result.failed)} failed; "
               f"web versions save {describe_size(max(0, result.bytes_saved))}"
               + (REPLAY_NOTE if replayed else "") + ".")
    not_added += len(result.failed)
    if not_added and replayed:   # a retry: the first run reported these files (and exited 1); nothing ran now
        click.echo(f"backoffice: note: {not_added} file{'s were' if not_added != 1 else ' was'} not added by the "
                   "first run with this operation id (see the list above)", err=True)
    elif not_added:
        click.echo(f"backoffice: error: {not_added} file{'s were' if not_added != 1 else ' was'} not added "
                   "(see the list above)", err=True)
        click.get_current_context().exit(EXIT_ERROR)


@images_group.command("list")
@click.argument("product")
@db_options
@click.pass_obj
def list_images(obj: Context, product: str) -> None:
    """The gallery of PRODUCT (its handle), main image first."""
    from backoffice.operations.images import describe_size

    ops = obj.operations()
    hit = ops.images.product_by_handle(product)
    gallery = ops.images.gallery(hit.id)
    click.echo(f"{hit.handle}: {len(gallery)} image{'s' if len(gallery) != 1 else ''}")
    for img in gallery:
        alt = img.alt_text or "(no alt text)"
        flag = "main" if img.is_main else f"#{img.position + 1}"
        click.echo(f"  {flag:<5} image {img.id:<6} {img.filename:<32} {img.web_width}x{img.web_height} "
                   f"{describe_size(img.web_bytes):>8}  v{img.current_version}  {alt}")


@images_group.command("missing-alt")
@click.option("--product", "product_handle", default=None, metavar="HANDLE", help="Only this product.")
@click.option("--limit", type=click.IntRange(1), default=1000, show_default=True)
@db_options
@click.pass_obj
def missing_alt(obj: Context, product_handle: str | None, limit: int) -> None:
    """Images without alt text, one a line (handle, image id, place, file name)."""
    ops = obj.operations()
    pid = ops.images.product_by_handle(product_handle).id if product_handle else None
    rows = ops.images.missing_alt_text(product_id=pid, limit=limit)
    for r in rows:
        click.echo(f"{r.handle}\timage {r.image_id}\t#{r.position + 1}\t{r.filename}")
    click.echo(f"{len(rows)} image{'s' if len(rows) != 1 else ''} without alt text", err=True)


@images_group.command("alt")
@click.argument("image_id", type=int)
@click.argument("text")
@op_id_option
@db_options
@click.pass_obj
def set_alt(obj: Context, image_id: int, text: str, op_id: str | None) -> None:
    """Set the alt text of image IMAGE_ID."""
    ops = obj.operations()
    replayed = previous_result(ops, op_id, "set_alt_text") is not None
    current = ops.images.image(image_id)
    ops.images.set_alt_text(image_id, text, expected_version=current.version, op_id=op_id)
    click.echo(f"Alt text of image {image_id} saved" + (REPLAY_NOTE if replayed else "") + ".")


@images_group.command("edit")
@click.argument("image_id", type=int)
@click.option("--rotate", type=click.Choice(["90", "180", "270"]), default=None, help="Turn clockwise by degrees.")
@click.option("--flip", type=click.Choice(["horizontal", "vertical"]), default=None)
@click.option("--crop", "aspect", type=click.Choice(["1:1", "4:5", "16:9"]), default=None,
              help="Crop to the largest centred box of this aspect (after rotating).")
@_store_option
@op_id_option
@db_options
@click.pass_obj
def edit(obj: Context, image_id: int, rotate: str | None, flip: str | None, aspect: str | None,
         image_store: str | None, op_id: str | None) -> None:
    """Rotate, flip and/or crop image IMAGE_ID: a new version, rendered from the original."""
    from backoffice.operations.images import aspect_box

    edits: list[dict] = []
    if rotate:
        edits.append({"op": "rotate", "degrees": int(rotate)})
    if flip:
        edits.append({"op": "flip", "axis": flip})
    ops = _operations(obj, image_store)
    current = ops.images.image(image_id)
    if aspect:
        w, h = current.web_width or 1, current.web_height or 1
        if rotate in ("90", "270"):
            w, h = h, w
        edits.append({"op": "crop", **aspect_box(w, h, aspect), "aspect": aspect})
    if not edits:
        raise click.UsageError("give at least one of --rotate, --flip, --crop")
    replayed = previous_result(ops, op_id, "edit_image") is not None
    change = ops.images.edit(image_id, edits, expected_version=current.version, op_id=op_id)
    click.echo(f"Image {image_id}: version {change.after['current_version']} ({change.after['note']})"
               + (REPLAY_NOTE if replayed else "") + ".")


@images_group.command("versions")
@click.argument("image_id", type=int)
@db_options
@click.pass_obj
def versions(obj: Context, image_id: int) -> None:
    """The versions of image IMAGE_ID, newest first."""
    ops = obj.operations()
    current = ops.images.image(image_id)
    for v in ops.images.versions(image_id):
        mark = "*" if v.number == current.current_version else " "
        click.echo(f"{mark} v{v.number:<3} {v.web_width}x{v.web_height}  {v.created_at:%Y-%m-%d %H:%M}  "
                   f"{v.created_by or '-'}  {v.note}")


@images_group.command("restore")
@click.argument("image_id", type=int)
@click.argument("number", type=int)
@op_id_option
@db_options
@click.pass_obj
def restore(obj: Context, image_id: int, number: int, op_id: str | None) -> None:
    """Make version NUMBER of image IMAGE_ID current again (as a new version)."""
    ops = obj.operations()
    replayed = previous_result(ops, op_id, "restore_image") is not None
    current = ops.images.image(image_id)
    change = ops.images.restore_version(image_id, number, expected_version=current.version, op_id=op_id)
    click.echo(f"Image {image_id}: version {change.after['current_version']} ({change.after['note']})"
               + (REPLAY_NOTE if replayed else "") + ".")
