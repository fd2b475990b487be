"""The image library: ingest (optimise, dedupe, store), the ordered gallery of each product, alt text,
assignment to variants, and edits kept as versions.

Files live in the content-addressed :class:`~backoffice.services.image_store.ImageStore`; rows hold
metadata and hashes. The Pillow work of a large ingest runs in a process pool (two workers: both cores)
with progress and a cancel check; what it produced is then written in one transaction with its audit
rows. Every write: validate → one transaction through ``db.run_write`` → audit → return what changed,
with version checks on the rows the caller read.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, delete, func, or_, select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import (
    Attribute,
    AttributeValue,
    ImageVersion,
    Product,
    ProductImage,
    ProductImageVariant,
    Variant,
    VariantOption,
    utcnow,
)
from backoffice.services.base import (
    Actor,
    Change,
    ConflictError,
    NotFound,
    ValidationError,
    applied_result,
    audit_change,
    chunked_in,
    claim_operation,
    snapshot,
    store_operation_result,
)
from backoffice.services.image_matching import PlannedFile
from backoffice.services.image_processing import (
    ASPECT_PRESETS,
    RenditionSettings,
    process_one,
    render_version,
)
from backoffice.services.image_store import ImageStore

Progress = Callable[[float, str], None]
IMAGE_FIELDS = ("product_id", "variant_id", "position", "content_hash", "filename", "alt_text", "width", "height",
                "original_bytes", "current_version", "web_hash", "web_bytes", "thumb_hash")
MAX_ALT = 500
MAX_EDITS = 50
POOL_WORKERS = 2
POOL_THRESHOLD = 6          # fewer files than this are processed in the caller's thread
_WRITE_SHARE = 0.05         # of the progress bar, for the database write at the end


# -- results -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileOutcome:
    name: str
    path: str
    status: str                 # "added", "duplicate", "failed"
    message: str = ""
    image_id: int | None = None
    product_id: int | None = None
    original_bytes: int = 0
    web_bytes: int = 0


@dataclass
class IngestResult:
    outcomes: list[FileOutcome] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    cancelled: bool = False

    def _with(self, status: str) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def added(self) -> list[FileOutcome]:
        return self._with("added")

    @property
    def duplicates(self) -> list[FileOutcome]:
        return self._with("duplicate")

    @property
    def failed(self) -> list[FileOutcome]:
        return self._with("failed")

    @property
    def bytes_saved(self) -> int:
        """Originals minus their web versions, over the images added."""
        return sum(o.original_bytes - o.web_bytes for o in self.added)

    def to_dict(self) -> dict[str, Any]:
        return {"outcomes": [dict(o.__dict__) for o in self.outcomes], "changes": [c.to_dict() for c in self.changes],
                "cancelled": self.cancelled}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestResult:
        return cls([FileOutcome(**o) for o in data.get("outcomes", [])],
                   [Change.from_dict(c) for c in data.get("changes", [])], bool(data.get("cancelled")))


@dataclass(frozen=True)
class GalleryImage:
    id: int
    product_id: int
    position: int
    filename: str
    alt_text: str
    width: int | None
    height: int | None
    original_format: str
    original_bytes: int
    web_hash: str | None
    web_format: str
    web_width: int | None
    web_height: int | None
    web_bytes: int
    thumb_hash: str | None
    current_version: int
    version: int
    variant_ids: tuple[int, ...] = ()

    @property
    def is_main(self) -> bool:
        return self.position == 0

    @property
    def missing_alt(self) -> bool:
        return not self.alt_text.strip()


@dataclass(frozen=True)
class VersionInfo:
    number: int
    edits: list[dict[str, Any]]
    note: str
    web_hash: str
    web_width: int
    web_height: int
    web_bytes: int
    thumb_hash: str
    created_at: Any
    created_by: str


@dataclass(frozen=True)
class ProductHit:
    id: int
    handle: str
    title: str
    images: int
    missing_alt: int


@dataclass(frozen=True)
class VariantChoice:
    id: int
    sku: str
    title: str
    options: dict[str, str]        # attribute code -> value


@dataclass(frozen=True)
class MissingAlt:
    image_id: int
    product_id: int
    handle: str
    filename: str
    position: int


# -- ingest --------------------------------------------------------------------------------------------
def _run_pool(jobs: list[tuple[int, str]], store: ImageStore, settings: RenditionSettings, workers: int,
              progress: Progress | None, cancel: Callable[[], bool] | None, share: float) -> dict[int, tuple[bool, Any]]:
    """Process the files on ``workers`` processes; None when cancelled. Results by job index."""
    results: dict[int, tuple[bool, Any]] = {}
    total = len(jobs)
    # spawn, not fork: the GUI process has threads (Qt, database pools) that a fork would copy half-way.
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending = {pool.submit(process_one, i, path, str(store.root), settings) for i, path in jobs}
        try:
            while pending:
                if cancel is not None and cancel():
                    for f in pending:
                        f.cancel()
                    raise _Cancelled
                done, pending = cf.wait(pending, timeout=0.1, return_when=cf.FIRST_COMPLETED)
                for f in done:   # one step per file, also when several finish within one wait
                    i, ok, value = f.result()
                    results[i] = (ok, value)
                    if progress is not None:
                        progress(share * len(results) / total, f"Optimised {len(results)} of {total}")
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results


class _Cancelled(Exception):
    pass


def process_files(paths: list[str], store: ImageStore, settings: RenditionSettings, *, workers: int = POOL_WORKERS,
                  pool_threshold: int = POOL_THRESHOLD, progress: Progress | None = None,
                  cancel: Callable[[], bool] | None = None, share: float = 1.0) -> list[tuple[bool, Any]] | None:
    """The Pillow work for each path, in order: (True, row values) or (False, reason). None if cancelled."""
    jobs = list(enumerate(paths))
    try:
        if workers > 1 and len(jobs) >= pool_threshold:
            results = _run_pool(jobs, store, settings, workers, progress, cancel, share)
        else:
            results = {}
            for i, path in jobs:
                if cancel is not None and cancel():
                    raise _Cancelled
                _, ok, value = process_one(i, path, str(store.root), settings)
                results[i] = (ok, value)
                if progress is not None:
                    progress(share * (i + 1) / len(jobs), f"Optimised {i + 1} of {len(jobs)}")
    except _Cancelled:
        return None
    return [results[i] for i, _ in jobs]


def ingest(db: Database, actor: Actor, files: list[PlannedFile], *, store: ImageStore,
           settings: RenditionSettings | None = None, progress: Progress | None = None,
           cancel: Callable[[], bool] | None = None, workers: int = POOL_WORKERS,
           pool_threshold: int = POOL_THRESHOLD, operation_id: str | None = None) -> IngestResult:
    """Add the planned files to their galleries. A bad file is reported with its reason and the rest go
    on; a file already in that product's gallery (same content hash) is reported, not added twice.
    Cancelled before the write: nothing is written (``cancelled`` is set)."""
    settings = settings or RenditionSettings()
    if settings.web_format not in ("jpeg", "webp"):
        raise ValidationError([("settings", "web_format", f"{settings.web_format!r} is not jpeg or webp")])
    previous = applied_result(db, operation_id, "upload_images")
    if previous is not None:   # a retried upload: what the first one did, no file processed again
        return IngestResult.from_dict(previous)
    if not files:
        return IngestResult()
    store.check_writable()
    processed = process_files([f.path for f in files], store, settings, workers=workers, pool_threshold=pool_threshold,
                              progress=progress, cancel=cancel, share=1 - _WRITE_SHARE)
    if processed is None or (cancel is not None and cancel()):
        return IngestResult(cancelled=True)
    if progress is not None:
        progress(1 - _WRITE_SHARE, "Saving to the catalog")

    def add_to_galleries(session: Session) -> IngestResult:
        previous = claim_operation(session, operation_id, "upload_images", actor)
        if previous is not None:
            return IngestResult.from_dict(previous)
        result = IngestResult()
        product_ids = sorted({f.target.product_id for f in files})
        found = set()
        for clause in chunked_in(session, Product.id, product_ids):
            found |= set(session.scalars(select(Product.id).where(clause).order_by(Product.id).with_for_update()))
        variant_of = {}
        variant_ids = sorted({f.target.variant_id for f in files if f.target.variant_id is not None})
        for clause in chunked_in(session, Variant.id, variant_ids):
            variant_of.update(session.execute(select(Variant.id, Variant.product_id).where(clause)).all())
        existing: dict[tuple[int, str], int] = {}
        next_position: dict[int, int] = {}
        for clause in chunked_in(session, ProductImage.product_id, product_ids):
            for pid, h, iid, pos in session.execute(select(ProductImage.product_id, ProductImage.content_hash,
                                                           ProductImage.id, ProductImage.position).where(clause)):
                existing[(pid, h)] = iid
                next_position[pid] = max(next_position.get(pid, 0), pos + 1)
        order = sorted(range(len(files)), key=lambda i: _gallery_rank(files[i]))
        outcomes: dict[int, FileOutcome] = {}
        for i in order:
            f, (ok, value) = files[i], processed[i]
            pid = f.target.product_id
            if not ok:
                outcomes[i] = FileOutcome(f.name, f.path, "failed", f"{f.name} {value}")
                continue
            if pid not in found:
                outcomes[i] = FileOutcome(f.name, f.path, "failed", f"{f.name}: product {f.target.handle} no longer exists")
                continue
            vid = f.target.variant_id
            if vid is not None and variant_of.get(vid) != pid:
                outcomes[i] = FileOutcome(f.name, f.path, "failed",
                                          f"{f.name}: variant {f.target.sku} is not a variant of {f.target.handle}")
                continue
            key = (pid, value["content_hash"])
            if key in existing:
                outcomes[i] = FileOutcome(f.name, f.path, "duplicate",
                                          f"{f.name} is already in the gallery of {f.target.handle} "
                                          f"(image {existing[key]}); not added again", existing[key], pid)
                continue
            position = next_position.get(pid, 0)
            next_position[pid] = position + 1
            image = ProductImage(product_id=pid, variant_id=vid, position=position, filename=f.name[:255], alt_text="",
                                 current_version=1, **value)
            session.add(image)
            session.flush()
            existing[key] = image.id
            session.add(ImageVersion(image_id=image.id, number=1, edits=[], note="uploaded",
                                     web_hash=value["web_hash"], web_width=value["web_width"],
                                     web_height=value["web_height"], web_bytes=value["web_bytes"],
                                     thumb_hash=value["thumb_hash"], created_by=actor.username))
            if vid is not None:
                session.add(ProductImageVariant(image_id=image.id, variant_id=vid))
            change = Change("product_image", image.id, "create", image.version, None,
                            dict(snapshot(image, IMAGE_FIELDS), variant_ids=[vid] if vid else []))
            result.changes.append(change)
            audit_change(session, actor, change, operation_id)
            outcomes[i] = FileOutcome(f.name, f.path, "added", "", image.id, pid, value["original_bytes"],
                                      value["web_bytes"])
        session.flush()
        result.outcomes = [outcomes[i] for i in range(len(files))]
        store_operation_result(session, operation_id, result.to_dict())
        return result

    result = db.run_write(add_to_galleries)
    if progress is not None:
        progress(1.0, f"Added {len(result.added)} images")
    return result


def _gallery_rank(f: PlannedFile) -> tuple[float, bool, str]:
    """Gallery order of new files: by the number in the name; an unnumbered product shot first (the main
    image), unnumbered variant shots after the numbered ones."""
    if f.n is not None:
        place = float(f.n)
    else:
        place = float("inf") if f.target.variant_id is not None else -1.0
    return place, f.target.variant_id is not None, f.name.lower()


# -- reading -------------------------------------------------------------------------------------------
def _gallery_image(img: ProductImage, variant_ids: tuple[int, ...]) -> GalleryImage:
    return GalleryImage(img.id, img.product_id, img.position, img.filename, img.alt_text, img.width, img.height,
                        img.original_format, img.original_bytes, img.web_hash, img.web_format, img.web_width,
                        img.web_height, img.web_bytes, img.thumb_hash, img.current_version, img.version, variant_ids)


def list_gallery(db: Database, product_id: int) -> list[GalleryImage]:
    """A product's images in gallery order (the first is the main image), with their variants."""
    with db.read() as session:
        images = session.scalars(select(ProductImage).where(ProductImage.product_id == product_id)
                                 .order_by(ProductImage.position, ProductImage.id)).all()
        links: dict[int, list[int]] = {}
        for clause in chunked_in(session, ProductImageVariant.image_id, [i.id for i in images]):
            for iid, vid in session.execute(select(ProductImageVariant.image_id, ProductImageVariant.variant_id)
                                            .where(clause).order_by(ProductImageVariant.variant_id)):
                links.setdefault(iid, []).append(vid)
        return [_gallery_image(i, tuple(links.get(i.id, ()))) for i in images]


