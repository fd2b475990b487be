"""launchd agents (macOS): one property list per job in ``~/Library/LaunchAgents``, named
``backoffice.<instance>.<job>.plist`` with that ``Label``; the job runs every ``StartInterval`` seconds
(not at load), its output appended to ``~/Library/Logs/backoffice/<instance>-<job>.log``. launchd starts
no second run of an agent while one runs. On macOS each agent is (re)loaded with ``launchctl bootstrap
gui/<uid>`` and unloaded with ``launchctl bootout``; elsewhere only the files are written (for checking).
"""

from __future__ import annotations

import os
import plistlib
import sys
from pathlib import Path
from typing import Any

from backoffice.scheduling.base import (
    APP,
    Artifact,
    Backend,
    InstallResult,
    Registered,
    differs,
    has_program,
    log_file,
    run,
    write_if_changed,
)
from backoffice.scheduling.jobs import Job, Target


def agents_folder() -> Path:
    return Path.home() / "Library" / "LaunchAgents"


def logs_folder() -> Path:
    return Path.home() / "Library" / "Logs" / APP


def label_of(instance: str, job: Job | str) -> str:
    return f"{APP}.{instance}.{job.key if isinstance(job, Job) else job}"


class LaunchdBackend(Backend):
    name = "launchd"
    description = "launchd agents"

    def __init__(self, folder: Path | None = None, logs: Path | None = None) -> None:
        self.folder = folder or agents_folder()
        self.logs = logs or logs_folder()

    def unavailable(self) -> str | None:
        if sys.platform != "darwin" or not has_program("launchctl"):
            return "launchd is macOS's scheduler; this is not macOS"
        return None

    def agent(self, job: Job, target: Target) -> dict[str, Any]:
        log = str(log_file(self.logs, target.instance, job))
        return {"Label": label_of(target.instance, job), "ProgramArguments": target.command(job),
                "StartInterval": job.every, "RunAtLoad": False, "ProcessType": "Background",
                "StandardOutPath": log, "StandardErrorPath": log}

    def render(self, jobs: list[Job], target: Target) -> list[Artifact]:
        return [Artifact(self.folder / f"{label_of(target.instance, job)}.plist",
                         plistlib.dumps(self.agent(job, target), fmt=plistlib.FMT_XML, sort_keys=True), job.key)
                for job in jobs]

    def install(self, jobs: list[Job], target: Target, *, dry_run: bool = False) -> InstallResult:
        artifacts = self.render(jobs, target)
        planned = {label_of(target.instance, job) for job in jobs}
        stale = [r for r in self.registered(target.instance) if label_of(r.instance, r.job) not in planned]
        result = InstallResult(self.name, target.instance, artifacts, stale, dry_run=dry_run)
        if dry_run:
            result.changed = bool(stale) or any(differs(a) for a in artifacts)
            return result
        self.unregister(stale)
        loading = not self.unavailable()
        for artifact in artifacts:
            path: Path = artifact.path  # type: ignore[assignment]
            service = f"{_domain()}/{path.stem}"
            if write_if_changed(path, artifact.data()):
                result.changed = True
                if loading:   # a changed agent is loaded again
                    run(["launchctl", "bootout", service])
            if loading and run(["launchctl", "print", service]).returncode != 0:
                self.logs.mkdir(parents=True, exist_ok=True)
                run(["launchctl", "bootstrap", _domain(), str(path)], check=True)
        if not loading:
            result.notes.append("launchctl is not available here: the agents load at the next login on macOS")
        result.changed |= bool(stale)
        return result

    def registered(self, instance: str | None = None) -> list[Registered]:
        found = []
        for path in sorted(self.folder.glob(f"{APP}.*.plist")):
            try:
                with path.open("rb") as fh:
                    agent = plistlib.load(fh)
            except (OSError, plistlib.InvalidFileException, ValueError):
                continue
            label = str(agent.get("Label", ""))
            owner, _, key = label[len(APP) + 1:].rpartition(".")
            if not label.startswith(f"{APP}.") or not owner or (instance is not None and owner != instance):
                continue
            entry = Registered(self.name, owner, key, agent.get("StartInterval"),
                               [str(a) for a in agent.get("ProgramArguments", [])], str(path))
            if not self.unavailable():
                entry.enabled = entry.active = run(["launchctl", "print", f"{_domain()}/{label}"]).returncode == 0
            found.append(entry)
        return found

    def unregister(self, entries: list[Registered]) -> None:
        for entry in entries:
            if not self.unavailable():
                run(["launchctl", "bootout", f"{_domain()}/{Path(entry.where).stem}"])
            Path(entry.where).unlink(missing_ok=True)


def _domain() -> str:
    return f"gui/{os.getuid()}"
