"""The periodic jobs the OS scheduler runs without the app, their leases and their run history.

Four jobs (:data:`JOBS`): ``reports run-due``, ``stock alerts --send``, ``orders process`` and ``store
sync``. Whoever starts one (the OS scheduler through the command line, the desktop, the store API's
server), the operation runs inside :func:`exclusive`:

- it takes the job's lease: a row of ``job_locks`` per job (and scope: a store's name for ``store
  sync``), claimed in one transaction: inserted when missing, taken over when its lease has expired,
  refused while another run holds a live lease. Both engines: on PostgreSQL the row is read ``FOR
  UPDATE`` and a missing one inserted with ``ON CONFLICT DO NOTHING`` (of two runs inserting at once one
  wins, the other sees the winner's row), on SQLite the write transaction (``BEGIN IMMEDIATE``) serialises
  the claims. The time is the database's own on PostgreSQL (machines' clocks differ), this machine's on
  an SQLite file.
- a refused run is recorded as ``skipped`` and raises :class:`JobBusy` (the command line prints one
  line and exits 0: another run is doing the work);
- while the job works, a thread renews the lease every :data:`RENEW_EVERY` of :data:`LEASE`; a process
  that dies stops renewing, its lease expires, and the next run takes it over and records the dead run as
  failed (``abandoned``). A run on the same node as the holder (same host, kernel boot and pid namespace:
  where its process id means the same process) whose process is gone takes over at once. A lease is never
  taken from a live run, however long it works;
- the run is recorded in ``job_runs`` (host, pid, user; ``running``, then ``ok`` or ``failed`` with a one
  line summary), and the lease released. Runs older than :data:`KEEP_RUNS` are pruned as jobs finish.

:func:`plan` says which jobs a database wants scheduled ("where configured") and why.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import getpass
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import JobLock, JobRun, Order, ReportSchedule, StoreConnection, utcnow
from backoffice.services import permissions
from backoffice.services.base import Actor, ServiceError, dialect_insert

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=2)      # how long a lease lasts unless renewed: a dead run blocks no longer
RENEW_EVERY = 0.25                   # renewed after this fraction of the lease
KEEP_RUNS = dt.timedelta(days=30)    # run history kept per job
SUMMARY_CHARS = 2000


@dataclass(frozen=True)
class JobSpec:
    """One periodic job: what it is called, the command it runs and how often by default."""

    key: str                    # names its lease, its history rows and the scheduler's entries
    name: str                   # short: what ``--every NAME=5m``, ``--with`` and ``--without`` take
    label: str                  # the command as people read it
    args: tuple[str, ...]       # the command's arguments after the connection options
    every: int                  # seconds between runs by default
    operation: str              # the operation of the contract it runs (whose permission it needs)


JOBS: tuple[JobSpec, ...] = (
    JobSpec("reports-run-due", "reports", "reports run-due", ("reports", "run-due"), 5 * 60, "reports.run_due"),
    JobSpec("stock-alerts", "alerts", "stock alerts --send", ("stock", "alerts", "--send"), 60 * 60,
            "alerts.send_digest"),
    JobSpec("orders-process", "orders", "orders process", ("orders", "process"), 5 * 60, "orders.process"),
    JobSpec("store-sync", "store", "store sync", ("store", "sync"), 15 * 60, "connectors.sync"),
    JobSpec("events-run-due", "events", "events run-due", ("events", "run-due"), 5 * 60, "events.run_due"),
)
BY_KEY = {spec.key: spec for spec in JOBS}


def spec_of(job: str) -> JobSpec:
    try:
        return BY_KEY[job]
    except KeyError:
        raise ServiceError(f"{job!r} is not a scheduled job ({', '.join(BY_KEY)})") from None


def label_of(job: str, scope: str = "") -> str:
    label = BY_KEY[job].label if job in BY_KEY else job
    return f"{label} {scope}" if scope else label


class JobBusy(ServiceError):
    """Another run of the job holds its lease: this one did nothing (it was recorded as skipped)."""

    def __init__(self, job: str, scope: str, since: dt.datetime, host: str, pid: int, username: str = "") -> None:
        self.job, self.scope, self.since, self.host, self.pid, self.username = job, scope, since, host, pid, username
        super().__init__(f"`{label_of(job, scope)}` is already running (since {since:%Y-%m-%d %H:%M:%S} UTC, "
                         f"on {host} pid {pid})")


@dataclass
class JobRunInfo:
    """One run of a job. ``alive``: for a run still ``running``, whether a live lease holds it (False: its
    process died and the lease expired; the next run records it as failed)."""

    id: int
    job: str
    label: str
    scope: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    summary: str
    host: str
    pid: int
    username: str
    os_user: str
    alive: bool = False

    @property
    def seconds(self) -> float | None:
        return None if self.finished_at is None else (self.finished_at - self.started_at).total_seconds()


@dataclass
class JobPlan:
    """A job and whether this database wants it scheduled (``wanted``), with the reason either way."""

    key: str
    name: str
    label: str
    args: list[str]
    every: int
    operation: str
    wanted: bool
    reason: str


# -- the lease ------------------------------------------------------------------------------------------
@dataclass
class Claim:
    """A run that holds its job's lease."""

    job: str
    scope: str
    run_id: int
    token: str
    lease: dt.timedelta

    @property
    def lock_name(self) -> str:
        return lock_name(self.job, self.scope)


