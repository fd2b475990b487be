"""The images area over HTTP: each product's ordered gallery, uploads, the image files by content hash,
alt text, the variants an image is shown for, and edits (crop, rotate, flip) kept as versions.

``POST /v1/products/{id}/images`` takes one or more files (``multipart/form-data``, field ``files``):
each is matched to the product (or to one of its variants when its name carries the SKU), checked,
optimised and stored; the answer lists every file's outcome. Files are served by their SHA-256 at
``/v1/images/content/{hash}``: content-addressed, so they never change, and are cached for a year
(``ETag`` is the hash; ``If-None-Match`` gives 304). Each image has an ``ETag`` from its version, and
every edit takes ``If-Match``.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from backoffice.operations import NotFound, ValidationError
from backoffice.operations.images import GalleryImage
from backoffice.server.http import IDEMPOTENT_RESPONSES, IF_MATCH_RESPONSES, expected_version, idempotent, with_etag
from backoffice.server.routes.variants import MAX_ID, current_on_conflict, plain, text_field
from backoffice.server.security import Caller, route

TAG = "images"
CONTENT_PATH = "/v1/images/content/"
CACHE_FOREVER = "public, max-age=31536000, immutable"
MAX_FILES = 500

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
ContentHash = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="The SHA-256 of the file (lower-case hex)")]
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
Version = Annotated[int, Field(ge=0, le=MAX_ID)]


# -- representations ---------------------------------------------------------------------------------------
def content_url(content_hash: str | None) -> str | None:
    return CONTENT_PATH + content_hash if content_hash else None


def image_json(image: GalleryImage) -> dict[str, Any]:
    """An image as the API shows it: its row, and where its web version and thumbnail are."""
    body = plain(image)
    body.update(is_main=image.is_main, missing_alt=image.missing_alt, web_url=content_url(image.web_hash),
                thumb_url=content_url(image.thumb_hash))
    return body


def image_response(image: GalleryImage) -> JSONResponse:
    return with_etag(image_json(image), image.version)


def media_type_of(data: bytes) -> str:
    """The media type of an image file from its own header (Pillow reads only that)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.get_format_mimetype() or "application/octet-stream"
    except (UnidentifiedImageError, OSError, ValueError):
        return "application/octet-stream"


def safe_name(name: str | None, n: int) -> str:
    """The file's own name (no folders, at most 200 bytes), usable on this machine; ``upload-N`` when it
    has none."""
    base = re.split(r"[\\/]", name or "")[-1].replace("\x00", "").strip()
    if base in ("", ".", ".."):
        base = f"upload-{n}"
    elif base.startswith("."):          # a hidden name (".png") would be skipped as hidden: give it a stem
        base = f"upload-{n}{base}"
    stem, suffix = os.path.splitext(base)
    suffix = suffix.encode()[:20].decode(errors="ignore")
    room = 200 - len(suffix.encode())          # bytes: file systems allow 255 per name
    return stem.encode()[:room].decode(errors="ignore") + suffix


# -- request bodies ----------------------------------------------------------------------------------------
class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AltText(Body):
    alt_text: Annotated[str, text_field(1000)]


class Order(Body):
    """Every image of the gallery once, in the new order (the first is the main image), with the version
    of each as read."""

    image_ids: list[RowId] = Field(min_length=1, max_length=10_000)
    versions: dict[RowId, Version] = Field(default_factory=dict, max_length=10_000)


class Variants(Body):
    variant_ids: list[RowId] = Field(default_factory=list, max_length=10_000,
                                     description="The variants the image is shown for; none: all of them")


class ByOption(Body):
    attribute: Annotated[str, text_field(100, 1)]
    value: Annotated[str, text_field(200, 1)]
    replace: bool = Field(True, description="false: add these variants to those the image has")


class Rotate(Body):
    op: Literal["rotate"]
    degrees: Literal[90, 180, 270, -90, -180, -270]


class Flip(Body):
    op: Literal["flip"]
    axis: Literal["horizontal", "vertical"]


