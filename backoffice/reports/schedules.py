"""Report schedules: when each is due, running what is due exactly once, and delivering the file to a
folder and/or by e-mail.

Due times: a schedule has one slot per matching local day (daily, weekdays, weekly on a day, monthly on a
day, the last day of a shorter month) at its time in its time zone, converted to UTC. A local time that
does not exist on a spring-forward day runs at the same offset as before the change (02:30 becomes
03:30); an ambiguous one on a fall-back day runs at its first occurrence. Either way one slot per day.

``run_due`` looks at the *latest* slot not in the future of each schedule: a slot missed while nothing
called run-due is run once by the next call, and older missed slots are not replayed. A slot is claimed
by inserting its (schedule, due time) row, which is UNIQUE: of two machines calling run-due at once,
one inserts and runs it, the other finds the row and skips. A failed run (an unreachable mail server,
an unwritable folder) is recorded with its reason and claimed again by the next call; an ok one never.
"""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
import os
import socket
import string
import tempfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import ReportRun, ReportSchedule, Role, utcnow
from backoffice.reports.compiler import resolve_params
from backoffice.reports.definition import DefinitionError
from backoffice.reports.exporters import FORMATS, export_report
from backoffice.reports.library import get_report, slug
from backoffice.services.base import Actor, NotFound, ServiceError, ValidationError, audit, dialect_insert, require_role

log = logging.getLogger(__name__)

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
def _zone(name: str) -> ZoneInfo:
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
    local = dt.datetime.combine(day, _time(spec.at_time), tzinfo=_zone(spec.timezone))
    return local.astimezone(dt.timezone.utc)


def last_due(spec: ScheduleSpec, now: dt.datetime, starts_at: dt.datetime | None = None) -> dt.datetime | None:
    """The latest slot at or before ``now`` (and not before ``starts_at``), or None."""
    today = now.astimezone(_zone(spec.timezone)).date()
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
    today = now.astimezone(_zone(spec.timezone)).date()
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
    for check in (lambda: _time(spec.at_time), lambda: _zone(spec.timezone)):
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


def create_schedule(db: Database, actor: Actor, spec: ScheduleSpec, *, starts_at: dt.datetime | None = None) -> int:
    require_role(actor, Role.MANAGER)
    found = problems(db, spec)
    if found:
        raise ValidationError(found)

    def work(session: Session) -> int:
        row = ReportSchedule(report_name=spec.report_name, kind=spec.kind, at_time=spec.at_time, weekday=spec.weekday,
                             day_of_month=spec.day_of_month, timezone=spec.timezone, params=dict(spec.params),
                             format=spec.format, folder_pattern=spec.folder_pattern, email_to=", ".join(spec.email_to),
                             subject=spec.subject, body=spec.body, active=spec.active,
                             starts_at=starts_at or utcnow(), created_by=actor.user_id)
        session.add(row)
        session.flush()
        audit(session, actor, "report_schedule", row.id, "create", None, {**spec.__dict__})
        return row.id

    return db.run_write(work)


def delete_schedule(db: Database, actor: Actor, schedule_id: int) -> None:
    require_role(actor, Role.MANAGER)

    def work(session: Session) -> None:
        row = session.get(ReportSchedule, schedule_id)
        if row is None:
            raise NotFound(f"no schedule {schedule_id}")
        audit(session, actor, "report_schedule", row.id, "delete", {**ScheduleSpec.from_row(row).__dict__}, None)
        session.delete(row)

    db.run_write(work)


@dataclass(frozen=True)
class ScheduleInfo:
    id: int
    spec: ScheduleSpec
    next_due: dt.datetime | None
    last_status: str | None
    last_due: dt.datetime | None
    last_error: str


def list_schedules(db: Database, *, now: dt.datetime | None = None, report_name: str | None = None) -> list[ScheduleInfo]:
    now = now or utcnow()
    out = []
    with db.read() as session:
        query = select(ReportSchedule).order_by(ReportSchedule.report_name, ReportSchedule.id)
        if report_name:
            query = query.where(ReportSchedule.report_name == report_name)
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


# -- running what is due ----------------------------------------------------------------------------------
@dataclass
class RunOutcome:
    schedule_id: int
    report_name: str
    due_at: dt.datetime
    status: str          # ok or failed
    rows: int = 0
    output: str = ""
    error: str = ""


def _claim(db: Database, schedule_id: int, due_at: dt.datetime, now: dt.datetime, runner: str) -> bool:
    def work(session: Session) -> bool:
        ins = (dialect_insert(session)(ReportRun)
               .values(schedule_id=schedule_id, due_at=due_at, status="running", attempts=1, started_at=now,
                       runner=runner, output="", error="")
               .on_conflict_do_nothing(index_elements=["schedule_id", "due_at"])
               .returning(ReportRun.id))
        if session.execute(ins).scalar() is not None:
            return True
        retry = (update(ReportRun)
                 .where(ReportRun.schedule_id == schedule_id, ReportRun.due_at == due_at,
                        (ReportRun.status == "failed")
                        | ((ReportRun.status == "running") & (ReportRun.started_at < now - STALE_RUNNING)))
                 .values(status="running", attempts=ReportRun.attempts + 1, started_at=now, runner=runner,
                         finished_at=None)
                 .returning(ReportRun.id))
        return session.execute(retry).scalar() is not None

    return db.run_write(work)


