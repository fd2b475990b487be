"""The reports a user can run: the built-in ones and the saved ones, by name, and the checks a saved
definition must pass. Saving, duplicating and deleting them are writes of ``backoffice.services.report_state``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from backoffice.db import Database
from backoffice.models import SavedReport
from backoffice.reports.builtin import BUILTIN
from backoffice.reports.compiler import compile_report
from backoffice.reports.definition import DefinitionError, ReportDefinition
from backoffice.services.base import NotFound, ValidationError

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
