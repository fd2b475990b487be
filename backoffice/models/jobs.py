"""Scheduled jobs run without the app: their run history and the leases that keep two runs of one job
from overlapping.

- ``job_runs``: one row per run of a periodic job (``reports run-due``, ``stock alerts --send``,
  ``orders process``, ``store sync``), whoever started it (the OS scheduler, the desktop, the store
  API's server): when, on which host and process, as whom, and how it went (``running``, then ``ok``,
  ``failed`` or ``skipped`` when another run of the job held the lease).
- ``job_locks``: at most one row per job (and scope: a store's name for ``store sync``): the run holding
  it, and until when. A run renews its lease while it works; the lease of a run whose process died
  expires, and the next run takes it over (recording the dead run as failed). ``node`` says where the
  holder's process id means something (the kernel's boot and the pid namespace, on Linux): a run on the
  same node whose holder's process is gone takes the lease over at once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.models.base import Base, BigId, UTCDateTime, utcnow

JOB_RUN_STATES = ("running", "ok", "failed", "skipped")


class JobRun(Base):
    __tablename__ = "job_runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'ok', 'failed', 'skipped')", name="status_known"),
        Index("ix_job_runs_job_started_at", "job", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(String(100), default="", server_default="")
    status: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    host: Mapped[str] = mapped_column(String(255), default="", server_default="")
    pid: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    username: Mapped[str] = mapped_column(String(100), default="", server_default="")   # the Backoffice user
    os_user: Mapped[str] = mapped_column(String(100), default="", server_default="")    # the login on host


class JobLock(Base):
    """The lease of the run of one job (``name``: the job, or ``job:scope``) that is under way."""

    __tablename__ = "job_locks"

    name: Mapped[str] = mapped_column(String(150), primary_key=True)
    token: Mapped[str] = mapped_column(String(36))
    run_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("job_runs.id", ondelete="SET NULL"))
    host: Mapped[str] = mapped_column(String(255), default="", server_default="")
    pid: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    node: Mapped[str] = mapped_column(String(100), default="", server_default="")
    username: Mapped[str] = mapped_column(String(100), default="", server_default="")
    acquired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
