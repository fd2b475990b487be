"""The images area of the operations contract: each product's ordered gallery, bulk upload (matching
file names to products and variants, then optimising and storing the files), alt text, which variants
an image is shown for, and edits (crop, rotate, flip) kept as versions.

Files go in as paths and come out as bytes (:meth:`ImageOperations.read_files`): the image files
themselves live in the connection's content-addressed image store, which an in-process implementation
finds from the profile (:meth:`ImageOperations.use_store`) and a remote one keeps on the server.
"""

from __future__ import annotations

import threading
from typing import Any

from backoffice.operations.base import Area, CancelCallback, ProgressCallback
from backoffice.operations.changes import IMAGES, Changes
from backoffice.services import image_matching, images
from backoffice.services.base import Change
from backoffice.services.image_matching import AmbiguousFile, PlannedFile, SkippedFile, UploadPlan
from backoffice.services.image_matching import Target as UploadTarget
from backoffice.services.image_processing import (
    ASPECT_PRESETS,
    IMAGE_SUFFIXES,
    RenditionSettings,
    aspect_box,
    describe_size,
)
from backoffice.services.image_store import ImageStore, StoreError, store_root_for
from backoffice.services.images import (
    FileOutcome,
    GalleryImage,
    IngestResult,
    MissingAlt,
    ProductHit,
    VariantChoice,
    VersionInfo,
)

__all__ = [
    "ASPECT_PRESETS", "IMAGE_SUFFIXES", "AmbiguousFile", "Change", "FileOutcome", "GalleryImage", "ImageOperations",
    "IngestResult", "MissingAlt", "PlannedFile", "ProductHit", "RenditionSettings", "SkippedFile", "UploadPlan",
    "UploadTarget", "VariantChoice", "VersionInfo", "aspect_box", "describe_size",
]


def _image_changes(change: Change) -> Changes:
    return Changes.of(IMAGES, image=[change.entity_id])