def get_image(db: Database, image_id: int) -> GalleryImage:
    with db.read() as session:
        img = session.get(ProductImage, image_id)
        if img is None:
            raise NotFound(f"image {image_id} does not exist")
        vids = tuple(session.scalars(select(ProductImageVariant.variant_id)
                                     .where(ProductImageVariant.image_id == image_id)
                                     .order_by(ProductImageVariant.variant_id)))
        return _gallery_image(img, vids)


def list_versions(db: Database, image_id: int) -> list[VersionInfo]:
    with db.read() as session:
        rows = session.scalars(select(ImageVersion).where(ImageVersion.image_id == image_id)
                               .order_by(ImageVersion.number.desc())).all()
        return [VersionInfo(v.number, list(v.edits or []), v.note, v.web_hash, v.web_width, v.web_height, v.web_bytes,
                            v.thumb_hash, v.created_at, v.created_by) for v in rows]


def search_products(db: Database, text: str = "", *, limit: int = 200, with_images_only: bool = False,
                    missing_alt_only: bool = False) -> list[ProductHit]:
    """Products whose handle, title or a SKU contains ``text`` (all when empty), with image counts:
    those with images first, then by handle."""
    text = text.strip()
    counts = (select(ProductImage.product_id.label("pid"), func.count().label("n"),
                     func.sum(case((func.length(func.trim(ProductImage.alt_text)) == 0, 1), else_=0)).label("missing"))
              .group_by(ProductImage.product_id).subquery())
    stmt = (select(Product.id, Product.handle, Product.title, func.coalesce(counts.c.n, 0),
                   func.coalesce(counts.c.missing, 0))
            .outerjoin(counts, counts.c.pid == Product.id)
            .order_by(func.coalesce(counts.c.n, 0) == 0, Product.handle).limit(limit))
    if text:
        like = f"%{text.lower()}%"
        sku_match = select(Variant.product_id).where(func.lower(Variant.sku).like(like))
        stmt = stmt.where(or_(func.lower(Product.handle).like(like), func.lower(Product.title).like(like),
                              Product.id.in_(sku_match)))
    if with_images_only:
        stmt = stmt.where(counts.c.n > 0)
    if missing_alt_only:
        stmt = stmt.where(counts.c.missing > 0)
    with db.read() as session:
        return [ProductHit(pid, handle, title, int(n), int(missing or 0))
                for pid, handle, title, n, missing in session.execute(stmt)]


