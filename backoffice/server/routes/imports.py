"""``/v1/imports`` and ``/v1/exports``: product files in and out, as jobs.

An import is two jobs. ``POST /v1/imports`` uploads the file (multipart: ``file``, ``format``,
``mapping`` as a JSON object of file header → native column, ``on_conflict``) and starts its dry run:
the job's result is the report (counts, the first per-row ``errors`` as ``{row, field, message}``,
conflicts); nothing is written. ``POST /v1/imports/{job_id}/apply`` imports the file that dry run
checked, all or nothing, as one changeset (rows changed since the dry run read them are conflicts); the
job's result names the changeset. Both need an ``Idempotency-Key``: a replay answers with the first
job, and the import under one key is applied once. ``GET /v1/imports/{job_id}/errors`` downloads the
file's rows with an ``errors`` column and the bad cells marked (XLSX), when the dry run found any.

``POST /v1/exports`` writes the variants a filter matches (CSV, XLSX or Shopify CSV); the job's result
file is the export.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from pydantic import AwareDatetime, BaseModel, Field

from backoffice.operations.importexport import ImportReport, VariantFilter
from backoffice.server.http import IDEMPOTENT_RESPONSES, idempotent
from backoffice.server.jobs import SUCCEEDED, Job
from backoffice.server.routes.jobs import ACCEPTED, accepted, find_job, runner
from backoffice.server.security import Caller, route

TAG = "import-export"
CHECK, APPLY, EXPORT = "import-check", "import-apply", "export"
MAX_LISTED = 1000             # per-row errors and conflicts a dry run's result lists (the counts say how many)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "shopify": "text/csv; charset=utf-8", "xlsx": XLSX}
EXTENSIONS = {"csv": "csv", "shopify": "csv", "xlsx": "xlsx"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

ImportFormat = Literal["auto", "csv", "xlsx", "shopify"]
OnConflict = Literal["refuse", "skip", "overwrite"]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
DRY_RUN_ID = PathParam(description="The id of the import's dry-run job", min_length=1, max_length=64)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such dry run (or not the caller's)"}}


class ApplyRequest(BaseModel):
    on_conflict: OnConflict | None = Field(
        None, description="What to do with rows changed since the dry run read them (default: the dry run's)")


class ExportFilter(BaseModel):
    """Which variants to export (the catalog grid's filter; empty fields do not filter)."""

    text: str = Field("", max_length=200, description="Title, SKU or barcode contains")
    category_id: int | None = Field(None, ge=1, le=2**31 - 1)
    statuses: list[Literal["draft", "active", "archived"]] = Field(default_factory=list, max_length=3)
    variant_statuses: list[Literal["active", "disabled", "archived"]] = Field(default_factory=list, max_length=3)
    vendors: list[str] = Field(default_factory=list, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=200)
    price_min: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    price_max: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    stock_min: int | None = Field(None, ge=-(2**31), le=2**31)
    stock_max: int | None = Field(None, ge=-(2**31), le=2**31)
    changed_since: AwareDatetime | None = None
    low_stock: bool = False
    product_ids: list[Id] = Field(default_factory=list, max_length=10_000)
    variant_ids: list[Id] = Field(default_factory=list, max_length=10_000)


class ExportRequest(BaseModel):
    format: Literal["csv", "xlsx", "shopify"] = "csv"
    filter: ExportFilter | None = None


def register(router: APIRouter) -> None:
    @route(router, "POST", "/imports", "importexport.check", tags=[TAG], status_code=202,
           responses={**ACCEPTED, **IDEMPOTENT_RESPONSES})
    def upload(request: Request, file: Annotated[UploadFile, File(description="The product file (CSV or XLSX)")],
               format: Annotated[ImportFormat, Form()] = "auto",
               mapping: Annotated[str | None, Form(max_length=20_000, description=(
                   'A JSON object: file header → native column, or null to leave a column out '
                   '({"Retail": "price", "Notes": null})'))] = None,
               on_conflict: Annotated[OnConflict, Form()] = "refuse", *, caller: Caller) -> Response:
        """Upload a product file and start its dry run (nothing is written): the job's result is the report."""
        columns = _mapping(mapping)
        jobs = runner(request)
        job = jobs.create(caller.actor.user_id, CHECK)
        try:
            path = job.directory / _file_name(file.filename)
            digest = hashlib.sha256()
            with path.open("wb") as out:
                while chunk := file.file.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            job.kept.update(path=path, format=format, mapping=columns, on_conflict=on_conflict)
            ops = caller.ops

            def dry_run(job: Job) -> dict[str, Any]:
                report = ops.importexport.check(path, format, mapping=columns, on_conflict=on_conflict,
                                                progress=job.report, cancel=job.cancelled)
                job.kept["report"] = report
                return report_json(report, job.id)

            payload = {"file": digest.hexdigest(), "name": path.name, "format": format, "mapping": columns,
                       "on_conflict": on_conflict}
            response = idempotent(request, caller, payload, lambda _op_id: accepted(jobs.start(job, dry_run)))
        finally:
            if not job.started:
                jobs.discard(job)          # a replay, or a refusal: the upload is not needed
        return response

    @route(router, "POST", "/imports/{job_id}/apply", "importexport.apply", tags=[TAG], status_code=202,
           responses={**ACCEPTED, **IDEMPOTENT_RESPONSES, **NOT_FOUND,
                      409: {"description": "The dry run has not succeeded (or the key's first request runs)"}})
    def apply(request: Request, job_id: str = DRY_RUN_ID, body: ApplyRequest | None = None, *,
              caller: Caller) -> Response:
        """Import the file a dry run checked, all or nothing, as one changeset (a job)."""
        checked = find_job(request, job_id, caller.ops.jobs.status, (CHECK,))
        if checked.state != SUCCEEDED:
            raise HTTPException(409, detail=f"The dry run {job_id} has not succeeded ({checked.state}); "
                                            "import a file whose dry run finished.")
        kept = checked.kept
        on_conflict = (body.on_conflict if body else None) or kept["on_conflict"]
        jobs = runner(request)
        ops = caller.ops

        def run(op_id: str) -> Response:
            job = jobs.create(caller.actor.user_id, APPLY)
            path = job.directory / kept["path"].name
            shutil.copy2(kept["path"], path)     # its own copy (same time stamp: the same file the dry run read)

            def import_file(job: Job) -> dict[str, Any]:
                result = ops.importexport.apply(path, kept["format"], mapping=kept["mapping"],
                                                on_conflict=on_conflict, baseline=kept["report"], op_id=op_id,
                                                progress=job.report, cancel=job.cancelled)
                return {**result.to_dict(), "changed_rows": result.changed_rows, "replayed": result.replayed,
                        "dry_run": checked.id}

            return accepted(jobs.start(job, import_file))

        return idempotent(request, caller, {"dry_run": checked.id, "on_conflict": on_conflict}, run)

    @route(router, "GET", "/imports/{job_id}/errors", "importexport.write_error_report", tags=[TAG],
           response_class=FileResponse,
           responses={**NOT_FOUND, 200: {"description": "The file's rows with an errors column (XLSX)",
                                         "content": {XLSX: {}}},
                      409: {"description": "The dry run has not finished, or found no bad rows"}})
    def errors(request: Request, job_id: str = DRY_RUN_ID, *, caller: Caller) -> FileResponse:
        """The dry run's bad rows marked in the file: its rows with an errors column (XLSX)."""
        checked = find_job(request, job_id, caller.ops.jobs.result, (CHECK,))
        report: ImportReport | None = checked.kept.get("report")
        if checked.state != SUCCEEDED or report is None:
            raise HTTPException(409, detail=f"The dry run {job_id} has not succeeded ({checked.state}).")
        if not report.problems:
            raise HTTPException(409, detail=f"The dry run {job_id} found no bad rows.")
        out = checked.directory / "errors.xlsx"
        if not out.exists():
            kept = checked.kept
            caller.ops.importexport.write_error_report(kept["path"], report, out, kept["format"],
                                                       mapping=kept["mapping"])
        stem = Path(checked.kept["path"].name).stem
        return FileResponse(out, media_type=XLSX, filename=f"{stem}-errors.xlsx")

    @route(router, "POST", "/exports", "importexport.export", tags=[TAG], status_code=202, responses=ACCEPTED)
    def export(request: Request, body: ExportRequest, *, caller: Caller) -> Response:
        """Export the variants a filter matches; the job's result file is the export."""
        chosen = body.filter.model_dump(exclude_defaults=True, mode="json") if body.filter else None
        variant_filter = VariantFilter.from_dict(chosen) if chosen else None
        ops, fmt = caller.ops, body.format

        def write(job: Job) -> dict[str, Any]:
            name = f"products-{dt.date.today().isoformat()}.{EXTENSIONS[fmt]}"
            path = job.directory / name
            rows = ops.importexport.export(path, fmt, variant_filter, progress=job.report, cancel=job.cancelled)
            job.keep_file(path, name, MEDIA_TYPES[fmt])
            return {"rows": rows, "format": fmt, "filename": name}

        return accepted(runner(request).submit(caller.actor.user_id, EXPORT, write))


def report_json(report: ImportReport, job_id: str) -> dict[str, Any]:
    """A dry run's report as a job result: counts, and the first problems as ``{row, field, message}``."""
    body = {k: v for k, v in report.to_dict().items() if k not in ("problems", "conflicts")}
    body.update(
        ok=report.ok, changed_rows=report.changed_rows, summary=report.counts(),
        errors=[{"row": p.row, "field": p.column, "message": p.message} for p in report.problems[:MAX_LISTED]],
        error_count=max(report.problem_count, len(report.problems)),
        conflicts=[c.to_dict() for c in report.conflicts[:MAX_LISTED]],
        errors_url=f"/v1/imports/{job_id}/errors" if report.problems else None,
    )
    return body


def _file_name(name: str | None) -> str:
    """The upload's name, made safe for a file in the job's folder (problems name the file by it)."""
    base = _SAFE_NAME.sub("-", Path(name or "").name).strip(".-")[:100]
    return base or "upload.csv"


def _mapping(text: str | None) -> dict[str, str | None] | None:
    """The ``mapping`` form field: a JSON object of file header → native column (or null); 422 otherwise."""
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _invalid(f"not JSON: {exc.msg}") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and (v is None or isinstance(v, str))
                                              for k, v in value.items()):
        raise _invalid('give a JSON object of file header → native column or null, e.g. {"Retail": "price"}')
    return value


def _invalid(message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", "mapping"), "msg": message, "type": "value_error"}])
