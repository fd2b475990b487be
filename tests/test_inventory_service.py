"""The stock ledger: on-hand equals the ledger sum, never negative, conserved, idempotent, concurrent-safe."""

from __future__ import annotations

import threading
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text, update

from backoffice.db import Database
from backoffice.models import AuditEntry, Role, StockLevel, StockMove, StockOperation
from backoffice.services import inventory
from backoffice.services.base import Actor, PermissionDenied, ValidationError
from backoffice.services.inventory import InsufficientStock, MoveLine
from backoffice.services.users import ensure_user


def receive(db, actor, store, variant, qty, to="WH1", op=None):
    return inventory.post_moves(db, actor, operation_id=op or uuid.uuid4().hex, reason="receipt",
                                lines=[MoveLine(variant, store.locations["SUP"], store.locations[to], qty)])




def test_receipt_and_transfer_keep_levels_equal_to_ledger(db: Database, actor: Actor, store) -> None:
    v = store.variant_ids[0]
    wh, shop, sup = store.locations["WH1"], store.locations["SHOP"], store.locations["SUP"]
    r = receive(db, actor, store, v, 10)
    assert r.applied and r.levels == {(v, wh): 10}
    t = inventory.post_moves(db, actor, operation_id="t-1", reason="transfer", lines=[MoveLine(v, wh, shop, 4)])
    assert t.levels == {(v, wh): 6, (v, shop): 4}
    assert inventory.on_hand(db, v, wh) == inventory.ledger_balance(db, v, wh) == 6
    assert inventory.on_hand(db, v, shop) == inventory.ledger_balance(db, v, shop) == 4
    assert inventory.ledger_balance(db, v, sup) == -10  # what left the supplier side
    assert inventory.ledger_mismatches(db) == []


def test_moving_more_than_on_hand_is_refused_and_writes_nothing(db: Database, actor: Actor, store) -> None:
    v = store.variant_ids[0]
    wh, cus = store.locations["WH1"], store.locations["CUS"]
    receive(db, actor, store, v, 3)
    with pytest.raises(InsufficientStock) as err:
        inventory.post_moves(db, actor, operation_id="sale-1", reason="sale",
                             lines=[MoveLine(v, wh, cus, 2), MoveLine(v, wh, cus, 2)])
    assert "MC-S at WH1: 3 available, 4 requested" in str(err.value)
    assert inventory.on_hand(db, v, wh) == 3
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(StockOperation).where(StockOperation.operation_id == "sale-1")) == 0


def test_database_check_refuses_negative_on_hand_even_around_the_service(db: Database, actor: Actor, store) -> None:
    v = store.variant_ids[0]
    receive(db, actor, store, v, 1)
    with pytest.raises(Exception, match="(?i)check|constraint"):
        with db.write() as s:
            s.execute(update(StockLevel).where(StockLevel.variant_id == v).values(on_hand=-1))


def test_same_operation_id_posts_once(db: Database, actor: Actor, store) -> None:
    v = store.variant_ids[0]
    first = receive(db, actor, store, v, 5, op="receipt-42")
    second = receive(db, actor, store, v, 5, op="receipt-42")
    assert first.applied and not second.applied
    assert second.stock_operation_id == first.stock_operation_id
    assert second.levels == {(v, store.locations["WH1"]): 5}
    assert inventory.on_hand(db, v, store.locations["WH1"]) == 5
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(StockMove)) == 1


def test_bad_lines_are_all_reported(db: Database, actor: Actor, store) -> None:
    wh = store.locations["WH1"]
    with pytest.raises(ValidationError) as err:
        inventory.post_moves(db, actor, operation_id="x", reason="teleport",
                             lines=[MoveLine(store.variant_ids[0], wh, wh, 1), MoveLine(store.variant_ids[0], wh, 999, -2),
                                    MoveLine(store.variant_ids[0], wh, 999, "3")])
    problems = {(row, field) for row, field, _ in err.value.problems}
    assert {("operation", "reason"), ("line 1", "to_location_id"), ("line 2", "quantity"), ("line 3", "quantity")} <= problems
    with pytest.raises(ValidationError, match="location 999 does not exist"):
        inventory.post_moves(db, actor, operation_id="y", reason="transfer", lines=[MoveLine(store.variant_ids[0], wh, 999, 1)])


def test_every_post_is_audited(db: Database, actor: Actor, store) -> None:
    r = receive(db, actor, store, store.variant_ids[2], 7, op="audited")
    with db.read() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.entity == "stock_operation")).one()
    assert entry.entity_id == str(r.stock_operation_id) and entry.operation_id == "audited"
    assert entry.username == "tester" and entry.action == "post"
    assert entry.after["lines"] == [{"sku": "MC-L", "from": "SUP", "to": "WH1", "quantity": 7}]
    assert entry.before["levels"][0]["on_hand"] == 0 and entry.after["levels"][0]["on_hand"] == 7


