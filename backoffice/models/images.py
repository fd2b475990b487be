"""The image library beyond the gallery row: which variants show an image, and its edit versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.models.base import Base, BigId, JsonDoc, utcnow


class ProductImageVariant(Base):
    """One variant showing one image ("all Red variants" are several rows for the same image)."""

    __tablename__ = "product_image_variants"

    image_id: Mapped[int] = mapped_column(BigId, ForeignKey("product_images.id", ondelete="CASCADE"), primary_key=True)
    variant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ImageVersion(Base):
    """One version of an image: the edits (crop, rotate, flip) applied to the original, in order, and the
    renditions they produced. Append-only; restoring an older version adds a new one with its edits."""

    __tablename__ = "image_versions"
    __table_args__ = (UniqueConstraint("image_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    image_id: Mapped[int] = mapped_column(BigId, ForeignKey("product_images.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    edits: Mapped[list[Any]] = mapped_column(JsonDoc)
    note: Mapped[str] = mapped_column(String(200), default="", server_default="")
    web_hash: Mapped[str] = mapped_column(String(64))
    web_width: Mapped[int] = mapped_column(Integer)
    web_height: Mapped[int] = mapped_column(Integer)
    web_bytes: Mapped[int] = mapped_column(Integer)
    thumb_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="", server_default="")
