"""The outbox of an API profile: writes recorded first in the local file, then sent in order, each applied
once (its idempotency key is the write's operation id, for every attempt), conflicts and refusals kept
for the user while the rest of the queue goes on, a crash or a second drainer losing or doubling nothing.

The server is the real contract (LocalOperations on the test's database, SQLite and PostgreSQL); a
sender that raises ServerUnreachable stands for the network being down."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import AuditEntry, Changeset, ChangesetEntry, Variant
from backoffice.operations import LocalOperations, ServiceError
from backoffice.operations.base import jsonable
from backoffice.remote.errors import ServerUnreachable
from backoffice.services import catalog, transfers
from backoffice.services.base import Actor
from backoffice.services.changesets import RowChange
from backoffice.sync.outbox import DrainReport, Outbox

Send = Callable[[str, dict[str, Any], str], Any]


class Server:
    """The store as a sender sees it: each call is the contract's write with the entry's key as its
    operation id; ``calls`` lists (operation, key) in the order they reached it."""

    def __init__(self, db: Database, actor: Actor) -> None:
        self.ops = LocalOperations(db, actor, owns_database=False)
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def send(self, operation: str, payload: dict[str, Any], key: str) -> Any:
        with self._lock:
            self.calls.append((operation, key))
        area, method = operation.split(".")
        kwargs = dict(payload)
        if operation == "catalog.save_edits":
            kwargs["rows"] = [RowChange.from_dict(r) for r in kwargs["rows"]]
        if kwargs.get("lines") is not None and area == "transfers":
            kwargs["lines"] = [tuple(line) for line in kwargs["lines"]]
        answer = getattr(getattr(self.ops, area), method)(**kwargs, op_id=key)
        return answer.to_dict() if hasattr(answer, "to_dict") else jsonable(answer)

    def keys(self) -> list[str]:
        return [key for _, key in self.calls]


def unreachable(operation: str, payload: dict[str, Any], key: str) -> Any:
    raise ServerUnreachable("could not connect to https://store.example: connection refused")


def has_conflicts(answer: Any) -> bool:
    return isinstance(answer, dict) and bool(answer.get("conflicts"))


def price_edit(variant_id: int, version: int, price: str, original: str = "59.99") -> dict[str, Any]:
    """catalog.save_edits' keyword arguments in the contract's JSON form: one variant's price."""
    row = RowChange("variant", variant_id, version, {"price": price}, {"price": original})
    return {"rows": [row.to_dict()], "description": f"price {price}"}


def count(db: Database, model: type, *where: Any) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def variant(db: Database, variant_id: int) -> tuple[Decimal, int]:
    with db.read() as session:
        v = session.get(Variant, variant_id)
        return v.price, v.version


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "replica.sqlite"


@pytest.fixture
def outbox(path: Path):  # type: ignore[no-untyped-def]
    box = Outbox(path)
    yield box
    box.close()


def enqueue_chain(outbox: Outbox, variant_ids: list[int], n: int) -> dict[int, tuple[str, int]]:
    """``n`` price edits, round the variants, each made on the version the one before it left: sent
    out of order, one would be a conflict. Returns each variant's last price and edit count."""
    last: dict[int, tuple[str, int]] = {}
    for i in range(n):
        vid = variant_ids[i % len(variant_ids)]
        before_price, edits = last.get(vid, ("59.99", 0))
        price = f"{10 + i}.00"
        outbox.enqueue("catalog.save_edits", price_edit(vid, 1 + edits, price, before_price),
                       version_read=1 + edits, label=f"Price of variant {vid}")
        last[vid] = (price, edits + 1)
    return last


