"""Reports' saved state, written like every other write: saved report definitions (version-checked),
report schedules, and the run rows of scheduled deliveries, each in one transaction through
``Database.run_write``, audited, with an optional operation id.

Reading them stays with the reports package (``backoffice.reports.library`` lists and opens reports,
``backoffice.reports.schedules`` lists schedules and their runs and computes due times); running what is
due lives here because it claims and finishes run rows: a slot is claimed by inserting its (schedule,
due time) row, which is UNIQUE, so of two machines calling :func:`run_due` at once one runs it and the
other skips; a failed run is recorded with its reason and claimed again by the next call.
"""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
import os
import socket
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import ReportRun, ReportSchedule, SavedReport, utcnow
from backoffice.reports.builtin import BUILTIN
from backoffice.reports.definition import DefinitionError, ReportDefinition
from backoffice.reports.exporters import export_report
from backoffice.reports.library import get_report, list_reports, slug, validate
from backoffice.reports.schedules import MIME, STALE_RUNNING, ScheduleSpec, last_due, problems, zone
from backoffice.services.base import (
    Actor,
    ConflictError,
    NotFound,
    ServiceError,
    ValidationError,
    audit,
    claim_operation,
    dialect_insert,
    store_operation_result,
)

log = logging.getLogger(__name__)


# -- saved reports ------------------------------------------------------------------------------------------
def save_report(db: Database, actor: Actor, defn: ReportDefinition, *, expected_version: int | None = None,
                operation_id: str | None = None) -> int:
    """Create (``expected_version`` None) or update a saved report; returns its new version. Updating a
    report someone else saved since you read it is a conflict, not an overwrite."""
    validate(defn, db.dialect)
    doc = defn.to_dict()

    def save_definition(session: Session) -> int:
        done = claim_operation(session, operation_id, "save_report", actor)
        if done is not None:
            return int(done["version"])
        row = session.scalar(select(SavedReport).where(SavedReport.name == defn.name).with_for_update())
        if row is None:
            if expected_version is not None:
                raise NotFound(f"report {defn.name!r} was deleted meanwhile")
            row = SavedReport(name=defn.name, definition=doc, created_by=actor.user_id)
            session.add(row)
            session.flush()
            audit(session, actor, "report", row.id, "create", None, {"name": defn.name, "definition": doc},
                  operation_id)
        elif expected_version is None:
            raise ValidationError([("report", "name", f"a report named {defn.name!r} already exists")])
        elif row.version != expected_version:
            raise ConflictError("report", row.id, defn.name, expected_version, row.version)
        elif row.definition != doc:   # an unchanged definition: no new version, no audit row
            before = row.definition
            row.definition = doc
            session.flush()
            audit(session, actor, "report", row.id, "update", {"definition": before}, {"definition": doc},
                  operation_id)
        store_operation_result(session, operation_id, {"version": row.version})
        return row.version

    return db.run_write(save_definition)


def duplicate_report(db: Database, actor: Actor, name: str, new_name: str | None = None, *,
                     operation_id: str | None = None) -> ReportDefinition:
    """A saved copy of any report (built-in ones too), under a free name ("sales-by-month-copy-2")."""
    original = get_report(db, name)
    existing = {e.name for e in list_reports(db)}
    base = new_name or f"{original.name}-copy"
    candidate, n = base, 2
    while candidate in existing:
        if new_name:
            raise ValidationError([("report", "name", f"a report named {new_name!r} already exists")])
        candidate, n = f"{base}-{n}", n + 1
    copy = original.copy(name=candidate, builtin=False,
                         title=f"{original.display_title()} (copy)" if not new_name else original.display_title())
    save_report(db, actor, copy, operation_id=operation_id)
    return copy


def delete_report(db: Database, actor: Actor, name: str, *, operation_id: str | None = None) -> None:
    if name in BUILTIN:
        raise ValidationError([("report", "name", f"{name!r} is built in and cannot be deleted")])

    def delete_definition(session: Session) -> None:
        if claim_operation(session, operation_id, "delete_report", actor) is not None:
            return
        row = session.scalar(select(SavedReport).where(SavedReport.name == name).with_for_update())
        if row is None:
            raise NotFound(f"no saved report named {name!r}")
        scheduled = session.scalar(select(ReportSchedule.id).where(ReportSchedule.report_name == name).limit(1))
        if scheduled is not None:
            raise ValidationError([("report", name, "it has schedules; delete them first")])
        audit(session, actor, "report", row.id, "delete", {"name": name, "definition": row.definition}, None,
              operation_id)
        session.delete(row)

    db.run_write(delete_definition)


# -- schedules ----------------------------------------------------------------------------------------------
def create_schedule(db: Database, actor: Actor, spec: ScheduleSpec, *, starts_at: dt.datetime | None = None,
                    operation_id: str | None = None) -> int:
    """Schedule a report (managers); every problem of the spec is reported at once. Returns its id."""
    found = problems(db, spec)
    if found:
        raise ValidationError(found)

    def add_schedule(session: Session) -> int:
        done = claim_operation(session, operation_id, "create_schedule", actor)
        if done is not None:
            return int(done["id"])
        row = ReportSchedule(report_name=spec.report_name, kind=spec.kind, at_time=spec.at_time, weekday=spec.weekday,
                             day_of_month=spec.day_of_month, timezone=spec.timezone, params=dict(spec.params),
                             format=spec.format, folder_pattern=spec.folder_pattern, email_to=", ".join(spec.email_to),
                             subject=spec.subject, body=spec.body, active=spec.active,
                             starts_at=starts_at or utcnow(), created_by=actor.user_id)
        session.add(row)
        session.flush()
        audit(session, actor, "report_schedule", row.id, "create", None, {**spec.__dict__}, operation_id)
        store_operation_result(session, operation_id, {"id": row.id})
        return row.id

    return db.run_write(add_schedule)