def lock_name(job: str, scope: str = "") -> str:
    return f"{job}:{scope}" if scope else job


def _now(session: Session) -> dt.datetime:
    """The database's time on PostgreSQL (one clock for every machine), this machine's on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(select(func.clock_timestamp())).scalar_one()
    return utcnow()


def _who(actor: Actor | None) -> dict[str, object]:
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):   # no name for this uid (a container)
        os_user = str(os.getuid()) if hasattr(os, "getuid") else ""
    return {"host": socket.gethostname()[:255], "pid": os.getpid(),
            "username": actor.username[:100] if actor else "", "os_user": os_user[:100]}


def claim(db: Database, job: str, actor: Actor | None, *, scope: str = "", lease: dt.timedelta = LEASE) -> Claim:
    """Take the lease of ``job`` and record the run as ``running``; JobBusy (the run recorded as skipped)
    while another run holds a live lease."""
    spec_of(job)
    who = _who(actor)
    name = lock_name(job, scope)

    def take(session: Session) -> Claim | JobBusy:
        now = _now(session)
        lock = session.get(JobLock, name, with_for_update=True)
        if lock is not None and lock.expires_at > now and not _holder_gone(lock, who):
            return _skipped(session, job, scope, now, who, lock)
        run = JobRun(job=job, scope=scope, status="running", started_at=now, **who)
        session.add(run)
        session.flush()
        token = uuid.uuid4().hex
        if lock is None:
            inserted = session.execute(
                dialect_insert(session)(JobLock)
                .values(name=name, token=token, run_id=run.id, acquired_at=now, expires_at=now + lease,
                        host=who["host"], pid=who["pid"], node=_node(), username=who["username"])
                .on_conflict_do_nothing(index_elements=["name"]).returning(JobLock.name)).scalar()
            if inserted is None:   # another run inserted the lease first (it waited for its commit)
                session.delete(run)
                winner = session.get(JobLock, name, populate_existing=True)
                assert winner is not None
                return _skipped(session, job, scope, now, who, winner)
        else:
            if lock.run_id is not None:   # the previous holder died: its lease ran out, or its process is gone
                how = (f"its lease expired at {lock.expires_at:%Y-%m-%d %H:%M:%S} UTC" if lock.expires_at <= now
                       else f"its process, pid {lock.pid} on {lock.host}, is gone")
                session.execute(update(JobRun).where(JobRun.id == lock.run_id, JobRun.status == "running")
                                .values(status="failed", finished_at=min(now, lock.expires_at),
                                        summary=f"abandoned: the run stopped without finishing ({how})"))
            lock.token, lock.run_id, lock.acquired_at, lock.expires_at = token, run.id, now, now + lease
            lock.host, lock.pid, lock.node, lock.username = (  # type: ignore[assignment]
                who["host"], who["pid"], _node(), who["username"])
        return Claim(job, scope, run.id, token, lease)

    outcome = db.run_write(take)
    if isinstance(outcome, JobBusy):
        raise outcome
    return outcome


def _node() -> str:
    """Where a process id names one process: on Linux the kernel's boot and this pid namespace (two
    containers of one host, or two hosts of one name, never share it); elsewhere "" (never compared)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"[:100]
    except OSError:
        return ""


