"""What the Store sync view shows of one store, read in one go through the contract off the GUI thread."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from backoffice.operations import Operations
from backoffice.operations.connectors import ApiStat, ConnectionInfo, OutboxEntryInfo, RunInfo

CHART_HOURS = 24 * 7
RUNS_SHOWN = 50
FAILED_STATES = ["failed", "conflict"]


@dataclass(frozen=True)
class Snapshot:
    """What the view shows of the chosen store, read in one go off the GUI thread."""

    connections: list[ConnectionInfo]
    current: ConnectionInfo | None = None
    runs: list[RunInfo] = field(default_factory=list)
    failed: list[OutboxEntryInfo] = field(default_factory=list)
    stats: list[ApiStat] = field(default_factory=list)
    times: list[tuple[dt.datetime, float, int]] = field(default_factory=list)

    @property
    def last_sync(self) -> RunInfo | None:
        return next((r for r in self.runs if r.kind == "sync"), None)

    @property
    def overall(self) -> ApiStat | None:
        return next((s for s in self.stats if s.endpoint == "*"), None)


def read_snapshot(ops: Operations, wanted: str) -> Snapshot:
    """The connections, and for ``wanted`` (else the first) its log, failed pushes and API figures."""
    connections = ops.connectors.list()
    current = next((c for c in connections if c.name == wanted), connections[0] if connections else None)
    if current is None:
        return Snapshot(connections)
    name = current.name
    return Snapshot(connections, current, ops.connectors.runs(name, limit=RUNS_SHOWN),
                    ops.connectors.outbox(name, states=FAILED_STATES, limit=200),
                    ops.connectors.api_stats(name, hours=CHART_HOURS),
                    ops.connectors.response_times(name, hours=CHART_HOURS))