def _finish(db: Database, schedule_id: int, due_at: dt.datetime, outcome: RunOutcome) -> None:
    def work(session: Session) -> None:
        session.execute(update(ReportRun).where(ReportRun.schedule_id == schedule_id, ReportRun.due_at == due_at)
                        .values(status=outcome.status, finished_at=utcnow(), rows=outcome.rows,
                                output=outcome.output[:1000], error=outcome.error))

    db.run_write(work)


def run_due(db: Database, *, now: dt.datetime | None = None, password: str | None = None,
            runner: str | None = None) -> list[RunOutcome]:
    """Run every schedule whose latest slot has not run successfully yet. Safe to call as often as you
    like, from several machines at once. ``password`` is the mail server's (default: the keyring's)."""
    now = now or utcnow()
    runner = runner or f"{socket.gethostname()}:{os.getpid()}"
    with db.read() as session:
        rows = list(session.scalars(select(ReportSchedule).where(ReportSchedule.active.is_(True))
                                    .order_by(ReportSchedule.id)))
    outcomes = []
    for row in rows:
        spec = ScheduleSpec.from_row(row)
        try:
            due = last_due(spec, now, row.starts_at)
        except ValidationError as exc:
            log.warning("schedule %s is invalid: %s", row.id, exc)
            continue
        if due is None or not _claim(db, row.id, due, now, runner):
            continue
        outcome = RunOutcome(row.id, spec.report_name, due, "ok")
        try:
            outcome.rows, outcome.output = deliver(db, spec, due, password=password)
        except (ServiceError, DefinitionError, OSError) as exc:
            outcome.status, outcome.error = "failed", str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - recorded, never lost silently; the next call retries
            log.exception("scheduled report %s failed", spec.report_name)
            outcome.status, outcome.error = "failed", f"{type(exc).__name__}: {exc}"
        _finish(db, row.id, due, outcome)
        outcomes.append(outcome)
    return outcomes


def _render(template: str, values: dict[str, Any]) -> str:
    return template.format(**values)


def deliver(db: Database, spec: ScheduleSpec, due: dt.datetime, *, password: str | None = None) -> tuple[int, str]:
    """Produce the report for the slot ``due`` and deliver it; returns (rows, where it went)."""
    defn = get_report(db, spec.report_name)
    local = due.astimezone(_zone(spec.timezone))
    values = {"report": slug(spec.report_name), "title": defn.display_title(), "date": local, "format": spec.format}
    filename = f"{slug(spec.report_name)}-{local:%Y-%m-%d}.{spec.format}"
    places = []
    with tempfile.TemporaryDirectory(prefix="backoffice-report-") as tmpdir:
        if spec.folder_pattern:
            target = Path(os.path.expanduser(_render(spec.folder_pattern, values)))
            if spec.folder_pattern.endswith(("/", os.sep)) or target.suffix.lower() != f".{spec.format}":
                target = target / filename
            if not target.parent.is_dir():
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise OSError(f"cannot create the folder {target.parent}: {exc.strerror or exc}") from exc
            if not os.access(target.parent, os.W_OK):
                raise OSError(f"the folder {target.parent} is not writable")
            result = export_report(db, defn, target, spec.format, spec.params, today=local.date(),
                                   timezone=spec.timezone)
            places.append(str(target))
        else:
            result = export_report(db, defn, Path(tmpdir) / filename, spec.format, spec.params, today=local.date(),
                                   timezone=spec.timezone)
        if spec.email_to:
            values["rows"] = result.rows
            _mail(db, spec, result.path, values, password, result.notes)
            places.append("mail to " + ", ".join(spec.email_to))
    return result.rows, "; ".join(places)


def _mail(db: Database, spec: ScheduleSpec, attachment: Path, values: dict[str, Any], password: str | None,
          notes: list[str] | None = None) -> None:
    from backoffice.secrets import SecretStore
    from backoffice.services.alerts import send_message
    from backoffice.services.settings import get_smtp, smtp_secret_key

    smtp = get_smtp(db)
    if not smtp.configured:
        raise ServiceError("no mail server is configured (set it in the mail settings used by alerts)")
    if smtp.username and password is None:
        password = SecretStore().get(smtp_secret_key(smtp))
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(spec.email_to)
    msg["Subject"] = _render(spec.subject or "{title} — {date:%Y-%m-%d}", values)
    body = spec.body or ("{title}, as of {date:%Y-%m-%d %H:%M %Z}: {rows} rows, attached.\n\n"
                         "Sent by Backoffice on schedule.")
    text = _render(body, values)
    if notes:   # what the reader must know, such as a partial current period
        text = text.rstrip("\n") + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    msg.set_content(text)
    maintype, subtype = (MIME.get(spec.format) or mimetypes.guess_type(attachment.name)[0]
                         or "application/octet-stream").split("/", 1)
    msg.add_attachment(attachment.read_bytes(), maintype=maintype, subtype=subtype, filename=attachment.name)
    send_message(smtp, password, msg)
