"""Scheduled work without the app: the periodic jobs registered with the OS scheduler of the current user.

The jobs (``reports run-due``, ``stock alerts --send``, and where the database says so ``orders process``
and ``store sync``) are the app's own commands, run with a profile (``--profile NAME``) or a database
(``--db URL``; never one holding a password). Each run takes its job's lease in the database and is
recorded there (``ops.schedule``): two runs never overlap, whoever starts them. This package only
writes, reads back and removes the entries, one backend per scheduler:

- ``systemd``: user timers, a ``.service`` and a ``.timer`` per job in ``~/.config/systemd/user``
  (Linux with a user manager);
- ``cron``: a marked block per profile or database in the user's crontab (Linux and Unix otherwise);
- ``launchd``: an agent per job in ``~/Library/LaunchAgents`` (macOS);
- ``schtasks``: a Task Scheduler task per job from an XML definition (Windows).

Plain Python, no Qt; every call may run a scheduler's command (``systemctl``, ``crontab``, ``launchctl``,
``schtasks``): a GUI calls them off its thread. The API::

    plan = planned_jobs(ops, every={"reports": 300}, include=("orders",), exclude=())
        # Plan: .jobs (Job: key, name, label, args, every), .left_out, .reasons[key]
    target = target_for(url=url, profile="shop", user=None)
        # Target: .instance (names the entries), .program, .connection; SchedulingError for a password
    backend = backend_for_platform()            # or backend_named("cron"); backend.unavailable() -> reason
    result = install(plan.jobs, target, backend=backend, dry_run=False)
        # InstallResult: .artifacts (path, content), .removed (stale entries), .changed, .notes
    entries = registered(instance=target.instance)      # [Registered] across this platform's schedulers
    removed = remove(instance=target.instance)          # instance None: every Backoffice entry
    states = job_states(entries, ops.schedule.last_runs(), ops.schedule.jobs())   # [JobState] per job

``install`` is idempotent (the same jobs again change nothing) and also removes the entries of that
instance's jobs no longer planned; several profiles and databases are registered side by side; nothing
but Backoffice's own entries is ever touched.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from backoffice.scheduling.base import Artifact, Backend, InstallResult, Registered
from backoffice.scheduling.jobs import (
    Job,
    Plan,
    SchedulingError,
    Target,
    app_program,
    describe_every,
    parse_duration,
    parse_every,
    planned_jobs,
    target_for,
)

if TYPE_CHECKING:
    from backoffice.operations.schedule import JobPlan, JobRunInfo

__all__ = ["SCHEDULERS", "Artifact", "Backend", "InstallResult", "Job", "JobState", "Plan", "Registered",
           "SchedulingError", "Target", "app_program", "backend_for_platform", "backend_named",
           "backends_for_platform", "describe_every", "install", "job_states", "parse_duration", "parse_every",
           "planned_jobs", "registered", "remove", "target_for"]

SCHEDULERS = ("systemd", "cron", "launchd", "schtasks")


def backend_named(name: str) -> Backend:
    """The backend of scheduler ``name`` (one of :data:`SCHEDULERS`), whatever this platform is."""
    if name == "systemd":
        from backoffice.scheduling.systemd import SystemdBackend
        return SystemdBackend()
    if name == "cron":
        from backoffice.scheduling.cron import CronBackend
        return CronBackend()
    if name == "launchd":
        from backoffice.scheduling.launchd import LaunchdBackend
        return LaunchdBackend()
    if name == "schtasks":
        from backoffice.scheduling.schtasks import SchtasksBackend
        return SchtasksBackend()
    raise SchedulingError(f"unknown scheduler {name!r} (one of {', '.join(SCHEDULERS)})")


def backends_for_platform(platform: str | None = None) -> list[Backend]:
    """The schedulers Backoffice may have used on this platform, the preferred first."""
    platform = platform or sys.platform
    if platform == "darwin":
        return [backend_named("launchd"), backend_named("cron")]
    if platform == "win32":
        return [backend_named("schtasks")]
    return [backend_named("systemd"), backend_named("cron")]


def backend_for_platform(platform: str | None = None) -> Backend:
    """The scheduler to register with here: launchd on macOS, the Task Scheduler on Windows, elsewhere
    systemd user timers when this user's manager answers, else the crontab (SchedulingError when none
    is usable)."""
    candidates = backends_for_platform(platform)
    reasons = []
    for backend in candidates:
        problem = backend.unavailable()
        reachable = getattr(backend, "manager_reachable", None)
        if problem is None and reachable is not None and not reachable():
            problem = "this user's systemd manager is not running"
        if problem is None:
            return backend
        reasons.append(f"{backend.name}: {problem}")
    raise SchedulingError("no scheduler is usable here (" + "; ".join(reasons) + ")")


def install(jobs: list[Job], target: Target, *, backend: Backend | None = None, dry_run: bool = False) -> InstallResult:
    """Register ``jobs`` for ``target`` with ``backend`` (this platform's by default); with ``dry_run``
    write nothing and say what would be written."""
    backend = backend or backend_for_platform()
    if not dry_run:
        backend.check()
    return backend.install(jobs, target, dry_run=dry_run)


def registered(*, instance: str | None = None, backend: Backend | None = None) -> list[Registered]:
    """The Backoffice entries of ``instance`` (all when None) with ``backend``, or with every scheduler
    this platform may have used."""
    found: list[Registered] = []
    for b in [backend] if backend else backends_for_platform():
        found += b.registered(instance)
    return found


def remove(*, instance: str | None = None, backend: Backend | None = None, dry_run: bool = False) -> list[Registered]:
    """Remove the Backoffice entries of ``instance`` (all when None) from ``backend`` or from every
    scheduler of this platform; the entries removed (none: nothing was registered)."""
    removed: list[Registered] = []
    for b in [backend] if backend else backends_for_platform():
        removed += b.remove(instance, dry_run=dry_run)
    return removed


@dataclass
class JobState:
    """One job for ``schedule status``: whether the database wants it (None: not asked) and why, its
    entry with the scheduler (None: not registered), and its latest runs (one per store for store sync)."""

    key: str
    label: str
    wanted: bool | None
    reason: str
    entry: Registered | None
    last_runs: list[JobRunInfo] = field(default_factory=list)


def job_states(entries: list[Registered], last_runs: list[JobRunInfo],
               plans: list[JobPlan] | None = None) -> list[JobState]:
    """Per job (in the order of ``plans``, or of the runs and entries): its entry and latest runs."""
    from backoffice.operations.schedule import JOBS

    by_job = {e.job: e for e in entries}
    labels = {spec.key: spec.label for spec in JOBS}
    keys = [p.key for p in plans] if plans else [spec.key for spec in JOBS]
    keys += [k for k in [*by_job, *(r.job for r in last_runs)] if k not in keys]
    keys = list(dict.fromkeys(keys))
    wanted = {p.key: p for p in plans or []}
    return [JobState(key, labels.get(key, key), wanted[key].wanted if key in wanted else None,
                     wanted[key].reason if key in wanted else "", by_job.get(key),
                     [r for r in last_runs if r.job == key]) for key in keys]
