"""Which image many variants show, as one revertible changeset (kind "image").

A bulk "show image" picks, for each target variant, the first image of its product's gallery whose file
name contains the given text ("red" → the red photo, per product), or, with no text, no image of its own
(the variant then shows its product's main image). Previewed like every bulk operation; variants whose
product has no such image are listed and block the apply. Applied in one transaction: each variant's
assignment is compared with the one the preview read (a change made since is a conflict, left as it is),
replaced, the images' versions bumped, one changeset entry per variant (entity "variant_image", the image
ids before and after) and an audit row. ``revert_image_assignment`` (reached through
``changesets.revert_changeset``) puts the earlier images back the same way.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import Changeset, ChangesetEntry, Product, ProductImage, ProductImageVariant, Variant, utcnow
from backoffice.services import bulk
from backoffice.services.base import Actor, NotFound, ValidationError, audit, chunked_in
from backoffice.services.changesets import ApplyResult, Conflict, register_reverter, replayed

KIND, ENTITY = "image", "variant_image"


@dataclass(frozen=True)
class ImageRow:
    variant_id: int
    sku: str
    product_id: int
    before: tuple[int, ...]      # the images shown for this variant now (ids), () = the main image
    after: tuple[int, ...]
    after_name: str              # the chosen image's file name ("" for the main image)
    before_names: tuple[str, ...] = ()


@dataclass
class ImagePlan:
    match: str                   # the text the file name must contain; "" = back to the main image
    rows: list[ImageRow]
    considered: int
    invalid: list[tuple[str, str, str]] = field(default_factory=list)   # (row, field, message)

    @property
    def affected(self) -> int:
        return len(self.rows)

    @property
    def versions(self) -> bulk.Versions:
        """What :func:`apply_image_assignment_to` checks the rows against: per ("variant_image", variant id)
        a fingerprint of the images the variant showed as read."""
        return {(ENTITY, r.variant_id): shown_fingerprint(r.before) for r in self.rows}


def shown_fingerprint(image_ids: tuple[int, ...]) -> int:
    """A number that changes when the set of images a variant shows changes."""
    return zlib.crc32(",".join(str(i) for i in sorted(image_ids)).encode("ascii"))


def _assigned(session: Session, variant_ids: list[int]) -> dict[int, tuple[int, ...]]:
    shown: dict[int, list[int]] = defaultdict(list)
    for cond in chunked_in(session, ProductImageVariant.variant_id, variant_ids):
        for vid, image_id in session.execute(select(ProductImageVariant.variant_id, ProductImageVariant.image_id)
                                             .where(cond).order_by(ProductImageVariant.image_id)):
            shown[vid].append(image_id)
    return {vid: tuple(ids) for vid, ids in shown.items()}


def plan_image_assignment(db: Database, target: bulk.Target, match: str | None) -> ImagePlan:
    """What a bulk "show image" would change; writes nothing."""
    variant_ids = bulk.target_variant_ids(db, target)
    with db.read() as session:
        return _plan(session, variant_ids, match)


def _plan(session: Session, variant_ids: list[int], match: str | None) -> ImagePlan:
    text = " ".join(str(match or "").split())
    variants: dict[int, tuple[str, int, str]] = {}
    for cond in chunked_in(session, Variant.id, variant_ids):
        for vid, sku, pid, handle in session.execute(
                select(Variant.id, Variant.sku, Variant.product_id, Product.handle)
                .join(Product, Product.id == Variant.product_id).where(cond)):
            variants[vid] = (sku, pid, handle)
    product_ids = sorted({pid for _, pid, _ in variants.values()})
    galleries: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for cond in chunked_in(session, ProductImage.product_id, product_ids):
        for pid, image_id, name in session.execute(
                select(ProductImage.product_id, ProductImage.id, ProductImage.filename).where(cond)
                .order_by(ProductImage.product_id, ProductImage.position, ProductImage.id)):
            galleries[pid].append((image_id, name))
    current = _assigned(session, variant_ids)
    rows, invalid = [], []
    needle = text.casefold()
    for vid in variant_ids:
        if vid not in variants:
            continue
        sku, pid, handle = variants[vid]
        before = current.get(vid, ())
        if not text:
            after, name = (), ""
        else:
            chosen = next(((i, n) for i, n in galleries.get(pid, []) if needle in (n or "").casefold()), None)
            if chosen is None:
                invalid.append((f"SKU {sku}", "image", f"no image of {handle} has {text!r} in its file name"))
                continue
            after, name = (chosen[0],), chosen[1]
        if after != before:
            names = dict(galleries.get(pid, []))
            rows.append(ImageRow(vid, sku, pid, before, after, name, tuple(names.get(i, f"#{i}") for i in before)))
    return ImagePlan(text, rows, len(variant_ids), invalid)


def _write(session: Session, actor: Actor, rows: list[tuple[ImageRow, tuple[int, ...], tuple[int, ...]]],
           description: str, reverts_id: int | None, operation_id: str | None) -> ApplyResult:
    """``rows``: (row, the images expected now, the images to show)."""
    done = replayed(session, operation_id)
    if done is not None:
        return done
    ids = sorted(r.variant_id for r, _, _ in rows)
    # Lock the variants in id order, so two assignments over the same rows queue instead of interleaving.
    versions = {vid: version for cond in chunked_in(session, Variant.id, ids)
                for vid, version in session.execute(select(Variant.id, Variant.version).where(cond)
                                                    .order_by(Variant.id).with_for_update())}
    current = _assigned(session, ids)
    conflicts: list[Conflict] = []
    ready = []
    for row, expected, wanted in rows:
        if row.variant_id not in versions:
            continue
        now_shown = current.get(row.variant_id, ())
        if now_shown != expected:
            conflicts.append(Conflict("variant", row.variant_id, row.sku, "image", list(expected), list(wanted),
                                      list(now_shown), versions[row.variant_id]))
        elif now_shown != wanted:
            ready.append((row, now_shown, wanted))
    if not ready:
        return ApplyResult(None, 0, conflicts)
    wanted_images = {i for _, _, w in ready for i in w}
    owners = {i: pid for cond in chunked_in(session, ProductImage.id, sorted(wanted_images))
              for i, pid in session.execute(select(ProductImage.id, ProductImage.product_id).where(cond))}
    gone = [(r.sku, "image", f"image {i} no longer exists or belongs to another product")
            for r, _, w in ready for i in w if owners.get(i) != r.product_id]
    if gone:
        raise ValidationError(gone)
    changeset = Changeset(operation_id=operation_id, created_at=utcnow(), user_id=actor.user_id,
                          username=actor.username, kind=KIND, description=description[:500], row_count=len(ready),
                          reverts_id=reverts_id)
    session.add(changeset)
    session.flush()
    touched: set[int] = set()
    for row, before, after in ready:
        session.execute(delete(ProductImageVariant).where(ProductImageVariant.variant_id == row.variant_id))
        session.add_all(ProductImageVariant(image_id=i, variant_id=row.variant_id) for i in after)
        touched.update(before)
        touched.update(after)
        version = versions[row.variant_id]
        session.add(ChangesetEntry(changeset_id=changeset.id, entity=ENTITY, entity_id=row.variant_id,
                                   version_before=version, version_after=version,
                                   before={"image_ids": list(before)},
                                   after={"image_ids": list(after), "sku": row.sku, "product_id": row.product_id}))
    now = utcnow()
    for img in session.scalars(select(ProductImage).where(ProductImage.id.in_(sorted(touched)))):
        img.version += 1     # an image's variants changed: a stale editor of that image sees a conflict
        img.updated_at = now
    session.flush()
    audit(session, actor, "changeset", changeset.id, KIND, None,
          {"description": description, "rows": len(ready), "conflicts": len(conflicts), "reverts": reverts_id},
          operation_id)
    return ApplyResult(changeset.id, len(ready), conflicts)


def _description(match: str, description: str) -> str:
    return description or (f"Show the image named like {match!r}" if match else "Show the product's main image")


def apply_image_assignment(db: Database, actor: Actor, plan: ImagePlan, *, description: str = "",
                           operation_id: str | None = None) -> ApplyResult:
    if plan.invalid:
        raise ValidationError(plan.invalid[:200])
    rows = [(r, r.before, r.after) for r in plan.rows]
    return db.run_write(lambda session: _write(session, actor, rows, _description(plan.match, description), None,
                                               operation_id))


def apply_image_assignment_to(db: Database, actor: Actor, target: bulk.Target, match: str | None, *,
                              previewed: bulk.Versions | None = None, description: str = "",
                              operation_id: str | None = None) -> ApplyResult:
    """Show the matching image on the target variants as one changeset, planned again inside the write.

    ``previewed`` (``ImagePlan.versions`` of the preview the user saw): only the variants that preview
    changed are written, and those whose images changed since are left as they are and reported as
    conflicts. Without it, every variant that differs now. Variants without a matching image refuse it."""
    variant_ids = bulk.target_variant_ids(db, target)

    def plan_and_write(session: Session) -> ApplyResult:
        done = replayed(session, operation_id)
        if done is not None:
            return done
        plan = _plan(session, variant_ids, match)
        if plan.invalid:
            raise ValidationError(plan.invalid[:200])
        rows, changed = plan.rows, []
        if previewed is not None:
            rows = [r for r in plan.rows if (ENTITY, r.variant_id) in previewed]
            changed = [r for r in rows if shown_fingerprint(r.before) != previewed[(ENTITY, r.variant_id)]]
            rows = [r for r in rows if r not in changed]
        result = _write(session, actor, [(r, r.before, r.after) for r in rows], _description(plan.match, description),
                        None, operation_id)
        result.conflicts[:0] = [Conflict("variant", r.variant_id, r.sku, "image", None, list(r.after), list(r.before), 0)
                                for r in changed]
        return result

    return db.run_write(plan_and_write)


def revert_image_assignment(db: Database, actor: Actor, changeset_id: int, *,
                            operation_id: str | None = None) -> ApplyResult:
    """Show again the images an "image" changeset replaced; variants changed since are conflicts."""
    with db.read() as session:
        cs = session.get(Changeset, changeset_id)
        if cs is None or cs.kind != KIND:
            raise NotFound(f"changeset {changeset_id} is not an image assignment")
        entries = session.scalars(select(ChangesetEntry).where(ChangesetEntry.changeset_id == changeset_id)
                                  .order_by(ChangesetEntry.id)).all()
        rows = [(ImageRow(e.entity_id, e.after.get("sku", str(e.entity_id)), int(e.after.get("product_id", 0)),
                          tuple(e.before.get("image_ids", ())), tuple(e.after.get("image_ids", ())), ""),
                 tuple(e.after.get("image_ids", ())), tuple(e.before.get("image_ids", ()))) for e in entries]
        description = f"Revert #{cs.id}: {cs.description}"
    return db.run_write(lambda session: _write(session, actor, rows, description, changeset_id, operation_id))


register_reverter(KIND, revert_image_assignment)
