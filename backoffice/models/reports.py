"""Reports: saved report definitions, their schedules and the run history of each schedule.

A definition is a JSON document (see ``backoffice.reports.definition``); built-in reports live in code
and are not stored. A schedule names its report (built-in or saved) by name. Each run of a schedule is
one row per (schedule, due time): the UNIQUE pair is what makes a due slot run once even when two
machines call ``backoffice reports run-due`` at the same moment.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.models.base import Base, BigId, EditableMixin, JsonDoc, UTCDateTime, utcnow


class SavedReport(EditableMixin, Base):
    __tablename__ = "saved_reports"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"), index=True)


class ReportSchedule(EditableMixin, Base):
    """When a report runs by itself and where the file goes.

    ``kind`` is daily, weekdays, weekly (on ``weekday``, 0 = Monday) or monthly (on ``day_of_month``; a
    month shorter than that runs on its last day), at ``at_time`` ("HH:MM") in ``timezone``. Slots before
    ``starts_at`` never run, so a new schedule does not fire for a time already passed today."""

    __tablename__ = "report_schedules"

    report_name: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    at_time: Mapped[str] = mapped_column(String(5))
    weekday: Mapped[int | None] = mapped_column(Integer)
    day_of_month: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    params: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    format: Mapped[str] = mapped_column(String(4), default="xlsx", server_default="xlsx")
    folder_pattern: Mapped[str] = mapped_column(String(500), default="", server_default="")
    email_to: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    subject: Mapped[str] = mapped_column(String(300), default="", server_default="")
    body: Mapped[str] = mapped_column(Text, default="", server_default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"), index=True)


class ReportRun(Base):
    """One attempt at one due slot of a schedule: running, ok or failed (with the reason). A failed slot
    is tried again by the next run-due call (``attempts`` counts them); an ok one never again."""

    __tablename__ = "report_runs"
    __table_args__ = (
        UniqueConstraint("schedule_id", "due_at"),
        Index("ix_report_runs_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(BigId, ForeignKey("report_schedules.id", ondelete="CASCADE"))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    rows: Mapped[int | None] = mapped_column(Integer)
    output: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    runner: Mapped[str] = mapped_column(String(200), default="", server_default="")
