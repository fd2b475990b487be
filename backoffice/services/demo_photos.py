"""Product photos for the demo store: a Pillow-drawn picture per product shape and colour.

A bounded set of distinct pictures (one per shape the catalog's kinds are drawn as, times the colours the
demo uses: at most ``len(SHAPES) * len(COLOUR_RGB)``) is drawn and then goes through the same path as an
upload (``image_processing.process_upload``: the original kept in the content-addressed store, a web
version and a thumbnail made from it), in worker processes of a spawn pool like the upload pool. The
demo generator reuses each picture for every product of that shape and colour, so thumbnails, the
Images view and the grid's pictures all have something real to show. Same picture, same bytes, same
hashes: the demo store stays deterministic.

Kept small and free of database imports: the worker processes import only this module and Pillow.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import io
import json
import multiprocessing
import os
import tempfile
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageDraw

from backoffice.services.image_processing import RenditionSettings, process_upload
from backoffice.services.image_store import ImageStore

EDGE = 320  # the thumbnail size: the web version needs no second resize
MANIFEST_VERSION = 1
BACKGROUND = (241, 239, 235)
WORKERS = 2

# Colour name (as the demo's colour attribute spells it) -> RGB.
COLOUR_RGB: dict[str, tuple[int, int, int]] = {
    "Black": (34, 34, 38), "White": (250, 250, 248), "Navy": (31, 46, 94), "Grey": (140, 142, 146),
    "Beige": (214, 196, 164), "Camel": (193, 142, 84), "Olive": (107, 112, 56), "Forest Green": (34, 85, 51),
    "Burgundy": (118, 28, 46), "Red": (196, 36, 40), "Pink": (236, 156, 176), "Sky Blue": (120, 176, 226),
    "Mustard": (215, 168, 40), "Charcoal": (60, 63, 68), "Brown": (105, 70, 42), "Cream": (242, 232, 206),
}

# Demo product kind -> the shape it is drawn as.
SHAPE_OF_KIND: dict[str, str] = {
    "sweater": "top", "tshirt": "top", "shirt": "top", "kids_top": "top", "dress": "dress",
    "jacket": "jacket", "kids_outer": "jacket", "trousers": "trousers", "kids_bottom": "trousers",
    "skirt": "skirt", "scarf": "scarf", "bag": "bag", "hat": "hat", "belt": "belt", "wallet": "wallet",
    "sneakers": "shoe", "boots": "boot", "sandals": "shoe", "bedding": "folded", "towels": "folded",
    "throws": "folded", "cushions": "cushion",
}
SHAPES = sorted(set(SHAPE_OF_KIND.values()))

Progress = Callable[[int, int], None]


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    if factor >= 1:
        return tuple(int(c + (255 - c) * (factor - 1)) for c in rgb)  # type: ignore[return-value]
    return tuple(int(c * factor) for c in rgb)  # type: ignore[return-value]


def draw(shape: str, colour: str, edge: int = EDGE) -> bytes:
    """The PNG bytes of one picture (deterministic: same arguments, same bytes)."""
    rgb = COLOUR_RGB[colour]
    dark, light = _shade(rgb, 0.78), _shade(rgb, 1.18)
    outline = (200, 198, 194) if sum(rgb) > 690 else dark   # pale colours need an edge on the pale ground
    im = Image.new("RGB", (edge, edge), BACKGROUND)
    d = ImageDraw.Draw(im)
    s = edge / 480.0

    def p(*xy: float) -> list[tuple[float, float]]:
        return [(xy[i] * s, xy[i + 1] * s) for i in range(0, len(xy), 2)]

    d.ellipse(p(110, 420, 370, 450), fill=(226, 223, 218))   # shadow on the floor
    kw = {"fill": rgb, "outline": outline, "width": max(2, int(3 * s))}
    if shape in ("top", "jacket"):
        sleeve = 300 if shape == "jacket" else 200
        d.polygon(p(150, 100, 90, 130, 50, sleeve, 100, sleeve + 15, 150, 170), **kw)
        d.polygon(p(330, 100, 390, 130, 430, sleeve, 380, sleeve + 15, 330, 170), **kw)
        d.rounded_rectangle(p(140, 95, 340, 410), radius=18 * s, **kw)
        d.chord(p(200, 70, 280, 130), 0, 180, fill=BACKGROUND, outline=outline, width=kw["width"])
        if shape == "jacket":
            d.line(p(240, 130, 240, 405), fill=dark, width=max(2, int(4 * s)))
            d.rectangle(p(170, 280, 215, 320), outline=dark, width=max(1, int(2 * s)))
            d.rectangle(p(265, 280, 310, 320), outline=dark, width=max(1, int(2 * s)))
    elif shape == "dress":
        d.polygon(p(190, 70, 290, 70, 300, 180, 380, 410, 100, 410, 180, 180), **kw)
        d.line(p(180, 180, 300, 180), fill=dark, width=max(2, int(4 * s)))
    elif shape == "trousers":
        d.polygon(p(160, 60, 320, 60, 340, 415, 260, 415, 240, 170, 220, 415, 140, 415), **kw)
        d.rectangle(p(160, 60, 320, 85), fill=dark)
    elif shape == "skirt":
        d.polygon(p(180, 120, 300, 120, 370, 360, 110, 360), **kw)
        d.rectangle(p(180, 120, 300, 145), fill=dark)
    elif shape == "scarf":
        d.rounded_rectangle(p(150, 60, 250, 420), radius=20 * s, **kw)
        d.rounded_rectangle(p(230, 60, 330, 330), radius=20 * s, fill=light, outline=outline, width=kw["width"])
        for y in range(395, 425, 8):
            d.line(p(160, y, 240, y), fill=dark, width=max(1, int(2 * s)))
    elif shape == "bag":
        d.arc(p(170, 60, 310, 220), 180, 360, fill=dark, width=max(4, int(14 * s)))
        d.rounded_rectangle(p(110, 140, 370, 410), radius=26 * s, **kw)
        d.rectangle(p(110, 200, 370, 215), fill=dark)
    elif shape == "hat":
        d.ellipse(p(70, 280, 410, 360), **kw)
        d.chord(p(140, 110, 340, 420), 180, 360, **kw)
        d.rectangle(p(142, 250, 338, 272), fill=dark)
    elif shape == "belt":
        d.rounded_rectangle(p(40, 215, 440, 265), radius=10 * s, **kw)
        d.rectangle(p(300, 200, 350, 280), outline=(180, 170, 130), width=max(3, int(7 * s)))
    elif shape == "wallet":
        d.rounded_rectangle(p(100, 140, 380, 350), radius=18 * s, **kw)
        d.polygon(p(100, 160, 380, 160, 380, 240, 100, 240), fill=light, outline=outline)
        d.ellipse(p(330, 190, 350, 210), fill=dark)
    elif shape in ("shoe", "boot"):
        top = 120 if shape == "boot" else 230
        d.polygon(p(80, 400, 80, 330, 160, 300, 200, top, 290, top, 300, 300, 400, 340, 410, 400), **kw)
        d.rectangle(p(75, 395, 415, 415), fill=dark)
        d.line(p(200, 300, 300, 300), fill=light, width=max(2, int(4 * s)))
    elif shape == "folded":
        for i, y in enumerate((330, 250, 170)):
            fill = rgb if i % 2 == 0 else light
            d.rounded_rectangle(p(90 + 10 * i, y, 390 - 10 * i, y + 80), radius=12 * s, fill=fill,
                                outline=outline, width=kw["width"])
    else:  # cushion
        d.rounded_rectangle(p(100, 110, 380, 390), radius=50 * s, **kw)
        d.rounded_rectangle(p(130, 140, 350, 360), radius=35 * s, outline=dark, width=max(1, int(2 * s)))
    out = io.BytesIO()
    im.save(out, "PNG", compress_level=1)
    return out.getvalue()


def make_one(index: int, shape: str, colour: str, store_root: str, settings: RenditionSettings) -> tuple[int, dict[str, Any]]:
    """Worker entry point: draw the picture, then process it exactly like an uploaded file."""
    with tempfile.TemporaryDirectory(prefix="backoffice-demo-") as folder:
        path = os.path.join(folder, f"{shape}-{colour}.png")
        with open(path, "wb") as fh:
            fh.write(draw(shape, colour))
        return index, process_upload(path, store_root, settings)


def make_photos(keys: list[tuple[str, str]], store_root: str, *, settings: RenditionSettings | None = None,
                workers: int = WORKERS, cancel: Callable[[], bool] | None = None,
                progress: Progress | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """Row values (content hash, size, web and thumbnail hashes…) of each (shape, colour) picture, made
    in ``workers`` spawned processes (0: in this thread). Returns {} when cancelled."""
    settings = settings or RenditionSettings()
    made = _made_before(store_root, settings)
    out = {k: made[k] for k in keys if k in made}
    todo = [k for k in keys if k not in out]
    if todo:
        fresh = _make(todo, store_root, settings, workers, cancel, progress, len(out), len(keys))
        if cancel is not None and cancel():
            return {}
        out.update(fresh)
        _remember(store_root, settings, {**made, **fresh})
    elif progress is not None:
        progress(len(keys), len(keys))
    return out


def _manifest(store_root: str, settings: RenditionSettings) -> str:
    """A file beside the store's content recording which pictures were already made with these settings
    (the pictures are deterministic, so a second demo store reuses them instead of drawing them again)."""
    tag = hashlib.sha256(json.dumps([MANIFEST_VERSION, EDGE, settings.to_dict()], sort_keys=True).encode()).hexdigest()
    return os.path.join(store_root, "demo-photos", f"{tag[:16]}.json")


def _made_before(store_root: str, settings: RenditionSettings) -> dict[tuple[str, str], dict[str, Any]]:
    try:
        with open(_manifest(store_root, settings), encoding="utf-8") as fh:
            rows = json.load(fh)
        store = ImageStore(store_root)
        return {(r["shape"], r["colour"]): r["values"] for r in rows
                if all(store.has(r["values"][h]) for h in ("content_hash", "web_hash", "thumb_hash"))}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _remember(store_root: str, settings: RenditionSettings, made: dict[tuple[str, str], dict[str, Any]]) -> None:
    path = _manifest(store_root, settings)
    rows = [{"shape": k[0], "colour": k[1], "values": v} for k, v in sorted(made.items())]
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(rows, fh)
        os.replace(tmp, path)
    except OSError:
        pass  # only a cache: the next demo store draws the pictures again


def _make(keys: list[tuple[str, str]], store_root: str, settings: RenditionSettings, workers: int,
          cancel: Callable[[], bool] | None, progress: Progress | None, done_before: int,
          total: int) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    if workers <= 0:
        for i, (shape, colour) in enumerate(keys):
            if cancel is not None and cancel():
                return {}
            out[keys[i]] = make_one(i, shape, colour, store_root, settings)[1]
            if progress is not None:
                progress(done_before + i + 1, total)
        return out
    context = multiprocessing.get_context("spawn")  # as the upload pool: no fork of a threaded process
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending = {pool.submit(make_one, i, shape, colour, store_root, settings) for i, (shape, colour) in enumerate(keys)}
        while pending:
            if cancel is not None and cancel():
                pool.shutdown(wait=True, cancel_futures=True)
                return {}
            done, pending = cf.wait(pending, timeout=0.1, return_when=cf.FIRST_COMPLETED)
            for f in done:
                i, values = f.result()
                out[keys[i]] = values
            if done and progress is not None:
                progress(done_before + len(out), total)
    return out