def _holder_gone(lock: JobLock, who: dict[str, object]) -> bool:
    """True when the lease's holder ran on this very node and its process no longer exists."""
    node = _node()
    if not node or lock.node != node or lock.host != who["host"] or lock.pid <= 0:
        return False
    try:
        os.kill(lock.pid, 0)
    except ProcessLookupError:
        return True
    except OSError:     # it exists (another user's process, say)
        return False
    return False


def _skipped(session: Session, job: str, scope: str, now: dt.datetime, who: dict[str, object],
             holder: JobLock) -> JobBusy:
    busy = JobBusy(job, scope, holder.acquired_at, holder.host, holder.pid, holder.username)
    session.add(JobRun(job=job, scope=scope, status="skipped", started_at=now, finished_at=now,
                       summary=f"skipped: {busy}", **who))
    return busy


def renew(db: Database, held: Claim) -> bool:
    """Extend the lease; False when it is no longer this run's (it expired and another run took it)."""
    def extend(session: Session) -> bool:
        now = _now(session)
        result = session.execute(update(JobLock).where(JobLock.name == held.lock_name, JobLock.token == held.token)
                                 .values(expires_at=now + held.lease))
        return result.rowcount == 1  # type: ignore[attr-defined]

    return db.run_write(extend)


def finish(db: Database, held: Claim, status: str, summary: str) -> None:
    """Record how the run went, release the lease, and prune the job's history older than KEEP_RUNS."""
    if status not in ("ok", "failed"):
        raise ValueError(f"a finished run is ok or failed, not {status!r}")

    def record(session: Session) -> None:
        now = _now(session)
        session.execute(update(JobRun).where(JobRun.id == held.run_id)
                        .values(status=status, finished_at=now, summary=summary[:SUMMARY_CHARS]))
        session.execute(delete(JobLock).where(JobLock.name == held.lock_name, JobLock.token == held.token))
        session.execute(delete(JobRun).where(JobRun.job == held.job, JobRun.started_at < now - KEEP_RUNS,
                                             JobRun.status != "running"))

    db.run_write(record)


class _LeaseKeeper:
    """Renews a claim's lease in the background while the job works (in the caller's context, so on
    PostgreSQL the renewal acts as the same user and role)."""

    def __init__(self, db: Database, held: Claim) -> None:
        self.db, self.held = db, held
        self.lost = False
        self._stop = threading.Event()
        self._context = contextvars.copy_context()
        self._thread = threading.Thread(target=self._run, name=f"lease of {held.lock_name}", daemon=True)

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        interval = self.held.lease.total_seconds() * RENEW_EVERY
        while not self._stop.wait(interval):
            try:
                if not self._context.run(renew, self.db, self.held):
                    self.lost = True
                    log.warning("the lease of %s expired while it ran; another run may have started",
                                self.held.lock_name)
                    return
            except Exception as exc:  # noqa: BLE001 - the database away for a moment: try again next time
                log.warning("could not renew the lease of %s: %s", self.held.lock_name, exc)


@dataclass
class RunningJob:
    """What the job tells :func:`exclusive` about how it went (``ok`` unless it says otherwise)."""

    claim: Claim
    status: str = "ok"
    summary: str = ""
    notes: list[str] = field(default_factory=list)

    def done(self, summary: str, *, failed: bool = False) -> None:
        self.summary, self.status = summary, "failed" if failed else "ok"


@contextlib.contextmanager
def exclusive(db: Database, job: str, actor: Actor | None, *, scope: str = "",
              lease: dt.timedelta = LEASE) -> Iterator[RunningJob]:
    """Run the body as the one run of ``job`` (JobBusy, recorded as skipped, when another holds the
    lease); the run is recorded with what the body passed to :meth:`RunningJob.done`, or as failed
    with the error when it raised (the error goes on)."""
    running = RunningJob(claim(db, job, actor, scope=scope, lease=lease))
    try:
        with _LeaseKeeper(db, running.claim):
            yield running
    except BaseException as exc:
        text = str(exc).strip()
        finish(db, running.claim, "failed", (text.splitlines()[0] if text else type(exc).__name__))
        raise
    finish(db, running.claim, running.status, running.summary)


