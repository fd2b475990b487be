"""The Windows Task Scheduler: one task per job, ``\\Backoffice\\<instance>-<job>``, registered from a
task definition in XML (Task Scheduler schema 1.2) with ``schtasks /Create /TN … /XML file /F``.

The definition repeats a time trigger every N minutes for ever (``Repetition/Interval`` ``PT5M``),
runs as the user who registered it, only while they are logged on, with the least privileges
(``InteractiveToken``, ``LeastPrivilege``, so no password is stored), starts a run missed while the
machine was off when it can, and never starts a second instance while one runs (``IgnoreNew``). The
files are UTF-16, as schtasks expects, kept in the app's data folder under ``scheduler``: they are the
record of what was registered, read back by ``registered`` (the task's state from ``schtasks /Query``).
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import platformdirs

from backoffice.scheduling.base import (
    APP,
    Artifact,
    Backend,
    InstallResult,
    Registered,
    differs,
    has_program,
    run,
    write_if_changed,
)
from backoffice.scheduling.jobs import Job, Target

NAMESPACE = "http://schemas.microsoft.com/windows/2004/02/mit/task"
FOLDER = "Backoffice"
START = "2020-01-01T00:00:00"      # a fixed start in the past: the same definition at every install
TIME_LIMIT = 3600                  # a run that takes longer is stopped


def tasks_folder() -> Path:
    return Path(platformdirs.user_data_dir(APP, appauthor=False)) / "scheduler"


def task_name(instance: str, job: Job | str) -> str:
    return f"{FOLDER}\\{instance}-{job.key if isinstance(job, Job) else job}"


def iso_duration(seconds: int) -> str:
    """An ISO 8601 duration as Task Scheduler writes them: ``PT5M``, ``PT1H``, ``PT1H30M``, ``P1D``."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return ("P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")) if (days or time) else "PT0S"


def seconds_of_duration(text: str) -> int | None:
    m = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", text.strip())
    if not m or text.strip() in ("P", "PT") or text.strip().endswith("T"):
        return None
    d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    return d * 86400 + h * 3600 + mi * 60 + s


def command_line(args: list[str]) -> str:
    """Arguments as Windows programs read them (the C runtime's quoting rules)."""
    return subprocess.list2cmdline(args)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, f"{{{NAMESPACE}}}{tag}", attrs)
    if text is not None:
        node.text = text
    return node


def definition(job: Job, target: Target) -> bytes:
    """The task's XML (UTF-16 with its byte order mark, as schtasks reads it)."""
    ET.register_namespace("", NAMESPACE)
    task = ET.Element(f"{{{NAMESPACE}}}Task", {"version": "1.2"})
    info = _sub(task, "RegistrationInfo")
    _sub(info, "Description", f"Backoffice {job.label} ({target.description}); "
                              "written by `backoffice schedule install`")
    _sub(info, "URI", "\\" + task_name(target.instance, job))
    triggers = _sub(task, "Triggers")
    trigger = _sub(triggers, "TimeTrigger")
    repetition = _sub(trigger, "Repetition")
    _sub(repetition, "Interval", iso_duration(job.every))
    _sub(repetition, "StopAtDurationEnd", "false")
    _sub(trigger, "StartBoundary", START)
    _sub(trigger, "Enabled", "true")
    principal = _sub(_sub(task, "Principals"), "Principal", id="Author")
    _sub(principal, "LogonType", "InteractiveToken")
    _sub(principal, "RunLevel", "LeastPrivilege")
    settings = _sub(task, "Settings")
    for tag, value in (("MultipleInstancesPolicy", "IgnoreNew"), ("DisallowStartIfOnBatteries", "false"),
                       ("StopIfGoingOnBatteries", "false"), ("AllowHardTerminate", "true"),
                       ("StartWhenAvailable", "true"), ("RunOnlyIfNetworkAvailable", "false"),
                       ("AllowStartOnDemand", "true"), ("Enabled", "true"), ("Hidden", "false"),
                       ("RunOnlyIfIdle", "false"), ("WakeToRun", "false"),
                       ("ExecutionTimeLimit", iso_duration(TIME_LIMIT)), ("Priority", "7")):
        _sub(settings, tag, value)
    idle = _sub(settings, "IdleSettings")
    _sub(idle, "StopOnIdleEnd", "false")
    _sub(idle, "RestartOnIdle", "false")
    actions = _sub(task, "Actions", Context="Author")
    command = target.command(job)
    exec_ = _sub(actions, "Exec")
    _sub(exec_, "Command", command[0])
    _sub(exec_, "Arguments", command_line(command[1:]))
    ET.indent(task, space="  ")
    text = '<?xml version="1.0" encoding="UTF-16"?>\n' + ET.tostring(task, encoding="unicode") + "\n"
    return text.replace("\n", "\r\n").encode("utf-16")


def read_definition(data: bytes) -> dict[str, str]:
    """The fields of a definition this module wrote: uri, interval, command, arguments."""
    root = ET.fromstring(data.decode("utf-16"))
    ns = {"t": NAMESPACE}

    def text(path: str) -> str:
        node = root.find(path, ns)
        return (node.text or "") if node is not None else ""

    return {"uri": text("t:RegistrationInfo/t:URI"),
            "interval": text("t:Triggers/t:TimeTrigger/t:Repetition/t:Interval"),
            "command": text("t:Actions/t:Exec/t:Command"), "arguments": text("t:Actions/t:Exec/t:Arguments")}


