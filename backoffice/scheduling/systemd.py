"""systemd user timers (Linux): one ``.service`` and one ``.timer`` per job in the user's unit folder
(``$XDG_CONFIG_HOME/systemd/user``, by default ``~/.config/systemd/user``).

A timer fires on a calendar (``OnCalendar=*-*-* *:00/5:00`` for every 5 minutes, ``Persistent=true`` so a
run missed while the machine was off happens at the next start) when the interval divides an hour or a
day, else every N seconds after its last run. The service is ``Type=oneshot``: systemd never starts a
second run while one is going. The files carry ``X-Backoffice-Instance`` and ``X-Backoffice-Job`` keys
(systemd ignores ``X-`` keys), which is how they are found again. With the user's manager running the
timers are enabled and started (``systemctl --user enable --now``); without one (a server without a
login session) they are enabled by their ``timers.target.wants`` links, as ``systemctl enable`` would,
and start with the manager.
"""

from __future__ import annotations

import configparser
import datetime as dt
import os
import re
import shlex
from pathlib import Path

from backoffice.scheduling.base import (
    APP,
    Artifact,
    Backend,
    InstallResult,
    Registered,
    differs,
    entry_name,
    has_program,
    run,
    write_if_changed,
)
from backoffice.scheduling.jobs import Job, Target

HEADER = "# Written by `backoffice schedule install`; `backoffice schedule remove` deletes it.\n"
WANTS = "timers.target.wants"


def unit_folder() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def calendar(seconds: int) -> str | None:
    """The ``OnCalendar=`` of an interval that divides an hour or a day; None otherwise."""
    if seconds < 3600 and 3600 % seconds == 0 and seconds % 60 == 0:
        minutes = seconds // 60
        return "*-*-* *:*:00" if minutes == 1 else f"*-*-* *:00/{minutes}:00"
    if seconds < 86400 and 86400 % seconds == 0 and seconds % 3600 == 0:
        hours = seconds // 3600
        return "*-*-* *:00:00" if hours == 1 else f"*-*-* 00/{hours}:00:00"
    if seconds == 86400:
        return "*-*-* 00:00:00"
    return None


def seconds_of_calendar(spec: str) -> int | None:
    """The interval of a calendar this module writes (None for any other)."""
    if spec == "*-*-* *:*:00":
        return 60
    if spec == "*-*-* *:00:00":
        return 3600
    if spec == "*-*-* 00:00:00":
        return 86400
    m = re.fullmatch(r"\*-\*-\* \*:00/(\d+):00", spec)
    if m:
        return int(m[1]) * 60
    m = re.fullmatch(r"\*-\*-\* 00/(\d+):00:00", spec)
    return int(m[1]) * 3600 if m else None


