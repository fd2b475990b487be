"""``/v1/reports``: the report library, saved reports, running and exporting reports as jobs, schedules.

- ``GET /v1/reports`` lists the built-in and saved reports; ``GET /v1/reports/{name}`` is a definition,
  with the ``ETag`` of its saved version (built-in reports have none and cannot be saved over).
- ``PUT /v1/reports/{name}`` saves a definition: ``If-None-Match: *`` creates it (412 when the name is
  taken), ``If-Match`` updates the version read (412 with the current definition when it is stale);
  ``DELETE`` (``If-Match``) deletes a saved report without schedules.
- ``POST /v1/reports/{name}/run`` (202, a job): the result is the table as JSON (columns, rows, the
  chart the report asks for, notes); ``POST /v1/reports/{name}/export`` (202, a job): the result file
  is the report as XLSX, CSV or PDF.
- ``/v1/reports/{name}/schedules``: list and add (``Idempotency-Key``); ``DELETE …/schedules/{id}``;
  ``GET …/schedules/{id}/runs``: its latest runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from backoffice.operations import ConflictError
from backoffice.operations.reports import ReportDefinition, ReportTable, ScheduleInfo, ScheduleSpec
from backoffice.server.http import IDEMPOTENT_RESPONSES, IF_MATCH_RESPONSES, etag, expected_version, idempotent, plain
from backoffice.server.jobs import Job
from backoffice.server.routes.jobs import ACCEPTED, accepted, runner
from backoffice.server.security import Caller, route

TAG = "reports"
RUN, EXPORT = "report-run", "report-export"
MEDIA_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}
NAME = PathParam(description="The report's name", min_length=1, max_length=100)
SCHEDULE_ID = PathParam(description="The schedule's id", ge=1, le=2**31 - 1)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such report (or schedule)"}}
Params = dict[str, Any]


# -- bodies -----------------------------------------------------------------------------------------------
class ColumnBody(BaseModel):
    field: str = Field(max_length=100)
    agg: str | None = Field(None, max_length=30)
    label: str = Field("", max_length=200)


class GroupByBody(BaseModel):
    field: str = Field(max_length=100)
    bucket: str | None = Field(None, max_length=30)


class FilterBody(BaseModel):
    field: str = Field(max_length=100)
    op: str = Field("eq", max_length=30)
    value: Any = None
    param: str | None = Field(None, max_length=100)


class SortBody(BaseModel):
    key: str = Field(max_length=100)
    desc: bool = False


class ChartBody(BaseModel):
    kind: str = Field("bar", max_length=30)
    x: str = Field("", max_length=100)
    y: list[str] = Field(default_factory=list, max_length=50)
    title: str = Field("", max_length=200)


class ReportBody(BaseModel):
    """A report definition (``name`` may be left out: the path names it)."""

    name: str | None = Field(None, max_length=100)
    source: str = Field(max_length=100)
    title: str = Field("", max_length=200)
    description: str = Field("", max_length=2000)
    columns: list[ColumnBody] = Field(default_factory=list, max_length=200)
    group_by: list[GroupByBody] = Field(default_factory=list, max_length=20)
    filters: list[FilterBody] = Field(default_factory=list, max_length=100)
    sort: list[SortBody] = Field(default_factory=list, max_length=20)
    limit: int | None = Field(None, ge=1, le=1_000_000)
    pivot: str | None = Field(None, max_length=100)
    chart: ChartBody | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    post: str | None = Field(None, max_length=100)
    currency: str = Field("", max_length=3)
    partial_periods: Literal["mark", "exclude"] = "mark"


class ReportView(ReportBody):
    name: str | None = None
    builtin: bool = False
    version: int | None = Field(None, description="The saved version (its ETag); None for a built-in report")


class ReportEntryView(BaseModel):
    name: str
    title: str
    source: str
    builtin: bool
    version: int | None = None
    description: str = ""


class RunRequest(BaseModel):
    params: Params = Field(default_factory=dict, description="Run parameters (e.g. {\"period\": \"last_week\"})")
    max_rows: int | None = Field(None, ge=1, le=1_000_000, description="Fetch at most this many rows")


class ExportRequest(BaseModel):
    format: Literal["xlsx", "csv", "pdf"] = "xlsx"
    params: Params = Field(default_factory=dict)
    timezone: str = Field("UTC", min_length=1, max_length=64, description="The zone the run time is written in")


class ScheduleBody(BaseModel):
    kind: Literal["daily", "weekdays", "weekly", "monthly"] = "daily"
    at_time: str = Field("07:00", pattern=r"^\d{1,2}:\d{2}$", description="Local time, HH:MM")
    weekday: int | None = Field(None, ge=0, le=6, description="Weekly: 0 is Monday")
    day_of_month: int | None = Field(None, ge=1, le=31)
    timezone: str = Field("UTC", min_length=1, max_length=64)
    params: Params = Field(default_factory=dict)
    format: Literal["xlsx", "csv", "pdf"] = "xlsx"
    folder_pattern: str = Field("", max_length=500)
    email_to: list[str] = Field(default_factory=list, max_length=50)
    subject: str = Field("", max_length=500)
    body: str = Field("", max_length=10_000)
    active: bool = True


class ScheduleView(ScheduleBody):
    id: int
    report_name: str
    next_due: dt.datetime | None = None
    last_status: str | None = None
    last_due: dt.datetime | None = None
    last_error: str = ""


class RunView(BaseModel):
    schedule_id: int
    due_at: dt.datetime
    status: str
    attempts: int
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    rows: int | None = None
    output: str = ""
    error: str = ""


# -- routes -----------------------------------------------------------------------------------------------
def register(router: APIRouter) -> None:
    @route(router, "GET", "/reports", "reports.library", response_model=list[ReportEntryView], tags=[TAG])
    def library(*, caller: Caller) -> list[dict[str, Any]]:
        """The built-in reports, then the saved ones by name."""
        return [dataclasses.asdict(entry) for entry in caller.ops.reports.library()]

    @route(router, "GET", "/reports/{name}", "reports.get", response_model=ReportView, tags=[TAG],
           responses=NOT_FOUND)
    def get(name: str = NAME, *, caller: Caller) -> Response:
        """A report's definition; a saved one carries the ETag of its version."""
        defn = caller.ops.reports.get(name)
        version = None if defn.builtin else caller.ops.reports.saved_version(name)
        return _report_response(defn, version)

    @route(router, "PUT", "/reports/{name}", "reports.save", response_model=ReportView, tags=[TAG],
           responses={**IF_MATCH_RESPONSES, **NOT_FOUND, 201: {"model": ReportView, "description": "Created"},
                      412: {"description": "If-None-Match: * and the name is taken, or If-Match is stale "
                                           "(the body's `current` is the definition now)"},
                      428: {"description": "Send If-Match (to update) or If-None-Match: * (to create)"}})
    def save(request: Request, body: ReportBody, name: str = NAME, *, caller: Caller) -> Response:
        """Save a report: create it with If-None-Match: *, or update the version If-Match names."""
        if body.name is not None and body.name != name:
            raise HTTPException(422, detail=f"The body names the report {body.name!r}, the path {name!r}.")
        defn = ReportDefinition.from_dict({**body.model_dump(), "name": name})
        reports = caller.ops.reports
        if request.headers.get("if-none-match", "").strip() == "*":
            if reports.saved_version(name) is not None:
                raise HTTPException(412, detail=f"A report named {name!r} exists: update it with If-Match.")
            version, status = reports.save(defn), 201
        else:
            try:
                version, status = reports.save(defn, expected_version=expected_version(request)), 200
            except ConflictError as exc:       # the 412 carries the definition as it is now
                raise ConflictError("report", name, name, exc.expected_version, exc.actual_version,
                                    current=_definition(reports.get(name))) from exc
        response = _report_response(reports.get(name), version, status)
        if status == 201:
            response.headers["Location"] = f"/v1/reports/{name}"
        return response

    @route(router, "DELETE", "/reports/{name}", "reports.delete", tags=[TAG], status_code=204,
           responses={**IF_MATCH_RESPONSES, **NOT_FOUND})
    def delete(request: Request, name: str = NAME, *, caller: Caller) -> Response:
        """Delete a saved report (its schedules first), the version If-Match names."""
        expected = expected_version(request)
        reports = caller.ops.reports
        current = reports.saved_version(name)
        if current is None:
            reports.delete(name)           # says why: built in, or no such report
        elif current != expected:
            raise ConflictError("report", name, name, expected, current, current=_definition(reports.get(name)))
        else:
            reports.delete(name)
        return Response(status_code=204)

    @route(router, "POST", "/reports/{name}/run", "reports.run", tags=[TAG], status_code=202,
           responses={**ACCEPTED, **NOT_FOUND})
    def run(request: Request, body: RunRequest | None = None, name: str = NAME, *, caller: Caller) -> Response:
        """Run a report (a job): its result is the table, with the chart the report asks for."""
        ops, choice = caller.ops, body or RunRequest()
        defn = ops.reports.get(name)

        def run_report(job: Job) -> dict[str, Any]:
            table = ops.reports.run(defn, choice.params, max_rows=choice.max_rows, progress=job.report,
                                    cancel=job.cancelled)
            return table_json(table)

        return accepted(runner(request).submit(caller.actor.user_id, RUN, run_report))

    @route(router, "POST", "/reports/{name}/export", "reports.export", tags=[TAG], status_code=202,
           responses={**ACCEPTED, **NOT_FOUND})
    def export(request: Request, body: ExportRequest | None = None, name: str = NAME, *,
               caller: Caller) -> Response:
        """Export a report to XLSX, CSV or PDF (a job): its result file is the report."""
        ops, choice = caller.ops, body or ExportRequest()
        defn = ops.reports.get(name)

        def write(job: Job) -> dict[str, Any]:
            filename = f"{name}-{dt.date.today().isoformat()}.{choice.format}"
            done = ops.reports.export(defn, job.directory / filename, choice.format, choice.params,
                                      timezone=choice.timezone, progress=job.report, cancel=job.cancelled)
            job.keep_file(done.path, filename, MEDIA_TYPES[choice.format])
            return {"rows": done.rows, "format": done.format, "sheets": done.sheets, "notes": done.notes,
                    "filename": filename}

        return accepted(runner(request).submit(caller.actor.user_id, EXPORT, write))

    @route(router, "GET", "/reports/{name}/schedules", "reports.schedules", response_model=list[ScheduleView],
           tags=[TAG])
    def schedules(name: str = NAME, *, caller: Caller) -> list[dict[str, Any]]:
        """The report's schedules, with their next due time and how the last run went."""
        return [schedule_json(s) for s in caller.ops.reports.schedules(name)]

    @route(router, "POST", "/reports/{name}/schedules", "reports.add_schedule", response_model=ScheduleView,
           tags=[TAG], status_code=201, responses={**IDEMPOTENT_RESPONSES, **NOT_FOUND})
    def add_schedule(request: Request, body: ScheduleBody, name: str = NAME, *, caller: Caller) -> Response:
        """Schedule the report (delivered to a folder of the server and/or by e-mail)."""
        spec = ScheduleSpec(report_name=name, **body.model_dump())

        def create(op_id: str) -> Response:
            info = caller.ops.reports.add_schedule(spec, op_id=op_id)
            return JSONResponse(ScheduleView(**schedule_json(info)).model_dump(mode="json"), status_code=201)

        return idempotent(request, caller, {"report": name, **body.model_dump(mode="json")}, create)

    @route(router, "DELETE", "/reports/{name}/schedules/{schedule_id}", "reports.delete_schedule", tags=[TAG],
           status_code=204, responses=NOT_FOUND)
    def delete_schedule(name: str = NAME, schedule_id: int = SCHEDULE_ID, *, caller: Caller) -> Response:
        """Delete a schedule and its run history."""
        _schedule_of(caller, name, schedule_id)
        caller.ops.reports.delete_schedule(schedule_id)
        return Response(status_code=204)

    @route(router, "GET", "/reports/{name}/schedules/{schedule_id}/runs", "reports.last_runs",
           response_model=list[RunView], tags=[TAG], responses=NOT_FOUND)
    def last_runs(name: str = NAME, schedule_id: int = SCHEDULE_ID,
                  limit: int = Query(100, ge=1, le=1000), *, caller: Caller) -> list[dict[str, Any]]:
        """The schedule's latest runs, newest first."""
        _schedule_of(caller, name, schedule_id)
        return [dataclasses.asdict(r) for r in caller.ops.reports.last_runs(schedule_id, limit=limit)]


