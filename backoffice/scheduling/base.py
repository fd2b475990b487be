"""What every OS scheduler backend shares: the files it writes, what it finds registered, the result of an
install, and running the scheduler's own commands."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from backoffice.scheduling.jobs import Job, SchedulingError, Target

APP = "backoffice"
COMMAND_TIMEOUT = 60


@dataclass(frozen=True)
class Artifact:
    """One thing an install writes: a file (``path``) with its ``content``, or the user's crontab
    (``path`` None, ``content`` the Backoffice block); ``job`` the key it registers ("" for shared ones)."""

    path: Path | None
    content: str | bytes
    job: str = ""
    encoding: str = "utf-8"

    def data(self) -> bytes:
        return self.content if isinstance(self.content, bytes) else self.content.encode(self.encoding)

    def text(self) -> str:
        return self.content.decode(self.encoding) if isinstance(self.content, bytes) else self.content


@dataclass
class Registered:
    """A Backoffice job found registered with a scheduler: its instance (profile or database) and job key,
    its interval and command, where it is written, and what the scheduler says of it when it can tell
    (None: it cannot, here)."""

    scheduler: str
    instance: str
    job: str
    every: int | None
    command: list[str]
    where: str
    enabled: bool | None = None
    active: bool | None = None
    next_run: dt.datetime | None = None
    last_trigger: dt.datetime | None = None


@dataclass
class InstallResult:
    """What an install did (or, for a dry run, would do): the artifacts of the jobs, the stale entries of
    the same instance removed, whether anything changed, and notes for the person."""

    scheduler: str
    instance: str
    artifacts: list[Artifact]
    removed: list[Registered] = field(default_factory=list)
    changed: bool = False
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)


class Backend:
    """One OS scheduler. ``render`` is pure (what would be written); ``install``, ``registered`` and
    ``remove`` touch the scheduler of the user running them. ``install`` is idempotent: the same jobs and
    target again change nothing; it also removes the instance's entries of jobs no longer planned."""

    name = ""
    description = ""

    def unavailable(self) -> str | None:
        """Why this scheduler cannot be used here; None when it can."""
        raise NotImplementedError

    def render(self, jobs: list[Job], target: Target) -> list[Artifact]:
        raise NotImplementedError

    def install(self, jobs: list[Job], target: Target, *, dry_run: bool = False) -> InstallResult:
        raise NotImplementedError

    def registered(self, instance: str | None = None) -> list[Registered]:
        raise NotImplementedError

    def remove(self, instance: str | None = None, *, dry_run: bool = False) -> list[Registered]:
        """Remove the Backoffice entries of ``instance`` (all of them when None); the ones removed."""
        found = self.registered(instance)
        if not dry_run:
            self.unregister(found)
        return found

    def unregister(self, entries: list[Registered]) -> None:
        """Take ``entries`` out of the scheduler and delete their files."""
        raise NotImplementedError

    def check(self) -> None:
        problem = self.unavailable()
        if problem:
            raise SchedulingError(f"{self.name}: {problem}")


def entry_name(target_or_instance: Target | str, job: Job | str) -> str:
    """``backoffice-<instance>-<job key>``: the name of a job's entries for one profile or database."""
    instance = target_or_instance.instance if isinstance(target_or_instance, Target) else target_or_instance
    key = job.key if isinstance(job, Job) else job
    return f"{APP}-{instance}-{key}"


SYSTEM_DIRS = () if os.name == "nt" else ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def find_program(name: str) -> str | None:
    """The scheduler's program ``name`` on PATH, else in the system's own folders: the desktop bundle may
    be started with a PATH that holds only its folder (a launcher, a minimal session), and the scheduler's
    programs are still where the system keeps them."""
    system = [os.path.join(os.environ.get("SystemRoot", "C:\\Windows"), "System32")] if os.name == "nt" else []
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join([*system, *SYSTEM_DIRS]))


def run(args: list[str], *, input_text: str | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run one of the scheduler's commands; a missing program or a failure (with ``check``) is a
    SchedulingError with the command's own words."""
    program = find_program(args[0])
    if program is None:
        raise SchedulingError(f"{args[0]} is not installed here")
    try:
        done = subprocess.run([program, *args[1:]], input=input_text, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                              check=False)
    except FileNotFoundError:
        raise SchedulingError(f"{args[0]} is not installed here") from None
    except subprocess.TimeoutExpired:
        raise SchedulingError(f"`{' '.join(args)}` did not answer in {COMMAND_TIMEOUT} s") from None
    if check and done.returncode != 0:
        words = (done.stderr or done.stdout).strip().splitlines()
        raise SchedulingError(f"`{' '.join(args)}` failed: {words[0] if words else f'exit status {done.returncode}'}")
    return done


def has_program(name: str) -> bool:
    return find_program(name) is not None


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``path`` whole (a temporary file renamed over it) unless it already holds ``data``."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def differs(artifact: Artifact) -> bool:
    """Whether writing ``artifact`` would change its file."""
    try:
        return artifact.path.read_bytes() != artifact.data()  # type: ignore[union-attr]
    except OSError:
        return True


def log_file(folder: Path, instance: str, job: Job | str) -> Path:
    key = job.key if isinstance(job, Job) else job
    return folder / f"{instance}-{key}.log"