def split_command_line(line: str) -> list[str]:
    """The words of a command line as Windows programs read it (:func:`command_line`'s inverse): words
    split at blanks outside double quotes; backslashes are literal unless they precede a quote, where each
    pair is one backslash and an odd one escapes the quote."""
    words: list[str] = []
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            break
        word: list[str] = []
        quoted = False
        while i < n and (quoted or line[i] not in " \t"):
            if line[i] == "\\":
                j = i
                while j < n and line[j] == "\\":
                    j += 1
                if j < n and line[j] == '"':
                    word.append("\\" * ((j - i) // 2))
                    if (j - i) % 2:
                        word.append('"')
                        j += 1
                else:
                    word.append("\\" * (j - i))
                i = j
            elif line[i] == '"':
                quoted = not quoted
                i += 1
            else:
                word.append(line[i])
                i += 1
        words.append("".join(word))
    return words


class SchtasksBackend(Backend):
    name = "schtasks"
    description = "the Windows Task Scheduler"

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or tasks_folder()

    def unavailable(self) -> str | None:
        if sys.platform != "win32" or not has_program("schtasks"):
            return "the Task Scheduler (schtasks) is Windows's; this is not Windows"
        return None

    def render(self, jobs: list[Job], target: Target) -> list[Artifact]:
        return [Artifact(self.folder / f"{target.instance}-{job.key}.xml", definition(job, target), job.key,
                         encoding="utf-16") for job in jobs]

    def install(self, jobs: list[Job], target: Target, *, dry_run: bool = False) -> InstallResult:
        artifacts = self.render(jobs, target)
        planned = {job.key for job in jobs}
        stale = [r for r in self.registered(target.instance) if r.job not in planned]
        result = InstallResult(self.name, target.instance, artifacts, stale, dry_run=dry_run)
        if dry_run:
            result.changed = bool(stale) or any(differs(a) for a in artifacts)
            return result
        self.unregister(stale)
        creating = not self.unavailable()
        for artifact, job in zip(artifacts, jobs):
            written = write_if_changed(artifact.path, artifact.data())  # type: ignore[arg-type]
            result.changed |= written
            name = task_name(target.instance, job)
            if creating and (written or run(["schtasks", "/Query", "/TN", name]).returncode != 0):
                run(["schtasks", "/Create", "/TN", name, "/XML", str(artifact.path), "/F"], check=True)
        if not creating:
            result.notes.append("schtasks is not available here: the definitions are written, not registered")
        result.changed |= bool(stale)
        return result

    def registered(self, instance: str | None = None) -> list[Registered]:
        found = []
        for path in sorted(self.folder.glob("*.xml")):
            try:
                fields = read_definition(path.read_bytes())
            except (OSError, ET.ParseError, UnicodeError):
                continue
            owner, key = _instance_and_job(fields["uri"])
            if owner is None or (instance is not None and owner != instance):
                continue
            entry = Registered(self.name, owner, key, seconds_of_duration(fields["interval"]),
                               [fields["command"], *split_command_line(fields["arguments"])], str(path))
            if not self.unavailable():
                self._fill_state(entry, fields["uri"].lstrip("\\"))
            found.append(entry)
        return found

    def _fill_state(self, entry: Registered, name: str) -> None:
        done = run(["schtasks", "/Query", "/TN", name, "/FO", "LIST", "/V"])
        entry.enabled = done.returncode == 0
        if done.returncode != 0:
            return
        values = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in done.stdout.splitlines()) if v}
        status = values.get("Status", "")
        entry.active = status.lower() == "running" if status else None
        entry.enabled = values.get("Scheduled Task State", "Enabled").lower() != "disabled"
        entry.next_run = _local_time(values.get("Next Run Time", ""))

    def unregister(self, entries: list[Registered]) -> None:
        for entry in entries:
            if not self.unavailable():
                run(["schtasks", "/Delete", "/TN", task_name(entry.instance, entry.job), "/F"])
            Path(entry.where).unlink(missing_ok=True)


def _instance_and_job(uri: str) -> tuple[str | None, str]:
    """(instance, job key) of a task's URI ``\\Backoffice\\<instance>-<job key>``; (None, "") for another."""
    from backoffice.operations.schedule import JOBS

    prefix = f"\\{FOLDER}\\"
    if not uri.startswith(prefix):
        return None, ""
    tail = uri[len(prefix):]
    for spec in JOBS:
        if tail.endswith(f"-{spec.key}") and re.fullmatch(r"[A-Za-z0-9_-]+", tail[:-len(spec.key) - 1]):
            return tail[:-len(spec.key) - 1], spec.key
    return None, ""


def _local_time(text: str) -> dt.datetime | None:
    for fmt in ("%m/%d/%Y %I:%M:%S %p", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return dt.datetime.strptime(text, fmt).astimezone(dt.timezone.utc)
        except ValueError:
            continue
    return None
