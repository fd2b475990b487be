"""``/v1/jobs``: following the background work a ``POST`` started (an import, an export, a report).

``GET /v1/jobs/{id}`` reports the job's state (queued, running, succeeded, failed, cancelled), its
progress and status line, its JSON result or its error (problem details; per-row ``errors`` for bad
input); ``GET /v1/jobs/{id}/result`` downloads its result file once it succeeded (409 before);
``DELETE /v1/jobs/{id}`` cancels a job that has not finished (202), or forgets a finished one and its
file (204). Only the user who started a job, or an admin, sees it: anyone else gets 404.

The routes that start jobs answer with :func:`accepted` (202, the job, ``Location`` of the job).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from backoffice.server.jobs import SUCCEEDED, Job, JobRunner
from backoffice.server.security import Caller, route

TAG = "jobs"
JOB_ID = Path(description="The job's id (a UUID).", min_length=1, max_length=64)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such job (or not the caller's)"}}


class JobView(BaseModel):
    """A job as a client follows it."""

    id: str
    kind: str = Field(description="import-check, import-apply, export, report-run or report-export")
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: float | None = Field(None, description="The fraction done (0..1), when known")
    status: str | None = Field(None, description="What the job is doing now")
    result: Any = Field(None, description="The job's JSON result once it succeeded")
    has_file: bool = Field(description="Whether GET /v1/jobs/{id}/result has a file to download")
    result_url: str | None = None
    error: dict[str, Any] | None = Field(None, description="Why it failed, as problem details")
    cancel_requested: bool = False
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


def view(job: Job) -> dict[str, Any]:
    body = job.to_json()
    body["result_url"] = f"/v1/jobs/{job.id}/result" if body["has_file"] else None
    return body


def accepted(job: Job) -> JSONResponse:
    """The answer of a route that started ``job``: 202, the job, and where to follow it."""
    return JSONResponse(JobView(**view(job)).model_dump(mode="json"), status_code=202,
                        headers={"Location": f"/v1/jobs/{job.id}"})


ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": JobView, "description": "The job started: follow it at Location (GET /v1/jobs/{id})"}}


def runner(request: Request) -> JobRunner:
    return request.app.state.jobs


def find_job(request: Request, job_id: str, may_see: Callable[[int], bool], kinds: tuple[str, ...] = ()) -> Job:
    """The job ``job_id`` when ``may_see(owner id)`` (a question of the jobs area), else 404; ``kinds``:
    only jobs of these kinds exist for the route."""
    job = runner(request).get(job_id)
    if job is None or (kinds and job.kind not in kinds) or not may_see(job.owner_id):
        raise HTTPException(404, detail=f"There is no job {job_id}.")
    return job


def file_response(job: Job) -> FileResponse:
    """The job's result file (409 while the job has not finished, or when it has none)."""
    if not job.finished:
        raise HTTPException(409, detail=f"Job {job.id} has not finished ({job.state}); poll GET /v1/jobs/{job.id}.")
    if job.state != SUCCEEDED or job.file is None or not job.file.path.exists():
        raise HTTPException(409, detail=f"Job {job.id} {job.state} without a result file.")
    return FileResponse(job.file.path, media_type=job.file.media_type, filename=job.file.filename)


def register(router: APIRouter) -> None:
    @route(router, "GET", "/jobs/{job_id}", "jobs.status", response_model=JobView, tags=[TAG], responses=NOT_FOUND)
    def status(request: Request, job_id: str = JOB_ID, *, caller: Caller) -> dict[str, Any]:
        """A job's state, progress, and result or error."""
        return view(find_job(request, job_id, caller.ops.jobs.status))

    @route(router, "GET", "/jobs/{job_id}/result", "jobs.result", tags=[TAG], response_class=FileResponse,
           responses={**NOT_FOUND, 200: {"description": "The result file (Content-Disposition names it)",
                                         "content": {"application/octet-stream": {}}},
                      409: {"description": "The job has not finished, or has no result file"}})
    def result(request: Request, job_id: str = JOB_ID, *, caller: Caller) -> FileResponse:
        """Download a finished job's result file."""
        return file_response(find_job(request, job_id, caller.ops.jobs.result))

    @route(router, "DELETE", "/jobs/{job_id}", "jobs.cancel", tags=[TAG], status_code=202,
           responses={**NOT_FOUND, 202: {"model": JobView, "description": "Asked to stop: poll until it has"},
                      204: {"description": "The job had finished: it and its file are forgotten"}})
    def cancel(request: Request, job_id: str = JOB_ID, *, caller: Caller) -> Response:
        """Cancel a job that has not finished, or forget a finished one."""
        jobs = runner(request)
        job = find_job(request, job_id, caller.ops.jobs.cancel)
        if job.finished:
            jobs.discard(job)
            return Response(status_code=204)
        jobs.cancel(job)
        return JSONResponse(JobView(**view(job)).model_dump(mode="json"), status_code=202)