# -- the history --------------------------------------------------------------------------------------------
def _info(row: JobRun, live: set[int]) -> JobRunInfo:
    return JobRunInfo(row.id, row.job, label_of(row.job, row.scope), row.scope, row.status, row.started_at,
                      row.finished_at, row.summary, row.host, row.pid, row.username, row.os_user, row.id in live)


def _live_runs(session: Session) -> set[int]:
    now = _now(session)
    return {run_id for run_id in session.scalars(select(JobLock.run_id).where(JobLock.expires_at > now))
            if run_id is not None}


def last_runs(db: Database) -> list[JobRunInfo]:
    """The latest run of each job (of each store for ``store sync``), in the order of :data:`JOBS`."""
    order = {spec.key: n for n, spec in enumerate(JOBS)}
    with db.read() as session:
        latest = select(func.max(JobRun.id)).group_by(JobRun.job, JobRun.scope)
        rows = session.scalars(select(JobRun).where(JobRun.id.in_(latest))).all()
        live = _live_runs(session)
    return sorted((_info(r, live) for r in rows), key=lambda i: (order.get(i.job, len(order)), i.job, i.scope))


def runs(db: Database, job: str | None = None, *, limit: int = 50) -> list[JobRunInfo]:
    """Runs newest first, of one job or of all."""
    if job is not None:
        spec_of(job)
    query = select(JobRun).order_by(JobRun.id.desc()).limit(max(1, min(int(limit), 1000)))
    if job is not None:
        query = query.where(JobRun.job == job)
    with db.read() as session:
        rows = session.scalars(query).all()
        live = _live_runs(session)
    return [_info(r, live) for r in rows]


# -- which jobs a database wants ------------------------------------------------------------------------------
def plan(db: Database, actor: Actor) -> list[JobPlan]:
    """Each job with whether this database wants it run on a schedule, and why: ``reports run-due`` and
    ``stock alerts --send`` always; ``orders process`` once the database has orders; ``store sync`` while
    a store is connected and active. A job the acting user may not run is never wanted (it would fail at
    every run)."""
    from backoffice.services.settings import get_smtp

    out = []
    for spec in JOBS:
        if not permissions.allowed(spec.operation, actor.role):
            wanted, reason = False, (f"{actor.username} ({actor.role.value}) may not run {spec.operation}; it "
                                     f"needs the role {permissions.describe(permissions.PERMISSIONS[spec.operation])}")
        elif spec.key == "reports-run-due":
            with db.read() as session:
                active = session.scalar(select(func.count()).select_from(ReportSchedule)
                                        .where(ReportSchedule.active.is_(True))) or 0
            wanted, reason = True, (f"{active} active report schedule(s)" if active else
                                    "no report schedules yet: it delivers them once there are")
        elif spec.key == "stock-alerts":
            smtp = get_smtp(db)
            wanted, reason = True, (f"mails new low-stock alerts through {smtp.host}" if smtp.configured else
                                    "no mail server is set yet: it fails until `backoffice stock mail-settings "
                                    "--host …` sets one")
        elif spec.key == "orders-process":
            with db.read() as session:
                has_orders = session.scalar(select(Order.id).limit(1)) is not None
            wanted, reason = has_orders, ("orders arrive in this database" if has_orders else
                                          "no orders in this database yet (schedule it with --with orders, or "
                                          "install again once the store writes orders)")
        elif spec.key == "events-run-due":
            from backoffice.models.price_events import PriceEvent

            with db.read() as session:
                pending = session.scalar(select(func.count()).select_from(PriceEvent)
                                         .where(PriceEvent.state.in_(("planned", "active")))) or 0
            wanted, reason = bool(pending), (f"{pending} price event(s) planned or under way" if pending else
                                             "no price event planned (schedule it with --with events, or install "
                                             "again once one is planned)")
        else:
            with db.read() as session:
                names = list(session.scalars(select(StoreConnection.name).where(StoreConnection.active.is_(True))
                                             .order_by(StoreConnection.name)))
            wanted, reason = bool(names), ("syncs " + ", ".join(names) if names else
                                           "no active store connection (`backoffice store add …`)")
        out.append(JobPlan(spec.key, spec.name, spec.label, list(spec.args), spec.every, spec.operation, wanted,
                           reason))
    return out
