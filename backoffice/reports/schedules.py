"""Report schedules: what a schedule says (:class:`ScheduleSpec`), when each is due, the checks a schedule
must pass, and reading schedules and their runs. Creating and deleting schedules, and running what is due
(claiming each slot once, delivering the file to a folder and/or by e-mail, recording the run), are
writes of ``backoffice.services.report_state``.

Due times: a schedule has one slot per matching local day (daily, weekdays, weekly on a day, monthly on a
day, the last day of a shorter month) at its time in its time zone, converted to UTC. A local time that
does not exist on a spring-forward day runs at the same offset as before the change (02:30 becomes
03:30); an ambiguous one on a fall-back day runs at its first occurrence. Either way one slot per day.

Run-due looks at the *latest* slot not in the future of each schedule: a slot missed while nothing
called run-due is run once by the next call, and older missed slots are not replayed.
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from backoffice.db import Database
from backoffice.models import ReportRun, ReportSchedule, utcnow
from backoffice.reports.compiler import resolve_params
from backoffice.reports.definition import DefinitionError
from backoffice.reports.exporters import FORMATS
from backoffice.reports.library import get_report
from backoffice.services.base import NotFound, ValidationError

KINDS = ("daily", "weekdays", "weekly", "monthly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
STALE_RUNNING = dt.timedelta(hours=2)    # a "running" row older than this was left by a crashed process
PLACEHOLDERS = {"report", "date", "format", "title"}
MIME = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv",
        "pdf": "application/pdf"}


@dataclass
class ScheduleSpec:
    report_name: str
    kind: str = "daily"
    at_time: str = "07:00"
    weekday: int | None = None
    day_of_month: int | None = None
    timezone: str = "UTC"
    params: dict[str, Any] = field(default_factory=dict)
    format: str = "xlsx"
    folder_pattern: str = ""
    email_to: list[str] = field(default_factory=list)
    subject: str = ""
    body: str = ""
    active: bool = True

    @classmethod
    def from_row(cls, row: ReportSchedule) -> ScheduleSpec:
        return cls(row.report_name, row.kind, row.at_time, row.weekday, row.day_of_month, row.timezone,
                   dict(row.params or {}), row.format, row.folder_pattern,
                   [a.strip() for a in row.email_to.split(",") if a.strip()], row.subject, row.body, row.active)

    def describe(self) -> str:
        when = {"daily": "every day", "weekdays": "Monday to Friday",
                "weekly": f"every {WEEKDAYS[self.weekday or 0].capitalize()}",
                "monthly": f"monthly on day {self.day_of_month}"}.get(self.kind, self.kind)
        return f"{when} at {self.at_time} ({self.timezone})"


# -- due times ------------------------------------------------------------------------------------------
def zone(name: str) -> ZoneInfo:
    """The time zone a schedule names; an unknown name is a ValidationError saying so."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError([("schedule", "timezone", f"{name!r} is not a time zone (e.g. Europe/Berlin)")]) from None


def _time(text: str) -> dt.time:
    try:
        hh, mm = text.split(":")
        return dt.time(int(hh), int(mm))
    except ValueError:
        raise ValidationError([("schedule", "time", f"{text!r} is not a time of day (HH:MM)")]) from None


def _runs_on(spec: ScheduleSpec, day: dt.date) -> bool:
    if spec.kind == "daily":
        return True
    if spec.kind == "weekdays":
        return day.weekday() < 5
    if spec.kind == "weekly":
        return day.weekday() == spec.weekday
    if spec.kind == "monthly":
        next_month = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        last = (next_month - dt.timedelta(days=1)).day
        return day.day == min(spec.day_of_month or 1, last)
    raise ValidationError([("schedule", "kind", f"{spec.kind!r} is not one of {', '.join(KINDS)}")])


def slot(spec: ScheduleSpec, day: dt.date) -> dt.datetime:
    """The UTC instant of the slot on local ``day`` (fold=0: the first of an ambiguous time)."""
    local = dt.datetime.combine(day, _time(spec.at_time), tzinfo=zone(spec.timezone))
    return local.astimezone(dt.timezone.utc)


def last_due(spec: ScheduleSpec, now: dt.datetime, starts_at: dt.datetime | None = None) -> dt.datetime | None:
    """The latest slot at or before ``now`` (and not before ``starts_at``), or None."""
    today = now.astimezone(zone(spec.timezone)).date()
    for back in range(0, 400):
        day = today - dt.timedelta(days=back)
        if not _runs_on(spec, day):
            continue
        at = slot(spec, day)
        if at > now:
            continue
        if starts_at is not None and at < starts_at:
            return None
        return at
    return None


