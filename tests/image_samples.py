"""Real image files for the image library tests, generated with Pillow."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from PIL import Image, ImageCms, ImageDraw

RED, BLUE = (220, 30, 30), (30, 30, 220)


def halves_jpeg(path: Path, size: tuple[int, int] = (600, 400), *, orientation: int = 1, quality: int = 95) -> Path:
    """Left half red, right half blue as stored, with an EXIF orientation tag and a camera make."""
    im = Image.new("RGB", size, BLUE)
    ImageDraw.Draw(im).rectangle((0, 0, size[0] // 2 - 1, size[1]), fill=RED)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    im.save(path, "JPEG", quality=quality, exif=exif.tobytes(), icc_profile=icc)
    return path


def noisy_jpeg(path: Path, size: tuple[int, int], seed: int = 0) -> Path:
    """A photo-like JPEG (so the web version is noticeably smaller than the original)."""
    import random

    rnd = random.Random(seed)
    im = Image.new("RGB", size, (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    draw = ImageDraw.Draw(im)
    for _ in range(40):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        r = rnd.randrange(10, max(11, size[0] // 6))
        draw.ellipse((x, y, x + r, y + r), fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    im.save(path, "JPEG", quality=95)
    return path


def alpha_png(path: Path, size: tuple[int, int] = (300, 200)) -> Path:
    """Transparent left half, opaque green right half."""
    im = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(im).rectangle((size[0] // 2, 0, size[0], size[1]), fill=(0, 160, 0, 255))
    im.save(path, "PNG")
    return path


def cmyk_jpeg(path: Path, size: tuple[int, int] = (320, 240)) -> Path:
    Image.new("CMYK", size, (0, 255, 255, 0)).save(path, "JPEG", quality=90)
    return path


def truncated_jpeg(path: Path) -> Path:
    noisy_jpeg(path, (400, 300), seed=7)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def text_as_jpeg(path: Path) -> Path:
    path.write_text("this is a shopping list, not a photo\n")
    return path


def bomb_png(path: Path, width: int = 40_000, height: int = 40_000) -> Path:
    """A few hundred bytes whose header claims ``width`` x ``height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path
