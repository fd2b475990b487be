"""The Pillow work of the image library: check an upload, normalise it, make web and thumbnail versions,
apply edits. Plain functions of paths and plain values, so they run in worker processes as well as in
the caller's thread (no database, no Qt).

Normalising: EXIF orientation applied (then every metadata block dropped), the embedded colour profile
converted to sRGB, transparency flattened onto white for JPEG, so a web version is always plain RGB (or
RGBA in WebP) in sRGB with no EXIF.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from backoffice.services.image_store import ImageStore

READ_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp")
WEB_FORMATS = ("jpeg", "webp")
MB = 1024 * 1024

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class ImageRejected(Exception):
    """This file cannot be used, for the reason given (shown to the user as it is)."""


@dataclass(frozen=True)
class RenditionSettings:
    """What ingest produces and what it refuses. Plain values: they travel to worker processes."""

    web_max_edge: int = 2048
    web_format: str = "jpeg"
    web_quality: int = 85
    thumb_edge: int = 320
    thumb_quality: int = 80
    max_bytes: int = 50 * MB
    max_pixels: int = Image.MAX_IMAGE_PIXELS or 89_478_485

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe_size(n: int) -> str:
    if n >= MB:
        return f"{n / MB:.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"


# -- reading -------------------------------------------------------------------------------------------
def read_source(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of an upload, refusing links (also one swapped in after the checks) and huge files."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if os.path.islink(path):
            raise ImageRejected("is a symbolic link; links are not followed") from exc
        raise ImageRejected(f"cannot be read: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageRejected(f"is larger than the limit of {describe_size(max_bytes)}")
    if not data:
        raise ImageRejected("is empty")
    return data


def open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """Open and fully decode ``data``; every way an upload can be bad becomes an ImageRejected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data), formats=READ_FORMATS)
        except Image.DecompressionBombError as exc:
            raise ImageRejected(f"is a decompression bomb: {_bomb_detail(exc)} (limit {max_pixels:,} pixels)") from exc
        except UnidentifiedImageError as exc:
            raise ImageRejected("is not an image (or not JPEG, PNG, WebP, GIF, TIFF or BMP)") from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageRejected(f"is damaged and cannot be read ({exc})") from exc
    width, height = im.size
    if width < 1 or height < 1:
        raise ImageRejected("has no pixels")
    if width * height > max_pixels:
        raise ImageRejected(f"is a decompression bomb: {width}x{height} = {width * height:,} pixels is over the "
                            f"limit of {max_pixels:,}")
    return im


def _bomb_detail(exc: Exception) -> str:
    text = str(exc)
    return text.split(" exceeds")[0] if " exceeds" in text else text


def _decode(im: Image.Image) -> None:
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = "truncated" if "truncated" in str(exc).lower() or isinstance(exc, EOFError) else "damaged"
        raise ImageRejected(f"is {reason} and cannot be read ({exc})") from exc


def normalise(im: Image.Image, *, draft_edge: int | None = None) -> Image.Image:
    """Decoded, oriented, in sRGB, mode RGB or RGBA, with no metadata left."""
    icc = im.info.get("icc_profile")
    if draft_edge and im.format in ("JPEG", "MPO"):
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still leaves at least the edge asked for.
        w, h = im.size
        scale = draft_edge / max(w, h)
        if scale < 1:
            im.draft(im.mode, (max(1, int(w * scale)), max(1, int(h * scale))))
    _decode(im)
    try:
        ImageOps.exif_transpose(im, in_place=True)   # in place: a 6-megapixel copy saved per image
    except (OSError, ValueError, SyntaxError):
        pass  # unreadable EXIF: keep the pixels as stored
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if icc and im.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            im = ImageCms.profileToProfile(im, source, _SRGB, outputMode="RGBA" if im.mode == "RGBA" else "RGB")
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a broken profile: treat the pixels as sRGB
    if im.mode not in ("RGB", "RGBA"):
        im = im.convert("RGBA" if has_alpha else "RGB")
    im.info = {}   # no EXIF, ICC profile or comments travel on to the web versions
    return im


def _flatten(im: Image.Image) -> Image.Image:
    if im.mode != "RGBA":
        return im
    if im.getextrema()[3][0] == 255:  # fully opaque
        return im.convert("RGB")
    background = Image.new("RGB", im.size, (255, 255, 255))
    background.paste(im, mask=im.getchannel("A"))
    return background