def count_products(db: Database, text: str = "", *, with_images_only: bool = False,
                   missing_alt_only: bool = False) -> int:
    """How many products ``search_products`` would find with no limit: the true total beside a capped list."""
    text = text.strip()
    stmt = select(func.count()).select_from(Product)
    if with_images_only or missing_alt_only:
        images = select(ProductImage.product_id).where(ProductImage.product_id == Product.id)
        if with_images_only:
            stmt = stmt.where(images.exists())
        if missing_alt_only:
            stmt = stmt.where(images.where(func.length(func.trim(ProductImage.alt_text)) == 0).exists())
    if text:
        like = f"%{text.lower()}%"
        sku_match = select(Variant.product_id).where(func.lower(Variant.sku).like(like))
        stmt = stmt.where(or_(func.lower(Product.handle).like(like), func.lower(Product.title).like(like),
                              Product.id.in_(sku_match)))
    with db.read() as session:
        return int(session.scalar(stmt) or 0)


def product_by_handle(db: Database, handle: str) -> ProductHit:
    hits = [h for h in search_products(db, handle, limit=50) if h.handle == handle]
    if not hits:
        raise NotFound(f"no product has the handle {handle!r}")
    return hits[0]


def product_variants(db: Database, product_id: int) -> list[VariantChoice]:
    """A product's variants with their option values, for assigning images."""
    with db.read() as session:
        variants = session.execute(select(Variant.id, Variant.sku, Variant.title).where(Variant.product_id == product_id)
                                   .order_by(Variant.position, Variant.id)).all()
        options: dict[int, dict[str, str]] = {}
        rows = session.execute(
            select(VariantOption.variant_id, Attribute.code, AttributeValue.value)
            .join(Variant, Variant.id == VariantOption.variant_id)
            .join(Attribute, Attribute.id == VariantOption.attribute_id)
            .join(AttributeValue, AttributeValue.id == VariantOption.attribute_value_id)
            .where(Variant.product_id == product_id).order_by(Attribute.position, Attribute.code))
        for vid, code, value in rows:
            options.setdefault(vid, {})[code] = value
        return [VariantChoice(vid, sku, title, options.get(vid, {})) for vid, sku, title in variants]


