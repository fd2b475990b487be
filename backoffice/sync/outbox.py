"""The outbox of an API profile: writes that need no answer at once, kept first in the profile's local
SQLite file and then sent to the store API in order, once each.

Staged catalog edits, transfer drafts and stock counts can be made while the server is out of reach (a
train, a warehouse corner without Wi-Fi). The write is recorded before anything is sent, so quitting the
app, a crash or a dropped connection loses nothing; :meth:`Outbox.drain` sends what is pending, oldest
first, and stops at the first entry the server could not be reached for, because later entries may
depend on earlier ones (a draft's lines are updated after the draft is created).

Every entry keeps the idempotency key it was given when it was recorded, for every attempt: when a
request reached the server but its answer was lost (the connection dropped, the app was killed between
sending and recording), sending it again is safe; the server answers a replayed key with its first
answer and applies the write once.

The entries live in the ``outbox`` table of the replica's file, next to the replica's own tables; the
file may be open by other connections at the same time (WAL mode, a busy timeout). Only one drain runs
at a time across threads and processes: a drain claims the ``outbox_drainer`` row first and a second
drain returns at once. A claim left by a process that died is taken over (its owner is no longer
running, or it has not renewed the claim for :data:`CLAIM_LEASE_SECONDS`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backoffice.operations import ConflictError, NotFound, ServiceError, ValidationError

__all__ = ["CLAIM_LEASE_SECONDS", "STATUSES", "DrainReport", "Outbox", "OutboxEntry"]

PENDING, SENDING, DONE, FAILED, CONFLICT, DISCARDED = "pending", "sending", "done", "failed", "conflict", "discarded"
STATUSES: tuple[str, ...] = (PENDING, SENDING, DONE, FAILED, CONFLICT, DISCARDED)
NOT_YET_DONE = (PENDING, SENDING)
# A drainer renews its claim before each entry; one silent for this long is taken for dead (a send that
# hangs longer than this may then be sent again by another drainer: its key makes that safe).
CLAIM_LEASE_SECONDS = 600.0
BUSY_TIMEOUT_SECONDS = 30.0

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    operation TEXT NOT NULL,
    payload TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    version_read INTEGER,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ({", ".join(f"'{s}'" for s in STATUSES)})),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    result TEXT,
    label TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS outbox_by_status ON outbox (status, id);
CREATE TABLE IF NOT EXISTS outbox_drainer (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    heartbeat REAL NOT NULL
);
"""
_COLUMNS = ("id, operation, payload, idempotency_key, version_read, status, attempts, last_error, created_at, "
            "updated_at, result, label")

# The drains running in this process (their claim owners): a claim by this process is live exactly when
# its owner is here, whatever the lease says.
_RUNNING: set[str] = set()
_RUNNING_LOCK = threading.Lock()


@dataclass(frozen=True)
class OutboxEntry:
    """One recorded write, as the outbox panel shows it."""

    id: int                      # the order of sending
    operation: str               # the contract's name, "area.method" ("catalog.save_edits")
    payload: dict[str, Any]      # the keyword arguments, in the contract's JSON form
    idempotency_key: str         # made when recorded, the same for every attempt
    version_read: int | None     # the version the user edited (for information)
    status: str                  # one of STATUSES
    attempts: int
    last_error: str              # the last refusal or transport error ('' when none)
    created_at: str              # UTC, ISO 8601
    updated_at: str
    result: Any                  # the server's answer (done or conflict), parsed; None when none
    label: str                   # a short text for the user ("Prices of 3 variants")


@dataclass(frozen=True)
class DrainReport:
    """What one drain did. ``remaining``: entries still pending afterwards; ``unreachable``: it stopped
    because the server could not be reached; ``error``: why it stopped early ('' when it did not)."""

    sent: int
    failed: int
    conflicts: int
    remaining: int
    unreachable: bool
    error: str


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _json_default(value: Any) -> Any:
    """The contract's JSON form of the few values a sender may leave typed (money as text, dates ISO):
    an answer the server already applied is recorded rather than lost to a type it was given in."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _dump_result(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=_json_default)


def _process_running(pid: int) -> bool | None:
    """Whether process ``pid`` of this machine is still running; None when it cannot be told."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)   # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            reason = kernel32.GetLastError()
            return True if reason == 5 else False if reason == 87 else None   # access denied / no such process
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return None
            return code.value == 259                         # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return None
    return True


def _claim_is_live(owner: str, host: str, pid: int, heartbeat: float) -> bool:
    """Whether a claim still belongs to a drain under way: one of this process is live while it runs;
    one of another process of this machine while that process runs (and renews it); one from another
    machine (a file on a shared folder) until its lease runs out."""
    if host == socket.gethostname() and pid == os.getpid():
        with _RUNNING_LOCK:
            return owner in _RUNNING
    if time.time() - heartbeat > CLAIM_LEASE_SECONDS:
        return False
    if host == socket.gethostname():
        return _process_running(pid) is not False
    return True


