"""Bulk "show image" on variants: per product, the image whose file name matches; previewed, applied as
one changeset, conflicts with assignments made since, reverted through the changesets service."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from backoffice.db import Database
from backoffice.services import catalog, changesets, image_matching, images
from backoffice.services import variants as vs
from backoffice.services.base import Actor, ValidationError
from backoffice.services.bulk import Target
from backoffice.services.catalog_grid import VariantFilter
from backoffice.services.image_store import ImageStore


@pytest.fixture
def gallery(db: Database, actor: Actor, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Two tees in Red/Blue x S/M; tee-a has a red and a blue photo, tee-b only a red one."""
    catalog.create_attribute(db, actor, code="color", name="Colour", values=["Red", "Blue"])
    catalog.create_attribute(db, actor, code="size", name="Size", values=["S", "M"])
    ids = {}
    for handle in ("tee-a", "tee-b"):
        ids[handle] = catalog.create_product(db, actor, values={"handle": handle, "title": handle.title()}, variants=[
            {"sku": f"{handle.upper()}-{c[0]}-{s}", "price": "20.00", "options": {"color": c, "size": s}}
            for c in ("Red", "Blue") for s in ("S", "M")]).entity_id
    store = ImageStore(tmp_path / "store")
    for handle, colours in (("tee-a", ("red", "blue")), ("tee-b", ("red",))):
        paths = []
        for n, colour in enumerate(colours, start=1):
            path = tmp_path / f"{handle}_{n}_{colour}.jpg"
            Image.new("RGB", (64, 64), (200, 0, 0) if colour == "red" else (0, 0, 200)).save(path, "JPEG")
            paths.append(str(path))
        plan = image_matching.plan_upload(db, paths, product_handle=handle)
        images.ingest(db, actor, plan.matched, store=store)
    return ids


def shown(db: Database, product_id: int) -> dict[str, tuple[str, ...]]:
    """SKU -> file names of the images assigned to it."""
    by_variant: dict[int, list[str]] = {}
    for img in images.list_gallery(db, product_id):
        for vid in img.variant_ids:
            by_variant.setdefault(vid, []).append(img.filename)
    return {v.sku: tuple(by_variant.get(v.id, ())) for v in images.product_variants(db, product_id)}


def red_target(db: Database) -> Target:
    red = next(v.id for a in vs.list_attributes(db) if a.code == "color" for v in a.values if v.value == "Red")
    return Target(filter=VariantFilter(option_value_ids=(red,)))


def test_show_the_matching_image_per_product_then_revert(db: Database, actor: Actor, gallery) -> None:
    plan = vs.plan_image_assignment(db, red_target(db), "RED")
    assert (plan.considered, plan.affected, plan.invalid) == (4, 4, [])
    result = vs.apply_image_assignment(db, actor, plan)
    assert result.applied_rows == 4 and result.conflicts == []
    assert shown(db, gallery["tee-a"]) == {"TEE-A-R-S": ("tee-a_1_red.jpg",), "TEE-A-R-M": ("tee-a_1_red.jpg",),
                                           "TEE-A-B-S": (), "TEE-A-B-M": ()}
    assert shown(db, gallery["tee-b"])["TEE-B-R-M"] == ("tee-b_1_red.jpg",)
    [listed] = changesets.list_changesets(db, limit=1)
    assert (listed.kind, listed.row_count) == ("image", 4)
    again = vs.plan_image_assignment(db, red_target(db), "red")
    assert again.affected == 0                       # already so: nothing to do

    reverted = changesets.revert_changeset(db, actor, result.changeset_id)
    assert reverted.applied_rows == 4 and reverted.conflicts == []
    assert all(files == () for files in shown(db, gallery["tee-a"]).values())


def test_a_product_without_a_match_blocks_the_apply(db: Database, actor: Actor, gallery) -> None:
    plan = vs.plan_image_assignment(db, Target(filter=VariantFilter()), "blue")
    assert [row for row, _f, _m in plan.invalid] == ["SKU TEE-B-R-S", "SKU TEE-B-R-M", "SKU TEE-B-B-S", "SKU TEE-B-B-M"]
    assert "no image of tee-b has 'blue' in its file name" in plan.invalid[0][2]
    with pytest.raises(ValidationError):
        vs.apply_image_assignment(db, actor, plan)
    assert all(files == () for files in shown(db, gallery["tee-a"]).values())   # nothing written