def next_due(spec: ScheduleSpec, now: dt.datetime) -> dt.datetime | None:
    today = now.astimezone(zone(spec.timezone)).date()
    for ahead in range(0, 400):
        day = today + dt.timedelta(days=ahead)
        if _runs_on(spec, day) and (at := slot(spec, day)) > now:
            return at
    return None


# -- managing schedules -----------------------------------------------------------------------------------
def _fields(pattern: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(pattern) if name}


def problems(db: Database, spec: ScheduleSpec) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    where = f"schedule of {spec.report_name}"
    try:
        defn = get_report(db, spec.report_name)
        resolve_params(defn, spec.params)
    except NotFound as exc:
        out.append((where, "report", str(exc)))
    except DefinitionError as exc:
        out.append((where, "params", str(exc)))
    if spec.kind not in KINDS:
        out.append((where, "kind", f"{spec.kind!r} is not one of {', '.join(KINDS)}"))
    if spec.kind == "weekly" and spec.weekday not in range(7):
        out.append((where, "weekday", "a weekly schedule needs a day of the week (0 = Monday … 6 = Sunday)"))
    if spec.kind == "monthly" and spec.day_of_month not in range(1, 32):
        out.append((where, "day", "a monthly schedule needs a day of the month from 1 to 31"))
    for check in (lambda: _time(spec.at_time), lambda: zone(spec.timezone)):
        try:
            check()
        except ValidationError as exc:
            out.extend((where, f, m) for _, f, m in exc.problems)
    if spec.format not in FORMATS:
        out.append((where, "format", f"{spec.format!r} is not one of {', '.join(FORMATS)}"))
    if not spec.folder_pattern and not spec.email_to:
        out.append((where, "delivery", "deliver to a folder, by e-mail, or both"))
    for text, name in ((spec.folder_pattern, "folder"), (spec.subject, "subject"), (spec.body, "body")):
        try:
            unknown = _fields(text) - PLACEHOLDERS - ({"rows"} if name != "folder" else set())
        except ValueError as exc:
            out.append((where, name, f"bad placeholder: {exc}"))
            continue
        if unknown:
            out.append((where, name, f"unknown placeholder {', '.join(sorted(unknown))}; use "
                                     f"{', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}"))
    for addr in spec.email_to:
        if "@" not in parseaddr(addr)[1]:
            out.append((where, "email", f"{addr!r} is not an e-mail address"))
    return out


@dataclass(frozen=True)
class ScheduleInfo:
    id: int
    spec: ScheduleSpec
    next_due: dt.datetime | None
    last_status: str | None
    last_due: dt.datetime | None
    last_error: str


def list_schedules(db: Database, *, now: dt.datetime | None = None, report_name: str | None = None,
                   schedule_id: int | None = None) -> list[ScheduleInfo]:
    """Schedules (of one report, or the one with ``schedule_id``) with their next due time and last run."""
    now = now or utcnow()
    out = []
    with db.read() as session:
        query = select(ReportSchedule).order_by(ReportSchedule.report_name, ReportSchedule.id)
        if report_name:
            query = query.where(ReportSchedule.report_name == report_name)
        if schedule_id is not None:
            query = query.where(ReportSchedule.id == schedule_id)
        for row in session.scalars(query):
            spec = ScheduleSpec.from_row(row)
            last = session.execute(select(ReportRun.status, ReportRun.due_at, ReportRun.error)
                                   .where(ReportRun.schedule_id == row.id)
                                   .order_by(ReportRun.due_at.desc()).limit(1)).first()
            out.append(ScheduleInfo(row.id, spec, next_due(spec, now) if spec.active else None,
                                    last.status if last else None, last.due_at if last else None,
                                    last.error if last else ""))
    return out


@dataclass(frozen=True)
class RunRow:
    schedule_id: int
    due_at: dt.datetime
    status: str
    attempts: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    rows: int | None
    output: str
    error: str


def run_history(db: Database, schedule_id: int | None = None, limit: int = 100) -> list[RunRow]:
    with db.read() as session:
        q = select(ReportRun).order_by(ReportRun.due_at.desc(), ReportRun.id.desc()).limit(limit)
        if schedule_id is not None:
            q = q.where(ReportRun.schedule_id == schedule_id)
        return [RunRow(r.schedule_id, r.due_at, r.status, r.attempts, r.started_at, r.finished_at, r.rows, r.output,
                       r.error) for r in session.scalars(q)]
