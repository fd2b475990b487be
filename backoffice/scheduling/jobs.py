"""Which periodic jobs to register, how often, and for which connection (plain values, no I/O but the
contract's one read in :func:`planned_jobs`)."""

from __future__ import annotations

import hashlib
import os
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from backoffice.operations import Operations

MIN_EVERY = 60            # a minute: what every scheduler can do
MAX_EVERY = 24 * 3600     # a day


class SchedulingError(Exception):
    """Scheduling refused or failed, with a message fit to show as it is (nothing half-registered)."""


@dataclass(frozen=True)
class Job:
    """One periodic job to register: its key (names the entries), its short name (``--every NAME=…``),
    the command as people read it, the arguments after the connection options, and seconds between runs."""

    key: str
    name: str
    label: str
    args: tuple[str, ...]
    every: int


@dataclass
class Plan:
    """The jobs to register, those left out, and the reason for each (by key)."""

    jobs: list[Job]
    left_out: list[Job] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)


def parse_duration(text: str) -> int:
    """``5m``, ``15min``, ``1h``, ``90s``, ``1d`` as seconds (a whole number of minutes, 1 min to 1 day)."""
    m = re.fullmatch(r"\s*(\d+)\s*(s|sec|m|min|h|hr|d|day)s?\s*", text.lower())
    if not m:
        raise SchedulingError(f"{text!r} is not a duration: write it as 5m, 15min, 1h, 90s or 1d")
    seconds = int(m[1]) * {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400, "day": 86400}[m[2]]
    if seconds % 60 or not MIN_EVERY <= seconds <= MAX_EVERY:
        raise SchedulingError(f"{text!r}: choose a whole number of minutes from 1m to 1d")
    return seconds


def describe_every(seconds: int) -> str:
    """``5 min``, ``1 h``, ``1 h 30 min``, ``1 d``."""
    if seconds % 86400 == 0:
        return f"{seconds // 86400} d"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes) + [f"{secs} s"] * bool(secs)
    return " ".join(parts) or "0 s"


def parse_every(specs: tuple[str, ...] | list[str], names: set[str]) -> dict[str, int]:
    """``("reports=5m", "alerts=30m")`` as ``{"reports": 300, "alerts": 1800}``; unknown names refused."""
    out: dict[str, int] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        name = name.strip()
        if not sep or not name:
            raise SchedulingError(f"--every {spec!r}: write it as JOB=DURATION, e.g. reports=5m")
        if name not in names:
            raise SchedulingError(f"--every {spec!r}: {name!r} is not a job ({', '.join(sorted(names))})")
        out[name] = parse_duration(value)
    return out


def planned_jobs(ops: Operations, *, every: dict[str, int] | None = None, include: tuple[str, ...] = (),
                 exclude: tuple[str, ...] = ()) -> Plan:
    """The jobs this database wants registered (``ops.schedule.jobs()``: reports and alerts always,
    orders once it has orders, store sync while a store is connected, none the acting user may not run),
    with the intervals of ``every`` (by short name) instead of the defaults; ``include`` forces jobs in
    (by short name), ``exclude`` leaves them out."""
    plans = ops.schedule.jobs()
    known = {p.name for p in plans}
    unknown = sorted((set(include) | set(exclude) | set(every or {})) - known)
    if unknown:
        raise SchedulingError(f"unknown job {', '.join(unknown)} (the jobs are {', '.join(sorted(known))})")
    plan = Plan([])
    for p in plans:
        job = Job(p.key, p.name, p.label, tuple(p.args), (every or {}).get(p.name, p.every))
        reason = p.reason
        wanted = p.wanted
        if p.name in exclude:
            wanted, reason = False, "left out with --without"
        elif p.name in include and not wanted:
            wanted, reason = True, f"asked for with --with ({p.reason})"
        plan.reasons[job.key] = reason
        (plan.jobs if wanted else plan.left_out).append(job)
    return plan


# -- the connection the entries use ------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """What each registered entry runs: the app, then the connection options, then the job's arguments.

    ``instance`` names the entries of one profile or database, so several can be registered side by side
    (the profile's name, or ``db-`` and a hash of the URL)."""

    instance: str
    program: tuple[str, ...]
    connection: tuple[str, ...]
    description: str

    def command(self, job: Job) -> list[str]:
        return [*self.program, *self.connection, *job.args]


def app_program(*, frozen: bool | None = None, executable: str | None = None) -> tuple[str, ...]:
    """The absolute command of this app: the bundle's executable when frozen (PyInstaller), else this
    Python with ``-m backoffice`` (a virtual environment's interpreter path is kept as it is)."""
    frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    exe = os.path.abspath(executable or sys.executable)
    return (exe,) if frozen else (exe, "-m", "backoffice")


PASSWORD_REFUSED = ("the database URL holds a password, which would be written in clear into the scheduler's "
                    "files: save a profile instead (`backoffice profiles add NAME URL` keeps the password in the "
                    "keyring) and run `backoffice schedule install --profile NAME`")


def has_password(url: str) -> bool:
    if "://" not in url:
        return False
    if url.split("://", 1)[0].lower() in ("http", "https"):
        return urlsplit(url).password is not None
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password is not None
    except ArgumentError:
        return False


def instance_name(text: str) -> str:
    """``text`` as a name every scheduler accepts in its entries' names: letters, digits, ``_`` and
    ``-``; anything else replaced, and then a short hash added so two names never meet."""
    clean = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:40]
    if clean == text and clean:
        return clean
    return f"{clean or 'profile'}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def target_for(*, url: str, profile: str | None = None, user: str | None = None,
               program: tuple[str, ...] | None = None) -> Target:
    """The target of the entries for a profile (``--profile NAME``) or else a database URL (``--db URL``,
    a path made an absolute ``sqlite:///`` URL); ``user`` adds ``--user NAME``. A URL holding a password
    is refused (SchedulingError): it would be written into the scheduler's files."""
    if profile:
        connection: tuple[str, ...] = ("--profile", profile)
        instance, description = instance_name(profile), f"profile {profile}"
    else:
        if has_password(url):
            raise SchedulingError(PASSWORD_REFUSED)
        if "://" not in url:
            url = "sqlite:///" + os.path.abspath(os.path.expanduser(url))
        connection = ("--db", url)
        instance = "db-" + hashlib.sha256(url.encode()).hexdigest()[:10]
        description = url
    if user:
        connection += ("--user", user)
        description += f" as {user}"
    if any(unicodedata.category(ch) == "Cc" for word in connection for ch in word):
        raise SchedulingError("a profile, URL or user name with a control character (a line break, a tab) "
                              "cannot go into a scheduler's entry")
    return Target(instance, program or app_program(), connection, description)
