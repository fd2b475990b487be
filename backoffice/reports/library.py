"""The reports a user can run: the built-in ones and the saved ones, by name; saving, duplicating and
deleting saved definitions (audited writes through ``Database.run_write``, version-checked)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import ReportSchedule, SavedReport
from backoffice.reports.builtin import BUILTIN
from backoffice.reports.compiler import compile_report
from backoffice.reports.definition import DefinitionError, ReportDefinition
from backoffice.services.base import Actor, ConflictError, NotFound, ValidationError, audit

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class ReportEntry:
    name: str
    title: str
    source: str
    builtin: bool
    version: int | None = None
    description: str = ""


def list_reports(db: Database) -> list[ReportEntry]:
    out = [ReportEntry(d.name, d.display_title(), d.source, True, None, d.description) for d in BUILTIN.values()]
    with db.read() as session:
        for row in session.scalars(select(SavedReport).order_by(SavedReport.name)):
            d = ReportDefinition.from_dict(row.definition)
            out.append(ReportEntry(row.name, d.display_title(), d.source, False, row.version, d.description))
    return out


def get_report(db: Database, name: str) -> ReportDefinition:
    if name in BUILTIN:
        return BUILTIN[name].copy(builtin=True)
    with db.read() as session:
        row = session.scalar(select(SavedReport).where(SavedReport.name == name))
        if row is None:
            raise NotFound(f"no report named {name!r}; `backoffice reports list` shows them")
        d = ReportDefinition.from_dict(row.definition)
        d.name = row.name
        return d


def saved_version(db: Database, name: str) -> int | None:
    with db.read() as session:
        return session.scalar(select(SavedReport.version).where(SavedReport.name == name))


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9._-]+", "-", text.strip().lower()).strip("-")
    return s[:100] or "report"


def validate(defn: ReportDefinition, dialect: str = "sqlite") -> None:
    problems = []
    if not NAME_RE.match(defn.name):
        problems.append(("report", "name", f"{defn.name!r}: use lower-case letters, digits, '-', '_' or '.'"))
    if defn.name in BUILTIN:
        problems.append(("report", "name", f"{defn.name!r} is a built-in report; choose another name"))
    try:
        compile_report(defn, dialect)
    except DefinitionError as exc:
        problems.append(("report", "definition", str(exc)))
    if problems:
        raise ValidationError(problems)


def save_report(db: Database, actor: Actor, defn: ReportDefinition, *, expected_version: int | None = None) -> int:
    """Create (``expected_version`` None) or update a saved report; returns its new version. Updating a
    report someone else saved since you read it is a conflict, not an overwrite."""
    validate(defn, db.dialect)
    doc = defn.to_dict()

    def work(session: Session) -> int:
        row = session.scalar(select(SavedReport).where(SavedReport.name == defn.name).with_for_update())
        if row is None:
            if expected_version is not None:
                raise NotFound(f"report {defn.name!r} was deleted meanwhile")
            row = SavedReport(name=defn.name, definition=doc, created_by=actor.user_id)
            session.add(row)
            session.flush()
            audit(session, actor, "report", row.id, "create", None, {"name": defn.name, "definition": doc})
            return row.version
        if expected_version is None:
            raise ValidationError([("report", "name", f"a report named {defn.name!r} already exists")])
        if row.version != expected_version:
            raise ConflictError("report", row.id, defn.name, expected_version, row.version)
        before = row.definition
        if before == doc:
            return row.version   # nothing changed: no new version, no audit row
        row.definition = doc
        session.flush()
        audit(session, actor, "report", row.id, "update", {"definition": before}, {"definition": doc})
        return row.version

    return db.run_write(work)


def duplicate_report(db: Database, actor: Actor, name: str, new_name: str | None = None) -> ReportDefinition:
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
    save_report(db, actor, copy)
    return copy


def delete_report(db: Database, actor: Actor, name: str) -> None:
    if name in BUILTIN:
        raise ValidationError([("report", "name", f"{name!r} is built in and cannot be deleted")])

    def work(session: Session) -> None:
        row = session.scalar(select(SavedReport).where(SavedReport.name == name).with_for_update())
        if row is None:
            raise NotFound(f"no saved report named {name!r}")
        scheduled = session.scalar(select(ReportSchedule.id).where(ReportSchedule.report_name == name).limit(1))
        if scheduled is not None:
            raise ValidationError([("report", name, "it has schedules; delete them first")])
        audit(session, actor, "report", row.id, "delete", {"name": name, "definition": row.definition}, None)
        session.delete(row)

    db.run_write(work)