def missing_alt_text(db: Database, *, product_id: int | None = None, limit: int = 1000) -> list[MissingAlt]:
    stmt = (select(ProductImage.id, ProductImage.product_id, Product.handle, ProductImage.filename, ProductImage.position)
            .join(Product, Product.id == ProductImage.product_id)
            .where(func.length(func.trim(ProductImage.alt_text)) == 0)
            .order_by(Product.handle, ProductImage.position).limit(limit))
    if product_id is not None:
        stmt = stmt.where(ProductImage.product_id == product_id)
    with db.read() as session:
        return [MissingAlt(*row) for row in session.execute(stmt)]


# -- gallery writes ------------------------------------------------------------------------------------
def _lock_image(session: Session, image_id: int, expected_version: int | None) -> ProductImage:
    img = session.scalar(select(ProductImage).where(ProductImage.id == image_id).with_for_update())
    if img is None:
        raise NotFound(f"image {image_id} does not exist (it may have been deleted)")
    if expected_version is not None and img.version != expected_version:
        raise ConflictError("image", img.id, repr(img.filename or img.id), expected_version, img.version,
                            snapshot(img, IMAGE_FIELDS))
    return img


def _moved(img: ProductImage, position: int, changes: list[Change]) -> None:
    if img.position != position:
        before = img.position
        img.position = position
        changes.append(Change("product_image", img.id, "reorder", None, {"position": before}, {"position": position}))