def test_merchandisers_cannot_move_stock(db: Database, actor: Actor, store) -> None:
    from backoffice.operations.local import LocalOperations

    merch = ensure_user(db, "mia", Role.MERCHANDISER)
    with pytest.raises(PermissionDenied, match="warehouse, manager or admin"):
        LocalOperations(db, merch, owns_database=False).adjustments.adjust(
            store.locations["WH1"], {store.variant_ids[0]: 1}, reason="received")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["SUP", "WH1", "SHOP", "CUS", "LOSS"]),
                          st.sampled_from(["SUP", "WH1", "SHOP", "CUS", "LOSS"]), st.integers(1, 6)),
                min_size=1, max_size=25))
def test_random_move_sequences_keep_the_invariants(sqlite_db: Database, moves) -> None:
    """Whatever sequence of moves is attempted, refused ones change nothing and accepted ones keep
    on-hand == ledger, never negative, and the total over all locations at zero."""
    db = sqlite_db
    with db.write() as s:  # a fresh slate for each example (the fixture is shared across examples)
        for table in ("stock_moves", "stock_levels", "audit_log", "stock_operations"):
            s.execute(text(f"DELETE FROM {table}"))
    actor = ensure_user(db, "prop")
    from tests.conftest import SmallStore
    store = getattr(db, "_small_store", None) or SmallStore(db, actor)
    db._small_store = store  # type: ignore[attr-defined]
    expected: dict[tuple[int, str], int] = {}
    for i, (vi, src, dst, qty) in enumerate(moves):
        if src == dst:
            continue
        v = store.variant_ids[vi]
        internal_src = src in ("WH1", "SHOP")
        try:
            inventory.post_moves(db, actor, operation_id=f"p{i}", reason="adjustment",
                                 lines=[MoveLine(v, store.locations[src], store.locations[dst], qty)])
        except InsufficientStock:
            assert internal_src and expected.get((vi, src), 0) < qty
            continue
        expected[(vi, src)] = expected.get((vi, src), 0) - qty
        expected[(vi, dst)] = expected.get((vi, dst), 0) + qty
    assert inventory.ledger_mismatches(db) == []
    for (vi, code), qty in expected.items():
        balance = inventory.ledger_balance(db, store.variant_ids[vi], store.locations[code])
        assert balance == qty
        if code in ("WH1", "SHOP"):
            assert qty >= 0 and inventory.on_hand(db, store.variant_ids[vi], store.locations[code]) == qty
    for vi in range(3):
        assert sum(q for (i, _), q in expected.items() if i == vi) == 0  # conservation


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_eight_threads_posting_concurrently(engine: str, request: pytest.FixtureRequest) -> None:
    """8 threads move stock back and forth between two locations and sell from both, with retried ids.
    No lost update, no negative stock, every id applied once, ledger and levels agree."""
    db: Database = request.getfixturevalue("sqlite_db" if engine == "sqlite" else "pg_db")
    actor = ensure_user(db, "tester")
    from tests.conftest import SmallStore
    store = SmallStore(db, actor)
    wh, shop, cus, sup = (store.locations[c] for c in ("WH1", "SHOP", "CUS", "SUP"))
    v1, v2 = store.variant_ids[:2]
    inventory.post_moves(db, actor, operation_id="seed", reason="receipt",
                         lines=[MoveLine(v1, sup, wh, 200), MoveLine(v2, sup, wh, 200),
                                MoveLine(v1, sup, shop, 200), MoveLine(v2, sup, shop, 200)])
    errors: list[BaseException] = []
    applied = [0] * 8
    refused = [0] * 8
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(25):
                a, b = (wh, shop) if (n + i) % 2 else (shop, wh)
                # opposite directions and both variants in one operation: lock order matters here
                lines = [MoveLine(v2, a, b, 3), MoveLine(v1, a, b, 2), MoveLine(v1, a, cus, 1)]
                op = f"w{n}-{i}"
                for _attempt in range(2):  # a double click: the same id posted twice
                    try:
                        r = inventory.post_moves(db, actor, operation_id=op, reason="transfer", lines=lines)
                        applied[n] += r.applied
                    except InsufficientStock:
                        refused[n] += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(applied) + sum(refused) // 2 <= 200 and sum(applied) > 0
    with db.read() as s:
        ops = s.scalar(select(func.count()).select_from(StockOperation).where(StockOperation.operation_id != "seed"))
        sold = s.scalar(select(func.coalesce(func.sum(StockMove.quantity), 0)).where(StockMove.to_location_id == cus))
        total_v1 = s.scalar(select(func.sum(StockLevel.on_hand)).where(StockLevel.variant_id == v1))
        total_v2 = s.scalar(select(func.sum(StockLevel.on_hand)).where(StockLevel.variant_id == v2))
        negatives = s.scalar(select(func.count()).select_from(StockLevel).where(StockLevel.on_hand < 0))
    assert ops == sum(applied)  # each applied id once; the duplicate posts applied nothing
    assert sold == sum(applied)  # one unit of v1 sold per applied operation
    assert total_v1 == 400 - sold and total_v2 == 400  # conserved: transfers move, sales leave
    assert negatives == 0
    assert inventory.ledger_mismatches(db) == []
