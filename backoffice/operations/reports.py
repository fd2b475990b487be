"""The reports area of the operations contract: the library of built-in and saved reports, running a
report into plain rows, exporting it to a file, and schedules with their runs.

Definitions (:class:`ReportDefinition`, :class:`ChartSpec`) and schedule specs are plain values a client
builds itself; a run returns a :class:`ReportTable` (columns, rows of plain values, the chart the report
asks for, notes, the periods covered in part). A run or an export is cancelled through its ``cancel``
callback: once it answers True the statement is interrupted in the database and the call raises
:class:`ReportCancelled`.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from backoffice.operations.base import Area, CancelCallback, ProgressCallback
from backoffice.operations.changes import REPORTS, Changes
from backoffice.reports import library as report_library
from backoffice.reports import schedules as report_schedules
from backoffice.reports.compiler import OutputColumn
from backoffice.reports.definition import ChartSpec, ReportDefinition
from backoffice.reports.exporters import FORMATS, ExportResult, export_report
from backoffice.reports.library import ReportEntry, slug
from backoffice.reports.runner import ReportCancelled, ReportTable, cancelled_by, run
from backoffice.reports.schedules import WEEKDAYS, RunRow, ScheduleInfo, ScheduleSpec
from backoffice.services import job_runs, report_state
from backoffice.services.report_state import RunOutcome

__all__ = ["FORMATS", "WEEKDAYS", "ChartSpec", "ExportResult", "OutputColumn", "ReportCancelled", "ReportDefinition",
           "ReportEntry", "ReportOperations", "ReportTable", "RunOutcome", "RunRow", "ScheduleInfo", "ScheduleSpec",
           "slug"]


class ReportOperations(Area):
    # -- the library ---------------------------------------------------------------------------------------
    def library(self) -> list[ReportEntry]:
        """The built-in reports, then the saved ones by name."""
        return report_library.list_reports(self._db)

    def get(self, name: str) -> ReportDefinition:
        """The definition of report ``name`` (NotFound when there is none)."""
        return report_library.get_report(self._db, name)

    def saved_version(self, name: str) -> int | None:
        """The version of the saved report ``name``; None when none is saved under that name."""
        return report_library.saved_version(self._db, name)

    def save(self, defn: ReportDefinition, *, expected_version: int | None = None, op_id: str | None = None) -> int:
        """Save a new report (``expected_version`` None) or a new version of the one read at
        ``expected_version`` (ConflictError when someone saved it since); returns the saved version."""
        version = report_state.save_report(self._db, self._actor, defn, expected_version=expected_version,
                                           operation_id=op_id)
        self.changed(Changes.of(REPORTS))
        return version

    def duplicate(self, name: str, new_name: str | None = None, *, op_id: str | None = None) -> ReportDefinition:
        """A saved copy of any report, built-in ones too, under a free name; returns the copy."""
        copy = report_state.duplicate_report(self._db, self._actor, name, new_name, operation_id=op_id)
        self.changed(Changes.of(REPORTS))
        return copy

    def delete(self, name: str, *, op_id: str | None = None) -> None:
        """Delete a saved report (not a built-in one, nor one with schedules)."""
        report_state.delete_report(self._db, self._actor, name, operation_id=op_id)
        self.changed(Changes.of(REPORTS))

    # -- running -------------------------------------------------------------------------------------------
    def run(self, report: ReportDefinition | str, params: dict[str, Any] | None = None, *,
            max_rows: int | None = None, today: dt.date | None = None, progress: ProgressCallback | None = None,
            cancel: CancelCallback | None = None) -> ReportTable:
        """Run a report (a definition, or the name of one) with ``params``; ``max_rows`` caps the rows
        fetched (a preview: ``truncated`` says whether it was cut)."""
        defn = self.get(report) if isinstance(report, str) else report
        if progress is not None:
            progress(None, "running the report")
        with cancelled_by(cancel) as handle:
            result = run(self._db, defn, params, today=today, max_rows=max_rows, handle=handle)
        return result.table()

    def export(self, report: ReportDefinition | str, path: str | os.PathLike[str], fmt: str | None = None,
               params: dict[str, Any] | None = None, *, timezone: str = "UTC", today: dt.date | None = None,
               progress: ProgressCallback | None = None, cancel: CancelCallback | None = None) -> ExportResult:
        """Run a report and write it whole to ``path`` (XLSX, CSV or PDF; by default from the extension);
        ``timezone`` is the one the run time is written in."""
        defn = self.get(report) if isinstance(report, str) else report
        with cancelled_by(cancel) as handle:
            return export_report(self._db, defn, Path(path), fmt, params, today=today, handle=handle,
                                 progress=progress, timezone=timezone)

    # -- schedules -----------------------------------------------------------------------------------------
    def schedules(self, report_name: str | None = None, *, now: dt.datetime | None = None) -> list[ScheduleInfo]:
        """Every schedule (or those of one report) with its next due time and how its last run went."""
        return report_schedules.list_schedules(self._db, now=now, report_name=report_name)

    def add_schedule(self, spec: ScheduleSpec, *, op_id: str | None = None) -> ScheduleInfo:
        """Schedule a report (every problem of the spec is reported at once); returns the new schedule
        with its next due time."""
        schedule_id = report_state.create_schedule(self._db, self._actor, spec, operation_id=op_id)
        self.changed(Changes.of(REPORTS, schedule=[schedule_id]))
        return report_schedules.list_schedules(self._db, schedule_id=schedule_id)[0]

    def delete_schedule(self, schedule_id: int, *, op_id: str | None = None) -> None:
        """Delete a schedule and its run history."""
        report_state.delete_schedule(self._db, self._actor, schedule_id, operation_id=op_id)
        self.changed(Changes.of(REPORTS, schedule=[schedule_id]))

    def last_runs(self, schedule_id: int | None = None, *, limit: int = 100) -> list[RunRow]:
        """The latest runs of one schedule (or of all), newest first."""
        return report_schedules.run_history(self._db, schedule_id, limit)

    def run_due(self, *, now: dt.datetime | None = None, password: str | None = None,
                op_id: str | None = None) -> list[RunOutcome]:
        """Run every scheduled report that is due, each slot once however often and from wherever this is
        called; a failed delivery is recorded and retried by the next call. ``password``: the mail
        server's (default: this machine's keyring). One call runs at a time, wherever it is made from:
        while another is under way this one does nothing and raises JobBusy (recorded as skipped)."""
        with job_runs.exclusive(self._db, "reports-run-due", self._actor) as job:
            outcomes = report_state.run_due(self._db, now=now, password=password)
            failed = [o for o in outcomes if o.status != "ok"]
            delivered = len(outcomes) - len(failed)
            job.done("nothing due" if not outcomes else
                     f"{delivered} delivered" + (f", {len(failed)} failed: {failed[0].report_name}: {failed[0].error}"
                                                 if failed else ""), failed=bool(failed))
        if outcomes:
            self.changed(Changes.of(REPORTS, schedule=[o.schedule_id for o in outcomes]))
        return outcomes