def reorder_images(db: Database, actor: Actor, product_id: int, ordered_ids: list[int], *,
                   expected_versions: dict[int, int]) -> list[Change]:
    """Put a product's gallery in the order given (every image of the product, once); position 0 is the
    main image. Each image's version must be the one the caller read."""
    if len(set(ordered_ids)) != len(ordered_ids):
        raise ValidationError([("gallery", "order", "an image appears more than once")])

    def store_order(session: Session) -> list[Change]:
        images = session.scalars(select(ProductImage).where(ProductImage.product_id == product_id)
                                 .order_by(ProductImage.id).with_for_update()).all()
        by_id = {i.id: i for i in images}
        if set(by_id) != set(ordered_ids):
            raise ValidationError([("gallery", "order", "the gallery changed since it was read; reload it and try again")])
        for iid in ordered_ids:
            expected = expected_versions.get(iid)
            img = by_id[iid]
            if expected is not None and img.version != expected:
                raise ConflictError("image", iid, repr(img.filename), expected, img.version)
        changes: list[Change] = []
        for position, iid in enumerate(ordered_ids):
            _moved(by_id[iid], position, changes)
        session.flush()
        for change in changes:
            change.version = by_id[change.entity_id].version
            audit_change(session, actor, change, None)
        return changes

    return db.run_write(store_order)


