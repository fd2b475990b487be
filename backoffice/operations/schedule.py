"""The schedule area of the contract: the periodic jobs the OS scheduler runs without the app (``backoffice
schedule install``), which of them this database wants, and how their runs went.

The jobs themselves are operations of other areas (``reports.run_due``, ``alerts.send_digest``,
``orders.process``, ``connectors.sync``); each runs as the one run of its job at a time, whoever starts
it, and is recorded (:mod:`backoffice.services.job_runs`). A run that finds another one under way does
nothing and raises :class:`JobBusy` (recorded as skipped). Registering the jobs with the OS scheduler is
this machine's business, not the database's: :mod:`backoffice.scheduling`.
"""

from __future__ import annotations

from backoffice.operations.base import Area
from backoffice.services import job_runs
from backoffice.services.job_runs import JOBS, JobBusy, JobPlan, JobRunInfo, JobSpec

__all__ = ["JOBS", "JobBusy", "JobPlan", "JobRunInfo", "JobSpec", "ScheduleOperations"]


class ScheduleOperations(Area):
    def jobs(self) -> list[JobPlan]:
        """Every periodic job with whether this database wants it scheduled and why (``orders process``
        once it has orders, ``store sync`` while a store is connected; none the acting user may not run)."""
        return job_runs.plan(self._db, self._actor)

    def last_runs(self) -> list[JobRunInfo]:
        """The latest run of each job (of each store for ``store sync``); a ``running`` one says whether a
        live lease holds it."""
        return job_runs.last_runs(self._db)

    def runs(self, job: str | None = None, *, limit: int = 50) -> list[JobRunInfo]:
        """The runs of one job (by key, e.g. ``reports-run-due``) or of all, newest first."""
        return job_runs.runs(self._db, job, limit=limit)