class Outbox:
    """The outbox in the SQLite file at ``path`` (created with its tables when missing).

    One object may be used from several threads (the GUI thread reads counts while a worker drains);
    several objects and processes may use the same file at once. Opening it puts back to pending the
    entries a crash left in the middle of sending, when no drain is under way.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
        except BaseException:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn
        with self._immediate() as c:
            claim = c.execute("SELECT owner, host, pid, heartbeat FROM outbox_drainer WHERE id = 1").fetchone()
            if claim is None or not _claim_is_live(*claim):
                c.execute("DELETE FROM outbox_drainer WHERE id = 1")
                c.execute("UPDATE outbox SET status = ?, updated_at = ? WHERE status = ?", (PENDING, _now(), SENDING))

    # -- plumbing ------------------------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"the outbox {self.path} is closed")
        return self._conn

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE): what it reads cannot change under it."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection().execute(sql, params).fetchall()

    @staticmethod
    def _entry(row: tuple[Any, ...]) -> OutboxEntry:
        (id_, operation, payload, key, version_read, status, attempts, last_error, created_at, updated_at,
         result, label) = row
        return OutboxEntry(id_, operation, json.loads(payload), key, version_read, status, attempts, last_error,
                           created_at, updated_at, None if result is None else json.loads(result), label)

    def _get(self, conn: sqlite3.Connection, entry_id: int) -> OutboxEntry:
        row = conn.execute(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise NotFound(f"outbox entry {entry_id} does not exist")
        return self._entry(row)

    # -- recording -----------------------------------------------------------------------------------------
    def enqueue(self, operation: str, payload: dict[str, Any], *, version_read: int | None = None,
                label: str = "") -> OutboxEntry:
        """Record a write to send later: ``operation`` (the contract's "area.method") with ``payload``, its
        keyword arguments in the contract's JSON form (op ids left out: the entry's key stands for them).
        It is committed before this returns, with a fresh idempotency key it keeps for every attempt."""
        area, _, method = operation.partition(".")
        if not area or not method:
            raise ValueError(f"an outbox operation is named 'area.method', not {operation!r}")
        try:
            text = json.dumps(payload, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the payload of {operation} is not in the contract's JSON form: {exc}") from None
        now = _now()
        with self._immediate() as conn:
            cursor = conn.execute(
                "INSERT INTO outbox (operation, payload, idempotency_key, version_read, status, attempts, "
                "last_error, created_at, updated_at, result, label) VALUES (?, ?, ?, ?, ?, 0, '', ?, ?, NULL, ?)",
                (operation, text, uuid.uuid4().hex, version_read, PENDING, now, now, label))
            return self._get(conn, int(cursor.lastrowid or 0))

    # -- reading -------------------------------------------------------------------------------------------
    def pending_count(self) -> int:
        """Entries not yet known to be done: pending, or being sent right now."""
        return int(self._read("SELECT count(*) FROM outbox WHERE status IN (?, ?)", NOT_YET_DONE)[0][0])

    def entries(self, statuses: tuple[str, ...] = ()) -> list[OutboxEntry]:
        """The entries in the order of sending; only those of ``statuses`` when given."""
        unknown = set(statuses) - set(STATUSES)
        if unknown:
            raise ValueError(f"unknown outbox statuses: {', '.join(sorted(unknown))}")
        where = f" WHERE status IN ({', '.join('?' * len(statuses))})" if statuses else ""
        return [self._entry(r) for r in self._read(f"SELECT {_COLUMNS} FROM outbox{where} ORDER BY id",
                                                   tuple(statuses))]

    # -- the user's decisions ------------------------------------------------------------------------------
    def _move(self, entry_id: int, allowed: tuple[str, ...], status: str, doing: str,
              result: Any = None, keep_result: bool = True) -> None:
        with self._immediate() as conn:
            entry = self._get(conn, entry_id)
            if entry.status not in allowed:
                raise ValidationError([(f"outbox entry {entry_id}", "status",
                                        f"cannot be {doing} while it is {entry.status}")])
            if keep_result:
                conn.execute("UPDATE outbox SET status = ?, updated_at = ? WHERE id = ?", (status, _now(), entry_id))
            else:
                conn.execute("UPDATE outbox SET status = ?, result = ?, updated_at = ? WHERE id = ?",
                             (status, _dump_result(result), _now(), entry_id))

    def retry(self, entry_id: int) -> None:
        """Send a failed or conflicting entry again with the next drain, in its place and with its key
        (the server decides again; a key it already answered gets the same answer)."""
        self._move(entry_id, (FAILED, CONFLICT), PENDING, "retried")

    def discard(self, entry_id: int) -> None:
        """The user gives an entry up: it is never sent (again) and stays listed as discarded. Not while
        it is being sent: its outcome is not known yet."""
        self._move(entry_id, (PENDING, FAILED, CONFLICT), DISCARDED, "discarded")

    def resolve(self, entry_id: int, result: Any = None) -> None:
        """A conflict the user settled (their merged rows are written by a new entry): done, with
        ``result`` as its answer when given (else the conflicting answer stays for the record)."""
        self._move(entry_id, (CONFLICT,), DONE, "resolved", result, keep_result=result is None)

    # -- sending -------------------------------------------------------------------------------------------
    def _claim(self, owner: str) -> bool:
        """Become the one drainer of this file, or False when a live drain holds the claim. Taking it
        puts back to pending what a dead drainer left being sent."""
        with self._immediate() as conn:
            claim = conn.execute("SELECT owner, host, pid, heartbeat FROM outbox_drainer WHERE id = 1").fetchone()
            if claim is not None and _claim_is_live(*claim):
                return False
            conn.execute("INSERT OR REPLACE INTO outbox_drainer (id, owner, host, pid, heartbeat) VALUES (1, ?, ?, ?, ?)",
                         (owner, socket.gethostname(), os.getpid(), time.time()))
            conn.execute("UPDATE outbox SET status = ?, updated_at = ? WHERE status = ?", (PENDING, _now(), SENDING))
            return True

    def _release(self, owner: str) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.execute("DELETE FROM outbox_drainer WHERE id = 1 AND owner = ?", (owner,))

    def _next(self, owner: str) -> tuple[OutboxEntry | None, bool]:
        """(The oldest pending entry, now marked as being sent and committed, or None when there is none;
        whether the claim is still ours)."""
        with self._immediate() as conn:
            renewed = conn.execute("UPDATE outbox_drainer SET heartbeat = ? WHERE id = 1 AND owner = ?",
                                   (time.time(), owner)).rowcount
            if not renewed:
                return None, False
            row = conn.execute(f"SELECT {_COLUMNS} FROM outbox WHERE status = ? ORDER BY id LIMIT 1",
                               (PENDING,)).fetchone()
            if row is None:
                return None, True
            entry = self._entry(row)
            conn.execute("UPDATE outbox SET status = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?",
                         (SENDING, _now(), entry.id))
            return entry, True

    def _record(self, entry_id: int, status: str, *, error: str = "", result: Any = None) -> None:
        with self._immediate() as conn:
            conn.execute("UPDATE outbox SET status = ?, last_error = ?, result = ?, updated_at = ? "
                         "WHERE id = ? AND status = ?",
                         (status, error, _dump_result(result), _now(), entry_id, SENDING))

    def drain(self, send: Callable[[str, dict[str, Any], str], Any], *,
              is_conflict: Callable[[Any], bool] | None = None,
              stop: Callable[[], bool] | None = None) -> DrainReport:
        """Send the pending entries, oldest first: ``send(operation, payload, idempotency_key)`` writes on
        the server and returns its answer (JSON-safe) or raises the contract's errors.

        A refusal for good (ValidationError, NotFound, PermissionDenied, any other ServiceError) fails the
        entry with the server's message; a stale version (ConflictError, or an answer ``is_conflict``
        calls one: some rows were not written) makes it a conflict for the user to settle; either way the
        next entry goes on. When the server cannot be reached, the sign-in has expired or anything else
        goes wrong, draining stops with the entry still pending: nothing is sent past it, because later
        entries may depend on it. ``stop`` is asked between entries (the app quitting).

        Returns at once, sending nothing, while another drain of the same file is under way.
        """
        from backoffice.remote.errors import ServerUnreachable, SignInExpired

        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        with _RUNNING_LOCK:
            _RUNNING.add(owner)
        sent = failed = conflicts = 0
        unreachable, error = False, ""
        try:
            if not self._claim(owner):
                return DrainReport(0, 0, 0, self.pending_count(), False, "")
            try:
                while not (stop is not None and stop()):
                    entry, ours = self._next(owner)
                    if not ours:
                        error = "another drain took over the outbox"
                        break
                    if entry is None:
                        break
                    try:
                        answer = send(entry.operation, entry.payload, entry.idempotency_key)
                    except ServerUnreachable as exc:
                        unreachable, error = True, str(exc) or "the server could not be reached"
                        self._record(entry.id, PENDING, error=error)
                        break
                    except ConflictError as exc:
                        current = getattr(exc, "current", None)
                        self._record(entry.id, CONFLICT, error=str(exc), result=current or None)
                        conflicts += 1
                        continue
                    except SignInExpired as exc:
                        error = str(exc) or "the sign-in has expired"
                        self._record(entry.id, PENDING, error=error)
                        break
                    except ServiceError as exc:
                        self._record(entry.id, FAILED, error=str(exc) or type(exc).__name__)
                        failed += 1
                        continue
                    except Exception as exc:
                        error = f"{type(exc).__name__}: {exc}"
                        self._record(entry.id, PENDING, error=error)
                        break
                    try:
                        conflicting = is_conflict is not None and bool(is_conflict(answer))
                        why = "some rows were changed by someone else"
                    except Exception as exc:    # applied, but unread: the user looks at the answer
                        conflicting, why = True, f"the answer could not be read: {type(exc).__name__}: {exc}"
                    if conflicting:
                        self._record(entry.id, CONFLICT, error=why, result=answer)
                        conflicts += 1
                    else:
                        self._record(entry.id, DONE, result=answer)
                        sent += 1
            finally:
                self._release(owner)
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(owner)
        return DrainReport(sent, failed, conflicts, self.pending_count(), unreachable, error)

    def close(self) -> None:
        """Close the file (once the drains of this object have returned); closing twice is harmless."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