def set_main_image(db: Database, actor: Actor, image_id: int, *, expected_version: int) -> list[Change]:
    """Make this image the main one (position 0); the others keep their order behind it."""

    def make_main(session: Session) -> list[Change]:
        img = _lock_image(session, image_id, expected_version)
        others = session.scalars(select(ProductImage).where(ProductImage.product_id == img.product_id,
                                                            ProductImage.id != img.id)
                                 .order_by(ProductImage.position, ProductImage.id).with_for_update()).all()
        changes: list[Change] = []
        for position, row in enumerate([img, *others]):
            _moved(row, position, changes)
        session.flush()
        for change in changes:
            change.version = (img if change.entity_id == img.id else session.get(ProductImage, change.entity_id)).version
            audit_change(session, actor, change, None)
        return changes

    return db.run_write(make_main)


def set_alt_text(db: Database, actor: Actor, image_id: int, alt_text: str, *, expected_version: int,
                 operation_id: str | None = None) -> Change:
    text = " ".join(str(alt_text or "").split())
    if len(text) > MAX_ALT:
        raise ValidationError([(f"image {image_id}", "alt_text", f"is {len(text)} characters long; at most {MAX_ALT}")])

    def store_alt_text(session: Session) -> Change:
        previous = claim_operation(session, operation_id, "set_alt_text", actor)
        if previous is not None:
            return Change.from_dict(previous)
        img = _lock_image(session, image_id, expected_version)
        before = img.alt_text
        img.alt_text = text
        session.flush()
        change = Change("product_image", img.id, "update", img.version, {"alt_text": before}, {"alt_text": text})
        audit_change(session, actor, change, operation_id)
        store_operation_result(session, operation_id, change.to_dict())
        return change

    return db.run_write(store_alt_text)


def _variant_ids_with_option(session: Session, product_id: int, attribute_code: str, value: str) -> list[int]:
    return list(session.scalars(
        select(VariantOption.variant_id)
        .join(Variant, Variant.id == VariantOption.variant_id)
        .join(Attribute, Attribute.id == VariantOption.attribute_id)
        .join(AttributeValue, AttributeValue.id == VariantOption.attribute_value_id)
        .where(Variant.product_id == product_id, Attribute.code == attribute_code, AttributeValue.value == value)
        .order_by(VariantOption.variant_id)))


def _assign(session: Session, img: ProductImage, variant_ids: list[int], how: str) -> Change:
    valid = set(session.scalars(select(Variant.id).where(Variant.product_id == img.product_id)))
    strangers = sorted(set(variant_ids) - valid)
    if strangers:
        raise ValidationError([(f"image {img.id}", "variants", f"variants {strangers} are not variants of this product")])
    before = sorted(session.scalars(select(ProductImageVariant.variant_id).where(ProductImageVariant.image_id == img.id)))
    session.execute(delete(ProductImageVariant).where(ProductImageVariant.image_id == img.id))
    for vid in sorted(set(variant_ids)):
        session.add(ProductImageVariant(image_id=img.id, variant_id=vid))
    session.flush()
    change = Change("product_image", img.id, how, None, {"variant_ids": before}, {"variant_ids": sorted(set(variant_ids))})
    return change


def assign_variants(db: Database, actor: Actor, image_id: int, variant_ids: list[int], *,
                    expected_version: int) -> Change:
    """Show this image for exactly these variants (of its product); an empty list removes them all."""

    def assign(session: Session) -> Change:
        img = _lock_image(session, image_id, expected_version)
        change = _assign(session, img, list(variant_ids), "assign_variants")
        _bump(session, img)
        change.version = img.version
        audit_change(session, actor, change, None)
        return change

    return db.run_write(assign)