class Crop(Body):
    op: Literal["crop"]
    left: Annotated[float, Field(ge=0, lt=1)]
    top: Annotated[float, Field(ge=0, lt=1)]
    width: Annotated[float, Field(gt=0, le=1)]
    height: Annotated[float, Field(gt=0, le=1)]
    aspect: Literal["1:1", "4:5", "16:9", "free"] = "free"


class Edits(Body):
    edits: list[Annotated[Rotate | Flip | Crop, Field(discriminator="op")]] = Field(min_length=1, max_length=50)


# -- routes ------------------------------------------------------------------------------------------------
def register(router: APIRouter) -> None:
    register_reads(router)
    register_upload(router)
    register_edits(router)


def register_reads(router: APIRouter) -> None:
    @route(router, "GET", "/products/{product_id}/images", "images.gallery", tags=[TAG],
           responses={404: {"description": "No such product"}})
    def gallery(product_id: Id, *, caller: Caller) -> dict[str, Any]:
        """The product's images in gallery order (the first is the main image), with their variants."""
        items = caller.ops.images.gallery(product_id)
        if not items:
            caller.ops.variants.matrix(product_id)          # NotFound for an unknown product
        return {"product_id": product_id, "items": [image_json(i) for i in items]}

    @route(router, "GET", "/images/{image_id}", "images.image", tags=[TAG],
           responses={404: {"description": "No such image"}})
    def get_image(image_id: Id, *, caller: Caller) -> JSONResponse:
        """One image; ``ETag`` is its version (send it as If-Match with an edit)."""
        return image_response(caller.ops.images.image(image_id))

    @route(router, "GET", "/images/{image_id}/versions", "images.versions", tags=[TAG],
           responses={404: {"description": "No such image"}})
    def versions(image_id: Id, *, caller: Caller) -> dict[str, Any]:
        """The image's versions (each edit or restore makes one), newest first."""
        caller.ops.images.image(image_id)
        items = []
        for v in caller.ops.images.versions(image_id):
            body = plain(v)
            body.update(web_url=content_url(v.web_hash), thumb_url=content_url(v.thumb_hash))
            items.append(body)
        return {"image_id": image_id, "items": items}

    @route(router, "GET", "/images/content/{content_hash}", "images.read_files", tags=[TAG],
           response_class=Response,
           responses={200: {"description": "The file's bytes", "content": {"image/*": {}}},
                      304: {"description": "The client's copy (If-None-Match) is this file"},
                      404: {"description": "The store has no file with this hash"}})
    def content(content_hash: ContentHash, request: Request, *, caller: Caller) -> Response:
        """An image file by the SHA-256 of its bytes (an original, a web version or a thumbnail). It never
        changes: ``ETag`` is the hash, and it may be cached for a year."""
        tag = f'"{content_hash}"'
        headers = {"ETag": tag, "Cache-Control": CACHE_FOREVER}
        wanted = request.headers.get("if-none-match")
        if wanted is not None and tag in [t.strip().removeprefix("W/") for t in wanted.split(",")]:
            return Response(status_code=304, headers=headers)     # the client has these bytes: they never change
        data = caller.ops.images.read_files([content_hash]).get(content_hash)
        if data is None:
            raise NotFound(f"the image store has no file {content_hash}")
        return Response(data, media_type=media_type_of(data), headers=headers)


