"""``backoffice images``: upload with the review, dry run, list, missing alt text, errors as one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from image_samples import noisy_jpeg, text_as_jpeg
from backoffice.cli import main
from backoffice.db import Database
from backoffice.services import catalog, images


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def shop(db, actor):  # type: ignore[no-untyped-def]
    return catalog.create_product(db, actor, values={"handle": "linen-tee", "title": "Linen Tee"},
                                  variants=[{"sku": "LT-S", "price": "25.00"}, {"sku": "LT-M", "price": "25.00"}])


def run(runner: CliRunner, db: Database, *args: str, store: Path | None = None):  # type: ignore[no-untyped-def]
    url = db.url.render_as_string(hide_password=False)
    extra = ["--image-store", str(store)] if store is not None and args[:2] == ("images", "upload") else []
    return runner.invoke(main, ["--user", "tester", *args, *extra, "--db", url])


def test_upload_dry_run_then_upload_list_and_alt_text(runner, db, actor, shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    photos = tmp_path / "photos"
    photos.mkdir()
    noisy_jpeg(photos / "linen-tee.jpg", (1200, 800))
    noisy_jpeg(photos / "LT-M_2.jpg", (800, 1200), seed=2)
    store = tmp_path / "store"

    dry = run(runner, db, "images", "upload", str(photos), "--dry-run", store=store)
    assert dry.exit_code == 0, dry.output
    assert "2 matched, 0 ambiguous, 0 unmatched, 0 rejected" in dry.output
    assert "LT-M_2.jpg → linen-tee · LT-M (#2)" in dry.output and "nothing was written" in dry.output
    assert images.list_gallery(db, shop.entity_id) == [] and not store.exists()

    done = run(runner, db, "images", "upload", str(photos), "--max-edge", "600", store=store)
    assert done.exit_code == 0, done.output
    assert "Added 2 images, 0 already there, 0 failed" in done.output
    gallery = images.list_gallery(db, shop.entity_id)
    assert [(i.filename, max(i.web_width, i.web_height)) for i in gallery] == [("linen-tee.jpg", 600), ("LT-M_2.jpg", 600)]
    assert any(store.rglob("*"))

    listing = run(runner, db, "images", "list", "linen-tee")
    assert listing.exit_code == 0 and "linen-tee: 2 images" in listing.output and "(no alt text)" in listing.output
    missing = run(runner, db, "images", "missing-alt")
    assert missing.exit_code == 0 and missing.output.count("linen-tee\timage") == 2
    assert "2 images without alt text" in missing.stderr
    alt = run(runner, db, "images", "alt", str(gallery[0].id), "Linen tee in white")
    assert alt.exit_code == 0
    assert images.get_image(db, gallery[0].id).alt_text == "Linen tee in white"

    again = run(runner, db, "images", "upload", str(photos / "linen-tee.jpg"), store=store)
    assert again.exit_code == 0 and "1 already there" in again.output and "already in the gallery" in again.output


def test_bad_and_unmatched_files_are_listed_and_exit_non_zero(runner, db, actor, shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = noisy_jpeg(tmp_path / "LT-S.jpg", (300, 300))
    bad = text_as_jpeg(tmp_path / "LT-M.jpg")
    stranger = noisy_jpeg(tmp_path / "unknown.jpg", (50, 50))
    result = run(runner, db, "images", "upload", str(good), str(bad), str(stranger), store=tmp_path / "s")
    assert result.exit_code == 1
    assert "unmatched  unknown.jpg" in result.output
    assert "failed     LT-M.jpg is not an image" in result.output
    assert "Added 1 image," in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines == ["backoffice: error: 2 files were not added (see the list above)"]


def test_unknown_product_and_bad_pattern_are_one_clear_error(runner, db, actor, shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    photo = noisy_jpeg(tmp_path / "x.jpg", (20, 20))
    for args, text in ((("images", "list", "nope"), "no product has the handle 'nope'"),
                       (("images", "upload", str(photo), "--product", "nope"), "no product has the handle 'nope'"),
                       (("images", "upload", str(photo), "--pattern", "{n}.jpg"), "needs a {sku} or {handle} part")):
        result = run(runner, db, *args, store=tmp_path / "s")
        assert result.exit_code == 1, result.output
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("backoffice: error: ") and text in lines[0]


def test_edit_versions_and_restore(runner, db, actor, shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    noisy_jpeg(tmp_path / "linen-tee.jpg", (800, 400))
    assert run(runner, db, "images", "upload", str(tmp_path / "linen-tee.jpg"), store=store).exit_code == 0
    [img] = images.list_gallery(db, shop.entity_id)
    url = db.url.render_as_string(hide_password=False)
    edited = runner.invoke(main, ["--user", "tester", "images", "edit", str(img.id), "--rotate", "90", "--crop", "1:1",
                                  "--image-store", str(store), "--db", url])
    assert edited.exit_code == 0, edited.output
    assert "version 2 (rotated 90°, cropped 1:1)" in edited.output
    now = images.get_image(db, img.id)
    assert (now.web_width, now.web_height) == (400, 400)
    listing = run(runner, db, "images", "versions", str(img.id))
    assert listing.exit_code == 0 and listing.output.splitlines()[0].startswith("* v2")
    restored = run(runner, db, "images", "restore", str(img.id), "1")
    assert restored.exit_code == 0 and "version 3 (restored version 1)" in restored.output
    assert images.get_image(db, img.id).web_width == 800
    missing = run(runner, db, "images", "restore", str(img.id), "7")
    assert missing.exit_code == 1 and "has no version 7" in missing.stderr
    nothing = run(runner, db, "images", "edit", str(img.id))
    assert nothing.exit_code == 2


def test_upload_lists_every_skipped_file_with_its_reason(runner, db, actor, shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Hidden files and folders in an upload folder are not skipped without a word: each is listed,
    with why, and counted; the photos beside them go in."""
    photos = tmp_path / "photos"
    (photos / ".thumbnails").mkdir(parents=True)
    noisy_jpeg(photos / "linen-tee.jpg", (400, 300))
    noisy_jpeg(photos / ".hidden-tee.jpg", (400, 300), seed=3)
    (photos / "._linen-tee.jpg").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (photos / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    noisy_jpeg(photos / ".thumbnails" / "linen-tee.jpg", (100, 75), seed=4)
    (photos / "notes.txt").write_text("shoot list")
    store = tmp_path / "store"

    dry = run(runner, db, "images", "upload", str(photos), "--dry-run", store=store)
    assert dry.exit_code == 0, dry.output
    assert "1 matched, 0 ambiguous, 0 unmatched, 5 rejected" in dry.output
    lines = dry.output.splitlines()
    for name, reason in [(".DS_Store", "is a hidden file (its name starts with a dot); skipped"),
                         (".hidden-tee.jpg", "is a hidden file (its name starts with a dot); skipped"),
                         ("._linen-tee.jpg", "is a macOS metadata file (“._” name), not a photo; skipped"),
                         (".thumbnails", "is a hidden folder (its name starts with a dot); skipped with what it holds (1 file)"),
                         ("notes.txt", "is not an image file name; skipped")]:
        assert f"  rejected   {name}: {reason}" in lines, (name, dry.output)

    done = run(runner, db, "images", "upload", str(photos), store=store)
    assert [i.filename for i in images.list_gallery(db, shop.entity_id)] == ["linen-tee.jpg"]
    assert ".DS_Store" in done.output and ".thumbnails" in done.output
    # As for any file not added, the command says so and exits non-zero (the list above says why).
    assert done.exit_code == 1 and done.stderr.strip() == "backoffice: error: 5 files were not added (see the list above)"