# -- offline, then online ----------------------------------------------------------------------------------
def test_edits_made_offline_are_applied_once_each_in_order(db: Database, actor: Actor, store, outbox: Outbox) -> None:
    last = enqueue_chain(outbox, store.variant_ids, 50)
    assert outbox.pending_count() == 50

    offline = outbox.drain(unreachable, is_conflict=has_conflicts)
    assert offline.unreachable and offline.sent == 0 and offline.remaining == 50
    assert "connection refused" in offline.error
    first, second, *_ = outbox.entries()
    assert (first.status, first.attempts) == ("pending", 1) and "connection refused" in first.last_error
    assert (second.status, second.attempts) == ("pending", 0)      # nothing is sent past the unreachable one
    assert count(db, Changeset) == 0

    server = Server(db, actor)
    online = outbox.drain(server.send, is_conflict=has_conflicts)
    assert online == DrainReport(sent=50, failed=0, conflicts=0, remaining=0, unreachable=False, error="")
    entries = outbox.entries()
    assert server.keys() == [e.idempotency_key for e in entries]   # in order, once each
    assert {e.status for e in entries} == {"done"} and all(e.result["conflicts"] == [] for e in entries)
    assert entries[0].attempts == 2 and entries[1].attempts == 1
    assert count(db, Changeset) == 50 and count(db, ChangesetEntry) == 50
    assert count(db, AuditEntry, AuditEntry.entity == "changeset") == 50
    for vid, (price, edits) in last.items():
        assert variant(db, vid) == (Decimal(price), 1 + edits)

    again = outbox.drain(server.send, is_conflict=has_conflicts)
    assert again.sent == 0 and again.remaining == 0 and len(server.calls) == 50
    assert outbox.pending_count() == 0


def test_the_entry_is_marked_as_being_sent_before_it_is_sent(db: Database, actor: Actor, store, path: Path,
                                                             outbox: Outbox) -> None:
    """Another connection sees 'sending' (committed) while the server works on it: a crash then cannot
    leave the entry looking never sent, nor done."""
    outbox.enqueue("catalog.save_edits", price_edit(store.variant_ids[0], 1, "40.00"))
    server = Server(db, actor)
    seen: list[list[str]] = []

    def watching(operation: str, payload: dict[str, Any], key: str) -> Any:
        other = Outbox(path)
        try:
            seen.append([e.status for e in other.entries()])
            assert other.pending_count() == 1
        finally:
            other.close()
        return server.send(operation, payload, key)

    assert outbox.drain(watching).sent == 1
    assert seen == [["sending"]] and outbox.entries()[0].status == "done"


# -- a crash -------------------------------------------------------------------------------------------------
def test_a_crash_after_the_server_applied_an_entry_loses_nothing_and_applies_it_once(
        db: Database, actor: Actor, store, path: Path) -> None:
    outbox = Outbox(path)
    last = enqueue_chain(outbox, store.variant_ids, 6)
    server = Server(db, actor)

    def crashing(operation: str, payload: dict[str, Any], key: str) -> Any:
        answer = server.send(operation, payload, key)
        if len(server.calls) == 3:
            raise KeyboardInterrupt        # the app dies after the server applied entry 3, before recording
        return answer

    with pytest.raises(KeyboardInterrupt):
        outbox.drain(crashing, is_conflict=has_conflicts)
    assert [e.status for e in outbox.entries()] == ["done", "done", "sending", "pending", "pending", "pending"]
    assert count(db, Changeset) == 3
    crashed_key = outbox.entries()[2].idempotency_key
    # the process is gone: the next start opens the file again (the old object is never closed)

    reopened = Outbox(path)
    try:
        assert [e.status for e in reopened.entries()] == ["done", "done", "pending", "pending", "pending", "pending"]
        assert reopened.pending_count() == 4
        report = reopened.drain(server.send, is_conflict=has_conflicts)
        assert report.sent == 4 and report.remaining == 0 and report.conflicts == 0
        entries = reopened.entries()
        assert {e.status for e in entries} == {"done"}
        assert server.keys() == [e.idempotency_key for e in entries[:3]] + [e.idempotency_key for e in entries[2:]]
        assert Counter(server.keys())[crashed_key] == 2 and entries[2].attempts == 2
        # applied once: the replayed key answered with the first changeset
        assert count(db, Changeset) == 6 and count(db, ChangesetEntry) == 6
        assert count(db, AuditEntry, AuditEntry.entity == "changeset") == 6
        with db.read() as session:
            first_id = session.scalar(select(Changeset.id).where(Changeset.operation_id == crashed_key))
        assert entries[2].result["changeset_id"] == first_id
        for vid, (price, edits) in last.items():
            assert variant(db, vid) == (Decimal(price), 1 + edits)
    finally:
        reopened.close()
        outbox.close()


