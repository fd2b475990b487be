"""The image library on SQLite and PostgreSQL: ingest and optimisation, dedupe by hash, bulk matching,
bad input per file, gallery order, alt text, variants, edit versions, and the process pool with cancel."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from image_samples import (
    BLUE,
    RED,
    alpha_png,
    bomb_png,
    cmyk_jpeg,
    halves_jpeg,
    noisy_jpeg,
    text_as_jpeg,
    truncated_jpeg,
)
from backoffice.models import AuditEntry, ImageVersion, ProductImage, ProductImageVariant
from backoffice.services import catalog, images
from backoffice.services.base import ConflictError, NotFound, ValidationError
from backoffice.services.image_matching import FilenamePattern, PlannedFile, Target, plan_upload
from backoffice.services.image_processing import RenditionSettings, aspect_box
from backoffice.services.image_store import ImageStore, sha256_bytes


@pytest.fixture
def shop(db, actor):  # type: ignore[no-untyped-def]
    catalog.create_attribute(db, actor, code="color", name="Colour", values=["Red", "Blue"])
    catalog.create_attribute(db, actor, code="size", name="Size", values=["S", "M"])
    tee = catalog.create_product(db, actor, values={"handle": "linen-tee", "title": "Linen Tee"}, variants=[
        {"sku": f"LT-{c[0]}-{s}", "price": "25.00", "options": {"color": c, "size": s}}
        for c in ("Red", "Blue") for s in ("S", "M")])
    mug = catalog.create_product(db, actor, values={"handle": "stone-mug", "title": "Stone Mug"},
                                 variants=[{"sku": "MUG-1", "price": "12.00"}, {"sku": "mug-1", "price": "12.00"}])
    return {"tee": tee.entity_id, "mug": mug.entity_id,
            "tee_variants": {c.after["sku"]: c.entity_id for c in tee.children}}


@pytest.fixture
def image_store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "store")


def planned(path: Path, product_id: int, handle: str = "linen-tee", variant_id: int | None = None, n=None) -> PlannedFile:
    return PlannedFile(str(path), path.name, Target(product_id, handle, handle, variant_id), n)


def store_files(store: ImageStore) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.is_file() and not p.name.startswith(".")]


def open_web(store: ImageStore, image: images.GalleryImage) -> Image.Image:
    im = Image.open(io.BytesIO(store.read_bytes(image.web_hash)))
    im.load()
    return im


# -- optimisation ----------------------------------------------------------------------------------------
def test_ingest_keeps_the_original_and_makes_oriented_stripped_web_versions(db, actor, shop, image_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    photo = halves_jpeg(tmp_path / "linen-tee.jpg", (3000, 2000), orientation=6)
    result = images.ingest(db, actor, [planned(photo, shop["tee"])], store=image_store)
    assert [o.status for o in result.outcomes] == ["added"]
    [img] = images.list_gallery(db, shop["tee"])
    # The original is kept byte for byte under its hash.
    assert image_store.read_bytes(img.web_hash) != photo.read_bytes()
    assert sha256_bytes(photo.read_bytes()) == result.changes[0].after["content_hash"]
    assert image_store.has(result.changes[0].after["content_hash"])
    assert (img.width, img.height) == (2000, 3000)                  # as displayed: orientation 6 turns it
    web = open_web(image_store, img)
    assert web.format == "JPEG" and web.mode == "RGB"
    assert web.size == (1365, 2048) == (img.web_width, img.web_height)
    assert not web.getexif() and "icc_profile" not in web.info and "exif" not in web.info
    # Orientation applied: the stored left (red) half is now the top.
    assert _near(web.getpixel((680, 100)), RED) and _near(web.getpixel((680, 1950)), BLUE)
    thumb = Image.open(io.BytesIO(image_store.read_bytes(img.thumb_hash)))
    assert max(thumb.size) == 320 and thumb.size == (213, 320)
    assert result.bytes_saved == img.original_bytes - img.web_bytes > 0
    assert img.original_format == "JPEG" and img.current_version == 1 and img.is_main
    [v1] = images.list_versions(db, img.id)
    assert (v1.number, v1.edits, v1.web_hash) == (1, [], img.web_hash)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "product_image")) == 1


def _near(pixel, colour, tolerance: int = 40) -> bool:  # type: ignore[no-untyped-def]
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour))


def test_alpha_png_and_cmyk_become_rgb_and_webp_keeps_alpha(db, actor, shop, image_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    png = alpha_png(tmp_path / "a.png")
    cmyk = cmyk_jpeg(tmp_path / "c.jpg")
    result = images.ingest(db, actor, [planned(png, shop["tee"]), planned(cmyk, shop["tee"])], store=image_store)
    assert [o.status for o in result.outcomes] == ["added", "added"]
    by_name = {i.filename: i for i in images.list_gallery(db, shop["tee"])}
    web_png = open_web(image_store, by_name["a.png"])
    assert web_png.mode == "RGB" and _near(web_png.getpixel((10, 10)), (255, 255, 255), 5)   # flattened on white
    assert _near(web_png.getpixel((290, 10)), (0, 160, 0))
    web_cmyk = open_web(image_store, by_name["c.jpg"])
    assert web_cmyk.mode == "RGB" and _near(web_cmyk.getpixel((5, 5)), (255, 0, 0), 60)
    assert by_name["c.jpg"].original_format == "JPEG"

    webp = RenditionSettings(web_format="webp", web_max_edge=100)
    result = images.ingest(db, actor, [planned(alpha_png(tmp_path / "b.png", (400, 100)), shop["mug"], "stone-mug")],
                           store=image_store, settings=webp)
    [img] = images.list_gallery(db, shop["mug"])
    web = open_web(image_store, img)
    assert (web.format, web.mode, web.size, img.web_format) == ("WEBP", "RGBA", (100, 25), "webp")


# -- dedupe ------------------------------------------------------------------------------------------------
def test_same_file_is_stored_once_and_never_twice_in_a_gallery(db, actor, shop, image_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    photo = noisy_jpeg(tmp_path / "one.jpg", (500, 400))
    copy = tmp_path / "copy-of-one.jpg"
    copy.write_bytes(photo.read_bytes())
    first = images.ingest(db, actor, [planned(photo, shop["tee"]), planned(copy, shop["tee"])], store=image_store)
    assert [o.status for o in first.outcomes] == ["duplicate", "added"]     # in gallery order: by name
    assert "already in the gallery of linen-tee" in first.outcomes[0].message
    assert first.outcomes[0].image_id == first.outcomes[1].image_id
    again = images.ingest(db, actor, [planned(photo, shop["tee"])], store=image_store)
    assert again.outcomes[0].status == "duplicate" and again.outcomes[0].image_id == first.outcomes[1].image_id
    elsewhere = images.ingest(db, actor, [planned(copy, shop["mug"], "stone-mug")], store=image_store)
    assert elsewhere.outcomes[0].status == "added"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(ProductImage)) == 2
    assert len(store_files(image_store)) == 3          # one original, one web version, one thumbnail


# -- bad input ---------------------------------------------------------------------------------------------
def test_bad_files_get_a_reason_each_and_the_rest_is_ingested(db, actor, shop, image_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "drop"
    folder.mkdir()
    good = noisy_jpeg(folder / "linen-tee.jpg", (800, 600))
    noisy_jpeg(folder / "LT-R-S.jpg", (640, 480), seed=3)
    text_as_jpeg(folder / "stone-mug.jpg")
    truncated_jpeg(folder / "linen-tee_3.jpg")
    bomb_png(folder / "linen-tee_4.png")
    bomb_png(folder / "linen-tee_5.png", 10_000, 10_000)        # under Pillow's own error, over the limit
    (folder / "huge.jpg").write_bytes(b"\xff\xd8" + b"\0" * 3000)
    os.symlink(good, folder / "linen-tee_6.jpg")
    (folder / "readme.txt").write_text("hello")
    outside = tmp_path / "outside.jpg"
    noisy_jpeg(outside, (100, 100))
    dotted = str(folder / ".." / "outside.jpg")
    settings = RenditionSettings(max_bytes=2500_000)
    plan = plan_upload(db, [folder, dotted], settings=settings)
    rejected = {s.name: s.reason for s in plan.rejected}
    assert "symbolic link" in rejected["linen-tee_6.jpg"]
    assert "“..”" in rejected["outside.jpg"]
    assert "not an image file name" in rejected["readme.txt"]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(ProductImage)) == 0     # the review writes nothing
    small = RenditionSettings(max_bytes=2000)
    assert "over the limit" in {s.name: s.reason for s in plan_upload(db, [folder / "huge.jpg"], settings=small).rejected}["huge.jpg"]

    result = images.ingest(db, actor, plan.matched, store=image_store, settings=settings)
    by_name = {o.name: o for o in result.outcomes}
    assert by_name["linen-tee.jpg"].status == by_name["LT-R-S.jpg"].status == "added"
    assert "is not an image" in by_name["stone-mug.jpg"].message
    assert "truncated" in by_name["linen-tee_3.jpg"].message
    assert "decompression bomb" in by_name["linen-tee_4.png"].message
    assert "decompression bomb" in by_name["linen-tee_5.png"].message and "100,000,000 pixels" in by_name["linen-tee_5.png"].message
    assert {o.status for o in result.failed} == {"failed"} and len(result.failed) == 4
    gallery = images.list_gallery(db, shop["tee"])
    assert [i.filename for i in gallery] == ["linen-tee.jpg", "LT-R-S.jpg"]
    assert gallery[1].variant_ids == (shop["tee_variants"]["LT-R-S"],)


def test_a_file_over_the_size_limit_is_refused_by_the_worker_too(db, actor, shop, image_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    photo = noisy_jpeg(tmp_path / "big.jpg", (900, 900))
    result = images.ingest(db, actor, [planned(photo, shop["tee"])], store=image_store,
                           settings=RenditionSettings(max_bytes=1000))
    assert result.outcomes[0].status == "failed" and "larger than the limit" in result.outcomes[0].message


# -- matching ------------------------------------------------------------------------------------------------
def test_bulk_review_matches_by_sku_and_handle(db, actor, shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    names = ["linen-tee.jpg", "linen-tee_2.jpg", "LT-B-M.jpg", "lt-b-s-3.png", "Mug-1.jpg", "MUG-1.jpg", "nobody.jpg"]
    for i, name in enumerate(names):
        noisy_jpeg(tmp_path / name, (50, 50), seed=i)
    plan = plan_upload(db, [tmp_path / n for n in names])
    matched = {f.name: (f.target.label(), f.n, f.matched_by) for f in plan.matched}
    assert matched == {
        "linen-tee.jpg": ("linen-tee", None, "handle"),
        "linen-tee_2.jpg": ("linen-tee", 2, "handle"),
        "LT-B-M.jpg": ("linen-tee · LT-B-M", None, "sku"),
        "lt-b-s-3.png": ("linen-tee · LT-B-S", 3, "sku"),          # case differs, one SKU fits
        "MUG-1.jpg": ("stone-mug · MUG-1", None, "sku"),            # exact case wins
    }
    [ambiguous] = plan.ambiguous
    assert ambiguous.name == "Mug-1.jpg" and [t.sku for t in ambiguous.candidates] == ["MUG-1", "mug-1"]
    assert [s.name for s in plan.unmatched] == ["nobody.jpg"]
    plan.resolve(ambiguous.path, ambiguous.candidates[1])
    assert plan.counts() == {"matched": 6, "ambiguous": 0, "unmatched": 1, "rejected": 0}


def test_patterns_and_a_fixed_product(db, actor, shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name in ("LT-R-M_1.jpg", "LT-R-M_2.JPG", "linen-tee.jpg", "shot 7.jpg"):
        noisy_jpeg(tmp_path / name, (40, 40))
    plan = plan_upload(db, [tmp_path], pattern="{sku}_{n}.jpg")
    assert sorted((f.name, f.target.sku, f.n) for f in plan.matched) == [("LT-R-M_1.jpg", "LT-R-M", 1),
                                                                          ("LT-R-M_2.JPG", "LT-R-M", 2)]
    assert {s.name for s in plan.unmatched} == {"linen-tee.jpg", "shot 7.jpg"}
    regex = plan_upload(db, [tmp_path], pattern=r"re:^(?P<handle>[a-z-]+)$")
    assert [f.name for f in regex.matched] == ["linen-tee.jpg"]
    fixed = plan_upload(db, [tmp_path], product_handle="linen-tee")
    assert {f.name: f.target.sku for f in fixed.matched} == {"LT-R-M_1.jpg": "LT-R-M", "LT-R-M_2.JPG": "LT-R-M",
                                                             "linen-tee.jpg": None, "shot 7.jpg": None}
    assert FilenamePattern("{handle}-{n}").keys("linen-tee-4.webp") == [("handle", "linen-tee", 4)]
    with pytest.raises(ValidationError, match="needs a"):
        FilenamePattern("{n}.jpg")
    with pytest.raises(ValidationError, match="not a valid pattern"):
        FilenamePattern("re:(?P<sku>")
    with pytest.raises(NotFound):
        plan_upload(db, [tmp_path], product_handle="no-such-product")


# -- gallery ---------------------------------------------------------------------------------------------
@pytest.fixture
def gallery(db, actor, shop, image_store, tmp_path):  # type: ignore[no-untyped-def]
    files = [planned(noisy_jpeg(tmp_path / f"g{i}.jpg", (300, 200), seed=i), shop["tee"], n=i) for i in range(3)]
    images.ingest(db, actor, files, store=image_store)
    return images.list_gallery(db, shop["tee"])


def test_reorder_main_image_alt_text_and_conflicts(db, actor, shop, gallery) -> None:  # type: ignore[no-untyped-def]
    a, b, c = gallery
    assert [i.position for i in gallery] == [0, 1, 2] and a.is_main
    images.reorder_images(db, actor, shop["tee"], [c.id, a.id, b.id],
                          expected_versions={i.id: i.version for i in gallery})
    assert [i.id for i in images.list_gallery(db, shop["tee"])] == [c.id, a.id, b.id]
    with pytest.raises(ConflictError):
        images.reorder_images(db, actor, shop["tee"], [a.id, b.id, c.id], expected_versions={a.id: a.version})
    with pytest.raises(ValidationError, match="gallery changed"):
        images.reorder_images(db, actor, shop["tee"], [a.id, b.id], expected_versions={})
    fresh = {i.id: i for i in images.list_gallery(db, shop["tee"])}
    images.set_main_image(db, actor, b.id, expected_version=fresh[b.id].version)
    assert [i.id for i in images.list_gallery(db, shop["tee"])] == [b.id, c.id, a.id]

    assert {m.image_id for m in images.missing_alt_text(db)} == {a.id, b.id, c.id}
    current = images.get_image(db, a.id)
    change = images.set_alt_text(db, actor, a.id, "  Linen tee,\n front  ", expected_version=current.version)
    assert change.after == {"alt_text": "Linen tee, front"}
    assert {m.image_id for m in images.missing_alt_text(db, product_id=shop["tee"])} == {b.id, c.id}
    with pytest.raises(ConflictError):
        images.set_alt_text(db, actor, a.id, "again", expected_version=current.version)
    with pytest.raises(ValidationError):
        images.set_alt_text(db, actor, a.id, "x" * 501, expected_version=change.version)
    [hit] = images.search_products(db, "linen")
    assert (hit.handle, hit.images, hit.missing_alt) == ("linen-tee", 3, 2)
    assert images.search_products(db, "LT-B-M")[0].id == shop["tee"]

    removed = images.delete_image(db, actor, b.id, expected_version=images.get_image(db, b.id).version)
    assert removed.action == "delete"
    assert [(i.id, i.position) for i in images.list_gallery(db, shop["tee"])] == [(c.id, 0), (a.id, 1)]


def test_assign_to_variants_explicitly_and_by_option_value(db, actor, shop, gallery) -> None:  # type: ignore[no-untyped-def]
    img = gallery[0]
    v = shop["tee_variants"]
    change = images.assign_by_option(db, actor, img.id, "color", "Red", expected_version=img.version)
    assert change.after["variant_ids"] == sorted([v["LT-R-S"], v["LT-R-M"]])
    now = images.get_image(db, img.id)
    assert now.variant_ids == tuple(sorted([v["LT-R-S"], v["LT-R-M"]])) and now.version > img.version
    images.assign_by_option(db, actor, img.id, "size", "S", expected_version=now.version, replace=False)
    assert set(images.get_image(db, img.id).variant_ids) == {v["LT-R-S"], v["LT-R-M"], v["LT-B-S"]}
    with pytest.raises(ValidationError, match="no variant"):
        images.assign_by_option(db, actor, img.id, "color", "Green", expected_version=images.get_image(db, img.id).version)
    with pytest.raises(ValidationError, match="not variants of this product"):
        images.assign_variants(db, actor, img.id, [999_999], expected_version=images.get_image(db, img.id).version)
    images.assign_variants(db, actor, img.id, [], expected_version=images.get_image(db, img.id).version)
    assert images.get_image(db, img.id).variant_ids == ()
    choices = images.product_variants(db, shop["tee"])
    assert {c.sku: c.options for c in choices}["LT-B-M"] == {"color": "Blue", "size": "M"}


# -- edits and versions ------------------------------------------------------------------------------------
def test_edits_make_versions_and_any_version_can_be_restored(db, actor, shop, image_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    photo = halves_jpeg(tmp_path / "linen-tee.jpg", (800, 400))
    images.ingest(db, actor, [planned(photo, shop["tee"])], store=image_store)
    [img] = images.list_gallery(db, shop["tee"])
    square = aspect_box(800, 400, "1:1")
    assert square == {"left": 0.25, "top": 0.0, "width": 0.5, "height": 1.0}
    v2 = images.edit_image(db, actor, img.id, [{"op": "crop", **square, "aspect": "1:1"}],
                           expected_version=img.version, store=image_store)
    now = images.get_image(db, img.id)
    assert (now.current_version, now.web_width, now.web_height) == (2, 400, 400)
    with pytest.raises(ConflictError):
        images.edit_image(db, actor, img.id, [{"op": "rotate", "degrees": 90}], expected_version=img.version,
                          store=image_store)
    images.edit_image(db, actor, img.id, [{"op": "rotate", "degrees": 90}, {"op": "flip", "axis": "horizontal"}],
                      expected_version=v2.version, store=image_store)
    now = images.get_image(db, img.id)
    web = open_web(image_store, now)
    assert now.current_version == 3 and web.size == (400, 400)
    # Square of the middle (red left, blue right); rotated clockwise: red on top; flipped: still red on top.
    assert _near(web.getpixel((200, 20)), RED) and _near(web.getpixel((200, 380)), BLUE)
    versions = images.list_versions(db, img.id)
    assert [v.number for v in versions] == [3, 2, 1]
    assert versions[0].note == "rotated 90°, flipped horizontally"
    assert [e["op"] for e in versions[0].edits] == ["crop", "rotate", "flip"]

    restored = images.restore_version(db, actor, img.id, 1, expected_version=now.version)
    back = images.get_image(db, img.id)
    assert (back.current_version, back.web_hash, back.web_width) == (4, img.web_hash, 800)
    assert restored.after["note"] == "restored version 1"
    with pytest.raises(NotFound):
        images.restore_version(db, actor, img.id, 9, expected_version=back.version)
    with pytest.raises(ValidationError) as excinfo:
        images.edit_image(db, actor, img.id, [{"op": "rotate", "degrees": 45}, {"op": "crop", "left": 0.9, "top": 0,
                                                                                "width": 0.5, "height": 1}, {"op": "blur"}],
                          expected_version=back.version, store=image_store)
    assert len(excinfo.value.problems) == 3
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(ImageVersion)) == 4


# -- the process pool ---------------------------------------------------------------------------------------
def test_process_pool_ingest_with_progress_and_cancel(db, actor, shop, image_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    files = [planned(noisy_jpeg(tmp_path / f"p{i}.jpg", (1200, 900), seed=i), shop["tee"], n=i) for i in range(8)]
    files.append(planned(text_as_jpeg(tmp_path / "bad.jpg"), shop["tee"]))
    seen: list[float] = []
    result = images.ingest(db, actor, files, store=image_store, workers=2, pool_threshold=2,
                           progress=lambda f, _t: seen.append(f))
    assert len(result.added) == 8 and len(result.failed) == 1
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 9
    assert [i.filename for i in images.list_gallery(db, shop["tee"])] == [f"p{i}.jpg" for i in range(8)]

    more = [planned(noisy_jpeg(tmp_path / f"q{i}.jpg", (1600, 1200), seed=100 + i), shop["mug"], "stone-mug")
            for i in range(8)]
    calls = {"n": 0}

    def cancel_after_first_result() -> bool:
        return calls["n"] >= 1

    def progress(_f: float, _t: str) -> None:
        calls["n"] += 1

    cancelled = images.ingest(db, actor, more, store=image_store, workers=2, pool_threshold=2, progress=progress,
                              cancel=cancel_after_first_result)
    assert cancelled.cancelled and cancelled.outcomes == []
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(ProductImage).where(ProductImage.product_id == shop["mug"])) == 0
        assert s.scalar(select(func.count()).select_from(ProductImageVariant)) == 0