def assign_by_option(db: Database, actor: Actor, image_id: int, attribute_code: str, value: str, *,
                     expected_version: int, replace: bool = True) -> Change:
    """Show this image for every variant of its product with ``attribute_code`` = ``value`` ("all Red
    variants"); with ``replace=False`` they are added to the variants it already has."""

    def assign_matching(session: Session) -> Change:
        img = _lock_image(session, image_id, expected_version)
        matching = _variant_ids_with_option(session, img.product_id, attribute_code, value)
        if not matching:
            raise ValidationError([(f"image {image_id}", "variants",
                                    f"no variant of this product has {attribute_code} = {value!r}")])
        if not replace:
            matching += list(session.scalars(select(ProductImageVariant.variant_id)
                                             .where(ProductImageVariant.image_id == img.id)))
        change = _assign(session, img, matching, "assign_variants")
        change.after = dict(change.after or {}, by_option={attribute_code: value})
        _bump(session, img)
        change.version = img.version
        audit_change(session, actor, change, None)
        return change

    return db.run_write(assign_matching)


def _bump(session: Session, img: ProductImage) -> None:
    """A change held in another table (variant links) still moves the image's version."""
    img.updated_at = utcnow()
    session.flush()


def delete_image(db: Database, actor: Actor, image_id: int, *, expected_version: int) -> Change:
    """Remove an image from its gallery (the files stay in the store: other rows may share them)."""

    def remove(session: Session) -> Change:
        img = _lock_image(session, image_id, expected_version)
        before = snapshot(img, IMAGE_FIELDS)
        product_id = img.product_id
        session.delete(img)
        session.flush()
        rest = session.scalars(select(ProductImage).where(ProductImage.product_id == product_id)
                               .order_by(ProductImage.position, ProductImage.id)).all()
        moved: list[Change] = []
        for position, row in enumerate(rest):
            _moved(row, position, moved)
        session.flush()
        change = Change("product_image", image_id, "delete", None, before, None, moved)
        audit_change(session, actor, change, None)
        return change

    return db.run_write(remove)