class ImageOperations(Area):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._store_profile = ""
        self._store_folder: str | None = None
        self._store: ImageStore | None = None
        self._store_lock = threading.Lock()

    # -- where the files are -----------------------------------------------------------------------------
    def use_store(self, *, profile: str = "", folder: str | None = None) -> None:
        """Keep image files in ``folder``, else in the folder of connection profile ``profile``, else in
        the default (``BACKOFFICE_IMAGE_STORE`` or the user data folder). Resolved on first use, off the
        caller's thread; calling it again with the same choice changes nothing."""
        with self._store_lock:
            if (profile, folder or None) != (self._store_profile, self._store_folder):
                self._store_profile, self._store_folder, self._store = profile, folder or None, None

    def _image_store(self) -> ImageStore:
        with self._store_lock:
            if self._store is None:
                self._store = ImageStore(store_root_for(self._store_profile, self._store_folder))
            return self._store

    def read_files(self, content_hashes: list[str]) -> dict[str, bytes | None]:
        """The bytes of stored files (thumbnails, web versions) by content hash; None for a file the store
        does not have or cannot read."""
        store = self._image_store()
        out: dict[str, bytes | None] = {}
        for h in content_hashes:
            try:
                out[h] = store.read_bytes(h)
            except (StoreError, OSError):
                out[h] = None
        return out

    # -- reads -------------------------------------------------------------------------------------------
    def search_products(self, text: str = "", *, limit: int = 200, with_images_only: bool = False,
                        missing_alt_only: bool = False) -> list[ProductHit]:
        """Products whose handle, title or a SKU contains ``text``, with image counts: those with images
        first, then by handle."""
        return images.search_products(self._db, text, limit=limit, with_images_only=with_images_only,
                                      missing_alt_only=missing_alt_only)

    def count_products(self, text: str = "", *, with_images_only: bool = False, missing_alt_only: bool = False) -> int:
        """How many products ``search_products`` finds with no limit."""
        return images.count_products(self._db, text, with_images_only=with_images_only,
                                     missing_alt_only=missing_alt_only)

    def product_by_handle(self, handle: str) -> ProductHit:
        return images.product_by_handle(self._db, handle)

    def gallery(self, product_id: int) -> list[GalleryImage]:
        """A product's images in gallery order (the first is the main image), with their variants."""
        return images.list_gallery(self._db, product_id)

    def image(self, image_id: int) -> GalleryImage:
        return images.get_image(self._db, image_id)

    def versions(self, image_id: int) -> list[VersionInfo]:
        """The image's versions, newest first."""
        return images.list_versions(self._db, image_id)

    def product_variants(self, product_id: int) -> list[VariantChoice]:
        """A product's variants with their option values, for choosing which ones an image shows."""
        return images.product_variants(self._db, product_id)

    def missing_alt_text(self, *, product_id: int | None = None, limit: int = 1000) -> list[MissingAlt]:
        return images.missing_alt_text(self._db, product_id=product_id, limit=limit)

    # -- upload ------------------------------------------------------------------------------------------
    def plan_upload(self, paths: list[str], *, pattern: str | None = None, product_handle: str | None = None,
                    settings: RenditionSettings | None = None, names_only: bool = False) -> UploadPlan:
        """The review of a bulk upload: each file (folders are walked) matched, ambiguous, unmatched or
        rejected with its reason. Nothing is written. With ``names_only`` the paths were collected and
        checked on the caller's disk already: only their names are matched (what the store API server
        does for a client, whose files it cannot see)."""
        return image_matching.plan_upload(self._db, [str(p) for p in paths], pattern=pattern,
                                          product_handle=product_handle, settings=settings, names_only=names_only)

    def upload(self, files: list[PlannedFile], *, settings: RenditionSettings | None = None,
               progress: ProgressCallback | None = None, cancel: CancelCallback | None = None,
               workers: int = images.POOL_WORKERS, op_id: str | None = None) -> IngestResult:
        """Optimise and store the reviewed files and add them to their galleries in one transaction. Each
        file's outcome is reported (added, already there, failed with the reason); cancelled before the
        write, nothing is added (``cancelled``)."""
        def changes_of(result: IngestResult) -> Changes:
            added = [o for o in result.outcomes if o.status == "added"]
            if not added:
                return Changes()
            return Changes.of(IMAGES, image=[o.image_id for o in added if o.image_id is not None],
                              product={o.product_id for o in added if o.product_id is not None})

        return self._write(lambda: images.ingest(self._db, self._actor, list(files), store=self._image_store(),
                                                 settings=settings, progress=progress, cancel=cancel, workers=workers,
                                                 operation_id=op_id), changes_of)

    # -- the gallery ---------------------------------------------------------------------------------------
    def reorder(self, product_id: int, ordered_ids: list[int], *, expected_versions: dict[int, int],
                op_id: str | None = None) -> list[Change]:
        """Put the gallery in this order (every image of the product, once; the first is the main image)."""
        return self._write(lambda: images.reorder_images(self._db, self._actor, product_id, list(ordered_ids),
                                                         expected_versions=dict(expected_versions)),
                           Changes.of(IMAGES, product=[product_id], image=ordered_ids))

    def set_main(self, image_id: int, *, expected_version: int, op_id: str | None = None) -> list[Change]:
        """Make the image the main one (position 0); the others keep their order behind it."""
        return self._write(lambda: images.set_main_image(self._db, self._actor, image_id,
                                                         expected_version=expected_version),
                           lambda moved: Changes.of(IMAGES, image={image_id, *(c.entity_id for c in moved)}))

    def set_alt_text(self, image_id: int, text: str, *, expected_version: int, op_id: str | None = None) -> Change:
        return self._write(lambda: images.set_alt_text(self._db, self._actor, image_id, text,
                                                       expected_version=expected_version, operation_id=op_id),
                           _image_changes)

    def assign_variants(self, image_id: int, variant_ids: list[int], *, expected_version: int,
                        op_id: str | None = None) -> Change:
        """Show the image for exactly these variants of its product (none: for all of them)."""
        return self._write(lambda: images.assign_variants(self._db, self._actor, image_id, list(variant_ids),
                                                          expected_version=expected_version),
                           lambda change: Changes.of(IMAGES, image=[image_id], variant=self._linked(change)))

    def assign_by_option(self, image_id: int, attribute_code: str, value: str, *, expected_version: int,
                         replace: bool = True, op_id: str | None = None) -> Change:
        """Show the image for every variant of its product with this option value ("all Red variants");
        with ``replace=False`` they are added to the variants it already has."""
        return self._write(lambda: images.assign_by_option(self._db, self._actor, image_id, attribute_code, value,
                                                           expected_version=expected_version, replace=replace),
                           lambda change: Changes.of(IMAGES, image=[image_id], variant=self._linked(change)))

    @staticmethod
    def _linked(change: Change) -> set[int]:
        return {*((change.before or {}).get("variant_ids") or ()), *((change.after or {}).get("variant_ids") or ())}

    def delete(self, image_id: int, *, expected_version: int, op_id: str | None = None) -> Change:
        """Remove the image from its gallery (the files stay in the store: other rows may share them)."""
        return self._write(lambda: images.delete_image(self._db, self._actor, image_id,
                                                       expected_version=expected_version),
                           lambda change: Changes.of(IMAGES, image=[image_id, *(c.entity_id for c in change.children)],
                                                     product=[(change.before or {}).get("product_id") or 0]))

    # -- edits and versions --------------------------------------------------------------------------------
    def edit(self, image_id: int, edits: list[dict[str, Any]], *, expected_version: int,
             settings: RenditionSettings | None = None, op_id: str | None = None) -> Change:
        """Crop / rotate / flip on top of the current version: a new version rendered from the original.
        ``edits``: ``{"op": "rotate", "degrees": 90}``, ``{"op": "flip", "axis": "horizontal"}``,
        ``{"op": "crop", "left": …, "top": …, "width": …, "height": …, "aspect": "1:1"}`` (fractions)."""
        return self._write(lambda: images.edit_image(self._db, self._actor, image_id, list(edits),
                                                     expected_version=expected_version, store=self._image_store(),
                                                     settings=settings, operation_id=op_id), _image_changes)

    def restore_version(self, image_id: int, number: int, *, expected_version: int, op_id: str | None = None) -> Change:
        """Make an older version current again, as a new version (the history only grows)."""
        return self._write(lambda: images.restore_version(self._db, self._actor, image_id, number,
                                                          expected_version=expected_version, operation_id=op_id),
                           _image_changes)

