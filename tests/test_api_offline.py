"""Working through the store API with the server gone: edits wait in the outbox, are applied exactly
once when it is back, and a crash of the server in the middle of sending loses and doubles nothing.

The server is a real ``backoffice serve`` process on PostgreSQL (killed with SIGKILL, started again on
the same port), the client RemoteOperations with an outbox file, as the desktop uses them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.api_support import PASSWORD, add_staff, url_of
from backoffice.db import Database
from backoffice.models import Changeset, Transfer
from backoffice.operations import LocalOperations
from backoffice.operations.catalog import RowChange, VariantFilter
from backoffice.remote.errors import QueuedOffline
from backoffice.remote.operations import RemoteOperations
from backoffice.remote.session import sign_in
from backoffice.services import users
from backoffice.sync.outbox import Outbox
from tests.conftest import SmallStore

pytestmark = pytest.mark.postgres


class ServerProcess:
    """``backoffice serve`` in a process of its own on a fixed loopback port: started, killed, started again."""

    def __init__(self, db_url: str, log: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.db_url, self.log = db_url, log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "BACKOFFICE_IDEMPOTENCY_ABANDONED_SECONDS": "2"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "backoffice", "serve", "--db", self.db_url, "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.base_url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=20)


@pytest.fixture
def server(pg_db: Database, tmp_path: Path) -> Iterator[ServerProcess]:
    add_staff(pg_db)
    running = ServerProcess(url_of(pg_db), tmp_path / "server.log")
    running.start()
    yield running
    running.kill()


def client(server: ServerProcess, outbox: Path, username: str = "merchandiser") -> RemoteOperations:
    ops = sign_in(server.base_url, username, PASSWORD)
    ops.transport.retries, ops.transport.backoff = 2, 0.05      # give up quickly: the server is gone on purpose
    ops.outbox = Outbox(outbox)
    return ops


def changesets(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Changeset)) or 0)


def test_fifty_edits_offline_are_applied_once_and_a_meanwhile_edit_is_a_conflict(
        server: ServerProcess, pg_db: Database, tmp_path: Path) -> None:
    admin = users.sign_in(pg_db, "admin")
    store = SmallStore(pg_db, admin)
    direct = LocalOperations(pg_db, admin, owns_database=False)
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    direct.adjustments.adjust(wh, {v: 20 for v in store.variant_ids}, reason="found")
    count = direct.adjustments.start_count(wh)
    merch = client(server, tmp_path / "merch.sqlite")
    mover = client(server, tmp_path / "mover.sqlite", "warehouse")
    rows = {r.sku: r for r in merch.catalog.first_page(VariantFilter(), "sku")}
    before = changesets(pg_db)

    server.kill()
    # 48 price edits, one after another on the three variants (each read at the version shown then)
    price = Decimal("50.00")
    for i in range(48):
        row = rows[("MC-S", "MC-M", "MC-L")[i % 3]]
        price += Decimal("0.10")
        with pytest.raises(QueuedOffline, match="kept"):
            merch.catalog.save_edits([RowChange("variant", row.variant_id, row.variant_version, {"price": price},
                                                {"price": row.price})], description=f"edit {i}")
    with pytest.raises(QueuedOffline):
        mover.transfers.create(source_location_id=wh, destination_location_id=shop,
                               lines=[(store.variant_ids[0], 3)], note="offline draft")
    with pytest.raises(QueuedOffline):
        mover.adjustments.record_counts(count.id, {store.variant_ids[1]: 17})
    assert merch.outbox.pending_count() == 48 and mover.outbox.pending_count() == 2
    assert changesets(pg_db) == before                  # nothing reached the database

    # meanwhile another user edits MC-L's price directly
    mc_l = direct.catalog.rows_by_id([rows["MC-L"].variant_id])[rows["MC-L"].variant_id]
    direct.catalog.save_edits([RowChange("variant", mc_l.variant_id, mc_l.variant_version, {"price": Decimal("99.00")},
                                         {"price": mc_l.price})], description="their edit")

    server.start()
    report = merch.drain()
    assert report.unreachable is False and merch.outbox.pending_count() == 0
    statuses = [e.status for e in merch.outbox.entries()]
    assert statuses.count("done") == 32 and statuses.count("conflict") == 16     # MC-L's 16 edits
    assert mover.drain().sent == 2 and mover.outbox.pending_count() == 0
    again_merch, again_mover = merch.drain(), mover.drain()
    assert (again_merch.sent, again_mover.sent) == (0, 0)

    assert changesets(pg_db) == before + 1 + 32          # their edit, and each applied edit once
    now = {r.sku: r.price for r in direct.catalog.first_page(VariantFilter(), "sku")}
    assert now == {"MC-S": Decimal("54.60"), "MC-M": Decimal("54.70"), "MC-L": Decimal("99.00")}
    conflict = next(e for e in merch.outbox.entries(("conflict",)))
    assert [(c["yours"], c["theirs"]) for c in conflict.result["conflicts"]] == [("50.30", "99.00")]
    with pg_db.read() as session:
        drafts = session.scalars(select(Transfer).where(Transfer.note == "offline draft")).all()
    assert len(drafts) == 1
    assert {line.variant_id: line.counted for line in direct.adjustments.get_count(count.id).lines
            if line.counted is not None} == {store.variant_ids[1]: 17}
    for ops in (merch, mover):
        ops.outbox.close()
        ops.close()


def test_a_server_killed_while_the_outbox_drains_applies_nothing_twice_and_loses_nothing(
        server: ServerProcess, pg_db: Database, tmp_path: Path) -> None:
    admin = users.sign_in(pg_db, "admin")
    store = SmallStore(pg_db, admin)
    merch = client(server, tmp_path / "merch.sqlite")
    row = merch.catalog.first_page(VariantFilter(), "sku")[0]
    before = changesets(pg_db)
    server.kill()
    for i in range(40):
        with pytest.raises(QueuedOffline):
            merch.catalog.save_edits([RowChange("variant", row.variant_id, row.variant_version,
                                                {"price": Decimal("10.00") + i}, {"price": row.price})],
                                     description=f"edit {i}")
    server.start()
    outcome: dict[str, object] = {}
    drainer = threading.Thread(target=lambda: outcome.update(report=merch.drain()))
    drainer.start()
    deadline = time.monotonic() + 60
    while len(merch.outbox.entries(("done",))) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()                                         # in the middle of the drain
    drainer.join(timeout=60)
    first = outcome["report"]
    assert first.unreachable is True and 10 <= first.sent < 40        # type: ignore[attr-defined]
    server.start()
    time.sleep(2.2)        # a request cut off mid-way is run again after the server's abandon window
    while merch.outbox.pending_count() and time.monotonic() < deadline + 60:
        merch.drain()
    assert [e.status for e in merch.outbox.entries()] == ["done"] * 40
    assert changesets(pg_db) == before + 40                # each exactly once
    keys = [e.idempotency_key for e in merch.outbox.entries()]
    assert len(set(keys)) == 40
    final = LocalOperations(pg_db, admin, owns_database=False).catalog.rows_by_id([row.variant_id])[row.variant_id]
    assert final.price == Decimal("49.00") and final.variant_version == row.variant_version + 40
    assert store is not None
    merch.outbox.close()
    merch.close()