def register_upload(router: APIRouter) -> None:
    @route(router, "POST", "/products/{product_id}/images", "images.upload", tags=[TAG], status_code=201,
           responses={**IDEMPOTENT_RESPONSES, 200: {"description": "Nothing new: every file was already there"},
                      404: {"description": "No such product"}})
    async def upload(product_id: Id, request: Request,
                     files: Annotated[list[UploadFile], File(description="The image files (JPEG, PNG, WebP, …)")],
                     pattern: Annotated[str | None, Form(max_length=200, pattern=r"^[^\x00]*$",
                                                         description="How names carry a SKU ({sku}_{n}); "
                                                                     "default: auto")] = None, *,
                     caller: Caller) -> Response:
        """Add image files to the product's gallery: each name is matched to one of the product's variants
        by SKU (else the image is the product's), then checked, optimised and stored. 201 with every
        file's outcome when some were added; 422 with a row per file when none could be (not an image,
        empty, too large)."""
        if len(files) > MAX_FILES:
            raise ValidationError([("files", "", f"{len(files)} files; send at most {MAX_FILES} at once")])
        received = [(safe_name(f.filename, n), await f.read()) for n, f in enumerate(files, start=1)]
        payload = {"product_id": product_id, "pattern": pattern,
                   "files": [[name, hashlib.sha256(data).hexdigest()] for name, data in received]}
        return await run_in_threadpool(idempotent, request, caller, payload,
                                       lambda op_id: store_uploads(caller, product_id, received, pattern, op_id))


def store_uploads(caller: Caller, product_id: int, received: list[tuple[str, bytes]], pattern: str | None,
                  op_id: str) -> Response:
    """Plan and ingest the received files from a folder of their own (removed afterwards)."""
    handle = caller.ops.variants.matrix(product_id).handle       # NotFound for an unknown product
    with tempfile.TemporaryDirectory(prefix="backoffice-upload-") as folder:
        paths = []
        for n, (name, data) in enumerate(received):
            os.makedirs(os.path.join(folder, str(n)))
            path = os.path.join(folder, str(n), name)
            with open(path, "wb") as out:
                out.write(data)
            paths.append(path)
        plan = caller.ops.images.plan_upload(paths, pattern=pattern, product_handle=handle)
        refused = [(f.name, "file", f.reason) for f in plan.rejected + plan.unmatched]
        refused += [(f.name, "file", "fits several variants: name it by one SKU") for f in plan.ambiguous]
        result = caller.ops.images.upload(plan.matched, op_id=op_id) if plan.matched else None

    outcomes = [plain(o) | {"path": None} for o in (result.outcomes if result else [])]
    refused += [(o.name, "file", o.message) for o in (result.outcomes if result else []) if o.status == "failed"]
    added = [o for o in (result.outcomes if result else []) if o.status == "added"]
    duplicates = [o for o in (result.outcomes if result else []) if o.status == "duplicate"]
    if not added and not duplicates:
        raise ValidationError(refused or [("files", "", "no file was sent")])
    body = {"product_id": product_id, "added": len(added), "duplicates": len(duplicates), "outcomes": outcomes,
            "refused": [{"row": r, "field": f, "message": m} for r, f, m in refused],
            "images": [image_json(i) for i in caller.ops.images.gallery(product_id)
                       if i.id in {o.image_id for o in added}]}
    return JSONResponse(body, status_code=201 if added else 200)


