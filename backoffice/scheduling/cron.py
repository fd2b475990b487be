"""The user's crontab (Linux and other Unix systems without a systemd user manager).

Each profile or database gets one marked block, managed through ``crontab -l`` and ``crontab -``; every
other line of the crontab is kept as it is, byte for byte::

    # BEGIN backoffice shop
    # Written by `backoffice schedule install` for profile shop; `backoffice schedule remove` deletes this block.
    # backoffice-job reports-run-due every 300s
    */5 * * * * '/opt/venv/bin/python' -m backoffice --profile shop reports run-due >> '/home/me/.local/state/backoffice/log/shop-reports-run-due.log' 2>&1
    # END backoffice shop

An interval must divide an hour or a day (cron has no other). ``%`` is escaped (cron makes it a line
break). Changing the crontab is serialised between Backoffice processes of this user by a lock file, so
two installs at once do not lose each other's block.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shlex
import tempfile
from collections.abc import Iterator
from pathlib import Path

import platformdirs

from backoffice.scheduling.base import (
    APP,
    Artifact,
    Backend,
    InstallResult,
    Registered,
    has_program,
    log_file,
    run,
)
from backoffice.scheduling.jobs import Job, SchedulingError, Target

BEGIN = f"# BEGIN {APP} "
END = f"# END {APP} "
JOB_LINE = re.compile(rf"# {APP}-job (?P<key>[A-Za-z0-9_-]+) every (?P<every>\d+)s$")
REDIRECT = re.compile(r"\s+>>\s+(?P<log>'[^']*'|\S+)\s+2>&1\s*$")


def schedule_of(seconds: int) -> str:
    """The five time fields of an interval that divides an hour or a day."""
    if seconds < 3600 and 3600 % seconds == 0 and seconds % 60 == 0:
        minutes = seconds // 60
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    if seconds < 86400 and 86400 % seconds == 0 and seconds % 3600 == 0:
        hours = seconds // 3600
        return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
    if seconds == 86400:
        return "0 0 * * *"
    raise SchedulingError(f"cron runs a job every few minutes (a divisor of an hour) or hours (a divisor of a "
                          f"day), not every {seconds // 60} minutes: choose another --every")


def next_time(seconds: int, now: dt.datetime | None = None) -> dt.datetime:
    """When cron next runs an entry of :func:`schedule_of` (cron keeps this machine's local time)."""
    now = (now or dt.datetime.now().astimezone()).replace(second=0, microsecond=0)
    if seconds < 3600:
        minutes = seconds // 60
        at = now + dt.timedelta(minutes=minutes - now.minute % minutes)
    elif seconds < 86400:
        hours = seconds // 3600
        at = now.replace(minute=0) + dt.timedelta(hours=hours - now.hour % hours)
    else:
        at = now.replace(minute=0, hour=0) + dt.timedelta(days=1)
    return at.astimezone(dt.timezone.utc)


def shell_words(args: list[str]) -> str:
    """The command as a shell line cron can run: each word quoted, ``%`` escaped."""
    return " ".join(shlex.quote(a) for a in args).replace("%", "\\%")


def words_of(line: str) -> list[str]:
    return shlex.split(line.replace("\\%", "%"))


def log_folder() -> Path:
    return Path(platformdirs.user_log_dir(APP, appauthor=False))


class CronBackend(Backend):
    name = "cron"
    description = "the user's crontab"

    def __init__(self, logs: Path | None = None) -> None:
        self.logs = logs or log_folder()

    def unavailable(self) -> str | None:
        if not has_program("crontab"):
            return "there is no crontab program here (install cron, e.g. `apt-get install cron`)"
        return None

    # -- the crontab ---------------------------------------------------------------------------------------
    def read(self) -> str:
        """The user's crontab ("" when they have none)."""
        self.check()
        done = run(["crontab", "-l"])
        if done.returncode != 0:
            if "no crontab" in (done.stderr + done.stdout).lower():
                return ""
            raise SchedulingError(f"`crontab -l` failed: {(done.stderr or done.stdout).strip() or done.returncode}")
        return done.stdout

    def write(self, text: str) -> None:
        if text.strip():
            run(["crontab", "-"], input_text=text if text.endswith("\n") else text + "\n", check=True)
        else:
            run(["crontab", "-r"])   # nothing left: no crontab, as before the first install

    # -- what is written -------------------------------------------------------------------------------------
    def block(self, jobs: list[Job], target: Target) -> str:
        lines = [f"{BEGIN}{target.instance}",
                 f"# Written by `backoffice schedule install` for {target.description.replace(chr(10), ' ')}; "
                 f"`backoffice schedule remove` deletes this block."]
        for job in jobs:
            log = log_file(self.logs, target.instance, job)
            lines += [f"# {APP}-job {job.key} every {job.every}s",
                      f"{schedule_of(job.every)} {shell_words(target.command(job))} >> {shell_words([str(log)])} 2>&1"]
        lines.append(f"{END}{target.instance}")
        return "\n".join(lines) + "\n"

    def render(self, jobs: list[Job], target: Target) -> list[Artifact]:
        return [Artifact(None, self.block(jobs, target))]

    def install(self, jobs: list[Job], target: Target, *, dry_run: bool = False) -> InstallResult:
        block = self.block(jobs, target)
        with self._changing():
            current = self.read()
            before = self._entries(current, target.instance)
            new = with_block(current, target.instance, block)
            planned = {job.key for job in jobs}
            result = InstallResult(self.name, target.instance, [Artifact(None, block)],
                                   [e for e in before if e.job not in planned], changed=new != current,
                                   dry_run=dry_run)
            if not dry_run and result.changed:
                self.logs.mkdir(parents=True, exist_ok=True)
                self.write(new)
        if not _cron_daemon_running():
            result.notes.append("no cron daemon seems to be running on this machine: the entries run once "
                                "one is (e.g. `service cron start`)")
        return result

    # -- what is registered ----------------------------------------------------------------------------------
    def registered(self, instance: str | None = None) -> list[Registered]:
        if self.unavailable():
            return []
        return self._entries(self.read(), instance)

    def _entries(self, text: str, instance: str | None) -> list[Registered]:
        found = []
        owner = None
        key = every = None
        for line in (line.rstrip("\n") for line in _lines(text)):
            if line.startswith(BEGIN):
                owner = line[len(BEGIN):].strip()
                continue
            if line.startswith(END):
                owner = None
                continue
            if owner is None or (instance is not None and owner != instance):
                continue
            m = JOB_LINE.match(line)
            if m:
                key, every = m["key"], int(m["every"])
                continue
            if key is not None and line.strip() and not line.startswith("#"):
                fields = line.split(None, 5)
                command_text = REDIRECT.sub("", fields[5]) if len(fields) == 6 else ""
                try:
                    command = words_of(command_text)
                except ValueError:
                    command = []
                found.append(Registered(self.name, owner, key, every, command, "crontab", enabled=True,
                                        next_run=next_time(every) if every else None))
                key = every = None
        return found

    def remove(self, instance: str | None = None, *, dry_run: bool = False) -> list[Registered]:
        if self.unavailable():
            return []
        with self._changing():
            current = self.read()
            found = self._entries(current, instance)
            kept = current
            for owner in sorted({e.instance for e in found} | ({instance} if instance else set())):
                kept = without_block(kept, owner)
            if not dry_run and kept != current:
                self.write(kept)
        return found

    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        """Hold this user's crontab lock (a file in the temporary folder, by user id) while reading and
        writing it; without a usable lock file, go on unlocked."""
        try:
            import fcntl
        except ImportError:   # not a Unix system: no crontab either
            yield
            return
        path = Path(tempfile.gettempdir()) / f"{APP}-crontab-{os.getuid()}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def split_block(text: str, instance: str) -> tuple[str, str, str]:
    """(the lines before the block of ``instance``, the block, the lines after it); every other line as it
    was. Without such a block: (the whole text, "", "")."""
    lines = _lines(text)
    begin, end = f"{BEGIN}{instance}", f"{END}{instance}"
    start = next((n for n, line in enumerate(lines) if line.rstrip("\r\n") == begin), None)
    if start is None:
        return text, "", ""
    stop = next((n for n in range(start, len(lines)) if lines[n].rstrip("\r\n") == end), len(lines) - 1)
    return "".join(lines[:start]), "".join(lines[start:stop + 1]), "".join(lines[stop + 1:])


def _lines(text: str) -> list[str]:
    """The crontab's lines with their ends, split only at line feeds (as cron reads it)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def with_block(text: str, instance: str, block: str) -> str:
    """``text`` with the block of ``instance`` replaced by ``block`` where it is, or added at the end."""
    before, old, after = split_block(text, instance)
    if not old and before and not before.endswith("\n"):
        before += "\n"
    return before + block + after


def without_block(text: str, instance: str) -> str:
    before, _, after = split_block(text, instance)
    return before + after


def _cron_daemon_running() -> bool:
    """Best effort: a process named cron or crond (Linux's /proc); True where it cannot tell."""
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for comm in proc.glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() in ("cron", "crond", "cronie", "busybox-crond"):
                return True
        except OSError:
            continue
    return False