def encode(im: Image.Image, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "webp":
        im.save(buf, "WEBP", quality=quality, method=4)
    else:
        _flatten(im).save(buf, "JPEG", quality=quality, optimize=True, progressive=True)
    return buf.getvalue()


def _fit(im: Image.Image, edge: int) -> Image.Image:
    """``im`` scaled down so its longer side is ``edge`` (as it is when already smaller)."""
    w, h = im.size
    if max(w, h) <= edge:
        return im
    scale = edge / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return im.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


# -- edits ---------------------------------------------------------------------------------------------
ASPECT_PRESETS: dict[str, tuple[int, int] | None] = {"1:1": (1, 1), "4:5": (4, 5), "16:9": (16, 9), "free": None}


def aspect_box(width: int, height: int, aspect: str) -> dict[str, float]:
    """The largest centred crop of the given aspect ("1:1", "4:5", "16:9"; "free" = everything), as
    fractions of the image: the ``crop`` edit for that preset."""
    ratio = ASPECT_PRESETS.get(aspect)
    if ratio is None:
        return {"left": 0.0, "top": 0.0, "width": 1.0, "height": 1.0}
    target = ratio[0] / ratio[1]
    if width / height > target:
        w = height * target / width
        return {"left": (1 - w) / 2, "top": 0.0, "width": w, "height": 1.0}
    h = width / target / height
    return {"left": 0.0, "top": (1 - h) / 2, "width": 1.0, "height": h}


def apply_edits(im: Image.Image, edits: list[dict[str, Any]]) -> Image.Image:
    """Crop (fractions of the image at that step), rotate (clockwise, multiples of 90) and flip, in order."""
    for edit in edits:
        op = edit["op"]
        if op == "rotate":
            turns = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
            im = im.transpose(turns[int(edit["degrees"]) % 360]) if int(edit["degrees"]) % 360 else im
        elif op == "flip":
            im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT if edit["axis"] == "horizontal"
                              else Image.Transpose.FLIP_TOP_BOTTOM)
        elif op == "crop":
            w, h = im.size
            left, top = round(edit["left"] * w), round(edit["top"] * h)
            right = min(w, max(left + 1, round((edit["left"] + edit["width"]) * w)))
            bottom = min(h, max(top + 1, round((edit["top"] + edit["height"]) * h)))
            im = im.crop((left, top, right, bottom))
    return im


# -- the two jobs ----------------------------------------------------------------------------------------
def _renditions(im: Image.Image, store: ImageStore, settings: RenditionSettings) -> dict[str, Any]:
    web = _fit(im, settings.web_max_edge)
    web_bytes = encode(web, settings.web_format, settings.web_quality)
    thumb = _fit(web, settings.thumb_edge)
    thumb_bytes = encode(thumb, settings.web_format, settings.thumb_quality)
    web_hash, _ = store.put_bytes(web_bytes)
    thumb_hash, _ = store.put_bytes(thumb_bytes)
    return {"web_hash": web_hash, "web_width": web.width, "web_height": web.height, "web_bytes": len(web_bytes),
            "web_format": settings.web_format, "thumb_hash": thumb_hash}


def process_upload(path: str, store_root: str, settings: RenditionSettings) -> dict[str, Any]:
    """Check one file, keep its original in the store and make its web version and thumbnail.
    Returns plain values for the database row; raises ImageRejected with the reason."""
    store = ImageStore(store_root)
    data = read_source(path, settings.max_bytes)
    im = open_checked(data, settings.max_pixels)
    original_format = (im.format or "").upper()
    full_w, full_h = im.size
    orientation = _orientation(im)
    normal = normalise(im, draft_edge=settings.web_max_edge)
    width, height = (full_h, full_w) if orientation in (5, 6, 7, 8) else (full_w, full_h)
    content_hash, _ = store.put_bytes(data)
    out = {"content_hash": content_hash, "original_format": original_format, "original_bytes": len(data),
           "width": width, "height": height}
    out.update(_renditions(normal, store, settings))
    return out


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1) or 1)
    except (OSError, ValueError, SyntaxError, TypeError):
        return 1


def render_version(store_root: str, content_hash: str, edits: list[dict[str, Any]],
                   settings: RenditionSettings) -> dict[str, Any]:
    """The renditions of the original after ``edits`` (always from the original: no loss piles up)."""
    store = ImageStore(store_root)
    im = open_checked(store.read_bytes(content_hash), max(settings.max_pixels, 1))
    normal = normalise(im)
    return _renditions(apply_edits(normal, edits), store, settings)


def process_one(index: int, path: str, store_root: str, settings: RenditionSettings) -> tuple[int, bool, Any]:
    """The worker-process entry point: never raises for a bad file, it reports it."""
    try:
        return index, True, process_upload(path, store_root, settings)
    except ImageRejected as exc:
        return index, False, str(exc)
    except MemoryError:
        return index, False, "is too large to process in memory"
    except OSError as exc:
        return index, False, f"could not be processed: {exc}"