# -- JSON forms -------------------------------------------------------------------------------------------
def table_json(table: ReportTable) -> dict[str, Any]:
    """A report's table as JSON: money and other decimals as strings, dates ISO 8601."""
    return {
        "name": table.name, "title": table.title, "currency": table.currency,
        "columns": [dataclasses.asdict(c) for c in table.columns],
        "rows": [[plain(v) for v in row] for row in table.rows],
        "chart": dataclasses.asdict(table.chart) if table.chart else None,
        "notes": list(table.notes), "truncated": table.truncated,
        "partial": {key: [plain(d) for d in days] for key, days in table.partial.items()},
    }


def schedule_json(info: ScheduleInfo) -> dict[str, Any]:
    return {**dataclasses.asdict(info.spec), "id": info.id, "next_due": info.next_due,
            "last_status": info.last_status, "last_due": info.last_due, "last_error": info.last_error}


def _definition(defn: ReportDefinition) -> dict[str, Any]:
    return {**defn.to_dict(), "builtin": defn.builtin}


def _report_response(defn: ReportDefinition, version: int | None, status: int = 200) -> JSONResponse:
    body = ReportView(**_definition(defn), version=version).model_dump(mode="json")
    headers = {"ETag": etag(version)} if version is not None else None
    return JSONResponse(body, status_code=status, headers=headers)


def _schedule_of(caller: Caller, name: str, schedule_id: int) -> ScheduleInfo:
    for info in caller.ops.reports.schedules(name):
        if info.id == schedule_id:
            return info
    raise HTTPException(404, detail=f"Report {name!r} has no schedule {schedule_id}.")
