"""Jobs: long work the store API runs in the background for a client (an import's dry run and apply, a
product export, a report run or export), so that no request waits for it.

A route creates a :class:`Job` (which gets a folder of its own, for an upload and for its result file),
then starts it with the work to do; the answer is 202 with the job. The work runs on the app's small
thread pool (:class:`JobRunner`, ``app.state.jobs``) and is handed the job, whose :meth:`Job.report` is
the operation's ProgressCallback and :meth:`Job.cancelled` its CancelCallback. What the work returns is
the job's JSON result; :meth:`Job.keep_file` makes a file its downloadable result. An error of the
contract becomes the job's ``error`` as problem details (per-row ``errors`` for invalid input).

Jobs live in memory: a finished job is forgotten (and its folder deleted) an hour after it finished,
and every job when the app stops (running ones are asked to cancel first).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.encoders import jsonable_encoder

from backoffice.operations import ConflictError, NotFound, PermissionDenied, ServiceError, ValidationError
from backoffice.operations.schedule import JobBusy
from backoffice.server.problems import problem_body

log = logging.getLogger("backoffice.server.jobs")

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})

DEFAULT_WORKERS = 4
KEEP_FINISHED = dt.timedelta(hours=1)     # how long a finished job (and its file) stays to be fetched
MAX_ERRORS = 1000                         # per-row errors listed in a job's error (the count says how many)

Work = Callable[["Job"], Any]


@dataclass(frozen=True)
class JobFile:
    """A job's result file: where it is, the name a download gets, and its media type."""

    path: Path
    filename: str
    media_type: str


class Job:
    """One job: who started it, what it is, how far it got, and what came of it."""

    def __init__(self, owner_id: int, kind: str, root: Path) -> None:
        self.id = str(uuid.uuid4())
        self.owner_id = owner_id
        self.kind = kind
        self.directory = root / self.id       # the job's own folder: its upload, its result file
        self.state = QUEUED
        self.progress: float | None = None
        self.status: str | None = None
        self.result: Any = None
        self.file: JobFile | None = None
        self.error: dict[str, Any] | None = None
        self.created_at = _now()
        self.started_at: dt.datetime | None = None
        self.finished_at: dt.datetime | None = None
        self.kept: dict[str, Any] = {}        # values later requests about the job need (never shown)
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._future: Future[None] | None = None

    # -- the callbacks the work reports through -----------------------------------------------------------
    def report(self, fraction: float | None, text: str | None) -> None:
        """A ProgressCallback: ``fraction`` of the work done (0..1; None: not known), a status line."""
        with self._lock:
            if fraction is not None:
                self.progress = min(1.0, max(0.0, float(fraction)))
            if text is not None:
                self.status = str(text)

    def cancelled(self) -> bool:
        """A CancelCallback: True once someone asked the job to stop."""
        return self._cancel.is_set()

    def keep_file(self, path: Path, filename: str, media_type: str) -> None:
        """Make ``path`` (in the job's folder) the job's result file, downloaded as ``filename``."""
        self.file = JobFile(Path(path), filename, media_type)

    # -- reading -----------------------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        """Whether the job was handed to the runner's threads (it may still be queued)."""
        return self._future is not None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "id": self.id, "kind": self.kind, "state": self.state, "progress": self.progress,
                "status": self.status, "result": self.result, "has_file": self.file is not None and self.state == SUCCEEDED,
                "error": self.error, "cancel_requested": self._cancel.is_set(),
                "created_at": self.created_at, "started_at": self.started_at, "finished_at": self.finished_at,
            }

    # -- the runner's part -------------------------------------------------------------------------------
    def _run(self, work: Work) -> None:
        with self._lock:
            if self._cancel.is_set():
                self.state, self.finished_at = CANCELLED, _now()
                return
            self.state, self.started_at = RUNNING, _now()
        try:
            result = jsonable_encoder(work(self), custom_encoder={Decimal: str})   # money exact, as text
        except BaseException as exc:  # noqa: BLE001  (a job reports every failure; the server goes on)
            with self._lock:
                if self._cancel.is_set():
                    self.state = CANCELLED
                else:
                    self.state, self.error = FAILED, error_of(exc, f"/v1/jobs/{self.id}")
                self.finished_at = _now()
            return
        with self._lock:
            self.state, self.result, self.finished_at = SUCCEEDED, result, _now()
            if self.progress is not None:
                self.progress = 1.0


