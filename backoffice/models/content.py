"""Content: merchants' description templates and the rules the SEO and content checks apply.

- ``content_templates``: a named Jinja2 template (rendered in a sandbox, see
  ``services/templating.py``) that writes one product field: the description, the SEO title or the SEO
  (meta) description. Applying one to products is a changeset of those products (revertible).
- ``content_settings``: at most one row, the store's thresholds for the checks (how few words make a
  description thin, below which score a product needs attention). No row: the defaults.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.models.base import Base, EditableMixin

TEMPLATE_FIELDS = ("description", "seo_title", "seo_description")


class ContentTemplate(EditableMixin, Base):
    __tablename__ = "content_templates"
    __table_args__ = (
        CheckConstraint("target_field IN ('description', 'seo_title', 'seo_description')", name="target_field_known"),
    )

    name: Mapped[str] = mapped_column(String(100), unique=True)
    target_field: Mapped[str] = mapped_column(String(20), default="description", server_default="description")
    source: Mapped[str] = mapped_column(Text, default="", server_default="")
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")


class ContentSettings(EditableMixin, Base):
    __tablename__ = "content_settings"
    __table_args__ = (
        CheckConstraint("thin_words >= 0 AND thin_words <= 10000", name="thin_words_range"),
        CheckConstraint("attention_below >= 0 AND attention_below <= 100", name="attention_below_range"),
    )

    thin_words: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    attention_below: Mapped[int] = mapped_column(Integer, default=80, server_default="80")