def seconds_of_span(text: str) -> int | None:
    """A time span as systemd writes it (``300s``, ``5min``, ``1h 30min``, ``900``) in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}
    total = 0
    parts = re.findall(r"(\d+)\s*([a-z]*)", text.strip())
    if not parts:
        return None
    for number, unit in parts:
        if unit not in units:
            return None
        total += int(number) * units[unit]
    return total


def escape(value: str) -> str:
    """A value in a unit file: ``%`` is a specifier there (``%%`` is a percent sign)."""
    return value.replace("%", "%%")


def quote(arg: str) -> str:
    """One word of ``ExecStart=``: double-quoted with backslash escapes when it needs it; ``%`` and ``$``
    doubled (specifiers and variable expansion)."""
    word = arg.replace("%", "%%").replace("$", "$$")
    if word and re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def split_exec(line: str) -> list[str]:
    """The words of an ``ExecStart=`` this module wrote."""
    return [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(line)]


def _parser() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None, delimiters=("=",),
                                          comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # unit keys are case-sensitive
    return parser


class SystemdBackend(Backend):
    name = "systemd"
    description = "systemd user timers"

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or unit_folder()

    # -- reachability --------------------------------------------------------------------------------
    def manager_reachable(self) -> bool:
        """Whether this user's systemd manager answers (``systemctl --user``)."""
        if not has_program("systemctl"):
            return False
        return run(["systemctl", "--user", "show-environment"]).returncode == 0

    def unavailable(self) -> str | None:
        if os.name != "posix" or not has_program("systemctl"):
            return "systemd is not installed here"
        return None

    # -- what is written -----------------------------------------------------------------------------
    def render(self, jobs: list[Job], target: Target) -> list[Artifact]:
        out = []
        for job in jobs:
            name = entry_name(target, job)
            about = (f"Description={escape(f'Backoffice {job.label} ({target.description})')}\n"
                     f"X-Backoffice-Instance={target.instance}\nX-Backoffice-Job={job.key}\n")
            service = (f"{HEADER}[Unit]\n{about}\n[Service]\nType=oneshot\n"
                       f"ExecStart={' '.join(quote(a) for a in target.command(job))}\n")
            spec = calendar(job.every)
            when = (f"OnCalendar={spec}\nPersistent=true\n" if spec else
                    f"OnActiveSec=1min\nOnUnitActiveSec={job.every}s\n")
            timer = (f"{HEADER}[Unit]\n{about}\n[Timer]\n{when}Unit={name}.service\n\n"
                     f"[Install]\nWantedBy=timers.target\n")
            out += [Artifact(self.folder / f"{name}.service", service, job.key),
                    Artifact(self.folder / f"{name}.timer", timer, job.key)]
        return out

    def install(self, jobs: list[Job], target: Target, *, dry_run: bool = False) -> InstallResult:
        artifacts = self.render(jobs, target)
        planned = {entry_name(target, job) for job in jobs}
        stale = [r for r in self.registered(target.instance) if entry_name(r.instance, r.job) not in planned]
        result = InstallResult(self.name, target.instance, artifacts, stale, dry_run=dry_run)
        timers = [f"{name}.timer" for name in sorted(planned)]
        reachable = self.manager_reachable()
        unlinked = [t for t in timers if not (self.folder / WANTS / t).is_symlink()]
        if dry_run:
            result.changed = bool(stale) or bool(unlinked) or any(differs(a) for a in artifacts)
            return result
        self._remove_units(stale, reachable)
        for artifact in artifacts:
            result.changed |= write_if_changed(artifact.path, artifact.data())  # type: ignore[arg-type]
        if reachable:
            run(["systemctl", "--user", "daemon-reload"], check=True)
            if timers:
                run(["systemctl", "--user", "enable", "--now", *timers], check=True)
        else:
            for timer in timers:   # what `systemctl --user enable` writes
                link = self.folder / WANTS / timer
                if not link.is_symlink():
                    link.parent.mkdir(parents=True, exist_ok=True)
                    link.symlink_to(self.folder / timer)
                    result.changed = True
            result.notes.append("this user's systemd manager is not running here: the timers are enabled and "
                                "start with it (at the next login; `loginctl enable-linger` runs it without one)")
        result.changed |= bool(stale) or bool(unlinked)
        return result

    # -- what is registered ----------------------------------------------------------------------------
    def registered(self, instance: str | None = None) -> list[Registered]:
        found = []
        for path in sorted(self.folder.glob(f"{APP}-*.timer")):
            timer = _parser()
            try:
                timer.read(path, encoding="utf-8")
            except (OSError, configparser.Error):
                continue
            owner = timer.get("Unit", "X-Backoffice-Instance", fallback=None)
            key = timer.get("Unit", "X-Backoffice-Job", fallback=None)
            if owner is None or key is None or (instance is not None and owner != instance):
                continue
            every = None
            if timer.has_option("Timer", "OnCalendar"):
                every = seconds_of_calendar(timer.get("Timer", "OnCalendar"))
            elif timer.has_option("Timer", "OnUnitActiveSec"):
                every = seconds_of_span(timer.get("Timer", "OnUnitActiveSec"))
            service = _parser()
            command: list[str] = []
            try:
                service.read(path.with_suffix(".service"), encoding="utf-8")
                command = split_exec(service.get("Service", "ExecStart", fallback=""))
            except (OSError, configparser.Error, ValueError):
                pass
            found.append(Registered(self.name, owner, key, every, command, str(path),
                                    enabled=(self.folder / WANTS / path.name).is_symlink()))
        self._fill_state(found)
        return found

    def _fill_state(self, entries: list[Registered]) -> None:
        """Active, next and last run from the manager, when it answers."""
        if not entries or not self.manager_reachable():
            return
        for entry in entries:
            done = run(["systemctl", "--user", "show", "--timestamp=unix", "-p", "ActiveState",
                        "-p", "NextElapseUSecRealtime", "-p", "LastTriggerUSec", Path(entry.where).name])
            if done.returncode != 0:
                continue
            values = dict(line.partition("=")[::2] for line in done.stdout.splitlines())
            entry.active = values.get("ActiveState") == "active"
            entry.next_run = _unix_time(values.get("NextElapseUSecRealtime", ""))
            entry.last_trigger = _unix_time(values.get("LastTriggerUSec", ""))

    def unregister(self, entries: list[Registered]) -> None:
        self._remove_units(entries, self.manager_reachable())

    def _remove_units(self, entries: list[Registered], reachable: bool) -> None:
        if not entries:
            return
        timers = [Path(e.where).name for e in entries]
        if reachable:
            run(["systemctl", "--user", "disable", "--now", *timers])
        for entry in entries:
            path = Path(entry.where)
            (self.folder / WANTS / path.name).unlink(missing_ok=True)
            path.unlink(missing_ok=True)
            path.with_suffix(".service").unlink(missing_ok=True)
        wants = self.folder / WANTS
        if wants.is_dir() and not any(wants.iterdir()):
            wants.rmdir()
        if reachable:
            run(["systemctl", "--user", "daemon-reload"])


def _unix_time(value: str) -> dt.datetime | None:
    m = re.fullmatch(r"@(\d+)", value.strip())
    return dt.datetime.fromtimestamp(int(m[1]), dt.timezone.utc) if m else None