def test_a_claim_left_by_a_dead_process_is_taken_over(db: Database, actor: Actor, store, path: Path,
                                                      outbox: Outbox) -> None:
    """A drainer that died leaves its claim and its entry 'sending': the next start puts the entry back
    and drains; a claim of a process still running is respected."""
    import os
    import socket

    outbox.enqueue("catalog.save_edits", price_edit(store.variant_ids[0], 1, "41.00"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE outbox SET status = 'sending', attempts = 1")
        conn.execute("INSERT INTO outbox_drainer (id, owner, host, pid, heartbeat) VALUES (1, 'gone', ?, ?, ?)",
                     (socket.gethostname(), dead.pid, time.time()))
    server = Server(db, actor)
    report = outbox.drain(server.send)
    assert report.sent == 1 and outbox.entries()[0].status == "done"

    outbox.enqueue("catalog.save_edits", price_edit(store.variant_ids[1], 1, "42.00"))
    with sqlite3.connect(path) as conn:    # a live drainer in another process (this one's parent)
        conn.execute("INSERT INTO outbox_drainer (id, owner, host, pid, heartbeat) VALUES (1, 'busy', ?, ?, ?)",
                     (socket.gethostname(), os.getppid(), time.time()))
        conn.execute("UPDATE outbox SET status = 'sending' WHERE status = 'pending'")
    waiting = Outbox(path)
    try:
        assert waiting.entries()[1].status == "sending"          # not taken from a live drainer
        assert waiting.drain(server.send) == DrainReport(0, 0, 0, 1, False, "")
        with sqlite3.connect(path) as conn:                       # its lease runs out: taken over
            conn.execute("UPDATE outbox_drainer SET heartbeat = ?", (time.time() - 3600,))
        assert waiting.drain(server.send).sent == 1
    finally:
        waiting.close()
    assert len(server.calls) == 2 and count(db, Changeset) == 2


# -- the server's answers --------------------------------------------------------------------------------------
def test_a_stale_edit_is_a_conflict_and_the_queue_goes_on(db: Database, actor: Actor, store, outbox: Outbox) -> None:
    v1, v2, v3 = store.variant_ids
    for vid, price in ((v1, "50.00"), (v2, "55.00"), (v3, "57.00")):
        outbox.enqueue("catalog.save_edits", price_edit(vid, 1, price), version_read=1, label=f"Price of {vid}")
    catalog.update_variant(db, actor, v2, expected_version=1, values={"price": "61.00"})   # someone else, first
    server = Server(db, actor)

    report = outbox.drain(server.send, is_conflict=has_conflicts)
    assert (report.sent, report.conflicts, report.failed, report.remaining) == (2, 1, 0, 0)
    done, stale, after = outbox.entries()
    assert (done.status, stale.status, after.status) == ("done", "conflict", "done")
    assert stale.result["conflicts"] == [{
        "entity": "variant", "entity_id": v2, "label": "MC-M", "field": "price", "original": "59.99",
        "yours": "55.00", "theirs": "61.00", "current_version": 2}]
    assert variant(db, v2) == (Decimal("61.00"), 2) and variant(db, v3) == (Decimal("57.00"), 2)

    # the user merges (theirs/yours/original): a new entry at the current version; the conflict is settled
    outbox.enqueue("catalog.save_edits", price_edit(v2, 2, "56.00", "61.00"), version_read=2)
    outbox.resolve(stale.id)
    assert outbox.entries(("conflict",)) == [] and outbox.entries()[1].result == stale.result
    assert outbox.drain(server.send, is_conflict=has_conflicts).sent == 1
    assert variant(db, v2) == (Decimal("56.00"), 3)
    with pytest.raises(ServiceError, match="cannot be resolved while it is done"):
        outbox.resolve(stale.id)


def test_a_conflict_error_keeps_the_row_as_it_is_now(db: Database, actor: Actor, store, outbox: Outbox) -> None:
    """An operation that refuses a stale version whole (HTTP 412) is a conflict too, with the current row."""
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    v1, v2, _ = store.variant_ids
    draft = transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop,
                                      lines=[(v1, 2)])
    transfers.update_draft(db, actor, draft.id, expected_version=draft.version, note="theirs")   # someone else
    outbox.enqueue("transfers.update_draft", {"transfer_id": draft.id, "expected_version": draft.version,
                                              "lines": [[v1, 5]]}, version_read=draft.version, label="Lines")
    outbox.enqueue("transfers.create", {"source_location_id": wh, "destination_location_id": shop,
                                        "lines": [[v2, 1]], "note": "next"})
    server = Server(db, actor)

    report = outbox.drain(server.send)
    assert (report.sent, report.conflicts) == (1, 1)
    stale, created = outbox.entries()
    assert stale.status == "conflict" and "changed by someone else" in stale.last_error
    assert stale.result["note"] == "theirs" and stale.result["lines"][0]["quantity"] == 2
    assert created.status == "done" and created.result["note"] == "next"
    assert transfers.get_transfer(db, draft.id).lines[0].quantity == 2


def test_a_refused_edit_fails_with_the_servers_message_and_the_queue_goes_on(db: Database, actor: Actor, store,
                                                                              outbox: Outbox) -> None:
    v1, _, v3 = store.variant_ids
    bad = outbox.enqueue("catalog.save_edits", price_edit(v3, 1, "-5"), label="Price of MC-L")
    outbox.enqueue("catalog.save_edits", price_edit(v1, 1, "45.00"))
    server = Server(db, actor)

    report = outbox.drain(server.send, is_conflict=has_conflicts)
    assert (report.sent, report.failed, report.conflicts, report.remaining) == (1, 1, 0, 0)
    refused, done = outbox.entries()
    assert refused.status == "failed" and f"variant {v3} price: -5 is negative" in refused.last_error
    assert refused.result is None and done.status == "done"
    assert variant(db, v3) == (Decimal("59.99"), 1) and variant(db, v1) == (Decimal("45.00"), 2)

    # retried with the same key: refused again; then given up for good (kept, never sent again)
    outbox.retry(bad.id)
    assert outbox.pending_count() == 1 and outbox.entries()[0].idempotency_key == bad.idempotency_key
    assert outbox.drain(server.send).failed == 1 and outbox.entries()[0].attempts == 2
    outbox.discard(bad.id)
    assert [e.status for e in outbox.entries()] == ["discarded", "done"]
    assert outbox.drain(server.send).sent == 0 and len(server.calls) == 3
    with pytest.raises(ServiceError, match="cannot be retried while it is discarded"):
        outbox.retry(bad.id)
    with pytest.raises(ServiceError, match="does not exist"):
        outbox.discard(9999)


def test_a_failure_that_is_not_an_answer_stops_without_skipping(db: Database, actor: Actor, store,
                                                                outbox: Outbox) -> None:
    """A bug or a server error after the transport's retries: the entry stays pending and nothing after
    it is sent (a later entry may need it)."""
    enqueue_chain(outbox, store.variant_ids, 4)
    server = Server(db, actor)

    def broken_second(operation: str, payload: dict[str, Any], key: str) -> Any:
        if len(server.calls) == 1:
            server.calls.append((operation, key))
            raise RuntimeError("502 Bad Gateway")
        return server.send(operation, payload, key)

    report = outbox.drain(broken_second)
    assert (report.sent, report.remaining, report.unreachable) == (1, 3, False)
    assert report.error == "RuntimeError: 502 Bad Gateway"
    assert [(e.status, e.attempts) for e in outbox.entries()] == [("done", 1), ("pending", 1), ("pending", 0),
                                                                  ("pending", 0)]
    assert outbox.entries()[1].last_error == "RuntimeError: 502 Bad Gateway"
    assert outbox.drain(server.send).sent == 3 and count(db, Changeset) == 4


def test_stop_is_asked_between_entries(db: Database, actor: Actor, store, outbox: Outbox) -> None:
    enqueue_chain(outbox, store.variant_ids, 5)
    server = Server(db, actor)
    report = outbox.drain(server.send, stop=lambda: len(server.calls) >= 2)
    assert (report.sent, report.remaining, report.error) == (2, 3, "")
    assert outbox.drain(server.send).sent == 3 and count(db, Changeset) == 5


# -- at once -----------------------------------------------------------------------------------------------
def test_a_second_drain_returns_at_once_while_one_is_under_way(db: Database, actor: Actor, store, path: Path,
                                                              outbox: Outbox) -> None:
    enqueue_chain(outbox, store.variant_ids, 5)
    server = Server(db, actor)
    started, other_done = threading.Event(), threading.Event()

    def slow(operation: str, payload: dict[str, Any], key: str) -> Any:
        started.set()
        assert other_done.wait(30)
        return server.send(operation, payload, key)

    reports: list[DrainReport] = []
    first = threading.Thread(target=lambda: reports.append(outbox.drain(slow, is_conflict=has_conflicts)))
    first.start()
    try:
        assert started.wait(30)
        other = Outbox(path)
        try:
            begun = time.monotonic()
            assert other.drain(server.send) == DrainReport(0, 0, 0, 5, False, "")
            assert outbox.drain(server.send).sent == 0          # the same object, from another thread
            assert time.monotonic() - begun < 5
        finally:
            other.close()
    finally:
        other_done.set()
        first.join(60)
    assert reports == [DrainReport(5, 0, 0, 0, False, "")]
    assert sorted(Counter(server.keys()).values()) == [1] * 5 and count(db, Changeset) == 5


def test_concurrent_drains_send_each_entry_once(db: Database, actor: Actor, store, path: Path,
                                                outbox: Outbox) -> None:
    last = enqueue_chain(outbox, store.variant_ids, 30)
    server = Server(db, actor)
    boxes = [outbox, outbox] + [Outbox(path) for _ in range(4)]
    barrier = threading.Barrier(len(boxes))
    reports: list[DrainReport] = []

    def drain(box: Outbox) -> None:
        barrier.wait()
        while True:
            report = box.drain(server.send, is_conflict=has_conflicts)
            reports.append(report)
            if report.remaining == 0:
                return
            time.sleep(0.01)

    threads = [threading.Thread(target=drain, args=(box,)) for box in boxes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for box in boxes[2:]:
        box.close()
    assert server.keys() == [e.idempotency_key for e in outbox.entries()]   # each once, in order
    assert sum(r.sent for r in reports) == 30 and all(r.conflicts == r.failed == 0 for r in reports)
    assert count(db, Changeset) == 30
    for vid, (price, edits) in last.items():
        assert variant(db, vid) == (Decimal(price), 1 + edits)


# -- the file ----------------------------------------------------------------------------------------------
def test_the_outbox_survives_quitting_and_shares_its_file(db: Database, actor: Actor, store, path: Path) -> None:
    replica = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    replica.execute("PRAGMA journal_mode=WAL")           # the replica's own connection and table
    replica.execute("CREATE TABLE IF NOT EXISTS replica_rows (id INTEGER PRIMARY KEY, body TEXT)")
    try:
        replica.execute("BEGIN")                          # a read under way (a grid page) blocks no write
        replica.execute("SELECT count(*) FROM replica_rows").fetchone()
        first = Outbox(path)
        entry = first.enqueue("catalog.save_edits", price_edit(store.variant_ids[0], 1, "33.00"), version_read=1,
                              label="Price of 1 variant")
        first.drain(unreachable)
        replica.execute("COMMIT")

        writing = threading.Event()

        def replica_write() -> None:                      # a sync writing for a moment: the outbox waits
            replica.execute("BEGIN IMMEDIATE")
            replica.execute("INSERT INTO replica_rows (body) VALUES ('kept')")
            writing.set()
            time.sleep(0.3)
            replica.execute("COMMIT")

        writer = threading.Thread(target=replica_write)
        writer.start()
        assert writing.wait(10)
        given_up = first.enqueue("catalog.save_edits", {"rows": [], "description": "given up"})
        first.discard(given_up.id)
        writer.join(10)
        before = first.entries()
        first.close()
        first.close()

        again = Outbox(path)
        try:
            assert again.entries() == before and again.pending_count() == 1
            kept = before[0]
            assert [e.status for e in before] == ["pending", "discarded"]
            assert (kept.id, kept.operation, kept.payload, kept.idempotency_key) == (
                entry.id, "catalog.save_edits", price_edit(store.variant_ids[0], 1, "33.00"), entry.idempotency_key)
            assert (kept.version_read, kept.label, kept.attempts, kept.status) == (1, "Price of 1 variant", 1, "pending")
            assert kept.created_at.endswith("+00:00") and kept.updated_at >= kept.created_at
            server = Server(db, actor)
            assert again.drain(server.send).sent == 1 and server.keys() == [entry.idempotency_key]
            assert again.entries(("done",))[0].result["applied_rows"] == 1
        finally:
            again.close()
        assert replica.execute("SELECT body FROM replica_rows").fetchall() == [("kept",)]
        assert replica.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        replica.close()
    with pytest.raises(RuntimeError, match="closed"):
        again.pending_count()


def test_what_cannot_be_recorded_is_refused_at_once(outbox: Outbox) -> None:
    with pytest.raises(ValueError, match="area.method"):
        outbox.enqueue("save_edits", {})
    with pytest.raises(ValueError, match="JSON form"):
        outbox.enqueue("catalog.save_edits", {"price": Decimal("1.00")})
    with pytest.raises(ValueError, match="unknown outbox statuses"):
        outbox.entries(("lost",))
    assert outbox.entries() == [] and outbox.pending_count() == 0