# -- edits and versions --------------------------------------------------------------------------------
def clean_edits(edits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validated copies of crop / rotate / flip edits; every problem reported."""
    problems: list[tuple[str, str, str]] = []
    out: list[dict[str, Any]] = []
    if not isinstance(edits, list) or not edits:
        raise ValidationError([("edits", "", "give at least one edit (crop, rotate or flip)")])
    for n, edit in enumerate(edits, start=1):
        row = f"edit {n}"
        op = edit.get("op") if isinstance(edit, dict) else None
        if op == "rotate":
            degrees = edit.get("degrees")
            if isinstance(degrees, bool) or not isinstance(degrees, int) or degrees % 90:
                problems.append((row, "degrees", f"{degrees!r} is not a multiple of 90"))
            else:
                out.append({"op": "rotate", "degrees": degrees % 360})
        elif op == "flip":
            if edit.get("axis") not in ("horizontal", "vertical"):
                problems.append((row, "axis", f"{edit.get('axis')!r} is not horizontal or vertical"))
            else:
                out.append({"op": "flip", "axis": edit["axis"]})
        elif op == "crop":
            try:
                box = {k: float(edit[k]) for k in ("left", "top", "width", "height")}
            except (KeyError, TypeError, ValueError):
                problems.append((row, "crop", "needs left, top, width and height as fractions of the image"))
                continue
            if not (0 <= box["left"] < 1 and 0 <= box["top"] < 1 and 0 < box["width"] and 0 < box["height"]
                    and box["left"] + box["width"] <= 1.000001 and box["top"] + box["height"] <= 1.000001):
                problems.append((row, "crop", "the crop box must lie inside the image"))
                continue
            aspect = edit.get("aspect", "free")
            if aspect not in ASPECT_PRESETS:
                problems.append((row, "aspect", f"{aspect!r} is not one of {', '.join(ASPECT_PRESETS)}"))
                continue
            out.append({"op": "crop", **{k: round(v, 6) for k, v in box.items()}, "aspect": aspect})
        else:
            problems.append((row, "op", f"{op!r} is not crop, rotate or flip"))
    if problems:
        raise ValidationError(problems)
    return out


def _new_version(db: Database, actor: Actor, image_id: int, expected_version: int, edits: list[dict[str, Any]],
                 rendition: dict[str, Any], note: str, action: str, operation_id: str | None = None) -> Change:
    def add_version(session: Session) -> Change:
        previous = claim_operation(session, operation_id, f"{action}_image", actor)
        if previous is not None:
            return Change.from_dict(previous)
        img = _lock_image(session, image_id, expected_version)
        number = (session.scalar(select(func.max(ImageVersion.number)).where(ImageVersion.image_id == img.id)) or 0) + 1
        session.add(ImageVersion(image_id=img.id, number=number, edits=edits, note=note[:200],
                                 web_hash=rendition["web_hash"], web_width=rendition["web_width"],
                                 web_height=rendition["web_height"], web_bytes=rendition["web_bytes"],
                                 thumb_hash=rendition["thumb_hash"], created_by=actor.username))
        before = {"current_version": img.current_version, "web_hash": img.web_hash}
        img.current_version = number
        for key in ("web_hash", "web_width", "web_height", "web_bytes", "thumb_hash"):
            setattr(img, key, rendition[key])
        session.flush()
        change = Change("product_image", img.id, action, img.version, before,
                        {"current_version": number, "web_hash": img.web_hash, "edits": edits, "note": note})
        audit_change(session, actor, change, operation_id)
        store_operation_result(session, operation_id, change.to_dict())
        return change

    return db.run_write(add_version)


def edit_image(db: Database, actor: Actor, image_id: int, edits: list[dict[str, Any]], *, expected_version: int,
               store: ImageStore, settings: RenditionSettings | None = None, operation_id: str | None = None) -> Change:
    """Apply crop / rotate / flip on top of the current version: a new version, rendered from the
    original. ``expected_version`` is the image row's version the caller read. A retry with the same
    ``operation_id`` returns the version the first call made (nothing rendered or written again)."""
    new_edits = clean_edits(edits)
    previous = applied_result(db, operation_id, "edit_image")
    if previous is not None:
        return Change.from_dict(previous)
    settings = settings or RenditionSettings()
    img = get_image(db, image_id)
    if img.version != expected_version:
        raise ConflictError("image", image_id, repr(img.filename), expected_version, img.version)
    with db.read() as session:
        current = session.scalar(select(ImageVersion.edits).where(ImageVersion.image_id == image_id,
                                                                  ImageVersion.number == img.current_version)) or []
        content_hash = session.scalar(select(ProductImage.content_hash).where(ProductImage.id == image_id))
    combined = [*current, *new_edits]
    if len(combined) > MAX_EDITS:
        raise ValidationError([(f"image {image_id}", "edits", f"more than {MAX_EDITS} edits; restore version 1 and start again")])
    rendition = render_version(str(store.root), content_hash, combined, settings)
    note = ", ".join(_describe(e) for e in new_edits)
    return _new_version(db, actor, image_id, expected_version, combined, rendition, note, "edit", operation_id)


def restore_version(db: Database, actor: Actor, image_id: int, number: int, *, expected_version: int,
                    operation_id: str | None = None) -> Change:
    """Make an older version current again, as a new version (the history only grows)."""
    previous = applied_result(db, operation_id, "restore_image")
    if previous is not None:
        return Change.from_dict(previous)
    with db.read() as session:
        old = session.scalar(select(ImageVersion).where(ImageVersion.image_id == image_id, ImageVersion.number == number))
        if old is None:
            raise NotFound(f"image {image_id} has no version {number}")
        rendition = {k: getattr(old, k) for k in ("web_hash", "web_width", "web_height", "web_bytes", "thumb_hash")}
        edits = list(old.edits or [])
    return _new_version(db, actor, image_id, expected_version, edits, rendition, f"restored version {number}", "restore",
                        operation_id)


def _describe(edit: dict[str, Any]) -> str:
    if edit["op"] == "rotate":
        return f"rotated {edit['degrees']}°"
    if edit["op"] == "flip":
        return f"flipped {edit['axis']}ly"
    aspect = edit.get("aspect", "free")
    return "cropped" if aspect == "free" else f"cropped {aspect}"