class JobRunner:
    """The app's jobs and the threads that run them. Thread-safe; each app has its own."""

    def __init__(self, workers: int = DEFAULT_WORKERS, *, keep: dt.timedelta = KEEP_FINISHED) -> None:
        self.workers, self.keep = workers, keep
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._root: Path | None = None       # made on first need: an app that runs no job leaves nothing

    def create(self, owner_id: int, kind: str) -> Job:
        """A new job of ``owner_id`` with its folder, not started yet (an upload goes into the folder first)."""
        self.prune()
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="backoffice-jobs-"))
            job = Job(owner_id, kind, self._root)
            job.directory.mkdir()
            self._jobs[job.id] = job
        return job

    def start(self, job: Job, work: Work) -> Job:
        """Queue ``work(job)`` on the pool."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="backoffice-job")
            job._future = self._pool.submit(job._run, work)
        return job

    def submit(self, owner_id: int, kind: str, work: Work) -> Job:
        return self.start(self.create(owner_id, kind), work)

    def get(self, job_id: str) -> Job | None:
        self.prune()
        with self._lock:
            return self._jobs.get(job_id)

    def cancel(self, job: Job) -> None:
        """Ask the job to stop: a queued job never starts, a running one stops at its next check."""
        job._cancel.set()
        future = job._future
        if future is not None and future.cancel():      # it had not started: it never will
            with job._lock:
                job.state, job.finished_at = CANCELLED, _now()

    def discard(self, job: Job) -> None:
        """Forget ``job`` and delete its folder (a finished job, or one never started)."""
        with self._lock:
            self._jobs.pop(job.id, None)
        shutil.rmtree(job.directory, ignore_errors=True)

    def prune(self, now: dt.datetime | None = None) -> None:
        """Forget the jobs that finished more than ``keep`` ago."""
        limit = (now or _now()) - self.keep
        with self._lock:
            old = [j for j in self._jobs.values() if j.finished and j.finished_at is not None and j.finished_at < limit]
        for job in old:
            self.discard(job)

    def shutdown(self) -> None:
        """Cancel what runs, wait for it to stop, forget every job and delete their folders."""
        with self._lock:
            jobs, pool, root = list(self._jobs.values()), self._pool, self._root
            self._jobs.clear()
            self._pool = self._root = None
        for job in jobs:
            self.cancel(job)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)


def error_of(exc: BaseException, instance: str) -> dict[str, Any]:
    """A job's failure as problem details, as the API would answer the same error of a request."""
    if isinstance(exc, ValidationError):
        errors = [{"row": str(row), "field": str(field), "message": str(message)}
                  for row, field, message in exc.problems[:MAX_ERRORS]]
        return _body(422, exc, instance, "validation", errors=errors, error_count=len(exc.problems))
    if isinstance(exc, JobBusy):
        return _body(409, exc, instance, "job-running", job=exc.job, scope=exc.scope, since=exc.since.isoformat(),
                     host=exc.host, pid=exc.pid, username=exc.username)
    if isinstance(exc, ConflictError):
        return _body(409, exc, instance, "conflict", entity=exc.entity, entity_id=exc.entity_id,
                     expected_version=exc.expected_version, actual_version=exc.actual_version)
    for kind, status, name in ((NotFound, 404, "not-found"), (PermissionDenied, 403, "permission-denied"),
                               (ServiceError, 400, "refused")):
        if isinstance(exc, kind):
            return _body(status, exc, instance, name)
    log.error("job %s failed", instance, exc_info=exc)
    return problem_body(500, detail="The job failed on the server; its log has the details.", instance=instance)


def _body(status: int, exc: BaseException, instance: str, kind: str, **extra: Any) -> dict[str, Any]:
    text = str(exc).strip()
    detail = text.splitlines()[0] if text else type(exc).__name__
    return jsonable_encoder(problem_body(status, detail=detail, kind=kind, instance=instance, **extra))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