def test_assignments_made_since_the_preview_are_conflicts(db: Database, actor: Actor, gallery) -> None:
    plan = vs.plan_image_assignment(db, red_target(db), "red")
    blue = next(img for img in images.list_gallery(db, gallery["tee-a"]) if "blue" in img.filename)
    r_s = next(v.id for v in images.product_variants(db, gallery["tee-a"]) if v.sku == "TEE-A-R-S")
    images.assign_variants(db, actor, blue.id, [r_s], expected_version=blue.version)   # another user, meanwhile
    result = vs.apply_image_assignment(db, actor, plan, operation_id="img-1")
    assert result.applied_rows == 3 and [c.label for c in result.conflicts] == ["TEE-A-R-S"]
    assert shown(db, gallery["tee-a"])["TEE-A-R-S"] == ("tee-a_2_blue.jpg",)    # theirs kept
    retry = vs.apply_image_assignment(db, actor, plan, operation_id="img-1")
    assert retry.changeset_id == result.changeset_id and len(changesets.list_changesets(db)) == 1
    # A stale editor of the blue image now sees a conflict (its variants changed).
    with pytest.raises(Exception, match="version|changed"):
        images.assign_variants(db, actor, blue.id, [], expected_version=blue.version)


def test_planned_again_at_apply_with_the_preview_stamp(db: Database, actor: Actor, gallery) -> None:
    plan = vs.plan_image_assignment(db, red_target(db), "red")
    blue = next(img for img in images.list_gallery(db, gallery["tee-a"]) if "blue" in img.filename)
    r_s = next(v.id for v in images.product_variants(db, gallery["tee-a"]) if v.sku == "TEE-A-R-S")
    images.assign_variants(db, actor, blue.id, [r_s], expected_version=blue.version)   # another user, meanwhile
    result = vs.apply_image_assignment_to(db, actor, red_target(db), "red", previewed=plan.versions,
                                          operation_id="img-2")
    assert result.applied_rows == 3 and [c.label for c in result.conflicts] == ["TEE-A-R-S"]
    assert shown(db, gallery["tee-a"])["TEE-A-R-S"] == ("tee-a_2_blue.jpg",)    # theirs kept
    assert shown(db, gallery["tee-a"])["TEE-A-R-M"] == ("tee-a_1_red.jpg",)
    retry = vs.apply_image_assignment_to(db, actor, red_target(db), "red", previewed=plan.versions,
                                         operation_id="img-2")
    assert (retry.changeset_id, retry.conflicts) == (result.changeset_id, [])
    with pytest.raises(ValidationError):             # a variant without a matching image refuses it all
        vs.apply_image_assignment_to(db, actor, Target(filter=VariantFilter()), "blue")


def test_back_to_the_main_image(db: Database, actor: Actor, gallery) -> None:
    vs.apply_image_assignment(db, actor, vs.plan_image_assignment(db, red_target(db), "red"))
    plan = vs.plan_image_assignment(db, Target(filter=VariantFilter(product_ids=(gallery["tee-a"],))), "")
    assert plan.affected == 2 and all(r.after == () for r in plan.rows)
    vs.apply_image_assignment(db, actor, plan)
    assert all(files == () for files in shown(db, gallery["tee-a"]).values())
    assert shown(db, gallery["tee-b"])["TEE-B-R-S"] == ("tee-b_1_red.jpg",)


def test_from_the_command_line(db: Database, actor: Actor, gallery) -> None:
    from click.testing import CliRunner

    from backoffice.cli import main

    url = db.engine.url.render_as_string(hide_password=False)
    run = CliRunner().invoke
    dry = run(main, ["--user", "tester", "variants", "bulk", "--set", "image=red", "--option", "color=Red",
                     "--dry-run", "--db", url])
    assert dry.exit_code == 0, dry.output + dry.stderr
    assert "SKU TEE-A-R-S" in dry.output and "(main image) → tee-a_1_red.jpg" in dry.output
    assert "4 of 4 variants would change" in dry.output
    done = run(main, ["--user", "tester", "variants", "bulk", "--set", "image=red", "--option", "color=Red", "--db", url])
    assert done.exit_code == 0 and "Changed 4 variants" in done.output
    assert shown(db, gallery["tee-b"])["TEE-B-R-S"] == ("tee-b_1_red.jpg",)
    refused = run(main, ["--user", "tester", "variants", "bulk", "--set", "image=blue", "--db", url])
    assert refused.exit_code == 1 and "no image of tee-b has 'blue' in its file name" in refused.stderr
