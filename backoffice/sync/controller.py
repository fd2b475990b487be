"""An API profile's local side: its replica and its outbox, attached to the remote operations, and one
"sync round" (send what waits, then bring the replica up to date) that any client can run in a worker.

Why a separate object: the GUI (a timer, a "Sync now" action, a progress bar) and a command line both
need the same round, the same rule for when the grid may read the replica (only once a complete sync
has filled it, or a half-loaded copy would show a catalog with rows missing), and the same closing
order (the reads over the replica, the outbox, then the file). None of it needs Qt.

The round sends first and syncs second: what the person saved offline reaches the server, and the
sync that follows brings it back into the replica, so the grid shows what the server now holds.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backoffice.operations import Changes, LocalOperations, collecting, merge
from backoffice.operations.changes import PRICES, PRODUCTS, STOCK, VARIANTS
from backoffice.operations.session import SignInRequired
from backoffice.remote.errors import ServerUnreachable, SignInExpired
from backoffice.sync.outbox import Outbox, OutboxEntry
from backoffice.sync.replica import Replica, SyncReport, replica_path

__all__ = ["ApiSync", "SyncOutcome"]

log = logging.getLogger(__name__)

# What a sync that brought rows may have changed: the replica does not say which ids, so the views
# showing these kinds read what they show again.
_SYNCED_KINDS = (PRODUCTS, PRICES, VARIANTS, STOCK)


@dataclass(frozen=True)
class SyncOutcome:
    """What one round did, as plain values for the GUI thread."""

    synced_at: dt.datetime | None     # the replica's freshness after the round
    pending: int                      # outbox entries not yet sent
    attention: int                    # entries that need the person: failed or conflicting
    changes: Changes = field(default_factory=Changes)   # what the views should read again
    rows: int = 0                     # replica rows written or deleted
    sent: int = 0                     # outbox entries sent
    unreachable: bool = False         # the server did not answer: the round stopped, nothing is lost
    signed_out: bool = False          # the session ended: the person must sign in again
    cancelled: bool = False
    initial: bool = False
    error: str = ""


class ApiSync:
    """The replica and outbox of one API profile, attached to its :class:`RemoteOperations` ``ops``.

    Opening creates the files when missing (call it in a worker). A replica already filled by an earlier
    session serves the grid's reads at once; an empty one starts serving after the first complete sync.
    """

    def __init__(self, ops: Any, profile_name: str, *, path: Path | None = None) -> None:  # noqa: ANN401
        self.ops = ops
        self.path = Path(path) if path is not None else replica_path(profile_name)
        self.replica = Replica(self.path)
        self.replica.db   # noqa: B018 - the file and its schema exist before the outbox adds its tables
        self.outbox = Outbox(self.path)
        ops.outbox = self.outbox
        self._closed = False
        self._lock = threading.Lock()
        if self.replica.freshness() is not None:
            self._serve_reads()

    # -- state ---------------------------------------------------------------------------------------------
    @property
    def needs_initial_load(self) -> bool:
        """True until a complete sync has filled the replica (the first one may be long: show progress)."""
        return self.ops.replica_reads is None

    def freshness(self) -> dt.datetime | None:
        return self.replica.freshness()

    def counts(self) -> tuple[int, int]:
        """(entries waiting to be sent, entries that need the person: failed or conflicting)."""
        return self.outbox.pending_count(), len(self.outbox.entries(("failed", "conflict")))

    def entries(self) -> list[OutboxEntry]:
        """What the Pending changes list shows: everything not sent yet and everything that needs the
        person (sent entries are history: they are not listed)."""
        return self.outbox.entries(("pending", "sending", "failed", "conflict"))

    # -- one round -----------------------------------------------------------------------------------------
    def run(self, *, progress: Callable[[float | None, str | None], None] | None = None,
            cancel: Callable[[], bool] | None = None) -> SyncOutcome:
        """Send what waits in the outbox, then sync the replica. A server that does not answer is an
        outcome (``unreachable``), not an error: the next round tries again."""
        sent = rows = 0
        initial = cancelled = unreachable = signed_out = False
        error = ""
        with collecting() as noted:
            try:
                report = self.ops.drain(stop=cancel)
                if report is not None:
                    sent, unreachable, error = report.sent, report.unreachable, report.error
                if not unreachable and not (cancel is not None and cancel()):
                    synced = self._sync(progress, cancel)
                    rows, initial, cancelled = synced.rows, synced.initial, synced.cancelled
            except ServerUnreachable as exc:
                unreachable, error = True, str(exc)
            except (SignInExpired, SignInRequired) as exc:
                signed_out, error = True, str(exc)
        changes = merge(noted)
        if rows:
            changes = changes | Changes.of(*_SYNCED_KINDS)
        pending, attention = self.counts()
        return SyncOutcome(self.freshness(), pending, attention, changes, rows, sent, unreachable, signed_out,
                           cancelled, initial, error)

    def _sync(self, progress: Callable[[float | None, str | None], None] | None,
              cancel: Callable[[], bool] | None) -> SyncReport:
        # Before the first complete sync the page reads still go to the server, so the estimate of a
        # first load (``catalog.count``) counts the server's catalog, not the half-filled copy.
        report = self.replica.sync(self.ops, progress=progress, cancel=cancel)
        if not report.cancelled:
            self._serve_reads()
        return report

    def _serve_reads(self) -> None:
        with self._lock:
            if self.ops.replica_reads is None and not self._closed:
                self.ops.replica_reads = LocalOperations(self.replica.db, self.ops.actor)

    # -- the person's decisions ------------------------------------------------------------------------------
    def retry(self, entry_id: int) -> None:
        self.outbox.retry(entry_id)

    def discard(self, entry_id: int) -> None:
        self.outbox.discard(entry_id)

    def resolve(self, entry_id: int, result: Any = None) -> None:  # noqa: ANN401
        self.outbox.resolve(entry_id, result)

    def close(self) -> None:
        """Stop serving reads from the replica, close the outbox and the file (twice is harmless)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            reads, self.ops.replica_reads = self.ops.replica_reads, None
            if self.ops.outbox is self.outbox:
                self.ops.outbox = None
        if reads is not None:
            reads.close()
        self.outbox.close()
        self.replica.close()