def register_edits(router: APIRouter) -> None:
    def current(caller: Caller, image_id: int) -> Any:  # noqa: ANN401
        return lambda: image_json(caller.ops.images.image(image_id))

    @route(router, "PATCH", "/images/{image_id}", "images.set_alt_text", tags=[TAG], responses=IF_MATCH_RESPONSES)
    def set_alt_text(image_id: Id, body: AltText, request: Request, *, caller: Caller) -> JSONResponse:
        """Set the image's alt text (what a screen reader says; empty marks it as missing)."""
        version = expected_version(request)
        with current_on_conflict(current(caller, image_id)):
            caller.ops.images.set_alt_text(image_id, body.alt_text, expected_version=version)
        return image_response(caller.ops.images.image(image_id))

    @route(router, "POST", "/images/{image_id}/main", "images.set_main", tags=[TAG], responses=IF_MATCH_RESPONSES)
    def set_main(image_id: Id, request: Request, *, caller: Caller) -> JSONResponse:
        """Make the image the product's main one (first); the others keep their order behind it."""
        version = expected_version(request)
        with current_on_conflict(current(caller, image_id)):
            caller.ops.images.set_main(image_id, expected_version=version)
        return image_response(caller.ops.images.image(image_id))

    @route(router, "PUT", "/products/{product_id}/images/order", "images.reorder", tags=[TAG],
           responses={409: {"description": "An image changed since it was read: ``current`` is the gallery now"}})
    def reorder(product_id: Id, body: Order, *, caller: Caller) -> dict[str, Any]:
        """Put the gallery in this order: every image once, each with the version read (``versions``: the
        gallery has no version of its own, so the body carries its images' versions instead of If-Match)."""
        missing = [i for i in body.image_ids if i not in body.versions]
        if missing:
            raise ValidationError([(f"image {i}", "versions", "give the version you read") for i in missing])
        with current_on_conflict(lambda: {"items": [image_json(i) for i in caller.ops.images.gallery(product_id)]}):
            caller.ops.images.reorder(product_id, list(body.image_ids),
                                      expected_versions={i: body.versions[i] for i in body.image_ids})
        return {"product_id": product_id, "items": [image_json(i) for i in caller.ops.images.gallery(product_id)]}

    @route(router, "PUT", "/images/{image_id}/variants", "images.assign_variants", tags=[TAG],
           responses=IF_MATCH_RESPONSES)
    def assign_variants(image_id: Id, body: Variants, request: Request, *, caller: Caller) -> JSONResponse:
        """Show the image for exactly these variants of its product (none: for all of them)."""
        version = expected_version(request)
        with current_on_conflict(current(caller, image_id)):
            caller.ops.images.assign_variants(image_id, list(body.variant_ids), expected_version=version)
        return image_response(caller.ops.images.image(image_id))

    @route(router, "POST", "/images/{image_id}/variants/by-option", "images.assign_by_option", tags=[TAG],
           responses=IF_MATCH_RESPONSES)
    def assign_by_option(image_id: Id, body: ByOption, request: Request, *, caller: Caller) -> JSONResponse:
        """Show the image for every variant of its product with this option value ("all Red variants")."""
        version = expected_version(request)
        with current_on_conflict(current(caller, image_id)):
            caller.ops.images.assign_by_option(image_id, body.attribute, body.value, expected_version=version,
                                               replace=body.replace)
        return image_response(caller.ops.images.image(image_id))

    @route(router, "DELETE", "/images/{image_id}", "images.delete", tags=[TAG], status_code=204,
           responses=IF_MATCH_RESPONSES)
    def delete(image_id: Id, request: Request, *, caller: Caller) -> Response:
        """Remove the image from its gallery (its files stay in the store: other rows may share them)."""
        version = expected_version(request)
        with current_on_conflict(current(caller, image_id)):
            caller.ops.images.delete(image_id, expected_version=version)
        return Response(status_code=204)

    @route(router, "POST", "/images/{image_id}/edits", "images.edit", tags=[TAG], responses=IF_MATCH_RESPONSES)
    def edit(image_id: Id, body: Edits, request: Request, *, caller: Caller) -> JSONResponse:
        """Crop / rotate / flip on top of the current version: a new version, rendered from the original."""
        version = expected_version(request)
        with current_on_conflict(current(caller, image_id)):
            caller.ops.images.edit(image_id, [e.model_dump() for e in body.edits], expected_version=version)
        return image_response(caller.ops.images.image(image_id))

    @route(router, "POST", "/images/{image_id}/versions/{number}/restore", "images.restore_version", tags=[TAG],
           responses=IF_MATCH_RESPONSES)
    def restore_version(image_id: Id, number: Annotated[int, Path(ge=1, le=MAX_ID)], request: Request, *,
                        caller: Caller) -> JSONResponse:
        """Make an older version current again, as a new version (the history only grows)."""
        version = expected_version(request)
        with current_on_conflict(current(caller, image_id)):
            caller.ops.images.restore_version(image_id, number, expected_version=version)
        return image_response(caller.ops.images.image(image_id))