def delete_schedule(db: Database, actor: Actor, schedule_id: int, *, operation_id: str | None = None) -> None:
    """Delete a schedule and its run history (managers)."""

    def remove_schedule(session: Session) -> None:
        if claim_operation(session, operation_id, "delete_schedule", actor) is not None:
            return
        row = session.get(ReportSchedule, schedule_id)
        if row is None:
            raise NotFound(f"no schedule {schedule_id}")
        audit(session, actor, "report_schedule", row.id, "delete", {**ScheduleSpec.from_row(row).__dict__}, None,
              operation_id)
        session.delete(row)

    db.run_write(remove_schedule)


# -- runs of scheduled deliveries -----------------------------------------------------------------------------
@dataclass
class RunOutcome:
    schedule_id: int
    report_name: str
    due_at: dt.datetime
    status: str          # ok or failed
    rows: int = 0
    output: str = ""
    error: str = ""


def claim_run(db: Database, schedule_id: int, due_at: dt.datetime, now: dt.datetime, runner: str) -> bool:
    """Claim the slot ``due_at`` of a schedule for ``runner``: True when this caller is to run it (a new
    slot, a failed one, or one left "running" by a process that died), False when another has it."""
    def insert_or_retry(session: Session) -> bool:
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

    return db.run_write(insert_or_retry)


def finish_run(db: Database, outcome: RunOutcome) -> None:
    """Record how a claimed run went (ok with its rows and where the file went, or failed and why)."""
    def record_outcome(session: Session) -> None:
        session.execute(update(ReportRun)
                        .where(ReportRun.schedule_id == outcome.schedule_id, ReportRun.due_at == outcome.due_at)
                        .values(status=outcome.status, finished_at=utcnow(), rows=outcome.rows,
                                output=outcome.output[:1000], error=outcome.error))

    db.run_write(record_outcome)


def run_due(db: Database, *, now: dt.datetime | None = None, password: str | None = None,
            runner: str | None = None) -> list[RunOutcome]:
    """Run every schedule whose latest slot has not run successfully yet. Safe to call as often as you
    like, from several machines at once. ``password`` is the mail server's (default: the keyring's)."""
    now = now or utcnow()
    runner = runner or f"{socket.gethostname()}:{os.getpid()}"
    with db.read() as session:
        rows = [(row.id, ScheduleSpec.from_row(row), row.starts_at) for row in session.scalars(
            select(ReportSchedule).where(ReportSchedule.active.is_(True)).order_by(ReportSchedule.id))]
    outcomes = []
    for schedule_id, spec, starts_at in rows:
        try:
            due = last_due(spec, now, starts_at)
        except ValidationError as exc:
            log.warning("schedule %s is invalid: %s", schedule_id, exc)
            continue
        if due is None or not claim_run(db, schedule_id, due, now, runner):
            continue
        outcome = RunOutcome(schedule_id, spec.report_name, due, "ok")
        try:
            outcome.rows, outcome.output = deliver(db, spec, due, password=password)
        except (ServiceError, DefinitionError, OSError) as exc:
            outcome.status, outcome.error = "failed", str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - recorded, never lost silently; the next call retries
            log.exception("scheduled report %s failed", spec.report_name)
            outcome.status, outcome.error = "failed", f"{type(exc).__name__}: {exc}"
        finish_run(db, outcome)
        outcomes.append(outcome)
    return outcomes


# -- delivery -------------------------------------------------------------------------------------------------
def deliver(db: Database, spec: ScheduleSpec, due: dt.datetime, *, password: str | None = None) -> tuple[int, str]:
    """Produce the report for the slot ``due`` and deliver it; returns (rows, where it went)."""
    defn = get_report(db, spec.report_name)
    local = due.astimezone(zone(spec.timezone))
    values = {"report": slug(spec.report_name), "title": defn.display_title(), "date": local, "format": spec.format}
    filename = f"{slug(spec.report_name)}-{local:%Y-%m-%d}.{spec.format}"
    places = []
    with tempfile.TemporaryDirectory(prefix="backoffice-report-") as tmpdir:
        if spec.folder_pattern:
            target = Path(os.path.expanduser(spec.folder_pattern.format(**values)))
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
            mail_report(db, spec, result.path, values, password, result.notes)
            places.append("mail to " + ", ".join(spec.email_to))
    return result.rows, "; ".join(places)


def mail_report(db: Database, spec: ScheduleSpec, attachment: Path, values: dict[str, Any], password: str | None,
                notes: list[str] | None = None) -> None:
    """Mail ``attachment`` to the schedule's addresses through the store's mail server, with the
    schedule's subject and text (placeholders filled from ``values``) and the notes the reader must know."""
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
    msg["Subject"] = (spec.subject or "{title} — {date:%Y-%m-%d}").format(**values)
    body = spec.body or ("{title}, as of {date:%Y-%m-%d %H:%M %Z}: {rows} rows, attached.\n\n"
                         "Sent by Backoffice on schedule.")
    text = body.format(**values)
    if notes:   # what the reader must know, such as a partial current period
        text = text.rstrip("\n") + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    msg.set_content(text)
    maintype, subtype = (MIME.get(spec.format) or mimetypes.guess_type(attachment.name)[0]
                         or "application/octet-stream").split("/", 1)
    msg.add_attachment(attachment.read_bytes(), maintype=maintype, subtype=subtype, filename=attachment.name)
    send_message(smtp, password, msg)
