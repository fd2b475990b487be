"""Image and changeset commands run twice with the same --op-id: the second exits 0, reports the first
result, and the database (and the image store) is as the first run left it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from image_samples import noisy_jpeg
from backoffice.cli import main
from backoffice.db import Database
from backoffice.models import AppliedOperation, AuditEntry, Changeset, ChangesetEntry, ImageVersion, ProductImage, Variant
from backoffice.services import catalog, images
from tests.conftest import rows_written


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def shop(db, actor):  # type: ignore[no-untyped-def]
    return catalog.create_product(db, actor, values={"handle": "linen-tee", "title": "Linen Tee"},
                                  variants=[{"sku": "LT-S", "price": "25.00"}, {"sku": "LT-M", "price": "25.00"}])


def run(runner: CliRunner, db: Database, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(main, ["--user", "tester", *args, "--db", db.url.render_as_string(hide_password=False)])


def state(db: Database, store: Path | None = None) -> dict[str, object]:
    with db.read() as session:
        out: dict[str, object] = {
            "counts": [rows_written(session, m) for m in
                       (ProductImage, ImageVersion, AuditEntry, AppliedOperation, Changeset, ChangesetEntry)],
            "images": session.execute(select(ProductImage.id, ProductImage.alt_text, ProductImage.current_version,
                                             ProductImage.version).order_by(ProductImage.id)).all(),
            "variants": session.execute(select(Variant.sku, Variant.price, Variant.version).order_by(Variant.id)).all(),
        }
    if store is not None:
        out["files"] = sorted(str(p.relative_to(store)) for p in store.rglob("*"))
    return out


def twice(runner: CliRunner, db: Database, *args: str, store: Path | None = None) -> tuple[str, str]:
    first = run(runner, db, *args)
    assert first.exit_code == 0, first.output + first.stderr
    before = state(db, store)
    again = run(runner, db, *args)
    assert again.exit_code == 0, again.output + again.stderr
    assert state(db, store) == before
    assert "already applied with this operation id" in again.output
    return first.stdout, again.stdout


def test_image_writes_retried_with_their_op_id_apply_once(runner, db, actor, shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    noisy_jpeg(tmp_path / "linen-tee.jpg", (800, 400))
    runner.invoke(main, ["users", "add", "tester", "--role", "merchandiser", "--db",
                         db.url.render_as_string(hide_password=False)])
    out, replay = twice(runner, db, "images", "upload", str(tmp_path / "linen-tee.jpg"), "--image-store", str(store),
                        "--op-id", "up-1", store=store)
    assert "Added 1 image, 0 already there" in out and "Added 1 image, 0 already there" in replay  # not "1 already there"
    [img] = images.list_gallery(db, shop.entity_id)
    out, replay = twice(runner, db, "images", "edit", str(img.id), "--rotate", "90", "--image-store", str(store),
                        "--op-id", "ed-1", store=store)
    assert "version 2 (rotated 90°)" in out and "version 2 (rotated 90°)" in replay  # not a version 3
    out, replay = twice(runner, db, "images", "restore", str(img.id), "1", "--op-id", "rs-1")
    assert "version 3 (restored version 1)" in replay
    twice(runner, db, "images", "alt", str(img.id), "Linen tee in white", "--op-id", "alt-1")
    assert images.get_image(db, img.id).alt_text == "Linen tee in white"
    reused = run(runner, db, "images", "alt", str(img.id), "Other", "--op-id", "ed-1")
    assert reused.exit_code == 1 and "already used for edit_image, not set_alt_text" in reused.stderr


def test_changeset_revert_retried_with_its_op_id_reverts_once(runner, db, actor, shop) -> None:  # type: ignore[no-untyped-def]
    runner.invoke(main, ["users", "add", "tester", "--role", "merchandiser", "--db",
                         db.url.render_as_string(hide_password=False)])
    bulk = run(runner, db, "variants", "bulk", "--set", "price=30.00", "--product", "linen-tee", "--op-id", "b-1")
    assert bulk.exit_code == 0, bulk.stderr
    with db.read() as session:
        changeset_id = session.scalar(select(Changeset.id).where(Changeset.operation_id == "b-1"))
    first = run(runner, db, "changesets", "revert", str(changeset_id), "--op-id", "rv-1")
    assert first.exit_code == 0, first.stderr
    before = state(db)
    again = run(runner, db, "changesets", "revert", str(changeset_id), "--op-id", "rv-1")
    assert again.exit_code == 0 and state(db) == before
    assert again.stdout.split(" (already")[0] == first.stdout.rstrip(".\n") and "nothing changed" in again.stdout
    with db.read() as session:
        assert sorted(str(p) for p in session.scalars(select(Variant.price))) == ["25.00", "25.00"]


def test_an_upload_with_unmatched_files_retried_exits_0_and_adds_nothing(runner, db, actor, shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    photos = tmp_path / "photos"
    photos.mkdir()
    noisy_jpeg(photos / "linen-tee.jpg", (600, 400))
    noisy_jpeg(photos / "nobody-knows.jpg", (600, 400), seed=3)
    runner.invoke(main, ["users", "add", "tester", "--role", "merchandiser", "--db",
                         db.url.render_as_string(hide_password=False)])
    args = ("images", "upload", str(photos), "--image-store", str(store), "--op-id", "up-2")
    first = run(runner, db, *args)
    assert first.exit_code == 1 and "1 file was not added" in first.stderr
    before = state(db, store)
    again = run(runner, db, *args)
    assert again.exit_code == 0 and state(db, store) == before
    assert "Added 1 image, 0 already there, 0 failed" in again.stdout and "already applied" in again.stdout
    assert "not added by the first run with this operation id" in again.stderr
