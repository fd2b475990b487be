"""Store-wide settings shared by every user of a database (for example the outgoing mail server used by
alert digests and scheduled reports). Values are JSON documents; secrets never go here: they live in the
OS keyring of the machine that sends."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.models.base import Base, EditableMixin, JsonDoc


class StoreSetting(EditableMixin, Base):
    __tablename__ = "store_settings"

    key: Mapped[str] = mapped_column(String(100), unique=True)
    value: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
